#!/usr/bin/env bash
# Builds the daka-ffi library (debug, unstripped: the binding metadata lives in its symbols)
# and generates the Kotlin, Swift and Python bindings into target/bindings/{kotlin,swift,python}
# with the names from uniffi.toml. Also builds the `daka` program the JVM tests run as server.
#
#   bash scripts/bindings.sh            # debug library (what the JVM tests load)
#   PROFILE=release bash scripts/bindings.sh
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PROFILE:-debug}"
profile_flag=()
[ "$profile" = debug ] || profile_flag=(--profile "$profile")

cargo build --locked -q "${profile_flag[@]}" -p daka-ffi --lib -p daka-cli --bin daka
case "$(uname -s)" in
  Darwin) lib="${CARGO_TARGET_DIR:-target}/$profile/libdaka_ffi.dylib" ;;
  *) lib="${CARGO_TARGET_DIR:-target}/$profile/libdaka_ffi.so" ;;
esac

out=target/bindings
rm -rf "$out"
for lang in kotlin swift python; do
  cargo run --locked -q -p daka-ffi --bin uniffi-bindgen -- generate --no-format \
    --config uniffi.toml --library "$lib" --language "$lang" --out-dir "$out/$lang" >/dev/null
done

# UniFFI ignores a misconfigured uniffi.toml with a mere warning: check the names it produced
# (bindings/tests/generated_bindings.rs checks the names and the full method list).
test -f "$out/kotlin/hk/daka/sdk/daka.kt" || { echo "bindings.sh: no Kotlin package hk.daka.sdk" >&2; exit 1; }
grep -qx 'package hk.daka.sdk' "$out/kotlin/hk/daka/sdk/daka.kt"
test -f "$out/swift/DakaSDK.swift" && test -f "$out/swift/DakaFFI.h" && test -f "$out/swift/DakaFFI.modulemap"
test -f "$out/python/daka.py"
echo "bindings: $out/kotlin (hk.daka.sdk), $out/swift (DakaSDK + DakaFFI), $out/python (daka) from $lib"
