/* One coord server: the request pipeline of a standalone ZooKeeper server over
 * the event interface of env.h.
 *
 * Writes: request -> prepare (a transaction with the next zxid) -> log append
 * -> SYNCED -> apply -> reply. Many writes may be logged before the first
 * sync returns; they share that sync (group commit) and apply in zxid order.
 * Reads are answered at once unless an earlier request of the same connection
 * is still waiting for its sync: then they wait behind it, so every
 * connection sees its replies in request order and each read sees the
 * connection's own earlier writes (ZooKeeper's per-session ordering). */
#include "coord/server.h"

#include <string.h>

#include "coord/wire.h"
#include "server_int.h"

#define SERVER_HANDSHAKE_TIMEOUT_DEFAULT_MS 10000
#define SERVER_CONN_QUEUE_MAX 10000       /* Requests in flight per connection. */
#define SERVER_CONN_INBUF_MAX (64u << 20) /* Unparsed bytes per connection. */
#define SERVER_IDS_MAX 64                 /* Auth ids per connection. */

/* ---- small helpers -------------------------------------------------------------- */

void server_trace(struct coord_server *s,
                  enum coord_trace_type type,
                  int64_t a,
                  int64_t b,
                  int64_t c,
                  const char *text)
{
    server_trace_d(s, type, a, b, c, 0, text);
}

void server_trace_d(struct coord_server *s,
                    enum coord_trace_type type,
                    int64_t a,
                    int64_t b,
                    int64_t c,
                    int64_t d,
                    const char *text)
{
    if (s->env.trace == NULL) {
        return;
    }
    struct coord_trace ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.node = s->cfg.id;
    ev.now_ms = s->now_ms;
    ev.a = a;
    ev.b = b;
    ev.c = c;
    ev.d = d;
    ev.text = text;
    ev.text_len = text == NULL ? 0 : strlen(text);
    s->env.trace(s->env.ctx, &ev);
}

static int64_t server_wall(const struct coord_server *s)
{
    return s->wall_ms != 0 ? s->wall_ms : s->now_ms;
}

static void conn_send(struct coord_server *s, struct server_conn *c, struct coord_buf *b)
{
    if (b->failed || b->len == 0 || c->state == CONN_CLOSING) {
        coord_buf_reset(b);
        return;
    }
    s->env.conn_write(s->env.ctx, c->id, b->data, b->len);
    c->sent++;
    s->stats.packets_sent++;
    coord_buf_reset(b);
}

static void conn_free_slots(struct server_conn *c)
{
    while (c->slots != NULL) {
        struct conn_slot *slot = c->slots;
        c->slots = slot->next;
        if (slot->write != NULL && slot->write->forwarded) {
            coord_free(slot->write); /* A learner's record: the slot owns it. */
        } else if (slot->write != NULL) {
            slot->write->conn = NULL; /* Its reply has nowhere to go now. */
        }
        coord_free(slot);
    }
    c->slots_tail = NULL;
    c->slot_count = 0;
}

static void conn_free(struct coord_server *s, struct server_conn *c)
{
    coord_watches_remove_watcher(&s->watches, c->id);
    if (c->session != 0) {
        struct coord_session *sess = coord_sessions_get(&s->sessions, c->session);
        if (sess != NULL && sess->conn == c->id) {
            sess->conn = 0;
        }
    }
    conn_free_slots(c);
    for (size_t i = 0; i < c->id_count; i++) {
        coord_free((void *)c->ids[i].scheme.ptr);
    }
    coord_free(c->ids);
    coord_buf_free(&c->in);
    coord_u64map_del(&s->conns, c->id);
    coord_free(c);
}

/* Close a connection from our side: the host flushes what was written first. */
static void conn_close(struct coord_server *s, struct server_conn *c, const char *why)
{
    if (c->state == CONN_CLOSING) {
        return;
    }
    server_trace(s, COORD_TRACE_CONN_REJECTED, (int64_t)c->id, 0, 0, why);
    c->state = CONN_CLOSING;
    s->env.conn_close(s->env.ctx, c->id);
    /* Drop what it still had queued, and its watches; the struct itself goes
     * when the host reports CONN_CLOSED. */
    conn_free_slots(c);
    coord_watches_remove_watcher(&s->watches, c->id);
    if (c->session != 0) {
        struct coord_session *sess = coord_sessions_get(&s->sessions, c->session);
        if (sess != NULL && sess->conn == c->id) {
            sess->conn = 0;
        }
    }
}

void server_conn_close(struct coord_server *s, struct server_conn *c, const char *why)
{
    conn_close(s, c, why);
}

void server_close_clients(struct coord_server *s, bool all, const char *why)
{
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&s->conns, &pos, &key, &value)) {
        struct server_conn *c = value;
        /* Connections still in their handshake are held, not closed: they
         * are answered once the server serves again (or time out). */
        if (c->state != CONN_NEW && (all || !c->read_only)) {
            conn_close(s, c, why);
        }
    }
}

static int conn_add_id(struct server_conn *c,
                       const char *scheme,
                       size_t slen,
                       const char *id,
                       size_t ilen)
{
    for (size_t i = 0; i < c->id_count; i++) {
        const struct coord_ident *x = &c->ids[i];
        if ((size_t)x->scheme.len == slen && memcmp(x->scheme.ptr, scheme, slen) == 0 &&
            (size_t)x->id.len == ilen && memcmp(x->id.ptr, id, ilen) == 0) {
            return COORD_OK; /* ZooKeeper keeps a set. */
        }
    }
    if (c->id_count >= SERVER_IDS_MAX) {
        return COORD_EAUTHFAILED;
    }
    struct coord_ident *ids = coord_realloc(c->ids, (c->id_count + 1) * sizeof *ids);
    if (ids == NULL) {
        return COORD_ENOMEM;
    }
    c->ids = ids;
    char *bytes = coord_malloc(slen + ilen + 1);
    if (bytes == NULL) {
        return COORD_ENOMEM;
    }
    memcpy(bytes, scheme, slen);
    memcpy(bytes + slen, id, ilen);
    struct coord_ident *x = &c->ids[c->id_count++];
    x->scheme.ptr = bytes;
    x->scheme.len = (int32_t)slen;
    x->id.ptr = bytes + slen;
    x->id.len = (int32_t)ilen;
    return COORD_OK;
}

static struct coord_authinfo conn_auth(const struct server_conn *c)
{
    struct coord_authinfo a = {c->ids, c->id_count, c->super};
    return a;
}

/* ---- change notifications ------------------------------------------------------------ */

static void server_notify(void *arg, uint64_t watcher, int type, const char *path, size_t len)
{
    struct coord_server *s = arg;
    struct server_conn *c = coord_u64map_get(&s->conns, watcher);
    if (c == NULL || c->state != CONN_ACTIVE) {
        return;
    }
    /* Its own scratch buffer: a reply may be under construction in s->out. */
    coord_wire_notification(&s->notebuf, type, COORD_WIRE_STATE_SYNC_CONNECTED, path, len);
    conn_send(s, c, &s->notebuf);
}

static void server_tree_changed(void *arg, int type, const char *path, size_t len, coord_zxid zxid)
{
    struct coord_server *s = arg;
    (void)zxid;
    coord_watches_trigger(&s->watches, type, path, len, server_notify, s);
}

/* ---- replies ------------------------------------------------------------------------------ */

static coord_zxid server_last_zxid(const struct coord_server *s)
{
    return s->tree.last_zxid;
}

static void reply_header(struct coord_server *s,
                         struct server_conn *c,
                         int32_t xid,
                         coord_zxid zxid,
                         int err)
{
    coord_wire_reply_header_only(&s->out, xid, zxid, coord_err_wire(err));
    conn_send(s, c, &s->out);
}

void server_reply_header(struct coord_server *s,
                         struct server_conn *c,
                         int32_t xid,
                         coord_zxid zxid,
                         int err)
{
    reply_header(s, c, xid, zxid, err);
}

static void note_latency(struct coord_server *s,
                         struct server_conn *c,
                         coord_time_ms started,
                         int32_t xid,
                         int32_t type,
                         coord_zxid zxid)
{
    int64_t lat = s->now_ms - started;
    if (lat < 0) {
        lat = 0;
    }
    struct coord_server_stats *st = &s->stats;
    if (st->latency_count == 0 || lat < st->latency_min_ms) {
        st->latency_min_ms = lat;
    }
    if (lat > st->latency_max_ms) {
        st->latency_max_ms = lat;
    }
    st->latency_sum_ms += lat;
    st->latency_count++;
    c->last_cxid = xid;
    c->last_op = type;
    c->last_zxid = zxid;
    c->last_response_ms = s->now_ms;
    c->last_latency_ms = lat;
    if (c->latency_count == 0 || lat < c->latency_min_ms) {
        c->latency_min_ms = lat;
    }
    if (lat > c->latency_max_ms) {
        c->latency_max_ms = lat;
    }
    c->latency_sum_ms += lat;
    c->latency_count++;
}

/* ---- reads ----------------------------------------------------------------------------------- */

static const struct tree_node *read_node(struct coord_server *s, const struct coord_op *op)
{
    if (op->path.ptr == NULL || op->path.len < 0) {
        return NULL;
    }
    return coord_tree_get(&s->tree, op->path.ptr, (size_t)op->path.len);
}

static int read_check(const struct server_conn *c, const struct tree_node *n, int32_t perm)
{
    size_t count;
    const struct coord_acl *acl = coord_tree_node_acl(n, &count);
    struct coord_authinfo auth = conn_auth(c);
    return coord_acl_check(acl, count, perm, &auth);
}

