//! The organisation tables of [`PostgresStorage`](super::PostgresStorage): organisations with
//! their policy signing keys (`org`) and every published policy version (`policy`). Publishing
//! locks the organisation's row, so two instances publishing at once store one version each
//! in order; the newer version is stored with the `policy_updated` change every device of the
//! organisation sees.

use r2d2_postgres::postgres::Row;
use zeroize::Zeroizing;

use super::sql::{Run, exec, feed_lock, get, map_rows, ms, one_row, opt_row, signed, unsigned};
use crate::storage::sqlite::orgs::{ORG_COLUMNS, OrgColumns, POLICY_COLUMNS, PolicyColumns};
use crate::storage::{NewOrg, OrgRow, PublishOutcome, StorageError, StoredPolicy};

fn org_columns(r: &Row) -> Result<OrgColumns, StorageError> {
    Ok(OrgColumns {
        id: get(r, "id")?,
        name: get(r, "name")?,
        signing_seed: Zeroizing::new(get(r, "signing_seed")?),
        public_key: get(r, "public_key")?,
        created_ms: get(r, "created_ms")?,
    })
}

fn policy_columns(r: &Row) -> Result<PolicyColumns, StorageError> {
    Ok(PolicyColumns {
        version: get(r, "version")?,
        document: get(r, "document")?,
        signature: get(r, "signature")?,
        published_ms: get(r, "published_ms")?,
    })
}

fn read_org(c: &mut impl Run, sql_where: &str, arg: &str) -> Result<Option<OrgRow>, StorageError> {
    opt_row(
        c,
        &format!("SELECT {ORG_COLUMNS} FROM org {sql_where}"),
        &[&arg],
    )?
    .map(|r| org_columns(&r)?.into_org())
    .transpose()
}

pub(super) fn org(c: &mut impl Run, org_id: &str) -> Result<Option<OrgRow>, StorageError> {
    read_org(c, "WHERE id = $1", org_id)
}

pub(super) fn org_by_admin_token(
    c: &mut impl Run,
    token_hash: &str,
) -> Result<Option<OrgRow>, StorageError> {
    read_org(c, "WHERE admin_token_hash = $1", token_hash)
}

pub(super) fn org_ids(c: &mut impl Run) -> Result<Vec<String>, StorageError> {
    map_rows(c, "SELECT id FROM org ORDER BY id", &[], |r| get(r, "id"))
}

pub(super) fn create_org(c: &mut impl Run, org: &NewOrg) -> Result<(), StorageError> {
    // Either unique key (id, admin token) taken: nothing inserted.
    let added = exec(
        c,
        "INSERT INTO org (id, name, admin_token_hash, signing_seed, public_key, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        &[
            &org.id,
            &org.name,
            &org.admin_token_hash,
            &org.signing_seed.as_slice(),
            &org.public_key,
            &ms(org.created_at),
        ],
    )?;
    if added == 0 {
        return Err(StorageError::Conflict(format!(
            "organisation {:?} or its admin token exists already",
            org.id
        )));
    }
    Ok(())
}

pub(super) fn update_org(
    c: &mut impl Run,
    org_id: &str,
    name: &str,
    admin_token_hash: &str,
) -> Result<bool, StorageError> {
    let taken: bool = get(
        &one_row(
            c,
            "SELECT EXISTS (SELECT 1 FROM org WHERE admin_token_hash = $1 AND id != $2) AS taken",
            &[&admin_token_hash, &org_id],
        )?,
        "taken",
    )?;
    if taken {
        return Err(StorageError::Conflict(format!(
            "the admin token of organisation {org_id:?} is another organisation's"
        )));
    }
    let changed = exec(
        c,
        "UPDATE org SET name = $2,
             admin_token_hash = CASE WHEN admin_token_rotated_ms IS NULL
                 THEN $3 ELSE admin_token_hash END
         WHERE id = $1 AND (name != $2
             OR (admin_token_rotated_ms IS NULL AND admin_token_hash != $3))",
        &[&org_id, &name, &admin_token_hash],
    )?;
    Ok(changed > 0)
}

pub(super) fn publish_policy(
    c: &mut impl Run,
    policy: &StoredPolicy,
    change: &str,
) -> Result<PublishOutcome, StorageError> {
    // Publications of one organisation, from any instance, one at a time.
    exec(
        c,
        "SELECT 1 FROM org WHERE id = $1 FOR UPDATE",
        &[&policy.org_id],
    )?;
    let current: Option<i64> = get(
        &one_row(
            c,
            "SELECT MAX(version) AS current FROM policy WHERE org_id = $1",
            &[&policy.org_id],
        )?,
        "current",
    )?;
    let version = signed(policy.version)?;
    if let Some(current) = current
        && current >= version
    {
        return Ok(PublishOutcome::NotNewer {
            current: unsigned(current, "policy version")?,
        });
    }
    let published = ms(policy.published_at);
    exec(
        c,
        "INSERT INTO policy (org_id, version, document, signature, published_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &policy.org_id,
            &version,
            &policy.document,
            &policy.signature,
            &published,
        ],
    )?;
    // Rosters and schedules live in the policy: everyone's days are recomputed right after
    // the commit (or at the next start).
    super::attendance::insert_mark(
        c,
        &crate::storage::AttendanceMark {
            seq: 0,
            org_id: policy.org_id.clone(),
            employee_id: None,
            cause: format!("policy:{}", policy.version),
            at: None,
            days: None,
        },
        policy.published_at,
    )?;
    let devices: i64 = get(
        &one_row(
            c,
            "SELECT count(*) AS n FROM device WHERE org_id = $1",
            &[&policy.org_id],
        )?,
        "n",
    )?;
    feed_lock(c)?;
    exec(
        c,
        "INSERT INTO change (org_id, device_id, body, created_ms) VALUES ($1, NULL, $2, $3)",
        &[&policy.org_id, &change, &published],
    )?;
    Ok(PublishOutcome::Published {
        devices: unsigned(devices, "device count")?,
    })
}

pub(super) fn current_policy(
    c: &mut impl Run,
    org_id: &str,
) -> Result<Option<StoredPolicy>, StorageError> {
    opt_row(
        c,
        &format!(
            "SELECT {POLICY_COLUMNS} FROM policy WHERE org_id = $1 ORDER BY version DESC LIMIT 1"
        ),
        &[&org_id],
    )?
    .map(|r| policy_columns(&r)?.into_policy(org_id))
    .transpose()
}

pub(super) fn policy(
    c: &mut impl Run,
    org_id: &str,
    version: u64,
) -> Result<Option<StoredPolicy>, StorageError> {
    let Ok(v) = i64::try_from(version) else {
        return Ok(None);
    };
    opt_row(
        c,
        &format!("SELECT {POLICY_COLUMNS} FROM policy WHERE org_id = $1 AND version = $2"),
        &[&org_id, &v],
    )?
    .map(|r| policy_columns(&r)?.into_policy(org_id))
    .transpose()
}
