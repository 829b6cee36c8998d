/* ACLs and auth schemes, as ZooKeeper has them: world:anyone, auth, digest
 * (user:base64(sha1(user:password))), ip (address or address/bits), super.
 *
 * Strings here are borrowed byte ranges (pointer + length), not
 * NUL-terminated: they usually point into a decoded frame or a tree node. */
#ifndef COORD_ACL_H
#define COORD_ACL_H

#include "coord/types.h"

enum coord_perm {
    COORD_PERM_READ = 1,
    COORD_PERM_WRITE = 2,
    COORD_PERM_CREATE = 4,
    COORD_PERM_DELETE = 8,
    COORD_PERM_ADMIN = 16,
    COORD_PERM_ALL = 31,
};

/* A borrowed string that may be null on the wire (len == -1 and ptr NULL). */
struct coord_str
{
    const char *ptr;
    int32_t len; /* -1 = null */
};

/* An identity: (scheme, id), e.g. ("digest", "bob:OHzSi..."), ("ip", "127.0.0.1"). */
struct coord_ident
{
    struct coord_str scheme;
    struct coord_str id;
};

/* One ACL entry: the permissions granted to an identity pattern. */
struct coord_acl
{
    int32_t perms;
    struct coord_ident ident;
};

/* The identities a connection has: always its ip, plus one per successful
 * addAuth. `super` is set when the connection authenticated as the configured
 * super user (digest) and bypasses every check. */
struct coord_authinfo
{
    const struct coord_ident *ids;
    size_t count;
    bool super;
};

/* Does `auth` hold `perm` (one COORD_PERM_* bit) under the ACL list?
 * Rules (ZooKeeper's PrepRequestProcessor.checkACL): super passes; an empty
 * list passes; otherwise some entry must grant the bit and match one of the
 * caller's ids: world:anyone matches everyone, ip:addr[/bits] matches the
 * caller's ip id by prefix, any other scheme matches when scheme and id are
 * byte-equal. A null string (len -1) never matches. An ip ACL matches only a
 * caller address of its own family (IPv4 or IPv6), as ZooKeeper's newer ip
 * provider does. Returns COORD_OK or COORD_ENOAUTH. */
int coord_acl_check(const struct coord_acl *acl,
                    size_t acl_count,
                    int32_t perm,
                    const struct coord_authinfo *auth);

/* Validate an ACL list from a create or setACL and expand `auth` entries:
 * writes the resulting list to `out` (capacity out_cap, see the last point
 * below) and its length to *out_count. Entries in `out`
 * borrow from `acl` and `auth`.
 * Errors: COORD_EINVALIDACL for a null or empty list, an unknown scheme, a
 * world id other than "anyone", an auth entry when the caller has no
 * non-ip identity, a malformed digest id (see below) or a malformed ip (bad
 * address or bits), or perms outside 0..31.
 *
 * Details, as ZooKeeper 3.8's fixupACL does them:
 * - Duplicate entries (same perms, scheme and id) are dropped before anything
 *   else, keeping the first; entries made by expanding `auth` are not deduplicated.
 * - An `auth` entry's id is ignored (it may be null) and it becomes one entry
 *   per caller id whose scheme is neither "ip" nor "super", in the caller's order.
 * - A digest id is valid when, after dropping trailing ':'s, exactly one ':'
 *   is left (Java's `id.split(":").length == 2`), so ":hash" and "user:hash:"
 *   pass; the user part may be empty there.
 * - A null id under world, digest or ip gives COORD_EMARSHALLING (-5), which is
 *   what the real server answers (it hits a NullPointerException).
 * - "super" and any scheme other than world, auth, digest and ip are invalid.
 * - Perms outside 0..31 are our own check; ZooKeeper stores any int.
 * - acl_count + auth->count is enough when the list holds at most one auth
 *   entry; coord_acl_fixup_cap gives the bound for any list. When `out` is too
 *   small the result is COORD_EFULL. */
int coord_acl_fixup(const struct coord_acl *acl,
                    int32_t acl_count,
                    const struct coord_authinfo *auth,
                    struct coord_acl *out,
                    size_t out_cap,
                    size_t *out_count);
/* The capacity coord_acl_fixup may need: one per entry, and for each auth
 * entry one per caller id it expands to; 0 for a null or empty list. */
size_t coord_acl_fixup_cap(const struct coord_acl *acl,
                           int32_t acl_count,
                           const struct coord_authinfo *auth);

/* The digest scheme: turns "user:password" into "user:base64(sha1(user:password))".
 * `out` must hold at least coord_digest_len(len) bytes; returns the length
 * written, or -1 when the credential has no ':' (AUTHFAILED for addAuth).
 * The user is everything before the first ':'; the hash covers all the bytes.
 * Nothing is NUL-terminated. coord_digest_len is an upper bound (len + 28). */
int32_t coord_digest_id(const char *cred, size_t len, char *out, size_t out_cap);
size_t coord_digest_len(size_t cred_len);

/* SHA-1 and base64 (standard alphabet, '=' padding, no NUL written), exposed
 * for tests. base64 needs out_cap >= 4 * ((len + 2) / 3) and returns that length. */
void coord_sha1(const void *data, size_t len, uint8_t out[20]);
size_t coord_base64_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);

/* Parse a dotted IPv4 address ("10.1.2.3"), or an IPv6 address in the usual
 * text forms, into 16 bytes (IPv4 as v4-mapped); returns the number of
 * significant bits (32 or 128) or -1 when malformed.
 * IPv4: exactly four ASCII decimal parts 0..255 (leading zeros allowed, as
 * Java's parser allows them; no signs). IPv6 (RFC 4291 2.2): 1-4 hex digits per
 * group, at most one "::" standing for one or more zero groups, an optional
 * dotted-quad tail; no zone ids. ip ACLs only match callers of the same family. */
int coord_ip_parse(const char *s, size_t len, uint8_t out[16]);

#endif /* COORD_ACL_H */
