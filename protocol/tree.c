/* The znode data tree.
 *
 * Nodes live in one open-addressing hash table keyed by their full path (like
 * ZooKeeper's DataTree.nodes map); each node also links to its parent and its
 * children (a circular doubly linked list in creation order), so getChildren
 * and delete need no second index. ACL lists are interned and reference
 * counted, as in ZooKeeper's ReferenceCountedACLCache, so a million nodes with
 * the same ACL share one copy. Ephemeral nodes are indexed by owner session.
 *
 * Memory per node beyond its path and data: the node struct (128 bytes), a
 * table slot (8 bytes at a load of 3/8..3/4) and the allocator's headers. */
#include "coord/tree.h"

#include <string.h>

#include "coord/txn.h"

struct tree_acl
{
    uint32_t refs;
    uint32_t count;
    uint32_t key_len;
    uint32_t snap_index;       /* Scratch for coord_tree_snapshot. */
    struct coord_acl *entries; /* Points into this allocation. */
    /* Then: entries[count], then the key bytes (the canonical encoding). */
};

struct tree_node
{
    struct tree_node *parent;
    struct tree_node *first_child; /* first_child->prev is the last child. */
    struct tree_node *next;        /* Siblings, circular. */
    struct tree_node *prev;
    uint8_t *data; /* NULL when data_len <= 0. */
    struct tree_acl *acl;
    int64_t czxid;
    int64_t mzxid;
    int64_t pzxid;
    int64_t ctime;
    int64_t mtime;
    int64_t owner;
    int32_t version;
    int32_t cversion; /* Stored: number of child creations. */
    int32_t aversion;
    int32_t num_children;
    int32_t data_len; /* -1 = null */
    uint32_t hash;
    uint32_t path_len;
    uint32_t name_off;
    char path[]; /* NUL-terminated. */
};

/* The owner's ephemeral nodes: a small vector (few per session). */
struct tree_ephemerals
{
    size_t count;
    size_t cap;
    struct tree_node **nodes;
};

/* ---- paths ---------------------------------------------------------------------------- */

/* Never 0: the hash table marks empty slots with a zero hash. */
static uint32_t path_hash(const char *path, size_t len)
{
    uint32_t h = (uint32_t)coord_hash64(path, len, 0x7ee);
    return h == 0 ? 1 : h;
}

int64_t coord_path_parent_len(const char *path, size_t len)
{
    for (size_t i = len; i > 0; i--) {
        if (path[i - 1] == '/') {
            return i - 1 == 0 ? 1 : (int64_t)(i - 1);
        }
    }
    return -1;
}

bool coord_path_is_system(const char *path, size_t len)
{
    static const char *const special[] = {"/", "/zookeeper", "/zookeeper/quota",
                                          "/zookeeper/config"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        if (strlen(special[i]) == len && memcmp(special[i], path, len) == 0) {
            return true;
        }
    }
    return false;
}

/* Decode one UTF-8 code point at p[0..left); returns its length or 0 when the
 * sequence is invalid (overlong forms, surrogates encoded directly are
 * decoded and then rejected by the caller's range check). */
static size_t utf8_next(const unsigned char *p, size_t left, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2;
        v = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        v = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        v = c & 0x07u;
    } else {
        return 0;
    }
    if (n > left) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[n] || v > 0x10FFFF) {
        return 0;
    }
    *cp = v;
    return n;
}

/* ZooKeeper's PathUtils.validatePath, on UTF-8 bytes. Invalid UTF-8 is
 * rejected too: Java decodes it to U+FFFD, which is forbidden. */
int coord_path_validate(const char *path, size_t len)
{
    if (path == NULL || len == 0 || path[0] != '/') {
        return COORD_EBADARGUMENTS;
    }
    if (len == 1) {
        return COORD_OK;
    }
    if (path[len - 1] == '/') {
        return COORD_EBADARGUMENTS;
    }
    const unsigned char *p = (const unsigned char *)path;
    size_t comp_start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i == len || p[i] == '/') {
            size_t clen = i - comp_start;
            if (clen == 0) {
                return COORD_EBADARGUMENTS; /* "//" */
            }
            if (clen == 1 && p[comp_start] == '.') {
                return COORD_EBADARGUMENTS;
            }
            if (clen == 2 && p[comp_start] == '.' && p[comp_start + 1] == '.') {
                return COORD_EBADARGUMENTS;
            }
            comp_start = i + 1;
            continue;
        }
        if (p[i] >= 0x20 && p[i] < 0x7F) {
            continue; /* Printable ASCII, the usual case: nothing to decode. */
        }
        uint32_t cp;
        size_t n = utf8_next(p + i, len - i, &cp);
        if (n == 0) {
            return COORD_EBADARGUMENTS;
        }
        /* Java checks UTF-16 units: a code point above U+FFFF is a surrogate
         * pair there, which falls in the forbidden U+D800..U+F8FF range. */
        if (cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0xD800 && cp <= 0xF8FF) ||
            cp >= 0xFFF0) {
            return COORD_EBADARGUMENTS;
        }
        i += n - 1;
    }
    return COORD_OK;
}

/* ---- hash table ----------------------------------------------------------------------- */

/* One allocation holds the node pointers (t->slots[cap]) followed by each
 * slot's path hash (uint32_t[cap], 0 for an empty slot). Probing reads only
 * the dense hash array and touches a node when its hash matches: with a
 * million nodes, a probe that dereferenced every node it passed cost a cache
 * miss per step, and looking a path up was most of the cost of a create. */
#define TABLE_SLOT_BYTES (sizeof(struct tree_node *) + sizeof(uint32_t))

static uint32_t *table_hashes(const struct coord_tree *t)
{
    return (uint32_t *)(void *)(t->slots + t->cap);
}

static size_t table_find(const struct coord_tree *t, uint32_t h, const char *path, size_t len)
{
    const uint32_t *hashes = table_hashes(t);
    size_t mask = t->cap - 1;
    size_t i = h & mask;
    for (;;) {
        if (hashes[i] == 0) {
            return i;
        }
        if (hashes[i] == h) {
            const struct tree_node *n = t->slots[i];
            if (n->path_len == len && memcmp(n->path, path, len) == 0) {
                return i;
            }
        }
        i = (i + 1) & mask;
    }
}

