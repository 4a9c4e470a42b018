//! Where a fix is relative to the allowed fences: the accuracy-aware three-way location
//! verdict, with distances in metres.
//!
//! A fix with accuracy `a` (metres, 68 %) is `Inside` when the whole circle of radius `a`
//! around it lies inside an allowed fence, `Outside` when that circle touches no allowed
//! fence, and `Uncertain` otherwise.
//!
//! [`GeofenceIndex`] is built once per policy and answers for thousands of sites through an
//! R-tree; [`GeofenceIndex::locate_linear`] computes the same answer by scanning every fence
//! and exists as the reference and benchmark baseline.

use crate::policy::{Policy, SiteIdx};

/// The three-way location verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Inside,
    Outside,
    Uncertain,
}

/// The answer for one fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub presence: Presence,
    /// The allowed site that decides the verdict: the one the fix is deepest inside, or else
    /// the nearest. `None` only when the filter allows no site at all.
    pub nearest: Option<SiteDistance>,
}

/// Distance from a fix to one site's nearest fence edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteDistance {
    pub site: SiteIdx,
    /// Metres from the fix to the fence edge: positive outside the fence, negative inside.
    pub signed_distance_m: f64,
}
