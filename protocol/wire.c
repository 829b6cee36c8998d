/* The ZooKeeper client wire protocol: framing, the handshake, every request
 * record and every reply record, in both directions (see wire.h and zk-wire). */
#include "coord/wire.h"

#include <string.h>

/* ---- jute primitives: reading --------------------------------------------------- */

static void wire_fail(struct coord_reader *r)
{
    r->failed = true;
}

static int32_t wire_int(struct coord_reader *r)
{
    return (int32_t)coord_reader_be32(r);
}

static int64_t wire_long(struct coord_reader *r)
{
    return (int64_t)coord_reader_be64(r);
}

/* jute's DataInput.readBoolean: any nonzero byte is true. */
static bool wire_bool(struct coord_reader *r)
{
    return coord_reader_u8(r) != 0;
}

/* A ustring or buffer length: -1 is null, below that is garbage (the Java
 * server's checkLength rejects it too). Returns -1 on failure as well; the
 * caller tells the two apart by r->failed. */
static int32_t wire_len(struct coord_reader *r)
{
    int32_t n = wire_int(r);
    if (!r->failed && n < -1) {
        wire_fail(r);
    }
    return r->failed ? -1 : n;
}

static void wire_bytes(struct coord_reader *r, const uint8_t **ptr, int32_t *len)
{
    *ptr = NULL;
    *len = -1;
    int32_t n = wire_len(r);
    if (r->failed || n < 0) {
        return;
    }
    const uint8_t *p = coord_reader_bytes(r, (size_t)n);
    if (p != NULL) {
        *ptr = p;
        *len = n;
    }
}

static void wire_ustring(struct coord_reader *r, struct coord_str *s)
{
    const uint8_t *p;
    wire_bytes(r, &p, &s->len);
    s->ptr = (const char *)p;
}

/* A vector<ustring>: validated element by element, then kept as raw bytes. */
static void wire_strvec(struct coord_reader *r, struct coord_strvec *v)
{
    memset(v, 0, sizeof *v);
    int32_t n = wire_len(r);
    if (r->failed) {
        return;
    }
    size_t start = r->pos;
    for (int32_t i = 0; i < n && !r->failed; i++) {
        struct coord_str s;
        wire_ustring(r, &s);
    }
    if (r->failed) {
        return;
    }
    v->raw = n > 0 ? r->data + start : NULL;
    v->count = n;
    v->raw_len = r->pos - start;
}

static void wire_stat(struct coord_reader *r, struct coord_stat *s)
{
    s->czxid = wire_long(r);
    s->mzxid = wire_long(r);
    s->ctime = wire_long(r);
    s->mtime = wire_long(r);
    s->version = wire_int(r);
    s->cversion = wire_int(r);
    s->aversion = wire_int(r);
    s->ephemeral_owner = wire_long(r);
    s->data_length = wire_int(r);
    s->num_children = wire_int(r);
    s->pzxid = wire_long(r);
}

/* ---- jute primitives: writing ------------------------------------------------------ */

static void wire_put_len(struct coord_buf *out, int32_t len)
{
    coord_buf_be32(out, (uint32_t)len);
}

static void wire_put_bytes(struct coord_buf *out, const void *ptr, int32_t len)
{
    COORD_ASSERT(len >= -1);
    wire_put_len(out, len);
    if (len > 0) {
        COORD_ASSERT(ptr != NULL);
        coord_buf_put(out, ptr, (size_t)len);
    }
}

static void wire_put_acls(struct coord_buf *out, const struct coord_acl *acl, int32_t count)
{
    COORD_ASSERT(count >= -1);
    wire_put_len(out, count);
    for (int32_t i = 0; i < count; i++) {
        coord_wire_put_int(out, acl[i].perms);
        coord_wire_put_ustring(out, acl[i].ident.scheme);
        coord_wire_put_ustring(out, acl[i].ident.id);
    }
}

static void wire_put_strlist(struct coord_buf *out, const struct coord_str *items, int32_t count)
{
    COORD_ASSERT(count >= -1);
    wire_put_len(out, count);
    for (int32_t i = 0; i < count; i++) {
        coord_wire_put_ustring(out, items[i]);
    }
}

/* A decoded vector goes back out byte for byte: its elements were validated. */
static void wire_put_rawvec(struct coord_buf *out, const struct coord_strvec *v)
{
    wire_put_len(out, v->count);
    if (v->count > 0) {
        coord_buf_put(out, v->raw, v->raw_len);
    }
}

static size_t wire_frame_begin(struct coord_buf *out)
{
    size_t start = out->len;
    coord_buf_be32(out, 0);
    return start;
}

static size_t wire_request_begin(struct coord_buf *out, int32_t xid, int32_t type)
{
    size_t start = wire_frame_begin(out);
    coord_wire_put_int(out, xid);
    coord_wire_put_int(out, type);
    return start;
}

