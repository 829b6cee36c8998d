/* The durable storage of coordd (real/disk.c): round trips, group commit,
 * torn tails cut and real corruption refused, snapshots and their fallback,
 * the metadata record, the directory lock, segment roll and purge,
 * truncation and snapshots in issue order (env.h), and I/O errors that
 * must never be reported as synced. Each test works in its own mkdtemp
 * folder under /tmp, removed afterwards. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "coord/txn.h"
#include "coord/util.h"
#include "disk.h"

/* ---- fixture ------------------------------------------------------------------- */

struct fx
{
    char root[64]; /* mkdtemp folder */
    char data[96]; /* <root>/data */
    char sub[128]; /* <root>/data/coord-v1 */
    struct real_disk disk;
    bool open;
    struct coord_storage st;
    char err[REAL_DISK_MSG_LEN];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->root, "/tmp/test_disk.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->data, sizeof f->data, "%s/data", f->root);
    snprintf(f->sub, sizeof f->sub, "%s/%s", f->data, REAL_DISK_SUBDIR);
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->open) {
        real_disk_close(&f->disk);
    }
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A real transaction: create /n<zxid> holding "value-<zxid>". */
static void encode_txn(coord_zxid zxid, struct coord_buf *out)
{
    static const struct coord_acl acl[1] = {{COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}}};
    char path[32];
    char data[32];
    int plen = snprintf(path, sizeof path, "/n%lld", (long long)zxid);
    int dlen = snprintf(data, sizeof data, "value-%lld", (long long)zxid);
    struct coord_txn_op op = {
        .type = COORD_OP_CREATE,
        .path = {path, plen},
        .data = (const uint8_t *)data,
        .data_len = dlen,
        .acl = acl,
        .acl_count = 1,
        .parent_cversion = (int32_t)zxid,
    };
    struct coord_txn txn = {
        .session = 0x100,
        .cxid = (int32_t)zxid,
        .zxid = zxid,
        .time_ms = 1700000000000 + zxid,
        .type = COORD_OP_CREATE,
        .op_count = 1,
        .ops = &op,
    };
    coord_txn_encode(&txn, out);
    assert_false(out->failed);
}

static size_t txn_len(coord_zxid zxid)
{
    struct coord_buf b;
    coord_buf_init(&b);
    encode_txn(zxid, &b);
    size_t len = b.len;
    coord_buf_free(&b);
    return len;
}

static void append_range(struct real_disk *d, coord_zxid from, coord_zxid to)
{
    struct coord_buf b;
    coord_buf_init(&b);
    for (coord_zxid z = from; z <= to; z++) {
        coord_buf_reset(&b);
        encode_txn(z, &b);
        assert_int_equal(real_disk_append(d, b.data, b.len, (uint64_t)z), 0);
    }
    coord_buf_free(&b);
}

/* Take synced tokens until `target` is reached (true) or the disk fails or 5 s
 * pass (false). Tokens must come out increasing. */
static bool wait_synced(struct real_disk *d, uint64_t target, uint64_t *last)
{
    for (int i = 0; i < 500; i++) {
        uint64_t t;
        while (real_disk_take_synced(d, &t)) {
            assert_true(t > *last || *last == 0);
            *last = t;
        }
        if (*last >= target) {
            return true;
        }
        if (real_disk_failed(d)) {
            return false;
        }
        struct pollfd p = {.fd = real_disk_notify_fd(d), .events = POLLIN};
        poll(&p, 1, 10);
    }
    return false;
}

static void disk_open_with(struct fx *f,
                           const char *log_dir,
                           uint64_t segment_bytes,
                           unsigned snapshots_kept,
                           const struct real_disk_hooks *hooks)
{
    assert_int_equal(real_disk_open(&f->disk, f->data, log_dir, f->err, sizeof f->err), 0);
    f->open = true;
    real_disk_set_limits(&f->disk, segment_bytes, snapshots_kept);
    real_disk_set_hooks(&f->disk, hooks);
}

/* Open and recover; returns recover's result (err in f->err). */
static int disk_start(struct fx *f, uint64_t segment_bytes, unsigned snapshots_kept)
{
    disk_open_with(f, NULL, segment_bytes, snapshots_kept, NULL);
    return real_disk_recover(&f->disk, &f->st, f->err, sizeof f->err);
}

