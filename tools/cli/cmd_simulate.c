/* SPDX-License-Identifier: BSD-3-Clause */
/* `klepto simulate --policy NAME --size N [--trace FILE]`: replay a trace of
 * keys (one per line, any bytes) as get-or-insert through a real cache with
 * that policy and entry limit, and print the hit and miss counts.
 *
 * The whole trace is read (or mapped) first so that the replay itself is
 * one tight loop over the cache; the cache runs with one shard so that the
 * policy sees every request in order, exactly as the policy defines. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "klepto/cache.h"
#include "klepto/error.h"

typedef struct {
    const char *data;
    size_t len;
    void *map;  /* munmap on release when set */
    char *heap; /* free on release when set */
} trace_buf;

static const char simulate_usage[] = "usage: klepto simulate --policy NAME --size N [--trace FILE]";
static const char simulate_about[] =
    "Replay a trace of keys (one per line, any bytes; FILE, or stdin when none\n"
    "or -) as get-or-insert through a cache with that eviction policy and N\n"
    "entries, and print policy=... size=... requests=... hits=... misses=...\n"
    "miss_ratio=...\n";

static int usage(void)
{
    fprintf(stderr, "klepto: %s\n", simulate_usage);
    return CLI_USAGE;
}

static void trace_release(trace_buf *t)
{
    if (t->map)
        munmap(t->map, t->len);
    free(t->heap);
}

/* Read a whole stream into the heap (stdin, pipes, empty files). */
static int read_all(int fd, trace_buf *t, const char *name)
{
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "klepto: simulate: %s: out of memory\n", name);
        return CLI_IO;
    }
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fprintf(stderr, "klepto: simulate: %s: out of memory\n", name);
                return CLI_IO;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "klepto: simulate: %s: %s\n", name, strerror(errno));
            free(buf);
            return CLI_IO;
        }
        len += (size_t)n;
    }
    t->heap = buf;
    t->data = buf;
    t->len = len;
    return 0;
}

static int trace_open(const char *path, trace_buf *t)
{
    memset(t, 0, sizeof *t);
    if (!path || strcmp(path, "-") == 0)
        return read_all(0, t, "stdin");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        fprintf(stderr, "klepto: simulate: %s: %s\n", path, strerror(err));
        return err == ENOENT ? CLI_USAGE : CLI_IO;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = read_all(fd, t, path);
        } else {
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            t->map = m;
            t->data = m;
            t->len = (size_t)st.st_size;
        }
    } else {
        rc = read_all(fd, t, path);
    }
    close(fd);
    return rc;
}

/* A decimal entry count; rejects signs, junk and overflow. */
static int parse_size(const char *s, size_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > SIZE_MAX / 2)
        return -1;
    *out = (size_t)v;
    return 0;
}

int cli_cmd_simulate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(simulate_usage, simulate_about);
    const char *policy = NULL, *size_arg = NULL, *trace = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--policy") == 0  ? &policy
                            : strcmp(a, "--size") == 0  ? &size_arg
                            : strcmp(a, "--trace") == 0 ? &trace
                                                        : NULL;
        if (!slot) {
            fprintf(stderr, "klepto: simulate: unknown argument '%s'\n", a);
            return usage();
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "klepto: simulate: %s needs a value\n", a);
            return usage();
        }
        *slot = argv[++i];
    }
    if (!policy || !size_arg)
        return usage();
    size_t size;
    if (parse_size(size_arg, &size) != 0) {
        fprintf(stderr, "klepto: simulate: --size '%s' is not an entry count\n", size_arg);
        return CLI_USAGE;
    }

    kl_cache_opts o = KL_CACHE_OPTS_INIT;
    o.policy = policy;
    o.maxsize = size;
    o.shards = 1;
    o.seed = 1;
    kl_cache *c;
    int rc = kl_cache_new(&c, &o);
    if (rc) {
        fprintf(stderr, "klepto: simulate: --policy %s --size %zu: %s\n", policy, size,
                kl_errmsg()[0] ? kl_errmsg() : kl_strerror(rc));
        return rc == KL_ENOMEM ? CLI_IO : CLI_USAGE;
    }

    trace_buf t;
    int trc = trace_open(trace, &t);
    if (trc) {
        kl_cache_free(c);
        return trc;
    }

    uint64_t requests = 0, hits = 0;
    kl_buf val = {0};
    const char *p = t.data, *end = t.data + t.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t klen = (size_t)(line_end - p);
        if (klen && p[klen - 1] == '\r')
            klen--; /* CRLF traces name the same keys */
        requests++;
        rc = kl_cache_get(c, p, klen, &val, false);
        if (rc == 0) {
            hits++;
        } else if (rc == KL_ENOTFOUND) {
            rc = kl_cache_put(c, p, klen, NULL, 0);
            if (rc)
                break;
        } else {
            break;
        }
        p = nl ? nl + 1 : end;
        rc = 0;
    }
    kl_buf_free(&val);
    trace_release(&t);
    if (rc) {
        fprintf(stderr, "klepto: simulate: request %" PRIu64 ": %s\n", requests, kl_errmsg());
        kl_cache_free(c);
        return CLI_IO;
    }
    kl_cache_free(c);
    uint64_t misses = requests - hits;
    printf("policy=%s size=%zu requests=%" PRIu64 " hits=%" PRIu64 " misses=%" PRIu64
           " miss_ratio=%.4f\n",
           policy, size, requests, hits, misses,
           requests ? (double)misses / (double)requests : 0.0);
    return 0;
}
