/* coordsim's transport: connections with TCP's contract over SimGrid
 * mailboxes, and the cuts the nemesis makes.
 *
 * Every message is a SimGrid comm from the sender's host to a mailbox of the
 * receiver's host whose permanent receiver is a pump actor there (one per
 * server pair and direction, one per server for all client traffic, one per
 * client), so SimGrid accounts latency, bandwidth and link sharing. The pump
 * hands the message to the receiving node's queue, after any extra delay,
 * jitter or bandwidth limit the nemesis set, never before the previous
 * message of the same connection direction (TCP keeps order).
 *
 * A cut is checked when a message is sent and again when it arrives. A message
 * a cut swallows breaks its connection: nothing sent on it later arrives, and
 * both ends are told (PEER_DOWN, or the client connection closed) either at
 * once (mode reject: a reset) or when the cut heals or tcp_timeout has passed,
 * whichever comes first (mode drop: a silent black hole, as a pulled cable).
 * So a connection never delivers past a loss without a break being reported,
 * which is env.h's contract. Server pairs reconnect every 100 ms once both
 * ends are alive and can reach each other, as real/peer.c does.
 *
 * Every SimGrid call (a put, a semaphore release) lets other actors run at the
 * same simulated time, so nothing here frees what another actor may hold: a
 * connection record lives until the end of the run (48 bytes each). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <simgrid/comm.h>
#include <simgrid/engine.h>

#include "sim.h"

#define SIM_WIRE_OVERHEAD 66 /* Bytes of TCP/IP/Ethernet headers per message. */
#define SIM_RECONNECT_S 0.1

static sg_mailbox_t peer_mb[SIM_SERVERS_MAX + 1][SIM_SERVERS_MAX + 1]; /* [to][from] */
static sg_mailbox_t *node_mb; /* Servers: their client mailbox; clients: theirs. */
static double pair_down_since[SIM_SERVERS_MAX + 1][SIM_SERVERS_MAX + 1];
static uint64_t *broken_conns;
static size_t broken_count, broken_cap;

static bool is_server(uint32_t node)
{
    return node >= 1 && node <= sim_w->servers;
}

static struct sim_pair *pair_of(uint32_t a, uint32_t b)
{
    return a < b ? &sim_w->pairs[a][b] : &sim_w->pairs[b][a];
}

bool sim_blocked(uint32_t a, uint32_t b)
{
    if (is_server(a) && is_server(b)) {
        return sim_w->cut_ss[a][b];
    }
    if (is_server(b)) {
        return sim_w->cut_c2s[b];
    }
    if (is_server(a)) {
        return sim_w->cut_s2c[a];
    }
    return false;
}

struct sim_conn *sim_conn_get(uint64_t id)
{
    if (id == 0 || id > sim_w->conn_count) {
        return NULL;
    }
    return sim_w->conns[id - 1];
}

static void free_payload(void *p)
{
    sim_event_free(p);
}

static void post(sg_mailbox_t mb, struct sim_event *ev)
{
    if (sim_w->teardown) {
        sim_event_free(ev);
        return;
    }
    sg_comm_t c = sg_mailbox_put_init(mb, ev, (long)(ev->len + SIM_WIRE_OVERHEAD));
    sg_comm_detach(c, free_payload);
}

/* When an arriving message is due at its node: after the extra delay and
 * jitter of its ends, serialised by a bandwidth limit, never before the
 * previous one of its connection direction. */
static void set_release(struct sim_event *ev, double *last_release)
{
    const struct sim_node *a = &sim_w->nodes[ev->from];
    const struct sim_node *b = &sim_w->nodes[ev->to];
    double extra_ms = fmax(a->delay_ms, b->delay_ms);
    double jitter_ms = fmax(a->jitter_ms, b->jitter_ms);
    if (jitter_ms > 0) {
        extra_ms += jitter_ms * (double)coord_rng_below(&sim_w->rng, 1000000) / 1e6;
    }
    double at = sim_now() + extra_ms / 1000.0;
    double bw = 0;
    if (a->bandwidth_mbps > 0) {
        bw = a->bandwidth_mbps;
    }
    if (b->bandwidth_mbps > 0 && (bw == 0 || b->bandwidth_mbps < bw)) {
        bw = b->bandwidth_mbps;
    }
    if (at < *last_release) {
        at = *last_release;
    }
    if (bw > 0) {
        at += (double)(ev->len + SIM_WIRE_OVERHEAD) * 8.0 / (bw * 1e6);
    }
    *last_release = at;
    ev->at = at;
}

