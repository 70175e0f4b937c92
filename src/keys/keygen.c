/* SPDX-License-Identifier: BSD-3-Clause */
/* keygen: a call as made -> a normalised call -> a key.
 *
 * Binding, ignore masks and rounding follow Python klepto (_inspect._keygen
 * and rounding.py): rounding touches only the arguments as passed (never
 * defaults), an ignored parameter becomes the NULL marker whether it was
 * passed or defaulted, an ignored index applies to the positional
 * arguments as passed (so an index past the parameters masks a vararg),
 * "*" drops the varargs and "**" the extra named arguments.
 *
 * A call passing exactly every parameter by position needs no binding: its
 * normalised call is the values in name order (the "direct" path, any
 * keymap).  With a raw flat untyped keymap and scalar values it is even
 * encoded straight from name heads prepared at creation (the "fast" path):
 * no sorting, no allocation, no calls for plain doubles. */
#define _GNU_SOURCE /* qsort_r */
#include "codec/cbor_scalar.h"
#include "internal.h"
#include "klepto/keygen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define STACK_SLOTS 32

/* qsort_r comparator: indices into an array of names, by strcmp. */
static int by_name(const void *a, const void *b, void *names)
{
    const char *const *n = names;
    return strcmp(n[*(const size_t *)a], n[*(const size_t *)b]);
}
#define IGNORE_MAX_INDEX 1000000

struct kl_keygen {
    const kl_keymap *km;
    kl_keymap_opts kmo;

    /* our copy of the signature */
    bool has_sig;
    size_t nparams, npositional;
    char **names;
    kl_value *defaults;
    bool *has_default;
    bool varargs, varkw;
    size_t *order; /* parameter indices in strcmp order of their names */

    /* ignore */
    bool ign_star, ign_dstar, any_ignore;
    size_t *ign_idx, nign_idx;
    char **ign_names;
    size_t nign_names;
    bool *param_ignored;

    int tol;
    kl_rounding rounding;

    /* direct path: a call passing exactly every parameter by position needs
     * no binding; its normalised call is the values in name order */
    bool direct;
    const char **sorted_names; /* nparams names in strcmp order */

    /* fast path (raw keys): the whole key for such a call, minus the values */
    bool fast;
    uint8_t arrhead[9];
    size_t arrhead_len;
    uint8_t *heads;   /* CBOR text heads+names, in sorted order */
    size_t *head_off; /* nparams + 1 offsets into heads */
    /* when every encoded name fits in 8 bytes: one store per name */
    bool short_names;
    struct fast_item {
        uint64_t head;    /* the encoded name, zero-padded */
        uint32_t len;     /* its length */
        uint32_t param;   /* which positional argument follows it */
    } *fitems;            /* nparams, in name order */
    size_t roomy;     /* a buffer this large takes the unchecked path */
};

/* ---- creation ---------------------------------------------------------- */

void kl_keygen_free(kl_keygen *kg)
{
    if (!kg)
        return;
    for (size_t i = 0; i < kg->nparams; i++) {
        free(kg->names ? kg->names[i] : NULL);
        if (kg->defaults)
            kl_value_free(&kg->defaults[i]);
    }
    free(kg->names);
    free(kg->defaults);
    free(kg->has_default);
    free(kg->order);
    free(kg->sorted_names);
    free(kg->ign_idx);
    for (size_t i = 0; i < kg->nign_names; i++)
        free(kg->ign_names[i]);
    free(kg->ign_names);
    free(kg->param_ignored);
    free(kg->heads);
    free(kg->head_off);
    free(kg->fitems);
    free(kg);
}

