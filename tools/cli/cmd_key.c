/* SPDX-License-Identifier: BSD-3-Clause */
/* klepto key: the key a call maps to, without calling anything.
 *
 *   klepto key [--keymap raw|hash|string|pickle] [--algorithm NAME] [--typed]
 *              [--no-flat] [--signature SPEC] [--ignore LIST] [--tol N]
 *              [--rounding simple|shallow|deep] [--] ARG... [NAME=ARG...]
 *
 * Prints one line: the key text (string), the lowercase hex digest (hash),
 * or the hex of the key's bytes (raw: the canonical encoding; pickle: the
 * serialized bytes).  Bad input exits 2 with a message on stderr.
 * Like every command, it receives the arguments after its own name. */
#include "cli.h"
#include "klepto/codec.h"
#include "klepto/digest.h"
#include "klepto/error.h"
#include "klepto/keygen.h"
#include "klepto/keymap.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: klepto key [--keymap raw|hash|string|pickle] [--algorithm NAME] [--typed]\n"
    "                  [--no-flat] [--signature SPEC] [--ignore LIST] [--tol N]\n"
    "                  [--rounding simple|shallow|deep] [--] ARG... [NAME=ARG...]\n"
    "Each ARG is a Python-style literal; NAME=ARG is a named argument.\n";

static int __attribute__((format(printf, 2, 3))) fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "klepto key: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int lib_fail(int rc, const char *what)
{
    const char *msg = kl_errmsg();
    fprintf(stderr, "klepto key: %s: %s\n", what, *msg ? msg : kl_strerror(rc));
    return cli_status(rc);
}

/* NAME=... with NAME an identifier: a named argument. */
static size_t named_prefix(const char *s)
{
    size_t i = 0;
    unsigned char c = (unsigned char)s[0];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80))
        return 0;
    while (s[i] && s[i] != '=') {
        c = (unsigned char)s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c >= 0x80))
            return 0;
        i++;
    }
    return s[i] == '=' ? i : 0;
}

