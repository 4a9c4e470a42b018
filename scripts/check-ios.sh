#!/usr/bin/env bash
# What can be verified of the iOS package without a Swift compiler:
#
#  1. the Swift bindings, C header and modulemap are generated with uniffi.toml, under the names
#     it configures (Swift module, C module, file names), and the Swift file imports the C module;
#  2. every method and constructor of DakaDevice in the Rust `#[uniffi::export]` impl
#     (bindings/src/device.rs) is in the Swift file and its C function in the header, and every
#     exported record, enum, error and foreign trait is a Swift type;
#  3. the root Package.swift uses those module names (the released binary target by URL with a
#     SHA-256 checksum, or ios/DakaFFI.xcframework when build-xcframework.sh built one; the
#     sources under ios/Sources, the privacy manifest as a resource, DakaSDKTesting); the committed
#     generated Swift (ios/Sources/DakaSDK/DakaSDK.swift) is exactly what this library
#     generates; build-xcframework.sh uses the module names; scripts/release-ios.sh, run on a
#     stand-in XCFramework, writes the zip's SHA-256 and URL into a copy of Package.swift;
#  4. PrivacyInfo.xcprivacy is a valid property list declaring the required-reason API
#     categories daka uses (file timestamp C617.1, disk space E174.1, system boot time 35F9.1)
#     and no tracking;
#  5. the hand-written Swift (ios/Sources, ios/Sample) and the ```swift blocks of docs/ios.md
#     use only names that exist: DakaDevice methods called on `device`, DakaError cases, record
#     initialiser labels (in order), and every other type and member name is either declared in
#     the generated or hand-written Swift (for the docs also in scripts/doc-context.swift, the
#     app-side names the snippets assume) or listed below as an Apple SDK name;
#  6. FakeDakaDevice (DakaSDKTesting) implements every requirement of the generated
#     DakaDeviceProtocol with the same signature, and its DakaCall lists exactly those methods.
#
# Not verified here: that anything compiles, links or runs (needs Xcode on macOS).
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --locked -q -p daka-ffi --lib
lib="$target_dir/debug/libdaka_ffi.so"
[ "$(uname -s)" = Darwin ] && lib="$target_dir/debug/libdaka_ffi.dylib"
out="$target_dir/bindings-ios/swift"
rm -rf "$out"
cargo run --locked -q -p daka-ffi --bin uniffi-bindgen -- generate --no-format \
  --config uniffi.toml --library "$lib" --language swift --out-dir "$out"

snippets="$target_dir/doc-snippets/swift"
rm -rf "$snippets"
python3 scripts/doc-snippets.py swift "$snippets" docs/ios.md >/dev/null

# The release script on a stand-in XCFramework and a copy of the manifest.
release_tmp="$(mktemp -d)"
trap 'rm -rf "$release_tmp"' EXIT
mkdir -p "$release_tmp/DakaFFI.xcframework"
printf '<plist version="1.0"><dict/></plist>\n' >"$release_tmp/DakaFFI.xcframework/Info.plist"
cp Package.swift "$release_tmp/Package.swift"
XCFRAMEWORK="$release_tmp/DakaFFI.xcframework" PACKAGE_SWIFT="$release_tmp/Package.swift" OUT_DIR="$release_tmp/out" \
  bash scripts/release-ios.sh 9.8.7 >/dev/null

python3 - "$out" "$snippets" "$release_tmp" <<'PY'
import pathlib, re, sys

out = pathlib.Path(sys.argv[1])
snippet_dir = pathlib.Path(sys.argv[2])
release_tmp = pathlib.Path(sys.argv[3])
errors = []
def fail(msg): errors.append(msg)

# 1. Names from uniffi.toml.
toml = pathlib.Path("uniffi.toml").read_text()
swift_section = toml.split("[crates.daka_ffi.bindings.swift]")[1].split("\n[")[0]
conf = dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', swift_section, re.M))
module, ffi, ffi_file = conf["module_name"], conf["ffi_module_name"], conf["ffi_module_filename"]
swift_path, header_path, modmap_path = out / f"{module}.swift", out / f"{ffi_file}.h", out / f"{ffi_file}.modulemap"
for p in (swift_path, header_path, modmap_path):
    if not p.is_file(): fail(f"missing generated file {p}")
