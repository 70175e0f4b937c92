/* SPDX-License-Identifier: BSD-3-Clause */
/* Archive URLs: "scheme:rest?name=value&..." cut into a kl_url, with the
 * bookkeeping that lets the core reject options no backend asked for. */
#define _GNU_SOURCE
#include "archive/url.h"
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* kl_url is the first member so the public, const kl_url can be mapped
 * back to the private flags recording which options were read. */
typedef struct url_impl {
    kl_url u;
    bool *used;
    char *mem;   /* one block holding scheme, rest and the decoded params */
    char *shown; /* the URL for messages (kl_archive_redact_url) */
} url_impl;

char *kl_archive_redact_url(const char *url)
{
    if (!url)
        return NULL;
    /* a mask may be longer than what it hides: room for the worst case */
    size_t n = strlen(url);
    char *m = malloc(3 * n + 4), *o = m;
    if (!m)
        return NULL;
    const char *p = url;
    const char *auth = strstr(url, "://");
    if (auth) { /* user:PASSWORD@ before the path or query */
        auth += 3;
        size_t alen = strcspn(auth, "/?");
        const char *at = memrchr(auth, '@', alen);
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon && at - colon > 1) {
            memcpy(o, url, (size_t)(colon + 1 - url));
            o += colon + 1 - url;
            memcpy(o, "***", 3);
            o += 3;
            p = at;
        }
    }
    for (const char *pw; (pw = strstr(p, "password=")) != NULL;) {
        pw += 9;
        memcpy(o, p, (size_t)(pw - p));
        o += pw - p;
        size_t len = strcspn(pw, "&");
        if (len) {
            memcpy(o, "***", 3);
            o += 3;
        }
        p = pw + len;
    }
    strcpy(o, p);
    return m;
}

