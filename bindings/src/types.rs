//! The records and enums that cross the FFI, and their conversions to and from `daka-core`.
//!
//! These are wrapper types rather than derives on the core's own types: the core speaks in
//! `chrono` instants, `Code` enums and nested location verdicts, while apps want flat records
//! with Unix milliseconds and code *text* (the stable contract of docs/verdict.md, which new
//! codes extend without breaking an app's `when`). Conversions live next to the types, one
//! function each way, so nothing is written twice elsewhere.
//!
//! Counts and versions are `u64` (Kotlin `ULong`, Swift `UInt64`); instants are `i64` Unix
//! milliseconds (Kotlin `Long`, Swift `Int64`).

use daka_core::evidence::FaceEvidence;
use daka_core::protocol::Change;
use daka_core::verdict::{self, LocationSource as CoreSource};
use daka_device::outbox::OutboxStats;
use daka_device::{self as device, Identity as CoreIdentity};

use crate::error::DakaError;

/// One location fix as the platform reports it (Android `Location`, iOS `CLLocation`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Fix {
    /// Latitude, WGS-84 degrees, -90..=90.
    pub lat: f64,
    /// Longitude, WGS-84 degrees, -180..=180.
    pub lon: f64,
    /// Horizontal accuracy radius in metres at 68 % confidence (`Location.getAccuracy()`,
    /// `CLLocation.horizontalAccuracy`).
    pub accuracy_m: f64,
    /// When the fix was taken, Unix milliseconds of the device clock (`Location.getTime()`).
    pub time_ms: i64,
    /// Milliseconds since boot when the fix was taken (`getElapsedRealtimeNanos() / 1e6`), if
    /// the platform gives it; lets daka tell a stale fix even when the wall clock is wrong.
    #[uniffi(default = None)]
    pub monotonic_ms: Option<u64>,
    /// The platform flagged the fix as mocked (`Location.isMock()`,
    /// `sourceInformation.isSimulatedBySoftware`).
    #[uniffi(default = false)]
    pub mock: bool,
    /// The provider (`gps`, `fused`, `network`), kept for the audit trail.
    #[uniffi(default = None)]
    pub provider: Option<String>,
}

/// What a punch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PunchKind {
    /// Start of work.
    In,
    /// End of work.
    Out,
    /// Start of a break.
    BreakStart,
    /// End of a break.
    BreakEnd,
    /// A field punch (外勤) away from any site, for an approver to review.
    Field,
}

/// What the app hands over for one punch or location check.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PunchInput {
    /// What the punch is.
    pub kind: PunchKind,
    /// The latest location fix, if there is one.
    #[uniffi(default = None)]
    pub fix: Option<Fix>,
    /// Earlier fixes of the same attempt, e.g. those collected while the face check ran, in any
    /// order; empty by default. At most 16, each taken no later than `fix`, none repeated, and
    /// only together with `fix`. The location is judged on their conservative fusion with `fix`
    /// (never claimed better than the best of them), and all are recorded in the punch as
    /// evidence; a mocked one rejects the punch like a mocked `fix`. A bad one is `InvalidInput`
    /// naming it, e.g. `more_fixes[2].lat`.
    #[uniffi(default)]
    pub more_fixes: Vec<Fix>,
    /// BSSIDs of the latest Wi-Fi scan (any case, `:` or `-` separated).
    #[uniffi(default)]
    pub wifi_bssids: Vec<String>,
    /// The face matcher's signed result (a compact JWS), when the face check was done.
    #[uniffi(default = None)]
    pub face_token: Option<String>,
    /// The nonce from `beginFaceCheck()` that the face matcher put in `face_token`.
    #[uniffi(default = None)]
    pub face_nonce: Option<String>,
}

/// What happens to the punch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Decision {
    /// Recorded as an ordinary punch.
    Accepted,
    /// Recorded as a field punch (外勤) that an approver must review.
    FieldPunch,
    /// Not recorded; the reasons say why and what to do.
    Rejected,
}

/// Where the device is relative to the allowed sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Presence {
    /// The whole accuracy circle lies inside an allowed fence (or an allowed Wi-Fi was seen).
    Inside,
    /// The accuracy circle touches no allowed fence.
    Outside,
    /// The accuracy circle straddles the edge of an allowed fence.
    Uncertain,
}

