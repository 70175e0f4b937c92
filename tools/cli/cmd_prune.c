/* SPDX-License-Identifier: BSD-3-Clause */
/* Trimming an archive to limits: prune (CLI.md).
 *
 * Entries are ordered by stored time (kl_archive_stat), oldest first;
 * entries whose backend keeps no time (0) count as the oldest, and prune
 * says so on stderr when it removes any.  No backend records reads, so
 * "least recently used" here means least recently written. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"

/* Digits and an optional unit from units (a letter and its multiplier);
 * false for anything else or on overflow. */
typedef struct unit {
    const char *suffix;
    uint64_t mult;
} unit;

static bool parse_scaled(const char *s, const unit *units, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return false;
    uint64_t mult = 1;
    if (*end) {
        const unit *u = units;
        while (u->suffix && strcasecmp(end, u->suffix) != 0)
            u++;
        if (!u->suffix)
            return false;
        mult = u->mult;
    }
    if (n > UINT64_MAX / mult)
        return false;
    *out = (uint64_t)n * mult;
    return true;
}

static const unit byte_units[] = {{"K", 1ull << 10}, {"KB", 1ull << 10}, {"KiB", 1ull << 10},
                                  {"M", 1ull << 20}, {"MB", 1ull << 20}, {"MiB", 1ull << 20},
                                  {"G", 1ull << 30}, {"GB", 1ull << 30}, {"GiB", 1ull << 30},
                                  {"T", 1ull << 40}, {"TB", 1ull << 40}, {"TiB", 1ull << 40},
                                  {"B", 1},          {NULL, 0}};
static const unit time_units[] = {{"s", 1},     {"m", 60},        {"h", 3600},
                                  {"d", 86400}, {"w", 7 * 86400}, {NULL, 0}};
static const unit no_units[] = {{NULL, 0}};

typedef struct prune_entry {
    kl_buf key;
    int64_t ns;
    uint64_t size;
} prune_entry;

