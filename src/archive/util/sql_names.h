/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the SQL archive backends (backend/sqlite/, backend/postgres/):
 * identifier quoting, the names of klepto's own tables, entry metadata.
 * Not installed. */
#ifndef KLEPTO_ARCHIVE_SQL_NAMES_H
#define KLEPTO_ARCHIVE_SQL_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "klepto/codec.h"

/* sql_archive layout: the catalogue maps each key to a numeric id, and the
 * key's value lives in table KL_SQL_ENTRY_PREFIX<id> ("e42").  Table names
 * come from those ids only, never from key bytes.  The prefix is short on
 * purpose: SQLite finds a table by walking a hash chain that grows with the
 * table count (Debian's build caps the schema hash at 64 buckets), and each
 * step compares names up to their first difference. */
#define KL_SQL_CATALOGUE "klepto_catalogue"
#define KL_SQL_ENTRY_PREFIX "e"
/* Room for KL_SQL_ENTRY_PREFIX + a 64-bit decimal id + NUL. */
#define KL_SQL_ENTRY_NAME_MAX 40

/* Append `name` as a double-quoted SQL identifier (embedded quotes
 * doubled), so any text is a safe table name.  KL_ENOMEM. */
int kl__sql_quote_ident(kl_buf *out, const char *name);

/* Check a user-given table name: not empty, at most maxlen bytes (0: no
 * limit), no control characters.  KL_EINVAL naming `url` otherwise. */
int kl__sql_check_table(const char *url, const char *name, size_t maxlen);

/* Whether `name` is one of the sql_archive layout's own tables (the
 * catalogue, or an entry table KL_SQL_ENTRY_PREFIX<digits>) or a name the
 * database keeps for itself (SQLite's sqlite_...), compared as SQL
 * compares names: ASCII letters in either case.  1 for the catalogue and
 * the database's names, 2 for an entry table's name, 0 otherwise.  A
 * ?table= archive of such a name would share the table with the other
 * layout (or could not be created). */
int kl__sql_reserved_table(const char *name);

/* The name of the entry table of catalogue id `id` (out holds
 * KL_SQL_ENTRY_NAME_MAX bytes). */
void kl__sql_entry_table(char *out, int64_t id);

#endif
