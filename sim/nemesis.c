/* coordsim's nemesis and controller: the one actor that fires the scenario's
 * faults at their simulated times (and undoes them after their duration),
 * draws the random nemesis' faults from the seed, and does the transport's
 * periodic work (reporting broken connections, reconnecting server pairs).
 * It never sends a message itself: it changes the world's state and wakes the
 * nodes concerned, so every message still leaves from its own host. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <simgrid/engine.h>

#include "sim.h"

#define SIM_TICK_S 0.1

/* One thing to do at a time: a fault, or the undoing of one. */
struct action
{
    double at;
    size_t order;
    const struct sim_fault *fault;
    bool undo;
    bool settle;       /* The random nemesis' end: everything back to normal. */
    uint32_t resolved; /* Undo: the servers the fault was applied to. */
    bool clients;
    size_t active; /* Undo: its open interval in `open` + 1, or 0. */
};

static struct action *actions;
static size_t action_count, action_cap;
static struct sim_fault *drawn; /* The random nemesis' faults. */
static size_t drawn_count;

/* Open fault intervals, for plot/faults.dat. */
struct open_fault
{
    double start;
    enum sim_fault_kind kind;
    uint32_t servers;
    bool clients;
    bool closed;
};
static struct open_fault *open;
static size_t open_count, open_cap;

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (q == NULL) {
        fprintf(stderr, "coordsim: out of memory\n");
        exit(3);
    }
    return q;
}

static void action_add(struct action a)
{
    if (action_count == action_cap) {
        action_cap = action_cap ? action_cap * 2 : 64;
        actions = xrealloc(actions, action_cap * sizeof *actions);
    }
    a.order = action_count;
    actions[action_count++] = a;
}

