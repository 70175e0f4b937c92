#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The whole test suite (run by `make test`, inside scripts/with-servers.sh):
#   1. gcc build, warnings as errors, every test;
#   2. clang build with AddressSanitizer + UndefinedBehaviorSanitizer, every test;
#   3. clang build with ThreadSanitizer, the concurrency tests.
# Prints one closing line "N passed, N failed" and exits non-zero on failure.
set -uo pipefail
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
failures=()

run_suite() { # NAME BUILD_DIR CMAKE_ARGS... -- CTEST_ARGS...
  local name=$1 dir=$2; shift 2
  local cmake_args=() ctest_args=()
  while (($#)) && [[ $1 != -- ]]; do cmake_args+=("$1"); shift; done
  (($#)) && shift
  ctest_args=("$@")
  echo "== $name"
  if ! cmake -S . -B "$dir" -DKLEPTO_BENCH=OFF "${cmake_args[@]}" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"; failed=$((failed + 1)); failures+=("$name: configure"); return
  fi
  rm -f "$dir.configure.log"
  if ! cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1; then
    grep -E "error|warning" "$dir.build.log" | head -40
    failed=$((failed + 1)); failures+=("$name: build"); return
  fi
  rm -f "$dir.build.log"
  local log
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "${ctest_args[@]}") 2>&1 | tee "$log"
  local p f
  p=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$log" | head -1)
  if [[ -n "$p" ]]; then
    f=$(echo "$p" | awk '{print $1}')
    local total; total=$(echo "$p" | awk '{print $NF}')
    passed=$((passed + total - f)); failed=$((failed + f))
    ((f > 0)) && failures+=("$name: $f test(s)")
  else
    p=$(grep -Eo '100% tests passed, 0 tests failed out of [0-9]+' "$log" | awk '{print $NF}')
    if [[ -n "$p" ]]; then passed=$((passed + p)); else failed=$((failed + 1)); failures+=("$name: no result"); fi
  fi
  rm -f "$log"
}

run_suite "gcc build: all tests" build-test -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite "clang ASan+UBSan: all tests" build-asan -DKLEPTO_BENCH=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DKLEPTO_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
run_suite "clang TSan: concurrency tests" build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DKLEPTO_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo -- -L concurrency

echo
if ((${#failures[@]})); then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
