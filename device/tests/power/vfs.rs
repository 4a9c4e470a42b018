//! A SQLite VFS that simulates power cuts: what a phone keeps of its files when the battery
//! dies, when the flash keeps only what was flushed.
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
//!   Directory changes (creations, deletions, truncations) land in order, up to a random point.
//!
//! What SQLite's documentation says it relies on, and the model follows: a write never damages
//! bytes it did not write (`SQLITE_IOCAP_POWERSAFE_OVERWRITE`, which the unix VFS declares);
//! a file's data is durable after `xSync`; a newly created journal or WAL exists durably after
//! its first `xSync` (the unix VFS then syncs its directory); a deletion with `syncDir` set is
//! durable when `xDelete` returns, and one without it may be undone by the cut (the file comes
//! back with its flushed content, as a rollback journal deleted at commit can under
//! `synchronous=FULL`, which is why SQLite has `EXTRA`). Files without a name (temporary files)
//! are passed through: they do not outlive a reboot anyway.
//!
//! Limits: one process; the files' durable state at [`PowerSim::boot`] is what is on the real
//! disk then (every run starts from a cleanly closed database); a main database file created
//! through this VFS counts as existing durably from its first `xSync` (the unix VFS syncs the
//! directory only for journals and WALs, so on a real disk a new database could vanish too).

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use rusqlite::ffi;

/// The granularity of a torn write.
pub(crate) const SECTOR: u64 = 512;

/// How the page cache met the disk at one cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Landing {
    /// Nothing unflushed survived.
    Lost,
    /// The unflushed changes landed in order up to a random sector.
    TornPrefix,
    /// Each unflushed sector landed or not, independently.
    Reordered,
}

/// What one [`PowerSim::restore`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CutReport {
    /// How the page cache met the disk.
    pub(crate) landing: Landing,
    /// Unflushed write calls at the cut (over every file).
    pub(crate) writes_unflushed: u64,
    /// Of those, written whole to the disk.
    pub(crate) writes_landed: u64,
    /// Of those, written in part: some sectors on the disk, some not.
    pub(crate) writes_torn: u64,
    /// Deletions without a directory sync that the cut undid: the file came back.
    pub(crate) deletions_undone: u64,
    /// Files rewritten to their state after the cut.
    pub(crate) files_changed: u64,
}

/// Sums over every cut of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Cuts restored.
    pub(crate) cuts: u64,
    /// Cuts by landing: lost, torn prefix, reordered.
    pub(crate) by_landing: [u64; 3],
    /// Unflushed write calls at the cuts.
    pub(crate) writes_unflushed: u64,
    /// Of those, landed whole.
    pub(crate) writes_landed: u64,
    /// Of those, torn.
    pub(crate) writes_torn: u64,
    /// Deletions the cuts undid.
    pub(crate) deletions_undone: u64,
    /// `xSync` calls that completed.
    pub(crate) syncs: u64,
    /// Write calls that reached the page cache.
    pub(crate) writes: u64,
}

/// One change to a file that reached the page cache.
#[derive(Debug, Clone)]
enum Op {
    /// The file was created (it did not exist when it was opened).
    Create,
    Write {
        offset: u64,
        data: Vec<u8>,
    },
    Truncate(u64),
    /// Deleted without a directory sync.
    Delete,
}

