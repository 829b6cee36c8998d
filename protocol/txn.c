/* Transactions: their binary form, and the preparer that turns client write
 * requests into transactions (ZooKeeper's PrepRequestProcessor).
 *
 * The preparer sees the tree through "records" of changes that were prepared
 * but not applied yet, so a multi's later ops see its earlier ones, and a
 * leader with many proposals in flight prepares each against the state the
 * earlier ones will leave. */
#include "coord/txn.h"

#include <string.h>

/* ---- encoding ------------------------------------------------------------------------- */

#define TXN_MAGIC 0x54u /* First byte of every encoded transaction. */

static void put_str(struct coord_buf *out, struct coord_str s)
{
    int32_t len = s.ptr == NULL ? -1 : s.len;
    coord_buf_be32(out, (uint32_t)len);
    if (len > 0) {
        coord_buf_put(out, s.ptr, (size_t)len);
    }
}

void coord_txn_encode(const struct coord_txn *txn, struct coord_buf *out)
{
    coord_buf_u8(out, TXN_MAGIC);
    coord_buf_be32(out, (uint32_t)txn->type);
    coord_buf_be64(out, (uint64_t)txn->session);
    coord_buf_be32(out, (uint32_t)txn->cxid);
    coord_buf_be64(out, (uint64_t)txn->zxid);
    coord_buf_be64(out, (uint64_t)txn->time_ms);
    coord_buf_be32(out, (uint32_t)txn->timeout_ms);
    coord_buf_be32(out, (uint32_t)txn->err);
    coord_buf_be32(out, txn->op_count);
    for (uint32_t i = 0; i < txn->op_count; i++) {
        const struct coord_txn_op *op = &txn->ops[i];
        coord_buf_be32(out, (uint32_t)op->type);
        put_str(out, op->path);
        /* Lengths decide, as in the tree: -1 is null, 0 empty whatever the pointer. */
        int32_t dlen = op->data_len < 0 ? -1 : op->data_len;
        COORD_ASSERT(dlen <= 0 || op->data != NULL);
        coord_buf_be32(out, (uint32_t)dlen);
        if (dlen > 0) {
            coord_buf_put(out, op->data, (size_t)dlen);
        }
        int32_t acount = op->acl_count < 0 ? -1 : op->acl_count;
        COORD_ASSERT(acount <= 0 || op->acl != NULL);
        coord_buf_be32(out, (uint32_t)acount);
        for (int32_t k = 0; k < acount; k++) {
            coord_buf_be32(out, (uint32_t)op->acl[k].perms);
            put_str(out, op->acl[k].ident.scheme);
            put_str(out, op->acl[k].ident.id);
        }
        coord_buf_be64(out, (uint64_t)op->owner);
        coord_buf_be32(out, (uint32_t)op->parent_cversion);
        coord_buf_be32(out, (uint32_t)op->version);
        coord_buf_be32(out, (uint32_t)op->err);
    }
}

static bool get_str(struct coord_reader *r, struct coord_str *s)
{
    int32_t len = (int32_t)coord_reader_be32(r);
    s->len = len;
    s->ptr = NULL;
    if (len == -1) {
        return !r->failed;
    }
    if (len < -1) {
        r->failed = true;
        return false;
    }
    s->ptr = (const char *)coord_reader_bytes(r, (size_t)len);
    return s->ptr != NULL;
}

static bool type_is_op(int32_t type)
{
    return type == COORD_OP_CREATE || type == COORD_OP_DELETE || type == COORD_OP_SETDATA ||
           type == COORD_OP_SETACL || type == COORD_OP_CHECK || type == COORD_OP_ERROR;
}

