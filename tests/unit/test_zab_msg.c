/* ZAB peer messages: round trips, the pinned byte format, and rejection of
 * everything malformed (truncation, unknown type or version, trailing bytes,
 * out-of-range fields), plus a seeded random-bytes sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "coord/election.h"
#include "coord/util.h"
#include "coord/zab_msg.h"

static const uint8_t TXN_BYTES[] = {0xde, 0xad, 0xbe, 0xef, 0x01};
static const uint8_t REQ_BYTES[] = {0x00, 0x00, 0x00, 0x05, 0x11, 0x22};
static const uint8_t SNAP_BYTES[] = {0x53, 0x4e, 0x41};

#define ZXID(epoch, counter) ((coord_zxid)(((uint64_t)(epoch) << 32) | (uint64_t)(counter)))

/* The raw pairs of the sample PING. */
static const uint8_t PING_PAIRS[] = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x75, 0x30, /* 1<<56|7, 30000 */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x0f, 0xa0, /* 2<<56|9, 4000 */
};

/* One message of every type, with distinctive values. */
static size_t sample_messages(struct coord_zab_msg *m)
{
    size_t n = 0;
    memset(m, 0, 16 * sizeof *m);
    m[n].type = COORD_ZAB_FOLLOWERINFO;
    m[n].followerinfo.accepted_epoch = 7;
    m[n].followerinfo.last_zxid = ZXID(6, 0x1234);
    m[n].followerinfo.sid = 3;
    m[n++].followerinfo.observer = true;
    m[n].type = COORD_ZAB_LEADERINFO;
    m[n++].leaderinfo.new_epoch = 8;
    m[n].type = COORD_ZAB_ACKEPOCH;
    m[n].ackepoch.current_epoch = 6;
    m[n++].ackepoch.last_zxid = ZXID(6, 0x1234);
    m[n].type = COORD_ZAB_DIFF;
    m[n++].diff.zxid = ZXID(6, 0x1000);
    m[n].type = COORD_ZAB_TRUNC;
    m[n++].trunc.zxid = ZXID(5, 0x20);
    m[n].type = COORD_ZAB_SNAP;
    m[n].snap.zxid = ZXID(6, 0x999);
    m[n].snap.chunk_index = 2;
    m[n].snap.chunk_count = 5;
    m[n].snap.bytes = SNAP_BYTES;
    m[n++].snap.len = sizeof SNAP_BYTES;
    m[n].type = COORD_ZAB_NEWLEADER;
    m[n++].newleader.zxid = ZXID(8, 0);
    m[n].type = COORD_ZAB_ACK;
    m[n++].ack.zxid = ZXID(8, 1);
    m[n++].type = COORD_ZAB_UPTODATE;
    m[n].type = COORD_ZAB_PROPOSAL;
    m[n].proposal.zxid = ZXID(8, 2);
    m[n].proposal.bytes = TXN_BYTES;
    m[n++].proposal.len = sizeof TXN_BYTES;
    m[n].type = COORD_ZAB_COMMIT;
    m[n++].commit.zxid = ZXID(8, 2);
    m[n].type = COORD_ZAB_INFORM;
    m[n].inform.zxid = ZXID(8, 3);
    m[n].inform.bytes = TXN_BYTES;
    m[n++].inform.len = sizeof TXN_BYTES;
    m[n].type = COORD_ZAB_REQUEST;
    m[n].request.session = (INT64_C(2) << 56) | 9;
    m[n].request.cxid = -2; /* Negative xids exist (ZooKeeper's -1 for notifications). */
    m[n].request.bytes = REQ_BYTES;
    m[n++].request.len = sizeof REQ_BYTES;
    m[n].type = COORD_ZAB_PING;
    m[n].ping.count = 2;
    m[n++].ping.pairs = PING_PAIRS;
    m[n].type = COORD_ZAB_SYNC;
    m[n++].sync.id = UINT64_C(0xfedcba9876543210);
    m[n].type = COORD_ZAB_REVALIDATE;
    m[n].revalidate.session = (INT64_C(1) << 56) | 7;
    m[n].revalidate.timeout_ms = 30000;
    m[n++].revalidate.valid = true;
    return n;
}

