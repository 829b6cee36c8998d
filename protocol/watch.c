/* The watch manager. coord/watch.h describes the semantics and the layout;
 * this file keeps three invariants:
 *   - a watcher and a path share at most one slot, and the slot's `back`
 *     and the ref's `slot` indices point at each other;
 *   - outside a trigger no record is empty: a path or watcher that loses
 *     its last watch is freed at once;
 *   - scratch has room for max(watchers, paths) items, so trigger and
 *     foreach need no memory. */
#include "coord/watch.h"

#include <string.h>

#include "coord/tree.h"

#define WATCH_NONE UINT32_MAX /* "No such slot" from watch_find. */

/* One watcher on one path: who, its COORD_WATCH_BIT_* set, and where the
 * path sits in the watcher's own list (so both sides unlink in O(1)). */
struct watch_slot
{
    struct watch_watcher *who;
    uint32_t back; /* Index in who->refs. */
    uint8_t bits;
};

/* A watched path; its bytes follow the struct and are the map's key. */
struct watch_path
{
    struct watch_slot *slots; /* Unordered: removal swaps in the last slot. */
    uint32_t count;
    uint32_t cap;
    uint32_t recursive_count; /* Slots with a recursive watch: ancestors skip the rest. */
    size_t len;
    char bytes[];
};

/* A path a watcher appears on, and its slot index there. */
struct watch_ref
{
    struct watch_path *path;
    uint32_t slot;
};

struct watch_watcher
{
    uint64_t id;
    uint64_t stamp; /* The manager's stamp once collected by the current trigger. */
    struct watch_ref *refs;
    uint32_t count;
    uint32_t cap;
};

union watch_item {
    struct watch_watcher *who;
    struct watch_path *path;
    uint64_t id;
};

typedef bool (*watch_less_fn)(const void *a, const void *b);

/* ---- sorting ---------------------------------------------------------------- */

static void watch_swap(unsigned char *a, unsigned char *b, size_t size)
{
    for (size_t k = 0; k < size; k++) {
        unsigned char t = a[k];
        a[k] = b[k];
        b[k] = t;
    }
}

static void watch_sift(unsigned char *base, size_t root, size_t n, size_t size, watch_less_fn less)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) {
            return;
        }
        if (child + 1 < n && less(base + child * size, base + (child + 1) * size)) {
            child++;
        }
        if (!less(base + root * size, base + child * size)) {
            return;
        }
        watch_swap(base + root * size, base + child * size, size);
        root = child;
    }
}

/* Heapsort: the pure core may not call qsort, and this needs neither memory
 * nor recursion. Delivery and dump orders are only as deterministic as the
 * keys, which are unique (watcher ids, path bytes), so stability is moot. */
static void watch_sort(void *items, size_t n, size_t size, watch_less_fn less)
{
    unsigned char *base = items;
    for (size_t i = n / 2; i-- > 0;) {
        watch_sift(base, i, n, size, less);
    }
    for (size_t end = n; end-- > 1;) {
        watch_swap(base, base + end * size, size);
        watch_sift(base, 0, end, size, less);
    }
}

static int watch_path_cmp(const struct watch_path *a, const struct watch_path *b)
{
    size_t n = COORD_MIN(a->len, b->len);
    int c = n == 0 ? 0 : memcmp(a->bytes, b->bytes, n);
    if (c != 0) {
        return c;
    }
    return a->len < b->len ? -1 : a->len > b->len;
}

static bool watch_item_who_less(const void *a, const void *b)
{
    return ((const union watch_item *)a)->who->id < ((const union watch_item *)b)->who->id;
}

static bool watch_item_path_less(const void *a, const void *b)
{
    return watch_path_cmp(((const union watch_item *)a)->path,
                          ((const union watch_item *)b)->path) < 0;
}

static bool watch_ref_less(const void *a, const void *b)
{
    return watch_path_cmp(((const struct watch_ref *)a)->path,
                          ((const struct watch_ref *)b)->path) < 0;
}

static bool watch_slot_less(const void *a, const void *b)
{
    return ((const struct watch_slot *)a)->who->id < ((const struct watch_slot *)b)->who->id;
}

/* ---- records ------------------------------------------------------------------ */

