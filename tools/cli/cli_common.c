/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the klepto commands: errors, exit codes, literals,
 * help, options. */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "klepto/cached.h"
#include "klepto/sys/errors.h"

int cli_status(int code)
{
    switch (code) {
    case KL_OK:
        return CLI_OK;
    case KL_ENOTFOUND:
        return CLI_NOTFOUND;
    case KL_EINVAL:
    case KL_ETYPE:
    case KL_ETOOBIG:
    case KL_ERANGE:
    case KL_ECORRUPT:
    case KL_EVERSION:
        return CLI_USAGE;
    default:
        return CLI_IO;
    }
}

/* The placeholder cli_url_shown gives when out of memory: never freed. */
static char url_placeholder[] = "(archive URL)";

char *cli_url_shown(const char *url)
{
    char *s = kl_archive_redact_url(url);
    return s ? s : url_placeholder;
}

void cli_url_free(char *shown)
{
    if (shown != url_placeholder)
        free(shown);
}

int cli_fail(int code, const char *what)
{
    const char *raw = kl_errmsg();
    if (!raw[0])
        raw = kl_strerror(code);
    /* no password on the terminal: what may be a URL, and the library's
     * message (or a server's or client library's, quoted in it) is masked
     * again in case it quotes one unmasked */
    char *msg = cli_url_shown(raw);
    char *shown = cli_url_shown(what);
    if (strstr(msg, shown)) /* the library's message already names it */
        fprintf(stderr, "klepto: %s\n", msg);
    else
        fprintf(stderr, "klepto: %s: %s\n", shown, msg);
    cli_url_free(shown);
    cli_url_free(msg);
    return cli_status(code);
}

int cli_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    /* the message may quote an argument, and that argument may be a URL */
    char *shown = cli_url_shown(n < 0 ? "bad usage (out of memory)" : text);
    fprintf(stderr, "klepto: %s\n", shown);
    cli_url_free(shown);
    free(text);
    return CLI_USAGE;
}

/* The command line works on what is stored.  A URL with ?cached=true
 * opens a cached front, which (as klepto's cached archive) answers from
 * its memory only — and a freshly opened front holds nothing — so the
 * commands get the storage behind it; the front, still empty, is closed. */
static int open_storage(kl_archive **out, const char *url, const kl_archive_opts *opts)
{
    int rc = kl_archive_open(out, url, opts);
    if (rc || !kl_cached_is(*out) || !kl_cached_backing(*out))
        return rc;
    kl_archive *storage = NULL;
    if ((rc = kl_cached_set_backing(*out, NULL, &storage)) == 0)
        rc = kl_archive_close(*out);
    else
        (void)kl_archive_close(*out);
    *out = NULL;
    if (rc) {
        kl_archive_close(storage);
        return rc;
    }
    *out = storage;
    return 0;
}

int cli_open(kl_archive **out, const char *url, bool create)
{
    kl_archive_opts opts = KL_ARCHIVE_OPTS_INIT;
    opts.create = create;
    int rc = open_storage(out, url, &opts);
    if (rc)
        return cli_fail(rc, url);
    return 0;
}

int cli_open_ro(kl_archive **out, const char *url)
{
    kl_archive_opts opts = KL_ARCHIVE_OPTS_INIT;
    opts.read_only = true;
    int rc = open_storage(out, url, &opts);
    if (rc)
        return cli_fail(rc, url);
    return 0;
}

int cli_close(kl_archive *ar, const char *url, int st)
{
    int rc = kl_archive_close(ar);
    return rc && st == CLI_OK ? cli_fail(rc, url) : st;
}

int cli_key_bytes(const char *literal, bool numeric_eq, kl_buf *key)
{
    kl_value v;
    int rc = kl_parse(literal, strlen(literal), &v);
    if (rc)
        return rc;
    rc = kl_encode(key, &v, numeric_eq ? KL_ENC_NUMERIC_EQ : 0);
    kl_value_free(&v);
    return rc;
}

int cli_find_key(kl_archive *ar, const char *literal, kl_buf *key)
{
    key->len = 0;
    int rc = cli_key_bytes(literal, false, key);
    if (rc)
        return rc;
    rc = kl_archive_contains(ar, key->data, key->len);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    kl_buf alt = KL_BUF_INIT;
    rc = cli_key_bytes(literal, true, &alt);
    if (rc == 0 && (alt.len != key->len || memcmp(alt.data, key->data, alt.len) != 0) &&
        kl_archive_contains(ar, alt.data, alt.len) == 1) {
        kl_buf_free(key);
        *key = alt;
        return 0;
    }
    kl_buf_free(&alt);
    return 0; /* not stored: callers get KL_ENOTFOUND from the archive */
}

static int render(const void *p, size_t n, kl_buf *out, bool as_key)
{
    kl_value v;
    int rc = kl_decode(p, n, &v);
    if (rc)
        return rc;
    if (as_key && v.type == KL_ARRAY)
        v.flags |= KL_VALUE_TUPLE;
    rc = kl_repr(out, &v);
    kl_value_free(&v);
    return rc;
}

int cli_render_key(const void *p, size_t n, kl_buf *out)
{
    return render(p, n, out, true);
}
int cli_render_value(const void *p, size_t n, kl_buf *out)
{
    return render(p, n, out, false);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

int cli_help(const char *usage, const char *about)
{
    printf("%s\n\n%s", usage, about);
    return CLI_OK;
}

int cli_reject_options(int argc, char **argv, const char *cmd)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage("%s: unknown option '%s' (try 'klepto %s --help')", cmd, argv[i], cmd);
    return 0;
}

/* "--name VALUE" or "--name=VALUE": 1 and *val set when argv[*i] is the
 * option, 0 when it is not, -1 when its value is missing. */
int cli_take_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n])
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

int cli_next_entry(kl_archive_iter *it, const char *url, bool report, kl_buf *key, kl_buf *val,
                   size_t *damaged)
{
    /* Iterators move past a damaged entry (or end) on every call.  One
     * that reports the same damage twice in a row -- the same message, and
     * the key buffer as it left it -- has not moved: asking again would
     * spin forever, so the scan ends there, as an I/O error (exit 3). */
    kl_buf prev = KL_BUF_INIT; /* the last message, NUL, then the key */
    bool have_prev = false;
    for (;;) {
        int r = kl_archive_iter_next(it, key, val);
        if (r != KL_ECORRUPT) {
            kl_buf_free(&prev);
            return r;
        }
        const char *msg = kl_errmsg();
        size_t ml = strlen(msg) + 1;
        if (have_prev && prev.len == ml + key->len && memcmp(prev.data, msg, ml) == 0 &&
            (key->len == 0 || memcmp(prev.data + ml, key->data, key->len) == 0)) {
            char *shown = kl_archive_redact_url(url);
            r = kl_seterr(KL_EIO, "%s: the scan does not get past a damaged entry: %s",
                          shown ? shown : "archive", (const char *)prev.data);
            free(shown);
            kl_buf_free(&prev);
            return r;
        }
        if (report)
            fprintf(stderr, "klepto: %s: skipped: %s\n", url, msg);
        (*damaged)++;
        kl_buf_reset(&prev);
        if (kl_buf_append(&prev, msg, ml) || kl_buf_append(&prev, key->data, key->len)) {
            kl_buf_free(&prev);
            return KL_ENOMEM;
        }
        have_prev = true;
    }
}