static struct coord_buf encode_ok(const struct coord_zab_msg *m)
{
    struct coord_buf b;
    coord_buf_init(&b);
    assert_int_equal(coord_zab_msg_encode(m, &b), COORD_OK);
    return b;
}

/* Decode from a heap copy of exactly len bytes, so ASan sees any over-read. */
static int decode_exact(const uint8_t *bytes, size_t len, struct coord_zab_msg *out)
{
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    assert_non_null(copy);
    if (len > 0) {
        memcpy(copy, bytes, len);
    }
    int rc = coord_zab_msg_decode(copy, len, out);
    free(copy);
    return rc;
}

static void assert_range_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    assert_int_equal(a_len, b_len);
    if (a_len > 0) {
        assert_memory_equal(a, b, a_len);
    }
}

static void assert_msg_equal(const struct coord_zab_msg *a, const struct coord_zab_msg *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
        case COORD_ZAB_FOLLOWERINFO:
            assert_int_equal(a->followerinfo.accepted_epoch, b->followerinfo.accepted_epoch);
            assert_int_equal(a->followerinfo.last_zxid, b->followerinfo.last_zxid);
            assert_int_equal(a->followerinfo.sid, b->followerinfo.sid);
            assert_int_equal(a->followerinfo.observer, b->followerinfo.observer);
            break;
        case COORD_ZAB_LEADERINFO:
            assert_int_equal(a->leaderinfo.new_epoch, b->leaderinfo.new_epoch);
            break;
        case COORD_ZAB_ACKEPOCH:
            assert_int_equal(a->ackepoch.current_epoch, b->ackepoch.current_epoch);
            assert_int_equal(a->ackepoch.last_zxid, b->ackepoch.last_zxid);
            break;
        case COORD_ZAB_DIFF:
            assert_int_equal(a->diff.zxid, b->diff.zxid);
            break;
        case COORD_ZAB_TRUNC:
            assert_int_equal(a->trunc.zxid, b->trunc.zxid);
            break;
        case COORD_ZAB_NEWLEADER:
            assert_int_equal(a->newleader.zxid, b->newleader.zxid);
            break;
        case COORD_ZAB_ACK:
            assert_int_equal(a->ack.zxid, b->ack.zxid);
            break;
        case COORD_ZAB_COMMIT:
            assert_int_equal(a->commit.zxid, b->commit.zxid);
            break;
        case COORD_ZAB_SNAP:
            assert_int_equal(a->snap.zxid, b->snap.zxid);
            assert_int_equal(a->snap.chunk_index, b->snap.chunk_index);
            assert_int_equal(a->snap.chunk_count, b->snap.chunk_count);
            assert_range_equal(a->snap.bytes, a->snap.len, b->snap.bytes, b->snap.len);
            break;
        case COORD_ZAB_PROPOSAL:
            assert_int_equal(a->proposal.zxid, b->proposal.zxid);
            assert_range_equal(a->proposal.bytes, a->proposal.len, b->proposal.bytes,
                               b->proposal.len);
            break;
        case COORD_ZAB_INFORM:
            assert_int_equal(a->inform.zxid, b->inform.zxid);
            assert_range_equal(a->inform.bytes, a->inform.len, b->inform.bytes, b->inform.len);
            break;
        case COORD_ZAB_REQUEST:
            assert_int_equal(a->request.session, b->request.session);
            assert_int_equal(a->request.cxid, b->request.cxid);
            assert_range_equal(a->request.bytes, a->request.len, b->request.bytes, b->request.len);
            break;
        case COORD_ZAB_PING:
            assert_int_equal(a->ping.count, b->ping.count);
            assert_range_equal(a->ping.pairs, a->ping.count * COORD_ZAB_PING_PAIR_LEN,
                               b->ping.pairs, b->ping.count * COORD_ZAB_PING_PAIR_LEN);
            break;
        case COORD_ZAB_SYNC:
            assert_true(a->sync.id == b->sync.id);
            break;
        case COORD_ZAB_REVALIDATE:
            assert_int_equal(a->revalidate.session, b->revalidate.session);
            assert_int_equal(a->revalidate.timeout_ms, b->revalidate.timeout_ms);
            assert_int_equal(a->revalidate.valid, b->revalidate.valid);
            break;
        case COORD_ZAB_UPTODATE:
            break;
        default:
            fail_msg("unexpected type %u", a->type);
    }
}

