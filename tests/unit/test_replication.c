/* Replication (election + ZAB) in the deterministic fixture, step by step.
 * Every test runs the safety checks of zab_checks.h after each step (one
 * leader per epoch, agreement, acknowledged writes in every later leader)
 * and at its end. Timeouts are short: tick 100 ms, syncLimit 5 ticks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "zab_checks.h"

struct rig
{
    struct cluster c;
    struct zab_checks z;
    struct coord_config cfg;
};

static const struct coord_acl world[1] = {{COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}}};

/* Send a create without waiting for its reply. */
static void send_create(struct rig *r, struct cluster_client *cl, const char *path)
{
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = COORD_OP_CREATE;
    op.path.ptr = path;
    op.path.len = (int32_t)strlen(path);
    op.data = (const uint8_t *)"x";
    op.data_len = 1;
    op.acl = world;
    op.acl_count = 1;
    cluster_client_send(&r->c, cl, CLUSTER_XID_NEXT, &op);
}

static struct rig *rig_new(unsigned voters, unsigned observers, uint64_t seed)
{
    struct rig *r = test_calloc(1, sizeof *r);
    zab_config(&r->cfg, voters, observers);
    assert_int_equal(cluster_init(&r->c, voters + observers, cluster_seed(seed), &r->cfg),
                     COORD_OK);
    zab_checks_init(&r->z, &r->c);
    return r;
}

static void rig_settle(struct rig *r)
{
    assert_true(zab_settle(&r->c, 30000));
    assert_string_equal(r->z.failure, "");
}

static void rig_free(struct rig *r)
{
    if (!zab_checks_final(&r->z)) {
        fail_msg("%s", r->z.failure);
    }
    cluster_close(&r->c);
    test_free(r);
}

static struct cluster_client *rig_client(struct rig *r, unsigned node)
{
    struct cluster_client *cl = cluster_client_new(&r->c);
    assert_int_equal(cluster_client_connect(&r->c, cl, node, 6000, 0, NULL), COORD_OK);
    return cl;
}

/* Create path; when acknowledged, register it. Returns the error. */
static int rig_create(struct rig *r, struct cluster_client *cl, const char *path)
{
    struct cluster_reply rep;
    int rc = cluster_create(&r->c, cl, path, "v", 0, &rep);
    if (rc == COORD_OK) {
        zab_checks_acked(&r->z, path, rep.zxid);
    }
    return rc;
}

static bool has_path(struct rig *r, unsigned node, const char *path)
{
    return coord_tree_get(&r->c.nodes[node].server.tree, path, strlen(path)) != NULL;
}

static int64_t epoch_of(struct rig *r, unsigned node)
{
    return zab_checks_info(&r->c, node).current_epoch;
}

static unsigned other_than(unsigned a, unsigned b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (i != a && i != b) {
            return i;
        }
    }
    return 0;
}

/* ---- elections -------------------------------------------------------------------------- */

static void check_clean_election(unsigned n)
{
    struct rig *r = rig_new(n, 0, 1);
    rig_settle(r);
    int leader = zab_leader(&r->c);
    assert_int_equal(leader, (int)n - 1); /* Equal logs: the highest id wins. */
    for (unsigned i = 0; i < n; i++) {
        struct coord_quorum_info qi = zab_checks_info(&r->c, i);
        assert_int_equal(qi.role,
                         i == (unsigned)leader ? COORD_ROLE_LEADING : COORD_ROLE_FOLLOWING);
        assert_int_equal(qi.current_epoch, 1);
        assert_int_equal(qi.leader, (coord_id)leader + 1);
    }
    assert_int_equal(zab_checks_info(&r->c, (unsigned)leader).synced_followers, n - 1);
    struct cluster_client *cl = rig_client(r, 0); /* A follower. */
    assert_int_equal(rig_create(r, cl, "/from-follower"), COORD_OK);
    rig_settle(r);
    for (unsigned i = 0; i < n; i++) {
        assert_true(has_path(r, i, "/from-follower"));
    }
    rig_free(r);
}

static void test_three_servers_elect_the_highest_id_and_replicate(void **state)
{
    (void)state;
    check_clean_election(3);
}

static void test_five_servers_elect_the_highest_id_and_replicate(void **state)
{
    (void)state;
    check_clean_election(5);
}

