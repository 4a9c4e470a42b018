#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the server tests on PostgreSQL.
#
#   scripts/pg.sh start   initialises and starts a cluster; prints its admin URL
#   scripts/pg.sh url     prints the admin URL of the running cluster
#   scripts/pg.sh stop    stops the cluster and removes it
#
# The cluster lives in a temporary directory (data and unix socket), listens on a free TCP port
# of 127.0.0.1 only, trusts local connections (it holds test data only) and keeps `fsync=on`:
# the tests check durability semantics. It runs as the `postgres` user (PostgreSQL refuses
# root). `initdb` comes from the distribution's `postgresql` package, installed when missing.
# The state file (default target/pg-cluster.env, or $DAKA_PG_STATE) records where it is.
set -euo pipefail
cd "$(dirname "$0")/.."

state="${DAKA_PG_STATE:-$PWD/target/pg-cluster.env}"

find_bin() {
  local name="$1"
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$found" ] && echo "$found"
}

ensure_installed() {
  if [ -z "$(find_bin initdb)" ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "pg.sh: PostgreSQL's initdb is missing; install the postgresql package" >&2
      exit 1
    fi
  fi
}

# Runs a command as the cluster's owner (root runs it through runuser).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd="${1:-}"
case "$cmd" in
  start)
    if [ -f "$state" ]; then
      echo "pg.sh: a cluster is already recorded in $state; stop it first" >&2
      exit 1
    fi
    ensure_installed
    initdb="$(find_bin initdb)"
    pg_ctl="$(find_bin pg_ctl)"
    owner="$(id -un)"
    if [ "$(id -u)" = 0 ]; then
      owner=postgres
      id -u "$owner" >/dev/null 2>&1 || useradd --system --no-create-home "$owner"
    fi
    dir="$(mktemp -d /tmp/daka-pg.XXXXXX)"
    chown "$owner" "$dir"
    chmod 700 "$dir"
    port="$(free_port)"
    as_owner "$initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
       -c fsync=on -c max_connections=400 -c shared_buffers=128MB" >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
    mkdir -p "$(dirname "$state")"
    printf 'dir=%s\nowner=%s\nport=%s\nurl=%s\n' "$dir" "$owner" "$port" "$url" >"$state"
    echo "$url"
    ;;
  url)
    [ -f "$state" ] || { echo "pg.sh: no cluster is running (no $state)" >&2; exit 1; }
    sed -n 's/^url=//p' "$state"
    ;;
  stop)
    [ -f "$state" ] || exit 0
    dir="$(sed -n 's/^dir=//p' "$state")"
    owner="$(sed -n 's/^owner=//p' "$state")"
    pg_ctl="$(find_bin pg_ctl)"
    if [ -n "$dir" ] && [ -d "$dir/data" ]; then
      as_owner "$pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    case "$dir" in /tmp/daka-pg.*) rm -rf "$dir" ;; esac
    rm -f "$state"
    ;;
  *)
    echo "usage: scripts/pg.sh start|url|stop" >&2
    exit 2
    ;;
esac