if errors: sys.exit("\n".join(errors))
swift, header, modmap = swift_path.read_text(), header_path.read_text(), modmap_path.read_text()
if not re.search(rf'^module {ffi} \{{', modmap, re.M): fail(f"modulemap does not declare module {ffi}")
if f'header "{ffi_file}.h"' not in modmap: fail(f"modulemap does not name {ffi_file}.h")
if f"import {ffi}" not in swift: fail(f"{module}.swift does not import {ffi}")

# 2. The Rust export list against the Swift and the header.
def snake_to_camel(s):
    head, *rest = s.split("_")
    return head + "".join(w.capitalize() for w in rest)
methods, constructors = [], []
for source in ("bindings/src/device.rs", "bindings/src/approvals.rs"):
    text = pathlib.Path(source).read_text()
    m = re.search(r'#\[uniffi::export[^\]]*\]\s*impl DakaDevice \{(.*?)\n\}', text, re.S)
    if not m: sys.exit(f"cannot find the exported impl DakaDevice in {source}")
    for ctor, name in re.findall(r'(#\[uniffi::constructor\]\s*)?pub (?:async )?fn (\w+)', m.group(1)):
        (constructors if ctor else methods).append(name)
if len(methods) < 10 or not constructors: fail(f"implausible export list: {methods} {constructors}")
for name in methods:
    if not re.search(rf'\bopen func `?{snake_to_camel(name)}`?\(', swift): fail(f"DakaDevice.{name}: no Swift method {snake_to_camel(name)}")
    if f"uniffi_daka_ffi_fn_method_dakadevice_{name}(" not in header: fail(f"DakaDevice.{name}: not in {ffi_file}.h")
for name in constructors:
    if not re.search(rf'public static func `?{snake_to_camel(name)}`?\(', swift): fail(f"DakaDevice.{name}: no Swift constructor")
    if f"uniffi_daka_ffi_fn_constructor_dakadevice_{name}(" not in header: fail(f"constructor {name}: not in {ffi_file}.h")
rust_types = set()
for f in pathlib.Path("bindings/src").glob("*.rs"):
    src = f.read_text()
    rust_types |= set(re.findall(r'derive\([^)]*uniffi::(?:Record|Enum|Object|Error)[^)]*\)\]\s*(?:#\[[^\]]*\]\s*)*pub (?:struct|enum) (\w+)', src))
    rust_types |= set(re.findall(r'#\[uniffi::export\(foreign\)\]\s*pub trait (\w+)', src))
if len(rust_types) < 15: fail(f"implausible exported type list: {sorted(rust_types)}")
for t in sorted(rust_types):
    if not re.search(rf'^(?:public|open)\s+(?:struct|enum|class|protocol) {t}\b', swift, re.M): fail(f"exported type {t} is not in {module}.swift")

# 3. The package, committed bindings, build and release scripts.
root_pkg = pathlib.Path("Package.swift").read_text()
if f'.binaryTarget(name: "{ffi}", path: "ios/{ffi}.xcframework")' not in root_pkg:
    fail(f"Package.swift: no local binary target {ffi} at ios/{ffi}.xcframework (what build-xcframework.sh builds)")
if not re.search(rf'\.target\(\s*name: "{module}",\s*dependencies: \["{ffi}"\],\s*path: "ios/Sources/{module}",\s*resources: \[\.copy\("PrivacyInfo\.xcprivacy"\)\]', root_pkg):
    fail(f"Package.swift: no target {module} at ios/Sources/{module} depending on {ffi} with the privacy manifest")
if not re.search(rf'\.target\(\s*name: "{module}Testing",\s*dependencies: \["{module}"\],\s*path: "ios/Sources/{module}Testing"', root_pkg):
    fail(f"Package.swift: no target {module}Testing")
