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
//! # The integral over a polygon
//!
//! The probability of a polygonal area (a polygon fence grown by its tolerance, see
//! `grow.rs`) is computed exactly from its outline (Green's theorem in polar form around the
//! fix): `P = [fix inside] − Σ_edges E(edge)`, where for an edge at perpendicular distance `h`
//! from the fix, seen at angles `φ₁..φ₂` from the foot of the perpendicular,
//! `E = sign · (T(h/σ, tan φ₂) − T(h/σ, tan φ₁))` and `T` is Owen's T function. Rings are
//! oriented with the area on their left (see `grow.rs`), so holes subtract themselves. Each
//! edge's term is computed one of two ways:
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
//! # The integral over a disc
//!
//! A circle fence of radius `r` grown by `t` is the disc of radius `R = r + t`, and no outline
//! is drawn for it: with `d` the distance from the fix to the centre (measured as the signed
//! distance measures it), `a = d/σ`, `b = R/σ` and `δ = (R − d)/σ` (from the metres, so
//! exact at the edge), the probability is `1 − Q₁(a, b)`, `Q₁` the Marcum Q function (the
//! noncentral chi-square distribution with two degrees of freedom), computed by
//! `disc_probability` one of two ways:
//!
//! * `ab ≥ 100`, the **half-plane form**. The periodic integral
//!   `Q₁ = [a > b] + (1/2π) ∫_{−π}^{π} (b² − ab cos φ) / D · e^{−D/2} dφ`,
//!   `D = a² + b² − 2ab cos φ` (Simon & Alouini's, after Pawula, written as one form for
//!   `a < b` and `a > b`), with `w = √(2ab) sin(φ/2)`,
//!   splits into a pole at `w = ±iδ/√2`, integrated in closed form with `erfc`, and an
//!   analytic rest:
//!   `1 − Q₁ = Φ(δ) − 2 e^{−δ²/2} / (π √(2ab)) · ∫₀^{√(2ab)} e^{−w²} g(w²) dw` with
//!   `g(ω) = 1/(2√A) + κ / (2ab (√A + √B) √A √B)`, `A = 1 − ω/2ab`, `B = 1 + δ²/4ab`,
//!   `κ = δ(a + b)/4`: the probability of the half-plane at the fix's depth, less a correction
//!   for the edge's curvature. Nothing cancels and nothing is near a pole: `δ → 0` and
//!   `a = b` are ordinary points. The correction's integral takes the 16-point Gauss–Hermite rule. `g` is
//!   analytic for `|ω| < 2ab` and at most `M = (1 + |δ|/2√(ab))/√2` on `|ω| = ab`, so its
//!   Taylor coefficients are at most `M/(ab)ᵏ`; the rule is exact on its Taylor polynomial
//!   of degree 15, and what is left (the Taylor remainder on `ω ≤ ab/2` and at the nodes, all
//!   below 22, `e^{−ab/2}` times the polynomial and `g` beyond) adds less than 1e-17 to the
//!   probability for `ab ≥ 100`. With `erfc` and the rest rounded, the error is below 1e-15.
//! * `ab < 100`, the **Poisson series** `1 − Q₁ = Σₖ e^{−x} xᵏ/k! · P(k + 1, y)`,
//!   `x = a²/2`, `y = b²/2`, `P` the regularised incomplete gamma function, rearranged so that
//!   every term is positive (see `disc_series`) and summed over the Poisson terms of the
//!   smaller of `x` and `y` (below 50) to `⌈m + 8√m + 20⌉`: the terms left off add less than
//!   2e-18 (Chernoff's bound). At most 128 terms, each through at most 6 roundings per index
//!   (the Poisson terms by repeated multiplication, the cumulative sums, the products), plus
//!   the final sum: within `8 · 128 · 2^{−53} < 1.2e-13` of the exact value, relatively.
//!
//! A fix more than 37 σ outside the disc gets 0 (the true value is below 3e-298). So the
//! disc's probability is within 2e-13 of `1 − Q₁` everywhere (the series' worst case; the
//! half-plane form's is 1e-15); the unit tests find it within 1e-15 of an independent
//! numerical integration over a grid from the centre to 60 σ out, up to `R = 10⁵ σ` and a
//! billionth of the radius from the edge. It costs one `erfc`, one
//! `exp` and eight square roots near the edge of any circle up to the policy's 20 km limit,
//! whatever the fix's accuracy. Against the true grown circle the only error is the
//! distance's (millimetres: chord to arc on the mean sphere).
//!
//! # Fast answers
//!
//! With `m` the signed distance from the fix to the fence itself and `t` the tolerance, every
//! point within `t − m` of an inside fix is in the grown area, and no point within `m − t`
//! of an outside fix is, so `P ≥ 1 − exp(−(t − m − s)² / 2σ²)` (`s` the 5 cm sag of a grown
//! polygon's chords; a grown circle has none, and the allowance only makes its bound safer) and
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

