/* SPDX-License-Identifier: BSD-3-Clause */
/* redis: error messages, the connection (polled for staleness, remade
 * after a fork or a drop), commands sent in one go, MULTI/EXEC.  See
 * redis.h. */
#define _GNU_SOURCE
#include "archive/backend/redis/redis.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

int kl__rd_notfound(rd_state *s)
{
    return kl_seterr(KL_ENOTFOUND, "%s: key not found", s->url);
}

int kl__rd_writable(rd_state *s)
{
    return s->read_only ? kl_seterr(KL_EPERM, "%s: opened read-only", s->url) : 0;
}

int kl__rd_check_size(rd_state *s, size_t klen, size_t vlen)
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
int kl__rd_reply_err(rd_state *s, const redisReply *rep, const char *what)
{
    const char *m = rep->str ? rep->str : "";
    int code = KL_EBACKEND;
    if (!strncmp(m, "NOAUTH", 6) || !strncmp(m, "WRONGPASS", 9) || !strncmp(m, "NOPERM", 6))
        code = KL_EPERM;
    else if (!strncmp(m, "OOM", 3))
        code = KL_ENOSPC;
    return rd_reply_msg(s, code, rep, what);
}

int kl__rd_unexpected(rd_state *s, const redisReply *rep, const char *what)
{
    if (rep && rep->type == REDIS_REPLY_ERROR)
        return kl__rd_reply_err(s, rep, what);
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
        r = kl__rd_unexpected(s, rep, what);
    freeReplyObject(rep);
    if (r) {
        redisFree(s->c);
        s->c = NULL;
    }
    return r;
}

int kl__rd_connect(rd_state *s)
{
    if (s->c)
        return 0;
    /* the connection before this one, if this process made it (a forked
     * child's parent keeps using its own) */
    if (s->client_id && s->pid == getpid())
        s->lost_client = s->client_id;
    s->client_id = 0;
    s->hello_due = true;
    s->c = s->timeout > 0 ? redisConnectWithTimeout(s->host, s->port, rd_tv(s->timeout))
                          : redisConnect(s->host, s->port);
    if (!s->c || s->c->err)
        return rd_lost(s, "connect");
    s->pid = getpid();
    if (s->timeout > 0 && redisSetTimeout(s->c, rd_tv(s->timeout)) != REDIS_OK)
        return rd_lost(s, "connect");
    redisEnableKeepAlive(s->c); /* a peer that vanished is noticed on idle connections */
    /* a server met anew: the marker is due (kl__rd_write_ready) */
    s->conn_gen++;
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
    return kl__rd_connect(s);
}

void kl__rd_free_replies(redisReply **reps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (reps[i])
            freeReplyObject(reps[i]);
        reps[i] = NULL;
    }
}

static int rd_reconnect(void *state)
{
    return kl__rd_connect(state);
}

/* After a dropped connection, the server may not yet have read the last
 * commands sent on it (a put whose answer was lost): it would then run
 * them after whatever the new connection does next -- a delete
 * acknowledged now, undone by that put landing later.  So the first
 * pipeline of a new connection starts with CLIENT ID (this connection's,
 * kept) and CLIENT KILL ID of the one before: the server runs one command
 * at a time, so once the kill has run, the old connection's commands have
 * run or never will, before this pipeline's own.  Sent in the same
 * pipeline: no round trip more.  A server without CLIENT ID (before
 * Redis 5) answers errors, which change nothing. */
static size_t rd_hello(rd_state *s, char id[24], bool *ok)
{
    if (!s->hello_due)
        return 0;
    static const char *const id_argv[2] = {"CLIENT", "ID"};
    static const size_t id_lens[2] = {6, 2};
    *ok = redisAppendCommandArgv(s->c, 2, (const char **)id_argv, id_lens) == REDIS_OK;
    if (!*ok || !s->lost_client)
        return 1;
    int n = snprintf(id, 24, "%lld", s->lost_client);
    const char *argv[4] = {"CLIENT", "KILL", "ID", id};
    size_t lens[4] = {6, 4, 2, (size_t)n};
    *ok = redisAppendCommandArgv(s->c, 4, argv, lens) == REDIS_OK;
    return 2;
}

/* The replies to rd_hello's commands, first on the connection. */
static bool rd_hello_replies(rd_state *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *got = NULL;
        if (redisGetReply(s->c, &got) != REDIS_OK || !got)
            return false;
        redisReply *rep = got;
        if (i == 0 && rep->type == REDIS_REPLY_INTEGER)
            s->client_id = rep->integer;
        freeReplyObject(rep); /* the kill's: 1, or an error: gone already */
    }
    if (n) {
        s->hello_due = false;
        if (n == 2)
            s->lost_client = 0;
    }
    return true;
}

/* kl__rd_run; with `prepared`, the caller has just made the connection
 * ready (kl__rd_write_ready): not polled again. */
