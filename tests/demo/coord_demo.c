/* coord_demo: the master-worker example of the ZooKeeper book, played step by
 * step on one coord server inside the deterministic fixture (virtual time,
 * simulated clients, real ZooKeeper wire bytes).
 *
 *   master crash:        the backup master watches /master; when the primary's
 *                        session expires its ephemeral /master goes, the watch
 *                        fires and the backup takes over (never two masters).
 *   worker crash:        each worker's ephemeral /workers/<name> goes with its
 *                        session; the master's child watch fires and it
 *                        reassigns the dead worker's tasks.
 *   communication loss:  a client cut off keeps its session until the timeout,
 *                        so a short network hiccup does not lose its role.
 *
 * Usage: coord_demo [--seed N]. The same seed prints the same run. Exits 0 when
 * every check along the way held, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

static int failures;

static void say(const struct cluster *c, const char *who, const char *what)
{
    printf("[%8.3f s] %-9s %s\n", (double)c->now_ms / 1000.0, who, what);
}

static void check(const struct cluster *c, bool ok, const char *what)
{
    printf("[%8.3f s]           check: %s ... %s\n", (double)c->now_ms / 1000.0, what,
           ok ? "ok" : "FAILED");
    if (!ok) {
        failures++;
    }
}

static const char *err_name(int err)
{
    const char *name = coord_errname(err);
    return name != NULL ? name + strlen("COORD_") : "?";
}

static void show(const struct cluster *c,
                 const char *who,
                 const char *request,
                 int err,
                 const struct cluster_reply *r)
{
    char line[1024];
    if (err != COORD_OK) {
        snprintf(line, sizeof line, "%-40s -> %s", request, err_name(err));
    } else if (r != NULL && r->path != NULL) {
        snprintf(line, sizeof line, "%-40s -> %s (zxid 0x%llx)", request, r->path,
                 (unsigned long long)r->zxid);
    } else {
        snprintf(line, sizeof line, "%-40s -> OK (zxid 0x%llx)", request,
                 r != NULL ? (unsigned long long)r->zxid : 0ULL);
    }
    say(c, who, line);
}

/* A client with a name, connected to the one server. */
struct actor
{
    const char *name;
    struct cluster_client *cl;
    size_t notes_seen;
};

static void actor_connect(struct cluster *c, struct actor *a, int32_t timeout_ms)
{
    a->cl = cluster_client_new(c);
    int rc = cluster_client_connect(c, a->cl, 0, timeout_ms, 0, NULL);
    char line[160];
    snprintf(line, sizeof line, "connects: session 0x%llx, timeout %d ms -> %s",
             (unsigned long long)a->cl->session_id, a->cl->timeout_ms, err_name(rc));
    say(c, a->name, line);
    /* Pings every third of the timeout, as the C client does. */
    cluster_client_set_ping(c, a->cl, a->cl->timeout_ms / 3);
}

/* Print the watch events this actor received since last time. */
static size_t actor_events(const struct cluster *c, struct actor *a)
{
    static const char *const names[] = {"", "NodeCreated", "NodeDeleted", "NodeDataChanged",
                                        "NodeChildrenChanged"};
    size_t fresh = 0;
    for (; a->notes_seen < a->cl->note_count; a->notes_seen++, fresh++) {
        const struct cluster_notification *n = &a->cl->notes[a->notes_seen];
        char line[256];
        snprintf(line, sizeof line, "watch event: %s %s",
                 n->type >= 1 && n->type <= 4 ? names[n->type] : "?", n->path);
        say(c, a->name, line);
    }
    return fresh;
}

static int create(struct cluster *c,
                  struct actor *a,
                  const char *path,
                  const char *data,
                  int32_t flags,
                  char *out_path,
                  size_t out_len)
{
    struct cluster_reply r;
    int rc = cluster_create(c, a->cl, path, data, flags, &r);
    static const char *const modes[] = {"", " (ephemeral)", " (sequential)",
                                        " (ephemeral sequential)"};
    char req[200];
    snprintf(req, sizeof req, "create %s%s", path, flags >= 0 && flags <= 3 ? modes[flags] : "");
    show(c, a->name, req, rc, &r);
    if (rc == COORD_OK && out_path != NULL) {
        snprintf(out_path, out_len, "%s", r.path);
    }
    return rc;
}

static bool wait_event(struct cluster *c, struct actor *a, int64_t max_ms)
{
    size_t before = a->cl->note_count;
    int64_t end = c->now_ms + max_ms;
    while (a->cl->note_count == before && c->now_ms < end) {
        if (!cluster_step(c)) {
            break;
        }
    }
    return a->cl->note_count > before;
}

