/* Hashing, PRNG, byte buffers, readers and hash maps for the core. */
#include "coord/util.h"

#include <string.h>

/* ---- hashing ------------------------------------------------------------ */

uint64_t coord_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Eight bytes at a time through a multiply-rotate mix, then splitmix64 on the
 * result: fast, and good enough for hash tables and digests (not for
 * adversaries). Stable: depends only on the bytes, length and seed. */
uint64_t coord_hash64(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t k = load_le64(p) * 0x87c37b91114253d5ULL;
        k = (k << 31) | (k >> 33);
        h ^= k * 0x4cf5ad432745937fULL;
        h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++) {
        tail |= (uint64_t)p[i] << (8 * i);
    }
    h ^= tail * 0x87c37b91114253d5ULL;
    return coord_mix64(h);
}

/* ---- PRNG --------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    *x += 0x9e3779b97f4a7c15ULL;
    return coord_mix64(*x);
}

void coord_rng_seed(struct coord_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        rng->s[i] = splitmix64(&seed);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t coord_rng_next(struct coord_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t coord_rng_below(struct coord_rng *rng, uint64_t bound)
{
    if (bound == 0) {
        return 0;
    }
    /* Rejection sampling keeps the draw uniform. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = coord_rng_next(rng);
    } while (x >= limit);
    return x % bound;
}

/* ---- byte buffer ---------------------------------------------------------- */

void coord_buf_init(struct coord_buf *b)
{
    memset(b, 0, sizeof *b);
}

void coord_buf_free(struct coord_buf *b)
{
    coord_free(b->data);
    memset(b, 0, sizeof *b);
}

void coord_buf_reset(struct coord_buf *b)
{
    b->len = 0;
    b->failed = false;
}

bool coord_buf_reserve(struct coord_buf *b, size_t extra)
{
    if (b->failed) {
        return false;
    }
    if (extra <= b->cap - b->len) {
        return true;
    }
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    uint8_t *data = coord_realloc(b->data, cap);
    if (data == NULL) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

void coord_buf_put(struct coord_buf *b, const void *src, size_t len)
{
    if (len == 0 || !coord_buf_reserve(b, len)) {
        return;
    }
    memcpy(b->data + b->len, src, len);
    b->len += len;
}

void coord_buf_u8(struct coord_buf *b, uint8_t v)
{
    if (coord_buf_reserve(b, 1)) {
        b->data[b->len++] = v;
    }
}

void coord_buf_be32(struct coord_buf *b, uint32_t v)
{
    if (coord_buf_reserve(b, 4)) {
        coord_store_be32(b->data + b->len, v);
        b->len += 4;
    }
}

void coord_buf_be64(struct coord_buf *b, uint64_t v)
{
    if (coord_buf_reserve(b, 8)) {
        coord_store_be64(b->data + b->len, v);
        b->len += 8;
    }
}

void coord_buf_patch_be32(struct coord_buf *b, size_t at, uint32_t v)
{
    if (b->failed) {
        return;
    }
    COORD_ASSERT(at + 4 <= b->len);
    coord_store_be32(b->data + at, v);
}

void coord_buf_consume(struct coord_buf *b, size_t n)
{
    COORD_ASSERT(n <= b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* ---- reader --------------------------------------------------------------- */

void coord_reader_init(struct coord_reader *r, const void *data, size_t len)
{
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->failed = false;
}

const uint8_t *coord_reader_bytes(struct coord_reader *r, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

uint8_t coord_reader_u8(struct coord_reader *r)
{
    const uint8_t *p = coord_reader_bytes(r, 1);
    return p == NULL ? 0 : p[0];
}

uint32_t coord_reader_be32(struct coord_reader *r)
{
    const uint8_t *p = coord_reader_bytes(r, 4);
    return p == NULL ? 0 : coord_load_be32(p);
}

uint64_t coord_reader_be64(struct coord_reader *r)
{
    const uint8_t *p = coord_reader_bytes(r, 8);
    return p == NULL ? 0 : coord_load_be64(p);
}

size_t coord_reader_left(const struct coord_reader *r)
{
    return r->failed ? 0 : r->len - r->pos;
}

/* ---- u64 map ------------------------------------------------------------------ */

void coord_u64map_init(struct coord_u64map *m)
{
    memset(m, 0, sizeof *m);
}

void coord_u64map_free(struct coord_u64map *m)
{
    coord_free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t u64map_find(const struct coord_u64map *m, uint64_t key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)coord_mix64(key) & mask;
    while (m->slots[i].key != 0 && m->slots[i].key != key) {
        i = (i + 1) & mask;
    }
    return i;
}

void *coord_u64map_get(const struct coord_u64map *m, uint64_t key)
{
    if (m->cap == 0 || key == 0) {
        return NULL;
    }
    size_t i = u64map_find(m, key);
    return m->slots[i].key == key ? m->slots[i].value : NULL;
}

static int u64map_grow(struct coord_u64map *m)
{
    size_t cap = m->cap == 0 ? 16 : m->cap * 2;
    struct coord_u64map_slot *slots = coord_calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return COORD_ENOMEM;
    }
    struct coord_u64map old = *m;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key != 0) {
            m->slots[u64map_find(m, old.slots[i].key)] = old.slots[i];
        }
    }
    coord_free(old.slots);
    return COORD_OK;
}

int coord_u64map_put(struct coord_u64map *m, uint64_t key, void *value)
{
    COORD_ASSERT(key != 0);
    if ((m->count + 1) * 4 > m->cap * 3) {
        int rc = u64map_grow(m);
        if (rc != COORD_OK) {
            return rc;
        }
    }
    size_t i = u64map_find(m, key);
    if (m->slots[i].key == 0) {
        m->slots[i].key = key;
        m->count++;
    }
    m->slots[i].value = value;
    return COORD_OK;
}

void *coord_u64map_del(struct coord_u64map *m, uint64_t key)
{
    if (m->cap == 0 || key == 0) {
        return NULL;
    }
    size_t mask = m->cap - 1;
    size_t i = u64map_find(m, key);
    if (m->slots[i].key != key) {
        return NULL;
    }
    void *value = m->slots[i].value;
    /* Backward-shift deletion: no tombstones, probes stay short. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].key == 0) {
            break;
        }
        size_t home = (size_t)coord_mix64(m->slots[j].key) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = 0;
    m->slots[i].value = NULL;
    m->count--;
    return value;
}

bool coord_u64map_next(const struct coord_u64map *m, size_t *pos, uint64_t *key, void **value)
{
    while (*pos < m->cap) {
        size_t i = (*pos)++;
        if (m->slots[i].key != 0) {
            *key = m->slots[i].key;
            *value = m->slots[i].value;
            return true;
        }
    }
    return false;
}

/* ---- string map ----------------------------------------------------------------- */

void coord_strmap_init(struct coord_strmap *m)
{
    memset(m, 0, sizeof *m);
}

void coord_strmap_free(struct coord_strmap *m)
{
    coord_free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint64_t strmap_hash(const char *key, size_t len)
{
    uint64_t h = coord_hash64(key, len, 0x5eed);
    return h == 0 ? 1 : h;
}

static size_t strmap_find(const struct coord_strmap *m, uint64_t h, const char *key, size_t len)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)h & mask;
    for (;;) {
        const struct coord_strmap_slot *s = &m->slots[i];
        if (s->hash == 0) {
            return i;
        }
        if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0) {
            return i;
        }
        i = (i + 1) & mask;
    }
}

