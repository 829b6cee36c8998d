/* The deterministic fixture itself: event order, clocks, the network between
 * servers, disks, crashes. The servers here are standalone, so they ignore
 * peer traffic; messages are injected through a node's env as its core would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define SEED 7

static int setup1(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_int_equal(cluster_init(c, 1, cluster_seed(SEED), NULL), COORD_OK);
    *state = c;
    return 0;
}

static int setup3(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_int_equal(cluster_init(c, 3, cluster_seed(SEED), NULL), COORD_OK);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct cluster *c = *state;
    for (unsigned i = 0; i < c->node_count; i++) {
        assert_int_equal(c->nodes[i].step_errors, 0);
    }
    cluster_close(c);
    free(c);
    return 0;
}

/* Fire every event due at the current time (the boot ticks and PEER_UPs). */
static void drain_now(struct cluster *c)
{
    while (cluster_next_at(c) <= c->now_ms) {
        cluster_step(c);
    }
}

/* As node `from`'s core would: send one message to node index `to`. */
static void send_msg(struct cluster *c, unsigned from, unsigned to, const char *text)
{
    struct coord_env *env = &c->nodes[from].env;
    env->peer_send(env->ctx, to + 1, text, strlen(text));
}

static void wake_at(struct cluster *c, unsigned node, coord_time_ms deadline)
{
    struct coord_env *env = &c->nodes[node].env;
    env->wake_at(env->ctx, deadline);
}

static void expect_fired(struct cluster *c,
                         enum cluster_event_kind kind,
                         unsigned node,
                         unsigned from,
                         int64_t at_ms)
{
    assert_true(cluster_step(c));
    assert_int_equal(c->last.kind, kind);
    assert_int_equal(c->last.node, node);
    assert_int_equal(c->last.from, from);
    assert_int_equal(c->last.at_ms, at_ms);
}

static void expect_message(struct cluster *c,
                           unsigned from,
                           unsigned to,
                           int64_t at_ms,
                           const char *text)
{
    expect_fired(c, CLUSTER_EV_PEER_MESSAGE, to, from, at_ms);
    assert_int_equal(c->last.len, strlen(text));
    assert_memory_equal(c->last.head, text, strlen(text));
}

/* ---- order ----------------------------------------------------------------------------------- */

static void test_boot_ticks_then_peer_ups_in_node_order(void **state)
{
    struct cluster *c = *state;
    expect_fired(c, CLUSTER_EV_TIMER, 0, 0, 0);
    expect_fired(c, CLUSTER_EV_TIMER, 1, 1, 0);
    expect_fired(c, CLUSTER_EV_TIMER, 2, 2, 0);
    expect_fired(c, CLUSTER_EV_PEER_UP, 0, 1, 0);
    expect_fired(c, CLUSTER_EV_PEER_UP, 0, 2, 0);
    expect_fired(c, CLUSTER_EV_PEER_UP, 1, 0, 0);
    expect_fired(c, CLUSTER_EV_PEER_UP, 1, 2, 0);
    expect_fired(c, CLUSTER_EV_PEER_UP, 2, 0, 0);
    expect_fired(c, CLUSTER_EV_PEER_UP, 2, 1, 0);
    assert_false(cluster_step(c));
    assert_int_equal(c->steps, 9);
}

static void test_tie_goes_to_timer_then_lower_node_then_insertion(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    /* All due at t = 1: messages to nodes 2 and 1 (in that insertion order),
     * a second message to node 1, and node 2's timer. */
    send_msg(c, 0, 2, "to2");
    send_msg(c, 0, 1, "to1a");
    send_msg(c, 2, 1, "to1b");
    wake_at(c, 2, 1);
    expect_fired(c, CLUSTER_EV_TIMER, 2, 2, 1);
    expect_message(c, 0, 1, 1, "to1a");
    expect_message(c, 2, 1, 1, "to1b");
    expect_message(c, 0, 2, 1, "to2");
    assert_false(cluster_step(c));
}

static void test_wake_at_replaces_the_previous_deadline(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    wake_at(c, 0, 500);
    wake_at(c, 0, 300);
    expect_fired(c, CLUSTER_EV_TIMER, 0, 0, 300);
    assert_false(cluster_step(c));
}

/* ---- clocks ---------------------------------------------------------------------------------- */

