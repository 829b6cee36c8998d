/* The ZooKeeper wire codec: framing, handshake, every request and reply
 * record, with the exact bytes zk-wire gives from real clients and servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_heap.h"

#include <stdlib.h>
#include <string.h>

#include "coord/wire.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit)                            \
    {                                     \
        (lit), (int32_t)(sizeof(lit) - 1) \
    }

/* ---- helpers ------------------------------------------------------------------ */

/* Hex digits to bytes; spaces and '|' are ignored so specs can be pasted. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int half = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        int v;
        if (*p >= '0' && *p <= '9') {
            v = *p - '0';
        } else if (*p >= 'a' && *p <= 'f') {
            v = *p - 'a' + 10;
        } else {
            continue;
        }
        if (half < 0) {
            half = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(half << 4 | v);
            half = -1;
        }
    }
    assert_int_equal(half, -1);
    return n;
}

static void assert_bytes(const uint8_t *got, size_t got_len, const char *hex)
{
    uint8_t want[4096];
    size_t want_len = unhex(hex, want, sizeof want);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

/* Check that `b` holds exactly one whole frame, and return its payload. */
static const uint8_t *only_frame(const struct coord_buf *b, size_t *len)
{
    assert_false(b->failed);
    assert_int_equal(coord_wire_frame(b->data, b->len, COORD_WIRE_MAX_FRAME, len), 1);
    assert_int_equal(*len + 4, b->len);
    return b->data + 4;
}

static void assert_str_equal(struct coord_str a, struct coord_str b)
{
    assert_int_equal(a.len, b.len);
    if (a.len > 0) {
        assert_memory_equal(a.ptr, b.ptr, (size_t)a.len);
    }
    if (a.len < 0) {
        assert_null(a.ptr);
        assert_null(b.ptr);
    }
}

static void assert_cstr(struct coord_str s, const char *want)
{
    assert_int_equal(s.len, (int32_t)strlen(want));
    assert_memory_equal(s.ptr, want, strlen(want));
}

static void assert_data_equal(const uint8_t *a, int32_t a_len, const uint8_t *b, int32_t b_len)
{
    assert_int_equal(a_len, b_len);
    if (a_len > 0) {
        assert_memory_equal(a, b, (size_t)a_len);
    }
    if (a_len < 0) {
        assert_null(a);
        assert_null(b);
    }
}

static void assert_acls_equal(const struct coord_acl *a,
                              int32_t a_count,
                              const struct coord_acl *b,
                              int32_t b_count)
{
    assert_int_equal(a_count, b_count);
    for (int32_t i = 0; i < a_count; i++) {
        assert_int_equal(a[i].perms, b[i].perms);
        assert_str_equal(a[i].ident.scheme, b[i].ident.scheme);
        assert_str_equal(a[i].ident.id, b[i].ident.id);
    }
}

static void assert_op_equal(const struct coord_op *a, const struct coord_op *b)
{
    assert_int_equal(a->type, b->type);
    assert_str_equal(a->path, b->path);
    assert_data_equal(a->data, a->data_len, b->data, b->data_len);
    assert_acls_equal(a->acl, a->acl_count, b->acl, b->acl_count);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->ttl, b->ttl);
    assert_int_equal(a->watch, b->watch);
    assert_int_equal(a->mode, b->mode);
}

/* The strings of a decoded vector against the expected list. */
static void assert_strvec(const struct coord_strvec *v, const struct coord_str *want, int32_t count)
{
    assert_int_equal(v->count, count);
    struct coord_strvec_iter it;
    coord_strvec_iter_init(&it, v);
    struct coord_str s;
    for (int32_t i = 0; i < count; i++) {
        assert_true(coord_strvec_next(&it, &s));
        assert_str_equal(s, want[i]);
    }
    assert_false(coord_strvec_next(&it, &s));
}

static int decode_hex_request(const char *hex, struct coord_request *req, uint8_t *buf, size_t cap)
{
    size_t len = unhex(hex, buf, cap);
    return coord_wire_decode_request(buf, len, req);
}

/* ---- sample requests: one of every kind ------------------------------------------ */

static const struct coord_acl acl_two[2] = {
    {31, {S("world"), S("anyone")}},
    {1, {S("digest"), S("bob:Ms0bQYZd2rGq6fSRPzRS6Wv/BJ0=")}},
};
static const struct coord_acl acl_null_id[1] = {{31, {S("auth"), {NULL, -1}}}};
static const uint8_t data_new[] = {'n', 'e', 'w'};

static const struct coord_op single_ops[] = {
    {.type = COORD_OP_CREATE,
     .path = S("/a"),
     .data = data_new,
     .data_len = 3,
     .acl = acl_two,
     .acl_count = 2,
     .flags = 3},
    {.type = COORD_OP_CREATE2,
     .path = S("/b"),
     .data = NULL,
     .data_len = -1,
     .acl = acl_null_id,
     .acl_count = 1,
     .flags = 0},
    {.type = COORD_OP_CREATECONTAINER,
     .path = S("/c"),
     .data_len = 0,
     .acl = acl_two,
     .acl_count = 1,
     .flags = 4},
    {.type = COORD_OP_CREATETTL,
     .path = S("/t"),
     .data = data_new,
     .data_len = 2,
     .acl = acl_two,
     .acl_count = 1,
     .flags = 5,
     .ttl = 60000},
    {.type = COORD_OP_DELETE, .path = S("/a"), .version = -1},
    {.type = COORD_OP_EXISTS, .path = S("/a"), .watch = true},
    {.type = COORD_OP_GETDATA, .path = S("/zookeeper/config"), .watch = false},
    {.type = COORD_OP_SETDATA, .path = S("/a"), .data = data_new, .data_len = 3, .version = 7},
    {.type = COORD_OP_GETACL, .path = S("/a")},
    {.type = COORD_OP_SETACL, .path = S("/a"), .acl = acl_two, .acl_count = 2, .version = 2},
    {.type = COORD_OP_GETCHILDREN, .path = S("/"), .watch = true},
    {.type = COORD_OP_SYNC, .path = S("/s")},
    {.type = COORD_OP_PING},
    {.type = COORD_OP_GETCHILDREN2, .path = S("/x"), .watch = true},
    {.type = COORD_OP_CHECK, .path = S("/a"), .version = 4},
    {.type = COORD_OP_CHECKWATCHES, .path = S("/a"), .mode = 1},
    {.type = COORD_OP_REMOVEWATCHES, .path = S("/a"), .mode = 3},
    {.type = COORD_OP_DELETECONTAINER, .path = S("/c")},
    {.type = COORD_OP_GETEPHEMERALS, .path = S("/e")},
    {.type = COORD_OP_GETALLCHILDRENNUMBER, .path = S("/")},
    {.type = COORD_OP_ADDWATCH, .path = S("/w"), .mode = 1},
    {.type = COORD_OP_WHOAMI},
    {.type = COORD_OP_CLOSESESSION},
    {.type = COORD_OP_GETDATA, .path = {NULL, -1}, .watch = true},
};

static const struct coord_op multi_ops[] = {
    {.type = COORD_OP_CREATE,
     .path = S("/m/a"),
     .data = data_new,
     .data_len = 3,
     .acl = acl_two,
     .acl_count = 2},
    {.type = COORD_OP_CREATE2, .path = S("/m/b"), .data_len = -1, .acl = acl_two, .acl_count = 1},
    {.type = COORD_OP_CREATECONTAINER,
     .path = S("/m/c"),
     .acl = acl_null_id,
     .acl_count = 1,
     .flags = 4},
    {.type = COORD_OP_CREATETTL,
     .path = S("/m/t"),
     .acl = acl_two,
     .acl_count = 2,
     .flags = 6,
     .ttl = 5},
    {.type = COORD_OP_DELETE, .path = S("/m/x"), .version = 3},
    {.type = COORD_OP_SETDATA, .path = S("/m"), .data = data_new, .data_len = 1, .version = -1},
    {.type = COORD_OP_CHECK, .path = S("/m"), .version = 9},
};