if f'.library(name: "{module}Testing", targets: ["{module}Testing"])' not in root_pkg: fail(f"Package.swift: no product {module}Testing")
if not re.search(rf'\.binaryTarget\(\s*name: "{ffi}",\s*url: "https://[^"]+/{ffi}\.xcframework\.zip",\s*checksum: "[0-9a-f]{{64}}"\s*\)', root_pkg):
    fail(f"Package.swift: the released binary target {ffi} needs an https URL of {ffi}.xcframework.zip and a 64-hex checksum")
committed = pathlib.Path(f"ios/Sources/{module}/{module}.swift")
if not committed.is_file() or committed.read_text() != swift:
    fail(f"{committed} differs from the Swift this library generates: copy {swift_path} there (ios/build-xcframework.sh does)")
import hashlib
released = (release_tmp / "Package.swift").read_text()
zip_sha = hashlib.sha256((release_tmp / "out" / f"{ffi}.xcframework.zip").read_bytes()).hexdigest()
if not re.search(rf'url: "https://github\.com/daka-sdk/daka/releases/download/9\.8\.7/{ffi}\.xcframework\.zip",\s*checksum: "{zip_sha}"', released):
    fail("release-ios.sh did not write the zip's URL and SHA-256 into Package.swift")
build = pathlib.Path("ios/build-xcframework.sh").read_text()
for needle in (f"ffi_module={ffi}", f"swift_module={module}", "aarch64-apple-ios ", "aarch64-apple-ios-sim", "x86_64-apple-ios",
               "lipo -create", "xcodebuild -create-xcframework", "module.modulemap"):
    if needle not in build: fail(f"build-xcframework.sh lacks {needle!r}")

# 4. The privacy manifest.
import plistlib
privacy = plistlib.loads(pathlib.Path(f"ios/Sources/{module}/PrivacyInfo.xcprivacy").read_bytes())
declared_reasons = {d["NSPrivacyAccessedAPIType"]: d["NSPrivacyAccessedAPITypeReasons"] for d in privacy.get("NSPrivacyAccessedAPITypes", [])}
for category, reason in (("FileTimestamp", "C617.1"), ("DiskSpace", "E174.1"), ("SystemBootTime", "35F9.1")):
    if reason not in declared_reasons.get(f"NSPrivacyAccessedAPICategory{category}", []):
        fail(f"PrivacyInfo.xcprivacy: {category} lacks reason {reason}")
if privacy.get("NSPrivacyTracking") is not False: fail("PrivacyInfo.xcprivacy: NSPrivacyTracking must be false")

# 5. Hand-written Swift and the docs' snippets against the generated names.
def code_only(text):
    """Drops comments and string literals (keeping string interpolations), in one pass."""
    res, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            i = text.find("*/", i)
            i = n if i < 0 else i + 2
        elif text[i] == '"':
            i += 1
            while i < n and text[i] != '"':
                if text.startswith('\\(', i):
                    depth, i = 1, i + 2
                    res.append(' (')
                    while i < n and depth:
                        depth += {'(': 1, ')': -1}.get(text[i], 0)
                        if depth: res.append(text[i])
                        i += 1
                    res.append(') ')
                else:
                    i += 2 if text[i] == '\\' else 1
            i += 1
            res.append(' "" ')
        else:
            res.append(text[i])
            i += 1
    return "".join(res)

generated_code = code_only(swift)
generated_names = set(re.findall(r'\b(?:func|var|let|case|class|struct|enum|protocol|typealias)\s+`?(\w+)', generated_code))
generated_names |= set(re.findall(r'(\w+):', generated_code))  # parameter labels
device_methods = {snake_to_camel(n) for n in methods + constructors}
error_enum = re.search(r'^public\s+enum DakaError\b(.*?)^\}', swift, re.M | re.S)
error_cases = set(re.findall(r'^    case (\w+)', error_enum.group(1), re.M)) if error_enum else set()
if len(error_cases) < 5: fail(f"cannot read the DakaError cases from {module}.swift")
records = {}
for name, body in re.findall(r'^public struct (\w+)[^{]*\{(.*?)^\}', swift, re.M | re.S):
    records[name] = re.findall(r'^    public (?:var|let) (\w+):', body, re.M)