static int table_grow(struct coord_tree *t)
{
    size_t cap = t->cap == 0 ? 64 : t->cap * 2;
    struct tree_node **slots = coord_calloc(cap, TABLE_SLOT_BYTES);
    if (slots == NULL) {
        return COORD_ENOMEM;
    }
    uint32_t *hashes = (uint32_t *)(void *)(slots + cap);
    const uint32_t *old_hashes = table_hashes(t);
    size_t mask = cap - 1;
    for (size_t i = 0; i < t->cap; i++) {
        if (old_hashes[i] != 0) {
            size_t j = old_hashes[i] & mask;
            while (hashes[j] != 0) {
                j = (j + 1) & mask;
            }
            slots[j] = t->slots[i];
            hashes[j] = old_hashes[i];
        }
    }
    coord_free(t->slots);
    t->mem_bytes += (cap - t->cap) * TABLE_SLOT_BYTES;
    t->slots = slots;
    t->cap = cap;
    return COORD_OK;
}

static void table_remove(struct coord_tree *t, const struct tree_node *node)
{
    uint32_t *hashes = table_hashes(t);
    size_t mask = t->cap - 1;
    size_t i = table_find(t, node->hash, node->path, node->path_len);
    COORD_ASSERT(t->slots[i] == node);
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (hashes[j] == 0) {
            break;
        }
        size_t home = hashes[j] & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->slots[i] = t->slots[j];
            hashes[i] = hashes[j];
            i = j;
        }
    }
    t->slots[i] = NULL;
    hashes[i] = 0;
    t->count--;
}

static struct tree_node *tree_lookup_hashed(const struct coord_tree *t,
                                            uint32_t h,
                                            const char *path,
                                            size_t len)
{
    if (len == 0) {
        return t->root; /* ZooKeeper keys the root under "" too. */
    }
    if (t->cap == 0) {
        return NULL;
    }
    return t->slots[table_find(t, h, path, len)];
}

static struct tree_node *tree_lookup(const struct coord_tree *t, const char *path, size_t len)
{
    return tree_lookup_hashed(t, path_hash(path, len), path, len);
}

const struct tree_node *coord_tree_get(const struct coord_tree *t, const char *path, size_t len)
{
    if (path == NULL) {
        return NULL;
    }
    return tree_lookup(t, path, len);
}

/* ---- ACL interning -------------------------------------------------------------------- */

/* The canonical encoding of an ACL list is its key: count, then per entry
 * perms, scheme and id as (length, bytes), with -1 for a null string. */
static int32_t acl_str_len(const struct coord_str *s)
{
    return s->ptr == NULL || s->len < 0 ? -1 : s->len;
}

static size_t acl_key_size(const struct coord_acl *acl, size_t count)
{
    size_t size = 4;
    for (size_t i = 0; i < count; i++) {
        size += 12 + (size_t)COORD_MAX(acl_str_len(&acl[i].ident.scheme), 0) +
                (size_t)COORD_MAX(acl_str_len(&acl[i].ident.id), 0);
    }
    return size;
}

static void acl_key_write(const struct coord_acl *acl, size_t count, uint8_t *out)
{
    coord_store_be32(out, (uint32_t)count);
    out += 4;
    for (size_t i = 0; i < count; i++) {
        coord_store_be32(out, (uint32_t)acl[i].perms);
        out += 4;
        const struct coord_str *s[2] = {&acl[i].ident.scheme, &acl[i].ident.id};
        for (int k = 0; k < 2; k++) {
            int32_t len = acl_str_len(s[k]);
            coord_store_be32(out, (uint32_t)len);
            out += 4;
            if (len > 0) {
                memcpy(out, s[k]->ptr, (size_t)len);
                out += len;
            }
        }
    }
}

static struct tree_acl *acl_from_key(const uint8_t *key, size_t key_len, size_t *mem)
{
    struct coord_reader r;
    coord_reader_init(&r, key, key_len);
    uint32_t count = coord_reader_be32(&r);
    if (r.failed || count > key_len / 12) {
        return NULL;
    }
    size_t size = sizeof(struct tree_acl) + count * sizeof(struct coord_acl) + key_len;
    struct tree_acl *a = coord_malloc(size);
    if (a == NULL) {
        return NULL;
    }
    a->refs = 0;
    a->count = count;
    a->key_len = (uint32_t)key_len;
    a->snap_index = 0;
    a->entries = (struct coord_acl *)(a + 1);
    uint8_t *copy = (uint8_t *)(a->entries + count);
    memcpy(copy, key, key_len);
    coord_reader_init(&r, copy, key_len);
    coord_reader_be32(&r);
    for (uint32_t i = 0; i < count; i++) {
        a->entries[i].perms = (int32_t)coord_reader_be32(&r);
        struct coord_str *s[2] = {&a->entries[i].ident.scheme, &a->entries[i].ident.id};
        for (int k = 0; k < 2; k++) {
            int32_t len = (int32_t)coord_reader_be32(&r);
            s[k]->len = len;
            s[k]->ptr = NULL;
            if (len >= 0) {
                s[k]->ptr = (const char *)coord_reader_bytes(&r, (size_t)len);
                if (s[k]->ptr == NULL) {
                    s[k]->ptr = (const char *)copy; /* failed: caught below */
                }
            } else if (len != -1) {
                r.failed = true;
            }
        }
    }
    if (r.failed || coord_reader_left(&r) != 0) {
        coord_free(a);
        return NULL;
    }
    *mem += size;
    return a;
}

static const char *acl_key_bytes(const struct tree_acl *a)
{
    return (const char *)(a->entries + a->count);
}

/* Intern a list given by its canonical key; takes a reference. */
static struct tree_acl *acl_intern_key(struct coord_tree *t, const uint8_t *key, size_t len)
{
    struct tree_acl *a = coord_strmap_get(&t->acls, (const char *)key, len);
    if (a == NULL) {
        a = acl_from_key(key, len, &t->mem_bytes);
        if (a == NULL) {
            return NULL;
        }
        if (coord_strmap_put(&t->acls, acl_key_bytes(a), a->key_len, a) != COORD_OK) {
            t->mem_bytes -=
                sizeof(struct tree_acl) + a->count * sizeof(struct coord_acl) + a->key_len;
            coord_free(a);
            return NULL;
        }
    }
    a->refs++;
    return a;
}

static struct tree_acl *acl_intern(struct coord_tree *t, const struct coord_acl *acl, size_t count)
{
    /* Most lists are a few short entries: build the key on the stack, as
     * every create interns its ACL. */
    uint8_t small[256];
    size_t size = acl_key_size(acl, count);
    uint8_t *key = size <= sizeof small ? small : coord_malloc(size);
    if (key == NULL) {
        return NULL;
    }
    acl_key_write(acl, count, key);
    struct tree_acl *a = acl_intern_key(t, key, size);
    if (key != small) {
        coord_free(key);
    }
    return a;
}

static void acl_release(struct coord_tree *t, struct tree_acl *a)
{
    if (a == NULL) {
        return;
    }
    COORD_ASSERT(a->refs > 0);
    if (--a->refs == 0) {
        coord_strmap_del(&t->acls, acl_key_bytes(a), a->key_len);
        t->mem_bytes -= sizeof(struct tree_acl) + a->count * sizeof(struct coord_acl) + a->key_len;
        coord_free(a);
    }
}