static const struct coord_op multiread_ops[] = {
    {.type = COORD_OP_GETCHILDREN, .path = S("/m"), .watch = true},
    {.type = COORD_OP_GETDATA, .path = S("/m/a")},
};

static const struct coord_str w_data[] = {S("/kz/a")};
static const struct coord_str w_exist[] = {S("/cw_missing")};
static const struct coord_str w_child[] = {S("/kz")};
static const struct coord_str w_pers[] = {S("/p1"), {NULL, -1}, S("")};
static const struct coord_str *const w_lists[COORD_WATCH_LISTS] = {w_data, w_exist, w_child, w_pers,
                                                                   NULL};
static const int32_t w_counts[COORD_WATCH_LISTS] = {1, 1, 1, 3, -1};
static const uint8_t sasl_token[] = {0x60, 0x82, 0x00};

enum {
    SAMPLE_MULTI = ARRAY_LEN(single_ops),
    SAMPLE_MULTIREAD,
    SAMPLE_MULTI_EMPTY,
    SAMPLE_AUTH,
    SAMPLE_SETWATCHES,
    SAMPLE_SETWATCHES2,
    SAMPLE_RECONFIG,
    SAMPLE_SASL,
    SAMPLE_COUNT,
};

/* Encode sample i with the client encoders; its xid is 100 + i unless the
 * encoder fixes it. */
static void encode_sample(struct coord_buf *out, size_t i)
{
    int32_t xid = 100 + (int32_t)i;
    switch (i) {
        case SAMPLE_MULTI:
            coord_wire_encode_multi(out, xid, COORD_OP_MULTI, multi_ops, ARRAY_LEN(multi_ops));
            break;
        case SAMPLE_MULTIREAD:
            coord_wire_encode_multi(out, xid, COORD_OP_MULTIREAD, multiread_ops,
                                    ARRAY_LEN(multiread_ops));
            break;
        case SAMPLE_MULTI_EMPTY:
            coord_wire_encode_multi(out, xid, COORD_OP_MULTI, NULL, 0);
            break;
        case SAMPLE_AUTH:
            coord_wire_encode_auth(out, (struct coord_str)S("digest"), (const uint8_t *)"bob:pw",
                                   6);
            break;
        case SAMPLE_SETWATCHES:
            coord_wire_encode_setwatches(out, 0x103, w_lists, w_counts, false);
            break;
        case SAMPLE_SETWATCHES2:
            coord_wire_encode_setwatches(out, 0x104, w_lists, w_counts, true);
            break;
        case SAMPLE_RECONFIG:
            coord_wire_encode_reconfig(out, xid, (struct coord_str)S("server.4=h:2888:3888"),
                                       (struct coord_str){NULL, -1}, (struct coord_str)S(""), -1);
            break;
        case SAMPLE_SASL:
            coord_wire_encode_sasl(out, xid, sasl_token, (int32_t)sizeof sasl_token);
            break;
        default:
            coord_wire_encode_request(out, xid, &single_ops[i]);
            break;
    }
}

static void check_ops(const struct coord_request *req, const struct coord_op *want, size_t n)
{
    assert_int_equal(req->op_count, n);
    for (size_t k = 0; k < n; k++) {
        assert_op_equal(&req->ops[k], &want[k]);
    }
}

static void check_setwatches(const struct coord_request *req, bool v2)
{
    assert_int_equal(req->xid, COORD_XID_SETWATCHES);
    assert_int_equal(req->relative_zxid, v2 ? 0x104 : 0x103);
    for (int k = 0; k < 3; k++) {
        assert_strvec(&req->watches[k], w_lists[k], w_counts[k]);
    }
    assert_strvec(&req->watches[3], w_pers, v2 ? 3 : 0);
    assert_strvec(&req->watches[4], NULL, v2 ? -1 : 0);
}

/* Compare what the server decoded with what sample i was built from. */
static void check_sample(const struct coord_request *req, size_t i)
{
    int32_t xid = 100 + (int32_t)i;
    switch (i) {
        case SAMPLE_MULTI:
            assert_int_equal(req->type, COORD_OP_MULTI);
            check_ops(req, multi_ops, ARRAY_LEN(multi_ops));
            break;
        case SAMPLE_MULTIREAD:
            assert_int_equal(req->type, COORD_OP_MULTIREAD);
            check_ops(req, multiread_ops, ARRAY_LEN(multiread_ops));
            break;
        case SAMPLE_MULTI_EMPTY:
            assert_int_equal(req->type, COORD_OP_MULTI);
            assert_int_equal(req->op_count, 0);
            assert_null(req->ops);
            break;
        case SAMPLE_AUTH:
            assert_int_equal(req->xid, COORD_XID_AUTH);
            assert_int_equal(req->type, COORD_OP_AUTH);
            assert_int_equal(req->auth_type, 0);
            assert_cstr(req->auth_scheme, "digest");
            assert_data_equal(req->auth_data, req->auth_len, (const uint8_t *)"bob:pw", 6);
            return;
        case SAMPLE_SETWATCHES:
        case SAMPLE_SETWATCHES2:
            assert_int_equal(req->type, i == SAMPLE_SETWATCHES2 ? 105 : 101);
            check_setwatches(req, i == SAMPLE_SETWATCHES2);
            return;
        case SAMPLE_RECONFIG:
            assert_int_equal(req->type, COORD_OP_RECONFIG);
            assert_cstr(req->reconfig_joining, "server.4=h:2888:3888");
            assert_int_equal(req->reconfig_leaving.len, -1);
            assert_null(req->reconfig_leaving.ptr);
            assert_int_equal(req->reconfig_newmembers.len, 0);
            assert_int_equal(req->reconfig_curconfig, -1);
            break;
        case SAMPLE_SASL:
            assert_int_equal(req->type, COORD_OP_SASL);
            assert_data_equal(req->sasl_token, req->sasl_len, sasl_token,
                              (int32_t)sizeof sasl_token);
            break;
        default:
            assert_int_equal(req->type, single_ops[i].type);
            assert_op_equal(&req->op, &single_ops[i]);
            assert_int_equal(req->op_count, 0);
            break;
    }
    assert_int_equal(req->xid, xid);
}

/* ---- framing ----------------------------------------------------------------------- */

