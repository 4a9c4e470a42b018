//! The on-device verdict as a punch record carries it: the record format's own types, frozen
//! with the format.
//!
//! The evaluator's [`Verdict`] is free to change shape (new fields, regrouped findings,
//! renamed types); a signed record is not: its bytes are signed, hashed into the next record
//! and verified years later, so its members are defined here, once, and a [`Verdict`] is
//! converted into them when a punch is recorded ([`RecordedVerdict::from`]). A change to
//! `verdict.rs` cannot change what a record looks like; a change here changes the record
//! format, and the known-answer test in `core/tests/punch_chain.rs` fails.
//!
//! The words inside a verdict that are the protocol's shared vocabulary (a reason's [`Code`]
//! and [`Severity`], a fix's [`Presence`]) are those enums themselves: their spellings are
//! stable by contract everywhere they appear. The verdict's own enums (decision, location
//! source, time source) are copied here, member for member, with their wire spellings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codes::{Code, Severity};
use crate::geofence::Presence;
use crate::verdict::{self, Verdict};

/// What happened to the punch, as the device decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedDecision {
    Accepted,
    FieldPunch,
    Rejected,
}

/// How presence was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedLocationSource {
    Gps,
    Wifi,
    None,
}

/// How the device's notion of "now" was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedTimeSource {
    ServerAnchor,
    Supplied,
    DeviceWall,
}

/// One finding, with its stable code and a message carrying the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedReason {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
}

/// The location part of the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedLocation {
    pub presence: Presence,
    pub source: RecordedLocationSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// Metres from the fix to the site's fence edge: positive outside, negative inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_to_edge_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

/// The face part of the verdict, when a token verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedFace {
    pub kid: String,
    pub issuer: String,
    pub score: f64,
    pub liveness: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The verdict the device reached, as the record carries it (`verdict` in
/// `docs/punch-record.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedVerdict {
    pub decision: RecordedDecision,
    pub location: RecordedLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face: Option<RecordedFace>,
    /// Every finding, most severe first.
    pub reasons: Vec<RecordedReason>,
    pub policy_version: u64,
    /// The trusted time the attempt was judged at.
    pub evaluated_at: DateTime<Utc>,
    pub time_source: RecordedTimeSource,
}

impl From<verdict::Decision> for RecordedDecision {
    fn from(d: verdict::Decision) -> Self {
        match d {
            verdict::Decision::Accepted => RecordedDecision::Accepted,
            verdict::Decision::FieldPunch => RecordedDecision::FieldPunch,
            verdict::Decision::Rejected => RecordedDecision::Rejected,
        }
    }
}

impl From<verdict::LocationSource> for RecordedLocationSource {
    fn from(s: verdict::LocationSource) -> Self {
        match s {
            verdict::LocationSource::Gps => RecordedLocationSource::Gps,
            verdict::LocationSource::Wifi => RecordedLocationSource::Wifi,
            verdict::LocationSource::None => RecordedLocationSource::None,
        }
    }
}

impl From<verdict::TimeSource> for RecordedTimeSource {
    fn from(s: verdict::TimeSource) -> Self {
        match s {
            verdict::TimeSource::ServerAnchor => RecordedTimeSource::ServerAnchor,
            verdict::TimeSource::Supplied => RecordedTimeSource::Supplied,
            verdict::TimeSource::DeviceWall => RecordedTimeSource::DeviceWall,
        }
    }
}

impl From<Verdict> for RecordedVerdict {
    fn from(v: Verdict) -> Self {
        RecordedVerdict {
            decision: v.decision.into(),
            location: RecordedLocation {
                presence: v.location.presence,
                source: v.location.source.into(),
                site_id: v.location.site_id,
                site_name: v.location.site_name,
                distance_to_edge_m: v.location.distance_to_edge_m,
                accuracy_m: v.location.accuracy_m,
            },
            face: v.face.map(|f| RecordedFace {
                kid: f.kid,
                issuer: f.issuer,
                score: f.score,
                liveness: f.liveness,
                model: f.model,
            }),
            reasons: v
                .reasons
                .into_iter()
                .map(|r| RecordedReason {
                    code: r.code,
                    severity: r.severity,
                    message: r.message,
                })
                .collect(),
            policy_version: v.policy_version,
            evaluated_at: v.evaluated_at,
            time_source: v.time_source.into(),
        }
    }
}

impl From<&Verdict> for RecordedVerdict {
    fn from(v: &Verdict) -> Self {
        RecordedVerdict::from(v.clone())
    }
}
