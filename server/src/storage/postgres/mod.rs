//! [`Storage`] on a PostgreSQL database, for running several server instances behind one
//! database (see `docs/server.md`, "Running on PostgreSQL").
//!
//! Driver: the blocking `postgres` client (sfackler's synchronous wrapper over
//! `tokio-postgres`) in an `r2d2` pool (`r2d2_postgres`). The [`Storage`] trait is synchronous
//! and the HTTP layer already calls it from `spawn_blocking`, so a blocking client fits it
//! without a second runtime handle threaded through every call; the pool bounds the
//! connections one instance opens ([`PostgresOptions::pool_size`]). Each client drives its
//! connection on a small runtime of its own, which must not be dropped on an async thread:
//! [`PostgresStorage`] drops its pool on a plain thread.
//!
//! TLS to the database is rustls (`tls.rs`), with libpq's `sslmode` (`disable` to
//! `verify-full`) and `sslrootcert`, which `conninfo.rs` takes out of the connection string
//! before the `postgres` crate reads the rest.
//!
//! Every method is one transaction at `READ COMMITTED`. What the SQLite storage gets from its
//! single writer, this one gets from the database, so that instances sharing it keep the
//! guarantees:
//!
//! * a device's chain stays linear: applying a punch locks the device row (`FOR UPDATE`)
//!   before it reads the chain head;
//! * the item ledger: an item id is inserted with `ON CONFLICT DO NOTHING`; the loser of a
//!   race rolls its item back and is judged again against the winner's entry (`duplicate`);
//!   a face nonce is consumed under its unique key the same way;
//! * the change feed: change and punch rows take their sequence number only after the
//!   transaction takes the feed's advisory lock, held until commit, so numbers commit in
//!   order and a reader never sees change N+1 before change N (a device never skips one);
//! * approval decisions: an advisory lock per request orders the items on one request;
//! * enrolment codes: the code row is locked (`FOR UPDATE`) before it is checked and used.
//!
//! Serialization failures, deadlocks and lock waits past the lock timeout are
//! [`StorageError::Busy`]; a lost connection or a database that cannot be reached is
//! [`StorageError::Unavailable`]: both are retryable, answered 503 with `Retry-After`.
//!
//! The files mirror the SQLite storage's (`../sqlite/`), one per group of tables, and read
//! rows into the SQLite storage's column structs, so that a row is checked into the storage's
//! types by one piece of code whatever the backend:
//!
//! * `conninfo.rs`, `tls.rs`: the connection string's TLS parameters and what they check;
//! * `sql.rs`: error mapping, statement helpers, advisory locks;
//! * `slots.rs`: at most one write transaction fewer than the pooled connections, so that a
//!   write reading through the storage always finds a connection;
//! * `schema.rs`: the schema as code, `schema_version` and the migration lock;
//! * `orgs.rs`, `devices.rs`, `items.rs`, `punches.rs`, `changes.rs`, `approvals.rs`,
//!   `attachments.rs`, `attendance.rs`, `console.rs`, `console_admin.rs`, `policy_drafts.rs`:
//!   the tables, as in the SQLite storage;
//! * `deferred.rs`: a push's punches with their reads done ahead and their writes at its end
//!   (about a dozen statements for a hundred punches), and what makes it fall back to item by
//!   item.

mod approvals;
mod attachments;
mod attendance;
mod changes;
mod conninfo;
mod console;
mod console_admin;
mod deferred;
mod devices;
mod items;
mod orgs;
mod policy_drafts;
mod punches;
pub(crate) mod schema;
mod slots;
mod sql;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use r2d2_postgres::postgres::{self, Client, Transaction};
use r2d2_postgres::{PostgresConnectionManager, r2d2};
use sql::{Prepared, Statements};

use super::{Answer, ApprovalKey, ApprovalState, ConsoleSigner, ConsoleWrite};
use super::{ApiTokenRow, ConsoleAuditQuery};
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
use sql::map_err;

