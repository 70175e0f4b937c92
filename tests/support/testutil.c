/* SPDX-License-Identifier: BSD-3-Clause */
/* See testutil.h. */
#define _GNU_SOURCE
#include "testutil.h"

#include "klepto/codec.h"
#include "klepto/error.h"
#include "klepto/features.h"
#include "klepto/value.h"

#include <stdarg.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *kt_data(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("KLEPTO_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/data", name);
    return buf;
}

const char *kt_bin(const char *relpath)
{
    static char buf[4096];
    const char *dir = getenv("KLEPTO_BIN_DIR");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : ".", relpath);
    return buf;
}

int kt_run(const char *cmd, char **out)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    int st = pclose(f);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *kt_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

int kt_klepto(char **out, bool with_stderr, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s%s", kt_bin("klepto"), args, with_stderr ? " 2>&1" : "");
    char *o = NULL;
    int rc = kt_run(cmd, &o);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}

char *kt_url_with(const char *url, const char *opt)
{
    char *u;
    assert_true(asprintf(&u, "%s%c%s", url, strchr(url, '?') ? '&' : '?', opt) > 0);
    return u;
}

char *kt_server_url(const char *scheme, const char *var, const char *option, const char *extra)
{
    if (!kl_feature(scheme)) {
        print_message("built without the %s backend: skipped\n", scheme);
        skip();
    }
    const char *base = getenv(var);
    if (!base || !*base) {
        print_message("%s unset (run under scripts/with-servers.sh): skipped\n", var);
        skip();
    }
    char *u;
    assert_true(asprintf(&u, "%s%s%s%d%s%s", base, strchr(base, '?') ? "&" : "?", option,
                         (int)getpid(), *extra ? "&" : "", extra) > 0);
    return u;
}

void kt_enc_text(kl_buf *out, const char *s)
{
    kl_value v;
    KT_OK(kl_value_text(&v, s, strlen(s)));
    kl_buf_reset(out);
    KT_OK(kl_encode(out, &v, 0));
    kl_value_free(&v);
}

bool kt_long(void)
{
    const char *l = getenv("KLEPTO_TEST_LONG");
    return l && *l && strcmp(l, "0") != 0;
}
