//! Attested enrolment as an app sees it through the bindings, against the real reference
//! server: `enrollmentChallenge` says the organisation requires attestation and gives the
//! nonce in both encodings; an `enroll` without an `Attestation` is `DakaError::Refused`
//! (`attestation_required`); one with a Play Integrity token (made in that format with test
//! keys for the nonce) enrols.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use daka_attest::Verifiers;
use daka_attest::play_integrity::PlayIntegrityVerifier;
use daka_attest::play_integrity::testing::{TestKeys, payload};
use daka_ffi::{Attestation, AttestationRule, DakaDevice, DakaError};
use daka_server::{Seed, Server, ServerConfig, ServerOptions};
use serde_json::json;

const APP: &str = "hk.harbourlane.staff";

async fn server(keys: &TestKeys, dir: &std::path::Path) -> daka_server::RunningServer {
    let mut policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/hk-policy.json"
        ))
        .unwrap(),
    )
    .unwrap();
    policy["enrolment"] = json!({"attestation": "required", "android_packages": [APP]});
    let seed = json!({"organisations": [{
        "id": "harbour-lane", "name": "Harbour Lane", "admin_token": "ffi-admin-token-0000000000000001",
        "policy": policy,
        "enrollment_codes": [{"code": "FFI-E1001-0001", "employee_id": "E1001"}],
    }]});
    Server::start_with(
        ServerConfig {
            db_path: dir.join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(Seed::from_json(&seed.to_string(), None).unwrap()),
        },
        ServerOptions {
            attestation: Verifiers::new().with(Arc::new(
                PlayIntegrityVerifier::new(vec![keys.app(APP)]).unwrap(),
            )),
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_asks_for_a_challenge_attests_to_its_nonce_and_enrols() {
    let dir = tempfile::tempdir().unwrap();
    let keys = TestKeys::generate();
    let server = server(&keys, dir.path()).await;
    let device = DakaDevice::open(dir.path().join("phone.db").display().to_string(), None).unwrap();
    let url = server.url();
    let code = "FFI-E1001-0001".to_string();

    let challenge = device
        .enrollment_challenge(url.clone(), code.clone())
        .await
        .unwrap();
    assert_eq!(challenge.attestation, AttestationRule::Required);
    assert_eq!(challenge.formats, vec!["play_integrity".to_string()]);
    assert_eq!(challenge.nonce.len(), 32);
    assert_eq!(
        URL_SAFE_NO_PAD.encode(&challenge.nonce),
        challenge.nonce_base64url
    );
    assert!(challenge.expires_at_ms > chrono::Utc::now().timestamp_millis());

    let err = device
        .enroll(
            url.clone(),
            code.clone(),
            "Pixel 8".into(),
            "android".into(),
            None,
        )
        .await
        .unwrap_err();
    match &err {
        DakaError::Refused { code, reason } => {
            assert_eq!(code, "attestation_required");
            assert!(reason.contains("play_integrity"), "{reason}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }

    let nonce: [u8; 32] = challenge.nonce.as_slice().try_into().unwrap();
    let token = keys.token(&payload(APP, &nonce, chrono::Utc::now()));
    let identity = device
        .enroll(
            url,
            code,
            "Pixel 8".into(),
            "android".into(),
            Some(Attestation {
                format: "play_integrity".into(),
                challenge: challenge.challenge,
                token,
            }),
        )
        .await
        .unwrap();
    assert_eq!(identity.employee_id, "E1001");
    assert!(device.status().unwrap().enrolled);
}
