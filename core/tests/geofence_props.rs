//! Property tests for the geofence verdict: distances agree with GeographicLib geodesics to
//! 0.5 m and verdicts with the reference verdict (random convex and star-shaped polygons,
//! holes, circles, up to 5 km across, at Hong Kong, high and southern latitudes and near the
//! antimeridian); ring orientation, start vertex and repeated points change nothing; and the
//! R-tree search, the site-list search and the linear scan return identical answers on random
//! policies of hundreds of sites with random allowed subsets. Under the probability rule, the
//! presence probability on the same random fences agrees with an independent integration
//! (GeographicLib geometry, exact radial integrals along 2,048 directions) within 1e-3.

use daka_core::geofence::{GeofenceIndex, Location, Presence};
use daka_core::policy::{
    FaceRules, Fence, Org, Policy, PresenceRule, Site, SiteIdx, Thresholds, UncertainAction,
};
use geo::{Contains, Coord, LineString, Point, Polygon};
use geographiclib_rs::{Geodesic, InverseGeodesic};
use proptest::prelude::*;

// ---- building policies ----------------------------------------------------------------------

fn policy(sites: Vec<Vec<Fence>>) -> Policy {
    Policy {
        version: 1,
        org: Org {
            id: "org".into(),
            name: "Org".into(),
            time_zone: "Asia/Hong_Kong".into(),
        },
        thresholds: Thresholds {
            max_accuracy_m: 100.0,
            uncertain: UncertainAction::FieldPunch,
            max_fix_age_s: 120,
            max_travel_speed_mps: 70.0,
            clock_jump_tolerance_s: 120,
            face: FaceRules {
                required: false,
                min_score: 0.8,
                min_liveness: 0.8,
                max_token_age_s: 300,
                clock_skew_s: 60,
            },
            presence: PresenceRule::AccuracyCircle,
        },
        sites: sites
            .into_iter()
            .enumerate()
            .map(|(i, fences)| Site {
                id: format!("s{i}"),
                name: format!("Site {i}"),
                fences,
                wifi_bssids: vec![],
                tolerance_m: 0.0,
            })
            .collect(),
        employees: vec![],
        face_matchers: vec![],
        approvals: Default::default(),
        attendance: Default::default(),
        enrolment: Default::default(),
    }
}

/// A local east/north metre grid around a point, mapped affinely to lon/lat. Shapes drawn in
/// it are simple in lon/lat because the map is affine.
#[derive(Debug, Clone, Copy)]
struct Local {
    lon0: f64,
    lat0: f64,
    m_per_deg_lon: f64,
    m_per_deg_lat: f64,
}

impl Local {
    fn new(lon0: f64, lat0: f64) -> Local {
        let a = 6_378_137.0_f64;
        let e2 = 0.006_694_379_990_14_f64;
        let s = lat0.to_radians().sin();
        let w = (1.0 - e2 * s * s).sqrt();
        let n = a / w;
        let m = a * (1.0 - e2) / (w * w * w);
        Local {
            lon0,
            lat0,
            m_per_deg_lon: n * lat0.to_radians().cos() * std::f64::consts::PI / 180.0,
            m_per_deg_lat: m * std::f64::consts::PI / 180.0,
        }
    }

    fn at(&self, east_m: f64, north_m: f64) -> Coord<f64> {
        Coord {
            x: self.lon0 + east_m / self.m_per_deg_lon,
            y: self.lat0 + north_m / self.m_per_deg_lat,
        }
    }
}

/// A star-shaped ring around the local origin: vertex `i` at angle `(i + jitter_i) 2π / n`
/// and radius `radius_m · factor_i`. With all factors 1 it is convex (a cyclic polygon).
/// Jitter in ±0.3 keeps every angular gap under 1.6 · 2π / n.
fn star(local: &Local, radius_m: f64, factors: &[f64], jitter: &[f64]) -> Vec<Coord<f64>> {
    let n = factors.len();
    let mut ring: Vec<Coord<f64>> = (0..n)
        .map(|i| {
            let angle = (i as f64 + jitter[i]) * std::f64::consts::TAU / n as f64;
            let r = radius_m * factors[i];
            local.at(r * angle.cos(), r * angle.sin())
        })
        .collect();
    ring.push(ring[0]);
    ring
}

