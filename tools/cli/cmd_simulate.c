/* SPDX-License-Identifier: BSD-3-Clause */
/* `klepto simulate --policy NAME[,NAME...] --size N[,N...] [--trace FILE]
 * [--json]`: replay a trace of keys (one per line, any bytes) as
 * get-or-insert through a real cache with each policy and entry limit, and
 * print the hit and miss counts, one line (or JSON object) per policy and
 * size.
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
#include "klepto/sys/policy.h"

typedef struct {
    const char *data;
    size_t len;
    void *map;  /* munmap on release when set */
    char *heap; /* free on release when set */
} trace_buf;

static const char simulate_usage[] =
    "usage: klepto simulate --policy NAME --size N [--trace FILE] [--json]";
static const char simulate_about[] =
    "Replay a trace of keys (one per line, any bytes; FILE, or stdin when none\n"
    "or -) as get-or-insert through a cache with that eviction policy and N\n"
    "entries, and print policy=... size=... requests=... hits=... misses=...\n"
    "miss_ratio=...\n"
    "NAME and N may be comma-separated lists (--size 1000,5000,20000; --policy\n"
    "all is every built-in policy): one line per policy and size, policies in\n"
    "the order given, sizes within each.  --json prints one JSON object per\n"
    "line instead (policy, size, requests, hits, misses, miss_ratio).\n";

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
static int parse_size(const char *s, size_t len, size_t *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf || *s < '0' || *s > '9')
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || *end || v > SIZE_MAX / 2)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Split a comma-separated list into n items (pointers into s, lengths). */
typedef struct {
    const char *p;
    size_t len;
} item;

static size_t split(const char *s, item *items, size_t max)
{
    size_t n = 0;
    for (;;) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (n == max)
            return max + 1;
        items[n].p = s;
        items[n].len = len;
        n++;
        if (!c)
            return n;
        s = c + 1;
    }
}

enum { MAX_LIST = 64 };

/* Replay the whole trace through a fresh cache: 0, or a CLI status with
 * the message printed. */
static int replay(const trace_buf *t, const char *policy, size_t size, uint64_t *requests_out,
                  uint64_t *hits_out)
{
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
    uint64_t requests = 0, hits = 0;
    kl_buf val = {0};
    const char *p = t->data, *end = t->data + t->len;
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
    if (rc) {
        fprintf(stderr, "klepto: simulate: request %" PRIu64 ": %s\n", requests, kl_errmsg());
        kl_cache_free(c);
        return CLI_IO;
    }
    kl_cache_free(c);
    *requests_out = requests;
    *hits_out = hits;
    return 0;
}

static int print_result(const char *policy, size_t size, uint64_t requests, uint64_t hits,
                        bool json)
{
    uint64_t misses = requests - hits;
    double ratio = requests ? (double)misses / (double)requests : 0.0;
    if (!json) {
        printf("policy=%s size=%zu requests=%" PRIu64 " hits=%" PRIu64 " misses=%" PRIu64
               " miss_ratio=%.4f\n",
               policy, size, requests, hits, misses, ratio);
        return 0;
    }
    char num[64];
    snprintf(num, sizeof num, "%.6f", ratio);
    cli_json o = {KL_BUF_INIT};
    cli_json_str(&o, "policy", policy);
    cli_json_uint(&o, "size", size);
    cli_json_uint(&o, "requests", requests);
    cli_json_uint(&o, "hits", hits);
    cli_json_uint(&o, "misses", misses);
    cli_json_raw(&o, "miss_ratio", num);
    return cli_json_print(&o) ? CLI_IO : 0;
}

int cli_cmd_simulate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help(simulate_usage, simulate_about);
    const char *policy_arg = NULL, *size_arg = NULL, *trace = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        const char **slot = strcmp(a, "--policy") == 0  ? &policy_arg
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
    if (!policy_arg || !size_arg)
        return usage();

    item sitems[MAX_LIST];
    size_t sizes[MAX_LIST];
    size_t nsizes = split(size_arg, sitems, MAX_LIST);
    if (nsizes > MAX_LIST) {
        fprintf(stderr, "klepto: simulate: --size: more than %d sizes\n", MAX_LIST);
        return CLI_USAGE;
    }
    for (size_t i = 0; i < nsizes; i++) {
        if (parse_size(sitems[i].p, sitems[i].len, &sizes[i]) != 0) {
            fprintf(stderr, "klepto: simulate: --size '%.*s' is not an entry count\n",
                    (int)sitems[i].len, sitems[i].p);
            return CLI_USAGE;
        }
    }

    /* Policy names, copied out so that each is a string of its own. */
    char names[MAX_LIST][64];
    size_t npol = 0;
    if (strcmp(policy_arg, "all") == 0) {
        for (const char *const *n = kl_policy_names(); *n && npol < MAX_LIST; n++)
            snprintf(names[npol++], sizeof names[0], "%s", *n);
    } else {
        item pitems[MAX_LIST];
        npol = split(policy_arg, pitems, MAX_LIST);
        if (npol > MAX_LIST) {
            fprintf(stderr, "klepto: simulate: --policy: more than %d policies\n", MAX_LIST);
            return CLI_USAGE;
        }
        for (size_t i = 0; i < npol; i++) {
            if (pitems[i].len == 0 || pitems[i].len >= sizeof names[0]) {
                fprintf(stderr, "klepto: simulate: --policy '%.*s' is not a policy name\n",
                        (int)pitems[i].len, pitems[i].p);
                return CLI_USAGE;
            }
            memcpy(names[i], pitems[i].p, pitems[i].len);
            names[i][pitems[i].len] = 0;
        }
    }
    /* Every name is checked before anything is read or printed. */
    for (size_t i = 0; i < npol; i++) {
        kl_cache_opts o = KL_CACHE_OPTS_INIT;
        o.policy = names[i];
        o.maxsize = 1;
        o.shards = 1;
        kl_cache *c;
        int rc = kl_cache_new(&c, &o);
        if (rc) {
            fprintf(stderr, "klepto: simulate: --policy %s --size %zu: %s\n", names[i], sizes[0],
                    kl_errmsg()[0] ? kl_errmsg() : kl_strerror(rc));
            return rc == KL_ENOMEM ? CLI_IO : CLI_USAGE;
        }
        kl_cache_free(c);
    }

    trace_buf t;
    int trc = trace_open(trace, &t);
    if (trc)
        return trc;
    int rc = 0;
    for (size_t i = 0; i < npol && !rc; i++) {
        for (size_t j = 0; j < nsizes && !rc; j++) {
            uint64_t requests, hits;
            rc = replay(&t, names[i], sizes[j], &requests, &hits);
            if (!rc)
                rc = print_result(names[i], sizes[j], requests, hits, json);
            fflush(stdout);
        }
    }
    trace_release(&t);
    return rc;
}
