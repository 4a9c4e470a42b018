//! Proves that `FaceTokenVerifier` accepts face-match tokens minted by an independent JWS
//! implementation (the `jsonwebtoken` crate) and refuses every kind of bad token with its exact
//! stable code, in the documented check order, without ever panicking on hostile input.
//!
//! Keys are the checked-in test keys under `tests/fixtures/face/`. Tokens that no library
//! will mint (`alg: none`, padding, DER signatures, duplicate members, `1e400`) are put
//! together by hand here, and signed with `jsonwebtoken::crypto::sign` where the test needs the
//! signature to be valid so that the check under test is reached.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use daka_core::Code;
use daka_core::evidence::face_token::{
    Expected, FaceMatch, FaceTokenError, FaceTokenVerifier, JwsAlg, KeyType, Liveness,
    MAX_TOKEN_BYTES, NonceLedger, SignatureChecked, TokenPart,
};
use daka_core::policy::{
    FaceRules, Org, Policy, PresenceRule, PublicKey, Thresholds, TrustedKey, UncertainAction,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

// ---- fixtures ---------------------------------------------------------------------------------

/// 2026-03-02T01:00:00Z, 09:00 in Hong Kong.
const NOW: i64 = 1_772_413_200;
const EMPLOYEE: &str = "E1001";
const ED_KID: &str = "matcher-ed-1";
const P256_KID: &str = "matcher-p256-1";
const OPEN_KID: &str = "matcher-ed-other";
const ED_ISS: &str = "https://faces.example.hk";
const P256_ISS: &str = "acme-face-cloud";

const ED_PEM: &str = include_str!("fixtures/face/ed25519.pem");
const P256_PEM: &str = include_str!("fixtures/face/p256.pem");
const OTHER_PEM: &str = include_str!("fixtures/face/ed25519-other.pem");
const JWKS: &str = include_str!("fixtures/face/public.jwks.json");

struct Fixture {
    ed: EncodingKey,
    p256: EncodingKey,
    other: EncodingKey,
    ed_pub: [u8; 32],
    p256_pub: [u8; 65],
    other_pub: [u8; 32],
    keys: Vec<TrustedKey>,
    rules: FaceRules,
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("fixture PEM is base64")
}

fn ed_public(pem: &str) -> [u8; 32] {
    // Python writes PKCS#8 v1 (no public key inside), which ring reads "maybe unchecked".
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pem_to_der(pem)).unwrap();
    pair.public_key().as_ref().try_into().unwrap()
}

fn p256_public(pem: &str) -> [u8; 65] {
    let rng = ring::rand::SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(
        &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        &pem_to_der(pem),
        &rng,
    )
    .unwrap();
    pair.public_key().as_ref().try_into().unwrap()
}

static FX: LazyLock<Fixture> = LazyLock::new(|| {
    let ed_pub = ed_public(ED_PEM);
    let p256_pub = p256_public(P256_PEM);
    let other_pub = ed_public(OTHER_PEM);
    Fixture {
        ed: EncodingKey::from_ed_pem(ED_PEM.as_bytes()).unwrap(),
        p256: EncodingKey::from_ec_pem(P256_PEM.as_bytes()).unwrap(),
        other: EncodingKey::from_ed_pem(OTHER_PEM.as_bytes()).unwrap(),
        ed_pub,
        p256_pub,
        other_pub,
        keys: vec![
            TrustedKey {
                kid: ED_KID.into(),
                issuer: Some(ED_ISS.into()),
                key: PublicKey::Ed25519(ed_pub),
            },
            TrustedKey {
                kid: P256_KID.into(),
                issuer: Some(P256_ISS.into()),
                key: PublicKey::P256(Box::new(p256_pub)),
            },
            // No registered issuer: any `iss` is accepted for this key.
            TrustedKey {
                kid: OPEN_KID.into(),
                issuer: None,
                key: PublicKey::Ed25519(other_pub),
            },
        ],
        rules: rules(),
    }
});

fn rules() -> FaceRules {
    FaceRules {
        required: true,
        min_score: 0.8,
        min_liveness: 0.5,
        max_token_age_s: 300,
        clock_skew_s: 30,
    }
}

fn now() -> DateTime<Utc> {
    at(NOW)
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// A good claim set for `kid`'s issuer.
fn claims(iss: &str, nonce: &str) -> Value {
    json!({
        "iss": iss,
        "sub": EMPLOYEE,
        "nonce": nonce,
        "iat": NOW - 10,
        "exp": NOW + 110,
        "score": 0.93,
        "liveness": "pass",
        "model": "acme-face-3.2",
    })
}

/// Signs with jsonwebtoken's own header and claim serialisation.
fn mint(alg: Algorithm, kid: &str, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn mint_ed(claims: &Value) -> String {
    mint(Algorithm::EdDSA, ED_KID, claims, &FX.ed)
}

fn mint_es(claims: &Value) -> String {
    mint(Algorithm::ES256, P256_KID, claims, &FX.p256)
}

/// Signs a hand-written header and payload with jsonwebtoken's signer.
fn mint_raw(header: &str, payload: &[u8], key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

/// An EdDSA token over a hand-written payload, validly signed.
fn mint_ed_raw(payload: &str) -> String {
    mint_raw(
        r#"{"alg":"EdDSA","kid":"matcher-ed-1"}"#,
        payload.as_bytes(),
        &FX.ed,
        Algorithm::EdDSA,
    )
}

/// An unsigned token with this header and a good payload; the signature is `sig`.
fn unsigned(header: &str, sig: &str) -> String {
    let payload = claims(ED_ISS, "n-1").to_string();
    format!("{}.{}.{sig}", b64(header), b64(payload))
}

fn segments(token: &str) -> [&str; 3] {
    let v: Vec<&str> = token.split('.').collect();
    [v[0], v[1], v[2]]
}

fn verifier() -> FaceTokenVerifier<'static> {
    FaceTokenVerifier::new(&FX.keys, &FX.rules)
}

/// Verifies `token` for EMPLOYEE and `nonce` at `now` with a fresh ledger.
fn check_at(token: &str, nonce: &str, now: DateTime<Utc>) -> Result<FaceMatch, FaceTokenError> {
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce,
        trusted_now: now,
    };
    verifier().verify(token, &expected, &mut NonceLedger::new())
}

fn check(token: &str, nonce: &str) -> Result<FaceMatch, FaceTokenError> {
    check_at(token, nonce, now())
}

/// The error, asserting it carries `code`.
#[track_caller]
fn refused(result: Result<FaceMatch, FaceTokenError>, code: Code) -> FaceTokenError {
    let err = result.expect_err("token must be refused");
    assert_eq!(err.code(), code, "{err:?}");
    err
}

/// A Malformed error's part and reason.
#[track_caller]
fn malformed(result: Result<FaceMatch, FaceTokenError>) -> (TokenPart, String) {
    match refused(result, Code::FaceTokenMalformed) {
        FaceTokenError::Malformed { part, reason } => (part, reason),
        other => unreachable!("code and variant disagree: {other:?}"),
    }
}

// ---- fixtures agree with each other -------------------------------------------------------------

#[test]
fn fixture_keys_match_their_published_jwks() {
    let jwks: Value = serde_json::from_str(JWKS).unwrap();
    let jwk = |kid: &str| {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .clone()
    };
    assert_eq!(unb64(jwk(ED_KID)["x"].as_str().unwrap()), FX.ed_pub);
    assert_eq!(unb64(jwk(OPEN_KID)["x"].as_str().unwrap()), FX.other_pub);
    let p = jwk(P256_KID);
    let mut point = vec![0x04];
    point.extend(unb64(p["x"].as_str().unwrap()));
    point.extend(unb64(p["y"].as_str().unwrap()));
    assert_eq!(point, FX.p256_pub);
}

// ---- accepted tokens ----------------------------------------------------------------------------

#[test]
fn valid_eddsa_token_verifies() {
    let mut ledger = NonceLedger::new();
    let nonce = ledger.issue().unwrap();
    let token = mint_ed(&claims(ED_ISS, &nonce));
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: &nonce,
        trusted_now: now(),
    };
    let m = verifier().verify(&token, &expected, &mut ledger).unwrap();
    assert_eq!(
        m,
        FaceMatch {
            kid: ED_KID.into(),
            alg: JwsAlg::EdDSA,
            issuer: ED_ISS.into(),
            score: 0.93,
            liveness: 1.0,
            model: Some("acme-face-3.2".into()),
            issued_at: at(NOW - 10),
            expires_at: at(NOW + 110),
        }
    );
    assert!(ledger.is_consumed(&nonce));
    assert!(!ledger.is_outstanding(&nonce));
}

