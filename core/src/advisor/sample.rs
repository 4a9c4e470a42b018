//! Simulated people: true positions inside a site's fences or at a set distance outside them,
//! and the fixes and attempts their phones would produce.
//!
//! Geometry happens in a local east/north plane in metres around the site (the centre of its
//! fences' bounding box). The map from longitude/latitude to that plane is linear (the WGS-84
//! radii of curvature at the origin), so a polygon's straight lon/lat edges stay straight and
//! a point-in-polygon test in the plane is exact; distances are off by well under a
//! centimetre per 100 m for sites a few hundred metres across.

use chrono::{DateTime, Duration, Utc};
use geo::{Area, Contains, Coord, Distance, Euclidean, LineString, Point, Polygon};

use super::accuracy::{AccuracyModel, Rng, sigma_for_accuracy};
use crate::attempt::Attempt;
use crate::evidence::spoofing::PreviousPunch;
use crate::evidence::{DeviceClock, Fix};
use crate::policy::{Fence, Site};
use crate::punch::kind::PunchKind;

/// Attempts to place one sample before giving up (a fence far smaller than its bounding box).
const MAX_TRIES: usize = 10_000;

/// WGS-84 semi-major axis and first eccentricity squared.
const WGS84_A: f64 = 6_378_137.0;
const WGS84_E2: f64 = 6.694_379_990_141_317e-3;

/// The local east/north plane of one site.
#[derive(Debug, Clone, Copy)]
struct Frame {
    lon0: f64,
    lat0: f64,
    m_per_deg_lon: f64,
    m_per_deg_lat: f64,
}

impl Frame {
    fn new(lon0: f64, lat0: f64) -> Frame {
        let phi = lat0.to_radians();
        let w = 1.0 - WGS84_E2 * phi.sin() * phi.sin();
        let n = WGS84_A / w.sqrt();
        let m = WGS84_A * (1.0 - WGS84_E2) / (w * w.sqrt());
        Frame {
            lon0,
            lat0,
            m_per_deg_lon: n * phi.cos() * std::f64::consts::PI / 180.0,
            m_per_deg_lat: m * std::f64::consts::PI / 180.0,
        }
    }
    fn to_local(self, c: Coord) -> Coord {
        Coord {
            x: (c.x - self.lon0) * self.m_per_deg_lon,
            y: (c.y - self.lat0) * self.m_per_deg_lat,
        }
    }
    fn to_lonlat(self, p: Coord) -> Coord {
        Coord {
            x: self.lon0 + p.x / self.m_per_deg_lon,
            y: self.lat0 + p.y / self.m_per_deg_lat,
        }
    }
}

/// One fence in the local plane.
#[derive(Debug, Clone)]
enum Shape {
    Polygon(Polygon<f64>),
    Circle { center: Coord, radius_m: f64 },
}

impl Shape {
    fn contains(&self, p: Coord) -> bool {
        match self {
            Shape::Polygon(poly) => poly.contains(&p),
            Shape::Circle { center, radius_m } => {
                (p - *center).x.hypot((p - *center).y) < *radius_m
            }
        }
    }
    /// Metres from `p` to the shape; 0 inside.
    fn distance(&self, p: Coord) -> f64 {
        match self {
            Shape::Polygon(poly) => Euclidean.distance(&Point(p), poly),
            Shape::Circle { center, radius_m } => {
                ((p - *center).x.hypot((p - *center).y) - radius_m).max(0.0)
            }
        }
    }
    fn area(&self) -> f64 {
        match self {
            Shape::Polygon(poly) => poly.unsigned_area(),
            Shape::Circle { radius_m, .. } => std::f64::consts::PI * radius_m * radius_m,
        }
    }
    /// Bounding box: (min, max).
    fn bounds(&self) -> (Coord, Coord) {
        match self {
            Shape::Polygon(poly) => poly.exterior().0.iter().fold(
                (
                    Coord {
                        x: f64::INFINITY,
                        y: f64::INFINITY,
                    },
                    Coord {
                        x: f64::NEG_INFINITY,
                        y: f64::NEG_INFINITY,
                    },
                ),
                |(lo, hi), c| {
                    (
                        Coord {
                            x: lo.x.min(c.x),
                            y: lo.y.min(c.y),
                        },
                        Coord {
                            x: hi.x.max(c.x),
                            y: hi.y.max(c.y),
                        },
                    )
                },
            ),
            Shape::Circle { center, radius_m } => (
                Coord {
                    x: center.x - radius_m,
                    y: center.y - radius_m,
                },
                Coord {
                    x: center.x + radius_m,
                    y: center.y + radius_m,
                },
            ),
        }
    }
}

