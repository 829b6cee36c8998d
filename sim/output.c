/* coordsim's records and results: the trace as it happens (trace.jsonl), the
 * operations (history.jsonl), the checkers' verdicts against the scenario's
 * expectations (summary.json) and the plot data (plot/NAME.dat). Every number is
 * printed from simulated state with a fixed format, so the same scenario and
 * seed give the same bytes. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "coord/txn.h"
#include "sim.h"

/* ZAB's agreement, from every server's applies: zxid -> the first content
 * hash seen and the servers (bit per id) that applied it. */
struct applied
{
    uint64_t hash;
    uint32_t servers;
};
static struct coord_u64map applied_map;
static uint64_t zxid_conflicts;
static uint64_t conflict_zxid;
static struct coord_u64map sessions_seen;    /* Created (first trace). */
static struct coord_u64map sessions_expired; /* Expired or closed (first trace). */
static bool maps_ready;

static void maps_init(void)
{
    if (!maps_ready) {
        coord_u64map_init(&applied_map);
        coord_u64map_init(&sessions_seen);
        coord_u64map_init(&sessions_expired);
        maps_ready = true;
    }
}

void sim_output_free(void);
void sim_output_free(void)
{
    if (maps_ready) {
        size_t pos = 0;
        uint64_t key;
        void *value;
        while (coord_u64map_next(&applied_map, &pos, &key, &value)) {
            free(value);
        }
        coord_u64map_free(&applied_map);
        coord_u64map_free(&sessions_seen);
        coord_u64map_free(&sessions_expired);
        maps_ready = false;
    }
}

void sim_trace_json(const char *fmt, ...)
{
    if (sim_w->trace == NULL) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(sim_w->trace, fmt, ap);
    va_end(ap);
    fputc('\n', sim_w->trace);
}

static const char *role_name(int role)
{
    switch (role) {
        case COORD_ROLE_STANDALONE:
            return "standalone";
        case COORD_ROLE_LOOKING:
            return "looking";
        case COORD_ROLE_FOLLOWING:
            return "following";
        case COORD_ROLE_LEADING:
            return "leading";
        case COORD_ROLE_OBSERVING:
            return "observing";
        case -1:
            return "down";
        case -2:
            return "paused";
        default:
            return "unknown";
    }
}

/* plot/roles.dat: the segment the server was in ends now; a new one starts. */
void sim_role_segment(struct sim_node *n, enum coord_role role, int64_t epoch)
{
    double now = sim_now();
    struct sim_role_state *r = &n->role;
    int shown = n->crashed ? -1 : n->paused ? -2 : (int)r->role;
    if (sim_w->roles != NULL && now > r->since) {
        fprintf(sim_w->roles, "%u %.6f %.6f %s %" PRId64 "\n", n->index, r->since, now,
                role_name(shown), r->epoch);
    }
    r->since = now;
    if ((int)role >= 0) {
        r->role = role;
        r->epoch = epoch;
    }
}

/* Safe for JSON: printable ASCII only, no quote or backslash. */
static void json_text(char *out, size_t cap, const char *text, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < cap; i++) {
        char ch = text[i];
        out[k++] = (ch >= 32 && ch < 127 && ch != '"' && ch != '\\') ? ch : '_';
    }
    out[k] = '\0';
}

