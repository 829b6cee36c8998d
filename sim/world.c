/* coordsim's nodes: their event queues and clocks, the actor loop that drives
 * one server or client state machine, and a server's env (the disk lives here
 * too). See sim.h for the shape of the world. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <simgrid/engine.h>

#include "coord/txn.h"
#include "sim.h"

struct sim_world *sim_w;

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (q == NULL) {
        fprintf(stderr, "coordsim: out of memory\n");
        exit(3);
    }
    return q;
}

static void *xmemdup(const void *p, size_t len)
{
    void *q = xrealloc(NULL, len ? len : 1);
    if (len) {
        memcpy(q, p, len);
    }
    return q;
}

void sim_fail(const char *fmt, ...)
{
    if (sim_w->error[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim_w->error, sizeof sim_w->error, fmt, ap);
    va_end(ap);
    sim_w->done = true;
}

double sim_now(void)
{
    return simgrid_get_clock();
}

int64_t sim_local_ms(const struct sim_node *n, double global_s)
{
    return (int64_t)floor(n->offset_ms + n->rate * global_s * 1000.0);
}

/* Global time at which the node's clock shows local_ms (its rate is > 0). */
static double sim_global_at(const struct sim_node *n, int64_t local_ms)
{
    return ((double)local_ms - n->offset_ms) / n->rate / 1000.0;
}

void sim_set_drift(struct sim_node *n, double rate)
{
    double g = sim_now();
    double local = n->offset_ms + n->rate * g * 1000.0;
    n->rate = rate;
    n->offset_ms = local - rate * g * 1000.0;
    sim_node_kick(n, g);
}

void sim_clock_jump(struct sim_node *n, double jump_ms)
{
    n->offset_ms += jump_ms;
    sim_node_kick(n, sim_now());
}

/* ---- events and queues ---- */

struct sim_event *sim_event_new(enum sim_ev_kind kind,
                                uint32_t from,
                                uint32_t to,
                                const void *data,
                                size_t len)
{
    struct sim_event *ev = xrealloc(NULL, sizeof *ev + len);
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->from = from;
    ev->to = to;
    ev->len = len;
    ev->sent_at = sim_now();
    if (len) {
        memcpy(ev->data, data, len);
    }
    return ev;
}

void sim_event_free(struct sim_event *ev)
{
    free(ev);
}

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(struct sim_heap *h, struct sim_event *ev)
{
    if (h->count == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->items = xrealloc(h->items, h->cap * sizeof *h->items);
    }
    size_t i = h->count++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_before(ev, h->items[p])) {
            break;
        }
        h->items[i] = h->items[p];
        i = p;
    }
    h->items[i] = ev;
}

static struct sim_event *heap_pop(struct sim_heap *h)
{
    struct sim_event *top = h->items[0];
    struct sim_event *last = h->items[--h->count];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= h->count) {
            break;
        }
        size_t m = l + 1 < h->count && ev_before(h->items[l + 1], h->items[l]) ? l + 1 : l;
        if (!ev_before(h->items[m], last)) {
            break;
        }
        h->items[i] = h->items[m];
        i = m;
    }
    if (h->count > 0) {
        h->items[i] = last;
    }
    return top;
}

static void heap_clear(struct sim_heap *h)
{
    for (size_t i = 0; i < h->count; i++) {
        sim_event_free(h->items[i]);
    }
    h->count = 0;
}

void sim_node_kick(struct sim_node *n, double at)
{
    if (sim_w->teardown) {
        return;
    }
    if (at < n->waiting_until && !n->sem_posted) {
        n->sem_posted = true;
        sg_sem_release(n->sem);
    }
}

void sim_queue_push(struct sim_node *n, struct sim_event *ev)
{
    if (n->kind == SIM_NODE_SERVER && n->crashed) {
        sim_event_free(ev); /* Nobody listens: a dead process gets nothing. */
        return;
    }
    ev->seq = ++sim_w->seq;
    heap_push(&n->queue, ev);
    sim_node_kick(n, ev->at);
}

/* ---- the disk ---- */

static int64_t record_zxid(const void *rec, size_t len)
{
    struct coord_txn txn;
    if (coord_txn_decode(rec, len, &txn) != COORD_OK) {
        return -1;
    }
    int64_t zxid = txn.zxid;
    coord_txn_release(&txn);
    return zxid;
}

static void disk_start_sync(struct sim_node *n)
{
    struct sim_disk *d = &n->disk;
    if (d->sync_busy || d->issued == d->synced) {
        return;
    }
    d->sync_busy = true;
    struct sim_event *ev = sim_event_new(SIM_EV_SYNCED, n->index, n->index, NULL, 0);
    ev->gen = d->issued;
    ev->at = sim_now() + d->sync_ms / 1000.0;
    sim_queue_push(n, ev);
}

