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

/// The example policy as it would be under the accuracy-circle rule, without tolerances.
fn under_the_accuracy_circle() -> String {
    let mut doc: serde_json::Value = serde_json::from_str(POLICY).unwrap();
    doc["thresholds"]
        .as_object_mut()
        .unwrap()
        .remove("presence");
    for site in doc["sites"].as_array_mut().unwrap() {
        site.as_object_mut().unwrap().remove("tolerance_m");
    }
    doc.to_string()
}

/// The accuracy-circle rule ("the whole accuracy circle inside"), the default of policies
/// that name no rule, on the same fences: most honest staff go to review and some are
/// rejected, at the small store most of all. (Stationary network repeats are honest under
/// both rules, so the overall review share is lower than with every repeat reviewed.)
#[test]
fn the_accuracy_circle_rule_sends_most_honest_staff_to_review() {
    let report = advise(&under_the_accuracy_circle(), &config()).unwrap();
    println!("accuracy circle, no tolerances:\n{}", table(&report));
    let all = &report.overall;
    assert!(all.honest.accepted_share() < 0.6, "{}", table(&report));
    assert!(all.honest.reviewed_share() > 0.35, "{}", table(&report));
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
        cwb.current.honest.accepted_share() < 0.25,
        "{}",
        table(&report)
    );
}

/// The targets, on the example policy as shipped (the probability rule, each site's
/// tolerance as the fence advisor suggests it), at every site: honest staff at least 85 %
/// accepted and at most 0.5 % rejected; at most 1 % of people 100 m outside accepted, and
/// nobody 200 m outside.
#[test]
fn the_probability_rule_meets_the_targets_at_every_example_site() {
    let report = advise(POLICY, &config()).unwrap();
    println!("probability rule, advised tolerances:\n{}", table(&report));
    for s in &report.sites {
        let r = &s.current;
        assert!(
            r.honest.accepted_share() >= 0.85,
            "{}\n{}",
            s.site_id,
            table(&report)
        );
        assert!(
            r.honest.rejected_share() <= 0.005,
            "{}\n{}",
            s.site_id,
            table(&report)
        );
        assert!(
            r.outside_at(100.0).unwrap().accepted_share() <= 0.01,
            "{}\n{}",
            s.site_id,
            table(&report)
        );
        assert_eq!(r.outside_at(200.0).unwrap().accepted, 0, "{}", s.site_id);
        assert!(!s.too_small_for_gps, "{}", s.site_id);
    }
}

/// The tolerance search on the example's fences with no tolerances: every site gets a
/// suggestion that meets the targets, and it is the smallest step that does (one step less,
/// 5 m, fails them).
#[test]
fn the_tolerance_search_suggests_the_smallest_step_meeting_the_targets() {
    let mut doc: serde_json::Value = serde_json::from_str(POLICY).unwrap();
    for site in doc["sites"].as_array_mut().unwrap() {
        site.as_object_mut().unwrap().remove("tolerance_m");
    }
    let untuned = doc.to_string();
    let cfg = AdvisorConfig {
        samples_per_site: 500,
        ..config()
    };
    let report = advise(&untuned, &cfg).unwrap();
    println!("{}", table(&report));
    for (i, s) in report.sites.iter().enumerate() {
        let ToleranceAdvice::Suggested { tolerance_m, rates } = &s.tolerance else {
            panic!("{}: {:?}", s.site_id, s.tolerance);
        };
        assert!(cfg.targets.met_by(rates), "{}", s.site_id);
        if *tolerance_m >= 5.0 {
            let mut less = doc.clone();
            less["sites"][i]["tolerance_m"] = serde_json::json!(tolerance_m - 5.0);
            let smaller = advise(&less.to_string(), &cfg).unwrap();
            assert!(
                !cfg.targets.met_by(&smaller.sites[i].current),
                "{}: {} m less also meets the targets",
                s.site_id,
                tolerance_m - 5.0
            );
        } else {
            assert!(cfg.targets.met_by(&s.current), "{}", s.site_id);
        }
    }
}