// ---- random fences and fixes ----------------------------------------------------------------

#[derive(Debug, Clone)]
enum Shape {
    Circle,
    /// Factors all 1: convex.
    Convex {
        jitter: Vec<f64>,
    },
    /// Factors in [0.4, 1]: usually not convex.
    Star {
        factors: Vec<f64>,
        jitter: Vec<f64>,
    },
}

#[derive(Debug, Clone)]
struct FenceSpec {
    lon: f64,
    lat: f64,
    /// Half the fence's size: circle radius or largest star radius, 15 m to 2.5 km.
    radius_m: f64,
    shape: Shape,
    /// Hole radius factors (relative to the shell's smallest possible radius) and jitter.
    hole: Option<(Vec<f64>, Vec<f64>)>,
}

impl FenceSpec {
    fn local(&self) -> Local {
        Local::new(self.lon, self.lat)
    }

    fn fence(&self) -> Fence {
        let local = self.local();
        let (factors, jitter) = match &self.shape {
            Shape::Circle => {
                return Fence::Circle {
                    center: Coord {
                        x: self.lon,
                        y: self.lat,
                    },
                    radius_m: self.radius_m,
                };
            }
            Shape::Convex { jitter } => (vec![1.0; jitter.len()], jitter.clone()),
            Shape::Star { factors, jitter } => (factors.clone(), jitter.clone()),
        };
        let shell = star(&local, self.radius_m, &factors, &jitter);
        // Gaps under 1.6 · 2π/5 = 115° and radii ≥ 0.4 R: the shell holds the disc of radius
        // 0.4 R cos(57.6°) > 0.2 R, and the hole's radii are at most 0.3 · 0.4 R.
        let holes = self
            .hole
            .iter()
            .map(|(f, j)| LineString::from(star(&local, self.radius_m * 0.4, f, j)))
            .collect();
        Fence::Polygon(Polygon::new(LineString::from(shell), holes))
    }
}

fn latitude() -> impl Strategy<Value = f64> {
    prop_oneof![
        22.15..22.55,   // Hong Kong
        55.0..65.0,     // high latitudes
        -45.0..-10.0,   // southern hemisphere
        -70.0..70.0f64  // anywhere
    ]
}

