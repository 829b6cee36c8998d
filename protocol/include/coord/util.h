/* Small building blocks shared by the core's modules: a hash function, a
 * seeded PRNG, a growable byte buffer with big-endian writers, a bounds-checked
 * big-endian reader, and two hash maps (u64 keys, string keys).
 *
 * None of them touches the OS. All allocation goes through coord_malloc. */
#ifndef COORD_UTIL_H
#define COORD_UTIL_H

#include "coord/types.h"

/* ---- hashing ------------------------------------------------------------ */

/* A fast 64-bit hash of a byte string (not cryptographic; stable across runs
 * and machines, so it may be used in digests and snapshots). */
uint64_t coord_hash64(const void *data, size_t len, uint64_t seed);
/* Mix one 64-bit value into a good 64-bit hash (splitmix64's finaliser). */
uint64_t coord_mix64(uint64_t x);

/* ---- PRNG --------------------------------------------------------------- */

/* xoshiro256**, seeded through splitmix64. Same seed, same sequence. */
struct coord_rng
{
    uint64_t s[4];
};
void coord_rng_seed(struct coord_rng *rng, uint64_t seed);
uint64_t coord_rng_next(struct coord_rng *rng);
/* Uniform in [0, bound); bound 0 gives 0. */
uint64_t coord_rng_below(struct coord_rng *rng, uint64_t bound);

/* ---- byte buffer ---------------------------------------------------------- */

/* A growable byte buffer. On allocation failure the buffer is marked failed and
 * later writes do nothing; check `failed` once at the end (sqlite's rc habit). */
struct coord_buf
{
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed;
};
void coord_buf_init(struct coord_buf *b);
void coord_buf_free(struct coord_buf *b);
void coord_buf_reset(struct coord_buf *b); /* len = 0, keeps the memory. */
/* Make room for `extra` more bytes; false (and failed set) when out of memory. */
bool coord_buf_reserve(struct coord_buf *b, size_t extra);
void coord_buf_put(struct coord_buf *b, const void *src, size_t len);
void coord_buf_u8(struct coord_buf *b, uint8_t v);
void coord_buf_be32(struct coord_buf *b, uint32_t v);
void coord_buf_be64(struct coord_buf *b, uint64_t v);
/* Overwrite 4 bytes at `at` (which must already be written) with v, big-endian. */
void coord_buf_patch_be32(struct coord_buf *b, size_t at, uint32_t v);
/* Remove the first n bytes (n <= len). */
void coord_buf_consume(struct coord_buf *b, size_t n);

/* ---- bounds-checked reader ------------------------------------------------ */

/* Reads big-endian values from borrowed bytes. Any read past the end sets
 * `failed`, returns zero, and makes every later read fail too, so a decoder can
 * read a whole record and check once. */
struct coord_reader
{
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool failed;
};
void coord_reader_init(struct coord_reader *r, const void *data, size_t len);
uint8_t coord_reader_u8(struct coord_reader *r);
uint32_t coord_reader_be32(struct coord_reader *r);
uint64_t coord_reader_be64(struct coord_reader *r);
/* Returns a pointer to the next n bytes (borrowed), or NULL and failed. */
const uint8_t *coord_reader_bytes(struct coord_reader *r, size_t n);
size_t coord_reader_left(const struct coord_reader *r);

static inline uint32_t coord_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t coord_load_be64(const uint8_t *p)
{
    return (uint64_t)coord_load_be32(p) << 32 | coord_load_be32(p + 4);
}
static inline void coord_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void coord_store_be64(uint8_t *p, uint64_t v)
{
    coord_store_be32(p, (uint32_t)(v >> 32));
    coord_store_be32(p + 4, (uint32_t)v);
}

/* ---- u64 -> pointer map ----------------------------------------------------- */

/* Open addressing with linear probing and backward-shift deletion. Key 0 is
 * reserved (it marks an empty slot): callers use nonzero keys only. */
struct coord_u64map_slot
{
    uint64_t key;
    void *value;
};
struct coord_u64map
{
    struct coord_u64map_slot *slots;
    size_t cap; /* A power of two, or 0. */
    size_t count;
};
void coord_u64map_init(struct coord_u64map *m);
void coord_u64map_free(struct coord_u64map *m);
void *coord_u64map_get(const struct coord_u64map *m, uint64_t key);
/* Insert or replace. COORD_OK or COORD_ENOMEM. */
int coord_u64map_put(struct coord_u64map *m, uint64_t key, void *value);
/* Remove; returns the old value or NULL. */
void *coord_u64map_del(struct coord_u64map *m, uint64_t key);
/* Iterate: start with *pos = 0; returns false at the end. Do not modify the
 * map while iterating. */
bool coord_u64map_next(const struct coord_u64map *m, size_t *pos, uint64_t *key, void **value);

/* ---- string -> pointer map ---------------------------------------------------- */

/* Keys are borrowed: the caller keeps each key's bytes alive while it is in the
 * map (typically the key lives inside the value). */
struct coord_strmap_slot
{
    uint64_t hash; /* 0 = empty; real hashes are forced nonzero. */
    const char *key;
    size_t key_len;
    void *value;
};
struct coord_strmap
{
    struct coord_strmap_slot *slots;
    size_t cap;
    size_t count;
};
void coord_strmap_init(struct coord_strmap *m);
void coord_strmap_free(struct coord_strmap *m);
void *coord_strmap_get(const struct coord_strmap *m, const char *key, size_t key_len);
int coord_strmap_put(struct coord_strmap *m, const char *key, size_t key_len, void *value);
void *coord_strmap_del(struct coord_strmap *m, const char *key, size_t key_len);
bool coord_strmap_next(const struct coord_strmap *m,
                       size_t *pos,
                       const char **key,
                       size_t *key_len,
                       void **value);

#endif /* COORD_UTIL_H */