static void disk_synced(struct sim_node *n, uint64_t token)
{
    struct sim_disk *d = &n->disk;
    d->sync_busy = false;
    d->synced = token;
    for (size_t i = d->log_count; i > 0; i--) {
        struct sim_record *r = &d->log[i - 1];
        if (r->token == 0) {
            break;
        }
        if (r->token <= token) {
            r->token = 0;
        }
    }
    if (d->meta_pending != NULL && d->meta_pending_token <= token) {
        free(d->meta);
        d->meta = d->meta_pending;
        d->meta_len = d->meta_pending_len;
        d->meta_pending = NULL;
    }
    disk_start_sync(n);
}

/* A crash: what no sync covered is gone. Tokens count from 1 again. */
static void disk_crash(struct sim_disk *d)
{
    size_t kept = 0;
    for (size_t i = 0; i < d->log_count; i++) {
        if (d->log[i].token != 0) {
            free(d->log[i].bytes);
            d->records_lost++;
        } else {
            d->log[kept++] = d->log[i];
        }
    }
    d->log_count = kept;
    free(d->meta_pending);
    d->meta_pending = NULL;
    d->issued = d->synced = 0;
    d->sync_busy = false;
}

static void disk_free(struct sim_disk *d)
{
    for (size_t i = 0; i < d->log_count; i++) {
        free(d->log[i].bytes);
    }
    free(d->log);
    free(d->snapshot);
    free(d->meta);
    free(d->meta_pending);
    memset(d, 0, sizeof *d);
}

/* ---- a server's env ---- */

static void env_peer_send(void *ctx, coord_id to, const void *msg, size_t len)
{
    struct sim_node *n = ctx;
    sim_peer_send(n->index, (uint32_t)to, msg, len);
}

static void env_conn_write(void *ctx, uint64_t conn, const void *buf, size_t len)
{
    (void)ctx;
    sim_conn_send(conn, false, buf, len);
}

static void env_conn_close(void *ctx, uint64_t conn)
{
    (void)ctx;
    sim_conn_close(conn, false);
}

static void env_log_append(void *ctx, const void *rec, size_t len, uint64_t token)
{
    struct sim_node *n = ctx;
    struct sim_disk *d = &n->disk;
    if (d->log_count == d->log_cap) {
        d->log_cap = d->log_cap ? d->log_cap * 2 : 256;
        d->log = xrealloc(d->log, d->log_cap * sizeof *d->log);
    }
    struct sim_record *r = &d->log[d->log_count++];
    r->bytes = xmemdup(rec, len);
    r->len = len;
    r->zxid = record_zxid(rec, len);
    r->token = token;
    d->issued = token;
    disk_start_sync(n);
}

static void env_log_truncate(void *ctx, coord_zxid last_kept)
{
    struct sim_node *n = ctx;
    struct sim_disk *d = &n->disk;
    size_t kept = 0;
    for (size_t i = 0; i < d->log_count; i++) {
        if (d->log[i].zxid > last_kept) {
            free(d->log[i].bytes);
        } else {
            d->log[kept++] = d->log[i];
        }
    }
    d->log_count = kept;
}

/* A snapshot makes the log before it useless: the records it covers go, so a
 * long run's memory stays bounded by snapCount. */
static void env_snapshot_write(void *ctx, const void *buf, size_t len, coord_zxid zxid)
{
    struct sim_node *n = ctx;
    struct sim_disk *d = &n->disk;
    free(d->snapshot);
    d->snapshot = xmemdup(buf, len);
    d->snapshot_len = len;
    d->snapshot_zxid = zxid;
    size_t kept = 0;
    for (size_t i = 0; i < d->log_count; i++) {
        if (d->log[i].token == 0 && d->log[i].zxid >= 0 && d->log[i].zxid <= zxid) {
            free(d->log[i].bytes);
        } else {
            d->log[kept++] = d->log[i];
        }
    }
    d->log_count = kept;
}

static void env_meta_write(void *ctx, const void *buf, size_t len, uint64_t token)
{
    struct sim_node *n = ctx;
    struct sim_disk *d = &n->disk;
    free(d->meta_pending);
    d->meta_pending = xmemdup(buf, len);
    d->meta_pending_len = len;
    d->meta_pending_token = token;
    d->issued = token;
    disk_start_sync(n);
}

static void env_wake_at(void *ctx, coord_time_ms deadline_ms)
{
    struct sim_node *n = ctx;
    n->timer_set = true;
    n->timer_ms = deadline_ms;
    sim_node_kick(n, sim_global_at(n, deadline_ms));
}

static void env_trace(void *ctx, const struct coord_trace *ev)
{
    sim_trace_core(ctx, ev);
}

