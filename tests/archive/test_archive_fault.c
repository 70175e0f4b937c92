/* SPDX-License-Identifier: BSD-3-Clause */
/* The fault: wrapper archive of the test support (fault_archive.h): it is
 * transparent until the chosen call, fails exactly that call (or every
 * later one with "+") with the chosen error and a message saying so, and
 * rejects malformed specifications. */
#include "archive_suite.h"
#include "fault_archive.h"
#include "testutil.h"

#include "klepto/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp;

static int setup(void **st)
{
    (void)st;
    tmp = kt_tmpdir("fault");
    return tmp && kt_fault_register() == 0 ? 0 : -1;
}
static int teardown(void **st)
{
    (void)st;
    kt_rmrf(tmp);
    free(tmp);
    return 0;
}

static kl_archive *open_fault(const char *spec, const char *inner)
{
    char *url = kt_fault_url(spec, inner);
    assert_non_null(url);
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, url, NULL));
    free(url);
    return ar;
}

/* A fault far away leaves the wrapper transparent: the whole conformance
 * suite passes through it. */
static void transparent_until_the_fault(void **st)
{
    (void)st;
    char inner[600];
    char *url = kt_fault_url("get=1000000000", "mem:faultsuite");
    kt_archive_suite(url, KT_ARCH_PERSISTENT | KT_ARCH_DROP);
    free(url);
    snprintf(inner, sizeof inner, "dir:%s/suite?sync=none", tmp);
    url = kt_fault_url("sync=1000000000", inner);
    kt_archive_suite(url, KT_ARCH_PERSISTENT | KT_ARCH_DROP | KT_ARCH_MAPPED);
    free(url);
}

static void the_nth_call_fails_and_only_it(void **st)
{
    (void)st;
    kl_archive *ar = open_fault("put=2,ENOSPC", "mem:nth");
    assert_string_equal(kl_archive_scheme(ar), "fault");
    KT_OK(kl_archive_put(ar, "\x01", 1, "\x01", 1));
    assert_int_equal(kl_archive_put(ar, "\x02", 1, "\x02", 1), KL_ENOSPC);
    assert_string_equal(kl_errmsg(), "fault: injected KL_ENOSPC at put call 2 of mem:nth");
    KT_OK(kl_archive_put(ar, "\x03", 1, "\x03", 1));
    kl_archive *peek = NULL;
    KT_OK(kl_archive_open(&peek, "mem:nth", NULL));
    assert_int_equal(kl_archive_contains(peek, "\x01", 1), 1);
    assert_int_equal(kl_archive_contains(peek, "\x02", 1), 0); /* never reached */
    assert_int_equal(kl_archive_contains(peek, "\x03", 1), 1);
    KT_OK(kl_archive_close(peek));
    /* other operations are counted apart */
    kl_buf v = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "\x01", 1, &v));
    kl_buf_free(&v);
    KT_OK(kl_archive_close(ar));
}

static void plus_fails_every_later_call_and_eio_is_the_default(void **st)
{
    (void)st;
    kl_archive *ar = open_fault("get=2+", "mem:plus");
    KT_OK(kl_archive_put(ar, "\x01", 1, "\x01", 1));
    kl_buf v = KL_BUF_INIT;
    KT_OK(kl_archive_get(ar, "\x01", 1, &v));
    for (int i = 2; i <= 4; i++) {
        assert_int_equal(kl_archive_get(ar, "\x01", 1, &v), KL_EIO);
        char want[100];
        snprintf(want, sizeof want, "fault: injected KL_EIO at get call %d of mem:plus", i);
        assert_string_equal(kl_errmsg(), want);
    }
    kl_buf_free(&v);
    KT_OK(kl_archive_close(ar));
}

