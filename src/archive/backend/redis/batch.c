/* SPDX-License-Identifier: BSD-3-Clause */
/* redis: batches: put_many, del_many and get_many as variadic commands
 * in MULTI/EXEC runs of bounded size.  See redis.h. */
#define _GNU_SOURCE
#include "archive/backend/redis/redis.h"


/* ---- batches ---------------------------------------------------------- */

/* Cut [0, n) into runs of at most RD_CHUNK_FIELDS keys and about
 * RD_CHUNK_BYTES bytes (one entry alone may exceed it).  Returns the end
 * of the run starting at i. */
static size_t rd_run_end(size_t i, size_t n, const size_t *klens, const size_t *vlens)
{
    size_t bytes = 0, j = i;
    while (j < n && j - i < RD_CHUNK_FIELDS) {
        size_t b = klens[j] + (vlens ? vlens[j] : 0);
        if (j > i && bytes + b > RD_CHUNK_BYTES)
            break;
        bytes += b;
        j++;
    }
    return j;
}

/* Commands built into flat argument arrays, and room for their replies. */
typedef struct rd_batch {
    rd_cmd *cmds;
    const char **argv;
    size_t *lens;
    redisReply **reps;
    size_t ncmds, nargs;
    size_t start; /* first argument of the command being built */
} rd_batch;

static void rd_batch_free(rd_batch *b)
{
    free(b->cmds);
    free(b->argv);
    free(b->lens);
    free(b->reps);
}

/* Room for ncmds commands of nargs arguments in all. */
static int rd_batch_init(rd_state *s, rd_batch *b, size_t ncmds, size_t nargs, size_t n)
{
    *b = (rd_batch){0};
    b->cmds = calloc(ncmds, sizeof *b->cmds);
    b->argv = malloc(nargs * sizeof *b->argv);
    b->lens = malloc(nargs * sizeof *b->lens);
    b->reps = calloc(ncmds, sizeof *b->reps);
    if (!b->cmds || !b->argv || !b->lens || !b->reps) {
        rd_batch_free(b);
        return kl_seterr(KL_ENOMEM, "%s: out of memory for a batch of %zu", s->url, n);
    }
    return 0;
}

static void rd_batch_arg(rd_batch *b, const char *arg, size_t len)
{
    b->argv[b->nargs] = arg;
    b->lens[b->nargs++] = len;
}

/* Ends the command whose arguments were added since the last one ended. */
static void rd_batch_end_cmd(rd_batch *b)
{
    b->cmds[b->ncmds++] =
        (rd_cmd){(int)(b->nargs - b->start), &b->argv[b->start], &b->lens[b->start]};
    b->start = b->nargs;
}

/* One transaction over both hashes, one round trip: MULTI, then per run of
 * keys (rd_run_end) CMD on the entries hash and CMD on the stamps hash,
 * each with the run's keys, each key followed by its value (vals) and its
 * stamp (stamps: the text of stamp j at stamps + 48 j, slens[j] bytes)
 * when those are given; then, for writes (vals given), the marker when it
 * is due (kl__rd_write_ready); then EXEC.  On success *sum (if not NULL)
 * gets the total of the entries commands' integer replies. */
static int rd_txn_runs(rd_state *s, const char *cmd, const char *what, size_t n,
                       const void *const *keys, const size_t *klens, const void *const *vals,
                       const size_t *vlens, const char *stamps, const size_t *slens,
                       size_t *sum)
{
    size_t runs = 0;
    for (size_t i = 0; i < n; i = rd_run_end(i, n, klens, vlens))
        runs++;
    bool marker = false;
    int r = kl__rd_write_ready(s, &marker);
    if (r)
        return r;
    marker = marker && vals != NULL;
    rd_batch b;
    size_t nc = 2 + 2 * runs + marker;
    if ((r = rd_batch_init(s, &b, nc, 2 + 4 * runs + 4 * n + 4, n)))
        return r;
    rd_batch_arg(&b, "MULTI", 5);
    rd_batch_end_cmd(&b);
    for (size_t i = 0; i < n;) {
        size_t end = rd_run_end(i, n, klens, vlens);
        for (int which = 0; which < 2; which++) {
            rd_batch_arg(&b, cmd, strlen(cmd));
            if (which)
                rd_batch_arg(&b, s->k_stamps, s->l_stamps);
            else
                rd_batch_arg(&b, s->k_entries, s->l_entries);
            for (size_t j = i; j < end; j++) {
                rd_batch_arg(&b, KEYARG(keys[j]), klens[j]);
                if (which && stamps)
                    rd_batch_arg(&b, stamps + j * 48, slens[j]);
                else if (!which && vals)
                    rd_batch_arg(&b, KEYARG(vals[j]), vlens[j]);
            }
            rd_batch_end_cmd(&b);
        }
        i = end;
    }
    if (marker) {
        rd_cmd m = kl__rd_marker(s);
        for (int a = 0; a < m.argc; a++)
            rd_batch_arg(&b, m.argv[a], m.lens[a]);
        rd_batch_end_cmd(&b);
    }
    rd_batch_arg(&b, "EXEC", 4);
    rd_batch_end_cmd(&b);
    r = kl__rd_run_prepared(s, b.cmds, nc, b.reps, what);
    if (!r)
        r = kl__rd_check_txn(s, b.reps, nc - 2, what);
    if (!r && marker)
        kl__rd_marker_sent(s);
    for (size_t k = 0; !r && sum && k < 2 * runs; k += 2) {
        const redisReply *x = b.reps[nc - 1]->element[k];
        if (x->type != REDIS_REPLY_INTEGER)
            r = kl__rd_unexpected(s, x, what);
        else
            *sum += (size_t)x->integer;
    }
    kl__rd_free_replies(b.reps, nc);
    rd_batch_free(&b);
    return r;
}