/* ---- round trips and the pinned format ------------------------------------------------ */

static void test_every_type_round_trips_with_exact_fields(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    size_t n = sample_messages(m);
    assert_int_equal(n, 16);
    for (size_t i = 0; i < n; i++) {
        struct coord_buf b = encode_ok(&m[i]);
        struct coord_zab_msg got;
        memset(&got, 0xa5, sizeof got);
        assert_int_equal(coord_zab_msg_decode(b.data, b.len, &got), COORD_OK);
        assert_msg_equal(&m[i], &got);
        coord_buf_free(&b);
    }
}

static void test_decoded_byte_ranges_point_into_the_input(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    size_t n = sample_messages(m);
    for (size_t i = 0; i < n; i++) {
        struct coord_buf b = encode_ok(&m[i]);
        struct coord_zab_msg got;
        assert_int_equal(coord_zab_msg_decode(b.data, b.len, &got), COORD_OK);
        switch (got.type) {
            case COORD_ZAB_PROPOSAL:
            case COORD_ZAB_INFORM:
                assert_ptr_equal(got.proposal.bytes, b.data + 14);
                break;
            case COORD_ZAB_SNAP:
                assert_ptr_equal(got.snap.bytes, b.data + 22);
                break;
            case COORD_ZAB_REQUEST:
                assert_ptr_equal(got.request.bytes, b.data + 18);
                break;
            case COORD_ZAB_PING:
                assert_ptr_equal(got.ping.pairs, b.data + 6);
                break;
            default:
                break;
        }
        coord_buf_free(&b);
    }
}

static void assert_encodes_to(const struct coord_zab_msg *m, const uint8_t *want, size_t len)
{
    struct coord_buf b = encode_ok(m);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, want, len);
    coord_buf_free(&b);
}

static void test_fixed_size_types_have_pinned_bytes(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    static const uint8_t followerinfo[] = {0x0b, 1, 0, 0, 0,    0,    0, 0, 0, 7, 0, 0,
                                           0,    6, 0, 0, 0x12, 0x34, 0, 0, 0, 3, 1};
    static const uint8_t leaderinfo[] = {0x11, 1, 0, 0, 0, 0, 0, 0, 0, 8};
    static const uint8_t ackepoch[] = {0x12, 1, 0, 0, 0, 0, 0, 0,    0,
                                       6,    0, 0, 0, 6, 0, 0, 0x12, 0x34};
    static const uint8_t diff[] = {0x0d, 1, 0, 0, 0, 6, 0, 0, 0x10, 0};
    static const uint8_t trunc[] = {0x0e, 1, 0, 0, 0, 5, 0, 0, 0, 0x20};
    static const uint8_t newleader[] = {0x0a, 1, 0, 0, 0, 8, 0, 0, 0, 0};
    static const uint8_t ack[] = {0x03, 1, 0, 0, 0, 8, 0, 0, 0, 1};
    static const uint8_t uptodate[] = {0x0c, 1};
    static const uint8_t commit[] = {0x04, 1, 0, 0, 0, 8, 0, 0, 0, 2};
    static const uint8_t sync[] = {0x07, 1, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
    static const uint8_t revalidate[] = {0x06, 1, 1, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0x75, 0x30, 1};
    assert_encodes_to(&m[0], followerinfo, sizeof followerinfo);
    assert_encodes_to(&m[1], leaderinfo, sizeof leaderinfo);
    assert_encodes_to(&m[2], ackepoch, sizeof ackepoch);
    assert_encodes_to(&m[3], diff, sizeof diff);
    assert_encodes_to(&m[4], trunc, sizeof trunc);
    assert_encodes_to(&m[6], newleader, sizeof newleader);
    assert_encodes_to(&m[7], ack, sizeof ack);
    assert_encodes_to(&m[8], uptodate, sizeof uptodate);
    assert_encodes_to(&m[10], commit, sizeof commit);
    assert_encodes_to(&m[14], sync, sizeof sync);
    assert_encodes_to(&m[15], revalidate, sizeof revalidate);
}

static void test_variable_size_types_have_pinned_bytes(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    static const uint8_t snap[] = {0x0f, 1, 0, 0, 0, 6, 0, 0, 0x09, 0x99, 0,    0,   0,
                                   2,    0, 0, 0, 5, 0, 0, 0, 3,    0x53, 0x4e, 0x41};
    static const uint8_t proposal[] = {0x02, 1, 0, 0, 0,    8,    0,    0,    0,   2,
                                       0,    0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x01};
    static const uint8_t inform[] = {0x08, 1, 0, 0, 0,    8,    0,    0,    0,   3,
                                     0,    0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x01};
    static const uint8_t request[] = {0x01, 1,    2, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff,
                                      0xff, 0xfe, 0, 0, 0, 6, 0, 0, 0, 5, 0x11, 0x22};
    uint8_t ping[6 + sizeof PING_PAIRS] = {0x05, 1, 0, 0, 0, 2};
    memcpy(ping + 6, PING_PAIRS, sizeof PING_PAIRS);
    assert_encodes_to(&m[5], snap, sizeof snap);
    assert_encodes_to(&m[9], proposal, sizeof proposal);
    assert_encodes_to(&m[11], inform, sizeof inform);
    assert_encodes_to(&m[12], request, sizeof request);
    assert_encodes_to(&m[13], ping, sizeof ping);
}

static void test_type_bytes_never_collide_with_election(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    size_t n = sample_messages(m);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(m[i].type, COORD_ELECTION_MSG_TYPE);
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(m[i].type, m[j].type);
        }
    }
    uint8_t election[COORD_ELECTION_MSG_LEN] = {COORD_ELECTION_MSG_TYPE, 1};
    struct coord_zab_msg got;
    assert_int_equal(coord_zab_msg_decode(election, sizeof election, &got), COORD_EMARSHALLING);
}