static void disk_stop(struct fx *f)
{
    real_disk_close(&f->disk);
    f->open = false;
}

/* Read every record recovery yields: each must be the encoding of its zxid.
 * Returns the count; zxids[] receives them. */
static size_t read_log(struct fx *f, coord_zxid *zxids, size_t max)
{
    size_t n = 0;
    const void *rec;
    size_t len;
    struct coord_buf want;
    coord_buf_init(&want);
    while (f->st.log != NULL && f->st.log->next(f->st.log->ctx, &rec, &len)) {
        struct coord_txn txn;
        assert_int_equal(coord_txn_decode(rec, len, &txn), COORD_OK);
        coord_buf_reset(&want);
        encode_txn(txn.zxid, &want);
        assert_int_equal(len, want.len);
        assert_memory_equal(rec, want.data, len);
        assert_true(n < max);
        zxids[n++] = txn.zxid;
        coord_txn_release(&txn);
    }
    coord_buf_free(&want);
    return n;
}

static void assert_log_is_range(struct fx *f, coord_zxid from, coord_zxid to)
{
    coord_zxid z[1024];
    size_t n = read_log(f, z, 1024);
    assert_int_equal(n, (size_t)(to - from + 1));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(z[i], from + (coord_zxid)i);
    }
}

static bool has_warning(struct real_disk *d, const char *a, const char *b)
{
    for (size_t i = 0; i < real_disk_warning_count(d); i++) {
        const char *w = real_disk_warning(d, i);
        if (strstr(w, a) != NULL && (b == NULL || strstr(w, b) != NULL)) {
            return true;
        }
    }
    return false;
}

