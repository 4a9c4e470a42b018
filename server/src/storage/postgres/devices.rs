//! The device tables of [`PostgresStorage`](super::PostgresStorage): one-time enrolment codes
//! (`enrollment_code`), enrolled devices with their chain heads (`device`) and bearer tokens
//! (`token`, stored as hashes). Enrolment locks the code's row before it checks and uses it,
//! so a code enrols one device however many instances receive it; the identical request
//! repeated within the repeat window still answers with the device it enrolled.

use chrono::{DateTime, Utc};
use r2d2_postgres::postgres::Row;
use r2d2_postgres::postgres::types::ToSql;

use super::sql::{Run, exec, get, map_rows, ms, one_row, opt_row};
use crate::storage::sqlite::devices::{DEVICE_COLUMNS, DeviceColumns, attestation_column};
use crate::storage::{
    CodeOutcome, DeviceRevocation, DeviceRow, ENROL_REPEAT_WINDOW, EnrollOutcome,
    EnrollmentCodeRow, NewConsoleAudit, NewDevice, NewToken, RevokeOutcome, StorageError,
};

fn device_columns(r: &Row) -> Result<DeviceColumns, StorageError> {
    Ok(DeviceColumns {
        id: get(r, "id")?,
        org_id: get(r, "org_id")?,
        employee_id: get(r, "employee_id")?,
        public_key: get(r, "public_key")?,
        name: get(r, "name")?,
        platform: get(r, "platform")?,
        enrolled_ms: get(r, "enrolled_ms")?,
        head_seq: get(r, "head_seq")?,
        head_hash: get(r, "head_hash")?,
        head_punch_id: get(r, "head_punch_id")?,
        last_push_ms: get(r, "last_push_ms")?,
        revoked_ms: get(r, "revoked_ms")?,
        revoked_by: get(r, "revoked_by")?,
        revoke_reason: get(r, "revoke_reason")?,
        attestation: get(r, "attestation")?,
    })
}

/// The device matching `sql_where` (over `device d`, joins and `FOR UPDATE OF d` allowed).
pub(super) fn read_device(
    c: &mut impl Run,
    sql_where: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Option<DeviceRow>, StorageError> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM device d {sql_where}");
    opt_row(c, &sql, args)?
        .map(|r| device_columns(&r)?.into_device())
        .transpose()
}

pub(super) fn device(c: &mut impl Run, device_id: &str) -> Result<Option<DeviceRow>, StorageError> {
    read_device(c, "WHERE d.id = $1", &[&device_id])
}

