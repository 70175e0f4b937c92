/* SPDX-License-Identifier: BSD-3-Clause */
/* What a KL_MEMOIZE function of arrays and structs leaves in an archive
 * reads well from outside: `klepto ls` renders an array key as
 * array([...], dtype=float64) and an object as CBORTag(27, [...]) (a
 * literal `klepto get` takes back), and
 * Python's cbor2 decodes the same keys and values (the object as
 * CBORTag(27, ['params', 1, [...]])).  The Python part skips, saying so,
 * when no Python with cbor2 is installed. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto.h"
#include "testutil.h"

typedef struct params {
    double dt;
    int32_t steps;
} params;

static int params_encode(kl_enc *e, const void *obj)
{
    const params *p = obj;
    kl_enc_array_head(e, 2);
    kl_enc_float(e, p->dt);
    kl_enc_int(e, p->steps);
    return 0;
}
static int params_decode(const kl_value *v, void *obj)
{
    params *p = obj;
    if (v->type != KL_ARRAY || v->u.a.len != 2 || v->u.a.items[0].type != KL_FLOAT ||
        v->u.a.items[1].type != KL_INT)
        return KL_ETYPE;
    p->dt = v->u.a.items[0].u.f;
    p->steps = (int32_t)v->u.a.items[1].u.i;
    return 0;
}
static const kl_usertype params_type =
    KL_USERTYPE_INIT("params", 1, params, params_encode, params_decode);

KL_MEMOIZE(double, norm, KL_ARR(double, x, n))
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return s;
}

KL_MEMOIZE(int, step, KL_OBJ(params_type, params, p), KL_OUT_ARR(float, out, m))
{
    for (size_t i = 0; i < m; i++)
        out[i] = (float)(p->dt * (double)i);
    return 0;
}

static const char *python_with_cbor2(void)
{
    static const char *const candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import cbor2, sqlite3' >/dev/null 2>&1", candidates[i]);
        if (kt_run(cmd, NULL) == 0)
            return candidates[i];
    }
    return NULL;
}

static const char script[] =
    "import sqlite3, sys, cbor2\n"
    "db = sqlite3.connect(sys.argv[1])\n"
    "for table in ('norm', 'step'):\n"
    "    for k, v in db.execute('SELECT key, value FROM \"%s\"' % table):\n"
    "        print('%s: %r => %r' % (table, cbor2.loads(k), cbor2.loads(v)))\n";

static void archives_read_from_outside(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("typedkeys"), *norm_url, *step_url, *db;
    assert_true(asprintf(&db, "%s/typed.db", dir) > 0);
    assert_true(asprintf(&norm_url, "sqlite:%s?table=norm", db) > 0);
    assert_true(asprintf(&step_url, "sqlite:%s?table=step", db) > 0);
    KT_OK(kl_memo_set_archive(norm_memo(), norm_url));
    KT_OK(kl_memo_set_archive(step_memo(), step_url));
    double x[] = {0.5, -2, 3};
    assert_true(norm(x, 3) == 13.25);
    params p = {0.25, 7};
    float out[3];
    assert_int_equal(step(&p, out, 3), 0);
    KT_OK(kl_memo_set_archive(norm_memo(), NULL));
    KT_OK(kl_memo_set_archive(step_memo(), NULL));

    char *ls = NULL;
    assert_int_equal(kt_klepto(&ls, true, "ls '%s'", norm_url), 0);
    assert_non_null(strstr(ls, "('x', array([0.5, -2.0, 3.0], dtype=float64))"));
    free(ls);
    assert_int_equal(kt_klepto(&ls, true, "ls '%s'", step_url), 0);
    assert_non_null(strstr(ls, "('p', CBORTag(27, ['params', 1, [0.25, 7]]))"));
    free(ls);
    /* and the literal it prints names the entry */
    assert_int_equal(kt_klepto(&ls, true, "get '%s' \"('p', CBORTag(27, ['params', 1, [0.25, 7]]))\"",
                               step_url),
                     0);
    assert_non_null(strstr(ls, "array([0.0, 0.25, 0.5], dtype=float32)"));
    free(ls);

    const char *py = python_with_cbor2();
    if (py) {
        char *sp, *cmd, *got = NULL;
        assert_true(asprintf(&sp, "%s/read.py", dir) > 0);
        FILE *f = fopen(sp, "w");
        assert_non_null(f);
        fputs(script, f);
        fclose(f);
        assert_true(asprintf(&cmd, "%s '%s' '%s' 2>&1", py, sp, db) > 0);
        int rc = kt_run(cmd, &got);
        if (rc != 0)
            fail_msg("%s -> %d: %s", cmd, rc, got ? got : "");
        /* cbor2 leaves the typed arrays (RFC 8746) as tags; tag 27 too */
        assert_non_null(strstr(got, "step: ['p', CBORTag(27, ['params', 1, [0.25, 7]])] => "
                                    "CBORTag(85, b'"));
        assert_non_null(strstr(got, "norm: ['x', CBORTag(86, b'"));
        assert_non_null(strstr(got, "=> 13.25"));
        free(got);
        free(cmd);
        free(sp);
    } else {
        print_message("no python3 with the cbor2 module: the Python part skipped\n");
    }
    free(norm_url);
    free(step_url);
    free(db);
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(archives_read_from_outside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
