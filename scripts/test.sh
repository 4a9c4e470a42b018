#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test in the workspace.
# Safe on a fresh machine: it installs what it needs and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain components"
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/cargo-test.log
# One total over every test binary, after cargo's own per-binary summaries.
awk '/^test result:/ { p += $4; f += $6 } END { printf "\nall Rust tests: %d passed, %d failed\n", p, f }' target/cargo-test.log