static void file_path(const struct fx *f,
                      char *out,
                      size_t len,
                      const char *prefix,
                      coord_zxid zxid)
{
    snprintf(out, len, "%s/%s.%016llx", f->sub, prefix, (unsigned long long)zxid);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void cut_file(const char *path, off_t size)
{
    assert_int_equal(truncate(path, size), 0);
}

/* The offset of record `zxid` in a segment whose first record is `first`. */
static off_t record_offset(coord_zxid first, coord_zxid zxid)
{
    off_t at = 32;
    for (coord_zxid z = first; z < zxid; z++) {
        at += 8 + (off_t)txn_len(z);
    }
    return at;
}

static size_t count_files(const struct fx *f, const char *prefix)
{
    size_t n = 0;
    char path[256];
    for (coord_zxid z = 0; z <= 1024; z++) {
        file_path(f, path, sizeof path, prefix, z);
        n += file_size(path) >= 0;
    }
    return n;
}

static void snapshot_at(struct fx *f, coord_zxid zxid)
{
    char state[32];
    int len = snprintf(state, sizeof state, "state@%lld", (long long)zxid);
    assert_int_equal(real_disk_snapshot(&f->disk, state, (size_t)len, zxid), 0);
    assert_int_equal(real_disk_flush(&f->disk), 0);
}

static void assert_snapshot(const struct fx *f, coord_zxid zxid)
{
    char state[32];
    int len = snprintf(state, sizeof state, "state@%lld", (long long)zxid);
    assert_non_null(f->st.snapshot);
    assert_int_equal(f->st.snapshot_len, (size_t)len);
    assert_memory_equal(f->st.snapshot, state, (size_t)len);
}

/* ---- fault injection ---------------------------------------------------------------- */

static _Atomic int sync_delay_us;
static _Atomic bool sync_fails;
static _Atomic bool write_fails;

static int hook_sync(int fd, bool data_only)
{
    if (sync_fails) {
        errno = EIO;
        return -1;
    }
    if (sync_delay_us > 0) {
        struct timespec ts = {0, (long)sync_delay_us * 1000};
        nanosleep(&ts, NULL);
    }
    return data_only ? fdatasync(fd) : fsync(fd);
}

static ssize_t hook_writev(int fd, const struct iovec *iov, int count)
{
    if (write_fails) {
        errno = ENOSPC;
        return -1;
    }
    return writev(fd, iov, count);
}

static const struct real_disk_hooks faulty = {.sync = hook_sync, .writev = hook_writev};

static void reset_faults(void)
{
    sync_delay_us = 0;
    sync_fails = false;
    write_fails = false;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_crc32c_matches_the_castagnoli_check_value(void **state)
{
    (void)state;
    assert_int_equal(real_disk_crc32c(0, "123456789", 9), 0xE3069283u);
    /* Incremental use gives the same value. */
    assert_int_equal(real_disk_crc32c(real_disk_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void test_append_sync_recover_returns_same_records(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_null(f->st.snapshot);
    assert_null(f->st.meta);
    assert_log_is_range(f, 1, 0); /* Empty. */
    append_range(&f->disk, 1, 50);
    uint64_t last = 0;
    assert_true(wait_synced(&f->disk, 50, &last));
    assert_int_equal(last, 50);
    disk_stop(f);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_log_is_range(f, 1, 50);
    assert_int_equal(real_disk_warning_count(&f->disk), 0);
    /* Appends continue in the same segment after recovery. */
    append_range(&f->disk, 51, 60);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_log_is_range(f, 1, 60);
    assert_int_equal(count_files(f, "log"), 1);
}

static void test_group_commit_syncs_far_fewer_times_than_appends(void **state)
{
    struct fx *f = *state;
    reset_faults();
    sync_delay_us = 20000; /* A slow disk: appends pile up behind each sync. */
    disk_open_with(f, NULL, 0, 0, &faulty);
    assert_int_equal(real_disk_recover(&f->disk, &f->st, f->err, sizeof f->err), 0);
    append_range(&f->disk, 1, 1000);
    uint64_t last = 0;
    assert_true(wait_synced(&f->disk, 1000, &last));
    assert_int_equal(last, 1000);
    struct real_disk_stats s;
    real_disk_get_stats(&f->disk, &s);
    assert_int_equal(s.appends, 1000);
    assert_true(s.log_syncs >= 1);
    assert_true(s.log_syncs <= 50);
    assert_true(s.commits <= s.log_syncs);
    reset_faults();
}

static void test_torn_tail_mid_record_is_cut_and_appends_continue(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 10);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    char log[256];
    file_path(f, log, sizeof log, "log", 1);
    off_t tenth = record_offset(1, 10);
    assert_int_equal(file_size(log), record_offset(1, 11));
    cut_file(log, tenth + 20); /* Record 10 is half written. */

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_log_is_range(f, 1, 9);
    char at[64];
    snprintf(at, sizeof at, "offset %lld", (long long)tenth);
    assert_true(has_warning(&f->disk, "log.0000000000000001: torn tail", at));
    assert_true(has_warning(&f->disk, "cut 20 bytes", NULL));
    assert_int_equal(file_size(log), tenth);
    append_range(&f->disk, 10, 12);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_log_is_range(f, 1, 12);
    assert_int_equal(real_disk_warning_count(&f->disk), 0);
}

static void test_flipped_byte_in_last_record_is_cut(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 10);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    char log[256];
    file_path(f, log, sizeof log, "log", 1);
    flip_byte(log, file_size(log) - 3);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_log_is_range(f, 1, 9);
    assert_true(has_warning(&f->disk, "torn tail", "checksum mismatch"));
    assert_int_equal(file_size(log), record_offset(1, 10));
}

static void test_corrupt_middle_record_is_refused_naming_file_and_offset(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 10);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    char log[256];
    file_path(f, log, sizeof log, "log", 1);
    off_t size = file_size(log);
    off_t fifth = record_offset(1, 5);
    flip_byte(log, fifth + 20);

    assert_int_equal(disk_start(f, 0, 0), -1);
    assert_non_null(strstr(f->err, log));
    char at[64];
    snprintf(at, sizeof at, "offset %lld (checksum mismatch)", (long long)fifth);
    assert_non_null(strstr(f->err, at));
    assert_non_null(strstr(f->err, "not a torn tail"));
    assert_int_equal(file_size(log), size); /* Nothing was cut. */
}

static void test_corrupt_record_in_older_segment_is_refused(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 1024, 0), 0);
    append_range(&f->disk, 1, 40);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    assert_true(count_files(f, "log") >= 3);
    char log[256];
    file_path(f, log, sizeof log, "log", 1);
    flip_byte(log, file_size(log) - 3); /* The tail of an older segment. */

    assert_int_equal(disk_start(f, 1024, 0), -1);
    assert_non_null(strstr(f->err, log));
    assert_non_null(strstr(f->err, "newer log files follow"));
}