/// Which evidence decided the location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LocationSource {
    /// The location fix.
    Gps,
    /// An allow-listed Wi-Fi access point.
    Wifi,
    /// Nothing proved the location (no fix and no known Wi-Fi, or an unknown employee).
    NoEvidence,
}

/// How much a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Severity {
    /// Recorded for the audit trail; does not change the decision.
    Info,
    /// The punch may be recorded but needs a reviewer.
    Review,
    /// The punch is not accepted.
    Reject,
}

/// One finding of the evaluator.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Reason {
    /// The stable machine code, e.g. `outside_fence` (docs/verdict.md lists them all; codes
    /// are only ever added, so keep an `else` branch).
    pub code: String,
    /// How much it weighs.
    pub severity: Severity,
    /// A human message with the numbers: "37 m outside Causeway Bay Store (accuracy ±65 m)".
    pub message: String,
}

/// The evaluator's answer for one attempt.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Verdict {
    /// What happens to the punch.
    pub decision: Decision,
    /// Where the device is relative to the allowed sites.
    pub presence: Presence,
    /// Which evidence decided the location.
    pub source: LocationSource,
    /// The nearest allowed site, or the site whose Wi-Fi matched.
    pub site_id: Option<String>,
    /// That site's display name.
    pub site_name: Option<String>,
    /// Metres from the fix to that site's fence edge: positive outside, negative inside.
    pub distance_to_edge_m: Option<f64>,
    /// The fix's accuracy in metres, if a fix was judged.
    pub accuracy_m: Option<f64>,
    /// That site's tolerance in metres, when it sets one: how far beyond its fences it still
    /// counts as the site.
    pub tolerance_m: Option<f64>,
    /// Under the policy's probability rule, the probability (0 to 1, four decimals) that the
    /// person is inside the site's fences grown by its tolerance; `null` under the
    /// accuracy-circle rule and when Wi-Fi proved presence. Show it as "97 % likely there".
    pub probability: Option<f64>,
    /// Every finding, most severe first.
    pub reasons: Vec<Reason>,
    /// The policy version the attempt was judged under.
    pub policy_version: u64,
    /// The trusted time the attempt was judged at, Unix milliseconds.
    pub evaluated_at_ms: i64,
}

/// The answer to `punch`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PunchReceipt {
    /// The verdict; `Rejected` means nothing was recorded.
    pub verdict: Verdict,
    /// The recorded punch's id (a UUIDv7), when it was recorded. Durable when returned.
    pub record_id: Option<String>,
    /// Its sequence number in this device's punch chain (1, 2, 3, …).
    pub seq: Option<u64>,
}

/// Counts for a "3 punches waiting to send" badge.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QueueStatus {
    /// Waiting to be sent.
    pub pending: u64,
    /// Being sent right now.
    pub in_flight: u64,
    /// Permanently refused by the server; see `itemsNeedingAttention()`.
    pub needs_attention: u64,
    /// Age of the oldest item not yet delivered, in seconds, if there is one.
    pub oldest_waiting_seconds: Option<u64>,
}

/// An item the server refused permanently, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QueuedItem {
    /// The item's id (for a punch, its record id).
    pub id: String,
    /// The server's stable code, e.g. `face_token_replayed`.
    pub code: String,
    /// The server's explanation.
    pub message: String,
}

/// The server's own verdict on a punch it received.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerVerdict {
    /// The punch's record id.
    pub punch_id: String,
    /// The server's decision (it is the authority).
    pub decision: Decision,
    /// The codes of its findings.
    pub codes: Vec<String>,
}

/// What one sync round did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncReport {
    /// HTTP push requests made.
    pub requests: u64,
    /// Items the server accepted.
    pub accepted: u64,
    /// Items the server already had (a retry of a delivered item): delivered.
    pub duplicates: u64,
    /// Items refused permanently; see `itemsNeedingAttention()`.
    pub rejected: u64,
    /// Items the server asked to send later.
    pub deferred: u64,
    /// Items still waiting after the round.
    pub remaining: u64,
    /// The policy version in force after the round.
    pub policy_version: Option<u64>,
    /// Whether the round installed a new policy version.
    pub policy_updated: bool,
    /// The server's verdicts on punches, pulled in this round.
    pub server_verdicts: Vec<ServerVerdict>,
    /// Requests this employee made or must act on that changed: refresh those screens.
    pub request_updates: Vec<RequestUpdate>,
    /// Why the round ended early without failing (the server deferred items), if it did.
    pub stopped_by: Option<String>,
}