/* Option value: "--opt=value" or "--opt value". */
static const char *opt_value(const char *opt, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    size_t n = strlen(opt);
    if (strncmp(a, opt, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        return "";
    return argv[++*i];
}

int cli_cmd_key(int argc, char **argv)
{
    kl_keymap_opts mo = KL_KEYMAP_OPTS_INIT;
    kl_keygen_opts go = KL_KEYGEN_OPTS_INIT;
    const char *spec = NULL;
    int nargs = 0;
    char **args = calloc((size_t)(argc > 0 ? argc : 1), sizeof *args);
    if (!args)
        return fail(CLI_IO, "out of memory");
    bool opts_done = false;
    int code = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (opts_done || strncmp(a, "--", 2) != 0) {
            if (!opts_done && (!strcmp(a, "-h"))) {
                fputs(usage, stdout);
                free(args);
                return 0;
            }
            args[nargs++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            opts_done = true;
        } else if (!strcmp(a, "--help")) {
            fputs(usage, stdout);
            free(args);
            return 0;
        } else if (!strcmp(a, "--typed")) {
            mo.typed = true;
        } else if (!strcmp(a, "--no-flat")) {
            mo.flat = false;
        } else if ((v = opt_value("--keymap", argc, argv, &i))) {
            if (!strcmp(v, "raw"))
                mo.kind = KL_KEYMAP_RAW;
            else if (!strcmp(v, "hash"))
                mo.kind = KL_KEYMAP_HASH;
            else if (!strcmp(v, "string"))
                mo.kind = KL_KEYMAP_STRING;
            else if (!strcmp(v, "pickle"))
                mo.kind = KL_KEYMAP_PICKLE;
            else {
                code =
                    fail(CLI_USAGE, "--keymap: unknown keymap '%s' (raw, hash, string, pickle)", v);
                goto out;
            }
        } else if ((v = opt_value("--algorithm", argc, argv, &i))) {
            mo.algorithm = v;
        } else if ((v = opt_value("--signature", argc, argv, &i))) {
            spec = v;
        } else if ((v = opt_value("--ignore", argc, argv, &i))) {
            go.ignore = v;
        } else if ((v = opt_value("--tol", argc, argv, &i))) {
            char *end;
            errno = 0;
            long t = strtol(v, &end, 10);
            if (!*v || *end || errno || t < -100000 || t > 100000) {
                code = fail(CLI_USAGE, "--tol: '%s' is not an integer number of decimal places", v);
                goto out;
            }
            go.tol = (int)t;
        } else if ((v = opt_value("--rounding", argc, argv, &i))) {
            if (!strcmp(v, "simple"))
                go.rounding = KL_ROUND_SIMPLE;
            else if (!strcmp(v, "shallow"))
                go.rounding = KL_ROUND_SHALLOW;
            else if (!strcmp(v, "deep"))
                go.rounding = KL_ROUND_DEEP;
            else {
                code = fail(CLI_USAGE, "--rounding: unknown mode '%s' (simple, shallow, deep)", v);
                goto out;
            }
        } else {
            code = fail(CLI_USAGE, "unknown option '%s'", a);
            fputs(usage, stderr);
            goto out;
        }
    }

    kl_signature *sig = NULL;
    kl_keymap *km = NULL;
    kl_keygen *kg = NULL;
    kl_value *pos = calloc((size_t)nargs + 1, sizeof *pos);
    kl_value *named = calloc((size_t)nargs + 1, sizeof *named);
    char **names = calloc((size_t)nargs + 1, sizeof *names);
    size_t npos = 0, nnamed = 0;
    kl_buf key = KL_BUF_INIT;
    int rc;
    if (!pos || !named || !names) {
        code = fail(CLI_IO, "out of memory");
        goto done;
    }
    for (int i = 0; i < nargs; i++) {
        const char *a = args[i];
        size_t nl = named_prefix(a);
        kl_value *slot = nl ? &named[nnamed] : &pos[npos];
        const char *lit = nl ? a + nl + 1 : a;
        if ((rc = kl_parse(lit, strlen(lit), slot))) {
            code = lib_fail(rc, a);
            goto done;
        }
        if (nl) {
            if (!(names[nnamed] = strndup(a, nl))) {
                kl_value_free(slot);
                code = fail(CLI_IO, "out of memory");
                goto done;
            }
            nnamed++;
        } else {
            npos++;
        }
    }
    if (spec && (rc = kl_signature_parse(&sig, spec))) {
        code = lib_fail(rc, "--signature");
        goto done;
    }
    if ((rc = kl_keymap_new(&km, &mo))) {
        code = lib_fail(rc, "--keymap/--algorithm");
        goto done;
    }
    if ((rc = kl_keygen_new(&kg, sig, km, &go))) {
        code = lib_fail(rc, "--ignore");
        goto done;
    }
    kl_call call = {pos, npos, (const char *const *)names, named, nnamed};
    if ((rc = kl_keygen_validate(kg, &call)) || (rc = kl_keygen_key(kg, &call, &key))) {
        code = lib_fail(rc, "key");
        goto done;
    }
    if (mo.kind == KL_KEYMAP_RAW) {
        char *hex = malloc(2 * key.len + 1);
        if (!hex) {
            code = fail(CLI_IO, "out of memory");
            goto done;
        }
        kl_hex(key.data, key.len, hex);
        printf("%s\n", hex);
        free(hex);
    } else {
        kl_value v;
        if ((rc = kl_decode(key.data, key.len, &v))) {
            code = lib_fail(rc, "key");
            goto done;
        }
        if (v.type == KL_TEXT) {
            fwrite(v.u.s.ptr, 1, v.u.s.len, stdout);
            fputc('\n', stdout);
        } else if (v.type == KL_BYTES) {
            char *hex = malloc(2 * v.u.s.len + 1);
            if (hex) {
                kl_hex(v.u.s.ptr, v.u.s.len, hex);
                printf("%s\n", hex);
                free(hex);
            } else {
                code = fail(CLI_IO, "out of memory");
            }
        } else {
            code = fail(CLI_IO, "unexpected key type");
        }
        kl_value_free(&v);
    }
    if (fflush(stdout) != 0)
        code = fail(CLI_IO, "cannot write the key: %s", strerror(errno));
done:
    for (size_t i = 0; i < npos; i++)
        kl_value_free(&pos[i]);
    for (size_t i = 0; i < nnamed; i++) {
        kl_value_free(&named[i]);
        free(names[i]);
    }
    free(pos);
    free(named);
    free(names);
    kl_buf_free(&key);
    kl_keygen_free(kg);
    kl_keymap_free(km);
    kl_signature_free(sig);
out:
    free(args);
    return code;
}
