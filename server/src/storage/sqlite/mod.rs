//! [`Storage`] on one SQLite file.
//!
//! Durability first: the file runs in WAL mode with `synchronous=FULL`, so an item the server
//! answered `accepted` has been fsynced before the answer left, and survives a crash or power
//! loss of the server (where the disk honours flushes).
//!
//! Connections: one writer behind a mutex, so writes in this process never contend for the
//! SQLite lock (`BEGIN IMMEDIATE` takes it at the start of every write transaction, so a
//! transaction never has to upgrade a read lock and cannot deadlock), plus a few readers,
//! which WAL lets run alongside the writer. `busy_timeout` bounds the wait for a lock held by
//! another process (a backup, an operator's `sqlite3` shell); past it a call fails with
//! [`StorageError::Busy`], which the HTTP layer answers with 503 and `Retry-After`.
//!
//! The writer does not checkpoint the write-ahead log inside its commits: once a commit leaves
//! the log long, a checkpoint is due, and the HTTP layer runs it after answering
//! (`checkpoint.rs`).
//!
//! This file owns the connections, the query helpers and the [`Storage`] implementation,
//! which hands each operation to the file of its tables, on the connection it needs:
//!
//! * `sql.rs`: the helpers the others share (error mapping, cached statements, conversions);
//! * `schema.rs`: the schema as code and its upgrade path;
//! * `orgs.rs`: organisations and their published policy versions;
//! * `devices.rs`: enrolment codes, devices and bearer tokens;
//! * `items.rs`: the ledger of pushed item ids and the push batch with its item savepoints;
//! * `punches.rs`: judged punches, chain heads and face nonces;
//! * `approvals.rs`: requests, their audit trails, leave movements and corrections;
//! * `attachments.rs`: the files approval forms refer to;
//! * `changes.rs`: the devices' change feeds;
//! * `attendance.rs`: confirmed day results, the recompute queue, month locks and late changes;
//! * `console.rs`: the web console's accounts, sessions and audit.
//! * `console_admin.rs`: account administration, the audit page, API tokens and the admin
//!   token's rotation.
//!
//! Rows are read by column name into a struct per table (`from_row`), then checked into the
//! storage's own types. Every query filters on `org_id` where the table has one; nothing of
//! rusqlite leaves this folder except through [`schema`].

pub(in crate::storage) mod approvals;
mod attachments;
pub(in crate::storage) mod attendance;
mod changes;
mod checkpoint;
pub(in crate::storage) mod console;
pub(in crate::storage) mod console_admin;
pub(in crate::storage) mod devices;
pub(in crate::storage) mod items;
pub(in crate::storage) mod orgs;
mod policy_drafts;
pub(in crate::storage) mod punches;
pub mod schema;
pub(in crate::storage) mod sql;

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::{Answer, ApprovalKey, ApprovalState, ConsoleSigner, ConsoleWrite};
use super::{
    AttendanceMark, AttendanceOutcome, AttendanceSources, AttendanceWrite, LateChange, LockEvent,
    MonthLock, StoredDay,
};
use super::{
    AuditEntry, CodeOutcome, Correction, DeviceRow, EnrollOutcome, ItemBatch, NewDevice, NewOrg,
    NewToken, OrgRow, PublishOutcome, PunchFilter, Storage, StorageError, StoredChange,
    StoredPolicy, StoredPunch, StoredRequest,
};
use super::{ConsoleAccount, ConsoleAuditEntry, ConsoleSessionRow, NewConsoleAudit, PolicyDraft};
use super::{DeviceRevocation, EnrollmentCodeRow, RevokeOutcome};
use checkpoint::CHECKPOINT_PAGES;
use items::SqliteBatch;
use sql::map_err;

pub use schema::SCHEMA_VERSION;

/// Reader connections kept open.
const READERS: usize = 3;

/// How long a call waits for a lock held by another process before failing with
/// [`StorageError::Busy`], by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The SQLite storage.
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// A commit left the log at [`CHECKPOINT_PAGES`] or more.
    checkpoint_due: AtomicBool,
}

/// The writer connection, held. Released after a commit that left the log at
/// [`CHECKPOINT_PAGES`] or more, it marks a checkpoint as due.
struct Writer<'s> {
    conn: MutexGuard<'s, Connection>,
    checkpoint_due: &'s AtomicBool,
}