/// A piece of a site's outer boundary, for placing people outside it.
#[derive(Debug, Clone, Copy)]
enum Piece {
    /// A polygon edge from `a` to `b` and its outward unit normal.
    Edge {
        a: Coord,
        b: Coord,
        normal: Coord,
    },
    Circle {
        center: Coord,
        radius_m: f64,
    },
}

/// A site's fences in its local plane, ready for sampling.
#[derive(Debug, Clone)]
pub(super) struct SiteShape {
    frame: Frame,
    shapes: Vec<Shape>,
    /// Cumulative fence areas, for choosing a fence in proportion to its area.
    cum_area: Vec<f64>,
    /// Outer boundary pieces (exterior rings and circles; holes are left out) and their
    /// cumulative lengths, for choosing a boundary point uniformly by length.
    pieces: Vec<Piece>,
    cum_len: Vec<f64>,
}

fn pick(cum: &[f64], rng: &mut Rng) -> usize {
    let total = cum.last().copied().unwrap_or(0.0);
    let x = rng.uniform() * total;
    cum.partition_point(|&c| c <= x).min(cum.len() - 1)
}

fn local_ring(frame: Frame, ring: &LineString<f64>) -> LineString<f64> {
    ring.0.iter().map(|c| frame.to_local(*c)).collect()
}

impl SiteShape {
    pub(super) fn new(site: &Site) -> SiteShape {
        let mut lo = Coord {
            x: f64::INFINITY,
            y: f64::INFINITY,
        };
        let mut hi = Coord {
            x: f64::NEG_INFINITY,
            y: f64::NEG_INFINITY,
        };
        for fence in &site.fences {
            let coords: Vec<Coord> = match fence {
                Fence::Polygon(p) => p.exterior().0.clone(),
                Fence::Circle { center, .. } => vec![*center],
            };
            for c in coords {
                lo = Coord {
                    x: lo.x.min(c.x),
                    y: lo.y.min(c.y),
                };
                hi = Coord {
                    x: hi.x.max(c.x),
                    y: hi.y.max(c.y),
                };
            }
        }
        let frame = Frame::new((lo.x + hi.x) / 2.0, (lo.y + hi.y) / 2.0);
        let shapes: Vec<Shape> = site
            .fences
            .iter()
            .map(|f| match f {
                Fence::Polygon(p) => Shape::Polygon(Polygon::new(
                    local_ring(frame, p.exterior()),
                    p.interiors().iter().map(|r| local_ring(frame, r)).collect(),
                )),
                Fence::Circle { center, radius_m } => Shape::Circle {
                    center: frame.to_local(*center),
                    radius_m: *radius_m,
                },
            })
            .collect();
        let cum_area = shapes
            .iter()
            .scan(0.0, |acc, s| {
                *acc += s.area();
                Some(*acc)
            })
            .collect();
        let mut pieces = Vec::new();
        for s in &shapes {
            match s {
                Shape::Polygon(poly) => {
                    let ring = &poly.exterior().0;
                    // Shoelace: positive for a counter-clockwise ring, whose outside is on
                    // the right of each edge.
                    let twice_area: f64 = ring
                        .windows(2)
                        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
                        .sum();
                    let side = if twice_area >= 0.0 { 1.0 } else { -1.0 };
                    for w in ring.windows(2) {
                        let d = w[1] - w[0];
                        let len = d.x.hypot(d.y);
                        if len > 0.0 {
                            let normal = Coord {
                                x: side * d.y / len,
                                y: -side * d.x / len,
                            };
                            pieces.push(Piece::Edge {
                                a: w[0],
                                b: w[1],
                                normal,
                            });
                        }
                    }
                }
                Shape::Circle { center, radius_m } => pieces.push(Piece::Circle {
                    center: *center,
                    radius_m: *radius_m,
                }),
            }
        }
        let cum_len = pieces
            .iter()
            .scan(0.0, |acc, p| {
                *acc += match p {
                    Piece::Edge { a, b, .. } => (*b - *a).x.hypot((*b - *a).y),
                    Piece::Circle { radius_m, .. } => std::f64::consts::TAU * radius_m,
                };
                Some(*acc)
            })
            .collect();
        SiteShape {
            frame,
            shapes,
            cum_area,
            pieces,
            cum_len,
        }
    }

    fn containing(&self, p: Coord) -> usize {
        self.shapes.iter().filter(|s| s.contains(p)).count()
    }

    /// Metres from `p` to the nearest fence of the site; 0 inside one.
    fn distance(&self, p: Coord) -> f64 {
        self.shapes
            .iter()
            .map(|s| s.distance(p))
            .fold(f64::INFINITY, f64::min)
    }

