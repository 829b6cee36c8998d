/* Micro-benchmark of the znode tree: how fast transactions apply, and how much
 * memory a znode costs beyond its path and data.
 *
 *   1. 1,000,000 creates of 100-byte znodes (/bench/pK/nNNNNNNNNNN under 8
 *      parents), prepared and encoded beforehand, then decoded; only
 *      coord_tree_apply is timed. Separately: prepare + apply, as a standalone
 *      server does per write.
 *   2. One setData of 100 bytes on each of those nodes, the same two ways.
 *   3. Bytes per znode beyond path and data: the tree's own mem_bytes
 *      accounting, and the process's RSS growth (/proc/self/statm) while the
 *      decoded creates are applied, divided by the node count.
 *
 * Usage: bench_tree [node_count] */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coord/tree.h"
#include "coord/txn.h"

#define BENCH_PARENTS 8
#define BENCH_DATA_BYTES 100
#define BENCH_PATH_MAX 64

static const struct coord_acl acl_open[1] = {{COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}}};
static const struct coord_ident bench_ids[1] = {{{"ip", 2}, {"127.0.0.1", 9}}};
static const struct coord_authinfo bench_auth = {bench_ids, 1, false};

/* Wall time (CLOCK_MONOTONIC) and this process's CPU time: on a shared
 * machine the second is the steadier figure. */
struct span
{
    double wall_s;
    double cpu_s;
};

static double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct span span_start(void)
{
    return (struct span){clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID)};
}

static struct span span_since(struct span start)
{
    return (struct span){clock_s(CLOCK_MONOTONIC) - start.wall_s,
                         clock_s(CLOCK_PROCESS_CPUTIME_ID) - start.cpu_s};
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size_pages = 0, resident_pages = 0;
    if (f == NULL || fscanf(f, "%lu %lu", &size_pages, &resident_pages) != 2) {
        fprintf(stderr, "cannot read /proc/self/statm\n");
        exit(1);
    }
    fclose(f);
    return (size_t)resident_pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void die_unless(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench_tree: %s failed\n", what);
        exit(1);
    }
}

static size_t bench_path(char *out, size_t i)
{
    return (size_t)snprintf(out, BENCH_PATH_MAX, "/bench/p%zu/n%010zu", i % BENCH_PARENTS, i);
}

/* A log of encoded transactions and where each one starts. */
struct bench_log
{
    struct coord_buf bytes;
    size_t *offsets;
    size_t count;
};

static void log_init(struct bench_log *log, size_t count)
{
    coord_buf_init(&log->bytes);
    log->offsets = calloc(count + 1, sizeof *log->offsets);
    die_unless(log->offsets != NULL, "calloc");
    log->count = 0;
}

static void log_append(struct bench_log *log, const struct coord_txn *txn)
{
    coord_txn_encode(txn, &log->bytes);
    die_unless(!log->bytes.failed, "encode");
    log->offsets[++log->count] = log->bytes.len;
}

static void log_free(struct bench_log *log)
{
    coord_buf_free(&log->bytes);
    free(log->offsets);
}

static struct coord_txn *log_decode_all(const struct bench_log *log)
{
    struct coord_txn *txns = calloc(log->count, sizeof *txns);
    die_unless(txns != NULL, "calloc");
    for (size_t i = 0; i < log->count; i++) {
        int rc = coord_txn_decode(log->bytes.data + log->offsets[i],
                                  log->offsets[i + 1] - log->offsets[i], &txns[i]);
        die_unless(rc == COORD_OK, "decode");
    }
    return txns;
}

static void txns_free(struct coord_txn *txns, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        coord_txn_release(&txns[i]);
    }
    free(txns);
}

static struct span apply_all(struct coord_tree *t, const struct coord_txn *txns, size_t count)
{
    struct span start = span_start();
    for (size_t i = 0; i < count; i++) {
        if (coord_tree_apply(t, &txns[i], NULL, 0) != COORD_OK) {
            die_unless(0, "apply");
        }
    }
    return span_since(start);
}

static struct coord_op bench_create_op(const char *path, size_t len, const uint8_t *data)
{
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = COORD_OP_CREATE;
    op.path.ptr = path;
    op.path.len = (int32_t)len;
    op.data = data;
    op.data_len = BENCH_DATA_BYTES;
    op.acl = acl_open;
    op.acl_count = 1;
    op.version = -1;
    return op;
}

/* Prepare one op against t and apply it, as a standalone server does. */
static void prep_apply(struct coord_prep *p,
                       struct coord_tree *t,
                       const struct coord_op *op,
                       coord_zxid zxid,
                       struct bench_log *log)
{
    static const struct coord_caller caller = {0x0100000000000001LL, 1, &bench_auth};
    struct coord_txn txn;
    die_unless(coord_prep_op(p, t, &caller, op, zxid, 1700000000000LL + zxid, &txn) == COORD_OK,
               "prep");
    if (log != NULL) {
        log_append(log, &txn);
    }
    die_unless(coord_tree_apply(t, &txn, NULL, 0) == COORD_OK, "apply");
    coord_prep_applied(p, zxid);
}

/* The parents, then `count` creates (or setDatas when `set_data`): prepared
 * and applied on t; logged when log != NULL. Returns the time spent. */
