/* ACL checks and validation, the digest scheme, and the SHA-1 and base64 it
 * needs. Behaviour follows ZooKeeper's PrepRequestProcessor.fixupACL,
 * ZooKeeperServer.checkACL and its digest and ip providers; the code is our
 * own, written from FIPS 180-1 and RFC 4648/4291. */
#include "coord/acl.h"

#include <string.h>

#include "coord/util.h"

/* ---- SHA-1 (FIPS 180-1) ------------------------------------------------------ */

static uint32_t sha1_rol(uint32_t x, unsigned n)
{
    return x << n | x >> (32u - n);
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80];
    for (unsigned t = 0; t < 16; t++) {
        w[t] = coord_load_be32(p + 4 * t);
    }
    for (unsigned t = 16; t < 80; t++) {
        w[t] = sha1_rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (unsigned t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        uint32_t temp = sha1_rol(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = sha1_rol(b, 30);
        b = a;
        a = temp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void coord_sha1(const void *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    const uint8_t *p = data;
    size_t full = len / 64 * 64;
    for (size_t off = 0; off < full; off += 64) {
        sha1_block(h, p + off);
    }
    /* Padding: a 1 bit, zeros, then the length in bits as 64-bit big-endian;
     * one more block when fewer than 9 bytes are left in the last one. */
    uint8_t tail[128] = {0};
    size_t rest = len - full;
    if (rest > 0) {
        memcpy(tail, p + full, rest);
    }
    tail[rest] = 0x80;
    size_t tail_len = rest + 9 <= 64 ? 64 : 128;
    coord_store_be64(tail + tail_len - 8, (uint64_t)len * 8u);
    for (size_t off = 0; off < tail_len; off += 64) {
        sha1_block(h, tail + off);
    }
    for (unsigned i = 0; i < 5; i++) {
        coord_store_be32(out + 4 * i, h[i]);
    }
}

/* ---- base64 (RFC 4648 section 4, with padding) --------------------------------- */

size_t coord_base64_encode(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t need = (len + 2) / 3 * 4;
    COORD_ASSERT(out_cap >= need);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t v = (uint32_t)in[i] << 16;
        if (left > 1) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (left > 2) {
            v |= in[i + 2];
        }
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = left > 1 ? alphabet[v >> 6 & 63] : '=';
        out[o++] = left > 2 ? alphabet[v & 63] : '=';
    }
    return o;
}

/* ---- digest scheme ------------------------------------------------------------- */

#define ACL_DIGEST_B64_LEN 28 /* base64 of a 20-byte SHA-1. */

size_t coord_digest_len(size_t cred_len)
{
    /* The user part is shorter than the credential (it excludes the ':'). */
    return cred_len + ACL_DIGEST_B64_LEN;
}

int32_t coord_digest_id(const char *cred, size_t len, char *out, size_t out_cap)
{
    const char *colon = len > 0 ? memchr(cred, ':', len) : NULL;
    if (colon == NULL) {
        return -1;
    }
    /* Like ZooKeeper, the user is everything before the first ':' and the hash
     * covers the whole credential, password included. */
    size_t user_len = (size_t)(colon - cred);
    size_t total = user_len + 1 + ACL_DIGEST_B64_LEN;
    COORD_ASSERT(out_cap >= total && total <= INT32_MAX);
    uint8_t hash[20];
    coord_sha1(cred, len, hash);
    memcpy(out, cred, user_len + 1);
    coord_base64_encode(hash, sizeof hash, out + user_len + 1, ACL_DIGEST_B64_LEN);
    return (int32_t)total;
}

/* ZooKeeper's DigestAuthenticationProvider.isValid is `id.split(":").length == 2`.
 * Java's split drops trailing empty parts, so this means: once trailing ':'s are
 * dropped, exactly one ':' is left. ":hash" and "user:hash:" pass; "user:",
 * "a::b" and "user" do not. */
static bool acl_digest_id_valid(const char *s, size_t len)
{
    while (len > 0 && s[len - 1] == ':') {
        len--;
    }
    size_t colons = 0;
    for (size_t i = 0; i < len; i++) {
        colons += s[i] == ':';
    }
    return colons == 1;
}

/* ---- ip addresses ----------------------------------------------------------- */

/* Parses ASCII decimal digits (at least one) as a value no larger than max.
 * Leading zeros are accepted, as Java's Integer.parseInt does. */
static bool acl_parse_decimal(const char *s, size_t len, unsigned max, unsigned *out)
{
    if (len == 0) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > max) {
            return false;
        }
    }
    *out = v;
    return true;
}