static void test_five_servers_elect_with_one_then_two_down_but_not_three(void **state)
{
    (void)state;
    struct rig *r = rig_new(5, 0, 2);
    rig_settle(r);
    cluster_crash(&r->c, 4); /* The leader. */
    cluster_run_for(&r->c, 100);
    rig_settle(r);
    assert_int_equal(zab_leader(&r->c), 3);
    assert_int_equal(epoch_of(r, 3), 2);
    cluster_crash(&r->c, 3);
    cluster_run_for(&r->c, 100);
    rig_settle(r);
    assert_int_equal(zab_leader(&r->c), 2);
    struct cluster_client *cl = rig_client(r, 0);
    assert_int_equal(rig_create(r, cl, "/three-of-five"), COORD_OK);
    cluster_crash(&r->c, 2);
    cluster_run_for(&r->c, 5000);
    assert_int_equal(zab_leader(&r->c), -1);
    for (unsigned i = 0; i < 2; i++) {
        assert_false(zab_checks_info(&r->c, i).serving);
    }
    struct cluster_client *late = cluster_client_new(&r->c);
    r->c.call_timeout_ms = 3000;
    assert_int_not_equal(cluster_client_connect(&r->c, late, 0, 6000, 0, NULL), COORD_OK);
    rig_free(r);
}

/* ---- a proposal logged on a minority / a majority when the leader dies ------------------ */

static void test_proposal_logged_only_on_the_crashed_leader_is_truncated(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 3);
    rig_settle(r);
    unsigned leader = (unsigned)zab_leader(&r->c);
    struct cluster_client *cl = rig_client(r, leader);
    assert_int_equal(rig_create(r, cl, "/committed"), COORD_OK);
    /* The next proposal reaches nobody. */
    for (unsigned i = 0; i < 3; i++) {
        if (i != leader) {
            cluster_block(&r->c, leader, i, true);
        }
    }
    send_create(r, cl, "/minority");
    cluster_run_for(&r->c, 20); /* Logged and synced on the leader only. */
    assert_true(zab_checks_info(&r->c, leader).last_logged >
                zab_checks_info(&r->c, leader).last_applied);
    cluster_crash(&r->c, leader);
    for (unsigned i = 0; i < 3; i++) {
        cluster_block(&r->c, leader, i, false);
    }
    cluster_run_for(&r->c, 100);
    rig_settle(r);
    assert_int_equal(cluster_restart(&r->c, leader), COORD_OK);
    rig_settle(r);
    for (unsigned i = 0; i < 3; i++) {
        assert_false(has_path(r, i, "/minority"));
        assert_true(has_path(r, i, "/committed"));
    }
    const struct cluster_trace *t = cluster_trace_last(&r->c, leader, COORD_TRACE_TRUNCATED);
    assert_non_null(t);
    assert_int_equal(t->b, 1); /* One record dropped. */
    rig_free(r);
}

static void test_proposal_logged_on_a_majority_survives_the_leader(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 4);
    rig_settle(r);
    unsigned leader = (unsigned)zab_leader(&r->c);
    unsigned f1 = other_than(leader, leader, 3);
    unsigned f2 = other_than(leader, f1, 3);
    struct cluster_client *cl = rig_client(r, leader);
    /* f2 never sees it, and f1's ACK never gets back: logged on leader and
     * f1 (a majority), committed nowhere. */
    cluster_block(&r->c, leader, f2, true);
    cluster_block(&r->c, f1, leader, true);
    send_create(r, cl, "/majority");
    cluster_run_for(&r->c, 20);
    assert_true(zab_checks_info(&r->c, f1).last_logged > zab_checks_info(&r->c, f1).last_applied);
    assert_false(has_path(r, leader, "/majority"));
    cluster_crash(&r->c, leader);
    cluster_heal_all(&r->c);
    cluster_block(&r->c, leader, f2, false);
    cluster_block(&r->c, f1, leader, false);
    cluster_run_for(&r->c, 100);
    rig_settle(r);
    assert_int_equal(zab_leader(&r->c), (int)f1); /* The longer log wins. */
    assert_true(has_path(r, f1, "/majority"));
    assert_true(has_path(r, f2, "/majority"));
    assert_int_equal(cluster_restart(&r->c, leader), COORD_OK);
    rig_settle(r);
    assert_true(has_path(r, leader, "/majority"));
    rig_free(r);
}

/* ---- catching up ------------------------------------------------------------------------- */