fn longitude() -> impl Strategy<Value = f64> {
    prop_oneof![
        113.8..114.4,                                   // Hong Kong
        -179.9..179.9,                                  // anywhere
        prop_oneof![179.85..179.9, -179.9..-179.85f64], // beside the antimeridian
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    (5usize..14).prop_flat_map(|n| {
        prop_oneof![
            Just(Shape::Circle),
            prop::collection::vec(-0.3..0.3f64, n).prop_map(|jitter| Shape::Convex { jitter }),
            (
                prop::collection::vec(0.4..1.0f64, n),
                prop::collection::vec(-0.3..0.3f64, n)
            )
                .prop_map(|(factors, jitter)| Shape::Star { factors, jitter }),
        ]
    })
}

fn hole() -> impl Strategy<Value = Option<(Vec<f64>, Vec<f64>)>> {
    prop::option::of((4usize..8).prop_flat_map(|n| {
        (
            prop::collection::vec(0.05..0.3f64, n),
            prop::collection::vec(-0.3..0.3f64, n),
        )
    }))
}

fn fence_spec() -> impl Strategy<Value = FenceSpec> {
    (longitude(), latitude(), 15.0..2500.0f64, shape(), hole()).prop_map(
        |(lon, lat, radius_m, shape, hole)| {
            // Circles have no holes; the fence must not cross ±180°.
            let hole = if matches!(shape, Shape::Circle) {
                None
            } else {
                hole
            };
            let margin = 2.0 * radius_m / Local::new(lon, lat).m_per_deg_lon;
            let lon = lon.clamp(-180.0 + margin, 180.0 - margin);
            FenceSpec {
                lon,
                lat,
                radius_m,
                shape,
                hole,
            }
        },
    )
}

/// Where to put the fix relative to the fence.
#[derive(Debug, Clone)]
enum FixSpec {
    /// Uniform-ish in the disc of 1.3 R: inside, in the hole, or just outside.
    Around { angle: f64, r: f64 },
    /// Within 40 m of a vertex (and so of two edges), on either side.
    NearVertex {
        vertex: usize,
        east: f64,
        north: f64,
    },
    /// Up to 3 km beyond the fence.
    Beyond { angle: f64, extra_m: f64 },
}

fn fix_spec() -> impl Strategy<Value = FixSpec> {
    prop_oneof![
        (0.0..std::f64::consts::TAU, 0.0..1.3f64)
            .prop_map(|(angle, r)| FixSpec::Around { angle, r }),
        (0usize..64, -40.0..40.0f64, -40.0..40.0f64).prop_map(|(vertex, east, north)| {
            FixSpec::NearVertex {
                vertex,
                east,
                north,
            }
        }),
        (0.0..std::f64::consts::TAU, 0.0..3000.0f64)
            .prop_map(|(angle, extra_m)| FixSpec::Beyond { angle, extra_m }),
    ]
}

fn accuracy() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(0.0), 6 => 0.0..150.0f64]
}

fn place_fix(fence: &FenceSpec, fix: &FixSpec) -> Coord<f64> {
    let local = fence.local();
    let r = fence.radius_m;
    match *fix {
        FixSpec::Around { angle, r: f } => local.at(r * f * angle.cos(), r * f * angle.sin()),
        FixSpec::NearVertex {
            vertex,
            east,
            north,
        } => match fence.fence() {
            Fence::Polygon(p) => {
                let ring = &p.exterior().0;
                let v = ring[vertex % (ring.len() - 1)];
                Coord {
                    x: v.x + east / local.m_per_deg_lon,
                    y: v.y + north / local.m_per_deg_lat,
                }
            }
            Fence::Circle { .. } => {
                let angle = vertex as f64;
                local.at((r + east) * angle.cos(), (r + east) * angle.sin())
            }
        },
        FixSpec::Beyond { angle, extra_m } => {
            let d = r + extra_m;
            local.at(d * angle.cos(), d * angle.sin())
        }
    }
}

// ---- the independent reference --------------------------------------------------------------

/// Geodesic distance from the fix to the point at `t` along a lon/lat-straight edge.
fn to_edge_point(g: &Geodesic, fix: Coord<f64>, a: Coord<f64>, b: Coord<f64>, t: f64) -> f64 {
    let lon = a.x + (b.x - a.x) * t;
    let lat = a.y + (b.y - a.y) * t;
    g.inverse(fix.y, fix.x, lat, lon)
}

