/* SPDX-License-Identifier: BSD-3-Clause */
/* A program from outside the project, built against an installed klepto
 * (pkg-config, find_package) or a klepto subproject: memoizes a function,
 * calls it twice, and checks that the second call was a hit; and that the
 * library it runs with is the version of the headers it was built with. */
#include <klepto.h>

#include <stdio.h>
#include <string.h>

static int computed;

KL_MEMOIZE(long, square, (long, x))
{
    computed++;
    return x * x;
}

int main(void)
{
    if (strcmp(kl_version(), KL_VERSION_STRING) != 0) {
        fprintf(stderr, "app: library %s, headers %s\n", kl_version(), KL_VERSION_STRING);
        return 1;
    }
    long a = square(12), b = square(12);
    kl_memo_info info;
    kl_memo_info_get(square_memo(), &info);
    if (a != 144 || b != 144 || computed != 1 || info.hit != 1 || info.miss != 1) {
        fprintf(stderr, "app: square(12) = %ld, %ld; computed %d times; hit=%llu miss=%llu\n", a,
                b, computed, (unsigned long long)info.hit, (unsigned long long)info.miss);
        return 1;
    }
    printf("klepto %s: computed once, hit=%llu miss=%llu\n", kl_version(),
           (unsigned long long)info.hit, (unsigned long long)info.miss);
    return 0;
}
