/*
 * redis: archives in a Redis server, through hiredis.
 *
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?prefix=P&timeout=SECONDS]
 *
 * Defaults: host 127.0.0.1, port 6379, DB 0, prefix "klepto", timeout 10 s
 * (0: none).  Layout (docs/redis.md), three keys per archive:
 *
 *   {P}:entries  hash  key bytes -> value bytes (exactly as given)
 *   {P}:stamps   hash  key bytes -> "STORED_NS SIZE" (decimal text)
 *   {P}:format   string "klepto-redis 1" (the marker: an archive exists)
 *
 * Why this layout:
 * - One hash per archive makes count O(1) (HLEN) and gives a cursor
 *   (HSCAN) that visits every entry present for the whole iteration while
 *   other processes write.  HSCAN may repeat an element (when the hash is
 *   rehashed between calls), so the iterator remembers the XXH3-128 of
 *   every key it yielded and skips repeats (16 bytes per key, freed with
 *   the iterator).
 * - The stored time lives in a second hash rather than in a header before
 *   the value: the entries hash then holds the values other programs
 *   expect (plain canonical CBOR), and stat (which `klepto prune` calls per
 *   entry) is one small HGET instead of reading the value.
 * - Every write touches both hashes inside MULTI/EXEC, sent as one
 *   pipeline (one round trip): readers in other connections see the old
 *   entry or the new one, never a value without its stamp or half a batch.
 *   A batch (put_many) is one transaction however large: variadic HSETs
 *   of up to RD_CHUNK_FIELDS fields / RD_CHUNK_BYTES bytes each, written
 *   to the socket as they are formed so the client never holds a huge
 *   buffer.  A command the server refuses while queueing (out of memory)
 *   or a connection lost before EXEC discards the whole transaction.
 * - The {P} hash tag keeps an archive's keys in one slot, so the same
 *   layout works behind a Redis Cluster proxy; the prefix therefore may
 *   not contain braces.  Key names are P + a fixed suffix, so archives with
 *   different prefixes never share a key; clear removes the two hashes
 *   (UNLINK: one atomic command, memory freed in the background), drop
 *   also the marker.
 * - Needs Redis 4.0 or later (variadic HSET, UNLINK).
 *
 * Connections: one per handle, not marked thread-safe (the core serialises
 * calls).  Before each command the connection is polled: one the server
 * already closed (idle timeout, restart) is replaced before anything is
 * sent, so no write is lost to a stale connection; a forked child never
 * shares its parent's connection (it makes its own).  A connection lost
 * while a command is in flight is reported (KL_EBACKEND); reads are then
 * retried once on a new connection, writes are not (the server may or may
 * not have applied them).  A server that does not answer within timeout=
 * is reported, not asked again.  Commands go out through
 * send(MSG_NOSIGNAL) rather than hiredis's write(), so a server hanging up
 * mid-write is an EPIPE error, never a SIGPIPE that kills the process.
 * Server error replies become KL_EBACKEND with the server's message
 * (KL_EPERM for NOAUTH/WRONGPASS/NOPERM and any refusal of AUTH, KL_ENOSPC
 * for OOM); messages name the URL with its password masked.
 *
 * Limits: keys and values up to 512 MiB each (Redis's default
 * proto-max-bulk-len and string limit); larger ones are KL_ETOOBIG before
 * anything is sent.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <hiredis/sds.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <xxhash.h>

#include "archive/backends.h"
#include "internal.h"
#include "klepto/sys/archive_backend.h"

#define RD_FORMAT "klepto-redis 1"
#define RD_FORMAT_NAME "klepto-redis "
#define RD_FORMAT_VERSION 1
#define RD_MAX_BULK ((size_t)512 << 20) /* Redis's proto-max-bulk-len default */
#define RD_PREFIX_MAX 256
#define RD_CHUNK_FIELDS 1000             /* fields per variadic HSET / HMGET */
#define RD_CHUNK_BYTES ((size_t)4 << 20) /* argument bytes per variadic command */
#define RD_FLUSH_BYTES ((size_t)8 << 20) /* written to the socket once this much is pending */
#define RD_SCAN_MAX 256                  /* HSCAN COUNT hint for small values */
#define RD_PAGE_BYTES ((size_t)4 << 20)  /* aim of an HSCAN page's size */
#define RD_DEFAULT_TIMEOUT 10.0

typedef struct rd_state {
    redisContext *c;
    pid_t pid;  /* the process that made c */
    char *url;  /* for messages, password masked */
    char *host; /* without brackets for IPv6 */
    int port;
    long db;
    char *user, *pass; /* NULL when absent */
    char *prefix;
    char *k_entries, *k_stamps, *k_format;
    size_t l_entries, l_stamps, l_format;
    double timeout; /* seconds; 0: none */
    bool read_only;
} rd_state;

/* One command: argc arguments with their lengths (binary-safe). */
typedef struct rd_cmd {
    int argc;
    const char **argv;
    const size_t *lens;
} rd_cmd;

/* ---- errors ----------------------------------------------------------- */

static int rd_notfound(rd_state *s)
{
    return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
}

static int rd_writable(rd_state *s)
{
    return s->read_only ? kl_seterr(KL_EPERM, "%s: opened read-only", s->url) : 0;
}

static int rd_check_size(rd_state *s, size_t klen, size_t vlen)
{
    if (klen > RD_MAX_BULK || vlen > RD_MAX_BULK)
        return kl_seterr(
            KL_ETOOBIG, "%s: a %s of %zu bytes is over Redis's 512 MiB limit for one string",
            s->url, klen > RD_MAX_BULK ? "key" : "value", klen > RD_MAX_BULK ? klen : vlen);
    return 0;
}