static void test_frame_needs_length_and_whole_payload(void **state)
{
    (void)state;
    uint8_t buf[12] = {0, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0};
    size_t n = 99;
    assert_int_equal(coord_wire_frame(buf, 3, COORD_WIRE_MAX_FRAME, &n), 0);
    assert_int_equal(n, 99);
    assert_int_equal(coord_wire_frame(buf, 8, COORD_WIRE_MAX_FRAME, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(coord_wire_frame(buf, 9, COORD_WIRE_MAX_FRAME, &n), 1);
    assert_int_equal(n, 5);
    assert_int_equal(coord_wire_frame(buf, 12, COORD_WIRE_MAX_FRAME, &n), 1);
    assert_int_equal(n, 5);
    uint8_t empty[4] = {0, 0, 0, 0};
    assert_int_equal(coord_wire_frame(empty, 4, COORD_WIRE_MAX_FRAME, &n), 1);
    assert_int_equal(n, 0);
}

static void test_frame_length_over_max_is_rejected(void **state)
{
    (void)state;
    size_t n = 0;
    uint8_t at_max[4] = {0x00, 0x0f, 0xff, 0xff};
    assert_int_equal(coord_wire_frame(at_max, 4, COORD_WIRE_MAX_FRAME, &n), 0);
    assert_int_equal(n, 1048575);
    uint8_t over[4] = {0x00, 0x10, 0x00, 0x01}; /* 1,048,577: the real server closed. */
    assert_int_equal(coord_wire_frame(over, 4, COORD_WIRE_MAX_FRAME, &n), COORD_EMARSHALLING);
    uint8_t negative[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(coord_wire_frame(negative, 4, UINT32_MAX, &n), COORD_EMARSHALLING);
    uint8_t small[4] = {0x00, 0x00, 0x00, 0x11};
    assert_int_equal(coord_wire_frame(small, 4, 16, &n), COORD_EMARSHALLING);
}

static void test_4lw_matches_command_words_case_sensitively(void **state)
{
    (void)state;
    static const char *const words[] = {"conf", "cons", "crst", "dirs", "dump", "envi",
                                        "gtmk", "ruok", "stmk", "srvr", "srst", "stat",
                                        "wchc", "wchp", "wchs", "mntr", "isro", "hash"};
    char out[5];
    size_t n;
    for (size_t i = 0; i < ARRAY_LEN(words); i++) {
        memset(out, 'x', sizeof out);
        assert_true(coord_wire_is_4lw((const uint8_t *)words[i], out));
        assert_string_equal(out, words[i]);
        /* No command word can pass as a frame length. */
        assert_int_equal(coord_wire_frame((const uint8_t *)words[i], 4, COORD_WIRE_MAX_FRAME, &n),
                         COORD_EMARSHALLING);
    }
    assert_false(coord_wire_is_4lw((const uint8_t *)"RUOK", out));
    assert_false(coord_wire_is_4lw((const uint8_t *)"xxxx", out));
    assert_false(coord_wire_is_4lw((const uint8_t *)"\0\0\0\x2d", out));
    const uint8_t telnet[4] = {0xff, 0xf4, 0xff, 0xfd};
    assert_true(coord_wire_is_4lw(telnet, out));
    assert_memory_equal(out, telnet, 4);
}

/* ---- handshake ------------------------------------------------------------------------ */

static const char c_client_connect[] =
    "0000002d 00000000 0000000000000000 00007530 0000000000000000"
    "00000010 00000000000000000000000000000000 00";

static void test_connect_request_45_bytes_has_readonly(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = unhex(c_client_connect, buf, sizeof buf);
    size_t n;
    assert_int_equal(coord_wire_frame(buf, len, COORD_WIRE_MAX_FRAME, &n), 1);
    assert_int_equal(n, 45);
    struct coord_connect_req req;
    assert_int_equal(coord_wire_decode_connect(buf + 4, n, &req), COORD_OK);
    assert_int_equal(req.protocol_version, 0);
    assert_int_equal(req.last_zxid, 0);
    assert_int_equal(req.timeout_ms, 30000);
    assert_int_equal(req.session, 0);
    assert_int_equal(req.passwd_len, 16);
    assert_ptr_equal(req.passwd, buf + 4 + 28);
    assert_true(req.has_readonly);
    assert_false(req.readonly);

    /* The client encoder gives back the same 49 bytes. */
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_connect(&out, &req);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, buf, len);
    coord_buf_free(&out);
}

static void test_connect_request_44_bytes_has_no_readonly(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = unhex(
        "0000002c 00000000 0000000000000103 00001388 0100000000000abc"
        "00000010 0102030405060708090a0b0c0d0e0f10",
        buf, sizeof buf);
    size_t n;
    assert_int_equal(coord_wire_frame(buf, len, COORD_WIRE_MAX_FRAME, &n), 1);
    assert_int_equal(n, 44);
    struct coord_connect_req req;
    assert_int_equal(coord_wire_decode_connect(buf + 4, n, &req), COORD_OK);
    assert_int_equal(req.last_zxid, 0x103);
    assert_int_equal(req.timeout_ms, 5000);
    assert_int_equal(req.session, 0x0100000000000abcLL);
    assert_int_equal(req.passwd_len, 16);
    assert_int_equal(req.passwd[15], 0x10);
    assert_false(req.has_readonly);
    assert_false(req.readonly);

    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_connect(&out, &req);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, buf, len);
    coord_buf_free(&out);

    /* A readOnly byte of 1, then trailing bytes the server ignores. */
    buf[3] = 0x2e;
    buf[48] = 1;
    buf[49] = 0x77;
    assert_int_equal(coord_wire_decode_connect(buf + 4, 46, &req), COORD_OK);
    assert_true(req.has_readonly);
    assert_true(req.readonly);
}

static void test_connect_request_null_or_empty_passwd_is_accepted(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct coord_connect_req req;
    size_t len =
        unhex("00000000 0000000000000000 00007530 0000000000000000 ffffffff 01", buf, sizeof buf);
    assert_int_equal(coord_wire_decode_connect(buf, len, &req), COORD_OK);
    assert_int_equal(req.passwd_len, -1);
    assert_null(req.passwd);
    assert_true(req.has_readonly);
    assert_true(req.readonly);
    len = unhex("00000000 0000000000000000 00007530 0000000000000000 00000000", buf, sizeof buf);
    assert_int_equal(coord_wire_decode_connect(buf, len, &req), COORD_OK);
    assert_int_equal(req.passwd_len, 0);
    assert_false(req.has_readonly);
}

static void test_connect_request_bad_passwd_length_is_marshalling_error(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct coord_connect_req req;
    size_t len =
        unhex("00000000 0000000000000000 00007530 0000000000000000 fffffffe 00", buf, sizeof buf);
    assert_int_equal(coord_wire_decode_connect(buf, len, &req), COORD_EMARSHALLING);
    len = unhex(
        "00000000 0000000000000000 00007530 0000000000000000 00000011"
        "00000000000000000000000000000000",
        buf, sizeof buf);
    assert_int_equal(coord_wire_decode_connect(buf, len, &req), COORD_EMARSHALLING);
    /* Every prefix shorter than the passwd is incomplete. */
    len = unhex(c_client_connect, buf, sizeof buf);
    for (size_t cut = 0; cut < 44; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, buf + 4, cut);
        assert_int_equal(coord_wire_decode_connect(copy, cut, &req), COORD_EMARSHALLING);
        free(copy);
    }
}

static void test_connect_response_is_37_bytes_when_request_had_readonly(void **state)
{
    (void)state;
    struct coord_connect_resp resp = {.protocol_version = 0,
                                      .timeout_ms = 30000,
                                      .session = 0x010000070e2f002fLL,
                                      .has_readonly = true,
                                      .readonly = false};
    for (int i = 0; i < COORD_WIRE_PASSWD_LEN; i++) {
        resp.passwd[i] = (uint8_t)(0xa0 + i);
    }
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_connect_resp(&out, &resp);
    assert_bytes(out.data, out.len,
                 "00000025 00000000 00007530 010000070e2f002f 00000010"
                 "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 00");
    assert_int_equal(out.len, 41); /* What the C client's primer buffer reads. */

    struct coord_connect_resp back;
    assert_int_equal(coord_wire_decode_connect_resp(out.data + 4, out.len - 4, &back), COORD_OK);
    assert_int_equal(back.timeout_ms, 30000);
    assert_int_equal(back.session, 0x010000070e2f002fLL);
    assert_memory_equal(back.passwd, resp.passwd, 16);
    assert_true(back.has_readonly);
    assert_false(back.readonly);
    coord_buf_free(&out);
}

static void test_connect_response_is_36_bytes_otherwise(void **state)
{
    (void)state;
    /* The expired-session reply: timeout 0, session 0, 16 zero bytes. */
    struct coord_connect_resp resp = {0};
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_connect_resp(&out, &resp);
    assert_bytes(out.data, out.len,
                 "00000024 00000000 00000000 0000000000000000 00000010"
                 "00000000000000000000000000000000");
    struct coord_connect_resp back;
    assert_int_equal(coord_wire_decode_connect_resp(out.data + 4, out.len - 4, &back), COORD_OK);
    assert_int_equal(back.timeout_ms, 0);
    assert_int_equal(back.session, 0);
    assert_false(back.has_readonly);
    coord_buf_free(&out);
}

