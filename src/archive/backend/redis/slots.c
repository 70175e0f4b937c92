/* SPDX-License-Identifier: BSD-3-Clause */
/* redis: the single-key slots, clear and drop, describe, and the backend
 * itself.  See redis.h. */
#define _GNU_SOURCE
#include "archive/backend/redis/redis.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

int kl__rd_copy_bulk(rd_state *s, const redisReply *rep, kl_buf *out, const char *what)
{
    if (rep->type != REDIS_REPLY_STRING)
        return kl__rd_unexpected(s, rep, what);
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
    return kl__rd_run1(s, 3, argv, lens, true, rep, what);
}

static int rd_get(void *state, const void *key, size_t klen, kl_buf *val)
{
    rd_state *s = state;
    redisReply *rep;
    int r = rd_field_read(s, "HGET", s->k_entries, s->l_entries, key, klen, &rep, "get");
    if (r)
        return r;
    r = rep->type == REDIS_REPLY_NIL ? kl__rd_notfound(s) : kl__rd_copy_bulk(s, rep, val, "get");
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
    r = rep->type == REDIS_REPLY_INTEGER ? rep->integer != 0 : kl__rd_unexpected(s, rep, "contains");
    freeReplyObject(rep);
    return r;
}

static int rd_count(void *state, size_t *out)
{
    rd_state *s = state;
    const char *argv[2] = {"HLEN", s->k_entries};
    size_t lens[2] = {4, s->l_entries};
    redisReply *rep;
    int r = kl__rd_run1(s, 2, argv, lens, true, &rep, "count");
    if (r)
        return r;
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0)
        *out = (size_t)rep->integer;
    else
        r = kl__rd_unexpected(s, rep, "count");
    freeReplyObject(rep);
    return r;
}

int kl__rd_stamp(char *buf, size_t cap, int64_t now, size_t klen, size_t vlen)
{
    return snprintf(buf, cap, "%" PRId64 " %zu", now, klen + vlen);
}

static int rd_put(void *state, const void *key, size_t klen, const void *val, size_t vlen)
{
    rd_state *s = state;
    int r = kl__rd_writable(s);
    if (!r)
        r = kl__rd_check_size(s, klen, vlen);
    if (r)
        return r;
    char stamp[48];
    int sl = kl__rd_stamp(stamp, sizeof stamp, kl__now_ns(), klen, vlen);
    const char *a1[4] = {"HSET", s->k_entries, KEYARG(key), KEYARG(val)};
    size_t l1[4] = {4, s->l_entries, klen, vlen};
    const char *a2[4] = {"HSET", s->k_stamps, KEYARG(key), stamp};
    size_t l2[4] = {4, s->l_stamps, klen, (size_t)sl};
    /* with the marker when it is due, in case the server lost it */
    rd_cmd cmds[2] = {{4, a1, l1}, {4, a2, l2}};
    redisReply *reps[5];
    if ((r = kl__rd_txn(s, cmds, 2, true, reps, "put")))
        return r;
    kl__rd_free_replies(reps, 5);
    return 0;
}

static int rd_del(void *state, const void *key, size_t klen)
{
    rd_state *s = state;
    int r = kl__rd_writable(s);
    if (r)
        return r;
    const char *a1[3] = {"HDEL", s->k_entries, KEYARG(key)};
    size_t l1[3] = {4, s->l_entries, klen};
    const char *a2[3] = {"HDEL", s->k_stamps, KEYARG(key)};
    size_t l2[3] = {4, s->l_stamps, klen};
    rd_cmd cmds[2] = {{3, a1, l1}, {3, a2, l2}};
    redisReply *reps[5];
    if ((r = kl__rd_txn(s, cmds, 2, false, reps, "delete")))
        return r;
    const redisReply *n = reps[3]->element[0];
    r = n->type != REDIS_REPLY_INTEGER ? kl__rd_unexpected(s, n, "delete")
        : n->integer == 0              ? kl__rd_notfound(s)
                                       : 0;
    kl__rd_free_replies(reps, 5);
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
        r = kl__rd_reply_err(s, rep, "stat");
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
    if ((r = kl__rd_run(s, cmds, 2, reps, true, "stat")))
        return r;
    if (reps[0]->type != REDIS_REPLY_INTEGER)
        r = kl__rd_unexpected(s, reps[0], "stat");
    else if (reps[1]->type != REDIS_REPLY_INTEGER)
        r = kl__rd_unexpected(s, reps[1], "stat");
    else if (reps[0]->integer == 0)
        r = kl__rd_notfound(s);
    else {
        out->stored_ns = 0;
        out->size = klen + (uint64_t)reps[1]->integer;
    }
    kl__rd_free_replies(reps, 2);
    return r;
}