static void test_corrupt_newest_snapshot_falls_back_to_previous(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 30);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 10);
    snapshot_at(f, 20);
    disk_stop(f);
    char snap[256];
    file_path(f, snap, sizeof snap, "snapshot", 20);
    flip_byte(snap, 34);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_snapshot(f, 10);
    assert_log_is_range(f, 11, 30);
    assert_true(has_warning(&f->disk, "snapshot.0000000000000014 is damaged", "checksum"));
}

static void test_truncated_newest_snapshot_falls_back_to_previous(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 30);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 10);
    snapshot_at(f, 20);
    disk_stop(f);
    char snap[256];
    file_path(f, snap, sizeof snap, "snapshot", 20);
    cut_file(snap, 20);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_snapshot(f, 10);
    assert_log_is_range(f, 11, 30);
    assert_true(has_warning(&f->disk, "snapshot.0000000000000014 is damaged", "shorter"));
}

static void test_recovery_yields_only_records_after_snapshot(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 30);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 17);
    disk_stop(f);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_snapshot(f, 17);
    assert_log_is_range(f, 18, 30);
}

static void test_meta_survives_torn_write_of_newer_copy(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    uint64_t last = 0;
    assert_int_equal(real_disk_meta(&f->disk, "epoch=1", 7, 1), 0);
    assert_true(wait_synced(&f->disk, 1, &last));
    assert_int_equal(real_disk_meta(&f->disk, "epoch=2", 7, 2), 0);
    assert_true(wait_synced(&f->disk, 2, &last));
    disk_stop(f);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_int_equal(f->st.meta_len, 7);
    assert_memory_equal(f->st.meta, "epoch=2", 7);
    disk_stop(f);
    char meta1[256];
    snprintf(meta1, sizeof meta1, "%s/meta.1", f->sub);
    cut_file(meta1, 30); /* The newer copy, torn. */

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_int_equal(f->st.meta_len, 7);
    assert_memory_equal(f->st.meta, "epoch=1", 7);
    assert_true(has_warning(&f->disk, "meta.1 is damaged", NULL));
    /* The next write replaces the damaged copy, not the good one. */
    last = 0;
    assert_int_equal(real_disk_meta(&f->disk, "epoch=3", 7, 3), 0);
    assert_true(wait_synced(&f->disk, 3, &last));
    disk_stop(f);
    flip_byte(meta1, 26); /* Damage the newest again: epoch=1 must still be there. */
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_memory_equal(f->st.meta, "epoch=1", 7);
}

static void test_meta_newest_copy_wins_whichever_file_holds_it(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    uint64_t last = 0;
    const char *values[] = {"epoch=1", "epoch=2", "epoch=3"}; /* meta.0, meta.1, meta.0 */
    for (uint64_t i = 0; i < 3; i++) {
        assert_int_equal(real_disk_meta(&f->disk, values[i], 7, i + 1), 0);
        assert_true(wait_synced(&f->disk, i + 1, &last));
    }
    struct real_disk_stats s;
    real_disk_get_stats(&f->disk, &s);
    assert_int_equal(s.meta_writes, 3);
    disk_stop(f);
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_int_equal(f->st.meta_len, 7);
    assert_memory_equal(f->st.meta, "epoch=3", 7);
}

static void test_meta_and_appends_share_one_token_order(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 5);
    assert_int_equal(real_disk_meta(&f->disk, "m", 1, 6), 0);
    uint64_t last = 0;
    assert_true(wait_synced(&f->disk, 6, &last));
    assert_int_equal(last, 6);
    disk_stop(f);
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_log_is_range(f, 1, 5);
    assert_int_equal(f->st.meta_len, 1);
    assert_memory_equal(f->st.meta, "m", 1);
}

static void test_second_open_of_one_dir_fails_clearly(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    struct real_disk other;
    char err[REAL_DISK_MSG_LEN];
    assert_int_equal(real_disk_open(&other, f->data, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "data directory"));
    assert_non_null(strstr(err, f->sub));
    assert_non_null(strstr(err, "in use by another coordd"));
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    assert_non_null(strstr(err, pid));
    /* Released on close. */
    disk_stop(f);
    assert_int_equal(real_disk_open(&other, f->data, NULL, err, sizeof err), 0);
    real_disk_close(&other);
}

