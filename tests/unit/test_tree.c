/* The znode tree and the write preparer together, as a standalone server uses
 * them: every write is prepared (coord_prep_op), applied (coord_tree_apply,
 * failed writes too, as ERROR txns) and then forgotten by the preparer.
 * Rules come from zk-wire §8 (create modes), §9 (Stat), §10 (paths, error
 * precedence, ACLs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

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
    char path[128];
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

static void assert_event(const struct events *e, size_t i, int type, const char *path)
{
    assert_true(i < e->count);
    assert_int_equal(e->ev[i].type, type);
    assert_string_equal(e->ev[i].path, path);
}

struct fx
{
    struct coord_tree tree;
    struct coord_prep prep;
    struct events events;
    struct coord_ident ids[2];
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
    /* Every connection carries its peer's ip id. */
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

/* The last successful op's result, with its path copied out of the tree. */
static struct coord_op_result last_result;
static char last_path[8192];

/* Prepare, apply (the ERROR txn of a failed write too, as a server does: it
 * uses up the zxid), then let the preparer forget what was applied. */
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
    assert_int_equal(t->last_zxid, zxid);
    coord_prep_applied(p, zxid);
    if (err == COORD_OK) {
        last_result = res[0];
        assert_true(res[0].path_len < sizeof last_path);
        memcpy(last_path, res[0].path, res[0].path_len);
        last_path[res[0].path_len] = '\0';
    } else {
        assert_int_equal(txn.type, COORD_OP_ERROR);
        assert_int_equal(txn.err, err);
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

static void op_set_data(struct coord_op *op, const char *data)
{
    op->data = (const uint8_t *)data;
    op->data_len = data == NULL ? -1 : (int32_t)strlen(data);
}

static int fx_run(struct fx *f, const struct coord_op *op)
{
    f->zxid++;
    return prep_and_apply(&f->tree, &f->prep, &f->caller, op, f->zxid, TIME_OF(f->zxid));
}

static int fx_create(struct fx *f, const char *path, const char *data, int32_t flags)
{
    struct coord_op op = make_op(COORD_OP_CREATE, path);
    op_set_data(&op, data);
    op.flags = flags;
    return fx_run(f, &op);
}

static int fx_create_acl(struct fx *f, const char *path, const struct coord_acl *acl, int32_t count)
{
    struct coord_op op = make_op(COORD_OP_CREATE, path);
    op.acl = acl;
    op.acl_count = count;
    return fx_run(f, &op);
}

static int fx_delete(struct fx *f, const char *path, int32_t version)
{
    struct coord_op op = make_op(COORD_OP_DELETE, path);
    op.version = version;
    return fx_run(f, &op);
}

static int fx_set(struct fx *f, const char *path, const char *data, int32_t version)
{
    struct coord_op op = make_op(COORD_OP_SETDATA, path);
    op_set_data(&op, data);
    op.version = version;
    return fx_run(f, &op);
}

static int fx_setacl(struct fx *f,
                     const char *path,
                     const struct coord_acl *acl,
                     int32_t count,
                     int32_t version)
{
    struct coord_op op = make_op(COORD_OP_SETACL, path);
    op.acl = acl;
    op.acl_count = count;
    op.version = version;
    return fx_run(f, &op);
}

static int fx_check(struct fx *f, const char *path, int32_t version)
{
    struct coord_op op = make_op(COORD_OP_CHECK, path);
    op.version = version;
    return fx_run(f, &op);
}

static void assert_stat_equal(const struct coord_stat *a, const struct coord_stat *b)
{
    assert_int_equal(a->czxid, b->czxid);
    assert_int_equal(a->mzxid, b->mzxid);
    assert_int_equal(a->ctime, b->ctime);
    assert_int_equal(a->mtime, b->mtime);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->cversion, b->cversion);
    assert_int_equal(a->aversion, b->aversion);
    assert_int_equal(a->ephemeral_owner, b->ephemeral_owner);
    assert_int_equal(a->data_length, b->data_length);
    assert_int_equal(a->num_children, b->num_children);
    assert_int_equal(a->pzxid, b->pzxid);
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

static void assert_data(const struct coord_tree *t, const char *path, const char *expected)
{
    int32_t len;
    const uint8_t *data = coord_tree_node_data(node_at(t, path), &len);
    if (expected == NULL) {
        assert_int_equal(len, -1);
        return;
    }
    assert_int_equal(len, (int32_t)strlen(expected));
    if (len > 0) {
        assert_memory_equal(data, expected, (size_t)len);
    }
}

static bool str_is(struct coord_str s, const char *expected)
{
    return s.len == (int32_t)strlen(expected) && memcmp(s.ptr, expected, (size_t)s.len) == 0;
}

/* The digest the tree would have with another last zxid: compares content only. */
static uint64_t digest_at(struct coord_tree *t, coord_zxid zxid)
{
    coord_zxid saved = t->last_zxid;
    t->last_zxid = zxid;
    uint64_t digest = coord_tree_digest(t);
    t->last_zxid = saved;
    return digest;
}

/* ---- fixed system nodes --------------------------------------------------------------- */

static void test_fresh_tree_has_system_nodes_with_fixed_stats_and_acls(void **state)
{
    struct fx *f = *state;
    static const char *const paths[] = {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"};
    for (size_t i = 0; i < 4; i++) {
        struct coord_stat st = stat_of(&f->tree, paths[i]);
        assert_int_equal(st.czxid, 0);
        assert_int_equal(st.mzxid, 0);
        assert_int_equal(st.pzxid, 0);
        assert_int_equal(st.ctime, 0);
        assert_int_equal(st.mtime, 0);
        assert_int_equal(st.version, 0);
        assert_int_equal(st.aversion, 0);
        assert_int_equal(st.ephemeral_owner, 0);
        assert_int_equal(st.data_length, 0);
        size_t count;
        const struct coord_acl *acl = coord_tree_node_acl(node_at(&f->tree, paths[i]), &count);
        assert_int_equal(count, 1);
        assert_int_equal(acl[0].perms, i == 3 ? COORD_PERM_READ : COORD_PERM_ALL);
        assert_true(str_is(acl[0].ident.scheme, "world"));
        assert_true(str_is(acl[0].ident.id, "anyone"));
    }
    /* Stored cversion 0 with children: reported as -numChildren. */
    assert_int_equal(stat_of(&f->tree, "/zookeeper").cversion, -2);
    assert_int_equal(stat_of(&f->tree, "/zookeeper").num_children, 2);
    assert_int_equal(stat_of(&f->tree, "/").cversion, -1);
    assert_int_equal(stat_of(&f->tree, "/").num_children, 1);
    assert_int_equal(stat_of(&f->tree, "/zookeeper/quota").cversion, 0);
    assert_data(&f->tree, "/", "");
    assert_int_equal(f->tree.count, 4);
    assert_int_equal(f->tree.last_zxid, 0);
    /* getChildren("/") lists only zookeeper. */
    const struct tree_node *c = coord_tree_node_next_child(f->tree.root, NULL);
    size_t len;
    assert_string_equal(coord_tree_node_name(c, &len), "zookeeper");
    assert_null(coord_tree_node_next_child(f->tree.root, c));
}

static void test_empty_path_finds_the_root(void **state)
{
    struct fx *f = *state;
    assert_ptr_equal(coord_tree_get(&f->tree, "", 0), f->tree.root);
    assert_ptr_equal(coord_tree_get(&f->tree, "/", 1), f->tree.root);
    assert_null(coord_tree_get(&f->tree, NULL, 0));
    assert_null(coord_tree_get(&f->tree, "/nope", 5));
    size_t len;
    assert_string_equal(coord_tree_node_path(f->tree.root, &len), "/");
    assert_int_equal(len, 1);
    coord_tree_node_name(f->tree.root, &len);
    assert_int_equal(len, 0);
}

static void test_system_nodes_cannot_be_deleted(void **state)
{
    struct fx *f = *state;
    /* Even empty: /zookeeper/quota has no children. */
    assert_int_equal(fx_delete(f, "/", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_delete(f, "/zookeeper", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_delete(f, "/zookeeper/quota", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_delete(f, "/zookeeper/config", -1), COORD_EBADARGUMENTS);
    assert_int_equal(f->tree.count, 4);
    assert_int_equal(f->events.count, 0);
    /* Their children are ordinary nodes. */
    assert_int_equal(fx_create(f, "/zookeeper/quota/x", NULL, 0), COORD_OK);
    assert_int_equal(fx_delete(f, "/zookeeper/quota/x", -1), COORD_OK);
}

static void test_zookeeper_config_is_read_only(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_set(f, "/zookeeper/config", "x", -1), COORD_ENOAUTH);
    assert_int_equal(fx_setacl(f, "/zookeeper/config", acl_open, 1, -1), COORD_ENOAUTH);
    assert_int_equal(fx_create(f, "/zookeeper/config/x", NULL, 0), COORD_ENOAUTH);
    assert_int_equal(fx_check(f, "/zookeeper/config", 0), COORD_OK);
    assert_data(&f->tree, "/zookeeper/config", "");
    assert_int_equal(stat_of(&f->tree, "/zookeeper/config").version, 0);
    /* The super user bypasses it, as every ACL. */
    f->auth.super = true;
    assert_int_equal(fx_set(f, "/zookeeper/config", "x", -1), COORD_OK);
    assert_data(&f->tree, "/zookeeper/config", "x");
}

/* ---- Stat semantics (§9) -------------------------------------------------------------- */

static void test_create_sets_czxid_mzxid_pzxid_to_txn_zxid(void **state)
{
    struct fx *f = *state;
    f->zxid = 0x500000007LL;
    assert_int_equal(fx_create(f, "/a", "hello", 0), COORD_OK);
    struct coord_stat st = stat_of(&f->tree, "/a");
    assert_int_equal(st.czxid, 0x500000008LL);
    assert_int_equal(st.mzxid, 0x500000008LL);
    assert_int_equal(st.pzxid, 0x500000008LL);
    assert_int_equal(st.ctime, TIME_OF(0x500000008LL));
    assert_int_equal(st.mtime, TIME_OF(0x500000008LL));
    assert_int_equal(st.version, 0);
    assert_int_equal(st.cversion, 0);
    assert_int_equal(st.aversion, 0);
    assert_int_equal(st.ephemeral_owner, 0);
    assert_int_equal(st.data_length, 5);
    assert_int_equal(st.num_children, 0);
    assert_data(&f->tree, "/a", "hello");
    /* The reply's result carries the same Stat and the path. */
    assert_string_equal(last_path, "/a");
    assert_stat_equal(&last_result.stat, &st);
}

static void test_create_bumps_parent_cversion_and_pzxid_not_mzxid(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", "d", 0), COORD_OK);    /* zxid 1 */
    assert_int_equal(fx_create(f, "/p/a", NULL, 0), COORD_OK); /* zxid 2 */
    assert_int_equal(fx_create(f, "/p/b", NULL, 0), COORD_OK); /* zxid 3 */
    struct coord_stat st = stat_of(&f->tree, "/p");
    assert_int_equal(st.cversion, 2);
    assert_int_equal(coord_tree_node_child_creations(node_at(&f->tree, "/p")), 2);
    assert_int_equal(st.num_children, 2);
    assert_int_equal(st.pzxid, 3);
    assert_int_equal(st.czxid, 1);
    assert_int_equal(st.mzxid, 1);
    assert_int_equal(st.mtime, TIME_OF(1));
    assert_int_equal(st.version, 0);
    assert_int_equal(st.aversion, 0);
    /* The root counted /p. */
    st = stat_of(&f->tree, "/");
    assert_int_equal(coord_tree_node_child_creations(f->tree.root), 1);
    assert_int_equal(st.num_children, 2);
    assert_int_equal(st.cversion, 0); /* 2 * 1 - 2 */
    assert_int_equal(st.pzxid, 1);
    assert_int_equal(st.mzxid, 0);
}

static void test_delete_bumps_parent_pzxid_and_reported_cversion(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fx_create(f, "/p/c", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL), COORD_OK);
    }
    assert_int_equal(stat_of(&f->tree, "/p").cversion, 3);
    assert_int_equal(fx_delete(f, "/p/c0000000001", -1), COORD_OK); /* zxid 5 */
    struct coord_stat st = stat_of(&f->tree, "/p");
    assert_int_equal(coord_tree_node_child_creations(node_at(&f->tree, "/p")), 3);
    assert_int_equal(st.num_children, 2);
    assert_int_equal(st.cversion, 4);
    assert_int_equal(st.pzxid, 5);
    assert_int_equal(st.mzxid, 1);
    assert_int_equal(st.version, 0);
    assert_null(node_at(&f->tree, "/p/c0000000001"));
    assert_int_equal(f->tree.count, 4 + 3);
}

static void test_setdata_bumps_version_even_if_data_identical(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/a", "same", 0), COORD_OK);
    assert_int_equal(fx_set(f, "/a", "same", -1), COORD_OK); /* zxid 2 */
    assert_int_equal(fx_set(f, "/a", "same", 1), COORD_OK);  /* zxid 3 */
    struct coord_stat st = stat_of(&f->tree, "/a");
    assert_int_equal(st.version, 2);
    assert_int_equal(st.mzxid, 3);
    assert_int_equal(st.mtime, TIME_OF(3));
    assert_int_equal(st.czxid, 1);
    assert_int_equal(st.ctime, TIME_OF(1));
    assert_int_equal(st.pzxid, 1);
    assert_int_equal(st.aversion, 0);
    assert_int_equal(st.cversion, 0);
    assert_int_equal(st.data_length, 4);
    assert_stat_equal(&last_result.stat, &st);
    /* The parent is untouched by setData. */
    assert_int_equal(stat_of(&f->tree, "/").pzxid, 1);
    assert_int_equal(fx_set(f, "/a", "longer data", 2), COORD_OK);
    assert_int_equal(stat_of(&f->tree, "/a").data_length, 11);
    assert_data(&f->tree, "/a", "longer data");
    assert_int_equal(f->tree.data_bytes, 11);
}

static void test_setacl_bumps_aversion_not_mzxid(void **state)
{
    struct fx *f = *state;
    static const struct coord_acl acl_read[1] = {
        {COORD_PERM_READ | COORD_PERM_ADMIN, {{"world", 5}, {"anyone", 6}}}};
    assert_int_equal(fx_create(f, "/a", "x", 0), COORD_OK);
    assert_int_equal(fx_setacl(f, "/a", acl_read, 1, 0), COORD_OK); /* zxid 2 */
    struct coord_stat st = stat_of(&f->tree, "/a");
    assert_int_equal(st.aversion, 1);
    assert_int_equal(st.version, 0);
    assert_int_equal(st.mzxid, 1);
    assert_int_equal(st.mtime, TIME_OF(1));
    assert_int_equal(st.pzxid, 1);
    assert_stat_equal(&last_result.stat, &st);
    size_t count;
    const struct coord_acl *acl = coord_tree_node_acl(node_at(&f->tree, "/a"), &count);
    assert_int_equal(count, 1);
    assert_int_equal(acl[0].perms, COORD_PERM_READ | COORD_PERM_ADMIN);
    /* The expected version of setACL is the aversion. */
    assert_int_equal(fx_setacl(f, "/a", acl_open, 1, 0), COORD_EBADVERSION);
    assert_int_equal(fx_setacl(f, "/a", acl_open, 1, 1), COORD_OK);
    assert_int_equal(stat_of(&f->tree, "/a").aversion, 2);
}

static void test_null_data_differs_from_empty_data(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/null", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/empty", "", 0), COORD_OK);
    assert_data(&f->tree, "/null", NULL);
    assert_data(&f->tree, "/empty", "");
    /* Both report dataLength 0. */
    assert_int_equal(stat_of(&f->tree, "/null").data_length, 0);
    assert_int_equal(stat_of(&f->tree, "/empty").data_length, 0);
    /* An empty buffer whose pointer is NULL is still empty, not null. */
    struct coord_op op = make_op(COORD_OP_SETDATA, "/null");
    op.data = NULL;
    op.data_len = 0;
    assert_int_equal(fx_run(f, &op), COORD_OK);
    assert_data(&f->tree, "/null", "");
    assert_int_equal(fx_set(f, "/empty", NULL, -1), COORD_OK);
    assert_data(&f->tree, "/empty", NULL);
    op = make_op(COORD_OP_CREATE, "/empty2");
    op.data = NULL;
    op.data_len = 0;
    assert_int_equal(fx_run(f, &op), COORD_OK);
    assert_data(&f->tree, "/empty2", "");
}

