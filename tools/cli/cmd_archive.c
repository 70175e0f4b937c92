/* SPDX-License-Identifier: BSD-3-Clause */
/* Archive-managing commands: put, rm, stats, verify, clear, copy, compact
 * (CLI.md). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "klepto/cached.h"

static const char put_usage[] = "usage: klepto put URL KEY VALUE";
static const char put_about[] =
    "Store the value literal VALUE under the key literal KEY, replacing an\n"
    "entry stored under that key; the archive is created when missing.\n";

int cli_cmd_put(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(put_usage, put_about);
    if (argc != 3)
        return cli_usage("%s", put_usage);
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT;
    kl_value v;
    int rc = kl_parse(argv[2], strlen(argv[2]), &v);
    if (rc)
        return cli_fail(rc, argv[2]);
    rc = kl_encode(&val, &v, 0);
    kl_value_free(&v);
    if (rc) {
        kl_buf_free(&val);
        return cli_fail(rc, argv[2]);
    }
    kl_archive *ar;
    int st = cli_open(&ar, argv[0], true);
    if (st) {
        kl_buf_free(&val);
        return st;
    }
    /* an entry already stored under this literal (exactly or untyped) is
     * replaced; otherwise the exact encoding is the key */
    rc = cli_find_key(ar, argv[1], &key);
    if (rc)
        st = cli_fail(rc, argv[1]);
    else if ((rc = kl_archive_put(ar, key.data, key.len, val.data, val.len)) != 0)
        st = cli_fail(rc, "put");
    rc = kl_archive_close(ar);
    if (rc && !st)
        st = cli_fail(rc, "put");
    kl_buf_free(&key);
    kl_buf_free(&val);
    return st;
}

static const char rm_usage[] = "usage: klepto rm URL KEY";
static const char rm_about[] =
    "Delete the entry stored under the key literal KEY.  A key not stored\n"
    "exits 1.\n";

int cli_cmd_rm(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(rm_usage, rm_about);
    if (argc != 2)
        return cli_usage("%s", rm_usage);
    kl_archive *ar;
    int st = cli_open(&ar, argv[0], false);
    if (st)
        return st;
    kl_buf key = KL_BUF_INIT;
    int rc = cli_find_key(ar, argv[1], &key);
    if (rc) {
        st = cli_fail(rc, argv[1]);
    } else if ((rc = kl_archive_del(ar, key.data, key.len)) != 0) {
        if (rc == KL_ENOTFOUND) {
            fprintf(stderr, "klepto: %s: key %s not found\n", kl_archive_url(ar), argv[1]);
            st = CLI_NOTFOUND;
        } else {
            st = cli_fail(rc, "rm");
        }
    }
    rc = kl_archive_close(ar);
    if (rc && !st)
        st = cli_fail(rc, "rm");
    kl_buf_free(&key);
    return st;
}

static const char stats_usage[] = "usage: klepto stats URL";
static const char stats_about[] =
    "Print what the archive holds, one name=value per line: entries, bytes,\n"
    "format, damaged entries when any, then the backend's own facts.\n";

int cli_cmd_stats(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(stats_usage, stats_about);
    if (argc != 1)
        return cli_usage("%s", stats_usage);
    kl_archive *ar;
    int st = cli_open_ro(&ar, argv[0]);
    if (st)
        return st;
    kl_archive_iter *it = NULL;
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, facts = KL_BUF_INIT;
    size_t entries = 0, damaged = 0;
    unsigned long long bytes = 0;
    int rc = kl_archive_iter_new(ar, &it);
    while (!rc) {
        int r = cli_next_entry(it, kl_archive_url(ar), false, &k, &v, &damaged);
        if (r <= 0) {
            rc = r;
            break;
        }
        entries++;
        bytes += k.len + v.len;
    }
    kl_archive_iter_free(it);
    if (!rc)
        rc = kl_archive_describe(ar, &facts);
    if (rc) {
        st = cli_fail(rc, "stats");
    } else {
        printf("entries=%zu\nbytes=%llu\nformat=%s\n", entries, bytes, kl_archive_scheme(ar));
        if (damaged)
            printf("damaged=%zu\n", damaged);
        fputs(kl_buf_cstr(&facts), stdout);
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&facts);
    st = cli_close(ar, argv[0], st);
    return st;
}

static const char verify_usage[] = "usage: klepto verify URL [--repair]";
static const char verify_about[] =
    "Check every entry's framing, checksum and decoding; print each problem\n"
    "found, one per line, and exit 1 when there is any.  --repair drops the\n"
    "damaged entries.\n";