/* An error reply as error `code`, with (the start of) its message. */
static int rd_reply_msg(rd_state *s, int code, const redisReply *rep, const char *what)
{
    return kl_seterr(code, "%s: %s: %.*s", s->url, what, (int)(rep->len < 400 ? rep->len : 400),
                     rep->str ? rep->str : "");
}

/* An error reply: its message, and a code from its prefix. */
static int rd_reply_err(rd_state *s, const redisReply *rep, const char *what)
{
    const char *m = rep->str ? rep->str : "";
    int code = KL_EBACKEND;
    if (!strncmp(m, "NOAUTH", 6) || !strncmp(m, "WRONGPASS", 9) || !strncmp(m, "NOPERM", 6))
        code = KL_EPERM;
    else if (!strncmp(m, "OOM", 3))
        code = KL_ENOSPC;
    return rd_reply_msg(s, code, rep, what);
}

static int rd_unexpected(rd_state *s, const redisReply *rep, const char *what)
{
    if (rep && rep->type == REDIS_REPLY_ERROR)
        return rd_reply_err(s, rep, what);
    return kl_seterr(KL_EBACKEND, "%s: %s: unexpected reply from the server (type %d)", s->url,
                     what, rep ? rep->type : -1);
}

/* A blocking read or write gave up after timeout= seconds (SO_RCVTIMEO /
 * SO_SNDTIMEO: hiredis reports EAGAIN's text). */
static bool rd_timed_out(const rd_state *s)
{
    return s->c && s->c->err == REDIS_ERR_IO && s->timeout > 0 &&
           !strcmp(s->c->errstr, strerror(EAGAIN));
}

/* The connection failed (I/O error, EOF, protocol): the message, and the
 * context is dropped so the next call connects afresh. */
static int rd_lost(rd_state *s, const char *what)
{
    int r;
    if (!s->c || s->c->err == REDIS_ERR_OOM) {
        r = kl_seterr(KL_ENOMEM, "%s: %s: out of memory", s->url, what);
    } else if (rd_timed_out(s)) {
        r = kl_seterr(KL_EBACKEND, "%s: %s: no answer within timeout=%g s", s->url, what,
                      s->timeout);
    } else if (s->c->err == REDIS_ERR_EOF) {
        r = kl_seterr(KL_EBACKEND, "%s: %s: the server closed the connection", s->url, what);
    } else {
        r = kl_seterr(KL_EBACKEND, "%s: %s: %s", s->url, what,
                      s->c->errstr[0] ? s->c->errstr : "connection failed");
    }
    if (s->c)
        redisFree(s->c);
    s->c = NULL;
    return r;
}

/* ---- connection ------------------------------------------------------- */

/* Send what hiredis has formatted (its output buffer) ourselves: hiredis
 * would write() it, and a connection the server closed would then raise
 * SIGPIPE and kill the process; send(MSG_NOSIGNAL) reports EPIPE instead,
 * without touching the process's signal handling.  hiredis only reads
 * afterwards, finding nothing left to write.  Failures are recorded in
 * the context as hiredis records its own. */
static int rd_send(redisContext *c)
{
    size_t len = sdslen(c->obuf), off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, c->obuf + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->err = REDIS_ERR_IO;
            snprintf(c->errstr, sizeof c->errstr, "%s", strerror(n < 0 ? errno : EPIPE));
            return REDIS_ERR;
        }
        off += (size_t)n;
    }
    /* a big buffer is given back rather than kept for the connection's life */
    sds fresh = len > RD_FLUSH_BYTES ? sdsempty() : NULL;
    if (fresh) {
        sdsfree(c->obuf);
        c->obuf = fresh;
    } else {
        sdsclear(c->obuf);
    }
    return REDIS_OK;
}

static struct timeval rd_tv(double sec)
{
    struct timeval tv;
    tv.tv_sec = (time_t)sec;
    tv.tv_usec = (suseconds_t)((sec - (double)tv.tv_sec) * 1e6);
    return tv;
}

/* One command on a fresh connection during setup (AUTH, SELECT). */
static int rd_setup_cmd(rd_state *s, int argc, const char **argv, const size_t *lens,
                        const char *what)
{
    void *got = NULL;
    if (redisAppendCommandArgv(s->c, argc, argv, lens) != REDIS_OK || rd_send(s->c) != REDIS_OK ||
        redisGetReply(s->c, &got) != REDIS_OK || !got)
        return rd_lost(s, what);
    redisReply *rep = got;
    int r = 0;
    if (rep->type == REDIS_REPLY_ERROR && !strcmp(what, "authenticate")) /* any refusal */
        r = rd_reply_msg(s, KL_EPERM, rep, what);
    else if (rep->type != REDIS_REPLY_STATUS)
        r = rd_unexpected(s, rep, what);
    freeReplyObject(rep);
    if (r) {
        redisFree(s->c);
        s->c = NULL;
    }
    return r;
}

