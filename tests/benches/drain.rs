//! Draining a backlog of punches queued offline to the server over loopback: in batches versus
//! one request per punch (goal: batches at least 20× faster), with absolute figures.
//!
//! # What is measured
//!
//! A device enrolled with the reference server queues N punches while "offline" (it punches
//! without syncing; a shared simulated clock moves 2–3 minutes per punch, face check not
//! required, every GPS fix jittered so none is a repeat). The time to deliver all N, with every
//! one answered `accepted`, is measured three ways:
//!
//! * `sync_now`: the SDK's own [`Device::sync_now`], whose requests grow from 100 items to the
//!   protocol's 500 while they come back quickly (as they do here), 22 requests for 10,000
//!   punches, the first after a turn question (`POST /v1/push/turn`, the backlog being over
//!   64 KiB). This includes what a sync round does besides pushing: the policy check and pulling the server's N punch verdicts
//!   from the change feed afterwards.
//! * `batch_500`: the push loop alone at the protocol's largest batch, driven through the
//!   outbox's public API (`take_batch(500)` → [`SyncClient::push`] → `complete`).
//! * `per_punch`: the same loop with `take_batch(1)`: one punch per request, with the same
//!   queued payloads, the same outbox bookkeeping and the same client. The device has no
//!   per-item mode; this is its batch loop with a batch of one, which is the fairest
//!   equivalent (same code on both sides, only the request size differs).
//!
//! `batch_500` against `per_punch` is the like-for-like ratio; `sync_now` is what an app sees.
//!
//! # Fresh state for every measurement
//!
//! The backlog is built once per size, then the device's and the server's database files are
//! copied into a fresh directory for every measured drain, and a fresh server is started on
//! the copy (the copied device is pointed at the new port and its bearer token read, both
//! straight from its store, as nothing else in the public API exposes them). Copying, starting
//! and opening are outside the timed part.
//!
//! # Runs
//!
//! 1. Headline: drains of **10,000** punches each way (set `DAKA_DRAIN_PUNCHES` to change), in
//!    7 rounds (`DAKA_DRAIN_ROUNDS`), each printed with total seconds, µs per punch and the
//!    round's ratios, then the medians: each way's time, and the ratios of drains made in the
//!    same round.
//! 2. Criterion (`iter_custom`, 10 samples, setup excluded): the three ways on a backlog of
//!    1,000 punches (`DAKA_DRAIN_SAMPLE_PUNCHES`), reported per drain; divide by 1,000 for
//!    per-punch figures. They are not the 10,000 figures scaled: see the headline.
//!
//! The headline also prints where the direct loops spent their time: the device's outbox
//! bookkeeping (`take_batch` + `complete`, each a durable transaction) and the push (building
//! the request, the HTTP exchange and the server's work). The server commits and flushes a
//! request's items together, so batching removes the per-request costs (one fsync on each
//! side, the HTTP exchange) but not the per-item work (strict reading, signature check,
//! re-running the rules, the item's writes); the ratio is bounded by how that per-item work
//! compares with the per-request costs.
//!
//! `cargo bench -p daka-e2e --bench drain`; `DAKA_DRAIN_HEADLINE_ONLY=1` skips criterion,
//! `DAKA_DRAIN_WAYS=sync_now,batch_500` runs only the named ways (for profiling one of them).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, SamplingMode};
use daka_core::evidence::DeviceClock;
use daka_core::protocol::{ItemStatus, MAX_PUSH_ITEMS, PushItem, PushRequest};
use daka_device::outbox::Outcome;
use daka_device::sync::client::{ClientConfig, SyncClient};
use daka_device::{ClockSource, Device, UnprotectedKeyStore};
use daka_e2e::harness::{TestServer, enrolled_device, enrollment_code, in_or_out, store_punch};
use daka_server::ServerOptions;

/// A clock shared by the phone and the server: runs in real time from a start point, and can
/// be moved forward by hand (to spread the offline punches over days).
struct Timeline {
    start_wall: DateTime<Utc>,
    start_mono: u64,
    skipped_ms: AtomicI64,
    since: Instant,
}

