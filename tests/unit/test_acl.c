/* ACL checks and validation, the digest scheme, SHA-1, base64 and ip parsing.
 * Expected digests come from Python's hashlib/base64 and FIPS 180-1; ACL rules
 * from ZooKeeper's fixupACL/checkACL and its digest and ip providers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "coord/acl.h"

/* ---- helpers ----------------------------------------------------------------- */

static struct coord_str str(const char *s)
{
    struct coord_str r = {NULL, -1};
    if (s != NULL) {
        r.ptr = s;
        r.len = (int32_t)strlen(s);
    }
    return r;
}

/* A NULL C string stands for a null wire string (len -1). */
static struct coord_ident ident(const char *scheme, const char *id)
{
    struct coord_ident i = {str(scheme), str(id)};
    return i;
}

static struct coord_acl entry(int32_t perms, const char *scheme, const char *id)
{
    struct coord_acl a = {perms, ident(scheme, id)};
    return a;
}

static bool str_is(struct coord_str s, const char *want)
{
    return s.len == (int32_t)strlen(want) && memcmp(s.ptr, want, strlen(want)) == 0;
}

static void sha1_hex(const void *data, size_t len, char hex[41])
{
    uint8_t d[20];
    coord_sha1(data, len, d);
    for (int i = 0; i < 20; i++) {
        hex[2 * i] = "0123456789abcdef"[d[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
    }
    hex[40] = '\0';
}

/* The digest id of a NUL-terminated credential, NUL-terminated into out. */
static int32_t digest(const char *cred, char *out, size_t out_cap)
{
    size_t len = strlen(cred);
    assert_true(out_cap > coord_digest_len(len));
    int32_t n = coord_digest_id(cred, len, out, out_cap - 1);
    out[n < 0 ? 0 : n] = '\0';
    return n;
}

/* The result of coord_acl_fixup on a one-entry list, for a caller holding only
 * an ip id. */
static int fixup_one(int32_t perms, const char *scheme, const char *id)
{
    struct coord_acl in = entry(perms, scheme, id);
    struct coord_ident ip = ident("ip", "127.0.0.1");
    struct coord_authinfo auth = {&ip, 1, false};
    struct coord_acl out[2];
    size_t n = 99;
    int rc = coord_acl_fixup(&in, 1, &auth, out, 2, &n);
    assert_int_equal(n, rc == COORD_OK ? 1 : 0);
    return rc;
}

/* Does a caller with the single id (scheme, id) get perm under a one-entry ACL? */
static int check_one(const struct coord_acl *acl, int32_t perm, const char *scheme, const char *id)
{
    struct coord_ident mine = ident(scheme, id);
    struct coord_authinfo auth = {&mine, 1, false};
    return coord_acl_check(acl, 1, perm, &auth);
}

static int ip_check(const char *acl_id, const char *caller)
{
    struct coord_acl a = entry(COORD_PERM_ALL, "ip", acl_id);
    return check_one(&a, COORD_PERM_READ, "ip", caller);
}

/* ---- SHA-1, base64, digest ---------------------------------------------------- */

static void test_sha1_known_vectors(void **state)
{
    (void)state;
    char hex[41];
    sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_hex(two_blocks, strlen(two_blocks), hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");

    char *million = test_malloc(1000000);
    memset(million, 'a', 1000000);
    sha1_hex(million, 1000000, hex);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    test_free(million);
}

/* 55 bytes leave room for the 9 padding bytes; 56 push the length into a
 * second block; 64 fill a block exactly. */
static void test_sha1_pads_across_block_boundary(void **state)
{
    (void)state;
    char a[64];
    memset(a, 'a', sizeof a);
    char hex[41];
    sha1_hex(a, 55, hex);
    assert_string_equal(hex, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    sha1_hex(a, 56, hex);
    assert_string_equal(hex, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    sha1_hex(a, 64, hex);
    assert_string_equal(hex, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16];
        memset(out, '#', sizeof out);
        size_t n = coord_base64_encode((const uint8_t *)cases[i][0], strlen(cases[i][0]), out, 8);
        assert_int_equal(n, strlen(cases[i][1]));
        assert_memory_equal(out, cases[i][1], n);
        assert_int_equal(out[n], '#'); /* Nothing written past the result. */
    }
    const uint8_t high[3] = {0xfb, 0xff, 0xbf};
    char out[4];
    assert_int_equal(coord_base64_encode(high, 3, out, 4), 4);
    assert_memory_equal(out, "+/+/", 4);
}

static void test_base64_output_too_small_is_a_programmer_error(void **state)
{
    (void)state;
    char out[3];
    expect_assert_failure(coord_base64_encode((const uint8_t *)"f", 1, out, sizeof out));
}

static void test_digest_of_super_test(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(digest("super:test", out, sizeof out), 34);
    assert_string_equal(out, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    assert_int_equal(digest("bob:secret", out, sizeof out), 32);
    assert_string_equal(out, "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
}

/* The hash covers the whole credential; the user ends at the first ':'. */
static void test_digest_user_is_text_before_first_colon(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(digest("a:b:c", out, sizeof out), 30);
    assert_string_equal(out, "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0=");
    assert_int_equal(digest(":pw", out, sizeof out), 29);
    assert_string_equal(out, ":krPDEYdCl854cFNT6IXnoMv+VVA=");
    assert_int_equal(digest("user:", out, sizeof out), 33);
    assert_string_equal(out, "user:kd7q5xGKLW+18xQTfO8iqRaFvsM=");
}

static void test_digest_without_colon_fails(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(digest("bob", out, sizeof out), -1);
    assert_int_equal(digest("", out, sizeof out), -1);
}

/* The credential is a byte range: bytes past len are not part of it. */
static void test_digest_reads_only_len_bytes(void **state)
{
    (void)state;
    const char *cred = "super:testXYZ";
    char out[64];
    int32_t n = coord_digest_id(cred, 10, out, coord_digest_len(10));
    assert_int_equal(n, 34);
    assert_memory_equal(out, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=", 34);
    assert_int_equal(coord_digest_id("bobXX:pw", 3, out, sizeof out), -1);
}

static void test_digest_len_is_an_upper_bound(void **state)
{
    (void)state;
    assert_int_equal(coord_digest_len(10), 38);
    assert_int_equal(coord_digest_len(0), 28);
    char out[64];
    assert_true(digest("super:test", out, sizeof out) <= (int32_t)coord_digest_len(10));
    assert_int_equal(coord_digest_id("s:", 2, out, 30), 30); /* Exact need, user 1 + ':' + 28. */
}

/* ---- ip parsing ------------------------------------------------------------- */

static void test_ip_parse_v4_as_v4_mapped(void **state)
{
    (void)state;
    uint8_t out[16];
    const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    assert_int_equal(coord_ip_parse("10.1.2.3", 8, out), 32);
    assert_memory_equal(out, want, 16);
    assert_int_equal(coord_ip_parse("010.001.002.003", 15, out), 32); /* Decimal, as Java. */
    assert_memory_equal(out, want, 16);
    assert_int_equal(coord_ip_parse("255.255.255.255", 15, out), 32);
    assert_int_equal(out[12] & out[13] & out[14] & out[15], 255);
    assert_int_equal(coord_ip_parse("0.0.0.0", 7, out), 32);
    assert_int_equal(out[12] | out[13] | out[14] | out[15], 0);
}

static void test_ip_parse_rejects_malformed_v4(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "1.2.3",     "256.1.1.1", "1.2.3.4.", ".1.2.3",    "1..2.3",
        "1.2.3.4.5", "a.b.c.d",   "+1.2.3.4", " 1.2.3.4",  "1.2.3.4 ",
        "1.2.3.-4",  "1.2.3.0x1", "",         "1.2.3.4/8", "1.2.3.99999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        assert_int_equal(coord_ip_parse(bad[i], strlen(bad[i]), out), -1);
    }
}

static void test_ip_parse_v6_text_forms(void **state)
{
    (void)state;
    static const struct
    {
        const char *text;
        uint8_t bytes[16];
    } cases[] = {
        {"::", {0}},
        {"::1", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
        {"1::", {0, 1}},
        {"2001:db8::ff00:42:8329",
         {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29}},
        {"2001:0DB8:0:0:0:0:0:1", {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
        {"1:2:3:4:5:6:7::", {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0}},
        {"::ffff:1.2.3.4", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}},
        {"1:2:3:4:5:6:7.8.9.10", {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 7, 8, 9, 10}},
        {"::1.2.3.4", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[16];
        assert_int_equal(coord_ip_parse(cases[i].text, strlen(cases[i].text), out), 128);
        assert_memory_equal(out, cases[i].bytes, 16);
    }
}

static void test_ip_parse_rejects_malformed_v6(void **state)
{
    (void)state;
    static const char *const bad[] = {
        ":::",
        "1:::2",
        "1::2::3",
        "12345::",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4::5:6:7:8",
        ":1::",
        "1:",
        ":1",
        "::1.2.3",
        "1.2.3.4::",
        "fe80::1%eth0",
        "g::",
        "1:2:3:4:5:6:7:1.2.3.4",
        "::1.2.3.4:1",
        ":",
        "::256.1.1.1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        assert_int_equal(coord_ip_parse(bad[i], strlen(bad[i]), out), -1);
    }
}

/* ---- coord_acl_check ---------------------------------------------------------- */

static void test_empty_acl_list_grants_everything(void **state)
{
    (void)state;
    struct coord_authinfo nobody = {NULL, 0, false};
    assert_int_equal(coord_acl_check(NULL, 0, COORD_PERM_ADMIN, &nobody), COORD_OK);
}

static void test_super_bypasses_all_checks(void **state)
{
    (void)state;
    struct coord_acl a = entry(0, "digest", "bob:x");
    struct coord_authinfo super = {NULL, 0, true};
    assert_int_equal(coord_acl_check(&a, 1, COORD_PERM_ADMIN, &super), COORD_OK);
    super.super = false;
    assert_int_equal(coord_acl_check(&a, 1, COORD_PERM_ADMIN, &super), COORD_ENOAUTH);
}

static void test_world_anyone_grants_listed_perms_only(void **state)
{
    (void)state;
    struct coord_acl a = entry(COORD_PERM_READ | COORD_PERM_CREATE, "world", "anyone");
    struct coord_authinfo nobody = {NULL, 0, false};
    assert_int_equal(coord_acl_check(&a, 1, COORD_PERM_READ, &nobody), COORD_OK);
    assert_int_equal(coord_acl_check(&a, 1, COORD_PERM_CREATE, &nobody), COORD_OK);
    assert_int_equal(coord_acl_check(&a, 1, COORD_PERM_WRITE, &nobody), COORD_ENOAUTH);
    assert_int_equal(coord_acl_check(&a, 1, COORD_PERM_DELETE, &nobody), COORD_ENOAUTH);
    assert_int_equal(coord_acl_check(&a, 1, COORD_PERM_ADMIN, &nobody), COORD_ENOAUTH);
}

static void test_world_with_other_id_matches_no_one(void **state)
{
    (void)state;
    struct coord_acl a = entry(COORD_PERM_ALL, "world", "someone");
    assert_int_equal(check_one(&a, COORD_PERM_READ, "world", "anyone"), COORD_ENOAUTH);
    struct coord_acl null_world = entry(COORD_PERM_ALL, "world", NULL);
    assert_int_equal(check_one(&null_world, COORD_PERM_READ, "ip", "1.2.3.4"), COORD_ENOAUTH);
}

static void test_digest_matches_only_exact_id(void **state)
{
    (void)state;
    struct coord_acl a = entry(COORD_PERM_ALL, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
    assert_int_equal(check_one(&a, COORD_PERM_WRITE, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
                     COORD_OK);
    assert_int_equal(check_one(&a, COORD_PERM_WRITE, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0"),
                     COORD_ENOAUTH);
    assert_int_equal(check_one(&a, COORD_PERM_WRITE, "digest", "Bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
                     COORD_ENOAUTH);
    assert_int_equal(check_one(&a, COORD_PERM_WRITE, "digest", "bob"), COORD_ENOAUTH);
}

static void test_scheme_must_equal_for_a_match(void **state)
{
    (void)state;
    struct coord_acl a = entry(COORD_PERM_ALL, "digest", "1.2.3.4");
    assert_int_equal(check_one(&a, COORD_PERM_READ, "ip", "1.2.3.4"), COORD_ENOAUTH);
    struct coord_acl b = entry(COORD_PERM_ALL, "ip", "1.2.3.4");
    assert_int_equal(check_one(&b, COORD_PERM_READ, "digest", "1.2.3.4"), COORD_ENOAUTH);
}

static void test_null_strings_never_match(void **state)
{
    (void)state;
    struct coord_acl a = entry(COORD_PERM_ALL, "digest", NULL);
    assert_int_equal(check_one(&a, COORD_PERM_READ, "digest", NULL), COORD_ENOAUTH);
    struct coord_acl b = entry(COORD_PERM_ALL, NULL, "x");
    assert_int_equal(check_one(&b, COORD_PERM_READ, NULL, "x"), COORD_ENOAUTH);
    struct coord_acl c = entry(COORD_PERM_ALL, "ip", "1.2.3.4");
    assert_int_equal(check_one(&c, COORD_PERM_READ, "ip", NULL), COORD_ENOAUTH);
}

static void test_any_entry_granting_the_bit_and_matching_suffices(void **state)
{
    (void)state;
    struct coord_acl acl[3] = {
        entry(COORD_PERM_ALL, "digest", "alice:h"),
        entry(COORD_PERM_READ, "digest", "bob:h"),
        entry(COORD_PERM_WRITE | COORD_PERM_ADMIN, "ip", "10.0.0.0/8"),
    };
    struct coord_ident ids[2] = {ident("ip", "10.9.8.7"), ident("digest", "bob:h")};
    struct coord_authinfo auth = {ids, 2, false};
    assert_int_equal(coord_acl_check(acl, 3, COORD_PERM_READ, &auth), COORD_OK);
    assert_int_equal(coord_acl_check(acl, 3, COORD_PERM_WRITE, &auth), COORD_OK);
    assert_int_equal(coord_acl_check(acl, 3, COORD_PERM_ADMIN, &auth), COORD_OK);
    assert_int_equal(coord_acl_check(acl, 3, COORD_PERM_CREATE, &auth), COORD_ENOAUTH);
    assert_int_equal(coord_acl_check(acl, 3, COORD_PERM_DELETE, &auth), COORD_ENOAUTH);
}

static void test_ip_acl_matches_exact_address(void **state)
{
    (void)state;
    assert_int_equal(ip_check("127.0.0.1", "127.0.0.1"), COORD_OK);
    assert_int_equal(ip_check("127.0.0.1", "127.0.0.2"), COORD_ENOAUTH);
    assert_int_equal(ip_check("::1", "::1"), COORD_OK);
    assert_int_equal(ip_check("::1", "0:0:0:0:0:0:0:1"), COORD_OK); /* Same address. */
    assert_int_equal(ip_check("::1", "::2"), COORD_ENOAUTH);
}

static void test_ip_acl_matches_by_prefix_bits(void **state)
{
    (void)state;
    assert_int_equal(ip_check("10.0.0.0/8", "10.200.1.1"), COORD_OK);
    assert_int_equal(ip_check("10.0.0.0/8", "11.0.0.1"), COORD_ENOAUTH);
    assert_int_equal(ip_check("10.1.2.3/8", "10.9.9.9"), COORD_OK); /* Host bits ignored. */
    assert_int_equal(ip_check("172.16.0.0/12", "172.31.255.255"), COORD_OK);
    assert_int_equal(ip_check("172.16.0.0/12", "172.32.0.0"), COORD_ENOAUTH);
    assert_int_equal(ip_check("0.0.0.0/0", "203.0.113.9"), COORD_OK);
    assert_int_equal(ip_check("1.2.3.4/32", "1.2.3.4"), COORD_OK);
    assert_int_equal(ip_check("1.2.3.4/32", "1.2.3.5"), COORD_ENOAUTH);
    assert_int_equal(ip_check("2001:db8::/32", "2001:db8:ffff::5"), COORD_OK);
    assert_int_equal(ip_check("2001:db8::/32", "2001:db9::1"), COORD_ENOAUTH);
    assert_int_equal(ip_check("fe80::/10", "febf::1"), COORD_OK);
    assert_int_equal(ip_check("fe80::/10", "fec0::1"), COORD_ENOAUTH);
    assert_int_equal(ip_check("::/0", "2001:db8::1"), COORD_OK);
}

static void test_ip_acl_never_matches_other_family(void **state)
{
    (void)state;
    assert_int_equal(ip_check("0.0.0.0/0", "::1"), COORD_ENOAUTH);
    assert_int_equal(ip_check("::/0", "1.2.3.4"), COORD_ENOAUTH);
    assert_int_equal(ip_check("::ffff:1.2.3.4", "1.2.3.4"), COORD_ENOAUTH);
    assert_int_equal(ip_check("1.2.3.4", "::ffff:1.2.3.4"), COORD_ENOAUTH);
}

static void test_malformed_ip_acl_or_caller_matches_no_one(void **state)
{
    (void)state;
    assert_int_equal(ip_check("1.2.3.4/33", "1.2.3.4"), COORD_ENOAUTH);
    assert_int_equal(ip_check("1.2.3", "1.2.3.0"), COORD_ENOAUTH);
    assert_int_equal(ip_check("1.2.3.4/", "1.2.3.4"), COORD_ENOAUTH);
    assert_int_equal(ip_check("", ""), COORD_ENOAUTH);
    assert_int_equal(ip_check("1.2.3.0/24", "1.2.3.4/24"), COORD_ENOAUTH); /* Caller: plain. */
    assert_int_equal(ip_check("1.2.3.0/24", "1.2.3"), COORD_ENOAUTH);
}

/* Strings are (pointer, length): bytes past the length are not read. */
static void test_strings_are_byte_ranges_not_c_strings(void **state)
{
    (void)state;
    struct coord_acl a = {COORD_PERM_ALL, {{"ipX", 2}, {"10.0.0.0/8garbage", 10}}};
    struct coord_ident mine = {{"ip", 2}, {"10.1.1.1trailing", 8}};
    struct coord_authinfo auth = {&mine, 1, false};
    assert_int_equal(coord_acl_check(&a, 1, COORD_PERM_READ, &auth), COORD_OK);
}

/* ---- coord_acl_fixup ---------------------------------------------------------- */

static void test_empty_acl_list_is_invalid(void **state)
{
    (void)state;
    struct coord_authinfo nobody = {NULL, 0, false};
    struct coord_acl in = entry(COORD_PERM_ALL, "world", "anyone");
    struct coord_acl out[1];
    size_t n = 99;
    assert_int_equal(coord_acl_fixup(&in, 0, &nobody, out, 1, &n), COORD_EINVALIDACL);
    assert_int_equal(n, 0);
    assert_int_equal(coord_acl_fixup(&in, -1, &nobody, out, 1, &n), COORD_EINVALIDACL);
    assert_int_equal(coord_acl_fixup(NULL, -1, &nobody, out, 1, &n), COORD_EINVALIDACL);
    assert_int_equal(coord_acl_fixup(NULL, 0, &nobody, out, 1, &n), COORD_EINVALIDACL);
}

static void test_valid_entries_are_kept_and_borrow_input(void **state)
{
    (void)state;
    struct coord_acl in[3] = {
        entry(COORD_PERM_READ, "world", "anyone"),
        entry(COORD_PERM_ALL, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
        entry(0, "ip", "10.0.0.0/8"),
    };
    struct coord_authinfo nobody = {NULL, 0, false};
    struct coord_acl out[3];
    size_t n = 0;
    assert_int_equal(coord_acl_fixup(in, 3, &nobody, out, 3, &n), COORD_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(out[i].perms, in[i].perms);
        assert_ptr_equal(out[i].ident.scheme.ptr, in[i].ident.scheme.ptr);
        assert_ptr_equal(out[i].ident.id.ptr, in[i].ident.id.ptr);
        assert_int_equal(out[i].ident.id.len, in[i].ident.id.len);
    }
}

static void test_world_id_other_than_anyone_is_invalid(void **state)
{
    (void)state;
    assert_int_equal(fixup_one(COORD_PERM_ALL, "world", "anyone"), COORD_OK);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "world", "everyone"), COORD_EINVALIDACL);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "world", ""), COORD_EINVALIDACL);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "world", "Anyone"), COORD_EINVALIDACL);
}

static void test_auth_scheme_expands_to_callers_digest_ids(void **state)
{
    (void)state;
    struct coord_ident ids[3] = {ident("ip", "127.0.0.1"), ident("digest", "bob:h1"),
                                 ident("digest", "alice:h2")};
    struct coord_authinfo auth = {ids, 3, false};
    struct coord_acl in[2] = {entry(COORD_PERM_READ, "world", "anyone"),
                              entry(COORD_PERM_ALL, "auth", "")};
    struct coord_acl out[5];
    size_t n = 0;
    assert_int_equal(coord_acl_fixup(in, 2, &auth, out, 5, &n), COORD_OK);
    assert_int_equal(n, 3);
    assert_true(str_is(out[0].ident.scheme, "world"));
    assert_int_equal(out[1].perms, COORD_PERM_ALL);
    assert_true(str_is(out[1].ident.scheme, "digest"));
    assert_true(str_is(out[1].ident.id, "bob:h1"));
    assert_int_equal(out[2].perms, COORD_PERM_ALL);
    assert_true(str_is(out[2].ident.id, "alice:h2"));
    assert_ptr_equal(out[2].ident.id.ptr, ids[2].id.ptr);
}

/* Kazoo sends Id('auth', '') with a null id. */
static void test_auth_scheme_accepts_null_or_any_id(void **state)
{
    (void)state;
    struct coord_ident ids[1] = {ident("digest", "bob:h1")};
    struct coord_authinfo auth = {ids, 1, false};
    struct coord_acl in[1] = {entry(COORD_PERM_READ, "auth", NULL)};
    struct coord_acl out[2];
    size_t n = 0;
    assert_int_equal(coord_acl_fixup(in, 1, &auth, out, 2, &n), COORD_OK);
    assert_int_equal(n, 1);
    assert_true(str_is(out[0].ident.id, "bob:h1"));
    in[0] = entry(COORD_PERM_READ, "auth", "whatever");
    assert_int_equal(coord_acl_fixup(in, 1, &auth, out, 2, &n), COORD_OK);
    assert_true(str_is(out[0].ident.id, "bob:h1"));
}

static void test_auth_scheme_without_identity_is_invalid_acl(void **state)
{
    (void)state;
    assert_int_equal(fixup_one(COORD_PERM_ALL, "auth", ""), COORD_EINVALIDACL);
    struct coord_authinfo nobody = {NULL, 0, false};
    struct coord_acl in = entry(COORD_PERM_ALL, "auth", "");
    struct coord_acl out[1];
    size_t n = 99;
    assert_int_equal(coord_acl_fixup(&in, 1, &nobody, out, 1, &n), COORD_EINVALIDACL);
    assert_int_equal(n, 0);
}

/* ZooKeeper has no provider for "super", so fixupACL skips such ids. */
static void test_auth_scheme_skips_super_ids(void **state)
{
    (void)state;
    struct coord_ident ids[2] = {ident("super", ""), ident("ip", "1.2.3.4")};
    struct coord_authinfo auth = {ids, 2, true};
    struct coord_acl in = entry(COORD_PERM_ALL, "auth", "");
    struct coord_acl out[2];
    size_t n = 0;
    assert_int_equal(coord_acl_fixup(&in, 1, &auth, out, 2, &n), COORD_EINVALIDACL);
}

static void test_digest_id_needs_one_colon_after_trailing_ones_dropped(void **state)
{
    (void)state;
    static const char *const valid[] = {"bob:hash", ":hash", "bob:hash:", "bob:hash::", "a:b"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        assert_int_equal(fixup_one(COORD_PERM_ALL, "digest", valid[i]), COORD_OK);
    }
    static const char *const invalid[] = {"bob", "bob:", "a:b:c", "a::b", "", ":", "::", "::x"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        assert_int_equal(fixup_one(COORD_PERM_ALL, "digest", invalid[i]), COORD_EINVALIDACL);
    }
}

static void test_ip_id_must_be_an_address_with_optional_bits(void **state)
{
    (void)state;
    static const char *const valid[] = {"1.2.3.4",       "10.0.0.0/8", "0.0.0.0/0",
                                        "1.2.3.4/32",    "::1",        "::/0",
                                        "2001:db8::/32", "::1/128",    "1.2.3.4/08"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        assert_int_equal(fixup_one(COORD_PERM_ALL, "ip", valid[i]), COORD_OK);
    }
    static const char *const invalid[] = {
        "1.2.3",   "256.1.1.1",  "1.2.3.4/33", "1.2.3.4/",   "1.2.3.4/-1", "1.2.3.4/8/9",
        "::1/129", "host.local", "",           "1.2.3.4/+8", "/8",         "1.2.3.4/99999999999",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        assert_int_equal(fixup_one(COORD_PERM_ALL, "ip", invalid[i]), COORD_EINVALIDACL);
    }
}

static void test_unknown_and_super_schemes_are_invalid(void **state)
{
    (void)state;
    assert_int_equal(fixup_one(COORD_PERM_ALL, "super", ""), COORD_EINVALIDACL);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "sasl", "bob"), COORD_EINVALIDACL);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "World", "anyone"), COORD_EINVALIDACL);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "", "anyone"), COORD_EINVALIDACL);
}

static void test_null_scheme_is_invalid(void **state)
{
    (void)state;
    assert_int_equal(fixup_one(COORD_PERM_ALL, NULL, "anyone"), COORD_EINVALIDACL);
    assert_int_equal(fixup_one(COORD_PERM_ALL, NULL, NULL), COORD_EINVALIDACL);
}

/* The real server answers -5 (it hits a NullPointerException). */
static void test_null_id_under_world_digest_or_ip_is_marshalling_error(void **state)
{
    (void)state;
    assert_int_equal(fixup_one(COORD_PERM_ALL, "world", NULL), COORD_EMARSHALLING);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "digest", NULL), COORD_EMARSHALLING);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "ip", NULL), COORD_EMARSHALLING);
    assert_int_equal(fixup_one(COORD_PERM_ALL, "nosuch", NULL), COORD_EINVALIDACL);
}

