//! A stand-in face matcher: signs match results as compact JWS with a private JWK, exactly as
//! a real matcher (on-device model, vendor SDK, or the company's server) would after comparing
//! a selfie with the enrolled face. Used by `daka face-token` to let integrators and support
//! staff produce test tokens, and by `daka demo`.
//!
//! It never sees a face: daka does not handle biometric data (PDPO), only signed results.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use clap::Args;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use serde_json::{Value, json};

use crate::{exit, malformed, read_input};

/// A loaded matcher key.
pub enum MatcherKey {
    Ed25519 { kid: String, key: Ed25519KeyPair },
    P256 { kid: String, key: EcdsaKeyPair },
}

/// One match result to sign.
pub struct MatchResult<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub nonce: &'a str,
    pub issued_at: DateTime<Utc>,
    pub ttl_s: i64,
    pub score: f64,
    pub liveness: Value,
    pub model: &'a str,
}

impl MatcherKey {
    /// Loads a private JWK (`OKP`/`Ed25519` or `EC`/`P-256`, with `d` and a `kid`).
    pub fn from_jwk(text: &str) -> Result<MatcherKey, String> {
        let jwk: Value =
            serde_json::from_str(text).map_err(|e| format!("the key is not JSON: {e}"))?;
        let field = |name: &str| -> Result<Vec<u8>, String> {
            let s = jwk[name]
                .as_str()
                .ok_or_else(|| format!("the JWK has no string member {name:?}"))?;
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|e| format!("JWK member {name:?} is not base64url: {e}"))
        };
        let kid = jwk["kid"]
            .as_str()
            .ok_or("the JWK has no \"kid\"; the token's kid must name the key in the policy")?
            .to_string();
        match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
            (Some("OKP"), Some("Ed25519")) => {
                let key = Ed25519KeyPair::from_seed_and_public_key(&field("d")?, &field("x")?)
                    .map_err(|e| format!("not an Ed25519 key pair: {e}"))?;
                Ok(MatcherKey::Ed25519 { kid, key })
            }
            (Some("EC"), Some("P-256")) => {
                let mut public = vec![0x04];
                public.extend(field("x")?);
                public.extend(field("y")?);
                let key = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &field("d")?,
                    &public,
                    &SystemRandom::new(),
                )
                .map_err(|e| format!("not a P-256 key pair: {e}"))?;
                Ok(MatcherKey::P256 { kid, key })
            }
            (kty, crv) => Err(format!(
                "unsupported key type {kty:?}/{crv:?}; face matchers sign with OKP/Ed25519 or EC/P-256"
            )),
        }
    }

    /// Signs a match result as a compact JWS.
    pub fn sign(&self, result: &MatchResult<'_>) -> Result<String, String> {
        let (alg, kid) = match self {
            MatcherKey::Ed25519 { kid, .. } => ("EdDSA", kid),
            MatcherKey::P256 { kid, .. } => ("ES256", kid),
        };
        let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
        let claims = json!({
            "iss": result.issuer,
            "sub": result.subject,
            "nonce": result.nonce,
            "iat": result.issued_at.timestamp(),
            "exp": result.issued_at.timestamp() + result.ttl_s,
            "score": result.score,
            "liveness": result.liveness,
            "model": result.model,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match self {
            MatcherKey::Ed25519 { key, .. } => key.sign(input.as_bytes()).as_ref().to_vec(),
            MatcherKey::P256 { key, .. } => key
                .sign(&SystemRandom::new(), input.as_bytes())
                .map_err(|_| "signing failed".to_string())?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[derive(Args)]
pub struct FaceTokenArgs {
    /// The matcher's private JWK (e.g. examples/keys/face-matcher-ed25519.private.jwk).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Employee id the face was matched to (`sub`).
    #[arg(long)]
    sub: String,
    /// The nonce daka issued for the punch attempt.
    #[arg(long)]
    nonce: String,
    /// Issuer (`iss`); must match the policy's entry for the key when it names one.
    #[arg(long, default_value = "https://face.harbour-lane.example/device")]
    iss: String,
    /// Match score, 0..1.
    #[arg(long, default_value_t = 0.97)]
    score: f64,
    /// Liveness: `pass`, `fail`, or a score 0..1.
    #[arg(long, default_value = "pass")]
    liveness: String,
    /// Issue time (RFC 3339); default now.
    #[arg(long)]
    iat: Option<DateTime<Utc>>,
    /// Lifetime in seconds (`exp - iat`).
    #[arg(long, default_value_t = 120)]
    ttl_s: i64,
    /// Model name (`model`).
    #[arg(long, default_value = "demo-matcher-1")]
    model: String,
}

pub fn run(args: FaceTokenArgs) -> u8 {
    let text = match read_input(&args.key) {
        Ok(t) => t,
        Err(e) => return malformed(e),
    };
    let key = match MatcherKey::from_jwk(&text) {
        Ok(k) => k,
        Err(e) => return malformed(format!("key {}: {e}", args.key.display())),
    };
    let liveness = match args.liveness.as_str() {
        "pass" | "fail" => Value::from(args.liveness.clone()),
        other => match other.parse::<f64>() {
            Ok(v) => Value::from(v),
            Err(_) => {
                return malformed(format!("--liveness {other:?}: use pass, fail or a number"));
            }
        },
    };
    let result = MatchResult {
        issuer: &args.iss,
        subject: &args.sub,
        nonce: &args.nonce,
        issued_at: args.iat.unwrap_or_else(Utc::now),
        ttl_s: args.ttl_s,
        score: args.score,
        liveness,
        model: &args.model,
    };
    match key.sign(&result) {
        Ok(token) => {
            println!("{token}");
            exit::OK
        }
        Err(e) => malformed(e),
    }
}