    /// A point uniformly distributed over the union of the site's fences: a fence chosen in
    /// proportion to its area, a point uniform in its bounding box until it falls inside, kept
    /// with probability 1/k when k fences overlap there.
    pub(super) fn sample_inside(&self, rng: &mut Rng) -> Option<Coord> {
        for _ in 0..MAX_TRIES {
            let shape = &self.shapes[pick(&self.cum_area, rng)];
            let (lo, hi) = shape.bounds();
            let p = Coord {
                x: rng.range(lo.x, hi.x),
                y: rng.range(lo.y, hi.y),
            };
            if shape.contains(p) {
                let k = self.containing(p);
                if k <= 1 || rng.uniform() * (k as f64) < 1.0 {
                    return Some(p);
                }
            }
        }
        None
    }

    /// A point `distance_m` outside the site: a point uniform (by length) on the outer
    /// boundary, moved out along the outward normal, kept only if no fence of the site is
    /// nearer than `distance_m` (so concave corners and neighbouring fences cannot bring it
    /// closer).
    pub(super) fn sample_outside(&self, rng: &mut Rng, distance_m: f64) -> Option<Coord> {
        for _ in 0..MAX_TRIES {
            let p = match self.pieces[pick(&self.cum_len, rng)] {
                Piece::Edge { a, b, normal } => {
                    let t = rng.uniform();
                    Coord {
                        x: a.x + t * (b.x - a.x) + distance_m * normal.x,
                        y: a.y + t * (b.y - a.y) + distance_m * normal.y,
                    }
                }
                Piece::Circle { center, radius_m } => {
                    let angle = rng.range(0.0, std::f64::consts::TAU);
                    let r = radius_m + distance_m;
                    Coord {
                        x: center.x + r * angle.cos(),
                        y: center.y + r * angle.sin(),
                    }
                }
            };
            let d = self.distance(p);
            if (d - distance_m).abs() <= 0.01 {
                return Some(p);
            }
        }
        None
    }

    /// Longitude/latitude of a local point.
    fn lonlat(&self, p: Coord) -> Coord {
        self.frame.to_lonlat(p)
    }
}

/// The trusted time every simulated attempt is judged at: 09:00 in Hong Kong.
pub(super) fn judged_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_413_200, 0).unwrap_or_default()
}

/// Monotonic clock of every simulated phone at the attempt: 11 hours since boot.
const MONOTONIC_MS: u64 = 11 * 3_600_000;
/// A fix is taken this long before the attempt.
const FIX_AGE_MS: u64 = 2_000;

/// How one simulated phone reports.
#[derive(Debug, Clone, Copy)]
pub(super) struct PhoneModel {
    pub(super) accuracy: AccuracyModel,
    /// Share of honest punches that repeat the previous punch's network fix.
    pub(super) network_repeat_share: f64,
}

/// One fix: the true point plus a circular Gaussian error whose 68 % radius is the reported
/// accuracy. Returns (lon/lat of the fix, reported accuracy).
fn fix_at(shape: &SiteShape, truth: Coord, phone: &PhoneModel, rng: &mut Rng) -> (Coord, f64) {
    let accuracy = phone.accuracy.draw(rng);
    let sigma = sigma_for_accuracy(accuracy);
    let p = Coord {
        x: truth.x + sigma * rng.normal(),
        y: truth.y + sigma * rng.normal(),
    };
    (shape.lonlat(p), accuracy)
}

fn fix(at: Coord, accuracy_m: f64, time: DateTime<Utc>, monotonic_ms: u64, provider: &str) -> Fix {
    Fix {
        lat: at.y,
        lon: at.x,
        accuracy_m,
        time,
        monotonic_ms: Some(monotonic_ms),
        mock: false,
        provider: Some(provider.to_string()),
    }
}

fn clock(wall: DateTime<Utc>, monotonic_ms: u64) -> DeviceClock {
    DeviceClock {
        wall,
        monotonic_ms,
        boot_id: "fence-advisor-boot".to_string(),
    }
}