static void test_shared_log_dir_is_locked_too(void **state)
{
    struct fx *f = *state;
    char logs[128];
    char data2[128];
    snprintf(logs, sizeof logs, "%s/logs", f->root);
    snprintf(data2, sizeof data2, "%s/data2", f->root);
    disk_open_with(f, logs, 0, 0, NULL);
    struct real_disk other;
    char err[REAL_DISK_MSG_LEN];
    assert_int_equal(real_disk_open(&other, data2, logs, err, sizeof err), -1);
    assert_non_null(strstr(err, "transaction log directory"));
    assert_non_null(strstr(err, "in use by another coordd"));
}

static void test_separate_log_dir_holds_the_log(void **state)
{
    struct fx *f = *state;
    char logs[128];
    snprintf(logs, sizeof logs, "%s/logs", f->root);
    disk_open_with(f, logs, 0, 0, NULL);
    assert_int_equal(real_disk_recover(&f->disk, &f->st, f->err, sizeof f->err), 0);
    append_range(&f->disk, 1, 5);
    snapshot_at(f, 3);
    disk_stop(f);
    char path[256];
    snprintf(path, sizeof path, "%s/%s/log.%016x", logs, REAL_DISK_SUBDIR, 1);
    assert_true(file_size(path) > 0);
    file_path(f, path, sizeof path, "snapshot", 3);
    assert_true(file_size(path) > 0);
    disk_open_with(f, logs, 0, 0, NULL);
    assert_int_equal(real_disk_recover(&f->disk, &f->st, f->err, sizeof f->err), 0);
    assert_snapshot(f, 3);
    assert_log_is_range(f, 4, 5);
}

static void test_segment_roll_and_purge_keep_records_after_oldest_snapshot(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 1024, 2), 0);
    append_range(&f->disk, 1, 200);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    size_t before = count_files(f, "log");
    assert_true(before >= 15);
    snapshot_at(f, 50);
    snapshot_at(f, 100);
    snapshot_at(f, 150);
    struct real_disk_stats s;
    real_disk_get_stats(&f->disk, &s);
    assert_int_equal(s.snapshots, 3);
    assert_int_equal(s.snapshots_purged, 1);
    assert_int_equal(s.segments_rolled, before - 1);
    assert_true(s.segments_purged > 0);
    assert_int_equal(count_files(f, "log"), before - s.segments_purged);
    assert_int_equal(count_files(f, "snapshot"), 2);
    disk_stop(f);

    /* The newest snapshot lost: the oldest kept one still has its log. */
    char snap[256];
    file_path(f, snap, sizeof snap, "snapshot", 150);
    flip_byte(snap, 40);
    assert_int_equal(disk_start(f, 1024, 2), 0);
    assert_snapshot(f, 100);
    assert_log_is_range(f, 101, 200);
}

static void test_truncate_drops_the_right_records_and_survives_reopen(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 1024, 0), 0);
    append_range(&f->disk, 1, 60);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 20);
    assert_int_equal(real_disk_truncate(&f->disk, 25), 0);
    /* Appends continue right after the kept record. */
    append_range(&f->disk, 26, 30);
    uint64_t last = 0;
    assert_true(wait_synced(&f->disk, 30, &last));
    disk_stop(f);

    assert_int_equal(disk_start(f, 1024, 0), 0);
    assert_snapshot(f, 20);
    assert_log_is_range(f, 21, 30);
}

/* Truncation is in issue order: the records and the metadata record issued
 * before it are durable by the time it returns, so a crash can never show
 * the cut without them. */
