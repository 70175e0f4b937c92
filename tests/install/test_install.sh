#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A stranger installs klepto and uses it:
#
#   test_install.sh SOURCE_DIR [CC] [CMAKE]
#
# builds SOURCE_DIR (Release, no tests or benchmarks) in a temporary
# folder configured for another prefix, installs it with
# `make install PREFIX=...` into a temporary prefix, and checks what was
# installed: the shared library with its SONAME, the static library, the
# headers, the klepto tool with its man page and bash completion, klepto(3),
# klepto.pc and the CMake package; that a destination that cannot be
# written is refused with a message, and a part-way failure is reported
# and undone by make uninstall.  Then builds
# and runs tests/install/app.c — memoize, call twice, the second call a
# hit — four ways:
#   (a) pkg-config: cc $(pkg-config --cflags --libs klepto), and statically
#       with $(pkg-config --static --libs klepto);
#   (b) a CMake project with find_package(klepto) (find_package/);
#   (c) a CMake project with add_subdirectory of SOURCE_DIR, and with
#       FetchContent of it (subproject/);
# and checks `make uninstall`, and an install under DESTDIR used from
# where it was staged (the installed files are relocatable).
# CC and CMAKE default to cc and cmake.  Exit status 0 when all is well.
set -euo pipefail
src=$(cd "${1:?usage: test_install.sh SOURCE_DIR [CC] [CMAKE]}" && pwd)
cc=${2:-cc}
cmake=${3:-cmake}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
unset MAKEFLAGS MFLAGS MAKELEVEL DESTDIR
tmp=$(mktemp -d "${TMPDIR:-/tmp}/klepto-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS

fail() { echo "test_install: $*" >&2; exit 1; }
step() { echo "== [$((SECONDS - t0))s] $*"; }
# quiet LOGNAME CMD...: run CMD, its output into $tmp/LOGNAME.log, shown on failure
quiet() {
  local log=$tmp/$1.log; shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "failed: $*"; }
}
same_path() { [[ "$(readlink -f "$1")" == "$(readlink -f "$2")" ]]; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

version=$(sed -n 's/^#define KL_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/klepto/version.h")
major=${version%%.*}
[[ -n "$version" ]] || fail "no KL_VERSION_STRING in $src/include/klepto/version.h"

# ---- build and install --------------------------------------------------------
step "configure and build $src (Release) in $tmp/build"
quiet configure "$cmake" -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$cc" \
  -DKLEPTO_TESTS=OFF -DKLEPTO_BENCH=OFF -DCMAKE_INSTALL_PREFIX="$tmp/configured-prefix"
quiet build "$cmake" --build "$tmp/build" -j2

prefix=$tmp/prefix
step "make install PREFIX=$prefix (the build was configured for another prefix)"
quiet install make -C "$src" install BUILD="$tmp/build" PREFIX="$prefix" JOBS=2
[[ ! -e "$tmp/configured-prefix" ]] || fail "installed into the configured prefix, not PREFIX"
pc=$(find "$prefix" -name klepto.pc)
[[ -f "$pc" ]] || fail "no klepto.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
for f in "$libdir/libklepto.a" "$libdir/libklepto.so" "$libdir/libklepto.so.$major" \
  "$prefix/include/klepto.h" "$prefix/include/klepto/version.h" "$prefix/include/klepto/memo.h" \
  "$prefix/bin/klepto" "$libdir/cmake/klepto/kleptoConfig.cmake" \
  "$libdir/cmake/klepto/kleptoConfigVersion.cmake"; do
  [[ -e "$f" ]] || fail "not installed: ${f#"$prefix"/}"
done
soname=$(readelf -d "$libdir/libklepto.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ "$soname" == "libklepto.so.$major" ]] || fail "SONAME is '$soname', not libklepto.so.$major"
tool_version=$("$prefix/bin/klepto" --version | head -1)
[[ "$tool_version" == "klepto $version" ]] || fail "klepto --version says '$tool_version'"
# ---- the manual pages and the bash completion ------------------------------------
step "man pages and bash completion"
datadir=$prefix/share
for f in "$datadir/man/man1/klepto.1" "$datadir/man/man3/klepto.3" \
  "$datadir/bash-completion/completions/klepto"; do
  [[ -f "$f" ]] || fail "not installed: ${f#"$prefix"/}"
done
if command -v man >/dev/null; then
  for page in man1/klepto.1 man3/klepto.3; do
    MANWIDTH=80 man --warnings -l "$datadir/man/$page" >"$tmp/man.out" 2>"$tmp/man.err" ||
      fail "man -l $page failed: $(cat "$tmp/man.err")"
    [[ ! -s "$tmp/man.err" ]] || fail "man -l $page warns: $(cat "$tmp/man.err")"
    grep -q "klepto" "$tmp/man.out" || fail "man -l $page renders nothing"
  done
fi
completion=$(bash -c 'source "$1" && complete -p klepto &&
  COMP_WORDS=(klepto co) COMP_CWORD=1 && _klepto && echo "${COMPREPLY[*]}"' _ \
  "$datadir/bash-completion/completions/klepto") || fail "sourcing the bash completion failed"
[[ "$completion" == *"complete -F _klepto klepto"* ]] || fail "complete -p klepto: $completion"
for word in copy count compact; do
  [[ "$(tail -1 <<<"$completion")" == *"$word"* ]] || fail "completing 'klepto co' does not offer $word: $completion"
done
if grep -rq -e "$tmp/configured-prefix" -e "$tmp/build" "$pc" "$libdir/cmake/klepto"; then
  fail "klepto.pc or the CMake package names the build folder or the configured prefix"
fi

# ---- (a) pkg-config -----------------------------------------------------------
step "(a) pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
[[ "$(pkg-config --modversion klepto)" == "$version" ]] || fail "pkg-config --modversion klepto"
read -r -a cflags <<<"$(pkg-config --cflags klepto)"
{ [[ ${#cflags[@]} -eq 1 && "${cflags[0]}" == -I* ]] && same_path "${cflags[0]#-I}" "$prefix/include"; } ||
  fail "pkg-config --cflags klepto prints '${cflags[*]}', not only -I$prefix/include"
read -r -a libs <<<"$(pkg-config --libs klepto)"
{ [[ ${#libs[@]} -eq 2 && "${libs[0]}" == -L* && "${libs[1]}" == -lklepto ]] && same_path "${libs[0]#-L}" "$libdir"; } ||
  fail "pkg-config --libs klepto prints '${libs[*]}', not -L$libdir -lklepto"
# shellcheck disable=SC2046 # word splitting of pkg-config's output is meant
quiet cc-pc "$cc" -o "$tmp/app_pc" "$here/app.c" $(pkg-config --cflags --libs klepto)
needed "$tmp/app_pc" | grep -qx "libklepto.so.$major" || fail "app_pc does not load libklepto.so.$major"
LD_LIBRARY_PATH=$libdir "$tmp/app_pc" || fail "app_pc (pkg-config, shared) failed"
# --static: the libraries libklepto.a needs come from Libs.private; a
# folder holding only libklepto.a makes -lklepto the static library.
mkdir "$tmp/static-only"
ln -s "$libdir/libklepto.a" "$tmp/static-only/libklepto.a"
# shellcheck disable=SC2046
quiet cc-pc-static "$cc" -o "$tmp/app_pc_static" "$here/app.c" $(pkg-config --cflags klepto) \
  -L"$tmp/static-only" $(pkg-config --static --libs klepto)
if needed "$tmp/app_pc_static" | grep -q libklepto; then fail "app_pc_static loads libklepto.so"; fi
"$tmp/app_pc_static" || fail "app_pc_static (pkg-config --static) failed"

# ---- (b) find_package ---------------------------------------------------------
step "(b) find_package(klepto $version COMPONENTS shared static)"
quiet fp-configure "$cmake" -S "$here/find_package" -B "$tmp/fp" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" -DKLEPTO_WANT="$version"
quiet fp-build "$cmake" --build "$tmp/fp" -j2
needed "$tmp/fp/app_shared" | grep -qx "libklepto.so.$major" || fail "find_package: app_shared does not load libklepto.so.$major"
if needed "$tmp/fp/app_static" | grep -q libklepto; then fail "find_package: app_static loads libklepto.so"; fi
"$tmp/fp/app_shared" || fail "find_package: app_shared failed"
"$tmp/fp/app_static" || fail "find_package: app_static failed"
# SameMajorVersion: the next major version is not this one
if "$cmake" -S "$here/find_package" -B "$tmp/fp-next" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" -DKLEPTO_WANT="$((major + 1)).0" >"$tmp/fp-next.log" 2>&1; then
  fail "find_package(klepto $((major + 1)).0) accepted version $version"
fi
grep -q "$version" "$tmp/fp-next.log" || { cat "$tmp/fp-next.log"; fail "find_package(klepto $((major + 1)).0) failed without naming $version"; }

# ---- make uninstall -------------------------------------------------------------
step "make uninstall"
quiet uninstall make -C "$src" uninstall BUILD="$tmp/build"
left=$(find "$prefix" -type f -o -type l)
[[ -z "$left" ]] || fail "left after make uninstall: $left"
[[ ! -e "$prefix/include/klepto" && ! -e "$libdir/cmake/klepto" ]] || fail "make uninstall left klepto's folders"

# ---- a destination that cannot be written ----------------------------------------
step "make install into a destination that cannot be written"
touch "$tmp/a-file"
if make -C "$src" install BUILD="$tmp/build" PREFIX="$tmp/a-file/prefix" >"$tmp/bad.out" 2>"$tmp/bad.err"; then
  fail "make install into $tmp/a-file/prefix succeeded"
fi
grep -q "^make install: cannot install into $tmp/a-file/prefix: .*nothing was installed" "$tmp/bad.err" ||
  fail "make install into a non-folder did not say so: $(cat "$tmp/bad.err")"
# a failure part-way (share/ is a file) says what it left; make uninstall removes it
mkdir "$tmp/half"
touch "$tmp/half/share"
if make -C "$src" install BUILD="$tmp/build" PREFIX="$tmp/half" >"$tmp/half.out" 2>"$tmp/half.err"; then
  fail "make install with share/ a file succeeded"
fi
grep -q "^make install: failed part-way into $tmp/half: .* files were installed before the failure" "$tmp/half.err" ||
  fail "a part-way make install did not say so: $(cat "$tmp/half.err")"
quiet uninstall-half make -C "$src" uninstall BUILD="$tmp/build"
left=$(find "$tmp/half" -type f ! -path "$tmp/half/share" -o -type l)
[[ -z "$left" ]] || fail "left after a failed make install and make uninstall: $left"

# ---- DESTDIR, and the staged copy used where it is --------------------------------
stage=$tmp/stage
fake=/opt/klepto-install-test-$$
step "make install PREFIX=$fake DESTDIR=$stage"
quiet install-destdir make -C "$src" install BUILD="$tmp/build" PREFIX="$fake" DESTDIR="$stage"
[[ ! -e "$fake" ]] || fail "DESTDIR ignored: $fake was written"
[[ -f "$stage$fake/include/klepto.h" ]] || fail "nothing installed under DESTDIR $stage$fake"
PKG_CONFIG_PATH=$(dirname "$(find "$stage$fake" -name klepto.pc)")
export PKG_CONFIG_PATH
same_path "$(pkg-config --variable=includedir klepto)" "$stage$fake/include" ||
  fail "the staged klepto.pc points at $(pkg-config --variable=includedir klepto)"
# shellcheck disable=SC2046
quiet cc-staged "$cc" -o "$tmp/app_staged" "$here/app.c" $(pkg-config --cflags --libs klepto)
LD_LIBRARY_PATH=$(pkg-config --variable=libdir klepto) "$tmp/app_staged" || fail "app_staged failed"
unset PKG_CONFIG_PATH

# ---- (c) a subproject -------------------------------------------------------------
for how in add_subdirectory FetchContent; do
  step "(c) $how of $src"
  fc=OFF; [[ $how == FetchContent ]] && fc=ON
  quiet "$how-configure" "$cmake" -S "$here/subproject" -B "$tmp/$how" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=Release -DKLEPTO_SOURCE_DIR="$src" -DUSE_FETCHCONTENT=$fc
  quiet "$how-build" "$cmake" --build "$tmp/$how" -j2
  "$tmp/$how/app_shared" || fail "$how: app_shared failed"
  "$tmp/$how/app_static" || fail "$how: app_static failed"
done

step "all checks passed"
