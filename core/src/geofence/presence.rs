//! Presence as a probability: how likely it is that the person is inside a fence grown by its
//! site's tolerance, given one fix and its accuracy.
//!
//! # Error model
//!
//! A fix is a position estimate whose error is a circular two-dimensional Gaussian: the true
//! position is `N(fix, σ² I)` in the tangent plane. Phones report accuracy as the radius of
//! 68 % confidence, and for a circular Gaussian `P(|error| ≤ r) = 1 − exp(−r² / 2σ²)`, so
//! `σ = accuracy / √(2 ln(1 / 0.32)) ≈ accuracy / 1.5096`. Accuracies under
//! [`MIN_ACCURACY_M`] are taken as that: no phone in a street knows its place better.
//!
//! # The integral
//!
//! The probability of a polygonal area is computed exactly from its outline (Green's
//! theorem in polar form around the fix): `P = [fix inside] − Σ_edges E(edge)`, where for an
//! edge at perpendicular distance `h` from the fix, seen at angles `φ₁..φ₂` from the foot of
//! the perpendicular, `E = sign · (T(h/σ, tan φ₂) − T(h/σ, tan φ₁))` and `T` is Owen's T
//! function. Rings are oriented with the area on their left (see `grow.rs`), so holes subtract
//! themselves. Each edge's term is computed one of two ways:
//!
//! * an edge that is short as seen from the fix (most chords of a grown corner) by the
//!   6-point Gauss–Legendre rule on the integral that defines `T`, used only where its error
//!   is provably below 5e-14 (see [`gauss_legendre_reach`]);
//! * any other edge by Owen's T itself (the `owens-t` crate, accurate to about 1e-16).
//!
//! Edges farther than [`CUTOFF_SIGMAS`] σ from the fix add less than 1e-16 each and are
//! skipped. Everything is computed with `libm`, so every platform gets the same bits.
//!
//! Worst-case error of the computed probability against the exact integral over the grown
//! polygon: 5e-14 per edge, so below 1e-9 for any fence the policy accepts (at most 20,000
//! positions, grown corners included); the probability is then rounded to four decimals.
//! Against the true grown area, whose rounded corners the polygon draws with chords sagging
//! at most 5 cm inside, the polygon's probability is never higher, and lower by at most the
//! Gaussian mass of the slivers under the chords. `core/tests/presence.rs` compares it with
//! an independent numerical integration over the true area (geodesic geometry, rounded
//! corners): they agree within 1e-3, the reference's own resolution.
//!
//! # Fast answers
//!
//! With `m` the signed distance from the fix to the fence itself and `t` the tolerance, every
//! point within `t − m` of an inside fix is in the grown area, and no point within `m − t`
//! of an outside fix is, so `P ≥ 1 − exp(−(t − m − s)² / 2σ²)` (`s` the 5 cm sag) and
//! `P ≤ exp(−(m − t)² / 2σ²)`. The probability is reported rounded to four decimals, so when
//! these bounds already settle the rounded value (1 or 0) no integral is computed: deep
//! inside or far outside, a presence check costs what the distance check costs.

use super::ellipsoid::Frame;
use super::fence::crosses_east_ray;

/// Accuracies below this are taken as this, metres.
pub const MIN_ACCURACY_M: f64 = 1.0;
/// `√(2 ln(1 / 0.32))`: a 68 % radius over σ for a circular Gaussian.
const RADIUS_68_OVER_SIGMA: f64 = 1.509_592_185_451_663_4;
/// Edges farther than this many σ from the fix are skipped: each would add less than
/// `exp(−CUTOFF²/2) / 4 < 1e-16`.
pub(crate) const CUTOFF_SIGMAS: f64 = 8.6;
/// How far the chords of a grown outline may sag inside the true one, metres.
const SAG_M: f64 = super::grow::SAGITTA_M;
/// Probabilities are reported, and compared with the policy's thresholds, rounded to this
/// many decimals.
pub const PROBABILITY_DECIMALS: i32 = 4;

/// The standard deviation of a fix's error along each axis, from its 68 % accuracy radius.
pub fn sigma_from_accuracy(accuracy_m: f64) -> f64 {
    accuracy_m.max(MIN_ACCURACY_M) / RADIUS_68_OVER_SIGMA
}

/// `p` rounded to [`PROBABILITY_DECIMALS`] decimals.
pub fn round_probability(p: f64) -> f64 {
    let scale = 10f64.powi(PROBABILITY_DECIMALS);
    (p.clamp(0.0, 1.0) * scale).round() / scale
}

