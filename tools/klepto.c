/* SPDX-License-Identifier: BSD-3-Clause */
/* The klepto command-line tool: main() and the dispatch by command name
 * (CLI.md); the commands themselves are the library in tools/cli/. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} command;

static const command commands[] = {
    {"ls", cli_cmd_ls, "ls URL [--long] [--json]      list entries"},
    {"get", cli_cmd_get, "get URL KEY                   print one value"},
    {"count", cli_cmd_count, "count URL [--json]            number of entries"},
    {"put", cli_cmd_put, "put URL KEY VALUE             write one entry (creates the archive)"},
    {"rm", cli_cmd_rm, "rm URL KEY                    delete one entry"},
    {"stats", cli_cmd_stats,
     "stats URL [--json] [--human|--exact]   entries, bytes, format and backend facts"},
    {"verify", cli_cmd_verify,
     "verify URL [--repair] [--json]   check every entry; drop damaged ones"},
    {"clear", cli_cmd_clear, "clear URL                     remove every entry"},
    {"copy", cli_cmd_copy, "copy SRC DST [--json]         copy every entry between archives"},
    {"compact", cli_cmd_compact, "compact URL                   reclaim the space of old entries"},
    {"export", cli_cmd_export, "export URL [--format json|csv]   all entries to stdout"},
    {"import", cli_cmd_import,
     "import URL [--format json|csv] [FILE]   entries from a file or stdin"},
    {"prune", cli_cmd_prune,
     "prune URL [--max-entries N] [--max-bytes B] [--older-than DURATION] [--json]   drop "
     "the oldest entries beyond the limits"},
    {"key", cli_cmd_key, "key [options] ARG... [NAME=ARG...]   the key a call maps to"},
    {"simulate", cli_cmd_simulate,
     "simulate --policy NAME --size N [--trace FILE]   replay a trace through a cache"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: klepto COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  klepto %s\n", commands[i].usage);
    fprintf(f, "\nKeys and values are Python-style literals: 1, 2.5, 'text', b'\\x00', None,\n"
               "(1, 'a'), [1, 2], {'k': 1.5}.  Exit status: 0 ok, 1 not found or failed\n"
               "check, 2 bad usage or input, 3 I/O, backend or server error.\n"
               "copy, export, import, verify, prune, compact and clear draw a progress line\n"
               "on stderr when it is a terminal; --progress and --quiet force it on or off.\n");
    fprintf(f, "\nArchive URLs (any takes ?cached=true, ?ttl=DURATION, ?max_entries=N and\n"
               "?max_bytes=SIZE; local ones ?mode=0600):\n"
               "  file:PATH              one log-structured file\n"
               "  dir:PATH               a folder, one file per entry\n"
               "  sqlite:PATH[?table=T]  SQLite: one table T, or a table per key\n"
               "  postgresql://USER@HOST[:PORT]/DB[?table=T]   (also postgres://)\n"
               "  mysql://USER:PASS@HOST[:PORT]/DB[?table=T]   (also mariadb://)\n"
               "  redis://[[USER]:PASS@]HOST[:PORT][/DB]?prefix=P\n"
               "  hdf5:PATH              one HDF5 file\n"
               "  hdf5dir:PATH           a folder of HDF5 files, one per entry\n"
               "  mem:[NAME]             process memory;  null:  stores nothing\n"
               "built into this klepto: %s\n",
            kl_features());
}

/* "klepto VERSION", then the features built in. */
static int version(void)
{
    printf("klepto %s\n", kl_version()); /* the library's: it may be newer than the tool's build */
    printf("features: %s\n", kl_features());
    return CLI_OK;
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return &commands[i];
    if (name[0] == '-') {
        fprintf(stderr, "klepto: unknown option '%s' (try 'klepto --help')\n", name);
        return NULL;
    }
    /* the word may be a URL given before the command: never its password */
    char *shown = cli_url_shown(name);
    fprintf(stderr, "klepto: unknown command '%s' (try 'klepto --help')\n", shown);
    cli_url_free(shown);
    return NULL;
}

/* What a command printed must have reached stdout: a full disk, a closed
 * pipe's reader gone or /dev/full turn the run into an I/O failure (exit
 * 3) with one line on stderr, never a silent success. */
static int finish(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int err = errno;
        fprintf(stderr, "klepto: writing the output failed: %s\n", strerror(err ? err : EIO));
        return CLI_IO;
    }
    return status;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version"))
        return version();
    if (!strcmp(argv[1], "help") && argc > 2) { /* klepto help CMD: that command's help */
        const command *c = find(argv[2]);
        char *help[] = {"--help", NULL};
        return c ? c->run(1, help) : CLI_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    const command *c = find(argv[1]);
    return c ? c->run(argc - 2, argv + 2) : CLI_USAGE;
}

int main(int argc, char **argv)
{
    return finish(run(argc, argv));
}
