//! Attestation at enrolment over real HTTP: the challenge, the organisation's rule (`off`,
//! `optional`, `required`), refusals that store nothing, and what is recorded with the device.
//! The platform is stood in for by a verifier of this file's own (`TestPlatform`), plugged in
//! through the same `Verifiers` registry as the shipped Play Integrity, App Attest and key
//! attestation
//! verifiers, and by those verifiers with test keys.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use common::*;
use daka_attest::{AttestationError, AttestationVerifier, Attested, Expected, Verifiers};
use daka_core::protocol::{
    Attestation, AttestationRule, EnrollChallengeRequest, EnrollRequest, attestation_nonce,
};
use daka_core::punch::DeviceSigner;
use daka_device::sync::client::SyncError;
use daka_server::ServerOptions;
use serde_json::{Value, json};

/// A platform whose tokens are `<verdict>:<nonce, base64url>:<app id>`: `trusted` passes,
/// anything else is `NotTrusted`. Checks the nonce and the app as a real verifier must.
struct TestPlatform;

impl AttestationVerifier for TestPlatform {
    fn format(&self) -> &str {
        "test_platform"
    }

    fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Attested, AttestationError> {
        let mut parts = token.splitn(3, ':');
        let (Some(verdict), Some(nonce), Some(app)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(AttestationError::Malformed {
                reason: format!("expected verdict:nonce:app, found {token:?}"),
            });
        };
        if URL_SAFE_NO_PAD.decode(nonce).ok().as_deref() != Some(expected.nonce.as_slice()) {
            return Err(AttestationError::NonceMismatch);
        }
        if !expected.android_packages.iter().any(|p| p == app)
            && !expected.ios_app_ids.iter().any(|p| p == app)
        {
            return Err(AttestationError::WrongApp { app_id: app.into() });
        }
        if verdict != "trusted" {
            return Err(AttestationError::NotTrusted {
                verdict: verdict.into(),
            });
        }
        Ok(Attested {
            format: "test_platform".into(),
            app_id: app.into(),
            summary: "TRUSTED".into(),
        })
    }
}

const APP: &str = "hk.harbourlane.staff";

/// A server with the test platform's verifier, whose clock runs `offset` ahead.
async fn server_with_clock(offset: Arc<AtomicI64>) -> TestServer {
    TestServer::start_with(ServerOptions {
        attestation: Verifiers::new().with(Arc::new(TestPlatform)),
        clock: Some(Arc::new(move || {
            Utc::now() + Duration::milliseconds(offset.load(Ordering::SeqCst))
        })),
        ..ServerOptions::default()
    })
    .await
}

/// Publishes the example policy as `version` with this `enrolment` section.
async fn publish_enrolment(server: &TestServer, version: u64, enrolment: Value) -> (u16, Value) {
    let mut doc = policy_variant(version, ORG_A);
    doc["enrolment"] = enrolment;
    server.put_policy(&doc).await
}

/// A phone about to enrol: its key, and requests made with it.
struct Phone {
    public_key: String,
}

impl Phone {
    fn new() -> Phone {
        let (signer, _) = DeviceSigner::generate().unwrap();
        Phone {
            public_key: URL_SAFE_NO_PAD.encode(signer.public_key()),
        }
    }

    fn enroll(&self, code: &str, attestation: Option<Attestation>) -> EnrollRequest {
        EnrollRequest {
            code: code.into(),
            public_key: self.public_key.clone(),
            device_name: "Chan Tai Man's Pixel 8".into(),
            platform: "android".into(),
            attestation,
        }
    }

    /// A test-platform attestation of `verdict` for `app`, to `challenge`'s nonce for this key.
    fn attest(&self, challenge: &str, verdict: &str, app: &str) -> Attestation {
        let nonce = attestation_nonce(challenge, &self.public_key);
        Attestation {
            format: "test_platform".into(),
            challenge: challenge.into(),
            token: format!("{verdict}:{}:{app}", URL_SAFE_NO_PAD.encode(nonce)),
        }
    }
}

async fn challenge(server: &TestServer, phone: &Phone, code: &str) -> (String, AttestationRule) {
    let c = server
        .client()
        .enroll_challenge(&EnrollChallengeRequest {
            code: code.into(),
            public_key: phone.public_key.clone(),
        })
        .await
        .unwrap();
    (c.challenge, c.attestation)
}

