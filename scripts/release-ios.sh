#!/usr/bin/env bash
# Cuts the iOS part of a release: zips the XCFramework, computes its checksum and writes the
# URL and checksum of the binary target into the root Package.swift (the package apps use by
# URL). Then commit Package.swift, tag the commit with VERSION and attach the zip to the
# release under that tag.
#
#   bash ios/build-xcframework.sh                 # on a Mac: ios/DakaFFI.xcframework
#   bash scripts/release-ios.sh 0.2.0             # writes target/release-ios/DakaFFI.xcframework.zip
#
# The checksum is the SHA-256 of the zip, the same value `swift package compute-checksum`
# prints (SwiftPM checks downloads against it); computed with shasum -a 256 or sha256sum so
# that no Swift toolchain is needed. Environment, for tests of this script: XCFRAMEWORK (the
# framework to zip), PACKAGE_SWIFT (the manifest to update), OUT_DIR, URL_BASE.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "release-ios.sh: version must look like 1.2.3 (got '$version')" >&2; exit 2; }
xcframework="${XCFRAMEWORK:-ios/DakaFFI.xcframework}"
package_swift="${PACKAGE_SWIFT:-Package.swift}"
out_dir="${OUT_DIR:-${CARGO_TARGET_DIR:-target}/release-ios}"
url_base="${URL_BASE:-https://github.com/daka-sdk/daka/releases/download}"
[ -f "$xcframework/Info.plist" ] || { echo "release-ios.sh: no XCFramework at $xcframework (run ios/build-xcframework.sh on a Mac)" >&2; exit 1; }
grep -q '\.binaryTarget(' "$package_swift" || { echo "release-ios.sh: $package_swift has no binary target" >&2; exit 1; }

mkdir -p "$out_dir"
zip_path="$(cd "$out_dir" && pwd)/DakaFFI.xcframework.zip"
rm -f "$zip_path"
# The zip must hold DakaFFI.xcframework/ at its top level; -X leaves out extra attributes.
(cd "$(dirname "$xcframework")" && zip -qrX "$zip_path" "$(basename "$xcframework")")
if command -v shasum >/dev/null 2>&1; then
  checksum="$(shasum -a 256 "$zip_path" | cut -d' ' -f1)"
else
  checksum="$(sha256sum "$zip_path" | cut -d' ' -f1)"
fi
url="$url_base/$version/DakaFFI.xcframework.zip"

python3 - "$package_swift" "$url" "$checksum" <<'PY'
import re, sys
path, url, checksum = sys.argv[1:]
text = open(path).read()
new, n = re.subn(r'(\.binaryTarget\(\s*name: "DakaFFI",\s*url: )"[^"]*"(,\s*checksum: )"[^"]*"',
                 lambda m: f'{m.group(1)}"{url}"{m.group(2)}"{checksum}"', text)
if n != 1:
    sys.exit(f"release-ios.sh: expected one DakaFFI binary target with url and checksum in {path}, found {n}")
open(path, "w").write(new)
PY
echo "release-ios.sh: $zip_path ($(stat -c %s "$zip_path" 2>/dev/null || stat -f %z "$zip_path") bytes), sha256 $checksum; $package_swift points at $url"