static void test_versions_wrap_as_signed_32_bit(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/a", NULL, 0), COORD_OK);
    /* Build a node at version INT32_MAX through a logged setData txn. */
    struct coord_txn_op top = {0};
    top.type = COORD_OP_SETDATA;
    top.path = (struct coord_str){"/a", 2};
    top.data_len = -1;
    top.version = INT32_MAX;
    struct coord_txn txn = {0};
    txn.type = COORD_OP_SETDATA;
    txn.zxid = ++f->zxid;
    txn.op_count = 1;
    txn.ops = &top;
    assert_int_equal(coord_tree_apply(&f->tree, &txn, NULL, 0), COORD_OK);
    assert_int_equal(fx_set(f, "/a", "x", INT32_MAX), COORD_OK);
    assert_int_equal(stat_of(&f->tree, "/a").version, INT32_MIN);
    assert_int_equal(fx_set(f, "/a", "x", INT32_MIN), COORD_OK);
    assert_int_equal(stat_of(&f->tree, "/a").version, INT32_MIN + 1);
}

/* ---- create modes (§8) ---------------------------------------------------------------- */

static void test_sequential_suffix_counts_child_creations(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    static const char *const expected[] = {"/p/s-0000000000", "/p/s-0000000001", "/p/s-0000000002"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fx_create(f, "/p/s-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL), COORD_OK);
        assert_string_equal(last_path, expected[i]);
        assert_non_null(node_at(&f->tree, expected[i]));
    }
    assert_int_equal(fx_delete(f, "/p/s-0000000001", -1), COORD_OK);
    assert_int_equal(fx_create(f, "/p/s-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL), COORD_OK);
    assert_string_equal(last_path, "/p/s-0000000003");
    assert_int_equal(fx_create(f, "/p/", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL), COORD_OK);
    assert_string_equal(last_path, "/p/0000000004");
    /* A plain create counts too. */
    assert_int_equal(fx_create(f, "/p/plain", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/p/e-", NULL, COORD_MODE_EPHEMERAL_SEQUENTIAL), COORD_OK);
    assert_string_equal(last_path, "/p/e-0000000006");
    assert_int_equal(stat_of(&f->tree, last_path).ephemeral_owner, SESSION_A);
    /* A failed create counts nothing. */
    assert_int_equal(fx_create(f, "/p/plain", NULL, 0), COORD_ENODEEXISTS);
    assert_int_equal(fx_create(f, "/p/s-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL), COORD_OK);
    assert_string_equal(last_path, "/p/s-0000000007");
    /* The counter is per parent. */
    assert_int_equal(fx_create(f, "/q", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/q/", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL), COORD_OK);
    assert_string_equal(last_path, "/q/0000000000");
}

static void test_sequential_name_taken_is_nodeexists(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/p/s0000000001", NULL, 0), COORD_OK);
    /* The counter is now 1, and that name is taken. */
    assert_int_equal(fx_create(f, "/p/s", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL),
                     COORD_ENODEEXISTS);
    assert_int_equal(coord_tree_node_child_creations(node_at(&f->tree, "/p")), 1);
}

static void test_ephemeral_cannot_have_children(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/e", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    struct coord_stat st = stat_of(&f->tree, "/e");
    assert_int_equal(st.ephemeral_owner, SESSION_A);
    assert_int_equal(coord_tree_node_owner(node_at(&f->tree, "/e")), SESSION_A);
    assert_int_equal(fx_create(f, "/e/c", NULL, 0), COORD_ENOCHILDRENFOREPHEMERALS);
    assert_int_equal(fx_create(f, "/e/c", NULL, COORD_MODE_EPHEMERAL),
                     COORD_ENOCHILDRENFOREPHEMERALS);
    assert_int_equal(fx_create(f, "/e/s", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL),
                     COORD_ENOCHILDRENFOREPHEMERALS);
    /* Even another session's caller. */
    f->caller.session = SESSION_B;
    assert_int_equal(fx_create(f, "/e/c", NULL, 0), COORD_ENOCHILDRENFOREPHEMERALS);
    assert_int_equal(stat_of(&f->tree, "/e").num_children, 0);
    assert_int_equal(coord_tree_node_child_creations(node_at(&f->tree, "/e")), 0);
}

static void test_ephemerals_are_indexed_by_session_in_creation_order(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/z", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    assert_int_equal(fx_create(f, "/a", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    f->caller.session = SESSION_B;
    assert_int_equal(fx_create(f, "/b", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    assert_int_equal(fx_create(f, "/persistent", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/c", NULL, COORD_MODE_CONTAINER), COORD_OK);
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_A), 2);
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_B), 1);
    assert_int_equal(f->tree.ephemeral_count, 3);
    size_t pos = 0;
    size_t len;
    assert_string_equal(
        coord_tree_node_path(coord_tree_next_ephemeral(&f->tree, SESSION_A, &pos), &len), "/z");
    assert_string_equal(
        coord_tree_node_path(coord_tree_next_ephemeral(&f->tree, SESSION_A, &pos), &len), "/a");
    assert_null(coord_tree_next_ephemeral(&f->tree, SESSION_A, &pos));
    assert_int_equal(fx_delete(f, "/z", -1), COORD_OK);
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_A), 1);
    assert_int_equal(fx_delete(f, "/a", -1), COORD_OK);
    assert_int_equal(coord_tree_ephemerals_of(&f->tree, SESSION_A), 0);
    pos = 0;
    assert_null(coord_tree_next_ephemeral(&f->tree, SESSION_A, &pos));
    assert_int_equal(f->tree.ephemeral_count, 1);
}

static void test_container_owner_marker_hidden_in_stat(void **state)
{
    struct fx *f = *state;
    struct coord_op op = make_op(COORD_OP_CREATECONTAINER, "/c");
    op.flags = COORD_MODE_CONTAINER;
    assert_int_equal(fx_run(f, &op), COORD_OK);
    assert_int_equal(coord_tree_node_owner(node_at(&f->tree, "/c")), COORD_OWNER_CONTAINER);
    assert_int_equal(stat_of(&f->tree, "/c").ephemeral_owner, 0);
    assert_int_equal(last_result.stat.ephemeral_owner, 0);
    /* Containers can have children, and are no session's ephemerals. */
    assert_int_equal(fx_create(f, "/c/child", NULL, 0), COORD_OK);
    assert_int_equal(f->tree.ephemeral_count, 0);
    /* The server does not check that opcode and mode agree. */
    assert_int_equal(fx_create(f, "/c2", NULL, COORD_MODE_CONTAINER), COORD_OK);
    assert_int_equal(coord_tree_node_owner(node_at(&f->tree, "/c2")), COORD_OWNER_CONTAINER);
}

static int fx_create_ttl(struct fx *f, int32_t type, const char *path, int32_t mode, int64_t ttl)
{
    struct coord_op op = make_op(type, path);
    op.flags = mode;
    op.ttl = ttl;
    return fx_run(f, &op);
}

static void test_ttl_disabled_is_unimplemented(void **state)
{
    struct fx *f = *state;
    assert_false(f->prep.ttl_enabled);
    assert_int_equal(
        fx_create_ttl(f, COORD_OP_CREATETTL, "/t", COORD_MODE_PERSISTENT_WITH_TTL, 1000),
        COORD_EUNIMPLEMENTED);
    assert_int_equal(
        fx_create_ttl(f, COORD_OP_CREATETTL, "/t", COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL, 1000),
        COORD_EUNIMPLEMENTED);
    /* The TTL check comes first, whatever else is wrong. */
    assert_int_equal(
        fx_create_ttl(f, COORD_OP_CREATE, "noslash", COORD_MODE_PERSISTENT_WITH_TTL, 0),
        COORD_EUNIMPLEMENTED);
    assert_null(node_at(&f->tree, "/t"));
}

static void test_ttl_mode_via_plain_create_is_badarguments(void **state)
{
    struct fx *f = *state;
    f->prep.ttl_enabled = true;
    assert_int_equal(fx_create(f, "/t", NULL, COORD_MODE_PERSISTENT_WITH_TTL), COORD_EBADARGUMENTS);
    assert_int_equal(fx_create(f, "/t", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL),
                     COORD_EBADARGUMENTS);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATE2, "/t", COORD_MODE_PERSISTENT_WITH_TTL, 5),
                     COORD_EBADARGUMENTS);
    /* A ttl >= 0 with a non-TTL mode on createTTL. */
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/t", COORD_MODE_PERSISTENT, 0),
                     COORD_EBADARGUMENTS);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/t", COORD_MODE_EPHEMERAL, 10),
                     COORD_EBADARGUMENTS);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/t", COORD_MODE_PERSISTENT, -1),
                     COORD_OK);
    assert_int_equal(coord_tree_node_owner(node_at(&f->tree, "/t")), 0);
}

static void test_ttl_bounds(void **state)
{
    struct fx *f = *state;
    f->prep.ttl_enabled = true;
    const int32_t mode = COORD_MODE_PERSISTENT_WITH_TTL;
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/t", mode, 0), COORD_EBADARGUMENTS);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/t", mode, -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/t", mode, COORD_TTL_MAX + 1),
                     COORD_EBADARGUMENTS);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/t", mode, INT64_MIN),
                     COORD_EBADARGUMENTS);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/t1", mode, 1), COORD_OK);
    assert_int_equal(coord_tree_node_owner(node_at(&f->tree, "/t1")),
                     (int64_t)0xFF00000000000001ULL);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/tmax", mode, COORD_TTL_MAX), COORD_OK);
    assert_int_equal(coord_tree_node_owner(node_at(&f->tree, "/tmax")),
                     (int64_t)0xFF0000FFFFFFFFFFULL);
    assert_int_equal(stat_of(&f->tree, "/tmax").ephemeral_owner, 0);
    assert_int_equal(fx_create_ttl(f, COORD_OP_CREATETTL, "/ts-",
                                   COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL, 60000),
                     COORD_OK);
    assert_string_equal(last_path, "/ts-0000000002");
    /* TTL nodes can have children and belong to no session. */
    assert_int_equal(fx_create(f, "/t1/c", NULL, 0), COORD_OK);
    assert_int_equal(f->tree.ephemeral_count, 0);
}

