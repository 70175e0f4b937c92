#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# `make install`: install.sh BUILD [PREFIX] [DESTDIR]
#
# Installs what BUILD built into PREFIX (the prefix BUILD was configured
# with when empty), under DESTDIR when set.  A destination that cannot be
# written is refused before anything is copied, in one line saying so; an
# install that fails part-way says which files it left and records them in
# BUILD/install_manifest.txt, so that `make uninstall` removes them.
set -uo pipefail
build=${1:?usage: install.sh BUILD [PREFIX] [DESTDIR]}
prefix=${2:-}
destdir=${3:-}
if [[ -z $prefix ]]; then
  prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
fi
dest=$destdir$prefix
# the deepest folder that exists on the way to dest must be one we may write
at=$dest
while [[ ! -e $at && $at == */* ]]; do at=${at%/*}; done
at=${at:-/}
if [[ ! -d $at ]]; then
  echo "make install: cannot install into $dest: $at is not a folder; nothing was installed" >&2
  exit 1
fi
if [[ ! -w $at || ! -x $at ]]; then
  echo "make install: cannot install into $dest: $at is not writable by $(id -un);" \
    "choose PREFIX=\$HOME/.local or run as a user who may write there; nothing was installed" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
args=(--install "$build")
[[ -n ${2:-} ]] && args+=(--prefix "$prefix")
DESTDIR=$destdir cmake "${args[@]}" >"$log" 2>&1
status=$?
if ((status == 0)); then
  cat "$log"
  exit 0
fi
# cmake's reason: the lines after "CMake Error at ...", joined into one
why=$(awk '/^CMake Error/ {on = 1; next} on && NF == 0 && got {exit} on && NF {sub(/^ +/, ""); printf "%s%s", sep, $0; sep = " "; got = 1}' "$log")
# cmake writes its manifest only after a complete install: write it from
# what it reported, so make uninstall can take the partial install back
sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$log" >"$build/install_manifest.txt"
n=$(wc -l <"$build/install_manifest.txt")
if ((n == 0)); then
  echo "make install: cannot install into $dest: ${why:-cmake --install failed}; nothing was installed" >&2
else
  echo "make install: failed part-way into $dest: ${why:-cmake --install failed}; $n files were" \
    "installed before the failure (listed in $build/install_manifest.txt; 'make uninstall' removes them)" >&2
fi
exit 1
