//! Crash tests of the outbox contract ("recorded" means recorded; nothing lost, nothing counted
//! twice), with a real process killed by SIGKILL at random moments.
//!
//! * `acknowledged_punches_survive_sigkill_and_reach_the_server_once`: a child process
//!   (`punch_child punch`) punching in a loop is killed 200 times: right at start-up (within
//!   3 ms of being spawned), at a random moment in its first 60 ms, or within 1.5 ms of an
//!   acknowledgement (so mostly inside the next punch's transaction). Afterwards every
//!   acknowledged punch is in the store with the seq it was acknowledged with, acknowledged
//!   seqs only ever grew (no acknowledged punch was overwritten by a fork), the file passes
//!   SQLite's `integrity_check`, the stored punch log verifies as one unbroken chain from seq 1
//!   (punches committed but killed before their acknowledgement included), the device punches
//!   on from the chain's head, and after syncing the server holds exactly the device's punches,
//!   each once, in chain order, none refused, with every chain verifying.
//! * `killing_a_sync_midway_delivers_every_punch_exactly_once`: a child draining the outbox to
//!   the server (`punch_child sync`) is killed at least 20 times, with 20–220 new punches queued
//!   before each round: at start-up, at a random moment, just after an answered batch, and (every
//!   fourth round) while the server is applying a batch the device has not been answered for.
//!   After each kill the test counts the punches the server had applied but the device had not
//!   recorded as delivered (the case exactly-once is about), and requires at least two rounds
//!   where that happened (adding rounds, up to 60, if needed). The parent then finishes the
//!   sync and the server holds each punch exactly once.
//!
//! Both take their kill schedule from a seeded RNG and print the seed;
//! `DAKA_CRASH_SEED=<seed>` replays a schedule (process timing still varies).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use daka_core::punch::verify_chain;
use daka_device::outbox::ItemState;
use daka_device::{Device, SystemClock, UnprotectedKeyStore};
use daka_e2e::harness::{TestServer, enrolled_device, enrollment_code, in_or_out, store_punch};
use daka_server::ServerOptions;
use daka_server::api::admin::PunchInfo;

/// Kills of the punching child.
const PUNCH_ROUNDS: usize = 200;
/// Least kills of the syncing child, and the most it may take to see the interesting case.
const SYNC_ROUNDS: usize = 20;
const SYNC_ROUNDS_CAP: usize = 60;
/// How many times a sync kill must land between the server's commit and the device's.
const SYNC_WINDOW_HITS: usize = 2;
/// Longest wait for a child's next line before the test gives up on it.
const LINE_TIMEOUT: Duration = Duration::from_secs(20);