/// A request that changed, from the server's change feed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RequestUpdate {
    /// The request's id.
    pub request_id: String,
    /// `pending`, `approved`, `rejected`, `returned` or `withdrawn`.
    pub status: String,
    /// The request's current revision.
    pub revision: u32,
    /// Who must act now (empty unless pending).
    pub waiting_for: Vec<String>,
}

/// Who this device is, once enrolled.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Identity {
    /// The device id the server assigned.
    pub device_id: String,
    /// The organisation.
    pub org_id: String,
    /// The employee this device punches for.
    pub employee_id: String,
    /// The server the device syncs with.
    pub server_url: String,
}

/// Whether the organisation asks for platform attestation when a phone enrols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AttestationRule {
    /// Not asked for: enrol with `enroll` and no attestation.
    Off,
    /// Verified and recorded when sent, but enrolment goes ahead whatever it says.
    Optional,
    /// Enrolment is refused without an attestation that passes.
    Required,
}

impl From<daka_core::protocol::AttestationRule> for AttestationRule {
    fn from(rule: daka_core::protocol::AttestationRule) -> Self {
        use daka_core::protocol::AttestationRule as Core;
        match rule {
            Core::Off => AttestationRule::Off,
            Core::Optional => AttestationRule::Optional,
            Core::Required => AttestationRule::Required,
        }
    }
}

/// A challenge for an attested enrolment, from `enrollmentChallenge`. Have the platform
/// attest to `nonce`, then call `enroll` with an `Attestation` within ten minutes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrollmentChallenge {
    /// The server's challenge; pass it back in `Attestation.challenge`.
    pub challenge: String,
    /// The 32 bytes the platform must attest to, bound to the challenge and this device's
    /// key. iOS: App Attest's `attestKey(_:clientDataHash:)` takes them as they are.
    pub nonce: Vec<u8>,
    /// The same nonce as base64url without padding: Play Integrity's `setNonce`.
    pub nonce_base64url: String,
    /// Whether the organisation asks for attestation.
    pub attestation: AttestationRule,
    /// The formats the server verifies: `play_integrity`, `app_attest`,
    /// `android_key_attestation`.
    pub formats: Vec<String>,
    /// When the server stops accepting the challenge, milliseconds since 1970 (UTC).
    pub expires_at_ms: i64,
}

impl From<daka_device::EnrollmentChallenge> for EnrollmentChallenge {
    fn from(c: daka_device::EnrollmentChallenge) -> Self {
        EnrollmentChallenge {
            nonce_base64url: c.nonce_base64url(),
            nonce: c.nonce.to_vec(),
            challenge: c.challenge,
            attestation: c.attestation.into(),
            formats: c.formats,
            expires_at_ms: c.expires_at.timestamp_millis(),
        }
    }
}

/// The platform's attestation of the app and device, for `enroll`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Attestation {
    /// `play_integrity` (the integrity token of a classic Play Integrity request),
    /// `app_attest` (App Attest's attestation object, base64) or `android_key_attestation`
    /// (the certificate chain of a Keystore key made with the nonce as its attestation
    /// challenge, leaf first, each certificate's DER in base64, joined with `.`).
    pub format: String,
    /// `EnrollmentChallenge.challenge`, as received.
    pub challenge: String,
    /// The platform's result, as it gave it.
    pub token: String,
}

impl From<Attestation> for daka_core::protocol::Attestation {
    fn from(a: Attestation) -> Self {
        daka_core::protocol::Attestation {
            format: a.format,
            challenge: a.challenge,
            token: a.token,
        }
    }
}

/// A snapshot for the app's status screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceStatus {
    /// Whether the device has an identity.
    pub enrolled: bool,
    /// The device id, once enrolled.
    pub device_id: Option<String>,
    /// The employee, once enrolled.
    pub employee_id: Option<String>,
    /// The policy version in force, once fetched.
    pub policy_version: Option<u64>,
    /// The offline queue.
    pub queue: QueueStatus,
    /// Whether the background sync loop is running.
    pub background_sync: bool,
    /// Why the phone refused the server's certificate in the last sync round, as
    /// `code: reason` (see `DakaException.Tls`); `null` once a round reached the server.
    /// While set, background sync waits for the next punch instead of retrying.
    pub tls_refused: Option<String>,
}