void *coord_strmap_get(const struct coord_strmap *m, const char *key, size_t key_len)
{
    if (m->cap == 0) {
        return NULL;
    }
    size_t i = strmap_find(m, strmap_hash(key, key_len), key, key_len);
    return m->slots[i].hash == 0 ? NULL : m->slots[i].value;
}

static int strmap_grow(struct coord_strmap *m)
{
    size_t cap = m->cap == 0 ? 16 : m->cap * 2;
    struct coord_strmap_slot *slots = coord_calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return COORD_ENOMEM;
    }
    struct coord_strmap old = *m;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].hash != 0) {
            size_t mask = cap - 1;
            size_t j = (size_t)old.slots[i].hash & mask;
            while (m->slots[j].hash != 0) {
                j = (j + 1) & mask;
            }
            m->slots[j] = old.slots[i];
        }
    }
    coord_free(old.slots);
    return COORD_OK;
}

int coord_strmap_put(struct coord_strmap *m, const char *key, size_t key_len, void *value)
{
    if ((m->count + 1) * 4 > m->cap * 3) {
        int rc = strmap_grow(m);
        if (rc != COORD_OK) {
            return rc;
        }
    }
    uint64_t h = strmap_hash(key, key_len);
    size_t i = strmap_find(m, h, key, key_len);
    if (m->slots[i].hash == 0) {
        m->slots[i].hash = h;
        m->count++;
    }
    m->slots[i].key = key;
    m->slots[i].key_len = key_len;
    m->slots[i].value = value;
    return COORD_OK;
}

void *coord_strmap_del(struct coord_strmap *m, const char *key, size_t key_len)
{
    if (m->cap == 0) {
        return NULL;
    }
    size_t mask = m->cap - 1;
    size_t i = strmap_find(m, strmap_hash(key, key_len), key, key_len);
    if (m->slots[i].hash == 0) {
        return NULL;
    }
    void *value = m->slots[i].value;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].hash == 0) {
            break;
        }
        size_t home = (size_t)m->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    memset(&m->slots[i], 0, sizeof m->slots[i]);
    m->count--;
    return value;
}

bool coord_strmap_next(const struct coord_strmap *m,
                       size_t *pos,
                       const char **key,
                       size_t *key_len,
                       void **value)
{
    while (*pos < m->cap) {
        size_t i = (*pos)++;
        if (m->slots[i].hash != 0) {
            *key = m->slots[i].key;
            *key_len = m->slots[i].key_len;
            *value = m->slots[i].value;
            return true;
        }
    }
    return false;
}
