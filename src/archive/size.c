/* SPDX-License-Identifier: BSD-3-Clause */
/* Sizes in archive URL options and the CLI (kl_parse_size, archive.h):
 * digits and an optional binary unit, the syntax of `klepto prune
 * --max-bytes` (CLI.md). */
#include "internal.h"
#include "klepto/archive.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

int kl_parse_size(const char *text, const char *what, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"K", 1ull << 10},
                 {"KB", 1ull << 10},
                 {"KiB", 1ull << 10},
                 {"M", 1ull << 20},
                 {"MB", 1ull << 20},
                 {"MiB", 1ull << 20},
                 {"G", 1ull << 30},
                 {"GB", 1ull << 30},
                 {"GiB", 1ull << 30},
                 {"T", 1ull << 40},
                 {"TB", 1ull << 40},
                 {"TiB", 1ull << 40}};
    const char *s = text ? text : "";
    if (isdigit((unsigned char)*s)) {
        errno = 0;
        char *end;
        unsigned long long n = strtoull(s, &end, 10);
        for (size_t i = 0; errno != ERANGE && i < sizeof units / sizeof units[0]; i++) {
            if (strcasecmp(end, units[i].suffix) != 0)
                continue;
            if (n > KL_LIMIT_MAX / units[i].mult)
                break;
            if (out)
                *out = (uint64_t)n * units[i].mult;
            return 0;
        }
    }
    return kl_seterr(KL_EINVAL,
                     "%s: '%s' is not a size from 0 to 4 EiB (digits and an optional unit K, M, "
                     "G or T, 1024 each: 500000, 64K, 10M, 2G)",
                     what ? what : "size", s);
}