static void put_children(struct coord_buf *b, const struct tree_node *n)
{
    coord_wire_put_int(b, coord_tree_node_num_children(n));
    for (const struct tree_node *ch = coord_tree_node_next_child(n, NULL); ch != NULL;
         ch = coord_tree_node_next_child(n, ch)) {
        size_t len;
        const char *name = coord_tree_node_name(ch, &len);
        coord_wire_put_str(b, name, len);
    }
}

static void put_acl_masked(struct coord_buf *b, const struct coord_acl *acl, size_t count)
{
    /* Without READ (only ADMIN), digest hashes are masked as "user:x". */
    coord_wire_put_int(b, (int32_t)count);
    for (size_t i = 0; i < count; i++) {
        coord_wire_put_int(b, acl[i].perms);
        coord_wire_put_ustring(b, acl[i].ident.scheme);
        struct coord_str id = acl[i].ident.id;
        if (acl[i].ident.scheme.len == 6 && memcmp(acl[i].ident.scheme.ptr, "digest", 6) == 0 &&
            id.ptr != NULL) {
            const char *colon = memchr(id.ptr, ':', (size_t)id.len);
            if (colon != NULL) {
                size_t ulen = (size_t)(colon - id.ptr);
                coord_wire_put_int(b, (int32_t)(ulen + 2));
                coord_buf_put(b, id.ptr, ulen);
                coord_buf_put(b, ":x", 2);
                continue;
            }
        }
        coord_wire_put_ustring(b, id);
    }
}

/* A read op's body, or an error code. Sets watches when asked. Used for
 * single reads and for the ops of a multiRead (which ignore watch flags). */
static int read_body(struct coord_server *s,
                     struct server_conn *c,
                     const struct coord_op *op,
                     bool watches,
                     struct coord_buf *b)
{
    const struct tree_node *n = read_node(s, op);
    struct coord_stat st;
    int rc;
    switch (op->type) {
        case COORD_OP_EXISTS:
            if (watches && op->watch && op->path.ptr != NULL && op->path.len >= 0) {
                int kind = n != NULL ? COORD_WATCH_DATA : COORD_WATCH_EXIST;
                rc =
                    coord_watches_add(&s->watches, c->id, op->path.ptr, (size_t)op->path.len, kind);
                if (rc != COORD_OK) {
                    return rc;
                }
            }
            if (n == NULL) {
                return COORD_ENONODE;
            }
            coord_tree_node_stat(n, &st);
            coord_wire_put_stat(b, &st);
            return COORD_OK;
        case COORD_OP_GETDATA: {
            if (n == NULL) {
                return COORD_ENONODE;
            }
            rc = read_check(c, n, COORD_PERM_READ);
            if (rc != COORD_OK) {
                return rc;
            }
            if (watches && op->watch) {
                rc = coord_watches_add(&s->watches, c->id, op->path.ptr, (size_t)op->path.len,
                                       COORD_WATCH_DATA);
                if (rc != COORD_OK) {
                    return rc;
                }
            }
            int32_t len;
            const uint8_t *data = coord_tree_node_data(n, &len);
            coord_wire_put_buffer(b, data, len);
            coord_tree_node_stat(n, &st);
            coord_wire_put_stat(b, &st);
            return COORD_OK;
        }
        case COORD_OP_GETCHILDREN:
        case COORD_OP_GETCHILDREN2:
            if (n == NULL) {
                return COORD_ENONODE;
            }
            rc = read_check(c, n, COORD_PERM_READ);
            if (rc != COORD_OK) {
                return rc;
            }
            if (watches && op->watch) {
                rc = coord_watches_add(&s->watches, c->id, op->path.ptr, (size_t)op->path.len,
                                       COORD_WATCH_CHILD);
                if (rc != COORD_OK) {
                    return rc;
                }
            }
            put_children(b, n);
            if (op->type == COORD_OP_GETCHILDREN2) {
                coord_tree_node_stat(n, &st);
                coord_wire_put_stat(b, &st);
            }
            return COORD_OK;
        case COORD_OP_GETACL: {
            if (n == NULL) {
                return COORD_ENONODE;
            }
            bool can_read = read_check(c, n, COORD_PERM_READ) == COORD_OK;
            if (!can_read && read_check(c, n, COORD_PERM_ADMIN) != COORD_OK) {
                return COORD_ENOAUTH;
            }
            size_t count;
            const struct coord_acl *acl = coord_tree_node_acl(n, &count);
            if (can_read) {
                coord_wire_put_acl_vector(b, acl, count);
            } else {
                put_acl_masked(b, acl, count);
            }
            coord_tree_node_stat(n, &st);
            coord_wire_put_stat(b, &st);
            return COORD_OK;
        }
        case COORD_OP_GETALLCHILDRENNUMBER:
            if (n == NULL) {
                return COORD_ENONODE;
            }
            rc = read_check(c, n, COORD_PERM_READ);
            if (rc != COORD_OK) {
                return rc;
            }
            coord_wire_put_int(b, (int32_t)coord_tree_count_descendants(n));
            return COORD_OK;
        default:
            return COORD_EUNIMPLEMENTED;
    }
}

static void do_read(struct coord_server *s, struct server_conn *c, const struct coord_request *req)
{
    size_t start = coord_wire_reply_begin(&s->out, req->xid, server_last_zxid(s), 0);
    int rc = read_body(s, c, &req->op, true, &s->out);
    if (rc != COORD_OK) {
        coord_buf_reset(&s->out);
        reply_header(s, c, req->xid, server_last_zxid(s), rc);
        return;
    }
    coord_wire_frame_end(&s->out, start);
    conn_send(s, c, &s->out);
}

static void do_multi_read(struct coord_server *s,
                          struct server_conn *c,
                          const struct coord_request *req)
{
    struct coord_buf *b = &s->out;
    size_t start = coord_wire_reply_begin(b, req->xid, server_last_zxid(s), 0);
    struct coord_buf body;
    coord_buf_init(&body);
    for (uint32_t i = 0; i < req->op_count; i++) {
        coord_buf_reset(&body);
        int rc = read_body(s, c, &req->ops[i], false, &body);
        if (rc == COORD_OK) {
            coord_wire_put_multi_header(b, req->ops[i].type, false, 0);
            coord_buf_put(b, body.data, body.len);
        } else {
            coord_wire_put_multi_error(b, coord_err_wire(rc));
        }
    }
    coord_buf_free(&body);
    coord_wire_put_multi_end(b);
    coord_wire_frame_end(b, start);
    conn_send(s, c, b);
}

static void do_get_ephemerals(struct coord_server *s,
                              struct server_conn *c,
                              const struct coord_request *req)
{
    struct coord_str prefix = req->op.path;
    bool all = prefix.ptr == NULL || prefix.len <= 0 || (prefix.len == 1 && prefix.ptr[0] == '/');
    struct coord_buf *b = &s->out;
    size_t start = coord_wire_reply_begin(b, req->xid, server_last_zxid(s), 0);
    size_t count_at = b->len;
    coord_wire_put_int(b, 0);
    int32_t count = 0;
    size_t pos = 0;
    const struct tree_node *n;
    while ((n = coord_tree_next_ephemeral(&s->tree, c->session, &pos)) != NULL) {
        size_t len;
        const char *path = coord_tree_node_path(n, &len);
        if (all ||
            (len >= (size_t)prefix.len && memcmp(path, prefix.ptr, (size_t)prefix.len) == 0)) {
            coord_wire_put_str(b, path, len);
            count++;
        }
    }
    coord_buf_patch_be32(b, count_at, (uint32_t)count);
    coord_wire_frame_end(b, start);
    conn_send(s, c, b);
}

static void do_who_am_i(struct coord_server *s,
                        struct server_conn *c,
                        const struct coord_request *req)
{
    /* ClientInfo {authScheme, user}: the digest user is the part before ':'. */
    struct coord_buf *b = &s->out;
    size_t start = coord_wire_reply_begin(b, req->xid, server_last_zxid(s), 0);
    coord_wire_put_int(b, (int32_t)c->id_count);
    for (size_t i = 0; i < c->id_count; i++) {
        const struct coord_ident *x = &c->ids[i];
        coord_wire_put_ustring(b, x->scheme);
        struct coord_str user = x->id;
        if (x->scheme.len == 6 && memcmp(x->scheme.ptr, "digest", 6) == 0) {
            const char *colon = memchr(user.ptr, ':', (size_t)user.len);
            if (colon != NULL) {
                user.len = (int32_t)(colon - user.ptr);
            }
        }
        coord_wire_put_ustring(b, user);
    }
    coord_wire_frame_end(b, start);
    conn_send(s, c, b);
}

/* setWatches / setWatches2 on reconnect (zk-wire §10.5): fire what the client
 * missed since relativeZxid, set the rest. The events go before the reply. */
