#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Miss ratios of every policy on a trace of your own (one key per line, as
# `klepto simulate` reads it) at 1%, 5% and 20% of its distinct keys, as a
# Markdown table (the tables of docs/policies.md).  No trace ships with the
# repository: pass its path, or set KLEPTO_TRACE.
#
#   bench/policy_trace.sh [TRACE]
#
# Environment:
#   KLEPTO_TRACE        the trace, when no argument is given
#   KLEPTO              the klepto program (default: build/klepto, then PATH)
#   POLICY_TRACE_PCT    the sizes as percentages of the distinct keys
#                       (default "1 5 20")
#   LIBCACHESIM_CACHESIM  libCacheSim's `cachesim` program: when set, the
#                       same sizes are run through its LRU, LFU, FIFO, ARC,
#                       S3FIFO, Sieve, WTinyLFU, TwoQ and LIRS (object
#                       counts, --ignore-obj-size 1; the trace read as its
#                       `txt` type, so keys must be decimal integers) and
#                       printed as a second table.
set -euo pipefail
trace=${1:-${KLEPTO_TRACE:-}}
if [[ -z "$trace" ]]; then
  echo "policy_trace: usage: bench/policy_trace.sh TRACE (or set KLEPTO_TRACE)" >&2
  exit 2
fi
if [[ ! -r "$trace" ]]; then
  echo "policy_trace: $trace: cannot read the trace" >&2
  exit 2
fi
klepto=${KLEPTO:-}
if [[ -z "$klepto" ]]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  if [[ -x "$here/build/klepto" ]]; then klepto="$here/build/klepto"; else klepto=klepto; fi
fi
pcts=${POLICY_TRACE_PCT:-1 5 20}

# Requests and distinct keys (a last line without its newline counts, as
# in klepto simulate).
read -r requests distinct < <(awk '{ n++; if (!($0 in seen)) { seen[$0] = 1; d++ } } END { print n + 0, d + 0 }' "$trace")
if ((distinct == 0)); then
  echo "policy_trace: $trace: the trace is empty" >&2
  exit 2
fi
sizes=()
for p in $pcts; do
  s=$((distinct * p / 100))
  ((s > 0)) || s=1
  sizes+=("$s")
done
size_list=$(IFS=,; echo "${sizes[*]}")
echo "trace: $(basename "$trace"): $requests requests, $distinct distinct keys; sizes $size_list ($pcts % of the distinct keys)"
echo

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$klepto" simulate --policy all --size "$size_list" --trace "$trace" --json >"$out"

python3 - "$out" "$pcts" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pcts = sys.argv[2].split()
policies = list(dict.fromkeys(r["policy"] for r in rows))
# one line per policy and size, the sizes in the order given (they may repeat)
per = {p: [r for r in rows if r["policy"] == p] for p in policies}
print("| size | " + " | ".join(policies) + " |")
print("| ---: |" + " ---: |" * len(policies))
for j, pct in enumerate(pcts):
    s = per[policies[0]][j]["size"]
    vals = [per[p][j]["miss_ratio"] for p in policies]
    best = min(v for p, v in zip(policies, vals) if p != "adaptive")
    cells = [f"**{v:.4f}**" if v == best else f"{v:.4f}" for v in vals]
    print(f"| {pct}% = {s} | " + " | ".join(cells) + " |")
PY

if [[ -n "${LIBCACHESIM_CACHESIM:-}" ]]; then
  echo
  echo "libCacheSim ($LIBCACHESIM_CACHESIM):"
  echo
  work=$(mktemp -d)
  trap 'rm -f "$out"; rm -rf "$work"' EXIT
  trace_abs=$(cd "$(dirname "$trace")" && pwd)/$(basename "$trace")
  for algo in LRU LFU FIFO ARC S3FIFO Sieve WTinyLFU TwoQ LIRS; do
    (cd "$work" && "$LIBCACHESIM_CACHESIM" "$trace_abs" txt "$algo" "$size_list" \
      --ignore-obj-size 1 --num-thread 1 2>&1) |
      awk -v a="$algo" '/miss ratio/ { for (i = 1; i <= NF; i++) { if ($i == "size") s = $(i + 1); if ($i == "ratio") { r = $(i + 1); sub(",", "", r) } } print a, s + 0, r }'
  done | python3 -c '
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
algos = list(dict.fromkeys(r[0] for r in rows))
sizes = list(dict.fromkeys(int(r[1]) for r in rows))
mr = {(r[0], int(r[1])): float(r[2]) for r in rows}
print("| size | " + " | ".join(algos) + " |")
print("| ---: |" + " ---: |" * len(algos))
for s in sizes:
    vals = [mr.get((a, s)) for a in algos]
    best = min(v for v in vals if v is not None)
    cells = ["-" if v is None else (f"**{v:.4f}**" if v == best else f"{v:.4f}") for v in vals]
    print(f"| {s} | " + " | ".join(cells) + " |")
'
fi
