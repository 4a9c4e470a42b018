//! Console administration in [`PostgresStorage`](super::PostgresStorage): the accounts of an
//! organisation and changes to them, the audit read newest first with filters, scoped API
//! tokens (`api_token`, by the SHA-256 of the token) and the rotation of the admin token.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use r2d2_postgres::postgres::Row;

use super::console::{accounts, audit_columns};
use super::sql::{Run, exec, get, limit, map_rows, ms, opt_row, time};
use crate::storage::sqlite::console::audit_entry;
use crate::storage::sqlite::console_admin::{TOKEN_COLUMNS, TokenColumns, token_row};
use crate::storage::{
    ApiTokenRow, ConsoleAccount, ConsoleAuditEntry, ConsoleAuditQuery, StorageError,
};

pub(super) fn accounts_of(
    c: &mut impl Run,
    org_id: &str,
) -> Result<Vec<ConsoleAccount>, StorageError> {
    accounts(c, "WHERE org_id = $1 ORDER BY email", &[&org_id])
}

pub(super) fn update_account(c: &mut impl Run, a: &ConsoleAccount) -> Result<bool, StorageError> {
    let n = exec(
        c,
        "UPDATE console_account SET name = $3, role = $4, employee_id = $5, language = $6,
             password_hash = $7, disabled_ms = $8
         WHERE id = $1 AND org_id = $2",
        &[
            &a.id,
            &a.org_id,
            &a.name,
            &a.role.as_str(),
            &a.employee_id,
            &a.language,
            &a.password_hash,
            &a.disabled_at.map(ms),
        ],
    )?;
    Ok(n == 1)
}

pub(super) fn last_sign_ins(
    c: &mut impl Run,
    org_id: &str,
) -> Result<HashMap<String, DateTime<Utc>>, StorageError> {
    let rows = map_rows(
        c,
        "SELECT account_id, MAX(at_ms) AS at_ms FROM console_audit
         WHERE org_id = $1 AND action = 'login_ok' AND account_id IS NOT NULL
         GROUP BY account_id",
        &[&org_id],
        |r| Ok((get::<String>(r, "account_id")?, time(get(r, "at_ms")?)?)),
    )?;
    Ok(rows.into_iter().collect())
}

pub(super) fn audit_page(
    c: &mut impl Run,
    org_id: &str,
    q: &ConsoleAuditQuery,
) -> Result<Vec<ConsoleAuditEntry>, StorageError> {
    map_rows(
        c,
        "SELECT seq, account_id, email, action, client, detail, at_ms FROM console_audit
         WHERE org_id = $1 AND seq < $2
           AND ($3::text IS NULL OR account_id = $3) AND ($4::text IS NULL OR action = $4)
         ORDER BY seq DESC LIMIT $5",
        &[
            &org_id,
            &q.before.unwrap_or(i64::MAX),
            &q.account_id,
            &q.action,
            &limit(q.limit),
        ],
        |r| audit_entry(audit_columns(r)?),
    )
}

fn token_columns(r: &Row) -> Result<TokenColumns, StorageError> {
    Ok((
        get(r, "id")?,
        get(r, "org_id")?,
        get(r, "name")?,
        get(r, "token_hash")?,
        get(r, "scopes")?,
        get(r, "created_by")?,
        get(r, "created_ms")?,
        get(r, "expires_ms")?,
        get(r, "last_used_ms")?,
        get(r, "revoked_ms")?,
    ))
}

pub(super) fn create_token(c: &mut impl Run, t: &ApiTokenRow) -> Result<(), StorageError> {
    exec(
        c,
        "INSERT INTO api_token (id, org_id, name, token_hash, scopes, created_by, created_ms,
             expires_ms, last_used_ms, revoked_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &t.id,
            &t.org_id,
            &t.name,
            &t.token_hash,
            &t.scopes.join(" "),
            &t.created_by,
            &ms(t.created_at),
            &t.expires_at.map(ms),
            &t.last_used_at.map(ms),
            &t.revoked_at.map(ms),
        ],
    )?;
    Ok(())
}

pub(super) fn tokens(c: &mut impl Run, org_id: &str) -> Result<Vec<ApiTokenRow>, StorageError> {
    map_rows(
        c,
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token WHERE org_id = $1
             ORDER BY created_ms DESC, id DESC"
        ),
        &[&org_id],
        |r| token_row(token_columns(r)?),
    )
}

pub(super) fn token_by_hash(
    c: &mut impl Run,
    token_hash: &str,
) -> Result<Option<ApiTokenRow>, StorageError> {
    opt_row(
        c,
        &format!("SELECT {TOKEN_COLUMNS} FROM api_token WHERE token_hash = $1"),
        &[&token_hash],
    )?
    .map(|r| token_row(token_columns(&r)?))
    .transpose()
}

pub(super) fn touch_token(
    c: &mut impl Run,
    token_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    exec(
        c,
        "UPDATE api_token SET last_used_ms = GREATEST(COALESCE(last_used_ms, 0), $2) WHERE id = $1",
        &[&token_id, &ms(now)],
    )?;
    Ok(())
}

pub(super) fn revoke_token(
    c: &mut impl Run,
    org_id: &str,
    token_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let n = exec(
        c,
        "UPDATE api_token SET revoked_ms = $3
         WHERE id = $1 AND org_id = $2 AND revoked_ms IS NULL",
        &[&token_id, &org_id, &ms(now)],
    )?;
    Ok(n == 1)
}

pub(super) fn rotate_admin_token(
    c: &mut impl Run,
    org_id: &str,
    admin_token_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let n = exec(
        c,
        "UPDATE org SET admin_token_hash = $2, admin_token_rotated_ms = $3 WHERE id = $1",
        &[&org_id, &admin_token_hash, &ms(now)],
    )?;
    Ok(n == 1)
}