int coord_txn_decode(const void *bytes, size_t len, struct coord_txn *out)
{
    memset(out, 0, sizeof *out);
    struct coord_reader r;
    coord_reader_init(&r, bytes, len);
    if (coord_reader_u8(&r) != TXN_MAGIC) {
        return COORD_ECORRUPT;
    }
    out->type = (int32_t)coord_reader_be32(&r);
    out->session = (int64_t)coord_reader_be64(&r);
    out->cxid = (int32_t)coord_reader_be32(&r);
    out->zxid = (int64_t)coord_reader_be64(&r);
    out->time_ms = (int64_t)coord_reader_be64(&r);
    out->timeout_ms = (int32_t)coord_reader_be32(&r);
    out->err = (int32_t)coord_reader_be32(&r);
    uint32_t count = coord_reader_be32(&r);
    if (r.failed || count > COORD_MULTI_MAX) {
        return COORD_ECORRUPT;
    }
    bool multi = out->type == COORD_OP_MULTI;
    bool single = type_is_op(out->type) && out->type != COORD_OP_ERROR;
    bool bare = out->type == COORD_OP_ERROR || out->type == COORD_OP_CREATESESSION ||
                out->type == COORD_OP_CLOSESESSION;
    if ((single && count != 1) || (bare && count != 0) || (!multi && !single && !bare)) {
        return COORD_ECORRUPT;
    }
    if (count == 0) {
        return coord_reader_left(&r) == 0 ? COORD_OK : COORD_ECORRUPT;
    }
    /* Count ACL entries first so one allocation holds ops and ACLs. */
    out->ops = coord_calloc(count, sizeof *out->ops);
    if (out->ops == NULL) {
        return COORD_ENOMEM;
    }
    out->op_count = count;
    int rc = COORD_OK;
    for (uint32_t i = 0; i < count && rc == COORD_OK; i++) {
        struct coord_txn_op *op = &out->ops[i];
        op->type = (int32_t)coord_reader_be32(&r);
        get_str(&r, &op->path);
        op->data_len = (int32_t)coord_reader_be32(&r);
        if (op->data_len > 0) {
            op->data = coord_reader_bytes(&r, (size_t)op->data_len);
        } else if (op->data_len < -1) {
            r.failed = true;
        }
        int32_t acount = (int32_t)coord_reader_be32(&r);
        op->acl_count = acount;
        if (acount < -1 || (acount > 0 && (size_t)acount > coord_reader_left(&r) / 12)) {
            r.failed = true;
        } else if (acount > 0) {
            struct coord_acl *acl = coord_calloc((size_t)acount, sizeof *acl);
            if (acl == NULL) {
                rc = COORD_ENOMEM;
                break;
            }
            op->acl = acl;
            for (int32_t k = 0; k < acount; k++) {
                acl[k].perms = (int32_t)coord_reader_be32(&r);
                get_str(&r, &acl[k].ident.scheme);
                get_str(&r, &acl[k].ident.id);
            }
        }
        op->owner = (int64_t)coord_reader_be64(&r);
        op->parent_cversion = (int32_t)coord_reader_be32(&r);
        op->version = (int32_t)coord_reader_be32(&r);
        op->err = (int32_t)coord_reader_be32(&r);
        if (r.failed || !type_is_op(op->type) || (single && op->type != out->type)) {
            rc = COORD_ECORRUPT;
        }
    }
    if (rc == COORD_OK && coord_reader_left(&r) != 0) {
        rc = COORD_ECORRUPT;
    }
    if (rc != COORD_OK) {
        coord_txn_release(out);
    }
    return rc;
}

void coord_txn_release(struct coord_txn *txn)
{
    if (txn->ops != NULL) {
        for (uint32_t i = 0; i < txn->op_count; i++) {
            coord_free((void *)txn->ops[i].acl);
        }
        coord_free(txn->ops);
    }
    txn->ops = NULL;
    txn->op_count = 0;
}

/* ---- the preparer's arena ------------------------------------------------------------- */

struct prep_chunk
{
    struct prep_chunk *next;
    max_align_t align[];
};

static void *prep_alloc(struct coord_prep *p, size_t size)
{
    struct prep_chunk *c = coord_malloc(sizeof *c + size);
    if (c == NULL) {
        return NULL;
    }
    c->next = p->arena;
    p->arena = c;
    return c->align;
}

static void prep_arena_reset(struct coord_prep *p)
{
    while (p->arena != NULL) {
        struct prep_chunk *c = p->arena;
        p->arena = c->next;
        coord_free(c);
    }
}

/* ---- records -------------------------------------------------------------------------- */

