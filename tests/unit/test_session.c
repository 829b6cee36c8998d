/* The session tracker: tick buckets, touches, expiry under clock jumps, ids,
 * passwords, timeout negotiation and snapshots (zk-wire §4.3-4.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_heap.h"

#include <stdlib.h>
#include <string.h>

#include "coord/session.h"

#define TICK_MS 2000
#define SECRET UINT64_C(0xfeedfacecafebeef)

static void tracker_init(struct coord_sessions *s)
{
    assert_int_equal(coord_sessions_init(s, TICK_MS, 1, 1, SECRET), COORD_OK);
}

/* ---- allocation failure injection --------------------------------------------------- */

/* ---- init ----------------------------------------------------------------------------- */

static void test_init_rejects_bad_tick_and_server_id(void **state)
{
    (void)state;
    struct coord_sessions s;
    assert_int_equal(coord_sessions_init(&s, 0, 1, 1, SECRET), COORD_EBADARGUMENTS);
    coord_sessions_close(&s);
    assert_int_equal(coord_sessions_init(&s, -2000, 1, 1, SECRET), COORD_EBADARGUMENTS);
    coord_sessions_close(&s);
    assert_int_equal(coord_sessions_init(&s, TICK_MS, 0, 1, SECRET), COORD_EBADARGUMENTS);
    coord_sessions_close(&s);
    assert_int_equal(coord_sessions_init(&s, TICK_MS, 128, 1, SECRET), COORD_EBADARGUMENTS);
    coord_sessions_close(&s);
    assert_int_equal(coord_sessions_init(&s, TICK_MS, 127, 1, SECRET), COORD_OK);
    assert_int_equal(coord_sessions_count(&s), 0);
    assert_true(coord_sessions_next_deadline(&s) == INT64_MAX);
    coord_sessions_close(&s);
}

/* ---- buckets and touches --------------------------------------------------------------- */

static void test_expiry_lands_on_next_tick_boundary_after_timeout(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 7, 4000, 100), COORD_OK);
    const struct coord_session *x = coord_sessions_get(&s, 7);
    assert_non_null(x);
    assert_int_equal(x->expires_ms, 6000);
    assert_int_equal(coord_sessions_next_deadline(&s), 6000);

    coord_session_id out[4] = {0};
    assert_int_equal(coord_sessions_expire(&s, 5999, out, 4), 0);
    assert_false(x->closing);
    assert_int_equal(coord_sessions_expire(&s, 6000, out, 4), 1);
    assert_int_equal(out[0], 7);
    assert_true(x->closing);
    /* Expired sessions stay tracked until the caller removes them. */
    assert_int_equal(coord_sessions_count(&s), 1);
    assert_ptr_equal(coord_sessions_get(&s, 7), x);
    assert_true(coord_sessions_next_deadline(&s) == INT64_MAX);
    coord_sessions_remove(&s, 7);
    assert_int_equal(coord_sessions_count(&s), 0);
    assert_null(coord_sessions_get(&s, 7));
    coord_sessions_close(&s);
}

static void test_expiry_exactly_on_boundary_goes_to_following_tick(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    /* now + timeout = 6000 is itself a boundary: the bucket is the next one. */
    assert_int_equal(coord_sessions_add(&s, 7, 4000, 2000), COORD_OK);
    assert_int_equal(coord_sessions_get(&s, 7)->expires_ms, 8000);
    coord_sessions_close(&s);
}

static void test_touch_moves_session_to_later_bucket(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 7, 4000, 0), COORD_OK);
    assert_int_equal(coord_sessions_get(&s, 7)->expires_ms, 6000);
    assert_true(coord_sessions_touch(&s, 7, 2500));
    assert_int_equal(coord_sessions_get(&s, 7)->expires_ms, 8000);
    assert_true(coord_sessions_touch(&s, 7, 3999)); /* Same bucket. */
    assert_int_equal(coord_sessions_get(&s, 7)->expires_ms, 8000);
    assert_int_equal(coord_sessions_next_deadline(&s), 8000);

    coord_session_id out[1] = {0};
    assert_int_equal(coord_sessions_expire(&s, 7999, out, 1), 0);
    assert_int_equal(coord_sessions_expire(&s, 8000, out, 1), 1);
    assert_int_equal(out[0], 7);
    coord_sessions_close(&s);
}

static void test_touch_after_clock_moves_back_moves_to_earlier_bucket(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 7, 4000, 10000), COORD_OK);
    assert_int_equal(coord_sessions_get(&s, 7)->expires_ms, 16000);
    /* ZooKeeper's ExpiryQueue.update moves a session whenever its bucket differs. */
    assert_true(coord_sessions_touch(&s, 7, 1000));
    assert_int_equal(coord_sessions_get(&s, 7)->expires_ms, 6000);
    assert_int_equal(coord_sessions_next_deadline(&s), 6000);
    coord_sessions_close(&s);
}

static void test_touch_unknown_session_returns_false(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_false(coord_sessions_touch(&s, 7, 0));
    assert_false(coord_sessions_touch(&s, 0, 0));
    assert_false(coord_sessions_touch(&s, -7, 0));
    assert_int_equal(coord_sessions_count(&s), 0);
    coord_sessions_close(&s);
}

