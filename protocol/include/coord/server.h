/* One coord server: composes the tree, the preparer, sessions, watches and
 * ACLs behind the event interface of env.h, and speaks ZooKeeper's client
 * wire protocol on its client connections.
 *
 * Standalone, a write is prepared into a transaction, appended to the log,
 * and applied (and answered) once the log reports it synced; several writes
 * in flight share one sync. Replies go out in request order per connection. */
#ifndef COORD_SERVER_H
#define COORD_SERVER_H

#include "coord/acl.h"
#include "coord/env.h"
#include "coord/session.h"
#include "coord/tree.h"
#include "coord/txn.h"
#include "coord/types.h"
#include "coord/util.h"
#include "coord/watch.h"

#define COORD_ENSEMBLE_MAX 16 /* Voters and observers together. */

struct coord_config
{
    coord_id id;                  /* myid; 1..127. Standalone: any. */
    int32_t tick_ms;              /* tickTime (default 2000) */
    int32_t min_session_ms;       /* 0 = 2 * tick */
    int32_t max_session_ms;       /* 0 = 20 * tick */
    int32_t data_max_bytes;       /* 0 = 1 MiB */
    uint32_t max_frame_bytes;     /* 0 = jute.maxbuffer 0xfffff */
    uint32_t snap_count;          /* Txns between snapshots; 0 = 100000 */
    bool ttl_enabled;             /* zookeeper.extendedTypesEnabled */
    uint64_t session_secret;      /* Same on every server of an ensemble. */
    const char *super_digest;     /* "super:<base64 sha1>" or NULL */
    size_t conn_out_max_bytes;    /* Reserved for hosts; the core does not buffer output. */
    int32_t handshake_timeout_ms; /* Close a connection with no ConnectRequest; 0 = 10000. */

    /* The ensemble. voter_count == 0 means standalone (no peers). Otherwise
     * `id` must be among the voters or the observers, and every member of
     * the ensemble must be given the same lists. */
    coord_id voters[COORD_ENSEMBLE_MAX];
    size_t voter_count;
    coord_id observers[COORD_ENSEMBLE_MAX];
    size_t observer_count;
    int32_t init_limit_ticks;     /* initLimit: discovery + sync must end within it; 0 = 10 */
    int32_t sync_limit_ticks;     /* syncLimit: silence that ends a leader/follower; 0 = 5 */
    int32_t election_finalize_ms; /* 0 = the election's default (election.h) */
    int32_t election_notify_min_ms;
    int32_t election_notify_max_ms;
    bool read_only_enabled; /* readonlymode.enabled: serve readOnly clients when cut off. */
};

enum coord_role {
    COORD_ROLE_STANDALONE = 0,
    COORD_ROLE_LOOKING,
    COORD_ROLE_FOLLOWING,
    COORD_ROLE_LEADING,
    COORD_ROLE_OBSERVING,
};

/* Counters for the four-letter words and benchmarks. */
struct coord_server_stats
{
    uint64_t packets_received;
    uint64_t packets_sent;
    uint64_t requests_total;
    uint64_t writes_total;
    int64_t latency_min_ms;
    int64_t latency_max_ms;
    int64_t latency_sum_ms;
    uint64_t latency_count;
};

struct server_conn; /* Opaque: see server_int.h. */
struct server_pending;
struct server_zab;