static int rd_connect(rd_state *s)
{
    if (s->c)
        return 0;
    s->c = s->timeout > 0 ? redisConnectWithTimeout(s->host, s->port, rd_tv(s->timeout))
                          : redisConnect(s->host, s->port);
    if (!s->c || s->c->err)
        return rd_lost(s, "connect");
    s->pid = getpid();
    if (s->timeout > 0 && redisSetTimeout(s->c, rd_tv(s->timeout)) != REDIS_OK)
        return rd_lost(s, "connect");
    redisEnableKeepAlive(s->c); /* a peer that vanished is noticed on idle connections */
    int r = 0;
    if (s->pass) {
        const char *argv[3] = {"AUTH", s->user ? s->user : s->pass, s->pass};
        size_t lens[3] = {4, strlen(argv[1]), strlen(s->pass)};
        r = rd_setup_cmd(s, s->user ? 3 : 2, argv, lens, "authenticate");
    }
    if (!r && s->db != 0) {
        char db[24];
        int n = snprintf(db, sizeof db, "%ld", s->db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, (size_t)n};
        r = rd_setup_cmd(s, 2, argv, lens, "select database");
    }
    return r;
}

/* A connection the server closed while idle has EOF (or an error) waiting
 * to be read: drop it before sending anything on it.  A connection made
 * by the parent of a forked process is the parent's: the child makes its
 * own (freeing the copy closes only the child's descriptor). */
static void rd_drop_if_stale(rd_state *s)
{
    if (!s->c)
        return;
    if (s->pid != getpid()) {
        redisFree(s->c);
        s->c = NULL;
        return;
    }
    struct pollfd p = {.fd = s->c->fd, .events = POLLIN};
    if (poll(&p, 1, 0) != 0) { /* nothing is owed to us: any event means trouble */
        redisFree(s->c);
        s->c = NULL;
    }
}

static int rd_ready(rd_state *s)
{
    rd_drop_if_stale(s);
    return rd_connect(s);
}

static void rd_free_replies(redisReply **reps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (reps[i])
            freeReplyObject(reps[i]);
        reps[i] = NULL;
    }
}

static int rd_reconnect(void *state)
{
    return rd_connect(state);
}

/* Send n commands as one pipeline and read their n replies into reps
 * (each to free; error replies included: callers judge them).  `read`:
 * the commands only read, so after a lost connection (not a timeout) they
 * run once more on a new one.  On failure every reps[i] is NULL. */
static int rd_run(rd_state *s, const rd_cmd *cmds, size_t n, redisReply **reps, bool read,
                  const char *what)
{
    memset(reps, 0, n * sizeof *reps);
    for (int attempt = 0;; attempt++) {
        int r = rd_ready(s);
        if (r)
            return r;
        size_t pending = 0;
        bool ok = true;
        for (size_t i = 0; ok && i < n; i++) {
            if (redisAppendCommandArgv(s->c, cmds[i].argc, cmds[i].argv, cmds[i].lens) !=
                REDIS_OK) {
                ok = false;
                break;
            }
            for (int j = 0; j < cmds[i].argc; j++)
                pending += cmds[i].lens[j];
            if (pending >= RD_FLUSH_BYTES) {
                ok = rd_send(s->c) == REDIS_OK;
                pending = 0;
            }
        }
        if (ok)
            ok = rd_send(s->c) == REDIS_OK;
        for (size_t i = 0; ok && i < n; i++) {
            void *rep = NULL;
            ok = redisGetReply(s->c, &rep) == REDIS_OK && rep;
            reps[i] = rep;
        }
        if (ok)
            return 0;
        rd_free_replies(reps, n);
        /* a server that does not answer in time is not asked again */
        if (rd_timed_out(s))
            read = false;
        r = rd_lost(s, what);
        if (read && attempt > 0) {
            char *m = strdup(kl_errmsg());
            if (m)
                r = kl_seterr(r, "%s (also on a new connection)", m);
            free(m);
        }
        if (!read || attempt > 0)
            return r;
        if ((r = kl__archive_reconnect(rd_reconnect, s)))
            return r;
    }
}

/* One command, one reply. */
static int rd_run1(rd_state *s, int argc, const char **argv, const size_t *lens, bool read,
                   redisReply **rep, const char *what)
{
    rd_cmd c = {argc, argv, lens};
    return rd_run(s, &c, 1, rep, read, what);
}

/* Replies of MULTI, n queued commands, EXEC (n + 2 of them): 0 when the
 * transaction ran and every command in it succeeded; the first error
 * otherwise.  The results are the elements of reps[n + 1]. */
static int rd_check_txn(rd_state *s, redisReply **reps, size_t n, const char *what)
{
    for (size_t i = 0; i <= n; i++)
        if (reps[i]->type == REDIS_REPLY_ERROR)
            return rd_reply_err(s, reps[i], what); /* EXEC discarded everything */
    redisReply *ex = reps[n + 1];
    if (ex->type != REDIS_REPLY_ARRAY || ex->elements != n)
        return rd_unexpected(s, ex, what);
    for (size_t i = 0; i < n; i++)
        if (ex->element[i]->type == REDIS_REPLY_ERROR)
            return rd_reply_err(s, ex->element[i], what);
    return 0;
}

/* Two writes as one transaction (MULTI, a, b, EXEC: one round trip);
 * reps (4 of them, to free with rd_free_replies) hold the replies, the
 * results being the elements of reps[3]. */
static int rd_txn2(rd_state *s, rd_cmd a, rd_cmd b, redisReply **reps, const char *what)
{
    static const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
    static const size_t lmulti[1] = {5}, lexec[1] = {4};
    rd_cmd cmds[4] = {{1, multi, lmulti}, a, b, {1, exec, lexec}};
    int r = rd_run(s, cmds, 4, reps, false, what);
    if (!r && (r = rd_check_txn(s, reps, 2, what)))
        rd_free_replies(reps, 4);
    return r;
}

/* ---- slots ------------------------------------------------------------ */

