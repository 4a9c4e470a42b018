//! Enrolment attestation: what a phone's platform says about the app and the device, checked
//! on the server before a device key is enrolled (docs/threat-model.md, docs/protocol.md
//! "Attestation at enrolment").
//!
//! The device asks the server for a challenge, computes the attestation nonce
//! (`daka_core::protocol::attestation_nonce`: SHA-256 over the challenge and the device's
//! public key), has its platform attest to it (Play Integrity's `nonce`, App Attest's
//! `clientDataHash`) and sends the result with its enrolment. The server hands the result to
//! the [`AttestationVerifier`] registered for its format, with the nonce it expects and the
//! app ids the organisation's policy allows ([`Expected`]). A verifier either names what it
//! established ([`Attested`]) or says, as an [`AttestationError`], why not.
//!
//! Verifiers are pluggable: [`Verifiers`] maps a format name to any implementation. This crate
//! ships [`play_integrity::PlayIntegrityVerifier`] (the token decrypted and checked locally with
//! the keys from the Play Console), [`app_attest::AppAttestVerifier`] (the attestation
//! object checked against Apple's App Attest root) and
//! [`key_attestation::KeyAttestationVerifier`] (an Android Keystore key's certificate chain
//! checked against Google's hardware attestation roots).

pub mod app_attest;
pub mod key_attestation;
pub mod play_integrity;
mod x509;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A verifier configuration that cannot be used, naming the field
/// (`play_integrity.apps[0].decryption_key`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    /// The field, as a path in the configuration JSON (`.` for the document itself).
    pub field: String,
    /// What is wrong, with the value found where that helps.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The same problem, its field under `parent` (`apps[0]` → `play_integrity.apps[0]`).
    fn under(self, parent: &str) -> Self {
        let field = if self.field == "." {
            parent.to_string()
        } else {
            format!("{parent}.{}", self.field)
        };
        Self { field, ..self }
    }
}

/// Reads a configuration of type `T` from JSON; errors name the field at fault.
pub(crate) fn read_config<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ConfigError> {
    // serde reads a struct from a JSON array too (its fields in order): `[]` would be a
    // configuration with every default.
    if !json.trim_start().starts_with('{') {
        return Err(ConfigError::new(".", "a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let config: T = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| ConfigError::new(e.path().to_string(), e.inner().to_string()))?;
    deserializer
        .end()
        .map_err(|e| ConfigError::new(".", e.to_string()))?;
    Ok(config)
}

/// The server's attestation configuration (`daka serve --attestation-config FILE`): which
/// formats it verifies, and with what keys.
///
/// ```json
/// {
///   "play_integrity": {"apps": [{"package_name": "hk.harbourlane.staff",
///                                "decryption_key": "<base64>", "verification_key": "<base64>"}]},
///   "app_attest": {"environment": "production"}
/// }
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiersConfig {
    /// Play Integrity: the keys of each app from the Play Console.
    #[serde(default)]
    pub play_integrity: Option<play_integrity::PlayIntegrityConfig>,
    /// App Attest: the environment accepted.
    #[serde(default)]
    pub app_attest: Option<app_attest::AppAttestConfig>,
    /// Android key attestation: the roots and what the device must show.
    #[serde(default)]
    pub key_attestation: Option<key_attestation::KeyAttestationConfig>,
}

/// What an attestation must be bound to, from the server's side.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The nonce the device had its platform attest to: `attestation_nonce(challenge,
    /// public_key)`, 32 bytes.
    pub nonce: &'a [u8; 32],
    /// Android package names the organisation's policy allows (`enrolment.android_packages`).
    pub android_packages: &'a [String],
    /// Apple app ids (`TEAMID.bundle.id`) the organisation's policy allows
    /// (`enrolment.ios_app_ids`).
    pub ios_app_ids: &'a [String],
    /// The server's clock.
    pub now: DateTime<Utc>,
}

/// What a verifier established about the device and app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The format that was verified, e.g. `play_integrity`.
    pub format: String,
    /// The app that was attested: an Android package name or an Apple app id.
    pub app_id: String,
    /// One line for administrators and audits, e.g.
    /// `MEETS_STRONG_INTEGRITY, PLAY_RECOGNIZED, LICENSED`.
    pub summary: String,
}

/// Why an attestation was not accepted. [`AttestationError::code`] is the API's answer code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    /// No verifier is registered for this format on this server.
    #[error("attestation format `{format}` is not verified by this server (it verifies: {known})")]
    UnsupportedFormat {
        /// The format the device sent.
        format: String,
        /// The formats this server verifies, comma-separated (may be empty).
        known: String,
    },
    /// The token could not be read: not the format's encoding, a missing or wrong-typed field.
    #[error("attestation token is malformed: {reason}")]
    Malformed {
        /// What was wrong, naming the part or field.
        reason: String,
    },
    /// The token's signature, encryption or certificate chain does not check out.
    #[error("attestation is not authentic: {reason}")]
    NotAuthentic {
        /// What failed, e.g. `the JWS signature does not verify with the verification key`.
        reason: String,
    },
    /// The token is authentic but attests to another nonce: made for another challenge or
    /// another device key (a replayed or relayed token).
    #[error("attestation was made for another challenge or device key")]
    NonceMismatch,
    /// The attested app is not one the organisation's policy allows.
    #[error("attested app `{app_id}` is not one this organisation allows")]
    WrongApp {
        /// The package name or app id the token names.
        app_id: String,
    },
    /// The platform does not vouch for the device or the app (rooted, emulator, sideloaded,
    /// unlicensed, a development environment where production is required).
    #[error("the platform does not vouch for this device or app: {verdict}")]
    NotTrusted {
        /// The platform's verdicts, as it states them.
        verdict: String,
    },
    /// The token is older than the verifier accepts, or from the future.
    #[error("attestation is stale: {}", describe_age(*age_s))]
    Stale {
        /// Seconds between the token's time and the server's clock (negative: in the future).
        age_s: i64,
    },
}