pub use schema::SCHEMA_VERSION;
pub use tls::{DbTls, DbTlsError, TlsMode};

/// Connections a storage keeps at most, by default.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// Whether `db` names a PostgreSQL database (a `postgres://` or `postgresql://` URL) rather
/// than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// How [`PostgresStorage::open`] connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections open at once (default [`DEFAULT_POOL_SIZE`], at least 2); a call
    /// waits for a free one up to `connect_timeout`, then fails [`StorageError::Busy`]. Write
    /// transactions take at most one fewer, so that one is left for the reads a write makes
    /// while its transaction is open.
    pub pool_size: u32,
    /// Longest wait for a connection, new or from the pool (default 10 s).
    pub connect_timeout: Duration,
    /// Longest wait for a lock another transaction holds (PostgreSQL's `lock_timeout`),
    /// past which a call fails [`StorageError::Busy`] (default: the SQLite busy timeout, 2 s).
    pub lock_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: Duration::from_secs(10),
            lock_timeout: super::sqlite::DEFAULT_BUSY_TIMEOUT,
        }
    }
}

type Pool = r2d2::Pool<Manager>;

/// A pooled connection and the statements prepared on it (see [`Statements`]).
struct Pooled {
    client: Client,
    statements: Statements,
}

/// The pool's connection manager: `r2d2_postgres`'s, each connection with an empty statement
/// cache of its own, counting into the storage's count of statements run.
struct Manager {
    postgres: PostgresConnectionManager<tls::Connector>,
    runs: Arc<AtomicU64>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Pooled, postgres::Error> {
        Ok(Pooled {
            client: self.postgres.connect()?,
            statements: Statements::counting(self.runs.clone()),
        })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), postgres::Error> {
        self.postgres.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        self.postgres.has_broken(&mut conn.client)
    }
}