/* ---- framing --------------------------------------------------------------------------- */

int coord_wire_frame(const uint8_t *buf, size_t len, uint32_t max_len, size_t *frame_len)
{
    if (len < 4) {
        return 0;
    }
    uint32_t n = coord_load_be32(buf);
    if (n > (uint32_t)INT32_MAX || n > max_len) {
        return COORD_EMARSHALLING;
    }
    *frame_len = n;
    return len - 4 >= n ? 1 : 0;
}

/* ---- four-letter words ----------------------------------------------------------------- */

static const char wire_4lw_words[][5] = {
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
    "srvr", "srst", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash",
};

bool coord_wire_is_4lw(const uint8_t first4[4], char out[5])
{
    for (size_t i = 0; i < sizeof wire_4lw_words / sizeof wire_4lw_words[0]; i++) {
        if (memcmp(first4, wire_4lw_words[i], 4) == 0) {
            memcpy(out, wire_4lw_words[i], 5);
            return true;
        }
    }
    if (coord_load_be32(first4) == COORD_WIRE_TELNET_CLOSE) {
        memcpy(out, first4, 4);
        out[4] = '\0';
        return true;
    }
    return false;
}

/* ---- handshake ---------------------------------------------------------------------------- */

int coord_wire_decode_connect(const uint8_t *payload, size_t len, struct coord_connect_req *req)
{
    memset(req, 0, sizeof *req);
    req->passwd_len = -1;
    if (len < 4) {
        return COORD_EMARSHALLING;
    }
    struct coord_reader r;
    coord_reader_init(&r, payload, len);
    req->protocol_version = wire_int(&r);
    req->last_zxid = wire_long(&r);
    req->timeout_ms = wire_int(&r);
    req->session = wire_long(&r);
    wire_bytes(&r, &req->passwd, &req->passwd_len);
    if (r.failed) {
        memset(req, 0, sizeof *req);
        req->passwd_len = -1;
        return COORD_EMARSHALLING;
    }
    /* The real server detects readOnly by trying to read one more byte. */
    req->has_readonly = coord_reader_left(&r) > 0;
    if (req->has_readonly) {
        req->readonly = wire_bool(&r);
    }
    return COORD_OK;
}

void coord_wire_encode_connect(struct coord_buf *out, const struct coord_connect_req *req)
{
    size_t start = wire_frame_begin(out);
    coord_wire_put_int(out, req->protocol_version);
    coord_wire_put_long(out, req->last_zxid);
    coord_wire_put_int(out, req->timeout_ms);
    coord_wire_put_long(out, req->session);
    wire_put_bytes(out, req->passwd, req->passwd_len);
    if (req->has_readonly) {
        coord_wire_put_bool(out, req->readonly);
    }
    coord_wire_frame_end(out, start);
}

void coord_wire_encode_connect_resp(struct coord_buf *out, const struct coord_connect_resp *resp)
{
    size_t start = wire_frame_begin(out);
    coord_wire_put_int(out, resp->protocol_version);
    coord_wire_put_int(out, resp->timeout_ms);
    coord_wire_put_long(out, resp->session);
    wire_put_bytes(out, resp->passwd, COORD_WIRE_PASSWD_LEN);
    if (resp->has_readonly) {
        coord_wire_put_bool(out, resp->readonly);
    }
    coord_wire_frame_end(out, start);
}

int coord_wire_decode_connect_resp(const uint8_t *payload,
                                   size_t len,
                                   struct coord_connect_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    if (len < 4) {
        return COORD_EMARSHALLING;
    }
    struct coord_reader r;
    coord_reader_init(&r, payload, len);
    resp->protocol_version = wire_int(&r);
    resp->timeout_ms = wire_int(&r);
    resp->session = wire_long(&r);
    const uint8_t *passwd;
    int32_t passwd_len;
    wire_bytes(&r, &passwd, &passwd_len);
    if (r.failed || passwd_len > COORD_WIRE_PASSWD_LEN) {
        memset(resp, 0, sizeof *resp);
        return COORD_EMARSHALLING;
    }
    if (passwd_len > 0) {
        memcpy(resp->passwd, passwd, (size_t)passwd_len);
    }
    resp->has_readonly = coord_reader_left(&r) > 0;
    if (resp->has_readonly) {
        resp->readonly = wire_bool(&r);
    }
    return COORD_OK;
}

/* ---- string vectors ---------------------------------------------------------------------------
 */

void coord_strvec_iter_init(struct coord_strvec_iter *it, const struct coord_strvec *vec)
{
    it->pos = vec->raw;
    it->left = vec->count > 0 ? vec->count : 0;
}

