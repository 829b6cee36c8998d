/* Transactions: multi (zk-wire §7), the preparer's view of changes in flight
 * (pipelining, closeSession), applying and its refusals, and the binary form
 * (encode/decode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/acl.h"
#include "coord/tree.h"
#include "coord/txn.h"

/* ---- fixture -------------------------------------------------------------------------- */

static const struct coord_acl acl_open[1] = {{COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}}};

#define EVENTS_MAX 64

struct event
{
    int type;
    char path[512];
    coord_zxid zxid;
};

struct events
{
    size_t count;
    struct event ev[EVENTS_MAX];
};

static void record_change(void *arg, int type, const char *path, size_t len, coord_zxid zxid)
{
    struct events *e = arg;
    assert_true(e->count < EVENTS_MAX);
    assert_true(len < sizeof e->ev[0].path);
    e->ev[e->count].type = type;
    memcpy(e->ev[e->count].path, path, len);
    e->ev[e->count].path[len] = '\0';
    e->ev[e->count].zxid = zxid;
    e->count++;
}

static void assert_event(const struct events *e,
                         size_t i,
                         int type,
                         const char *path,
                         coord_zxid zxid)
{
    assert_true(i < e->count);
    assert_int_equal(e->ev[i].type, type);
    assert_string_equal(e->ev[i].path, path);
    assert_int_equal(e->ev[i].zxid, zxid);
}

struct fx
{
    struct coord_tree tree;
    struct coord_prep prep;
    struct events events;
    struct coord_ident ids[1];
    struct coord_authinfo auth;
    struct coord_caller caller;
    coord_zxid zxid; /* The last one used. */
};

#define SESSION_A ((coord_session_id)0x0100000000000001LL)
#define SESSION_B ((coord_session_id)0x0100000000000002LL)
#define TIME_OF(zxid) (1700000000000LL + (zxid)*10)

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(coord_tree_init(&f->tree), COORD_OK);
    coord_prep_init(&f->prep);
    coord_tree_set_change_cb(&f->tree, record_change, &f->events);
    f->ids[0].scheme = (struct coord_str){"ip", 2};
    f->ids[0].id = (struct coord_str){"10.0.0.1", 8};
    f->auth.ids = f->ids;
    f->auth.count = 1;
    f->caller.session = SESSION_A;
    f->caller.cxid = 1;
    f->caller.auth = &f->auth;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    coord_prep_close(&f->prep);
    coord_tree_close(&f->tree);
    free(f);
    return 0;
}

static char last_path[1024];

/* Prepare, apply (the ERROR txn of a failed write too, as a server does),
 * then let the preparer forget what was applied. */
static int prep_and_apply(struct coord_tree *t,
                          struct coord_prep *p,
                          const struct coord_caller *caller,
                          const struct coord_op *op,
                          coord_zxid zxid,
                          int64_t time_ms)
{
    struct coord_txn txn;
    int err = coord_prep_op(p, t, caller, op, zxid, time_ms, &txn);
    struct coord_op_result res[1];
    memset(res, 0, sizeof res);
    assert_int_equal(coord_tree_apply(t, &txn, res, 1), COORD_OK);
    coord_prep_applied(p, zxid);
    if (err == COORD_OK) {
        assert_true(res[0].path_len < sizeof last_path);
        memcpy(last_path, res[0].path, res[0].path_len);
        last_path[res[0].path_len] = '\0';
    }
    return err;
}

static struct coord_op make_op(int32_t type, const char *path)
{
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = type;
    op.path.ptr = path;
    op.path.len = path == NULL ? -1 : (int32_t)strlen(path);
    op.data_len = -1;
    op.acl = acl_open;
    op.acl_count = 1;
    op.version = -1;
    return op;
}

static struct coord_op create_op(const char *path, const char *data, int32_t flags)
{
    struct coord_op op = make_op(COORD_OP_CREATE, path);
    op.data = (const uint8_t *)data;
    op.data_len = data == NULL ? -1 : (int32_t)strlen(data);
    op.flags = flags;
    return op;
}

static struct coord_op versioned_op(int32_t type, const char *path, int32_t version)
{
    struct coord_op op = make_op(type, path);
    op.version = version;
    return op;
}

static int fx_run(struct fx *f, const struct coord_op *op)
{
    f->zxid++;
    return prep_and_apply(&f->tree, &f->prep, &f->caller, op, f->zxid, TIME_OF(f->zxid));
}

static int fx_create(struct fx *f, const char *path, const char *data, int32_t flags)
{
    struct coord_op op = create_op(path, data, flags);
    return fx_run(f, &op);
}

#define MULTI_MAX_TEST 16

/* Prepare a multi, apply it, forget it; `results` gets one entry per op. */
static int fx_multi(struct fx *f,
                    const struct coord_op *ops,
                    uint32_t count,
                    struct coord_op_result *results)
{
    assert_true(count <= MULTI_MAX_TEST);
    struct coord_txn_op tops[MULTI_MAX_TEST];
    struct coord_txn txn;
    f->zxid++;
    int err = coord_prep_multi(&f->prep, &f->tree, &f->caller, ops, count, f->zxid,
                               TIME_OF(f->zxid), tops, &txn);
    assert_int_equal(txn.type, COORD_OP_MULTI);
    assert_int_equal(txn.op_count, count);
    assert_int_equal(coord_tree_apply(&f->tree, &txn, results, count), COORD_OK);
    coord_prep_applied(&f->prep, f->zxid);
    return err;
}

static const struct tree_node *node_at(const struct coord_tree *t, const char *path)
{
    return coord_tree_get(t, path, strlen(path));
}

static struct coord_stat stat_of(const struct coord_tree *t, const char *path)
{
    const struct tree_node *n = node_at(t, path);
    assert_non_null(n);
    struct coord_stat st;
    coord_tree_node_stat(n, &st);
    return st;
}

/* The digest with another last zxid: compares content only. */
static uint64_t digest_at(struct coord_tree *t, coord_zxid zxid)
{
    coord_zxid saved = t->last_zxid;
    t->last_zxid = zxid;
    uint64_t digest = coord_tree_digest(t);
    t->last_zxid = saved;
    return digest;
}

static void assert_result_path(const struct coord_op_result *res, const char *path)
{
    assert_int_equal(res->path_len, strlen(path));
    assert_memory_equal(res->path, path, res->path_len);
}

/* ---- multi (§7) ----------------------------------------------------------------------- */

