//! The helpers every table file of the PostgreSQL storage uses, and nothing else: mapping
//! PostgreSQL errors to [`StorageError`] (lock conflicts and lost connections are retryable),
//! running statements and reading columns by name, the advisory locks that order writers
//! across server instances, and the value conversions shared with the SQLite storage.

use r2d2_postgres::postgres::error::SqlState;
use r2d2_postgres::postgres::types::{FromSql, ToSql};
use r2d2_postgres::postgres::{self, GenericClient, Row};

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

/// A PostgreSQL error for people: the client's kind ("db error") with what the database said
/// (`FATAL: database "daka" does not exist`), which the error's `Display` alone leaves out;
/// the whole chain of causes, as the connection errors give it.
pub(crate) fn describe(e: &postgres::Error) -> String {
    super::tls::chain(e)
}

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
            return StorageError::Unavailable(describe(&e));
        }
        return StorageError::Database(describe(&e));
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        return StorageError::Unavailable(describe(&e));
    }
    StorageError::Database(describe(&e))
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

/// The error of a statement that would store text holding a NUL character.
fn nul_refused() -> StorageError {
    StorageError::Conflict("a text value holds a NUL character, which cannot be stored".into())
}

/// Every row of a query (none when a parameter is text with a NUL: nothing stored equals it).
pub(super) fn rows(
    c: &mut impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, StorageError> {
    if holds_nul(params) {
        return Ok(Vec::new());
    }
    c.query(sql, params).map_err(map_err)
}

/// The one row of a query, or none.
pub(super) fn opt_row(
    c: &mut impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, StorageError> {
    if holds_nul(params) {
        return Ok(None);
    }
    c.query_opt(sql, params).map_err(map_err)
}

/// The one row of a query that always answers one.
pub(super) fn one_row(
    c: &mut impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Row, StorageError> {
    if holds_nul(params) {
        return Err(nul_refused());
    }
    c.query_one(sql, params).map_err(map_err)
}

/// Runs a statement; the number of rows it changed.
pub(super) fn exec(
    c: &mut impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<u64, StorageError> {
    if holds_nul(params) {
        return Err(nul_refused());
    }
    c.execute(sql, params).map_err(map_err)
}

/// A column by name.
pub(super) fn get<'a, T: FromSql<'a>>(r: &'a Row, column: &str) -> Result<T, StorageError> {
    r.try_get(column)
        .map_err(|e| StorageError::Corrupt(format!("column {column}: {e}")))
}

/// Each row of a query turned into its record by `convert`.
pub(super) fn map_rows<T>(
    c: &mut impl GenericClient,
    sql: &str,
    params: Params<'_>,
    convert: impl FnMut(&Row) -> Result<T, StorageError>,
) -> Result<Vec<T>, StorageError> {
    rows(c, sql, params)?.iter().map(convert).collect()
}

/// Takes the change feed's lock ([`FEED_LOCK`]) until the transaction ends. Taken right before
/// a change or punch row is inserted, as late as possible: it is the last lock a transaction
/// waits for.
pub(super) fn feed_lock(c: &mut impl GenericClient) -> Result<(), StorageError> {
    exec(c, "SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
    Ok(())
}

/// Takes the lock of one approval request until the transaction ends: decisions on a request
/// and submissions of a new request id are applied one at a time.
pub(super) fn request_lock(
    c: &mut impl GenericClient,
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
    use super::holds_nul;

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
