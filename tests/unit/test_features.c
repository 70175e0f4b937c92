/* SPDX-License-Identifier: BSD-3-Clause */
/* features: kl_features() names what the build holds — the archive schemes
 * the registry knows (the optional ones as KLEPTO_WITH_* chose) and the
 * digests — in the documented format, and kl_feature() matches whole
 * words only. */
#include "testutil.h"

#include "klepto/archive.h"
#include "klepto/digest.h"
#include "klepto/error.h"
#include "klepto/features.h"
#include "klepto/keymap.h"
#include "klepto/sys/archive_backend.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#ifdef KLEPTO_HAVE_POSTGRES
#define HAVE_POSTGRES true
#else
#define HAVE_POSTGRES false
#endif
#ifdef KLEPTO_HAVE_MYSQL
#define HAVE_MYSQL true
#else
#define HAVE_MYSQL false
#endif
#ifdef KLEPTO_HAVE_REDIS
#define HAVE_REDIS true
#else
#define HAVE_REDIS false
#endif
#ifdef KLEPTO_HAVE_HDF5
#define HAVE_HDF5 true
#else
#define HAVE_HDF5 false
#endif

/* A backend that is never opened: registering it under a scheme tells
 * whether the registry already holds that scheme. */
static int no_open(void **s, const kl_url *u, const kl_archive_opts *o)
{
    return KL_EINVAL;
}
static int no_close(void *s)
{
    return 0;
}
static int no_get(void *s, const void *k, size_t n, kl_buf *v)
{
    return KL_ENOTFOUND;
}
static int no_put(void *s, const void *k, size_t n, const void *v, size_t m)
{
    return KL_EPERM;
}
static int no_del(void *s, const void *k, size_t n)
{
    return KL_ENOTFOUND;
}
static int no_count(void *s, size_t *out)
{
    return 0;
}
static int no_iter_new(void *s, void **c)
{
    return KL_EINVAL;
}
static int no_iter_next(void *c, kl_buf *k, kl_buf *v)
{
    return 0;
}
static void no_iter_free(void *c) {}

/* true when the registry holds scheme (a probe under that name is refused
 * as "already registered"); a free scheme stays taken by the probe. */
static bool scheme_registered(const char *scheme)
{
    kl_archive_backend *probe = calloc(1, sizeof *probe);
    assert_non_null(probe);
    *probe = (kl_archive_backend){
        .version = KL_BACKEND_VERSION,
        .scheme = scheme,
        .open = no_open,
        .close = no_close,
        .get = no_get,
        .put = no_put,
        .del = no_del,
        .count = no_count,
        .iter_new = no_iter_new,
        .iter_next = no_iter_next,
        .iter_free = no_iter_free,
    };
    int r = kl_archive_register(probe);
    if (r == 0)
        return false; /* probe stays registered: the struct must live on */
    assert_int_equal(r, KL_EINVAL);
    assert_non_null(strstr(kl_errmsg(), "already registered"));
    free(probe);
    return true;
}

static void the_string_is_lower_case_words_with_single_spaces(void **state)
{
    (void)state;
    const char *f = kl_features();
    assert_non_null(f);
    assert_true(strlen(f) > 0);
    assert_ptr_equal(f, kl_features()); /* a constant */
    assert_int_not_equal(f[0], ' ');
    assert_int_not_equal(f[strlen(f) - 1], ' ');
    assert_null(strstr(f, "  "));
    for (const char *p = f; *p; p++)
        assert_true(*p == ' ' || *p == '-' || islower((unsigned char)*p) ||
                    isdigit((unsigned char)*p));
}