static void test_invalid_create_flags_are_badarguments(void **state)
{
    struct fx *f = *state;
    static const int32_t bad[] = {7, 9, -1, 0x100, INT32_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fx_create(f, "/a", NULL, bad[i]), COORD_EBADARGUMENTS);
    }
    assert_int_equal(f->tree.count, 4);
}

/* ---- paths (§10.1) -------------------------------------------------------------------- */

static int validate(const char *path)
{
    return coord_path_validate(path, strlen(path));
}

static void test_path_validation_rules(void **state)
{
    (void)state;
    static const char *const valid[] = {
        "/",
        "/a",
        "/a/b",
        "/a.b",
        "/.a",
        "/a.",
        "/...",
        "/a/.../b",
        "/ a",
        "/a b",
        "/\xc2\xa0",          /* U+00A0, just above the C1 range */
        "/\x7e",              /* '~' just below U+007F */
        "/\xed\x9f\xbf",      /* U+D7FF, just below the surrogates */
        "/\xef\xa4\x80",      /* U+F900, just above the private use area */
        "/\xef\xbf\xaf",      /* U+FFEF, just below U+FFF0 */
        "/\xc3\xa9t\xc3\xa9", /* "été" */
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        assert_int_equal(validate(valid[i]), COORD_OK);
    }
    static const char *const invalid[] = {
        "",
        "a",
        "a/b",
        "/a/",
        "//",
        "/a//b",
        "//a",
        "/.",
        "/..",
        "/a/.",
        "/a/..",
        "/a/./b",
        "/a/../b",
        "/./a",
        "/\x01",
        "/a\x1f",
        "/\x7f", /* U+0001..U+001F, U+007F */
        "/\xc2\x80",
        "/\xc2\x9f",         /* U+0080, U+009F */
        "/\xed\xa0\x80",     /* U+D800 encoded directly */
        "/\xed\xbf\xbf",     /* U+DFFF */
        "/\xee\x80\x80",     /* U+E000 (private use) */
        "/\xef\xa3\xbf",     /* U+F8FF */
        "/\xef\xbf\xb0",     /* U+FFF0 */
        "/\xef\xbf\xbd",     /* U+FFFD, what Java makes of bad bytes */
        "/\xef\xbf\xbf",     /* U+FFFF */
        "/\xf0\x9f\x98\x80", /* U+1F600: a surrogate pair in Java's String */
        "/\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "/\x80",
        "/\xbf", /* continuation bytes alone */
        "/\xc0\xaf",
        "/\xc1\xbf",             /* overlong '/' and U+007F */
        "/\xe0\x80\xaf",         /* overlong */
        "/\xf0\x80\x80\xaf",     /* overlong */
        "/\xf4\x90\x80\x80",     /* above U+10FFFF */
        "/\xf8\x88\x80\x80\x80", /* 5-byte form */
        "/\xff",
        "/\xfe",
        "/\xc3",
        "/a\xe2\x82", /* truncated at the end */
        "/\xc3/b",
        "/\xe2\x82/b", /* truncated before a '/' */
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        assert_int_equal(validate(invalid[i]), COORD_EBADARGUMENTS);
    }
    /* Embedded NUL (U+0000). */
    assert_int_equal(coord_path_validate("/a\0b", 4), COORD_EBADARGUMENTS);
    assert_int_equal(coord_path_validate("/\0", 2), COORD_EBADARGUMENTS);
    assert_int_equal(coord_path_validate(NULL, 0), COORD_EBADARGUMENTS);
    /* A length shorter than the string: only those bytes count. */
    assert_int_equal(coord_path_validate("/a/", 2), COORD_OK);
}

