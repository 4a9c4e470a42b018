//! The helpers every table file of the PostgreSQL storage uses, and nothing else: mapping
//! PostgreSQL errors to [`StorageError`] (lock conflicts and lost connections are retryable),
//! running statements (prepared once per pooled connection, see [`Prepared`]) and reading
//! columns by name, the advisory locks that order writers across server instances, and the
//! value conversions shared with the SQLite storage.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use r2d2_postgres::postgres::error::SqlState;
use r2d2_postgres::postgres::types::{FromSql, ToSql};
use r2d2_postgres::postgres::{self, Client, GenericClient, Row, Statement, Transaction};

use crate::storage::StorageError;

pub(super) use crate::storage::sqlite::sql::{ms, signed, time, unsigned};

/// Statement parameters.
pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The advisory lock (one 64-bit key) that serialises the allocation of change and punch
/// sequence numbers, held until the transaction ends: a sequence value is taken only after
/// every transaction that took an earlier one has committed or rolled back, so a reader never
/// sees change N+1 before change N. The value spells `daka` `feed`.
pub(super) const FEED_LOCK: i64 = 0x6461_6b61_6665_6564;

/// The advisory lock (one 64-bit key) held while the schema is brought up to date, so that two
/// servers starting at once do not both run a step. The value spells `daka` `migr`.
pub(super) const MIGRATE_LOCK: i64 = 0x6461_6b61_6d69_6772;

/// The first key of the advisory locks (two 32-bit keys) on approval requests; the second is
/// the hash of the organisation and request id.
const REQUEST_LOCK_CLASS: i32 = 0x6461_6b61;

/// Distinct statements a connection keeps prepared at most. The storage's statements are a
/// fixed set of texts (under two hundred); past the bound the cache is emptied and refilled,
/// so a text built at run time cannot grow it without end.
const MAX_PREPARED: usize = 512;

/// The statements prepared on one pooled connection, by their text. Running a statement by
/// its text alone costs two round trips (prepare, then bind and execute); a statement found
/// here costs one. Prepared statements belong to the database session, not its transactions:
/// one prepared in a transaction that rolls back stays usable.
#[derive(Default)]
pub(super) struct Statements {
    by_text: HashMap<String, Statement>,
    /// Statements run, counted for the whole storage (see `PostgresStorage::statements_run`).
    runs: Arc<AtomicU64>,
}

impl Statements {
    /// An empty cache whose runs are added to `runs`.
    pub(super) fn counting(runs: Arc<AtomicU64>) -> Statements {
        Statements {
            by_text: HashMap::new(),
            runs,
        }
    }

    /// How many statements are prepared.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_text.len()
    }
}

/// A connection, transaction or savepoint (`C`) with the statements prepared on its
/// connection: what the storage's reads and writes run on.
pub(super) struct Prepared<'a, C> {
    pub(super) client: &'a mut C,
    pub(super) statements: &'a mut Statements,
}

impl<'a, C: GenericClient> Prepared<'a, C> {
    pub(super) fn new(client: &'a mut C, statements: &'a mut Statements) -> Self {
        Prepared { client, statements }
    }

    /// The statement of `sql`, prepared on this connection at its first use.
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        self.statements.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(statement) = self.statements.by_text.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        if self.statements.by_text.len() >= MAX_PREPARED {
            self.statements.by_text.clear();
        }
        self.statements
            .by_text
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// Where statements run: a [`Prepared`] connection, or a bare [`Client`] or [`Transaction`]
/// for one-off work (schema migrations, copies between databases), where each statement is
/// prepared at its use.
pub(super) trait Run {
    /// The client the statements run on.
    type Client: GenericClient;

    /// The client, and the statement of `sql` prepared on it.
    fn prepared(&mut self, sql: &str) -> Result<(&mut Self::Client, Statement), postgres::Error>;
}

impl<C: GenericClient> Run for Prepared<'_, C> {
    type Client = C;

    fn prepared(&mut self, sql: &str) -> Result<(&mut C, Statement), postgres::Error> {
        let statement = self.statement(sql)?;
        Ok((&mut *self.client, statement))
    }
}

/// [`Run`] for a bare client type: each statement prepared at its use (and closed after).
macro_rules! run_unprepared {
    ($($t:ty),*) => {$(
        impl Run for $t {
            type Client = Self;

            fn prepared(&mut self, sql: &str) -> Result<(&mut Self, Statement), postgres::Error> {
                let statement = self.prepare(sql)?;
                Ok((self, statement))
            }
        }
    )*};
}