/// Geodesic distance from the fix to the nearest point of a polygon's boundary (all rings),
/// with edges straight in lon/lat: every edge is sampled, and each edge that could hold the
/// minimum (its best sample, less half the sample spacing, is not above the best sample
/// overall) is refined by golden-section search around its best sample.
fn reference_boundary_distance(g: &Geodesic, fix: Coord<f64>, polygon: &Polygon<f64>) -> f64 {
    const SAMPLES: usize = 24;
    let mut edges = Vec::new();
    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        for w in ring.0.windows(2) {
            let (a, b) = (w[0], w[1]);
            let mut best = (f64::INFINITY, 0);
            for i in 0..=SAMPLES {
                let d = to_edge_point(g, fix, a, b, i as f64 / SAMPLES as f64);
                if d < best.0 {
                    best = (d, i);
                }
            }
            let length: f64 = g.inverse(a.y, a.x, b.y, b.x);
            // Path length between samples, with room for the lon/lat path being longer
            // than the geodesic.
            let spacing = 1.01 * length / SAMPLES as f64;
            edges.push((a, b, best.0, best.1, spacing));
        }
    }
    let overall = edges.iter().map(|e| e.2).fold(f64::INFINITY, f64::min);
    let mut result = overall;
    for &(a, b, sampled, i, spacing) in &edges {
        if sampled - spacing / 2.0 > overall {
            continue;
        }
        let step = 1.0 / SAMPLES as f64;
        let mut lo = (i as f64 - 1.0).max(0.0) * step;
        let mut hi = (i as f64 + 1.0).min(SAMPLES as f64) * step;
        let phi = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..60 {
            let m1 = hi - phi * (hi - lo);
            let m2 = lo + phi * (hi - lo);
            if to_edge_point(g, fix, a, b, m1) <= to_edge_point(g, fix, a, b, m2) {
                hi = m2;
            } else {
                lo = m1;
            }
        }
        result = result.min(to_edge_point(g, fix, a, b, (lo + hi) / 2.0));
    }
    result
}

/// Signed geodesic distance from the fix to a fence: the sign from `geo`'s planar
/// point-in-polygon on lon/lat (holes excluded), the magnitude from GeographicLib.
fn reference_signed_distance(fix: Coord<f64>, fence: &Fence) -> f64 {
    let g = Geodesic::wgs84();
    match fence {
        Fence::Circle { center, radius_m } => {
            let d: f64 = g.inverse(fix.y, fix.x, center.y, center.x);
            d - radius_m
        }
        Fence::Polygon(p) => {
            let d = reference_boundary_distance(&g, fix, p);
            if p.contains(&Point::from(fix)) { -d } else { d }
        }
    }
}

fn reference_presence(signed_m: f64, accuracy_m: f64) -> Presence {
    if signed_m <= -accuracy_m {
        Presence::Inside
    } else if signed_m > accuracy_m {
        Presence::Outside
    } else {
        Presence::Uncertain
    }
}

fn distance(loc: &Location) -> f64 {
    loc.nearest
        .expect("the only site is allowed")
        .signed_distance_m
}

// ---- ring edits that must not matter ---------------------------------------------------------

/// Open ring (without the closing repeat) of a closed one.
fn open(ring: &LineString<f64>) -> Vec<Coord<f64>> {
    ring.0[..ring.0.len() - 1].to_vec()
}

fn closed(mut pts: Vec<Coord<f64>>) -> LineString<f64> {
    pts.push(pts[0]);
    LineString::from(pts)
}

fn map_rings(p: &Polygon<f64>, f: impl Fn(Vec<Coord<f64>>) -> LineString<f64>) -> Polygon<f64> {
    Polygon::new(
        f(open(p.exterior())),
        p.interiors().iter().map(|r| f(open(r))).collect(),
    )
}

fn variants(p: &Polygon<f64>, rotate: usize, dup: usize) -> Vec<(&'static str, Polygon<f64>)> {
    vec![
        (
            "reversed",
            map_rings(p, |mut pts| {
                pts.reverse();
                closed(pts)
            }),
        ),
        (
            "rotated start",
            map_rings(p, |mut pts| {
                let k = rotate % pts.len();
                pts.rotate_left(k);
                closed(pts)
            }),
        ),
        (
            "duplicate closing point",
            map_rings(p, |pts| {
                let mut ring = closed(pts);
                ring.0.push(ring.0[0]);
                ring
            }),
        ),
        (
            "duplicate vertex",
            map_rings(p, |mut pts| {
                let k = dup % pts.len();
                pts.insert(k, pts[k]);
                closed(pts)
            }),
        ),
        (
            "reversed and rotated",
            map_rings(p, |mut pts| {
                pts.reverse();
                let k = rotate % pts.len();
                pts.rotate_left(k);
                closed(pts)
            }),
        ),
    ]
}

