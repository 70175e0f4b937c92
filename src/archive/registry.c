/* The archive core: the scheme registry, kl_archive_open, and every
 * kl_archive_* call dispatched to its backend, with the per-handle mutex
 * for backends that are not thread-safe and the fallbacks for the optional
 * slots the backend left NULL. */
#include "backends.h"
#include "internal.h"
#include "klepto/cached.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- registry --------------------------------------------------------- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const kl_archive_backend **reg;
static size_t reg_len, reg_cap;
static bool reg_builtins_done;

static int reg_add_locked(const kl_archive_backend *be)
{
    if (!be || !be->scheme || !*be->scheme)
        return kl_seterr(KL_EINVAL, "archive backend without a scheme name");
    if (be->version == 0 || be->version > KL_BACKEND_VERSION)
        return kl_seterr(KL_EINVAL, "archive backend '%s': version %u, this library knows %d",
                         be->scheme, be->version, KL_BACKEND_VERSION);
    if (!be->open || !be->close || !be->get || !be->put || !be->del || !be->count ||
        !be->iter_new || !be->iter_next || !be->iter_free)
        return kl_seterr(KL_EINVAL, "archive backend '%s': a required slot is NULL", be->scheme);
    for (size_t i = 0; i < reg_len; i++)
        if (!strcmp(reg[i]->scheme, be->scheme))
            return kl_seterr(KL_EINVAL, "archive scheme '%s' is already registered", be->scheme);
    if (reg_len == reg_cap) {
        size_t cap = reg_cap ? reg_cap * 2 : 16;
        const kl_archive_backend **p = realloc(reg, cap * sizeof *p);
        if (!p)
            return kl_seterr(KL_ENOMEM, "out of memory registering '%s'", be->scheme);
        reg = p;
        reg_cap = cap;
    }
    reg[reg_len++] = be;
    return 0;
}

static void reg_builtins_locked(void)
{
    if (reg_builtins_done)
        return;
    reg_builtins_done = true;
    for (size_t i = 0; kl__builtin_backends[i]; i++)
        reg_add_locked(kl__builtin_backends[i]);
}

