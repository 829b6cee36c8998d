/* Durable storage for coordd (see disk.h): log segments with a CRC per
 * record, snapshots, the metadata record, group commit and recovery. */
#define _GNU_SOURCE
#include "disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coord/txn.h"
#include "coord/util.h"

#define LOG_MAGIC "coordlog"
#define SNAP_MAGIC "coordsnp"
#define META_MAGIC "coordmet"
#define MAGIC_LEN 8
#define FORMAT_VERSION 1u
#define LOG_HDR 32  /* magic, version, 0, first zxid, crc of the 24 bytes before, 0 */
#define REC_HDR 8   /* length, crc32c of the payload */
#define SNAP_HDR 32 /* magic, version, 0, zxid, payload length */
#define META_HDR 24 /* magic, version, payload length, sequence */
#define TRAILER 4   /* crc32c of header and payload (snapshot, meta) */
#define NAME_LEN 64
#define LOCK_NAME "lock"
/* Work allowed to look for valid records after a damaged one (CRC bytes):
 * enough for any real tail, bounded for a file full of noise. */
#define SCAN_BUDGET_BYTES (1ull << 30)

/* ---- CRC-32C ------------------------------------------------------------------ */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_hw;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc_table[t - 1][i];
            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xffu];
        }
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_soft(uint32_t c, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = crc_table[7][lo & 0xffu] ^ crc_table[6][(lo >> 8) & 0xffu] ^
            crc_table[5][(lo >> 16) & 0xffu] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xffu] ^
            crc_table[2][(hi >> 8) & 0xffu] ^ crc_table[1][(hi >> 16) & 0xffu] ^
            crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) {
        c = crc_table[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
    }
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        c64 = __builtin_ia32_crc32di(c64, w);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n-- > 0) {
        c = __builtin_ia32_crc32qi(c, *p++);
    }
    return c;
}
#endif

uint32_t real_disk_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (crc_hw) {
        return ~crc_sse42(c, data, len);
    }
#endif
    return ~crc_soft(c, data, len);
}

/* ---- messages ------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static void fmt(char *buf, size_t len, const char *f, ...)
{
    if (buf == NULL || len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, len, f, ap);
    va_end(ap);
}

static void disk_notify(struct real_disk *d)
{
    uint64_t one = 1;
    if (write(d->notify_fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is already nonzero, the loop will wake. */
    }
}

/* Mark the disk failed (the first message wins) and wake everyone. Called
 * without mu held. */
__attribute__((format(printf, 2, 3))) static void disk_fail(struct real_disk *d, const char *f, ...)
{
    char msg[REAL_DISK_MSG_LEN];
    va_list ap;
    va_start(ap, f);
    vsnprintf(msg, sizeof msg, f, ap);
    va_end(ap);
    pthread_mutex_lock(&d->mu);
    if (!d->failed) {
        memcpy(d->errmsg, msg, sizeof msg);
        d->failed = true;
    }
    pthread_cond_broadcast(&d->idle_cv);
    pthread_cond_broadcast(&d->sync_cv);
    pthread_mutex_unlock(&d->mu);
    disk_notify(d);
}

__attribute__((format(printf, 2, 3))) static void disk_warn(struct real_disk *d, const char *f, ...)
{
    char msg[REAL_DISK_MSG_LEN];
    va_list ap;
    va_start(ap, f);
    vsnprintf(msg, sizeof msg, f, ap);
    va_end(ap);
    pthread_mutex_lock(&d->mu);
    if (d->warning_count < REAL_DISK_WARNINGS_MAX) {
        memcpy(d->warnings[d->warning_count], msg, sizeof msg);
        d->warning_count++;
    } else {
        d->warnings_dropped++;
    }
    void (*cb)(void *, const char *) = d->warn_cb;
    void *arg = d->warn_arg;
    pthread_mutex_unlock(&d->mu);
    if (cb != NULL) {
        cb(arg, msg);
    }
}

/* ---- file helpers -------------------------------------------------------------- */

static int disk_sync(struct real_disk *d, int fd, bool data_only)
{
    if (d->hooks.sync != NULL) {
        return d->hooks.sync(fd, data_only);
    }
    int rc;
    do {
        rc = data_only ? fdatasync(fd) : fsync(fd);
    } while (rc != 0 && errno == EINTR);
    return rc;
}

/* Write every byte of iov (which it consumes), through the hook if set. */
static int disk_writev_all(struct real_disk *d, int fd, struct iovec *iov, int count)
{
    for (;;) {
        while (count > 0 && iov->iov_len == 0) {
            iov++;
            count--;
        }
        if (count == 0) {
            return 0;
        }
        ssize_t n =
            d->hooks.writev != NULL ? d->hooks.writev(fd, iov, count) : writev(fd, iov, count);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return -1;
        }
        size_t left = (size_t)n;
        while (count > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
}

/* Read a whole file into a malloc'd buffer. -1 with errno on failure. */
static int read_all_at(int dirfd, const char *name, uint8_t **out, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            close(fd);
            free(buf);
            errno = e;
            return -1;
        }
        if (n == 0) {
            break; /* Shorter than fstat said: keep what is there. */
        }
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = got;
    return 0;
}

static void name_of(char *buf, const char *prefix, coord_zxid zxid)
{
    snprintf(buf, NAME_LEN, "%s.%016llx", prefix, (unsigned long long)(uint64_t)zxid);
}

static bool parse_name(const char *name, const char *prefix, coord_zxid *zxid)
{
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0 || name[plen] != '.' || strlen(name + plen + 1) != 16) {
        return false;
    }
    uint64_t v = 0;
    for (const char *p = name + plen + 1; *p != '\0'; p++) {
        int digit;
        if (*p >= '0' && *p <= '9') {
            digit = *p - '0';
        } else if (*p >= 'a' && *p <= 'f') {
            digit = *p - 'a' + 10;
        } else {
            return false;
        }
        v = v << 4 | (uint64_t)digit;
    }
    *zxid = (coord_zxid)v;
    return true;
}

static int cmp_zxid(const void *a, const void *b)
{
    coord_zxid x = *(const coord_zxid *)a;
    coord_zxid y = *(const coord_zxid *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* The zxids of the files named <prefix>.<16 hex> in dir, ascending. */
static int list_files(const char *dir, const char *prefix, coord_zxid **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *dp = opendir(dir);
    if (dp == NULL) {
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        coord_zxid z;
        if (!parse_name(e->d_name, prefix, &z)) {
            continue;
        }
        if (*count == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            coord_zxid *grown = realloc(*out, ncap * sizeof *grown);
            if (grown == NULL) {
                free(*out);
                *out = NULL;
                *count = 0;
                closedir(dp);
                errno = ENOMEM;
                return -1;
            }
            *out = grown;
            cap = ncap;
        }
        (*out)[(*count)++] = z;
    }
    closedir(dp);
    if (*count > 1) {
        qsort(*out, *count, sizeof **out, cmp_zxid);
    }
    return 0;
}

static int record_zxid(const void *rec, size_t len, coord_zxid *zxid)
{
    struct coord_txn txn;
    int rc = coord_txn_decode(rec, len, &txn);
    if (rc == COORD_OK) {
        *zxid = txn.zxid;
    }
    coord_txn_release(&txn);
    return rc;
}

/* ---- open ---------------------------------------------------------------------- */

static int mkdir_p(const char *path, char *err, size_t err_len, const char *what)
{
    char buf[REAL_DISK_PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        fmt(err, err_len, "%s path is empty or too long: '%s'", what, path);
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') {
            continue;
        }
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            fmt(err, err_len, "cannot create %s %s: %s", what, buf, strerror(errno));
            return -1;
        }
        buf[i] = saved;
    }
    return 0;
}