/* What the preparer knows of one path once the prepared txns apply. */
struct prep_view
{
    bool exists;
    int32_t version;
    int32_t aversion;
    int32_t cversion; /* Stored child creations. */
    int32_t num_children;
    int64_t owner;
    const struct coord_acl *acl;
    size_t acl_count;
};

struct prep_record
{
    struct prep_record *fifo_next;
    struct prep_record *fifo_prev;
    struct prep_record *shadowed; /* The record this one replaced; valid during one prep. */
    coord_zxid zxid;
    struct prep_view view; /* view.acl points into this allocation. */
    size_t path_len;
    char *path; /* Points into this allocation. */
};

void coord_prep_init(struct coord_prep *p)
{
    memset(p, 0, sizeof *p);
    coord_strmap_init(&p->records);
    p->data_max_bytes = COORD_DATA_MAX_DEFAULT;
}

static void record_unlink(struct coord_prep *p, struct prep_record *rec)
{
    if (rec->fifo_prev != NULL) {
        rec->fifo_prev->fifo_next = rec->fifo_next;
    } else {
        p->oldest = rec->fifo_next;
    }
    if (rec->fifo_next != NULL) {
        rec->fifo_next->fifo_prev = rec->fifo_prev;
    } else {
        p->newest = rec->fifo_prev;
    }
}

void coord_prep_applied(struct coord_prep *p, coord_zxid zxid)
{
    while (p->oldest != NULL && p->oldest->zxid <= zxid) {
        struct prep_record *rec = p->oldest;
        record_unlink(p, rec);
        if (coord_strmap_get(&p->records, rec->path, rec->path_len) == rec) {
            coord_strmap_del(&p->records, rec->path, rec->path_len);
        }
        coord_free(rec);
    }
}

void coord_prep_reset(struct coord_prep *p)
{
    while (p->oldest != NULL) {
        struct prep_record *rec = p->oldest;
        record_unlink(p, rec);
        coord_free(rec);
    }
    coord_strmap_free(&p->records);
    coord_strmap_init(&p->records);
    prep_arena_reset(p);
}

void coord_prep_close(struct coord_prep *p)
{
    coord_prep_reset(p);
    coord_strmap_free(&p->records);
}

/* The view of a path: the newest record, else the tree. */
static void prep_lookup(const struct coord_prep *p,
                        const struct coord_tree *t,
                        const char *path,
                        size_t len,
                        struct prep_view *v)
{
    const struct prep_record *rec = coord_strmap_get(&p->records, path, len);
    if (rec != NULL) {
        *v = rec->view;
        return;
    }
    memset(v, 0, sizeof *v);
    const struct tree_node *n = coord_tree_get(t, path, len);
    if (n == NULL || len == 0) {
        return;
    }
    struct coord_stat st;
    coord_tree_node_stat(n, &st);
    v->exists = true;
    v->version = st.version;
    v->aversion = st.aversion;
    v->cversion = coord_tree_node_child_creations(n);
    v->num_children = st.num_children;
    v->owner = coord_tree_node_owner(n);
    v->acl = coord_tree_node_acl(n, &v->acl_count);
}

static size_t acl_bytes(const struct coord_acl *acl, size_t count)
{
    size_t size = count * sizeof *acl;
    for (size_t i = 0; i < count; i++) {
        size += (size_t)COORD_MAX(acl[i].ident.scheme.len, 0) +
                (size_t)COORD_MAX(acl[i].ident.id.len, 0);
    }
    return size;
}

/* Copy an ACL list into dst (room for acl_bytes()). */
static void acl_copy(struct coord_acl *dst, const struct coord_acl *src, size_t count)
{
    char *bytes = (char *)(dst + count);
    for (size_t i = 0; i < count; i++) {
        dst[i] = src[i];
        struct coord_str *s[2] = {&dst[i].ident.scheme, &dst[i].ident.id};
        for (int k = 0; k < 2; k++) {
            if (s[k]->ptr != NULL && s[k]->len > 0) {
                memcpy(bytes, s[k]->ptr, (size_t)s[k]->len);
                s[k]->ptr = bytes;
                bytes += s[k]->len;
            }
        }
    }
}

