/* SPDX-License-Identifier: BSD-3-Clause */
/* h5py reads an hdf5: archive without klepto: every basic value is a
 * native dataset (h5py.File(p)[name][()] is 2.5 for a stored 2.5), and
 * the snippet of docs/hdf5.md builds {key: value} from klepto_key_repr.
 * Skips, saying so, when no Python with h5py (Debian's python3-h5py). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klepto/archive.h"
#include "klepto/codec.h"
#include "klepto/error.h"
#include "testutil.h"

static const char *python_with_h5py(void)
{
    static const char *const candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import h5py, cbor2' >/dev/null 2>&1", candidates[i]);
        if (kt_run(cmd, NULL) == 0)
            return candidates[i];
    }
    return NULL;
}

typedef void (*enc_fn)(kl_enc *e);

static void k_alpha(kl_enc *e) { kl_enc_text(e, "alpha", 5); }
static void v_alpha(kl_enc *e) { kl_enc_float(e, 2.5); }
static void k_int(kl_enc *e) { kl_enc_int(e, 1); }
static void v_int(kl_enc *e) { kl_enc_int(e, -12345678901234); }
static void k_tuple(kl_enc *e)
{
    kl_enc_array_head(e, 2);
    kl_enc_text(e, "t", 1);
    kl_enc_int(e, 2);
}
static void v_text(kl_enc *e) { kl_enc_text(e, "h\xc3\xa9llo", 6); }
static void k_flag(kl_enc *e) { kl_enc_text(e, "flag", 4); }
static void v_flag(kl_enc *e) { kl_enc_bool(e, true); }
static void k_blob(kl_enc *e) { kl_enc_text(e, "blob", 4); }
static void v_blob(kl_enc *e) { kl_enc_bytes(e, "\x00\x01" "ab", 4); }
static void k_list(kl_enc *e) { kl_enc_text(e, "list", 4); }
static void v_list(kl_enc *e)
{
    kl_enc_array_head(e, 2);
    kl_enc_int(e, 1);
    kl_enc_text(e, "x", 1);
}
static void k_tenth(kl_enc *e) { kl_enc_float(e, 0.5); }
static void v_tenth(kl_enc *e) { kl_enc_float(e, 0.1); }

static const enc_fn keys[] = {k_alpha, k_int, k_tuple, k_flag, k_blob, k_list, k_tenth};
static const enc_fn vals[] = {v_alpha, v_int, v_text, v_flag, v_blob, v_list, v_tenth};

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

/* The snippet of docs/hdf5.md (keep them alike), then the checks. */
static const char script[] =
    "import ast, sys, h5py, cbor2\n"
    "def value(d):\n"
    "    kind = d.attrs['klepto_kind'].decode()\n"
    "    return {'cbor': lambda: cbor2.loads(d[()].tobytes()), 'bytes': lambda: d[()].tobytes(),\n"
    "            'text': lambda: d.asstr()[()]}.get(kind, lambda: d[()])()\n"
    "with h5py.File(sys.argv[1], 'r') as f:\n"
    "    results = {ast.literal_eval(f[n].attrs['klepto_key_repr'].decode()): value(f[n]) for n in f}\n"
    "    native = {f[n].attrs['klepto_key_repr'].decode(): f[n][()] for n in f}\n"
    "for k in sorted(results, key=repr):\n"
    "    v = results[k]\n"
    "    print('%r => %r' % (k, v.item() if hasattr(v, 'item') else v))\n"
    "a = native[\"'alpha'\"]\n"
    "print(type(a).__name__, a == 2.5, type(native[\"'flag'\"]).__name__, native['1'].dtype)\n";

static void h5py_reads_every_basic_value(void **state)
{
    (void)state;
    const char *py = python_with_h5py();
    if (!py) {
        print_message("no python3 with h5py and cbor2 (Debian python3-h5py, python3-cbor2): "
                      "skipped\n");
        skip();
    }
    char *dir = kt_tmpdir("pyhdf5"), *file, *url, *sp, *cmd;
    assert_true(asprintf(&file, "%s/results.h5", dir) > 0);
    assert_true(asprintf(&url, "hdf5:%s", file) > 0);
    assert_true(asprintf(&sp, "%s/read.py", dir) > 0);
    FILE *f = fopen(sp, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        put_encoded(ar, keys[i], vals[i]);
    KT_OK(kl_archive_close(ar)); /* folds the journal into the file */

    assert_true(asprintf(&cmd, "PYTHONIOENCODING=utf-8 %s '%s' '%s' 2>&1", py, sp, file) > 0);
    char *out = NULL;
    int rc = kt_run(cmd, &out);
    if (rc != 0)
        fail_msg("%s -> %d: %s", cmd, rc, out ? out : "");
    const char *want = "'alpha' => 2.5\n"
                       "'blob' => b'\\x00\\x01ab'\n"
                       "'flag' => True\n"
                       "'list' => [1, 'x']\n"
                       "('t', 2) => 'h\xc3\xa9llo'\n"
                       "0.5 => 0.1\n"
                       "1 => -12345678901234\n"
                       "float64 True bool_ int64\n";
    assert_string_equal(out, want);
    free(out);
    free(cmd);
    free(file);
    free(url);
    free(sp);
    kt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(h5py_reads_every_basic_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