#[test]
fn valid_es256_token_verifies() {
    let mut c = claims(P256_ISS, "n-es");
    c["liveness"] = json!(0.87);
    c["iat"] = json!(NOW as f64 - 12.25);
    c.as_object_mut().unwrap().remove("model");
    let token = mint_es(&c);
    assert_eq!(unb64(segments(&token)[2]).len(), 64, "JWS ES256 is r||s");
    let m = check(&token, "n-es").unwrap();
    assert_eq!(
        m,
        FaceMatch {
            kid: P256_KID.into(),
            alg: JwsAlg::ES256,
            issuer: P256_ISS.into(),
            score: 0.93,
            liveness: 0.87,
            model: None,
            issued_at: at(NOW - 13) + chrono::Duration::milliseconds(750),
            expires_at: at(NOW + 110),
        }
    );
}

#[test]
fn key_without_registered_issuer_accepts_any_iss() {
    let token = mint(
        Algorithm::EdDSA,
        OPEN_KID,
        &claims("someone-else", "n-1"),
        &FX.other,
    );
    let m = check(&token, "n-1").unwrap();
    assert_eq!(m.issuer, "someone-else");
    assert_eq!(m.kid, OPEN_KID);
}

#[test]
fn for_policy_uses_the_policys_keys_and_rules() {
    // Policy::from_json lives elsewhere; a validated policy is plain data, so build one.
    let policy = Policy {
        version: 7,
        org: Org {
            id: "org-1".into(),
            name: "Harbour Retail".into(),
            time_zone: "Asia/Hong_Kong".into(),
        },
        thresholds: Thresholds {
            max_accuracy_m: 100.0,
            uncertain: UncertainAction::FieldPunch,
            max_fix_age_s: 60,
            max_travel_speed_mps: 50.0,
            clock_jump_tolerance_s: 120,
            face: FaceRules {
                min_score: 0.95,
                ..rules()
            },
            presence: PresenceRule::AccuracyCircle,
        },
        sites: Vec::new(),
        employees: Vec::new(),
        face_matchers: vec![FX.keys[1].clone()],
        approvals: Default::default(),
        attendance: Default::default(),
        enrolment: Default::default(),
    };
    let v = FaceTokenVerifier::for_policy(&policy);
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: "n-1",
        trusted_now: now(),
    };
    // Only the policy's key is trusted ...
    let err = v
        .verify(
            &mint_ed(&claims(ED_ISS, "n-1")),
            &expected,
            &mut NonceLedger::new(),
        )
        .unwrap_err();
    assert_eq!(err.code(), Code::FaceTokenUnknownKey);
    // ... and its rules apply: 0.93 passes the fixture rules but not this policy's 0.95.
    let err = v
        .verify(
            &mint_es(&claims(P256_ISS, "n-1")),
            &expected,
            &mut NonceLedger::new(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        FaceTokenError::ScoreTooLow {
            score: 0.93,
            min: 0.95
        }
    );
}

#[test]
fn unknown_header_parameters_and_claims_are_ignored() {
    let token = mint_raw(
        r#"{"typ":"JWT","alg":"EdDSA","kid":"matcher-ed-1","x-vendor":{"a":[1,2,{"b":null}]}}"#,
        json!({
            "iss": ED_ISS, "sub": EMPLOYEE, "nonce": "n-1", "iat": NOW, "exp": NOW + 60,
            "score": 1, "liveness": 0.5, "aud": ["x"], "jti": 7, "extra": {"deep": [[[]]]},
        })
        .to_string()
        .as_bytes(),
        &FX.ed,
        Algorithm::EdDSA,
    );
    let m = check(&token, "n-1").unwrap();
    assert_eq!((m.score, m.liveness, m.model), (1.0, 0.5, None));
}

#[test]
fn null_model_counts_as_absent() {
    let mut c = claims(ED_ISS, "n-1");
    c["model"] = Value::Null;
    assert_eq!(check(&mint_ed(&c), "n-1").unwrap().model, None);
}

// ---- algorithm ------------------------------------------------------------------------------

#[test]
fn hs256_keyed_with_the_ed25519_public_key_is_refused() {
    // The classic confusion: a verifier that feeds the "public key" to HMAC would accept this.
    let forged = mint(
        Algorithm::HS256,
        ED_KID,
        &claims(ED_ISS, "n-1"),
        &EncodingKey::from_secret(&FX.ed_pub),
    );
    let mut ledger = NonceLedger::new();
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: "n-1",
        trusted_now: now(),
    };
    let err = verifier()
        .verify(&forged, &expected, &mut ledger)
        .unwrap_err();
    assert_eq!(
        err,
        FaceTokenError::AlgorithmRefused {
            alg: "HS256".into()
        }
    );
    assert_eq!(err.code(), Code::FaceTokenAlgorithmRefused);
    assert!(
        !ledger.is_consumed("n-1"),
        "refused tokens leave the nonce unused"
    );
}

#[test]
fn hs256_keyed_with_the_p256_public_key_is_refused() {
    let c = claims(P256_ISS, "n-1");
    for secret in [&FX.p256_pub[..], &FX.p256_pub[1..]] {
        let forged = mint(
            Algorithm::HS256,
            P256_KID,
            &c,
            &EncodingKey::from_secret(secret),
        );
        let err = refused(check(&forged, "n-1"), Code::FaceTokenAlgorithmRefused);
        assert_eq!(
            err,
            FaceTokenError::AlgorithmRefused {
                alg: "HS256".into()
            }
        );
    }
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let forged = mint(alg, P256_KID, &c, &EncodingKey::from_secret(&FX.p256_pub));
        let err = refused(check(&forged, "n-1"), Code::FaceTokenAlgorithmRefused);
        assert!(matches!(err, FaceTokenError::AlgorithmRefused { alg } if alg.starts_with("HS")));
    }
}