/* HSET of the values and of their stamps, in one transaction. */
int kl__rd_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       const void *const *vals, const size_t *vlens)
{
    rd_state *s = state;
    int r = kl__rd_writable(s);
    for (size_t i = 0; !r && i < n; i++)
        r = kl__rd_check_size(s, klens[i], vlens[i]);
    if (r || n == 0)
        return r;
    char *stamps = malloc(n * 48);
    size_t *slens = malloc(n * sizeof *slens);
    if (!stamps || !slens) {
        free(stamps);
        free(slens);
        return kl_seterr(KL_ENOMEM, "%s: out of memory for a batch of %zu", s->url, n);
    }
    int64_t now = kl__now_ns();
    for (size_t j = 0; j < n; j++)
        slens[j] = (size_t)kl__rd_stamp(stamps + j * 48, 48, now, klens[j], vlens[j]);
    r = rd_txn_runs(s, "HSET", "put_many", n, keys, klens, vals, vlens, stamps, slens, NULL);
    free(stamps);
    free(slens);
    return r;
}

/* HDEL from both hashes in one transaction; the entries' HDELs count what
 * went. */
int kl__rd_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       size_t *deleted)
{
    rd_state *s = state;
    *deleted = 0;
    int r = kl__rd_writable(s);
    if (r || n == 0)
        return r;
    return rd_txn_runs(s, "HDEL", "del_many", n, keys, klens, NULL, NULL, NULL, NULL, deleted);
}

/* HMGET in runs of RD_CHUNK_FIELDS keys, pipelined: one round trip. */
int kl__rd_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       kl_buf *vals, bool *found)
{
    rd_state *s = state;
    if (n == 0)
        return 0;
    size_t runs = (n + RD_CHUNK_FIELDS - 1) / RD_CHUNK_FIELDS;
    rd_batch b;
    int r = rd_batch_init(s, &b, runs, n + 2 * runs, n);
    if (r)
        return r;
    for (size_t k = 0; k < runs; k++) {
        size_t i0 = k * RD_CHUNK_FIELDS;
        size_t end = i0 + RD_CHUNK_FIELDS < n ? i0 + RD_CHUNK_FIELDS : n;
        rd_batch_arg(&b, "HMGET", 5);
        rd_batch_arg(&b, s->k_entries, s->l_entries);
        for (size_t i = i0; i < end; i++)
            rd_batch_arg(&b, KEYARG(keys[i]), klens[i]);
        rd_batch_end_cmd(&b);
    }
    r = kl__rd_run(s, b.cmds, runs, b.reps, true, "get_many");
    for (size_t k = 0; !r && k < runs; k++) {
        size_t i0 = k * RD_CHUNK_FIELDS;
        size_t m = (i0 + RD_CHUNK_FIELDS < n ? i0 + RD_CHUNK_FIELDS : n) - i0;
        const redisReply *rep = b.reps[k];
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != m) {
            r = kl__rd_unexpected(s, rep, "get_many");
            break;
        }
        for (size_t j = 0; !r && j < m; j++) {
            const redisReply *e = rep->element[j];
            found[i0 + j] = e->type != REDIS_REPLY_NIL;
            if (found[i0 + j])
                r = kl__rd_copy_bulk(s, e, &vals[i0 + j], "get_many");
        }
    }
    kl__rd_free_replies(b.reps, runs);
    rd_batch_free(&b);
    return r;
}