static const struct cluster_trace *last_sync_to(struct rig *r, unsigned leader, unsigned learner)
{
    const struct cluster_node *n = &r->c.nodes[leader];
    for (size_t i = n->trace_count; i-- > 0;) {
        if (n->traces[i].type == COORD_TRACE_SYNC && n->traces[i].a == (int64_t)learner + 1) {
            return &n->traces[i];
        }
    }
    return NULL;
}

static void check_catch_up(uint32_t snap_count, int writes, int64_t kind)
{
    struct rig *r = rig_new(3, 0, 5);
    r->cfg.snap_count = snap_count;
    cluster_close(&r->c);
    assert_int_equal(cluster_init(&r->c, 3, 5, &r->cfg), COORD_OK);
    zab_checks_init(&r->z, &r->c);
    rig_settle(r);
    unsigned leader = (unsigned)zab_leader(&r->c);
    unsigned behind = other_than(leader, leader, 3);
    unsigned other = other_than(leader, behind, 3);
    cluster_crash(&r->c, behind);
    struct cluster_client *cl = rig_client(r, other);
    char path[32];
    for (int i = 0; i < writes; i++) {
        snprintf(path, sizeof path, "/n%d", i);
        assert_int_equal(rig_create(r, cl, path), COORD_OK);
    }
    assert_int_equal(cluster_restart(&r->c, behind), COORD_OK);
    rig_settle(r);
    const struct cluster_trace *t = last_sync_to(r, leader, behind);
    assert_non_null(t);
    assert_int_equal(t->b, kind);
    assert_true(has_path(r, behind, path));
    assert_int_equal(cluster_digest(&r->c, behind), cluster_digest(&r->c, leader));
    rig_free(r);
}

static void test_follower_behind_within_the_history_catches_up_by_diff(void **state)
{
    (void)state;
    check_catch_up(100000, 50, 0);
}

static void test_follower_behind_the_history_catches_up_by_snapshot(void **state)
{
    (void)state;
    check_catch_up(16, 100, 2); /* History holds max(16, snapCount) = 16 txns. */
}

/* ---- partitions ---------------------------------------------------------------------------- */

static void test_isolated_leader_steps_down_and_truncates_its_tail_on_heal(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 6);
    rig_settle(r);
    unsigned old = (unsigned)zab_leader(&r->c);
    struct cluster_client *cl = rig_client(r, old);
    assert_int_equal(rig_create(r, cl, "/before"), COORD_OK);
    int64_t epoch = epoch_of(r, old);
    char groups[8];
    snprintf(groups, sizeof groups, "%u|%u%u", old, other_than(old, old, 3),
             other_than(old, other_than(old, old, 3), 3));
    cluster_partition(&r->c, groups);
    /* A write on the isolated leader is logged there and never acknowledged. */
    int rc = rig_create(r, cl, "/isolated");
    assert_int_not_equal(rc, COORD_OK);
    assert_false(zab_checks_info(&r->c, old).serving);
    const struct cluster_trace *t = cluster_trace_last(&r->c, old, COORD_TRACE_ROLE);
    assert_int_equal(t->a, COORD_ROLE_LOOKING);
    /* The majority elects a new leader in a later epoch and goes on. */
    cluster_run_for(&r->c, 1000);
    int fresh = zab_leader(&r->c);
    assert_true(fresh >= 0 && fresh != (int)old);
    assert_true(epoch_of(r, (unsigned)fresh) > epoch);
    struct cluster_client *cl2 = rig_client(r, (unsigned)fresh);
    assert_int_equal(rig_create(r, cl2, "/after"), COORD_OK);
    cluster_heal_all(&r->c);
    rig_settle(r);
    assert_int_equal(zab_checks_info(&r->c, old).role, COORD_ROLE_FOLLOWING);
    t = cluster_trace_last(&r->c, old, COORD_TRACE_TRUNCATED);
    assert_non_null(t);
    assert_true(t->b >= 1);
    for (unsigned i = 0; i < 3; i++) {
        assert_false(has_path(r, i, "/isolated"));
        assert_true(has_path(r, i, "/after"));
    }
    rig_free(r);
}