/* Record the future view of a path after the txn with `zxid`. */
static int prep_put(struct coord_prep *p,
                    const char *path,
                    size_t len,
                    const struct prep_view *v,
                    coord_zxid zxid)
{
    size_t abytes = acl_bytes(v->acl, v->acl_count);
    size_t size = sizeof(struct prep_record) + abytes + len + 1;
    struct prep_record *rec = coord_malloc(size);
    if (rec == NULL) {
        return COORD_ENOMEM;
    }
    rec->zxid = zxid;
    rec->view = *v;
    struct coord_acl *acl = (struct coord_acl *)(rec + 1);
    acl_copy(acl, v->acl, v->acl_count);
    rec->view.acl = acl;
    rec->path = (char *)acl + abytes;
    memcpy(rec->path, path, len);
    rec->path[len] = '\0';
    rec->path_len = len;
    rec->shadowed = coord_strmap_get(&p->records, path, len);
    if (coord_strmap_put(&p->records, rec->path, len, rec) != COORD_OK) {
        coord_free(rec);
        return COORD_ENOMEM;
    }
    rec->fifo_next = NULL;
    rec->fifo_prev = p->newest;
    if (p->newest != NULL) {
        p->newest->fifo_next = rec;
    } else {
        p->oldest = rec;
    }
    p->newest = rec;
    return COORD_OK;
}

/* Undo every record newer than `mark` (a failed multi). */
static void prep_rollback(struct coord_prep *p, struct prep_record *mark)
{
    while (p->newest != mark) {
        struct prep_record *rec = p->newest;
        record_unlink(p, rec);
        if (rec->shadowed != NULL) {
            /* The key is present, but put may still try to grow the table. If
             * that fails, dropping the key is the safe side: never leave a
             * freed record in the map. */
            if (coord_strmap_put(&p->records, rec->shadowed->path, rec->shadowed->path_len,
                                 rec->shadowed) != COORD_OK) {
                coord_strmap_del(&p->records, rec->path, rec->path_len);
            }
        } else {
            coord_strmap_del(&p->records, rec->path, rec->path_len);
        }
        coord_free(rec);
    }
}

static void prep_forget_shadows(struct coord_prep *p, struct prep_record *mark)
{
    struct prep_record *rec = mark == NULL ? p->oldest : mark->fifo_next;
    for (; rec != NULL; rec = rec->fifo_next) {
        rec->shadowed = NULL;
    }
}

/* ---- checks --------------------------------------------------------------------------- */

static bool str_has_nul(struct coord_str s)
{
    return s.len > 0 && memchr(s.ptr, '\0', (size_t)s.len) != NULL;
}

/* ZooKeeper's checkAndIncVersion: -1 matches any version. */
static int check_version(int32_t current, int32_t expected, int32_t *next)
{
    if (expected != -1 && expected != current) {
        return COORD_EBADVERSION;
    }
    *next = (int32_t)((uint32_t)current + 1u);
    return COORD_OK;
}

static const struct coord_authinfo *caller_auth(const struct coord_caller *c)
{
    static const struct coord_authinfo nobody = {NULL, 0, false};
    return c->auth != NULL ? c->auth : &nobody;
}

static int check_perm(const struct coord_caller *c, const struct prep_view *v, int32_t perm)
{
    return coord_acl_check(v->acl, v->acl_count, perm, caller_auth(c));
}

/* Validate and expand the op's ACL (coord_acl_fixup) into the arena. */
static int prep_fixup_acl(struct coord_prep *p,
                          const struct coord_caller *c,
                          const struct coord_op *op,
                          struct coord_acl **acl,
                          size_t *count)
{
    const struct coord_authinfo *auth = caller_auth(c);
    *acl = NULL;
    *count = 0;
    if (op->acl == NULL || op->acl_count <= 0) {
        return COORD_EINVALIDACL; /* coord_acl_fixup_cap must not see these. */
    }
    /* Each auth entry expands to one entry per caller id. */
    size_t cap = coord_acl_fixup_cap(op->acl, op->acl_count, auth);
    *acl = prep_alloc(p, (cap == 0 ? 1 : cap) * sizeof **acl);
    if (*acl == NULL) {
        return COORD_ENOMEM;
    }
    return coord_acl_fixup(op->acl, op->acl_count, auth, *acl, cap, count);
}