static void test_multi_is_all_or_nothing_with_per_op_results(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/a", "x", 0), COORD_OK);
    f->events.count = 0;
    uint64_t before = coord_tree_digest(&f->tree);
    const struct coord_op ops[3] = {
        create_op("/x", NULL, 0),
        versioned_op(COORD_OP_CHECK, "/a", 5),
        versioned_op(COORD_OP_DELETE, "/a", -1),
    };
    struct coord_txn_op tops[3];
    struct coord_txn txn;
    assert_int_equal(
        coord_prep_multi(&f->prep, &f->tree, &f->caller, ops, 3, 2, TIME_OF(2), tops, &txn),
        COORD_EBADVERSION);
    /* Logged as a MULTI of ERROR ops: 0 before, the code, -2 after. */
    assert_int_equal(txn.type, COORD_OP_MULTI);
    assert_int_equal(txn.zxid, 2);
    assert_int_equal(txn.op_count, 3);
    static const int32_t codes[3] = {0, COORD_EBADVERSION, COORD_ERUNTIMEINCONSISTENCY};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tops[i].type, COORD_OP_ERROR);
        assert_int_equal(tops[i].err, codes[i]);
    }
    struct coord_op_result res[3];
    memset(res, 0, sizeof res);
    assert_int_equal(coord_tree_apply(&f->tree, &txn, res, 3), COORD_OK);
    coord_prep_applied(&f->prep, 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].type, COORD_OP_ERROR);
        assert_int_equal(res[i].err, codes[i]);
    }
    /* Nothing applied, nothing reported, but the zxid is used up. */
    assert_int_equal(f->tree.last_zxid, 2);
    assert_int_equal(digest_at(&f->tree, 1), before);
    assert_null(node_at(&f->tree, "/x"));
    assert_non_null(node_at(&f->tree, "/a"));
    assert_int_equal(f->events.count, 0);
    /* The preparer forgot the rolled back create: /x can be made now. */
    f->zxid = 2;
    assert_int_equal(fx_create(f, "/x", NULL, 0), COORD_OK);
    /* Two creations (the system node is not one), three children. */
    assert_int_equal(stat_of(&f->tree, "/").cversion, 2 * 2 - 3);
}

static void test_multi_failure_codes_follow_the_failing_op(void **state)
{
    struct fx *f = *state;
    const struct coord_op ops[4] = {
        create_op("/a", NULL, 0),
        create_op("/a/b", NULL, 0),
        create_op("/missing/c", NULL, 0),
        versioned_op(COORD_OP_SETDATA, "/a", -1),
    };
    struct coord_op_result res[4];
    assert_int_equal(fx_multi(f, ops, 4, res), COORD_ENONODE);
    assert_int_equal(res[0].err, 0);
    assert_int_equal(res[1].err, 0);
    assert_int_equal(res[2].err, COORD_ENONODE);
    assert_int_equal(res[3].err, COORD_ERUNTIMEINCONSISTENCY);
    assert_int_equal(f->tree.count, 4);
    /* A failing first op: everything after it is -2. */
    const struct coord_op first[2] = {versioned_op(COORD_OP_DELETE, "/nope", -1),
                                      create_op("/ok", NULL, 0)};
    assert_int_equal(fx_multi(f, first, 2, res), COORD_ENONODE);
    assert_int_equal(res[0].err, COORD_ENONODE);
    assert_int_equal(res[1].err, COORD_ERUNTIMEINCONSISTENCY);
}

static void test_multi_ops_share_one_zxid(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", "d", 0), COORD_OK);
    f->events.count = 0;
    const struct coord_op ops[4] = {
        create_op("/p/a", "1", 0),
        create_op("/p/b", NULL, 0),
        versioned_op(COORD_OP_SETDATA, "/p", 0),
        versioned_op(COORD_OP_CHECK, "/p", 1),
    };
    struct coord_op_result res[4];
    assert_int_equal(fx_multi(f, ops, 4, res), COORD_OK); /* zxid 2 */
    assert_int_equal(stat_of(&f->tree, "/p/a").czxid, 2);
    assert_int_equal(stat_of(&f->tree, "/p/b").czxid, 2);
    assert_int_equal(stat_of(&f->tree, "/p/a").ctime, TIME_OF(2));
    struct coord_stat p = stat_of(&f->tree, "/p");
    assert_int_equal(p.pzxid, 2);
    assert_int_equal(p.mzxid, 2);
    assert_int_equal(p.version, 1);
    assert_int_equal(p.cversion, 2);
    assert_int_equal(f->tree.last_zxid, 2);
    assert_int_equal(f->events.count, 5);
    for (size_t i = 0; i < f->events.count; i++) {
        assert_int_equal(f->events.ev[i].zxid, 2);
    }
    assert_event(&f->events, 0, COORD_EV_CREATED, "/p/a", 2);
    assert_event(&f->events, 1, COORD_EV_CHILDREN_CHANGED, "/p", 2);
    assert_event(&f->events, 2, COORD_EV_CREATED, "/p/b", 2);
    assert_event(&f->events, 3, COORD_EV_CHILDREN_CHANGED, "/p", 2);
    assert_event(&f->events, 4, COORD_EV_DATA_CHANGED, "/p", 2);
    /* Results: one per op, Stats as of that op. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(res[i].err, COORD_OK);
        assert_int_equal(res[i].type,
                         ops[i].type == COORD_OP_CREATE ? COORD_OP_CREATE : ops[i].type);
    }
    assert_result_path(&res[0], "/p/a");
    assert_int_equal(res[0].stat.czxid, 2);
    assert_int_equal(res[0].stat.data_length, 1);
    assert_int_equal(res[2].stat.version, 1);
    assert_int_equal(res[2].stat.mzxid, 2);
    assert_result_path(&res[3], "/p");
}

static void test_multi_sees_earlier_ops(void **state)
{
    struct fx *f = *state;
    const struct coord_op ops[6] = {
        create_op("/a", NULL, 0),
        create_op("/a/b", NULL, 0),
        versioned_op(COORD_OP_SETDATA, "/a", 0),
        versioned_op(COORD_OP_CHECK, "/a", 1),
        versioned_op(COORD_OP_DELETE, "/a/b", 0),
        create_op("/a/b", "again", 0),
    };
    struct coord_op_result res[6];
    assert_int_equal(fx_multi(f, ops, 6, res), COORD_OK);
    assert_int_equal(stat_of(&f->tree, "/a").version, 1);
    assert_int_equal(stat_of(&f->tree, "/a").num_children, 1);
    /* Two creations and a deletion of children. */
    assert_int_equal(coord_tree_node_child_creations(node_at(&f->tree, "/a")), 2);
    assert_int_equal(stat_of(&f->tree, "/a").cversion, 3);
    assert_int_equal(stat_of(&f->tree, "/a/b").data_length, 5);
    /* A later op cannot see what an earlier one deleted. */
    const struct coord_op gone[2] = {
        versioned_op(COORD_OP_DELETE, "/a/b", -1),
        versioned_op(COORD_OP_SETDATA, "/a/b", -1),
    };
    assert_int_equal(fx_multi(f, gone, 2, res), COORD_ENONODE);
    assert_int_equal(res[1].err, COORD_ENONODE);
    /* Nor delete a parent whose child it only just created. */
    const struct coord_op full[2] = {
        create_op("/a/c", NULL, 0),
        versioned_op(COORD_OP_DELETE, "/a", -1),
    };
    assert_int_equal(fx_multi(f, full, 2, res), COORD_ENOTEMPTY);
    /* But emptying it first works. */
    const struct coord_op empty[2] = {
        versioned_op(COORD_OP_DELETE, "/a/b", -1),
        versioned_op(COORD_OP_DELETE, "/a", 1),
    };
    assert_int_equal(fx_multi(f, empty, 2, res), COORD_OK);
    assert_null(node_at(&f->tree, "/a"));
    assert_int_equal(f->tree.count, 4);
}