/// Settings for `DakaDevice.openWithOptions`; every field has a sensible default. A value out
/// of its range is `InvalidInput` naming the field, and nothing is opened.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceOptions {
    /// Most undelivered items the offline queue holds (default 100 000); beyond it `punch`
    /// fails with `QueueFull` instead of dropping anything. At least 1.
    #[uniffi(default = None)]
    pub max_queued_items: Option<u64>,
    /// Limit for one whole HTTP request, in seconds (default 30); 1 to 3600.
    #[uniffi(default = None)]
    pub request_timeout_seconds: Option<u32>,
    /// Limit for establishing a connection, in seconds (default 10); 1 to 3600.
    #[uniffi(default = None)]
    pub connect_timeout_seconds: Option<u32>,
    /// More root certificates to trust besides the bundled public ones, each PEM (one or
    /// more `CERTIFICATE` blocks) or DER bytes: typically the company's CA. One that does
    /// not read is `InvalidInput` (`extraRootCertificates`).
    #[uniffi(default = [])]
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Key pins: base64 SHA-256 of a SubjectPublicKeyInfo (`sha256/` prefix optional). When
    /// any is given, the server is accepted only if one matches its own key or a CA key that
    /// signed its chain, on top of the usual checks; otherwise sync fails with `Tls`
    /// (`pin_mismatch`). Pin at least two keys (the current and the next), so that the
    /// server can change its key without locking phones out.
    #[uniffi(default = [])]
    pub certificate_pins: Vec<String>,
    /// Also trust the operating system's trust store (iOS: roots installed by device
    /// management). Default `false`; on Android `true` is `InvalidInput`
    /// (`platformTrustStore`): add the company CA in `extraRootCertificates` instead.
    #[uniffi(default = false)]
    pub platform_trust_store: bool,
}

// ---- conversions ---------------------------------------------------------------------------

impl From<daka_core::punch::PunchKind> for PunchKind {
    fn from(k: daka_core::punch::PunchKind) -> Self {
        use daka_core::punch::PunchKind as K;
        match k {
            K::In => PunchKind::In,
            K::Out => PunchKind::Out,
            K::BreakStart => PunchKind::BreakStart,
            K::BreakEnd => PunchKind::BreakEnd,
            K::Field => PunchKind::Field,
        }
    }
}

impl From<PunchKind> for daka_core::punch::PunchKind {
    fn from(k: PunchKind) -> Self {
        use daka_core::punch::PunchKind as K;
        match k {
            PunchKind::In => K::In,
            PunchKind::Out => K::Out,
            PunchKind::BreakStart => K::BreakStart,
            PunchKind::BreakEnd => K::BreakEnd,
            PunchKind::Field => K::Field,
        }
    }
}

impl Fix {
    /// The core's fix; `field` names it in an error (`fix`, `more_fixes[2]`).
    fn into_core(self, field: &str) -> Result<daka_core::evidence::Fix, DakaError> {
        let time = chrono::DateTime::from_timestamp_millis(self.time_ms).ok_or_else(|| {
            DakaError::InvalidInput {
                field: format!("{field}.timeMs"),
                value: self.time_ms.to_string(),
                reason: "not a representable instant (Unix milliseconds)".into(),
            }
        })?;
        Ok(daka_core::evidence::Fix {
            lat: self.lat,
            lon: self.lon,
            accuracy_m: self.accuracy_m,
            time,
            monotonic_ms: self.monotonic_ms,
            mock: self.mock,
            provider: self.provider,
        })
    }
}