void sim_trace_core(struct sim_node *n, const struct coord_trace *ev)
{
    struct sim_world *w = sim_w;
    double t = sim_now();
    char text[160] = "";
    if (ev->text != NULL) {
        json_text(text, sizeof text, ev->text, ev->text_len);
    }
    maps_init();
    switch (ev->type) {
        case COORD_TRACE_ROLE:
            if (!n->paused && !n->crashed) {
                sim_role_segment(n, (enum coord_role)ev->a, ev->b);
            } else {
                n->role.role = (enum coord_role)ev->a;
                n->role.epoch = ev->b;
            }
            if (sim_election_observe(&w->election, t, n->index, ev->b, (enum sim_role)ev->a) !=
                SIM_CHECK_OK) {
                sim_fail("out of memory in the election checker");
            }
            sim_trace_json(
                "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"role\",\"role\":\"%s\",\"epoch\":%" PRId64
                ",\"leader\":%" PRId64 ",\"why\":\"%s\"}",
                t, n->name, role_name((int)ev->a), ev->b, ev->c, text);
            break;
        case COORD_TRACE_ELECTION:
            sim_trace_json("{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"election\",\"vote\":%" PRId64
                           ",\"zxid\":\"0x%" PRIx64 "\",\"epoch\":%" PRId64 "}",
                           t, n->name, ev->a, (uint64_t)ev->b, ev->c);
            break;
        case COORD_TRACE_SESSION_CREATED:
            if (coord_u64map_get(&sessions_seen, (uint64_t)ev->a) == NULL) {
                coord_u64map_put(&sessions_seen, (uint64_t)ev->a, (void *)1);
                w->sessions_created++;
                sim_trace_json(
                    "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"session_created\",\"session\":"
                    "\"0x%" PRIx64 "\",\"timeout_ms\":%" PRId64 "}",
                    t, n->name, (uint64_t)ev->a, ev->b);
            }
            break;
        case COORD_TRACE_SESSION_EXPIRED:
        case COORD_TRACE_SESSION_CLOSED:
            if (coord_u64map_get(&sessions_expired, (uint64_t)ev->a) == NULL) {
                bool expired = ev->type == COORD_TRACE_SESSION_EXPIRED;
                coord_u64map_put(&sessions_expired, (uint64_t)ev->a,
                                 (void *)(uintptr_t)(expired ? 2 : 1));
                w->sessions_expired += expired;
                sim_trace_json(
                    "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"session_%s\",\"session\":\"0x%" PRIx64
                    "\"}",
                    t, n->name, expired ? "expired" : "closed", (uint64_t)ev->a);
            }
            break;
        case COORD_TRACE_TXN_APPLIED:
            if (ev->a > 0) {
                struct applied *ap = coord_u64map_get(&applied_map, (uint64_t)ev->a);
                if (ap == NULL) {
                    ap = calloc(1, sizeof *ap);
                    if (ap == NULL || coord_u64map_put(&applied_map, (uint64_t)ev->a, ap) != 0) {
                        free(ap);
                        sim_fail("out of memory in the agreement check");
                        break;
                    }
                    ap->hash = (uint64_t)ev->d;
                } else if (ap->hash != (uint64_t)ev->d) {
                    if (zxid_conflicts++ == 0) {
                        conflict_zxid = (uint64_t)ev->a;
                    }
                }
                ap->servers |= 1u << n->index;
            }
            /* The leader's apply is the commit; the others' would repeat it. */
            if (n->role.role == COORD_ROLE_LEADING) {
                sim_trace_json(
                    "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"commit\",\"zxid\":\"0x%" PRIx64
                    "\",\"type\":%" PRId64 "}",
                    t, n->name, (uint64_t)ev->a, ev->b);
            }
            break;
        case COORD_TRACE_SNAPSHOT:
            sim_trace_json("{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"snapshot\",\"zxid\":\"0x%" PRIx64
                           "\",\"bytes\":%" PRId64 "}",
                           t, n->name, (uint64_t)ev->a, ev->b);
            break;
        case COORD_TRACE_RECOVERED:
            sim_trace_json(
                "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"recovered\",\"zxid\":\"0x%" PRIx64
                "\",\"records\":%" PRId64 ",\"last_logged\":\"0x%" PRIx64 "\"}",
                t, n->name, (uint64_t)ev->a, ev->b, (uint64_t)ev->c);
            break;
        case COORD_TRACE_SYNC: {
            static const char *how[] = {"diff", "trunc", "snap"};
            sim_trace_json("{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"sync\",\"learner\":\"s%" PRId64
                           "\",\"how\":\"%s\",\"learner_zxid\":\"0x%" PRIx64
                           "\",\"from\":\"0x%" PRIx64 "\"}",
                           t, n->name, ev->a, ev->b >= 0 && ev->b <= 2 ? how[ev->b] : "?",
                           (uint64_t)ev->c, (uint64_t)ev->d);
            break;
        }
        case COORD_TRACE_TRUNCATED:
            sim_trace_json(
                "{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"truncated\",\"kept\":\"0x%" PRIx64
                "\",\"dropped\":%" PRId64 "}",
                t, n->name, (uint64_t)ev->a, ev->b);
            break;
        case COORD_TRACE_PROPOSAL:
            sim_trace_json("{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"proposal\",\"zxid\":\"0x%" PRIx64
                           "\",\"sent_to\":%" PRId64 "}",
                           t, n->name, (uint64_t)ev->a, ev->b);
            break;
        case COORD_TRACE_CONN_REJECTED:
            sim_trace_json("{\"t\":%.6f,\"node\":\"%s\",\"kind\":\"conn_rejected\",\"why\":\"%s\"}",
                           t, n->name, text);
            break;
    }
}

