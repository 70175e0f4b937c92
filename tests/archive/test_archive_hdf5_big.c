/* SPDX-License-Identifier: BSD-3-Clause */
/* Values of 8 MiB and more in hdf5: and hdf5dir: are written in slabs of
 * rows and hashed as they are written (h5common.c): arrays of every shape
 * of slab (many rows a slab, the last one short; rows bigger than a
 * slab; three dimensions) and a long CBOR value read back exactly,
 * through the checksum, through a view, and with plain HDF5; verify
 * finds nothing wrong. */
#define _GNU_SOURCE
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/codec.h"
#include "klepto/value.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp;

/* The CBOR of an nd-array of dtype dt and the given shape, its elements
 * numbered so that a row written to the wrong place shows. */
static void array_value(kl_buf *out, kl_dtype dt, uint8_t ndim, const size_t *shape)
{
    kl_value v;
    KT_OK(kl_value_ndarray(&v, dt, ndim, shape, NULL));
    size_t n = kl_value_ndarray_count(&v);
    for (size_t i = 0; i < n; i++) {
        if (dt == KL_DT_FLOAT64)
            ((double *)v.u.nd.data)[i] = (double)i * 0.5 - 3.0;
        else if (dt == KL_DT_FLOAT32)
            ((float *)v.u.nd.data)[i] = (float)(i % 100003) * 0.25f;
        else
            ((int32_t *)v.u.nd.data)[i] = (int32_t)(i * 2654435761u);
    }
    kl_buf_reset(out);
    KT_OK(kl_encode(out, &v, 0));
    kl_value_free(&v);
}

static void round_trip(const char *url, const kl_buf *val, bool array)
{
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_put(ar, "big", 3, val->data, val->len));
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_open(&ar, url, NULL));
    kl_buf got = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "big", 3, &got));
    assert_int_equal(got.len, val->len);
    assert_memory_equal(got.data, val->data, val->len);
    if (array) {
        kl_view *view = NULL;
        KT_OK(kl_archive_get_view(ar, "big", 3, &view));
        size_t nb = kl_view_bytes(view);
        assert_memory_equal(kl_view_data(view), val->data + val->len - nb, nb);
        kl_view_release(view);
    }
    size_t problems = 1;
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    kl_buf_free(&got);
    KT_OK(kl_archive_drop(ar));
}

static void each_url(const char *name, const kl_buf *val, bool array)
{
    char url[700];
    snprintf(url, sizeof url, "hdf5:%s/%s.h5?sync=none", tmp, name);
    round_trip(url, val, array);
    snprintf(url, sizeof url, "hdf5dir:%s/%s?sync=none", tmp, name);
    round_trip(url, val, array);
}

static void many_rows_a_slab(void **st)
{
    (void)st;
    kl_buf v = KL_BUF_INIT;
    const size_t shape[2] = {1500, 1000}; /* 12 MB, 131 rows a slab, the last short */
    array_value(&v, KL_DT_FLOAT64, 2, shape);
    each_url("rows", &v, true);

    /* plain HDF5 reads the same elements, row by row in place */
    char path[600], url[700];
    snprintf(path, sizeof path, "%s/plain.h5", tmp);
    snprintf(url, sizeof url, "hdf5:%s?sync=none", path);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_put(ar, "big", 3, v.data, v.len));
    KT_OK(kl_archive_close(ar));
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    H5G_info_t gi;
    assert_true(H5Gget_info(f, &gi) >= 0);
    assert_int_equal(gi.nlinks, 1);
    char name[64];
    assert_true(H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, 0, name, sizeof name,
                                   H5P_DEFAULT) > 0);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(d >= 0);
    double *got = malloc(1500 * 1000 * sizeof *got);
    assert_non_null(got);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    for (size_t i = 0; i < 1500 * 1000; i += 999)
        if (got[i] != (double)i * 0.5 - 3.0)
            fail_msg("element %zu is %g", i, got[i]);
    free(got);
    H5Dclose(d);
    H5Fclose(f);
    KT_OK(kl_archive_open(&ar, url, NULL));
    KT_OK(kl_archive_drop(ar));
    kl_buf_free(&v);
}

static void rows_bigger_than_a_slab(void **st)
{
    (void)st;
    kl_buf v = KL_BUF_INIT;
    const size_t shape[2] = {3, 1000000}; /* rows of 4 MB */
    array_value(&v, KL_DT_INT32, 2, shape);
    each_url("wide", &v, true);
    const size_t cube[3] = {2, 1500, 1000}; /* rows of 6 MB */
    array_value(&v, KL_DT_FLOAT32, 3, cube);
    each_url("cube", &v, true);
    kl_buf_free(&v);
}

/* bytes longer than 16 MiB stay CBOR bytes: a uint8 dataset in slabs */
static void long_cbor_value(void **st)
{
    (void)st;
    size_t n = (17u << 20) + 12345;
    kl_buf v = KL_BUF_INIT;
    KT_OK(kl_buf_reserve(&v, n + 9));
    uint8_t *p = v.data;
    p[0] = 0x5a; /* bytes, 4-byte length */
    p[1] = (uint8_t)(n >> 24), p[2] = (uint8_t)(n >> 16), p[3] = (uint8_t)(n >> 8), p[4] = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        p[5 + i] = (uint8_t)(i * 7 + (i >> 20));
    v.len = n + 5;
    each_url("cbor", &v, false);
    kl_buf_free(&v);
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    tmp = kt_tmpdir("hdf5-big");
    assert_non_null(tmp);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_rows_a_slab),
        cmocka_unit_test(rows_bigger_than_a_slab),
        cmocka_unit_test(long_cbor_value),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kt_rmrf(tmp);
    free(tmp);
    return rc;
}
