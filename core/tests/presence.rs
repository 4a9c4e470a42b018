//! The presence probability against an independent, slow integration.
//!
//! The reference knows nothing of the engine's grown outlines, ECEF frames or Owen's T: it
//! places the fence's vertices around the fix with GeographicLib (azimuthal equidistant, exact
//! to millimetres at these ranges), decides for each point whether it is inside the fence or
//! within the tolerance of its outline by plain planar geometry, and integrates the circular
//! Gaussian of the documented error model in polar coordinates (720 directions, 5 cm radial
//! steps). Its own error is a few 1e-4 near an edge, so agreement within 1e-3 shows the
//! engine's integral, growing and projection are right; the engine's documented error is far
//! smaller. Cases: the example's L-shaped store and its depot circle, and random star-shaped
//! fences (reflex corners, edges shorter than the tolerance) in Hong Kong, Sydney, London and
//! Singapore, each with tolerances from 0 to 25 m. They come from a seeded generator, so the
//! test is the same on every run.

use daka_core::geofence::GeofenceIndex;
use daka_core::geofence::presence::sigma_from_accuracy;
use daka_core::policy::Policy;
use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};

/// The Causeway Bay store's L-shaped outline and the Kwai Chung depot's 150 m circle, from
/// `examples/hk-policy.json`, under the probability rule with tolerances.
fn policy(store_tolerance: f64, depot_tolerance: f64) -> Policy {
    let doc = serde_json::json!({
        "version": 1,
        "org": {"id": "hl", "name": "Harbour Lane"},
        "thresholds": {"presence": {"rule": "probability"}},
        "sites": [
            {"id": "cwb", "name": "Causeway Bay Store", "tolerance_m": store_tolerance,
             "fences": [{"type": "Polygon", "coordinates": [STORE]}]},
            {"id": "kc", "name": "Kwai Chung Depot", "tolerance_m": depot_tolerance,
             "fences": [{"center": DEPOT_CENTRE, "radius_m": 150}]}
        ],
        "employees": [{"id": "E1", "name": "Chan", "sites": ["cwb", "kc"]}]
    });
    Policy::from_json(&doc.to_string()).unwrap()
}

const STORE: [[f64; 2]; 7] = [
    [114.1828704, 22.279945],
    [114.1833126, 22.2798872],
    [114.1833369, 22.2800481],
    [114.1832215, 22.2800632],
    [114.1832378, 22.2801705],
    [114.1829109, 22.2802132],
    [114.1828704, 22.279945],
];
const DEPOT_CENTRE: [f64; 2] = [114.13152, 22.35683];

/// A point `distance` metres from `from` ([lon, lat]) towards `azimuth` degrees.
fn walk(from: [f64; 2], azimuth: f64, distance: f64) -> [f64; 2] {
    let (lat, lon, _) = Geodesic::wgs84().direct(from[1], from[0], azimuth, distance);
    [lon, lat]
}

/// `p` ([lon, lat]) in the fix's azimuthal-equidistant plane, metres east and north.
fn plane(fix: [f64; 2], p: [f64; 2]) -> [f64; 2] {
    let (s12, azi1, _, _) = Geodesic::wgs84().inverse(fix[1], fix[0], p[1], p[0]);
    let a = azi1.to_radians();
    [s12 * a.sin(), s12 * a.cos()]
}

fn distance_to_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let ab = [b[0] - a[0], b[1] - a[1]];
    let ap = [p[0] - a[0], p[1] - a[1]];
    let len2 = ab[0] * ab[0] + ab[1] * ab[1];
    let t = ((ap[0] * ab[0] + ap[1] * ab[1]) / len2).clamp(0.0, 1.0);
    let d = [ap[0] - t * ab[0], ap[1] - t * ab[1]];
    (d[0] * d[0] + d[1] * d[1]).sqrt()
}

fn inside_polygon(p: [f64; 2], ring: &[[f64; 2]]) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// The slow reference: the Gaussian mass of {inside the area or within `tolerance` of it}.
fn reference(member: impl Fn([f64; 2]) -> bool, sigma: f64) -> f64 {
    const DIRECTIONS: usize = 720;
    const STEP: f64 = 0.05;
    let reach = 7.0 * sigma;
    let mut total = 0.0;
    for i in 0..DIRECTIONS {
        let theta = (i as f64 + 0.5) / DIRECTIONS as f64 * std::f64::consts::TAU;
        let (s, c) = theta.sin_cos();
        let mut r = 0.0;
        while r < reach {
            let mid = r + STEP / 2.0;
            if member([mid * c, mid * s]) {
                let g = |x: f64| (-x * x / (2.0 * sigma * sigma)).exp();
                total += g(r) - g(r + STEP);
            }
            r += STEP;
        }
    }
    total / DIRECTIONS as f64
}

fn engine_probability(index: &GeofenceIndex, fix: [f64; 2], accuracy: f64, site: usize) -> f64 {
    let location = index.locate_sites(fix[0], fix[1], accuracy, &[site]);
    let nearest = location.nearest.expect("a site is allowed");
    index
        .presence_probability(fix[0], fix[1], accuracy, &nearest)
        .expect("the probability rule prepares the grown outlines")
}