static void test_closing_session_cannot_be_touched(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 7, 4000, 0), COORD_OK);
    assert_int_equal(coord_sessions_add(&s, 8, 4000, 0), COORD_OK);
    coord_session_id out[2] = {0};
    assert_int_equal(coord_sessions_expire(&s, 6000, out, 2), 2);

    assert_false(coord_sessions_touch(&s, 7, 6000));
    assert_int_equal(coord_sessions_get(&s, 7)->expires_ms, 6000);
    assert_int_equal(coord_sessions_set_timeout(&s, 7, 4000, 6000), COORD_ESESSIONEXPIRED);
    assert_int_equal(coord_sessions_get(&s, 7)->timeout_ms, 4000);
    /* Neither went back into the queue. */
    assert_true(coord_sessions_next_deadline(&s) == INT64_MAX);

    /* A client's own close also stops touches. */
    assert_int_equal(coord_sessions_add(&s, 9, 4000, 6000), COORD_OK);
    assert_true(coord_sessions_set_closing(&s, 9));
    assert_false(coord_sessions_touch(&s, 9, 7000));
    assert_int_equal(coord_sessions_get(&s, 9)->expires_ms, 12000);
    assert_false(coord_sessions_set_closing(&s, 10));
    coord_sessions_close(&s);
}

static void test_client_closed_session_still_expires_if_close_is_lost(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 9, 4000, 0), COORD_OK);
    assert_true(coord_sessions_set_closing(&s, 9));
    assert_int_equal(coord_sessions_next_deadline(&s), 6000);
    coord_session_id out[1] = {0};
    assert_int_equal(coord_sessions_expire(&s, 6000, out, 1), 1);
    assert_int_equal(out[0], 9);
    assert_true(coord_sessions_next_deadline(&s) == INT64_MAX);
    coord_sessions_close(&s);
}

static void test_set_timeout_renegotiates_and_touches(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 7, 4000, 0), COORD_OK);
    assert_int_equal(coord_sessions_set_timeout(&s, 7, 10000, 1000), COORD_OK);
    const struct coord_session *x = coord_sessions_get(&s, 7);
    assert_int_equal(x->timeout_ms, 10000);
    assert_int_equal(x->expires_ms, 12000);
    /* Later touches use the new timeout. */
    assert_true(coord_sessions_touch(&s, 7, 5000));
    assert_int_equal(x->expires_ms, 16000);

    assert_int_equal(coord_sessions_set_timeout(&s, 8, 4000, 0), COORD_EUNKNOWNSESSION);
    assert_int_equal(coord_sessions_set_timeout(&s, 7, 0, 0), COORD_EBADARGUMENTS);
    assert_int_equal(coord_sessions_set_timeout(&s, 7, -1, 0), COORD_EBADARGUMENTS);
    assert_int_equal(x->timeout_ms, 10000);
    assert_int_equal(x->expires_ms, 16000);
    coord_sessions_close(&s);
}

static void test_bucket_follows_floor_for_negative_clock(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 1, 4000, -100), COORD_OK);  /* 3900 */
    assert_int_equal(coord_sessions_add(&s, 2, 1000, -5000), COORD_OK); /* -4000 */
    assert_int_equal(coord_sessions_add(&s, 3, 1000, -5100), COORD_OK); /* -4100 */
    assert_int_equal(coord_sessions_get(&s, 1)->expires_ms, 4000);
    assert_int_equal(coord_sessions_get(&s, 2)->expires_ms, -2000);
    assert_int_equal(coord_sessions_get(&s, 3)->expires_ms, -4000);
    coord_sessions_close(&s);
}

static void test_bucket_saturates_at_end_of_time(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 1, 40000, INT64_MAX - 10), COORD_OK);
    int64_t last = INT64_MAX / TICK_MS * TICK_MS;
    assert_true(coord_sessions_get(&s, 1)->expires_ms == last);
    coord_session_id out[1] = {0};
    assert_int_equal(coord_sessions_expire(&s, INT64_MAX, out, 1), 1);
    assert_int_equal(out[0], 1);
    coord_sessions_close(&s);
}

/* ---- expiry ------------------------------------------------------------------------- */

static void test_clock_jump_forward_expires_all_due_buckets(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 4, 40000, 0), COORD_OK); /* 42000 */
    assert_int_equal(coord_sessions_add(&s, 3, 20000, 0), COORD_OK); /* 22000 */
    assert_int_equal(coord_sessions_add(&s, 2, 10000, 0), COORD_OK); /* 12000 */
    assert_int_equal(coord_sessions_add(&s, 1, 4000, 0), COORD_OK);  /* 6000 */
    assert_int_equal(coord_sessions_next_deadline(&s), 6000);

    /* Half a million ticks at once. */
    coord_session_id out[8] = {0};
    assert_int_equal(coord_sessions_expire(&s, 1000000000, out, 8), 4);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_int_equal(out[2], 3);
    assert_int_equal(out[3], 4);
    assert_true(coord_sessions_next_deadline(&s) == INT64_MAX);
    assert_int_equal(coord_sessions_expire(&s, INT64_MAX, out, 8), 0);
    coord_sessions_close(&s);
}