static void test_truncate_waits_for_what_was_issued_before_it(void **state)
{
    struct fx *f = *state;
    reset_faults();
    disk_open_with(f, NULL, 1024, 0, &faulty);
    assert_int_equal(real_disk_recover(&f->disk, &f->st, f->err, sizeof f->err), 0);
    append_range(&f->disk, 1, 30);
    sync_delay_us = 20000; /* The sync thread is slow: the cut must wait for it. */
    append_range(&f->disk, 31, 40);
    assert_int_equal(real_disk_meta(&f->disk, "epochs", 6, 41), 0);
    assert_int_equal(real_disk_truncate(&f->disk, 35), 0);
    sync_delay_us = 0;
    uint64_t t = 0;
    assert_true(real_disk_take_synced(&f->disk, &t)); /* Already published: no waiting. */
    assert_int_equal(t, 41);
    struct coord_buf b;
    coord_buf_init(&b);
    for (coord_zxid z = 36; z <= 38; z++) {
        coord_buf_reset(&b);
        encode_txn(z, &b);
        /* Tokens go on increasing across the cut. */
        assert_int_equal(real_disk_append(&f->disk, b.data, b.len, (uint64_t)z + 6), 0);
    }
    coord_buf_free(&b);
    uint64_t last = 41;
    assert_true(wait_synced(&f->disk, 44, &last));
    disk_stop(f);

    assert_int_equal(disk_start(f, 1024, 0), 0);
    assert_null(f->st.snapshot);
    assert_int_equal(f->st.meta_len, 6);
    assert_memory_equal(f->st.meta, "epochs", 6);
    assert_log_is_range(f, 1, 38);
}

static void test_truncate_to_before_every_record_empties_the_log(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 1024, 0), 0);
    append_range(&f->disk, 1, 30);
    assert_int_equal(real_disk_truncate(&f->disk, 0), 0);
    assert_int_equal(count_files(f, "log"), 0);
    disk_stop(f);
    assert_int_equal(disk_start(f, 1024, 0), 0);
    assert_null(f->st.snapshot);
    assert_log_is_range(f, 1, 0); /* truncate(0): nothing left. */
    append_range(&f->disk, 1, 3);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    assert_int_equal(disk_start(f, 1024, 0), 0);
    assert_log_is_range(f, 1, 3);
}

/* env.h: log_truncate(0) empties the log, not the snapshot: the newest one
 * stays the state to recover. The older ones no longer connect to the log
 * after the cut, so they go (recovery must never fall back to one). */
static void test_snapshot_then_truncate_zero_keeps_the_snapshot(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 30);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 20);
    /* Queued, not waited for: the truncation writes it first. */
    assert_int_equal(real_disk_snapshot(&f->disk, "state@30", 8, 30), 0);
    assert_int_equal(real_disk_truncate(&f->disk, 0), 0);
    assert_false(real_disk_failed(&f->disk));
    assert_int_equal(count_files(f, "log"), 0);
    assert_int_equal(count_files(f, "snapshot"), 1);
    disk_stop(f);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_snapshot(f, 30);
    assert_log_is_range(f, 1, 0);
    append_range(&f->disk, 31, 33);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_snapshot(f, 30);
    assert_log_is_range(f, 31, 33);
}

/* A cut below the newest snapshot keeps that snapshot too (it is the state
 * the core saved last); no error, and the older snapshot goes. */
static void test_truncate_below_the_newest_snapshot_keeps_it(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 30);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 10);
    snapshot_at(f, 20);
    assert_int_equal(real_disk_truncate(&f->disk, 15), 0);
    char snap[256];
    file_path(f, snap, sizeof snap, "snapshot", 10);
    assert_int_equal(file_size(snap), -1);
    disk_stop(f);
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_snapshot(f, 20);
    assert_log_is_range(f, 1, 0); /* 1..15 are kept, and all below the snapshot. */
}

/* The SNAP sync of a learner: truncate(0), then the leader's snapshot, which
 * the log does not back. It is durable when real_disk_snapshot returns, the
 * older snapshots are gone, and appends continue after it. */
static void test_truncate_zero_then_snapshot_is_written_at_once(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 1024, 0), 0);
    append_range(&f->disk, 1, 30);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 20);
    assert_int_equal(real_disk_truncate(&f->disk, 0), 0);
    assert_int_equal(real_disk_snapshot(&f->disk, "state@100", 9, 100), 0);
    char snap[256];
    file_path(f, snap, sizeof snap, "snapshot", 100);
    assert_true(file_size(snap) > 0); /* No flush: written before returning. */
    file_path(f, snap, sizeof snap, "snapshot", 20);
    assert_int_equal(file_size(snap), -1);
    append_range(&f->disk, 101, 105);
    uint64_t last = 0;
    assert_true(wait_synced(&f->disk, 105, &last));
    disk_stop(f);

    assert_int_equal(disk_start(f, 1024, 0), 0);
    assert_snapshot(f, 100);
    assert_log_is_range(f, 101, 105);
}