// ---- random multi-site policies --------------------------------------------------------------

/// SplitMix64: a small deterministic generator for bulk geometry from one proptest seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `n` sites of one to three small fences each (circles and star polygons, some with holes)
/// scattered over a square of `span_m` around (lon, lat); about one site in ten repeats an
/// earlier site exactly, so ties between sites occur.
fn random_sites(rng: &mut Rng, lon: f64, lat: f64, n: usize, span_m: f64) -> Vec<Vec<Fence>> {
    let area = Local::new(lon, lat);
    let mut sites: Vec<Vec<Fence>> = Vec::with_capacity(n);
    for _ in 0..n {
        if !sites.is_empty() && rng.below(10) == 0 {
            let copy = sites[rng.below(sites.len())].clone();
            sites.push(copy);
            continue;
        }
        let centre = area.at(rng.range(0.0, span_m), rng.range(0.0, span_m));
        let fences = (0..1 + rng.below(3))
            .map(|_| {
                let c = Local::new(centre.x, centre.y);
                let offset = c.at(rng.range(-300.0, 300.0), rng.range(-300.0, 300.0));
                let radius_m = rng.range(20.0, 300.0);
                if rng.below(3) == 0 {
                    return Fence::Circle {
                        center: offset,
                        radius_m,
                    };
                }
                let local = Local::new(offset.x, offset.y);
                let n = 5 + rng.below(8);
                let factors: Vec<f64> = (0..n).map(|_| rng.range(0.4, 1.0)).collect();
                let jitter: Vec<f64> = (0..n).map(|_| rng.range(-0.3, 0.3)).collect();
                let shell = LineString::from(star(&local, radius_m, &factors, &jitter));
                let holes = if rng.below(4) == 0 {
                    let factors: Vec<f64> = (0..4).map(|_| rng.range(0.05, 0.3)).collect();
                    let jitter: Vec<f64> = (0..4).map(|_| rng.range(-0.3, 0.3)).collect();
                    vec![LineString::from(star(
                        &local,
                        radius_m * 0.4,
                        &factors,
                        &jitter,
                    ))]
                } else {
                    vec![]
                };
                Fence::Polygon(Polygon::new(shell, holes))
            })
            .collect();
        sites.push(fences);
    }
    sites
}

