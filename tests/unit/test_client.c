/* The client core, driven against a real coord_server through a small
 * in-test harness: handshake, results, pipelining, pings by virtual time,
 * watches and their re-registration, reconnects, expiry, auth, closeSession,
 * and replies the client must refuse (zk-wire §4, §5, §10.5, §12). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/client.h"
#include "coord/server.h"
#include "coord/wire.h"

/* ---- the harness ------------------------------------------------------------------------
 *
 * One coord_server, several clients. Every env method only records; pump()
 * then moves the recorded actions and bytes between the two sides until
 * nothing is left to do. The log is synced as soon as it is written. Modes
 * per client: refuse (connects fail at once), hang (connects never finish
 * until finish_connect), intercept (server bytes are held back, for the test
 * to read or replace) and blackhole (client bytes are lost). */

#define T0 1000000
#define MAX_RECS 1024
#define MAX_EVENTS 2048
#define MAX_CONNECTS 1024
#define MAX_CLIENTS 4

struct rec
{
    uint64_t tag;
    int32_t type;
    int err;
    coord_zxid zxid;
    char path[128];
    int32_t data_len;
    char data[128];
    int32_t child_count;
    char children[1024];
    bool has_stat;
    struct coord_stat stat;
    int32_t acl_count;
    char acl[256];
    uint32_t result_count;
    int32_t rtype[8];
    int32_t rerr[8];
    char rpath[8][32];
    char idents[256];
    int32_t number;
};

struct ev
{
    int32_t type;
    int32_t state;
    char path[128];
};

/* The harness's own byte buffers use libc directly, so that a test starving
 * the core's allocator does not starve the pipes. */
struct hbuf
{
    uint8_t *data;
    size_t len;
    size_t cap;
};

static void hbuf_init(struct hbuf *b)
{
    memset(b, 0, sizeof *b);
}

static void hbuf_free(struct hbuf *b)
{
    free(b->data);
    hbuf_init(b);
}

static void hbuf_reset(struct hbuf *b)
{
    b->len = 0;
}

static void hbuf_put(struct hbuf *b, const void *src, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap == 0 ? 256 : b->cap;
        while (cap < b->len + len) {
            cap *= 2;
        }
        b->data = realloc(b->data, cap);
        assert_non_null(b->data);
        b->cap = cap;
    }
    if (len > 0) {
        memcpy(b->data + b->len, src, len);
        b->len += len;
    }
}

struct harness;

struct hclient
{
    struct harness *h;
    struct coord_client c;
    uint64_t conn; /* The server's id for our connection; 0 = none. */
    bool connect_pending;
    bool close_pending;
    bool server_closed;
    bool hung; /* A connect is held by hang mode. */
    uint32_t connects[MAX_CONNECTS];
    size_t connect_count;
    size_t conn_start[MAX_CONNECTS]; /* Offsets in `sent` where each connection began. */
    size_t opened_count;
    size_t close_count;
    struct hbuf to_server;
    struct hbuf to_client;
    struct hbuf sent; /* Everything the client ever wrote. */
    coord_time_ms wake;
    struct rec *recs;
    size_t rec_count;
    struct ev evs[MAX_EVENTS];
    size_t ev_count;
    bool refuse;
    bool hang;
    bool intercept;
    bool blackhole;
};

struct harness
{
    struct coord_server s;
    coord_time_ms now;
    coord_time_ms server_wake;
    uint64_t logged;
    uint64_t synced;
    uint64_t next_conn;
    struct hclient *cl[MAX_CLIENTS];
    size_t n;
    char log[16384];
    size_t log_len;
};

/* Tests that read the log reset log_len first; a long run just wraps. */
static void h_log(struct harness *h, const char *fmt, ...)
{
    if (sizeof h->log - h->log_len < 256) {
        h->log_len = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(h->log + h->log_len, sizeof h->log - h->log_len, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof h->log - h->log_len);
    h->log_len += (size_t)n;
}

/* -- server env -- */

static struct hclient *h_client_of(struct harness *h, uint64_t conn)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->cl[i]->conn == conn && conn != 0) {
            return h->cl[i];
        }
    }
    return NULL;
}

static void srv_conn_write(void *ctx, uint64_t conn, const void *buf, size_t len)
{
    struct hclient *hc = h_client_of(ctx, conn);
    if (hc != NULL) {
        hbuf_put(&hc->to_client, buf, len);
    }
}

static void srv_conn_close(void *ctx, uint64_t conn)
{
    struct hclient *hc = h_client_of(ctx, conn);
    if (hc != NULL) {
        hc->server_closed = true;
    }
}

static void srv_log_append(void *ctx, const void *rec, size_t len, uint64_t token)
{
    (void)rec;
    (void)len;
    struct harness *h = ctx;
    h->logged = token;
}

static void srv_log_truncate(void *ctx, coord_zxid last)
{
    (void)ctx;
    (void)last;
}

static void srv_snapshot_write(void *ctx, const void *buf, size_t len, coord_zxid zxid)
{
    (void)ctx;
    (void)buf;
    (void)len;
    (void)zxid;
}

static void srv_meta_write(void *ctx, const void *buf, size_t len, uint64_t token)
{
    (void)ctx;
    (void)buf;
    (void)len;
    (void)token;
}

static void srv_wake_at(void *ctx, coord_time_ms deadline)
{
    struct harness *h = ctx;
    h->server_wake = deadline;
}

static void server_step(struct harness *h,
                        enum coord_event_type type,
                        uint64_t conn,
                        const void *data,
                        size_t len,
                        uint64_t token)
{
    struct coord_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.now_ms = h->now;
    ev.conn = conn;
    ev.data = data;
    ev.len = len;
    ev.token = token;
    assert_int_equal(coord_server_step(&h->s, &ev), COORD_OK);
}

/* -- client env -- */

static void cli_connect(void *ctx, uint32_t index)
{
    struct hclient *hc = ctx;
    assert_true(hc->connect_count < MAX_CONNECTS);
    hc->connects[hc->connect_count++] = index;
    hc->connect_pending = true;
}

static void cli_write(void *ctx, const void *buf, size_t len)
{
    struct hclient *hc = ctx;
    hbuf_put(&hc->to_server, buf, len);
    hbuf_put(&hc->sent, buf, len);
}

static void cli_close(void *ctx)
{
    struct hclient *hc = ctx;
    hc->close_count++;
    hc->close_pending = true;
}

static void cli_wake_at(void *ctx, coord_time_ms deadline)
{
    struct hclient *hc = ctx;
    hc->wake = deadline;
}

/* Copies at most cap - 1 bytes: long data is kept as a prefix (data_len
 * keeps the real length). */
static void copy_str(char *dst, size_t cap, const char *src, int32_t len)
{
    size_t n = len < 0 ? 0 : COORD_MIN((size_t)len, cap - 1);
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
}

static void join_strvec(char *dst, size_t cap, const struct coord_strvec *v, int32_t *count)
{
    struct coord_strvec_iter it;
    struct coord_str s;
    size_t off = 0;
    dst[0] = '\0';
    coord_strvec_iter_init(&it, v);
    *count = v->count;
    while (coord_strvec_next(&it, &s)) {
        assert_true(off + (size_t)s.len + 2 < cap);
        memcpy(dst + off, s.ptr, (size_t)s.len);
        off += (size_t)s.len;
        dst[off++] = ',';
        dst[off] = '\0';
    }
}

static void cli_complete(void *ctx, const struct coord_client_result *res)
{
    struct hclient *hc = ctx;
    assert_true(hc->rec_count < MAX_RECS);
    struct rec *r = &hc->recs[hc->rec_count++];
    memset(r, 0, sizeof *r);
    r->tag = res->tag;
    r->type = res->type;
    r->err = res->err;
    r->zxid = res->zxid;
    copy_str(r->path, sizeof r->path, res->path.ptr, res->path.len);
    r->data_len = res->data_len;
    copy_str(r->data, sizeof r->data, (const char *)res->data, res->data_len);
    join_strvec(r->children, sizeof r->children, &res->children, &r->child_count);
    r->has_stat = res->has_stat;
    r->stat = res->stat;
    r->acl_count = res->acl_count;
    size_t off = 0;
    for (int32_t i = 0; i < res->acl_count; i++) {
        const struct coord_acl *a = &res->acl[i];
        off += (size_t)snprintf(r->acl + off, sizeof r->acl - off, "%d:%.*s:%.*s,", a->perms,
                                (int)a->ident.scheme.len, a->ident.scheme.ptr, (int)a->ident.id.len,
                                a->ident.id.ptr);
    }
    r->result_count = res->result_count;
    for (uint32_t i = 0; i < res->result_count && i < 8; i++) {
        r->rtype[i] = res->results[i].type;
        r->rerr[i] = res->results[i].err;
        copy_str(r->rpath[i], sizeof r->rpath[i], res->results[i].path.ptr,
                 res->results[i].path.len);
    }
    int32_t idc;
    join_strvec(r->idents, sizeof r->idents, &res->idents, &idc);
    r->number = res->number;
    h_log(hc->h, "C%llu=%d ", (unsigned long long)res->tag, res->err);
}

static void cli_watch(void *ctx, const struct coord_watcher_event *e)
{
    struct hclient *hc = ctx;
    assert_true(hc->ev_count < MAX_EVENTS);
    struct ev *x = &hc->evs[hc->ev_count++];
    x->type = e->type;
    x->state = e->state;
    copy_str(x->path, sizeof x->path, e->path.ptr, e->path.len);
    if (e->type == COORD_EV_NONE) {
        h_log(hc->h, "S%d ", e->state);
    } else {
        h_log(hc->h, "E%d:%s ", e->type, x->path);
    }
}

