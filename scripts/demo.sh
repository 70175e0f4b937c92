#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs the demo twice in a fresh folder: the first run computes, the second
# finds every result in the archive the first one left.
set -euo pipefail
build=${1:-build}
bin=$(cd "$build" && pwd)/demo
rm -rf demo-run && mkdir demo-run && cd demo-run
echo "== first run: computes every value and stores it in dir:demo-archive"
"$bin"
echo
echo "== second run of the same command: loads every value, computes nothing"
"$bin"
echo
echo "(the archive is in ./demo-run/demo-archive; inspect it with: $build/klepto ls dir:demo-run/demo-archive)"
