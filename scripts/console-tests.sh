#!/usr/bin/env bash
# The web console tested in a real browser: headless Chromium driven by Playwright against a
# `daka serve` seeded with the example company (examples/seed.json).
#
# Installs what it needs when missing (Debian's chromium, a CJK font, the pinned npm packages),
# builds the CLI, starts the server on a free loopback port with a temporary database, runs
# the tests and stops the server whatever happens. Exits with the tests' status.
# Screenshots go to target/console-screenshots/. Arguments are passed to `playwright test`
# (for example --grep manager).
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
# Chromium, and a font with Traditional Chinese glyphs so that the 繁體中文 pages and the
# names in the screenshots are legible (Debian's chromium package brings no CJK font).
apt_packages=()
[ -x "$chromium" ] || apt_packages+=(chromium)
command -v curl >/dev/null 2>&1 || apt_packages+=(curl)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh-tw family 2>/dev/null)" ]; then
  apt_packages+=(fonts-noto-cjk)
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  elif [ ! -x "$chromium" ] || ! command -v curl >/dev/null 2>&1; then
    echo "the console tests need Chromium at $chromium and curl (Debian/Ubuntu: apt-get install chromium curl)" >&2
    exit 1
  else
    echo "note: no Traditional Chinese font (fonts-noto-cjk); screenshots will show boxes" >&2
  fi
fi
# Playwright 1.65 needs Node.js 20 or later (Debian 12's own nodejs package is 18).
if ! command -v npm >/dev/null 2>&1 \
    || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "the console tests need Node.js 20+ and npm on PATH" >&2
  exit 1
fi

# Playwright's own browser download is not used: the tests run Debian's Chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -x console-tests/node_modules/.bin/playwright ] \
    || [ console-tests/package-lock.json -nt console-tests/node_modules/.package-lock.json ]; then
  (cd console-tests && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build --locked -q -p daka-cli
target_dir="${CARGO_TARGET_DIR:-target}"
daka="$target_dir/debug/daka"
# The absolute path, for the tests' simulated phones (`daka phone`).
daka_bin="$(cd "$(dirname "$daka")" && pwd)/daka"

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

# Port 0: the server binds a free port itself and prints its address, so no other process
# can take the port between choosing and binding it.
mkdir -p target
# The server's clock starts at a known instant (a Tuesday morning, after the store opens), so
# that what Today shows after a punch does not depend on when the tests run.
clock="${DAKA_CONSOLE_CLOCK:-2026-12-01T10:20:00+08:00}"
# Created here, not only by the background job's redirection, so that reading it below cannot
# race the job's start.
: >target/console-server.log
"$daka" serve --db "$tmp/server.db" --listen 127.0.0.1:0 --seed examples/seed.json \
  --clock-start "$clock" >target/console-server.log 2>&1 &
server_pid=$!

url=""
for _ in $(seq 1 300); do
  if [ -z "$url" ]; then
    url="$(sed -n 's/^daka serve: listening on \(http:[^ ]*\) .*/\1/p' target/console-server.log | head -1)"
  fi
  if [ -n "$url" ] && curl -fsS "$url/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "daka serve stopped before answering; its log:" >&2
    cat target/console-server.log >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ] || ! curl -fsS "$url/health" >/dev/null 2>&1; then
  echo "daka serve did not answer /health; its log:" >&2
  cat target/console-server.log >&2
  exit 1
fi
echo "daka serve at $url (log: target/console-server.log)"

rm -rf target/console-screenshots
status=0
# The tests' temporary folders (simulated phones' state, a receipt photo) go under $tmp,
# removed with it.
mkdir -p "$tmp/files"
(cd console-tests && DAKA_CONSOLE_URL="$url" CHROMIUM_PATH="$chromium" DAKA_BIN="$daka_bin" \
  TMPDIR="$tmp/files" node_modules/.bin/playwright test "$@") || status=$?
exit "$status"
