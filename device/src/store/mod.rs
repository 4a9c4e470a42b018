//! The device's durable store: one SQLite file holding the outbox, the punch chain head, the
//! cached policy, the device identity, consumed face nonces and the last server time anchor.
//!
//! Durability is the point of this file. The database runs in WAL mode with
//! `synchronous=FULL`: a transaction that returned from `COMMIT` has been fsynced to the WAL, so
//! it survives the app being killed, the OS killing it, a reboot and (where the storage honours
//! flushes) power loss. `NORMAL` would be faster but may lose the last transactions on power
//! loss, which would break the promise that "recorded" means recorded.
//!
//! Each table has its data-access module, a handful of functions over a `&Connection` that
//! read rows by column name into named structs: `identity` (`device`), `chain`
//! (`chain_head`), `policy` (`policy_cache`), `nonces` (`face_nonce`), `anchor`
//! (`time_anchor`), `cursor` (`sync_cursor`) and `attachments` (`attachment`); the outbox's
//! tables belong to [`crate::outbox`]. Taking a connection rather than the store lets the engine
//! compose several of them into one transaction (a punch writes its outbox item, its chain head
//! and its consumed nonce in one). The engine decides; these modules only read and write.
//!
//! One connection, behind a mutex: the SDK is one process and writes are small, so a single
//! writer avoids `SQLITE_BUSY` entirely; `busy_timeout` covers a second process (a crash-test
//! child or a debugging shell) holding the file briefly.
//!
//! [`StoreOpening`] is a hidden seam for the power-loss tests (`device/tests/power_loss.rs`)
//! and the model-based test of the whole loop (`tests/src/model/`): they open this same store
//! through a SQLite VFS that simulates power cuts and process deaths (the `daka-power-sim`
//! crate), and show what `synchronous=NORMAL` would lose. The product always opens with its
//! default.

pub(crate) mod anchor;
pub(crate) mod attachments;
pub(crate) mod chain;
pub(crate) mod cursor;
pub(crate) mod day_results;
pub(crate) mod identity;
pub(crate) mod nonces;
pub(crate) mod policy;
mod schema;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

pub use schema::SCHEMA_VERSION;

/// Failures of the store itself (not of the data in it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite could not open or create the file (a missing directory, no permission): check
    /// the path the app passed.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The path as given to [`Store::open`], for display.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file's schema is newer than this build knows (the app was downgraded): nothing is
    /// read from or migrated in it; the user must install the newer app again.
    #[error(
        "the store was written by a newer daka (schema version {found}, this build knows up to {supported}); update the app"
    )]
    TooNew {
        /// The file's schema version (`PRAGMA user_version`).
        found: i64,
        /// The newest version this build knows, [`SCHEMA_VERSION`].
        supported: i64,
    },
    /// The file or a row in it does not read: what SQLite's `integrity_check` reported, or
    /// which stored record failed to parse. Not retryable; keep the file for support.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    /// Any other SQLite failure (the disk full, an I/O error, the file locked by another
    /// process for longer than the 5 s busy timeout): the statement that failed, or its
    /// transaction, was not committed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// How [`Store::open_with`] opens the file: the SQLite VFS and the durability settings.
///
/// The product always uses [`StoreOpening::default`] (SQLite's default VFS, `synchronous=FULL`,
/// SQLite's default checkpoint interval). The power-loss tests change it to run the real store
/// over a VFS that simulates power cuts, with checkpoints frequent enough for cuts to land in
/// them, and to show that `NORMAL` loses acknowledged punches.
#[doc(hidden)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOpening {
    /// The name of a registered SQLite VFS; `None` for SQLite's default.
    pub vfs: Option<String>,
    /// The `synchronous` level of the connection.
    pub synchronous: Synchronous,
    /// `PRAGMA wal_autocheckpoint` in pages; `None` for SQLite's default (1,000).
    pub wal_autocheckpoint: Option<u32>,
}

/// SQLite's `synchronous` levels the store can run at (see [`StoreOpening`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// `FULL`: the write-ahead log is flushed at every commit. What the product ships.
    #[default]
    Full,
    /// `NORMAL`: the log is flushed only at checkpoints; a power cut may take back the last
    /// commits. Only for showing that difference.
    Normal,
}

/// The open store.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Self::open_with(path, &StoreOpening::default())
    }

    /// [`Store::open`] through another VFS or at another durability level; see
    /// [`StoreOpening`].
    #[doc(hidden)]
    pub fn open_with(path: impl AsRef<Path>, opening: &StoreOpening) -> Result<Store, StoreError> {
        let path = path.as_ref();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match &opening.vfs {
            None => Connection::open_with_flags(path, flags),
            Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs.as_str()),
        }
        .map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_connection(conn, opening)
    }

    /// An in-memory store, for tests and tools that need no persistence.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Self::from_connection(Connection::open_in_memory()?, &StoreOpening::default())
    }

    fn from_connection(mut conn: Connection, opening: &StoreOpening) -> Result<Store, StoreError> {
        configure(&conn, opening)?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// The connection, for the modules that own tables in this store.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (an open
        // transaction is rolled back when its guard drops), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs SQLite's `integrity_check`; `Ok(())` when the file is sound.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let conn = self.conn();
        let result: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(result))
        }
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

fn configure(conn: &Connection, opening: &StoreOpening) -> Result<(), StoreError> {
    // `journal_mode` returns the mode actually set ("memory" for in-memory databases).
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    let synchronous = match opening.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {synchronous};
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;"
    ))?;
    if let Some(pages) = opening.wal_autocheckpoint {
        // The pragma answers with the interval now in force.
        let _pages: i64 =
            conn.query_row(&format!("PRAGMA wal_autocheckpoint = {pages}"), [], |r| {
                r.get(0)
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_in_wal_mode_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("device.db")).unwrap();
        let conn = store.conn();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(conn);
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        store.integrity_check().unwrap();
    }

    #[test]
    fn the_hidden_opening_sets_normal_and_the_checkpoint_interval_or_names_a_missing_vfs() {
        let dir = tempfile::tempdir().unwrap();
        let opening = StoreOpening {
            vfs: Some("unix".into()),
            synchronous: Synchronous::Normal,
            wal_autocheckpoint: Some(8),
        };
        let store = Store::open_with(dir.path().join("device.db"), &opening).unwrap();
        let conn = store.conn();
        let read = |pragma: &str| -> i64 {
            conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(read("synchronous"), 1, "synchronous=NORMAL");
        assert_eq!(read("wal_autocheckpoint"), 8);
        drop(conn);

        let missing = StoreOpening {
            vfs: Some("no-such-vfs".into()),
            ..StoreOpening::default()
        };
        let err = Store::open_with(dir.path().join("other.db"), &missing).unwrap_err();
        assert!(
            matches!(err, StoreError::Open { .. }) && err.to_string().contains("no-such-vfs"),
            "{err}"
        );
    }

    #[test]
    fn a_file_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
                .unwrap();
        }
        match Store::open(&path) {
            Err(StoreError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.db");
        std::fs::write(
            &path,
            b"this is not a database, just some text that is long enough",
        )
        .unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(err.to_string().contains("not a database"), "{err}");
    }
}