int kl_archive_register(const kl_archive_backend *backend)
{
    pthread_mutex_lock(&reg_mu);
    reg_builtins_locked();
    int rc = reg_add_locked(backend);
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static const kl_archive_backend *reg_find(const char *scheme)
{
    const kl_archive_backend *be = NULL;
    pthread_mutex_lock(&reg_mu);
    reg_builtins_locked();
    for (size_t i = 0; i < reg_len && !be; i++)
        if (!strcmp(reg[i]->scheme, scheme))
            be = reg[i];
    pthread_mutex_unlock(&reg_mu);
    return be;
}

/* ---- handles ---------------------------------------------------------- */

struct kl_archive {
    const kl_archive_backend *be;
    void *state;
    char *url;
    bool serial; /* backend not thread-safe: hold mu around every call */
    bool read_only;
    pthread_mutex_t mu;
};

struct kl_archive_iter {
    kl_archive *ar;
    void *cur;
};

#define LOCK(ar)                                                                         \
    do {                                                                                 \
        if ((ar)->serial)                                                                \
            pthread_mutex_lock(&(ar)->mu);                                               \
    } while (0)
#define UNLOCK(ar)                                                                       \
    do {                                                                                 \
        if ((ar)->serial)                                                                \
            pthread_mutex_unlock(&(ar)->mu);                                             \
    } while (0)

static int check_writable(kl_archive *ar)
{
    if (ar->read_only)
        return kl_seterr(KL_EPERM, "%s: archive opened read-only", ar->url);
    return 0;
}

/* Rebuild the URL without ?cached=... so the backing archive gets the rest. */
static char *url_without_cached(const kl_url *u)
{
    kl_buf b = KL_BUF_INIT;
    const char *q = strchr(u->full, '?');
    kl_buf_append(&b, u->full, q ? (size_t)(q - u->full) : strlen(u->full));
    if (q) {
        char sep = '?';
        const char *p = q + 1;
        while (*p) {
            const char *amp = strchr(p, '&');
            size_t n = amp ? (size_t)(amp - p) : strlen(p);
            if (!(n >= 6 && !strncmp(p, "cached", 6) && (n == 6 || p[6] == '='))) {
                kl_buf_append(&b, &sep, 1);
                kl_buf_append(&b, p, n);
                sep = '&';
            }
            p += n + (amp ? 1 : 0);
        }
    }
    const char *s = kl_buf_cstr(&b);
    char *r = s ? strdup(s) : NULL;
    kl_buf_free(&b);
    return r;
}

int kl__archive_open_backend(kl_archive **out, const kl_archive_backend *be, const char *url,
                            const kl_url *u, const kl_archive_opts *opts);

int kl_archive_open(kl_archive **out, const char *url, const kl_archive_opts *opts)
{
    *out = NULL;
    kl_archive_opts def = KL_ARCHIVE_OPTS_INIT;
    if (!opts)
        opts = &def;
    int vrc = kl__opts_version_check(opts->version, KL_ARCHIVE_OPTS_VERSION, "archive");
    if (vrc)
        return vrc;
    kl_url *u = NULL;
    int rc = kl__url_parse(url, &u);
    if (rc)
        return rc;
    bool cached = false;
    rc = kl_url_bool(u, "cached", &cached);
    if (!rc && cached) {
        char *inner = url_without_cached(u);
        if (!inner)
            rc = kl_seterr(KL_ENOMEM, "out of memory opening %s", kl_url_shown(u));
        kl__url_free(u);
        if (!inner)
            return rc;
        kl_archive *backing = NULL;
        rc = kl_archive_open(&backing, inner, opts);
        free(inner);
        if (rc)
            return rc;
        kl_cached_opts co = KL_CACHED_OPTS_INIT;
        return kl_cached_new(out, backing, &co);
    }
    const kl_archive_backend *be = rc ? NULL : reg_find(u->scheme);
    if (!rc && !be)
        rc = kl_seterr(KL_EINVAL, "%s: unknown archive scheme '%s:'", kl_url_shown(u), u->scheme);
    if (!rc)
        rc = kl__archive_open_backend(out, be, url, u, opts);
    kl__url_free(u);
    return rc;
}

/* Shared by kl_archive_open and the cached front (which has no URL text
 * of its own to parse). */
int kl__archive_open_backend(kl_archive **out, const kl_archive_backend *be, const char *url,
                            const kl_url *u, const kl_archive_opts *opts)
{
    kl_archive *ar = calloc(1, sizeof *ar);
    if (!ar || !(ar->url = kl_archive_redact_url(url))) {
        free(ar);
        return kl_seterr(KL_ENOMEM, "out of memory opening %s", kl_url_shown(u));
    }
    ar->be = be;
    ar->serial = !(be->flags & KL_BACKEND_THREADSAFE);
    ar->read_only = opts->read_only;
    pthread_mutex_init(&ar->mu, NULL);
    int rc = be->open(&ar->state, u, opts);
    if (!rc) {
        rc = kl__url_check_used(u);
        if (rc) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", kl_errmsg());
            be->close(ar->state);
            kl_seterr(rc, "%s", msg);
        }
    }
    if (rc) {
        pthread_mutex_destroy(&ar->mu);
        free(ar->url);
        free(ar);
        return rc;
    }
    *out = ar;
    return 0;
}

static void release(kl_archive *ar)
{
    pthread_mutex_destroy(&ar->mu);
    free(ar->url);
    free(ar);
}

int kl_archive_close(kl_archive *ar)
{
    if (!ar)
        return 0;
    int rc = ar->be->close(ar->state);
    release(ar);
    return rc;
}

const char *kl_archive_url(const kl_archive *ar) { return ar->url; }
const char *kl_archive_scheme(const kl_archive *ar) { return ar->be->scheme; }

int kl__archive_wrap(kl_archive **out, const kl_archive_backend *be, void *state, const char *url)
{
    kl_archive *ar = calloc(1, sizeof *ar);
    if (!ar || !(ar->url = kl_archive_redact_url(url))) {
        free(ar);
        return kl_seterr(KL_ENOMEM, "out of memory opening an archive");
    }
    ar->be = be;
    ar->state = state;
    ar->serial = !(be->flags & KL_BACKEND_THREADSAFE);
    pthread_mutex_init(&ar->mu, NULL);
    *out = ar;
    return 0;
}

bool kl__archive_has_backend(const kl_archive *ar, const kl_archive_backend *be)
{
    return ar && ar->be == be;
}

int kl__archive_locked_call(kl_archive *ar, const kl_archive_backend *be, const char *what,
                           int (*fn)(void *state, void *arg), void *arg)
{
    if (!ar || ar->be != be)
        return kl_seterr(KL_EINVAL, "%s: %s is not a %s: archive", what,
                         ar ? ar->url : "(null)", be->scheme);
    LOCK(ar);
    int rc = fn(ar->state, arg);
    UNLOCK(ar);
    return rc;
}

