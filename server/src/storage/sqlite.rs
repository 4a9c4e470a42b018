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
//! Every query filters on `org_id` where the table has one; the schema is in `schema.rs`.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use zeroize::Zeroizing;

use super::checkpoint::{self, CHECKPOINT_PAGES};
use super::schema;
use super::sqlite_approvals;
use super::sqlite_attachments;
use super::{
    ApprovalDecision, ApprovalKey, ApprovalState, AuditEntry, ChainHead, CodeOutcome, Correction,
    DeviceRow, EnrollOutcome, ItemBatch, ItemDecision, ItemKey, ItemState, NewDevice, NewOrg,
    NewToken, OrgRow, PublishOutcome, PunchFilter, PunchStatus, Storage, StorageError,
    StoredChange, StoredItem, StoredPolicy, StoredPunch, StoredRequest,
};

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

/// Maps a SQLite error: lock contention is [`StorageError::Busy`], the rest is a database
/// error.
pub(crate) fn map_err(e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StorageError::Busy
        }
        _ => StorageError::Database(e.to_string()),
    }
}

/// `query_row` through the connection's prepared-statement cache (statements of the push
/// path run once per item).
fn cached_row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// Every row of a query through the prepared-statement cache: each read by `columns` (plain
/// column reads), then turned into its record by `convert` (the checks that can fail with a
/// storage error, such as a time out of range).
pub(super) fn cached_rows<C, T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    columns: impl FnMut(&Row<'_>) -> rusqlite::Result<C>,
    convert: impl FnMut(C) -> Result<T, StorageError>,
) -> Result<Vec<T>, StorageError> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params, columns)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    rows.into_iter().map(convert).collect()
}

/// `execute` through the connection's prepared-statement cache.
fn cached_execute<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn time(ms: i64) -> Result<DateTime<Utc>, StorageError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StorageError::Corrupt(format!("time {ms} ms is out of range")))
}

fn unsigned(v: i64, what: &str) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("{what} is negative: {v}")))
}

fn signed(v: u64) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::Conflict(format!("{v} is too large to store")))
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

