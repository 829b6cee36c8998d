/* THE abstract interface between the pure protocol core and its host.
 *
 * The core is a state machine driven by events (struct coord_event), each
 * carrying the node's own clock. It acts only through the function pointers of
 * struct coord_env, which the host (sim/, real/, tests/fixture/) supplies.
 *
 * Rules every host keeps:
 *  - Env methods only enqueue work. They never call back into the core before
 *    returning (no re-entrancy): a message sent to self, a connection write, a
 *    log append all take effect later, as new events.
 *  - Buffers passed to env methods are borrowed for the call: copy them.
 *  - Peer connections have TCP's contract: while up, messages arrive once and
 *    in order (possibly late); when one breaks, any suffix of what was sent may
 *    be lost, and the core hears PEER_DOWN, later PEER_UP once reconnected.
 *  - Client connections are ordered byte streams; the core frames them.
 *  - Storage is append-only log + snapshots + one small metadata record. A
 *    write is durable only once a SYNCED event carrying its token arrives.
 *    The core issues tokens as one increasing sequence across log appends and
 *    meta writes, and a SYNCED token N means everything issued up to N is
 *    durable, so fsync can be batched. Tokens count from 1 again in every
 *    incarnation of a server (each coord_server_init).
 *  - log_truncate and snapshot_write take effect in issue order with the
 *    token-carrying writes: records appended after a truncate follow the kept
 *    prefix, and a SYNCED token issued after a truncate or a snapshot_write
 *    also means that truncate or snapshot is durable. log_truncate(0) empties
 *    the log.
 *  - One timer per node: wake_at replaces the previous deadline.
 */
#ifndef COORD_ENV_H
#define COORD_ENV_H

#include "coord/types.h"

enum coord_event_type {
    COORD_EVENT_PEER_MESSAGE = 1, /* A message from another server. */
    COORD_EVENT_PEER_UP,          /* The connection to `peer` is (re)established. */
    COORD_EVENT_PEER_DOWN,        /* The connection to `peer` broke. */
    COORD_EVENT_CONN_OPEN,        /* A client connection opened; data = peer address text. */
    COORD_EVENT_CONN_DATA,        /* Bytes arrived on a client connection. */
    COORD_EVENT_CONN_CLOSED,      /* The client side closed (or the connection broke). */
    COORD_EVENT_SYNCED,           /* Storage writes up to `token` are durable. */
    COORD_EVENT_TIMEOUT,          /* The wake_at deadline passed. */
};

struct coord_event
{
    enum coord_event_type type;
    /* The node's own clock, in ms: every timeout inside the core runs on it,
     * so a host that drifts or jumps this clock really moves them. */
    coord_time_ms now_ms;
    /* Wall-clock ms for ctime/mtime stamps; 0 means "use now_ms". */
    int64_t wall_ms;
    coord_id peer;    /* PEER_* */
    uint64_t conn;    /* CONN_*: a host-chosen nonzero id, never reused while open. */
    const void *data; /* PEER_MESSAGE, CONN_DATA, CONN_OPEN: borrowed for the call. */
    size_t len;
    uint64_t token; /* SYNCED */
};

/* Structured trace events, for checkers, plots and teaching. Fields a..d
 * depend on the type (documented beside each). */
enum coord_trace_type {
    COORD_TRACE_SESSION_CREATED = 1, /* a = session, b = timeout ms */
    COORD_TRACE_SESSION_EXPIRED,     /* a = session */
    COORD_TRACE_SESSION_CLOSED,      /* a = session */
    COORD_TRACE_TXN_APPLIED,         /* a = zxid, b = type, c = session, d = hash of its
                                        encoding (the same bytes on every replica) */
    COORD_TRACE_SNAPSHOT,            /* a = zxid, b = bytes */
    COORD_TRACE_ROLE,                /* a = role (enum coord_role), b = epoch, c = leader,
                                        text = why (e.g. "lost quorum"). LEADING is traced
                                        once established (a quorum acked NEWLEADER),
                                        FOLLOWING/OBSERVING at UPTODATE. */
    COORD_TRACE_ELECTION,            /* a = proposed leader, b = zxid, c = epoch */
    COORD_TRACE_CONN_REJECTED,       /* a = conn, text = reason */
    COORD_TRACE_RECOVERED,           /* a = zxid applied, b = log records replayed (quorum
                                        mode: kept unapplied until a leader says what to
                                        keep), c = the last zxid logged */
    COORD_TRACE_SYNC,                /* Leader: a = learner, b = 0 DIFF / 1 TRUNC / 2 SNAP,
                                        c = the learner's last zxid, d = the zxid it starts
                                        from (TRUNC: truncated to; SNAP: the snapshot's) */
    COORD_TRACE_TRUNCATED,           /* Learner: a = last zxid kept, b = records dropped */
    COORD_TRACE_PROPOSAL,            /* Leader: a = zxid proposed, b = learners sent to */
};

struct coord_trace
{
    enum coord_trace_type type;
    coord_id node;
    coord_time_ms now_ms;
    int64_t a, b, c, d;
    const char *text; /* Borrowed; may be NULL. */
    size_t text_len;
};

struct coord_env
{
    void *ctx;
    /* Network between servers. */
    void (*peer_send)(void *ctx, coord_id to, const void *msg, size_t len);
    /* Client connections. */
    void (*conn_write)(void *ctx, uint64_t conn, const void *buf, size_t len);
    void (*conn_close)(void *ctx, uint64_t conn); /* After flushing what was written. */
    /* Storage. */
    void (*log_append)(void *ctx, const void *rec, size_t len, uint64_t token);
    void (*log_truncate)(void *ctx, coord_zxid last_kept); /* Drop records after this zxid. */
    void (*snapshot_write)(void *ctx, const void *buf, size_t len, coord_zxid zxid);
    void (*meta_write)(void *ctx, const void *buf, size_t len, uint64_t token); /* Replaces it. */
    /* The one timer. */
    void (*wake_at)(void *ctx, coord_time_ms deadline_ms);
    /* Trace (may be NULL). */
    void (*trace)(void *ctx, const struct coord_trace *ev);
};

/* What the disk holds, handed to coord_server_init for recovery: the newest
 * snapshot (or none), the log records after it, in order, and the metadata
 * record. The reader yields borrowed records until it returns false. */
struct coord_log_reader
{
    void *ctx;
    bool (*next)(void *ctx, const void **rec, size_t *len);
};

struct coord_storage
{
    const void *snapshot;
    size_t snapshot_len;
    const struct coord_log_reader *log; /* May be NULL: empty log. */
    const void *meta;
    size_t meta_len;
};

#endif /* COORD_ENV_H */
