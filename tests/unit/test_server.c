/* One standalone server, driven through the deterministic fixture and spoken
 * to over the client wire protocol (zk-wire): handshake, sessions, writes and
 * their Stat, watches, multi, ordering, group commit, malformed input, ACLs,
 * crash recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define SEED 11
#define TICK_MS 2000
#define TIMEOUT_MS 30000

static int setup_with(void **state, const struct coord_config *cfg)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_int_equal(cluster_init(c, 1, cluster_seed(SEED), cfg), COORD_OK);
    *state = c;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL);
}

static int setup_snap10(void **state)
{
    struct coord_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.tick_ms = TICK_MS;
    cfg.snap_count = 10;
    return setup_with(state, &cfg);
}

/* Every test ends with no server failure and every client having seen its
 * replies in request order, each decoding as its request's response. */
static int teardown(void **state)
{
    struct cluster *c = *state;
    assert_int_equal(c->nodes[0].step_errors, 0);
    for (size_t i = 0; i < c->client_count; i++) {
        assert_int_equal(c->clients[i]->order_violations, 0);
        assert_int_equal(c->clients[i]->decode_errors, 0);
    }
    cluster_close(c);
    free(c);
    return 0;
}

static struct cluster_client *connect_client(struct cluster *c, int32_t timeout_ms)
{
    struct cluster_client *cl = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, cl, 0, timeout_ms, 0, NULL), COORD_OK);
    return cl;
}

static bool client_closed(const struct cluster *c, void *arg)
{
    (void)c;
    return ((const struct cluster_client *)arg)->state == CLUSTER_CLIENT_CLOSED;
}

static bool node_exists(struct cluster *c, const char *path)
{
    return coord_tree_get(&c->nodes[0].server.tree, path, strlen(path)) != NULL;
}

/* ---- handshake ------------------------------------------------------------------------------- */

static void test_handshake_clamps_timeout_to_two_and_twenty_ticks(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, cl, 0, 1, 0, NULL), COORD_OK);
    assert_int_equal(cl->timeout_ms, 4000);
    assert_int_equal(cluster_client_connect(c, cl, 0, 100000, 0, NULL), COORD_OK);
    assert_int_equal(cl->timeout_ms, 40000);
    assert_int_equal(cluster_client_connect(c, cl, 0, 30000, 0, NULL), COORD_OK);
    assert_int_equal(cl->timeout_ms, 30000);
    assert_int_equal(cl->handshake.protocol_version, 0);
    assert_true(cl->session_id > 0);
}

static void test_handshake_mirrors_the_readonly_byte(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *with = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, with, 0, TIMEOUT_MS, 0, NULL), COORD_OK);
    assert_int_equal(with->handshake_len, 37);
    assert_true(with->handshake.has_readonly);
    assert_false(with->handshake.readonly);
    struct cluster_client *without = cluster_client_new(c);
    without->send_readonly = false; /* The Go client's 44-byte request. */
    assert_int_equal(cluster_client_connect(c, without, 0, TIMEOUT_MS, 0, NULL), COORD_OK);
    assert_int_equal(without->handshake_len, 36);
    assert_false(without->handshake.has_readonly);
    assert_true(without->session_id != with->session_id);
}

static void test_requests_pipelined_before_the_handshake_are_served_after_it(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    cluster_client_open(c, cl, 0, TIMEOUT_MS, 0, NULL);
    struct coord_op op = cluster_op_create("/early", "e", COORD_MODE_EPHEMERAL);
    int32_t xid = cluster_client_send(c, cl, CLUSTER_XID_NEXT, &op);
    struct cluster_reply r;
    assert_int_equal(cluster_wait(c, cl, xid, &r), COORD_OK);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTED);
    assert_string_equal(r.path, "/early");
    assert_int_equal(r.zxid, 2); /* After the session's zxid 1. */
    assert_int_equal(cluster_exists(c, cl, "/early", false, &r), COORD_OK);
    assert_int_equal(r.stat.ephemeral_owner, cl->session_id);
}

/* ---- writes and their Stat ------------------------------------------------------------------- */

static void test_create_get_set_delete_round_trip_with_exact_stat(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    assert_int_equal(cluster_children(c, cl, "/", false, &r), COORD_OK);
    int32_t root_cversion = r.stat.cversion;
    assert_int_equal(r.stat.num_children, 1); /* zookeeper */

    int64_t t0 = c->now_ms;
    assert_int_equal(cluster_create(c, cl, "/a", "x", 0, &r), COORD_OK);
    assert_int_equal(r.zxid, 2);
    assert_string_equal(r.path, "/a");
    assert_int_equal(cluster_get(c, cl, "/a", false, &r), COORD_OK);
    assert_int_equal(r.data_len, 1);
    assert_memory_equal(r.data, "x", 1);
    assert_int_equal(r.stat.czxid, 2);
    assert_int_equal(r.stat.mzxid, 2);
    assert_int_equal(r.stat.pzxid, 2);
    assert_int_equal(r.stat.ctime, t0 + 1); /* Decided when the request reached the server. */
    assert_int_equal(r.stat.mtime, t0 + 1);
    assert_int_equal(r.stat.version, 0);
    assert_int_equal(r.stat.cversion, 0);
    assert_int_equal(r.stat.aversion, 0);
    assert_int_equal(r.stat.ephemeral_owner, 0);
    assert_int_equal(r.stat.data_length, 1);
    assert_int_equal(r.stat.num_children, 0);
    assert_int_equal(cluster_children(c, cl, "/", false, &r), COORD_OK);
    assert_int_equal(r.stat.cversion, root_cversion + 1);
    assert_int_equal(r.stat.pzxid, 2);
    assert_int_equal(r.stat.num_children, 2);

    int64_t t1 = c->now_ms;
    assert_int_equal(cluster_set(c, cl, "/a", "yy", 0, &r), COORD_OK);
    assert_int_equal(r.zxid, 3);
    assert_int_equal(r.stat.czxid, 2);
    assert_int_equal(r.stat.mzxid, 3);
    assert_int_equal(r.stat.ctime, t0 + 1);
    assert_int_equal(r.stat.mtime, t1 + 1);
    assert_int_equal(r.stat.version, 1);
    assert_int_equal(r.stat.data_length, 2);

    assert_int_equal(cluster_set(c, cl, "/a", "zz", 0, &r), COORD_EBADVERSION);
    assert_int_equal(r.zxid, 4); /* A failed write uses up a zxid. */
    assert_int_equal(r.body_len, 0);
    assert_int_equal(cluster_delete(c, cl, "/a", 0, &r), COORD_EBADVERSION);
    assert_int_equal(cluster_delete(c, cl, "/a", 1, &r), COORD_OK);
    assert_int_equal(r.zxid, 6);
    assert_int_equal(cluster_get(c, cl, "/a", false, &r), COORD_ENONODE);
    assert_int_equal(r.zxid, 6); /* Reads carry the last committed zxid. */
    assert_int_equal(cluster_children(c, cl, "/", false, &r), COORD_OK);
    assert_int_equal(r.stat.cversion, root_cversion + 2);
    assert_int_equal(r.stat.pzxid, 6);
    assert_int_equal(r.stat.num_children, 1);
}

