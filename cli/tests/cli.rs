//! The `daka` program as support staff and scripts use it: `check` in flag, file and batch
//! modes with its exit statuses, `verify-log` on intact and tampered logs, and `face-token`,
//! whose tokens an independent JWS implementation (jsonwebtoken) must accept.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use daka_core::evidence::DeviceClock;
use daka_core::punch::{DeviceSigner, PunchChain, PunchDraft, PunchEvidence, PunchKind, write_log};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const NOW: &str = "2026-11-26T01:00:00Z";

fn policy() -> String {
    format!("{ROOT}/examples/hk-policy.json")
}

fn daka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daka"))
        .args(args)
        .output()
        .unwrap()
}

fn daka_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_daka"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// A face token minted by jsonwebtoken with the demonstration Ed25519 matcher key.
fn token(sub: &str, nonce: &str) -> String {
    let jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{ROOT}/examples/keys/face-matcher-ed25519.private.jwk"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(URL_SAFE_NO_PAD.decode(jwk["d"].as_str().unwrap()).unwrap());
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("hl-face-device-2026-01".into());
    let iat = NOW.parse::<DateTime<Utc>>().unwrap().timestamp() - 5;
    let claims = json!({"iss": "https://face.harbour-lane.example/device", "sub": sub, "nonce": nonce,
        "iat": iat, "exp": iat + 120, "score": 0.95, "liveness": "pass"});
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&der)).unwrap()
}

