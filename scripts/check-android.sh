#!/usr/bin/env bash
# What can be verified of the Android build without the Android SDK or Gradle:
#
#  1. the Android flavour of the Kotlin bindings is generated with android/uniffi-android.toml
#     (package hk.daka.sdk as in uniffi.toml, and the Android imports that `android = true` adds);
#  2. that generated Kotlin, the :daka module's hand-written Kotlin (Keystore key store,
#     Location.toFix, the process-wide device holder, the JobScheduler sync job and its
#     plain-Kotlin rules), the sample app (activity, model, location and Wi-Fi inputs) and every
#     ```kotlin block of README.md and docs/android.md (extracted by scripts/doc-snippets.py;
#     only blocks marked `<!-- snippet: not-compiled (reason) -->` are skipped) compile together
#     with warnings as errors against the Android 16 framework classes
#     (org.robolectric:android-all) with Maven + kotlin-maven-plugin;
#  3. the Gradle files and the manifests agree with the code: package names, the R8 keep rule
#     for the generated package, the ABI list of build-native.sh and both modules, the classes
#     the sample manifest names.
#
# Not verified here (needs Gradle + the Android SDK + NDK): the Gradle build itself, resources
# and manifest merging, Lint (API levels), R8, cargo-ndk cross-compilation, running on a device.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-android: $*" >&2; exit 1; }
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac

# 1. Android-flavoured bindings.
cargo build --locked -q -p daka-ffi --lib
lib="$target_dir/debug/libdaka_ffi.so"
[ "$(uname -s)" = Darwin ] && lib="$target_dir/debug/libdaka_ffi.dylib"
out="$target_dir/bindings-android/kotlin"
rm -rf "$out"
cargo run --locked -q -p daka-ffi --bin uniffi-bindgen -- generate --no-format \
  --config android/uniffi-android.toml --library "$lib" --language kotlin --out-dir "$out"
package="$(sed -n 's/^package_name = "\(.*\)"/\1/p' uniffi.toml | head -1)"
kt="$out/${package//.//}/daka.kt"
[ -f "$kt" ] || fail "no generated Kotlin for package $package ($kt)"
grep -qx "package $package" "$kt" || fail "generated Kotlin is not in package $package"
grep -qx 'import android.os.Build' "$kt" || fail "android/uniffi-android.toml was not applied (no Android imports)"
[ "$(sed -n 's/^package_name = "\(.*\)"/\1/p' android/uniffi-android.toml)" = "$package" ] \
  || fail "android/uniffi-android.toml and uniffi.toml name different packages"

# 2. Compile against the Android framework, with the docs' Kotlin snippets.
snippets="$target_dir/doc-snippets/kotlin"
rm -rf "$snippets"
snippet_summary="$(python3 scripts/doc-snippets.py kotlin "$snippets" README.md docs/android.md | tail -1)"
log="$target_dir/android-compile-check.log"
if ! (cd android/compile-check && mvn -B -Dstyle.color=never --no-transfer-progress \
    -Ddaka.android.bindings="$out" -Ddaka.doc.snippets="$snippets" clean compile) >"$log" 2>&1; then
  grep -E '^\[ERROR\]|^e: ' "$log" | head -40 || tail -40 "$log"
  fail "Android Kotlin does not compile; full log: $log"
fi
classes=android/compile-check/target/classes
android_all="$(sed -n 's:.*<android-all.version>\(.*\)</android-all.version>.*:\1:p' android/compile-check/pom.xml)"

# 3. Gradle files, R8 rules and manifests against the code.
grep -qF -- "-keep class ${package}.** { *; }" android/daka/consumer-rules.pro || fail "consumer-rules.pro does not keep $package"
grep -qF -- '-keep class com.sun.jna.** { *; }' android/daka/consumer-rules.pro || fail "consumer-rules.pro does not keep JNA"
grep -q 'net.java.dev.jna:jna:5\.[0-9.]*@aar' android/daka/build.gradle.kts || fail "JNA is not an @aar dependency"
abis="$(sed -n 's/^abis="\${ABIS:-\(.*\)}"$/\1/p' android/build-native.sh)"
[ -n "$abis" ] || fail "cannot read the ABI list of android/build-native.sh"
gradle_abis="\"${abis// /\", \"}\""
for module in daka sample; do
  grep -qF "abiFilters += listOf($gradle_abis)" "android/$module/build.gradle.kts" \
    || fail "android/$module/build.gradle.kts abiFilters differ from build-native.sh ($abis)"
done
grep -qF 'max-page-size=16384' android/build-native.sh || fail "build-native.sh lost the 16 KB page alignment"
daka_ns="$(sed -n 's/^ *namespace = "\(.*\)"/\1/p' android/daka/build.gradle.kts)"
for name in $(sed -n 's/.*android:name="\(hk\.daka\.[A-Za-z.]*\)".*/\1/p' android/daka/src/main/AndroidManifest.xml); do
  [ -f "$classes/${name//.//}.class" ] || fail "the :daka manifest names $name, which does not exist"
done
grep -q 'android.permission.BIND_JOB_SERVICE' android/daka/src/main/AndroidManifest.xml || fail "the sync job service is not protected by BIND_JOB_SERVICE"
[ "$daka_ns" = hk.daka.android ] || fail "unexpected :daka namespace $daka_ns"
# Wi-Fi scan results need location, not NEARBY_WIFI_DEVICES: neither the sample nor the guide asks for it.
if grep -q 'uses-permission android:name="android.permission.NEARBY_WIFI_DEVICES"' android/sample/src/main/AndroidManifest.xml docs/android.md; then
  fail "NEARBY_WIFI_DEVICES is requested, but Wi-Fi scan results do not need it"
fi
sample_ns="$(sed -n 's/^ *namespace = "\(.*\)"/\1/p' android/sample/build.gradle.kts)"
for name in $(sed -n 's/.*android:name="\.\([A-Za-z]*\)".*/\1/p' android/sample/src/main/AndroidManifest.xml); do
  [ -f "$classes/${sample_ns//.//}/$name.class" ] || fail "the sample manifest names $sample_ns.$name, which does not exist"
done
for perm in ACCESS_FINE_LOCATION ACCESS_WIFI_STATE CHANGE_WIFI_STATE INTERNET; do
  grep -q "android.permission.$perm\"" android/sample/src/main/AndroidManifest.xml || fail "the sample manifest lacks $perm"
done

own="$(find android/daka/src/main/kotlin android/daka/src/portable/kotlin android/sample/src/main/kotlin -name '*.kt' | wc -l)"
echo "Android: generated Kotlin ($package, android = true) + $own hand-written files (:daka, :sample) + docs' Kotlin snippets ($snippet_summary) compile with -Werror against android-all $android_all; R8 rules, ABIs ($abis), 16 KB alignment flag, manifest classes and permissions consistent (Gradle/SDK build not run here)"
