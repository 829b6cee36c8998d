/* The session tracker: see coord/session.h. */
#include "coord/session.h"

#include <string.h>

#define SESSION_LOW_BITS 56
#define SESSION_LOW_MASK ((UINT64_C(1) << SESSION_LOW_BITS) - 1)
#define SESSION_HALF_RING (UINT64_C(1) << (SESSION_LOW_BITS - 1))
#define SESSION_SEED_MASK ((UINT64_C(1) << 40) - 1)
#define SESSION_UNQUEUED SIZE_MAX
/* One snapshot entry: long id + int timeout. */
#define SESSION_SNAP_ENTRY_BYTES 12
/* Gives the second password word its own seed (any fixed constant would do). */
#define SESSION_PASSWORD_SALT UINT64_C(0x6a09e667f3bcc909)

/* ---- bucket arithmetic ------------------------------------------------------------ */

/* ZooKeeper's roundToNextInterval(now + timeout): the first tick multiple
 * strictly after now + timeout. Floor division keeps that true for a clock
 * below zero, and a clock at the end of time saturates at the last tick
 * multiple instead of overflowing. */
static int64_t session_bucket_ms(int64_t now_ms, int32_t timeout_ms, int32_t tick_ms)
{
    int64_t last = INT64_MAX / tick_ms * tick_ms;
    if (now_ms > last - timeout_ms - tick_ms) {
        return last;
    }
    int64_t t = now_ms + timeout_ms;
    int64_t q = t / tick_ms;
    if (t % tick_ms < 0) {
        q--;
    }
    return (q + 1) * tick_ms;
}

/* ---- the expiry queue: a min-heap on (expires_ms, id) ------------------------------ */

static bool queue_before(const struct coord_session *a, const struct coord_session *b)
{
    if (a->expires_ms != b->expires_ms) {
        return a->expires_ms < b->expires_ms;
    }
    return a->id < b->id;
}

static void queue_place(struct coord_sessions *s, size_t pos, struct coord_session *x)
{
    s->queue[pos] = x;
    x->queue_pos = pos;
}

static void queue_sift_up(struct coord_sessions *s, size_t pos)
{
    struct coord_session *x = s->queue[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (!queue_before(x, s->queue[parent])) {
            break;
        }
        queue_place(s, pos, s->queue[parent]);
        pos = parent;
    }
    queue_place(s, pos, x);
}

static void queue_sift_down(struct coord_sessions *s, size_t pos)
{
    struct coord_session *x = s->queue[pos];
    for (;;) {
        size_t child = 2 * pos + 1;
        if (child >= s->queue_count) {
            break;
        }
        if (child + 1 < s->queue_count && queue_before(s->queue[child + 1], s->queue[child])) {
            child++;
        }
        if (!queue_before(s->queue[child], x)) {
            break;
        }
        queue_place(s, pos, s->queue[child]);
        pos = child;
    }
    queue_place(s, pos, x);
}

/* Restore the heap order around `pos` after its key changed either way. */
static void queue_fix(struct coord_sessions *s, size_t pos)
{
    struct coord_session *x = s->queue[pos];
    queue_sift_up(s, pos);
    queue_sift_down(s, x->queue_pos);
}

/* Room must have been reserved (session_reserve). */
static void queue_push(struct coord_sessions *s, struct coord_session *x)
{
    COORD_ASSERT(s->queue_count < s->queue_cap);
    queue_place(s, s->queue_count++, x);
    queue_sift_up(s, x->queue_pos);
}

static void queue_remove(struct coord_sessions *s, struct coord_session *x)
{
    size_t pos = x->queue_pos;
    COORD_ASSERT(pos < s->queue_count);
    COORD_ASSERT(s->queue[pos] == x);
    x->queue_pos = SESSION_UNQUEUED;
    struct coord_session *last = s->queue[--s->queue_count];
    s->queue[s->queue_count] = NULL;
    if (last != x) {
        queue_place(s, pos, last);
        queue_fix(s, pos);
    }
}

/* Make sure the queue can hold one more session than are tracked, so that
 * touching or adding never needs memory once the add has succeeded. */
