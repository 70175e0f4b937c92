/* SPDX-License-Identifier: BSD-3-Clause */
/* version: include/klepto/version.h's numbers, its string, kl_version() of
 * the static library linked here and of the shared library loaded with
 * dlopen, and the project version CMakeLists.txt declares
 * (KLEPTO_VERSION_STRING, defined by the build) all agree. */
#include "testutil.h"

#include "klepto.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#ifndef KLEPTO_VERSION_STRING
#error "KLEPTO_VERSION_STRING (the project version) is defined by the build"
#endif

static void the_numbers_make_the_string(void **state)
{
    (void)state;
    char s[64];
    snprintf(s, sizeof s, "%d.%d.%d", KL_VERSION_MAJOR, KL_VERSION_MINOR, KL_VERSION_PATCH);
    assert_string_equal(s, KL_VERSION_STRING);
    assert_true(KL_VERSION_MAJOR >= 0 && KL_VERSION_MINOR >= 0 && KL_VERSION_PATCH >= 0);
}

static void the_header_is_the_project_version(void **state)
{
    (void)state;
    assert_string_equal(KL_VERSION_STRING, KLEPTO_VERSION_STRING);
}

static void kl_version_is_the_header_version(void **state)
{
    (void)state;
    const char *v = kl_version();
    assert_non_null(v);
    assert_string_equal(v, KL_VERSION_STRING);
    assert_ptr_equal(kl_version(), v); /* static storage */
}

static void the_version_number_orders_versions(void **state)
{
    (void)state;
    assert_int_equal(KL_VERSION_NUMBER,
                     KL_VERSION_MAJOR * 10000L + KL_VERSION_MINOR * 100L + KL_VERSION_PATCH);
    assert_true(KL_VERSION_AT(0, 1, 99) < KL_VERSION_AT(0, 2, 0));
    assert_true(KL_VERSION_AT(0, 99, 99) < KL_VERSION_AT(1, 0, 0));
#if KL_VERSION_NUMBER < KL_VERSION_AT(0, 1, 0)
    fail_msg("KL_VERSION_NUMBER is usable in #if and at least 0.1.0");
#endif
}

/* The shared library of this build, by its SONAME file libklepto.so.MAJOR:
 * its kl_version() is this version too. */
static void the_shared_library_says_the_same(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "libklepto.so.%d", KL_VERSION_MAJOR);
    const char *path = kt_bin(name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fail_msg("dlopen %s: %s", path, dlerror());
    const char *(*version)(void);
    *(void **)&version = dlsym(h, "kl_version");
    if (!version)
        fail_msg("dlsym kl_version: %s", dlerror());
    assert_string_equal(version(), KL_VERSION_STRING);
    assert_ptr_not_equal(version, kl_version); /* really the other copy */
    dlclose(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_numbers_make_the_string),
        cmocka_unit_test(the_header_is_the_project_version),
        cmocka_unit_test(kl_version_is_the_header_version),
        cmocka_unit_test(the_version_number_orders_versions),
        cmocka_unit_test(the_shared_library_says_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
