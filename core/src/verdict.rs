//! The evaluator: one punch attempt, judged under one policy, into one explainable [`Verdict`].
//!
//! This is the single rule engine of daka. The SDK runs it on the phone for an instant offline
//! answer, the server runs it again on the same policy version as the authority, and
//! `daka check` runs it for support staff. It is deterministic given its inputs: the trusted
//! time is passed in, never read from the system clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codes::{Code, Severity};
use crate::geofence::Presence;

/// What happens to the punch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Recorded as an ordinary punch.
    Accepted,
    /// Recorded as a field punch (外勤) that an approver must review.
    FieldPunch,
    /// Not accepted; `reasons` say why and what to do.
    Rejected,
}

/// One finding, with its stable code and a message carrying the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: Code,
    pub severity: Severity,
    /// Human-readable, with the numbers: "37 m outside Causeway Bay Store (accuracy ±65 m)".
    pub message: String,
}

/// The location part of a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationVerdict {
    pub presence: Presence,
    /// How presence was established.
    pub source: LocationSource,
    /// The nearest allowed site (or the site whose Wi-Fi matched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// Metres from the fix to that site's fence edge: positive outside, negative inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_to_edge_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

/// Which evidence decided the location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    Gps,
    Wifi,
    None,
}

/// The face part of a verdict, when a token verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceVerdict {
    pub kid: String,
    pub issuer: String,
    pub score: f64,
    pub liveness: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// How the evaluator's notion of "now" was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// Last server time anchor plus elapsed monotonic time on the same boot.
    ServerAnchor,
    /// Supplied by the caller (the server's own clock, or `daka check --now`).
    Supplied,
    /// The device wall clock, because no anchor exists for this boot.
    DeviceWall,
}

/// The evaluator's answer for one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    pub location: LocationVerdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face: Option<FaceVerdict>,
    /// Every finding, most severe first.
    pub reasons: Vec<Reason>,
    pub policy_version: u64,
    /// The trusted time the attempt was judged at.
    pub evaluated_at: DateTime<Utc>,
    pub time_source: TimeSource,
}