const char *kl_url_shown(const kl_url *u)
{
    const url_impl *im = (const url_impl *)u;
    return im->shown ? im->shown : "(archive URL)";
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

ptrdiff_t kl__pct_decode(char *dst, const char *src, size_t n)
{
    char *w = dst;
    for (size_t i = 0; i < n; i++) {
        if (src[i] != '%') {
            *w++ = src[i];
            continue;
        }
        int hi = i + 2 < n ? hexval((unsigned char)src[i + 1]) : -1;
        int lo = hi < 0 ? -1 : hexval((unsigned char)src[i + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        *w++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *w = '\0';
    return w - dst;
}

char *kl__pct_decode_dup(const char *p, size_t n, bool *bad)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    ptrdiff_t len = kl__pct_decode(o, p, n);
    if (len < 0 || memchr(o, '\0', (size_t)len)) {
        *bad = true;
        free(o);
        return NULL;
    }
    return o;
}

/* Decode %XX in place; KL_EINVAL on a broken escape. */
static int pct_decode(char *s, const char *url)
{
    if (kl__pct_decode(s, s, strlen(s)) < 0)
        return kl_seterr(KL_EINVAL, "%s: bad percent escape in the query string", url);
    return 0;
}

void kl__url_free(kl_url *u)
{
    if (!u)
        return;
    url_impl *im = (url_impl *)u;
    free(im->used);
    free(im->u.params);
    free(im->mem);
    free(im->shown);
    free(im);
}

int kl__url_parse(const char *text, kl_url **out)
{
    *out = NULL;
    if (!text)
        return kl_seterr(KL_EINVAL, "archive URL is NULL");
    /* messages name the URL with any password masked */
    char *sh = kl_archive_redact_url(text);
    if (!sh)
        return kl_seterr(KL_ENOMEM, "out of memory parsing an archive URL");
    int rc = 0;
    const char *colon = strchr(text, ':');
    if (!colon || colon == text)
        rc = kl_seterr(KL_EINVAL, "%s: not an archive URL (expected scheme:...)", sh);
    for (const char *c = text; !rc && c < colon; c++)
        if (!(isalnum((unsigned char)*c) || *c == '+' || *c == '-' || *c == '.'))
            rc = kl_seterr(KL_EINVAL, "%s: bad character in the URL scheme", sh);
    url_impl *im = rc ? NULL : calloc(1, sizeof *im);
    size_t n = strlen(text);
    if (!rc && (!im || !(im->mem = malloc(2 * n + 2))))
        rc = kl_seterr(KL_ENOMEM, "out of memory parsing %s", sh);
    if (rc) {
        free(im);
        free(sh);
        return rc;
    }
    im->shown = sh;
    im->u.full = text;
    char *scheme = im->mem;
    memcpy(scheme, text, (size_t)(colon - text));
    scheme[colon - text] = '\0';
    for (char *c = scheme; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    char *rest = scheme + (colon - text) + 1;
    strcpy(rest, colon + 1);
    im->u.scheme = scheme;
    im->u.rest = rest;

    char *q = strchr(rest, '?');
    if (q) {
        *q++ = '\0';
        size_t np = 1;
        for (char *c = q; *c; c++)
            np += *c == '&';
        im->u.params = calloc(np, sizeof *im->u.params);
        im->used = calloc(np, sizeof *im->used);
        if (!im->u.params || !im->used) {
            rc = kl_seterr(KL_ENOMEM, "out of memory parsing %s", sh); /* sh dies with im */
            kl__url_free(&im->u);
            return rc;
        }
        char *save = NULL;
        for (char *tok = strtok_r(q, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq++ = '\0';
            rc = pct_decode(tok, sh);
            if (!rc && eq)
                rc = pct_decode(eq, sh);
            if (!rc && !*tok)
                rc = kl_seterr(KL_EINVAL, "%s: empty option name in the query string", sh);
            for (size_t i = 0; !rc && i < im->u.nparams; i++)
                if (!strcmp(im->u.params[i].name, tok))
                    rc = kl_seterr(KL_EINVAL, "%s: option '%s' given twice", sh, tok);
            if (rc) {
                kl__url_free(&im->u);
                return rc;
            }
            im->u.params[im->u.nparams].name = tok;
            im->u.params[im->u.nparams].value = eq ? eq : "";
            im->u.nparams++;
        }
    }
    *out = &im->u;
    return 0;
}

const char *kl_url_param_get(const kl_url *url, const char *name)
{
    const url_impl *im = (const url_impl *)url;
    for (size_t i = 0; i < url->nparams; i++)
        if (!strcmp(url->params[i].name, name)) {
            im->used[i] = true;
            return url->params[i].value;
        }
    return NULL;
}

int kl__url_check_used(const kl_url *url)
{
    const url_impl *im = (const url_impl *)url;
    for (size_t i = 0; i < url->nparams; i++)
        if (!im->used[i])
            return kl_seterr(KL_EINVAL, "%s: unknown option '%s' for %s: archives", kl_url_shown(url),
                             url->params[i].name, url->scheme);
    return 0;
}

int kl_url_sync_mode(const kl_url *u, int *mode)
{
    const char *v = kl_url_param_get(u, "sync");
    *mode = KL_SYNC_NORMAL;
    if (!v)
        return 0;
    if (!strcmp(v, "none"))
        *mode = KL_SYNC_NONE;
    else if (!strcmp(v, "normal"))
        *mode = KL_SYNC_NORMAL;
    else if (!strcmp(v, "full"))
        *mode = KL_SYNC_FULL;
    else
        return kl_seterr(KL_EINVAL, "%s: sync=%s: expected none, normal or full", kl_url_shown(u), v);
    return 0;
}

int kl_url_file_mode(const kl_url *u, unsigned *mode)
{
    const char *v = kl_url_param_get(u, "mode");
    *mode = 0;
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long x = strtoul(v, &end, 8);
    if (!*v || *end || errno || *v == '-' || *v == '+' || strlen(v) > 4 || x > 0777)
        return kl_seterr(KL_EINVAL, "%s: mode=%s: expected octal permission bits such as 0600",
                         kl_url_shown(u), v);
    if ((x & 0600) != 0600)
        return kl_seterr(KL_EINVAL,
                         "%s: mode=%s: the owner must be able to read and write (0600 at least)",
                         kl_url_shown(u), v);
    *mode = (unsigned)x;
    return 0;
}

unsigned kl_url_folder_mode(unsigned file_mode)
{
    return file_mode ? file_mode | ((file_mode & 0444) >> 2) : 0;
}

int kl_url_uint(const kl_url *u, const char *name, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const char *v = kl_url_param_get(u, name);
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || *v == '-' || x < lo || x > hi)
        return kl_seterr(KL_EINVAL, "%s: %s=%s: expected an integer in [%llu, %llu]", kl_url_shown(u),
                         name, v, (unsigned long long)lo, (unsigned long long)hi);
    *out = x;
    return 0;
}

int kl_url_double(const kl_url *u, const char *name, double lo, double hi, double *out)
{
    const char *v = kl_url_param_get(u, name);
    if (!v)
        return 0;
    char *end = NULL;
    double x = strtod(v, &end);
    if (!*v || *end || !(x >= lo && x <= hi))
        return kl_seterr(KL_EINVAL, "%s: %s=%s: expected a number in [%g, %g]", kl_url_shown(u), name,
                         v, lo, hi);
    *out = x;
    return 0;
}

int kl_url_bool(const kl_url *u, const char *name, bool *out)
{
    const char *v = kl_url_param_get(u, name);
    if (!v)
        return 0;
    if (!*v || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))
        *out = false;
    else
        return kl_seterr(KL_EINVAL, "%s: %s=%s: expected true or false", kl_url_shown(u), name, v);
    return 0;
}