static void test_clock_jump_backward_still_expires(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 1, 4000, 100000), COORD_OK); /* 106000 */
    /* The clock goes back: a new session lands before the existing bucket. */
    assert_int_equal(coord_sessions_add(&s, 2, 4000, 1000), COORD_OK); /* 6000 */
    assert_int_equal(coord_sessions_next_deadline(&s), 6000);

    coord_session_id out[2] = {0};
    assert_int_equal(coord_sessions_expire(&s, 5999, out, 2), 0);
    assert_int_equal(coord_sessions_expire(&s, 6000, out, 2), 1);
    assert_int_equal(out[0], 2);
    assert_int_equal(coord_sessions_next_deadline(&s), 106000);
    assert_int_equal(coord_sessions_expire(&s, 105999, out, 2), 0);
    assert_int_equal(coord_sessions_expire(&s, 106000, out, 2), 1);
    assert_int_equal(out[0], 1);
    coord_sessions_close(&s);
}

static void test_expire_order_is_by_time_then_id(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 30, 4000, 0), COORD_OK); /* 6000 */
    assert_int_equal(coord_sessions_add(&s, 5, 6000, 0), COORD_OK);  /* 8000 */
    assert_int_equal(coord_sessions_add(&s, 10, 4000, 1), COORD_OK); /* 6000 */
    assert_int_equal(coord_sessions_add(&s, 40, 2000, 0), COORD_OK); /* 4000 */
    assert_int_equal(coord_sessions_add(&s, 20, 4000, 2), COORD_OK); /* 6000 */

    coord_session_id out[8] = {0};
    assert_int_equal(coord_sessions_expire(&s, 10000, out, 8), 5);
    assert_int_equal(out[0], 40);
    assert_int_equal(out[1], 10);
    assert_int_equal(out[2], 20);
    assert_int_equal(out[3], 30);
    assert_int_equal(out[4], 5);
    coord_sessions_close(&s);
}

static void test_expire_stops_at_cap_and_resumes(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    for (coord_session_id id = 1; id <= 5; id++) {
        assert_int_equal(coord_sessions_add(&s, id, 4000, 0), COORD_OK);
    }
    coord_session_id out[2] = {0};
    assert_int_equal(coord_sessions_expire(&s, 6000, out, 2), 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_false(coord_sessions_get(&s, 3)->closing);
    assert_int_equal(coord_sessions_expire(&s, 6000, out, 2), 2);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 4);
    assert_int_equal(coord_sessions_expire(&s, 6000, out, 2), 1);
    assert_int_equal(out[0], 5);
    assert_int_equal(coord_sessions_expire(&s, 6000, NULL, 0), 0);
    coord_sessions_close(&s);
}

static void test_next_deadline_tracks_earliest_pending_bucket(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_true(coord_sessions_next_deadline(&s) == INT64_MAX);
    assert_int_equal(coord_sessions_add(&s, 1, 10000, 0), COORD_OK); /* 12000 */
    assert_int_equal(coord_sessions_add(&s, 2, 4000, 0), COORD_OK);  /* 6000 */
    assert_int_equal(coord_sessions_next_deadline(&s), 6000);
    coord_sessions_remove(&s, 2);
    assert_int_equal(coord_sessions_next_deadline(&s), 12000);
    assert_true(coord_sessions_touch(&s, 1, 20000)); /* 32000 */
    assert_int_equal(coord_sessions_next_deadline(&s), 32000);
    coord_sessions_remove(&s, 1);
    assert_true(coord_sessions_next_deadline(&s) == INT64_MAX);
    coord_sessions_remove(&s, 1); /* Unknown: nothing happens. */
    coord_sessions_remove(&s, 0);
    coord_sessions_close(&s);
}

/* Many sessions with touches and removals: expiry still comes out in (time,
 * id) order and holds exactly the live ones. Session i (1..200) gets timeout
 * 2000 * (1 + i % 7) at time 0; every third is then touched at 5000; every
 * fifth is removed. */
static void test_expiry_order_holds_after_touches_and_removals(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    enum { N = 200 };
    int64_t expect_ms[N + 1];
    for (coord_session_id i = 1; i <= N; i++) {
        int32_t timeout_ms = (int32_t)(2000 * (1 + i % 7));
        assert_int_equal(coord_sessions_add(&s, i, timeout_ms, 0), COORD_OK);
        expect_ms[i] = ((int64_t)timeout_ms / TICK_MS + 1) * TICK_MS;
    }
    for (coord_session_id i = 3; i <= N; i += 3) {
        assert_true(coord_sessions_touch(&s, i, 5000));
        int64_t t = 5000 + 2000 * (1 + i % 7);
        expect_ms[i] = (t / TICK_MS + 1) * TICK_MS;
    }
    for (coord_session_id i = 5; i <= N; i += 5) {
        coord_sessions_remove(&s, i);
    }
    assert_int_equal(coord_sessions_count(&s), N - N / 5);

    coord_session_id out[N];
    size_t n = coord_sessions_expire(&s, INT64_MAX, out, N);
    assert_int_equal(n, N - N / 5);
    for (size_t k = 0; k < n; k++) {
        assert_true(out[k] % 5 != 0);
        assert_int_equal(coord_sessions_get(&s, out[k])->expires_ms, expect_ms[out[k]]);
        if (k > 0) {
            int64_t a = expect_ms[out[k - 1]];
            int64_t b = expect_ms[out[k]];
            assert_true(a < b || (a == b && out[k - 1] < out[k]));
        }
    }
    coord_sessions_close(&s);
}

