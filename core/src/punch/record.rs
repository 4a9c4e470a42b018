//! The punch record format and the device signer.
//!
//! A record is the JSON object of [`PunchBody`] plus a `sig` field. The signature is Ed25519
//! over the RFC 8785 (JCS) canonical form of the body (the record without `sig`); the record
//! hash that the next record's `prev_hash` carries is the lower-case hex SHA-256 of the
//! canonical form of the whole record, `sig` included. Canonical JSON makes both independent
//! of key order and number formatting, so a server in another language can verify them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::evidence::{DeviceClock, Fix};
use crate::verdict::Verdict;

/// Version of the record format.
pub const RECORD_FORMAT: u32 = 1;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PunchRecord {
    #[serde(flatten)]
    pub body: PunchBody,
    pub sig: String,
}

/// The device's Ed25519 signing key.
pub struct DeviceSigner {
    _private: (),
}
