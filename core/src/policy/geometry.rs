//! Fences from JSON: GeoJSON Polygon and MultiPolygon (RFC 7946, `[lon, lat]`) and circles,
//! checked until the geofence engine can trust them without looking again.
//!
//! A polygon is accepted when every position is a finite, in-range `[lon, lat]` (an altitude
//! may follow and is ignored), every ring is closed with at least three distinct positions,
//! not degenerate (encloses at least 1 m²) and simple (no edge crosses, touches or overlaps
//! another), every hole lies inside the exterior ring, no two rings share an edge, no two holes
//! overlap, and the whole fence is at most 50 km across. Winding order is not enforced
//! (RFC 7946 asks parsers not to), and consecutive repeated positions are tolerated.
//!
//! Simplicity is checked with a sweep over the edges sorted by west edge, comparing only edges
//! whose bounding boxes overlap, and testing those with geo's robust [`line_intersection`].
//! `geo::Validation` is not used for this because its ring check compares every edge with
//! every other (10^8 comparisons per ring at the 10,000-position limit, on a phone). A sweep is
//! fast for real outlines but still quadratic for a crafted ring (a fine comb whose teeth all
//! overlap in longitude), so every comparison counts against a per-document budget
//! ([`MAX_EDGE_PAIR_CHECKS`]); a document that exhausts it is refused instead of hanging. The
//! ring-relation checks are the ones `geo::Validation` makes (DE-9IM via [`Relate`]), run only
//! for pairs of rings whose bounding boxes meet, on polygons of at most
//! [`MAX_POSITIONS_PER_POLYGON`] positions; each comparison costs time in proportion to both
//! rings' positions, charged against [`MAX_HOLE_CHECK_POSITIONS`] per document. A unit test
//! checks that our verdicts agree with `geo::Validation`.
//!
//! Not checked, as in `geo::Validation`: whether several holes touching at points cut a
//! polygon's interior in two; and whether the polygons of one MultiPolygon overlap (a fence
//! set is a union, so overlap is harmless).

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{
    BoundingRect, Coord, Distance, Haversine, Intersects, Line, LineString, Point, Polygon,
    PreparedGeometry, Rect, Relate,
};

use super::Fence;
use super::error::{GeometryProblem, PolicyError, PolicyErrorKind};
use super::json::{Json, Path};
use super::limits::{
    MAX_CIRCLE_RADIUS_M, MAX_EDGE_PAIR_CHECKS, MAX_FENCE_ACROSS_M, MAX_FENCES_PER_SITE,
    MAX_HOLE_CHECK_POSITIONS, MAX_POLYGONS_PER_MULTIPOLYGON, MAX_POSITIONS_PER_POLYGON,
    MAX_POSITIONS_PER_RING, MAX_RINGS_PER_POLYGON, MIN_RING_AREA_M2,
};

const FENCE_FIELDS: &[&str] = &["type", "coordinates", "center", "radius_m"];
const POLYGON_FIELDS: &[&str] = &["type", "coordinates"];
const CIRCLE_FIELDS: &[&str] = &["type", "center", "radius_m"];

/// Mean Earth radius (IUGG), metres; used only for the local metric checks here.
const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Positions closer than this (metres) to the line through the others count as on it.
const COLLINEAR_TOLERANCE_M: f64 = 0.01;

/// The geometry work a document may still cause, shared by all its fences.
pub(crate) struct WorkBudget {
    edge_pair_checks_left: u64,
    hole_check_positions_left: u64,
}

impl WorkBudget {
    pub(crate) fn new() -> WorkBudget {
        WorkBudget {
            edge_pair_checks_left: MAX_EDGE_PAIR_CHECKS,
            hole_check_positions_left: MAX_HOLE_CHECK_POSITIONS,
        }
    }
}

