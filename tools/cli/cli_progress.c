/* SPDX-License-Identifier: BSD-3-Clause */
/* The one-line progress indicator of the long commands (copy, export,
 * import, verify, prune, compact, clear): on stderr, drawn over itself on
 * a terminal and wiped at the end; none when stderr is not a terminal,
 * unless --progress forces it (then each drawing is a line of its own,
 * and the last one stays); --quiet forces it off.  The line holds the
 * work done, of the total when known, the rate and the time left. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Seconds between drawings: on a terminal, and in a pipe or file. */
#define TTY_EVERY 0.1
#define LOG_EVERY 1.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int cli_progress_mode(int *argc, char **argv, int *mode)
{
    bool on = cli_take_flag(argc, argv, "--progress");
    bool off = cli_take_flag(argc, argv, "--quiet");
    if (on && off)
        return cli_usage("--progress and --quiet contradict each other: give one");
    *mode = on ? CLI_PROGRESS_ON : off ? CLI_PROGRESS_OFF : CLI_PROGRESS_AUTO;
    return 0;
}

/* done (and total) in the phase's unit */
static void amount(const cli_progress *p, uint64_t n, char *buf, size_t size)
{
    if (p->bytes)
        cli_human_bytes(n, buf, size);
    else
        snprintf(buf, size, "%" PRIu64, n);
}

static void draw(cli_progress *p, bool last)
{
    double t = now_s(), el = t - p->start;
    double rate = el > 0 ? p->done / el : 0;
    char done[32], total[32], r[32], eta[32], took[32];
    amount(p, p->done, done, sizeof done);
    if (p->bytes) {
        cli_human_bytes((uint64_t)rate, r, sizeof r);
    } else {
        cli_human_count(rate, r, sizeof r);
    }
    char line[256];
    int n;
    if (p->total) {
        amount(p, p->total, total, sizeof total);
        unsigned pct = p->done >= p->total ? 100 : (unsigned)(100.0 * p->done / p->total);
        n = snprintf(line, sizeof line, "%s: %s/%s%s (%u%%), %s/s", p->what, done, total,
                     p->bytes ? "" : " entries", pct, r);
    } else {
        n = snprintf(line, sizeof line, "%s: %s%s, %s/s", p->what, done, p->bytes ? "" : " entries",
                     r);
    }
    if (n > 0 && (size_t)n < sizeof line) {
        if (last)
            snprintf(line + n, sizeof line - (size_t)n, ", in %s",
                     cli_human_seconds(el, took, sizeof took));
        else if (p->total && rate > 0 && p->done < p->total)
            snprintf(line + n, sizeof line - (size_t)n, ", ETA %s",
                     cli_human_seconds((p->total - p->done) / rate, eta, sizeof eta));
    }
    if (p->tty)
        fprintf(stderr, "\r%s\033[K", line);
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
    p->last = t;
}

void cli_progress_start(cli_progress *p, int mode, const char *what, bool bytes, uint64_t total)
{
    bool tty = isatty(2) == 1;
    p->on = mode == CLI_PROGRESS_ON || (mode == CLI_PROGRESS_AUTO && tty);
    p->tty = tty;
    p->what = what;
    p->bytes = bytes;
    p->total = total;
    p->done = 0;
    p->start = now_s();
    p->last = 0;
    if (p->on)
        draw(p, false);
}

void cli_progress_add(cli_progress *p, uint64_t n)
{
    p->done += n;
    if (p->on && now_s() - p->last >= (p->tty ? TTY_EVERY : LOG_EVERY))
        draw(p, false);
}

void cli_progress_end(cli_progress *p)
{
    if (!p->on)
        return;
    if (p->tty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    } else {
        draw(p, true);
    }
    p->on = false;
}
