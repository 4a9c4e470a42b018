//! App Attest attestations recorded from real devices (tests/fixtures/app_attest/README.md),
//! verified with the built-in Apple App Attestation Root CA.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use daka_attest::app_attest::{AppAttestVerifier, Environment};
use daka_attest::{AttestationError, AttestationVerifier, Expected, Verifiers};
use ring::digest::{SHA256, digest};
use std::sync::Arc;

/// The team id and bundle id of the app that made the recordings.
const APP_ID: &str = "V8H6LQ9448.io.uebelacker.AppAttestExample";

/// A recorded attestation: the token, the challenge it was made for and the key id the device
/// reported.
struct Recording {
    attestation: String,
    nonce: [u8; 32],
    key_id: String,
}

/// The recording's clientDataHash was SHA-256 of the challenge's bytes: that is the nonce a
/// server expects.
fn recording(json: &str) -> Recording {
    let value: serde_json::Value = serde_json::from_str(json).expect("fixture JSON");
    let field = |name: &str| value[name].as_str().expect("fixture field").to_string();
    let challenge = STANDARD
        .decode(field("challenge"))
        .expect("challenge base64");
    let mut nonce = [0; 32];
    nonce.copy_from_slice(digest(&SHA256, &challenge).as_ref());
    Recording {
        attestation: field("attestation"),
        nonce,
        key_id: field("keyId"),
    }
}

fn development() -> Recording {
    recording(include_str!(
        "fixtures/app_attest/attestation-development.json"
    ))
}

fn production() -> Recording {
    recording(include_str!(
        "fixtures/app_attest/attestation-production.json"
    ))
}

/// A time inside both recordings' credential certificates (from 2024-02-06 21:08:56 to
/// 2024-12-21 12:42:56 for the shorter one).
fn when_recorded() -> DateTime<Utc> {
    "2024-06-01T00:00:00Z".parse().expect("time")
}

fn app_ids() -> Vec<String> {
    vec![
        "ABCDE12345.com.example.other".to_string(),
        APP_ID.to_string(),
    ]
}

fn expected<'a>(nonce: &'a [u8; 32], app_ids: &'a [String], now: DateTime<Utc>) -> Expected<'a> {
    Expected {
        nonce,
        android_packages: &[],
        ios_app_ids: app_ids,
        now,
    }
}

#[test]
fn a_recorded_development_attestation_verifies_with_apples_root() {
    let recorded = development();
    let app_ids = app_ids();
    let verifier = AppAttestVerifier::apple(Environment::Development);
    let attested = verifier
        .verify(
            &recorded.attestation,
            &expected(&recorded.nonce, &app_ids, when_recorded()),
        )
        .expect("verifies");
    assert_eq!(attested.format, "app_attest");
    assert_eq!(attested.app_id, APP_ID);
    assert_eq!(
        attested.summary,
        format!(
            "development, key id {}, receipt 3759 bytes",
            recorded.key_id
        )
    );
}

#[test]
fn a_recorded_production_attestation_verifies_in_either_environment() {
    let recorded = production();
    let app_ids = app_ids();
    for environment in [Environment::Production, Environment::Development] {
        let attestation = AppAttestVerifier::apple(environment)
            .verify_attestation(
                &recorded.attestation,
                &expected(&recorded.nonce, &app_ids, when_recorded()),
            )
            .expect("verifies");
        assert_eq!(attestation.environment, Environment::Production);
        assert_eq!(attestation.app_id, APP_ID);
        assert_eq!(attestation.key_id_base64(), recorded.key_id);
        assert_eq!(attestation.public_key.len(), 65);
        assert_eq!(
            digest(&SHA256, &attestation.public_key).as_ref(),
            attestation.key_id
        );
    }
}

#[test]
fn a_recorded_development_attestation_is_refused_in_production() {
    let recorded = development();
    let app_ids = app_ids();
    let result = AppAttestVerifier::apple(Environment::Production).verify(
        &recorded.attestation,
        &expected(&recorded.nonce, &app_ids, when_recorded()),
    );
    assert!(
        matches!(result, Err(AttestationError::NotTrusted { .. })),
        "{result:?}"
    );
}