/* Create <base>/coord-v1 and open it as a directory fd. */
static int open_subdir(const char *base,
                       char *path,
                       int *fd,
                       const char *what,
                       char *err,
                       size_t err_len)
{
    if (mkdir_p(base, err, err_len, what) != 0) {
        return -1;
    }
    int n = snprintf(path, REAL_DISK_PATH_MAX, "%s/%s", base, REAL_DISK_SUBDIR);
    if (n < 0 || n >= REAL_DISK_PATH_MAX) {
        fmt(err, err_len, "%s path is too long: '%s'", what, base);
        return -1;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fmt(err, err_len, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0) {
        fmt(err, err_len, "cannot open %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* flock() the folder's lock file, so a second server fails fast and clearly. */
static int lock_subdir(int dirfd,
                       const char *path,
                       const char *what,
                       int *lock_fd,
                       char *err,
                       size_t err_len)
{
    int fd = openat(dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fmt(err, err_len, "cannot open the lock file %s/%s: %s", path, LOCK_NAME, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        if (n > 0) {
            pid[n] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        } else {
            strcpy(pid, "unknown");
        }
        close(fd);
        if (e == EWOULDBLOCK) {
            fmt(err, err_len,
                "%s %s is in use by another coordd (pid %s holds %s/%s): two servers cannot "
                "share it; stop the other server or give this one its own directory",
                what, path, pid, path, LOCK_NAME);
        } else {
            fmt(err, err_len, "cannot lock %s/%s: %s", path, LOCK_NAME, strerror(e));
        }
        return -1;
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        fmt(err, err_len, "cannot write the lock file %s/%s: %s", path, LOCK_NAME, strerror(errno));
        close(fd);
        return -1;
    }
    *lock_fd = fd;
    return 0;
}

static void disk_close_fds(struct real_disk *d)
{
    int *fds[] = {&d->data_fd, &d->log_fd, &d->lock_fd[0], &d->lock_fd[1], &d->notify_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    }
}

static int open_log_dir(struct real_disk *d,
                        const char *data_dir,
                        const char *log_dir,
                        char *err,
                        size_t err_len)
{
    if (log_dir == NULL || log_dir[0] == '\0' || strcmp(log_dir, data_dir) == 0) {
        memcpy(d->log_path, d->data_path, sizeof d->log_path);
        d->log_fd = open(d->log_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d->log_fd < 0) {
            fmt(err, err_len, "cannot open %s: %s", d->log_path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (open_subdir(log_dir, d->log_path, &d->log_fd, "transaction log directory", err, err_len) !=
        0) {
        return -1;
    }
    struct stat a, b;
    if (fstat(d->data_fd, &a) != 0 || fstat(d->log_fd, &b) != 0) {
        fmt(err, err_len, "cannot stat %s: %s", d->log_path, strerror(errno));
        return -1;
    }
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        return 0; /* The same folder by another name: one lock covers it. */
    }
    return lock_subdir(d->log_fd, d->log_path, "transaction log directory", &d->lock_fd[1], err,
                       err_len);
}

int real_disk_open(struct real_disk *d,
                   const char *data_dir,
                   const char *log_dir,
                   char *err,
                   size_t err_len)
{
    memset(d, 0, sizeof *d);
    d->data_fd = d->log_fd = d->lock_fd[0] = d->lock_fd[1] = d->notify_fd = d->cur_fd = -1;
    d->segment_bytes = REAL_DISK_SEGMENT_BYTES_DEFAULT;
    d->snapshots_kept = REAL_DISK_SNAPSHOTS_KEPT_DEFAULT;
    if (data_dir == NULL || data_dir[0] == '\0') {
        fmt(err, err_len, "no data directory configured (dataDir)");
        return -1;
    }
    if (open_subdir(data_dir, d->data_path, &d->data_fd, "data directory", err, err_len) != 0 ||
        lock_subdir(d->data_fd, d->data_path, "data directory", &d->lock_fd[0], err, err_len) !=
            0 ||
        open_log_dir(d, data_dir, log_dir, err, err_len) != 0) {
        disk_close_fds(d);
        return -1;
    }
    d->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->notify_fd < 0) {
        fmt(err, err_len, "eventfd: %s", strerror(errno));
        disk_close_fds(d);
        return -1;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->sync_cv, NULL);
    pthread_cond_init(&d->snap_cv, NULL);
    pthread_cond_init(&d->idle_cv, NULL);
    d->opened = true;
    return 0;
}

void real_disk_set_limits(struct real_disk *d, uint64_t segment_bytes, unsigned snapshots_kept)
{
    COORD_ASSERT(!d->threads_started);
    if (segment_bytes > 0) {
        d->segment_bytes = segment_bytes;
    }
    if (snapshots_kept > 0) {
        d->snapshots_kept = snapshots_kept;
    }
}

void real_disk_set_warn(struct real_disk *d, void (*warn_cb)(void *arg, const char *msg), void *arg)
{
    pthread_mutex_lock(&d->mu);
    d->warn_cb = warn_cb;
    d->warn_arg = arg;
    pthread_mutex_unlock(&d->mu);
}

void real_disk_set_hooks(struct real_disk *d, const struct real_disk_hooks *hooks)
{
    COORD_ASSERT(!d->threads_started);
    memset(&d->hooks, 0, sizeof d->hooks);
    if (hooks != NULL) {
        d->hooks = *hooks;
    }
}

/* ---- recovery: snapshots and metadata ----------------------------------------- */

/* NULL when buf is a valid snapshot of `zxid`, else why not (in why). */
static const char *snapshot_check(const uint8_t *buf,
                                  size_t len,
                                  coord_zxid zxid,
                                  char *why,
                                  size_t why_len)
{
    if (len < SNAP_HDR + TRAILER) {
        fmt(why, why_len, "%zu bytes, shorter than its header", len);
        return why;
    }
    if (memcmp(buf, SNAP_MAGIC, MAGIC_LEN) != 0 || coord_load_be32(buf + 8) != FORMAT_VERSION) {
        fmt(why, why_len, "bad magic or version");
        return why;
    }
    if ((coord_zxid)coord_load_be64(buf + 16) != zxid) {
        fmt(why, why_len, "its header names another zxid");
        return why;
    }
    uint64_t payload = coord_load_be64(buf + 24);
    if (payload != len - SNAP_HDR - TRAILER) {
        fmt(why, why_len, "header says %llu payload bytes, the file holds %zu",
            (unsigned long long)payload, len - SNAP_HDR - TRAILER);
        return why;
    }
    if (real_disk_crc32c(0, buf, len - TRAILER) != coord_load_be32(buf + len - TRAILER)) {
        fmt(why, why_len, "checksum mismatch");
        return why;
    }
    return NULL;
}

static int recover_snapshot(struct real_disk *d,
                            bool *have,
                            coord_zxid *zxid,
                            struct coord_storage *out,
                            char *err,
                            size_t err_len)
{
    coord_zxid *z;
    size_t n;
    *have = false;
    if (list_files(d->data_path, "snapshot", &z, &n) != 0) {
        fmt(err, err_len, "cannot list %s: %s", d->data_path, strerror(errno));
        return -1;
    }
    for (size_t i = n; i-- > 0 && !*have;) {
        char name[NAME_LEN];
        name_of(name, "snapshot", z[i]);
        uint8_t *buf;
        size_t len;
        if (read_all_at(d->data_fd, name, &buf, &len) != 0) {
            disk_warn(d, "cannot read snapshot %s/%s (%s): using the previous one", d->data_path,
                      name, strerror(errno));
            continue;
        }
        char why[128];
        if (snapshot_check(buf, len, z[i], why, sizeof why) != NULL) {
            disk_warn(d, "snapshot %s/%s is damaged (%s): using the previous one", d->data_path,
                      name, why);
            free(buf);
            continue;
        }
        d->rec_snapshot = buf;
        out->snapshot = buf + SNAP_HDR;
        out->snapshot_len = len - SNAP_HDR - TRAILER;
        *have = true;
        *zxid = z[i];
    }
    free(z);
    if (n > 0 && !*have) {
        fmt(err, err_len,
            "none of the %zu snapshots in %s is valid (see the warnings); refusing to start from "
            "an empty tree, as older log segments may have been purged",
            n, d->data_path);
        return -1;
    }
    return 0;
}

/* The sequence number of a valid metadata copy, or false (why says why). */
static bool meta_check(const uint8_t *buf, size_t len, uint64_t *seq, char *why, size_t why_len)
{
    if (len < META_HDR + TRAILER) {
        fmt(why, why_len, "%zu bytes, shorter than its header", len);
        return false;
    }
    if (memcmp(buf, META_MAGIC, MAGIC_LEN) != 0 || coord_load_be32(buf + 8) != FORMAT_VERSION) {
        fmt(why, why_len, "bad magic or version");
        return false;
    }
    if (coord_load_be32(buf + 12) != len - META_HDR - TRAILER) {
        fmt(why, why_len, "length mismatch");
        return false;
    }
    if (real_disk_crc32c(0, buf, len - TRAILER) != coord_load_be32(buf + len - TRAILER)) {
        fmt(why, why_len, "checksum mismatch");
        return false;
    }
    *seq = coord_load_be64(buf + 16);
    return true;
}

static int recover_meta(struct real_disk *d, struct coord_storage *out, char *err, size_t err_len)
{
    uint8_t *buf[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    bool valid[2] = {false, false};
    uint64_t seq[2] = {0, 0};
    for (unsigned i = 0; i < 2; i++) {
        char name[NAME_LEN];
        snprintf(name, sizeof name, "meta.%u", i);
        if (read_all_at(d->data_fd, name, &buf[i], &len[i]) != 0) {
            if (errno == ENOENT) {
                continue;
            }
            fmt(err, err_len, "cannot read %s/%s: %s", d->data_path, name, strerror(errno));
            free(buf[0]);
            return -1;
        }
        d->meta_present[i] = true;
        char why[128];
        valid[i] = meta_check(buf[i], len[i], &seq[i], why, sizeof why);
        if (!valid[i]) {
            disk_warn(d,
                      "metadata copy %s/%s is damaged (%s), left by an interrupted write: "
                      "using the other copy",
                      d->data_path, name, why);
        }
    }
    if (!valid[0] && !valid[1] && d->meta_present[0] && d->meta_present[1]) {
        fmt(err, err_len, "both metadata copies in %s are damaged; refusing to start",
            d->data_path);
        free(buf[0]);
        free(buf[1]);
        return -1;
    }
    int best = valid[0] && (!valid[1] || seq[0] > seq[1]) ? 0 : (valid[1] ? 1 : -1);
    if (best >= 0) {
        d->rec_meta = buf[best];
        out->meta = buf[best] + META_HDR;
        out->meta_len = len[best] - META_HDR - TRAILER;
        d->meta_seq = seq[best];
        d->meta_slot_next = (unsigned)best ^ 1u;
        free(buf[best ^ 1]);
    } else {
        free(buf[0]);
        free(buf[1]);
    }
    return 0;
}

/* ---- recovery: the log ---------------------------------------------------------- */

/* Is there a record with a good checksum that decodes, after `from`? */
static bool valid_record_after(const uint8_t *buf,
                               size_t size,
                               size_t from,
                               size_t *found,
                               bool *exhausted)
{
    uint64_t budget = SCAN_BUDGET_BYTES;
    *exhausted = false;
    for (size_t o = from + 1; o + REC_HDR <= size; o++) {
        uint32_t len = coord_load_be32(buf + o);
        if (len == 0 || len > size - o - REC_HDR) {
            continue;
        }
        if (len > budget) {
            *exhausted = true;
            return false;
        }
        budget -= len;
        coord_zxid z;
        if (real_disk_crc32c(0, buf + o + REC_HDR, len) == coord_load_be32(buf + o + 4) &&
            record_zxid(buf + o + REC_HDR, len, &z) == COORD_OK) {
            *found = o;
            return true;
        }
    }
    return false;
}

/* Why the record at pos is bad, or NULL when it is whole. */
static const char *record_damage(const uint8_t *buf, size_t size, size_t pos)
{
    if (size - pos < REC_HDR) {
        return "short record header";
    }
    uint32_t len = coord_load_be32(buf + pos);
    if (len == 0) {
        return "zero length";
    }
    if (len > size - pos - REC_HDR) {
        return "record runs past the end of the file";
    }
    if (real_disk_crc32c(0, buf + pos + REC_HDR, len) != coord_load_be32(buf + pos + 4)) {
        return "checksum mismatch";
    }
    return NULL;
}

static bool all_zero(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != 0) {
            return false;
        }
    }
    return true;
}

static const char *log_header_damage(const uint8_t *buf, size_t size, coord_zxid start)
{
    if (size < LOG_HDR) {
        return "shorter than its header";
    }
    if (memcmp(buf, LOG_MAGIC, MAGIC_LEN) != 0 || coord_load_be32(buf + 8) != FORMAT_VERSION) {
        return "bad magic or version";
    }
    if (real_disk_crc32c(0, buf, 24) != coord_load_be32(buf + 24)) {
        return "header checksum mismatch";
    }
    if ((coord_zxid)coord_load_be64(buf + 16) != start) {
        return "header names another first zxid than the file name";
    }
    return NULL;
}

/* One segment being read during recovery. */
struct seg_read
{
    char name[NAME_LEN];
    const uint8_t *buf;
    size_t size;
    coord_zxid start;
    bool newest;
    size_t records;
};

/* Remove segment `idx` (the newest) from disk and from the list. */
static int drop_newest_segment(struct real_disk *d,
                               const struct seg_read *s,
                               char *err,
                               size_t err_len)
{
    if (unlinkat(d->log_fd, s->name, 0) != 0 || disk_sync(d, d->log_fd, false) != 0) {
        fmt(err, err_len, "cannot remove %s/%s: %s", d->log_path, s->name, strerror(errno));
        return -1;
    }
    d->seg_count--;
    return 0;
}

static int push_record(struct real_disk *d, const uint8_t *data, size_t len)
{
    if (d->rec_count == d->rec_cap) {
        size_t ncap = d->rec_cap == 0 ? 256 : d->rec_cap * 2;
        struct real_disk_rec *grown = realloc(d->recs, ncap * sizeof *grown);
        if (grown == NULL) {
            return -1;
        }
        d->recs = grown;
        d->rec_cap = ncap;
    }
    d->recs[d->rec_count].data = data;
    d->recs[d->rec_count].len = len;
    d->rec_count++;
    return 0;
}

/* The state carried from segment to segment while reading the log. */
struct log_walk
{
    bool have_snap;
    coord_zxid snap;
    bool have_prev;
    coord_zxid prev;
    bool have_first; /* The first record yielded (above the snapshot). */
    coord_zxid first;
};

/* Check and collect the records of s from pos on. Returns 0 with *bad_at set
 * to the first damaged offset (s->size when none), or -1 on corruption that
 * no cut may fix. */
static int walk_records(struct real_disk *d,
                        struct seg_read *s,
                        struct log_walk *w,
                        size_t *bad_at,
                        const char **why,
                        char *err,
                        size_t err_len)
{
    size_t pos = LOG_HDR;
    while (pos < s->size) {
        *why = record_damage(s->buf, s->size, pos);
        if (*why != NULL) {
            break;
        }
        uint32_t len = coord_load_be32(s->buf + pos);
        const uint8_t *payload = s->buf + pos + REC_HDR;
        coord_zxid z;
        int rc = record_zxid(payload, len, &z);
        if (rc != COORD_OK) {
            fmt(err, err_len,
                "log file %s/%s: the record at offset %zu has a good checksum but "
                "is not a transaction (%s)",
                d->log_path, s->name, pos, coord_strerror(rc));
            return -1;
        }
        if (s->records == 0 && z != s->start) {
            fmt(err, err_len,
                "log file %s/%s: the first record has zxid 0x%llx, not the one the "
                "file is named after",
                d->log_path, s->name, (unsigned long long)z);
            return -1;
        }
        if (w->have_prev && z <= w->prev) {
            fmt(err, err_len,
                "log file %s/%s: corrupt log: the record at offset %zu has zxid "
                "0x%llx, not above the previous record's 0x%llx",
                d->log_path, s->name, pos, (unsigned long long)z, (unsigned long long)w->prev);
            return -1;
        }
        w->have_prev = true;
        w->prev = z;
        s->records++;
        if (!w->have_snap || z > w->snap) {
            if (!w->have_first) {
                w->have_first = true;
                w->first = z;
            }
            if (push_record(d, payload, len) != 0) {
                fmt(err, err_len, "out of memory reading the log");
                return -1;
            }
        }
        pos += REC_HDR + len;
    }
    *bad_at = pos;
    return 0;
}

/* A damaged record at bad_at: cut it if it is a torn tail, refuse otherwise. */
static int cut_tail(struct real_disk *d,
                    struct seg_read *s,
                    size_t bad_at,
                    const char *why,
                    char *err,
                    size_t err_len)
{
    if (!s->newest) {
        fmt(err, err_len,
            "log file %s/%s: damaged record at offset %zu (%s), and newer log "
            "files follow: refusing to cut what may be acknowledged data; restore the file "
            "from a replica or a backup",
            d->log_path, s->name, bad_at, why);
        return -1;
    }
    size_t found;
    bool exhausted;
    if (valid_record_after(s->buf, s->size, bad_at, &found, &exhausted)) {
        fmt(err, err_len,
            "log file %s/%s: damaged record at offset %zu (%s) is followed by a "
            "valid record at offset %zu: this is not a torn tail, refusing to cut acknowledged "
            "data; restore the file from a replica or a backup",
            d->log_path, s->name, bad_at, why, found);
        return -1;
    }
    if (exhausted) {
        fmt(err, err_len,
            "log file %s/%s: damaged record at offset %zu (%s), and the %zu bytes "
            "after it are too noisy to rule out valid records: refusing to cut",
            d->log_path, s->name, bad_at, why, s->size - bad_at);
        return -1;
    }
    int fd = openat(d->log_fd, s->name, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)bad_at) != 0 || disk_sync(d, fd, true) != 0) {
        fmt(err, err_len, "cannot cut the torn tail of %s/%s: %s", d->log_path, s->name,
            strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    disk_warn(d,
              "log file %s/%s: torn tail at offset %zu (%s), left by a crash: cut %zu bytes; "
              "appends continue after the last good record",
              d->log_path, s->name, bad_at, why, s->size - bad_at);
    s->size = bad_at;
    return 0;
}

static int keep_file(struct real_disk *d, uint8_t *buf)
{
    uint8_t **grown = realloc(d->rec_files, (d->rec_file_count + 1) * sizeof *grown);
    if (grown == NULL) {
        free(buf);
        return -1;
    }
    d->rec_files = grown;
    d->rec_files[d->rec_file_count++] = buf;
    return 0;
}

/* Read, check and collect segment idx. *dropped when it was removed. */
static int recover_segment(struct real_disk *d,
                           size_t idx,
                           struct log_walk *w,
                           bool *dropped,
                           char *err,
                           size_t err_len)
{
    struct seg_read s = {.start = d->segs[idx], .newest = idx + 1 == d->seg_count};
    name_of(s.name, "log", s.start);
    *dropped = false;
    uint8_t *buf;
    if (read_all_at(d->log_fd, s.name, &buf, &s.size) != 0) {
        fmt(err, err_len, "cannot read log file %s/%s: %s", d->log_path, s.name, strerror(errno));
        return -1;
    }
    if (keep_file(d, buf) != 0) {
        fmt(err, err_len, "out of memory reading the log");
        return -1;
    }
    s.buf = buf;
    const char *why = log_header_damage(s.buf, s.size, s.start);
    if (why != NULL) {
        if (!s.newest || (s.size >= LOG_HDR && !all_zero(s.buf, s.size))) {
            fmt(err, err_len, "log file %s/%s: damaged file header (%s); refusing to start",
                d->log_path, s.name, why);
            return -1;
        }
        disk_warn(d,
                  "log file %s/%s holds no complete header (%zu bytes), left by a crash while "
                  "it was created: removing it",
                  d->log_path, s.name, s.size);
        *dropped = true;
        return drop_newest_segment(d, &s, err, err_len);
    }
    size_t bad_at;
    if (walk_records(d, &s, w, &bad_at, &why, err, err_len) != 0) {
        return -1;
    }
    if (bad_at < s.size && cut_tail(d, &s, bad_at, why, err, err_len) != 0) {
        return -1;
    }
    if (s.newest && s.records == 0) {
        disk_warn(d, "log file %s/%s holds no complete record: removing it", d->log_path, s.name);
        *dropped = true;
        return drop_newest_segment(d, &s, err, err_len);
    }
    if (s.newest) {
        d->cur_start = s.start;
        d->cur_size = s.size;
        d->cur_records = s.records;
    }
    return 0;
}

/* The log must pick up right after the snapshot: within one epoch zxids
 * are consecutive, so a gap there means log files are missing. */
static int check_continuity(struct real_disk *d,
                            const struct log_walk *w,
                            char *err,
                            size_t err_len)
{
    if (!w->have_snap || !w->have_first) {
        return 0;
    }
    uint64_t snap = (uint64_t)w->snap;
    uint64_t first = (uint64_t)w->first;
    if (first >> 32 == snap >> 32 && first != snap + 1) {
        fmt(err, err_len,
            "the log in %s resumes at zxid 0x%llx but the snapshot ends at 0x%llx: "
            "log segments are missing; refusing to start",
            d->log_path, (unsigned long long)first, (unsigned long long)snap);
        return -1;
    }
    return 0;
}

static int recover_log(struct real_disk *d,
                       bool have_snap,
                       coord_zxid snap,
                       char *err,
                       size_t err_len)
{
    if (list_files(d->log_path, "log", &d->segs, &d->seg_count) != 0) {
        fmt(err, err_len, "cannot list %s: %s", d->log_path, strerror(errno));
        return -1;
    }
    d->seg_cap = d->seg_count;
    /* Segments whose successor starts at or below the snapshot only hold
     * records it already covers: skip them (and never judge them). */
    size_t first = 0;
    for (size_t i = 0; have_snap && i < d->seg_count; i++) {
        if (d->segs[i] <= snap) {
            first = i;
        }
    }
    struct log_walk w = {.have_snap = have_snap, .snap = snap};
    bool dropped = false;
    for (size_t i = first; i < d->seg_count; i++) {
        if (recover_segment(d, i, &w, &dropped, err, err_len) != 0) {
            return -1;
        }
    }
    if (check_continuity(d, &w, err, err_len) != 0) {
        return -1;
    }
    d->have_last = w.have_prev;
    d->last_zxid = w.prev;
    if (d->seg_count == 0 || dropped) {
        return 0; /* The next append starts a new segment. */
    }
    char name[NAME_LEN];
    name_of(name, "log", d->cur_start);
    d->cur_fd = openat(d->log_fd, name, O_WRONLY | O_CLOEXEC);
    if (d->cur_fd < 0 || lseek(d->cur_fd, (off_t)d->cur_size, SEEK_SET) < 0) {
        fmt(err, err_len, "cannot open %s/%s for appending: %s", d->log_path, name,
            strerror(errno));
        return -1;
    }
    return 0;
}

static bool disk_reader_next(void *ctx, const void **rec, size_t *len)
{
    struct real_disk *d = ctx;
    if (d->rec_pos >= d->rec_count) {
        return false;
    }
    *rec = d->recs[d->rec_pos].data;
    *len = d->recs[d->rec_pos].len;
    d->rec_pos++;
    return true;
}

static void remove_stale_tmp(struct real_disk *d)
{
    DIR *dp = opendir(d->data_path);
    if (dp == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "snapshot.", 9) == 0 && n > 4 &&
            strcmp(e->d_name + n - 4, ".tmp") == 0) {
            if (unlinkat(d->data_fd, e->d_name, 0) == 0) {
                disk_warn(d, "removed %s/%s, a snapshot left unfinished by a crash", d->data_path,
                          e->d_name);
            }
        }
    }
    closedir(dp);
}

static void *sync_main(void *arg);
static void *snap_main(void *arg);

static int start_threads(struct real_disk *d, char *err, size_t err_len)
{
    int rc = pthread_create(&d->sync_thread, NULL, sync_main, d);
    if (rc != 0) {
        fmt(err, err_len, "cannot start the log sync thread: %s", strerror(rc));
        return -1;
    }
    rc = pthread_create(&d->snap_thread, NULL, snap_main, d);
    if (rc != 0) {
        pthread_mutex_lock(&d->mu);
        d->stopping = true;
        pthread_cond_broadcast(&d->sync_cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->sync_thread, NULL);
        d->stopping = false;
        fmt(err, err_len, "cannot start the snapshot thread: %s", strerror(rc));
        return -1;
    }
    d->threads_started = true;
    return 0;
}

int real_disk_recover(struct real_disk *d, struct coord_storage *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (!d->opened || d->recovered || d->threads_started) {
        fmt(err, err_len, "storage recovery must run once, after opening");
        return -1;
    }
    remove_stale_tmp(d);
    bool have_snap;
    coord_zxid snap = 0;
    if (recover_snapshot(d, &have_snap, &snap, out, err, err_len) != 0 ||
        recover_meta(d, out, err, err_len) != 0 ||
        recover_log(d, have_snap, snap, err, err_len) != 0 || start_threads(d, err, err_len) != 0) {
        real_disk_release_recovery(d);
        memset(out, 0, sizeof *out);
        if (d->cur_fd >= 0) {
            close(d->cur_fd);
            d->cur_fd = -1;
        }
        return -1;
    }
    d->reader.ctx = d;
    d->reader.next = disk_reader_next;
    out->log = &d->reader;
    d->recovered = true;
    return 0;
}

void real_disk_release_recovery(struct real_disk *d)
{
    free(d->rec_snapshot);
    free(d->rec_meta);
    for (size_t i = 0; i < d->rec_file_count; i++) {
        free(d->rec_files[i]);
    }
    free(d->rec_files);
    free(d->recs);
    d->rec_snapshot = NULL;
    d->rec_meta = NULL;
    d->rec_files = NULL;
    d->rec_file_count = 0;
    d->recs = NULL;
    d->rec_count = d->rec_cap = d->rec_pos = 0;
}

/* ---- appends -------------------------------------------------------------------- */

static bool disk_usable(struct real_disk *d, const char *what)
{
    if (!d->recovered) {
        disk_fail(d, "%s before storage recovery", what);
        return false;
    }
    pthread_mutex_lock(&d->mu);
    bool failed = d->failed;
    pthread_mutex_unlock(&d->mu);
    return !failed;
}

/* Hand fd to the sync thread, which syncs and closes it. With mu held. */
static bool retire_fd_locked(struct real_disk *d, int fd)
{
    if (d->retired_count == d->retired_cap) {
        size_t ncap = d->retired_cap == 0 ? 4 : d->retired_cap * 2;
        int *grown = realloc(d->retired, ncap * sizeof *grown);
        if (grown == NULL) {
            return false;
        }
        d->retired = grown;
        d->retired_cap = ncap;
    }
    d->retired[d->retired_count++] = fd;
    pthread_cond_signal(&d->sync_cv);
    return true;
}

static int retire_current(struct real_disk *d)
{
    if (d->cur_fd < 0) {
        return 0;
    }
    pthread_mutex_lock(&d->mu);
    bool ok = retire_fd_locked(d, d->cur_fd);
    if (ok) {
        d->cur_fd = -1;
        d->cur_dirty = false;
    }
    pthread_mutex_unlock(&d->mu);
    if (!ok) {
        disk_fail(d, "out of memory retiring a log segment");
        return -1;
    }
    return 0;
}

/* Segment full: make it durable now, so that damage in any segment but the
 * newest can never be a torn write, then start a new one at the next append. */
static int segment_roll(struct real_disk *d)
{
    if (disk_sync(d, d->cur_fd, true) != 0) {
        char name[NAME_LEN];
        name_of(name, "log", d->cur_start);
        disk_fail(d,
                  "cannot sync log file %s/%s: %s; stopping so that no unsynced write is "
                  "acknowledged",
                  d->log_path, name, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&d->mu);
    d->stats.log_syncs++;
    d->stats.segments_rolled++;
    pthread_mutex_unlock(&d->mu);
    return retire_current(d);
}

static int segment_create(struct real_disk *d, coord_zxid zxid)
{
    char name[NAME_LEN];
    name_of(name, "log", zxid);
    int fd = openat(d->log_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        disk_fail(d, "cannot create log file %s/%s: %s", d->log_path, name, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&d->mu);
    bool ok = true;
    if (d->seg_count == d->seg_cap) {
        size_t ncap = d->seg_cap == 0 ? 16 : d->seg_cap * 2;
        coord_zxid *grown = realloc(d->segs, ncap * sizeof *grown);
        ok = grown != NULL;
        if (ok) {
            d->segs = grown;
            d->seg_cap = ncap;
        }
    }
    if (ok) {
        d->segs[d->seg_count++] = zxid;
        d->cur_fd = fd;
        d->log_dir_dirty = true;
    }
    pthread_mutex_unlock(&d->mu);
    if (!ok) {
        close(fd);
        unlinkat(d->log_fd, name, 0);
        disk_fail(d, "out of memory creating a log segment");
        return -1;
    }
    d->cur_start = zxid;
    d->cur_size = 0;
    d->cur_records = 0;
    return 0;
}

static void log_header(uint8_t *h, coord_zxid start)
{
    memset(h, 0, LOG_HDR);
    memcpy(h, LOG_MAGIC, MAGIC_LEN);
    coord_store_be32(h + 8, FORMAT_VERSION);
    coord_store_be64(h + 16, (uint64_t)start);
    coord_store_be32(h + 24, real_disk_crc32c(0, h, 24));
}

int real_disk_append(struct real_disk *d, const void *rec, size_t len, uint64_t token)
{
    if (!disk_usable(d, "log append")) {
        return -1;
    }
    coord_zxid zxid;
    int rc = len == 0 || len > UINT32_MAX ? COORD_ECORRUPT : record_zxid(rec, len, &zxid);
    if (rc != COORD_OK) {
        disk_fail(d, "log append: the record is not a transaction (%s)", coord_strerror(rc));
        return -1;
    }
    if (d->have_last && zxid <= d->last_zxid) {
        disk_fail(d, "log append: zxid 0x%llx is not above the last logged zxid 0x%llx",
                  (unsigned long long)zxid, (unsigned long long)d->last_zxid);
        return -1;
    }
    if (d->cur_fd >= 0 && d->cur_records > 0 && d->cur_size + REC_HDR + len > d->segment_bytes &&
        segment_roll(d) != 0) {
        return -1;
    }
    uint8_t seg_hdr[LOG_HDR];
    uint8_t rec_hdr[REC_HDR];
    struct iovec iov[3];
    int n = 0;
    if (d->cur_fd < 0) {
        if (segment_create(d, zxid) != 0) {
            return -1;
        }
        log_header(seg_hdr, zxid);
        iov[n++] = (struct iovec){seg_hdr, LOG_HDR};
    }
    coord_store_be32(rec_hdr, (uint32_t)len);
    coord_store_be32(rec_hdr + 4, real_disk_crc32c(0, rec, len));
    iov[n++] = (struct iovec){rec_hdr, REC_HDR};
    iov[n++] = (struct iovec){(void *)rec, len};
    uint64_t bytes = (n == 3 ? LOG_HDR : 0) + REC_HDR + len;
    if (disk_writev_all(d, d->cur_fd, iov, n) != 0) {
        char name[NAME_LEN];
        name_of(name, "log", d->cur_start);
        disk_fail(d,
                  "cannot append to log file %s/%s: %s; stopping so that no unsynced write is "
                  "acknowledged",
                  d->log_path, name, strerror(errno));
        return -1;
    }
    d->cur_size += bytes;
    d->cur_records++;
    d->have_last = true;
    d->last_zxid = zxid;
    pthread_mutex_lock(&d->mu);
    d->issued_seq++;
    d->issued_token = token;
    d->cur_dirty = true;
    d->stats.appends++;
    d->stats.append_bytes += len;
    pthread_cond_signal(&d->sync_cv);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

int real_disk_meta(struct real_disk *d, const void *buf, size_t len, uint64_t token)
{
    if (!disk_usable(d, "metadata write")) {
        return -1;
    }
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL || len > UINT32_MAX - META_HDR - TRAILER) {
        free(copy);
        disk_fail(d, "cannot write the metadata record: %zu bytes, out of memory or too large",
                  len);
        return -1;
    }
    memcpy(copy, buf, len);
    pthread_mutex_lock(&d->mu);
    free(d->meta_buf);
    d->meta_buf = copy;
    d->meta_len = len;
    d->meta_pending = true;
    d->issued_seq++;
    d->issued_token = token;
    pthread_cond_signal(&d->sync_cv);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

/* ---- the sync thread ------------------------------------------------------------- */

/* What one group commit covers, taken under mu. */
struct sync_batch
{
    uint64_t seq;
    uint64_t token;
    int cur_fd;
    int *retired;
    size_t retired_count;
    bool dir_dirty;
    uint8_t *meta;
    size_t meta_len;
    bool meta_pending;
};

static bool sync_has_work(const struct real_disk *d)
{
    return !d->failed && (d->issued_seq > d->synced_seq || d->retired_count > 0);
}

static void sync_take(struct real_disk *d, struct sync_batch *b)
{
    b->seq = d->issued_seq;
    b->token = d->issued_token;
    b->cur_fd = d->cur_dirty ? d->cur_fd : -1;
    d->cur_dirty = false;
    b->retired = d->retired;
    b->retired_count = d->retired_count;
    d->retired = NULL;
    d->retired_count = d->retired_cap = 0;
    b->dir_dirty = d->log_dir_dirty;
    d->log_dir_dirty = false;
    b->meta = d->meta_buf;
    b->meta_len = d->meta_len;
    b->meta_pending = d->meta_pending;
    d->meta_buf = NULL;
    d->meta_len = 0;
    d->meta_pending = false;
}

/* Replace the older metadata copy: write, fdatasync, and fsync the folder
 * the first time the file appears. */
static int meta_write(struct real_disk *d, const uint8_t *buf, size_t len)
{
    unsigned slot = d->meta_slot_next;
    uint64_t seq = d->meta_seq + 1;
    uint8_t hdr[META_HDR];
    uint8_t trailer[TRAILER];
    memcpy(hdr, META_MAGIC, MAGIC_LEN);
    coord_store_be32(hdr + 8, FORMAT_VERSION);
    coord_store_be32(hdr + 12, (uint32_t)len);
    coord_store_be64(hdr + 16, seq);
    coord_store_be32(trailer, real_disk_crc32c(real_disk_crc32c(0, hdr, META_HDR), buf, len));
    struct iovec iov[3] = {{hdr, META_HDR}, {(void *)buf, len}, {trailer, TRAILER}};
    char name[NAME_LEN];
    snprintf(name, sizeof name, "meta.%u", slot);
    int fd = openat(d->data_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && disk_writev_all(d, fd, iov, 3) == 0 && disk_sync(d, fd, true) == 0;
    int e = errno;
    if (fd >= 0) {
        close(fd);
    }
    if (ok && !d->meta_present[slot]) {
        ok = disk_sync(d, d->data_fd, false) == 0;
        e = errno;
    }
    if (!ok) {
        disk_fail(d, "cannot write the metadata record %s/%s: %s; stopping", d->data_path, name,
                  strerror(e));
        return -1;
    }
    d->meta_present[slot] = true;
    d->meta_seq = seq;
    d->meta_slot_next = slot ^ 1u;
    return 0;
}

/* Make the batch durable. Returns the number of log fdatasyncs, or -1. */
static int sync_run(struct real_disk *d, struct sync_batch *b)
{
    int syncs = 0;
    bool ok = true;
    for (size_t i = 0; i < b->retired_count; i++) {
        if (ok && disk_sync(d, b->retired[i], true) != 0) {
            disk_fail(d,
                      "cannot sync a log segment in %s: %s; stopping so that no unsynced "
                      "write is acknowledged",
                      d->log_path, strerror(errno));
            ok = false;
        }
        syncs += ok;
        close(b->retired[i]);
    }
    free(b->retired);
    if (ok && b->cur_fd >= 0) {
        if (disk_sync(d, b->cur_fd, true) != 0) {
            disk_fail(d,
                      "cannot sync the log in %s: %s; stopping so that no unsynced write is "
                      "acknowledged",
                      d->log_path, strerror(errno));
            ok = false;
        }
        syncs += ok;
    }
    if (ok && b->dir_dirty && disk_sync(d, d->log_fd, false) != 0) {
        disk_fail(d, "cannot sync the folder %s: %s; stopping", d->log_path, strerror(errno));
        ok = false;
    }
    if (ok && b->meta_pending && meta_write(d, b->meta, b->meta_len) != 0) {
        ok = false;
    }
    free(b->meta);
    return ok ? syncs : -1;
}

static void *sync_main(void *arg)
{
    struct real_disk *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!sync_has_work(d) && !d->stopping) {
            pthread_cond_wait(&d->sync_cv, &d->mu);
        }
        if (!sync_has_work(d)) {
            break;
        }
        struct sync_batch b;
        sync_take(d, &b);
        pthread_mutex_unlock(&d->mu);
        int syncs = sync_run(d, &b);
        pthread_mutex_lock(&d->mu);
        if (syncs >= 0 && !d->failed) {
            d->stats.log_syncs += (uint64_t)syncs;
            d->stats.meta_writes += b.meta_pending;
            if (b.seq > d->synced_seq) {
                d->synced_seq = b.seq;
                d->synced_token = b.token;
                d->stats.commits++;
                disk_notify(d);
            }
        }
        pthread_cond_broadcast(&d->idle_cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

bool real_disk_take_synced(struct real_disk *d, uint64_t *token)
{
    uint64_t count;
    if (read(d->notify_fd, &count, sizeof count) < 0) {
        /* EAGAIN: nothing signalled since the last call. */
    }
    pthread_mutex_lock(&d->mu);
    bool fresh = !d->failed && d->synced_seq > d->taken_seq;
    if (fresh) {
        *token = d->synced_token;
        d->taken_seq = d->synced_seq;
    }
    pthread_mutex_unlock(&d->mu);
    return fresh;
}

/* ---- snapshots --------------------------------------------------------------------- */

static int snapshot_now(struct real_disk *d, const void *buf, size_t len, coord_zxid zxid);

int real_disk_snapshot(struct real_disk *d, const void *buf, size_t len, coord_zxid zxid)
{
    if (!disk_usable(d, "snapshot")) {
        return -1;
    }
    if (!d->have_last || d->last_zxid < zxid) {
        /* The log does not reach this state (a leader's snapshot after
         * log_truncate(0)): the snapshot is its only copy, so it is written
         * now, before any later append or sync can be reported. */
        return snapshot_now(d, buf, len, zxid);
    }
    /* The log holds everything up to zxid, so recovery rebuilds this state
     * from an older snapshot and the log until this one is written: it can
     * go to the background without holding up any later SYNCED. */
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        disk_warn(d, "snapshot at zxid 0x%llx skipped: out of memory for %zu bytes",
                  (unsigned long long)zxid, len);
        return 0; /* The log still holds everything. */
    }
    memcpy(copy, buf, len);
    pthread_mutex_lock(&d->mu);
    free(d->snap_buf);
    d->snap_buf = copy;
    d->snap_len = len;
    d->snap_zxid = zxid;
    d->snap_pending = true;
    pthread_cond_signal(&d->snap_cv);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

static int snap_write(struct real_disk *d, const uint8_t *buf, size_t len, coord_zxid zxid)
{
    char name[NAME_LEN];
    char tmp[NAME_LEN + 8];
    name_of(name, "snapshot", zxid);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    uint8_t hdr[SNAP_HDR] = {0};
    uint8_t trailer[TRAILER];
    memcpy(hdr, SNAP_MAGIC, MAGIC_LEN);
    coord_store_be32(hdr + 8, FORMAT_VERSION);
    coord_store_be64(hdr + 16, (uint64_t)zxid);
    coord_store_be64(hdr + 24, (uint64_t)len);
    coord_store_be32(trailer, real_disk_crc32c(real_disk_crc32c(0, hdr, SNAP_HDR), buf, len));
    struct iovec iov[3] = {{hdr, SNAP_HDR}, {(void *)buf, len}, {trailer, TRAILER}};
    const char *step = "create";
    int fd = openat(d->data_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    if (ok) {
        step = "write";
        ok = disk_writev_all(d, fd, iov, 3) == 0;
    }
    if (ok) {
        step = "fsync";
        ok = disk_sync(d, fd, false) == 0;
    }
    int e = errno;
    if (fd >= 0) {
        close(fd);
    }
    if (ok) {
        step = "rename";
        ok = renameat(d->data_fd, tmp, d->data_fd, name) == 0;
        e = errno;
    }
    if (ok) {
        step = "fsync the folder";
        ok = disk_sync(d, d->data_fd, false) == 0;
        e = errno;
    }
    if (!ok) {
        unlinkat(d->data_fd, tmp, 0);
        disk_warn(d, "snapshot %s/%s not written (%s: %s); the log still holds every transaction",
                  d->data_path, name, step, strerror(e));
        return -1;
    }
    return 0;
}

/* Keep the newest snapshots_kept snapshots; delete the segments whose
 * successor starts at or below the oldest kept one (ZooKeeper's purge rule:
 * they only hold records that snapshot covers). */
static void snap_purge(struct real_disk *d)
{
    coord_zxid *z;
    size_t n;
    if (list_files(d->data_path, "snapshot", &z, &n) != 0) {
        disk_warn(d, "cannot list %s to purge old snapshots: %s", d->data_path, strerror(errno));
        return;
    }
    size_t drop = n > d->snapshots_kept ? n - d->snapshots_kept : 0;
    size_t snaps_purged = 0;
    for (size_t i = 0; i < drop; i++) {
        char name[NAME_LEN];
        name_of(name, "snapshot", z[i]);
        if (unlinkat(d->data_fd, name, 0) == 0) {
            snaps_purged++;
        }
    }
    coord_zxid oldest = n > 0 ? z[drop] : 0;
    free(z);
    if (n == 0) {
        return;
    }
    pthread_mutex_lock(&d->mu);
    size_t gone_count = 0;
    for (size_t i = 0; i < d->seg_count; i++) {
        if (d->segs[i] <= oldest) {
            gone_count = i;
        }
    }
    coord_zxid *gone = gone_count > 0 ? malloc(gone_count * sizeof *gone) : NULL;
    if (gone == NULL) {
        gone_count = 0; /* Out of memory: purge next time. */
    }
    if (gone_count > 0) {
        memcpy(gone, d->segs, gone_count * sizeof *gone);
        memmove(d->segs, d->segs + gone_count, (d->seg_count - gone_count) * sizeof *d->segs);
        d->seg_count -= gone_count;
    }
    d->stats.snapshots_purged += snaps_purged;
    pthread_mutex_unlock(&d->mu);
    size_t segs_purged = 0;
    for (size_t i = 0; i < gone_count; i++) {
        char name[NAME_LEN];
        name_of(name, "log", gone[i]);
        if (unlinkat(d->log_fd, name, 0) == 0) {
            segs_purged++;
        } else if (errno != ENOENT) {
            disk_warn(d, "cannot purge %s/%s: %s", d->log_path, name, strerror(errno));
        }
    }
    free(gone);
    pthread_mutex_lock(&d->mu);
    d->stats.segments_purged += segs_purged;
    pthread_mutex_unlock(&d->mu);
}

/* Delete every snapshot but `keep`; true when one was removed. */
static bool remove_other_snapshots(struct real_disk *d, coord_zxid keep)
{
    coord_zxid *z;
    size_t n;
    if (list_files(d->data_path, "snapshot", &z, &n) != 0) {
        disk_warn(d, "cannot list %s: %s", d->data_path, strerror(errno));
        return false;
    }
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        char name[NAME_LEN];
        name_of(name, "snapshot", z[i]);
        if (z[i] != keep && unlinkat(d->data_fd, name, 0) == 0) {
            removed++;
        }
    }
    free(z);
    pthread_mutex_lock(&d->mu);
    d->stats.snapshots_purged += removed;
    pthread_mutex_unlock(&d->mu);
    return removed > 0;
}

/* Wait until the snapshot thread is idle (what it has queued is written:
 * issue order) and keep it so until snapshot_release. False when the disk
 * failed meanwhile. */
static bool snapshot_hold(struct real_disk *d)
{
    pthread_mutex_lock(&d->mu);
    while (!d->failed && (d->snap_pending || d->snap_busy)) {
        pthread_cond_wait(&d->idle_cv, &d->mu);
    }
    /* Only the caller's thread queues snapshots, so it stays idle now. */
    d->truncating = true;
    bool ok = !d->failed;
    pthread_mutex_unlock(&d->mu);
    return ok;
}

static void snapshot_release(struct real_disk *d)
{
    pthread_mutex_lock(&d->mu);
    d->truncating = false;
    pthread_cond_broadcast(&d->snap_cv);
    pthread_mutex_unlock(&d->mu);
}

/* A snapshot the log does not back: write it on the caller's thread, then
 * drop every other snapshot, since none of them connects to the log that
 * follows this one (recovery must never fall back to them). */
static int snapshot_now(struct real_disk *d, const void *buf, size_t len, coord_zxid zxid)
{
    if (!snapshot_hold(d)) {
        snapshot_release(d);
        return -1;
    }
    int rc = snap_write(d, buf, len, zxid);
    if (rc != 0) {
        disk_fail(d,
                  "the snapshot at zxid 0x%llx could not be written, and the log does not hold "
                  "its state; stopping",
                  (unsigned long long)zxid);
    } else {
        pthread_mutex_lock(&d->mu);
        d->stats.snapshots++;
        if (d->snap_lost && d->snap_lost_zxid <= zxid) {
            d->snap_lost = false;
        }
        pthread_mutex_unlock(&d->mu);
        if (remove_other_snapshots(d, zxid) && disk_sync(d, d->data_fd, false) != 0) {
            disk_warn(d, "cannot sync %s after removing old snapshots: %s", d->data_path,
                      strerror(errno));
        }
        snap_purge(d);
    }
    snapshot_release(d);
    return rc;
}

static void *snap_main(void *arg)
{
    struct real_disk *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->stopping && (!d->snap_pending || d->truncating)) {
            pthread_cond_wait(&d->snap_cv, &d->mu);
        }
        if (!d->snap_pending || d->truncating) {
            break;
        }
        uint8_t *buf = d->snap_buf;
        size_t len = d->snap_len;
        coord_zxid zxid = d->snap_zxid;
        d->snap_buf = NULL;
        d->snap_pending = false;
        d->snap_busy = true;
        pthread_mutex_unlock(&d->mu);
        if (snap_write(d, buf, len, zxid) == 0) {
            pthread_mutex_lock(&d->mu);
            d->stats.snapshots++;
            if (d->snap_lost && d->snap_lost_zxid <= zxid) {
                d->snap_lost = false;
            }
            pthread_mutex_unlock(&d->mu);
            snap_purge(d);
        } else {
            /* The log still holds this state, but a later truncation below
             * it must not pretend the snapshot exists (real_disk_truncate). */
            pthread_mutex_lock(&d->mu);
            if (!d->snap_lost || d->snap_lost_zxid < zxid) {
                d->snap_lost_zxid = zxid;
            }
            d->snap_lost = true;
            pthread_mutex_unlock(&d->mu);
        }
        free(buf);
        pthread_mutex_lock(&d->mu);
        d->snap_busy = false;
        pthread_cond_broadcast(&d->idle_cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- truncation ---------------------------------------------------------------------- */

/* The newest snapshot is the state the core last saved, and stays so after
 * the cut (env.h: log_truncate(0) empties the log, not the snapshot). When
 * it lies above last_kept, no older snapshot connects to the log after the
 * cut any more, so those are deleted: recovery must never fall back to one. */
static int truncate_snapshots(struct real_disk *d, coord_zxid last_kept)
{
    coord_zxid *z;
    size_t n;
    if (list_files(d->data_path, "snapshot", &z, &n) != 0) {
        disk_fail(d, "log truncation: cannot list %s: %s", d->data_path, strerror(errno));
        return -1;
    }
    bool removed = false;
    for (size_t i = 0; n > 0 && z[n - 1] > last_kept && i + 1 < n; i++) {
        char name[NAME_LEN];
        name_of(name, "snapshot", z[i]);
        if (unlinkat(d->data_fd, name, 0) != 0 && errno != ENOENT) {
            disk_fail(d, "log truncation: cannot remove %s/%s: %s", d->data_path, name,
                      strerror(errno));
            free(z);
            return -1;
        }
        removed = true;
    }
    free(z);
    if (removed && disk_sync(d, d->data_fd, false) != 0) {
        disk_fail(d, "log truncation: cannot sync %s: %s", d->data_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Delete the segments that start above last_kept, newest first. */
static int truncate_segments(struct real_disk *d, coord_zxid last_kept)
{
    bool removed = false;
    while (d->seg_count > 0 && d->segs[d->seg_count - 1] > last_kept) {
        char name[NAME_LEN];
        name_of(name, "log", d->segs[d->seg_count - 1]);
        if (d->segs[d->seg_count - 1] == d->cur_start && retire_current(d) != 0) {
            return -1;
        }
        if (unlinkat(d->log_fd, name, 0) != 0 && errno != ENOENT) {
            disk_fail(d, "log truncation: cannot remove %s/%s: %s", d->log_path, name,
                      strerror(errno));
            return -1;
        }
        pthread_mutex_lock(&d->mu);
        d->seg_count--;
        pthread_mutex_unlock(&d->mu);
        removed = true;
    }
    if (removed && disk_sync(d, d->log_fd, false) != 0) {
        disk_fail(d, "log truncation: cannot sync %s: %s", d->log_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Cut the newest remaining segment after its last record <= last_kept and
 * make it the current one. */
static int truncate_newest(struct real_disk *d, coord_zxid last_kept)
{
    char name[NAME_LEN];
    coord_zxid start = d->segs[d->seg_count - 1];
    name_of(name, "log", start);
    uint8_t *buf;
    size_t size;
    if (read_all_at(d->log_fd, name, &buf, &size) != 0) {
        disk_fail(d, "log truncation: cannot read %s/%s: %s", d->log_path, name, strerror(errno));
        return -1;
    }
    size_t pos = LOG_HDR;
    uint64_t records = 0;
    coord_zxid last = 0;
    const char *why = log_header_damage(buf, size, start);
    while (why == NULL && pos < size) {
        why = record_damage(buf, size, pos);
        uint32_t len = why == NULL ? coord_load_be32(buf + pos) : 0;
        coord_zxid z = 0;
        if (why == NULL && record_zxid(buf + pos + REC_HDR, len, &z) != COORD_OK) {
            why = "not a transaction";
        }
        if (why != NULL || z > last_kept) {
            break;
        }
        last = z;
        records++;
        pos += REC_HDR + len;
    }
    free(buf);
    if (why != NULL) {
        disk_fail(d, "log truncation: %s/%s is damaged at offset %zu (%s)", d->log_path, name, pos,
                  why);
        return -1;
    }
    int fd = openat(d->log_fd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || (pos < size && ftruncate(fd, (off_t)pos) != 0) || disk_sync(d, fd, true) != 0 ||
        lseek(fd, (off_t)pos, SEEK_SET) < 0) {
        disk_fail(d, "log truncation: cannot cut %s/%s: %s", d->log_path, name, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    if (retire_current(d) != 0) {
        close(fd);
        return -1;
    }
    pthread_mutex_lock(&d->mu);
    d->cur_fd = fd;
    pthread_mutex_unlock(&d->mu);
    d->cur_start = start;
    d->cur_size = pos;
    d->cur_records = records;
    d->have_last = records > 0;
    d->last_zxid = last;
    return 0;
}

static int truncate_run(struct real_disk *d, coord_zxid last_kept)
{
    if (truncate_snapshots(d, last_kept) != 0) {
        return -1;
    }
    if (d->have_last && d->last_zxid <= last_kept) {
        return 0; /* Nothing logged above it. */
    }
    if (truncate_segments(d, last_kept) != 0) {
        return -1;
    }
    if (d->seg_count == 0) {
        d->have_last = false;
        return 0;
    }
    return truncate_newest(d, last_kept);
}

int real_disk_truncate(struct real_disk *d, coord_zxid last_kept)
{
    if (!disk_usable(d, "log truncation")) {
        return -1;
    }
    /* Issue order: everything issued before the cut (appends, the metadata
     * record, snapshots) is durable before it, so no crash can show the cut
     * without them; and the snapshot thread stays off while files go. */
    pthread_mutex_lock(&d->mu);
    uint64_t target = d->issued_seq;
    while (!d->failed && d->synced_seq < target) {
        pthread_cond_wait(&d->idle_cv, &d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    int rc = snapshot_hold(d) ? 0 : -1;
    pthread_mutex_lock(&d->mu);
    bool lost = d->snap_lost && d->snap_lost_zxid > last_kept;
    coord_zxid lost_zxid = d->snap_lost_zxid;
    pthread_mutex_unlock(&d->mu);
    if (rc == 0 && lost) {
        disk_fail(d,
                  "cannot truncate the log to zxid 0x%llx: the snapshot at 0x%llx was not "
                  "written, and the records it would replace are the ones being dropped",
                  (unsigned long long)last_kept, (unsigned long long)lost_zxid);
        rc = -1;
    }
    if (rc == 0) {
        rc = truncate_run(d, last_kept);
    }
    snapshot_release(d);
    return rc;
}

/* ---- accessors and close ---------------------------------------------------------- */

int real_disk_notify_fd(const struct real_disk *d)
{
    return d->notify_fd;
}

bool real_disk_failed(struct real_disk *d)
{
    pthread_mutex_lock(&d->mu);
    bool failed = d->failed;
    pthread_mutex_unlock(&d->mu);
    return failed;
}

const char *real_disk_error(struct real_disk *d)
{
    return real_disk_failed(d) ? d->errmsg : "";
}

int real_disk_flush(struct real_disk *d)
{
    pthread_mutex_lock(&d->mu);
    uint64_t target = d->issued_seq;
    while (d->threads_started && !d->failed &&
           (d->synced_seq < target || d->retired_count > 0 || d->snap_pending || d->snap_busy)) {
        pthread_cond_wait(&d->idle_cv, &d->mu);
    }
    int rc = d->failed ? -1 : 0;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

size_t real_disk_warning_count(struct real_disk *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->warning_count;
    pthread_mutex_unlock(&d->mu);
    return n;
}

const char *real_disk_warning(struct real_disk *d, size_t i)
{
    return i < real_disk_warning_count(d) ? d->warnings[i] : NULL;
}

void real_disk_get_stats(struct real_disk *d, struct real_disk_stats *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->stats;
    pthread_mutex_unlock(&d->mu);
}

void real_disk_close(struct real_disk *d)
{
    if (!d->opened) {
        return;
    }
    if (d->threads_started) {
        pthread_mutex_lock(&d->mu);
        d->stopping = true;
        pthread_cond_broadcast(&d->sync_cv);
        pthread_cond_broadcast(&d->snap_cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->sync_thread, NULL);
        pthread_join(d->snap_thread, NULL);
        d->threads_started = false;
    }
    for (size_t i = 0; i < d->retired_count; i++) {
        close(d->retired[i]); /* Left by a failure: the disk is not trusted anyway. */
    }
    if (d->cur_fd >= 0) {
        close(d->cur_fd);
        d->cur_fd = -1;
    }
    free(d->retired);
    free(d->segs);
    free(d->meta_buf);
    free(d->snap_buf);
    real_disk_release_recovery(d);
    disk_close_fds(d);
    pthread_cond_destroy(&d->idle_cv);
    pthread_cond_destroy(&d->snap_cv);
    pthread_cond_destroy(&d->sync_cv);
    pthread_mutex_destroy(&d->mu);
    d->opened = false;
    d->recovered = false;
}