struct coord_server
{
    struct coord_config cfg;
    struct coord_env env;
    struct coord_rng rng;
    enum coord_role role;
    struct coord_tree tree;
    struct coord_prep prep;
    struct coord_sessions sessions;
    struct coord_watches watches;
    struct coord_u64map conns;      /* conn id -> struct server_conn */
    struct server_pending *pending; /* Txns logged, not yet applied: FIFO by zxid. */
    struct server_pending *pending_tail;
    coord_zxid next_zxid; /* The zxid the next prepared txn gets. */
    uint64_t token_seq;   /* Storage tokens: one increasing sequence for log appends
                             and meta writes alike. */
    uint64_t txns_since_snapshot;
    coord_time_ms now_ms; /* The clock of the event being handled. */
    int64_t wall_ms;
    coord_time_ms wake_ms;    /* The deadline last given to wake_at. */
    struct coord_buf out;     /* Scratch for frames being built. */
    struct coord_buf logbuf;  /* Scratch for encoded txns. */
    struct coord_buf notebuf; /* Scratch for watch notifications. */
    struct coord_server_stats stats;
    /* Connections waiting for their ConnectRequest, oldest first (id and
     * open time; stale entries are skipped), so one that never sends one
     * is closed after handshake_timeout_ms. */
    struct server_new_conn *fresh;
    size_t fresh_head;
    size_t fresh_count;
    size_t fresh_cap;
    struct server_zab *zab; /* Quorum mode (election, ZAB); NULL when standalone. */
    bool closed;
};

/* Build a server from what its storage holds (nothing else). `env` is copied.
 * Returns COORD_OK, COORD_ECORRUPT (the snapshot or log is unusable; the
 * message names the record), COORD_EBADARGUMENTS (bad config), COORD_ENOMEM.
 * errmsg (may be NULL) receives a description of a failure. */
int coord_server_init(struct coord_server *s,
                      const struct coord_config *cfg,
                      uint64_t seed,
                      const struct coord_env *env,
                      const struct coord_storage *storage,
                      char *errmsg,
                      size_t errmsg_len);
void coord_server_close(struct coord_server *s);

/* Handle one event. Returns COORD_OK, or COORD_ENOMEM when the server could
 * not make progress (the host should stop it). Input from outside never makes
 * it fail: malformed bytes close that connection. */
int coord_server_step(struct coord_server *s, const struct coord_event *ev);

/* Writes logged and not yet applied (the 4lw "Outstanding" figure). */
size_t coord_server_outstanding(const struct coord_server *s);

/* What the server knows of one client connection, for cons/stat. */
struct coord_conn_info
{
    coord_session_id session;
    int32_t timeout_ms;
    int32_t last_cxid;
    coord_zxid last_zxid;
    int32_t last_op;
    coord_time_ms established_ms;   /* On the node's clock. */
    coord_time_ms last_response_ms; /* On the node's clock. */
    int64_t last_latency_ms;
    int64_t latency_min_ms;
    int64_t latency_avg_ms;
    int64_t latency_max_ms;
};
/* False when the server has no such connection. */
bool coord_server_conn_info(const struct coord_server *s,
                            uint64_t conn,
                            struct coord_conn_info *out);

/* Where the server stands in its ensemble, for srvr/stat/mntr and tests. */
struct coord_quorum_info
{
    enum coord_role role;
    bool serving;           /* Answers clients read-write (standalone, or synced to a leader). */
    bool read_only;         /* Cut off from the quorum, serving readOnly clients. */
    coord_id leader;        /* The leader followed or being (0 when LOOKING). */
    int64_t accepted_epoch; /* Durable (meta record). */
    int64_t current_epoch;  /* Durable (meta record). */
    coord_zxid last_logged;
    coord_zxid last_applied;
    /* Leader only: learners connected and at any stage of sync, those synced
     * (voters and observers apart), and those still syncing. */
    uint32_t learners;
    uint32_t synced_followers;
    uint32_t synced_observers;
    uint32_t pending_syncs;
    uint64_t elections;       /* Elections this server decided. */
    int64_t last_election_ms; /* How long the last one took, on the node's clock. */
};
void coord_server_quorum_info(const struct coord_server *s, struct coord_quorum_info *out);

/* The encoded snapshot of the current state (tree + sessions), for hosts
 * that want one now (shutdown, tests). */
int coord_server_snapshot(const struct coord_server *s, struct coord_buf *out);

#endif /* COORD_SERVER_H */
