#!/usr/bin/env bash
# Property-based tests of the HTTP API against its own OpenAPI document: Schemathesis
# (pinned, in a virtual environment under target/) generates requests from the served
# /openapi.json and checks every answer: no 5xx (not_a_server_error), the status is one the
# document lists for the operation (status_code_conformance), the body matches the listed
# schema (response_schema_conformance) and the content type the listed one
# (content_type_conformance).
#
# It starts `daka serve` on a free loopback port with a temporary database and the example
# seed, enrols a device with a fresh Ed25519 key (openssl), and runs twice: the admin API
# with the seed's admin token, and the device API (and the operations endpoints) with the
# device's token. Bounded: SCHEMATHESIS_EXAMPLES test cases per operation (default 25) and
# SCHEMATHESIS_SECONDS per run (default 80). Prints a last line
# `schemathesis: N operations, M requests, K failures`; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
examples="${SCHEMATHESIS_EXAMPLES:-25}"
seconds="${SCHEMATHESIS_SECONDS:-80}"
target_dir="${CARGO_TARGET_DIR:-target}"
venv="$target_dir/schemathesis-venv"
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/pip" show schemathesis 2>/dev/null | grep -qx "Version: $version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi

# DAKA_BIN: a `daka` already built (otherwise the debug build of the workspace).
daka="${DAKA_BIN:-}"
if [ -z "$daka" ]; then
  cargo build --locked -q -p daka-cli
  daka="$target_dir/debug/daka"
fi
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log="$target_dir/schemathesis-server.log"
: >"$log"
"$daka" serve --db "$tmp/server.db" --listen 127.0.0.1:0 --seed examples/seed.json \
  --log-level warn >"$log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 300); do
  [ -n "$url" ] || url="$(sed -n 's/^daka serve: listening on \(http:[^ ]*\) .*/\1/p' "$log" | head -1)"
  if [ -n "$url" ] && curl -fsS "$url/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "daka serve stopped before answering; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ] || ! curl -fsS "$url/health" >/dev/null 2>&1; then
  echo "daka serve did not answer /health; its log: $log" >&2
  exit 1
fi

# The example seed's admin token (public, like the whole example company).
admin_token="hl-demo-admin-token-change-me-0001"
# A device: a fresh Ed25519 key, its raw public key base64url, enrolled with a demo code.
openssl genpkey -algorithm ed25519 -out "$tmp/device.pem" 2>/dev/null
public_key="$(openssl pkey -in "$tmp/device.pem" -pubout -outform DER | tail -c 32 \
  | base64 | tr '+/' '-_' | tr -d '=\n')"
enrolled="$(curl -fsS -X POST "$url/v1/enroll" -H 'Content-Type: application/json' \
  -d "{\"code\":\"HL-E1001-DEMO-0001\",\"public_key\":\"$public_key\",\"device_name\":\"schemathesis\",\"platform\":\"test\"}")"
device_token="$(printf '%s' "$enrolled" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

checks=not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance
report="$target_dir/schemathesis"
rm -rf "$report"
mkdir -p "$report"
status=0
run() {
  local name="$1" token="$2"
  shift 2
  echo "== schemathesis: $name"
  "$venv/bin/st" run "$url/openapi.json" --checks "$checks" --max-examples "$examples" \
    --max-time "$seconds" --seed 20261201 --workers 1 --request-timeout 20 \
    --header "Authorization: Bearer $token" --warnings off \
    --report junit --report-junit-path "$report/$name.xml" "$@" \
    2>&1 | tee "$report/$name.log" || status=1
}
# The rotation is left out: it would end the admin token the rest of the run uses.
run admin "$admin_token" --include-path-regex '^/admin/' \
  --exclude-path '/admin/v1/admin-token/rotate'
run device "$device_token" --exclude-path-regex '^/admin/'

# One line over both runs, from the JUnit reports: operations, requests, failures.
python3 - "$report" <<'PY'
import pathlib, re, sys, xml.etree.ElementTree as ET
folder = pathlib.Path(sys.argv[1])
ops = failures = 0
for xml in sorted(folder.glob("*.xml")):
    for case in ET.parse(xml).getroot().iter("testcase"):
        ops += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failures += 1
requests = 0
for log in sorted(folder.glob("*.log")):
    text = log.read_text()
    m = re.findall(r"(\d+) (?:generated|test cases)", text)
    requests += sum(int(x) for x in m[-1:])
print(f"schemathesis: {ops} operations, {requests} requests, {failures} failures")
PY
exit "$status"