static int do_set_watches(struct coord_server *s,
                          struct server_conn *c,
                          const struct coord_request *req)
{
    static const int kinds[COORD_WATCH_LISTS] = {COORD_WATCH_DATA, COORD_WATCH_EXIST,
                                                 COORD_WATCH_CHILD, COORD_WATCH_PERSISTENT,
                                                 COORD_WATCH_PERSISTENT_RECURSIVE};
    coord_zxid rel = req->relative_zxid;
    for (int list = 0; list < COORD_WATCH_LISTS; list++) {
        struct coord_strvec_iter it;
        coord_strvec_iter_init(&it, &req->watches[list]);
        struct coord_str p;
        while (coord_strvec_next(&it, &p)) {
            if (p.ptr == NULL || p.len < 0) {
                continue;
            }
            const struct tree_node *n = coord_tree_get(&s->tree, p.ptr, (size_t)p.len);
            struct coord_stat st;
            int fire = 0;
            if (n != NULL) {
                coord_tree_node_stat(n, &st);
            }
            switch (list) {
                case COORD_WATCHES_DATA:
                    fire =
                        n == NULL ? COORD_EV_DELETED : (st.mzxid > rel ? COORD_EV_DATA_CHANGED : 0);
                    break;
                case COORD_WATCHES_EXIST:
                    fire = n != NULL ? COORD_EV_CREATED : 0;
                    break;
                case COORD_WATCHES_CHILD:
                    fire = n == NULL ? COORD_EV_DELETED
                                     : (st.pzxid > rel ? COORD_EV_CHILDREN_CHANGED : 0);
                    break;
                default:
                    break;
            }
            if (fire != 0) {
                server_notify(s, c->id, fire, p.ptr, (size_t)p.len);
                continue;
            }
            int rc = coord_watches_add(&s->watches, c->id, p.ptr, (size_t)p.len, kinds[list]);
            if (rc != COORD_OK) {
                return rc;
            }
        }
    }
    return COORD_OK;
}

/* ---- auth
 * ---------------------------------------------------------------------------------------- */

static void do_auth(struct coord_server *s, struct server_conn *c, const struct coord_request *req)
{
    struct coord_str scheme = req->auth_scheme;
    int rc = COORD_EAUTHFAILED;
    if (scheme.ptr != NULL && scheme.len == 6 && memcmp(scheme.ptr, "digest", 6) == 0 &&
        req->auth_data != NULL && req->auth_len > 0) {
        size_t cap = coord_digest_len((size_t)req->auth_len);
        char *id = coord_malloc(cap);
        if (id == NULL) {
            rc = COORD_ENOMEM;
        } else {
            int32_t n =
                coord_digest_id((const char *)req->auth_data, (size_t)req->auth_len, id, cap);
            if (n > 0) {
                rc = conn_add_id(c, "digest", 6, id, (size_t)n);
                const char *super = s->cfg.super_digest;
                if (rc == COORD_OK && super != NULL && strlen(super) == (size_t)n &&
                    memcmp(super, id, (size_t)n) == 0) {
                    c->super = true;
                }
            }
            coord_free(id);
        }
    } else if (scheme.ptr != NULL && scheme.len == 2 && memcmp(scheme.ptr, "ip", 2) == 0) {
        rc = COORD_OK; /* The ip id is there from the start. */
    }
    /* Auth replies carry zxid 0 (zk-wire §5.3). */
    reply_header(s, c, req->xid, 0, rc);
    if (rc != COORD_OK) {
        conn_close(s, c, "authentication failed");
    }
}

/* ---- writes -------------------------------------------------------------------------------------
 */

static void conn_push_slot(struct server_conn *c, struct conn_slot *slot)
{
    slot->next = NULL;
    if (c->slots_tail != NULL) {
        c->slots_tail->next = slot;
    } else {
        c->slots = slot;
    }
    c->slots_tail = slot;
    c->slot_count++;
}

void server_push_slot(struct server_conn *c, struct conn_slot *slot)
{
    conn_push_slot(c, slot);
}

/* A new record at the tail of the pending queue holding a copy of the txn
 * (room for op_count op types after it). When `log`, it is appended to the
 * log with the next token; otherwise it is already durable (recovery). */
