//! The load run's report: throughput, latency percentiles, requests, items and errors by
//! outcome, where the time went (against an Ed25519 verification timed in the same run), and
//! the integrity check; as text for people or one JSON object for scripts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::Serialize;

use super::drive::{Delivery, Stats};
use super::fleet::SimDevice;
use super::integrity::Integrity;
use crate::exit;

/// Signatures timed for the baseline.
const BASELINE_SAMPLES: usize = 2000;

/// The cost of one bare Ed25519 verification of a punch record on this machine, µs: ring's
/// check of a record's signature over its signed bytes, as the server's first check of an
/// item, timed over up to [`BASELINE_SAMPLES`] of the fleet's own records.
pub(super) fn verify_baseline(fleet: &[SimDevice]) -> f64 {
    let samples: Vec<(&[u8; 32], &super::fleet::Backlogged)> = (0..)
        .map_while(|round| {
            let some: Vec<_> = fleet
                .iter()
                .filter_map(|d| d.backlog.get(round).map(|b| (&d.public_key, b)))
                .collect();
            (!some.is_empty()).then_some(some)
        })
        .flatten()
        .take(BASELINE_SAMPLES)
        .collect();
    if samples.is_empty() {
        return 0.0;
    }
    let check = |(key, b): &(&[u8; 32], &super::fleet::Backlogged)| {
        UnparsedPublicKey::new(&ED25519, key.as_slice())
            .verify(&b.signed, &b.signature)
            .is_ok()
    };
    // A warm-up pass, then the timed one; a record that does not verify is no baseline.
    if !samples.iter().all(check) {
        return 0.0;
    }
    let started = Instant::now();
    let verified = samples.iter().filter(|s| check(s)).count();
    let elapsed = started.elapsed();
    if verified != samples.len() {
        return 0.0;
    }
    elapsed.as_secs_f64() * 1e6 / samples.len() as f64
}