static void test_perms_outside_0_to_31_are_invalid(void **state)
{
    (void)state;
    assert_int_equal(fixup_one(0, "world", "anyone"), COORD_OK);
    assert_int_equal(fixup_one(31, "world", "anyone"), COORD_OK);
    assert_int_equal(fixup_one(32, "world", "anyone"), COORD_EINVALIDACL);
    assert_int_equal(fixup_one(-1, "world", "anyone"), COORD_EINVALIDACL);
    assert_int_equal(fixup_one(INT32_MIN, "world", "anyone"), COORD_EINVALIDACL);
}

static void test_duplicate_entries_are_dropped_keeping_first(void **state)
{
    (void)state;
    struct coord_acl in[5] = {
        entry(COORD_PERM_READ, "ip", "1.2.3.4"),  entry(COORD_PERM_ALL, "world", "anyone"),
        entry(COORD_PERM_READ, "ip", "1.2.3.4"),  entry(COORD_PERM_WRITE, "ip", "1.2.3.4"),
        entry(COORD_PERM_ALL, "world", "anyone"),
    };
    struct coord_authinfo nobody = {NULL, 0, false};
    struct coord_acl out[5];
    size_t n = 0;
    assert_int_equal(coord_acl_fixup(in, 5, &nobody, out, 5, &n), COORD_OK);
    assert_int_equal(n, 3);
    assert_ptr_equal(out[0].ident.id.ptr, in[0].ident.id.ptr);
    assert_ptr_equal(out[1].ident.id.ptr, in[1].ident.id.ptr);
    assert_int_equal(out[2].perms, COORD_PERM_WRITE); /* Other perms: not a duplicate. */
}