static void test_null_and_empty_data_stay_distinct(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    assert_int_equal(cluster_create(c, cl, "/null", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/empty", "", 0, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, cl, "/null", false, &r), COORD_OK);
    assert_int_equal(r.data_len, -1);
    assert_null(r.data);
    assert_int_equal(r.stat.data_length, 0);
    assert_int_equal(cluster_get(c, cl, "/empty", false, &r), COORD_OK);
    assert_int_equal(r.data_len, 0);
    assert_non_null(r.data);
}

static void test_sequential_names_count_child_creations(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    assert_int_equal(cluster_create(c, cl, "/q", NULL, 0, NULL), COORD_OK);
    const char *expect[] = {"/q/s-0000000000", "/q/s-0000000001", "/q/s-0000000002"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cluster_create(c, cl, "/q/s-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL, &r),
                         COORD_OK);
        assert_string_equal(r.path, expect[i]);
    }
    assert_int_equal(cluster_delete(c, cl, "/q/s-0000000001", -1, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/q/s-", NULL, COORD_MODE_EPHEMERAL_SEQUENTIAL, &r),
                     COORD_OK);
    assert_string_equal(r.path, "/q/s-0000000003");
    assert_int_equal(cluster_create(c, cl, "/q/", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL, &r),
                     COORD_OK);
    assert_string_equal(r.path, "/q/0000000004");
    assert_int_equal(cluster_children(c, cl, "/q", false, &r), COORD_OK);
    assert_int_equal(r.string_count, 4);
    assert_int_equal(r.stat.cversion, 6); /* 5 creations + 1 deletion. */
}

static void test_failed_writes_use_up_a_zxid(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    assert_int_equal(cluster_create(c, cl, "/f", NULL, 0, &r), COORD_OK);
    assert_int_equal(r.zxid, 2);
    assert_int_equal(cluster_create(c, cl, "/f", NULL, 0, &r), COORD_ENODEEXISTS);
    assert_int_equal(r.zxid, 3);
    assert_int_equal(cluster_create(c, cl, "/none/x", NULL, 0, &r), COORD_ENONODE);
    assert_int_equal(r.zxid, 4);
    assert_int_equal(cluster_create(c, cl, "/g", NULL, 0, &r), COORD_OK);
    assert_int_equal(r.zxid, 5);
    assert_int_equal(cluster_exists(c, cl, "/g", false, &r), COORD_OK);
    assert_int_equal(r.stat.czxid, 5);
    assert_int_equal(c->nodes[0].server.tree.last_zxid, 5);
}

static void test_create2_and_container_replies_carry_path_and_stat(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    struct coord_op op = cluster_op_create("/c2", "ab", 0);
    op.type = COORD_OP_CREATE2;
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_string_equal(r.path, "/c2");
    assert_true(r.has_stat);
    assert_int_equal(r.stat.czxid, r.zxid);
    assert_int_equal(r.stat.data_length, 2);
    op = cluster_op_create("/box", NULL, COORD_MODE_CONTAINER);
    op.type = COORD_OP_CREATECONTAINER;
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_string_equal(r.path, "/box");
    assert_int_equal(r.stat.ephemeral_owner, 0); /* The container marker is hidden. */
    assert_int_equal(r.stat.czxid, r.zxid);
    op = cluster_op_create("/ttl", NULL, COORD_MODE_PERSISTENT_WITH_TTL);
    op.type = COORD_OP_CREATETTL;
    op.ttl = 1000;
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_EUNIMPLEMENTED); /* Not enabled. */
    op = cluster_op(COORD_OP_DELETECONTAINER, "/box");
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_false(node_exists(c, "/box"));
}

static void test_sasl_and_reconfig_get_the_unconfigured_answers(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct coord_buf b;
    coord_buf_init(&b);
    coord_wire_encode_sasl(&b, 5, (const uint8_t *)"tok", 3);
    cluster_client_send_raw(c, cl, b.data, b.len, true, 5, COORD_OP_SASL);
    coord_buf_reset(&b);
    struct coord_str none = {NULL, -1};
    coord_wire_encode_reconfig(&b, 6, none, none, none, -1);
    cluster_client_send_raw(c, cl, b.data, b.len, true, 6, COORD_OP_RECONFIG);
    coord_buf_free(&b);
    struct cluster_reply r;
    assert_int_equal(cluster_wait(c, cl, 5, &r), COORD_OK);
    assert_int_equal(r.zxid, 0);
    assert_int_equal(r.data_len, -1);
    assert_int_equal(cluster_wait(c, cl, 6, &r), COORD_ERECONFIGDISABLED);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTED);
}

/* ---- sessions -------------------------------------------------------------------------------- */

static void test_ephemeral_is_deleted_when_its_session_expires(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *owner = connect_client(c, 4000);
    struct cluster_client *watcher = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    assert_int_equal(cluster_exists(c, watcher, "/e", false, &r), COORD_ENONODE);
    int64_t last_sent = c->now_ms;
    assert_int_equal(cluster_create(c, owner, "/e", "1", COORD_MODE_EPHEMERAL, &r), COORD_OK);
    int64_t last_frame = last_sent + 1; /* When the server heard from the owner last. */
    assert_int_equal(cluster_exists(c, watcher, "/e", true, &r), COORD_OK);
    assert_int_equal(r.stat.ephemeral_owner, owner->session_id);
    assert_int_equal(cluster_children(c, watcher, "/", true, NULL), COORD_OK);

    assert_true(cluster_step_until(c, client_closed, owner, 10000));
    assert_true(owner->closed_by_server);
    assert_int_equal(owner->reply_count, 1); /* Closed without a word. */
    const struct cluster_trace *t = cluster_trace_last(c, 0, COORD_TRACE_SESSION_EXPIRED);
    assert_non_null(t);
    assert_int_equal(t->a, owner->session_id);
    /* Expired on the first tick boundary after last frame + timeout; the
     * closeSession then took one sync (1 ms) to apply. */
    int64_t expired_at = t->now_ms - CLUSTER_SYNC_DELAY_MS;
    assert_int_equal(expired_at, ((last_frame + 4000) / TICK_MS + 1) * TICK_MS);
    assert_true(expired_at - last_frame > 4000);
    assert_true(expired_at - last_frame <= 4000 + TICK_MS);
    assert_false(node_exists(c, "/e"));

    cluster_run_for(c, 10);
    assert_int_equal(watcher->note_count, 2);
    assert_int_equal(watcher->notes[0].type, COORD_EV_DELETED);
    assert_string_equal(watcher->notes[0].path, "/e");
    assert_int_equal(watcher->notes[0].state, COORD_WIRE_STATE_SYNC_CONNECTED);
    assert_int_equal(watcher->notes[1].type, COORD_EV_CHILDREN_CHANGED);
    assert_string_equal(watcher->notes[1].path, "/");
    assert_int_equal(watcher->state, CLUSTER_CLIENT_CONNECTED);
}

static void test_pings_keep_a_session_alive_past_its_timeout(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, 4000);
    assert_int_equal(cluster_create(c, cl, "/alive", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    for (int i = 0; i < 20; i++) {
        cluster_run_for(c, 1300);
        struct cluster_reply r;
        assert_int_equal(cluster_wait(c, cl, cluster_client_ping(c, cl), &r), COORD_OK);
        assert_int_equal(r.xid, COORD_XID_PING);
        assert_int_equal(r.zxid, 2);
    }
    assert_true(c->now_ms > 26000);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTED);
    assert_true(node_exists(c, "/alive"));
    assert_int_equal(cluster_trace_count(c, 0, COORD_TRACE_SESSION_EXPIRED), 0);
    /* Automatic pings at a third of the timeout do the same. */
    cluster_client_set_ping(c, cl, 1333);
    cluster_run_for(c, 20000);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTED);
    assert_true(node_exists(c, "/alive"));
    assert_int_equal(cl->lost, 0);
    /* Silence ends it. */
    cluster_client_set_ping(c, cl, 0);
    assert_true(cluster_step_until(c, client_closed, cl, 7000));
    assert_false(node_exists(c, "/alive"));
}

static void test_close_session_deletes_ephemerals_and_closes_after_the_reply(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *owner = connect_client(c, TIMEOUT_MS);
    struct cluster_client *watcher = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, owner, "/e1", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, owner, "/e2", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    assert_int_equal(cluster_exists(c, watcher, "/e1", true, NULL), COORD_OK);
    struct cluster_reply r;
    assert_int_equal(cluster_close_session(c, owner, &r), COORD_OK);
    assert_int_equal(r.zxid, 5);
    assert_int_equal(r.body_len, 0);
    assert_true(cluster_step_until(c, client_closed, owner, 100));
    assert_true(owner->closed_by_server);
    assert_true(owner->closed_at_ms >= r.at_ms);
    assert_false(node_exists(c, "/e1"));
    assert_false(node_exists(c, "/e2"));
    assert_int_equal(cluster_trace_count(c, 0, COORD_TRACE_SESSION_CLOSED), 1);
    assert_int_equal(cluster_trace_count(c, 0, COORD_TRACE_SESSION_EXPIRED), 0);
    cluster_run_for(c, 10);
    assert_int_equal(cluster_client_notes(watcher, COORD_EV_DELETED, "/e1"), 1);
    assert_int_equal(coord_sessions_count(&c->nodes[0].server.sessions), 1);
}

