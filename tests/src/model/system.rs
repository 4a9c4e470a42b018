//! The system under test of the model: the real reference server on a SQLite file on
//! loopback, the fault proxy in front of it, and two phones (E1001 and E1002, both of the
//! Causeway Bay store) with real device stores, enrolled through the proxy. One simulated
//! clock drives the server and the phones; each phone adds its own wall-clock offset, as a
//! user changing the time in settings does, while its monotonic clock runs on.
//!
//! [`World::apply`] applies one [`Op`] to the real system and records what was acknowledged
//! in the [`PhoneLedger`]s; [`World::check`] runs the checks that apply after every step;
//! [`World::drain_and_check`] ends a case: faults off, every phone syncs until its queue is
//! empty, and the server's state is compared with the ledger.
//!
//! Every phone opens its store through its own power-cut VFS ([`PowerSim`], named uniquely
//! per phone and per case), with the shipped durability (WAL, `synchronous=FULL`). A phone's
//! process death ([`Op::KillPhone`]) and its power cut ([`Op::PowerCut`]) use it the same way:
//! the cut is armed at the n-th write, sync, truncation or deletion of the store, the phone
//! punches and/or syncs until the cut falls or the work ends (then the cut falls there), the
//! [`Device`] is dropped with every later call of its store failing, and the VFS decides what
//! of the unflushed writes the file keeps: all of them at a process death (the OS page cache
//! outlives the process), nothing, a torn prefix or reordered sectors at a power cut. A process
//! death may also drop a sync round at an await point (`sync_ms`), with its request still on
//! the way to the server. The phone then opens its file again and [`check_store`] checks it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use daka_core::evidence::{DeviceClock, Fix};
use daka_core::protocol::ItemKind;
use daka_core::protocol::request_stream;
use daka_core::punch::{ChainAnchor, PunchKind, PunchRecord, verify_chain_from};
use daka_device::engine::approvals::DraftError;
use daka_device::outbox::ItemState;
use daka_device::store::{StoreOpening, Synchronous};
use daka_device::sync::client::ClientConfig;
use daka_device::{ClockSource, Device, PunchInput, UnprotectedKeyStore};
use daka_power_sim::{Landing, PowerSim};
use daka_server::api::admin::PunchInfo;
use daka_server::{RunningServer, Seed, Server, ServerConfig, ServerOptions};
use serde_json::{Value, json};

use super::ledger::{self, Filed, PhoneLedger, Policies};
use super::ops::{FormKind, NetFault, Op, PHONES, Place, Work};
use super::stats;
use crate::fault_proxy::{Fault, FaultPlan, FaultProxy};
use crate::harness::{STORE, STORE_AP, all_punches, example_policy};

/// The employees of the phones.
pub const EMPLOYEES: [&str; PHONES] = ["E1001", "E1002"];
const ORG: &str = "harbour-lane";
const ADMIN: &str = "model-admin-token-of-harbour-lane-01";
/// The phones' request and connect timeout: short, so a lost connection costs little.
const TIMEOUT_MS: u64 = 300;
/// Retry-After the proxy sends with 429 and 503.
const RETRY_AFTER_S: u64 = 1;
/// Longest a single sync round may take before it counts as hung.
const ROUND_LIMIT: Duration = Duration::from_secs(20);
/// Drain rounds per phone before the queue counts as stuck.
const DRAIN_ROUNDS: usize = 300;
/// Metres per degree of longitude at the store's latitude, and per degree of latitude.
const M_PER_DEG_LON: f64 = 111_320.0 * 0.925_4;
const M_PER_DEG_LAT: f64 = 110_574.0;
/// The phones' WAL checkpoint interval, in pages (SQLite's default is 1,000): a punch writes a
/// handful, so checkpoints come every few punches and power cuts land in them too.
const AUTOCHECKPOINT_PAGES: u32 = 64;

/// Numbers the power-cut VFSes of the run: SQLite's VFS names are process-wide.
static VFS_NUMBER: AtomicU64 = AtomicU64::new(0);

/// True time of the model: the server's clock and the base of every phone's.
pub struct SimTime {
    start: DateTime<Utc>,
    offset_ms: AtomicI64,
}

impl SimTime {
    fn new() -> Arc<SimTime> {
        Arc::new(SimTime {
            start: "2026-11-30T00:30:00Z".parse().expect("a valid instant"),
            offset_ms: AtomicI64::new(0),
        })
    }

