/* SPDX-License-Identifier: BSD-3-Clause */
/* The URLs of one archive of every kind: the local ones in a folder, and
 * the servers whose test URLs scripts/with-servers.sh exported
 * (KLEPTO_TEST_PG_URL, KLEPTO_TEST_MYSQL_URL, KLEPTO_TEST_REDIS_URL). */
#ifndef KT_EVERY_KIND_H
#define KT_EVERY_KIND_H

#include <stddef.h>

/** Fills urls (heap strings, NULL-terminated; cap counts the NULL) with
 * mem:NAME, dir:, file:, sqlite: (?table= and table per key), hdf5: and
 * hdf5dir: (when built) under dir, and a table or prefix "kt_NAME_PID" on
 * each server given.  Fails the test when cap is too small. */
void kt_every_kind_urls(char **urls, size_t cap, const char *dir, const char *name);

/** Drops every archive but mem: ones (errors ignored) and frees urls. */
void kt_every_kind_drop(char **urls);

#endif
