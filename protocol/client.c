/* The pure ZooKeeper client core: session, request FIFO, pings, reconnects,
 * credentials and the client-side watch registry (see client.h, zk-wire
 * §4, §5, §10.5, §12). */
#include "coord/client.h"

#include <string.h>

/* ---- structures ---------------------------------------------------------- */

enum req_kind {
    REQ_USER = 0,   /* A request from coord_client_submit(_multi). */
    REQ_AUTH,       /* An AuthPacket (xid -4). */
    REQ_SETWATCHES, /* One setWatches batch (xid -8). */
    REQ_CLOSE,      /* closeSession. */
};

struct client_req
{
    struct client_req *next;
    uint64_t tag;
    int32_t xid;  /* Set when sent. */
    int32_t type; /* The opcode. */
    enum req_kind kind;
    bool sent;
    bool watch;             /* A read with watch = 1: registers a watch on success. */
    bool reserves;          /* Counted in watch_reserved. */
    int32_t mode;           /* addWatch mode; removeWatches type. */
    uint32_t op_count;      /* multi */
    uint32_t auth_index;    /* REQ_AUTH */
    struct coord_buf frame; /* The encoded frame, freed once sent. */
    size_t path_len;
    char path[]; /* Kept for watch bookkeeping only. */
};

struct client_auth
{
    bool has_tag; /* A completion is owed for this credential. */
    uint64_t tag;
    size_t scheme_len;
    size_t cred_len;
    uint8_t bytes[]; /* scheme, then cred */
};

/* Watch kinds kept per path (one-shot ones go when their event arrives). */
#define WATCH_DATA 1u
#define WATCH_EXIST 2u
#define WATCH_CHILD 4u
#define WATCH_PERSISTENT 8u
#define WATCH_RECURSIVE 16u
#define WATCH_LISTS 5

struct client_watch
{
    unsigned kinds;
    size_t len;
    char path[];
};

#define CLIENT_TIME_MAX INT64_MAX

/* ---- small helpers ------------------------------------------------------- */

static bool client_terminal(const struct coord_client *c)
{
    return c->state == COORD_CLIENT_CLOSED || c->state == COORD_CLIENT_EXPIRED ||
           c->state == COORD_CLIENT_AUTH_FAILED;
}

static coord_time_ms client_connect_timeout(const struct coord_client *c)
{
    coord_time_ms t = c->cfg.session_timeout_ms / (coord_time_ms)c->cfg.server_count;
    return t < 1 ? 1 : t;
}

static coord_time_ms client_ping_interval(const struct coord_client *c)
{
    coord_time_ms t = c->timeout_ms / 3;
    return t < 1 ? 1 : t;
}

static coord_time_ms client_recv_timeout(const struct coord_client *c)
{
    coord_time_ms t = (coord_time_ms)c->timeout_ms * 2 / 3;
    return t < 1 ? 1 : t;
}

static void client_write(struct coord_client *c, const struct coord_buf *b)
{
    c->env.write(c->env.ctx, b->data, b->len);
    c->last_send_ms = c->now_ms;
}

static int32_t client_take_xid(struct coord_client *c)
{
    int32_t xid = c->next_xid;
    c->next_xid = xid == INT32_MAX ? 1 : xid + 1;
    return xid;
}

static void client_arm(struct coord_client *c)
{
    coord_time_ms deadline = CLIENT_TIME_MAX;
    switch (c->state) {
        case COORD_CLIENT_CONNECTING:
            if (c->started) {
                deadline = c->conn_open ? c->attempt_ms + client_connect_timeout(c) : c->retry_ms;
            }
            break;
        case COORD_CLIENT_ASSOCIATING:
            deadline = c->attempt_ms + client_connect_timeout(c);
            break;
        case COORD_CLIENT_CONNECTED:
            deadline = COORD_MIN(c->last_send_ms + client_ping_interval(c),
                                 c->last_recv_ms + client_recv_timeout(c));
            break;
        default:
            break;
    }
    if (deadline != CLIENT_TIME_MAX && deadline != c->wake_ms) {
        c->wake_ms = deadline;
        c->env.wake_at(c->env.ctx, deadline);
    }
}

/* ---- callbacks ----------------------------------------------------------- */

static void client_complete(struct coord_client *c, const struct coord_client_result *res)
{
    if (c->env.complete == NULL) {
        return;
    }
    c->depth++;
    c->env.complete(c->env.ctx, res);
    c->depth--;
}

static void result_init(struct coord_client_result *res,
                        uint64_t tag,
                        int32_t type,
                        int err,
                        coord_zxid zxid)
{
    memset(res, 0, sizeof *res);
    res->tag = tag;
    res->type = type;
    res->err = err;
    res->zxid = zxid;
    res->data_len = -1;
    res->acl_count = -1;
}

static void client_complete_local(struct coord_client *c, uint64_t tag, int32_t type, int err)
{
    struct coord_client_result res;
    result_init(&res, tag, type, err, 0);
    client_complete(c, &res);
}

static void client_event(struct coord_client *c,
                         int32_t type,
                         int32_t state,
                         const char *path,
                         int32_t len)
{
    if (c->env.watch == NULL) {
        return;
    }
    struct coord_watcher_event ev;
    ev.type = type;
    ev.state = state;
    ev.path.ptr = path;
    ev.path.len = len;
    c->depth++;
    c->env.watch(c->env.ctx, &ev);
    c->depth--;
}

static void client_session_event(struct coord_client *c, int32_t state)
{
    client_event(c, COORD_EV_NONE, state, NULL, -1);
}

/* ---- the request FIFO ---------------------------------------------------- */