    /// True now.
    pub fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    fn advance_ms(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

/// A phone's clocks: true time plus the user's wall-clock offset; the monotonic clock
/// counts true time since a boot long ago.
struct PhoneClock {
    time: Arc<SimTime>,
    wall_offset_ms: AtomicI64,
    boot_id: String,
}

impl ClockSource for PhoneClock {
    fn now(&self) -> DeviceClock {
        let offset = self.time.offset_ms.load(Ordering::SeqCst);
        DeviceClock {
            wall: self.time.start
                + chrono::Duration::milliseconds(
                    offset + self.wall_offset_ms.load(Ordering::SeqCst),
                ),
            monotonic_ms: 50_000_000 + offset.max(0) as u64,
            boot_id: self.boot_id.clone(),
        }
    }
}

struct Phone {
    device: Option<Device>,
    path: PathBuf,
    clock: Arc<PhoneClock>,
    ledger: PhoneLedger,
    /// The VFS its store is opened through.
    sim: PowerSim,
    /// The stored punches (their JSON, in chain order) verified at the last check after a
    /// death or a cut.
    checked: Vec<String>,
}

impl Phone {
    fn device(&self) -> &Device {
        self.device
            .as_ref()
            .expect("the phone is open between steps")
    }
}

/// The real system of one case.
pub struct World {
    rt: tokio::runtime::Runtime,
    time: Arc<SimTime>,
    server: Option<RunningServer>,
    server_addr: SocketAddr,
    db_path: PathBuf,
    proxy: FaultProxy,
    phones: Vec<Phone>,
    policies: Policies,
    http: reqwest::Client,
    step: usize,
    attachments: u64,
    _dir: tempfile::TempDir,
}

/// Counts a sync round's outcome in the run's totals.
fn count_round(report: &daka_device::SyncReport) {
    stats::update(|s| {
        s.sync_rounds += 1;
        s.accepted += report.accepted;
        s.duplicates += report.duplicates;
        s.refused += report.rejected;
    });
}

fn landing_name(landing: Landing) -> &'static str {
    match landing {
        Landing::Lost => "lost",
        Landing::TornPrefix => "torn prefix",
        Landing::Reordered => "reordered",
        Landing::ProcessDeath => "process death",
    }
}

/// Checks phone `n`'s store after a process death or a power cut, against its ledger:
/// `PRAGMA integrity_check` is `ok`; the stored chain verifies from seq 1 (signatures, hashes,
/// links; the records verified at an earlier check must still be there byte for byte, and the
/// rest is verified from the last of them); every punch the ledger holds (whose `punch` call
/// returned) is stored at its seq with the same signature; and beyond them at most the punch
/// whose call the cut interrupted, which is then taken into the ledger as its next link.
/// Returns whether such a punch was kept.
fn check_store(phone: &mut Phone, interrupted: bool) -> Result<bool, String> {
    let who = phone.ledger.employee.clone();
    let device = phone.device();
    device
        .store()
        .integrity_check()
        .map_err(|e| format!("phone {who}: after the cut: {e}"))?;
    let payloads = device
        .outbox()
        .payloads_of_kind(ItemKind::Punch.as_str())
        .map_err(|e| format!("phone {who}: reading the punches after the cut: {e}"))?;
    let from = phone.checked.len();
    if payloads.get(..from) != Some(&phone.checked[..]) {
        let same = phone
            .checked
            .iter()
            .zip(&payloads)
            .take_while(|(a, b)| a == b)
            .count();
        return Err(format!(
            "phone {who}: after the cut, the stored punch seq {} is gone or changed ({} stored, \
             {from} verified before)",
            same + 1,
            payloads.len()
        ));
    }
    let records = payloads[from.saturating_sub(1)..]
        .iter()
        .map(|p| PunchRecord::read_stored(p))
        .collect::<Result<Vec<PunchRecord>, _>>()
        .map_err(|e| format!("phone {who}: a stored punch does not read: {e}"))?;
    let (anchor, new) = match from {
        0 => (None, &records[..]),
        _ => {
            let last = &records[0];
            let hash = last
                .hash()
                .map_err(|e| format!("phone {who}: a stored punch does not hash: {e}"))?;
            let anchor = ChainAnchor {
                device_id: last.body.device_id.clone(),
                seq: last.body.seq,
                hash,
            };
            (Some(anchor), &records[1..])
        }
    };
    verify_chain_from(&phone.ledger.public_key, anchor.as_ref(), new)
        .map_err(|e| format!("phone {who}: the stored chain does not verify after the cut: {e}"))?;
    let recorded = &phone.ledger.records;
    for (index, acked) in recorded.iter().enumerate().skip(from) {
        match new.get(index - from) {
            Some(stored) if stored.body.id == acked.body.id && stored.sig == acked.sig => {}
            Some(stored) => {
                return Err(format!(
                    "phone {who}: after the cut, seq {} is {}, the acknowledged punch was {}",
                    index + 1,
                    stored.body.id,
                    acked.body.id
                ));
            }
            None => {
                return Err(format!(
                    "phone {who}: the cut lost acknowledged punches: {} recorded, {} stored",
                    recorded.len(),
                    payloads.len()
                ));
            }
        }
    }
    let kept = match &new[recorded.len() - from..] {
        [] => false,
        [survivor] if interrupted => {
            phone.ledger.record(survivor.clone())?;
            true
        }
        extra => {
            return Err(format!(
                "phone {who}: after the cut the store holds {} punches nobody was told of (a \
                 punch interrupted: {interrupted})",
                extra.len()
            ));
        }
    };
    phone.checked = payloads;
    Ok(kept)
}

/// Fails the case: counts the violation and panics with what broke, so proptest shrinks.
pub fn violation(what: impl std::fmt::Display) -> ! {
    stats::update(|s| s.violations += 1);
    panic!("model violation: {what}");
}

fn ok_or_violation<T>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| violation(e))
}

