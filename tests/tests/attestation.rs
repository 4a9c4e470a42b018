//! Attested enrolment, the SDK against the real reference server: an organisation requires
//! attestation; an Android phone enrols with a Play Integrity token and an iPhone with an App
//! Attest attestation, each made (in those formats, with test keys and a test certificate
//! authority) for the nonce the SDK computed from the server's challenge and its own key. A
//! phone that fails the platform's checks, one that sends another phone's token and one that
//! sends nothing are refused with the server's reason, and nothing of theirs is stored.

use std::sync::Arc;

use chrono::Utc;
use daka_attest::Verifiers;
use daka_attest::app_attest::Environment;
use daka_attest::app_attest::testing::TestAuthority;
use daka_attest::key_attestation::testing::TestKeystore;
use daka_attest::key_attestation::{SecurityLevel, VerifiedBootState};
use daka_attest::play_integrity::PlayIntegrityVerifier;
use daka_attest::play_integrity::testing::{TestKeys, payload};
use daka_core::protocol::{Attestation, AttestationRule};
use daka_device::sync::client::SyncError;
use daka_device::{Device, DeviceError, UnprotectedKeyStore};
use daka_e2e::harness::{TestServer, enrollment_code, example_policy, seed};
use daka_server::ServerOptions;
use serde_json::{Value, json};

const ANDROID_APP: &str = "hk.harbourlane.staff";
const IOS_APP: &str = "A1B2C3D4E5.hk.harbourlane.staff";

struct Platforms {
    google: TestKeys,
    apple: TestAuthority,
    keystore: TestKeystore,
}

async fn server(platforms: &Platforms, dir: &std::path::Path) -> TestServer {
    let mut policy = example_policy(false);
    policy["enrolment"] = json!({
        "attestation": "required",
        "android_packages": [ANDROID_APP],
        "ios_app_ids": [IOS_APP],
    });
    let verifiers = Verifiers::new()
        .with(Arc::new(
            PlayIntegrityVerifier::new(vec![platforms.google.app(ANDROID_APP)]).unwrap(),
        ))
        .with(Arc::new(platforms.apple.verifier(Environment::Production)))
        .with(Arc::new(platforms.keystore.verifier()));
    TestServer::start_at(
        &dir.join("server.db"),
        Some(seed(policy, 6)),
        ServerOptions {
            attestation: verifiers,
            ..ServerOptions::default()
        },
    )
    .await
}

fn phone(dir: &std::path::Path, name: &str) -> Device {
    Device::builder(dir.join(format!("{name}.db")))
        .key_store(&UnprotectedKeyStore)
        .open()
        .unwrap()
}

