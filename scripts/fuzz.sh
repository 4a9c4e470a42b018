#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ and runs each for a bounded time (FUZZ_SECONDS,
# default 20 s), starting from the committed seeds (fuzz/corpus/, written by
# fuzz/seed-corpus.py) in a scratch copy, so what a run adds is not committed. Prints per
# target libFuzzer's final line (executions, coverage `cov`, features `ft`) and a last line
# `fuzz: N targets, M executions, K crashes`; exits 1 if any target crashed, with the input
# saved under target/fuzz-run/artifacts/. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
# cargo-fuzz passes nightly-only flags (-Z, -C passes=sancov-module); the stable toolchain
# takes them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# Release code with debug assertions and overflow checks; no sanitizer (the code under test
# is safe Rust: the targets look for panics, overflows and broken contracts; add
# `-s address` locally for unsafe dependencies).
flags=(-O -a -s none --codegen-units 16)

python3 fuzz/seed-corpus.py >/dev/null
cargo fuzz build "${flags[@]}"

work="${CARGO_TARGET_DIR:-target}/fuzz-run"
mkdir -p "$work"
targets="$(cargo fuzz list)"
n=0 executions=0 crashes=0
for t in $targets; do
  n=$((n + 1))
  corpus="$work/corpus/$t"
  mkdir -p "$corpus" "$work/artifacts/$t"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  log="$work/$t.log"
  status=ok
  if ! cargo fuzz run "${flags[@]}" "$t" "$corpus" -- \
      -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/artifacts/$t/" >"$log" 2>&1; then
    status=CRASH
    crashes=$((crashes + 1))
  fi
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
  runs="$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$log" | tail -1)"
  runs="${runs:-0}"
  executions=$((executions + runs))
  if [ "$status" = ok ]; then
    printf '%-18s %s\n' "$t" "${done_line:-no DONE line}"
  else
    printf '%-18s CRASH after %s executions; input: %s\n' "$t" "$runs" \
      "$(ls -1 "$work/artifacts/$t"/* 2>/dev/null | head -1)"
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | head -5 | sed 's/^/    /'
  fi
done
echo "fuzz: $n targets, $executions executions, $crashes crashes"
[ "$crashes" -eq 0 ]
