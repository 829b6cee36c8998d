/* The acceptance test of determinism: one random log of 100,000 transactions
 * (every create mode, deletes, setData, setACL, multi, sessions opening and
 * closing), prepared against tree A, encoded, then decoded and applied to
 * tree B, and to tree C restored from a snapshot of B taken halfway, gives
 * the same digest everywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/acl.h"
#include "coord/tree.h"
#include "coord/txn.h"

#define LOG_TXNS 100000
#define SNAPSHOT_AT 50000
#define SESSIONS 5
#define MULTI_OPS_MAX 5
#define RECENT_MAX 64
#define PATH_MAX_BYTES 64
#define SEED 20240601u

static const struct coord_acl acl_open[1] = {{COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}}};
static const struct coord_acl acl_no_admin[1] = {
    {COORD_PERM_ALL & ~COORD_PERM_ADMIN, {{"world", 5}, {"anyone", 6}}}};
static const struct coord_acl acl_alice[2] = {
    {COORD_PERM_READ, {{"world", 5}, {"anyone", 6}}},
    {COORD_PERM_ALL, {{"digest", 6}, {"alice:c2VjcmV0", 14}}},
};
static const struct coord_acl acl_auth[1] = {{COORD_PERM_ALL, {{"auth", 4}, {"", 0}}}};

static const struct coord_ident ids_plain[1] = {{{"ip", 2}, {"10.0.0.7", 8}}};
static const struct coord_ident ids_alice[2] = {
    {{"ip", 2}, {"10.0.0.8", 8}},
    {{"digest", 6}, {"alice:c2VjcmV0", 14}},
};

/* What the generator counts, to show that the log exercises every path. */
struct tally
{
    size_t ok_by_mode[7];
    size_t failed;
    size_t deletes;
    size_t set_data;
    size_t set_acl;
    size_t multi_ok;
    size_t multi_failed;
    size_t closes;
    size_t ephemerals_closed;
};

struct gen
{
    struct coord_rng rng;
    struct coord_tree tree; /* Tree A: the preparer's. */
    struct coord_prep prep;
    struct coord_authinfo auths[2];
    struct coord_caller callers[SESSIONS];
    uint8_t noise[256];
    /* Paths made by sequential creates, for later ops to aim at. */
    char recent[RECENT_MAX][PATH_MAX_BYTES];
    size_t recent_count;
    struct coord_buf log;
    size_t *offsets; /* offsets[i]..offsets[i+1] is txn i. */
    struct tally tally;
};

static void random_path(struct gen *g, char *out)
{
    uint64_t r = coord_rng_below(&g->rng, 100);
    if (r < 15 && g->recent_count > 0) {
        size_t i = (size_t)coord_rng_below(&g->rng, COORD_MIN(g->recent_count, RECENT_MAX));
        memcpy(out, g->recent[i], PATH_MAX_BYTES);
        return;
    }
    unsigned a = (unsigned)coord_rng_below(&g->rng, 8);
    unsigned b = (unsigned)coord_rng_below(&g->rng, 12);
    unsigned c = (unsigned)coord_rng_below(&g->rng, 4);
    if (r < 30) {
        snprintf(out, PATH_MAX_BYTES, "/a%u", a);
    } else if (r < 70) {
        snprintf(out, PATH_MAX_BYTES, "/a%u/b%u", a, b);
    } else {
        snprintf(out, PATH_MAX_BYTES, "/a%u/b%u/c%u", a, b, c);
    }
}

static void random_data(struct gen *g, struct coord_op *op)
{
    if (coord_rng_below(&g->rng, 10) == 0) {
        op->data = NULL;
        op->data_len = -1;
        return;
    }
    size_t len = (size_t)coord_rng_below(&g->rng, 40);
    op->data = g->noise + coord_rng_below(&g->rng, sizeof g->noise - len);
    op->data_len = (int32_t)len;
}

static void random_acl(struct gen *g, struct coord_op *op)
{
    uint64_t r = coord_rng_below(&g->rng, 20);
    op->acl_count = 1;
    op->acl = r < 14 ? acl_open : r < 17 ? acl_no_admin : r < 19 ? acl_auth : acl_alice;
    if (op->acl == acl_alice) {
        op->acl_count = 2;
    }
}

static int32_t random_version(struct gen *g)
{
    return coord_rng_below(&g->rng, 5) == 0 ? (int32_t)coord_rng_below(&g->rng, 3) : -1;
}

