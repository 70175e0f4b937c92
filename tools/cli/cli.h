/* SPDX-License-Identifier: BSD-3-Clause */
/* The klepto command-line tool as a library (private to the tool, its
 * tests and benchmarks): the commands' entry points and the helpers they
 * share for literals, archives, help and exit codes (CLI.md).  main() and
 * the dispatch by command name are in tools/klepto.c. */
#ifndef KLEPTO_CLI_H
#define KLEPTO_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "klepto.h"

/* Exit statuses of the contract. */
enum { CLI_OK = 0, CLI_NOTFOUND = 1, CLI_FAILED_CHECK = 1, CLI_USAGE = 2, CLI_IO = 3 };

/* Print "klepto: WHAT: kl_errmsg()" to stderr and return the exit status
 * that fits the error code. */
int cli_fail(int code, const char *what);
/* Print "klepto: message" to stderr and return CLI_USAGE.  A URL quoted
 * in the message (an argument out of place) has its password masked. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Map a KL_E* code to an exit status. */
int cli_status(int code);

/* The text the tool prints for an archive URL: url with any password
 * masked (kl_archive_redact_url) — the tool never prints a password, on
 * either stream.  A copy to release with cli_url_free; never NULL (a
 * placeholder when out of memory).  While the archive is open,
 * kl_archive_url() gives the same masking. */
char *cli_url_shown(const char *url);
void cli_url_free(char *shown);

/* Open an archive for a command; prints the error itself. */
int cli_open(kl_archive **out, const char *url, bool create);
/* Open an archive read-only, for the commands that only read (ls, get,
 * count, stats, export, verify without --repair): they work without
 * write permission on the archive's files.  Prints the error itself. */
int cli_open_ro(kl_archive **out, const char *url);
/* Close ar; when that fails and st is still CLI_OK, print the error and
 * return its status (a read-only read may learn only at close that what
 * it read was not consistent); otherwise return st. */
int cli_close(kl_archive *ar, const char *url, int st);
/* Parse a key literal into canonical key bytes (appended to key).  With
 * numeric_eq, integral floats encode as integers (untyped keys). */
int cli_key_bytes(const char *literal, bool numeric_eq, kl_buf *key);
/* Find the stored key a literal names: tries the exact encoding, then the
 * untyped one.  On success key holds the stored key bytes. */
int cli_find_key(kl_archive *ar, const char *literal, kl_buf *key);
/* Render key / value bytes as Python literals (keys' outer arrays are tuples). */
int cli_render_key(const void *p, size_t n, kl_buf *out);
int cli_render_value(const void *p, size_t n, kl_buf *out);

/* True when the arguments (before a "--") hold "-h" or "--help": the
 * command then prints its help instead of running. */
bool cli_wants_help(int argc, char **argv);
/* Print a command's help to stdout: its usage line ("usage: klepto ..."),
 * then what it does; returns CLI_OK. */
int cli_help(const char *usage, const char *about);

/* Bad usage (the status returned, after one line on stderr) when an
 * argument before "--" looks like an option: the command cmd, having
 * taken out those it knows, has none left to give.  0 otherwise. */
int cli_reject_options(int argc, char **argv, const char *cmd);

/* "--name VALUE" or "--name=VALUE" at argv[*i]: 1 with *val set (and *i
 * past a separate value), 0 when argv[*i] is another argument, -1 when the
 * value is missing. */
int cli_take_opt(int argc, char **argv, int *i, const char *name, const char **val);

/* The next entry of an iteration over the archive at url, past damaged
 * ones: 1 (key and val filled; val may be NULL), 0 at the end, or a
 * negative error that ends it.  Each damaged entry is counted in *damaged
 * and, when report, named on stderr ("klepto: URL: skipped: ..."): pass
 * the URL masked (kl_archive_url of the open archive). */
int cli_next_entry(kl_archive_iter *it, const char *url, bool report, kl_buf *key, kl_buf *val,
                   size_t *damaged);

