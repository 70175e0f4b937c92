/* SPDX-License-Identifier: BSD-3-Clause */
/* The archive core: URL parsing, the registry, option checking, the
 * fallbacks for optional slots, and the conformance suite on mem: and
 * null:. */
#include "archive_suite.h"
#include "testutil.h"

#include "archive/url.h"
#include "klepto/archive.h"
#include "klepto/cached.h"
#include "klepto/sys/archive_backend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void url_parts_and_percent_decoding(void **st)
{
    (void)st;
    kl_url *u = NULL;
    KT_OK(kl__url_parse("Dir:/tmp/a b?sync=full&name=a%20b%3Dc&flag", &u));
    assert_string_equal(u->scheme, "dir");
    assert_string_equal(u->rest, "/tmp/a b");
    assert_int_equal(u->nparams, 3);
    assert_string_equal(kl_url_param_get(u, "name"), "a b=c");
    assert_string_equal(kl_url_param_get(u, "flag"), "");
    assert_int_equal(kl__url_check_used(u), KL_EINVAL); /* sync not read */
    assert_non_null(strstr(kl_errmsg(), "sync"));
    assert_string_equal(kl_url_param_get(u, "sync"), "full");
    KT_OK(kl__url_check_used(u));
    kl__url_free(u);

    KT_OK(kl__url_parse("postgresql://me@host:5432/db?table=t", &u));
    assert_string_equal(u->scheme, "postgresql");
    assert_string_equal(u->rest, "//me@host:5432/db");
    kl__url_free(u);

    assert_int_equal(kl__url_parse("no-colon", &u), KL_EINVAL);
    assert_int_equal(kl__url_parse(":x", &u), KL_EINVAL);
    assert_int_equal(kl__url_parse("dir:/x?a=%zz", &u), KL_EINVAL);
    assert_int_equal(kl__url_parse("dir:/x?a=1&a=2", &u), KL_EINVAL);
    assert_null(u);
}

static void unknown_scheme_and_option_are_errors(void **st)
{
    (void)st;
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "nosuch:/x", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "nosuch"));
    assert_int_equal(kl_archive_open(&ar, "mem:?bogus=1", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "bogus"));
    assert_int_equal(kl_archive_open(&ar, "dir:/tmp/x?sync=sometimes", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "sync"));
    assert_null(ar);
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.version = 99;
    assert_int_equal(kl_archive_open(&ar, "mem:", &o), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "archive: options version 99 unknown"));
}

/* The cached front is a wrapper the core applies for ?cached=true, not a
 * scheme: "cached:" is unknown like any other scheme, and a front over an
 * archive still reports the scheme "cached" and verifies through it. */
static void cached_is_a_front_not_a_scheme(void **st)
{
    (void)st;
    kl_archive *ar = NULL;
    assert_int_equal(kl_archive_open(&ar, "cached:", NULL), KL_EINVAL);
    assert_string_equal(kl_errmsg(), "cached:: unknown archive scheme 'cached:'");
    assert_null(ar);
    assert_int_equal(kl_archive_open(&ar, "cached:/x?cached=false", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "unknown archive scheme 'cached:'"));
    assert_int_equal(kl_archive_open(&ar, "mem:front?cached=maybe", NULL), KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "cached=maybe"));

    KT_OK(kl_archive_open(&ar, "mem:front?cached=true", NULL));
    assert_true(kl_cached_is(ar));
    assert_string_equal(kl_archive_scheme(ar), "cached");
    assert_string_equal(kl_archive_scheme(kl_cached_backing(ar)), "mem");
    assert_string_equal(kl_archive_url(kl_cached_backing(ar)), "mem:front");
    /* a value that does not decode, written behind the front's back, is
     * found once (by the backing archive's decoding walk) */
    kl_archive *back = NULL;
    KT_OK(kl_archive_open(&back, "mem:front", NULL));
    KT_OK(kl_archive_put(back, "\x01", 1, "\xff", 1));
    KT_OK(kl_archive_close(back));
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 1);
    KT_OK(kl_archive_close(ar));
    KT_OK(kl_archive_open(&ar, "mem:front?cached=false", NULL));
    assert_false(kl_cached_is(ar));
    assert_string_equal(kl_archive_scheme(ar), "mem");
    KT_OK(kl_archive_close(ar));
}

