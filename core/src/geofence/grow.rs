//! A fence grown by its site's tolerance: the outline that the presence probability
//! integrates over, as a polygon in longitude and latitude.
//!
//! The allowed area of a fence with tolerance `t` is every point within `t` metres of it (the
//! fence's Minkowski sum with a disk of radius `t`). Its outline is drawn here as a polygon:
//!
//! * every edge moves out by `t` along its outward normal;
//! * at a convex corner the outline follows the circle of radius `t` around the corner,
//!   drawn as chords whose vertices lie on the circle, so the chords sag inside it by at most
//!   [`SAGITTA_M`] (5 cm, a 20 m tolerance's corner in 8° steps);
//! * at a reflex corner the two moved edges meet at their intersection (the mitre), which is
//!   exactly where the true outline turns, unless an edge is too short to reach it;
//! * where an edge is shorter than the tolerance, the arcs of its corners cross and the
//!   outline follows whichever lies outside (see `trace_outline`);
//! * holes shrink the same way (the area grows into them).
//!
//! Every vertex lies on the true outline and every chord inside it, so the polygon never
//! contains a point the true allowed area does not: a probability computed over it is never
//! higher than over the true area. (A circle fence of radius `r` grows to the circle of radius
//! `r + t`, which is not drawn: `presence.rs` integrates over the disc itself, in closed form.)
//!
//! Each offset is computed in the tangent plane at its own vertex, with the ellipsoid's
//! meridional and prime-vertical radii there, so a 200 m tolerance lands within a millimetre
//! of where it should whatever the fence's size. Growing can fold an outline over itself (a
//! notch, a gap between a hole and the edge, or a hole narrower than twice the tolerance);
//! the policy refuses such a tolerance, checking the grown polygon as it checks any fence.
//!
//! Trigonometry here goes through `libm`, so the phone and the server grow every fence to
//! the same bits whatever their platform's math library.

use geo::{Coord, LineString, Polygon};

use super::ellipsoid::A;

/// How far a chord of a grown corner may sag inside the true circle, metres.
pub(crate) const SAGITTA_M: f64 = 0.05;

/// WGS-84 first eccentricity squared.
const E2: f64 = 6.694_379_990_141_316e-3;

/// Metres per degree east and north at latitude `lat_deg` on WGS-84.
fn metres_per_degree(lat_deg: f64) -> (f64, f64) {
    let (s, c) = libm::sincos(lat_deg.to_radians());
    let w2 = 1.0 - E2 * s * s;
    let w = libm::sqrt(w2);
    let prime_vertical = A / w;
    let meridional = A * (1.0 - E2) / (w2 * w);
    let per_rad = std::f64::consts::PI / 180.0;
    (prime_vertical * c * per_rad, meridional * per_rad)
}

/// The angle between chord vertices on a circle of radius `radius_m` for chords sagging at
/// most `sagitta_m`.
fn max_step(radius_m: f64, sagitta_m: f64) -> f64 {
    if radius_m <= sagitta_m {
        return std::f64::consts::PI;
    }
    2.0 * libm::acos(1.0 - sagitta_m / radius_m)
}

/// `polygon` grown by `tolerance_m`: its exterior moved out, its holes shrunk (see the file
/// header). Rings come out closed, the exterior counter-clockwise and holes clockwise (the
/// area on the left of every edge). With a tolerance of 0 the rings are only reoriented.
pub(crate) fn polygon(polygon: &Polygon<f64>, tolerance_m: f64) -> Polygon<f64> {
    let exterior = grow_ring(&polygon.exterior().0, false, tolerance_m);
    let holes = polygon
        .interiors()
        .iter()
        .map(|hole| grow_ring(&hole.0, true, tolerance_m))
        // A hole no wider than twice the tolerance is filled: what is left of its outline
        // runs the wrong way round, or encloses nothing.
        .filter(|ring| orientation(ring) < -2.0 * MIN_HOLE_AREA_M2)
        .map(LineString)
        .collect();
    Polygon::new(LineString(exterior), holes)
}

/// Holes that shrink below this area, square metres, are filled.
const MIN_HOLE_AREA_M2: f64 = 1.0;