/* ---- ephemerals index ----------------------------------------------------------------- */

static bool owner_is_session(int64_t owner)
{
    /* Containers and TTL nodes carry markers with the top bits set; session
     * ids have the top bit clear. */
    return owner > 0;
}

static int ephemeral_add(struct coord_tree *t, struct tree_node *n)
{
    struct tree_ephemerals *e = coord_u64map_get(&t->ephemerals, (uint64_t)n->owner);
    if (e == NULL) {
        e = coord_calloc(1, sizeof *e);
        if (e == NULL) {
            return COORD_ENOMEM;
        }
        if (coord_u64map_put(&t->ephemerals, (uint64_t)n->owner, e) != COORD_OK) {
            coord_free(e);
            return COORD_ENOMEM;
        }
    }
    if (e->count == e->cap) {
        size_t cap = e->cap == 0 ? 4 : e->cap * 2;
        struct tree_node **nodes = coord_realloc(e->nodes, cap * sizeof *nodes);
        if (nodes == NULL) {
            if (e->count == 0) {
                coord_u64map_del(&t->ephemerals, (uint64_t)n->owner);
                coord_free(e);
            }
            return COORD_ENOMEM;
        }
        e->nodes = nodes;
        e->cap = cap;
    }
    e->nodes[e->count++] = n;
    t->ephemeral_count++;
    return COORD_OK;
}

static void ephemeral_remove(struct coord_tree *t, const struct tree_node *n)
{
    struct tree_ephemerals *e = coord_u64map_get(&t->ephemerals, (uint64_t)n->owner);
    COORD_ASSERT(e != NULL);
    for (size_t i = 0; i < e->count; i++) {
        if (e->nodes[i] == n) {
            /* Keep creation order: it is what getEphemerals returns. */
            memmove(&e->nodes[i], &e->nodes[i + 1], (e->count - i - 1) * sizeof e->nodes[0]);
            e->count--;
            t->ephemeral_count--;
            break;
        }
    }
    if (e->count == 0) {
        coord_u64map_del(&t->ephemerals, (uint64_t)n->owner);
        coord_free(e->nodes);
        coord_free(e);
    }
}

const struct tree_node *coord_tree_next_ephemeral(const struct coord_tree *t,
                                                  coord_session_id owner,
                                                  size_t *pos)
{
    const struct tree_ephemerals *e = coord_u64map_get(&t->ephemerals, (uint64_t)owner);
    if (e == NULL || *pos >= e->count) {
        return NULL;
    }
    return e->nodes[(*pos)++];
}

size_t coord_tree_ephemerals_of(const struct coord_tree *t, coord_session_id owner)
{
    const struct tree_ephemerals *e = coord_u64map_get(&t->ephemerals, (uint64_t)owner);
    return e == NULL ? 0 : e->count;
}

/* ---- nodes ---------------------------------------------------------------------------- */

static size_t node_alloc_size(size_t path_len)
{
    return sizeof(struct tree_node) + path_len + 1;
}

/* Make a node (not yet linked anywhere); hash is path_hash(path, len). */
static struct tree_node *node_new(struct coord_tree *t,
                                  const char *path,
                                  size_t len,
                                  uint32_t hash,
                                  const uint8_t *data,
                                  int32_t data_len)
{
    if (len > UINT32_MAX / 2) {
        return NULL;
    }
    struct tree_node *n = coord_malloc(node_alloc_size(len));
    if (n == NULL) {
        return NULL;
    }
    memset(n, 0, sizeof *n);
    /* The length decides: -1 is null, 0 is empty whatever the pointer. */
    n->data_len = data_len < 0 ? -1 : data_len;
    if (data_len > 0) {
        n->data = coord_malloc((size_t)data_len);
        if (n->data == NULL) {
            coord_free(n);
            return NULL;
        }
        memcpy(n->data, data, (size_t)data_len);
        t->mem_bytes += (size_t)data_len;
        t->data_bytes += (size_t)data_len;
    }
    memcpy(n->path, path, len);
    n->path[len] = '\0';
    n->path_len = (uint32_t)len;
    n->hash = hash;
    int64_t plen = coord_path_parent_len(path, len);
    n->name_off = plen <= 1 ? (len > 1 ? 1u : (uint32_t)len) : (uint32_t)plen + 1;
    t->mem_bytes += node_alloc_size(len);
    return n;
}

static void node_free(struct coord_tree *t, struct tree_node *n)
{
    if (n->data_len > 0) {
        t->mem_bytes -= (size_t)n->data_len;
        t->data_bytes -= (size_t)n->data_len;
    }
    coord_free(n->data);
    acl_release(t, n->acl);
    t->mem_bytes -= node_alloc_size(n->path_len);
    coord_free(n);
}

static void child_link(struct tree_node *parent, struct tree_node *n)
{
    n->parent = parent;
    struct tree_node *first = parent->first_child;
    if (first == NULL) {
        parent->first_child = n;
        n->next = n;
        n->prev = n;
    } else {
        struct tree_node *last = first->prev;
        n->prev = last;
        n->next = first;
        last->next = n;
        first->prev = n;
    }
    parent->num_children++;
}

static void child_unlink(struct tree_node *n)
{
    struct tree_node *parent = n->parent;
    if (n->next == n) {
        parent->first_child = NULL;
    } else {
        n->prev->next = n->next;
        n->next->prev = n->prev;
        if (parent->first_child == n) {
            parent->first_child = n->next;
        }
    }
    n->next = n->prev = NULL;
    parent->num_children--;
}

/* Insert a node made by node_new under its parent; the caller has checked the
 * parent exists and the path is free. On failure the node is freed. */
static int node_insert(struct coord_tree *t, struct tree_node *parent, struct tree_node *n)
{
    if ((t->count + 1) * 4 > t->cap * 3) {
        int rc = table_grow(t);
        if (rc != COORD_OK) {
            node_free(t, n);
            return rc;
        }
    }
    if (owner_is_session(n->owner)) {
        int rc = ephemeral_add(t, n);
        if (rc != COORD_OK) {
            node_free(t, n);
            return rc;
        }
    }
    size_t i = table_find(t, n->hash, n->path, n->path_len);
    COORD_ASSERT(t->slots[i] == NULL);
    t->slots[i] = n;
    table_hashes(t)[i] = n->hash;
    t->count++;
    if (parent != NULL) {
        child_link(parent, n);
    }
    return COORD_OK;
}

/* ---- accessors ------------------------------------------------------------------------ */

