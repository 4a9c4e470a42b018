//! The organisation's policy: sites and their fences, Wi-Fi allow-lists, which employees may
//! clock in where, the thresholds the evaluator applies, the face-matcher keys it trusts, and
//! the approval templates with their roles and leave types.
//!
//! A [`Policy`] only exists validated: [`Policy::from_json`] is the one way in, and it either
//! returns a policy every other module can rely on (closed, simple rings; holes inside their
//! shells; finite in-range coordinates; unique ids; resolvable references; well-formed keys)
//! or a [`PolicyError`] naming the JSON path of the first bad value. The JSON format is
//! documented in `docs/policy.md`.

mod approvals;
mod attendance;
mod enrolment;
mod error;
mod geometry;
mod json;
mod keys;
pub mod limits;
mod parse;
mod text;

pub use approvals::MAX_ATTACHMENT_BYTES;
pub use enrolment::{EnrolmentPolicy, MAX_ATTESTED_APPS};
pub use error::{GeometryProblem, PolicyError, PolicyErrorKind};

use geo::{Coord, Polygon};

use crate::approvals::ApprovalPolicy;
use crate::attendance::AttendancePolicy;

/// A validated policy. Build one with [`Policy::from_json`].
#[derive(Debug, Clone)]
pub struct Policy {
    /// Monotonically increasing policy version; every verdict records the version it used.
    pub version: u64,
    /// The organisation the policy belongs to: its id, display name and time zone.
    pub org: Org,
    /// The numbers the evaluator applies; each one the document leaves out has its default.
    pub thresholds: Thresholds,
    /// Sites in document order; [`SiteIdx`] indexes this list.
    pub sites: Vec<Site>,
    /// Employees in document order.
    pub employees: Vec<Employee>,
    /// Trusted face-matcher keys, selected by a token's `kid`.
    pub face_matchers: Vec<TrustedKey>,
    /// Roles, leave types and request templates (empty when the policy has none).
    pub approvals: ApprovalPolicy,
    /// Shifts, schedules, holidays and overtime rules (empty when the policy has none).
    pub attendance: AttendancePolicy,
    /// Whether phones must attest their app and device when they enrol, and which apps.
    pub enrolment: EnrolmentPolicy,
}

/// Index of a site in [`Policy::sites`].
pub type SiteIdx = usize;

/// The organisation a policy belongs to, from the document's `org` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    /// Organisation id as the policy gives it, e.g. `harbour-lane`; 1 to 128 characters,
    /// compared exactly.
    pub id: String,
    /// Display name for people, e.g. `Harbour Lane Retail`; 1 to 256 characters.
    pub name: String,
    /// IANA time zone for day boundaries, default `Asia/Hong_Kong`.
    pub time_zone: String,
}

/// One place where employees may clock in.
#[derive(Debug, Clone)]
pub struct Site {
    /// Site id as the policy gives it, e.g. `cwb-store`; unique among the sites, and what an
    /// employee's `sites` list names. Compared exactly.
    pub id: String,
    /// Display name shown to people in verdicts, e.g. "37 m outside Causeway Bay Store".
    pub name: String,
    /// At least one fence; a MultiPolygon contributes one fence per polygon.
    pub fences: Vec<Fence>,
    /// Normalised BSSIDs (lower-case `aa:bb:cc:dd:ee:ff`) whose presence proves the site.
    pub wifi_bssids: Vec<String>,
    /// How far beyond its fences the site still counts as the site, metres (the shopfront,
    /// the loading bay, the lobby queue): its fences are grown by this much before presence
    /// is judged. 0 (the default) to [`MAX_TOLERANCE_M`](limits::MAX_TOLERANCE_M).
    pub tolerance_m: f64,
}

/// A geofence in WGS-84, coordinates as `geo::Coord { x: lon, y: lat }`.
#[derive(Debug, Clone, PartialEq)]
pub enum Fence {
    /// A simple polygon (closed exterior ring, optional holes inside it).
    Polygon(Polygon<f64>),
    /// A geodesic circle.
    Circle {
        /// The centre in degrees, `x` the longitude and `y` the latitude (the document writes
        /// it `[longitude, latitude]`).
        center: Coord<f64>,
        /// The radius in metres, greater than 0 and at most
        /// [`MAX_CIRCLE_RADIUS_M`](limits::MAX_CIRCLE_RADIUS_M).
        radius_m: f64,
    },
}

/// A person who may clock in, from the document's `employees` list.
#[derive(Debug, Clone, PartialEq)]
pub struct Employee {
    /// Employee id as the policy lists it, e.g. `E1001`; unique, compared exactly. Punch
    /// records, requests and approval routes name employees by it.
    pub id: String,
    /// Display name for people, e.g. `Chan Tai Man`; 1 to 256 characters.
    pub name: String,
    /// The sites this employee may clock in at, as indexes into [`Policy::sites`]; never empty.
    pub sites: Vec<SiteIdx>,
    /// Id of this employee's direct manager (another employee of the policy), if any. The
    /// management chain never loops.
    pub manager: Option<String>,
}