fn seed_rng(test: &str) -> fastrand::Rng {
    let seed = std::env::var("DAKA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("{test}: DAKA_CRASH_SEED={seed}");
    fastrand::Rng::with_seed(seed)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A server and a device enrolled into it, whose store is then closed for a child to open.
struct Setup {
    rt: tokio::runtime::Runtime,
    server: TestServer,
    db: PathBuf,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let rt = runtime();
    let server = rt.block_on(TestServer::start(ServerOptions::default()));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.db");
    let device = rt.block_on(enrolled_device(
        &db,
        Arc::new(SystemClock::new()),
        &server.url(),
        &enrollment_code(1),
    ));
    drop(device);
    Setup {
        rt,
        server,
        db,
        _dir: dir,
    }
}

fn open_device(db: &Path) -> Device {
    Device::builder(db)
        .clock(Arc::new(SystemClock::new()))
        .key_store(&UnprotectedKeyStore)
        .open()
        .expect("the device store opens after the crash")
}

/// A running child with its stdout lines arriving on a channel.
struct Running {
    child: Child,
    lines: Receiver<String>,
    stdout: JoinHandle<()>,
    stderr: JoinHandle<String>,
}

fn spawn_child(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_punch_child"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("punch_child starts");
    let out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let (tx, lines) = channel();
    let stdout = std::thread::spawn(move || {
        let mut reader = BufReader::new(out);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                // Only whole lines count: a line cut by the kill was never fully reported.
                Ok(n) if n > 0 && line.ends_with('\n') => {
                    if tx.send(line.trim_end().to_string()).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    Running {
        child,
        lines,
        stdout,
        stderr,
    }
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Killed,
    Finished,
}

impl Running {
    /// Waits for the next line; `None` if the child closed stdout (it ended).
    fn next_line(&self) -> Option<String> {
        match self.lines.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("the child printed nothing for {LINE_TIMEOUT:?}")
            }
        }
    }

    /// SIGKILLs the child (if it still runs), reaps it, and returns how it ended and every
    /// whole line it printed that was not consumed yet. A child that failed is a test failure.
    fn kill(mut self, finish_ok: bool) -> (End, Vec<String>) {
        // `Child::kill` sends SIGKILL on Unix.
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        self.stdout.join().unwrap();
        let stderr = self.stderr.join().unwrap();
        let end = match status.signal() {
            Some(libc::SIGKILL) => End::Killed,
            _ if finish_ok && status.success() => End::Finished,
            _ => panic!("punch_child ended by itself with {status}: {stderr}"),
        };
        (end, self.lines.try_iter().collect())
    }
}

fn parse_ack(line: &str) -> (String, u64) {
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("ACK"), Some(id), Some(seq), None) => (id.to_string(), seq.parse().unwrap()),
        _ => panic!("unexpected line from the punching child: {line:?}"),
    }
}

/// Sleeps about `us` microseconds; short waits spin so they are not rounded up to a tick.
fn pause_us(us: u64) {
    let until = Instant::now() + Duration::from_micros(us);
    if us > 2_000 {
        std::thread::sleep(Duration::from_micros(us - 1_000));
    }
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Syncs until the outbox is empty and checks that the server stored exactly the device's
/// punch log, each punch once and in chain order, and that every chain verifies.
fn sync_and_check_exactly_once(setup: &Setup, device: &Device) -> (u64, u64) {
    let (mut accepted, mut duplicates) = (0, 0);
    for _ in 0..20 {
        let report = setup.rt.block_on(device.sync_now(&|_| {})).unwrap();
        assert_eq!(report.stopped_by, None, "{report:?}");
        assert_eq!(report.rejected, 0, "{report:?}");
        accepted += report.accepted;
        duplicates += report.duplicates;
        if report.remaining == 0 {
            break;
        }
    }
    let stats = device.outbox_stats().unwrap();
    let log = device.punch_log().unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight, stats.needs_attention),
        (0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.delivered as usize, log.len());

    let device_id = device.identity().unwrap().device_id;
    let on_server: Vec<PunchInfo> = setup.rt.block_on(setup.server.punches());
    assert!(on_server.iter().all(|p| p.device_id == device_id));
    let mut seen = HashSet::new();
    for p in &on_server {
        assert!(
            seen.insert(p.punch_id.clone()),
            "punch {} stored twice",
            p.punch_id
        );
    }
    let server_ids: Vec<(String, u64)> = on_server
        .iter()
        .map(|p| (p.punch_id.clone(), p.seq))
        .collect();
    let log_ids: Vec<(String, u64)> = log
        .iter()
        .map(|r| (r.body.id.to_string(), r.body.seq))
        .collect();
    assert_eq!(
        server_ids.len(),
        log_ids.len(),
        "the server has {} punches, the device {}",
        server_ids.len(),
        log_ids.len()
    );
    assert_eq!(
        server_ids, log_ids,
        "the server holds the device's chain, in order"
    );
    let refused: Vec<_> = on_server
        .iter()
        .filter(|p| p.status.as_str() == "refused")
        .map(|p| (p.seq, p.code.clone()))
        .collect();
    assert!(
        refused.is_empty(),
        "punches refused by the server: {refused:?}"
    );
    let report = setup.rt.block_on(setup.server.verify_chains());
    assert!(report.ok, "{report:?}");
    let check = report
        .devices
        .iter()
        .find(|d| d.device_id == device_id)
        .expect("the device's chain is verified");
    assert_eq!(
        (check.records, check.last_seq),
        (log.len(), log.len() as u64)
    );
    (accepted, duplicates)
}

#[test]
fn acknowledged_punches_survive_sigkill_and_reach_the_server_once() {
    let started = Instant::now();
    let mut rng = seed_rng("acknowledged_punches_survive_sigkill");
    let setup = setup();
    let db = setup.db.to_str().unwrap().to_string();

    // Every acknowledged punch: id -> seq, and the order of acknowledgement.
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut last_acked_seq = 0u64;
    let mut schedule = [0usize; 3];
    for round in 0..PUNCH_ROUNDS {
        let child = spawn_child(&["punch", &db]);
        let mut consumed = Vec::new();
        match rng.u8(..10) {
            // Right at start-up: before or while it opens the store.
            0 => {
                schedule[0] += 1;
                pause_us(rng.u64(..3_000));
            }
            // A random moment in its first 60 ms.
            1..=5 => {
                schedule[1] += 1;
                pause_us(rng.u64(..60_000));
            }
            // Just after its k-th acknowledgement: inside the next punch's write.
            _ => {
                schedule[2] += 1;
                for _ in 0..rng.u8(1..=4) {
                    match child.next_line() {
                        Some(line) => consumed.push(line),
                        None => break,
                    }
                }
                pause_us(rng.u64(..1_500));
            }
        }
        let (end, rest) = child.kill(false);
        assert_eq!(end, End::Killed);
        for line in consumed.iter().chain(&rest) {
            let (id, seq) = parse_ack(line);
            assert!(
                seq > last_acked_seq,
                "round {round}: acknowledged seq {seq} after seq {last_acked_seq} was \
                 acknowledged: the chain forked"
            );
            last_acked_seq = seq;
            assert!(
                acked.insert(id.clone(), seq).is_none(),
                "id {id} acknowledged twice"
            );
        }
    }
    let killing = started.elapsed();

    let device = open_device(&setup.db);
    device
        .store()
        .integrity_check()
        .expect("the store passes integrity_check");
    let log = device.punch_log().unwrap();
    let summary = verify_chain(&device.public_key(), &log)
        .unwrap_or_else(|e| panic!("the stored punch log does not verify: {e}"));
    assert_eq!(summary.count, log.len());
    assert_eq!(
        summary.last_seq,
        log.len() as u64,
        "the chain starts at seq 1, no gaps"
    );
    let stored: HashMap<String, u64> = log
        .iter()
        .map(|r| (r.body.id.to_string(), r.body.seq))
        .collect();
    let mut lost: Vec<(&String, &u64)> = acked
        .iter()
        .filter(|(id, seq)| stored.get(*id) != Some(seq))
        .collect();
    lost.sort_by_key(|(_, seq)| **seq);
    assert!(
        lost.is_empty(),
        "{} acknowledged punches are missing from the store (id, seq): {lost:?}",
        lost.len()
    );
    assert!(
        !acked.is_empty() && log.len() >= acked.len(),
        "the children acknowledged nothing"
    );

    // The device still works after all that: one more punch continues the chain.
    let clock = SystemClock::new();
    let next = device
        .punch(store_punch(
            &mut rng,
            &daka_device::ClockSource::now(&clock),
            in_or_out(0),
        ))
        .unwrap()
        .record
        .expect("recorded");
    assert_eq!(next.body.seq, log.len() as u64 + 1);
    let total = log.len() + 1;

    let (accepted, duplicates) = sync_and_check_exactly_once(&setup, &device);
    assert_eq!(accepted as usize + duplicates as usize, total);
    println!(
        "{PUNCH_ROUNDS} kills (start-up {}, random {}, after an acknowledgement {}) in {:.1} s; \
         {} punches acknowledged, {} committed but not yet acknowledged when killed; \
         {} delivered exactly once; total {:.1} s",
        schedule[0],
        schedule[1],
        schedule[2],
        killing.as_secs_f64(),
        acked.len(),
        log.len() - acked.len(),
        total,
        started.elapsed().as_secs_f64()
    );
}

/// Queues `n` punches on the device at `db` (opened and closed here).
fn queue_punches(db: &Path, rng: &mut fastrand::Rng, n: usize) {
    let device = open_device(db);
    let clock = SystemClock::new();
    for i in 0..n {
        let input = store_punch(
            rng,
            &daka_device::ClockSource::now(&clock),
            in_or_out(i as u64),
        );
        device.punch(input).unwrap().record.expect("recorded");
    }
}

#[test]
fn killing_a_sync_midway_delivers_every_punch_exactly_once() {
    let started = Instant::now();
    let mut rng = seed_rng("killing_a_sync_midway");
    let setup = setup();
    let db = setup.db.to_str().unwrap().to_string();
    let url = setup.server.url();

    let device_id = open_device(&setup.db).identity().unwrap().device_id;
    let mut rounds = 0;
    let mut killed = 0;
    let mut finished = 0;
    let mut schedule = [0usize; 4];
    // Rounds whose kill left items on the device that the server had already applied.
    let mut window_hits = 0;
    let mut unrecorded = 0;
    while rounds < SYNC_ROUNDS || (window_hits < SYNC_WINDOW_HITS && rounds < SYNC_ROUNDS_CAP) {
        let n = rng.usize(20..=220);
        queue_punches(&setup.db, &mut rng, n);
        let applied_before = setup.rt.block_on(setup.server.head_seq(&device_id));
        let child = spawn_child(&["sync", &db, &url]);
        let strategy = if rounds % 4 == 0 { 3 } else { rng.usize(..3) };
        schedule[strategy] += 1;
        match strategy {
            // Right at start-up.
            0 => pause_us(rng.u64(..5_000)),
            // Any moment of a typical round.
            1 => pause_us(rng.u64(..1_500_000)),
            // After the first or second answered batch: inside the next one.
            2 => {
                for _ in 0..rng.u8(1..=2) {
                    match child.next_line() {
                        Some(line) if line.starts_with("BATCH") => {}
                        _ => break,
                    }
                }
                pause_us(rng.u64(..40_000));
            }
            // While the server is applying a batch the device has not been answered for.
            _ => {
                let deadline = Instant::now() + LINE_TIMEOUT;
                while setup.rt.block_on(setup.server.head_seq(&device_id)) == applied_before {
                    assert!(Instant::now() < deadline, "the server applied nothing");
                    std::thread::sleep(Duration::from_millis(1));
                }
                pause_us(rng.u64(..3_000));
            }
        }
        let (end, _) = child.kill(true);
        match end {
            End::Killed => killed += 1,
            End::Finished => finished += 1,
        }
        rounds += 1;
        // What the device has not recorded as delivered, against what the server holds.
        let device = open_device(&setup.db);
        let waiting: Vec<String> = device
            .outbox()
            .items(ItemState::Pending)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        drop(device);
        let on_server: HashSet<String> = setup
            .rt
            .block_on(setup.server.punches())
            .into_iter()
            .map(|p| p.punch_id)
            .collect();
        let applied_unrecorded = waiting.iter().filter(|id| on_server.contains(*id)).count();
        if applied_unrecorded > 0 {
            window_hits += 1;
            unrecorded += applied_unrecorded;
        }
    }
    let killing = started.elapsed();
    assert!(
        window_hits >= SYNC_WINDOW_HITS,
        "in {rounds} rounds only {window_hits} kills landed between the server's commit and \
         the device's; the test did not exercise exactly-once"
    );

    let device = open_device(&setup.db);
    device.store().integrity_check().unwrap();
    let log = device.punch_log().unwrap();
    verify_chain(&device.public_key(), &log).unwrap();
    sync_and_check_exactly_once(&setup, &device);
    println!(
        "{rounds} sync rounds (start-up {}, random {}, after a batch {}, while the server \
         applied a batch {}; {killed} killed, {finished} finished first) in {:.1} s; {window_hits} \
         kills landed after the server applied a batch and before the device recorded it \
         ({unrecorded} punches the device then sent again); {} punches delivered exactly once; \
         total {:.1} s",
        schedule[0],
        schedule[1],
        schedule[2],
        schedule[3],
        killing.as_secs_f64(),
        log.len(),
        started.elapsed().as_secs_f64()
    );
}
