/* SPDX-License-Identifier: BSD-3-Clause */
/* Sizes and durations in archive URL options and the CLI (kl_parse_size,
 * kl_parse_duration: archive.h): digits and an optional unit, the syntax of
 * ?max_bytes=, ?ttl=, `klepto prune --max-bytes` and `--older-than`
 * (CLI.md). */
#include "internal.h"
#include "klepto/archive.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

typedef struct unit {
    const char *suffix;
    uint64_t mult;
} unit;

/* Digits and one of units' suffixes (case ignored; "" is a suffix too):
 * true and *out (when not NULL), false for anything else or more than
 * KL_LIMIT_MAX. */
static bool parse_with_units(const char *s, const unit *units, size_t n_units, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return false;
    for (size_t i = 0; i < n_units; i++) {
        if (strcasecmp(end, units[i].suffix) != 0)
            continue;
        if (n > KL_LIMIT_MAX / units[i].mult)
            return false;
        if (out)
            *out = (uint64_t)n * units[i].mult;
        return true;
    }
    return false;
}

int kl_parse_size(const char *text, const char *what, uint64_t *out)
{
    static const unit units[] = {{"", 1},
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
    if (parse_with_units(s, units, sizeof units / sizeof units[0], out))
        return 0;
    return kl_seterr(KL_EINVAL,
                     "%s: '%s' is not a size from 0 to 4 EiB (digits and an optional unit K, M, "
                     "G or T, 1024 each: 500000, 64K, 10M, 2G)",
                     what ? what : "size", s);
}

int kl_parse_duration(const char *text, const char *what, uint64_t *seconds)
{
    static const unit units[] = {{"", 1},     {"s", 1},     {"m", 60},
                                 {"h", 3600}, {"d", 86400}, {"w", 7 * 86400}};
    const char *s = text ? text : "";
    if (parse_with_units(s, units, sizeof units / sizeof units[0], seconds))
        return 0;
    return kl_seterr(KL_EINVAL,
                     "%s: '%s' is not a duration (digits and an optional unit s, m, h, d "
                     "or w: 90, 30s, 15m, 2h, 7d)",
                     what ? what : "duration", s);
}
