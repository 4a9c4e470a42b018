//! Fusing the fixes of one punch attempt into one position estimate, conservatively.
//!
//! While the face check runs, a phone collects a few fixes in as many seconds. They are not
//! independent measurements: fixes taken seconds apart share the same satellites, the same
//! multipath off the same towers and the same Wi-Fi/cell database answer, so their errors are
//! strongly correlated. Averaging n of them does **not** make the estimate √n times better, and
//! this module never claims it does.
//!
//! # The model
//!
//! Each fix is a position estimate whose error is a circular 2-D Gaussian; its `accuracy_m`
//! is the radius holding 68 % of that error (the Android and iOS convention), so its standard
//! deviation per axis is `σ = accuracy_m / 1.5096` (for a circular Gaussian,
//! `P(r ≤ R) = 1 − exp(−R² / 2σ²)`, and 0.68 gives `R = 1.5096 σ`). Only ratios of variances
//! are used below, so the factor cancels.
//!
//! [`fuse`] takes the latest fix and the earlier fixes of the same attempt and:
//!
//! 1. **Leaves out** an earlier fix that
//!    * came from a mock provider ([`LeftOutReason::Mock`]; the evaluator also reports
//!      `mock_location` for it, see `check_earlier_fixes` in the spoofing module);
//!    * has non-finite or out-of-range coordinates, or an accuracy that is not a finite number
//!      above 0 m ([`LeftOutReason::Implausible`]);
//!    * is dated after the latest fix ([`LeftOutReason::NotEarlier`]);
//!    * is more than [`MAX_FUSION_AGE_MS`] (30 s) older than the latest fix
//!      ([`LeftOutReason::TooOld`]): the person may have walked since;
//!    * is inconsistent with the latest fix: the geodesic distance between them is more than the
//!      sum of their accuracy radii, i.e. their 68 % circles do not even touch
//!      ([`LeftOutReason::Inconsistent`]): one of them is an outlier, and the latest wins.
//!
//!    Ages are measured on the monotonic clock when both fixes carry a reading (the fixes of
//!    one attempt are on one boot), otherwise on their wall-clock times. The latest fix is always
//!    used.
//! 2. **Position**: the inverse-variance weighted mean of the used fixes, weight
//!    `1 / max(accuracy_m, 1 m)²`, computed in a local east/north plane around the latest fix
//!    (metres per degree from the WGS-84 radii of curvature at the latest fix's latitude). The
//!    used fixes lie within the sum of two accuracy radii of the latest one, so the plane's
//!    distortion is far below the accuracies involved (a relative error of order
//!    distance / 6 400 km: millimetres for fixes 100 m apart).
//! 3. **Accuracy**: the *best* (smallest) accuracy among the used fixes, never smaller, and
//!    inflated to cover the spread of the fixes: `max(best accuracy, RMS distance of the used
//!    fixes from the fused position)`. Fully correlated fixes are no better than the best of
//!    them; fixes that disagree make the estimate worse, not better.
//!
//! One fix fuses to itself exactly, bit for bit. The result does not depend on the order of
//! the earlier fixes (they are summed in a canonical order), so the phone and the server, which
//! may hold the fixes in different orders, get the same bits. No randomness, no iteration.

use std::cmp::Ordering;

use geo::{Distance, Geodesic, Point};
use serde::{Deserialize, Serialize};

use super::Fix;

/// An earlier fix more than this many milliseconds older than the latest one is left out.
pub const MAX_FUSION_AGE_MS: i64 = 30_000;

/// Accuracies below this many metres weigh as this many in the weighted mean, so that a fix
/// claiming 0 m (which the spoofing checks flag) cannot take an infinite weight.
const MIN_WEIGHT_ACCURACY_M: f64 = 1.0;

/// WGS-84 semi-major axis, metres.
const WGS84_A: f64 = 6_378_137.0;
/// WGS-84 first eccentricity squared.
const WGS84_E2: f64 = 6.694_379_990_141_316e-3;

/// Metres per degree of latitude and of longitude at `lat` degrees on the WGS-84 ellipsoid
/// (meridional radius of curvature, and the prime-vertical radius times `cos(lat)`).
fn metres_per_degree(lat: f64) -> (f64, f64) {
    let (sin, cos) = lat.to_radians().sin_cos();
    let w2 = 1.0 - WGS84_E2 * sin * sin;
    let w = w2.sqrt();
    let meridional = WGS84_A * (1.0 - WGS84_E2) / (w2 * w);
    let prime_vertical = WGS84_A / w;
    let per_radian = std::f64::consts::PI / 180.0;
    (meridional * per_radian, prime_vertical * cos * per_radian)
}

