/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing function signatures written in Python syntax. */
#include "internal.h"
#include "klepto/keygen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct kl_signature {
    size_t nparams, npositional;
    char **names;        /* nparams names */
    kl_value *defaults;  /* nparams values (null where has_default is false) */
    bool *has_default;
    char *varargs, *varkw; /* names of *args / **kw, or NULL */
};

#define SIG_MAX_PARAMS 4096

static bool is_ident_start(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
static bool is_ident_char(unsigned char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void kl_signature_free(kl_signature *sig)
{
    if (!sig)
        return;
    for (size_t i = 0; i < sig->nparams; i++) {
        free(sig->names[i]);
        kl_value_free(&sig->defaults[i]);
    }
    free(sig->names);
    free(sig->defaults);
    free(sig->has_default);
    free(sig->varargs);
    free(sig->varkw);
    free(sig);
}

/* End of the item starting at p: the next comma outside brackets and
 * string literals, or the end of the text. */
static const char *item_end(const char *p, const char *end)
{
    int depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '\'' || c == '"') {
            char q = c;
            p++;
            while (p < end && *p != q) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                p++;
            }
            if (p < end)
                p++;
            continue;
        }
        if (c == '(' || c == '[' || c == '{')
            depth++;
        else if ((c == ')' || c == ']' || c == '}') && depth > 0)
            depth--;
        else if (c == ',' && depth == 0)
            return p;
        p++;
    }
    return p;
}

static bool name_taken(const kl_signature *sig, const char *s, size_t n)
{
    for (size_t i = 0; i < sig->nparams; i++)
        if (strlen(sig->names[i]) == n && memcmp(sig->names[i], s, n) == 0)
            return true;
    if (sig->varargs && strlen(sig->varargs) == n && memcmp(sig->varargs, s, n) == 0)
        return true;
    if (sig->varkw && strlen(sig->varkw) == n && memcmp(sig->varkw, s, n) == 0)
        return true;
    return false;
}

