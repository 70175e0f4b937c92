/* SPDX-License-Identifier: BSD-3-Clause */
/* Durations (kl_parse_duration, archive.h): digits and a unit, the syntax
 * of ?ttl= and of `klepto prune --older-than` (CLI.md). */
#include "internal.h"
#include "klepto/archive.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>


int kl_parse_duration(const char *text, const char *what, uint64_t *seconds)
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
            if (n > KL_LIMIT_MAX / units[i].mult)
                break;
            if (seconds)
                *seconds = (uint64_t)n * units[i].mult;
            return 0;
        }
    }
    return kl_seterr(KL_EINVAL,
                     "%s: '%s' is not a duration (digits and an optional unit s, m, h, d "
                     "or w: 90, 30s, 15m, 2h, 7d)",
                     what ? what : "duration", s);
}
