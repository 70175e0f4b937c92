/* SPDX-License-Identifier: BSD-3-Clause */
/* The run statistics part of `klepto stats` (kl_archive_run_stats): the
 * lines or JSON members it adds after the archive's own facts, and
 * `klepto stats --zero`. */
#include "cli.h"

#include <stdio.h>

/* Calls answered without running the function (hits and loads) over all
 * calls; 0 when there were none. */
static double hit_rate(const kl_run_stats *s)
{
    double calls = (double)s->hits + (double)s->misses + (double)s->loads;
    return calls > 0 ? ((double)s->hits + (double)s->loads) / calls : 0;
}

int cli_run_stats_print(kl_archive *ar, cli_json *o, bool human)
{
    kl_run_stats s;
    int rc = kl_archive_run_stats(ar, &s);
    if (rc)
        return rc;
    double saved = (double)s.saved_ns / 1e9;
    char num[64];
    if (o) {
        cli_json_uint(o, "runs", s.records);
        cli_json_uint(o, "hits", s.hits);
        cli_json_uint(o, "misses", s.misses);
        cli_json_uint(o, "loads", s.loads);
        cli_json_uint(o, "evictions", s.evictions);
        cli_json_uint(o, "errors", s.errors);
        snprintf(num, sizeof num, "%.6f", hit_rate(&s));
        cli_json_raw(o, "hit_rate", num);
        snprintf(num, sizeof num, "%.9f", saved);
        cli_json_raw(o, "time_saved", num);
        cli_json_uint(o, "runs_damaged", s.damaged);
    } else {
        printf("runs=%llu\nhits=%llu\nmisses=%llu\nloads=%llu\nevictions=%llu\nerrors=%llu\n",
               (unsigned long long)s.records, (unsigned long long)s.hits,
               (unsigned long long)s.misses, (unsigned long long)s.loads,
               (unsigned long long)s.evictions, (unsigned long long)s.errors);
        if (human)
            printf("hit_rate=%.1f%%\ntime_saved=%s\n", 100 * hit_rate(&s),
                   cli_human_seconds(saved, num, sizeof num));
        else
            printf("hit_rate=%.6f\ntime_saved=%.9f\n", hit_rate(&s), saved);
        if (s.damaged)
            printf("runs_damaged=%llu\n", (unsigned long long)s.damaged);
    }
    if (s.damaged)
        fprintf(stderr,
                "klepto: %s: %llu damaged run statistics record%s left out "
                "(klepto verify --repair resets them)\n",
                kl_archive_url(ar), (unsigned long long)s.damaged, s.damaged == 1 ? "" : "s");
    return 0;
}

int cli_run_stats_zero(const char *url, bool json)
{
    kl_archive *ar;
    int st = cli_open(&ar, url, false);
    if (st)
        return st;
    size_t removed = 0;
    int rc = kl_archive_run_stats_zero(ar, &removed);
    if (rc) {
        st = cli_fail(rc, "stats --zero");
    } else if (json) {
        cli_json o = {KL_BUF_INIT};
        cli_json_uint(&o, "zeroed", removed);
        if ((rc = cli_json_print(&o)) != 0)
            st = cli_fail(rc, "stats --zero");
    } else {
        printf("run statistics zeroed: %zu record%s removed\n", removed, removed == 1 ? "" : "s");
    }
    return cli_close(ar, url, st);
}