impl Timeline {
    fn new(start_wall: DateTime<Utc>, start_mono: u64) -> Arc<Timeline> {
        Arc::new(Timeline {
            start_wall,
            start_mono,
            skipped_ms: AtomicI64::new(0),
            since: Instant::now(),
        })
    }

    fn elapsed_ms(&self) -> i64 {
        self.skipped_ms.load(Ordering::SeqCst) + self.since.elapsed().as_millis() as i64
    }

    fn wall(&self) -> DateTime<Utc> {
        self.start_wall + chrono::Duration::milliseconds(self.elapsed_ms())
    }

    fn skip_s(&self, s: i64) {
        self.skipped_ms.fetch_add(s * 1000, Ordering::SeqCst);
    }

    fn options(self: &Arc<Self>) -> ServerOptions {
        let clock = self.clone();
        ServerOptions {
            clock: Some(Arc::new(move || clock.wall())),
            ..ServerOptions::default()
        }
    }
}

impl ClockSource for Timeline {
    fn now(&self) -> DeviceClock {
        DeviceClock {
            wall: self.wall(),
            monotonic_ms: self.start_mono + self.elapsed_ms() as u64,
            boot_id: "drain-bench-boot-1".into(),
        }
    }
}

/// A device with a backlog and the server it enrolled with, both closed, as files.
struct Backlog {
    punches: usize,
    dir: tempfile::TempDir,
    /// Where the clock stood when the backlog was built.
    end: DeviceClock,
}

const DB_FILES: [&str; 4] = ["server.db", "server.db-wal", "device.db", "device.db-wal"];

impl Backlog {
    async fn build(punches: usize) -> Backlog {
        let dir = tempfile::tempdir().unwrap();
        // The punches span about 17 days per 10,000; they end near the real now.
        let span_s = punches as i64 * 150;
        let timeline = Timeline::new(Utc::now() - chrono::Duration::seconds(span_s), 3_600_000);
        let server = TestServer::start_at(
            &dir.path().join("server.db"),
            Some(daka_e2e::harness::seed(
                daka_e2e::harness::example_policy(false),
                1,
            )),
            timeline.options(),
        )
        .await;
        let device = enrolled_device(
            &dir.path().join("device.db"),
            timeline.clone(),
            &server.url(),
            &enrollment_code(1),
        )
        .await;
        let mut rng = fastrand::Rng::with_seed(42);
        let started = Instant::now();
        for n in 0..punches {
            timeline.skip_s(120 + rng.i64(0..60));
            let input = store_punch(&mut rng, &timeline.now(), in_or_out(n as u64));
            let outcome = device.punch(input).unwrap();
            assert!(outcome.record.is_some(), "{:?}", outcome.verdict);
        }
        let stats = device.outbox_stats().unwrap();
        assert_eq!(stats.pending as usize, punches);
        eprintln!(
            "backlog: {punches} punches queued offline in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        drop(device);
        server.server.shutdown().await.unwrap();
        Backlog {
            punches,
            dir,
            end: timeline.now(),
        }
    }
}

/// A fresh copy of a backlog: the server running on its copy, the device opened on its own.
struct Fresh {
    server: TestServer,
    device: Device,
    token: String,
    timeline: Arc<Timeline>,
    _dir: tempfile::TempDir,
}

impl Fresh {
    async fn new(backlog: &Backlog) -> Fresh {
        let dir = tempfile::tempdir().unwrap();
        for name in DB_FILES {
            let from = backlog.dir.path().join(name);
            if from.exists() {
                std::fs::copy(&from, dir.path().join(name)).unwrap();
            }
        }
        let timeline = Timeline::new(backlog.end.wall, backlog.end.monotonic_ms);
        let server =
            TestServer::start_at(&dir.path().join("server.db"), None, timeline.options()).await;
        let device_db = dir.path().join("device.db");
        let token = point_device_at(&device_db, &server.url());
        let device = Device::builder(&device_db)
            .clock(timeline.clone())
            .key_store(&UnprotectedKeyStore)
            .open()
            .unwrap();
        Fresh {
            server,
            device,
            token,
            timeline,
            _dir: dir,
        }
    }