static void push_control(uint32_t to,
                         enum sim_ev_kind kind,
                         uint32_t from,
                         uint64_t conn,
                         double delay_s)
{
    struct sim_event *ev = sim_event_new(kind, from, to, NULL, 0);
    ev->conn = conn;
    ev->at = sim_now() + delay_s;
    sim_queue_push(&sim_w->nodes[to], ev);
}

/* ---- server pairs ---- */

static void pair_report(uint32_t a, uint32_t b)
{
    struct sim_pair *p = pair_of(a, b);
    p->state = SIM_LINK_DOWN;
    pair_down_since[a < b ? a : b][a < b ? b : a] = sim_now();
    push_control(a, SIM_EV_PEER_DOWN, b, 0, sim_w->latency_s);
    push_control(b, SIM_EV_PEER_DOWN, a, 0, sim_w->latency_s);
    sim_trace_json("{\"t\":%.6f,\"kind\":\"link_down\",\"a\":\"s%u\",\"b\":\"s%u\"}", sim_now(), a,
                   b);
}

static void pair_break(uint32_t a, uint32_t b, bool report_now)
{
    struct sim_pair *p = pair_of(a, b);
    if (p->state != SIM_LINK_UP) {
        return;
    }
    p->gen++;
    sim_w->count.peer_breaks++;
    if (report_now || sim_w->cut_reject) {
        pair_report(a, b);
    } else {
        p->state = SIM_LINK_BROKEN;
        p->report_at = sim_now() + sim_w->sc->tcp_timeout_s;
    }
}

void sim_peer_send(uint32_t from, uint32_t to, const void *msg, size_t len)
{
    if (!is_server(to) || to == from) {
        return;
    }
    sim_w->count.peer_sent++;
    struct sim_pair *p = pair_of(from, to);
    if (p->state != SIM_LINK_UP) {
        sim_w->count.peer_dropped_down++;
        return;
    }
    if (sim_blocked(from, to)) {
        sim_w->count.peer_dropped_cut++;
        pair_break(from, to, false);
        return;
    }
    struct sim_event *ev = sim_event_new(SIM_EV_PEER_MSG, from, to, msg, len);
    ev->gen = p->gen;
    post(peer_mb[to][from], ev);
}

static void arrive_peer(struct sim_event *ev)
{
    struct sim_pair *p = pair_of(ev->from, ev->to);
    if (ev->gen != p->gen || p->state != SIM_LINK_UP) {
        sim_w->count.peer_dropped_down++;
        sim_event_free(ev);
        return;
    }
    if (sim_blocked(ev->from, ev->to)) {
        sim_w->count.peer_dropped_cut++;
        pair_break(ev->from, ev->to, false);
        sim_event_free(ev);
        return;
    }
    set_release(ev, &p->last_release[ev->from < ev->to ? 0 : 1]);
    sim_w->count.peer_delivered++;
    if (sim_w->sc->trace_messages) {
        sim_trace_json(
            "{\"t\":%.6f,\"kind\":\"msg\",\"from\":\"s%u\",\"to\":\"s%u\",\"sent\":%.6f,"
            "\"len\":%zu}",
            sim_now(), ev->from, ev->to, ev->sent_at, ev->len);
    }
    sim_queue_push(&sim_w->nodes[ev->to], ev);
}

/* ---- client connections ---- */

static void broken_add(uint64_t id)
{
    if (broken_count == broken_cap) {
        broken_cap = broken_cap ? broken_cap * 2 : 64;
        broken_conns = realloc(broken_conns, broken_cap * sizeof *broken_conns);
        if (broken_conns == NULL) {
            fprintf(stderr, "coordsim: out of memory\n");
            exit(3);
        }
    }
    broken_conns[broken_count++] = id;
}

static void conn_report(struct sim_conn *k)
{
    k->broken = false;
    if (k->client_open) {
        k->client_open = false;
        push_control(k->client, SIM_EV_CONN_CLOSED, k->server, k->id, sim_w->latency_s);
    }
    if (k->server_open) {
        k->server_open = false;
        push_control(k->server, SIM_EV_CONN_CLOSED, k->client, k->id, sim_w->latency_s);
    }
}