static int grow(kl_signature *sig, size_t *cap)
{
    if (sig->nparams < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    char **nn = realloc(sig->names, nc * sizeof *nn);
    if (!nn)
        return kl_seterr(KL_ENOMEM, "signature: out of memory for %zu parameters", nc);
    sig->names = nn;
    kl_value *nd = realloc(sig->defaults, nc * sizeof *nd);
    if (!nd)
        return kl_seterr(KL_ENOMEM, "signature: out of memory for %zu parameters", nc);
    sig->defaults = nd;
    bool *nh = realloc(sig->has_default, nc * sizeof *nh);
    if (!nh)
        return kl_seterr(KL_ENOMEM, "signature: out of memory for %zu parameters", nc);
    sig->has_default = nh;
    *cap = nc;
    return 0;
}

#define SYNTAX(pos, ...)                                                                   \
    do {                                                                                   \
        rc = kl_seterr(KL_EINVAL, "signature '%s': position %zu: " __VA_ARGS__);            \
        (void)(pos);                                                                       \
        goto fail;                                                                         \
    } while (0)

int kl_signature_parse(kl_signature **out, const char *spec)
{
    if (!out || !spec)
        return kl_seterr(KL_EINVAL, "signature: NULL argument");
    kl_signature *sig = calloc(1, sizeof *sig);
    if (!sig)
        return kl_seterr(KL_ENOMEM, "out of memory parsing a signature");
    size_t cap = 0;
    int rc = 0;
    bool kwonly = false, seen_default = false, after_varkw = false;
    const char *end = spec + strlen(spec), *p = spec;
    while (p < end) {
        const char *ie = item_end(p, end);
        const char *a = p, *b = ie;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        size_t pos = (size_t)(a - spec);
        bool last = (ie == end);
        p = last ? end : ie + 1;
        if (a == b) {
            /* "x, y," is valid Python; an empty item elsewhere is not. */
            if (last && sig->nparams + !!sig->varargs + !!sig->varkw > 0)
                break;
            if (last && a == spec)
                break; /* the empty signature */
            SYNTAX(pos, "empty parameter", spec, pos);
        }
        if (after_varkw)
            SYNTAX(pos, "nothing may follow **%s", spec, pos, sig->varkw);
        int stars = 0;
        while (a < b && *a == '*' && stars < 2) {
            a++;
            stars++;
        }
        if (stars == 0 && *a == '/')
            SYNTAX(pos, "the positional-only marker '/' is not supported", spec, pos);
        while (a < b && is_space(*a))
            a++;
        const char *n0 = a;
        if (a < b && is_ident_start((unsigned char)*a))
            while (a < b && is_ident_char((unsigned char)*a))
                a++;
        size_t nlen = (size_t)(a - n0);
        while (a < b && is_space(*a))
            a++;
        if (stars == 1 && nlen == 0 && a == b) { /* bare "*" */
            if (kwonly)
                SYNTAX(pos, "a second '*'", spec, pos);
            kwonly = true;
            continue;
        }
        if (nlen == 0)
            SYNTAX(pos, "expected a parameter name", spec, pos);
        if (nlen == 4 && memcmp(n0, "None", 4) == 0)
            SYNTAX(pos, "'None' is not a parameter name", spec, pos);
        if (name_taken(sig, n0, nlen))
            SYNTAX(pos, "duplicate parameter '%.*s'", spec, pos, (int)nlen, n0);
        if (a < b && *a == ':')
            SYNTAX(pos, "annotations are not supported", spec, pos);
        if (stars) {
            if (a != b)
                SYNTAX(pos, "*%.*s cannot have a default", spec, pos, (int)nlen, n0);
            char *nm = strndup(n0, nlen);
            if (!nm) {
                rc = kl_seterr(KL_ENOMEM, "out of memory parsing a signature");
                goto fail;
            }
            if (stars == 1) {
                if (kwonly) {
                    free(nm);
                    SYNTAX(pos, "a second '*'", spec, pos);
                }
                sig->varargs = nm;
                kwonly = true;
            } else {
                sig->varkw = nm;
                after_varkw = true;
            }
            continue;
        }
        if (sig->nparams >= SIG_MAX_PARAMS)
            SYNTAX(pos, "more than %d parameters", spec, pos, SIG_MAX_PARAMS);
        if (grow(sig, &cap)) {
            rc = kl_seterr(KL_ENOMEM, "out of memory parsing a signature");
            goto fail;
        }
        size_t i = sig->nparams;
        sig->defaults[i] = kl_value_null();
        sig->has_default[i] = false;
        sig->names[i] = strndup(n0, nlen);
        if (!sig->names[i]) {
            rc = kl_seterr(KL_ENOMEM, "out of memory parsing a signature");
            goto fail;
        }
        sig->nparams++;
        if (a < b) {
            if (*a != '=')
                SYNTAX(pos, "expected '=' or ',' after '%.*s'", spec, pos, (int)nlen, n0);
            a++;
            if (a == b)
                SYNTAX(pos, "missing default value for '%.*s'", spec, pos, (int)nlen, n0);
            rc = kl_parse(a, (size_t)(b - a), &sig->defaults[i]);
            if (rc) {
                rc = kl_seterr_prefix(rc, "signature '%s': default of '%.*s'", spec, (int)nlen, n0);
                goto fail;
            }
            sig->has_default[i] = true;
            if (!kwonly)
                seen_default = true;
        } else if (seen_default && !kwonly) {
            SYNTAX(pos, "parameter '%.*s' without a default follows one with a default", spec,
                   pos, (int)nlen, n0);
        }
        if (!kwonly)
            sig->npositional = sig->nparams;
    }
    if (kwonly && !sig->varargs && sig->nparams == sig->npositional)
        return kl_signature_free(sig),
               kl_seterr(KL_EINVAL, "signature '%s': a bare '*' must be followed by a keyword "
                                    "parameter", spec);
    *out = sig;
    return 0;
fail:
    kl_signature_free(sig);
    return rc;
}

size_t kl_signature_nparams(const kl_signature *sig) { return sig ? sig->nparams : 0; }
size_t kl_signature_npositional(const kl_signature *sig) { return sig ? sig->npositional : 0; }
const char *kl_signature_param(const kl_signature *sig, size_t i)
{
    return sig && i < sig->nparams ? sig->names[i] : NULL;
}
const kl_value *kl_signature_default(const kl_signature *sig, size_t i)
{
    return sig && i < sig->nparams && sig->has_default[i] ? &sig->defaults[i] : NULL;
}
bool kl_signature_has_varargs(const kl_signature *sig) { return sig && sig->varargs; }
bool kl_signature_has_varkw(const kl_signature *sig) { return sig && sig->varkw; }
