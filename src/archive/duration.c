/* SPDX-License-Identifier: BSD-3-Clause */
/* Durations in archive URL options (?ttl=): digits and a unit, the syntax
 * of `klepto prune --older-than` (CLI.md). */
#include "archive/handle.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

/* A hundred years: beyond that a duration is a mistake, not a limit. */
#define MAX_SECONDS (100ull * 365 * 86400)

int kl__parse_duration(const char *text, const char *what, uint64_t *seconds)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400}};
    const char *s = text ? text : "";
    if (isdigit((unsigned char)*s)) {
        errno = 0;
        char *end;
        unsigned long long n = strtoull(s, &end, 10);
        for (size_t i = 0; errno != ERANGE && i < sizeof units / sizeof units[0]; i++) {
            if (strcasecmp(end, units[i].suffix) != 0)
                continue;
            if (n == 0 || n > MAX_SECONDS / units[i].mult)
                break;
            *seconds = (uint64_t)n * units[i].mult;
            return 0;
        }
    }
    return kl_seterr(KL_EINVAL,
                     "%s: '%s' is not a duration from 1s to 100 years (digits and s, m, h, d "
                     "or w: 30s, 15m, 2h, 7d)",
                     what, s);
}