/* Four decimal parts 0..255 separated by '.', into 4 bytes. */
static bool acl_parse_v4(const char *s, size_t len, uint8_t out[4])
{
    size_t start = 0;
    for (unsigned part = 0; part < 4; part++) {
        size_t end = start;
        while (end < len && s[end] != '.') {
            end++;
        }
        if ((part < 3) != (end < len)) {
            return false; /* Too few or too many parts. */
        }
        unsigned v;
        if (!acl_parse_decimal(s + start, end - start, 255, &v)) {
            return false;
        }
        out[part] = (uint8_t)v;
        start = end + 1;
    }
    return true;
}

static int acl_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* One to four hex digits. */
static bool acl_parse_group(const char *s, size_t len, uint16_t *out)
{
    if (len == 0 || len > 4) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = acl_hex_digit(s[i]);
        if (d < 0) {
            return false;
        }
        v = v << 4 | (unsigned)d;
    }
    *out = (uint16_t)v;
    return true;
}

/* RFC 4291 section 2.2 text forms: eight groups, or fewer with one "::"
 * standing for at least one zero group, the last 32 bits optionally written
 * as a dotted quad. */
static bool acl_parse_v6(const char *s, size_t len, uint8_t out[16])
{
    uint16_t groups[8] = {0};
    size_t count = 0, gap = SIZE_MAX, i = 0;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    }
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != ':') {
            end++;
        }
        if (memchr(s + i, '.', end - i) != NULL) {
            uint8_t v4[4];
            if (end != len || count > 6 || !acl_parse_v4(s + i, end - i, v4)) {
                return false;
            }
            groups[count++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[count++] = (uint16_t)(v4[2] << 8 | v4[3]);
            break;
        }
        if (count == 8 || !acl_parse_group(s + i, end - i, &groups[count])) {
            return false;
        }
        count++;
        i = end;
        if (i == len) {
            break;
        }
        i++; /* The ':' after the group. */
        if (i < len && s[i] == ':') {
            if (gap != SIZE_MAX) {
                return false; /* A second "::". */
            }
            gap = count;
            i++;
        } else if (i == len) {
            return false; /* A single trailing ':'. */
        }
    }
    if (gap == SIZE_MAX ? count != 8 : count > 7) {
        return false;
    }
    if (gap != SIZE_MAX) {
        size_t moved = count - gap;
        memmove(groups + 8 - moved, groups + gap, moved * sizeof groups[0]);
        memset(groups + gap, 0, (8 - count) * sizeof groups[0]);
    }
    for (unsigned g = 0; g < 8; g++) {
        out[2 * g] = (uint8_t)(groups[g] >> 8);
        out[2 * g + 1] = (uint8_t)groups[g];
    }
    return true;
}

int coord_ip_parse(const char *s, size_t len, uint8_t out[16])
{
    if (len == 0) {
        return -1;
    }
    if (memchr(s, ':', len) != NULL) {
        return acl_parse_v6(s, len, out) ? 128 : -1;
    }
    uint8_t v4[4];
    if (!acl_parse_v4(s, len, v4)) {
        return -1;
    }
    memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    memcpy(out + 12, v4, 4);
    return 32;
}

/* An ip ACL id: "addr" or "addr/bits", bits no more than the address has.
 * On success *family_bits is 32 or 128 and *prefix_bits the bits to compare. */
