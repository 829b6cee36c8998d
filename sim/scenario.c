/* Loading a coordsim scenario: YAML (libfyaml) into struct sim_scenario,
 * with --set overrides applied to the document first, so every value is
 * checked the same way wherever it came from. The schema is documented in
 * docs/scenarios.md; this file is its one implementation.
 *
 * Errors name the place: "FILE:LINE:COLUMN: what is wrong" for the file,
 * "--set KEY=VALUE: what is wrong" for an override. libfyaml's document API
 * only keeps positions for scalars, so an error about a mapping or a sequence
 * points at its first element, or at the key that holds it. */
#define _POSIX_C_SOURCE 200809L
#include "scenario.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCENARIO_FILE_MAX (4u << 20) /* Larger files are refused, not read. */
#define PARSE_SECONDS_MAX 10         /* A parse that takes longer is given up. */
#define SETS_MAX 256

struct loader
{
    const char *path;
    char *err;
    size_t err_len;
    bool failed;
    struct fy_document *doc;
    struct fy_diag *diag;
    /* Nodes made by --set (values, and keys and mappings created on the way),
     * with the assignment each came from. */
    struct fy_node *set_nodes[SETS_MAX * 4];
    const char *set_text[SETS_MAX * 4];
    size_t set_count;
    struct sim_scenario *sc;
};

/* ---- errors ---- */

static const char *set_origin(const struct loader *ld, struct fy_node *n)
{
    for (struct fy_node *p = n; p != NULL; p = fy_node_get_parent(p)) {
        for (size_t i = 0; i < ld->set_count; i++) {
            if (ld->set_nodes[i] == p) {
                return ld->set_text[i];
            }
        }
    }
    return NULL;
}

/* The position of a node: its own for a scalar, else its first element's. */
static bool node_mark(struct fy_node *n, int *line, int *col)
{
    for (int depth = 0; n != NULL && depth < 64; depth++) {
        if (fy_node_is_scalar(n)) {
            struct fy_token *t = fy_node_get_scalar_token(n);
            const struct fy_mark *m = t != NULL ? fy_token_start_mark(t) : NULL;
            if (m == NULL) {
                return false;
            }
            *line = m->line + 1;
            *col = m->column + 1;
            return true;
        }
        void *it = NULL;
        if (fy_node_is_mapping(n)) {
            struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
            n = p != NULL ? fy_node_pair_key(p) : NULL;
        } else if (fy_node_is_sequence(n)) {
            n = fy_node_sequence_iterate(n, &it);
        } else {
            return false;
        }
    }
    return false;
}

/* Report at `at` (or, when it has no position, at `fallback`). */
__attribute__((format(printf, 4, 5))) static int fail(struct loader *ld,
                                                      struct fy_node *at,
                                                      struct fy_node *fallback,
                                                      const char *fmt,
                                                      ...)
{
    if (ld->failed) {
        return -1;
    }
    ld->failed = true;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *origin = at != NULL ? set_origin(ld, at) : NULL;
    if (origin == NULL && fallback != NULL) {
        origin = set_origin(ld, fallback);
    }
    int line = 0, col = 0;
    if (origin != NULL) {
        snprintf(ld->err, ld->err_len, "--set %s: %s", origin, msg);
    } else if (node_mark(at, &line, &col) || node_mark(fallback, &line, &col)) {
        snprintf(ld->err, ld->err_len, "%s:%d:%d: %s", ld->path, line, col, msg);
    } else {
        snprintf(ld->err, ld->err_len, "%s: %s", ld->path, msg);
    }
    return -1;
}

/* ---- scalars ---- */

static const char *key_text(struct fy_node *key, char *buf, size_t cap)
{
    size_t len = 0;
    const char *s = key != NULL && fy_node_is_scalar(key) ? fy_node_get_scalar(key, &len) : NULL;
    if (s == NULL) {
        snprintf(buf, cap, "?");
    } else {
        snprintf(buf, cap, "%.*s", (int)(len < cap - 1 ? len : cap - 1), s);
    }
    return buf;
}

/* A plain (unquoted) scalar's text, NUL-terminated in buf; NULL if `v` is not one. */
static const char *plain(struct fy_node *v, char *buf, size_t cap)
{
    if (v == NULL || !fy_node_is_scalar(v) || fy_node_get_style(v) != FYNS_PLAIN) {
        return NULL;
    }
    size_t len = 0;
    const char *s = fy_node_get_scalar(v, &len);
    if (s == NULL || len == 0 || len >= cap) {
        return NULL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

static const char *what(struct fy_node *v)
{
    if (v == NULL || fy_node_is_null(v)) {
        return "nothing";
    }
    if (fy_node_is_mapping(v)) {
        return "a mapping";
    }
    if (fy_node_is_sequence(v)) {
        return "a list";
    }
    return fy_node_get_style(v) == FYNS_PLAIN ? "a word" : "a quoted string";
}

static int get_bool(struct loader *ld, struct fy_node *key, struct fy_node *v, bool *out)
{
    char buf[16], k[64];
    const char *s = plain(v, buf, sizeof buf);
    if (s != NULL && strcmp(s, "true") == 0) {
        *out = true;
        return 0;
    }
    if (s != NULL && strcmp(s, "false") == 0) {
        *out = false;
        return 0;
    }
    return fail(ld, v, key, "%s: expected true or false, got %s", key_text(key, k, sizeof k),
                s != NULL ? s : what(v));
}

static int get_int(struct loader *ld,
                   struct fy_node *key,
                   struct fy_node *v,
                   long long min,
                   long long max,
                   long long *out)
{
    char buf[64], k[64];
    key_text(key, k, sizeof k);
    const char *s = plain(v, buf, sizeof buf);
    if (s == NULL) {
        return fail(ld, v, key, "%s: expected an integer, got %s", k, what(v));
    }
    char *end = NULL;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end != '\0') {
        (void)strtod(s, &end);
        if (end != s && *end == '\0') {
            return fail(ld, v, key, "%s: expected an integer, got %s", k, s);
        }
        return fail(ld, v, key, "%s: expected an integer, got '%s'", k, s);
    }
    if (errno == ERANGE || x < min || x > max) {
        return fail(ld, v, key, "%s: %s is out of range (%lld to %lld)", k, s, min, max);
    }
    *out = x;
    return 0;
}

static int get_u64(struct loader *ld, struct fy_node *key, struct fy_node *v, uint64_t *out)
{
    char buf[64], k[64];
    key_text(key, k, sizeof k);
    const char *s = plain(v, buf, sizeof buf);
    if (s == NULL || s[0] == '-' || s[0] == '+') {
        return fail(ld, v, key, "%s: expected a non-negative integer, got %s", k,
                    s != NULL ? s : what(v));
    }
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) {
        return fail(ld, v, key, "%s: expected a non-negative 64-bit integer, got '%s'", k, s);
    }
    *out = x;
    return 0;
}

/* A number in [min, max] (min excluded when `open_min`). */
static int get_num(struct loader *ld,
                   struct fy_node *key,
                   struct fy_node *v,
                   double min,
                   bool open_min,
                   double max,
                   double *out)
{
    char buf[64], k[64];
    key_text(key, k, sizeof k);
    const char *s = plain(v, buf, sizeof buf);
    if (s == NULL) {
        return fail(ld, v, key, "%s: expected a number, got %s", k, what(v));
    }
    char *end = NULL;
    double x = strtod(s, &end);
    if (end == s || *end != '\0' || strchr(s, 'x') != NULL || strchr(s, 'X') != NULL) {
        return fail(ld, v, key, "%s: expected a number, got '%s'", k, s);
    }
    if (!isfinite(x)) {
        return fail(ld, v, key, "%s: %s is not a finite number", k, s);
    }
    if (x < min || (open_min && x == min) || x > max) {
        return fail(ld, v, key, "%s: %s is out of range (%s%g to %g)", k, s,
                    open_min ? "above " : "", min, max);
    }
    *out = x;
    return 0;
}