static void test_connect_response_decode_pads_short_passwd_and_rejects_long(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct coord_connect_resp resp;
    size_t len = unhex("00000000 00001388 0000000000000007 00000002 abcd", buf, sizeof buf);
    assert_int_equal(coord_wire_decode_connect_resp(buf, len, &resp), COORD_OK);
    assert_int_equal(resp.passwd[0], 0xab);
    assert_int_equal(resp.passwd[1], 0xcd);
    assert_int_equal(resp.passwd[2], 0);
    len = unhex(
        "00000000 00001388 0000000000000007 00000011 "
        "0000000000000000000000000000000000",
        buf, sizeof buf);
    assert_int_equal(coord_wire_decode_connect_resp(buf, len, &resp), COORD_EMARSHALLING);
    assert_int_equal(coord_wire_decode_connect_resp(buf, 19, &resp), COORD_EMARSHALLING);
    assert_int_equal(coord_wire_decode_connect_resp(buf, 3, &resp), COORD_EMARSHALLING);
}

/* ---- requests: bytes from real clients -------------------------------------------------- */

static const char kazoo_create[] =
    "00000058 | 00000001"
    "00000007 2f6b7a2f612f63"
    "00000000"
    "00000001 | 0000001f | 00000005 776f726c64 | 00000006 "
    "616e796f6e65"
    "00000000";

static void test_kazoo_create_request_decodes(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct coord_request req;
    assert_int_equal(decode_hex_request(kazoo_create, &req, buf, sizeof buf), COORD_OK);
    assert_int_equal(req.xid, 88);
    assert_int_equal(req.type, COORD_OP_CREATE);
    assert_int_equal(req.op.type, COORD_OP_CREATE);
    assert_cstr(req.op.path, "/kz/a/c");
    assert_int_equal(req.op.data_len, 0); /* 0 bytes, not null */
    assert_non_null(req.op.data);
    assert_int_equal(req.op.acl_count, 1);
    assert_int_equal(req.op.acl[0].perms, 31);
    assert_cstr(req.op.acl[0].ident.scheme, "world");
    assert_cstr(req.op.acl[0].ident.id, "anyone");
    assert_int_equal(req.op.flags, 0);
    assert_ptr_equal(req.op.acl, req.acls_storage);

    /* The client encoder writes the same bytes, and the reply is as observed. */
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_request(&out, 88, &req.op);
    size_t len;
    const uint8_t *payload = only_frame(&out, &len);
    assert_bytes(payload, len, kazoo_create);
    coord_buf_reset(&out);
    size_t start = coord_wire_reply_begin(&out, 88, 0x105, COORD_OK);
    coord_wire_put_str(&out, "/kz/a/c", 7);
    coord_wire_frame_end(&out, start);
    assert_bytes(out.data, out.len,
                 "0000001b 00000058 | 0000000000000105 | 00000000 00000007 2f6b7a2f612f63");
    coord_buf_free(&out);
    coord_wire_request_release(&req);
}

static void test_auth_packet_bytes(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_auth(&out, (struct coord_str)S("digest"), (const uint8_t *)"u:p", 3);
    assert_bytes(out.data, out.len,
                 "0000001d fffffffc 00000064 00000000 00000006 646967657374 00000003 753a70");
    coord_buf_free(&out);
}

static void test_setwatches_matches_c_client_reconnect(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_setwatches(&out, 0x103, w_lists, w_counts, false);
    assert_bytes(out.data, out.len,
                 "0000003b fffffff8 00000065 0000000000000103"
                 "00000001 00000005 2f6b7a2f61"
                 "00000001 0000000b 2f63775f6d697373696e67"
                 "00000001 00000003 2f6b7a");
    size_t len;
    const uint8_t *payload = only_frame(&out, &len);
    struct coord_request req;
    assert_int_equal(coord_wire_decode_request(payload, len, &req), COORD_OK);
    check_setwatches(&req, false);
    coord_wire_request_release(&req);
    coord_buf_free(&out);
}

static void test_ping_and_close_have_empty_bodies(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_ping(&out);
    assert_bytes(out.data, out.len, "00000008 fffffffe 0000000b");
    struct coord_request req;
    assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req), COORD_OK);
    assert_int_equal(req.xid, COORD_XID_PING);
    assert_int_equal(req.type, COORD_OP_PING);
    coord_buf_reset(&out);
    coord_wire_encode_close(&out, 0x1234);
    assert_bytes(out.data, out.len, "00000008 00001234 fffffff5");
    assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req), COORD_OK);
    assert_int_equal(req.xid, 0x1234);
    assert_int_equal(req.type, COORD_OP_CLOSESESSION);
    /* The ping reply is the bare header with xid -2. */
    coord_buf_reset(&out);
    coord_wire_reply_header_only(&out, COORD_XID_PING, 0x200, COORD_OK);
    assert_bytes(out.data, out.len, "00000010 fffffffe 0000000000000200 00000000");
    coord_buf_free(&out);
}

static void test_whoami_has_no_body_and_replies_client_info(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    struct coord_op op = {.type = COORD_OP_WHOAMI};
    coord_wire_encode_request(&out, 5, &op);
    assert_bytes(out.data, out.len, "00000008 00000005 0000006b");
    struct coord_request req;
    assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req), COORD_OK);
    assert_int_equal(req.type, COORD_OP_WHOAMI);
    assert_int_equal(req.xid, 5);

    coord_buf_reset(&out);
    const struct coord_ident ids[2] = {{S("ip"), S("127.0.0.1")}, {S("digest"), S("bob")}};
    size_t start = coord_wire_reply_begin(&out, 5, 7, COORD_OK);
    coord_wire_put_ident_vector(&out, ids, 2);
    coord_wire_frame_end(&out, start);
    size_t len;
    const uint8_t *payload = only_frame(&out, &len);
    int32_t xid, err;
    int64_t zxid;
    size_t off;
    assert_int_equal(coord_wire_decode_reply_header(payload, len, &xid, &zxid, &err, &off),
                     COORD_OK);
    struct coord_reader r;
    coord_reader_init(&r, payload + off, len - off);
    struct coord_strvec v;
    assert_int_equal(coord_wire_get_ident_vector(&r, &v), COORD_OK);
    const struct coord_str flat[4] = {S("ip"), S("127.0.0.1"), S("digest"), S("bob")};
    assert_strvec(&v, flat, 4);
    assert_int_equal(coord_reader_left(&r), 0);
    coord_buf_free(&out);
}

/* ---- requests: nulls, lengths, truncation ---------------------------------------------- */

static void test_null_string_length_minus_one(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct coord_request req;
    /* setData with a null path and a null buffer. */
    assert_int_equal(
        decode_hex_request("00000001 00000005 ffffffff ffffffff 00000003", &req, buf, sizeof buf),
        COORD_OK);
    assert_int_equal(req.op.path.len, -1);
    assert_null(req.op.path.ptr);
    assert_int_equal(req.op.data_len, -1);
    assert_null(req.op.data);
    assert_int_equal(req.op.version, 3);
    /* An empty path and empty data are not null. */
    assert_int_equal(
        decode_hex_request("00000001 00000005 00000000 00000000 00000003", &req, buf, sizeof buf),
        COORD_OK);
    assert_int_equal(req.op.path.len, 0);
    assert_non_null(req.op.path.ptr);
    assert_int_equal(req.op.data_len, 0);
    assert_non_null(req.op.data);
    /* kazoo's Id('auth', '') arrives as a null id; a null ACL vector is -1. */
    assert_int_equal(decode_hex_request("00000002 00000007 00000002 2f61"
                                        "00000001 0000001f 00000004 61757468 ffffffff 00000000",
                                        &req, buf, sizeof buf),
                     COORD_OK);
    assert_int_equal(req.op.acl_count, 1);
    assert_int_equal(req.op.acl[0].ident.id.len, -1);
    assert_null(req.op.acl[0].ident.id.ptr);
    coord_wire_request_release(&req);
    assert_int_equal(decode_hex_request("00000002 00000007 00000002 2f61 ffffffff 00000000", &req,
                                        buf, sizeof buf),
                     COORD_OK);
    assert_int_equal(req.op.acl_count, -1);
    assert_null(req.op.acl);
    assert_null(req.acls_storage);
    /* Null watch lists and null elements inside a list. */
    assert_int_equal(decode_hex_request("fffffff8 00000065 0000000000000001"
                                        "ffffffff 00000002 ffffffff 00000000 00000000",
                                        &req, buf, sizeof buf),
                     COORD_OK);
    assert_int_equal(req.watches[COORD_WATCHES_DATA].count, -1);
    const struct coord_str exist[2] = {{NULL, -1}, S("")};
    assert_strvec(&req.watches[COORD_WATCHES_EXIST], exist, 2);
    assert_strvec(&req.watches[COORD_WATCHES_CHILD], NULL, 0);
}