/* -- moving things -- */

static void pump(struct harness *h);

static void h_open(struct hclient *hc)
{
    struct harness *h = hc->h;
    hc->conn = ++h->next_conn;
    assert_true(hc->opened_count < MAX_CONNECTS);
    hc->conn_start[hc->opened_count++] = hc->sent.len;
    server_step(h, COORD_EVENT_CONN_OPEN, hc->conn, "127.0.0.1", 9, 0);
    coord_client_on_connected(&hc->c, h->now);
}

/* Complete a connect held by hang mode. */
static void finish_connect(struct hclient *hc)
{
    assert_true(hc->hung);
    hc->hung = false;
    hc->hang = false;
    h_open(hc);
    pump(hc->h);
}

static void h_server_forget(struct hclient *hc)
{
    if (hc->conn != 0) {
        server_step(hc->h, COORD_EVENT_CONN_CLOSED, hc->conn, NULL, 0, 0);
    }
    hc->conn = 0;
    hc->server_closed = false;
    hbuf_reset(&hc->to_client);
    hbuf_reset(&hc->to_server);
}

static bool pump_client(struct hclient *hc)
{
    struct harness *h = hc->h;
    if (hc->close_pending) {
        hc->close_pending = false;
        if (hc->conn != 0 && hc->to_server.len > 0 && !hc->blackhole) {
            server_step(h, COORD_EVENT_CONN_DATA, hc->conn, hc->to_server.data, hc->to_server.len,
                        0);
        }
        hc->hung = false;
        h_server_forget(hc);
        return true;
    }
    if (hc->connect_pending) {
        hc->connect_pending = false;
        if (hc->refuse) {
            coord_client_on_closed(&hc->c, h->now);
        } else if (hc->hang) {
            hc->hung = true;
        } else {
            h_open(hc);
        }
        return true;
    }
    if (hc->to_server.len > 0) {
        if (hc->blackhole || hc->conn == 0) {
            hbuf_reset(&hc->to_server);
            return true;
        }
        struct hbuf b = hc->to_server;
        hbuf_init(&hc->to_server);
        server_step(h, COORD_EVENT_CONN_DATA, hc->conn, b.data, b.len, 0);
        hbuf_free(&b);
        return true;
    }
    if (hc->to_client.len > 0 && !hc->intercept) {
        struct hbuf b = hc->to_client;
        hbuf_init(&hc->to_client);
        coord_client_on_data(&hc->c, h->now, b.data, b.len);
        hbuf_free(&b);
        return true;
    }
    if (hc->server_closed && hc->to_client.len == 0 && !hc->intercept) {
        h_server_forget(hc);
        coord_client_on_closed(&hc->c, h->now);
        return true;
    }
    return false;
}

static void pump(struct harness *h)
{
    for (int rounds = 0; rounds < 100000; rounds++) {
        bool progress = false;
        for (size_t i = 0; i < h->n; i++) {
            progress = pump_client(h->cl[i]) || progress;
        }
        if (h->logged > h->synced) {
            h->synced = h->logged;
            server_step(h, COORD_EVENT_SYNCED, 0, NULL, 0, h->synced);
            progress = true;
        }
        if (!progress) {
            return;
        }
    }
    fail_msg("pump did not settle");
}

/* Move virtual time forward by ms, firing every timer on the way. */
static void advance(struct harness *h, coord_time_ms ms)
{
    coord_time_ms target = h->now + ms;
    for (;;) {
        coord_time_ms next = h->server_wake;
        for (size_t i = 0; i < h->n; i++) {
            next = COORD_MIN(next, h->cl[i]->wake);
        }
        if (next > target) {
            h->now = target;
            pump(h);
            return;
        }
        h->now = COORD_MAX(next, h->now);
        for (size_t i = 0; i < h->n; i++) {
            struct hclient *hc = h->cl[i];
            if (hc->wake <= h->now) {
                hc->wake = INT64_MAX;
                coord_client_on_timeout(&hc->c, h->now);
            }
        }
        if (h->server_wake <= h->now) {
            h->server_wake = INT64_MAX;
            server_step(h, COORD_EVENT_TIMEOUT, 0, NULL, 0, 0);
        }
        pump(h);
    }
}

static struct harness *h_new(void)
{
    struct harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->now = T0;
    h->server_wake = INT64_MAX;
    struct coord_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.id = 1;
    cfg.tick_ms = 2000;
    struct coord_env env;
    memset(&env, 0, sizeof env);
    env.ctx = h;
    env.conn_write = srv_conn_write;
    env.conn_close = srv_conn_close;
    env.log_append = srv_log_append;
    env.log_truncate = srv_log_truncate;
    env.snapshot_write = srv_snapshot_write;
    env.meta_write = srv_meta_write;
    env.wake_at = srv_wake_at;
    char err[128];
    assert_int_equal(coord_server_init(&h->s, &cfg, 42, &env, NULL, err, sizeof err), COORD_OK);
    return h;
}

static struct coord_client_config default_config(void)
{
    struct coord_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.server_count = 1;
    cfg.session_timeout_ms = 30000;
    cfg.seed = 7;
    return cfg;
}

static struct hclient *hc_new(struct harness *h, const struct coord_client_config *cfg)
{
    assert_true(h->n < MAX_CLIENTS);
    struct hclient *hc = calloc(1, sizeof *hc);
    assert_non_null(hc);
    hc->recs = calloc(MAX_RECS, sizeof *hc->recs);
    assert_non_null(hc->recs);
    hc->h = h;
    hc->wake = INT64_MAX;
    hbuf_init(&hc->to_server);
    hbuf_init(&hc->to_client);
    hbuf_init(&hc->sent);
    struct coord_client_env env = {hc,          cli_connect,  cli_write, cli_close,
                                   cli_wake_at, cli_complete, cli_watch};
    assert_int_equal(coord_client_init(&hc->c, cfg, &env), COORD_OK);
    h->cl[h->n++] = hc;
    return hc;
}

/* A client connected with the default config. */
static struct hclient *hc_connected(struct harness *h)
{
    struct coord_client_config cfg = default_config();
    struct hclient *hc = hc_new(h, &cfg);
    coord_client_start(&hc->c, h->now);
    pump(h);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    return hc;
}

static void h_free(struct harness *h)
{
    for (size_t i = 0; i < h->n; i++) {
        struct hclient *hc = h->cl[i];
        coord_client_close(&hc->c);
        hbuf_free(&hc->to_server);
        hbuf_free(&hc->to_client);
        hbuf_free(&hc->sent);
        free(hc->recs);
        free(hc);
    }
    coord_server_close(&h->s);
    free(h);
}

/* Break the connection as a network would: both sides hear it closed. */
static void h_break(struct hclient *hc)
{
    h_server_forget(hc);
    coord_client_on_closed(&hc->c, hc->h->now);
}

/* -- requests -- */

static uint64_t next_tag = 1;

static struct coord_str S(const char *s)
{
    struct coord_str x = {s, (int32_t)strlen(s)};
    return x;
}

static const struct coord_acl open_acl[] = {{COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}}};

static struct coord_op op_create(const char *path, const char *data, int32_t flags)
{
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = COORD_OP_CREATE;
    op.path = S(path);
    op.data = (const uint8_t *)data;
    op.data_len = data == NULL ? -1 : (int32_t)strlen(data);
    op.acl = open_acl;
    op.acl_count = 1;
    op.flags = flags;
    return op;
}

static struct coord_op op_path(int32_t type, const char *path, bool watch)
{
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = type;
    op.path = S(path);
    op.watch = watch;
    op.data_len = -1;
    op.acl_count = -1;
    op.version = -1;
    return op;
}

static struct coord_op op_set(const char *path, const char *data, int32_t version)
{
    struct coord_op op = op_path(COORD_OP_SETDATA, path, false);
    op.data = (const uint8_t *)data;
    op.data_len = (int32_t)strlen(data);
    op.version = version;
    return op;
}

/* Submit without pumping; returns the tag. */
static uint64_t sub(struct hclient *hc, struct coord_op op)
{
    uint64_t tag = next_tag++;
    assert_int_equal(coord_client_submit(&hc->c, &op, tag, hc->h->now), COORD_OK);
    return tag;
}

/* Submit, pump, and return the completion record. */
static const struct rec *call(struct hclient *hc, struct coord_op op)
{
    uint64_t tag = sub(hc, op);
    pump(hc->h);
    assert_true(hc->rec_count > 0);
    const struct rec *r = &hc->recs[hc->rec_count - 1];
    assert_int_equal(r->tag, tag);
    return r;
}

/* -- frames the client sent -- */

/* The k-th frame of the client's connection number `conn_no` (0-based), the
 * ConnectRequest being frame 0. Returns its payload, or NULL. */
static const uint8_t *sent_frame(const struct hclient *hc, size_t conn_no, size_t k, size_t *len)
{
    assert_true(conn_no < hc->opened_count);
    size_t off = hc->conn_start[conn_no];
    size_t end = conn_no + 1 < hc->opened_count ? hc->conn_start[conn_no + 1] : hc->sent.len;
    for (size_t i = 0; off + 4 <= end; i++) {
        size_t flen = coord_load_be32(hc->sent.data + off);
        if (i == k) {
            *len = flen;
            return hc->sent.data + off + 4;
        }
        off += 4 + flen;
    }
    return NULL;
}

static int32_t frame_xid(const uint8_t *p)
{
    return (int32_t)coord_load_be32(p);
}