bool coord_strvec_next(struct coord_strvec_iter *it, struct coord_str *out)
{
    if (it->left <= 0) {
        return false;
    }
    /* No bounds checks: the decoder that made the vector validated each element. */
    int32_t n = (int32_t)coord_load_be32(it->pos);
    it->pos += 4;
    if (n < 0) {
        out->ptr = NULL;
        out->len = -1;
    } else {
        out->ptr = (const char *)it->pos;
        out->len = n;
        it->pos += n;
    }
    it->left--;
    return true;
}

/* ---- requests: which opcodes have which records -------------------------------------------------
 */

/* Ops whose whole request fits a struct coord_op. */
static bool wire_has_op_form(int32_t type)
{
    switch (type) {
        case COORD_OP_CREATE:
        case COORD_OP_DELETE:
        case COORD_OP_EXISTS:
        case COORD_OP_GETDATA:
        case COORD_OP_SETDATA:
        case COORD_OP_GETACL:
        case COORD_OP_SETACL:
        case COORD_OP_GETCHILDREN:
        case COORD_OP_SYNC:
        case COORD_OP_PING:
        case COORD_OP_GETCHILDREN2:
        case COORD_OP_CHECK:
        case COORD_OP_CREATE2:
        case COORD_OP_CHECKWATCHES:
        case COORD_OP_REMOVEWATCHES:
        case COORD_OP_CREATECONTAINER:
        case COORD_OP_DELETECONTAINER:
        case COORD_OP_CREATETTL:
        case COORD_OP_GETEPHEMERALS:
        case COORD_OP_GETALLCHILDRENNUMBER:
        case COORD_OP_ADDWATCH:
        case COORD_OP_WHOAMI:
        case COORD_OP_CLOSESESSION:
            return true;
        default:
            return false;
    }
}

static bool wire_is_request(int32_t type)
{
    switch (type) {
        case COORD_OP_MULTI:
        case COORD_OP_MULTIREAD:
        case COORD_OP_RECONFIG:
        case COORD_OP_AUTH:
        case COORD_OP_SETWATCHES:
        case COORD_OP_SASL:
        case COORD_OP_SETWATCHES2:
            return true;
        default:
            return wire_has_op_form(type);
    }
}

/* zk-wire §7: multi takes writes and check, multiRead only the two reads. */
bool coord_wire_multi_allows(int32_t multi_type, int32_t op_type)
{
    if (multi_type == COORD_OP_MULTIREAD) {
        return op_type == COORD_OP_GETCHILDREN || op_type == COORD_OP_GETDATA;
    }
    switch (op_type) {
        case COORD_OP_CREATE:
        case COORD_OP_CREATE2:
        case COORD_OP_CREATECONTAINER:
        case COORD_OP_CREATETTL:
        case COORD_OP_DELETE:
        case COORD_OP_SETDATA:
        case COORD_OP_CHECK:
            return true;
        default:
            return false;
    }
}

/* ---- requests: decoding
 * -------------------------------------------------------------------------- */

/* Requests are decoded twice over the same bytes. The first pass validates
 * and counts ops and ACL entries without allocating, so a hostile count can
 * never size an allocation; the second fills the arrays sized by the first,
 * and cannot fail. */
struct wire_dec
{
    struct coord_reader r;
    struct coord_op *ops; /* NULL in the counting pass. */
    uint32_t ops_cap;
    struct coord_acl *acl_next; /* NULL in the counting pass. */
    size_t acl_total;
};

static void wire_dec_init(struct wire_dec *d, const uint8_t *bytes, size_t len)
{
    memset(d, 0, sizeof *d);
    coord_reader_init(&d->r, bytes, len);
}

static void wire_dec_acls(struct wire_dec *d, struct coord_op *op)
{
    struct coord_reader *r = &d->r;
    op->acl = NULL;
    op->acl_count = wire_len(r);
    if (r->failed) {
        return;
    }
    struct coord_acl *base = d->acl_next;
    for (int32_t i = 0; i < op->acl_count && !r->failed; i++) {
        struct coord_acl a;
        a.perms = wire_int(r);
        wire_ustring(r, &a.ident.scheme);
        wire_ustring(r, &a.ident.id);
        if (base != NULL && !r->failed) {
            base[i] = a;
        }
    }
    if (r->failed || op->acl_count <= 0) {
        return;
    }
    op->acl = base;
    d->acl_total += (size_t)op->acl_count;
    if (base != NULL) {
        d->acl_next = base + op->acl_count;
    }
}

static void wire_dec_create(struct wire_dec *d, struct coord_op *op)
{
    wire_ustring(&d->r, &op->path);
    wire_bytes(&d->r, &op->data, &op->data_len);
    wire_dec_acls(d, op);
    op->flags = wire_int(&d->r);
    if (op->type == COORD_OP_CREATETTL) {
        op->ttl = wire_long(&d->r);
    }
}

