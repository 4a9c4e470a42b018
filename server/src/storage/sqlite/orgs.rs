//! The organisation tables of [`SqliteStorage`](super::SqliteStorage): organisations with
//! their policy signing keys (`org`) and every published policy version (`policy`). A newer
//! version is stored together with the `policy_updated` change every device of the
//! organisation sees.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use zeroize::Zeroizing;

use super::sql::{map_err, ms, signed, time, unsigned};
use crate::storage::{NewOrg, OrgRow, PublishOutcome, StorageError, StoredPolicy};

/// An `org` row as stored.
pub(in crate::storage) struct OrgColumns {
    pub(in crate::storage) id: String,
    pub(in crate::storage) name: String,
    pub(in crate::storage) signing_seed: Zeroizing<Vec<u8>>,
    pub(in crate::storage) public_key: String,
    pub(in crate::storage) created_ms: i64,
}

pub(in crate::storage) const ORG_COLUMNS: &str = "id, name, signing_seed, public_key, created_ms";

impl OrgColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<OrgColumns> {
        Ok(OrgColumns {
            id: r.get("id")?,
            name: r.get("name")?,
            signing_seed: Zeroizing::new(r.get("signing_seed")?),
            public_key: r.get("public_key")?,
            created_ms: r.get("created_ms")?,
        })
    }

    pub(in crate::storage) fn into_org(self) -> Result<OrgRow, StorageError> {
        let seed = <[u8; 32]>::try_from(self.signing_seed.as_slice()).map_err(|_| {
            StorageError::Corrupt(format!("org {}: signing key is not 32 bytes", self.id))
        })?;
        Ok(OrgRow {
            id: self.id,
            name: self.name,
            signing_seed: Zeroizing::new(seed),
            public_key: self.public_key,
            created_at: time(self.created_ms)?,
        })
    }
}

/// A `policy` row as stored.
pub(in crate::storage) struct PolicyColumns {
    pub(in crate::storage) version: i64,
    pub(in crate::storage) document: String,
    pub(in crate::storage) signature: String,
    pub(in crate::storage) published_ms: i64,
}

pub(in crate::storage) const POLICY_COLUMNS: &str = "version, document, signature, published_ms";

impl PolicyColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<PolicyColumns> {
        Ok(PolicyColumns {
            version: r.get("version")?,
            document: r.get("document")?,
            signature: r.get("signature")?,
            published_ms: r.get("published_ms")?,
        })
    }

    pub(in crate::storage) fn into_policy(
        self,
        org_id: &str,
    ) -> Result<StoredPolicy, StorageError> {
        Ok(StoredPolicy {
            org_id: org_id.to_string(),
            version: unsigned(self.version, "policy version")?,
            document: self.document,
            signature: self.signature,
            published_at: time(self.published_ms)?,
        })
    }
}

/// The organisation matching `sql_where` (over `org`).
fn read_org(conn: &Connection, sql_where: &str, arg: &str) -> Result<Option<OrgRow>, StorageError> {
    conn.query_row(
        &format!("SELECT {ORG_COLUMNS} FROM org {sql_where}"),
        [arg],
        OrgColumns::from_row,
    )
    .optional()
    .map_err(map_err)?
    .map(OrgColumns::into_org)
    .transpose()
}

pub(super) fn org(conn: &Connection, org_id: &str) -> Result<Option<OrgRow>, StorageError> {
    read_org(conn, "WHERE id = ?1", org_id)
}

pub(super) fn org_by_admin_token(
    conn: &Connection,
    token_hash: &str,
) -> Result<Option<OrgRow>, StorageError> {
    read_org(conn, "WHERE admin_token_hash = ?1", token_hash)
}

pub(super) fn create_org(conn: &Connection, org: &NewOrg) -> Result<(), StorageError> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM org WHERE id = ?1 OR admin_token_hash = ?2)",
            params![org.id, org.admin_token_hash],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    if exists {
        return Err(StorageError::Conflict(format!(
            "organisation {:?} or its admin token exists already",
            org.id
        )));
    }
    conn.execute(
        "INSERT INTO org (id, name, admin_token_hash, signing_seed, public_key, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            org.id,
            org.name,
            org.admin_token_hash,
            org.signing_seed.as_slice(),
            org.public_key,
            ms(org.created_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn update_org(
    conn: &Connection,
    org_id: &str,
    name: &str,
    admin_token_hash: &str,
) -> Result<bool, StorageError> {
    let taken: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM org WHERE admin_token_hash = ?1 AND id != ?2)",
            params![admin_token_hash, org_id],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    if taken {
        return Err(StorageError::Conflict(format!(
            "the admin token of organisation {org_id:?} is another organisation's"
        )));
    }
    let changed = conn
        .execute(
            "UPDATE org SET name = ?2,
                 admin_token_hash = CASE WHEN admin_token_rotated_ms IS NULL
                     THEN ?3 ELSE admin_token_hash END
             WHERE id = ?1 AND (name != ?2
                 OR (admin_token_rotated_ms IS NULL AND admin_token_hash != ?3))",
            params![org_id, name, admin_token_hash],
        )
        .map_err(map_err)?;
    Ok(changed > 0)
}

pub(super) fn publish_policy(
    conn: &mut Connection,
    policy: &StoredPolicy,
    change: &str,
) -> Result<PublishOutcome, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let current: Option<i64> = tx
        .query_row(
            "SELECT MAX(version) FROM policy WHERE org_id = ?1",
            [&policy.org_id],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    let version = signed(policy.version)?;
    if let Some(current) = current
        && current >= version
    {
        return Ok(PublishOutcome::NotNewer {
            current: unsigned(current, "policy version")?,
        });
    }
    tx.execute(
        "INSERT INTO policy (org_id, version, document, signature, published_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            policy.org_id,
            version,
            policy.document,
            policy.signature,
            ms(policy.published_at)
        ],
    )
    .map_err(map_err)?;
    tx.execute(
        "INSERT INTO change (org_id, device_id, body, created_ms) VALUES (?1, NULL, ?2, ?3)",
        params![policy.org_id, change, ms(policy.published_at)],
    )
    .map_err(map_err)?;
    // Rosters and schedules live in the policy: everyone's days are recomputed right after
    // the commit (or at the next start).
    super::attendance::insert_mark(
        &tx,
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
    let devices: i64 = tx
        .query_row(
            "SELECT count(*) FROM device WHERE org_id = ?1",
            [&policy.org_id],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(PublishOutcome::Published {
        devices: unsigned(devices, "device count")?,
    })
}

pub(super) fn current_policy(
    conn: &Connection,
    org_id: &str,
) -> Result<Option<StoredPolicy>, StorageError> {
    conn.query_row(
        &format!(
            "SELECT {POLICY_COLUMNS} FROM policy WHERE org_id = ?1 ORDER BY version DESC LIMIT 1"
        ),
        [org_id],
        PolicyColumns::from_row,
    )
    .optional()
    .map_err(map_err)?
    .map(|row| row.into_policy(org_id))
    .transpose()
}

pub(super) fn policy(
    conn: &Connection,
    org_id: &str,
    version: u64,
) -> Result<Option<StoredPolicy>, StorageError> {
    let Ok(v) = i64::try_from(version) else {
        return Ok(None);
    };
    conn.query_row(
        &format!("SELECT {POLICY_COLUMNS} FROM policy WHERE org_id = ?1 AND version = ?2"),
        params![org_id, v],
        PolicyColumns::from_row,
    )
    .optional()
    .map_err(map_err)?
    .map(|row| row.into_policy(org_id))
    .transpose()
}