/* ---- the table --------------------------------------------------------------------- */

static void test_add_rejects_bad_arguments_and_duplicates(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 0, 4000, 0), COORD_EBADARGUMENTS);
    assert_int_equal(coord_sessions_add(&s, -1, 4000, 0), COORD_EBADARGUMENTS);
    assert_int_equal(coord_sessions_add(&s, 7, 0, 0), COORD_EBADARGUMENTS);
    assert_int_equal(coord_sessions_add(&s, 7, -4000, 0), COORD_EBADARGUMENTS);
    assert_int_equal(coord_sessions_add(&s, 7, 4000, 0), COORD_OK);
    assert_int_equal(coord_sessions_add(&s, 7, 8000, 5000), COORD_ENODEEXISTS);
    const struct coord_session *x = coord_sessions_get(&s, 7);
    assert_int_equal(x->timeout_ms, 4000);
    assert_int_equal(x->expires_ms, 6000);
    assert_false(x->closing);
    assert_int_equal(x->conn, 0);
    assert_int_equal(coord_sessions_count(&s), 1);
    coord_sessions_close(&s);
}

static void test_iteration_visits_every_session_once(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    for (coord_session_id id = 1; id <= 40; id++) {
        assert_int_equal(coord_sessions_add(&s, id * 11, 4000, 0), COORD_OK);
    }
    bool seen[41] = {false};
    size_t pos = 0;
    size_t n = 0;
    const struct coord_session *x;
    while (coord_sessions_next(&s, &pos, &x)) {
        assert_int_equal(x->id % 11, 0);
        assert_false(seen[x->id / 11]);
        seen[x->id / 11] = true;
        n++;
    }
    assert_int_equal(n, 40);
    coord_sessions_close(&s);
}

/* ---- negotiation ------------------------------------------------------------------------- */

static void test_negotiate_clamps_to_min_and_max(void **state)
{
    (void)state;
    int32_t min_ms = coord_sessions_min_timeout(TICK_MS, -1);
    int32_t max_ms = coord_sessions_max_timeout(TICK_MS, -1);
    assert_int_equal(min_ms, 4000);
    assert_int_equal(max_ms, 40000);
    assert_int_equal(coord_sessions_negotiate(1, min_ms, max_ms), 4000);
    assert_int_equal(coord_sessions_negotiate(3999, min_ms, max_ms), 4000);
    assert_int_equal(coord_sessions_negotiate(0, min_ms, max_ms), 4000);
    assert_int_equal(coord_sessions_negotiate(-5, min_ms, max_ms), 4000);
    assert_int_equal(coord_sessions_negotiate(100000, min_ms, max_ms), 40000);
    assert_int_equal(coord_sessions_negotiate(30000, min_ms, max_ms), 30000);
    assert_int_equal(coord_sessions_negotiate(4000, min_ms, max_ms), 4000);
    assert_int_equal(coord_sessions_negotiate(40000, min_ms, max_ms), 40000);
}

static void test_timeout_bounds_default_when_unset(void **state)
{
    (void)state;
    assert_int_equal(coord_sessions_min_timeout(TICK_MS, 0), 4000);
    assert_int_equal(coord_sessions_max_timeout(TICK_MS, 0), 40000);
    assert_int_equal(coord_sessions_min_timeout(TICK_MS, 5000), 5000);
    assert_int_equal(coord_sessions_max_timeout(TICK_MS, 60000), 60000);
    assert_int_equal(coord_sessions_min_timeout(INT32_MAX, -1), INT32_MAX);
    assert_int_equal(coord_sessions_max_timeout(INT32_MAX / 10, -1), INT32_MAX);
}

static void test_negotiate_lets_max_win_when_min_exceeds_max(void **state)
{
    (void)state;
    assert_int_equal(coord_sessions_negotiate(100, 5000, 3000), 3000);
    assert_int_equal(coord_sessions_negotiate(9000, 5000, 3000), 3000);
}

/* ---- ids ------------------------------------------------------------------------------- */

static void test_ids_keep_server_id_in_top_byte(void **state)
{
    (void)state;
    struct coord_sessions s;
    /* Only the seed's low 40 bits count, shifted past 16 zero bits. */
    assert_int_equal(coord_sessions_init(&s, TICK_MS, 5, UINT64_C(0xABCDEF123456789A), SECRET),
                     COORD_OK);
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x05123456789A0000));
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x05123456789A0001));
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x05123456789A0002));
    coord_sessions_close(&s);
}

