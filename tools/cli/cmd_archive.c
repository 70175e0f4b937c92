/* SPDX-License-Identifier: BSD-3-Clause */
/* Archive-managing commands: put, rm, stats, verify, clear, copy, compact
 * (CLI.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "klepto/cached.h"
#include "klepto/sys/errors.h"

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

static const char stats_usage[] = "usage: klepto stats URL [--json] [--human|--exact] [--zero]";
static const char stats_about[] =
    "Print what the archive holds, one name=value per line: entries, bytes\n"
    "(keys + values), storage (the bytes it takes: file blocks, SQLite pages,\n"
    "Redis memory; keys + values where nothing is measured), format, damaged\n"
    "entries when any, then the backend's own facts.  Sizes (bytes, storage\n"
    "and the facts named *_bytes) are in human units (1.5 MiB) when\n"
    "stdout is a terminal and exact byte counts otherwise, as scripts read\n"
    "them; --human and --exact choose.  --json prints one JSON object with\n"
    "the same names, sizes exact, numbers as numbers.\n"
    "Then the statistics the memos using the archive left (where their URL\n"
    "said ?stats=true), summed over their runs: runs, hits, misses, loads,\n"
    "evictions, errors, hit_rate\n"
    "(calls answered from memory or the archive, of all calls) and\n"
    "time_saved (those calls times the measured run time of a miss; a\n"
    "percentage and 1.5s on a terminal, a ratio and seconds otherwise),\n"
    "runs_damaged when records are damaged.  --zero removes those\n"
    "statistics instead and says how many records went.\n";

/* A name=value line; sizes in human units when human. */
static void stats_line(const char *name, const char *value, bool human)
{
    size_t n = strlen(name);
    bool size = !strcmp(name, "bytes") || !strcmp(name, "storage") ||
                (n > 6 && !strcmp(name + n - 6, "_bytes"));
    char *end;
    unsigned long long v = strtoull(value, &end, 10);
    char buf[32];
    if (human && size && *value >= '0' && *value <= '9' && !*end)
        value = cli_human_bytes(v, buf, sizeof buf);
    printf("%s=%s\n", name, value);
}

/* Each "name=value" line of the backend's facts, to a JSON member or a line. */
static void stats_facts(const char *facts, cli_json *o, bool human)
{
    char name[128], value[1024];
    while (*facts) {
        const char *nl = strchr(facts, '\n'), *eq = strchr(facts, '=');
        size_t len = nl ? (size_t)(nl - facts) : strlen(facts);
        if (eq && eq < facts + len && (size_t)(eq - facts) < sizeof name &&
            len - (size_t)(eq - facts) - 1 < sizeof value) {
            memcpy(name, facts, (size_t)(eq - facts));
            name[eq - facts] = '\0';
            memcpy(value, eq + 1, len - (size_t)(eq - facts) - 1);
            value[len - (size_t)(eq - facts) - 1] = '\0';
            if (o)
                cli_json_fact(o, name, value);
            else
                stats_line(name, value, human);
        } else if (!o) {
            printf("%.*s\n", (int)len, facts);
        }
        facts += len + (nl ? 1 : 0);
    }
}

int cli_cmd_stats(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(stats_usage, stats_about);
    bool json = cli_take_flag(&argc, argv, "--json");
    bool human = cli_take_flag(&argc, argv, "--human");
    bool exact = cli_take_flag(&argc, argv, "--exact");
    bool zero = cli_take_flag(&argc, argv, "--zero");
    if (human && exact)
        return cli_usage("stats: --human and --exact contradict each other: give one");
    int st = cli_reject_options(argc, argv, "stats");
    if (st)
        return st;
    if (argc != 1)
        return cli_usage("%s", stats_usage);
    if (zero)
        return cli_run_stats_zero(argv[0], json);
    if (!human && !exact)
        human = isatty(1) == 1;
    kl_archive *ar;
    if ((st = cli_open_ro(&ar, argv[0])) != 0)
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
    uint64_t storage = 0; /* measured, or keys + values */
    bool measured = false;
    if (!rc)
        rc = kl_archive_storage_bytes(ar, &storage, &measured);
    if (!rc)
        rc = kl_archive_describe(ar, &facts);
    if (rc) {
        st = cli_fail(rc, "stats");
    } else if (json) {
        cli_json o = {KL_BUF_INIT};
        cli_json_uint(&o, "entries", entries);
        cli_json_uint(&o, "bytes", bytes);
        cli_json_uint(&o, "storage", storage);
        cli_json_bool(&o, "storage_measured", measured);
        cli_json_str(&o, "format", kl_archive_scheme(ar));
        cli_json_uint(&o, "damaged", damaged);
        stats_facts(facts.len ? kl_buf_cstr(&facts) : "", &o, false);
        if ((rc = cli_run_stats_print(ar, &o, false)) != 0)
            kl_buf_free(&o.line);
        if (rc || (rc = cli_json_print(&o)) != 0)
            st = cli_fail(rc, "stats");
    } else {
        char num[32];
        printf("entries=%zu\n", entries);
        snprintf(num, sizeof num, "%llu", bytes);
        stats_line("bytes", num, human);
        snprintf(num, sizeof num, "%llu", (unsigned long long)storage);
        stats_line("storage", num, human);
        printf("format=%s\n", kl_archive_scheme(ar));
        if (damaged)
            printf("damaged=%zu\n", damaged);
        stats_facts(facts.len ? kl_buf_cstr(&facts) : "", NULL, human);
        if ((rc = cli_run_stats_print(ar, NULL, human)) != 0)
            st = cli_fail(rc, "stats");
    }
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&facts);
    st = cli_close(ar, argv[0], st);
    return st;
}

