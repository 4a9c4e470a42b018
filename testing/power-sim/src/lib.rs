//! daka-power-sim: a SQLite VFS that simulates power cuts and process deaths: what a phone
//! keeps of its files when the battery dies (the flash keeps only what was flushed), or when
//! only the app's process dies (the OS page cache keeps everything written). A test-only crate
//! (`publish = false`), used by the device's power-loss test (`device/tests/power_loss.rs`) and
//! by the model-based test of the whole loop (`tests/src/model/`); see `docs/reliability.md`.
//! It links SQLite through the workspace's `rusqlite`, so the VFS is registered in the same
//! SQLite the device's store opens its file with.
//!
//! [`PowerSim::register`] adds a VFS that wraps SQLite's own `unix` VFS: every call goes to the
//! real files (so SQLite reads what the OS page cache would give it), and beside them the VFS
//! keeps, per file, **the disk** (the bytes as of the file's last `xSync`, and whether the file
//! exists durably) and **the page cache** (the writes, truncations, creations and deletions
//! since then, in order). `xSync` moves a file's page cache to its disk. That is the whole
//! promise a flush gives, and the only one this model honours.
//!
//! A cut is armed to fall at the n-th write, sync, truncation or deletion ([`PowerSim::arm`]).
//! That call fails (a write in flight is kept in the page cache: any part of it may land), and
//! so does every later write, sync, truncation, deletion, read and open: the phone is off.
//! Locks and the `-shm` wal-index go straight to `unix`: they are process memory, not disk (the
//! unix VFS rebuilds the wal-index when the next connection opens). Once every connection is
//! closed, [`PowerSim::restore`] decides what of each page cache reached the disk and rewrites
//! the real files to that, as the phone would find them after the reboot:
//!
//! * **lost**: nothing unflushed survives;
//! * **torn prefix**: the page cache reached the disk in order, up to a random point, at
//!   512-byte sector granularity (a write is cut between two sectors: a torn write);
//! * **reordered**: each sector of each unflushed write landed or not, independently, as a
//!   disk without barriers may do; a write that would have grown the file may have grown it
//!   with garbage instead of its data (SQLite's docs: new file space first holds garbage).
//!   Directory changes (creations, deletions, truncations) land in order, up to a random point;
//! * **process death**: only the process died, the OS did not: everything that reached the
//!   page cache stays, the call the process died in included (it completed in the kernel; its
//!   return never reached the process). Never chosen at random; set with
//!   [`PowerSim::set_landing`].
//!
//! What SQLite's documentation says it relies on, and the model follows: a write never damages
//! bytes it did not write (`SQLITE_IOCAP_POWERSAFE_OVERWRITE`, which the unix VFS declares);
//! a file's data is durable after `xSync`; a deletion with `syncDir` set is durable when
//! `xDelete` returns, and one without it may be undone by the cut (the file comes back with its
//! flushed content, as a rollback journal deleted at commit can under `synchronous=FULL`, which
//! is why SQLite has `EXTRA`). A directory sync makes every creation and deletion in the
//! directory so far durable (what `fsync` of a directory does): the unix VFS syncs the
//! directory at a deletion with `syncDir` and at the first `xSync` of a journal or WAL opened
//! with `SQLITE_OPEN_CREATE`, so that sync also makes durable, say, the deletion of the
//! rollback journal that switched a new database to WAL mode. Files without a name (temporary files)
//! are passed through: they do not outlive a reboot anyway.
//!
//! Limits: one process; the files' durable state at [`PowerSim::boot`] is what is on the real
//! disk then (every run starts from a cleanly closed database); a main database file created
//! through this VFS counts as existing durably from its first `xSync` (the unix VFS syncs the
//! directory only for journals and WALs, so on a real disk a new database could vanish too).

mod model;
mod shim;

use std::collections::HashMap;
use std::ffi::{CString, c_int, c_void};
use std::path::Path;
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use rusqlite::ffi;

use model::{FileModel, land, write_back};
use shim::{SimFile, sim_access, sim_delete, sim_open};

/// How the page cache met the disk at one cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// Nothing unflushed survived.
    Lost,
    /// The unflushed changes landed in order up to a random sector.
    TornPrefix,
    /// Each unflushed sector landed or not, independently.
    Reordered,
    /// Only the process died: every change in the page cache stays.
    ProcessDeath,
}