type DeviceColumns = (
    String,
    String,
    String,
    Vec<u8>,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

const DEVICE_COLUMNS: &str = "d.id, d.org_id, d.employee_id, d.public_key, d.name, d.platform, \
                              d.enrolled_ms, d.head_seq, d.head_hash, d.head_punch_id";

fn device_columns(r: &Row<'_>) -> rusqlite::Result<DeviceColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn device_row(c: DeviceColumns) -> Result<DeviceRow, StorageError> {
    let (id, org_id, employee_id, key, name, platform, enrolled, seq, hash, punch) = c;
    let public_key = <[u8; 32]>::try_from(key.as_slice())
        .map_err(|_| StorageError::Corrupt(format!("device {id}: public key is not 32 bytes")))?;
    let head = match (seq, hash, punch) {
        (Some(seq), Some(hash), Some(punch_id)) => Some(ChainHead {
            seq: unsigned(seq, "head_seq")?,
            hash,
            punch_id,
        }),
        (None, None, None) => None,
        _ => {
            return Err(StorageError::Corrupt(format!(
                "device {id}: incomplete chain head"
            )));
        }
    };
    Ok(DeviceRow {
        id,
        org_id,
        employee_id,
        public_key,
        name,
        platform,
        enrolled_at: time(enrolled)?,
        head,
    })
}

type OrgColumns = (String, String, Vec<u8>, String, i64);

fn org_columns(r: &Row<'_>) -> rusqlite::Result<OrgColumns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn org_row((id, name, seed, public_key, created): OrgColumns) -> Result<OrgRow, StorageError> {
    let seed = Zeroizing::new(seed);
    let seed = <[u8; 32]>::try_from(seed.as_slice())
        .map_err(|_| StorageError::Corrupt(format!("org {id}: signing key is not 32 bytes")))?;
    Ok(OrgRow {
        id,
        name,
        signing_seed: Zeroizing::new(seed),
        public_key,
        created_at: time(created)?,
    })
}

fn policy_row(
    org_id: &str,
    (version, document, signature, published): (i64, String, String, i64),
) -> Result<StoredPolicy, StorageError> {
    Ok(StoredPolicy {
        org_id: org_id.to_string(),
        version: unsigned(version, "policy version")?,
        document,
        signature,
        published_at: time(published)?,
    })
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

    fn read_device(
        conn: &Connection,
        sql_where: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Option<DeviceRow>, StorageError> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM device d {sql_where}");
        cached_row(conn, &sql, args, device_columns)
            .optional()
            .map_err(map_err)?
            .map(device_row)
            .transpose()
    }

    /// The body of [`ItemBatch::apply`] inside its savepoint `tx`; the caller commits.
    /// `cached` is the device's chain as the batch's previous item left it, if that item was
    /// this device's; the result is the chain as this item leaves it.
    fn apply_item_on(
        tx: &Connection,
        key: &ItemKey<'_>,
        cached: Option<DeviceChain>,
        judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
    ) -> Result<(ItemDecision, DeviceChain), StorageError> {
        let existing = read_item(tx, key.org_id, key.item_id)?;
        let chain = match cached {
            Some(chain) if chain.device_id == key.device_id && chain.org_id == key.org_id => chain,
            _ => Self::read_chain(tx, key)?,
        };
        let nonce_used = match key.nonce {
            Some(nonce) => cached_row(
                tx,
                "SELECT EXISTS (SELECT 1 FROM face_nonce WHERE org_id = ?1 AND nonce = ?2)",
                params![key.org_id, nonce],
                |r| r.get(0),
            )
            .map_err(map_err)?,
            None => false,
        };
        let mut state = ItemState {
            existing,
            head: chain.head,
            head_record: chain.head_record,
            head_judged_at: chain.head_judged_at,
            enrolled_at: chain.enrolled_at,
            nonce_used,
        };
        let decision = judge(&state);
        if let ItemDecision::Store(punch) = &decision {
            let received = ms(punch.received_at);
            cached_execute(tx, "INSERT INTO item (org_id, item_id, device_id, kind, body_hash, status, code, message, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", params![
                    key.org_id,
                    key.item_id,
                    key.device_id,
                    key.kind.as_str(),
                    key.body_hash,
                    punch.status.as_str(),
                    punch.code,
                    punch.message,
                    received
                ],
            )
            .map_err(map_err)?;
            cached_execute(tx, "INSERT INTO punch (org_id, punch_id, device_id, seq, hash, employee_id, kind, record,
                   status, code, server_verdict, policy_version, judged_ms, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)", params![
                    key.org_id,
                    key.item_id,
                    key.device_id,
                    signed(punch.seq)?,
                    punch.hash,
                    punch.employee_id,
                    punch.kind,
                    punch.record,
                    punch.status.as_str(),
                    punch.code,
                    punch.server_verdict,
                    signed(punch.policy_version)?,
                    ms(punch.judged_at),
                    received
                ],
            )
            .map_err(map_err)?;
            cached_execute(
                tx,
                "UPDATE device SET head_seq = ?2, head_hash = ?3, head_punch_id = ?4 WHERE id = ?1",
                params![key.device_id, signed(punch.seq)?, punch.hash, key.item_id],
            )
            .map_err(map_err)?;
            if punch.consume_nonce
                && let Some(nonce) = key.nonce
            {
                cached_execute(tx, "INSERT INTO face_nonce (org_id, nonce, punch_id, used_ms) VALUES (?1, ?2, ?3, ?4)", params![key.org_id, nonce, key.item_id, received],
                )
                .map_err(map_err)?;
            }
            cached_execute(
                tx,
                "INSERT INTO change (org_id, device_id, body, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![key.org_id, key.device_id, punch.change, received],
            )
            .map_err(map_err)?;
            state.head = Some(ChainHead {
                seq: punch.seq,
                hash: punch.hash.clone(),
                punch_id: key.item_id.to_string(),
            });
            state.head_record = Some(punch.record.clone());
            // As read back from the table: to the millisecond.
            state.head_judged_at = Some(time(ms(punch.judged_at))?);
        }
        let chain = DeviceChain {
            device_id: key.device_id.to_string(),
            org_id: key.org_id.to_string(),
            head: state.head,
            head_record: state.head_record,
            head_judged_at: state.head_judged_at,
            enrolled_at: state.enrolled_at,
        };
        Ok((decision, chain))
    }

    /// A device's chain from the database.
    fn read_chain(tx: &Connection, key: &ItemKey<'_>) -> Result<DeviceChain, StorageError> {
        let device = Self::read_device(
            tx,
            "WHERE d.id = ?1 AND d.org_id = ?2",
            &[&key.device_id, &key.org_id],
        )?
        .ok_or_else(|| StorageError::Conflict(format!("no device {:?}", key.device_id)))?;
        let (head_record, head_judged_at) = match &device.head {
            Some(head) => {
                let (record, judged): (String, i64) = cached_row(
                    tx,
                    "SELECT record, judged_ms FROM punch WHERE org_id = ?1 AND punch_id = ?2",
                    params![key.org_id, head.punch_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(map_err)?;
                (Some(record), Some(time(judged)?))
            }
            None => (None, None),
        };
        Ok(DeviceChain {
            device_id: device.id,
            org_id: device.org_id,
            head: device.head,
            head_record,
            head_judged_at,
            enrolled_at: device.enrolled_at,
        })
    }
}

/// What judging a device's next punch needs from the database: its chain head (with the head
/// record and when it was judged) and its enrolment time. A push batch keeps the chain as its
/// last item left it, because the next item is nearly always the same device's.
#[derive(Debug, Clone, PartialEq)]
struct DeviceChain {
    device_id: String,
    org_id: String,
    head: Option<ChainHead>,
    head_record: Option<String>,
    head_judged_at: Option<DateTime<Utc>>,
    enrolled_at: DateTime<Utc>,
}

/// The ledger entry of an item id, if it was seen before.
fn read_item(
    conn: &Connection,
    org_id: &str,
    item_id: &str,
) -> Result<Option<StoredItem>, StorageError> {
    let tx = conn;
    let key = (org_id, item_id);
    let existing = cached_row(
        tx,
        "SELECT device_id, body_hash, status, code, message FROM item
                 WHERE org_id = ?1 AND item_id = ?2",
        params![key.0, key.1],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        },
    )
    .optional()
    .map_err(map_err)?
    .map(|(device_id, body_hash, status, code, message)| {
        Ok::<_, StorageError>(StoredItem {
            device_id,
            body_hash,
            status: PunchStatus::parse(&status)
                .ok_or_else(|| StorageError::Corrupt(format!("item status {status:?}")))?,
            code,
            message,
        })
    })
    .transpose()?;
    Ok(existing)
}

