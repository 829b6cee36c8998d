/* One ZooKeeper client session as a pure state machine: the client-side
 * counterpart of server.h, speaking the wire protocol of zk-wire.
 *
 * Like the server, the client does no I/O and reads no clock. The host feeds
 * it events (a connection opened, bytes arrived, the connection closed, the
 * timer fired), each carrying the host's clock in ms, and the client acts
 * through the function pointers of struct coord_client_env. The host knows the
 * server addresses; the client knows only how many there are and asks for a
 * connection to one by index, round robin.
 *
 * What the client keeps (zk-wire §4, §5, §10.5, §12):
 *  - the session: id, password, negotiated timeout, the last zxid seen in a
 *    reply header (zxid > 0 only, never from a notification);
 *  - one FIFO of requests: those sent and waiting for their reply (any number
 *    in flight), then those not sent yet. Replies must come in order: a reply
 *    whose xid is not the oldest request's drops the connection, as the C,
 *    Java and kazoo clients do. Ping replies (xid -2) are taken whenever they
 *    come, like the C and Java clients;
 *  - the credentials given to coord_client_submit_auth, re-sent (xid -4)
 *    first on every new connection;
 *  - the watches set by successful reads with watch = 1 and by addWatch. A
 *    one-shot watch is forgotten when its event arrives; on a new connection
 *    they are all re-registered with setWatches (101, xid -8), or setWatches2
 *    (105) when some are persistent, relative to the last zxid seen, so the
 *    server fires what was missed.
 *
 * Connections. After the ConnectResponse, the client sends auths, then
 * setWatches, then every queued request. It pings (xid -2) once nothing has
 * been sent for a third of the negotiated timeout, and drops the connection
 * once nothing has been received for two thirds of it (the C client's rule),
 * then tries the next server. Each phase of a connection attempt (the TCP
 * connect, then the handshake) gets session_timeout / server_count ms (the
 * Java client's rule); a failed attempt moves on to the next server at once,
 * but after a whole round of failures each further attempt first waits
 * retry_delay_ms, scaled by a seeded jitter in [1/2, 1]. Session events go
 * to the watcher: SyncConnected (or ConnectedReadOnly) after each handshake,
 * Disconnected when an established connection ends.
 *
 * Requests and disconnections. A request submitted while not connected is
 * queued and sent after the next handshake. When a connection is lost, every
 * request already sent on it fails with COORD_ECONNECTIONLOSS (it may or may
 * not have been applied: the C client's rule) and the requests not yet sent
 * stay queued. A ConnectResponse saying the session is gone (timeout <= 0,
 * session 0, or another session id than ours) ends the client: state EXPIRED,
 * everything pending fails with COORD_ESESSIONEXPIRED, the watcher hears
 * KeeperState Expired. A failed auth reply ends it with AUTH_FAILED in the
 * same way (COORD_EAUTHFAILED). closeSession (-11) is sent like any request;
 * once its reply arrives the client is CLOSED (also when the connection
 * breaks with the closeSession in flight: then it completes with
 * CONNECTIONLOSS). The client never gives up connecting on its own: a host
 * that wants a deadline keeps it itself.
 *
 * Bounds: requests queued or in flight (pending_max), remembered watch paths
 * (watch_max), credentials (COORD_CLIENT_AUTH_MAX), reply frames
 * (max_frame_bytes). A full queue or watch table makes submit return
 * COORD_EFULL. Bytes from the server never crash the client: anything it
 * cannot decode drops the connection.
 *
 * Pure: no OS calls, allocation only through coord_malloc. Not thread-safe. */
#ifndef COORD_CLIENT_H
#define COORD_CLIENT_H

#include "coord/acl.h"
#include "coord/tree.h"
#include "coord/txn.h"
#include "coord/types.h"
#include "coord/util.h"
#include "coord/wire.h"

/* KeeperState values of session events (zk-wire §12.3). Server events always
 * carry SYNC_CONNECTED. */
#define COORD_KEEPER_DISCONNECTED 0
#define COORD_KEEPER_SYNC_CONNECTED 3
#define COORD_KEEPER_AUTH_FAILED 4
#define COORD_KEEPER_CONNECTED_READONLY 5
#define COORD_KEEPER_CLOSED 7
#define COORD_KEEPER_EXPIRED (-112)

#define COORD_CLIENT_AUTH_MAX 16                   /* Credentials kept for re-sending. */
#define COORD_CLIENT_SETWATCHES_BATCH (128 * 1024) /* Bytes of paths per setWatches. */

/* The C client's numbers where it has them (zk-wire §12.3). */
enum coord_client_state {
    COORD_CLIENT_CONNECTING = 1,  /* Waiting for a TCP connection (or to retry). */
    COORD_CLIENT_ASSOCIATING = 2, /* ConnectRequest sent, ConnectResponse awaited. */
    COORD_CLIENT_CONNECTED = 3,
    COORD_CLIENT_CLOSED = 7, /* closeSession answered, or coord_client_close. */
    COORD_CLIENT_EXPIRED = -112,
    COORD_CLIENT_AUTH_FAILED = -113,
};