/// Parses a site's `fences` array. A MultiPolygon contributes one fence per polygon.
pub(crate) fn parse_fences(
    v: &Json,
    path: &Path<'_>,
    work: &mut WorkBudget,
) -> Result<Vec<Fence>, PolicyError> {
    let items = v.as_array(path, MAX_FENCES_PER_SITE)?;
    if items.is_empty() {
        return Err(path.err(PolicyErrorKind::Empty));
    }
    let mut fences = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        parse_fence(item, &path.index(i), &mut fences, work)?;
    }
    Ok(fences)
}

enum FenceType {
    Polygon,
    MultiPolygon,
    Circle,
}

fn parse_fence(
    v: &Json,
    path: &Path<'_>,
    out: &mut Vec<Fence>,
    work: &mut WorkBudget,
) -> Result<(), PolicyError> {
    let obj = v.as_object(path, FENCE_FIELDS)?;
    let ty = match obj.get("type") {
        Some(t) => {
            let tp = path.key("type");
            match t.as_str(&tp)? {
                "Polygon" => FenceType::Polygon,
                "MultiPolygon" => FenceType::MultiPolygon,
                "Circle" => FenceType::Circle,
                _ => {
                    return Err(tp.invalid(
                        t.show(),
                        "expected \"Polygon\", \"MultiPolygon\" or \"Circle\"",
                    ));
                }
            }
        }
        None if obj.has("center") || obj.has("radius_m") => FenceType::Circle,
        None => return Err(path.key("type").err(PolicyErrorKind::Missing)),
    };
    let (own, foreign): (&'static [&'static str], &[&str]) = match ty {
        FenceType::Circle => (CIRCLE_FIELDS, &["coordinates"]),
        _ => (POLYGON_FIELDS, &["center", "radius_m"]),
    };
    for key in foreign {
        if obj.has(key) {
            return Err(path
                .key(key)
                .err(PolicyErrorKind::UnknownField { allowed: own }));
        }
    }
    match ty {
        FenceType::Circle => {
            let cp = path.key("center");
            let center = parse_position(obj.req(path, "center")?, &cp)?;
            let rp = path.key("radius_m");
            let rv = obj.req(path, "radius_m")?;
            let radius_m = rv.as_f64(&rp)?;
            if !(radius_m > 0.0 && radius_m <= MAX_CIRCLE_RADIUS_M) {
                return Err(rp.invalid(
                    rv.show(),
                    format!("radius must be greater than 0 and at most {MAX_CIRCLE_RADIUS_M} m"),
                ));
            }
            out.push(Fence::Circle { center, radius_m });
        }
        FenceType::Polygon => {
            let cp = path.key("coordinates");
            out.push(Fence::Polygon(parse_polygon(
                obj.req(path, "coordinates")?,
                &cp,
                work,
            )?));
        }
        FenceType::MultiPolygon => {
            let cp = path.key("coordinates");
            let polys = obj
                .req(path, "coordinates")?
                .as_array(&cp, MAX_POLYGONS_PER_MULTIPOLYGON)?;
            if polys.is_empty() {
                return Err(cp.err(PolicyErrorKind::Empty));
            }
            for (i, p) in polys.iter().enumerate() {
                out.push(Fence::Polygon(parse_polygon(p, &cp.index(i), work)?));
            }
        }
    }
    Ok(())
}

/// A `[lon, lat]` or `[lon, lat, alt]` position; the altitude is checked to be a number and
/// dropped.
pub(crate) fn parse_position(v: &Json, path: &Path<'_>) -> Result<Coord<f64>, PolicyError> {
    let items = match v {
        Json::Arr(items) => items,
        _ => {
            return Err(path.err(PolicyErrorKind::WrongType {
                expected: "position [longitude, latitude]",
                found: v.describe(),
            }));
        }
    };
    if items.len() < 2 {
        return Err(path.invalid(
            v.show(),
            "a position needs two numbers, [longitude, latitude]",
        ));
    }
    if items.len() > 3 {
        return Err(path.invalid(
            v.show(),
            "a position has at most three numbers, [longitude, latitude, altitude]",
        ));
    }
    let mut n = [0.0; 3];
    for (i, item) in items.iter().enumerate() {
        n[i] = item.as_f64(&path.index(i))?;
    }
    let (lon, lat) = (n[0], n[1]);
    if !(-180.0..=180.0).contains(&lon) {
        return Err(path.invalid(
            v.show(),
            format!("longitude {} is outside -180..=180", short_number(lon)),
        ));
    }
    if !(-90.0..=90.0).contains(&lat) {
        let hint = if (-90.0..=90.0).contains(&lon) {
            " (positions are [longitude, latitude]; are the two swapped?)"
        } else {
            ""
        };
        return Err(path.invalid(
            v.show(),
            format!("latitude {} is outside -90..=90{hint}", short_number(lat)),
        ));
    }
    Ok(Coord { x: lon, y: lat })
}

