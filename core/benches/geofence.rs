//! Geofence lookup cost per fix over 10 000 sites scattered across Hong Kong and the Pearl
//! River Delta (small polygons and circles, 50–300 m across), each search beside the linear
//! scan measured in the same run, so the ratio survives a noisy machine.
//!
//! * `all_sites_allowed`: an employee who may clock in anywhere; `index` is
//!   [`GeofenceIndex::locate`], `linear` is [`GeofenceIndex::locate_linear`].
//! * `three_sites_allowed`: an employee allowed at three of the 10 000 sites;
//!   `site_list` is [`GeofenceIndex::locate_sites`] (direct check of the listed sites),
//!   `index_filter` is `locate` with a filter closure (tree walk, then direct search once the
//!   skip budget runs out), `linear` the scan.
//!
//! Fixes: a third inside sites, a third within 20 m of a fence vertex, a third anywhere in the
//! area (mostly between sites); accuracy 5–65 m. The setup checks that every search gives the
//! linear scan's answer for every fix before anything is timed.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use daka_core::geofence::GeofenceIndex;
use daka_core::policy::{
    FaceRules, Fence, Org, Policy, PresenceRule, Site, SiteIdx, Thresholds, UncertainAction,
};
use geo::{Coord, LineString, Polygon};

const SITES: usize = 10_000;
const FIXES: usize = 1024;
/// The area: 113.0–114.5°E, 22.1–23.3°N (about 155 km by 135 km).
const LON: (f64, f64) = (113.0, 114.5);
const LAT: (f64, f64) = (22.1, 23.3);

/// SplitMix64, so the data set is the same in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Metres to degrees near 22.7°N.
fn offset(c: Coord<f64>, east_m: f64, north_m: f64) -> Coord<f64> {
    Coord {
        x: c.x + east_m / 102_700.0,
        y: c.y + north_m / 110_750.0,
    }
}

struct Scene {
    policy: Policy,
    /// (lon, lat, accuracy)
    fixes: Vec<(f64, f64, f64)>,
}