int cli_cmd_verify(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(verify_usage, verify_about);
    const char *url = NULL;
    bool repair = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--repair"))
            repair = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage("verify: unknown option '%s'", argv[i]);
        else if (!url)
            url = argv[i];
        else
            return cli_usage("verify: unexpected argument '%s'", argv[i]);
    }
    if (!url)
        return cli_usage("%s", verify_usage);
    kl_archive *ar;
    int st = repair ? cli_open(&ar, url, false) : cli_open_ro(&ar, url);
    if (st)
        return st;
    if (isatty(2))
        fprintf(stderr, "checking %s ...\r", kl_archive_url(ar));
    kl_buf report = KL_BUF_INIT;
    size_t problems = 0;
    int rc = kl_archive_verify(ar, repair, &report, &problems);
    if (isatty(2))
        fprintf(stderr, "\033[K");
    if (report.len)
        fputs(kl_buf_cstr(&report), stdout);
    if (rc)
        st = cli_fail(rc, "verify");
    else if (problems)
        st = CLI_FAILED_CHECK; /* damage was found (and, with --repair, dropped) */
    rc = kl_archive_close(ar);
    if (rc && !st)
        st = cli_fail(rc, "verify");
    kl_buf_free(&report);
    return st;
}

static const char clear_usage[] = "usage: klepto clear URL";
static const char clear_about[] = "Remove every entry of the archive at URL.\n";

int cli_cmd_clear(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(clear_usage, clear_about);
    if (argc != 1)
        return cli_usage("%s", clear_usage);
    kl_archive *ar;
    int st = cli_open(&ar, argv[0], false);
    if (st)
        return st;
    int rc = kl_archive_clear(ar);
    if (rc)
        st = cli_fail(rc, "clear");
    rc = kl_archive_close(ar);
    if (rc && !st)
        st = cli_fail(rc, "clear");
    return st;
}

static const char compact_usage[] = "usage: klepto compact URL";
static const char compact_about[] = "Reclaim the space of replaced and deleted entries.\n";

int cli_cmd_compact(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(compact_usage, compact_about);
    if (argc != 1)
        return cli_usage("%s", compact_usage);
    kl_archive *ar;
    int st = cli_open(&ar, argv[0], false);
    if (st)
        return st;
    int rc = kl_archive_compact(ar);
    if (rc)
        st = cli_fail(rc, "compact");
    rc = kl_archive_close(ar);
    if (rc && !st)
        st = cli_fail(rc, "compact");
    return st;
}

enum { COPY_BATCH = 512 };

static const char copy_usage[] = "usage: klepto copy SRC DST";
static const char copy_about[] =
    "Copy every entry of the archive SRC into the archive DST (any two kinds;\n"
    "DST is created when missing) and print a summary line.\n";

int cli_cmd_copy(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(copy_usage, copy_about);
    if (argc != 2)
        return cli_usage("%s", copy_usage);
    kl_archive *src, *dst;
    int st = cli_open_ro(&src, argv[0]);
    if (st)
        return st;
    if ((st = cli_open(&dst, argv[1], true)) != 0) {
        kl_archive_close(src);
        return st;
    }
    bool tty = isatty(2);
    kl_archive_iter *it = NULL;
    kl_buf keys[COPY_BATCH], vals[COPY_BATCH];
    memset(keys, 0, sizeof keys);
    memset(vals, 0, sizeof vals);
    const void *kp[COPY_BATCH], *vp[COPY_BATCH];
    size_t kl[COPY_BATCH], vl[COPY_BATCH], n = 0, copied = 0, damaged = 0;
    int rc = kl_archive_iter_new(src, &it);
    for (bool done = rc != 0; !done;) {
        int r = cli_next_entry(it, kl_archive_url(src), true, &keys[n], &vals[n], &damaged);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r == 1)
            n++;
        done = r == 0;
        if (n == COPY_BATCH || (done && n)) {
            for (size_t i = 0; i < n; i++) {
                kp[i] = keys[i].data;
                kl[i] = keys[i].len;
                vp[i] = vals[i].data;
                vl[i] = vals[i].len;
            }
            if ((rc = kl_archive_put_many(dst, n, kp, kl, vp, vl)) != 0)
                break;
            copied += n;
            n = 0;
            if (tty)
                fprintf(stderr, "\rcopied %zu entries", copied);
        }
    }
    kl_archive_iter_free(it);
    if (tty)
        fprintf(stderr, "\r\033[K");
    if (rc)
        st = cli_fail(rc, "copy");
    int rc2 = kl_archive_close(dst);
    if (rc2 && !st)
        st = cli_fail(rc2, "copy");
    kl_archive_close(src);
    if (!st) {
        char *from = cli_url_shown(argv[0]), *to = cli_url_shown(argv[1]);
        printf("copied %zu entries from %s to %s", copied, from, to);
        cli_url_free(from);
        cli_url_free(to);
        if (damaged)
            printf(" (%zu damaged entries skipped)", damaged);
        printf("\n");
        if (damaged)
            st = CLI_FAILED_CHECK;
    }
    for (size_t i = 0; i < COPY_BATCH; i++) {
        kl_buf_free(&keys[i]);
        kl_buf_free(&vals[i]);
    }
    return st;
}
