//! Play Integrity tokens verified locally: the happy path, every refusal with the field and
//! value it names, tampering, foreign keys and headers, garbage, time boundaries, the
//! configuration's errors, and a recorded token checked at its recorded time.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use daka_attest::play_integrity::testing::{self, TEST_CERTIFICATE_SHA256, TestKeys};
use daka_attest::play_integrity::{DeviceIntegrity, PlayIntegrityApp, PlayIntegrityVerifier};
use daka_attest::{
    AttestationError, AttestationVerifier, Attested, ConfigError, Expected, Verifiers,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const PACKAGE: &str = "hk.example.staff";

fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

/// One app's keys, a verifier of its tokens and what the server expects.
struct Case {
    keys: TestKeys,
    verifier: PlayIntegrityVerifier,
    nonce: [u8; 32],
    now: DateTime<Utc>,
    packages: Vec<String>,
}

impl Case {
    fn new() -> Self {
        let keys = TestKeys::generate();
        let verifier = PlayIntegrityVerifier::new(vec![keys.app(PACKAGE)]).unwrap();
        Self {
            keys,
            verifier,
            nonce: std::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(3)),
            now: time("2025-06-02T09:00:00Z"),
            packages: vec![PACKAGE.to_string()],
        }
    }

    fn with_verifier(
        mut self,
        f: impl FnOnce(PlayIntegrityVerifier) -> PlayIntegrityVerifier,
    ) -> Self {
        let verifier = PlayIntegrityVerifier::new(vec![self.keys.app(PACKAGE)]).unwrap();
        self.verifier = f(verifier);
        self
    }

    fn expected(&self) -> Expected<'_> {
        Expected {
            nonce: &self.nonce,
            android_packages: &self.packages,
            ios_app_ids: &[],
            now: self.now,
        }
    }

    /// A verdict that passes, made at the server's time.
    fn payload(&self) -> Value {
        testing::payload(PACKAGE, &self.nonce, self.now)
    }

    fn verify(&self, payload: &Value) -> Result<Attested, AttestationError> {
        self.verify_token(&self.keys.token(payload))
    }

    fn verify_token(&self, token: &str) -> Result<Attested, AttestationError> {
        self.verifier.verify(token, &self.expected())
    }

    /// `payload` with the member at the JSON pointer `at` set to `value` (made if missing).
    fn verify_with(&self, at: &str, value: Value) -> Result<Attested, AttestationError> {
        let mut payload = self.payload();
        set(&mut payload, at, value);
        self.verify(&payload)
    }

    /// `payload` without the member at the JSON pointer `at`.
    fn verify_without(&self, at: &str) -> Result<Attested, AttestationError> {
        let mut payload = self.payload();
        remove(&mut payload, at);
        self.verify(&payload)
    }
}

fn set(payload: &mut Value, at: &str, value: Value) {
    let (parent, key) = at.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        payload
    } else {
        payload.pointer_mut(parent).unwrap()
    };
    parent
        .as_object_mut()
        .unwrap()
        .insert(key.to_string(), value);
}

fn remove(payload: &mut Value, at: &str) {
    let (parent, key) = at.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        payload
    } else {
        payload.pointer_mut(parent).unwrap()
    };
    assert!(
        parent.as_object_mut().unwrap().remove(key).is_some(),
        "{at}"
    );
}