    fn now_ms(&self) -> i64 {
        self.timeline.wall().timestamp_millis()
    }
}

/// Points the copied device store at the new server and returns its bearer token.
fn point_device_at(db: &Path, url: &str) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute("UPDATE device SET server_url = ?1", [url])
        .unwrap();
    conn.query_row("SELECT bearer_token FROM device", [], |r| r.get(0))
        .unwrap()
}

/// Where the time of a direct drain went.
#[derive(Debug, Default, Clone, Copy)]
struct Split {
    total: Duration,
    /// take_batch + complete: the device's outbox bookkeeping.
    outbox: Duration,
    /// Building the request, the HTTP exchange and the server's work.
    push: Duration,
    requests: u64,
}

/// Drains the whole queue `per_request` items at a time through the outbox and the client.
async fn drain_direct(fresh: &Fresh, per_request: usize) -> Split {
    let client = SyncClient::new(&fresh.server.url(), ClientConfig::default()).unwrap();
    let outbox = fresh.device.outbox();
    let mut split = Split::default();
    let mut delivered = 0;
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let batch = outbox.take_batch(fresh.now_ms(), per_request).unwrap();
        split.outbox += t.elapsed();
        if batch.is_empty() {
            break;
        }
        let t = Instant::now();
        let request = PushRequest {
            items: batch
                .iter()
                .map(|item| PushItem {
                    id: item.id.clone(),
                    stream: item.stream.clone(),
                    kind: item.kind.clone(),
                    body: serde_json::value::RawValue::from_string(item.payload.clone()).unwrap(),
                })
                .collect(),
        };
        let response = client.push(&fresh.token, &request).await.unwrap();
        split.push += t.elapsed();
        split.requests += 1;
        let outcomes: Vec<(String, Outcome)> = response
            .results
            .iter()
            .map(|r| {
                assert_eq!(r.status, ItemStatus::Accepted, "{r:?}");
                (r.id.clone(), Outcome::Delivered)
            })
            .collect();
        assert_eq!(outcomes.len(), batch.len());
        delivered += outcomes.len();
        let t = Instant::now();
        outbox.complete(&outcomes, fresh.now_ms()).unwrap();
        split.outbox += t.elapsed();
    }
    split.total = started.elapsed();
    assert_eq!(delivered, fresh.device.punch_log().unwrap().len());
    split
}

/// Drains the whole queue with the SDK's own sync round.
async fn drain_sync_now(fresh: &Fresh) -> Split {
    let started = Instant::now();
    let report = fresh.device.sync_now(&|_| {}).await.unwrap();
    let total = started.elapsed();
    assert_eq!(report.stopped_by, None, "{report:?}");
    assert_eq!(report.remaining, 0);
    assert_eq!(
        report.accepted as usize,
        fresh.device.punch_log().unwrap().len()
    );
    Split {
        total,
        requests: report.requests,
        ..Split::default()
    }
}

#[derive(Debug, Clone, Copy)]
enum Way {
    SyncNow,
    Batch500,
    PerPunch,
}

impl Way {
    const ALL: [Way; 3] = [Way::SyncNow, Way::Batch500, Way::PerPunch];