/// The PostgreSQL storage.
pub struct PostgresStorage {
    /// Taken only by `drop`.
    pool: Option<Pool>,
    /// Write transactions at once: one fewer than the pool's connections.
    writes: slots::WriteSlots,
    /// The URL without its password, for logs.
    target: String,
    /// Statements run on the pool's connections.
    runs: Arc<AtomicU64>,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStorage {
    fn drop(&mut self) {
        // Each client owns a runtime, which tokio refuses to drop on an async thread.
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// A database URL with its password replaced by `***`, for messages and logs. A URL that does
/// not parse keeps its text, except what stands between the `:` after the user name and the
/// last `@` before the host.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) if !is_postgres_url(url) => conninfo::redact_key_value(url)
            .unwrap_or_else(|| "(unparsable connection string)".into()),
        Err(_) => redact_text(url),
    }
}

/// [`redact`] of a URL that does not parse: `scheme://user:SECRET@rest` → `scheme://user:***@rest`.
/// The secret ends at the last `@` (hiding too much rather than too little).
fn redact_text(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// How to connect to one database: the `postgres` crate's settings and the TLS connector.
pub(crate) struct ConnectTo {
    /// Host, port, user, database, `sslmode` as the crate knows it, timeouts.
    pub(crate) config: postgres::Config,
    /// The URL's TLS settings, checked.
    pub(crate) tls: DbTls,
    /// Their rustls connector.
    pub(crate) connector: tls::Connector,
    /// The URL without its password, for messages.
    pub(crate) target: String,
}

impl ConnectTo {
    /// One connection. A certificate the URL's TLS settings refuse is
    /// [`StorageError::Database`] (a setting to fix: trying again will not help), saying
    /// what was checked; any other failure to connect is [`StorageError::Unavailable`].
    pub(crate) fn connect(&self) -> Result<Client, StorageError> {
        self.config
            .connect(self.connector.clone())
            .map_err(|e| self.connect_error(&e))
    }

    fn connect_error(&self, e: &postgres::Error) -> StorageError {
        let target = &self.target;
        let text = tls::chain(e);
        match tls::refused_certificate(e, &self.tls) {
            Some(hint) => {
                StorageError::Database(format!("cannot connect to {target}: {hint}: {text}"))
            }
            None => StorageError::Unavailable(format!("cannot connect to {target}: {text}")),
        }
    }
}

/// The connection settings of `url` with `options`' timeouts: a URL that does not parse, or
/// whose TLS settings cannot be used, is refused naming it (its password hidden) and the
/// parameter at fault.
pub(crate) fn connect_config(
    url: &str,
    options: &PostgresOptions,
) -> Result<ConnectTo, StorageError> {
    let target = redact(url);
    let refused = |e: DbTlsError| StorageError::Database(format!("database URL {target}: {e}"));
    let (rest, params) = conninfo::split(url).map_err(refused)?;
    let tls = DbTls::from_params(&params).map_err(refused)?;
    let mut config: postgres::Config = rest.parse().map_err(|e: postgres::Error| {
        StorageError::Database(format!(
            "database URL {target} does not parse: {}",
            tls::chain(&e)
        ))
    })?;
    config.ssl_mode(tls.mode.ssl_mode());
    let connector = tls.connector().map_err(refused)?;
    let lock_ms = options.lock_timeout.as_millis().max(1);
    config.options(format!("-c lock_timeout={lock_ms}").as_str());
    config.connect_timeout(options.connect_timeout);
    Ok(ConnectTo {
        config,
        tls,
        connector,
        target,
    })
}

/// One connection to the database at `url`, with its TLS settings as
/// [`PostgresStorage::open`] reads them, outside any pool: for tools and checks. Blocking,
/// and the client must be dropped on a plain thread (not an async one).
pub fn connect(url: &str) -> Result<Client, StorageError> {
    connect_config(url, &PostgresOptions::default())?.connect()
}

/// Whether `url` is a database URL this build can connect with: an error naming it (its
/// password hidden) when it does not parse or asks for TLS. Nothing is connected.
pub fn check_url(url: &str) -> Result<(), StorageError> {
    connect_config(url, &PostgresOptions::default()).map(drop)
}

/// The schema version of the database at `url`, without changing it: 0 when it holds no
/// daka schema. For tools that must not create or upgrade the schema (`daka verify-chains`).
pub fn schema_version_at(url: &str) -> Result<i64, StorageError> {
    let mut client = connect(url)?;
    schema::version(&mut client)
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?...`, or the
    /// key-value form) and brings its schema up to date, under the migration lock. TLS is as
    /// the URL's `sslmode` and `sslrootcert` ask (see [`tls`]).
    pub fn open(url: &str, options: &PostgresOptions) -> Result<PostgresStorage, StorageError> {
        if options.pool_size < 2 {
            return Err(StorageError::Database(format!(
                "pool_size: {} connection(s); at least 2 are needed (a write reads on a second \
                 connection while its transaction holds the first)",
                options.pool_size
            )));
        }
        let to = connect_config(url, options)?;
        let mut first = to.connect()?;
        schema::migrate(&mut first)?;
        drop(first);
        tracing::info!(database = %to.target, tls = %to.tls.describe(), "connected to PostgreSQL");
        let target = to.target.clone();
        let runs = Arc::new(AtomicU64::new(0));
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(1))
            .connection_timeout(options.connect_timeout)
            .build(Manager {
                postgres: PostgresConnectionManager::new(to.config, to.connector),
                runs: runs.clone(),
            })
            .map_err(|e| StorageError::Unavailable(format!("cannot connect to {target}: {e}")))?;
        Ok(PostgresStorage {
            pool: Some(pool),
            writes: slots::WriteSlots::new(options.pool_size - 1, options.connect_timeout),
            target,
            runs,
        })
    }

    /// How many statements this storage has run since it opened, each one a round trip to
    /// the database (transaction control not counted): what a change to how a request is
    /// applied is measured by.
    pub fn statements_run(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// The database URL, its password hidden.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, StorageError> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| StorageError::Unavailable("the storage is closed".into()))?;
        pool.get().map_err(|e| {
            // A pool without a free connection past the timeout: the database is busy or gone.
            tracing::warn!(error = %e, "no database connection");
            StorageError::Busy
        })
    }

    /// Runs a read on a pooled connection (its own implicit transaction).
    fn read<T>(
        &self,
        f: impl FnOnce(&mut Prepared<'_, Client>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn()?;
        let Pooled { client, statements } = &mut *conn;
        f(&mut Prepared::new(client, statements))
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Prepared<'_, Transaction<'_>>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let _slot = self.writes.take()?;
        let mut conn = self.conn()?;
        let Pooled { client, statements } = &mut *conn;
        let mut tx = client.transaction().map_err(map_err)?;
        let value = f(&mut Prepared::new(&mut tx, statements))?;
        tx.commit().map_err(map_err)?;
        Ok(value)
    }

    /// The schema version the database holds.
    pub fn schema_version(&self) -> Result<i64, StorageError> {
        self.read(|c| schema::version(c))
    }
}

impl Storage for PostgresStorage {
    fn parallel_writes(&self) -> u32 {
        self.pool
            .as_ref()
            .map_or(1, |pool| pool.max_size().saturating_sub(1).max(1))
    }

    fn schema_versions(&self) -> Result<super::SchemaVersions, StorageError> {
        Ok(super::SchemaVersions {
            found: self.schema_version()?,
            expected: SCHEMA_VERSION,
        })
    }

    fn org(&self, org_id: &str) -> Result<Option<OrgRow>, StorageError> {
        self.read(|c| orgs::org(c, org_id))
    }

    fn org_by_admin_token(&self, token_hash: &str) -> Result<Option<OrgRow>, StorageError> {
        self.read(|c| orgs::org_by_admin_token(c, token_hash))
    }

    fn org_ids(&self) -> Result<Vec<String>, StorageError> {
        self.read(|c| orgs::org_ids(c))
    }

    fn create_org(&self, org: &NewOrg) -> Result<(), StorageError> {
        self.write(|tx| orgs::create_org(tx, org))
    }

    fn update_org(
        &self,
        org_id: &str,
        name: &str,
        admin_token_hash: &str,
    ) -> Result<bool, StorageError> {
        self.write(|tx| orgs::update_org(tx, org_id, name, admin_token_hash))
    }

    fn publish_policy(
        &self,
        policy: &StoredPolicy,
        change: &str,
    ) -> Result<PublishOutcome, StorageError> {
        self.write(|tx| orgs::publish_policy(tx, policy, change))
    }

    fn current_policy(&self, org_id: &str) -> Result<Option<StoredPolicy>, StorageError> {
        self.read(|c| orgs::current_policy(c, org_id))
    }

    fn policy(&self, org_id: &str, version: u64) -> Result<Option<StoredPolicy>, StorageError> {
        self.read(|c| orgs::policy(c, org_id, version))
    }

    fn add_enrollment_code(
        &self,
        org_id: &str,
        code_hash: &str,
        employee_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CodeOutcome, StorageError> {
        self.write(|tx| devices::add_enrollment_code(tx, org_id, code_hash, employee_id, now))
    }

    fn enrollment_code(&self, code_hash: &str) -> Result<Option<EnrollmentCodeRow>, StorageError> {
        self.read(|c| devices::enrollment_code(c, code_hash))
    }

    fn enroll(
        &self,
        code_hash: &str,
        device: &NewDevice,
        token: &NewToken,
    ) -> Result<EnrollOutcome, StorageError> {
        self.write(|tx| devices::enroll(tx, code_hash, device, token))
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRow>, StorageError> {
        self.read(|c| devices::device(c, device_id))
    }

    fn device_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceRow>, StorageError> {
        self.read(|c| devices::device_by_token(c, token_hash, now))
    }

    fn refresh_token(
        &self,
        device_id: &str,
        issued_at: DateTime<Utc>,
        token: &NewToken,
    ) -> Result<bool, StorageError> {
        self.write(|tx| devices::refresh_token(tx, device_id, issued_at, token))
    }

    fn devices(&self, org_id: &str) -> Result<Vec<DeviceRow>, StorageError> {
        self.read(|c| devices::devices(c, org_id))
    }

    fn revoke_device(
        &self,
        org_id: &str,
        device_id: &str,
        revocation: &DeviceRevocation,
        audit: &NewConsoleAudit,
    ) -> Result<RevokeOutcome, StorageError> {
        self.write(|tx| devices::revoke_device(tx, org_id, device_id, revocation, audit))
    }

    fn apply_batch(
        &self,
        work: &mut dyn FnMut(&mut dyn ItemBatch) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        // Reads ahead, writes at the end (see `deferred.rs`); on `Err` the transaction is
        // dropped, which rolls it back.
        let mut lost_race = false;
        let deferred = self.write(|tx| {
            let mut batch = items::PgBatch::deferred(tx);
            let applied = work(&mut batch).and_then(|()| batch.finish());
            lost_race = batch.lost_race();
            if lost_race {
                return Err(StorageError::Busy);
            }
            applied
        });
        if !lost_race {
            return deferred;
        }
        // Another transaction took an item id or a face nonce the push had read as free:
        // everything again, each item judged against what is there now.
        tracing::debug!("push applied again item by item after a lost race");
        self.write(|tx| {
            let mut batch = items::PgBatch::item_by_item(tx);
            work(&mut batch)?;
            batch.finish()
        })
    }

    fn changes(
        &self,
        org_id: &str,
        device_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredChange>, StorageError> {
        self.read(|c| changes::changes(c, org_id, device_id, after, limit))
    }

    fn punches(
        &self,
        org_id: &str,
        filter: &PunchFilter,
    ) -> Result<Vec<StoredPunch>, StorageError> {
        self.read(|c| punches::punches(c, org_id, filter))
    }

    fn chain_records(&self, org_id: &str, device_id: &str) -> Result<Vec<String>, StorageError> {
        self.read(|c| punches::chain_records(c, org_id, device_id))
    }

    fn request(
        &self,
        org_id: &str,
        request_id: &str,
    ) -> Result<Option<StoredRequest>, StorageError> {
        self.read(|c| approvals::read_request(c, org_id, request_id))
    }

    fn audit(&self, org_id: &str, request_id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        self.read(|c| approvals::audit(c, org_id, request_id))
    }

    fn inbox(&self, org_id: &str, employee_id: &str) -> Result<Vec<StoredRequest>, StorageError> {
        self.read(|c| {
            approvals::requests(
                c,
                "JOIN request_waiting w ON w.org_id = r.org_id AND w.request_id = r.request_id
                 WHERE r.org_id = $1 AND w.employee_id = $2 ORDER BY r.created_ms",
                &[&org_id, &employee_id],
            )
        })
    }

    fn requests_of(
        &self,
        org_id: &str,
        employee_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredRequest>, StorageError> {
        self.read(|c| {
            approvals::requests(
                c,
                "WHERE r.org_id = $1 AND r.applicant = $2 ORDER BY r.created_ms DESC LIMIT $3",
                &[&org_id, &employee_id, &sql::limit(limit)],
            )
        })
    }

    fn leave_movements(
        &self,
        org_id: &str,
        employee_id: &str,
    ) -> Result<Vec<daka_core::approvals::leave::Movement>, StorageError> {
        self.read(|c| approvals::read_movements(c, org_id, employee_id))
    }

    fn corrections(
        &self,
        org_id: &str,
        employee_id: &str,
    ) -> Result<Vec<Correction>, StorageError> {
        self.read(|c| approvals::corrections(c, org_id, employee_id))
    }

    fn attendance_sources(
        &self,
        org_id: &str,
        employee_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<AttendanceSources, StorageError> {
        // One snapshot for the punches, corrections and requests read together.
        self.write(|tx| {
            tx.client
                .batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .map_err(map_err)?;
            attendance::sources(tx, org_id, employee_id, from, to)
        })
    }

    fn mark_attendance(
        &self,
        mark: &AttendanceMark,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.write(|tx| attendance::insert_mark(tx, mark, now))
    }

    fn attendance_marks(&self, limit: u32) -> Result<Vec<AttendanceMark>, StorageError> {
        self.read(|c| attendance::marks(c, limit))
    }

    fn attendance_days(
        &self,
        org_id: &str,
        employee_id: Option<&str>,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<StoredDay>, StorageError> {
        self.read(|c| attendance::days(c, org_id, employee_id, from, to))
    }

    fn save_attendance(&self, write: &AttendanceWrite) -> Result<AttendanceOutcome, StorageError> {
        self.write(|tx| attendance::save(tx, write))
    }

    fn lock_month(
        &self,
        org_id: &str,
        month: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.write(|tx| attendance::lock(tx, org_id, month, now))
    }

    fn unlock_month(
        &self,
        org_id: &str,
        month: &str,
        days: (chrono::NaiveDate, chrono::NaiveDate),
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.write(|tx| attendance::unlock(tx, org_id, month, days, now))
    }

    fn month_locks(&self, org_id: &str) -> Result<(Vec<MonthLock>, Vec<LockEvent>), StorageError> {
        self.read(|c| attendance::locks(c, org_id))
    }

    fn late_changes(&self, org_id: &str, month: &str) -> Result<Vec<LateChange>, StorageError> {
        self.read(|c| attendance::late_changes(c, org_id, month))
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
        self.write(|tx| attachments::put(tx, org_id, sha256, media_type, content, device_id, now))
    }

    fn attachment(
        &self,
        org_id: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StorageError> {
        self.read(|c| attachments::read(c, org_id, sha256))
    }

    fn apply_console_decision(
        &self,
        key: &ApprovalKey<'_>,
        signer: &ConsoleSigner,
        judge: &mut dyn FnMut(&ApprovalState) -> Result<ConsoleWrite, Answer>,
    ) -> Result<Result<(), Answer>, StorageError> {
        // An answer wrote nothing: committing it is rolling it back.
        self.write(|tx| approvals::apply_console_on(tx, key, signer, judge))
    }

    fn open_requests(&self, org_id: &str) -> Result<Vec<StoredRequest>, StorageError> {
        self.read(|c| {
            approvals::requests(
                c,
                "WHERE r.org_id = $1 AND r.status IN ('pending', 'returned') ORDER BY r.created_ms",
                &[&org_id],
            )
        })
    }

    fn create_console_account(&self, account: &ConsoleAccount) -> Result<bool, StorageError> {
        self.write(|tx| console::create_account(tx, account))
    }

    fn console_accounts_by_email(&self, email: &str) -> Result<Vec<ConsoleAccount>, StorageError> {
        self.read(|c| console::accounts_by_email(c, email))
    }

    fn console_account_by_email(
        &self,
        org_id: &str,
        email: &str,
    ) -> Result<Option<ConsoleAccount>, StorageError> {
        self.read(|c| console::account_by_email(c, org_id, email))
    }

    fn console_account(&self, account_id: &str) -> Result<Option<ConsoleAccount>, StorageError> {
        self.read(|c| console::account(c, account_id))
    }

    fn create_console_session(
        &self,
        session: &ConsoleSessionRow,
        org_id: &str,
    ) -> Result<(), StorageError> {
        self.write(|tx| console::create_session(tx, session, org_id))
    }

    fn console_session(&self, id_hash: &str) -> Result<Option<ConsoleSessionRow>, StorageError> {
        self.read(|c| console::session(c, id_hash))
    }

    fn touch_console_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.write(|tx| console::touch_session(tx, id_hash, now))
    }

    fn end_console_session(&self, id_hash: &str) -> Result<bool, StorageError> {
        self.write(|tx| console::end_session(tx, id_hash))
    }

    fn end_console_sessions(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        self.write(|tx| console::end_sessions(tx, account_id, now))
    }

    fn add_console_audit(&self, entry: &NewConsoleAudit) -> Result<(), StorageError> {
        self.write(|tx| console::add_audit(tx, entry))
    }

    fn console_audit(
        &self,
        org_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ConsoleAuditEntry>, StorageError> {
        self.read(|c| console::audit(c, org_id, after, limit))
    }

    fn policy_draft(&self, org_id: &str) -> Result<Option<PolicyDraft>, StorageError> {
        self.read(|c| policy_drafts::draft(c, org_id))
    }

    fn save_policy_draft(
        &self,
        draft: &PolicyDraft,
        expected_rev: u64,
    ) -> Result<bool, StorageError> {
        self.write(|tx| policy_drafts::save(tx, draft, expected_rev))
    }

    fn delete_policy_draft(&self, org_id: &str) -> Result<(), StorageError> {
        self.write(|tx| policy_drafts::delete(tx, org_id))
    }

    fn punch_with_record(
        &self,
        org_id: &str,
        punch_id: &str,
    ) -> Result<Option<(StoredPunch, String)>, StorageError> {
        self.read(|c| punches::punch_with_record(c, org_id, punch_id))
    }

    fn console_accounts(&self, org_id: &str) -> Result<Vec<ConsoleAccount>, StorageError> {
        self.read(|c| console_admin::accounts_of(c, org_id))
    }

    fn update_console_account(&self, account: &ConsoleAccount) -> Result<bool, StorageError> {
        self.write(|tx| console_admin::update_account(tx, account))
    }

    fn console_last_sign_ins(
        &self,
        org_id: &str,
    ) -> Result<std::collections::HashMap<String, DateTime<Utc>>, StorageError> {
        self.read(|c| console_admin::last_sign_ins(c, org_id))
    }

    fn console_audit_page(
        &self,
        org_id: &str,
        query: &ConsoleAuditQuery,
    ) -> Result<Vec<ConsoleAuditEntry>, StorageError> {
        self.read(|c| console_admin::audit_page(c, org_id, query))
    }

    fn create_api_token(&self, token: &ApiTokenRow) -> Result<(), StorageError> {
        self.write(|tx| console_admin::create_token(tx, token))
    }

    fn api_tokens(&self, org_id: &str) -> Result<Vec<ApiTokenRow>, StorageError> {
        self.read(|c| console_admin::tokens(c, org_id))
    }

    fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiTokenRow>, StorageError> {
        self.read(|c| console_admin::token_by_hash(c, token_hash))
    }

    fn touch_api_token(&self, token_id: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.write(|tx| console_admin::touch_token(tx, token_id, now))
    }

    fn revoke_api_token(
        &self,
        org_id: &str,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.write(|tx| console_admin::revoke_token(tx, org_id, token_id, now))
    }

    fn rotate_admin_token(
        &self,
        org_id: &str,
        admin_token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.write(|tx| console_admin::rotate_admin_token(tx, org_id, admin_token_hash, now))
    }
}

/// The PostgreSQL server of the unit tests that need one (`DAKA_TEST_POSTGRES`, as for the
/// server's integration tests); without it they say so and pass.
#[cfg(test)]
pub(super) fn test_database() -> Option<String> {
    let url = std::env::var("DAKA_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("PostgreSQL only: DAKA_TEST_POSTGRES is not set");
    }
    url
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_the_password_of_urls_that_parse_and_that_do_not() {
        assert_eq!(
            redact("postgres://daka:s3cret@db.internal:5432/daka"),
            "postgres://daka:***@db.internal:5432/daka"
        );
        assert_eq!(
            redact("postgres://daka@db.internal/daka"),
            "postgres://daka@db.internal/daka"
        );
        // An invalid port: the URL does not parse, and the password is still hidden.
        assert_eq!(
            redact("postgres://daka:s3cret@db.internal:99999/daka"),
            "postgres://daka:***@db.internal:99999/daka"
        );
        assert_eq!(
            redact("postgres://daka:p@ss@db.internal:port/daka"),
            "postgres://daka:***@db.internal:port/daka"
        );
    }
}
