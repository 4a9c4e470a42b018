//! WAL checkpoints off the request path.
//!
//! SQLite checkpoints a WAL database inside the commit that takes the log past 1,000 pages, so
//! the push request that happened to cross the line also waited for the log to be copied into
//! the database file and both files to be flushed (about 10 ms, once every 25 pushes of 200
//! punches). Here the writer connection's WAL hook, which replaces that automatic checkpoint,
//! only notes how long the log is. Once a commit leaves it at [`CHECKPOINT_PAGES`] or more, the
//! storage wakes its [`Checkpointer`], a thread with its own connection, which checkpoints while
//! the next request is on its way.
//!
//! Durability does not change: a commit is durable once its frames are flushed to the log, and
//! a checkpoint only moves committed pages. If the thread falls behind (or long reads keep old
//! pages in use) and the log reaches [`BACKSTOP_PAGES`], the writer checkpoints in its commit
//! as SQLite would have, so the log stays bounded.

use std::cell::Cell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::{CheckpointMode, Wal};

/// Log length, in pages, from which a commit wakes the checkpointer (SQLite's own default).
pub const CHECKPOINT_PAGES: i32 = 1_000;
/// Log length from which the writer checkpoints in the commit itself.
pub const BACKSTOP_PAGES: i32 = 10 * CHECKPOINT_PAGES;

thread_local! {
    /// Pages in the log after the last commit on this thread's connection. Commits run on the
    /// thread that holds the writer, so the storage reads it right after committing.
    static LOG_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// Installs the hook on the writer connection: from now on it does not checkpoint by itself
/// below [`BACKSTOP_PAGES`].
pub fn install(writer: &Connection) {
    writer.wal_hook(Some(after_commit));
}

/// The log length the last commit on this thread left, or 0 if there was none since the last
/// call.
pub fn take_log_pages() -> i32 {
    LOG_PAGES.with(|p| p.replace(0))
}

fn after_commit(wal: &Wal, pages: c_int) -> rusqlite::Result<()> {
    LOG_PAGES.with(|p| p.set(pages));
    if pages >= BACKSTOP_PAGES {
        // RESTART waits (within the busy timeout) for readers of old pages, so the next write
        // starts the log again from the beginning. The commit has happened whatever this
        // returns; an error here would only make it look failed, so a busy log waits for the
        // next commit.
        let _ = wal.checkpoint_v2(CheckpointMode::RESTART);
    }
    Ok(())
}

/// The background checkpoint thread of one database. Dropping it stops the thread.
pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    wake: Mutex<Wake>,
    cv: Condvar,
    runs: AtomicU64,
    failures: AtomicU64,
}

#[derive(Default)]
struct Wake {
    requested: bool,
    stop: bool,
}

impl Checkpointer {
    /// Starts the thread, which checkpoints through `conn` when asked.
    pub fn start(conn: Connection) -> std::io::Result<Checkpointer> {
        let shared = Arc::new(Shared {
            wake: Mutex::new(Wake::default()),
            cv: Condvar::new(),
            runs: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        });
        let thread = std::thread::Builder::new()
            .name("daka-checkpoint".into())
            .spawn({
                let shared = shared.clone();
                move || run(&conn, &shared)
            })?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint; requests made while one runs are folded into the next.
    pub fn request(&self) {
        let mut wake = self.shared.lock();
        wake.requested = true;
        self.shared.cv.notify_one();
    }

    /// Checkpoints finished so far.
    #[cfg(test)]
    pub fn runs(&self) -> u64 {
        self.shared.runs.load(Ordering::Acquire)
    }

    /// Checkpoints that failed (a busy log is retried at the next request).
    #[cfg(test)]
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Acquire)
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Wake> {
        self.wake.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut wake = shared.lock();
            while !wake.requested && !wake.stop {
                wake = shared.cv.wait(wake).unwrap_or_else(|p| p.into_inner());
            }
            if wake.stop {
                return;
            }
            wake.requested = false;
        }
        // PASSIVE copies what no reader still needs, without waiting for the writer or readers.
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        match done {
            Ok(0) => shared.runs.fetch_add(1, Ordering::AcqRel),
            _ => shared.failures.fetch_add(1, Ordering::AcqRel),
        };
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.cv.notify_one();
        if let Some(thread) = self.thread.take() {
            // The thread only waits or checkpoints; a panic there has nothing to hand back.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::{Duration, Instant};

    fn open(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("PRAGMA synchronous = FULL; CREATE TABLE IF NOT EXISTS t (b BLOB);")
            .unwrap();
        conn
    }

    /// Commits about `pages` pages of new rows in one transaction.
    fn write_pages(conn: &mut Connection, pages: i32) {
        let tx = conn.transaction().unwrap();
        for _ in 0..pages {
            tx.execute("INSERT INTO t (b) VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        tx.commit().unwrap();
    }

    fn db_bytes(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn the_hook_reports_the_log_and_leaves_checkpoints_to_the_thread_until_the_backstop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hook.db");
        let mut writer = open(&path);
        install(&writer);
        take_log_pages();
        let before = db_bytes(&path);

        // Past SQLite's own threshold: the commit no longer copies the log into the file.
        write_pages(&mut writer, CHECKPOINT_PAGES + 200);
        let pages = take_log_pages();
        assert!(pages >= CHECKPOINT_PAGES + 200, "{pages} pages reported");
        assert_eq!(take_log_pages(), 0, "taken once");
        assert_eq!(db_bytes(&path), before, "no checkpoint in the commit");

        // At the backstop the commit checkpoints, and the log starts again.
        write_pages(&mut writer, BACKSTOP_PAGES);
        assert!(take_log_pages() >= BACKSTOP_PAGES);
        assert!(
            db_bytes(&path) >= (BACKSTOP_PAGES as u64) * 4_000,
            "the backstop checkpoint copied the log: {} bytes",
            db_bytes(&path)
        );
        write_pages(&mut writer, 1);
        let restarted = take_log_pages();
        assert!(restarted < 10, "the log restarted: {restarted} pages");
    }

    #[test]
    fn the_thread_checkpoints_when_asked_and_stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("thread.db");
        let mut writer = open(&path);
        install(&writer);
        let checkpointer = Checkpointer::start(open(&path)).unwrap();
        let before = db_bytes(&path);
        write_pages(&mut writer, CHECKPOINT_PAGES + 200);
        assert_eq!(db_bytes(&path), before);
        checkpointer.request();
        let deadline = Instant::now() + Duration::from_secs(20);
        while checkpointer.runs() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!((checkpointer.runs(), checkpointer.failures()), (1, 0));
        assert!(
            db_bytes(&path) >= (CHECKPOINT_PAGES as u64) * 4_000,
            "the thread copied the log into the file: {} bytes",
            db_bytes(&path)
        );
        // The next write starts the log again from the beginning.
        write_pages(&mut writer, 1);
        assert!(take_log_pages() < 10);
        // Dropping joins the thread (a hang here fails the test by timeout).
        drop(checkpointer);
    }
}
