#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Checks the Debian packages the build, tests and benchmarks need; installs
# the missing ones with apt-get when running as root, otherwise prints the
# exact command to run and fails.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libxxhash-dev libssl-dev libzstd-dev libcmocka-dev
  libsqlite3-dev sqlite3 libpq-dev postgresql
  libmariadb-dev mariadb-server
  libhdf5-dev hdf5-tools libhiredis-dev redis-server
  python3 python3-cbor2 python3-h5py doxygen
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

cmd="apt-get install -y ${missing[*]}"
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
else
  echo "deps: missing Debian packages. Run:" >&2
  echo "  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