/// Twice the signed area of a ring in a local plane at its first vertex, square metres:
/// positive when counter-clockwise.
fn orientation(ring: &[Coord<f64>]) -> f64 {
    let Some(&origin) = ring.first() else {
        return 0.0;
    };
    let (kx, ky) = metres_per_degree(origin.y);
    let local = |c: &Coord<f64>| ((c.x - origin.x) * kx, (c.y - origin.y) * ky);
    let mut twice_area = 0.0;
    for pair in ring.windows(2) {
        let (a, b) = (local(&pair[0]), local(&pair[1]));
        twice_area += a.0 * b.1 - b.0 * a.1;
    }
    let (a, b) = (local(ring.last().unwrap_or(&origin)), local(&origin));
    twice_area + (a.0 * b.1 - b.0 * a.1)
}

/// One ring moved out by `t` metres from the area it bounds (an exterior grows, a hole
/// shrinks), closed, oriented with the area on its left.
fn grow_ring(ring: &[Coord<f64>], hole: bool, t: f64) -> Vec<Coord<f64>> {
    trace_outline(raw_grown_ring(ring, hole, t))
}

/// Whether growing `polygon` by `tolerance_m` closes an opening of it around a pocket: two
/// parts of its moved outline cross and enclose, between them, an area that runs the same way
/// round as the fence (a courtyard open to the street through a gap narrower than twice the
/// tolerance, say). Points in such a pocket may be farther than the tolerance from the fence,
/// but the grown outline, which follows the outside, would count them as inside; the policy
/// refuses the tolerance instead.
pub(crate) fn closes_a_pocket(polygon: &Polygon<f64>, tolerance_m: f64) -> bool {
    if tolerance_m <= 0.0 {
        return false;
    }
    let raw = raw_grown_ring(&polygon.exterior().0, false, tolerance_m);
    let sign = orientation(&raw).signum();
    let edges = raw.len().saturating_sub(1);
    let window = TRACE_WINDOW.min(edges / 2);
    for i in 0..edges {
        for j in i + 2..(i + window).min(edges) {
            if i == 0 && j == edges - 1 {
                continue;
            }
            let Some((_, point)) = crossing(raw[i], raw[i + 1], raw[j], raw[j + 1]) else {
                continue;
            };
            let mut looped = Vec::with_capacity(j - i + 2);
            looped.push(point);
            looped.extend_from_slice(&raw[i + 1..=j]);
            looped.push(point);
            let area = orientation(&looped);
            // Loops at reflex corners also run the ring's way round, but every point of them
            // is within the tolerance of the corner; a pocket holds points farther away.
            if area.signum() == sign
                && area.abs() > 2.0 * MIN_HOLE_AREA_M2
                && let Some(inner) = inner_point(&looped)
                && distance_to_outline(inner, polygon) > tolerance_m + SAGITTA_M
            {
                return true;
            }
        }
    }
    false
}

/// The centroid of a closed ring, when it lies inside the ring.
fn inner_point(ring: &[Coord<f64>]) -> Option<Coord<f64>> {
    let n = ring.len().saturating_sub(1).max(1) as f64;
    let c = Coord {
        x: ring[..ring.len() - 1].iter().map(|p| p.x).sum::<f64>() / n,
        y: ring[..ring.len() - 1].iter().map(|p| p.y).sum::<f64>() / n,
    };
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > c.y) != (b.y > c.y) && c.x < a.x + (c.y - a.y) / (b.y - a.y) * (b.x - a.x) {
            inside = !inside;
        }
    }
    inside.then_some(c)
}

/// Metres from `p` to the nearest edge of `polygon`'s rings, in the plane at `p`.
fn distance_to_outline(p: Coord<f64>, polygon: &Polygon<f64>) -> f64 {
    let (kx, ky) = metres_per_degree(p.y);
    let local = |c: &Coord<f64>| ((c.x - p.x) * kx, (c.y - p.y) * ky);
    let mut best = f64::INFINITY;
    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        for w in ring.0.windows(2) {
            let (a, b) = (local(&w[0]), local(&w[1]));
            let e = (b.0 - a.0, b.1 - a.1);
            let len2 = e.0 * e.0 + e.1 * e.1;
            let t = if len2 == 0.0 {
                0.0
            } else {
                (-(a.0 * e.0 + a.1 * e.1) / len2).clamp(0.0, 1.0)
            };
            best = best.min(libm::hypot(a.0 + t * e.0, a.1 + t * e.1));
        }
    }
    best
}

