/* SPDX-License-Identifier: BSD-3-Clause */
/* Replaying Python klepto's test scripts (klepto_compat.h). */
#define _GNU_SOURCE
#include "klepto_compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void parse_run(char *line, kt_trace_run *r)
{
    char *save = NULL, *tok = strtok_r(line, " \n", &save);
    assert_non_null(tok);
    snprintf(r->label, sizeof r->label, "%s", tok);
    tok = strtok_r(NULL, " \n", &save);
    assert_non_null(tok);
    r->half = strtoul(tok, NULL, 10);
    size_t cap = 64, n = 0;
    r->picks = malloc(cap * sizeof *r->picks);
    assert_non_null(r->picks);
    while ((tok = strtok_r(NULL, " \n", &save))) {
        if (n == cap) {
            r->picks = realloc(r->picks, (cap *= 2) * sizeof *r->picks);
            assert_non_null(r->picks);
        }
        r->picks[n] = atoi(tok);
        assert_true(r->picks[n] >= 0 && (size_t)r->picks[n] < 2 * r->half);
        n++;
    }
    assert_int_equal(n % 2, 0);
    r->ncalls = n / 2;
}

size_t kt_trace_load(const char *script, kt_trace_run **runs)
{
    char name[256];
    snprintf(name, sizeof name, "klepto/%s.trace", script);
    FILE *f = fopen(kt_data(name), "r");
    if (!f)
        fail_msg("cannot read %s", kt_data(name));
    kt_trace_run *out = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t linecap = 0;
    while (getline(&line, &linecap, f) > 0) {
        if (line[0] == '#') {
            assert_true(n > 0);
            kt_trace_run *r = &out[n - 1];
            long long v[5];
            assert_int_equal(
                sscanf(line, "# info %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4]),
                5);
            r->hit = v[0], r->miss = v[1], r->load = v[2], r->maxsize = v[3], r->size = v[4];
            continue;
        }
        out = realloc(out, (n + 1) * sizeof *out);
        assert_non_null(out);
        memset(&out[n], 0, sizeof out[n]);
        parse_run(line, &out[n++]);
    }
    free(line);
    fclose(f);
    assert_true(n > 0);
    *runs = out;
    return n;
}

void kt_trace_free(kt_trace_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(runs[i].picks);
    free(runs);
}

kl_value kt_trace_value(const kt_trace_run *run, int pick)
{
    return (size_t)pick < run->half ? kl_value_int(pick)
                                    : kl_value_float((double)(pick - (int)run->half));
}

int kt_f3xy(void *userdata, const kl_call *call, kl_value *out)
{
    if (userdata)
        ++*(int *)userdata;
    const kl_value *x = &call->pos[0], *y = &call->pos[1];
    if (x->type == KL_INT && y->type == KL_INT)
        *out = kl_value_int(3 * x->u.i + y->u.i);
    else
        *out = kl_value_float(3 * (x->type == KL_INT ? (double)x->u.i : x->u.f) +
                              (y->type == KL_INT ? (double)y->u.i : y->u.f));
    return 0;
}

void kt_trace_replay(kl_memo *m, const kt_trace_run *run)
{
    for (size_t i = 0; i < run->ncalls; i++) {
        kl_value args[2] = {kt_trace_value(run, run->picks[2 * i]),
                            kt_trace_value(run, run->picks[2 * i + 1])};
        kl_call c = {args, 2, NULL, NULL, 0};
        kl_value r;
        KT_OK(kl_memo_call(m, &c, &r));
        double x = args[0].type == KL_INT ? (double)args[0].u.i : args[0].u.f;
        double y = args[1].type == KL_INT ? (double)args[1].u.i : args[1].u.f;
        double got = r.type == KL_INT ? (double)r.u.i : r.u.f;
        assert_true(r.type == KL_INT || r.type == KL_FLOAT);
        assert_true(got == 3 * x + y);
        kl_value_free(&r);
    }
}

void kt_trace_keymap(const kt_trace_run *run, kl_keymap_opts *out)
{
    kl_keymap_opts def = KL_KEYMAP_OPTS_INIT;
    *out = def;
    const char *km = strchr(run->label, '/');
    assert_non_null(km);
    km++;
    if (!strcmp(km, "None")) { /* klepto.safe: stringmap(flat=False) */
        out->kind = KL_KEYMAP_STRING;
        out->flat = false;
        return;
    }
    static const struct {
        const char *name;
        kl_keymap_kind kind;
    } kinds[] = {{"keymap(", KL_KEYMAP_RAW},
                 {"hashmap(", KL_KEYMAP_HASH},
                 {"stringmap(", KL_KEYMAP_STRING},
                 {"picklemap(", KL_KEYMAP_PICKLE}};
    size_t i = 0;
    while (i < 4 && strncmp(km, kinds[i].name, strlen(kinds[i].name)))
        i++;
    if (i == 4)
        fail_msg("unknown keymap in label %s", run->label);
    out->kind = kinds[i].kind;
    out->typed = strstr(km, "typed=True") != NULL;
    out->flat = strstr(km, "flat=True") != NULL;
}

/* How many distinct keys the run's calls make under m. */
static size_t distinct_keys(kl_memo *m, const kt_trace_run *run)
{
    kl_buf *keys = calloc(run->ncalls, sizeof *keys);
    assert_non_null(keys);
    size_t n = 0;
    for (size_t i = 0; i < run->ncalls; i++) {
        kl_value args[2] = {kt_trace_value(run, run->picks[2 * i]),
                            kt_trace_value(run, run->picks[2 * i + 1])};
        kl_call c = {args, 2, NULL, NULL, 0};
        kl_buf k = KL_BUF_INIT;
        KT_OK(kl_memo_key(m, &c, &k));
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = keys[j].len == k.len && !memcmp(keys[j].data, k.data, k.len);
        if (seen)
            kl_buf_free(&k);
        else
            keys[n++] = k;
    }
    for (size_t j = 0; j < n; j++)
        kl_buf_free(&keys[j]);
    free(keys);
    return n;
}

void kt_trace_combination(const kt_trace_run *run, const char *url, const char *storage,
                          kl_memo_info *info)
{
    kl_memo_opts o = KL_MEMO_OPTS_INIT;
    o.signature = "x, y";
    o.cache.maxsize = 50;
    o.safe = true; /* klepto.safe */
    o.archive = url;
    kt_trace_keymap(run, &o.keymap);
    kl_memo *f;
    KT_OK(kl_memo_new(&f, "f", kt_f3xy, NULL, &o));
    kt_trace_replay(f, run);
    KT_OK(kl_memo_dump(f));
    kl_memo_info_get(f, info);
    size_t distinct = distinct_keys(f, run);
    KT_OK(kl_memo_free(f));

    if (info->hit + info->miss + info->load != run->ncalls)
        fail_msg("%s over %s: hit %llu + miss %llu + load %llu != %zu calls", run->label, url,
                 (unsigned long long)info->hit, (unsigned long long)info->miss,
                 (unsigned long long)info->load, run->ncalls);
    assert_int_equal(info->errors, 0);
    assert_true(info->load <= info->evictions);
    if (!storage) {
        assert_true(info->miss >= distinct);
        assert_int_equal(info->load, 0);
        return;
    }
    assert_int_equal(info->miss, distinct);
    kl_archive *ar;
    KT_OK(kl_archive_open(&ar, storage, NULL));
    size_t stored = 0;
    KT_OK(kl_archive_count(ar, &stored));
    assert_int_equal(stored, distinct);
    KT_OK(kl_archive_close(ar));
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *kt_archive_entries(kl_archive *ar, const char *open, const char *sep, const char *close)
{
    char **lines = NULL;
    size_t n = 0, cap = 0;
    kl_archive_iter *it;
    KT_OK(kl_archive_iter_new(ar, &it));
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT;
    int rc;
    while ((rc = kl_archive_iter_next(it, &k, &v)) == 1) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            lines = realloc(lines, cap * sizeof *lines);
            assert_non_null(lines);
        }
        kl_value kv, vv;
        KT_OK(kl_decode(k.data, k.len, &kv));
        KT_OK(kl_decode(v.data, v.len, &vv));
        kl_buf line = KL_BUF_INIT;
        KT_OK(kl_repr(&line, &kv));
        KT_OK(kl_buf_append_str(&line, ": "));
        KT_OK(kl_repr(&line, &vv));
        lines[n++] = strdup(kl_buf_cstr(&line));
        kl_buf_free(&line);
        kl_value_free(&kv);
        kl_value_free(&vv);
    }
    assert_int_equal(rc, 0);
    kl_archive_iter_free(it);
    kl_buf_free(&k);
    kl_buf_free(&v);
    if (n)
        qsort(lines, n, sizeof lines[0], cmp_text);
    kl_buf all = KL_BUF_INIT;
    KT_OK(kl_buf_append_str(&all, open));
    for (size_t i = 0; i < n; i++) {
        KT_OK(kl_buf_printf(&all, "%s%s", i ? sep : "", lines[i]));
        free(lines[i]);
    }
    free(lines);
    KT_OK(kl_buf_append_str(&all, close));
    char *s = strdup(kl_buf_cstr(&all));
    kl_buf_free(&all);
    return s;
}