static void test_ids_never_set_top_bit(void **state)
{
    (void)state;
    struct coord_sessions s;
    assert_int_equal(coord_sessions_init(&s, TICK_MS, 127, UINT64_MAX, SECRET), COORD_OK);
    coord_session_id id = coord_sessions_next_id(&s);
    assert_true(id == INT64_C(0x7FFFFFFFFFFF0000));
    for (int i = 1; i < 0x10000; i++) {
        id = coord_sessions_next_id(&s);
        assert_true(id > 0);
        assert_int_equal((uint64_t)id >> 56, 127);
    }
    assert_true(id == INT64_MAX);
    /* The counter wraps within its 56 bits, never into the server byte. */
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x7F00000000000000));
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x7F00000000000001));
    coord_sessions_close(&s);
}

static void test_ids_differ_across_seeds(void **state)
{
    (void)state;
    struct coord_sessions a;
    struct coord_sessions b;
    assert_int_equal(coord_sessions_init(&a, TICK_MS, 1, 1, SECRET), COORD_OK);
    assert_int_equal(coord_sessions_init(&b, TICK_MS, 1, 2, SECRET), COORD_OK);
    assert_true(coord_sessions_next_id(&a) == INT64_C(0x0100000000010000));
    assert_true(coord_sessions_next_id(&b) == INT64_C(0x0100000000020000));
    coord_sessions_close(&a);
    coord_sessions_close(&b);
}

static void test_observe_id_moves_counter_past_own_ids(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s); /* Server 1, next id 0x0100000000010000. */
    coord_sessions_observe_id(&s, INT64_C(0x0100000000010005));
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x0100000000010006));
    /* Another server's id, an id behind the counter, and non-ids: no change. */
    coord_sessions_observe_id(&s, INT64_C(0x0200000000090000));
    coord_sessions_observe_id(&s, INT64_C(0x0100000000000005));
    coord_sessions_observe_id(&s, 0);
    coord_sessions_observe_id(&s, -1);
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x0100000000010007));
    /* Adding a session observes its id. */
    assert_int_equal(coord_sessions_add(&s, INT64_C(0x01000000000100FF), 4000, 0), COORD_OK);
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x0100000000010100));
    coord_sessions_close(&s);
}

static void test_observe_id_sees_ids_past_a_counter_wrap(void **state)
{
    (void)state;
    struct coord_sessions s;
    assert_int_equal(coord_sessions_init(&s, TICK_MS, 1, UINT64_MAX, SECRET), COORD_OK);
    /* The counter is at 0xFFFFFFFFFF0000; an id issued after wrapping is ahead. */
    coord_sessions_observe_id(&s, INT64_C(0x0100000000000005));
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x0100000000000006));
    coord_sessions_close(&s);
}

static void test_next_id_skips_a_tracked_id(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, INT64_C(0x0100000000010000), 4000, 0), COORD_OK);
    /* Pretend the counter came round again to a live id. */
    s.next_low = 0x10000;
    assert_true(coord_sessions_next_id(&s) == INT64_C(0x0100000000010001));
    coord_sessions_close(&s);
}

/* ---- passwords -------------------------------------------------------------------------- */

static void test_password_is_deterministic_per_id_and_secret(void **state)
{
    (void)state;
    struct coord_sessions a;
    struct coord_sessions b;
    struct coord_sessions c;
    /* Different servers of one ensemble share the secret. */
    assert_int_equal(coord_sessions_init(&a, TICK_MS, 1, 1, SECRET), COORD_OK);
    assert_int_equal(coord_sessions_init(&b, 3000, 2, 99, SECRET), COORD_OK);
    assert_int_equal(coord_sessions_init(&c, TICK_MS, 1, 1, SECRET ^ 1), COORD_OK);
    coord_session_id id = INT64_C(0x0100000000010000);
    uint8_t pa[16];
    uint8_t pb[16];
    uint8_t pc[16];
    uint8_t other[16];
    coord_sessions_password(&a, id, pa);
    coord_sessions_password(&b, id, pb);
    coord_sessions_password(&c, id, pc);
    coord_sessions_password(&a, id + 1, other);
    assert_memory_equal(pa, pb, 16);
    assert_memory_not_equal(pa, pc, 16);
    assert_memory_not_equal(pa, other, 16);
    /* Pinned: an ensemble mixing versions must agree on every password. */
    static const uint8_t golden[16] = {0xa7, 0xd6, 0x61, 0x6c, 0x3c, 0xac, 0xf5, 0x6d,
                                       0x22, 0xbd, 0x99, 0x06, 0x8f, 0xdf, 0x5b, 0x94};
    assert_memory_equal(pa, golden, 16);
    coord_sessions_close(&a);
    coord_sessions_close(&b);
    coord_sessions_close(&c);
}

static void test_check_password_needs_exact_16_bytes(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    coord_session_id id = 42;
    uint8_t pw[17] = {0};
    coord_sessions_password(&s, id, pw);
    assert_true(coord_sessions_check_password(&s, id, pw, 16));
    assert_false(coord_sessions_check_password(&s, id, pw, 15));
    assert_false(coord_sessions_check_password(&s, id, pw, 17));
    assert_false(coord_sessions_check_password(&s, id, pw, 0));
    assert_false(coord_sessions_check_password(&s, id, NULL, 16));
    assert_false(coord_sessions_check_password(&s, id + 1, pw, 16));
    assert_false(coord_sessions_check_password(&s, 0, pw, 16));
    for (size_t i = 0; i < 16; i++) {
        pw[i] ^= 0x01;
        assert_false(coord_sessions_check_password(&s, id, pw, 16));
        pw[i] ^= 0x01;
    }
    assert_true(coord_sessions_check_password(&s, id, pw, 16));
    uint8_t zeros[16] = {0};
    assert_false(coord_sessions_check_password(&s, id, zeros, 16));
    coord_sessions_close(&s);
}

