//! The punch record format and the device signer.
//!
//! A record is the JSON object of [`PunchBody`] plus a `sig` member. The signature is Ed25519
//! over the RFC 8785 (JCS) canonical form of the record without `sig`; the record hash that the
//! next record's `prev_hash` carries is the lower-case hex SHA-256 of the canonical form of the
//! whole record, `sig` included. Canonical JSON makes both independent of key order and
//! whitespace, so a server in another language can verify them. The full specification, with
//! an example, is `docs/punch-record.md`.
//!
//! Reading is strict, because a signature over JSON means nothing if two readers can see two
//! different records in the same bytes. [`PunchRecord::from_json`] (and the `Deserialize` impl,
//! which runs the same code) refuses duplicate keys, integers beyond 2^53 − 1, unknown fields
//! at any depth and any value that the typed record would write back differently. So for every
//! record it accepts, the canonical form of the *received* JSON minus `sig` is byte-identical
//! to the canonical form of the typed body: verifying the typed record is verifying the raw
//! bytes, and [`PunchRecord::hash`] is the hash another implementation computes from the raw
//! JSON. Both are checked, not assumed: `from_json` compares the two canonical forms.
//!
//! `PunchRecord` flattens its body into one JSON object. serde's `flatten` cannot be combined
//! with `deny_unknown_fields` when deserialising, so serialisation keeps the derived `flatten`
//! (which works) and deserialisation goes through a `serde_json::Value`, removes `sig`, and
//! reads the rest as a `PunchBody`, whose own `deny_unknown_fields` then applies.
//!
//! This file must not decide anything about chains (sequence, links, forks): `chain.rs` does.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike as _, Utc};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::canonical::canonical_strict;
use super::json::{self, MAX_SAFE_INTEGER, StrictValue};
use crate::evidence::{DeviceClock, Fix};
use crate::verdict::Verdict;

/// Version of the record format.
pub const RECORD_FORMAT: u32 = 1;

/// The largest record, in bytes of JSON, that [`PunchRecord::from_json`] reads. A real record
/// is 1–3 KiB (a face token is the largest part); the limit bounds the work hostile input can
/// cause.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// What the punch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PunchKind {
    In,
    Out,
    BreakStart,
    BreakEnd,
    /// A field punch (外勤) made away from any site, for review.
    Field,
}

/// The evidence carried in a record, as observed on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PunchEvidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wifi_bssids: Vec<String>,
    /// The face matcher's compact JWS, kept verbatim so the server can verify it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face_token: Option<String>,
    /// The nonce daka issued for this attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Everything in a record that the signature covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PunchBody {
    /// Record format version, [`RECORD_FORMAT`].
    pub format: u32,
    /// UUIDv7, generated on the device; the server deduplicates on it forever.
    pub id: Uuid,
    pub device_id: String,
    /// 1 for the device's first punch, then +1 per punch.
    pub seq: u64,
    /// Hex SHA-256 of the previous record; `None` only for `seq == 1`.
    pub prev_hash: Option<String>,
    pub kind: PunchKind,
    pub employee_id: String,
    pub evidence: PunchEvidence,
    /// Device clocks when the punch was made.
    pub clock: DeviceClock,
    /// Last known server-minus-device offset in milliseconds, if any sync happened.
    pub server_offset_ms: Option<i64>,
    pub policy_version: u64,
    /// The verdict the device reached; the server re-evaluates and may differ.
    pub verdict: Verdict,
}

/// A signed record: the body plus `sig` (base64url, no padding, of the 64-byte signature).
///
/// Serialises as one flat JSON object (the body's members plus `sig`); deserialises through
/// the same strict reader as [`PunchRecord::from_json`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PunchRecord {
    #[serde(flatten)]
    pub body: PunchBody,
    pub sig: String,
}