static bool acl_ip_expr_parse(struct coord_str id,
                              uint8_t addr[16],
                              unsigned *family_bits,
                              unsigned *prefix_bits)
{
    if (id.len < 0) {
        return false;
    }
    size_t len = (size_t)id.len;
    const char *slash = len > 0 ? memchr(id.ptr, '/', len) : NULL;
    size_t addr_len = slash != NULL ? (size_t)(slash - id.ptr) : len;
    int family = coord_ip_parse(id.ptr, addr_len, addr);
    if (family < 0) {
        return false;
    }
    *family_bits = (unsigned)family;
    *prefix_bits = (unsigned)family;
    if (slash == NULL) {
        return true;
    }
    return acl_parse_decimal(slash + 1, len - addr_len - 1, *family_bits, prefix_bits);
}

/* Does the caller's address (a plain address) fall in the ACL's prefix? The
 * two must be of the same family, as in ZooKeeper's ip provider. */
static bool acl_ip_matches(struct coord_str caller, struct coord_str acl_id)
{
    uint8_t want[16], have[16];
    unsigned family_bits, prefix_bits;
    if (caller.len < 0 || !acl_ip_expr_parse(acl_id, want, &family_bits, &prefix_bits)) {
        return false;
    }
    if (coord_ip_parse(caller.ptr, (size_t)caller.len, have) != (int)family_bits) {
        return false;
    }
    /* IPv4 sits in the last 4 bytes (v4-mapped); the bytes before are equal. */
    unsigned bits = 128 - family_bits + prefix_bits;
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(want, have, whole) != 0) {
        return false;
    }
    if (rest == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (want[whole] & mask) == (have[whole] & mask);
}

/* ---- ACL checks ------------------------------------------------------------- */