static int children(struct cluster *c,
                    struct actor *a,
                    const char *path,
                    bool watch,
                    struct cluster_reply *r)
{
    int rc = cluster_children(c, a->cl, path, watch, r);
    char line[512];
    int n = snprintf(line, sizeof line, "ls %s%s -> ", path, watch ? " (watch)" : "");
    if (rc != COORD_OK) {
        snprintf(line + n, sizeof line - (size_t)n, "%s", err_name(rc));
    } else {
        for (int32_t i = 0; i < r->string_count && n < (int)sizeof line - 40; i++) {
            n += snprintf(line + n, sizeof line - (size_t)n, "%s%s", i ? " " : "[", r->strings[i]);
        }
        snprintf(line + n, sizeof line - (size_t)n, "%s", r->string_count ? "]" : "[]");
    }
    say(c, a->name, line);
    return rc;
}

/* Who holds /master now, by its data. */
static void master_is(struct cluster *c, struct actor *reader, const char *expected)
{
    struct cluster_reply r;
    int rc = cluster_get(c, reader->cl, "/master", false, &r);
    char what[160];
    snprintf(what, sizeof what, "/master is held by %s (ephemeralOwner 0x%llx)",
             rc == COORD_OK && r.data != NULL ? (const char *)r.data : "nobody",
             rc == COORD_OK ? (unsigned long long)r.stat.ephemeral_owner : 0ULL);
    say(c, reader->name, what);
    char label[96];
    snprintf(label, sizeof label, "%s holds /master", expected);
    check(c, rc == COORD_OK && r.data != NULL && strcmp((const char *)r.data, expected) == 0,
          label);
}