static int32_t frame_type(const uint8_t *p)
{
    return (int32_t)coord_load_be32(p + 4);
}

/* Count the frames of one opcode the client sent, over all connections. */
static size_t count_sent(const struct hclient *hc, int32_t type)
{
    size_t n = 0;
    for (size_t c = 0; c < hc->opened_count; c++) {
        size_t len;
        for (size_t k = 1; sent_frame(hc, c, k, &len) != NULL; k++) {
            n += frame_type(sent_frame(hc, c, k, &len)) == type;
        }
    }
    return n;
}

/* ---- handshake ---------------------------------------------------------------------------- */

static void test_handshake_creates_session_and_reports_sync_connected(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    struct hclient *hc = hc_new(h, &cfg);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTING);
    coord_client_start(&hc->c, h->now);
    assert_int_equal(hc->connect_count, 1);
    assert_int_equal(hc->connects[0], 0);
    pump(h);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    assert_true(hc->c.session_id != 0);
    assert_non_null(coord_sessions_get(&h->s.sessions, hc->c.session_id));
    assert_int_equal(hc->c.timeout_ms, 30000);
    /* The ConnectRequest: 45 bytes, zxid 0, timeout 30000, no session, readOnly 0. */
    size_t len;
    const uint8_t *p = sent_frame(hc, 0, 0, &len);
    assert_non_null(p);
    assert_int_equal(len, 45);
    assert_int_equal(coord_load_be64(p + 4), 0);
    assert_int_equal(coord_load_be32(p + 12), 30000);
    assert_int_equal(coord_load_be64(p + 16), 0);
    assert_int_equal(coord_load_be32(p + 24), 16);
    assert_int_equal(p[44], 0);
    assert_int_equal(hc->ev_count, 1);
    assert_int_equal(hc->evs[0].type, COORD_EV_NONE);
    assert_int_equal(hc->evs[0].state, COORD_KEEPER_SYNC_CONNECTED);
    assert_string_equal(hc->evs[0].path, "");
    h_free(h);
}

static void test_read_only_option_sets_the_connect_byte(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    cfg.read_only = true;
    struct hclient *hc = hc_new(h, &cfg);
    coord_client_start(&hc->c, h->now);
    pump(h);
    size_t len;
    const uint8_t *p = sent_frame(hc, 0, 0, &len);
    assert_int_equal(len, 45);
    assert_int_equal(p[44], 1);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    assert_false(hc->c.read_only_server);
    h_free(h);
}

static void test_init_rejects_bad_config(void **state)
{
    (void)state;
    struct coord_client c;
    struct coord_client_config cfg = default_config();
    struct coord_client_env env = {NULL,        cli_connect, cli_write, cli_close,
                                   cli_wake_at, NULL,        NULL};
    cfg.server_count = 0;
    assert_int_equal(coord_client_init(&c, &cfg, &env), COORD_EBADARGUMENTS);
    coord_client_close(&c);
    cfg = default_config();
    cfg.session_timeout_ms = -1;
    assert_int_equal(coord_client_init(&c, &cfg, &env), COORD_EBADARGUMENTS);
    coord_client_close(&c);
    cfg = default_config();
    env.write = NULL;
    assert_int_equal(coord_client_init(&c, &cfg, &env), COORD_EBADARGUMENTS);
    coord_client_close(&c);
}

/* ---- results ------------------------------------------------------------------------------- */

static void test_create_get_set_return_exact_results(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    const struct rec *r = call(hc, op_create("/a", "hello", 0));
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(r->type, COORD_OP_CREATE);
    assert_string_equal(r->path, "/a");
    assert_false(r->has_stat);
    coord_zxid created = r->zxid;
    assert_true(created > 0);
    assert_int_equal(hc->c.last_zxid, created);

    r = call(hc, op_path(COORD_OP_GETDATA, "/a", false));
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(r->data_len, 5);
    assert_string_equal(r->data, "hello");
    assert_true(r->has_stat);
    assert_int_equal(r->stat.czxid, created);
    assert_int_equal(r->stat.version, 0);
    assert_int_equal(r->stat.data_length, 5);

    r = call(hc, op_set("/a", "world!", 0));
    assert_int_equal(r->err, COORD_OK);
    assert_true(r->has_stat);
    assert_int_equal(r->stat.version, 1);
    assert_int_equal(r->stat.data_length, 6);
    assert_int_equal(r->stat.mzxid, r->zxid);
    assert_int_equal(hc->c.last_zxid, r->zxid);

    r = call(hc, op_path(COORD_OP_GETDATA, "/a", false));
    assert_string_equal(r->data, "world!");
    assert_int_equal(r->stat.version, 1);

    /* Null data and empty data stay apart. */
    r = call(hc, op_create("/null", NULL, 0));
    assert_int_equal(r->err, COORD_OK);
    r = call(hc, op_path(COORD_OP_GETDATA, "/null", false));
    assert_int_equal(r->data_len, -1);
    call(hc, op_create("/empty", "", 0));
    r = call(hc, op_path(COORD_OP_GETDATA, "/empty", false));
    assert_int_equal(r->data_len, 0);

    /* create2 gives the Stat; sequential names come back. */
    struct coord_op c2 = op_create("/seq-", "x", COORD_MODE_PERSISTENT_SEQUENTIAL);
    c2.type = COORD_OP_CREATE2;
    r = call(hc, c2);
    assert_int_equal(r->err, COORD_OK);
    assert_string_equal(r->path, "/seq-0000000003");
    assert_true(r->has_stat);
    assert_int_equal(r->stat.czxid, r->zxid);

    /* Errors: header only, nothing decoded. */
    r = call(hc, op_create("/a", "again", 0));
    assert_int_equal(r->err, COORD_ENODEEXISTS);
    assert_string_equal(r->path, "");
    r = call(hc, op_path(COORD_OP_GETDATA, "/missing", false));
    assert_int_equal(r->err, COORD_ENONODE);
    assert_int_equal(r->data_len, -1);
    assert_false(r->has_stat);
    r = call(hc, op_set("/a", "v", 7));
    assert_int_equal(r->err, COORD_EBADVERSION);

    r = call(hc, op_path(COORD_OP_EXISTS, "/a", false));
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(r->stat.version, 1);

    r = call(hc, op_path(COORD_OP_GETCHILDREN, "/", false));
    assert_int_equal(r->child_count, 5);
    assert_string_equal(r->children, "zookeeper,a,null,empty,seq-0000000003,");
    r = call(hc, op_path(COORD_OP_GETCHILDREN2, "/", false));
    assert_int_equal(r->child_count, 5);
    assert_true(r->has_stat);
    assert_int_equal(r->stat.num_children, 5);

    struct coord_op del = op_path(COORD_OP_DELETE, "/a", false);
    r = call(hc, del);
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(r->type, COORD_OP_DELETE);
    r = call(hc, op_path(COORD_OP_EXISTS, "/a", false));
    assert_int_equal(r->err, COORD_ENONODE);
    h_free(h);
}

static void test_acl_whoami_sync_and_counts_are_decoded(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    call(hc, op_create("/n", "d", 0));
    call(hc, op_create("/n/c1", "d", 0));
    call(hc, op_create("/n/c1/g", "d", 0));
    call(hc, op_create("/eph", "d", COORD_MODE_EPHEMERAL));

    const struct rec *r = call(hc, op_path(COORD_OP_GETACL, "/n", false));
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(r->acl_count, 1);
    assert_string_equal(r->acl, "31:world:anyone,");
    assert_true(r->has_stat);
    assert_int_equal(r->stat.aversion, 0);

    static const struct coord_acl read_only[] = {{COORD_PERM_READ, {{"world", 5}, {"anyone", 6}}}};
    struct coord_op setacl = op_path(COORD_OP_SETACL, "/n", false);
    setacl.acl = read_only;
    setacl.acl_count = 1;
    setacl.version = 0;
    r = call(hc, setacl);
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(r->stat.aversion, 1);
    r = call(hc, op_path(COORD_OP_GETACL, "/n", false));
    assert_string_equal(r->acl, "1:world:anyone,");

    r = call(hc, op_path(COORD_OP_SYNC, "/n", false));
    assert_int_equal(r->err, COORD_OK);
    assert_string_equal(r->path, "/n");

    r = call(hc, op_path(COORD_OP_GETALLCHILDRENNUMBER, "/n", false));
    assert_int_equal(r->number, 2);

    r = call(hc, op_path(COORD_OP_GETEPHEMERALS, "/", false));
    assert_int_equal(r->child_count, 1);
    assert_string_equal(r->children, "/eph,");

    struct coord_op who = op_path(COORD_OP_WHOAMI, "", false);
    who.path.ptr = NULL;
    who.path.len = -1;
    r = call(hc, who);
    assert_int_equal(r->err, COORD_OK);
    assert_string_equal(r->idents, "ip,127.0.0.1,");
    h_free(h);
}

