#!/usr/bin/env bash
# Builds ios/DakaFFI.xcframework and the generated Swift (ios/Sources/DakaSDK/DakaSDK.swift) on a
# Mac with Xcode. Names come from ../uniffi.toml: Swift module DakaSDK, C module DakaFFI.
#
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
#   bash ios/build-xcframework.sh
#
# The library is the static archive (crate-type staticlib) built with the release-ffi profile;
# the two simulator slices (Apple silicon and Intel) are merged with lipo, because an
# XCFramework holds one library per platform variant.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(uname -s)" = Darwin ] || { echo "build-xcframework.sh needs macOS with Xcode" >&2; exit 1; }
target_dir="${CARGO_TARGET_DIR:-target}"
profile=release-ffi
ffi_module=DakaFFI   # ffi_module_name in uniffi.toml
swift_module=DakaSDK # module_name in uniffi.toml
build=ios/build
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-15.0}" # as in Package.swift

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  cargo build --locked --profile "$profile" -p daka-ffi --lib --no-default-features --target "$target"
done

rm -rf "$build" ios/DakaFFI.xcframework
mkdir -p "$build/sim" "$build/headers" "$build/swift"
lipo -create \
  "$target_dir/aarch64-apple-ios-sim/$profile/libdaka_ffi.a" \
  "$target_dir/x86_64-apple-ios/$profile/libdaka_ffi.a" \
  -output "$build/sim/libdaka_ffi.a"

# Bindings from an unstripped host build (the metadata lives in its symbols).
cargo build --locked -q -p daka-ffi --lib
cargo run --locked -q -p daka-ffi --bin uniffi-bindgen -- generate --no-format \
  --config uniffi.toml --library "$target_dir/debug/libdaka_ffi.dylib" --language swift \
  --out-dir "$build/swift"
cp "$build/swift/$ffi_module.h" "$build/headers/"
# Inside an XCFramework the module map must be called module.modulemap.
cp "$build/swift/$ffi_module.modulemap" "$build/headers/module.modulemap"
cp "$build/swift/$swift_module.swift" "ios/Sources/$swift_module/$swift_module.swift"

xcodebuild -create-xcframework \
  -library "$target_dir/aarch64-apple-ios/$profile/libdaka_ffi.a" -headers "$build/headers" \
  -library "$build/sim/libdaka_ffi.a" -headers "$build/headers" \
  -output "ios/$ffi_module.xcframework"

echo "built ios/$ffi_module.xcframework and ios/Sources/$swift_module/$swift_module.swift"