static void test_type_names_are_the_packet_names(void **state)
{
    (void)state;
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_REQUEST), "REQUEST");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_PROPOSAL), "PROPOSAL");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_ACK), "ACK");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_COMMIT), "COMMIT");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_PING), "PING");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_REVALIDATE), "REVALIDATE");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_SYNC), "SYNC");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_INFORM), "INFORM");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_NEWLEADER), "NEWLEADER");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_FOLLOWERINFO), "FOLLOWERINFO");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_UPTODATE), "UPTODATE");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_DIFF), "DIFF");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_TRUNC), "TRUNC");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_SNAP), "SNAP");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_LEADERINFO), "LEADERINFO");
    assert_string_equal(coord_zab_msg_type_name(COORD_ZAB_ACKEPOCH), "ACKEPOCH");
    assert_string_equal(coord_zab_msg_type_name(COORD_ELECTION_MSG_TYPE), "ELECTION");
    assert_string_equal(coord_zab_msg_type_name(0), "UNKNOWN");
    assert_string_equal(coord_zab_msg_type_name(0x09), "UNKNOWN");
    assert_string_equal(coord_zab_msg_type_name(0xff), "UNKNOWN");
}

/* ---- rejection ---------------------------------------------------------------------- */

static void test_every_truncation_of_every_message_is_rejected(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    size_t n = sample_messages(m);
    for (size_t i = 0; i < n; i++) {
        struct coord_buf b = encode_ok(&m[i]);
        for (size_t len = 0; len < b.len; len++) {
            struct coord_zab_msg got;
            assert_int_equal(decode_exact(b.data, len, &got), COORD_EMARSHALLING);
        }
        coord_buf_free(&b);
    }
    struct coord_zab_msg got;
    assert_int_equal(coord_zab_msg_decode(NULL, 0, &got), COORD_EMARSHALLING);
}

static void test_trailing_bytes_are_rejected(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    size_t n = sample_messages(m);
    for (size_t i = 0; i < n; i++) {
        struct coord_buf b = encode_ok(&m[i]);
        coord_buf_u8(&b, 0);
        struct coord_zab_msg got;
        assert_int_equal(decode_exact(b.data, b.len, &got), COORD_EMARSHALLING);
        coord_buf_u8(&b, 0);
        assert_int_equal(decode_exact(b.data, b.len, &got), COORD_EMARSHALLING);
        coord_buf_free(&b);
    }
}