static void test_minority_never_commits(void **state)
{
    (void)state;
    struct rig *r = rig_new(5, 0, 7);
    rig_settle(r);
    cluster_partition(&r->c, "01|234");
    cluster_run_for(&r->c, 2000);
    coord_zxid before0 = zab_checks_info(&r->c, 0).last_applied;
    coord_zxid before1 = zab_checks_info(&r->c, 1).last_applied;
    struct cluster_client *cl = cluster_client_new(&r->c);
    r->c.call_timeout_ms = 2000;
    (void)cluster_client_connect(&r->c, cl, 0, 6000, 0, NULL);
    cluster_run_for(&r->c, 5000);
    assert_int_equal(zab_checks_info(&r->c, 0).last_applied, before0);
    assert_int_equal(zab_checks_info(&r->c, 1).last_applied, before1);
    assert_false(zab_checks_info(&r->c, 0).serving);
    struct cluster_client *maj = rig_client(r, 2);
    assert_int_equal(rig_create(r, maj, "/majority-side"), COORD_OK);
    cluster_heal_all(&r->c);
    rig_settle(r);
    rig_free(r);
}

/* ---- a rough network ------------------------------------------------------------------------ */

static void test_resets_and_long_delays_lose_no_acknowledged_write(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 8);
    r->c.cut_keeps_prefix = true;
    r->c.call_timeout_ms = 4000;
    rig_settle(r);
    struct cluster_client *cls[3];
    for (unsigned i = 0; i < 3; i++) {
        cls[i] = cluster_client_new(&r->c);
    }
    cluster_set_link_delay(&r->c, 0, 2, 2000, 100);
    char path[32];
    for (int i = 0; i < 60; i++) {
        struct cluster_client *cl = cls[i % 3];
        if (cl->state != CLUSTER_CLIENT_CONNECTED) {
            (void)cluster_client_connect(&r->c, cl, (unsigned)i % 3, 6000, 0, NULL);
        }
        snprintf(path, sizeof path, "/w%d", i);
        (void)rig_create(r, cl, path);
        if (i % 7 == 3) {
            cluster_cut(&r->c, (unsigned)i % 3, (unsigned)(i + 1) % 3);
        }
        if (i % 7 == 5) {
            cluster_heal_all(&r->c);
        }
    }
    assert_true(r->z.acked_count >= 20);
    cluster_heal_all(&r->c);
    cluster_set_link_delay(&r->c, 0, 2, 0, 0);
    rig_settle(r);
    uint64_t d = cluster_digest(&r->c, 0);
    assert_int_equal(cluster_digest(&r->c, 1), d);
    assert_int_equal(cluster_digest(&r->c, 2), d);
    rig_free(r);
}

static void check_drift(bool on_leader, double drift)
{
    struct rig *r = rig_new(3, 0, 9);
    rig_settle(r);
    unsigned leader = (unsigned)zab_leader(&r->c);
    unsigned node = on_leader ? leader : other_than(leader, leader, 3);
    cluster_set_drift(&r->c, node, drift);
    struct cluster_client *cl = rig_client(r, other_than(leader, node, 3));
    char path[32];
    for (int i = 0; i < 40; i++) {
        snprintf(path, sizeof path, "/d%d", i);
        assert_int_equal(rig_create(r, cl, path), COORD_OK);
        cluster_run_for(&r->c, 250); /* 10 s in all: many ping rounds. */
    }
    assert_int_equal(zab_leader(&r->c), (int)leader); /* No spurious election. */
    rig_settle(r);
    assert_true(has_path(r, node, "/d39"));
    rig_free(r);
}

static void test_leader_clock_twenty_percent_fast_or_slow_changes_nothing(void **state)
{
    (void)state;
    check_drift(true, 0.2);
    check_drift(true, -0.2);
}

static void test_follower_clock_twenty_percent_fast_or_slow_changes_nothing(void **state)
{
    (void)state;
    check_drift(false, 0.2);
    check_drift(false, -0.2);
}

static void test_crash_before_the_log_sync_loses_no_acknowledged_write(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 10);
    rig_settle(r);
    unsigned leader = (unsigned)zab_leader(&r->c);
    unsigned slow = other_than(leader, leader, 3);
    cluster_set_sync_manual(&r->c, slow, true);
    struct cluster_client *cl = rig_client(r, leader);
    assert_int_equal(rig_create(r, cl, "/acked"), COORD_OK); /* leader + the other follower */
    assert_true(zab_checks_info(&r->c, slow).last_logged > 0);
    size_t durable = cluster_log_synced_count(&r->c, slow);
    cluster_crash(&r->c, slow); /* Its unsynced copy is gone... */
    cluster_set_sync_manual(&r->c, slow, false);
    assert_int_equal(cluster_restart(&r->c, slow), COORD_OK);
    assert_int_equal(cluster_log_synced_count(&r->c, slow), durable);
    rig_settle(r); /* ...and comes back from the leader. */
    assert_true(has_path(r, slow, "/acked"));
    rig_free(r);
}

