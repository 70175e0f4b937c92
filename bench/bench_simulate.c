/* SPDX-License-Identifier: BSD-3-Clause */
/* `simulate`: the replay rate of `klepto simulate` (LRU, 20k entries) on a
 * warm trace file of 2M text keys drawn from a Zipf(0.9) law over 200k keys.
 * The command, from the CLI's library, is called as the CLI calls it
 * (file mapping, line splitting, the real cache), minus process start-up.
 * Baseline: the same replay the simplest fast way — a bare open-addressing
 * table of key hashes and an intrusive LRU list, no locks, no allocation. */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "cli.h"
#include "zipf.h"

enum { NKEYS = 200000, NREQ = 2000000, CAP = 20000, REPS = 5 };

/* NREQ text keys: Zipf(0.9) ranks from draws 0..NREQ-1, one line each. */
static char *make_trace(size_t *len)
{
    kt_zipf z;
    char *buf = malloc((size_t)NREQ * 24);
    if (!buf || kt_zipf_init(&z, 0.9, NKEYS) != 0) {
        fprintf(stderr, "bench_simulate: out of memory\n");
        exit(1);
    }
    kt_rng g = {0};
    size_t n = 0;
    for (uint64_t r = 0; r < NREQ; r++) {
        size_t rank = kt_zipf_rank(&z, kt_rng_unit(&g));
        n += (size_t)sprintf(buf + n, "user:%zu:profile\n", rank * 7919 % 1000003);
    }
    kt_zipf_free(&z);
    *len = n;
    return buf;
}

/* The baseline replay. */
typedef struct bnode {
    struct bnode *prev, *next;
    uint64_t h;
} bnode;

static uint64_t baseline_replay(const char *p, const char *end, uint64_t *hits_out)
{
    size_t mask = 65535; /* 64k slots for 20k entries */
    bnode **slots = calloc(mask + 1, sizeof *slots);
    bnode *pool = malloc((CAP + 1) * sizeof *pool), head = {&head, &head, 0};
    size_t used = 0;
    uint64_t hits = 0, reqs = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        uint64_t h = XXH3_64bits(p, (size_t)(le - p)) | 1;
        reqs++;
        size_t i = h & mask;
        while (slots[i] && slots[i]->h != h)
            i = (i + 1) & mask;
        bnode *n = slots[i];
        if (n) {
            hits++;
            n->prev->next = n->next;
            n->next->prev = n->prev;
        } else {
            if (used < CAP) {
                n = &pool[used++];
            } else { /* reuse the LRU node: remove it from list and table */
                n = head.prev;
                n->prev->next = &head;
                head.prev = n->prev;
                size_t j = n->h & mask;
                while (slots[j] != n)
                    j = (j + 1) & mask;
                slots[j] = NULL;
                for (size_t k = (j + 1) & mask; slots[k]; k = (k + 1) & mask) {
                    bnode *m = slots[k];
                    slots[k] = NULL;
                    size_t t = m->h & mask;
                    while (slots[t])
                        t = (t + 1) & mask;
                    slots[t] = m;
                }
                i = h & mask;
                while (slots[i])
                    i = (i + 1) & mask;
            }
            n->h = h;
            slots[i] = n;
        }
        n->prev = &head;
        n->next = head.next;
        head.next->prev = n;
        head.next = n;
        p = nl ? nl + 1 : end;
    }
    free(slots);
    free(pool);
    *hits_out = hits;
    return reqs;
}

int main(void)
{
    size_t len;
    char *trace = make_trace(&len);
    char path[512];
    snprintf(path, sizeof path, "%s/trace.txt", bench_tmpdir());
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(trace, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "bench_simulate: cannot write %s\n", path);
        return 1;
    }

    char *argv[] = {"--policy", "lru", "--size", "20000", "--trace", path, NULL};
    double ours[REPS], base[REPS];
    uint64_t bhits = 0;
    fflush(stdout);
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    for (int r = 0; r < REPS; r++) {
        dup2(devnull, 1);
        uint64_t t0 = bench_now_ns();
        int rc = cli_cmd_simulate(6, argv);
        fflush(stdout);
        uint64_t t1 = bench_now_ns();
        dup2(saved, 1);
        if (rc != 0) {
            fprintf(stderr, "bench_simulate: simulate failed (%d)\n", rc);
            return 1;
        }
        ours[r] = NREQ / ((double)(t1 - t0) * 1e-9);
        t0 = bench_now_ns();
        uint64_t n = baseline_replay(trace, trace + len, &bhits);
        t1 = bench_now_ns();
        base[r] = (double)n / ((double)(t1 - t0) * 1e-9);
    }
    close(devnull);
    close(saved);
    char note[160];
    snprintf(note, sizeof note,
             "LRU, 20k entries, 2M text keys (Zipf 0.9 over 200k), warm file; baseline: bare "
             "table + LRU list (%.1f%% hits)",
             100.0 * (double)bhits / NREQ);
    bench_report("simulate", bench_median(ours, REPS), "requests/s", bench_median(base, REPS),
                 "higher", note);
    free(trace);
    bench_rmrf(bench_tmpdir());
    return 0;
}