fn refused(e: SyncError) -> (u16, String, String) {
    match e {
        SyncError::Refused {
            status,
            code,
            message,
        } => (status, code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn devices(server: &TestServer) -> Vec<Value> {
    let (status, body) = server.admin_get(ADMIN_A, "/admin/v1/devices").await;
    assert_eq!(status, 200, "{body}");
    body["devices"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_challenge_says_what_the_organisation_asks_and_which_formats_are_verified() {
    let server = server_with_clock(Arc::default()).await;
    let client = server.client();
    let phone = Phone::new();
    let before = Utc::now();
    let c = client
        .enroll_challenge(&EnrollChallengeRequest {
            code: "A-E1001-0001".into(),
            public_key: phone.public_key.clone(),
        })
        .await
        .unwrap();
    assert_eq!(c.attestation, AttestationRule::Off, "no enrolment section");
    assert_eq!(c.formats, vec!["test_platform".to_string()]);
    assert!(c.expires_at >= before + Duration::minutes(10) - Duration::seconds(1));
    assert!(c.expires_at <= Utc::now() + Duration::minutes(10));
    assert!(c.challenge.starts_with("harbour-lane."), "{}", c.challenge);
    // Each challenge is new.
    let (again, _) = challenge(&server, &phone, "A-E1001-0001").await;
    assert_ne!(again, c.challenge);

    let (status, body) = publish_enrolment(
        &server,
        43,
        json!({"attestation": "required", "android_packages": [APP]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, rule) = challenge(&server, &phone, "A-E1001-0001").await;
    assert_eq!(rule, AttestationRule::Required);
    // The other organisation's policy has no section.
    let (_, rule) = challenge(&server, &phone, "B-E1001-0001").await;
    assert_eq!(rule, AttestationRule::Off);

    // Unknown and used codes are refused as enrolment is; a bad key names the field.
    let ask = |code: &str, key: &str| {
        let request = EnrollChallengeRequest {
            code: code.into(),
            public_key: key.into(),
        };
        let client = client.clone();
        async move { client.enroll_challenge(&request).await }
    };
    let (status, code, _) = refused(ask("NO-SUCH-CODE", &phone.public_key).await.unwrap_err());
    assert_eq!((status, code.as_str()), (404, "enrollment_code_unknown"));
    let (status, code, message) = refused(ask("A-E1001-0001", "not-a-key").await.unwrap_err());
    assert_eq!((status, code.as_str()), (400, "invalid_public_key"));
    assert!(message.contains("public_key"), "{message}");
    server.enroll("B-E1001-0001").await;
    let (status, code, _) = refused(ask("B-E1001-0001", &phone.public_key).await.unwrap_err());
    assert_eq!((status, code.as_str()), (409, "enrollment_code_used"));
}

#[tokio::test]
async fn garbage_challenge_requests_and_attestations_are_refused_naming_the_field() {
    let server = server_with_clock(Arc::default()).await;
    let phone = Phone::new();
    let post = |path: &'static str, body: String| {
        let request = server
            .http
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(body);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let key = &phone.public_key;
    for (body, field) in [
        (String::new(), ""),
        ("[]".to_string(), ""),
        ("{}".to_string(), "code"),
        (json!({"code": "A-E1001-0001"}).to_string(), "public_key"),
        (json!({"code": "", "public_key": key}).to_string(), "code"),
        (
            json!({"code": "x".repeat(65), "public_key": key}).to_string(),
            "code",
        ),
        (
            json!({"code": "A\u{7}", "public_key": key}).to_string(),
            "code",
        ),
        (json!({"code": 7, "public_key": key}).to_string(), "code"),
        (
            json!({"code": "A-E1001-0001", "public_key": key, "extra": 1}).to_string(),
            "extra",
        ),
    ] {
        let (status, answer) = post("/v1/enroll/challenge", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{body}: {answer}"
        );
    }

    let good = json!({"format": "test_platform", "challenge": "c", "token": "t"});
    for (attestation, field) in [
        (json!("token"), "attestation"),
        (
            json!({"format": "test_platform", "challenge": "c"}),
            "token",
        ),
        (
            json!({"format": "", "challenge": "c", "token": "t"}),
            "attestation.format",
        ),
        (
            json!({"format": "x".repeat(65), "challenge": "c", "token": "t"}),
            "attestation.format",
        ),
        (
            json!({"format": "f", "challenge": "c".repeat(513), "token": "t"}),
            "attestation.challenge",
        ),
        (
            json!({"format": "f", "challenge": "c", "token": "t".repeat(65_537)}),
            "attestation.token",
        ),
        (
            json!({"format": "f", "challenge": "c\n", "token": "t"}),
            "attestation.challenge",
        ),
        (
            {
                let mut a = good.clone();
                a["kid"] = json!(1);
                a
            },
            "kid",
        ),
    ] {
        let body = json!({
            "code": "A-E1001-0001", "public_key": key, "device_name": "n",
            "platform": "android", "attestation": attestation,
        })
        .to_string();
        let (status, answer) = post("/v1/enroll", body).await;
        assert_eq!(status, 400, "{attestation}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{field}: {answer}"
        );
    }
    // Nothing was used up: the code still enrols.
    server
        .client()
        .enroll(&phone.enroll("A-E1001-0001", None))
        .await
        .unwrap();
}

#[tokio::test]
async fn where_attestation_is_required_only_a_phone_that_passes_enrols() {
    let offset = Arc::new(AtomicI64::new(0));
    let server = server_with_clock(offset.clone()).await;
    let (status, body) = publish_enrolment(
        &server,
        43,
        json!({"attestation": "required", "android_packages": [APP]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let client = server.client();
    let phone = Phone::new();
    let code = "A-E1001-0001";
    let (c, _) = challenge(&server, &phone, code).await;
    let try_enrol = |attestation: Option<Attestation>| {
        let request = phone.enroll(code, attestation);
        let client = client.clone();
        async move { client.enroll(&request).await }
    };

    let (status, code_of, message) = refused(try_enrol(None).await.unwrap_err());
    assert_eq!((status, code_of.as_str()), (403, "attestation_required"));
    assert!(message.contains("test_platform"), "{message}");

    let other = Phone::new();
    let (others_challenge, _) = challenge(&server, &other, code).await;
    let (c_b, _) = challenge(&server, &phone, "A-E1001-0002").await;
    let mut garbled = phone.attest(&c, "trusted", APP);
    garbled.challenge = format!("{c}x");
    let mut tampered_org = phone.attest(&c, "trusted", APP);
    tampered_org.challenge = c.replacen("harbour-lane", "kowloon-bakery", 1);
    let mut unsupported = phone.attest(&c, "trusted", APP);
    unsupported.format = "android_key_attestation".into();
    let cases = [
        (garbled, "attestation_challenge_invalid"),
        (tampered_org, "attestation_challenge_invalid"),
        // A challenge issued for another phone's key, or for another code.
        (
            phone.attest(&others_challenge, "trusted", APP),
            "attestation_challenge_invalid",
        ),
        (
            phone.attest(&c_b, "trusted", APP),
            "attestation_challenge_invalid",
        ),
        // Made on another phone for its own key (a relayed token), sent with this key.
        (
            {
                let mut relayed = other.attest(&others_challenge, "trusted", APP);
                relayed.challenge = c.clone();
                relayed
            },
            "attestation_nonce_mismatch",
        ),
        (
            phone.attest(&c, "trusted", "com.example.repackaged"),
            "attestation_wrong_app",
        ),
        (phone.attest(&c, "rooted", APP), "attestation_not_trusted"),
        (unsupported, "attestation_format_unsupported"),
        (
            Attestation {
                format: "test_platform".into(),
                challenge: c.clone(),
                token: "garbage".into(),
            },
            "attestation_malformed",
        ),
    ];
    for (attestation, expected) in cases {
        let (status, code_of, message) =
            refused(try_enrol(Some(attestation.clone())).await.unwrap_err());
        assert_eq!(
            (status, code_of.as_str()),
            (403, expected),
            "{attestation:?}: {message}"
        );
    }
    assert!(devices(&server).await.is_empty(), "nothing was stored");

    // Past its ten minutes, the challenge is refused; a new one works.
    offset.store(
        Duration::minutes(10).num_milliseconds() + 1_000,
        Ordering::SeqCst,
    );
    let (status, code_of, message) = refused(
        try_enrol(Some(phone.attest(&c, "trusted", APP)))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (status, code_of.as_str()),
        (403, "attestation_challenge_expired")
    );
    assert!(message.contains("new one"), "{message}");
    let (fresh, _) = challenge(&server, &phone, code).await;
    let enrolled = try_enrol(Some(phone.attest(&fresh, "trusted", APP)))
        .await
        .unwrap();
    assert_eq!(enrolled.employee_id, "E1001");

    let listed = devices(&server).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["attestation"],
        json!({"format": "test_platform", "passed": true, "detail": format!("{APP}: TRUSTED")})
    );
    // The same request again (its answer lost) is the same device, as without attestation,
    // though the challenge in it has expired by then.
    offset.store(Duration::hours(2).num_milliseconds(), Ordering::SeqCst);
    let again = try_enrol(Some(phone.attest(&fresh, "trusted", APP)))
        .await
        .unwrap();
    assert_eq!(again.device_id, enrolled.device_id);
    // A used code is refused as before, attested or not.
    let (status, code_of, _) = refused(
        client
            .enroll(&other.enroll(code, Some(other.attest(&others_challenge, "trusted", APP))))
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code_of.as_str()), (409, "enrollment_code_used"));
}

#[tokio::test]
async fn optional_attestation_is_recorded_whatever_it_says_and_off_ignores_it() {
    let server = server_with_clock(Arc::default()).await;
    let client = server.client();
    // Off (no section): an attestation sent is not looked at, and nothing is recorded.
    let phone = Phone::new();
    let (c, rule) = challenge(&server, &phone, "A-E1001-0001").await;
    assert_eq!(rule, AttestationRule::Off);
    client
        .enroll(&phone.enroll("A-E1001-0001", Some(phone.attest(&c, "rooted", APP))))
        .await
        .unwrap();

    let (status, body) = publish_enrolment(
        &server,
        43,
        json!({"attestation": "optional", "ios_app_ids": ["A1B2C3D4E5.hk.harbourlane.staff"], "android_packages": [APP]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let failing = Phone::new();
    let (c, rule) = challenge(&server, &failing, "A-E1001-0002").await;
    assert_eq!(rule, AttestationRule::Optional);
    client
        .enroll(&failing.enroll("A-E1001-0002", Some(failing.attest(&c, "rooted", APP))))
        .await
        .unwrap();
    let passing = Phone::new();
    let (c, _) = challenge(&server, &passing, "A-E1001-0003").await;
    client
        .enroll(&passing.enroll(
            "A-E1001-0003",
            Some(passing.attest(&c, "trusted", "A1B2C3D4E5.hk.harbourlane.staff")),
        ))
        .await
        .unwrap();
    let without = Phone::new();
    client
        .enroll(&without.enroll("A-E1001-0004", None))
        .await
        .unwrap();

    let listed = devices(&server).await;
    let attestations: Vec<&Value> = listed.iter().map(|d| &d["attestation"]).collect();
    assert_eq!(attestations[0], &Value::Null, "off: not looked at");
    assert_eq!(attestations[1]["passed"], json!(false));
    assert!(
        attestations[1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("attestation_not_trusted: "),
        "{}",
        attestations[1]
    );
    assert_eq!(
        attestations[2]["detail"],
        json!("A1B2C3D4E5.hk.harbourlane.staff: TRUSTED")
    );
    assert_eq!(attestations[3], &Value::Null, "none sent");
}

#[tokio::test]
async fn a_policy_asking_for_attestation_must_name_the_app() {
    let server = server_with_clock(Arc::default()).await;
    for (enrolment, path) in [
        (json!({"attestation": "required"}), "enrolment.attestation"),
        (
            json!({"attestation": "always", "android_packages": [APP]}),
            "enrolment.attestation",
        ),
        (
            json!({"attestation": "optional", "android_packages": ["staff"]}),
            "enrolment.android_packages[0]",
        ),
        (
            json!({"attestation": "optional", "android_packages": [APP, APP]}),
            "enrolment.android_packages[1]",
        ),
        (
            json!({"attestation": "optional", "ios_app_ids": ["hk.harbourlane.staff"]}),
            "enrolment.ios_app_ids[0]",
        ),
        (
            json!({"attestation": "optional", "ios_app_ids": []}),
            "enrolment.attestation",
        ),
        (json!({"attestation": "off", "apps": []}), "enrolment.apps"),
        (json!("required"), "enrolment"),
    ] {
        let (status, body) = publish_enrolment(&server, 43, enrolment.clone()).await;
        assert_eq!(status, 400, "{enrolment}: {body}");
        assert_eq!(body["code"], "invalid_policy", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(path),
            "{enrolment}: {path} in {body}"
        );
    }
    let (status, body) = publish_enrolment(&server, 43, json!({"attestation": "off"})).await;
    assert_eq!(status, 200, "{body}");
}