static void test_length_below_minus_one_is_marshalling_error(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "00000001 00000004 fffffffe 00",                              /* path */
        "00000001 00000005 00000002 2f61 fffffffe 00000000",          /* data */
        "00000001 00000001 00000002 2f61 00000000 fffffffe 00000000", /* acl vector */
        "00000001 00000001 00000002 2f61 00000000 00000001 0000001f 80000000 00000000 "
        "00000000",                                                               /* acl scheme */
        "fffffff8 00000065 0000000000000001 fffffffe 00000000 00000000",          /* watch list */
        "fffffff8 00000065 0000000000000001 00000001 fffffffd 00000000 00000000", /* element */
        "fffffffc 00000064 00000000 00000006 646967657374 fffffff0",              /* auth data */
        "00000001 00000066 fffffffe",                                             /* sasl */
        "00000001 00000010 ffffffff fffffffe ffffffff 0000000000000000",          /* reconfig */
    };
    uint8_t buf[128];
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct coord_request req;
        assert_int_equal(decode_hex_request(bad[i], &req, buf, sizeof buf), COORD_EMARSHALLING);
        assert_int_equal(req.xid, (int32_t)coord_load_be32(buf));
        assert_null(req.ops);
        assert_null(req.acls_storage);
    }
}

static void test_length_past_the_end_is_marshalling_error(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct coord_request req;
    assert_int_equal(
        decode_hex_request("00000009 00000004 00000003 2f61 00", &req, buf, sizeof buf),
        COORD_EMARSHALLING);
    assert_int_equal(
        decode_hex_request("00000009 00000004 7fffffff 2f61 00", &req, buf, sizeof buf),
        COORD_EMARSHALLING);
    /* A huge ACL count with no entries behind it allocates nothing. */
    assert_int_equal(decode_hex_request("00000009 00000007 00000002 2f61 7fffffff 00000000", &req,
                                        buf, sizeof buf),
                     COORD_EMARSHALLING);
    assert_null(req.acls_storage);
    assert_int_equal(req.xid, 9);
    assert_int_equal(req.type, COORD_OP_SETACL);
}

static void test_truncated_body_keeps_xid_for_error_reply(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t len = unhex(kazoo_create, buf, sizeof buf);
    struct coord_request req;
    assert_int_equal(coord_wire_decode_request(buf, len - 1, &req), COORD_EMARSHALLING);
    assert_int_equal(req.xid, 88);
    assert_int_equal(req.type, COORD_OP_CREATE);
    assert_int_equal(req.op.path.len, 0);
    assert_null(req.op.path.ptr);
    assert_null(req.acls_storage);
    /* The server's answer: the header only, err -5, and the connection stays. */
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_reply_header_only(&out, req.xid, 0x106, req.xid == 88 ? COORD_EMARSHALLING : 0);
    assert_bytes(out.data, out.len, "00000010 00000058 0000000000000106 fffffffb");
    coord_buf_free(&out);
    coord_wire_request_release(&req);
}

static void test_frame_shorter_than_header_is_marshalling_error(void **state)
{
    (void)state;
    uint8_t buf[8] = {0, 0, 0, 7, 0, 0, 0, 3};
    struct coord_request req;
    for (size_t len = 0; len < 8; len++) {
        assert_int_equal(coord_wire_decode_request(buf, len, &req), COORD_EMARSHALLING);
        assert_int_equal(req.xid, 0);
        assert_int_equal(req.type, 0);
    }
}

static void test_unknown_opcode_is_unimplemented(void **state)
{
    (void)state;
    static const int32_t unknown[] = {0, 10, 23, 99, 108, -1, -2, -12, 0x7fffffff};
    for (size_t i = 0; i < ARRAY_LEN(unknown); i++) {
        uint8_t buf[12] = {0, 0, 0, 42};
        coord_store_be32(buf + 4, (uint32_t)unknown[i]);
        struct coord_request req;
        assert_int_equal(coord_wire_decode_request(buf, sizeof buf, &req), COORD_EUNIMPLEMENTED);
        assert_int_equal(req.xid, 42);
        assert_int_equal(req.type, unknown[i]);
    }
    /* createSession from a client got -5 from the real server. */
    uint8_t buf[8] = {0, 0, 0, 42, 0xff, 0xff, 0xff, 0xf6};
    struct coord_request req;
    assert_int_equal(coord_wire_decode_request(buf, sizeof buf, &req), COORD_EMARSHALLING);
    assert_int_equal(req.xid, 42);
    assert_int_equal(req.type, COORD_OP_CREATESESSION);
}

static void test_trailing_bytes_after_record_are_ignored(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct coord_request req;
    assert_int_equal(
        decode_hex_request("00000003 00000003 00000002 2f61 01 deadbeef", &req, buf, sizeof buf),
        COORD_OK);
    assert_cstr(req.op.path, "/a");
    assert_true(req.op.watch);
    /* Any nonzero byte is true. */
    assert_int_equal(
        decode_hex_request("00000003 00000008 00000002 2f61 7f", &req, buf, sizeof buf), COORD_OK);
    assert_true(req.op.watch);
}

/* ---- multi ---------------------------------------------------------------------------------- */

static void test_multi_terminator_bytes(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_multi(&out, 7, COORD_OP_MULTI, NULL, 0);
    assert_bytes(out.data, out.len, "00000011 00000007 0000000e ffffffff 01 ffffffff");
    coord_buf_reset(&out);
    const struct coord_op check = {.type = COORD_OP_CHECK, .path = S("/a"), .version = 1};
    coord_wire_encode_multi(&out, 7, COORD_OP_MULTI, &check, 1);
    assert_bytes(out.data, out.len,
                 "00000024 00000007 0000000e"
                 "0000000d 00 ffffffff 00000002 2f61 00000001"
                 "ffffffff 01 ffffffff");
    struct coord_request req;
    assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req), COORD_OK);
    assert_int_equal(req.op_count, 1);
    assert_op_equal(&req.ops[0], &check);
    coord_wire_request_release(&req);
    /* Like the Java server, any header with done set ends the list. */
    uint8_t buf[64];
    assert_int_equal(decode_hex_request("00000007 0000000e 0000000d 00 ffffffff 00000002 2f61 "
                                        "00000001 00000000 02 00000000",
                                        &req, buf, sizeof buf),
                     COORD_OK);
    assert_int_equal(req.op_count, 1);
    coord_wire_request_release(&req);
    /* No terminator: truncated. */
    assert_int_equal(decode_hex_request("00000007 0000000e 0000000d 00 ffffffff 00000002 2f61 "
                                        "00000001",
                                        &req, buf, sizeof buf),
                     COORD_EMARSHALLING);
    assert_null(req.ops);
    assert_int_equal(req.xid, 7);
    /* The result side ends with the same bytes. */
    coord_buf_reset(&out);
    coord_wire_put_multi_end(&out);
    assert_bytes(out.data, out.len, "ffffffff 01 ffffffff");
    coord_buf_free(&out);
}