/// CPU time (user and system) this process has used so far.
pub(super) fn process_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes the struct passed.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return None;
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        Some(tv(usage.ru_utime) + tv(usage.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What the report is made from.
pub(super) struct Inputs<'a> {
    pub(super) targets: Vec<String>,
    pub(super) employees: usize,
    pub(super) devices: usize,
    pub(super) punches: usize,
    pub(super) batch: usize,
    pub(super) concurrency: usize,
    pub(super) preparation: Duration,
    pub(super) connect: Option<Duration>,
    pub(super) wall: Duration,
    pub(super) cpu: Option<Duration>,
    pub(super) verify: f64,
    pub(super) stats: Stats,
    pub(super) deliveries: &'a [Delivery],
    pub(super) integrity: Integrity,
    pub(super) json: bool,
}

/// Request latency percentiles, milliseconds.
#[derive(Serialize)]
pub(super) struct Latency {
    /// Requests measured.
    count: u64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Latency {
    /// The percentiles of a histogram of microseconds (all zero when it is empty).
    fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }

    /// `p50 … ms, p95 … ms, p99 … ms, max … ms`, or `none` when no request was measured.
    fn text(&self) -> String {
        if self.count == 0 {
            return "none".to_string();
        }
        format!(
            "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.p50, self.p95, self.p99, self.max
        )
    }
}

/// Where the time went.
#[derive(Serialize)]
pub(super) struct Cost {
    /// A bare Ed25519 verification of one record on this machine, µs.
    ed25519_verify_us: f64,
    /// Wall time per accepted punch, µs: what one punch costs the target at this load.
    wall_us_per_punch: f64,
    /// `wall_us_per_punch` over `ed25519_verify_us`.
    wall_per_verify: f64,
    /// CPU time of this process per accepted punch, µs (the in-process server and the load
    /// generator together, or the load generator alone against --server).
    process_cpu_us_per_punch: Option<f64>,
    /// Whether that CPU time includes the server's.
    cpu_includes_server: bool,
}

/// The report.
#[derive(Serialize)]
pub(super) struct Report {
    targets: Vec<String>,
    employees: usize,
    devices: usize,
    punches_per_device: usize,
    batch: usize,
    concurrency: usize,
    /// Enrolment and signing, before the clock, seconds.
    preparation_s: f64,
    /// Opening every device's connection before the clock, seconds; null when each device
    /// connected at its first push, inside the clock (`--cold-start`).
    connect_s: Option<f64>,
    /// From the first request to the last answer, seconds.
    wall_s: f64,
    /// Accepted items per second of wall time.
    punches_per_s: f64,
    /// Records acknowledged (accepted or duplicate) of those queued.
    delivered: usize,
    queued: usize,
    complete: bool,
    /// Every push request, refusals included.
    latency_ms: Latency,
    /// The pushes answered with their items' results (200).
    answered_latency_ms: Latency,
    /// Every push request after each device's first (the fleet's opening burst left out).
    later_latency_ms: Latency,
    /// The turn questions (`POST /v1/push/turn`) of devices refused `busy` or with a backlog.
    turn_latency_ms: Latency,
    /// Every request: the pushes and the turn questions.
    all_latency_ms: Latency,
    requests: BTreeMap<String, u64>,
    items: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    /// Requests abandoned at the time limit.
    cut_off: u64,
    /// Devices that stopped before delivering everything, by reason.
    stopped: BTreeMap<String, u64>,
    cost: Cost,
    integrity: Integrity,
    #[serde(skip)]
    json: bool,
}

impl Report {
    pub(super) fn new(i: Inputs<'_>) -> Report {
        let accepted = i.stats.items.get("accepted").copied().unwrap_or(0);
        let delivered = i
            .deliveries
            .iter()
            .flat_map(|d| &d.answers)
            .filter(|a| super::drive::acknowledged(a))
            .count();
        let mut stopped = BTreeMap::new();
        for d in i.deliveries {
            if let Some(r) = &d.stopped {
                *stopped.entry(r.clone()).or_default() += 1;
            }
        }
        let queued = i.devices * i.punches;
        let wall_s = i.wall.as_secs_f64();
        let per_punch =
            |d: Duration| (accepted > 0).then(|| d.as_secs_f64() * 1e6 / accepted as f64);
        let wall_us = per_punch(i.wall).unwrap_or(0.0);
        let in_process = i.targets == ["in-process"];
        Report {
            employees: i.employees,
            devices: i.devices,
            punches_per_device: i.punches,
            batch: i.batch,
            concurrency: i.concurrency,
            preparation_s: i.preparation.as_secs_f64(),
            connect_s: i.connect.map(|d| d.as_secs_f64()),
            wall_s,
            punches_per_s: if wall_s > 0.0 {
                accepted as f64 / wall_s
            } else {
                0.0
            },
            delivered,
            queued,
            complete: delivered == queued,
            latency_ms: Latency::of(&i.stats.latency_us),
            answered_latency_ms: Latency::of(&i.stats.answered_us),
            later_latency_ms: Latency::of(&i.stats.later_us),
            turn_latency_ms: Latency::of(&i.stats.turn_us),
            all_latency_ms: Latency::of(&i.stats.all_us),
            requests: i.stats.requests,
            items: i.stats.items,
            errors: i.stats.errors,
            cut_off: i.stats.cut_off,
            stopped,
            cost: Cost {
                ed25519_verify_us: i.verify,
                wall_us_per_punch: wall_us,
                wall_per_verify: if i.verify > 0.0 {
                    wall_us / i.verify
                } else {
                    0.0
                },
                process_cpu_us_per_punch: i.cpu.and_then(per_punch),
                cpu_includes_server: in_process,
            },
            integrity: i.integrity,
            targets: i.targets,
            json: i.json,
        }
    }

    /// 0 when every punch was delivered and the check passed; 1 when the check failed;
    /// [`super::INCOMPLETE`] when it passed but not everything was delivered.
    pub(super) fn exit_status(&self) -> u8 {
        if !self.integrity.ok() {
            exit::REJECTED
        } else if !self.complete {
            super::INCOMPLETE
        } else {
            exit::OK
        }
    }

    /// Prints the report on standard output, and a failed check's summary on standard error.
    pub(super) fn print(&self) {
        if self.json {
            match serde_json::to_string(self) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("daka loadgen: cannot write the report: {e}"),
            }
        } else {
            print!("{}", self.text());
        }
        if !self.integrity.ok() {
            eprintln!(
                "daka loadgen: INTEGRITY CHECK FAILED: {}",
                self.integrity_summary()
            );
        } else if !self.complete {
            eprintln!(
                "daka loadgen: {} of {} punches delivered before the run stopped",
                self.delivered, self.queued
            );
        }
    }

    fn integrity_summary(&self) -> String {
        let g = &self.integrity;
        let mut parts = Vec::new();
        if !g.lost.is_empty() {
            let (d, id) = &g.lost[0];
            parts.push(format!(
                "{} acknowledged punches are not stored (first: {id} of device {d})",
                g.lost.len()
            ));
        }
        if !g.duplicated.is_empty() {
            let (d, id, n) = &g.duplicated[0];
            parts.push(format!(
                "{} punches are stored more than once (first: {id} of device {d}, {n} times)",
                g.duplicated.len()
            ));
        }
        if !g.broken_chains.is_empty() {
            let (d, what) = &g.broken_chains[0];
            parts.push(format!(
                "{} device chains do not verify (first: device {d}: {what})",
                g.broken_chains.len()
            ));
        }
        parts.join("; ")
    }

    fn text(&self) -> String {
        let counts = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let c = &self.cost;
        let g = &self.integrity;
        let mut out = format!(
            "daka loadgen: {} devices × {} punches against {} ({} employees), batches of {}, \
             {} requests in flight at most\n\
             prepared (enrolment and signing, before the clock) in {:.1} s\n\
             {}\n\n\
             throughput   {:.0} punches/s ({} accepted in {:.2} s)\n\
             delivered    {} of {} queued{}\n\
             latency      {} (per push request)\n\
             answered     {} (pushes answered 200)\n\
             later        {} (push requests after each device's first)\n\
             turn         {} (turn questions, POST /v1/push/turn)\n\
             all          {} (every request, pushes and turn questions)\n\
             requests     {}\n\
             items        {}\n\
             errors       {}\n",
            self.devices,
            self.punches_per_device,
            self.targets.join(", "),
            self.employees,
            self.batch,
            self.concurrency,
            self.preparation_s,
            match self.connect_s {
                Some(s) => format!(
                    "connected    every device before the clock, a connection each, in {s:.1} s"
                ),
                None => "connected    each device at its first push, inside the clock (cold start)"
                    .to_string(),
            },
            self.punches_per_s,
            self.items.get("accepted").copied().unwrap_or(0),
            self.wall_s,
            self.delivered,
            self.queued,
            if self.cut_off > 0 {
                format!(" ({} requests cut off at the time limit)", self.cut_off)
            } else {
                String::new()
            },
            self.latency_ms.text(),
            self.answered_latency_ms.text(),
            self.later_latency_ms.text(),
            self.turn_latency_ms.text(),
            self.all_latency_ms.text(),
            counts(&self.requests),
            counts(&self.items),
            counts(&self.errors),
        );
        if !self.stopped.is_empty() {
            out.push_str(&format!("stopped      {}\n", counts(&self.stopped)));
        }
        out.push_str(&format!(
            "cost         {:.1} µs of wall time per punch = {:.1}× one Ed25519 verify ({:.1} µs \
             on this machine)",
            c.wall_us_per_punch, c.wall_per_verify, c.ed25519_verify_us
        ));
        if let Some(cpu) = c.process_cpu_us_per_punch {
            out.push_str(&format!(
                "; {cpu:.1} µs of CPU per punch in this process ({})",
                if c.cpu_includes_server {
                    "server and load generator together"
                } else {
                    "the load generator alone"
                }
            ));
        }
        out.push_str(&format!(
            "\nintegrity    {}: {} acknowledged, {} stored ({}), {} lost, {} stored twice, {} stored \
             unacknowledged; {} chains verify, {} do not\n",
            if g.ok() { "ok" } else { "FAILED" },
            g.acknowledged,
            g.stored,
            g.by_status
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            g.lost.len(),
            g.duplicated.len(),
            g.unacknowledged_stored,
            g.chains_ok,
            g.broken_chains.len()
        ));
        out
    }
}