/// `95` for 95.0, `114.2`, `1e308`: whole numbers without a fraction, others as Rust's
/// shortest round-trip form (which uses an exponent for very large or small magnitudes).
fn short_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:?}")
    }
}

/// One ring as parsed: all its positions, and the index of each distinct one (consecutive
/// repeats dropped) so problems can be reported in the document's numbering.
struct Ring {
    coords: Vec<Coord<f64>>,
    /// Indexes into `coords` of the positions that differ from their predecessor.
    distinct: Vec<usize>,
}

fn parse_ring(v: &Json, path: &Path<'_>) -> Result<Ring, PolicyError> {
    let items = v.as_array(path, MAX_POSITIONS_PER_RING)?;
    let mut coords = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        coords.push(parse_position(item, &path.index(i))?);
    }
    let mut distinct: Vec<usize> = Vec::with_capacity(coords.len());
    for (i, c) in coords.iter().enumerate() {
        if distinct.last().is_none_or(|&j| coords[j] != *c) {
            distinct.push(i);
        }
    }
    let geometry = |problem| {
        path.err(PolicyErrorKind::Geometry {
            value: v.show(),
            problem,
        })
    };
    // A closed ring repeats its first position last; count the distinct ones without it.
    let closed = coords.len() >= 2 && coords.first() == coords.last();
    let n_distinct = distinct.len() - usize::from(closed && distinct.len() > 1);
    if coords.len() < 4 || n_distinct < 3 {
        return Err(geometry(GeometryProblem::TooFewPositions {
            distinct: n_distinct,
        }));
    }
    if !closed {
        return Err(geometry(GeometryProblem::NotClosed));
    }
    Ok(Ring { coords, distinct })
}

/// A polygon's rings, checked one by one and then against each other.
fn parse_polygon(
    v: &Json,
    path: &Path<'_>,
    work: &mut WorkBudget,
) -> Result<Polygon<f64>, PolicyError> {
    let ring_values = v.as_array(path, MAX_RINGS_PER_POLYGON)?;
    if ring_values.is_empty() {
        return Err(path.err(PolicyErrorKind::Empty));
    }
    let mut rings = Vec::with_capacity(ring_values.len());
    let mut positions = 0;
    for (i, rv) in ring_values.iter().enumerate() {
        let rp = path.index(i);
        let ring = parse_ring(rv, &rp)?;
        positions += ring.coords.len();
        if positions > MAX_POSITIONS_PER_POLYGON {
            return Err(rp.err(PolicyErrorKind::TooLarge {
                what: "positions in one polygon",
                max: MAX_POSITIONS_PER_POLYGON,
            }));
        }
        rings.push(ring);
    }

    // Extent first: it is cheap, and a continent-sized "fence" should not cost a sweep.
    let shell_rect = bounding_rect(&rings[0].coords);
    let across_m = Haversine.distance(Point(shell_rect.min()), Point(shell_rect.max()));
    if across_m > MAX_FENCE_ACROSS_M {
        return Err(path.err(PolicyErrorKind::Geometry {
            value: v.show(),
            problem: GeometryProblem::TooWide {
                across_m,
                max_m: MAX_FENCE_ACROSS_M,
            },
        }));
    }

    for (i, ring) in rings.iter().enumerate() {
        let problem = ring_problem(ring, work).ok_or_else(|| {
            path.index(i).err(PolicyErrorKind::TooLarge {
                what: "edge-pair comparisons while checking fences",
                max: MAX_EDGE_PAIR_CHECKS as usize,
            })
        })?;
        if let Some(problem) = problem {
            return Err(path.index(i).err(PolicyErrorKind::Geometry {
                value: ring_values[i].show(),
                problem,
            }));
        }
    }

    let mut rings = rings.into_iter().map(|r| LineString::new(r.coords));
    let exterior = rings.next().unwrap_or_else(|| LineString::new(vec![]));
    let polygon = Polygon::new(exterior, rings.collect());
    match ring_relations(&polygon, work) {
        Relations::Fine => Ok(polygon),
        Relations::Problem(i, problem) => Err(path.index(i).err(PolicyErrorKind::Geometry {
            value: ring_values[i].show(),
            problem,
        })),
        Relations::OutOfWork(i) => Err(path.index(i).err(PolicyErrorKind::TooLarge {
            what: "ring positions compared while checking holes",
            max: MAX_HOLE_CHECK_POSITIONS as usize,
        })),
    }
}