static void test_multi_rejects_read_ops(void **state)
{
    (void)state;
    static const int32_t reads[] = {COORD_OP_GETDATA, COORD_OP_GETCHILDREN, COORD_OP_EXISTS,
                                    COORD_OP_SYNC,    COORD_OP_SETACL,      COORD_OP_MULTI};
    for (size_t i = 0; i < ARRAY_LEN(reads); i++) {
        struct coord_op ops[2] = {
            {.type = COORD_OP_CREATE, .path = S("/a"), .acl = acl_two, .acl_count = 1},
            {.type = reads[i], .path = S("/a")},
        };
        struct coord_buf out;
        coord_buf_init(&out);
        if (reads[i] == COORD_OP_MULTI) {
            /* A multi inside a multi: written by hand, the encoder has no such form. */
            uint8_t buf[64];
            size_t len = unhex(
                "00000001 0000000e 0000000e 00 ffffffff ffffffff 01 ffffffff "
                "ffffffff 01 ffffffff",
                buf, sizeof buf);
            coord_buf_be32(&out, (uint32_t)len);
            coord_buf_put(&out, buf, len);
        } else {
            coord_wire_encode_multi(&out, 1, COORD_OP_MULTI, ops, 2);
        }
        struct coord_request req;
        assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req),
                         COORD_EMARSHALLING);
        assert_int_equal(req.xid, 1);
        assert_int_equal(req.type, COORD_OP_MULTI);
        assert_null(req.ops);
        assert_null(req.acls_storage);
        coord_buf_free(&out);
    }
}

static void test_multiread_rejects_write_ops(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(multi_ops); i++) {
        struct coord_op ops[2] = {multiread_ops[0], multi_ops[i]};
        struct coord_buf out;
        coord_buf_init(&out);
        coord_wire_encode_multi(&out, 2, COORD_OP_MULTIREAD, ops, 2);
        struct coord_request req;
        assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req),
                         COORD_EMARSHALLING);
        assert_int_equal(req.xid, 2);
        assert_int_equal(req.type, COORD_OP_MULTIREAD);
        coord_buf_free(&out);
    }
}

static void test_multi_over_max_ops_is_marshalling_error(void **state)
{
    (void)state;
    struct coord_op *ops = calloc(COORD_MULTI_MAX + 1, sizeof *ops);
    for (size_t i = 0; i <= COORD_MULTI_MAX; i++) {
        ops[i] = (struct coord_op){.type = COORD_OP_CHECK, .path = S("/a"), .version = (int32_t)i};
    }
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_multi(&out, 3, COORD_OP_MULTI, ops, COORD_MULTI_MAX);
    struct coord_request req;
    assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req), COORD_OK);
    assert_int_equal(req.op_count, COORD_MULTI_MAX);
    assert_int_equal(req.ops[COORD_MULTI_MAX - 1].version, COORD_MULTI_MAX - 1);
    coord_wire_request_release(&req);
    coord_buf_reset(&out);
    coord_wire_encode_multi(&out, 3, COORD_OP_MULTI, ops, COORD_MULTI_MAX + 1);
    assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req),
                     COORD_EMARSHALLING);
    assert_null(req.ops);
    coord_buf_free(&out);
    free(ops);
}

static void test_multi_acls_point_into_one_storage(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    encode_sample(&out, SAMPLE_MULTI);
    struct coord_request req;
    assert_int_equal(coord_wire_decode_request(out.data + 4, out.len - 4, &req), COORD_OK);
    /* 2 + 1 + 1 + 2 entries, laid out in op order. */
    assert_ptr_equal(req.ops[0].acl, req.acls_storage);
    assert_ptr_equal(req.ops[1].acl, req.acls_storage + 2);
    assert_ptr_equal(req.ops[2].acl, req.acls_storage + 3);
    assert_ptr_equal(req.ops[3].acl, req.acls_storage + 4);
    assert_null(req.ops[4].acl);
    coord_wire_request_release(&req);
    assert_null(req.ops);
    coord_wire_request_release(&req); /* Twice is harmless. */
    coord_buf_free(&out);
}

/* ---- round trips and truncation ----------------------------------------------------------- */

static void test_every_op_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        struct coord_buf out;
        coord_buf_init(&out);
        encode_sample(&out, i);
        size_t len;
        const uint8_t *payload = only_frame(&out, &len);
        struct coord_request req;
        assert_int_equal(coord_wire_decode_request(payload, len, &req), COORD_OK);
        check_sample(&req, i);
        /* Re-encoding what was decoded gives the same bytes. */
        struct coord_buf again;
        coord_buf_init(&again);
        coord_wire_encode_decoded(&again, &req);
        assert_int_equal(again.len, out.len);
        assert_memory_equal(again.data, out.data, out.len);
        coord_buf_free(&again);
        coord_wire_request_release(&req);
        coord_buf_free(&out);
    }
}

static void test_every_truncation_of_every_request_is_rejected_cleanly(void **state)
{
    (void)state;
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        struct coord_buf out;
        coord_buf_init(&out);
        encode_sample(&out, i);
        size_t len;
        const uint8_t *payload = only_frame(&out, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* An exact-size copy, so that any over-read trips ASan or valgrind. */
            uint8_t *copy = malloc(cut + 1);
            memcpy(copy, payload, cut);
            struct coord_request req;
            assert_int_equal(coord_wire_decode_request(copy, cut, &req), COORD_EMARSHALLING);
            assert_int_equal(req.xid, cut >= 8 ? (int32_t)coord_load_be32(payload) : 0);
            assert_int_equal(req.type, cut >= 8 ? (int32_t)coord_load_be32(payload + 4) : 0);
            assert_null(req.ops);
            assert_null(req.acls_storage);
            coord_wire_request_release(&req);
            free(copy);
        }
        coord_buf_free(&out);
    }
}

static void test_out_of_memory_while_decoding_is_enomem(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    encode_sample(&out, SAMPLE_MULTI);
    for (int ok_calls = 0; ok_calls < 2; ok_calls++) {
        test_heap_fail_after(ok_calls);
        struct coord_request req;
        int rc = coord_wire_decode_request(out.data + 4, out.len - 4, &req);
        test_heap_restore();
        assert_int_equal(rc, COORD_ENOMEM);
        assert_int_equal(req.xid, 100 + SAMPLE_MULTI);
        assert_null(req.ops);
        assert_null(req.acls_storage);
    }
    coord_buf_free(&out);
}

/* ---- replies --------------------------------------------------------------------------------- */

static void test_notification_bytes_match_real_server(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_notification(&out, COORD_EV_DATA_CHANGED, COORD_WIRE_STATE_SYNC_CONNECTED, "/w", 2);
    assert_bytes(out.data, out.len,
                 "0000001e ffffffff ffffffffffffffff 00000000 00000003 00000003 00000002 2f77");
    size_t len;
    const uint8_t *payload = only_frame(&out, &len);
    int32_t xid, err;
    int64_t zxid;
    size_t off;
    assert_int_equal(coord_wire_decode_reply_header(payload, len, &xid, &zxid, &err, &off),
                     COORD_OK);
    assert_int_equal(xid, -1);
    assert_int_equal(zxid, -1);
    assert_int_equal(err, 0);
    struct coord_reader r;
    coord_reader_init(&r, payload + off, len - off);
    struct coord_watcher_event ev;
    assert_int_equal(coord_wire_get_watcher_event(&r, &ev), COORD_OK);
    assert_int_equal(ev.type, 3);
    assert_int_equal(ev.state, 3);
    assert_cstr(ev.path, "/w");
    coord_buf_free(&out);
}

static void test_reply_header_shorter_than_16_is_rejected(void **state)
{
    (void)state;
    uint8_t buf[16] = {0};
    int32_t xid, err;
    int64_t zxid;
    size_t off;
    assert_int_equal(coord_wire_decode_reply_header(buf, 15, &xid, &zxid, &err, &off),
                     COORD_EMARSHALLING);
    assert_int_equal(coord_wire_decode_reply_header(buf, 16, &xid, &zxid, &err, &off), COORD_OK);
    assert_int_equal(off, 16);
}