static void test_path_parent_len_and_system_paths(void **state)
{
    (void)state;
    assert_int_equal(coord_path_parent_len("/a", 2), 1);
    assert_int_equal(coord_path_parent_len("/a/b", 4), 2);
    assert_int_equal(coord_path_parent_len("/a/bc/d", 7), 5);
    assert_int_equal(coord_path_parent_len("/a/", 3), 2);
    assert_int_equal(coord_path_parent_len("/", 1), 1);
    assert_int_equal(coord_path_parent_len("a", 1), -1);
    assert_int_equal(coord_path_parent_len("", 0), -1);
    assert_true(coord_path_is_system("/", 1));
    assert_true(coord_path_is_system("/zookeeper", 10));
    assert_true(coord_path_is_system("/zookeeper/quota", 16));
    assert_true(coord_path_is_system("/zookeeper/config", 17));
    assert_false(coord_path_is_system("/zookeeper/", 11));
    assert_false(coord_path_is_system("/zookeeper/quota/x", 18));
    assert_false(coord_path_is_system("", 0));
}

static void test_writes_validate_paths_from_the_wire(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/a", NULL, 0), COORD_OK);
    /* A null path cannot be deserialised by the real server: -5. */
    struct coord_op op = make_op(COORD_OP_SETDATA, NULL);
    assert_int_equal(fx_run(f, &op), COORD_EMARSHALLING);
    op = make_op(COORD_OP_CREATE, NULL);
    assert_int_equal(fx_run(f, &op), COORD_EMARSHALLING);
    /* An embedded NUL. */
    op = make_op(COORD_OP_SETDATA, "/a\0b");
    op.path.len = 4;
    assert_int_equal(fx_run(f, &op), COORD_EBADARGUMENTS);
    op = make_op(COORD_OP_DELETE, "/a\0b");
    op.path.len = 4;
    assert_int_equal(fx_run(f, &op), COORD_EBADARGUMENTS);
    assert_int_equal(fx_set(f, "/a/", "x", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_set(f, "/\xf0\x9f\x98\x80", "x", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_create(f, "/a/\xef\xbf\xbf", NULL, 0), COORD_EBADARGUMENTS);
    assert_int_equal(fx_check(f, "/a/.", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_setacl(f, "", acl_open, 1, -1), COORD_EBADARGUMENTS);
    /* An op that is not a write. */
    op = make_op(COORD_OP_GETDATA, "/a");
    assert_int_equal(fx_run(f, &op), COORD_EMARSHALLING);
    assert_int_equal(f->tree.count, 5);
}

/* ---- error precedence (§10.2) --------------------------------------------------------- */

static void test_create_error_precedence(void **state)
{
    struct fx *f = *state;
    static const struct coord_acl acl_no_create[1] = {
        {COORD_PERM_ALL & ~COORD_PERM_CREATE, {{"world", 5}, {"anyone", 6}}}};
    static const struct coord_acl acl_bad[1] = {{COORD_PERM_ALL, {{"world", 5}, {"bob", 3}}}};
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    assert_int_equal(fx_create_acl(f, "/ro", acl_no_create, 1), COORD_OK);
    assert_int_equal(fx_create(f, "/e", NULL, COORD_MODE_EPHEMERAL), COORD_OK);
    uint64_t digest = coord_tree_digest(&f->tree);

    /* 1. No '/' or a NUL beats an invalid ACL. */
    assert_int_equal(fx_create_acl(f, "noslash", NULL, -1), COORD_EBADARGUMENTS);
    struct coord_op op = make_op(COORD_OP_CREATE, "/p/a\0b");
    op.path.len = 6;
    op.acl = NULL;
    op.acl_count = -1;
    assert_int_equal(fx_run(f, &op), COORD_EBADARGUMENTS);
    /* 2. An invalid ACL beats a missing parent. */
    assert_int_equal(fx_create_acl(f, "/missing/x", NULL, -1), COORD_EINVALIDACL);
    assert_int_equal(fx_create_acl(f, "/missing/x", acl_open, 0), COORD_EINVALIDACL);
    assert_int_equal(fx_create_acl(f, "/missing/x", acl_bad, 1), COORD_EINVALIDACL);
    /* 3. A missing parent beats validation: "/a//b" and "/a/" with /a missing. */
    assert_int_equal(fx_create(f, "/missing/x", NULL, 0), COORD_ENONODE);
    assert_int_equal(fx_create(f, "/a//b", NULL, 0), COORD_ENONODE);
    assert_int_equal(fx_create(f, "/a/", NULL, 0), COORD_ENONODE);
    assert_int_equal(fx_create(f, "/missing/.", NULL, 0), COORD_ENONODE);
    /* 4. No CREATE on the parent beats validation and existence. */
    assert_int_equal(fx_create(f, "/ro/x", NULL, 0), COORD_ENOAUTH);
    assert_int_equal(fx_create(f, "/ro/.", NULL, 0), COORD_ENOAUTH);
    assert_int_equal(fx_create(f, "/ro/", NULL, 0), COORD_ENOAUTH);
    /* 5. Validation (after the suffix) beats existence. */
    assert_int_equal(fx_create(f, "/p/", NULL, 0), COORD_EBADARGUMENTS);
    assert_int_equal(fx_create(f, "/..", NULL, 0), COORD_EBADARGUMENTS);
    assert_int_equal(fx_create(f, "/p/..", NULL, 0), COORD_EBADARGUMENTS);
    assert_int_equal(fx_create(f, "/p/\x01", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL),
                     COORD_EBADARGUMENTS);
    assert_int_equal(fx_create(f, "/p/\x01", NULL, 0), COORD_EBADARGUMENTS);
    /* 6. Existence: / and an existing node. */
    assert_int_equal(fx_create(f, "/", NULL, 0), COORD_ENODEEXISTS);
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_ENODEEXISTS);
    assert_int_equal(fx_create(f, "/zookeeper", NULL, 0), COORD_ENODEEXISTS);
    /* 7. An ephemeral parent. */
    assert_int_equal(fx_create(f, "/e/x", NULL, 0), COORD_ENOCHILDRENFOREPHEMERALS);
    /* Failed creates change nothing but the last zxid. */
    assert_int_equal(digest_at(&f->tree, 3), digest);
    assert_int_equal(f->events.count, 3 * 2);
}

static void test_delete_error_precedence(void **state)
{
    struct fx *f = *state;
    static const struct coord_acl acl_no_delete[1] = {
        {COORD_PERM_ALL & ~COORD_PERM_DELETE, {{"world", 5}, {"anyone", 6}}}};
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/p/c", NULL, 0), COORD_OK);
    assert_int_equal(fx_create_acl(f, "/nd", acl_no_delete, 1), COORD_OK);
    assert_int_equal(fx_create(f, "/nd/c", NULL, 0), COORD_OK);
    /* No '/', a NUL or a special path. */
    assert_int_equal(fx_delete(f, "noslash", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_delete(f, "", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_delete(f, "/zookeeper", 99), COORD_EBADARGUMENTS);
    /* No full validation on delete: "/p/" is just a missing node. */
    assert_int_equal(fx_delete(f, "/p/", -1), COORD_ENONODE);
    assert_int_equal(fx_delete(f, "/p/.", -1), COORD_ENONODE);
    /* Parent missing. */
    assert_int_equal(fx_delete(f, "/missing/x", -1), COORD_ENONODE);
    /* No DELETE on the parent beats a missing node and a bad version. */
    assert_int_equal(fx_delete(f, "/nd/missing", -1), COORD_ENOAUTH);
    assert_int_equal(fx_delete(f, "/nd/c", 5), COORD_ENOAUTH);
    /* Node missing. */
    assert_int_equal(fx_delete(f, "/p/missing", 7), COORD_ENONODE);
    /* Version, then children. */
    assert_int_equal(fx_delete(f, "/p/c", 1), COORD_EBADVERSION);
    assert_int_equal(fx_delete(f, "/p", -1), COORD_ENOTEMPTY);
    assert_non_null(node_at(&f->tree, "/p/c"));
    assert_int_equal(fx_delete(f, "/p/c", 0), COORD_OK);
    assert_int_equal(fx_delete(f, "/p", 0), COORD_OK);
}

static void test_badversion_beats_notempty_on_delete(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/p/c", NULL, 0), COORD_OK);
    assert_int_equal(fx_delete(f, "/p", 3), COORD_EBADVERSION);
    assert_int_equal(fx_delete(f, "/p", 0), COORD_ENOTEMPTY);
    assert_int_equal(fx_delete(f, "/p", -1), COORD_ENOTEMPTY);
    assert_int_equal(f->tree.count, 6);
}

static void test_setdata_setacl_check_error_precedence(void **state)
{
    struct fx *f = *state;
    static const struct coord_acl acl_none[1] = {{0, {{"world", 5}, {"anyone", 6}}}};
    static const struct coord_acl acl_bad[1] = {{COORD_PERM_ALL, {{"nope", 4}, {"x", 1}}}};
    assert_int_equal(fx_create(f, "/a", "x", 0), COORD_OK);
    assert_int_equal(fx_create_acl(f, "/locked", acl_none, 1), COORD_OK);
    /* Validation first. */
    assert_int_equal(fx_set(f, "/missing/", "x", 3), COORD_EBADARGUMENTS);
    assert_int_equal(fx_setacl(f, "/missing/", NULL, -1, 3), COORD_EBADARGUMENTS);
    assert_int_equal(fx_check(f, "/missing/", 3), COORD_EBADARGUMENTS);
    /* setACL: the ACL before the lookup. */
    assert_int_equal(fx_setacl(f, "/missing", acl_bad, 1, 3), COORD_EINVALIDACL);
    assert_int_equal(fx_setacl(f, "/missing", NULL, -1, 3), COORD_EINVALIDACL);
    /* Then the lookup. */
    assert_int_equal(fx_set(f, "/missing", "x", 3), COORD_ENONODE);
    assert_int_equal(fx_setacl(f, "/missing", acl_open, 1, 3), COORD_ENONODE);
    assert_int_equal(fx_check(f, "/missing", 3), COORD_ENONODE);
    /* Then the permission, before the version. */
    assert_int_equal(fx_set(f, "/locked", "x", 3), COORD_ENOAUTH);
    assert_int_equal(fx_setacl(f, "/locked", acl_open, 1, 3), COORD_ENOAUTH);
    assert_int_equal(fx_check(f, "/locked", 3), COORD_ENOAUTH);
    /* Then the version. */
    assert_int_equal(fx_set(f, "/a", "y", 1), COORD_EBADVERSION);
    assert_int_equal(fx_setacl(f, "/a", acl_open, 1, 1), COORD_EBADVERSION);
    assert_int_equal(fx_check(f, "/a", 1), COORD_EBADVERSION);
    assert_int_equal(fx_check(f, "/a", 0), COORD_OK);
    assert_int_equal(fx_check(f, "/a", -1), COORD_OK);
    assert_data(&f->tree, "/a", "x");
    struct coord_stat st = stat_of(&f->tree, "/a");
    assert_int_equal(st.version, 0);
    assert_int_equal(st.aversion, 0);
    assert_int_equal(st.mzxid, 1);
}

static void test_data_limit_is_enforced(void **state)
{
    struct fx *f = *state;
    assert_int_equal(f->prep.data_max_bytes, COORD_DATA_MAX_DEFAULT);
    uint8_t *big = calloc(COORD_DATA_MAX_DEFAULT + 1, 1);
    assert_non_null(big);
    struct coord_op op = make_op(COORD_OP_CREATE, "/big");
    op.data = big;
    op.data_len = COORD_DATA_MAX_DEFAULT + 1;
    assert_int_equal(fx_run(f, &op), COORD_EBADARGUMENTS);
    op.data_len = COORD_DATA_MAX_DEFAULT;
    assert_int_equal(fx_run(f, &op), COORD_OK);
    assert_int_equal(stat_of(&f->tree, "/big").data_length, COORD_DATA_MAX_DEFAULT);
    op = make_op(COORD_OP_SETDATA, "/big");
    op.data = big;
    op.data_len = COORD_DATA_MAX_DEFAULT + 1;
    assert_int_equal(fx_run(f, &op), COORD_EBADARGUMENTS);
    op.data_len = COORD_DATA_MAX_DEFAULT;
    assert_int_equal(fx_run(f, &op), COORD_OK);
    free(big);
    /* Configurable. */
    f->prep.data_max_bytes = 10;
    assert_int_equal(fx_create(f, "/s", "0123456789", 0), COORD_OK);
    assert_int_equal(fx_create(f, "/t", "0123456789a", 0), COORD_EBADARGUMENTS);
    assert_int_equal(fx_set(f, "/s", "0123456789a", -1), COORD_EBADARGUMENTS);
    assert_int_equal(fx_set(f, "/s", "", -1), COORD_OK);
    assert_int_equal(f->tree.data_bytes, COORD_DATA_MAX_DEFAULT);
}

/* ---- ACLs (§10.3) --------------------------------------------------------------------- */

/* A node /n whose ACL grants everything but `missing` to everyone. */
static void create_without(struct fx *f, int32_t missing)
{
    const struct coord_acl acl[1] = {{COORD_PERM_ALL & ~missing, {{"world", 5}, {"anyone", 6}}}};
    assert_int_equal(fx_create_acl(f, "/n", acl, 1), COORD_OK);
}

static void test_create_needs_create_perm_on_parent(void **state)
{
    struct fx *f = *state;
    create_without(f, COORD_PERM_CREATE);
    assert_int_equal(fx_create(f, "/n/c", NULL, 0), COORD_ENOAUTH);
    /* The node's own ACL does not matter, only the parent's. */
    static const struct coord_acl acl_create_only[1] = {
        {COORD_PERM_CREATE, {{"world", 5}, {"anyone", 6}}}};
    assert_int_equal(fx_create_acl(f, "/c", acl_create_only, 1), COORD_OK);
    assert_int_equal(fx_create(f, "/c/x", NULL, 0), COORD_OK);
}

static void test_delete_needs_delete_perm_on_parent(void **state)
{
    struct fx *f = *state;
    static const struct coord_acl acl_delete_only[1] = {
        {COORD_PERM_DELETE | COORD_PERM_CREATE, {{"world", 5}, {"anyone", 6}}}};
    static const struct coord_acl acl_none[1] = {{0, {{"world", 5}, {"anyone", 6}}}};
    create_without(f, COORD_PERM_DELETE);
    assert_int_equal(fx_create(f, "/n/c", NULL, 0), COORD_OK);
    assert_int_equal(fx_delete(f, "/n/c", -1), COORD_ENOAUTH);
    /* A node with no permission at all can be deleted through its parent. */
    assert_int_equal(fx_create_acl(f, "/d", acl_delete_only, 1), COORD_OK);
    assert_int_equal(fx_create_acl(f, "/d/x", acl_none, 1), COORD_OK);
    assert_int_equal(fx_delete(f, "/d/x", -1), COORD_OK);
    assert_null(node_at(&f->tree, "/d/x"));
}

static void test_setdata_needs_write_perm(void **state)
{
    struct fx *f = *state;
    create_without(f, COORD_PERM_WRITE);
    assert_int_equal(fx_set(f, "/n", "x", -1), COORD_ENOAUTH);
    assert_int_equal(fx_setacl(f, "/n", acl_open, 1, -1), COORD_OK);
    assert_int_equal(fx_set(f, "/n", "x", -1), COORD_OK);
}

static void test_setacl_needs_admin_perm(void **state)
{
    struct fx *f = *state;
    create_without(f, COORD_PERM_ADMIN);
    assert_int_equal(fx_setacl(f, "/n", acl_open, 1, -1), COORD_ENOAUTH);
    assert_int_equal(stat_of(&f->tree, "/n").aversion, 0);
}

static void test_check_needs_read_perm(void **state)
{
    struct fx *f = *state;
    create_without(f, COORD_PERM_READ);
    assert_int_equal(fx_check(f, "/n", 0), COORD_ENOAUTH);
    assert_int_equal(fx_set(f, "/n", "x", 0), COORD_OK);
}

static void test_acl_matches_the_callers_ids(void **state)
{
    struct fx *f = *state;
    static const struct coord_acl acl_ip[1] = {{COORD_PERM_ALL, {{"ip", 2}, {"10.0.0.0/8", 10}}}};
    static const struct coord_acl acl_bob[1] = {{COORD_PERM_ALL, {{"digest", 6}, {"bob:hash", 8}}}};
    assert_int_equal(fx_create_acl(f, "/ip", acl_ip, 1), COORD_OK);
    assert_int_equal(fx_create_acl(f, "/bob", acl_bob, 1), COORD_OK);
    assert_int_equal(fx_set(f, "/ip", "x", -1), COORD_OK);
    assert_int_equal(fx_set(f, "/bob", "x", -1), COORD_ENOAUTH);
    f->ids[0].id = (struct coord_str){"192.168.0.1", 11};
    assert_int_equal(fx_set(f, "/ip", "x", -1), COORD_ENOAUTH);
    f->ids[1].scheme = (struct coord_str){"digest", 6};
    f->ids[1].id = (struct coord_str){"bob:hash", 8};
    f->auth.count = 2;
    assert_int_equal(fx_set(f, "/bob", "x", -1), COORD_OK);
    /* A caller with no auth info at all is nobody. */
    f->caller.auth = NULL;
    assert_int_equal(fx_set(f, "/bob", "x", -1), COORD_ENOAUTH);
    assert_int_equal(fx_set(f, "/", "x", -1), COORD_OK);
}

static void test_auth_scheme_expands_to_caller_ids_on_create(void **state)
{
    struct fx *f = *state;
    static const struct coord_acl acl_auth[1] = {{COORD_PERM_ALL, {{"auth", 4}, {"", 0}}}};
    /* Only an ip id: nothing to expand to. */
    assert_int_equal(fx_create_acl(f, "/a", acl_auth, 1), COORD_EINVALIDACL);
    struct coord_ident ids[3] = {
        {{"ip", 2}, {"10.0.0.1", 8}},
        {{"digest", 6}, {"bob:hash", 8}},
        {{"digest", 6}, {"eve:hash", 8}},
    };
    f->auth.ids = ids;
    f->auth.count = 3;
    assert_int_equal(fx_create_acl(f, "/a", acl_auth, 1), COORD_OK);
    size_t count;
    const struct coord_acl *acl = coord_tree_node_acl(node_at(&f->tree, "/a"), &count);
    assert_int_equal(count, 2);
    assert_true(str_is(acl[0].ident.scheme, "digest"));
    assert_true(str_is(acl[0].ident.id, "bob:hash"));
    assert_true(str_is(acl[1].ident.id, "eve:hash"));
    assert_int_equal(acl[0].perms, COORD_PERM_ALL);
    /* The same on setACL. */
    assert_int_equal(fx_create(f, "/b", NULL, 0), COORD_OK);
    assert_int_equal(fx_setacl(f, "/b", acl_auth, 1, -1), COORD_OK);
    acl = coord_tree_node_acl(node_at(&f->tree, "/b"), &count);
    assert_int_equal(count, 2);
    assert_true(str_is(acl[1].ident.id, "eve:hash"));
    /* Someone else is locked out, the owners are not. */
    f->auth.count = 1;
    assert_int_equal(fx_set(f, "/a", "x", -1), COORD_ENOAUTH);
    f->auth.count = 3;
    assert_int_equal(fx_set(f, "/a", "x", -1), COORD_OK);
}

static void test_identical_acls_are_shared(void **state)
{
    struct fx *f = *state;
    size_t lists = f->tree.acls.count; /* world:31 and world:1 */
    assert_int_equal(lists, 2);
    assert_int_equal(fx_create(f, "/a", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/b", NULL, 0), COORD_OK);
    assert_int_equal(f->tree.acls.count, 2);
    static const struct coord_acl acl_rw[1] = {
        {COORD_PERM_READ | COORD_PERM_WRITE | COORD_PERM_ADMIN, {{"world", 5}, {"anyone", 6}}}};
    size_t mem = f->tree.mem_bytes;
    assert_int_equal(fx_setacl(f, "/a", acl_rw, 1, -1), COORD_OK);
    assert_int_equal(f->tree.acls.count, 3);
    assert_true(f->tree.mem_bytes > mem);
    /* The last user of a list releases it. */
    assert_int_equal(fx_setacl(f, "/a", acl_open, 1, -1), COORD_OK);
    assert_int_equal(f->tree.acls.count, 2);
    assert_int_equal(f->tree.mem_bytes, mem);
}

/* ---- change events -------------------------------------------------------------------- */

static void test_changes_report_events_in_zookeeper_order(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/a", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/a/b", NULL, 0), COORD_OK);
    assert_int_equal(fx_set(f, "/a/b", "x", -1), COORD_OK);
    assert_int_equal(fx_setacl(f, "/a/b", acl_open, 1, -1), COORD_OK);
    assert_int_equal(fx_check(f, "/a/b", -1), COORD_OK);
    assert_int_equal(fx_delete(f, "/a/b", -1), COORD_OK);
    /* Failed writes report nothing. */
    assert_int_equal(fx_delete(f, "/a/b", -1), COORD_ENONODE);
    assert_int_equal(fx_set(f, "/a", "x", 9), COORD_EBADVERSION);
    assert_int_equal(f->events.count, 7);
    assert_event(&f->events, 0, COORD_EV_CREATED, "/a");
    assert_event(&f->events, 1, COORD_EV_CHILDREN_CHANGED, "/");
    assert_event(&f->events, 2, COORD_EV_CREATED, "/a/b");
    assert_event(&f->events, 3, COORD_EV_CHILDREN_CHANGED, "/a");
    assert_event(&f->events, 4, COORD_EV_DATA_CHANGED, "/a/b");
    assert_event(&f->events, 5, COORD_EV_DELETED, "/a/b");
    assert_event(&f->events, 6, COORD_EV_CHILDREN_CHANGED, "/a");
    assert_int_equal(f->events.ev[0].zxid, 1);
    assert_int_equal(f->events.ev[3].zxid, 2);
    assert_int_equal(f->events.ev[4].zxid, 3);
    assert_int_equal(f->events.ev[6].zxid, 6);
}

/* ---- children ------------------------------------------------------------------------- */

static void assert_children(const struct coord_tree *t,
                            const char *parent,
                            const char *const *names,
                            size_t count)
{
    const struct tree_node *p = node_at(t, parent);
    const struct tree_node *c = NULL;
    for (size_t i = 0; i < count; i++) {
        c = coord_tree_node_next_child(p, c);
        assert_non_null(c);
        size_t len;
        const char *name = coord_tree_node_name(c, &len);
        assert_int_equal(len, strlen(names[i]));
        assert_memory_equal(name, names[i], len);
    }
    assert_null(coord_tree_node_next_child(p, c));
    assert_int_equal(coord_tree_node_num_children(p), (int32_t)count);
}

static void test_children_listed_in_creation_order(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_create(f, "/p", NULL, 0), COORD_OK);
    assert_children(&f->tree, "/p", NULL, 0);
    assert_int_equal(fx_create(f, "/p/b", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/p/a", NULL, 0), COORD_OK);
    assert_int_equal(fx_create(f, "/p/c", NULL, 0), COORD_OK);
    static const char *const first[] = {"b", "a", "c"};
    assert_children(&f->tree, "/p", first, 3);
    assert_int_equal(fx_delete(f, "/p/b", -1), COORD_OK);
    assert_int_equal(fx_create(f, "/p/b", NULL, 0), COORD_OK);
    assert_int_equal(fx_delete(f, "/p/c", -1), COORD_OK);
    static const char *const second[] = {"a", "b"};
    assert_children(&f->tree, "/p", second, 2);
    assert_int_equal(fx_delete(f, "/p/a", -1), COORD_OK);
    assert_int_equal(fx_delete(f, "/p/b", -1), COORD_OK);
    assert_children(&f->tree, "/p", NULL, 0);
    static const char *const root[] = {"zookeeper", "p"};
    assert_children(&f->tree, "/", root, 2);
}

static void test_get_all_children_number_counts_descendants(void **state)
{
    struct fx *f = *state;
    assert_int_equal(coord_tree_count_descendants(f->tree.root), 3);
    assert_int_equal(coord_tree_count_descendants(node_at(&f->tree, "/zookeeper")), 2);
    assert_int_equal(coord_tree_count_descendants(node_at(&f->tree, "/zookeeper/quota")), 0);
    static const char *const paths[] = {"/a",    "/a/b",    "/a/b/c", "/a/b/c/d",
                                        "/a/b2", "/a/b2/x", "/a/b3",  "/e"};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(fx_create(f, paths[i], NULL, 0), COORD_OK);
    }
    assert_int_equal(coord_tree_count_descendants(node_at(&f->tree, "/a")), 6);
    assert_int_equal(coord_tree_count_descendants(node_at(&f->tree, "/a/b")), 2);
    assert_int_equal(coord_tree_count_descendants(node_at(&f->tree, "/a/b/c/d")), 0);
    assert_int_equal(coord_tree_count_descendants(node_at(&f->tree, "/e")), 0);
    assert_int_equal(coord_tree_count_descendants(f->tree.root), 3 + 8);
    /* A deep chain walks without recursion. */
    coord_tree_set_change_cb(&f->tree, NULL, NULL);
    char path[2 * 2000 + 1];
    size_t len = 0;
    for (int i = 0; i < 2000; i++) {
        path[len++] = '/';
        path[len++] = 'x';
        path[len] = '\0';
        assert_int_equal(fx_create(f, path, NULL, 0), COORD_OK);
    }
    assert_int_equal(coord_tree_count_descendants(f->tree.root), 3 + 8 + 2000);
    assert_int_equal(coord_tree_count_descendants(node_at(&f->tree, "/x")), 1999);
}

/* ---- accounting ----------------------------------------------------------------------- */

static void test_data_and_memory_accounting_returns_to_baseline(void **state)
{
    struct fx *f = *state;
    size_t mem = f->tree.mem_bytes;
    assert_int_equal(f->tree.data_bytes, 0);
    assert_int_equal(fx_create(f, "/a", "12345", 0), COORD_OK);
    assert_int_equal(fx_create(f, "/a/b", "123", COORD_MODE_EPHEMERAL), COORD_OK);
    assert_int_equal(f->tree.data_bytes, 8);
    assert_int_equal(fx_set(f, "/a", "1", -1), COORD_OK);
    assert_int_equal(f->tree.data_bytes, 4);
    assert_int_equal(fx_set(f, "/a", NULL, -1), COORD_OK);
    assert_int_equal(f->tree.data_bytes, 3);
    assert_true(f->tree.mem_bytes > mem);
    assert_int_equal(fx_delete(f, "/a/b", -1), COORD_OK);
    assert_int_equal(fx_delete(f, "/a", -1), COORD_OK);
    assert_int_equal(f->tree.data_bytes, 0);
    assert_int_equal(f->tree.mem_bytes, mem);
    assert_int_equal(f->tree.count, 4);
    assert_int_equal(f->tree.ephemeral_count, 0);
}

/* ---- snapshots ------------------------------------------------------------------------ */

/* A small tree with every kind of node, ACL and data. */
static void build_varied_tree(struct fx *f)
{
    static const struct coord_acl acl_mixed[2] = {
        {COORD_PERM_READ, {{"world", 5}, {"anyone", 6}}},
        {COORD_PERM_ALL, {{"digest", 6}, {"bob:hash", 8}}},
    };
    f->prep.ttl_enabled = true;
    assert_int_equal(fx_create(f, "/app", "config", 0), COORD_OK);
    assert_int_equal(fx_create(f, "/app/q", NULL, 0), COORD_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fx_create(f, "/app/q/item-", "x", COORD_MODE_PERSISTENT_SEQUENTIAL),
                         COORD_OK);
    }
    assert_int_equal(fx_delete(f, "/app/q/item-0000000001", -1), COORD_OK);
    assert_int_equal(fx_create(f, "/app/lock", "", COORD_MODE_EPHEMERAL), COORD_OK);
    f->caller.session = SESSION_B;
    assert_int_equal(fx_create(f, "/app/n-", NULL, COORD_MODE_EPHEMERAL_SEQUENTIAL), COORD_OK);
    assert_int_equal(fx_create(f, "/c", NULL, COORD_MODE_CONTAINER), COORD_OK);
    assert_int_equal(fx_create(f, "/c/x", "\x00\x01", 0), COORD_OK);
    assert_int_equal(
        fx_create_ttl(f, COORD_OP_CREATETTL, "/ttl", COORD_MODE_PERSISTENT_WITH_TTL, 5000),
        COORD_OK);
    assert_int_equal(fx_create_acl(f, "/secret", acl_mixed, 2), COORD_OK);
    assert_int_equal(fx_set(f, "/app", "config2", -1), COORD_OK);
    assert_int_equal(fx_setacl(f, "/app/q", acl_mixed, 2, -1), COORD_OK);
    assert_int_equal(fx_set(f, "/zookeeper/quota", "q", -1), COORD_OK);
}

static void assert_same_node(const struct tree_node *a, const struct tree_node *b)
{
    assert_non_null(a);
    assert_non_null(b);
    struct coord_stat sa, sb;
    coord_tree_node_stat(a, &sa);
    coord_tree_node_stat(b, &sb);
    assert_stat_equal(&sa, &sb);
    assert_int_equal(coord_tree_node_owner(a), coord_tree_node_owner(b));
    assert_int_equal(coord_tree_node_child_creations(a), coord_tree_node_child_creations(b));
    int32_t la, lb;
    const uint8_t *da = coord_tree_node_data(a, &la);
    const uint8_t *db = coord_tree_node_data(b, &lb);
    assert_int_equal(la, lb);
    if (la > 0) {
        assert_memory_equal(da, db, (size_t)la);
    }
    size_t ca, cb;
    const struct coord_acl *aa = coord_tree_node_acl(a, &ca);
    const struct coord_acl *ab = coord_tree_node_acl(b, &cb);
    assert_int_equal(ca, cb);
    for (size_t i = 0; i < ca; i++) {
        assert_int_equal(aa[i].perms, ab[i].perms);
        assert_int_equal(aa[i].ident.scheme.len, ab[i].ident.scheme.len);
        assert_memory_equal(aa[i].ident.scheme.ptr, ab[i].ident.scheme.ptr,
                            (size_t)aa[i].ident.scheme.len);
        assert_int_equal(aa[i].ident.id.len, ab[i].ident.id.len);
        assert_memory_equal(aa[i].ident.id.ptr, ab[i].ident.id.ptr, (size_t)aa[i].ident.id.len);
    }
    /* Same children, same order. */
    const struct tree_node *x = NULL, *y = NULL;
    do {
        x = coord_tree_node_next_child(a, x);
        y = coord_tree_node_next_child(b, y);
        if (x != NULL) {
            size_t lx, ly;
            const char *px = coord_tree_node_path(x, &lx);
            const char *py = coord_tree_node_path(y, &ly);
            assert_non_null(y);
            assert_int_equal(lx, ly);
            assert_memory_equal(px, py, lx);
            assert_same_node(x, y);
        }
    } while (x != NULL);
    assert_null(y);
}

static void test_snapshot_restore_gives_same_digest_and_stats(void **state)
{
    struct fx *f = *state;
    build_varied_tree(f);
    struct coord_buf snap;
    coord_buf_init(&snap);
    assert_int_equal(coord_tree_snapshot(&f->tree, &snap), COORD_OK);
    /* Something follows the tree in a server snapshot. */
    size_t tree_len = snap.len;
    coord_buf_be32(&snap, 0xABCD1234u);

    struct coord_tree t2;
    assert_int_equal(coord_tree_init(&t2), COORD_OK);
    struct coord_reader r;
    coord_reader_init(&r, snap.data, snap.len);
    assert_int_equal(coord_tree_restore(&t2, &r), COORD_OK);
    assert_int_equal(r.pos, tree_len);
    assert_int_equal(coord_reader_be32(&r), 0xABCD1234u);

    assert_int_equal(coord_tree_digest(&t2), coord_tree_digest(&f->tree));
    assert_int_equal(t2.last_zxid, f->tree.last_zxid);
    assert_int_equal(t2.count, f->tree.count);
    assert_int_equal(t2.data_bytes, f->tree.data_bytes);
    assert_int_equal(t2.mem_bytes, f->tree.mem_bytes);
    assert_int_equal(t2.ephemeral_count, f->tree.ephemeral_count);
    assert_int_equal(t2.acls.count, f->tree.acls.count);
    assert_int_equal(coord_tree_ephemerals_of(&t2, SESSION_A), 1);
    assert_int_equal(coord_tree_ephemerals_of(&t2, SESSION_B), 1);
    assert_same_node(f->tree.root, t2.root);
    assert_same_node(node_at(&f->tree, "/app/q"), node_at(&t2, "/app/q"));

    /* A snapshot of the restored tree is byte-identical. */
    struct coord_buf snap2;
    coord_buf_init(&snap2);
    assert_int_equal(coord_tree_snapshot(&t2, &snap2), COORD_OK);
    assert_int_equal(snap2.len, tree_len);
    assert_memory_equal(snap2.data, snap.data, tree_len);

    /* Both go on the same way: the same sequence number next. */
    struct coord_prep p2;
    coord_prep_init(&p2);
    struct coord_op op = make_op(COORD_OP_CREATE, "/app/s-");
    op.flags = COORD_MODE_PERSISTENT_SEQUENTIAL;
    coord_zxid z = f->zxid + 1;
    assert_int_equal(prep_and_apply(&t2, &p2, &f->caller, &op, z, TIME_OF(z)), COORD_OK);
    assert_string_equal(last_path, "/app/s-0000000003");
    assert_int_equal(fx_run(f, &op), COORD_OK);
    assert_int_equal(coord_tree_digest(&t2), coord_tree_digest(&f->tree));
    coord_prep_close(&p2);
    coord_buf_free(&snap2);
    coord_tree_close(&t2);
    coord_buf_free(&snap);
}

/* A restore target holding something else, which must survive a failed restore. */
static void make_target(struct coord_tree *t, const struct coord_caller *caller)
{
    assert_int_equal(coord_tree_init(t), COORD_OK);
    struct coord_prep p;
    coord_prep_init(&p);
    struct coord_op op = make_op(COORD_OP_CREATE, "/keep");
    assert_int_equal(prep_and_apply(t, &p, caller, &op, 7, 70), COORD_OK);
    coord_prep_close(&p);
}

static void test_restore_rejects_corrupt_snapshot_leaving_tree_unchanged(void **state)
{
    struct fx *f = *state;
    build_varied_tree(f);
    const uint64_t good = coord_tree_digest(&f->tree);
    struct coord_buf snap;
    coord_buf_init(&snap);
    assert_int_equal(coord_tree_snapshot(&f->tree, &snap), COORD_OK);
    struct coord_tree t2;
    make_target(&t2, &f->caller);
    const uint64_t before = coord_tree_digest(&t2);

    for (size_t len = 0; len < snap.len; len++) {
        struct coord_reader r;
        coord_reader_init(&r, snap.data, len);
        assert_int_equal(coord_tree_restore(&t2, &r), COORD_ECORRUPT);
        assert_int_equal(coord_tree_digest(&t2), before);
    }
    uint8_t *copy = malloc(snap.len);
    assert_non_null(copy);
    static const uint8_t flips[] = {0x01, 0x80, 0xFF};
    size_t restored = 0;
    for (size_t at = 0; at < snap.len; at++) {
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(copy, snap.data, snap.len);
            copy[at] ^= flips[k];
            struct coord_reader r;
            coord_reader_init(&r, copy, snap.len);
            int rc = coord_tree_restore(&t2, &r);
            if (rc == COORD_OK) {
                /* Acceptable only when nothing that matters changed. */
                assert_int_equal(coord_tree_digest(&t2), good);
                restored++;
                coord_tree_close(&t2);
                make_target(&t2, &f->caller);
            } else {
                assert_int_equal(rc, COORD_ECORRUPT);
                assert_int_equal(coord_tree_digest(&t2), before);
            }
        }
    }
    /* The snapshot is checksummed: no flip goes unnoticed. */
    assert_int_equal(restored, 0);
    free(copy);
    coord_tree_close(&t2);
    coord_buf_free(&snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_fresh_tree_has_system_nodes_with_fixed_stats_and_acls),
        T(test_empty_path_finds_the_root),
        T(test_system_nodes_cannot_be_deleted),
        T(test_zookeeper_config_is_read_only),
        T(test_create_sets_czxid_mzxid_pzxid_to_txn_zxid),
        T(test_create_bumps_parent_cversion_and_pzxid_not_mzxid),
        T(test_delete_bumps_parent_pzxid_and_reported_cversion),
        T(test_setdata_bumps_version_even_if_data_identical),
        T(test_setacl_bumps_aversion_not_mzxid),
        T(test_null_data_differs_from_empty_data),
        T(test_versions_wrap_as_signed_32_bit),
        T(test_sequential_suffix_counts_child_creations),
        T(test_sequential_name_taken_is_nodeexists),
        T(test_ephemeral_cannot_have_children),
        T(test_ephemerals_are_indexed_by_session_in_creation_order),
        T(test_container_owner_marker_hidden_in_stat),
        T(test_ttl_disabled_is_unimplemented),
        T(test_ttl_mode_via_plain_create_is_badarguments),
        T(test_ttl_bounds),
        T(test_invalid_create_flags_are_badarguments),
        T(test_path_validation_rules),
        T(test_path_parent_len_and_system_paths),
        T(test_writes_validate_paths_from_the_wire),
        T(test_create_error_precedence),
        T(test_delete_error_precedence),
        T(test_badversion_beats_notempty_on_delete),
        T(test_setdata_setacl_check_error_precedence),
        T(test_data_limit_is_enforced),
        T(test_create_needs_create_perm_on_parent),
        T(test_delete_needs_delete_perm_on_parent),
        T(test_setdata_needs_write_perm),
        T(test_setacl_needs_admin_perm),
        T(test_check_needs_read_perm),
        T(test_acl_matches_the_callers_ids),
        T(test_auth_scheme_expands_to_caller_ids_on_create),
        T(test_identical_acls_are_shared),
        T(test_changes_report_events_in_zookeeper_order),
        T(test_children_listed_in_creation_order),
        T(test_get_all_children_number_counts_descendants),
        T(test_data_and_memory_accounting_returns_to_baseline),
        T(test_snapshot_restore_gives_same_digest_and_stats),
        T(test_restore_rejects_corrupt_snapshot_leaving_tree_unchanged),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