static int copy_signature(kl_keygen *kg, const kl_signature *sig)
{
    size_t n = kl_signature_nparams(sig);
    kg->has_sig = true;
    kg->npositional = kl_signature_npositional(sig);
    kg->varargs = kl_signature_has_varargs(sig);
    kg->varkw = kl_signature_has_varkw(sig);
    size_t m = n ? n : 1;
    kg->names = calloc(m, sizeof *kg->names);
    kg->defaults = calloc(m, sizeof *kg->defaults);
    kg->has_default = calloc(m, sizeof *kg->has_default);
    kg->order = calloc(m, sizeof *kg->order);
    kg->param_ignored = calloc(m, sizeof *kg->param_ignored);
    if (!kg->names || !kg->defaults || !kg->has_default || !kg->order || !kg->param_ignored)
        return kl_seterr(KL_ENOMEM, "out of memory creating a keygen");
    for (size_t i = 0; i < n; i++) {
        kg->nparams = i + 1; /* so that free releases what was copied */
        if (!(kg->names[i] = strdup(kl_signature_param(sig, i))))
            return kl_seterr(KL_ENOMEM, "out of memory creating a keygen");
        const kl_value *d = kl_signature_default(sig, i);
        if (d) {
            int rc = kl_value_copy(&kg->defaults[i], d);
            if (rc)
                return rc;
            kg->has_default[i] = true;
        }
    }
    kg->nparams = n;
    for (size_t i = 0; i < n; i++)
        kg->order[i] = i;
    qsort_r(kg->order, n, sizeof *kg->order, by_name, kg->names);
    return 0;
}

static bool is_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool is_name(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c >= 0x80))
            return false;
    }
    return true;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_ignore(kl_keygen *kg, const char *list)
{
    if (list[strspn(list, " \t")] == '\0')
        return 0; /* "" ignores nothing */
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += (*p == ',');
    kg->ign_idx = calloc(cap, sizeof *kg->ign_idx);
    kg->ign_names = calloc(cap, sizeof *kg->ign_names);
    if (!kg->ign_idx || !kg->ign_names)
        return kl_seterr(KL_ENOMEM, "out of memory parsing an ignore list");
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        size_t n = (size_t)(b - a);
        if (n == 1 && *a == '*')
            kg->ign_star = true;
        else if (n == 2 && a[0] == '*' && a[1] == '*')
            kg->ign_dstar = true;
        else if (is_digits(a, n)) {
            if (n > 7 || strtoul(a, NULL, 10) > IGNORE_MAX_INDEX)
                return kl_seterr(KL_EINVAL, "ignore list '%s': index '%.*s' is too large", list,
                                 (int)n, a);
            kg->ign_idx[kg->nign_idx++] = (size_t)strtoul(a, NULL, 10);
        } else if (is_name(a, n)) {
            if (!(kg->ign_names[kg->nign_names] = strndup(a, n)))
                return kl_seterr(KL_ENOMEM, "out of memory parsing an ignore list");
            kg->nign_names++;
        } else {
            return kl_seterr(KL_EINVAL,
                             "ignore list '%s': bad item '%.*s' (expected a name, an index, "
                             "'*' or '**')",
                             list, (int)n, a);
        }
        if (!*e)
            break;
        p = e + 1;
    }
    qsort(kg->ign_idx, kg->nign_idx, sizeof *kg->ign_idx, cmp_size);
    qsort(kg->ign_names, kg->nign_names, sizeof *kg->ign_names, cmp_str);
    kg->any_ignore = kg->ign_star || kg->ign_dstar || kg->nign_idx || kg->nign_names;
    return 0;
}

/* The ignore lists are sorted once (parse_ignore), then searched. */
static bool index_ignored(const kl_keygen *kg, size_t i)
{
    return kg->nign_idx && bsearch(&i, kg->ign_idx, kg->nign_idx, sizeof i, cmp_size);
}

static bool name_ignored(const kl_keygen *kg, const char *name)
{
    return kg->nign_names &&
           bsearch(&name, kg->ign_names, kg->nign_names, sizeof name, cmp_str);
}