int kl_archive_get(kl_archive *ar, const void *key, size_t klen, kl_buf *val)
{
    LOCK(ar);
    int rc = ar->be->get(ar->state, key, klen, val);
    UNLOCK(ar);
    return rc;
}

int kl_archive_put(kl_archive *ar, const void *key, size_t klen, const void *val, size_t vlen)
{
    int rc = check_writable(ar);
    if (rc)
        return rc;
    LOCK(ar);
    rc = ar->be->put(ar->state, key, klen, val, vlen);
    UNLOCK(ar);
    return rc;
}

int kl_archive_del(kl_archive *ar, const void *key, size_t klen)
{
    int rc = check_writable(ar);
    if (rc)
        return rc;
    LOCK(ar);
    rc = ar->be->del(ar->state, key, klen);
    UNLOCK(ar);
    return rc;
}

static int contains_locked(kl_archive *ar, const void *key, size_t klen)
{
    if (ar->be->contains)
        return ar->be->contains(ar->state, key, klen);
    kl_buf tmp = KL_BUF_INIT;
    int rc = ar->be->get(ar->state, key, klen, &tmp);
    kl_buf_free(&tmp);
    if (rc == KL_ENOTFOUND)
        return 0;
    return rc ? rc : 1;
}

int kl_archive_contains(kl_archive *ar, const void *key, size_t klen)
{
    LOCK(ar);
    int rc = contains_locked(ar, key, klen);
    UNLOCK(ar);
    return rc;
}

int kl_archive_count(kl_archive *ar, size_t *out)
{
    LOCK(ar);
    int rc = ar->be->count(ar->state, out);
    UNLOCK(ar);
    return rc;
}

int kl_archive_stat(kl_archive *ar, const void *key, size_t klen, kl_entry_info *out)
{
    LOCK(ar);
    int rc;
    if (ar->be->stat) {
        rc = ar->be->stat(ar->state, key, klen, out);
    } else {
        kl_buf tmp = KL_BUF_INIT;
        rc = ar->be->get(ar->state, key, klen, &tmp);
        if (!rc) {
            out->stored_ns = 0;
            out->size = klen + tmp.len;
        }
        kl_buf_free(&tmp);
    }
    UNLOCK(ar);
    return rc;
}

/* Keys first, deletes after: deleting under a live cursor is not
 * something every backend promises to survive. */
static int clear_by_iteration(kl_archive *ar)
{
    void *cur = NULL;
    int rc = ar->be->iter_new(ar->state, &cur);
    if (rc)
        return rc;
    kl_buf keys = KL_BUF_INIT, k = KL_BUF_INIT;
    for (;;) {
        int r = ar->be->iter_next(cur, &k, NULL);
        if (r == 0)
            break;
        if (r < 0) {
            rc = r;
            break;
        }
        uint64_t n = k.len;
        if ((rc = kl_buf_append(&keys, &n, sizeof n)) || (rc = kl_buf_append(&keys, k.data, k.len)))
            break;
    }
    ar->be->iter_free(cur);
    for (size_t off = 0; !rc && off < keys.len;) {
        uint64_t n;
        memcpy(&n, keys.data + off, sizeof n);
        off += sizeof n;
        int r = ar->be->del(ar->state, keys.data + off, (size_t)n);
        if (r && r != KL_ENOTFOUND)
            rc = r;
        off += (size_t)n;
    }
    kl_buf_free(&keys);
    kl_buf_free(&k);
    return rc;
}

int kl_archive_clear(kl_archive *ar)
{
    int rc = check_writable(ar);
    if (rc)
        return rc;
    LOCK(ar);
    rc = ar->be->clear ? ar->be->clear(ar->state) : clear_by_iteration(ar);
    UNLOCK(ar);
    return rc;
}

int kl_archive_sync(kl_archive *ar)
{
    if (!ar->be->sync)
        return 0;
    LOCK(ar);
    int rc = ar->be->sync(ar->state);
    UNLOCK(ar);
    return rc;
}

int kl_archive_drop(kl_archive *ar)
{
    if (!ar)
        return 0;
    int rc = check_writable(ar);
    if (!rc && !ar->be->drop)
        rc = kl_seterr(KL_EUNSUPPORTED, "%s: %s: archives cannot be dropped", ar->url,
                       ar->be->scheme);
    if (!rc)
        rc = ar->be->drop(ar->state);
    int rc2 = ar->be->close(ar->state);
    release(ar);
    return rc ? rc : rc2;
}

