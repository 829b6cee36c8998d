/* coordsim's clients: each one a protocol/client.c session on its own host,
 * speaking the real wire bytes to the simulated servers, and the workloads
 * they run.
 *
 * register: one operation at a time (a Jepsen process), on a few keys (znodes
 * /k0.. holding a decimal value): read = sync + getData, write = setData
 * (version -1), cas = getData, then setData with the version read. Every value
 * written to a key is new (a counter per key), so the checker can tell writes
 * apart. An operation not answered within op_timeout is recorded as info (it
 * may still take effect) and the client goes on with the next.
 *
 * sessions: each client holds `ephemerals` ephemeral znodes under /e and
 * watches /e's children; a client whose session expired opens a new one after
 * restart_after seconds (Expired is final for a ZooKeeper handle).
 *
 * Client 1 first creates /k0.. and /e (NODEEXISTS is fine), then runs the
 * workload too; the others begin at workload.start whether or not that is
 * done (an operation on a key not created yet fails with NONODE). A client's clock is its node's
 * clock, so drift and jumps reach its timeouts too. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

enum sim_phase { PHASE_NONE = 0, PHASE_SETUP, PHASE_SYNC, PHASE_READ, PHASE_CAS_READ, PHASE_WRITE };

#define TAG_SETUP_BASE 0x7fff000000000000ull
#define TAG(op, phase) (((uint64_t)(op) << 8) | (uint64_t)(phase))

struct sim_client_state
{
    struct coord_client cli;
    bool cli_live;
    uint32_t number; /* 1..K */
    uint64_t conn;
    struct coord_rng rng;
    uint32_t sessions; /* Sessions opened so far. */
    /* Timers on the node's clock (ms). */
    bool lib_timer_set;
    int64_t lib_timer_ms;
    bool next_set;
    int64_t next_ms; /* Next operation, session restart, or setup retry. */
    bool deadline_set;
    int64_t deadline_ms; /* The running operation's timeout. */
    /* The running operation: an index in the world's ops, + 1 (0 = none). */
    size_t op;
    uint64_t op_seq; /* Bumped per operation: tags carry it, so late replies are ignored. */
    int32_t cas_version;
    bool setup_pending;
    unsigned setup_left;
    bool expired;
    bool ephemerals_made;
};

static const struct coord_acl world_acl[1] = {{COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}}};

static const struct sim_scenario *sc(void)
{
    return sim_w->sc;
}

static int64_t local_now(const struct sim_node *n)
{
    return sim_local_ms(n, sim_now());
}

/* The node's one timer is the earliest of the client's and the workload's. */
static void rearm(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    bool set = false;
    int64_t t = INT64_MAX;
    if (c->lib_timer_set) {
        set = true;
        t = c->lib_timer_ms;
    }
    if (c->next_set && c->next_ms < t) {
        set = true;
        t = c->next_ms;
    }
    if (c->deadline_set && c->deadline_ms < t) {
        set = true;
        t = c->deadline_ms;
    }
    n->timer_set = set;
    n->timer_ms = t;
    if (set) {
        sim_node_kick(n, sim_now());
    }
}

static int64_t ms_from_s(double s)
{
    return (int64_t)llround(s * 1000.0);
}

/* ---- the client library's env ---- */

static void cenv_connect(void *ctx, uint32_t server_index)
{
    struct sim_node *n = ctx;
    n->client->conn = sim_client_connect(n->index, server_index + 1);
}

static void cenv_write(void *ctx, const void *buf, size_t len)
{
    struct sim_node *n = ctx;
    sim_conn_send(n->client->conn, true, buf, len);
}

static void cenv_close(void *ctx)
{
    struct sim_node *n = ctx;
    sim_conn_close(n->client->conn, true);
    n->client->conn = 0;
}

static void cenv_wake_at(void *ctx, coord_time_ms deadline_ms)
{
    struct sim_node *n = ctx;
    n->client->lib_timer_set = true;
    n->client->lib_timer_ms = deadline_ms;
    rearm(n);
}

static uint32_t current_server(const struct sim_node *n)
{
    struct sim_conn *k = sim_conn_get(n->client->conn);
    return k != NULL ? k->server : 0;
}

