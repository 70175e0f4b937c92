# SPDX-License-Identifier: BSD-3-Clause
# The optional archive backends: PostgreSQL (libpq), MySQL/MariaDB
# (libmariadb, MariaDB Connector/C), Redis (hiredis) and HDF5.  Each is a cache option, KLEPTO_WITH_<NAME>, that defaults to ON
# when pkg-config finds its library and to OFF (with a message) when not;
# asking for ON without the library stops the configuration.
#
# Sets, for the including file:
#   KLEPTO_SOURCES        minus the sources of the backends left out
#   KLEPTO_DEPS           plus the libraries of the backends built
#   KLEPTO_HAVE_DEFINES   KLEPTO_HAVE_POSTGRES / _MYSQL / _REDIS / _HDF5 for those built
#   KLEPTO_PC_MODULES     plus KL_<NAME>=<module> for those built (the
#                         imported target PkgConfig::KL_<NAME> and its module)

set(KLEPTO_HAVE_DEFINES "")

# klepto_optional_backend(NAME PKG SOURCE_REGEX)
#   NAME          POSTGRES, MYSQL, REDIS or HDF5 (option KLEPTO_WITH_NAME)
#   PKG           the pkg-config module
#   SOURCE_REGEX  the sources under src/ that only this backend uses
macro(klepto_optional_backend name pkg regex)
  pkg_check_modules(KL_${name} QUIET IMPORTED_TARGET ${pkg})
  if(DEFINED KLEPTO_WITH_${name})
    if(KLEPTO_WITH_${name} AND NOT KL_${name}_FOUND)
      message(FATAL_ERROR "KLEPTO_WITH_${name}=ON but pkg-config finds no ${pkg}: "
        "install its development package or configure with -DKLEPTO_WITH_${name}=OFF")
    endif()
  elseif(KL_${name}_FOUND)
    message(STATUS "klepto: ${pkg} ${KL_${name}_VERSION} found: KLEPTO_WITH_${name}=ON")
  else()
    message(STATUS "klepto: ${pkg} not found: KLEPTO_WITH_${name}=OFF "
      "(its backend, tests and benchmarks are left out)")
  endif()
  option(KLEPTO_WITH_${name} "Build the ${pkg} archive backend" ${KL_${name}_FOUND})
  if(KLEPTO_WITH_${name})
    list(APPEND KLEPTO_DEPS PkgConfig::KL_${name})
    list(APPEND KLEPTO_HAVE_DEFINES KLEPTO_HAVE_${name})
    list(APPEND KLEPTO_PC_MODULES "KL_${name}=${pkg}")
  else()
    list(FILTER KLEPTO_SOURCES EXCLUDE REGEX "${regex}")
  endif()
endmacro()

klepto_optional_backend(POSTGRES libpq "/src/archive/backend/postgres/")
klepto_optional_backend(MYSQL libmariadb "/src/archive/backend/mysql/")
klepto_optional_backend(REDIS hiredis "/src/archive/backend/redis/")
klepto_optional_backend(HDF5 hdf5 "/src/archive/(backend/hdf5/|backend/hdf5dir\\.c|util/h5common\\.c)")
message(STATUS "klepto: optional backends: postgres=${KLEPTO_WITH_POSTGRES} "
  "mysql=${KLEPTO_WITH_MYSQL} redis=${KLEPTO_WITH_REDIS} hdf5=${KLEPTO_WITH_HDF5}")
