//! The helpers every table file of the SQLite storage uses, and nothing else: mapping SQLite
//! errors to [`StorageError`], running statements through the connection's prepared-statement
//! cache, and the conversions of stored values (Unix milliseconds, signed integers).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row};

use crate::storage::StorageError;

/// Maps a SQLite error: lock contention is [`StorageError::Busy`], the rest is a database
/// error.
pub(super) fn map_err(e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StorageError::Busy
        }
        _ => StorageError::Database(e.to_string()),
    }
}

/// `query_row` through the connection's prepared-statement cache (statements of the push
/// path run once per item).
pub(super) fn cached_row<T, P: rusqlite::Params>(
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
pub(super) fn cached_execute<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

pub(in crate::storage) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(in crate::storage) fn time(ms: i64) -> Result<DateTime<Utc>, StorageError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StorageError::Corrupt(format!("time {ms} ms is out of range")))
}

pub(in crate::storage) fn unsigned(v: i64, what: &str) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("{what} is negative: {v}")))
}

pub(in crate::storage) fn signed(v: u64) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::Conflict(format!("{v} is too large to store")))
}