/* As in ZooKeeper, duplicates are removed from the request, not from the
 * expansion of auth. */
static void test_auth_expansion_is_not_deduplicated(void **state)
{
    (void)state;
    struct coord_ident ids[1] = {ident("digest", "bob:h")};
    struct coord_authinfo auth = {ids, 1, false};
    struct coord_acl in[2] = {entry(COORD_PERM_ALL, "digest", "bob:h"),
                              entry(COORD_PERM_ALL, "auth", "")};
    struct coord_acl out[2];
    size_t n = 0;
    assert_int_equal(coord_acl_fixup(in, 2, &auth, out, 2, &n), COORD_OK);
    assert_int_equal(n, 2);
    assert_true(str_is(out[1].ident.id, "bob:h"));
}

static void test_first_invalid_entry_fails_the_whole_list(void **state)
{
    (void)state;
    struct coord_acl in[3] = {entry(COORD_PERM_ALL, "world", "anyone"),
                              entry(COORD_PERM_ALL, "ip", "1.2.3"),
                              entry(COORD_PERM_ALL, "digest", NULL)};
    struct coord_authinfo nobody = {NULL, 0, false};
    struct coord_acl out[3];
    size_t n = 99;
    assert_int_equal(coord_acl_fixup(in, 3, &nobody, out, 3, &n), COORD_EINVALIDACL);
    assert_int_equal(n, 0);
}

