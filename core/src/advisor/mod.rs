//! The fence advisor: a seeded simulation of honest staff and of people standing outside each
//! site, judged by the real [`Engine`], and the tolerance it suggests per site.
//!
//! # Error model
//!
//! * A fix is the true position plus a circular 2-D Gaussian error whose 68 % radius is the
//!   accuracy the phone reports (the Android and iOS convention): per-axis standard deviation
//!   `σ = accuracy / sqrt(2·ln(1/0.32)) ≈ accuracy / 1.5096`.
//! * Reported accuracy follows an [`AccuracyModel`]: by default urban phone accuracy,
//!   log-normal with median 15 m and spread 0.5 (95 % between about 5.6 and 40 m), clipped to
//!   3..=100 m. The error of each fix is drawn with the accuracy that fix reports: the phone's
//!   stated accuracy is taken to be honest.
//!
//! # Populations
//!
//! * **Honest staff**: true points uniform over the site's fences (holes excluded). A share
//!   ([`AdvisorConfig::network_repeat_share`], default 20 %) are phones standing still on the
//!   network (Wi-Fi/cell) location provider: the fix repeats the person's previous punch bit
//!   for bit, and only the time and monotonic clock have moved on (10 minutes to 9 hours). The
//!   rest report from the `fused` or `gps` provider, half each, with no previous punch.
//! * **Outsiders**: true points exactly 30, 100 and 200 m outside the site's outer boundary (a
//!   point uniform by length on the boundary, moved out along the outward normal, kept only
//!   if no fence of the site is nearer).
//!
//! Every simulated person is an employee assigned to that one site, clocking in with no Wi-Fi
//! scan and the face check turned off (`thresholds.face.required = false`), judged by
//! [`Engine::evaluate`] at a fixed trusted time. The advisor talks to the engine only through
//! its public API: the policy document, [`Policy::from_json`], [`Engine::new`] and the
//! [`Verdict`](crate::Verdict)'s decision. So whatever location rule the engine applies is the
//! one measured.
//!
//! # Tolerance
//!
//! A site's tolerance is tried by writing `sites[i].tolerance_m` into the policy document and
//! parsing it again, for 0, 5, 10, …, 100 m on the same simulated people; the suggestion is
//! the smallest that meets every [`Targets`] figure. A policy whose rule has no tolerance
//! refuses the field; the report then says so and gives the current rates only.
//!
//! # Determinism
//!
//! Random numbers come from SplitMix64 seeded by [`AdvisorConfig::seed`], one stream per site,
//! and nothing reads a clock: the same seed, policy and settings give the same report.

mod accuracy;
mod report;
mod sample;

pub use accuracy::{AccuracyModel, sigma_for_accuracy};
pub use report::{AdvisorReport, FenceReport, Outcomes, OutsideRing, SiteRates, ToleranceAdvice};

use serde_json::{Value, json};

use crate::attempt::{Attempt, AttemptError};
use crate::evidence::face_token::NonceLedger;
use crate::policy::{Policy, PolicyError};
use crate::verdict::Engine;
use accuracy::Rng;
use sample::{PhoneModel, SiteShape};

/// How far outside a site the simulated outsiders stand, metres.
pub const OUTSIDER_DISTANCES_M: [f64; 3] = [30.0, 100.0, 200.0];

/// The tolerances tried, metres: 0, 5, 10, …, 100.
pub fn tolerance_steps_m() -> impl Iterator<Item = f64> {
    (0..=20).map(|i| f64::from(i) * 5.0)
}

/// Most samples per site and population.
pub const MAX_SAMPLES: u32 = 1_000_000;

/// What a suggested tolerance must achieve at its site.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    /// Least share of honest punches accepted (default 0.85).
    pub min_honest_accepted: f64,
    /// Largest share of honest punches rejected (default 0.005).
    pub max_honest_rejected: f64,
    /// Largest share accepted of people standing 100 m outside (default 0.01).
    pub max_accepted_at_100_m: f64,
    /// Largest share accepted of people standing 200 m outside (default 0).
    pub max_accepted_at_200_m: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            min_honest_accepted: 0.85,
            max_honest_rejected: 0.005,
            max_accepted_at_100_m: 0.01,
            max_accepted_at_200_m: 0.0,
        }
    }
}