#[test]
fn alg_none_is_refused() {
    let good_sig = segments(&mint_ed(&claims(ED_ISS, "n-1")))[2].to_owned();
    for (header, sig) in [
        (r#"{"alg":"none","kid":"matcher-ed-1"}"#, ""),
        (r#"{"alg":"none"}"#, ""),
        (r#"{"alg":"none","kid":"matcher-ed-1"}"#, good_sig.as_str()),
        (r#"{"alg":"None","kid":"matcher-ed-1"}"#, ""),
        (r#"{"alg":"NONE","kid":"matcher-ed-1"}"#, ""),
    ] {
        let err = refused(
            check(&unsigned(header, sig), "n-1"),
            Code::FaceTokenAlgorithmRefused,
        );
        let alg: Value = serde_json::from_str::<Value>(header).unwrap()["alg"].clone();
        assert_eq!(
            err,
            FaceTokenError::AlgorithmRefused {
                alg: alg.as_str().unwrap().into()
            }
        );
    }
}

#[test]
fn every_other_algorithm_name_is_refused_before_key_use() {
    let good_sig = segments(&mint_ed(&claims(ED_ISS, "n-1")))[2].to_owned();
    let names = [
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES384",
        "ES512",
        "ES256K",
        "HS256",
        "Ed25519",
        "Ed448",
        "EdDSA ",
        " EdDSA",
        "eddsa",
        "EDDSA",
        "es256",
        "Es256",
        "ES256\u{0}",
        "",
        "dir",
        "A256GCMKW",
    ];
    for name in names {
        // Signed by a trusted Ed25519 key: only the name is wrong.
        let header = json!({"alg": name, "kid": ED_KID}).to_string();
        let token = mint_raw(
            &header,
            claims(ED_ISS, "n-1").to_string().as_bytes(),
            &FX.ed,
            Algorithm::EdDSA,
        );
        let err = refused(check(&token, "n-1"), Code::FaceTokenAlgorithmRefused);
        assert_eq!(err, FaceTokenError::AlgorithmRefused { alg: name.into() });
        // And with an unknown kid it is still the algorithm that is reported first.
        let header = json!({"alg": name, "kid": "nobody"}).to_string();
        let err = refused(
            check(&unsigned(&header, &good_sig), "n-1"),
            Code::FaceTokenAlgorithmRefused,
        );
        assert_eq!(err, FaceTokenError::AlgorithmRefused { alg: name.into() });
    }
}

#[test]
fn refused_algorithm_names_are_clipped() {
    let long = "X".repeat(5000);
    let header = json!({"alg": long, "kid": ED_KID}).to_string();
    match refused(
        check(&unsigned(&header, ""), "n"),
        Code::FaceTokenAlgorithmRefused,
    ) {
        FaceTokenError::AlgorithmRefused { alg } => {
            assert_eq!(alg.chars().count(), 65);
            assert!(alg.ends_with('…'));
        }
        other => unreachable!("{other:?}"),
    }
}

#[test]
fn alg_missing_or_not_a_string_is_malformed() {
    for header in [
        r#"{"kid":"matcher-ed-1"}"#,
        r#"{"alg":null,"kid":"matcher-ed-1"}"#,
        r#"{"alg":1,"kid":"matcher-ed-1"}"#,
        r#"{"alg":["EdDSA"],"kid":"matcher-ed-1"}"#,
        r#"{"alg":{"name":"EdDSA"},"kid":"matcher-ed-1"}"#,
    ] {
        let (part, _) = malformed(check(&unsigned(header, ""), "n-1"));
        assert_eq!(part, TokenPart::HeaderParam("alg"), "{header}");
    }
}

// ---- keys ---------------------------------------------------------------------------------------

#[test]
fn unknown_kid_is_refused() {
    let token = mint(
        Algorithm::EdDSA,
        "matcher-ed-9",
        &claims(ED_ISS, "n-1"),
        &FX.ed,
    );
    let err = refused(check(&token, "n-1"), Code::FaceTokenUnknownKey);
    assert_eq!(
        err,
        FaceTokenError::UnknownKey {
            kid: "matcher-ed-9".into()
        }
    );
    // kid matching is exact.
    let token = mint(
        Algorithm::EdDSA,
        "MATCHER-ED-1",
        &claims(ED_ISS, "n-1"),
        &FX.ed,
    );
    refused(check(&token, "n-1"), Code::FaceTokenUnknownKey);
}

#[test]
fn kid_missing_or_not_a_string_is_malformed() {
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        &claims(ED_ISS, "n-1"),
        &FX.ed,
    )
    .unwrap();
    let (part, reason) = malformed(check(&token, "n-1"));
    assert_eq!(
        (part, reason.as_str()),
        (TokenPart::HeaderParam("kid"), "missing")
    );
    for header in [
        r#"{"alg":"EdDSA","kid":7}"#,
        r#"{"alg":"EdDSA","kid":null}"#,
    ] {
        let (part, reason) = malformed(check(&unsigned(header, ""), "n-1"));
        assert_eq!(part, TokenPart::HeaderParam("kid"));
        assert!(reason.starts_with("expected a string"), "{reason}");
    }
}

#[test]
fn eddsa_with_a_p256_kid_is_a_key_mismatch() {
    let token = mint(Algorithm::EdDSA, P256_KID, &claims(P256_ISS, "n-1"), &FX.ed);
    let err = refused(check(&token, "n-1"), Code::FaceTokenKeyMismatch);
    assert_eq!(
        err,
        FaceTokenError::KeyMismatch {
            kid: P256_KID.into(),
            alg: JwsAlg::EdDSA,
            key: KeyType::P256,
        }
    );
    assert!(err.to_string().contains("only verifies ES256"), "{err}");
}

#[test]
fn es256_with_an_ed25519_kid_is_a_key_mismatch() {
    let token = mint(Algorithm::ES256, ED_KID, &claims(ED_ISS, "n-1"), &FX.p256);
    let err = refused(check(&token, "n-1"), Code::FaceTokenKeyMismatch);
    assert_eq!(
        err,
        FaceTokenError::KeyMismatch {
            kid: ED_KID.into(),
            alg: JwsAlg::ES256,
            key: KeyType::Ed25519,
        }
    );
}

// ---- signature ----------------------------------------------------------------------------------

fn with_signature(token: &str, sig: &[u8]) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{}", b64(sig))
}

#[test]
fn a_flipped_signature_bit_is_refused() {
    for (token, kid, alg) in [
        (mint_ed(&claims(ED_ISS, "n-1")), ED_KID, JwsAlg::EdDSA),
        (mint_es(&claims(P256_ISS, "n-1")), P256_KID, JwsAlg::ES256),
    ] {
        assert!(check(&token, "n-1").is_ok());
        let sig = unb64(segments(&token)[2]);
        for bit in [0, 7, 100, 255, 256, 300, 511] {
            let mut flipped = sig.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let err = refused(
                check(&with_signature(&token, &flipped), "n-1"),
                Code::FaceTokenBadSignature,
            );
            assert_eq!(
                err,
                FaceTokenError::BadSignature {
                    kid: kid.into(),
                    alg,
                    len: 64
                }
            );
        }
    }
}

#[test]
fn a_changed_payload_or_header_breaks_the_signature() {
    let token = mint_ed(&claims(ED_ISS, "n-1"));
    let [h, _, s] = segments(&token);
    let mut better = claims(ED_ISS, "n-1");
    better["score"] = json!(0.99);
    let tampered = format!("{h}.{}.{s}", b64(better.to_string()));
    refused(check(&tampered, "n-1"), Code::FaceTokenBadSignature);
    // A re-serialised but equivalent header is a different signing input.
    let [_, p, s] = segments(&token);
    let header = r#"{"alg":"EdDSA","kid":"matcher-ed-1"}"#;
    let respelled = format!("{}.{p}.{s}", b64(header));
    refused(check(&respelled, "n-1"), Code::FaceTokenBadSignature);
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let token = mint(Algorithm::EdDSA, ED_KID, &claims(ED_ISS, "n-1"), &FX.other);
    let err = refused(check(&token, "n-1"), Code::FaceTokenBadSignature);
    assert_eq!(
        err,
        FaceTokenError::BadSignature {
            kid: ED_KID.into(),
            alg: JwsAlg::EdDSA,
            len: 64
        }
    );
}

#[test]
fn an_embedded_jwk_is_never_used_to_verify() {
    // An attacker signs with their own key and puts its public half in the header.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(ED_KID.into());
    header.jwk = Some(
        serde_json::from_value(json!({
            "kty": "OKP", "crv": "Ed25519", "x": b64(FX.other_pub),
        }))
        .unwrap(),
    );
    header.jku = Some("https://attacker.example/jwks.json".into());
    let token = jsonwebtoken::encode(&header, &claims(ED_ISS, "n-1"), &FX.other).unwrap();
    refused(check(&token, "n-1"), Code::FaceTokenBadSignature);
}

/// DER-encodes an ECDSA (r, s) pair: SEQUENCE { INTEGER r, INTEGER s }.
fn der_signature(fixed: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_none_or(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let mut body = integer(&fixed[..32]);
    body.extend(integer(&fixed[32..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn a_der_encoded_es256_signature_is_refused() {
    let token = mint_es(&claims(P256_ISS, "n-1"));
    let [h, p, s] = segments(&token);
    let der = der_signature(&unb64(s));
    // The DER form is the same, valid signature: ring's ASN.1 verifier accepts it ...
    sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, &FX.p256_pub[..])
        .verify(format!("{h}.{p}").as_bytes(), &der)
        .expect("test DER encoding is correct");
    // ... but JWS requires r||s (RFC 7518 §3.4), so the token is refused.
    let err = refused(
        check(&with_signature(&token, &der), "n-1"),
        Code::FaceTokenBadSignature,
    );
    assert_eq!(
        err,
        FaceTokenError::BadSignature {
            kid: P256_KID.into(),
            alg: JwsAlg::ES256,
            len: der.len()
        }
    );
    assert!(err.to_string().contains("not DER"), "{err}");
}

#[test]
fn empty_and_wrong_length_signatures_are_refused() {
    let token = mint_ed(&claims(ED_ISS, "n-1"));
    let sig = unb64(segments(&token)[2]);
    for bad in [&[][..], &sig[..63], &[&sig[..], &[0]].concat()] {
        let err = refused(
            check(&with_signature(&token, bad), "n-1"),
            Code::FaceTokenBadSignature,
        );
        assert!(matches!(err, FaceTokenError::BadSignature { len, .. } if len == bad.len()));
    }
}

// ---- claims against the attempt -----------------------------------------------------------------

#[test]
fn wrong_issuer_is_refused() {
    let token = mint_ed(&claims("https://evil.example", "n-1"));
    let err = refused(check(&token, "n-1"), Code::FaceTokenWrongIssuer);
    assert_eq!(
        err,
        FaceTokenError::WrongIssuer {
            kid: ED_KID.into(),
            expected: ED_ISS.into(),
            found: "https://evil.example".into(),
        }
    );
}

#[test]
fn wrong_subject_is_refused_and_leaves_the_nonce_unused() {
    let mut c = claims(ED_ISS, "n-1");
    c["sub"] = json!("E2002");
    let token = mint_ed(&c);
    let mut ledger = NonceLedger::new();
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: "n-1",
        trusted_now: now(),
    };
    let err = verifier()
        .verify(&token, &expected, &mut ledger)
        .unwrap_err();
    assert_eq!(err.code(), Code::FaceTokenWrongSubject);
    assert_eq!(
        err,
        FaceTokenError::WrongSubject {
            expected: EMPLOYEE.into(),
            found: "E2002".into()
        }
    );
    assert!(!ledger.is_consumed("n-1"));
}

#[test]
fn wrong_nonce_is_refused_and_consumes_nothing() {
    let mut ledger = NonceLedger::new();
    let issued = ledger.issue().unwrap();
    let token = mint_ed(&claims(ED_ISS, "nonce-of-another-attempt"));
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: &issued,
        trusted_now: now(),
    };
    let err = verifier()
        .verify(&token, &expected, &mut ledger)
        .unwrap_err();
    assert_eq!(err.code(), Code::FaceTokenWrongNonce);
    assert_eq!(
        err,
        FaceTokenError::WrongNonce {
            expected: issued.clone(),
            found: "nonce-of-another-attempt".into()
        }
    );
    assert!(ledger.is_outstanding(&issued));
    assert!(!ledger.is_consumed("nonce-of-another-attempt"));
}

#[test]
fn replaying_a_valid_token_is_refused() {
    let mut ledger = NonceLedger::new();
    let nonce = ledger.issue().unwrap();
    let token = mint_ed(&claims(ED_ISS, &nonce));
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: &nonce,
        trusted_now: now(),
    };
    let v = verifier();
    assert!(v.verify(&token, &expected, &mut ledger).is_ok());
    let err = v.verify(&token, &expected, &mut ledger).unwrap_err();
    assert_eq!(err.code(), Code::FaceTokenReplayed);
    assert_eq!(
        err,
        FaceTokenError::Replayed {
            nonce: nonce.clone()
        }
    );
    // A freshly signed token with the same nonce, even from another trusted matcher, too.
    let again = mint_es(&claims(P256_ISS, &nonce));
    let err = v.verify(&again, &expected, &mut ledger).unwrap_err();
    assert_eq!(err, FaceTokenError::Replayed { nonce });
}

#[test]
fn a_token_refused_for_time_or_score_still_uses_its_nonce() {
    let mut ledger = NonceLedger::new();
    let nonce = ledger.issue().unwrap();
    let mut c = claims(ED_ISS, &nonce);
    c["score"] = json!(0.1);
    let token = mint_ed(&c);
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: &nonce,
        trusted_now: now(),
    };
    let err = verifier()
        .verify(&token, &expected, &mut ledger)
        .unwrap_err();
    assert_eq!(err.code(), Code::FaceScoreTooLow);
    assert!(ledger.is_consumed(&nonce));
    // A good token for the same attempt can no longer be used: one nonce, one try.
    let good = mint_ed(&claims(ED_ISS, &nonce));
    let err = verifier()
        .verify(&good, &expected, &mut ledger)
        .unwrap_err();
    assert_eq!(err.code(), Code::FaceTokenReplayed);
}

// ---- time -----------------------------------------------------------------------------------------

fn timed(iat: i64, exp: i64) -> String {
    let mut c = claims(ED_ISS, "n-1");
    c["iat"] = json!(iat);
    c["exp"] = json!(exp);
    mint_ed(&c)
}

#[test]
fn expired_token_is_refused() {
    let token = timed(NOW - 400, NOW - 240);
    let err = refused(check(&token, "n-1"), Code::FaceTokenExpired);
    assert_eq!(
        err,
        FaceTokenError::Expired {
            ago_s: 240,
            skew_s: 30
        }
    );
    assert_eq!(
        err.to_string(),
        "face token expired 4 min ago (clock allowance 30 s)"
    );
}

#[test]
fn expiry_boundary_is_exp_plus_skew() {
    let token = timed(NOW - 100, NOW);
    assert!(
        check_at(&token, "n-1", at(NOW + 30)).is_ok(),
        "exactly exp + skew"
    );
    let err = refused(
        check_at(&token, "n-1", at(NOW + 31)),
        Code::FaceTokenExpired,
    );
    assert_eq!(
        err,
        FaceTokenError::Expired {
            ago_s: 31,
            skew_s: 30
        }
    );
    // Sub-second precision: half a second past the boundary is already expired.
    let half = at(NOW + 30) + chrono::Duration::milliseconds(500);
    let err = refused(check_at(&token, "n-1", half), Code::FaceTokenExpired);
    assert_eq!(
        err,
        FaceTokenError::Expired {
            ago_s: 31,
            skew_s: 30
        }
    );
}

#[test]
fn token_from_the_future_is_not_yet_valid() {
    let token = timed(NOW + 90, NOW + 300);
    let err = refused(check(&token, "n-1"), Code::FaceTokenNotYetValid);
    assert_eq!(
        err,
        FaceTokenError::NotYetValid {
            ahead_s: 90,
            skew_s: 30
        }
    );
    assert!(err.to_string().contains("90 s in the future"), "{err}");
    // Boundary: iat = now + skew is fine, one second more is not.
    assert!(check(&timed(NOW + 30, NOW + 300), "n-1").is_ok());
    let err = refused(
        check(&timed(NOW + 31, NOW + 300), "n-1"),
        Code::FaceTokenNotYetValid,
    );
    assert_eq!(
        err,
        FaceTokenError::NotYetValid {
            ahead_s: 31,
            skew_s: 30
        }
    );
}

#[test]
fn token_issued_too_long_ago_is_too_old() {
    // Not expired (long exp), but iat is past max_token_age_s (300) + skew (30).
    let token = timed(NOW - 600, NOW + 3600);
    let err = refused(check(&token, "n-1"), Code::FaceTokenTooOld);
    assert_eq!(
        err,
        FaceTokenError::TooOld {
            age_s: 600,
            max_s: 300
        }
    );
    assert_eq!(
        err.to_string(),
        "face token is 10 min old; the policy accepts up to 5 min"
    );
    assert!(check(&timed(NOW - 330, NOW + 3600), "n-1").is_ok());
    let err = refused(
        check(&timed(NOW - 331, NOW + 3600), "n-1"),
        Code::FaceTokenTooOld,
    );
    assert_eq!(
        err,
        FaceTokenError::TooOld {
            age_s: 331,
            max_s: 300
        }
    );
}

#[test]
fn huge_policy_numbers_do_not_overflow() {
    let rules = FaceRules {
        max_token_age_s: u64::MAX,
        clock_skew_s: u64::MAX,
        ..rules()
    };
    let v = FaceTokenVerifier::new(&FX.keys, &rules);
    let token = timed(0, 1);
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: "n-1",
        trusted_now: now(),
    };
    assert!(v.verify(&token, &expected, &mut NonceLedger::new()).is_ok());
}

// ---- score and liveness ---------------------------------------------------------------------------

fn scored(score: Value, liveness: Value) -> String {
    let mut c = claims(ED_ISS, "n-1");
    c["score"] = score;
    c["liveness"] = liveness;
    mint_ed(&c)
}

#[test]
fn low_score_is_refused() {
    let err = refused(
        check(&scored(json!(0.42), json!("pass")), "n-1"),
        Code::FaceScoreTooLow,
    );
    assert_eq!(
        err,
        FaceTokenError::ScoreTooLow {
            score: 0.42,
            min: 0.8
        }
    );
    assert_eq!(
        err.to_string(),
        "face match score 0.42 is below the minimum 0.8"
    );
    assert!(
        check(&scored(json!(0.8), json!("pass")), "n-1").is_ok(),
        "min is inclusive"
    );
    assert!(check(&scored(json!(0), json!("pass")), "n-1").is_err());
}

#[test]
fn failed_liveness_is_refused() {
    let err = refused(
        check(&scored(json!(0.95), json!("fail")), "n-1"),
        Code::FaceLivenessFailed,
    );
    assert_eq!(
        err,
        FaceTokenError::LivenessFailed {
            liveness: Liveness::Fail,
            min: 0.5
        }
    );
    let err = refused(
        check(&scored(json!(0.95), json!(0.31)), "n-1"),
        Code::FaceLivenessFailed,
    );
    assert_eq!(
        err,
        FaceTokenError::LivenessFailed {
            liveness: Liveness::Score(0.31),
            min: 0.5
        }
    );
    assert_eq!(
        err.to_string(),
        "liveness score 0.31 is below the minimum 0.5"
    );
    assert_eq!(
        check(&scored(json!(0.95), json!(0.5)), "n-1")
            .unwrap()
            .liveness,
        0.5
    );
}

#[test]
fn nan_thresholds_fail_closed() {
    let rules = FaceRules {
        min_score: f64::NAN,
        ..rules()
    };
    let v = FaceTokenVerifier::new(&FX.keys, &rules);
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: "n-1",
        trusted_now: now(),
    };
    let err = v
        .verify(
            &mint_ed(&claims(ED_ISS, "n-1")),
            &expected,
            &mut NonceLedger::new(),
        )
        .unwrap_err();
    assert_eq!(err.code(), Code::FaceScoreTooLow);
}

// ---- malformed --------------------------------------------------------------------------------

#[test]
fn structurally_broken_tokens_are_malformed() {
    let good = mint_ed(&claims(ED_ISS, "n-1"));
    let [h, p, s] = segments(&good);
    let cases: Vec<(String, TokenPart, &str)> = vec![
        (String::new(), TokenPart::Token, "empty"),
        (".".into(), TokenPart::Token, "segments"),
        ("..".into(), TokenPart::Header, "empty"),
        (format!("{h}.{p}"), TokenPart::Token, "segments"),
        (format!("{h}.{p}.{s}.{s}"), TokenPart::Token, "segments"),
        (format!("{h}.{p}.{s}."), TokenPart::Token, "segments"),
        (format!("{h}..{s}"), TokenPart::Payload, "empty"),
        (format!("{h}=.{p}.{s}"), TokenPart::Header, "padding"),
        (format!("{h}.{p}.{s}=="), TokenPart::Signature, "padding"),
        (format!(" {good}"), TokenPart::Header, "whitespace"),
        (format!("{good}\n"), TokenPart::Signature, "whitespace"),
        (format!("{h}.{p}\t.{s}"), TokenPart::Payload, "whitespace"),
        (
            format!("{h}.{p}.{}+", &s[1..]),
            TokenPart::Signature,
            "standard base64",
        ),
        (
            format!("{h}.{p}.{s}!"),
            TokenPart::Signature,
            "not a base64url character",
        ),
        (format!("{h}.{p}.{s}é"), TokenPart::Signature, "byte 0xc3"),
        (format!("{h}.A.{s}"), TokenPart::Payload, "base64url"),
        (format!("{h}.{p}.{s}AAA"), TokenPart::Signature, "base64url"),
        // Bearer prefix, as copied from an HTTP header.
        (format!("Bearer {good}"), TokenPart::Header, "whitespace"),
    ];
    for (token, part, needle) in cases {
        let (got_part, reason) = malformed(check(&token, "n-1"));
        assert_eq!(got_part, part, "{token:?}: {reason}");
        assert!(reason.contains(needle), "{token:?}: {reason}");
    }
}

#[test]
fn header_that_is_not_a_json_object_is_malformed() {
    let sig = "AAAA";
    let payload = b64(claims(ED_ISS, "n-1").to_string());
    for header in [
        &b"not json"[..],
        b"[\"EdDSA\",\"matcher-ed-1\"]",
        b"\"EdDSA\"",
        b"{\"alg\":\"EdDSA\",\"kid\":\"matcher-ed-1\"",
        b"{\"alg\":\"EdDSA\",\"kid\":\"matcher-ed-1\"} trailing",
        b"{\"alg\":\"Ed\xffDSA\",\"kid\":\"matcher-ed-1\"}",
        b"\xff\xfe\xfd",
    ] {
        let token = format!("{}.{payload}.{sig}", b64(header));
        let (part, reason) = malformed(check(&token, "n-1"));
        assert_eq!(part, TokenPart::Header, "{header:?}: {reason}");
    }
    let token = format!("{}.{payload}.{sig}", b64(b"\xff\xfe"));
    assert!(malformed(check(&token, "n-1")).1.contains("UTF-8"));
}

#[test]
fn crit_header_is_unsupported() {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(ED_KID.into());
    header.crit = Some(vec!["exp".into()]);
    let token = jsonwebtoken::encode(&header, &claims(ED_ISS, "n-1"), &FX.ed).unwrap();
    let (part, reason) = malformed(check(&token, "n-1"));
    assert_eq!(part, TokenPart::HeaderParam("crit"));
    assert!(reason.contains("not supported"), "{reason}");
}

#[test]
fn a_header_member_given_twice_is_malformed() {
    // A parser that takes the last `alg` would see "none"; one that takes the first, "EdDSA".
    for header in [
        r#"{"alg":"EdDSA","kid":"matcher-ed-1","alg":"none"}"#,
        r#"{"alg":"EdDSA","kid":"matcher-ed-1","\u0061lg":"EdDSA"}"#,
    ] {
        let token = mint_raw(
            header,
            claims(ED_ISS, "n-1").to_string().as_bytes(),
            &FX.ed,
            Algorithm::EdDSA,
        );
        let (part, reason) = malformed(check(&token, "n-1"));
        assert_eq!(part, TokenPart::HeaderParam("alg"));
        assert!(reason.contains("more than once"), "{reason}");
    }
}

/// A valid claim set as JSON text with one member's raw JSON replaced (or removed if `None`).
fn claims_text(name: &str, raw: Option<&str>) -> String {
    let mut members = vec![
        ("iss", format!("{ED_ISS:?}")),
        ("sub", format!("{EMPLOYEE:?}")),
        ("nonce", "\"n-1\"".to_owned()),
        ("iat", (NOW - 10).to_string()),
        ("exp", (NOW + 110).to_string()),
        ("score", "0.93".to_owned()),
        ("liveness", "\"pass\"".to_owned()),
        ("model", "\"acme-face-3.2\"".to_owned()),
    ];
    members.retain(|(n, _)| *n != name);
    if let Some(raw) = raw {
        members.push((name, raw.to_owned()));
    }
    let body: Vec<String> = members
        .iter()
        .map(|(n, v)| format!("\"{n}\":{v}"))
        .collect();
    format!("{{{}}}", body.join(","))
}

#[test]
fn claims_of_the_wrong_type_or_range_are_malformed_and_named() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("iss", None, "missing"),
        ("iss", Some("42"), "expected a string"),
        ("iss", Some("\"\""), "empty"),
        ("sub", Some("1001"), "expected a string"),
        ("sub", Some("null"), "expected a string"),
        ("sub", Some("[\"E1001\"]"), "expected a string"),
        ("nonce", None, "missing"),
        ("nonce", Some("{\"n\":1}"), "expected a string"),
        ("iat", None, "missing"),
        ("iat", Some("\"2026-03-02T01:00:00Z\""), "expected a number"),
        ("iat", Some("true"), "expected a number"),
        ("iat", Some("-1"), "outside the NumericDate range"),
        ("iat", Some("1e300"), "outside the NumericDate range"),
        (
            "iat",
            Some("99999999999999999999999999"),
            "outside the NumericDate range",
        ),
        ("iat", Some("1e400"), "number out of range"),
        ("exp", Some("-1e400"), "number out of range"),
        (
            "exp",
            Some("18446744073709551616"),
            "outside the NumericDate range",
        ),
        ("exp", Some("253402300800"), "outside the NumericDate range"),
        ("exp", Some("1772413190"), "is not after iat"),
        ("exp", Some("\"never\""), "expected a number"),
        ("score", None, "missing"),
        ("score", Some("\"high\""), "expected a number"),
        ("score", Some("1.0000001"), "outside 0..=1"),
        ("score", Some("-0.1"), "outside 0..=1"),
        ("score", Some("93"), "outside 0..=1"),
        ("score", Some("NaN"), "expected value"),
        ("score", Some("Infinity"), "expected value"),
        ("liveness", None, "missing"),
        ("liveness", Some("\"PASS\""), "expected \"pass\", \"fail\""),
        (
            "liveness",
            Some("\"passed\""),
            "expected \"pass\", \"fail\"",
        ),
        ("liveness", Some("2"), "outside 0..=1"),
        ("liveness", Some("true"), "expected a number"),
        ("model", Some("3.2"), "expected a string"),
        ("sub", Some("\"\\ud800\""), "escape"),
    ];
    for (name, raw, needle) in cases {
        let token = mint_ed_raw(&claims_text(name, *raw));
        let (part, reason) = malformed(check(&token, "n-1"));
        assert_eq!(part, TokenPart::Claim(name), "{name}={raw:?}: {reason}");
        assert!(reason.contains(needle), "{name}={raw:?}: {reason}");
    }
}

