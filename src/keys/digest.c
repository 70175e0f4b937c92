/* SPDX-License-Identifier: BSD-3-Clause */
/* Hashing: XXH3 through libxxhash, named digests through OpenSSL EVP. */
#include "internal.h"
#include "klepto/digest.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <xxhash.h>

static const char hexdigits[] = "0123456789abcdef";

void kl_hex(const void *p, size_t n, char *out)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[b[i] >> 4];
        out[2 * i + 1] = hexdigits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

uint64_t kl_xxh3_64(const void *p, size_t n) { return XXH3_64bits(p, n); }

kl_hash128 kl_xxh3_128(const void *p, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    kl_hash128 r = {h.high64, h.low64};
    return r;
}

static void hex_u64(uint64_t v, char *out)
{
    for (int i = 15; i >= 0; i--) {
        out[i] = hexdigits[v & 15];
        v >>= 4;
    }
}

void kl_xxh3_64_hex(uint64_t h, char out[17])
{
    hex_u64(h, out);
    out[16] = '\0';
}

void kl_xxh3_128_hex(kl_hash128 h, char out[33])
{
    hex_u64(h.hi, out);
    hex_u64(h.lo, out + 16);
    out[32] = '\0';
}

/* Our names (Python/OpenSSL command-line style) and OpenSSL's. */
static const struct {
    const char *name, *alias, *evp;
} digests[] = {
    {"md5", NULL, "MD5"},
    {"sha1", NULL, "SHA1"},
    {"sha224", NULL, "SHA224"},
    {"sha256", NULL, "SHA256"},
    {"sha384", NULL, "SHA384"},
    {"sha512", NULL, "SHA512"},
    {"sha3-256", "sha3_256", "SHA3-256"},
    {"sha3-512", "sha3_512", "SHA3-512"},
    {"blake2b512", "blake2b", "BLAKE2B-512"},
    {"blake2s256", "blake2s", "BLAKE2S-256"},
};
#define NDIGESTS (sizeof digests / sizeof digests[0])

struct kl_digest {
    EVP_MD *md;
    const char *name;
    size_t size;
};

static int find_digest(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < NDIGESTS; i++)
        if (strcmp(name, digests[i].name) == 0 ||
            (digests[i].alias && strcmp(name, digests[i].alias) == 0))
            return (int)i;
    return -1;
}

bool kl_digest_known(const char *name) { return find_digest(name) >= 0; }

int kl_digest_open(kl_digest **out, const char *name)
{
    int i = find_digest(name);
    if (i < 0)
        return kl_seterr(KL_EINVAL,
                         "unknown digest algorithm '%s' (known: md5, sha1, sha224, sha256, "
                         "sha384, sha512, sha3-256, sha3-512, blake2b512, blake2s256)",
                         name ? name : "(null)");
    kl_digest *d = calloc(1, sizeof *d);
    if (!d)
        return kl_seterr(KL_ENOMEM, "out of memory opening digest '%s'", name);
    /* Fetched once: an implicit fetch on every EVP_Digest call costs a
     * lock and a lookup per key. */
    d->md = EVP_MD_fetch(NULL, digests[i].evp, NULL);
    if (!d->md) {
        free(d);
        return kl_seterr(KL_EUNSUPPORTED, "digest '%s' is not available in this OpenSSL",
                         digests[i].name);
    }
    d->name = digests[i].name;
    d->size = (size_t)EVP_MD_get_size(d->md);
    if (d->size == 0 || d->size > KL_DIGEST_MAX) {
        EVP_MD_free(d->md);
        free(d);
        return kl_seterr(KL_EUNSUPPORTED, "digest '%s' has an unexpected size", name);
    }
    *out = d;
    return 0;
}

void kl_digest_free(kl_digest *d)
{
    if (!d)
        return;
    EVP_MD_free(d->md);
    free(d);
}

const char *kl_digest_name(const kl_digest *d) { return d->name; }
size_t kl_digest_size(const kl_digest *d) { return d->size; }

int kl_digest_bytes(const kl_digest *d, const void *p, size_t n, uint8_t *out, size_t cap)
{
    if (cap < d->size)
        return kl_seterr(KL_EINVAL, "%s: output buffer of %zu bytes is too small", d->name, cap);
    unsigned int len = 0;
    if (!EVP_Digest(p, n, out, &len, d->md, NULL) || len != d->size)
        return kl_seterr(KL_EBACKEND, "%s: OpenSSL digest failed", d->name);
    return 0;
}

int kl_digest_hex(const kl_digest *d, const void *p, size_t n, char *hex, size_t cap)
{
    if (cap < 2 * d->size + 1)
        return kl_seterr(KL_EINVAL, "%s: hex buffer of %zu bytes is too small", d->name, cap);
    uint8_t md[KL_DIGEST_MAX];
    int rc = kl_digest_bytes(d, p, n, md, sizeof md);
    if (rc)
        return rc;
    kl_hex(md, d->size, hex);
    return 0;
}

int kl_digest_hex_named(const char *name, const void *p, size_t n, char *hex, size_t cap)
{
    kl_digest *d;
    int rc = kl_digest_open(&d, name);
    if (rc)
        return rc;
    rc = kl_digest_hex(d, p, n, hex, cap);
    kl_digest_free(d);
    return rc;
}
