//! The evaluator: one punch attempt, judged under one policy, into one explainable [`Verdict`].
//!
//! This is the single rule engine of daka. The SDK runs it on the phone for an instant offline
//! answer, the server runs it again on the same policy version as the authority, and
//! `daka check` runs it for support staff. It is deterministic given its inputs: the trusted
//! time is passed in, never read from the system clock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::attempt::{Attempt, AttemptError};
use crate::codes::{Code, Severity};
use crate::evidence::Fix;
use crate::evidence::face_token::{Expected, FaceTokenVerifier, NonceLedger, SignatureChecked};
use crate::evidence::spoofing::{Finding, check_earlier_fixes, check_fix, human_distance};
pub use crate::evidence::time::TimeSource;
use crate::evidence::time::TrustedTime;
use crate::evidence::wifi::WifiIndex;
use crate::geofence::{GeofenceIndex, Location, Presence};
use crate::policy::{Policy, PresenceRule, SiteIdx, UncertainAction};
use crate::punch::kind::PunchKind;

/// What happens to the punch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Stable machine code of the finding (listed in `docs/verdict.md`); apps pick their message by
    /// it.
    pub code: Code,
    /// How much the finding weighed in this decision: the code's default severity, or the one the
    /// policy or the circumstances set (e.g. `outside_fence` on a field punch is only `review`).
    pub severity: Severity,
    /// Human-readable, with the numbers: "37 m outside Causeway Bay Store (accuracy ±65 m)".
    pub message: String,
}

/// The location part of a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationVerdict {
    /// Where the device was relative to the fences of its allowed sites; `outside` also when
    /// nothing placed it (`source` is `none`).
    pub presence: Presence,
    /// How presence was established.
    pub source: LocationSource,
    /// The nearest allowed site (or the site whose Wi-Fi matched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    /// Display name of that site, from the policy; present exactly when `site_id` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// Metres from the fix to that site's fence edge: positive outside, negative inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_to_edge_m: Option<f64>,
    /// The fix's accuracy radius in metres (68 % confidence), as the platform reported it; absent
    /// when `source` is `none`, and for a Wi-Fi match without a fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
    /// The site's tolerance in metres, when it sets one: how far beyond its fences it still
    /// counts as the site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_m: Option<f64>,
    /// Under the probability rule, the probability (0 to 1, four decimals) that the person
    /// was inside the site's fences grown by its tolerance; absent under the accuracy-circle
    /// rule and when Wi-Fi decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// Which evidence decided the location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    /// The location fix, judged against the fences of the employee's sites.
    Gps,
    /// A scanned Wi-Fi access point on an allowed site's allow-list; presence proven whatever the
    /// fix says.
    Wifi,
    /// Nothing placed the device: no fix and no matching Wi-Fi, no site assigned to the employee,
    /// or an employee the policy does not list.
    None,
}

/// The face part of a verdict, when a token verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceVerdict {
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

/// The evaluator's answer for one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// What happens to the punch; the most severe reason decides it.
    pub decision: Decision,
    /// Where the device was, and which evidence established it.
    pub location: LocationVerdict,
    /// The verified face match; absent when no token came with the attempt or the token was refused
    /// (then a reason says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face: Option<FaceVerdict>,
    /// Every finding, most severe first.
    pub reasons: Vec<Reason>,
    /// Version of the policy the attempt was judged under.
    pub policy_version: u64,
    /// The trusted time the attempt was judged at.
    pub evaluated_at: DateTime<Utc>,
    /// Where `evaluated_at` came from; `device_wall` means the device's own, user-adjustable clock.
    pub time_source: TimeSource,
}

/// The rule engine for one policy: the policy plus the indexes built from it once.
///
/// Build one per policy version and keep it; [`Engine::evaluate`] is cheap and does not
/// allocate indexes.
#[derive(Debug)]
pub struct Engine {
    policy: Policy,
    geofences: GeofenceIndex,
    wifi: WifiIndex,
    /// Employee id → (index in `policy.employees`, their site indexes sorted).
    employees: HashMap<String, (usize, Vec<SiteIdx>)>,
}