/// A push request's transaction on the writer connection; every item runs in its own
/// savepoint, released into the transaction when it succeeds and rolled back when it fails.
struct SqliteBatch<'c> {
    tx: rusqlite::Transaction<'c>,
    /// The chain of the device whose item was applied last, as the transaction has it now.
    chain: Option<DeviceChain>,
}

impl ItemBatch for SqliteBatch<'_> {
    fn apply(
        &mut self,
        key: &ItemKey<'_>,
        judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
    ) -> Result<ItemDecision, StorageError> {
        // Taken out for the item: if it fails and rolls back, the next item reads afresh.
        let cached = self.chain.take();
        let savepoint = ItemSavepoint::open(&self.tx)?;
        let (decision, chain) = SqliteStorage::apply_item_on(&self.tx, key, cached, judge)?;
        savepoint.release()?;
        self.chain = Some(chain);
        Ok(decision)
    }

    fn apply_approval(
        &mut self,
        key: &ApprovalKey<'_>,
        judge: &mut dyn FnMut(&ApprovalState) -> ApprovalDecision,
    ) -> Result<ApprovalDecision, StorageError> {
        self.chain = None;
        let savepoint = ItemSavepoint::open(&self.tx)?;
        let existing = read_item(&self.tx, key.org_id, key.item_id)?;
        let decision = sqlite_approvals::apply_approval_on(&self.tx, key, existing, judge)?;
        savepoint.release()?;
        Ok(decision)
    }
}

/// One item's savepoint, opened and released through cached statements (a push runs one per
/// item, and parsing `SAVEPOINT` afresh each time showed in profiles). Dropped without
/// [`ItemSavepoint::release`], it rolls the item back and leaves the transaction as it was.
struct ItemSavepoint<'c> {
    conn: &'c Connection,
    released: bool,
}

impl<'c> ItemSavepoint<'c> {
    fn open(conn: &'c Connection) -> Result<ItemSavepoint<'c>, StorageError> {
        cached_execute(conn, "SAVEPOINT item", []).map_err(map_err)?;
        Ok(ItemSavepoint {
            conn,
            released: false,
        })
    }

    fn release(mut self) -> Result<(), StorageError> {
        cached_execute(self.conn, "RELEASE item", []).map_err(map_err)?;
        self.released = true;
        Ok(())
    }
}

impl Drop for ItemSavepoint<'_> {
    fn drop(&mut self) {
        if !self.released {
            // Rolling back to a savepoint takes no new lock and does not fail in practice;
            // like rusqlite's own savepoint guard, a drop has nowhere to report an error.
            let _ = self.conn.execute_batch("ROLLBACK TO item; RELEASE item;");
        }
    }
}

