//! The punch record format and the device signer.
//!
//! A record is the JSON object of [`PunchBody`] plus a `sig` member. The signature is Ed25519
//! over the RFC 8785 (JCS) canonical form of the record without `sig`; the record hash that the
//! next record's `prev_hash` carries is the lower-case hex SHA-256 of the canonical form of the
//! whole record, `sig` included. Canonical JSON makes both independent of key order and
//! whitespace, so a server in another language can verify them. The full specification, with
//! an example, is `docs/punch-record.md`.
//!
//! A [`PunchRecord`] is the signed envelope of `crate::signed` around a [`PunchBody`], so it is
//! signed, written and read strictly by the same code as every other signed item: duplicate
//! keys, integers beyond 2^53 − 1, unknown fields at any depth and any value that the typed
//! record would write back differently are refused. So for every record accepted, the canonical
//! form of the *received* JSON minus `sig` is byte-identical to the canonical form of the typed
//! body: verifying the typed record is verifying the raw bytes, and [`PunchRecord::hash`] is the
//! hash another implementation computes from the raw JSON. What the record format adds to the
//! envelope (its size limit, the `format` member read first, `sig` decoded while reading, the
//! rules of [`PunchBody::validate`], errors naming the field) is its `SignedFormat`
//! implementation here, and [`PunchRecord::read`] keeps the canonical bytes it computed.
//!
//! The body's types are the record format's own ([`RecordedVerdict`] rather than the
//! evaluator's `Verdict`), so the signed bytes change only when this file does.
//!
//! This file must not decide anything about chains (sequence, links, forks): `chain.rs` does.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike as _, Utc};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::kind::PunchKind;
use super::recorded::RecordedVerdict;
use crate::canonical::{self, CanonicalError, Difference, MAX_SAFE_INTEGER};
use crate::evidence::{DeviceClock, Fix};
use crate::hex::{hex_lower, is_sha256_hex};
use crate::signed::{
    DeviceVerifier, Signed, SignedError, SignedFormat, SigningKey, canonical_bytes, decode_sig,
};

/// Version of the record format.
pub const RECORD_FORMAT: u32 = 1;

/// The largest record, in bytes of JSON, that [`Signed::from_json`] reads. A real record
/// is 1–3 KiB (a face token is the largest part); the limit bounds the work hostile input can
/// cause.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// The evidence carried in a record, as observed on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PunchEvidence {
    /// The location fix the attempt was judged on; absent when the platform gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// The earlier fixes of the same attempt (collected while the face check ran), kept as
    /// evidence: the location was judged on their conservative fusion with `fix`. Empty, and
    /// then left out of the JSON, when the attempt had only `fix`; so a record without them has
    /// the same canonical bytes as before the member existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_fixes: Vec<Fix>,
    /// BSSIDs of the Wi-Fi access points scanned at the attempt, in scan order (daka's device
    /// runtime writes them normalised, `aa:bb:cc:dd:ee:ff`); empty, and then left out of the
    /// JSON, when none were scanned.
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
    /// The device's id, as the server assigned it at enrolment; the same on every record of a
    /// chain.
    pub device_id: String,
    /// 1 for the device's first punch, then +1 per punch.
    pub seq: u64,
    /// Hex SHA-256 of the previous record; `None` only for `seq == 1`.
    pub prev_hash: Option<String>,
    /// What the punch is: in, out, a break's start or end, or a field punch.
    pub kind: PunchKind,
    /// The employee who punched, as the policy lists them (e.g. `E1001`); non-empty.
    pub employee_id: String,
    /// What the device observed, kept so the server can judge the punch again.
    pub evidence: PunchEvidence,
    /// Device clocks when the punch was made.
    pub clock: DeviceClock,
    /// Last known server-minus-device offset in milliseconds, if any sync happened.
    pub server_offset_ms: Option<i64>,
    /// Version of the policy the device judged the punch under.
    pub policy_version: u64,
    /// The verdict the device reached; the server re-evaluates and may differ.
    pub verdict: RecordedVerdict,
}

