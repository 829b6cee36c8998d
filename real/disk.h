/* Durable storage for coordd: the transaction log, snapshots and the one small
 * metadata record of env.h, on local files.
 *
 * Layout. Everything lives in a `coord-v1/` folder inside the data directory
 * (snapshots, metadata, lock) and inside the log directory (log segments); the
 * two are the same folder unless dataLogDir is set. The name is not
 * ZooKeeper's `version-2/` on purpose: the formats are coord's own, and tools
 * that read ZooKeeper's files must not mistake them for theirs.
 *   log.<zxid, 16 hex>       a segment, named after its first record's zxid:
 *                            a 32-byte header, then records
 *                            [u32 length][u32 crc32c of payload][payload],
 *                            each payload one encoded transaction
 *                            (coord_txn_encode), zxids strictly increasing.
 *   snapshot.<zxid, 16 hex>  a 32-byte header (magic, version, zxid, length),
 *                            the payload, a crc32c of both.
 *   meta.0, meta.1           the metadata record, written alternately with a
 *                            sequence number and a crc32c: a torn write of
 *                            one copy never loses the other.
 *   lock                     flock()ed while a server uses the folder.
 * Integers are big-endian, like the rest of coord's encodings.
 *
 * Threads. Appends are written with writev() from the caller's thread (the
 * event loop): the bytes reach the page cache at once, in order, and a write
 * error is seen at the call. A sync thread does the group commit: it takes
 * the newest token issued so far, fdatasync()s the segments written since the
 * last round (and the folder when a segment was created, and writes the
 * metadata record if one is pending), then publishes that token and signals
 * an eventfd. A snapshot thread writes snapshots and purges old files, so a
 * large snapshot never delays commits. A segment roll fdatasync()s the old
 * segment on the caller's thread (once per segment size), so a damaged record
 * in any segment but the newest is always real corruption, never a crash.
 *
 * Order (env.h: truncations and snapshots take effect in issue order with
 * the token-carrying writes). A truncation first waits until everything
 * issued before it is durable (appends, metadata, queued snapshots), then
 * cuts durably on the caller's thread, so later appends follow the kept
 * prefix and any later SYNCED covers it. A snapshot whose state the log
 * holds (the log reaches its zxid) goes to the snapshot thread: until it is
 * written, recovery rebuilds the same state from an older snapshot and the
 * log, so it need not hold up later SYNCEDs. A snapshot the log does not
 * reach (a leader's state after log_truncate(0)) is its only copy: it is
 * written durably before real_disk_snapshot returns, and every other
 * snapshot is then deleted, since none connects to the log that follows.
 *
 * Failure. An I/O error on an append, a sync or a metadata write marks the
 * disk failed (real_disk_failed): nothing is reported synced after it, and
 * the host must stop. A failed snapshot is only a warning: the log still
 * holds everything. */
#ifndef COORD_REAL_DISK_H
#define COORD_REAL_DISK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "coord/env.h"
#include "coord/types.h"

#define REAL_DISK_SUBDIR "coord-v1"
#define REAL_DISK_SEGMENT_BYTES_DEFAULT (64u << 20)
#define REAL_DISK_SNAPSHOTS_KEPT_DEFAULT 3
#define REAL_DISK_PATH_MAX 4096
#define REAL_DISK_MSG_LEN 640
#define REAL_DISK_WARNINGS_MAX 32

struct iovec;

/* Counters, copied out by real_disk_get_stats(). */
struct real_disk_stats
{
    uint64_t appends;
    uint64_t append_bytes;
    uint64_t log_syncs; /* fdatasync() calls on log segments. */
    uint64_t commits;   /* Tokens published as synced (one per group). */
    uint64_t meta_writes;
    uint64_t snapshots; /* Snapshots written. */
    uint64_t segments_rolled;
    uint64_t segments_purged;
    uint64_t snapshots_purged;
};

/* Fault injection for tests; NULL members use the real calls. */
struct real_disk_hooks
{
    int (*sync)(int fd, bool data_only); /* fdatasync() or fsync() */
    ssize_t (*writev)(int fd, const struct iovec *iov, int count);
};