/* One random write op; path_buf must outlive the op. */
static void random_op(struct gen *g, struct coord_op *op, char *path_buf, bool in_multi)
{
    memset(op, 0, sizeof *op);
    random_path(g, path_buf);
    op->path.ptr = path_buf;
    op->path.len = (int32_t)strlen(path_buf);
    op->version = random_version(g);
    op->data_len = -1;
    uint64_t r = coord_rng_below(&g->rng, 100);
    if (r < 45) {
        op->type = COORD_OP_CREATE;
        uint64_t m = coord_rng_below(&g->rng, 100);
        op->flags = m < 35   ? COORD_MODE_PERSISTENT
                    : m < 60 ? COORD_MODE_EPHEMERAL
                    : m < 72 ? COORD_MODE_PERSISTENT_SEQUENTIAL
                    : m < 82 ? COORD_MODE_EPHEMERAL_SEQUENTIAL
                    : m < 92 ? COORD_MODE_CONTAINER
                    : m < 96 ? COORD_MODE_PERSISTENT_WITH_TTL
                             : COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
        if (op->flags == COORD_MODE_CONTAINER) {
            op->type = COORD_OP_CREATECONTAINER;
        } else if (op->flags >= COORD_MODE_PERSISTENT_WITH_TTL) {
            op->type = COORD_OP_CREATETTL;
            op->ttl = 1 + (int64_t)coord_rng_below(&g->rng, 100000);
        }
        if (op->flags == COORD_MODE_PERSISTENT_SEQUENTIAL ||
            op->flags == COORD_MODE_EPHEMERAL_SEQUENTIAL ||
            op->flags == COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL) {
            strcat(path_buf, "/s-");
            op->path.len = (int32_t)strlen(path_buf);
        }
        random_data(g, op);
        random_acl(g, op);
    } else if (r < 70) {
        op->type = COORD_OP_DELETE;
    } else if (r < 90 || in_multi) {
        op->type = in_multi && r >= 90 ? COORD_OP_CHECK : COORD_OP_SETDATA;
        if (op->type == COORD_OP_SETDATA) {
            random_data(g, op);
        }
    } else {
        op->type = COORD_OP_SETACL;
        random_acl(g, op);
    }
}

static void remember(struct gen *g, const struct coord_op_result *res)
{
    /* Short enough that a later sequential create may append to it. */
    if (res->path_len < PATH_MAX_BYTES - 16) {
        char *slot = g->recent[g->recent_count % RECENT_MAX];
        memset(slot, 0, PATH_MAX_BYTES);
        memcpy(slot, res->path, res->path_len);
        g->recent_count++;
    }
}

static void count_ok(struct gen *g, const struct coord_op *op, const struct coord_op_result *res)
{
    switch (op->type) {
        case COORD_OP_DELETE:
            g->tally.deletes++;
            break;
        case COORD_OP_SETDATA:
            g->tally.set_data++;
            break;
        case COORD_OP_SETACL:
            g->tally.set_acl++;
            break;
        case COORD_OP_CHECK:
            break;
        default:
            g->tally.ok_by_mode[op->flags]++;
            if (op->flags == COORD_MODE_PERSISTENT_SEQUENTIAL ||
                op->flags == COORD_MODE_EPHEMERAL_SEQUENTIAL ||
                op->flags == COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL) {
                remember(g, res);
            }
            break;
    }
}

static void log_and_apply(struct gen *g,
                          const struct coord_txn *txn,
                          struct coord_op_result *results,
                          size_t cap)
{
    coord_txn_encode(txn, &g->log);
    assert_int_equal(coord_tree_apply(&g->tree, txn, results, cap), COORD_OK);
    coord_prep_applied(&g->prep, txn->zxid);
}

