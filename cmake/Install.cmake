# SPDX-License-Identifier: BSD-3-Clause
# The install rules (included by the top CMakeLists.txt when KLEPTO_INSTALL):
#
#   <prefix>/lib/libklepto.so.*      the shared library (SONAME libklepto.so.<major>)
#   <prefix>/lib/libklepto.a         the static library
#   <prefix>/include/klepto.h, klepto/...   the public headers
#   <prefix>/bin/klepto              the command-line tool (KLEPTO_CLI)
#   <prefix>/share/man/man1/klepto.1 its manual page (KLEPTO_CLI), and
#   <prefix>/share/bash-completion/completions/klepto  its bash completion
#   <prefix>/share/man/man3/klepto.3 the library's overview page
#   <prefix>/lib/pkgconfig/klepto.pc            for pkg-config
#   <prefix>/lib/cmake/klepto/kleptoConfig*.cmake for find_package(klepto)
#
# Everything installed is relocatable: klepto.pc finds its prefix from its
# own folder (${pcfiledir}) and the CMake package from its own file, so
# `cmake --install build --prefix DIR` (what `make install PREFIX=DIR`
# runs) may choose another prefix than the one configured.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KLEPTO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/klepto)

install(TARGETS klepto EXPORT kleptoTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS klepto_static EXPORT kleptoStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET klepto_cli)
  install(TARGETS klepto_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/docs/man/klepto.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  # where bash-completion looks for a command's completion under a prefix
  install(FILES ${PROJECT_SOURCE_DIR}/tools/completion/klepto.bash
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME klepto)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/klepto.3 DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# ---- klepto.pc ---------------------------------------------------------------
# Cflags name our include folder only: the public headers include nothing
# but the C library's.  The libraries klepto links are listed flat in
# Libs.private (each module's `pkg-config --libs`), not in Requires.private,
# whose modules' Cflags pkg-config would print with ours.  So
# `pkg-config --static --libs klepto` links libklepto.a against the shared
# libraries it uses, as a CMake program linking klepto::klepto_static does.
# (Their own --static flags assume their static archives, which
# distributions ship incompletely: Debian's libpq.pc names -lpgcommon
# -lpgport, not installed.)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(KLEPTO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH KLEPTO_PC_UP "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" KLEPTO_PC_UP "${KLEPTO_PC_UP}")
  set(KLEPTO_PC_PREFIX "\${pcfiledir}/${KLEPTO_PC_UP}")
endif()
# GNUInstallDirs gives absolute CMAKE_INSTALL_FULL_* too; the relative ones
# are below the prefix.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(KLEPTO_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(KLEPTO_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()

# Libs.private: the threads flag and -lm, then each module's flags; a repeated
# -L is kept once (first place), a repeated library at its last place, the
# order a static link needs; the linker's own folders (-L/usr/lib...) are
# left out.
set(KLEPTO_PC_FLAGS ${CMAKE_THREAD_LIBS_INIT} -lm)
foreach(pair ${KLEPTO_PC_MODULES})
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 prefix)
  list(APPEND KLEPTO_PC_FLAGS ${${prefix}_LDFLAGS})
endforeach()
set(KLEPTO_PC_LIBS_PRIVATE "")
list(LENGTH KLEPTO_PC_FLAGS n)
set(i 0)
while(i LESS n)
  list(GET KLEPTO_PC_FLAGS ${i} flag)
  math(EXPR i "${i} + 1")
  if(flag MATCHES "^-L(.*)")
    list(FIND KLEPTO_PC_LIBS_PRIVATE "${flag}" at)
    list(FIND CMAKE_C_IMPLICIT_LINK_DIRECTORIES "${CMAKE_MATCH_1}" implicit)
    if(at EQUAL -1 AND implicit EQUAL -1)
      list(APPEND KLEPTO_PC_LIBS_PRIVATE "${flag}")
    endif()
  else()
    set(later -1)
    if(i LESS n)
      list(SUBLIST KLEPTO_PC_FLAGS ${i} -1 rest)
      list(FIND rest "${flag}" later)
    endif()
    if(later EQUAL -1)
      list(APPEND KLEPTO_PC_LIBS_PRIVATE "${flag}")
    endif()
  endif()
endwhile()
string(REPLACE ";" " " KLEPTO_PC_LIBS_PRIVATE "${KLEPTO_PC_LIBS_PRIVATE}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/klepto.pc.in ${PROJECT_BINARY_DIR}/klepto.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/klepto.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- the CMake package: find_package(klepto) ---------------------------------
# klepto::klepto (shared) needs only Threads; klepto::klepto_static also
# the pkg-config modules above, which kleptoConfig.cmake finds again.
install(EXPORT kleptoTargets NAMESPACE klepto:: DESTINATION ${KLEPTO_CMAKE_DIR})
install(EXPORT kleptoStaticTargets NAMESPACE klepto:: DESTINATION ${KLEPTO_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/kleptoConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kleptoConfig.cmake INSTALL_DESTINATION ${KLEPTO_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kleptoConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/kleptoConfig.cmake ${PROJECT_BINARY_DIR}/kleptoConfigVersion.cmake
  DESTINATION ${KLEPTO_CMAKE_DIR})