/* One record handed out by recovery: borrowed from the disk. */
struct real_disk_rec
{
    const uint8_t *data;
    size_t len;
};

/* Everything is private: use the functions below. */
struct real_disk
{
    bool opened;
    bool recovered;
    char data_path[REAL_DISK_PATH_MAX]; /* <dataDir>/coord-v1 */
    char log_path[REAL_DISK_PATH_MAX];  /* <dataLogDir or dataDir>/coord-v1 */
    int data_fd;                        /* O_DIRECTORY, for fsync and *at() calls */
    int log_fd;
    int lock_fd[2];
    int notify_fd;
    uint64_t segment_bytes;
    unsigned snapshots_kept;
    struct real_disk_hooks hooks;
    void (*warn_cb)(void *arg, const char *msg);
    void *warn_arg;

    /* The log, as the caller's thread sees it. */
    coord_zxid *segs; /* First zxid of each segment, ascending; guarded by mu. */
    size_t seg_count;
    size_t seg_cap;
    int cur_fd; /* The newest segment, open for appends; -1 = none yet. */
    coord_zxid cur_start;
    uint64_t cur_size;
    uint64_t cur_records;
    bool have_last;
    coord_zxid last_zxid;

    /* Shared with the threads, guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t sync_cv; /* Work for the sync thread. */
    pthread_cond_t snap_cv; /* Work for the snapshot thread. */
    pthread_cond_t idle_cv; /* A round finished (flush, truncate wait on it). */
    pthread_t sync_thread;
    pthread_t snap_thread;
    bool threads_started;
    bool stopping;
    uint64_t issued_seq; /* Writes issued (appends and metadata). */
    uint64_t issued_token;
    uint64_t synced_seq; /* Writes known durable. */
    uint64_t synced_token;
    uint64_t taken_seq; /* Published to the caller by take_synced. */
    bool cur_dirty;     /* cur_fd written since the sync thread last took it. */
    bool log_dir_dirty; /* A segment was created: fsync the folder. */
    int *retired;       /* Segment fds to sync then close (sync thread). */
    size_t retired_count;
    size_t retired_cap;
    uint8_t *meta_buf; /* Pending metadata record. */
    size_t meta_len;
    bool meta_pending;
    uint64_t meta_seq; /* Sync thread only, after recovery. */
    unsigned meta_slot_next;
    bool meta_present[2];
    uint8_t *snap_buf; /* Pending snapshot. */
    size_t snap_len;
    coord_zxid snap_zxid;
    bool snap_pending;
    bool snap_busy;
    bool truncating;           /* The caller's thread holds the snapshot thread off. */
    bool snap_lost;            /* A background snapshot failed, at snap_lost_zxid... */
    coord_zxid snap_lost_zxid; /* ...and no snapshot at or above it was written since. */
    bool failed;
    char errmsg[REAL_DISK_MSG_LEN];
    char warnings[REAL_DISK_WARNINGS_MAX][REAL_DISK_MSG_LEN];
    size_t warning_count;
    uint64_t warnings_dropped;
    struct real_disk_stats stats;

    /* What recovery found; freed by real_disk_release_recovery or close. */
    uint8_t *rec_snapshot;
    uint8_t *rec_meta;
    uint8_t **rec_files;
    size_t rec_file_count;
    struct real_disk_rec *recs;
    size_t rec_count;
    size_t rec_cap;
    size_t rec_pos;
    struct coord_log_reader reader;
};

/* Create the folders if needed (like mkdir -p, then coord-v1/ inside) and lock
 * them, so two servers cannot share a data or log directory. `log_dir` NULL
 * or equal to `data_dir` keeps the log with the data. Starts no thread and
 * reads no file yet. Returns 0, or -1 with a message in err; on failure there
 * is nothing to close. */
int real_disk_open(struct real_disk *d,
                   const char *data_dir,
                   const char *log_dir,
                   char *err,
                   size_t err_len);

/* Settings, between open and recover. 0 keeps a value's default. A segment
 * rolls once it would pass segment_bytes; the newest snapshots_kept
 * snapshots are kept. */