static int get_text(struct loader *ld,
                    struct fy_node *key,
                    struct fy_node *v,
                    char *out,
                    size_t cap)
{
    char k[64];
    key_text(key, k, sizeof k);
    if (v == NULL || !fy_node_is_scalar(v)) {
        return fail(ld, v, key, "%s: expected text, got %s", k, what(v));
    }
    size_t len = 0;
    const char *s = fy_node_get_scalar(v, &len);
    if (s == NULL || len >= cap) {
        return fail(ld, v, key, "%s: too long (at most %zu characters)", k, cap - 1);
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* ---- mappings ---- */

/* Iterate over a mapping whose keys must be among `allowed` (NULL-ended). */
struct map_it
{
    void *it;
    struct fy_node *map;
};

static int check_keys(struct loader *ld,
                      struct fy_node *map,
                      struct fy_node *holder,
                      const char *where,
                      const char *const *allowed)
{
    char k[64];
    if (map == NULL || !fy_node_is_mapping(map)) {
        return fail(ld, map, holder, "%s: expected a mapping, got %s", where, what(map));
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *key = fy_node_pair_key(p);
        if (key == NULL || !fy_node_is_scalar(key)) {
            return fail(ld, key, map, "%s: keys must be words", where);
        }
        key_text(key, k, sizeof k);
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++) {
            known = strcmp(allowed[i], k) == 0;
        }
        if (!known) {
            char list[512];
            size_t at = 0;
            list[0] = '\0';
            for (size_t i = 0; allowed[i] != NULL && at < sizeof list; i++) {
                at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "",
                                       allowed[i]);
            }
            return fail(ld, key, map, "unknown key '%s' in %s (allowed: %s)", k, where, list);
        }
    }
    return 0;
}

/* The value of `name` in `map`, with its key node in *key_out (NULL if absent). */
static struct fy_node *lookup(struct fy_node *map, const char *name, struct fy_node **key_out)
{
    *key_out = NULL;
    void *it = NULL;
    struct fy_node_pair *p;
    char k[64];
    while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
        if (strcmp(key_text(fy_node_pair_key(p), k, sizeof k), name) == 0) {
            *key_out = fy_node_pair_key(p);
            return fy_node_pair_value(p);
        }
    }
    return NULL;
}

#define HAS(map, name) ((v = lookup((map), (name), &key)) != NULL || key != NULL)

/* ---- node sets ---- */

static int node_word(struct loader *ld,
                     struct fy_node *key,
                     struct fy_node *v,
                     struct sim_nodes *out,
                     bool allow_all)
{
    char buf[32], k[64];
    const char *s = plain(v, buf, sizeof buf);
    unsigned total = ld->sc->servers + ld->sc->observers;
    key_text(key, k, sizeof k);
    if (s == NULL) {
        return fail(ld, v, key,
                    "%s: expected a server id, 'leader', 'follower', 'clients'%s, got %s", k,
                    allow_all ? " or 'all'" : "", what(v));
    }
    if (strcmp(s, "leader") == 0) {
        out->leader = true;
    } else if (strcmp(s, "follower") == 0) {
        out->follower = true;
    } else if (strcmp(s, "clients") == 0) {
        out->all_clients = true;
    } else if (allow_all && strcmp(s, "all") == 0) {
        for (unsigned i = 1; i <= total; i++) {
            out->servers |= 1u << i;
        }
    } else {
        char *end = NULL;
        long id = strtol(s, &end, 10);
        if (end == s || *end != '\0') {
            return fail(ld, v, key,
                        "%s: '%s' is not a server id, 'leader', 'follower', 'clients'%s", k, s,
                        allow_all ? " or 'all'" : "");
        }
        if (id < 1 || id > (long)total) {
            return fail(ld, v, key, "%s: there is no server %ld (servers are 1 to %u)", k, id,
                        total);
        }
        out->servers |= 1u << id;
    }
    return 0;
}

static int get_nodes(struct loader *ld,
                     struct fy_node *key,
                     struct fy_node *v,
                     struct sim_nodes *out)
{
    memset(out, 0, sizeof *out);
    if (v != NULL && fy_node_is_sequence(v)) {
        void *it = NULL;
        struct fy_node *item;
        int count = 0;
        while ((item = fy_node_sequence_iterate(v, &it)) != NULL) {
            if (node_word(ld, key, item, out, true) != 0) {
                return -1;
            }
            count++;
        }
        if (count == 0) {
            char k[64];
            return fail(ld, v, key, "%s: an empty list names no node", key_text(key, k, sizeof k));
        }
        return 0;
    }
    return node_word(ld, key, v, out, true);
}

/* ---- sections ---- */

static int load_ensemble(struct loader *ld, struct fy_node *holder, struct fy_node *m)
{
    static const char *const keys[] = {"servers",    "observers",  "tick_ms",
                                       "init_limit", "sync_limit", "election_finalize_ms",
                                       "snap_count", "read_only",  NULL};
    struct sim_scenario *sc = ld->sc;
    struct fy_node *key, *v;
    long long x;
    if (check_keys(ld, m, holder, "ensemble", keys) != 0) {
        return -1;
    }
    if (HAS(m, "servers")) {
        if (get_int(ld, key, v, 1, SIM_SERVERS_MAX, &x) != 0) {
            return -1;
        }
        sc->servers = (unsigned)x;
    }
    if (HAS(m, "observers")) {
        if (get_int(ld, key, v, 0, SIM_SERVERS_MAX - 1, &x) != 0) {
            return -1;
        }
        sc->observers = (unsigned)x;
    }
    if (sc->servers + sc->observers > SIM_SERVERS_MAX) {
        return fail(ld, m, holder, "ensemble: %u servers and %u observers: at most %d in all",
                    sc->servers, sc->observers, SIM_SERVERS_MAX);
    }
    struct
    {
        const char *name;
        int32_t *field;
        long long min, max;
    } ints[] = {
        {"tick_ms", &sc->tick_ms, 1, 600000},
        {"init_limit", &sc->init_limit, 1, 1000},
        {"sync_limit", &sc->sync_limit, 1, 1000},
        {"election_finalize_ms", &sc->election_finalize_ms, 1, 600000},
        {"snap_count", &sc->snap_count, 1, 100000000},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (HAS(m, ints[i].name)) {
            if (get_int(ld, key, v, ints[i].min, ints[i].max, &x) != 0) {
                return -1;
            }
            *ints[i].field = (int32_t)x;
        }
    }
    if (HAS(m, "read_only") && get_bool(ld, key, v, &sc->read_only) != 0) {
        return -1;
    }
    return 0;
}

static int load_platform(struct loader *ld, struct fy_node *holder, struct fy_node *m)
{
    static const char *const keys[] = {"latency_ms", "bandwidth_mbps", "disk_sync_ms",
                                       "tcp_timeout", NULL};
    struct sim_scenario *sc = ld->sc;
    struct fy_node *key, *v;
    if (check_keys(ld, m, holder, "platform", keys) != 0) {
        return -1;
    }
    if (HAS(m, "latency_ms") && get_num(ld, key, v, 0, false, 60000, &sc->latency_ms) != 0) {
        return -1;
    }
    if (HAS(m, "bandwidth_mbps") && get_num(ld, key, v, 0, true, 1e6, &sc->bandwidth_mbps) != 0) {
        return -1;
    }
    if (HAS(m, "disk_sync_ms") && get_num(ld, key, v, 0, false, 60000, &sc->disk_sync_ms) != 0) {
        return -1;
    }
    if (HAS(m, "tcp_timeout") && get_num(ld, key, v, 0, false, 3600, &sc->tcp_timeout_s) != 0) {
        return -1;
    }
    return 0;
}