/// A file as the disk holds it, and what the page cache holds beyond that.
#[derive(Debug, Default)]
struct FileModel {
    /// The flushed content; `None` when the file does not exist durably.
    disk: Option<Vec<u8>>,
    /// Changes since the last flush, in order.
    pending: Vec<Op>,
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
pub(crate) struct PowerSim {
    shared: &'static Shared,
    name: String,
}

impl PowerSim {
    /// Registers a VFS named `name` (not as the default) whose random choices come from
    /// `seed`.
    pub(crate) fn register(name: &str, seed: u64) -> PowerSim {
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
    pub(crate) fn vfs_name(&self) -> &str {
        &self.name
    }

    /// Powers on: whatever the real files hold now is on the disk, nothing is in the page
    /// cache, and no cut is armed.
    pub(crate) fn boot(&self) {
        let mut st = self.shared.state();
        assert_eq!(st.open_files, 0, "boot with files open through the VFS");
        st.files.clear();
        st.dead = false;
        st.cut_at = None;
        st.ops = 0;
    }

    /// Arms a cut at the `nth` (1-based) write, sync, truncation or deletion from now.
    pub(crate) fn arm(&self, nth: u64) {
        let mut st = self.shared.state();
        st.ops = 0;
        st.cut_at = Some(nth.max(1));
    }

    /// Makes every later cut land as `landing` (`None`: at random).
    pub(crate) fn set_landing(&self, landing: Option<Landing>) {
        self.shared.state().landing = landing;
    }

    /// Makes [`PowerSim::restore`] read every file it rewrites back and compare it with the
    /// disk the model decided on (a check of the model's own bookkeeping).
    pub(crate) fn verify_restores(&self, verify: bool) {
        self.shared.state().verify = verify;
    }

    /// Cuts the power now.
    pub(crate) fn cut_now(&self) {
        self.shared.state().dead = true;
    }

    /// Whether the power is off.
    pub(crate) fn is_cut(&self) -> bool {
        self.shared.state().dead
    }

    /// Mutating calls since [`PowerSim::arm`].
    pub(crate) fn ops(&self) -> u64 {
        self.shared.state().ops
    }

    /// The sums so far.
    pub(crate) fn totals(&self) -> Totals {
        self.shared.state().totals
    }

    /// After a cut, with every connection through this VFS closed: decides what reached the
    /// disk, rewrites the real files to it, and boots.
    pub(crate) fn restore(&self) -> CutReport {
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
        let mut report = CutReport {
            landing,
            writes_unflushed: 0,
            writes_landed: 0,
            writes_torn: 0,
            deletions_undone: 0,
            files_changed: 0,
        };
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

/// One piece of an unflushed change: a write is cut at sector boundaries.
struct Piece<'a> {
    /// Index of the change in the page cache.
    op: usize,
    /// Which file at this path the piece belongs to: 0 for the one on the disk, n for the
    /// n-th created in the page cache. Data written to a file whose creation did not land is
    /// lost with it; it never lands in an older file that the cut brought back.
    inode: usize,
    kind: PieceKind<'a>,
}

enum PieceKind<'a> {
    Create,
    Write { offset: u64, data: &'a [u8] },
    Truncate(u64),
    Delete,
}

fn pieces(pending: &[Op]) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut inode = 0;
    for (i, op) in pending.iter().enumerate() {
        match op {
            Op::Create => {
                inode += 1;
                out.push(Piece {
                    op: i,
                    inode,
                    kind: PieceKind::Create,
                })
            }
            Op::Delete => out.push(Piece {
                op: i,
                inode,
                kind: PieceKind::Delete,
            }),
            Op::Truncate(n) => out.push(Piece {
                op: i,
                inode,
                kind: PieceKind::Truncate(*n),
            }),
            Op::Write { offset, data } => {
                let mut at = 0usize;
                while at < data.len() {
                    let pos = offset + at as u64;
                    let to_boundary = (SECTOR - pos % SECTOR) as usize;
                    let len = to_boundary.min(data.len() - at);
                    out.push(Piece {
                        op: i,
                        inode,
                        kind: PieceKind::Write {
                            offset: pos,
                            data: &data[at..at + len],
                        },
                    });
                    at += len;
                }
            }
        }
    }
    out
}

/// Applies the flushed changes to a disk image. `garbage` fills holes (None: zeros, as the
/// live file reads them).
fn apply(file: &mut Option<Vec<u8>>, kind: &PieceKind<'_>, garbage: Option<&mut fastrand::Rng>) {
    match kind {
        PieceKind::Create => *file = Some(Vec::new()),
        PieceKind::Delete => *file = None,
        PieceKind::Truncate(n) => {
            if let Some(f) = file {
                f.resize(*n as usize, 0);
            }
        }
        PieceKind::Write { offset, data } => {
            if let Some(f) = file {
                let start = *offset as usize;
                grow(f, start, garbage);
                let end = start + data.len();
                if f.len() < end {
                    f.resize(end, 0);
                }
                f[start..end].copy_from_slice(data);
            }
        }
    }
}

/// Grows `f` to `len` bytes, with garbage or zeros.
fn grow(f: &mut Vec<u8>, len: usize, garbage: Option<&mut fastrand::Rng>) {
    if f.len() >= len {
        return;
    }
    match garbage {
        Some(rng) => {
            let from = f.len();
            f.resize(len, 0);
            rng.fill(&mut f[from..]);
        }
        None => f.resize(len, 0),
    }
}

/// What a file holds after the cut.
fn land(
    rng: &mut fastrand::Rng,
    landing: Landing,
    model: &FileModel,
    report: &mut CutReport,
) -> Option<Vec<u8>> {
    let pieces = pieces(&model.pending);
    let keep: Vec<bool> = match landing {
        Landing::Lost => vec![false; pieces.len()],
        Landing::TornPrefix => {
            let k = rng.usize(..=pieces.len());
            (0..pieces.len()).map(|i| i < k).collect()
        }
        Landing::Reordered => {
            let structural = pieces
                .iter()
                .filter(|p| !matches!(p.kind, PieceKind::Write { .. }))
                .count();
            let mut structural_kept = rng.usize(..=structural);
            pieces
                .iter()
                .map(|p| match p.kind {
                    PieceKind::Write { .. } => rng.bool(),
                    _ if structural_kept > 0 => {
                        structural_kept -= 1;
                        true
                    }
                    _ => {
                        structural_kept = 0;
                        false
                    }
                })
                .collect()
        }
    };
    // Per write call: how many of its sectors landed, of how many.
    let mut per_op: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut file = model.disk.clone();
    // The file now at the path (see [`Piece::inode`]).
    let mut inode = 0;
    for (piece, kept) in pieces.iter().zip(&keep) {
        let here = piece.inode == inode && file.is_some();
        match piece.kind {
            PieceKind::Write { offset, data } => {
                let e = per_op.entry(piece.op).or_default();
                e.1 += 1;
                if *kept && here {
                    e.0 += 1;
                    apply(&mut file, &piece.kind, Some(rng));
                } else if here && landing == Landing::Reordered && rng.u8(..4) == 0 {
                    // The size grew, the data did not arrive.
                    if let Some(f) = &mut file {
                        grow(f, (offset as usize) + data.len(), Some(rng));
                    }
                }
            }
            PieceKind::Create if *kept => {
                inode = piece.inode;
                apply(&mut file, &piece.kind, None);
            }
            // A deletion that did not land leaves the file as it was: it comes back.
            PieceKind::Delete if !*kept && file.is_some() => report.deletions_undone += 1,
            PieceKind::Delete if *kept => apply(&mut file, &piece.kind, None),
            PieceKind::Truncate(_) if *kept && here => apply(&mut file, &piece.kind, None),
            _ => {}
        }
    }
    for (landed, of) in per_op.values() {
        report.writes_unflushed += 1;
        if landed == of {
            report.writes_landed += 1;
        } else if *landed > 0 {
            report.writes_torn += 1;
        }
    }
    file
}

/// Rewrites the real file at `path` to `after`. Only the ranges the page cache touched and
/// what lies past the flushed end can differ from the live file, so only they are written (a
/// whole file when it was created or deleted in between).
fn write_back(path: &Path, model: &FileModel, after: &Option<Vec<u8>>) {
    let pending = &model.pending;
    let Some(bytes) = after else {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("removing {}: {e}", path.display()),
        }
        return;
    };
    let whole = !path.exists()
        || model.disk.is_none()
        || pending
            .iter()
            .any(|op| matches!(op, Op::Create | Op::Delete));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    if whole {
        ranges.push((0, bytes.len()));
    } else {
        for op in pending {
            match op {
                Op::Write { offset, data } => {
                    ranges.push((*offset as usize, *offset as usize + data.len()))
                }
                Op::Truncate(n) => ranges.push((*n as usize, bytes.len())),
                Op::Create | Op::Delete => {}
            }
        }
        // Past the flushed end: holes and growth filled with garbage.
        let flushed = model.disk.as_ref().map_or(0, Vec::len);
        ranges.push((flushed, bytes.len()));
    }
    f.set_len(bytes.len() as u64).unwrap();
    for (start, end) in ranges {
        let end = end.min(bytes.len());
        if start >= end {
            continue;
        }
        f.seek(SeekFrom::Start(start as u64)).unwrap();
        f.write_all(&bytes[start..end]).unwrap();
    }
}

/// The file object SQLite allocates for this VFS (`szOsFile` bytes), wrapping the unix one.
#[repr(C)]
struct SimFile {
    base: ffi::sqlite3_file,
    /// The unix VFS's file object, `words` 8-byte words.
    real: *mut ffi::sqlite3_file,
    words: usize,
    shared: *const Shared,
    /// The path, for a file whose durability is modelled; `None` for temporary files.
    path: Option<String>,
}

static IO_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 2,
    xClose: Some(sim_close),
    xRead: Some(sim_read),
    xWrite: Some(sim_write),
    xTruncate: Some(sim_truncate),
    xSync: Some(sim_sync),
    xFileSize: Some(sim_file_size),
    xLock: Some(sim_lock),
    xUnlock: Some(sim_unlock),
    xCheckReservedLock: Some(sim_check_reserved_lock),
    xFileControl: Some(sim_file_control),
    xSectorSize: Some(sim_sector_size),
    xDeviceCharacteristics: Some(sim_device_characteristics),
    xShmMap: Some(sim_shm_map),
    xShmLock: Some(sim_shm_lock),
    xShmBarrier: Some(sim_shm_barrier),
    xShmUnmap: Some(sim_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

/// # Safety
/// `vfs` is this module's VFS.
unsafe fn shared_of(vfs: *mut ffi::sqlite3_vfs) -> &'static Shared {
    unsafe { &*((*vfs).pAppData as *const Shared) }
}

/// # Safety
/// `file` was opened by [`sim_open`].
unsafe fn sim_file<'a>(file: *mut ffi::sqlite3_file) -> &'a mut SimFile {
    unsafe { &mut *(file as *mut SimFile) }
}

/// The real file's methods.
///
/// # Safety
/// `real` was opened by the unix VFS.
unsafe fn real_methods(real: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    unsafe { &*(*real).pMethods }
}

fn path_of(name: *const c_char) -> Option<String> {
    if name.is_null() {
        return None;
    }
    // SAFETY: SQLite passes a NUL-terminated file name.
    Some(
        unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned(),
    )
}

impl State {
    /// Counts a mutating call; true when the power goes at it.
    fn tick(&mut self) -> bool {
        self.ops += 1;
        if self.cut_at == Some(self.ops) {
            self.dead = true;
        }
        self.dead
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

unsafe extern "C" fn sim_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    unsafe {
        let shared = shared_of(vfs);
        (*file).pMethods = ptr::null();
        let tracked = path_of(name).filter(|_| flags & ffi::SQLITE_OPEN_DELETEONCLOSE == 0);
        let mut st = shared.state();
        let mut created = false;
        if let Some(path) = &tracked {
            if st.dead {
                return ffi::SQLITE_CANTOPEN;
            }
            st.model(path);
            created = !Path::new(path).exists();
        }
        let words = ((*shared.unix).szOsFile as usize).div_ceil(8);
        let real = Box::into_raw(vec![0u64; words].into_boxed_slice()) as *mut ffi::sqlite3_file;
        let open = (*shared.unix).xOpen.expect("unix xOpen");
        let rc = open(shared.unix, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            if !(*real).pMethods.is_null() {
                real_methods(real).xClose.expect("xClose")(real);
            }
            drop(Box::from_raw(ptr::slice_from_raw_parts_mut(
                real as *mut u64,
                words,
            )));
            return rc;
        }
        if let Some(path) = &tracked
            && created
            && Path::new(path).exists()
        {
            st.model(path).pending.push(Op::Create);
        }
        st.open_files += 1;
        ptr::write(
            file as *mut SimFile,
            SimFile {
                base: ffi::sqlite3_file {
                    pMethods: &IO_METHODS,
                },
                real,
                words,
                shared,
                path: tracked,
            },
        );
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn sim_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    unsafe {
        let shared = shared_of(vfs);
        let delete = (*shared.unix).xDelete.expect("unix xDelete");
        let Some(path) = path_of(name) else {
            return delete(shared.unix, name, sync_dir);
        };
        let mut st = shared.state();
        if st.dead {
            return ffi::SQLITE_IOERR_DELETE;
        }
        st.model(&path).pending.push(Op::Delete);
        if st.tick() {
            return ffi::SQLITE_IOERR_DELETE;
        }
        let rc = delete(shared.unix, name, sync_dir);
        if rc == ffi::SQLITE_OK && sync_dir != 0 {
            let model = st.model(&path);
            model.disk = None;
            model.pending.clear();
        }
        rc
    }
}

unsafe extern "C" fn sim_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    unsafe {
        let shared = shared_of(vfs);
        if shared.state().dead {
            return ffi::SQLITE_IOERR_ACCESS;
        }
        (*shared.unix).xAccess.expect("unix xAccess")(shared.unix, name, flags, out)
    }
}

unsafe extern "C" fn sim_close(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let f = sim_file(file);
        let rc = real_methods(f.real).xClose.expect("xClose")(f.real);
        drop(Box::from_raw(ptr::slice_from_raw_parts_mut(
            f.real as *mut u64,
            f.words,
        )));
        let shared = &*f.shared;
        shared.state().open_files -= 1;
        ptr::drop_in_place(&mut f.path);
        rc
    }
}

unsafe extern "C" fn sim_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        let f = sim_file(file);
        if f.path.is_some() && (*f.shared).state().dead {
            return ffi::SQLITE_IOERR_READ;
        }
        real_methods(f.real).xRead.expect("xRead")(f.real, buf, amount, offset)
    }
}

