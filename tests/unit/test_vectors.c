/* SPDX-License-Identifier: BSD-3-Clause */
/* Key compatibility with Python klepto: every line of
 * tests/data/klepto-keys.jsonl is a call with the keys klepto produced for
 * it (stringmap, md5 and sha256 hashmaps); the library must produce the
 * same three keys, byte for byte. */
#include "testutil.h"

#include "klepto/codec.h"
#include "klepto/error.h"
#include "klepto/keygen.h"
#include "klepto/keymap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tiny JSON reader (just what the vector file uses) ---------------- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval jval;
struct jval {
    jtype t;
    bool b;
    double num;
    char *str; /* J_STR: UTF-8, NUL-terminated */
    size_t n;  /* J_ARR / J_OBJ: number of items */
    jval *items;
    char **keys; /* J_OBJ */
};

static void jfree(jval *v)
{
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

static void put_utf8(char **o, unsigned cp)
{
    unsigned char *u = (unsigned char *)*o;
    if (cp < 0x80) {
        *u++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *u++ = (unsigned char)(0xc0 | cp >> 6);
        *u++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *u++ = (unsigned char)(0xe0 | cp >> 12);
        *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *u++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *u++ = (unsigned char)(0xf0 | cp >> 18);
        *u++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *u++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *o = (char *)u;
}

static bool hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

static char *jstring(const char **p)
{
    if (**p != '"')
        return NULL;
    (*p)++;
    const char *s = *p;
    size_t n = 0;
    while (s[n] && s[n] != '"')
        n += (s[n] == '\\' && s[n + 1]) ? 2 : 1;
    char *out = malloc(n * 2 + 1), *o = out;
    if (!out)
        return NULL;
    while (**p && **p != '"') {
        char c = *(*p)++;
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        c = *(*p)++;
        switch (c) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned cp, lo;
            if (!hex4(*p, &cp))
                goto bad;
            *p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && (*p)[0] == '\\' && (*p)[1] == 'u' &&
                hex4(*p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                *p += 6;
            }
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = c; break; /* \" \\ \/ */
        }
    }
    if (**p != '"')
        goto bad;
    (*p)++;
    *o = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static bool jparse(const char **p, jval *v)
{
    memset(v, 0, sizeof *v);
    skip_ws(p);
    char c = **p;
    if (c == '"') {
        v->t = J_STR;
        return (v->str = jstring(p)) != NULL;
    }
    if (c == '[' || c == '{') {
        bool obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        (*p)++;
        size_t cap = 0;
        skip_ws(p);
        if (**p == (obj ? '}' : ']')) {
            (*p)++;
            return true;
        }
        for (;;) {
            if (v->n == cap) {
                cap = cap ? 2 * cap : 8;
                v->items = realloc(v->items, cap * sizeof *v->items);
                if (obj)
                    v->keys = realloc(v->keys, cap * sizeof *v->keys);
            }
            if (obj) {
                skip_ws(p);
                v->keys[v->n] = jstring(p);
                if (!v->keys[v->n])
                    return false;
                skip_ws(p);
                if (*(*p)++ != ':') {
                    free(v->keys[v->n]);
                    return false;
                }
            }
            if (!jparse(p, &v->items[v->n])) {
                if (obj)
                    free(v->keys[v->n]);
                return false;
            }
            v->n++;
            skip_ws(p);
            if (**p == ',') {
                (*p)++;
                continue;
            }
            if (**p == (obj ? '}' : ']')) {
                (*p)++;
                return true;
            }
            return false;
        }
    }
    if (!strncmp(*p, "null", 4)) {
        *p += 4;
        v->t = J_NULL;
        return true;
    }
    if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5)) {
        v->t = J_BOOL;
        v->b = **p == 't';
        *p += v->b ? 4 : 5;
        return true;
    }
    char *end;
    v->t = J_NUM;
    v->num = strtod(*p, &end);
    if (end == *p)
        return false;
    *p = end;
    return true;
}

static const jval *jget(const jval *o, const char *key)
{
    for (size_t i = 0; o->t == J_OBJ && i < o->n; i++)
        if (!strcmp(o->keys[i], key))
            return &o->items[i];
    return NULL;
}

/* ---- running one vector --------------------------------------------------- */

static kl_value parse_literal(const char *text, size_t line)
{
    kl_value v;
    int rc = kl_parse(text, strlen(text), &v);
    if (rc)
        fail_msg("line %zu: cannot parse %s: %s", line, text, kl_errmsg());
    return v;
}

