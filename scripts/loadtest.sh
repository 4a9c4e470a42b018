#!/usr/bin/env bash
# The server's load test in its three set-ups, one after another on this machine:
#
#   (a) SQLite, one `daka serve`
#   (b) PostgreSQL, one `daka serve`
#   (c) PostgreSQL, two `daka serve` on the same database, the fleet spread over both
#
# Each run starts its servers from a seed made from the example company plus LOADTEST_STAFF
# (default 1,000) staff at the Causeway Bay store, so that every simulated phone belongs to its
# own employee as in a real fleet, then runs `daka loadgen` (LOADTEST_DEVICES × LOADTEST_PUNCHES,
# default 1,000 × 100, stopped after LOADTEST_LIMIT, default 10m) against them, and reports the CPU that each part used: the servers, the
# PostgreSQL backends and the load generator (seconds of user + system time while the fleet
# pushed, from /proc). The PostgreSQL cluster is a throwaway one from scripts/pg.sh; it is
# stopped at the end. Reports go to target/loadtest/ (one per run) and a summary to stdout.
#
#   scripts/loadtest.sh            # all three
#   scripts/loadtest.sh a          # only the SQLite run (also: b, c, or "b c")
#   LOADTEST_DAKA=/tmp/daka-old scripts/loadtest.sh b   # that build of daka, not this tree's
#   LOADTEST_SERVE_ARGS="--max-push-wait-ms 200" scripts/loadtest.sh a   # more options for `daka serve`
#   LOADTEST_LOADGEN_ARGS="--concurrency 1" scripts/loadtest.sh b          # more for `daka loadgen`
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${*:-a b c}"
staff="${LOADTEST_STAFF:-1000}"
devices="${LOADTEST_DEVICES:-1000}"
punches="${LOADTEST_PUNCHES:-100}"
limit="${LOADTEST_LIMIT:-10m}"
token=hl-demo-admin-token-change-me-0001
out="$PWD/target/loadtest"
mkdir -p "$out"
work="$(mktemp -d /tmp/daka-loadtest.XXXXXX)"
pg_state="$work/pg.env"
servers=()

cleanup() {
  for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  DAKA_PG_STATE="$pg_state" bash scripts/pg.sh stop || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${LOADTEST_DAKA:-}" ]; then
  daka="$LOADTEST_DAKA"
  [ -x "$daka" ] || { echo "LOADTEST_DAKA=$daka is not an executable" >&2; exit 2; }
else
  cargo build --release -q -p daka-cli
  daka="${CARGO_TARGET_DIR:-$PWD/target}/release/daka"
fi

# The example company with $staff more staff, each at the store with Wi-Fi like E1001.
python3 - "$work" "$staff" <<'EOF'
import json, sys
work, staff = sys.argv[1], int(sys.argv[2])
policy = json.load(open("examples/hk-policy.json"))
template = next(e for e in policy["employees"] if e["id"] == "E1001")
for n in range(staff):
    policy["employees"].append(dict(template, id=f"E{5000 + n}", name=f"Load Staff {n}"))
json.dump(policy, open(f"{work}/hk-policy.json", "w"))
json.dump(json.load(open("examples/seed.json")), open(f"{work}/seed.json", "w"))
EOF

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The CPU of this run's PostgreSQL cluster: its postmaster and the processes it started
# (other clusters on the machine are not counted). Backends that ended during the run are
# not counted either; the pools keep theirs open.
pg_ticks() {
  local total=0 pid dir postmaster
  [ -f "$pg_state" ] || { echo 0; return; }
  dir="$(sed -n 's/^dir=//p' "$pg_state")"
  postmaster="$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
  [ -n "$postmaster" ] || { echo 0; return; }
  for pid in "$postmaster" $(pgrep -P "$postmaster" || true); do
    total=$((total + $(ticks "$pid")))
  done
  echo "$total"
}
seconds() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'; }

# run NAME DB INSTANCES: starts the servers, runs the load generator, stops the servers.
run() {
  local name="$1" db="$2" instances="$3" urls=() port i
  servers=()
  for ((i = 0; i < instances; i++)); do
    port="$(free_port)"
    # shellcheck disable=SC2086 # LOADTEST_SERVE_ARGS is a list of words
    "$daka" serve --db "$db" --listen "127.0.0.1:$port" --seed "$work/seed.json" \
      ${LOADTEST_SERVE_ARGS:-} >"$out/$name-server-$i.log" 2>&1 &
    servers+=("$!")
    urls+=(--server "http://127.0.0.1:$port")
    for _ in $(seq 300); do
      curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  local before=() pg_before
  for pid in "${servers[@]}"; do before+=("$(ticks "$pid")"); done
  pg_before="$(pg_ticks)"
  local status=0
  local load_before
  load_before="$(cut -d' ' -f1 /proc/loadavg)"
  # shellcheck disable=SC2086 # LOADTEST_LOADGEN_ARGS is a list of words
  "$daka" loadgen --devices "$devices" --punches "$punches" "${urls[@]}" --admin-token "$token" \
    --duration-limit "$limit" ${LOADTEST_LOADGEN_ARGS:-} >"$out/$name.txt" || status=$?
  local server_ticks=0
  for i in "${!servers[@]}"; do
    server_ticks=$((server_ticks + $(ticks "${servers[$i]}") - before[i]))
  done
  local pg_used=$(($(pg_ticks) - pg_before))
  {
    echo "cpu          servers $(seconds "$server_ticks") s, PostgreSQL $(seconds "$pg_used") s (while the fleet pushed and was checked)"
    echo "machine      load average $load_before before, $(cut -d' ' -f1 /proc/loadavg) after ($(nproc) cores)"
    echo "exit status  $status"
  } >>"$out/$name.txt"
  for pid in "${servers[@]}"; do kill -TERM "$pid"; done
  wait
  servers=()
  echo "== $name"
  cat "$out/$name.txt"
}

pg_db() {
  local admin
  admin="$(DAKA_PG_STATE="$pg_state" bash scripts/pg.sh url)"
  local psql
  psql="$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)"
  "$psql" -q "$admin" -c "CREATE DATABASE $1" >/dev/null
  echo "${admin/\/postgres\?/\/$1?}"
}

for r in $runs; do
  case "$r" in
    a) run a-sqlite-one-instance "$work/server.db" 1 ;;
    b | c)
      [ -f "$pg_state" ] || DAKA_PG_STATE="$pg_state" bash scripts/pg.sh start >/dev/null
      if [ "$r" = b ]; then
        run b-postgres-one-instance "$(pg_db loadtest_b)" 1
      else
        run c-postgres-two-instances "$(pg_db loadtest_c)" 2
      fi
      ;;
    *) echo "loadtest.sh: unknown run $r (a, b or c)" >&2; exit 2 ;;
  esac
done