impl Deref for Writer<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if checkpoint::take_log_pages() >= CHECKPOINT_PAGES {
            self.checkpoint_due.store(true, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn open_connection(path: &Path, busy: Duration) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StorageError::Database(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(busy).map_err(map_err)?;
    // `journal_mode` answers with the mode in force.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(map_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::Database(format!(
            "{} cannot be put in WAL mode (it is in {mode} mode)",
            path.display()
        )));
    }
    // `temp_store = MEMORY` keeps the statement journal of each item's savepoint in memory
    // instead of a temporary file: it only holds pages for rolling one item back, and the
    // transaction's own durability is the WAL's.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )
    .map_err(map_err)?;
    Ok(conn)
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date,
    /// with the default busy timeout.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage, StorageError> {
        Self::open_with(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens the database with a given busy timeout.
    pub fn open_with(
        path: impl AsRef<Path>,
        busy_timeout: Duration,
    ) -> Result<SqliteStorage, StorageError> {
        let path = path.as_ref().to_path_buf();
        let mut writer = open_connection(&path, busy_timeout)?;
        schema::migrate(&mut writer)?;
        checkpoint::install(&writer);
        let readers = (0..READERS)
            .map(|_| open_connection(&path, busy_timeout).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            checkpoint_due: AtomicBool::new(false),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> Writer<'_> {
        // A panic while holding the lock cannot leave SQLite inconsistent (an open transaction
        // rolls back when dropped), so a poisoned lock is safe to reuse.
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // What an earlier commit on this thread (of any database) left is not this one's.
        checkpoint::take_log_pages();
        Writer {
            conn,
            checkpoint_due: &self.checkpoint_due,
        }
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        for conn in &self.readers {
            if let Ok(guard) = conn.try_lock() {
                return guard;
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StorageError> {
        self.reader()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(map_err)
    }

    /// The writer connection's journal mode and `synchronous` level (2 = FULL).
    pub fn durability(&self) -> Result<(String, i64), StorageError> {
        let conn = self.writer();
        let mode = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(map_err)?;
        let sync = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(map_err)?;
        Ok((mode, sync))
    }

    /// Runs SQLite's `integrity_check`.
    pub fn integrity_check(&self) -> Result<(), StorageError> {
        let result: String = self
            .reader()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(map_err)?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StorageError::Corrupt(result))
        }
    }

    /// Writes a consistent copy of the whole database to `target` (which must not exist)
    /// while the server keeps running (`VACUUM INTO`).
    pub fn backup_to(&self, target: impl AsRef<Path>) -> Result<(), StorageError> {
        let target = target.as_ref().to_string_lossy().into_owned();
        self.reader()
            .execute("VACUUM INTO ?1", [target])
            .map_err(map_err)?;
        Ok(())
    }
}

impl Storage for SqliteStorage {
    fn schema_versions(&self) -> Result<super::SchemaVersions, StorageError> {
        Ok(super::SchemaVersions {
            found: SqliteStorage::schema_version(self)?,
            expected: SCHEMA_VERSION,
        })
    }

    fn org(&self, org_id: &str) -> Result<Option<OrgRow>, StorageError> {
        orgs::org(&self.reader(), org_id)
    }

    fn org_by_admin_token(&self, token_hash: &str) -> Result<Option<OrgRow>, StorageError> {
        orgs::org_by_admin_token(&self.reader(), token_hash)
    }

    fn org_ids(&self) -> Result<Vec<String>, StorageError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached("SELECT id FROM org ORDER BY id")
            .map_err(map_err)?;
        stmt.query_map([], |r| r.get(0))
            .map_err(map_err)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(map_err)
    }

    fn create_org(&self, org: &NewOrg) -> Result<(), StorageError> {
        orgs::create_org(&self.writer(), org)
    }

    fn update_org(
        &self,
        org_id: &str,
        name: &str,
        admin_token_hash: &str,
    ) -> Result<bool, StorageError> {
        orgs::update_org(&self.writer(), org_id, name, admin_token_hash)
    }

    fn publish_policy(
        &self,
        policy: &StoredPolicy,
        change: &str,
    ) -> Result<PublishOutcome, StorageError> {
        orgs::publish_policy(&mut self.writer(), policy, change)
    }

    fn current_policy(&self, org_id: &str) -> Result<Option<StoredPolicy>, StorageError> {
        orgs::current_policy(&self.reader(), org_id)
    }

    fn policy(&self, org_id: &str, version: u64) -> Result<Option<StoredPolicy>, StorageError> {
        orgs::policy(&self.reader(), org_id, version)
    }

    fn add_enrollment_code(
        &self,
        org_id: &str,
        code_hash: &str,
        employee_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CodeOutcome, StorageError> {
        devices::add_enrollment_code(&self.writer(), org_id, code_hash, employee_id, now)
    }

    fn enrollment_code(&self, code_hash: &str) -> Result<Option<EnrollmentCodeRow>, StorageError> {
        devices::enrollment_code(&self.reader(), code_hash)
    }

    fn enroll(
        &self,
        code_hash: &str,
        device: &NewDevice,
        token: &NewToken,
    ) -> Result<EnrollOutcome, StorageError> {
        devices::enroll(&mut self.writer(), code_hash, device, token)
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRow>, StorageError> {
        devices::device(&self.reader(), device_id)
    }

    fn device_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceRow>, StorageError> {
        devices::device_by_token(&self.reader(), token_hash, now)
    }

    fn refresh_token(
        &self,
        device_id: &str,
        issued_at: DateTime<Utc>,
        token: &NewToken,
    ) -> Result<bool, StorageError> {
        devices::refresh_token(&mut self.writer(), device_id, issued_at, token)
    }

    fn devices(&self, org_id: &str) -> Result<Vec<DeviceRow>, StorageError> {
        devices::devices(&self.reader(), org_id)
    }

    fn revoke_device(
        &self,
        org_id: &str,
        device_id: &str,
        revocation: &DeviceRevocation,
        audit: &NewConsoleAudit,
    ) -> Result<RevokeOutcome, StorageError> {
        devices::revoke_device(&mut self.writer(), org_id, device_id, revocation, audit)
    }

    fn apply_batch(
        &self,
        work: &mut dyn FnMut(&mut dyn ItemBatch) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let mut batch = SqliteBatch::new(tx);
        // On `Err` the transaction is dropped, which rolls it back.
        work(&mut batch)?;
        // A FULL commit in WAL mode fsyncs the log: every item of the batch is durable.
        batch.tx.commit().map_err(map_err)
    }

    fn changes(
        &self,
        org_id: &str,
        device_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredChange>, StorageError> {
        changes::changes(&self.reader(), org_id, device_id, after, limit)
    }

    fn punches(
        &self,
        org_id: &str,
        filter: &PunchFilter,
    ) -> Result<Vec<StoredPunch>, StorageError> {
        punches::punches(&self.reader(), org_id, filter)
    }

    fn chain_records(&self, org_id: &str, device_id: &str) -> Result<Vec<String>, StorageError> {
        punches::chain_records(&self.reader(), org_id, device_id)
    }

    fn request(
        &self,
        org_id: &str,
        request_id: &str,
    ) -> Result<Option<StoredRequest>, StorageError> {
        approvals::read_request(&self.reader(), org_id, request_id)
    }

    fn audit(&self, org_id: &str, request_id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        approvals::audit(&self.reader(), org_id, request_id)
    }

    fn inbox(&self, org_id: &str, employee_id: &str) -> Result<Vec<StoredRequest>, StorageError> {
        approvals::requests(
            &self.reader(),
            "JOIN request_waiting w ON w.org_id = r.org_id AND w.request_id = r.request_id
             WHERE r.org_id = ?1 AND w.employee_id = ?2 ORDER BY r.created_ms",
            &[&org_id, &employee_id],
        )
    }

    fn requests_of(
        &self,
        org_id: &str,
        employee_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredRequest>, StorageError> {
        approvals::requests(
            &self.reader(),
            "WHERE r.org_id = ?1 AND r.applicant = ?2 ORDER BY r.created_ms DESC LIMIT ?3",
            &[&org_id, &employee_id, &limit],
        )
    }

    fn leave_movements(
        &self,
        org_id: &str,
        employee_id: &str,
    ) -> Result<Vec<daka_core::approvals::leave::Movement>, StorageError> {
        approvals::read_movements(&self.reader(), org_id, employee_id)
    }

    fn corrections(
        &self,
        org_id: &str,
        employee_id: &str,
    ) -> Result<Vec<Correction>, StorageError> {
        approvals::corrections(&self.reader(), org_id, employee_id)
    }

    fn attendance_sources(
        &self,
        org_id: &str,
        employee_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<AttendanceSources, StorageError> {
        attendance::sources(&self.reader(), org_id, employee_id, from, to)
    }

    fn mark_attendance(
        &self,
        mark: &AttendanceMark,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        attendance::insert_mark(&self.writer(), mark, now)
    }

    fn attendance_marks(&self, limit: u32) -> Result<Vec<AttendanceMark>, StorageError> {
        attendance::marks(&self.reader(), limit)
    }

    fn attendance_days(
        &self,
        org_id: &str,
        employee_id: Option<&str>,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<StoredDay>, StorageError> {
        attendance::days(&self.reader(), org_id, employee_id, from, to)
    }

    fn save_attendance(&self, write: &AttendanceWrite) -> Result<AttendanceOutcome, StorageError> {
        attendance::save(&mut self.writer(), write)
    }

    fn lock_month(
        &self,
        org_id: &str,
        month: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        attendance::lock(&mut self.writer(), org_id, month, now)
    }

    fn unlock_month(
        &self,
        org_id: &str,
        month: &str,
        days: (chrono::NaiveDate, chrono::NaiveDate),
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        attendance::unlock(&mut self.writer(), org_id, month, days, now)
    }

    fn month_locks(&self, org_id: &str) -> Result<(Vec<MonthLock>, Vec<LockEvent>), StorageError> {
        attendance::locks(&self.reader(), org_id)
    }

    fn late_changes(&self, org_id: &str, month: &str) -> Result<Vec<LateChange>, StorageError> {
        attendance::late_changes(&self.reader(), org_id, month)
    }

    fn put_attachment(
        &self,
        org_id: &str,
        sha256: &str,
        media_type: &str,
        content: &[u8],
        device_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        // A repeated upload is answered from a reader, without waiting for the writer.
        if attachments::exists(&self.reader(), org_id, sha256)? {
            return Ok(false);
        }
        attachments::put(
            &self.writer(),
            org_id,
            sha256,
            media_type,
            content,
            device_id,
            now,
        )
    }

    fn attachment(
        &self,
        org_id: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StorageError> {
        attachments::read(&self.reader(), org_id, sha256)
    }

    fn apply_console_decision(
        &self,
        key: &ApprovalKey<'_>,
        signer: &ConsoleSigner,
        judge: &mut dyn FnMut(&ApprovalState) -> Result<ConsoleWrite, Answer>,
    ) -> Result<Result<(), Answer>, StorageError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let outcome = approvals::apply_console_on(&tx, key, signer, judge)?;
        if outcome.is_ok() {
            tx.commit().map_err(map_err)?;
        }
        Ok(outcome)
    }

    fn open_requests(&self, org_id: &str) -> Result<Vec<StoredRequest>, StorageError> {
        approvals::requests(
            &self.reader(),
            "WHERE r.org_id = ?1 AND r.status IN ('pending', 'returned') ORDER BY r.created_ms",
            &[&org_id],
        )
    }

    fn create_console_account(&self, account: &ConsoleAccount) -> Result<bool, StorageError> {
        console::create_account(&self.writer(), account)
    }

    fn console_accounts_by_email(&self, email: &str) -> Result<Vec<ConsoleAccount>, StorageError> {
        console::accounts_by_email(&self.reader(), email)
    }

    fn console_account_by_email(
        &self,
        org_id: &str,
        email: &str,
    ) -> Result<Option<ConsoleAccount>, StorageError> {
        console::account_by_email(&self.reader(), org_id, email)
    }

    fn console_account(&self, account_id: &str) -> Result<Option<ConsoleAccount>, StorageError> {
        console::account(&self.reader(), account_id)
    }

    fn create_console_session(
        &self,
        session: &ConsoleSessionRow,
        org_id: &str,
    ) -> Result<(), StorageError> {
        console::create_session(&self.writer(), session, org_id)
    }

    fn console_session(&self, id_hash: &str) -> Result<Option<ConsoleSessionRow>, StorageError> {
        console::session(&self.reader(), id_hash)
    }

    fn touch_console_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        console::touch_session(&self.writer(), id_hash, now)
    }

    fn end_console_session(&self, id_hash: &str) -> Result<bool, StorageError> {
        console::end_session(&self.writer(), id_hash)
    }

    fn end_console_sessions(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        console::end_sessions(&mut self.writer(), account_id, now)
    }

    fn add_console_audit(&self, entry: &NewConsoleAudit) -> Result<(), StorageError> {
        console::add_audit(&self.writer(), entry)
    }

    fn console_audit(
        &self,
        org_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ConsoleAuditEntry>, StorageError> {
        console::audit(&self.reader(), org_id, after, limit)
    }

    fn policy_draft(&self, org_id: &str) -> Result<Option<PolicyDraft>, StorageError> {
        policy_drafts::draft(&self.reader(), org_id)
    }

    fn save_policy_draft(
        &self,
        draft: &PolicyDraft,
        expected_rev: u64,
    ) -> Result<bool, StorageError> {
        policy_drafts::save(&mut self.writer(), draft, expected_rev)
    }

    fn delete_policy_draft(&self, org_id: &str) -> Result<(), StorageError> {
        policy_drafts::delete(&self.writer(), org_id)
    }

    fn punch_with_record(
        &self,
        org_id: &str,
        punch_id: &str,
    ) -> Result<Option<(StoredPunch, String)>, StorageError> {
        punches::punch_with_record(&self.reader(), org_id, punch_id)
    }

    fn console_accounts(&self, org_id: &str) -> Result<Vec<ConsoleAccount>, StorageError> {
        console_admin::accounts_of(&self.reader(), org_id)
    }

    fn update_console_account(&self, account: &ConsoleAccount) -> Result<bool, StorageError> {
        console_admin::update_account(&self.writer(), account)
    }

    fn console_last_sign_ins(
        &self,
        org_id: &str,
    ) -> Result<std::collections::HashMap<String, DateTime<Utc>>, StorageError> {
        console_admin::last_sign_ins(&self.reader(), org_id)
    }

    fn console_audit_page(
        &self,
        org_id: &str,
        query: &crate::storage::ConsoleAuditQuery,
    ) -> Result<Vec<ConsoleAuditEntry>, StorageError> {
        console_admin::audit_page(&self.reader(), org_id, query)
    }

    fn create_api_token(&self, token: &crate::storage::ApiTokenRow) -> Result<(), StorageError> {
        console_admin::create_token(&self.writer(), token)
    }

    fn api_tokens(&self, org_id: &str) -> Result<Vec<crate::storage::ApiTokenRow>, StorageError> {
        console_admin::tokens(&self.reader(), org_id)
    }

    fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<crate::storage::ApiTokenRow>, StorageError> {
        console_admin::token_by_hash(&self.reader(), token_hash)
    }

    fn touch_api_token(&self, token_id: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        console_admin::touch_token(&self.writer(), token_id, now)
    }

    fn revoke_api_token(
        &self,
        org_id: &str,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        console_admin::revoke_token(&self.writer(), org_id, token_id, now)
    }

    fn rotate_admin_token(
        &self,
        org_id: &str,
        admin_token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        console_admin::rotate_admin_token(&self.writer(), org_id, admin_token_hash, now)
    }

    fn upkeep_due(&self) -> bool {
        self.checkpoint_due.load(Ordering::Acquire)
    }

    /// The due checkpoint, if any, on the writer (see `checkpoint.rs`). One that cannot copy
    /// every page (a reader still uses old ones) is due again after the next long commit.
    fn upkeep(&self) -> Result<(), StorageError> {
        if !self.checkpoint_due.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        checkpoint::run(&self.writer()).map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::items::ItemSavepoint;
    use super::sql::{cached_execute, ms, time};
    use super::*;

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// The chain a batch carries from item to item is the one the database holds: the judge
    /// of each item sees the head the items before it left, across devices, after an item
    /// that was answered without storing, and after an item whose writes failed and rolled
    /// back.
    #[test]
    fn a_batch_judges_each_item_against_the_chain_its_earlier_items_left() {
        use crate::storage::{
            Answer, ChainHead, ItemDecision, ItemKey, ItemState, NewPunch, PunchStatus,
        };
        use daka_core::protocol::{ItemKind, ItemStatus};

        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path().join("server.db")).unwrap();
        storage
            .writer()
            .execute_batch(
                "INSERT INTO org (id, name, admin_token_hash, signing_seed, public_key, created_ms)
                   VALUES ('o', 'Org', 'h', x'00', 'k', 0);
                 INSERT INTO device (id, org_id, employee_id, public_key, name, platform,
                                     enrolled_ms, change_floor)
                   VALUES ('a', 'o', 'E1', zeroblob(32), 'A', 'test', 1000, 0),
                          ('b', 'o', 'E2', randomblob(32), 'B', 'test', 2000, 0);",
            )
            .unwrap();
        let judged_at = DateTime::from_timestamp_nanos(1_700_000_000_123_456_789);
        let store = |seq: u64, id: &str| {
            ItemDecision::Store(Box::new(NewPunch {
                seq,
                hash: format!("hash-{id}"),
                employee_id: "E1".into(),
                kind: "in".into(),
                record: format!("{{\"id\":\"{id}\"}}"),
                status: PunchStatus::Accepted,
                code: None,
                message: None,
                server_verdict: "{}".into(),
                policy_version: 1,
                judged_at,
                received_at: judged_at,
                consume_nonce: false,
                change: "{}".into(),
            }))
        };
        let head = |seq: u64, id: &str| {
            Some(ChainHead {
                seq,
                hash: format!("hash-{id}"),
                punch_id: id.into(),
            })
        };
        let mut seen: Vec<(String, ItemState)> = Vec::new();
        storage
            .apply_batch(&mut |batch| {
                // (device, item, what the judge decides); `a3` repeats seq 2 of device a, so
                // its insert fails and the item rolls back.
                let plan: [(&str, &str, Option<u64>); 6] = [
                    ("a", "a1", Some(1)),
                    ("a", "a2", Some(2)),
                    ("b", "b1", Some(1)),
                    ("a", "a-refused", None),
                    ("a", "a3", Some(2)),
                    ("a", "a4", Some(3)),
                ];
                for (device, item, seq) in plan {
                    let key = ItemKey {
                        org_id: "o",
                        device_id: device,
                        item_id: item,
                        kind: ItemKind::Punch,
                        body_hash: "bh",
                        nonce: None,
                    };
                    let result = batch.apply(&key, &mut |state| {
                        seen.push((item.to_string(), state.clone()));
                        match seq {
                            Some(seq) => store(seq, item),
                            None => ItemDecision::Answer(Answer {
                                status: ItemStatus::Rejected,
                                code: Some("test".into()),
                                message: None,
                            }),
                        }
                    });
                    assert_eq!(result.is_err(), item == "a3", "{item}: {result:?}");
                }
                Ok(())
            })
            .unwrap();
        let state = |item: &str| &seen.iter().find(|(i, _)| i == item).unwrap().1;
        let record = |id: &str| Some(format!("{{\"id\":\"{id}\"}}"));
        // Stored judged times come back to the millisecond.
        let judged_ms = Some(time(ms(judged_at)).unwrap());

        assert_eq!(state("a1").head, None);
        assert_eq!(state("a1").enrolled_at, time(1000).unwrap());
        assert_eq!(state("a2").head, head(1, "a1"));
        assert_eq!(state("a2").head_record, record("a1"));
        assert_eq!(state("a2").head_judged_at, judged_ms);
        assert_eq!(state("b1").head, None, "another device: its own chain");
        assert_eq!(state("b1").enrolled_at, time(2000).unwrap());
        assert_eq!(
            state("a-refused").head,
            head(2, "a2"),
            "back on a: read afresh"
        );
        assert_eq!(state("a3").head, head(2, "a2"), "a refusal stores nothing");
        assert_eq!(
            state("a4").head,
            head(2, "a2"),
            "a3's failed writes rolled back"
        );
        assert_eq!(state("a4").head_record, record("a2"));
        assert_eq!(state("a4").enrolled_at, time(1000).unwrap());
        let device = devices::read_device(&storage.writer(), "WHERE d.id = ?1", &[&"a"])
            .unwrap()
            .unwrap();
        assert_eq!(device.head, head(3, "a4"), "the database agrees");
    }

    /// An item dropped without being released leaves no trace; the items around it stay in
    /// the transaction, and the commit keeps exactly those.
    #[test]
    fn an_item_savepoint_rolls_back_only_its_own_item() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("savepoint.db");
        let mut conn = open_connection(&path, Duration::from_secs(1)).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
            .unwrap();
        let tx = conn.transaction().unwrap();
        for v in 0..6 {
            let item = ItemSavepoint::open(&tx).unwrap();
            cached_execute(&tx, "INSERT INTO t (v) VALUES (?1)", [v]).unwrap();
            cached_execute(&tx, "INSERT INTO t (v) VALUES (?1)", [v + 100]).unwrap();
            if v % 3 == 1 {
                drop(item);
            } else {
                item.release().unwrap();
            }
        }
        assert_eq!(count(&tx), 8);
        tx.commit().unwrap();
        drop(conn);
        let conn = open_connection(&path, Duration::from_secs(1)).unwrap();
        let kept: Vec<i64> = conn
            .prepare("SELECT v FROM t WHERE v < 100 ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kept, [0, 2, 3, 5]);
        assert_eq!(count(&conn), 8);
    }

    /// Writes `pages` pages of blobs in one transaction on the storage's writer; returns the
    /// length of the log that commit left.
    fn write_pages(storage: &SqliteStorage, pages: i32) -> i32 {
        let mut conn = storage.writer();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS blobs (b BLOB NOT NULL)")
            .unwrap();
        let tx = conn.transaction().unwrap();
        for _ in 0..pages {
            cached_execute(&tx, "INSERT INTO blobs (b) VALUES (zeroblob(4000))", []).unwrap();
        }
        tx.commit().unwrap();
        // Read before the writer is released, which takes it.
        checkpoint::log_pages()
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// A commit that leaves the log long does not copy it into the database file itself: it
    /// leaves a checkpoint due, which the upkeep runs on the writer, after which the next
    /// write starts the log again from the beginning.
    #[test]
    fn a_long_log_is_checkpointed_by_the_upkeep_not_by_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let storage = SqliteStorage::open(&path).unwrap();
        write_pages(&storage, 10);
        assert!(!storage.upkeep_due(), "a short log needs no checkpoint");
        storage.upkeep().unwrap();

        let before = file_len(&path);
        let log = write_pages(&storage, CHECKPOINT_PAGES);
        assert!(log >= CHECKPOINT_PAGES, "{log}");
        assert!(storage.upkeep_due());
        assert!(
            file_len(&path) < before + 100 * 4096,
            "the commit copied the log into the database file ({} bytes, was {before})",
            file_len(&path)
        );

        storage.upkeep().unwrap();
        assert!(!storage.upkeep_due());
        assert!(
            file_len(&path) >= before + u64::try_from(CHECKPOINT_PAGES).unwrap() * 4000,
            "the upkeep did not copy the log ({} bytes, was {before})",
            file_len(&path)
        );
        let wal = dir.path().join("server.db-wal");
        let wal_len = file_len(&wal);
        let restarted = write_pages(&storage, 3);
        assert!(restarted < 10, "the log did not restart: {restarted} pages");
        assert_eq!(
            file_len(&wal),
            wal_len,
            "the log file grew instead of restarting"
        );
        assert!(!storage.upkeep_due());
        // Nothing due: the upkeep does nothing.
        storage.upkeep().unwrap();
        assert_eq!(count_blobs(&storage), i64::from(10 + CHECKPOINT_PAGES + 3));
    }

    /// When no upkeep runs, the writer checkpoints in the commit that takes the log to the
    /// backstop, so the log stays bounded.
    #[test]
    fn without_upkeep_the_commit_at_the_backstop_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let storage = SqliteStorage::open(&path).unwrap();
        let mut written = 0;
        while written < checkpoint::BACKSTOP_PAGES - CHECKPOINT_PAGES {
            let log = write_pages(&storage, CHECKPOINT_PAGES);
            written += CHECKPOINT_PAGES;
            assert!(
                log >= written,
                "{log} < {written}: the log was checkpointed early"
            );
            assert!(storage.upkeep_due());
        }
        let before = file_len(&path);
        let log = write_pages(&storage, CHECKPOINT_PAGES);
        assert_eq!(log, 0, "the commit at the backstop checkpoints");
        assert!(file_len(&path) >= before + 9 * u64::try_from(CHECKPOINT_PAGES).unwrap() * 4000);
        let restarted = write_pages(&storage, 3);
        assert!(restarted < 10, "the log did not restart: {restarted} pages");
        assert_eq!(
            count_blobs(&storage),
            i64::from(checkpoint::BACKSTOP_PAGES + 3)
        );
    }

    fn count_blobs(storage: &SqliteStorage) -> i64 {
        storage
            .reader()
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .unwrap()
    }
}