static int prepare_fast(kl_keygen *kg)
{
    const kl_keymap_opts *o = &kg->kmo;
    kg->direct = kg->has_sig && kg->nparams > 0 && kg->nparams <= STACK_SLOTS &&
                 kg->npositional == kg->nparams && !kg->any_ignore && kg->tol == KL_TOL_NONE;
    if (kg->direct) {
        if (!(kg->sorted_names = calloc(kg->nparams, sizeof *kg->sorted_names)))
            return kl_seterr(KL_ENOMEM, "out of memory creating a keygen");
        for (size_t k = 0; k < kg->nparams; k++)
            kg->sorted_names[k] = kg->names[kg->order[k]];
    }
    kg->fast = kg->has_sig && kg->nparams > 0 && kg->npositional == kg->nparams &&
               o->kind == KL_KEYMAP_RAW && o->flat && !o->typed && !o->sentinel &&
               !kl_keymap_outer(kg->km) && !kg->any_ignore && kg->tol == KL_TOL_NONE;
    if (!kg->fast)
        return 0;
    kl_enc e;
    kl_enc_init(&e, kg->arrhead, sizeof kg->arrhead, 0);
    kl_enc_array_head(&e, 2 * kg->nparams);
    kg->arrhead_len = e.len;
    size_t total = 0;
    for (size_t i = 0; i < kg->nparams; i++)
        total += strlen(kg->names[i]) + 9;
    kg->heads = malloc(total);
    kg->head_off = malloc((kg->nparams + 1) * sizeof *kg->head_off);
    if (!kg->heads || !kg->head_off)
        return kl_seterr(KL_ENOMEM, "out of memory creating a keygen");
    kl_enc_init(&e, kg->heads, total, 0);
    for (size_t k = 0; k < kg->nparams; k++) {
        const char *nm = kg->names[kg->order[k]];
        kg->head_off[k] = e.len;
        kl_enc_text(&e, nm, strlen(nm));
    }
    kg->head_off[kg->nparams] = e.len;
    /* Scalars encode in at most 9 bytes; 8 more for the padded name
     * stores, which may write past the end of the key. */
    kg->roomy = kg->arrhead_len + e.len + 9 * kg->nparams + 8;
    kg->short_names = true;
    for (size_t k = 0; k < kg->nparams; k++)
        if (kg->head_off[k + 1] - kg->head_off[k] > 8)
            kg->short_names = false;
    if (kg->short_names) {
        if (!(kg->fitems = calloc(kg->nparams, sizeof *kg->fitems)))
            return kl_seterr(KL_ENOMEM, "out of memory creating a keygen");
        for (size_t k = 0; k < kg->nparams; k++) {
            struct fast_item *fi = &kg->fitems[k];
            fi->len = (uint32_t)(kg->head_off[k + 1] - kg->head_off[k]);
            fi->param = (uint32_t)kg->order[k];
            memcpy(&fi->head, kg->heads + kg->head_off[k], fi->len);
        }
    }
    return 0;
}

int kl_keygen_new(kl_keygen **out, const kl_signature *sig, const kl_keymap *km,
                  const kl_keygen_opts *opts)
{
    kl_keygen_opts def = KL_KEYGEN_OPTS_INIT;
    if (!out || !km)
        return kl_seterr(KL_EINVAL, "kl_keygen_new: NULL argument");
    if (!opts)
        opts = &def;
    int vrc = kl__opts_version_check(opts->version, KL_KEYGEN_OPTS_VERSION, "keygen");
    if (vrc)
        return vrc;
    if (opts->rounding != KL_ROUND_SIMPLE && opts->rounding != KL_ROUND_SHALLOW &&
        opts->rounding != KL_ROUND_DEEP)
        return kl_seterr(KL_EINVAL, "keygen: unknown rounding mode %d", (int)opts->rounding);
    kl_keygen *kg = calloc(1, sizeof *kg);
    if (!kg)
        return kl_seterr(KL_ENOMEM, "out of memory creating a keygen");
    kg->km = km;
    kg->kmo = *kl_keymap_options(km);
    kg->tol = opts->tol;
    kg->rounding = opts->rounding;
    int rc = 0;
    if (sig && (rc = copy_signature(kg, sig)))
        goto fail;
    if (opts->ignore && (rc = parse_ignore(kg, opts->ignore)))
        goto fail;
    for (size_t i = 0; i < kg->nparams; i++)
        kg->param_ignored[i] =
            name_ignored(kg, kg->names[i]) || (i < kg->npositional && index_ignored(kg, i));
    if ((rc = prepare_fast(kg)))
        goto fail;
    *out = kg;
    return 0;
fail:
    kl_keygen_free(kg);
    return rc;
}

/* ---- binding ------------------------------------------------------------ */

enum { UNSET = 0, PASSED, DEFAULTED };

/* Work space for one call: slots for the parameters, the extra named
 * arguments, and the normalised call.  On the stack for small calls. */