unsafe extern "C" fn sim_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        let f = sim_file(file);
        let write = real_methods(f.real).xWrite.expect("xWrite");
        let Some(path) = &f.path else {
            return write(f.real, buf, amount, offset);
        };
        let mut st = (*f.shared).state();
        if st.dead {
            return ffi::SQLITE_IOERR_WRITE;
        }
        let data = std::slice::from_raw_parts(buf as *const u8, amount as usize).to_vec();
        st.model(path).pending.push(Op::Write {
            offset: offset as u64,
            data,
        });
        if st.tick() {
            return ffi::SQLITE_IOERR_WRITE;
        }
        st.totals.writes += 1;
        write(f.real, buf, amount, offset)
    }
}

unsafe extern "C" fn sim_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    unsafe {
        let f = sim_file(file);
        let truncate = real_methods(f.real).xTruncate.expect("xTruncate");
        let Some(path) = &f.path else {
            return truncate(f.real, size);
        };
        let mut st = (*f.shared).state();
        if st.dead {
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        st.model(path).pending.push(Op::Truncate(size as u64));
        if st.tick() {
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        truncate(f.real, size)
    }
}

unsafe extern "C" fn sim_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe {
        let f = sim_file(file);
        let sync = real_methods(f.real).xSync.expect("xSync");
        let Some(path) = &f.path else {
            return sync(f.real, flags);
        };
        let mut st = (*f.shared).state();
        if st.dead || st.tick() {
            return ffi::SQLITE_IOERR_FSYNC;
        }
        let rc = sync(f.real, flags);
        if rc == ffi::SQLITE_OK {
            st.totals.syncs += 1;
            let model = st.model(path);
            let pending = std::mem::take(&mut model.pending);
            for piece in pieces(&pending) {
                apply(&mut model.disk, &piece.kind, None);
            }
        }
        rc
    }
}

