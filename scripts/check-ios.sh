#!/usr/bin/env bash
# What can be verified of the iOS package without a Swift compiler:
#
#  1. the Swift bindings, C header and modulemap are generated with uniffi.toml, under the names
#     it configures (Swift module, C module, file names), and the Swift file imports the C module;
#  2. every method and constructor of DakaDevice in the Rust `#[uniffi::export]` impl
#     (bindings/src/device.rs) is in the Swift file and its C function in the header, and every
#     exported record, enum, error and foreign trait is a Swift type;
#  3. Package.swift and build-xcframework.sh use those module names;
#  4. the hand-written Swift (ios/Sources, ios/Sample) uses only names that exist: DakaDevice
#     methods called on `device`, DakaError cases, record initialiser labels (in order), and
#     every other type and member name is either declared in the generated or hand-written
#     Swift or listed below as an Apple SDK name.
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

python3 - "$out" <<'PY'
import pathlib, re, sys

out = pathlib.Path(sys.argv[1])
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

# 3. Package and build script.
pkg = pathlib.Path("ios/Package.swift").read_text()
if f'.binaryTarget(name: "{ffi}", path: "{ffi}.xcframework")' not in pkg: fail(f"Package.swift: no binary target {ffi}")
if not re.search(rf'\.target\(\s*name: "{module}",\s*dependencies: \["{ffi}"\]', pkg): fail(f"Package.swift: no target {module} depending on {ffi}")
build = pathlib.Path("ios/build-xcframework.sh").read_text()
for needle in (f"ffi_module={ffi}", f"swift_module={module}", "aarch64-apple-ios ", "aarch64-apple-ios-sim", "x86_64-apple-ios",
               "lipo -create", "xcodebuild -create-xcframework", "module.modulemap"):
    if needle not in build: fail(f"build-xcframework.sh lacks {needle!r}")

# 4. Hand-written Swift against the generated names.
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
known = generated_names | declared | apple | {module, ffi, "Self", "Void", "utf8"}

def balanced(code, start):
    depth = 0
    for j in range(start, len(code)):
        depth += {'(': 1, ')': -1}.get(code[j], 0)
        if depth == 0: return code[start + 1:j]
    return ""

for p, code in hand_code.items():
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

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"iOS: {module}.swift + {ffi_file}.h + {ffi_file}.modulemap generated with uniffi.toml's names; "
      f"{len(methods)} DakaDevice methods + {len(constructors)} constructors and {len(rust_types)} exported types "
      f"from bindings/src present in Swift and header; Package.swift and build-xcframework.sh agree; "
      f"{len(hand)} hand-written Swift files use only generated or declared names (not compiled: no Swift toolchain here)")
PY
