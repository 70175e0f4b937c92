/* SPDX-License-Identifier: BSD-3-Clause */
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
 * - Puts and put_many also set the marker if missing (SET NX, in the
 *   same transaction: no extra round trip) on the first write over each
 *   new connection and then at most once a second: a server restarted
 *   without persistence, or a database flushed, loses the marker while a
 *   writer's handle lives on, and entries written without it would be an
 *   archive no new handle opens ("no klepto archive").  Not on every
 *   write: that made a put 7-10 % slower (connection.c).
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
 *
 * Files: connection.c (errors, connection, commands, transactions),
 * open.c (URL, format marker), slots.c (single-key slots, describe),
 * batch.c (put_many, del_many, get_many), iter.c (HSCAN cursors).
 */
#ifndef KLEPTO_ARCHIVE_BACKEND_REDIS_H
#define KLEPTO_ARCHIVE_BACKEND_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
#define RD_MARKER_EVERY_NS 1000000000 /* writes re-set the marker this often */

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
    /* SET {P}:format "klepto-redis 1" NX (kl__rd_marker) */
    const char *marker_argv[4];
    size_t marker_lens[4];
    /* connections made so far; the one the marker was last set or seen
     * on, and when (kl__rd_write_ready) */
    uint64_t conn_gen, marker_gen;
    int64_t marker_ns;
    double timeout; /* seconds; 0: none */
    bool read_only;
    /* the server's CLIENT ID of c (0: unknown), and of the connection
     * before it, which c ends before its first command (rd_run) */
    long long client_id, lost_client;
    bool hello_due; /* c has not asked for its CLIENT ID yet */
} rd_state;

/* A key or value as a command argument: hiredis copies it; never NULL. */
#define KEYARG(k) ((k) ? (const char *)(k) : "")

/* One command: argc arguments with their lengths (binary-safe). */
typedef struct rd_cmd {
    int argc;
    const char **argv;
    const size_t *lens;
} rd_cmd;

/* connection.c */
int kl__rd_notfound(rd_state *s);
int kl__rd_writable(rd_state *s);
int kl__rd_check_size(rd_state *s, size_t klen, size_t vlen);
int kl__rd_reply_err(rd_state *s, const redisReply *rep, const char *what);
int kl__rd_unexpected(rd_state *s, const redisReply *rep, const char *what);
int kl__rd_connect(rd_state *s);
void kl__rd_free_replies(redisReply **reps, size_t n);
int kl__rd_run(rd_state *s, const rd_cmd *cmds, size_t n, redisReply **reps, bool read,
               const char *what);
int kl__rd_run1(rd_state *s, int argc, const char **argv, const size_t *lens, bool read,
                redisReply **rep, const char *what);
int kl__rd_check_txn(rd_state *s, redisReply **reps, size_t n, const char *what);
int kl__rd_run_prepared(rd_state *s, const rd_cmd *cmds, size_t n, redisReply **reps,
                        const char *what);
int kl__rd_write_ready(rd_state *s, bool *marker);
void kl__rd_marker_sent(rd_state *s);
#define RD_TXN_MAX 2 /* commands in one kl__rd_txn, the marker aside */
int kl__rd_txn(rd_state *s, const rd_cmd *cmds, size_t n, bool marker, redisReply **reps,
               const char *what);

/* slots.c */
int kl__rd_copy_bulk(rd_state *s, const redisReply *rep, kl_buf *out, const char *what);
int kl__rd_stamp(char *buf, size_t cap, int64_t now, size_t klen, size_t vlen);

/* batch.c */
int kl__rd_put_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    const void *const *vals, const size_t *vlens);
int kl__rd_del_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    size_t *deleted);
int kl__rd_get_many(void *state, size_t n, const void *const *keys, const size_t *klens,
                    kl_buf *vals, bool *found);

/* iter.c */
int kl__rd_iter_new(void *state, void **cursor);
int kl__rd_iter_next(void *cursor, kl_buf *key, kl_buf *val);
void kl__rd_iter_free(void *cursor);

/* open.c */
rd_cmd kl__rd_marker(rd_state *s);
int kl__rd_close(void *state);
int kl__rd_open(void **out, const kl_url *url, const kl_archive_opts *opts);

#endif