unsafe extern "C" fn sim_file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        let f = sim_file(file);
        if f.path.is_some() && (*f.shared).state().dead {
            return ffi::SQLITE_IOERR_FSTAT;
        }
        real_methods(f.real).xFileSize.expect("xFileSize")(f.real, size)
    }
}

unsafe extern "C" fn sim_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real).xLock.expect("xLock")(f.real, level)
    }
}

unsafe extern "C" fn sim_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real).xUnlock.expect("xUnlock")(f.real, level)
    }
}

unsafe extern "C" fn sim_check_reserved_lock(
    file: *mut ffi::sqlite3_file,
    out: *mut c_int,
) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real)
            .xCheckReservedLock
            .expect("xCheckReservedLock")(f.real, out)
    }
}

unsafe extern "C" fn sim_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real).xFileControl.expect("xFileControl")(f.real, op, arg)
    }
}

unsafe extern "C" fn sim_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real).xSectorSize.expect("xSectorSize")(f.real)
    }
}

unsafe extern "C" fn sim_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real)
            .xDeviceCharacteristics
            .expect("xDeviceCharacteristics")(f.real)
    }
}

unsafe extern "C" fn sim_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real).xShmMap.expect("xShmMap")(f.real, region, size, extend, out)
    }
}

unsafe extern "C" fn sim_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real).xShmLock.expect("xShmLock")(f.real, offset, n, flags)
    }
}

