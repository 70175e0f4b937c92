/* SPDX-License-Identifier: BSD-3-Clause */
/* redis: opening (the URL, the key names, the format marker) and
 * closing.  See redis.h. */
#define _GNU_SOURCE
#include "archive/backend/redis/redis.h"

#include <ctype.h>
#include <limits.h>

static int rd_bad_url(rd_state *s, const char *why)
{
    return kl_seterr(KL_EINVAL, "%s: %s (expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB])",
                     s->url, why);
}

/* rest: "" or "//[userinfo@]host[:port][/db]" */
static int rd_parse_rest(rd_state *s, const char *rest)
{
    if (!rest[0] || !strcmp(rest, "//")) {
        s->host = strdup("127.0.0.1");
        return s->host ? 0 : KL_ENOMEM;
    }
    if (strncmp(rest, "//", 2))
        return rd_bad_url(s, "expected // after redis:");
    const char *p = rest + 2;
    size_t alen = strcspn(p, "/");
    const char *at = memrchr(p, '@', alen);
    bool bad = false;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return rd_bad_url(s, "user without a password (use :PASSWORD@ or USER:PASSWORD@)");
        if (colon > p && !(s->user = kl__pct_decode_dup(p, (size_t)(colon - p), &bad)))
            return bad ? rd_bad_url(s, "bad percent escape in the user name") : KL_ENOMEM;
        if (!(s->pass = kl__pct_decode_dup(colon + 1, (size_t)(at - colon - 1), &bad)))
            return bad ? rd_bad_url(s, "bad percent escape in the password") : KL_ENOMEM;
        p = at + 1;
        alen = strcspn(p, "/");
    }
    /* host[:port]; an IPv6 host in brackets */
    const char *hend, *port = NULL;
    const char *hp = p;
    if (*p == '[') {
        const char *rb = memchr(p, ']', alen);
        if (!rb)
            return rd_bad_url(s, "unclosed [ in the host");
        hp = p + 1;
        hend = rb;
        if (rb + 1 < p + alen) {
            if (rb[1] != ':')
                return rd_bad_url(s, "bad host");
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', alen);
        hend = colon ? colon : p + alen;
        port = colon ? colon + 1 : NULL;
    }
    s->host = hend > hp ? strndup(hp, (size_t)(hend - hp)) : strdup("127.0.0.1");
    if (!s->host)
        return kl_seterr(KL_ENOMEM, "redis: out of memory reading the host of the URL");
    if (port) {
        size_t pl = (size_t)(p + alen - port);
        long v = 0;
        for (size_t i = 0; i < pl && v <= 65535; i++) {
            if (!isdigit((unsigned char)port[i]))
                return rd_bad_url(s, "bad port");
            v = v * 10 + (port[i] - '0');
        }
        if (pl == 0 || v < 1 || v > 65535)
            return rd_bad_url(s, "bad port (1..65535)");
        s->port = (int)v;
    }
    const char *d = p + alen;
    if (*d == '/' && d[1]) {
        d++;
        long v = 0;
        size_t i = 0;
        for (; d[i] && v <= INT_MAX; i++) {
            if (!isdigit((unsigned char)d[i]))
                return rd_bad_url(s, "bad database number");
            v = v * 10 + (d[i] - '0');
        }
        if (v > INT_MAX)
            return rd_bad_url(s, "bad database number");
        s->db = v;
    }
    return 0;
}

static int rd_check_prefix(rd_state *s, const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > RD_PREFIX_MAX)
        return kl_seterr(KL_EINVAL, "%s: prefix must be 1 to %d bytes", s->url, RD_PREFIX_MAX);
    if (strpbrk(p, "{}"))
        return kl_seterr(
            KL_EINVAL, "%s: prefix may not contain { or } (they delimit Redis hash tags)", s->url);
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return kl_seterr(KL_EINVAL, "%s: prefix may not contain control characters", s->url);
    return 0;
}

rd_cmd kl__rd_marker(rd_state *s)
{
    return (rd_cmd){4, s->marker_argv, s->marker_lens};
}