impl Targets {
    /// Whether `rates` meet every target.
    pub fn met_by(&self, rates: &SiteRates) -> bool {
        let at = |d| rates.outside_at(d).map_or(0.0, Outcomes::accepted_share);
        rates.honest.samples() > 0
            && rates.honest.accepted_share() >= self.min_honest_accepted
            && rates.honest.rejected_share() <= self.max_honest_rejected
            && at(100.0) <= self.max_accepted_at_100_m
            && at(200.0) <= self.max_accepted_at_200_m
    }
}

/// The simulation's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisorConfig {
    /// Simulated people per site and population (honest, and each outside distance); default
    /// 4000, at most [`MAX_SAMPLES`].
    pub samples_per_site: u32,
    /// Seed of the random numbers; default 1.
    pub seed: u64,
    /// Distribution of the reported accuracy.
    pub accuracy: AccuracyModel,
    /// Share of honest punches that are stationary network-provider repeats, 0..=1; default 0.2.
    pub network_repeat_share: f64,
    /// What a suggested tolerance must achieve.
    pub targets: Targets,
    /// When the rule has no tolerance, a site accepting a smaller share of honest punches than
    /// this is flagged too small for GPS; default 0.5.
    pub gps_unusable_below: f64,
}

impl Default for AdvisorConfig {
    fn default() -> Self {
        AdvisorConfig {
            samples_per_site: 4000,
            seed: 1,
            accuracy: AccuracyModel::urban_phone(),
            network_repeat_share: 0.2,
            targets: Targets::default(),
            gps_unusable_below: 0.5,
        }
    }
}