/* The record of an op with a coord_op form; op->type is set and the rest zero. */
static void wire_dec_op(struct wire_dec *d, struct coord_op *op)
{
    struct coord_reader *r = &d->r;
    switch (op->type) {
        case COORD_OP_CREATE:
        case COORD_OP_CREATE2:
        case COORD_OP_CREATECONTAINER:
        case COORD_OP_CREATETTL:
            wire_dec_create(d, op);
            break;
        case COORD_OP_DELETE:
        case COORD_OP_CHECK:
            wire_ustring(r, &op->path);
            op->version = wire_int(r);
            break;
        case COORD_OP_EXISTS:
        case COORD_OP_GETDATA:
        case COORD_OP_GETCHILDREN:
        case COORD_OP_GETCHILDREN2:
            wire_ustring(r, &op->path);
            op->watch = wire_bool(r);
            break;
        case COORD_OP_SETDATA:
            wire_ustring(r, &op->path);
            wire_bytes(r, &op->data, &op->data_len);
            op->version = wire_int(r);
            break;
        case COORD_OP_SETACL:
            wire_ustring(r, &op->path);
            wire_dec_acls(d, op);
            op->version = wire_int(r);
            break;
        case COORD_OP_CHECKWATCHES:
        case COORD_OP_REMOVEWATCHES:
        case COORD_OP_ADDWATCH:
            wire_ustring(r, &op->path);
            op->mode = wire_int(r);
            break;
        case COORD_OP_PING:
        case COORD_OP_WHOAMI:
        case COORD_OP_CLOSESESSION:
            break;
        default: /* getACL, sync, deleteContainer, getEphemerals, getAllChildrenNumber */
            COORD_ASSERT(wire_has_op_form(op->type));
            wire_ustring(r, &op->path);
            break;
    }
}

static void wire_dec_multi(struct wire_dec *d, int32_t multi_type, uint32_t *count)
{
    struct coord_reader *r = &d->r;
    for (;;) {
        int32_t type = wire_int(r);
        bool done = wire_bool(r);
        (void)wire_int(r); /* err: clients send -1; the server ignores it. */
        /* Like the Java server, any header with done set ends the list. */
        if (r->failed || done) {
            return;
        }
        if (!coord_wire_multi_allows(multi_type, type) || *count >= COORD_MULTI_MAX) {
            wire_fail(r);
            return;
        }
        struct coord_op scratch;
        struct coord_op *op = &scratch;
        if (d->ops != NULL) {
            COORD_ASSERT(*count < d->ops_cap);
            op = &d->ops[*count];
        }
        memset(op, 0, sizeof *op);
        op->type = type;
        wire_dec_op(d, op);
        if (r->failed) {
            return;
        }
        (*count)++;
    }
}

static void wire_dec_body(struct wire_dec *d, struct coord_request *req, uint32_t *op_count)
{
    struct coord_reader *r = &d->r;
    req->op.type = req->type;
    switch (req->type) {
        case COORD_OP_MULTI:
        case COORD_OP_MULTIREAD:
            wire_dec_multi(d, req->type, op_count);
            break;
        case COORD_OP_AUTH:
            req->auth_type = wire_int(r);
            wire_ustring(r, &req->auth_scheme);
            wire_bytes(r, &req->auth_data, &req->auth_len);
            break;
        case COORD_OP_SETWATCHES:
        case COORD_OP_SETWATCHES2: {
            int lists = req->type == COORD_OP_SETWATCHES2 ? COORD_WATCH_LISTS : 3;
            req->relative_zxid = wire_long(r);
            for (int i = 0; i < lists; i++) {
                wire_strvec(r, &req->watches[i]);
            }
            break;
        }
        case COORD_OP_RECONFIG:
            wire_ustring(r, &req->reconfig_joining);
            wire_ustring(r, &req->reconfig_leaving);
            wire_ustring(r, &req->reconfig_newmembers);
            req->reconfig_curconfig = wire_long(r);
            break;
        case COORD_OP_SASL:
            wire_bytes(r, &req->sasl_token, &req->sasl_len);
            break;
        default:
            wire_dec_op(d, &req->op);
            break;
    }
}

/* Back to "header only": what a failed decode leaves behind. */
static void wire_request_clear(struct coord_request *req)
{
    int32_t xid = req->xid;
    int32_t type = req->type;
    coord_wire_request_release(req);
    req->xid = xid;
    req->type = type;
}

static int wire_dec_alloc(struct coord_request *req, uint32_t op_count, size_t acl_total)
{
    if (op_count > 0) {
        req->ops = coord_calloc(op_count, sizeof *req->ops);
        if (req->ops == NULL) {
            return COORD_ENOMEM;
        }
    }
    if (acl_total > 0) {
        req->acls_storage = coord_calloc(acl_total, sizeof *req->acls_storage);
        if (req->acls_storage == NULL) {
            return COORD_ENOMEM;
        }
    }
    return COORD_OK;
}