/* Make transaction number i (zxid i + 1), log it and apply it to tree A. */
static void generate_one(struct gen *g, size_t i)
{
    coord_zxid zxid = (coord_zxid)i + 1;
    int64_t now_ms = 1700000000000LL + (int64_t)i * 3;
    struct coord_caller *caller = &g->callers[coord_rng_below(&g->rng, SESSIONS)];
    caller->cxid++;
    struct coord_txn txn;
    uint64_t r = coord_rng_below(&g->rng, 1000);
    if (r < 10) {
        size_t before = g->tree.ephemeral_count;
        assert_int_equal(
            coord_prep_close_session(&g->prep, &g->tree, caller->session, zxid, now_ms, &txn),
            COORD_OK);
        log_and_apply(g, &txn, NULL, 0);
        g->tally.closes++;
        g->tally.ephemerals_closed += before - g->tree.ephemeral_count;
    } else if (r < 20) {
        memset(&txn, 0, sizeof txn);
        txn.type = COORD_OP_CREATESESSION;
        txn.session = caller->session;
        txn.zxid = zxid;
        txn.time_ms = now_ms;
        txn.timeout_ms = 10000;
        log_and_apply(g, &txn, NULL, 0);
    } else if (r < 120) {
        struct coord_op ops[MULTI_OPS_MAX];
        char paths[MULTI_OPS_MAX][PATH_MAX_BYTES];
        struct coord_txn_op tops[MULTI_OPS_MAX];
        struct coord_op_result res[MULTI_OPS_MAX];
        uint32_t count = 1 + (uint32_t)coord_rng_below(&g->rng, MULTI_OPS_MAX);
        for (uint32_t k = 0; k < count; k++) {
            random_op(g, &ops[k], paths[k], true);
        }
        int rc = coord_prep_multi(&g->prep, &g->tree, caller, ops, count, zxid, now_ms, tops, &txn);
        log_and_apply(g, &txn, res, count);
        if (rc == COORD_OK) {
            g->tally.multi_ok++;
            for (uint32_t k = 0; k < count; k++) {
                count_ok(g, &ops[k], &res[k]);
            }
        } else {
            g->tally.multi_failed++;
        }
    } else {
        struct coord_op op;
        char path[PATH_MAX_BYTES];
        struct coord_op_result res;
        random_op(g, &op, path, false);
        int rc = coord_prep_op(&g->prep, &g->tree, caller, &op, zxid, now_ms, &txn);
        log_and_apply(g, &txn, &res, 1);
        if (rc == COORD_OK) {
            count_ok(g, &op, &res);
        } else {
            g->tally.failed++;
        }
    }
    assert_false(g->log.failed);
    g->offsets[i + 1] = g->log.len;
}

static void gen_init(struct gen *g)
{
    memset(g, 0, sizeof *g);
    coord_rng_seed(&g->rng, SEED);
    assert_int_equal(coord_tree_init(&g->tree), COORD_OK);
    coord_prep_init(&g->prep);
    g->prep.ttl_enabled = true;
    g->auths[0] = (struct coord_authinfo){ids_plain, 1, false};
    g->auths[1] = (struct coord_authinfo){ids_alice, 2, false};
    for (size_t i = 0; i < SESSIONS; i++) {
        g->callers[i].session = (coord_session_id)(0x0100000000000000LL + (int64_t)i + 1);
        g->callers[i].auth = &g->auths[i % 2];
    }
    for (size_t i = 0; i < sizeof g->noise; i++) {
        g->noise[i] = (uint8_t)coord_rng_next(&g->rng);
    }
    coord_buf_init(&g->log);
    g->offsets = calloc(LOG_TXNS + 1, sizeof *g->offsets);
    assert_non_null(g->offsets);
}

static void gen_close(struct gen *g)
{
    free(g->offsets);
    coord_buf_free(&g->log);
    coord_prep_close(&g->prep);
    coord_tree_close(&g->tree);
}

static void apply_logged(struct coord_tree *t, const struct gen *g, size_t i)
{
    struct coord_txn txn;
    assert_int_equal(
        coord_txn_decode(g->log.data + g->offsets[i], g->offsets[i + 1] - g->offsets[i], &txn),
        COORD_OK);
    assert_int_equal(txn.zxid, (coord_zxid)i + 1);
    assert_int_equal(coord_tree_apply(t, &txn, NULL, 0), COORD_OK);
    coord_txn_release(&txn);
}

/* Flip one data byte of some node in place: the digest must notice. */
static void assert_one_data_byte_changes_digest(struct coord_tree *t)
{
    uint64_t digest = coord_tree_digest(t);
    for (size_t i = 0; i < t->cap; i++) {
        const struct tree_node *n = t->slots[i];
        int32_t len;
        if (n == NULL || coord_tree_node_data(n, &len) == NULL || len <= 0) {
            continue;
        }
        uint8_t *byte = (uint8_t *)coord_tree_node_data(n, &len) + len / 2;
        *byte ^= 0x10;
        assert_int_not_equal(coord_tree_digest(t), digest);
        *byte ^= 0x10;
        assert_int_equal(coord_tree_digest(t), digest);
        return;
    }
    fail_msg("no node with data");
}

