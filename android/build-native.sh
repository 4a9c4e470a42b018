#!/usr/bin/env bash
# Builds what the :daka Gradle module packages, on a machine with the Android NDK:
#
#   * libdaka_ffi.so for arm64-v8a, armeabi-v7a and x86_64 (profile release-ffi, 16 KB page
#     alignment as Google Play requires for Android 15+ devices) into
#     android/daka/build/generated/jniLibs/<abi>/, via cargo-ndk;
#   * the Kotlin bindings in their Android flavour (android/uniffi-android.toml) into
#     android/daka/build/generated/uniffi/kotlin/.
#
# Needs: rustup targets aarch64-linux-android armv7-linux-androideabi x86_64-linux-android,
# `cargo install cargo-ndk`, and ANDROID_NDK_HOME (or ANDROID_HOME with an NDK r26+ installed).
#
#   bash android/build-native.sh                 # all three ABIs
#   ABIS="arm64-v8a" bash android/build-native.sh
set -euo pipefail
cd "$(dirname "$0")/.."

abis="${ABIS:-arm64-v8a armeabi-v7a x86_64}"
min_sdk="${MIN_SDK:-26}" # keep equal to minSdk in android/daka/build.gradle.kts
out=android/daka/build/generated
target_dir="${CARGO_TARGET_DIR:-target}"

command -v cargo-ndk >/dev/null || { echo "cargo-ndk missing: cargo install cargo-ndk" >&2; exit 1; }

targets=()
for abi in $abis; do targets+=(-t "$abi"); done

# 16 KB pages: every LOAD segment aligned to 16384 (NDK r28+ does it by default; older NDKs
# need the flag, and it is harmless on 4 KB devices). The size flags are scripts/test.sh's
# (identical code folded, strings merged), with relocations packed in Android's own format,
# which the loader reads from API 23 (RELR needs API 28, above our minSdk).
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384 -C link-arg=-Wl,--icf=all -C link-arg=-Wl,-O2 -C link-arg=-Wl,--pack-dyn-relocs=android"
rm -rf "$out/jniLibs"
cargo ndk "${targets[@]}" --platform "$min_sdk" -o "$out/jniLibs" \
  build --locked --profile release-ffi -p daka-ffi --lib --no-default-features

# Check the alignment of what was built, when a readelf is at hand.
readelf_bin="$(command -v llvm-readelf || command -v readelf || true)"
if [ -n "$readelf_bin" ]; then
  for so in "$out"/jniLibs/*/libdaka_ffi.so; do
    while read -r align; do
      if (( align < 16384 )); then
        echo "$so has a LOAD segment aligned to $align bytes, not 16 KB" >&2
        exit 1
      fi
    done < <("$readelf_bin" -lW "$so" | awk '$1 == "LOAD" { print $NF }')
    echo "16 KB aligned: $so"
  done
fi

# Bindings come from an unstripped host build of the same sources (the metadata is in its
# symbols and does not depend on the target).
cargo build --locked -q -p daka-ffi --lib
case "$(uname -s)" in
  Darwin) host_lib="$target_dir/debug/libdaka_ffi.dylib" ;;
  *) host_lib="$target_dir/debug/libdaka_ffi.so" ;;
esac
rm -rf "$out/uniffi/kotlin"
cargo run --locked -q -p daka-ffi --bin uniffi-bindgen -- generate --no-format \
  --config android/uniffi-android.toml --library "$host_lib" --language kotlin \
  --out-dir "$out/uniffi/kotlin"
grep -q '^import android.os.Build' "$out/uniffi/kotlin/hk/daka/sdk/daka.kt" \
  || { echo "the Android configuration was not applied (no android.os.Build import)" >&2; exit 1; }

echo "native libraries: $(ls "$out"/jniLibs/*/libdaka_ffi.so | tr '\n' ' ')"
echo "Kotlin bindings (Android): $out/uniffi/kotlin/hk/daka/sdk/daka.kt"
