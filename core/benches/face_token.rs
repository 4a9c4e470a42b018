//! Cost of verifying a face-match token, beside the bare signature check it contains.
//!
//! Each algorithm is measured twice in one group: `ring_*` is ring verifying the token's
//! signature over its signing input and nothing else; `verify_*` is the whole
//! `FaceTokenVerifier::verify` (compact parsing, base64url, header and claim JSON, key lookup,
//! the same signature check, claim and time checks, consuming the nonce). The ratio of the two
//! is the overhead daka adds, and survives a noisy machine better than either figure.
//!
//! Tokens are minted with the `jsonwebtoken` crate from the test keys in
//! `tests/fixtures/face/`. Each `verify` gets a fresh, empty ledger built outside the timing,
//! since a nonce can only be consumed once.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::DateTime;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use daka_core::evidence::face_token::{Expected, FaceTokenVerifier, NonceLedger};
use daka_core::policy::{FaceRules, PublicKey, TrustedKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{self as sig, KeyPair as _};

const NOW: i64 = 1_772_413_200;
const ED_PEM: &str = include_str!("../tests/fixtures/face/ed25519.pem");
const P256_PEM: &str = include_str!("../tests/fixtures/face/p256.pem");

fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn mint(alg: Algorithm, kid: &str, iss: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    let claims = serde_json::json!({
        "iss": iss, "sub": "E1001", "nonce": "bench-nonce-0123456789",
        "iat": NOW - 10, "exp": NOW + 110, "score": 0.93, "liveness": "pass",
        "model": "acme-face-3.2",
    });
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

/// The signing input and decoded signature of a token, for the bare ring baseline.
fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
    let dot = token.rfind('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(&token[dot + 1..]).unwrap();
    (token.as_bytes()[..dot].to_vec(), signature)
}

fn bench(c: &mut Criterion) {
    let ed_pub: [u8; 32] = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der(ED_PEM))
        .unwrap()
        .public_key()
        .as_ref()
        .try_into()
        .unwrap();
    let p256_pub: [u8; 65] = sig::EcdsaKeyPair::from_pkcs8(
        &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        &der(P256_PEM),
        &ring::rand::SystemRandom::new(),
    )
    .unwrap()
    .public_key()
    .as_ref()
    .try_into()
    .unwrap();
    let keys = vec![
        TrustedKey {
            kid: "matcher-ed-1".into(),
            issuer: Some("https://faces.example.hk".into()),
            key: PublicKey::Ed25519(ed_pub),
        },
        TrustedKey {
            kid: "matcher-p256-1".into(),
            issuer: Some("acme-face-cloud".into()),
            key: PublicKey::P256(Box::new(p256_pub)),
        },
    ];
    let rules = FaceRules {
        required: true,
        min_score: 0.8,
        min_liveness: 0.5,
        max_token_age_s: 300,
        clock_skew_s: 30,
    };
    let verifier = FaceTokenVerifier::new(&keys, &rules);
    let expected = Expected {
        employee_id: "E1001",
        nonce: "bench-nonce-0123456789",
        trusted_now: DateTime::from_timestamp(NOW, 0).unwrap(),
    };

    let ed_token = mint(
        Algorithm::EdDSA,
        "matcher-ed-1",
        "https://faces.example.hk",
        &EncodingKey::from_ed_pem(ED_PEM.as_bytes()).unwrap(),
    );
    let es_token = mint(
        Algorithm::ES256,
        "matcher-p256-1",
        "acme-face-cloud",
        &EncodingKey::from_ec_pem(P256_PEM.as_bytes()).unwrap(),
    );

    let mut group = c.benchmark_group("face_token");
    for (name, token, alg, public) in [
        (
            "eddsa",
            &ed_token,
            &sig::ED25519 as &dyn sig::VerificationAlgorithm,
            &ed_pub[..],
        ),
        (
            "es256",
            &es_token,
            &sig::ECDSA_P256_SHA256_FIXED,
            &p256_pub[..],
        ),
    ] {
        // Both paths must succeed, or the figures compare different work.
        assert!(
            verifier
                .verify(token, &expected, &mut NonceLedger::new())
                .is_ok()
        );
        let (input, signature) = split(token);
        let key = sig::UnparsedPublicKey::new(alg, public);
        assert!(key.verify(&input, &signature).is_ok());

        group.bench_function(format!("ring_{name}"), |b| {
            b.iter(|| key.verify(black_box(&input), black_box(&signature)))
        });
        group.bench_function(format!("verify_{name}"), |b| {
            b.iter_batched(
                NonceLedger::new,
                |mut ledger| {
                    let result = verifier.verify(black_box(token), &expected, &mut ledger);
                    (result, ledger)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