static struct server_pending *pending_append(struct coord_server *s,
                                             const uint8_t *txn,
                                             size_t len,
                                             coord_zxid zxid,
                                             uint32_t op_count,
                                             bool log)
{
    size_t size = sizeof(struct server_pending) + len + op_count * sizeof(int32_t);
    struct server_pending *p = coord_malloc(size);
    if (p == NULL) {
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->zxid = zxid;
    p->started_ms = s->now_ms;
    p->op_count = op_count;
    p->txn_len = len;
    memcpy(p->txn, txn, len);
    if (s->pending_tail != NULL) {
        s->pending_tail->next = p;
    } else {
        s->pending = p;
    }
    s->pending_tail = p;
    if (log) {
        p->token = ++s->token_seq;
        s->env.log_append(s->env.ctx, txn, len, p->token);
    }
    return p;
}

int server_log_txn(struct coord_server *s,
                   const uint8_t *txn,
                   size_t len,
                   coord_zxid zxid,
                   struct server_pending **out)
{
    struct server_pending *p = pending_append(s, txn, len, zxid, 0, true);
    if (out != NULL) {
        *out = p;
    }
    return p == NULL ? COORD_ENOMEM : COORD_OK;
}

coord_zxid server_last_logged(const struct coord_server *s)
{
    return s->pending_tail != NULL ? s->pending_tail->zxid : s->tree.last_zxid;
}

/* Drop the pending records after zxid `after` (a learner told to truncate). */
void server_free_pending_from(struct coord_server *s, coord_zxid after)
{
    struct server_pending **link = &s->pending;
    struct server_pending *last = NULL;
    while (*link != NULL && (*link)->zxid <= after) {
        last = *link;
        link = &(*link)->next;
    }
    struct server_pending *p = *link;
    *link = NULL;
    s->pending_tail = last;
    while (p != NULL) {
        struct server_pending *next = p->next;
        if (p->conn != NULL) {
            /* Its connection still points at it: that reply will never come. */
            conn_close(s, p->conn, "write dropped by truncation");
        }
        coord_free(p);
        p = next;
    }
}

/* Log a prepared transaction and queue it until it commits. */
static int submit_txn(struct coord_server *s,
                      struct server_conn *c,
                      const struct coord_txn *txn,
                      int32_t xid,
                      int32_t type,
                      const struct coord_request *req)
{
    coord_buf_reset(&s->logbuf);
    coord_txn_encode(txn, &s->logbuf);
    if (s->logbuf.failed) {
        return COORD_ENOMEM;
    }
    uint32_t op_count = type == COORD_OP_MULTI && req != NULL ? req->op_count : 0;
    struct conn_slot *slot = NULL;
    if (c != NULL) {
        slot = coord_malloc(sizeof *slot);
        if (slot == NULL) {
            return COORD_ENOMEM;
        }
    }
    struct server_pending *p =
        pending_append(s, s->logbuf.data, s->logbuf.len, txn->zxid, op_count, true);
    if (p == NULL) {
        coord_free(slot);
        return COORD_ENOMEM;
    }
    p->conn = c;
    p->xid = xid;
    p->type = type;
    p->session = txn->session;
    p->timeout_ms = txn->timeout_ms;
    for (uint32_t i = 0; i < op_count; i++) {
        int32_t t = req->ops[i].type;
        memcpy(p->txn + p->txn_len + i * sizeof t, &t, sizeof t);
    }
    if (slot != NULL) {
        slot->write = p;
        slot->len = 0;
        conn_push_slot(c, slot);
    }
    s->next_zxid++;
    s->stats.writes_total++;
    if (s->zab != NULL) {
        zab_proposed(s, p);
    }
    return COORD_OK;
}

static bool is_write_op(int32_t type)
{
    switch (type) {
        case COORD_OP_CREATE:
        case COORD_OP_CREATE2:
        case COORD_OP_CREATECONTAINER:
        case COORD_OP_CREATETTL:
        case COORD_OP_DELETE:
        case COORD_OP_SETDATA:
        case COORD_OP_SETACL:
        case COORD_OP_CHECK:
        case COORD_OP_MULTI:
        case COORD_OP_CLOSESESSION:
        case COORD_OP_DELETECONTAINER:
            return true;
        default:
            return false;
    }
}

int server_prep_write(struct coord_server *s,
                      struct server_conn *c,
                      coord_session_id session,
                      const struct coord_authinfo *auth,
                      const struct coord_request *req,
                      int decode_err)
{
    struct coord_caller caller = {session, req->xid, auth};
    struct coord_txn txn;
    int64_t wall = server_wall(s);
    if (decode_err != COORD_OK) {
        /* An undecodable write still uses up a zxid (zk-wire §14). */
        memset(&txn, 0, sizeof txn);
        txn.session = session;
        txn.cxid = req->xid;
        txn.zxid = s->next_zxid;
        txn.time_ms = wall;
        txn.type = COORD_OP_ERROR;
        txn.err = coord_err_wire(decode_err);
        return submit_txn(s, c, &txn, req->xid, req->type, NULL);
    }
    if (req->type == COORD_OP_CLOSESESSION) {
        coord_sessions_set_closing(&s->sessions, session);
        int rc = coord_prep_close_session(&s->prep, &s->tree, session, s->next_zxid, wall, &txn);
        if (rc != COORD_OK) {
            return rc;
        }
        txn.cxid = req->xid;
        return submit_txn(s, c, &txn, req->xid, req->type, req);
    }
    if (req->type == COORD_OP_MULTI) {
        struct coord_txn_op *ops =
            coord_calloc(req->op_count == 0 ? 1 : req->op_count, sizeof *ops);
        if (ops == NULL) {
            return COORD_ENOMEM;
        }
        int rc = coord_prep_multi(&s->prep, &s->tree, &caller, req->ops, req->op_count,
                                  s->next_zxid, wall, ops, &txn);
        if (rc == COORD_ENOMEM) {
            coord_free(ops);
            return rc;
        }
        if (rc == COORD_EMARSHALLING && txn.type == COORD_OP_ERROR) {
            txn.op_count = 0; /* Too many ops: the whole request is -5. */
        }
        rc = submit_txn(s, c, &txn, req->xid, req->type, req);
        coord_free(ops);
        return rc;
    }
    struct coord_op op = req->op;
    if (req->type == COORD_OP_DELETECONTAINER) {
        op.type = COORD_OP_DELETE;
        op.version = -1;
    }
    int rc = coord_prep_op(&s->prep, &s->tree, &caller, &op, s->next_zxid, wall, &txn);
    if (rc == COORD_ENOMEM) {
        return rc;
    }
    return submit_txn(s, c, &txn, req->xid, req->type, req);
}

static int do_write(struct coord_server *s,
                    struct server_conn *c,
                    const struct coord_request *req,
                    int decode_err)
{
    struct coord_authinfo auth = conn_auth(c);
    return server_prep_write(s, c, c->session, &auth, req, decode_err);
}

/* The reply to a write, from what applying it did. */
static void reply_write(struct coord_server *s,
                        struct server_conn *c,
                        const struct server_pending *p,
                        const struct coord_txn *txn,
                        const struct coord_op_result *results,
                        int apply_rc)
{
    struct coord_buf *b = &s->out;
    int err = txn->type == COORD_OP_ERROR ? txn->err : apply_rc;
    if (p->type == COORD_OP_MULTI && (txn->type == COORD_OP_MULTI)) {
        size_t start = coord_wire_reply_begin(b, p->xid, p->zxid, 0);
        const int32_t *types = (const int32_t *)(const void *)(p->txn + p->txn_len);
        for (uint32_t i = 0; i < txn->op_count; i++) {
            const struct coord_txn_op *op = &txn->ops[i];
            int32_t rtype;
            memcpy(&rtype, &types[i], sizeof rtype);
            if (op->type == COORD_OP_ERROR || apply_rc != COORD_OK) {
                int32_t e = op->type == COORD_OP_ERROR ? op->err : coord_err_wire(apply_rc);
                coord_wire_put_multi_error(b, e);
                continue;
            }
            const struct coord_op_result *r = &results[i];
            /* The created path comes from the txn, not r->path: a later op
             * of this multi may have deleted the node r->path lives in. */
            const char *path = op->path.ptr;
            size_t path_len = (size_t)op->path.len;
            switch (rtype) {
                case COORD_OP_CREATE:
                case COORD_OP_CREATE2: /* 3.8 answers create2 in a multi as create. */
                    coord_wire_put_multi_header(b, COORD_OP_CREATE, false, 0);
                    coord_wire_put_str(b, path, path_len);
                    break;
                case COORD_OP_CREATECONTAINER:
                case COORD_OP_CREATETTL:
                    coord_wire_put_multi_header(b, COORD_OP_CREATE2, false, 0);
                    coord_wire_put_str(b, path, path_len);
                    coord_wire_put_stat(b, &r->stat);
                    break;
                case COORD_OP_SETDATA:
                    coord_wire_put_multi_header(b, COORD_OP_SETDATA, false, 0);
                    coord_wire_put_stat(b, &r->stat);
                    break;
                default: /* delete, check */
                    coord_wire_put_multi_header(b, rtype, false, 0);
                    break;
            }
        }
        coord_wire_put_multi_end(b);
        coord_wire_frame_end(b, start);
        conn_send(s, c, b);
        return;
    }
    if (err != COORD_OK) {
        reply_header(s, c, p->xid, p->zxid, err);
        return;
    }
    const struct coord_op_result *r = &results[0];
    size_t start = coord_wire_reply_begin(b, p->xid, p->zxid, 0);
    switch (p->type) {
        case COORD_OP_CREATE:
            coord_wire_put_str(b, r->path, r->path_len);
            break;
        case COORD_OP_CREATE2:
        case COORD_OP_CREATECONTAINER:
        case COORD_OP_CREATETTL:
            coord_wire_put_str(b, r->path, r->path_len);
            coord_wire_put_stat(b, &r->stat);
            break;
        case COORD_OP_SETDATA:
        case COORD_OP_SETACL:
            coord_wire_put_stat(b, &r->stat);
            break;
        default: /* delete, check, closeSession, deleteContainer: header only */
            break;
    }
    coord_wire_frame_end(b, start);
    conn_send(s, c, b);
}

/* ---- the connection's request loop
 * ---------------------------------------------------------------- */

static int handle_request(struct coord_server *s,
                          struct server_conn *c,
                          const uint8_t *payload,
                          size_t len,
                          bool from_queue);

static int conn_drain(struct coord_server *s, struct server_conn *c);

/* Answer the deferred reads at the head of the queue, up to the next write. */
static void reply_sync(struct coord_server *s, struct server_conn *c, struct server_pending *rec)
{
    note_latency(s, c, rec->started_ms, rec->xid, COORD_OP_SYNC, server_last_zxid(s));
    size_t start = coord_wire_reply_begin(&s->out, rec->xid, server_last_zxid(s), 0);
    coord_wire_put_str(&s->out, (const char *)rec->txn, rec->txn_len);
    coord_wire_frame_end(&s->out, start);
    conn_send(s, c, &s->out);
}

int server_conn_drain(struct coord_server *s, struct server_conn *c)
{
    return conn_drain(s, c);
}

static int conn_drain(struct coord_server *s, struct server_conn *c)
{
    while (c->slots != NULL && c->state == CONN_ACTIVE &&
           (c->slots->write == NULL || c->slots->write->sync_done)) {
        struct conn_slot *slot = c->slots;
        c->slots = slot->next;
        if (c->slots == NULL) {
            c->slots_tail = NULL;
        }
        c->slot_count--;
        if (slot->write != NULL) {
            reply_sync(s, c, slot->write); /* A learner's sync the leader answered. */
            coord_free(slot->write);
            coord_free(slot);
            continue;
        }
        int rc = handle_request(s, c, slot->frame, slot->len, true);
        coord_free(slot);
        if (rc != COORD_OK) {
            return rc;
        }
    }
    return COORD_OK;
}

static void reply_connect(struct coord_server *s,
                          struct server_conn *c,
                          coord_session_id id,
                          int32_t timeout_ms,
                          bool has_readonly)
{
    struct coord_connect_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.timeout_ms = timeout_ms;
    resp.session = id;
    if (id != 0) {
        coord_sessions_password(&s->sessions, id, resp.passwd);
    }
    resp.has_readonly = has_readonly;
    resp.readonly = c->read_only;
    coord_wire_encode_connect_resp(&s->out, &resp);
    conn_send(s, c, &s->out);
}

int server_prep_create_session(struct coord_server *s,
                               struct server_conn *c,
                               coord_session_id id,
                               int32_t timeout_ms,
                               bool has_readonly)
{
    struct coord_txn txn;
    memset(&txn, 0, sizeof txn);
    txn.type = COORD_OP_CREATESESSION;
    txn.session = id;
    txn.zxid = s->next_zxid;
    txn.time_ms = server_wall(s);
    txn.timeout_ms = timeout_ms;
    int rc = submit_txn(s, c, &txn, 0, COORD_OP_CREATESESSION, NULL);
    if (rc == COORD_OK) {
        s->pending_tail->has_readonly = has_readonly;
    }
    return rc;
}

/* Cut off from the quorum, a server still serves reads to clients that said
 * they accept a read-only server (ZooKeeper's read-only mode). A new session
 * is local to this connection: it is never logged, and the client gets a
 * global one once it reaches a server of the quorum. */
static int connect_read_only(struct coord_server *s,
                             struct server_conn *c,
                             const struct coord_connect_req *req,
                             int32_t timeout)
{
    coord_session_id id = req->session;
    if (id != 0) {
        struct coord_session *sess = coord_sessions_get(&s->sessions, id);
        if (sess == NULL ||
            !coord_sessions_check_password(&s->sessions, id, req->passwd,
                                           req->passwd_len < 0 ? 0 : (size_t)req->passwd_len)) {
            reply_connect(s, c, 0, 0, req->has_readonly);
            conn_close(s, c, "session expired or password wrong");
            return COORD_OK;
        }
    } else {
        id = coord_sessions_next_id(&s->sessions);
    }
    c->read_only = true;
    c->session = id;
    c->state = CONN_ACTIVE;
    c->established_ms = s->now_ms;
    reply_connect(s, c, id, timeout, req->has_readonly);
    return COORD_OK;
}

static int handle_connect(struct coord_server *s,
                          struct server_conn *c,
                          const uint8_t *payload,
                          size_t len)
{
    struct coord_connect_req req;
    if (coord_wire_decode_connect(payload, len, &req) != COORD_OK) {
        conn_close(s, c, "malformed ConnectRequest");
        return COORD_OK;
    }
    if (req.last_zxid > server_last_zxid(s)) {
        /* The client has seen more than we have: it must try another server. */
        conn_close(s, c, "client's zxid is ahead of this server");
        return COORD_OK;
    }
    c->has_readonly = req.has_readonly;
    int32_t min = coord_sessions_min_timeout(s->cfg.tick_ms, s->cfg.min_session_ms);
    int32_t max = coord_sessions_max_timeout(s->cfg.tick_ms, s->cfg.max_session_ms);
    int32_t timeout = coord_sessions_negotiate(req.timeout_ms, min, max);
    if (s->zab != NULL && !zab_serving(s)) {
        if (!s->cfg.read_only_enabled || !req.readonly) {
            conn_close(s, c, "not serving: no quorum");
            return COORD_OK;
        }
        return connect_read_only(s, c, &req, timeout);
    }
    if (req.session == 0) {
        coord_session_id id = coord_sessions_next_id(&s->sessions);
        c->state = CONN_HANDSHAKE;
        int rc = s->zab != NULL && !zab_is_leader(s)
                     ? zab_forward_create_session(s, c, id, timeout, req.has_readonly)
                     : server_prep_create_session(s, c, id, timeout, req.has_readonly);
        if (rc == COORD_OK) {
            c->session = id; /* Provisional: the session exists once applied. */
        }
        return rc;
    }
    struct coord_session *sess = coord_sessions_get(&s->sessions, req.session);
    if (sess == NULL || sess->closing ||
        !coord_sessions_check_password(&s->sessions, req.session, req.passwd,
                                       req.passwd_len < 0 ? 0 : (size_t)req.passwd_len)) {
        reply_connect(s, c, 0, 0, req.has_readonly);
        conn_close(s, c, "session expired or password wrong");
        return COORD_OK;
    }
    /* A session lives on one connection: close the one it had. */
    if (sess->conn != 0 && sess->conn != c->id) {
        struct server_conn *old = coord_u64map_get(&s->conns, sess->conn);
        if (old != NULL) {
            old->session = 0;
            conn_close(s, old, "session moved to another connection");
        }
    }
    coord_sessions_set_timeout(&s->sessions, req.session, timeout, s->now_ms);
    if (s->zab != NULL) {
        zab_session_touched(s, req.session);
    }
    sess->conn = c->id;
    c->session = req.session;
    c->state = CONN_ACTIVE;
    c->established_ms = s->now_ms;
    reply_connect(s, c, req.session, timeout, req.has_readonly);
    return COORD_OK;
}

/* Queue a request behind earlier writes of the connection. */
static int defer_request(struct server_conn *c, const uint8_t *payload, size_t len)
{
    struct conn_slot *slot = coord_malloc(sizeof *slot + len);
    if (slot == NULL) {
        return COORD_ENOMEM;
    }
    slot->write = NULL;
    slot->len = len;
    memcpy(slot->frame, payload, len);
    conn_push_slot(c, slot);
    return COORD_OK;
}

static int handle_request(struct coord_server *s,
                          struct server_conn *c,
                          const uint8_t *payload,
                          size_t len,
                          bool from_queue)
{
    if (!from_queue && c->slots != NULL) {
        /* Something earlier is still waiting: keep the order. Writes can be
         * prepared and logged at once (pipelining); only their replies wait. */
        struct coord_request peek;
        memset(&peek, 0, sizeof peek);
        if (len >= COORD_WIRE_REQUEST_HEADER_LEN) {
            peek.type = (int32_t)coord_load_be32(payload + 4);
        }
        if (!is_write_op(peek.type)) {
            return defer_request(c, payload, len);
        }
    }
    struct coord_request req;
    int rc = coord_wire_decode_request(payload, len, &req);
    if (rc == COORD_ENOMEM) {
        return rc;
    }
    s->stats.requests_total++;
    c->last_cxid = req.xid;
    if (len < COORD_WIRE_REQUEST_HEADER_LEN) {
        conn_close(s, c, "frame shorter than a request header");
        return COORD_OK;
    }
    if (rc == COORD_EUNIMPLEMENTED) {
        reply_header(s, c, req.xid, -1, COORD_EUNIMPLEMENTED);
        conn_close(s, c, "unknown opcode");
        coord_wire_request_release(&req);
        return COORD_OK;
    }
    if (rc == COORD_EMARSHALLING && req.type == COORD_OP_AUTH) {
        conn_close(s, c, "undecodable auth packet");
        coord_wire_request_release(&req);
        return COORD_OK;
    }
    int result = COORD_OK;
    if (is_write_op(req.type) && c->read_only) {
        if (req.type == COORD_OP_CLOSESESSION) {
            reply_header(s, c, req.xid, server_last_zxid(s), COORD_OK);
            conn_close(s, c, "closeSession (read-only)");
        } else {
            reply_header(s, c, req.xid, server_last_zxid(s), COORD_ENOTREADONLY);
        }
    } else if (is_write_op(req.type) && s->zab != NULL && !zab_is_leader(s)) {
        result = zab_forward(s, c, &req, payload, len);
    } else if (is_write_op(req.type)) {
        result = do_write(s, c, &req, rc);
    } else if (rc != COORD_OK) {
        reply_header(s, c, req.xid, server_last_zxid(s), rc);
    } else {
        switch (req.type) {
            case COORD_OP_PING:
                reply_header(s, c, COORD_XID_PING, server_last_zxid(s), COORD_OK);
                break;
            case COORD_OP_AUTH:
                do_auth(s, c, &req);
                break;
            case COORD_OP_SASL: {
                /* No SASL here: the observed answer of an unconfigured server. */
                size_t start = coord_wire_reply_begin(&s->out, req.xid, 0, 0);
                coord_wire_put_buffer(&s->out, NULL, -1);
                coord_wire_frame_end(&s->out, start);
                conn_send(s, c, &s->out);
                break;
            }
            case COORD_OP_SETWATCHES:
            case COORD_OP_SETWATCHES2: {
                int wrc = do_set_watches(s, c, &req);
                if (wrc == COORD_ENOMEM) {
                    result = wrc;
                    break;
                }
                reply_header(s, c, req.xid, server_last_zxid(s), wrc);
                break;
            }
            case COORD_OP_SYNC: {
                if (s->zab != NULL && !zab_is_leader(s) && !c->read_only) {
                    result = zab_forward_sync(s, c, &req);
                    break;
                }
                size_t start = coord_wire_reply_begin(&s->out, req.xid, server_last_zxid(s), 0);
                coord_wire_put_ustring(&s->out, req.op.path);
                coord_wire_frame_end(&s->out, start);
                conn_send(s, c, &s->out);
                break;
            }
            case COORD_OP_ADDWATCH: {
                int kind = req.op.mode == 0   ? COORD_WATCH_PERSISTENT
                           : req.op.mode == 1 ? COORD_WATCH_PERSISTENT_RECURSIVE
                                              : 0;
                int wrc = kind == 0 || req.op.path.ptr == NULL
                              ? COORD_EBADARGUMENTS
                              : coord_watches_add(&s->watches, c->id, req.op.path.ptr,
                                                  (size_t)req.op.path.len, kind);
                if (wrc == COORD_ENOMEM) {
                    result = wrc;
                    break;
                }
                if (wrc != COORD_OK) {
                    reply_header(s, c, req.xid, server_last_zxid(s), wrc);
                    break;
                }
                size_t start = coord_wire_reply_begin(&s->out, req.xid, server_last_zxid(s), 0);
                coord_wire_put_int(&s->out, 0); /* The 4-byte ErrorResponse. */
                coord_wire_frame_end(&s->out, start);
                conn_send(s, c, &s->out);
                break;
            }
            case COORD_OP_CHECKWATCHES:
            case COORD_OP_REMOVEWATCHES: {
                int wrc = req.op.path.ptr == NULL
                              ? COORD_EBADARGUMENTS
                              : coord_watches_remove(&s->watches, c->id, req.op.path.ptr,
                                                     (size_t)req.op.path.len, req.op.mode,
                                                     req.type == COORD_OP_REMOVEWATCHES);
                reply_header(s, c, req.xid, server_last_zxid(s), wrc);
                break;
            }
            case COORD_OP_GETEPHEMERALS:
                do_get_ephemerals(s, c, &req);
                break;
            case COORD_OP_WHOAMI:
                do_who_am_i(s, c, &req);
                break;
            case COORD_OP_MULTIREAD:
                do_multi_read(s, c, &req);
                break;
            case COORD_OP_RECONFIG:
                reply_header(s, c, req.xid, server_last_zxid(s), COORD_ERECONFIGDISABLED);
                break;
            default:
                do_read(s, c, &req);
                break;
        }
    }
    coord_wire_request_release(&req);
    return result;
}

/* A server of an ensemble that is not serving holds a new connection's
 * handshake rather than refusing it: a client that just lost its server then
 * waits for the election instead of cycling through its server list and
 * backing off. Read-only clients are answered at once when read-only mode is
 * on. */
static bool connect_can_proceed(const struct coord_server *s, const uint8_t *payload, size_t len)
{
    if (s->zab == NULL || zab_serving(s)) {
        return true;
    }
    struct coord_connect_req req;
    if (coord_wire_decode_connect(payload, len, &req) != COORD_OK) {
        return true; /* handle_connect closes it. */
    }
    return s->cfg.read_only_enabled && req.readonly;
}

static int conn_process(struct coord_server *s, struct server_conn *c);

int server_serve_held(struct coord_server *s)
{
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&s->conns, &pos, &key, &value)) {
        struct server_conn *c = value;
        if (c->state == CONN_NEW && c->in.len > 0) {
            int rc = conn_process(s, c);
            if (rc != COORD_OK) {
                return rc;
            }
        }
    }
    return COORD_OK;
}