/// A seeded generator (SplitMix64), so every run checks the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn the_store_probability_agrees_with_slow_integration_near_and_across_its_edges() {
    let centroid = [114.18310, 22.28005];
    let mut rng = Rng(14);
    for tolerance in [0.0, 8.0, 20.0] {
        let policy = policy(tolerance, 0.0);
        let index = GeofenceIndex::new(&policy);
        for _ in 0..4 {
            let fix = walk(centroid, rng.next() * 360.0, rng.next() * 60.0);
            let accuracy = 4.0 + rng.next() * 36.0;
            let sigma = sigma_from_accuracy(accuracy);
            let ring: Vec<[f64; 2]> = STORE.iter().map(|&v| plane(fix, v)).collect();
            let member = |p: [f64; 2]| {
                inside_polygon(p, &ring)
                    || ring
                        .windows(2)
                        .any(|w| distance_to_segment(p, w[0], w[1]) <= tolerance)
            };
            let expected = reference(member, sigma);
            let got = engine_probability(&index, fix, accuracy, 0);
            assert!(
                (got - expected).abs() < 1e-3,
                "tolerance {tolerance} m, fix {fix:?} ±{accuracy:.1} m: engine {got}, reference {expected}"
            );
        }
    }
}

#[test]
fn the_depot_probability_agrees_with_slow_integration() {
    let mut rng = Rng(150);
    for tolerance in [0.0, 25.0] {
        let policy = policy(0.0, tolerance);
        let index = GeofenceIndex::new(&policy);
        for _ in 0..3 {
            let fix = walk(DEPOT_CENTRE, rng.next() * 360.0, 120.0 + rng.next() * 70.0);
            let accuracy = 5.0 + rng.next() * 30.0;
            let sigma = sigma_from_accuracy(accuracy);
            let centre = plane(fix, DEPOT_CENTRE);
            let radius = 150.0 + tolerance;
            let member = |p: [f64; 2]| {
                let d = [p[0] - centre[0], p[1] - centre[1]];
                (d[0] * d[0] + d[1] * d[1]).sqrt() <= radius
            };
            let expected = reference(member, sigma);
            let got = engine_probability(&index, fix, accuracy, 1);
            assert!(
                (got - expected).abs() < 1e-3,
                "tolerance {tolerance} m, fix {fix:?} ±{accuracy:.1} m: engine {got}, reference {expected}"
            );
        }
    }
}

#[test]
fn deep_inside_and_far_outside_are_certain_and_the_probability_falls_with_distance() {
    let policy = policy(20.0, 0.0);
    let index = GeofenceIndex::new(&policy);
    let centroid = [114.18310, 22.28005];
    assert_eq!(engine_probability(&index, centroid, 5.0, 0), 1.0);
    assert_eq!(
        engine_probability(&index, walk(centroid, 0.0, 300.0), 15.0, 0),
        0.0
    );
    let mut last = 1.0;
    for metres in (0..=120).step_by(10) {
        let p = engine_probability(&index, walk(centroid, 10.0, f64::from(metres)), 15.0, 0);
        assert!(p <= last, "{metres} m: {p} after {last}");
        last = p;
    }
    assert!(last < 0.01, "{last}");
}

/// A star-shaped outline (a simple polygon, with reflex corners) of `n` vertices around
/// `centre`, radii 20 to 120 m, as [lon, lat] positions, closed.
fn star(rng: &mut Rng, centre: [f64; 2], n: usize) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let azimuth = (i as f64 + 0.3 * rng.next()) / n as f64 * 360.0;
            walk(centre, azimuth, 20.0 + 100.0 * rng.next())
        })
        .collect();
    ring.push(ring[0]);
    ring
}

/// Random star-shaped fences at several latitudes, grown by random tolerances, fixes at
/// random places around their edges and random accuracies: the engine's probability agrees
/// with the slow integration over the true grown area, and the three searches name the same
/// site and distance (so the phone, which searches its employee's site list, and a server
/// or auditor searching the whole policy, compute the same probability).
#[test]
fn random_fences_agree_with_slow_integration() {
    let mut rng = Rng(2026);
    for case in 0..12 {
        let centre = [
            114.0 + rng.next(),
            [22.3, -33.9, 51.5, 1.3][case % 4] + rng.next() * 0.1,
        ];
        let n = 5 + (rng.next() * 9.0) as usize;
        let outline = star(&mut rng, centre, n);
        let tolerance = [0.0, 7.5, 25.0][case % 3];
        let doc = serde_json::json!({
            "version": 1,
            "org": {"id": "o", "name": "O"},
            "thresholds": {"presence": {"rule": "probability"}},
            "sites": [{"id": "s", "name": "S", "tolerance_m": tolerance,
                       "fences": [{"type": "Polygon", "coordinates": [outline]}]}],
            "employees": [{"id": "E1", "name": "E", "sites": ["s"]}]
        });
        let policy = Policy::from_json(&doc.to_string()).unwrap();
        let index = GeofenceIndex::new(&policy);
        // A fix near a random vertex of the outline, within about 40 m of it.
        let vertex = outline[(rng.next() * n as f64) as usize];
        let fix = walk(vertex, rng.next() * 360.0, rng.next() * 40.0);
        let accuracy = 3.0 + rng.next() * 37.0;
        let sigma = sigma_from_accuracy(accuracy);

        let by_list = index.locate_sites(fix[0], fix[1], accuracy, &[0]);
        assert_eq!(index.locate(fix[0], fix[1], accuracy, |_| true), by_list);
        assert_eq!(
            index.locate_linear(fix[0], fix[1], accuracy, |_| true),
            by_list
        );

        let ring: Vec<[f64; 2]> = outline.iter().map(|&v| plane(fix, v)).collect();
        let member = |p: [f64; 2]| {
            inside_polygon(p, &ring)
                || ring
                    .windows(2)
                    .any(|w| distance_to_segment(p, w[0], w[1]) <= tolerance)
        };
        let expected = reference(member, sigma);
        let got = engine_probability(&index, fix, accuracy, 0);
        assert!(
            (got - expected).abs() < 1e-3,
            "case {case}: {n}-point star at {centre:?}, tolerance {tolerance} m, fix {fix:?} \
             ±{accuracy:.1} m: engine {got}, reference {expected}"
        );
    }
}