static void test_multi_sequential_creates_number_consecutively(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/q", NULL, 0), COORD_OK);
    const struct coord_op ops[3] = {
        create_op("/q/n-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL),
        create_op("/q/plain", NULL, 0),
        create_op("/q/n-", NULL, COORD_MODE_EPHEMERAL_SEQUENTIAL),
    };
    struct coord_op_result res[3];
    assert_int_equal(fx_multi(f, ops, 3, res), COORD_OK);
    assert_result_path(&res[0], "/q/n-0000000000");
    assert_result_path(&res[2], "/q/n-0000000002");
    assert_int_equal(res[2].stat.ephemeral_owner, SESSION_A);
    assert_non_null(node_at(&f->tree, "/q/n-0000000002"));
}

static void test_multi_rejects_reads_and_setacl_with_marshalling(void **state)
{
    struct fx *f = *state;
    const struct coord_op ops[2] = {create_op("/a", NULL, 0), make_op(COORD_OP_GETDATA, "/")};
    struct coord_op_result res[2];
    assert_int_equal(fx_multi(f, ops, 2, res), COORD_EMARSHALLING);
    assert_int_equal(res[0].err, 0);
    assert_int_equal(res[1].err, COORD_EMARSHALLING);
    const struct coord_op acl[1] = {make_op(COORD_OP_SETACL, "/")};
    assert_int_equal(fx_multi(f, acl, 1, res), COORD_EMARSHALLING);
    assert_null(node_at(&f->tree, "/a"));
}

static void test_empty_multi_succeeds(void **state)
{
    struct fx *f = *state;
    uint64_t before = coord_tree_digest(&f->tree);
    assert_int_equal(fx_multi(f, NULL, 0, NULL), COORD_OK);
    assert_int_equal(f->tree.last_zxid, 1);
    assert_int_equal(digest_at(&f->tree, 0), before);
}

static void test_multi_of_too_many_ops_is_marshalling(void **state)
{
    struct fx *f = *state;
    struct coord_op *ops = calloc(COORD_MULTI_MAX + 1, sizeof *ops);
    struct coord_txn_op *tops = calloc(COORD_MULTI_MAX + 1, sizeof *tops);
    assert_non_null(ops);
    assert_non_null(tops);
    for (size_t i = 0; i <= COORD_MULTI_MAX; i++) {
        ops[i] = versioned_op(COORD_OP_CHECK, "/", -1);
    }
    struct coord_txn txn;
    assert_int_equal(coord_prep_multi(&f->prep, &f->tree, &f->caller, ops, COORD_MULTI_MAX + 1, 1,
                                      TIME_OF(1), tops, &txn),
                     COORD_EMARSHALLING);
    assert_int_equal(txn.type, COORD_OP_ERROR);
    assert_int_equal(txn.err, COORD_EMARSHALLING);
    assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_OK);
    /* Exactly the maximum is fine. */
    assert_int_equal(coord_prep_multi(&f->prep, &f->tree, &f->caller, ops, COORD_MULTI_MAX, 2,
                                      TIME_OF(2), tops, &txn),
                     COORD_OK);
    assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_OK);
    coord_prep_applied(&f->prep, 2);
    free(tops);
    free(ops);
}

/* ---- the preparer's view of changes in flight ----------------------------------------- */

/* A prepared txn kept as its encoded bytes, as a leader keeps proposals: the
 * preparer's arena is reused by the next preparation. */
static void encode_to(const struct coord_txn *txn, struct coord_buf *out)
{
    coord_buf_init(out);
    coord_txn_encode(txn, out);
    assert_false(out->failed);
}

static void apply_encoded(struct coord_tree *t, struct coord_buf *b, int expected)
{
    struct coord_txn txn;
    assert_int_equal(coord_txn_decode(b->data, b->len, &txn), COORD_OK);
    assert_int_equal(coord_tree_apply(t, &txn, NULL, 0), expected);
    coord_txn_release(&txn);
    coord_buf_free(b);
}

static int prep_encoded(struct fx *f,
                        const struct coord_op *op,
                        coord_zxid zxid,
                        struct coord_buf *out)
{
    struct coord_txn txn;
    int err = coord_prep_op(&f->prep, &f->tree, &f->caller, op, zxid, TIME_OF(zxid), &txn);
    encode_to(&txn, out);
    return err;
}