/* Parse and handle whole frames from the connection's input. */
static int conn_process(struct coord_server *s, struct server_conn *c)
{
    uint32_t max = s->cfg.max_frame_bytes;
    size_t off = 0;
    int rc = COORD_OK;
    while (c->state == CONN_NEW || c->state == CONN_ACTIVE) {
        const uint8_t *p = c->in.data + off;
        size_t left = c->in.len - off;
        if (c->state == CONN_NEW && left >= 4) {
            char word[5];
            if (coord_wire_is_4lw(p, word)) {
                /* Four-letter words are served by the host's admin layer
                 * (issue 3); the core does not answer them yet. */
                conn_close(s, c, "four-letter word not served by this build");
                break;
            }
        }
        if (c->state == CONN_ACTIVE && c->slot_count >= SERVER_CONN_QUEUE_MAX) {
            break; /* Back-pressure: leave the bytes until replies drain. */
        }
        size_t flen;
        int fr = coord_wire_frame(p, left, max, &flen);
        if (fr < 0) {
            conn_close(s, c, "frame length out of range");
            break;
        }
        if (fr == 0) {
            break;
        }
        if (c->state == CONN_NEW && !connect_can_proceed(s, p + 4, flen)) {
            break; /* Held until the server serves: see server_serve_held. */
        }
        off += 4 + flen;
        c->received++;
        s->stats.packets_received++;
        if (c->state == CONN_NEW) {
            rc = handle_connect(s, c, p + 4, flen);
        } else {
            coord_sessions_touch(&s->sessions, c->session, s->now_ms);
            if (s->zab != NULL && !c->read_only) {
                zab_session_touched(s, c->session);
            }
            rc = handle_request(s, c, p + 4, flen, false);
        }
        if (rc != COORD_OK) {
            break;
        }
    }
    if (off > 0 && c->state != CONN_CLOSING) {
        coord_buf_consume(&c->in, off);
    }
    if (c->state == CONN_CLOSING) {
        coord_buf_free(&c->in);
    } else if (c->in.len > SERVER_CONN_INBUF_MAX) {
        conn_close(s, c, "too many unread requests");
    }
    return rc;
}