static void test_fast_clock_fires_timer_early_in_global_time(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    cluster_run_for(c, 100);
    cluster_set_drift(c, 0, 0.25); /* From t = 100 on, node time = 100 + 1.25 (t - 100). */
    assert_int_equal(cluster_node_time(c, 0, 100), 100);
    assert_int_equal(cluster_node_time(c, 0, 900), 1100);
    wake_at(c, 0, 1100);
    expect_fired(c, CLUSTER_EV_TIMER, 0, 0, 900);
    assert_int_equal(c->last.node_ms, 1100);
    /* A deadline between two global milliseconds fires at the later one. */
    wake_at(c, 0, 1102); /* 1101.25 at t = 901, 1102.5 at t = 902. */
    expect_fired(c, CLUSTER_EV_TIMER, 0, 0, 902);
    assert_int_equal(c->last.node_ms, 1102);
}

static void test_slow_clock_fires_timer_late_in_global_time(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    cluster_set_drift(c, 0, -0.5);
    wake_at(c, 0, 1000);
    expect_fired(c, CLUSTER_EV_TIMER, 0, 0, 2000);
    assert_int_equal(c->last.node_ms, 1000);
}

static void test_clock_jumps_move_a_pending_timer(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    wake_at(c, 0, 1000);
    cluster_clock_jump(c, 0, 400); /* The deadline is now 600 ms away. */
    assert_int_equal(cluster_next_at(c), 600);
    cluster_clock_jump(c, 0, -900); /* Now 1500 ms away. */
    expect_fired(c, CLUSTER_EV_TIMER, 0, 0, 1500);
    assert_int_equal(c->last.node_ms, 1000);
    /* A deadline the clock has passed fires at once. */
    cluster_clock_jump(c, 0, 5000);
    wake_at(c, 0, 2000);
    expect_fired(c, CLUSTER_EV_TIMER, 0, 0, 1500);
    assert_int_equal(c->last.node_ms, 6000);
}

/* ---- the network between servers ------------------------------------------------------------- */

static void test_link_delay_never_reorders(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    cluster_set_link_delay(c, 0, 1, 10, 0);
    send_msg(c, 0, 1, "m1"); /* 0 + 1 + 10 */
    cluster_set_link_delay(c, 0, 1, 0, 0);
    send_msg(c, 0, 1, "m2"); /* 0 + 1, but not before m1 */
    send_msg(c, 1, 0, "r1"); /* The other direction is its own FIFO. */
    expect_message(c, 1, 0, 1, "r1");
    expect_message(c, 0, 1, 11, "m1");
    expect_message(c, 0, 1, 11, "m2");
    assert_int_equal(c->links[0][1].sent, 2);
    assert_int_equal(c->links[0][1].delivered, 2);
    assert_int_equal(c->links[0][1].dropped, 0);
}

struct delivery_log
{
    int count;
    char heads[64][4];
    int64_t at_ms[64];
};

static void log_delivery(struct cluster *c, void *arg)
{
    struct delivery_log *log = arg;
    if (c->last.kind == CLUSTER_EV_PEER_MESSAGE && log->count < 64) {
        memcpy(log->heads[log->count], c->last.head, 2);
        log->at_ms[log->count++] = c->last.at_ms;
    }
}

static void test_link_jitter_keeps_fifo(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    struct delivery_log log;
    memset(&log, 0, sizeof log);
    c->invariant = log_delivery;
    c->invariant_arg = &log;
    cluster_set_link_delay(c, 0, 1, 0, 20);
    char text[16];
    for (int i = 0; i < 50; i++) {
        snprintf(text, sizeof text, "%02d", i);
        send_msg(c, 0, 1, text);
        cluster_run_for(c, (i % 3) == 0 ? 1 : 0);
    }
    cluster_run_for(c, 100);
    c->invariant = NULL;
    assert_int_equal(log.count, 50);
    bool some_wait = false; /* Jitter made some message wait for an earlier one. */
    for (int i = 0; i < 50; i++) {
        snprintf(text, sizeof text, "%02d", i);
        assert_memory_equal(log.heads[i], text, 2);
        if (i > 0) {
            assert_true(log.at_ms[i] >= log.at_ms[i - 1]);
            some_wait |= log.at_ms[i] == log.at_ms[i - 1];
        }
    }
    assert_true(some_wait);
    assert_int_equal(c->links[0][1].delivered, 50);
}

