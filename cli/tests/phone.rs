//! `daka phone` as a process against the real reference server: enrol with a seed code,
//! punch at a site, file an expense with a receipt, sync, and the typed failures (no such
//! site, no phone in the folder, a refused code) with their exit statuses.

use std::path::{Path, PathBuf};
use std::process::Command;

use daka_server::{Seed, Server, ServerConfig};
use serde_json::Value;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Runs `daka phone --state <state> <args>`: exit status, stdout as JSON, stderr.
fn phone(state: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_daka"))
        .arg("phone")
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (
        output.status.code(),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_phone_enrols_punches_files_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let seed = Seed::from_file(examples().join("seed.json")).unwrap();
    let server = Server::start(ServerConfig {
        db_path: dir.path().join("server.db"),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: Some(seed),
    })
    .await
    .unwrap();
    let url = server.url();
    let state = dir.path().join("phone");
    let key = examples().join("keys/face-matcher-ed25519.private.jwk");
    let receipt = dir.path().join("receipt.jpg");
    std::fs::write(&receipt, [0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F']).unwrap();

    let run = |args: Vec<String>| {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            phone(&state, &args)
        })
    };
    let strings = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // No phone in the folder yet: a usage error naming what to do.
    let (code, _, err) = run(strings(&["sync"])).await.unwrap();
    assert_eq!(code, Some(2));
    assert!(err.contains("enrol one first"), "{err}");

    let (code, out, err) = run(strings(&[
        "enroll",
        "--server",
        &url,
        "--code",
        "HL-E1001-DEMO-0001",
    ]))
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out["employee_id"], "E1001");
    let device_id = out["device_id"].as_str().unwrap().to_owned();

    let (code, out, err) = run(strings(&[
        "punch",
        "--kind",
        "in",
        "--site",
        "cwb-store",
        "--face-key",
        key.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out["decision"], "accepted", "{out}");
    let record_id = out["record_id"].as_str().unwrap().to_owned();

    let (code, _, err) = run(strings(&["punch", "--kind", "in", "--site", "atlantis"]))
        .await
        .unwrap();
    assert_eq!(code, Some(2));
    assert!(
        err.contains("no such site") && err.contains("cwb-store"),
        "{err}"
    );

    let (code, out, err) = run(strings(&[
        "expense",
        "--amount",
        "88.50",
        "--category",
        "taxi",
        "--receipt",
        receipt.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    let request_id = out["request_id"].as_str().unwrap().to_owned();

    let (code, out, err) = run(strings(&["sync"])).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out["accepted"], 2, "{out}");
    assert_eq!(out["remaining"], 0, "{out}");
    assert_eq!(out["attachments_uploaded"], 1, "{out}");

    // The server has the punch and the claim, with the receipt.
    let punches = server
        .storage()
        .punches(
            "harbour-lane",
            &daka_server::storage::PunchFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        punches
            .iter()
            .any(|p| p.device_id == device_id && p.punch_id == record_id),
        "{punches:?}"
    );
    let stored = server
        .storage()
        .request("harbour-lane", &request_id)
        .unwrap()
        .expect("the claim reached the server");
    assert_eq!(stored.template_id, "expense");

    let (code, out, _) = run(strings(&["policy"])).await.unwrap();
    assert_eq!(code, Some(0));
    assert_eq!(out["version"], 42);

    // A refused enrolment: exit 4 and the device error's variant on stdout.
    let other = dir.path().join("other");
    let (code, out, _) = tokio::task::spawn_blocking(move || {
        phone(
            &other,
            &["enroll", "--server", &url, "--code", "NOT-A-CODE"],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, Some(4));
    assert_eq!(out["error"], "Refused", "{out}");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains("enrollment_code_unknown"),
        "{out}"
    );
    server.shutdown().await.unwrap();
}