/* A minimal backend with only the required slots, over a fixed store of
 * three entries, to exercise every fallback of the core. */
/* keys are canonical encodings: the integers 1, 2, 3 */
static const char *fk[3] = {"\x01", "\x02", "\x03"};
static bool fdel[3];
static int f_open(void **s, const kl_url *u, const kl_archive_opts *o)
{
    (void)u;
    (void)o;
    *s = NULL;
    memset(fdel, 0, sizeof fdel);
    return 0;
}
static int f_close(void *s) { return 0; }
static int f_find(const void *k, size_t kl)
{
    for (int i = 0; i < 3; i++)
        if (!fdel[i] && strlen(fk[i]) == kl && !memcmp(fk[i], k, kl))
            return i;
    return -1;
}
static int f_get(void *s, const void *k, size_t kl, kl_buf *v)
{
    int i = f_find(k, kl);
    if (i < 0)
        return KL_ENOTFOUND;
    if (i == 2)
        return KL_ECORRUPT; /* a damaged entry */
    kl_buf_reset(v);
    return kl_buf_append(v, "\x83\x01\x02\x03", 4);
}
static int f_put(void *s, const void *k, size_t kl, const void *v, size_t vl) { return 0; }
static int f_del(void *s, const void *k, size_t kl)
{
    int i = f_find(k, kl);
    if (i < 0)
        return KL_ENOTFOUND;
    fdel[i] = true;
    return 0;
}
static int f_count(void *s, size_t *n)
{
    *n = !fdel[0] + !fdel[1] + !fdel[2];
    return 0;
}
static int f_iter_new(void *s, void **c)
{
    *c = calloc(1, sizeof(int));
    return 0;
}
static int f_iter_next(void *c, kl_buf *k, kl_buf *v)
{
    int *p = c;
    while (*p < 3 && fdel[*p])
        ++*p;
    if (*p >= 3)
        return 0;
    kl_buf_reset(k);
    kl_buf_append_str(k, fk[*p]);
    ++*p;
    if (v) {
        if (*p == 3)
            return KL_ECORRUPT;
        kl_buf_reset(v);
        kl_buf_append(v, "\x83\x01\x02\x03", 4);
    }
    return 1;
}
static void f_iter_free(void *c) { free(c); }
static const kl_archive_backend fake = {
    .version = KL_BACKEND_VERSION,
    .scheme = "fake",
    .open = f_open,
    .close = f_close,
    .get = f_get,
    .put = f_put,
    .del = f_del,
    .count = f_count,
    .iter_new = f_iter_new,
    .iter_next = f_iter_next,
    .iter_free = f_iter_free,
};

static void registry_checks_and_fallbacks(void **st)
{
    (void)st;
    static kl_archive_backend newer;
    newer = fake;
    newer.version = KL_BACKEND_VERSION + 1;
    newer.scheme = "newer";
    assert_int_equal(kl_archive_register(&newer), KL_EINVAL);
    static kl_archive_backend taken;
    taken = fake;
    taken.scheme = "dir";
    assert_int_equal(kl_archive_register(&taken), KL_EINVAL);
    static kl_archive_backend missing;
    missing = fake;
    missing.scheme = "missing";
    missing.count = NULL;
    assert_int_equal(kl_archive_register(&missing), KL_EINVAL);
    KT_OK(kl_archive_register(&fake));

    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, "fake:", NULL));
    assert_string_equal(kl_archive_scheme(ar), "fake");
    assert_string_equal(kl_archive_url(ar), "fake:");
    assert_int_equal(kl_archive_contains(ar, "\x01", 1), 1);
    assert_int_equal(kl_archive_contains(ar, "zz", 2), 0);
    kl_entry_info info;
    KT_OK(kl_archive_stat(ar, "\x02", 1, &info));
    assert_int_equal(info.size, 1 + 4);
    kl_view *v = NULL;
    assert_int_equal(kl_archive_get_view(ar, "\x01", 1, &v), KL_ETYPE);
    KT_OK(kl_archive_sync(ar));
    KT_OK(kl_archive_compact(ar));
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    assert_int_equal(problems, 1);
    assert_non_null(strstr(kl_buf_cstr(&rep), "0x03"));
    kl_buf_reset(&rep);
    KT_OK(kl_archive_verify(ar, true, &rep, &problems));
    assert_int_equal(problems, 1);
    assert_non_null(strstr(kl_buf_cstr(&rep), "dropped"));
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 2);
    KT_OK(kl_archive_clear(ar));
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 0);
    kl_buf_free(&rep);
    assert_int_equal(kl_archive_drop(ar), KL_EUNSUPPORTED);
}