static void test_cut_loses_inflight_and_reports_peer_down(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    send_msg(c, 0, 1, "a");
    send_msg(c, 0, 1, "b");
    send_msg(c, 1, 0, "c");
    send_msg(c, 0, 2, "d");
    cluster_cut(c, 0, 1);
    assert_false(cluster_connected(c, 0, 1));
    send_msg(c, 0, 1, "e"); /* Sent while cut: dropped at once. */
    expect_fired(c, CLUSTER_EV_PEER_DOWN, 0, 1, 0);
    expect_fired(c, CLUSTER_EV_PEER_DOWN, 1, 0, 0);
    expect_message(c, 0, 2, 1, "d");
    assert_false(cluster_step(c));
    assert_int_equal(c->links[0][1].sent, 3);
    assert_int_equal(c->links[0][1].dropped, 3);
    assert_int_equal(c->links[0][1].delivered, 0);
    assert_int_equal(c->links[1][0].dropped, 1);
    cluster_heal(c, 0, 1);
    send_msg(c, 0, 1, "f");
    expect_fired(c, CLUSTER_EV_PEER_UP, 0, 1, 1);
    expect_fired(c, CLUSTER_EV_PEER_UP, 1, 0, 1);
    expect_message(c, 0, 1, 2, "f");
    assert_int_equal(c->links[0][1].delivered, 1);
}

static void test_cut_keeping_a_prefix_delivers_it_before_peer_down(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    c->cut_keeps_prefix = true;
    const char *msgs[] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"};
    for (int i = 0; i < 8; i++) {
        send_msg(c, 0, 1, msgs[i]);
    }
    cluster_cut(c, 0, 1);
    uint64_t dropped = c->links[0][1].dropped;
    uint64_t kept = 8 - dropped;
    expect_fired(c, CLUSTER_EV_PEER_DOWN, 0, 1, 0); /* Node 0 goes first at equal times. */
    for (uint64_t i = 0; i < kept; i++) {
        expect_message(c, 0, 1, 0, msgs[i]); /* Already received: delivered now. */
    }
    expect_fired(c, CLUSTER_EV_PEER_DOWN, 1, 0, 0);
    assert_false(cluster_step(c));
    assert_int_equal(c->links[0][1].delivered, kept);
    /* The same seed keeps the same prefix. */
    struct cluster *d = calloc(1, sizeof *d);
    assert_int_equal(cluster_init(d, 3, c->seed, NULL), COORD_OK);
    drain_now(d);
    d->cut_keeps_prefix = true;
    for (int i = 0; i < 8; i++) {
        send_msg(d, 0, 1, msgs[i]);
    }
    cluster_cut(d, 0, 1);
    assert_int_equal(d->links[0][1].dropped, dropped);
    cluster_close(d);
    free(d);
}

static void test_partition_cuts_only_across_groups(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    cluster_partition(c, "01|2");
    assert_true(cluster_connected(c, 0, 1));
    assert_false(cluster_connected(c, 0, 2));
    assert_false(cluster_connected(c, 1, 2));
    drain_now(c); /* Four PEER_DOWNs. */
    send_msg(c, 0, 1, "in");
    send_msg(c, 0, 2, "across");
    send_msg(c, 2, 1, "across");
    expect_message(c, 0, 1, 1, "in");
    assert_false(cluster_step(c));
    assert_int_equal(c->links[0][2].dropped, 1);
    assert_int_equal(c->links[2][1].dropped, 1);
    assert_int_equal(c->links[0][2].delivered + c->links[2][0].delivered, 0);
    cluster_partition(c, "0|1|2");
    assert_false(cluster_connected(c, 0, 1));
    cluster_heal_all(c);
    assert_true(cluster_connected(c, 0, 2));
}

static void test_block_drops_one_direction_silently(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    cluster_block(c, 0, 1, true);
    send_msg(c, 0, 1, "lost");
    send_msg(c, 1, 0, "back");
    expect_message(c, 1, 0, 1, "back");
    assert_false(cluster_step(c)); /* No PEER_DOWN anywhere. */
    assert_int_equal(c->links[0][1].dropped, 1);
    assert_true(cluster_connected(c, 0, 1));
    cluster_block(c, 0, 1, false);
    send_msg(c, 0, 1, "ok");
    expect_message(c, 0, 1, 2, "ok");
}

