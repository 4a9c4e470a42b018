//! The fence advisor's simulation of honest staff and outsiders on the Hong Kong example
//! policy: same seed, same report; and the baseline of the location rule in force.
//!
//! Run with `--nocapture` to see the per-site table (the README quotes it).

use daka_core::advisor::{AdvisorConfig, AdvisorReport, ToleranceAdvice, advise};

const POLICY: &str = include_str!("../../examples/hk-policy.json");

/// Fewer samples in unoptimised builds, where the engine is several times slower.
fn samples() -> u32 {
    if cfg!(debug_assertions) { 1000 } else { 4000 }
}

fn config() -> AdvisorConfig {
    AdvisorConfig {
        samples_per_site: samples(),
        seed: 14,
        ..AdvisorConfig::default()
    }
}

fn pct(x: f64) -> String {
    format!("{:5.1} %", 100.0 * x)
}

fn table(report: &AdvisorReport) -> String {
    let mut out = format!(
        "{} samples per site and population, seed {}\n{}\n\n| site | honest accepted | reviewed | rejected | outside 30 m accepted | 100 m | 200 m | tolerance |\n|---|---|---|---|---|---|---|---|\n",
        report.samples_per_site, report.seed, report.error_model
    );
    let rows = report
        .sites
        .iter()
        .map(|s| (s.site_id.as_str(), &s.current, Some(&s.tolerance)))
        .chain([("all sites", &report.overall, None)]);
    for (id, r, tol) in rows {
        let out_at = |d| pct(r.outside_at(d).unwrap().accepted_share());
        let tol = match tol {
            Some(ToleranceAdvice::Suggested { tolerance_m, .. }) => format!("{tolerance_m} m"),
            Some(ToleranceAdvice::NoneMeetsTargets { .. }) => "none meets targets".into(),
            Some(ToleranceAdvice::Unsupported { .. }) => "not supported".into(),
            None => String::new(),
        };
        out += &format!(
            "| {id} | {} | {} | {} | {} | {} | {} | {tol} |\n",
            pct(r.honest.accepted_share()),
            pct(r.honest.reviewed_share()),
            pct(r.honest.rejected_share()),
            out_at(30.0),
            out_at(100.0),
            out_at(200.0),
        );
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_report_and_another_seed_does_not() {
    let small = AdvisorConfig {
        samples_per_site: 300,
        ..config()
    };
    let a = advise(POLICY, &small).unwrap();
    let b = advise(POLICY, &small).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let c = advise(
        POLICY,
        &AdvisorConfig {
            seed: 15,
            ..small.clone()
        },
    )
    .unwrap();
    assert_ne!(a, c, "the seed must matter");
}

#[test]
fn every_site_is_simulated_with_the_requested_samples() {
    let report = advise(POLICY, &config()).unwrap();
    assert_eq!(report.sites.len(), 4);
    for s in &report.sites {
        assert_eq!(s.current.honest.samples(), samples(), "{}", s.site_id);
        assert_eq!(s.current.outside.len(), 3);
        for ring in &s.current.outside {
            assert_eq!(
                ring.outcomes.samples(),
                samples(),
                "{} {}",
                s.site_id,
                ring.distance_m
            );
        }
    }
    assert_eq!(report.overall.honest.samples(), 4 * samples());
}

/// The baseline of the accuracy-circle rule ("the whole accuracy circle inside"), the rule
/// in force when this test was written: it reproduces issue 14's findings. These assertions
/// pin THAT rule; they are replaced by the targets (≥ 85 % accepted, ≤ 0.5 % rejected, ≤ 1 %
/// accepted at 100 m, 0 % at 200 m) when the probability rule lands.
#[test]
fn baseline_of_the_accuracy_circle_rule() {
    let report = advise(POLICY, &config()).unwrap();
    println!("{}", table(&report));
    let all = &report.overall;
    assert!(all.honest.accepted_share() < 0.45, "{}", table(&report));
    assert!(all.honest.reviewed_share() > 0.5, "{}", table(&report));
    assert!(all.honest.rejected_share() > 0.005, "{}", table(&report));
    for d in [100.0, 200.0] {
        assert_eq!(all.outside_at(d).unwrap().accepted, 0, "{d} m");
    }
    let cwb = report
        .sites
        .iter()
        .find(|s| s.site_id == "cwb-store")
        .unwrap();
    assert!(
        cwb.current.honest.reviewed_share() > 0.75,
        "{}",
        table(&report)
    );
    // The rule has no site tolerance: the policy parser refuses `tolerance_m`.
    for s in &report.sites {
        assert!(
            matches!(s.tolerance, ToleranceAdvice::Unsupported { .. }),
            "{}: {:?}",
            s.site_id,
            s.tolerance
        );
    }
    assert!(cwb.too_small_for_gps);
}

/// The tolerance search, driven through a stand-in for `tolerance_m` that today's rule
/// understands: growing a circle fence's radius by the tolerance. The circle site then gets
/// the smallest step that meets every target; the polygon sites, left unchanged, meet none
/// and are flagged. (Pins the accuracy-circle rule like the baseline above.)
#[test]
fn the_tolerance_search_suggests_the_smallest_step_meeting_the_targets() {
    let grow_circles = |doc: &mut serde_json::Value, site: usize, t: f64| {
        for fence in doc["sites"][site]["fences"].as_array_mut().unwrap() {
            if let Some(r) = fence.get("radius_m").and_then(serde_json::Value::as_f64) {
                fence["radius_m"] = serde_json::json!(r + t);
            }
        }
    };
    // The edit is applied to a fresh copy of the document at every step. No network
    // repeats: today's rule sends every one of them to review, which alone keeps honest
    // acceptance under 85 % whatever the fence.
    let cfg = AdvisorConfig {
        samples_per_site: 500,
        network_repeat_share: 0.0,
        ..config()
    };
    let report = daka_core::advisor::advise_with(POLICY, &cfg, grow_circles).unwrap();
    println!("{}", table(&report));
    for s in &report.sites {
        match (s.site_id.as_str(), &s.tolerance) {
            ("kc-depot", ToleranceAdvice::Suggested { tolerance_m, rates }) => {
                assert!(*tolerance_m > 0.0 && *tolerance_m < 100.0, "{tolerance_m}");
                assert!(cfg.targets.met_by(rates));
                assert!(!cfg.targets.met_by(&s.current));
                assert!(!s.too_small_for_gps);
                // One step less must fail the targets: it is the smallest.
                let smaller = daka_core::advisor::advise_with(
                    POLICY,
                    &cfg,
                    |doc: &mut serde_json::Value, site: usize, t: f64| {
                        grow_circles(doc, site, if t >= *tolerance_m { t - 5.0 } else { t })
                    },
                )
                .unwrap();
                let kc = smaller
                    .sites
                    .iter()
                    .find(|x| x.site_id == "kc-depot")
                    .unwrap();
                assert!(
                    matches!(kc.tolerance, ToleranceAdvice::Suggested { tolerance_m: t2, .. } if t2 > *tolerance_m),
                    "{:?}",
                    kc.tolerance
                );
            }
            ("kc-depot", other) => panic!("no suggestion for the circle site: {other:?}"),
            (_, ToleranceAdvice::NoneMeetsTargets { tried_up_to_m }) => {
                assert_eq!(*tried_up_to_m, 100.0);
                assert!(s.too_small_for_gps);
            }
            (id, other) => panic!("{id}: {other:?}"),
        }
    }
}