static void read_only_refuses_writes(void **st)
{
    (void)st;
    kl_archive_opts o = KL_ARCHIVE_OPTS_INIT;
    o.read_only = true;
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, "mem:ro", &o));
    assert_int_equal(kl_archive_put(ar, "k", 1, "v", 1), KL_EPERM);
    assert_int_equal(kl_archive_del(ar, "k", 1), KL_EPERM);
    assert_int_equal(kl_archive_clear(ar), KL_EPERM);
    KT_OK(kl_archive_close(ar));
}

static void mem_name_is_shared_in_the_process(void **st)
{
    (void)st;
    kl_archive *a = NULL, *b = NULL, *c = NULL;
    KT_OK(kl_archive_open(&a, "mem:shared", NULL));
    KT_OK(kl_archive_open(&b, "mem:shared", NULL));
    KT_OK(kl_archive_open(&c, "mem:", NULL));
    KT_OK(kl_archive_put(a, "k", 1, "v", 1));
    assert_int_equal(kl_archive_contains(b, "k", 1), 1);
    assert_int_equal(kl_archive_contains(c, "k", 1), 0);
    KT_OK(kl_archive_close(a));
    KT_OK(kl_archive_close(b));
    KT_OK(kl_archive_open(&a, "mem:shared", NULL));
    assert_int_equal(kl_archive_contains(a, "k", 1), 1);
    KT_OK(kl_archive_drop(a));
    KT_OK(kl_archive_open(&a, "mem:shared", NULL));
    assert_int_equal(kl_archive_contains(a, "k", 1), 0);
    KT_OK(kl_archive_close(a));
    KT_OK(kl_archive_close(c));
}

/* iteration survives puts and deletes on the same handle */
static void mem_iterate_while_modifying(void **st)
{
    (void)st;
    kl_archive *a = NULL;
    KT_OK(kl_archive_open(&a, "mem:", NULL));
    unsigned char k[64];
    for (int i = 0; i < 100; i++) {
        size_t kl = kt_key(k, i, 0);
        KT_OK(kl_archive_put(a, k, kl, "v", 1));
    }
    kl_archive_iter *it = NULL;
    KT_OK(kl_archive_iter_new(a, &it));
    kl_buf key = KL_BUF_INIT;
    int seen = 0, rc;
    while ((rc = kl_archive_iter_next(it, &key, NULL)) == 1) {
        seen++;
        KT_OK(kl_archive_del(a, key.data, key.len));
        size_t kl = kt_key(k, 1000 + seen, 0);
        KT_OK(kl_archive_put(a, k, kl, "w", 1));
        if (seen > 1000)
            break;
    }
    assert_int_equal(rc, 1); /* stopped by the guard: the new puts are seen too */
    kl_archive_iter_free(it);
    kl_buf_free(&key);
    KT_OK(kl_archive_close(a));
}

