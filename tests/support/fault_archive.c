/* SPDX-License-Identifier: BSD-3-Clause */
/* The fault: archive (see fault_archive.h): a wrapper backend that counts
 * the calls of each operation and fails the chosen one. */
#include "fault_archive.h"

#include "klepto/archive.h"
#include "klepto/sys/archive_backend.h"
#include "klepto/sys/errors.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OP_OPEN, OP_CLOSE, OP_GET, OP_PUT, OP_DEL, OP_CONTAINS, OP_COUNT, OP_STAT, OP_CLEAR,
    OP_SYNC, OP_DROP, OP_PUT_MANY, OP_GET_MANY, OP_DEL_MANY, OP_DESCRIBE, OP_ITER_NEW,
    OP_ITER_NEXT, OP_GET_VIEW, OP_VERIFY, OP_COMPACT, NOPS
};
static const char *const op_names[NOPS] = {
    "open", "close", "get", "put", "del", "contains", "count", "stat", "clear", "sync",
    "drop", "put_many", "get_many", "del_many", "describe", "iter_new", "iter_next",
    "get_view", "verify", "compact",
};

static const struct {
    const char *name;
    int code;
} errs[] = {
    {"ENOTFOUND", KL_ENOTFOUND}, {"EINVAL", KL_EINVAL},   {"ECORRUPT", KL_ECORRUPT},
    {"EIO", KL_EIO},             {"EBACKEND", KL_EBACKEND}, {"ENOMEM", KL_ENOMEM},
    {"EVERSION", KL_EVERSION},   {"ETOOBIG", KL_ETOOBIG}, {"ETYPE", KL_ETYPE},
    {"EPERM", KL_EPERM},         {"ENOSPC", KL_ENOSPC},   {"EUNSUPPORTED", KL_EUNSUPPORTED},
    {"EBUSY", KL_EBUSY},         {"ERANGE", KL_ERANGE},
};

/* Which call fails, and how. */
typedef struct fault_spec {
    int op;
    uint64_t nth;
    bool onward; /* "+": the nth and every later call */
    int err;
    const char *err_name;
} fault_spec;

typedef struct fstate {
    kl_archive *inner;
    fault_spec f;
    uint64_t calls[NOPS];
} fstate;

/* "OP=N[+][,ERR]" into *f; KL_EINVAL naming the URL otherwise. */
static int parse_spec(const kl_url *u, fault_spec *f)
{
    const char *s = u->rest, *eq = strchr(s, '=');
    f->op = -1;
    for (int i = 0; eq && i < NOPS; i++)
        if (strlen(op_names[i]) == (size_t)(eq - s) && !strncmp(s, op_names[i], (size_t)(eq - s)))
            f->op = i;
    if (f->op < 0)
        return kl_seterr(KL_EINVAL, "%s: expected fault:OP=N[+][,ERR] with a known OP",
                         kl_url_shown(u));
    char *end = NULL;
    unsigned long long n = strtoull(eq + 1, &end, 10);
    if (end == eq + 1 || n == 0)
        return kl_seterr(KL_EINVAL, "%s: expected a call number from 1 after '='",
                         kl_url_shown(u));
    f->nth = n;
    f->onward = *end == '+';
    end += f->onward;
    f->err = KL_EIO;
    f->err_name = "EIO";
    if (*end == ',') {
        f->err_name = NULL;
        for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
            if (!strcmp(end + 1, errs[i].name)) {
                f->err = errs[i].code;
                f->err_name = errs[i].name;
            }
        if (!f->err_name)
            return kl_seterr(KL_EINVAL, "%s: unknown error name '%s'", kl_url_shown(u), end + 1);
    } else if (*end) {
        return kl_seterr(KL_EINVAL, "%s: unexpected '%s' after the call number",
                         kl_url_shown(u), end);
    }
    return 0;
}

/* Counts one call of op: true when it is the one to fail. */
static bool strikes(fstate *s, int op)
{
    uint64_t n = ++s->calls[op];
    return s->f.op == op && (n == s->f.nth || (s->f.onward && n > s->f.nth));
}

static int injected(fstate *s, int op)
{
    return kl_seterr(s->f.err, "fault: injected KL_%s at %s call %llu of %s", s->f.err_name,
                     op_names[op], (unsigned long long)s->calls[op],
                     s->inner ? kl_archive_url(s->inner) : "(dropped archive)");
}

#define FAIL_IF(s, op)                                                                   \
    do {                                                                                 \
        if (strikes((s), (op)))                                                          \
            return injected((s), (op));                                                  \
    } while (0)

static int f_open(void **state, const kl_url *u, const kl_archive_opts *opts)
{
    fault_spec f;
    int rc = parse_spec(u, &f);
    if (rc)
        return rc;
    const char *inner_url = kl_url_param_get(u, "url");
    if (!inner_url || !*inner_url)
        return kl_seterr(KL_EINVAL, "%s: the wrapped archive is missing (?url=...)",
                         kl_url_shown(u));
    if (f.op == OP_OPEN && f.nth != 1)
        return kl_seterr(KL_EINVAL, "%s: a handle is opened once: only open=1 can fail",
                         kl_url_shown(u));
    if (f.op == OP_OPEN)
        return kl_seterr(f.err, "fault: injected KL_%s at open call 1 of %s", f.err_name,
                         kl_url_shown(u));
    fstate *s = calloc(1, sizeof *s);
    if (!s)
        return kl_seterr(KL_ENOMEM, "fault: out of memory");
    s->f = f;
    s->calls[OP_OPEN] = 1;
    rc = kl_archive_open(&s->inner, inner_url, opts);
    if (rc) {
        free(s);
        return kl_seterr_prefix(rc, "fault");
    }
    *state = s;
    return 0;
}

