#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the server tests on PostgreSQL.
#
#   scripts/pg.sh start    initialises and starts a cluster; prints its admin URL
#   scripts/pg.sh url      prints the admin URL of the running cluster
#   scripts/pg.sh url-tls  prints the URL of its TLS-only user (sslmode=verify-full)
#   scripts/pg.sh stop     stops the cluster and removes it
#
# The cluster lives in a temporary directory (data and unix socket), listens on a free TCP port
# of 127.0.0.1 only, trusts local connections (it holds test data only) and keeps `fsync=on`:
# the tests check durability semantics. It runs as the `postgres` user (PostgreSQL refuses
# root). `initdb` comes from the distribution's `postgresql` package, installed when missing
# (as is `openssl`).
# The state file (default target/pg-cluster.env, or $DAKA_PG_STATE) records where it is.
#
# TLS: `start` also makes a throwaway CA and, signed by it, a server certificate for
# 127.0.0.1 and localhost (with `openssl`, in the cluster's `tls/` directory: `ca.pem`, and
# `other-ca.pem`, a CA that signed nothing, for tests of a wrong CA), and starts the cluster
# with `ssl=on`. The admin user connects with or without TLS, as before; the superuser
# `daka_tls` only over TLS (`hostssl`, SCRAM password; `hostnossl` rejects it), so that
# whatever connects as it has negotiated TLS. `url-tls` prints its URL with
# `sslmode=verify-full&sslrootcert=<tls/ca.pem>`.
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
  if ! command -v openssl >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
    else
      echo "pg.sh: openssl is missing (it makes the cluster's TLS certificates); install it" >&2
      exit 1
    fi
  fi
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

# A throwaway CA (`ca.pem`), a server certificate it signs for 127.0.0.1 and localhost
# (`server.crt`, `server.key`), and a second CA that signs nothing (`other-ca.pem`), in $1.
# ECDSA P-256 keys, valid for a week.
make_certificates() {
  local out="$1"
  mkdir -p "$out"
  (
    cd "$out"
    for ca in ca other-ca; do
      cat >"$ca.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = daka test $ca
[ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
CNF
      openssl req -x509 -config "$ca.cnf" -extensions ext -newkey ec \
        -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$ca.key" -out "$ca.pem" -days 7
    done
    cat >server.cnf <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
CNF
    openssl req -new -config server.cnf -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -nodes -keyout server.key -out server.csr
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -extfile server.cnf -extensions ext -out server.crt -days 7
    chmod 644 ca.pem other-ca.pem server.crt
  )
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
    make_certificates "$dir/tls" >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; exit 1; }
    cat >"$dir/data/pg_hba.conf" <<'HBA'
# TYPE    DATABASE USER     ADDRESS       METHOD
local     all      all                    trust
hostssl   all      daka_tls 127.0.0.1/32  scram-sha-256
hostnossl all      daka_tls 127.0.0.1/32  reject
host      all      all      127.0.0.1/32  trust
HBA
    chown -R "$owner" "$dir/tls" "$dir/data/pg_hba.conf"
    chmod 600 "$dir/tls/server.key"
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
       -c fsync=on -c max_connections=400 -c shared_buffers=128MB \
       -c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key" \
      >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    tls_password="$(openssl rand -hex 16)"
    as_owner "$(find_bin psql)" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
      -qc "CREATE ROLE daka_tls LOGIN SUPERUSER PASSWORD '$tls_password'" >/dev/null
    url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
    url_tls="postgres://daka_tls:$tls_password@127.0.0.1:$port/postgres?sslmode=verify-full&sslrootcert=$dir/tls/ca.pem"
    mkdir -p "$(dirname "$state")"
    printf 'dir=%s\nowner=%s\nport=%s\nurl=%s\nurl_tls=%s\n' \
      "$dir" "$owner" "$port" "$url" "$url_tls" >"$state"
    echo "$url"
    ;;
  url)
    [ -f "$state" ] || { echo "pg.sh: no cluster is running (no $state)" >&2; exit 1; }
    sed -n 's/^url=//p' "$state"
    ;;
  url-tls)
    [ -f "$state" ] || { echo "pg.sh: no cluster is running (no $state)" >&2; exit 1; }
    sed -n 's/^url_tls=//p' "$state"
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
    echo "usage: scripts/pg.sh start|url|url-tls|stop" >&2
    exit 2
    ;;
esac