/// The first problem of a polygon daka made itself (a fence grown by its site's tolerance),
/// checked as a fence in the document is: every ring simple, holes inside the exterior and
/// apart. `Ok(None)` when it is a valid fence; `Err(())` when the work budget runs out.
pub(crate) fn made_polygon_problem(
    polygon: &Polygon<f64>,
    work: &mut WorkBudget,
) -> Result<Option<GeometryProblem>, ()> {
    for line in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        let coords = line.0.clone();
        let mut distinct: Vec<usize> = Vec::with_capacity(coords.len());
        for (i, c) in coords.iter().enumerate() {
            if distinct.last().is_none_or(|&j| coords[j] != *c) {
                distinct.push(i);
            }
        }
        if distinct.len() < 4 {
            return Ok(Some(GeometryProblem::TooFewPositions {
                distinct: distinct.len().saturating_sub(1),
            }));
        }
        if let Some(problem) = ring_problem(&Ring { coords, distinct }, work).ok_or(())? {
            return Ok(Some(problem));
        }
    }
    match ring_relations(polygon, work) {
        Relations::Fine => Ok(None),
        Relations::Problem(_, problem) => Ok(Some(problem)),
        Relations::OutOfWork(_) => Err(()),
    }
}

fn bounding_rect(coords: &[Coord<f64>]) -> Rect<f64> {
    let mut min = coords[0];
    let mut max = coords[0];
    for c in coords {
        min.x = min.x.min(c.x);
        min.y = min.y.min(c.y);
        max.x = max.x.max(c.x);
        max.y = max.y.max(c.y);
    }
    Rect::new(min, max)
}

/// Projects positions to metres on a plane tangent at `origin` (equirectangular); accurate
/// enough for the degeneracy checks on fences at most 50 km across.
fn local_metres(origin: Coord<f64>, c: Coord<f64>) -> (f64, f64) {
    let k = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
    (
        (c.x - origin.x) * k * origin.y.to_radians().cos(),
        (c.y - origin.y) * k,
    )
}

/// The first problem of a single ring: degenerate, self-intersecting or too small. `None` when
/// the work budget ran out before the answer was known.
fn ring_problem(ring: &Ring, work: &mut WorkBudget) -> Option<Option<GeometryProblem>> {
    let coords = &ring.coords;
    let origin = coords[0];
    let pts: Vec<(f64, f64)> = ring
        .distinct
        .iter()
        .map(|&i| local_metres(origin, coords[i]))
        .collect();

    // All on one line (or within a centimetre of it): no area, whatever the sweep would say.
    let far = pts
        .iter()
        .copied()
        .max_by(|a, b| (a.0.hypot(a.1)).total_cmp(&b.0.hypot(b.1)))
        .unwrap_or((0.0, 0.0));
    let len = far.0.hypot(far.1);
    let off_line = pts
        .iter()
        .map(|p| (far.0 * p.1 - far.1 * p.0).abs() / len)
        .fold(0.0, f64::max);
    if len < COLLINEAR_TOLERANCE_M || off_line < COLLINEAR_TOLERANCE_M {
        return Some(Some(GeometryProblem::ZeroArea));
    }

    if let Some(problem) = self_intersection(ring, work)? {
        return Some(Some(problem));
    }

    let area = shoelace(&pts).abs();
    if area < MIN_RING_AREA_M2 {
        return Some(Some(GeometryProblem::ZeroArea));
    }
    Some(None)
}