static int f_close(void *state)
{
    fstate *s = state;
    bool fail = strikes(s, OP_CLOSE);
    int rc = fail ? injected(s, OP_CLOSE) : 0;
    int rc2 = kl_archive_close(s->inner);
    free(s);
    return rc ? rc : rc2;
}

static int f_get(void *state, const void *k, size_t kl, kl_buf *v)
{
    FAIL_IF(state, OP_GET);
    return kl_archive_get(((fstate *)state)->inner, k, kl, v);
}

static int f_put(void *state, const void *k, size_t kl, const void *v, size_t vl)
{
    FAIL_IF(state, OP_PUT);
    return kl_archive_put(((fstate *)state)->inner, k, kl, v, vl);
}

static int f_del(void *state, const void *k, size_t kl)
{
    FAIL_IF(state, OP_DEL);
    return kl_archive_del(((fstate *)state)->inner, k, kl);
}

static int f_contains(void *state, const void *k, size_t kl)
{
    FAIL_IF(state, OP_CONTAINS);
    return kl_archive_contains(((fstate *)state)->inner, k, kl);
}

static int f_count(void *state, size_t *out)
{
    FAIL_IF(state, OP_COUNT);
    return kl_archive_count(((fstate *)state)->inner, out);
}

static int f_stat(void *state, const void *k, size_t kl, kl_entry_info *out)
{
    FAIL_IF(state, OP_STAT);
    return kl_archive_stat(((fstate *)state)->inner, k, kl, out);
}

static int f_clear(void *state)
{
    FAIL_IF(state, OP_CLEAR);
    return kl_archive_clear(((fstate *)state)->inner);
}

static int f_sync(void *state)
{
    FAIL_IF(state, OP_SYNC);
    return kl_archive_sync(((fstate *)state)->inner);
}

static int f_drop(void *state)
{
    fstate *s = state;
    FAIL_IF(s, OP_DROP);
    int rc = kl_archive_drop(s->inner); /* releases the inner handle */
    s->inner = NULL;
    return rc;
}

static int f_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                      const void *const *vals, const size_t *vlens)
{
    FAIL_IF(state, OP_PUT_MANY);
    return kl_archive_put_many(((fstate *)state)->inner, n, keys, klens, vals, vlens);
}

static int f_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                      kl_buf *vals, bool *found)
{
    FAIL_IF(state, OP_GET_MANY);
    return kl_archive_get_many(((fstate *)state)->inner, n, keys, klens, vals, found);
}

static int f_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                      size_t *deleted)
{
    FAIL_IF(state, OP_DEL_MANY);
    return kl_archive_del_many(((fstate *)state)->inner, n, keys, klens, deleted);
}

static int f_describe(void *state, kl_buf *out)
{
    FAIL_IF(state, OP_DESCRIBE);
    return kl_archive_describe(((fstate *)state)->inner, out);
}

/* A cursor keeps its state, so iter_next can count and fail too. */
typedef struct fcur {
    fstate *s;
    kl_archive_iter *it;
} fcur;

static int f_iter_new(void *state, void **cursor)
{
    fstate *s = state;
    FAIL_IF(s, OP_ITER_NEW);
    fcur *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "fault: out of memory");
    c->s = s;
    int rc = kl_archive_iter_new(s->inner, &c->it);
    if (rc) {
        free(c);
        return rc;
    }
    *cursor = c;
    return 0;
}

static int f_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    fcur *c = cursor;
    FAIL_IF(c->s, OP_ITER_NEXT);
    return kl_archive_iter_next(c->it, key, val);
}

static void f_iter_free(void *cursor)
{
    fcur *c = cursor;
    kl_archive_iter_free(c->it);
    free(c);
}

static int f_get_view(void *state, const void *k, size_t kl, kl_view **out)
{
    FAIL_IF(state, OP_GET_VIEW);
    return kl_archive_get_view(((fstate *)state)->inner, k, kl, out);
}

static int f_verify(void *state, bool repair, kl_buf *report, size_t *problems)
{
    FAIL_IF(state, OP_VERIFY);
    return kl_archive_verify(((fstate *)state)->inner, repair, report, problems);
}

static int f_compact(void *state)
{
    FAIL_IF(state, OP_COMPACT);
    return kl_archive_compact(((fstate *)state)->inner);
}

static const kl_archive_backend fault_backend = {
    .version = KL_BACKEND_VERSION,
    .scheme = "fault",
    /* the inner archive decodes in its verify (kl_archive_verify) */
    .flags = KL_BACKEND_DELEGATES_VERIFY,
    .open = f_open,
    .close = f_close,
    .get = f_get,
    .put = f_put,
    .del = f_del,
    .contains = f_contains,
    .count = f_count,
    .stat = f_stat,
    .clear = f_clear,
    .sync = f_sync,
    .drop = f_drop,
    .put_many = f_put_many,
    .get_many = f_get_many,
    .describe = f_describe,
    .iter_new = f_iter_new,
    .iter_next = f_iter_next,
    .iter_free = f_iter_free,
    .get_view = f_get_view,
    .verify = f_verify,
    .compact = f_compact,
    .del_many = f_del_many,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int reg_rc;
static void do_register(void) { reg_rc = kl_archive_register(&fault_backend); }

int kt_fault_register(void)
{
    pthread_once(&once, do_register);
    return reg_rc;
}

char *kt_fault_url(const char *spec, const char *inner)
{
    if (kt_fault_register())
        return NULL;
    size_t n = strlen(inner);
    char *out = malloc(strlen(spec) + 3 * n + 16), *o = out;
    if (!out)
        return NULL;
    o += sprintf(o, "fault:%s?url=", spec);
    for (const unsigned char *p = (const unsigned char *)inner; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}