/* ---- applying ----------------------------------------------------------------------------------
 */

static void session_closed(struct coord_server *s, coord_session_id id, bool expired)
{
    struct coord_session *sess = coord_sessions_get(&s->sessions, id);
    if (sess != NULL && sess->conn != 0) {
        struct server_conn *c = coord_u64map_get(&s->conns, sess->conn);
        if (c != NULL && c->state != CONN_CLOSING) {
            c->session = 0;
            /* On expiry the server closes without a word (zk-wire §4.4). */
            conn_close(s, c, expired ? "session expired" : "session closed");
        }
    }
    coord_sessions_remove(&s->sessions, id);
    server_trace(s, expired ? COORD_TRACE_SESSION_EXPIRED : COORD_TRACE_SESSION_CLOSED, id, 0, 0,
                 NULL);
}

/* Apply a decoded transaction to the state machine (tree + sessions). Used
 * for recovery too, with no connection to answer. */
static int state_apply(struct coord_server *s,
                       const struct coord_txn *txn,
                       uint64_t txn_hash,
                       struct coord_op_result *results,
                       size_t cap,
                       int *apply_rc)
{
    *apply_rc = coord_tree_apply(&s->tree, txn, results, cap);
    if (*apply_rc == COORD_ENOMEM) {
        return COORD_ENOMEM;
    }
    if (*apply_rc != COORD_OK) {
        /* An inconsistent transaction: nothing changed, but its zxid is
         * used up so the log and the tree stay in step. */
        if (txn->zxid > s->tree.last_zxid) {
            s->tree.last_zxid = txn->zxid;
        }
    }
    if (txn->type == COORD_OP_CREATESESSION && *apply_rc == COORD_OK) {
        int rc = coord_sessions_add(&s->sessions, txn->session, txn->timeout_ms, s->now_ms);
        if (rc == COORD_ENOMEM) {
            return rc;
        }
        coord_sessions_observe_id(&s->sessions, txn->session);
        server_trace(s, COORD_TRACE_SESSION_CREATED, txn->session, txn->timeout_ms, 0, NULL);
    }
    server_trace_d(s, COORD_TRACE_TXN_APPLIED, txn->zxid, txn->type, txn->session,
                   (int64_t)txn_hash, NULL);
    return COORD_OK;
}

static int take_snapshot(struct coord_server *s)
{
    struct coord_buf snap;
    coord_buf_init(&snap);
    int rc = coord_server_snapshot(s, &snap);
    if (rc == COORD_OK) {
        s->env.snapshot_write(s->env.ctx, snap.data, snap.len, s->tree.last_zxid);
        server_trace(s, COORD_TRACE_SNAPSHOT, s->tree.last_zxid, (int64_t)snap.len, 0, NULL);
    }
    coord_buf_free(&snap);
    s->txns_since_snapshot = 0;
    return rc;
}

static int apply_pending(struct coord_server *s, struct server_pending *p)
{
    struct coord_txn txn;
    int rc = coord_txn_decode(p->txn, p->txn_len, &txn);
    if (rc != COORD_OK) {
        return rc; /* We encoded it ourselves: only ENOMEM can happen. */
    }
    struct coord_op_result one;
    struct coord_op_result *results = &one;
    size_t cap = 1;
    if (txn.op_count > 1) {
        results = coord_calloc(txn.op_count, sizeof *results);
        if (results == NULL) {
            coord_txn_release(&txn);
            return COORD_ENOMEM;
        }
        cap = txn.op_count;
    }
    int apply_rc;
    rc = state_apply(s, &txn, coord_hash64(p->txn, p->txn_len, 0), results, cap, &apply_rc);
    coord_prep_applied(&s->prep, txn.zxid);
    if (rc == COORD_OK && s->zab != NULL) {
        rc = zab_applied(s, p->txn, p->txn_len, txn.zxid);
    }
    /* The request this txn answers: ours (leader, standalone), or on a
     * learner the record of a request it forwarded. */
    struct server_conn *c = p->conn;
    struct server_pending *req = p;
    if (c == NULL && s->zab != NULL && !zab_is_leader(s)) {
        c = zab_match_local(s, &txn, &req);
    }
    bool popped = false;
    if (rc == COORD_OK && c != NULL && c->state != CONN_CLOSING) {
        /* The write is the head of its connection's queue: pop it. */
        COORD_ASSERT(c->slots != NULL && c->slots->write == req);
        popped = true;
        struct conn_slot *slot = c->slots;
        c->slots = slot->next;
        if (c->slots == NULL) {
            c->slots_tail = NULL;
        }
        c->slot_count--;
        coord_free(slot);
        req->zxid = txn.zxid;
        note_latency(s, c, req->started_ms, req->xid, req->type, txn.zxid);
        if (req->type == COORD_OP_CREATESESSION) {
            struct coord_session *sess = coord_sessions_get(&s->sessions, txn.session);
            if (sess != NULL) {
                sess->conn = c->id;
            }
            c->state = CONN_ACTIVE;
            c->established_ms = s->now_ms;
            if (apply_rc == COORD_OK) {
                reply_connect(s, c, txn.session, txn.timeout_ms, req->has_readonly);
            } else {
                conn_close(s, c, "session could not be created");
            }
        } else {
            reply_write(s, c, req, &txn, results, apply_rc);
        }
    }
    if (rc == COORD_OK && txn.type == COORD_OP_CLOSESESSION) {
        /* Expiry has no request behind it (cxid 0): only a client asks. */
        bool asked = req->type == COORD_OP_CLOSESESSION || (s->zab != NULL && txn.cxid != 0);
        if (asked && c != NULL && c->state != CONN_CLOSING) {
            c->session = 0;
            conn_close(s, c, "closeSession");
        }
        session_closed(s, txn.session, !asked);
    }
    if (req != p && popped) {
        coord_free(req);
    }
    if (results != &one) {
        coord_free(results);
    }
    coord_txn_release(&txn);
    if (rc != COORD_OK) {
        return rc;
    }
    if (c != NULL && c->state == CONN_ACTIVE) {
        rc = conn_drain(s, c);
        if (rc == COORD_OK) {
            rc = conn_process(s, c); /* Pipelined bytes waiting for the handshake. */
        }
    }
    if (rc == COORD_OK && ++s->txns_since_snapshot >= s->cfg.snap_count) {
        rc = take_snapshot(s);
    }
    return rc;
}

int server_commit_head(struct coord_server *s)
{
    struct server_pending *p = s->pending;
    COORD_ASSERT(p != NULL);
    s->pending = p->next;
    if (s->pending == NULL) {
        s->pending_tail = NULL;
    }
    int rc = apply_pending(s, p);
    /* The conn's slot (if any) no longer points at p. */
    coord_free(p);
    return rc;
}

static int on_synced(struct coord_server *s, uint64_t token)
{
    if (s->zab != NULL) {
        return zab_on_synced(s, token);
    }
    while (s->pending != NULL && s->pending->token <= token) {
        int rc = server_commit_head(s);
        if (rc != COORD_OK) {
            return rc;
        }
    }
    return COORD_OK;
}

/* ---- sessions ----------------------------------------------------------------------------------
 */

static int fresh_push(struct coord_server *s, uint64_t conn, coord_time_ms opened_ms)
{
    if (s->fresh_head > 0 && s->fresh_head == s->fresh_count) {
        s->fresh_head = s->fresh_count = 0; /* Empty: start over at the front. */
    }
    if (s->fresh_count == s->fresh_cap) {
        if (s->fresh_head > 0) {
            size_t live = s->fresh_count - s->fresh_head;
            memmove(s->fresh, s->fresh + s->fresh_head, live * sizeof *s->fresh);
            s->fresh_head = 0;
            s->fresh_count = live;
        } else {
            size_t cap = s->fresh_cap == 0 ? 16 : s->fresh_cap * 2;
            struct server_new_conn *v = coord_realloc(s->fresh, cap * sizeof *v);
            if (v == NULL) {
                return COORD_ENOMEM;
            }
            s->fresh = v;
            s->fresh_cap = cap;
        }
    }
    s->fresh[s->fresh_count].conn = conn;
    s->fresh[s->fresh_count].opened_ms = opened_ms;
    s->fresh_count++;
    return COORD_OK;
}