#[test]
fn serde_json_cannot_even_parse_1e400() {
    // Why `1e400` is reported as a JSON error inside the claim rather than as a range error.
    assert!(serde_json::from_str::<Value>("1e400").is_err());
    assert!(serde_json::from_str::<f64>("1e400").is_err());
    assert_eq!(serde_json::from_str::<f64>("1e308").unwrap(), 1e308);
}

#[test]
fn payload_that_is_not_a_json_object_is_malformed() {
    let cases: &[&[u8]] = &[
        b"",
        b"null",
        b"[]",
        b"\"claims\"",
        b"{} {}",
        b"\xff\xfe{}",
        b"{\"iss\":\"https://faces.example.hk\",\"sub\":\"E1\xff\"}",
    ];
    for payload in cases {
        let token = mint_raw(
            r#"{"alg":"EdDSA","kid":"matcher-ed-1"}"#,
            payload,
            &FX.ed,
            Algorithm::EdDSA,
        );
        let (part, reason) = malformed(check(&token, "n-1"));
        if payload.is_empty() {
            // An empty segment is a structural fault, before any JSON.
            assert_eq!(part, TokenPart::Payload);
            assert!(reason.contains("empty"), "{reason}");
        } else {
            assert_eq!(part, TokenPart::Payload, "{payload:?}: {reason}");
        }
    }
}