static int load_clients(struct loader *ld, struct fy_node *holder, struct fy_node *m)
{
    static const char *const keys[] = {"count", "session_timeout_ms", "read_only", "start_spread",
                                       NULL};
    struct sim_scenario *sc = ld->sc;
    struct fy_node *key, *v;
    long long x;
    if (check_keys(ld, m, holder, "clients", keys) != 0) {
        return -1;
    }
    if (HAS(m, "count")) {
        if (get_int(ld, key, v, 0, 100000, &x) != 0) {
            return -1;
        }
        sc->clients = (unsigned)x;
    }
    if (HAS(m, "session_timeout_ms")) {
        if (get_int(ld, key, v, 1, 3600000, &x) != 0) {
            return -1;
        }
        sc->session_timeout_ms = (int32_t)x;
    }
    if (HAS(m, "read_only") && get_bool(ld, key, v, &sc->client_read_only) != 0) {
        return -1;
    }
    if (HAS(m, "start_spread") &&
        get_num(ld, key, v, 0, false, 1e6, &sc->client_start_spread_s) != 0) {
        return -1;
    }
    return 0;
}

static int load_workload(struct loader *ld, struct fy_node *holder, struct fy_node *m)
{
    static const char *const keys[] = {"kind",          "rate",       "keys",  "read_ratio",
                                       "cas_ratio",     "op_timeout", "start", "ephemerals",
                                       "restart_after", NULL};
    struct sim_scenario *sc = ld->sc;
    struct fy_node *key, *v;
    long long x;
    if (check_keys(ld, m, holder, "workload", keys) != 0) {
        return -1;
    }
    if (HAS(m, "kind")) {
        char buf[32];
        const char *s = plain(v, buf, sizeof buf);
        if (s != NULL && strcmp(s, "register") == 0) {
            sc->workload = SIM_WORKLOAD_REGISTER;
        } else if (s != NULL && strcmp(s, "sessions") == 0) {
            sc->workload = SIM_WORKLOAD_SESSIONS;
        } else if (s != NULL && strcmp(s, "master-worker") == 0) {
            sc->workload = SIM_WORKLOAD_MASTER_WORKER;
        } else if (s != NULL && strcmp(s, "none") == 0) {
            sc->workload = SIM_WORKLOAD_NONE;
        } else {
            return fail(ld, v, key,
                        "workload kind: expected register, sessions, master-worker or none, got %s",
                        s != NULL ? s : what(v));
        }
    }
    if (HAS(m, "rate") && get_num(ld, key, v, 0, false, 1e6, &sc->rate) != 0) {
        return -1;
    }
    if (HAS(m, "keys")) {
        if (get_int(ld, key, v, 1, 1000, &x) != 0) {
            return -1;
        }
        sc->keys = (unsigned)x;
    }
    if (HAS(m, "read_ratio") && get_num(ld, key, v, 0, false, 1, &sc->read_ratio) != 0) {
        return -1;
    }
    if (HAS(m, "cas_ratio") && get_num(ld, key, v, 0, false, 1, &sc->cas_ratio) != 0) {
        return -1;
    }
    if (sc->read_ratio + sc->cas_ratio > 1.0 + 1e-12) {
        return fail(ld, m, holder,
                    "workload: read_ratio %g + cas_ratio %g is more than 1 (the rest are writes)",
                    sc->read_ratio, sc->cas_ratio);
    }
    if (HAS(m, "op_timeout") && get_num(ld, key, v, 0, true, 3600, &sc->op_timeout_s) != 0) {
        return -1;
    }
    if (HAS(m, "start") && get_num(ld, key, v, 0, false, 1e6, &sc->workload_start_s) != 0) {
        return -1;
    }
    if (HAS(m, "ephemerals")) {
        if (get_int(ld, key, v, 0, 1000, &x) != 0) {
            return -1;
        }
        sc->ephemerals = (unsigned)x;
    }
    if (HAS(m, "restart_after") &&
        get_num(ld, key, v, 0, false, 1e6, &sc->session_restart_s) != 0) {
        return -1;
    }
    return 0;
}

static bool is_cut(enum sim_fault_kind k)
{
    return k == SIM_FAULT_PARTITION || k == SIM_FAULT_ISOLATE || k == SIM_FAULT_BRIDGE ||
           k == SIM_FAULT_RING || k == SIM_FAULT_ONE_WAY;
}

/* The keys each fault kind takes besides at, kind and duration. */
static const char *const *fault_keys(enum sim_fault_kind k)
{
    static const char *const partition[] = {"at", "kind", "duration", "mode", "groups", NULL};
    static const char *const nodes_cut[] = {"at", "kind", "duration", "mode", "nodes", NULL};
    static const char *const bridge[] = {"at",    "kind", "duration", "mode",
                                         "nodes", "from", "to",       NULL};
    static const char *const ring[] = {"at", "kind", "duration", "mode", NULL};
    static const char *const one_way[] = {"at", "kind", "duration", "mode", "from", "to", NULL};
    static const char *const bare[] = {"at", "kind", NULL};
    static const char *const nodes[] = {"at", "kind", "duration", "nodes", NULL};
    static const char *const nodes_only[] = {"at", "kind", "nodes", NULL};
    static const char *const delay[] = {"at",       "kind",      "duration", "nodes",
                                        "delay_ms", "jitter_ms", NULL};
    static const char *const bandwidth[] = {"at", "kind", "duration", "nodes", "mbps", NULL};
    static const char *const slow_disk[] = {"at", "kind", "duration", "nodes", "sync_ms", NULL};
    static const char *const drift[] = {"at", "kind", "duration", "nodes", "ppm", "percent", NULL};
    static const char *const jump[] = {"at", "kind", "duration", "nodes", "jump_ms", NULL};
    switch (k) {
        case SIM_FAULT_PARTITION:
            return partition;
        case SIM_FAULT_ISOLATE:
            return nodes_cut;
        case SIM_FAULT_BRIDGE:
            return bridge;
        case SIM_FAULT_RING:
            return ring;
        case SIM_FAULT_ONE_WAY:
            return one_way;
        case SIM_FAULT_HEAL:
            return bare;
        case SIM_FAULT_RESTART:
        case SIM_FAULT_RESUME:
            return nodes_only;
        case SIM_FAULT_CRASH:
        case SIM_FAULT_PAUSE:
        case SIM_FAULT_RESET:
            return nodes;
        case SIM_FAULT_DELAY:
            return delay;
        case SIM_FAULT_BANDWIDTH:
            return bandwidth;
        case SIM_FAULT_SLOW_DISK:
            return slow_disk;
        case SIM_FAULT_DRIFT:
            return drift;
        case SIM_FAULT_CLOCK_JUMP:
            return jump;
    }
    return bare;
}

static const char *const fault_names[] = {
    NULL,    "partition", "isolate",   "bridge", "ring",      "one_way",
    "heal",  "crash",     "restart",   "pause",  "resume",    "delay",
    "reset", "bandwidth", "slow_disk", "drift",  "clock_jump"};