int coord_wire_decode_request(const uint8_t *payload, size_t len, struct coord_request *req)
{
    memset(req, 0, sizeof *req);
    if (len < COORD_WIRE_REQUEST_HEADER_LEN) {
        return COORD_EMARSHALLING;
    }
    req->xid = (int32_t)coord_load_be32(payload);
    req->type = (int32_t)coord_load_be32(payload + 4);
    if (req->type == COORD_OP_CREATESESSION) {
        return COORD_EMARSHALLING; /* What the real server answers (zk-wire §6). */
    }
    if (!wire_is_request(req->type)) {
        return COORD_EUNIMPLEMENTED;
    }
    const uint8_t *body = payload + COORD_WIRE_REQUEST_HEADER_LEN;
    size_t body_len = len - COORD_WIRE_REQUEST_HEADER_LEN;
    struct wire_dec counting;
    wire_dec_init(&counting, body, body_len);
    uint32_t op_count = 0;
    wire_dec_body(&counting, req, &op_count);
    if (counting.r.failed) {
        wire_request_clear(req);
        return COORD_EMARSHALLING;
    }
    if (op_count == 0 && counting.acl_total == 0) {
        return COORD_OK;
    }
    int rc = wire_dec_alloc(req, op_count, counting.acl_total);
    if (rc != COORD_OK) {
        wire_request_clear(req);
        return rc;
    }
    struct wire_dec filling;
    wire_dec_init(&filling, body, body_len);
    filling.ops = req->ops;
    filling.ops_cap = op_count;
    filling.acl_next = req->acls_storage;
    uint32_t filled = 0;
    wire_dec_body(&filling, req, &filled);
    COORD_ASSERT(!filling.r.failed);
    COORD_ASSERT(filled == op_count);
    COORD_ASSERT(filling.acl_total == counting.acl_total);
    req->op_count = op_count;
    return COORD_OK;
}

void coord_wire_request_release(struct coord_request *req)
{
    coord_free(req->ops);
    coord_free(req->acls_storage);
    memset(req, 0, sizeof *req);
}

/* ---- requests: encoding
 * ----------------------------------------------------------------------------- */

static void wire_enc_op(struct coord_buf *out, const struct coord_op *op)
{
    switch (op->type) {
        case COORD_OP_CREATE:
        case COORD_OP_CREATE2:
        case COORD_OP_CREATECONTAINER:
        case COORD_OP_CREATETTL:
            coord_wire_put_ustring(out, op->path);
            wire_put_bytes(out, op->data, op->data_len);
            wire_put_acls(out, op->acl, op->acl_count);
            coord_wire_put_int(out, op->flags);
            if (op->type == COORD_OP_CREATETTL) {
                coord_wire_put_long(out, op->ttl);
            }
            break;
        case COORD_OP_DELETE:
        case COORD_OP_CHECK:
            coord_wire_put_ustring(out, op->path);
            coord_wire_put_int(out, op->version);
            break;
        case COORD_OP_EXISTS:
        case COORD_OP_GETDATA:
        case COORD_OP_GETCHILDREN:
        case COORD_OP_GETCHILDREN2:
            coord_wire_put_ustring(out, op->path);
            coord_wire_put_bool(out, op->watch);
            break;
        case COORD_OP_SETDATA:
            coord_wire_put_ustring(out, op->path);
            wire_put_bytes(out, op->data, op->data_len);
            coord_wire_put_int(out, op->version);
            break;
        case COORD_OP_SETACL:
            coord_wire_put_ustring(out, op->path);
            wire_put_acls(out, op->acl, op->acl_count);
            coord_wire_put_int(out, op->version);
            break;
        case COORD_OP_CHECKWATCHES:
        case COORD_OP_REMOVEWATCHES:
        case COORD_OP_ADDWATCH:
            coord_wire_put_ustring(out, op->path);
            coord_wire_put_int(out, op->mode);
            break;
        case COORD_OP_PING:
        case COORD_OP_WHOAMI:
        case COORD_OP_CLOSESESSION:
            break;
        default: /* getACL, sync, deleteContainer, getEphemerals, getAllChildrenNumber */
            COORD_ASSERT(wire_has_op_form(op->type));
            coord_wire_put_ustring(out, op->path);
            break;
    }
}

void coord_wire_encode_request(struct coord_buf *out, int32_t xid, const struct coord_op *op)
{
    COORD_ASSERT(wire_has_op_form(op->type));
    size_t start = wire_request_begin(out, xid, op->type);
    wire_enc_op(out, op);
    coord_wire_frame_end(out, start);
}

void coord_wire_encode_multi(struct coord_buf *out,
                             int32_t xid,
                             int32_t type,
                             const struct coord_op *ops,
                             uint32_t count)
{
    COORD_ASSERT(type == COORD_OP_MULTI || type == COORD_OP_MULTIREAD);
    size_t start = wire_request_begin(out, xid, type);
    for (uint32_t i = 0; i < count; i++) {
        COORD_ASSERT(wire_has_op_form(ops[i].type));
        coord_wire_put_multi_header(out, ops[i].type, false, -1);
        wire_enc_op(out, &ops[i]);
    }
    coord_wire_put_multi_end(out);
    coord_wire_frame_end(out, start);
}