static void test_multi_results_are_decoded_one_per_op(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    struct coord_op ops[3] = {op_create("/m1", "a", 0), op_create("/m2", "b", 0)};
    uint64_t tag = next_tag++;
    assert_int_equal(coord_client_submit_multi(&hc->c, COORD_OP_MULTI, ops, 2, tag, h->now),
                     COORD_OK);
    pump(h);
    const struct rec *r = &hc->recs[hc->rec_count - 1];
    assert_int_equal(r->tag, tag);
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(r->type, COORD_OP_MULTI);
    assert_int_equal(r->result_count, 2);
    assert_int_equal(r->rtype[0], COORD_OP_CREATE);
    assert_string_equal(r->rpath[0], "/m1");
    assert_string_equal(r->rpath[1], "/m2");

    /* A failing multi: err 0 in the header, error results inside. */
    ops[0] = op_create("/m3", "c", 0);
    ops[1] = op_path(COORD_OP_CHECK, "/m1", false);
    ops[1].version = 5;
    ops[2] = op_path(COORD_OP_DELETE, "/m2", false);
    tag = next_tag++;
    assert_int_equal(coord_client_submit_multi(&hc->c, COORD_OP_MULTI, ops, 3, tag, h->now),
                     COORD_OK);
    pump(h);
    r = &hc->recs[hc->rec_count - 1];
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(r->result_count, 3);
    assert_int_equal(r->rtype[0], COORD_OP_ERROR);
    assert_int_equal(r->rerr[0], 0);
    assert_int_equal(r->rerr[1], COORD_EBADVERSION);
    assert_int_equal(r->rerr[2], COORD_ERUNTIMEINCONSISTENCY);

    /* multiRead: each op on its own. */
    ops[0] = op_path(COORD_OP_GETDATA, "/m1", false);
    ops[1] = op_path(COORD_OP_GETCHILDREN, "/missing", false);
    tag = next_tag++;
    assert_int_equal(coord_client_submit_multi(&hc->c, COORD_OP_MULTIREAD, ops, 2, tag, h->now),
                     COORD_OK);
    pump(h);
    r = &hc->recs[hc->rec_count - 1];
    assert_int_equal(r->result_count, 2);
    assert_int_equal(r->rtype[0], COORD_OP_GETDATA);
    assert_int_equal(r->rtype[1], COORD_OP_ERROR);
    assert_int_equal(r->rerr[1], COORD_ENONODE);

    /* Ops a multi cannot hold are refused before anything is sent. */
    ops[0] = op_path(COORD_OP_GETDATA, "/m1", false);
    assert_int_equal(coord_client_submit_multi(&hc->c, COORD_OP_MULTI, ops, 1, 1, h->now),
                     COORD_EBADARGUMENTS);
    assert_int_equal(coord_client_submit_multi(&hc->c, COORD_OP_CREATE, ops, 1, 1, h->now),
                     COORD_EBADARGUMENTS);
    h_free(h);
}

static void test_submit_rejects_bad_arguments(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    struct coord_op op = op_path(COORD_OP_PING, "/", false);
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EBADARGUMENTS);
    op.type = COORD_OP_CLOSESESSION;
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EBADARGUMENTS);
    op.type = 999;
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EBADARGUMENTS);
    op = op_path(COORD_OP_GETDATA, "/", false);
    op.path.ptr = NULL;
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EBADARGUMENTS);
    op = op_create("/x", "d", 0);
    op.acl = NULL;
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EBADARGUMENTS);
    op = op_set("/x", "d", -1);
    op.data = NULL;
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EBADARGUMENTS);
    /* Larger than a frame may be. */
    static char big[COORD_WIRE_MAX_FRAME + 1];
    op = op_set("/x", "d", -1);
    op.data = (const uint8_t *)big;
    op.data_len = (int32_t)sizeof big;
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EBADARGUMENTS);
    assert_int_equal(hc->c.pending_count, 0);
    assert_int_equal(count_sent(hc, COORD_OP_SETDATA), 0);
    h_free(h);
}

/* ---- pipelining and the queue ------------------------------------------------------------- */

static void test_pipelined_requests_complete_in_order(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    uint64_t first = next_tag;
    char path[32];
    for (int i = 0; i < 100; i++) {
        snprintf(path, sizeof path, "/p%d", i);
        if (i % 2 == 0) {
            sub(hc, op_create(path, "v", 0));
        } else {
            sub(hc, op_path(COORD_OP_EXISTS, "/p0", false));
        }
    }
    /* All 100 are on the wire before any reply. */
    assert_int_equal(hc->c.pending_count, 100);
    assert_int_equal(count_sent(hc, COORD_OP_CREATE), 50);
    assert_int_equal(count_sent(hc, COORD_OP_EXISTS), 50);
    pump(h);
    assert_int_equal(hc->c.pending_count, 0);
    assert_int_equal(hc->rec_count, 100);
    for (int i = 0; i < 100; i++) {
        const struct rec *r = &hc->recs[i];
        assert_int_equal(r->tag, first + (uint64_t)i);
        if (i % 2 == 0) {
            snprintf(path, sizeof path, "/p%d", i);
            assert_int_equal(r->type, COORD_OP_CREATE);
            assert_string_equal(r->path, path);
        } else {
            assert_int_equal(r->type, COORD_OP_EXISTS);
            assert_int_equal(r->err, COORD_OK);
        }
    }
    /* xids went up by one per request. */
    size_t len;
    int32_t prev = 0;
    for (size_t k = 1; k <= 100; k++) {
        const uint8_t *p = sent_frame(hc, 0, k, &len);
        assert_int_equal(frame_xid(p), prev + 1);
        prev = frame_xid(p);
    }
    h_free(h);
}

static void test_requests_before_the_handshake_wait_for_it(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    struct hclient *hc = hc_new(h, &cfg);
    uint64_t t1 = sub(hc, op_create("/early", "1", 0));
    coord_client_start(&hc->c, h->now);
    uint64_t t2 = sub(hc, op_path(COORD_OP_GETDATA, "/early", false));
    /* Nothing is written before the connection opens. */
    assert_int_equal(hc->sent.len, 0);
    assert_int_equal(hc->c.pending_count, 2);
    h->log_len = 0;
    pump(h);
    assert_int_equal(hc->rec_count, 2);
    assert_int_equal(hc->recs[0].tag, t1);
    assert_int_equal(hc->recs[0].err, COORD_OK);
    assert_int_equal(hc->recs[1].tag, t2);
    assert_string_equal(hc->recs[1].data, "1");
    /* SyncConnected comes once the queued requests are out, before replies. */
    char want[64];
    snprintf(want, sizeof want, "S3 C%llu=0 C%llu=0 ", (unsigned long long)t1,
             (unsigned long long)t2);
    assert_string_equal(h->log, want);
    /* They went out right after the ConnectRequest, in order. */
    size_t len;
    assert_int_equal(frame_type(sent_frame(hc, 0, 1, &len)), COORD_OP_CREATE);
    assert_int_equal(frame_type(sent_frame(hc, 0, 2, &len)), COORD_OP_GETDATA);
    h_free(h);
}

static void test_full_queue_returns_efull(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    cfg.pending_max = 3;
    struct hclient *hc = hc_new(h, &cfg);
    coord_client_start(&hc->c, h->now);
    pump(h);
    struct coord_op op = op_path(COORD_OP_EXISTS, "/", false);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_OK);
    }
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EFULL);
    pump(h);
    assert_int_equal(hc->rec_count, 3);
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_OK);
    pump(h);
    assert_int_equal(hc->rec_count, 4);
    h_free(h);
}

static void test_full_watch_table_returns_efull(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    cfg.watch_max = 1;
    struct hclient *hc = hc_new(h, &cfg);
    coord_client_start(&hc->c, h->now);
    pump(h);
    struct coord_op w1 = op_path(COORD_OP_EXISTS, "/w1", true);
    struct coord_op w2 = op_path(COORD_OP_EXISTS, "/w2", true);
    struct coord_op plain = op_path(COORD_OP_EXISTS, "/w2", false);
    assert_int_equal(coord_client_submit(&hc->c, &w1, 1, h->now), COORD_OK);
    assert_int_equal(coord_client_submit(&hc->c, &w2, 2, h->now), COORD_EFULL);
    assert_int_equal(coord_client_submit(&hc->c, &plain, 3, h->now), COORD_OK);
    pump(h);
    assert_int_equal(hc->c.watches.count, 1);
    assert_int_equal(coord_client_submit(&hc->c, &w2, 2, h->now), COORD_EFULL);
    /* The watch fires, the slot frees. */
    call(hc, op_create("/w1", "x", 0));
    assert_int_equal(hc->c.watches.count, 0);
    assert_int_equal(coord_client_submit(&hc->c, &w2, 2, h->now), COORD_OK);
    pump(h);
    h_free(h);
}

/* ---- pings and timeouts ------------------------------------------------------------------- */

static void test_ping_after_a_third_of_the_timeout_idle(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    coord_time_ms start = h->now;
    /* Next deadline: the ping, a third of 30 s after the last send. */
    assert_int_equal(hc->wake, start + 10000);
    advance(h, 9999);
    assert_int_equal(count_sent(hc, COORD_OP_PING), 0);
    advance(h, 1);
    assert_int_equal(count_sent(hc, COORD_OP_PING), 1);
    size_t len;
    const uint8_t *p = sent_frame(hc, 0, 1, &len);
    assert_int_equal(len, 8);
    assert_int_equal(frame_xid(p), COORD_XID_PING);
    assert_int_equal(frame_type(p), COORD_OP_PING);
    /* The reply came back at once, so the next deadline is the next ping. */
    assert_int_equal(hc->wake, start + 20000);
    /* A request in between pushes the ping back. */
    advance(h, 5000);
    call(hc, op_path(COORD_OP_EXISTS, "/", false));
    assert_int_equal(hc->wake, start + 25000);
    /* Over 100 idle seconds: one ping per 10 s, the session stays. */
    advance(h, 100000);
    assert_int_equal(count_sent(hc, COORD_OP_PING), 11);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    assert_int_equal(hc->close_count, 0);
    assert_non_null(coord_sessions_get(&h->s.sessions, hc->c.session_id));
    h_free(h);
}