struct log_cursor
{
    const struct sim_disk *disk;
    size_t pos;
};

static bool log_cursor_next(void *ctx, const void **rec, size_t *len)
{
    struct log_cursor *cur = ctx;
    const struct sim_disk *d = cur->disk;
    while (cur->pos < d->log_count) {
        const struct sim_record *r = &d->log[cur->pos++];
        if (d->snapshot != NULL && r->zxid >= 0 && r->zxid <= d->snapshot_zxid) {
            continue;
        }
        *rec = r->bytes;
        *len = r->len;
        return true;
    }
    return false;
}

/* Build the server from what its disk holds (boot and restart alike). */
int sim_server_start(struct sim_node *n)
{
    struct log_cursor cur = {&n->disk, 0};
    struct coord_log_reader reader = {&cur, log_cursor_next};
    struct coord_storage st;
    memset(&st, 0, sizeof st);
    st.snapshot = n->disk.snapshot;
    st.snapshot_len = n->disk.snapshot_len;
    st.log = &reader;
    st.meta = n->disk.meta;
    st.meta_len = n->disk.meta_len;
    memset(&n->env, 0, sizeof n->env);
    n->env.ctx = n;
    n->env.peer_send = env_peer_send;
    n->env.conn_write = env_conn_write;
    n->env.conn_close = env_conn_close;
    n->env.log_append = env_log_append;
    n->env.log_truncate = env_log_truncate;
    n->env.snapshot_write = env_snapshot_write;
    n->env.meta_write = env_meta_write;
    n->env.wake_at = env_wake_at;
    n->env.trace = env_trace;
    char err[256] = "";
    uint64_t seed = coord_mix64(sim_w->seed ^ ((uint64_t)n->index << 32) ^ n->starts);
    n->timer_set = false;
    int rc = coord_server_init(&n->server, &n->config, seed, &n->env, &st, err, sizeof err);
    if (rc != COORD_OK) {
        sim_fail("server %u failed to start: %s (%s)", n->index, err, coord_strerror(rc));
        return rc;
    }
    n->server_up = true;
    sim_role_segment(n, n->server.role, 0); /* Ends the "down" segment. */
    n->crashed = false;
    n->starts++;
    /* The boot tick: the core learns the time. */
    n->timer_set = true;
    n->timer_ms = sim_local_ms(n, sim_now());
    /* Its peer connections come back through the controller's reconnection
     * tick, as after any break. */
    sim_node_kick(n, sim_now());
    return COORD_OK;
}

void sim_server_crash(struct sim_node *n)
{
    if (n->crashed) {
        return;
    }
    sim_role_segment(n, n->role.role, n->role.epoch); /* Ends the live segment. */
    n->crashed = true;
    n->paused = false;
    if (n->server_up) {
        coord_server_close(&n->server);
        n->server_up = false;
    }
    heap_clear(&n->queue);
    n->timer_set = false;
    uint64_t lost_before = n->disk.records_lost;
    int64_t logged = n->disk.snapshot_zxid, durable = n->disk.snapshot_zxid;
    for (size_t i = 0; i < n->disk.log_count; i++) {
        const struct sim_record *r = &n->disk.log[i];
        logged = r->zxid > logged ? r->zxid : logged;
        if (r->token == 0 && r->zxid > durable) {
            durable = r->zxid;
        }
    }
    disk_crash(&n->disk);
    sim_trace_json(
        "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"crash\",\"records_lost\":%llu,"
        "\"last_logged\":\"0x%llx\",\"last_durable\":\"0x%llx\"}",
        sim_now(), n->name, (unsigned long long)(n->disk.records_lost - lost_before),
        (unsigned long long)logged, (unsigned long long)durable);
    sim_net_node_crashed(n->index);
}

uint32_t sim_current_leader(void)
{
    uint32_t best = 0;
    int64_t best_epoch = -1;
    for (uint32_t i = 1; i <= sim_w->servers; i++) {
        struct sim_node *n = &sim_w->nodes[i];
        if (!n->crashed && n->role.role == COORD_ROLE_LEADING && n->role.epoch > best_epoch) {
            best = i;
            best_epoch = n->role.epoch;
        }
    }
    return best;
}

/* ---- the actor loop ---- */

static void server_step(struct sim_node *n, const struct coord_event *ev)
{
    if (!n->server_up) {
        return;
    }
    sim_w->count.events++;
    if (coord_server_step(&n->server, ev) != COORD_OK) {
        sim_fail("server %u ran out of memory", n->index);
    }
}