static struct client_req *req_new(enum req_kind kind,
                                  int32_t type,
                                  uint64_t tag,
                                  const char *path,
                                  size_t path_len)
{
    struct client_req *r = coord_malloc(sizeof *r + path_len + 1);
    if (r == NULL) {
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->type = type;
    r->tag = tag;
    coord_buf_init(&r->frame);
    if (path_len > 0) {
        memcpy(r->path, path, path_len);
    }
    r->path[path_len] = '\0';
    r->path_len = path_len;
    return r;
}

static void req_free(struct coord_client *c, struct client_req *r)
{
    if (r->reserves) {
        c->watch_reserved--;
    }
    if (r->kind == REQ_USER) {
        c->pending_count--;
    }
    coord_buf_free(&r->frame);
    coord_free(r);
}

static void fifo_append(struct coord_client *c, struct client_req *r)
{
    r->next = NULL;
    if (c->tail != NULL) {
        c->tail->next = r;
    } else {
        c->head = r;
    }
    c->tail = r;
    if (c->unsent == NULL) {
        c->unsent = r;
    }
}

/* Send one queued request: its xid is given now (special ones have theirs). */
static void req_send(struct coord_client *c, struct client_req *r)
{
    if (r->kind == REQ_USER || r->kind == REQ_CLOSE) {
        r->xid = client_take_xid(c);
        coord_buf_patch_be32(&r->frame, 4, (uint32_t)r->xid);
    }
    client_write(c, &r->frame);
    coord_buf_free(&r->frame);
    r->sent = true;
}

static void fifo_flush(struct coord_client *c)
{
    while (c->unsent != NULL) {
        struct client_req *r = c->unsent;
        c->unsent = r->next;
        req_send(c, r);
    }
}

/* Take the requests already sent out of the FIFO (a connection ended). */
static struct client_req *fifo_detach_sent(struct coord_client *c)
{
    struct client_req *first = c->head;
    if (first == c->unsent) {
        return NULL;
    }
    struct client_req *last = first;
    while (last->next != c->unsent) {
        last = last->next;
    }
    last->next = NULL;
    c->head = c->unsent;
    if (c->head == NULL) {
        c->tail = NULL;
    }
    return first;
}

static struct client_req *fifo_detach_all(struct coord_client *c)
{
    struct client_req *first = c->head;
    c->head = c->unsent = c->tail = NULL;
    return first;
}

static struct client_req *fifo_pop(struct coord_client *c)
{
    struct client_req *r = c->head;
    c->head = r->next;
    if (c->head == NULL) {
        c->tail = NULL;
    }
    if (c->unsent == r) {
        c->unsent = r->next;
    }
    r->next = NULL;
    return r;
}

/* Fail a detached list. Auth and setWatches entries go silently: a
 * credential's completion waits for its next reply (or the end). */
static void fail_list(struct coord_client *c, struct client_req *list, int err)
{
    while (list != NULL) {
        struct client_req *r = list;
        list = r->next;
        uint64_t tag = r->tag;
        int32_t type = r->type;
        bool owed = r->kind == REQ_USER || r->kind == REQ_CLOSE;
        req_free(c, r);
        if (owed) {
            client_complete_local(c, tag, type, err);
        }
    }
}

/* ---- the watch registry -------------------------------------------------- */

static void watch_add(struct coord_client *c, const char *path, size_t len, unsigned kind)
{
    struct client_watch *w = coord_strmap_get(&c->watches, path, len);
    if (w != NULL) {
        w->kinds |= kind;
        return;
    }
    if (c->watches.count >= c->cfg.watch_max) {
        return; /* Reserved at submit; only reachable through a removal race. */
    }
    w = coord_malloc(sizeof *w + len + 1);
    if (w == NULL) {
        c->oom = true; /* The watch stays on the server, but is not re-sent. */
        return;
    }
    w->kinds = kind;
    w->len = len;
    memcpy(w->path, path, len);
    w->path[len] = '\0';
    if (coord_strmap_put(&c->watches, w->path, len, w) != COORD_OK) {
        coord_free(w);
        c->oom = true;
    }
}

static void watch_clear(struct coord_client *c, const char *path, size_t len, unsigned kinds)
{
    struct client_watch *w = coord_strmap_get(&c->watches, path, len);
    if (w == NULL) {
        return;
    }
    w->kinds &= ~kinds;
    if (w->kinds == 0) {
        coord_strmap_del(&c->watches, path, len);
        coord_free(w);
    }
}

static void watch_clear_all(struct coord_client *c)
{
    size_t pos = 0;
    const char *key;
    size_t key_len;
    void *value;
    while (coord_strmap_next(&c->watches, &pos, &key, &key_len, &value)) {
        coord_free(value);
    }
    coord_strmap_free(&c->watches);
    coord_strmap_init(&c->watches);
}

/* The one-shot watches an event consumes (ZooKeeper's ZKWatchManager). */
static unsigned watch_fired_kinds(int32_t type)
{
    switch (type) {
        case COORD_EV_CREATED:
        case COORD_EV_DATA_CHANGED:
            return WATCH_DATA | WATCH_EXIST;
        case COORD_EV_DELETED:
            return WATCH_DATA | WATCH_EXIST | WATCH_CHILD;
        case COORD_EV_CHILDREN_CHANGED:
            return WATCH_CHILD;
        default:
            return 0;
    }
}

/* What removeWatches of a given watcher type takes away (zk-wire §10.4). */
static unsigned watch_removed_kinds(int32_t type)
{
    switch (type) {
        case 1:
            return WATCH_CHILD;
        case 2:
            return WATCH_DATA | WATCH_EXIST | WATCH_RECURSIVE; /* The data table's kinds. */
        case 3:
            return WATCH_DATA | WATCH_EXIST | WATCH_CHILD | WATCH_PERSISTENT | WATCH_RECURSIVE;
        case 4:
            return WATCH_PERSISTENT;
        case 5:
            return WATCH_RECURSIVE;
        default:
            return 0;
    }
}

/* A successful (or NONODE) reply to a request that may set a watch. */
static void watch_note_reply(struct coord_client *c, const struct client_req *r, int err)
{
    const char *p = r->path;
    size_t n = r->path_len;
    switch (r->type) {
        case COORD_OP_EXISTS:
            if (r->watch && (err == COORD_OK || err == COORD_ENONODE)) {
                watch_add(c, p, n, err == COORD_OK ? WATCH_DATA : WATCH_EXIST);
            }
            break;
        case COORD_OP_GETDATA:
            if (r->watch && err == COORD_OK) {
                watch_add(c, p, n, WATCH_DATA);
            }
            break;
        case COORD_OP_GETCHILDREN:
        case COORD_OP_GETCHILDREN2:
            if (r->watch && err == COORD_OK) {
                watch_add(c, p, n, WATCH_CHILD);
            }
            break;
        case COORD_OP_ADDWATCH:
            if (err == COORD_OK && (r->mode == 0 || r->mode == 1)) {
                watch_add(c, p, n, r->mode == 0 ? WATCH_PERSISTENT : WATCH_RECURSIVE);
            }
            break;
        case COORD_OP_REMOVEWATCHES:
            if (err == COORD_OK) {
                watch_clear(c, p, n, watch_removed_kinds(r->mode));
            }
            break;
        default:
            break;
    }
}

/* ---- ending a connection or the whole client ----------------------------- */

static void client_connect(struct coord_client *c)
{
    c->state = COORD_CLIENT_CONNECTING;
    c->conn_open = true;
    c->attempt_ms = c->now_ms;
    c->env.connect(c->env.ctx, c->server_index);
}

/* Move on to the next server: at once, unless a whole round already failed. */
static void client_next_server(struct coord_client *c)
{
    c->state = COORD_CLIENT_CONNECTING;
    c->server_index = (c->server_index + 1) % c->cfg.server_count;
    if (c->failed_attempts < c->cfg.server_count) {
        client_connect(c);
        return;
    }
    coord_time_ms delay = c->cfg.retry_delay_ms;
    coord_time_ms jitter = (coord_time_ms)coord_rng_below(&c->rng, (uint64_t)(delay / 2) + 1);
    c->retry_ms = c->now_ms + delay - jitter;
}

/* Deliver the completions owed for credentials (the client is ending). */
static void fail_auths(struct coord_client *c, int err)
{
    for (uint32_t i = 0; i < c->auth_count; i++) {
        struct client_auth *a = c->auths[i];
        if (a->has_tag) {
            a->has_tag = false;
            client_complete_local(c, a->tag, COORD_OP_AUTH, err);
        }
    }
}

/* End the client for good. `done` (may be NULL) is a request answered by the
 * reply that ended it (closeSession), completed first with done_err. */
static void client_end(struct coord_client *c,
                       enum coord_client_state state,
                       int err,
                       int32_t keeper,
                       struct client_req *done,
                       int done_err,
                       coord_zxid zxid)
{
    if (c->conn_open) {
        c->env.close(c->env.ctx);
    }
    c->conn_open = false;
    c->conn_gen++;
    c->state = state;
    coord_buf_reset(&c->in);
    watch_clear_all(c);
    struct client_req *list = fifo_detach_all(c);
    if (done != NULL) {
        struct coord_client_result res;
        result_init(&res, done->tag, done->type, done_err, zxid);
        req_free(c, done);
        client_complete(c, &res);
    }
    fail_list(c, list, err);
    fail_auths(c, err);
    client_session_event(c, keeper);
}

/* Is a closeSession among the requests sent? */
static bool fifo_close_sent(const struct coord_client *c)
{
    for (const struct client_req *r = c->head; r != c->unsent; r = r->next) {
        if (r->kind == REQ_CLOSE) {
            return true;
        }
    }
    return false;
}

/* The connection ended (the host said so, or we closed it). */
static void client_lost(struct coord_client *c)
{
    bool was_connected = c->state == COORD_CLIENT_CONNECTED;
    c->conn_open = false;
    if (fifo_close_sent(c)) {
        /* Done all the same; the session, if still there, expires on the server. */
        client_end(c, COORD_CLIENT_CLOSED, COORD_ECONNECTIONLOSS, COORD_KEEPER_CLOSED, NULL, 0, 0);
        return;
    }
    if (!was_connected) {
        c->failed_attempts++;
    }
    c->conn_gen++;
    coord_buf_reset(&c->in);
    struct client_req *lost = fifo_detach_sent(c);
    client_next_server(c);
    fail_list(c, lost, COORD_ECONNECTIONLOSS);
    if (was_connected) {
        client_session_event(c, COORD_KEEPER_DISCONNECTED);
    }
}

/* Close the connection from our side (timeout, or the server broke the protocol). */
static void client_drop(struct coord_client *c)
{
    c->env.close(c->env.ctx);
    client_lost(c);
}

/* ---- validating and encoding requests ------------------------------------ */

static bool str_ok(struct coord_str s)
{
    return s.len >= -1 && (s.len <= 0 || s.ptr != NULL);
}

static bool op_fields_ok(const struct coord_op *op)
{
    if (!str_ok(op->path) || op->data_len < -1 || (op->data_len > 0 && op->data == NULL)) {
        return false;
    }
    if (op->acl_count < -1 || (op->acl_count > 0 && op->acl == NULL)) {
        return false;
    }
    for (int32_t i = 0; i < op->acl_count; i++) {
        if (!str_ok(op->acl[i].ident.scheme) || !str_ok(op->acl[i].ident.id)) {
            return false;
        }
    }
    return true;
}

static bool op_type_single(int32_t type)
{
    switch (type) {
        case COORD_OP_CREATE:
        case COORD_OP_CREATE2:
        case COORD_OP_CREATECONTAINER:
        case COORD_OP_CREATETTL:
        case COORD_OP_DELETE:
        case COORD_OP_EXISTS:
        case COORD_OP_GETDATA:
        case COORD_OP_SETDATA:
        case COORD_OP_GETACL:
        case COORD_OP_SETACL:
        case COORD_OP_GETCHILDREN:
        case COORD_OP_GETCHILDREN2:
        case COORD_OP_SYNC:
        case COORD_OP_CHECK:
        case COORD_OP_CHECKWATCHES:
        case COORD_OP_REMOVEWATCHES:
        case COORD_OP_DELETECONTAINER:
        case COORD_OP_GETEPHEMERALS:
        case COORD_OP_GETALLCHILDRENNUMBER:
        case COORD_OP_ADDWATCH:
        case COORD_OP_WHOAMI:
            return true;
        default:
            return false;
    }
}

static bool op_sets_watch(const struct coord_op *op)
{
    switch (op->type) {
        case COORD_OP_EXISTS:
        case COORD_OP_GETDATA:
        case COORD_OP_GETCHILDREN:
        case COORD_OP_GETCHILDREN2:
            return op->watch;
        case COORD_OP_ADDWATCH:
            return true;
        default:
            return false;
    }
}

/* Why a request cannot be taken now, or COORD_OK. */
static int client_can_submit(const struct coord_client *c)
{
    if (c->state == COORD_CLIENT_AUTH_FAILED) {
        return COORD_EAUTHFAILED;
    }
    if (client_terminal(c) || c->close_requested) {
        return COORD_ESESSIONEXPIRED;
    }
    return COORD_OK;
}

/* Queue an encoded request and send it when connected. */
static int client_enqueue(struct coord_client *c, struct client_req *r)
{
    if (r->frame.failed) {
        req_free(c, r);
        return COORD_ENOMEM;
    }
    if (r->frame.len - 4 > c->cfg.max_frame_bytes) {
        req_free(c, r);
        return COORD_EBADARGUMENTS;
    }
    fifo_append(c, r);
    if (c->state == COORD_CLIENT_CONNECTED) {
        fifo_flush(c);
    }
    client_arm(c);
    return COORD_OK;
}

/* A new user request, counted against pending_max (and watch_max). */
static struct client_req *client_user_req(struct coord_client *c,
                                          int32_t type,
                                          uint64_t tag,
                                          const struct coord_op *watched,
                                          int *rc)
{
    bool keep_path = watched != NULL;
    if (c->pending_count >= c->cfg.pending_max) {
        *rc = COORD_EFULL;
        return NULL;
    }
    if (keep_path && (type != COORD_OP_REMOVEWATCHES) &&
        c->watches.count + c->watch_reserved >= c->cfg.watch_max) {
        *rc = COORD_EFULL;
        return NULL;
    }
    size_t plen = keep_path && watched->path.len > 0 ? (size_t)watched->path.len : 0;
    struct client_req *r = req_new(REQ_USER, type, tag, keep_path ? watched->path.ptr : NULL, plen);
    if (r == NULL) {
        *rc = COORD_ENOMEM;
        return NULL;
    }
    c->pending_count++;
    if (keep_path) {
        r->watch = watched->watch;
        r->mode = watched->mode;
        if (type != COORD_OP_REMOVEWATCHES) {
            r->reserves = true;
            c->watch_reserved++;
        }
    }
    *rc = COORD_OK;
    return r;
}

int coord_client_submit(struct coord_client *c,
                        const struct coord_op *op,
                        uint64_t tag,
                        coord_time_ms now_ms)
{
    COORD_ASSERT(c != NULL);
    COORD_ASSERT(op != NULL);
    c->now_ms = now_ms;
    int rc = client_can_submit(c);
    if (rc != COORD_OK) {
        return rc;
    }
    if (!op_type_single(op->type) || !op_fields_ok(op)) {
        return COORD_EBADARGUMENTS;
    }
    bool keep = (op_sets_watch(op) || op->type == COORD_OP_REMOVEWATCHES) && op->path.len >= 0;
    struct client_req *r = client_user_req(c, op->type, tag, keep ? op : NULL, &rc);
    if (r == NULL) {
        return rc;
    }
    coord_wire_encode_request(&r->frame, 0, op);
    return client_enqueue(c, r);
}

int coord_client_submit_multi(struct coord_client *c,
                              int32_t type,
                              const struct coord_op *ops,
                              uint32_t count,
                              uint64_t tag,
                              coord_time_ms now_ms)
{
    COORD_ASSERT(c != NULL);
    c->now_ms = now_ms;
    int rc = client_can_submit(c);
    if (rc != COORD_OK) {
        return rc;
    }
    if ((type != COORD_OP_MULTI && type != COORD_OP_MULTIREAD) || count > COORD_MULTI_MAX ||
        (count > 0 && ops == NULL)) {
        return COORD_EBADARGUMENTS;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!coord_wire_multi_allows(type, ops[i].type) || !op_fields_ok(&ops[i])) {
            return COORD_EBADARGUMENTS;
        }
    }
    struct client_req *r = client_user_req(c, type, tag, NULL, &rc);
    if (r == NULL) {
        return rc;
    }
    r->op_count = count;
    coord_wire_encode_multi(&r->frame, 0, type, ops, count);
    return client_enqueue(c, r);
}

