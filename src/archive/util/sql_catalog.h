/* SPDX-License-Identifier: BSD-3-Clause */
/* The sql_archive layout shared by the SQL backends (sqlite, postgres, mysql):
 * a catalogue table KL_SQL_CATALOGUE maps each key to an id, and the
 * key's value is the one row of its own entry table "e<id>"
 * (sql_names.h).  This module holds what both backends do the same way —
 * the SQL of the entry tables and of the catalogue, written for a dialect,
 * and the order of the steps of a put and a delete — while each backend
 * runs the statements through its own driver (kl__sql_catalog_ops).
 * Not installed. */
#ifndef KLEPTO_ARCHIVE_SQL_CATALOG_H
#define KLEPTO_ARCHIVE_SQL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archive/util/sql_names.h"
#include "klepto/codec.h"

/* Statements on one entry table. */
enum {
    KL_SQL_ENTRY_GET,     /* its value (column 0 of one row) */
    KL_SQL_ENTRY_PUT,     /* replace the value (parameter 1) of a table that exists */
    KL_SQL_ENTRY_PUT_NEW, /* the first value (parameter 1) of a table just created */
    KL_SQL_ENTRY_CREATE,
    KL_SQL_ENTRY_DROP, /* IF EXISTS */
    KL_SQL_ENTRY_NOPS
};

/* How a database spells what the layout needs.  The formats have one %s,
 * the entry table's bare name (they quote it). */
typedef struct kl__sql_dialect {
    const char *entry[KL_SQL_ENTRY_NOPS];
    const char *entry_what[KL_SQL_ENTRY_NOPS]; /* for error messages */
    const char *create_catalogue;              /* CREATE TABLE IF NOT EXISTS ... */
} kl__sql_dialect;

extern const kl__sql_dialect kl__sql_dialect_sqlite;   /* ?N, BLOB, rowid 1 */
extern const kl__sql_dialect kl__sql_dialect_postgres; /* $N, bytea, kid column */
extern const kl__sql_dialect kl__sql_dialect_mysql;    /* ?, LONGBLOB, kid column */

/* The SQL of entry statement op on the table of id, into out (cap bytes;
 * 160 is plenty); also the table's name when name is not NULL (room for
 * KL_SQL_ENTRY_NAME_MAX). */
void kl__sql_entry_sql(const kl__sql_dialect *d, int op, int64_t id, char *out, size_t cap,
                       char *name);

/* What a backend runs for the shared steps below, each on its connection,
 * inside the transaction the caller opened. */
typedef struct kl__sql_catalog_ops {
    void *db;
    /* Insert the catalogue row of key, or update stored_ns, size and sum
     * (KL_SQL_SUM_LEN bytes, sql_sum.h) of the row already there: *id, and
     * *inserted when the row is new. */
    int (*upsert)(void *db, const void *key, size_t klen, int64_t now, int64_t size,
                  const uint8_t *sum, int64_t *id, bool *inserted);
    /* Delete the catalogue row of key: *id, or KL_ENOTFOUND. */
    int (*unlink)(void *db, const void *key, size_t klen, int64_t *id);
    /* Run entry statement op on the table of id, with blob as parameter 1
     * when not NULL; val receives the value of KL_SQL_ENTRY_GET. */
    int (*entry)(void *db, int op, int64_t id, const void *blob, size_t n, kl_buf *val);
} kl__sql_catalog_ops;

/* Store key -> val: the catalogue row (with the entry's sum) first, then a new entry table (and
 * its first value) or the new value in the existing one. */
int kl__sql_catalog_put(const kl__sql_catalog_ops *ops, const void *key, size_t klen,
                        const void *val, size_t vlen);

/* Remove key: its catalogue row, then its entry table.  KL_ENOTFOUND. */
int kl__sql_catalog_del(const kl__sql_catalog_ops *ops, const void *key, size_t klen);

#endif