fn shoelace(pts: &[(f64, f64)]) -> f64 {
    let mut twice = 0.0;
    for w in pts.windows(2) {
        twice += w[0].0 * w[1].1 - w[1].0 * w[0].1;
    }
    twice / 2.0
}

/// An edge of a ring with its bounding box, numbered by its position in the ring's edge cycle.
struct Edge {
    n: usize,
    line: Line<f64>,
    min: Coord<f64>,
    max: Coord<f64>,
}

/// Finds two edges of a closed ring that meet anywhere other than at the vertex two
/// consecutive edges share; reports the pair that comes first in the ring. `None` when the
/// work budget ran out.
fn self_intersection(ring: &Ring, work: &mut WorkBudget) -> Option<Option<GeometryProblem>> {
    let d = &ring.distinct;
    // `d` includes the closing position; edges join consecutive distinct positions.
    let mut edges: Vec<Edge> = d
        .windows(2)
        .enumerate()
        .map(|(n, w)| {
            let (a, b) = (ring.coords[w[0]], ring.coords[w[1]]);
            Edge {
                n,
                line: Line::new(a, b),
                min: Coord {
                    x: a.x.min(b.x),
                    y: a.y.min(b.y),
                },
                max: Coord {
                    x: a.x.max(b.x),
                    y: a.y.max(b.y),
                },
            }
        })
        .collect();
    let count = edges.len();
    let adjacent = |a: usize, b: usize| (a + 1) % count == b || (b + 1) % count == a;
    edges.sort_by(|a, b| a.min.x.total_cmp(&b.min.x));
    let mut first: Option<(usize, usize, Coord<f64>)> = None;
    for (i, a) in edges.iter().enumerate() {
        for b in &edges[i + 1..] {
            if b.min.x > a.max.x {
                break;
            }
            work.edge_pair_checks_left = work.edge_pair_checks_left.checked_sub(1)?;
            if b.min.y > a.max.y || b.max.y < a.min.y {
                continue;
            }
            let bad_at = match line_intersection(a.line, b.line) {
                None => None,
                Some(LineIntersection::SinglePoint { .. }) if adjacent(a.n, b.n) => None,
                Some(LineIntersection::SinglePoint { intersection, .. }) => Some(intersection),
                Some(LineIntersection::Collinear { intersection }) => Some(intersection.start),
            };
            if let Some(at) = bad_at {
                let (lo, hi) = (a.n.min(b.n), a.n.max(b.n));
                if first.is_none_or(|(fl, fh, _)| (lo, hi) < (fl, fh)) {
                    first = Some((lo, hi, at));
                }
            }
        }
    }
    Some(first.map(|(lo, hi, at)| GeometryProblem::SelfIntersection {
        edge: d[lo],
        other_edge: d[hi],
        at: [at.x, at.y],
    }))
}

enum Relations {
    Fine,
    /// The ring at this index (0 = exterior) has this problem.
    Problem(usize, GeometryProblem),
    /// The work budget ran out while checking the ring at this index.
    OutOfWork(usize),
}

impl WorkBudget {
    /// Charges one DE-9IM comparison of two rings; `false` once the budget is exhausted.
    fn charge_relate(&mut self, a: &LineString<f64>, b: &LineString<f64>) -> bool {
        let cost = (a.0.len() + b.0.len()) as u64;
        match self.hole_check_positions_left.checked_sub(cost) {
            Some(left) => {
                self.hole_check_positions_left = left;
                true
            }
            None => false,
        }
    }
}