fn scene() -> Scene {
    let mut rng = Rng(0x6461_6b61);
    let mut sites = Vec::with_capacity(SITES);
    // Per site: its centre, radius and a boundary point, for placing fixes.
    let mut anchors = Vec::with_capacity(SITES);
    for i in 0..SITES {
        let centre = Coord {
            x: rng.range(LON.0, LON.1),
            y: rng.range(LAT.0, LAT.1),
        };
        let radius = rng.range(25.0, 150.0);
        let fence = if rng.below(5) < 2 {
            anchors.push((centre, radius, offset(centre, radius, 0.0)));
            Fence::Circle {
                center: centre,
                radius_m: radius,
            }
        } else {
            let n = 5 + rng.below(6);
            let mut ring: Vec<Coord<f64>> = (0..n)
                .map(|k| {
                    let angle =
                        (k as f64 + rng.range(-0.3, 0.3)) * std::f64::consts::TAU / n as f64;
                    let r = radius * rng.range(0.5, 1.0);
                    offset(centre, r * angle.cos(), r * angle.sin())
                })
                .collect();
            anchors.push((centre, radius, ring[0]));
            ring.push(ring[0]);
            Fence::Polygon(Polygon::new(LineString::from(ring), vec![]))
        };
        sites.push(Site {
            id: format!("site-{i}"),
            name: format!("Store {i}"),
            fences: vec![fence],
            wifi_bssids: vec![],
            tolerance_m: 0.0,
        });
    }
    let fixes = (0..FIXES)
        .map(|i| {
            let (centre, radius, vertex) = anchors[rng.below(SITES)];
            let p = match i % 3 {
                0 => offset(
                    centre,
                    rng.range(-0.3, 0.3) * radius,
                    rng.range(-0.3, 0.3) * radius,
                ),
                1 => offset(vertex, rng.range(-20.0, 20.0), rng.range(-20.0, 20.0)),
                _ => Coord {
                    x: rng.range(LON.0, LON.1),
                    y: rng.range(LAT.0, LAT.1),
                },
            };
            (p.x, p.y, rng.range(5.0, 65.0))
        })
        .collect();
    Scene {
        policy: Policy {
            version: 1,
            org: Org {
                id: "bench".into(),
                name: "Bench".into(),
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
            sites,
            employees: vec![],
            face_matchers: vec![],
            approvals: Default::default(),
            attendance: Default::default(),
            enrolment: Default::default(),
        },
        fixes,
    }
}

fn bench(c: &mut Criterion) {
    let scene = scene();
    let index = GeofenceIndex::new(&scene.policy);
    let fixes = &scene.fixes;
    let three: Vec<SiteIdx> = vec![17, 4_242, 9_001];
    let in_three = |s: SiteIdx| three.contains(&s);

    for &(lon, lat, acc) in fixes {
        let linear = index.locate_linear(lon, lat, acc, |_| true);
        assert_eq!(index.locate(lon, lat, acc, |_| true), linear);
        let linear = index.locate_linear(lon, lat, acc, in_three);
        assert_eq!(index.locate(lon, lat, acc, in_three), linear);
        assert_eq!(index.locate_sites(lon, lat, acc, &three), linear);
    }

    let mut group = c.benchmark_group("geofence/all_sites_allowed");
    group.sample_size(30);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let mut i = 0;
    group.bench_function("index", |b| {
        b.iter(|| {
            let (lon, lat, acc) = fixes[i % FIXES];
            i += 1;
            black_box(index.locate(lon, lat, acc, |_| true))
        })
    });
    group.bench_function("linear", |b| {
        b.iter(|| {
            let (lon, lat, acc) = fixes[i % FIXES];
            i += 1;
            black_box(index.locate_linear(lon, lat, acc, |_| true))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("geofence/three_sites_allowed");
    group.sample_size(30);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("site_list", |b| {
        b.iter(|| {
            let (lon, lat, acc) = fixes[i % FIXES];
            i += 1;
            black_box(index.locate_sites(lon, lat, acc, &three))
        })
    });
    group.bench_function("index_filter", |b| {
        b.iter(|| {
            let (lon, lat, acc) = fixes[i % FIXES];
            i += 1;
            black_box(index.locate(lon, lat, acc, in_three))
        })
    });
    group.bench_function("linear", |b| {
        b.iter(|| {
            let (lon, lat, acc) = fixes[i % FIXES];
            i += 1;
            black_box(index.locate_linear(lon, lat, acc, in_three))
        })
    });
    group.finish();
}

/// The presence probability at the example policy's Causeway Bay store (L-shaped, about
/// 45 × 35 m, 20 m tolerance) and Kwai Chung depot (150 m circle, 20 m tolerance), each
/// beside the distance check it follows (`locate_sites`, the same fixes): deep inside and far
/// outside, where the distance bounds settle it, and near an edge, where the probability is
/// computed (over the store's grown outline, corners in 5 cm chords; over the depot's grown
/// disc in closed form).
fn presence(c: &mut Criterion) {
    let doc = serde_json::json!({
        "version": 1,
        "org": {"id": "hl", "name": "Harbour Lane"},
        "thresholds": {"presence": {"rule": "probability"}},
        "sites": [
            {"id": "cwb", "name": "Causeway Bay Store", "tolerance_m": 20,
             "fences": [{"type": "Polygon", "coordinates": [[
                [114.1828704, 22.279945], [114.1833126, 22.2798872], [114.1833369, 22.2800481],
                [114.1832215, 22.2800632], [114.1832378, 22.2801705], [114.1829109, 22.2802132],
                [114.1828704, 22.279945]]]}]},
            {"id": "kc", "name": "Kwai Chung Depot", "tolerance_m": 20,
             "fences": [{"center": [114.13152, 22.35683], "radius_m": 150}]}
        ],
        "employees": []
    });
    let policy = Policy::from_json(&doc.to_string()).unwrap();
    let index = GeofenceIndex::new(&policy);
    // (name, site, lon, lat, accuracy): deep inside with a good fix, 400 m away, and near the
    // edge with an urban fix.
    let cases = [
        ("store_deep_inside", 0, 114.18310, 22.28005, 5.0),
        ("store_far_outside", 0, 114.18310, 22.28365, 15.0),
        ("store_near_edge", 0, 114.18310, 22.28030, 25.0),
        ("depot_near_edge", 1, 114.13152, 22.35840, 25.0),
    ];
    let mut group = c.benchmark_group("geofence/presence");
    group.sample_size(30);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
    for (name, site, lon, lat, acc) in cases {
        let sites = [site];
        let nearest = index.locate_sites(lon, lat, acc, &sites).nearest.unwrap();
        println!(
            "{name}: {:.1} m from the fence, probability {:?}",
            nearest.signed_distance_m,
            index.presence_probability(lon, lat, acc, &nearest)
        );
        group.bench_function(format!("{name}/distance"), |b| {
            b.iter(|| black_box(index.locate_sites(black_box(lon), lat, acc, &sites)))
        });
        group.bench_function(format!("{name}/distance_and_probability"), |b| {
            b.iter(|| {
                let found = index.locate_sites(black_box(lon), lat, acc, &sites);
                let nearest = found.nearest.unwrap();
                black_box(index.presence_probability(lon, lat, acc, &nearest))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, presence);
criterion_main!(benches);