#define KEYARG(k) ((k) ? (const char *)(k) : "") /* hiredis copies; never NULL */

static int rd_copy_bulk(rd_state *s, const redisReply *rep, kl_buf *out, const char *what)
{
    if (rep->type != REDIS_REPLY_STRING)
        return rd_unexpected(s, rep, what);
    kl_buf_reset(out);
    if (kl_buf_append(out, rep->str, rep->len))
        return kl_seterr(KL_ENOMEM, "%s: %s: out of memory for %zu bytes", s->url, what, rep->len);
    return 0;
}

/* A read of one field: "CMD HASH KEY" (HGET, HEXISTS...), one reply. */
static int rd_field_read(rd_state *s, const char *cmd, const char *hash, size_t hlen,
                         const void *key, size_t klen, redisReply **rep, const char *what)
{
    const char *argv[3] = {cmd, hash, KEYARG(key)};
    size_t lens[3] = {strlen(cmd), hlen, klen};
    return rd_run1(s, 3, argv, lens, true, rep, what);
}

static int rd_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    rd_state *s = state;
    redisReply *rep;
    int r = rd_field_read(s, "HGET", s->k_entries, s->l_entries, key, klen, &rep, "get");
    if (r)
        return r;
    r = rep->type == REDIS_REPLY_NIL ? rd_notfound(s) : rd_copy_bulk(s, rep, val, "get");
    freeReplyObject(rep);
    return r;
}

static int rd_contains(void *state, const void *key, size_t klen)
{
    rd_state *s = state;
    redisReply *rep;
    int r = rd_field_read(s, "HEXISTS", s->k_entries, s->l_entries, key, klen, &rep, "contains");
    if (r)
        return r;
    r = rep->type == REDIS_REPLY_INTEGER ? rep->integer != 0 : rd_unexpected(s, rep, "contains");
    freeReplyObject(rep);
    return r;
}

static int rd_count(void *state, size_t *out)
{
    rd_state *s = state;
    const char *argv[2] = {"HLEN", s->k_entries};
    size_t lens[2] = {4, s->l_entries};
    redisReply *rep;
    int r = rd_run1(s, 2, argv, lens, true, &rep, "count");
    if (r)
        return r;
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0)
        *out = (size_t)rep->integer;
    else
        r = rd_unexpected(s, rep, "count");
    freeReplyObject(rep);
    return r;
}

static int rd_stamp(char *buf, size_t cap, int64_t now, size_t klen, size_t vlen)
{
    return snprintf(buf, cap, "%" PRId64 " %zu", now, klen + vlen);
}

static int rd_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    rd_state *s = state;
    int r = rd_writable(s);
    if (!r)
        r = rd_check_size(s, klen, vlen);
    if (r)
        return r;
    char stamp[48];
    int sl = rd_stamp(stamp, sizeof stamp, kl__now_ns(), klen, vlen);
    const char *a1[4] = {"HSET", s->k_entries, KEYARG(key), KEYARG(val)};
    size_t l1[4] = {4, s->l_entries, klen, vlen};
    const char *a2[4] = {"HSET", s->k_stamps, KEYARG(key), stamp};
    size_t l2[4] = {4, s->l_stamps, klen, (size_t)sl};
    redisReply *reps[4];
    if ((r = rd_txn2(s, (rd_cmd){4, a1, l1}, (rd_cmd){4, a2, l2}, reps, "put")))
        return r;
    rd_free_replies(reps, 4);
    return 0;
}

static int rd_del(void *state, const void *key, size_t klen)
{
    rd_state *s = state;
    int r = rd_writable(s);
    if (r)
        return r;
    const char *a1[3] = {"HDEL", s->k_entries, KEYARG(key)};
    size_t l1[3] = {4, s->l_entries, klen};
    const char *a2[3] = {"HDEL", s->k_stamps, KEYARG(key)};
    size_t l2[3] = {4, s->l_stamps, klen};
    redisReply *reps[4];
    if ((r = rd_txn2(s, (rd_cmd){3, a1, l1}, (rd_cmd){3, a2, l2}, reps, "delete")))
        return r;
    const redisReply *n = reps[3]->element[0];
    r = n->type != REDIS_REPLY_INTEGER ? rd_unexpected(s, n, "delete")
        : n->integer == 0              ? rd_notfound(s)
                                       : 0;
    rd_free_replies(reps, 4);
    return r;
}

/* "STORED_NS SIZE" -> info; false when it is not that. */
static bool rd_parse_stamp(const redisReply *rep, kl_entry_info *out)
{
    char buf[64];
    if (rep->type != REDIS_REPLY_STRING || rep->len == 0 || rep->len >= sizeof buf)
        return false;
    memcpy(buf, rep->str, rep->len);
    buf[rep->len] = '\0';
    char *end;
    errno = 0;
    long long ns = strtoll(buf, &end, 10);
    if (errno || *end != ' ')
        return false;
    char *p = end + 1;
    if (!isdigit((unsigned char)*p))
        return false;
    unsigned long long size = strtoull(p, &end, 10);
    if (errno || *end)
        return false;
    out->stored_ns = ns;
    out->size = size;
    return true;
}

