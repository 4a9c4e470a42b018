//! The server's attestation configuration (`daka serve --attestation-config`): one JSON
//! document naming each format's verifier, read with errors that name the field.

use daka_attest::{AttestationError, Expected, Verifiers};

fn play_integrity_config() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/play_integrity/config.json"
    ))
    .unwrap()
}

#[test]
fn a_configuration_registers_the_formats_it_names() {
    let both = format!(
        r#"{{"play_integrity": {}, "app_attest": {{"environment": "production"}}}}"#,
        play_integrity_config()
    );
    let verifiers = Verifiers::from_config_json(&both).unwrap();
    assert_eq!(verifiers.formats(), vec!["app_attest", "play_integrity"]);
    let only_apple =
        Verifiers::from_config_json(r#"{"app_attest": {"environment": "development"}}"#).unwrap();
    assert_eq!(only_apple.formats(), vec!["app_attest"]);
    let none = Verifiers::from_config_json("{}").unwrap();
    assert!(none.formats().is_empty());
    let nonce = [0u8; 32];
    let expected = Expected {
        nonce: &nonce,
        android_packages: &[],
        ios_app_ids: &[],
        now: chrono::Utc::now(),
    };
    match none.verify("play_integrity", "token", &expected) {
        Err(AttestationError::UnsupportedFormat { format, known }) => {
            assert_eq!((format.as_str(), known.as_str()), ("play_integrity", ""));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn configuration_errors_name_the_field_under_its_format() {
    let bad_key =
        play_integrity_config().replace("Ec8rf9G1fBetcMeD3LgS7Q42lB5DKfqHgSLfbrY6cl4=", "c2hvcnQ=");
    for (json, field) in [
        ("", "."),
        ("[]", "."),
        (r#"{"play_integrity": {}}"#, "play_integrity"),
        (r#"{"safety_net": {}}"#, "safety_net"),
        (
            r#"{"app_attest": {"environment": "staging"}}"#,
            "app_attest.environment",
        ),
        (
            r#"{"app_attest": {"environment": "production", "root_ca_pem": "x"}}"#,
            "app_attest.root_ca_pem",
        ),
        (
            r#"{"app_attest": {"environment": "production"}} trailing"#,
            ".",
        ),
    ] {
        let error = Verifiers::from_config_json(json).unwrap_err();
        assert!(error.field.starts_with(field), "{json}: {error}");
        assert!(error.to_string().starts_with(&error.field), "{error}");
    }
    let error =
        Verifiers::from_config_json(&format!(r#"{{"play_integrity": {bad_key}}}"#)).unwrap_err();
    assert_eq!(
        error.field, "play_integrity.apps[0].decryption_key",
        "{error}"
    );
    let unknown = Verifiers::from_config_json(r#"{"safety_net": {}}"#).unwrap_err();
    assert!(unknown.problem.contains("safety_net"), "{unknown}");
}

#[test]
fn the_key_attestation_key_registers_android_key_attestation() {
    let keystore = daka_attest::key_attestation::testing::TestKeystore::generate();
    let json = serde_json::json!({
        "key_attestation": {"roots_pem": keystore.roots_pem(), "require_strongbox": true}
    });
    let verifiers = Verifiers::from_config_json(&json.to_string()).unwrap();
    assert_eq!(verifiers.formats(), vec!["android_key_attestation"]);
    let nonce = [3u8; 32];
    let packages = vec!["hk.example.staff".to_string()];
    let expected = Expected {
        nonce: &nonce,
        android_packages: &packages,
        ios_app_ids: &[],
        now: chrono::Utc::now(),
    };
    let strongbox = keystore.chain(
        "hk.example.staff",
        &nonce,
        daka_attest::key_attestation::SecurityLevel::StrongBox,
        daka_attest::key_attestation::VerifiedBootState::Verified,
        true,
    );
    let attested = verifiers
        .verify("android_key_attestation", &strongbox, &expected)
        .unwrap();
    assert_eq!(attested.app_id, "hk.example.staff");
    let google = Verifiers::from_config_json(r#"{"key_attestation": {}}"#).unwrap();
    assert_eq!(google.formats(), vec!["android_key_attestation"]);

    for (json, field) in [
        (
            r#"{"key_attestation": {"require_strongbox": "yes"}}"#,
            "key_attestation.require_strongbox",
        ),
        (
            r#"{"key_attestation": {"roots_pem": "junk"}}"#,
            "key_attestation.roots_pem",
        ),
        (
            r#"{"key_attestation": {"certificate_sha256_digests": ["x"]}}"#,
            "key_attestation.certificate_sha256_digests[0]",
        ),
        (
            r#"{"key_attestation": {"allow_unlocked": true}}"#,
            "key_attestation.allow_unlocked",
        ),
    ] {
        let error = Verifiers::from_config_json(json).unwrap_err();
        assert_eq!(error.field, field, "{json}: {error}");
    }
}
