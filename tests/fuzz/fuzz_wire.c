/* libFuzzer target for the wire codec (protocol/wire.c).
 *
 * The input is read three ways: as a stream of frames (each payload copied to
 * an exact-size allocation, so any over-read trips ASan), and as one payload
 * handed to every decoder. Whatever decodes is encoded again and decoded once
 * more, and the two decodings must agree; re-encoding must be stable.
 *
 * Build (only the modules wire.c needs):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iprotocol/include \
 *     protocol/util.c protocol/alloc.c protocol/err.c protocol/wire.c \
 *     tests/fuzz/fuzz_wire.c tests/fuzz/fuzz_panic.c -o /tmp/fuzz_wire
 *   /tmp/fuzz_wire -max_total_time=300 /tmp/fuzz_wire_corpus */
#include <stdlib.h>
#include <string.h>

#include "coord/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(x)                            \
    do {                                         \
        if (!(x)) {                              \
            coord_panic(__FILE__, __LINE__, #x); \
        }                                        \
    } while (0)

/* ---- equality of decoded values ---------------------------------------------------- */

static bool str_equal(struct coord_str a, struct coord_str b)
{
    if (a.len != b.len) {
        return false;
    }
    if (a.len < 0) {
        return a.ptr == NULL && b.ptr == NULL;
    }
    return a.len == 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}

static bool bytes_equal(const uint8_t *a, int32_t a_len, const uint8_t *b, int32_t b_len)
{
    struct coord_str sa = {(const char *)a, a_len};
    struct coord_str sb = {(const char *)b, b_len};
    return str_equal(sa, sb);
}

static bool acls_equal(const struct coord_acl *a,
                       int32_t a_count,
                       const struct coord_acl *b,
                       int32_t b_count)
{
    if (a_count != b_count) {
        return false;
    }
    for (int32_t i = 0; i < a_count; i++) {
        if (a[i].perms != b[i].perms || !str_equal(a[i].ident.scheme, b[i].ident.scheme) ||
            !str_equal(a[i].ident.id, b[i].ident.id)) {
            return false;
        }
    }
    return true;
}

static bool op_equal(const struct coord_op *a, const struct coord_op *b)
{
    return a->type == b->type && str_equal(a->path, b->path) &&
           bytes_equal(a->data, a->data_len, b->data, b->data_len) &&
           acls_equal(a->acl, a->acl_count, b->acl, b->acl_count) && a->flags == b->flags &&
           a->version == b->version && a->ttl == b->ttl && a->watch == b->watch &&
           a->mode == b->mode;
}

static bool strvec_equal(const struct coord_strvec *a, const struct coord_strvec *b)
{
    if (a->count != b->count || a->raw_len != b->raw_len) {
        return false;
    }
    struct coord_strvec_iter ia, ib;
    coord_strvec_iter_init(&ia, a);
    coord_strvec_iter_init(&ib, b);
    struct coord_str sa, sb;
    int32_t n = 0;
    while (coord_strvec_next(&ia, &sa)) {
        if (!coord_strvec_next(&ib, &sb) || !str_equal(sa, sb)) {
            return false;
        }
        n++;
    }
    return !coord_strvec_next(&ib, &sb) && n == (a->count > 0 ? a->count : 0);
}

static bool request_equal(const struct coord_request *a, const struct coord_request *b)
{
    if (a->xid != b->xid || a->type != b->type || !op_equal(&a->op, &b->op) ||
        a->op_count != b->op_count) {
        return false;
    }
    for (uint32_t i = 0; i < a->op_count; i++) {
        if (!op_equal(&a->ops[i], &b->ops[i])) {
            return false;
        }
    }
    for (int i = 0; i < COORD_WATCH_LISTS; i++) {
        if (!strvec_equal(&a->watches[i], &b->watches[i])) {
            return false;
        }
    }
    return a->auth_type == b->auth_type && str_equal(a->auth_scheme, b->auth_scheme) &&
           bytes_equal(a->auth_data, a->auth_len, b->auth_data, b->auth_len) &&
           a->relative_zxid == b->relative_zxid && a->reconfig_curconfig == b->reconfig_curconfig &&
           str_equal(a->reconfig_joining, b->reconfig_joining) &&
           str_equal(a->reconfig_leaving, b->reconfig_leaving) &&
           str_equal(a->reconfig_newmembers, b->reconfig_newmembers) &&
           bytes_equal(a->sasl_token, a->sasl_len, b->sasl_token, b->sasl_len);
}

static bool stat_equal(const struct coord_stat *a, const struct coord_stat *b)
{
    return a->czxid == b->czxid && a->mzxid == b->mzxid && a->ctime == b->ctime &&
           a->mtime == b->mtime && a->version == b->version && a->cversion == b->cversion &&
           a->aversion == b->aversion && a->ephemeral_owner == b->ephemeral_owner &&
           a->data_length == b->data_length && a->num_children == b->num_children &&
           a->pzxid == b->pzxid;
}

/* The payload of the single frame `b` must hold. */
static const uint8_t *only_frame(const struct coord_buf *b, size_t *len)
{
    FUZZ_CHECK(!b->failed);
    FUZZ_CHECK(coord_wire_frame(b->data, b->len, UINT32_MAX, len) == 1);
    FUZZ_CHECK(*len + 4 == b->len);
    return b->data + 4;
}

/* ---- server side: requests and the handshake --------------------------------------------- */

static void fuzz_request(const uint8_t *payload, size_t len)
{
    struct coord_request req;
    int rc = coord_wire_decode_request(payload, len, &req);
    FUZZ_CHECK(rc == COORD_OK || rc == COORD_EMARSHALLING || rc == COORD_EUNIMPLEMENTED ||
               rc == COORD_ENOMEM);
    if (rc != COORD_OK) {
        FUZZ_CHECK(req.ops == NULL && req.acls_storage == NULL);
        if (len >= COORD_WIRE_REQUEST_HEADER_LEN) {
            FUZZ_CHECK(req.xid == (int32_t)coord_load_be32(payload));
        }
        coord_wire_request_release(&req);
        return;
    }
    struct coord_buf first, second;
    coord_buf_init(&first);
    coord_buf_init(&second);
    coord_wire_encode_decoded(&first, &req);
    size_t again_len;
    const uint8_t *again = only_frame(&first, &again_len);
    struct coord_request back;
    FUZZ_CHECK(coord_wire_decode_request(again, again_len, &back) == COORD_OK);
    FUZZ_CHECK(request_equal(&req, &back));
    /* The canonical form is a fixed point. */
    coord_wire_encode_decoded(&second, &back);
    FUZZ_CHECK(second.len == first.len && memcmp(second.data, first.data, first.len) == 0);
    coord_wire_request_release(&back);
    coord_wire_request_release(&req);
    coord_buf_free(&first);
    coord_buf_free(&second);
}

static void fuzz_connect(const uint8_t *payload, size_t len)
{
    struct coord_connect_req req;
    if (coord_wire_decode_connect(payload, len, &req) != COORD_OK) {
        return;
    }
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_connect(&out, &req);
    size_t again_len;
    const uint8_t *again = only_frame(&out, &again_len);
    FUZZ_CHECK(again_len <= len);
    struct coord_connect_req back;
    FUZZ_CHECK(coord_wire_decode_connect(again, again_len, &back) == COORD_OK);
    FUZZ_CHECK(back.protocol_version == req.protocol_version);
    FUZZ_CHECK(back.last_zxid == req.last_zxid && back.timeout_ms == req.timeout_ms);
    FUZZ_CHECK(back.session == req.session);
    FUZZ_CHECK(bytes_equal(back.passwd, back.passwd_len, req.passwd, req.passwd_len));
    FUZZ_CHECK(back.has_readonly == req.has_readonly && back.readonly == req.readonly);

    /* The reply mirrors the readOnly byte and is always 36 or 37 bytes. */
    struct coord_connect_resp resp = {.timeout_ms = req.timeout_ms,
                                      .session = req.session,
                                      .has_readonly = req.has_readonly,
                                      .readonly = req.readonly};
    coord_buf_reset(&out);
    coord_wire_encode_connect_resp(&out, &resp);
    FUZZ_CHECK(out.len == (req.has_readonly ? 41u : 40u));
    coord_buf_free(&out);
}

/* ---- client side: replies -------------------------------------------------------------------- */

static void fuzz_connect_resp(const uint8_t *payload, size_t len)
{
    struct coord_connect_resp resp;
    if (coord_wire_decode_connect_resp(payload, len, &resp) != COORD_OK) {
        return;
    }
    struct coord_buf out;
    coord_buf_init(&out);
    coord_wire_encode_connect_resp(&out, &resp);
    size_t again_len;
    const uint8_t *again = only_frame(&out, &again_len);
    struct coord_connect_resp back;
    FUZZ_CHECK(coord_wire_decode_connect_resp(again, again_len, &back) == COORD_OK);
    FUZZ_CHECK(back.timeout_ms == resp.timeout_ms && back.session == resp.session);
    FUZZ_CHECK(memcmp(back.passwd, resp.passwd, COORD_WIRE_PASSWD_LEN) == 0);
    FUZZ_CHECK(back.has_readonly == resp.has_readonly && back.readonly == resp.readonly);
    coord_buf_free(&out);
}

static void put_result(struct coord_buf *out, const struct coord_multi_result *res)
{
    if (res->type == COORD_OP_ERROR) {
        coord_wire_put_multi_error(out, res->err);
        return;
    }
    coord_wire_put_multi_header(out, res->type, false, 0);
    if (res->type == COORD_OP_CREATE || res->type == COORD_OP_CREATE2) {
        coord_wire_put_ustring(out, res->path);
    }
    if (res->type == COORD_OP_GETDATA) {
        coord_wire_put_buffer(out, res->data, res->data_len);
    }
    if (res->type == COORD_OP_GETCHILDREN) {
        struct coord_strvec_iter it;
        struct coord_str s;
        coord_wire_put_int(out, res->children.count);
        coord_strvec_iter_init(&it, &res->children);
        while (coord_strvec_next(&it, &s)) {
            coord_wire_put_ustring(out, s);
        }
    }
    if (res->type == COORD_OP_CREATE2 || res->type == COORD_OP_SETDATA ||
        res->type == COORD_OP_GETDATA) {
        coord_wire_put_stat(out, &res->stat);
    }
}

/* Decode a multi response; when it is whole, write it again and compare. */
static void fuzz_multi_results(const uint8_t *body, size_t len)
{
    struct coord_reader r;
    coord_reader_init(&r, body, len);
    struct coord_buf out;
    coord_buf_init(&out);
    struct coord_multi_result res;
    int rc;
    while ((rc = coord_wire_get_multi_result(&r, &res)) == 1) {
        put_result(&out, &res);
    }
    if (rc == 0) {
        coord_wire_put_multi_end(&out);
        FUZZ_CHECK(!out.failed);
        struct coord_reader again;
        coord_reader_init(&again, out.data, out.len);
        struct coord_reader orig;
        coord_reader_init(&orig, body, len);
        struct coord_multi_result a, b;
        while ((rc = coord_wire_get_multi_result(&orig, &a)) == 1) {
            FUZZ_CHECK(coord_wire_get_multi_result(&again, &b) == 1);
            FUZZ_CHECK(a.type == b.type && a.err == b.err && str_equal(a.path, b.path));
            FUZZ_CHECK(stat_equal(&a.stat, &b.stat));
            FUZZ_CHECK(bytes_equal(a.data, a.data_len, b.data, b.data_len));
            FUZZ_CHECK(strvec_equal(&a.children, &b.children));
        }
        FUZZ_CHECK(rc == 0 && coord_wire_get_multi_result(&again, &b) == 0);
        FUZZ_CHECK(coord_reader_left(&again) == 0);
    } else {
        FUZZ_CHECK(rc == COORD_EMARSHALLING && r.failed);
    }
    coord_buf_free(&out);
}

/* Every other body reader, each on a fresh reader over the same bytes. */
static void fuzz_bodies(const uint8_t *body, size_t len)
{
    struct coord_reader r;
    struct coord_watcher_event ev;
    coord_reader_init(&r, body, len);
    FUZZ_CHECK((coord_wire_get_watcher_event(&r, &ev) == COORD_OK) == !r.failed);

    struct coord_acl *acl;
    int32_t count;
    coord_reader_init(&r, body, len);
    int rc = coord_wire_get_acl_vector(&r, &acl, &count);
    FUZZ_CHECK(rc == COORD_OK || rc == COORD_EMARSHALLING || rc == COORD_ENOMEM);
    if (rc == COORD_OK) {
        struct coord_buf out;
        coord_buf_init(&out);
        coord_wire_put_int(&out, count);
        for (int32_t i = 0; i < count; i++) {
            coord_wire_put_int(&out, acl[i].perms);
            coord_wire_put_ustring(&out, acl[i].ident.scheme);
            coord_wire_put_ustring(&out, acl[i].ident.id);
        }
        FUZZ_CHECK(out.len == r.pos && memcmp(out.data, body, out.len) == 0);
        coord_buf_free(&out);
    }
    FUZZ_CHECK(rc == COORD_OK || acl == NULL);
    coord_free(acl);

    struct coord_strvec v;
    coord_reader_init(&r, body, len);
    if (coord_wire_get_strvec(&r, &v) == COORD_OK) {
        FUZZ_CHECK(v.raw_len + 4 == r.pos);
        struct coord_strvec_iter it;
        struct coord_str s;
        int32_t n = 0;
        coord_strvec_iter_init(&it, &v);
        while (coord_strvec_next(&it, &s)) {
            FUZZ_CHECK(s.len >= -1);
            n++;
        }
        FUZZ_CHECK(n == (v.count > 0 ? v.count : 0));
    }
    coord_reader_init(&r, body, len);
    if (coord_wire_get_ident_vector(&r, &v) == COORD_OK) {
        FUZZ_CHECK(v.count == -1 || v.count % 2 == 0);
    }
    const uint8_t *ptr;
    int32_t blen;
    struct coord_stat stat;
    coord_reader_init(&r, body, len);
    if (coord_wire_get_buffer(&r, &ptr, &blen) == COORD_OK &&
        coord_wire_get_stat(&r, &stat) == COORD_OK) {
        FUZZ_CHECK(blen >= -1 && r.pos == 4 + (size_t)(blen > 0 ? blen : 0) + COORD_WIRE_STAT_LEN);
    }
}

static void fuzz_reply(const uint8_t *payload, size_t len)
{
    int32_t xid, err;
    int64_t zxid;
    size_t off;
    if (coord_wire_decode_reply_header(payload, len, &xid, &zxid, &err, &off) != COORD_OK) {
        FUZZ_CHECK(len < COORD_WIRE_REPLY_HEADER_LEN);
        return;
    }
    fuzz_multi_results(payload + off, len - off);
    fuzz_bodies(payload + off, len - off);
}

/* ---- the whole input ---------------------------------------------------------------------------
 */

static void fuzz_payload(const uint8_t *payload, size_t len)
{
    fuzz_request(payload, len);
    fuzz_connect(payload, len);
    fuzz_connect_resp(payload, len);
    fuzz_reply(payload, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4) {
        char word[5];
        (void)coord_wire_is_4lw(data, word);
    }
    fuzz_payload(data, size);

    /* Split the input into frames; a small max keeps the frame path busy too. */
    uint32_t max_len = size > 0 && (data[0] & 1) ? 64 : COORD_WIRE_MAX_FRAME;
    size_t pos = 0;
    for (;;) {
        size_t frame_len = 0;
        int rc = coord_wire_frame(data + pos, size - pos, max_len, &frame_len);
        if (rc != 1) {
            FUZZ_CHECK(rc == 0 || rc == COORD_EMARSHALLING);
            break;
        }
        FUZZ_CHECK(frame_len <= max_len && frame_len <= size - pos - 4);
        uint8_t *copy = malloc(frame_len > 0 ? frame_len : 1);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, data + pos + 4, frame_len);
        fuzz_payload(copy, frame_len);
        free(copy);
        pos += 4 + frame_len;
    }
    return 0;
}