static void test_unknown_types_are_rejected(void **state)
{
    (void)state;
    uint8_t bytes[32] = {0};
    int known = 0;
    for (unsigned type = 0; type < 256; type++) {
        if (strcmp(coord_zab_msg_type_name((uint8_t)type), "UNKNOWN") != 0 &&
            type != COORD_ELECTION_MSG_TYPE) {
            known++;
            continue;
        }
        bytes[0] = (uint8_t)type;
        bytes[1] = COORD_ZAB_MSG_VERSION;
        for (size_t len = 0; len <= sizeof bytes; len++) {
            struct coord_zab_msg got;
            assert_int_equal(decode_exact(bytes, len, &got), COORD_EMARSHALLING);
        }
    }
    assert_int_equal(known, 16);
    struct coord_zab_msg bad = {.type = 0x09};
    struct coord_buf b;
    coord_buf_init(&b);
    assert_int_equal(coord_zab_msg_encode(&bad, &b), COORD_EBADARGUMENTS);
    assert_int_equal(b.len, 0);
    coord_buf_free(&b);
}

static void test_unknown_versions_are_rejected(void **state)
{
    (void)state;
    static const uint8_t versions[] = {0, 2, 0x45, 0xff};
    struct coord_zab_msg m[16];
    size_t n = sample_messages(m);
    for (size_t i = 0; i < n; i++) {
        struct coord_buf b = encode_ok(&m[i]);
        for (size_t v = 0; v < sizeof versions; v++) {
            b.data[1] = versions[v];
            struct coord_zab_msg got;
            assert_int_equal(decode_exact(b.data, b.len, &got), COORD_EMARSHALLING);
        }
        coord_buf_free(&b);
    }
}

/* Encode m[index], overwrite `width` bytes at `at` with `value`, expect rejection. */
static void assert_patched_rejected(const struct coord_zab_msg *m,
                                    size_t at,
                                    int width,
                                    uint64_t value)
{
    struct coord_buf b = encode_ok(m);
    struct coord_zab_msg got;
    assert_int_equal(decode_exact(b.data, b.len, &got), COORD_OK);
    if (width == 8) {
        coord_store_be64(b.data + at, value);
    } else if (width == 4) {
        coord_store_be32(b.data + at, (uint32_t)value);
    } else {
        b.data[at] = (uint8_t)value;
    }
    assert_int_equal(decode_exact(b.data, b.len, &got), COORD_EMARSHALLING);
    coord_buf_free(&b);
}

/* The same field value must be refused by encode (nothing appended). */
static void assert_encode_refuses(const struct coord_zab_msg *m)
{
    struct coord_buf b;
    coord_buf_init(&b);
    coord_buf_u8(&b, 0x77);
    assert_int_equal(coord_zab_msg_encode(m, &b), COORD_EBADARGUMENTS);
    assert_int_equal(b.len, 1);
    coord_buf_free(&b);
}

static void test_negative_zxids_are_rejected(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    const uint64_t neg = UINT64_C(1) << 63;
    assert_patched_rejected(&m[0], 10, 8, neg);             /* FOLLOWERINFO last_zxid */
    assert_patched_rejected(&m[2], 10, 8, neg);             /* ACKEPOCH last_zxid */
    const size_t zxid_first[] = {3, 4, 5, 6, 7, 9, 10, 11}; /* DIFF ... INFORM */
    for (size_t i = 0; i < sizeof zxid_first / sizeof zxid_first[0]; i++) {
        assert_patched_rejected(&m[zxid_first[i]], 2, 8, neg);
        assert_patched_rejected(&m[zxid_first[i]], 2, 8, UINT64_MAX);
        struct coord_zab_msg bad = m[zxid_first[i]];
        bad.ack.zxid = -1;
        assert_encode_refuses(&bad);
    }
}

static void test_epochs_beyond_int32_max_are_rejected(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    const uint64_t too_big = (uint64_t)INT32_MAX + 1;
    assert_patched_rejected(&m[0], 2, 8, too_big); /* FOLLOWERINFO accepted_epoch */
    assert_patched_rejected(&m[1], 2, 8, too_big); /* LEADERINFO new_epoch */
    assert_patched_rejected(&m[2], 2, 8, too_big); /* ACKEPOCH current_epoch */
    assert_patched_rejected(&m[1], 2, 8, UINT64_MAX);
    struct coord_zab_msg edge = {.type = COORD_ZAB_LEADERINFO, .leaderinfo.new_epoch = INT32_MAX};
    struct coord_buf b = encode_ok(&edge);
    struct coord_zab_msg got;
    assert_int_equal(coord_zab_msg_decode(b.data, b.len, &got), COORD_OK);
    assert_int_equal(got.leaderinfo.new_epoch, INT32_MAX);
    coord_buf_free(&b);
    edge.leaderinfo.new_epoch = (int64_t)too_big;
    assert_encode_refuses(&edge);
    edge.leaderinfo.new_epoch = -1;
    assert_encode_refuses(&edge);
}

