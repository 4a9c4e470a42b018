//! Fences prepared for queries, and the exact signed distance from a fix to one fence.
//!
//! Build time (once per policy): every polygon edge is densified by linear interpolation in
//! lon/lat (RFC 7946 edges are straight in lon/lat, not great circles) until no piece has a
//! chord longer than [`MAX_PIECE_M`]; every vertex and circle centre is converted to ECEF once.
//! Each fence gets an axis-aligned ECEF box that contains its whole surface patch with at
//! least 1 m to spare.
//!
//! Query time, for one fence ([`FenceSet::signed_distance`]):
//!
//! * **Distance.** The 3-D distance `c` from the fix to the nearest point of the fence's
//!   boundary (polygon: the chords between consecutive densified vertices, over every ring,
//!   shell and holes alike; circle: the centre, minus the radius afterwards), converted to an
//!   arc with [`arc_from_chord`]. No trigonometry per vertex: only subtractions and dot
//!   products in ECEF. Errors, for fences up to 5 km across and fixes within 10 km:
//!   chord sag of a 300 m piece below the surface (≤ 2 mm), the lon/lat-straight edge against
//!   its chord (≤ 3 mm at 60° latitude, 1 cm at 80°), and chord-to-arc on a mean sphere
//!   (< 0.2 mm). The property tests measure it against GeographicLib.
//! * **Sign.** A fix outside the fence's box is outside the fence. Otherwise an even-odd
//!   crossing test over all rings runs in the tangent plane at the fix (each fix-relative
//!   vertex projected on the local east and north axes), so a point in a hole is outside.
//! * **Bound.** Both the arc and the chord are at least the distance from the fix to the box
//!   (the box is convex and holds every boundary point), and the box is at least 1 m larger
//!   than the geometry, so [`FenceSet::box_distance2`] is a strict lower bound on the distance
//!   of any fence that does not contain the fix. The index relies on this to stop early.
//!
//! The computation is the same function whichever search calls it, and it is symmetric in
//! ring orientation (the crossing test uses a cross product whose sign flips exactly with the
//! edge direction), so the R-tree search and the linear scan agree bit for bit.

use geo::{Coord, LineString, Polygon};

use super::ellipsoid::{Frame, RHO_MIN, arc_from_chord, dot, sub, to_ecef};
use super::{grow, presence};
use crate::policy::{Fence, SiteIdx};

/// Longest chord between consecutive vertices after densification, metres.
pub(crate) const MAX_PIECE_M: f64 = 300.0;
/// Extra room around every fence's box, metres. Makes the box distance a strict lower bound
/// with plenty of slack for rounding (which is of the order of 1e-8 m).
const BOX_MARGIN_M: f64 = 1.0;

/// One prepared fence.
#[derive(Debug, Clone)]
pub(crate) struct PreparedFence {
    pub site: SiteIdx,
    /// ECEF box holding the fence's surface patch, with margin.
    pub lo: [f64; 3],
    pub hi: [f64; 3],
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Circle {
        centre: [f64; 3],
        radius_m: f64,
    },
    /// Rings `rings[first..last]` of [`FenceSet::rings`].
    Polygon {
        first: usize,
        last: usize,
    },
}

/// A fence grown by its site's tolerance, for the presence probability.
#[derive(Debug, Clone)]
enum Area {
    /// A circle fence grown: the disc of radius `radius_m` (the fence's radius plus the
    /// tolerance) around `centre` (ECEF), whose probability has a closed form.
    Disc { centre: [f64; 3], radius_m: f64 },
    /// A polygon fence grown: rings `area_rings[first..last]` of [`FenceSet`], each ring
    /// `area_verts[start..end]` in ECEF, closed, with the area on its left (see `grow.rs`).
    Rings { first: usize, last: usize },
}

