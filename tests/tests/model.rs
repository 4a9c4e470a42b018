//! A model-based (state-machine) property test of the whole loop: two phones, a network that
//! loses answers, fails with 5xx and 429 and partitions, and the reference server, which is
//! restarted on its database file, while phones' processes die and their power goes at
//! arbitrary writes of their stores, their clocks jump and the administrator publishes new
//! policies. After every step and after a final drain, no acknowledged item is lost, none is
//! duplicated, nothing unexpected is on the server, every chain is linear, and every server
//! verdict equals the core engine's; after every death and cut the phone's store passes
//! `integrity_check` and holds its whole chain. See `daka_e2e::model`.
//!
//! `DAKA_MODEL_STEPS` sets the total number of operations (default 100,000, in cases of
//! `DAKA_MODEL_CASE_STEPS`, default 2,000); `DAKA_MODEL_SEED` replays a run;
//! `DAKA_MODEL_SHRINK_SECS` bounds the shrinking of a failure (default 300).

use daka_e2e::model::{RunConfig, run};

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text:?} is not a whole number: {e}")),
        Err(_) => default,
    }
}

#[test]
fn the_whole_loop_keeps_its_guarantees_under_random_operations() {
    let total = env_number("DAKA_MODEL_STEPS", 100_000);
    let per_case = env_number("DAKA_MODEL_CASE_STEPS", 2_000).max(1);
    let seed = env_number("DAKA_MODEL_SEED", 20_261_203);
    let cases = total.div_ceil(per_case).max(1);
    eprintln!(
        "model run: {cases} cases of {per_case} operations, DAKA_MODEL_SEED={seed} (set to replay)"
    );
    let started = std::time::Instant::now();
    let result = run(RunConfig {
        cases: u32::try_from(cases).expect("fewer than 2^32 cases"),
        steps_per_case: per_case as usize,
        seed,
        shrink_seconds: u32::try_from(env_number("DAKA_MODEL_SHRINK_SECS", 300)).unwrap_or(300),
    });
    let stats = daka_e2e::model::stats::snapshot();
    eprintln!(
        "model run in {:.1} s: {stats}",
        started.elapsed().as_secs_f64()
    );
    for (change, n) in &stats.differing {
        eprintln!("  phone and server findings differ: {change}: {n}");
    }
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert_eq!(stats.violations, 0);
    assert_eq!(stats.cases, cases);
    assert!(
        stats.steps >= total,
        "{} operations ran, {total} were asked for",
        stats.steps
    );
    for op in [
        "punch",
        "submit",
        "sync",
        "faults",
        "restart_server",
        "kill_phone",
        "power_cut",
        "clock_jump",
        "publish_policy",
    ] {
        assert!(
            stats.ops.get(op).copied().unwrap_or(0) > 0,
            "{op} was exercised"
        );
    }
    assert!(
        stats.faults.values().sum::<u64>() > 0,
        "faults were injected"
    );
    assert!(stats.verdicts_checked > 0, "verdicts were checked");
    assert!(
        stats.kills.in_work > 0 && stats.power_cuts.in_work > 0,
        "deaths and cuts fell inside a punch or a sync: {:?} {:?}",
        stats.kills,
        stats.power_cuts
    );
}