struct hammer {
    kl_archive *ar;
    int id;
};
static void *hammer_run(void *p)
{
    struct hammer *h = p;
    unsigned char k[64];
    for (int i = 0; i < 1000; i++) {
        size_t kl = kt_key(k, h->id, i);
        if (kl_archive_put(h->ar, k, kl, k, kl))
            return (void *)1;
        kl_buf v = KL_BUF_INIT;
        int rc = kl_archive_get(h->ar, k, kl, &v);
        bool ok = rc == 0 && v.len == kl && !memcmp(v.data, k, kl);
        kl_buf_free(&v);
        if (!ok)
            return (void *)1;
    }
    return NULL;
}

static void threads_share_one_handle(void **st)
{
    (void)st;
    char *dir = kt_tmpdir("threads");
    char url[512];
    const char *urls[2] = {"mem:", url};
    snprintf(url, sizeof url, "dir:%s/a", dir);
    for (int u = 0; u < 2; u++) {
        kl_archive *ar = NULL;
        KT_OK(kl_archive_open(&ar, urls[u], NULL));
        pthread_t t[4];
        struct hammer h[4];
        for (int i = 0; i < 4; i++) {
            h[i] = (struct hammer){ar, i};
            pthread_create(&t[i], NULL, hammer_run, &h[i]);
        }
        for (int i = 0; i < 4; i++) {
            void *r;
            pthread_join(t[i], &r);
            assert_null(r);
        }
        size_t n = 0;
        KT_OK(kl_archive_count(ar, &n));
        assert_int_equal(n, 4000);
        KT_OK(kl_archive_close(ar));
    }
    kt_rmrf(dir);
    free(dir);
}

static void verify_reports_values_that_do_not_decode(void **st)
{
    (void)st;
    kl_archive *ar = NULL;
    KT_OK(kl_archive_open(&ar, "mem:", NULL));
    KT_OK(kl_archive_put(ar, "\x01", 1, "\xf6", 1));     /* 1: None */
    KT_OK(kl_archive_put(ar, "\x02", 1, "\x62" "a", 2));    /* 'a' cut short */
    KT_OK(kl_archive_put(ar, "\x63" "abc", 4, "\x01\x02", 2)); /* trailing byte */
    kl_buf rep = KL_BUF_INIT;
    size_t problems = 0;
    KT_OK(kl_archive_verify(ar, false, &rep, &problems));
    assert_int_equal(problems, 2);
    assert_non_null(strstr(kl_buf_cstr(&rep), "key 0x02: the stored value does not decode"));
    assert_non_null(strstr(kl_buf_cstr(&rep), "key 0x63616263"));
    KT_OK(kl_archive_verify(ar, true, NULL, &problems));
    size_t n = 0;
    KT_OK(kl_archive_count(ar, &n));
    assert_int_equal(n, 1);
    KT_OK(kl_archive_verify(ar, false, NULL, &problems));
    assert_int_equal(problems, 0);
    kl_buf_free(&rep);
    KT_OK(kl_archive_close(ar));
}

static void conformance_mem(void **st)
{
    (void)st;
    kt_archive_suite("mem:", KT_ARCH_DROP);
    kt_archive_suite("mem:suite", KT_ARCH_PERSISTENT | KT_ARCH_DROP);
}

static void conformance_null(void **st)
{
    (void)st;
    kt_archive_suite("null:", KT_ARCH_NULL | KT_ARCH_DROP);
}

int main(void)
{
    /* many small files: a tmpfs keeps this fast (test_archive_dir checks the disk) */
    kt_tempdir_prefer_memory();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_parts_and_percent_decoding),
        cmocka_unit_test(unknown_scheme_and_option_are_errors),
        cmocka_unit_test(cached_is_a_front_not_a_scheme),
        cmocka_unit_test(registry_checks_and_fallbacks),
        cmocka_unit_test(read_only_refuses_writes),
        cmocka_unit_test(mem_name_is_shared_in_the_process),
        cmocka_unit_test(mem_iterate_while_modifying),
        cmocka_unit_test(threads_share_one_handle),
        cmocka_unit_test(verify_reports_values_that_do_not_decode),
        cmocka_unit_test(conformance_mem),
        cmocka_unit_test(conformance_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