typedef struct work {
    kl_value *val;       /* nparams */
    uint8_t *state;      /* nparams */
    size_t *extra;       /* indices into call->names of extra named args */
    size_t nextra;
    kl_value *varargs;   /* the varargs after masks and rounding */
    size_t nvarargs;
    const char **nnames; /* the normalised call */
    kl_value *nvalues;
    size_t nnamed;
    kl_value *owned;     /* rounded copies of containers, freed at the end */
    size_t nowned;
    void *heap;
    kl_value s_val[STACK_SLOTS], s_var[STACK_SLOTS], s_nval[STACK_SLOTS], s_own[STACK_SLOTS];
    uint8_t s_state[STACK_SLOTS];
    size_t s_extra[STACK_SLOTS];
    const char *s_nnames[STACK_SLOTS];
} work;

static int work_init(work *w, const kl_keygen *kg, const kl_call *c)
{
    size_t np = kg->nparams, nv = c->npos, nn = c->nnamed;
    size_t tot = np + nn; /* named values in the normalised call */
    w->heap = NULL;
    w->nextra = w->nvarargs = w->nnamed = w->nowned = 0;
    if (np <= STACK_SLOTS && nv <= STACK_SLOTS && nn <= STACK_SLOTS && tot <= STACK_SLOTS &&
        nv + tot <= STACK_SLOTS) {
        w->val = w->s_val;
        w->state = w->s_state;
        w->extra = w->s_extra;
        w->varargs = w->s_var;
        w->nnames = w->s_nnames;
        w->nvalues = w->s_nval;
        w->owned = w->s_own;
        memset(w->state, 0, np);
        return 0;
    }
    if (np > KL_KEY_MAX || nv > KL_KEY_MAX || nn > KL_KEY_MAX)
        return kl_seterr(KL_ETOOBIG, "call with too many arguments for a key");
    size_t own = nv + tot + 1;
    size_t bytes = (np + nv + tot + own) * sizeof(kl_value) + np + nn * sizeof(size_t) +
                   tot * sizeof(char *) + 64;
    char *h = calloc(1, bytes);
    if (!h)
        return kl_seterr(KL_ENOMEM, "out of memory normalising a call");
    w->heap = h;
    w->val = (kl_value *)h;
    w->varargs = w->val + np;
    w->nvalues = w->varargs + nv;
    w->owned = w->nvalues + tot;
    w->extra = (size_t *)(w->owned + own);
    w->nnames = (const char **)(w->extra + nn);
    w->state = (uint8_t *)(w->nnames + tot);
    return 0;
}

static void work_free(work *w)
{
    for (size_t i = 0; i < w->nowned; i++)
        kl_value_free(&w->owned[i]);
    free(w->heap);
}