static void test_pipelined_preps_see_each_other(void **state)
{
    struct fx *f = *state;
    struct coord_buf log[7];
    struct coord_op op = create_op("/a", NULL, 0);
    assert_int_equal(prep_encoded(f, &op, 1, &log[0]), COORD_OK);
    op = create_op("/a/b", NULL, 0);
    assert_int_equal(prep_encoded(f, &op, 2, &log[1]), COORD_OK);
    op = create_op("/s-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL);
    assert_int_equal(prep_encoded(f, &op, 3, &log[2]), COORD_OK);
    assert_int_equal(prep_encoded(f, &op, 4, &log[3]), COORD_OK);
    op = create_op("/a", NULL, 0);
    assert_int_equal(prep_encoded(f, &op, 5, &log[4]), COORD_ENODEEXISTS);
    op = versioned_op(COORD_OP_DELETE, "/a", -1);
    assert_int_equal(prep_encoded(f, &op, 6, &log[5]), COORD_ENOTEMPTY);
    op = versioned_op(COORD_OP_SETDATA, "/a/b", 0);
    assert_int_equal(prep_encoded(f, &op, 7, &log[6]), COORD_OK);
    /* Nothing is in the tree yet. */
    assert_null(node_at(&f->tree, "/a"));
    for (int i = 0; i < 7; i++) {
        apply_encoded(&f->tree, &log[i], COORD_OK);
        coord_prep_applied(&f->prep, i + 1);
    }
    assert_non_null(node_at(&f->tree, "/a/b"));
    assert_non_null(node_at(&f->tree, "/s-0000000001"));
    assert_non_null(node_at(&f->tree, "/s-0000000002"));
    assert_int_equal(stat_of(&f->tree, "/a/b").version, 1);
    assert_int_equal(f->tree.last_zxid, 7);
    /* Everything applied is forgotten: the preparer reads the tree again. */
    assert_int_equal(f->prep.records.count, 0);
    assert_null(f->prep.oldest);
    f->zxid = 7;
    assert_int_equal(fx_create(f, "/s-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL), COORD_OK);
    assert_string_equal(last_path, "/s-0000000003");
}

static void test_pipelined_delete_then_create_of_the_same_path(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/a", "old", 0), COORD_OK);
    struct coord_buf log[3];
    struct coord_op op = versioned_op(COORD_OP_DELETE, "/a", 0);
    assert_int_equal(prep_encoded(f, &op, 2, &log[0]), COORD_OK);
    op = versioned_op(COORD_OP_SETDATA, "/a", -1);
    assert_int_equal(prep_encoded(f, &op, 3, &log[1]), COORD_ENONODE);
    op = create_op("/a", "new", 0);
    assert_int_equal(prep_encoded(f, &op, 4, &log[2]), COORD_OK);
    for (int i = 0; i < 3; i++) {
        apply_encoded(&f->tree, &log[i], COORD_OK);
        coord_prep_applied(&f->prep, i + 2);
    }
    struct coord_stat st = stat_of(&f->tree, "/a");
    assert_int_equal(st.czxid, 4);
    assert_int_equal(st.version, 0);
}

static void test_failed_multi_keeps_earlier_changes_in_flight(void **state)
{
    struct fx *f = *state;
    struct coord_buf log[3];
    struct coord_op op = create_op("/a", NULL, 0);
    assert_int_equal(prep_encoded(f, &op, 1, &log[0]), COORD_OK);
    /* This multi shadows the records of / and /a, then rolls them back. */
    const struct coord_op ops[3] = {
        create_op("/b", NULL, 0),
        versioned_op(COORD_OP_SETDATA, "/a", 0),
        create_op("/missing/x", NULL, 0),
    };
    struct coord_txn_op tops[3];
    struct coord_txn txn;
    assert_int_equal(
        coord_prep_multi(&f->prep, &f->tree, &f->caller, ops, 3, 2, TIME_OF(2), tops, &txn),
        COORD_ENONODE);
    encode_to(&txn, &log[1]);
    /* The root's counter is back at 1 (after /a), and /a is back at version 0. */
    op = create_op("/s-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL);
    struct coord_txn seq;
    assert_int_equal(coord_prep_op(&f->prep, &f->tree, &f->caller, &op, 3, TIME_OF(3), &seq),
                     COORD_OK);
    assert_int_equal(seq.ops[0].path.len, 13);
    assert_memory_equal(seq.ops[0].path.ptr, "/s-0000000001", 13);
    encode_to(&seq, &log[2]);
    op = versioned_op(COORD_OP_CHECK, "/a", 0);
    assert_int_equal(coord_prep_op(&f->prep, &f->tree, &f->caller, &op, 4, TIME_OF(4), &seq),
                     COORD_OK);
    for (int i = 0; i < 3; i++) {
        apply_encoded(&f->tree, &log[i], COORD_OK);
    }
    coord_prep_applied(&f->prep, 4);
    assert_null(node_at(&f->tree, "/b"));
    assert_non_null(node_at(&f->tree, "/s-0000000001"));
}

static void test_prep_reset_forgets_changes_in_flight(void **state)
{
    struct fx *f = *state;
    struct coord_txn txn;
    struct coord_op op = create_op("/a", NULL, 0);
    assert_int_equal(coord_prep_op(&f->prep, &f->tree, &f->caller, &op, 1, 1, &txn), COORD_OK);
    assert_int_equal(coord_prep_op(&f->prep, &f->tree, &f->caller, &op, 2, 2, &txn),
                     COORD_ENODEEXISTS);
    /* A new leader starts from the tree alone. */
    coord_prep_reset(&f->prep);
    assert_int_equal(f->prep.records.count, 0);
    assert_int_equal(coord_prep_op(&f->prep, &f->tree, &f->caller, &op, 3, 3, &txn), COORD_OK);
    /* Applying only up to an older zxid keeps the newer records. */
    coord_prep_applied(&f->prep, 2);
    assert_int_equal(coord_prep_op(&f->prep, &f->tree, &f->caller, &op, 4, 4, &txn),
                     COORD_ENODEEXISTS);
    coord_prep_applied(&f->prep, 4);
    assert_int_equal(f->prep.records.count, 0);
}

static void test_failed_prep_leaves_no_records(void **state)
{
    struct fx *f = *state;
    struct coord_txn txn;
    struct coord_op op = create_op("/missing/a", NULL, 0);
    assert_int_equal(coord_prep_op(&f->prep, &f->tree, &f->caller, &op, 1, 1, &txn), COORD_ENONODE);
    assert_int_equal(txn.type, COORD_OP_ERROR);
    assert_int_equal(txn.err, COORD_ENONODE);
    assert_int_equal(txn.zxid, 1);
    assert_int_equal(txn.session, SESSION_A);
    assert_int_equal(txn.op_count, 0);
    assert_int_equal(f->prep.records.count, 0);
    assert_null(f->prep.newest);
}

/* ---- sessions ------------------------------------------------------------------------- */

static void test_close_session_deletes_ephemerals_in_one_txn(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/m", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/z", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    assert_int_equal(fx_create(f, "/m/x", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    assert_int_equal(fx_create(f, "/a", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    f->caller.session = SESSION_B;
    assert_int_equal(fx_create(f, "/b", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    f->events.count = 0;
    struct coord_txn txn;
    assert_int_equal(coord_prep_close_session(&f->prep, &f->tree, SESSION_A, 6, TIME_OF(6), &txn),
                     COORD_OK);
    assert_int_equal(txn.type, COORD_OP_CLOSESESSION);
    assert_int_equal(txn.session, SESSION_A);
    assert_int_equal(txn.zxid, 6);
    struct coord_buf b;
    encode_to(&txn, &b);
    apply_encoded(&f->tree, &b, COORD_OK);
    coord_prep_applied(&f->prep, 6);
    /* In path order, whatever the creation order. */
    assert_int_equal(f->events.count, 6);
    assert_event(&f->events, 0, COORD_EV_DELETED, "/a", 6);
    assert_event(&f->events, 1, COORD_EV_CHILDREN_CHANGED, "/", 6);
    assert_event(&f->events, 2, COORD_EV_DELETED, "/m/x", 6);
    assert_event(&f->events, 3, COORD_EV_CHILDREN_CHANGED, "/m", 6);
    assert_event(&f->events, 4, COORD_EV_DELETED, "/z", 6);
    assert_event(&f->events, 5, COORD_EV_CHILDREN_CHANGED, "/", 6);
    assert_null(node_at(&f->tree, "/a"));
    assert_null(node_at(&f->tree, "/z"));
    assert_null(node_at(&f->tree, "/m/x"));
    assert_non_null(node_at(&f->tree, "/b"));
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_A), 0);
    assert_int_equal(f->tree.ephemeral_count, 1);
    assert_int_equal(stat_of(&f->tree, "/").pzxid, 6);
    assert_int_equal(stat_of(&f->tree, "/m").pzxid, 6);
    assert_int_equal(f->tree.last_zxid, 6);
    /* Closing a session with nothing left is a no-op that uses a zxid. */
    f->events.count = 0;
    assert_int_equal(coord_prep_close_session(&f->prep, &f->tree, SESSION_A, 7, TIME_OF(7), &txn),
                     COORD_OK);
    assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_OK);
    assert_int_equal(f->events.count, 0);
    assert_int_equal(f->tree.last_zxid, 7);
}

static void test_close_session_leaves_other_sessions_index_intact(void **state)
{
    struct fx *f = *state;
    coord_tree_set_change_cb(&f->tree, NULL, NULL);
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    char path[32];
    for (int i = 0; i < 3000; i++) {
        f->caller.session = i % 3 == 0 ? SESSION_B : SESSION_A;
        snprintf(path, sizeof path, "/p/%c%d", 'a' + (i * 7) % 26, i);
        assert_int_equal(fx_create(f, path, NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    }
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_A), 2000);
    struct coord_txn txn;
    f->zxid++;
    assert_int_equal(coord_prep_close_session(&f->prep, &f->tree, SESSION_A, f->zxid, 0, &txn),
                     COORD_OK);
    assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_OK);
    coord_prep_applied(&f->prep, f->zxid);
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_A), 0);
    assert_int_equal(f->tree.ephemeral_count, 1000);
    assert_int_equal(stat_of(&f->tree, "/p").num_children, 1000);
    assert_int_equal(f->tree.count, 4 + 1 + 1000);
    /* The other session's index still lists its nodes in creation order. */
    size_t pos = 0;
    for (int i = 0; i < 3000; i += 3) {
        const struct tree_node *n = coord_tree_next_ephemeral(&f->tree, SESSION_B, &pos);
        assert_non_null(n);
        snprintf(path, sizeof path, "/p/%c%d", 'a' + (i * 7) % 26, i);
        size_t len;
        assert_string_equal(coord_tree_node_path(n, &len), path);
    }
    assert_null(coord_tree_next_ephemeral(&f->tree, SESSION_B, &pos));
}

static void test_prepared_close_session_hides_ephemerals_from_later_preps(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/e", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    assert_int_equal(fx_create(f, "/keep", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    struct coord_buf log[6];
    /* One ephemeral in flight, and a setData in flight on one in the tree. */
    struct coord_op op = create_op("/f", NULL, COORD_MODE_EPHEMERAL);
    assert_int_equal(prep_encoded(f, &op, 3, &log[0]), COORD_OK);
    op = versioned_op(COORD_OP_SETDATA, "/e", -1);
    assert_int_equal(prep_encoded(f, &op, 4, &log[1]), COORD_OK);
    struct coord_txn txn;
    assert_int_equal(coord_prep_close_session(&f->prep, &f->tree, SESSION_A, 5, TIME_OF(5), &txn),
                     COORD_OK);
    encode_to(&txn, &log[2]);
    /* Another session sees all three gone before anything applies. */
    f->caller.session = SESSION_B;
    op = versioned_op(COORD_OP_SETDATA, "/e", -1);
    assert_int_equal(prep_encoded(f, &op, 6, &log[3]), COORD_ENONODE);
    op = create_op("/f", NULL, COORD_MODE_EPHEMERAL);
    assert_int_equal(prep_encoded(f, &op, 7, &log[4]), COORD_OK);
    op = create_op("/keep", NULL, 0);
    assert_int_equal(prep_encoded(f, &op, 8, &log[5]), COORD_OK);
    for (int i = 0; i < 6; i++) {
        apply_encoded(&f->tree, &log[i], COORD_OK);
        coord_prep_applied(&f->prep, i + 3);
    }
    assert_null(node_at(&f->tree, "/e"));
    assert_int_equal(stat_of(&f->tree, "/f").ephemeral_owner, SESSION_B);
    assert_int_equal(stat_of(&f->tree, "/keep").ephemeral_owner, 0);
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_A), 0);
    assert_int_equal(stat_of(&f->tree, "/").num_children, 3);
    assert_int_equal(f->prep.records.count, 0);
}

static void test_create_session_txn_changes_no_node(void **state)
{
    struct fx *f = *state;
    uint64_t before = coord_tree_digest(&f->tree);
    struct coord_txn txn = {0};
    txn.type = COORD_OP_CREATESESSION;
    txn.session = SESSION_A;
    txn.zxid = 1;
    txn.timeout_ms = 30000;
    assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_OK);
    assert_int_equal(f->tree.last_zxid, 1);
    assert_int_equal(digest_at(&f->tree, 0), before);
    assert_int_equal(f->events.count, 0);
}

/* ---- applying ------------------------------------------------------------------------- */

static void test_error_txn_uses_up_a_zxid_and_changes_nothing(void **state)
{
    struct fx *f = *state;
    uint64_t before = coord_tree_digest(&f->tree);
    assert_int_equal(fx_create(f, "/missing/x", NULL, 0), COORD_ENONODE);
    assert_int_equal(f->tree.last_zxid, 1);
    assert_int_equal(digest_at(&f->tree, 0), before);
    assert_int_equal(f->events.count, 0);
}

static void test_apply_rejects_non_increasing_zxid(void **state)
{
    struct fx *f = *state;
    f->zxid = 10;
    assert_int_equal(fx_create(f, "/a", NULL, 0), COORD_OK);
    uint64_t before = coord_tree_digest(&f->tree);
    struct coord_txn txn;
    struct coord_op op = create_op("/b", NULL, 0);
    static const coord_zxid stale[] = {11, 10, 0, -5};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(coord_prep_op(&f->prep, &f->tree, &f->caller, &op, stale[i], 0, &txn),
                         COORD_OK);
        assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_EBADARGUMENTS);
        coord_prep_reset(&f->prep);
    }
    txn = (struct coord_txn){0};
    txn.type = COORD_OP_CREATESESSION;
    txn.zxid = 11;
    assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_EBADARGUMENTS);
    assert_int_equal(coord_tree_apply(&f->tree, NULL, NULL, 0), COORD_EBADARGUMENTS);
    assert_int_equal(f->tree.last_zxid, 11);
    assert_int_equal(coord_tree_digest(&f->tree), before);
    assert_null(node_at(&f->tree, "/b"));
    assert_int_equal(f->events.count, 2);
}