static void test_close_session_whose_connection_drops_is_still_a_close(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/e", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    cluster_set_sync_delay(c, 0, 5);
    struct coord_op op = cluster_op(COORD_OP_CLOSESESSION, NULL);
    cluster_client_send(c, cl, CLUSTER_XID_NEXT, &op);
    cluster_run_for(c, 1);       /* The request is logged... */
    cluster_client_close(c, cl); /* ...and the client hangs up before it is synced. */
    cluster_run_for(c, 1);
    assert_int_equal(c->last.kind, CLUSTER_EV_CONN_CLOSED);
    assert_true(node_exists(c, "/e"));
    cluster_run_for(c, 10);
    assert_false(node_exists(c, "/e"));
    assert_int_equal(coord_sessions_count(&c->nodes[0].server.sessions), 0);
    assert_int_equal(cluster_trace_count(c, 0, COORD_TRACE_SESSION_CLOSED), 1);
    assert_int_equal(cluster_trace_count(c, 0, COORD_TRACE_SESSION_EXPIRED), 0);
}

static void test_session_of_a_client_gone_during_handshake_still_expires(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    cluster_set_sync_delay(c, 0, 5);
    cluster_client_open(c, cl, 0, 4000, 0, NULL);
    cluster_run_for(c, 2);
    cluster_client_close(c, cl); /* Gone before createSession is synced. */
    cluster_run_for(c, 10);
    assert_int_equal(coord_sessions_count(&c->nodes[0].server.sessions), 1);
    assert_int_equal(cl->handshake_len, 0);
    cluster_run_for(c, 7000);
    assert_int_equal(coord_sessions_count(&c->nodes[0].server.sessions), 0);
    assert_int_equal(cluster_trace_count(c, 0, COORD_TRACE_SESSION_EXPIRED), 1);
}

static void test_server_clock_jumping_forward_expires_sessions_at_once(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, 4000);
    assert_int_equal(c->now_ms, 3);
    cluster_run_for(c, 7);
    cluster_clock_jump(c, 0, 100000);
    assert_true(cluster_step_until(c, client_closed, cl, 100));
    const struct cluster_trace *t = cluster_trace_last(c, 0, COORD_TRACE_SESSION_EXPIRED);
    assert_non_null(t);
    assert_int_equal(t->global_ms, 11); /* Expired at 10, applied a sync later. */
    assert_int_equal(t->now_ms, 100011);
}

static void test_server_clock_jumping_back_delays_expiry(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, 4000); /* Expires at node time 6000. */
    cluster_run_for(c, 7);
    cluster_clock_jump(c, 0, -3000); /* Node time = global - 3000. */
    assert_true(cluster_step_until(c, client_closed, cl, 20000));
    const struct cluster_trace *t = cluster_trace_last(c, 0, COORD_TRACE_SESSION_EXPIRED);
    assert_non_null(t);
    assert_int_equal(t->global_ms, 9001);
    assert_int_equal(t->now_ms, 6001);
}

static void test_fast_server_clock_expires_sessions_early(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, 4000); /* Expires at node time 6000. */
    cluster_set_drift(c, 0, 1.0); /* From t = 3: node time = 3 + 2 (t - 3). */
    assert_true(cluster_step_until(c, client_closed, cl, 20000));
    const struct cluster_trace *t = cluster_trace_last(c, 0, COORD_TRACE_SESSION_EXPIRED);
    assert_non_null(t);
    assert_int_equal(t->global_ms, 3003); /* Node time 6000 at t = 3001.5, so 3002; + 1 sync. */
    assert_int_equal(t->now_ms, 6003);
}

static void test_reconnect_with_id_and_password_keeps_session_and_ephemerals(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, 6000);
    int64_t session = cl->session_id;
    uint8_t passwd[COORD_WIRE_PASSWD_LEN];
    memcpy(passwd, cl->passwd, sizeof passwd);
    assert_int_equal(cluster_create(c, cl, "/mine", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    cluster_client_close(c, cl); /* The TCP connection drops; the session lives on. */
    cluster_run_for(c, 3000);
    assert_int_equal(cluster_client_connect(c, cl, 0, 10000, session, passwd), COORD_OK);
    assert_int_equal(cl->session_id, session);
    assert_memory_equal(cl->passwd, passwd, sizeof passwd);
    assert_int_equal(cl->timeout_ms, 10000); /* Renegotiated. */
    struct cluster_reply r;
    assert_int_equal(cluster_exists(c, cl, "/mine", false, &r), COORD_OK);
    assert_int_equal(r.stat.ephemeral_owner, session);
    cluster_run_for(c, 8000); /* Past the old timeout: the new one applies. */
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTED);
    assert_true(node_exists(c, "/mine"));
}

static void test_reconnect_moves_the_session_off_its_old_connection(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *first = connect_client(c, TIMEOUT_MS);
    struct cluster_client *second = cluster_client_new(c);
    assert_int_equal(
        cluster_client_connect(c, second, 0, TIMEOUT_MS, first->session_id, first->passwd),
        COORD_OK);
    assert_true(cluster_step_until(c, client_closed, first, 100));
    assert_true(first->closed_by_server);
    assert_int_equal(second->session_id, first->session_id);
}

static void test_wrong_password_or_unknown_session_gets_expired_reply_then_close(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *real = connect_client(c, TIMEOUT_MS);
    uint8_t wrong[COORD_WIRE_PASSWD_LEN];
    memcpy(wrong, real->passwd, sizeof wrong);
    wrong[3] ^= 0x40;
    static const uint8_t zeros[COORD_WIRE_PASSWD_LEN];

    struct cluster_client *bad = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, bad, 0, TIMEOUT_MS, real->session_id, wrong),
                     COORD_ESESSIONEXPIRED);
    assert_int_equal(bad->handshake_len, 37);
    assert_int_equal(bad->handshake.timeout_ms, 0);
    assert_int_equal(bad->handshake.session, 0);
    assert_memory_equal(bad->handshake.passwd, zeros, sizeof zeros);
    assert_true(cluster_step_until(c, client_closed, bad, 100));
    assert_true(bad->closed_by_server);

    struct cluster_client *unknown = cluster_client_new(c);
    unknown->send_readonly = false;
    assert_int_equal(
        cluster_client_connect(c, unknown, 0, TIMEOUT_MS, real->session_id ^ 0x10, real->passwd),
        COORD_ESESSIONEXPIRED);
    assert_int_equal(unknown->handshake_len, 36);
    assert_int_equal(unknown->handshake.session, 0);
    assert_true(cluster_step_until(c, client_closed, unknown, 100));

    assert_int_equal(real->state, CLUSTER_CLIENT_CONNECTED); /* Untouched. */
    assert_int_equal(cluster_exists(c, real, "/", false, NULL), COORD_OK);
}

static void test_client_ahead_of_the_server_is_closed_without_reply(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    cl->last_zxid = 1000;
    assert_int_equal(cluster_client_connect(c, cl, 0, TIMEOUT_MS, 0, NULL), COORD_ECONNECTIONLOSS);
    assert_int_equal(cl->handshake_len, 0);
    assert_true(cl->closed_by_server);
    assert_int_equal(coord_sessions_count(&c->nodes[0].server.sessions), 0);
}

/* ---- watches --------------------------------------------------------------------------------- */