void coord_tree_node_stat(const struct tree_node *n, struct coord_stat *out)
{
    out->czxid = n->czxid;
    out->mzxid = n->mzxid;
    out->ctime = n->ctime;
    out->mtime = n->mtime;
    out->version = n->version;
    /* Reported cversion counts creations and deletions (zk-wire §9). */
    out->cversion = (int32_t)((uint32_t)n->cversion * 2u - (uint32_t)n->num_children);
    out->aversion = n->aversion;
    out->ephemeral_owner = owner_is_session(n->owner) ? n->owner : 0;
    out->data_length = n->data_len < 0 ? 0 : n->data_len;
    out->num_children = n->num_children;
    out->pzxid = n->pzxid;
}

const uint8_t *coord_tree_node_data(const struct tree_node *n, int32_t *len)
{
    *len = n->data_len;
    return n->data;
}

const char *coord_tree_node_path(const struct tree_node *n, size_t *len)
{
    *len = n->path_len;
    return n->path;
}

const char *coord_tree_node_name(const struct tree_node *n, size_t *len)
{
    *len = n->path_len - n->name_off;
    return n->path + n->name_off;
}

const struct coord_acl *coord_tree_node_acl(const struct tree_node *n, size_t *count)
{
    *count = n->acl == NULL ? 0 : n->acl->count;
    return n->acl == NULL ? NULL : n->acl->entries;
}

int64_t coord_tree_node_owner(const struct tree_node *n)
{
    return n->owner;
}

int32_t coord_tree_node_child_creations(const struct tree_node *n)
{
    return n->cversion;
}

int32_t coord_tree_node_num_children(const struct tree_node *n)
{
    return n->num_children;
}

const struct tree_node *coord_tree_node_next_child(const struct tree_node *n,
                                                   const struct tree_node *prev)
{
    if (prev == NULL) {
        return n->first_child;
    }
    return prev->next == n->first_child ? NULL : prev->next;
}

int64_t coord_tree_count_descendants(const struct tree_node *n)
{
    /* Iterative pre-order walk: no recursion depth limit on deep trees. */
    int64_t count = 0;
    const struct tree_node *cur = n->first_child;
    while (cur != NULL) {
        count++;
        if (cur->first_child != NULL) {
            cur = cur->first_child;
            continue;
        }
        while (cur != n) {
            const struct tree_node *parent = cur->parent;
            if (cur->next != parent->first_child) {
                cur = cur->next;
                break;
            }
            cur = parent;
        }
        if (cur == n) {
            break;
        }
    }
    return count;
}

/* ---- init / close --------------------------------------------------------------------- */

static const struct coord_acl acl_open[1] = {
    {COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}},
};
static const struct coord_acl acl_read_only[1] = {
    {COORD_PERM_READ, {{"world", 5}, {"anyone", 6}}},
};

static int system_node(struct coord_tree *t, const char *path, const struct coord_acl *acl)
{
    size_t len = strlen(path);
    struct tree_node *parent = NULL;
    if (len > 1) {
        parent = tree_lookup(t, path, (size_t)coord_path_parent_len(path, len));
        COORD_ASSERT(parent != NULL);
    }
    struct tree_node *n = node_new(t, path, len, path_hash(path, len), NULL, 0);
    if (n == NULL) {
        return COORD_ENOMEM;
    }
    n->acl = acl_intern(t, acl, 1);
    if (n->acl == NULL) {
        node_free(t, n);
        return COORD_ENOMEM;
    }
    int rc = node_insert(t, parent, n);
    if (rc != COORD_OK) {
        return rc;
    }
    if (parent == NULL) {
        t->root = n;
    }
    return COORD_OK;
}

int coord_tree_init(struct coord_tree *t)
{
    memset(t, 0, sizeof *t);
    coord_strmap_init(&t->acls);
    coord_u64map_init(&t->ephemerals);
    t->data_max_bytes = COORD_DATA_MAX_DEFAULT;
    int rc = table_grow(t);
    if (rc == COORD_OK) {
        rc = system_node(t, "/", acl_open);
    }
    if (rc == COORD_OK) {
        rc = system_node(t, "/zookeeper", acl_open);
    }
    if (rc == COORD_OK) {
        rc = system_node(t, "/zookeeper/quota", acl_open);
    }
    if (rc == COORD_OK) {
        rc = system_node(t, "/zookeeper/config", acl_read_only);
    }
    if (rc != COORD_OK) {
        coord_tree_close(t);
        return rc;
    }
    /* The real server's fresh /zookeeper has a stored cversion of 0 with two
     * children (reported -2): system nodes are not counted as creations. */
    return COORD_OK;
}

void coord_tree_close(struct coord_tree *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        struct tree_node *n = t->slots[i];
        if (n != NULL) {
            coord_free(n->data);
            coord_free(n);
        }
    }
    size_t pos = 0;
    const char *key;
    size_t key_len;
    void *value;
    while (coord_strmap_next(&t->acls, &pos, &key, &key_len, &value)) {
        coord_free(value);
    }
    pos = 0;
    uint64_t id;
    while (coord_u64map_next(&t->ephemerals, &pos, &id, &value)) {
        struct tree_ephemerals *e = value;
        coord_free(e->nodes);
        coord_free(e);
    }
    coord_free(t->slots);
    coord_strmap_free(&t->acls);
    coord_u64map_free(&t->ephemerals);
    memset(t, 0, sizeof *t);
}

void coord_tree_set_change_cb(struct coord_tree *t, coord_tree_change_cb cb, void *arg)
{
    t->change_cb = cb;
    t->change_arg = arg;
}

static void tree_changed(struct coord_tree *t,
                         int type,
                         const char *path,
                         size_t len,
                         coord_zxid zxid)
{
    if (t->change_cb != NULL) {
        t->change_cb(t->change_arg, type, path, len, zxid);
    }
}

/* ---- applying transactions ------------------------------------------------------------ */

/* The checks of an op's own fields, made before anything changes (by
 * multi_check for every op of a multi, so that a multi is all or nothing). */
static int data_check(const struct coord_txn_op *op)
{
    return op->data_len > 0 && op->data == NULL ? COORD_EBADARGUMENTS : COORD_OK;
}

static int acl_check(const struct coord_txn_op *op)
{
    return op->acl_count < 0 || (op->acl_count > 0 && op->acl == NULL) ? COORD_EINVALIDACL
                                                                       : COORD_OK;
}

static int create_check(const struct coord_txn_op *op)
{
    const char *path = op->path.ptr;
    size_t len = (size_t)op->path.len;
    if (len == 1 || coord_path_parent_len(path, len) < 0 ||
        coord_path_validate(path, len) != COORD_OK) {
        return COORD_EBADARGUMENTS;
    }
    int rc = acl_check(op);
    return rc != COORD_OK ? rc : data_check(op);
}