static void schedule_next(struct sim_node *n, double mean_s)
{
    struct sim_client_state *c = n->client;
    if (sc()->rate <= 0 && mean_s <= 0) {
        c->next_set = false;
        return;
    }
    /* Exponential think time with the scenario's mean. */
    double u = ((double)coord_rng_below(&c->rng, 1000000) + 0.5) / 1e6;
    double wait_s = mean_s > 0 ? mean_s : -log(u) / sc()->rate;
    c->next_set = true;
    c->next_ms = local_now(n) + (int64_t)ceil(wait_s * 1000.0);
}

/* The operation ends: record it and plan the next one. */
static void op_finish(struct sim_node *n, enum sim_op_status status, int32_t err, coord_zxid zxid)
{
    struct sim_client_state *c = n->client;
    if (c->op == 0) {
        return;
    }
    struct sim_op *op = &sim_w->ops[c->op - 1];
    op->status = status;
    op->err = err;
    op->zxid = zxid;
    op->complete_s = sim_now();
    c->op = 0;
    c->op_seq++;
    c->deadline_set = false;
    schedule_next(n, 0);
}

/* Errors after which a write certainly did not happen. */
static bool write_refused(int err)
{
    return err == COORD_ENONODE || err == COORD_EBADVERSION || err == COORD_ENOTREADONLY ||
           err == COORD_ENOAUTH || err == COORD_EBADARGUMENTS;
}

static int64_t parse_value(const uint8_t *data, int32_t len, bool *ok)
{
    *ok = false;
    if (data == NULL || len <= 0 || len > 20) {
        return 0;
    }
    char buf[24];
    memcpy(buf, data, (size_t)len);
    buf[len] = '\0';
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    *ok = end != NULL && *end == '\0';
    return v;
}

static struct coord_str key_path(uint32_t key, char *buf, size_t cap)
{
    int len = snprintf(buf, cap, "/k%" PRIu32, key);
    return (struct coord_str){buf, len};
}

static int submit_set(struct sim_node *n,
                      uint32_t key,
                      int64_t value,
                      int32_t version,
                      uint64_t tag)
{
    char path[32], data[24];
    int dlen = snprintf(data, sizeof data, "%" PRId64, value);
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = COORD_OP_SETDATA;
    op.path = key_path(key, path, sizeof path);
    op.data = (const uint8_t *)data;
    op.data_len = dlen;
    op.version = version;
    return coord_client_submit(&n->client->cli, &op, tag, local_now(n));
}

static int submit_simple(struct sim_node *n,
                         int32_t type,
                         struct coord_str path,
                         bool watch,
                         uint64_t tag)
{
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = type;
    op.path = path;
    op.watch = watch;
    return coord_client_submit(&n->client->cli, &op, tag, local_now(n));
}

static int submit_create(struct sim_node *n,
                         const char *path,
                         const char *data,
                         int32_t flags,
                         uint64_t tag)
{
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = COORD_OP_CREATE;
    op.path = (struct coord_str){path, (int32_t)strlen(path)};
    op.data = (const uint8_t *)data;
    op.data_len = (int32_t)strlen(data);
    op.acl = world_acl;
    op.acl_count = 1;
    op.flags = flags;
    return coord_client_submit(&n->client->cli, &op, tag, local_now(n));
}

static struct sim_op *op_begin(struct sim_node *n, enum sim_op_type type, uint32_t key)
{
    struct sim_client_state *c = n->client;
    struct sim_op *op = sim_op_add();
    op->client = c->number;
    op->key = key;
    op->type = type;
    op->status = SIM_OP_PENDING;
    op->invoke_s = sim_now();
    op->server = current_server(n);
    c->op = sim_w->op_count;
    c->deadline_set = true;
    c->deadline_ms = local_now(n) + ms_from_s(sc()->op_timeout_s);
    return op;
}

/* A submit refused on the spot: nothing was sent. */
static void op_refused(struct sim_node *n, int rc)
{
    op_finish(n, SIM_OP_FAIL, rc, 0);
}

static void register_op(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    uint32_t key = (uint32_t)coord_rng_below(&c->rng, sc()->keys);
    double u = (double)coord_rng_below(&c->rng, 1000000) / 1e6;
    char path[32];
    int rc;
    if (u < sc()->read_ratio) {
        op_begin(n, SIM_OP_READ, key);
        rc = submit_simple(n, COORD_OP_SYNC, key_path(key, path, sizeof path), false,
                           TAG(c->op_seq, PHASE_SYNC));
        if (rc == COORD_OK) {
            rc = submit_simple(n, COORD_OP_GETDATA, key_path(key, path, sizeof path), false,
                               TAG(c->op_seq, PHASE_READ));
        }
    } else if (u < sc()->read_ratio + sc()->cas_ratio) {
        struct sim_op *op = op_begin(n, SIM_OP_CAS, key);
        op->value = ++sim_w->next_value[key];
        rc = submit_simple(n, COORD_OP_GETDATA, key_path(key, path, sizeof path), false,
                           TAG(c->op_seq, PHASE_CAS_READ));
    } else {
        struct sim_op *op = op_begin(n, SIM_OP_WRITE, key);
        op->value = ++sim_w->next_value[key];
        rc = submit_set(n, key, op->value, -1, TAG(c->op_seq, PHASE_WRITE));
    }
    if (rc != COORD_OK) {
        op_refused(n, rc);
    }
}