/// Why the advisor could not run.
#[derive(Debug, thiserror::Error)]
pub enum AdvisorError {
    /// The policy document does not parse or validate.
    #[error("{0}")]
    Policy(#[from] PolicyError),
    /// The policy document is valid, but the simulation's edits to it (face check off, one
    /// simulated employee per site) are refused.
    #[error("the policy cannot be prepared for simulation: {0}")]
    Prepare(String),
    /// A setting is out of range; the message names it.
    #[error("{0}")]
    Config(String),
    /// The engine refused a simulated attempt as malformed (a bug in the simulation).
    #[error("simulated attempt refused: {0}")]
    Attempt(#[from] AttemptError),
}

/// Writes `tolerance_m` into site `site` of a policy document: the default way
/// [`advise`] tries a tolerance.
pub fn set_site_tolerance(doc: &mut Value, site: usize, tolerance_m: f64) {
    if let Some(s) = doc
        .get_mut("sites")
        .and_then(|s| s.get_mut(site))
        .and_then(Value::as_object_mut)
    {
        s.insert("tolerance_m".to_string(), json!(tolerance_m));
    }
}

/// Runs the simulation on a policy document and reports per site, trying tolerances with
/// [`set_site_tolerance`].
pub fn advise(policy_json: &str, config: &AdvisorConfig) -> Result<AdvisorReport, AdvisorError> {
    advise_with(policy_json, config, set_site_tolerance)
}

/// [`advise`], with the edit that gives site `i` a tolerance of `t` metres supplied by the
/// caller (for a rule whose tolerance is spelled differently).
pub fn advise_with(
    policy_json: &str,
    config: &AdvisorConfig,
    set_tolerance: impl Fn(&mut Value, usize, f64),
) -> Result<AdvisorReport, AdvisorError> {
    check_config(config)?;
    // Parse as written first, so a bad policy is reported with the parser's own path.
    Policy::from_json(policy_json)?;
    let doc: Value =
        serde_json::from_str(policy_json).map_err(|e| AdvisorError::Prepare(e.to_string()))?;
    let (doc, employees) = prepare(doc)?;
    let policy =
        Policy::from_json(&doc.to_string()).map_err(|e| AdvisorError::Prepare(e.to_string()))?;

    let phone = PhoneModel {
        accuracy: config.accuracy,
        network_repeat_share: config.network_repeat_share,
    };
    let n = config.samples_per_site as usize;
    let people: Vec<SitePeople> = policy
        .sites
        .iter()
        .zip(&employees)
        .enumerate()
        .map(|(i, (site, employee))| {
            let shape = SiteShape::new(site);
            let mut rng = Rng::new(config.seed, i as u64);
            let honest = sample::honest(employee, &shape, n, &phone, &mut rng);
            let outside = OUTSIDER_DISTANCES_M
                .iter()
                .map(|&d| {
                    (
                        d,
                        sample::outsiders(employee, &shape, d, n, &phone, &mut rng),
                    )
                })
                .collect();
            SitePeople { honest, outside }
        })
        .collect();

    let sites_meta: Vec<(String, String, usize)> = policy
        .sites
        .iter()
        .map(|s| (s.id.clone(), s.name.clone(), s.wifi_bssids.len()))
        .collect();
    let engine = Engine::new(policy);
    let current: Vec<SiteRates> = people
        .iter()
        .map(|p| judge(&engine, p))
        .collect::<Result<_, _>>()?;

    let advice = search_tolerances(&doc, &people, &config.targets, &set_tolerance)?;

    let mut overall = SiteRates {
        honest: Outcomes::default(),
        outside: OUTSIDER_DISTANCES_M
            .iter()
            .map(|&distance_m| OutsideRing {
                distance_m,
                outcomes: Outcomes::default(),
            })
            .collect(),
    };
    for rates in &current {
        overall.honest.merge(&rates.honest);
        for (all, ring) in overall.outside.iter_mut().zip(&rates.outside) {
            all.outcomes.merge(&ring.outcomes);
        }
    }
    let sites = sites_meta
        .into_iter()
        .zip(current)
        .zip(advice)
        .map(
            |(((site_id, site_name, wifi_access_points), current), tolerance)| {
                let too_small_for_gps = match &tolerance {
                    ToleranceAdvice::Suggested { .. } => false,
                    ToleranceAdvice::NoneMeetsTargets { .. } => true,
                    ToleranceAdvice::Unsupported { .. } => {
                        current.honest.accepted_share() < config.gps_unusable_below
                    }
                };
                FenceReport {
                    site_id,
                    site_name,
                    current,
                    tolerance,
                    too_small_for_gps,
                    wifi_access_points,
                }
            },
        )
        .collect();
    Ok(AdvisorReport {
        error_model: error_model_line(&config.accuracy),
        accuracy: config.accuracy,
        network_repeat_share: config.network_repeat_share,
        seed: config.seed,
        samples_per_site: config.samples_per_site,
        sites,
        overall,
    })
}

/// The error model in one line, for reports.
pub fn error_model_line(accuracy: &AccuracyModel) -> String {
    format!(
        "fix = true position + circular Gaussian error whose 68 % radius is the reported accuracy (σ = accuracy / 1.5096); {}",
        accuracy.describe()
    )
}

fn check_config(c: &AdvisorConfig) -> Result<(), AdvisorError> {
    c.accuracy.validate().map_err(AdvisorError::Config)?;
    if c.samples_per_site == 0 || c.samples_per_site > MAX_SAMPLES {
        return Err(AdvisorError::Config(format!(
            "samples per site must be between 1 and {MAX_SAMPLES} (got {})",
            c.samples_per_site
        )));
    }
    let share = |name: &str, v: f64| {
        if (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(AdvisorError::Config(format!(
                "{name} must be between 0 and 1 (got {v})"
            )))
        }
    };
    share("network repeat share", c.network_repeat_share)?;
    share("gps_unusable_below", c.gps_unusable_below)?;
    share("targets.min_honest_accepted", c.targets.min_honest_accepted)?;
    share("targets.max_honest_rejected", c.targets.max_honest_rejected)?;
    share(
        "targets.max_accepted_at_100_m",
        c.targets.max_accepted_at_100_m,
    )?;
    share(
        "targets.max_accepted_at_200_m",
        c.targets.max_accepted_at_200_m,
    )?;
    Ok(())
}

/// The simulated people of one site.
struct SitePeople {
    honest: Vec<Attempt>,
    outside: Vec<(f64, Vec<Attempt>)>,
}

/// Turns the face check off and adds one employee per site, assigned to that site only.
/// Returns the edited document and the employees' ids in site order.
fn prepare(mut doc: Value) -> Result<(Value, Vec<String>), AdvisorError> {
    let prepare_err = |what: &str| AdvisorError::Prepare(what.to_string());
    let root = doc
        .as_object_mut()
        .ok_or_else(|| prepare_err("not an object"))?;
    let thresholds = root
        .entry("thresholds")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| prepare_err("thresholds is not an object"))?;
    let face = thresholds
        .entry("face")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| prepare_err("thresholds.face is not an object"))?;
    face.insert("required".to_string(), json!(false));