/* ---- credentials --------------------------------------------------------- */

static void auth_encode(const struct client_auth *a, struct coord_buf *out)
{
    struct coord_str scheme = {(const char *)a->bytes, (int32_t)a->scheme_len};
    coord_wire_encode_auth(out, scheme, a->bytes + a->scheme_len, (int32_t)a->cred_len);
}

/* Queue (and, when connected, send) the AuthPacket of credential i. */
static int auth_queue(struct coord_client *c, uint32_t i)
{
    struct client_req *r = req_new(REQ_AUTH, COORD_OP_AUTH, 0, NULL, 0);
    if (r == NULL) {
        return COORD_ENOMEM;
    }
    r->auth_index = i;
    r->xid = COORD_XID_AUTH;
    auth_encode(c->auths[i], &r->frame);
    return client_enqueue(c, r);
}

static int64_t auth_find(const struct coord_client *c,
                         struct coord_str scheme,
                         const uint8_t *cred,
                         size_t cred_len)
{
    for (uint32_t i = 0; i < c->auth_count; i++) {
        const struct client_auth *a = c->auths[i];
        if (!a->has_tag && a->scheme_len == (size_t)scheme.len && a->cred_len == cred_len &&
            memcmp(a->bytes, scheme.ptr, a->scheme_len) == 0 &&
            memcmp(a->bytes + a->scheme_len, cred, cred_len) == 0) {
            return i;
        }
    }
    return -1;
}