impl PunchInput {
    /// The core's input. Values are checked by the core's validation (which names the field);
    /// here only what the FFI shape adds: the token and its nonce come together.
    pub(crate) fn into_core(self) -> Result<device::PunchInput, DakaError> {
        let face = match (self.face_token, self.face_nonce) {
            (Some(token), Some(nonce)) => Some(FaceEvidence { token, nonce }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(DakaError::InvalidInput {
                    field: "faceNonce".into(),
                    value: "(missing)".into(),
                    reason: "a face token needs the nonce from beginFaceCheck() it was made for"
                        .into(),
                });
            }
            (None, Some(_)) => {
                return Err(DakaError::InvalidInput {
                    field: "faceToken".into(),
                    value: "(missing)".into(),
                    reason: "a face nonce was given without the face matcher's token".into(),
                });
            }
        };
        Ok(device::PunchInput {
            kind: self.kind.into(),
            fix: self.fix.map(|f| f.into_core("fix")).transpose()?,
            more_fixes: self
                .more_fixes
                .into_iter()
                .enumerate()
                .map(|(i, f)| f.into_core(&format!("more_fixes[{i}]")))
                .collect::<Result<_, _>>()?,
            wifi_bssids: self.wifi_bssids,
            face,
        })
    }
}

impl From<verdict::Decision> for Decision {
    fn from(d: verdict::Decision) -> Self {
        match d {
            verdict::Decision::Accepted => Decision::Accepted,
            verdict::Decision::FieldPunch => Decision::FieldPunch,
            verdict::Decision::Rejected => Decision::Rejected,
        }
    }
}

impl From<daka_core::Severity> for Severity {
    fn from(s: daka_core::Severity) -> Self {
        match s {
            daka_core::Severity::Info => Severity::Info,
            daka_core::Severity::Review => Severity::Review,
            daka_core::Severity::Reject => Severity::Reject,
        }
    }
}

impl From<verdict::Verdict> for Verdict {
    fn from(v: verdict::Verdict) -> Self {
        use daka_core::geofence::Presence as P;
        let loc = v.location;
        Verdict {
            decision: v.decision.into(),
            presence: match loc.presence {
                P::Inside => Presence::Inside,
                P::Outside => Presence::Outside,
                P::Uncertain => Presence::Uncertain,
            },
            source: match loc.source {
                CoreSource::Gps => LocationSource::Gps,
                CoreSource::Wifi => LocationSource::Wifi,
                CoreSource::None => LocationSource::NoEvidence,
            },
            site_id: loc.site_id,
            site_name: loc.site_name,
            distance_to_edge_m: loc.distance_to_edge_m,
            accuracy_m: loc.accuracy_m,
            tolerance_m: loc.tolerance_m,
            probability: loc.probability,
            reasons: v
                .reasons
                .into_iter()
                .map(|r| Reason {
                    code: r.code.as_str().to_string(),
                    severity: r.severity.into(),
                    message: r.message,
                })
                .collect(),
            policy_version: v.policy_version,
            evaluated_at_ms: v.evaluated_at.timestamp_millis(),
        }
    }
}

impl From<device::PunchOutcome> for PunchReceipt {
    fn from(o: device::PunchOutcome) -> Self {
        PunchReceipt {
            verdict: o.verdict.into(),
            record_id: o.record.as_ref().map(|r| r.body.id.to_string()),
            seq: o.record.as_ref().map(|r| r.body.seq),
        }
    }
}

impl From<OutboxStats> for QueueStatus {
    fn from(s: OutboxStats) -> Self {
        QueueStatus {
            pending: s.pending,
            in_flight: s.in_flight,
            needs_attention: s.needs_attention,
            oldest_waiting_seconds: s
                .oldest_undelivered_age_ms
                .map(|ms| u64::try_from(ms.max(0)).unwrap_or(0) / 1000),
        }
    }
}

impl From<device::SyncReport> for SyncReport {
    fn from(r: device::SyncReport) -> Self {
        SyncReport {
            requests: r.requests,
            accepted: r.accepted,
            duplicates: r.duplicates,
            rejected: r.rejected,
            deferred: r.deferred,
            remaining: r.remaining,
            policy_version: r.policy_version,
            policy_updated: r.policy_updated,
            server_verdicts: r
                .server_verdicts
                .into_iter()
                .filter_map(|c| match c {
                    Change::PunchVerdict {
                        punch_id,
                        decision,
                        codes,
                    } => Some(ServerVerdict {
                        punch_id,
                        decision: decision.into(),
                        codes: codes.iter().map(|c| c.as_str().to_string()).collect(),
                    }),
                    _ => None,
                })
                .collect(),
            request_updates: r
                .request_updates
                .into_iter()
                .filter_map(|c| match c {
                    Change::RequestUpdated {
                        request_id,
                        status,
                        revision,
                        waiting_for,
                    } => Some(RequestUpdate {
                        request_id,
                        status,
                        revision,
                        waiting_for,
                    }),
                    _ => None,
                })
                .collect(),
            stopped_by: r.stopped_by,
        }
    }
}

