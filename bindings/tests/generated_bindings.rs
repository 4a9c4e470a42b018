//! The generated bindings carry the configured names and every exported method.
//!
//! Runs the crate's own `uniffi-bindgen` on the library cargo just built, with the top-level
//! `uniffi.toml`, exactly as `scripts/bindings.sh` does, and checks that
//!
//! * the configuration is read: the Kotlin package, the Swift module and its C module are the
//!   names `uniffi.toml` gives (UniFFI ignores a wrongly keyed file with a mere warning);
//! * the Android configuration (`android/uniffi-android.toml`) keeps those names and turns on
//!   the Android flavour;
//! * every method of the exported API appears in the Swift and Kotlin files, from a list kept
//!   here; and the list itself matches the `pub fn`s of `src/device.rs`, `src/approvals.rs` and the foreign
//!   traits of `src/platform.rs`, so neither can drift from the other.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The exported API as the apps see it (camelCase), per object or trait.
const DEVICE_METHODS: &[&str] = &[
    "open",
    "openWithOptions",
    "enroll",
    "enrollmentChallenge",
    "refreshPolicy",
    "checkLocation",
    "beginFaceCheck",
    "punch",
    "queueStatus",
    "itemsNeedingAttention",
    "syncNow",
    "startBackgroundSync",
    "stopBackgroundSync",
    "setStatusListener",
    "status",
    "identity",
    "publicKey",
];
/// The approval methods of `DakaDevice` (`src/approvals.rs`).
const APPROVAL_METHODS: &[&str] = &[
    "requestTemplates",
    "checkDraft",
    "addAttachment",
    "submitRequest",
    "resubmitRequest",
    "decide",
    "inbox",
    "myRequests",
    "request",
    "leaveBalances",
];
/// The attendance methods of `DakaDevice` (`src/attendance.rs`).
const ATTENDANCE_METHODS: &[&str] = &["today", "monthSummary"];
const KEY_STORE_METHODS: &[&str] = &["seal", "open"];
const LISTENER_METHODS: &[&str] = &["onSyncProgress", "onSyncFinished", "onSyncFailed"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/`: the test binary runs from `target/<profile>/deps/`.
fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn library() -> PathBuf {
    let name = format!(
        "{}daka_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = target_profile_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: cargo builds it with the tests",
        path.display()
    );
    path
}

/// The value of `key` in the TOML table `[table]` of `text` (enough TOML for uniffi.toml).
fn toml_value(text: &str, table: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[{table}]");
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Names of the `pub fn` / `pub async fn` items in `text` from `start` to `end` markers.
fn pub_fns(text: &str, start: &str, end: &str) -> Vec<String> {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not found"));
    let rest = &text[from..];
    let to = rest.find(end).unwrap_or(rest.len());
    rest[..to]
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix("pub async fn ")
                .or_else(|| l.strip_prefix("pub fn "))
                .or_else(|| l.strip_prefix("fn "))?;
            Some(camel(&l[..l.find(['(', '<']).unwrap()]))
        })
        .collect()
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Runs the generator; returns what it wrote to standard error.
fn generate_with(config: &Path, out: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
        .arg("generate")
        .arg("--no-format")
        .arg("--config")
        .arg(config)
        .arg("--library")
        .arg(library())
        .args(["--language", "kotlin", "--language", "swift"])
        .arg("--out-dir")
        .arg(out)
        .output()
        .expect("uniffi-bindgen runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "uniffi-bindgen failed: {stderr}");
    stderr
}

#[test]
fn the_method_list_matches_the_source() {
    let device = std::fs::read_to_string(crate_dir().join("src/device.rs")).unwrap();
    let mut found = pub_fns(
        &device,
        "#[uniffi::export(async_runtime = \"tokio\")]",
        "\n}\n",
    );
    found.sort();
    assert_eq!(found, sorted(DEVICE_METHODS), "src/device.rs exports");
    let approvals = std::fs::read_to_string(crate_dir().join("src/approvals.rs")).unwrap();
    let mut found = pub_fns(
        &approvals,
        "#[uniffi::export(async_runtime = \"tokio\")]",
        "\n}\n",
    );
    found.sort();
    assert_eq!(found, sorted(APPROVAL_METHODS), "src/approvals.rs exports");
    let attendance = std::fs::read_to_string(crate_dir().join("src/attendance.rs")).unwrap();
    let mut found = pub_fns(&attendance, "#[uniffi::export]", "\n}\n");
    found.sort();
    assert_eq!(
        found,
        sorted(ATTENDANCE_METHODS),
        "src/attendance.rs exports"
    );

    let platform = std::fs::read_to_string(crate_dir().join("src/platform.rs")).unwrap();
    let mut keys = pub_fns(&platform, "pub trait KeyStore", "\n}\n");
    keys.sort();
    assert_eq!(keys, sorted(KEY_STORE_METHODS), "KeyStore");
    let mut listener = pub_fns(&platform, "pub trait StatusListener", "\n}\n");
    listener.sort();
    assert_eq!(listener, sorted(LISTENER_METHODS), "StatusListener");
}

#[test]
fn generated_kotlin_and_swift_use_the_configured_names_and_export_every_method() {
    let config = std::fs::read_to_string(crate_dir().join("../uniffi.toml")).unwrap();
    let package = toml_value(&config, "crates.daka_ffi.bindings.kotlin", "package_name")
        .expect("uniffi.toml sets the Kotlin package");
    let module = toml_value(&config, "crates.daka_ffi.bindings.swift", "module_name")
        .expect("uniffi.toml sets the Swift module");
    let ffi_module = toml_value(&config, "crates.daka_ffi.bindings.swift", "ffi_module_name")
        .expect("uniffi.toml sets the Swift FFI module");
    assert_eq!(
        (package.as_str(), module.as_str(), ffi_module.as_str()),
        ("hk.daka.sdk", "DakaSDK", "DakaFFI"),
        "the names apps import are part of the public contract"
    );

    let out = tempfile::tempdir().unwrap();
    generate_with(&crate_dir().join("../uniffi.toml"), out.path());

    let kotlin_path = out.path().join(package.replace('.', "/")).join("daka.kt");
    let kotlin = std::fs::read_to_string(&kotlin_path)
        .unwrap_or_else(|e| panic!("{}: {e}", kotlin_path.display()));
    assert!(
        kotlin.lines().any(|l| l == format!("package {package}")),
        "Kotlin package line"
    );
    assert!(
        !kotlin.contains("import android."),
        "the JVM configuration must not import Android classes"
    );

    let swift = std::fs::read_to_string(out.path().join(format!("{module}.swift"))).unwrap();
    assert!(
        swift.contains(&format!("import {ffi_module}")),
        "Swift imports its C module"
    );
    let modulemap =
        std::fs::read_to_string(out.path().join(format!("{ffi_module}.modulemap"))).unwrap();
    assert!(
        modulemap.contains(&format!("module {ffi_module} {{")),
        "{modulemap}"
    );
    assert!(out.path().join(format!("{ffi_module}.h")).exists());

    let mut missing = Vec::new();
    for (ty, methods) in [
        ("DakaDevice", DEVICE_METHODS),
        ("DakaDevice", APPROVAL_METHODS),
        ("DakaDevice", ATTENDANCE_METHODS),
        ("KeyStore", KEY_STORE_METHODS),
        ("StatusListener", LISTENER_METHODS),
    ] {
        for m in methods {
            let in_swift =
                swift.contains(&format!("func {m}(")) || swift.contains(&format!("func `{m}`("));
            let in_kotlin = kotlin.contains(&format!("fun `{m}`("));
            if !in_swift {
                missing.push(format!("Swift {ty}.{m}"));
            }
            if !in_kotlin {
                missing.push(format!("Kotlin {ty}.{m}"));
            }
        }
    }
    assert!(missing.is_empty(), "missing from the bindings: {missing:?}");
    for protocol in ["DakaDeviceProtocol", "KeyStore", "StatusListener"] {
        assert!(
            swift.contains(&format!("public protocol {protocol}")),
            "{protocol}"
        );
    }
    assert!(
        kotlin.contains("sealed class DakaException"),
        "Kotlin error class"
    );
    // The free function for scanned enrolment links, and the revoked device's error.
    assert!(
        kotlin.contains("fun `parseEnrolmentLink`("),
        "Kotlin parseEnrolmentLink"
    );
    assert!(
        swift.contains("func parseEnrolmentLink("),
        "Swift parseEnrolmentLink"
    );
    assert!(
        kotlin.contains("class DeviceRevoked("),
        "Kotlin DeviceRevoked"
    );
    assert!(swift.contains("case DeviceRevoked("), "Swift DeviceRevoked");
    // The Swift template puts `public` and `enum` on two lines.
    let flat = swift.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("public enum DakaError: Swift.Error"),
        "Swift error enum"
    );
}

#[test]
fn an_old_style_config_is_ignored_which_is_why_the_names_are_checked() {
    // The pre-0.32 flat format that this repository once used: UniFFI only warns and falls
    // back to its default names, so a check on the names is what catches the mistake.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old-uniffi.toml");
    std::fs::write(
        &old,
        "[bindings.kotlin]\npackage_name = \"hk.daka.sdk\"\n[bindings.swift]\nmodule_name = \"DakaSDK\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let warnings = generate_with(&old, &out);
    assert!(warnings.contains("old-style"), "{warnings}");
    assert!(
        out.join("uniffi/daka/daka.kt").exists(),
        "default Kotlin package expected"
    );
    assert!(!out.join("hk/daka/sdk/daka.kt").exists());
    assert!(!out.join("DakaSDK.swift").exists());
}

#[test]
fn the_android_configuration_keeps_the_names_and_adds_the_android_cleaner() {
    let dir = tempfile::tempdir().unwrap();
    generate_with(
        &crate_dir().join("../android/uniffi-android.toml"),
        dir.path(),
    );
    let kotlin = std::fs::read_to_string(dir.path().join("hk/daka/sdk/daka.kt")).unwrap();
    assert!(kotlin.lines().any(|l| l == "package hk.daka.sdk"));
    assert!(
        kotlin.contains("import android.os.Build"),
        "android = true is read"
    );
    assert!(kotlin.contains("SystemCleaner"));
}
