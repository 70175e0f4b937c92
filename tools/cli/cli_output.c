/* SPDX-License-Identifier: BSD-3-Clause */
/* Output for scripts and for people: one-line JSON objects (--json) and
 * sizes, counts and durations in human units.  Hand-written: the objects
 * are flat and small, and strings go through the library's kl_json. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void sep(cli_json *o, const char *name)
{
    kl_buf_append_str(&o->line, o->line.len ? ", " : "{");
    cli_json_text(&o->line, name);
    kl_buf_append_str(&o->line, ": ");
}

void cli_json_text(kl_buf *out, const char *s)
{
    kl_value t = kl_value_text_ref(s, strlen(s));
    kl_json(out, &t);
}

void cli_json_str(cli_json *o, const char *name, const char *value)
{
    sep(o, name);
    cli_json_text(&o->line, value);
}

void cli_json_uint(cli_json *o, const char *name, uint64_t value)
{
    sep(o, name);
    kl_buf_printf(&o->line, "%" PRIu64, value);
}

void cli_json_bool(cli_json *o, const char *name, bool value)
{
    sep(o, name);
    kl_buf_append_str(&o->line, value ? "true" : "false");
}

void cli_json_raw(cli_json *o, const char *name, const char *json)
{
    sep(o, name);
    kl_buf_append_str(&o->line, json);
}

int cli_json_print(cli_json *o)
{
    kl_buf_append_str(&o->line, o->line.len ? "}" : "{}");
    const char *s = kl_buf_cstr(&o->line);
    int rc = s ? (printf("%s\n", s) < 0 ? KL_EIO : 0) : KL_ENOMEM;
    kl_buf_free(&o->line);
    return rc;
}

/* A backend fact's value as JSON: a plain decimal number stays a number,
 * everything else is a string. */
static bool is_number(const char *s)
{
    const char *p = s + (*s == '-');
    if (!*p || (p[0] == '0' && p[1] && p[1] != '.'))
        return false;
    bool dot = false, digit = false;
    for (; *p; p++) {
        if (*p == '.' && !dot)
            dot = true;
        else if (*p >= '0' && *p <= '9')
            digit = true;
        else
            return false;
    }
    return digit && p[-1] != '.';
}

void cli_json_fact(cli_json *o, const char *name, const char *value)
{
    if (is_number(value))
        cli_json_raw(o, name, value);
    else
        cli_json_str(o, name, value);
}

const char *cli_human_bytes(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (n < 1024) {
        snprintf(buf, size, "%" PRIu64 " B", n);
        return buf;
    }
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

const char *cli_human_count(double n, char *buf, size_t size)
{
    static const char *const units[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (n >= 1000 && u < 4) {
        n /= 1000;
        u++;
    }
    snprintf(buf, size, u == 0 ? "%.0f" : n < 10 ? "%.1f%s" : "%.0f%s", n, units[u]);
    return buf;
}

const char *cli_human_seconds(double s, char *buf, size_t size)
{
    if (s < 0)
        s = 0;
    if (s < 10)
        snprintf(buf, size, "%.1fs", s);
    else if (s < 60)
        snprintf(buf, size, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)s % 3600 / 60);
    return buf;
}

bool cli_take_flag(int *argc, char **argv, const char *flag)
{
    bool found = false;
    int out = 0, i = 0;
    for (; i < *argc && strcmp(argv[i], "--") != 0; i++) {
        if (!strcmp(argv[i], flag))
            found = true;
        else
            argv[out++] = argv[i];
    }
    for (; i < *argc; i++)
        argv[out++] = argv[i];
    *argc = out;
    return found;
}