static void test_silent_server_is_dropped_after_two_thirds_and_next_server_tried(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    cfg.server_count = 3;
    struct hclient *hc = hc_new(h, &cfg);
    coord_client_start(&hc->c, h->now);
    pump(h);
    uint32_t first = hc->connects[0];
    coord_session_id sid = hc->c.session_id;
    coord_time_ms start = h->now;
    hc->blackhole = true; /* Pings vanish; nothing comes back. */
    uint64_t tag = sub(hc, op_path(COORD_OP_EXISTS, "/", false));
    advance(h, 19999);
    assert_int_equal(count_sent(hc, COORD_OP_PING), 1);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    assert_int_equal(hc->close_count, 0);
    hc->blackhole = false;
    advance(h, 1);
    assert_int_equal(h->now, start + 20000);
    assert_int_equal(hc->close_count, 1);
    assert_int_equal(hc->connect_count, 2);
    assert_int_equal(hc->connects[1], (first + 1) % 3);
    /* The request in flight failed; the watcher heard Disconnected, then SyncConnected. */
    assert_int_equal(hc->recs[0].tag, tag);
    assert_int_equal(hc->recs[0].err, COORD_ECONNECTIONLOSS);
    assert_int_equal(hc->recs[0].zxid, 0);
    assert_int_equal(hc->ev_count, 3);
    assert_int_equal(hc->evs[1].state, COORD_KEEPER_DISCONNECTED);
    assert_int_equal(hc->evs[2].state, COORD_KEEPER_SYNC_CONNECTED);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    assert_int_equal(hc->c.session_id, sid);
    /* The second ConnectRequest carried the session. */
    size_t len;
    const uint8_t *p = sent_frame(hc, 1, 0, &len);
    assert_int_equal(coord_load_be64(p + 16), (uint64_t)sid);
    h_free(h);
}

static void test_connect_attempts_go_round_robin_then_back_off(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    cfg.server_count = 3;
    cfg.retry_delay_ms = 1000;
    struct hclient *hc = hc_new(h, &cfg);
    hc->refuse = true;
    coord_client_start(&hc->c, h->now);
    pump(h);
    uint32_t first = hc->connects[0];
    /* A whole round at once... */
    assert_int_equal(hc->connect_count, 3);
    assert_int_equal(hc->connects[1], (first + 1) % 3);
    assert_int_equal(hc->connects[2], (first + 2) % 3);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTING);
    assert_false(hc->c.conn_open);
    /* ...then a pause of 500..1000 ms before each further attempt. */
    coord_time_ms wait = hc->wake - h->now;
    assert_true(wait >= 500 && wait <= 1000);
    advance(h, wait - 1);
    assert_int_equal(hc->connect_count, 3);
    hc->refuse = false;
    advance(h, 1);
    assert_int_equal(hc->connect_count, 4);
    assert_int_equal(hc->connects[3], first);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    assert_int_equal(hc->c.failed_attempts, 0);
    h_free(h);
}

static void test_connect_attempt_that_hangs_times_out(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    cfg.server_count = 2;
    struct hclient *hc = hc_new(h, &cfg);
    hc->hang = true;
    coord_client_start(&hc->c, h->now);
    pump(h);
    /* session_timeout / server_count per attempt. */
    assert_int_equal(hc->wake, h->now + 15000);
    advance(h, 14999);
    assert_int_equal(hc->connect_count, 1);
    hc->hang = false;
    advance(h, 1);
    assert_int_equal(hc->close_count, 1);
    assert_int_equal(hc->connect_count, 2);
    assert_int_equal(hc->connects[1], (hc->connects[0] + 1) % 2);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    h_free(h);
}

/* ---- watches ------------------------------------------------------------------------------- */

static void test_watch_event_arrives_before_the_write_reply_and_fires_once(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    call(hc, op_create("/w", "0", 0));
    const struct rec *r = call(hc, op_path(COORD_OP_GETDATA, "/w", true));
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(hc->c.watches.count, 1);
    h->log_len = 0;
    uint64_t t = sub(hc, op_set("/w", "1", -1));
    pump(h);
    char want[64];
    snprintf(want, sizeof want, "E3:/w C%llu=0 ", (unsigned long long)t);
    assert_string_equal(h->log, want);
    assert_int_equal(hc->evs[hc->ev_count - 1].state, COORD_WIRE_STATE_SYNC_CONNECTED);
    assert_int_equal(hc->c.watches.count, 0);
    /* One-shot: no second event. */
    size_t events = hc->ev_count;
    call(hc, op_set("/w", "2", -1));
    assert_int_equal(hc->ev_count, events);
    h_free(h);
}

static void test_exists_watch_on_missing_node_fires_created(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    const struct rec *r = call(hc, op_path(COORD_OP_EXISTS, "/x", true));
    assert_int_equal(r->err, COORD_ENONODE);
    assert_int_equal(hc->c.watches.count, 1);
    /* getData on a missing node sets nothing. */
    r = call(hc, op_path(COORD_OP_GETDATA, "/y", true));
    assert_int_equal(r->err, COORD_ENONODE);
    assert_int_equal(hc->c.watches.count, 1);
    call(hc, op_create("/x", "", 0));
    assert_int_equal(hc->ev_count, 2);
    assert_int_equal(hc->evs[1].type, COORD_EV_CREATED);
    assert_string_equal(hc->evs[1].path, "/x");
    assert_int_equal(hc->c.watches.count, 0);
    h_free(h);
}

static void test_persistent_watch_stays_and_is_removed_by_remove_watches(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    call(hc, op_create("/pw", "", 0));
    struct coord_op add = op_path(COORD_OP_ADDWATCH, "/pw", false);
    add.mode = 0;
    const struct rec *r = call(hc, add);
    assert_int_equal(r->err, COORD_OK);
    call(hc, op_set("/pw", "1", -1));
    call(hc, op_set("/pw", "2", -1));
    assert_int_equal(hc->ev_count, 3);
    assert_int_equal(hc->evs[2].type, COORD_EV_DATA_CHANGED);
    assert_int_equal(hc->c.watches.count, 1);
    struct coord_op rm = op_path(COORD_OP_REMOVEWATCHES, "/pw", false);
    rm.mode = 4;
    r = call(hc, rm);
    /* Like 3.8, this server knows no type 4: the watch stays on both sides. */
    assert_int_equal(r->err, COORD_EMARSHALLING);
    assert_int_equal(hc->c.watches.count, 1);
    rm.mode = 3;
    r = call(hc, rm);
    assert_int_equal(r->err, COORD_OK);
    assert_int_equal(hc->c.watches.count, 0);
    size_t events = hc->ev_count;
    call(hc, op_set("/pw", "3", -1));
    assert_int_equal(hc->ev_count, events);
    h_free(h);
}

static void test_reconnect_keeps_session_and_ephemerals(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    call(hc, op_create("/e", "mine", COORD_MODE_EPHEMERAL));
    coord_session_id sid = hc->c.session_id;
    coord_zxid seen = hc->c.last_zxid;
    h_break(hc);
    pump(h);
    assert_int_equal(hc->connect_count, 2);
    assert_int_equal(hc->connects[1], 0);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    assert_int_equal(hc->c.session_id, sid);
    size_t len;
    const uint8_t *p = sent_frame(hc, 1, 0, &len);
    assert_int_equal(coord_load_be64(p + 4), (uint64_t)seen);
    assert_int_equal(coord_load_be64(p + 16), (uint64_t)sid);
    const struct rec *r = call(hc, op_path(COORD_OP_GETDATA, "/e", false));
    assert_int_equal(r->err, COORD_OK);
    assert_string_equal(r->data, "mine");
    assert_int_equal(r->stat.ephemeral_owner, sid);
    h_free(h);
}

static void test_setwatches_on_reconnect_fires_missed_events(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *a = hc_connected(h);
    struct hclient *b = hc_connected(h);
    call(b, op_create("/w", "0", 0));
    call(b, op_create("/d", "", 0));
    call(b, op_create("/keep", "", 0));
    call(a, op_path(COORD_OP_GETDATA, "/w", true));
    call(a, op_path(COORD_OP_GETCHILDREN, "/d", true));
    call(a, op_path(COORD_OP_EXISTS, "/n", true));
    call(a, op_path(COORD_OP_GETDATA, "/keep", true));
    assert_int_equal(a->c.watches.count, 4);
    coord_zxid seen = a->c.last_zxid;
    size_t events = a->ev_count;

    a->hang = true;
    h_break(a);
    pump(h);
    assert_true(a->hung);
    call(b, op_set("/w", "1", -1));
    call(b, op_create("/d/c", "", 0));
    call(b, op_create("/n", "", 0));
    finish_connect(a);
    assert_int_equal(a->c.state, COORD_CLIENT_CONNECTED);

    /* The first frame after the ConnectRequest is setWatches(-8) from `seen`. */
    size_t len;
    const uint8_t *p = sent_frame(a, 1, 1, &len);
    assert_int_equal(frame_xid(p), COORD_XID_SETWATCHES);
    assert_int_equal(frame_type(p), COORD_OP_SETWATCHES);
    assert_int_equal(coord_load_be64(p + 8), (uint64_t)seen);

    /* Disconnected; SyncConnected at the handshake; then the three missed
     * events, which the server sends before its setWatches reply. */
    assert_int_equal(a->ev_count, events + 5);
    assert_int_equal(a->evs[events].state, COORD_KEEPER_DISCONNECTED);
    assert_int_equal(a->evs[events + 1].state, COORD_KEEPER_SYNC_CONNECTED);
    int seen_kinds = 0;
    for (size_t i = events + 2; i < a->ev_count; i++) {
        const struct ev *e = &a->evs[i];
        if (e->type == COORD_EV_DATA_CHANGED && strcmp(e->path, "/w") == 0) {
            seen_kinds |= 1;
        } else if (e->type == COORD_EV_CHILDREN_CHANGED && strcmp(e->path, "/d") == 0) {
            seen_kinds |= 2;
        } else if (e->type == COORD_EV_CREATED && strcmp(e->path, "/n") == 0) {
            seen_kinds |= 4;
        }
    }
    assert_int_equal(seen_kinds, 7);
    /* Only /keep's watch is left, and it is live on the server again. */
    assert_int_equal(a->c.watches.count, 1);
    call(b, op_set("/keep", "k", -1));
    assert_int_equal(a->ev_count, events + 6);
    assert_int_equal(a->evs[events + 5].type, COORD_EV_DATA_CHANGED);
    assert_string_equal(a->evs[events + 5].path, "/keep");
    h_free(h);
}