/// What an `uncertain` location verdict does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UncertainAction {
    /// Refuse the punch; the user retries with a better fix or Wi-Fi.
    Reject,
    /// Accept it as an ordinary punch.
    Allow,
    /// Record it as a field punch (外勤) that needs approval.
    FieldPunch,
}

/// How a fix is judged against the allowed fences (`thresholds.presence.rule`).
///
/// The rule is part of the policy version, so a punch is always judged again by the server
/// under the rule its phone used.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum PresenceRule {
    /// The rule of policies that name none: `inside` when the whole accuracy circle lies
    /// inside a fence grown by the site's tolerance, `outside` when it touches none, else
    /// `uncertain`.
    AccuracyCircle,
    /// The probability that the person is inside a fence grown by the site's tolerance,
    /// under the error model of `docs/geofence.md`, rounded to four decimals: `inside` at or
    /// above `accept_probability`, `outside` at or below `reject_probability`, else
    /// `uncertain`.
    Probability {
        /// The lowest probability accepted as presence, 0.5 to 1.
        accept_probability: f64,
        /// The highest probability refused as absence, 0 to 0.1: a rejection must mean
        /// "almost certainly not there".
        reject_probability: f64,
    },
}

/// Numbers the evaluator applies. Defaults are documented in `docs/policy.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Fixes with a worse (larger) accuracy radius are refused, unless Wi-Fi proves presence.
    pub max_accuracy_m: f64,
    /// What the evaluator does with a punch whose location verdict is `uncertain`; the default
    /// is [`UncertainAction::FieldPunch`].
    pub uncertain: UncertainAction,
    /// Oldest acceptable fix, by monotonic clock, in seconds.
    pub max_fix_age_s: u64,
    /// Faster apparent travel between consecutive fixes is flagged, in metres per second.
    pub max_travel_speed_mps: f64,
    /// Allowed disagreement between wall-clock and monotonic elapsed time, in seconds.
    pub clock_jump_tolerance_s: u64,
    /// Whether punches need a face-match token, and the scores and ages a token must meet.
    pub face: FaceRules,
    /// How a fix is judged against the fences; [`PresenceRule::AccuracyCircle`] when the
    /// policy names no rule.
    pub presence: PresenceRule,
}

/// The face-check rules, from the document's `thresholds.face` object.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRules {
    /// Whether every punch needs a face-match token.
    pub required: bool,
    /// Minimum `score` claim, 0..=1.
    pub min_score: f64,
    /// Minimum liveness score, 0..=1; a `"pass"`/`"fail"` claim counts as 1/0.
    pub min_liveness: f64,
    /// Oldest acceptable `iat`, in seconds before the trusted time.
    pub max_token_age_s: u64,
    /// Allowance for clock differences between matcher and daka, in seconds.
    pub clock_skew_s: u64,
}

/// A trusted face-matcher key, from a JWK in the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// Key id, matched exactly against a face-match token's header `kid`; unique among the
    /// policy's keys, e.g. `hl-face-device-2026-01`.
    pub kid: String,
    /// When set, a token's `iss` must equal it.
    pub issuer: Option<String>,
    /// The public key that verifies a token's signature; its type decides the one `alg` a
    /// token may use with it.
    pub key: PublicKey,
}

/// A public key that verifies face-match tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// JWK `{"kty":"OKP","crv":"Ed25519","x":..}`; verifies `alg: EdDSA`.
    Ed25519([u8; 32]),
    /// JWK `{"kty":"EC","crv":"P-256","x":..,"y":..}` as an uncompressed SEC1 point
    /// (`0x04 || x || y`), checked to be on the curve; verifies `alg: ES256`.
    P256(Box<[u8; 65]>),
}

impl Policy {
    /// Parses and validates a policy document.
    ///
    /// Errors name the JSON path of the first bad value, e.g.
    /// `sites[2].fences[0].coordinates[0]: ring is not closed`.
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        parse::parse_policy(text)
    }

    /// The organisation's time zone (validated when the policy was read).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.org
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Asia::Hong_Kong)
    }

    /// The site with this id.
    pub fn site_by_id(&self, id: &str) -> Option<(SiteIdx, &Site)> {
        self.sites.iter().enumerate().find(|(_, s)| s.id == id)
    }

    /// The employee with this id.
    pub fn employee(&self, id: &str) -> Option<&Employee> {
        self.employees.iter().find(|e| e.id == id)
    }

    /// The direct manager of the employee with this id, if it has one.
    pub fn manager_of(&self, id: &str) -> Option<&Employee> {
        let manager = self.employee(id)?.manager.as_deref()?;
        self.employee(manager)
    }

    /// The trusted key with this `kid`.
    pub fn face_key(&self, kid: &str) -> Option<&TrustedKey> {
        self.face_matchers.iter().find(|k| k.kid == kid)
    }
}
