//! Two `daka serve` processes on one PostgreSQL database, one of them killed with SIGKILL while
//! devices push through it: nothing that either instance acknowledged is lost or stored twice,
//! every device's chain verifies, and the other instance answers every request throughout.
//!
//! Each round starts instance A afresh on the database that instance B keeps serving. Devices
//! push backlogs of real signed punch records through A, five items a request, while witness
//! devices push through B all along; once A has answered a random number of requests (and a
//! random few milliseconds more), A is killed with SIGKILL, so that pushes are in flight. A
//! device whose request to A gets no answer carries on through B and sends again everything
//! not yet acknowledged, as the SDK does. After each round, and at the end, B's admin API must
//! show every acknowledged item stored once and every chain verifying; at the end, every item
//! pushed is stored exactly once.
//!
//! Runs when `DAKA_TEST_POSTGRES` names a cluster (`scripts/pg.sh start`); skips otherwise.
//! `DAKA_KILL_ROUNDS` sets the rounds (default 8), `DAKA_KILL_SEED` the random seed (printed).

#[path = "../../server/tests/common/mod.rs"]
mod common;
mod support;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{POSTGRES_ENV, PgDatabase, TestDevice, postgres_admin_url};
use daka_core::protocol::{ItemStatus, PushItem};
use support::{Instance, chain_report, enrol, http, stored_punches, try_push};

/// Devices that push through A and carry on through B.
const DEVICES: usize = 6;
/// Devices that push through B only, all along.
const WITNESSES: usize = 2;
/// Punches each of the `DEVICES` pushes in a round.
const PER_ROUND: usize = 40;
/// Items per push request.
const BATCH: usize = 5;
/// Longest a round's devices may take to deliver their backlogs.
const ROUND_LIMIT: Duration = Duration::from_secs(120);
/// Answers `retry` in a row after which a device gives up (the test then fails, naming it).
const MAX_RETRIES_IN_A_ROW: usize = 100;
/// A password in the database URL: the cluster trusts local connections and ignores it, and
/// no instance may print it.
const DB_PASSWORD: &str = "kill-test-secret-password";

/// Which instance a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    A,
    B,
}

/// What the devices saw, over the whole run.
#[derive(Default)]
struct Tally {
    /// Every acknowledged item: which instance acknowledged it first, and how.
    acked: HashMap<String, (Via, ItemStatus)>,
    /// Items of requests to A that got no answer.
    unanswered_by_a: HashSet<String>,
    /// Of those, the ones B then answered `duplicate`: A committed them, its answer was lost.
    committed_unanswered: usize,
    /// Requests to A that got no answer (cut off by the kill, or refused after it).
    a_failed: usize,
    /// Requests to B; those it answered 503 `busy` (admission control: sent again after
    /// `Retry-After`); and what went wrong with any other.
    b_requests: usize,
    b_busy: usize,
    b_failures: Vec<String>,
    /// Items answered `retry` (sent again), and any refused.
    retried: usize,
    refused: Vec<String>,
}

impl Tally {
    fn acknowledge(&mut self, id: &str, via: Via, status: ItemStatus) {
        if via == Via::B && status == ItemStatus::Duplicate && self.unanswered_by_a.contains(id) {
            self.committed_unanswered += 1;
        }
        self.acked.entry(id.to_string()).or_insert((via, status));
    }
}

/// The state the device tasks share with the round's driver.
struct Shared {
    http: reqwest::Client,
    a_url: String,
    b_url: String,
    tally: Mutex<Tally>,
    /// Requests A answered this round, and requests to A in flight now.
    a_answered: AtomicUsize,
    a_in_flight: AtomicUsize,
    /// Set once every device of the round delivered its backlog: the witnesses stop.
    round_done: AtomicBool,
}

impl Shared {
    fn url(&self, via: Via) -> &str {
        match via {
            Via::A => &self.a_url,
            Via::B => &self.b_url,
        }
    }