static void sessions_op(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    op_begin(n, SIM_OP_OTHER, 0);
    int rc = submit_simple(n, COORD_OP_GETCHILDREN, (struct coord_str){"/e", 2}, true,
                           TAG(c->op_seq, PHASE_READ));
    if (rc != COORD_OK) {
        op_refused(n, rc);
    }
}

static void make_ephemerals(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    c->ephemerals_made = true;
    for (unsigned i = 0; i < sc()->ephemerals; i++) {
        char path[64];
        snprintf(path, sizeof path, "/e/c%u-s%u-%u", c->number, c->sessions, i);
        struct sim_op *op = sim_op_add();
        op->client = c->number;
        op->key = i;
        op->type = SIM_OP_CREATE_EPHEMERAL;
        op->status = SIM_OP_PENDING;
        op->invoke_s = sim_now();
        op->server = current_server(n);
        size_t index = sim_w->op_count;
        uint64_t tag = TAG_SETUP_BASE | ((uint64_t)index << 1) | 1;
        int rc = submit_create(n, path, "", COORD_MODE_EPHEMERAL, tag);
        /* The submit may have let other clients run and grow the ops array. */
        op = &sim_w->ops[index - 1];
        if (rc != COORD_OK) {
            op->status = SIM_OP_FAIL;
            op->err = rc;
            op->complete_s = sim_now();
        }
    }
}

/* ---- results ---- */

static void setup_result(struct sim_node *n, const struct coord_client_result *res)
{
    struct sim_client_state *c = n->client;
    uint64_t low = res->tag & ~TAG_SETUP_BASE;
    if (low & 1) { /* An ephemeral of the sessions workload. */
        size_t idx = (size_t)(low >> 1);
        if (idx == 0 || idx > sim_w->op_count) {
            return;
        }
        struct sim_op *op = &sim_w->ops[idx - 1];
        op->complete_s = sim_now();
        op->err = res->err;
        op->zxid = res->zxid;
        op->status = res->err == COORD_OK                                       ? SIM_OP_OK
                     : write_refused(res->err) || res->err == COORD_ENODEEXISTS ? SIM_OP_FAIL
                                                                                : SIM_OP_INFO;
        return;
    }
    if (res->err != COORD_OK && res->err != COORD_ENODEEXISTS) {
        c->setup_pending = false; /* Try the whole setup again shortly. */
        c->next_set = true;
        c->next_ms = local_now(n) + 200;
        rearm(n);
        return;
    }
    if (c->setup_left > 0 && --c->setup_left == 0) {
        c->setup_pending = false;
        sim_w->keys_ready = true;
        sim_trace_json("{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"workload_ready\"}", sim_now(),
                       n->name);
    }
}

static void op_result(struct sim_node *n, const struct coord_client_result *res)
{
    struct sim_client_state *c = n->client;
    if (c->op == 0 || (res->tag >> 8) != c->op_seq) {
        return; /* A late reply to an operation already recorded as info. */
    }
    struct sim_op *op = &sim_w->ops[c->op - 1];
    unsigned phase = (unsigned)(res->tag & 0xff);
    switch (phase) {
        case PHASE_SYNC:
            return; /* The getData behind it decides. */
        case PHASE_READ: {
            if (res->err != COORD_OK) {
                op_finish(n, SIM_OP_FAIL, res->err, res->zxid); /* A read changes nothing. */
                return;
            }
            if (op->type == SIM_OP_READ) {
                bool ok;
                op->value = parse_value(res->data, res->data_len, &ok);
                if (!ok) {
                    op_finish(n, SIM_OP_FAIL, COORD_EMARSHALLING, res->zxid);
                    return;
                }
            }
            op_finish(n, SIM_OP_OK, 0, res->zxid);
            return;
        }
        case PHASE_CAS_READ: {
            bool ok = false;
            if (res->err == COORD_OK) {
                op->expect = parse_value(res->data, res->data_len, &ok);
            }
            if (!ok) {
                op_finish(n, SIM_OP_FAIL, res->err ? res->err : COORD_EMARSHALLING, res->zxid);
                return;
            }
            int rc =
                submit_set(n, op->key, op->value, res->stat.version, TAG(c->op_seq, PHASE_WRITE));
            if (rc != COORD_OK) {
                op_refused(n, rc);
            }
            return;
        }
        case PHASE_WRITE:
            if (res->err == COORD_OK) {
                op_finish(n, SIM_OP_OK, 0, res->zxid);
            } else {
                op_finish(n, write_refused(res->err) ? SIM_OP_FAIL : SIM_OP_INFO, res->err,
                          res->zxid);
            }
            return;
        default:
            return;
    }
}