static void server_event(struct sim_node *n, struct sim_event *sev)
{
    struct coord_event ev;
    memset(&ev, 0, sizeof ev);
    ev.now_ms = sim_local_ms(n, sim_now());
    switch (sev->kind) {
        case SIM_EV_PEER_MSG:
            ev.type = COORD_EVENT_PEER_MESSAGE;
            ev.peer = (coord_id)sev->from;
            ev.data = sev->data;
            ev.len = sev->len;
            break;
        case SIM_EV_PEER_UP:
            ev.type = COORD_EVENT_PEER_UP;
            ev.peer = (coord_id)sev->from;
            break;
        case SIM_EV_PEER_DOWN:
            ev.type = COORD_EVENT_PEER_DOWN;
            ev.peer = (coord_id)sev->from;
            break;
        case SIM_EV_CONN_OPEN:
            ev.type = COORD_EVENT_CONN_OPEN;
            ev.conn = sev->conn;
            ev.data = sev->data;
            ev.len = sev->len;
            break;
        case SIM_EV_CONN_DATA:
            ev.type = COORD_EVENT_CONN_DATA;
            ev.conn = sev->conn;
            ev.data = sev->data;
            ev.len = sev->len;
            break;
        case SIM_EV_CONN_CLOSED:
            ev.type = COORD_EVENT_CONN_CLOSED;
            ev.conn = sev->conn;
            break;
        case SIM_EV_SYNCED:
            disk_synced(n, sev->gen);
            ev.type = COORD_EVENT_SYNCED;
            ev.token = sev->gen;
            break;
        default:
            return;
    }
    server_step(n, &ev);
}

static void node_handle(struct sim_node *n, struct sim_event *ev)
{
    if (n->kind == SIM_NODE_SERVER) {
        server_event(n, ev);
    } else {
        sim_client_event(n, ev);
    }
    sim_event_free(ev);
}

static void node_fire_timer(struct sim_node *n)
{
    n->timer_set = false;
    if (n->kind == SIM_NODE_SERVER) {
        struct coord_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = COORD_EVENT_TIMEOUT;
        ev.now_ms = sim_local_ms(n, sim_now());
        server_step(n, &ev);
    } else {
        sim_client_timeout(n);
    }
}

/* One node: handle what is due, then sleep until the next thing is. */
void sim_node_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct sim_node *n = sg_actor_self_get_data();
    if (n->kind == SIM_NODE_SERVER) {
        if (sim_server_start(n) != COORD_OK) {
            return;
        }
    } else {
        sim_client_begin(n);
    }
    for (;;) {
        if (n->crash_pending) {
            n->crash_pending = false;
            sim_server_crash(n);
        }
        if (n->restart_pending) {
            n->restart_pending = false;
            if (n->crashed && sim_server_start(n) != COORD_OK) {
                return;
            }
        }
        double now = sim_now();
        bool live = !n->crashed && !n->paused && !sim_w->done;
        if (live) {
            while (n->queue.count > 0 && n->queue.items[0]->at <= now && !n->paused &&
                   !n->crashed) {
                node_handle(n, heap_pop(&n->queue));
            }
            if (!n->paused && !n->crashed && n->timer_set && sim_local_ms(n, now) >= n->timer_ms) {
                node_fire_timer(n);
                continue; /* It may have queued something due now. */
            }
        }
        double next = INFINITY;
        if (!n->crashed && !n->paused) {
            if (n->queue.count > 0) {
                next = n->queue.items[0]->at;
            }
            if (n->timer_set) {
                double t = sim_global_at(n, n->timer_ms);
                /* Rounding: the clock may show timer_ms a hair later. */
                while (sim_local_ms(n, t) < n->timer_ms) {
                    t = nextafter(t, INFINITY) + 1e-9;
                }
                next = fmin(next, t);
            }
        }
        double limit = sim_w->end_s + 1.0;
        if (next > limit) {
            next = limit;
        }
        if (next <= now) {
            continue;
        }
        n->waiting_until = next;
        if (sg_sem_acquire_timeout(n->sem, next - now) == 0) {
            n->sem_posted = false;
        }
        n->waiting_until = -INFINITY;
    }
}

void sim_world_free(void)
{
    struct sim_world *w = sim_w;
    if (w == NULL) {
        return;
    }
    w->teardown = true;
    for (uint32_t i = 1; i <= w->node_count; i++) {
        struct sim_node *n = &w->nodes[i];
        heap_clear(&n->queue);
        free(n->queue.items);
        if (n->kind == SIM_NODE_SERVER) {
            if (n->server_up) {
                coord_server_close(&n->server);
            }
            disk_free(&n->disk);
        } else {
            sim_client_free(n);
        }
    }
    for (size_t i = 0; i < w->conn_count; i++) {
        free(w->conns[i]);
    }
    free(w->conns);
    free(w->nodes);
    free(w->ops);
    free(w->next_value);
    sim_election_close(&w->election);
}
