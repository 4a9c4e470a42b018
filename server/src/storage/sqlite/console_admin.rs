//! Console administration in [`SqliteStorage`](super::SqliteStorage): the accounts of an
//! organisation and changes to them, the audit read newest first with filters, scoped API
//! tokens (`api_token`, by the SHA-256 of the token) and the rotation of the admin token.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::console::accounts;
use super::sql::{cached_rows, map_err, ms, time};
use crate::storage::{
    ApiTokenRow, ConsoleAccount, ConsoleAuditEntry, ConsoleAuditQuery, StorageError,
};

pub(super) fn accounts_of(
    conn: &Connection,
    org_id: &str,
) -> Result<Vec<ConsoleAccount>, StorageError> {
    accounts(conn, "WHERE org_id = ?1 ORDER BY email", &[&org_id])
}

pub(super) fn update_account(conn: &Connection, a: &ConsoleAccount) -> Result<bool, StorageError> {
    let n = conn
        .execute(
            "UPDATE console_account SET name = ?3, role = ?4, employee_id = ?5, language = ?6,
                 password_hash = ?7, disabled_ms = ?8
             WHERE id = ?1 AND org_id = ?2",
            params![
                a.id,
                a.org_id,
                a.name,
                a.role.as_str(),
                a.employee_id,
                a.language,
                a.password_hash,
                a.disabled_at.map(ms),
            ],
        )
        .map_err(map_err)?;
    Ok(n == 1)
}

pub(super) fn last_sign_ins(
    conn: &Connection,
    org_id: &str,
) -> Result<HashMap<String, DateTime<Utc>>, StorageError> {
    let rows = cached_rows(
        conn,
        "SELECT account_id, MAX(at_ms) AS at_ms FROM console_audit
         WHERE org_id = ?1 AND action = 'login_ok' AND account_id IS NOT NULL
         GROUP BY account_id",
        [org_id],
        |r| Ok((r.get::<_, String>("account_id")?, r.get::<_, i64>("at_ms")?)),
        |(id, at)| Ok((id, time(at)?)),
    )?;
    Ok(rows.into_iter().collect())
}

pub(super) fn audit_page(
    conn: &Connection,
    org_id: &str,
    q: &ConsoleAuditQuery,
) -> Result<Vec<ConsoleAuditEntry>, StorageError> {
    cached_rows(
        conn,
        "SELECT seq, account_id, email, action, client, detail, at_ms FROM console_audit
         WHERE org_id = ?1 AND seq < ?2
           AND (?3 IS NULL OR account_id = ?3) AND (?4 IS NULL OR action = ?4)
         ORDER BY seq DESC LIMIT ?5",
        params![
            org_id,
            q.before.unwrap_or(i64::MAX),
            q.account_id,
            q.action,
            q.limit
        ],
        super::console::audit_columns,
        super::console::audit_entry,
    )
}

pub(in crate::storage) const TOKEN_COLUMNS: &str = "id, org_id, name, token_hash, scopes, created_by, created_ms, \
     expires_ms, last_used_ms, revoked_ms";

pub(in crate::storage) type TokenColumns = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn token_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenColumns> {
    Ok((
        r.get("id")?,
        r.get("org_id")?,
        r.get("name")?,
        r.get("token_hash")?,
        r.get("scopes")?,
        r.get("created_by")?,
        r.get("created_ms")?,
        r.get("expires_ms")?,
        r.get("last_used_ms")?,
        r.get("revoked_ms")?,
    ))
}

pub(in crate::storage) fn token_row(c: TokenColumns) -> Result<ApiTokenRow, StorageError> {
    let (id, org_id, name, token_hash, scopes, created_by, created, expires, used, revoked) = c;
    Ok(ApiTokenRow {
        id,
        org_id,
        name,
        token_hash,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_by,
        created_at: time(created)?,
        expires_at: expires.map(time).transpose()?,
        last_used_at: used.map(time).transpose()?,
        revoked_at: revoked.map(time).transpose()?,
    })
}

pub(super) fn create_token(conn: &Connection, t: &ApiTokenRow) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO api_token (id, org_id, name, token_hash, scopes, created_by, created_ms,
             expires_ms, last_used_ms, revoked_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            t.id,
            t.org_id,
            t.name,
            t.token_hash,
            t.scopes.join(" "),
            t.created_by,
            ms(t.created_at),
            t.expires_at.map(ms),
            t.last_used_at.map(ms),
            t.revoked_at.map(ms),
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn tokens(conn: &Connection, org_id: &str) -> Result<Vec<ApiTokenRow>, StorageError> {
    cached_rows(
        conn,
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token WHERE org_id = ?1
             ORDER BY created_ms DESC, id DESC"
        ),
        [org_id],
        token_columns,
        token_row,
    )
}

pub(super) fn token_by_hash(
    conn: &Connection,
    token_hash: &str,
) -> Result<Option<ApiTokenRow>, StorageError> {
    let row = conn
        .query_row(
            &format!("SELECT {TOKEN_COLUMNS} FROM api_token WHERE token_hash = ?1"),
            [token_hash],
            token_columns,
        )
        .optional()
        .map_err(map_err)?;
    row.map(token_row).transpose()
}

pub(super) fn touch_token(
    conn: &Connection,
    token_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE api_token SET last_used_ms = MAX(COALESCE(last_used_ms, 0), ?2) WHERE id = ?1",
        params![token_id, ms(now)],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn revoke_token(
    conn: &Connection,
    org_id: &str,
    token_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let n = conn
        .execute(
            "UPDATE api_token SET revoked_ms = ?3
             WHERE id = ?1 AND org_id = ?2 AND revoked_ms IS NULL",
            params![token_id, org_id, ms(now)],
        )
        .map_err(map_err)?;
    Ok(n == 1)
}

pub(super) fn rotate_admin_token(
    conn: &Connection,
    org_id: &str,
    admin_token_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let n = conn
        .execute(
            "UPDATE org SET admin_token_hash = ?2, admin_token_rotated_ms = ?3 WHERE id = ?1",
            params![org_id, admin_token_hash, ms(now)],
        )
        .map_err(map_err)?;
    Ok(n == 1)
}