static void cenv_complete(void *ctx, const struct coord_client_result *res)
{
    struct sim_node *n = ctx;
    if (sim_w->teardown) {
        return;
    }
    if ((res->tag & TAG_SETUP_BASE) == TAG_SETUP_BASE) {
        setup_result(n, res);
    } else {
        op_result(n, res);
    }
}

static void cenv_watch(void *ctx, const struct coord_watcher_event *ev)
{
    struct sim_node *n = ctx;
    if (sim_w->teardown) {
        return;
    }
    struct sim_client_state *c = n->client;
    if (ev->type != COORD_EV_NONE) {
        /* A watch fired (sessions workload: /e's children changed). */
        sim_w->watch_events++;
        sim_trace_json(
            "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"watch\",\"type\":%d,"
            "\"path\":\"%.*s\"}",
            sim_now(), n->name, (int)ev->type,
            ev->path.len > 0 && ev->path.len < 200 ? (int)ev->path.len : 0,
            ev->path.ptr != NULL ? ev->path.ptr : "");
        return;
    }
    if (ev->state == COORD_KEEPER_EXPIRED && !c->expired) {
        c->expired = true;
        sim_trace_json(
            "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"client_expired\",\"session\":\"0x%" PRIx64
            "\"}",
            sim_now(), n->name, (uint64_t)c->cli.session_id);
        /* A new session after a while; the running op (if any) fails with it. */
        c->next_set = true;
        c->next_ms = local_now(n) + ms_from_s(sc()->session_restart_s);
    } else if ((ev->state == COORD_KEEPER_SYNC_CONNECTED ||
                ev->state == COORD_KEEPER_CONNECTED_READONLY) &&
               sc()->workload == SIM_WORKLOAD_SESSIONS && !c->ephemerals_made &&
               sim_w->keys_ready) {
        make_ephemerals(n);
    }
}

/* ---- lifecycle ---- */

static int client_open(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    struct coord_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.server_count = sim_w->servers;
    cfg.session_timeout_ms = sc()->session_timeout_ms;
    cfg.read_only = sc()->client_read_only;
    cfg.seed = coord_mix64(sim_w->seed ^ ((uint64_t)n->index << 20) ^ c->sessions);
    struct coord_client_env env;
    memset(&env, 0, sizeof env);
    env.ctx = n;
    env.connect = cenv_connect;
    env.write = cenv_write;
    env.close = cenv_close;
    env.wake_at = cenv_wake_at;
    env.complete = cenv_complete;
    env.watch = cenv_watch;
    int rc = coord_client_init(&c->cli, &cfg, &env);
    if (rc != COORD_OK) {
        sim_fail("client %u: %s", c->number, coord_strerror(rc));
        return rc;
    }
    c->cli_live = true;
    c->sessions++;
    c->expired = false;
    c->ephemerals_made = false;
    c->lib_timer_set = false;
    coord_client_start(&c->cli, local_now(n));
    return COORD_OK;
}

static void client_drop(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    if (c->cli_live) {
        c->cli_live = false;
        coord_client_close(&c->cli); /* Pending requests complete with CONNECTIONLOSS. */
    }
    c->lib_timer_set = false;
}

int sim_client_setup(struct sim_node *n)
{
    struct sim_client_state *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return COORD_ENOMEM;
    }
    n->client = c;
    c->number = n->index - sim_w->servers;
    coord_rng_seed(&c->rng, coord_mix64(sim_w->seed * 0x9e3779b97f4a7c15ull + n->index));
    return COORD_OK;
}