static const char verify_usage[] =
    "usage: klepto verify URL [--repair] [--json] [--progress|--quiet]";
static const char verify_about[] =
    "Check every entry's framing, checksum and decoding; print each problem\n"
    "found, one per line, and exit 1 when there is any.  --repair drops the\n"
    "damaged entries.  --json prints one JSON object instead: {\"problems\": N,\n"
    "\"repair\": false, \"messages\": [...]}.  A progress line shows on stderr\n"
    "when it is a terminal; --progress and --quiet force it on or off.\n";

/* The report's lines as a JSON array. */
static void json_lines(kl_buf *out, const char *text)
{
    kl_buf_append_str(out, "[");
    bool first = true;
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        kl_value t = kl_value_text_ref(text, len);
        if (!first)
            kl_buf_append_str(out, ", ");
        kl_json(out, &t);
        first = false;
        text += len + (nl ? 1 : 0);
    }
    kl_buf_append_str(out, "]");
}

int cli_cmd_verify(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(verify_usage, verify_about);
    int mode, st = cli_progress_mode(&argc, argv, &mode);
    if (st)
        return st;
    bool json = cli_take_flag(&argc, argv, "--json");
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
    st = repair ? cli_open(&ar, url, false) : cli_open_ro(&ar, url);
    if (st)
        return st;
    /* the library checks in one call: the line shows the entries to check
     * while it runs, and the rate at the end */
    size_t total = 0;
    cli_progress pg;
    if (mode != CLI_PROGRESS_OFF)
        kl_archive_count(ar, &total);
    /* named as before there was a progress line: "verify URL" (masked) */
    kl_buf what = KL_BUF_INIT;
    kl_buf_printf(&what, "verify %s", kl_archive_url(ar));
    cli_progress_start(&pg, mode, kl_buf_cstr(&what) ? kl_buf_cstr(&what) : "verify", false, total);
    kl_buf report = KL_BUF_INIT;
    size_t problems = 0;
    int rc = kl_archive_verify(ar, repair, &report, &problems);
    if (!rc)
        cli_progress_add(&pg, total);
    cli_progress_end(&pg);
    kl_buf_free(&what);
    if (json && !rc) {
        cli_json o = {KL_BUF_INIT};
        kl_buf msgs = KL_BUF_INIT;
        json_lines(&msgs, report.len ? kl_buf_cstr(&report) : "");
        cli_json_uint(&o, "problems", problems);
        cli_json_bool(&o, "repair", repair);
        cli_json_raw(&o, "messages", kl_buf_cstr(&msgs) ? kl_buf_cstr(&msgs) : "[]");
        kl_buf_free(&msgs);
        if ((rc = cli_json_print(&o)) != 0)
            st = cli_fail(rc, "verify");
    } else if (report.len) {
        fputs(kl_buf_cstr(&report), stdout);
    }
    if (rc && !st)
        st = cli_fail(rc, "verify");
    else if (!st && problems)
        st = CLI_FAILED_CHECK; /* damage was found (and, with --repair, dropped) */
    st = cli_close(ar, "verify", st);
    kl_buf_free(&report);
    return st;
}

/* clear and compact: one library call on the whole archive, between the
 * first and the last drawing of the progress line. */
static int whole_archive(int argc, char **argv, const char *cmd, const char *usage,
                         int (*op)(kl_archive *))
{
    int mode, st = cli_progress_mode(&argc, argv, &mode);
    if (st || (st = cli_reject_options(argc, argv, cmd)) != 0)
        return st;
    if (argc != 1)
        return cli_usage("%s", usage);
    kl_archive *ar;
    if ((st = cli_open(&ar, argv[0], false)) != 0)
        return st;
    size_t total = 0;
    if (mode != CLI_PROGRESS_OFF)
        kl_archive_count(ar, &total);
    cli_progress pg;
    cli_progress_start(&pg, mode, cmd, false, total);
    int rc = op(ar);
    if (!rc)
        cli_progress_add(&pg, total);
    cli_progress_end(&pg);
    if (rc)
        st = cli_fail(rc, cmd);
    return cli_close(ar, cmd, st);
}

static const char clear_usage[] = "usage: klepto clear URL [--progress|--quiet]";
static const char clear_about[] =
    "Remove every entry of the archive at URL.  A progress line shows on\n"
    "stderr when it is a terminal; --progress and --quiet force it on or off.\n";

int cli_cmd_clear(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(clear_usage, clear_about);
    return whole_archive(argc, argv, "clear", clear_usage, kl_archive_clear);
}