static void conn_break(struct sim_conn *k, bool report_now)
{
    if (k->dead) {
        return;
    }
    k->dead = true;
    sim_w->count.conn_breaks++;
    if (report_now || sim_w->cut_reject) {
        conn_report(k);
    } else {
        k->broken = true;
        k->report_at = sim_now() + sim_w->sc->tcp_timeout_s;
        broken_add(k->id);
    }
}

uint64_t sim_client_connect(uint32_t client, uint32_t server)
{
    struct sim_world *w = sim_w;
    if (w->conn_count == w->conn_cap) {
        w->conn_cap = w->conn_cap ? w->conn_cap * 2 : 256;
        w->conns = realloc(w->conns, w->conn_cap * sizeof *w->conns);
        if (w->conns == NULL) {
            fprintf(stderr, "coordsim: out of memory\n");
            exit(3);
        }
    }
    struct sim_conn *k = calloc(1, sizeof *k);
    if (k == NULL) {
        fprintf(stderr, "coordsim: out of memory\n");
        exit(3);
    }
    w->conns[w->conn_count++] = k;
    k->id = w->conn_count;
    k->client = client;
    k->server = server;
    k->client_open = true;
    if (w->nodes[server].crashed) {
        /* Nobody listens on the port: the kernel answers with a reset. */
        k->dead = true;
        k->client_open = false;
        push_control(client, SIM_EV_CONN_REFUSED, server, k->id, 2 * w->latency_s);
        return k->id;
    }
    if (sim_blocked(client, server)) {
        k->dead = true; /* The SYN is lost; the client's connect timeout ends it. */
        return k->id;
    }
    char addr[48];
    int n = snprintf(addr, sizeof addr, "10.1.%u.%u:%u", (client >> 8) & 0xff, client & 0xff,
                     40000 + (unsigned)(k->id % 20000));
    struct sim_event *ev = sim_event_new(SIM_EV_CONN_OPEN, client, server, addr, (size_t)n);
    ev->conn = k->id;
    w->count.client_sent++;
    post(node_mb[server], ev);
    return k->id;
}

void sim_conn_send(uint64_t conn, bool from_client, const void *buf, size_t len)
{
    struct sim_conn *k = sim_conn_get(conn);
    if (k == NULL || k->dead || !(from_client ? k->client_open : k->server_open)) {
        sim_w->count.client_dropped++;
        return;
    }
    uint32_t from = from_client ? k->client : k->server;
    uint32_t to = from_client ? k->server : k->client;
    if (sim_blocked(from, to)) {
        sim_w->count.client_dropped++;
        conn_break(k, false);
        return;
    }
    struct sim_event *ev = sim_event_new(SIM_EV_CONN_DATA, from, to, buf, len);
    ev->conn = conn;
    sim_w->count.client_sent++;
    post(node_mb[to], ev);
}

void sim_conn_close(uint64_t conn, bool from_client)
{
    struct sim_conn *k = sim_conn_get(conn);
    if (k == NULL) {
        return;
    }
    bool *open = from_client ? &k->client_open : &k->server_open;
    if (!*open) {
        return;
    }
    *open = false;
    uint32_t from = from_client ? k->client : k->server;
    uint32_t to = from_client ? k->server : k->client;
    if (!k->dead) {
        if (sim_blocked(from, to)) {
            conn_break(k, false); /* The FIN is lost too: the other end learns later. */
        } else {
            struct sim_event *ev = sim_event_new(SIM_EV_CONN_CLOSED, from, to, NULL, 0);
            ev->conn = conn;
            post(node_mb[to], ev);
        }
    }
}

/* A client connection's message reached the pump of its receiving end. A
 * closed end gets nothing more; a FIN closes the end it reaches, after the
 * data that went before it (same connection direction, same order). */
