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
codec_targets=(fuzz_decode fuzz_parse fuzz_json)
lib_targets=(fuzz_signature fuzz_url fuzz_file_archive fuzz_dir_entry fuzz_cli_import)
hdf5_targets=(fuzz_hdf5_entry)
[ ${#targets[@]} -eq 0 ] && targets=("${codec_targets[@]}" "${lib_targets[@]}" "${hdf5_targets[@]}")
out=build-fuzz
mkdir -p "$out"
# the codec layer and the error messages it sets
codec_srcs=(src/codec/*.c src/error.c)
# the library without its optional backends (PostgreSQL, Redis, HDF5)
lib_srcs=($(ls src/*.c src/codec/*.c src/keys/*.c src/cache/*.c src/policy/*.c src/memo/*.c \
               src/archive/*.c src/archive/util/*.c src/archive/backend/*.c \
               src/archive/backend/file/*.c src/archive/backend/sqlite/*.c 2>/dev/null |
             grep -v -e /hdf5 -e /h5common) tools/cli/*.c)
lib_libs=($(pkg-config --libs libxxhash libcrypto libzstd sqlite3) -lpthread -lm)
# HDF5 entries: the library with its HDF5 sources
hdf5_srcs=("${lib_srcs[@]}" src/archive/util/h5common.c)
hdf5_flags=($(pkg-config --cflags hdf5))
hdf5_libs=("${lib_libs[@]}" $(pkg-config --libs hdf5))
for t in "${targets[@]}"; do
  flags=()
  if [[ " ${lib_targets[*]} " == *" $t "* ]]; then
    srcs=("${lib_srcs[@]}") libs=("${lib_libs[@]}")
  elif [[ " ${hdf5_targets[*]} " == *" $t "* ]]; then
    srcs=("${hdf5_srcs[@]}") libs=("${hdf5_libs[@]}") flags=("${hdf5_flags[@]}")
  else
    srcs=("${codec_srcs[@]}") libs=(-lm)
  fi
  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -Iinclude -Isrc -Itools/cli "${flags[@]}" "${srcs[@]}" "fuzz/$t.c" "${libs[@]}" -o "$out/$t"
  mkdir -p "$out/new/$t"
  echo "== $t: ${secs}s"
  "$out/$t" -max_total_time="$secs" -max_len=4096 -timeout=10 \
            "$out/new/$t" "fuzz/corpus/$t"
done