/* ---- snapshots ----------------------------------------------------------------------------- */

static void test_snapshot_restore_roundtrip(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 300, 30000, 0), COORD_OK);
    assert_int_equal(coord_sessions_add(&s, 100, 4000, 0), COORD_OK);
    assert_int_equal(coord_sessions_add(&s, INT64_C(0x0100000000020000), 10000, 0), COORD_OK);

    struct coord_buf buf;
    coord_buf_init(&buf);
    assert_int_equal(coord_sessions_snapshot(&s, &buf), COORD_OK);
    static const uint8_t expect[] = {
        0x00, 0x00, 0x00, 0x03,                                                 /* count */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x0f, 0xa0, /* 100 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x00, 0x75, 0x30, /* 300 */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x27, 0x10, /* own */
    };
    assert_int_equal(buf.len, sizeof expect);
    assert_memory_equal(buf.data, expect, sizeof expect);

    /* Restore replaces what the target held and restarts every timer at now. */
    struct coord_sessions t;
    tracker_init(&t);
    assert_int_equal(coord_sessions_add(&t, 555, 4000, 0), COORD_OK);
    struct coord_reader r;
    coord_reader_init(&r, buf.data, buf.len);
    assert_int_equal(coord_sessions_restore(&t, &r, 50000), COORD_OK);
    assert_int_equal(r.pos, buf.len);
    assert_int_equal(coord_sessions_count(&t), 3);
    assert_null(coord_sessions_get(&t, 555));
    assert_int_equal(coord_sessions_get(&t, 100)->timeout_ms, 4000);
    assert_int_equal(coord_sessions_get(&t, 100)->expires_ms, 56000);
    assert_int_equal(coord_sessions_get(&t, 300)->timeout_ms, 30000);
    assert_int_equal(coord_sessions_get(&t, 300)->expires_ms, 82000);
    const struct coord_session *own = coord_sessions_get(&t, INT64_C(0x0100000000020000));
    assert_int_equal(own->timeout_ms, 10000);
    assert_int_equal(own->expires_ms, 62000);
    assert_false(own->closing);
    assert_int_equal(coord_sessions_next_deadline(&t), 56000);
    /* The counter moved past this server's restored id. */
    assert_true(coord_sessions_next_id(&t) == INT64_C(0x0100000000020001));

    /* The restored tracker snapshots to the same bytes. */
    struct coord_buf again;
    coord_buf_init(&again);
    assert_int_equal(coord_sessions_snapshot(&t, &again), COORD_OK);
    assert_int_equal(again.len, buf.len);
    assert_memory_equal(again.data, buf.data, buf.len);

    coord_buf_free(&again);
    coord_buf_free(&buf);
    coord_sessions_close(&t);
    coord_sessions_close(&s);
}

static void test_snapshot_of_empty_tracker_is_a_zero_count(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    struct coord_buf buf;
    coord_buf_init(&buf);
    assert_int_equal(coord_sessions_snapshot(&s, &buf), COORD_OK);
    static const uint8_t expect[] = {0, 0, 0, 0};
    assert_int_equal(buf.len, 4);
    assert_memory_equal(buf.data, expect, 4);
    struct coord_reader r;
    coord_reader_init(&r, buf.data, buf.len);
    assert_int_equal(coord_sessions_restore(&s, &r, 0), COORD_OK);
    assert_int_equal(coord_sessions_count(&s), 0);
    coord_buf_free(&buf);
    coord_sessions_close(&s);
}

static void test_restore_consumes_only_its_section(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {
        0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x07, 0x00, 0x00, 0x0f, 0xa0, 0xAA, 0xBB,
    };
    struct coord_sessions s;
    tracker_init(&s);
    struct coord_reader r;
    coord_reader_init(&r, bytes, sizeof bytes);
    assert_int_equal(coord_sessions_restore(&s, &r, 0), COORD_OK);
    assert_int_equal(r.pos, 16);
    assert_int_equal(coord_sessions_get(&s, 7)->timeout_ms, 4000);
    coord_sessions_close(&s);
}

/* The target holds sessions 1 (touched at 0) and 2 (touched at 1000, then
 * closing); check that nothing about them changed. */
static void target_init(struct coord_sessions *t)
{
    tracker_init(t);
    assert_int_equal(coord_sessions_add(t, 1, 4000, 0), COORD_OK);
    assert_int_equal(coord_sessions_add(t, 2, 10000, 1000), COORD_OK);
    assert_true(coord_sessions_set_closing(t, 2));
}