#[test]
fn a_payload_cut_short_names_the_claim_it_stopped_in() {
    let token = mint_ed_raw(r#"{"iss":"https://faces.example.hk","sub":"#);
    let (part, reason) = malformed(check(&token, "n-1"));
    assert_eq!(part, TokenPart::Claim("sub"));
    assert!(reason.contains("EOF"), "{reason}");
}

#[test]
fn a_claim_given_twice_is_malformed() {
    let text = claims_text("sub", Some("\"E1001\",\"sub\":\"E2002\""));
    let (part, reason) = malformed(check(&mint_ed_raw(&text), "n-1"));
    assert_eq!(part, TokenPart::Claim("sub"));
    assert!(reason.contains("more than once"), "{reason}");
}

// ---- hostile input ------------------------------------------------------------------------------

#[test]
fn a_megabyte_token_is_refused_by_size() {
    let good = mint_ed(&claims(ED_ISS, "n-1"));
    let [h, p, s] = segments(&good);
    let padded = format!("{h}.{p}{}.{s}", "A".repeat(1 << 20));
    let (part, reason) = malformed(check(&padded, "n-1"));
    assert_eq!(part, TokenPart::Token);
    assert!(
        reason.contains(&format!("limit is {MAX_TOKEN_BYTES}")),
        "{reason}"
    );
    let junk = "\u{1F600}".repeat(1 << 18);
    assert_eq!(malformed(check(&junk, "n-1")).0, TokenPart::Token);
}

#[test]
fn deeply_nested_json_costs_no_stack() {
    // As deep as the size limit allows, in an ignored member, in `alg` and at the top level.
    let depth = 2900;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let ignored = format!(r#"{{"alg":"EdDSA","kid":"matcher-ed-1","x":{deep}}}"#);
    let token = mint_raw(
        &ignored,
        claims(ED_ISS, "n-1").to_string().as_bytes(),
        &FX.ed,
        Algorithm::EdDSA,
    );
    assert!(token.len() <= MAX_TOKEN_BYTES, "{}", token.len());
    assert!(
        check(&token, "n-1").is_ok(),
        "unknown header members are skipped"
    );

    let in_alg = format!(r#"{{"alg":{deep},"kid":"matcher-ed-1"}}"#);
    let (part, _) = malformed(check(&unsigned(&in_alg, ""), "n-1"));
    assert_eq!(part, TokenPart::HeaderParam("alg"));

    let objects = format!("{}1{}", "{\"a\":".repeat(800), "}".repeat(800));
    let (part, _) = malformed(check(&unsigned(&objects, ""), "n-1"));
    assert_eq!(
        part,
        TokenPart::HeaderParam("alg"),
        "nested objects never hold `alg`"
    );

    let top = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(
        malformed(check(&unsigned(&top, ""), "n-1")).0,
        TokenPart::Header
    );

    let unclosed = format!(
        r#"{{"alg":"EdDSA","kid":"matcher-ed-1","x":{}"#,
        "[".repeat(5000)
    );
    assert_eq!(
        malformed(check(&unsigned(&unclosed, ""), "n-1")).0,
        TokenPart::Header
    );

    let in_claims = claims_text(
        "model",
        Some(&format!("{}\"x\"{}", "[".repeat(2000), "]".repeat(2000))),
    );
    let (part, _) = malformed(check(&mint_ed_raw(&in_claims), "n-1"));
    assert_eq!(part, TokenPart::Claim("model"));
}

// ---- check order ------------------------------------------------------------------------------

#[test]
fn several_faults_report_the_first_in_check_order() {
    // alg before kid: HS256 with an unknown kid.
    let t = mint(
        Algorithm::HS256,
        "nobody",
        &claims(ED_ISS, "n-1"),
        &EncodingKey::from_secret(b"k"),
    );
    refused(check(&t, "n-1"), Code::FaceTokenAlgorithmRefused);
    // header shape before alg: `crit` on a `none` token.
    let (part, _) = malformed(check(
        &unsigned(r#"{"alg":"none","kid":"x","crit":["b64"]}"#, ""),
        "n-1",
    ));
    assert_eq!(part, TokenPart::HeaderParam("crit"));
    // kid before key/alg match and signature: unknown kid, signed by nobody.
    let t = unsigned(r#"{"alg":"EdDSA","kid":"nobody"}"#, "AAAA");
    refused(check(&t, "n-1"), Code::FaceTokenUnknownKey);
    // key/alg match before signature.
    let t = unsigned(r#"{"alg":"ES256","kid":"matcher-ed-1"}"#, "AAAA");
    refused(check(&t, "n-1"), Code::FaceTokenKeyMismatch);
    // signature before claims: a forged, also malformed payload.
    let t = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"EdDSA","kid":"matcher-ed-1"}"#),
        b64("{\"score\":\"high\"}"),
        b64([0u8; 64])
    );
    refused(check(&t, "n-1"), Code::FaceTokenBadSignature);
    // claims shape before iss: a bad score type with a wrong issuer.
    let mut c = claims("https://evil.example", "n-1");
    c["score"] = json!("high");
    assert_eq!(
        malformed(check(&mint_ed(&c), "n-1")).0,
        TokenPart::Claim("score")
    );
    // iss before sub before nonce.
    let mut c = claims("https://evil.example", "other-nonce");
    c["sub"] = json!("E2002");
    refused(check(&mint_ed(&c), "n-1"), Code::FaceTokenWrongIssuer);
    c["iss"] = json!(ED_ISS);
    refused(check(&mint_ed(&c), "n-1"), Code::FaceTokenWrongSubject);
    c["sub"] = json!(EMPLOYEE);
    refused(check(&mint_ed(&c), "n-1"), Code::FaceTokenWrongNonce);
    // nonce before time: an expired token for the wrong attempt.
    let mut c = claims(ED_ISS, "other-nonce");
    c["iat"] = json!(NOW - 1000);
    c["exp"] = json!(NOW - 900);
    refused(check(&mint_ed(&c), "n-1"), Code::FaceTokenWrongNonce);
    // expired before too-old before score before liveness.
    c["nonce"] = json!("n-1");
    c["score"] = json!(0.1);
    c["liveness"] = json!("fail");
    refused(check(&mint_ed(&c), "n-1"), Code::FaceTokenExpired);
    c["exp"] = json!(NOW + 60);
    refused(check(&mint_ed(&c), "n-1"), Code::FaceTokenTooOld);
    c["iat"] = json!(NOW);
    refused(check(&mint_ed(&c), "n-1"), Code::FaceScoreTooLow);
    c["score"] = json!(0.9);
    refused(check(&mint_ed(&c), "n-1"), Code::FaceLivenessFailed);
    c["liveness"] = json!("pass");
    assert!(check(&mint_ed(&c), "n-1").is_ok());
}

#[test]
fn every_face_code_but_missing_and_matched_has_a_variant() {
    let expected: std::collections::BTreeSet<Code> = Code::ALL
        .iter()
        .copied()
        .filter(|c| c.as_str().starts_with("face_"))
        .filter(|c| !matches!(c, Code::FaceTokenMissing | Code::FaceMatched))
        .collect();
    let produced: std::collections::BTreeSet<Code> = [
        FaceTokenError::Malformed {
            part: TokenPart::Token,
            reason: String::new(),
        },
        FaceTokenError::AlgorithmRefused { alg: String::new() },
        FaceTokenError::UnknownKey { kid: String::new() },
        FaceTokenError::KeyMismatch {
            kid: String::new(),
            alg: JwsAlg::EdDSA,
            key: KeyType::P256,
        },
        FaceTokenError::BadSignature {
            kid: String::new(),
            alg: JwsAlg::EdDSA,
            len: 64,
        },
        FaceTokenError::WrongIssuer {
            kid: String::new(),
            expected: String::new(),
            found: String::new(),
        },
        FaceTokenError::WrongSubject {
            expected: String::new(),
            found: String::new(),
        },
        FaceTokenError::WrongNonce {
            expected: String::new(),
            found: String::new(),
        },
        FaceTokenError::Replayed {
            nonce: String::new(),
        },
        FaceTokenError::Expired {
            ago_s: 1,
            skew_s: 0,
        },
        FaceTokenError::NotYetValid {
            ahead_s: 1,
            skew_s: 0,
        },
        FaceTokenError::TooOld { age_s: 1, max_s: 0 },
        FaceTokenError::ScoreTooLow {
            score: 0.0,
            min: 1.0,
        },
        FaceTokenError::LivenessFailed {
            liveness: Liveness::Fail,
            min: 1.0,
        },
    ]
    .iter()
    .map(FaceTokenError::code)
    .collect();
    assert_eq!(produced, expected);
}

// ---- property tests ---------------------------------------------------------------------------

static VALID: LazyLock<String> = LazyLock::new(|| mint_ed(&claims(ED_ISS, "n-1")));
static VALID_ES: LazyLock<String> = LazyLock::new(|| mint_es(&claims(P256_ISS, "n-1")));

#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        prop::sample::select(b"AQgw_-.=+/ \n\t\0\"{}9zZ".to_vec()),
        any::<u8>().prop_map(|b| b & 0x7f),
    ];
    prop_oneof![
        4 => (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
        1 => (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<usize>().prop_map(Edit::Delete),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(token: &str, edits: &[Edit]) -> String {
    let mut bytes = token.as_bytes().to_vec();
    for e in edits {
        let len = bytes.len().max(1);
        match *e {
            Edit::Replace(i, b) if !bytes.is_empty() => bytes[i % len] = b,
            Edit::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.insert(at, b);
            }
            Edit::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % len);
            }
            Edit::Truncate(i) => bytes.truncate(i % len),
            _ => {}
        }
    }
    String::from_utf8(bytes).expect("edits insert ASCII only")
}

/// Raw JSON texts that stress the claim reader.
fn raw_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "1e400",
            "-1e400",
            "1e-400",
            "-0",
            "0",
            "1",
            "0.5",
            "1.5",
            "NaN",
            "null",
            "true",
            "\"pass\"",
            "\"fail\"",
            "\"\"",
            "\"\\ud800\"",
            "[]",
            "{}",
            "[[[[]]]]",
            "99999999999999999999999",
            "1772413200",
            "1772413190.5",
            "\"n-1\"",
            "\"E1001\"",
            "\"https://faces.example.hk\"",
        ])
        .prop_map(str::to_owned),
        any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap()),
        any::<i64>().prop_map(|i| i.to_string()),
        ".{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ]
}