/* cli_output.c: one-line JSON objects for --json, human units. */
typedef struct cli_json {
    kl_buf line; /* KL_BUF_INIT to start */
} cli_json;
/* Members in the order added: a text, an unsigned number, a boolean, JSON
 * text as it is, a backend fact (a number when it reads as one, else a
 * text).  Out of memory shows as a failed print. */
void cli_json_str(cli_json *o, const char *name, const char *value);
void cli_json_uint(cli_json *o, const char *name, uint64_t value);
void cli_json_bool(cli_json *o, const char *name, bool value);
void cli_json_raw(cli_json *o, const char *name, const char *json);
void cli_json_fact(cli_json *o, const char *name, const char *value);
/* Print the object as one line on stdout and release it: 0 or an error. */
int cli_json_print(cli_json *o);
/* Append s as a JSON string. */
void cli_json_text(kl_buf *out, const char *s);
/* 1536 -> "1.5 KiB", 2500000 (per second) -> "2.5M", 75 s -> "1m15s";
 * each writes into buf and returns it. */
const char *cli_human_bytes(uint64_t n, char *buf, size_t size);
const char *cli_human_count(double n, char *buf, size_t size);
const char *cli_human_seconds(double s, char *buf, size_t size);
/* cli_run_stats.c: `klepto stats`'s run statistics, as JSON members of o
 * or (o NULL) name=value lines, human units when human; 0 or an error
 * (the caller reports it). */
int cli_run_stats_print(kl_archive *ar, cli_json *o, bool human);
/* `klepto stats URL --zero`: remove the records, say how many; an exit
 * status. */
int cli_run_stats_zero(const char *url, bool json);

/* Remove every argv element equal to flag (before a "--"), compacting
 * argv and *argc; true when there was one. */
bool cli_take_flag(int *argc, char **argv, const char *flag);

/* cli_progress.c: the progress indicator of the long commands. */
enum { CLI_PROGRESS_AUTO, CLI_PROGRESS_ON, CLI_PROGRESS_OFF };
/* Take --progress / --quiet out of the arguments into *mode; both is bad
 * usage (the status returned), else 0. */
int cli_progress_mode(int *argc, char **argv, int *mode);
typedef struct cli_progress {
    bool on, tty, bytes;
    const char *what;
    uint64_t done, total; /* total 0: unknown */
    double start, last;
} cli_progress;
/* Start a phase named what (e.g. "copy"), counting entries or, with
 * bytes, bytes, of total (0 when unknown); draws at once when on. */
void cli_progress_start(cli_progress *p, int mode, const char *what, bool bytes, uint64_t total);
/* n more done; redrawn when due. */
void cli_progress_add(cli_progress *p, uint64_t n);
/* The phase is over: wipe the line on a terminal, else leave a last one. */
void cli_progress_end(cli_progress *p);

/* Commands: each takes the arguments after its own name, answers "-h" and
 * "--help" with its help on stdout, and returns the exit status. */
/* cmd_read.c */
int cli_cmd_ls(int argc, char **argv);
int cli_cmd_get(int argc, char **argv);
int cli_cmd_count(int argc, char **argv);
/* cmd_key.c */
int cli_cmd_key(int argc, char **argv);
/* cmd_simulate.c */
int cli_cmd_simulate(int argc, char **argv);
/* cmd_archive.c */
int cli_cmd_put(int argc, char **argv);
int cli_cmd_rm(int argc, char **argv);
int cli_cmd_stats(int argc, char **argv);
int cli_cmd_verify(int argc, char **argv);
int cli_cmd_clear(int argc, char **argv);
int cli_cmd_copy(int argc, char **argv);
int cli_cmd_compact(int argc, char **argv);
/* cmd_transfer.c */
int cli_cmd_export(int argc, char **argv);
int cli_cmd_import(int argc, char **argv);
/* cmd_prune.c */
int cli_cmd_prune(int argc, char **argv);

#endif