static long find_param(const kl_keygen *kg, const char *name)
{
    size_t lo = 0, hi = kg->nparams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(kg->names[kg->order[mid]], name);
        if (c == 0)
            return (long)kg->order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Binds a call to the signature: fills w->val/state and w->extra, or
 * returns KL_EINVAL naming the argument at fault. */
static int bind(const kl_keygen *kg, const kl_call *c, work *w)
{
    if ((c->npos && !c->pos) || (c->nnamed && (!c->names || !c->named)))
        return kl_seterr(KL_EINVAL, "call: NULL argument arrays");
    size_t q = kg->npositional;
    if (kg->has_sig && c->npos > q && !kg->varargs)
        return kl_seterr(KL_EINVAL, "call: takes at most %zu positional argument%s (%zu given)",
                         q, q == 1 ? "" : "s", c->npos);
    size_t nb = c->npos < q ? c->npos : q;
    for (size_t i = 0; i < nb; i++) {
        w->val[i] = c->pos[i];
        w->state[i] = PASSED;
    }
    for (size_t j = 0; j < c->nnamed; j++) {
        const char *nm = c->names[j];
        if (!nm)
            return kl_seterr(KL_EINVAL, "call: named argument %zu has a NULL name", j);
        long p = find_param(kg, nm);
        if (p >= 0) {
            if (w->state[p] != UNSET)
                return kl_seterr(KL_EINVAL, "call: got multiple values for argument '%s'", nm);
            w->val[p] = c->named[j];
            w->state[p] = PASSED;
            continue;
        }
        if (kg->has_sig && !kg->varkw)
            return kl_seterr(KL_EINVAL, "call: got an unexpected keyword argument '%s'", nm);
        w->extra[w->nextra++] = j;
    }
    /* the extras in name order (as the key wants them); a repeat is then
     * next to its twin */
    if (w->nextra > 1)
        qsort_r(w->extra, w->nextra, sizeof *w->extra, by_name, (void *)c->names);
    for (size_t k = 1; k < w->nextra; k++)
        if (strcmp(c->names[w->extra[k - 1]], c->names[w->extra[k]]) == 0)
            return kl_seterr(KL_EINVAL, "call: got multiple values for argument '%s'",
                             c->names[w->extra[k]]);
    for (size_t i = 0; i < kg->nparams; i++) {
        if (w->state[i] != UNSET)
            continue;
        if (!kg->has_default[i])
            return kl_seterr(KL_EINVAL, "call: missing required argument '%s'", kg->names[i]);
        w->val[i] = kg->defaults[i];
        w->state[i] = DEFAULTED;
    }
    return 0;
}

int kl_keygen_validate(const kl_keygen *kg, const kl_call *call)
{
    if (!kg || !call)
        return kl_seterr(KL_EINVAL, "kl_keygen_validate: NULL argument");
    work w;
    int rc = work_init(&w, kg, call);
    if (rc)
        return rc;
    rc = bind(kg, call, &w);
    work_free(&w);
    return rc;
}

/* ---- rounding ------------------------------------------------------------- */

/* Which argument is being rounded, for messages: a name, or a position. */
typedef struct argref {
    const char *name;
    size_t pos;
} argref;

/* Python's round(x, tol): infinities and NaN come back unchanged (as
 * klepto's keys then hold them); a finite value whose rounding overflows
 * is Python's OverflowError, KL_ERANGE here. */
static int round_float(const kl_keygen *kg, double *f, argref a)
{
    char what[64];
    if (KL_UNLIKELY(!isfinite(*f)))
        return 0;
    double r = kl_round(*f, kg->tol);
    if (KL_LIKELY(isfinite(r))) {
        *f = r;
        return 0;
    }
    if (a.name)
        snprintf(what, sizeof what, "argument '%s'", a.name);
    else
        snprintf(what, sizeof what, "positional argument %zu", a.pos);
    return kl_seterr(KL_ERANGE, "%s: %.17g rounded to %d places overflows", what, *f, kg->tol);
}

/* Would rounding at this depth change anything in v (or fail)?  Map
 * values count only for deep rounding (shallow is about arrays). */
static bool has_float(const kl_value *v, int levels, bool maps)
{
    switch ((kl_type)v->type) {
    case KL_FLOAT: return true;
    case KL_NDARRAY:
        return v->u.nd.dtype == KL_DT_FLOAT32 || v->u.nd.dtype == KL_DT_FLOAT64;
    case KL_ARRAY:
        if (levels > 0)
            for (size_t i = 0; i < v->u.a.len; i++)
                if (has_float(&v->u.a.items[i], levels - 1, maps))
                    return true;
        return false;
    case KL_MAP:
        if (levels > 0 && maps)
            for (size_t i = 0; i < v->u.m.len; i++)
                if (has_float(&v->u.m.items[2 * i + 1], levels - 1, maps))
                    return true;
        return false;
    default: return false;
    }
}

/* Rounds the floats of an owned value in place, `levels` containers deep
 * (arrays, and map values when deep; map keys are never rounded, as in
 * klepto). */
static int round_in_place(const kl_keygen *kg, kl_value *v, int levels, argref what)
{
    switch ((kl_type)v->type) {
    case KL_FLOAT: return round_float(kg, &v->u.f, what);
    case KL_NDARRAY: {
        size_t n = kl_value_ndarray_count(v);
        if (v->u.nd.dtype == KL_DT_FLOAT64) {
            for (size_t i = 0; i < n; i++) {
                double x;
                memcpy(&x, (char *)v->u.nd.data + 8 * i, 8);
                int rc = round_float(kg, &x, what);
                if (rc)
                    return rc;
                memcpy((char *)v->u.nd.data + 8 * i, &x, 8);
            }
        } else if (v->u.nd.dtype == KL_DT_FLOAT32) {
            for (size_t i = 0; i < n; i++) {
                float x;
                memcpy(&x, (char *)v->u.nd.data + 4 * i, 4);
                double d = x;
                int rc = round_float(kg, &d, what);
                if (rc)
                    return rc;
                x = (float)d;
                memcpy((char *)v->u.nd.data + 4 * i, &x, 4);
            }
        }
        return 0;
    }
    case KL_ARRAY:
        if (levels > 0)
            for (size_t i = 0; i < v->u.a.len; i++) {
                int rc = round_in_place(kg, &v->u.a.items[i], levels - 1, what);
                if (rc)
                    return rc;
            }
        return 0;
    case KL_MAP:
        if (levels > 0 && kg->rounding == KL_ROUND_DEEP)
            for (size_t i = 0; i < v->u.m.len; i++) {
                int rc = round_in_place(kg, &v->u.m.items[2 * i + 1], levels - 1, what);
                if (rc)
                    return rc;
            }
        return 0;
    default: return 0;
    }
}

/* True when v nests no deeper than `room` more levels (walks at most that
 * deep, so a pathological value cannot exhaust the stack here). */
static bool shallow_enough(const kl_value *v, int room)
{
    if (v->type == KL_ARRAY) {
        if (room <= 0)
            return false;
        for (size_t i = 0; i < v->u.a.len; i++)
            if (!shallow_enough(&v->u.a.items[i], room - 1))
                return false;
    } else if (v->type == KL_MAP) {
        if (room <= 0)
            return false;
        for (size_t i = 0; i < 2 * v->u.m.len; i++)
            if (!shallow_enough(&v->u.m.items[i], room - 1))
                return false;
    }
    return true;
}

/* Rounds one argument as passed: floats are rounded in the slot; values
 * with floats inside are deep-copied first (the caller's stay intact). */
static int round_arg(const kl_keygen *kg, work *w, kl_value *slot, argref what)
{
    int levels = kg->rounding == KL_ROUND_SIMPLE ? 0
               : kg->rounding == KL_ROUND_SHALLOW ? 1
                                                  : KL_DECODE_MAX_DEPTH + 1;
    if (slot->type == KL_FLOAT)
        return round_float(kg, &slot->u.f, what);
    if (slot->type == KL_NDARRAY && levels == 0)
        return 0;
    if (!has_float(slot, levels, kg->rounding == KL_ROUND_DEEP))
        return 0;
    if (!shallow_enough(slot, KL_DECODE_MAX_DEPTH)) {
        if (what.name)
            return kl_seterr(KL_ETOOBIG, "argument '%s': nested deeper than %d levels", what.name,
                             KL_DECODE_MAX_DEPTH);
        return kl_seterr(KL_ETOOBIG, "positional argument %zu: nested deeper than %d levels",
                         what.pos, KL_DECODE_MAX_DEPTH);
    }
    kl_value *copy = &w->owned[w->nowned];
    int rc = kl_value_copy(copy, slot);
    if (rc)
        return rc;
    w->nowned++;
    if ((rc = round_in_place(kg, copy, levels, what)))
        return rc;
    *slot = *copy;
    slot->flags |= KL_VALUE_BORROWED; /* the owned copy is freed from w->owned */
    return 0;
}

/* ---- the normalised call --------------------------------------------------- */

static int normalise(const kl_keygen *kg, const kl_call *c, work *w, kl_ncall *nc)
{
    int rc = bind(kg, c, w);
    if (rc)
        return rc;
    bool rounding = kg->tol != KL_TOL_NONE;

    /* parameters: masks, then rounding of what was passed */
    for (size_t i = 0; i < kg->nparams; i++) {
        if (kg->param_ignored[i]) {
            w->val[i] = kl_value_ignored();
            continue;
        }
        if (rounding && w->state[i] == PASSED) {
            if ((rc = round_arg(kg, w, &w->val[i], (argref){kg->names[i], i})))
                return rc;
        }
    }
    /* varargs */
    size_t q = kg->npositional;
    if (!kg->ign_star)
        for (size_t i = q; i < c->npos; i++) {
            kl_value *v = &w->varargs[w->nvarargs++];
            if (kg->nign_idx && index_ignored(kg, i)) {
                *v = kl_value_ignored();
                continue;
            }
            *v = c->pos[i];
            if (rounding) {
                if ((rc = round_arg(kg, w, v, (argref){NULL, i})))
                    return rc;
            }
        }
    /* named: parameters (already in name order) merged with the extras */
    size_t ne = kg->ign_dstar ? 0 : w->nextra; /* extras are sorted by bind */
    size_t a = 0, b = 0;
    while (a < kg->nparams || b < ne) {
        size_t n = w->nnamed++;
        if (b >= ne ||
            (a < kg->nparams && strcmp(kg->names[kg->order[a]], c->names[w->extra[b]]) < 0)) {
            size_t p = kg->order[a++];
            w->nnames[n] = kg->names[p];
            w->nvalues[n] = w->val[p];
            continue;
        }
        size_t x = w->extra[b++];
        w->nnames[n] = c->names[x];
        if (kg->nign_names && name_ignored(kg, c->names[x])) {
            w->nvalues[n] = kl_value_ignored();
            continue;
        }
        w->nvalues[n] = c->named[x];
        if (rounding) {
            if ((rc = round_arg(kg, w, &w->nvalues[n], (argref){c->names[x], 0})))
                return rc;
        }
    }
    nc->varargs = w->varargs;
    nc->nvarargs = w->nvarargs;
    nc->names = w->nnames;
    nc->values = w->nvalues;
    nc->nnamed = w->nnamed;
    return 0;
}

/* ---- keys ---------------------------------------------------------------- */

/* A double the canonical encoder writes as a full binary64: not NaN or
 * infinite, not an integer (untyped keys encode those as ints), not exact
 * in binary32.  Decided on the bits (cheaper than round-trip conversions);
 * when unsure it says no, and kl_enc_float decides. */
static inline bool plain_f64(uint64_t bits)
{
    unsigned exp = (unsigned)(bits >> 52) & 0x7ff;
    uint64_t mant = bits & ((UINT64_C(1) << 52) - 1);
    if (exp == 0x7ff || (mant & 0x1fffffff) == 0)
        return false; /* NaN, infinity, or maybe exact in binary32 */
    int e = (int)exp - 1023;
    if (e < 0)
        return true; /* 0 < |f| < 1: not an integer */
    if (e >= 52)
        return e >= 63; /* an integer; beyond int64 it stays a float */
    return (mant & ((UINT64_C(1) << (52 - e)) - 1)) != 0;
}

/* The hot path with a roomy buffer and short names: no bounds checks and
 * no calls for names and plain doubles.  Returns 1 when a value is not a
 * small scalar (the checked path then redoes the key). */
static int fast_key_roomy(const kl_keygen *kg, const kl_call *c, uint8_t *buf, size_t cap,
                          size_t *len)
{
    uint8_t *p = buf;
    memcpy(p, kg->arrhead, sizeof kg->arrhead); /* fixed size: inlined; roomy has slack */
    p += kg->arrhead_len;
    for (size_t k = 0; k < kg->nparams; k++) {
        const struct fast_item *fi = &kg->fitems[k];
        memcpy(p, &fi->head, 8);
        p += fi->len;
        const kl_value *v = &c->pos[fi->param];
        uint64_t b;
        memcpy(&b, &v->u.f, 8);
        if (KL_LIKELY(v->type == KL_FLOAT && plain_f64(b))) {
            p = kl__cbor_f64_put(p, b);
            continue;
        }
        kl_enc e;
        kl_enc_init(&e, buf, cap, KL_ENC_NUMERIC_EQ);
        e.len = (size_t)(p - buf);
        switch ((kl_type)v->type) {
        case KL_FLOAT: kl_enc_float(&e, v->u.f); break;
        case KL_INT: kl_enc_int(&e, v->u.i); break;
        case KL_BOOL: kl_enc_bool(&e, v->u.b); break;
        case KL_NULL: kl_enc_null(&e); break;
        default: return 1;
        }
        p = buf + e.len;
    }
    *len = (size_t)(p - buf);
    return 0;
}

/* The hot path (see prepare_fast).  Returns 1 when the call does not
 * qualify, so the general path takes it. */
static int fast_key(const kl_keygen *kg, const kl_call *c, void *buf, size_t cap, size_t *len)
{
    size_t n = kg->nparams;
    if (c->npos != n || c->nnamed != 0 || !c->pos)
        return 1;
    if (kg->short_names && cap >= kg->roomy && fast_key_roomy(kg, c, buf, cap, len) == 0)
        return 0;
    kl_enc e;
    kl_enc_init(&e, buf, cap, KL_ENC_NUMERIC_EQ);
    if (KL_LIKELY(cap >= kg->arrhead_len)) {
        memcpy(buf, kg->arrhead, kg->arrhead_len);
    }
    e.len = kg->arrhead_len;
    for (size_t k = 0; k < n; k++) {
        size_t hl = kg->head_off[k + 1] - kg->head_off[k];
        if (KL_LIKELY(e.len + hl <= cap))
            memcpy(e.buf + e.len, kg->heads + kg->head_off[k], hl);
        e.len += hl;
        const kl_value *v = &c->pos[kg->order[k]];
        switch ((kl_type)v->type) {
        case KL_FLOAT: kl_enc_float(&e, v->u.f); break;
        case KL_INT: kl_enc_int(&e, v->u.i); break;
        case KL_BOOL: kl_enc_bool(&e, v->u.b); break;
        case KL_NULL: kl_enc_null(&e); break;
        case KL_TEXT:
            if (v->u.s.len && !v->u.s.ptr)
                return 1;
            kl_enc_text(&e, v->u.s.ptr, v->u.s.len);
            break;
        case KL_BYTES:
            if (v->u.s.len && !v->u.s.ptr)
                return 1;
            kl_enc_bytes(&e, v->u.s.ptr, v->u.s.len);
            break;
        default: return 1;
        }
    }
    if (KL_UNLIKELY(e.len > KL_KEY_MAX))
        return kl_seterr(KL_ETOOBIG, "key of %zu bytes exceeds the limit of %u bytes", e.len,
                         KL_KEY_MAX);
    *len = e.len;
    return 0;
}

/* The general path, kept out of line: its work area is a large stack frame
 * that the fast path should not pay for. */
static __attribute__((noinline)) int slow_key(const kl_keygen *kg, const kl_call *call,
                                              void *buf, size_t cap, size_t *len)
{
    if (kg->direct && call->npos == kg->nparams && call->nnamed == 0 && call->pos) {
        kl_value vals[STACK_SLOTS];
        for (size_t k = 0; k < kg->nparams; k++)
            vals[k] = call->pos[kg->order[k]];
        kl_ncall nc = {NULL, 0, kg->sorted_names, vals, kg->nparams};
        return kl_keymap_key_into(kg->km, &nc, buf, cap, len);
    }
    work w;
    kl_ncall nc;
    int rc = work_init(&w, kg, call);
    if (rc)
        return rc;
    if (!(rc = normalise(kg, call, &w, &nc)))
        rc = kl_keymap_key_into(kg->km, &nc, buf, cap, len);
    work_free(&w);
    return rc;
}

int kl_keygen_key_into(const kl_keygen *kg, const kl_call *call, void *buf, size_t cap,
                       size_t *len)
{
    if (KL_UNLIKELY(!kg || !call || !len || (cap && !buf)))
        return kl_seterr(KL_EINVAL, "kl_keygen_key_into: NULL argument");
    if (kg->fast) {
        int rc = fast_key(kg, call, buf, cap, len);
        if (rc <= 0)
            return rc;
    }
    return slow_key(kg, call, buf, cap, len);
}

static int keygen_into(const void *kg, const void *call, void *buf, size_t cap, size_t *need)
{
    return kl_keygen_key_into(kg, call, buf, cap, need);
}

int kl_keygen_key(const kl_keygen *kg, const kl_call *call, kl_buf *out)
{
    if (!out)
        return kl_seterr(KL_EINVAL, "kl_keygen_key: NULL out");
    return kl__buf_fill(out, keygen_into, kg, call);
}