const char *sim_fault_kind_name(enum sim_fault_kind kind)
{
    if ((int)kind >= SIM_FAULT_PARTITION && (int)kind <= SIM_FAULT_CLOCK_JUMP) {
        return fault_names[kind];
    }
    return "?";
}

enum sim_fault_kind sim_fault_kind_parse(const char *name)
{
    for (int k = SIM_FAULT_PARTITION; k <= SIM_FAULT_CLOCK_JUMP; k++) {
        if (strcmp(fault_names[k], name) == 0) {
            return (enum sim_fault_kind)k;
        }
    }
    return (enum sim_fault_kind)0;
}

const char *sim_workload_kind_name(enum sim_workload_kind kind)
{
    switch (kind) {
        case SIM_WORKLOAD_REGISTER:
            return "register";
        case SIM_WORKLOAD_SESSIONS:
            return "sessions";
        case SIM_WORKLOAD_MASTER_WORKER:
            return "master-worker";
        case SIM_WORKLOAD_NONE:
            return "none";
    }
    return "?";
}

static int fault_kind(struct loader *ld,
                      struct fy_node *key,
                      struct fy_node *v,
                      enum sim_fault_kind *out)
{
    char buf[32];
    const char *s = plain(v, buf, sizeof buf);
    enum sim_fault_kind k = s != NULL ? sim_fault_kind_parse(s) : (enum sim_fault_kind)0;
    if (k == 0) {
        return fail(ld, v, key,
                    "kind: unknown fault '%s' (partition, isolate, bridge, ring, one_way, heal, "
                    "crash, restart, pause, resume, delay, reset, bandwidth, slow_disk, drift, "
                    "clock_jump)",
                    s != NULL ? s : what(v));
    }
    *out = k;
    return 0;
}

/* A missing key the fault kind needs. */
static int need(struct loader *ld, struct fy_node *m, const char *kind, const char *name)
{
    return fail(ld, m, NULL, "a %s fault needs '%s'", kind, name);
}

static int load_groups(struct loader *ld,
                       struct fy_node *key,
                       struct fy_node *v,
                       struct sim_fault *f)
{
    if (v == NULL || !fy_node_is_sequence(v)) {
        return fail(ld, v, key, "groups: expected a list of groups (lists of nodes), got %s",
                    what(v));
    }
    void *it = NULL;
    struct fy_node *g;
    uint32_t seen = 0;
    bool clients_seen = false;
    while ((g = fy_node_sequence_iterate(v, &it)) != NULL) {
        if (f->group_count == SIM_GROUPS_MAX) {
            return fail(ld, g, key, "groups: at most %d groups", SIM_GROUPS_MAX);
        }
        struct sim_nodes *ns = &f->groups[f->group_count];
        if (get_nodes(ld, key, g, ns) != 0) {
            return -1;
        }
        if (ns->leader || ns->follower) {
            /* Resolved only when the fault fires, so overlaps cannot be checked here. */
        }
        if ((ns->servers & seen) != 0 || (ns->all_clients && clients_seen)) {
            return fail(ld, g, key, "groups: a node is in two groups (groups must not overlap)");
        }
        seen |= ns->servers;
        clients_seen = clients_seen || ns->all_clients;
        f->group_count++;
    }
    if (f->group_count < 2) {
        return fail(ld, v, key, "groups: a partition needs at least two groups, got %zu",
                    f->group_count);
    }
    return 0;
}

static int load_fault(struct loader *ld, struct fy_node *m, struct sim_fault *f)
{
    struct fy_node *key, *v;
    memset(f, 0, sizeof *f);
    if (m == NULL || !fy_node_is_mapping(m)) {
        return fail(ld, m, NULL, "faults: each fault is a mapping with at and kind, got %s",
                    what(m));
    }
    int line = 0, col = 0;
    if (node_mark(m, &line, &col)) {
        f->line = line;
    }
    if (!HAS(m, "kind")) {
        return fail(ld, m, NULL, "a fault needs 'kind'");
    }
    if (fault_kind(ld, key, v, &f->kind) != 0) {
        return -1;
    }
    const char *kind = sim_fault_kind_name(f->kind);
    char where[64];
    snprintf(where, sizeof where, "a %s fault", kind);
    if (check_keys(ld, m, NULL, where, fault_keys(f->kind)) != 0) {
        return -1;
    }
    if (!HAS(m, "at")) {
        return need(ld, m, kind, "at");
    }
    if (get_num(ld, key, v, 0, false, 1e6, &f->at_s) != 0) {
        return -1;
    }
    if (f->at_s > ld->sc->duration_s) {
        return fail(ld, v, key, "at: %g s is after the end of the run (duration %g s)", f->at_s,
                    ld->sc->duration_s);
    }
    if (HAS(m, "duration") && get_num(ld, key, v, 0, true, 1e6, &f->duration_s) != 0) {
        return -1;
    }
    if (HAS(m, "mode")) {
        char buf[16];
        const char *s = plain(v, buf, sizeof buf);
        if (s != NULL && strcmp(s, "reject") == 0) {
            f->reject = true;
        } else if (s == NULL || strcmp(s, "drop") != 0) {
            return fail(ld, v, key, "mode: expected drop or reject, got %s",
                        s != NULL ? s : what(v));
        }
    }
    bool has_nodes = HAS(m, "nodes");
    if (has_nodes && get_nodes(ld, key, v, &f->nodes) != 0) {
        return -1;
    }
    switch (f->kind) {
        case SIM_FAULT_PARTITION:
            if (!HAS(m, "groups")) {
                return need(ld, m, kind, "groups");
            }
            return load_groups(ld, key, v, f);
        case SIM_FAULT_ISOLATE:
        case SIM_FAULT_PAUSE:
        case SIM_FAULT_RESUME:
        case SIM_FAULT_CLOCK_JUMP:
        case SIM_FAULT_DRIFT:
            if (!has_nodes) {
                return need(ld, m, kind, "nodes");
            }
            break;
        case SIM_FAULT_CRASH:
        case SIM_FAULT_RESTART:
        case SIM_FAULT_BRIDGE:
            if (!has_nodes) {
                return need(ld, m, kind, "nodes");
            }
            if (f->nodes.all_clients) {
                (void)lookup(m, "nodes", &key);
                return fail(ld, lookup(m, "nodes", &key), key,
                            "nodes: a %s fault applies to servers only, not to clients", kind);
            }
            break;
        case SIM_FAULT_ONE_WAY:
            if (!HAS(m, "from")) {
                return need(ld, m, kind, "from");
            }
            if (get_nodes(ld, key, v, &f->from) != 0) {
                return -1;
            }
            if (!HAS(m, "to")) {
                return need(ld, m, kind, "to");
            }
            if (get_nodes(ld, key, v, &f->to) != 0) {
                return -1;
            }
            break;
        default:
            break;
    }
    if (f->kind == SIM_FAULT_BRIDGE) {
        bool from = HAS(m, "from");
        if (from && get_nodes(ld, key, v, &f->from) != 0) {
            return -1;
        }
        bool to = HAS(m, "to");
        if (to && get_nodes(ld, key, v, &f->to) != 0) {
            return -1;
        }
        if (from != to) {
            return fail(ld, m, NULL, "a bridge fault takes both 'from' and 'to', or neither");
        }
    }
    if (f->kind == SIM_FAULT_DELAY) {
        bool d = HAS(m, "delay_ms");
        if (d && get_num(ld, key, v, 0, false, 3600000, &f->delay_ms) != 0) {
            return -1;
        }
        bool j = HAS(m, "jitter_ms");
        if (j && get_num(ld, key, v, 0, false, 3600000, &f->jitter_ms) != 0) {
            return -1;
        }
        if (!d && !j) {
            return need(ld, m, kind, "delay_ms");
        }
    }
    if (f->kind == SIM_FAULT_BANDWIDTH) {
        if (!HAS(m, "mbps")) {
            return need(ld, m, kind, "mbps");
        }
        if (get_num(ld, key, v, 0, true, 1e6, &f->bandwidth_mbps) != 0) {
            return -1;
        }
    }
    if (f->kind == SIM_FAULT_SLOW_DISK) {
        if (!HAS(m, "sync_ms")) {
            return need(ld, m, kind, "sync_ms");
        }
        if (get_num(ld, key, v, 0, false, 3600000, &f->disk_sync_ms) != 0) {
            return -1;
        }
    }
    if (f->kind == SIM_FAULT_DRIFT) {
        struct fy_node *pk, *pv = lookup(m, "ppm", &pk);
        struct fy_node *ck, *cv = lookup(m, "percent", &ck);
        long long ppm;
        double percent;
        if (pk != NULL && ck != NULL) {
            return fail(ld, ck, m, "percent: give the drift as ppm or as percent, not both");
        }
        if (pk != NULL) {
            if (get_int(ld, pk, pv, -999999, 100000000, &ppm) != 0) {
                return -1;
            }
            f->drift_ppm = ppm;
        } else if (ck != NULL) {
            if (get_num(ld, ck, cv, -99.9999, false, 10000, &percent) != 0) {
                return -1;
            }
            f->drift_ppm = (int64_t)llround(percent * 10000.0);
        } else {
            return need(ld, m, kind, "ppm' or 'percent");
        }
    }
    if (f->kind == SIM_FAULT_CLOCK_JUMP) {
        long long ms;
        if (!HAS(m, "jump_ms")) {
            return need(ld, m, kind, "jump_ms");
        }
        if (get_int(ld, key, v, -1000000000LL, 1000000000LL, &ms) != 0) {
            return -1;
        }
        f->jump_ms = ms;
    }
    if (is_cut(f->kind) && f->kind != SIM_FAULT_PARTITION && f->kind != SIM_FAULT_RING &&
        f->kind != SIM_FAULT_ONE_WAY && !has_nodes) {
        return need(ld, m, kind, "nodes");
    }
    return 0;
}