int main(int argc, char **argv)
{
    uint64_t seed = 42;
    if (argc == 3 && strcmp(argv[1], "--seed") == 0) {
        seed = strtoull(argv[2], NULL, 10);
    }
    struct coord_config cfg = {.tick_ms = 500};
    static struct cluster c;
    if (cluster_init(&c, 1, seed, &cfg) != COORD_OK) {
        fprintf(stderr, "coord_demo: cannot start the fixture\n");
        return 1;
    }
    printf(
        "coord demo: the master-worker system on one coord server (tickTime 500 ms),\n"
        "in virtual time, seed %llu. Sessions time out after 3 s without a frame.\n\n",
        (unsigned long long)seed);

    struct actor ma = {"master-a", NULL, 0}, mb = {"master-b", NULL, 0};
    struct actor w1 = {"worker-1", NULL, 0}, w2 = {"worker-2", NULL, 0};
    struct actor cl = {"client", NULL, 0};
    printf("--- 1. Everybody connects; the masters race for /master\n");
    actor_connect(&c, &ma, 3000);
    actor_connect(&c, &mb, 3000);
    actor_connect(&c, &w1, 3000);
    actor_connect(&c, &w2, 3000);
    actor_connect(&c, &cl, 3000);
    create(&c, &ma, "/workers", "", COORD_MODE_PERSISTENT, NULL, 0);
    create(&c, &ma, "/tasks", "", COORD_MODE_PERSISTENT, NULL, 0);
    create(&c, &ma, "/assign", "", COORD_MODE_PERSISTENT, NULL, 0);
    check(&c, create(&c, &ma, "/master", "master-a", COORD_MODE_EPHEMERAL, NULL, 0) == COORD_OK,
          "master-a became the primary master");
    check(
        &c,
        create(&c, &mb, "/master", "master-b", COORD_MODE_EPHEMERAL, NULL, 0) == COORD_ENODEEXISTS,
        "master-b cannot: /master exists");
    struct cluster_reply r;
    int rc = cluster_exists(&c, mb.cl, "/master", true, &r);
    show(&c, mb.name, "exists /master (watch): back up the master", rc, &r);

    printf("\n--- 2. Workers register (ephemeral) and the master watches the list\n");
    create(&c, &w1, "/workers/worker-1", "idle", COORD_MODE_EPHEMERAL, NULL, 0);
    create(&c, &w2, "/workers/worker-2", "idle", COORD_MODE_EPHEMERAL, NULL, 0);
    create(&c, &ma, "/assign/worker-1", "", COORD_MODE_PERSISTENT, NULL, 0);
    create(&c, &ma, "/assign/worker-2", "", COORD_MODE_PERSISTENT, NULL, 0);
    children(&c, &ma, "/workers", true, &r);

    printf("\n--- 3. A client submits tasks (sequential names); the master assigns them\n");
    char tasks[4][64];
    for (int i = 0; i < 4; i++) {
        create(&c, &cl, "/tasks/task-", "cmd", COORD_MODE_PERSISTENT_SEQUENTIAL, tasks[i],
               sizeof tasks[i]);
    }
    for (int i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, "/assign/worker-%d/%s", 1 + i % 2,
                 tasks[i] + strlen("/tasks/"));
        create(&c, &ma, path, "", COORD_MODE_PERSISTENT, NULL, 0);
    }

    printf("\n--- 4. A network hiccup: worker-1 is cut off for 1 s, less than its timeout\n");
    cluster_client_cut(&c, w1.cl);
    say(&c, w1.name, "connection lost");
    cluster_run_for(&c, 1000);
    rc = cluster_client_reconnect(&c, w1.cl, 0);
    char line[160];
    snprintf(line, sizeof line, "reconnects with session 0x%llx -> %s",
             (unsigned long long)w1.cl->session_id, err_name(rc));
    say(&c, w1.name, line);
    cluster_client_set_ping(&c, w1.cl, w1.cl->timeout_ms / 3);
    rc = cluster_exists(&c, ma.cl, "/workers/worker-1", false, &r);
    check(&c, rc == COORD_OK, "worker-1's ephemeral node survived the hiccup");
    check(&c, actor_events(&c, &ma) == 0, "the master saw no change in /workers");

    printf("\n--- 5. Worker crash: worker-2 stops (no more pings); its session expires\n");
    cluster_client_cut(&c, w2.cl);
    say(&c, w2.name, "crashes");
    int64_t crashed = c.now_ms;
    bool fired = wait_event(&c, &ma, 10000);
    actor_events(&c, &ma);
    snprintf(line, sizeof line, "the master noticed %.3f s after the crash (timeout 3 s + tick)",
             (double)(c.now_ms - crashed) / 1000.0);
    say(&c, ma.name, line);
    check(&c, fired && c.now_ms - crashed >= 3000 && c.now_ms - crashed <= 3500 + 100,
          "expiry came between the timeout and the timeout plus one tick");
    children(&c, &ma, "/workers", true, &r);
    check(&c, r.string_count == 1, "only worker-1 is left");
    children(&c, &ma, "/assign/worker-2", false, &r);
    int32_t orphans = r.string_count;
    for (int32_t i = 0; i < orphans; i++) {
        char from[160], to[160];
        snprintf(from, sizeof from, "/assign/worker-2/%s", r.strings[i]);
        snprintf(to, sizeof to, "/assign/worker-1/%s", r.strings[i]);
        /* Move the task in one transaction: create the new, delete the old. */
        struct coord_op ops[2] = {cluster_op_create(to, "", COORD_MODE_PERSISTENT),
                                  cluster_op_delete(from, -1)};
        struct cluster_reply mr;
        rc = cluster_multi(&c, ma.cl, ops, 2, &mr);
        char req[400];
        snprintf(req, sizeof req, "multi{create %s, delete %s}", to, from);
        show(&c, ma.name, req, rc, &mr);
    }
    children(&c, &ma, "/assign/worker-1", false, &r);
    check(&c, r.string_count == 4, "all 4 tasks are now assigned to worker-1");

    printf("\n--- 6. Master crash: master-a stops; master-b's watch fires and it takes over\n");
    master_is(&c, &cl, "master-a");
    cluster_client_cut(&c, ma.cl);
    say(&c, ma.name, "crashes");
    crashed = c.now_ms;
    fired = wait_event(&c, &mb, 10000);
    actor_events(&c, &mb);
    check(&c, fired, "master-b was told /master is gone");
    check(&c, create(&c, &mb, "/master", "master-b", COORD_MODE_EPHEMERAL, NULL, 0) == COORD_OK,
          "master-b became the primary master");
    snprintf(line, sizeof line, "took over %.3f s after master-a crashed",
             (double)(c.now_ms - crashed) / 1000.0);
    say(&c, mb.name, line);
    master_is(&c, &cl, "master-b");
    children(&c, &mb, "/assign/worker-1", false, &r);
    check(&c, r.string_count == 4, "the new master recovers the assignments from coord");

    printf("\n--- 7. Split brain? master-a's session is gone for good\n");
    rc = cluster_client_reconnect(&c, ma.cl, 0);
    snprintf(line, sizeof line, "comes back, reconnects with its old session -> %s", err_name(rc));
    say(&c, ma.name, line);
    check(&c, rc == COORD_ESESSIONEXPIRED,
          "the old master learns its session expired: it must not act as master");

    printf("\n%s: %d check%s failed (seed %llu)\n", failures == 0 ? "demo passed" : "demo FAILED",
           failures, failures == 1 ? "" : "s", (unsigned long long)seed);
    cluster_close(&c);
    return failures == 0 ? 0 : 1;
}
