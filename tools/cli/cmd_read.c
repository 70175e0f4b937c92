/* SPDX-License-Identifier: BSD-3-Clause */
/* Reading commands: ls, get, count. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char ls_usage[] = "usage: klepto ls URL [--long] [--json]";
static const char ls_about[] =
    "List the entries of the archive at URL: one key literal per line.\n"
    "--long adds each value's size in bytes and its age (- when unknown);\n"
    "--json prints one JSON object per entry instead (key, value, size, stored).\n";

int cli_cmd_ls(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(ls_usage, ls_about);
    const char *url = NULL;
    bool lng = false, json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--long"))
            lng = true;
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage("ls: unknown option '%s'", argv[i]);
        else if (!url)
            url = argv[i];
        else
            return cli_usage("ls: unexpected argument '%s'", argv[i]);
    }
    if (!url)
        return cli_usage("%s", ls_usage);
    kl_archive *ar;
    int st = cli_open_ro(&ar, url);
    if (st)
        return st;
    kl_archive_iter *it;
    int rc = kl_archive_iter_new(ar, &it);
    if (rc) {
        st = cli_fail(rc, url);
        kl_archive_close(ar);
        return st;
    }
    kl_buf k = KL_BUF_INIT, v = KL_BUF_INIT, line = KL_BUF_INIT;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    while ((rc = kl_archive_iter_next(it, &k, (lng || json) ? &v : NULL)) != 0) {
        if (rc < 0) {
            st = cli_fail(rc, url);
            if (rc != KL_ECORRUPT)
                break;
            continue; /* a damaged entry is reported, the rest still listed */
        }
        line.len = 0;
        kl_value kv;
        if ((rc = kl_decode(k.data, k.len, &kv)) != 0) {
            st = cli_fail(rc, url);
            continue;
        }
        if (kv.type == KL_ARRAY)
            kv.flags |= KL_VALUE_TUPLE;
        kl_entry_info info = {0, 0};
        if (lng || json)
            kl_archive_stat(ar, k.data, k.len, &info);
        if (json) {
            kl_value vv;
            kl_buf_append_str(&line, "{\"key\": ");
            kl_json(&line, &kv);
            if (kl_decode(v.data, v.len, &vv) == 0) {
                kl_buf_append_str(&line, ", \"value\": ");
                kl_json(&line, &vv);
                kl_value_free(&vv);
            }
            kl_buf_printf(&line, ", \"size\": %zu", v.len);
            if (info.stored_ns)
                kl_buf_printf(&line, ", \"stored\": %.3f", info.stored_ns / 1e9);
            kl_buf_append_str(&line, "}");
        } else {
            kl_repr(&line, &kv);
            if (lng) {
                kl_buf_printf(&line, "\t%zu", v.len);
                if (info.stored_ns) /* age in seconds; clocks of other hosts may run ahead */
                    kl_buf_printf(&line, "\t%.0fs",
                                  now > info.stored_ns ? (now - info.stored_ns) / 1e9 : 0.0);
                else
                    kl_buf_append_str(&line, "\t-");
            }
        }
        kl_value_free(&kv);
        printf("%s\n", kl_buf_cstr(&line));
    }
    kl_archive_iter_free(it);
    kl_buf_free(&k);
    kl_buf_free(&v);
    kl_buf_free(&line);
    rc = kl_archive_close(ar);
    if (rc && !st)
        st = cli_fail(rc, url);
    return st;
}

static const char get_usage[] = "usage: klepto get URL KEY";
static const char get_about[] = "Print the value stored under the key literal KEY, as a literal.\n"
                                "A key not stored exits 1.\n";

int cli_cmd_get(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(get_usage, get_about);
    if (argc != 2)
        return cli_usage("%s", get_usage);
    kl_archive *ar;
    int st = cli_open_ro(&ar, argv[0]);
    if (st)
        return st;
    kl_buf key = KL_BUF_INIT, val = KL_BUF_INIT, out = KL_BUF_INIT;
    int rc = cli_find_key(ar, argv[1], &key);
    if (rc) {
        st = cli_fail(rc, argv[1]);
    } else if ((rc = kl_archive_get(ar, key.data, key.len, &val)) != 0) {
        st = rc == KL_ENOTFOUND
                 ? (fprintf(stderr, "klepto: %s: key %s not found\n", kl_archive_url(ar), argv[1]),
                    CLI_NOTFOUND)
                 : cli_fail(rc, argv[0]);
    } else if ((rc = cli_render_value(val.data, val.len, &out)) != 0) {
        st = cli_fail(rc, argv[0]);
    } else {
        printf("%s\n", kl_buf_cstr(&out));
    }
    kl_buf_free(&key);
    kl_buf_free(&val);
    kl_buf_free(&out);
    st = cli_close(ar, argv[0], st);
    return st;
}

static const char count_usage[] = "usage: klepto count URL [--json]";
static const char count_about[] = "Print the number of entries in the archive at URL.\n"
                                  "--json prints {\"entries\": N} instead.\n";

int cli_cmd_count(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(count_usage, count_about);
    bool json = cli_take_flag(&argc, argv, "--json");
    int st;
    if ((st = cli_reject_options(argc, argv, "count")) != 0)
        return st;
    if (argc != 1)
        return cli_usage("%s", count_usage);
    kl_archive *ar;
    if ((st = cli_open_ro(&ar, argv[0])) != 0)
        return st;
    size_t n;
    int rc = kl_archive_count(ar, &n);
    if (rc) {
        st = cli_fail(rc, argv[0]);
    } else if (json) {
        cli_json o = {KL_BUF_INIT};
        cli_json_uint(&o, "entries", n);
        if ((rc = cli_json_print(&o)) != 0)
            st = cli_fail(rc, "count");
    } else {
        printf("%zu\n", n);
    }
    st = cli_close(ar, argv[0], st);
    return st;
}