static int load_faults(struct loader *ld, struct fy_node *key, struct fy_node *v)
{
    struct sim_scenario *sc = ld->sc;
    if (v == NULL || fy_node_is_null(v)) {
        return 0;
    }
    if (!fy_node_is_sequence(v)) {
        return fail(ld, v, key, "faults: expected a list of faults, got %s", what(v));
    }
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(v, &it)) != NULL) {
        if (sc->fault_count == SIM_FAULTS_MAX) {
            return fail(ld, item, key, "faults: at most %d faults", SIM_FAULTS_MAX);
        }
        if (load_fault(ld, item, &sc->faults[sc->fault_count]) != 0) {
            return -1;
        }
        sc->fault_count++;
    }
    /* Stable sort by time: faults written for the same time keep their order. */
    for (size_t i = 1; i < sc->fault_count; i++) {
        struct sim_fault f = sc->faults[i];
        size_t j = i;
        while (j > 0 && sc->faults[j - 1].at_s > f.at_s) {
            sc->faults[j] = sc->faults[j - 1];
            j--;
        }
        sc->faults[j] = f;
    }
    return 0;
}

static int load_nemesis(struct loader *ld, struct fy_node *holder, struct fy_node *m)
{
    static const char *const keys[] = {"kinds",    "start",  "stop", "interval",
                                       "duration", "settle", NULL};
    struct sim_nemesis *nm = &ld->sc->nemesis;
    struct fy_node *key, *v;
    if (check_keys(ld, m, holder, "nemesis", keys) != 0) {
        return -1;
    }
    nm->enabled = true;
    if (!HAS(m, "kinds")) {
        return fail(ld, m, holder, "nemesis: needs 'kinds', the fault kinds it may draw");
    }
    if (v == NULL || !fy_node_is_sequence(v) || fy_node_sequence_item_count(v) == 0) {
        return fail(ld, v, key, "kinds: expected a non-empty list of fault kinds, got %s", what(v));
    }
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(v, &it)) != NULL) {
        enum sim_fault_kind k;
        if (fault_kind(ld, key, item, &k) != 0) {
            return -1;
        }
        if (k == SIM_FAULT_HEAL || k == SIM_FAULT_RESTART || k == SIM_FAULT_RESUME) {
            return fail(ld, item, key,
                        "kinds: the nemesis undoes each fault itself; '%s' is not one to draw",
                        sim_fault_kind_name(k));
        }
        nm->kinds |= 1u << k;
    }
    double d = ld->sc->duration_s;
    if (HAS(m, "start") && get_num(ld, key, v, 0, false, d, &nm->start_s) != 0) {
        return -1;
    }
    if (HAS(m, "stop") && get_num(ld, key, v, 0, false, d, &nm->stop_s) != 0) {
        return -1;
    }
    if (HAS(m, "interval") && get_num(ld, key, v, 0, true, 1e6, &nm->interval_s) != 0) {
        return -1;
    }
    if (HAS(m, "duration") && get_num(ld, key, v, 0, true, 1e6, &nm->duration_s) != 0) {
        return -1;
    }
    if (HAS(m, "settle") && get_num(ld, key, v, 0, false, d, &nm->settle_s) != 0) {
        return -1;
    }
    double stop = nm->stop_s > 0 ? nm->stop_s : d - nm->settle_s;
    if (stop <= nm->start_s) {
        return fail(ld, m, holder,
                    "nemesis: it would stop (at %g s) before it starts (at %g s): check start, "
                    "stop, settle and duration",
                    stop, nm->start_s);
    }
    return 0;
}

static int load_bound(struct loader *ld,
                      struct fy_node *holder,
                      struct fy_node *m,
                      const char *where,
                      const char *const *keys,
                      bool integer,
                      bool *has_min,
                      double *min,
                      bool *has_max,
                      double *max)
{
    struct fy_node *key, *v;
    if (check_keys(ld, m, holder, where, keys) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? "min" : "max";
        bool *has = i == 0 ? has_min : has_max;
        double *out = i == 0 ? min : max;
        if (has == NULL || !HAS(m, name)) {
            continue;
        }
        if (integer) {
            long long x;
            if (get_int(ld, key, v, 0, 1000000000LL, &x) != 0) {
                return -1;
            }
            *out = (double)x;
        } else if (get_num(ld, key, v, 0, false, 1e9, out) != 0) {
            return -1;
        }
        *has = true;
    }
    return 0;
}