# Apple SDK and Swift names the hand-written code uses (extend when it uses more).
apple = set("""
App Any AnyObject Array Bool Button CFData CFDictionary CFError CFString CFTypeRef CLLocation
CLLocationManager CLLocationManagerDelegate CoreLocation CryptoKit DakaSampleApp Data Error
FileManager Form Foundation Int64 MainActor NEHotspotNetwork NSObject NetworkExtension
ObservableObject ObservedObject Published Scene SecAccessControlCreateWithFlags SecItemCopyMatching
SecItemDelete SecKey SecKeyAlgorithm SecKeyCopyPublicKey SecKeyCreateDecryptedData
SecKeyCreateEncryptedData SecKeyCreateRandomKey SecureEnclave Section Security State StateObject
String SwiftUI Task Text TextField UIDevice UIKit UInt64 Unmanaged View WindowGroup Sendable
appendingPathComponent applicationSupportDirectory bssid coordinate current desiredAccuracy
delegate disabled eciesEncryptionCofactorVariableIVX963SHA256AESGCM flatMap foregroundStyle
horizontalAccuracy isAvailable isEmpty isSimulatedBySoftware joined last latitude
localizedDescription longitude map never path privateKeyUsage red requestWhenInUseAuthorization
resume rounded sourceInformation startUpdatingLocation task textInputAutocapitalization
timeIntervalSince1970 timestamp url userDomainMask takeRetainedValue default init
fetchCurrent withCheckedContinuation
Date Decimal ForEach HStack ISO8601DateFormatter NSDecimalNumber NavigationLink NavigationStack
PhotosPicker PhotosPickerItem PhotosUI VStack decimalPad images int64Value keyboardType leading
loadTransferable onChange prefix self withFullDate
BGAppRefreshTask BGAppRefreshTaskRequest BGTask BGTaskScheduler BackgroundTasks CaseIterable
CustomStringConvertible Int32 NSLock TimeInterval UInt32 URLResourceValues append cancel contains
createDirectory detached earliestBeginDate expirationHandler isExcludedFromBackup removeFirst
setResourceValues setTaskCompleted shared unlock
SHA256 base64EncodedString hash replacingOccurrences
DCAppAttestService DeviceCheck attestKey generateKey
""".split())

hand = sorted(p for p in pathlib.Path("ios").rglob("*.swift")
              if p.name != f"{module}.swift" and "/build/" not in str(p) and p.name != "Package.swift")
hand_code = {p: code_only(p.read_text()) for p in hand}
declared = set()
for code in hand_code.values():
    declared |= set(re.findall(r'\b(?:func|var|let|class|struct|enum|protocol|case)\s+`?(\w+)', code))
    declared |= set(re.findall(r'\b(?:let|var|case let|if let|guard let)\s+\.?\w*\(?(\w+)', code))
    declared |= set(re.findall(r'(\w+)\s*(?:in\b|:)', code))
    declared |= set(re.findall(r'[\[,]\s*(?:weak\s+)?(\w+)\s*\]\s*in', code))
known = generated_names | declared | apple | {module, f"{module}Testing", ffi, "Self", "Void", "utf8"}

def balanced(code, start):
    depth = 0
    for j in range(start, len(code)):
        depth += {'(': 1, ')': -1}.get(code[j], 0)
        if depth == 0: return code[start + 1:j]
    return ""