static int apply_create(struct coord_tree *t,
                        const struct coord_txn *txn,
                        const struct coord_txn_op *op)
{
    int rc = create_check(op);
    if (rc != COORD_OK) {
        return rc;
    }
    const char *path = op->path.ptr;
    size_t len = (size_t)op->path.len;
    int64_t plen = coord_path_parent_len(path, len);
    struct tree_node *parent = tree_lookup(t, path, (size_t)plen);
    if (parent == NULL) {
        return COORD_ENONODE;
    }
    uint32_t hash = path_hash(path, len);
    if (tree_lookup_hashed(t, hash, path, len) != NULL) {
        return COORD_ENODEEXISTS;
    }
    if (owner_is_session(parent->owner)) {
        return COORD_ENOCHILDRENFOREPHEMERALS;
    }
    struct tree_node *n = node_new(t, path, len, hash, op->data, op->data_len);
    if (n == NULL) {
        return COORD_ENOMEM;
    }
    n->acl = acl_intern(t, op->acl, (size_t)op->acl_count);
    if (n->acl == NULL) {
        node_free(t, n);
        return COORD_ENOMEM;
    }
    n->czxid = n->mzxid = n->pzxid = txn->zxid;
    n->ctime = n->mtime = txn->time_ms;
    n->owner = op->owner;
    rc = node_insert(t, parent, n);
    if (rc != COORD_OK) {
        return rc;
    }
    /* As ZooKeeper's DataTree.createNode: the txn carries the parent's new
     * creation counter, and pzxid moves only when that counter grows. */
    int32_t cv = op->parent_cversion;
    if (cv == -1) {
        cv = (int32_t)((uint32_t)parent->cversion + 1u);
    }
    if (cv > parent->cversion) {
        parent->cversion = cv;
        parent->pzxid = txn->zxid;
    }
    tree_changed(t, COORD_EV_CREATED, path, len, txn->zxid);
    tree_changed(t, COORD_EV_CHILDREN_CHANGED, parent->path, parent->path_len, txn->zxid);
    return COORD_OK;
}

/* Remove a childless node. `unindex` is false when the caller has already
 * dropped the owner's whole ephemeral index (closeSession). Cannot fail once
 * the checks pass: nothing is allocated. */
static int delete_node(struct coord_tree *t, struct tree_node *n, coord_zxid zxid, bool unindex)
{
    if (n == t->root || n->parent == NULL) {
        return COORD_EBADARGUMENTS;
    }
    if (n->num_children > 0) {
        return COORD_ENOTEMPTY;
    }
    struct tree_node *parent = n->parent;
    if (unindex && owner_is_session(n->owner)) {
        ephemeral_remove(t, n);
    }
    table_remove(t, n);
    child_unlink(n);
    if (zxid > parent->pzxid) {
        parent->pzxid = zxid;
    }
    /* The node is out of the tree but not freed yet: its path is still
     * good for the callbacks. */
    tree_changed(t, COORD_EV_DELETED, n->path, n->path_len, zxid);
    tree_changed(t, COORD_EV_CHILDREN_CHANGED, parent->path, parent->path_len, zxid);
    node_free(t, n);
    return COORD_OK;
}

static int apply_delete(struct coord_tree *t,
                        const struct coord_txn *txn,
                        const struct coord_txn_op *op)
{
    struct tree_node *n = tree_lookup(t, op->path.ptr, (size_t)op->path.len);
    if (n == NULL || op->path.len == 0) {
        return COORD_ENONODE;
    }
    return delete_node(t, n, txn->zxid, true);
}

static int apply_set_data(struct coord_tree *t,
                          const struct coord_txn *txn,
                          const struct coord_txn_op *op)
{
    struct tree_node *n = tree_lookup(t, op->path.ptr, (size_t)op->path.len);
    if (n == NULL) {
        return COORD_ENONODE;
    }
    if (data_check(op) != COORD_OK) {
        return COORD_EBADARGUMENTS;
    }
    uint8_t *data = NULL;
    if (op->data_len > 0) {
        data = coord_malloc((size_t)op->data_len);
        if (data == NULL) {
            return COORD_ENOMEM;
        }
        memcpy(data, op->data, (size_t)op->data_len);
    }
    if (n->data_len > 0) {
        t->mem_bytes -= (size_t)n->data_len;
        t->data_bytes -= (size_t)n->data_len;
    }
    coord_free(n->data);
    n->data = data;
    n->data_len = op->data_len < 0 ? -1 : op->data_len;
    if (n->data_len > 0) {
        t->mem_bytes += (size_t)n->data_len;
        t->data_bytes += (size_t)n->data_len;
    }
    n->mzxid = txn->zxid;
    n->mtime = txn->time_ms;
    n->version = op->version;
    tree_changed(t, COORD_EV_DATA_CHANGED, n->path, n->path_len, txn->zxid);
    return COORD_OK;
}

static int apply_set_acl(struct coord_tree *t, const struct coord_txn_op *op)
{
    struct tree_node *n = tree_lookup(t, op->path.ptr, (size_t)op->path.len);
    if (n == NULL) {
        return COORD_ENONODE;
    }
    if (acl_check(op) != COORD_OK) {
        return COORD_EINVALIDACL;
    }
    struct tree_acl *acl = acl_intern(t, op->acl, (size_t)op->acl_count);
    if (acl == NULL) {
        return COORD_ENOMEM;
    }
    acl_release(t, n->acl);
    n->acl = acl;
    n->aversion = op->version;
    return COORD_OK;
}

static void fill_result(const struct coord_tree *t,
                        const struct coord_txn_op *op,
                        struct coord_op_result *res)
{
    res->type = op->type;
    /* A failed multi is all ERROR ops: each carries its own code for the reply. */
    res->err = op->type == COORD_OP_ERROR ? op->err : COORD_OK;
    res->path = op->path.ptr;
    res->path_len = op->path.len < 0 ? 0 : (size_t)op->path.len;
    memset(&res->stat, 0, sizeof res->stat);
    if (op->type == COORD_OP_CREATE || op->type == COORD_OP_SETDATA ||
        op->type == COORD_OP_SETACL) {
        const struct tree_node *n = tree_lookup(t, op->path.ptr, (size_t)op->path.len);
        if (n != NULL) {
            coord_tree_node_stat(n, &res->stat);
            res->path = n->path;
        }
    }
}

static bool op_path_ok(const struct coord_txn_op *op)
{
    return op->path.ptr != NULL && op->path.len > 0;
}