static int load_expect(struct loader *ld, struct fy_node *holder, struct fy_node *m)
{
    static const char *const keys[] = {"linearizable",
                                       "linearizable_writes",
                                       "max_leaders_per_epoch",
                                       "writes_unavailable_s",
                                       "lost_acked_writes",
                                       "min_ok_ops",
                                       "leader_changes",
                                       "sessions_expired",
                                       "agreement",
                                       "converged",
                                       NULL};
    static const char *const max_only[] = {"max", NULL};
    static const char *const min_only[] = {"min", NULL};
    static const char *const min_max[] = {"min", "max", NULL};
    struct sim_scenario *sc = ld->sc;
    struct fy_node *key, *v;
    long long x;
    double a = 0, b = 0;
    bool ha = false, hb = false;
    if (check_keys(ld, m, holder, "expect", keys) != 0) {
        return -1;
    }
    if (HAS(m, "linearizable")) {
        if (get_bool(ld, key, v, &sc->linearizable) != 0) {
            return -1;
        }
        sc->has_linearizable = true;
    }
    if (HAS(m, "linearizable_writes")) {
        if (get_bool(ld, key, v, &sc->linearizable_writes) != 0) {
            return -1;
        }
        sc->has_linearizable_writes = true;
    }
    if (HAS(m, "max_leaders_per_epoch")) {
        if (get_int(ld, key, v, 1, 1000, &x) != 0) {
            return -1;
        }
        sc->max_leaders_per_epoch = (int)x;
        sc->has_max_leaders_per_epoch = true;
    }
    if (HAS(m, "writes_unavailable_s")) {
        if (load_bound(ld, key, v, "writes_unavailable_s", max_only, false, NULL, NULL, &hb, &b) !=
            0) {
            return -1;
        }
        sc->has_writes_unavailable_max = hb;
        sc->writes_unavailable_max_s = b;
    }
    if (HAS(m, "lost_acked_writes")) {
        hb = false;
        if (load_bound(ld, key, v, "lost_acked_writes", max_only, true, NULL, NULL, &hb, &b) != 0) {
            return -1;
        }
        sc->has_lost_acked_writes_max = hb;
        sc->lost_acked_writes_max = (int)b;
    }
    if (HAS(m, "min_ok_ops")) {
        if (get_int(ld, key, v, 0, 1000000000LL, &x) != 0) {
            return -1;
        }
        sc->min_ok_ops = (long)x;
        sc->has_min_ok_ops = true;
    }
    if (HAS(m, "leader_changes")) {
        ha = hb = false;
        if (load_bound(ld, key, v, "leader_changes", min_max, true, &ha, &a, &hb, &b) != 0) {
            return -1;
        }
        if (ha && hb && a > b) {
            return fail(ld, v, key, "leader_changes: min %g is above max %g", a, b);
        }
        sc->has_leader_changes_min = ha;
        sc->leader_changes_min = (int)a;
        sc->has_leader_changes_max = hb;
        sc->leader_changes_max = (int)b;
    }
    if (HAS(m, "sessions_expired")) {
        ha = false;
        if (load_bound(ld, key, v, "sessions_expired", min_only, true, &ha, &a, NULL, NULL) != 0) {
            return -1;
        }
        sc->has_sessions_expired_min = ha;
        sc->sessions_expired_min = (int)a;
    }
    if (HAS(m, "agreement")) {
        if (get_bool(ld, key, v, &sc->agreement) != 0) {
            return -1;
        }
        sc->has_agreement = true;
    }
    if (HAS(m, "converged")) {
        if (get_bool(ld, key, v, &sc->converged) != 0) {
            return -1;
        }
        sc->has_converged = true;
    }
    return 0;
}

static int load_trace(struct loader *ld, struct fy_node *holder, struct fy_node *m)
{
    static const char *const keys[] = {"messages", NULL};
    struct fy_node *key, *v;
    if (check_keys(ld, m, holder, "trace", keys) != 0) {
        return -1;
    }
    if (HAS(m, "messages") && get_bool(ld, key, v, &ld->sc->trace_messages) != 0) {
        return -1;
    }
    return 0;
}

static int load_root(struct loader *ld, struct fy_node *root)
{
    static const char *const keys[] = {
        "name",     "description", "seed",    "duration", "ensemble", "platform", "clients",
        "workload", "faults",      "nemesis", "trace",    "expect",   NULL};
    struct sim_scenario *sc = ld->sc;
    struct fy_node *key, *v;
    if (root == NULL || fy_node_is_null(root)) {
        return 0;
    }
    if (check_keys(ld, root, NULL, "the scenario", keys) != 0) {
        return -1;
    }
    if (HAS(root, "name")) {
        if (get_text(ld, key, v, sc->name, sizeof sc->name) != 0) {
            return -1;
        }
        for (const char *p = sc->name; *p; p++) {
            bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
            if (!ok || sc->name[0] == '.') {
                return fail(ld, v, key,
                            "name: '%s' may only hold letters, digits, '-', '_' and '.' (it "
                            "names the output folder)",
                            sc->name);
            }
        }
        if (sc->name[0] == '\0') {
            return fail(ld, v, key, "name: must not be empty");
        }
    }
    if (HAS(root, "description") &&
        get_text(ld, key, v, sc->description, sizeof sc->description) != 0) {
        return -1;
    }
    if (HAS(root, "seed") && get_u64(ld, key, v, &sc->seed) != 0) {
        return -1;
    }
    if (HAS(root, "duration") && get_num(ld, key, v, 0, true, 1e6, &sc->duration_s) != 0) {
        return -1;
    }
    /* The ensemble first: node sets elsewhere are checked against its size. */
    if (HAS(root, "ensemble") && load_ensemble(ld, key, v) != 0) {
        return -1;
    }
    if (HAS(root, "platform") && load_platform(ld, key, v) != 0) {
        return -1;
    }
    if (HAS(root, "clients") && load_clients(ld, key, v) != 0) {
        return -1;
    }
    if (HAS(root, "workload") && load_workload(ld, key, v) != 0) {
        return -1;
    }
    if (HAS(root, "faults") && load_faults(ld, key, v) != 0) {
        return -1;
    }
    if (HAS(root, "nemesis") && load_nemesis(ld, key, v) != 0) {
        return -1;
    }
    if (HAS(root, "trace") && load_trace(ld, key, v) != 0) {
        return -1;
    }
    if (HAS(root, "expect") && load_expect(ld, key, v) != 0) {
        return -1;
    }
    return 0;
}

/* ---- --set ---- */

static int set_fail(struct loader *ld, const char *assignment, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_fail(struct loader *ld, const char *assignment, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ld->err, ld->err_len, "--set %s: %s", assignment, msg);
    ld->failed = true;
    return -1;
}

static void set_remember(struct loader *ld, struct fy_node *n, const char *assignment)
{
    if (n != NULL && ld->set_count < sizeof ld->set_nodes / sizeof ld->set_nodes[0]) {
        ld->set_nodes[ld->set_count] = n;
        ld->set_text[ld->set_count++] = assignment;
    }
}

static bool parse_index(const char *s, size_t len, long *out)
{
    if (len == 0 || len > 6) {
        return false;
    }
    long x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return true;
}

/* A --set value as a node of the scenario's document. It is parsed as a
 * document of its own and copied: libfyaml 0.7.12's fy_node_build_from_string
 * leaks when the text is not valid YAML (found by fuzz_scenario.c). An empty
 * value is null. */
static struct fy_node *build_value(struct loader *ld, const char *value)
{
    struct fy_parse_cfg pcfg;
    memset(&pcfg, 0, sizeof pcfg);
    pcfg.flags = FYPCF_QUIET;
    pcfg.diag = ld->diag;
    struct fy_document *vdoc = fy_document_build_from_string(&pcfg, value, strlen(value));
    if (vdoc == NULL) {
        return *value == '\0' ? fy_node_create_scalar_copy(ld->doc, "", 0) : NULL;
    }
    struct fy_node *root = fy_document_root(vdoc);
    struct fy_node *copy = root != NULL ? fy_node_copy(ld->doc, root) : NULL;
    fy_document_destroy(vdoc);
    return copy;
}

/* Apply KEY=VALUE to the document: KEY is a dotted path, list items by index
 * (an index equal to the list's length appends); mappings missing on the way
 * are created. */
