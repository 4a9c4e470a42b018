//! The device tables of [`SqliteStorage`](super::SqliteStorage): one-time enrolment codes
//! (`enrollment_code`), enrolled devices with their chain heads (`device`) and bearer tokens
//! (`token`, stored as hashes). Enrolment uses the code, registers the device and its first
//! token in one transaction.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::sql::{cached_row, cached_rows, map_err, ms, time, unsigned};
use crate::storage::{
    ChainHead, CodeOutcome, DeviceAttestation, DeviceRevocation, DeviceRow, ENROL_REPEAT_WINDOW,
    EnrollOutcome, EnrollmentCodeRow, NewConsoleAudit, NewDevice, NewToken, RevokeOutcome,
    StorageError,
};

/// [`NewDevice::attestation`] as stored: JSON text, or NULL.
pub(in crate::storage) fn attestation_column(
    device: &NewDevice,
) -> Result<Option<String>, StorageError> {
    device
        .attestation
        .as_ref()
        .map(|a| {
            serde_json::to_string(a)
                .map_err(|e| StorageError::Corrupt(format!("attestation does not encode: {e}")))
        })
        .transpose()
}

/// The columns of a `device d` row, named as [`DeviceColumns::from_row`] reads them.
pub(in crate::storage) const DEVICE_COLUMNS: &str = "d.id AS id, d.org_id AS org_id, d.employee_id AS employee_id, \
                              d.public_key AS public_key, d.name AS name, \
                              d.platform AS platform, d.enrolled_ms AS enrolled_ms, \
                              d.head_seq AS head_seq, d.head_hash AS head_hash, \
                              d.head_punch_id AS head_punch_id, \
                              (SELECT p.received_ms FROM punch p \
                               WHERE p.device_id = d.id AND p.seq = d.head_seq) AS last_push_ms, \
                              d.revoked_ms AS revoked_ms, d.revoked_by AS revoked_by, \
                              d.revoke_reason AS revoke_reason, \
                              d.attestation AS attestation";

/// A `device` row as stored.
pub(in crate::storage) struct DeviceColumns {
    pub(in crate::storage) id: String,
    pub(in crate::storage) org_id: String,
    pub(in crate::storage) employee_id: String,
    pub(in crate::storage) public_key: Vec<u8>,
    pub(in crate::storage) name: String,
    pub(in crate::storage) platform: String,
    pub(in crate::storage) enrolled_ms: i64,
    pub(in crate::storage) head_seq: Option<i64>,
    pub(in crate::storage) head_hash: Option<String>,
    pub(in crate::storage) head_punch_id: Option<String>,
    pub(in crate::storage) last_push_ms: Option<i64>,
    pub(in crate::storage) revoked_ms: Option<i64>,
    pub(in crate::storage) revoked_by: Option<String>,
    pub(in crate::storage) revoke_reason: Option<String>,
    /// [`DeviceAttestation`] as JSON.
    pub(in crate::storage) attestation: Option<String>,
}

impl DeviceColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<DeviceColumns> {
        Ok(DeviceColumns {
            id: r.get("id")?,
            org_id: r.get("org_id")?,
            employee_id: r.get("employee_id")?,
            public_key: r.get("public_key")?,
            name: r.get("name")?,
            platform: r.get("platform")?,
            enrolled_ms: r.get("enrolled_ms")?,
            head_seq: r.get("head_seq")?,
            head_hash: r.get("head_hash")?,
            head_punch_id: r.get("head_punch_id")?,
            last_push_ms: r.get("last_push_ms")?,
            revoked_ms: r.get("revoked_ms")?,
            revoked_by: r.get("revoked_by")?,
            revoke_reason: r.get("revoke_reason")?,
            attestation: r.get("attestation")?,
        })
    }

    pub(in crate::storage) fn into_device(self) -> Result<DeviceRow, StorageError> {
        let id = self.id;
        let public_key = <[u8; 32]>::try_from(self.public_key.as_slice()).map_err(|_| {
            StorageError::Corrupt(format!("device {id}: public key is not 32 bytes"))
        })?;
        let head = match (self.head_seq, self.head_hash, self.head_punch_id) {
            (Some(seq), Some(hash), Some(punch_id)) => Some(ChainHead {
                seq: unsigned(seq, "head_seq")?,
                hash,
                punch_id,
            }),
            (None, None, None) => None,
            _ => {
                return Err(StorageError::Corrupt(format!(
                    "device {id}: incomplete chain head"
                )));
            }
        };
        let revoked = match self.revoked_ms {
            Some(at) => Some(DeviceRevocation {
                at: time(at)?,
                by: self.revoked_by.unwrap_or_default(),
                reason: self.revoke_reason.unwrap_or_default(),
            }),
            None => None,
        };
        let attestation = self
            .attestation
            .map(|json| {
                serde_json::from_str::<DeviceAttestation>(&json)
                    .map_err(|e| StorageError::Corrupt(format!("device {id}: attestation: {e}")))
            })
            .transpose()?;
        Ok(DeviceRow {
            id,
            org_id: self.org_id,
            employee_id: self.employee_id,
            public_key,
            name: self.name,
            platform: self.platform,
            enrolled_at: time(self.enrolled_ms)?,
            head,
            last_push_at: self.last_push_ms.map(time).transpose()?,
            revoked,
            attestation,
        })
    }
}

