/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The C side of read_from_python.py: a memoized function whose results go
 * to a sqlite: archive, which Python then reads with nothing but sqlite3
 * and cbor2.
 *
 *   ./write_for_python [FOLDER]           (default: the current folder)
 *   python3 read_from_python.py FOLDER/results.db rosen
 *
 * The table `rosen` has one row per result: key and value are canonical
 * CBOR (RFC 8949).  A memo's key is the call's arguments by name, in name
 * order, flattened: [name, value, name, value, ...].
 */
#include <stdio.h>

#include "klepto.h"

KL_MEMOIZE(double, rosen, (double, x), (double, y))
{
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

int main(int argc, char **argv)
{
    const char *folder = argc > 1 ? argv[1] : ".";
    char url[4096];
    snprintf(url, sizeof url, "sqlite:%s/results.db?table=rosen", folder);

    kl_memo_opts opts = KL_MEMO_OPTS_INIT;
    opts.archive = url; /* each result is written through to the table */
    if (kl_memo_configure(rosen_memo(), &opts) != 0) {
        fprintf(stderr, "write_for_python: %s\n", kl_errmsg());
        return 1;
    }
    const double xs[] = {0.0, 0.5, 1.0}, ys[] = {1.0, 2.5};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            (void)rosen(xs[i], ys[j]);

    kl_memo_info info;
    kl_memo_info_get(rosen_memo(), &info);
    printf("%llu results in %s (errors=%llu)\n", (unsigned long long)(info.miss + info.load), url,
           (unsigned long long)info.errors);
    int rc = kl_memo_free(rosen_memo()); /* closes the archive */
    return rc != 0 || info.errors != 0;
}
