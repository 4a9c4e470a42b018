//! Where a fix is relative to the allowed fences: the accuracy-aware three-way location
//! verdict, with distances in metres.
//!
//! A fix with accuracy `a` (metres, 68 %) is `Inside` when the whole circle of radius `a`
//! around it lies inside an allowed fence, `Outside` when that circle touches no allowed
//! fence, and `Uncertain` otherwise. With `s_f` the signed distance from the fix to fence
//! `f`'s boundary (negative inside; a point in a hole is outside, and its distance is to the
//! nearest ring), that is: `Inside` iff some allowed `s_f ≤ −a`, `Outside` iff every allowed
//! `s_f > a`. Both depend only on the minimum `m` of `s_f`, so every search computes `m` and
//! the site it belongs to, and the verdict is `m ≤ −a`, `m > a`, or neither.
//!
//! [`GeofenceIndex`] is built once per policy and answers for thousands of sites through an
//! R-tree; [`GeofenceIndex::locate_linear`] computes the same answer by scanning every fence
//! and exists as the reference and benchmark baseline.
//!
//! # Method
//!
//! Fences are prepared once: polygon edges (straight in lon/lat, as RFC 7946 says) are
//! densified to pieces of at most 300 m, and every vertex is converted to WGS-84 ECEF. A query
//! converts the fix to ECEF and builds the tangent frame there (one `sin_cos` for latitude, one
//! for longitude). The distance to a fence is the 3-D distance from the fix to the nearest
//! chord of its boundary, turned into an arc on the mean sphere; the sign comes from an
//! even-odd test in the tangent plane. No trigonometry per vertex. Against GeographicLib's
//! geodesics this is within 5 mm for fences up to 5 km across and fixes within a few
//! kilometres (up to 70° latitude); the contract, tested by property tests, is 0.5 m.
//!
//! Why the 3-D chord rather than the distance in the fix's east/north plane: the two agree to
//! a millimetre at these ranges, but only the chord is provably never shorter than the
//! distance from the fix to the fence's ECEF box, so the index can skip fences exactly,
//! without a fudge for projection error; and the chord stays meaningful at any range, so the
//! nearest allowed site is named correctly even when it is in another city.
//!
//! The R-tree holds each fence's ECEF box, at least 1 m larger than the fence. The distance
//! from the fix to a box is a strict lower bound on the distance to any fence in it that does
//! not contain the fix, so a nearest-first descent of the tree skips every box farther than
//! the best signed distance found so far. See `fence.rs` and `index.rs` for the details and `docs/geofence.md`
//! for the limits (fences must not cross the ±180° meridian or contain a pole).
//!
//! * `ellipsoid`: WGS-84, ECEF, the local frame, chord to arc.
//! * `fence`: prepared fences and the exact signed distance to one fence.
//! * `index`: the searches and the verdict.

mod ellipsoid;
mod fence;
pub(crate) mod grow;
mod index;
pub mod presence;
#[cfg(test)]
mod tests;

pub use index::GeofenceIndex;

use crate::policy::SiteIdx;

/// The three-way location verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// The whole accuracy circle lies inside an allowed fence.
    Inside,
    /// The accuracy circle touches no allowed fence.
    Outside,
    /// The accuracy circle straddles the edge of an allowed fence.
    Uncertain,
}

/// The answer for one fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The verdict.
    pub presence: Presence,
    /// The allowed site that decides the verdict: the one the fix is deepest inside, or else
    /// the nearest (ties go to the lower site index). `None` only when the filter allows no
    /// site at all, or when the fix is not a valid coordinate.
    pub nearest: Option<SiteDistance>,
}

/// Distance from a fix to one site's nearest fence edge. A site with several fences takes the
/// smallest signed distance over them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteDistance {
    /// The site, as an index into the policy's sites.
    pub site: SiteIdx,
    /// Metres from the fix to the fence edge: positive outside the fence, negative inside.
    pub signed_distance_m: f64,
}