/* A background snapshot that failed cannot stand for the records a cut
 * below it drops: that cut is refused rather than losing the state. */
static void test_truncate_below_a_lost_snapshot_is_refused(void **state)
{
    struct fx *f = *state;
    reset_faults();
    disk_open_with(f, NULL, 0, 0, &faulty);
    assert_int_equal(real_disk_recover(&f->disk, &f->st, f->err, sizeof f->err), 0);
    append_range(&f->disk, 1, 30);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    write_fails = true;
    snapshot_at(f, 25); /* Fails: a warning, the log holds the state. */
    write_fails = false;
    assert_false(real_disk_failed(&f->disk));
    assert_true(has_warning(&f->disk, "snapshot", "not written"));
    assert_int_equal(real_disk_truncate(&f->disk, 28), 0); /* Above it: fine. */
    assert_int_equal(real_disk_truncate(&f->disk, 10), -1);
    assert_true(real_disk_failed(&f->disk));
    assert_non_null(strstr(real_disk_error(&f->disk), "was not written"));
    disk_stop(f);
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_null(f->st.snapshot);
    assert_log_is_range(f, 1, 28);
}

static void test_non_increasing_zxid_in_log_is_corruption(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 5);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    /* Append a well-formed record for zxid 3 by hand, after zxid 5. */
    struct coord_buf b;
    coord_buf_init(&b);
    encode_txn(3, &b);
    uint8_t hdr[8];
    coord_store_be32(hdr, (uint32_t)b.len);
    coord_store_be32(hdr + 4, real_disk_crc32c(0, b.data, b.len));
    char log[256];
    file_path(f, log, sizeof log, "log", 1);
    off_t at = file_size(log);
    int fd = open(log, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, hdr, 8), 8);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    coord_buf_free(&b);

    assert_int_equal(disk_start(f, 0, 0), -1);
    assert_non_null(strstr(f->err, log));
    char what[96];
    snprintf(what, sizeof what, "offset %lld has zxid 0x3, not above the previous record's 0x5",
             (long long)at);
    assert_non_null(strstr(f->err, what));
}

static void test_appending_a_non_increasing_zxid_fails_the_disk(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 5);
    struct coord_buf b;
    coord_buf_init(&b);
    encode_txn(5, &b);
    assert_int_equal(real_disk_append(&f->disk, b.data, b.len, 5), -1);
    coord_buf_free(&b);
    assert_true(real_disk_failed(&f->disk));
    assert_non_null(strstr(real_disk_error(&f->disk), "not above the last logged zxid 0x5"));
}

static void test_sync_error_is_never_reported_synced(void **state)
{
    struct fx *f = *state;
    reset_faults();
    disk_open_with(f, NULL, 0, 0, &faulty);
    assert_int_equal(real_disk_recover(&f->disk, &f->st, f->err, sizeof f->err), 0);
    append_range(&f->disk, 1, 5);
    uint64_t last = 0;
    assert_true(wait_synced(&f->disk, 5, &last));
    sync_fails = true;
    append_range(&f->disk, 6, 6);
    assert_false(wait_synced(&f->disk, 6, &last));
    assert_int_equal(last, 5);
    assert_true(real_disk_failed(&f->disk));
    assert_non_null(strstr(real_disk_error(&f->disk), "Input/output error"));
    uint64_t t;
    assert_false(real_disk_take_synced(&f->disk, &t));
    struct coord_buf b;
    coord_buf_init(&b);
    encode_txn(9, &b);
    assert_int_equal(real_disk_append(&f->disk, b.data, b.len, 9), -1);
    coord_buf_free(&b);
    assert_int_equal(real_disk_flush(&f->disk), -1);
    reset_faults();
}