/// The rounded probability settled by the distance bounds alone (see the file header), or
/// `None` when only the integral can tell.
pub(crate) fn settled_by_distance(
    signed_distance_m: f64,
    tolerance_m: f64,
    sigma: f64,
) -> Option<f64> {
    let half_unit = 0.5 * 10f64.powi(-PROBABILITY_DECIMALS);
    let m = signed_distance_m;
    if m <= 0.0 {
        let clear = tolerance_m - m - SAG_M;
        if clear > 0.0 && libm::exp(-clear * clear / (2.0 * sigma * sigma)) < half_unit {
            return Some(1.0);
        }
    } else if m > tolerance_m {
        let gap = m - tolerance_m;
        if libm::exp(-gap * gap / (2.0 * sigma * sigma)) < half_unit {
            return Some(0.0);
        }
    }
    None
}

/// The probability mass, under a circular Gaussian of standard deviation `sigma` centred on
/// the origin, on the left of the directed edge `p → q` within the wedge the edge subtends,
/// less the wedge's share of the whole (the edge's term in the outline sum, with its sign).
#[inline]
fn edge_term(p: [f64; 2], q: [f64; 2], sigma: f64) -> f64 {
    let d = [q[0] - p[0], q[1] - p[1]];
    let len = libm::hypot(d[0], d[1]);
    if len == 0.0 {
        return 0.0;
    }
    let u = [d[0] / len, d[1] / len];
    // Signed distance from the fix to the edge's line: positive when the edge runs
    // counter-clockwise around the fix.
    let h = (p[0] * q[1] - p[1] * q[0]) / len;
    if h.abs() < 1e-9 {
        return 0.0;
    }
    let sp = p[0] * u[0] + p[1] * u[1];
    let sq = q[0] * u[0] + q[1] * u[1];
    let k = h.abs() / sigma;
    let (a1, a2) = (sp / h.abs(), sq / h.abs());
    let term = if (a2 - a1) / 2.0 <= gauss_legendre_reach(k) {
        gauss_legendre_term(k, a1, a2)
    } else {
        owens_t::owens_t(k, a2) - owens_t::owens_t(k, a1)
    };
    if h > 0.0 { term } else { -term }
}

/// Nodes and weights of the 6-point Gauss–Legendre rule on [−1, 1].
const GL6: [(f64, f64); 6] = [
    (-0.932_469_514_203_152, 0.171_324_492_379_170_35),
    (-0.661_209_386_466_264_5, 0.360_761_573_048_138_6),
    (-0.238_619_186_083_196_9, 0.467_913_934_572_691_04),
    (0.238_619_186_083_196_9, 0.467_913_934_572_691_04),
    (0.661_209_386_466_264_5, 0.360_761_573_048_138_6),
    (0.932_469_514_203_152, 0.171_324_492_379_170_35),
];

/// The largest half-width, in `tan φ`, of an edge whose term the 6-point rule computes to
/// within 1e-13: a quarter of `b = min(1/2, 1/k)`. Then the integrand of Owen's T,
/// `e^{−k²(1+t²)/2} / (2π (1+t²))`, is analytic and at most `0.36 e^{−k²/2}` on the
/// Bernstein ellipse of parameter ρ = 8 around the edge (its points have imaginary part at
/// most `b`, so `|1 + t²| ≥ 3/4` and `k² Im(t)² ≤ 1`), and the rule's error is at most
/// `(64/15) · M · ρ^−12 / (ρ² − 1)` times the half-width: below 5e-14.
#[inline]
fn gauss_legendre_reach(k: f64) -> f64 {
    let b = if k > 2.0 { 1.0 / k } else { 0.5 };
    b / 4.0
}

/// `T(k, a2) − T(k, a1)` by the 6-point Gauss–Legendre rule (see
/// [`gauss_legendre_reach`] for when it is accurate): short edges far from the fix, most of a
/// grown outline's arcs, cost six exponentials instead of two Owen's T evaluations.
#[inline]
fn gauss_legendre_term(k: f64, a1: f64, a2: f64) -> f64 {
    let mid = (a1 + a2) / 2.0;
    let half = (a2 - a1) / 2.0;
    let k2 = k * k;
    let mut sum = 0.0;
    for (x, w) in GL6 {
        let t = mid + half * x;
        let one_t2 = 1.0 + t * t;
        sum += w * libm::exp(-k2 * one_t2 / 2.0) / one_t2;
    }
    sum * half / std::f64::consts::TAU
}