static void arrive_conn(struct sim_event *ev)
{
    struct sim_conn *k = sim_conn_get(ev->conn);
    bool to_client = !is_server(ev->to);
    if (k == NULL || k->dead) {
        sim_w->count.client_dropped++;
        sim_event_free(ev);
        return;
    }
    bool *open = to_client ? &k->client_open : &k->server_open;
    if (ev->kind != SIM_EV_CONN_OPEN && !*open) {
        sim_w->count.client_dropped++;
        sim_event_free(ev);
        return;
    }
    if (sim_blocked(ev->from, ev->to)) {
        sim_w->count.client_dropped++;
        conn_break(k, false);
        sim_event_free(ev);
        return;
    }
    if (ev->kind == SIM_EV_CONN_OPEN) {
        if (!k->client_open) {
            sim_event_free(ev); /* The client gave up already. */
            return;
        }
        /* The server's kernel accepts: the client hears it, the server sees
         * the connection when it next looks (even if it is paused). */
        k->server_open = true;
        struct sim_event *ack = sim_event_new(SIM_EV_CONN_ACCEPTED, ev->to, ev->from, NULL, 0);
        ack->conn = k->id;
        post(node_mb[ev->from], ack);
    } else if (ev->kind == SIM_EV_CONN_CLOSED) {
        *open = false;
    }
    set_release(ev, &k->last_release[to_client ? 1 : 0]);
    sim_w->count.client_delivered++;
    sim_queue_push(&sim_w->nodes[ev->to], ev);
}

void sim_net_arrive(struct sim_event *ev)
{
    struct sim_node *to = &sim_w->nodes[ev->to];
    if (to->kind == SIM_NODE_SERVER && to->crashed) {
        /* The process is gone: its kernel drops data and refuses connections. */
        struct sim_conn *k = ev->kind == SIM_EV_CONN_OPEN ? sim_conn_get(ev->conn) : NULL;
        if (k != NULL && !k->dead) {
            k->dead = true;
            if (k->client_open) {
                k->client_open = false;
                push_control(k->client, SIM_EV_CONN_REFUSED, k->server, k->id, sim_w->latency_s);
            }
        }
        sim_event_free(ev);
        return;
    }
    if (ev->kind == SIM_EV_PEER_MSG) {
        arrive_peer(ev);
    } else {
        arrive_conn(ev);
    }
}

/* ---- the controller's periodic work ---- */