/// The device matching `sql_where` (over `device d`, joins allowed).
pub(super) fn read_device(
    conn: &Connection,
    sql_where: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Option<DeviceRow>, StorageError> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM device d {sql_where}");
    cached_row(conn, &sql, args, DeviceColumns::from_row)
        .optional()
        .map_err(map_err)?
        .map(DeviceColumns::into_device)
        .transpose()
}

pub(super) fn device(
    conn: &Connection,
    device_id: &str,
) -> Result<Option<DeviceRow>, StorageError> {
    read_device(conn, "WHERE d.id = ?1", &[&device_id])
}

pub(super) fn device_by_token(
    conn: &Connection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<DeviceRow>, StorageError> {
    read_device(
        conn,
        "JOIN token t ON t.device_id = d.id WHERE t.token_hash = ?1 AND t.expires_ms > ?2",
        &[&token_hash, &ms(now)],
    )
}

pub(super) fn devices(conn: &Connection, org_id: &str) -> Result<Vec<DeviceRow>, StorageError> {
    cached_rows(
        conn,
        &format!(
            "SELECT {DEVICE_COLUMNS} FROM device d WHERE d.org_id = ?1 ORDER BY d.enrolled_ms, d.id"
        ),
        [org_id],
        DeviceColumns::from_row,
        DeviceColumns::into_device,
    )
}

/// An `enrollment_code` row: whose it is and whether it was used.
pub(in crate::storage) struct CodeColumns {
    pub(in crate::storage) org_id: String,
    pub(in crate::storage) employee_id: String,
    pub(in crate::storage) used_ms: Option<i64>,
    /// The device the code enrolled, once used.
    pub(in crate::storage) device_id: Option<String>,
}

impl CodeColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<CodeColumns> {
        Ok(CodeColumns {
            org_id: r.get("org_id")?,
            employee_id: r.get("employee_id")?,
            used_ms: r.get("used_ms")?,
            device_id: r.get("device_id")?,
        })
    }
}

fn read_code(conn: &Connection, code_hash: &str) -> Result<Option<CodeColumns>, StorageError> {
    conn.query_row(
        "SELECT org_id, employee_id, used_ms, device_id FROM enrollment_code WHERE code_hash = ?1",
        [code_hash],
        CodeColumns::from_row,
    )
    .optional()
    .map_err(map_err)
}

pub(super) fn enrollment_code(
    conn: &Connection,
    code_hash: &str,
) -> Result<Option<EnrollmentCodeRow>, StorageError> {
    Ok(read_code(conn, code_hash)?.map(|code| EnrollmentCodeRow {
        org_id: code.org_id,
        employee_id: code.employee_id,
        used: code.used_ms.is_some(),
    }))
}

pub(super) fn add_enrollment_code(
    conn: &Connection,
    org_id: &str,
    code_hash: &str,
    employee_id: &str,
    now: DateTime<Utc>,
) -> Result<CodeOutcome, StorageError> {
    match read_code(conn, code_hash)? {
        Some(code) if code.org_id == org_id && code.employee_id == employee_id => {
            Ok(CodeOutcome::AlreadyPresent)
        }
        Some(_) => Ok(CodeOutcome::Taken),
        None => {
            conn.execute(
                "INSERT INTO enrollment_code (code_hash, org_id, employee_id, created_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![code_hash, org_id, employee_id, ms(now)],
            )
            .map_err(map_err)?;
            Ok(CodeOutcome::Added)
        }
    }
}