static int32_t handshake_timeout(const struct coord_server *s)
{
    return s->cfg.handshake_timeout_ms > 0 ? s->cfg.handshake_timeout_ms
                                           : SERVER_HANDSHAKE_TIMEOUT_DEFAULT_MS;
}

/* Close connections that sent no ConnectRequest before the handshake timeout
 * (ZooKeeper closes them after 10 s too), and drop entries of connections that
 * did or are gone. Returns the next deadline, INT64_MAX when none. */
static int64_t expire_handshakes(struct coord_server *s)
{
    while (s->fresh_head < s->fresh_count) {
        const struct server_new_conn *f = &s->fresh[s->fresh_head];
        struct server_conn *c = coord_u64map_get(&s->conns, f->conn);
        if (c == NULL || c->state != CONN_NEW || c->established_ms != f->opened_ms) {
            s->fresh_head++;
            continue;
        }
        int64_t deadline = f->opened_ms + handshake_timeout(s);
        if (s->now_ms < deadline) {
            return deadline;
        }
        s->fresh_head++;
        conn_close(s, c, "no ConnectRequest in time");
    }
    return INT64_MAX;
}

/* Sessions expire on a standalone server and on an established leader only:
 * a learner's session table follows the leader's closeSession txns. */
static bool owns_expiry(const struct coord_server *s)
{
    return s->zab == NULL || (zab_is_leader(s) && zab_serving(s));
}

void server_touch_all_sessions(struct coord_server *s)
{
    size_t pos = 0;
    const struct coord_session *sess;
    while (coord_sessions_next(&s->sessions, &pos, &sess)) {
        coord_sessions_touch(&s->sessions, sess->id, s->now_ms);
    }
}

static int expire_sessions(struct coord_server *s)
{
    if (!owns_expiry(s)) {
        return COORD_OK;
    }
    coord_session_id ids[64];
    size_t n;
    do {
        n = coord_sessions_expire(&s->sessions, s->now_ms, ids, 64);
        for (size_t i = 0; i < n; i++) {
            struct coord_txn txn;
            int rc = coord_prep_close_session(&s->prep, &s->tree, ids[i], s->next_zxid,
                                              server_wall(s), &txn);
            if (rc == COORD_OK) {
                rc = submit_txn(s, NULL, &txn, 0, 0 /* no request */, NULL);
            }
            if (rc != COORD_OK) {
                return rc;
            }
        }
    } while (n == 64);
    return COORD_OK;
}

static void update_timer(struct coord_server *s)
{
    int64_t deadline = owns_expiry(s) ? coord_sessions_next_deadline(&s->sessions) : INT64_MAX;
    int64_t handshake = expire_handshakes(s);
    if (handshake < deadline) {
        deadline = handshake;
    }
    if (s->zab != NULL) {
        int64_t z = zab_deadline(s);
        if (z < deadline) {
            deadline = z;
        }
    }
    if (deadline != s->wake_ms && deadline != INT64_MAX) {
        s->wake_ms = deadline;
        s->env.wake_at(s->env.ctx, deadline);
    }
}

/* ---- init, recovery, step -----------------------------------------------------------------------
 */

#define SERVER_SNAP_MAGIC 0x43534e50u /* "CSNP" */
#define SERVER_SNAP_VERSION 1u

int coord_server_snapshot(const struct coord_server *s, struct coord_buf *out)
{
    coord_buf_be32(out, SERVER_SNAP_MAGIC);
    coord_buf_be32(out, SERVER_SNAP_VERSION);
    int rc = coord_tree_snapshot(&s->tree, out);
    if (rc == COORD_OK) {
        rc = coord_sessions_snapshot(&s->sessions, out);
    }
    return rc;
}

static void set_err(char *errmsg, size_t cap, const char *msg)
{
    if (errmsg == NULL || cap == 0) {
        return;
    }
    size_t n = strlen(msg);
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(errmsg, msg, n);
    errmsg[n] = '\0';
}

/* Restore tree and sessions from a snapshot into a fresh state. */
static int snapshot_restore(struct coord_server *s, const void *snap, size_t len)
{
    struct coord_reader r;
    coord_reader_init(&r, snap, len);
    if (coord_reader_be32(&r) != SERVER_SNAP_MAGIC ||
        coord_reader_be32(&r) != SERVER_SNAP_VERSION) {
        return COORD_ECORRUPT;
    }
    int rc = coord_tree_restore(&s->tree, &r);
    if (rc == COORD_OK) {
        rc = coord_sessions_restore(&s->sessions, &r, s->now_ms == INT64_MIN ? 0 : s->now_ms);
    }
    return rc == COORD_OK || rc == COORD_ENOMEM ? rc : COORD_EMARSHALLING;
}

int server_load_snapshot(struct coord_server *s, const uint8_t *snap, size_t len)
{
    coord_watches_close(&s->watches);
    coord_sessions_close(&s->sessions);
    coord_tree_close(&s->tree);
    coord_prep_reset(&s->prep);
    int rc = coord_tree_init(&s->tree);
    coord_id id = s->cfg.id == 0 ? 1 : s->cfg.id;
    if (rc == COORD_OK) {
        s->tree.data_max_bytes = s->cfg.data_max_bytes;
        coord_tree_set_change_cb(&s->tree, server_tree_changed, s);
        rc = coord_sessions_init(&s->sessions, s->cfg.tick_ms, id, coord_rng_next(&s->rng),
                                 s->cfg.session_secret);
    }
    if (rc == COORD_OK) {
        rc = coord_watches_init(&s->watches);
    }
    if (rc == COORD_OK) {
        rc = snapshot_restore(s, snap, len);
    }
    return rc;
}

static int server_recover(struct coord_server *s,
                          const struct coord_storage *st,
                          char *errmsg,
                          size_t errmsg_len)
{
    if (st == NULL) {
        return COORD_OK;
    }
    if (st->snapshot != NULL && st->snapshot_len > 0) {
        int rc = snapshot_restore(s, st->snapshot, st->snapshot_len);
        if (rc != COORD_OK) {
            set_err(errmsg, errmsg_len,
                    rc == COORD_ENOMEM     ? "snapshot: out of memory"
                    : rc == COORD_ECORRUPT ? "snapshot: bad magic or version"
                                           : "snapshot: corrupt content");
            return rc == COORD_ECORRUPT || rc == COORD_ENOMEM ? rc : COORD_ECORRUPT;
        }
    }
    int64_t replayed = 0;
    if (st->log != NULL) {
        const void *rec;
        size_t len;
        while (st->log->next(st->log->ctx, &rec, &len)) {
            struct coord_txn txn;
            int rc = coord_txn_decode(rec, len, &txn);
            if (rc != COORD_OK) {
                set_err(errmsg, errmsg_len, "log: undecodable transaction record");
                return rc;
            }
            if (txn.zxid <= s->tree.last_zxid || txn.zxid <= server_last_logged(s)) {
                coord_txn_release(&txn); /* Already in the snapshot. */
                continue;
            }
            if (s->zab != NULL) {
                /* Quorum mode: logged is not committed. The tail waits,
                 * unapplied, until a leader tells what to keep. */
                coord_zxid zxid = txn.zxid;
                coord_txn_release(&txn);
                if (pending_append(s, rec, len, zxid, 0, false) == NULL) {
                    set_err(errmsg, errmsg_len, "log: out of memory during replay");
                    return COORD_ENOMEM;
                }
                replayed++;
                continue;
            }
            int apply_rc;
            rc = state_apply(s, &txn, coord_hash64(rec, len, 0), NULL, 0, &apply_rc);
            if (rc == COORD_OK && txn.type == COORD_OP_CLOSESESSION) {
                coord_sessions_remove(&s->sessions, txn.session);
            }
            coord_txn_release(&txn);
            if (rc != COORD_OK) {
                set_err(errmsg, errmsg_len, "log: out of memory during replay");
                return rc;
            }
            replayed++;
        }
    }
    server_trace(s, COORD_TRACE_RECOVERED, s->tree.last_zxid, replayed, server_last_logged(s),
                 NULL);
    return COORD_OK;
}