static int apply_set(struct loader *ld, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment) {
        return set_fail(ld, assignment, "expected KEY=VALUE (e.g. ensemble.servers=5)");
    }
    const char *value = eq + 1;
    struct fy_document *doc = ld->doc;
    struct fy_node *root = fy_document_root(doc);
    if (root == NULL || fy_node_is_null(root)) {
        root = fy_node_create_mapping(doc);
        if (root == NULL || fy_document_set_root(doc, root) != 0) {
            return set_fail(ld, assignment, "out of memory");
        }
        set_remember(ld, root, assignment);
    }
    if (!fy_node_is_mapping(root)) {
        return set_fail(ld, assignment, "the scenario is not a mapping");
    }
    struct fy_node *cur = root;
    const char *p = assignment;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(eq - p));
        const char *end = dot != NULL ? dot : eq;
        size_t len = (size_t)(end - p);
        bool last = dot == NULL;
        if (len == 0) {
            return set_fail(ld, assignment, "empty part in the key path");
        }
        struct fy_node *newv = NULL;
        if (last) {
            newv = build_value(ld, value);
            if (newv == NULL) {
                return set_fail(ld, assignment, "the value is not valid YAML");
            }
            set_remember(ld, newv, assignment);
        }
        if (fy_node_is_mapping(cur)) {
            char name[64];
            if (len >= sizeof name) {
                return set_fail(ld, assignment, "key '%.*s' is too long", (int)len, p);
            }
            memcpy(name, p, len);
            name[len] = '\0';
            struct fy_node *key;
            struct fy_node *v = lookup(cur, name, &key);
            if (key != NULL) {
                void *it = NULL;
                struct fy_node_pair *pair;
                char k[64];
                while ((pair = fy_node_mapping_iterate(cur, &it)) != NULL) {
                    if (strcmp(key_text(fy_node_pair_key(pair), k, sizeof k), name) == 0) {
                        break;
                    }
                }
                if (last) {
                    if (pair == NULL || fy_node_pair_set_value(pair, newv) != 0) {
                        return set_fail(ld, assignment, "could not set the value");
                    }
                    return 0;
                }
                if (v == NULL || fy_node_is_null(v)) {
                    struct fy_node *m = fy_node_create_mapping(doc);
                    if (m == NULL || pair == NULL || fy_node_pair_set_value(pair, m) != 0) {
                        return set_fail(ld, assignment, "out of memory");
                    }
                    set_remember(ld, m, assignment);
                    v = m;
                }
                cur = v;
            } else {
                struct fy_node *k = fy_node_create_scalar_copy(doc, name, len);
                struct fy_node *m = last ? newv : fy_node_create_mapping(doc);
                if (k == NULL || m == NULL || fy_node_mapping_append(cur, k, m) != 0) {
                    return set_fail(ld, assignment, "out of memory");
                }
                set_remember(ld, k, assignment);
                set_remember(ld, m, assignment);
                if (last) {
                    return 0;
                }
                cur = m;
            }
        } else if (fy_node_is_sequence(cur)) {
            long index;
            if (!parse_index(p, len, &index)) {
                return set_fail(ld, assignment, "'%.*s' is not a list index", (int)len, p);
            }
            int count = fy_node_sequence_item_count(cur);
            if (index > count) {
                return set_fail(ld, assignment,
                                "index %ld is past the end of the list (%d items; %d appends)",
                                index, count, count);
            }
            if (index == count) {
                struct fy_node *m = last ? newv : fy_node_create_mapping(doc);
                if (m == NULL || fy_node_sequence_append(cur, m) != 0) {
                    return set_fail(ld, assignment, "out of memory");
                }
                set_remember(ld, m, assignment);
                if (last) {
                    return 0;
                }
                cur = m;
            } else {
                struct fy_node *old = fy_node_sequence_get_by_index(cur, (int)index);
                if (last) {
                    if (fy_node_sequence_insert_before(cur, old, newv) != 0 ||
                        fy_node_sequence_remove(cur, old) == NULL) {
                        return set_fail(ld, assignment, "could not set the value");
                    }
                    fy_node_free(old);
                    return 0;
                }
                cur = old;
            }
        } else {
            return set_fail(ld, assignment,
                            "'%.*s' is inside a value that is not a mapping or a list", (int)len,
                            p);
        }
        p = end + 1;
    }
}

/* The byte offset of the first byte that is not printable UTF-8 text as YAML
 * defines it, or len. Checking first matters: libfyaml 0.7.12 loops forever
 * on some invalid sequences and crashes on some control characters (both
 * found by tests/fuzz/fuzz_scenario.c). */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
            /* YAML's printable set: tab, line feed, carriage return, 0x20-0x7e.
             * libfyaml 0.7.12 crashes on some texts holding other controls. */
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
                return i;
            }
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, min = 0x10000;
        } else {
            return i;
        }
        unsigned cp = c & (0x3fu >> n);
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
                return i;
            }
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return i;
        }
        /* YAML's printable set: no C1 controls but NEL, no U+FFFE/U+FFFF. */
        if ((cp >= 0x80 && cp <= 0x9f && cp != 0x85) || cp == 0xfffe || cp == 0xffff) {
            return i;
        }
        i += n + 1;
    }
    return len;
}