run_unprepared!(Client, Transaction<'_>);

/// Maps a PostgreSQL error: a serialization failure, a deadlock or a lock wait past the
/// lock timeout is [`StorageError::Busy`]; a lost or refused connection is
/// [`StorageError::Unavailable`]; the rest is a database error.
pub(super) fn map_err(e: postgres::Error) -> StorageError {
    if let Some(code) = e.code() {
        if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::LOCK_NOT_AVAILABLE
        {
            return StorageError::Busy;
        }
        if code.code().starts_with("08")
            || *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
            || *code == SqlState::TOO_MANY_CONNECTIONS
        {
            return StorageError::Unavailable(super::tls::chain(&e));
        }
        return StorageError::Database(super::tls::chain(&e));
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        return StorageError::Unavailable(super::tls::chain(&e));
    }
    StorageError::Database(super::tls::chain(&e))
}

/// Whether a parameter is text holding a NUL character, which PostgreSQL text cannot hold
/// (SQLite's can): no stored value equals it. Read from the parameter's `Debug` form, where a
/// NUL is a backslash and a zero, and a backslash itself two backslashes: a zero after an odd
/// run of backslashes.
fn holds_nul(params: Params<'_>) -> bool {
    params.iter().any(|p| {
        let text = format!("{p:?}");
        let bytes = text.as_bytes();
        let mut backslashes = 0;
        for &b in bytes {
            if b == b'\\' {
                backslashes += 1;
                continue;
            }
            if b == b'0' && backslashes % 2 == 1 {
                return true;
            }
            backslashes = 0;
        }
        false
    })
}

/// Whether every value can be stored: `Err` (as a statement storing it would fail) when a
/// text holds a NUL character. For values checked now and written later.
pub(super) fn storable(params: Params<'_>) -> Result<(), StorageError> {
    if holds_nul(params) {
        return Err(nul_refused());
    }
    Ok(())
}

/// The error of a statement that would store text holding a NUL character.
fn nul_refused() -> StorageError {
    StorageError::Conflict("a text value holds a NUL character, which cannot be stored".into())
}

/// Every row of a query (none when a parameter is text with a NUL: nothing stored equals it).
pub(super) fn rows(
    c: &mut impl Run,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, StorageError> {
    if holds_nul(params) {
        return Ok(Vec::new());
    }
    let (client, statement) = c.prepared(sql).map_err(map_err)?;
    client.query(&statement, params).map_err(map_err)
}

/// The one row of a query, or none.
pub(super) fn opt_row(
    c: &mut impl Run,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, StorageError> {
    if holds_nul(params) {
        return Ok(None);
    }
    let (client, statement) = c.prepared(sql).map_err(map_err)?;
    client.query_opt(&statement, params).map_err(map_err)
}

/// The one row of a query that always answers one.
pub(super) fn one_row(
    c: &mut impl Run,
    sql: &str,
    params: Params<'_>,
) -> Result<Row, StorageError> {
    if holds_nul(params) {
        return Err(nul_refused());
    }
    let (client, statement) = c.prepared(sql).map_err(map_err)?;
    client.query_one(&statement, params).map_err(map_err)
}

/// Runs a statement; the number of rows it changed.
pub(super) fn exec(c: &mut impl Run, sql: &str, params: Params<'_>) -> Result<u64, StorageError> {
    if holds_nul(params) {
        return Err(nul_refused());
    }
    let (client, statement) = c.prepared(sql).map_err(map_err)?;
    client.execute(&statement, params).map_err(map_err)
}

/// A column by name.
pub(super) fn get<'a, T: FromSql<'a>>(r: &'a Row, column: &str) -> Result<T, StorageError> {
    r.try_get(column)
        .map_err(|e| StorageError::Corrupt(format!("column {column}: {e}")))
}

/// Each row of a query turned into its record by `convert`.
pub(super) fn map_rows<T>(
    c: &mut impl Run,
    sql: &str,
    params: Params<'_>,
    convert: impl FnMut(&Row) -> Result<T, StorageError>,
) -> Result<Vec<T>, StorageError> {
    rows(c, sql, params)?.iter().map(convert).collect()
}

/// Takes the change feed's lock ([`FEED_LOCK`]) until the transaction ends. Taken right before
/// a change or punch row is inserted, as late as possible: it is the last lock a transaction
/// waits for.
pub(super) fn feed_lock(c: &mut impl Run) -> Result<(), StorageError> {
    exec(c, "SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
    Ok(())
}

/// Takes the lock of one approval request until the transaction ends: decisions on a request
/// and submissions of a new request id are applied one at a time.
pub(super) fn request_lock(
    c: &mut impl Run,
    org_id: &str,
    request_id: &str,
) -> Result<(), StorageError> {
    exec(
        c,
        "SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3))",
        &[&REQUEST_LOCK_CLASS, &org_id, &request_id],
    )?;
    Ok(())
}

/// A limit as a `LIMIT` parameter.
pub(super) fn limit(n: u32) -> i64 {
    i64::from(n)
}

#[cfg(test)]
mod tests {
    use r2d2_postgres::postgres::Client;

    use super::{MAX_PREPARED, Prepared, Statements, exec, get, holds_nul, one_row};
    use crate::storage::StorageError;

    /// How many statements this connection's session holds prepared, as PostgreSQL counts
    /// them (the counting statement itself included).
    fn prepared_in_session(client: &mut Client) -> i64 {
        client
            .query_one("SELECT count(*) AS n FROM pg_prepared_statements", &[])
            .unwrap()
            .get("n")
    }

    fn plus_one(c: &mut Prepared<'_, impl super::GenericClient>, n: i64) -> i64 {
        get(
            &one_row(c, "SELECT $1::bigint + 1 AS n", &[&n]).unwrap(),
            "n",
        )
        .unwrap()
    }

    /// On PostgreSQL only (`DAKA_TEST_POSTGRES`, as the server's integration tests): a
    /// statement is prepared at its first use on a connection and reused after, also after
    /// the transaction it was prepared in rolled back; past the bound the cache is emptied and
    /// its statements are closed on the server, not left behind.
    #[test]
    fn statements_are_prepared_once_per_connection_and_outlive_a_rollback() {
        let Some(url) = super::super::test_database() else {
            return;
        };
        let mut client = super::super::connect(&url).unwrap();
        let mut statements = Statements::default();
        let base = prepared_in_session(&mut client);

        let mut c = Prepared::new(&mut client, &mut statements);
        assert_eq!(plus_one(&mut c, 1), 2);
        assert_eq!(plus_one(&mut c, 41), 42);
        assert_eq!(statements.len(), 1);
        assert_eq!(prepared_in_session(&mut client), base + 1);

        let mut tx = client.transaction().unwrap();
        let mut in_tx = Prepared::new(&mut tx, &mut statements);
        assert_eq!(
            get::<i64>(
                &one_row(&mut in_tx, "SELECT $1::bigint * 2 AS n", &[&21i64]).unwrap(),
                "n"
            )
            .unwrap(),
            42
        );
        let failed = exec(&mut in_tx, "SELECT 1 / ($1::bigint - 1)", &[&1i64]);
        assert!(
            matches!(failed, Err(StorageError::Database(ref m)) if m.contains("division by zero")),
            "{failed:?}"
        );
        drop(tx); // rolled back
        let mut c = Prepared::new(&mut client, &mut statements);
        assert_eq!(
            get::<i64>(
                &one_row(&mut c, "SELECT $1::bigint * 2 AS n", &[&4i64]).unwrap(),
                "n"
            )
            .unwrap(),
            8
        );
        assert_eq!(plus_one(&mut c, 9), 10);
        assert_eq!(statements.len(), 3);
        assert_eq!(prepared_in_session(&mut client), base + 3);

        let mut c = Prepared::new(&mut client, &mut statements);
        for i in 0..MAX_PREPARED as i64 + 10 {
            let sql = format!("SELECT {i}::bigint + $1::bigint AS n");
            let n: i64 = get(&one_row(&mut c, &sql, &[&1i64]).unwrap(), "n").unwrap();
            assert_eq!(n, i + 1);
        }
        let held = statements.len();
        assert!(
            (1..=MAX_PREPARED).contains(&held),
            "{held} statements cached"
        );
        assert_eq!(prepared_in_session(&mut client), base + held as i64);
    }

    #[test]
    fn a_nul_is_told_from_a_backslash_and_a_zero() {
        assert!(holds_nul(&[&"a\0b"]));
        assert!(holds_nul(&[&Some("\0")]));
        assert!(holds_nul(&[&"\\\0"]));
        assert!(!holds_nul(&[&"a\\0b"]));
        assert!(!holds_nul(&[&"plain 0 text"]));
        assert!(!holds_nul(&[&[0u8, 1, 2].as_slice(), &7i64]));
    }
}