/* The marker: created when missing (if allowed), then checked. */
static int rd_check_format(rd_state *s, bool create)
{
    /* SET NX (when creating) and GET in one round trip */
    const char *get[2] = {"GET", s->k_format};
    size_t lget[2] = {3, s->l_format};
    rd_cmd cmds[2] = {kl__rd_marker(s), {2, get, lget}};
    bool make = create && !s->read_only;
    redisReply *reps[2];
    int r = kl__rd_run(s, make ? cmds : cmds + 1, make ? 2 : 1, reps, !make, "open");
    if (r)
        return r;
    if (make && reps[0]->type == REDIS_REPLY_ERROR) {
        r = kl__rd_reply_err(s, reps[0], "open");
        kl__rd_free_replies(reps, 2);
        return r;
    }
    redisReply *rep = reps[make ? 1 : 0];
    if (rep->type == REDIS_REPLY_NIL) {
        r = kl_seterr(KL_ENOTFOUND, "%s: no klepto archive with prefix '%s' in database %ld",
                      s->url, s->prefix, s->db);
    } else if (rep->type != REDIS_REPLY_STRING) {
        r = kl__rd_unexpected(s, rep, "open");
    } else if (rep->len != strlen(RD_FORMAT) || memcmp(rep->str, RD_FORMAT, rep->len)) {
        size_t nl = strlen(RD_FORMAT_NAME);
        int v = 0;
        if (rep->len > nl && rep->len < nl + 9 && !memcmp(rep->str, RD_FORMAT_NAME, nl)) {
            for (size_t i = nl; i < rep->len && isdigit((unsigned char)rep->str[i]); i++)
                v = v * 10 + (rep->str[i] - '0');
        }
        if (v > RD_FORMAT_VERSION)
            r = kl_seterr(KL_EVERSION, "%s: %s holds layout version %d; this klepto knows %d",
                          s->url, s->k_format, v, RD_FORMAT_VERSION);
        else
            r = kl_seterr(KL_ECORRUPT,
                          "%s: %s does not hold '" RD_FORMAT
                          "': the prefix is used by something else",
                          s->url, s->k_format);
    }
    kl__rd_free_replies(reps, make ? 2 : 1);
    return r;
}

int kl__rd_close(void *state)
{
    rd_state *s = state;
    if (!s)
        return 0;
    if (s->c)
        redisFree(s->c);
    free(s->url);
    free(s->host);
    free(s->user);
    if (s->pass) {
        explicit_bzero(s->pass, strlen(s->pass));
        free(s->pass);
    }
    free(s->prefix);
    free(s->k_entries);
    free(s->k_stamps);
    free(s->k_format);
    free(s);
    return 0;
}

static char *rd_key_name(const char *prefix, const char *suffix, size_t *len)
{
    char *k;
    int n = asprintf(&k, "{%s}:%s", prefix, suffix);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return k;
}

int kl__rd_open(void **out, const kl_url *url, const kl_archive_opts *opts)
{
    kl_archive_opts def = KL_ARCHIVE_OPTS_INIT;
    if (!opts)
        opts = &def;
    *out = NULL;
    rd_state *s = calloc(1, sizeof *s);
    if (!s || !(s->url = kl_archive_redact_url(url->full))) {
        free(s);
        return kl_seterr(KL_ENOMEM, "redis: out of memory"); /* url->full may hold a password */
    }
    s->port = 6379;
    s->timeout = RD_DEFAULT_TIMEOUT;
    s->read_only = opts->read_only;
    int r = rd_parse_rest(s, url->rest);
    const char *prefix = kl_url_param_get(url, "prefix");
    if (!prefix)
        prefix = "klepto";
    if (!r)
        r = rd_check_prefix(s, prefix);
    if (!r)
        r = kl_url_double(url, "timeout", 0, 86400, &s->timeout);
    if (!r && (!(s->prefix = strdup(prefix)) ||
               !(s->k_entries = rd_key_name(prefix, "entries", &s->l_entries)) ||
               !(s->k_stamps = rd_key_name(prefix, "stamps", &s->l_stamps)) ||
               !(s->k_format = rd_key_name(prefix, "format", &s->l_format))))
        r = KL_ENOMEM;
    if (r == KL_ENOMEM)
        kl_seterr(r, "%s: out of memory", s->url);
    if (!r) {
        const char *argv[4] = {"SET", s->k_format, RD_FORMAT, "NX"};
        size_t lens[4] = {3, s->l_format, strlen(RD_FORMAT), 2};
        memcpy(s->marker_argv, argv, sizeof argv);
        memcpy(s->marker_lens, lens, sizeof lens);
    }
    /* unknown options are refused before anything is created on the server */
    if (!r)
        r = kl__url_check_used(url);
    if (!r)
        r = kl__rd_connect(s);
    if (!r)
        r = rd_check_format(s, opts->create);
    if (!r)
        kl__rd_marker_sent(s); /* there, on this connection */
    if (r) {
        kl__rd_close(s);
        return r;
    }
    *out = s;
    return 0;
}
