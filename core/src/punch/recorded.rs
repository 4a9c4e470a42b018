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
    /// Recorded as an ordinary punch.
    Accepted,
    /// Recorded as a field punch (外勤) that an approver must review.
    FieldPunch,
    /// Not accepted; the `reasons` say why. (The daka device runtime does not record rejected
    /// attempts.)
    Rejected,
}

/// How presence was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedLocationSource {
    /// The location fix, judged against the fences of the employee's sites.
    Gps,
    /// A scanned Wi-Fi access point on an allowed site's allow-list; presence proven whatever the
    /// fix says.
    Wifi,
    /// Nothing placed the device: no fix and no matching Wi-Fi, no site assigned to the employee,
    /// or an employee the policy does not list.
    None,
}

/// How the device's notion of "now" was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedTimeSource {
    /// The last server time anchor plus the monotonic time elapsed since, on the same boot.
    ServerAnchor,
    /// A trusted time supplied by the caller (the server's clock, or `daka check --now`).
    Supplied,
    /// The device's wall clock, as it had no server anchor for this boot: the record's times are
    /// the device's own.
    DeviceWall,
}

/// One finding, with its stable code and a message carrying the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedReason {
    /// Stable machine code of the finding (listed in `docs/verdict.md`).
    pub code: Code,
    /// How much the finding weighed in the device's decision.
    pub severity: Severity,
    /// Human-readable English with the numbers, as the device wrote it.
    pub message: String,
}

/// The location part of the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedLocation {
    /// Where the device was relative to the fences of its allowed sites; `outside` also when
    /// nothing placed it (`source` is `none`).
    pub presence: Presence,
    /// Which evidence established `presence`.
    pub source: RecordedLocationSource,
    /// Policy id of the nearest allowed site, or of the site whose Wi-Fi matched; absent when no
    /// site was found (always when `source` is `none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    /// Display name of that site, from the policy; present exactly when `site_id` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// Metres from the fix to the site's fence edge: positive outside, negative inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_to_edge_m: Option<f64>,
    /// The fix's accuracy radius in metres (68 % confidence), as the platform reported it; absent
    /// when `source` is `none`, and for a Wi-Fi match without a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    /// The site's tolerance in metres, when it set one (absent in records made before sites
    /// had tolerances, and for sites without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_m: Option<f64>,
    /// Under the probability rule, the probability (0 to 1, four decimals) that the person was
    /// inside the site's fences grown by its tolerance; absent under the accuracy-circle rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// The face part of the verdict, when a token verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedFace {
    /// Id of the policy's trusted face-matcher key that verified the token.
    pub kid: String,
    /// The token's `iss` claim: who ran the match.
    pub issuer: String,
    /// Match score from the token, 0..=1.
    pub score: f64,
    /// Liveness from the token as a score, 0..=1 (`"pass"` counts as 1).
    pub liveness: f64,
    /// The token's `model` claim, when the matcher names its model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The verdict the device reached, as the record carries it (`verdict` in
/// `docs/punch-record.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedVerdict {
    /// What the device decided.
    pub decision: RecordedDecision,
    /// Where the device was, and which evidence established it.
    pub location: RecordedLocation,
    /// The verified face match; absent when no token came with the attempt or the token was refused
    /// (then a reason says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face: Option<RecordedFace>,
    /// Every finding, most severe first.
    pub reasons: Vec<RecordedReason>,
    /// Version of the policy the device judged by.
    pub policy_version: u64,
    /// The trusted time the attempt was judged at.
    pub evaluated_at: DateTime<Utc>,
    /// Where `evaluated_at` came from; `device_wall` means the device's own, user-adjustable clock.
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
                tolerance_m: v.location.tolerance_m,
                probability: v.location.probability,
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