static void wire_enc_auth(struct coord_buf *out,
                          int32_t xid,
                          int32_t auth_type,
                          struct coord_str scheme,
                          const uint8_t *cred,
                          int32_t cred_len)
{
    size_t start = wire_request_begin(out, xid, COORD_OP_AUTH);
    coord_wire_put_int(out, auth_type);
    coord_wire_put_ustring(out, scheme);
    wire_put_bytes(out, cred, cred_len);
    coord_wire_frame_end(out, start);
}

void coord_wire_encode_auth(struct coord_buf *out,
                            struct coord_str scheme,
                            const uint8_t *cred,
                            int32_t cred_len)
{
    wire_enc_auth(out, COORD_XID_AUTH, 0, scheme, cred, cred_len);
}

void coord_wire_encode_setwatches(struct coord_buf *out,
                                  int64_t relative_zxid,
                                  const struct coord_str *const lists[COORD_WATCH_LISTS],
                                  const int32_t counts[COORD_WATCH_LISTS],
                                  bool v2)
{
    int32_t type = v2 ? COORD_OP_SETWATCHES2 : COORD_OP_SETWATCHES;
    size_t start = wire_request_begin(out, COORD_XID_SETWATCHES, type);
    coord_wire_put_long(out, relative_zxid);
    for (int i = 0; i < (v2 ? COORD_WATCH_LISTS : 3); i++) {
        wire_put_strlist(out, lists[i], counts[i]);
    }
    coord_wire_frame_end(out, start);
}

void coord_wire_encode_ping(struct coord_buf *out)
{
    size_t start = wire_request_begin(out, COORD_XID_PING, COORD_OP_PING);
    coord_wire_frame_end(out, start);
}

void coord_wire_encode_close(struct coord_buf *out, int32_t xid)
{
    size_t start = wire_request_begin(out, xid, COORD_OP_CLOSESESSION);
    coord_wire_frame_end(out, start);
}

void coord_wire_encode_reconfig(struct coord_buf *out,
                                int32_t xid,
                                struct coord_str joining,
                                struct coord_str leaving,
                                struct coord_str newmembers,
                                int64_t curconfig)
{
    size_t start = wire_request_begin(out, xid, COORD_OP_RECONFIG);
    coord_wire_put_ustring(out, joining);
    coord_wire_put_ustring(out, leaving);
    coord_wire_put_ustring(out, newmembers);
    coord_wire_put_long(out, curconfig);
    coord_wire_frame_end(out, start);
}

void coord_wire_encode_sasl(struct coord_buf *out, int32_t xid, const uint8_t *token, int32_t len)
{
    size_t start = wire_request_begin(out, xid, COORD_OP_SASL);
    wire_put_bytes(out, token, len);
    coord_wire_frame_end(out, start);
}

static void wire_enc_setwatches_decoded(struct coord_buf *out, const struct coord_request *req)
{
    size_t start = wire_request_begin(out, req->xid, req->type);
    coord_wire_put_long(out, req->relative_zxid);
    int lists = req->type == COORD_OP_SETWATCHES2 ? COORD_WATCH_LISTS : 3;
    for (int i = 0; i < lists; i++) {
        wire_put_rawvec(out, &req->watches[i]);
    }
    coord_wire_frame_end(out, start);
}

void coord_wire_encode_decoded(struct coord_buf *out, const struct coord_request *req)
{
    switch (req->type) {
        case COORD_OP_MULTI:
        case COORD_OP_MULTIREAD:
            coord_wire_encode_multi(out, req->xid, req->type, req->ops, req->op_count);
            break;
        case COORD_OP_AUTH:
            wire_enc_auth(out, req->xid, req->auth_type, req->auth_scheme, req->auth_data,
                          req->auth_len);
            break;
        case COORD_OP_SETWATCHES:
        case COORD_OP_SETWATCHES2:
            wire_enc_setwatches_decoded(out, req);
            break;
        case COORD_OP_RECONFIG:
            coord_wire_encode_reconfig(out, req->xid, req->reconfig_joining, req->reconfig_leaving,
                                       req->reconfig_newmembers, req->reconfig_curconfig);
            break;
        case COORD_OP_SASL:
            coord_wire_encode_sasl(out, req->xid, req->sasl_token, req->sasl_len);
            break;
        default:
            coord_wire_encode_request(out, req->xid, &req->op);
            break;
    }
}

/* ---- replies: encoding
 * ---------------------------------------------------------------------------------- */

size_t coord_wire_reply_begin(struct coord_buf *out, int32_t xid, int64_t zxid, int32_t err)
{
    size_t start = wire_frame_begin(out);
    coord_wire_put_int(out, xid);
    coord_wire_put_long(out, zxid);
    coord_wire_put_int(out, err);
    return start;
}

