//! Moving a deployment from SQLite to PostgreSQL (`daka migrate-db`): copies every table and
//! every row of a SQLite server database into an empty PostgreSQL database, in one PostgreSQL
//! transaction, then verifies the copy.
//!
//! * The source must be at this build's schema version. An older file is refused, not
//!   upgraded: the copy never writes to the source, so the operator upgrades it the usual way
//!   first (start this release's `daka serve` on it once, then stop it) and keeps a file that
//!   any server of this release can still open.
//! * The target must hold no tables at all; a non-empty one is refused with the way to drop it.
//!   The schema is created in the same transaction as the rows, so a copy that fails leaves the
//!   target as empty as it was.
//! * Rows go in with `COPY ... (FORMAT binary)`, table by table in foreign-key order, each
//!   column converted to the PostgreSQL column's type (a value that does not fit is refused,
//!   naming the table, column and row). The identity columns (the SQLite `AUTOINCREMENT` keys)
//!   are set past the largest value the source ever handed out (`sqlite_sequence`), so a
//!   change-feed position or an audit sequence number is never reused.
//! * Verification: in the transaction, before it commits, every table's row count on both
//!   sides; after it commits, every device's chain on the target with the check the admin API's
//!   `GET /admin/v1/chains/verify` runs.

use std::path::{Path, PathBuf};

use r2d2_postgres::postgres::Transaction;
use r2d2_postgres::postgres::binary_copy::BinaryCopyInWriter;
use r2d2_postgres::postgres::types::{ToSql, Type};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::postgres::tls::chain as describe;
use super::postgres::{PostgresOptions, PostgresStorage, connect_config, redact, schema};
use super::{Storage, StorageError};
use crate::api::admin::{ChainCheck, check_chain};

/// Why a copy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The SQLite file does not exist.
    #[error("--from {0}: no such file")]
    SourceMissing(PathBuf),
    /// The SQLite file cannot be opened or read.
    #[error("--from {path}: {message}")]
    Source {
        /// The file.
        path: PathBuf,
        /// SQLite's message.
        message: String,
    },
    /// The SQLite file is at an older schema version than this build's.
    #[error(
        "--from {path}: schema version {found}, but this release copies version {expected}; \
         upgrade the file first: start this release's `daka serve --db {path}` on it once \
         (it upgrades the schema on start), stop it, then run the copy again"
    )]
    SourceTooOld {
        /// The file.
        path: PathBuf,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// This build's schema version.
        expected: i64,
    },
    /// The SQLite file was written by a newer release.
    #[error(
        "--from {path}: schema version {found} was written by a newer release (this one knows \
         up to {expected}); use that release's daka migrate-db"
    )]
    SourceTooNew {
        /// The file.
        path: PathBuf,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// This build's schema version.
        expected: i64,
    },
    /// The SQLite file has a table the PostgreSQL schema does not (or the other way round).
    #[error("--from {path}: table {table} {problem}")]
    TableMismatch {
        /// The file.
        path: PathBuf,
        /// The table.
        table: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A SQLite value does not fit its PostgreSQL column.
    #[error("--from {path}: table {table}, column {column}, row {row}: {problem}")]
    Value {
        /// The file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The row's position in the table (1 = first), as read.
        row: u64,
        /// What the value is and what the column takes.
        problem: String,
    },
    /// The target database already holds tables.
    #[error(
        "--to {target}: the database is not empty (it has the tables {tables}); the copy goes \
         into an empty database only. Drop and recreate it, e.g. \
         `dropdb {database} && createdb {database}` (or in psql: DROP DATABASE {database}; \
         CREATE DATABASE {database};), then run the copy again"
    )]
    TargetNotEmpty {
        /// The URL, its password hidden.
        target: String,
        /// The database's name.
        database: String,
        /// Some of the tables found, comma-separated.
        tables: String,
    },
    /// The target URL does not parse, or asks for what this build cannot do (TLS); the
    /// message names the URL, its password hidden.
    #[error("--to: {0}")]
    TargetUrl(String),
    /// The target cannot be reached or refused a statement.
    #[error("--to {target}: {source}")]
    Target {
        /// The URL, its password hidden.
        target: String,
        /// The storage's error.
        source: StorageError,
    },
    /// A table's row count differs between the two sides after the copy (rolled back).
    #[error(
        "table {table}: {source_rows} rows in the SQLite file but {target_rows} copied; \
         nothing was committed"
    )]
    CountMismatch {
        /// The table.
        table: String,
        /// Rows in the SQLite file.
        source_rows: u64,
        /// Rows in the PostgreSQL transaction.
        target_rows: u64,
    },
}

