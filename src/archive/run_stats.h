/* SPDX-License-Identifier: BSD-3-Clause */
/* Run statistics records (run_stats.c, not installed): the reserved keys
 * they live under, which the core hides from every read (dispatch.c) and
 * verify checks as records (verify.c), and the memo's write of its own
 * record (src/memo/memo_stats.c). */
#ifndef KLEPTO_ARCHIVE_RUN_STATS_H
#define KLEPTO_ARCHIVE_RUN_STATS_H

#include "klepto/archive.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Every reserved key starts with CBOR tag 0x6b6c7273 ("klrs"), a tag no
 * encoder of the library writes and its decoder refuses, so no encoded key
 * can be one.  After it: an empty byte string (the marker that says the
 * archive holds records) or a 16-byte string (one record, named by its
 * writer's random id). */
#define KL__RS_PREFIX "\xda\x6b\x6c\x72\x73"
#define KL__RS_PREFIX_LEN 5
#define KL__RS_ID_LEN 16
#define KL__RS_MARKER_LEN (KL__RS_PREFIX_LEN + 1)
#define KL__RS_KEY_LEN (KL__RS_PREFIX_LEN + 1 + KL__RS_ID_LEN)

static inline bool kl__is_run_stats_key(const void *key, size_t klen)
{
    return klen >= KL__RS_PREFIX_LEN && memcmp(key, KL__RS_PREFIX, KL__RS_PREFIX_LEN) == 0;
}

/* One record's numbers (records and damaged unused). */
typedef kl_run_stats kl__run_record;

/* Write the record of writer `id` (KL__RS_ID_LEN random bytes): the
 * marker first, then the record, each a plain put to the storage behind
 * any cached front — when that storage was opened with ?stats=true, else
 * nothing.  0, KL_EPERM (read-only), or an error of the archive. */
int kl__run_stats_put(kl_archive *ar, const uint8_t *id, const kl__run_record *rec);
/* Decode a record's value: 0, or KL_ECORRUPT naming what is wrong. */
int kl__run_stats_decode(const void *val, size_t vlen, kl__run_record *out);
/* The number of reserved keys (records and marker) stored, counted by
 * walking the backend's keys; lock held by the caller when the backend
 * is serial. */
int kl__run_stats_hidden_locked(kl_archive *ar, size_t *out);

#endif