pub(super) fn enroll(
    conn: &mut Connection,
    code_hash: &str,
    device: &NewDevice,
    token: &NewToken,
) -> Result<EnrollOutcome, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let (org_id, employee_id) = match read_code(&tx, code_hash)? {
        None => return Ok(EnrollOutcome::UnknownCode),
        Some(CodeColumns {
            used_ms: Some(used_ms),
            device_id,
            ..
        }) => {
            // The same request again, its first answer lost: the same device, a new token.
            let repeat = match device_id {
                Some(id)
                    if device.enrolled_at.timestamp_millis() - used_ms
                        <= ENROL_REPEAT_WINDOW.num_milliseconds() =>
                {
                    read_device(&tx, "WHERE d.id = ?1", &[&id])?
                        .filter(|d| d.public_key == device.public_key && d.revoked.is_none())
                }
                _ => None,
            };
            let Some(existing) = repeat else {
                return Ok(EnrollOutcome::CodeUsed);
            };
            tx.execute("DELETE FROM token WHERE device_id = ?1", [&existing.id])
                .map_err(map_err)?;
            insert_token(&tx, &existing.id, token)?;
            tx.commit().map_err(map_err)?;
            return Ok(EnrollOutcome::Enrolled {
                device: Box::new(existing),
            });
        }
        Some(code) => (code.org_id, code.employee_id),
    };
    let key_used: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM device WHERE public_key = ?1)",
            [device.public_key.as_slice()],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    if key_used {
        return Ok(EnrollOutcome::KeyInUse);
    }
    let floor: i64 = tx
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM change", [], |r| r.get(0))
        .map_err(map_err)?;
    tx.execute(
        "INSERT INTO device (id, org_id, employee_id, public_key, name, platform, enrolled_ms, change_floor, attestation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            device.id,
            org_id,
            employee_id,
            device.public_key.as_slice(),
            device.name,
            device.platform,
            ms(device.enrolled_at),
            floor,
            attestation_column(device)?
        ],
    )
    .map_err(map_err)?;
    tx.execute(
        "UPDATE enrollment_code SET used_ms = ?2, device_id = ?3 WHERE code_hash = ?1",
        params![code_hash, ms(device.enrolled_at), device.id],
    )
    .map_err(map_err)?;
    insert_token(&tx, &device.id, token)?;
    let row = read_device(&tx, "WHERE d.id = ?1", &[&device.id])?
        .ok_or_else(|| StorageError::Corrupt("the new device did not read back".into()))?;
    tx.commit().map_err(map_err)?;
    Ok(EnrollOutcome::Enrolled {
        device: Box::new(row),
    })
}

/// Stores a device's bearer token.
fn insert_token(conn: &Connection, device_id: &str, token: &NewToken) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO token (token_hash, device_id, issued_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
        params![
            token.hash,
            device_id,
            ms(token.issued_at),
            ms(token.expires_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn refresh_token(
    conn: &mut Connection,
    device_id: &str,
    issued_at: DateTime<Utc>,
    token: &NewToken,
) -> Result<bool, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    // Single-use: only a refresh signed later than the last one accepted.
    let claimed = tx
        .execute(
            "UPDATE device SET refreshed_issued_ms = ?2
             WHERE id = ?1 AND (refreshed_issued_ms IS NULL OR refreshed_issued_ms < ?2)",
            params![device_id, ms(issued_at)],
        )
        .map_err(map_err)?;
    if claimed == 0 {
        return Ok(false);
    }
    tx.execute("DELETE FROM token WHERE device_id = ?1", [device_id])
        .map_err(map_err)?;
    insert_token(&tx, device_id, token)?;
    tx.commit().map_err(map_err)?;
    Ok(true)
}

pub(super) fn revoke_device(
    conn: &mut Connection,
    org_id: &str,
    device_id: &str,
    revocation: &DeviceRevocation,
    audit: &NewConsoleAudit,
) -> Result<RevokeOutcome, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let Some(device) = read_device(
        &tx,
        "WHERE d.id = ?1 AND d.org_id = ?2",
        &[&device_id, &org_id],
    )?
    else {
        return Ok(RevokeOutcome::UnknownDevice);
    };
    if let Some(earlier) = device.revoked {
        return Ok(RevokeOutcome::AlreadyRevoked(earlier));
    }
    tx.execute(
        "UPDATE device SET revoked_ms = ?2, revoked_by = ?3, revoke_reason = ?4 WHERE id = ?1",
        params![
            device_id,
            ms(revocation.at),
            revocation.by,
            revocation.reason
        ],
    )
    .map_err(map_err)?;
    super::console::add_audit(&tx, audit)?;
    tx.commit().map_err(map_err)?;
    Ok(RevokeOutcome::Revoked)
}