int coord_client_submit_auth(struct coord_client *c,
                             struct coord_str scheme,
                             const uint8_t *cred,
                             size_t cred_len,
                             uint64_t tag,
                             coord_time_ms now_ms)
{
    COORD_ASSERT(c != NULL);
    c->now_ms = now_ms;
    int rc = client_can_submit(c);
    if (rc != COORD_OK) {
        return rc;
    }
    /* The AuthPacket frame: header 8, type 4, scheme 4 + len, cred 4 + len. */
    if (scheme.ptr == NULL || scheme.len < 0 || (cred == NULL && cred_len > 0) ||
        cred_len > c->cfg.max_frame_bytes ||
        (size_t)scheme.len + cred_len + 20 > c->cfg.max_frame_bytes) {
        return COORD_EBADARGUMENTS;
    }
    int64_t found = auth_find(c, scheme, cred, cred_len);
    uint32_t i;
    if (found >= 0) {
        i = (uint32_t)found;
    } else {
        if (c->auth_count >= COORD_CLIENT_AUTH_MAX) {
            return COORD_EFULL;
        }
        size_t slen = (size_t)scheme.len;
        struct client_auth *a = coord_malloc(sizeof *a + slen + cred_len);
        if (a == NULL) {
            return COORD_ENOMEM;
        }
        memset(a, 0, sizeof *a);
        a->scheme_len = slen;
        a->cred_len = cred_len;
        memcpy(a->bytes, scheme.ptr, slen);
        if (cred_len > 0) {
            memcpy(a->bytes + slen, cred, cred_len);
        }
        i = c->auth_count++;
        c->auths[i] = a;
    }
    c->auths[i]->has_tag = true;
    c->auths[i]->tag = tag;
    if (c->state != COORD_CLIENT_CONNECTED) {
        client_arm(c);
        return COORD_OK; /* Sent after the next handshake, with the others. */
    }
    rc = auth_queue(c, i);
    if (rc != COORD_OK) {
        c->auths[i]->has_tag = false;
    }
    return rc;
}