static int apply_op(struct coord_tree *t,
                    const struct coord_txn *txn,
                    const struct coord_txn_op *op)
{
    switch (op->type) {
        case COORD_OP_CREATE:
            return op_path_ok(op) ? apply_create(t, txn, op) : COORD_EBADARGUMENTS;
        case COORD_OP_DELETE:
            return op_path_ok(op) ? apply_delete(t, txn, op) : COORD_EBADARGUMENTS;
        case COORD_OP_SETDATA:
            return op_path_ok(op) ? apply_set_data(t, txn, op) : COORD_EBADARGUMENTS;
        case COORD_OP_SETACL:
            return op_path_ok(op) ? apply_set_acl(t, op) : COORD_EBADARGUMENTS;
        case COORD_OP_CHECK:
        case COORD_OP_ERROR:
            return COORD_OK;
        default:
            return COORD_EBADARGUMENTS;
    }
}

/* Would op i of a multi apply, given the ops before it (which all would)?
 * Tracks only what apply itself checks: existence and child counts. */
static bool multi_latest(const struct coord_txn *txn,
                         uint32_t before,
                         const char *path,
                         size_t len,
                         uint32_t *index)
{
    for (uint32_t j = before; j > 0; j--) {
        const struct coord_txn_op *o = &txn->ops[j - 1];
        if ((o->type == COORD_OP_CREATE || o->type == COORD_OP_DELETE) &&
            (size_t)o->path.len == len && memcmp(o->path.ptr, path, len) == 0) {
            *index = j - 1;
            return true;
        }
    }
    return false;
}

static bool multi_exists(const struct coord_tree *t,
                         const struct coord_txn *txn,
                         uint32_t before,
                         const char *path,
                         size_t len)
{
    uint32_t j;
    if (multi_latest(txn, before, path, len, &j)) {
        return txn->ops[j].type == COORD_OP_CREATE;
    }
    return tree_lookup(t, path, len) != NULL;
}

static int64_t multi_children(const struct coord_tree *t,
                              const struct coord_txn *txn,
                              uint32_t before,
                              const char *path,
                              size_t len)
{
    uint32_t from = 0;
    int64_t count = 0;
    uint32_t j;
    if (multi_latest(txn, before, path, len, &j)) {
        from = j + 1; /* Re-created inside the multi: starts empty. */
    } else {
        const struct tree_node *n = tree_lookup(t, path, len);
        count = n == NULL ? 0 : n->num_children;
    }
    for (uint32_t k = from; k < before; k++) {
        const struct coord_txn_op *o = &txn->ops[k];
        if (o->type != COORD_OP_CREATE && o->type != COORD_OP_DELETE) {
            continue;
        }
        int64_t plen = coord_path_parent_len(o->path.ptr, (size_t)o->path.len);
        if (plen == (int64_t)len && memcmp(o->path.ptr, path, len) == 0) {
            count += o->type == COORD_OP_CREATE ? 1 : -1;
        }
    }
    return count;
}

/* The stored owner of a path that exists once ops[0..before) apply. */
static int64_t multi_owner(const struct coord_tree *t,
                           const struct coord_txn *txn,
                           uint32_t before,
                           const char *path,
                           size_t len)
{
    uint32_t j;
    if (multi_latest(txn, before, path, len, &j)) {
        return txn->ops[j].owner;
    }
    const struct tree_node *n = tree_lookup(t, path, len);
    return n == NULL ? 0 : n->owner;
}

/* Everything that could make an op of the multi fail, but running out of
 * memory, checked before the first op applies. */
static int multi_check_op(const struct coord_tree *t, const struct coord_txn *txn, uint32_t i)
{
    const struct coord_txn_op *op = &txn->ops[i];
    if (op->type == COORD_OP_CHECK || op->type == COORD_OP_ERROR) {
        return COORD_OK;
    }
    if (!op_path_ok(op)) {
        return COORD_EBADARGUMENTS;
    }
    const char *path = op->path.ptr;
    size_t len = (size_t)op->path.len;
    bool exists = multi_exists(t, txn, i, path, len);
    switch (op->type) {
        case COORD_OP_CREATE: {
            int rc = create_check(op);
            if (rc != COORD_OK) {
                return rc;
            }
            size_t plen = (size_t)coord_path_parent_len(path, len);
            if (!multi_exists(t, txn, i, path, plen)) {
                return COORD_ENONODE;
            }
            if (exists) {
                return COORD_ENODEEXISTS;
            }
            if (owner_is_session(multi_owner(t, txn, i, path, plen))) {
                return COORD_ENOCHILDRENFOREPHEMERALS;
            }
            return COORD_OK;
        }
        case COORD_OP_DELETE:
            if (!exists) {
                return COORD_ENONODE;
            }
            if (len == 1) {
                return COORD_EBADARGUMENTS; /* The root. */
            }
            return multi_children(t, txn, i, path, len) > 0 ? COORD_ENOTEMPTY : COORD_OK;
        case COORD_OP_SETDATA:
            return !exists ? COORD_ENONODE : data_check(op);
        case COORD_OP_SETACL:
            return !exists ? COORD_ENONODE : acl_check(op);
        default:
            return COORD_EBADARGUMENTS;
    }
}

static int multi_check(const struct coord_tree *t, const struct coord_txn *txn)
{
    for (uint32_t i = 0; i < txn->op_count; i++) {
        int rc = multi_check_op(t, txn, i);
        if (rc != COORD_OK) {
            return rc;
        }
    }
    return COORD_OK;
}

/* Small merge sort of node pointers by path (no libc qsort in the core). */
static int node_cmp(const struct tree_node *a, const struct tree_node *b)
{
    size_t n = COORD_MIN(a->path_len, b->path_len);
    int c = memcmp(a->path, b->path, n);
    if (c != 0) {
        return c;
    }
    return a->path_len < b->path_len ? -1 : (a->path_len > b->path_len ? 1 : 0);
}

static void sort_nodes(struct tree_node **v, struct tree_node **tmp, size_t n)
{
    if (n < 2) {
        return;
    }
    size_t mid = n / 2;
    sort_nodes(v, tmp, mid);
    sort_nodes(v + mid, tmp, n - mid);
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n) {
        tmp[k++] = node_cmp(v[i], v[j]) <= 0 ? v[i++] : v[j++];
    }
    while (i < mid) {
        tmp[k++] = v[i++];
    }
    while (j < n) {
        tmp[k++] = v[j++];
    }
    memcpy(v, tmp, n * sizeof *v);
}

