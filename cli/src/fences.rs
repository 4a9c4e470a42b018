//! `daka fences`: the fence advisor. Predicts, per site, how honest staff and people standing
//! outside fare under the policy's location rule, and suggests a tolerance.

use std::path::PathBuf;

use clap::Args;
use daka_core::advisor::{
    AccuracyModel, AdvisorConfig, AdvisorError, AdvisorReport, FenceReport, Outcomes,
    ToleranceAdvice, advise,
};

use crate::{exit, malformed, read_input};

#[derive(Args)]
pub struct FencesArgs {
    /// Policy document (JSON; `-` for standard input).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Simulated people per site and population (honest staff, and each outside distance).
    #[arg(long, value_name = "N", default_value_t = 4000)]
    samples: u32,
    /// Seed of the simulation; the same seed gives the same report on every machine.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Median accuracy phones report, metres (log-normal; default 15).
    #[arg(long, value_name = "M")]
    accuracy_median: Option<f64>,
    /// Spread of the reported accuracy: standard deviation of its natural log (default 0.5).
    #[arg(long, value_name = "S")]
    accuracy_spread: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: FencesArgs) -> u8 {
    let text = match read_input(&args.policy) {
        Ok(t) => t,
        Err(e) => return malformed(e),
    };
    let mut accuracy = AccuracyModel::urban_phone();
    if let Some(m) = args.accuracy_median {
        if !(m.is_finite() && m > 0.0) {
            return malformed(format!(
                "--accuracy-median: must be a number of metres greater than 0 (got {m})"
            ));
        }
        accuracy.median_m = m;
        // Keep the clip range around the median.
        accuracy.max_m = accuracy.max_m.max(m);
        accuracy.min_m = accuracy.min_m.min(m);
    }
    if let Some(s) = args.accuracy_spread {
        if !(s.is_finite() && (0.0..=3.0).contains(&s)) {
            return malformed(format!(
                "--accuracy-spread: must be between 0 and 3 (got {s})"
            ));
        }
        accuracy.spread = s;
    }
    if args.samples == 0 || args.samples > daka_core::advisor::MAX_SAMPLES {
        return malformed(format!(
            "--samples: must be between 1 and {} (got {})",
            daka_core::advisor::MAX_SAMPLES,
            args.samples
        ));
    }
    let config = AdvisorConfig {
        samples_per_site: args.samples,
        seed: args.seed,
        accuracy,
        ..AdvisorConfig::default()
    };
    let report = match advise(&text, &config) {
        Ok(r) => r,
        Err(e @ (AdvisorError::Policy(_) | AdvisorError::Prepare(_))) => {
            return malformed(format!("policy {}: {e}", args.policy.display()));
        }
        Err(e) => return malformed(e),
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => return malformed(format!("cannot write the report: {e}")),
        }
    } else {
        print!("{}", table(&report));
    }
    exit::OK
}

fn pct(o: &Outcomes, share: fn(&Outcomes) -> f64) -> String {
    format!("{:.1}", 100.0 * share(o))
}

fn tolerance(s: &FenceReport) -> String {
    match &s.tolerance {
        ToleranceAdvice::Suggested { tolerance_m, rates } => format!(
            "{tolerance_m} m (then {}% accepted, {}% rejected)",
            pct(&rates.honest, Outcomes::accepted_share),
            pct(&rates.honest, Outcomes::rejected_share)
        ),
        ToleranceAdvice::NoneMeetsTargets { tried_up_to_m } => {
            format!("none up to {tried_up_to_m} m meets the targets")
        }
        ToleranceAdvice::Unsupported { .. } => "not supported by this policy's rule".to_string(),
    }
}

/// The report as a table: one row per site, percentages of simulated punches.
fn table(report: &AdvisorReport) -> String {
    let headers = [
        "site",
        "accepted %",
        "reviewed %",
        "rejected %",
        "out 30 m %",
        "out 100 m %",
        "out 200 m %",
        "suggested tolerance",
        "flag",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in &report.sites {
        let r = &s.current;
        let out = |d: f64| {
            r.outside_at(d)
                .map_or_else(|| "-".to_string(), |o| pct(o, Outcomes::accepted_share))
        };
        rows.push(vec![
            s.site_id.clone(),
            pct(&r.honest, Outcomes::accepted_share),
            pct(&r.honest, Outcomes::reviewed_share),
            pct(&r.honest, Outcomes::rejected_share),
            out(30.0),
            out(100.0),
            out(200.0),
            tolerance(s),
            if s.too_small_for_gps && s.wifi_access_points > 0 {
                "too small for GPS: rely on its Wi-Fi list".to_string()
            } else if s.too_small_for_gps {
                "too small for GPS: add a Wi-Fi list".to_string()
            } else {
                String::new()
            },
        ]);
    }
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut l = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if (1..=6).contains(&i) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ");
        l.truncate(l.trim_end().len());
        l + "\n"
    };
    let mut out = String::new();
    out += &format!(
        "Fence advisor: {} simulated honest punches per site (inside the fences, face check off, \
         no Wi-Fi, {:.0} % stationary network repeats) and {} per distance outside; seed {}.\n",
        report.samples_per_site,
        100.0 * report.network_repeat_share,
        report.samples_per_site,
        report.seed
    );
    out += &format!("Error model: {}.\n\n", report.error_model);
    out += &line(headers.to_vec());
    for r in &rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out += "\naccepted/reviewed/rejected: honest staff inside the site; out N m: share accepted of \
            people standing N m outside the fence.\n";
    out
}