static const struct coord_stat sample_stat = {
    .czxid = 0x101,
    .mzxid = 0x102,
    .ctime = 1700000000000LL,
    .mtime = 1700000000001LL,
    .version = 2,
    .cversion = -2,
    .aversion = 1,
    .ephemeral_owner = 0x010000070e2f002fLL,
    .data_length = 3,
    .num_children = 4,
    .pzxid = 0x103,
};

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

static void test_stat_is_68_bytes_in_field_order(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_put_stat(&out, &sample_stat);
    assert_bytes(out.data, out.len,
                 "0000000000000101 0000000000000102 0000018bcfe56800 0000018bcfe56801"
                 "00000002 fffffffe 00000001 010000070e2f002f 00000003 00000004 "
                 "0000000000000103");
    struct coord_reader r;
    coord_reader_init(&r, out.data, out.len);
    struct coord_stat back;
    memset(&back, 0, sizeof back);
    assert_int_equal(coord_wire_get_stat(&r, &back), COORD_OK);
    assert_stat_equal(&back, &sample_stat);
    coord_reader_init(&r, out.data, COORD_WIRE_STAT_LEN - 1);
    assert_int_equal(coord_wire_get_stat(&r, &back), COORD_EMARSHALLING);
    assert_true(r.failed);
    coord_buf_free(&out);
}

static void test_get_data_reply_round_trips_null_and_empty(void **state)
{
    (void)state;
    static const int32_t lens[] = {-1, 0, 3};
    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        struct coord_buf out;
        coord_buf_init(&out);
        size_t start = coord_wire_reply_begin(&out, 9, 0x300, COORD_OK);
        coord_wire_put_buffer(&out, lens[i] < 0 ? NULL : data_new, lens[i]);
        coord_wire_put_stat(&out, &sample_stat);
        coord_wire_frame_end(&out, start);
        size_t len;
        const uint8_t *payload = only_frame(&out, &len);
        int32_t xid, err;
        int64_t zxid;
        size_t off;
        assert_int_equal(coord_wire_decode_reply_header(payload, len, &xid, &zxid, &err, &off),
                         COORD_OK);
        assert_int_equal(xid, 9);
        assert_int_equal(zxid, 0x300);
        struct coord_reader r;
        coord_reader_init(&r, payload + off, len - off);
        const uint8_t *data;
        int32_t data_len;
        struct coord_stat stat;
        assert_int_equal(coord_wire_get_buffer(&r, &data, &data_len), COORD_OK);
        assert_int_equal(coord_wire_get_stat(&r, &stat), COORD_OK);
        assert_data_equal(data, data_len, lens[i] < 0 ? NULL : data_new, lens[i]);
        assert_stat_equal(&stat, &sample_stat);
        assert_int_equal(coord_reader_left(&r), 0);
        coord_buf_free(&out);
    }
}

static void test_acl_vector_reply_round_trips(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_put_acl_vector(&out, acl_two, 2);
    coord_wire_put_acl_vector(&out, NULL, 0);
    coord_wire_put_int(&out, -1); /* A null vector, as a client may send. */
    struct coord_reader r;
    coord_reader_init(&r, out.data, out.len);
    struct coord_acl *acl;
    int32_t count;
    assert_int_equal(coord_wire_get_acl_vector(&r, &acl, &count), COORD_OK);
    assert_acls_equal(acl, count, acl_two, 2);
    coord_free(acl);
    assert_int_equal(coord_wire_get_acl_vector(&r, &acl, &count), COORD_OK);
    assert_int_equal(count, 0);
    assert_null(acl);
    assert_int_equal(coord_wire_get_acl_vector(&r, &acl, &count), COORD_OK);
    assert_int_equal(count, -1);
    assert_null(acl);
    assert_int_equal(coord_reader_left(&r), 0);
    /* Truncated anywhere: an error, and nothing allocated. */
    coord_buf_reset(&out);
    coord_wire_put_acl_vector(&out, acl_two, 2);
    for (size_t cut = 0; cut < out.len; cut++) {
        coord_reader_init(&r, out.data, cut);
        assert_int_equal(coord_wire_get_acl_vector(&r, &acl, &count), COORD_EMARSHALLING);
        assert_null(acl);
        assert_true(r.failed);
    }
    coord_buf_free(&out);
}

static void test_children_reply_round_trips(void **state)
{
    (void)state;
    const struct coord_str kids[3] = {S("zookeeper"), S("a"), S("lock-0000000001")};
    struct coord_buf out;
    coord_buf_init(&out);
    size_t start = coord_wire_reply_begin(&out, 4, 0x10, COORD_OK);
    coord_wire_put_strvec(&out, kids, 3);
    coord_wire_put_stat(&out, &sample_stat);
    coord_wire_frame_end(&out, start);
    size_t len;
    const uint8_t *payload = only_frame(&out, &len);
    struct coord_reader r;
    coord_reader_init(&r, payload + 16, len - 16);
    struct coord_strvec v;
    struct coord_stat stat;
    assert_int_equal(coord_wire_get_strvec(&r, &v), COORD_OK);
    assert_int_equal(coord_wire_get_stat(&r, &stat), COORD_OK);
    assert_strvec(&v, kids, 3);
    assert_stat_equal(&stat, &sample_stat);
    assert_int_equal(coord_reader_left(&r), 0);
    coord_buf_free(&out);
}

static void test_addwatch_and_count_replies_are_one_int(void **state)
{
    (void)state;
    struct coord_buf out;
    coord_buf_init(&out);
    size_t start = coord_wire_reply_begin(&out, 12, 0x20, COORD_OK);
    coord_wire_put_int(&out, 0); /* ErrorResponse {0}: the Java client needs it. */
    coord_wire_frame_end(&out, start);
    assert_bytes(out.data, out.len, "00000014 0000000c 0000000000000020 00000000 00000000");
    struct coord_reader r;
    coord_reader_init(&r, out.data + 20, out.len - 20);
    assert_int_equal(coord_wire_get_int(&r), 0);
    assert_false(r.failed);
    assert_int_equal(coord_wire_get_int(&r), 0);
    assert_true(r.failed);
    coord_buf_free(&out);
}

static void test_body_readers_handle_null_empty_and_truncation(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len =
        unhex("0000000000000105 01 00 ffffffff 00000000 00000002 2f61 fffffffe", buf, sizeof buf);
    struct coord_reader r;
    coord_reader_init(&r, buf, len);
    assert_int_equal(coord_wire_get_long(&r), 0x105);
    assert_true(coord_wire_get_bool(&r));
    assert_false(coord_wire_get_bool(&r));
    struct coord_str s;
    assert_int_equal(coord_wire_get_str(&r, &s), COORD_OK);
    assert_int_equal(s.len, -1);
    assert_null(s.ptr);
    assert_int_equal(coord_wire_get_str(&r, &s), COORD_OK);
    assert_int_equal(s.len, 0);
    assert_int_equal(coord_wire_get_str(&r, &s), COORD_OK);
    assert_cstr(s, "/a");
    assert_int_equal(coord_wire_get_str(&r, &s), COORD_EMARSHALLING); /* -2 */
    assert_true(r.failed);
    assert_int_equal(coord_wire_get_long(&r), 0); /* Stays failed. */

    /* A truncated WatcherEvent or ClientInfo vector is an error, never a read past the end. */
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_notification(&out, COORD_EV_CREATED, 3, "/w", 2);
    struct coord_watcher_event ev;
    coord_reader_init(&r, out.data + 20, out.len - 21);
    assert_int_equal(coord_wire_get_watcher_event(&r, &ev), COORD_EMARSHALLING);
    assert_int_equal(ev.type, 0);
    assert_null(ev.path.ptr);
    coord_buf_reset(&out);
    const struct coord_ident ids[1] = {{S("ip"), S("10.0.0.1")}};
    coord_wire_put_ident_vector(&out, ids, 1);
    struct coord_strvec v;
    for (size_t cut = 0; cut < out.len; cut++) {
        coord_reader_init(&r, out.data, cut);
        assert_int_equal(coord_wire_get_ident_vector(&r, &v), COORD_EMARSHALLING);
    }
    coord_buf_reset(&out);
    coord_wire_put_int(&out, -1);
    coord_reader_init(&r, out.data, out.len);
    assert_int_equal(coord_wire_get_ident_vector(&r, &v), COORD_OK);
    assert_int_equal(v.count, -1);
    coord_buf_free(&out);
}

