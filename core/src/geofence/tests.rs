//! Hand-computed cases for the geofence verdict: known distances along the equator (where a
//! geodesic is `a Δλ`) and along a meridian, holes, the accuracy circle touching an edge,
//! several sites and fences, invalid input, and fixes across the antimeridian.

use geo::{Coord, LineString, Polygon, coord};
use geographiclib_rs::{Geodesic, InverseGeodesic};

use super::{GeofenceIndex, Location, Presence};
use crate::policy::{
    FaceRules, Fence, Org, Policy, PresenceRule, Site, SiteIdx, Thresholds, UncertainAction,
};

/// Metres per degree of longitude along the equator: a π / 180.
const EQ_M_PER_DEG: f64 = 6_378_137.0 * std::f64::consts::PI / 180.0;

pub(super) fn policy(sites: Vec<Vec<Fence>>) -> Policy {
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

pub(super) fn circle(lon: f64, lat: f64, radius_m: f64) -> Fence {
    Fence::Circle {
        center: coord! { x: lon, y: lat },
        radius_m,
    }
}

fn ring(pts: &[(f64, f64)]) -> LineString<f64> {
    LineString::from(pts.iter().map(|&(x, y)| Coord { x, y }).collect::<Vec<_>>())
}

/// Axis-aligned lon/lat square of half-side `h` degrees around (lon, lat).
fn square(lon: f64, lat: f64, h: f64) -> LineString<f64> {
    ring(&[
        (lon - h, lat - h),
        (lon + h, lat - h),
        (lon + h, lat + h),
        (lon - h, lat + h),
        (lon - h, lat - h),
    ])
}

fn all(_: SiteIdx) -> bool {
    true
}

/// Every search path, checked to agree, returning the common answer.
fn locate(index: &GeofenceIndex, lon: f64, lat: f64, acc: f64) -> Location {
    let tree = index.locate(lon, lat, acc, all);
    let linear = index.locate_linear(lon, lat, acc, all);
    let sites: Vec<SiteIdx> = (0..index.site_count()).collect();
    let listed = index.locate_sites(lon, lat, acc, &sites);
    assert_eq!(tree, linear);
    assert_eq!(tree, listed);
    tree
}

fn distance(loc: &Location) -> f64 {
    loc.nearest.expect("a site is allowed").signed_distance_m
}

#[test]
fn point_a_known_distance_outside_a_circle() {
    // Along the equator the geodesic is a Δλ: 0.001° is 111.3195 m, so 11.3195 m outside a
    // 100 m circle.
    let index = GeofenceIndex::new(&policy(vec![vec![circle(0.0, 0.0, 100.0)]]));
    let expected = 0.001 * EQ_M_PER_DEG - 100.0;
    let loc = locate(&index, 0.001, 0.0, 5.0);
    assert!((distance(&loc) - expected).abs() < 1e-3, "{loc:?}");
    assert_eq!(loc.presence, Presence::Outside);
    assert_eq!(
        locate(&index, 0.001, 0.0, 12.0).presence,
        Presence::Uncertain
    );
    // The same point 0.0005° from the centre is 44.34 m inside.
    let inner = locate(&index, 0.0005, 0.0, 40.0);
    assert!((distance(&inner) - (0.0005 * EQ_M_PER_DEG - 100.0)).abs() < 1e-3);
    assert_eq!(inner.presence, Presence::Inside);
}

#[test]
fn point_in_a_hole_is_outside_and_measured_to_the_hole() {
    let fence = Fence::Polygon(Polygon::new(
        square(0.0, 0.0, 0.01),
        vec![square(0.0, 0.0, 0.001)],
    ));
    let index = GeofenceIndex::new(&policy(vec![vec![fence]]));
    // From the hole's centre the nearest hole edge is 0.001° north or south: a meridian arc
    // of M(0) Δφ = a (1 − e²) Δφ = 110.5743 m (the east/west edges are 111.3195 m away).
    let meridian_m = 6_335_439.327 * 0.001_f64.to_radians();
    let loc = locate(&index, 0.0, 0.0, 100.0);
    assert!((distance(&loc) - meridian_m).abs() < 1e-3, "{loc:?}");
    assert_eq!(loc.presence, Presence::Outside);
    assert_eq!(
        locate(&index, 0.0, 0.0, 120.0).presence,
        Presence::Uncertain
    );
    // Between hole and shell, on the equator at 0.005°: 0.004° (445.28 m) from the hole's
    // east edge, 0.005° from the shell's.
    let body = locate(&index, 0.005, 0.0, 400.0);
    assert!(
        (distance(&body) + 0.004 * EQ_M_PER_DEG).abs() < 1e-3,
        "{body:?}"
    );
    assert_eq!(body.presence, Presence::Inside);
}

#[test]
fn accuracy_circle_touching_an_edge_is_uncertain() {
    // A square whose east edge is the meridian 0.01°; fixes on the equator 30 m either side.
    let index = GeofenceIndex::new(&policy(vec![vec![Fence::Polygon(Polygon::new(
        square(0.0, 0.0, 0.01),
        vec![],
    ))]]));
    let edge = 0.01;
    let d = 30.0 / EQ_M_PER_DEG;
    let inside = locate(&index, edge - d, 0.0, 29.9);
    assert!((distance(&inside) + 30.0).abs() < 1e-3, "{inside:?}");
    assert_eq!(inside.presence, Presence::Inside);
    assert_eq!(
        locate(&index, edge - d, 0.0, 30.1).presence,
        Presence::Uncertain
    );
    let outside = locate(&index, edge + d, 0.0, 29.9);
    assert!((distance(&outside) - 30.0).abs() < 1e-3, "{outside:?}");
    assert_eq!(outside.presence, Presence::Outside);
    assert_eq!(
        locate(&index, edge + d, 0.0, 30.1).presence,
        Presence::Uncertain
    );
    // A fix on the edge itself is uncertain for any accuracy above zero.
    assert_eq!(locate(&index, edge, 0.0, 0.5).presence, Presence::Uncertain);
}

#[test]
fn accuracy_zero_is_a_point() {
    let index = GeofenceIndex::new(&policy(vec![vec![circle(0.0, 0.0, 100.0)]]));
    assert_eq!(locate(&index, 0.0005, 0.0, 0.0).presence, Presence::Inside);
    assert_eq!(locate(&index, 0.001, 0.0, 0.0).presence, Presence::Outside);
}

#[test]
fn invalid_accuracy_proves_nothing() {
    let index = GeofenceIndex::new(&policy(vec![vec![circle(0.0, 0.0, 100.0)]]));
    for acc in [f64::NAN, -1.0, f64::INFINITY] {
        let loc = locate(&index, 0.0, 0.0, acc);
        assert_eq!(loc.presence, Presence::Uncertain, "accuracy {acc}");
        assert!((distance(&loc) + 100.0).abs() < 1e-3);
    }
}

#[test]
fn invalid_fix_is_uncertain_with_no_site() {
    let index = GeofenceIndex::new(&policy(vec![vec![circle(0.0, 0.0, 100.0)]]));
    for (lon, lat) in [(f64::NAN, 0.0), (0.0, f64::INFINITY), (0.0, 91.0)] {
        let expected = Location {
            presence: Presence::Uncertain,
            nearest: None,
        };
        assert_eq!(locate(&index, lon, lat, 10.0), expected);
    }
}

#[test]
fn no_allowed_site_is_outside_with_no_site() {
    let empty = GeofenceIndex::new(&policy(vec![]));
    let loc = locate(&empty, 114.17, 22.28, 10.0);
    assert_eq!(loc.presence, Presence::Outside);
    assert_eq!(loc.nearest, None);

    let index = GeofenceIndex::new(&policy(vec![vec![circle(114.17, 22.28, 100.0)]]));
    let none = |_: SiteIdx| false;
    let expected = Location {
        presence: Presence::Outside,
        nearest: None,
    };
    assert_eq!(index.locate(114.17, 22.28, 10.0, none), expected);
    assert_eq!(index.locate_linear(114.17, 22.28, 10.0, none), expected);
    assert_eq!(index.locate_sites(114.17, 22.28, 10.0, &[]), expected);
}

#[test]
fn nearest_is_deepest_inside_then_nearest_then_lowest_index() {
    // Site 0: a big circle; site 1: a small one inside it, off-centre; site 2 duplicates
    // site 0.
    let index = GeofenceIndex::new(&policy(vec![
        vec![circle(0.0, 0.0, 1000.0)],
        vec![circle(0.002, 0.0, 100.0)],
        vec![circle(0.0, 0.0, 1000.0)],
    ]));
    // At the big circle's centre: 1000 m deep in sites 0 and 2; the tie goes to site 0.
    let centre = locate(&index, 0.0, 0.0, 10.0);
    assert_eq!(centre.nearest.map(|n| n.site), Some(0));
    assert!((distance(&centre) + 1000.0).abs() < 1e-3);
    // Only sites 1 and 2 allowed: site 2 is deeper (1000 m against the small circle's
    // 0.002° − 100 m = 122.6 m outside).
    let loc = index.locate(0.0, 0.0, 10.0, |s| s != 0);
    assert_eq!(loc, index.locate_linear(0.0, 0.0, 10.0, |s| s != 0));
    assert_eq!(loc.nearest.map(|n| n.site), Some(2));
    // Only site 1 allowed: outside it by 0.002° − 100 m.
    let loc = index.locate_sites(0.0, 0.0, 10.0, &[1]);
    let expected = 0.002 * EQ_M_PER_DEG - 100.0;
    assert!((distance(&loc) - expected).abs() < 1e-3);
    assert_eq!(loc.presence, Presence::Outside);
}

#[test]
fn site_distance_is_the_minimum_over_its_fences() {
    // One site with two fences 1 km apart; the fix is 20 m outside the eastern one.
    let index = GeofenceIndex::new(&policy(vec![vec![
        circle(0.0, 0.0, 100.0),
        Fence::Polygon(Polygon::new(square(0.01, 0.0, 0.001), vec![])),
    ]]));
    let lon = 0.011 + 20.0 / EQ_M_PER_DEG;
    let loc = locate(&index, lon, 0.0, 10.0);
    assert_eq!(
        loc.nearest.map(|n| n.site),
        Some(0),
        "the site, whichever fence decided"
    );
    assert!((distance(&loc) - 20.0).abs() < 1e-3, "{loc:?}");
}

#[test]
fn fix_across_the_antimeridian_from_the_fence() {
    // A circle just east of +180° seen from a fix just west of −180°: 0.001° apart.
    let index = GeofenceIndex::new(&policy(vec![vec![circle(179.9995, 0.0, 50.0)]]));
    let loc = locate(&index, -179.9995, 0.0, 5.0);
    assert!(
        (distance(&loc) - (0.001 * EQ_M_PER_DEG - 50.0)).abs() < 1e-3,
        "{loc:?}"
    );
}

#[test]
fn large_fence_contains_its_centre() {
    // A 0.45° square (about 46 km by 50 km, 70 km across): the surface at its centre bulges
    // about 100 m above the box of its corners, which the box margin must cover.
    let index = GeofenceIndex::new(&policy(vec![vec![Fence::Polygon(Polygon::new(
        square(114.0, 22.5, 0.225),
        vec![],
    ))]]));
    let loc = locate(&index, 114.0, 22.5, 100.0);
    assert_eq!(loc.presence, Presence::Inside);
    // The nearest edges are the east and west ones, 0.225° of longitude at 22.5°N away.
    let reference: f64 = Geodesic::wgs84().inverse(22.5, 114.0, 22.5, 114.225);
    assert!(
        (distance(&loc) + reference).abs() < 2.0,
        "{loc:?} vs {reference}"
    );
}

#[test]
fn far_sites_get_an_approximate_distance() {
    // Employee in Hong Kong allowed only at a London site: 9 600 km, within 0.5 %.
    let index = GeofenceIndex::new(&policy(vec![
        vec![circle(114.17, 22.28, 100.0)],
        vec![circle(-0.1276, 51.5072, 100.0)],
    ]));
    let loc = index.locate_sites(114.17, 22.28, 50.0, &[1]);
    assert_eq!(loc, index.locate(114.17, 22.28, 50.0, |s| s == 1));
    assert_eq!(loc, index.locate_linear(114.17, 22.28, 50.0, |s| s == 1));
    let reference: f64 = Geodesic::wgs84().inverse(22.28, 114.17, 51.5072, -0.1276);
    let d = distance(&loc);
    assert!(
        ((d + 100.0) / reference - 1.0).abs() < 0.005,
        "{d} vs {reference}"
    );
    assert_eq!(loc.presence, Presence::Outside);
}

#[test]
fn sparse_filter_falls_back_to_direct_search() {
    // 300 small circles on a 30 m grid step around the fix; only two far ones allowed, so
    // the tree walk exhausts its skip budget.
    let mut sites = Vec::new();
    for i in 0..300 {
        let lon = 114.0 + (i % 20) as f64 * 0.0005;
        let lat = 22.3 + (i / 20) as f64 * 0.0005;
        sites.push(vec![circle(lon, lat, 20.0)]);
    }
    sites.push(vec![circle(114.05, 22.3, 30.0)]);
    sites.push(vec![circle(114.0, 22.35, 30.0)]);
    let index = GeofenceIndex::new(&policy(sites));
    let allowed = |s: SiteIdx| s >= 300;
    let loc = index.locate(114.004, 22.302, 20.0, allowed);
    assert_eq!(loc, index.locate_linear(114.004, 22.302, 20.0, allowed));
    assert_eq!(loc, index.locate_sites(114.004, 22.302, 20.0, &[301, 300]));
    let nearest = loc.nearest.expect("two sites allowed");
    assert_eq!(nearest.site, 300);
    let reference: f64 = Geodesic::wgs84().inverse(22.302, 114.004, 22.3, 114.05);
    assert!((nearest.signed_distance_m - (reference - 30.0)).abs() < 0.05);
}
