//! The web console's tables of [`SqliteStorage`](super::SqliteStorage): its accounts
//! (`console_account`, email unique per organisation in lower case), their sessions
//! (`console_session`, by the SHA-256 of the session id) and the audit of console actions
//! (`console_audit`).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sql::{cached_rows, map_err, ms, time};
use crate::storage::{
    ConsoleAccount, ConsoleAuditEntry, ConsoleRole, ConsoleSessionRow, NewConsoleAudit,
    StorageError,
};

/// A `console_account` row as stored.
pub(in crate::storage) struct AccountColumns {
    pub(in crate::storage) id: String,
    pub(in crate::storage) org_id: String,
    pub(in crate::storage) email: String,
    pub(in crate::storage) name: String,
    pub(in crate::storage) role: String,
    pub(in crate::storage) employee_id: Option<String>,
    pub(in crate::storage) language: String,
    pub(in crate::storage) password_hash: String,
    pub(in crate::storage) created_ms: i64,
    pub(in crate::storage) disabled_ms: Option<i64>,
}

pub(in crate::storage) const ACCOUNT_COLUMNS: &str = "id, org_id, email, name, role, employee_id, language, \
     password_hash, created_ms, disabled_ms";

impl AccountColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<AccountColumns> {
        Ok(AccountColumns {
            id: r.get("id")?,
            org_id: r.get("org_id")?,
            email: r.get("email")?,
            name: r.get("name")?,
            role: r.get("role")?,
            employee_id: r.get("employee_id")?,
            language: r.get("language")?,
            password_hash: r.get("password_hash")?,
            created_ms: r.get("created_ms")?,
            disabled_ms: r.get("disabled_ms")?,
        })
    }

    pub(in crate::storage) fn into_account(self) -> Result<ConsoleAccount, StorageError> {
        let role = ConsoleRole::parse(&self.role).ok_or_else(|| {
            StorageError::Corrupt(format!(
                "console account {}: unknown role {:?}",
                self.id, self.role
            ))
        })?;
        Ok(ConsoleAccount {
            id: self.id,
            org_id: self.org_id,
            email: self.email,
            name: self.name,
            role,
            employee_id: self.employee_id,
            language: self.language,
            password_hash: self.password_hash,
            created_at: time(self.created_ms)?,
            disabled_at: self.disabled_ms.map(time).transpose()?,
        })
    }
}