/// Nodes `x²` and weights of the positive half of the 16-point Gauss–Hermite rule (weight
/// `e^{−x²}` on the real line): `∫₀^∞ e^{−w²} g(w²) dw ≈ Σ wᵢ g(xᵢ²)`, exact when `g` is a
/// polynomial of degree at most 15.
const GAUSS_HERMITE_16: [(f64, f64); 8] = [
    (0.074_791_882_596_818_27, 0.507_929_479_016_613_7),
    (0.677_249_087_649_289_2, 0.280_647_458_528_533_7),
    (1.905_113_635_031_428_4, 0.083_810_041_398_985_83),
    (3.809_476_361_484_907, 0.012_880_311_535_509_974),
    (6.483_145_428_627_17, 0.000_932_284_008_624_180_5),
    (10.093_323_675_221_343, 2.711_860_092_537_881_5e-5),
    (14.972_627_088_426_394, 2.320_980_844_865_210_7e-7),
    (21.984_272_840_962_65, 2.654_807_474_011_182_4e-10),
];

/// From this product `ab` of the disc's distance and radius in σ, [`disc_probability`] uses
/// the half-plane form with the Gauss–Hermite rule; below it, the Poisson series.
const DISC_SERIES_BELOW: f64 = 100.0;

/// A fix farther than this many σ outside a disc is inside it with probability 0: the true
/// value is below `e^{−37²/2} < 3e-298`, and returning 0 keeps every intermediate value of
/// the methods below out of the subnormal range.
const DISC_FAR_SIGMAS: f64 = 37.0;

/// The probability that the true position is inside a disc of radius `radius_m` whose centre
/// is `distance_m` from the fix, for an error of standard deviation `sigma` along each axis:
/// `1 − Q₁(a, b)`, `Q₁` the Marcum Q function, `a = d/σ`, `b = R/σ`. Absolute error below
/// 2e-13 (see the file header); every function used is from `libm`.
pub(crate) fn disc_probability(distance_m: f64, radius_m: f64, sigma: f64) -> f64 {
    let a = distance_m.max(0.0) / sigma;
    let b = radius_m.max(0.0) / sigma;
    // The fix's depth inside the disc in σ, from the metres: exact where a ≈ b.
    let delta = (radius_m.max(0.0) - distance_m.max(0.0)) / sigma;
    if delta < -DISC_FAR_SIGMAS {
        // Every point of the disc is more than 37 σ away: P ≤ e^{−δ²/2} < 3e-298.
        return 0.0;
    }
    let ab = a * b;
    let p = if ab >= DISC_SERIES_BELOW {
        disc_half_plane_form(a, b, delta)
    } else {
        disc_series(a, b)
    };
    p.clamp(0.0, 1.0)
}

/// `1 − Q₁(a, b)` for `ab ≥ 100` as the half-plane probability `Φ(δ)` less a correction for the
/// disc's curvature, `δ = b − a` (see the file header for the derivation and the bound).
fn disc_half_plane_form(a: f64, b: f64, delta: f64) -> f64 {
    let two_ab = 2.0 * a * b;
    // κ = δ (a + b) / 4, and √B = √(1 + δ²/4ab) = (a + b) / 2√(ab).
    let kappa = delta * (a + b) / 4.0;
    let sqrt_b = libm::sqrt(1.0 + delta * delta / (2.0 * two_ab));
    let mut sum = 0.0;
    for (omega, weight) in GAUSS_HERMITE_16 {
        let sqrt_a = libm::sqrt(1.0 - omega / two_ab);
        let g = 0.5 / sqrt_a + kappa / (two_ab * (sqrt_a + sqrt_b) * sqrt_a * sqrt_b);
        sum += weight * g;
    }
    let correction =
        2.0 / (std::f64::consts::PI * libm::sqrt(two_ab)) * libm::exp(-delta * delta / 2.0) * sum;
    // Φ(δ) = erfc(−δ/√2) / 2.
    0.5 * libm::erfc(-delta / std::f64::consts::SQRT_2) - correction
}