static int rd_stat(void *state, const void *key, size_t klen, kl_entry_info *out)
{
    rd_state *s = state;
    redisReply *rep;
    int r = rd_field_read(s, "HGET", s->k_stamps, s->l_stamps, key, klen, &rep, "stat");
    if (r)
        return r;
    bool have = rep->type != REDIS_REPLY_NIL;
    if (have && !rd_parse_stamp(rep, out))
        have = false; /* not one of ours: measured from the entry instead */
    if (!have && rep->type == REDIS_REPLY_ERROR)
        r = rd_reply_err(s, rep, "stat");
    freeReplyObject(rep);
    if (r || have)
        return r;
    /* an entry without a stamp (written by another program): its size,
     * and no time */
    const char *a2[3] = {"HEXISTS", s->k_entries, KEYARG(key)};
    const char *a3[3] = {"HSTRLEN", s->k_entries, KEYARG(key)};
    size_t l2[3] = {7, s->l_entries, klen};
    rd_cmd cmds[2] = {{3, a2, l2}, {3, a3, l2}};
    redisReply *reps[2];
    if ((r = rd_run(s, cmds, 2, reps, true, "stat")))
        return r;
    if (reps[0]->type != REDIS_REPLY_INTEGER)
        r = rd_unexpected(s, reps[0], "stat");
    else if (reps[1]->type != REDIS_REPLY_INTEGER)
        r = rd_unexpected(s, reps[1], "stat");
    else if (reps[0]->integer == 0)
        r = rd_notfound(s);
    else {
        out->stored_ns = 0;
        out->size = klen + (uint64_t)reps[1]->integer;
    }
    rd_free_replies(reps, 2);
    return r;
}

static int rd_unlink(rd_state *s, bool marker, const char *what)
{
    int r = rd_writable(s);
    if (r)
        return r;
    const char *argv[4] = {"UNLINK", s->k_entries, s->k_stamps, s->k_format};
    size_t lens[4] = {6, s->l_entries, s->l_stamps, s->l_format};
    redisReply *rep;
    if ((r = rd_run1(s, marker ? 4 : 3, argv, lens, false, &rep, what)))
        return r;
    r = rep->type == REDIS_REPLY_INTEGER ? 0 : rd_unexpected(s, rep, what);
    freeReplyObject(rep);
    return r;
}

static int rd_clear(void *state)
{
    return rd_unlink(state, false, "clear");
}
static int rd_drop(void *state)
{
    return rd_unlink(state, true, "drop");
}

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
 * when those are given; then EXEC.  On success *sum (if not NULL) gets the
 * total of the entries commands' integer replies. */
static int rd_txn_runs(rd_state *s, const char *cmd, const char *what, size_t n,
                       const void *const *keys, const size_t *klens, const void *const *vals,
                       const size_t *vlens, const char *stamps, const size_t *slens,
                       size_t *sum)
{
    size_t runs = 0;
    for (size_t i = 0; i < n; i = rd_run_end(i, n, klens, vlens))
        runs++;
    rd_batch b;
    size_t nc = 2 + 2 * runs;
    int r = rd_batch_init(s, &b, nc, 2 + 4 * runs + 4 * n, n);
    if (r)
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
    rd_batch_arg(&b, "EXEC", 4);
    rd_batch_end_cmd(&b);
    r = rd_run(s, b.cmds, nc, b.reps, false, what);
    if (!r)
        r = rd_check_txn(s, b.reps, nc - 2, what);
    for (size_t k = 0; !r && sum && k < nc - 2; k += 2) {
        const redisReply *x = b.reps[nc - 1]->element[k];
        if (x->type != REDIS_REPLY_INTEGER)
            r = rd_unexpected(s, x, what);
        else
            *sum += (size_t)x->integer;
    }
    rd_free_replies(b.reps, nc);
    rd_batch_free(&b);
    return r;
}

/* HSET of the values and of their stamps, in one transaction. */
static int rd_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       const void *const *vals, const size_t *vlens)
{
    rd_state *s = state;
    int r = rd_writable(s);
    for (size_t i = 0; !r && i < n; i++)
        r = rd_check_size(s, klens[i], vlens[i]);
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
        slens[j] = (size_t)rd_stamp(stamps + j * 48, 48, now, klens[j], vlens[j]);
    r = rd_txn_runs(s, "HSET", "put_many", n, keys, klens, vals, vlens, stamps, slens, NULL);
    free(stamps);
    free(slens);
    return r;
}

/* HDEL from both hashes in one transaction; the entries' HDELs count what
 * went. */
static int rd_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                       size_t *deleted)
{
    rd_state *s = state;
    *deleted = 0;
    int r = rd_writable(s);
    if (r || n == 0)
        return r;
    return rd_txn_runs(s, "HDEL", "del_many", n, keys, klens, NULL, NULL, NULL, NULL, deleted);
}

/* HMGET in runs of RD_CHUNK_FIELDS keys, pipelined: one round trip. */
static int rd_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
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
    r = rd_run(s, b.cmds, runs, b.reps, true, "get_many");
    for (size_t k = 0; !r && k < runs; k++) {
        size_t i0 = k * RD_CHUNK_FIELDS;
        size_t m = (i0 + RD_CHUNK_FIELDS < n ? i0 + RD_CHUNK_FIELDS : n) - i0;
        const redisReply *rep = b.reps[k];
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != m) {
            r = rd_unexpected(s, rep, "get_many");
            break;
        }
        for (size_t j = 0; !r && j < m; j++) {
            const redisReply *e = rep->element[j];
            found[i0 + j] = e->type != REDIS_REPLY_NIL;
            if (found[i0 + j])
                r = rd_copy_bulk(s, e, &vals[i0 + j], "get_many");
        }
    }
    rd_free_replies(b.reps, runs);
    rd_batch_free(&b);
    return r;
}

/* ---- describe --------------------------------------------------------- */