    /// Sends `items` as requests of [`BATCH`] through `via` until every one is acknowledged;
    /// when A does not answer, carries on through B. Gives up after 10 failures of B, or
    /// [`MAX_RETRIES_IN_A_ROW`] answers `retry` in a row.
    async fn deliver(&self, dev: &TestDevice, items: Vec<PushItem>, mut via: Via) {
        let mut pending: VecDeque<PushItem> = items.into();
        let (mut b_failures, mut retries_in_a_row) = (0, 0);
        while !pending.is_empty() {
            let batch: Vec<PushItem> = pending.iter().take(BATCH).cloned().collect();
            if via == Via::A {
                self.a_in_flight.fetch_add(1, Ordering::SeqCst);
            }
            let outcome = try_push(&self.http, self.url(via), &dev.token, &batch).await;
            let mut retry = false;
            let mut wait = Duration::ZERO;
            {
                let mut tally = self.tally.lock().unwrap();
                match (via, outcome) {
                    (_, Ok(results)) => {
                        match via {
                            Via::A => {
                                self.a_in_flight.fetch_sub(1, Ordering::SeqCst);
                                self.a_answered.fetch_add(1, Ordering::SeqCst);
                            }
                            Via::B => tally.b_requests += 1,
                        }
                        for r in results {
                            assert_eq!(r.id, pending[0].id, "results in the request's order");
                            match r.status {
                                ItemStatus::Accepted | ItemStatus::Duplicate => {
                                    retries_in_a_row = 0;
                                    tally.acknowledge(&r.id, via, r.status);
                                    pending.pop_front();
                                }
                                ItemStatus::Retry => {
                                    tally.retried += 1;
                                    retries_in_a_row += 1;
                                    if retries_in_a_row >= MAX_RETRIES_IN_A_ROW {
                                        tally.b_failures.push(format!(
                                            "device {}: {via:?} answered retry {retries_in_a_row} \
                                             times in a row: {r:?}",
                                            dev.device_id
                                        ));
                                        b_failures = 10;
                                    }
                                    retry = true;
                                    break;
                                }
                                _ => {
                                    tally.refused.push(format!("{via:?} {r:?}"));
                                    pending.pop_front();
                                }
                            }
                        }
                    }
                    (Via::A, Err(_)) => {
                        self.a_in_flight.fetch_sub(1, Ordering::SeqCst);
                        tally.a_failed += 1;
                        tally
                            .unanswered_by_a
                            .extend(batch.iter().map(|i| i.id.clone()));
                        via = Via::B;
                    }
                    // Admission control shedding load: an answer, honoured as the SDK does.
                    (Via::B, Err(e)) if e.status == Some(503) && e.message.contains("\"busy\"") => {
                        tally.b_requests += 1;
                        tally.b_busy += 1;
                        wait = Duration::from_secs(e.retry_after_s.unwrap_or(1));
                    }
                    (Via::B, Err(e)) => {
                        tally.b_requests += 1;
                        tally
                            .b_failures
                            .push(format!("device {}: {e}", dev.device_id));
                        b_failures += 1;
                        retry = true;
                    }
                }
            }
            if b_failures >= 10 {
                return;
            }
            if retry {
                wait = wait.max(Duration::from_millis(20));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// One device's round: its new records, delivered through A (then B).
async fn device_round(shared: Arc<Shared>, mut dev: TestDevice) -> (TestDevice, Vec<String>) {
    let items: Vec<PushItem> = (0..PER_ROUND)
        .map(|_| {
            let r = dev.good_record();
            dev.item(&r)
        })
        .collect();
    let ids = items.iter().map(|i| i.id.clone()).collect();
    shared.deliver(&dev, items, Via::A).await;
    (dev, ids)
}

/// A witness's round: requests of [`BATCH`] new records through B until the round is done.
async fn witness_round(shared: Arc<Shared>, mut dev: TestDevice) -> (TestDevice, Vec<String>) {
    let mut ids = Vec::new();
    while !shared.round_done.load(Ordering::SeqCst) {
        let items: Vec<PushItem> = (0..BATCH)
            .map(|_| {
                let r = dev.good_record();
                dev.item(&r)
            })
            .collect();
        ids.extend(items.iter().map(|i| i.id.clone()));
        shared.deliver(&dev, items, Via::B).await;
    }
    (dev, ids)
}

/// Checks through `url` that every acknowledged item is stored exactly once, nothing is stored
/// that was not pushed, and every chain verifies with as many records as its device pushed
/// and had acknowledged so far; the number of punches stored.
async fn check_stored(
    http: &reqwest::Client,
    url: &str,
    tally: &Tally,
    pushed: &HashMap<String, String>,
    when: &str,
) -> usize {
    let stored = stored_punches(http, url).await;
    let mut count: HashMap<&str, usize> = HashMap::new();
    for p in &stored {
        *count.entry(p.punch_id.as_str()).or_default() += 1;
        assert_eq!(
            pushed.get(&p.punch_id),
            Some(&p.device_id),
            "{when}: punch {} of device {} was never pushed by it",
            p.punch_id,
            p.device_id
        );
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{when}: stored twice: {twice:?}");
    let lost: Vec<_> = tally
        .acked
        .keys()
        .filter(|id| !count.contains_key(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{when}: acknowledged but not stored: {lost:?}"
    );
    let report = chain_report(http, url).await;
    assert!(report.ok, "{when}: a chain does not verify: {report:?}");
    let mut per_device: HashMap<&str, usize> = HashMap::new();
    for p in &stored {
        *per_device.entry(p.device_id.as_str()).or_default() += 1;
    }
    for d in &report.devices {
        assert_eq!(
            d.records,
            per_device.get(d.device_id.as_str()).copied().unwrap_or(0),
            "{when}: device {}",
            d.device_id
        );
        assert_eq!(
            d.last_seq as usize, d.records,
            "{when}: device {}",
            d.device_id
        );
    }
    stored.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_push_loses_nothing_acknowledged() {
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!(
            "skipped: two instances need PostgreSQL; set {POSTGRES_ENV} (scripts/pg.sh start)"
        );
        return;
    };
    let rounds: usize = std::env::var("DAKA_KILL_ROUNDS")
        .ok()
        .map(|r| r.parse().expect("DAKA_KILL_ROUNDS is a number"))
        .unwrap_or(8);
    let seed: u64 = std::env::var("DAKA_KILL_SEED")
        .ok()
        .map(|s| s.parse().expect("DAKA_KILL_SEED is a number"))
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("kill test: seed {seed} (DAKA_KILL_SEED), {rounds} rounds (DAKA_KILL_ROUNDS)");
    let mut rng = fastrand::Rng::with_seed(seed);

    let pg = PgDatabase::create(&admin_url);
    let mut db_url = url::Url::parse(pg.url()).unwrap();
    db_url.set_password(Some(DB_PASSWORD)).unwrap();
    let db_url = db_url.to_string();
    let start = |db: String| async move {
        tokio::task::spawn_blocking(move || Instance::start(&db))
            .await
            .unwrap()
    };
    let mut a = start(db_url.clone()).await;
    let b = start(db_url.clone()).await;
    let http = http();

    let mut devices = Vec::new();
    let mut witnesses = Vec::new();
    for i in 0..DEVICES + WITNESSES {
        let employee = if i % 2 == 0 { "E1001" } else { "E1002" };
        let url = if i % 2 == 0 { &a.url } else { &b.url };
        let dev = enrol(&http, url, employee).await;
        if i < DEVICES {
            devices.push(dev);
        } else {
            witnesses.push(dev);
        }
    }

    let requests_per_round = DEVICES * PER_ROUND.div_ceil(BATCH);
    let mut tally = Tally::default();
    // Every item pushed, with its device.
    let mut pushed: HashMap<String, String> = HashMap::new();
    let mut in_flight_at_kills = 0;
    let mut kills_with_requests_in_flight = 0;
    let began = Instant::now();
    for round in 0..rounds {
        if round > 0 {
            a = start(db_url.clone()).await;
        }
        let shared = Arc::new(Shared {
            http: http.clone(),
            a_url: a.url.clone(),
            b_url: b.url.clone(),
            tally: Mutex::new(std::mem::take(&mut tally)),
            a_answered: AtomicUsize::new(0),
            a_in_flight: AtomicUsize::new(0),
            round_done: AtomicBool::new(false),
        });
        let a_failed_before = shared.tally.lock().unwrap().a_failed;
        let pushers: Vec<_> = devices
            .drain(..)
            .map(|d| tokio::spawn(device_round(shared.clone(), d)))
            .collect();
        let watchers: Vec<_> = witnesses
            .drain(..)
            .map(|d| tokio::spawn(witness_round(shared.clone(), d)))
            .collect();

        // Kill A once it has answered a random number of requests, a random moment later.
        let answered_target = rng.usize(1..=requests_per_round * 5 / 6);
        let deadline = Instant::now() + Duration::from_secs(120);
        while shared.a_answered.load(Ordering::SeqCst) < answered_target {
            assert!(
                Instant::now() < deadline,
                "round {round}: A answered only {} requests of {answered_target}; A's log:\n{}",
                shared.a_answered.load(Ordering::SeqCst),
                a.log()
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        tokio::time::sleep(Duration::from_micros(rng.u64(0..4_000))).await;
        let in_flight = shared.a_in_flight.load(Ordering::SeqCst);
        a.kill();
        in_flight_at_kills += in_flight;
        if in_flight > 0 {
            kills_with_requests_in_flight += 1;
        }

        for task in pushers {
            let joined = tokio::time::timeout(ROUND_LIMIT, task).await;
            let (dev, ids) = joined
                .unwrap_or_else(|_| {
                    let t = shared.tally.lock().unwrap();
                    panic!(
                        "round {round}: a device did not deliver within {ROUND_LIMIT:?}: {} \
                         requests to B ({} busy), {} retried, B failures {:?}; B's log:\n{}",
                        t.b_requests,
                        t.b_busy,
                        t.retried,
                        t.b_failures,
                        b.log()
                    )
                })
                .unwrap();
            pushed.extend(ids.into_iter().map(|id| (id, dev.device_id.clone())));
            devices.push(dev);
        }
        shared.round_done.store(true, Ordering::SeqCst);
        for task in watchers {
            let (dev, ids) = task.await.unwrap();
            pushed.extend(ids.into_iter().map(|id| (id, dev.device_id.clone())));
            witnesses.push(dev);
        }
        tally = Arc::into_inner(shared)
            .expect("the round's tasks are done")
            .tally
            .into_inner()
            .unwrap();
        assert!(
            tally.b_failures.is_empty(),
            "round {round}: requests to B failed: {:#?}\nB's log:\n{}",
            tally.b_failures,
            b.log()
        );
        assert!(
            tally.refused.is_empty(),
            "round {round}: {:#?}",
            tally.refused
        );
        // The kill cut A off while devices still had requests for it.
        assert!(
            tally.a_failed > a_failed_before,
            "round {round}: no request to A went unanswered"
        );
        // Every item pushed so far was acknowledged, by A or by B.
        let unacked: Vec<_> = pushed
            .keys()
            .filter(|id| !tally.acked.contains_key(*id))
            .collect();
        assert!(
            unacked.is_empty(),
            "round {round}: never acknowledged: {unacked:?}"
        );
        check_stored(
            &http,
            &b.url,
            &tally,
            &pushed,
            &format!("after round {round}"),
        )
        .await;
    }
    let elapsed = began.elapsed();

    // A restarted instance reads the same: everything pushed, stored once, every chain whole.
    let last = start(db_url.clone()).await;
    let stored = check_stored(&http, &last.url, &tally, &pushed, "at the end").await;
    assert_eq!(stored, pushed.len(), "everything pushed is stored once");
    let report = chain_report(&http, &last.url).await;
    assert_eq!(report.devices.len(), DEVICES + WITNESSES);
    assert!(
        kills_with_requests_in_flight > 0,
        "no kill found a request to A in flight"
    );
    for log in [a.log(), b.log(), last.log()] {
        assert!(
            !log.contains(DB_PASSWORD),
            "the database password was printed: {log}"
        );
    }
    drop(a);
    assert_eq!(b.stop(), Some(0), "B stops cleanly");
    assert_eq!(last.stop(), Some(0));

    let by_a = tally.acked.values().filter(|(v, _)| *v == Via::A).count();
    let by_b = tally.acked.len() - by_a;
    println!(
        "kill test: {rounds} rounds in {:.1} s, {rounds} kills of A with SIGKILL \
         ({kills_with_requests_in_flight} with requests in flight, {in_flight_at_kills} requests \
         in flight in all; {} requests to A unanswered); {} items acknowledged ({by_a} by A, \
         {by_b} by B; {} committed by A with the answer lost, answered duplicate by B; {} \
         answered retry and sent again); {stored} stored, lost 0, stored twice 0; {} requests \
         to B, 0 failed, {} answered 503 busy and sent again after Retry-After",
        elapsed.as_secs_f64(),
        tally.a_failed,
        tally.acked.len(),
        tally.committed_unanswered,
        tally.retried,
        tally.b_requests,
        tally.b_busy,
    );
}