/// A signed record: the body plus `sig` (base64url, no padding, of the 64-byte signature).
///
/// Serialises as one flat JSON object (the body's members plus `sig`); deserialises through
/// the same strict reader as [`Signed::from_json`], which reads records with [`RecordError`]s.
/// [`Signed::sign`] signs a body (validated first; chains use it through
/// [`PunchChain::append`](super::PunchChain::append), which also sets `id`, `seq` and
/// `prev_hash`), and [`Signed::to_json`] writes the record as canonical JSON: one line, keys
/// sorted, no insignificant whitespace, the form to store, send and export.
pub type PunchRecord = Signed<PunchBody>;

/// Why a record (as JSON, or as a typed value) is not a valid punch record. Every variant that
/// concerns a field names it as a path such as `verdict.reasons[0].message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The JSON text is longer than [`MAX_RECORD_BYTES`]; refused before it is parsed.
    #[error("record is {bytes} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Length of the text, in bytes.
        bytes: usize,
        /// The largest record read, in bytes ([`MAX_RECORD_BYTES`]).
        limit: usize,
    },
    /// The text is not JSON, names a key twice in one object, or holds a non-finite number.
    #[error("not JSON (line {line}, column {column}): {reason}")]
    Json {
        /// Line of the fault, counted from 1.
        line: usize,
        /// Column of the fault on that line, in bytes, counted from 1.
        column: usize,
        /// What is wrong, as the JSON parser describes it (English).
        reason: String,
    },
    /// The text is JSON, but not an object.
    #[error("a record is a JSON object, not {found}")]
    NotAnObject {
        /// What it is instead: `null`, `a boolean`, `a number`, `a string` or `an array`.
        found: &'static str,
    },
    /// A member the record format writes is absent (`sig` included). Every member the format
    /// writes must be there, even one with a default such as `evidence.fix.mock`.
    #[error("field `{field}` is missing")]
    MissingField {
        /// Path of the member, e.g. `clock.boot_id`.
        field: String,
    },
    /// A member the record format does not write: a field it lacks, or a `null` where the format
    /// leaves the member out (e.g. `"face_token": null`).
    #[error("field `{field}` is not part of the record format")]
    UnknownField {
        /// Path of the member, e.g. `evidence.face_token`.
        field: String,
    },
    /// A value of the wrong type, an integer beyond ±(2^53 − 1), a value against a rule of the
    /// format (see [`PunchBody::validate`]), or a `sig` that does not decode or verify.
    #[error("field `{field}`: {reason}")]
    InvalidField {
        /// Path of the field, e.g. `evidence.fix.lat` or `sig`.
        field: String,
        /// What is wrong with it, in English.
        reason: String,
    },
    /// A valid value that the record format writes differently (a time with `+08:00` instead
    /// of UTC `Z`, an upper-case id): refused, so that the signed bytes have one reading.
    #[error("field `{field}`: {reason}")]
    NonCanonical {
        /// Path of the field, e.g. `clock.wall`.
        field: String,
        /// The value received and the form the format writes, in English.
        reason: String,
    },
    /// `format` is not [`RECORD_FORMAT`]: a record of another format version, which this
    /// library cannot read (a newer one may).
    #[error("record format {found} is not supported; this library reads format {RECORD_FORMAT}")]
    UnsupportedFormat {
        /// The `format` value found, as JSON text (e.g. `2`, or `"1"`).
        found: String,
    },
    /// The typed record cannot be written as canonical JSON, so it can be neither signed nor
    /// hashed.
    #[error("record cannot be written as canonical JSON: {reason}")]
    NotSerialisable {
        /// Why, as the canonical writer reports it.
        reason: String,
    },
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