/// Why a record (as JSON, or as a typed value) is not a valid punch record. Every variant that
/// concerns a field names it as a path such as `verdict.reasons[0].message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is {bytes} bytes, over the {limit}-byte limit")]
    TooLarge { bytes: usize, limit: usize },
    #[error("not JSON (line {line}, column {column}): {reason}")]
    Json {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("a record is a JSON object, not {found}")]
    NotAnObject { found: &'static str },
    #[error("field `{field}` is missing")]
    MissingField { field: String },
    #[error("field `{field}` is not part of the record format")]
    UnknownField { field: String },
    #[error("field `{field}`: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("field `{field}`: {reason}")]
    NonCanonical { field: String, reason: String },
    #[error("record format {found} is not supported; this library reads format {RECORD_FORMAT}")]
    UnsupportedFormat { found: String },
    #[error("record cannot be written as canonical JSON: {reason}")]
    NotSerialisable { reason: String },
}

impl RecordError {
    /// A stable machine code for the failure.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::TooLarge { .. } => "too_large",
            RecordError::Json { .. } => "not_json",
            RecordError::NotAnObject { .. } => "not_an_object",
            RecordError::MissingField { .. } => "missing_field",
            RecordError::UnknownField { .. } => "unknown_field",
            RecordError::InvalidField { .. } => "invalid_field",
            RecordError::NonCanonical { .. } => "non_canonical",
            RecordError::UnsupportedFormat { .. } => "unsupported_format",
            RecordError::NotSerialisable { .. } => "not_serialisable",
        }
    }

    /// The field the error is about, if it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            RecordError::MissingField { field }
            | RecordError::UnknownField { field }
            | RecordError::InvalidField { field, .. }
            | RecordError::NonCanonical { field, .. } => Some(field),
            RecordError::UnsupportedFormat { .. } => Some("format"),
            _ => None,
        }
    }

    fn invalid(field: &str, reason: impl Into<String>) -> Self {
        RecordError::InvalidField {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `sig` is not base64url without padding of 64 bytes.
    #[error("`sig` is not a base64url-encoded 64-byte Ed25519 signature: {reason}")]
    Encoding { reason: String },
    /// The signature is well-formed but does not match the body and key.
    #[error("the signature does not match the record and the public key")]
    Mismatch,
    /// The body cannot be written as canonical JSON, so there is nothing to verify.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Failures of the device signer and of appending to a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PunchError {
    /// The operating system's random source failed; retrying may succeed.
    #[error("the system random source failed; try again")]
    Randomness,
    /// The key material was rejected; the stored seed is damaged.
    #[error("the device key was rejected: {reason}")]
    Key { reason: String },
    /// The draft (or the chain's device id) cannot make a valid record.
    #[error("cannot record this punch: {0}")]
    InvalidDraft(RecordError),
    /// The stored record given to [`PunchChain::resume`](super::PunchChain::resume) is invalid.
    #[error("cannot continue after the stored record: {0}")]
    InvalidLastRecord(RecordError),
    /// The sequence number reached 2^53 − 1; the device must re-enrol with a new chain.
    #[error("the chain has reached the largest sequence number; re-enrol the device")]
    ChainExhausted,
}

/// The device's Ed25519 signing key.
///
/// The app keeps the 32-byte seed in the platform's secure storage (Android Keystore-wrapped,
/// iOS Keychain) and rebuilds the signer with [`DeviceSigner::from_seed`] at start-up; the
/// server knows only [`DeviceSigner::public_key`], registered at enrolment.
pub struct DeviceSigner {
    key: Ed25519KeyPair,
}

impl DeviceSigner {
    /// Generates a new key from the system random source. Returns the signer and its seed,
    /// which the caller must store securely; the seed is wiped from memory when dropped.
    pub fn generate() -> Result<(DeviceSigner, Zeroizing<[u8; 32]>), PunchError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(&mut seed[..])
            .map_err(|_| PunchError::Randomness)?;
        let signer = DeviceSigner::from_seed(&seed)?;
        Ok((signer, seed))
    }

    /// Rebuilds the signer from a stored 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Result<DeviceSigner, PunchError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|key| DeviceSigner { key })
            .map_err(|e| PunchError::Key {
                reason: e.to_string(),
            })
    }

    /// The 32-byte Ed25519 public key, as registered with the server.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.key.public_key().as_ref());
        out
    }

    /// Signs `message` (Ed25519 is deterministic: the same message gives the same signature).
    /// Records are signed through [`PunchRecord::sign`]; this is for the other messages a
    /// device signs with the same key, such as a token-refresh challenge.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.key.sign(message).as_ref());
        out
    }
}