struct coord_client_config
{
    uint32_t server_count;      /* >= 1 */
    int32_t session_timeout_ms; /* Requested; the server negotiates. 0 = 30000. */
    bool read_only;             /* The ConnectRequest's readOnly byte (always sent). */
    uint64_t seed;              /* Picks the first server and the retry jitter. */
    uint32_t pending_max;       /* Requests queued or in flight; 0 = 4096. */
    uint32_t watch_max;         /* Watched paths remembered; 0 = 65536. */
    int32_t retry_delay_ms;     /* After a round of failed attempts; 0 = 1000. */
    uint32_t max_frame_bytes;   /* Largest frame accepted or sent; 0 = COORD_WIRE_MAX_FRAME. */
};

/* What a request came to. Everything is borrowed for the duration of the
 * completion call. Fields the reply does not have are zero, except data_len
 * and acl_count, which are -1 (null) unless the reply carries them. On error
 * (err != 0) only tag, type, err and zxid are set; a request that failed
 * locally (connection loss, expiry) has zxid 0. */
struct coord_client_result
{
    uint64_t tag;
    int32_t type;        /* The request's opcode (COORD_OP_AUTH, COORD_OP_CLOSESESSION too). */
    int err;             /* COORD_OK or a ZooKeeper error code. */
    coord_zxid zxid;     /* The reply header's zxid. */
    const uint8_t *body; /* The raw reply record after the header. */
    size_t body_len;
    bool has_stat;
    struct coord_stat stat; /* create2/container/ttl, exists, getData, setData, getACL, setACL,
                               getChildren2 */
    struct coord_str path;  /* create*: the created path; sync: the echoed path */
    const uint8_t *data;    /* getData; data_len -1 = null (not the same as empty) */
    int32_t data_len;
    struct coord_strvec children; /* getChildren(2): names; getEphemerals: paths */
    const struct coord_acl *acl;  /* getACL */
    int32_t acl_count;
    struct coord_strvec idents;               /* whoAmI: scheme, user, scheme, user... */
    int32_t number;                           /* getAllChildrenNumber */
    const struct coord_multi_result *results; /* multi, multiRead: one per op */
    uint32_t result_count;
};

/* The host's side. The first four only enqueue work: they never call back
 * into the client before returning. The host keeps one connection at a time:
 * connect() implies the previous one is gone, and after close() (or after the
 * host reported on_closed) it delivers nothing more from that connection.
 * Buffers are borrowed for the call. complete and watch are the
 * application's callbacks: they may call coord_client_submit*() (that is how
 * a recursive delete chains its requests), but never coord_client_on_*,
 * start or close. Either may be NULL. */
struct coord_client_env
{
    void *ctx;
    void (*connect)(void *ctx, uint32_t server_index); /* Answer: on_connected or on_closed. */
    void (*write)(void *ctx, const void *buf, size_t len);
    void (*close)(void *ctx); /* Close after writing what was written. */
    void (*wake_at)(void *ctx, coord_time_ms deadline_ms); /* One timer: replaces the last. */
    void (*complete)(void *ctx, const struct coord_client_result *res);
    /* Server events (state 3, the node's path) and session events (type
     * COORD_EV_NONE, a COORD_KEEPER_* state, path null). */
    void (*watch)(void *ctx, const struct coord_watcher_event *ev);
};

struct client_req; /* Opaque: see client.c. */
struct client_auth;

/* Caller-allocated. The fields are readable (state, session_id, timeout_ms,
 * last_zxid, server_index, pending_count...); change them only through the
 * functions below. */
struct coord_client
{
    struct coord_client_config cfg;
    struct coord_client_env env;
    struct coord_rng rng;
    enum coord_client_state state;
    bool started;
    bool conn_open;       /* A connection is asked for or open. */
    bool close_requested; /* closeSession queued or sent: no new requests. */
    uint32_t server_index;
    uint32_t failed_attempts; /* Attempts that ended before a handshake, in a row. */
    uint64_t conn_gen;        /* Bumped whenever a connection ends. */
    coord_time_ms now_ms;
    coord_time_ms attempt_ms; /* When the current attempt (or its handshake) began. */
    coord_time_ms retry_ms;   /* When to connect again, while !conn_open. */
    coord_time_ms last_send_ms;
    coord_time_ms last_recv_ms;
    coord_time_ms wake_ms; /* The deadline last given to wake_at. */
    coord_session_id session_id;
    uint8_t passwd[COORD_WIRE_PASSWD_LEN];
    int32_t timeout_ms; /* Negotiated; 0 before the first session. */
    bool read_only_server;
    coord_zxid last_zxid;
    int32_t next_xid;
    struct client_req *head;   /* Oldest request, sent ones first. */
    struct client_req *unsent; /* First request not sent yet, or NULL. */
    struct client_req *tail;
    uint32_t pending_count;  /* User requests in the FIFO (closeSession excluded). */
    uint32_t watch_reserved; /* Requests in the FIFO that may add a watch. */
    struct client_auth *auths[COORD_CLIENT_AUTH_MAX];
    uint32_t auth_count;
    struct coord_strmap watches; /* path -> struct client_watch */
    struct coord_buf in;
    struct coord_multi_result *results; /* Scratch for multi replies. */
    uint32_t results_cap;
    unsigned depth; /* Callbacks running. */
    bool oom;
};