static void test_data_watch_fires_node_data_changed_once(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *w = connect_client(c, TIMEOUT_MS);
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/w", "0", 0, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, w, "/w", true, NULL), COORD_OK);
    assert_int_equal(cluster_set(c, cl, "/w", "1", -1, NULL), COORD_OK);
    assert_int_equal(cluster_set(c, cl, "/w", "2", -1, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 1);
    assert_int_equal(w->notes[0].type, COORD_EV_DATA_CHANGED);
    assert_string_equal(w->notes[0].path, "/w");
    assert_int_equal(w->notes[0].zxid, -1); /* 3.8 notifications carry zxid -1. */
}

static void test_exists_watch_on_missing_node_fires_node_created(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *w = connect_client(c, TIMEOUT_MS);
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_exists(c, w, "/n", true, NULL), COORD_ENONODE);
    assert_int_equal(cluster_create(c, cl, "/n", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_delete(c, cl, "/n", -1, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 1);
    assert_int_equal(w->notes[0].type, COORD_EV_CREATED);
    assert_string_equal(w->notes[0].path, "/n");
}

static void test_child_watch_fires_on_children_not_on_their_data(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *w = connect_client(c, TIMEOUT_MS);
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/p", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/p/old", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_children(c, w, "/p", true, NULL), COORD_OK);
    assert_int_equal(cluster_set(c, cl, "/p/old", "x", -1, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 0);
    assert_int_equal(cluster_create(c, cl, "/p/new", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/p/newer", NULL, 0, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 1);
    assert_int_equal(w->notes[0].type, COORD_EV_CHILDREN_CHANGED);
    assert_string_equal(w->notes[0].path, "/p");
}

static void test_notification_precedes_the_writes_reply_on_the_writers_connection(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/self", "0", 0, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, cl, "/self", true, NULL), COORD_OK);
    struct cluster_reply r;
    assert_int_equal(cluster_set(c, cl, "/self", "1", -1, &r), COORD_OK);
    assert_int_equal(cl->note_count, 1);
    assert_int_equal(cl->notes[0].type, COORD_EV_DATA_CHANGED);
    assert_true(cl->notes[0].seq < r.seq);
}

static void test_setwatches_fires_missed_events_before_its_reply(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/d", "1", 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/gone", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/same", NULL, 0, NULL), COORD_OK);
    int64_t relative = cl->last_zxid;
    assert_int_equal(relative, 4);
    assert_int_equal(cluster_set(c, cl, "/d", "2", -1, NULL), COORD_OK);
    assert_int_equal(cluster_delete(c, cl, "/gone", -1, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/new", NULL, 0, NULL), COORD_OK);

    struct cluster_client *w = connect_client(c, TIMEOUT_MS);
    const char *data[] = {"/d", "/gone", "/same"};
    const char *exist[] = {"/new", "/absent"};
    const char *child[] = {"/"};
    const char *const *lists[5] = {data, exist, child, NULL, NULL};
    const int32_t counts[5] = {3, 2, 1, 0, 0};
    int32_t xid = cluster_client_send_setwatches(c, w, relative, lists, counts, false);
    struct cluster_reply r;
    assert_int_equal(cluster_wait(c, w, xid, &r), COORD_OK);
    assert_int_equal(r.xid, COORD_XID_SETWATCHES);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(w->note_count, 4);
    assert_int_equal(cluster_client_notes(w, COORD_EV_DATA_CHANGED, "/d"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_DELETED, "/gone"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_CREATED, "/new"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_CHILDREN_CHANGED, "/"), 1);
    for (size_t i = 0; i < w->note_count; i++) {
        assert_true(w->notes[i].seq < r.seq);
    }
    /* The rest became ordinary watches. */
    assert_int_equal(cluster_set(c, cl, "/same", "x", -1, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/absent", NULL, 0, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 6);
    assert_int_equal(cluster_client_notes(w, COORD_EV_DATA_CHANGED, "/same"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_CREATED, "/absent"), 1);
}

static void test_persistent_watch_fires_repeatedly_on_node_and_children(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *w = connect_client(c, TIMEOUT_MS);
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    assert_int_equal(cluster_add_watch(c, w, "/p", 0, &r), COORD_OK);
    assert_int_equal(r.body_len, 4); /* The ErrorResponse the Java client reads. */
    assert_int_equal(r.number, 0);
    assert_int_equal(cluster_create(c, cl, "/p", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/p/a", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_set(c, cl, "/p", "1", -1, NULL), COORD_OK);
    assert_int_equal(cluster_set(c, cl, "/p", "2", -1, NULL), COORD_OK);
    assert_int_equal(cluster_set(c, cl, "/p/a", "x", -1, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 4);
    assert_int_equal(w->notes[0].type, COORD_EV_CREATED);
    assert_int_equal(w->notes[1].type, COORD_EV_CHILDREN_CHANGED);
    assert_int_equal(w->notes[2].type, COORD_EV_DATA_CHANGED);
    assert_int_equal(w->notes[3].type, COORD_EV_DATA_CHANGED);
    assert_int_equal(cluster_client_notes(w, -2, NULL), 0);
    assert_int_equal(cluster_client_notes(w, COORD_EV_DATA_CHANGED, "/p"), 2);
}

static void test_recursive_watch_sees_descendants_but_no_children_changed(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *w = connect_client(c, TIMEOUT_MS);
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_add_watch(c, w, "/r", 1, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/r", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/r/x", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/r/x/y", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_set(c, cl, "/r/x/y", "1", -1, NULL), COORD_OK);
    assert_int_equal(cluster_delete(c, cl, "/r/x/y", -1, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/other", NULL, 0, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 5);
    assert_int_equal(cluster_client_notes(w, COORD_EV_CREATED, "/r"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_CREATED, "/r/x"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_CREATED, "/r/x/y"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_DATA_CHANGED, "/r/x/y"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_DELETED, "/r/x/y"), 1);
    assert_int_equal(cluster_client_notes(w, COORD_EV_CHILDREN_CHANGED, NULL), 0);
}

static void test_remove_watches_without_a_watch_is_nowatcher(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *w = connect_client(c, TIMEOUT_MS);
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/w", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_remove_watches(c, w, "/w", COORD_WATCHER_ANY, NULL), COORD_ENOWATCHER);
    assert_int_equal(cluster_get(c, w, "/w", true, NULL), COORD_OK);
    assert_int_equal(cluster_remove_watches(c, w, "/w", COORD_WATCHER_CHILDREN, NULL),
                     COORD_ENOWATCHER);
    assert_int_equal(cluster_remove_watches(c, w, "/w", COORD_WATCHER_DATA, NULL), COORD_OK);
    assert_int_equal(cluster_remove_watches(c, w, "/w", COORD_WATCHER_DATA, NULL),
                     COORD_ENOWATCHER);
    assert_int_equal(cluster_set(c, cl, "/w", "1", -1, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 0);
}

static void test_watches_go_away_with_their_connection(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *w = connect_client(c, TIMEOUT_MS);
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/w", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, w, "/w", true, NULL), COORD_OK);
    assert_int_equal(coord_watches_count(&c->nodes[0].server.watches), 1);
    assert_int_equal(cluster_client_reconnect(c, w, 0), COORD_OK);
    cluster_run_for(c, 5);
    assert_int_equal(coord_watches_count(&c->nodes[0].server.watches), 0);
    assert_int_equal(cluster_set(c, cl, "/w", "1", -1, NULL), COORD_OK);
    cluster_run_for(c, 10);
    assert_int_equal(w->note_count, 0);
}

/* ---- multi ----------------------------------------------------------------------------------- */

static void test_multi_is_all_or_nothing_over_the_wire(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct coord_op bad[3] = {cluster_op_create("/m", "1", 0), cluster_op_check("/", 99),
                              cluster_op_delete("/x", -1)};
    struct cluster_reply r;
    assert_int_equal(cluster_multi(c, cl, bad, 3, &r), COORD_OK);
    assert_int_equal(r.zxid, 2);
    assert_int_equal(r.result_count, 3);
    const int32_t errs[3] = {0, COORD_EBADVERSION, COORD_ERUNTIMEINCONSISTENCY};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.results[i].type, COORD_OP_ERROR);
        assert_int_equal(r.results[i].err, errs[i]);
    }
    assert_false(node_exists(c, "/m"));

    struct coord_op good[5] = {cluster_op_create("/m1", "a", 0), cluster_op_create("/m2", NULL, 0),
                               cluster_op_set("/m1", "b", 0), cluster_op_check("/m1", 1),
                               cluster_op_delete("/m2", 0)};
    assert_int_equal(cluster_multi(c, cl, good, 5, &r), COORD_OK);
    assert_int_equal(r.zxid, 3);
    assert_int_equal(r.result_count, 5);
    const int32_t types[5] = {COORD_OP_CREATE, COORD_OP_CREATE, COORD_OP_SETDATA, COORD_OP_CHECK,
                              COORD_OP_DELETE};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r.results[i].type, types[i]);
        assert_int_equal(r.results[i].err, 0);
    }
    assert_string_equal(r.results[0].path, "/m1");
    assert_int_equal(r.results[2].stat.version, 1);
    assert_int_equal(r.results[2].stat.czxid, 3);
    assert_int_equal(r.results[2].stat.mzxid, 3);
    assert_true(node_exists(c, "/m1"));
    assert_false(node_exists(c, "/m2"));

    assert_int_equal(cluster_multi(c, cl, NULL, 0, &r), COORD_OK); /* Empty: just the end. */
    assert_int_equal(r.result_count, 0);
}

static void test_multi_read_answers_each_op_on_its_own(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/mr", "v", 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/mr/k", NULL, 0, NULL), COORD_OK);
    struct coord_op ops[3] = {cluster_op(COORD_OP_GETDATA, "/mr"),
                              cluster_op(COORD_OP_GETCHILDREN, "/mr"),
                              cluster_op(COORD_OP_GETDATA, "/missing")};
    int32_t xid = cluster_client_send_multi(c, cl, CLUSTER_XID_NEXT, COORD_OP_MULTIREAD, ops, 3);
    struct cluster_reply r;
    assert_int_equal(cluster_wait(c, cl, xid, &r), COORD_OK);
    assert_int_equal(r.result_count, 3);
    assert_int_equal(r.results[0].type, COORD_OP_GETDATA);
    assert_int_equal(r.results[0].data_len, 1);
    assert_int_equal(r.results[1].type, COORD_OP_GETCHILDREN);
    assert_int_equal(r.results[1].string_count, 1);
    assert_string_equal(r.results[1].strings[0], "k");
    assert_int_equal(r.results[2].type, COORD_OP_ERROR);
    assert_int_equal(r.results[2].err, COORD_ENONODE);
}

/* ---- ordering and group commit --------------------------------------------------------------- */

static void test_pipelined_reads_see_the_writes_before_them_in_order(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct coord_op create = cluster_op_create("/p", "1", 0);
    struct coord_op get = cluster_op(COORD_OP_GETDATA, "/p");
    struct coord_op set = cluster_op_set("/p", "2", -1);
    int32_t x1 = cluster_client_send(c, cl, CLUSTER_XID_NEXT, &create);
    int32_t x2 = cluster_client_send(c, cl, CLUSTER_XID_NEXT, &get);
    int32_t x3 = cluster_client_send(c, cl, CLUSTER_XID_NEXT, &set);
    int32_t x4 = cluster_client_send(c, cl, CLUSTER_XID_NEXT, &get);
    struct cluster_reply r1, r2, r3, r4;
    assert_int_equal(cluster_wait(c, cl, x4, &r4), COORD_OK);
    assert_int_equal(cluster_wait(c, cl, x1, &r1), COORD_OK);
    assert_int_equal(cluster_wait(c, cl, x2, &r2), COORD_OK);
    assert_int_equal(cluster_wait(c, cl, x3, &r3), COORD_OK);
    assert_true(r1.seq < r2.seq);
    assert_true(r2.seq < r3.seq);
    assert_true(r3.seq < r4.seq);
    assert_memory_equal(r2.data, "1", 2);
    assert_int_equal(r2.stat.version, 0);
    assert_memory_equal(r4.data, "2", 2);
    assert_int_equal(r4.stat.version, 1);
    assert_int_equal(r2.zxid, r1.zxid);
    assert_int_equal(r4.zxid, r3.zxid);
}

static void test_group_commit_shares_syncs_between_pipelined_writes(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cls[5];
    for (int i = 0; i < 5; i++) {
        cls[i] = connect_client(c, TIMEOUT_MS);
    }
    cluster_set_sync_delay(c, 0, 10);
    uint64_t syncs = c->nodes[0].disk.syncs;
    uint64_t appends = c->nodes[0].disk.appends;
    int32_t xids[5][10];
    char path[32];
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 10; j++) {
            snprintf(path, sizeof path, "/g%d-%d", i, j);
            struct coord_op op = cluster_op_create(path, NULL, 0);
            xids[i][j] = cluster_client_send(c, cls[i], CLUSTER_XID_NEXT, &op);
        }
        cluster_run_for(c, 3); /* Arrivals at +1, +4, +7, +10, +13. */
    }
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 10; j++) {
            assert_int_equal(cluster_wait(c, cls[i], xids[i][j], NULL), COORD_OK);
        }
    }
    /* The sync started at +1 covered the first four clients' writes; the
     * fifth client's arrived after it completed and took one more. */
    assert_int_equal(c->nodes[0].disk.appends - appends, 50);
    assert_int_equal(c->nodes[0].disk.syncs - syncs, 2);
    assert_int_equal(c->nodes[0].server.tree.last_zxid, 55);
}

static void test_requests_split_into_arbitrary_pieces_are_framed_alike(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    cl->chunk_max_bytes = 3;
    assert_int_equal(cluster_client_connect(c, cl, 0, TIMEOUT_MS, 0, NULL), COORD_OK);
    struct cluster_reply r;
    assert_int_equal(cluster_create(c, cl, "/frag", "pieces", 0, &r), COORD_OK);
    assert_int_equal(cluster_set(c, cl, "/frag", "more", 0, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, cl, "/frag", false, &r), COORD_OK);
    assert_string_equal((const char *)r.data, "more");
    struct coord_op ops[2] = {cluster_op_create("/frag/a", NULL, 0), cluster_op_check("/frag", 1)};
    assert_int_equal(cluster_multi(c, cl, ops, 2, &r), COORD_OK);
    assert_int_equal(r.results[1].type, COORD_OP_CHECK);
    assert_int_equal(cluster_wait(c, cl, cluster_client_ping(c, cl), NULL), COORD_OK);
    assert_true(c->nodes[0].events > 40); /* Many more deliveries than frames. */
}

static bool has_replies(const struct cluster *c, void *arg)
{
    const struct cluster_client *cl = c->clients[0];
    return cl->reply_count >= *(size_t *)arg;
}

static void test_reads_beyond_the_queue_limit_wait_and_keep_their_order(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    cluster_set_sync_manual(c, 0, true);
    struct coord_op create = cluster_op_create("/bp", "v", 0);
    cluster_client_send(c, cl, CLUSTER_XID_NEXT, &create);
    struct coord_op get = cluster_op(COORD_OP_GETDATA, "/bp");
    enum { READS = 10050 }; /* More than the server queues per connection. */
    for (int i = 0; i < READS; i++) {
        cluster_client_send(c, cl, CLUSTER_XID_NEXT, &get);
    }
    cluster_run_for(c, 10);
    assert_int_equal(cl->reply_count, 0); /* All wait behind the create. */
    cluster_sync(c, 0);
    size_t want = READS + 1;
    assert_true(cluster_step_until(c, has_replies, &want, 1000));
    for (size_t i = 0; i < want; i++) {
        assert_int_equal(cl->replies[i].err, COORD_OK);
        assert_int_equal(cl->replies[i].xid, (int32_t)i + 1);
    }
    assert_int_equal(cl->replies[want - 1].data_len, 1);
}

/* ---- malformed input ------------------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A frame of a RequestHeader plus `body`. */
static void send_frame(struct cluster *c,
                       struct cluster_client *cl,
                       int32_t xid,
                       int32_t type,
                       const uint8_t *body,
                       size_t len,
                       bool expect_reply)
{
    uint8_t buf[64];
    assert_true(len + 12 <= sizeof buf);
    put_be32(buf, (uint32_t)(len + 8));
    put_be32(buf + 4, (uint32_t)xid);
    put_be32(buf + 8, (uint32_t)type);
    if (len > 0) {
        memcpy(buf + 12, body, len);
    }
    cluster_client_send_raw(c, cl, buf, len + 12, expect_reply, xid, type);
}

static void test_unknown_opcode_gets_unimplemented_then_close(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    send_frame(c, cl, 77, 999, NULL, 0, true);
    struct cluster_reply r;
    assert_int_equal(cluster_wait(c, cl, 77, &r), COORD_EUNIMPLEMENTED);
    assert_int_equal(r.zxid, -1);
    assert_true(cluster_step_until(c, client_closed, cl, 100));
    assert_true(cl->closed_by_server);

    struct cluster_client *zero = connect_client(c, TIMEOUT_MS);
    send_frame(c, zero, 78, COORD_OP_NOTIFICATION, NULL, 0, true);
    assert_int_equal(cluster_wait(c, zero, 78, &r), COORD_EUNIMPLEMENTED);
    assert_true(cluster_step_until(c, client_closed, zero, 100));
}

static void test_connection_without_connect_request_is_closed_after_10_s(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *silent = cluster_client_new(c);
    cluster_client_open_raw(c, silent, 0); /* Opens the socket, sends nothing. */
    int64_t opened = c->now_ms;
    struct cluster_client *ok = connect_client(c, TIMEOUT_MS); /* Handshakes at once. */
    cluster_client_set_ping(c, ok, 2000);
    cluster_run_for(c, 9900 - (c->now_ms - opened));
    assert_false(silent->closed_by_server);
    assert_true(cluster_step_until(c, client_closed, silent, 300));
    assert_true(silent->closed_by_server);
    assert_in_range(c->now_ms - opened, 10000, 10010);
    assert_int_equal(ok->closes, 0); /* The one that handshook is left alone. */
}

static void test_malformed_body_gets_marshalling_error_and_the_connection_stays(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/ok", NULL, 0, NULL), COORD_OK);
    const uint8_t truncated[] = {0, 0, 0, 100, '/', 'o', 'k'}; /* A path of 100 bytes, 3 given. */
    send_frame(c, cl, 40, COORD_OP_GETDATA, truncated, sizeof truncated, true);
    struct cluster_reply r;
    assert_int_equal(cluster_wait(c, cl, 40, &r), COORD_EMARSHALLING);
    assert_int_equal(r.zxid, 2);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTED);
    send_frame(c, cl, 41, COORD_OP_CREATE, truncated, sizeof truncated, true);
    assert_int_equal(cluster_wait(c, cl, 41, &r), COORD_EMARSHALLING);
    assert_int_equal(r.zxid, 3); /* A write that does not decode still uses a zxid. */
    assert_int_equal(cluster_get(c, cl, "/ok", false, &r), COORD_OK);
    assert_int_equal(r.zxid, 3);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTED);
}

static void test_frame_longer_than_the_maximum_closes_the_connection(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    uint8_t len[4];
    put_be32(len, COORD_WIRE_MAX_FRAME + 1);
    cluster_client_send_raw(c, cl, len, sizeof len, false, 0, 0);
    assert_true(cluster_step_until(c, client_closed, cl, 100));
    assert_true(cl->closed_by_server);
    assert_int_equal(cl->reply_count, 0);
}

static void test_frame_shorter_than_a_request_header_closes_the_connection(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    const uint8_t frame[] = {0, 0, 0, 3, 1, 2, 3};
    cluster_client_send_raw(c, cl, frame, sizeof frame, false, 0, 0);
    assert_true(cluster_step_until(c, client_closed, cl, 100));
    assert_int_equal(cl->reply_count, 0);
}

static void test_undecodable_connect_request_closes_without_reply(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    cluster_client_open_raw(c, cl, 0);
    const uint8_t frame[] = {0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    cluster_client_send_raw(c, cl, frame, sizeof frame, false, 0, 0);
    assert_true(cluster_step_until(c, client_closed, cl, 100));
    assert_true(cl->closed_by_server);
    assert_int_equal(cl->handshake_len, 0);
    assert_int_equal(coord_sessions_count(&c->nodes[0].server.sessions), 0);
}

static void test_four_letter_word_is_not_served_and_closes(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    cluster_client_open_raw(c, cl, 0);
    cluster_client_send_raw(c, cl, "ruok", 4, false, 0, 0);
    assert_true(cluster_step_until(c, client_closed, cl, 100));
    assert_true(cl->closed_by_server);
    assert_int_equal(cl->frames, 0);
}

static void test_undecodable_auth_packet_closes_without_reply(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    const uint8_t body[] = {0, 0, 0, 0, 0, 0, 0, 50, 'd'}; /* A scheme of 50 bytes, 1 given. */
    send_frame(c, cl, COORD_XID_AUTH, COORD_OP_AUTH, body, sizeof body, false);
    assert_true(cluster_step_until(c, client_closed, cl, 100));
    assert_true(cl->closed_by_server);
    assert_int_equal(cl->reply_count, 0);
}

static void test_sync_echoes_its_path_even_when_missing(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct coord_op op = cluster_op(COORD_OP_SYNC, "/not/there");
    struct cluster_reply r;
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_string_equal(r.path, "/not/there");
    assert_int_equal(r.zxid, 1);
}

/* ---- auth and ACLs --------------------------------------------------------------------------- */

static void test_digest_acl_needs_add_auth(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *bob = connect_client(c, TIMEOUT_MS);
    struct cluster_client *anon = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    assert_int_equal(cluster_add_auth(c, bob, "digest", "bob:secret", &r), COORD_OK);
    assert_int_equal(r.xid, COORD_XID_AUTH);
    assert_int_equal(r.zxid, 0);
    char id[64];
    int32_t n = coord_digest_id("bob:secret", 10, id, sizeof id);
    assert_true(n > 4);
    struct coord_acl acl = {COORD_PERM_ALL, {{"digest", 6}, {id, n}}};
    assert_int_equal(cluster_create_acl(c, bob, "/s", "top", 0, &acl, 1, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, bob, "/s", false, &r), COORD_OK);
    assert_int_equal(cluster_get(c, anon, "/s", false, &r), COORD_ENOAUTH);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(cluster_set(c, anon, "/s", "no", -1, NULL), COORD_ENOAUTH);
    assert_int_equal(cluster_exists(c, anon, "/s", false, NULL), COORD_OK); /* 3.8: no check. */
    assert_int_equal(cluster_add_auth(c, anon, "digest", "bob:secret", NULL), COORD_OK);
    assert_int_equal(cluster_get(c, anon, "/s", false, &r), COORD_OK);
    assert_memory_equal(r.data, "top", 3);
    /* The auth scheme stands for the caller's own ids. */
    struct coord_acl auth = {COORD_PERM_ALL, {{"auth", 4}, {"", 0}}};
    assert_int_equal(cluster_create_acl(c, bob, "/s2", NULL, 0, &auth, 1, NULL), COORD_OK);
    struct coord_op getacl = cluster_op(COORD_OP_GETACL, "/s2");
    assert_int_equal(cluster_call(c, bob, &getacl, &r), COORD_OK);
    assert_int_equal(r.acl_count, 1);
    assert_string_equal(r.acl[0].scheme, "digest");
    assert_memory_equal(r.acl[0].id, id, (size_t)n);
}

static void test_auth_with_an_unknown_scheme_fails_and_closes(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct cluster_reply r;
    assert_int_equal(cluster_add_auth(c, cl, "kerberos", "x", &r), COORD_EAUTHFAILED);
    assert_int_equal(r.zxid, 0);
    assert_true(cluster_step_until(c, client_closed, cl, 100));
    assert_true(cl->closed_by_server);
}

static void test_ip_acl_matches_the_connection_address(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *local = connect_client(c, TIMEOUT_MS);
    struct cluster_client *remote = cluster_client_new(c);
    strcpy(remote->address, "10.1.2.3");
    assert_int_equal(cluster_client_connect(c, remote, 0, TIMEOUT_MS, 0, NULL), COORD_OK);
    struct coord_acl acl = {COORD_PERM_READ, {{"ip", 2}, {"127.0.0.0/8", 11}}};
    assert_int_equal(cluster_create_acl(c, local, "/lan", "d", 0, &acl, 1, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, local, "/lan", false, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, remote, "/lan", false, NULL), COORD_ENOAUTH);
    assert_int_equal(cluster_set(c, local, "/lan", "x", -1, NULL), COORD_ENOAUTH);
}

static void test_get_acl_without_read_masks_digest_hashes(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *bob = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_add_auth(c, bob, "digest", "bob:pw", NULL), COORD_OK);
    char id[64];
    int32_t n = coord_digest_id("bob:pw", 6, id, sizeof id);
    struct coord_acl acl[2] = {{COORD_PERM_ADMIN, {{"digest", 6}, {id, n}}},
                               {COORD_PERM_CREATE, {{"world", 5}, {"anyone", 6}}}};
    assert_int_equal(cluster_create_acl(c, bob, "/admin-only", NULL, 0, acl, 2, NULL), COORD_OK);
    struct coord_op op = cluster_op(COORD_OP_GETACL, "/admin-only");
    struct cluster_reply r;
    assert_int_equal(cluster_call(c, bob, &op, &r), COORD_OK);
    assert_int_equal(r.acl_count, 2);
    assert_int_equal(r.acl[0].perms, COORD_PERM_ADMIN);
    assert_string_equal(r.acl[0].id, "bob:x");
    assert_string_equal(r.acl[1].id, "anyone");
    struct cluster_client *anon = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_call(c, anon, &op, &r), COORD_ENOAUTH);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_get_ephemerals_all_children_number_and_who_am_i(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    struct cluster_client *other = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/x", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/x/e1", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/x/y", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/x/y/z", NULL, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/e2", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, other, "/e3", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);

    struct cluster_reply r;
    struct coord_op op = cluster_op(COORD_OP_GETEPHEMERALS, "/");
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_int_equal(r.string_count, 2);
    qsort(r.strings, 2, sizeof *r.strings, cmp_str);
    assert_string_equal(r.strings[0], "/e2");
    assert_string_equal(r.strings[1], "/x/e1");
    op = cluster_op(COORD_OP_GETEPHEMERALS, "/x");
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_int_equal(r.string_count, 1);
    assert_string_equal(r.strings[0], "/x/e1");

    op = cluster_op(COORD_OP_GETALLCHILDRENNUMBER, "/x");
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_int_equal(r.number, 3);
    op = cluster_op(COORD_OP_GETALLCHILDRENNUMBER, "/nope");
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_ENONODE);

    op = cluster_op(COORD_OP_WHOAMI, NULL);
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_int_equal(r.string_count, 2);
    assert_string_equal(r.strings[0], "ip");
    assert_string_equal(r.strings[1], "127.0.0.1");
    assert_int_equal(cluster_add_auth(c, cl, "digest", "bob:pw", NULL), COORD_OK);
    assert_int_equal(cluster_call(c, cl, &op, &r), COORD_OK);
    assert_int_equal(r.string_count, 4);
    assert_string_equal(r.strings[2], "digest");
    assert_string_equal(r.strings[3], "bob");
}

/* ---- crash and recovery ---------------------------------------------------------------------- */

static void test_acknowledged_writes_survive_crash_and_restart(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    char path[16];
    char data[16];
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof path, "/k%d", i);
        snprintf(data, sizeof data, "v%d", i);
        assert_int_equal(cluster_create(c, cl, path, data, 0, NULL), COORD_OK);
    }
    assert_int_equal(cluster_set(c, cl, "/k3", "changed", 0, NULL), COORD_OK);
    uint64_t digest = cluster_digest(c, 0);
    cluster_crash(c, 0);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CLOSED);
    assert_int_equal(cluster_restart(c, 0), COORD_OK);
    assert_int_equal(cluster_digest(c, 0), digest);
    assert_int_equal(c->nodes[0].server.tree.last_zxid, 22);
    /* The session survived too: the client resumes it. */
    assert_int_equal(cluster_client_reconnect(c, cl, 0), COORD_OK);
    struct cluster_reply r;
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof path, "/k%d", i);
        assert_int_equal(cluster_get(c, cl, path, false, &r), COORD_OK);
        if (i == 3) {
            assert_string_equal((const char *)r.data, "changed");
        } else {
            snprintf(data, sizeof data, "v%d", i);
            assert_string_equal((const char *)r.data, data);
        }
    }
    assert_int_equal(cluster_create(c, cl, "/after", NULL, 0, &r), COORD_OK);
    assert_int_equal(r.zxid, 23);
}