impl fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSigner")
            .field("public_key", &URL_SAFE_NO_PAD.encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// Checks the RFC 3339 range: four-digit years only.
fn check_time(field: &str, time: &DateTime<Utc>) -> Result<(), RecordError> {
    if (0..=9999).contains(&time.year()) {
        Ok(())
    } else {
        Err(RecordError::invalid(
            field,
            format!("{time} is outside years 0000–9999, which RFC 3339 cannot write"),
        ))
    }
}

fn check_int(field: &str, magnitude: u64) -> Result<(), RecordError> {
    if magnitude <= MAX_SAFE_INTEGER {
        Ok(())
    } else {
        Err(RecordError::invalid(
            field,
            format!(
                "{magnitude} is over {MAX_SAFE_INTEGER} (2^53 − 1), which canonical JSON cannot carry exactly"
            ),
        ))
    }
}

fn check_float(field: &str, value: f64) -> Result<(), RecordError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(RecordError::invalid(
            field,
            format!("{value} is not a finite number"),
        ))
    }
}

impl PunchBody {
    /// Checks the rules of the format that the types alone do not enforce: the format version,
    /// `seq >= 1`, `prev_hash` null exactly for seq 1 and otherwise 64 lower-case hex digits,
    /// a version-7 id, non-empty device and employee ids, integers within ±(2^53 − 1), finite
    /// numbers and RFC 3339-writable times.
    pub fn validate(&self) -> Result<(), RecordError> {
        if self.format != RECORD_FORMAT {
            return Err(RecordError::UnsupportedFormat {
                found: self.format.to_string(),
            });
        }
        if self.id.get_version_num() != 7 {
            return Err(RecordError::invalid(
                "id",
                format!("{} is not a version 7 UUID", self.id),
            ));
        }
        if self.device_id.is_empty() {
            return Err(RecordError::invalid("device_id", "must not be empty"));
        }
        if self.seq == 0 {
            return Err(RecordError::invalid("seq", "starts at 1"));
        }
        check_int("seq", self.seq)?;
        match (&self.prev_hash, self.seq) {
            (None, 1) => {}
            (Some(_), 1) => {
                return Err(RecordError::invalid(
                    "prev_hash",
                    "must be null for the first record (seq 1)",
                ));
            }
            (None, _) => {
                return Err(RecordError::invalid(
                    "prev_hash",
                    "must be the previous record's hash for every record after seq 1",
                ));
            }
            (Some(hash), _) if !json::is_hash(hash) => {
                return Err(RecordError::invalid(
                    "prev_hash",
                    "must be 64 lower-case hexadecimal digits (a SHA-256)",
                ));
            }
            (Some(_), _) => {}
        }
        if self.employee_id.is_empty() {
            return Err(RecordError::invalid("employee_id", "must not be empty"));
        }
        if let Some(fix) = &self.evidence.fix {
            check_float("evidence.fix.lat", fix.lat)?;
            check_float("evidence.fix.lon", fix.lon)?;
            check_float("evidence.fix.accuracy_m", fix.accuracy_m)?;
            check_time("evidence.fix.time", &fix.time)?;
            if let Some(ms) = fix.monotonic_ms {
                check_int("evidence.fix.monotonic_ms", ms)?;
            }
        }
        check_time("clock.wall", &self.clock.wall)?;
        check_int("clock.monotonic_ms", self.clock.monotonic_ms)?;
        if let Some(offset) = self.server_offset_ms {
            check_int("server_offset_ms", offset.unsigned_abs())?;
        }
        check_int("policy_version", self.policy_version)?;
        let verdict = &self.verdict;
        check_int("verdict.policy_version", verdict.policy_version)?;
        check_time("verdict.evaluated_at", &verdict.evaluated_at)?;
        if let Some(d) = verdict.location.distance_to_edge_m {
            check_float("verdict.location.distance_to_edge_m", d)?;
        }
        if let Some(a) = verdict.location.accuracy_m {
            check_float("verdict.location.accuracy_m", a)?;
        }
        if let Some(face) = &verdict.face {
            check_float("verdict.face.score", face.score)?;
            check_float("verdict.face.liveness", face.liveness)?;
        }
        Ok(())
    }