static void test_fixup_cap_counts_each_auth_expansion(void **state)
{
    (void)state;
    struct coord_ident ids[3] = {ident("ip", "1.2.3.4"), ident("digest", "a:1"),
                                 ident("digest", "b:2")};
    struct coord_authinfo auth = {ids, 3, false};
    struct coord_acl in[4] = {
        entry(COORD_PERM_READ, "auth", ""),
        entry(COORD_PERM_WRITE, "auth", ""),
        entry(COORD_PERM_ADMIN, "auth", ""),
        entry(COORD_PERM_ALL, "world", "anyone"),
    };
    assert_int_equal(coord_acl_fixup_cap(in, 4, &auth), 7);
    struct coord_acl out[7];
    size_t n = 0;
    assert_int_equal(coord_acl_fixup(in, 4, &auth, out, 7, &n), COORD_OK);
    assert_int_equal(n, 7);
    assert_int_equal(out[4].perms, COORD_PERM_ADMIN);
    assert_true(str_is(out[5].ident.id, "b:2"));
}

static void test_fixup_reports_full_when_out_is_too_small(void **state)
{
    (void)state;
    struct coord_ident ids[2] = {ident("digest", "a:1"), ident("digest", "b:2")};
    struct coord_authinfo auth = {ids, 2, false};
    struct coord_acl in[3] = {entry(COORD_PERM_READ, "auth", ""),
                              entry(COORD_PERM_WRITE, "auth", ""),
                              entry(COORD_PERM_ADMIN, "auth", "")};
    struct coord_acl out[5]; /* acl_count + auth->count; 6 are needed. */
    size_t n = 99;
    assert_int_equal(coord_acl_fixup(in, 3, &auth, out, 5, &n), COORD_EFULL);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_known_vectors),
        cmocka_unit_test(test_sha1_pads_across_block_boundary),
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_output_too_small_is_a_programmer_error),
        cmocka_unit_test(test_digest_of_super_test),
        cmocka_unit_test(test_digest_user_is_text_before_first_colon),
        cmocka_unit_test(test_digest_without_colon_fails),
        cmocka_unit_test(test_digest_reads_only_len_bytes),
        cmocka_unit_test(test_digest_len_is_an_upper_bound),
        cmocka_unit_test(test_ip_parse_v4_as_v4_mapped),
        cmocka_unit_test(test_ip_parse_rejects_malformed_v4),
        cmocka_unit_test(test_ip_parse_v6_text_forms),
        cmocka_unit_test(test_ip_parse_rejects_malformed_v6),
        cmocka_unit_test(test_empty_acl_list_grants_everything),
        cmocka_unit_test(test_super_bypasses_all_checks),
        cmocka_unit_test(test_world_anyone_grants_listed_perms_only),
        cmocka_unit_test(test_world_with_other_id_matches_no_one),
        cmocka_unit_test(test_digest_matches_only_exact_id),
        cmocka_unit_test(test_scheme_must_equal_for_a_match),
        cmocka_unit_test(test_null_strings_never_match),
        cmocka_unit_test(test_any_entry_granting_the_bit_and_matching_suffices),
        cmocka_unit_test(test_ip_acl_matches_exact_address),
        cmocka_unit_test(test_ip_acl_matches_by_prefix_bits),
        cmocka_unit_test(test_ip_acl_never_matches_other_family),
        cmocka_unit_test(test_malformed_ip_acl_or_caller_matches_no_one),
        cmocka_unit_test(test_strings_are_byte_ranges_not_c_strings),
        cmocka_unit_test(test_empty_acl_list_is_invalid),
        cmocka_unit_test(test_valid_entries_are_kept_and_borrow_input),
        cmocka_unit_test(test_world_id_other_than_anyone_is_invalid),
        cmocka_unit_test(test_auth_scheme_expands_to_callers_digest_ids),
        cmocka_unit_test(test_auth_scheme_accepts_null_or_any_id),
        cmocka_unit_test(test_auth_scheme_without_identity_is_invalid_acl),
        cmocka_unit_test(test_auth_scheme_skips_super_ids),
        cmocka_unit_test(test_digest_id_needs_one_colon_after_trailing_ones_dropped),
        cmocka_unit_test(test_ip_id_must_be_an_address_with_optional_bits),
        cmocka_unit_test(test_unknown_and_super_schemes_are_invalid),
        cmocka_unit_test(test_null_scheme_is_invalid),
        cmocka_unit_test(test_null_id_under_world_digest_or_ip_is_marshalling_error),
        cmocka_unit_test(test_perms_outside_0_to_31_are_invalid),
        cmocka_unit_test(test_duplicate_entries_are_dropped_keeping_first),
        cmocka_unit_test(test_auth_expansion_is_not_deduplicated),
        cmocka_unit_test(test_first_invalid_entry_fails_the_whole_list),
        cmocka_unit_test(test_fixup_cap_counts_each_auth_expansion),
        cmocka_unit_test(test_fixup_reports_full_when_out_is_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