pub(super) fn device_by_token(
    c: &mut impl Run,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<DeviceRow>, StorageError> {
    read_device(
        c,
        "JOIN token t ON t.device_id = d.id WHERE t.token_hash = $1 AND t.expires_ms > $2",
        &[&token_hash, &ms(now)],
    )
}

pub(super) fn devices(c: &mut impl Run, org_id: &str) -> Result<Vec<DeviceRow>, StorageError> {
    map_rows(
        c,
        &format!(
            "SELECT {DEVICE_COLUMNS} FROM device d WHERE d.org_id = $1 ORDER BY d.enrolled_ms, d.id"
        ),
        &[&org_id],
        |r| device_columns(r)?.into_device(),
    )
}

/// An `enrollment_code` row: whose it is, and when and for which device it was used.
struct Code {
    org_id: String,
    employee_id: String,
    used_ms: Option<i64>,
    device_id: Option<String>,
}

/// The code's row, locked until the transaction ends when `lock`.
fn read_code(c: &mut impl Run, code_hash: &str, lock: bool) -> Result<Option<Code>, StorageError> {
    let sql = format!(
        "SELECT org_id, employee_id, used_ms, device_id FROM enrollment_code WHERE code_hash = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    opt_row(c, &sql, &[&code_hash])?
        .map(|r| {
            Ok(Code {
                org_id: get(&r, "org_id")?,
                employee_id: get(&r, "employee_id")?,
                used_ms: get(&r, "used_ms")?,
                device_id: get(&r, "device_id")?,
            })
        })
        .transpose()
}

pub(super) fn enrollment_code(
    c: &mut impl Run,
    code_hash: &str,
) -> Result<Option<EnrollmentCodeRow>, StorageError> {
    Ok(
        read_code(c, code_hash, false)?.map(|code| EnrollmentCodeRow {
            org_id: code.org_id,
            employee_id: code.employee_id,
            used: code.used_ms.is_some(),
        }),
    )
}

pub(super) fn add_enrollment_code(
    c: &mut impl Run,
    org_id: &str,
    code_hash: &str,
    employee_id: &str,
    now: DateTime<Utc>,
) -> Result<CodeOutcome, StorageError> {
    let added = exec(
        c,
        "INSERT INTO enrollment_code (code_hash, org_id, employee_id, created_ms)
         VALUES ($1, $2, $3, $4) ON CONFLICT (code_hash) DO NOTHING",
        &[&code_hash, &org_id, &employee_id, &ms(now)],
    )?;
    if added == 1 {
        return Ok(CodeOutcome::Added);
    }
    match read_code(c, code_hash, false)? {
        Some(code) if code.org_id == org_id && code.employee_id == employee_id => {
            Ok(CodeOutcome::AlreadyPresent)
        }
        Some(_) => Ok(CodeOutcome::Taken),
        None => Err(StorageError::Busy),
    }
}

pub(super) fn enroll(
    c: &mut impl Run,
    code_hash: &str,
    device: &NewDevice,
    token: &NewToken,
) -> Result<EnrollOutcome, StorageError> {
    let (org_id, employee_id) = match read_code(c, code_hash, true)? {
        None => return Ok(EnrollOutcome::UnknownCode),
        Some(Code {
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
                    read_device(c, "WHERE d.id = $1", &[&id])?
                        .filter(|d| d.public_key == device.public_key && d.revoked.is_none())
                }
                _ => None,
            };
            let Some(existing) = repeat else {
                return Ok(EnrollOutcome::CodeUsed);
            };
            exec(c, "DELETE FROM token WHERE device_id = $1", &[&existing.id])?;
            insert_token(c, &existing.id, token)?;
            return Ok(EnrollOutcome::Enrolled {
                device: Box::new(existing),
            });
        }
        Some(code) => (code.org_id, code.employee_id),
    };
    let floor: i64 = get(
        &one_row(c, "SELECT COALESCE(MAX(seq), 0) AS floor FROM change", &[])?,
        "floor",
    )?;
    // A key another device holds, even one enrolling at this moment: nothing inserted.
    let added = exec(
        c,
        "INSERT INTO device (id, org_id, employee_id, public_key, name, platform, enrolled_ms, change_floor, attestation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (public_key) DO NOTHING",
        &[
            &device.id,
            &org_id,
            &employee_id,
            &device.public_key.as_slice(),
            &device.name,
            &device.platform,
            &ms(device.enrolled_at),
            &floor,
            &attestation_column(device)?,
        ],
    )?;
    if added == 0 {
        return Ok(EnrollOutcome::KeyInUse);
    }
    exec(
        c,
        "UPDATE enrollment_code SET used_ms = $2, device_id = $3 WHERE code_hash = $1",
        &[&code_hash, &ms(device.enrolled_at), &device.id],
    )?;
    insert_token(c, &device.id, token)?;
    let row = read_device(c, "WHERE d.id = $1", &[&device.id])?
        .ok_or_else(|| StorageError::Corrupt("the new device did not read back".into()))?;
    Ok(EnrollOutcome::Enrolled {
        device: Box::new(row),
    })
}

/// Stores a device's bearer token.
fn insert_token(c: &mut impl Run, device_id: &str, token: &NewToken) -> Result<(), StorageError> {
    exec(
        c,
        "INSERT INTO token (token_hash, device_id, issued_ms, expires_ms) VALUES ($1, $2, $3, $4)",
        &[
            &token.hash,
            &device_id,
            &ms(token.issued_at),
            &ms(token.expires_at),
        ],
    )?;
    Ok(())
}

pub(super) fn refresh_token(
    c: &mut impl Run,
    device_id: &str,
    issued_at: DateTime<Utc>,
    token: &NewToken,
) -> Result<bool, StorageError> {
    // Single-use: only a refresh signed later than the last one accepted. The update locks
    // the device row, so a concurrent refresh re-checks against this one's time.
    let claimed = exec(
        c,
        "UPDATE device SET refreshed_issued_ms = $2
         WHERE id = $1 AND (refreshed_issued_ms IS NULL OR refreshed_issued_ms < $2)",
        &[&device_id, &ms(issued_at)],
    )?;
    if claimed == 0 {
        return Ok(false);
    }
    exec(c, "DELETE FROM token WHERE device_id = $1", &[&device_id])?;
    insert_token(c, device_id, token)?;
    Ok(true)
}

pub(super) fn revoke_device(
    c: &mut impl Run,
    org_id: &str,
    device_id: &str,
    revocation: &DeviceRevocation,
    audit: &NewConsoleAudit,
) -> Result<RevokeOutcome, StorageError> {
    let Some(device) = read_device(
        c,
        "WHERE d.id = $1 AND d.org_id = $2 FOR UPDATE OF d",
        &[&device_id, &org_id],
    )?
    else {
        return Ok(RevokeOutcome::UnknownDevice);
    };
    if let Some(earlier) = device.revoked {
        return Ok(RevokeOutcome::AlreadyRevoked(earlier));
    }
    exec(
        c,
        "UPDATE device SET revoked_ms = $2, revoked_by = $3, revoke_reason = $4 WHERE id = $1",
        &[
            &device_id,
            &ms(revocation.at),
            &revocation.by,
            &revocation.reason,
        ],
    )?;
    super::console::add_audit(c, audit)?;
    Ok(RevokeOutcome::Revoked)
}
