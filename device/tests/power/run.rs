//! A run of power cuts on a real device: the device's own store (opened through the power-cut
//! VFS by the store's hidden [`StoreOpening`] seam) punching and syncing against the reference
//! server on loopback, the power cut at a random write or sync, the files rewritten to what
//! the disk kept, and the store opened again with SQLite's normal VFS and checked.
//!
//! After every cut the check is: `PRAGMA integrity_check` is `ok`; the stored punches run
//! seq 1, 2, 3 … and the records new since the last check verify against the record before
//! them (signatures, hashes, links; the whole chain every 100 cuts); every punch whose
//! `Device::punch` returned is in it with the seq it was acknowledged with (or it counts as
//! lost); and the first punch after the reboot links to the last record that survived (seq one
//! more, `prev_hash` its hash), so the chain goes on without a fork.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use daka_core::protocol::ItemKind;
use daka_core::punch::{ChainAnchor, ChainHead, PunchKind, PunchRecord, verify_chain_from};
use daka_device::store::{StoreOpening, Synchronous};
use daka_device::{Device, PunchInput, UnprotectedKeyStore};
use daka_server::api::admin::PunchList;
use daka_server::{RunningServer, Seed, Server, ServerConfig, ServerOptions};
use serde_json::json;

use daka_power_sim::{PowerSim, Totals};

const ADMIN_TOKEN: &str = "power-loss-test-admin-token-01";
const CODE: &str = "POWER-E1001-0001";
/// One of the Causeway Bay store's Wi-Fi access points (E1001's site in the example policy).
const STORE_AP: &str = "E0:55:3D:4A:12:C1";
/// Checkpoint interval of the runs, in pages: a punch writes a handful, so a checkpoint (the
/// WAL copied into the database, then restarted) comes every few punches and cuts land in it.
pub(crate) const AUTOCHECKPOINT_PAGES: u32 = 16;

/// The reference server on loopback and one device enrolled into it (store closed).
pub(crate) struct Rig {
    pub(crate) rt: tokio::runtime::Runtime,
    server: RunningServer,
    http: reqwest::Client,
    pub(crate) db: PathBuf,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub(crate) fn start() -> Rig {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = scratch_dir();
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut policy: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(examples.join("hk-policy.json")).unwrap(),
        )
        .unwrap();
        policy["thresholds"]["face"]["required"] = json!(false);
        let org = json!({
            "id": "harbour-lane", "name": "Harbour Lane", "admin_token": ADMIN_TOKEN,
            "policy": policy, "enrollment_codes": [{"code": CODE, "employee_id": "E1001"}],
        });
        let seed = json!({ "organisations": [org] }).to_string();
        let config = ServerConfig {
            db_path: dir.path().join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(Seed::from_json(&seed, None).unwrap()),
        };
        let server = rt
            .block_on(Server::start_with(config, ServerOptions::default()))
            .unwrap();
        let db = dir.path().join("device.db");
        let device = Device::builder(&db)
            .key_store(&UnprotectedKeyStore)
            .open()
            .unwrap();
        rt.block_on(device.enroll(&server.url(), CODE, "Chan's phone", "test"))
            .unwrap();
        Rig {
            rt,
            server,
            http: reqwest::Client::new(),
            db,
            _dir: dir,
        }
    }

    /// Every punch the server stored, in the order received, read through the admin API.
    pub(crate) fn punches_on_server(&self) -> Vec<daka_server::api::admin::PunchInfo> {
        self.rt.block_on(async {
            let mut all = Vec::new();
            let mut after = String::new();
            loop {
                let page: PunchList = self
                    .http
                    .get(format!(
                        "{}/admin/v1/punches?limit=5000{after}",
                        self.server.url()
                    ))
                    .bearer_auth(ADMIN_TOKEN)
                    .send()
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                all.extend(page.punches);
                match page.next_after {
                    Some(next) => after = format!("&after={next}"),
                    None => return all,
                }
            }
        })
    }

    /// The device with SQLite's normal VFS and the shipped settings.
    pub(crate) fn open_normally(&self) -> Device {
        Device::builder(&self.db)
            .key_store(&UnprotectedKeyStore)
            .open()
            .expect("the store opens after the power cut")
    }
}

/// A temporary directory, in memory (`/dev/shm`) where there is one: what survives a cut is
/// the VFS's model of the disk, not the file system's, so real flushes would only cost time.
pub(crate) fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    match shm.is_dir() {
        true => tempfile::tempdir_in(shm).or_else(|_| tempfile::tempdir()),
        false => tempfile::tempdir(),
    }
    .expect("a temporary directory")
}