static int apply_close_session(struct coord_tree *t, const struct coord_txn *txn)
{
    struct tree_ephemerals *e = coord_u64map_get(&t->ephemerals, (uint64_t)txn->session);
    if (e == NULL || e->count == 0) {
        return COORD_OK;
    }
    size_t n = e->count;
    struct tree_node **v = coord_malloc(2 * n * sizeof *v);
    if (v == NULL) {
        return COORD_ENOMEM;
    }
    memcpy(v, e->nodes, n * sizeof *v);
    sort_nodes(v, v + n, n);
    /* Drop the session's index at once: removing its nodes one at a time
     * from the vector would be quadratic in their number. */
    coord_u64map_del(&t->ephemerals, (uint64_t)txn->session);
    t->ephemeral_count -= n;
    coord_free(e->nodes);
    coord_free(e);
    for (size_t i = 0; i < n; i++) {
        /* Ephemerals never have children (apply and restore refuse them). */
        int rc = delete_node(t, v[i], txn->zxid, false);
        COORD_ASSERT(rc == COORD_OK);
    }
    coord_free(v);
    return COORD_OK;
}

int coord_tree_apply(struct coord_tree *t,
                     const struct coord_txn *txn,
                     struct coord_op_result *results,
                     size_t results_cap)
{
    if (txn == NULL || txn->zxid <= t->last_zxid) {
        return COORD_EBADARGUMENTS;
    }
    if (txn->op_count > 0 && txn->ops == NULL) {
        return COORD_EBADARGUMENTS;
    }
    int rc = COORD_OK;
    switch (txn->type) {
        case COORD_OP_CREATESESSION:
        case COORD_OP_ERROR:
            break;
        case COORD_OP_CLOSESESSION:
            rc = apply_close_session(t, txn);
            break;
        case COORD_OP_MULTI:
            if (txn->op_count > COORD_MULTI_MAX) {
                return COORD_EBADARGUMENTS;
            }
            rc = multi_check(t, txn);
            if (rc != COORD_OK) {
                return rc;
            }
            for (uint32_t i = 0; i < txn->op_count && rc == COORD_OK; i++) {
                rc = apply_op(t, txn, &txn->ops[i]);
                if (rc == COORD_OK && results != NULL && i < results_cap) {
                    fill_result(t, &txn->ops[i], &results[i]);
                }
            }
            break;
        default:
            if (txn->op_count != 1 || txn->ops[0].type != txn->type) {
                return COORD_EBADARGUMENTS;
            }
            rc = apply_op(t, txn, &txn->ops[0]);
            if (rc == COORD_OK && results != NULL && results_cap > 0) {
                fill_result(t, &txn->ops[0], &results[0]);
            }
            break;
    }
    if (rc == COORD_OK) {
        t->last_zxid = txn->zxid;
    }
    return rc;
}

/* ---- digest --------------------------------------------------------------------------- */

static uint64_t node_digest(const struct tree_node *n)
{
    uint64_t h = coord_hash64(n->path, n->path_len, 0xd16e57);
    h = coord_hash64(n->data, n->data_len > 0 ? (size_t)n->data_len : 0,
                     h ^ (uint64_t)(int64_t)n->data_len);
    int64_t f[] = {n->czxid, n->mzxid,   n->pzxid,    n->ctime,    n->mtime,
                   n->owner, n->version, n->cversion, n->aversion, n->num_children};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        h = coord_mix64(h ^ (uint64_t)f[i]) + i;
    }
    if (n->acl != NULL) {
        h ^= coord_hash64(acl_key_bytes(n->acl), n->acl->key_len, 0xac1);
    }
    return coord_mix64(h);
}

uint64_t coord_tree_digest(const struct coord_tree *t)
{
    /* A sum of per-node hashes: independent of creation order and table
     * layout, like ZooKeeper's DigestCalculator. */
    uint64_t sum = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i] != NULL) {
            sum += node_digest(t->slots[i]);
        }
    }
    return coord_mix64(sum ^ (uint64_t)t->count) ^ (uint64_t)t->last_zxid;
}

/* ---- snapshots ------------------------------------------------------------------------ */

#define TREE_SNAP_MAGIC 0x43545245u /* "CTRE" */
#define TREE_SNAP_VERSION 2u
#define TREE_SNAP_SEED 0x5eed5a4bu

/* A snapshot ends with a hash of all its bytes: a flipped bit in a Stat field
 * would otherwise restore as a valid but different tree. */
static uint64_t snap_checksum(const uint8_t *bytes, size_t len)
{
    return coord_hash64(bytes, len, TREE_SNAP_SEED);
}

/* Pre-order walk: parents before children, children in creation order. */
static const struct tree_node *walk_next(const struct tree_node *root, const struct tree_node *cur)
{
    if (cur->first_child != NULL) {
        return cur->first_child;
    }
    while (cur != root) {
        const struct tree_node *parent = cur->parent;
        if (cur->next != parent->first_child) {
            return cur->next;
        }
        cur = parent;
    }
    return NULL;
}

int coord_tree_snapshot(const struct coord_tree *t, struct coord_buf *out)
{
    size_t start = out->len;
    coord_buf_be32(out, TREE_SNAP_MAGIC);
    coord_buf_be32(out, TREE_SNAP_VERSION);
    coord_buf_be64(out, (uint64_t)t->last_zxid);
    /* ACL lists in order of first use, so the snapshot depends only on the
     * tree's content and child order, not on hash table layout. */
    size_t pos = 0;
    const char *key;
    size_t key_len;
    void *value;
    while (coord_strmap_next(&t->acls, &pos, &key, &key_len, &value)) {
        ((struct tree_acl *)value)->snap_index = 0;
    }
    size_t acl_count_at = out->len;
    coord_buf_be32(out, 0);
    uint32_t acl_count = 0;
    for (const struct tree_node *n = t->root; n != NULL; n = walk_next(t->root, n)) {
        if (n->acl->snap_index == 0) {
            n->acl->snap_index = ++acl_count;
            coord_buf_be32(out, n->acl->key_len);
            coord_buf_put(out, acl_key_bytes(n->acl), n->acl->key_len);
        }
    }
    coord_buf_patch_be32(out, acl_count_at, acl_count);
    coord_buf_be64(out, (uint64_t)t->count);
    for (const struct tree_node *n = t->root; n != NULL; n = walk_next(t->root, n)) {
        coord_buf_be32(out, n->path_len);
        coord_buf_put(out, n->path, n->path_len);
        coord_buf_be32(out, (uint32_t)n->data_len);
        if (n->data_len > 0) {
            coord_buf_put(out, n->data, (size_t)n->data_len);
        }
        coord_buf_be32(out, n->acl->snap_index);
        coord_buf_be64(out, (uint64_t)n->czxid);
        coord_buf_be64(out, (uint64_t)n->mzxid);
        coord_buf_be64(out, (uint64_t)n->pzxid);
        coord_buf_be64(out, (uint64_t)n->ctime);
        coord_buf_be64(out, (uint64_t)n->mtime);
        coord_buf_be64(out, (uint64_t)n->owner);
        coord_buf_be32(out, (uint32_t)n->version);
        coord_buf_be32(out, (uint32_t)n->cversion);
        coord_buf_be32(out, (uint32_t)n->aversion);
    }
    if (out->failed) {
        return COORD_ENOMEM;
    }
    coord_buf_be64(out, snap_checksum(out->data + start, out->len - start));
    return out->failed ? COORD_ENOMEM : COORD_OK;
}