    let site_ids: Vec<String> = root
        .get("sites")
        .and_then(Value::as_array)
        .ok_or_else(|| prepare_err("no sites"))?
        .iter()
        .map(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let employees = root
        .entry("employees")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| prepare_err("employees is not a list"))?;
    let taken: std::collections::HashSet<String> = employees
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    let mut ids = Vec::with_capacity(site_ids.len());
    for (i, site) in site_ids.iter().enumerate() {
        let mut id = format!("fence-advisor-{i}");
        while taken.contains(&id) {
            id.push('_');
        }
        employees.push(json!({
            "id": id,
            "name": format!("Simulated staff of {site}"),
            "sites": [site],
        }));
        ids.push(id);
    }
    Ok((doc, ids))
}

/// Judges every simulated person of one site.
fn judge(engine: &Engine, people: &SitePeople) -> Result<SiteRates, AdvisorError> {
    let now = sample::judged_at();
    let mut nonces = NonceLedger::new();
    let mut count = |attempts: &[Attempt]| -> Result<Outcomes, AdvisorError> {
        let mut o = Outcomes::default();
        for a in attempts {
            o.add(engine.evaluate(a, Some(now), &mut nonces)?.decision);
        }
        Ok(o)
    };
    let honest = count(&people.honest)?;
    let outside = people
        .outside
        .iter()
        .map(|(d, attempts)| {
            Ok(OutsideRing {
                distance_m: *d,
                outcomes: count(attempts)?,
            })
        })
        .collect::<Result<_, AdvisorError>>()?;
    Ok(SiteRates { honest, outside })
}

/// Tries every tolerance step on every site not yet settled; the first step meeting the
/// targets is a site's suggestion.
fn search_tolerances(
    doc: &Value,
    people: &[SitePeople],
    targets: &Targets,
    set_tolerance: &impl Fn(&mut Value, usize, f64),
) -> Result<Vec<ToleranceAdvice>, AdvisorError> {
    let mut advice: Vec<Option<ToleranceAdvice>> = vec![None; people.len()];
    let mut last = 0.0;
    for t in tolerance_steps_m() {
        last = t;
        let mut edited = doc.clone();
        for i in 0..people.len() {
            set_tolerance(&mut edited, i, t);
        }
        let policy = match Policy::from_json(&edited.to_string()) {
            Ok(p) => p,
            Err(e) => {
                let reason = format!("tolerance not supported by this policy's rule ({e})");
                return Ok(people
                    .iter()
                    .map(|_| ToleranceAdvice::Unsupported {
                        reason: reason.clone(),
                    })
                    .collect());
            }
        };
        let engine = Engine::new(policy);
        for (i, p) in people.iter().enumerate() {
            if advice[i].is_some() {
                continue;
            }
            let rates = judge(&engine, p)?;
            if targets.met_by(&rates) {
                advice[i] = Some(ToleranceAdvice::Suggested {
                    tolerance_m: t,
                    rates,
                });
            }
        }
        if advice.iter().all(Option::is_some) {
            break;
        }
    }
    Ok(advice
        .into_iter()
        .map(|a| {
            a.unwrap_or(ToleranceAdvice::NoneMeetsTargets {
                tried_up_to_m: last,
            })
        })
        .collect())
}
