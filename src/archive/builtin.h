/* SPDX-License-Identifier: BSD-3-Clause */
/* The backends compiled into the library (their list is builtin.c; the
 * registry adds them on first use). */
#ifndef KLEPTO_ARCHIVE_BUILTIN_H
#define KLEPTO_ARCHIVE_BUILTIN_H

#include "klepto/sys/archive_backend.h"

extern const kl_archive_backend kl__backend_mem;        /* backend/mem.c */
extern const kl_archive_backend kl__backend_null;       /* backend/null.c */
extern const kl_archive_backend kl__backend_dir;        /* backend/dir.c */
extern const kl_archive_backend kl__backend_file;       /* backend/file/ */
extern const kl_archive_backend kl__backend_sqlite;     /* backend/sqlite/ */
extern const kl_archive_backend kl__backend_postgresql; /* backend/postgres/ */
extern const kl_archive_backend kl__backend_postgres;   /* backend/postgres/: same, postgres:// */
extern const kl_archive_backend kl__backend_mysql;      /* backend/mysql/ */
extern const kl_archive_backend kl__backend_mariadb;    /* backend/mysql/: same, mariadb:// */
extern const kl_archive_backend kl__backend_redis;      /* backend/redis/ */
extern const kl_archive_backend kl__backend_hdf5;       /* backend/hdf5/ */
extern const kl_archive_backend kl__backend_hdf5dir;    /* backend/hdf5dir.c */
/* NULL-terminated list (builtin.c): add a line per backend. */
extern const kl_archive_backend *const kl__builtin_backends[];

#endif