/// A punch at the store, placed by its Wi-Fi.
pub(crate) fn store_punch(n: u64) -> PunchInput {
    PunchInput {
        kind: if n % 2 == 0 {
            PunchKind::In
        } else {
            PunchKind::Out
        },
        fix: None,
        more_fixes: Vec::new(),
        wifi_bssids: vec![STORE_AP.into()],
        face: None,
    }
}

/// What a run does.
pub(crate) struct Settings {
    /// Cuts to make.
    pub(crate) cuts: u64,
    /// The run stops after this long even if fewer cuts were made.
    pub(crate) time_bound: Duration,
    /// The store's `synchronous` level.
    pub(crate) synchronous: Synchronous,
    /// The cut falls at a write, sync, truncation or deletion chosen uniformly among the
    /// first this many of a boot.
    pub(crate) max_ops: u64,
}

/// Where a cut fell.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    Open = 0,
    Punch = 1,
    Sync = 2,
}

/// An acknowledged punch the store no longer had after a cut.
#[derive(Debug, Clone)]
pub(crate) struct Lost {
    pub(crate) cut: u64,
    pub(crate) id: String,
    pub(crate) seq: u64,
}

/// What a run saw.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) cuts: u64,
    pub(crate) stopped_by_time: bool,
    pub(crate) elapsed: Duration,
    /// Punches whose `Device::punch` returned, over the run.
    pub(crate) acknowledged: u64,
    /// Acknowledged punches still expected (all of them, unless some were lost): id → seq.
    pub(crate) expected: HashMap<String, u64>,
    pub(crate) lost: Vec<Lost>,
    /// Cuts by phase: opening the store, punching, syncing.
    pub(crate) cuts_in: [u64; 3],
    /// Sync rounds started, and those that ended without a cut.
    pub(crate) syncs: u64,
    pub(crate) syncs_completed: u64,
    /// First punches after a reboot checked to link to the last surviving record.
    pub(crate) links_checked: u64,
    /// Punches committed but not acknowledged (cut between commit and return), found after a
    /// cut: at most the one in progress.
    pub(crate) unacknowledged_kept: u64,
    /// Mutating calls per boot, summed.
    pub(crate) ops: u64,
    pub(crate) sim: Totals,
}

/// How often the check after a cut verifies every record's signature and link, rather than
/// those from the last check on (every record's id and seq are read at every check).
const WHOLE_CHAIN_EVERY: u64 = 100;

/// A stored punch's id and seq, read without the rest of the record.
#[derive(serde::Deserialize)]
struct Link {
    id: String,
    seq: u64,
}

/// What [`check_store`] found.
struct Stored {
    /// Every stored punch: id → seq.
    links: HashMap<String, u64>,
    /// The chain's head: the last stored record.
    head: ChainHead,
}

/// Checks the store after cut `cut`: `integrity_check` is `ok`; the stored punches have seqs
/// 1, 2, 3 … in chain order (no gap, no fork); and the records from the last one of the
/// previous check on (all of them when `whole`) verify: signatures, hashes and links.
fn check_store(
    device: &Device,
    public_key: &[u8; 32],
    previous: &HashMap<String, u64>,
    cut: u64,
    whole: bool,
) -> Stored {
    device
        .store()
        .integrity_check()
        .unwrap_or_else(|e| panic!("cut {cut}: {e}"));
    let payloads = device
        .outbox()
        .payloads_of_kind(ItemKind::Punch.as_str())
        .unwrap();
    let links: Vec<Link> = payloads
        .iter()
        .map(|p| serde_json::from_str(p).expect("a stored punch has an id and a seq"))
        .collect();
    for (i, link) in links.iter().enumerate() {
        assert_eq!(
            link.seq,
            i as u64 + 1,
            "cut {cut}: the stored chain has a gap or a fork at record {i}"
        );
    }
    let first_new = links
        .iter()
        .position(|l| !previous.contains_key(&l.id))
        .unwrap_or(links.len());
    let from = if whole {
        0
    } else {
        first_new.saturating_sub(1)
    };
    let records: Vec<PunchRecord> = payloads[from..]
        .iter()
        .map(|p| PunchRecord::read_stored(p).expect("a stored punch reads"))
        .collect();
    let anchor = match (from, records.first()) {
        (0, _) | (_, None) => None,
        (_, Some(first)) => {
            first
                .verify_signature(public_key)
                .unwrap_or_else(|e| panic!("cut {cut}: record {from}: {e}"));
            Some(ChainAnchor {
                device_id: first.body.device_id.clone(),
                seq: first.body.seq,
                hash: first.hash().expect("a stored record hashes"),
            })
        }
    };
    let rest = if anchor.is_some() {
        &records[1..]
    } else {
        &records[..]
    };
    verify_chain_from(public_key, anchor.as_ref(), rest)
        .unwrap_or_else(|e| panic!("cut {cut}: the stored chain does not verify: {e}"));
    let head = match records.last() {
        Some(last) => ChainHead::at(last.body.seq, last.hash().expect("a stored record hashes")),
        None => ChainHead::empty(),
    };
    Stored {
        links: links.into_iter().map(|l| (l.id, l.seq)).collect(),
        head,
    }
}