static struct span prep_apply_all(struct coord_tree *t,
                                  size_t count,
                                  bool set_data,
                                  coord_zxid *zxid,
                                  const uint8_t *data,
                                  struct bench_log *log)
{
    struct coord_prep p;
    coord_prep_init(&p);
    char path[BENCH_PATH_MAX];
    if (!set_data) {
        static const char *const parents[] = {"/bench",    "/bench/p0", "/bench/p1",
                                              "/bench/p2", "/bench/p3", "/bench/p4",
                                              "/bench/p5", "/bench/p6", "/bench/p7"};
        for (size_t i = 0; i < sizeof parents / sizeof parents[0]; i++) {
            struct coord_op op = bench_create_op(parents[i], strlen(parents[i]), NULL);
            op.data_len = -1;
            prep_apply(&p, t, &op, ++*zxid, log);
        }
    }
    struct span start = span_start();
    for (size_t i = 0; i < count; i++) {
        size_t len = bench_path(path, i);
        struct coord_op op = bench_create_op(path, len, data);
        if (set_data) {
            op.type = COORD_OP_SETDATA;
        }
        prep_apply(&p, t, &op, ++*zxid, log);
    }
    struct span elapsed = span_since(start);
    coord_prep_close(&p);
    return elapsed;
}

static void print_rate(const char *what, size_t count, struct span t)
{
    printf("  %-36s %11.0f %9.1f %11.0f %9.1f\n", what, (double)count / t.wall_s,
           t.wall_s * 1e9 / (double)count, (double)count / t.cpu_s, t.cpu_s * 1e9 / (double)count);
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    die_unless(count > 0, "node count");
    uint8_t data[BENCH_DATA_BYTES];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 7 + 1);
    }
    double path_bytes = 0;
    char path[BENCH_PATH_MAX];
    for (size_t i = 0; i < count; i++) {
        path_bytes += (double)bench_path(path, i);
    }
    path_bytes /= (double)count;

    /* The creates: prepared on a scratch tree and logged. */
    struct coord_tree scratch;
    die_unless(coord_tree_init(&scratch) == COORD_OK, "init");
    struct bench_log creates;
    log_init(&creates, count + BENCH_PARENTS + 1);
    coord_zxid zxid = 0;
    struct span prep_encode_s = prep_apply_all(&scratch, count, false, &zxid, data, &creates);
    struct coord_txn *create_txns = log_decode_all(&creates);

    /* Applying the decoded creates to a fresh tree: time and memory. */
    struct coord_tree tree;
    die_unless(coord_tree_init(&tree) == COORD_OK, "init");
    size_t mem_before = tree.mem_bytes;
    size_t rss_before = rss_bytes();
    struct span create_apply_s = apply_all(&tree, create_txns, creates.count);
    size_t rss_after = rss_bytes();
    size_t nodes = tree.count - 4 - (BENCH_PARENTS + 1);
    die_unless(nodes == count, "node count after apply");
    double mem_per_node = (double)(tree.mem_bytes - mem_before) / (double)creates.count;
    double rss_per_node = (double)(rss_after - rss_before) / (double)creates.count;

    /* setData on every node: prepared and logged on the scratch tree. */
    struct bench_log sets;
    log_init(&sets, count);
    coord_zxid set_zxid = zxid;
    prep_apply_all(&scratch, count, true, &set_zxid, data, &sets);
    struct coord_txn *set_txns = log_decode_all(&sets);
    struct span set_apply_s = apply_all(&tree, set_txns, sets.count);
    die_unless(coord_tree_digest(&tree) == coord_tree_digest(&scratch), "digests agree");
    txns_free(set_txns, sets.count);
    log_free(&sets);
    txns_free(create_txns, creates.count);
    log_free(&creates);
    coord_tree_close(&scratch);
    coord_tree_close(&tree);

    /* Prepare + apply, no log, on a fresh tree. */
    struct coord_tree live;
    die_unless(coord_tree_init(&live) == COORD_OK, "init");
    zxid = 0;
    struct span create_prep_s = prep_apply_all(&live, count, false, &zxid, data, NULL);
    struct span set_prep_s = prep_apply_all(&live, count, true, &zxid, data, NULL);
    coord_tree_close(&live);

    printf("bench_tree: %zu znodes of %d data bytes under %d parents, average path %.1f bytes\n",
           count, BENCH_DATA_BYTES, BENCH_PARENTS, path_bytes);
    printf("  %-36s %11s %9s %11s %9s\n", "throughput", "wall txn/s", "ns/txn", "cpu txn/s",
           "ns/txn");
    print_rate("create: apply decoded txns", count, create_apply_s);
    print_rate("create: prepare + apply", count, create_prep_s);
    print_rate("create: prepare + encode + apply", count, prep_encode_s);
    print_rate("setData: apply decoded txns", count, set_apply_s);
    print_rate("setData: prepare + apply", count, set_prep_s);
    printf("  %-36s %11s %21s\n", "memory per znode (bytes)", "total", "beyond path+data");
    printf("  %-36s %11.1f %21.1f\n", "tree mem_bytes accounting", mem_per_node,
           mem_per_node - path_bytes - BENCH_DATA_BYTES);
    printf("  %-36s %11.1f %21.1f\n", "process RSS growth while applying", rss_per_node,
           rss_per_node - path_bytes - BENCH_DATA_BYTES);
    return 0;
}