static void test_persistent_watches_are_resent_with_setwatches2(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *a = hc_connected(h);
    struct hclient *b = hc_connected(h);
    struct coord_op add = op_path(COORD_OP_ADDWATCH, "/tree", false);
    add.mode = 1;
    assert_int_equal(call(a, add)->err, COORD_OK);
    h_break(a);
    pump(h);
    size_t len;
    const uint8_t *p = sent_frame(a, 1, 1, &len);
    assert_int_equal(frame_xid(p), COORD_XID_SETWATCHES);
    assert_int_equal(frame_type(p), COORD_OP_SETWATCHES2);
    size_t events = a->ev_count;
    call(b, op_create("/tree", "", 0));
    call(b, op_create("/tree/leaf", "", 0));
    assert_int_equal(a->ev_count, events + 2);
    assert_string_equal(a->evs[events + 1].path, "/tree/leaf");
    assert_int_equal(a->c.watches.count, 1);
    h_free(h);
}

static void test_setwatches_is_split_into_batches_of_128k(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *a = hc_connected(h);
    struct hclient *b = hc_connected(h);
    /* 300 exist watches on ~1 KB paths: about 300 KB of paths. */
    static char path[1100];
    memset(path, 'x', sizeof path - 1);
    path[0] = '/';
    for (int i = 0; i < 300; i++) {
        snprintf(path + 1000, 100, "%04d", i);
        assert_int_equal(call(a, op_path(COORD_OP_EXISTS, path, true))->err, COORD_ENONODE);
    }
    assert_int_equal(a->c.watches.count, 300);
    h_break(a);
    pump(h);
    assert_int_equal(a->c.state, COORD_CLIENT_CONNECTED);
    size_t len;
    size_t batches = 0;
    for (size_t k = 1; sent_frame(a, 1, k, &len) != NULL; k++) {
        const uint8_t *p = sent_frame(a, 1, k, &len);
        assert_int_equal(frame_type(p), COORD_OP_SETWATCHES);
        assert_true(len <= 8 + 8 + 12 + COORD_CLIENT_SETWATCHES_BATCH);
        batches++;
    }
    assert_int_equal(batches, 3);
    assert_null(a->c.head); /* Every batch was answered. */
    /* Each of them is live on the server. */
    snprintf(path + 1000, 100, "%04d", 0);
    call(b, op_create(path, "", 0));
    snprintf(path + 1000, 100, "%04d", 299);
    call(b, op_create(path, "", 0));
    assert_int_equal(a->evs[a->ev_count - 2].type, COORD_EV_CREATED);
    assert_int_equal(a->evs[a->ev_count - 1].type, COORD_EV_CREATED);
    /* The record keeps a 127-byte prefix of the path. */
    assert_int_equal(strncmp(a->evs[a->ev_count - 1].path, path, 127), 0);
    assert_int_equal(a->c.watches.count, 298);
    h_free(h);
}

/* ---- sessions ------------------------------------------------------------------------------- */

static void test_session_expiry_is_reported_and_fails_everything(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    call(hc, op_create("/eph", "", COORD_MODE_EPHEMERAL));
    call(hc, op_path(COORD_OP_EXISTS, "/w", true));
    hc->refuse = true;
    h_break(hc);
    pump(h);
    uint64_t queued = sub(hc, op_path(COORD_OP_EXISTS, "/", false));
    advance(h, 45000); /* The server expires the session meanwhile. */
    assert_null(coord_tree_get(&h->s.tree, "/eph", 4));
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTING);
    assert_int_equal(hc->c.pending_count, 1);
    hc->refuse = false;
    advance(h, 1000);
    assert_int_equal(hc->c.state, COORD_CLIENT_EXPIRED);
    const struct rec *r = &hc->recs[hc->rec_count - 1];
    assert_int_equal(r->tag, queued);
    assert_int_equal(r->err, COORD_ESESSIONEXPIRED);
    const struct ev *e = &hc->evs[hc->ev_count - 1];
    assert_int_equal(e->type, COORD_EV_NONE);
    assert_int_equal(e->state, COORD_KEEPER_EXPIRED);
    assert_int_equal(hc->c.watches.count, 0);
    assert_int_equal(hc->c.pending_count, 0);
    struct coord_op op = op_path(COORD_OP_EXISTS, "/", false);
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_ESESSIONEXPIRED);
    /* And it stays put: no more connects or timers. */
    size_t connects = hc->connect_count;
    advance(h, 100000);
    assert_int_equal(hc->connect_count, connects);
    h_free(h);
}

static void test_close_session_waits_for_its_reply_then_closed(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    call(hc, op_create("/eph", "", COORD_MODE_EPHEMERAL));
    uint64_t t1 = sub(hc, op_path(COORD_OP_EXISTS, "/eph", false));
    uint64_t tc = next_tag++;
    assert_int_equal(coord_client_submit_close(&hc->c, tc, h->now), COORD_OK);
    assert_true(hc->c.close_requested);
    struct coord_op op = op_path(COORD_OP_EXISTS, "/", false);
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_ESESSIONEXPIRED);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    pump(h);
    assert_int_equal(hc->c.state, COORD_CLIENT_CLOSED);
    assert_int_equal(hc->rec_count, 3);
    assert_int_equal(hc->recs[1].tag, t1);
    assert_int_equal(hc->recs[1].err, COORD_OK);
    assert_int_equal(hc->recs[2].tag, tc);
    assert_int_equal(hc->recs[2].type, COORD_OP_CLOSESESSION);
    assert_int_equal(hc->recs[2].err, COORD_OK);
    assert_int_equal(hc->evs[hc->ev_count - 1].state, COORD_KEEPER_CLOSED);
    assert_int_equal(hc->close_count, 1);
    assert_null(coord_tree_get(&h->s.tree, "/eph", 4));
    assert_null(coord_sessions_get(&h->s.sessions, hc->c.session_id));
    h_free(h);
}

static void test_close_session_lost_in_flight_still_ends(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    hc->intercept = true;
    uint64_t tc = next_tag++;
    assert_int_equal(coord_client_submit_close(&hc->c, tc, h->now), COORD_OK);
    pump(h);
    h_break(hc);
    assert_int_equal(hc->c.state, COORD_CLIENT_CLOSED);
    assert_int_equal(hc->recs[0].tag, tc);
    assert_int_equal(hc->recs[0].err, COORD_ECONNECTIONLOSS);
    assert_int_equal(hc->connect_count, 1);
    h_free(h);
}

static void test_client_close_fails_pending_requests(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    struct hclient *hc = hc_new(h, &cfg);
    coord_client_start(&hc->c, h->now);
    uint64_t t = sub(hc, op_path(COORD_OP_EXISTS, "/", false));
    coord_client_close(&hc->c);
    assert_int_equal(hc->rec_count, 1);
    assert_int_equal(hc->recs[0].tag, t);
    assert_int_equal(hc->recs[0].err, COORD_ECONNECTIONLOSS);
    assert_int_equal(hc->close_count, 1);
    assert_int_equal(hc->c.state, COORD_CLIENT_CLOSED);
    h_free(h); /* Closing twice is harmless. */
}

/* ---- connection loss ------------------------------------------------------------------------- */

static void test_requests_in_flight_fail_and_queued_ones_wait_for_reconnect(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    hc->intercept = true;
    uint64_t lost = sub(hc, op_create("/maybe", "", 0));
    pump(h);
    hc->intercept = false;
    hc->hang = true;
    h_break(hc);
    pump(h);
    assert_int_equal(hc->recs[0].tag, lost);
    assert_int_equal(hc->recs[0].err, COORD_ECONNECTIONLOSS);
    assert_int_equal(hc->evs[hc->ev_count - 1].state, COORD_KEEPER_DISCONNECTED);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTING);
    uint64_t queued = sub(hc, op_path(COORD_OP_EXISTS, "/maybe", false));
    assert_int_equal(hc->rec_count, 1);
    finish_connect(hc);
    assert_int_equal(hc->rec_count, 2);
    assert_int_equal(hc->recs[1].tag, queued);
    /* The lost create did happen on the server. */
    assert_int_equal(hc->recs[1].err, COORD_OK);
    h_free(h);
}

/* ---- auth -------------------------------------------------------------------------------------
 */