static const char compact_usage[] = "usage: klepto compact URL [--progress|--quiet]";
static const char compact_about[] =
    "Reclaim the space of replaced and deleted entries.  A progress line\n"
    "shows on stderr when it is a terminal; --progress and --quiet force it\n"
    "on or off.\n";

int cli_cmd_compact(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(compact_usage, compact_about);
    return whole_archive(argc, argv, "compact", compact_usage, kl_archive_compact);
}

/* Entries written per put_many: one transaction (or file append) each.
 * Large batches matter: each commit rewrites every page it touched, and
 * keys in no order touch pages all over an SQL table, so 1M entries in
 * batches of 512 wrote the table's pages some 2000 times over.  A batch
 * also ends at COPY_BATCH_BYTES of keys and values, to bound memory. */
enum { COPY_BATCH = 1 << 17, COPY_BATCH_BYTES = 64 << 20 };

typedef struct copy_batch {
    kl_buf keys[COPY_BATCH], vals[COPY_BATCH];
    const void *kp[COPY_BATCH], *vp[COPY_BATCH];
    size_t kl[COPY_BATCH], vl[COPY_BATCH];
} copy_batch;

static const char copy_usage[] = "usage: klepto copy SRC DST [--json] [--progress|--quiet]";
static const char copy_about[] =
    "Copy every entry of the archive SRC into the archive DST (any two kinds;\n"
    "DST is created when missing) and print a summary line; --json prints\n"
    "{\"copied\": N, \"damaged\": D, \"from\": SRC, \"to\": DST} instead.  A\n"
    "progress line shows on stderr when it is a terminal; --progress and\n"
    "--quiet force it on or off.\n";

int cli_cmd_copy(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(copy_usage, copy_about);
    int mode, st = cli_progress_mode(&argc, argv, &mode);
    if (st)
        return st;
    bool json = cli_take_flag(&argc, argv, "--json");
    if ((st = cli_reject_options(argc, argv, "copy")) != 0)
        return st;
    if (argc != 2)
        return cli_usage("%s", copy_usage);
    kl_archive *src, *dst;
    if ((st = cli_open_ro(&src, argv[0])) != 0)
        return st;
    if ((st = cli_open(&dst, argv[1], true)) != 0) {
        kl_archive_close(src);
        return st;
    }
    size_t total = 0;
    if (mode != CLI_PROGRESS_OFF)
        kl_archive_count(src, &total);
    cli_progress pg;
    cli_progress_start(&pg, mode, "copy", false, total);
    kl_archive_iter *it = NULL;
    copy_batch *b = calloc(1, sizeof *b);
    kl_buf *keys = b ? b->keys : NULL, *vals = b ? b->vals : NULL;
    size_t n = 0, used = 0, copied = 0, damaged = 0, bytes = 0; /* used: buffers touched */
    int rc = b ? kl_archive_iter_new(src, &it) : kl_seterr(KL_ENOMEM, "copy: out of memory");
    for (bool done = rc != 0; !done;) {
        if (n >= used)
            used = n + 1;
        int r = cli_next_entry(it, kl_archive_url(src), true, &keys[n], &vals[n], &damaged);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r == 1) {
            bytes += keys[n].len + vals[n].len;
            n++;
        }
        done = r == 0;
        if (n == COPY_BATCH || bytes >= COPY_BATCH_BYTES || (done && n)) {
            for (size_t i = 0; i < n; i++) {
                b->kp[i] = keys[i].data;
                b->kl[i] = keys[i].len;
                b->vp[i] = vals[i].data;
                b->vl[i] = vals[i].len;
            }
            if ((rc = kl_archive_put_many(dst, n, b->kp, b->kl, b->vp, b->vl)) != 0)
                break;
            copied += n;
            cli_progress_add(&pg, n);
            n = 0;
            bytes = 0;
        }
    }
    kl_archive_iter_free(it);
    cli_progress_end(&pg);
    if (rc)
        st = cli_fail(rc, "copy");
    int rc2 = kl_archive_close(dst);
    if (rc2 && !st)
        st = cli_fail(rc2, "copy");
    kl_archive_close(src);
    if (!st) {
        char *from = cli_url_shown(argv[0]), *to = cli_url_shown(argv[1]);
        if (json) {
            cli_json o = {KL_BUF_INIT};
            cli_json_uint(&o, "copied", copied);
            cli_json_uint(&o, "damaged", damaged);
            cli_json_str(&o, "from", from);
            cli_json_str(&o, "to", to);
            if ((rc = cli_json_print(&o)) != 0)
                st = cli_fail(rc, "copy");
        } else {
            printf("copied %zu entries from %s to %s", copied, from, to);
            if (damaged)
                printf(" (%zu damaged entries skipped)", damaged);
            printf("\n");
        }
        cli_url_free(from);
        cli_url_free(to);
        if (damaged && !st)
            st = CLI_FAILED_CHECK;
    }
    for (size_t i = 0; b && i < used; i++) {
        kl_buf_free(&keys[i]);
        kl_buf_free(&vals[i]);
    }
    free(b);
    return st;
}
