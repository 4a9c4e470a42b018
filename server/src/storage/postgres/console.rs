//! The web console's tables of [`PostgresStorage`](super::PostgresStorage): its accounts
//! (`console_account`, email unique per organisation in lower case), their sessions
//! (`console_session`, by the SHA-256 of the session id) and the audit of console actions
//! (`console_audit`).

use r2d2_postgres::postgres::Row;
use r2d2_postgres::postgres::types::ToSql;

use super::sql::{Run, exec, get, limit, map_rows, ms, opt_row, time};
use crate::storage::sqlite::console::{ACCOUNT_COLUMNS, AccountColumns, AuditColumns, audit_entry};
use crate::storage::{
    ConsoleAccount, ConsoleAuditEntry, ConsoleSessionRow, NewConsoleAudit, StorageError,
};

pub(super) fn accounts(
    c: &mut impl Run,
    sql_where: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<ConsoleAccount>, StorageError> {
    map_rows(
        c,
        &format!("SELECT {ACCOUNT_COLUMNS} FROM console_account {sql_where}"),
        args,
        |r| {
            AccountColumns {
                id: get(r, "id")?,
                org_id: get(r, "org_id")?,
                email: get(r, "email")?,
                name: get(r, "name")?,
                role: get(r, "role")?,
                employee_id: get(r, "employee_id")?,
                language: get(r, "language")?,
                password_hash: get(r, "password_hash")?,
                created_ms: get(r, "created_ms")?,
                disabled_ms: get(r, "disabled_ms")?,
            }
            .into_account()
        },
    )
}

pub(super) fn create_account(c: &mut impl Run, a: &ConsoleAccount) -> Result<bool, StorageError> {
    let added = exec(
        c,
        "INSERT INTO console_account (id, org_id, email, name, role, employee_id, language,
             password_hash, created_ms, disabled_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (org_id, email) DO NOTHING",
        &[
            &a.id,
            &a.org_id,
            &a.email,
            &a.name,
            &a.role.as_str(),
            &a.employee_id,
            &a.language,
            &a.password_hash,
            &ms(a.created_at),
            &a.disabled_at.map(ms),
        ],
    )?;
    Ok(added == 1)
}

pub(super) fn accounts_by_email(
    c: &mut impl Run,
    email: &str,
) -> Result<Vec<ConsoleAccount>, StorageError> {
    accounts(c, "WHERE email = $1 ORDER BY created_ms, id", &[&email])
}

pub(super) fn account_by_email(
    c: &mut impl Run,
    org_id: &str,
    email: &str,
) -> Result<Option<ConsoleAccount>, StorageError> {
    Ok(accounts(c, "WHERE org_id = $1 AND email = $2", &[&org_id, &email])?.pop())
}

pub(super) fn account(
    c: &mut impl Run,
    account_id: &str,
) -> Result<Option<ConsoleAccount>, StorageError> {
    Ok(accounts(c, "WHERE id = $1", &[&account_id])?.pop())
}

pub(super) fn create_session(
    c: &mut impl Run,
    s: &ConsoleSessionRow,
    org_id: &str,
) -> Result<(), StorageError> {
    exec(
        c,
        "INSERT INTO console_session (id_hash, account_id, org_id, created_ms, seen_ms, expires_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &s.id_hash,
            &s.account_id,
            &org_id,
            &ms(s.created_at),
            &ms(s.seen_at),
            &ms(s.expires_at),
        ],
    )?;
    Ok(())
}

pub(super) fn session(
    c: &mut impl Run,
    id_hash: &str,
) -> Result<Option<ConsoleSessionRow>, StorageError> {
    opt_row(
        c,
        "SELECT id_hash, account_id, created_ms, seen_ms, expires_ms
         FROM console_session WHERE id_hash = $1",
        &[&id_hash],
    )?
    .map(|r| {
        Ok(ConsoleSessionRow {
            id_hash: get(&r, "id_hash")?,
            account_id: get(&r, "account_id")?,
            created_at: time(get(&r, "created_ms")?)?,
            seen_at: time(get(&r, "seen_ms")?)?,
            expires_at: time(get(&r, "expires_ms")?)?,
        })
    })
    .transpose()
}

pub(super) fn touch_session(
    c: &mut impl Run,
    id_hash: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StorageError> {
    exec(
        c,
        "UPDATE console_session SET seen_ms = GREATEST(seen_ms, $2) WHERE id_hash = $1",
        &[&id_hash, &ms(now)],
    )?;
    Ok(())
}

pub(super) fn end_session(c: &mut impl Run, id_hash: &str) -> Result<bool, StorageError> {
    let n = exec(
        c,
        "DELETE FROM console_session WHERE id_hash = $1",
        &[&id_hash],
    )?;
    Ok(n > 0)
}

pub(super) fn end_sessions(
    c: &mut impl Run,
    account_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StorageError> {
    let n = exec(
        c,
        "DELETE FROM console_session WHERE account_id = $1",
        &[&account_id],
    )?;
    exec(
        c,
        "DELETE FROM console_session WHERE expires_ms <= $1",
        &[&ms(now)],
    )?;
    Ok(n)
}

/// A `console_audit` row as the SQLite storage's reader takes it.
pub(super) fn audit_columns(r: &Row) -> Result<AuditColumns, StorageError> {
    Ok((
        get(r, "seq")?,
        get(r, "account_id")?,
        get(r, "email")?,
        get(r, "action")?,
        get(r, "client")?,
        get(r, "detail")?,
        get(r, "at_ms")?,
    ))
}

pub(super) fn add_audit(c: &mut impl Run, e: &NewConsoleAudit) -> Result<(), StorageError> {
    exec(
        c,
        "INSERT INTO console_audit (org_id, account_id, email, action, client, detail, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &e.org_id,
            &e.account_id,
            &e.email,
            &e.action,
            &e.client,
            &e.detail,
            &ms(e.at),
        ],
    )?;
    Ok(())
}

pub(super) fn audit(
    c: &mut impl Run,
    org_id: &str,
    after: i64,
    n: u32,
) -> Result<Vec<ConsoleAuditEntry>, StorageError> {
    map_rows(
        c,
        "SELECT seq, account_id, email, action, client, detail, at_ms FROM console_audit
         WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        &[&org_id, &after, &limit(n)],
        |r| audit_entry(audit_columns(r)?),
    )
}