/// What one [`PowerSim::restore`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutReport {
    /// How the page cache met the disk.
    pub landing: Landing,
    /// Unflushed write calls at the cut (over every file).
    pub writes_unflushed: u64,
    /// Of those, written whole to the disk.
    pub writes_landed: u64,
    /// Of those, written in part: some sectors on the disk, some not.
    pub writes_torn: u64,
    /// Deletions without a directory sync that the cut undid: the file came back.
    pub deletions_undone: u64,
    /// Files rewritten to their state after the cut.
    pub files_changed: u64,
}

impl CutReport {
    fn new(landing: Landing) -> CutReport {
        CutReport {
            landing,
            writes_unflushed: 0,
            writes_landed: 0,
            writes_torn: 0,
            deletions_undone: 0,
            files_changed: 0,
        }
    }
}

/// Sums over every cut of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Cuts restored.
    pub cuts: u64,
    /// Cuts by landing: lost, torn prefix, reordered, process death.
    pub by_landing: [u64; 4],
    /// Unflushed write calls at the cuts.
    pub writes_unflushed: u64,
    /// Of those, landed whole.
    pub writes_landed: u64,
    /// Of those, torn.
    pub writes_torn: u64,
    /// Deletions the cuts undid.
    pub deletions_undone: u64,
    /// `xSync` calls that completed.
    pub syncs: u64,
    /// Write calls that reached the page cache.
    pub writes: u64,
    /// Cuts by the call they fell at: a write, a sync, a truncation, a deletion.
    pub cut_at: [u64; 4],
}

/// The calls a cut can fall at.
#[derive(Debug, Clone, Copy)]
enum Call {
    Write = 0,
    Sync = 1,
    Truncate = 2,
    Delete = 3,
}

#[derive(Debug)]
struct State {
    rng: fastrand::Rng,
    /// The mutating call (counted from [`PowerSim::arm`]) at which the power goes.
    cut_at: Option<u64>,
    ops: u64,
    dead: bool,
    open_files: usize,
    files: HashMap<String, FileModel>,
    totals: Totals,
    /// A landing every cut takes, instead of a random one.
    landing: Option<Landing>,
    /// Whether [`PowerSim::restore`] reads every rewritten file back and compares it with the
    /// model.
    verify: bool,
}

struct Shared {
    unix: *mut ffi::sqlite3_vfs,
    state: Mutex<State>,
}

// SAFETY: `unix` points to SQLite's static unix VFS, which is thread-safe; everything else is
// behind the mutex.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A registered power-cut VFS. Registered VFSes live for the rest of the process.
pub struct PowerSim {
    shared: &'static Shared,
    name: String,
}