static int action_cmp(const void *x, const void *y)
{
    const struct action *a = x, *b = y;
    if (a->at != b->at) {
        return a->at < b->at ? -1 : 1;
    }
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Keep the undo actions in time order among the rest (they are added late). */
static void actions_insert_sorted(struct action a)
{
    action_add(a);
    size_t i = action_count - 1;
    while (i > 0 && action_cmp(&actions[i - 1], &actions[i]) > 0) {
        struct action t = actions[i - 1];
        actions[i - 1] = actions[i];
        actions[i] = t;
        i--;
    }
}

/* ---- node sets ---- */

static uint32_t all_servers(void)
{
    uint32_t m = 0;
    for (uint32_t i = 1; i <= sim_w->servers; i++) {
        m |= 1u << i;
    }
    return m;
}

/* The servers a node set names now (leader and follower resolved). */
static uint32_t resolve(const struct sim_nodes *ns)
{
    uint32_t m = ns->servers & all_servers();
    uint32_t leader = sim_current_leader();
    if (ns->leader && leader != 0) {
        m |= 1u << leader;
    }
    if (ns->follower) {
        uint32_t cand[SIM_SERVERS_MAX];
        size_t k = 0;
        for (uint32_t i = 1; i <= sim_w->servers; i++) {
            if (i != leader && !sim_w->nodes[i].crashed) {
                cand[k++] = i;
            }
        }
        if (k > 0) {
            m |= 1u << cand[coord_rng_below(&sim_w->rng, k)];
        }
    }
    return m;
}

static void mask_text(uint32_t m, bool clients, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (uint32_t i = 1; i <= sim_w->servers && at + 8 < len; i++) {
        if (m & (1u << i)) {
            at += (size_t)snprintf(buf + at, len - at, "%ss%u", at ? "," : "", i);
        }
    }
    if (clients && at + 10 < len) {
        at += (size_t)snprintf(buf + at, len - at, "%sclients", at ? "," : "");
    }
    if (at == 0) {
        snprintf(buf, len, "none");
    }
}

/* ---- cuts ---- */

static void cut_both(uint32_t a, uint32_t b)
{
    sim_w->cut_ss[a][b] = sim_w->cut_ss[b][a] = true;
}

/* Servers in different groups cannot talk; servers named in no group form
 * one more group. Clients, when a group names them, reach only that group's
 * servers; otherwise they are not part of the partition. */
static void cut_groups(const uint32_t *groups, const bool *with_clients, size_t count)
{
    uint32_t listed = 0;
    for (size_t g = 0; g < count; g++) {
        listed |= groups[g];
    }
    for (uint32_t a = 1; a <= sim_w->servers; a++) {
        for (uint32_t b = a + 1; b <= sim_w->servers; b++) {
            int ga = -1, gb = -1;
            for (size_t g = 0; g < count; g++) {
                if (groups[g] & (1u << a)) {
                    ga = (int)g;
                }
                if (groups[g] & (1u << b)) {
                    gb = (int)g;
                }
            }
            if (ga != gb) {
                cut_both(a, b);
            }
        }
    }
    (void)listed;
    for (size_t g = 0; g < count; g++) {
        if (!with_clients[g]) {
            continue;
        }
        for (uint32_t s = 1; s <= sim_w->servers; s++) {
            if (!(groups[g] & (1u << s))) {
                sim_w->cut_c2s[s] = sim_w->cut_s2c[s] = true;
            }
        }
    }
}

static void apply_partition(const struct sim_fault *f, uint32_t *resolved)
{
    uint32_t groups[SIM_GROUPS_MAX + 1];
    bool clients[SIM_GROUPS_MAX + 1];
    size_t count = 0;
    uint32_t all = all_servers();
    switch (f->kind) {
        case SIM_FAULT_PARTITION:
            for (size_t g = 0; g < f->group_count; g++) {
                groups[count] = resolve(&f->groups[g]);
                clients[count++] = f->groups[g].all_clients;
                *resolved |= groups[count - 1];
            }
            break;
        case SIM_FAULT_ISOLATE:
            groups[0] = resolve(&f->nodes);
            clients[0] = f->nodes.all_clients;
            groups[1] = all & ~groups[0];
            clients[1] = false;
            count = 2;
            *resolved = groups[0];
            if (groups[0] == 0 && clients[0]) {
                /* Only the clients: cut from every server. */
                for (uint32_t s = 1; s <= sim_w->servers; s++) {
                    sim_w->cut_c2s[s] = sim_w->cut_s2c[s] = true;
                }
                return;
            }
            break;
        case SIM_FAULT_BRIDGE: {
            uint32_t bridge = resolve(&f->nodes);
            uint32_t from = resolve(&f->from) & ~bridge;
            uint32_t to = resolve(&f->to) & ~bridge;
            if (from == 0 && to == 0) {
                /* The other servers, split in two by id order. */
                uint32_t others = all & ~bridge;
                unsigned n = (unsigned)__builtin_popcount(others), k = 0;
                for (uint32_t s = 1; s <= sim_w->servers; s++) {
                    if (others & (1u << s)) {
                        if (k++ < n / 2) {
                            from |= 1u << s;
                        } else {
                            to |= 1u << s;
                        }
                    }
                }
            }
            for (uint32_t a = 1; a <= sim_w->servers; a++) {
                for (uint32_t b = 1; b <= sim_w->servers; b++) {
                    if ((from & (1u << a)) && (to & (1u << b))) {
                        cut_both(a, b);
                    }
                }
            }
            *resolved = bridge;
            return;
        }
        case SIM_FAULT_RING:
            for (uint32_t a = 1; a <= sim_w->servers; a++) {
                for (uint32_t b = a + 1; b <= sim_w->servers; b++) {
                    uint32_t d = b - a;
                    if (d != 1 && d != sim_w->servers - 1) {
                        cut_both(a, b);
                    }
                }
            }
            *resolved = all;
            return;
        case SIM_FAULT_ONE_WAY: {
            uint32_t from = resolve(&f->from), to = resolve(&f->to);
            for (uint32_t a = 1; a <= sim_w->servers; a++) {
                for (uint32_t b = 1; b <= sim_w->servers; b++) {
                    if (a != b && (from & (1u << a)) && (to & (1u << b))) {
                        sim_w->cut_ss[a][b] = true;
                    }
                }
                if (f->from.all_clients && (to & (1u << a))) {
                    sim_w->cut_c2s[a] = true;
                }
                if (f->to.all_clients && (from & (1u << a))) {
                    sim_w->cut_s2c[a] = true;
                }
            }
            *resolved = from | to;
            return;
        }
        default:
            return;
    }
    cut_groups(groups, clients, count);
}

/* ---- applying ---- */

static bool is_cut_kind(enum sim_fault_kind k)
{
    return k == SIM_FAULT_PARTITION || k == SIM_FAULT_ISOLATE || k == SIM_FAULT_BRIDGE ||
           k == SIM_FAULT_RING || k == SIM_FAULT_ONE_WAY;
}

static bool is_interval_kind(enum sim_fault_kind k)
{
    return is_cut_kind(k) || k == SIM_FAULT_CRASH || k == SIM_FAULT_PAUSE || k == SIM_FAULT_DELAY ||
           k == SIM_FAULT_BANDWIDTH || k == SIM_FAULT_SLOW_DISK || k == SIM_FAULT_DRIFT;
}

static void faults_dat_row(double start,
                           double end,
                           enum sim_fault_kind kind,
                           uint32_t servers,
                           bool clients)
{
    if (sim_w->faults_dat == NULL) {
        return;
    }
    char nodes[128];
    mask_text(servers, clients, nodes, sizeof nodes);
    fprintf(sim_w->faults_dat, "%.6f %.6f %s %s\n", start, end, sim_fault_kind_name(kind), nodes);
}

static size_t open_add(enum sim_fault_kind kind, uint32_t servers, bool clients)
{
    if (open_count == open_cap) {
        open_cap = open_cap ? open_cap * 2 : 32;
        open = xrealloc(open, open_cap * sizeof *open);
    }
    open[open_count] = (struct open_fault){sim_now(), kind, servers, clients, false};
    return ++open_count;
}

static void open_close(size_t i)
{
    if (i == 0 || open[i - 1].closed) {
        return;
    }
    struct open_fault *o = &open[i - 1];
    o->closed = true;
    faults_dat_row(o->start, sim_now(), o->kind, o->servers, o->clients);
}

/* Close the open intervals an explicit fault ends (heal ends every cut,
 * restart a crash of those servers, and so on). */
static void open_close_matching(enum sim_fault_kind kind, uint32_t servers)
{
    for (size_t i = 0; i < open_count; i++) {
        struct open_fault *o = &open[i];
        if (o->closed) {
            continue;
        }
        bool match = false;
        switch (kind) {
            case SIM_FAULT_HEAL:
                match = is_cut_kind(o->kind);
                break;
            case SIM_FAULT_RESTART:
                match = o->kind == SIM_FAULT_CRASH && (o->servers & servers) != 0;
                break;
            case SIM_FAULT_RESUME:
                match = o->kind == SIM_FAULT_PAUSE && (o->servers & servers) != 0;
                break;
            default:
                match = o->kind == kind && (o->servers & servers) != 0;
                break;
        }
        if (match) {
            open_close(i + 1);
        }
    }
}

static void for_nodes(uint32_t servers,
                      bool clients,
                      void (*fn)(struct sim_node *, const void *),
                      const void *arg)
{
    for (uint32_t i = 1; i <= sim_w->servers; i++) {
        if (servers & (1u << i)) {
            fn(&sim_w->nodes[i], arg);
        }
    }
    if (clients) {
        for (uint32_t i = sim_w->servers + 1; i <= sim_w->node_count; i++) {
            fn(&sim_w->nodes[i], arg);
        }
    }
}

static void do_crash(struct sim_node *n, const void *arg)
{
    (void)arg;
    /* The node's own actor crashes it (it may be inside a step right now,
     * waiting on a SimGrid call): at this same simulated time. */
    if (n->kind == SIM_NODE_SERVER && !n->crashed) {
        n->crash_pending = true;
        n->restart_pending = false;
        sim_node_kick(n, sim_now());
    }
}

static void do_restart(struct sim_node *n, const void *arg)
{
    (void)arg;
    if (n->kind == SIM_NODE_SERVER && (n->crashed || n->crash_pending)) {
        n->restart_pending = true;
        sim_node_kick(n, sim_now());
    }
}

static void do_pause(struct sim_node *n, const void *arg)
{
    bool pause = *(const bool *)arg;
    if (n->crashed || n->paused == pause) {
        return;
    }
    if (n->kind == SIM_NODE_SERVER) {
        /* The segment that ends is drawn as it was: before the flag changes. */
        sim_role_segment(n, n->role.role, n->role.epoch);
    }
    n->paused = pause;
    sim_node_kick(n, sim_now());
}

struct delay_arg
{
    double delay_ms, jitter_ms;
};

static void do_delay(struct sim_node *n, const void *arg)
{
    const struct delay_arg *d = arg;
    n->delay_ms = d->delay_ms;
    n->jitter_ms = d->jitter_ms;
}

static void do_bandwidth(struct sim_node *n, const void *arg)
{
    n->bandwidth_mbps = *(const double *)arg;
}

static void do_slow_disk(struct sim_node *n, const void *arg)
{
    if (n->kind == SIM_NODE_SERVER) {
        n->disk.sync_ms = *(const double *)arg;
    }
}

static void do_drift(struct sim_node *n, const void *arg)
{
    sim_set_drift(n, *(const double *)arg);
}

static void do_jump(struct sim_node *n, const void *arg)
{
    sim_clock_jump(n, *(const double *)arg);
}

static void do_reset(struct sim_node *n, const void *arg)
{
    (void)arg;
    sim_net_reset_node(n->index);
}

/* Faults that name no nodes apply to every server. */
static uint32_t targets(const struct sim_fault *f, bool *clients)
{
    *clients = f->nodes.all_clients;
    uint32_t m = resolve(&f->nodes);
    if (m == 0 && !f->nodes.all_clients && !f->nodes.leader && !f->nodes.follower &&
        (f->kind == SIM_FAULT_DELAY || f->kind == SIM_FAULT_RESET ||
         f->kind == SIM_FAULT_BANDWIDTH || f->kind == SIM_FAULT_SLOW_DISK)) {
        m = all_servers();
    }
    return m;
}

static void trace_fault(const struct sim_fault *f, bool undo, uint32_t servers, bool clients)
{
    char nodes[128], text[256];
    mask_text(servers, clients, nodes, sizeof nodes);
    sim_fault_describe(f, text, sizeof text);
    sim_trace_json(
        "{\"t\":%.6f,\"kind\":\"fault\",\"fault\":\"%s\",\"undo\":%s,\"nodes\":\"%s\","
        "\"text\":\"%s\"}",
        sim_now(), sim_fault_kind_name(f->kind), undo ? "true" : "false", nodes, text);
}

static void settle_all(void)
{
    sim_net_heal();
    open_close_matching(SIM_FAULT_HEAL, 0);
    bool resume = false;
    double zero = 0, one = 1, sync_ms = sim_w->sc->disk_sync_ms;
    struct delay_arg nodelay = {0, 0};
    uint32_t all = all_servers();
    for_nodes(all, true, do_pause, &resume);
    for_nodes(all, true, do_delay, &nodelay);
    for_nodes(all, true, do_bandwidth, &zero);
    for_nodes(all, false, do_slow_disk, &sync_ms);
    for_nodes(all, true, do_drift, &one);
    for_nodes(all, false, do_restart, NULL);
    for (size_t i = 0; i < open_count; i++) {
        open_close(i + 1);
    }
    sim_trace_json(
        "{\"t\":%.6f,\"kind\":\"fault\",\"fault\":\"settle\",\"undo\":true,"
        "\"nodes\":\"all\",\"text\":\"nemesis stops: everything healed, restarted, "
        "resumed\"}",
        sim_now());
}

static void fire(struct action *a)
{
    if (a->settle) {
        settle_all();
        return;
    }
    const struct sim_fault *f = a->fault;
    bool clients = false;
    uint32_t servers = 0;
    if (a->undo) {
        servers = a->resolved;
        clients = a->clients;
    } else if (!is_cut_kind(f->kind)) {
        servers = targets(f, &clients);
    }
    if (!a->undo && (f->nodes.leader || f->nodes.follower) && servers == 0 && !clients &&
        !is_cut_kind(f->kind)) {
        sim_trace_json(
            "{\"t\":%.6f,\"kind\":\"fault\",\"fault\":\"%s\",\"skipped\":\"no such "
            "server now\"}",
            sim_now(), sim_fault_kind_name(f->kind));
        return;
    }
    double value;
    bool flag;
    struct delay_arg delay;
    switch (f->kind) {
        case SIM_FAULT_PARTITION:
        case SIM_FAULT_ISOLATE:
        case SIM_FAULT_BRIDGE:
        case SIM_FAULT_RING:
        case SIM_FAULT_ONE_WAY:
            if (a->undo) {
                sim_net_heal();
                open_close_matching(SIM_FAULT_HEAL, 0);
            } else {
                apply_partition(f, &servers);
                clients = f->nodes.all_clients;
                sim_net_cuts_changed(f->reject);
            }
            break;
        case SIM_FAULT_HEAL:
            sim_net_heal();
            open_close_matching(SIM_FAULT_HEAL, 0);
            break;
        case SIM_FAULT_CRASH:
            for_nodes(servers, false, a->undo ? do_restart : do_crash, NULL);
            break;
        case SIM_FAULT_RESTART:
            for_nodes(servers, false, do_restart, NULL);
            open_close_matching(SIM_FAULT_RESTART, servers);
            break;
        case SIM_FAULT_PAUSE:
        case SIM_FAULT_RESUME:
            flag = f->kind == SIM_FAULT_PAUSE && !a->undo;
            for_nodes(servers, clients, do_pause, &flag);
            if (!flag) {
                open_close_matching(SIM_FAULT_RESUME, servers);
            }
            break;
        case SIM_FAULT_DELAY:
            delay.delay_ms = a->undo ? 0 : f->delay_ms;
            delay.jitter_ms = a->undo ? 0 : f->jitter_ms;
            for_nodes(servers, clients, do_delay, &delay);
            break;
        case SIM_FAULT_RESET:
            for_nodes(servers, clients, do_reset, NULL);
            break;
        case SIM_FAULT_BANDWIDTH:
            value = a->undo ? 0 : f->bandwidth_mbps;
            for_nodes(servers, clients, do_bandwidth, &value);
            break;
        case SIM_FAULT_SLOW_DISK:
            value = a->undo ? sim_w->sc->disk_sync_ms : f->disk_sync_ms;
            for_nodes(servers, false, do_slow_disk, &value);
            break;
        case SIM_FAULT_DRIFT:
            value = a->undo ? 1.0 : 1.0 + (double)f->drift_ppm / 1e6;
            for_nodes(servers, clients, do_drift, &value);
            break;
        case SIM_FAULT_CLOCK_JUMP:
            value = a->undo ? -(double)f->jump_ms : (double)f->jump_ms;
            for_nodes(servers, clients, do_jump, &value);
            break;
    }
    trace_fault(f, a->undo, servers, clients);
    if (a->undo) {
        open_close(a->active);
        return;
    }
    size_t active = 0;
    bool ends_something = (f->kind == SIM_FAULT_DELAY && f->delay_ms == 0 && f->jitter_ms == 0) ||
                          (f->kind == SIM_FAULT_DRIFT && f->drift_ppm == 0);
    if (ends_something) {
        open_close_matching(f->kind, servers);
    } else if (is_interval_kind(f->kind)) {
        if (f->kind == SIM_FAULT_DELAY || f->kind == SIM_FAULT_DRIFT) {
            open_close_matching(f->kind, servers); /* A new value replaces the old. */
        }
        active = open_add(f->kind, servers, clients);
    } else if (f->kind != SIM_FAULT_HEAL && f->kind != SIM_FAULT_RESTART &&
               f->kind != SIM_FAULT_RESUME) {
        faults_dat_row(sim_now(), sim_now(), f->kind, servers, clients);
    }
    if (f->duration_s > 0) {
        struct action u = {0};
        u.at = sim_now() + f->duration_s;
        u.fault = f;
        u.undo = true;
        u.resolved = servers;
        u.clients = clients;
        u.active = active;
        actions_insert_sorted(u);
    }
}

/* ---- the random nemesis ---- */

static double exp_draw(double mean)
{
    double u = ((double)coord_rng_below(&sim_w->rng, 1000000) + 0.5) / 1e6;
    return -log(u) * mean;
}

static void draw_faults(void)
{
    const struct sim_nemesis *nm = &sim_w->sc->nemesis;
    if (!nm->enabled) {
        return;
    }
    enum sim_fault_kind kinds[32];
    size_t kind_count = 0;
    for (int k = SIM_FAULT_PARTITION; k <= SIM_FAULT_CLOCK_JUMP; k++) {
        if ((nm->kinds & (1u << k)) && k != SIM_FAULT_HEAL && k != SIM_FAULT_RESTART &&
            k != SIM_FAULT_RESUME) {
            kinds[kind_count++] = (enum sim_fault_kind)k;
        }
    }
    if (kind_count == 0) {
        return;
    }
    double stop = nm->stop_s > 0 ? nm->stop_s : sim_w->duration_s - nm->settle_s;
    size_t cap = 0;
    double t = nm->start_s;
    struct coord_rng *r = &sim_w->rng;
    uint32_t n = sim_w->servers;
    for (;;) {
        t += exp_draw(nm->interval_s > 0 ? nm->interval_s : 10);
        if (t >= stop) {
            break;
        }
        if (drawn_count == cap) {
            cap = cap ? cap * 2 : 32;
            drawn = xrealloc(drawn, cap * sizeof *drawn);
        }
        struct sim_fault *f = &drawn[drawn_count++];
        memset(f, 0, sizeof *f);
        f->at_s = t;
        f->kind = kinds[coord_rng_below(r, kind_count)];
        f->duration_s = fmin(exp_draw(nm->duration_s > 0 ? nm->duration_s : 5), stop - t);
        if (f->duration_s < 0.001) {
            f->duration_s = 0.001;
        }
        bool leader = coord_rng_below(r, 2) == 0;
        uint32_t one = 1u << (1 + coord_rng_below(r, n));
        switch (f->kind) {
            case SIM_FAULT_PARTITION: {
                /* A random split into two non-empty halves. */
                uint32_t a = 0;
                while (a == 0 || a == all_servers()) {
                    a = (uint32_t)coord_rng_next(r) & all_servers();
                }
                f->groups[0].servers = a;
                f->groups[1].servers = all_servers() & ~a;
                f->group_count = 2;
                break;
            }
            case SIM_FAULT_BRIDGE:
            case SIM_FAULT_ISOLATE:
            case SIM_FAULT_CRASH:
            case SIM_FAULT_PAUSE:
            case SIM_FAULT_RESET:
            case SIM_FAULT_SLOW_DISK:
            case SIM_FAULT_DRIFT:
            case SIM_FAULT_CLOCK_JUMP:
            case SIM_FAULT_DELAY:
            case SIM_FAULT_BANDWIDTH:
                if (leader) {
                    f->nodes.leader = true;
                } else {
                    f->nodes.servers = one;
                }
                break;
            case SIM_FAULT_ONE_WAY:
                f->from.leader = true;
                f->to.servers = all_servers();
                break;
            default:
                break;
        }
        f->delay_ms = 50 + (double)coord_rng_below(r, 950);
        f->jitter_ms = f->delay_ms / 2;
        f->bandwidth_mbps = 1;
        f->disk_sync_ms = 50 + (double)coord_rng_below(r, 450);
        f->drift_ppm = (int64_t)coord_rng_below(r, 1000001) - 500000; /* -50% .. +50% */
        f->jump_ms = (int64_t)coord_rng_below(r, 60001) - 30000;      /* -30 s .. +30 s */
        f->line = 0;
    }
    for (size_t i = 0; i < drawn_count; i++) {
        struct action a = {0};
        a.at = drawn[i].at_s;
        a.fault = &drawn[i];
        action_add(a);
    }
    struct action s = {0};
    s.at = stop;
    s.settle = true;
    action_add(s);
}

/* ---- the controller actor ---- */

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sim_controller_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct sim_scenario *sc = sim_w->sc;
    for (size_t i = 0; i < sc->fault_count; i++) {
        struct action a = {0};
        a.at = sc->faults[i].at_s;
        a.fault = &sc->faults[i];
        action_add(a);
    }
    draw_faults();
    if (action_count > 1) {
        qsort(actions, action_count, sizeof *actions, action_cmp);
    }
    bool tty = isatty(2);
    double wall0 = wall_seconds(), last_print = wall0;
    size_t next = 0;
    for (;;) {
        double now = sim_now();
        while (next < action_count && actions[next].at <= now) {
            struct action a = actions[next++];
            fire(&a);
        }
        sim_net_tick();
        if (tty) {
            double wall = wall_seconds();
            if (wall - last_print >= 0.5) {
                last_print = wall;
                fprintf(stderr, "\r  %s: %.0f / %.0f simulated s, %zu ops, %.1f wall s   ",
                        sc->name, now, sim_w->duration_s, sim_w->op_count, wall - wall0);
            }
        }
        if (now >= sim_w->end_s || sim_w->done) {
            break;
        }
        double t = fmin(now + SIM_TICK_S, sim_w->end_s);
        if (next < action_count && actions[next].at < t) {
            t = actions[next].at;
        }
        sg_actor_sleep_until(t);
    }
    if (tty) {
        fprintf(stderr, "\r%*s\r", 78, "");
    }
    for (size_t i = 0; i < open_count; i++) {
        open_close(i + 1);
    }
    sim_w->done = true;
}