void real_disk_set_limits(struct real_disk *d, uint64_t segment_bytes, unsigned snapshots_kept);
/* Also called for every warning (on the thread that found it); warnings are
 * kept in a list as well (real_disk_warning). Set it before recover. */
void real_disk_set_warn(struct real_disk *d,
                        void (*warn_cb)(void *arg, const char *msg),
                        void *arg);
/* Replace the sync and write calls, for fault injection. Before recover. */
void real_disk_set_hooks(struct real_disk *d, const struct real_disk_hooks *hooks);

/* Read what the disk holds into `out`: the newest snapshot whose checksum
 * verifies (a damaged newer one is reported and skipped), the log records
 * with a zxid above it, in order, and the newest valid metadata record. A
 * torn tail of the newest segment is reported, cut and made durable; damage
 * anywhere else, zxids that do not increase, or a log that does not continue
 * the snapshot are refused with a message naming the file and offset. Then
 * the threads start, and appends may begin. `out` borrows from the disk until
 * real_disk_release_recovery or close. Returns 0, or -1 with a message. */
int real_disk_recover(struct real_disk *d, struct coord_storage *out, char *err, size_t err_len);
/* Free what recovery read, once coord_server_init has consumed it. */
void real_disk_release_recovery(struct real_disk *d);

/* The env.h storage calls, from the caller's thread. Buffers are copied.
 * Each returns 0, or -1 when the disk is failed (or fails now). */
/* Append one encoded transaction; its zxid must be above every earlier one. */
int real_disk_append(struct real_disk *d, const void *rec, size_t len, uint64_t token);
/* Replace the metadata record; durable before `token` is reported synced. */
int real_disk_meta(struct real_disk *d, const void *buf, size_t len, uint64_t token);
/* Write a snapshot of the state at `zxid`, then keep the newest
 * snapshots_kept and delete the log segments that only hold records at or
 * below the oldest kept one. In the background when the log reaches zxid (a
 * newer request replaces one not started; a failure is a warning, the log
 * still holds the state); otherwise now, durably, deleting every other
 * snapshot (a failure fails the disk). */
int real_disk_snapshot(struct real_disk *d, const void *buf, size_t len, coord_zxid zxid);
/* Drop every record with a zxid above last_kept, durably, before returning,
 * after everything issued before it is durable. last_kept 0 empties the
 * log. The newest snapshot stays (it is the state the core saved last); when
 * it lies above last_kept the older ones are deleted, as the log after the
 * cut no longer connects them. Refused (and the disk failed) when a
 * background snapshot above last_kept failed to be written: the state the
 * core expects could no longer be rebuilt. */
int real_disk_truncate(struct real_disk *d, coord_zxid last_kept);

/* Readable when a token was synced or the disk failed: poll it. */
int real_disk_notify_fd(const struct real_disk *d);
/* The newest synced token not reported yet: true once per new one. Drains
 * the notify fd. */
bool real_disk_take_synced(struct real_disk *d, uint64_t *token);
bool real_disk_failed(struct real_disk *d);
/* The first failure's message ("" when not failed); stable once failed. */
const char *real_disk_error(struct real_disk *d);
/* Block until everything issued so far is synced and no snapshot is pending
 * (shutdown, tests). 0, or -1 when the disk failed. */
int real_disk_flush(struct real_disk *d);

size_t real_disk_warning_count(struct real_disk *d);
/* Warning i (0 = oldest), or NULL. The first REAL_DISK_WARNINGS_MAX are kept. */
const char *real_disk_warning(struct real_disk *d, size_t i);
void real_disk_get_stats(struct real_disk *d, struct real_disk_stats *out);

/* Let the sync thread make everything issued durable, wait for a pending
 * snapshot, stop the threads, release the locks and free everything. Safe on
 * an opened disk whether or not recover ran. */
void real_disk_close(struct real_disk *d);

/* CRC-32C (Castagnoli) of data, continuing from crc (0 to start). */
uint32_t real_disk_crc32c(uint32_t crc, const void *data, size_t len);

#endif /* COORD_REAL_DISK_H */