static void optional_backends_follow_the_build_options(void **state)
{
    (void)state;
    const struct {
        const char *scheme;
        bool built;
    } opt[] = {
        {"postgresql", HAVE_POSTGRES}, {"postgres", HAVE_POSTGRES}, {"redis", HAVE_REDIS},
        {"mysql", HAVE_MYSQL},         {"mariadb", HAVE_MYSQL},
        {"hdf5", HAVE_HDF5},           {"hdf5dir", HAVE_HDF5},
    };
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        if (kl_feature(opt[i].scheme) != opt[i].built)
            fail_msg("%s: kl_feature says %d, the build options %d", opt[i].scheme,
                     kl_feature(opt[i].scheme), opt[i].built);
        if (scheme_registered(opt[i].scheme) != opt[i].built)
            fail_msg("%s: the registry disagrees with the build options", opt[i].scheme);
    }
}

static void every_archive_word_is_a_registered_scheme(void **state)
{
    (void)state;
    static const char *const always[] = {"mem", "null", "dir", "file", "sqlite"};
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++) {
        assert_true(kl_feature(always[i]));
        assert_true(scheme_registered(always[i]));
    }
    /* the words before the first digest name are schemes */
    char *copy = strdup(kl_features());
    assert_non_null(copy);
    size_t schemes = 0;
    for (char *w = strtok(copy, " "); w && strncmp(w, "xxh3", 4) != 0; w = strtok(NULL, " ")) {
        if (!scheme_registered(w))
            fail_msg("%s is named in kl_features() but not registered", w);
        schemes++;
    }
    free(copy);
    assert_int_equal(schemes,
                     5 + 2 * HAVE_POSTGRES + 2 * HAVE_MYSQL + HAVE_REDIS + 2 * HAVE_HDF5);
}

/* Every digest word works as a keymap hash algorithm, and every named
 * digest the library lists as known (in the message for an unknown one)
 * is a word. */
static void digest_words_are_the_digests_the_library_knows(void **state)
{
    (void)state;
    const char *f = kl_features();
    const char *d = strstr(f, " xxh3-128 ");
    assert_non_null(d);
    char *copy = strdup(d + 1);
    assert_non_null(copy);
    size_t n = 0;
    for (char *w = strtok(copy, " "); w; w = strtok(NULL, " ")) {
        kl_keymap_opts o = KL_KEYMAP_OPTS_INIT;
        o.kind = KL_KEYMAP_HASH;
        o.algorithm = w;
        kl_keymap *km = NULL;
        if (kl_keymap_new(&km, &o) != 0)
            fail_msg("%s is named in kl_features() but a keymap refuses it: %s", w, kl_errmsg());
        kl_keymap_free(km);
        n++;
    }
    free(copy);
    assert_int_equal(n, 12);

    kl_digest *dg = NULL;
    assert_int_equal(kl_digest_open(&dg, "no-such-digest"), KL_EINVAL);
    const char *known = strstr(kl_errmsg(), "(known: ");
    assert_non_null(known);
    char *list = strdup(known + strlen("(known: "));
    assert_non_null(list);
    char *end = strchr(list, ')');
    assert_non_null(end);
    *end = '\0';
    size_t listed = 0;
    for (char *w = strtok(list, ", "); w; w = strtok(NULL, ", ")) {
        if (!kl_feature(w))
            fail_msg("digest %s is known but not named in kl_features()", w);
        listed++;
    }
    free(list);
    assert_int_equal(listed, 10);
}

static void kl_feature_matches_whole_words_only(void **state)
{
    (void)state;
    assert_true(kl_feature("mem"));
    assert_true(kl_feature("sqlite"));
    assert_true(kl_feature("blake2s256")); /* the last word */
    assert_false(kl_feature(NULL));
    assert_false(kl_feature(""));
    assert_false(kl_feature("sql"));
    assert_false(kl_feature("sqlite3"));
    assert_false(kl_feature("mem null"));
    assert_false(kl_feature(" "));
    assert_false(kl_feature("sha3"));
    assert_false(kl_feature("nosuchscheme"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_string_is_lower_case_words_with_single_spaces),
        cmocka_unit_test(optional_backends_follow_the_build_options),
        cmocka_unit_test(every_archive_word_is_a_registered_scheme),
        cmocka_unit_test(digest_words_are_the_digests_the_library_knows),
        cmocka_unit_test(kl_feature_matches_whole_words_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