static void batch_iteration_and_close_faults(void **st)
{
    (void)st;
    const void *keys[2] = {"\x01", "\x02"};
    const void *vals[2] = {"\x0a", "\x0b"};
    size_t lens[2] = {1, 1};
    kl_archive *ar = open_fault("put_many=1,EBACKEND", "mem:batch");
    assert_int_equal(kl_archive_put_many(ar, 2, keys, lens, vals, lens), KL_EBACKEND);
    size_t n = 9;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 0);
    KT_OK(kl_archive_put_many(ar, 2, keys, lens, vals, lens));
    KT_OK(kl_archive_close(ar));

    ar = open_fault("iter_next=2,ECORRUPT", "mem:batch");
    kl_archive_iter *it = NULL;
    kl_buf k = KL_BUF_INIT;
    KT_OK(kl_archive_iter_new(ar, &it));
    assert_int_equal(kl_archive_iter_next(it, &k, NULL), 1);
    assert_int_equal(kl_archive_iter_next(it, &k, NULL), KL_ECORRUPT);
    assert_int_equal(kl_archive_iter_next(it, &k, NULL), 1); /* iteration goes on */
    assert_int_equal(kl_archive_iter_next(it, &k, NULL), 0);
    kl_archive_iter_free(it);
    kl_buf_free(&k);
    KT_OK(kl_archive_close(ar));

    /* a failing close still closes (and so flushes) the inner archive */
    char inner[700], path[600];
    snprintf(path, sizeof path, "%s/close.kle", tmp);
    snprintf(inner, sizeof inner, "file:%s?sync=none", path);
    ar = open_fault("close=1,EIO", inner);
    KT_OK(kl_archive_put(ar, "\x01", 1, "\x01", 1));
    assert_int_equal(kl_archive_close(ar), KL_EIO);
    assert_non_null(strstr(kl_errmsg(), "injected KL_EIO at close call 1"));
    KT_OK(kl_archive_open(&ar, inner, NULL));
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 1);
    KT_OK(kl_archive_close(ar));
}

static void a_failing_open_creates_nothing(void **st)
{
    (void)st;
    char inner[700], path[600];
    snprintf(path, sizeof path, "%s/never", tmp);
    snprintf(inner, sizeof inner, "dir:%s", path);
    char *url = kt_fault_url("open=1,EPERM", inner);
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EPERM);
    assert_non_null(strstr(kl_errmsg(), "injected KL_EPERM at open call 1"));
    assert_null(ar);
    assert_int_equal(access(path, F_OK), -1);
    free(url);
}

/* The wrapper's verify is the inner archive's: a value that does not
 * decode is counted once, not once more by the core's own walk. */
static void verify_counts_problems_once(void **st)
{
    (void)st;
    kl_archive *back = NULL;
    KT_OK(kl_archive_open(&back, "mem:verify", NULL));
    KT_OK(kl_archive_put(back, "\x01", 1, "\xff", 1));
    kl_archive *ar = open_fault("verify=2", "mem:verify");
    size_t problems = 0;
    kl_buf report = KL_BUF_INIT;
    KT_OK(kl_archive_verify(ar, false, &report, &problems));
    assert_int_equal(problems, 1);
    assert_non_null(strstr(kl_buf_cstr(&report), "the stored value does not decode"));
    assert_int_equal(kl_archive_verify(ar, false, NULL, &problems), KL_EIO);
    kl_buf_free(&report);
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_close(back));
}

static void malformed_specs_are_refused(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "write=1", "put", "put=0", "put=x", "put=1,ENOPE", "put=1;EIO", "open=2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *url = kt_fault_url(bad[i], "mem:");
        kl_archive *ar = NULL;
        assert_int_equal(kl_archive_open(&ar, url, NULL), KL_EINVAL);
        assert_non_null(strstr(kl_errmsg(), "fault:"));
        assert_null(ar);
        free(url);
    }
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "fault:put=1", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "?url="));
    assert_int_equal(kl_archive_open(&ar, "fault:put=1?url=nosuch%3A", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "unknown archive scheme 'nosuch:'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transparent_until_the_fault),
        cmocka_unit_test(the_nth_call_fails_and_only_it),
        cmocka_unit_test(plus_fails_every_later_call_and_eio_is_the_default),
        cmocka_unit_test(batch_iteration_and_close_faults),
        cmocka_unit_test(a_failing_open_creates_nothing),
        cmocka_unit_test(verify_counts_problems_once),
        cmocka_unit_test(malformed_specs_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