/* "%010d" of a signed counter (the sequential suffix). */
static size_t format_seq(char out[12], int32_t value)
{
    char digits[11];
    size_t n = 0;
    uint32_t v = value < 0 ? (uint32_t)0 - (uint32_t)value : (uint32_t)value;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    size_t len = 0;
    if (value < 0) {
        out[len++] = '-';
    }
    size_t width = value < 0 ? 9 : 10;
    for (size_t i = n; i < width; i++) {
        out[len++] = '0';
    }
    while (n > 0) {
        out[len++] = digits[--n];
    }
    return len;
}

static bool mode_valid(int32_t flags)
{
    return flags >= COORD_MODE_PERSISTENT && flags <= COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

static bool mode_sequential(int32_t m)
{
    return m == COORD_MODE_PERSISTENT_SEQUENTIAL || m == COORD_MODE_EPHEMERAL_SEQUENTIAL ||
           m == COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

static bool mode_ttl(int32_t m)
{
    return m == COORD_MODE_PERSISTENT_WITH_TTL || m == COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

static bool mode_ephemeral(int32_t m)
{
    return m == COORD_MODE_EPHEMERAL || m == COORD_MODE_EPHEMERAL_SEQUENTIAL;
}

static bool is_create(int32_t type)
{
    return type == COORD_OP_CREATE || type == COORD_OP_CREATE2 ||
           type == COORD_OP_CREATECONTAINER || type == COORD_OP_CREATETTL;
}

/* ---- one op --------------------------------------------------------------------------- */

static int prep_create(struct coord_prep *p,
                       const struct coord_tree *t,
                       const struct coord_caller *c,
                       const struct coord_op *op,
                       coord_zxid zxid,
                       struct coord_txn_op *out)
{
    if (!mode_valid(op->flags)) {
        return COORD_EBADARGUMENTS;
    }
    int32_t mode = op->flags;
    int64_t ttl = op->type == COORD_OP_CREATETTL ? op->ttl : -1;
    if (mode_ttl(mode)) {
        if (!p->ttl_enabled) {
            return COORD_EUNIMPLEMENTED;
        }
        if (ttl <= 0 || ttl > COORD_TTL_MAX) {
            return COORD_EBADARGUMENTS;
        }
    } else if (ttl >= 0) {
        return COORD_EBADARGUMENTS;
    }
    if (op->data_len > p->data_max_bytes) {
        return COORD_EBADARGUMENTS;
    }
    struct coord_str path = op->path;
    int64_t plen = coord_path_parent_len(path.ptr, (size_t)path.len);
    if (plen < 0 || str_has_nul(path)) {
        return COORD_EBADARGUMENTS;
    }
    struct coord_acl *acl;
    size_t acl_count;
    int rc = prep_fixup_acl(p, c, op, &acl, &acl_count);
    if (rc != COORD_OK) {
        return rc;
    }
    struct prep_view parent;
    prep_lookup(p, t, path.ptr, (size_t)plen, &parent);
    if (!parent.exists) {
        return COORD_ENONODE;
    }
    rc = check_perm(c, &parent, COORD_PERM_CREATE);
    if (rc != COORD_OK) {
        return rc;
    }
    if (mode_sequential(mode)) {
        char *full = prep_alloc(p, (size_t)path.len + 12);
        if (full == NULL) {
            return COORD_ENOMEM;
        }
        memcpy(full, path.ptr, (size_t)path.len);
        size_t n = format_seq(full + path.len, parent.cversion);
        path.ptr = full;
        path.len = (int32_t)((size_t)path.len + n);
    }
    rc = coord_path_validate(path.ptr, (size_t)path.len);
    if (rc != COORD_OK) {
        return rc;
    }
    struct prep_view node;
    prep_lookup(p, t, path.ptr, (size_t)path.len, &node);
    if (node.exists || path.len == 1) {
        return COORD_ENODEEXISTS;
    }
    if (parent.owner > 0) {
        return COORD_ENOCHILDRENFOREPHEMERALS;
    }
    int64_t owner = 0;
    if (mode == COORD_MODE_CONTAINER) {
        owner = COORD_OWNER_CONTAINER;
    } else if (mode_ttl(mode)) {
        owner = COORD_OWNER_TTL_MASK | ttl;
    } else if (mode_ephemeral(mode)) {
        owner = c->session;
    }
    parent.cversion = (int32_t)((uint32_t)parent.cversion + 1u);
    parent.num_children++;
    rc = prep_put(p, path.ptr, (size_t)plen, &parent, zxid);
    if (rc != COORD_OK) {
        return rc;
    }
    struct prep_view created = {true, 0, 0, 0, 0, owner, acl, acl_count};
    rc = prep_put(p, path.ptr, (size_t)path.len, &created, zxid);
    if (rc != COORD_OK) {
        return rc;
    }
    out->type = COORD_OP_CREATE;
    out->path = path;
    out->data = op->data;
    out->data_len = op->data_len < 0 ? -1 : op->data_len;
    out->acl = acl;
    out->acl_count = (int32_t)acl_count;
    out->owner = owner;
    out->parent_cversion = parent.cversion;
    return COORD_OK;
}

static int prep_delete(struct coord_prep *p,
                       const struct coord_tree *t,
                       const struct coord_caller *c,
                       const struct coord_op *op,
                       coord_zxid zxid,
                       struct coord_txn_op *out)
{
    struct coord_str path = op->path;
    int64_t plen = coord_path_parent_len(path.ptr, (size_t)path.len);
    if (plen < 0 || str_has_nul(path) || coord_path_is_system(path.ptr, (size_t)path.len)) {
        return COORD_EBADARGUMENTS;
    }
    struct prep_view parent;
    prep_lookup(p, t, path.ptr, (size_t)plen, &parent);
    if (!parent.exists) {
        return COORD_ENONODE;
    }
    int rc = check_perm(c, &parent, COORD_PERM_DELETE);
    if (rc != COORD_OK) {
        return rc;
    }
    struct prep_view node;
    prep_lookup(p, t, path.ptr, (size_t)path.len, &node);
    if (!node.exists) {
        return COORD_ENONODE;
    }
    int32_t next;
    rc = check_version(node.version, op->version, &next);
    if (rc != COORD_OK) {
        return rc;
    }
    if (node.num_children > 0) {
        return COORD_ENOTEMPTY;
    }
    parent.num_children--;
    rc = prep_put(p, path.ptr, (size_t)plen, &parent, zxid);
    if (rc != COORD_OK) {
        return rc;
    }
    struct prep_view gone = {0};
    rc = prep_put(p, path.ptr, (size_t)path.len, &gone, zxid);
    if (rc != COORD_OK) {
        return rc;
    }
    out->type = COORD_OP_DELETE;
    out->path = path;
    return COORD_OK;
}

/* setData, setACL and check: validate, look up, check permission, version. */
static int prep_modify(struct coord_prep *p,
                       const struct coord_tree *t,
                       const struct coord_caller *c,
                       const struct coord_op *op,
                       coord_zxid zxid,
                       struct coord_txn_op *out)
{
    struct coord_str path = op->path;
    int rc = coord_path_validate(path.ptr, (size_t)path.len);
    if (rc != COORD_OK) {
        return rc;
    }
    struct coord_acl *acl = NULL;
    size_t acl_count = 0;
    if (op->type == COORD_OP_SETACL) {
        rc = prep_fixup_acl(p, c, op, &acl, &acl_count);
        if (rc != COORD_OK) {
            return rc;
        }
    }
    if (op->type == COORD_OP_SETDATA && op->data_len > p->data_max_bytes) {
        return COORD_EBADARGUMENTS;
    }
    struct prep_view node;
    prep_lookup(p, t, path.ptr, (size_t)path.len, &node);
    if (!node.exists) {
        return COORD_ENONODE;
    }
    int32_t perm = op->type == COORD_OP_SETDATA  ? COORD_PERM_WRITE
                   : op->type == COORD_OP_SETACL ? COORD_PERM_ADMIN
                                                 : COORD_PERM_READ;
    rc = check_perm(c, &node, perm);
    if (rc != COORD_OK) {
        return rc;
    }
    int32_t next;
    int32_t current = op->type == COORD_OP_SETACL ? node.aversion : node.version;
    rc = check_version(current, op->version, &next);
    if (rc != COORD_OK) {
        return rc;
    }
    out->type = op->type;
    out->path = path;
    if (op->type == COORD_OP_CHECK) {
        out->version = op->version;
        return COORD_OK;
    }
    if (op->type == COORD_OP_SETDATA) {
        node.version = next;
        out->data = op->data;
        out->data_len = op->data_len < 0 ? -1 : op->data_len;
    } else {
        node.aversion = next;
        node.acl = acl;
        node.acl_count = acl_count;
        out->acl = acl;
        out->acl_count = (int32_t)acl_count;
    }
    out->version = next;
    return prep_put(p, path.ptr, (size_t)path.len, &node, zxid);
}

static int prep_one(struct coord_prep *p,
                    const struct coord_tree *t,
                    const struct coord_caller *c,
                    const struct coord_op *op,
                    coord_zxid zxid,
                    struct coord_txn_op *out)
{
    memset(out, 0, sizeof *out);
    if (op->path.ptr == NULL || op->path.len < 0) {
        /* The real server fails to deserialise a null path: -5. */
        return COORD_EMARSHALLING;
    }
    bool has_data = is_create(op->type) || op->type == COORD_OP_SETDATA;
    if (has_data && (op->data_len < -1 || (op->data_len > 0 && op->data == NULL))) {
        return COORD_EMARSHALLING; /* Not what a decoder makes: refuse, never crash. */
    }
    if (is_create(op->type)) {
        return prep_create(p, t, c, op, zxid, out);
    }
    switch (op->type) {
        case COORD_OP_DELETE:
            return prep_delete(p, t, c, op, zxid, out);
        case COORD_OP_SETDATA:
        case COORD_OP_SETACL:
        case COORD_OP_CHECK:
            return prep_modify(p, t, c, op, zxid, out);
        default:
            return COORD_EMARSHALLING;
    }
}

static void txn_header(struct coord_txn *out,
                       const struct coord_caller *c,
                       coord_zxid zxid,
                       int64_t now_ms)
{
    memset(out, 0, sizeof *out);
    out->session = c->session;
    out->cxid = c->cxid;
    out->zxid = zxid;
    out->time_ms = now_ms;
}

int coord_prep_op(struct coord_prep *p,
                  const struct coord_tree *t,
                  const struct coord_caller *caller,
                  const struct coord_op *op,
                  coord_zxid zxid,
                  int64_t now_ms,
                  struct coord_txn *out)
{
    prep_arena_reset(p);
    txn_header(out, caller, zxid, now_ms);
    struct coord_txn_op *slot = prep_alloc(p, sizeof *slot);
    if (slot == NULL) {
        out->type = COORD_OP_ERROR;
        out->err = COORD_ESYSTEM;
        return COORD_ENOMEM;
    }
    struct prep_record *mark = p->newest;
    int rc = prep_one(p, t, caller, op, zxid, slot);
    if (rc != COORD_OK) {
        prep_rollback(p, mark);
        out->type = COORD_OP_ERROR;
        out->err = coord_err_wire(rc);
        return rc;
    }
    prep_forget_shadows(p, mark);
    out->type = slot->type;
    out->op_count = 1;
    out->ops = slot;
    return COORD_OK;
}

int coord_prep_multi(struct coord_prep *p,
                     const struct coord_tree *t,
                     const struct coord_caller *caller,
                     const struct coord_op *ops,
                     uint32_t count,
                     coord_zxid zxid,
                     int64_t now_ms,
                     struct coord_txn_op *ops_out,
                     struct coord_txn *out)
{
    prep_arena_reset(p);
    txn_header(out, caller, zxid, now_ms);
    out->type = COORD_OP_MULTI;
    out->op_count = count;
    out->ops = ops_out;
    if (count > COORD_MULTI_MAX) {
        out->type = COORD_OP_ERROR;
        out->err = COORD_EMARSHALLING;
        out->op_count = 0;
        out->ops = NULL;
        return COORD_EMARSHALLING;
    }
    struct prep_record *mark = p->newest;
    int failed = COORD_OK;
    uint32_t at = 0;
    for (; at < count; at++) {
        int32_t type = ops[at].type;
        if (!is_create(type) && type != COORD_OP_DELETE && type != COORD_OP_SETDATA &&
            type != COORD_OP_CHECK) {
            failed = COORD_EMARSHALLING;
            break;
        }
        failed = prep_one(p, t, caller, &ops[at], zxid, &ops_out[at]);
        if (failed != COORD_OK) {
            break;
        }
    }
    if (failed == COORD_OK) {
        prep_forget_shadows(p, mark);
        return COORD_OK;
    }
    /* All or nothing: undo the records, and report 0 for the ops before
     * the failure, its code for it, RUNTIMEINCONSISTENCY after it. */
    prep_rollback(p, mark);
    for (uint32_t i = 0; i < count; i++) {
        memset(&ops_out[i], 0, sizeof ops_out[i]);
        ops_out[i].type = COORD_OP_ERROR;
        ops_out[i].err = i < at    ? COORD_OK
                         : i == at ? coord_err_wire(failed)
                                   : COORD_ERUNTIMEINCONSISTENCY;
    }
    return failed;
}

static int close_mark(struct coord_prep *p,
                      const struct coord_tree *t,
                      coord_session_id session,
                      const char *path,
                      size_t len,
                      coord_zxid zxid)
{
    struct prep_view node;
    prep_lookup(p, t, path, len, &node);
    if (!node.exists || node.owner != session) {
        return COORD_OK;
    }
    int64_t plen = coord_path_parent_len(path, len);
    COORD_ASSERT(plen > 0);
    struct prep_view parent;
    prep_lookup(p, t, path, (size_t)plen, &parent);
    parent.num_children--;
    int rc = prep_put(p, path, (size_t)plen, &parent, zxid);
    if (rc == COORD_OK) {
        struct prep_view gone = {0};
        rc = prep_put(p, path, len, &gone, zxid);
    }
    return rc;
}

int coord_prep_close_session(struct coord_prep *p,
                             const struct coord_tree *t,
                             coord_session_id session,
                             coord_zxid zxid,
                             int64_t now_ms,
                             struct coord_txn *out)
{
    prep_arena_reset(p);
    memset(out, 0, sizeof *out);
    out->type = COORD_OP_CLOSESESSION;
    out->session = session;
    out->zxid = zxid;
    out->time_ms = now_ms;
    /* Later preparations must see the session's ephemerals gone: those in
     * the tree and those created by transactions still in flight. Collect
     * the paths first, since marking them changes the record map. */
    size_t cap = coord_tree_ephemerals_of(t, session) + p->records.count;
    struct coord_str *paths = prep_alloc(p, (cap == 0 ? 1 : cap) * sizeof *paths);
    if (paths == NULL) {
        return COORD_ENOMEM;
    }
    size_t n = 0;
    size_t pos = 0;
    const struct tree_node *node;
    while ((node = coord_tree_next_ephemeral(t, session, &pos)) != NULL) {
        size_t len;
        paths[n].ptr = coord_tree_node_path(node, &len);
        paths[n++].len = (int32_t)len;
    }
    pos = 0;
    const char *key;
    size_t key_len;
    void *value;
    while (coord_strmap_next(&p->records, &pos, &key, &key_len, &value)) {
        const struct prep_record *rec = value;
        if (rec->view.exists && rec->view.owner == session) {
            char *copy = prep_alloc(p, key_len);
            if (copy == NULL) {
                return COORD_ENOMEM;
            }
            memcpy(copy, key, key_len);
            paths[n].ptr = copy;
            paths[n++].len = (int32_t)key_len;
        }
    }
    struct prep_record *mark = p->newest;
    for (size_t i = 0; i < n; i++) {
        int rc = close_mark(p, t, session, paths[i].ptr, (size_t)paths[i].len, zxid);
        if (rc != COORD_OK) {
            prep_rollback(p, mark);
            return rc;
        }
    }
    prep_forget_shadows(p, mark);
    return COORD_OK;
}