def check_names(files, known):
  for p, code in files.items():
    for name in re.findall(r'\bdevice(?:\?)?\.(\w+)\(', code) + re.findall(r'\bDakaDevice\.(\w+)\(', code):
        if name not in device_methods: fail(f"{p}: DakaDevice has no method {name}")
    for name in re.findall(r'\bDakaError\.(\w+)', code):
        if name not in error_cases: fail(f"{p}: DakaError has no case {name}")
    for name in re.findall(r'case (?:let )?\.([A-Z]\w*)', code):
        if name not in error_cases: fail(f"{p}: DakaError has no case {name}")
    for record, fields in records.items():
        for mm in re.finditer(rf'\b{record}\(', code):
            args = balanced(code, mm.end() - 1)
            flat, depth = [], 0
            for ch in args:
                depth += {'(': 1, ')': -1, '[': 1, ']': -1}.get(ch, 0)
                flat.append(ch if depth == 0 or ch in '()[]' else ' ')
            labels = re.findall(r'(?:^|,)\s*(\w+):', "".join(flat))
            if labels and [f for f in fields if f in labels] != labels:
                fail(f"{p}: {record}({', '.join(l + ':' for l in labels)}) does not match its fields {fields}")
    for name in set(re.findall(r'(?<![\w.])\.(\w+)|\w\.(\w+)', code)):
        for n in name:
            if n and not n.isdigit() and n not in known: fail(f"{p}: unknown member .{n}")
    for name in set(re.findall(r'\b([A-Z]\w+)\b', code)):
        if name not in known: fail(f"{p}: unknown type or name {name}")

check_names(hand_code, known)

snippet_files = sorted(snippet_dir.glob("*.swift"))
if len(snippet_files) < 5: fail(f"only {len(snippet_files)} Swift snippets extracted from docs/ios.md")
context_code = code_only(pathlib.Path("scripts/doc-context.swift").read_text())
snippet_code = {p: code_only(p.read_text()) for p in snippet_files}
doc_declared = set(re.findall(r'\b(?:func|var|let|class|struct|enum|protocol|case)\s+`?(\w+)', context_code))
doc_declared |= set(re.findall(r'(\w+)\s*(?:in\b|:)', context_code))
for code in snippet_code.values():
    doc_declared |= set(re.findall(r'\b(?:func|var|let|class|struct|enum|protocol|case)\s+`?(\w+)', code))
    doc_declared |= set(re.findall(r'\b(?:let|var|case let|if let|guard let)\s+\.?\w*\(?(\w+)', code))
    doc_declared |= set(re.findall(r'(\w+)\s*(?:in\b|:)', code))
check_names(snippet_code, known | doc_declared)

# 6. FakeDakaDevice against the generated protocol.
proto = re.search(r'^public protocol DakaDeviceProtocol\b[^{]*\{(.*?)^\}', swift, re.M | re.S)
requirements = [" ".join(r.split()) for r in re.findall(r'^\s*(func \w+\(.*?\)[^\n]*)$', proto.group(1), re.M)] if proto else []
if len(requirements) < 20: fail(f"cannot read DakaDeviceProtocol's requirements ({len(requirements)})")
fake_path = pathlib.Path(f"ios/Sources/{module}Testing/FakeDakaDevice.swift")
fake = " ".join(fake_path.read_text().split())
for req in requirements:
    want = "public " + req.replace("( ", "(").replace(" )", ")")
    if want + " {" not in fake.replace(" ->", " ->"):
        fail(f"{fake_path}: no `{want}`")
fake_calls = set(re.findall(r'case ([\w, ]+)', re.search(r'enum DakaCall\b.*?\{(.*?)\n\}', fake_path.read_text(), re.S).group(1)))
fake_calls = {c.strip() for group in fake_calls for c in group.split(",")}
proto_methods = {re.match(r'func (\w+)', r).group(1) for r in requirements}
if fake_calls != proto_methods: fail(f"DakaCall differs from DakaDeviceProtocol: {sorted(fake_calls ^ proto_methods)}")

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"iOS: {module}.swift + {ffi_file}.h + {ffi_file}.modulemap generated with uniffi.toml's names; "
      f"{len(methods)} DakaDevice methods + {len(constructors)} constructors and {len(rust_types)} exported types "
      f"from bindings/src present in Swift and header; Package.swift and build-xcframework.sh agree; "
      f"root Package.swift by URL with checksum (release script checked), committed bindings current, privacy manifest declared; "
      f"{len(hand)} hand-written Swift files and {len(snippet_files)} docs/ios.md snippets use only generated or declared names; "
      f"FakeDakaDevice implements all {len(requirements)} DakaDeviceProtocol requirements (not compiled: no Swift toolchain here)")
PY