void sim_net_tick(void)
{
    struct sim_world *w = sim_w;
    double now = sim_now();
    for (uint32_t a = 1; a <= w->servers; a++) {
        for (uint32_t b = a + 1; b <= w->servers; b++) {
            struct sim_pair *p = &w->pairs[a][b];
            if (p->state == SIM_LINK_BROKEN && p->report_at <= now) {
                pair_report(a, b);
            } else if (p->state == SIM_LINK_DOWN &&
                       now >= pair_down_since[a][b] + SIM_RECONNECT_S && !w->nodes[a].crashed &&
                       !w->nodes[b].crashed && !sim_blocked(a, b) && !sim_blocked(b, a)) {
                p->state = SIM_LINK_UP;
                /* A connection takes a round trip; each end hears it then. */
                push_control(a, SIM_EV_PEER_UP, b, 0, 2 * w->latency_s);
                push_control(b, SIM_EV_PEER_UP, a, 0, 2 * w->latency_s);
            }
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < broken_count; i++) {
        struct sim_conn *k = sim_conn_get(broken_conns[i]);
        if (k == NULL || !k->broken) {
            continue;
        }
        if (k->report_at <= now) {
            conn_report(k);
        } else {
            broken_conns[kept++] = broken_conns[i];
        }
    }
    broken_count = kept;
}

/* Reject-mode cuts reset every connection they cross at once. */
void sim_net_cuts_changed(bool reject)
{
    struct sim_world *w = sim_w;
    w->cut_reject = reject;
    if (!reject) {
        return;
    }
    for (uint32_t a = 1; a <= w->servers; a++) {
        for (uint32_t b = a + 1; b <= w->servers; b++) {
            if (sim_blocked(a, b) || sim_blocked(b, a)) {
                pair_break(a, b, true);
            }
        }
    }
    for (size_t i = 0; i < w->conn_count; i++) {
        struct sim_conn *k = w->conns[i];
        if (k != NULL && !k->dead &&
            (sim_blocked(k->client, k->server) || sim_blocked(k->server, k->client))) {
            conn_break(k, true);
        }
    }
}

void sim_net_heal(void)
{
    struct sim_world *w = sim_w;
    memset(w->cut_ss, 0, sizeof w->cut_ss);
    memset(w->cut_c2s, 0, sizeof w->cut_c2s);
    memset(w->cut_s2c, 0, sizeof w->cut_s2c);
    w->cut_reject = false;
    /* The broken connections' ends learn it now (their retransmissions get
     * a reset), and reconnect. */
    for (uint32_t a = 1; a <= w->servers; a++) {
        for (uint32_t b = a + 1; b <= w->servers; b++) {
            if (w->pairs[a][b].state == SIM_LINK_BROKEN) {
                pair_report(a, b);
            }
        }
    }
    for (size_t i = 0; i < broken_count; i++) {
        struct sim_conn *k = sim_conn_get(broken_conns[i]);
        if (k != NULL && k->broken) {
            conn_report(k);
        }
    }
    broken_count = 0;
}

void sim_net_reset_node(uint32_t node)
{
    struct sim_world *w = sim_w;
    if (is_server(node)) {
        for (uint32_t b = 1; b <= w->servers; b++) {
            if (b != node) {
                pair_break(node, b, true);
            }
        }
    }
    for (size_t i = 0; i < w->conn_count; i++) {
        struct sim_conn *k = w->conns[i];
        if (k != NULL && !k->dead && (k->server == node || k->client == node)) {
            conn_break(k, true);
        }
    }
}

/* The process died: its kernel closes every socket, so the other ends hear
 * it after one latency. */
void sim_net_node_crashed(uint32_t node)
{
    struct sim_world *w = sim_w;
    for (uint32_t b = 1; b <= w->servers; b++) {
        if (b == node) {
            continue;
        }
        struct sim_pair *p = pair_of(node, b);
        if (p->state != SIM_LINK_DOWN) {
            p->gen++;
            pair_report(node, b);
        }
    }
    for (size_t i = 0; i < w->conn_count; i++) {
        struct sim_conn *k = w->conns[i];
        if (k != NULL && k->server == node) {
            k->dead = true;
            k->server_open = false;
            k->broken = false;
            if (k->client_open) {
                k->client_open = false;
                push_control(k->client, SIM_EV_CONN_CLOSED, node, k->id, w->latency_s);
            }
        }
    }
}

/* ---- pumps ---- */

static void pump_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sg_mailbox_t mb = sg_actor_self_get_data();
    sg_mailbox_set_receiver(sg_mailbox_get_name(mb));
    for (;;) {
        void *payload = NULL;
        sg_comm_t c = sg_mailbox_get_async(mb, &payload);
        if (sg_comm_wait(c) != SG_OK || payload == NULL) {
            continue;
        }
        sim_net_arrive(payload);
    }
}

static void start_pump(struct sim_node *host_node, sg_mailbox_t mb, const char *name)
{
    sg_actor_t a = sg_actor_init(name, host_node->host);
    sg_actor_set_data(a, mb);
    sg_actor_start_(a, pump_actor, 0, NULL);
    sg_actor_daemonize(a);
}

void sim_net_init(void)
{
    struct sim_world *w = sim_w;
    node_mb = calloc(w->node_count + 1, sizeof *node_mb);
    if (node_mb == NULL) {
        fprintf(stderr, "coordsim: out of memory\n");
        exit(3);
    }
    for (uint32_t a = 1; a <= w->servers; a++) {
        for (uint32_t b = 1; b <= w->servers; b++) {
            pair_down_since[a][b] = -INFINITY;
            w->pairs[a][b].state = SIM_LINK_DOWN;
        }
    }
}

void sim_net_start_pumps(void)
{
    struct sim_world *w = sim_w;
    char name[64];
    for (uint32_t to = 1; to <= w->servers; to++) {
        for (uint32_t from = 1; from <= w->servers; from++) {
            if (from == to) {
                continue;
            }
            snprintf(name, sizeof name, "s%u.p%u", to, from);
            peer_mb[to][from] = sg_mailbox_by_name(name);
            start_pump(&w->nodes[to], peer_mb[to][from], name);
        }
    }
    for (uint32_t i = 1; i <= w->node_count; i++) {
        snprintf(name, sizeof name, "%s.in", w->nodes[i].name);
        node_mb[i] = sg_mailbox_by_name(name);
        start_pump(&w->nodes[i], node_mb[i], name);
    }
}

void sim_net_free(void);
void sim_net_free(void)
{
    free(node_mb);
    node_mb = NULL;
    free(broken_conns);
    broken_conns = NULL;
    broken_count = broken_cap = 0;
}