    fn name(self) -> &'static str {
        match self {
            Way::SyncNow => "sync_now",
            Way::Batch500 => "batch_500",
            Way::PerPunch => "per_punch",
        }
    }

    /// Whether `DAKA_DRAIN_WAYS` (comma-separated names; all when unset) selects this way.
    fn selected(self) -> bool {
        std::env::var("DAKA_DRAIN_WAYS")
            .map(|ways| ways.split(',').any(|w| w.trim() == self.name()))
            .unwrap_or(true)
    }

    /// One measured drain of a fresh copy of `backlog`; setup is not in the result.
    async fn drain(self, backlog: &Backlog) -> Split {
        let fresh = Fresh::new(backlog).await;
        let split = match self {
            Way::SyncNow => drain_sync_now(&fresh).await,
            Way::Batch500 => drain_direct(&fresh, MAX_PUSH_ITEMS).await,
            Way::PerPunch => drain_direct(&fresh, 1).await,
        };
        // The server holds every punch once.
        let stored = fresh.server.punches().await;
        assert_eq!(stored.len(), backlog.punches);
        fresh.server.server.shutdown().await.unwrap();
        split
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The headline: `DAKA_DRAIN_ROUNDS` rounds (7 unless set), each draining a fresh copy of the
/// backlog every selected way, one after the other. Each round's ratios compare drains made
/// seconds apart, so a drift in this machine's fsync latency between rounds (which moves the
/// one-request-per-punch baseline most) does not enter a ratio; the medians are reported.
fn headline(rt: &tokio::runtime::Runtime) {
    let punches = env_usize("DAKA_DRAIN_PUNCHES", 10_000);
    let rounds = env_usize("DAKA_DRAIN_ROUNDS", 7).max(1);
    let backlog = rt.block_on(Backlog::build(punches));
    // Seconds per way (in `Way::ALL` order) per round; NaN for ways not selected.
    let mut runs: Vec<[f64; 3]> = Vec::new();
    for round in 1..=rounds {
        let mut totals = [f64::NAN; 3];
        for (i, way) in Way::ALL.into_iter().enumerate() {
            if !way.selected() {
                continue;
            }
            let split = rt.block_on(way.drain(&backlog));
            let s = split.total.as_secs_f64();
            // Only the direct loops time their parts.
            let parts = if split.push.is_zero() {
                String::new()
            } else {
                format!(
                    " (outbox bookkeeping {:.2} s, push {:.2} s)",
                    split.outbox.as_secs_f64(),
                    split.push.as_secs_f64()
                )
            };
            eprintln!(
                "headline round {round}: {:<10} {punches} punches in {s:8.2} s = {:8.1} µs/punch, \
                 {} requests{parts}",
                way.name(),
                s * 1e6 / punches as f64,
                split.requests,
            );
            totals[i] = s;
        }
        eprintln!(
            "headline round {round}: per_punch / batch_500 = {}, per_punch / sync_now = {}",
            times(totals[2] / totals[1]),
            times(totals[2] / totals[0])
        );
        runs.push(totals);
    }
    let column = |i: usize| median(runs.iter().map(|r| r[i]).collect());
    let ratio = |over: usize| median(runs.iter().map(|r| r[2] / r[over]).collect());
    let ways: Vec<String> = Way::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !column(*i).is_nan())
        .map(|(i, way)| {
            format!(
                "{} {:.2} s ({:.1} µs/punch)",
                way.name(),
                column(i),
                column(i) * 1e6 / punches as f64
            )
        })
        .collect();
    eprintln!(
        "headline median of {rounds} rounds: {}; ratios: per_punch / batch_500 = {}, \
         per_punch / sync_now = {}",
        ways.join(", "),
        times(ratio(1)),
        times(ratio(0)),
    );
}

/// A ratio as printed: `n/a` when one of its ways was not run (`DAKA_DRAIN_WAYS`).
fn times(ratio: f64) -> String {
    if ratio.is_nan() {
        "n/a".into()
    } else {
        format!("{ratio:.1}×")
    }
}

fn criterion_runs(rt: &tokio::runtime::Runtime) {
    let punches = env_usize("DAKA_DRAIN_SAMPLE_PUNCHES", 1_000);
    let backlog = rt.block_on(Backlog::build(punches));
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group(format!("drain_{punches}"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5));
    for way in Way::ALL.into_iter().filter(|w| w.selected()) {
        group.bench_function(way.name(), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| rt.block_on(way.drain(&backlog)).total)
                    .sum()
            })
        });
    }
    group.finish();
    criterion.final_summary();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // `cargo bench` passes `--bench`; run any other way (`cargo test --benches`), one small
    // drain each way checks that the benchmark works.
    if !std::env::args().any(|a| a == "--bench") {
        let backlog = rt.block_on(Backlog::build(50));
        for way in Way::ALL {
            rt.block_on(way.drain(&backlog));
        }
        return;
    }
    headline(&rt);
    if std::env::var_os("DAKA_DRAIN_HEADLINE_ONLY").is_none() {
        criterion_runs(&rt);
    }
}
