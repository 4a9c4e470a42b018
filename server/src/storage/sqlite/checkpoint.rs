//! WAL checkpoints after the answer instead of inside the commit.
//!
//! SQLite checkpoints a WAL database inside the commit that takes the log past 1,000 pages:
//! the request whose commit crossed the line also waited for the log to be copied into the
//! database file and the file flushed (about 9 ms, once every three pushes of 500 punches).
//! Here the writer connection's WAL hook, which replaces that automatic checkpoint, only notes
//! how long the log is. When the writer is released after a commit that left the log at
//! [`CHECKPOINT_PAGES`] or more, the storage marks a checkpoint as due, and the HTTP layer runs
//! it on the blocking pool once the request has been answered (`SqliteStorage::checkpoint`),
//! while the device reads the answer and prepares its next request.
//!
//! The checkpoint runs on the writer connection, holding the writer, so no write of this
//! process runs during it: it copies the whole log (unless a reader still uses old pages), and
//! the next write starts the log again from the beginning. (A checkpoint on a connection of
//! its own, running alongside the writer, never catches up with a steady stream of small
//! commits, so the log never restarts and every commit's flush covers a growing file.)
//!
//! Durability does not change: a commit is durable once its frames are flushed to the log, and
//! a checkpoint only moves committed pages. Should the deferred checkpoints not run (storage
//! used without the HTTP layer, or a reader holding old pages) and the log reach
//! [`BACKSTOP_PAGES`], the writer checkpoints in its commit as SQLite would have, so the log
//! stays bounded.

use std::cell::Cell;
use std::ffi::c_int;

use rusqlite::Connection;
use rusqlite::hooks::{CheckpointMode, Wal};

/// Log length, in pages, from which a checkpoint is due after the answer (SQLite's own
/// automatic checkpoint threshold).
pub(crate) const CHECKPOINT_PAGES: i32 = 1_000;
/// Log length from which the writer checkpoints in the commit itself.
pub(crate) const BACKSTOP_PAGES: i32 = 10 * CHECKPOINT_PAGES;

thread_local! {
    /// Pages in the log after the last commit on this thread. Commits run on the thread that
    /// holds the writer, so the storage reads it when it releases the writer.
    static LOG_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// Installs the hook on the writer connection: from now on it does not checkpoint by itself
/// below [`BACKSTOP_PAGES`].
pub(crate) fn install(writer: &Connection) {
    writer.wal_hook(Some(after_commit));
}

/// The log length the last commit on this thread left, or 0 if there was none since the last
/// call.
pub(crate) fn take_log_pages() -> i32 {
    LOG_PAGES.with(|p| p.replace(0))
}

/// The log length the last commit on this thread left, leaving it in place (for tests that
/// look before the writer is released).
#[cfg(test)]
pub(crate) fn log_pages() -> i32 {
    LOG_PAGES.with(Cell::get)
}

fn after_commit(wal: &Wal, pages: c_int) -> rusqlite::Result<()> {
    LOG_PAGES.with(|p| p.set(pages));
    if pages >= BACKSTOP_PAGES {
        // The commit has happened whatever this returns; an error here would only make it
        // look failed, so a log that cannot be checkpointed now waits for the next commit.
        let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
        LOG_PAGES.with(|p| p.set(0));
    }
    Ok(())
}

/// Copies the log into the database file through `writer`, which the caller holds. Pages a
/// reader still uses stay in the log; the next long commit makes a checkpoint due again.
pub(crate) fn run(writer: &Connection) -> rusqlite::Result<()> {
    // One row: busy, pages in the log, pages copied.
    writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