static void test_crash_drops_the_nodes_events_and_its_links(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    send_msg(c, 0, 1, "to-crashed");
    send_msg(c, 1, 2, "from-crashed");
    send_msg(c, 2, 0, "unrelated");
    wake_at(c, 1, 50);
    cluster_crash(c, 1);
    assert_false(c->nodes[1].up);
    expect_fired(c, CLUSTER_EV_PEER_DOWN, 0, 1, 0);
    expect_fired(c, CLUSTER_EV_PEER_DOWN, 2, 1, 0);
    expect_message(c, 2, 0, 1, "unrelated");
    assert_false(cluster_step(c));
    assert_int_equal(c->links[0][1].dropped, 1);
    assert_int_equal(c->links[1][2].dropped, 1);
    assert_int_equal(cluster_restart(c, 1), COORD_OK);
    assert_int_equal(c->nodes[1].starts, 2);
    expect_fired(c, CLUSTER_EV_TIMER, 1, 1, 1); /* The boot tick. */
    expect_fired(c, CLUSTER_EV_PEER_UP, 0, 1, 1);
    expect_fired(c, CLUSTER_EV_PEER_UP, 1, 0, 1);
    expect_fired(c, CLUSTER_EV_PEER_UP, 1, 2, 1);
    expect_fired(c, CLUSTER_EV_PEER_UP, 2, 1, 1);
    assert_false(cluster_step(c));
}

/* ---- disks ----------------------------------------------------------------------------------- */

static void append_raw(struct cluster *c, unsigned node, uint64_t token)
{
    struct coord_env *env = &c->nodes[node].env;
    uint8_t rec[4] = {1, 2, 3, (uint8_t)token};
    env->log_append(env->ctx, rec, sizeof rec, token);
}

static void test_appends_during_a_sync_share_the_next_sync(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    cluster_set_sync_delay(c, 0, 10);
    append_raw(c, 0, 1);
    cluster_run_for(c, 4);
    append_raw(c, 0, 2);
    append_raw(c, 0, 3);
    expect_fired(c, CLUSTER_EV_SYNC, 0, 0, 10);
    assert_int_equal(c->last.token, 3);
    assert_int_equal(c->nodes[0].disk.syncs, 1);
    assert_int_equal(cluster_log_synced_count(c, 0), 3);
    assert_int_equal(c->nodes[0].disk.log[0].zxid, -1); /* Not a transaction. */
    append_raw(c, 0, 4);
    expect_fired(c, CLUSTER_EV_SYNC, 0, 0, 20);
    assert_int_equal(c->last.token, 4);
    assert_int_equal(c->nodes[0].disk.syncs, 2);
}

static void test_manual_sync_waits_for_the_test(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    cluster_set_sync_manual(c, 0, true);
    append_raw(c, 0, 1);
    append_raw(c, 0, 2);
    cluster_run_for(c, 1000);
    assert_int_equal(cluster_log_synced_count(c, 0), 0);
    cluster_sync(c, 0);
    expect_fired(c, CLUSTER_EV_SYNC, 0, 0, 1000);
    assert_int_equal(c->last.token, 2);
    assert_int_equal(cluster_log_synced_count(c, 0), 2);
    cluster_sync(c, 0); /* Nothing new: nothing queued. */
    assert_false(cluster_step(c));
}

static bool has_reply(const struct cluster *c, void *arg)
{
    (void)c;
    return ((struct cluster_client *)arg)->reply_count > 0;
}