    /// The bytes the signature covers: the canonical JSON of the body.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, RecordError> {
        json::canonical(self)
    }
}

/// The JSON text of a record, size-checked and read with duplicate keys refused.
fn strict_value(text: &str) -> Result<Value, RecordError> {
    if text.len() > MAX_RECORD_BYTES {
        return Err(RecordError::TooLarge {
            bytes: text.len(),
            limit: MAX_RECORD_BYTES,
        });
    }
    let StrictValue(value) = serde_json::from_str(text).map_err(|e| RecordError::Json {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    Ok(value)
}

/// Decodes a `sig` value into the 64 signature bytes.
fn decode_sig(sig: &str) -> Result<[u8; 64], String> {
    if sig.len() != 86 {
        return Err(format!(
            "{} characters, where a 64-byte signature is 86",
            sig.len()
        ));
    }
    let bytes = URL_SAFE_NO_PAD.decode(sig).map_err(|e| e.to_string())?;
    <[u8; 64]>::try_from(bytes.as_slice()).map_err(|_| format!("{} bytes, not 64", bytes.len()))
}

/// `true` if `sig` (64 bytes) is a valid Ed25519 signature of `message` under `public_key`:
/// [`DeviceVerifier::verify`] with a key decoded for this one check.
pub(crate) fn ed25519_verify(public_key: &[u8; 32], message: &[u8], sig: &[u8; 64]) -> bool {
    DeviceVerifier::new(public_key).verify(message, sig)
}

/// A device's Ed25519 public key, decoded once to check many of its signatures: a push of a
/// few hundred punches, or a punch log, decodes the key once instead of once per record.
///
/// The check is RFC 8032 verification without the cofactor (`[S]B = R + [k]A`, `S`
/// canonical, `R` compared as encoded), which is what `ring` checks too. On a phone it runs on
/// `ring`, which the device links for signing anyway. With the `fast-verify` feature (the
/// server turns it on) it runs on `ed25519-dalek`, whose vectorised field arithmetic verifies
/// about a third faster on x86-64, where every pushed punch is verified; the tests check that
/// the two agree on valid, edited and malformed signatures and keys.
#[derive(Debug, Clone)]
pub struct DeviceVerifier {
    /// `None` when the bytes are not a point on the curve: nothing verifies under them.
    #[cfg(feature = "fast-verify")]
    key: Option<ed25519_dalek::VerifyingKey>,
    #[cfg(not(feature = "fast-verify"))]
    key: [u8; 32],
}

impl DeviceVerifier {
    /// Decodes a public key. Bytes that are not a valid key give a verifier under which no
    /// signature verifies, as a per-record check with them would.
    pub fn new(public_key: &[u8; 32]) -> DeviceVerifier {
        DeviceVerifier {
            #[cfg(feature = "fast-verify")]
            key: ed25519_dalek::VerifyingKey::from_bytes(public_key).ok(),
            #[cfg(not(feature = "fast-verify"))]
            key: *public_key,
        }
    }

    /// `true` if `sig` is a valid signature of `message` under this key.
    pub fn verify(&self, message: &[u8], sig: &[u8; 64]) -> bool {
        #[cfg(feature = "fast-verify")]
        {
            use ed25519_dalek::Verifier as _;
            self.key.as_ref().is_some_and(|key| {
                key.verify(message, &ed25519_dalek::Signature::from_bytes(sig))
                    .is_ok()
            })
        }
        #[cfg(not(feature = "fast-verify"))]
        {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &self.key)
                .verify(message, sig)
                .is_ok()
        }
    }
}

impl PunchRecord {
    /// Signs a body. The body is validated first ([`PunchBody::validate`]); chains use this
    /// through [`PunchChain::append`](super::PunchChain::append), which also sets `id`, `seq`
    /// and `prev_hash`.
    pub fn sign(body: PunchBody, signer: &DeviceSigner) -> Result<PunchRecord, RecordError> {
        body.validate()?;
        let signature = signer.sign(&body.signing_bytes()?);
        Ok(PunchRecord {
            body,
            sig: URL_SAFE_NO_PAD.encode(signature),
        })
    }

    /// The record as canonical JSON: one line, keys sorted, no insignificant whitespace. This
    /// is the form to store, send and export (one record per line in a log).
    pub fn to_json(&self) -> Result<String, RecordError> {
        let bytes = json::canonical(self)?;
        // The canonicaliser writes UTF-8 only.
        String::from_utf8(bytes).map_err(|e| RecordError::NotSerialisable {
            reason: e.to_string(),
        })
    }

    /// The record hash: lower-case hex SHA-256 of the canonical JSON of the whole record,
    /// `sig` included. The next record's `prev_hash` carries it.
    pub fn hash(&self) -> Result<String, RecordError> {
        let bytes = json::canonical(self)?;
        Ok(json::hex_lower(
            ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref(),
        ))
    }

    /// The 64 signature bytes from `sig`.
    pub fn signature(&self) -> Result<[u8; 64], SignatureError> {
        decode_sig(&self.sig).map_err(|reason| SignatureError::Encoding { reason })
    }

    /// Verifies `sig` over the canonical body with the device's public key.
    pub fn verify_signature(&self, public_key: &[u8; 32]) -> Result<(), SignatureError> {
        let signature = self.signature()?;
        let message = self.body.signing_bytes()?;
        if ed25519_verify(public_key, &message, &signature) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// Reads one record from JSON, strictly: see the file header. Errors name the field.
    pub fn from_json(text: &str) -> Result<PunchRecord, RecordError> {
        PunchRecord::from_value(strict_value(text)?).map(|(record, ..)| record)
    }

    /// [`PunchRecord::from_json`], keeping the canonical bytes that reading computed: a
    /// verifier that checks the signature, hashes the record and stores it takes them from
    /// the [`ReadRecord`] instead of writing the record out again for each.
    ///
    /// A record that arrives exactly in its canonical form, as daka devices send theirs, is
    /// read on a shorter path with the same result (see [`PunchRecord::read_canonical`]).
    pub fn read(text: &str) -> Result<ReadRecord, RecordError> {
        match PunchRecord::read_canonical(text) {
            Some(read) => Ok(read),
            None => PunchRecord::read_any_form(text),
        }
    }

    /// The reading of a record that is its own canonical form: `text` with the top-level `sig`
    /// member taken out is read as a typed body, and the record is accepted only if its
    /// canonical JSON, with `sig` put back in its place and every integer within
    /// ±(2^53 − 1), is `text` byte for byte. Then `text`
    /// has no duplicate key, no unknown field and no value written another way (the canonical
    /// writer produces none of them), and the strict reading would see exactly this typed
    /// record, so the result is the one [`PunchRecord::read_any_form`] gives; this path only
    /// skips building and comparing the generic JSON tree. `None` for anything else, including
    /// every record that is not valid, which the general path reads to name the fault.
    fn read_canonical(text: &str) -> Option<ReadRecord> {
        const MEMBER: &str = ",\"sig\":\"";
        if text.len() > MAX_RECORD_BYTES {
            return None;
        }
        // Inside a JSON string every `"` is escaped, so this is a member named `sig` of some
        // object; if it is not the record's own, the comparison below fails.
        let start = text.find(MEMBER)?;
        let value_start = start + MEMBER.len();
        let value_len = text[value_start..].find('"')?;
        let sig = &text[value_start..value_start + value_len];
        decode_sig(sig).ok()?;
        let end = value_start + value_len + 1;
        let body_text = [&text[..start], &text[end..]].concat();
        let body: PunchBody = serde_json::from_str(&body_text).ok()?;
        body.validate().ok()?;
        let record = PunchRecord {
            body,
            sig: sig.to_owned(),
        };
        if canonical_strict(&record).ok()? != text.as_bytes() {
            return None;
        }
        // `text` is the canonical record, and the member cut out was its own `sig` (had it been
        // another, the body would still hold `sig` and `PunchBody` would have refused it as
        // unknown). A canonical object less one member is the canonical object of the rest:
        // what was left is the canonical body, the signed bytes.
        let signing_bytes = body_text.into_bytes();
        debug_assert_eq!(
            json::canonical(&record.body).ok().as_deref(),
            Some(signing_bytes.as_slice())
        );
        Some(ReadRecord {
            record,
            signing_bytes,
            canonical: text.to_owned(),
        })
    }

    /// The strict reading of a record in any JSON form: see the file header.
    fn read_any_form(text: &str) -> Result<ReadRecord, RecordError> {
        let (record, signing_bytes, whole) = PunchRecord::from_value(strict_value(text)?)?;
        let canonical = String::from_utf8(whole).map_err(|e| RecordError::NotSerialisable {
            reason: e.to_string(),
        })?;
        Ok(ReadRecord {
            record,
            signing_bytes,
            canonical,
        })
    }

    /// Reads a record from a JSON value already read with duplicate keys refused; returns it
    /// with the canonical bytes of its body (what `sig` signs) and of the whole record.
    fn from_value(value: Value) -> Result<(PunchRecord, Vec<u8>, Vec<u8>), RecordError> {
        let mut object = match value {
            Value::Object(object) => object,
            other => {
                return Err(RecordError::NotAnObject {
                    found: match other {
                        Value::Null => "null",
                        Value::Bool(_) => "a boolean",
                        Value::Number(_) => "a number",
                        Value::String(_) => "a string",
                        Value::Array(_) => "an array",
                        Value::Object(_) => "an object",
                    },
                });
            }
        };
        // The format decides what the other fields mean, so it is checked first.
        match object.get("format") {
            None => {
                return Err(RecordError::MissingField {
                    field: "format".into(),
                });
            }
            Some(Value::Number(n)) if n.as_u64() == Some(u64::from(RECORD_FORMAT)) => {}
            Some(other) => {
                return Err(RecordError::UnsupportedFormat {
                    found: other.to_string(),
                });
            }
        }
        let sig = match object.remove("sig") {
            None => {
                return Err(RecordError::MissingField {
                    field: "sig".into(),
                });
            }
            Some(Value::String(sig)) => sig,
            Some(other) => {
                return Err(RecordError::invalid(
                    "sig",
                    format!("expected a string, found {other}"),
                ));
            }
        };
        decode_sig(&sig).map_err(|reason| RecordError::invalid("sig", reason))?;
        let received = Value::Object(object);
        json::check_integers(&received)?;
        let body = match PunchBody::deserialize(&received) {
            Ok(body) => body,
            // Read again, tracking the path, only to name the field in the error.
            Err(plain) => {
                return Err(
                    match serde_path_to_error::deserialize::<_, PunchBody>(&received) {
                        Err(e) => typed_error(e),
                        Ok(_) => RecordError::InvalidField {
                            field: String::new(),
                            reason: plain.to_string(),
                        },
                    },
                );
            }
        };
        body.validate()?;
        // The typed body must write back to exactly what was received, so that the signature
        // checked over the received bytes is the signature over the typed body. Values that
        // agree member for member (numbers by value) have the same canonical bytes.
        let typed = serde_json::to_value(&body).map_err(|e| RecordError::NotSerialisable {
            reason: e.to_string(),
        })?;
        if let Some(difference) = json::first_difference(&received, &typed) {
            return Err(difference.into_error());
        }
        let members = received.as_object().ok_or(RecordError::NotAnObject {
            found: "a value that is not an object",
        })?;
        let (signing_bytes, whole) =
            json::canonical_with_member(members, "sig", &Value::String(sig.clone()));
        debug_assert_eq!(
            signing_bytes,
            json::canonical_value(&typed),
            "agreeing values write the same bytes"
        );
        Ok((PunchRecord { body, sig }, signing_bytes, whole))
    }
}

/// A record read from JSON ([`PunchRecord::read`]) with the canonical forms computed while
/// reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRecord {
    /// The record.
    pub record: PunchRecord,
    /// The canonical JSON of the body: the bytes `sig` signs.
    signing_bytes: Vec<u8>,
    /// The canonical JSON of the whole record ([`PunchRecord::to_json`]).
    canonical: String,
}

impl ReadRecord {
    /// [`PunchRecord::verify_signature`], over the bytes already computed.
    pub fn verify_signature(&self, public_key: &[u8; 32]) -> Result<(), SignatureError> {
        self.verify_with(&DeviceVerifier::new(public_key))
    }

    /// [`ReadRecord::verify_signature`] with a key already decoded.
    pub fn verify_with(&self, verifier: &DeviceVerifier) -> Result<(), SignatureError> {
        let signature = self.record.signature()?;
        if verifier.verify(&self.signing_bytes, &signature) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// [`PunchRecord::hash`], over the bytes already computed.
    pub fn hash(&self) -> String {
        json::hex_lower(
            ring::digest::digest(&ring::digest::SHA256, self.canonical.as_bytes()).as_ref(),
        )
    }

    /// [`PunchRecord::to_json`]: the canonical JSON of the whole record.
    pub fn canonical_json(&self) -> &str {
        &self.canonical
    }
}

/// Turns a typed-reading error into one naming the field.
fn typed_error(err: serde_path_to_error::Error<serde_json::Error>) -> RecordError {
    let path = err.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let reason = err.into_inner().to_string();
    let quoted = |prefix: &str| {
        reason
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(name) = quoted("unknown field `") {
        let field = if path.ends_with(&name) {
            path
        } else {
            json::join(&path, &name)
        };
        RecordError::UnknownField { field }
    } else if let Some(name) = quoted("missing field `") {
        RecordError::MissingField {
            field: json::join(&path, &name),
        }
    } else {
        RecordError::InvalidField {
            field: path,
            reason,
        }
    }
}

impl<'de> Deserialize<'de> for PunchRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let StrictValue(value) = StrictValue::deserialize(deserializer)?;
        PunchRecord::from_value(value)
            .map(|(record, ..)| record)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ED25519, UnparsedPublicKey};

    fn ring_verify(public_key: &[u8; 32], message: &[u8], sig: &[u8; 64]) -> bool {
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(message, sig)
            .is_ok()
    }

    /// Adds the group order L to the scalar half of a signature: the same value mod L, but not
    /// canonical, which RFC 8032 verification refuses.
    fn non_canonical_s(sig: &[u8; 64]) -> [u8; 64] {
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut out = *sig;
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(out[32 + i]) + u16::from(L[i]) + carry;
            out[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        out
    }

    #[test]
    fn verification_agrees_with_ring_on_valid_edited_and_malformed_signatures() {
        let mut rng = fastrand::Rng::with_seed(8032);
        // Public keys that are not honest keys: zero, the identity, a small-order point, a
        // non-canonical y, and bytes that are no point at all.
        let mut odd_keys: Vec<[u8; 32]> = vec![[0; 32], [0xff; 32]];
        let mut identity = [0u8; 32];
        identity[0] = 1;
        odd_keys.push(identity);
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        odd_keys.push(minus_one);
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        odd_keys.push(non_canonical);
        let (mut valid, mut cases) = (0, 0);
        for round in 0..100 {
            let seed: [u8; 32] = std::array::from_fn(|_| rng.u8(..));
            let signer = DeviceSigner::from_seed(&seed).unwrap();
            let key = signer.public_key();
            let message: Vec<u8> = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect();
            let sig = signer.sign(&message);
            let mut flipped = sig;
            flipped[rng.usize(..64)] ^= 1 << rng.u8(..8);
            let mut edited = message.clone();
            edited.push(b'x');
            let garbage: [u8; 64] = std::array::from_fn(|_| rng.u8(..));
            let other = odd_keys[round % odd_keys.len()];
            // A key decoded once checks like a key decoded for each check.
            let verifier = DeviceVerifier::new(&key);
            assert!(verifier.verify(&message, &sig));
            assert!(!verifier.verify(&message, &flipped));
            assert!(!verifier.verify(&edited, &sig));
            assert!(!verifier.verify(&message, &non_canonical_s(&sig)));
            assert_eq!(
                DeviceVerifier::new(&other).verify(&message, &sig),
                ring_verify(&other, &message, &sig)
            );
            for (k, m, s) in [
                (&key, &message, &sig),
                (&key, &message, &flipped),
                (&key, &edited, &sig),
                (&key, &message, &non_canonical_s(&sig)),
                (&key, &message, &garbage),
                (&other, &message, &sig),
            ] {
                let expected = ring_verify(k, m, s);
                assert_eq!(ed25519_verify(k, m, s), expected, "key {k:?} sig {s:?}");
                valid += usize::from(expected);
                cases += 1;
            }
        }
        // Every honest signature verified, and nothing else did.
        assert_eq!((valid, cases), (100, 600));
    }

    /// The example record of `docs/punch-record.md`, in its canonical form.
    fn documented_record() -> &'static str {
        include_str!("../../../docs/punch-record.md")
            .lines()
            .find(|line| line.starts_with("{\"clock\""))
            .expect("the specification shows a record on one line")
    }

    /// A record in its canonical form is read on the short path, with the result the general
    /// path gives; any other spelling, and any record the general path refuses, is left to
    /// the general path.
    #[test]
    fn only_canonical_text_is_read_on_the_short_path_and_it_reads_the_same() {
        let text = documented_record();
        let general = PunchRecord::read_any_form(text).unwrap();
        let quick = PunchRecord::read_canonical(text).expect("canonical text takes the short path");
        assert_eq!(quick, general);
        assert_eq!(quick.canonical_json(), text);

        let value: Value = serde_json::from_str(text).unwrap();
        let sig = value["sig"].as_str().unwrap().to_owned();
        let other_sig = format!("A{}", &sig[1..]);
        let respelt = [
            serde_json::to_string_pretty(&value).unwrap(),
            // `sig` last, out of order.
            text.replacen(&format!(",\"sig\":\"{sig}\""), "", 1)
                .trim_end_matches('}')
                .to_owned()
                + &format!("}},\"sig\":\"{sig}\"}}"),
            // The same number spelt another way.
            text.replacen(
                "\"accuracy_m\":12.5,\"lat\"",
                "\"accuracy_m\":1.25e1,\"lat\"",
                1,
            ),
        ];
        for other in &respelt {
            assert!(PunchRecord::read_canonical(other).is_none(), "{other}");
            assert_eq!(PunchRecord::read(other).unwrap(), general, "{other}");
        }

        let sig_member = format!(",\"sig\":\"{sig}\"");
        let refused = [
            // Two `sig` members, either first.
            text.replacen(
                &sig_member,
                &format!("{sig_member},\"sig\":\"{other_sig}\""),
                1,
            ),
            text.replacen(
                &sig_member,
                &format!(",\"sig\":\"{other_sig}\"{sig_member}"),
                1,
            ),
            // A `sig` inside a nested object, ahead of the record's own.
            text.replacen(
                "\"monotonic_ms\":86401000",
                &format!("\"monotonic_ms\":86401000,\"sig\":\"{other_sig}\""),
                1,
            ),
            // No `sig` at the top, one nested.
            text.replacen(&sig_member, "", 1).replacen(
                "\"monotonic_ms\":86401000",
                &format!("\"monotonic_ms\":86401000{sig_member}"),
                1,
            ),
            // A `sig` that is no signature, and one that is not a string.
            text.replacen(&sig, "not-a-signature", 1),
            text.replacen(&format!("\"{sig}\""), "42", 1),
            // An unknown member, and an integer beyond 2^53 - 1.
            text.replacen("\"format\":1", "\"format\":1,\"fresh\":true", 1),
            text.replacen(
                "\"monotonic_ms\":86401000",
                "\"monotonic_ms\":9007199254740992",
                1,
            ),
        ];
        for text in &refused {
            assert!(PunchRecord::read_canonical(text).is_none(), "{text}");
            let error = PunchRecord::read(text).unwrap_err();
            assert_eq!(PunchRecord::read_any_form(text).unwrap_err(), error);
        }
    }
}