/* The text inside a key made by a string or hash keymap. */
static char *key_text(const kl_keygen *kg, const kl_call *call, size_t line, const char *what)
{
    kl_buf b = KL_BUF_INIT;
    int rc = kl_keygen_key(kg, call, &b);
    if (rc)
        fail_msg("line %zu: %s key: %s (%s)", line, what, kl_strerror(rc), kl_errmsg());
    kl_value v;
    rc = kl_decode(b.data, b.len, &v);
    if (rc || v.type != KL_TEXT)
        fail_msg("line %zu: %s key does not decode to text", line, what);
    char *s = strndup(v.u.s.ptr, v.u.s.len);
    kl_value_free(&v);
    kl_buf_free(&b);
    return s;
}

static void run_vector(const jval *o, size_t line)
{
    const jval *sig = jget(o, "signature"), *args = jget(o, "args"), *kwargs = jget(o, "kwargs"),
               *ignore = jget(o, "ignore"), *tol = jget(o, "tol"), *rounding = jget(o, "rounding"),
               *typed = jget(o, "typed");
    const char *want[3] = {NULL, NULL, NULL};
    const char *fields[3] = {"string", "md5", "sha256"};
    for (int k = 0; k < 3; k++) {
        const jval *f = jget(o, fields[k]);
        assert_non_null(f);
        want[k] = f->str;
    }
    assert_true(sig && args && kwargs && ignore && tol && rounding && typed);

    kl_signature *s;
    int rc = kl_signature_parse(&s, sig->str);
    if (rc)
        fail_msg("line %zu: signature %s: %s", line, sig->str, kl_errmsg());

    kl_value *pos = calloc(args->n + 1, sizeof *pos);
    kl_value *named = calloc(kwargs->n + 1, sizeof *named);
    assert_non_null(pos);
    assert_non_null(named);
    for (size_t i = 0; i < args->n; i++)
        pos[i] = parse_literal(args->items[i].str, line);
    for (size_t i = 0; i < kwargs->n; i++)
        named[i] = parse_literal(kwargs->items[i].str, line);
    kl_call call = {pos, args->n, (const char *const *)kwargs->keys, named, kwargs->n};

    char ign[256] = "";
    for (size_t i = 0; i < ignore->n; i++) {
        if (i)
            strcat(ign, ",");
        strcat(ign, ignore->items[i].str);
    }
    kl_keygen_opts go = KL_KEYGEN_OPTS_INIT;
    go.ignore = ign;
    go.tol = tol->t == J_NULL ? KL_TOL_NONE : (int)tol->num;
    go.rounding = !strcmp(rounding->str, "deep") ? KL_ROUND_DEEP : KL_ROUND_SIMPLE;

    for (int k = 0; k < 3; k++) {
        kl_keymap_opts mo = KL_KEYMAP_OPTS_INIT;
        mo.kind = k == 0 ? KL_KEYMAP_STRING : KL_KEYMAP_HASH;
        mo.algorithm = k == 0 ? NULL : fields[k];
        mo.typed = typed->b;
        kl_keymap *km;
        KT_OK(kl_keymap_new(&km, &mo));
        kl_keygen *kg;
        KT_OK(kl_keygen_new(&kg, s, km, &go));
        KT_OK(kl_keygen_validate(kg, &call));
        char *got = key_text(kg, &call, line, fields[k]);
        if (strcmp(got, want[k]) != 0)
            fail_msg("line %zu (%s): %s key\n  got:  %s\n  want: %s", line, sig->str, fields[k],
                     got, want[k]);
        free(got);
        kl_keygen_free(kg);
        kl_keymap_free(km);
    }
    for (size_t i = 0; i < args->n; i++)
        kl_value_free(&pos[i]);
    for (size_t i = 0; i < kwargs->n; i++)
        kl_value_free(&named[i]);
    free(pos);
    free(named);
    kl_signature_free(s);
}

static void every_vector_matches_python_klepto(void **state)
{
    (void)state;
    size_t len;
    char *text = kt_slurp(kt_data("klepto-keys.jsonl"), &len);
    assert_non_null(text);
    size_t line = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p) {
            line++;
            const char *q = p;
            jval o;
            if (!jparse(&q, &o) || o.t != J_OBJ)
                fail_msg("line %zu: bad JSON", line);
            run_vector(&o, line);
            jfree(&o);
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    free(text);
    assert_int_equal(line, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_vector_matches_python_klepto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