/// All prepared fences of a policy, grouped by site in policy order, with their vertices in
/// one flat array.
#[derive(Debug, Clone, Default)]
pub(crate) struct FenceSet {
    pub fences: Vec<PreparedFence>,
    /// Fences of site `s` are `fences[site_fences[s]..site_fences[s + 1]]`.
    pub site_fences: Vec<usize>,
    /// Each ring as `verts[start..end]`, closed (last vertex equals the first).
    rings: Vec<(usize, usize)>,
    verts: Vec<[f64; 3]>,
    /// Each site's tolerance in metres, by site index.
    pub(crate) site_tolerance: Vec<f64>,
    /// The largest tolerance of any site, metres: the distance bounds of the searches allow
    /// for it.
    pub(crate) max_tolerance: f64,
    /// For the probability rule, fence `f` grown by its site's tolerance. Empty under the
    /// accuracy-circle rule, which never needs it.
    areas: Vec<Area>,
    area_rings: Vec<(usize, usize)>,
    area_verts: Vec<[f64; 3]>,
}

impl FenceSet {
    /// Prepares the fences of every site, given as (fences, tolerance in metres) in policy
    /// order; with `grow_areas`, also each fence's outline grown by its site's tolerance, for
    /// the presence probability.
    pub(crate) fn new<'a>(
        sites: impl IntoIterator<Item = (&'a [Fence], f64)>,
        grow_areas: bool,
    ) -> FenceSet {
        let mut set = FenceSet {
            site_fences: vec![0],
            ..FenceSet::default()
        };
        for (site, (fences, tolerance_m)) in sites.into_iter().enumerate() {
            set.site_tolerance.push(tolerance_m);
            set.max_tolerance = set.max_tolerance.max(tolerance_m);
            if grow_areas {
                for fence in fences {
                    let area = match fence {
                        Fence::Circle { center, radius_m } => Area::Disc {
                            centre: to_ecef(center.x, center.y),
                            radius_m: radius_m + tolerance_m,
                        },
                        Fence::Polygon(polygon) => {
                            set.push_rings(&grow::polygon(polygon, tolerance_m))
                        }
                    };
                    set.areas.push(area);
                }
            }
            for fence in fences {
                let prepared = match fence {
                    Fence::Circle { center, radius_m } => {
                        set.prepare_circle(site, *center, *radius_m)
                    }
                    Fence::Polygon(polygon) => set.prepare_polygon(site, polygon),
                };
                set.fences.push(prepared);
            }
            set.site_fences.push(set.fences.len());
        }
        set
    }

    pub(crate) fn site_count(&self) -> usize {
        self.site_fences.len() - 1
    }

    /// Fence indexes of one site.
    pub(crate) fn fences_of(&self, site: SiteIdx) -> std::ops::Range<usize> {
        self.site_fences[site]..self.site_fences[site + 1]
    }

    fn prepare_circle(
        &mut self,
        site: SiteIdx,
        center: Coord<f64>,
        radius_m: f64,
    ) -> PreparedFence {
        let centre = to_ecef(center.x, center.y);
        // The cap lies within a 3-D ball of radius r around the centre (a chord is never
        // longer than its arc); the cube around that ball contains it.
        let half = radius_m + BOX_MARGIN_M;
        PreparedFence {
            site,
            lo: centre.map(|v| v - half),
            hi: centre.map(|v| v + half),
            shape: Shape::Circle { centre, radius_m },
        }
    }

    fn prepare_polygon(&mut self, site: SiteIdx, polygon: &Polygon<f64>) -> PreparedFence {
        let first = self.rings.len();
        let verts_start = self.verts.len();
        self.push_ring(polygon.exterior());
        for hole in polygon.interiors() {
            self.push_ring(hole);
        }
        let last = self.rings.len();

        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for v in &self.verts[verts_start..] {
            for k in 0..3 {
                lo[k] = lo[k].min(v[k]);
                hi[k] = hi[k].max(v[k]);
            }
        }
        // The surface inside the rim bulges above the vertices' hull by at most D²/(8 ρ_min),
        // D being the chord diameter (at most the box diagonal).
        let diag2: f64 = (0..3).map(|k| (hi[k] - lo[k]).powi(2)).sum();
        let margin = diag2 / (8.0 * RHO_MIN) + BOX_MARGIN_M;
        PreparedFence {
            site,
            lo: lo.map(|v| v - margin),
            hi: hi.map(|v| v + margin),
            shape: Shape::Polygon { first, last },
        }
    }