/// A temporary directory for the case's files: in `DAKA_MODEL_DIR` when set, else in
/// `/dev/shm` where it exists (SQLite's flushes are then cheap; the model is about the
/// protocol, not the disk), else the system's temporary directory.
fn case_dir() -> tempfile::TempDir {
    let base = std::env::var_os("DAKA_MODEL_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let shm = Path::new("/dev/shm");
            shm.is_dir().then(|| shm.to_path_buf())
        });
    match base {
        Some(base) => tempfile::tempdir_in(base),
        None => tempfile::tempdir(),
    }
    .expect("a temporary directory for the case")
}

fn server_options(time: &Arc<SimTime>) -> ServerOptions {
    let clock = time.clone();
    ServerOptions {
        clock: Some(Arc::new(move || clock.now())),
        attendance_sweep: None,
        shutdown_grace: Duration::from_secs(2),
        ..ServerOptions::default()
    }
}

/// The policy of version `version`: the example's, with the store's polygon moved
/// `shift_m` metres east and its tolerance `tolerance_m`.
fn policy_document(version: u64, shift_m: u8, tolerance_m: u8) -> Value {
    let mut policy = example_policy(false);
    policy["version"] = json!(version);
    let sites = policy["sites"]
        .as_array_mut()
        .expect("the policy has sites");
    let store = sites
        .iter_mut()
        .find(|s| s["id"] == "cwb-store")
        .expect("the policy has the Causeway Bay store");
    store["tolerance_m"] = json!(tolerance_m);
    let shift = f64::from(shift_m) / M_PER_DEG_LON;
    for ring in store["fences"][0]["coordinates"]
        .as_array_mut()
        .expect("the store fence is a polygon")
    {
        for point in ring.as_array_mut().expect("a ring") {
            let lon = point[0].as_f64().expect("a longitude");
            point[0] = json!(lon + shift);
        }
    }
    policy
}

fn seed(policy: &Value) -> Seed {
    let codes: Vec<Value> = EMPLOYEES
        .iter()
        .map(|e| json!({"code": format!("MODEL-{e}-CODE"), "employee_id": e}))
        .collect();
    let seed = json!({"organisations": [{
        "id": ORG, "name": "Harbour Lane", "admin_token": ADMIN,
        "policy": policy, "enrollment_codes": codes,
    }]});
    Seed::from_json(&seed.to_string(), None).expect("the model's seed is valid")
}