/* The value of "name:" in INFO's text, into out (NUL-terminated). */
static void rd_info_field(const redisReply *rep, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    if (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_STATUS)
        return;
    size_t nl = strlen(name);
    const char *p = rep->str, *end = rep->str + rep->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && !memcmp(p, name, nl) && p[nl] == ':') {
            size_t n = (size_t)(eol - p) - nl - 1;
            while (n && (p[nl + n] == '\r'))
                n--;
            if (n >= cap)
                n = cap - 1;
            memcpy(out, p + nl + 1, n);
            out[n] = '\0';
            return;
        }
        p = eol + 1;
    }
}

static int rd_describe(void *state, kl_buf *out)
{
    rd_state *s = state;
    const char *argv[2] = {"INFO", "server"};
    size_t lens[2] = {4, 6};
    redisReply *rep;
    int r = rd_run1(s, 2, argv, lens, true, &rep, "describe");
    if (r)
        return r;
    char version[64], mode[32];
    rd_info_field(rep, "redis_version", version, sizeof version);
    rd_info_field(rep, "redis_mode", mode, sizeof mode);
    freeReplyObject(rep);
    r = kl_buf_printf(out,
                      "backend=redis\nlayout=" RD_FORMAT "\nserver_version=%s\nserver_mode=%s\n"
                      "hiredis_version=%d.%d.%d\nhost=%s\nport=%d\ndb=%ld\nprefix=%s\n"
                      "entries_key=%s\nstamps_key=%s\n",
                      version[0] ? version : "?", mode[0] ? mode : "?", HIREDIS_MAJOR,
                      HIREDIS_MINOR, HIREDIS_PATCH, s->host, s->port, s->db, s->prefix,
                      s->k_entries, s->k_stamps);
    return r;
}

/* ---- iteration -------------------------------------------------------- */

/* The XXH3-128 digests of the keys yielded so far (open addressing; the
 * all-zero digest marks a free slot, a key hashing to it is nudged). */
typedef struct rd_seen {
    XXH128_hash_t *slots;
    size_t cap, n; /* cap: a power of two */
} rd_seen;

static XXH128_hash_t rd_digest(const void *p, size_t n)
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    if (h.low64 == 0 && h.high64 == 0)
        h.low64 = 1;
    return h;
}

static bool rd_seen_slot(const rd_seen *t, XXH128_hash_t h, size_t *at)
{
    size_t i = (size_t)h.low64 & (t->cap - 1);
    for (;; i = (i + 1) & (t->cap - 1)) {
        XXH128_hash_t x = t->slots[i];
        if (x.low64 == 0 && x.high64 == 0) {
            *at = i;
            return false;
        }
        if (x.low64 == h.low64 && x.high64 == h.high64)
            return true;
    }
}

/* 1: added; 0: seen before; KL_ENOMEM. */
static int rd_seen_add(rd_seen *t, XXH128_hash_t h)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        XXH128_hash_t *old = t->slots;
        size_t oldcap = t->cap;
        t->slots = calloc(cap, sizeof *t->slots);
        if (!t->slots) {
            t->slots = old;
            return KL_ENOMEM;
        }
        t->cap = cap;
        for (size_t i = 0; i < oldcap; i++) {
            size_t at;
            if ((old[i].low64 || old[i].high64) && !rd_seen_slot(t, old[i], &at))
                t->slots[at] = old[i];
        }
        free(old);
    }
    size_t at;
    if (rd_seen_slot(t, h, &at))
        return 0;
    t->slots[at] = h;
    t->n++;
    return 1;
}

typedef struct rd_cursor {
    rd_state *s;
    redisReply *page; /* the last HSCAN reply */
    size_t next;      /* next field index in page's element list */
    char cur[24];     /* the server's cursor, decimal */
    unsigned count;   /* COUNT hint: smaller when pages come back big */
    bool started, done;
    rd_seen seen;
} rd_cursor;

static int rd_iter_new(void *state, void **cursor)
{
    rd_state *s = state;
    rd_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return kl_seterr(KL_ENOMEM, "%s: out of memory", s->url);
    c->s = s;
    c->count = RD_SCAN_MAX;
    strcpy(c->cur, "0");
    *cursor = c;
    return 0;
}

static int rd_iter_fetch(rd_cursor *c)
{
    rd_state *s = c->s;
    if (c->page)
        freeReplyObject(c->page);
    c->page = NULL;
    char count[16];
    int cl = snprintf(count, sizeof count, "%u", c->count);
    const char *argv[5] = {"HSCAN", s->k_entries, c->cur, "COUNT", count};
    size_t lens[5] = {5, s->l_entries, strlen(c->cur), 5, (size_t)cl};
    redisReply *rep;
    int r = rd_run1(s, 5, argv, lens, true, &rep, "iterate");
    if (r)
        return r;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len == 0 ||
        rep->element[0]->len >= sizeof c->cur || rep->element[1]->type != REDIS_REPLY_ARRAY ||
        rep->element[1]->elements % 2) {
        r = rd_unexpected(s, rep, "iterate");
        freeReplyObject(rep);
        return r;
    }
    memcpy(c->cur, rep->element[0]->str, rep->element[0]->len);
    c->cur[rep->element[0]->len] = '\0';
    c->started = true;
    c->done = strcmp(c->cur, "0") == 0;
    c->page = rep;
    c->next = 0;
    /* a page carries values too: with big values, ask for fewer entries
     * so one page stays near RD_PAGE_BYTES instead of gigabytes */
    size_t bytes = 0;
    for (size_t i = 0; i < rep->element[1]->elements; i++)
        bytes += rep->element[1]->element[i]->len;
    if (bytes > RD_PAGE_BYTES)
        c->count = c->count / 2 ? c->count / 2 : 1;
    else if (bytes < RD_PAGE_BYTES / 4 && c->count < RD_SCAN_MAX)
        c->count *= 2;
    return 0;
}