int coord_client_submit_close(struct coord_client *c, uint64_t tag, coord_time_ms now_ms)
{
    COORD_ASSERT(c != NULL);
    c->now_ms = now_ms;
    int rc = client_can_submit(c);
    if (rc != COORD_OK) {
        return rc;
    }
    struct client_req *r = req_new(REQ_CLOSE, COORD_OP_CLOSESESSION, tag, NULL, 0);
    if (r == NULL) {
        return COORD_ENOMEM;
    }
    coord_wire_encode_close(&r->frame, 0);
    rc = client_enqueue(c, r);
    if (rc == COORD_OK) {
        c->close_requested = true;
    }
    return rc;
}

/* ---- the handshake ------------------------------------------------------- */

static void client_send_connect(struct coord_client *c)
{
    struct coord_connect_req req;
    memset(&req, 0, sizeof req);
    req.protocol_version = 0;
    req.last_zxid = c->last_zxid;
    req.timeout_ms = c->cfg.session_timeout_ms;
    req.session = c->session_id;
    req.passwd = c->passwd;
    req.passwd_len = COORD_WIRE_PASSWD_LEN;
    req.has_readonly = true;
    req.readonly = c->cfg.read_only;
    struct coord_buf b;
    coord_buf_init(&b);
    coord_wire_encode_connect(&b, &req);
    if (!b.failed) {
        client_write(c, &b);
    } else {
        c->oom = true; /* The attempt times out and the next one tries again. */
    }
    coord_buf_free(&b);
}

/* Bytes one watch entry adds to a setWatches request. */
static size_t watch_entry_bytes(const struct client_watch *w)
{
    size_t lists = 0;
    for (unsigned bit = 1; bit <= WATCH_RECURSIVE; bit <<= 1) {
        lists += (w->kinds & bit) != 0;
    }
    return lists * (4 + w->len);
}

static int watch_list_of(unsigned bit)
{
    switch (bit) {
        case WATCH_DATA:
            return COORD_WATCHES_DATA;
        case WATCH_EXIST:
            return COORD_WATCHES_EXIST;
        case WATCH_CHILD:
            return COORD_WATCHES_CHILD;
        case WATCH_PERSISTENT:
            return COORD_WATCHES_PERSISTENT;
        default:
            return COORD_WATCHES_PERSISTENT_RECURSIVE;
    }
}

/* One setWatches request holding the entries from *pos on, up to the batch
 * size (at least one entry). Returns false when no entry was left. */
static bool setwatches_batch(struct coord_client *c,
                             size_t *pos,
                             struct coord_str *items,
                             bool v2,
                             struct coord_buf *out)
{
    size_t n = c->watches.count;
    const struct coord_str *lists[COORD_WATCH_LISTS];
    int32_t counts[COORD_WATCH_LISTS] = {0, 0, 0, 0, 0};
    for (int i = 0; i < COORD_WATCH_LISTS; i++) {
        lists[i] = items + (size_t)i * n;
    }
    size_t bytes = 0;
    bool any = false;
    for (;;) {
        size_t before = *pos;
        const char *key;
        size_t key_len;
        void *value;
        if (!coord_strmap_next(&c->watches, pos, &key, &key_len, &value)) {
            break;
        }
        const struct client_watch *w = value;
        size_t size = watch_entry_bytes(w);
        if (any && bytes + size > COORD_CLIENT_SETWATCHES_BATCH) {
            *pos = before;
            break;
        }
        for (unsigned bit = 1; bit <= WATCH_RECURSIVE; bit <<= 1) {
            if ((w->kinds & bit) != 0) {
                int l = watch_list_of(bit);
                struct coord_str s = {w->path, (int32_t)w->len};
                items[(size_t)l * n + (size_t)counts[l]++] = s;
            }
        }
        bytes += size;
        any = true;
    }
    if (any) {
        coord_wire_encode_setwatches(out, c->last_zxid, lists, counts, v2);
    }
    return any;
}