/// One table of the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// The table.
    pub table: String,
    /// Rows in the SQLite file.
    pub source_rows: u64,
    /// Rows in PostgreSQL after the copy (counted in the copy's transaction).
    pub target_rows: u64,
}

/// What a copy did and found.
#[derive(Debug, Clone)]
pub struct MigrateReport {
    /// The schema version of both sides.
    pub schema_version: i64,
    /// Every table, in the order copied.
    pub tables: Vec<TableSummary>,
    /// Every device's chain on the target, organisation by organisation, in enrolment order.
    pub chains: Vec<(String, ChainCheck)>,
}

impl MigrateReport {
    /// Whether every chain verified on the target (the counts were checked before commit).
    pub fn chains_ok(&self) -> bool {
        self.chains.iter().all(|(_, c)| c.ok)
    }
}

/// Copies the SQLite database at `from` into the empty PostgreSQL database at `to`, then
/// verifies the copy (see the module's documentation). Blocking: call it from a plain thread.
pub fn migrate_sqlite_to_postgres(from: &Path, to: &str) -> Result<MigrateReport, MigrateError> {
    let target = redact(to);
    let target_err = |source: StorageError| MigrateError::Target {
        target: target.clone(),
        source,
    };
    let source_err = |e: rusqlite::Error| MigrateError::Source {
        path: from.to_path_buf(),
        message: e.to_string(),
    };
    // The arguments first: a URL that does not parse is refused before anything is opened.
    let config = connect_config(to, &PostgresOptions::default())
        .map_err(|e| MigrateError::TargetUrl(e.to_string()))?;
    if !from.is_file() {
        return Err(MigrateError::SourceMissing(from.to_path_buf()));
    }
    let mut src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(source_err)?;
    // One read transaction: every table is read from the same snapshot.
    let src = src.transaction().map_err(source_err)?;
    let found: i64 = src
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(source_err)?;
    let expected = schema::SCHEMA_VERSION;
    if found < expected {
        return Err(MigrateError::SourceTooOld {
            path: from.to_path_buf(),
            found,
            expected,
        });
    }
    if found > expected {
        return Err(MigrateError::SourceTooNew {
            path: from.to_path_buf(),
            found,
            expected,
        });
    }

    let database = config.config.get_dbname().unwrap_or("postgres").to_owned();
    // The postgres client drives its connection on a runtime of its own: a plain thread.
    let mut client = config.connect().map_err(target_err)?;
    let mut tx = client
        .transaction()
        .map_err(|e| target_err(StorageError::Database(describe(&e))))?;
    let existing: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY table_name LIMIT 6",
            &[],
        )
        .map_err(|e| target_err(StorageError::Database(describe(&e))))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !existing.is_empty() {
        return Err(MigrateError::TargetNotEmpty {
            target,
            database,
            tables: existing.join(", "),
        });
    }
    schema::create_in(&mut tx).map_err(target_err)?;

    let tables = schema::tables_in_order();
    check_same_tables(&src, from, &tables)?;
    let mut summaries = Vec::with_capacity(tables.len());
    for table in &tables {
        let copied = copy_table(&src, &mut tx, from, table, &target)?;
        let target_rows: i64 = tx
            .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
            .map_err(|e| target_err(StorageError::Database(describe(&e))))?
            .get(0);
        let source_rows: i64 = src
            .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                r.get(0)
            })
            .map_err(source_err)?;
        let (source_rows, target_rows) = (source_rows as u64, target_rows as u64);
        if source_rows != target_rows || copied != source_rows {
            return Err(MigrateError::CountMismatch {
                table: (*table).to_owned(),
                source_rows,
                target_rows,
            });
        }
        summaries.push(TableSummary {
            table: (*table).to_owned(),
            source_rows,
            target_rows,
        });
    }
    tx.commit()
        .map_err(|e| target_err(StorageError::Database(describe(&e))))?;
    drop(client);

    let storage = PostgresStorage::open(to, &PostgresOptions::default()).map_err(target_err)?;
    let chains = verify_chains(&storage).map_err(target_err)?;
    Ok(MigrateReport {
        schema_version: expected,
        tables: summaries,
        chains,
    })
}

