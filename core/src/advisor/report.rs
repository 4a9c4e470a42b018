//! What the advisor reports: per site, the predicted outcomes for honest staff and for people
//! standing outside, and the tolerance it suggests.

use serde::{Serialize, Serializer};

use super::accuracy::AccuracyModel;
use crate::verdict::Decision;

/// How many simulated punches ended each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcomes {
    /// Accepted as ordinary punches.
    pub accepted: u32,
    /// Recorded as field punches that a reviewer must approve.
    pub reviewed: u32,
    /// Rejected.
    pub rejected: u32,
}

impl Outcomes {
    /// Counts one decision.
    pub fn add(&mut self, decision: Decision) {
        match decision {
            Decision::Accepted => self.accepted += 1,
            Decision::FieldPunch => self.reviewed += 1,
            Decision::Rejected => self.rejected += 1,
        }
    }

    /// Adds another set of counts to this one.
    pub fn merge(&mut self, other: &Outcomes) {
        self.accepted += other.accepted;
        self.reviewed += other.reviewed;
        self.rejected += other.rejected;
    }

    /// Number of simulated punches.
    pub fn samples(&self) -> u32 {
        self.accepted + self.reviewed + self.rejected
    }

    fn share(&self, n: u32) -> f64 {
        match self.samples() {
            0 => 0.0,
            total => f64::from(n) / f64::from(total),
        }
    }

    /// Share accepted, 0..=1 (0 when there were no samples).
    pub fn accepted_share(&self) -> f64 {
        self.share(self.accepted)
    }

    /// Share sent to review, 0..=1.
    pub fn reviewed_share(&self) -> f64 {
        self.share(self.reviewed)
    }

    /// Share rejected, 0..=1.
    pub fn rejected_share(&self) -> f64 {
        self.share(self.rejected)
    }
}

impl Serialize for Outcomes {
    /// Counts and percentages: `{"samples", "accepted", "reviewed", "rejected",
    /// "accepted_pct", "reviewed_pct", "rejected_pct"}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown {
            samples: u32,
            accepted: u32,
            reviewed: u32,
            rejected: u32,
            accepted_pct: f64,
            reviewed_pct: f64,
            rejected_pct: f64,
        }
        let pct = |x: f64| (x * 10_000.0).round() / 100.0;
        Shown {
            samples: self.samples(),
            accepted: self.accepted,
            reviewed: self.reviewed,
            rejected: self.rejected,
            accepted_pct: pct(self.accepted_share()),
            reviewed_pct: pct(self.reviewed_share()),
            rejected_pct: pct(self.rejected_share()),
        }
        .serialize(s)
    }
}

/// Outcomes of people standing a given distance outside a site.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OutsideRing {
    /// How far outside the fence edge they stood, metres.
    pub distance_m: f64,
    /// What happened to their punches.
    pub outcomes: Outcomes,
}

/// Predicted outcomes at one site under one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteRates {
    /// Honest staff standing inside the site's fences.
    pub honest: Outcomes,
    /// People standing outside, one entry per distance of
    /// [`OUTSIDER_DISTANCES_M`](super::OUTSIDER_DISTANCES_M).
    pub outside: Vec<OutsideRing>,
}

impl SiteRates {
    /// The outcomes of people standing `distance_m` outside, if that ring was simulated.
    pub fn outside_at(&self, distance_m: f64) -> Option<&Outcomes> {
        self.outside
            .iter()
            .find(|r| r.distance_m == distance_m)
            .map(|r| &r.outcomes)
    }
}

/// What the tolerance search found for a site.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ToleranceAdvice {
    /// The smallest tolerance that meets every target, and the rates it gives.
    Suggested {
        /// The site's suggested `tolerance_m`, metres.
        tolerance_m: f64,
        /// Predicted outcomes with that tolerance.
        rates: SiteRates,
    },
    /// No tolerance up to `tried_up_to_m` meets the targets: GPS cannot tell this site's
    /// inside from its outside well enough; prove presence by Wi-Fi.
    NoneMeetsTargets {
        /// The largest tolerance tried, metres.
        tried_up_to_m: f64,
    },
    /// The policy's location rule has no site tolerance (the policy parser refused
    /// `tolerance_m`); only the current rates are reported.
    Unsupported {
        /// The parser's reason, for the record.
        reason: String,
    },
}

/// The advisor's findings for one site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FenceReport {
    /// The site's id in the policy.
    pub site_id: String,
    /// The site's display name.
    pub site_name: String,
    /// Predicted outcomes under the policy as written (face check off, no Wi-Fi).
    pub current: SiteRates,
    /// The suggested tolerance, or why there is none.
    pub tolerance: ToleranceAdvice,
    /// GPS alone cannot place staff in this fence reliably: no tolerance meets the targets,
    /// or (when the rule has no tolerance) fewer honest punches than
    /// [`AdvisorConfig::gps_unusable_below`](super::AdvisorConfig::gps_unusable_below) are
    /// accepted as the policy stands. Give the site a Wi-Fi allow-list.
    pub too_small_for_gps: bool,
    /// How many Wi-Fi access points the site's allow-list has (0: none, so GPS is its only
    /// evidence of presence).
    pub wifi_access_points: usize,
}

/// The advisor's report for a whole policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvisorReport {
    /// The error model in one sentence, for people reading the report.
    pub error_model: String,
    /// The accuracy distribution the simulated phones reported from.
    pub accuracy: AccuracyModel,
    /// Share of honest punches that were stationary network-provider repeats.
    pub network_repeat_share: f64,
    /// The seed; the same seed, policy and settings give the same report on every machine.
    pub seed: u64,
    /// Samples requested per site and population (honest, and each outside distance).
    pub samples_per_site: u32,
    /// One report per site, in policy order.
    pub sites: Vec<FenceReport>,
    /// All sites together, under the policy as written.
    pub overall: SiteRates,
}