static void start_setup(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    c->setup_pending = true;
    c->setup_left = sc()->keys + 1;
    uint64_t tag = TAG_SETUP_BASE;
    if (submit_create(n, "/e", "", COORD_MODE_PERSISTENT, tag) != COORD_OK) {
        c->setup_left--;
    }
    for (uint32_t k = 0; k < sc()->keys; k++) {
        char path[32];
        snprintf(path, sizeof path, "/k%" PRIu32, k);
        if (submit_create(n, path, "0", COORD_MODE_PERSISTENT, tag) != COORD_OK) {
            c->setup_left--;
        }
    }
}

/* At time 0: plan the session's start (the workload's start plus a seeded
 * spread; client 1 starts at once to create the keys). */
void sim_client_begin(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    double start = sc()->workload_start_s;
    if (c->number == 1) {
        start = 0;
    } else if (sc()->client_start_spread_s > 0) {
        start += sc()->client_start_spread_s * (double)coord_rng_below(&c->rng, 1000000) / 1e6;
    }
    c->next_set = true;
    c->next_ms = sim_local_ms(n, start);
    rearm(n);
}

void sim_client_event(struct sim_node *n, struct sim_event *ev)
{
    struct sim_client_state *c = n->client;
    if (!c->cli_live || ev->conn != c->conn || c->conn == 0) {
        return; /* An old connection's news. */
    }
    int64_t now = local_now(n);
    int rc = COORD_OK;
    switch (ev->kind) {
        case SIM_EV_CONN_ACCEPTED:
            rc = coord_client_on_connected(&c->cli, now);
            break;
        case SIM_EV_CONN_DATA:
            rc = coord_client_on_data(&c->cli, now, ev->data, ev->len);
            break;
        case SIM_EV_CONN_CLOSED:
        case SIM_EV_CONN_REFUSED:
            c->conn = 0;
            rc = coord_client_on_closed(&c->cli, now);
            break;
        default:
            break;
    }
    if (rc != COORD_OK) {
        sim_fail("client %u: %s", c->number, coord_strerror(rc));
    }
    rearm(n);
}

static void workload_due(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    c->next_set = false;
    if (!c->cli_live) {
        if (client_open(n) != COORD_OK) {
            return;
        }
        if (c->number == 1 && !sim_w->keys_ready) {
            start_setup(n);
            return;
        }
        schedule_next(n, 0.001);
        return;
    }
    if (c->expired) {
        client_drop(n);
        if (client_open(n) != COORD_OK) {
            return;
        }
        schedule_next(n, 0.001);
        return;
    }
    if (c->number == 1 && !sim_w->keys_ready) {
        if (!c->setup_pending) {
            start_setup(n);
        }
        return;
    }
    if (sim_now() >= sim_w->duration_s) {
        return; /* The drain: no new operations. */
    }
    /* Not waiting for client 1's setup: an ensemble that never serves must
     * show up in the history as operations that fail or time out. */
    if (sim_now() < sc()->workload_start_s) {
        c->next_set = true;
        c->next_ms = local_now(n) + 100;
        return;
    }
    if (c->op != 0) {
        return; /* Still running: the deadline or the reply plans the next. */
    }
    if (sc()->workload == SIM_WORKLOAD_REGISTER) {
        register_op(n);
    } else if (sc()->workload == SIM_WORKLOAD_SESSIONS) {
        if (!c->ephemerals_made && sim_w->keys_ready) {
            make_ephemerals(n);
        }
        sessions_op(n);
    }
}

void sim_client_timeout(struct sim_node *n)
{
    struct sim_client_state *c = n->client;
    int64_t now = local_now(n);
    if (c->lib_timer_set && now >= c->lib_timer_ms && c->cli_live) {
        c->lib_timer_set = false;
        if (coord_client_on_timeout(&c->cli, now) != COORD_OK) {
            sim_fail("client %u: out of memory", c->number);
        }
    }
    if (c->deadline_set && now >= c->deadline_ms) {
        c->deadline_set = false;
        op_finish(n, SIM_OP_INFO, COORD_EOPERATIONTIMEOUT, 0);
    }
    if (c->next_set && now >= c->next_ms) {
        workload_due(n);
    }
    rearm(n);
}

void sim_client_free(struct sim_node *n)
{
    if (n->client == NULL) {
        return;
    }
    struct sim_client_state *c = n->client;
    c->op = 0; /* Completions during close are not recorded. */
    c->op_seq++;
    if (c->cli_live) {
        c->cli_live = false;
        coord_client_close(&c->cli);
    }
    free(c);
    n->client = NULL;
}