fn open_phone(path: &Path, clock: &Arc<PhoneClock>, sim: &PowerSim) -> Device {
    Device::builder(path)
        .store_opening(StoreOpening {
            vfs: Some(sim.vfs_name().to_string()),
            synchronous: Synchronous::Full,
            wal_autocheckpoint: Some(AUTOCHECKPOINT_PAGES),
        })
        .clock(clock.clone())
        .key_store(&UnprotectedKeyStore)
        .client(ClientConfig {
            request_timeout: Duration::from_millis(TIMEOUT_MS),
            connect_timeout: Duration::from_millis(TIMEOUT_MS),
        })
        .open()
        .unwrap_or_else(|e| violation(format!("the phone's store does not open: {e}")))
}

impl World {
    /// Starts the server and the proxy, and enrols the phones.
    pub fn start() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = case_dir();
        let time = SimTime::new();
        let db_path = dir.path().join("server.db");
        let base = example_policy(false);
        let mut policies = Policies::default();
        ok_or_violation(policies.publish(&base.to_string(), 0));
        let (server, proxy) = rt.block_on(async {
            let server = Server::start_with(
                ServerConfig {
                    db_path: db_path.clone(),
                    listen: "127.0.0.1:0".parse().expect("a loopback address"),
                    seed: Some(seed(&base)),
                },
                server_options(&time),
            )
            .await
            .expect("the server starts");
            let proxy = FaultProxy::start(
                server.addr(),
                FaultPlan {
                    retry_after_s: RETRY_AFTER_S,
                    ..FaultPlan::none()
                },
            )
            .await
            .expect("the proxy starts");
            (server, proxy)
        });
        let mut phones = Vec::new();
        for (n, employee) in EMPLOYEES.iter().enumerate() {
            let clock = Arc::new(PhoneClock {
                time: time.clone(),
                wall_offset_ms: AtomicI64::new(0),
                boot_id: format!("model-boot-{n}"),
            });
            let path = dir.path().join(format!("{employee}.db"));
            let number = VFS_NUMBER.fetch_add(1, Ordering::Relaxed);
            let sim = PowerSim::register(&format!("daka-model-{number}-{employee}"), number);
            // Every file rewritten after a cut is read back and compared with the model.
            sim.verify_restores(true);
            let device = open_phone(&path, &clock, &sim);
            let identity = rt
                .block_on(device.enroll(
                    &proxy.url(),
                    &format!("MODEL-{employee}-CODE"),
                    employee,
                    "android",
                ))
                .expect("the phone enrols");
            if device.policy_version().is_none() {
                rt.block_on(device.refresh_policy())
                    .expect("the phone fetches the policy");
            }
            phones.push(Phone {
                ledger: PhoneLedger {
                    employee: employee.to_string(),
                    device_id: identity.device_id,
                    public_key: device.public_key(),
                    records: Vec::new(),
                    filed: Vec::new(),
                    settled_floor: 0,
                    server_head_floor: 0,
                },
                device: Some(device),
                path,
                clock,
                sim,
                checked: Vec::new(),
            });
        }
        let server_addr = server.addr();
        World {
            rt,
            time,
            server: Some(server),
            server_addr,
            db_path,
            proxy,
            phones,
            policies,
            http: reqwest::Client::new(),
            step: 0,
            attachments: 0,
            _dir: dir,
        }
    }

    /// Applies one operation to the real system and notes what was acknowledged.
    pub fn apply(&mut self, op: &Op) {
        self.step += 1;
        stats::update(|s| {
            s.steps += 1;
            *s.ops.entry(op.name()).or_default() += 1;
        });
        match *op {
            Op::Punch { phone, kind, place } => {
                // Shifts of punches: 10 to 50 minutes apart, so a day holds tens of punches.
                self.time.advance_ms(600_000 * (1 + (self.step % 5) as i64));
                self.punch(phone, kind, place);
            }
            Op::Submit { phone, form } => {
                self.time.advance_ms(10_000);
                self.submit(phone, form);
            }
            Op::Sync { phone } => {
                self.time.advance_ms(5_000);
                self.sync(phone);
                self.check_server_heads();
            }
            Op::Faults { fault, requests } => {
                let fault = match fault {
                    NetFault::LostResponse => Fault::LoseResponse,
                    NetFault::Truncated => Fault::Truncate,
                    NetFault::ServerError => Fault::ServerError,
                    NetFault::Unavailable => Fault::Unavailable,
                    NetFault::TooManyRequests => Fault::TooManyRequests,
                    NetFault::Partition => Fault::Reset,
                };
                // The network's state for the next requests, replacing what was left of the
                // previous one (faults piling up would leave the phones offline for good).
                self.proxy.clear_script();
                self.proxy.inject_next(fault, usize::from(requests));
            }
            Op::RestartServer => self.restart_server(),
            Op::KillPhone {
                phone,
                at_op,
                work,
                sync_ms,
            } => {
                self.advance_for(work);
                self.cut(phone, at_op, work, sync_ms, Landing::ProcessDeath, None);
            }
            Op::PowerCut {
                phone,
                at_op,
                work,
                landing,
                seed,
            } => {
                self.advance_for(work);
                self.cut(phone, at_op, work, None, landing, Some(seed));
            }
            Op::ClockJump { phone, minutes } => {
                self.phones[phone]
                    .clock
                    .wall_offset_ms
                    .fetch_add(i64::from(minutes) * 60_000, Ordering::SeqCst);
            }
            Op::PublishPolicy {
                shift_m,
                tolerance_m,
            } => self.publish_policy(shift_m, tolerance_m),
            Op::Wait { seconds } => self.time.advance_ms(i64::from(seconds) * 1_000),
        }
    }

    /// Time passes before a cut's work as before the same work alone.
    fn advance_for(&self, work: Work) {
        match work {
            Work::Idle => {}
            Work::Sync => self.time.advance_ms(5_000),
            Work::Punch { .. } | Work::PunchThenSync { .. } => {
                self.time.advance_ms(600_000 * (1 + (self.step % 5) as i64))
            }
        }
    }

    /// A punch of `kind` with evidence at `place`, as phone `n` makes it now.
    fn punch_input(&self, n: usize, kind: PunchKind, place: Place) -> PunchInput {
        let clock = self.phones[n].clock.now();
        let jitter = (self.step % 7) as f64 - 3.0;
        let fix = |east_m: f64, accuracy_m: f64| Fix {
            lon: STORE.0 + (east_m + jitter * 0.3) / M_PER_DEG_LON,
            lat: STORE.1 + (jitter * 0.2) / M_PER_DEG_LAT,
            accuracy_m,
            time: clock.wall - chrono::Duration::milliseconds(800),
            monotonic_ms: Some(clock.monotonic_ms.saturating_sub(800)),
            mock: false,
            provider: Some("fused".into()),
        };
        let (fix, wifi) = match place {
            Place::Inside => (Some(fix(0.0, 5.0)), vec![]),
            Place::Edge => (Some(fix(25.0, 15.0)), vec![]),
            Place::Near => (Some(fix(60.0, 30.0)), vec![]),
            Place::Away => (Some(fix(400.0, 10.0)), vec![]),
            Place::Coarse => (Some(fix(0.0, 120.0)), vec![]),
            Place::Wifi => (None, vec![STORE_AP.to_string()]),
            Place::WifiAway => (Some(fix(400.0, 10.0)), vec![STORE_AP.to_string()]),
        };
        PunchInput {
            kind,
            fix,
            more_fixes: Vec::new(),
            wifi_bssids: wifi,
            face: None,
        }
    }

    fn punch(&mut self, n: usize, kind: PunchKind, place: Place) {
        let input = self.punch_input(n, kind, place);
        let phone = &mut self.phones[n];
        let outcome = phone
            .device()
            .punch(input)
            .unwrap_or_else(|e| violation(format!("phone {n}: the punch failed: {e}")));
        if let Some(record) = outcome.record {
            ok_or_violation(phone.ledger.record(record));
        }
    }

    fn submit(&mut self, n: usize, form_kind: FormKind) {
        self.attachments += 1;
        let receipt_no = self.attachments;
        let phone = &mut self.phones[n];
        let device = phone.device.as_ref().expect("the phone is open");
        let (template, form) = match form_kind {
            FormKind::Expense { amount_minor } => {
                let mut photo = vec![0xFF, 0xD8, 0xFF, 0xFE];
                photo.extend(format!(" receipt {receipt_no} of HK$ {amount_minor}").bytes());
                photo.extend([0xFF, 0xD9]);
                let receipt = device
                    .add_attachment(&photo, "image/jpeg")
                    .unwrap_or_else(|e| violation(format!("phone {n}: attachment: {e}")));
                (
                    "expense",
                    json!({
                        "amount": { "minor": amount_minor, "currency": "HKD" },
                        "category": "taxi",
                        "date": "2026-11-27",
                        "receipts": [{ "sha256": receipt.sha256, "bytes": receipt.bytes, "media_type": "image/jpeg" }],
                    }),
                )
            }
            FormKind::Leave { day } => (
                "leave",
                json!({
                    "leave_type": "no_pay",
                    "period": { "start": format!("2026-12-{day:02}"), "end": format!("2026-12-{day:02}") },
                }),
            ),
        };
        let version = device
            .policy_version()
            .unwrap_or_else(|| violation(format!("phone {n} has no policy")));
        // Rest days: E1002's roster has the 5th off, E1001's store week the Sunday 6th.
        let rest_day = matches!(
            (phone.ledger.employee.as_str(), form_kind),
            ("E1002", FormKind::Leave { day: 5 }) | ("E1001", FormKind::Leave { day: 6 })
        );
        let queued = match device.submit_request(template, &form) {
            Err(daka_device::DeviceError::Draft(DraftError::Invalid { field, .. }))
                if rest_day && field == "period" =>
            {
                stats::update(|s| s.refused_drafts += 1);
                return;
            }
            Err(e) => violation(format!("phone {n}: the {template} request: {e}")),
            Ok(_) if rest_day => violation(format!(
                "phone {n}: a leave on a rest day of {} was queued",
                phone.ledger.employee
            )),
            Ok(queued) => queued,
        };
        phone.ledger.filed.push(Filed {
            request_id: queued.request_id,
            policy_version: version,
        });
    }

    /// One bounded sync round of phone `n`; a non-retryable failure is a violation.
    fn sync(&mut self, n: usize) {
        let device = self.phones[n].device();
        let report = self
            .rt
            .block_on(async { tokio::time::timeout(ROUND_LIMIT, device.sync_now(&|_| {})).await })
            .unwrap_or_else(|_| violation(format!("phone {n}: a sync round hung")))
            .unwrap_or_else(|e| violation(format!("phone {n}: sync failed: {e}")));
        count_round(&report);
    }

    fn restart_server(&mut self) {
        let heads = self.server_heads();
        let server = self.server.take().expect("the server runs between steps");
        let addr = self.server_addr;
        let db_path = self.db_path.clone();
        let options = server_options(&self.time);
        let restarted = self.rt.block_on(async move {
            server
                .shutdown()
                .await
                .unwrap_or_else(|e| violation(format!("the server does not stop: {e}")));
            let mut last = None;
            for _ in 0..50 {
                match Server::start_with(
                    ServerConfig {
                        db_path: db_path.clone(),
                        listen: addr,
                        seed: None,
                    },
                    options.clone(),
                )
                .await
                {
                    Ok(server) => return server,
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            violation(format!(
                "the server does not start again on {addr}: {last:?}"
            ))
        });
        self.server = Some(restarted);
        // Requests in progress at the stop (a killed phone's push still on its way) are
        // finished by the drain, so a head may have moved on; none may have gone back.
        let after = self.server_heads();
        if after.iter().zip(&heads).any(|(a, b)| a < b) {
            violation(format!(
                "the server's chain heads went back over a restart: {heads:?} then {after:?}"
            ));
        }
        self.check_server_heads();
    }

    /// Phone `n`'s process dies or its power goes at the `at_op`-th call of its store during
    /// `work` (see the module header); the phone opens its file again, and its store is
    /// checked against the ledger ([`check_store`]).
    fn cut(
        &mut self,
        n: usize,
        at_op: u8,
        work: Work,
        sync_ms: Option<u8>,
        landing: Landing,
        seed: Option<u64>,
    ) {
        let input = work
            .punch()
            .map(|(kind, place)| self.punch_input(n, kind, place));
        let rt = &self.rt;
        let phone = &mut self.phones[n];
        let device = phone
            .device
            .take()
            .expect("the phone is open between steps");
        phone.sim.arm(u64::from(at_op));
        // Whether a punch call failed because of the cut: its record may have landed.
        let mut interrupted = false;
        if let Some(input) = input {
            match device.punch(input) {
                Ok(outcome) => {
                    if let Some(record) = outcome.record {
                        ok_or_violation(phone.ledger.record(record));
                    }
                }
                Err(_) if phone.sim.is_cut() => interrupted = true,
                Err(e) => violation(format!("phone {n}: the punch failed without a cut: {e}")),
            }
        }
        if work.syncs() && !phone.sim.is_cut() {
            let limit = sync_ms.map_or(ROUND_LIMIT, |ms| Duration::from_millis(u64::from(ms)));
            let round =
                rt.block_on(async { tokio::time::timeout(limit, device.sync_now(&|_| {})).await });
            match round {
                Ok(Ok(report)) => count_round(&report),
                Ok(Err(_)) if phone.sim.is_cut() => {}
                Ok(Err(e)) => violation(format!("phone {n}: sync failed without a cut: {e}")),
                Err(_) if sync_ms.is_some() => {}
                Err(_) => violation(format!("phone {n}: a sync round hung")),
            }
        }
        let in_work = phone.sim.is_cut();
        if !in_work {
            phone.sim.cut_now();
        }
        drop(device);
        phone.sim.set_landing(Some(landing));
        if let Some(seed) = seed {
            phone.sim.reseed(seed);
        }
        let report = phone.sim.restore();
        let device = open_phone(&phone.path, &phone.clock, &phone.sim);
        let identity = device
            .identity()
            .unwrap_or_else(|| violation(format!("phone {n} forgot its enrolment")));
        if identity.device_id != phone.ledger.device_id {
            violation(format!("phone {n} came back as {}", identity.device_id));
        }
        phone.device = Some(device);
        let kept = ok_or_violation(check_store(phone, interrupted));
        stats::update(|s| {
            let cuts = if landing == Landing::ProcessDeath {
                &mut s.kills
            } else {
                &mut s.power_cuts
            };
            cuts.total += 1;
            cuts.in_work += u64::from(in_work);
            cuts.punches_interrupted += u64::from(interrupted);
            cuts.interrupted_kept += u64::from(kept);
            cuts.writes_unflushed += report.writes_unflushed;
            cuts.writes_torn += report.writes_torn;
            *s.landings.entry(landing_name(landing)).or_default() += 1;
        });
        // The next punch must continue the ledger's last record, which is now the store's
        // (checked by `PhoneLedger::record`); the queue check follows this step.
        self.check_server_heads();
    }

    fn publish_policy(&mut self, shift_m: u8, tolerance_m: u8) {
        let version = self.policies.current() + 1;
        let document = policy_document(version, shift_m, tolerance_m).to_string();
        let url = format!("http://{}/admin/v1/policy", self.server_addr);
        let http = self.http.clone();
        let body = document.clone();
        let (status, text) = self.rt.block_on(async move {
            let response = http
                .put(url)
                .bearer_auth(ADMIN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| violation(format!("publishing a policy: {e}")));
            let status = response.status();
            (status, response.text().await.unwrap_or_default())
        });
        if !status.is_success() {
            violation(format!("publishing policy {version}: {status} {text}"));
        }
        ok_or_violation(self.policies.publish(&document, self.step));
    }

    async fn admin_get<T: serde::de::DeserializeOwned>(
        http: &reqwest::Client,
        addr: SocketAddr,
        path: &str,
    ) -> T {
        let response = http
            .get(format!("http://{addr}{path}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap_or_else(|e| violation(format!("GET {path}: {e}")));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            violation(format!("GET {path}: {status} {body}"));
        }
        serde_json::from_str(&body).unwrap_or_else(|e| violation(format!("GET {path}: {e}")))
    }

    /// Each phone's chain head seq on the server, read from the running server's storage
    /// (the same database the admin API reads, without the HTTP round trip every step).
    fn server_heads(&self) -> Vec<u64> {
        let server = self.server.as_ref().expect("the server runs between steps");
        let rows = server
            .storage()
            .devices(ORG)
            .unwrap_or_else(|e| violation(format!("reading the server's devices: {e}")));
        self.phones
            .iter()
            .map(|p| {
                rows.iter()
                    .find(|d| d.id == p.ledger.device_id)
                    .and_then(|d| d.head.as_ref())
                    .map_or(0, |h| h.seq)
            })
            .collect()
    }

    fn check_server_heads(&mut self) {
        let heads = self.server_heads();
        for (phone, head) in self.phones.iter_mut().zip(heads) {
            ok_or_violation(phone.ledger.check_server_head(head));
        }
    }

    /// The checks that apply after a step that touched phone `n` (or every phone): its
    /// queue holds what it acknowledged, and settled items stay settled.
    pub fn check(&mut self, n: Option<usize>) {
        for (index, phone) in self.phones.iter_mut().enumerate() {
            if n.is_some_and(|n| n != index) {
                continue;
            }
            let stats = phone
                .device()
                .outbox_stats()
                .unwrap_or_else(|e| violation(format!("outbox stats: {e}")));
            ok_or_violation(phone.ledger.check_queue(&stats));
        }
    }

    /// Ends the case: faults off, every phone syncs until its queue is empty (time passing
    /// between rounds), then the server's state is compared with the ledger.
    pub fn drain_and_check(mut self) {
        self.proxy.clear_script();
        self.proxy.set_plan(FaultPlan {
            retry_after_s: RETRY_AFTER_S,
            ..FaultPlan::none()
        });
        for n in 0..self.phones.len() {
            let mut rounds = 0;
            loop {
                let stats = self.phones[n]
                    .device()
                    .outbox_stats()
                    .unwrap_or_else(|e| violation(format!("outbox stats: {e}")));
                if stats.pending + stats.in_flight == 0 {
                    break;
                }
                rounds += 1;
                if rounds > DRAIN_ROUNDS {
                    violation(format!(
                        "phone {n}: the queue does not drain without faults: {stats:?}"
                    ));
                }
                self.time.advance_ms(20 * 60_000);
                self.sync(n);
            }
            // One more round brings the change feed up to date.
            self.sync(n);
        }
        self.check(None);
        self.check_server_heads();

        let http = self.http.clone();
        let addr = self.server_addr;
        let stored: Vec<PunchInfo> = self.rt.block_on(all_punches(|path| {
            let http = &http;
            async move { Self::admin_get(http, addr, &path).await }
        }));
        let report: daka_server::api::admin::ChainReport =
            self.rt
                .block_on(Self::admin_get(&http, addr, "/admin/v1/chains/verify"));
        if !report.ok {
            violation(format!("the server's chain verification fails: {report:?}"));
        }
        let mut by_device: HashMap<&str, Vec<&PunchInfo>> = HashMap::new();
        for p in &stored {
            by_device.entry(p.device_id.as_str()).or_default().push(p);
        }
        let known: usize = self.phones.iter().map(|p| p.ledger.records.len()).sum();
        if stored.len() != known {
            violation(format!(
                "the server holds {} punches, the phones recorded {known}",
                stored.len()
            ));
        }
        let mut checked = 0u64;
        let mut verdicts = 0u64;
        for phone in &self.phones {
            let ledger = &phone.ledger;
            let mine = by_device
                .get(ledger.device_id.as_str())
                .cloned()
                .unwrap_or_default();
            let found =
                ok_or_violation(ledger::check_server_punches(ledger, &mine, &self.policies));
            verdicts += found.verdicts;
            stats::update(|s| {
                for (k, v) in &found.differing {
                    *s.differing.entry(k.clone()).or_default() += v;
                }
            });
            let device = phone.device();
            let parked = device
                .outbox()
                .items(ItemState::NeedsAttention)
                .unwrap_or_else(|e| violation(format!("parked items: {e}")));
            let requests = self
                .rt
                .block_on(device.my_requests())
                .unwrap_or_else(|e| violation(format!("listing requests: {e}")));
            let requests: Vec<(String, u64, String)> = requests
                .into_iter()
                .map(|r| (r.request_id, r.policy_version, r.applicant))
                .collect();
            ok_or_violation(ledger::check_parked_and_requests(
                ledger,
                &parked,
                &found.refused,
                &requests,
                &self.policies,
            ));
            // Every parked request waits in its own stream, and nothing else is parked there.
            for f in &ledger.filed {
                let stream = request_stream(&f.request_id);
                if parked
                    .iter()
                    .any(|i| i.stream == stream && i.id != f.request_id)
                {
                    violation(format!(
                        "request {}: another item is parked in its stream",
                        f.request_id
                    ));
                }
            }
            checked += ledger.acknowledged();
        }
        let faults: Vec<(String, u64)> = Fault::ALL
            .iter()
            .map(|f| (format!("{f:?}"), self.proxy.stats.injected(*f)))
            .filter(|(_, n)| *n > 0)
            .collect();
        stats::update(|s| {
            s.cases += 1;
            s.items_checked += checked;
            s.verdicts_checked += verdicts;
            for (name, n) in faults {
                *s.faults.entry(name).or_default() += n;
            }
        });
    }
}