/// One ring moved out by `t` (see [`grow_ring`]) before its loops are cut out: closed,
/// oriented with the area on its left.
fn raw_grown_ring(ring: &[Coord<f64>], hole: bool, t: f64) -> Vec<Coord<f64>> {
    // Distinct consecutive positions, without the closing repeat.
    let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.len());
    for &c in ring {
        if pts.last() != Some(&c) {
            pts.push(c);
        }
    }
    while pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    // The area on the left: exteriors counter-clockwise, holes clockwise.
    let ccw = orientation(&pts) > 0.0;
    if ccw == hole {
        pts.reverse();
    }
    let n = pts.len();
    if n < 3 || t <= 0.0 {
        let mut out = pts;
        if let Some(&first) = out.first() {
            out.push(first);
        }
        return out;
    }
    let step = max_step(t, SAGITTA_M);
    let mut out = Vec::with_capacity(n * 4);
    for i in 0..n {
        let prev = pts[(i + n - 1) % n];
        let here = pts[i];
        let next = pts[(i + 1) % n];
        let (kx, ky) = metres_per_degree(here.y);
        let to_local = |c: Coord<f64>| ((c.x - here.x) * kx, (c.y - here.y) * ky);
        let unit = |(x, y): (f64, f64)| {
            let len = libm::hypot(x, y);
            (x / len, y / len)
        };
        let a = to_local(prev);
        let b = to_local(next);
        let u1 = unit((-a.0, -a.1));
        let u2 = unit(b);
        // Outward normals: the area is on the left, so outward is to the right.
        let n1 = (u1.1, -u1.0);
        let n2 = (u2.1, -u2.0);
        let turn = u1.0 * u2.1 - u1.1 * u2.0;
        let along = u1.0 * u2.0 + u1.1 * u2.1;
        let mut emit = |(x, y): (f64, f64)| {
            out.push(Coord {
                x: here.x + x / kx,
                y: here.y + y / ky,
            });
        };
        if turn > 1e-12 {
            // Convex: around the corner on the circle of radius t, from n1 to n2.
            let angle = libm::atan2(turn, along);
            let pieces = ((angle / step).ceil() as usize).max(1);
            for j in 0..=pieces {
                let (s, c) = libm::sincos(angle * j as f64 / pieces as f64);
                emit((t * (n1.0 * c - n1.1 * s), t * (n1.0 * s + n1.1 * c)));
            }
        } else if turn.abs() <= 1e-12 && along > 0.0 {
            // Straight on.
            emit((t * n1.0, t * n1.1));
        } else {
            // Reflex: both moved edges run to their ends, joined through the corner itself. The
            // moved edges cross where the true outline turns (their mitre, when both are long
            // enough to reach it); the small loop through the corner lies inside the area and
            // the walk below leaves it out.
            emit((t * n1.0, t * n1.1));
            emit((0.0, 0.0));
            emit((t * n2.0, t * n2.1));
        }
    }
    out.push(out[0]);
    out
}

/// How many edges apart, along the ring, two crossing edges of a raw grown outline may be
/// and still be traced as one outline (the crossings growing makes are between edges drawn
/// from nearby corners).
const TRACE_WINDOW: usize = 512;