/// The fixes of one attempt fused into one position estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusedFix {
    /// Fused latitude, WGS-84 degrees.
    pub lat: f64,
    /// Fused longitude, WGS-84 degrees, in -180..=180.
    pub lon: f64,
    /// Fused accuracy radius in metres at 68 % confidence: never below the best accuracy of the
    /// fixes used, and at least the RMS distance of those fixes from the fused position.
    pub accuracy_m: f64,
    /// How many fixes the estimate uses, the latest one included (at least 1).
    pub used: usize,
    /// The earlier fixes that were left out, by their index in the `more` slice given to
    /// [`fuse`], in index order.
    pub left_out: Vec<LeftOut>,
}

/// An earlier fix that [`fuse`] left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Index of the fix in the `more` slice given to [`fuse`].
    pub index: usize,
    /// Why it was left out.
    pub reason: LeftOutReason,
}

/// Why an earlier fix was not fused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum LeftOutReason {
    /// The platform flagged the fix as coming from a mock provider.
    Mock,
    /// Coordinates not finite or out of range, or an accuracy that is not a finite number above
    /// 0 m: no real receiver reports it.
    Implausible,
    /// The fix is dated after the latest fix, so it is not an earlier fix.
    NotEarlier {
        /// How far after the latest fix, in milliseconds.
        after_ms: i64,
    },
    /// The fix is more than [`MAX_FUSION_AGE_MS`] older than the latest fix.
    TooOld {
        /// How much older than the latest fix, in milliseconds.
        age_ms: i64,
    },
    /// The fix is farther from the latest fix than their two accuracy radii together.
    Inconsistent {
        /// Geodesic distance between the two fixes, metres.
        distance_m: f64,
        /// The sum of the two accuracy radii, metres.
        allowed_m: f64,
    },
}

impl std::fmt::Display for LeftOutReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeftOutReason::Mock => f.write_str("from a mock location provider"),
            LeftOutReason::Implausible => f.write_str("implausible coordinates or accuracy"),
            LeftOutReason::NotEarlier { after_ms } => {
                write!(f, "dated {after_ms} ms after the latest fix")
            }
            LeftOutReason::TooOld { age_ms } => write!(
                f,
                "{age_ms} ms older than the latest fix (at most {MAX_FUSION_AGE_MS} ms)"
            ),
            LeftOutReason::Inconsistent {
                distance_m,
                allowed_m,
            } => write!(
                f,
                "{distance_m:.0} m from the latest fix, beyond their accuracies ({allowed_m:.0} m)"
            ),
        }
    }
}