impl From<SignedError> for RecordError {
    fn from(e: SignedError) -> Self {
        match e {
            SignedError::TooLarge { bytes, limit } => RecordError::TooLarge { bytes, limit },
            SignedError::Json {
                line,
                column,
                reason,
            } => RecordError::Json {
                line,
                column,
                reason,
            },
            SignedError::NotAnObject { found } => RecordError::NotAnObject { found },
            SignedError::MissingSig { found: None } => RecordError::MissingField {
                field: "sig".into(),
            },
            SignedError::MissingSig { found: Some(other) } => {
                RecordError::invalid("sig", format!("expected a string, found {other}"))
            }
            SignedError::UnsafeInteger { field, value } => RecordError::InvalidField {
                field,
                reason: CanonicalError::integer_reason(&value),
            },
            SignedError::Field { path, reason } => typed_error(path, reason),
            SignedError::NonCanonical(difference) => match difference {
                Difference::Unknown(field) => RecordError::UnknownField { field },
                Difference::Missing(field) => RecordError::MissingField { field },
                Difference::Changed(field, received, written) => RecordError::NonCanonical {
                    field,
                    reason: format!(
                        "{received} is not in the record format's normal form, which is {written}"
                    ),
                },
            },
            SignedError::Unwritable { reason } => RecordError::NotSerialisable { reason },
            SignedError::SigEncoding { reason } => RecordError::invalid("sig", reason),
            SignedError::BadSignature => {
                RecordError::invalid("sig", "does not verify with the device's key")
            }
        }
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// `sig` is not base64url without padding of 64 bytes.
    #[error("`sig` is not a base64url-encoded 64-byte Ed25519 signature: {reason}")]
    Encoding {
        /// What is wrong with the text: its length or its base64url.
        reason: String,
    },
    /// The signature is well-formed but does not match the body and key.
    #[error("the signature does not match the record and the public key")]
    Mismatch,
    /// The body cannot be written as canonical JSON, so there is nothing to verify.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Failures of the device signer and of appending to a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PunchError {
    /// The operating system's random source failed; retrying may succeed.
    #[error("the system random source failed; try again")]
    Randomness,
    /// The key material was rejected; the stored seed is damaged.
    #[error("the device key was rejected: {reason}")]
    Key {
        /// Why the key library refused it.
        reason: String,
    },
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

impl SigningKey for DeviceSigner {
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        DeviceSigner::sign(self, message)
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

/// The record format's rules for one fix: finite numbers, a writable time, a safe integer.
/// `field` names the fix (`evidence.fix`, or a closure for `evidence.more_fixes[i]`, so that
/// the path is only written out for an error).
fn check_record_fix(field: &dyn Fn() -> String, fix: &Fix) -> Result<(), RecordError> {
    let at = |name: &str| format!("{}.{name}", field());
    for (name, value) in [
        ("lat", fix.lat),
        ("lon", fix.lon),
        ("accuracy_m", fix.accuracy_m),
    ] {
        if !value.is_finite() {
            return check_float(&at(name), value);
        }
    }
    if check_time("", &fix.time).is_err() {
        return check_time(&at("time"), &fix.time);
    }
    if let Some(ms) = fix.monotonic_ms
        && check_int("", ms).is_err()
    {
        return check_int(&at("monotonic_ms"), ms);
    }
    Ok(())
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
            (Some(hash), _) if !is_sha256_hex(hash) => {
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
            check_record_fix(&|| "evidence.fix".into(), fix)?;
        }
        for (i, fix) in self.evidence.more_fixes.iter().enumerate() {
            check_record_fix(&|| format!("evidence.more_fixes[{i}]"), fix)?;
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
        Ok(canonical_bytes(self)?)
    }
}

impl SignedFormat for PunchBody {
    type Error = RecordError;

    const MAX_BYTES: usize = MAX_RECORD_BYTES;

    /// The format decides what the other fields mean, so it is checked first.
    fn check_members(members: &Map<String, Value>) -> Result<(), RecordError> {
        match members.get("format") {
            None => Err(RecordError::MissingField {
                field: "format".into(),
            }),
            Some(Value::Number(n)) if n.as_u64() == Some(u64::from(RECORD_FORMAT)) => Ok(()),
            Some(other) => Err(RecordError::UnsupportedFormat {
                found: other.to_string(),
            }),
        }
    }

    fn check_sig(sig: &str) -> Result<(), RecordError> {
        decode_sig(sig)
            .map(|_| ())
            .map_err(|reason| RecordError::invalid("sig", reason))
    }

    fn validate(&self) -> Result<(), RecordError> {
        PunchBody::validate(self)
    }
}

impl Signed<PunchBody> {
    /// The record hash: lower-case hex SHA-256 of the canonical JSON of the whole record,
    /// `sig` included. The next record's `prev_hash` carries it.
    pub fn hash(&self) -> Result<String, RecordError> {
        Ok(record_hash(&canonical_bytes(self)?))
    }

    /// The record's canonical JSON ([`PunchRecord::to_json`]) and its signed bytes
    /// ([`PunchRecord::signing_bytes`]) from one canonical write: the signed bytes are the
    /// record's text less its `sig` member (a canonical object less one member is the
    /// canonical object of the rest).
    pub(crate) fn written(&self) -> Result<(String, Vec<u8>), RecordError> {
        let canonical = self.to_json()?;
        let sig = canonical::top_level_member(canonical.as_bytes(), "sig").ok_or_else(|| {
            RecordError::invalid("record", "the written record has no top-level `sig` member")
        })?;
        let signing_bytes = [&canonical[..sig.start], &canonical[sig.end..]]
            .concat()
            .into_bytes();
        debug_assert_eq!(
            self.body.signing_bytes().ok().as_deref(),
            Some(signing_bytes.as_slice())
        );
        Ok((canonical, signing_bytes))
    }

    /// The 64 signature bytes from `sig`.
    pub fn signature(&self) -> Result<[u8; 64], SignatureError> {
        decode_sig(&self.sig).map_err(|reason| SignatureError::Encoding { reason })
    }

    /// Verifies `sig` over the canonical body with the device's public key.
    pub fn verify_signature(&self, public_key: &[u8; 32]) -> Result<(), SignatureError> {
        let signature = self.signature()?;
        let message = self.body.signing_bytes()?;
        if DeviceVerifier::new(public_key).verify(&message, &signature) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// [`Signed::from_json`], keeping the canonical bytes that reading computed: a
    /// verifier that checks the signature, hashes the record and stores it takes them from
    /// the [`ReadRecord`] instead of writing the record out again for each.
    ///
    /// A record that arrives exactly in its canonical form, as daka devices send theirs, is
    /// read on a shorter path with the same result.
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
        if canonical::to_vec_strict(&record).ok()? != text.as_bytes() {
            return None;
        }
        // `text` is the canonical record, and the member cut out was its own `sig` (had it been
        // another, the body would still hold `sig` and `PunchBody` would have refused it as
        // unknown). A canonical object less one member is the canonical object of the rest:
        // what was left is the canonical body, the signed bytes.
        let signing_bytes = body_text.into_bytes();
        debug_assert_eq!(
            record.body.signing_bytes().ok().as_deref(),
            Some(signing_bytes.as_slice())
        );
        Some(ReadRecord {
            record,
            signing_bytes,
            canonical: text.to_owned(),
        })
    }

    /// Reads a record that must be in its canonical form, as daka stores the records it made:
    /// the short path of [`PunchRecord::read`] and nothing else. Text in any other form is
    /// refused without naming its fault (read it with [`PunchRecord::from_json`] to learn
    /// it). A phone reads its own store with this, so it carries no general JSON reader for
    /// records that only a server or an auditor's tool receives.
    pub fn read_stored(text: &str) -> Result<PunchRecord, RecordError> {
        PunchRecord::read_canonical(text)
            .map(|read| read.record)
            .ok_or_else(|| {
                RecordError::invalid(
                    "record",
                    "not a valid record in its canonical form, as daka stores records",
                )
            })
    }

    /// The strict reading of a record in any JSON form ([`Signed::from_json`]); the
    /// canonical record is then written once from the typed record, which the reading checked
    /// writes back to exactly what was received, and the signed bytes are that text less its
    /// `sig` member (a canonical object less one member is the canonical object of the rest).
    fn read_any_form(text: &str) -> Result<ReadRecord, RecordError> {
        // Any spelling of a valid record: read it as JSON with duplicate keys refused, write
        // that value canonically, and take the short path on the result. The canonical text
        // is the same JSON value, so it reads to the same typed record, with one exception:
        // an integer spelled as a float (`1.0`) is written canonically as `1`, which an
        // integer field accepts and the strict reader does not, so text with such a number
        // takes the strict path. Anything the short path refuses is read strictly below, to
        // name its fault.
        if text.len() <= MAX_RECORD_BYTES
            && let Ok(value) = canonical::from_str(text)
            && !has_integral_float(&value)
            && let Ok(respelled) = canonical::to_string(&value)
            && let Some(read) = PunchRecord::read_canonical(&respelled)
        {
            return Ok(read);
        }
        let record = PunchRecord::from_json(text)?;
        let (canonical, signing_bytes) = record.written()?;
        Ok(ReadRecord {
            record,
            signing_bytes,
            canonical,
        })
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
        record_hash(self.canonical.as_bytes())
    }

    /// [`PunchRecord::to_json`]: the canonical JSON of the whole record.
    pub fn canonical_json(&self) -> &str {
        &self.canonical
    }
}

/// Turns a typed-reading error (`path` as serde names it, `.` for the whole body) into one
/// naming the field.
/// Whether `value` holds a number spelled as a float with an integral value (`1.0`, `2e3`).
fn has_integral_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.as_f64().is_some_and(|f| f.fract() == 0.0) && !n.is_i64() && !n.is_u64()
        }
        Value::Array(items) => items.iter().any(has_integral_float),
        Value::Object(members) => members.values().any(has_integral_float),
        _ => false,
    }
}