/* A hand-made create op, as a corrupt or inconsistent log could hold. */
static struct coord_txn_op raw_create(const char *path, int64_t owner)
{
    struct coord_txn_op op = {0};
    op.type = COORD_OP_CREATE;
    op.path = (struct coord_str){path, (int32_t)strlen(path)};
    op.data_len = -1;
    op.acl = acl_open;
    op.acl_count = 1;
    op.owner = owner;
    op.parent_cversion = -1;
    return op;
}

static struct coord_txn_op raw_op(int32_t type, const char *path)
{
    struct coord_txn_op op = {0};
    op.type = type;
    op.path = (struct coord_str){path, path == NULL ? -1 : (int32_t)strlen(path)};
    op.data_len = -1;
    op.acl_count = -1;
    return op;
}

static int apply_raw(struct fx *f, int32_t type, struct coord_txn_op *ops, uint32_t count)
{
    struct coord_txn txn = {0};
    txn.type = type;
    txn.zxid = f->tree.last_zxid + 1;
    txn.op_count = count;
    txn.ops = ops;
    return coord_tree_apply(&f->tree, &txn, NULL, 0);
}

static void test_apply_of_inconsistent_txn_changes_nothing(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/p/c", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/e", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    f->events.count = 0;
    const uint64_t before = coord_tree_digest(&f->tree);
    const size_t mem = f->tree.mem_bytes;

    /* Single ops. */
    struct coord_txn_op op = raw_create("/missing/x", 0);
    assert_int_equal(apply_raw(f, COORD_OP_CREATE, &op, 1), COORD_ENONODE);
    op = raw_create("/p", 0);
    assert_int_equal(apply_raw(f, COORD_OP_CREATE, &op, 1), COORD_ENODEEXISTS);
    op = raw_create("/e/x", 0);
    assert_int_equal(apply_raw(f, COORD_OP_CREATE, &op, 1), COORD_ENOCHILDRENFOREPHEMERALS);
    op = raw_create("/p/", 0);
    assert_int_equal(apply_raw(f, COORD_OP_CREATE, &op, 1), COORD_EBADARGUMENTS);
    op = raw_create("/", 0);
    assert_int_equal(apply_raw(f, COORD_OP_CREATE, &op, 1), COORD_EBADARGUMENTS);
    op = raw_create("/q", 0);
    op.acl = NULL;
    assert_int_equal(apply_raw(f, COORD_OP_CREATE, &op, 1), COORD_EINVALIDACL);
    op = raw_create("/q", 0);
    op.data_len = 3; /* and no data */
    assert_int_equal(apply_raw(f, COORD_OP_CREATE, &op, 1), COORD_EBADARGUMENTS);
    op = raw_op(COORD_OP_DELETE, "/missing");
    assert_int_equal(apply_raw(f, COORD_OP_DELETE, &op, 1), COORD_ENONODE);
    op = raw_op(COORD_OP_DELETE, "/p");
    assert_int_equal(apply_raw(f, COORD_OP_DELETE, &op, 1), COORD_ENOTEMPTY);
    op = raw_op(COORD_OP_DELETE, "/");
    assert_int_equal(apply_raw(f, COORD_OP_DELETE, &op, 1), COORD_EBADARGUMENTS);
    op = raw_op(COORD_OP_DELETE, NULL);
    assert_int_equal(apply_raw(f, COORD_OP_DELETE, &op, 1), COORD_EBADARGUMENTS);
    op = raw_op(COORD_OP_SETDATA, "/missing");
    assert_int_equal(apply_raw(f, COORD_OP_SETDATA, &op, 1), COORD_ENONODE);
    op = raw_op(COORD_OP_SETDATA, "/p");
    op.data_len = 2;
    assert_int_equal(apply_raw(f, COORD_OP_SETDATA, &op, 1), COORD_EBADARGUMENTS);
    op = raw_op(COORD_OP_SETACL, "/p");
    assert_int_equal(apply_raw(f, COORD_OP_SETACL, &op, 1), COORD_EINVALIDACL);
    /* Header and op disagree, or unknown types. */
    op = raw_op(COORD_OP_SETDATA, "/p");
    assert_int_equal(apply_raw(f, COORD_OP_DELETE, &op, 1), COORD_EBADARGUMENTS);
    assert_int_equal(apply_raw(f, COORD_OP_SETDATA, &op, 0), COORD_EBADARGUMENTS);
    assert_int_equal(apply_raw(f, COORD_OP_SETDATA, NULL, 1), COORD_EBADARGUMENTS);
    op = raw_op(99, "/p");
    assert_int_equal(apply_raw(f, 99, &op, 1), COORD_EBADARGUMENTS);

    /* Multis whose later op fails: nothing of the earlier ones stays. */
    struct coord_txn_op m[3];
    m[0] = raw_create("/a", 0);
    m[1] = raw_create("/missing/b", 0);
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_ENONODE);
    m[1] = raw_create("/a/b", 0);
    m[1].acl_count = -1;
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_EINVALIDACL);
    m[0] = raw_create("/a", SESSION_A);
    m[1] = raw_create("/a/b", 0);
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_ENOCHILDRENFOREPHEMERALS);
    m[0] = raw_create("/a", 0);
    m[1] = raw_create("/a", 0);
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_ENODEEXISTS);
    m[1] = raw_op(COORD_OP_SETDATA, "/a");
    m[1].data_len = 4;
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_EBADARGUMENTS);
    m[1] = raw_op(COORD_OP_SETACL, "/a");
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_EINVALIDACL);
    m[1] = raw_op(COORD_OP_DELETE, "/p/c");
    m[2] = raw_op(COORD_OP_DELETE, "/p/c");
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 3), COORD_ENONODE);
    m[1] = raw_create("/p/d", 0);
    m[2] = raw_op(COORD_OP_DELETE, "/p");
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 3), COORD_ENOTEMPTY);
    m[1] = raw_op(COORD_OP_DELETE, "/");
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_EBADARGUMENTS);
    m[1] = raw_op(COORD_OP_CLOSESESSION, "/a");
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_EBADARGUMENTS);
    m[1] = raw_op(COORD_OP_SETDATA, NULL);
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 2), COORD_EBADARGUMENTS);

    assert_int_equal(coord_tree_digest(&f->tree), before);
    assert_int_equal(f->tree.mem_bytes, mem);
    assert_int_equal(f->tree.last_zxid, 3);
    assert_int_equal(f->events.count, 0);
    /* And consistent ones still apply. */
    m[1] = raw_create("/a/b", 0);
    m[2] = raw_op(COORD_OP_DELETE, "/p/c");
    assert_int_equal(apply_raw(f, COORD_OP_MULTI, m, 3), COORD_OK);
    assert_int_equal(stat_of(&f->tree, "/a").num_children, 1);
    assert_int_equal(f->tree.last_zxid, 4);
}

