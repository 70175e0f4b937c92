/* SPDX-License-Identifier: BSD-3-Clause */
/* Anyone can read a sqlite: archive: Python's sqlite3 + cbor2 (Debian's
 * python3-cbor2) decode the keys and values of both layouts written here.
 * Skips, saying so, when no Python with cbor2 is installed. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/archive.h"
#include "klepto/codec.h"
#include "klepto/error.h"
#include "testutil.h"

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

typedef void (*enc_fn)(kl_enc *e);

static void k1(kl_enc *e)
{
    kl_enc_array_head(e, 3);
    kl_enc_int(e, 1);
    kl_enc_float(e, 2.5);
    kl_enc_text(e, "x", 1);
}
static void v1(kl_enc *e)
{
    kl_enc_map_head(e, 2);
    kl_enc_text(e, "a", 1);
    kl_enc_array_head(e, 2);
    kl_enc_int(e, 1);
    kl_enc_int(e, 2);
    kl_enc_text(e, "b", 1);
    kl_enc_null(e);
}
static void k2(kl_enc *e)
{
    kl_enc_array_head(e, 1);
    kl_enc_text(e, "h\xc3\xa9llo", 6);
}
static void v2(kl_enc *e) { kl_enc_float(e, 0.1); }
static void k3(kl_enc *e)
{
    kl_enc_array_head(e, 2);
    kl_enc_int(e, -7);
    kl_enc_bool(e, true);
}
static void v3(kl_enc *e) { kl_enc_bytes(e, "\x00\x01", 2); }
static void k4(kl_enc *e) { kl_enc_array_head(e, 0); }
static void v4(kl_enc *e) { kl_enc_int(e, 12345678901234); }

static const enc_fn keys[] = {k1, k2, k3, k4}, vals[] = {v1, v2, v3, v4};

static void put_encoded(kl_archive *ar, enc_fn kf, enc_fn vf)
{
    uint8_t kb[256], vb[256];
    kl_enc ke, ve;
    kl_enc_init(&ke, kb, sizeof kb, 0);
    kl_enc_init(&ve, vb, sizeof vb, 0);
    kf(&ke);
    vf(&ve);
    assert_true(kl_enc_ok(&ke) && kl_enc_ok(&ve));
    KT_OK(kl_archive_put(ar, kb, ke.len, vb, ve.len));
}

static const char script[] =
    "import sqlite3, sys, cbor2\n"
    "db = sqlite3.connect(sys.argv[1])\n"
    "rows = []\n"
    "for k, v in db.execute('SELECT key, value FROM \"results\"'):\n"
    "    rows.append('table: %r => %r' % (cbor2.loads(k), cbor2.loads(v)))\n"
    "for i, k in db.execute('SELECT id, key FROM klepto_catalogue'):\n"
    "    (v,) = db.execute('SELECT value FROM e%d' % i).fetchone()\n"
    "    rows.append('sql: %r => %r' % (cbor2.loads(k), cbor2.loads(v)))\n"
    "print('\\n'.join(sorted(rows)))\n";

static void python_decodes_both_layouts(void **state)
{
    (void)state;
    const char *py = python_with_cbor2();
    if (!py) {
        print_message("no python3 with the cbor2 module (Debian python3-cbor2): skipped\n");
        skip();
    }
    char *dir = kt_tmpdir("pyread"), *db, *tb, *sa, *sp, *cmd;
    assert_true(asprintf(&db, "%s/results.db", dir) > 0);
    assert_true(asprintf(&tb, "sqlite:%s?table=results", db) > 0);
    assert_true(asprintf(&sa, "sqlite:%s", db) > 0);
    assert_true(asprintf(&sp, "%s/read.py", dir) > 0);
    FILE *f = fopen(sp, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);

    kl_archive *a, *b;
    KT_OK(kl_archive_open(&a, tb, NULL));
    KT_OK(kl_archive_open(&b, sa, NULL));
    for (int i = 0; i < 4; i++) {
        put_encoded(a, keys[i], vals[i]);
        put_encoded(b, keys[i], vals[i]);
    }
    KT_OK(kl_archive_close(a));
    KT_OK(kl_archive_close(b));

    assert_true(asprintf(&cmd, "PYTHONIOENCODING=utf-8 %s '%s' '%s' 2>&1", py, sp, db) > 0);
    char *out = NULL;
    int rc = kt_run(cmd, &out);
    if (rc != 0)
        fail_msg("%s -> %d: %s", cmd, rc, out ? out : "");
    const char *want = "sql: ['h\xc3\xa9llo'] => 0.1\n"
                       "sql: [-7, True] => b'\\x00\\x01'\n"
                       "sql: [1, 2.5, 'x'] => {'a': [1, 2], 'b': None}\n"
                       "sql: [] => 12345678901234\n"
                       "table: ['h\xc3\xa9llo'] => 0.1\n"
                       "table: [-7, True] => b'\\x00\\x01'\n"
                       "table: [1, 2.5, 'x'] => {'a': [1, 2], 'b': None}\n"
                       "table: [] => 12345678901234\n";
    assert_string_equal(out, want);
    free(out);
    free(cmd);
    free(db);
    free(tb);
    free(sa);
    free(sp);
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(python_decodes_both_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