    /// Stores one grown polygon's rings in ECEF, as they are.
    fn push_rings(&mut self, grown: &Polygon<f64>) -> Area {
        let first = self.area_rings.len();
        for ring in std::iter::once(grown.exterior()).chain(grown.interiors()) {
            let start = self.area_verts.len();
            self.area_verts
                .extend(ring.0.iter().map(|c| to_ecef(c.x, c.y)));
            self.area_rings.push((start, self.area_verts.len()));
        }
        Area::Rings {
            first,
            last: self.area_rings.len(),
        }
    }

    /// Whether the grown outlines were prepared (the policy uses the probability rule).
    pub(crate) fn has_areas(&self) -> bool {
        !self.areas.is_empty()
    }

    /// The probability that a fix at `frame` with error `sigma` is inside fence `f` grown by
    /// its site's tolerance; see `presence.rs`. 0 when the outlines were not prepared.
    pub(crate) fn area_probability(&self, f: usize, frame: &Frame, sigma: f64) -> f64 {
        match self.areas.get(f) {
            None => 0.0,
            Some(&Area::Disc { centre, radius_m }) => {
                // The distance to the centre as the signed distance measures it.
                let d = frame.rel(&centre);
                presence::disc_probability(arc_from_chord(dot(&d, &d).sqrt()), radius_m, sigma)
            }
            Some(&Area::Rings { first, last }) => {
                let rings = self.area_rings[first..last]
                    .iter()
                    .map(|&(start, end)| &self.area_verts[start..end]);
                presence::area_probability(frame, rings, sigma)
            }
        }
    }

    /// Densifies one ring in lon/lat and stores it in ECEF, closed.
    fn push_ring(&mut self, ring: &LineString<f64>) {
        let start = self.verts.len();
        let coords = &ring.0;
        let Some(&head) = coords.first() else {
            return;
        };
        let mut prev = head;
        let mut prev_ecef = to_ecef(prev.x, prev.y);
        self.verts.push(prev_ecef);
        // Walk every edge, closing the ring if the input did not.
        let closing = (coords.last() != Some(&head)).then_some(head);
        for &next in coords[1..].iter().chain(closing.iter()) {
            let next_ecef = to_ecef(next.x, next.y);
            // The chord is computed identically for both directions of an edge (IEEE
            // subtraction is antisymmetric and squares drop the sign), so a reversed ring is
            // densified at the same count.
            let d = sub(&next_ecef, &prev_ecef);
            let pieces = (dot(&d, &d).sqrt() / MAX_PIECE_M).ceil().max(1.0) as usize;
            for i in 1..pieces {
                let t = i as f64 / pieces as f64;
                let lon = prev.x + (next.x - prev.x) * t;
                let lat = prev.y + (next.y - prev.y) * t;
                self.verts.push(to_ecef(lon, lat));
            }
            self.verts.push(next_ecef);
            prev = next;
            prev_ecef = next_ecef;
        }
        self.rings.push((start, self.verts.len()));
    }

    /// Squared 3-D distance from the fix to fence `f`'s box: zero inside it.
    #[inline]
    pub(crate) fn box_distance2(&self, f: usize, x: &[f64; 3]) -> f64 {
        let fence = &self.fences[f];
        box_distance2(&fence.lo, &fence.hi, x)
    }