fn malformed(result: Result<Attested, AttestationError>) -> String {
    match result {
        Err(AttestationError::Malformed { reason }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn not_authentic(result: Result<Attested, AttestationError>) -> String {
    match result {
        Err(AttestationError::NotAuthentic { reason }) => reason,
        other => panic!("expected NotAuthentic, got {other:?}"),
    }
}

fn not_trusted(result: Result<Attested, AttestationError>) -> String {
    match result {
        Err(AttestationError::NotTrusted { verdict }) => verdict,
        other => panic!("expected NotTrusted, got {other:?}"),
    }
}

fn wrong_app(result: Result<Attested, AttestationError>) -> String {
    match result {
        Err(AttestationError::WrongApp { app_id }) => app_id,
        other => panic!("expected WrongApp, got {other:?}"),
    }
}

fn stale(result: Result<Attested, AttestationError>) -> i64 {
    match result {
        Err(AttestationError::Stale { age_s }) => age_s,
        other => panic!("expected Stale, got {other:?}"),
    }
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `token` with its segment `index` replaced by `segment`.
fn replace_segment(token: &str, index: usize, segment: &str) -> String {
    let mut segments: Vec<&str> = token.split('.').collect();
    segments[index] = segment;
    segments.join(".")
}

// ---------------------------------------------------------------------------------------------
// The happy path

#[test]
fn a_token_that_passes_every_check_is_attested() {
    let case = Case::new();
    let attested = case.verify(&case.payload()).unwrap();
    assert_eq!(
        attested,
        Attested {
            format: "play_integrity".to_string(),
            app_id: PACKAGE.to_string(),
            summary: "MEETS_DEVICE_INTEGRITY, PLAY_RECOGNIZED, LICENSED".to_string(),
        }
    );
    assert_eq!(case.verifier.format(), "play_integrity");
}

#[test]
fn the_registry_hands_play_integrity_tokens_to_the_verifier() {
    let case = Case::new();
    let token = case.keys.token(&case.payload());
    let verifiers = Verifiers::new().with(Arc::new(case.verifier));
    let expected = Expected {
        nonce: &case.nonce,
        android_packages: &case.packages,
        ios_app_ids: &[],
        now: case.now,
    };
    assert!(verifiers.formats().contains(&"play_integrity".to_string()));
    assert_eq!(
        verifiers
            .verify("play_integrity", &token, &expected)
            .unwrap()
            .app_id,
        PACKAGE
    );
}

#[test]
fn the_summary_lists_every_device_verdict_and_the_licensing_verdict_if_any() {
    let case = Case::new();
    let mut payload = case.payload();
    set(
        &mut payload,
        "/deviceIntegrity/deviceRecognitionVerdict",
        json!([
            "MEETS_BASIC_INTEGRITY",
            "MEETS_DEVICE_INTEGRITY",
            "MEETS_STRONG_INTEGRITY"
        ]),
    );
    remove(&mut payload, "/accountDetails");
    assert_eq!(
        case.verify(&payload).unwrap().summary,
        "MEETS_BASIC_INTEGRITY, MEETS_DEVICE_INTEGRITY, MEETS_STRONG_INTEGRITY, PLAY_RECOGNIZED"
    );
}

#[test]
fn unknown_fields_and_nulls_are_ignored() {
    let case = Case::new();
    let mut payload = case.payload();
    set(
        &mut payload,
        "/environmentDetails",
        json!({"playProtectVerdict": "NO_ISSUES"}),
    );
    set(
        &mut payload,
        "/requestDetails/requestHash",
        json!("aGVsbG8"),
    );
    set(
        &mut payload,
        "/deviceIntegrity/recentDeviceActivity",
        json!({"deviceActivityLevel": "LEVEL_1"}),
    );
    set(&mut payload, "/accountDetails", Value::Null);
    assert_eq!(
        case.verify(&payload).unwrap().summary,
        "MEETS_DEVICE_INTEGRITY, PLAY_RECOGNIZED"
    );
}

#[test]
fn a_verifier_of_several_apps_opens_each_with_its_own_keys() {
    let first = TestKeys::generate();
    let second = TestKeys::generate();
    let verifier = PlayIntegrityVerifier::new(vec![
        first.app("hk.example.staff"),
        second.app("hk.example.kiosk"),
    ])
    .unwrap();
    assert_eq!(
        verifier.packages().collect::<Vec<_>>(),
        ["hk.example.staff", "hk.example.kiosk"]
    );
    let nonce = [9u8; 32];
    let now = time("2025-06-02T09:00:00Z");
    let packages = [
        "hk.example.staff".to_string(),
        "hk.example.kiosk".to_string(),
    ];
    let expected = Expected {
        nonce: &nonce,
        android_packages: &packages,
        ios_app_ids: &[],
        now,
    };
    let kiosk = second.token(&testing::payload("hk.example.kiosk", &nonce, now));
    assert_eq!(
        verifier.verify(&kiosk, &expected).unwrap().app_id,
        "hk.example.kiosk"
    );

    // Opened with the kiosk app's keys, the token must name the kiosk app, even though the
    // organisation allows the staff app too.
    let crossed = second.token(&testing::payload("hk.example.staff", &nonce, now));
    assert_eq!(
        wrong_app(verifier.verify(&crossed, &expected)),
        "hk.example.staff"
    );
}

// ---------------------------------------------------------------------------------------------
// The nonce

#[test]
fn a_token_for_another_nonce_is_a_nonce_mismatch() {
    let case = Case::new();
    let mut other = case.nonce;
    other[0] ^= 0x80;
    let result = case.verify_with("/requestDetails/nonce", json!(b64(other)));
    assert_eq!(result, Err(AttestationError::NonceMismatch));
    assert_eq!(result.unwrap_err().code(), "attestation_nonce_mismatch");
    for garbage in ["", "AAAA", "not base64!", &b64(&case.nonce[..31])] {
        assert_eq!(
            case.verify_with("/requestDetails/nonce", json!(garbage)),
            Err(AttestationError::NonceMismatch),
            "{garbage:?}"
        );
    }
}

#[test]
fn the_nonce_is_checked_before_any_later_field() {
    let case = Case::new();
    let mut payload = case.payload();
    set(&mut payload, "/requestDetails/nonce", json!(b64([0u8; 32])));
    set(
        &mut payload,
        "/requestDetails/timestampMillis",
        json!("yesterday"),
    );
    set(&mut payload, "/appIntegrity", json!("UNEVALUATED"));
    set(
        &mut payload,
        "/deviceIntegrity/deviceRecognitionVerdict",
        json!(7),
    );
    assert_eq!(case.verify(&payload), Err(AttestationError::NonceMismatch));
}

#[test]
fn the_nonce_may_be_padded_or_in_the_standard_alphabet() {
    let mut case = Case::new();
    // 0xfb bytes give `-` and `_` in base64url, `+` and `/` in base64.
    case.nonce = [0xfb; 32];
    for rendering in [
        URL_SAFE_NO_PAD.encode(case.nonce),
        URL_SAFE.encode(case.nonce),
        STANDARD.encode(case.nonce),
        STANDARD_NO_PAD.encode(case.nonce),
    ] {
        assert!(
            case.verify_with("/requestDetails/nonce", json!(rendering))
                .is_ok(),
            "{rendering}"
        );
    }
}

#[test]
fn a_missing_or_mistyped_nonce_is_malformed_naming_it() {
    let case = Case::new();
    assert_eq!(
        malformed(case.verify_without("/requestDetails/nonce")),
        "requestDetails.nonce: missing"
    );
    assert_eq!(
        malformed(case.verify_with("/requestDetails/nonce", json!(5))),
        "requestDetails.nonce: expected a string, found 5"
    );
    assert_eq!(
        malformed(case.verify_without("/requestDetails")),
        "requestDetails.nonce: missing"
    );
    assert_eq!(
        malformed(case.verify_with("/requestDetails", json!(["x"]))),
        "requestDetails: expected an object, found [\"x\"]"
    );
}

// ---------------------------------------------------------------------------------------------
// The app

#[test]
fn a_package_the_organisation_does_not_allow_is_the_wrong_app() {
    let mut case = Case::new();
    case.packages = vec!["hk.example.other".to_string()];
    let error = case.verify(&case.payload()).unwrap_err();
    assert_eq!(
        error,
        AttestationError::WrongApp {
            app_id: PACKAGE.to_string()
        }
    );
    assert_eq!(error.code(), "attestation_wrong_app");
    assert!(error.to_string().contains(PACKAGE), "{error}");

    case.packages = Vec::new();
    assert_eq!(wrong_app(case.verify(&case.payload())), PACKAGE);
}

#[test]
fn a_request_package_other_than_the_configured_app_is_the_wrong_app() {
    let mut case = Case::new();
    // Allowed by the organisation, but not the app whose keys opened the token.
    case.packages.push("hk.evil.app".to_string());
    let error = case
        .verify_with("/requestDetails/requestPackageName", json!("hk.evil.app"))
        .unwrap_err();
    assert_eq!(
        error,
        AttestationError::WrongApp {
            app_id: "hk.evil.app".to_string()
        }
    );
    assert!(error.to_string().contains("hk.evil.app"), "{error}");
}

#[test]
fn an_attested_package_other_than_the_configured_app_is_the_wrong_app() {
    let mut case = Case::new();
    case.packages.push("hk.evil.app".to_string());
    assert_eq!(
        wrong_app(case.verify_with("/appIntegrity/packageName", json!("hk.evil.app"))),
        "hk.evil.app"
    );
}

#[test]
fn missing_package_names_are_malformed() {
    let case = Case::new();
    assert_eq!(
        malformed(case.verify_without("/requestDetails/requestPackageName")),
        "requestDetails.requestPackageName: missing"
    );
    assert_eq!(
        malformed(case.verify_without("/appIntegrity/packageName")),
        "appIntegrity.packageName: missing"
    );
    assert_eq!(
        malformed(case.verify_with("/appIntegrity/packageName", json!(["hk.example.staff"]))),
        "appIntegrity.packageName: expected a string, found [\"hk.example.staff\"]"
    );
}

#[test]
fn an_app_google_play_does_not_recognise_is_not_trusted() {
    let case = Case::new();
    let verdict = not_trusted(case.verify_with(
        "/appIntegrity/appRecognitionVerdict",
        json!("UNRECOGNIZED_VERSION"),
    ));
    assert_eq!(
        verdict,
        "appIntegrity.appRecognitionVerdict: UNRECOGNIZED_VERSION (PLAY_RECOGNIZED is required)"
    );

    // Google leaves out the package, digests and version when it did not evaluate the app.
    let verdict = not_trusted(case.verify_with(
        "/appIntegrity",
        json!({"appRecognitionVerdict": "UNEVALUATED"}),
    ));
    assert!(
        verdict.contains("appIntegrity.appRecognitionVerdict: UNEVALUATED"),
        "{verdict}"
    );

    let verdict = not_trusted(case.verify_without("/appIntegrity"));
    assert!(
        verdict.contains("appIntegrity.appRecognitionVerdict: none"),
        "{verdict}"
    );
    let error = case.verify_without("/appIntegrity").unwrap_err();
    assert_eq!(error.code(), "attestation_not_trusted");
}

#[test]
fn a_build_signed_with_another_certificate_is_not_trusted() {
    let case = Case::new();
    let other = b64([0x42u8; 32]);
    let verdict =
        not_trusted(case.verify_with("/appIntegrity/certificateSha256Digest", json!([other])));
    assert_eq!(
        verdict,
        format!(
            "appIntegrity.certificateSha256Digest: {other} (none is a signing certificate \
             configured for {PACKAGE})"
        )
    );
    let verdict = not_trusted(case.verify_without("/appIntegrity/certificateSha256Digest"));
    assert!(
        verdict.starts_with("appIntegrity.certificateSha256Digest: none ("),
        "{verdict}"
    );

    // One configured certificate among several suffices.
    assert!(
        case.verify_with(
            "/appIntegrity/certificateSha256Digest",
            json!([other, TEST_CERTIFICATE_SHA256]),
        )
        .is_ok()
    );
    assert_eq!(
        malformed(case.verify_with(
            "/appIntegrity/certificateSha256Digest",
            json!(TEST_CERTIFICATE_SHA256),
        )),
        format!(
            "appIntegrity.certificateSha256Digest: expected a list of strings, found \
             \"{TEST_CERTIFICATE_SHA256}\""
        )
    );
}

#[test]
fn certificates_are_not_checked_when_none_is_configured() {
    let keys = TestKeys::generate();
    let app = PlayIntegrityApp {
        certificate_sha256_digests: Vec::new(),
        ..keys.app(PACKAGE)
    };
    let verifier = PlayIntegrityVerifier::new(vec![app]).unwrap();
    let nonce = [1u8; 32];
    let now = time("2025-06-02T09:00:00Z");
    let mut payload = testing::payload(PACKAGE, &nonce, now);
    set(
        &mut payload,
        "/appIntegrity/certificateSha256Digest",
        json!([b64([0x42u8; 32])]),
    );
    let packages = [PACKAGE.to_string()];
    let expected = Expected {
        nonce: &nonce,
        android_packages: &packages,
        ios_app_ids: &[],
        now,
    };
    assert!(verifier.verify(&keys.token(&payload), &expected).is_ok());
}

#[test]
fn a_configured_digest_in_hex_with_colons_matches_the_token_s_base64url() {
    let keys = TestKeys::generate();
    let digest = URL_SAFE_NO_PAD.decode(TEST_CERTIFICATE_SHA256).unwrap();
    let colons = digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    assert!(colons.starts_with("25:CB:0D:6D"), "{colons}");
    let app = PlayIntegrityApp {
        certificate_sha256_digests: vec![colons],
        ..keys.app(PACKAGE)
    };
    let verifier = PlayIntegrityVerifier::new(vec![app]).unwrap();
    let nonce = [1u8; 32];
    let now = time("2025-06-02T09:00:00Z");
    let packages = [PACKAGE.to_string()];
    let expected = Expected {
        nonce: &nonce,
        android_packages: &packages,
        ios_app_ids: &[],
        now,
    };
    let token = keys.token(&testing::payload(PACKAGE, &nonce, now));
    assert!(verifier.verify(&token, &expected).is_ok());
}

// ---------------------------------------------------------------------------------------------
// The device and the licence

#[test]
fn a_device_without_device_integrity_is_not_trusted_naming_its_verdicts() {
    let case = Case::new();
    let at = "/deviceIntegrity/deviceRecognitionVerdict";
    assert_eq!(
        not_trusted(case.verify_with(at, json!(["MEETS_BASIC_INTEGRITY"]))),
        "deviceIntegrity.deviceRecognitionVerdict: MEETS_BASIC_INTEGRITY (MEETS_DEVICE_INTEGRITY \
         or MEETS_STRONG_INTEGRITY is required)"
    );
    assert!(
        not_trusted(case.verify_with(at, json!(["MEETS_VIRTUAL_INTEGRITY"])))
            .contains(": MEETS_VIRTUAL_INTEGRITY (")
    );
    for empty in [
        case.verify_with(at, json!([])),
        case.verify_without(at),
        case.verify_without("/deviceIntegrity"),
        case.verify_with("/deviceIntegrity", json!({})),
    ] {
        let verdict = not_trusted(empty);
        assert!(
            verdict.starts_with("deviceIntegrity.deviceRecognitionVerdict: none ("),
            "{verdict}"
        );
    }
    assert_eq!(
        malformed(case.verify_with(at, json!("MEETS_DEVICE_INTEGRITY"))),
        "deviceIntegrity.deviceRecognitionVerdict: expected a list of strings, found \
         \"MEETS_DEVICE_INTEGRITY\""
    );
    assert_eq!(
        malformed(case.verify_with("/deviceIntegrity", json!(true))),
        "deviceIntegrity: expected an object, found true"
    );
}

#[test]
fn strong_integrity_is_enough_by_default_and_required_when_configured() {
    let case = Case::new();
    let at = "/deviceIntegrity/deviceRecognitionVerdict";
    assert!(
        case.verify_with(at, json!(["MEETS_STRONG_INTEGRITY"]))
            .is_ok()
    );

    let case = case.with_verifier(|v| v.with_device_integrity(DeviceIntegrity::Strong));
    assert_eq!(case.verifier.device_integrity(), DeviceIntegrity::Strong);
    assert_eq!(
        not_trusted(case.verify_with(
            at,
            json!(["MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY"])
        )),
        "deviceIntegrity.deviceRecognitionVerdict: MEETS_BASIC_INTEGRITY, MEETS_DEVICE_INTEGRITY \
         (MEETS_STRONG_INTEGRITY is required)"
    );
    let attested = case
        .verify_with(
            at,
            json!(["MEETS_DEVICE_INTEGRITY", "MEETS_STRONG_INTEGRITY"]),
        )
        .unwrap();
    assert_eq!(
        attested.summary,
        "MEETS_DEVICE_INTEGRITY, MEETS_STRONG_INTEGRITY, PLAY_RECOGNIZED, LICENSED"
    );
}

#[test]
fn the_licensing_verdict_is_only_required_when_configured() {
    let case = Case::new();
    assert!(!case.verifier.require_licensed());
    let at = "/accountDetails/appLicensingVerdict";
    assert_eq!(
        case.verify_with(at, json!("UNLICENSED")).unwrap().summary,
        "MEETS_DEVICE_INTEGRITY, PLAY_RECOGNIZED, UNLICENSED"
    );
    assert!(case.verify_without("/accountDetails").is_ok());

    let case = case.with_verifier(|v| v.with_require_licensed(true));
    assert!(case.verify(&case.payload()).is_ok());
    assert_eq!(
        not_trusted(case.verify_with(at, json!("UNLICENSED"))),
        "accountDetails.appLicensingVerdict: UNLICENSED (LICENSED is required)"
    );
    assert_eq!(
        not_trusted(case.verify_with(at, json!("UNEVALUATED"))),
        "accountDetails.appLicensingVerdict: UNEVALUATED (LICENSED is required)"
    );
    assert_eq!(
        not_trusted(case.verify_without("/accountDetails")),
        "accountDetails.appLicensingVerdict: none (LICENSED is required)"
    );
}

// ---------------------------------------------------------------------------------------------
// Time

#[test]
fn a_token_exactly_the_maximum_age_passes_and_one_millisecond_more_is_stale() {
    let case = Case::new();
    assert_eq!(case.verifier.max_age(), Duration::from_secs(600));
    let at = "/requestDetails/timestampMillis";
    let made = |delta: TimeDelta| json!((case.now - delta).timestamp_millis().to_string());
    assert!(case.verify_with(at, made(TimeDelta::seconds(600))).is_ok());
    let error = case
        .verify_with(at, made(TimeDelta::milliseconds(600_001)))
        .unwrap_err();
    assert_eq!(error, AttestationError::Stale { age_s: 601 });
    assert_eq!(error.code(), "attestation_stale");
    assert_eq!(
        stale(case.verify_with(at, made(TimeDelta::days(2)))),
        172_800
    );
}

#[test]
fn a_token_up_to_a_minute_in_the_future_passes() {
    let case = Case::new();
    let at = "/requestDetails/timestampMillis";
    let made = |delta: TimeDelta| json!((case.now + delta).timestamp_millis().to_string());
    assert!(case.verify_with(at, made(TimeDelta::seconds(60))).is_ok());
    assert_eq!(
        stale(case.verify_with(at, made(TimeDelta::milliseconds(60_001)))),
        -61
    );
    assert_eq!(
        stale(case.verify_with(at, made(TimeDelta::seconds(61)))),
        -61
    );
}

#[test]
fn the_maximum_age_is_configurable() {
    let case = Case::new().with_verifier(|v| v.with_max_age(Duration::from_secs(30)));
    let at = "/requestDetails/timestampMillis";
    let made = |delta: TimeDelta| json!((case.now - delta).timestamp_millis().to_string());
    assert!(case.verify_with(at, made(TimeDelta::seconds(30))).is_ok());
    assert_eq!(
        stale(case.verify_with(at, made(TimeDelta::seconds(31)))),
        31
    );
}

#[test]
fn the_timestamp_is_milliseconds_as_a_string_or_an_integer() {
    let case = Case::new();
    let at = "/requestDetails/timestampMillis";
    assert!(
        case.verify_with(at, json!(case.now.timestamp_millis()))
            .is_ok()
    );
    assert_eq!(
        malformed(case.verify_with(at, json!("soon"))),
        "requestDetails.timestampMillis: expected a string of milliseconds since the epoch, \
         found \"soon\""
    );
    assert_eq!(
        malformed(case.verify_with(at, json!(1.5))),
        "requestDetails.timestampMillis: expected a string of milliseconds since the epoch, \
         found 1.5"
    );
    assert_eq!(
        malformed(case.verify_without(at)),
        "requestDetails.timestampMillis: missing"
    );
    // The extremes of i64 are stale, not an overflow.
    assert!(stale(case.verify_with(at, json!(i64::MIN.to_string()))) > 0);
    assert!(stale(case.verify_with(at, json!(i64::MAX.to_string()))) < 0);
}

// ---------------------------------------------------------------------------------------------
// Tampering and foreign keys

/// The character `c` replaced by another of the base64url alphabet.
fn other_char(c: char) -> char {
    if c == 'A' { 'B' } else { 'A' }
}

#[test]
fn one_character_changed_anywhere_in_the_token_is_refused() {
    let case = Case::new();
    let token = case.keys.token(&case.payload());
    let mut segment = 0;
    let mut refused_in = [0usize; 5];
    for (i, c) in token.char_indices() {
        if c == '.' {
            segment += 1;
            continue;
        }
        let mut tampered = token.clone();
        tampered.replace_range(i..=i, &other_char(c).to_string());
        match case.verify_token(&tampered) {
            Err(AttestationError::NotAuthentic { .. } | AttestationError::Malformed { .. }) => {
                refused_in[segment] += 1;
            }
            other => panic!("segment {segment}, offset {i}: {other:?}"),
        }
    }
    let lengths: Vec<usize> = token.split('.').map(str::len).collect();
    assert_eq!(refused_in.to_vec(), lengths);
    // A dot moved: another number or other sizes of segments.
    for i in token.match_indices('.').map(|(i, _)| i) {
        let mut tampered = token.clone();
        tampered.replace_range(i..=i, "A");
        assert!(malformed(case.verify_token(&tampered)).starts_with("token: 4 segments"));
    }
}

#[test]
fn one_character_changed_anywhere_in_the_signed_verdict_is_refused() {
    let case = Case::new();
    let jws = case.keys.sign(&case.payload());
    for (i, c) in jws.char_indices() {
        let mut tampered = jws.clone();
        let replacement = if c == '.' { 'A' } else { other_char(c) };
        tampered.replace_range(i..=i, &replacement.to_string());
        match case.verify_token(&case.keys.encrypt(tampered.as_bytes())) {
            Err(AttestationError::NotAuthentic { .. } | AttestationError::Malformed { .. }) => {}
            other => panic!("offset {i}: {other:?}"),
        }
    }
}

#[test]
fn a_token_encrypted_for_another_app_is_not_authentic() {
    let case = Case::new();
    let stranger = TestKeys::generate();
    let reason = not_authentic(case.verify_token(&stranger.token(&case.payload())));
    assert_eq!(
        reason,
        format!(
            "JWE encrypted key: does not unwrap with the decryption key of any configured app \
             ({PACKAGE})"
        )
    );
    assert_eq!(
        case.verify_token(&stranger.token(&case.payload()))
            .unwrap_err()
            .code(),
        "attestation_not_authentic"
    );
}

#[test]
fn a_verdict_signed_with_another_key_is_not_authentic() {
    let case = Case::new();
    let stranger = TestKeys::generate();
    let forged = case.keys.encrypt(stranger.sign(&case.payload()).as_bytes());
    assert_eq!(
        not_authentic(case.verify_token(&forged)),
        format!("JWS signature: does not verify with the verification key of {PACKAGE}")
    );
}

#[test]
fn a_ciphertext_moved_under_another_header_or_iv_is_not_authentic() {
    let case = Case::new();
    let first = case.keys.token(&case.payload());
    let second = case.keys.token(&case.payload());
    let first: Vec<&str> = first.split('.').collect();
    let second: Vec<&str> = second.split('.').collect();
    // The second token's wrapped key and IV with the first's ciphertext and tag.
    let spliced = [first[0], second[1], second[2], first[3], first[4]].join(".");
    assert!(not_authentic(case.verify_token(&spliced)).starts_with("JWE ciphertext:"));
    // The same header written with other bytes (a space) changes the AAD.
    let header = b64(br#"{"alg":"A256KW", "enc":"A256GCM"}"#);
    let respelt = replace_segment(&first.join("."), 0, &header);
    assert!(not_authentic(case.verify_token(&respelt)).starts_with("JWE ciphertext:"));
}

#[test]
fn an_inner_header_other_than_es256_is_refused_however_it_is_signed() {
    let case = Case::new();
    let payload = case.payload().to_string();
    let body = b64(&payload);
    let hmac_like = b64([0x5au8; 32]);
    for jws in [
        format!("{}.{body}.", b64(br#"{"alg":"none"}"#)),
        format!("{}.{body}.{hmac_like}", b64(br#"{"alg":"HS256"}"#)),
        case.keys
            .sign_parts(br#"{"alg":"none"}"#, payload.as_bytes()),
        case.keys
            .sign_parts(br#"{"alg":"HS256"}"#, payload.as_bytes()),
        case.keys
            .sign_parts(br#"{"alg":"ES384"}"#, payload.as_bytes()),
        case.keys
            .sign_parts(br#"{"typ":"JWT"}"#, payload.as_bytes()),
    ] {
        let reason = not_authentic(case.verify_token(&case.keys.encrypt(jws.as_bytes())));
        assert!(
            reason.starts_with("JWS header alg: expected \"ES256\", found "),
            "{reason}"
        );
    }
    let reason = not_authentic(
        case.verify_token(
            &case.keys.encrypt(
                case.keys
                    .sign_parts(br#"{"alg":"none"}"#, payload.as_bytes())
                    .as_bytes(),
            ),
        ),
    );
    assert_eq!(reason, "JWS header alg: expected \"ES256\", found \"none\"");
    let critical = case
        .keys
        .sign_parts(br#"{"alg":"ES256","crit":["exp"]}"#, payload.as_bytes());
    assert_eq!(
        malformed(case.verify_token(&case.keys.encrypt(critical.as_bytes()))),
        "JWS header crit: not supported, found [\"exp\"]"
    );
}

#[test]
fn a_jws_that_cannot_be_read_is_malformed_naming_the_part() {
    let case = Case::new();
    let encrypt = |plaintext: &[u8]| case.verify_token(&case.keys.encrypt(plaintext));
    assert_eq!(
        malformed(encrypt(b"hello")),
        "JWS: 1 segments, a compact JWS has 3"
    );
    assert_eq!(
        malformed(encrypt(&[0xff, 0xfe, b'.', b'.'])),
        "JWS: the decrypted plaintext is not UTF-8"
    );
    assert!(malformed(encrypt(b"a.b.c.d")).starts_with("JWS: 4 segments"));
    assert!(malformed(encrypt(b"!!.e30.AA")).starts_with("JWS header: not base64url"));
    let es256 = b64(br#"{"alg":"ES256"}"#);
    let short = format!("{es256}.e30.{}", b64([1u8; 63]));
    assert_eq!(
        not_authentic(encrypt(short.as_bytes())),
        "JWS signature: 63 bytes, an ES256 signature has 64"
    );
    assert_eq!(
        malformed(encrypt(case.keys.sign(&json!([1, 2])).as_bytes())),
        "JWS payload: expected a JSON object, found [1,2]"
    );
    let not_json = case
        .keys
        .sign_parts(br#"{"alg":"ES256"}"#, b"{\"requestDetails\":");
    assert!(malformed(encrypt(not_json.as_bytes())).starts_with("JWS payload: not JSON"));
    let header_list = case.keys.sign_parts(b"[]", b"{}");
    assert_eq!(
        malformed(encrypt(header_list.as_bytes())),
        "JWS header: expected a JSON object, found []"
    );
}

// ---------------------------------------------------------------------------------------------
// The JWE's shape, and garbage

#[test]
fn a_jwe_header_other_than_a256kw_and_a256gcm_is_malformed() {
    let case = Case::new();
    let token = case.keys.token(&case.payload());
    for (header, reason) in [
        (
            r#"{"alg":"dir","enc":"A256GCM"}"#,
            r#"JWE header alg: expected "A256KW", found "dir""#,
        ),
        (
            r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#,
            r#"JWE header alg: expected "A256KW", found "RSA-OAEP""#,
        ),
        (
            r#"{"alg":"A256KW","enc":"A128CBC-HS256"}"#,
            r#"JWE header enc: expected "A256GCM", found "A128CBC-HS256""#,
        ),
        (
            r#"{"enc":"A256GCM"}"#,
            r#"JWE header alg: expected "A256KW", found nothing"#,
        ),
        (
            r#"{"alg":"A256KW"}"#,
            r#"JWE header enc: expected "A256GCM", found nothing"#,
        ),
        (
            r#"{"alg":"A256KW","enc":"A256GCM","zip":"DEF"}"#,
            r#"JWE header zip: not supported, found "DEF""#,
        ),
        (
            r#"{"alg":"A256KW","enc":"A256GCM","crit":["b64"]}"#,
            r#"JWE header crit: not supported, found ["b64"]"#,
        ),
        (
            r#""A256KW""#,
            r#"JWE header: expected a JSON object, found "A256KW""#,
        ),
    ] {
        let token = replace_segment(&token, 0, &b64(header));
        assert_eq!(malformed(case.verify_token(&token)), reason);
    }
    let token = replace_segment(&token, 0, &b64("{alg"));
    assert!(malformed(case.verify_token(&token)).starts_with("JWE header: not JSON"));
}

#[test]
fn jwe_segments_of_the_wrong_size_are_malformed_naming_the_segment() {
    let case = Case::new();
    let token = case.keys.token(&case.payload());
    for (index, bytes, reason) in [
        (1, 32, "JWE encrypted key: 32 bytes, expected 40"),
        (1, 48, "JWE encrypted key: 48 bytes, expected 40"),
        (2, 16, "JWE initialization vector: 16 bytes, expected 12"),
        (4, 15, "JWE authentication tag: 15 bytes, expected 16"),
        (4, 0, "JWE authentication tag: 0 bytes, expected 16"),
    ] {
        let token = replace_segment(&token, index, &b64(vec![0u8; bytes]));
        assert_eq!(malformed(case.verify_token(&token)), reason);
    }
    // A ciphertext cut short, or empty, does not authenticate.
    let ciphertext = token.split('.').nth(3).unwrap();
    let cut = &ciphertext[..ciphertext.len() - 8];
    assert!(
        not_authentic(case.verify_token(&replace_segment(&token, 3, cut)))
            .starts_with("JWE ciphertext:")
    );
    assert!(
        not_authentic(case.verify_token(&replace_segment(&token, 3, "")))
            .starts_with("JWE ciphertext:")
    );
    // Padding is not base64url as JOSE writes it.
    let padded = replace_segment(&token, 2, &URL_SAFE.encode([0u8; 12]));
    assert_eq!(URL_SAFE.encode([0u8; 12]), "AAAAAAAAAAAAAAAA");
    assert!(case.verify_token(&padded).is_err());
    let padded = replace_segment(&token, 4, &URL_SAFE.encode([0u8; 16]));
    assert!(
        malformed(case.verify_token(&padded))
            .starts_with("JWE authentication tag: not base64url without padding")
    );
}

#[test]
fn garbage_is_malformed_and_never_a_panic() {
    let case = Case::new();
    let token = case.keys.token(&case.payload());
    let huge = "A".repeat(1 << 20);
    let huge_jwe = format!("{}.{huge}", &token[..token.rfind('.').unwrap()]);
    for (garbage, reason) in [
        ("", "token: empty".to_string()),
        ("....", "JWE header: not JSON".to_string()),
        (
            "a.b.c.d",
            "token: 4 segments, a compact JWE has 5".to_string(),
        ),
        (
            "a.b.c.d.e.f",
            "token: 6 segments, a compact JWE has 5".to_string(),
        ),
        (
            "no dots at all",
            "token: 1 segments, a compact JWE has 5".to_string(),
        ),
        (
            huge.as_str(),
            format!("token: {} bytes, more than the 65536 read", 1 << 20),
        ),
        (
            huge_jwe.as_str(),
            format!("token: {} bytes, more than the 65536 read", huge_jwe.len()),
        ),
    ] {
        let found = malformed(case.verify_token(garbage));
        assert!(found.starts_with(&reason), "{found}");
    }
    for garbage in [
        "é.é.é.é.é",
        "🙂",
        "\0.\0.\0.\0.\0",
        "e30.e30.e30.e30.e30",
        " ",
        &format!("{token}\n"),
        &format!(" {token}"),
        &token.replace('.', ".."),
    ] {
        let found = case.verify_token(garbage);
        assert!(
            matches!(found, Err(AttestationError::Malformed { .. })),
            "{garbage:?}: {found:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn config_error(json: &str) -> ConfigError {
    match PlayIntegrityVerifier::from_config_json(json) {
        Ok(verifier) => panic!("accepted: {verifier:?}"),
        Err(error) => error,
    }
}

/// A configuration of one app with `keys`, its app's members replaced or added from `app`
/// and the document's from `top`.
fn config_with(keys: &TestKeys, app: Value, top: Value) -> String {
    let mut config: Value = serde_json::from_str(&keys.config_json(PACKAGE)).unwrap();
    for (key, value) in app.as_object().unwrap() {
        config["apps"][0][key] = value.clone();
    }
    for (key, value) in top.as_object().unwrap() {
        config[key] = value.clone();
    }
    config.to_string()
}

#[test]
fn the_configuration_json_makes_a_verifier() {
    let keys = TestKeys::generate();
    let verifier = PlayIntegrityVerifier::from_config_json(&keys.config_json(PACKAGE)).unwrap();
    assert_eq!(verifier.packages().collect::<Vec<_>>(), [PACKAGE]);
    assert_eq!(verifier.max_age(), Duration::from_secs(600));
    assert_eq!(verifier.device_integrity(), DeviceIntegrity::Device);
    assert!(!verifier.require_licensed());

    let minimal = json!({"apps": [{
        "package_name": PACKAGE,
        "decryption_key": STANDARD.encode(keys.decryption_key()),
        "verification_key": STANDARD_NO_PAD.encode(keys.verification_key()),
    }]});
    let verifier = PlayIntegrityVerifier::from_config_json(&minimal.to_string()).unwrap();
    assert_eq!(verifier.max_age(), Duration::from_secs(600));

    let json = config_with(
        &keys,
        json!({}),
        json!({"max_age_s": 120, "device_integrity": "strong", "require_licensed": true}),
    );
    let verifier = PlayIntegrityVerifier::from_config_json(&json).unwrap();
    assert_eq!(verifier.max_age(), Duration::from_secs(120));
    assert_eq!(verifier.device_integrity(), DeviceIntegrity::Strong);
    assert!(verifier.require_licensed());

    // The verifier made from the JSON verifies the keys' tokens.
    let nonce = [3u8; 32];
    let now = time("2025-06-02T09:00:00Z");
    let mut payload = testing::payload(PACKAGE, &nonce, now);
    set(
        &mut payload,
        "/deviceIntegrity/deviceRecognitionVerdict",
        json!(["MEETS_STRONG_INTEGRITY"]),
    );
    let packages = [PACKAGE.to_string()];
    let expected = Expected {
        nonce: &nonce,
        android_packages: &packages,
        ios_app_ids: &[],
        now,
    };
    assert!(verifier.verify(&keys.token(&payload), &expected).is_ok());
}

#[test]
fn configuration_errors_name_the_field() {
    let keys = TestKeys::generate();
    let error = |app: Value, top: Value| config_error(&config_with(&keys, app, top));
    let short_key = STANDARD.encode([7u8; 31]);

    let e = error(json!({"decryption_key": short_key}), json!({}));
    assert_eq!(
        e.to_string(),
        "apps[0].decryption_key: 32 bytes of base64, found 31"
    );
    assert_eq!(e.field, "apps[0].decryption_key");
    let e = error(json!({"decryption_key": "not-base64!"}), json!({}));
    assert_eq!(e.field, "apps[0].decryption_key");
    assert!(e.problem.starts_with("not base64"), "{e}");
    let e = error(json!({"decryption_key": 5}), json!({}));
    assert_eq!(e.field, "apps[0].decryption_key");
    assert!(e.problem.contains("invalid type"), "{e}");

    let e = error(
        json!({"verification_key": STANDARD.encode([4u8; 65])}),
        json!({}),
    );
    assert_eq!(
        e.to_string(),
        "apps[0].verification_key: the DER SubjectPublicKeyInfo of an EC P-256 key (91 bytes), \
         found 65 bytes"
    );
    let mut off_curve = keys.verification_key();
    off_curve[90] ^= 1;
    let e = error(
        json!({"verification_key": STANDARD.encode(off_curve)}),
        json!({}),
    );
    assert_eq!(
        e.to_string(),
        "apps[0].verification_key: the key's point is not on the P-256 curve"
    );
    let mut other_curve = keys.verification_key();
    other_curve[21] = 0x00;
    let e = error(
        json!({"verification_key": STANDARD.encode(other_curve)}),
        json!({}),
    );
    assert_eq!(e.field, "apps[0].verification_key");
    assert!(e.problem.starts_with("not an EC P-256 public key"), "{e}");

    let e = error(json!({"certificate_sha256_digests": ["AB:CD"]}), json!({}));
    assert_eq!(e.field, "apps[0].certificate_sha256_digests[0]");
    assert!(e.problem.ends_with("found \"AB:CD\""), "{e}");
    let e = error(json!({"package_name": ""}), json!({}));
    assert_eq!(e.field, "apps[0].package_name");
    let e = error(json!({"package_nam": PACKAGE}), json!({}));
    assert_eq!(e.field, "apps[0].package_nam");
    assert!(e.problem.contains("unknown field `package_nam`"), "{e}");

    let e = error(json!({}), json!({"max_age_s": 0}));
    assert_eq!(e.to_string(), "max_age_s: from 1 to 86400 seconds, found 0");
    let e = error(json!({}), json!({"max_age_s": 600_000}));
    assert_eq!(
        e.to_string(),
        "max_age_s: from 1 to 86400 seconds, found 600000"
    );
    let e = error(json!({}), json!({"max_age_s": "600"}));
    assert_eq!(e.field, "max_age_s");
    let e = error(json!({}), json!({"device_integrity": "basic"}));
    assert_eq!(e.field, "device_integrity");
    assert!(e.problem.contains("basic"), "{e}");
    let e = error(json!({}), json!({"max_age": 60}));
    assert_eq!(e.field, "max_age");
    assert!(e.problem.contains("unknown field `max_age`"), "{e}");

    let e = config_error(r#"{"apps": []}"#);
    assert_eq!(e.to_string(), "apps: at least one app is needed");
    let e = config_error("{}");
    assert!(e.problem.contains("missing field `apps`"), "{e}");
    let e = config_error("");
    assert_eq!(e.field, ".");
    let e = config_error(&format!("{} {{}}", keys.config_json(PACKAGE)));
    assert_eq!(e.field, ".");
    assert!(e.problem.contains("trailing characters"), "{e}");
}

#[test]
fn two_apps_may_not_share_a_package_or_a_decryption_key() {
    let keys = TestKeys::generate();
    let other = TestKeys::generate();
    let e = PlayIntegrityVerifier::new(vec![keys.app(PACKAGE), other.app(PACKAGE)]).unwrap_err();
    assert_eq!(e.field, "apps[1].package_name");
    assert_eq!(
        e.problem,
        "\"hk.example.staff\" is listed twice (also apps[0])"
    );
    let e = PlayIntegrityVerifier::new(vec![keys.app(PACKAGE), keys.app("hk.example.kiosk")])
        .unwrap_err();
    assert_eq!(e.field, "apps[1].decryption_key");
    let e = PlayIntegrityVerifier::new(Vec::new()).unwrap_err();
    assert_eq!(e.field, "apps");
}

// ---------------------------------------------------------------------------------------------
// The recorded token

const FIXTURE_CONFIG: &str = include_str!("fixtures/play_integrity/config.json");
const FIXTURE_TOKEN: &str = include_str!("fixtures/play_integrity/token.txt");

fn fixture_nonce() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn verify_fixture(
    verifier: &PlayIntegrityVerifier,
    nonce: &[u8; 32],
    packages: &[&str],
    now: DateTime<Utc>,
) -> Result<Attested, AttestationError> {
    let packages: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
    let expected = Expected {
        nonce,
        android_packages: &packages,
        ios_app_ids: &[],
        now,
    };
    verifier.verify(FIXTURE_TOKEN.trim_end(), &expected)
}

#[test]
fn the_recorded_token_verifies_at_its_recorded_time() {
    let verifier = PlayIntegrityVerifier::from_config_json(FIXTURE_CONFIG).unwrap();
    let made = time("2025-06-02T09:00:00Z");
    let attested = verify_fixture(&verifier, &fixture_nonce(), &[PACKAGE], made).unwrap();
    assert_eq!(
        attested,
        Attested {
            format: "play_integrity".to_string(),
            app_id: PACKAGE.to_string(),
            summary: "MEETS_DEVICE_INTEGRITY, PLAY_RECOGNIZED, LICENSED".to_string(),
        }
    );
    let last = made + TimeDelta::seconds(600);
    assert!(verify_fixture(&verifier, &fixture_nonce(), &[PACKAGE], last).is_ok());
    let require_licensed = PlayIntegrityVerifier::from_config_json(FIXTURE_CONFIG)
        .unwrap()
        .with_require_licensed(true);
    assert!(verify_fixture(&require_licensed, &fixture_nonce(), &[PACKAGE], made).is_ok());
}

#[test]
fn the_recorded_token_is_refused_late_early_and_for_anything_else() {
    let verifier = PlayIntegrityVerifier::from_config_json(FIXTURE_CONFIG).unwrap();
    let made = time("2025-06-02T09:00:00Z");
    let nonce = fixture_nonce();

    let late = made + TimeDelta::seconds(600 + 60);
    assert_eq!(
        verify_fixture(&verifier, &nonce, &[PACKAGE], late),
        Err(AttestationError::Stale { age_s: 660 })
    );
    let early = made - TimeDelta::seconds(61);
    assert_eq!(
        verify_fixture(&verifier, &nonce, &[PACKAGE], early),
        Err(AttestationError::Stale { age_s: -61 })
    );
    let mut other_nonce = nonce;
    other_nonce[31] = 0;
    assert_eq!(
        verify_fixture(&verifier, &other_nonce, &[PACKAGE], made),
        Err(AttestationError::NonceMismatch)
    );
    assert_eq!(
        wrong_app(verify_fixture(
            &verifier,
            &nonce,
            &["hk.example.other"],
            made
        )),
        PACKAGE
    );
    let strong = PlayIntegrityVerifier::from_config_json(FIXTURE_CONFIG)
        .unwrap()
        .with_device_integrity(DeviceIntegrity::Strong);
    assert_eq!(
        not_trusted(verify_fixture(&strong, &nonce, &[PACKAGE], made)),
        "deviceIntegrity.deviceRecognitionVerdict: MEETS_DEVICE_INTEGRITY (MEETS_STRONG_INTEGRITY \
         is required)"
    );
    // Another app's keys do not open it.
    let stranger = TestKeys::generate();
    let other_keys =
        PlayIntegrityVerifier::from_config_json(&stranger.config_json(PACKAGE)).unwrap();
    assert!(
        not_authentic(verify_fixture(&other_keys, &nonce, &[PACKAGE], made))
            .starts_with("JWE encrypted key:")
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

fn property_case() -> &'static Case {
    static CASE: std::sync::OnceLock<Case> = std::sync::OnceLock::new();
    CASE.get_or_init(Case::new)
}

fn property_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        let case = property_case();
        case.keys.token(&case.payload())
    })
}

proptest! {
    #[test]
    fn arbitrary_strings_are_refused_without_a_panic(token in any::<String>()) {
        prop_assert!(property_case().verify_token(&token).is_err());
    }

    #[test]
    fn arbitrary_five_segment_tokens_are_refused_without_a_panic(
        segments in proptest::collection::vec("[A-Za-z0-9_-]{0,80}", 5),
    ) {
        prop_assert!(property_case().verify_token(&segments.join(".")).is_err());
    }

    #[test]
    fn a_real_header_and_sizes_with_arbitrary_bytes_are_not_authentic(
        key in proptest::collection::vec(any::<u8>(), 40),
        iv in proptest::collection::vec(any::<u8>(), 12),
        ciphertext in proptest::collection::vec(any::<u8>(), 0..400),
        tag in proptest::collection::vec(any::<u8>(), 16),
    ) {
        let header = property_token().split('.').next().unwrap();
        let token = [header.to_string(), b64(key), b64(iv), b64(ciphertext), b64(tag)].join(".");
        let result = property_case().verify_token(&token);
        prop_assert!(
            matches!(result, Err(AttestationError::NotAuthentic { .. })),
            "{:?}", result
        );
    }

    #[test]
    fn any_one_character_replaced_is_refused(
        index in 0usize..1000,
        replacement in proptest::char::any(),
    ) {
        let token = property_token();
        let index = index % token.len();
        let original = token[index..].chars().next().unwrap();
        prop_assume!(original != replacement);
        let mut tampered = token.to_string();
        tampered.replace_range(index..index + 1, &replacement.to_string());
        prop_assert!(property_case().verify_token(&tampered).is_err());
    }
}