static unsigned watch_kind_bits(int kind)
{
    switch (kind) {
        case COORD_WATCH_DATA:
        case COORD_WATCH_EXIST:
            return COORD_WATCH_BIT_DATA;
        case COORD_WATCH_CHILD:
            return COORD_WATCH_BIT_CHILD;
        case COORD_WATCH_PERSISTENT:
            return COORD_WATCH_BIT_PERSISTENT_DATA | COORD_WATCH_BIT_PERSISTENT_CHILD;
        case COORD_WATCH_PERSISTENT_RECURSIVE:
            return COORD_WATCH_BIT_RECURSIVE;
        default:
            return 0;
    }
}

/* The slot index of `who` on `p`, or WATCH_NONE. Scans the shorter list: a
 * lock node may have thousands of watchers, a connection thousands of paths. */
static uint32_t watch_find(const struct watch_path *p, const struct watch_watcher *who)
{
    if (p->count <= who->count) {
        for (uint32_t i = 0; i < p->count; i++) {
            if (p->slots[i].who == who) {
                return i;
            }
        }
        return WATCH_NONE;
    }
    for (uint32_t j = 0; j < who->count; j++) {
        if (who->refs[j].path == p) {
            return who->refs[j].slot;
        }
    }
    return WATCH_NONE;
}

static size_t watch_table_count(size_t count, unsigned old_bits, unsigned new_bits, unsigned table)
{
    bool was = (old_bits & table) != 0;
    bool is = (new_bits & table) != 0;
    if (was && !is) {
        return count - 1;
    }
    if (is && !was) {
        return count + 1;
    }
    return count;
}

/* Keep the table and recursive counters right as a slot of p changes bits. */
static void watch_account(struct coord_watches *w,
                          struct watch_path *p,
                          unsigned old_bits,
                          unsigned new_bits)
{
    w->data_count = watch_table_count(w->data_count, old_bits, new_bits, COORD_WATCH_DATA_TABLE);
    w->child_count = watch_table_count(w->child_count, old_bits, new_bits, COORD_WATCH_CHILD_TABLE);
    bool was = (old_bits & COORD_WATCH_BIT_RECURSIVE) != 0;
    bool is = (new_bits & COORD_WATCH_BIT_RECURSIVE) != 0;
    if (was && !is) {
        p->recursive_count--;
        w->recursive_count--;
    } else if (is && !was) {
        p->recursive_count++;
        w->recursive_count++;
    }
}

/* Remove slot i of p from p and from its watcher's list, by swapping the
 * last element of each into the hole and repointing the moved one's twin. */
static void watch_unlink(struct watch_path *p, uint32_t i)
{
    struct watch_watcher *who = p->slots[i].who;
    uint32_t j = p->slots[i].back;
    p->count--;
    if (i < p->count) {
        p->slots[i] = p->slots[p->count];
        p->slots[i].who->refs[p->slots[i].back].slot = i;
    }
    who->count--;
    if (j < who->count) {
        who->refs[j] = who->refs[who->count];
        who->refs[j].path->slots[who->refs[j].slot].back = j;
    }
}

/* Give slot i of p new bits. A slot left with none is unlinked; the caller
 * then drops the watcher and the path if they became empty. */
static void watch_slot_set(struct coord_watches *w, struct watch_path *p, uint32_t i, unsigned bits)
{
    watch_account(w, p, p->slots[i].bits, bits);
    p->slots[i].bits = (uint8_t)bits;
    if (bits == 0) {
        watch_unlink(p, i);
    }
}

static void watch_path_drop_if_empty(struct coord_watches *w, struct watch_path *p)
{
    if (p->count != 0) {
        return;
    }
    coord_strmap_del(&w->paths, p->bytes, p->len);
    coord_free(p->slots);
    coord_free(p);
}

static void watch_watcher_drop_if_empty(struct coord_watches *w, struct watch_watcher *who)
{
    if (who->count != 0) {
        return;
    }
    coord_u64map_del(&w->watchers, who->id);
    coord_free(who->refs);
    coord_free(who);
}