int kl_archive_put_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        const void *const *vals, const size_t *vlens)
{
    int rc = check_writable(ar);
    if (rc)
        return rc;
    LOCK(ar);
    if (ar->be->put_many)
        rc = ar->be->put_many(ar->state, n, keys, klens, vals, vlens);
    else
        for (size_t i = 0; i < n && !rc; i++)
            rc = ar->be->put(ar->state, keys[i], klens[i], vals[i], vlens[i]);
    UNLOCK(ar);
    return rc;
}

int kl_archive_del_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        size_t *deleted)
{
    size_t done = 0;
    int rc = check_writable(ar);
    if (!rc) {
        LOCK(ar);
        if (ar->be->version >= 2 && ar->be->del_many) {
            rc = ar->be->del_many(ar->state, n, keys, klens, &done);
        } else {
            for (size_t i = 0; i < n && !rc; i++) {
                int r = ar->be->del(ar->state, keys[i], klens[i]);
                if (r == 0)
                    done++;
                else if (r != KL_ENOTFOUND)
                    rc = r;
            }
        }
        UNLOCK(ar);
    }
    if (deleted)
        *deleted = done;
    return rc;
}

int kl_archive_get_many(kl_archive *ar, size_t n, const void *const *keys, const size_t *klens,
                        kl_buf *vals, bool *found)
{
    int rc = 0;
    LOCK(ar);
    if (ar->be->get_many) {
        rc = ar->be->get_many(ar->state, n, keys, klens, vals, found);
    } else {
        for (size_t i = 0; i < n && !rc; i++) {
            int r = ar->be->get(ar->state, keys[i], klens[i], &vals[i]);
            found[i] = r == 0;
            if (r && r != KL_ENOTFOUND)
                rc = r;
        }
    }
    UNLOCK(ar);
    return rc;
}

int kl_archive_describe(kl_archive *ar, kl_buf *out)
{
    if (!ar->be->describe)
        return 0;
    LOCK(ar);
    int rc = ar->be->describe(ar->state, out);
    UNLOCK(ar);
    return rc;
}

int kl_archive_compact(kl_archive *ar)
{
    int rc = check_writable(ar);
    if (rc || !ar->be->compact)
        return rc;
    LOCK(ar);
    rc = ar->be->compact(ar->state);
    UNLOCK(ar);
    return rc;
}

/* ---- views ------------------------------------------------------------ */

int kl_archive_get_view(kl_archive *ar, const void *key, size_t klen, kl_view **out)
{
    *out = NULL;
    LOCK(ar);
    int rc;
    if (ar->be->get_view) {
        rc = ar->be->get_view(ar->state, key, klen, out);
    } else {
        kl_buf v = KL_BUF_INIT;
        rc = ar->be->get(ar->state, key, klen, &v);
        kl__tarray ta;
        if (!rc && !kl__tarray_parse(v.data, v.len, &ta))
            rc = kl_seterr(KL_ETYPE, "%s: the value is not a typed numeric array", ar->url);
        if (!rc) {
            rc = kl__view_from_copy(out, v.data, v.len, &ta);
            v.data = NULL;
        }
        kl_buf_free(&v);
    }
    UNLOCK(ar);
    return rc;
}

/* ---- iteration -------------------------------------------------------- */