/// [`AttestationError::Malformed`] with this reason.
pub(crate) fn malformed(reason: impl Into<String>) -> AttestationError {
    AttestationError::Malformed {
        reason: reason.into(),
    }
}

/// [`AttestationError::NotAuthentic`] with this reason.
pub(crate) fn not_authentic(reason: impl Into<String>) -> AttestationError {
    AttestationError::NotAuthentic {
        reason: reason.into(),
    }
}

/// A SHA-256 digest written as 64 hex digits (colons between bytes allowed) or as 32 bytes
/// of base64url or base64, padded or not.
pub(crate) fn parse_sha256_digest(text: &str) -> Option<[u8; 32]> {
    let hex: Vec<u8> = text.bytes().filter(|b| *b != b':').collect();
    if hex.len() == 64 {
        if let Some(digest) = decode_hex(&hex) {
            return Some(digest);
        }
    }
    {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
    }
    .iter()
    .find_map(|engine| base64::Engine::decode(engine, text).ok())
    .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
}

fn decode_hex(hex: &[u8]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let [high, low] = pair else { return None };
        *byte = hex_digit(*high)? << 4 | hex_digit(*low)?;
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn describe_age(age_s: i64) -> String {
    if age_s < 0 {
        format!("made {} s after the server's clock", age_s.unsigned_abs())
    } else {
        format!("made {age_s} s before the server's clock")
    }
}

impl AttestationError {
    /// The answer code of `POST /v1/enroll` for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            AttestationError::UnsupportedFormat { .. } => "attestation_format_unsupported",
            AttestationError::Malformed { .. } => "attestation_malformed",
            AttestationError::NotAuthentic { .. } => "attestation_not_authentic",
            AttestationError::NonceMismatch => "attestation_nonce_mismatch",
            AttestationError::WrongApp { .. } => "attestation_wrong_app",
            AttestationError::NotTrusted { .. } => "attestation_not_trusted",
            AttestationError::Stale { .. } => "attestation_stale",
        }
    }
}

/// Checks one attestation format.
///
/// Implementations must be bound to [`Expected::nonce`]: a token for another nonce is
/// [`AttestationError::NonceMismatch`], whatever else it says.
pub trait AttestationVerifier: Send + Sync {
    /// The format name devices send (`play_integrity`, `app_attest`,
    /// `android_key_attestation`, …).
    fn format(&self) -> &str;
    /// Verifies `token` against what the server expects.
    fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Attested, AttestationError>;
}

/// The verifiers of one server, by format.
#[derive(Clone, Default)]
pub struct Verifiers {
    by_format: BTreeMap<String, Arc<dyn AttestationVerifier>>,
}

impl std::fmt::Debug for Verifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_format.keys()).finish()
    }
}

impl Verifiers {
    /// No verifiers: every attestation is [`AttestationError::UnsupportedFormat`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `verifier` for its format, replacing any verifier of that format.
    pub fn with(mut self, verifier: Arc<dyn AttestationVerifier>) -> Self {
        self.by_format
            .insert(verifier.format().to_string(), verifier);
        self
    }

    /// The verifiers a configuration names ([`VerifiersConfig`], as JSON); errors name the
    /// field (`play_integrity.apps[0].decryption_key: …`).
    pub fn from_config_json(json: &str) -> Result<Self, ConfigError> {
        let config: VerifiersConfig = read_config(json)?;
        let mut verifiers = Verifiers::new();
        if let Some(c) = &config.play_integrity {
            let verifier = play_integrity::PlayIntegrityVerifier::from_config(c)
                .map_err(|e| e.under("play_integrity"))?;
            verifiers = verifiers.with(Arc::new(verifier));
        }
        if let Some(c) = &config.app_attest {
            let verifier =
                app_attest::AppAttestVerifier::from_config(c).map_err(|e| e.under("app_attest"))?;
            verifiers = verifiers.with(Arc::new(verifier));
        }
        if let Some(c) = &config.key_attestation {
            let verifier = key_attestation::KeyAttestationVerifier::from_config(c)
                .map_err(|e| e.under("key_attestation"))?;
            verifiers = verifiers.with(Arc::new(verifier));
        }
        Ok(verifiers)
    }

    /// The registered formats, in name order.
    pub fn formats(&self) -> Vec<String> {
        self.by_format.keys().cloned().collect()
    }

    /// Verifies `token` with the verifier of `format`.
    pub fn verify(
        &self,
        format: &str,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<Attested, AttestationError> {
        match self.by_format.get(format) {
            Some(verifier) => verifier.verify(token, expected),
            None => Err(AttestationError::UnsupportedFormat {
                format: format.to_string(),
                known: self.formats().join(", "),
            }),
        }
    }
}
