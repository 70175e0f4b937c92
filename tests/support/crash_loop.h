/* SPDX-License-Identifier: BSD-3-Clause */
/* Crash safety, the test shared by the archive kinds: a child writing in a
 * loop (new keys, and rewrites of a few hot keys; with `mixed` also
 * batches of new keys, deletes of its older keys, compaction and verify
 * --repair) is killed with SIGKILL at a random moment, round after round.
 * After every kill the archive opens, verify is clean, every put the child
 * had acknowledged (reported through a pipe after the call returned) reads
 * back intact, every acknowledged delete stays deleted, and no hot key
 * reads older than its last acknowledged value. */
#ifndef KLEPTO_TESTS_CRASH_LOOP_H
#define KLEPTO_TESTS_CRASH_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_CRASH_VALUE_MAX 3100 /* room for any kt_crash_value */

typedef struct kt_crash_opts {
    int kills;           /* rounds */
    int hot;             /* keys rewritten over and over (at most 8) */
    int min_ms, span_ms; /* a kill comes min_ms + [0, span_ms) ms after the fork */
    bool mixed;          /* batches, deletes, compaction and repair too */
} kt_crash_opts;

/* The value written with sequence number seq: a CBOR byte string holding
 * seq, then a pattern derived from it, of a size that varies.  Returns its
 * length (at most KT_CRASH_VALUE_MAX). */
size_t kt_crash_value(unsigned char *v, int64_t seq);
/* The seq of a value kt_crash_value wrote, or -1 when v is not one. */
int64_t kt_crash_check(const unsigned char *v, size_t len);

/* Runs the kill loop on url (failing the running cmocka test on any
 * damage); the number of acknowledged puts checked, never 0. */
size_t kt_crash_loop(const char *url, const kt_crash_opts *o);

#endif