void sim_nemesis_free(void);
void sim_nemesis_free(void)
{
    free(actions);
    free(drawn);
    free(open);
    actions = NULL;
    drawn = NULL;
    open = NULL;
    action_count = action_cap = drawn_count = open_count = open_cap = 0;
}

void sim_fault_describe(const struct sim_fault *f, char *buf, size_t len)
{
    switch (f->kind) {
        case SIM_FAULT_DELAY:
            snprintf(buf, len, "delay %.0f ms, jitter %.0f ms", f->delay_ms, f->jitter_ms);
            break;
        case SIM_FAULT_BANDWIDTH:
            snprintf(buf, len, "bandwidth %.3f Mbit/s", f->bandwidth_mbps);
            break;
        case SIM_FAULT_SLOW_DISK:
            snprintf(buf, len, "disk sync %.0f ms", f->disk_sync_ms);
            break;
        case SIM_FAULT_DRIFT:
            snprintf(buf, len, "clock rate %+.1f%%", (double)f->drift_ppm / 1e4);
            break;
        case SIM_FAULT_CLOCK_JUMP:
            snprintf(buf, len, "clock jumps %+" PRId64 " ms", f->jump_ms);
            break;
        default:
            snprintf(buf, len, "%s%s", sim_fault_kind_name(f->kind),
                     f->reject ? " (reject: connections reset)" : "");
            break;
    }
}