int kl_archive_iter_new(kl_archive *ar, kl_archive_iter **out)
{
    *out = NULL;
    kl_archive_iter *it = calloc(1, sizeof *it);
    if (!it)
        return kl_seterr(KL_ENOMEM, "out of memory iterating %s", ar->url);
    it->ar = ar;
    LOCK(ar);
    int rc = ar->be->iter_new(ar->state, &it->cur);
    UNLOCK(ar);
    if (rc) {
        free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int kl_archive_iter_next(kl_archive_iter *it, kl_buf *key, kl_buf *val)
{
    LOCK(it->ar);
    int rc = it->ar->be->iter_next(it->cur, key, val);
    UNLOCK(it->ar);
    return rc;
}

void kl_archive_iter_free(kl_archive_iter *it)
{
    if (!it)
        return;
    LOCK(it->ar);
    it->ar->be->iter_free(it->cur);
    UNLOCK(it->ar);
    free(it);
}

/* ---- verify ----------------------------------------------------------- */

static void hexkey(kl_buf *out, const void *key, size_t klen)
{
    const uint8_t *p = key;
    size_t n = klen > 48 ? 48 : klen;
    kl_buf_append_str(out, "key 0x");
    for (size_t i = 0; i < n; i++)
        kl_buf_printf(out, "%02x", p[i]);
    if (n < klen)
        kl_buf_append_str(out, "...");
}

/* Damaged keys are collected while iterating (as length-prefixed records
 * in a buffer) and deleted afterwards, so the iteration is not disturbed. */
static void list_bad(kl_buf *bad, const kl_buf *key)
{
    uint64_t n = key->len;
    kl_buf_append(bad, &n, sizeof n);
    kl_buf_append(bad, key->data, key->len);
}

static int drop_listed(kl_archive *ar, const kl_buf *bad)
{
    for (size_t off = 0; off < bad->len;) {
        uint64_t n;
        memcpy(&n, bad->data + off, sizeof n);
        off += sizeof n;
        int r = ar->be->del(ar->state, bad->data + off, (size_t)n);
        if (r && r != KL_ENOTFOUND)
            return r;
        off += (size_t)n;
    }
    return 0;
}

/* Generic check: every entry must come out of the iterator and a get. */
static int verify_generic(kl_archive *ar, bool repair, kl_buf *report, size_t *problems)
{
    void *cur = NULL;
    int rc = ar->be->iter_new(ar->state, &cur);
    if (rc)
        return rc;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, bad = KL_BUF_INIT;
    for (;;) {
        int r = ar->be->iter_next(cur, &k, NULL);
        if (r == 0)
            break;
        if (r == KL_ECORRUPT) {
            (*problems)++;
            if (report)
                kl_buf_printf(report, "%s: %s\n", ar->url, kl_errmsg());
            continue;
        }
        if (r < 0) {
            rc = r;
            break;
        }
        r = ar->be->get(ar->state, k.data, k.len, &v);
        if (r == KL_ECORRUPT) {
            (*problems)++;
            if (report) {
                hexkey(report, k.data, k.len);
                kl_buf_printf(report, ": %s%s\n", kl_errmsg(), repair ? " (dropped)" : "");
            }
            list_bad(&bad, &k);
        } else if (r && r != KL_ENOTFOUND) {
            rc = r;
            break;
        }
    }
    ar->be->iter_free(cur);
    if (!rc && repair)
        rc = drop_listed(ar, &bad);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&bad);
    return rc;
}

/* Every key and value must decode (checksums only prove the bytes are the
 * ones written).  Entries the iterator reports damaged were counted by the
 * framing check already. */
static int verify_decoding(kl_archive *ar, bool repair, kl_buf *report, size_t *problems)
{
    void *cur = NULL;
    int rc = ar->be->iter_new(ar->state, &cur);
    if (rc)
        return rc;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, bad = KL_BUF_INIT;
    for (;;) {
        int r = ar->be->iter_next(cur, &k, &v);
        if (r == 0)
            break;
        if (r == KL_ECORRUPT)
            continue;
        if (r < 0) {
            rc = r;
            break;
        }
        kl_value x;
        const char *what = NULL;
        if (kl_decode(k.data, k.len, &x) == 0)
            kl_value_free(&x);
        else
            what = "key";
        if (!what) {
            if (kl_decode(v.data, v.len, &x) == 0)
                kl_value_free(&x);
            else
                what = "value";
        }
        if (!what)
            continue;
        (*problems)++;
        if (report) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", kl_errmsg());
            hexkey(report, k.data, k.len);
            kl_buf_printf(report, ": the stored %s does not decode: %s%s\n", what, msg,
                          repair ? " (dropped)" : "");
        }
        list_bad(&bad, &k);
    }
    ar->be->iter_free(cur);
    if (!rc && repair)
        rc = drop_listed(ar, &bad);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&bad);
    return rc;
}

int kl_archive_verify(kl_archive *ar, bool repair, kl_buf *report, size_t *problems)
{
    size_t np = 0;
    int rc = repair ? check_writable(ar) : 0;
    if (rc)
        return rc;
    LOCK(ar);
    if (ar->be->verify)
        rc = ar->be->verify(ar->state, repair, report, &np);
    else
        rc = verify_generic(ar, repair, report, &np);
    /* the cached front delegates to its backing archive, which decodes */
    if (!rc && ar->be != &kl__backend_cached)
        rc = verify_decoding(ar, repair, report, &np);
    UNLOCK(ar);
    if (problems)
        *problems = np;
    return rc;
}