/// An attempt by `employee` from the true local point `truth`. With `repeat`, the phone is
/// stationary on the network provider: the fix is the one of its previous punch, bit for bit,
/// and only the clocks have moved on (by 10 minutes to 9 hours).
fn attempt(
    employee: &str,
    shape: &SiteShape,
    truth: Coord,
    repeat: bool,
    phone: &PhoneModel,
    rng: &mut Rng,
) -> Attempt {
    let now = judged_at();
    let fix_time = now - Duration::milliseconds(FIX_AGE_MS as i64);
    let fix_mono = MONOTONIC_MS - FIX_AGE_MS;
    let (at, accuracy) = fix_at(shape, truth, phone, rng);
    if repeat {
        let gap_ms = (rng.range(10.0, 540.0) * 60_000.0) as u64;
        let before = Duration::milliseconds(gap_ms as i64);
        Attempt {
            employee_id: employee.to_string(),
            kind: PunchKind::Out,
            fix: Some(fix(at, accuracy, fix_time, fix_mono, "network")),
            more_fixes: Vec::new(),
            wifi_bssids: Vec::new(),
            face: None,
            clock: clock(now, MONOTONIC_MS),
            previous: PreviousPunch {
                fix: Some(fix(
                    at,
                    accuracy,
                    fix_time - before,
                    fix_mono - gap_ms,
                    "network",
                )),
                clock: Some(clock(now - before, MONOTONIC_MS - gap_ms)),
            },
            anchor: None,
        }
    } else {
        let provider = if rng.uniform() < 0.5 { "fused" } else { "gps" };
        Attempt {
            employee_id: employee.to_string(),
            kind: PunchKind::In,
            fix: Some(fix(at, accuracy, fix_time, fix_mono, provider)),
            more_fixes: Vec::new(),
            wifi_bssids: Vec::new(),
            face: None,
            clock: clock(now, MONOTONIC_MS),
            previous: PreviousPunch::default(),
            anchor: None,
        }
    }
}

/// `n` honest attempts at a site: true points uniform inside its fences, a share of them
/// stationary network repeats. Fewer when the fences cannot be sampled.
pub(super) fn honest(
    employee: &str,
    shape: &SiteShape,
    n: usize,
    phone: &PhoneModel,
    rng: &mut Rng,
) -> Vec<Attempt> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let Some(truth) = shape.sample_inside(rng) else {
            break;
        };
        let repeat = rng.uniform() < phone.network_repeat_share;
        out.push(attempt(employee, shape, truth, repeat, phone, rng));
    }
    out
}

/// `n` attempts by people standing `distance_m` outside the site (never network repeats).
pub(super) fn outsiders(
    employee: &str,
    shape: &SiteShape,
    distance_m: f64,
    n: usize,
    phone: &PhoneModel,
    rng: &mut Rng,
) -> Vec<Attempt> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let Some(truth) = shape.sample_outside(rng, distance_m) else {
            break;
        };
        out.push(attempt(employee, shape, truth, false, phone, rng));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    const POLICY: &str = include_str!("../../../examples/hk-policy.json");

    #[test]
    fn inside_points_are_inside_and_outside_points_at_their_distance() {
        let policy = Policy::from_json(POLICY).unwrap();
        for (i, site) in policy.sites.iter().enumerate() {
            let shape = SiteShape::new(site);
            let mut rng = Rng::new(3, i as u64);
            for _ in 0..500 {
                let p = shape.sample_inside(&mut rng).unwrap();
                assert!(shape.containing(p) >= 1, "{}", site.id);
                assert_eq!(shape.distance(p), 0.0);
                for d in [30.0, 100.0] {
                    let q = shape.sample_outside(&mut rng, d).unwrap();
                    assert_eq!(shape.containing(q), 0);
                    assert!((shape.distance(q) - d).abs() <= 0.01, "{} {d}", site.id);
                }
            }
        }
    }

    #[test]
    fn the_local_plane_round_trips_and_matches_geodesic_distance() {
        use geo::Geodesic;
        let frame = Frame::new(114.1830, 22.2800);
        let c = Coord {
            x: 114.1841,
            y: 22.2809,
        };
        let back = frame.to_lonlat(frame.to_local(c));
        assert!((back.x - c.x).abs() < 1e-12 && (back.y - c.y).abs() < 1e-12);
        let local = frame.to_local(c);
        let plane = local.x.hypot(local.y);
        let geodesic = Geodesic.distance(Point::new(114.1830, 22.2800), Point(c));
        assert!((plane - geodesic).abs() < 0.01, "{plane} vs {geodesic}");
    }

    #[test]
    fn inside_samples_cover_the_fence_evenly() {
        // The Kowloon Bay site: a polygon with a hole plus a second polygon. The share of
        // samples in the second polygon must match its share of the area.
        let policy = Policy::from_json(POLICY).unwrap();
        let (_, site) = policy.site_by_id("kb-warehouse").unwrap();
        let shape = SiteShape::new(site);
        let second = shape.shapes[1].area() / shape.cum_area[shape.cum_area.len() - 1];
        let mut rng = Rng::new(9, 0);
        let n = 20_000;
        let hits = (0..n)
            .filter(|_| shape.shapes[1].contains(shape.sample_inside(&mut rng).unwrap()))
            .count();
        let share = hits as f64 / n as f64;
        assert!((share - second).abs() < 0.01, "{share} vs {second}");
    }
}