static void test_out_of_memory_in_apply_changes_nothing(void **state)
{
    struct fx *f = *state;
    static const struct coord_acl acl_new[1] = {{3, {{"digest", 6}, {"u:h", 3}}}};
    /* Long paths make delete copy the path to the heap. */
    char long_path[400];
    memset(long_path, 'x', sizeof long_path);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    assert_int_equal(fx_create(f, long_path, NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/p", "d", COORD_MODE_EPHEMERAL), COORD_OK);
    struct coord_txn_op ops[5];
    ops[0] = raw_create("/new", SESSION_B);
    ops[0].data = (const uint8_t *)"abc";
    ops[0].data_len = 3;
    ops[0].acl = acl_new;
    ops[1] = raw_op(COORD_OP_SETDATA, "/p");
    ops[1].data = (const uint8_t *)"abcdef";
    ops[1].data_len = 6;
    ops[2] = raw_op(COORD_OP_SETACL, "/p");
    ops[2].acl = acl_new;
    ops[2].acl_count = 1;
    ops[3] = raw_op(COORD_OP_DELETE, long_path);
    for (int k = 0; k < 4; k++) {
        for (long budget = 0;; budget++) {
            f->events.count = 0;
            uint64_t before = coord_tree_digest(&f->tree);
            test_heap_fail_after(budget);
            int rc = apply_raw(f, ops[k].type, &ops[k], 1);
            test_heap_restore();
            if (rc == COORD_OK) {
                break;
            }
            assert_int_equal(rc, COORD_ENOMEM);
            assert_int_equal(coord_tree_digest(&f->tree), before);
            assert_int_equal(f->events.count, 0);
            assert_true(budget < 20);
        }
    }
    assert_int_equal(stat_of(&f->tree, "/new").ephemeral_owner, SESSION_B);
    assert_int_equal(stat_of(&f->tree, "/p").version, 0); /* raw op version */
    assert_null(node_at(&f->tree, long_path));
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_B), 1);
}

static void test_out_of_memory_in_prep_is_an_error_and_leaves_no_records(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    const struct coord_op ops[2] = {
        create_op("/p/s-", "d", COORD_MODE_PERSISTENT_SEQUENTIAL),
        versioned_op(COORD_OP_SETDATA, "/p", -1),
    };
    struct coord_txn_op tops[2];
    struct coord_txn txn;
    for (long budget = 0;; budget++) {
        test_heap_fail_after(budget);
        int rc =
            coord_prep_multi(&f->prep, &f->tree, &f->caller, ops, 2, 2, TIME_OF(2), tops, &txn);
        test_heap_restore();
        if (rc == COORD_OK) {
            break;
        }
        assert_int_equal(rc, COORD_ENOMEM);
        assert_int_equal(tops[0].type, COORD_OP_ERROR);
        assert_int_equal(tops[1].type, COORD_OP_ERROR);
        assert_int_equal(f->prep.records.count, 0);
        assert_true(budget < 20);
    }
    assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_OK);
    coord_prep_applied(&f->prep, 2);
    assert_non_null(node_at(&f->tree, "/p/s-0000000000"));
    /* A single op fails the same way, as an ERROR txn carrying ESYSTEM. */
    struct coord_op op = create_op("/q", NULL, 0);
    test_heap_fail_after(0);
    int rc = coord_prep_op(&f->prep, &f->tree, &f->caller, &op, 3, TIME_OF(3), &txn);
    test_heap_restore();
    assert_int_equal(rc, COORD_ENOMEM);
    assert_int_equal(txn.type, COORD_OP_ERROR);
    assert_int_equal(txn.err, COORD_ESYSTEM);
}

/* ---- binary form ---------------------------------------------------------------------- */

static void assert_str_equal(struct coord_str a, struct coord_str b)
{
    assert_int_equal(a.len, b.len);
    assert_int_equal(a.ptr == NULL, b.ptr == NULL);
    if (a.len > 0) {
        assert_memory_equal(a.ptr, b.ptr, (size_t)a.len);
    }
}

