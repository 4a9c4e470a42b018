//! The console's policy drafts in [`PostgresStorage`](super::PostgresStorage)
//! (`policy_draft`): one per organisation, saved only when the stored revision is the one the
//! edit was made on; the row is locked while it is compared, so two instances saving at once
//! cannot both win.

use super::sql::{Run, exec, get, ms, opt_row, signed, time, unsigned};
use crate::storage::{PolicyDraft, StorageError};

pub(super) fn draft(c: &mut impl Run, org_id: &str) -> Result<Option<PolicyDraft>, StorageError> {
    opt_row(
        c,
        "SELECT base_version, rev, document, updated_ms, updated_by FROM policy_draft
         WHERE org_id = $1",
        &[&org_id],
    )?
    .map(|r| {
        Ok(PolicyDraft {
            org_id: org_id.to_owned(),
            base_version: unsigned(get(&r, "base_version")?, "draft base version")?,
            rev: unsigned(get(&r, "rev")?, "draft revision")?,
            document: get(&r, "document")?,
            updated_at: time(get(&r, "updated_ms")?)?,
            updated_by: get(&r, "updated_by")?,
        })
    })
    .transpose()
}

pub(super) fn save(
    c: &mut impl Run,
    d: &PolicyDraft,
    expected_rev: u64,
) -> Result<bool, StorageError> {
    // The organisation's row orders the saves of its draft, the first one included.
    exec(
        c,
        "SELECT 1 FROM org WHERE id = $1 FOR UPDATE",
        &[&d.org_id],
    )?;
    let current: Option<i64> = opt_row(
        c,
        "SELECT rev FROM policy_draft WHERE org_id = $1",
        &[&d.org_id],
    )?
    .map(|r| get(&r, "rev"))
    .transpose()?;
    if current.unwrap_or(0) != signed(expected_rev)? {
        return Ok(false);
    }
    exec(
        c,
        "INSERT INTO policy_draft (org_id, base_version, rev, document, updated_ms, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (org_id) DO UPDATE SET base_version = excluded.base_version,
             rev = excluded.rev, document = excluded.document,
             updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
        &[
            &d.org_id,
            &signed(d.base_version)?,
            &signed(d.rev)?,
            &d.document,
            &ms(d.updated_at),
            &d.updated_by,
        ],
    )?;
    Ok(true)
}

pub(super) fn delete(c: &mut impl Run, org_id: &str) -> Result<(), StorageError> {
    exec(c, "DELETE FROM policy_draft WHERE org_id = $1", &[&org_id])?;
    Ok(())
}