static int rd_run(rd_state *s, const rd_cmd *cmds, size_t n, redisReply **reps, bool read,
                  const char *what, bool prepared)
{
    memset(reps, 0, n * sizeof *reps);
    for (int attempt = 0;; attempt++) {
        int r = attempt == 0 && prepared && s->c ? 0 : rd_ready(s);
        if (r)
            return r;
        size_t pending = 0;
        bool ok = true;
        char lost_id[24];
        size_t hello = rd_hello(s, lost_id, &ok);
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
        if (ok)
            ok = rd_hello_replies(s, hello);
        for (size_t i = 0; ok && i < n; i++) {
            void *rep = NULL;
            ok = redisGetReply(s->c, &rep) == REDIS_OK && rep;
            reps[i] = rep;
        }
        if (ok)
            return 0;
        kl__rd_free_replies(reps, n);
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

/* Send n commands as one pipeline and read their n replies into reps
 * (each to free; error replies included: callers judge them).  `read`:
 * the commands only read, so after a lost connection (not a timeout) they
 * run once more on a new one.  On failure every reps[i] is NULL. */
int kl__rd_run(rd_state *s, const rd_cmd *cmds, size_t n, redisReply **reps, bool read,
               const char *what)
{
    return rd_run(s, cmds, n, reps, read, what, false);
}

int kl__rd_run_prepared(rd_state *s, const rd_cmd *cmds, size_t n, redisReply **reps,
                        const char *what)
{
    return rd_run(s, cmds, n, reps, false, what, true);
}

/* ---- the format marker on writes --------------------------------------- */

/* A server restarted without persistence (or a database flushed) loses
 * the marker while this handle's writes go on: new handles would then
 * find entries but "no klepto archive".  So a write transaction also sets
 * the marker (SET NX: one more command in the same round trip) on the
 * first write over each new connection — a restart always means one — and
 * then at most once every RD_MARKER_EVERY_NS, which bounds how long a
 * marker deleted under a live connection stays missing while this handle
 * writes.  Not on every write: one more command in each put transaction
 * cost 7-10 % of put throughput (raw transactions on loopback). */
int kl__rd_write_ready(rd_state *s, bool *marker)
{
    int r = rd_ready(s);
    if (r)
        return r;
    int64_t now = kl__now_ns();
    *marker = s->marker_gen != s->conn_gen || now - s->marker_ns >= RD_MARKER_EVERY_NS ||
              now < s->marker_ns; /* the clock went back */
    return 0;
}

void kl__rd_marker_sent(rd_state *s)
{
    s->marker_gen = s->conn_gen;
    s->marker_ns = kl__now_ns();
}

/* One command, one reply. */
int kl__rd_run1(rd_state *s, int argc, const char **argv, const size_t *lens, bool read,
                   redisReply **rep, const char *what)
{
    rd_cmd c = {argc, argv, lens};
    return kl__rd_run(s, &c, 1, rep, read, what);
}

/* Replies of MULTI, n queued commands, EXEC (n + 2 of them): 0 when the
 * transaction ran and every command in it succeeded; the first error
 * otherwise.  The results are the elements of reps[n + 1]. */
int kl__rd_check_txn(rd_state *s, redisReply **reps, size_t n, const char *what)
{
    for (size_t i = 0; i <= n; i++)
        if (reps[i]->type == REDIS_REPLY_ERROR)
            return kl__rd_reply_err(s, reps[i], what); /* EXEC discarded everything */
    redisReply *ex = reps[n + 1];
    if (ex->type != REDIS_REPLY_ARRAY || ex->elements != n)
        return kl__rd_unexpected(s, ex, what);
    for (size_t i = 0; i < n; i++)
        if (ex->element[i]->type == REDIS_REPLY_ERROR)
            return kl__rd_reply_err(s, ex->element[i], what);
    return 0;
}

/* n (at most RD_TXN_MAX) writes as one transaction (MULTI, the n
 * commands, EXEC: one round trip), with the marker when `marker` and it is
 * due (kl__rd_write_ready) as one more command after them; reps (room for
 * n + 3, to free with kl__rd_free_replies(reps, n + 3)) hold the replies,
 * the results of the n commands being the first n elements of the last
 * one (reps[n + 1], or reps[n + 2] with the marker). */
int kl__rd_txn(rd_state *s, const rd_cmd *cmds, size_t n, bool marker, redisReply **reps,
               const char *what)
{
    static const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
    static const size_t lmulti[1] = {5}, lexec[1] = {4};
    memset(reps, 0, (n + 3) * sizeof *reps);
    bool due = false;
    int r = kl__rd_write_ready(s, &due);
    if (r)
        return r;
    due = due && marker;
    rd_cmd all[RD_TXN_MAX + 3];
    size_t m = 0;
    all[m++] = (rd_cmd){1, multi, lmulti};
    for (size_t i = 0; i < n; i++)
        all[m++] = cmds[i];
    if (due)
        all[m++] = kl__rd_marker(s);
    all[m++] = (rd_cmd){1, exec, lexec};
    r = kl__rd_run_prepared(s, all, m, reps, what);
    if (!r && (r = kl__rd_check_txn(s, reps, m - 2, what)))
        kl__rd_free_replies(reps, m);
    if (!r && due)
        kl__rd_marker_sent(s);
    return r;
}