struct sim_op *sim_op_add(void)
{
    struct sim_world *w = sim_w;
    if (w->op_count == w->op_cap) {
        w->op_cap = w->op_cap ? w->op_cap * 2 : 1024;
        struct sim_op *grown = realloc(w->ops, w->op_cap * sizeof *w->ops);
        if (grown == NULL) {
            fprintf(stderr, "coordsim: out of memory\n");
            exit(3);
        }
        w->ops = grown;
    }
    struct sim_op *op = &w->ops[w->op_count++];
    memset(op, 0, sizeof *op);
    return op;
}

/* ---- results ---- */

static const char *op_type_name(enum sim_op_type t)
{
    switch (t) {
        case SIM_OP_READ:
            return "read";
        case SIM_OP_WRITE:
            return "write";
        case SIM_OP_CAS:
            return "cas";
        case SIM_OP_CREATE_EPHEMERAL:
            return "create";
        default:
            return "other";
    }
}

static const char *op_status_name(enum sim_op_status s)
{
    switch (s) {
        case SIM_OP_OK:
            return "ok";
        case SIM_OP_FAIL:
            return "fail";
        case SIM_OP_INFO:
            return "info";
        default:
            return "pending";
    }
}

static FILE *open_in(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "coordsim: cannot write %s\n", path);
    }
    return f;
}

static int write_history(const char *dir)
{
    FILE *f = open_in(dir, "history.jsonl");
    FILE *d = open_in(dir, "plot/ops.dat");
    if (f == NULL || d == NULL) {
        if (f) {
            fclose(f);
        }
        if (d) {
            fclose(d);
        }
        return -1;
    }
    fprintf(d, "# invoke_s latency_s type status client server\n");
    double end = sim_w->duration_s;
    for (size_t i = 0; i < sim_w->op_count; i++) {
        const struct sim_op *op = &sim_w->ops[i];
        bool done = op->status == SIM_OP_OK || op->status == SIM_OP_FAIL;
        fprintf(f,
                "{\"i\":%zu,\"client\":%u,\"key\":%u,\"type\":\"%s\",\"status\":\"%s\","
                "\"invoke\":%.6f",
                i, op->client, op->key, op_type_name(op->type), op_status_name(op->status),
                op->invoke_s);
        if (done) {
            fprintf(f, ",\"complete\":%.6f", op->complete_s);
        } else if (op->status == SIM_OP_INFO) {
            fprintf(f, ",\"gave_up\":%.6f", op->complete_s);
        }
        if (op->type == SIM_OP_WRITE || op->type == SIM_OP_CAS ||
            (op->type == SIM_OP_READ && op->status == SIM_OP_OK)) {
            fprintf(f, ",\"value\":%" PRId64, op->value);
        }
        if (op->type == SIM_OP_CAS && (op->status == SIM_OP_OK || op->expect != 0)) {
            fprintf(f, ",\"expect\":%" PRId64, op->expect);
        }
        if (op->err != 0) {
            fprintf(f, ",\"err\":%d,\"error\":\"%s\"", op->err, coord_strerror(op->err));
        }
        if (op->zxid > 0) {
            fprintf(f, ",\"zxid\":\"0x%" PRIx64 "\"", (uint64_t)op->zxid);
        }
        fprintf(f, ",\"server\":%u}\n", op->server);
        double stop = done ? op->complete_s : op->status == SIM_OP_INFO ? op->complete_s : end;
        fprintf(d, "%.6f %.6f %s %s %u %u\n", op->invoke_s, fmax(stop - op->invoke_s, 1e-6),
                op_type_name(op->type), op_status_name(op->status), op->client, op->server);
    }
    int rc = ferror(f) || ferror(d) ? -1 : 0;
    fclose(f);
    fclose(d);
    return rc;
}

