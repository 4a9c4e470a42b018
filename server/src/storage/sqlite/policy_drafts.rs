//! The console's policy drafts (`policy_draft`): one per organisation, saved only when the
//! stored revision is the one the edit was made on.

use rusqlite::{Connection, OptionalExtension, params};

use super::sql::{map_err, ms, signed, time, unsigned};
use crate::storage::{PolicyDraft, StorageError};

pub(super) fn draft(conn: &Connection, org_id: &str) -> Result<Option<PolicyDraft>, StorageError> {
    let row = conn
        .prepare_cached(
            "SELECT base_version, rev, document, updated_ms, updated_by FROM policy_draft
             WHERE org_id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([org_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .optional()
        })
        .map_err(map_err)?;
    row.map(|(base, rev, document, updated_ms, updated_by)| {
        Ok(PolicyDraft {
            org_id: org_id.to_owned(),
            base_version: unsigned(base, "draft base version")?,
            rev: unsigned(rev, "draft revision")?,
            document,
            updated_at: time(updated_ms)?,
            updated_by,
        })
    })
    .transpose()
}

pub(super) fn save(
    conn: &mut Connection,
    d: &PolicyDraft,
    expected_rev: u64,
) -> Result<bool, StorageError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let current: Option<i64> = tx
        .query_row(
            "SELECT rev FROM policy_draft WHERE org_id = ?1",
            [&d.org_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    if current.unwrap_or(0) != signed(expected_rev)? {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO policy_draft (org_id, base_version, rev, document, updated_ms, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (org_id) DO UPDATE SET base_version = excluded.base_version,
             rev = excluded.rev, document = excluded.document,
             updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
        params![
            d.org_id,
            signed(d.base_version)?,
            signed(d.rev)?,
            d.document,
            ms(d.updated_at),
            d.updated_by
        ],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(true)
}

pub(super) fn delete(conn: &Connection, org_id: &str) -> Result<(), StorageError> {
    conn.execute("DELETE FROM policy_draft WHERE org_id = ?1", [org_id])
        .map_err(map_err)?;
    Ok(())
}