fn claim_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "iss", "sub", "nonce", "iat", "exp", "score", "liveness", "model", "aud", "",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        prop_assert!(check(&s, "n-1").is_err());
    }

    #[test]
    fn arbitrary_base64url_segments_never_panic(
        h in any::<Vec<u8>>(), p in any::<Vec<u8>>(), s in any::<Vec<u8>>(),
    ) {
        let token = format!("{}.{}.{}", b64(h), b64(p), b64(s));
        prop_assert!(check(&token, "n-1").is_err());
    }

    #[test]
    fn arbitrary_header_json_never_panics(
        members in prop::collection::vec((prop::sample::select(vec!["alg", "kid", "crit", "typ", "jwk"]), raw_value()), 0..6)
    ) {
        let body: Vec<String> = members.iter().map(|(n, v)| format!("\"{n}\":{v}")).collect();
        let header = format!("{{{}}}", body.join(","));
        prop_assert!(check(&unsigned(&header, "AAAA"), "n-1").is_err());
    }

    /// Validly signed claim sets of arbitrary shape reach every claim check.
    #[test]
    fn arbitrary_signed_claims_never_panic(
        members in prop::collection::vec((claim_name(), raw_value()), 0..10),
        keep_good in any::<bool>(),
    ) {
        let mut body: Vec<String> = if keep_good {
            let good = claims_text("", None);
            vec![good[1..good.len() - 1].to_owned()]
        } else {
            Vec::new()
        };
        body.extend(members.iter().map(|(n, v)| format!("\"{n}\":{v}")));
        let text = format!("{{{}}}", body.join(","));
        if let Ok(m) = check(&mint_ed_raw(&text), "n-1") {
            prop_assert!(m.score >= 0.8 && m.score <= 1.0);
            prop_assert!(m.liveness >= 0.5 && m.liveness <= 1.0);
            prop_assert!(m.expires_at > m.issued_at);
        }
    }

    #[test]
    fn mutated_valid_tokens_are_refused_and_only_the_original_passes(
        edits in prop::collection::vec(edit(), 0..4),
        es in any::<bool>(),
    ) {
        let original: &str = if es { &VALID_ES } else { &VALID };
        let mutated = apply(original, &edits);
        let result = check(&mutated, "n-1");
        if mutated == original {
            prop_assert!(result.is_ok(), "{:?}", result);
        } else {
            prop_assert!(result.is_err(), "mutation accepted: {mutated}");
        }
    }
}