static int rd_iter_next(void *cursor, kl_buf *key, kl_buf *val)
{
    rd_cursor *c = cursor;
    rd_state *s = c->s;
    for (;;) {
        if (!c->page || c->next >= c->page->element[1]->elements) {
            if (c->started && c->done)
                return 0;
            int r = rd_iter_fetch(c);
            if (r)
                return r;
            continue;
        }
        const redisReply *items = c->page->element[1];
        const redisReply *k = items->element[c->next], *v = items->element[c->next + 1];
        c->next += 2;
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return rd_unexpected(s, k->type != REDIS_REPLY_STRING ? k : v, "iterate");
        int added = rd_seen_add(&c->seen, rd_digest(k->str, k->len));
        if (added < 0)
            return kl_seterr(KL_ENOMEM, "%s: iterate: out of memory", s->url);
        if (!added)
            continue; /* HSCAN returned it again */
        int r = rd_copy_bulk(s, k, key, "iterate");
        if (!r && val)
            r = rd_copy_bulk(s, v, val, "iterate");
        return r ? r : 1;
    }
}

static void rd_iter_free(void *cursor)
{
    rd_cursor *c = cursor;
    if (!c)
        return;
    if (c->page)
        freeReplyObject(c->page);
    free(c->seen.slots);
    free(c);
}

/* ---- open / close ----------------------------------------------------- */

/* Percent-decoded copy of [p, p+n), or NULL (*bad set for a broken escape
 * or a NUL). */
static char *rd_decode(const char *p, size_t n, bool *bad)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    ptrdiff_t len = kl__pct_decode(o, p, n);
    if (len < 0 || memchr(o, '\0', (size_t)len)) {
        *bad = true;
        free(o);
        return NULL;
    }
    return o;
}

static int rd_bad_url(rd_state *s, const char *why)
{
    return kl_seterr(KL_EINVAL, "%s: %s (expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB])",
                     s->url, why);
}

/* rest: "" or "//[userinfo@]host[:port][/db]" */
static int rd_parse_rest(rd_state *s, const char *rest)
{
    if (!rest[0] || !strcmp(rest, "//")) {
        s->host = strdup("127.0.0.1");
        return s->host ? 0 : KL_ENOMEM;
    }
    if (strncmp(rest, "//", 2))
        return rd_bad_url(s, "expected // after redis:");
    const char *p = rest + 2;
    size_t alen = strcspn(p, "/");
    const char *at = memrchr(p, '@', alen);
    bool bad = false;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return rd_bad_url(s, "user without a password (use :PASSWORD@ or USER:PASSWORD@)");
        if (colon > p && !(s->user = rd_decode(p, (size_t)(colon - p), &bad)))
            return bad ? rd_bad_url(s, "bad percent escape in the user name") : KL_ENOMEM;
        if (!(s->pass = rd_decode(colon + 1, (size_t)(at - colon - 1), &bad)))
            return bad ? rd_bad_url(s, "bad percent escape in the password") : KL_ENOMEM;
        p = at + 1;
        alen = strcspn(p, "/");
    }
    /* host[:port]; an IPv6 host in brackets */
    const char *hend, *port = NULL;
    const char *hp = p;
    if (*p == '[') {
        const char *rb = memchr(p, ']', alen);
        if (!rb)
            return rd_bad_url(s, "unclosed [ in the host");
        hp = p + 1;
        hend = rb;
        if (rb + 1 < p + alen) {
            if (rb[1] != ':')
                return rd_bad_url(s, "bad host");
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', alen);
        hend = colon ? colon : p + alen;
        port = colon ? colon + 1 : NULL;
    }
    s->host = hend > hp ? strndup(hp, (size_t)(hend - hp)) : strdup("127.0.0.1");
    if (!s->host)
        return KL_ENOMEM;
    if (port) {
        size_t pl = (size_t)(p + alen - port);
        long v = 0;
        for (size_t i = 0; i < pl && v <= 65535; i++) {
            if (!isdigit((unsigned char)port[i]))
                return rd_bad_url(s, "bad port");
            v = v * 10 + (port[i] - '0');
        }
        if (pl == 0 || v < 1 || v > 65535)
            return rd_bad_url(s, "bad port (1..65535)");
        s->port = (int)v;
    }
    const char *d = p + alen;
    if (*d == '/' && d[1]) {
        d++;
        long v = 0;
        size_t i = 0;
        for (; d[i] && v <= INT_MAX; i++) {
            if (!isdigit((unsigned char)d[i]))
                return rd_bad_url(s, "bad database number");
            v = v * 10 + (d[i] - '0');
        }
        if (v > INT_MAX)
            return rd_bad_url(s, "bad database number");
        s->db = v;
    }
    return 0;
}

static int rd_check_prefix(rd_state *s, const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > RD_PREFIX_MAX)
        return kl_seterr(KL_EINVAL, "%s: prefix must be 1 to %d bytes", s->url, RD_PREFIX_MAX);
    if (strpbrk(p, "{}"))
        return kl_seterr(
            KL_EINVAL, "%s: prefix may not contain { or } (they delimit Redis hash tags)", s->url);
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return kl_seterr(KL_EINVAL, "%s: prefix may not contain control characters", s->url);
    return 0;
}

