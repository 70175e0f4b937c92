/* SPDX-License-Identifier: BSD-3-Clause */
/* digest: XXH3 helpers and the named OpenSSL digests, against published
 * test vectors ("abc" as in FIPS 180 / 202, RFC 7693). */
#include "testutil.h"

#include "klepto/digest.h"
#include "klepto/error.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static void named_digests_match_published_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *hex;
    } v[] = {
        {"md5", "900150983cd24fb0d6963f7d28e17f72"},
        {"sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"sha224", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
        {"sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"sha384", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc"
                   "2358baeca134c825a7"},
        {"sha512", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1"
                   "a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
        {"sha3-256", "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
        {"sha3-512", "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192a"
                     "f3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0"},
        {"blake2b512", "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392a"
                       "ab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"},
        {"blake2s256", "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"},
        /* hashlib spellings */
        {"sha3_256", "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
        {"blake2s", "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char hex[KL_DIGEST_HEX_MAX];
        KT_OK(kl_digest_hex_named(v[i].name, "abc", 3, hex, sizeof hex));
        assert_string_equal(hex, v[i].hex);
        kl_digest *d;
        KT_OK(kl_digest_open(&d, v[i].name));
        assert_int_equal(kl_digest_size(d), strlen(v[i].hex) / 2);
        memset(hex, 'x', sizeof hex);
        KT_OK(kl_digest_hex(d, "abc", 3, hex, sizeof hex));
        assert_string_equal(hex, v[i].hex);
        kl_digest_free(d);
    }
}

static void empty_input_md5(void **state)
{
    (void)state;
    char hex[KL_DIGEST_HEX_MAX];
    KT_OK(kl_digest_hex_named("md5", "", 0, hex, sizeof hex));
    assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
}

static void unknown_algorithms_are_refused(void **state)
{
    (void)state;
    kl_digest *d = NULL;
    assert_int_equal(kl_digest_open(&d, "md4x"), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "md4x"));
    assert_null(d);
    assert_int_equal(kl_digest_open(&d, NULL), KL_EINVAL);
    assert_int_equal(kl_digest_open(&d, "MD5"), KL_EINVAL); /* names are lowercase */
    assert_false(kl_digest_known("sha3-384"));
    assert_true(kl_digest_known("sha3-512"));
    char hex[8];
    assert_int_equal(kl_digest_hex_named("sha256", "a", 1, hex, sizeof hex), KL_EINVAL);
}

static void xxh3_matches_libxxhash_and_known_values(void **state)
{
    (void)state;
    char hex[33];
    kl_xxh3_64_hex(kl_xxh3_64("", 0), hex);
    assert_string_equal(hex, "2d06800538d394c2");
    kl_xxh3_128_hex(kl_xxh3_128("", 0), hex);
    assert_string_equal(hex, "99aa06d3014798d86001c324468d497f");
    const char *msg = "the quick brown fox";
    assert_true(kl_xxh3_64(msg, strlen(msg)) == XXH3_64bits(msg, strlen(msg)));
    kl_hash128 h = kl_xxh3_128(msg, strlen(msg));
    XXH128_hash_t x = XXH3_128bits(msg, strlen(msg));
    assert_true(h.hi == x.high64 && h.lo == x.low64);
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, x);
    char want[33];
    kl_hex(canon.digest, 16, want);
    kl_xxh3_128_hex(h, hex);
    assert_string_equal(hex, want);
}

static void hex_is_lowercase(void **state)
{
    (void)state;
    char out[9];
    kl_hex("\x00\xab\xcd\xff", 4, out);
    assert_string_equal(out, "00abcdff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(named_digests_match_published_vectors),
        cmocka_unit_test(empty_input_md5),
        cmocka_unit_test(unknown_algorithms_are_refused),
        cmocka_unit_test(xxh3_matches_libxxhash_and_known_values),
        cmocka_unit_test(hex_is_lowercase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