fn refusal(result: Result<daka_device::Identity, DeviceError>) -> String {
    match result {
        Err(DeviceError::Sync(SyncError::Refused { status, code, .. })) => {
            assert_eq!(status, 403, "{code}");
            code
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn devices(server: &TestServer) -> Vec<Value> {
    let body: Value = server.admin_get("/admin/v1/devices").await;
    body["devices"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_that_their_platform_vouches_for_enrol_and_others_are_told_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let platforms = Platforms {
        google: TestKeys::generate(),
        apple: TestAuthority::generate(),
        keystore: TestKeystore::generate(),
    };
    let server = server(&platforms, dir.path()).await;
    let url = server.url();

    // A Pixel: the challenge, the nonce as Play Integrity takes it, the token, enrolment.
    let pixel = phone(dir.path(), "pixel");
    let code = enrollment_code(1);
    let challenge = pixel.enrollment_challenge(&url, &code).await.unwrap();
    assert_eq!(challenge.attestation, AttestationRule::Required);
    assert_eq!(
        challenge.formats,
        vec!["android_key_attestation", "app_attest", "play_integrity"]
    );
    assert_eq!(challenge.nonce_base64url().len(), 43);
    let token = platforms
        .google
        .token(&payload(ANDROID_APP, &challenge.nonce, Utc::now()));
    let play = |challenge: &str, token: &str| Attestation {
        format: "play_integrity".into(),
        challenge: challenge.into(),
        token: token.into(),
    };
    // Without it, the organisation's rule refuses the phone; the code is not used up.
    assert_eq!(
        refusal(pixel.enroll(&url, &code, "Pixel 8", "android").await),
        "attestation_required"
    );
    let identity = pixel
        .enroll_with(
            &url,
            &code,
            "Pixel 8",
            "android",
            Some(play(&challenge.challenge, &token)),
        )
        .await
        .unwrap();
    assert_eq!(identity.employee_id, "E1001");
    assert!(
        pixel.refresh_policy().await.unwrap() > 0,
        "a working device"
    );

    // An iPhone: App Attest's clientDataHash is the nonce itself.
    let iphone = phone(dir.path(), "iphone");
    let code = enrollment_code(2);
    let challenge = iphone.enrollment_challenge(&url, &code).await.unwrap();
    let attestation =
        platforms
            .apple
            .attestation(IOS_APP, &challenge.nonce, Environment::Production);
    iphone
        .enroll_with(
            &url,
            &code,
            "iPhone 16",
            "ios",
            Some(Attestation {
                format: "app_attest".into(),
                challenge: challenge.challenge.clone(),
                token: attestation,
            }),
        )
        .await
        .unwrap();

    // A phone without Play services: the Keystore's certificate chain for a key made with the
    // nonce as its attestation challenge.
    let huawei = phone(dir.path(), "huawei");
    let code = enrollment_code(4);
    let challenge = huawei.enrollment_challenge(&url, &code).await.unwrap();
    let chain = |nonce: &[u8; 32], boot: VerifiedBootState, locked: bool| {
        platforms.keystore.chain(
            ANDROID_APP,
            nonce,
            SecurityLevel::TrustedEnvironment,
            boot,
            locked,
        )
    };
    let keystore = |challenge: &str, token: String| Attestation {
        format: "android_key_attestation".into(),
        challenge: challenge.into(),
        token,
    };
    huawei
        .enroll_with(
            &url,
            &code,
            "Huawei Mate",
            "android",
            Some(keystore(
                &challenge.challenge,
                chain(&challenge.nonce, VerifiedBootState::Verified, true),
            )),
        )
        .await
        .unwrap();

    // A rooted phone: Play Integrity gives no device verdict, and its Keystore reports an
    // unlocked bootloader.
    let rooted = phone(dir.path(), "rooted");
    let code = enrollment_code(3);
    let challenge = rooted.enrollment_challenge(&url, &code).await.unwrap();
    let mut verdict = payload(ANDROID_APP, &challenge.nonce, Utc::now());
    verdict["deviceIntegrity"] = json!({});
    let token = platforms.google.token(&verdict);
    assert_eq!(
        refusal(
            rooted
                .enroll_with(
                    &url,
                    &code,
                    "Rooted",
                    "android",
                    Some(play(&challenge.challenge, &token))
                )
                .await
        ),
        "attestation_not_trusted"
    );
    let unlocked = chain(&challenge.nonce, VerifiedBootState::Unverified, false);
    assert_eq!(
        refusal(
            rooted
                .enroll_with(
                    &url,
                    &code,
                    "Rooted",
                    "android",
                    Some(keystore(&challenge.challenge, unlocked))
                )
                .await
        ),
        "attestation_not_trusted"
    );
    // Its owner borrows a genuine phone's token for the genuine phone's own challenge: it
    // names the genuine phone's key, not this one's.
    let genuine = phone(dir.path(), "genuine");
    let genuine_challenge = genuine.enrollment_challenge(&url, &code).await.unwrap();
    let borrowed =
        platforms
            .google
            .token(&payload(ANDROID_APP, &genuine_challenge.nonce, Utc::now()));
    assert_eq!(
        refusal(
            rooted
                .enroll_with(
                    &url,
                    &code,
                    "Rooted",
                    "android",
                    Some(play(&genuine_challenge.challenge, &borrowed))
                )
                .await
        ),
        "attestation_challenge_invalid",
        "the challenge was issued for the genuine phone's key"
    );
    assert_eq!(
        refusal(
            rooted
                .enroll_with(
                    &url,
                    &code,
                    "Rooted",
                    "android",
                    Some(play(&challenge.challenge, &borrowed))
                )
                .await
        ),
        "attestation_nonce_mismatch"
    );
    // A repackaged app signed into another package.
    let repackaged = platforms.google.token(&payload(
        "com.example.staff.cracked",
        &challenge.nonce,
        Utc::now(),
    ));
    assert_eq!(
        refusal(
            rooted
                .enroll_with(
                    &url,
                    &code,
                    "Rooted",
                    "android",
                    Some(play(&challenge.challenge, &repackaged))
                )
                .await
        ),
        "attestation_wrong_app"
    );
    assert!(rooted.identity().is_none(), "nothing stored on the phone");

    let listed = devices(&server).await;
    assert_eq!(
        listed.len(),
        3,
        "only the three attested phones: {listed:?}"
    );
    assert_eq!(listed[0]["attestation"]["format"], "play_integrity");
    assert_eq!(listed[0]["attestation"]["passed"], true);
    let detail = listed[0]["attestation"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("hk.harbourlane.staff: ") && detail.contains("MEETS_DEVICE_INTEGRITY"),
        "{detail}"
    );
    assert_eq!(listed[1]["attestation"]["format"], "app_attest");
    let detail = listed[1]["attestation"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!("{IOS_APP}: production, key id ")),
        "{detail}"
    );
    assert_eq!(
        listed[2]["attestation"]["format"],
        "android_key_attestation"
    );
    let detail = listed[2]["attestation"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!(
            "{ANDROID_APP}: TrustedEnvironment, verified boot, locked"
        )),
        "{detail}"
    );
}