static int rd_unlink(rd_state *s, bool marker, const char *what)
{
    int r = kl__rd_writable(s);
    if (r)
        return r;
    const char *argv[4] = {"UNLINK", s->k_entries, s->k_stamps, s->k_format};
    size_t lens[4] = {6, s->l_entries, s->l_stamps, s->l_format};
    redisReply *rep;
    if ((r = kl__rd_run1(s, marker ? 4 : 3, argv, lens, false, &rep, what)))
        return r;
    r = rep->type == REDIS_REPLY_INTEGER ? 0 : kl__rd_unexpected(s, rep, what);
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
    int r = kl__rd_run1(s, 2, argv, lens, true, &rep, "describe");
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

/* ---- size limits ------------------------------------------------------ */

/* MEMORY USAGE of the entries and stamps hashes (Redis's estimate, from a
 * sample of each hash's fields). */
static int rd_storage_bytes(void *state, uint64_t *out)
{
    rd_state *s = state;
    *out = 0;
    const char *keys[2] = {s->k_entries, s->k_stamps};
    size_t klens[2] = {s->l_entries, s->l_stamps};
    for (int i = 0; i < 2; i++) {
        const char *argv[3] = {"MEMORY", "USAGE", keys[i]};
        size_t lens[3] = {6, 5, klens[i]};
        redisReply *rep;
        int r = kl__rd_run1(s, 3, argv, lens, true, &rep, "storage bytes");
        if (r)
            return r;
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
            *out += (uint64_t)rep->integer;
        else if (rep->type != REDIS_REPLY_NIL && rep->type != REDIS_REPLY_INTEGER)
            r = kl__rd_unexpected(s, rep, "storage bytes");
        freeReplyObject(rep);
        if (r)
            return r;
    }
    return 0;
}

/* The cleaner lock: a lease {P}:cleaner = "PID HANDLE" set with NX and a
 * 10-minute expiry (a cleaner that died leaves no lock for longer), and
 * removed only by its holder (a script compares before deleting). */
static int rd_cleaner_lock(void *state, bool take)
{
    rd_state *s = state;
    char key[512], token[64];
    int kl = snprintf(key, sizeof key, "{%s}:cleaner", s->prefix);
    int tl = snprintf(token, sizeof token, "%ld %p", (long)getpid(), (void *)s);
    if (kl < 0 || (size_t)kl >= sizeof key || tl < 0)
        return kl_seterr(KL_EINVAL, "%s: prefix too long for the cleaner lock", s->url);
    redisReply *rep;
    int r;
    if (take) {
        const char *argv[6] = {"SET", key, token, "NX", "PX", "600000"};
        size_t lens[6] = {3, (size_t)kl, (size_t)tl, 2, 2, 6};
        if ((r = kl__rd_run1(s, 6, argv, lens, false, &rep, "cleaner lock")))
            return r;
        r = rep->type == REDIS_REPLY_STATUS ? 1 : rep->type == REDIS_REPLY_NIL ? 0
                                                : kl__rd_unexpected(s, rep, "cleaner lock");
    } else {
        static const char script[] =
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
            "end return 0";
        const char *argv[5] = {"EVAL", script, "1", key, token};
        size_t lens[5] = {4, sizeof script - 1, 1, (size_t)kl, (size_t)tl};
        if ((r = kl__rd_run1(s, 5, argv, lens, false, &rep, "cleaner unlock")))
            return r;
        r = rep->type == REDIS_REPLY_INTEGER ? 0 : kl__rd_unexpected(s, rep, "cleaner unlock");
    }
    freeReplyObject(rep);
    return r;
}

const kl_archive_backend kl__backend_redis = {
    .version = KL_BACKEND_VERSION,
    .scheme = "redis",
    .flags = 0,
    .open = kl__rd_open,
    .close = kl__rd_close,
    .get = rd_get,
    .put = rd_put,
    .del = rd_del,
    .contains = rd_contains,
    .count = rd_count,
    .stat = rd_stat,
    .clear = rd_clear,
    .sync = NULL,
    .drop = rd_drop,
    .put_many = kl__rd_put_many,
    .del_many = kl__rd_del_many,
    .get_many = kl__rd_get_many,
    .describe = rd_describe,
    .iter_new = kl__rd_iter_new,
    .iter_next = kl__rd_iter_next,
    .iter_free = kl__rd_iter_free,
    .storage_bytes = rd_storage_bytes,
    .cleaner_lock = rd_cleaner_lock,
};