static void test_unacknowledged_write_is_lost_in_a_crash(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    assert_int_equal(cluster_create(c, cl, "/acked", NULL, 0, NULL), COORD_OK);
    cluster_set_sync_manual(c, 0, true);
    struct coord_op op = cluster_op_create("/unacked", NULL, 0);
    cluster_client_send(c, cl, CLUSTER_XID_NEXT, &op);
    cluster_run_for(c, 100);
    assert_int_equal(cl->reply_count, 1); /* Logged, never synced, never answered. */
    assert_int_equal(c->nodes[0].disk.log_count, 3);
    cluster_crash(c, 0);
    assert_int_equal(cl->lost, 1);
    cluster_set_sync_manual(c, 0, false);
    assert_int_equal(cluster_restart(c, 0), COORD_OK);
    assert_true(node_exists(c, "/acked"));
    assert_false(node_exists(c, "/unacked"));
    assert_int_equal(cluster_client_reconnect(c, cl, 0), COORD_OK);
    struct cluster_reply r;
    assert_int_equal(cluster_create(c, cl, "/next", NULL, 0, &r), COORD_OK);
    assert_int_equal(r.zxid, 3); /* The lost zxid is issued again. */
}

static void test_sessions_survive_restart_and_still_expire_later(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, 4000);
    int64_t session = cl->session_id;
    assert_int_equal(cluster_create(c, cl, "/eph", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    cluster_run_for(c, 1000);
    cluster_crash(c, 0);
    cluster_run_for(c, 1000);
    int64_t restarted_at = c->now_ms;
    assert_int_equal(cluster_restart(c, 0), COORD_OK);
    assert_non_null(coord_sessions_get(&c->nodes[0].server.sessions, session));
    assert_true(node_exists(c, "/eph"));
    assert_int_equal(cluster_trace_count(c, 0, COORD_TRACE_SESSION_EXPIRED), 0);
    cluster_run_for(c, 10000);
    const struct cluster_trace *t = cluster_trace_last(c, 0, COORD_TRACE_SESSION_EXPIRED);
    assert_non_null(t);
    assert_int_equal(t->a, session);
    /* Its timer restarted when the server did. */
    assert_int_equal(t->now_ms - CLUSTER_SYNC_DELAY_MS,
                     ((restarted_at + 4000) / TICK_MS + 1) * TICK_MS);
    assert_false(node_exists(c, "/eph"));
    assert_null(coord_sessions_get(&c->nodes[0].server.sessions, session));
    assert_int_equal(cluster_client_reconnect(c, cl, 0), COORD_ESESSIONEXPIRED);
}

static void test_snapshot_plus_log_recovery_gives_the_same_tree(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    char path[16];
    for (int i = 0; i < 30; i++) {
        snprintf(path, sizeof path, "/s%d", i % 12);
        if (i < 12) {
            assert_int_equal(cluster_create(c, cl, path, "x", COORD_MODE_PERSISTENT, NULL),
                             COORD_OK);
        } else {
            assert_int_equal(cluster_set(c, cl, path, path, -1, NULL), COORD_OK);
        }
    }
    assert_int_equal(cluster_delete(c, cl, "/s5", -1, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/seq-", NULL, COORD_MODE_PERSISTENT_SEQUENTIAL, NULL),
                     COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/eph", NULL, COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, cl, "/late", NULL, 0, NULL), COORD_OK);
    assert_int_equal(c->nodes[0].server.tree.last_zxid, 35);
    /* One snapshot per 10 applied transactions. */
    assert_int_equal(c->nodes[0].disk.snapshots, 3);
    assert_int_equal(c->nodes[0].disk.snapshot_zxid, 30);
    assert_int_equal(cluster_trace_count(c, 0, COORD_TRACE_SNAPSHOT), 3);
    uint64_t digest = cluster_digest(c, 0);
    cluster_crash(c, 0);
    assert_int_equal(cluster_restart(c, 0), COORD_OK);
    assert_int_equal(cluster_digest(c, 0), digest);
    const struct cluster_trace *t = cluster_trace_last(c, 0, COORD_TRACE_RECOVERED);
    assert_non_null(t);
    assert_int_equal(t->a, 35);
    assert_int_equal(t->b, 5); /* Only the records after the snapshot were replayed. */
    assert_true(node_exists(c, "/eph"));
    assert_int_equal(coord_sessions_count(&c->nodes[0].server.sessions), 1);
}

static void test_restart_from_a_corrupt_snapshot_or_log_fails_with_ecorrupt(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = connect_client(c, TIMEOUT_MS);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(cluster_set(c, cl, "/", "x", -1, NULL), COORD_OK);
    }
    struct cluster_disk *d = &c->nodes[0].disk;
    assert_non_null(d->snapshot);
    uint8_t saved = d->snapshot[0];
    d->snapshot[0] ^= 0xff;
    assert_int_equal(cluster_restart(c, 0), COORD_ECORRUPT);
    assert_false(c->nodes[0].up);
    assert_string_equal(c->nodes[0].errmsg, "snapshot: bad magic or version");
    d->snapshot[0] = saved;
    d->log[d->log_count - 1].len = 3; /* A torn record after the snapshot. */
    assert_int_equal(cluster_restart(c, 0), COORD_ECORRUPT);
    assert_string_equal(c->nodes[0].errmsg, "log: undecodable transaction record");
    free(d->log[--d->log_count].bytes); /* What a log reader would cut off. */
    assert_int_equal(cluster_restart(c, 0), COORD_OK);
    assert_int_equal(c->nodes[0].server.tree.last_zxid, 12);
}

static char super_digest[80];

static int setup_super(void **state)
{
    struct coord_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.tick_ms = TICK_MS;
    strcpy(super_digest, "super:");
    int32_t n = coord_digest_id("super:boss", 10, super_digest, sizeof super_digest - 1);
    super_digest[n] = '\0';
    cfg.super_digest = super_digest;
    return setup_with(state, &cfg);
}

static void test_super_digest_bypasses_every_acl(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *owner = connect_client(c, TIMEOUT_MS);
    struct cluster_client *boss = connect_client(c, TIMEOUT_MS);
    struct coord_acl acl = {COORD_PERM_ALL, {{"ip", 2}, {"10.9.9.9", 8}}};
    assert_int_equal(cluster_create_acl(c, owner, "/locked", "s", 0, &acl, 1, NULL), COORD_OK);
    assert_int_equal(cluster_get(c, boss, "/locked", false, NULL), COORD_ENOAUTH);
    assert_int_equal(cluster_add_auth(c, boss, "digest", "super:wrong", NULL), COORD_OK);
    assert_int_equal(cluster_get(c, boss, "/locked", false, NULL), COORD_ENOAUTH);
    assert_int_equal(cluster_add_auth(c, boss, "digest", "super:boss", NULL), COORD_OK);
    assert_int_equal(cluster_get(c, boss, "/locked", false, NULL), COORD_OK);
    assert_int_equal(cluster_delete(c, boss, "/locked", -1, NULL), COORD_OK);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_handshake_clamps_timeout_to_two_and_twenty_ticks),
        T(test_handshake_mirrors_the_readonly_byte),
        T(test_requests_pipelined_before_the_handshake_are_served_after_it),
        T(test_create_get_set_delete_round_trip_with_exact_stat),
        T(test_null_and_empty_data_stay_distinct),
        T(test_sequential_names_count_child_creations),
        T(test_failed_writes_use_up_a_zxid),
        T(test_create2_and_container_replies_carry_path_and_stat),
        T(test_sasl_and_reconfig_get_the_unconfigured_answers),
        T(test_ephemeral_is_deleted_when_its_session_expires),
        T(test_pings_keep_a_session_alive_past_its_timeout),
        T(test_close_session_deletes_ephemerals_and_closes_after_the_reply),
        T(test_close_session_whose_connection_drops_is_still_a_close),
        T(test_session_of_a_client_gone_during_handshake_still_expires),
        T(test_server_clock_jumping_forward_expires_sessions_at_once),
        T(test_server_clock_jumping_back_delays_expiry),
        T(test_fast_server_clock_expires_sessions_early),
        T(test_reconnect_with_id_and_password_keeps_session_and_ephemerals),
        T(test_reconnect_moves_the_session_off_its_old_connection),
        T(test_wrong_password_or_unknown_session_gets_expired_reply_then_close),
        T(test_client_ahead_of_the_server_is_closed_without_reply),
        T(test_data_watch_fires_node_data_changed_once),
        T(test_exists_watch_on_missing_node_fires_node_created),
        T(test_child_watch_fires_on_children_not_on_their_data),
        T(test_notification_precedes_the_writes_reply_on_the_writers_connection),
        T(test_setwatches_fires_missed_events_before_its_reply),
        T(test_persistent_watch_fires_repeatedly_on_node_and_children),
        T(test_recursive_watch_sees_descendants_but_no_children_changed),
        T(test_remove_watches_without_a_watch_is_nowatcher),
        T(test_watches_go_away_with_their_connection),
        T(test_multi_is_all_or_nothing_over_the_wire),
        T(test_multi_read_answers_each_op_on_its_own),
        T(test_pipelined_reads_see_the_writes_before_them_in_order),
        T(test_group_commit_shares_syncs_between_pipelined_writes),
        T(test_requests_split_into_arbitrary_pieces_are_framed_alike),
        T(test_reads_beyond_the_queue_limit_wait_and_keep_their_order),
        T(test_unknown_opcode_gets_unimplemented_then_close),
        T(test_connection_without_connect_request_is_closed_after_10_s),
        T(test_malformed_body_gets_marshalling_error_and_the_connection_stays),
        T(test_frame_longer_than_the_maximum_closes_the_connection),
        T(test_frame_shorter_than_a_request_header_closes_the_connection),
        T(test_undecodable_connect_request_closes_without_reply),
        T(test_four_letter_word_is_not_served_and_closes),
        T(test_undecodable_auth_packet_closes_without_reply),
        T(test_sync_echoes_its_path_even_when_missing),
        T(test_digest_acl_needs_add_auth),
        T(test_auth_with_an_unknown_scheme_fails_and_closes),
        T(test_ip_acl_matches_the_connection_address),
        T(test_get_acl_without_read_masks_digest_hashes),
        T(test_get_ephemerals_all_children_number_and_who_am_i),
        T(test_acknowledged_writes_survive_crash_and_restart),
        T(test_unacknowledged_write_is_lost_in_a_crash),
        T(test_sessions_survive_restart_and_still_expire_later),
        cmocka_unit_test_setup_teardown(test_snapshot_plus_log_recovery_gives_the_same_tree,
                                        setup_snap10, teardown),
        cmocka_unit_test_setup_teardown(
            test_restart_from_a_corrupt_snapshot_or_log_fails_with_ecorrupt, setup_snap10,
            teardown),
        cmocka_unit_test_setup_teardown(test_super_digest_bypasses_every_acl, setup_super,
                                        teardown),
    };
#undef T
    print_message("test_server: seed %llu (set COORD_SEED to change it)\n",
                  (unsigned long long)cluster_seed(SEED));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
