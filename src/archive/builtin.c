/* The backends compiled into the library, registered on first use of the
 * registry.  A new built-in backend adds its line here. */
#include "backends.h"

const kl_archive_backend *const kl_builtin_backends[] = {
    &kl_backend_mem,
    &kl_backend_null,
    &kl_backend_dir,
    &kl_backend_file,
    &kl_backend_cached,
    &kl_backend_sqlite,
    &kl_backend_postgresql,
    &kl_backend_postgres,
    &kl_backend_redis,
    &kl_backend_hdf5,
    &kl_backend_hdf5dir,
    NULL,
};