/// Runs power cuts until `settings.cuts` or the time bound.
pub(crate) fn run(
    rig: &Rig,
    sim: &PowerSim,
    rng: &mut fastrand::Rng,
    settings: &Settings,
) -> Outcome {
    let started = Instant::now();
    let mut out = Outcome::default();
    let public_key = rig.open_normally().public_key();
    // The punches in the store at the last check (id → seq), and the chain's head.
    let mut previous: HashMap<String, u64> = HashMap::new();
    let mut head = check_store(&rig.open_normally(), &public_key, &previous, 0, true).head;
    let mut punch_no = 0u64;
    while out.cuts < settings.cuts {
        if started.elapsed() > settings.time_bound {
            out.stopped_by_time = true;
            break;
        }
        sim.boot();
        sim.arm(rng.u64(1..=settings.max_ops));
        let opening = StoreOpening {
            vfs: Some(sim.vfs_name().to_string()),
            synchronous: settings.synchronous,
            wal_autocheckpoint: Some(AUTOCHECKPOINT_PAGES),
        };
        let phase = match Device::builder(&rig.db)
            .key_store(&UnprotectedKeyStore)
            .store_opening(opening)
            .open()
        {
            Err(e) => {
                assert!(sim.is_cut(), "opening failed without a power cut: {e}");
                Phase::Open
            }
            Ok(device) => {
                let mut first = true;
                let phase = loop {
                    if rng.u8(..4) == 0 {
                        out.syncs += 1;
                        let result = rig.rt.block_on(device.sync_now(&|_| {}));
                        if sim.is_cut() {
                            break Phase::Sync;
                        }
                        let report = result.unwrap_or_else(|e| panic!("sync failed: {e}"));
                        if settings.synchronous == Synchronous::Full {
                            assert!(report.stopped_by.is_none(), "{report:?}");
                        }
                        out.syncs_completed += 1;
                    } else {
                        punch_no += 1;
                        match device.punch(store_punch(punch_no)) {
                            Ok(outcome) => {
                                let record = outcome.record.expect("a punch at the store");
                                out.acknowledged += 1;
                                out.expected
                                    .insert(record.body.id.to_string(), record.body.seq);
                                if first {
                                    head.check_next(&record.body).unwrap_or_else(|e| {
                                        panic!(
                                            "cut {}: the first punch after the reboot does not \
                                             continue the surviving chain: {e}",
                                            out.cuts
                                        )
                                    });
                                    out.links_checked += 1;
                                    first = false;
                                }
                            }
                            Err(e) => {
                                assert!(sim.is_cut(), "punch failed without a power cut: {e}")
                            }
                        }
                        if sim.is_cut() {
                            break Phase::Punch;
                        }
                    }
                };
                drop(device);
                phase
            }
        };
        out.ops += sim.ops();
        out.cuts_in[phase as usize] += 1;
        sim.restore();
        out.cuts += 1;

        // The reboot: SQLite's normal VFS, the shipped settings.
        let device = rig.open_normally();
        let whole = out.cuts % WHOLE_CHAIN_EVERY == 0 || out.cuts == settings.cuts;
        let stored = check_store(&device, &public_key, &previous, out.cuts, whole);
        let mut lost: Vec<Lost> = out
            .expected
            .iter()
            .filter(|(id, seq)| stored.links.get(*id) != Some(seq))
            .map(|(id, seq)| Lost {
                cut: out.cuts,
                id: id.clone(),
                seq: *seq,
            })
            .collect();
        lost.sort_by_key(|l| l.seq);
        for l in &lost {
            out.expected.remove(&l.id);
        }
        out.lost.extend(lost);
        out.unacknowledged_kept += stored
            .links
            .keys()
            .filter(|id| !previous.contains_key(*id) && !out.expected.contains_key(*id))
            .count() as u64;
        previous = stored.links;
        head = stored.head;
        drop(device);
    }
    out.elapsed = started.elapsed();
    out.sim = sim.totals();
    out
}
