/* SPDX-License-Identifier: BSD-3-Clause */
/* Trimming an archive to limits: prune (CLI.md), over kl_archive_prune.
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

/* A count: digits only; false for anything else or on overflow. */
static bool parse_count(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno == ERANGE || *end)
        return false;
    *out = (uint64_t)n;
    return true;
}

/* kl_archive_prune's callbacks: the progress line and the skipped
 * entries on stderr. */
typedef struct prune_ui {
    int mode;
    const char *url;
    cli_progress pg;
    bool started;
    kl_prune_phase phase;
    uint64_t done;
} prune_ui;

static void prune_progress(void *ctx, kl_prune_phase phase, uint64_t done, uint64_t total)
{
    prune_ui *ui = ctx;
    if (!ui->started || phase != ui->phase) {
        if (ui->started)
            cli_progress_end(&ui->pg);
        cli_progress_start(&ui->pg, ui->mode,
                           phase == KL_PRUNE_SCANNING ? "prune: scanning" : "prune: removing",
                           false, total);
        ui->started = true;
        ui->phase = phase;
        ui->done = 0;
    }
    if (done > ui->done) {
        cli_progress_add(&ui->pg, done - ui->done);
        ui->done = done;
    }
}

static void prune_skipped(void *ctx, const char *msg)
{
    const prune_ui *ui = ctx;
    fprintf(stderr, "klepto: %s: skipped: %s\n", ui->url, msg);
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
            if (r < 0 || !parse_count(val, &max_entries))
                return cli_usage("prune: --max-entries needs a count, not '%s'", r < 0 ? "" : val);
            by_count = true;
        } else if ((r = cli_take_opt(argc, argv, &i, "--max-bytes", &val)) != 0) {
            /* sizes as ?max_bytes= reads them (kl_parse_size) */
            if (r < 0 || kl_parse_size(val, "prune", &max_bytes))
                return cli_usage(
                    "prune: --max-bytes needs bytes like 500000, 64K, 10M, 2G, not '%s'",
                    r < 0 ? "" : val);
            by_bytes = true;
        } else if ((r = cli_take_opt(argc, argv, &i, "--older-than", &val)) != 0) {
            /* durations as ?ttl= reads them (kl_parse_duration) */
            if (r < 0 || kl_parse_duration(val, "prune", &older_s))
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
    prune_ui ui = {mode, kl_archive_url(ar), {0}, false, KL_PRUNE_SCANNING, 0};
    kl_prune_opts po = KL_PRUNE_OPTS_INIT;
    if (by_count)
        po.max_entries = max_entries;
    if (by_bytes)
        po.max_bytes = max_bytes;
    if (by_time)
        po.older_than = older_s;
    po.progress = mode != CLI_PROGRESS_OFF ? prune_progress : NULL;
    po.skipped = prune_skipped;
    po.ctx = &ui;
    kl_prune_result res = {0, 0, 0, 0};
    int rc = kl_archive_prune(ar, &po, &res);
    if (ui.started)
        cli_progress_end(&ui.pg);
    size_t pruned = res.pruned, left = res.left, untimed = res.untimed, damaged = res.damaged;
    if (rc)
        st = cli_fail(rc, url);
    int rc2 = kl_archive_close(ar);
    if (rc2 && !st)
        st = cli_fail(rc2, url);
    if (!st) {
        char *shown = cli_url_shown(url);
        if (untimed && pruned)
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
    return st;
}