static int session_reserve(struct coord_sessions *s)
{
    size_t need = s->by_id.count + 1;
    if (need <= s->queue_cap) {
        return COORD_OK;
    }
    size_t cap = s->queue_cap == 0 ? 16 : s->queue_cap * 2;
    if (cap > SIZE_MAX / sizeof *s->queue) {
        return COORD_ENOMEM;
    }
    struct coord_session **queue = coord_realloc(s->queue, cap * sizeof *queue);
    if (queue == NULL) {
        return COORD_ENOMEM;
    }
    s->queue = queue;
    s->queue_cap = cap;
    return COORD_OK;
}

/* Put the session in the bucket of now_ms + its timeout (ExpiryQueue.update). */
static void session_schedule(struct coord_sessions *s, struct coord_session *x, int64_t now_ms)
{
    int64_t expires_ms = session_bucket_ms(now_ms, x->timeout_ms, s->tick_ms);
    if (x->queue_pos == SESSION_UNQUEUED) {
        x->expires_ms = expires_ms;
        queue_push(s, x);
        return;
    }
    if (expires_ms == x->expires_ms) {
        return;
    }
    x->expires_ms = expires_ms;
    queue_fix(s, x->queue_pos);
}

/* ---- lifecycle ----------------------------------------------------------------- */

int coord_sessions_init(struct coord_sessions *s,
                        int32_t tick_ms,
                        coord_id server_id,
                        uint64_t id_seed,
                        uint64_t secret)
{
    memset(s, 0, sizeof *s);
    coord_u64map_init(&s->by_id);
    if (tick_ms <= 0 || server_id == 0 || server_id > COORD_SERVER_ID_MAX) {
        return COORD_EBADARGUMENTS;
    }
    s->tick_ms = tick_ms;
    s->server_id = server_id;
    s->next_low = (id_seed & SESSION_SEED_MASK) << 16;
    s->secret = secret;
    return COORD_OK;
}

void coord_sessions_close(struct coord_sessions *s)
{
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&s->by_id, &pos, &key, &value)) {
        coord_free(value);
    }
    coord_u64map_free(&s->by_id);
    coord_free(s->queue);
    memset(s, 0, sizeof *s);
}

/* ---- negotiation ------------------------------------------------------------------ */

int32_t coord_sessions_negotiate(int32_t requested_ms, int32_t min_ms, int32_t max_ms)
{
    int32_t timeout_ms = requested_ms;
    if (timeout_ms < min_ms) {
        timeout_ms = min_ms;
    }
    if (timeout_ms > max_ms) {
        timeout_ms = max_ms;
    }
    return timeout_ms;
}