unsafe extern "C" fn sim_shm_barrier(file: *mut ffi::sqlite3_file) {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real).xShmBarrier.expect("xShmBarrier")(f.real)
    }
}

unsafe extern "C" fn sim_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    unsafe {
        let f = sim_file(file);
        real_methods(f.real).xShmUnmap.expect("xShmUnmap")(f.real, delete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(offset: u64, len: usize) -> Op {
        Op::Write {
            offset,
            data: (0..len).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn a_write_is_cut_at_sector_boundaries_and_a_torn_one_is_counted() {
        let pending = [write(500, 1_100)];
        let spans: Vec<(u64, usize)> = pieces(&pending)
            .iter()
            .map(|p| match p.kind {
                PieceKind::Write { offset, data } => (offset, data.len()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(spans, [(500, 12), (512, 512), (1_024, 512), (1_536, 64)]);

        // Some prefix of four pieces lands: whole, torn or lost, never anything else.
        let model = FileModel {
            disk: Some(vec![0xAA; 2_048]),
            pending: pending.to_vec(),
        };
        let mut rng = fastrand::Rng::with_seed(7);
        let mut torn = 0;
        for _ in 0..200 {
            let mut report = CutReport {
                landing: Landing::TornPrefix,
                writes_unflushed: 0,
                writes_landed: 0,
                writes_torn: 0,
                deletions_undone: 0,
                files_changed: 0,
            };
            let after = land(&mut rng, Landing::TornPrefix, &model, &mut report).unwrap();
            assert_eq!(after.len(), 2_048, "the write was inside the flushed file");
            let new = |at: usize| after[at] == ((at - 500) as u8);
            let landed = (500..1_600).take_while(|&at| new(at)).count();
            assert!(
                [0, 12, 524, 1_036, 1_100].contains(&landed),
                "{landed} bytes landed: not a sector boundary"
            );
            assert!(after[500 + landed..1_600].iter().all(|&b| b == 0xAA));
            assert_eq!(report.writes_unflushed, 1);
            torn += report.writes_torn;
        }
        assert!(torn > 0);
    }

    #[test]
    fn data_of_a_file_whose_creation_did_not_land_does_not_reach_the_old_one() {
        let model = FileModel {
            disk: Some(vec![1; 512]),
            pending: vec![Op::Delete, Op::Create, write(0, 512)],
        };
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..200 {
            let mut report = CutReport {
                landing: Landing::Reordered,
                writes_unflushed: 0,
                writes_landed: 0,
                writes_torn: 0,
                deletions_undone: 0,
                files_changed: 0,
            };
            let after = land(&mut rng, Landing::Reordered, &model, &mut report);
            if report.deletions_undone == 1 {
                // The old file came back, without a byte of the new one's data.
                assert_eq!(after, Some(vec![1; 512]));
            } else {
                // Deleted, or the new file: empty, with its data, or grown with garbage.
                assert!(after.is_none_or(|f| f.len() == 512 || f.is_empty()));
            }
        }
    }
}