int coord_server_init(struct coord_server *s,
                      const struct coord_config *cfg,
                      uint64_t seed,
                      const struct coord_env *env,
                      const struct coord_storage *storage,
                      char *errmsg,
                      size_t errmsg_len)
{
    memset(s, 0, sizeof *s);
    if (cfg == NULL || env == NULL || env->conn_write == NULL || env->conn_close == NULL ||
        env->log_append == NULL || env->snapshot_write == NULL || env->wake_at == NULL) {
        set_err(errmsg, errmsg_len, "missing config or env method");
        return COORD_EBADARGUMENTS;
    }
    s->cfg = *cfg;
    if (s->cfg.tick_ms <= 0) {
        s->cfg.tick_ms = 2000;
    }
    if (s->cfg.data_max_bytes <= 0) {
        s->cfg.data_max_bytes = COORD_DATA_MAX_DEFAULT;
    }
    if (s->cfg.max_frame_bytes == 0) {
        s->cfg.max_frame_bytes = COORD_WIRE_MAX_FRAME;
    }
    if (s->cfg.snap_count == 0) {
        s->cfg.snap_count = 100000;
    }
    coord_id id = s->cfg.id == 0 ? 1 : s->cfg.id;
    if (id > COORD_SERVER_ID_MAX) {
        set_err(errmsg, errmsg_len, "server id must be 1..127");
        return COORD_EBADARGUMENTS;
    }
    s->env = *env;
    coord_rng_seed(&s->rng, seed);
    s->role = COORD_ROLE_STANDALONE;
    s->wake_ms = INT64_MAX;
    coord_u64map_init(&s->conns);
    coord_buf_init(&s->out);
    coord_buf_init(&s->logbuf);
    coord_buf_init(&s->notebuf);
    coord_prep_init(&s->prep);
    s->prep.data_max_bytes = s->cfg.data_max_bytes;
    s->prep.ttl_enabled = s->cfg.ttl_enabled;
    int rc = coord_tree_init(&s->tree);
    if (rc != COORD_OK) {
        set_err(errmsg, errmsg_len, "out of memory");
        return rc;
    }
    s->tree.data_max_bytes = s->cfg.data_max_bytes;
    coord_tree_set_change_cb(&s->tree, server_tree_changed, s);
    rc = coord_sessions_init(&s->sessions, s->cfg.tick_ms, id, coord_rng_next(&s->rng),
                             s->cfg.session_secret);
    if (rc == COORD_OK) {
        rc = coord_watches_init(&s->watches);
    }
    if (rc == COORD_OK && s->cfg.voter_count > 0) {
        rc = zab_init(s, storage != NULL ? storage->meta : NULL,
                      storage != NULL ? storage->meta_len : 0, errmsg, errmsg_len);
    }
    if (rc == COORD_OK) {
        rc = server_recover(s, storage, errmsg, errmsg_len);
    }
    if (rc != COORD_OK) {
        if (errmsg != NULL && errmsg_len > 0 && errmsg[0] == '\0') {
            set_err(errmsg, errmsg_len, coord_strerror(rc));
        }
        coord_server_close(s);
        return rc;
    }
    s->next_zxid = s->tree.last_zxid + 1;
    s->closed = false;
    /* Restored sessions get fresh timers on the first event, when the clock
     * is known (ZooKeeper restarts every session's timer on load). */
    s->txns_since_snapshot = 0;
    s->now_ms = INT64_MIN;
    /* Ask for an event at once: the first one brings the clock, which
     * restarts the timers of restored sessions, so they expire even if no
     * client ever comes back. */
    s->wake_ms = 0;
    s->env.wake_at(s->env.ctx, 0);
    return COORD_OK;
}

void coord_server_close(struct coord_server *s)
{
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&s->conns, &pos, &key, &value)) {
        struct server_conn *c = value;
        conn_free_slots(c);
        for (size_t i = 0; i < c->id_count; i++) {
            coord_free((void *)c->ids[i].scheme.ptr);
        }
        coord_free(c->ids);
        coord_buf_free(&c->in);
        coord_free(c);
    }
    coord_u64map_free(&s->conns);
    while (s->pending != NULL) {
        struct server_pending *p = s->pending;
        s->pending = p->next;
        coord_free(p);
    }
    s->pending_tail = NULL;
    coord_free(s->fresh);
    s->fresh = NULL;
    if (s->zab != NULL) {
        zab_close(s);
    }
    coord_watches_close(&s->watches);
    coord_sessions_close(&s->sessions);
    coord_prep_close(&s->prep);
    coord_tree_close(&s->tree);
    coord_buf_free(&s->out);
    coord_buf_free(&s->logbuf);
    coord_buf_free(&s->notebuf);
    s->closed = true;
}

static int on_conn_open(struct coord_server *s, const struct coord_event *ev)
{
    if (ev->conn == 0 || coord_u64map_get(&s->conns, ev->conn) != NULL) {
        return COORD_OK; /* A host bug; nothing from outside can cause it. */
    }
    struct server_conn *c = coord_calloc(1, sizeof *c);
    if (c == NULL) {
        return COORD_ENOMEM;
    }
    c->id = ev->conn;
    coord_buf_init(&c->in);
    size_t n = ev->data == NULL ? 0 : COORD_MIN(ev->len, sizeof c->ip - 1);
    if (n > 0) {
        memcpy(c->ip, ev->data, n);
    }
    c->ip[n] = '\0';
    c->established_ms = s->now_ms;
    if (fresh_push(s, c->id, s->now_ms) != COORD_OK) {
        coord_free(c);
        return COORD_ENOMEM;
    }
    if (coord_u64map_put(&s->conns, c->id, c) != COORD_OK) {
        coord_free(c);
        return COORD_ENOMEM;
    }
    if (n > 0 && conn_add_id(c, "ip", 2, c->ip, n) == COORD_ENOMEM) {
        conn_free(s, c);
        return COORD_ENOMEM;
    }
    return COORD_OK;
}

static int on_conn_data(struct coord_server *s, const struct coord_event *ev)
{
    struct server_conn *c = coord_u64map_get(&s->conns, ev->conn);
    if (c == NULL || c->state == CONN_CLOSING) {
        return COORD_OK;
    }
    coord_buf_put(&c->in, ev->data, ev->len);
    if (c->in.failed) {
        return COORD_ENOMEM;
    }
    if (c->state == CONN_HANDSHAKE) {
        return COORD_OK; /* Buffered until the session exists. */
    }
    return conn_process(s, c);
}

int coord_server_step(struct coord_server *s, const struct coord_event *ev)
{
    COORD_ASSERT(s != NULL && ev != NULL && !s->closed);
    bool first = s->now_ms == INT64_MIN;
    s->now_ms = ev->now_ms;
    s->wall_ms = ev->wall_ms;
    if (first) {
        size_t pos = 0;
        const struct coord_session *sess;
        while (coord_sessions_next(&s->sessions, &pos, &sess)) {
            coord_sessions_touch(&s->sessions, sess->id, s->now_ms);
        }
    }
    int rc = COORD_OK;
    if (first && s->zab != NULL) {
        rc = zab_start(s);
    }
    switch (ev->type) {
        case COORD_EVENT_CONN_OPEN:
            rc = on_conn_open(s, ev);
            break;
        case COORD_EVENT_CONN_DATA:
            rc = on_conn_data(s, ev);
            break;
        case COORD_EVENT_CONN_CLOSED: {
            struct server_conn *c = coord_u64map_get(&s->conns, ev->conn);
            if (c != NULL) {
                conn_free(s, c);
            }
            break;
        }
        case COORD_EVENT_SYNCED:
            if (rc == COORD_OK) {
                rc = on_synced(s, ev->token);
            }
            break;
        case COORD_EVENT_TIMEOUT:
            if (ev->now_ms >= s->wake_ms) {
                s->wake_ms = INT64_MAX;
            }
            if (rc == COORD_OK && s->zab != NULL) {
                rc = zab_on_timeout(s);
            }
            break;
        case COORD_EVENT_PEER_MESSAGE:
            if (rc == COORD_OK && s->zab != NULL) {
                rc = zab_on_peer_message(s, ev->peer, ev->data, ev->len);
            }
            break;
        case COORD_EVENT_PEER_UP:
            if (rc == COORD_OK && s->zab != NULL) {
                rc = zab_on_peer_up(s, ev->peer);
            }
            break;
        case COORD_EVENT_PEER_DOWN:
            if (rc == COORD_OK && s->zab != NULL) {
                rc = zab_on_peer_down(s, ev->peer);
            }
            break;
        default:
            break;
    }
    if (rc == COORD_OK) {
        rc = expire_sessions(s);
    }
    update_timer(s);
    return rc;
}

size_t coord_server_outstanding(const struct coord_server *s)
{
    size_t n = 0;
    for (const struct server_pending *p = s->pending; p != NULL; p = p->next) {
        n++;
    }
    return n;
}

bool coord_server_conn_info(const struct coord_server *s,
                            uint64_t conn,
                            struct coord_conn_info *out)
{
    const struct server_conn *c = coord_u64map_get(&s->conns, conn);
    if (c == NULL) {
        return false;
    }
    memset(out, 0, sizeof *out);
    out->session = c->session;
    const struct coord_session *sess =
        c->session != 0 ? coord_sessions_get(&s->sessions, c->session) : NULL;
    out->timeout_ms = sess != NULL ? sess->timeout_ms : 0;
    out->last_cxid = c->last_cxid;
    out->last_zxid = c->last_zxid;
    out->last_op = c->last_op;
    out->established_ms = c->established_ms;
    out->last_response_ms = c->last_response_ms;
    out->last_latency_ms = c->last_latency_ms;
    out->latency_min_ms = c->latency_min_ms;
    out->latency_max_ms = c->latency_max_ms;
    out->latency_avg_ms = c->latency_count == 0 ? 0 : c->latency_sum_ms / (int64_t)c->latency_count;
    return true;
}

void coord_server_quorum_info(const struct coord_server *s, struct coord_quorum_info *out)
{
    memset(out, 0, sizeof *out);
    out->last_logged = server_last_logged(s);
    out->last_applied = s->tree.last_zxid;
    if (s->zab == NULL) {
        out->role = COORD_ROLE_STANDALONE;
        out->serving = true;
        return;
    }
    zab_info(s, out);
}