/// The probability that the true position is inside the area bounded by `rings` (ECEF
/// vertices, each ring closed and oriented with the area on its left), for a fix at
/// `frame` with error `sigma`. Exact to below 1e-9 (see the file header); not rounded.
pub(crate) fn area_probability<'a>(
    frame: &Frame,
    rings: impl Iterator<Item = &'a [[f64; 3]]>,
    sigma: f64,
) -> f64 {
    let cutoff2 = (CUTOFF_SIGMAS * sigma) * (CUTOFF_SIGMAS * sigma);
    let mut inside = false;
    let mut sum = 0.0;
    for ring in rings {
        let Some(first) = ring.first() else {
            continue;
        };
        let mut p = frame.east_north(&frame.rel(first));
        for v in &ring[1..] {
            let q = frame.east_north(&frame.rel(v));
            if crosses_east_ray(p, q) {
                inside = !inside;
            }
            if segment_distance2(p, q) < cutoff2 {
                sum += edge_term(p, q, sigma);
            }
            p = q;
        }
    }
    (f64::from(u8::from(inside)) - sum).clamp(0.0, 1.0)
}

/// Squared distance from the origin to the segment `p`–`q` in the plane.
#[inline]
fn segment_distance2(p: [f64; 2], q: [f64; 2]) -> f64 {
    let w = [q[0] - p[0], q[1] - p[1]];
    let ww = w[0] * w[0] + w[1] * w[1];
    let pw = p[0] * w[0] + p[1] * w[1];
    let t = if ww == 0.0 {
        0.0
    } else {
        (-pw / ww).clamp(0.0, 1.0)
    };
    let r = [p[0] + t * w[0], p[1] + t * w[1]];
    r[0] * r[0] + r[1] * r[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slow, independent integration of the same Gaussian over a polygon given in the
    /// fix's plane: for each of `n` directions, the ray's crossings with the outline are found
    /// and the radial integral `(e^{−r₁²/2σ²} − e^{−r₂²/2σ²}) / 2π` taken over each stretch
    /// inside, summed with the midpoint rule in angle.
    pub(crate) fn reference(polygon: &[Vec<[f64; 2]>], sigma: f64, n: usize) -> f64 {
        let mut total = 0.0;
        for i in 0..n {
            let theta = (i as f64 + 0.5) / n as f64 * std::f64::consts::TAU;
            let dir = [theta.cos(), theta.sin()];
            let mut hits: Vec<f64> = Vec::new();
            for ring in polygon {
                for pair in ring.windows(2) {
                    let (a, b) = (pair[0], pair[1]);
                    let e = [b[0] - a[0], b[1] - a[1]];
                    let den = dir[0] * e[1] - dir[1] * e[0];
                    if den.abs() < 1e-15 {
                        continue;
                    }
                    let r = (a[0] * e[1] - a[1] * e[0]) / den;
                    let s = (a[0] * dir[1] - a[1] * dir[0]) / den;
                    if r > 0.0 && (0.0..1.0).contains(&s) {
                        hits.push(r);
                    }
                }
            }
            hits.sort_by(f64::total_cmp);
            // Inside at the origin when an odd number of crossings lie ahead.
            let mut inside = hits.len() % 2 == 1;
            let mut from = 0.0f64;
            let g = |r: f64| (-r * r / (2.0 * sigma * sigma)).exp();
            for &r in &hits {
                if inside {
                    total += g(from) - g(r);
                }
                inside = !inside;
                from = r;
            }
            if inside {
                total += g(from);
            }
        }
        total / n as f64
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<[f64; 2]> {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    }

    /// The outline sum over plane rings (the ECEF-free core of [`area_probability`]).
    fn plane_probability(rings: &[Vec<[f64; 2]>], sigma: f64) -> f64 {
        let mut inside = false;
        let mut sum = 0.0;
        for ring in rings {
            for pair in ring.windows(2) {
                let (p, q) = (pair[0], pair[1]);
                if crosses_east_ray(p, q) {
                    inside = !inside;
                }
                sum += edge_term(p, q, sigma);
            }
        }
        (f64::from(u8::from(inside)) - sum).clamp(0.0, 1.0)
    }

    fn erf_product(x0: f64, y0: f64, x1: f64, y1: f64, sigma: f64) -> f64 {
        let phi = |x: f64| 0.5 * (1.0 + libm::erf(x / (sigma * std::f64::consts::SQRT_2)));
        (phi(x1) - phi(x0)) * (phi(y1) - phi(y0))
    }

    #[test]
    fn a_rectangle_matches_the_closed_form_product_of_error_functions() {
        for (x0, y0, x1, y1, sigma) in [
            (-20.0, -15.0, 25.0, 20.0, 10.0),
            (5.0, -3.0, 40.0, 60.0, 7.0),
            (-100.0, -100.0, -30.0, 80.0, 26.5),
            (-0.5, -0.5, 0.5, 0.5, 3.0),
            (30.0, 30.0, 31.0, 90.0, 2.0),
        ] {
            let p = plane_probability(&[rect(x0, y0, x1, y1)], sigma);
            let exact = erf_product(x0, y0, x1, y1, sigma);
            assert!((p - exact).abs() < 1e-13, "{p} vs {exact}");
        }
    }

    #[test]
    fn orientation_and_holes_are_handled_by_the_outline_orientation() {
        // A clockwise hole inside a counter-clockwise exterior: the frame's probability less
        // the hole's.
        let outer = rect(-50.0, -40.0, 60.0, 45.0);
        let mut hole = rect(-10.0, -10.0, 15.0, 12.0);
        hole.reverse();
        let p = plane_probability(&[outer, hole], 12.0);
        let exact = erf_product(-50.0, -40.0, 60.0, 45.0, 12.0)
            - erf_product(-10.0, -10.0, 15.0, 12.0, 12.0);
        assert!((p - exact).abs() < 1e-13, "{p} vs {exact}");
    }

    #[test]
    fn an_irregular_polygon_agrees_with_slow_numerical_integration() {
        // An L-shape with the fix near its reflex corner, and a thin sliver far from it.
        let l_shape = vec![
            [-20.0, -10.0],
            [25.0, -12.0],
            [27.0, 6.0],
            [3.0, 4.0],
            [4.0, 30.0],
            [-18.0, 28.0],
            [-20.0, -10.0],
        ];
        for sigma in [2.0, 6.6, 15.0, 40.0] {
            let p = plane_probability(std::slice::from_ref(&l_shape), sigma);
            let r = reference(std::slice::from_ref(&l_shape), sigma, 200_000);
            assert!((p - r).abs() < 2e-6, "σ {sigma}: {p} vs {r}");
        }
    }

    #[test]
    fn the_distance_bounds_only_settle_what_the_integral_would_round_the_same() {
        // A 40 m square around the fix at various offsets: whenever the bound settles, the
        // integral rounds to the same value.
        for offset in [-200.0, -60.0, -20.0, 0.0, 15.0, 45.0, 80.0, 300.0] {
            for sigma in [1.0, 5.0, 13.0, 40.0] {
                let square = rect(offset - 20.0, -20.0, offset + 20.0, 20.0);
                let exact = plane_probability(&[square], sigma);
                let m = if offset.abs() < 20.0 {
                    -(20.0 - offset.abs())
                } else {
                    offset.abs() - 20.0
                };
                if let Some(settled) = settled_by_distance(m, 0.0, sigma) {
                    assert_eq!(
                        settled,
                        round_probability(exact),
                        "offset {offset}, σ {sigma}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_short_edge_rule_agrees_with_owens_t_wherever_it_is_used() {
        let mut worst = 0.0f64;
        for i in 0..=400 {
            let k = 0.01 + i as f64 * 0.0215;
            let reach = gauss_legendre_reach(k);
            for j in 0..=40 {
                let mid = -30.0 + j as f64 * 1.5;
                for half in [reach, reach / 3.0, reach / 50.0] {
                    let (a1, a2) = (mid - half, mid + half);
                    let rule = gauss_legendre_term(k, a1, a2);
                    let exact = owens_t::owens_t(k, a2) - owens_t::owens_t(k, a1);
                    worst = worst.max((rule - exact).abs());
                }
            }
        }
        // The bound is 5e-14; Owen's T itself is good to about 1e-16 per evaluation.
        assert!(worst < 5e-14, "{worst:e}");
    }

    #[test]
    fn sigma_follows_the_68_percent_convention() {
        let sigma = sigma_from_accuracy(15.0);
        let inside_radius = 1.0 - (-(15.0f64 * 15.0) / (2.0 * sigma * sigma)).exp();
        assert!((inside_radius - 0.68).abs() < 1e-12);
        assert_eq!(
            sigma_from_accuracy(0.2),
            sigma_from_accuracy(MIN_ACCURACY_M)
        );
    }
}
