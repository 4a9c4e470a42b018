//! Android key attestation: chains recorded from real devices
//! (tests/fixtures/key_attestation/README.md), verified with the built-in Google roots, and
//! chains of the test keystore.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use daka_attest::key_attestation::testing::TestKeystore;
use daka_attest::key_attestation::{
    KeyAttestation, KeyAttestationConfig, KeyAttestationVerifier, MAX_CERTIFICATES, SecurityLevel,
    VerifiedBootState,
};
use daka_attest::{AttestationError, AttestationVerifier, Attested, Expected, Verifiers};
use proptest::prelude::*;
use std::sync::{Arc, LazyLock};

const PACKAGE: &str = "hk.example.staff";
const NONCE: [u8; 32] = [7; 32];

static KEYSTORE: LazyLock<TestKeystore> = LazyLock::new(TestKeystore::generate);

/// A recorded chain: the token an app would send, and what its key description says.
struct Recording {
    token: String,
    challenge: Vec<u8>,
    package: String,
    signature_digest: String,
}

/// The token of a PEM chain (leaf first): each certificate's base64, joined with `.`.
fn pem_token(pem: &str) -> String {
    pem.split("-----END CERTIFICATE-----")
        .filter_map(|block| block.split("-----BEGIN CERTIFICATE-----").nth(1))
        .map(|body| body.split_whitespace().collect::<String>())
        .collect::<Vec<_>>()
        .join(".")
}

/// Reads a chain (PEM, leaf first) and its description (JSON) as the fixtures hold them.
fn recording(pem: &str, json: &str) -> Recording {
    let value: serde_json::Value = serde_json::from_str(json).expect("fixture JSON");
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| panic!("fixture field {pointer}"))
            .to_string()
    };
    let application_id = "/softwareEnforced/attestationApplicationId";
    Recording {
        token: pem_token(pem),
        challenge: STANDARD
            .decode(text("/attestationChallenge"))
            .expect("challenge base64"),
        package: text(&format!("{application_id}/packages/0/name")),
        signature_digest: text(&format!("{application_id}/signatures/0")),
    }
}

/// A Sony Xperia 10 III (Keymaster 4.1, TEE), factory provisioned under Google's RSA root;
/// its challenge is 32 bytes.
fn sony() -> Recording {
    recording(
        include_str!("fixtures/key_attestation/sony-xperia10-iii-tee-ec.pem"),
        include_str!("fixtures/key_attestation/sony-xperia10-iii-tee-ec.json"),
    )
}

/// A Pixel 9a (KeyMint 3, StrongBox), remotely provisioned under Google's 2026 EC root; its
/// challenge is 36 bytes.
fn tegu() -> Recording {
    recording(
        include_str!("fixtures/key_attestation/tegu-strongbox-ec-2026-root.pem"),
        include_str!("fixtures/key_attestation/tegu-strongbox-ec-2026-root.json"),
    )
}

/// A time inside the Sony chain's certificates (its intermediates: 2016-05-26 to 2026-05-24)
/// and Google's RSA root (from 2022-03-20).
fn when_sony_recorded() -> DateTime<Utc> {
    "2023-08-01T00:00:00Z".parse().expect("time")
}

/// A time inside the Pixel chain's certificates (its shortest: 2026-02-22 to 2026-03-06).
fn when_tegu_recorded() -> DateTime<Utc> {
    "2026-02-25T12:00:00Z".parse().expect("time")
}

fn nonce_of(challenge: &[u8]) -> [u8; 32] {
    challenge.try_into().expect("a 32-byte challenge")
}

fn verify_at(
    verifier: &KeyAttestationVerifier,
    token: &str,
    nonce: &[u8; 32],
    packages: &[&str],
    now: DateTime<Utc>,
) -> Result<KeyAttestation, AttestationError> {
    let packages: Vec<String> = packages.iter().map(ToString::to_string).collect();
    verifier.verify_attestation(
        token,
        &Expected {
            nonce,
            android_packages: &packages,
            ios_app_ids: &[],
            now,
        },
    )
}

fn verify_sony(
    verifier: &KeyAttestationVerifier,
    nonce: &[u8; 32],
    package: &str,
) -> Result<KeyAttestation, AttestationError> {
    verify_at(
        verifier,
        &sony().token,
        nonce,
        &["hk.example.other", package],
        when_sony_recorded(),
    )
}

/// Verifies a test keystore token for [`NONCE`] and [`PACKAGE`] with `verifier`.
fn verify_with(
    verifier: &KeyAttestationVerifier,
    token: &str,
) -> Result<Attested, AttestationError> {
    let packages = vec![PACKAGE.to_string()];
    verifier.verify(
        token,
        &Expected {
            nonce: &NONCE,
            android_packages: &packages,
            ios_app_ids: &[],
            now: Utc::now(),
        },
    )
}