static void test_newleader_zxid_must_have_counter_zero(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    assert_patched_rejected(&m[6], 2, 8, (uint64_t)ZXID(8, 1));
    struct coord_zab_msg bad = {.type = COORD_ZAB_NEWLEADER, .newleader.zxid = ZXID(8, 5)};
    assert_encode_refuses(&bad);
}

static void test_sid_outside_1_to_127_is_rejected(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    assert_patched_rejected(&m[0], 18, 4, 0);
    assert_patched_rejected(&m[0], 18, 4, 128);
    assert_patched_rejected(&m[0], 18, 4, UINT32_MAX);
    struct coord_zab_msg ok = m[0];
    ok.followerinfo.sid = COORD_SERVER_ID_MAX;
    struct coord_buf b = encode_ok(&ok);
    coord_buf_free(&b);
    ok.followerinfo.sid = 0;
    assert_encode_refuses(&ok);
    ok.followerinfo.sid = 128;
    assert_encode_refuses(&ok);
}

static void test_flag_bytes_other_than_0_or_1_are_rejected(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    assert_patched_rejected(&m[0], 22, 1, 2);     /* FOLLOWERINFO observer */
    assert_patched_rejected(&m[15], 14, 1, 0xff); /* REVALIDATE valid */
}

static void test_chunk_index_not_below_chunk_count_is_rejected(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    assert_patched_rejected(&m[5], 10, 4, 5); /* index == count */
    assert_patched_rejected(&m[5], 10, 4, 6);
    assert_patched_rejected(&m[5], 14, 4, 0); /* count 0 */
    struct coord_zab_msg bad = m[5];
    bad.snap.chunk_index = 5;
    assert_encode_refuses(&bad);
}

static void test_negative_sessions_and_timeouts_are_rejected(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    assert_patched_rejected(&m[12], 2, 8, UINT64_C(1) << 63); /* REQUEST session */
    assert_patched_rejected(&m[15], 2, 8, UINT64_MAX);        /* REVALIDATE session */
    assert_patched_rejected(&m[15], 10, 4, 0x80000000u);      /* REVALIDATE timeout */
    assert_patched_rejected(&m[13], 6, 8, UINT64_C(1) << 63); /* PING first session */
    assert_patched_rejected(&m[13], 26, 4, UINT32_MAX);       /* PING second timeout */
    struct coord_zab_msg bad = m[15];
    bad.revalidate.timeout_ms = -1;
    assert_encode_refuses(&bad);
}

static void test_ping_count_must_match_its_bytes(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    assert_patched_rejected(&m[13], 2, 4, 1); /* 12 bytes too many */
    assert_patched_rejected(&m[13], 2, 4, 3); /* 12 bytes short */
    assert_patched_rejected(&m[13], 2, 4, 0);
    assert_patched_rejected(&m[13], 2, 4, UINT32_MAX);
    /* A partial pair after the counted ones is trailing bytes. */
    struct coord_buf b = encode_ok(&m[13]);
    coord_buf_put(&b, PING_PAIRS, 5);
    struct coord_zab_msg got;
    assert_int_equal(decode_exact(b.data, b.len, &got), COORD_EMARSHALLING);
    coord_buf_free(&b);
}

static void test_byte_range_lengths_must_match_and_stay_bounded(void **state)
{
    (void)state;
    struct coord_zab_msg m[16];
    sample_messages(m);
    assert_patched_rejected(&m[9], 10, 4, sizeof TXN_BYTES + 1);      /* PROPOSAL: past the end */
    assert_patched_rejected(&m[9], 10, 4, sizeof TXN_BYTES - 1);      /* PROPOSAL: trailing */
    assert_patched_rejected(&m[12], 14, 4, UINT32_MAX);               /* REQUEST */
    assert_patched_rejected(&m[5], 18, 4, COORD_ZAB_PAYLOAD_MAX + 1); /* SNAP */
    struct coord_zab_msg big = m[5];
    big.snap.len = COORD_ZAB_PAYLOAD_MAX + 1;
    assert_encode_refuses(&big);
}