/// Checks the rings of a polygon against each other. Each ring is already known to be simple
/// and closed.
fn ring_relations(polygon: &Polygon<f64>, work: &mut WorkBudget) -> Relations {
    let holes = polygon.interiors();
    let shell = Polygon::new(polygon.exterior().clone(), vec![]);
    let (Some(shell_rect), false) = (shell.bounding_rect(), holes.is_empty()) else {
        return Relations::Fine;
    };
    let prepared = PreparedGeometry::from(&shell);
    for (i, hole) in holes.iter().enumerate() {
        let ring = i + 1;
        let Some(hole_rect) = hole.bounding_rect() else {
            continue;
        };
        // A hole inside the shell has its bounding box inside the shell's.
        if hole_rect.min().x < shell_rect.min().x
            || hole_rect.min().y < shell_rect.min().y
            || hole_rect.max().x > shell_rect.max().x
            || hole_rect.max().y > shell_rect.max().y
        {
            return Relations::Problem(ring, GeometryProblem::HoleOutsideShell);
        }
        if !work.charge_relate(polygon.exterior(), hole) {
            return Relations::OutOfWork(ring);
        }
        let m = prepared.relate(hole);
        if m.get(CoordPos::OnBoundary, CoordPos::Inside) == Dimensions::OneDimensional {
            return Relations::Problem(ring, GeometryProblem::RingsShareEdge { other: 0 });
        }
        if !m.is_contains() {
            return Relations::Problem(ring, GeometryProblem::HoleOutsideShell);
        }
    }
    let hole_polys: Vec<(Polygon<f64>, Option<Rect<f64>>)> = holes
        .iter()
        .map(|h| {
            let p = Polygon::new(h.clone(), vec![]);
            let r = p.bounding_rect();
            (p, r)
        })
        .collect();
    for (i, (a, ar)) in hole_polys.iter().enumerate() {
        let prepared = PreparedGeometry::from(a);
        for (j, (b, br)) in hole_polys.iter().enumerate().skip(i + 1) {
            let (Some(ar), Some(br)) = (ar, br) else {
                continue;
            };
            if !ar.intersects(br) {
                continue;
            }
            if !work.charge_relate(a.exterior(), b.exterior()) {
                return Relations::OutOfWork(j + 1);
            }
            let m = prepared.relate(b);
            if m.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Relations::Problem(j + 1, GeometryProblem::HolesOverlap { other: i + 1 });
            }
            if m.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Relations::Problem(j + 1, GeometryProblem::RingsShareEdge { other: i + 1 });
            }
        }
    }
    Relations::Fine
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Validation;
    use proptest::prelude::*;

    fn ring_json(coords: &[(f64, f64)]) -> Json {
        Json::Arr(
            coords
                .iter()
                .map(|&(x, y)| Json::Arr(vec![Json::Float(x), Json::Float(y)].into()))
                .collect(),
        )
    }

    fn polygon_json(rings: &[Vec<(f64, f64)>]) -> Json {
        Json::Arr(rings.iter().map(|r| ring_json(r)).collect())
    }

    /// Our checks and geo's `Validation` agree on small random polygons near Hong Kong.
    fn agree(rings: Vec<Vec<(f64, f64)>>) {
        let root = Path::Root;
        let ours = parse_polygon(&polygon_json(&rings), &root, &mut WorkBudget::new());
        let theirs = Polygon::new(
            LineString::from(rings[0].clone()),
            rings[1..]
                .iter()
                .map(|r| LineString::from(r.clone()))
                .collect(),
        );
        let geo_valid = theirs.is_valid();
        match &ours {
            Ok(_) => assert!(
                geo_valid,
                "accepted but geo says {:?}",
                theirs.validation_errors()
            ),
            // Where geo is stricter or looser than we are on purpose, say so.
            Err(e) => {
                if geo_valid {
                    assert!(
                        matches!(
                            e.kind,
                            PolicyErrorKind::Geometry {
                                problem: GeometryProblem::ZeroArea
                                    | GeometryProblem::SelfIntersection { .. },
                                ..
                            }
                        ),
                        "rejected {e} but geo accepts it"
                    );
                }
            }
        }
    }

    fn closed(mut pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
        pts.push(pts[0]);
        pts
    }

    fn grid_point() -> impl Strategy<Value = (f64, f64)> {
        // A coarse grid makes touching and collinear cases likely.
        (0u8..6, 0u8..6)
            .prop_map(|(x, y)| (114.18 + f64::from(x) * 0.001, 22.28 + f64::from(y) * 0.001))
    }

    proptest! {
        #[test]
        fn agrees_with_geo_validation(
            shell in prop::collection::vec(grid_point(), 3..8),
            hole in prop::option::of(prop::collection::vec(grid_point(), 3..6)),
        ) {
            let mut rings = vec![closed(shell)];
            if let Some(h) = hole {
                rings.push(closed(h));
            }
            agree(rings);
        }
    }

    #[test]
    fn hole_checks_stop_when_the_work_budget_runs_out() {
        let square =
            |x: f64, y: f64, d: f64| vec![(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)];
        let rings = [
            square(114.0, 22.0, 0.01),
            square(114.001, 22.001, 0.001),
            square(114.005, 22.005, 0.001),
        ];
        // Each hole-versus-exterior comparison costs 5 + 5 positions: room for one.
        let mut work = WorkBudget {
            edge_pair_checks_left: MAX_EDGE_PAIR_CHECKS,
            hole_check_positions_left: 15,
        };
        let err = parse_polygon(&polygon_json(&rings), &Path::Root, &mut work).unwrap_err();
        assert_eq!(err.path, "$[2]");
        assert_eq!(
            err.kind,
            PolicyErrorKind::TooLarge {
                what: "ring positions compared while checking holes",
                max: MAX_HOLE_CHECK_POSITIONS as usize,
            }
        );
        assert!(parse_polygon(&polygon_json(&rings), &Path::Root, &mut WorkBudget::new()).is_ok());
    }

    #[test]
    fn bow_tie_is_a_self_intersection() {
        let ring = closed(vec![(0.0, 0.0), (0.001, 0.001), (0.001, 0.0), (0.0, 0.001)]);
        let err =
            parse_polygon(&polygon_json(&[ring]), &Path::Root, &mut WorkBudget::new()).unwrap_err();
        assert_eq!(err.path, "$[0]");
        assert!(matches!(
            err.kind,
            PolicyErrorKind::Geometry {
                problem: GeometryProblem::SelfIntersection {
                    edge: 0,
                    other_edge: 2,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn repeated_positions_keep_document_numbering() {
        // Position 1 is repeated; the crossing edges are 0→2 and 3→4 in document numbering.
        let ring = vec![
            (0.0, 0.0),
            (0.001, 0.001),
            (0.001, 0.001),
            (0.001, 0.0),
            (0.0, 0.001),
            (0.0, 0.0),
        ];
        let err =
            parse_polygon(&polygon_json(&[ring]), &Path::Root, &mut WorkBudget::new()).unwrap_err();
        match err.kind {
            PolicyErrorKind::Geometry {
                problem:
                    GeometryProblem::SelfIntersection {
                        edge, other_edge, ..
                    },
                ..
            } => assert_eq!((edge, other_edge), (0, 3)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_large_ring_is_checked_quickly() {
        // A 10,000-position circle-like ring: the sweep handles it without quadratic cost.
        let n = MAX_POSITIONS_PER_RING - 1;
        let mut pts: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                (114.18 + 0.01 * t.cos(), 22.28 + 0.01 * t.sin())
            })
            .collect();
        pts.push(pts[0]);
        let started = std::time::Instant::now();
        let polygon =
            parse_polygon(&polygon_json(&[pts]), &Path::Root, &mut WorkBudget::new()).unwrap();
        assert_eq!(polygon.exterior().0.len(), MAX_POSITIONS_PER_RING);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