impl From<CoreIdentity> for Identity {
    fn from(i: CoreIdentity) -> Self {
        Identity {
            device_id: i.device_id,
            org_id: i.org_id,
            employee_id: i.employee_id,
            server_url: i.server_url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PunchInput {
        PunchInput {
            kind: PunchKind::In,
            fix: Some(Fix {
                lat: 22.28005,
                lon: 114.18305,
                accuracy_m: 5.0,
                time_ms: 1_795_000_000_000,
                monotonic_ms: Some(1_000),
                mock: false,
                provider: Some("gps".into()),
            }),
            more_fixes: Vec::new(),
            wifi_bssids: vec!["E0:55:3D:4A:12:C1".into()],
            face_token: None,
            face_nonce: None,
        }
    }

    #[test]
    fn punch_input_converts_field_by_field() {
        let core = input().into_core().unwrap();
        assert_eq!(core.kind, daka_core::punch::PunchKind::In);
        let fix = core.fix.unwrap();
        assert_eq!(
            (fix.lat, fix.lon, fix.accuracy_m),
            (22.28005, 114.18305, 5.0)
        );
        assert_eq!(fix.time.timestamp_millis(), 1_795_000_000_000);
        assert_eq!(fix.monotonic_ms, Some(1_000));
        assert_eq!(fix.provider.as_deref(), Some("gps"));
        assert_eq!(core.wifi_bssids, ["E0:55:3D:4A:12:C1"]);
        assert!(core.face.is_none());
    }

    #[test]
    fn a_face_token_needs_its_nonce_and_vice_versa() {
        let mut i = input();
        i.face_token = Some("a.b.c".into());
        assert!(matches!(
            i.clone().into_core(),
            Err(DakaError::InvalidInput { field, .. }) if field == "faceNonce"
        ));
        i.face_nonce = Some("n".into());
        let face = i.clone().into_core().unwrap().face.unwrap();
        assert_eq!((face.token.as_str(), face.nonce.as_str()), ("a.b.c", "n"));
        i.face_token = None;
        assert!(matches!(
            i.into_core(),
            Err(DakaError::InvalidInput { field, .. }) if field == "faceToken"
        ));
    }

    #[test]
    fn an_unrepresentable_fix_time_names_the_field() {
        let mut i = input();
        i.fix.as_mut().unwrap().time_ms = i64::MAX;
        assert!(matches!(
            i.into_core(),
            Err(DakaError::InvalidInput { field, value, .. })
                if field == "fix.timeMs" && value == i64::MAX.to_string()
        ));
    }

    #[test]
    fn earlier_fixes_convert_in_order_and_a_bad_time_names_its_index() {
        let mut i = input();
        let latest = i.fix.clone().unwrap();
        for k in 1..=3 {
            let mut f = latest.clone();
            f.time_ms -= k * 1000;
            f.monotonic_ms = None;
            i.more_fixes.push(f);
        }
        let core = i.clone().into_core().unwrap();
        let times: Vec<i64> = core
            .more_fixes
            .iter()
            .map(|f| f.time.timestamp_millis())
            .collect();
        assert_eq!(
            times,
            [1_794_999_999_000, 1_794_999_998_000, 1_794_999_997_000]
        );
        i.more_fixes[2].time_ms = i64::MIN;
        assert!(matches!(
            i.into_core(),
            Err(DakaError::InvalidInput { field, .. }) if field == "more_fixes[2].timeMs"
        ));
    }

    #[test]
    fn queue_ages_are_whole_seconds() {
        let q = QueueStatus::from(OutboxStats {
            pending: 2,
            in_flight: 1,
            needs_attention: 1,
            delivered: 9,
            oldest_undelivered_age_ms: Some(61_999),
        });
        assert_eq!(
            q,
            QueueStatus {
                pending: 2,
                in_flight: 1,
                needs_attention: 1,
                oldest_waiting_seconds: Some(61)
            }
        );
    }
}