static struct watch_watcher *watch_watcher_new(struct coord_watches *w, uint64_t id)
{
    struct watch_watcher *who = coord_calloc(1, sizeof *who);
    if (who == NULL) {
        return NULL;
    }
    who->id = id;
    if (coord_u64map_put(&w->watchers, id, who) != COORD_OK) {
        coord_free(who);
        return NULL;
    }
    return who;
}

static struct watch_path *watch_path_new(struct coord_watches *w, const char *path, size_t len)
{
    if (len > SIZE_MAX - sizeof(struct watch_path)) {
        return NULL;
    }
    struct watch_path *p = coord_malloc(sizeof *p + len);
    if (p == NULL) {
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->len = len;
    if (len > 0) {
        memcpy(p->bytes, path, len);
    }
    if (coord_strmap_put(&w->paths, p->bytes, len, p) != COORD_OK) {
        coord_free(p);
        return NULL;
    }
    return p;
}

/* Room for one more slot on p. */
static bool watch_path_reserve(struct watch_path *p)
{
    if (p->count < p->cap) {
        return true;
    }
    if (p->cap > UINT32_MAX / 2) {
        return false;
    }
    uint32_t cap = p->cap == 0 ? 2 : p->cap * 2; /* Most paths have one or two watchers. */
    struct watch_slot *slots = coord_realloc(p->slots, (size_t)cap * sizeof *slots);
    if (slots == NULL) {
        return false;
    }
    p->slots = slots;
    p->cap = cap;
    return true;
}

/* Room for one more ref in who's list. */
static bool watch_watcher_reserve(struct watch_watcher *who)
{
    if (who->count < who->cap) {
        return true;
    }
    if (who->cap > UINT32_MAX / 2) {
        return false;
    }
    uint32_t cap = who->cap == 0 ? 4 : who->cap * 2;
    struct watch_ref *refs = coord_realloc(who->refs, (size_t)cap * sizeof *refs);
    if (refs == NULL) {
        return false;
    }
    who->refs = refs;
    who->cap = cap;
    return true;
}

static int watch_scratch_reserve(struct coord_watches *w, size_t need)
{
    if (need <= w->scratch_cap) {
        return COORD_OK;
    }
    size_t cap = w->scratch_cap < 8 ? 8 : w->scratch_cap;
    while (cap < need) {
        cap *= 2;
    }
    union watch_item *items = coord_realloc(w->scratch, cap * sizeof *items);
    if (items == NULL) {
        return COORD_ENOMEM;
    }
    w->scratch = items;
    w->scratch_cap = cap;
    return COORD_OK;
}

/* ---- lifetime ----------------------------------------------------------------- */

int coord_watches_init(struct coord_watches *w)
{
    memset(w, 0, sizeof *w);
    coord_strmap_init(&w->paths);
    coord_u64map_init(&w->watchers);
    return COORD_OK;
}

void coord_watches_close(struct coord_watches *w)
{
    COORD_ASSERT(!w->busy);
    size_t pos = 0;
    const char *key;
    size_t key_len;
    void *value;
    while (coord_strmap_next(&w->paths, &pos, &key, &key_len, &value)) {
        struct watch_path *p = value;
        coord_free(p->slots);
        coord_free(p);
    }
    pos = 0;
    uint64_t id;
    while (coord_u64map_next(&w->watchers, &pos, &id, &value)) {
        struct watch_watcher *who = value;
        coord_free(who->refs);
        coord_free(who);
    }
    coord_strmap_free(&w->paths);
    coord_u64map_free(&w->watchers);
    coord_free(w->scratch);
    memset(w, 0, sizeof *w);
}

/* ---- adding ----------------------------------------------------------------------- */

/* Give a watcher and a path that share no slot yet one, creating either
 * record if missing. Everything that can fail comes before anything is
 * linked, and a record created here is dropped again on failure, so a
 * failed add leaves the manager as it was (a grown array is kept: it is
 * only spare room). */
static int watch_add_slot(struct coord_watches *w,
                          struct watch_watcher *who,
                          struct watch_path *p,
                          uint64_t watcher,
                          const char *path,
                          size_t len,
                          unsigned bits)
{
    size_t need_watchers = w->watchers.count + (who == NULL ? 1u : 0u);
    size_t need_paths = w->paths.count + (p == NULL ? 1u : 0u);
    if (watch_scratch_reserve(w, COORD_MAX(need_watchers, need_paths)) != COORD_OK) {
        return COORD_ENOMEM;
    }
    if (who == NULL && (who = watch_watcher_new(w, watcher)) == NULL) {
        return COORD_ENOMEM;
    }
    if (p == NULL) {
        p = watch_path_new(w, path, len);
    }
    if (p == NULL || !watch_path_reserve(p) || !watch_watcher_reserve(who)) {
        if (p != NULL) {
            watch_path_drop_if_empty(w, p); /* Only a new path can be empty. */
        }
        watch_watcher_drop_if_empty(w, who);
        return COORD_ENOMEM;
    }
    p->slots[p->count] = (struct watch_slot){.who = who, .back = who->count, .bits = 0};
    who->refs[who->count] = (struct watch_ref){.path = p, .slot = p->count};
    p->count++;
    who->count++;
    watch_slot_set(w, p, p->count - 1, bits);
    return COORD_OK;
}

int coord_watches_add(struct coord_watches *w,
                      uint64_t watcher,
                      const char *path,
                      size_t len,
                      int kind)
{
    COORD_ASSERT(!w->busy);
    unsigned bits = watch_kind_bits(kind);
    if (bits == 0 || watcher == 0 || (path == NULL && len > 0)) {
        return COORD_EBADARGUMENTS;
    }
    if (path == NULL) {
        path = "";
    }
    struct watch_watcher *who = coord_u64map_get(&w->watchers, watcher);
    struct watch_path *p = coord_strmap_get(&w->paths, path, len);
    if (who != NULL && p != NULL) {
        uint32_t i = watch_find(p, who);
        if (i != WATCH_NONE) {
            watch_slot_set(w, p, i, p->slots[i].bits | bits);
            return COORD_OK;
        }
    }
    return watch_add_slot(w, who, p, watcher, path, len, bits);
}

/* ---- triggering ------------------------------------------------------------------- */

static void watch_collect(struct coord_watches *w, struct watch_watcher *who, size_t *n)
{
    if (who->stamp == w->stamp) {
        return; /* Already has its one event for this trigger. */
    }
    who->stamp = w->stamp;
    COORD_ASSERT(*n < w->scratch_cap);
    w->scratch[(*n)++].who = who;
}

/* Collect the watchers of one path whose bits meet `fire`, and take the
 * `clear` bits (the one-shot watches that fired) away from them. */
static void watch_fire_path(struct coord_watches *w,
                            const char *path,
                            size_t len,
                            unsigned fire,
                            unsigned clear,
                            size_t *n)
{
    struct watch_path *p = coord_strmap_get(&w->paths, path, len);
    if (p == NULL || (fire == COORD_WATCH_BIT_RECURSIVE && p->recursive_count == 0)) {
        return;
    }
    /* Downwards, because unlinking slot i moves the last (visited) slot to i. */
    for (uint32_t i = p->count; i-- > 0;) {
        unsigned bits = p->slots[i].bits;
        if ((bits & fire) == 0) {
            continue;
        }
        watch_collect(w, p->slots[i].who, n);
        if ((bits & clear) != 0) {
            watch_slot_set(w, p, i, bits & ~clear);
        }
    }
    watch_path_drop_if_empty(w, p);
}

/* Recursive watches on every proper ancestor: "/a/b/c" visits "/a/b", "/a", "/". */
static void watch_fire_ancestors(struct coord_watches *w, const char *path, size_t len, size_t *n)
{
    for (size_t i = len; i-- > 0;) {
        if (path[i] != '/') {
            continue;
        }
        size_t prefix = i == 0 ? 1 : i;
        if (prefix < len) {
            watch_fire_path(w, path, prefix, COORD_WATCH_BIT_RECURSIVE, 0, n);
        }
    }
}

void coord_watches_trigger(struct coord_watches *w,
                           int event_type,
                           const char *path,
                           size_t len,
                           coord_watch_fire_cb cb,
                           void *arg)
{
    COORD_ASSERT(!w->busy);
    unsigned fire;
    unsigned clear;
    switch (event_type) {
        case COORD_EV_CREATED:
        case COORD_EV_DATA_CHANGED:
            fire = COORD_WATCH_DATA_TABLE;
            clear = COORD_WATCH_BIT_DATA;
            break;
        case COORD_EV_DELETED:
            /* ZooKeeper triggers both tables and suppresses the child table's
             * watchers the data table already notified: one pass does both. */
            fire = COORD_WATCH_DATA_TABLE | COORD_WATCH_CHILD_TABLE;
            clear = COORD_WATCH_BIT_DATA | COORD_WATCH_BIT_CHILD;
            break;
        case COORD_EV_CHILDREN_CHANGED:
            fire = COORD_WATCH_CHILD_TABLE;
            clear = COORD_WATCH_BIT_CHILD;
            break;
        default:
            return;
    }
    if (path == NULL) {
        if (len != 0) {
            return;
        }
        path = "";
    }
    size_t n = 0;
    w->stamp++;
    watch_fire_path(w, path, len, fire, clear, &n);
    /* The child table holds no recursive watches, so only data events walk up. */
    if (event_type != COORD_EV_CHILDREN_CHANGED && w->recursive_count > 0) {
        watch_fire_ancestors(w, path, len, &n);
    }
    watch_sort(w->scratch, n, sizeof *w->scratch, watch_item_who_less);
    /* Watchers whose last watch just fired go before the callbacks run, so
     * the callbacks see the manager as it now is. */
    for (size_t k = 0; k < n; k++) {
        struct watch_watcher *who = w->scratch[k].who;
        uint64_t id = who->id;
        watch_watcher_drop_if_empty(w, who);
        w->scratch[k].id = id;
    }
    if (cb == NULL) {
        return;
    }
    w->busy = true;
    for (size_t k = 0; k < n; k++) {
        cb(arg, w->scratch[k].id, event_type, path, len);
    }
    w->busy = false;
}

/* ---- removing ------------------------------------------------------------------------ */

int coord_watches_remove(struct coord_watches *w,
                         uint64_t watcher,
                         const char *path,
                         size_t len,
                         int type,
                         bool remove)
{
    unsigned table;
    switch (type) {
        case COORD_WATCHER_CHILDREN:
            table = COORD_WATCH_CHILD_TABLE;
            break;
        case COORD_WATCHER_DATA:
            table = COORD_WATCH_DATA_TABLE;
            break;
        case COORD_WATCHER_ANY:
            table = COORD_WATCH_DATA_TABLE | COORD_WATCH_CHILD_TABLE;
            break;
        default:
            return COORD_EMARSHALLING;
    }
    if (path == NULL && len > 0) {
        return COORD_EBADARGUMENTS;
    }
    struct watch_path *p = coord_strmap_get(&w->paths, path == NULL ? "" : path, len);
    struct watch_watcher *who = coord_u64map_get(&w->watchers, watcher);
    if (p == NULL || who == NULL) {
        return COORD_ENOWATCHER;
    }
    uint32_t i = watch_find(p, who);
    if (i == WATCH_NONE || (p->slots[i].bits & table) == 0) {
        return COORD_ENOWATCHER;
    }
    if (remove) {
        COORD_ASSERT(!w->busy);
        watch_slot_set(w, p, i, p->slots[i].bits & ~table);
        watch_watcher_drop_if_empty(w, who);
        watch_path_drop_if_empty(w, p);
    }
    return COORD_OK;
}

void coord_watches_remove_watcher(struct coord_watches *w, uint64_t watcher)
{
    COORD_ASSERT(!w->busy);
    struct watch_watcher *who = coord_u64map_del(&w->watchers, watcher);
    if (who == NULL) {
        return;
    }
    /* The watcher's own list goes whole, so only the paths' side unlinks. */
    for (uint32_t j = 0; j < who->count; j++) {
        struct watch_path *p = who->refs[j].path;
        uint32_t i = who->refs[j].slot;
        watch_account(w, p, p->slots[i].bits, 0);
        p->count--;
        if (i < p->count) {
            p->slots[i] = p->slots[p->count];
            p->slots[i].who->refs[p->slots[i].back].slot = i;
        }
        watch_path_drop_if_empty(w, p);
    }
    coord_free(who->refs);
    coord_free(who);
}

bool coord_watches_has(const struct coord_watches *w,
                       uint64_t watcher,
                       const char *path,
                       size_t len,
                       int kind)
{
    unsigned bits = watch_kind_bits(kind);
    if (bits == 0 || (path == NULL && len > 0)) {
        return false;
    }
    const struct watch_path *p = coord_strmap_get(&w->paths, path == NULL ? "" : path, len);
    const struct watch_watcher *who = coord_u64map_get(&w->watchers, watcher);
    if (p == NULL || who == NULL) {
        return false;
    }
    uint32_t i = watch_find(p, who);
    return i != WATCH_NONE && (p->slots[i].bits & bits) != 0;
}

/* ---- statistics and dumps -------------------------------------------------------------- */

size_t coord_watches_count(const struct coord_watches *w)
{
    return w->data_count + w->child_count;
}

size_t coord_watches_path_count(const struct coord_watches *w)
{
    return w->paths.count;
}

size_t coord_watches_watcher_count(const struct coord_watches *w)
{
    return w->watchers.count;
}

void coord_watches_summarize(const struct coord_watches *w,
                             int table_bits,
                             struct coord_watches_summary *out)
{
    unsigned table = (unsigned)table_bits;
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    const char *key;
    size_t key_len;
    void *value;
    while (coord_strmap_next(&w->paths, &pos, &key, &key_len, &value)) {
        const struct watch_path *p = value;
        size_t before = out->watch_count;
        for (uint32_t i = 0; i < p->count; i++) {
            out->watch_count += (p->slots[i].bits & table) != 0 ? 1u : 0u;
        }
        out->path_count += out->watch_count > before ? 1u : 0u;
    }
    pos = 0;
    uint64_t id;
    while (coord_u64map_next(&w->watchers, &pos, &id, &value)) {
        const struct watch_watcher *who = value;
        for (uint32_t j = 0; j < who->count; j++) {
            if ((who->refs[j].path->slots[who->refs[j].slot].bits & table) != 0) {
                out->watcher_count++;
                break;
            }
        }
    }
}

/* Both dumps sort in place: the watchers' and paths' lists are unordered
 * sets, so reordering them (and repointing the twin indices) changes
 * nothing a caller can see; the manager is logically const. */
void coord_watches_foreach(const struct coord_watches *w, coord_watch_visit_cb cb, void *arg)
{
    COORD_ASSERT(!w->busy);
    size_t n = 0;
    size_t pos = 0;
    uint64_t id;
    void *value;
    while (coord_u64map_next(&w->watchers, &pos, &id, &value)) {
        w->scratch[n++].who = value;
    }
    watch_sort(w->scratch, n, sizeof *w->scratch, watch_item_who_less);
    for (size_t k = 0; k < n; k++) {
        struct watch_watcher *who = w->scratch[k].who;
        watch_sort(who->refs, who->count, sizeof *who->refs, watch_ref_less);
        for (uint32_t j = 0; j < who->count; j++) {
            who->refs[j].path->slots[who->refs[j].slot].back = j;
        }
        for (uint32_t j = 0; j < who->count; j++) {
            const struct watch_path *p = who->refs[j].path;
            cb(arg, who->id, p->bytes, p->len, p->slots[who->refs[j].slot].bits);
        }
    }
}

void coord_watches_foreach_path(const struct coord_watches *w, coord_watch_visit_cb cb, void *arg)
{
    COORD_ASSERT(!w->busy);
    size_t n = 0;
    size_t pos = 0;
    const char *key;
    size_t key_len;
    void *value;
    while (coord_strmap_next(&w->paths, &pos, &key, &key_len, &value)) {
        w->scratch[n++].path = value;
    }
    watch_sort(w->scratch, n, sizeof *w->scratch, watch_item_path_less);
    for (size_t k = 0; k < n; k++) {
        struct watch_path *p = w->scratch[k].path;
        watch_sort(p->slots, p->count, sizeof *p->slots, watch_slot_less);
        for (uint32_t i = 0; i < p->count; i++) {
            p->slots[i].who->refs[p->slots[i].back].slot = i;
        }
        for (uint32_t i = 0; i < p->count; i++) {
            cb(arg, p->slots[i].who->id, p->bytes, p->len, p->slots[i].bits);
        }
    }
}