/* Queue the setWatches requests that re-register every remembered watch. */
static int client_queue_setwatches(struct coord_client *c)
{
    size_t n = c->watches.count;
    if (n == 0) {
        return COORD_OK;
    }
    bool v2 = false;
    size_t pos = 0;
    const char *key;
    size_t key_len;
    void *value;
    while (coord_strmap_next(&c->watches, &pos, &key, &key_len, &value)) {
        const struct client_watch *w = value;
        v2 = v2 || (w->kinds & (WATCH_PERSISTENT | WATCH_RECURSIVE)) != 0;
    }
    struct coord_str *items = coord_calloc(n * COORD_WATCH_LISTS, sizeof *items);
    if (items == NULL) {
        return COORD_ENOMEM;
    }
    int rc = COORD_OK;
    pos = 0;
    for (;;) {
        struct client_req *r =
            req_new(REQ_SETWATCHES, v2 ? COORD_OP_SETWATCHES2 : COORD_OP_SETWATCHES, 0, NULL, 0);
        if (r == NULL) {
            rc = COORD_ENOMEM;
            break;
        }
        r->xid = COORD_XID_SETWATCHES;
        if (!setwatches_batch(c, &pos, items, v2, &r->frame)) {
            req_free(c, r);
            break;
        }
        if (r->frame.failed) {
            req_free(c, r);
            rc = COORD_ENOMEM;
            break;
        }
        fifo_append(c, r);
    }
    coord_free(items);
    return rc;
}

/* Put the connection's opening requests (auths, setWatches) before the
 * requests queued while disconnected, then send everything. */
static int client_open_session(struct coord_client *c)
{
    COORD_ASSERT(c->head == c->unsent);
    struct client_req *queued = fifo_detach_all(c);
    int rc = COORD_OK;
    for (uint32_t i = 0; i < c->auth_count && rc == COORD_OK; i++) {
        struct client_req *r = req_new(REQ_AUTH, COORD_OP_AUTH, 0, NULL, 0);
        if (r == NULL) {
            rc = COORD_ENOMEM;
            break;
        }
        r->auth_index = i;
        r->xid = COORD_XID_AUTH;
        auth_encode(c->auths[i], &r->frame);
        fifo_append(c, r);
        rc = r->frame.failed ? COORD_ENOMEM : COORD_OK;
    }
    if (rc == COORD_OK) {
        rc = client_queue_setwatches(c);
    }
    /* The queued requests go after the opening ones, in their order. */
    if (queued != NULL) {
        struct client_req *last = queued;
        while (last->next != NULL) {
            last = last->next;
        }
        if (c->tail != NULL) {
            c->tail->next = queued;
        } else {
            c->head = queued;
        }
        if (c->unsent == NULL) {
            c->unsent = queued;
        }
        c->tail = last;
    }
    if (rc != COORD_OK) {
        /* Drop the opening requests built so far; the user's stay queued. */
        while (c->head != queued) {
            req_free(c, fifo_pop(c));
        }
        return rc;
    }
    fifo_flush(c);
    return COORD_OK;
}

static void client_handshake(struct coord_client *c, const uint8_t *payload, size_t len)
{
    struct coord_connect_resp resp;
    if (coord_wire_decode_connect_resp(payload, len, &resp) != COORD_OK) {
        client_drop(c);
        return;
    }
    if (resp.timeout_ms <= 0 || resp.session == 0 ||
        (c->session_id != 0 && resp.session != c->session_id)) {
        client_end(c, COORD_CLIENT_EXPIRED, COORD_ESESSIONEXPIRED, COORD_KEEPER_EXPIRED, NULL, 0,
                   0);
        return;
    }
    c->session_id = resp.session;
    memcpy(c->passwd, resp.passwd, sizeof c->passwd);
    c->timeout_ms = resp.timeout_ms;
    c->read_only_server = resp.has_readonly && resp.readonly;
    c->last_recv_ms = c->now_ms;
    c->last_send_ms = c->now_ms;
    if (client_open_session(c) != COORD_OK) {
        c->oom = true;
        client_drop(c);
        return;
    }
    c->state = COORD_CLIENT_CONNECTED;
    c->failed_attempts = 0;
    client_session_event(
        c, c->read_only_server ? COORD_KEEPER_CONNECTED_READONLY : COORD_KEEPER_SYNC_CONNECTED);
}

/* ---- replies ------------------------------------------------------------- */

static int decode_multi(struct coord_client *c,
                        struct coord_reader *r,
                        uint32_t op_count,
                        struct coord_client_result *res)
{
    if (op_count > c->results_cap) {
        struct coord_multi_result *m = coord_realloc(c->results, op_count * sizeof *m);
        if (m == NULL) {
            return COORD_ENOMEM;
        }
        c->results = m;
        c->results_cap = op_count;
    }
    uint32_t n = 0;
    for (;;) {
        struct coord_multi_result one;
        int rc = coord_wire_get_multi_result(r, &one);
        if (rc < 0) {
            return COORD_EMARSHALLING;
        }
        if (rc == 0) {
            break;
        }
        if (n == op_count) {
            return COORD_EMARSHALLING; /* More results than ops. */
        }
        c->results[n++] = one;
    }
    if (n != op_count) {
        return COORD_EMARSHALLING;
    }
    res->results = c->results;
    res->result_count = n;
    return COORD_OK;
}

/* Decode a successful reply's record into res. *acl_owned receives what the
 * caller frees after the completion. */