static void test_largest_snap_chunk_round_trips_and_one_more_byte_does_not(void **state)
{
    (void)state;
    uint8_t *chunk = calloc(1, COORD_ZAB_PAYLOAD_MAX);
    assert_non_null(chunk);
    chunk[COORD_ZAB_PAYLOAD_MAX - 1] = 0x5a;
    struct coord_zab_msg m = {.type = COORD_ZAB_SNAP,
                              .snap = {.zxid = ZXID(1, 1),
                                       .chunk_index = 0,
                                       .chunk_count = 1,
                                       .bytes = chunk,
                                       .len = COORD_ZAB_PAYLOAD_MAX}};
    struct coord_buf b = encode_ok(&m);
    assert_true(b.len <= COORD_ZAB_MSG_MAX);
    struct coord_zab_msg got;
    assert_int_equal(coord_zab_msg_decode(b.data, b.len, &got), COORD_OK);
    assert_int_equal(got.snap.len, COORD_ZAB_PAYLOAD_MAX);
    assert_int_equal(got.snap.bytes[COORD_ZAB_PAYLOAD_MAX - 1], 0x5a);
    coord_buf_free(&b);
    uint8_t *more = calloc(1, COORD_ZAB_PAYLOAD_MAX + 1);
    assert_non_null(more);
    m.snap.bytes = more;
    m.snap.len = COORD_ZAB_PAYLOAD_MAX + 1;
    assert_encode_refuses(&m);
    free(more);
    free(chunk);
}

static void test_encode_reports_a_failed_buffer(void **state)
{
    (void)state;
    struct coord_zab_msg m = {.type = COORD_ZAB_UPTODATE};
    struct coord_buf b;
    coord_buf_init(&b);
    b.failed = true;
    assert_int_equal(coord_zab_msg_encode(&m, &b), COORD_ENOMEM);
    assert_int_equal(b.len, 0);
    coord_buf_free(&b);
}

/* ---- PING pairs ------------------------------------------------------------------------ */

static void test_ping_iterator_yields_the_pairs_in_order(void **state)
{
    (void)state;
    struct coord_buf pairs;
    coord_buf_init(&pairs);
    for (int64_t i = 1; i <= 3; i++) {
        coord_zab_ping_pair_put(&pairs, (i << 56) | (i * 100), (int32_t)(i * 1000));
    }
    struct coord_zab_msg m = {.type = COORD_ZAB_PING, .ping = {.count = 3, .pairs = pairs.data}};
    struct coord_buf b = encode_ok(&m);
    assert_int_equal(b.len, 6 + 3 * COORD_ZAB_PING_PAIR_LEN);
    struct coord_zab_msg got;
    assert_int_equal(coord_zab_msg_decode(b.data, b.len, &got), COORD_OK);
    struct coord_zab_ping_iter it;
    coord_zab_ping_iter_init(&it, &got);
    coord_session_id session;
    int32_t timeout_ms;
    for (int64_t i = 1; i <= 3; i++) {
        assert_true(coord_zab_ping_next(&it, &session, &timeout_ms));
        assert_int_equal(session, (i << 56) | (i * 100));
        assert_int_equal(timeout_ms, i * 1000);
    }
    assert_false(coord_zab_ping_next(&it, &session, &timeout_ms));
    coord_buf_free(&b);
    coord_buf_free(&pairs);
}

static void test_empty_ping_has_no_pairs(void **state)
{
    (void)state;
    struct coord_zab_msg m = {.type = COORD_ZAB_PING};
    struct coord_buf b = encode_ok(&m);
    static const uint8_t want[] = {0x05, 1, 0, 0, 0, 0};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    struct coord_zab_msg got;
    assert_int_equal(coord_zab_msg_decode(b.data, b.len, &got), COORD_OK);
    struct coord_zab_ping_iter it;
    coord_zab_ping_iter_init(&it, &got);
    coord_session_id session;
    int32_t timeout_ms;
    assert_false(coord_zab_ping_next(&it, &session, &timeout_ms));
    coord_buf_free(&b);
}