impl PowerSim {
    /// Registers a VFS named `name` (not as the default) whose random choices come from
    /// `seed`.
    pub fn register(name: &str, seed: u64) -> PowerSim {
        // SAFETY: plain FFI calls; the VFS object and its name are leaked, so they outlive
        // every connection that may use them.
        let shared = unsafe {
            assert_eq!(ffi::sqlite3_initialize(), ffi::SQLITE_OK);
            let unix = ffi::sqlite3_vfs_find(c"unix".as_ptr());
            assert!(!unix.is_null(), "SQLite has its unix VFS");
            let shared: &'static Shared = Box::leak(Box::new(Shared {
                unix,
                state: Mutex::new(State {
                    rng: fastrand::Rng::with_seed(seed),
                    cut_at: None,
                    ops: 0,
                    dead: false,
                    open_files: 0,
                    files: HashMap::new(),
                    totals: Totals::default(),
                    landing: None,
                    verify: false,
                }),
            }));
            let mut vfs: ffi::sqlite3_vfs = ptr::read(unix);
            vfs.iVersion = 2;
            vfs.szOsFile = std::mem::size_of::<SimFile>() as c_int;
            vfs.pNext = ptr::null_mut();
            vfs.zName = CString::new(name).expect("a VFS name").into_raw();
            vfs.pAppData = shared as *const Shared as *mut c_void;
            vfs.xOpen = Some(sim_open);
            vfs.xDelete = Some(sim_delete);
            vfs.xAccess = Some(sim_access);
            vfs.xSetSystemCall = None;
            vfs.xGetSystemCall = None;
            vfs.xNextSystemCall = None;
            let rc = ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0);
            assert_eq!(rc, ffi::SQLITE_OK, "registering the VFS {name}");
            shared
        };
        PowerSim {
            shared,
            name: name.to_string(),
        }
    }

    /// The VFS's name, for opening a connection through it.
    pub fn vfs_name(&self) -> &str {
        &self.name
    }

    /// A read-write connection to `path` (created if missing) through this VFS.
    pub fn connect(&self, path: &Path) -> rusqlite::Result<rusqlite::Connection> {
        rusqlite::Connection::open_with_flags_and_vfs(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
            self.vfs_name(),
        )
    }

    /// Powers on: whatever the real files hold now is on the disk, nothing is in the page
    /// cache, and no cut is armed.
    pub fn boot(&self) {
        let mut st = self.shared.state();
        assert_eq!(st.open_files, 0, "boot with files open through the VFS");
        st.files.clear();
        st.dead = false;
        st.cut_at = None;
        st.ops = 0;
    }

    /// Arms a cut at the `nth` (1-based) write, sync, truncation or deletion from now.
    pub fn arm(&self, nth: u64) {
        let mut st = self.shared.state();
        st.ops = 0;
        st.cut_at = Some(nth.max(1));
    }

    /// Makes every later cut land as `landing` (`None`: at random).
    pub fn set_landing(&self, landing: Option<Landing>) {
        self.shared.state().landing = landing;
    }

    /// Starts the random choices of later cuts (torn points, reordered sectors, garbage)
    /// again from `seed`, so that a cut can be replayed on its own.
    pub fn reseed(&self, seed: u64) {
        self.shared.state().rng = fastrand::Rng::with_seed(seed);
    }

    /// Makes [`PowerSim::restore`] read every file it rewrites back and compare it with the
    /// disk the model decided on (a check of the model's own bookkeeping).
    pub fn verify_restores(&self, verify: bool) {
        self.shared.state().verify = verify;
    }

    /// Cuts the power now.
    pub fn cut_now(&self) {
        self.shared.state().dead = true;
    }

    /// Whether the power is off.
    pub fn is_cut(&self) -> bool {
        self.shared.state().dead
    }

    /// Mutating calls since [`PowerSim::arm`].
    pub fn ops(&self) -> u64 {
        self.shared.state().ops
    }

    /// The sums so far.
    pub fn totals(&self) -> Totals {
        self.shared.state().totals
    }

    /// After a cut, with every connection through this VFS closed: decides what reached the
    /// disk, rewrites the real files to it, and boots.
    pub fn restore(&self) -> CutReport {
        let mut st = self.shared.state();
        assert!(st.dead, "restore without a cut");
        assert_eq!(
            st.open_files, 0,
            "every connection through the VFS must be closed before the disk is restored"
        );
        let random = match st.rng.u8(..8) {
            0 | 1 => Landing::Lost,
            2..=4 => Landing::TornPrefix,
            _ => Landing::Reordered,
        };
        let landing = st.landing.unwrap_or(random);
        let mut report = CutReport::new(landing);
        let files = std::mem::take(&mut st.files);
        let mut paths: Vec<&String> = files.keys().collect();
        paths.sort();
        for path in paths {
            let model = &files[path];
            if model.pending.is_empty() {
                continue;
            }
            let after = land(&mut st.rng, landing, model, &mut report);
            write_back(Path::new(path), model, &after);
            if st.verify {
                assert_eq!(
                    std::fs::read(path).ok(),
                    after,
                    "{path} was not rewritten to the disk the model decided on"
                );
            }
            report.files_changed += 1;
        }
        let t = &mut st.totals;
        t.cuts += 1;
        t.by_landing[landing as usize] += 1;
        t.writes_unflushed += report.writes_unflushed;
        t.writes_landed += report.writes_landed;
        t.writes_torn += report.writes_torn;
        t.deletions_undone += report.deletions_undone;
        st.dead = false;
        st.cut_at = None;
        st.ops = 0;
        report
    }
}

/// Dropping the handle frees the model's copies of the files (the registered VFS itself stays,
/// as SQLite may still name it).
impl Drop for PowerSim {
    fn drop(&mut self) {
        self.shared.state().files.clear();
    }
}

impl State {
    /// Counts a mutating call; true when the power goes at it.
    fn tick(&mut self, call: Call) -> bool {
        self.ops += 1;
        if self.cut_at == Some(self.ops) {
            self.dead = true;
            self.totals.cut_at[call as usize] += 1;
        }
        self.dead
    }

    /// The directory of `path` was synced: the creations and deletions of every file in it
    /// are on the disk.
    fn sync_directory(&mut self, path: &str) {
        let dir = Path::new(path).parent();
        for (other, model) in self.files.iter_mut() {
            if Path::new(other).parent() == dir {
                model.directory_synced();
            }
        }
    }

    /// The model of `path`, read from the real file the first time since boot.
    fn model(&mut self, path: &str) -> &mut FileModel {
        self.files
            .entry(path.to_string())
            .or_insert_with(|| FileModel {
                disk: std::fs::read(path).ok(),
                pending: Vec::new(),
            })
    }
}