void coord_wire_frame_end(struct coord_buf *out, size_t start)
{
    if (out->failed) {
        return;
    }
    COORD_ASSERT(start <= out->len && out->len - start >= 4);
    size_t payload = out->len - start - 4;
    COORD_ASSERT(payload <= (size_t)INT32_MAX);
    coord_buf_patch_be32(out, start, (uint32_t)payload);
}

void coord_wire_reply_header_only(struct coord_buf *out, int32_t xid, int64_t zxid, int32_t err)
{
    coord_wire_frame_end(out, coord_wire_reply_begin(out, xid, zxid, err));
}

void coord_wire_notification(struct coord_buf *out,
                             int32_t type,
                             int32_t state,
                             const char *path,
                             size_t len)
{
    size_t start = coord_wire_reply_begin(out, COORD_XID_NOTIFICATION, -1, COORD_OK);
    coord_wire_put_int(out, type);
    coord_wire_put_int(out, state);
    coord_wire_put_str(out, path, len);
    coord_wire_frame_end(out, start);
}

void coord_wire_put_int(struct coord_buf *out, int32_t v)
{
    coord_buf_be32(out, (uint32_t)v);
}

void coord_wire_put_long(struct coord_buf *out, int64_t v)
{
    coord_buf_be64(out, (uint64_t)v);
}

void coord_wire_put_bool(struct coord_buf *out, bool v)
{
    coord_buf_u8(out, v ? 1 : 0);
}

void coord_wire_put_str(struct coord_buf *out, const char *ptr, size_t len)
{
    COORD_ASSERT(len <= (size_t)INT32_MAX);
    wire_put_bytes(out, ptr, (int32_t)len);
}

void coord_wire_put_ustring(struct coord_buf *out, struct coord_str s)
{
    wire_put_bytes(out, s.ptr, s.len);
}

void coord_wire_put_buffer(struct coord_buf *out, const uint8_t *ptr, int32_t len)
{
    wire_put_bytes(out, ptr, len);
}

void coord_wire_put_stat(struct coord_buf *out, const struct coord_stat *stat)
{
    coord_wire_put_long(out, stat->czxid);
    coord_wire_put_long(out, stat->mzxid);
    coord_wire_put_long(out, stat->ctime);
    coord_wire_put_long(out, stat->mtime);
    coord_wire_put_int(out, stat->version);
    coord_wire_put_int(out, stat->cversion);
    coord_wire_put_int(out, stat->aversion);
    coord_wire_put_long(out, stat->ephemeral_owner);
    coord_wire_put_int(out, stat->data_length);
    coord_wire_put_int(out, stat->num_children);
    coord_wire_put_long(out, stat->pzxid);
}

void coord_wire_put_acl_vector(struct coord_buf *out, const struct coord_acl *acl, size_t count)
{
    COORD_ASSERT(count <= (size_t)INT32_MAX);
    wire_put_acls(out, acl, (int32_t)count);
}

void coord_wire_put_strvec(struct coord_buf *out, const struct coord_str *items, size_t count)
{
    COORD_ASSERT(count <= (size_t)INT32_MAX);
    wire_put_strlist(out, items, (int32_t)count);
}

void coord_wire_put_ident_vector(struct coord_buf *out, const struct coord_ident *ids, size_t count)
{
    COORD_ASSERT(count <= (size_t)INT32_MAX);
    wire_put_len(out, (int32_t)count);
    for (size_t i = 0; i < count; i++) {
        coord_wire_put_ustring(out, ids[i].scheme);
        coord_wire_put_ustring(out, ids[i].id);
    }
}

void coord_wire_put_multi_header(struct coord_buf *out, int32_t type, bool done, int32_t err)
{
    coord_wire_put_int(out, type);
    coord_wire_put_bool(out, done);
    coord_wire_put_int(out, err);
}

void coord_wire_put_multi_end(struct coord_buf *out)
{
    coord_wire_put_multi_header(out, -1, true, -1);
}

void coord_wire_put_multi_error(struct coord_buf *out, int32_t err)
{
    coord_wire_put_multi_header(out, COORD_OP_ERROR, false, err);
    coord_wire_put_int(out, err);
}

/* ---- replies: decoding
 * ------------------------------------------------------------------------------------ */

int coord_wire_decode_reply_header(const uint8_t *payload,
                                   size_t len,
                                   int32_t *xid,
                                   int64_t *zxid,
                                   int32_t *err,
                                   size_t *body_off)
{
    if (len < COORD_WIRE_REPLY_HEADER_LEN) {
        return COORD_EMARSHALLING;
    }
    *xid = (int32_t)coord_load_be32(payload);
    *zxid = (int64_t)coord_load_be64(payload + 4);
    *err = (int32_t)coord_load_be32(payload + 12);
    *body_off = COORD_WIRE_REPLY_HEADER_LEN;
    return COORD_OK;
}