static void test_auth_is_resent_first_on_reconnect(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    const char *cred = "bob:secret";
    uint64_t ta = next_tag++;
    assert_int_equal(coord_client_submit_auth(&hc->c, S("digest"), (const uint8_t *)cred,
                                              strlen(cred), ta, h->now),
                     COORD_OK);
    pump(h);
    assert_int_equal(hc->rec_count, 1);
    assert_int_equal(hc->recs[0].tag, ta);
    assert_int_equal(hc->recs[0].type, COORD_OP_AUTH);
    assert_int_equal(hc->recs[0].err, COORD_OK);
    char id[64];
    int32_t idlen = coord_digest_id(cred, strlen(cred), id, sizeof id);
    assert_true(idlen > 0);
    struct coord_acl only_bob = {COORD_PERM_ALL, {{"digest", 6}, {id, idlen}}};
    struct coord_op create = op_create("/secret", "s", 0);
    create.acl = &only_bob;
    assert_int_equal(call(hc, create)->err, COORD_OK);

    hc->hang = true;
    h_break(hc);
    pump(h);
    uint64_t tg = sub(hc, op_path(COORD_OP_GETDATA, "/secret", false));
    finish_connect(hc);
    size_t len;
    const uint8_t *p = sent_frame(hc, 1, 1, &len);
    assert_int_equal(frame_xid(p), COORD_XID_AUTH);
    assert_int_equal(frame_type(p), COORD_OP_AUTH);
    p = sent_frame(hc, 1, 2, &len);
    assert_int_equal(frame_type(p), COORD_OP_GETDATA);
    const struct rec *r = &hc->recs[hc->rec_count - 1];
    assert_int_equal(r->tag, tg);
    assert_int_equal(r->err, COORD_OK);
    assert_string_equal(r->data, "s");
    /* The auth completion came once only. */
    size_t auths = 0;
    for (size_t i = 0; i < hc->rec_count; i++) {
        auths += hc->recs[i].type == COORD_OP_AUTH;
    }
    assert_int_equal(auths, 1);
    /* Another client without the credential is refused. */
    struct hclient *other = hc_connected(h);
    assert_int_equal(call(other, op_path(COORD_OP_GETDATA, "/secret", false))->err, COORD_ENOAUTH);
    h_free(h);
}

static void test_auth_before_start_is_sent_after_the_handshake(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    struct hclient *hc = hc_new(h, &cfg);
    uint64_t ta = next_tag++;
    assert_int_equal(
        coord_client_submit_auth(&hc->c, S("digest"), (const uint8_t *)"a:b", 3, ta, h->now),
        COORD_OK);
    /* The same credential again is not stored twice once answered. */
    coord_client_start(&hc->c, h->now);
    pump(h);
    assert_int_equal(hc->recs[0].tag, ta);
    assert_int_equal(hc->recs[0].err, COORD_OK);
    assert_int_equal(
        coord_client_submit_auth(&hc->c, S("digest"), (const uint8_t *)"a:b", 3, 99, h->now),
        COORD_OK);
    pump(h);
    assert_int_equal(hc->c.auth_count, 1);
    assert_int_equal(hc->recs[1].tag, 99);
    struct coord_op who = op_path(COORD_OP_WHOAMI, "", false);
    who.path.len = -1;
    who.path.ptr = NULL;
    assert_string_equal(call(hc, who)->idents, "ip,127.0.0.1,digest,a,");
    h_free(h);
}

static void test_rejected_auth_ends_the_client(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    hc->intercept = true;
    uint64_t ta = next_tag++;
    assert_int_equal(
        coord_client_submit_auth(&hc->c, S("bogus"), (const uint8_t *)"x", 1, ta, h->now),
        COORD_OK);
    uint64_t tq = sub(hc, op_path(COORD_OP_EXISTS, "/", false));
    pump(h);
    hc->intercept = false;
    pump(h);
    assert_int_equal(hc->c.state, COORD_CLIENT_AUTH_FAILED);
    assert_int_equal(hc->rec_count, 2);
    assert_int_equal(hc->recs[0].tag, tq);
    assert_int_equal(hc->recs[0].err, COORD_EAUTHFAILED);
    assert_int_equal(hc->recs[1].tag, ta);
    assert_int_equal(hc->recs[1].err, COORD_EAUTHFAILED);
    assert_int_equal(hc->evs[hc->ev_count - 1].state, COORD_KEEPER_AUTH_FAILED);
    struct coord_op op = op_path(COORD_OP_EXISTS, "/", false);
    assert_int_equal(coord_client_submit(&hc->c, &op, 1, h->now), COORD_EAUTHFAILED);
    assert_int_equal(hc->connect_count, 1);
    h_free(h);
}

/* ---- bad bytes from the server -----------------------------------------------------------------
 */

/* Replace what the server sent with `bytes` and feed them to the client. */
static void inject(struct hclient *hc, const void *bytes, size_t len)
{
    hbuf_reset(&hc->to_client);
    coord_client_on_data(&hc->c, hc->h->now, bytes, len);
}

static size_t reply_frame(uint8_t *out,
                          int32_t xid,
                          int64_t zxid,
                          int32_t err,
                          const void *body,
                          size_t body_len)
{
    coord_store_be32(out, (uint32_t)(16 + body_len));
    coord_store_be32(out + 4, (uint32_t)xid);
    coord_store_be64(out + 8, (uint64_t)zxid);
    coord_store_be32(out + 16, (uint32_t)err);
    if (body_len > 0) {
        memcpy(out + 20, body, body_len);
    }
    return 20 + body_len;
}

static void test_reply_with_unexpected_xid_drops_the_connection(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct coord_client_config cfg = default_config();
    cfg.server_count = 2;
    struct hclient *hc = hc_new(h, &cfg);
    coord_client_start(&hc->c, h->now);
    pump(h);
    hc->intercept = true;
    uint64_t t = sub(hc, op_path(COORD_OP_EXISTS, "/", false));
    pump(h);
    size_t len;
    int32_t xid = frame_xid(sent_frame(hc, 0, 1, &len));
    uint8_t frame[64];
    size_t n = reply_frame(frame, xid + 1, 5, COORD_ENONODE, NULL, 0);
    inject(hc, frame, n);
    assert_int_equal(hc->close_count, 1);
    assert_int_equal(hc->recs[0].tag, t);
    assert_int_equal(hc->recs[0].err, COORD_ECONNECTIONLOSS);
    assert_int_equal(hc->c.last_zxid < 5, true);
    assert_int_equal(hc->connects[1], (hc->connects[0] + 1) % 2);
    hc->intercept = false;
    pump(h);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    /* A reply with nothing pending is as bad. */
    hc->intercept = true;
    n = reply_frame(frame, 77, 0, 0, NULL, 0);
    inject(hc, frame, n);
    assert_int_equal(hc->close_count, 2);
    h_free(h);
}

/* Connected, intercepting; returns the xid of one exists("/") in flight. */
static int32_t one_in_flight(struct hclient *hc, int32_t type)
{
    hc->intercept = true;
    struct coord_op op = op_path(type, "/", false);
    sub(hc, op);
    pump(hc->h);
    size_t conn = hc->opened_count - 1;
    size_t len;
    const uint8_t *last = NULL;
    for (size_t k = 1; sent_frame(hc, conn, k, &len) != NULL; k++) {
        last = sent_frame(hc, conn, k, &len);
    }
    assert_non_null(last);
    return frame_xid(last);
}

static void reconnect(struct hclient *hc)
{
    hc->intercept = false;
    hbuf_reset(&hc->to_client);
    pump(hc->h);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
}

static void test_malformed_frames_drop_the_connection(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    uint8_t frame[256];
    size_t closes = 0;

    /* A negative length. */
    one_in_flight(hc, COORD_OP_EXISTS);
    static const uint8_t negative[] = {0xff, 0xff, 0xff, 0xfe};
    inject(hc, negative, sizeof negative);
    assert_int_equal(hc->close_count, ++closes);
    reconnect(hc);

    /* A length beyond the maximum frame. */
    one_in_flight(hc, COORD_OP_EXISTS);
    static const uint8_t huge[] = {0x00, 0x10, 0x00, 0x00, 1, 2, 3};
    inject(hc, huge, sizeof huge);
    assert_int_equal(hc->close_count, ++closes);
    reconnect(hc);

    /* A frame too short for a ReplyHeader. */
    one_in_flight(hc, COORD_OP_EXISTS);
    static const uint8_t short_frame[] = {0, 0, 0, 3, 1, 2, 3};
    inject(hc, short_frame, sizeof short_frame);
    assert_int_equal(hc->close_count, ++closes);
    reconnect(hc);

    /* An exists reply whose Stat is cut short. */
    int32_t xid = one_in_flight(hc, COORD_OP_EXISTS);
    uint8_t stat[20] = {0};
    inject(hc, frame, reply_frame(frame, xid, 9, 0, stat, sizeof stat));
    assert_int_equal(hc->close_count, ++closes);
    assert_int_equal(hc->recs[hc->rec_count - 1].err, COORD_ECONNECTIONLOSS);
    reconnect(hc);

    /* A getChildren reply claiming more names than it holds. */
    xid = one_in_flight(hc, COORD_OP_GETCHILDREN);
    uint8_t vec[] = {0, 0, 0, 3, 0, 0, 0, 1, 'a'};
    inject(hc, frame, reply_frame(frame, xid, 9, 0, vec, sizeof vec));
    assert_int_equal(hc->close_count, ++closes);
    reconnect(hc);

    /* A notification with a null path. */
    one_in_flight(hc, COORD_OP_EXISTS);
    uint8_t note[] = {0, 0, 0, 3, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff};
    inject(hc, frame, reply_frame(frame, -1, -1, 0, note, sizeof note));
    assert_int_equal(hc->close_count, ++closes);
    reconnect(hc);

    /* A multi reply with fewer results than ops. */
    hc->intercept = true;
    struct coord_op ops[2] = {op_create("/q1", "", 0), op_create("/q2", "", 0)};
    assert_int_equal(coord_client_submit_multi(&hc->c, COORD_OP_MULTI, ops, 2, 5, h->now),
                     COORD_OK);
    pump(h);
    size_t len;
    size_t conn = hc->opened_count - 1;
    const uint8_t *last = NULL;
    for (size_t k = 1; sent_frame(hc, conn, k, &len) != NULL; k++) {
        last = sent_frame(hc, conn, k, &len);
    }
    xid = frame_xid(last);
    uint8_t multi[] = {0,   0,   0,   1,    0,    0,    0,    0, 0,    0,    0,    0,   3,
                       '/', 'q', '1', 0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff};
    inject(hc, frame, reply_frame(frame, xid, 9, 0, multi, sizeof multi));
    assert_int_equal(hc->close_count, ++closes);
    assert_int_equal(hc->recs[hc->rec_count - 1].err, COORD_ECONNECTIONLOSS);
    reconnect(hc);

    /* A truncated ConnectResponse during the handshake. */
    hc->intercept = true;
    h_break(hc);
    pump(h);
    assert_int_equal(hc->c.state, COORD_CLIENT_ASSOCIATING);
    static const uint8_t bad_resp[] = {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x75, 0x30};
    inject(hc, bad_resp, sizeof bad_resp);
    assert_int_equal(hc->close_count, ++closes);
    /* A failed handshake is a failed attempt: with one server, the client
     * waits before the next one. */
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTING);
    assert_false(hc->c.conn_open);
    assert_int_equal(hc->c.failed_attempts, 1);
    hc->intercept = false;
    hbuf_reset(&hc->to_client);
    advance(h, 1000);
    assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTED);
    h_free(h);
}