static int decode_body(struct coord_client *c,
                       const struct client_req *req,
                       struct coord_reader *r,
                       struct coord_client_result *res,
                       struct coord_acl **acl_owned)
{
    int rc = COORD_OK;
    switch (req->type) {
        case COORD_OP_CREATE:
        case COORD_OP_SYNC:
            coord_wire_get_str(r, &res->path);
            break;
        case COORD_OP_CREATE2:
        case COORD_OP_CREATECONTAINER:
        case COORD_OP_CREATETTL:
            coord_wire_get_str(r, &res->path);
            res->has_stat = coord_wire_get_stat(r, &res->stat) == COORD_OK;
            break;
        case COORD_OP_EXISTS:
        case COORD_OP_SETDATA:
        case COORD_OP_SETACL:
            res->has_stat = coord_wire_get_stat(r, &res->stat) == COORD_OK;
            break;
        case COORD_OP_GETDATA:
            coord_wire_get_buffer(r, &res->data, &res->data_len);
            res->has_stat = coord_wire_get_stat(r, &res->stat) == COORD_OK;
            break;
        case COORD_OP_GETACL: {
            struct coord_acl *acl = NULL;
            rc = coord_wire_get_acl_vector(r, &acl, &res->acl_count);
            *acl_owned = acl;
            res->acl = acl;
            res->has_stat = rc == COORD_OK && coord_wire_get_stat(r, &res->stat) == COORD_OK;
            break;
        }
        case COORD_OP_GETCHILDREN:
        case COORD_OP_GETEPHEMERALS:
            coord_wire_get_strvec(r, &res->children);
            break;
        case COORD_OP_GETCHILDREN2:
            coord_wire_get_strvec(r, &res->children);
            res->has_stat = coord_wire_get_stat(r, &res->stat) == COORD_OK;
            break;
        case COORD_OP_GETALLCHILDRENNUMBER:
            res->number = coord_wire_get_int(r);
            break;
        case COORD_OP_WHOAMI:
            coord_wire_get_ident_vector(r, &res->idents);
            break;
        case COORD_OP_MULTI:
        case COORD_OP_MULTIREAD:
            rc = decode_multi(c, r, req->op_count, res);
            break;
        default: /* delete, check, addWatch, removeWatches...: nothing to read. */
            break;
    }
    if (rc == COORD_OK && r->failed) {
        rc = COORD_EMARSHALLING;
    }
    return rc;
}

/* Only replies > 0 count, never notifications (zk-wire §5.3). */
static void note_zxid(struct coord_client *c, coord_zxid zxid)
{
    if (zxid > c->last_zxid) {
        c->last_zxid = zxid;
    }
}

static int reply_user(struct coord_client *c,
                      int32_t err,
                      coord_zxid zxid,
                      const uint8_t *body,
                      size_t len)
{
    struct client_req *req = c->head;
    struct coord_client_result res;
    result_init(&res, req->tag, req->type, err, zxid);
    struct coord_acl *acl = NULL;
    if (err == COORD_OK) {
        res.body = body;
        res.body_len = len;
        struct coord_reader r;
        coord_reader_init(&r, body, len);
        int rc = decode_body(c, req, &r, &res, &acl);
        if (rc != COORD_OK) {
            coord_free(acl);
            return rc;
        }
    }
    note_zxid(c, zxid);
    fifo_pop(c);
    watch_note_reply(c, req, err);
    req_free(c, req);
    client_complete(c, &res);
    coord_free(acl);
    return COORD_OK;
}

static void reply_auth(struct coord_client *c, struct client_req *req, int32_t err, coord_zxid zxid)
{
    struct client_auth *a = c->auths[req->auth_index];
    req_free(c, req);
    if (err != COORD_OK) {
        /* The server closes after a rejected credential; we are done too. */
        client_end(c, COORD_CLIENT_AUTH_FAILED, COORD_EAUTHFAILED, COORD_KEEPER_AUTH_FAILED, NULL,
                   0, 0);
        return;
    }
    if (a->has_tag) {
        a->has_tag = false;
        struct coord_client_result res;
        result_init(&res, a->tag, COORD_OP_AUTH, COORD_OK, zxid);
        client_complete(c, &res);
    }
}

static void client_notification(struct coord_client *c, const uint8_t *body, size_t len)
{
    struct coord_reader r;
    coord_reader_init(&r, body, len);
    struct coord_watcher_event ev;
    if (coord_wire_get_watcher_event(&r, &ev) != COORD_OK || ev.path.len < 0) {
        client_drop(c);
        return;
    }
    watch_clear(c, ev.path.ptr, (size_t)ev.path.len, watch_fired_kinds(ev.type));
    client_event(c, ev.type, ev.state, ev.path.ptr, ev.path.len);
}

/* A reply to a user request; one that does not decode drops the connection. */
static void client_reply_user(struct coord_client *c,
                              int32_t err,
                              coord_zxid zxid,
                              const uint8_t *body,
                              size_t len)
{
    int rc = reply_user(c, err, zxid, body, len);
    if (rc == COORD_ENOMEM) {
        c->oom = true;
    }
    if (rc != COORD_OK) {
        client_drop(c);
    }
}

/* One frame on an established connection. */
static void client_reply(struct coord_client *c, const uint8_t *payload, size_t len)
{
    int32_t xid;
    coord_zxid zxid;
    int32_t err;
    size_t off;
    if (coord_wire_decode_reply_header(payload, len, &xid, &zxid, &err, &off) != COORD_OK) {
        client_drop(c);
        return;
    }
    if (xid == COORD_XID_NOTIFICATION) {
        client_notification(c, payload + off, len - off);
        return;
    }
    if (xid == COORD_XID_PING) {
        note_zxid(c, zxid); /* Taken whenever it comes, like the C and Java clients. */
        return;
    }
    struct client_req *head = c->head;
    if (head == NULL || !head->sent || head->xid != xid) {
        client_drop(c); /* Out of order: the stream can no longer be trusted. */
        return;
    }
    if (head->kind == REQ_USER) {
        client_reply_user(c, err, zxid, payload + off, len - off); /* Notes zxid if it decodes. */
        return;
    }
    note_zxid(c, zxid);
    struct client_req *req = fifo_pop(c);
    switch (req->kind) {
        case REQ_AUTH:
            reply_auth(c, req, err, zxid);
            break;
        case REQ_CLOSE:
            client_end(c, COORD_CLIENT_CLOSED, COORD_ECONNECTIONLOSS, COORD_KEEPER_CLOSED, req, err,
                       zxid);
            break;
        default: /* setWatches: the server's events came before it. */
            req_free(c, req);
            break;
    }
}

/* ---- host events --------------------------------------------------------- */

static int client_result(struct coord_client *c)
{
    client_arm(c);
    int rc = c->oom ? COORD_ENOMEM : COORD_OK;
    c->oom = false;
    return rc;
}

int coord_client_on_connected(struct coord_client *c, coord_time_ms now_ms)
{
    COORD_ASSERT(c != NULL && c->depth == 0);
    c->now_ms = now_ms;
    if (c->state != COORD_CLIENT_CONNECTING || !c->conn_open) {
        return client_result(c);
    }
    c->state = COORD_CLIENT_ASSOCIATING;
    c->attempt_ms = now_ms;
    coord_buf_reset(&c->in);
    client_send_connect(c);
    return client_result(c);
}