static void test_same_log_gives_same_digest_on_every_replica(void **state)
{
    (void)state;
    struct gen *g = malloc(sizeof *g);
    assert_non_null(g);
    gen_init(g);
    for (size_t i = 0; i < LOG_TXNS; i++) {
        generate_one(g, i);
    }
    /* The log exercised everything it should. */
    for (int mode = 0; mode < 7; mode++) {
        assert_true(g->tally.ok_by_mode[mode] > 50);
    }
    assert_true(g->tally.deletes > 1000);
    assert_true(g->tally.set_data > 1000);
    assert_true(g->tally.set_acl > 100);
    assert_true(g->tally.multi_ok > 100);
    assert_true(g->tally.multi_failed > 100);
    assert_true(g->tally.failed > 1000);
    assert_true(g->tally.ephemerals_closed > 100);
    assert_true(g->tree.count > 200);
    assert_true(g->tree.ephemeral_count > 10);

    struct coord_tree b, c, empty;
    assert_int_equal(coord_tree_init(&b), COORD_OK);
    assert_int_equal(coord_tree_init(&c), COORD_OK);
    assert_int_equal(coord_tree_init(&empty), COORD_OK);
    for (size_t i = 0; i < SNAPSHOT_AT; i++) {
        apply_logged(&b, g, i);
    }
    struct coord_buf snap;
    coord_buf_init(&snap);
    assert_int_equal(coord_tree_snapshot(&b, &snap), COORD_OK);
    struct coord_reader r;
    coord_reader_init(&r, snap.data, snap.len);
    assert_int_equal(coord_tree_restore(&c, &r), COORD_OK);
    assert_int_equal(coord_reader_left(&r), 0);
    coord_buf_free(&snap);
    assert_int_equal(coord_tree_digest(&c), coord_tree_digest(&b));
    for (size_t i = SNAPSHOT_AT; i < LOG_TXNS; i++) {
        apply_logged(&b, g, i);
        apply_logged(&c, g, i);
    }

    const uint64_t digest = coord_tree_digest(&g->tree);
    assert_int_equal(coord_tree_digest(&b), digest);
    assert_int_equal(coord_tree_digest(&c), digest);
    assert_int_not_equal(coord_tree_digest(&empty), digest);
    assert_int_equal(b.count, g->tree.count);
    assert_int_equal(c.count, g->tree.count);
    assert_int_equal(c.data_bytes, g->tree.data_bytes);
    assert_int_equal(c.ephemeral_count, g->tree.ephemeral_count);
    assert_int_equal(c.last_zxid, LOG_TXNS);
    assert_one_data_byte_changes_digest(&b);

    coord_tree_close(&empty);
    coord_tree_close(&c);
    coord_tree_close(&b);
    gen_close(g);
    free(g);
}

/* The digest is a function of content, not of history: two trees built in
 * different orders with the same result agree. */
static void test_digest_ignores_creation_order(void **state)
{
    (void)state;
    struct coord_tree t[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(coord_tree_init(&t[k]), COORD_OK);
        /* The same two nodes, in either order, in one multi (one zxid). */
        struct coord_txn_op ops[2];
        memset(ops, 0, sizeof ops);
        for (int i = 0; i < 2; i++) {
            ops[i].type = COORD_OP_CREATE;
            ops[i].data_len = -1;
            ops[i].acl = acl_open;
            ops[i].acl_count = 1;
            ops[i].parent_cversion = i + 1;
            ops[i].path = (struct coord_str){(k == 0) == (i == 0) ? "/x" : "/y", 2};
        }
        struct coord_txn txn = {0};
        txn.type = COORD_OP_MULTI;
        txn.zxid = 5;
        txn.op_count = 2;
        txn.ops = ops;
        assert_int_equal(coord_tree_apply(&t[k], &txn, NULL, 0), COORD_OK);
    }
    assert_int_equal(coord_tree_digest(&t[0]), coord_tree_digest(&t[1]));
    coord_tree_close(&t[0]);
    coord_tree_close(&t[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_log_gives_same_digest_on_every_replica),
        cmocka_unit_test(test_digest_ignores_creation_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
