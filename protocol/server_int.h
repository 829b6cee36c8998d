/* What server.c and zab.c share: the server's private structures and the
 * functions each calls in the other. Not installed; nothing outside
 * protocol/ includes it. */
#ifndef COORD_SERVER_INT_H
#define COORD_SERVER_INT_H

#include "coord/server.h"
#include "coord/wire.h"

enum conn_state {
    CONN_NEW = 0,   /* Waiting for ConnectRequest (or a four-letter word). */
    CONN_HANDSHAKE, /* createSession is being logged. */
    CONN_ACTIVE,
    CONN_CLOSING, /* We closed it: ignore whatever else arrives. */
};

/* One entry of a connection's reply queue: a write waiting for its sync, or
 * a read (a copy of its frame) waiting behind such a write. */
struct conn_slot
{
    struct conn_slot *next;
    struct server_pending *write; /* NULL for a deferred read. */
    size_t len;
    uint8_t frame[]; /* The deferred read's payload. */
};

struct server_conn
{
    uint64_t id;
    enum conn_state state;
    struct coord_buf in;
    coord_session_id session;
    bool has_readonly;
    bool read_only; /* Accepted while cut off from the quorum: reads only. */
    bool super;
    struct coord_ident *ids; /* ids[0] is ("ip", peer address); each owns its strings. */
    size_t id_count;
    struct conn_slot *slots; /* Reply queue, oldest first. */
    struct conn_slot *slots_tail;
    size_t slot_count;
    /* For cons/stat and the benchmarks. */
    uint64_t received;
    uint64_t sent;
    int32_t last_cxid;
    coord_zxid last_zxid;
    int32_t last_op;
    coord_time_ms established_ms;
    coord_time_ms last_response_ms;
    int64_t last_latency_ms;
    int64_t latency_min_ms;
    int64_t latency_max_ms;
    int64_t latency_sum_ms;
    uint64_t latency_count;
    char ip[64];
};

/* A transaction logged and not yet applied; or, on a learner, the record of
 * a request forwarded to the leader (`forwarded`: owned by its connection's
 * slot, in no queue, txn_len 0; a sync keeps its path in txn[]). */
struct server_pending
{
    struct server_pending *next;
    coord_zxid zxid;
    uint64_t token;           /* The storage token of its log append. */
    struct server_conn *conn; /* Where the reply goes; NULL if none (or gone). */
    int32_t xid;
    int32_t type;             /* The request's opcode (create2, multi, connect...); 0 = expiry. */
    coord_session_id session; /* createSession: the new id; closeSession: the closed one. */
    int32_t timeout_ms;       /* createSession */
    bool has_readonly;        /* createSession: mirror the request's readOnly byte. */
    coord_time_ms started_ms;
    bool forwarded;
    bool sync_done;    /* A forwarded sync the leader answered. */
    uint64_t sync_id;  /* A forwarded sync's id. */
    uint32_t op_count; /* multi: the request's op types follow the txn bytes. */
    size_t txn_len;
    uint8_t txn[]; /* Encoded txn, then op_count int32 op types. */
};

struct server_new_conn
{
    uint64_t conn;
    coord_time_ms opened_ms;
};

/* ---- server.c, for zab.c ------------------------------------------------------------- */

void server_trace(struct coord_server *s,
                  enum coord_trace_type type,
                  int64_t a,
                  int64_t b,
                  int64_t c,
                  const char *text);
void server_trace_d(struct coord_server *s,
                    enum coord_trace_type type,
                    int64_t a,
                    int64_t b,
                    int64_t c,
                    int64_t d,
                    const char *text);
void server_conn_close(struct coord_server *s, struct server_conn *c, const char *why);
/* Close every client connection (read-only ones too when `all`). */
void server_close_clients(struct coord_server *s, bool all, const char *why);
/* Append a txn (encoded) to the log and the pending queue; c may be NULL. The
 * request record fields (xid, type, op types) come from `req`, which may be
 * NULL. Returns the new record through *out (may be NULL). */
int server_log_txn(struct coord_server *s,
                   const uint8_t *txn,
                   size_t len,
                   coord_zxid zxid,
                   struct server_pending **out);
/* Pop and apply the head of the pending queue (it is committed). */
int server_commit_head(struct coord_server *s);
/* Prepare a write for (session, xid) with the caller's auth, as the leader
 * or a standalone server does; c is the local connection or NULL. */
int server_prep_write(struct coord_server *s,
                      struct server_conn *c,
                      coord_session_id session,
                      const struct coord_authinfo *auth,
                      const struct coord_request *req,
                      int decode_err);
/* A createSession txn for a new session id (c may be NULL). */
int server_prep_create_session(struct coord_server *s,
                               struct server_conn *c,
                               coord_session_id id,
                               int32_t timeout_ms,
                               bool has_readonly);
int server_conn_drain(struct coord_server *s, struct server_conn *c);
/* Replace the state (tree + sessions) with a snapshot. */
int server_load_snapshot(struct coord_server *s, const uint8_t *snap, size_t len);
void server_free_pending_from(struct coord_server *s, coord_zxid after);
coord_zxid server_last_logged(const struct coord_server *s);
void server_push_slot(struct server_conn *c, struct conn_slot *slot);
void server_reply_header(struct coord_server *s,
                         struct server_conn *c,
                         int32_t xid,
                         coord_zxid zxid,
                         int err);
void server_touch_all_sessions(struct coord_server *s);
/* The server started serving: handshakes held while it was not go on. */
int server_serve_held(struct coord_server *s);

/* ---- zab.c, for server.c ------------------------------------------------------------- */

int zab_init(struct coord_server *s, const void *meta, size_t meta_len, char *err, size_t err_len);
void zab_close(struct coord_server *s);
int zab_start(struct coord_server *s); /* First event: the clock is known. */
int zab_on_peer_message(struct coord_server *s, coord_id from, const void *msg, size_t len);
int zab_on_peer_up(struct coord_server *s, coord_id peer);
int zab_on_peer_down(struct coord_server *s, coord_id peer);
int zab_on_timeout(struct coord_server *s);
int zab_on_synced(struct coord_server *s, uint64_t token);
int64_t zab_deadline(const struct coord_server *s);
/* The role serves clients read-write (leader established, learner up to date). */
bool zab_serving(const struct coord_server *s);
bool zab_is_leader(const struct coord_server *s);
/* A txn was just logged by the leader: send it to the learners. */
void zab_proposed(struct coord_server *s, const struct server_pending *p);
/* A txn was applied (all roles): keep it for DIFFs. */
int zab_applied(struct coord_server *s, const uint8_t *txn, size_t len, coord_zxid zxid);
/* Learner: forward a client's write / sync / new session to the leader. */
int zab_forward(struct coord_server *s,
                struct server_conn *c,
                const struct coord_request *req,
                const uint8_t *payload,
                size_t len);
int zab_forward_sync(struct coord_server *s,
                     struct server_conn *c,
                     const struct coord_request *req);
int zab_forward_create_session(struct coord_server *s,
                               struct server_conn *c,
                               coord_session_id id,
                               int32_t timeout_ms,
                               bool has_readonly);
/* Learner applying a committed txn: the local request it answers, if any
 * (popped from its connection's queue by the caller). */
struct server_conn *zab_match_local(struct coord_server *s,
                                    const struct coord_txn *txn,
                                    struct server_pending **req);
void zab_session_touched(struct coord_server *s, coord_session_id id);
void zab_info(const struct coord_server *s, struct coord_quorum_info *out);

#endif /* COORD_SERVER_INT_H */