/// Fuses the latest fix of an attempt with the earlier fixes of the same attempt; see the module
/// documentation for the model. Pure and deterministic; never panics, whatever the input.
///
/// The latest fix is always used as it is; if it is itself unusable (non-finite or out-of-range
/// coordinates, or an accuracy that is not a finite, non-negative number), nothing is fused and
/// the result is the latest fix with every earlier fix left out as [`LeftOutReason::Implausible`]
/// against it. (Validated attempts never carry such a fix.)
pub fn fuse(latest: &Fix, more: &[Fix]) -> FusedFix {
    let mut left_out = Vec::new();
    let latest_usable =
        plausible_position(latest) && latest.accuracy_m.is_finite() && latest.accuracy_m >= 0.0;
    let mut used: Vec<&Fix> = Vec::with_capacity(more.len());
    for (index, fix) in more.iter().enumerate() {
        let reason = if !latest_usable {
            Some(LeftOutReason::Implausible)
        } else {
            leave_out(latest, fix)
        };
        match reason {
            Some(reason) => left_out.push(LeftOut { index, reason }),
            None => used.push(fix),
        }
    }
    if used.is_empty() {
        return FusedFix {
            lat: latest.lat,
            lon: latest.lon,
            accuracy_m: latest.accuracy_m,
            used: 1,
            left_out,
        };
    }
    // A canonical order, so that the floating-point sums do not depend on the caller's order.
    used.sort_by(|a, b| canonical_order(a, b));

    let (k_lat, k_lon) = metres_per_degree(latest.lat);
    let plane = |fix: &Fix| -> (f64, f64) {
        let east = if k_lon > 1e-9 {
            wrap_degrees(fix.lon - latest.lon) * k_lon
        } else {
            0.0
        };
        (east, (fix.lat - latest.lat) * k_lat)
    };
    let weight = |fix: &Fix| 1.0 / fix.accuracy_m.max(MIN_WEIGHT_ACCURACY_M).powi(2);

    // The latest fix sits at the origin of the plane.
    let mut sum_w = weight(latest);
    let (mut sum_e, mut sum_n) = (0.0, 0.0);
    let mut best = latest.accuracy_m;
    let points: Vec<(f64, f64)> = used.iter().map(|f| plane(f)).collect();
    for (fix, &(e, n)) in used.iter().zip(&points) {
        let w = weight(fix);
        sum_w += w;
        sum_e += w * e;
        sum_n += w * n;
        best = best.min(fix.accuracy_m);
    }
    let (mean_e, mean_n) = (sum_e / sum_w, sum_n / sum_w);

    let mut sum_sq = mean_e * mean_e + mean_n * mean_n; // the latest fix, at the origin
    for &(e, n) in &points {
        sum_sq += (e - mean_e).powi(2) + (n - mean_n).powi(2);
    }
    let count = used.len() + 1;
    let rms = (sum_sq / count as f64).sqrt();

    let lat = (latest.lat + mean_n / k_lat).clamp(-90.0, 90.0);
    let lon = if k_lon > 1e-9 {
        wrap_degrees(latest.lon + mean_e / k_lon)
    } else {
        latest.lon
    };
    FusedFix {
        lat,
        lon,
        accuracy_m: best.max(rms),
        used: count,
        left_out,
    }
}

/// Why `fix` is not fused with `latest`, or `None` when it is.
fn leave_out(latest: &Fix, fix: &Fix) -> Option<LeftOutReason> {
    if fix.mock {
        return Some(LeftOutReason::Mock);
    }
    if !plausible_position(fix) || !fix.accuracy_m.is_finite() || fix.accuracy_m <= 0.0 {
        return Some(LeftOutReason::Implausible);
    }
    let age_ms = age_ms(latest, fix);
    if age_ms < 0 {
        return Some(LeftOutReason::NotEarlier {
            after_ms: age_ms.saturating_neg(),
        });
    }
    if age_ms > MAX_FUSION_AGE_MS {
        return Some(LeftOutReason::TooOld { age_ms });
    }
    let distance_m = Geodesic.distance(
        Point::new(latest.lon, latest.lat),
        Point::new(fix.lon, fix.lat),
    );
    let allowed_m = latest.accuracy_m + fix.accuracy_m;
    if distance_m.is_nan() || distance_m > allowed_m {
        return Some(LeftOutReason::Inconsistent {
            distance_m,
            allowed_m,
        });
    }
    None
}

/// How much older `fix` is than `latest`, in milliseconds (negative: dated after it).
/// Monotonic readings when both have one, else wall-clock times; saturating.
fn age_ms(latest: &Fix, fix: &Fix) -> i64 {
    match (latest.monotonic_ms, fix.monotonic_ms) {
        (Some(l), Some(f)) => i64::try_from(i128::from(l) - i128::from(f)).unwrap_or(if l > f {
            i64::MAX
        } else {
            i64::MIN
        }),
        _ => (latest.time - fix.time).num_milliseconds(),
    }
}

fn plausible_position(fix: &Fix) -> bool {
    fix.lat.is_finite()
        && fix.lon.is_finite()
        && (-90.0..=90.0).contains(&fix.lat)
        && (-180.0..=180.0).contains(&fix.lon)
}

/// A difference of longitudes, or a longitude, brought into -180..=180.
fn wrap_degrees(mut d: f64) -> f64 {
    if d > 180.0 {
        d -= 360.0;
    } else if d < -180.0 {
        d += 360.0;
    }
    d
}

