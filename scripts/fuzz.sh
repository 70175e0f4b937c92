#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for N
# seconds on its saved corpus; new inputs found go to build-fuzz/new/<target>
# (merge the interesting ones into fuzz/corpus/<target> by hand).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default 60 s, all targets)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_decode fuzz_parse)
out=build-fuzz
mkdir -p "$out"
srcs=(src/codec/*.c src/error.c) # the codec layer and the error messages it sets
for t in "${targets[@]}"; do
  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -Iinclude -Isrc "${srcs[@]}" "fuzz/$t.c" -lm -o "$out/$t"
  mkdir -p "$out/new/$t"
  echo "== $t: ${secs}s"
  "$out/$t" -max_total_time="$secs" -max_len=4096 -timeout=10 \
            "$out/new/$t" "fuzz/corpus/$t"
done