static void target_assert_unchanged(struct coord_sessions *t)
{
    assert_int_equal(coord_sessions_count(t), 2);
    const struct coord_session *one = coord_sessions_get(t, 1);
    const struct coord_session *two = coord_sessions_get(t, 2);
    assert_non_null(one);
    assert_non_null(two);
    assert_int_equal(one->timeout_ms, 4000);
    assert_int_equal(one->expires_ms, 6000);
    assert_false(one->closing);
    assert_int_equal(two->timeout_ms, 10000);
    assert_int_equal(two->expires_ms, 12000);
    assert_true(two->closing);
    assert_int_equal(coord_sessions_next_deadline(t), 6000);
    assert_true(coord_sessions_next_id(t) == INT64_C(0x0100000000010000));
}

static void test_restore_rejects_truncated_snapshot(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 100, 4000, 0), COORD_OK);
    assert_int_equal(coord_sessions_add(&s, INT64_C(0x0100000000090000), 6000, 0), COORD_OK);
    struct coord_buf buf;
    coord_buf_init(&buf);
    assert_int_equal(coord_sessions_snapshot(&s, &buf), COORD_OK);
    assert_int_equal(buf.len, 28);

    for (size_t len = 0; len < buf.len; len++) {
        struct coord_sessions t;
        target_init(&t);
        struct coord_reader r;
        coord_reader_init(&r, buf.data, len);
        assert_int_equal(coord_sessions_restore(&t, &r, 50000), COORD_ECORRUPT);
        target_assert_unchanged(&t);
        coord_sessions_close(&t);
    }
    coord_buf_free(&buf);
    coord_sessions_close(&s);
}

static void restore_expect_corrupt(const uint8_t *bytes, size_t len)
{
    struct coord_sessions t;
    target_init(&t);
    struct coord_reader r;
    coord_reader_init(&r, bytes, len);
    assert_int_equal(coord_sessions_restore(&t, &r, 50000), COORD_ECORRUPT);
    target_assert_unchanged(&t);
    coord_sessions_close(&t);
}

static void test_restore_rejects_bad_count_duplicate_id_and_bad_values(void **state)
{
    (void)state;
    /* A negative count. */
    static const uint8_t negative_count[] = {0xff, 0xff, 0xff, 0xff};
    restore_expect_corrupt(negative_count, sizeof negative_count);
    /* A count larger than the bytes that follow. */
    static const uint8_t big_count[] = {0x00, 0x00, 0x00, 0x02, 0, 0, 0,    0,
                                        0,    0,    0,    9,    0, 0, 0x0f, 0xa0};
    restore_expect_corrupt(big_count, sizeof big_count);
    static const uint8_t huge_count[] = {0x7f, 0xff, 0xff, 0xff};
    restore_expect_corrupt(huge_count, sizeof huge_count);
    /* The same id twice. */
    static const uint8_t duplicate[] = {
        0,    0,    0, 2, 0, 0, 0, 0, 0, 0, 0, 9, 0,    0,
        0x0f, 0xa0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0x17, 0x70,
    };
    restore_expect_corrupt(duplicate, sizeof duplicate);
    /* Timeouts 0 and -1, ids 0 and -1. */
    static const uint8_t zero_timeout[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0};
    restore_expect_corrupt(zero_timeout, sizeof zero_timeout);
    static const uint8_t negative_timeout[] = {0, 0, 0, 1, 0,    0,    0,    0,
                                               0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff};
    restore_expect_corrupt(negative_timeout, sizeof negative_timeout);
    static const uint8_t zero_id[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f, 0xa0};
    restore_expect_corrupt(zero_id, sizeof zero_id);
    static const uint8_t negative_id[] = {0,    0,    0,    1,    0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0,    0,    0x0f, 0xa0};
    restore_expect_corrupt(negative_id, sizeof negative_id);
}

/* ---- allocation failure -------------------------------------------------------------------- */

static void test_add_out_of_memory_leaves_tracker_consistent(void **state)
{
    (void)state;
    enum { N = 40 };
    bool failed_once = false;
    /* Fail at every allocation in turn (queue growth, the session, map growth). */
    for (long budget = 0; budget < 60; budget++) {
        struct coord_sessions s;
        tracker_init(&s);
        test_heap_fail_after(budget);
        coord_session_id added = 0;
        int rc = COORD_OK;
        while (added < N) {
            rc = coord_sessions_add(&s, added + 1, (int32_t)(2000 * (1 + added % 5)), 0);
            if (rc != COORD_OK) {
                break;
            }
            added++;
        }
        test_heap_restore();
        if (added < N) {
            failed_once = true;
            assert_int_equal(rc, COORD_ENOMEM);
            assert_null(coord_sessions_get(&s, added + 1));
        }
        assert_int_equal(coord_sessions_count(&s), (size_t)added);
        /* The tracker still works: finish the adds and expire everything. */
        for (coord_session_id id = added + 1; id <= N; id++) {
            assert_int_equal(coord_sessions_add(&s, id, (int32_t)(2000 * (1 + (id - 1) % 5)), 0),
                             COORD_OK);
        }
        coord_session_id out[N];
        assert_int_equal(coord_sessions_expire(&s, INT64_MAX, out, N), N);
        for (size_t k = 1; k < N; k++) {
            int64_t a = coord_sessions_get(&s, out[k - 1])->expires_ms;
            int64_t b = coord_sessions_get(&s, out[k])->expires_ms;
            assert_true(a < b || (a == b && out[k - 1] < out[k]));
        }
        coord_sessions_close(&s);
    }
    assert_true(failed_once);
}