    /// Signed distance in metres from the fix to fence `f`'s boundary: negative inside.
    pub(crate) fn signed_distance(&self, f: usize, frame: &Frame) -> f64 {
        let fence = &self.fences[f];
        match fence.shape {
            Shape::Circle { centre, radius_m } => {
                let d = frame.rel(&centre);
                arc_from_chord(dot(&d, &d).sqrt()) - radius_m
            }
            Shape::Polygon { first, last } => {
                let x = &frame.x;
                let in_box = (0..3).all(|k| fence.lo[k] <= x[k] && x[k] <= fence.hi[k]);
                let mut best2 = f64::INFINITY;
                let mut inside = false;
                for &(start, end) in &self.rings[first..last] {
                    let ring = &self.verts[start..end];
                    if in_box {
                        let (d2, odd) = ring_distance2_and_parity(frame, ring);
                        best2 = best2.min(d2);
                        inside ^= odd;
                    } else {
                        best2 = best2.min(ring_distance2(frame, ring));
                    }
                }
                let d = arc_from_chord(best2.sqrt());
                if inside { -d } else { d }
            }
        }
    }
}

/// Squared distance from `x` to the box `lo..=hi`: zero inside it (closed).
#[inline(always)]
pub(crate) fn box_distance2(lo: &[f64; 3], hi: &[f64; 3], x: &[f64; 3]) -> f64 {
    let mut d2 = 0.0;
    for ((lo, hi), x) in lo.iter().zip(hi).zip(x) {
        let gap = (lo - x).max(x - hi).max(0.0);
        d2 += gap * gap;
    }
    d2
}

/// Squared distance from the origin to the segment `p`–`q` (fix-relative ECEF).
///
/// Endpoint cases return exactly `|p|²` or `|q|²`, so a repeated vertex or a reversed edge
/// gives the same value.
#[inline(always)]
fn segment_distance2(p: &[f64; 3], q: &[f64; 3]) -> f64 {
    let w = sub(q, p);
    let ww = dot(&w, &w);
    let pw = dot(p, &w);
    if pw >= 0.0 || ww == 0.0 {
        // The foot of the perpendicular is at or before p.
        return dot(p, p);
    }
    if -pw >= ww {
        return dot(q, q);
    }
    let t = -pw / ww;
    let r = [p[0] + t * w[0], p[1] + t * w[1], p[2] + t * w[2]];
    dot(&r, &r)
}

/// Minimum squared distance from the fix to a closed ring.
fn ring_distance2(frame: &Frame, ring: &[[f64; 3]]) -> f64 {
    let mut best = f64::INFINITY;
    let mut p = frame.rel(&ring[0]);
    for v in &ring[1..] {
        let q = frame.rel(v);
        best = best.min(segment_distance2(&p, &q));
        p = q;
    }
    best
}

/// Whether the edge `p`–`q` (east/north, relative to the fix) crosses the ray from the fix
/// along local east: the even-odd rule of every inside test here. The edge crosses the east
/// axis at east = cross / (q_n − p_n), counted when that is positive; `cross` negates exactly
/// when p and q swap, so the answer does not depend on the edge's direction.
#[inline(always)]
pub(crate) fn crosses_east_ray(p: [f64; 2], q: [f64; 2]) -> bool {
    if (p[1] > 0.0) == (q[1] > 0.0) {
        return false;
    }
    let cross = p[0] * q[1] - p[1] * q[0];
    (q[1] > p[1] && cross > 0.0) || (q[1] < p[1] && cross < 0.0)
}

/// Minimum squared distance from the fix to a closed ring, and whether a ray from the fix
/// along local east crosses the ring an odd number of times.
fn ring_distance2_and_parity(frame: &Frame, ring: &[[f64; 3]]) -> (f64, bool) {
    let mut best = f64::INFINITY;
    let mut odd = false;
    let mut p = frame.rel(&ring[0]);
    let mut pen = frame.east_north(&p);
    for v in &ring[1..] {
        let q = frame.rel(v);
        let qen = frame.east_north(&q);
        best = best.min(segment_distance2(&p, &q));
        if crosses_east_ray(pen, qen) {
            odd = !odd;
        }
        p = q;
        pen = qen;
    }
    (best, odd)
}