static void test_ping_iter_on_another_type_asserts(void **state)
{
    (void)state;
    struct coord_zab_msg m = {.type = COORD_ZAB_ACK};
    struct coord_zab_ping_iter it;
    expect_assert_failure(coord_zab_ping_iter_init(&it, &m));
}

/* ---- random input ------------------------------------------------------------------------ */

/* Whatever decode accepts is canonical: it re-encodes to the same bytes. */
static void check_random_buffer(const uint8_t *bytes, size_t len, int *accepted)
{
    /* An exact heap copy (ASan sees any over-read) that outlives the decode. */
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    assert_non_null(copy);
    if (len > 0) {
        memcpy(copy, bytes, len);
    }
    struct coord_zab_msg got;
    int rc = coord_zab_msg_decode(copy, len, &got);
    if (rc != COORD_OK) {
        assert_int_equal(rc, COORD_EMARSHALLING);
        free(copy);
        return;
    }
    (*accepted)++;
    struct coord_buf b = encode_ok(&got);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, bytes, len);
    coord_buf_free(&b);
    free(copy);
}

static void test_random_bytes_are_rejected_or_canonical(void **state)
{
    (void)state;
    struct coord_rng rng;
    coord_rng_seed(&rng, 20261122);
    struct coord_zab_msg m[16];
    size_t n = sample_messages(m);
    uint8_t buf[64];
    int accepted = 0;
    for (int i = 0; i < 10000; i++) {
        size_t len = (size_t)coord_rng_below(&rng, sizeof buf + 1);
        for (size_t j = 0; j < len; j++) {
            buf[j] = (uint8_t)coord_rng_next(&rng);
        }
        /* Half the time make the header plausible, to reach the field checks. */
        if (len >= 2 && (i & 1)) {
            buf[0] = m[coord_rng_below(&rng, n)].type;
            buf[1] = COORD_ZAB_MSG_VERSION;
        }
        check_random_buffer(buf, len, &accepted);
    }
    /* Mutations of valid messages: one byte changed. */
    for (int i = 0; i < 10000; i++) {
        struct coord_buf b = encode_ok(&m[coord_rng_below(&rng, n)]);
        b.data[coord_rng_below(&rng, b.len)] = (uint8_t)coord_rng_next(&rng);
        check_random_buffer(b.data, b.len, &accepted);
        coord_buf_free(&b);
    }
    assert_true(accepted > 0); /* The sweep reached the accepting paths too. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_round_trips_with_exact_fields),
        cmocka_unit_test(test_decoded_byte_ranges_point_into_the_input),
        cmocka_unit_test(test_fixed_size_types_have_pinned_bytes),
        cmocka_unit_test(test_variable_size_types_have_pinned_bytes),
        cmocka_unit_test(test_type_bytes_never_collide_with_election),
        cmocka_unit_test(test_type_names_are_the_packet_names),
        cmocka_unit_test(test_every_truncation_of_every_message_is_rejected),
        cmocka_unit_test(test_trailing_bytes_are_rejected),
        cmocka_unit_test(test_unknown_types_are_rejected),
        cmocka_unit_test(test_unknown_versions_are_rejected),
        cmocka_unit_test(test_negative_zxids_are_rejected),
        cmocka_unit_test(test_epochs_beyond_int32_max_are_rejected),
        cmocka_unit_test(test_newleader_zxid_must_have_counter_zero),
        cmocka_unit_test(test_sid_outside_1_to_127_is_rejected),
        cmocka_unit_test(test_flag_bytes_other_than_0_or_1_are_rejected),
        cmocka_unit_test(test_chunk_index_not_below_chunk_count_is_rejected),
        cmocka_unit_test(test_negative_sessions_and_timeouts_are_rejected),
        cmocka_unit_test(test_ping_count_must_match_its_bytes),
        cmocka_unit_test(test_byte_range_lengths_must_match_and_stay_bounded),
        cmocka_unit_test(test_largest_snap_chunk_round_trips_and_one_more_byte_does_not),
        cmocka_unit_test(test_encode_reports_a_failed_buffer),
        cmocka_unit_test(test_ping_iterator_yields_the_pairs_in_order),
        cmocka_unit_test(test_empty_ping_has_no_pairs),
        cmocka_unit_test(test_ping_iter_on_another_type_asserts),
        cmocka_unit_test(test_random_bytes_are_rejected_or_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