/* "LINE:COLUMN" of a byte offset (columns count bytes). */
static void offset_position(const char *text, size_t at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* ---- the public functions ---- */

void sim_scenario_defaults(struct sim_scenario *sc)
{
    memset(sc, 0, sizeof *sc);
    snprintf(sc->name, sizeof sc->name, "scenario");
    sc->seed = 1;
    sc->duration_s = 60;
    sc->servers = 3;
    sc->tick_ms = 2000;
    sc->init_limit = 10;
    sc->sync_limit = 5;
    sc->election_finalize_ms = 200;
    sc->snap_count = 100000;
    sc->latency_ms = 1;
    sc->bandwidth_mbps = 1000;
    sc->disk_sync_ms = 1;
    sc->tcp_timeout_s = 15;
    sc->clients = 5;
    sc->workload = SIM_WORKLOAD_REGISTER;
    sc->rate = 10;
    sc->keys = 3;
    sc->read_ratio = 0.5;
    sc->cas_ratio = 0.2;
    sc->session_timeout_ms = 6000;
    sc->op_timeout_s = 5;
    sc->workload_start_s = 2;
    sc->client_start_spread_s = 1;
    sc->ephemerals = 1;
    sc->session_restart_s = 1;
    sc->nemesis.interval_s = 10;
    sc->nemesis.duration_s = 5;
    sc->nemesis.settle_s = 10;
}

int sim_scenario_check(const struct sim_scenario *sc, char *err, size_t err_len)
{
    if (sc->servers < 1 || sc->servers + sc->observers > SIM_SERVERS_MAX) {
        snprintf(err, err_len, "ensemble: %u servers and %u observers (1 to %d in all)",
                 sc->servers, sc->observers, SIM_SERVERS_MAX);
        return -1;
    }
    uint32_t all = 0;
    for (unsigned i = 1; i <= sc->servers + sc->observers; i++) {
        all |= 1u << i;
    }
    for (size_t i = 0; i < sc->fault_count; i++) {
        const struct sim_fault *f = &sc->faults[i];
        uint32_t named = f->nodes.servers | f->from.servers | f->to.servers;
        for (size_t g = 0; g < f->group_count; g++) {
            named |= f->groups[g].servers;
        }
        if ((named & ~all) != 0) {
            snprintf(err, err_len, "fault %zu (line %d): names a server beyond the %u there are",
                     i + 1, f->line, sc->servers + sc->observers);
            return -1;
        }
        if (f->at_s > sc->duration_s) {
            snprintf(err, err_len, "fault %zu (line %d): at %g s is after the end (duration %g s)",
                     i + 1, f->line, f->at_s, sc->duration_s);
            return -1;
        }
    }
    if (sc->read_ratio + sc->cas_ratio > 1.0 + 1e-12) {
        snprintf(err, err_len, "workload: read_ratio + cas_ratio is more than 1");
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            if (cap >= SCENARIO_FILE_MAX) {
                snprintf(err, err_len, "%s: larger than %u bytes: not a scenario", path,
                         SCENARIO_FILE_MAX);
                free(buf);
                fclose(f);
                return NULL;
            }
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (buf == NULL || ferror(f)) {
        snprintf(err, err_len, "%s: cannot read: %s", path,
                 buf == NULL ? "out of memory" : strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    if (memchr(buf, '\0', n) != NULL) {
        snprintf(err, err_len, "%s: holds a NUL byte: not a YAML text file", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The default name: the file's base name without .yaml / .yml. */
static void default_name(const char *path, char *name, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".yaml") == 0) {
        len -= 5;
    } else if (len > 4 && strcmp(base + len - 4, ".yml") == 0) {
        len -= 4;
    }
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < cap; i++) {
        char c = base[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        name[k++] = ok ? c : '_';
    }
    name[k] = '\0';
    if (k == 0 || name[0] == '.') {
        snprintf(name, cap, "scenario");
    }
}

static bool write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Read exactly len bytes within the deadline; false on EOF, error or time. */
static bool read_all(int fd, void *buf, size_t len, int timeout_ms)
{
    char *p = buf;
    while (len > 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* libfyaml 0.7.12 (Debian bookworm's) crashes or loops on some malformed
 * texts (tests/fuzz/fuzz_scenario.c finds them in seconds). A scenario file
 * comes from outside, so it is parsed in a child process: whatever the parser
 * does, coordsim reports a bad scenario and exits cleanly. The result comes
 * back through a pipe (struct sim_scenario holds no pointer). */
int sim_scenario_load(const char *path,
                      const char *const *sets,
                      size_t set_count,
                      struct sim_scenario *sc,
                      char *err,
                      size_t err_len)
{
    sim_scenario_defaults(sc);
    size_t len = 0;
    char *text = read_file(path, &len, err, err_len);
    if (text == NULL) {
        return -1;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, err_len, "%s: cannot parse: pipe: %s", path, strerror(errno));
        free(text);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_len, "%s: cannot parse: fork: %s", path, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(text);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(PARSE_SECONDS_MAX);
        int rc = sim_scenario_parse(path, text, len, sets, set_count, sc, err, err_len);
        bool ok = write_all(fds[1], &rc, sizeof rc) && write_all(fds[1], err, err_len) &&
                  write_all(fds[1], sc, sizeof *sc);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    free(text);
    int rc = -1;
    bool got = read_all(fds[0], &rc, sizeof rc, PARSE_SECONDS_MAX * 1000) &&
               read_all(fds[0], err, err_len, PARSE_SECONDS_MAX * 1000) &&
               read_all(fds[0], sc, sizeof *sc, PARSE_SECONDS_MAX * 1000);
    close(fds[0]);
    if (!got) {
        kill(pid, SIGKILL);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        sim_scenario_defaults(sc);
        snprintf(err, err_len,
                 "%s: the YAML parser gave up on this file (%s): it is malformed; look for tabs, "
                 "'?' keys or odd indentation",
                 path,
                 WIFSIGNALED(status) ? (WTERMSIG(status) == SIGALRM || WTERMSIG(status) == SIGKILL
                                            ? "it did not finish"
                                            : "it crashed")
                                     : "no answer");
        return -1;
    }
    err[err_len - 1] = '\0';
    return rc;
}

int sim_scenario_parse(const char *path,
                       const char *text,
                       size_t len,
                       const char *const *sets,
                       size_t set_count,
                       struct sim_scenario *sc,
                       char *err,
                       size_t err_len)
{
    sim_scenario_defaults(sc);
    default_name(path, sc->name, sizeof sc->name);
    if (set_count > SETS_MAX) {
        snprintf(err, err_len, "at most %d --set options", SETS_MAX);
        return -1;
    }
    if (memchr(text, '\0', len) != NULL) {
        snprintf(err, err_len, "%s: holds a NUL byte: not a YAML text file", path);
        return -1;
    }
    size_t bad = utf8_invalid_at((const unsigned char *)text, len);
    if (bad < len) {
        int line, col;
        offset_position(text, bad, &line, &col);
        snprintf(err, err_len, "%s:%d:%d: not printable UTF-8 text (byte 0x%02x)", path, line, col,
                 (unsigned char)text[bad]);
        return -1;
    }
    for (size_t i = 0; i < set_count; i++) {
        size_t n = strlen(sets[i]);
        if (utf8_invalid_at((const unsigned char *)sets[i], n) < n) {
            snprintf(err, err_len, "--set %s: not printable UTF-8 text", sets[i]);
            return -1;
        }
    }
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (diag == NULL) {
        snprintf(err, err_len, "%s: out of memory", path);
        return -1;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg;
    memset(&pcfg, 0, sizeof pcfg);
    pcfg.flags = FYPCF_QUIET;
    pcfg.diag = diag;
    struct fy_document *doc = fy_document_build_from_string(&pcfg, text, len);
    int rc = 0;
    if (doc == NULL) {
        void *it = NULL;
        struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
        bool blank = true;
        for (size_t i = 0; i < len && blank; i++) {
            blank = text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t';
        }
        if (e != NULL) {
            snprintf(err, err_len, "%s:%d:%d: YAML syntax error: %s", path, e->line, e->column,
                     e->msg != NULL ? e->msg : "?");
            rc = -1;
        } else if (!blank) {
            /* Nothing but comments (or a parser error libfyaml did not explain). */
            doc = fy_document_build_from_string(&pcfg, "{}", 2);
            if (doc == NULL) {
                snprintf(err, err_len, "%s: not a YAML document", path);
                rc = -1;
            }
        } else {
            doc = fy_document_build_from_string(&pcfg, "{}", 2);
            if (doc == NULL) {
                snprintf(err, err_len, "%s: out of memory", path);
                rc = -1;
            }
        }
    }
    struct loader *ld = NULL;
    if (rc == 0) {
        ld = calloc(1, sizeof *ld);
        if (ld == NULL) {
            snprintf(err, err_len, "%s: out of memory", path);
            rc = -1;
        }
    }
    if (rc == 0) {
        ld->path = path;
        ld->err = err;
        ld->err_len = err_len;
        ld->doc = doc;
        ld->diag = diag;
        ld->sc = sc;
        struct fy_node *root = fy_document_root(doc);
        if (root != NULL && !fy_node_is_null(root) && !fy_node_is_mapping(root)) {
            rc = fail(ld, root, NULL,
                      "a scenario is a mapping of keys (name, ensemble, faults, "
                      "expect...), got %s",
                      what(root));
        }
        for (size_t i = 0; rc == 0 && i < set_count; i++) {
            rc = apply_set(ld, sets[i]);
        }
        if (rc == 0) {
            /* A duration changed by --set bounds the fault times too: read it first. */
            rc = load_root(ld, fy_document_root(doc));
        }
        if (rc == 0 && sim_scenario_check(sc, err, err_len) != 0) {
            rc = -1;
        }
    }
    free(ld);
    if (doc != NULL) {
        fy_document_destroy(doc);
    }
    fy_diag_destroy(diag);
    return rc;
}