static void json_lines(FILE *f, const char *key, const struct sim_check_text *t)
{
    fprintf(f, "\"%s\":[", key);
    for (size_t i = 0; i < t->count; i++) {
        fprintf(f, "%s\"%s\"", i ? "," : "", t->line[i]);
    }
    fprintf(f, "]");
}

struct expectation
{
    const char *name;
    char expected[64];
    char actual[64];
    bool pass;
};

static void expect_add(struct expectation *e,
                       size_t *n,
                       const char *name,
                       bool pass,
                       const char *expected,
                       const char *actual)
{
    e[*n].name = name;
    snprintf(e[*n].expected, sizeof e[*n].expected, "%s", expected);
    snprintf(e[*n].actual, sizeof e[*n].actual, "%s", actual);
    e[*n].pass = pass;
    (*n)++;
}

static void op_figures_json(FILE *f, const char *name, const struct sim_op_figures *o)
{
    fprintf(f,
            "\"%s\":{\"ok\":%zu,\"fail\":%zu,\"info\":%zu,\"pending\":%zu,\"latency_p50_s\":%.6f,"
            "\"latency_p99_s\":%.6f,\"latency_max_s\":%.6f}",
            name, o->ok, o->fail, o->info, o->pending, o->latency_p50_s, o->latency_p99_s,
            o->latency_max_s);
}

/* What each live server holds for each key at the end. */
static size_t final_reads(struct sim_final_read *reads, bool *converged, uint64_t *digests)
{
    size_t count = 0;
    uint64_t first = 0;
    bool any = false;
    *converged = true;
    for (uint32_t s = 1; s <= sim_w->servers; s++) {
        struct sim_node *n = &sim_w->nodes[s];
        digests[s] = 0;
        if (n->crashed || !n->server_up) {
            continue;
        }
        digests[s] = coord_tree_digest(&n->server.tree);
        if (!any) {
            first = digests[s];
            any = true;
        } else if (digests[s] != first) {
            *converged = false;
        }
        if (sim_w->sc->workload != SIM_WORKLOAD_REGISTER) {
            continue;
        }
        for (uint32_t k = 0; k < sim_w->sc->keys; k++) {
            char path[32];
            int len = snprintf(path, sizeof path, "/k%u", k);
            const struct tree_node *tn = coord_tree_get(&n->server.tree, path, (size_t)len);
            if (tn == NULL) {
                continue;
            }
            int32_t dlen = 0;
            const uint8_t *data = coord_tree_node_data(tn, &dlen);
            char buf[24];
            if (data == NULL || dlen <= 0 || dlen >= (int32_t)sizeof buf) {
                continue;
            }
            memcpy(buf, data, (size_t)dlen);
            buf[dlen] = '\0';
            reads[count++] = (struct sim_final_read){k, s, strtoll(buf, NULL, 10)};
        }
    }
    return count;
}