static int by_age(const void *a, const void *b)
{
    const prune_entry *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns < y->ns ? -1 : 1;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = n ? memcmp(x->key.data, y->key.data, n) : 0;
    return c ? c : (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

static const char prune_usage[] =
    "usage: klepto prune URL [--max-entries N] [--max-bytes B[K|M|G]] [--older-than N[s|m|h|d]] "
    "[--json] [--progress|--quiet]";
static const char prune_about[] =
    "Remove the oldest entries until the archive is within every limit given:\n"
    "at most N entries, at most B bytes of keys and values, none older than\n"
    "the duration (30s, 15m, 2h, 7d); prints a summary line, or with --json\n"
    "{\"pruned\": N, \"left\": M, \"untimed\": U, \"damaged\": D, \"url\": URL}.\n"
    "A progress line (scanning, then removing) shows on stderr when it is a\n"
    "terminal; --progress and --quiet force it on or off.\n";

int cli_cmd_prune(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(prune_usage, prune_about);
    int mode, st = cli_progress_mode(&argc, argv, &mode);
    if (st)
        return st;
    bool json = cli_take_flag(&argc, argv, "--json");
    const char *url = NULL, *val;
    bool by_count = false, by_bytes = false, by_time = false;
    uint64_t max_entries = 0, max_bytes = 0, older_s = 0;
    for (int i = 0; i < argc; i++) {
        int r;
        const char *opt = argv[i];
        if ((r = cli_take_opt(argc, argv, &i, "--max-entries", &val)) != 0) {
            if (r < 0 || !parse_scaled(val, no_units, &max_entries))
                return cli_usage("prune: --max-entries needs a count, not '%s'", r < 0 ? "" : val);
            by_count = true;
        } else if ((r = cli_take_opt(argc, argv, &i, "--max-bytes", &val)) != 0) {
            if (r < 0 || !parse_scaled(val, byte_units, &max_bytes))
                return cli_usage(
                    "prune: --max-bytes needs bytes like 500000, 64K, 10M, 2G, not '%s'",
                    r < 0 ? "" : val);
            by_bytes = true;
        } else if ((r = cli_take_opt(argc, argv, &i, "--older-than", &val)) != 0) {
            if (r < 0 || !parse_scaled(val, time_units, &older_s))
                return cli_usage(
                    "prune: --older-than needs a duration like 30s, 15m, 2h, 7d, not '%s'",
                    r < 0 ? "" : val);
            by_time = true;
        } else if (opt[0] == '-' && opt[1]) {
            return cli_usage("prune: unknown option '%s'", opt);
        } else if (!url) {
            url = opt;
        } else {
            return cli_usage("prune: unexpected argument '%s'", opt);
        }
    }
    if (!url || !(by_count || by_bytes || by_time))
        return url ? cli_usage("prune: give at least one of --max-entries, --max-bytes, "
                               "--older-than")
                   : cli_usage("%s", prune_usage);
    kl_archive *ar;
    if ((st = cli_open(&ar, url, false)) != 0)
        return st;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;

    /* Keys first, deletes after: not every backend survives deleting
     * under a live cursor. */
    prune_entry *ents = NULL;
    size_t n = 0, cap = 0, damaged = 0, untimed = 0;
    kl_archive_iter *it = NULL;
    kl_buf key = KL_BUF_INIT;
    size_t stored = 0;
    if (mode != CLI_PROGRESS_OFF)
        kl_archive_count(ar, &stored);
    cli_progress pg;
    cli_progress_start(&pg, mode, "prune: scanning", false, stored);
    int rc = kl_archive_iter_new(ar, &it);
    while (!rc) {
        int r = cli_next_entry(it, kl_archive_url(ar), true, &key, NULL, &damaged);
        if (r <= 0) {
            rc = r;
            break;
        }
        kl_entry_info info = {0, 0};
        if ((r = kl_archive_stat(ar, key.data, key.len, &info)) == KL_ENOTFOUND)
            continue; /* removed meanwhile */
        if (r == KL_ECORRUPT) {
            fprintf(stderr, "klepto: %s: skipped: %s\n", kl_archive_url(ar), kl_errmsg());
            damaged++;
            continue;
        }
        if (r) {
            rc = r;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            prune_entry *ne = realloc(ents, nc * sizeof *ne);
            if (!ne) {
                rc = KL_ENOMEM;
                break;
            }
            ents = ne;
            cap = nc;
        }
        ents[n].key = key; /* the entry takes the buffer */
        key = (kl_buf)KL_BUF_INIT;
        ents[n].ns = info.stored_ns;
        ents[n].size = info.size;
        untimed += info.stored_ns == 0;
        n++;
        cli_progress_add(&pg, 1);
    }
    kl_archive_iter_free(it);
    cli_progress_end(&pg);
    kl_buf_free(&key);

    size_t cut = 0, pruned = 0, left = 0;
    if (!rc && n) {
        /* Oldest first; entries whose backend keeps no stored time (0)
         * sort first and so count as the oldest. */
        qsort(ents, n, sizeof *ents, by_age);
        if (by_time) {
            /* an age beyond the epoch leaves nothing older */
            int64_t limit = older_s > (uint64_t)now / 1000000000
                                ? INT64_MIN
                                : now - (int64_t)older_s * 1000000000;
            while (cut < n && ents[cut].ns < limit)
                cut++;
        }
        if (by_count)
            while (n - cut > max_entries)
                cut++;
        if (by_bytes) {
            uint64_t total = 0;
            for (size_t i = cut; i < n; i++)
                total += ents[i].size;
            while (cut < n && total > max_bytes)
                total -= ents[cut++].size;
        }
        /* in batches: one transaction or file rewrite each where the
         * archive has them */
        enum { BATCH = 1000 };
        const void *keys[BATCH];
        size_t klens[BATCH];
        cli_progress_start(&pg, cut ? mode : CLI_PROGRESS_OFF, "prune: removing", false, cut);
        for (size_t i = 0; i < cut && !rc; i += BATCH) {
            size_t m = cut - i < BATCH ? cut - i : BATCH, done = 0;
            for (size_t j = 0; j < m; j++) {
                keys[j] = ents[i + j].key.data;
                klens[j] = ents[i + j].key.len;
            }
            rc = kl_archive_del_many(ar, m, keys, klens, &done);
            pruned += done;
            cli_progress_add(&pg, done);
        }
        cli_progress_end(&pg);
    }
    if (!rc)
        rc = kl_archive_count(ar, &left);
    if (rc)
        st = cli_fail(rc, url);
    int rc2 = kl_archive_close(ar);
    if (rc2 && !st)
        st = cli_fail(rc2, url);
    if (!st) {
        char *shown = cli_url_shown(url);
        if (untimed && cut)
            fprintf(stderr,
                    "klepto: %s: %zu entries have no stored time (the backend keeps none); "
                    "they counted as the oldest\n",
                    shown, untimed);
        if (json) {
            cli_json o = {KL_BUF_INIT};
            cli_json_uint(&o, "pruned", pruned);
            cli_json_uint(&o, "left", left);
            cli_json_uint(&o, "untimed", untimed);
            cli_json_uint(&o, "damaged", damaged);
            cli_json_str(&o, "url", shown);
            if ((rc = cli_json_print(&o)) != 0)
                st = cli_fail(rc, "prune");
        } else {
            printf("pruned %zu entries from %s (%zu left)\n", pruned, shown, left);
        }
        cli_url_free(shown);
        if (damaged && !st)
            st = CLI_FAILED_CHECK;
    }
    for (size_t i = 0; i < n; i++)
        kl_buf_free(&ents[i].key);
    free(ents);
    return st;
}
