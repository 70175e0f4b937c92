#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The shared library exports exactly the public API: every dynamic symbol
# it defines is declared by a header under include/, and every function a
# header marks KL_API is exported.  Usage: check_exports.sh LIB INCLUDE_DIR
set -euo pipefail
lib=${1:?shared library} inc=${2:?include folder}
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' |
  grep -Ev '^(_init|_fini|_edata|_end|__bss_start|__(a|ub|t|l)san_.*|__odr_asan.*|__sancov.*)$' | sort -u)
[[ -n "$exported" ]] || { echo "no exported symbols found in $lib"; exit 1; }
# identifiers declared by the public headers (comments removed)
declared=$(cat "$inc"/*.h "$inc"/klepto/*.h "$inc"/klepto/sys/*.h | sed 's|/\*.*\*/||; /^ *\*/d; /^\/\*/d' |
  grep -oE '\b[A-Za-z_][A-Za-z0-9_]*\b' | sort -u)
marked=$(ls "$inc"/klepto/*.h "$inc"/klepto/sys/*.h | grep -v /export.h | xargs cat | tr '\n' ' ' | grep -oE 'KL_API [^;(]*\(' |
  grep -oE '[A-Za-z_][A-Za-z0-9_]*\($' | tr -d '(' | sort -u)
bad=0
undeclared=$(comm -23 <(echo "$exported") <(echo "$declared"))
if [[ -n "$undeclared" ]]; then
  echo "exported but declared by no public header:"; echo "$undeclared" | sed 's/^/  /'; bad=1
fi
missing=$(comm -13 <(echo "$exported") <(echo "$marked"))
if [[ -n "$missing" ]]; then
  echo "marked KL_API but not exported:"; echo "$missing" | sed 's/^/  /'; bad=1
fi
private=$(echo "$exported" | grep -E '^kl__' || true)
if [[ -n "$private" ]]; then
  echo "private (kl__) names exported:"; echo "$private" | sed 's/^/  /'; bad=1
fi
echo "$(echo "$exported" | wc -l) exported symbols, $(echo "$marked" | wc -l) KL_API functions"
exit $bad