// ---- the properties --------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Distance within 0.5 m of GeographicLib, and the verdict equal to the reference verdict
    /// except within 0.5 m of the accuracy circle's edge.
    #[test]
    fn agrees_with_geodesic_reference(
        spec in fence_spec(),
        fix in fix_spec(),
        acc in accuracy(),
    ) {
        let fence = spec.fence();
        let index = GeofenceIndex::new(&policy(vec![vec![fence.clone()]]));
        let p = place_fix(&spec, &fix);
        let loc = index.locate(p.x, p.y, acc, |_| true);
        prop_assert_eq!(&loc, &index.locate_linear(p.x, p.y, acc, |_| true));
        let got = distance(&loc);
        let want = reference_signed_distance(p, &fence);
        // The contract.
        prop_assert!(
            (got - want).abs() <= 0.5,
            "distance {} m, reference {} m (fix {:?})", got, want, p
        );
        // The method's own error budget (chord sag ≤ 2 mm, lon/lat edge against its chord
        // ≤ 5 mm up to 70° latitude, chord to arc < 0.2 mm), so that a regression shows long
        // before it breaks the contract.
        prop_assert!(
            (got - want).abs() <= 0.02,
            "distance {} m, reference {} m (fix {:?})", got, want, p
        );
        if (want - acc).abs() > 0.5 && (want + acc).abs() > 0.5 {
            prop_assert_eq!(loc.presence, reference_presence(want, acc));
        }
    }

    /// Reversing rings, starting them elsewhere, and repeating points (the closing point or
    /// any vertex) change neither distance (beyond 1e-6 m) nor verdict.
    #[test]
    fn ring_order_and_repeated_points_do_not_matter(
        spec in fence_spec().prop_filter("polygons only", |s| !matches!(s.shape, Shape::Circle)),
        fix in fix_spec(),
        acc in accuracy(),
        rotate in 1usize..64,
        dup in 0usize..64,
    ) {
        let Fence::Polygon(polygon) = spec.fence() else { unreachable!() };
        let p = place_fix(&spec, &fix);
        let base = GeofenceIndex::new(&policy(vec![vec![Fence::Polygon(polygon.clone())]]))
            .locate(p.x, p.y, acc, |_| true);
        let base_d = distance(&base);
        for (name, variant) in variants(&polygon, rotate, dup) {
            let loc = GeofenceIndex::new(&policy(vec![vec![Fence::Polygon(variant)]]))
                .locate(p.x, p.y, acc, |_| true);
            let d = distance(&loc);
            prop_assert!((d - base_d).abs() <= 1e-6, "{}: {} m against {} m", name, d, base_d);
            // Only a distance within rounding of ±accuracy may flip the verdict.
            if (base_d - acc).abs() > 1e-6 && (base_d + acc).abs() > 1e-6 {
                prop_assert_eq!(loc.presence, base.presence, "{}", name);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The R-tree search, the site-list search and the linear scan return identical answers
    /// on policies of hundreds of sites, for allowed sets from empty to all.
    #[test]
    fn index_and_linear_scan_agree(
        seed in any::<u64>(),
        lon in longitude(),
        lat in latitude(),
        n in 100usize..500,
        span_km in 2.0..40.0f64,
    ) {
        let mut rng = Rng(seed);
        let lon = lon.clamp(-179.0, 179.0);
        let span_m = span_km * 1000.0;
        let index = GeofenceIndex::new(&policy(random_sites(&mut rng, lon, lat, n, span_m)));
        let area = Local::new(lon, lat);
        for round in 0..24 {
            // Allowed sets: empty, everything, and random subsets from very sparse to dense.
            let density = [0.0, 1.0, 0.003, 0.02, 0.1, 0.5, 0.9][round % 7];
            let list: Vec<SiteIdx> = (0..n).filter(|_| rng.unit() < density).collect();
            let mut member = vec![false; n];
            for &s in &list {
                member[s] = true;
            }
            let allowed = |s: SiteIdx| member[s];
            // Fixes anywhere over the area and a little beyond it.
            let p = area.at(
                rng.range(-0.1 * span_m, 1.1 * span_m),
                rng.range(-0.1 * span_m, 1.1 * span_m),
            );
            let acc = rng.range(0.0, 100.0);
            let linear = index.locate_linear(p.x, p.y, acc, allowed);
            prop_assert_eq!(&index.locate(p.x, p.y, acc, allowed), &linear);
            prop_assert_eq!(&index.locate_sites(p.x, p.y, acc, &list), &linear);
            prop_assert_eq!(linear.nearest.is_none(), list.is_empty());
        }
    }
}

// ---- the presence probability against an independent integration --------------------------

/// `policy` under the probability rule.
fn probability_policy(sites: Vec<Vec<Fence>>) -> Policy {
    let mut p = policy(sites);
    p.thresholds.presence = PresenceRule::Probability {
        accept_probability: 0.6,
        reject_probability: 0.001,
    };
    p
}

/// `q` ([lon, lat] as a `Coord`) in the fix's azimuthal-equidistant plane, metres east and
/// north, by GeographicLib.
fn plane_of(g: &Geodesic, fix: Coord<f64>, q: Coord<f64>) -> [f64; 2] {
    let (s12, azi1, _, _) = g.inverse(fix.y, fix.x, q.y, q.x);
    let a = azi1.to_radians();
    [s12 * a.sin(), s12 * a.cos()]
}

/// The Gaussian mass inside a fence, independently: the fence's outline placed around the fix
/// with GeographicLib (polygon edges, straight in lon/lat, cut into 32 pieces first), then for
/// each of 2,048 directions the exact radial integral over the stretches of the ray inside.
fn reference_probability(g: &Geodesic, fix: Coord<f64>, fence: &Fence, sigma: f64) -> f64 {
    let mut segments: Vec<([f64; 2], [f64; 2])> = Vec::new();
    let mut circle: Option<([f64; 2], f64)> = None;
    match fence {
        Fence::Polygon(p) => {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for w in ring.0.windows(2) {
                    let mut prev = plane_of(g, fix, w[0]);
                    for k in 1..=32 {
                        let t = f64::from(k) / 32.0;
                        let q = Coord {
                            x: w[0].x + (w[1].x - w[0].x) * t,
                            y: w[0].y + (w[1].y - w[0].y) * t,
                        };
                        let next = plane_of(g, fix, q);
                        segments.push((prev, next));
                        prev = next;
                    }
                }
            }
        }
        Fence::Circle { center, radius_m } => circle = Some((plane_of(g, fix, *center), *radius_m)),
    }
    const DIRECTIONS: usize = 2048;
    let gauss = |r: f64| (-r * r / (2.0 * sigma * sigma)).exp();
    let mut total = 0.0;
    for i in 0..DIRECTIONS {
        let theta = (i as f64 + 0.5) / DIRECTIONS as f64 * std::f64::consts::TAU;
        let dir = [theta.cos(), theta.sin()];
        let mut hits: Vec<f64> = Vec::new();
        for &(a, b) in &segments {
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
        if let Some((c, radius)) = circle {
            // |t·dir − c| = radius.
            let b = dir[0] * c[0] + dir[1] * c[1];
            let disc = b * b - (c[0] * c[0] + c[1] * c[1] - radius * radius);
            if disc > 0.0 {
                for r in [b - disc.sqrt(), b + disc.sqrt()] {
                    if r > 0.0 {
                        hits.push(r);
                    }
                }
            }
        }
        hits.sort_by(f64::total_cmp);
        let mut inside = hits.len() % 2 == 1;
        let mut from = 0.0f64;
        for &r in &hits {
            if inside {
                total += gauss(from) - gauss(r);
            }
            inside = !inside;
            from = r;
        }
        if inside {
            total += gauss(from);
        }
    }
    total / DIRECTIONS as f64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The probability agrees with the independent integration on the same random fences,
    /// holes and fixes as the distance tests (convex and star-shaped polygons, circles, up to
    /// 5 km across, at Hong Kong, high and southern latitudes and near the antimeridian), and
    /// every search gives the same answer, so the phone's search and the server's agree.
    #[test]
    fn probability_agrees_with_an_independent_integration(
        spec in fence_spec(),
        fix in fix_spec(),
        acc in 1.0..80.0f64,
    ) {
        let fence = spec.fence();
        let index = GeofenceIndex::new(&probability_policy(vec![vec![fence.clone()]]));
        let p = place_fix(&spec, &fix);
        let loc = index.locate(p.x, p.y, acc, |_| true);
        prop_assert_eq!(&loc, &index.locate_linear(p.x, p.y, acc, |_| true));
        prop_assert_eq!(&loc, &index.locate_sites(p.x, p.y, acc, &[0]));
        let got = index.presence_probability(p.x, p.y, acc, &loc.nearest.unwrap()).unwrap();
        let sigma = daka_core::geofence::presence::sigma_from_accuracy(acc);
        let want = reference_probability(&Geodesic::wgs84(), p, &fence, sigma);
        prop_assert!(
            (got - want).abs() <= 1e-3,
            "probability {} against {} (fix {:?} ±{} m)", got, want, p, acc
        );
    }
}