// ---- the documented example ---------------------------------------------------------------------

/// The example token in `docs/face-token.md`, signed with `ed25519.pem`.
const DOC_EXAMPLE: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6Im1hdGNoZXItZWQtMSIsInR5cCI6IkpXVCJ9.\
    eyJpc3MiOiJodHRwczovL2ZhY2VzLmV4YW1wbGUuaGsiLCJzdWIiOiJFMTAwMSIsIm5vbmNlIjoicTNWeDBKbTRUcUs4\
    Yloxc1dmUHoyQSIsImlhdCI6MTc3MjQxMzE5NywiZXhwIjoxNzcyNDEzMzE3LCJzY29yZSI6MC45MywibGl2ZW5lc3Mi\
    OiJwYXNzIiwibW9kZWwiOiJhY21lLWZhY2UtMy4yIn0.\
    lZGaXrhnNpG26rYAUiUGiDT-SOZKkv7MhdvlT_iHvMuJqtkWgAu2iVfBazoIfYVbHoH4Yf-CU5qjmYMFdf1XBg";

#[test]
fn documented_example_is_what_jsonwebtoken_signs_and_verifies() {
    // Ed25519 signatures are deterministic, so the documented token is reproducible.
    let minted = mint_raw(
        r#"{"alg":"EdDSA","kid":"matcher-ed-1","typ":"JWT"}"#,
        concat!(
            r#"{"iss":"https://faces.example.hk","sub":"E1001","nonce":"q3Vx0Jm4TqK8bZ1sWfPz2A","#,
            r#""iat":1772413197,"exp":1772413317,"score":0.93,"liveness":"pass","#,
            r#""model":"acme-face-3.2"}"#
        )
        .as_bytes(),
        &FX.ed,
        Algorithm::EdDSA,
    );
    assert_eq!(minted, DOC_EXAMPLE);
    let m = check(DOC_EXAMPLE, "q3Vx0Jm4TqK8bZ1sWfPz2A").unwrap();
    assert_eq!(m.issued_at.to_rfc3339(), "2026-03-02T00:59:57+00:00");
    assert_eq!(m.expires_at.to_rfc3339(), "2026-03-02T01:01:57+00:00");
    assert_eq!((m.score, m.liveness), (0.93, 1.0));
}