/* ---- observers, read-only, sync, sessions ------------------------------------------------------
 */

static void test_observer_serves_but_never_votes(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 1, 11);
    rig_settle(r);
    assert_int_equal(zab_checks_info(&r->c, 3).role, COORD_ROLE_OBSERVING);
    assert_int_equal(zab_checks_info(&r->c, (unsigned)zab_leader(&r->c)).synced_observers, 1);
    struct cluster_client *cl = rig_client(r, 3);
    assert_int_equal(rig_create(r, cl, "/via-observer"), COORD_OK);
    rig_settle(r);
    assert_true(has_path(r, 3, "/via-observer"));
    /* Two voters and the observer are not a quorum. */
    unsigned leader = (unsigned)zab_leader(&r->c);
    cluster_crash(&r->c, other_than(leader, 3, 3));
    cluster_crash(&r->c, leader);
    cluster_run_for(&r->c, 3000);
    assert_int_equal(zab_leader(&r->c), -1);
    assert_false(zab_checks_info(&r->c, 3).serving);
    rig_free(r);
}

static void test_read_only_server_answers_reads_and_refuses_writes(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 12);
    r->cfg.read_only_enabled = true;
    cluster_close(&r->c);
    assert_int_equal(cluster_init(&r->c, 3, 12, &r->cfg), COORD_OK);
    zab_checks_init(&r->z, &r->c);
    rig_settle(r);
    struct cluster_client *w = rig_client(r, 0);
    assert_int_equal(rig_create(r, w, "/seen"), COORD_OK);
    rig_settle(r);
    cluster_partition(&r->c, "0|12");
    cluster_run_for(&r->c, 2000);
    assert_true(zab_checks_info(&r->c, 0).read_only);
    struct cluster_client *ro = cluster_client_new(&r->c);
    ro->read_only = true;
    assert_int_equal(cluster_client_connect(&r->c, ro, 0, 6000, 0, NULL), COORD_OK);
    assert_true(ro->handshake.readonly);
    struct cluster_reply rep;
    assert_int_equal(cluster_get(&r->c, ro, "/seen", false, &rep), COORD_OK);
    assert_string_equal((const char *)rep.data, "v");
    assert_int_equal(cluster_create(&r->c, ro, "/no", "x", 0, NULL), COORD_ENOTREADONLY);
    /* A client that wants a read-write server waits for one. */
    struct cluster_client *rw = cluster_client_new(&r->c);
    r->c.call_timeout_ms = 1000;
    assert_int_not_equal(cluster_client_connect(&r->c, rw, 0, 6000, 0, NULL), COORD_OK);
    cluster_heal_all(&r->c);
    rig_settle(r);
    assert_false(zab_checks_info(&r->c, 0).read_only);
    rig_free(r);
}

static void test_sync_on_a_follower_sees_a_write_made_through_the_leader(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 13);
    rig_settle(r);
    unsigned leader = (unsigned)zab_leader(&r->c);
    unsigned f = other_than(leader, leader, 3);
    struct cluster_client *reader = rig_client(r, f);
    struct cluster_client *writer = rig_client(r, leader);
    cluster_set_link_delay(&r->c, leader, f, 300, 0); /* Commits reach f late. */
    assert_int_equal(rig_create(r, writer, "/fresh"), COORD_OK);
    assert_false(has_path(r, f, "/fresh"));
    struct coord_op op = {.type = COORD_OP_SYNC, .path = {"/fresh", 6}};
    struct cluster_reply rep;
    assert_int_equal(cluster_call(&r->c, reader, &op, &rep), COORD_OK);
    assert_string_equal(rep.path, "/fresh");
    assert_int_equal(cluster_exists(&r->c, reader, "/fresh", false, NULL), COORD_OK);
    cluster_set_link_delay(&r->c, leader, f, 0, 0);
    rig_free(r);
}