static void test_write_error_fails_the_disk_at_once(void **state)
{
    struct fx *f = *state;
    reset_faults();
    disk_open_with(f, NULL, 0, 0, &faulty);
    assert_int_equal(real_disk_recover(&f->disk, &f->st, f->err, sizeof f->err), 0);
    append_range(&f->disk, 1, 2);
    write_fails = true;
    struct coord_buf b;
    coord_buf_init(&b);
    encode_txn(3, &b);
    assert_int_equal(real_disk_append(&f->disk, b.data, b.len, 3), -1);
    coord_buf_free(&b);
    assert_true(real_disk_failed(&f->disk));
    assert_non_null(strstr(real_disk_error(&f->disk), "No space left on device"));
    assert_non_null(strstr(real_disk_error(&f->disk), "log.0000000000000001"));
    uint64_t t;
    assert_false(real_disk_take_synced(&f->disk, &t));
    reset_faults();
}

static void test_newest_segment_without_header_is_removed(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 3);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    char torn[256];
    file_path(f, torn, sizeof torn, "log", 4);
    int fd = open(torn, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "coordlog", 8), 8); /* Crash while creating it. */
    close(fd);

    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_log_is_range(f, 1, 3);
    assert_true(has_warning(&f->disk, "log.0000000000000004 holds no complete header", NULL));
    assert_int_equal(file_size(torn), -1);
    append_range(&f->disk, 4, 5);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    disk_stop(f);
    assert_int_equal(disk_start(f, 0, 0), 0);
    assert_log_is_range(f, 1, 5);
}

static void test_missing_log_segment_after_snapshot_is_refused(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 1024, 0), 0);
    append_range(&f->disk, 1, 40);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 5);
    disk_stop(f);
    char log[256];
    file_path(f, log, sizeof log, "log", 1);
    assert_int_equal(unlink(log), 0);

    assert_int_equal(disk_start(f, 1024, 0), -1);
    assert_non_null(strstr(f->err, "snapshot ends at 0x5"));
    assert_non_null(strstr(f->err, "log segments are missing"));
}

static void test_every_snapshot_damaged_is_refused(void **state)
{
    struct fx *f = *state;
    assert_int_equal(disk_start(f, 0, 0), 0);
    append_range(&f->disk, 1, 10);
    assert_int_equal(real_disk_flush(&f->disk), 0);
    snapshot_at(f, 5);
    disk_stop(f);
    char snap[256];
    file_path(f, snap, sizeof snap, "snapshot", 5);
    flip_byte(snap, 33);
    assert_int_equal(disk_start(f, 0, 0), -1);
    assert_non_null(strstr(f->err, "none of the 1 snapshots"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_matches_the_castagnoli_check_value),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_append_sync_recover_returns_same_records),
        T(test_group_commit_syncs_far_fewer_times_than_appends),
        T(test_torn_tail_mid_record_is_cut_and_appends_continue),
        T(test_flipped_byte_in_last_record_is_cut),
        T(test_corrupt_middle_record_is_refused_naming_file_and_offset),
        T(test_corrupt_record_in_older_segment_is_refused),
        T(test_corrupt_newest_snapshot_falls_back_to_previous),
        T(test_truncated_newest_snapshot_falls_back_to_previous),
        T(test_recovery_yields_only_records_after_snapshot),
        T(test_meta_survives_torn_write_of_newer_copy),
        T(test_meta_newest_copy_wins_whichever_file_holds_it),
        T(test_meta_and_appends_share_one_token_order),
        T(test_second_open_of_one_dir_fails_clearly),
        T(test_shared_log_dir_is_locked_too),
        T(test_separate_log_dir_holds_the_log),
        T(test_segment_roll_and_purge_keep_records_after_oldest_snapshot),
        T(test_truncate_drops_the_right_records_and_survives_reopen),
        T(test_truncate_waits_for_what_was_issued_before_it),
        T(test_truncate_to_before_every_record_empties_the_log),
        T(test_snapshot_then_truncate_zero_keeps_the_snapshot),
        T(test_truncate_below_the_newest_snapshot_keeps_it),
        T(test_truncate_zero_then_snapshot_is_written_at_once),
        T(test_truncate_below_a_lost_snapshot_is_refused),
        T(test_non_increasing_zxid_in_log_is_corruption),
        T(test_appending_a_non_increasing_zxid_fails_the_disk),
        T(test_sync_error_is_never_reported_synced),
        T(test_write_error_fails_the_disk_at_once),
        T(test_newest_segment_without_header_is_removed),
        T(test_missing_log_segment_after_snapshot_is_refused),
        T(test_every_snapshot_damaged_is_refused),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
