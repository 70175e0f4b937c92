/* SPDX-License-Identifier: BSD-3-Clause */
/* The backends compiled into the library, registered on first use of the
 * registry.  A new built-in backend adds its line here (and its name to
 * src/version.c).  PostgreSQL, MySQL, Redis and HDF5 are there only when built
 * (KLEPTO_HAVE_*, see cmake/OptionalBackends.cmake). */
#include "archive/builtin.h"

const kl_archive_backend *const kl__builtin_backends[] = {
    &kl__backend_mem,
    &kl__backend_null,
    &kl__backend_dir,
    &kl__backend_file,
    &kl__backend_sqlite,
#ifdef KLEPTO_HAVE_POSTGRES
    &kl__backend_postgresql,
    &kl__backend_postgres,
#endif
#ifdef KLEPTO_HAVE_MYSQL
    &kl__backend_mysql,
    &kl__backend_mariadb,
#endif
#ifdef KLEPTO_HAVE_REDIS
    &kl__backend_redis,
#endif
#ifdef KLEPTO_HAVE_HDF5
    &kl__backend_hdf5,
    &kl__backend_hdf5dir,
#endif
    NULL,
};