pub(super) fn accounts(
    conn: &Connection,
    sql_where: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ConsoleAccount>, StorageError> {
    cached_rows(
        conn,
        &format!("SELECT {ACCOUNT_COLUMNS} FROM console_account {sql_where}"),
        args,
        AccountColumns::from_row,
        AccountColumns::into_account,
    )
}

pub(super) fn create_account(conn: &Connection, a: &ConsoleAccount) -> Result<bool, StorageError> {
    let added = conn
        .execute(
            "INSERT INTO console_account (id, org_id, email, name, role, employee_id, language,
                 password_hash, created_ms, disabled_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (org_id, email) DO NOTHING",
            params![
                a.id,
                a.org_id,
                a.email,
                a.name,
                a.role.as_str(),
                a.employee_id,
                a.language,
                a.password_hash,
                ms(a.created_at),
                a.disabled_at.map(ms),
            ],
        )
        .map_err(map_err)?;
    Ok(added == 1)
}

pub(super) fn accounts_by_email(
    conn: &Connection,
    email: &str,
) -> Result<Vec<ConsoleAccount>, StorageError> {
    accounts(conn, "WHERE email = ?1 ORDER BY created_ms, id", &[&email])
}

pub(super) fn account_by_email(
    conn: &Connection,
    org_id: &str,
    email: &str,
) -> Result<Option<ConsoleAccount>, StorageError> {
    Ok(accounts(conn, "WHERE org_id = ?1 AND email = ?2", &[&org_id, &email])?.pop())
}

pub(super) fn account(
    conn: &Connection,
    account_id: &str,
) -> Result<Option<ConsoleAccount>, StorageError> {
    Ok(accounts(conn, "WHERE id = ?1", &[&account_id])?.pop())
}

pub(super) fn create_session(
    conn: &Connection,
    s: &ConsoleSessionRow,
    org_id: &str,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO console_session (id_hash, account_id, org_id, created_ms, seen_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            s.id_hash,
            s.account_id,
            org_id,
            ms(s.created_at),
            ms(s.seen_at),
            ms(s.expires_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn session(
    conn: &Connection,
    id_hash: &str,
) -> Result<Option<ConsoleSessionRow>, StorageError> {
    let row = conn
        .query_row(
            "SELECT id_hash, account_id, created_ms, seen_ms, expires_ms
             FROM console_session WHERE id_hash = ?1",
            [id_hash],
            |r| {
                Ok((
                    r.get::<_, String>("id_hash")?,
                    r.get::<_, String>("account_id")?,
                    r.get::<_, i64>("created_ms")?,
                    r.get::<_, i64>("seen_ms")?,
                    r.get::<_, i64>("expires_ms")?,
                ))
            },
        )
        .optional()
        .map_err(map_err)?;
    row.map(|(id_hash, account_id, created, seen, expires)| {
        Ok(ConsoleSessionRow {
            id_hash,
            account_id,
            created_at: time(created)?,
            seen_at: time(seen)?,
            expires_at: time(expires)?,
        })
    })
    .transpose()
}

pub(super) fn touch_session(
    conn: &Connection,
    id_hash: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE console_session SET seen_ms = MAX(seen_ms, ?2) WHERE id_hash = ?1",
        params![id_hash, ms(now)],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn end_session(conn: &Connection, id_hash: &str) -> Result<bool, StorageError> {
    let n = conn
        .execute("DELETE FROM console_session WHERE id_hash = ?1", [id_hash])
        .map_err(map_err)?;
    Ok(n > 0)
}

pub(super) fn end_sessions(
    conn: &mut Connection,
    account_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StorageError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let n = tx
        .execute(
            "DELETE FROM console_session WHERE account_id = ?1",
            [account_id],
        )
        .map_err(map_err)?;
    tx.execute(
        "DELETE FROM console_session WHERE expires_ms <= ?1",
        [ms(now)],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(n as u64)
}

/// A console audit row's columns, as read (`seq`, `account_id`, `email`, `action`, `client`,
/// `detail`, `at_ms`).
pub(in crate::storage) type AuditColumns =
    (i64, Option<String>, String, String, String, String, i64);

/// Reads a console audit row's columns by name.
pub(super) fn audit_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditColumns> {
    Ok((
        r.get("seq")?,
        r.get("account_id")?,
        r.get("email")?,
        r.get("action")?,
        r.get("client")?,
        r.get("detail")?,
        r.get("at_ms")?,
    ))
}

/// A console audit entry from its columns.
pub(in crate::storage) fn audit_entry(
    (seq, account_id, email, action, client, detail, at): AuditColumns,
) -> Result<ConsoleAuditEntry, StorageError> {
    Ok(ConsoleAuditEntry {
        seq,
        account_id,
        email,
        action,
        client,
        detail,
        at: time(at)?,
    })
}

pub(super) fn add_audit(conn: &Connection, e: &NewConsoleAudit) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO console_audit (org_id, account_id, email, action, client, detail, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            e.org_id,
            e.account_id,
            e.email,
            e.action,
            e.client,
            e.detail,
            ms(e.at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn audit(
    conn: &Connection,
    org_id: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<ConsoleAuditEntry>, StorageError> {
    cached_rows(
        conn,
        "SELECT seq, account_id, email, action, client, detail, at_ms FROM console_audit
         WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        params![org_id, after, limit],
        audit_columns,
        audit_entry,
    )
}