/// A total order on fixes over every field: equal only for identical fixes.
fn canonical_order(a: &Fix, b: &Fix) -> Ordering {
    a.time
        .cmp(&b.time)
        .then(a.monotonic_ms.cmp(&b.monotonic_ms))
        .then(a.lat.total_cmp(&b.lat))
        .then(a.lon.total_cmp(&b.lon))
        .then(a.accuracy_m.total_cmp(&b.accuracy_m))
        .then(a.mock.cmp(&b.mock))
        .then(a.provider.cmp(&b.provider))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;

    const T0: &str = "2026-11-26T01:00:00Z";

    fn t0() -> DateTime<Utc> {
        T0.parse().unwrap()
    }

    /// A fix `east_m`/`north_m` metres from Causeway Bay, taken `ms_before` before T0.
    fn fix(east_m: f64, north_m: f64, accuracy_m: f64, ms_before: i64) -> Fix {
        let lat0: f64 = 22.2800;
        let (k_lat, k_lon) = metres_per_degree(lat0);
        Fix {
            lat: lat0 + north_m / k_lat,
            lon: 114.1838 + east_m / k_lon,
            accuracy_m,
            time: t0() - Duration::milliseconds(ms_before),
            monotonic_ms: Some((1_000_000 - ms_before) as u64),
            mock: false,
            provider: Some("fused".into()),
        }
    }

    fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
        Geodesic.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
    }

    #[test]
    fn one_fix_fuses_to_itself_exactly() {
        let latest = fix(3.0, -7.0, 12.5, 0);
        let fused = fuse(&latest, &[]);
        assert_eq!(fused.lat.to_bits(), latest.lat.to_bits());
        assert_eq!(fused.lon.to_bits(), latest.lon.to_bits());
        assert_eq!(fused.accuracy_m.to_bits(), latest.accuracy_m.to_bits());
        assert_eq!(fused.used, 1);
        assert!(fused.left_out.is_empty());
    }

    #[test]
    fn identical_positions_keep_the_best_accuracy_and_do_not_shrink_it() {
        // Three fixes at one spot: a naive average would claim 10/√3 ≈ 5.8 m.
        let latest = fix(0.0, 0.0, 10.0, 0);
        let more = [fix(0.0, 0.0, 10.0, 1_000), fix(0.0, 0.0, 10.0, 2_000)];
        let fused = fuse(&latest, &more);
        assert_eq!(fused.used, 3);
        assert!((fused.lat - latest.lat).abs() < 1e-12);
        assert!((fused.lon - latest.lon).abs() < 1e-12);
        assert_eq!(fused.accuracy_m, 10.0);
    }

    #[test]
    fn positions_weigh_by_inverse_variance() {
        // 10 m apart; accuracies 20 m and 10 m: weights 1/400 and 1/100, so the fused point is
        // 8 m from the latest, 2 m from the better fix.
        let latest = fix(0.0, 0.0, 20.0, 0);
        let better = fix(10.0, 0.0, 10.0, 3_000);
        let fused = fuse(&latest, std::slice::from_ref(&better));
        assert_eq!(fused.used, 2);
        let from_latest = distance((latest.lat, latest.lon), (fused.lat, fused.lon));
        let from_better = distance((better.lat, better.lon), (fused.lat, fused.lon));
        assert!((from_latest - 8.0).abs() < 0.01, "{from_latest}");
        assert!((from_better - 2.0).abs() < 0.01, "{from_better}");
        // RMS spread sqrt((8² + 2²) / 2) ≈ 5.8 m is below the best accuracy, 10 m.
        assert_eq!(fused.accuracy_m, 10.0);
    }

    #[test]
    fn spread_inflates_the_accuracy() {
        // Two 5 m fixes 9 m apart (consistent: 9 ≤ 5 + 5): fused midway, RMS 4.5 m < 5 m.
        let fused = fuse(&fix(0.0, 0.0, 5.0, 0), &[fix(9.0, 0.0, 5.0, 1_000)]);
        assert_eq!(fused.accuracy_m, 5.0);
        // A sharp 3 m fix 30 m from a vague 30 m one (consistent: 30 ≤ 33). Weights 1/9 and
        // 1/900 put the fused point 29.70 m from the vague fix; the RMS spread,
        // sqrt((29.70² + 0.30²) / 2) ≈ 21.0 m, is the accuracy, not the sharp fix's 3 m.
        let fused = fuse(&fix(0.0, 0.0, 30.0, 0), &[fix(30.0, 0.0, 3.0, 1_000)]);
        assert_eq!(fused.used, 2);
        let e = 30.0 * 100.0 / 101.0;
        let expected = ((e * e + (30.0 - e) * (30.0 - e)) / 2.0f64).sqrt();
        assert!(
            (fused.accuracy_m - expected).abs() < 0.01,
            "{} vs {expected}",
            fused.accuracy_m
        );
        assert!(fused.accuracy_m > 20.0);
    }

    #[test]
    fn fixes_whose_circles_do_not_touch_the_latest_are_left_out() {
        // Latest at 9.5 m north; three 5 m fixes 13.4 m and 19 m away: all beyond 5 + 5 m.
        let latest = fix(0.0, 9.5, 5.0, 0);
        let more = [
            fix(9.5, 0.0, 5.0, 1_000),
            fix(0.0, -9.5, 5.0, 2_000),
            fix(-9.5, 0.0, 5.0, 3_000),
        ];
        let fused = fuse(&latest, &more);
        assert_eq!(fused.used, 1);
        assert_eq!((fused.lat, fused.lon), (latest.lat, latest.lon));
        assert_eq!(fused.left_out.len(), 3);
        assert!(
            fused
                .left_out
                .iter()
                .all(|l| matches!(l.reason, LeftOutReason::Inconsistent { allowed_m, .. } if allowed_m == 10.0))
        );
    }

    #[test]
    fn accuracy_covers_the_spread_of_wide_fixes() {
        // 40 m accuracies, three fixes 30 m apart in a line: RMS from the mean is
        // sqrt((30² + 0 + 30²) / 3) ≈ 24.5 m < 40 m; with 20 m fixes 30 m apart, 24.5 > 20.
        let latest = fix(0.0, 0.0, 20.0, 0);
        let more = [fix(30.0, 0.0, 20.0, 1_000), fix(-30.0, 0.0, 20.0, 2_000)];
        let fused = fuse(&latest, &more);
        assert_eq!(fused.used, 3);
        let expected = (1800.0f64 / 3.0).sqrt();
        assert!(
            (fused.accuracy_m - expected).abs() < 0.01,
            "{} vs {expected}",
            fused.accuracy_m
        );
    }

    #[test]
    fn old_mock_implausible_later_and_inconsistent_fixes_are_left_out() {
        let latest = fix(0.0, 0.0, 10.0, 0);
        let mut mock = fix(1.0, 0.0, 3.0, 1_000);
        mock.mock = true;
        let old = fix(1.0, 0.0, 3.0, 30_001);
        let later = fix(1.0, 0.0, 3.0, -5);
        let far = fix(25.0, 0.0, 10.0, 1_000);
        let zero = fix(1.0, 0.0, 0.0, 1_000);
        let edge = fix(0.0, 0.0, 4.0, 30_000); // exactly 30 s old: used
        let fused = fuse(&latest, &[mock, old, later, far, zero, edge]);
        let reasons: Vec<_> = fused.left_out.iter().map(|l| (l.index, l.reason)).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert_eq!(reasons[0], (0, LeftOutReason::Mock));
        assert_eq!(reasons[1], (1, LeftOutReason::TooOld { age_ms: 30_001 }));
        assert_eq!(reasons[2], (2, LeftOutReason::NotEarlier { after_ms: 5 }));
        assert!(matches!(
            reasons[3],
            (3, LeftOutReason::Inconsistent { distance_m, allowed_m })
                if (distance_m - 25.0).abs() < 0.01 && allowed_m == 20.0
        ));
        assert_eq!(reasons[4], (4, LeftOutReason::Implausible));
        assert_eq!(fused.used, 2);
        assert_eq!(fused.accuracy_m, 4.0);
    }

    #[test]
    fn without_monotonic_readings_ages_come_from_the_wall_clock() {
        let latest = fix(0.0, 0.0, 10.0, 0);
        let mut old = fix(1.0, 0.0, 3.0, 45_000);
        old.monotonic_ms = None;
        let fused = fuse(&latest, &[old]);
        assert_eq!(
            fused.left_out[0].reason,
            LeftOutReason::TooOld { age_ms: 45_000 }
        );
    }

    #[test]
    fn fixes_across_the_antimeridian_fuse_near_it() {
        let mut latest = fix(0.0, 0.0, 10.0, 0);
        latest.lon = 179.99995;
        let mut other = fix(0.0, 0.0, 10.0, 1_000);
        other.lon = -179.99995;
        let fused = fuse(&latest, &[other]);
        assert_eq!(fused.used, 2);
        assert!(fused.lon.abs() > 179.9999, "{}", fused.lon);
        assert!((-180.0..=180.0).contains(&fused.lon));
    }

    #[test]
    fn an_unusable_latest_fix_is_returned_as_it_is() {
        let mut latest = fix(0.0, 0.0, 10.0, 0);
        latest.lat = f64::NAN;
        let fused = fuse(&latest, &[fix(0.0, 0.0, 10.0, 1_000)]);
        assert!(fused.lat.is_nan());
        assert_eq!(fused.used, 1);
        assert_eq!(fused.left_out[0].reason, LeftOutReason::Implausible);
    }

    fn arb_fix() -> impl Strategy<Value = Fix> {
        (
            -60.0..60.0f64,
            -60.0..60.0f64,
            1.0..80.0f64,
            0i64..40_000,
            any::<bool>(),
            prop::sample::select(vec!["gps", "network", "fused"]),
        )
            .prop_map(|(e, n, acc, before, mono, provider)| {
                let mut f = fix(e, n, acc, before);
                if !mono {
                    f.monotonic_ms = None;
                }
                f.provider = Some(provider.into());
                f
            })
    }

    proptest! {
        #[test]
        fn fused_accuracy_is_never_below_the_best_used_accuracy(
            latest in arb_fix(),
            more in prop::collection::vec(arb_fix(), 0..8),
        ) {
            let mut latest = latest;
            latest.time = t0();
            latest.monotonic_ms = Some(1_000_000);
            let fused = fuse(&latest, &more);
            let left: Vec<usize> = fused.left_out.iter().map(|l| l.index).collect();
            let best = more
                .iter()
                .enumerate()
                .filter(|(i, _)| !left.contains(i))
                .map(|(_, f)| f.accuracy_m)
                .fold(latest.accuracy_m, f64::min);
            prop_assert_eq!(fused.used, 1 + more.len() - left.len());
            prop_assert!(fused.accuracy_m >= best, "{} < {}", fused.accuracy_m, best);
            prop_assert!(fused.accuracy_m.is_finite());
            // The fused point is a weighted mean: never farther from the latest fix than the
            // farthest fix used (up to the local plane's tiny distortion).
            let farthest = more
                .iter()
                .enumerate()
                .filter(|(i, _)| !left.contains(i))
                .map(|(_, f)| distance((latest.lat, latest.lon), (f.lat, f.lon)))
                .fold(0.0, f64::max);
            let moved = distance((latest.lat, latest.lon), (fused.lat, fused.lon));
            prop_assert!(moved <= farthest * 1.001 + 1e-6, "{} > {}", moved, farthest);
        }

        #[test]
        fn a_lone_fix_fuses_to_itself_bit_for_bit(latest in arb_fix()) {
            let fused = fuse(&latest, &[]);
            prop_assert_eq!(fused.lat.to_bits(), latest.lat.to_bits());
            prop_assert_eq!(fused.lon.to_bits(), latest.lon.to_bits());
            prop_assert_eq!(fused.accuracy_m.to_bits(), latest.accuracy_m.to_bits());
        }

        #[test]
        fn the_order_of_earlier_fixes_does_not_matter(
            latest in arb_fix(),
            more in prop::collection::vec(arb_fix(), 0..8),
            seed in any::<u64>(),
        ) {
            let mut latest = latest;
            latest.time = t0();
            latest.monotonic_ms = Some(1_000_000);
            let a = fuse(&latest, &more);
            let mut shuffled = more.clone();
            let mut rng = fastrand::Rng::with_seed(seed);
            rng.shuffle(&mut shuffled);
            let b = fuse(&latest, &shuffled);
            prop_assert_eq!(a.lat.to_bits(), b.lat.to_bits());
            prop_assert_eq!(a.lon.to_bits(), b.lon.to_bits());
            prop_assert_eq!(a.accuracy_m.to_bits(), b.accuracy_m.to_bits());
            prop_assert_eq!(a.used, b.used);
            let mut ra: Vec<String> = a.left_out.iter().map(|l| l.reason.to_string()).collect();
            let mut rb: Vec<String> = b.left_out.iter().map(|l| l.reason.to_string()).collect();
            ra.sort();
            rb.sort();
            prop_assert_eq!(ra, rb);
        }
    }
}