static int wire_result(const struct coord_reader *r)
{
    return r->failed ? COORD_EMARSHALLING : COORD_OK;
}

int32_t coord_wire_get_int(struct coord_reader *r)
{
    return wire_int(r);
}

int64_t coord_wire_get_long(struct coord_reader *r)
{
    return wire_long(r);
}

bool coord_wire_get_bool(struct coord_reader *r)
{
    return wire_bool(r);
}

int coord_wire_get_str(struct coord_reader *r, struct coord_str *out)
{
    wire_ustring(r, out);
    return wire_result(r);
}

int coord_wire_get_buffer(struct coord_reader *r, const uint8_t **ptr, int32_t *len)
{
    wire_bytes(r, ptr, len);
    return wire_result(r);
}

int coord_wire_get_stat(struct coord_reader *r, struct coord_stat *out)
{
    wire_stat(r, out);
    if (r->failed) {
        memset(out, 0, sizeof *out);
    }
    return wire_result(r);
}

int coord_wire_get_acl_vector(struct coord_reader *r, struct coord_acl **acl, int32_t *count)
{
    *acl = NULL;
    *count = -1;
    struct coord_op op;
    struct wire_dec d;
    wire_dec_init(&d, NULL, 0);
    d.r = *r;
    wire_dec_acls(&d, &op); /* Validate and count first: nothing allocated yet. */
    if (d.r.failed) {
        wire_fail(r);
        return COORD_EMARSHALLING;
    }
    if (d.acl_total > 0) {
        struct coord_acl *storage = coord_calloc(d.acl_total, sizeof *storage);
        if (storage == NULL) {
            return COORD_ENOMEM;
        }
        d.r = *r;
        d.acl_next = storage;
        wire_dec_acls(&d, &op);
        COORD_ASSERT(!d.r.failed);
        *acl = storage;
    }
    *r = d.r;
    *count = op.acl_count;
    return COORD_OK;
}

int coord_wire_get_strvec(struct coord_reader *r, struct coord_strvec *out)
{
    wire_strvec(r, out);
    return wire_result(r);
}

int coord_wire_get_ident_vector(struct coord_reader *r, struct coord_strvec *out)
{
    memset(out, 0, sizeof *out);
    int32_t n = wire_len(r);
    if (r->failed) {
        return COORD_EMARSHALLING;
    }
    if (n > INT32_MAX / 2) {
        wire_fail(r); /* Cannot fit in a frame anyway. */
        return COORD_EMARSHALLING;
    }
    size_t start = r->pos;
    for (int32_t i = 0; i < 2 * n && !r->failed; i++) {
        struct coord_str s;
        wire_ustring(r, &s);
    }
    if (r->failed) {
        return COORD_EMARSHALLING;
    }
    out->raw = n > 0 ? r->data + start : NULL;
    out->count = n < 0 ? -1 : 2 * n;
    out->raw_len = r->pos - start;
    return COORD_OK;
}

static void wire_result_body(struct coord_reader *r, struct coord_multi_result *res)
{
    switch (res->type) {
        case COORD_OP_CREATE:
            wire_ustring(r, &res->path);
            break;
        case COORD_OP_CREATE2:
            wire_ustring(r, &res->path);
            wire_stat(r, &res->stat);
            break;
        case COORD_OP_DELETE:
        case COORD_OP_CHECK:
            break;
        case COORD_OP_SETDATA:
            wire_stat(r, &res->stat);
            break;
        case COORD_OP_GETDATA:
            wire_bytes(r, &res->data, &res->data_len);
            wire_stat(r, &res->stat);
            break;
        case COORD_OP_GETCHILDREN:
            wire_strvec(r, &res->children);
            break;
        case COORD_OP_ERROR:
            res->err = wire_int(r);
            break;
        default:
            wire_fail(r);
            break;
    }
}

int coord_wire_get_multi_result(struct coord_reader *r, struct coord_multi_result *res)
{
    memset(res, 0, sizeof *res);
    int32_t type = wire_int(r);
    bool done = wire_bool(r);
    (void)wire_int(r); /* The header's err; an error result repeats it in its body. */
    if (r->failed) {
        return COORD_EMARSHALLING;
    }
    if (done) {
        return 0;
    }
    res->type = type;
    wire_result_body(r, res);
    if (r->failed) {
        memset(res, 0, sizeof *res);
        return COORD_EMARSHALLING;
    }
    return 1;
}

int coord_wire_get_watcher_event(struct coord_reader *r, struct coord_watcher_event *ev)
{
    ev->type = wire_int(r);
    ev->state = wire_int(r);
    wire_ustring(r, &ev->path);
    if (r->failed) {
        memset(ev, 0, sizeof *ev);
    }
    return wire_result(r);
}
