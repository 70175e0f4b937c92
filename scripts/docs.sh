#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The API reference: Doxygen over include/klepto/ (docs/Doxyfile) into
# OUTDIR/html; any Doxygen warning fails the run (exit 1, the warnings on
# stderr).  With --skip-missing, exits 77 (a skipped test for ctest) when
# doxygen is not installed instead of failing.
#
#   scripts/docs.sh [--skip-missing] OUTDIR
set -euo pipefail

skip_missing=0
if [[ ${1:-} == --skip-missing ]]; then
  skip_missing=1
  shift
fi
if (($# != 1)); then
  echo "usage: scripts/docs.sh [--skip-missing] OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v doxygen >/dev/null; then
  echo "docs: doxygen is not installed (Debian package doxygen; make deps installs it)" >&2
  ((skip_missing)) && exit 77
  exit 1
fi

version=$(sed -n 's/^#define KL_VERSION_STRING "\([^"]*\)".*/\1/p' "$top/include/klepto/version.h")
cd "$top"
log="$out/doxygen-warnings.txt"
rc=0
{ cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "PROJECT_NUMBER = $version"
  echo "WARN_LOGFILE = $log"; } | doxygen - >/dev/null || rc=$?
if [[ -s $log ]]; then
  cat "$log" >&2
  echo "docs: $(grep -cE ': (warning|error): ' "$log" || true) Doxygen warnings (see above)" >&2
  exit 1
fi
if ((rc != 0)); then
  echo "docs: doxygen failed (exit $rc)" >&2
  exit 1
fi
echo "docs: $out/html/index.html"