fn verify(token: &str) -> Result<Attested, AttestationError> {
    verify_with(&KEYSTORE.verifier(), token)
}

fn chain(security_level: SecurityLevel, verified_boot: VerifiedBootState, locked: bool) -> String {
    KEYSTORE.chain(PACKAGE, &NONCE, security_level, verified_boot, locked)
}

fn tee_chain() -> String {
    chain(
        SecurityLevel::TrustedEnvironment,
        VerifiedBootState::Verified,
        true,
    )
}

fn malformed_reason<T: std::fmt::Debug>(result: Result<T, AttestationError>) -> String {
    match result {
        Err(AttestationError::Malformed { reason }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn not_authentic_reason<T: std::fmt::Debug>(result: Result<T, AttestationError>) -> String {
    match result {
        Err(AttestationError::NotAuthentic { reason }) => reason,
        other => panic!("expected NotAuthentic, got {other:?}"),
    }
}

fn not_trusted_verdict<T: std::fmt::Debug>(result: Result<T, AttestationError>) -> String {
    match result {
        Err(AttestationError::NotTrusted { verdict }) => verdict,
        other => panic!("expected NotTrusted, got {other:?}"),
    }
}

#[test]
fn a_recorded_sony_chain_verifies_with_googles_roots() {
    let recorded = sony();
    let nonce = nonce_of(&recorded.challenge);
    let verifier = KeyAttestationVerifier::google();
    let attestation = verify_sony(&verifier, &nonce, &recorded.package).expect("verifies");
    assert_eq!(attestation.package_name, "com.android.vending");
    assert_eq!(
        (
            attestation.attestation_version,
            attestation.key_mint_version
        ),
        (3, 41)
    );
    assert_eq!(
        attestation.attested(),
        Attested {
            format: "android_key_attestation".to_string(),
            app_id: "com.android.vending".to_string(),
            summary: "TrustedEnvironment, verified boot, locked, Keymaster v4.1".to_string(),
        }
    );
    let verifiers = Verifiers::new().with(Arc::new(verifier));
    let packages = vec![recorded.package.clone()];
    let attested = verifiers
        .verify(
            "android_key_attestation",
            &recorded.token,
            &Expected {
                nonce: &nonce,
                android_packages: &packages,
                ios_app_ids: &[],
                now: when_sony_recorded(),
            },
        )
        .expect("verifies through the registry");
    assert_eq!(attested.app_id, "com.android.vending");
}

#[test]
fn the_recorded_sony_chain_is_bound_to_its_challenge_and_app() {
    let recorded = sony();
    let nonce = nonce_of(&recorded.challenge);
    let verifier = KeyAttestationVerifier::google();
    let mut other = nonce;
    other[0] ^= 1;
    assert_eq!(
        verify_sony(&verifier, &other, &recorded.package),
        Err(AttestationError::NonceMismatch)
    );
    assert_eq!(
        verify_sony(&verifier, &nonce, PACKAGE),
        Err(AttestationError::WrongApp {
            app_id: "com.android.vending".to_string()
        })
    );
}

#[test]
fn the_recorded_sony_chain_meets_or_fails_the_configured_requirements() {
    let recorded = sony();
    let nonce = nonce_of(&recorded.challenge);
    let signer = KeyAttestationVerifier::from_config(&KeyAttestationConfig {
        certificate_sha256_digests: vec![recorded.signature_digest.clone()],
        ..KeyAttestationConfig::default()
    })
    .expect("config");
    verify_sony(&signer, &nonce, &recorded.package).expect("its signer is configured");
    let other_signer =
        KeyAttestationVerifier::google().with_certificate_sha256_digests(vec![[1; 32]]);
    let verdict = not_trusted_verdict(verify_sony(&other_signer, &nonce, &recorded.package));
    let found: String = STANDARD
        .decode(&recorded.signature_digest)
        .expect("digest base64")
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert!(verdict.contains(&found), "{verdict}");
    let strongbox = KeyAttestationVerifier::google().with_require_strongbox(true);
    let verdict = not_trusted_verdict(verify_sony(&strongbox, &nonce, &recorded.package));
    assert!(verdict.contains("StrongBox is required"), "{verdict}");
}

/// The Sony's factory intermediates expired on 2026-05-24 while the phone is still in use:
/// by default the chain verifies after that, as with Google's own verifier; a verifier told
/// to check certificate dates refuses it.
#[test]
fn the_recorded_sony_chain_verifies_after_its_intermediates_expired_unless_dates_are_checked() {
    let recorded = sony();
    let nonce = nonce_of(&recorded.challenge);
    let after = "2026-12-01T00:00:00Z".parse().expect("time");
    let attested = verify_at(
        &KeyAttestationVerifier::google(),
        &recorded.token,
        &nonce,
        &[recorded.package.as_str()],
        after,
    )
    .expect("dates are not checked by default");
    assert_eq!(attested.package_name, recorded.package);
    let verifier = KeyAttestationVerifier::google().with_check_certificate_dates(true);
    let reason = not_authentic_reason(verify_at(
        &verifier,
        &recorded.token,
        &nonce,
        &[recorded.package.as_str()],
        after,
    ));
    assert!(
        reason.contains("chain[1] expired at May 24 17:19:00 2026"),
        "{reason}"
    );
}

#[test]
fn the_recorded_sony_chain_is_not_authentic_under_another_root() {
    let recorded = sony();
    let nonce = nonce_of(&recorded.challenge);
    let reason = not_authentic_reason(verify_sony(&KEYSTORE.verifier(), &nonce, &recorded.package));
    assert!(
        reason.contains("chain[3] names `serialNumber=f92009e853b6b045` as its issuer"),
        "{reason}"
    );
}

/// The Pixel's challenge is not 32 bytes, so no server nonce matches it: its chain verifies
/// up to Google's 2026 root (anything else would be NotAuthentic) and then stops at the nonce.
/// The unit tests read its key description in full.
#[test]
fn a_recorded_pixel_chain_to_googles_2026_root_verifies_up_to_the_nonce() {
    let recorded = tegu();
    assert_eq!(recorded.challenge.len(), 36);
    let mut nonce = [0; 32];
    nonce.copy_from_slice(&recorded.challenge[..32]);
    let verifier = KeyAttestationVerifier::google();
    let packages = [recorded.package.as_str()];
    let result = verify_at(
        &verifier,
        &recorded.token,
        &nonce,
        &packages,
        when_tegu_recorded(),
    );
    assert_eq!(result, Err(AttestationError::NonceMismatch));
    let later = "2026-12-05T00:00:00Z".parse().expect("time");
    let reason = not_authentic_reason(verify_at(
        &verifier.with_check_certificate_dates(true),
        &recorded.token,
        &nonce,
        &packages,
        later,
    ));
    assert!(reason.contains("expired"), "{reason}");
}

/// The chain with a BER `BOOLEAN` (0x01) in its root of trust, under the 2019 copy of Google's
/// RSA root; its challenge is 89 bytes.
#[test]
fn a_recorded_chain_with_a_ber_boolean_verifies_up_to_the_nonce() {
    let pem = include_str!("fixtures/key_attestation/ber-boolean-device-locked.pem");
    let token = pem_token(pem);
    assert_eq!(token.split('.').count(), 4);
    let now = "2026-02-15T00:00:00Z".parse().expect("time");
    let result = verify_at(
        &KeyAttestationVerifier::google(),
        &token,
        &NONCE,
        &["com.google.android.apps.photos"],
        now,
    );
    assert_eq!(result, Err(AttestationError::NonceMismatch));
}

#[test]
fn tee_and_strongbox_chains_of_the_test_keystore_verify() {
    let attested = verify(&tee_chain()).expect("verifies");
    assert_eq!(
        attested,
        Attested {
            format: "android_key_attestation".to_string(),
            app_id: PACKAGE.to_string(),
            summary: "TrustedEnvironment, verified boot, locked, KeyMint v3".to_string(),
        }
    );
    let strongbox = chain(SecurityLevel::StrongBox, VerifiedBootState::Verified, true);
    let verifier = KEYSTORE.verifier().with_require_strongbox(true);
    let attested = verify_with(&verifier, &strongbox).expect("verifies");
    assert_eq!(
        attested.summary,
        "StrongBox, verified boot, locked, KeyMint v3"
    );
}

#[test]
fn another_nonce_is_a_nonce_mismatch() {
    let token = KEYSTORE.chain(
        PACKAGE,
        &[8; 32],
        SecurityLevel::TrustedEnvironment,
        VerifiedBootState::Verified,
        true,
    );
    assert_eq!(verify(&token), Err(AttestationError::NonceMismatch));
}

#[test]
fn another_package_is_the_wrong_app() {
    let token = KEYSTORE.chain(
        "hk.example.evil",
        &NONCE,
        SecurityLevel::TrustedEnvironment,
        VerifiedBootState::Verified,
        true,
    );
    assert_eq!(
        verify(&token),
        Err(AttestationError::WrongApp {
            app_id: "hk.example.evil".to_string()
        })
    );
}

#[test]
fn software_keys_unverified_boots_and_unlocked_bootloaders_are_not_trusted() {
    let cases = [
        (
            chain(SecurityLevel::Software, VerifiedBootState::Verified, true),
            "attestationSecurityLevel Software",
        ),
        (
            chain(
                SecurityLevel::TrustedEnvironment,
                VerifiedBootState::Unverified,
                true,
            ),
            "verifiedBootState Unverified, deviceLocked true",
        ),
        (
            chain(
                SecurityLevel::TrustedEnvironment,
                VerifiedBootState::Verified,
                false,
            ),
            "verifiedBootState Verified, deviceLocked false",
        ),
    ];
    for (token, found) in &cases {
        let verdict = not_trusted_verdict(verify(token));
        assert!(verdict.contains(found), "`{found}` not in `{verdict}`");
    }
    let allowing = KEYSTORE.verifier().with_allow_unlocked_bootloader(true);
    for (token, _) in &cases[1..] {
        verify_with(&allowing, token).expect("allowed when configured");
    }
    let unlocked = chain(
        SecurityLevel::TrustedEnvironment,
        VerifiedBootState::Unverified,
        false,
    );
    let attested = verify_with(&allowing, &unlocked).expect("allowed when configured");
    assert_eq!(
        attested.summary,
        "TrustedEnvironment, unverified boot, unlocked, KeyMint v3"
    );
    not_trusted_verdict(verify_with(&allowing, &cases[0].0));
}

#[test]
fn a_chain_of_another_root_is_not_authentic() {
    let other = TestKeystore::generate();
    let token = other.chain(
        PACKAGE,
        &NONCE,
        SecurityLevel::TrustedEnvironment,
        VerifiedBootState::Verified,
        true,
    );
    let reason = not_authentic_reason(verify(&token));
    assert!(reason.contains("signature"), "{reason}");
    let reason = not_authentic_reason(verify_with(&KeyAttestationVerifier::google(), &tee_chain()));
    assert!(
        reason.contains("none of the 2 configured roots"),
        "{reason}"
    );
}

#[test]
fn a_broken_signature_is_not_authentic() {
    let token = tee_chain();
    let mut parts: Vec<Vec<u8>> = token
        .split('.')
        .map(|part| STANDARD.decode(part).expect("base64"))
        .collect();
    if let Some(byte) = parts[1].last_mut() {
        *byte ^= 0x01;
    }
    let broken: Vec<String> = parts.iter().map(|der| STANDARD.encode(der)).collect();
    let reason = not_authentic_reason(verify(&broken.join(".")));
    assert!(
        reason.contains("chain[1]: its signature does not verify"),
        "{reason}"
    );
}

#[test]
fn an_expired_chain_is_not_authentic_where_dates_are_checked() {
    let packages = vec![PACKAGE.to_string()];
    let result = KEYSTORE
        .verifier()
        .with_check_certificate_dates(true)
        .verify(
            &tee_chain(),
            &Expected {
                nonce: &NONCE,
                android_packages: &packages,
                ios_app_ids: &[],
                now: "2101-01-01T00:00:00Z".parse().expect("time"),
            },
        );
    let reason = not_authentic_reason(result);
    assert!(reason.contains("expired"), "{reason}");
}

#[test]
fn garbage_is_malformed_naming_the_part() {
    let token = tee_chain();
    let parts: Vec<&str> = token.split('.').collect();
    let eleven = [parts[1]; MAX_CERTIFICATES + 1].join(".");
    let truncated = |part: &str| part[..part.len() / 2 / 4 * 4].to_string();
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "the token is empty"),
        ("%%%".to_string(), "chain[0] is not base64"),
        (format!("{}.not*base64", parts[0]), "chain[1] is not base64"),
        (eleven, "more than the 10 accepted"),
        (
            format!("{}.{}", parts[0], STANDARD.encode(b"not DER")),
            "chain[1] is not a DER X.509 certificate",
        ),
        (
            truncated(parts[0]),
            "chain[0] (the leaf) is not a DER X.509 certificate",
        ),
        (
            format!("{}.{}", parts[0], truncated(parts[1])),
            "chain[1] is not a DER X.509 certificate",
        ),
        (parts[1..].join("."), "has no key description extension"),
    ];
    for (token, part) in cases {
        let reason = malformed_reason(verify(&token));
        assert!(reason.contains(part), "`{part}` not in `{reason}`");
    }
}

proptest! {
    #[test]
    fn arbitrary_strings_never_verify(token in ".{0,400}") {
        prop_assert!(verify(&token).is_err());
        prop_assert!(verify_with(&KeyAttestationVerifier::google(), &token).is_err());
    }

    #[test]
    fn arbitrary_dotted_base64_never_verifies(token in "[A-Za-z0-9+/=._-]{0,400}") {
        prop_assert!(verify(&token).is_err());
    }
}