impl Storage for SqliteStorage {
    fn org(&self, org_id: &str) -> Result<Option<OrgRow>, StorageError> {
        self.reader()
            .query_row(
                "SELECT id, name, signing_seed, public_key, created_ms FROM org WHERE id = ?1",
                [org_id],
                org_columns,
            )
            .optional()
            .map_err(map_err)?
            .map(org_row)
            .transpose()
    }

    fn org_by_admin_token(&self, token_hash: &str) -> Result<Option<OrgRow>, StorageError> {
        self.reader()
            .query_row(
                "SELECT id, name, signing_seed, public_key, created_ms FROM org WHERE admin_token_hash = ?1",
                [token_hash],
                org_columns,
            )
            .optional()
            .map_err(map_err)?
            .map(org_row)
            .transpose()
    }

    fn create_org(&self, org: &NewOrg) -> Result<(), StorageError> {
        let conn = self.writer();
        let exists: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM org WHERE id = ?1 OR admin_token_hash = ?2)",
                params![org.id, org.admin_token_hash],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        if exists {
            return Err(StorageError::Conflict(format!(
                "organisation {:?} or its admin token exists already",
                org.id
            )));
        }
        conn.execute(
            "INSERT INTO org (id, name, admin_token_hash, signing_seed, public_key, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                org.id,
                org.name,
                org.admin_token_hash,
                org.signing_seed.as_slice(),
                org.public_key,
                ms(org.created_at)
            ],
        )
        .map_err(map_err)?;
        Ok(())
    }

    fn update_org(
        &self,
        org_id: &str,
        name: &str,
        admin_token_hash: &str,
    ) -> Result<bool, StorageError> {
        let conn = self.writer();
        let taken: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM org WHERE admin_token_hash = ?1 AND id != ?2)",
                params![admin_token_hash, org_id],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        if taken {
            return Err(StorageError::Conflict(format!(
                "the admin token of organisation {org_id:?} is another organisation's"
            )));
        }
        let changed = conn
            .execute(
                "UPDATE org SET name = ?2, admin_token_hash = ?3
                 WHERE id = ?1 AND (name != ?2 OR admin_token_hash != ?3)",
                params![org_id, name, admin_token_hash],
            )
            .map_err(map_err)?;
        Ok(changed > 0)
    }

    fn publish_policy(
        &self,
        policy: &StoredPolicy,
        change: &str,
    ) -> Result<PublishOutcome, StorageError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let current: Option<i64> = tx
            .query_row(
                "SELECT MAX(version) FROM policy WHERE org_id = ?1",
                [&policy.org_id],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        let version = signed(policy.version)?;
        if let Some(current) = current
            && current >= version
        {
            return Ok(PublishOutcome::NotNewer {
                current: unsigned(current, "policy version")?,
            });
        }
        tx.execute(
            "INSERT INTO policy (org_id, version, document, signature, published_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                policy.org_id,
                version,
                policy.document,
                policy.signature,
                ms(policy.published_at)
            ],
        )
        .map_err(map_err)?;
        tx.execute(
            "INSERT INTO change (org_id, device_id, body, created_ms) VALUES (?1, NULL, ?2, ?3)",
            params![policy.org_id, change, ms(policy.published_at)],
        )
        .map_err(map_err)?;
        let devices: i64 = tx
            .query_row(
                "SELECT count(*) FROM device WHERE org_id = ?1",
                [&policy.org_id],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(PublishOutcome::Published {
            devices: unsigned(devices, "device count")?,
        })
    }

    fn current_policy(&self, org_id: &str) -> Result<Option<StoredPolicy>, StorageError> {
        self.reader()
            .query_row(
                "SELECT version, document, signature, published_ms FROM policy
                 WHERE org_id = ?1 ORDER BY version DESC LIMIT 1",
                [org_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(map_err)?
            .map(|row| policy_row(org_id, row))
            .transpose()
    }

    fn policy(&self, org_id: &str, version: u64) -> Result<Option<StoredPolicy>, StorageError> {
        let Ok(v) = i64::try_from(version) else {
            return Ok(None);
        };
        self.reader()
            .query_row(
                "SELECT version, document, signature, published_ms FROM policy
                 WHERE org_id = ?1 AND version = ?2",
                params![org_id, v],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(map_err)?
            .map(|row| policy_row(org_id, row))
            .transpose()
    }

    fn add_enrollment_code(
        &self,
        org_id: &str,
        code_hash: &str,
        employee_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CodeOutcome, StorageError> {
        let conn = self.writer();
        let existing: Option<(String, String)> = conn
            .query_row(
                "SELECT org_id, employee_id FROM enrollment_code WHERE code_hash = ?1",
                [code_hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(map_err)?;
        match existing {
            Some((org, employee)) if org == org_id && employee == employee_id => {
                Ok(CodeOutcome::AlreadyPresent)
            }
            Some(_) => Ok(CodeOutcome::Taken),
            None => {
                conn.execute(
                    "INSERT INTO enrollment_code (code_hash, org_id, employee_id, created_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![code_hash, org_id, employee_id, ms(now)],
                )
                .map_err(map_err)?;
                Ok(CodeOutcome::Added)
            }
        }
    }

    fn enroll(
        &self,
        code_hash: &str,
        device: &NewDevice,
        token: &NewToken,
    ) -> Result<EnrollOutcome, StorageError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let code: Option<(String, String, Option<i64>)> = tx
            .query_row(
                "SELECT org_id, employee_id, used_ms FROM enrollment_code WHERE code_hash = ?1",
                [code_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(map_err)?;
        let (org_id, employee_id) = match code {
            None => return Ok(EnrollOutcome::UnknownCode),
            Some((_, _, Some(_))) => return Ok(EnrollOutcome::CodeUsed),
            Some((org, employee, None)) => (org, employee),
        };
        let key_used: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM device WHERE public_key = ?1)",
                [device.public_key.as_slice()],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        if key_used {
            return Ok(EnrollOutcome::KeyInUse);
        }
        let floor: i64 = tx
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM change", [], |r| r.get(0))
            .map_err(map_err)?;
        tx.execute(
            "INSERT INTO device (id, org_id, employee_id, public_key, name, platform, enrolled_ms, change_floor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                device.id,
                org_id,
                employee_id,
                device.public_key.as_slice(),
                device.name,
                device.platform,
                ms(device.enrolled_at),
                floor
            ],
        )
        .map_err(map_err)?;
        tx.execute(
            "UPDATE enrollment_code SET used_ms = ?2, device_id = ?3 WHERE code_hash = ?1",
            params![code_hash, ms(device.enrolled_at), device.id],
        )
        .map_err(map_err)?;
        tx.execute(
            "INSERT INTO token (token_hash, device_id, issued_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![token.hash, device.id, ms(token.issued_at), ms(token.expires_at)],
        )
        .map_err(map_err)?;
        let row = Self::read_device(&tx, "WHERE d.id = ?1", &[&device.id])?
            .ok_or_else(|| StorageError::Corrupt("the new device did not read back".into()))?;
        tx.commit().map_err(map_err)?;
        Ok(EnrollOutcome::Enrolled {
            device: Box::new(row),
        })
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRow>, StorageError> {
        Self::read_device(&self.reader(), "WHERE d.id = ?1", &[&device_id])
    }

    fn device_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceRow>, StorageError> {
        Self::read_device(
            &self.reader(),
            "JOIN token t ON t.device_id = d.id WHERE t.token_hash = ?1 AND t.expires_ms > ?2",
            &[&token_hash, &ms(now)],
        )
    }

    fn replace_token(&self, device_id: &str, token: &NewToken) -> Result<(), StorageError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        tx.execute("DELETE FROM token WHERE device_id = ?1", [device_id])
            .map_err(map_err)?;
        tx.execute(
            "INSERT INTO token (token_hash, device_id, issued_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![token.hash, device_id, ms(token.issued_at), ms(token.expires_at)],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    fn devices(&self, org_id: &str) -> Result<Vec<DeviceRow>, StorageError> {
        cached_rows(
            &self.reader(),
            &format!(
                "SELECT {DEVICE_COLUMNS} FROM device d WHERE d.org_id = ?1 ORDER BY d.enrolled_ms, d.id"
            ),
            [org_id],
            device_columns,
            device_row,
        )
    }

    fn apply_batch(
        &self,
        work: &mut dyn FnMut(&mut dyn ItemBatch) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let mut batch = SqliteBatch { tx, chain: None };
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
        let conn = self.reader();
        let mut stmt = conn
            .prepare(
                "SELECT c.seq, c.body FROM change c
                 JOIN device d ON d.id = ?2 AND d.org_id = ?1
                 WHERE c.org_id = ?1 AND c.seq > ?3
                   AND (c.device_id = ?2 OR (c.device_id IS NULL AND c.seq > d.change_floor))
                 ORDER BY c.seq LIMIT ?4",
            )
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![org_id, device_id, after, limit], |r| {
                Ok(StoredChange {
                    seq: r.get(0)?,
                    body: r.get(1)?,
                })
            })
            .map_err(map_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err)?;
        Ok(rows)
    }

    fn punches(
        &self,
        org_id: &str,
        filter: &PunchFilter,
    ) -> Result<Vec<StoredPunch>, StorageError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare(
                "SELECT p.row, p.punch_id, p.device_id, p.employee_id, p.seq, p.kind, p.status, p.code,
                        p.server_verdict, p.policy_version, p.judged_ms, p.received_ms, r.outcome
                 FROM punch p
                 LEFT JOIN punch_review r ON r.org_id = p.org_id AND r.punch_id = p.punch_id
                 WHERE p.org_id = ?1 AND (?2 IS NULL OR p.device_id = ?2)
                   AND (?3 IS NULL OR p.status = ?3) AND p.row > ?4
                 ORDER BY p.row LIMIT ?5",
            )
            .map_err(map_err)?;
        type Columns = (
            i64,
            String,
            String,
            String,
            i64,
            String,
            String,
            Option<String>,
            String,
            i64,
            i64,
            i64,
            Option<String>,
        );
        let rows = stmt
            .query_map(
                params![
                    org_id,
                    filter.device_id,
                    filter.status.map(PunchStatus::as_str),
                    filter.after,
                    filter.limit
                ],
                |r| {
                    Ok::<Columns, _>((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                        r.get(12)?,
                    ))
                },
            )
            .map_err(map_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err)?;
        rows.into_iter()
            .map(|c| {
                Ok(StoredPunch {
                    row: c.0,
                    punch_id: c.1,
                    device_id: c.2,
                    employee_id: c.3,
                    seq: unsigned(c.4, "seq")?,
                    kind: c.5,
                    status: PunchStatus::parse(&c.6)
                        .ok_or_else(|| StorageError::Corrupt(format!("punch status {:?}", c.6)))?,
                    code: c.7,
                    server_verdict: c.8,
                    policy_version: unsigned(c.9, "policy version")?,
                    judged_at: time(c.10)?,
                    received_at: time(c.11)?,
                    review: c.12,
                })
            })
            .collect()
    }

    fn chain_records(&self, org_id: &str, device_id: &str) -> Result<Vec<String>, StorageError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare("SELECT record FROM punch WHERE org_id = ?1 AND device_id = ?2 ORDER BY seq")
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![org_id, device_id], |r| r.get(0))
            .map_err(map_err)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(map_err)?;
        Ok(rows)
    }

    fn request(
        &self,
        org_id: &str,
        request_id: &str,
    ) -> Result<Option<StoredRequest>, StorageError> {
        sqlite_approvals::read_request(&self.reader(), org_id, request_id)
    }

    fn audit(&self, org_id: &str, request_id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        sqlite_approvals::audit(&self.reader(), org_id, request_id)
    }

    fn inbox(&self, org_id: &str, employee_id: &str) -> Result<Vec<StoredRequest>, StorageError> {
        sqlite_approvals::requests(
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
        sqlite_approvals::requests(
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
        sqlite_approvals::read_movements(&self.reader(), org_id, employee_id)
    }

    fn corrections(
        &self,
        org_id: &str,
        employee_id: &str,
    ) -> Result<Vec<Correction>, StorageError> {
        sqlite_approvals::corrections(&self.reader(), org_id, employee_id)
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
        if sqlite_attachments::exists(&self.reader(), org_id, sha256)? {
            return Ok(false);
        }
        sqlite_attachments::put(
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
        sqlite_attachments::read(&self.reader(), org_id, sha256)
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
        use crate::storage::{Answer, NewPunch};
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
        let device = SqliteStorage::read_device(&storage.writer(), "WHERE d.id = ?1", &[&"a"])
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