/* The marker: created when missing (if allowed), then checked. */
static int rd_check_format(rd_state *s, bool create)
{
    /* SET NX (when creating) and GET in one round trip */
    const char *set[4] = {"SET", s->k_format, RD_FORMAT, "NX"};
    size_t lset[4] = {3, s->l_format, strlen(RD_FORMAT), 2};
    const char *get[2] = {"GET", s->k_format};
    size_t lget[2] = {3, s->l_format};
    rd_cmd cmds[2] = {{4, set, lset}, {2, get, lget}};
    bool make = create && !s->read_only;
    redisReply *reps[2];
    int r = rd_run(s, make ? cmds : cmds + 1, make ? 2 : 1, reps, !make, "open");
    if (r)
        return r;
    if (make && reps[0]->type == REDIS_REPLY_ERROR) {
        r = rd_reply_err(s, reps[0], "open");
        rd_free_replies(reps, 2);
        return r;
    }
    redisReply *rep = reps[make ? 1 : 0];
    if (rep->type == REDIS_REPLY_NIL) {
        r = kl_seterr(KL_ENOTFOUND, "%s: no klepto archive with prefix '%s' in database %ld",
                      s->url, s->prefix, s->db);
    } else if (rep->type != REDIS_REPLY_STRING) {
        r = rd_unexpected(s, rep, "open");
    } else if (rep->len != strlen(RD_FORMAT) || memcmp(rep->str, RD_FORMAT, rep->len)) {
        size_t nl = strlen(RD_FORMAT_NAME);
        int v = 0;
        if (rep->len > nl && rep->len < nl + 9 && !memcmp(rep->str, RD_FORMAT_NAME, nl)) {
            for (size_t i = nl; i < rep->len && isdigit((unsigned char)rep->str[i]); i++)
                v = v * 10 + (rep->str[i] - '0');
        }
        if (v > RD_FORMAT_VERSION)
            r = kl_seterr(KL_EVERSION, "%s: %s holds layout version %d; this klepto knows %d",
                          s->url, s->k_format, v, RD_FORMAT_VERSION);
        else
            r = kl_seterr(KL_ECORRUPT,
                          "%s: %s does not hold '" RD_FORMAT
                          "': the prefix is used by something else",
                          s->url, s->k_format);
    }
    rd_free_replies(reps, make ? 2 : 1);
    return r;
}

static int rd_close(void *state)
{
    rd_state *s = state;
    if (!s)
        return 0;
    if (s->c)
        redisFree(s->c);
    free(s->url);
    free(s->host);
    free(s->user);
    if (s->pass) {
        explicit_bzero(s->pass, strlen(s->pass));
        free(s->pass);
    }
    free(s->prefix);
    free(s->k_entries);
    free(s->k_stamps);
    free(s->k_format);
    free(s);
    return 0;
}

static char *rd_key_name(const char *prefix, const char *suffix, size_t *len)
{
    char *k;
    int n = asprintf(&k, "{%s}:%s", prefix, suffix);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return k;
}

static int rd_open(void **out, const kl_url *url, const kl_archive_opts *opts)
{
    kl_archive_opts def = KL_ARCHIVE_OPTS_INIT;
    if (!opts)
        opts = &def;
    *out = NULL;
    rd_state *s = calloc(1, sizeof *s);
    if (!s || !(s->url = kl_archive_redact_url(url->full))) {
        free(s);
        return kl_seterr(KL_ENOMEM, "%s: out of memory", url->full);
    }
    s->port = 6379;
    s->timeout = RD_DEFAULT_TIMEOUT;
    s->read_only = opts->read_only;
    int r = rd_parse_rest(s, url->rest);
    const char *prefix = kl_url_param_get(url, "prefix");
    if (!prefix)
        prefix = "klepto";
    if (!r)
        r = rd_check_prefix(s, prefix);
    if (!r)
        r = kl_url_double(url, "timeout", 0, 86400, &s->timeout);
    if (!r && (!(s->prefix = strdup(prefix)) ||
               !(s->k_entries = rd_key_name(prefix, "entries", &s->l_entries)) ||
               !(s->k_stamps = rd_key_name(prefix, "stamps", &s->l_stamps)) ||
               !(s->k_format = rd_key_name(prefix, "format", &s->l_format))))
        r = KL_ENOMEM;
    if (r == KL_ENOMEM)
        kl_seterr(r, "%s: out of memory", s->url);
    /* unknown options are refused before anything is created on the server */
    if (!r)
        r = kl__url_check_used(url);
    if (!r)
        r = rd_connect(s);
    if (!r)
        r = rd_check_format(s, opts->create);
    if (r) {
        rd_close(s);
        return r;
    }
    *out = s;
    return 0;
}

const kl_archive_backend kl__backend_redis = {
    .version = KL_BACKEND_VERSION,
    .scheme = "redis",
    .flags = 0,
    .open = rd_open,
    .close = rd_close,
    .get = rd_get,
    .put = rd_put,
    .del = rd_del,
    .contains = rd_contains,
    .count = rd_count,
    .stat = rd_stat,
    .clear = rd_clear,
    .sync = NULL,
    .drop = rd_drop,
    .put_many = rd_put_many,
    .del_many = rd_del_many,
    .get_many = rd_get_many,
    .describe = rd_describe,
    .iter_new = rd_iter_new,
    .iter_next = rd_iter_next,
    .iter_free = rd_iter_free,
};
