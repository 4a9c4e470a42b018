//! The C side of the power-cut VFS: SQLite's entry points (`xOpen`, `xDelete`, `xAccess` and
//! every file method), each forwarding to the unix VFS and telling the model in
//! [`super::State`] what reached the page cache and what was flushed (a file's data by its
//! `xSync`, its directory's entries by a deletion with `syncDir` and by the first sync of a
//! journal or WAL, as the unix VFS syncs the directory then). After the cut, writes,
//! syncs, truncations, deletions, reads and opens fail; locks and the `-shm` wal-index still go
//! to the unix VFS.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::Path;
use std::ptr;

use rusqlite::ffi;

use super::model::Op;
use super::{Call, Shared};

/// The file object SQLite allocates for this VFS (`szOsFile` bytes), wrapping the unix one.
#[repr(C)]
pub(super) struct SimFile {
    base: ffi::sqlite3_file,
    /// The unix VFS's file object, `words` 8-byte words.
    real: *mut ffi::sqlite3_file,
    words: usize,
    shared: *const Shared,
    /// The path, for a file whose durability is modelled; `None` for temporary files.
    path: Option<String>,
    /// Whether the file's next successful sync also syncs its directory, as the unix VFS
    /// does once for a journal or WAL opened with `SQLITE_OPEN_CREATE`.
    dir_sync: bool,
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

pub(super) unsafe extern "C" fn sim_open(
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
        let journal =
            ffi::SQLITE_OPEN_MAIN_JOURNAL | ffi::SQLITE_OPEN_SUPER_JOURNAL | ffi::SQLITE_OPEN_WAL;
        let dir_sync =
            tracked.is_some() && flags & ffi::SQLITE_OPEN_CREATE != 0 && flags & journal != 0;
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
                dir_sync,
            },
        );
        ffi::SQLITE_OK
    }
}

pub(super) unsafe extern "C" fn sim_delete(
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
        if st.tick(Call::Delete) {
            return ffi::SQLITE_IOERR_DELETE;
        }
        let rc = delete(shared.unix, name, sync_dir);
        if rc == ffi::SQLITE_OK && sync_dir != 0 {
            st.sync_directory(&path);
        }
        rc
    }
}

pub(super) unsafe extern "C" fn sim_access(
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
        if st.tick(Call::Write) {
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
        if st.tick(Call::Truncate) {
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
        if st.dead || st.tick(Call::Sync) {
            return ffi::SQLITE_IOERR_FSYNC;
        }
        let rc = sync(f.real, flags);
        if rc == ffi::SQLITE_OK {
            st.totals.syncs += 1;
            st.model(path).flush();
            if f.dir_sync {
                f.dir_sync = false;
                st.sync_directory(path);
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

/// Methods that go straight to the unix VFS's file, before and after the cut: locks, file
/// controls, the device's characteristics and the `-shm` wal-index are process state, not disk.
macro_rules! forward {
    ($($name:ident => $method:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) $(-> $ret)? {
            unsafe {
                let f = sim_file(file);
                real_methods(f.real).$method.expect(stringify!($method))(f.real $(, $arg)*)
            }
        }
    )*};
}

forward! {
    sim_lock => xLock(level: c_int) -> c_int;
    sim_unlock => xUnlock(level: c_int) -> c_int;
    sim_check_reserved_lock => xCheckReservedLock(out: *mut c_int) -> c_int;
    sim_file_control => xFileControl(op: c_int, arg: *mut c_void) -> c_int;
    sim_sector_size => xSectorSize() -> c_int;
    sim_device_characteristics => xDeviceCharacteristics() -> c_int;
    sim_shm_map => xShmMap(region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int;
    sim_shm_lock => xShmLock(offset: c_int, n: c_int, flags: c_int) -> c_int;
    sim_shm_barrier => xShmBarrier();
    sim_shm_unmap => xShmUnmap(delete: c_int) -> c_int;
}