static void assert_txn_equal(const struct coord_txn *a, const struct coord_txn *b)
{
    assert_int_equal(a->session, b->session);
    assert_int_equal(a->cxid, b->cxid);
    assert_int_equal(a->zxid, b->zxid);
    assert_int_equal(a->time_ms, b->time_ms);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->timeout_ms, b->timeout_ms);
    assert_int_equal(a->err, b->err);
    assert_int_equal(a->op_count, b->op_count);
    for (uint32_t i = 0; i < a->op_count; i++) {
        const struct coord_txn_op *x = &a->ops[i], *y = &b->ops[i];
        assert_int_equal(x->type, y->type);
        assert_str_equal(x->path, y->path);
        assert_int_equal(x->data_len, y->data_len);
        if (x->data_len > 0) {
            assert_memory_equal(x->data, y->data, (size_t)x->data_len);
        }
        assert_int_equal(x->acl_count, y->acl_count);
        for (int32_t k = 0; k < x->acl_count; k++) {
            assert_int_equal(x->acl[k].perms, y->acl[k].perms);
            assert_str_equal(x->acl[k].ident.scheme, y->acl[k].ident.scheme);
            assert_str_equal(x->acl[k].ident.id, y->acl[k].ident.id);
        }
        assert_int_equal(x->owner, y->owner);
        assert_int_equal(x->parent_cversion, y->parent_cversion);
        assert_int_equal(x->version, y->version);
        assert_int_equal(x->err, y->err);
    }
}

static const struct coord_acl acl_two[2] = {
    {COORD_PERM_READ, {{"world", 5}, {"anyone", 6}}},
    {COORD_PERM_ALL, {{"digest", 6}, {"bob:OHzSi=", 10}}},
};

/* One of each transaction type, in a form prep could make. */
#define SAMPLE_COUNT 11
static struct coord_txn_op sample_ops[SAMPLE_COUNT][4];

static struct coord_txn sample_txn(int which)
{
    struct coord_txn txn = {0};
    txn.session = SESSION_A;
    txn.cxid = 17 + which;
    txn.zxid = 0x300000000LL + which;
    txn.time_ms = TIME_OF(which);
    struct coord_txn_op *ops = sample_ops[which];
    memset(ops, 0, sizeof sample_ops[which]);
    switch (which) {
        case 0: /* create with data and two ACL entries */
            ops[0] = raw_create("/a/n-0000000007", SESSION_A);
            ops[0].data = (const uint8_t *)"\x00\xff payload";
            ops[0].data_len = 10;
            ops[0].acl = acl_two;
            ops[0].acl_count = 2;
            ops[0].parent_cversion = 8;
            break;
        case 1: /* create, null data, container */
            ops[0] = raw_create("/c", COORD_OWNER_CONTAINER);
            ops[0].parent_cversion = INT32_MIN;
            break;
        case 2:
            ops[0] = raw_op(COORD_OP_DELETE, "/a");
            break;
        case 3: /* setData to empty */
            ops[0] = raw_op(COORD_OP_SETDATA, "/a");
            ops[0].data_len = 0;
            ops[0].version = 5;
            break;
        case 4:
            ops[0] = raw_op(COORD_OP_SETACL, "/a");
            ops[0].acl = acl_two;
            ops[0].acl_count = 2;
            ops[0].version = 2;
            break;
        case 5:
            ops[0] = raw_op(COORD_OP_CHECK, "/a");
            ops[0].version = -1;
            break;
        case 6:
            txn.type = COORD_OP_ERROR;
            txn.err = COORD_ENONODE;
            return txn;
        case 7: /* a successful multi */
            ops[0] = raw_create("/m", 0);
            ops[0].data = (const uint8_t *)"d";
            ops[0].data_len = 1;
            ops[1] = raw_op(COORD_OP_CHECK, "/m");
            ops[2] = raw_op(COORD_OP_SETDATA, "/m");
            ops[2].data_len = -1;
            ops[2].version = 1;
            ops[3] = raw_op(COORD_OP_DELETE, "/old");
            txn.type = COORD_OP_MULTI;
            txn.op_count = 4;
            txn.ops = ops;
            return txn;
        case 8: /* a failed multi */
            for (int i = 0; i < 3; i++) {
                ops[i] = raw_op(COORD_OP_ERROR, NULL);
                ops[i].acl_count = 0;
                ops[i].data_len = 0;
                ops[i].err = i == 0 ? 0 : i == 1 ? COORD_EBADVERSION : COORD_ERUNTIMEINCONSISTENCY;
            }
            txn.type = COORD_OP_MULTI;
            txn.op_count = 3;
            txn.ops = ops;
            return txn;
        case 9:
            txn.type = COORD_OP_CREATESESSION;
            txn.timeout_ms = 30000;
            return txn;
        default:
            txn.type = COORD_OP_CLOSESESSION;
            return txn;
    }
    txn.type = ops[0].type;
    txn.op_count = 1;
    txn.ops = ops;
    return txn;
}

static void test_txn_encode_decode_roundtrip(void **state)
{
    (void)state;
    for (int which = 0; which < SAMPLE_COUNT; which++) {
        struct coord_txn txn = sample_txn(which);
        struct coord_buf b;
        encode_to(&txn, &b);
        struct coord_txn back;
        assert_int_equal(coord_txn_decode(b.data, b.len, &back), COORD_OK);
        assert_txn_equal(&txn, &back);
        /* Encoding again gives the same bytes. */
        struct coord_buf again;
        encode_to(&back, &again);
        assert_int_equal(again.len, b.len);
        assert_memory_equal(again.data, b.data, b.len);
        coord_buf_free(&again);
        coord_txn_release(&back);
        assert_null(back.ops);
        coord_buf_free(&b);
    }
    /* An empty multi has no ops. */
    struct coord_txn empty = {0};
    empty.type = COORD_OP_MULTI;
    empty.zxid = 9;
    struct coord_buf b;
    encode_to(&empty, &b);
    struct coord_txn back;
    assert_int_equal(coord_txn_decode(b.data, b.len, &back), COORD_OK);
    assert_txn_equal(&empty, &back);
    coord_txn_release(&back);
    coord_buf_free(&b);
}

static void test_txn_roundtrip_keeps_null_and_empty_data_apart(void **state)
{
    struct fx *f = *state;
    /* Applied directly and through the log, the trees agree. */
    struct coord_tree other;
    assert_int_equal(coord_tree_init(&other), COORD_OK);
    static const char *const datas[] = {NULL, "", "x", NULL};
    for (int i = 0; i < 4; i++) {
        struct coord_op op = i < 3 ? create_op(i == 0   ? "/n"
                                               : i == 1 ? "/e"
                                                        : "/x",
                                               datas[i], 0)
                                   : versioned_op(COORD_OP_SETDATA, "/x", -1);
        if (i == 1) {
            op.data = NULL; /* empty, with no pointer */
            op.data_len = 0;
        }
        struct coord_txn txn;
        assert_int_equal(
            coord_prep_op(&f->prep, &f->tree, &f->caller, &op, i + 1, TIME_OF(i + 1), &txn),
            COORD_OK);
        struct coord_buf b;
        encode_to(&txn, &b);
        assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_OK);
        coord_prep_applied(&f->prep, i + 1);
        apply_encoded(&other, &b, COORD_OK);
    }
    int32_t len;
    coord_tree_node_data(node_at(&other, "/n"), &len);
    assert_int_equal(len, -1);
    coord_tree_node_data(node_at(&other, "/e"), &len);
    assert_int_equal(len, 0);
    coord_tree_node_data(node_at(&other, "/x"), &len);
    assert_int_equal(len, -1);
    assert_int_equal(coord_tree_digest(&other), coord_tree_digest(&f->tree));
    coord_tree_close(&other);
}