/* Byte equality; a null string equals nothing, not even another null. */
static bool acl_str_eq(struct coord_str a, struct coord_str b)
{
    return a.len >= 0 && a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

static bool acl_str_is(struct coord_str s, const char *lit)
{
    struct coord_str l = {lit, (int32_t)strlen(lit)};
    return acl_str_eq(s, l);
}

static bool acl_ident_matches(const struct coord_ident *pattern, const struct coord_authinfo *auth)
{
    if (acl_str_is(pattern->scheme, "world") && acl_str_is(pattern->id, "anyone")) {
        return true;
    }
    bool ip = acl_str_is(pattern->scheme, "ip");
    for (size_t i = 0; i < auth->count; i++) {
        const struct coord_ident *mine = &auth->ids[i];
        if (!acl_str_eq(mine->scheme, pattern->scheme)) {
            continue;
        }
        if (ip ? acl_ip_matches(mine->id, pattern->id) : acl_str_eq(mine->id, pattern->id)) {
            return true;
        }
    }
    return false;
}

int coord_acl_check(const struct coord_acl *acl,
                    size_t acl_count,
                    int32_t perm,
                    const struct coord_authinfo *auth)
{
    COORD_ASSERT(auth != NULL);
    if (auth->super || acl_count == 0) {
        return COORD_OK;
    }
    for (size_t i = 0; i < acl_count; i++) {
        if ((acl[i].perms & perm) != 0 && acl_ident_matches(&acl[i].ident, auth)) {
            return COORD_OK;
        }
    }
    return COORD_ENOAUTH;
}

/* ---- ACL validation and auth expansion ------------------------------------------- */

/* An id that an `auth` entry stands for. ZooKeeper expands to the caller's ids
 * whose provider "is authenticated": not ip, and not super (which has no
 * provider at all). */
static bool acl_ident_expands(const struct coord_ident *id)
{
    return id->scheme.len >= 0 && !acl_str_is(id->scheme, "ip") && !acl_str_is(id->scheme, "super");
}

static bool acl_is_auth_entry(const struct coord_acl *a)
{
    return acl_str_is(a->ident.scheme, "auth");
}

size_t coord_acl_fixup_cap(const struct coord_acl *acl,
                           int32_t acl_count,
                           const struct coord_authinfo *auth)
{
    size_t expands = 0;
    for (size_t i = 0; i < auth->count; i++) {
        expands += acl_ident_expands(&auth->ids[i]);
    }
    size_t cap = 0;
    for (int32_t i = 0; i < acl_count; i++) {
        cap += acl_is_auth_entry(&acl[i]) ? expands : 1;
    }
    return cap;
}

/* Null equals null here: this is ZooKeeper's removeDuplicates (ACL.equals),
 * not a permission match. */
static bool acl_same_str(struct coord_str a, struct coord_str b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

static bool acl_seen_before(const struct coord_acl *acl, int32_t index)
{
    const struct coord_acl *a = &acl[index];
    for (int32_t i = 0; i < index; i++) {
        if (acl[i].perms == a->perms && acl_same_str(acl[i].ident.scheme, a->ident.scheme) &&
            acl_same_str(acl[i].ident.id, a->ident.id)) {
            return true;
        }
    }
    return false;
}

static int acl_append(struct coord_acl *out,
                      size_t out_cap,
                      size_t *n,
                      int32_t perms,
                      const struct coord_ident *ident)
{
    if (*n == out_cap) {
        return COORD_EFULL;
    }
    out[*n].perms = perms;
    out[*n].ident = *ident;
    (*n)++;
    return COORD_OK;
}

static int acl_expand_auth(int32_t perms,
                           const struct coord_authinfo *auth,
                           struct coord_acl *out,
                           size_t out_cap,
                           size_t *n)
{
    bool any = false;
    for (size_t i = 0; i < auth->count; i++) {
        if (!acl_ident_expands(&auth->ids[i])) {
            continue;
        }
        int rc = acl_append(out, out_cap, n, perms, &auth->ids[i]);
        if (rc != COORD_OK) {
            return rc;
        }
        any = true;
    }
    return any ? COORD_OK : COORD_EINVALIDACL;
}

/* Validates one entry and appends what it stands for. */
static int acl_fixup_entry(const struct coord_acl *a,
                           const struct coord_authinfo *auth,
                           struct coord_acl *out,
                           size_t out_cap,
                           size_t *n)
{
    struct coord_str scheme = a->ident.scheme, id = a->ident.id;
    if (a->perms < 0 || a->perms > COORD_PERM_ALL || scheme.len < 0) {
        return COORD_EINVALIDACL;
    }
    if (acl_str_is(scheme, "auth")) {
        return acl_expand_auth(a->perms, auth, out, out_cap, n); /* Its id is ignored. */
    }
    bool world = acl_str_is(scheme, "world"), digest = acl_str_is(scheme, "digest"),
         ip = acl_str_is(scheme, "ip");
    if (!world && !digest && !ip) {
        return COORD_EINVALIDACL;
    }
    if (id.len < 0) {
        return COORD_EMARSHALLING; /* The real server fails with an exception here. */
    }
    bool valid;
    if (world) {
        valid = acl_str_is(id, "anyone");
    } else if (digest) {
        valid = acl_digest_id_valid(id.ptr, (size_t)id.len);
    } else {
        uint8_t addr[16];
        unsigned family_bits, prefix_bits;
        valid = acl_ip_expr_parse(id, addr, &family_bits, &prefix_bits);
    }
    if (!valid) {
        return COORD_EINVALIDACL;
    }
    return acl_append(out, out_cap, n, a->perms, &a->ident);
}

int coord_acl_fixup(const struct coord_acl *acl,
                    int32_t acl_count,
                    const struct coord_authinfo *auth,
                    struct coord_acl *out,
                    size_t out_cap,
                    size_t *out_count)
{
    COORD_ASSERT(auth != NULL && out_count != NULL);
    *out_count = 0;
    if (acl == NULL || acl_count <= 0) {
        return COORD_EINVALIDACL;
    }
    size_t n = 0;
    for (int32_t i = 0; i < acl_count; i++) {
        if (acl_seen_before(acl, i)) {
            continue;
        }
        int rc = acl_fixup_entry(&acl[i], auth, out, out_cap, &n);
        if (rc != COORD_OK) {
            return rc;
        }
    }
    *out_count = n;
    return COORD_OK;
}
