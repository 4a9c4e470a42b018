//! A model-based (state-machine) test of the whole loop: phones, a faulty network, the
//! server. proptest-state-machine draws sequences of operations ([`ops::Op`]: punches,
//! requests, sync rounds, network faults, server restarts, phones' process deaths and power
//! cuts at an arbitrary write of their stores, clock jumps, policy publications) from
//! [`ops::Ops`], applies each to the real system ([`system::World`]) and checks after every
//! step, and after a final drain, what the real system did against what it acknowledged
//! ([`ledger`]). A failing sequence is shrunk by deleting operations.
//!
//! [`ModelTest`] is the proptest-state-machine glue; [`run`] runs a number of cases with a
//! seeded RNG and returns the totals ([`stats::Stats`]).

pub mod ledger;
pub mod ops;
pub mod stats;
pub mod system;

use std::time::Instant;

use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use ops::{Op, Ops, RefState};
use system::World;

/// The proptest-state-machine test: the real system as the system under test.
pub struct ModelTest;

impl StateMachineTest for ModelTest {
    type SystemUnderTest = World;
    type Reference = Ops;

    fn init_test(_: &RefState) -> World {
        let started = Instant::now();
        let world = World::start();
        let micros = started.elapsed().as_micros() as u64;
        stats::update(|s| s.setup_micros += micros);
        world
    }

    /// Applies the operation, then runs the checks that apply after every step (in `apply`
    /// rather than `check_invariants`, because they update the ledger's floors).
    fn apply(mut world: World, _: &RefState, op: Op) -> World {
        let started = Instant::now();
        world.apply(&op);
        if let Some(phone) = op.phone() {
            world.check(Some(phone));
        }
        let micros = started.elapsed().as_micros() as u64;
        stats::update(|s| *s.op_micros.entry(op.name()).or_default() += micros);
        world
    }

    fn teardown(world: World, _: RefState) {
        let started = Instant::now();
        world.drain_and_check();
        let micros = started.elapsed().as_micros() as u64;
        stats::update(|s| s.drain_micros += micros);
    }
}

/// Applies one fixed sequence of operations to a fresh system, with the checks after every
/// step and the final drain, panicking at the first violation: how a shrunk failure becomes a
/// regression test. It adds to the run's totals ([`stats`]), so it runs in a test binary of its
/// own.
pub fn replay(ops: &[Op]) {
    let state = RefState::default();
    let mut world = ModelTest::init_test(&state);
    for op in ops {
        world = ModelTest::apply(world, &state, op.clone());
    }
    ModelTest::teardown(world, state);
}

/// How a run is sized and seeded.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// Cases (each a fresh server and phones).
    pub cases: u32,
    /// Operations per case.
    pub steps_per_case: usize,
    /// The RNG seed: the same seed draws the same operations.
    pub seed: u64,
    /// Longest time spent shrinking a failing sequence, in seconds.
    pub shrink_seconds: u32,
}

/// Runs the model; `Err` carries the shrunk failing sequence and its message.
pub fn run(config: RunConfig) -> Result<stats::Stats, String> {
    stats::reset();
    let proptest_config = Config {
        cases: config.cases,
        failure_persistence: None,
        max_shrink_iters: 10_000,
        // Each shrinking step replays a sequence against a fresh system: bound it in time.
        max_shrink_time: config.shrink_seconds.saturating_mul(1_000),
        ..Config::default()
    };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&config.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        proptest_config.clone(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let steps = config.steps_per_case;
    let strategy = Ops::sequential_strategy(steps..=steps);
    let result = runner.run(&strategy, |(initial, transitions, seen)| {
        ModelTest::test_sequential(proptest_config.clone(), initial, transitions, seen);
        Ok(())
    });
    match result {
        Ok(()) => Ok(stats::snapshot()),
        Err(TestError::Fail(reason, (_, transitions, _))) => Err(format!(
            "{reason}\nshrunk to {} operations:\n{transitions:#?}",
            transitions.len()
        )),
        Err(TestError::Abort(reason)) => Err(format!("the run was aborted: {reason}")),
    }
}
