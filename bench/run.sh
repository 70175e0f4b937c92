#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs every benchmark program and prints a table (or, with --json, the
# JSON lines of BENCH.md).  Usage: bench/run.sh BUILD_DIR [--json] [--only NAME]
set -euo pipefail
build=${1:?build dir}
shift
json=0
only=""
while (($#)); do
  case "$1" in
    --json) json=1 ;;
    --only) only=${2:?--only needs a name}; shift ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
export BENCH_ONLY="$only"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for prog in "$build"/bench/bench_*; do
  [[ -x "$prog" ]] || continue
  if ! "$prog" >>"$out"; then
    echo "bench: $(basename "$prog") failed" >&2
    exit 1
  fi
done
if ((json)); then
  cat "$out"
else
  python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
fmt = lambda v: "-" if v is None else (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}")
print(f"{'name':<24} {'value':>14} {'unit':<10} {'baseline':>14} {'ratio':>7}  note")
for r in rows:
    ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
    print(f"{r['name']:<24} {fmt(r['value']):>14} {r['unit']:<10} {fmt(r['baseline']):>14} {ratio:>7}  {r['note']}")
PY
fi