static void test_txn_decode_rejects_every_truncation(void **state)
{
    (void)state;
    for (int which = 0; which < SAMPLE_COUNT; which++) {
        struct coord_txn txn = sample_txn(which);
        struct coord_buf b;
        encode_to(&txn, &b);
        for (size_t len = 0; len < b.len; len++) {
            /* A copy of exactly len bytes, so ASan sees any overread. */
            uint8_t *copy = malloc(len == 0 ? 1 : len);
            memcpy(copy, b.data, len);
            struct coord_txn back;
            assert_int_equal(coord_txn_decode(copy, len, &back), COORD_ECORRUPT);
            assert_null(back.ops);
            free(copy);
        }
        /* Trailing bytes are corruption too. */
        coord_buf_u8(&b, 0);
        struct coord_txn back;
        assert_int_equal(coord_txn_decode(b.data, b.len, &back), COORD_ECORRUPT);
        coord_buf_free(&b);
    }
}

/* Overwrite the be32 at `at` of an encoding and expect a refusal. */
static void assert_patched_is_corrupt(const struct coord_txn *txn, size_t at, uint32_t value)
{
    struct coord_buf b;
    encode_to(txn, &b);
    assert_true(at + 4 <= b.len);
    coord_buf_patch_be32(&b, at, value);
    struct coord_txn back;
    assert_int_equal(coord_txn_decode(b.data, b.len, &back), COORD_ECORRUPT);
    assert_null(back.ops);
    coord_buf_free(&b);
}

/* Offsets in the encoding: magic(1) type(4) session(8) cxid(4) zxid(8)
 * time(8) timeout(4) err(4) count(4); then per op: type(4) path(4+n) ... */
#define AT_TYPE 1
#define AT_COUNT 41
#define AT_OP 45

static void test_txn_decode_rejects_malformed_fields(void **state)
{
    (void)state;
    struct coord_txn create = sample_txn(0);
    struct coord_txn multi = sample_txn(7);
    struct coord_txn bare = sample_txn(10);
    struct coord_buf b;
    encode_to(&bare, &b);
    struct coord_txn back;
    b.data[0] ^= 1; /* magic */
    assert_int_equal(coord_txn_decode(b.data, b.len, &back), COORD_ECORRUPT);
    coord_buf_free(&b);
    assert_patched_is_corrupt(&bare, AT_TYPE, 42);                         /* unknown type */
    assert_patched_is_corrupt(&bare, AT_TYPE, (uint32_t)COORD_OP_GETDATA); /* a read */
    assert_patched_is_corrupt(&multi, AT_COUNT, COORD_MULTI_MAX + 1);
    assert_patched_is_corrupt(&multi, AT_COUNT, 0xFFFFFFFFu);
    assert_patched_is_corrupt(&multi, AT_COUNT, 5);  /* more ops than bytes */
    assert_patched_is_corrupt(&create, AT_COUNT, 2); /* a single op txn with two */
    assert_patched_is_corrupt(&create, AT_COUNT, 0);
    /* Sub-op type: not a txn op, or not the header's type. */
    assert_patched_is_corrupt(&multi, AT_OP, (uint32_t)COORD_OP_CLOSESESSION);
    assert_patched_is_corrupt(&multi, AT_OP, (uint32_t)COORD_OP_MULTI);
    assert_patched_is_corrupt(&create, AT_OP, (uint32_t)COORD_OP_DELETE);
    /* Lengths: path below -1, path beyond the end. */
    assert_patched_is_corrupt(&create, AT_OP + 4, 0xFFFFFFFEu);
    assert_patched_is_corrupt(&create, AT_OP + 4, 0x7FFFFFFFu);
    /* Data length (after the 15-byte path) below -1 and too long. */
    size_t at_data = AT_OP + 4 + 4 + 15;
    assert_patched_is_corrupt(&create, at_data, 0xFFFFFFFEu);
    assert_patched_is_corrupt(&create, at_data, 1000);
    /* ACL count (after 10 data bytes) below -1 and too large. */
    size_t at_acl = at_data + 4 + 10;
    assert_patched_is_corrupt(&create, at_acl, 0xFFFFFFFEu);
    assert_patched_is_corrupt(&create, at_acl, 0x10000000u);
    assert_patched_is_corrupt(&create, at_acl, 3);
    /* The first ACL entry's scheme length. */
    assert_patched_is_corrupt(&create, at_acl + 8, 0xFFFFFF00u);
}

/* Random damage never crashes decode or apply, and leaks nothing. */
static void test_txn_decode_of_damaged_bytes_is_safe_to_apply(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/a", NULL, 0), COORD_OK);
    coord_tree_set_change_cb(&f->tree, NULL, NULL);
    struct coord_rng rng;
    coord_rng_seed(&rng, 12345);
    size_t decoded = 0;
    for (int which = 0; which < SAMPLE_COUNT; which++) {
        struct coord_txn txn = sample_txn(which);
        struct coord_buf b;
        encode_to(&txn, &b);
        for (size_t at = 0; at < b.len; at++) {
            uint8_t saved = b.data[at];
            b.data[at] ^= (uint8_t)(1u << coord_rng_below(&rng, 8));
            struct coord_txn back;
            int rc = coord_txn_decode(b.data, b.len, &back);
            if (rc == COORD_OK) {
                decoded++;
                back.zxid = f->tree.last_zxid + 1;
                rc = coord_tree_apply(&f->tree, &back, NULL, 0);
                assert_true(rc <= 0);
                coord_txn_release(&back);
            } else {
                assert_int_equal(rc, COORD_ECORRUPT);
            }
            b.data[at] = saved;
        }
        coord_buf_free(&b);
    }
    assert_true(decoded > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_multi_is_all_or_nothing_with_per_op_results),
        T(test_multi_failure_codes_follow_the_failing_op),
        T(test_multi_ops_share_one_zxid),
        T(test_multi_sees_earlier_ops),
        T(test_multi_sequential_creates_number_consecutively),
        T(test_multi_rejects_reads_and_setacl_with_marshalling),
        T(test_empty_multi_succeeds),
        T(test_multi_of_too_many_ops_is_marshalling),
        T(test_pipelined_preps_see_each_other),
        T(test_pipelined_delete_then_create_of_the_same_path),
        T(test_failed_multi_keeps_earlier_changes_in_flight),
        T(test_prep_reset_forgets_changes_in_flight),
        T(test_failed_prep_leaves_no_records),
        T(test_close_session_deletes_ephemerals_in_one_txn),
        T(test_close_session_leaves_other_sessions_index_intact),
        T(test_prepared_close_session_hides_ephemerals_from_later_preps),
        T(test_create_session_txn_changes_no_node),
        T(test_error_txn_uses_up_a_zxid_and_changes_nothing),
        T(test_apply_rejects_non_increasing_zxid),
        T(test_apply_of_inconsistent_txn_changes_nothing),
        T(test_out_of_memory_in_apply_changes_nothing),
        T(test_out_of_memory_in_prep_is_an_error_and_leaves_no_records),
        T(test_txn_encode_decode_roundtrip),
        T(test_txn_roundtrip_keeps_null_and_empty_data_apart),
        T(test_txn_decode_rejects_every_truncation),
        T(test_txn_decode_rejects_malformed_fields),
        T(test_txn_decode_of_damaged_bytes_is_safe_to_apply),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