/// `1 − Q₁(a, b)` for `ab < 100` by the Poisson series (see the file header): with
/// `x = a²/2`, `y = b²/2` and `pₖ(μ) = e^{−μ} μᵏ/k!`,
/// `1 − Q₁ = Σⱼ pⱼ(y) Σ_{k<j} pₖ(x)` and `Q₁ = Σₖ pₖ(x) Σ_{j≤k} pⱼ(y)`; the first is summed
/// when `x ≥ y` (the fix on or outside the edge), the second when `x < y`, each over the
/// Poisson terms of the smaller mean `m`, to `⌈m + 8√m + 20⌉`. Every term is positive, so
/// both sums are accurate relative to their value, however small.
fn disc_series(a: f64, b: f64) -> f64 {
    let x = a * a / 2.0;
    let y = b * b / 2.0;
    if x >= y {
        poisson_series(y, x, false)
    } else {
        1.0 - poisson_series(x, y, true)
    }
}

/// `Σₖ pₖ(outer) · Σ_{j≤k} pⱼ(inner)` (`j < k` unless `inclusive`), `pₖ(μ) = e^{−μ} μᵏ/k!`,
/// to `k = ⌈outer + 8√outer + 20⌉`; the terms left off add at most the Poisson tail
/// `P(N > k)` of mean `outer`, below 2e-18 by Chernoff's bound `e^{−μ} (eμ/k)ᵏ` for any
/// `outer < 50`.
fn poisson_series(outer: f64, inner: f64, inclusive: bool) -> f64 {
    let last = libm::ceil(outer + 8.0 * libm::sqrt(outer) + 20.0) as usize;
    // Outside the disc `inner = x` may reach 784 (a ≤ b + 37 with ab < 100), where e^{−x}
    // underflows: the inner terms are then carried scaled by e^{shift}, undone at the end.
    let shift = if inclusive {
        0.0
    } else {
        (inner - 600.0).max(0.0)
    };
    let mut p_outer = libm::exp(-outer);
    let mut p_inner = libm::exp(shift - inner);
    let mut cumulative = 0.0;
    let mut sum = 0.0;
    for k in 1..=last + 1 {
        if inclusive {
            cumulative += p_inner;
            sum += p_outer * cumulative;
        } else {
            sum += p_outer * cumulative;
            cumulative += p_inner;
        }
        let kf = k as f64;
        p_outer *= outer / kf;
        p_inner *= inner / kf;
    }
    if shift > 0.0 {
        sum * libm::exp(-shift)
    } else {
        sum
    }
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

    /// A slow, independent integration of the Gaussian over a disc of radius `b` whose centre
    /// is `a` from the fix (both in σ, `delta = b − a` given exactly): the disc cut into chords
    /// perpendicular to the line from the fix to its centre, at `y = b sin t` from that line,
    /// each chord's mass a difference of two normal CDFs (`b cos t − a` taken as
    /// `delta − 2b sin²(t/2)`), summed over `t` by the trapezoid rule: over the whole period
    /// for a small disc (the integrand, continued by `f(π − t) = f(t)`, is periodic and
    /// entire), and for a large one over the chords within 40 σ of the line, beyond which the
    /// integrand is below 1e-300.
    fn disc_reference(a: f64, b: f64, delta: f64, n: usize) -> f64 {
        let cdf = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
        let f = |t: f64| {
            let (s, c) = (t.sin(), t.cos());
            let half = (t / 2.0).sin();
            let y = b * s;
            let density = (-y * y / 2.0).exp() / (std::f64::consts::TAU).sqrt();
            let chord = cdf(delta - 2.0 * b * half * half) - cdf(-(a + b * c));
            b * c * density * chord
        };
        if b <= 40.0 {
            let h = std::f64::consts::TAU / n as f64;
            compensated_sum((0..n).map(|j| f(-std::f64::consts::PI + j as f64 * h))) * h / 2.0
        } else {
            let reach = (40.0 / b).asin();
            let h = 2.0 * reach / n as f64;
            compensated_sum((0..=n).map(|j| f(-reach + j as f64 * h))) * h
        }
    }

    /// Kahan's compensated sum.
    fn compensated_sum(terms: impl Iterator<Item = f64>) -> f64 {
        let (mut sum, mut carry) = (0.0f64, 0.0f64);
        for t in terms {
            let y = t - carry;
            let next = sum + y;
            carry = (next - sum) - y;
            sum = next;
        }
        sum
    }

    /// Distances from the centre, in σ, for a disc of radius `b` σ: the centre, tiny, inside,
    /// a billionth of the radius either side of the edge, near the edge, far outside (where the
    /// probability underflows), and either side of the switch between the two methods.
    fn disc_cases(b: f64) -> Vec<f64> {
        let mut cases = vec![
            0.0,
            1e-9,
            0.5 * b,
            b * (1.0 - 1e-9),
            b,
            b * (1.0 + 1e-9),
            2.0 * b,
        ];
        for off in [
            -8.0, -3.0, -1.0, -0.3, 0.3, 1.0, 3.0, 8.0, 20.0, 30.0, 36.9, 40.0, 60.0,
        ] {
            cases.push(b + off);
        }
        if b > 0.0 {
            cases.push(DISC_SERIES_BELOW / b * (1.0 - 1e-12));
            cases.push(DISC_SERIES_BELOW / b);
        }
        cases.retain(|a| *a >= 0.0);
        cases
    }

    #[test]
    fn the_disc_probability_agrees_with_slow_integration() {
        let mut worst = 0.0f64;
        let sigma = 1.0 / RADIUS_68_OVER_SIGMA;
        for b in [
            0.0, 1e-9, 1e-3, 0.5, 1.0, 3.0, 8.0, 9.9, 10.1, 14.0, 30.0, 100.0, 1e3, 1e4, 1e5,
        ] {
            let radius = b * sigma;
            for a in disc_cases(b) {
                let distance = a * sigma;
                let got = disc_probability(distance, radius, sigma);
                let delta = (radius - distance) / sigma;
                let expected = disc_reference(distance / sigma, radius / sigma, delta, 4000);
                let coarser = disc_reference(distance / sigma, radius / sigma, delta, 2000);
                // The reference has converged.
                assert!(
                    (expected - coarser).abs() < 1e-15,
                    "a {a}, b {b}: {expected} vs {coarser}"
                );
                let err = (got - expected).abs();
                assert!(err < 1e-13, "a {a}, b {b}: {got} vs {expected} ({err:e})");
                worst = worst.max(err);
            }
        }
        println!("worst disc error against the reference: {worst:e}");
    }

    #[test]
    fn the_disc_probability_agrees_with_slow_integration_at_random_points() {
        // Radii and distances spread over ab from 1 to 10⁴ (the switch between the methods
        // at 100), half of them within a few percent of the edge.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut uniform = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let sigma = 3.7;
        for i in 0..300 {
            let ab = 10f64.powf(4.0 * uniform());
            let ratio = if i % 2 == 0 {
                10f64.powf(2.0 * uniform() - 1.0)
            } else {
                1.0 + 0.05 * (2.0 * uniform() - 1.0)
            };
            let b = (ab / ratio).sqrt();
            let a = ab / b;
            let (distance, radius) = (a * sigma, b * sigma);
            let got = disc_probability(distance, radius, sigma);
            let delta = (radius - distance) / sigma;
            let expected = disc_reference(distance / sigma, radius / sigma, delta, 4000);
            assert!(
                (got - expected).abs() < 1e-13,
                "a {a}, b {b}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn the_disc_probability_at_the_centre_is_the_closed_form() {
        for b in [1e-6, 0.1, 1.0, 5.0, 9.99, 10.0, 12.0, 40.0, 1e3, 1e5] {
            let sigma = 2.5;
            let got = disc_probability(0.0, b * sigma, sigma);
            let exact = -libm::expm1(-b * b / 2.0);
            assert!((got - exact).abs() < 1e-15, "b {b}: {got} vs {exact}");
        }
    }

    #[test]
    fn the_disc_probability_falls_with_distance_and_underflows_far_out() {
        let sigma = 1.0 / RADIUS_68_OVER_SIGMA;
        for b in [
            0.3,
            5.0,
            10.3,
            10.0 * std::f64::consts::SQRT_2,
            50.0,
            1e4,
            3e4,
        ] {
            let radius = b * sigma;
            let far = radius + 45.0 * sigma;
            // From the centre to far outside, and finely across the edge.
            let sweeps = [
                (0.0, far),
                ((radius - 15.0 * sigma).max(0.0), radius + 15.0 * sigma),
            ];
            for (from, to) in sweeps {
                let steps = 4000;
                let mut last = disc_probability(from, radius, sigma);
                for i in 1..=steps {
                    let distance = from + (to - from) * i as f64 / steps as f64;
                    let p = disc_probability(distance, radius, sigma);
                    assert!(p <= last, "b {b}, d {distance}: {p} after {last}");
                    last = p;
                }
            }
            assert_eq!(disc_probability(far, radius, sigma), 0.0, "b {b}");
            if b > 40.0 {
                assert_eq!(disc_probability(radius - 40.0 * sigma, radius, sigma), 1.0);
            }
        }
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