/// Every device's chain in `storage`, with the admin API's check.
pub fn verify_chains(storage: &dyn Storage) -> Result<Vec<(String, ChainCheck)>, StorageError> {
    let mut checks = Vec::new();
    for org in storage.org_ids()? {
        for device in storage.devices(&org)? {
            let texts = storage.chain_records(&org, &device.id)?;
            checks.push((org.clone(), check_chain(&device, &texts)));
        }
    }
    Ok(checks)
}

/// The SQLite file's tables are the PostgreSQL schema's.
fn check_same_tables(src: &Connection, from: &Path, tables: &[&str]) -> Result<(), MigrateError> {
    let names: Vec<String> = src
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| MigrateError::Source {
            path: from.to_path_buf(),
            message: e.to_string(),
        })?;
    if let Some(extra) = names.iter().find(|n| !tables.contains(&n.as_str())) {
        return Err(MigrateError::TableMismatch {
            path: from.to_path_buf(),
            table: extra.clone(),
            problem: "is not in the PostgreSQL schema of this release".into(),
        });
    }
    if let Some(missing) = tables.iter().find(|t| !names.iter().any(|n| n == *t)) {
        return Err(MigrateError::TableMismatch {
            path: from.to_path_buf(),
            table: (*missing).to_owned(),
            problem: "is missing from the file".into(),
        });
    }
    Ok(())
}

/// A PostgreSQL column of the copy.
struct Column {
    name: String,
    ty: Type,
    identity: bool,
}

/// The columns of `table` in the transaction's schema, in order.
fn target_columns(
    tx: &mut Transaction<'_>,
    table: &str,
    target: &str,
) -> Result<Vec<Column>, MigrateError> {
    let rows = tx
        .query(
            "SELECT column_name::text, data_type::text, is_identity::text
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1
             ORDER BY ordinal_position",
            &[&table],
        )
        .map_err(|e| MigrateError::Target {
            target: target.to_owned(),
            source: StorageError::Database(describe(&e)),
        })?;
    rows.iter()
        .map(|r| {
            let name: String = r.get(0);
            let data_type: String = r.get(1);
            let ty = match data_type.as_str() {
                "bigint" => Type::INT8,
                "integer" => Type::INT4,
                "text" => Type::TEXT,
                "bytea" => Type::BYTEA,
                other => {
                    return Err(MigrateError::Target {
                        target: target.to_owned(),
                        source: StorageError::Database(format!(
                            "table {table}, column {name}: type {other} is not one the copy knows"
                        )),
                    });
                }
            };
            let identity = r.get::<_, String>(2) == "YES";
            Ok(Column { name, ty, identity })
        })
        .collect()
}

/// A SQLite value as the parameter of its PostgreSQL column.
enum Value {
    Int8(Option<i64>),
    Int4(Option<i32>),
    Text(Option<String>),
    Bytea(Option<Vec<u8>>),
}

impl Value {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Int8(v) => v,
            Value::Int4(v) => v,
            Value::Text(v) => v,
            Value::Bytea(v) => v,
        }
    }
}