static void test_crash_loses_unsynced_tail_keeps_synced_prefix(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    cluster_set_sync_manual(c, 0, true);
    cluster_client_open(c, cl, 0, 30000, 0, NULL);
    cluster_run_for(c, 5);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTING); /* createSession awaits its sync. */
    cluster_sync(c, 0);
    cluster_run_for(c, 5);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CONNECTED);
    struct coord_op a = cluster_op_create("/a", "1", 0);
    struct coord_op b = cluster_op_create("/b", "2", 0);
    cluster_client_send(c, cl, CLUSTER_XID_NEXT, &a);
    cluster_client_send(c, cl, CLUSTER_XID_NEXT, &b);
    cluster_run_for(c, 5);
    cluster_sync(c, 0);
    assert_true(cluster_step_until(c, has_reply, cl, 100));
    cluster_run_for(c, 5);
    assert_int_equal(cl->reply_count, 2);
    struct coord_op x = cluster_op_create("/x", "3", 0);
    struct coord_op y = cluster_op_create("/y", "4", 0);
    cluster_client_send(c, cl, CLUSTER_XID_NEXT, &x);
    cluster_client_send(c, cl, CLUSTER_XID_NEXT, &y);
    cluster_run_for(c, 5);
    assert_int_equal(c->nodes[0].disk.log_count, 5);
    assert_int_equal(cluster_log_synced_count(c, 0), 3);

    cluster_crash(c, 0);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CLOSED);
    assert_int_equal(cl->lost, 2);
    assert_int_equal(c->nodes[0].disk.log_count, 3);
    assert_int_equal(cluster_restart(c, 0), COORD_OK);
    const struct coord_tree *t = &c->nodes[0].server.tree;
    assert_non_null(coord_tree_get(t, "/a", 2));
    assert_non_null(coord_tree_get(t, "/b", 2));
    assert_null(coord_tree_get(t, "/x", 2));
    assert_null(coord_tree_get(t, "/y", 2));
    assert_int_equal(t->last_zxid, 3);
    const struct cluster_trace *rec = cluster_trace_last(c, 0, COORD_TRACE_RECOVERED);
    assert_non_null(rec);
    assert_int_equal(rec->a, 3);
    assert_int_equal(rec->b, 3);
}

static void append_txn(struct cluster *c, unsigned node, coord_zxid zxid)
{
    struct coord_txn txn;
    memset(&txn, 0, sizeof txn);
    txn.type = COORD_OP_ERROR;
    txn.err = COORD_ENONODE;
    txn.zxid = zxid;
    struct coord_buf b;
    coord_buf_init(&b);
    coord_txn_encode(&txn, &b);
    struct coord_env *env = &c->nodes[node].env;
    env->log_append(env->ctx, b.data, b.len, (uint64_t)zxid);
    coord_buf_free(&b);
}

static void test_log_truncate_drops_records_after_the_zxid(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    for (coord_zxid z = 1; z <= 5; z++) {
        append_txn(c, 0, z);
    }
    struct cluster_disk *d = &c->nodes[0].disk;
    assert_int_equal(d->log[4].zxid, 5);
    struct coord_env *env = &c->nodes[0].env;
    env->log_truncate(env->ctx, 3);
    assert_int_equal(d->log_count, 3);
    assert_int_equal(d->log[2].zxid, 3);
    assert_int_equal(d->truncates, 1);
}

static void test_meta_record_is_durable_only_once_synced(void **state)
{
    struct cluster *c = *state;
    drain_now(c);
    cluster_set_sync_manual(c, 0, true);
    struct coord_env *env = &c->nodes[0].env;
    env->meta_write(env->ctx, "epoch=1", 7, 1);
    cluster_sync(c, 0);
    expect_fired(c, CLUSTER_EV_SYNC, 0, 0, 0);
    assert_int_equal(c->last.token, 1);
    env->meta_write(env->ctx, "epoch=2", 7, 2);
    struct cluster_disk *d = &c->nodes[0].disk;
    assert_memory_equal(d->meta, "epoch=1", 7);
    cluster_crash(c, 0); /* The second write never synced. */
    assert_int_equal(d->meta_len, 7);
    assert_memory_equal(d->meta, "epoch=1", 7);
    assert_false(d->meta_pending_set);
    /* Tokens are per incarnation: the restarted server counts from 1 again. */
    assert_int_equal(d->last_token, 0);
    assert_int_equal(d->synced_token, 0);
}

static void test_client_cut_loses_bytes_in_flight_both_ways(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, cl, 0, 30000, 0, NULL), COORD_OK);
    struct coord_op op = cluster_op_create("/never", NULL, 0);
    cluster_client_send(c, cl, CLUSTER_XID_NEXT, &op);
    cluster_client_cut(c, cl);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CLOSED);
    assert_false(cl->closed_by_server);
    assert_int_equal(cl->lost, 1);
    expect_fired(c, CLUSTER_EV_CONN_CLOSED, 0, 0, c->now_ms);
    cluster_run_for(c, 100);
    assert_null(coord_tree_get(&c->nodes[0].server.tree, "/never", 6));
    /* The session outlives its connection. */
    assert_int_equal(coord_sessions_count(&c->nodes[0].server.sessions), 1);
    assert_int_equal(cluster_client_reconnect(c, cl, 0), COORD_OK);
}