static void test_lagging_server_refuses_a_client_that_saw_more(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 14);
    rig_settle(r);
    unsigned leader = (unsigned)zab_leader(&r->c);
    unsigned f = other_than(leader, leader, 3);
    struct cluster_client *cl = rig_client(r, leader);
    cluster_set_link_delay(&r->c, leader, f, 500, 0);
    assert_int_equal(rig_create(r, cl, "/ahead"), COORD_OK);
    assert_true(cl->last_zxid > zab_checks_info(&r->c, f).last_applied);
    cluster_client_close(&r->c, cl);
    r->c.call_timeout_ms = 200;
    assert_int_equal(cluster_client_reconnect(&r->c, cl, f), COORD_ECONNECTIONLOSS);
    cluster_set_link_delay(&r->c, leader, f, 0, 0);
    r->c.call_timeout_ms = CLUSTER_CALL_TIMEOUT_MS;
    rig_settle(r);
    assert_int_equal(cluster_client_reconnect(&r->c, cl, f), COORD_OK);
    rig_free(r);
}

static void test_session_moves_between_servers_and_keeps_its_ephemeral(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 15);
    rig_settle(r);
    struct cluster_client *cl = rig_client(r, 0);
    assert_int_equal(cluster_create(&r->c, cl, "/eph", "e", COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    int64_t session = cl->session_id;
    cluster_client_close(&r->c, cl);
    assert_int_not_equal(zab_leader(&r->c), 1);
    assert_int_equal(cluster_client_reconnect(&r->c, cl, 1), COORD_OK);
    assert_int_equal(cl->session_id, session);
    cluster_client_set_ping(&r->c, cl, 1000); /* Touches reach the leader via follower 2. */
    cluster_run_for(&r->c, 15000);            /* Well past the 6 s timeout. */
    rig_settle(r);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(has_path(r, i, "/eph"));
    }
    rig_free(r);
}

static void test_expired_session_loses_its_ephemeral_everywhere(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 0, 16);
    rig_settle(r);
    struct cluster_client *cl = rig_client(r, 0);
    cluster_client_set_ping(&r->c, cl, 0);
    assert_int_equal(cluster_create(&r->c, cl, "/gone", "e", COORD_MODE_EPHEMERAL, NULL), COORD_OK);
    cluster_client_cut(&r->c, cl);
    cluster_run_for(&r->c, 10000);
    rig_settle(r);
    unsigned leader = (unsigned)zab_leader(&r->c);
    assert_int_equal(cluster_trace_count(&r->c, leader, COORD_TRACE_SESSION_EXPIRED), 1);
    for (unsigned i = 0; i < 3; i++) {
        assert_false(has_path(r, i, "/gone"));
        if (i != leader) {
            assert_int_equal(cluster_trace_count(&r->c, i, COORD_TRACE_SESSION_EXPIRED), 1);
        }
    }
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_servers_elect_the_highest_id_and_replicate),
        cmocka_unit_test(test_five_servers_elect_the_highest_id_and_replicate),
        cmocka_unit_test(test_five_servers_elect_with_one_then_two_down_but_not_three),
        cmocka_unit_test(test_proposal_logged_only_on_the_crashed_leader_is_truncated),
        cmocka_unit_test(test_proposal_logged_on_a_majority_survives_the_leader),
        cmocka_unit_test(test_follower_behind_within_the_history_catches_up_by_diff),
        cmocka_unit_test(test_follower_behind_the_history_catches_up_by_snapshot),
        cmocka_unit_test(test_isolated_leader_steps_down_and_truncates_its_tail_on_heal),
        cmocka_unit_test(test_minority_never_commits),
        cmocka_unit_test(test_resets_and_long_delays_lose_no_acknowledged_write),
        cmocka_unit_test(test_leader_clock_twenty_percent_fast_or_slow_changes_nothing),
        cmocka_unit_test(test_follower_clock_twenty_percent_fast_or_slow_changes_nothing),
        cmocka_unit_test(test_crash_before_the_log_sync_loses_no_acknowledged_write),
        cmocka_unit_test(test_observer_serves_but_never_votes),
        cmocka_unit_test(test_read_only_server_answers_reads_and_refuses_writes),
        cmocka_unit_test(test_sync_on_a_follower_sees_a_write_made_through_the_leader),
        cmocka_unit_test(test_lagging_server_refuses_a_client_that_saw_more),
        cmocka_unit_test(test_session_moves_between_servers_and_keeps_its_ephemeral),
        cmocka_unit_test(test_expired_session_loses_its_ephemeral_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