static int32_t session_ticks_ms(int32_t tick_ms, int64_t ticks)
{
    int64_t ms = (int64_t)tick_ms * ticks;
    return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

int32_t coord_sessions_min_timeout(int32_t tick_ms, int32_t configured_ms)
{
    return configured_ms > 0 ? configured_ms : session_ticks_ms(tick_ms, 2);
}

int32_t coord_sessions_max_timeout(int32_t tick_ms, int32_t configured_ms)
{
    return configured_ms > 0 ? configured_ms : session_ticks_ms(tick_ms, 20);
}

/* ---- ids ------------------------------------------------------------------------------ */

static coord_session_id session_make_id(const struct coord_sessions *s, uint64_t low)
{
    return (coord_session_id)((uint64_t)s->server_id << SESSION_LOW_BITS | low);
}

coord_session_id coord_sessions_next_id(struct coord_sessions *s)
{
    COORD_ASSERT(s->server_id != 0);
    coord_session_id id;
    do {
        id = session_make_id(s, s->next_low);
        s->next_low = (s->next_low + 1) & SESSION_LOW_MASK;
    } while (coord_u64map_get(&s->by_id, (uint64_t)id) != NULL);
    return id;
}

void coord_sessions_observe_id(struct coord_sessions *s, coord_session_id id)
{
    if (id <= 0 || (uint64_t)id >> SESSION_LOW_BITS != s->server_id) {
        return;
    }
    uint64_t low = (uint64_t)id & SESSION_LOW_MASK;
    uint64_t ahead = (low - s->next_low) & SESSION_LOW_MASK;
    if (ahead < SESSION_HALF_RING) {
        s->next_low = (low + 1) & SESSION_LOW_MASK;
    }
}

/* ---- the session table ------------------------------------------------------------ */

int coord_sessions_add(struct coord_sessions *s,
                       coord_session_id id,
                       int32_t timeout_ms,
                       int64_t now_ms)
{
    if (id <= 0 || timeout_ms <= 0) {
        return COORD_EBADARGUMENTS;
    }
    if (coord_u64map_get(&s->by_id, (uint64_t)id) != NULL) {
        return COORD_ENODEEXISTS;
    }
    if (session_reserve(s) != COORD_OK) {
        return COORD_ENOMEM;
    }
    struct coord_session *x = coord_calloc(1, sizeof *x);
    if (x == NULL) {
        return COORD_ENOMEM;
    }
    x->id = id;
    x->timeout_ms = timeout_ms;
    x->queue_pos = SESSION_UNQUEUED;
    if (coord_u64map_put(&s->by_id, (uint64_t)id, x) != COORD_OK) {
        coord_free(x);
        return COORD_ENOMEM;
    }
    session_schedule(s, x, now_ms);
    coord_sessions_observe_id(s, id);
    return COORD_OK;
}

struct coord_session *coord_sessions_get(const struct coord_sessions *s, coord_session_id id)
{
    if (id <= 0) {
        return NULL;
    }
    return coord_u64map_get(&s->by_id, (uint64_t)id);
}

bool coord_sessions_touch(struct coord_sessions *s, coord_session_id id, int64_t now_ms)
{
    struct coord_session *x = coord_sessions_get(s, id);
    if (x == NULL || x->closing) {
        return false;
    }
    session_schedule(s, x, now_ms);
    return true;
}

int coord_sessions_set_timeout(struct coord_sessions *s,
                               coord_session_id id,
                               int32_t timeout_ms,
                               int64_t now_ms)
{
    if (timeout_ms <= 0) {
        return COORD_EBADARGUMENTS;
    }
    struct coord_session *x = coord_sessions_get(s, id);
    if (x == NULL) {
        return COORD_EUNKNOWNSESSION;
    }
    if (x->closing) {
        return COORD_ESESSIONEXPIRED;
    }
    x->timeout_ms = timeout_ms;
    session_schedule(s, x, now_ms);
    return COORD_OK;
}

bool coord_sessions_set_closing(struct coord_sessions *s, coord_session_id id)
{
    struct coord_session *x = coord_sessions_get(s, id);
    if (x == NULL) {
        return false;
    }
    x->closing = true;
    return true;
}

void coord_sessions_remove(struct coord_sessions *s, coord_session_id id)
{
    if (id <= 0) {
        return;
    }
    struct coord_session *x = coord_u64map_del(&s->by_id, (uint64_t)id);
    if (x == NULL) {
        return;
    }
    if (x->queue_pos != SESSION_UNQUEUED) {
        queue_remove(s, x);
    }
    coord_free(x);
}

size_t coord_sessions_count(const struct coord_sessions *s)
{
    return s->by_id.count;
}

bool coord_sessions_next(const struct coord_sessions *s,
                         size_t *pos,
                         const struct coord_session **out)
{
    uint64_t key;
    void *value;
    if (!coord_u64map_next(&s->by_id, pos, &key, &value)) {
        return false;
    }
    *out = value;
    return true;
}

/* ---- expiry ------------------------------------------------------------------------- */

size_t coord_sessions_expire(struct coord_sessions *s,
                             int64_t now_ms,
                             coord_session_id *out,
                             size_t cap)
{
    size_t n = 0;
    while (n < cap && s->queue_count > 0 && s->queue[0]->expires_ms <= now_ms) {
        struct coord_session *x = s->queue[0];
        queue_remove(s, x);
        x->closing = true;
        out[n++] = x->id;
    }
    return n;
}

int64_t coord_sessions_next_deadline(const struct coord_sessions *s)
{
    return s->queue_count == 0 ? INT64_MAX : s->queue[0]->expires_ms;
}

/* ---- passwords ----------------------------------------------------------------------- */

void coord_sessions_password(const struct coord_sessions *s,
                             coord_session_id id,
                             uint8_t out[COORD_SESSION_PASSWORD_LEN])
{
    uint8_t id_bytes[8];
    coord_store_be64(id_bytes, (uint64_t)id);
    uint64_t first = coord_hash64(id_bytes, sizeof id_bytes, s->secret);
    uint64_t second =
        coord_hash64(id_bytes, sizeof id_bytes, coord_mix64(s->secret ^ SESSION_PASSWORD_SALT));
    coord_store_be64(out, first);
    coord_store_be64(out + 8, second);
}

bool coord_sessions_check_password(const struct coord_sessions *s,
                                   coord_session_id id,
                                   const uint8_t *pw,
                                   size_t len)
{
    if (id <= 0 || pw == NULL || len != COORD_SESSION_PASSWORD_LEN) {
        return false;
    }
    uint8_t expected[COORD_SESSION_PASSWORD_LEN];
    coord_sessions_password(s, id, expected);
    /* Accumulate every difference so the time taken does not tell a guesser
     * how many leading bytes were right. */
    uint8_t diff = 0;
    for (size_t i = 0; i < COORD_SESSION_PASSWORD_LEN; i++) {
        diff |= (uint8_t)(expected[i] ^ pw[i]);
    }
    return diff == 0;
}

/* ---- snapshots --------------------------------------------------------------------------- */

static void sort_sift_down(const struct coord_session **a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) {
            return;
        }
        if (child + 1 < n && a[child + 1]->id > a[child]->id) {
            child++;
        }
        if (a[root]->id >= a[child]->id) {
            return;
        }
        const struct coord_session *t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Heapsort by id: the core may not call qsort, and this needs no memory. */
static void sort_by_id(const struct coord_session **a, size_t n)
{
    for (size_t i = n / 2; i > 0; i--) {
        sort_sift_down(a, i - 1, n);
    }
    for (size_t end = n; end > 1; end--) {
        const struct coord_session *t = a[0];
        a[0] = a[end - 1];
        a[end - 1] = t;
        sort_sift_down(a, 0, end - 1);
    }
}

int coord_sessions_snapshot(const struct coord_sessions *s, struct coord_buf *out)
{
    size_t count = s->by_id.count;
    COORD_ASSERT(count <= INT32_MAX);
    coord_buf_be32(out, (uint32_t)count);
    if (count == 0) {
        return out->failed ? COORD_ENOMEM : COORD_OK;
    }
    const struct coord_session **sorted = coord_calloc(count, sizeof *sorted);
    if (sorted == NULL) {
        out->failed = true;
        return COORD_ENOMEM;
    }
    size_t pos = 0;
    size_t n = 0;
    const struct coord_session *x;
    while (coord_sessions_next(s, &pos, &x)) {
        sorted[n++] = x;
    }
    sort_by_id(sorted, n);
    coord_buf_reserve(out, n * SESSION_SNAP_ENTRY_BYTES);
    for (size_t i = 0; i < n; i++) {
        coord_buf_be64(out, (uint64_t)sorted[i]->id);
        coord_buf_be32(out, (uint32_t)sorted[i]->timeout_ms);
    }
    coord_free(sorted);
    return out->failed ? COORD_ENOMEM : COORD_OK;
}

/* Read the section into `into` (a fresh tracker). */
static int session_restore_into(struct coord_sessions *into, struct coord_reader *r, int64_t now_ms)
{
    uint32_t count = coord_reader_be32(r);
    if (r->failed || count > INT32_MAX || count > coord_reader_left(r) / SESSION_SNAP_ENTRY_BYTES) {
        return COORD_ECORRUPT;
    }
    for (uint32_t i = 0; i < count; i++) {
        coord_session_id id = (coord_session_id)coord_reader_be64(r);
        int32_t timeout_ms = (int32_t)coord_reader_be32(r);
        if (r->failed) {
            return COORD_ECORRUPT;
        }
        int rc = coord_sessions_add(into, id, timeout_ms, now_ms);
        if (rc == COORD_ENOMEM) {
            return rc;
        }
        if (rc != COORD_OK) {
            return COORD_ECORRUPT; /* A duplicate, an id <= 0 or a timeout <= 0. */
        }
    }
    return COORD_OK;
}

int coord_sessions_restore(struct coord_sessions *s, struct coord_reader *r, int64_t now_ms)
{
    /* Build the new table on the side, so a failure leaves `s` untouched. */
    struct coord_sessions fresh;
    int rc = coord_sessions_init(&fresh, s->tick_ms, s->server_id, 0, s->secret);
    COORD_ASSERT(rc == COORD_OK);
    fresh.next_low = s->next_low;
    rc = session_restore_into(&fresh, r, now_ms);
    if (rc != COORD_OK) {
        coord_sessions_close(&fresh);
        return rc;
    }
    coord_sessions_close(s);
    *s = fresh;
    return COORD_OK;
}