static int restore_nodes(struct coord_tree *t,
                         struct coord_reader *r,
                         struct tree_acl **acls,
                         uint32_t acl_count)
{
    uint64_t count = coord_reader_be64(r);
    if (r->failed || count == 0 || count > coord_reader_left(r) / 60 + 1) {
        return COORD_ECORRUPT;
    }
    for (uint64_t i = 0; i < count; i++) {
        uint32_t path_len = coord_reader_be32(r);
        const char *path = (const char *)coord_reader_bytes(r, path_len);
        int32_t data_len = (int32_t)coord_reader_be32(r);
        const uint8_t *data = NULL;
        if (data_len > 0) {
            data = coord_reader_bytes(r, (size_t)data_len);
        } else if (data_len < -1) {
            return COORD_ECORRUPT;
        }
        uint32_t acl_index = coord_reader_be32(r);
        if (r->failed || path == NULL || acl_index == 0 || acl_index > acl_count ||
            coord_path_validate(path, path_len) != COORD_OK) {
            return COORD_ECORRUPT;
        }
        uint32_t hash = path_hash(path, path_len);
        struct tree_node *n = tree_lookup_hashed(t, hash, path, path_len);
        bool fresh = n == NULL;
        struct tree_node *parent = NULL;
        if (!fresh && !coord_path_is_system(path, path_len)) {
            return COORD_ECORRUPT; /* Listed twice. */
        }
        if (fresh) {
            parent = tree_lookup(t, path, (size_t)coord_path_parent_len(path, path_len));
            if (parent == NULL) {
                return COORD_ECORRUPT; /* Parents come first in a valid snapshot. */
            }
            n = node_new(t, path, path_len, hash, data, data_len);
            if (n == NULL) {
                return COORD_ENOMEM;
            }
        } else {
            /* A system node: it exists already, take the snapshot's state. */
            if (n->data_len > 0) {
                t->data_bytes -= (size_t)n->data_len;
                t->mem_bytes -= (size_t)n->data_len;
            }
            coord_free(n->data);
            n->data = NULL;
            n->data_len = data_len;
            if (data_len > 0) {
                n->data = coord_malloc((size_t)data_len);
                if (n->data == NULL) {
                    n->data_len = -1;
                    return COORD_ENOMEM;
                }
                memcpy(n->data, data, (size_t)data_len);
                t->data_bytes += (size_t)data_len;
                t->mem_bytes += (size_t)data_len;
            }
            acl_release(t, n->acl);
            n->acl = NULL;
        }
        n->acl = acls[acl_index - 1];
        n->acl->refs++;
        n->czxid = (int64_t)coord_reader_be64(r);
        n->mzxid = (int64_t)coord_reader_be64(r);
        n->pzxid = (int64_t)coord_reader_be64(r);
        n->ctime = (int64_t)coord_reader_be64(r);
        n->mtime = (int64_t)coord_reader_be64(r);
        int64_t owner = (int64_t)coord_reader_be64(r);
        n->version = (int32_t)coord_reader_be32(r);
        n->cversion = (int32_t)coord_reader_be32(r);
        n->aversion = (int32_t)coord_reader_be32(r);
        if (r->failed || (!fresh && owner != 0)) {
            if (fresh) {
                node_free(t, n);
            }
            return COORD_ECORRUPT;
        }
        if (fresh) {
            n->owner = owner;
            if (owner_is_session(parent->owner)) {
                node_free(t, n);
                return COORD_ECORRUPT; /* Ephemerals have no children. */
            }
            int rc = node_insert(t, parent, n);
            if (rc != COORD_OK) {
                return rc;
            }
        }
    }
    /* Every node once, the system nodes included. */
    return t->count == count ? COORD_OK : COORD_ECORRUPT;
}

int coord_tree_restore(struct coord_tree *t, struct coord_reader *r)
{
    size_t start = r->pos;
    if (coord_reader_be32(r) != TREE_SNAP_MAGIC || coord_reader_be32(r) != TREE_SNAP_VERSION) {
        return COORD_ECORRUPT;
    }
    int64_t last_zxid = (int64_t)coord_reader_be64(r);
    uint32_t acl_count = coord_reader_be32(r);
    if (r->failed || acl_count > coord_reader_left(r) / 8) {
        return COORD_ECORRUPT;
    }
    struct coord_tree fresh;
    int rc = coord_tree_init(&fresh);
    if (rc != COORD_OK) {
        return rc;
    }
    fresh.data_max_bytes = t->data_max_bytes;
    struct tree_acl **acls = coord_calloc(acl_count == 0 ? 1 : acl_count, sizeof *acls);
    if (acls == NULL) {
        coord_tree_close(&fresh);
        return COORD_ENOMEM;
    }
    for (uint32_t i = 0; i < acl_count && rc == COORD_OK; i++) {
        uint32_t len = coord_reader_be32(r);
        const uint8_t *key = coord_reader_bytes(r, len);
        if (key == NULL) {
            rc = COORD_ECORRUPT;
            break;
        }
        /* Validate the key by parsing it before interning. */
        size_t ignored = 0;
        struct tree_acl *probe = acl_from_key(key, len, &ignored);
        if (probe == NULL) {
            rc = COORD_ECORRUPT;
            break;
        }
        coord_free(probe);
        acls[i] = acl_intern_key(&fresh, key, len);
        if (acls[i] == NULL) {
            rc = COORD_ENOMEM;
        }
    }
    if (rc == COORD_OK) {
        rc = restore_nodes(&fresh, r, acls, acl_count);
    }
    if (rc == COORD_OK) {
        uint64_t sum = snap_checksum(r->data + start, r->pos - start);
        if (coord_reader_be64(r) != sum || r->failed) {
            rc = COORD_ECORRUPT;
        }
    }
    /* Drop the references the table itself held. */
    for (uint32_t i = 0; i < acl_count; i++) {
        if (acls[i] != NULL) {
            acl_release(&fresh, acls[i]);
        }
    }
    coord_free(acls);
    if (rc != COORD_OK) {
        coord_tree_close(&fresh);
        return rc;
    }
    fresh.last_zxid = last_zxid;
    fresh.change_cb = t->change_cb;
    fresh.change_arg = t->change_arg;
    coord_tree_close(t);
    *t = fresh;
    return COORD_OK;
}
