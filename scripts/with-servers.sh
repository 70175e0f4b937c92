#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs a command beside throw-away database servers:
#
#   bash scripts/with-servers.sh CMD ARGS...
#
# starts a PostgreSQL server (initdb into a temporary folder, listening on
# a socket in that folder and on 127.0.0.1 at a free port), a MariaDB
# server (mariadb-install-db into a temporary folder, in /dev/shm when there
# is one; a socket there and 127.0.0.1 at a free port, a test database and a
# user with a password)
# and a Redis server (127.0.0.1, free port, no persistence), exports
#
#   KLEPTO_TEST_PG_URL        postgresql://klepto@127.0.0.1:PORT/klepto_test
#   KLEPTO_TEST_MYSQL_URL     mysql://klepto:PASSWORD@127.0.0.1:PORT/klepto_test
#   KLEPTO_TEST_REDIS_URL     redis://127.0.0.1:PORT/0
#   KLEPTO_TEST_SERVERS_SCRIPT  the absolute path of this script
#
# runs CMD, then stops both servers and removes the folder, whatever way
# CMD ends (failure, Ctrl-C, TERM).  A server whose binaries are missing is
# skipped with a note (its variable stays unset, and tests needing it skip).
#
# Tests that must stop and restart a server of their own use:
#
#   bash scripts/with-servers.sh pg-start DIR   # create (first time) + start;
#                                               # prints the URL
#   bash scripts/with-servers.sh pg-stop DIR    # stop it (fast shutdown)
#   bash scripts/with-servers.sh mysql-start DIR  # the same for MariaDB
#   bash scripts/with-servers.sh mysql-stop DIR
#
# DIR must be an empty or earlier-used folder (its parent becomes
# traversable by others when running as root); the caller removes it.
set -uo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")

pg_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null)
    [[ -x "$d/initdb" ]] && { echo "$d"; return 0; }
  fi
  # Debian keeps the server binaries out of PATH, one folder per version.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  return 1
}

free_port() {
  local py
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1; then
      "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' \
        2>/dev/null && return 0
    fi
  done
  echo $((20000 + RANDOM % 30000))
}

# PostgreSQL refuses to run as root: run it as an unprivileged account.
pg_user=""
# From "/": PostgreSQL's programs warn on stderr when the working folder is
# one the server's account may not enter (a private temporary folder).
as_pg() {
  if [[ -n "$pg_user" ]]; then
    (cd / && runuser -u "$pg_user" -- "$@")
  else
    "$@"
  fi
}
pick_pg_user() {
  if [[ $(id -u) -eq 0 ]]; then
    if getent passwd postgres >/dev/null; then pg_user=postgres; else pg_user=nobody; fi
  fi
}

# pg_start DIR: initdb DIR/data on first use, start, print the URL.
pg_start() {
  local dir=$1 bin port
  bin=$(pg_bindir) || { echo "with-servers: PostgreSQL server binaries not found (make deps)" >&2; return 1; }
  pick_pg_user
  if [[ -n "$pg_user" ]]; then
    chown "$pg_user" "$dir"
    # the server's account must be able to reach DIR (temporary folders are
    # usually private to their creator)
    chmod o+x "$(dirname "$dir")"
  fi
  chmod 755 "$dir"
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_pg "$bin/initdb" -D "$dir/data" -U klepto -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
    cat >>"$dir/data/postgresql.conf" <<EOF
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 32MB
unix_socket_directories = '$dir'
listen_addresses = '127.0.0.1'
logging_collector = off
EOF
    free_port >"$dir/port"
  fi
  port=$(cat "$dir/port")
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "-p $port" -w -t 20 start \
    >/dev/null 2>&1 || { tail -5 "$dir/postgres.log" >&2; return 1; }
  if [[ ! -f "$dir/created" ]]; then
    as_pg "$bin/createdb" -h "$dir" -p "$port" -U klepto klepto_test >&2 || return 1
    touch "$dir/created"
  fi
  echo "postgresql://klepto@127.0.0.1:$port/klepto_test"
}