int coord_client_on_data(struct coord_client *c, coord_time_ms now_ms, const void *data, size_t len)
{
    COORD_ASSERT(c != NULL && c->depth == 0);
    c->now_ms = now_ms;
    if (!c->conn_open ||
        (c->state != COORD_CLIENT_ASSOCIATING && c->state != COORD_CLIENT_CONNECTED)) {
        return client_result(c);
    }
    c->last_recv_ms = now_ms;
    coord_buf_put(&c->in, data, len);
    if (c->in.failed) {
        coord_buf_free(&c->in);
        c->oom = true;
        client_drop(c);
        return client_result(c);
    }
    uint64_t gen = c->conn_gen;
    size_t off = 0;
    while (c->conn_gen == gen) {
        size_t flen;
        int fr = coord_wire_frame(c->in.data + off, c->in.len - off, c->cfg.max_frame_bytes, &flen);
        if (fr < 0) {
            client_drop(c);
            break;
        }
        if (fr == 0) {
            break;
        }
        const uint8_t *payload = c->in.data + off + 4;
        off += 4 + flen;
        if (c->state == COORD_CLIENT_ASSOCIATING) {
            client_handshake(c, payload, flen);
        } else {
            client_reply(c, payload, flen);
        }
    }
    if (c->conn_gen == gen && off > 0) {
        coord_buf_consume(&c->in, off);
    }
    return client_result(c);
}

int coord_client_on_closed(struct coord_client *c, coord_time_ms now_ms)
{
    COORD_ASSERT(c != NULL && c->depth == 0);
    c->now_ms = now_ms;
    if (c->conn_open && !client_terminal(c)) {
        client_lost(c);
    }
    return client_result(c);
}

int coord_client_on_timeout(struct coord_client *c, coord_time_ms now_ms)
{
    COORD_ASSERT(c != NULL && c->depth == 0);
    c->now_ms = now_ms;
    if (now_ms >= c->wake_ms) {
        c->wake_ms = CLIENT_TIME_MAX;
    }
    switch (c->state) {
        case COORD_CLIENT_CONNECTING:
            if (!c->started) {
                break;
            }
            if (!c->conn_open) {
                if (now_ms >= c->retry_ms) {
                    client_connect(c);
                }
            } else if (now_ms >= c->attempt_ms + client_connect_timeout(c)) {
                client_drop(c);
            }
            break;
        case COORD_CLIENT_ASSOCIATING:
            if (now_ms >= c->attempt_ms + client_connect_timeout(c)) {
                client_drop(c);
            }
            break;
        case COORD_CLIENT_CONNECTED:
            if (now_ms >= c->last_recv_ms + client_recv_timeout(c)) {
                client_drop(c);
            } else if (now_ms >= c->last_send_ms + client_ping_interval(c)) {
                struct coord_buf b;
                coord_buf_init(&b);
                coord_wire_encode_ping(&b);
                if (!b.failed) {
                    client_write(c, &b);
                } else {
                    c->oom = true;
                }
                coord_buf_free(&b);
            }
            break;
        default:
            break;
    }
    return client_result(c);
}

/* ---- life cycle ---------------------------------------------------------- */

int coord_client_init(struct coord_client *c,
                      const struct coord_client_config *cfg,
                      const struct coord_client_env *env)
{
    COORD_ASSERT(c != NULL);
    memset(c, 0, sizeof *c);
    coord_strmap_init(&c->watches);
    coord_buf_init(&c->in);
    c->state = COORD_CLIENT_CLOSED; /* Until init succeeds: close() stays safe. */
    if (cfg == NULL || env == NULL || env->connect == NULL || env->write == NULL ||
        env->close == NULL || env->wake_at == NULL || cfg->server_count == 0 ||
        cfg->session_timeout_ms < 0 || cfg->retry_delay_ms < 0) {
        return COORD_EBADARGUMENTS;
    }
    c->cfg = *cfg;
    c->env = *env;
    if (c->cfg.session_timeout_ms == 0) {
        c->cfg.session_timeout_ms = 30000;
    }
    if (c->cfg.pending_max == 0) {
        c->cfg.pending_max = 4096;
    }
    if (c->cfg.watch_max == 0) {
        c->cfg.watch_max = 65536;
    }
    if (c->cfg.retry_delay_ms == 0) {
        c->cfg.retry_delay_ms = 1000;
    }
    if (c->cfg.max_frame_bytes == 0) {
        c->cfg.max_frame_bytes = COORD_WIRE_MAX_FRAME;
    }
    coord_rng_seed(&c->rng, cfg->seed);
    c->server_index = (uint32_t)coord_rng_below(&c->rng, c->cfg.server_count);
    c->state = COORD_CLIENT_CONNECTING;
    c->next_xid = 1;
    c->wake_ms = CLIENT_TIME_MAX;
    return COORD_OK;
}

void coord_client_start(struct coord_client *c, coord_time_ms now_ms)
{
    COORD_ASSERT(c != NULL && c->depth == 0);
    COORD_ASSERT(!c->started);
    c->now_ms = now_ms;
    if (client_terminal(c)) {
        return;
    }
    c->started = true;
    client_connect(c);
    client_arm(c);
}

void coord_client_close(struct coord_client *c)
{
    COORD_ASSERT(c != NULL && c->depth == 0);
    if (c->conn_open) {
        c->env.close(c->env.ctx);
        c->conn_open = false;
    }
    c->state = COORD_CLIENT_CLOSED;
    struct client_req *list = fifo_detach_all(c);
    fail_list(c, list, COORD_ECONNECTIONLOSS);
    fail_auths(c, COORD_ECONNECTIONLOSS);
    for (uint32_t i = 0; i < c->auth_count; i++) {
        coord_free(c->auths[i]);
        c->auths[i] = NULL;
    }
    c->auth_count = 0;
    watch_clear_all(c);
    coord_strmap_free(&c->watches);
    coord_buf_free(&c->in);
    coord_free(c->results);
    c->results = NULL;
    c->results_cap = 0;
}