static void test_restore_out_of_memory_leaves_tracker_unchanged(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    for (coord_session_id id = 100; id < 130; id++) {
        assert_int_equal(coord_sessions_add(&s, id, 4000, 0), COORD_OK);
    }
    struct coord_buf buf;
    coord_buf_init(&buf);
    assert_int_equal(coord_sessions_snapshot(&s, &buf), COORD_OK);

    int rc = COORD_ENOMEM;
    long budget = 0;
    for (; rc == COORD_ENOMEM; budget++) {
        struct coord_sessions t;
        target_init(&t);
        struct coord_reader r;
        coord_reader_init(&r, buf.data, buf.len);
        test_heap_fail_after(budget);
        rc = coord_sessions_restore(&t, &r, 50000);
        test_heap_restore();
        if (rc == COORD_ENOMEM) {
            target_assert_unchanged(&t);
        } else {
            assert_int_equal(rc, COORD_OK);
            assert_int_equal(coord_sessions_count(&t), 30);
        }
        coord_sessions_close(&t);
    }
    assert_true(budget > 1);
    coord_buf_free(&buf);
    coord_sessions_close(&s);
}

static void test_snapshot_out_of_memory_reports_enomem(void **state)
{
    (void)state;
    struct coord_sessions s;
    tracker_init(&s);
    assert_int_equal(coord_sessions_add(&s, 1, 4000, 0), COORD_OK);
    for (long budget = 0; budget < 2; budget++) {
        struct coord_buf buf;
        coord_buf_init(&buf);
        test_heap_fail_after(budget);
        assert_int_equal(coord_sessions_snapshot(&s, &buf), COORD_ENOMEM);
        test_heap_restore();
        assert_true(buf.failed);
        coord_buf_free(&buf);
    }
    assert_int_equal(coord_sessions_count(&s), 1);
    coord_sessions_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_tick_and_server_id),
        cmocka_unit_test(test_expiry_lands_on_next_tick_boundary_after_timeout),
        cmocka_unit_test(test_expiry_exactly_on_boundary_goes_to_following_tick),
        cmocka_unit_test(test_touch_moves_session_to_later_bucket),
        cmocka_unit_test(test_touch_after_clock_moves_back_moves_to_earlier_bucket),
        cmocka_unit_test(test_touch_unknown_session_returns_false),
        cmocka_unit_test(test_closing_session_cannot_be_touched),
        cmocka_unit_test(test_client_closed_session_still_expires_if_close_is_lost),
        cmocka_unit_test(test_set_timeout_renegotiates_and_touches),
        cmocka_unit_test(test_bucket_follows_floor_for_negative_clock),
        cmocka_unit_test(test_bucket_saturates_at_end_of_time),
        cmocka_unit_test(test_clock_jump_forward_expires_all_due_buckets),
        cmocka_unit_test(test_clock_jump_backward_still_expires),
        cmocka_unit_test(test_expire_order_is_by_time_then_id),
        cmocka_unit_test(test_expire_stops_at_cap_and_resumes),
        cmocka_unit_test(test_next_deadline_tracks_earliest_pending_bucket),
        cmocka_unit_test(test_expiry_order_holds_after_touches_and_removals),
        cmocka_unit_test(test_add_rejects_bad_arguments_and_duplicates),
        cmocka_unit_test(test_iteration_visits_every_session_once),
        cmocka_unit_test(test_negotiate_clamps_to_min_and_max),
        cmocka_unit_test(test_timeout_bounds_default_when_unset),
        cmocka_unit_test(test_negotiate_lets_max_win_when_min_exceeds_max),
        cmocka_unit_test(test_ids_keep_server_id_in_top_byte),
        cmocka_unit_test(test_ids_never_set_top_bit),
        cmocka_unit_test(test_ids_differ_across_seeds),
        cmocka_unit_test(test_observe_id_moves_counter_past_own_ids),
        cmocka_unit_test(test_observe_id_sees_ids_past_a_counter_wrap),
        cmocka_unit_test(test_next_id_skips_a_tracked_id),
        cmocka_unit_test(test_password_is_deterministic_per_id_and_secret),
        cmocka_unit_test(test_check_password_needs_exact_16_bytes),
        cmocka_unit_test(test_snapshot_restore_roundtrip),
        cmocka_unit_test(test_snapshot_of_empty_tracker_is_a_zero_count),
        cmocka_unit_test(test_restore_consumes_only_its_section),
        cmocka_unit_test(test_restore_rejects_truncated_snapshot),
        cmocka_unit_test(test_restore_rejects_bad_count_duplicate_id_and_bad_values),
        cmocka_unit_test(test_add_out_of_memory_leaves_tracker_consistent),
        cmocka_unit_test(test_restore_out_of_memory_leaves_tracker_unchanged),
        cmocka_unit_test(test_snapshot_out_of_memory_reports_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