static void test_random_bytes_never_crash_the_client(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    struct coord_rng rng;
    coord_rng_seed(&rng, 1234);
    uint8_t junk[96];
    size_t drops = 0;
    for (int round = 0; round < 400; round++) {
        hc->intercept = true;
        if (round % 3 == 0) {
            sub(hc, op_path(COORD_OP_GETDATA, "/", round % 2 == 0));
            pump(h);
        }
        size_t n = (size_t)coord_rng_below(&rng, sizeof junk + 1);
        for (size_t i = 0; i < n; i++) {
            junk[i] = (uint8_t)coord_rng_next(&rng);
        }
        if (n >= 4 && round % 2 == 0) {
            coord_store_be32(junk, (uint32_t)(n - 4)); /* A plausible length. */
        }
        if (n >= 8 && round % 4 == 0) {
            coord_store_be32(junk + 4, (uint32_t)-1); /* A notification. */
        }
        size_t closes = hc->close_count;
        enum coord_client_state before = hc->c.state;
        inject(hc, junk, n);
        if (hc->close_count != closes) {
            drops++;
            assert_int_equal(hc->c.state, COORD_CLIENT_CONNECTING);
            assert_true(hc->connect_pending);
            reconnect(hc);
        } else {
            assert_int_equal(hc->c.state, before);
        }
        if (round % 50 == 49) {
            /* Drain whatever stayed in the buffer: a clean reconnect. */
            h_break(hc);
            reconnect(hc);
        }
    }
    assert_true(drops > 100);
    /* Still a working client. */
    hc->intercept = false;
    hbuf_reset(&hc->to_client);
    h_break(hc);
    pump(h);
    assert_int_equal(call(hc, op_create("/alive", "", 0))->err, COORD_OK);
    h_free(h);
}

/* ---- allocation failure ------------------------------------------------------------------------
 */

/* The server answers with the heap intact; only the client's own work (the
 * submit, then taking in the reply) runs short of memory. Three kinds of
 * request need memory on the way in: exists with a watch (the watch table),
 * getACL (the ACL array) and a getData bigger than anything read so far
 * (the input buffer). */
static void test_allocation_failure_never_corrupts_the_client(void **state)
{
    (void)state;
    struct harness *h = h_new();
    struct hclient *hc = hc_connected(h);
    static char big[64 * 1024];
    memset(big, 'b', sizeof big - 1);
    size_t answered = 0;
    size_t unremembered = 0;
    size_t dropped = 0;
    for (long round = 0; round < 16; round++) {
        /* Even rounds starve the submit, odd ones the reply's handling. */
        long budget = round / 2;
        bool starve_submit = round % 2 == 0;
        for (int kind = 0; kind < 3; kind++) {
            char path[64];
            snprintf(path, sizeof path, "/oom%ld-%d", round, kind);
            struct coord_op op = op_path(COORD_OP_EXISTS, path, true);
            if (kind == 1) {
                op = op_path(COORD_OP_GETACL, "/", false);
            } else if (kind == 2) {
                /* Each round's node is bigger than the input buffer so far. */
                big[(size_t)(round + 1) * 3000] = '\0';
                assert_int_equal(call(hc, op_create(path, big, 0))->err, COORD_OK);
                big[(size_t)(round + 1) * 3000] = 'b';
                op = op_path(COORD_OP_GETDATA, path, false);
            }
            uint64_t tag = next_tag++;
            hc->intercept = true;
            test_heap_fail_after(starve_submit ? budget : -1);
            int rc = coord_client_submit(&hc->c, &op, tag, h->now);
            test_heap_restore();
            if (rc != COORD_OK) {
                assert_int_equal(rc, COORD_ENOMEM);
                assert_int_equal(hc->c.pending_count, 0);
                hc->intercept = false;
                continue;
            }
            pump(h);
            struct hbuf reply = hc->to_client;
            hbuf_init(&hc->to_client);
            size_t recs = hc->rec_count;
            size_t watches = hc->c.watches.count;
            test_heap_fail_after(starve_submit ? -1 : budget);
            rc = coord_client_on_data(&hc->c, h->now, reply.data, reply.len);
            test_heap_restore();
            hbuf_free(&reply);
            assert_int_equal(hc->rec_count, recs + 1);
            const struct rec *r = &hc->recs[recs];
            assert_int_equal(r->tag, tag);
            if (r->err == COORD_ECONNECTIONLOSS) {
                assert_int_equal(rc, COORD_ENOMEM);
                dropped++;
                reconnect(hc);
            } else {
                answered++;
                assert_int_equal(r->err, kind == 0 ? COORD_ENONODE : COORD_OK);
                if (kind == 0 && rc == COORD_ENOMEM) {
                    unremembered++; /* Answered, but the watch could not be kept. */
                    assert_int_equal(hc->c.watches.count, watches);
                } else {
                    assert_int_equal(rc, COORD_OK);
                    assert_int_equal(hc->c.watches.count, watches + (kind == 0 ? 1 : 0));
                }
                hc->intercept = false;
            }
            assert_int_equal(hc->c.pending_count, 0);
        }
    }
    assert_true(answered > 0);
    assert_true(unremembered > 0);
    assert_true(dropped > 0);
    assert_int_equal(call(hc, op_create("/after", "", 0))->err, COORD_OK);
    h_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_creates_session_and_reports_sync_connected),
        cmocka_unit_test(test_read_only_option_sets_the_connect_byte),
        cmocka_unit_test(test_init_rejects_bad_config),
        cmocka_unit_test(test_create_get_set_return_exact_results),
        cmocka_unit_test(test_acl_whoami_sync_and_counts_are_decoded),
        cmocka_unit_test(test_multi_results_are_decoded_one_per_op),
        cmocka_unit_test(test_submit_rejects_bad_arguments),
        cmocka_unit_test(test_pipelined_requests_complete_in_order),
        cmocka_unit_test(test_requests_before_the_handshake_wait_for_it),
        cmocka_unit_test(test_full_queue_returns_efull),
        cmocka_unit_test(test_full_watch_table_returns_efull),
        cmocka_unit_test(test_ping_after_a_third_of_the_timeout_idle),
        cmocka_unit_test(test_silent_server_is_dropped_after_two_thirds_and_next_server_tried),
        cmocka_unit_test(test_connect_attempts_go_round_robin_then_back_off),
        cmocka_unit_test(test_connect_attempt_that_hangs_times_out),
        cmocka_unit_test(test_watch_event_arrives_before_the_write_reply_and_fires_once),
        cmocka_unit_test(test_exists_watch_on_missing_node_fires_created),
        cmocka_unit_test(test_persistent_watch_stays_and_is_removed_by_remove_watches),
        cmocka_unit_test(test_reconnect_keeps_session_and_ephemerals),
        cmocka_unit_test(test_setwatches_on_reconnect_fires_missed_events),
        cmocka_unit_test(test_persistent_watches_are_resent_with_setwatches2),
        cmocka_unit_test(test_setwatches_is_split_into_batches_of_128k),
        cmocka_unit_test(test_session_expiry_is_reported_and_fails_everything),
        cmocka_unit_test(test_close_session_waits_for_its_reply_then_closed),
        cmocka_unit_test(test_close_session_lost_in_flight_still_ends),
        cmocka_unit_test(test_client_close_fails_pending_requests),
        cmocka_unit_test(test_requests_in_flight_fail_and_queued_ones_wait_for_reconnect),
        cmocka_unit_test(test_auth_is_resent_first_on_reconnect),
        cmocka_unit_test(test_auth_before_start_is_sent_after_the_handshake),
        cmocka_unit_test(test_rejected_auth_ends_the_client),
        cmocka_unit_test(test_reply_with_unexpected_xid_drops_the_connection),
        cmocka_unit_test(test_malformed_frames_drop_the_connection),
        cmocka_unit_test(test_random_bytes_never_crash_the_client),
        cmocka_unit_test(test_allocation_failure_never_corrupts_the_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