/// [`PunchRecord::hash`] of a record's canonical JSON.
pub(crate) fn record_hash(canonical: &[u8]) -> String {
    hex_lower(ring::digest::digest(&ring::digest::SHA256, canonical).as_ref())
}

fn typed_error(path: String, reason: String) -> RecordError {
    let path = if path == "." { String::new() } else { path };
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
            join(&path, &name)
        };
        RecordError::UnknownField { field }
    } else if let Some(name) = quoted("missing field `") {
        RecordError::MissingField {
            field: join(&path, &name),
        }
    } else {
        RecordError::InvalidField {
            field: path,
            reason,
        }
    }
}

/// Joins a parent path and a field name.
fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example record of `docs/punch-record.md`, in its canonical form.
    /// A number written another way (`1.0` for the integer `seq`) is refused on every path,
    /// as the strict reader refuses it, even though its canonical spelling is a valid record.
    #[test]
    fn an_integer_written_as_a_float_is_refused_on_every_path() {
        let text = documented_record();
        let seq = text.find("\"seq\":").expect("the record has a seq");
        let digits = text[seq + 6..].find(|c: char| !c.is_ascii_digit()).unwrap();
        let edited = format!(
            "{}.0{}",
            &text[..seq + 6 + digits],
            &text[seq + 6 + digits..]
        );
        let pretty = format!(" {edited}\n");
        assert!(PunchRecord::from_json(&pretty).is_err());
        let err = PunchRecord::read(&pretty).unwrap_err();
        assert_eq!(err.field(), Some("seq"), "{err}");
    }

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
    fn a_stored_record_is_read_only_in_its_canonical_form() {
        let text = documented_record();
        let record = PunchRecord::read_stored(text).unwrap();
        assert_eq!(record, PunchRecord::from_json(text).unwrap());
        // The same record pretty-printed is a valid record, but not as a store holds it.
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(text).unwrap()).unwrap();
        assert!(PunchRecord::from_json(&pretty).is_ok());
        let err = PunchRecord::read_stored(&pretty).unwrap_err();
        assert_eq!(err.field(), Some("record"));
        assert!(err.to_string().contains("canonical form"), "{err}");
        // A record edited in place but still canonical reads the same on both paths (reading
        // does not check the signature; verifying does).
        let edited = text.replacen("\"accuracy_m\":12.5,", "\"accuracy_m\":13.5,", 1);
        assert_ne!(edited, text);
        assert_eq!(
            PunchRecord::read_stored(&edited).unwrap(),
            PunchRecord::from_json(&edited).unwrap()
        );
        assert!(PunchRecord::read_stored("").is_err());
        assert!(PunchRecord::read_stored("{}").is_err());
    }

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