fn check(lat: &str, lon: &str, accuracy: &str, extra: &[&str]) -> Output {
    let p = policy();
    let mut args = vec![
        "check",
        "--policy",
        &p,
        "--employee",
        "E1001",
        "--lat",
        lat,
        "--lon",
        lon,
        "--accuracy",
        accuracy,
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    daka(&args)
}

#[test]
fn accepted_rejected_field_punch_and_malformed_have_their_exit_statuses() {
    let t = token("E1001", "n1");
    let ok = check(
        "22.28005",
        "114.18305",
        "5",
        &["--token", &t, "--nonce", "n1"],
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v = stdout_json(&ok);
    assert_eq!(v["decision"], "accepted");
    assert_eq!(v["location"]["site_id"], "cwb-store");
    assert_eq!(v["evaluated_at"], NOW);

    let out = check(
        "22.2810",
        "114.1840",
        "25",
        &["--token", &t, "--nonce", "n1"],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["reasons"][0]["code"], "outside_fence");
    assert_eq!(
        v["reasons"][0]["message"],
        "121 m outside Causeway Bay Store (Hennessy Road) 銅鑼灣店: 0 % likely there (accuracy ±25 m)"
    );

    // 34 m north of the store with a ±15 m fix: 7.61 % likely inside its 20 m tolerance,
    // between the policy's thresholds, so a field punch for review.
    let field = check(
        "22.2805",
        "114.1831",
        "15",
        &["--token", &t, "--nonce", "n1"],
    );
    assert_eq!(field.status.code(), Some(3));
    assert_eq!(stdout_json(&field)["decision"], "field_punch");

    let bad = check("95", "114.18305", "5", &[]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("fix.lat") && err.contains("95"), "{err}");
    assert!(bad.stdout.is_empty());
}

#[test]
fn human_form_explains_with_numbers() {
    let out = check("22.2810", "114.1840", "25", &["--human"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("REJECTED: E1001 (Chan Tai Man 陳大文), punch in, policy v42"),
        "{text}"
    );
    assert!(
        text.contains("nearest allowed site Causeway Bay Store"),
        "{text}"
    );
    assert!(text.contains("✗ outside_fence"), "{text}");
    assert!(text.contains("✗ face_token_missing"), "{text}");
}

#[test]
fn a_malformed_policy_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    let text = std::fs::read_to_string(policy()).unwrap().replacen(
        "\"radius_m\": 150",
        "\"radius_m\": -3",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let out = daka(&[
        "check",
        "--policy",
        path.to_str().unwrap(),
        "--employee",
        "E1001",
        "--lat",
        "22.28",
        "--lon",
        "114.18",
        "--accuracy",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sites[2].fences[0].radius_m"), "{err}");
    let missing = daka(&[
        "check",
        "--policy",
        "/nonexistent/p.json",
        "--employee",
        "E1",
        "--lat",
        "1",
        "--lon",
        "1",
        "--accuracy",
        "1",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/p.json"));
    let usage = daka(&["check", "--policy", &policy()]);
    assert_eq!(usage.status.code(), Some(2));
}

fn attempt_json(employee: &str, lat: f64, lon: f64, accuracy: f64, nonce: Option<&str>) -> String {
    let mut a = json!({
        "employee_id": employee,
        "fix": {"lat": lat, "lon": lon, "accuracy_m": accuracy, "time": NOW},
        "clock": {"wall": NOW, "monotonic_ms": 5000, "boot_id": "b"},
    });
    if let Some(n) = nonce {
        a["face"] = json!({"token": token(employee, n), "nonce": n});
    }
    a.to_string()
}

#[test]
fn attempt_file_mode_judges_like_flag_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    std::fs::write(
        &path,
        attempt_json("E1001", 22.28005, 114.18305, 5.0, Some("n7")),
    )
    .unwrap();
    let out = daka(&[
        "check",
        "--policy",
        &policy(),
        "--attempt",
        path.to_str().unwrap(),
        "--now",
        NOW,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::write(&path, "{\"employee_id\": \"E1001\", \"clock\": 5}").unwrap();
    let out = daka(&[
        "check",
        "--policy",
        &policy(),
        "--attempt",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clock"));
}

#[test]
fn batch_mode_writes_one_line_per_attempt_and_catches_replays() {
    let lines = [
        attempt_json("E1001", 22.28005, 114.18305, 5.0, Some("d1")),
        attempt_json("E1002", 22.2810, 114.1840, 25.0, Some("d2")),
        String::new(),
        "{\"employee_id\": \"E1001\", \"fix\": {\"lat\": \"north\"}}".into(),
        attempt_json("E1001", 22.28005, 114.18305, 5.0, Some("d1")),
        attempt_json("E1001", 22.2805, 114.1831, 15.0, Some("d3")),
    ];
    let out = daka_stdin(
        &["check", "--policy", &policy(), "--batch", "-", "--now", NOW],
        &lines.join("\n"),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a malformed line makes the batch exit 2"
    );
    let results: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 5, "blank lines are skipped");
    assert_eq!(results[0]["line"], 1);
    assert_eq!(results[0]["verdict"]["decision"], "accepted");
    assert_eq!(results[1]["verdict"]["reasons"][0]["code"], "outside_fence");
    assert_eq!(results[2]["line"], 4);
    assert_eq!(results[2]["error"]["field"], "fix.lat");
    assert_eq!(
        results[3]["verdict"]["reasons"][0]["code"], "face_token_replayed",
        "same nonce again in one day"
    );
    assert_eq!(results[4]["verdict"]["decision"], "field_punch");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("5 attempts: 1 accepted, 1 field punch, 2 rejected, 1 malformed"),
        "{summary}"
    );
}

fn sample_log(dir: &std::path::Path) -> (String, std::path::PathBuf) {
    let signer = DeviceSigner::from_seed(&[7u8; 32]).unwrap();
    let mut chain = PunchChain::new("dev-1");
    let engine = daka_core::Engine::new(
        daka_core::Policy::from_json(&std::fs::read_to_string(policy()).unwrap()).unwrap(),
    );
    let mut records = Vec::new();
    for i in 0..5u64 {
        let attempt: daka_core::attempt::Attempt =
            serde_json::from_str(&attempt_json("E1001", 22.28005, 114.18305, 5.0, None)).unwrap();
        let verdict = engine
            .evaluate(
                &attempt,
                Some(NOW.parse().unwrap()),
                &mut Default::default(),
            )
            .unwrap();
        let draft = PunchDraft {
            kind: if i % 2 == 0 {
                PunchKind::In
            } else {
                PunchKind::Out
            },
            employee_id: "E1001".into(),
            evidence: PunchEvidence {
                fix: attempt.fix.clone(),
                more_fixes: Vec::new(),
                wifi_bssids: vec![],
                face_token: None,
                nonce: None,
            },
            clock: DeviceClock {
                wall: NOW.parse().unwrap(),
                monotonic_ms: 1000 + i,
                boot_id: "b".into(),
            },
            server_offset_ms: Some(0),
            policy_version: 42,
            verdict,
            id_time: NOW.parse().unwrap(),
        };
        records.push(chain.append(draft, &signer).unwrap());
    }
    let path = dir.join("punches.jsonl");
    std::fs::write(&path, write_log(&records).unwrap()).unwrap();
    (URL_SAFE_NO_PAD.encode(signer.public_key()), path)
}

#[test]
fn verify_log_accepts_an_intact_log_and_names_the_first_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let (key, path) = sample_log(dir.path());
    let p = path.to_str().unwrap();
    let out = daka(&["verify-log", p, "--public-key", &key]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = stdout_json(&out);
    assert_eq!(
        (v["ok"].clone(), v["records"].clone(), v["last_seq"].clone()),
        (json!(true), json!(5), json!(5))
    );

    // Edit the accuracy of the third record.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[2] = lines[2].replacen("\"accuracy_m\":5", "\"accuracy_m\":4", 1);
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = daka(&["verify-log", p, "--public-key", &key]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["error"]["index"], 2);
    assert_eq!(v["error"]["code"], "bad_signature");

    // Delete the second record instead.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.remove(1);
    std::fs::write(&path, lines.join("\n")).unwrap();
    let v = stdout_json(&daka(&["verify-log", p, "--public-key", &key]));
    assert_eq!(
        (v["error"]["index"].clone(), v["error"]["code"].clone()),
        (json!(1), json!("gap"))
    );

    // Another device's key: the very first record fails.
    let other = URL_SAFE_NO_PAD.encode(DeviceSigner::from_seed(&[8u8; 32]).unwrap().public_key());
    std::fs::write(&path, &text).unwrap();
    let v = stdout_json(&daka(&["verify-log", p, "--public-key", &other]));
    assert_eq!(
        (v["error"]["index"].clone(), v["error"]["code"].clone()),
        (json!(0), json!("bad_signature"))
    );

    // Malformed key or log: exit 2.
    assert_eq!(
        daka(&["verify-log", p, "--public-key", "abc"])
            .status
            .code(),
        Some(2)
    );
    std::fs::write(&path, "not json\n").unwrap();
    let out = daka(&["verify-log", p, "--public-key", &key]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

#[test]
fn face_token_output_verifies_with_an_independent_implementation() {
    let out = daka(&[
        "face-token",
        "--key",
        &format!("{ROOT}/examples/keys/face-matcher-ed25519.private.jwk"),
        "--sub",
        "E1001",
        "--nonce",
        "abc",
        "--score",
        "0.91",
        "--iat",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{ROOT}/examples/keys/face-matcher-ed25519.private.jwk"
        ))
        .unwrap(),
    )
    .unwrap();
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
    assert_eq!(data.header.kid.as_deref(), Some("hl-face-device-2026-01"));
    assert_eq!(data.claims["sub"], "E1001");
    assert_eq!(data.claims["nonce"], "abc");
    assert_eq!(data.claims["score"], 0.91);
    assert_eq!(
        data.claims["exp"].as_i64().unwrap() - data.claims["iat"].as_i64().unwrap(),
        120
    );

    let bad = daka(&[
        "face-token",
        "--key",
        &policy(),
        "--sub",
        "E1",
        "--nonce",
        "n",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}