/* Set up a client; nothing happens until coord_client_start. `cfg` and `env`
 * are copied. COORD_OK, or COORD_EBADARGUMENTS (no server, a negative
 * timeout or delay, a missing host method). */
int coord_client_init(struct coord_client *c,
                      const struct coord_client_config *cfg,
                      const struct coord_client_env *env);
/* Free everything. Requests still pending complete with COORD_ECONNECTIONLOSS
 * first (so their tags can be released) and an open connection is closed.
 * Safe after a failed init. Never from a callback. */
void coord_client_close(struct coord_client *c);
/* Ask for the first connection (a seeded choice among the servers). */
void coord_client_start(struct coord_client *c, coord_time_ms now_ms);

/* Queue one request; it is sent at once when connected. `op` and what it
 * points to are borrowed for the call. The op types accepted are those with
 * a struct coord_op form except ping and closeSession (create 1/15/19/21,
 * delete, exists, getData, setData, getACL, setACL, getChildren(2), sync,
 * check, checkWatches, removeWatches, getEphemerals, getAllChildrenNumber,
 * addWatch, whoAmI, deleteContainer). The outcome arrives through
 * env.complete with `tag`, never from inside this call. Returns COORD_OK;
 * COORD_EBADARGUMENTS (an op type not accepted, a non-null length with a
 * NULL pointer, a frame larger than max_frame_bytes); COORD_EFULL (pending_max
 * reached, or a watch asked for with watch_max paths watched);
 * COORD_ESESSIONEXPIRED (EXPIRED or CLOSED, or closeSession already asked
 * for); COORD_EAUTHFAILED (AUTH_FAILED); COORD_ENOMEM. */
int coord_client_submit(struct coord_client *c,
                        const struct coord_op *op,
                        uint64_t tag,
                        coord_time_ms now_ms);
/* A multi (COORD_OP_MULTI: create*, delete, setData, check) or multiRead
 * (COORD_OP_MULTIREAD: getChildren, getData) of count <= COORD_MULTI_MAX ops.
 * A successful reply must hold exactly one result per op, else the
 * connection is dropped. Errors as coord_client_submit. */
int coord_client_submit_multi(struct coord_client *c,
                              int32_t type,
                              const struct coord_op *ops,
                              uint32_t count,
                              uint64_t tag,
                              coord_time_ms now_ms);
/* Add a credential (e.g. "digest", "user:password"), kept and re-sent on every
 * reconnect. It is sent now when connected, else after the next handshake;
 * its completion (type COORD_OP_AUTH) comes with the first reply to it. A
 * rejected credential ends the client (AUTH_FAILED). An identical credential
 * already kept (and not awaiting its completion) is reused, not stored
 * twice. Errors as coord_client_submit, and
 * COORD_EFULL past COORD_CLIENT_AUTH_MAX credentials. */
int coord_client_submit_auth(struct coord_client *c,
                             struct coord_str scheme,
                             const uint8_t *cred,
                             size_t cred_len,
                             uint64_t tag,
                             coord_time_ms now_ms);
/* Close the session: closeSession is queued behind the requests already
 * submitted; its completion (type COORD_OP_CLOSESESSION) comes when the reply
 * does, and the client is then CLOSED (watcher: KeeperState Closed). Later
 * submits fail with COORD_ESESSIONEXPIRED. */
int coord_client_submit_close(struct coord_client *c, uint64_t tag, coord_time_ms now_ms);

/* Host events. Each returns COORD_OK, or COORD_ENOMEM when memory ran out
 * (the client then dropped the connection and will try again). Events for a
 * connection the client did not ask for are ignored. */
int coord_client_on_connected(struct coord_client *c, coord_time_ms now_ms);
int coord_client_on_data(struct coord_client *c,
                         coord_time_ms now_ms,
                         const void *data,
                         size_t len);
int coord_client_on_closed(struct coord_client *c, coord_time_ms now_ms);
int coord_client_on_timeout(struct coord_client *c, coord_time_ms now_ms);

#endif /* COORD_CLIENT_H */