pg_stop() {
  local dir=$1 bin
  bin=$(pg_bindir) || return 1
  pick_pg_user
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1
}

# MariaDB refuses to run as root unless told which account to use.
my_user=""
pick_my_user() {
  if [[ $(id -u) -eq 0 ]]; then
    if getent passwd mysql >/dev/null; then my_user=mysql; else my_user=nobody; fi
  fi
}

my_bin() {
  local n d
  for n in "$@"; do
    for d in "" /usr/sbin/ /usr/bin/; do
      if [[ -z "$d" ]]; then command -v "$n" 2>/dev/null && return 0
      elif [[ -x "$d$n" ]]; then echo "$d$n"; return 0; fi
    done
  done
  return 1
}

# The server's options: small, fast, private to DIR.
my_args() {
  local dir=$1
  echo --no-defaults --datadir="$dir/data" --socket="$dir/mysql.sock" \
    --pid-file="$dir/mysql.pid" --port="$(cat "$dir/port")" --bind-address=127.0.0.1 \
    --log-error="$dir/mysql.log" --skip-log-bin --skip-name-resolve \
    --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=100 --max-allowed-packet=16M \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
    --performance-schema=OFF ${my_user:+--user=$my_user}
}

# mysql_start DIR: install the data folder on first use, start, print the URL.
mysql_start() {
  local dir=$1 server install client pass
  server=$(my_bin mariadbd mysqld) && install=$(my_bin mariadb-install-db mysql_install_db) &&
    client=$(my_bin mariadb mysql) ||
    { echo "with-servers: MariaDB server binaries not found (make deps)" >&2; return 1; }
  pick_my_user
  if [[ -n "$my_user" ]]; then
    chown "$my_user" "$dir"
    chmod o+x "$(dirname "$dir")"
  fi
  chmod 755 "$dir"
  if [[ ! -f "$dir/created" ]]; then
    free_port >"$dir/port"
    (cd / && "$install" --no-defaults --datadir="$dir/data" ${my_user:+--user=$my_user} \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
      >"$dir/install.log" 2>&1) || { cat "$dir/install.log" >&2; return 1; }
  fi
  # shellcheck disable=SC2046
  (cd / && exec setsid "$server" $(my_args "$dir")) </dev/null >/dev/null 2>&1 &
  local ok=""
  for _ in $(seq 400); do
    if "$client" --no-defaults -uroot --socket="$dir/mysql.sock" -e 'SELECT 1' >/dev/null 2>&1; then
      ok=1; break
    fi
    sleep 0.05
  done
  [[ -n "$ok" ]] || { tail -5 "$dir/mysql.log" >&2; return 1; }
  if [[ ! -f "$dir/created" ]]; then
    pass="kl$RANDOM$RANDOM"
    "$client" --no-defaults -uroot --socket="$dir/mysql.sock" -e "
      CREATE DATABASE klepto_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
      CREATE USER 'klepto'@'127.0.0.1' IDENTIFIED BY '$pass';
      CREATE USER 'klepto'@'localhost' IDENTIFIED BY '$pass';
      GRANT ALL ON *.* TO 'klepto'@'127.0.0.1';
      GRANT ALL ON *.* TO 'klepto'@'localhost';" >&2 || return 1
    echo "$pass" >"$dir/password"
    touch "$dir/created"
  fi
  echo "mysql://klepto:$(cat "$dir/password")@127.0.0.1:$(cat "$dir/port")/klepto_test"
}

# mysql_stop DIR [SIGNAL]: TERM (a clean shutdown) unless told otherwise.
mysql_stop() {
  local dir=$1 sig=${2:-TERM} pid
  [[ -f "$dir/mysql.pid" ]] || return 0
  pid=$(cat "$dir/mysql.pid")
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null
  return 0
}