/// The outline of the area a raw grown ring encloses. Moving edges out leaves loops where an
/// edge is shorter than the tolerance (the arcs of two nearby corners cross, and the moved
/// edge between them doubles back): the true outline follows the raw ring until it meets
/// another of its edges turning off to the right, continues along that edge, and so on, which
/// is how this walks it.
/// The walk starts at the easternmost vertex, which is on the true outline (it lies on the
/// arc around the fence's easternmost corner). A crossing the walk does not pass (a notch or
/// gap closing elsewhere) stays in the ring, for the policy's fence check to refuse.
fn trace_outline(ring: Vec<Coord<f64>>) -> Vec<Coord<f64>> {
    let n = ring.len().saturating_sub(1);
    if n < 4 {
        return ring;
    }
    let Some(start) = (0..n).max_by(|&a, &b| ring[a].x.total_cmp(&ring[b].x)) else {
        return ring;
    };
    let window = TRACE_WINDOW.min(n / 2);
    let mut out = Vec::with_capacity(ring.len());
    // Every switch made so far, as (from edge, to edge, index in `out`): the walk is on the
    // outline once it makes a switch it has made before, and the outline is what it walked
    // since then (for a shrunk hole the easternmost vertex may lie inside the area).
    let mut switches: Vec<(usize, usize, usize)> = Vec::new();
    let mut edge = start;
    let mut from = ring[start];
    out.push(from);
    // Each step ends at a vertex or switches edges at a crossing; a ring of n edges is
    // walked in far fewer steps than this unless it is malformed.
    for _ in 0..4 * n + 8 {
        let to = ring[edge + 1];
        let mut nearest: Option<(f64, usize, Coord<f64>)> = None;
        for k in 2..=window * 2 {
            let other = (edge + n + k - window) % n;
            if other == edge || (other + 1) % n == edge || (edge + 1) % n == other {
                continue;
            }
            let (c, d) = (ring[other], ring[other + 1]);
            // Only an edge turning off to the right leads along the outline (the area is on
            // the left); one turning left runs into the area, inside a loop.
            let turns_right = (to.x - from.x) * (d.y - c.y) - (to.y - from.y) * (d.x - c.x) < 0.0;
            if turns_right
                && let Some((t, point)) = crossing(from, to, c, d)
                && nearest.is_none_or(|(best, _, _)| t < best)
            {
                nearest = Some((t, other, point));
            }
        }
        match nearest {
            Some((_, other, point)) => {
                if let Some(&(_, _, at)) = switches.iter().find(|s| s.0 == edge && s.1 == other) {
                    let mut outline = out.split_off(at);
                    outline.push(outline[0]);
                    return outline;
                }
                switches.push((edge, other, out.len()));
                out.push(point);
                from = point;
                edge = other;
            }
            None => {
                edge = (edge + 1) % n;
                from = ring[edge];
                if edge == start {
                    out.push(ring[start]);
                    return out;
                }
                out.push(from);
            }
        }
    }
    // Not closed: give back the raw ring, which the fence check will refuse.
    ring
}