impl Engine {
    /// Builds the engine for `policy`: its geofence and Wi-Fi indexes and the employees' allowed
    /// sites, once. Keep it for as long as that policy version is in use.
    pub fn new(policy: Policy) -> Engine {
        let geofences = GeofenceIndex::new(&policy);
        let wifi = WifiIndex::new(&policy);
        let employees = policy
            .employees
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut sites = e.sites.clone();
                sites.sort_unstable();
                sites.dedup();
                (e.id.clone(), (i, sites))
            })
            .collect();
        Engine {
            policy,
            geofences,
            wifi,
            employees,
        }
    }

    /// The policy this engine judges by.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Judges one attempt.
    ///
    /// `supplied_now` is a trusted time from the caller (the server's clock, or an auditor's
    /// `--now`); without it, time is reconstructed from the attempt's server anchor and
    /// monotonic clock. A face token's nonce is consumed from `nonces` when its signature,
    /// subject and nonce check out.
    ///
    /// Returns an error only for malformed input (see [`Attempt::validate`]); every judgement
    /// about a well-formed attempt, including an unknown employee, is a [`Verdict`].
    pub fn evaluate(
        &self,
        attempt: &Attempt,
        supplied_now: Option<DateTime<Utc>>,
        nonces: &mut NonceLedger,
    ) -> Result<Verdict, AttemptError> {
        self.evaluate_checked(attempt, supplied_now, nonces, None)
    }

    /// Checks the signature of a face token under this policy's face-matcher keys, ahead of
    /// [`evaluate_checked`](Self::evaluate_checked) (see
    /// [`FaceTokenVerifier::check_signature`]): `None` when it does not verify, in which case
    /// the evaluation checks it again and reports why.
    pub fn check_face_signature(&self, token: &str) -> Option<SignatureChecked> {
        FaceTokenVerifier::for_policy(&self.policy)
            .check_signature(token)
            .ok()
    }

    /// [`evaluate`](Self::evaluate), with the face token's signature already checked by
    /// [`check_face_signature`](Self::check_face_signature) (it is checked again if
    /// `face_checked` is for another token or key). The verdict is the same either way.
    pub fn evaluate_checked(
        &self,
        attempt: &Attempt,
        supplied_now: Option<DateTime<Utc>>,
        nonces: &mut NonceLedger,
        face_checked: Option<&SignatureChecked>,
    ) -> Result<Verdict, AttemptError> {
        attempt.validate()?;
        let time = match supplied_now {
            Some(now) => TrustedTime::supplied(now),
            None => TrustedTime::on_device(&attempt.clock, attempt.anchor.as_ref()),
        };
        let mut findings: Vec<Finding> = Vec::new();
        if time.source == TimeSource::DeviceWall {
            findings.push(Finding::new(
                Code::UntrustedTime,
                "no server time anchor on this boot; times are the device's own until the next sync",
            ));
        }

        let Some((_, allowed)) = self.employees.get(&attempt.employee_id) else {
            findings.push(Finding::new(
                Code::UnknownEmployee,
                format!(
                    "employee {:?} is not in policy version {}",
                    attempt.employee_id, self.policy.version
                ),
            ));
            let location = LocationVerdict::none();
            return Ok(self.conclude(findings, location, None, time));
        };
        let is_allowed = |s: SiteIdx| allowed.binary_search(&s).is_ok();
        let field_kind = attempt.kind == PunchKind::Field;

        // Location: Wi-Fi proves presence on its own; otherwise the fix decides.
        let bssids = attempt.normalized_bssids();
        let wifi = self.wifi.find(&bssids, is_allowed);
        let fix_findings = attempt.fix.as_ref().map(|fix| {
            let mut found = check_fix(
                fix,
                &attempt.clock,
                &attempt.previous,
                &self.policy.thresholds,
            );
            found.extend(check_earlier_fixes(fix, &attempt.more_fixes));
            found
        });
        let location = if let Some(m) = &wifi {
            let site = &self.policy.sites[m.site];
            findings.push(Finding::new(
                Code::WifiMatch,
                format!(
                    "Wi-Fi access point {} of {} is in range",
                    m.bssid, site.name
                ),
            ));
            // With presence proven by Wi-Fi, a vague or old fix no longer matters.
            let mut fix_findings = fix_findings.unwrap_or_default();
            for f in &mut fix_findings {
                if matches!(f.code, Code::PoorAccuracy | Code::StaleFix) {
                    f.severity = Severity::Info;
                }
            }
            findings.extend(fix_findings);
            LocationVerdict {
                presence: Presence::Inside,
                source: LocationSource::Wifi,
                site_id: Some(site.id.clone()),
                site_name: Some(site.name.clone()),
                distance_to_edge_m: None,
                accuracy_m: attempt.fix.as_ref().map(|f| f.accuracy_m),
                tolerance_m: None,
                probability: None,
            }
        } else if let Some(fix) = &attempt.located_fix() {
            findings.extend(fix_findings.unwrap_or_default());
            if allowed.is_empty() {
                findings.push(self.no_site_finding(&attempt.employee_id, field_kind));
                LocationVerdict::none()
            } else {
                let mut found =
                    self.geofences
                        .locate_sites(fix.lon, fix.lat, fix.accuracy_m, allowed);
                let probability = self.presence_probability(fix, &mut found);
                self.location_finding(
                    &found,
                    fix.accuracy_m,
                    probability,
                    field_kind,
                    &mut findings,
                );
                let nearest = found
                    .nearest
                    .map(|n| (&self.policy.sites[n.site], n.signed_distance_m));
                LocationVerdict {
                    presence: found.presence,
                    source: LocationSource::Gps,
                    site_id: nearest.map(|(s, _)| s.id.clone()),
                    site_name: nearest.map(|(s, _)| s.name.clone()),
                    distance_to_edge_m: nearest.map(|(_, d)| round_cm(d)),
                    accuracy_m: Some(fix.accuracy_m),
                    tolerance_m: nearest.map(|(s, _)| s.tolerance_m).filter(|&t| t > 0.0),
                    probability,
                }
            }
        } else {
            if allowed.is_empty() {
                findings.push(self.no_site_finding(&attempt.employee_id, field_kind));
            } else {
                findings.push(Finding::new(
                    Code::NoLocationEvidence,
                    "no location fix and no site Wi-Fi in range; turn on location or connect to the site's Wi-Fi",
                ));
            }
            LocationVerdict::none()
        };

        // Face match.
        let face = self.check_face(attempt, time, nonces, face_checked, &mut findings);
        Ok(self.conclude(findings, location, face, time))
    }

    fn no_site_finding(&self, employee_id: &str, field_kind: bool) -> Finding {
        let mut f = Finding::new(
            Code::NoAssignedSite,
            format!("employee {employee_id:?} has no site to clock in at in this policy"),
        );
        if field_kind {
            f.severity = Severity::Review;
        }
        f
    }

    /// Under the probability rule, the probability that the fix's person is at its nearest
    /// site, with `found.presence` set from the policy's thresholds; `None` (and `found`
    /// as the accuracy-circle rule judged it) otherwise.
    fn presence_probability(&self, fix: &Fix, found: &mut Location) -> Option<f64> {
        let PresenceRule::Probability {
            accept_probability,
            reject_probability,
        } = self.policy.thresholds.presence
        else {
            return None;
        };
        let nearest = found.nearest?;
        let p = self
            .geofences
            .presence_probability(fix.lon, fix.lat, fix.accuracy_m, &nearest)?;
        found.presence = if p >= accept_probability {
            Presence::Inside
        } else if p <= reject_probability {
            Presence::Outside
        } else {
            Presence::Uncertain
        };
        Some(p)
    }

    fn location_finding(
        &self,
        found: &Location,
        accuracy_m: f64,
        probability: Option<f64>,
        field_kind: bool,
        findings: &mut Vec<Finding>,
    ) {
        let Some(nearest) = found.nearest else {
            return;
        };
        let site = &self.policy.sites[nearest.site];
        let name = &site.name;
        let d = nearest.signed_distance_m;
        let mut position = if d <= 0.0 {
            format!("{} inside {name}", human_distance(-d))
        } else {
            format!("{} outside {name}", human_distance(d))
        };
        if d > 0.0 && d <= site.tolerance_m {
            position.push_str(&format!(
                ", within its {} tolerance",
                human_distance(site.tolerance_m)
            ));
        }
        let accuracy = format!("accuracy ±{accuracy_m:.0} m");
        // Under the probability rule every message says how likely; otherwise nothing.
        let likely = probability
            .map(|p| format!(": {} likely there", percent(p)))
            .unwrap_or_default();
        let finding = match found.presence {
            Presence::Inside => Finding::new(
                Code::InsideFence,
                format!("{position}{likely} ({accuracy})"),
            ),
            Presence::Uncertain => {
                let why = match self.policy.thresholds.presence {
                    PresenceRule::Probability {
                        accept_probability,
                        reject_probability,
                    } if probability.is_some() => format!(
                        "{likely}, under the {} needed to accept and over the {} that rejects \
                         ({accuracy})",
                        percent(accept_probability),
                        percent(reject_probability)
                    ),
                    _ => format!(", but the {accuracy} reaches across the fence edge"),
                };
                let mut f = Finding::new(Code::LocationUncertain, format!("{position}{why}"));
                f.severity = self.uncertain_severity(field_kind);
                f
            }
            Presence::Outside => {
                let mut f = Finding::new(
                    Code::OutsideFence,
                    format!("{position}{likely} ({accuracy})"),
                );
                if field_kind {
                    f.severity = Severity::Review;
                }
                f
            }
        };
        findings.push(finding);
    }

    /// What an `uncertain` location does under the policy: a field punch always goes to
    /// review.
    fn uncertain_severity(&self, field_kind: bool) -> Severity {
        match (self.policy.thresholds.uncertain, field_kind) {
            (_, true) | (UncertainAction::FieldPunch, _) => Severity::Review,
            (UncertainAction::Allow, _) => Severity::Info,
            (UncertainAction::Reject, _) => Severity::Reject,
        }
    }

    fn check_face(
        &self,
        attempt: &Attempt,
        time: TrustedTime,
        nonces: &mut NonceLedger,
        checked: Option<&SignatureChecked>,
        findings: &mut Vec<Finding>,
    ) -> Option<FaceVerdict> {
        let Some(face) = &attempt.face else {
            if self.policy.thresholds.face.required {
                findings.push(Finding::new(
                    Code::FaceTokenMissing,
                    "this policy requires a face check for every punch",
                ));
            }
            return None;
        };
        let verifier = FaceTokenVerifier::for_policy(&self.policy);
        let expected = Expected {
            employee_id: &attempt.employee_id,
            nonce: &face.nonce,
            trusted_now: time.now,
        };
        match verifier.verify_checked(&face.token, &expected, nonces, checked) {
            Ok(m) => {
                findings.push(Finding::new(
                    Code::FaceMatched,
                    format!(
                        "face matched by {} (score {:.2}, liveness {:.2})",
                        m.issuer, m.score, m.liveness
                    ),
                ));
                Some(FaceVerdict {
                    kid: m.kid,
                    issuer: m.issuer,
                    score: m.score,
                    liveness: m.liveness,
                    model: m.model,
                })
            }
            Err(e) => {
                let code = e.code();
                let mut f = Finding::new(code, e.to_string());
                // A punch is never rejected on device time alone: without a server anchor,
                // token freshness is judged by the device clock and only flagged for review.
                if time.source == TimeSource::DeviceWall
                    && matches!(
                        code,
                        Code::FaceTokenExpired | Code::FaceTokenNotYetValid | Code::FaceTokenTooOld
                    )
                {
                    f.severity = Severity::Review;
                    f.message.push_str(" (judged by the device clock)");
                }
                findings.push(f);
                None
            }
        }
    }

    fn conclude(
        &self,
        mut findings: Vec<Finding>,
        location: LocationVerdict,
        face: Option<FaceVerdict>,
        time: TrustedTime,
    ) -> Verdict {
        // Most severe first; the order within a severity is the order of discovery.
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let decision = match findings.first().map(|f| f.severity) {
            Some(Severity::Reject) => Decision::Rejected,
            Some(Severity::Review) => Decision::FieldPunch,
            _ => Decision::Accepted,
        };
        Verdict {
            decision,
            location,
            face,
            reasons: findings
                .into_iter()
                .map(|f| Reason {
                    code: f.code,
                    severity: f.severity,
                    message: f.message,
                })
                .collect(),
            policy_version: self.policy.version,
            evaluated_at: time.now,
            time_source: time.source,
        }
    }
}

impl LocationVerdict {
    fn none() -> LocationVerdict {
        LocationVerdict {
            presence: Presence::Outside,
            source: LocationSource::None,
            site_id: None,
            site_name: None,
            distance_to_edge_m: None,
            accuracy_m: None,
            tolerance_m: None,
            probability: None,
        }
    }
}

/// A probability as a percentage for messages: "97.31 %", "100 %", "0 %".
fn percent(p: f64) -> String {
    let text = format!("{:.2}", p * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} %")
}

/// Distances are reported to the centimetre: finer digits are noise, and shorter numbers keep
/// records and logs readable.
fn round_cm(metres: f64) -> f64 {
    (metres * 100.0).round() / 100.0
}