#[test]
fn documented_messages_are_exact() {
    let token = mint_ed_raw(&claims_text("score", Some("1.2")));
    assert_eq!(
        check(&token, "n-1").unwrap_err().to_string(),
        "face token malformed: claim `score`: 1.2 is outside 0..=1"
    );
    let token = mint_ed_raw(&claims_text("iat", Some("1772413197000")));
    assert_eq!(
        check(&token, "n-1").unwrap_err().to_string(),
        "face token malformed: claim `iat`: 1772413197000 is outside the NumericDate range \
         0..=253402300799 (year 9999)"
    );
    let token = mint_es(&claims(P256_ISS, "n-1"));
    let der = der_signature(&unb64(segments(&token)[2]));
    let err = check(&with_signature(&token, &der), "n-1").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "face token signature is {} bytes; ES256 needs the 64-byte r||s form \
             (RFC 7518 §3.4), not DER",
            der.len()
        )
    );
}

// ---- the signature checked ahead ----------------------------------------------------------------

/// `verify_checked` with `checked`, for EMPLOYEE and nonce `n-1`, on a fresh ledger; and the
/// ledger afterwards.
fn verify_with(
    verifier: &FaceTokenVerifier<'_>,
    token: &str,
    checked: Option<&SignatureChecked>,
) -> (Result<FaceMatch, FaceTokenError>, NonceLedger) {
    let expected = Expected {
        employee_id: EMPLOYEE,
        nonce: "n-1",
        trusted_now: now(),
    };
    let mut ledger = NonceLedger::new();
    let result = verifier.verify_checked(token, &expected, &mut ledger, checked);
    (result, ledger)
}

#[test]
fn a_signature_checked_ahead_gives_the_same_match_and_still_consumes_the_nonce() {
    for token in [
        mint_ed(&claims(ED_ISS, "n-1")),
        mint_es(&claims(P256_ISS, "n-1")),
    ] {
        let checked = verifier().check_signature(&token).unwrap();
        let (ahead, ledger) = verify_with(&verifier(), &token, Some(&checked));
        let (whole, _) = verify_with(&verifier(), &token, None);
        assert_eq!(ahead.unwrap(), whole.unwrap());
        assert!(ledger.is_consumed("n-1"));
        // Every check after the signature still runs: the wrong subject, a replayed nonce.
        let expected = Expected {
            employee_id: "E9999",
            nonce: "n-1",
            trusted_now: now(),
        };
        let mut fresh = NonceLedger::new();
        let result = verifier().verify_checked(&token, &expected, &mut fresh, Some(&checked));
        refused(result, Code::FaceTokenWrongSubject);
        let mut used = ledger;
        let expected = Expected {
            employee_id: EMPLOYEE,
            ..expected
        };
        let result = verifier().verify_checked(&token, &expected, &mut used, Some(&checked));
        refused(result, Code::FaceTokenReplayed);
    }
}

#[test]
fn a_signature_checked_ahead_is_for_that_token_and_that_key_only() {
    let good = mint_ed(&claims(ED_ISS, "n-1"));
    let checked = verifier().check_signature(&good).unwrap();
    // Another token with a bad signature is checked, whatever `checked` says.
    let mut flipped = unb64(segments(&good)[2]);
    flipped[0] ^= 1;
    let forged = with_signature(&good, &flipped);
    let (result, ledger) = verify_with(&verifier(), &forged, Some(&checked));
    refused(result, Code::FaceTokenBadSignature);
    assert!(!ledger.is_consumed("n-1"));
    // The same token under a policy whose key of that kid is another one: checked again,
    // and refused.
    let keys = vec![TrustedKey {
        kid: ED_KID.into(),
        issuer: Some(ED_ISS.into()),
        key: PublicKey::Ed25519(FX.other_pub),
    }];
    let other_policy = FaceTokenVerifier::new(&keys, &FX.rules);
    let (result, _) = verify_with(&other_policy, &good, Some(&checked));
    refused(result, Code::FaceTokenBadSignature);
}

#[test]
fn checking_a_signature_ahead_refuses_as_verify_does() {
    let good = mint_ed(&claims(ED_ISS, "n-1"));
    let mut flipped = unb64(segments(&good)[2]);
    flipped[5] ^= 0x10;
    for token in [
        with_signature(&good, &flipped),
        unsigned(r#"{"alg":"none","kid":"matcher-ed-1"}"#, ""),
        mint(
            Algorithm::EdDSA,
            "matcher-unknown",
            &claims(ED_ISS, "n-1"),
            &FX.ed,
        ),
        "not.a.token".to_string(),
        String::new(),
    ] {
        let ahead = verifier().check_signature(&token).unwrap_err();
        let whole = check(&token, "n-1").unwrap_err();
        assert_eq!(ahead, whole, "{token}");
    }
    // The claims are not read ahead: a validly signed token with an expired time passes the
    // signature check and is refused only by the whole verification.
    let mut late = claims(ED_ISS, "n-1");
    late["exp"] = json!(NOW - 3600);
    late["iat"] = json!(NOW - 3700);
    let late = mint_ed(&late);
    let checked = verifier().check_signature(&late).unwrap();
    let (result, _) = verify_with(&verifier(), &late, Some(&checked));
    refused(result, Code::FaceTokenExpired);
}