/* Ephemerals still held for a session that expired or closed. */
static size_t stale_ephemerals(void)
{
    size_t stale = 0;
    for (uint32_t s = 1; s <= sim_w->servers; s++) {
        struct sim_node *n = &sim_w->nodes[s];
        if (n->crashed || !n->server_up) {
            continue;
        }
        size_t pos = 0;
        uint64_t session;
        void *value;
        while (coord_u64map_next(&sessions_expired, &pos, &session, &value)) {
            stale += coord_tree_ephemerals_of(&n->server.tree, (coord_session_id)session);
        }
    }
    return stale;
}

int sim_write_results(const char *dir, double wall_s, int *failed)
{
    struct sim_world *w = sim_w;
    const struct sim_scenario *sc = w->sc;
    maps_init();
    *failed = 0;
    if (write_history(dir) != 0) {
        return -1;
    }
    struct sim_figures figs;
    sim_check_figures(w->ops, w->op_count, &figs);
    struct sim_lin_result lin;
    memset(&lin, 0, sizeof lin);
    bool lin_run = sc->workload == SIM_WORKLOAD_REGISTER;
    if (lin_run) {
        sim_check_linearizable(w->ops, w->op_count, NULL, &lin);
    }
    /* What ZooKeeper promises: writes and compare-and-sets alone. */
    struct sim_lin_result linw;
    memset(&linw, 0, sizeof linw);
    if (lin_run) {
        struct sim_op *writes = malloc((w->op_count + 1) * sizeof *writes);
        size_t nw = 0;
        for (size_t i = 0; writes != NULL && i < w->op_count; i++) {
            if (w->ops[i].type == SIM_OP_WRITE || w->ops[i].type == SIM_OP_CAS) {
                writes[nw++] = w->ops[i];
            }
        }
        if (writes == NULL) {
            linw.verdict = SIM_VERDICT_UNKNOWN;
        } else {
            sim_check_linearizable(writes, nw, NULL, &linw);
        }
        free(writes);
    }
    struct sim_election_figures el;
    sim_election_summarize(&w->election, &el);
    struct sim_availability av;
    memset(&av, 0, sizeof av);
    sim_check_availability(w->ops, w->op_count, w->duration_s, 1.0, &av);
    struct sim_final_read *reads =
        calloc((size_t)w->servers * (sc->keys ? sc->keys : 1) + 1, sizeof *reads);
    uint64_t digests[SIM_SERVERS_MAX + 1];
    bool converged = true;
    size_t read_count = reads ? final_reads(reads, &converged, digests) : 0;
    struct sim_final_result fin;
    memset(&fin, 0, sizeof fin);
    sim_check_final(w->ops, w->op_count, reads, read_count, &fin);
    free(reads);
    size_t stale = stale_ephemerals();
    /* A txn applied by fewer than a quorum of voters was never committed: a
     * server applied what it should have dropped. */
    uint64_t orphans = 0, orphan_zxid = 0;
    {
        uint32_t voters = 0;
        for (uint32_t i = 1; i <= sc->servers; i++) {
            voters |= 1u << i;
        }
        size_t pos = 0;
        uint64_t key;
        void *value;
        while (coord_u64map_next(&applied_map, &pos, &key, &value)) {
            const struct applied *ap = value;
            unsigned k = (unsigned)__builtin_popcount(ap->servers & voters);
            if (k < sc->servers / 2 + 1 && (orphans++ == 0 || key < orphan_zxid)) {
                orphan_zxid = key;
            }
        }
    }

    struct expectation ex[16];
    size_t exn = 0;
    char a[64], e[64];
    if (sc->has_linearizable) {
        bool yes = lin_run && lin.verdict == SIM_VERDICT_YES;
        bool no = lin_run && lin.verdict == SIM_VERDICT_NO;
        expect_add(ex, &exn, "linearizable", sc->linearizable ? yes : no,
                   sc->linearizable ? "true" : "false",
                   lin_run ? sim_verdict_name(lin.verdict) : "not checked (no register workload)");
    }
    if (sc->has_linearizable_writes) {
        bool yes = lin_run && linw.verdict == SIM_VERDICT_YES;
        bool no = lin_run && linw.verdict == SIM_VERDICT_NO;
        expect_add(ex, &exn, "linearizable_writes", sc->linearizable_writes ? yes : no,
                   sc->linearizable_writes ? "true" : "false",
                   lin_run ? sim_verdict_name(linw.verdict) : "not checked (no register workload)");
    }
    if (sc->has_max_leaders_per_epoch) {
        snprintf(e, sizeof e, "<= %d", sc->max_leaders_per_epoch);
        snprintf(a, sizeof a, "%zu", el.max_leaders_per_epoch);
        expect_add(ex, &exn, "max_leaders_per_epoch",
                   el.max_leaders_per_epoch <= (size_t)sc->max_leaders_per_epoch, e, a);
    }
    if (sc->has_writes_unavailable_max) {
        snprintf(e, sizeof e, "<= %.3f", sc->writes_unavailable_max_s);
        snprintf(a, sizeof a, "%.3f", av.longest_s);
        expect_add(ex, &exn, "writes_unavailable_s", av.longest_s <= sc->writes_unavailable_max_s,
                   e, a);
    }
    if (sc->has_lost_acked_writes_max) {
        snprintf(e, sizeof e, "<= %d", sc->lost_acked_writes_max);
        snprintf(a, sizeof a, "%zu", fin.lost);
        expect_add(ex, &exn, "lost_acked_writes", fin.lost <= (size_t)sc->lost_acked_writes_max, e,
                   a);
    }
    if (sc->has_min_ok_ops) {
        snprintf(e, sizeof e, ">= %ld", sc->min_ok_ops);
        snprintf(a, sizeof a, "%zu", figs.all.ok);
        expect_add(ex, &exn, "min_ok_ops", (long)figs.all.ok >= sc->min_ok_ops, e, a);
    }
    if (sc->has_leader_changes_min || sc->has_leader_changes_max) {
        bool pass = true;
        e[0] = '\0';
        if (sc->has_leader_changes_min) {
            pass = pass && el.leader_changes >= (size_t)sc->leader_changes_min;
            snprintf(e, sizeof e, ">= %d", sc->leader_changes_min);
        }
        if (sc->has_leader_changes_max) {
            pass = pass && el.leader_changes <= (size_t)sc->leader_changes_max;
            size_t k = strlen(e);
            snprintf(e + k, sizeof e - k, "%s<= %d", k ? ", " : "", sc->leader_changes_max);
        }
        snprintf(a, sizeof a, "%zu", el.leader_changes);
        expect_add(ex, &exn, "leader_changes", pass, e, a);
    }
    if (sc->has_sessions_expired_min) {
        snprintf(e, sizeof e, ">= %d", sc->sessions_expired_min);
        snprintf(a, sizeof a, "%" PRIu64, w->sessions_expired);
        expect_add(ex, &exn, "sessions_expired",
                   w->sessions_expired >= (uint64_t)sc->sessions_expired_min, e, a);
    }
    if (sc->has_agreement) {
        snprintf(e, sizeof e, "%s", sc->agreement ? "true" : "false");
        bool holds = zxid_conflicts == 0 && orphans == 0;
        if (holds) {
            snprintf(a, sizeof a, "true");
        } else if (zxid_conflicts > 0) {
            snprintf(a, sizeof a, "false: zxid 0x%" PRIx64 " applied with two contents",
                     conflict_zxid);
        } else {
            snprintf(a, sizeof a, "false: zxid 0x%" PRIx64 " applied by a minority", orphan_zxid);
        }
        expect_add(ex, &exn, "agreement", holds == sc->agreement, e, a);
    }
    if (sc->has_converged) {
        expect_add(ex, &exn, "converged", converged == sc->converged,
                   sc->converged ? "true" : "false", converged ? "true" : "false");
    }
    bool pass = w->error[0] == '\0';
    for (size_t i = 0; i < exn; i++) {
        pass = pass && ex[i].pass;
    }
    *failed = !pass;

    FILE *f = open_in(dir, "summary.json");
    if (f == NULL) {
        sim_availability_free(&av);
        return -1;
    }
    fprintf(f, "{\n\"scenario\":\"%s\",\"seed\":%" PRIu64 ",\"duration_s\":%.3f,", sc->name,
            w->seed, sc->duration_s);
    fprintf(f, "\"servers\":%u,\"observers\":%u,\"clients\":%u,\"workload\":\"%s\",\n", sc->servers,
            sc->observers, sc->clients, sim_workload_kind_name(sc->workload));
    fprintf(f, "\"verdict\":\"%s\",\n", pass ? "pass" : "fail");
    if (w->error[0]) {
        char text[600];
        json_text(text, sizeof text, w->error, strlen(w->error));
        fprintf(f, "\"error\":\"%s\",\n", text);
    }
    fprintf(f, "\"expect\":[");
    for (size_t i = 0; i < exn; i++) {
        fprintf(f, "%s\n {\"name\":\"%s\",\"expected\":\"%s\",\"actual\":\"%s\",\"pass\":%s}",
                i ? "," : "", ex[i].name, ex[i].expected, ex[i].actual,
                ex[i].pass ? "true" : "false");
    }
    fprintf(f, "],\n\"ops\":{");
    op_figures_json(f, "all", &figs.all);
    for (int t = SIM_OP_READ; t <= SIM_OP_OTHER; t++) {
        fprintf(f, ",");
        op_figures_json(f, op_type_name((enum sim_op_type)t), &figs.by_type[t]);
    }
    fprintf(f,
            "},\n\"linearizable\":{\"checked\":%s,\"verdict\":\"%s\",\"keys\":%zu,\"ops\":%zu,"
            "\"states\":%" PRIu64 ",",
            lin_run ? "true" : "false", lin_run ? sim_verdict_name(lin.verdict) : "not checked",
            lin.keys, lin.ops, lin.states);
    json_lines(f, "text", &lin.text);
    fprintf(f, "},\n\"linearizable_writes\":{\"verdict\":\"%s\",\"ops\":%zu,",
            lin_run ? sim_verdict_name(linw.verdict) : "not checked", linw.ops);
    json_lines(f, "text", &linw.text);
    fprintf(f,
            "},\n\"election\":{\"max_leaders_per_epoch\":%zu,\"epochs\":%zu,"
            "\"leaderships\":%zu,\"leader_changes\":%zu,\"leaders\":[",
            el.max_leaders_per_epoch, el.epochs, el.leaderships, el.leader_changes);
    for (size_t i = 0; i < w->election.count; i++) {
        const struct sim_leadership *l = &w->election.leaderships[i];
        fprintf(f, "%s{\"epoch\":%" PRId64 ",\"node\":\"s%u\",\"at\":%.6f}", i ? "," : "", l->epoch,
                l->node, l->at_s);
    }
    fprintf(f, "],");
    json_lines(f, "text", &el.text);
    fprintf(f,
            "},\n\"availability\":{\"writes_attempted\":%zu,\"writes_ok\":%zu,"
            "\"longest_unavailable_s\":%.6f,\"longest\":[%.6f,%.6f],\"unavailable_at_end\":%s,"
            "\"windows_over_1s\":[",
            av.writes_attempted, av.writes_ok, av.longest_s, av.longest.start_s, av.longest.end_s,
            av.unavailable_at_end ? "true" : "false");
    for (size_t i = 0; i < av.window_count; i++) {
        fprintf(f, "%s[%.6f,%.6f]", i ? "," : "", av.windows[i].start_s, av.windows[i].end_s);
    }
    fprintf(f,
            "]},\n\"final\":{\"reads\":%zu,\"lost\":%zu,\"diverged\":%zu,\"converged\":%s,"
            "\"stale_ephemerals\":%zu,\"digests\":{",
            fin.reads, fin.lost, fin.diverged, converged ? "true" : "false", stale);
    bool first = true;
    for (uint32_t s = 1; s <= w->servers; s++) {
        if (w->nodes[s].crashed || !w->nodes[s].server_up) {
            continue;
        }
        fprintf(f, "%s\"s%u\":\"%016" PRIx64 "\"", first ? "" : ",", s, digests[s]);
        first = false;
    }
    fprintf(f, "},");
    json_lines(f, "text", &fin.text);
    fprintf(f,
            "},\n\"agreement\":{\"txns\":%zu,\"zxid_conflicts\":%" PRIu64
            ",\"applied_by_a_minority\":%" PRIu64 "}",
            applied_map.count, zxid_conflicts, orphans);
    fprintf(f,
            ",\n\"sessions\":{\"created\":%" PRIu64 ",\"expired\":%" PRIu64
            ",\"watch_events\":%" PRIu64 "},\n",
            w->sessions_created, w->sessions_expired, w->watch_events);
    const struct sim_counters *c = &w->count;
    fprintf(f,
            "\"network\":{\"peer_sent\":%" PRIu64 ",\"peer_delivered\":%" PRIu64
            ",\"peer_dropped_by_cuts\":%" PRIu64 ",\"peer_dropped_on_broken\":%" PRIu64
            ",\"client_sent\":%" PRIu64 ",\"client_delivered\":%" PRIu64
            ",\"client_dropped\":%" PRIu64 ",\"peer_breaks\":%" PRIu64 ",\"conn_breaks\":%" PRIu64
            "},\n",
            c->peer_sent, c->peer_delivered, c->peer_dropped_cut, c->peer_dropped_down,
            c->client_sent, c->client_delivered, c->client_dropped, c->peer_breaks, c->conn_breaks);
    fprintf(f, "\"server_events\":%" PRIu64 "\n}\n", c->events);
    fclose(f);

    FILE *m = open_in(dir, "plot/meta.dat");
    if (m != NULL) {
        fprintf(m, "name %s\nseed %" PRIu64 "\nduration %.3f\nservers %u\nclients %u\nverdict %s\n",
                sc->name, w->seed, w->duration_s, w->servers, w->clients, pass ? "pass" : "fail");
        fclose(m);
    }

    /* On the terminal: the verdict and why. */
    printf("%s (seed %" PRIu64 "): %s\n", sc->name, w->seed, pass ? "PASS" : "FAIL");
    printf("  ops: %zu ok, %zu fail, %zu info, %zu pending; linearizable: %s (writes alone: %s)\n",
           figs.all.ok, figs.all.fail, figs.all.info, figs.all.pending,
           lin_run ? sim_verdict_name(lin.verdict) : "not checked",
           lin_run ? sim_verdict_name(linw.verdict) : "not checked");
    printf(
        "  leaders: %zu leaderships in %zu epochs, %zu changes, at most %zu per epoch; "
        "longest write outage %.3f s\n",
        el.leaderships, el.epochs, el.leader_changes, el.max_leaders_per_epoch, av.longest_s);
    for (size_t i = 0; i < exn; i++) {
        printf("  %s %-22s expected %s, got %s\n", ex[i].pass ? "ok  " : "FAIL", ex[i].name,
               ex[i].expected, ex[i].actual);
    }
    if (w->error[0]) {
        printf("  FAIL run error: %s\n", w->error);
    }
    for (size_t i = 0; lin_run && lin.verdict != SIM_VERDICT_YES && i < lin.text.count; i++) {
        printf("    %s\n", lin.text.line[i]);
    }
    for (size_t i = 0; lin_run && linw.verdict != SIM_VERDICT_YES && i < linw.text.count; i++) {
        printf("    %s\n", linw.text.line[i]);
    }
    for (size_t i = 0; i < fin.text.count; i++) {
        printf("    %s\n", fin.text.line[i]);
    }
    printf("  %.0f simulated s in %.2f wall s (%.0fx)\n", w->duration_s, wall_s,
           wall_s > 0 ? w->duration_s / wall_s : 0);
    sim_availability_free(&av);
    return 0;
}
