/* The backends compiled into the library, registered on first use of the
 * registry.  A new built-in backend adds its line here. */
#include "archive/builtin.h"

const kl_archive_backend *const kl__builtin_backends[] = {
    &kl__backend_mem,
    &kl__backend_null,
    &kl__backend_dir,
    &kl__backend_file,
    &kl__backend_sqlite,
    &kl__backend_postgresql,
    &kl__backend_postgres,
    &kl__backend_redis,
    &kl__backend_hdf5,
    &kl__backend_hdf5dir,
    NULL,
};