static void test_failed_multi_results_repeat_the_code(void **state)
{
    (void)state;
    /* Observed for [create, check(bad version), delete]. */
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_put_multi_error(&out, 0);
    coord_wire_put_multi_error(&out, COORD_EBADVERSION);
    coord_wire_put_multi_error(&out, COORD_ERUNTIMEINCONSISTENCY);
    coord_wire_put_multi_end(&out);
    assert_bytes(out.data, out.len,
                 "ffffffff 00 00000000 00000000"
                 "ffffffff 00 ffffff99 ffffff99"
                 "ffffffff 00 fffffffe fffffffe"
                 "ffffffff 01 ffffffff");
    struct coord_reader r;
    coord_reader_init(&r, out.data, out.len);
    struct coord_multi_result res;
    static const int32_t codes[] = {0, -103, -2};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(coord_wire_get_multi_result(&r, &res), 1);
        assert_int_equal(res.type, COORD_OP_ERROR);
        assert_int_equal(res.err, codes[i]);
    }
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 0);
    assert_int_equal(coord_reader_left(&r), 0);
    coord_buf_free(&out);
}

static void put_all_results(struct coord_buf *out, const struct coord_str *kids)
{
    coord_wire_put_multi_header(out, COORD_OP_CREATE, false, 0);
    coord_wire_put_str(out, "/m/a", 4);
    coord_wire_put_multi_header(out, COORD_OP_CREATE2, false, 0);
    coord_wire_put_str(out, "/m/b", 4);
    coord_wire_put_stat(out, &sample_stat);
    coord_wire_put_multi_header(out, COORD_OP_DELETE, false, 0);
    coord_wire_put_multi_header(out, COORD_OP_SETDATA, false, 0);
    coord_wire_put_stat(out, &sample_stat);
    coord_wire_put_multi_header(out, COORD_OP_CHECK, false, 0);
    coord_wire_put_multi_header(out, COORD_OP_GETDATA, false, 0);
    coord_wire_put_buffer(out, data_new, 3);
    coord_wire_put_stat(out, &sample_stat);
    coord_wire_put_multi_header(out, COORD_OP_GETCHILDREN, false, 0);
    coord_wire_put_strvec(out, kids, 2);
    coord_wire_put_multi_end(out);
}

static void test_multi_results_decode_every_type(void **state)
{
    (void)state;
    const struct coord_str kids[2] = {S("a"), S("b")};
    struct coord_buf out;
    coord_buf_init(&out);
    put_all_results(&out, kids);
    struct coord_reader r;
    coord_reader_init(&r, out.data, out.len);
    struct coord_multi_result res;
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 1);
    assert_int_equal(res.type, COORD_OP_CREATE);
    assert_cstr(res.path, "/m/a");
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 1);
    assert_int_equal(res.type, COORD_OP_CREATE2);
    assert_cstr(res.path, "/m/b");
    assert_stat_equal(&res.stat, &sample_stat);
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 1);
    assert_int_equal(res.type, COORD_OP_DELETE);
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 1);
    assert_int_equal(res.type, COORD_OP_SETDATA);
    assert_stat_equal(&res.stat, &sample_stat);
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 1);
    assert_int_equal(res.type, COORD_OP_CHECK);
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 1);
    assert_int_equal(res.type, COORD_OP_GETDATA);
    assert_data_equal(res.data, res.data_len, data_new, 3);
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 1);
    assert_int_equal(res.type, COORD_OP_GETCHILDREN);
    assert_strvec(&res.children, kids, 2);
    assert_int_equal(coord_wire_get_multi_result(&r, &res), 0);
    assert_int_equal(coord_reader_left(&r), 0);

    /* Every truncation fails somewhere before the terminator, never past the end. */
    for (size_t cut = 0; cut < out.len; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, out.data, cut);
        coord_reader_init(&r, copy, cut);
        int rc;
        int results = 0;
        while ((rc = coord_wire_get_multi_result(&r, &res)) == 1) {
            results++;
        }
        assert_int_equal(rc, COORD_EMARSHALLING);
        assert_true(results <= 7);
        free(copy);
    }
    /* An unknown result type. */
    coord_buf_reset(&out);
    coord_wire_put_multi_header(&out, COORD_OP_SYNC, false, 0);
    coord_wire_put_str(&out, "/", 1);
    coord_reader_init(&r, out.data, out.len);
    assert_int_equal(coord_wire_get_multi_result(&r, &res), COORD_EMARSHALLING);
    coord_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_needs_length_and_whole_payload),
        cmocka_unit_test(test_frame_length_over_max_is_rejected),
        cmocka_unit_test(test_4lw_matches_command_words_case_sensitively),
        cmocka_unit_test(test_connect_request_45_bytes_has_readonly),
        cmocka_unit_test(test_connect_request_44_bytes_has_no_readonly),
        cmocka_unit_test(test_connect_request_null_or_empty_passwd_is_accepted),
        cmocka_unit_test(test_connect_request_bad_passwd_length_is_marshalling_error),
        cmocka_unit_test(test_connect_response_is_37_bytes_when_request_had_readonly),
        cmocka_unit_test(test_connect_response_is_36_bytes_otherwise),
        cmocka_unit_test(test_connect_response_decode_pads_short_passwd_and_rejects_long),
        cmocka_unit_test(test_kazoo_create_request_decodes),
        cmocka_unit_test(test_auth_packet_bytes),
        cmocka_unit_test(test_setwatches_matches_c_client_reconnect),
        cmocka_unit_test(test_ping_and_close_have_empty_bodies),
        cmocka_unit_test(test_whoami_has_no_body_and_replies_client_info),
        cmocka_unit_test(test_null_string_length_minus_one),
        cmocka_unit_test(test_length_below_minus_one_is_marshalling_error),
        cmocka_unit_test(test_length_past_the_end_is_marshalling_error),
        cmocka_unit_test(test_truncated_body_keeps_xid_for_error_reply),
        cmocka_unit_test(test_frame_shorter_than_header_is_marshalling_error),
        cmocka_unit_test(test_unknown_opcode_is_unimplemented),
        cmocka_unit_test(test_trailing_bytes_after_record_are_ignored),
        cmocka_unit_test(test_multi_terminator_bytes),
        cmocka_unit_test(test_multi_rejects_read_ops),
        cmocka_unit_test(test_multiread_rejects_write_ops),
        cmocka_unit_test(test_multi_over_max_ops_is_marshalling_error),
        cmocka_unit_test(test_multi_acls_point_into_one_storage),
        cmocka_unit_test(test_every_op_round_trips),
        cmocka_unit_test(test_every_truncation_of_every_request_is_rejected_cleanly),
        cmocka_unit_test(test_out_of_memory_while_decoding_is_enomem),
        cmocka_unit_test(test_notification_bytes_match_real_server),
        cmocka_unit_test(test_reply_header_shorter_than_16_is_rejected),
        cmocka_unit_test(test_stat_is_68_bytes_in_field_order),
        cmocka_unit_test(test_get_data_reply_round_trips_null_and_empty),
        cmocka_unit_test(test_acl_vector_reply_round_trips),
        cmocka_unit_test(test_children_reply_round_trips),
        cmocka_unit_test(test_addwatch_and_count_replies_are_one_int),
        cmocka_unit_test(test_body_readers_handle_null_empty_and_truncation),
        cmocka_unit_test(test_failed_multi_results_repeat_the_code),
        cmocka_unit_test(test_multi_results_decode_every_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
