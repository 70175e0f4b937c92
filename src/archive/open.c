/* SPDX-License-Identifier: BSD-3-Clause */
/* Opening and closing archives: kl_archive_open reads the URL, applies the
 * cached front when the URL asks for it (?cached=true: the front is a
 * wrapper around the archive the rest of the URL names, not a scheme), and
 * otherwise opens the backend registered under the URL's scheme.  The
 * core's other options are read here and kept in the handle: ?ttl=DURATION
 * (dispatch.c hides what it has expired), ?max_entries= / ?max_bytes=
 * (limits.c keeps them) and ?stats=true (memos write their run statistics:
 * run_stats.c). */
#include "archive/handle.h"
#include "archive/registry.h"
#include "archive/url.h"
#include "internal.h"
#include "klepto/cached.h"

#include <stdio.h>
#include <stdlib.h>

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

/* The cached front over the archive named by u without its ?cached=. */
static int open_cached_front(kl_archive **out, const kl_url *u, const kl_archive_opts *opts)
{
    char *inner = url_without_cached(u);
    if (!inner)
        return kl_seterr(KL_ENOMEM, "out of memory opening %s", kl_url_shown(u));
    kl_archive *backing = NULL;
    int rc = kl_archive_open(&backing, inner, opts);
    free(inner);
    if (rc)
        return rc;
    kl_cached_opts co = KL_CACHED_OPTS_INIT;
    return kl_cached_new(out, backing, &co);
}

/* A handle over backend be opened on u; the URL's options must all have
 * been read by be->open. */
/* The longest ?ttl= (a hundred years). */
#define TTL_MAX_SECONDS (100ull * 365 * 86400)

static int open_backend(kl_archive **out, const kl_archive_backend *be, const char *url,
                        const kl_url *u, const kl_archive_opts *opts)
{
    uint64_t ttl_s = 0;
    const char *ttl = kl_url_param_get(u, "ttl"); /* the core's own option */
    if (ttl) {
        char what[600];
        snprintf(what, sizeof what, "%s: ?ttl=", kl_url_shown(u));
        int trc = kl_parse_duration(ttl, what, &ttl_s);
        if (trc)
            return trc;
        /* 0 would expire every entry at once; beyond a century is a
         * mistake, not a limit (and would overflow nanoseconds) */
        if (ttl_s == 0 || ttl_s > TTL_MAX_SECONDS)
            return kl_seterr(KL_EINVAL,
                             "%s: '%s' is not a duration from 1s to 100 years (digits and s, m, "
                             "h, d or w: 30s, 15m, 2h, 7d)",
                             what, ttl);
    }
    kl_archive *ar = NULL;
    int rc = kl__archive_handle_new(&ar, be, url, kl_url_shown(u));
    if (rc)
        return rc;
    ar->read_only = opts->read_only;
    ar->ttl_ns = (int64_t)ttl_s * 1000000000;
    rc = kl_url_bool(u, "stats", &ar->run_stats); /* the core's: run_stats.c */
    if (!rc)
        rc = kl__limits_open(ar, u, opts);
    if (rc) {
        kl__archive_handle_release(ar);
        return rc;
    }
    rc = be->open(&ar->state, u, opts);
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
        kl__archive_handle_release(ar);
        return rc;
    }
    *out = ar;
    return 0;
}

int kl_archive_open(kl_archive **out, const char *url, const kl_archive_opts *opts)
{
    *out = NULL;
    kl_archive_opts def = KL_ARCHIVE_OPTS_INIT;
    if (!opts)
        opts = &def;
    int rc = kl__opts_version_check(opts->version, KL_ARCHIVE_OPTS_VERSION, "archive");
    if (rc)
        return rc;
    kl_url *u = NULL;
    rc = kl__url_parse(url, &u);
    if (rc)
        return rc;
    bool cached = false;
    rc = kl_url_bool(u, "cached", &cached); /* the core's own option */
    if (!rc && cached) {
        rc = open_cached_front(out, u, opts);
        kl__url_free(u);
        return rc;
    }
    const kl_archive_backend *be = rc ? NULL : kl__archive_backend_find(u->scheme);
    if (!rc && !be)
        rc = kl_seterr(KL_EINVAL, "%s: unknown archive scheme '%s:'", kl_url_shown(u), u->scheme);
    if (!rc)
        rc = open_backend(out, be, url, u, opts);
    kl__url_free(u);
    return rc;
}

int kl_archive_close(kl_archive *ar)
{
    if (!ar)
        return 0;
    int lrc = kl__limits_at_close(ar);
    int rc = ar->be->close(ar->state);
    kl__archive_handle_release(ar);
    return rc ? rc : lrc;
}

const char *kl_archive_url(const kl_archive *ar) { return ar->url; }
const char *kl_archive_scheme(const kl_archive *ar) { return ar->be->scheme; }