/// Converts one SQLite value to `ty`, or says why it does not fit.
fn convert(value: ValueRef<'_>, ty: &Type) -> Result<Value, String> {
    let kind = match value {
        ValueRef::Null => {
            return Ok(match *ty {
                Type::INT8 => Value::Int8(None),
                Type::INT4 => Value::Int4(None),
                Type::BYTEA => Value::Bytea(None),
                _ => Value::Text(None),
            });
        }
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    };
    match (value, ty) {
        (ValueRef::Integer(i), &Type::INT8) => Ok(Value::Int8(Some(i))),
        (ValueRef::Integer(i), &Type::INT4) => i32::try_from(i)
            .map(|v| Value::Int4(Some(v)))
            .map_err(|_| format!("{i} does not fit a PostgreSQL integer")),
        (ValueRef::Text(t), &Type::TEXT) => std::str::from_utf8(t)
            .map(|s| Value::Text(Some(s.to_owned())))
            .map_err(|e| format!("text that is not UTF-8 ({e})")),
        (ValueRef::Blob(b), &Type::BYTEA) => Ok(Value::Bytea(Some(b.to_vec()))),
        _ => Err(format!("{kind}, but the column is {ty}")),
    }
}

/// Copies one table; the number of rows written.
fn copy_table(
    src: &Connection,
    tx: &mut Transaction<'_>,
    from: &Path,
    table: &str,
    target: &str,
) -> Result<u64, MigrateError> {
    let columns = target_columns(tx, table, target)?;
    let target_err = |e: r2d2_postgres::postgres::Error| MigrateError::Target {
        target: target.to_owned(),
        source: StorageError::Database(format!("table {table}: {}", describe(&e))),
    };
    let source_err = |e: rusqlite::Error| MigrateError::Source {
        path: from.to_path_buf(),
        message: format!("table {table}: {e}"),
    };
    let list = columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let types: Vec<Type> = columns.iter().map(|c| c.ty.clone()).collect();
    let mut stmt = src
        .prepare(&format!("SELECT {list} FROM \"{table}\""))
        .map_err(|e| MigrateError::TableMismatch {
            path: from.to_path_buf(),
            table: table.to_owned(),
            problem: format!("does not have the PostgreSQL schema's columns ({e})"),
        })?;
    let mut rows = stmt.query([]).map_err(source_err)?;
    // COPY writes identity columns as given (like OVERRIDING SYSTEM VALUE).
    let sink = tx
        .copy_in(&format!(
            "COPY \"{table}\" ({list}) FROM STDIN (FORMAT binary)"
        ))
        .map_err(target_err)?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut n = 0u64;
    while let Some(row) = rows.next().map_err(source_err)? {
        n += 1;
        let mut values = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let value = row.get_ref(i).map_err(source_err)?;
            values.push(
                convert(value, &column.ty).map_err(|problem| MigrateError::Value {
                    path: from.to_path_buf(),
                    table: table.to_owned(),
                    column: column.name.clone(),
                    row: n,
                    problem,
                })?,
            );
        }
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(Value::as_sql).collect();
        writer.write(&params).map_err(target_err)?;
    }
    writer.finish().map_err(target_err)?;

    for column in columns.iter().filter(|c| c.identity) {
        // Past the largest value the source handed out, deleted rows included.
        let handed_out: Option<i64> = src
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()
            .map_err(source_err)?;
        let max: Option<i64> = src
            .query_row(
                &format!("SELECT MAX(\"{}\") FROM \"{table}\"", column.name),
                [],
                |r| r.get(0),
            )
            .map_err(source_err)?;
        if let Some(last) = handed_out.into_iter().chain(max).max() {
            tx.execute(
                "SELECT setval(pg_get_serial_sequence($1, $2), $3)",
                &[&format!("\"{table}\""), &column.name, &last],
            )
            .map_err(target_err)?;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_come_in_foreign_key_order() {
        let tables = schema::tables_in_order();
        let at = |t: &str| tables.iter().position(|x| *x == t).unwrap();
        assert_eq!(tables[0], "org");
        assert!(at("device") < at("token"));
        assert!(at("device") < at("punch"));
        assert!(at("console_account") < at("console_session"));
        assert!(!tables.contains(&"schema_version"));
        assert_eq!(tables.len(), 26, "{tables:?}");
    }

    #[test]
    fn a_value_that_does_not_fit_its_column_is_named() {
        let e = convert(ValueRef::Text(b"x"), &Type::INT8).err().unwrap();
        assert_eq!(e, "text, but the column is int8");
        let e = convert(ValueRef::Integer(1 << 40), &Type::INT4)
            .err()
            .unwrap();
        assert!(e.contains("1099511627776"), "{e}");
    }
}
