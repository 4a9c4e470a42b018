#!/usr/bin/env bash
# The FFI cost benchmark: the same location check (`checkLocation` / `Device::preview`) from
# Kotlin through the generated bindings and from Rust directly, back to back on the same device
# database, both on the shipping build of the library (profile release-ffi).
#
#   bash scripts/ffi-bench.sh        # prints µs per call and the ratio; writes target/ffi-bench/
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
out="$root/target/ffi-bench"

bash scripts/bindings.sh >/dev/null            # generated Kotlin + the `daka` server binary
cargo rustc --locked -q --profile release-ffi -p daka-ffi --lib --no-default-features --crate-type cdylib
rm -rf "$out" && mkdir -p "$out"

# Kotlin first: it enrols the device the Rust half then reuses.
(cd android/jvm-tests && mvn -B -q -Dstyle.color=never test -Dtest=FfiCostBenchmark \
    -Ddaka.native.dir="$root/target/release-ffi" \
    -Ddaka.bench.db="$out/device.db" -Ddaka.bench.out="$out/kotlin.txt")
DAKA_BENCH_DB="$out/device.db" DAKA_BENCH_OUT="$out/rust.txt" \
  cargo bench --locked -q --profile release-ffi -p daka-ffi --no-default-features --bench ffi_cost

# shellcheck disable=SC1090
. "$out/kotlin.txt"; . "$out/rust.txt"
awk -v k="$kotlin_ffi_us" -v c="$rust_core_us" -v w="$rust_wrapper_us" \
    -v kp="$kotlin_public_key_us" -v rp="$rust_public_key_us" 'BEGIN {
  printf "\n| call | µs per call | × Device::preview |\n|---|---:|---:|\n"
  printf "| Rust `Device::preview` (daka-core) | %.2f | 1.00 |\n", c
  printf "| Rust `DakaDevice::check_location` (daka-ffi, no FFI) | %.2f | %.2f |\n", w, w / c
  printf "| Kotlin `checkLocation` (generated bindings, JNA) | %.2f | %.2f |\n", k, k / c
  printf "\nFFI cost of checkLocation: %.2f µs per call (Kotlin minus the Rust wrapper)\n", k - w
  printf "Smallest call, publicKey(): Kotlin %.2f µs, Rust %.2f µs\n", kp, rp
}' | tee "$out/summary.md"