#[test]
fn a_recording_for_another_challenge_is_a_nonce_mismatch() {
    let recorded = production();
    let app_ids = app_ids();
    let other = development().nonce;
    let result = AppAttestVerifier::apple(Environment::Production).verify(
        &recorded.attestation,
        &expected(&other, &app_ids, when_recorded()),
    );
    assert_eq!(result, Err(AttestationError::NonceMismatch));
}

#[test]
fn a_recording_of_another_app_is_the_wrong_app() {
    let recorded = production();
    let app_ids = vec!["V8H6LQ9448.io.uebelacker.Other".to_string()];
    let result = AppAttestVerifier::apple(Environment::Production).verify(
        &recorded.attestation,
        &expected(&recorded.nonce, &app_ids, when_recorded()),
    );
    let Err(AttestationError::WrongApp { app_id }) = result else {
        panic!("{result:?}");
    };
    let rp_id_hash = digest(&SHA256, APP_ID.as_bytes());
    let hex: String = rp_id_hash
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(app_id, format!("rpIdHash {hex}"));
}

#[test]
fn a_recording_after_its_certificate_expired_is_not_authentic() {
    let recorded = production();
    let app_ids = app_ids();
    let after: DateTime<Utc> = "2024-12-22T00:00:00Z".parse().expect("time");
    let result = AppAttestVerifier::apple(Environment::Production).verify(
        &recorded.attestation,
        &expected(&recorded.nonce, &app_ids, after),
    );
    let Err(AttestationError::NotAuthentic { reason }) = result else {
        panic!("{result:?}");
    };
    assert!(
        reason.contains("x5c[0]") && reason.contains("expired"),
        "{reason}"
    );
}

#[test]
fn a_recording_does_not_verify_against_another_root() {
    let recorded = production();
    let app_ids = app_ids();
    // The recording's own intermediate as the root: x5c[1] is not issued by it.
    let object = STANDARD.decode(&recorded.attestation).expect("base64");
    let intermediate_at = object
        .windows(4)
        .rposition(|window| window == [0x59, 0x02, 0x47, 0x30])
        .expect("the intermediate's CBOR header");
    let intermediate = object[intermediate_at + 3..intermediate_at + 3 + 0x247].to_vec();
    let result = AppAttestVerifier::new(intermediate, Environment::Production).verify(
        &recorded.attestation,
        &expected(&recorded.nonce, &app_ids, when_recorded()),
    );
    let Err(AttestationError::NotAuthentic { reason }) = result else {
        panic!("{result:?}");
    };
    assert!(reason.contains("x5c[1]"), "{reason}");
}

#[test]
fn the_registry_dispatches_app_attest() {
    let recorded = production();
    let app_ids = app_ids();
    let verifiers =
        Verifiers::new().with(Arc::new(AppAttestVerifier::apple(Environment::Production)));
    assert_eq!(verifiers.formats(), vec!["app_attest".to_string()]);
    let attested = verifiers
        .verify(
            "app_attest",
            &recorded.attestation,
            &expected(&recorded.nonce, &app_ids, when_recorded()),
        )
        .expect("verifies");
    assert_eq!(attested.app_id, APP_ID);
}

#[cfg(feature = "test-tokens")]
#[test]
fn the_test_authority_makes_tokens_that_only_its_root_accepts() {
    use daka_attest::app_attest::testing::TestAuthority;

    let authority = TestAuthority::generate();
    let nonce = [5; 32];
    let app_ids = vec![APP_ID.to_string()];
    let token = authority.attestation(APP_ID, &nonce, Environment::Production);
    let now = Utc::now();
    let verifier = authority.verifier(Environment::Production);
    assert_eq!(verifier.root_ca_der(), authority.root_der());
    let attested = verifier
        .verify(&token, &expected(&nonce, &app_ids, now))
        .expect("verifies");
    assert_eq!(attested.app_id, APP_ID);
    let result = AppAttestVerifier::apple(Environment::Production)
        .verify(&token, &expected(&nonce, &app_ids, now));
    assert!(
        matches!(result, Err(AttestationError::NotAuthentic { .. })),
        "{result:?}"
    );
}