case "${1:-}" in
  pg-start) pg_start "$2"; exit ;;
  pg-stop) pg_stop "$2"; exit ;;
  mysql-start) mysql_start "$2"; exit ;;
  mysql-stop) mysql_stop "$2" "${3:-TERM}"; exit ;;
  "" | -h | --help)
    sed -n '2,32p' "$self" | sed 's/^# \{0,1\}//'
    exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/klepto-servers-XXXXXX") || exit 1
# MariaDB's data in memory where there is a tmpfs: its CREATE TABLE costs
# ~20 ms on a disk and ~1 ms there (the table-per-key layout makes many).
my_base=$tmp
if [[ -d /dev/shm && -w /dev/shm ]]; then
  my_base=$(mktemp -d /dev/shm/klepto-servers-XXXXXX 2>/dev/null) || my_base=$tmp
fi
redis_pid=""
cmd_pid=""
my_start_pid=""
cleanup() {
  trap - EXIT INT TERM HUP
  [[ -n "$cmd_pid" ]] && kill -TERM "$cmd_pid" 2>/dev/null && wait "$cmd_pid" 2>/dev/null
  [[ -n "$my_start_pid" ]] && wait "$my_start_pid" 2>/dev/null
  [[ -d "$tmp/pg" ]] && pg_stop "$tmp/pg"
  # a server crash (MariaDB 10.11 has segfaulted once under the tests):
  # its own account of it, for whoever reads the log of a failed run
  if [[ -f "$my_base/mysql/mysql.log" ]] && grep -q "got signal" "$my_base/mysql/mysql.log"; then
    echo "with-servers: the MariaDB server crashed during the run; the end of its log:" >&2
    tail -n 60 "$my_base/mysql/mysql.log" >&2
  fi
  # its data is thrown away: no clean shutdown needed
  [[ -d "$my_base/mysql" ]] && mysql_stop "$my_base/mysql" KILL
  if [[ -n "$redis_pid" ]]; then
    kill "$redis_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$tmp"
  [[ "$my_base" != "$tmp" ]] && rm -rf "$my_base"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

started=()
# MariaDB's first start (mariadb-install-db) takes seconds: beside PostgreSQL's.
mkdir "$my_base/mysql"
mysql_start "$my_base/mysql" >"$tmp/mysql.url" 2>"$tmp/mysql.err" &
my_start_pid=$!
mkdir "$tmp/pg"
if url=$(pg_start "$tmp/pg"); then
  export KLEPTO_TEST_PG_URL=$url
  started+=("postgres $url")
else
  echo "with-servers: PostgreSQL not started; its tests will skip" >&2
fi

if wait "$my_start_pid" && url=$(cat "$tmp/mysql.url") && [[ -n "$url" ]]; then
  my_start_pid=""
  export KLEPTO_TEST_MYSQL_URL=$url
  started+=("mysql ${url%%:*}://klepto:***@${url#*@}")
else
  my_start_pid=""
  cat "$tmp/mysql.err" >&2
  echo "with-servers: MariaDB not started; its tests will skip" >&2
fi

if command -v redis-server >/dev/null 2>&1; then
  rport=$(free_port)
  mkdir "$tmp/redis"
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp/redis" --logfile "$tmp/redis/redis.log" --daemonize no >/dev/null 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null; then ok=1; break; fi
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -n "${ok:-}" ]]; then
    export KLEPTO_TEST_REDIS_URL="redis://127.0.0.1:$rport/0"
    started+=("redis $KLEPTO_TEST_REDIS_URL")
  else
    echo "with-servers: redis-server did not start; its tests will skip" >&2
    redis_pid=""
  fi
else
  echo "with-servers: redis-server not found (make deps); its tests will skip" >&2
fi

export KLEPTO_TEST_SERVERS_SCRIPT=$self
echo "with-servers: ${started[*]:-no servers}" >&2

# In the background so that a TERM sent to this script alone is handled at
# once (and passed on) instead of after the command finishes.
"$@" <&0 &
cmd_pid=$!
wait "$cmd_pid"
rc=$?
cmd_pid=""
exit $rc