static void test_client_to_a_crashed_node_is_refused(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    cluster_crash(c, 0);
    assert_int_equal(cluster_client_connect(c, cl, 0, 30000, 0, NULL), COORD_ECONNECTIONLOSS);
    assert_int_equal(cl->state, CLUSTER_CLIENT_CLOSED);
    assert_int_equal(cl->handshake_len, 0);
}

static void count_steps(struct cluster *c, void *arg)
{
    (void)c;
    (*(int *)arg)++;
}

static void test_invariant_hook_runs_after_every_step(void **state)
{
    struct cluster *c = *state;
    int calls = 0;
    c->invariant = count_steps;
    c->invariant_arg = &calls;
    struct cluster_client *cl = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, cl, 0, 30000, 0, NULL), COORD_OK);
    assert_int_equal(calls, (int)c->steps);
    assert_true(calls >= 4); /* Boot, open, data, sync, reply. */
    c->invariant = NULL;
}

static void test_agreement_holds_across_crash_and_log_replay(void **state)
{
    struct cluster *c = *state;
    struct cluster_client *cl = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, cl, 0, 30000, 0, NULL), COORD_OK);
    char path[32];
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "/a%d", i);
        assert_int_equal(cluster_create(c, cl, path, "x", 0, NULL), COORD_OK);
    }
    char why[256] = "";
    assert_true(cluster_check_agreement(c, why, sizeof why));
    cluster_crash(c, 0);
    assert_int_equal(cluster_restart(c, 0), COORD_OK); /* Replays the same log. */
    cluster_run_for(c, 10);
    struct cluster_client *again = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, again, 0, 30000, 0, NULL), COORD_OK);
    assert_int_equal(cluster_create(c, again, "/after", "y", 0, NULL), COORD_OK);
    assert_true(cluster_check_agreement(c, why, sizeof why));
    assert_string_equal(why, "");
}

static void test_agreement_catches_two_servers_applying_different_txns(void **state)
{
    struct cluster *c = *state;
    /* Three standalone servers that do not replicate: each gives zxid 0x1 to
     * its own createSession, so the checker must object. */
    struct cluster_client *a = cluster_client_new(c);
    struct cluster_client *b = cluster_client_new(c);
    assert_int_equal(cluster_client_connect(c, a, 0, 30000, 0, NULL), COORD_OK);
    char why[256] = "";
    assert_true(cluster_check_agreement(c, why, sizeof why));
    assert_int_equal(cluster_client_connect(c, b, 1, 30000, 0, NULL), COORD_OK);
    assert_false(cluster_check_agreement(c, why, sizeof why));
    assert_non_null(strstr(why, "node 1 and node 2 applied different transactions at zxid 0x1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_agreement_holds_across_crash_and_log_replay, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agreement_catches_two_servers_applying_different_txns,
                                        setup3, teardown),
        cmocka_unit_test_setup_teardown(test_boot_ticks_then_peer_ups_in_node_order, setup3,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tie_goes_to_timer_then_lower_node_then_insertion,
                                        setup3, teardown),
        cmocka_unit_test_setup_teardown(test_wake_at_replaces_the_previous_deadline, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fast_clock_fires_timer_early_in_global_time, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slow_clock_fires_timer_late_in_global_time, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_clock_jumps_move_a_pending_timer, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_link_delay_never_reorders, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_link_jitter_keeps_fifo, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_cut_loses_inflight_and_reports_peer_down, setup3,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cut_keeping_a_prefix_delivers_it_before_peer_down,
                                        setup3, teardown),
        cmocka_unit_test_setup_teardown(test_partition_cuts_only_across_groups, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_block_drops_one_direction_silently, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_crash_drops_the_nodes_events_and_its_links, setup3,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_appends_during_a_sync_share_the_next_sync, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_manual_sync_waits_for_the_test, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_crash_loses_unsynced_tail_keeps_synced_prefix, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_truncate_drops_records_after_the_zxid, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_meta_record_is_durable_only_once_synced, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_cut_loses_bytes_in_flight_both_ways, setup1,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_to_a_crashed_node_is_refused, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_invariant_hook_runs_after_every_step, setup1,
                                        teardown),
    };
    print_message("test_fixture: seed %llu (set COORD_SEED to change it)\n",
                  (unsigned long long)cluster_seed(SEED));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