/// Where segments `a–b` and `c–d` cross at one point inside both (endpoints excluded), in
/// lon/lat where fence edges are straight: the fraction along `a–b`, and the point.
fn crossing(
    a: Coord<f64>,
    b: Coord<f64>,
    c: Coord<f64>,
    d: Coord<f64>,
) -> Option<(f64, Coord<f64>)> {
    let r = (b.x - a.x, b.y - a.y);
    let s = (d.x - c.x, d.y - c.y);
    let den = r.0 * s.1 - r.1 * s.0;
    if den == 0.0 {
        return None;
    }
    let ac = (c.x - a.x, c.y - a.y);
    let t = (ac.0 * s.1 - ac.1 * s.0) / den;
    let u = (ac.0 * r.1 - ac.1 * r.0) / den;
    if t <= 0.0 || t >= 1.0 || u <= 0.0 || u >= 1.0 {
        return None;
    }
    Some((
        t,
        Coord {
            x: a.x + t * r.0,
            y: a.y + t * r.1,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Distance, Geodesic, Point};

    fn square(lon: f64, lat: f64, side_deg: f64) -> Polygon<f64> {
        let c = |x: f64, y: f64| Coord {
            x: lon + x * side_deg,
            y: lat + y * side_deg,
        };
        Polygon::new(
            LineString(vec![c(0., 0.), c(1., 0.), c(1., 1.), c(0., 1.), c(0., 0.)]),
            vec![],
        )
    }

    /// Geodesic distance from a point to a polygon's outline, by dense sampling of its edges.
    fn distance_to_outline(p: Coord<f64>, polygon: &Polygon<f64>) -> f64 {
        let mut best = f64::INFINITY;
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for pair in ring.0.windows(2) {
                for k in 0..=2000 {
                    let t = k as f64 / 2000.0;
                    let q = Coord {
                        x: pair[0].x + (pair[1].x - pair[0].x) * t,
                        y: pair[0].y + (pair[1].y - pair[0].y) * t,
                    };
                    best = best.min(Geodesic.distance(Point(p), Point(q)));
                }
            }
        }
        best
    }

    /// The example policy's L-shaped Causeway Bay store: a 12 m step, one reflex corner.
    fn shop() -> Polygon<f64> {
        Polygon::new(
            LineString::from(vec![
                (114.1828704, 22.279945),
                (114.1833126, 22.2798872),
                (114.1833369, 22.2800481),
                (114.1832215, 22.2800632),
                (114.1832378, 22.2801705),
                (114.1829109, 22.2802132),
                (114.1828704, 22.279945),
            ]),
            vec![],
        )
    }

    #[test]
    fn every_grown_vertex_is_the_tolerance_away_from_the_fence() {
        // An L-shaped shop (one reflex corner) near Causeway Bay, grown by 20 m.
        let shop = shop();
        let grown = polygon(&shop, 20.0);
        assert!(grown.exterior().0.len() > 30, "corners are drawn as arcs");
        for v in &grown.exterior().0 {
            let d = distance_to_outline(*v, &shop);
            // On the true outline, or where two corner arcs cross: on their chords, which sag
            // at most SAGITTA_M inside it.
            assert!(
                (20.0 - SAGITTA_M - 0.005..=20.0 + 0.005).contains(&d),
                "vertex {v:?} is {d} m away"
            );
            assert!(!shop.contains(&Point(*v)));
        }
    }

    #[test]
    fn holes_shrink_and_rings_are_oriented_with_the_area_on_the_left() {
        let outer = square(114.0, 22.0, 0.01);
        let hole = square(114.004, 22.004, 0.002).exterior().clone();
        // Given clockwise, the exterior is turned counter-clockwise; the hole comes out clockwise.
        let mut cw = outer.exterior().clone();
        cw.0.reverse();
        let grown = polygon(&Polygon::new(cw, vec![hole.clone()]), 10.0);
        assert!(orientation(&grown.exterior().0) > 0.0);
        assert!(orientation(&grown.interiors()[0].0) < 0.0);
        let hole_polygon = Polygon::new(hole, vec![]);
        for v in &grown.interiors()[0].0 {
            assert!(
                hole_polygon.contains(&Point(*v)),
                "a shrunk hole stays inside the hole"
            );
            let d = distance_to_outline(*v, &hole_polygon);
            assert!(
                (10.0 - SAGITTA_M - 0.005..=10.0 + 0.005).contains(&d),
                "{d}"
            );
        }
    }

    #[test]
    fn a_hole_no_wider_than_twice_the_tolerance_is_filled() {
        // The Kowloon Bay warehouse's courtyard, about 55 × 39 m.
        let courtyard = LineString::from(vec![
            (114.2088529, 22.3227364),
            (114.2087722, 22.3230897),
            (114.2092946, 22.3231929),
            (114.2093753, 22.3228397),
            (114.2088529, 22.3227364),
        ]);
        let yard = Polygon::new(
            square(114.2080, 22.3220, 0.002).exterior().clone(),
            vec![courtyard],
        );
        let kept = polygon(&yard, 15.0);
        assert_eq!(kept.interiors().len(), 1);
        let area = -orientation(&kept.interiors()[0].0) / 2.0;
        // (55 − 30) × (39 − 30) m, less what the corners take.
        assert!((150.0..260.0).contains(&area), "{area}");
        assert!(polygon(&yard, 20.0).interiors().is_empty());
        assert!(polygon(&yard, 25.0).interiors().is_empty());
    }

    #[test]
    fn closing_the_mouth_of_a_courtyard_is_detected_and_a_short_edge_is_not() {
        // A yard 100 × 80 m around a 40 × 40 m courtyard that opens to the north through a
        // 16 m gap in a 10 m wall: grown by 10 m the gap closes around a pocket whose middle
        // is 20 m from every wall.
        let d = 0.000_009; // about 1 m
        let at = |x: f64, y: f64| (114.2 + x * d, 22.3 + y * d);
        let u = Polygon::new(
            LineString::from(vec![
                at(0.0, 0.0),
                at(100.0, 0.0),
                at(100.0, 80.0),
                at(58.0, 80.0),
                at(58.0, 70.0),
                at(70.0, 70.0),
                at(70.0, 30.0),
                at(30.0, 30.0),
                at(30.0, 70.0),
                at(42.0, 70.0),
                at(42.0, 80.0),
                at(0.0, 80.0),
                at(0.0, 0.0),
            ]),
            vec![],
        );
        assert!(closes_a_pocket(&u, 10.0));
        // A tolerance under half the gap's width leaves the courtyard open.
        assert!(!closes_a_pocket(&u, 7.0));
        // The L-shaped store's 12 m step, shorter than a 20 m tolerance, makes only loops
        // that run the other way round.
        let shop = shop();
        assert!(!closes_a_pocket(&shop, 20.0));
    }

    #[test]
    fn zero_tolerance_keeps_the_outline() {
        let sq = square(114.0, 22.0, 0.001);
        let grown = polygon(&sq, 0.0);
        assert_eq!(grown.exterior().0.len(), 5);
        for v in &grown.exterior().0 {
            assert!(sq.exterior().0.contains(v));
        }
    }
}
