//! The approval tables of [`SqliteStorage`](super::SqliteStorage): applying a submission or a
//! decision inside a push's savepoint, and the reads behind the request, inbox, leave and
//! audit endpoints. Every query filters on `org_id`.

use daka_core::approvals::leave::{Movement, MovementKind};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sqlite::{cached_rows, map_err, ms, time};
use super::{
    ApprovalDecision, ApprovalKey, ApprovalState, AuditEntry, Correction, StorageError, StoredItem,
    StoredRequest,
};

pub(super) const REQUEST_COLUMNS: &str = "request_id, template_id, request_type, policy_version, applicant, form, state, month, created_ms, updated_ms";

type RequestColumns = (
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

fn request_columns(r: &Row<'_>) -> rusqlite::Result<RequestColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn request_row(c: RequestColumns) -> Result<StoredRequest, StorageError> {
    let (
        request_id,
        template_id,
        request_type,
        version,
        applicant,
        form,
        state,
        month,
        created,
        updated,
    ) = c;
    Ok(StoredRequest {
        state: serde_json::from_str(&state)
            .map_err(|e| StorageError::Corrupt(format!("request {request_id}: state {e}")))?,
        request_id,
        template_id,
        request_type,
        policy_version: u64::try_from(version)
            .map_err(|_| StorageError::Corrupt(format!("policy version {version}")))?,
        applicant,
        form,
        month,
        created_at: time(created)?,
        updated_at: time(updated)?,
    })
}

fn kind_text(kind: MovementKind) -> &'static str {
    match kind {
        MovementKind::Hold => "hold",
        MovementKind::Release => "release",
        MovementKind::Take => "take",
    }
}

fn movement_row(r: &Row<'_>) -> rusqlite::Result<(String, String, i32, String, i64, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn movement(
    (employee, leave_type, year, kind, halves, request_id): (
        String,
        String,
        i32,
        String,
        i64,
        String,
    ),
) -> Result<Movement, StorageError> {
    let kind = match kind.as_str() {
        "hold" => MovementKind::Hold,
        "release" => MovementKind::Release,
        "take" => MovementKind::Take,
        other => {
            return Err(StorageError::Corrupt(format!(
                "leave movement kind {other:?}"
            )));
        }
    };
    Ok(Movement {
        employee,
        leave_type,
        year,
        kind,
        halves,
        request_id,
    })
}

pub(super) fn read_request(
    conn: &Connection,
    org_id: &str,
    request_id: &str,
) -> Result<Option<StoredRequest>, StorageError> {
    conn.prepare_cached(&format!(
        "SELECT {REQUEST_COLUMNS} FROM request WHERE org_id = ?1 AND request_id = ?2"
    ))
    .and_then(|mut s| {
        s.query_row(params![org_id, request_id], request_columns)
            .optional()
    })
    .map_err(map_err)?
    .map(request_row)
    .transpose()
}

pub(super) fn read_movements(
    conn: &Connection,
    org_id: &str,
    employee_id: &str,
) -> Result<Vec<Movement>, StorageError> {
    cached_rows(
        conn,
        "SELECT employee_id, leave_type, year, kind, halves, request_id FROM leave_movement
         WHERE org_id = ?1 AND employee_id = ?2 ORDER BY seq",
        params![org_id, employee_id],
        movement_row,
        movement,
    )
}

/// The body of `ItemBatch::apply_approval` inside its savepoint `tx`; the caller commits.
pub(super) fn apply_approval_on(
    tx: &Connection,
    key: &ApprovalKey<'_>,
    existing: Option<StoredItem>,
    judge: &mut dyn FnMut(&ApprovalState) -> ApprovalDecision,
) -> Result<ApprovalDecision, StorageError> {
    let request = read_request(tx, key.org_id, key.request_id)?;
    let applicant = request
        .as_ref()
        .map_or(key.applicant, |r| r.applicant.as_str())
        .to_owned();
    let leave = read_movements(tx, key.org_id, &applicant)?;
    let missed_punch_months = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT month FROM request WHERE org_id = ?1 AND applicant = ?2 AND month IS NOT NULL
                   AND status IN ('pending', 'returned', 'approved')",
            )
            .map_err(map_err)?;
        stmt.query_map(params![key.org_id, applicant], |r| r.get(0))
            .map_err(map_err)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(map_err)?
    };
    let punch = match key.punch_id {
        Some(id) => tx
            .prepare_cached(
                "SELECT employee_id, status FROM punch WHERE org_id = ?1 AND punch_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![key.org_id, id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(map_err)?,
        None => None,
    };
    // Other open or approved reviews of the same punch (a punch is reviewed once).
    let punch_reviews = match key.punch_id {
        Some(id) => tx
            .prepare_cached(
                "SELECT request_id FROM request
                 WHERE org_id = ?1 AND request_type = 'field_punch_review' AND request_id != ?3
                   AND status IN ('pending', 'returned', 'approved')
                   AND json_extract(form, '$.punch_id') = ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![key.org_id, id, key.request_id], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(map_err)?,
        None => Vec::new(),
    };
    let (missing_attachments, attachment_sizes) =
        super::sqlite_attachments::presence(tx, key.org_id, key.attachments)?;
    let state = ApprovalState {
        existing,
        request,
        leave,
        missed_punch_months,
        punch,
        punch_reviews,
        missing_attachments,
        attachment_sizes,
    };
    let decision = judge(&state);
    let ApprovalDecision::Write(write) = &decision else {
        return Ok(decision);
    };
    let received = ms(write.received_at);
    let r = &write.request;
    tx.prepare_cached(
        "INSERT INTO item (org_id, item_id, device_id, kind, body_hash, status, code, message, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, 'accepted', NULL, NULL, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            key.org_id,
            key.item_id,
            key.device_id,
            key.kind.as_str(),
            key.body_hash,
            received
        ])
    })
    .map_err(map_err)?;
    let state_json = serde_json::to_string(&r.state)
        .map_err(|e| StorageError::Corrupt(format!("request state: {e}")))?;
    let version = i64::try_from(r.policy_version)
        .map_err(|_| StorageError::Corrupt(format!("policy version {}", r.policy_version)))?;
    tx.prepare_cached(
        "INSERT INTO request (org_id, request_id, template_id, request_type, policy_version, applicant,
           form, state, status, month, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (org_id, request_id) DO UPDATE SET
           policy_version = excluded.policy_version, form = excluded.form, state = excluded.state,
           status = excluded.status, month = excluded.month, updated_ms = excluded.updated_ms",
    )
    .and_then(|mut s| {
        s.execute(params![
            key.org_id,
            r.request_id,
            r.template_id,
            r.request_type,
            version,
            r.applicant,
            r.form,
            state_json,
            r.state.status.as_str(),
            r.month,
            ms(r.created_at),
            ms(r.updated_at)
        ])
    })
    .map_err(map_err)?;
    tx.prepare_cached("DELETE FROM request_waiting WHERE org_id = ?1 AND request_id = ?2")
        .and_then(|mut s| s.execute(params![key.org_id, r.request_id]))
        .map_err(map_err)?;
    for employee in r.state.waiting_for() {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO request_waiting (org_id, employee_id, request_id) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![key.org_id, employee, r.request_id]))
        .map_err(map_err)?;
    }
    let a = &write.audit;
    tx.prepare_cached(
        "INSERT INTO request_audit (org_id, request_id, actor, device_id, item_id, action, detail, signed,
           made_ms, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            key.org_id,
            r.request_id,
            a.actor,
            key.device_id,
            key.item_id,
            a.action,
            a.detail,
            a.signed,
            ms(a.made_at),
            received
        ])
    })
    .map_err(map_err)?;
    for m in &write.movements {
        tx.prepare_cached(
            "INSERT INTO leave_movement (org_id, employee_id, leave_type, year, kind, halves, request_id, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut s| {
            s.execute(params![
                key.org_id,
                m.employee,
                m.leave_type,
                m.year,
                kind_text(m.kind),
                m.halves,
                m.request_id,
                received
            ])
        })
        .map_err(map_err)?;
    }
    if let Some(c) = &write.correction {
        tx.prepare_cached(
            "INSERT INTO attendance_correction (org_id, request_id, employee_id, day, punch_kind, time, approved_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                key.org_id,
                c.request_id,
                c.employee_id,
                c.day,
                c.punch_kind,
                c.time,
                ms(c.approved_at)
            ])
        })
        .map_err(map_err)?;
    }
    if let Some((punch_id, outcome)) = &write.review {
        tx.prepare_cached(
            "INSERT INTO punch_review (org_id, punch_id, request_id, outcome, decided_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (org_id, punch_id) DO UPDATE SET
               request_id = excluded.request_id, outcome = excluded.outcome, decided_ms = excluded.decided_ms",
        )
        .and_then(|mut s| s.execute(params![key.org_id, punch_id, r.request_id, outcome, received]))
        .map_err(map_err)?;
    }
    for employee in &write.notify {
        tx.prepare_cached(
            "INSERT INTO change (org_id, device_id, body, created_ms)
             SELECT org_id, id, ?3, ?4 FROM device WHERE org_id = ?1 AND employee_id = ?2",
        )
        .and_then(|mut s| s.execute(params![key.org_id, employee, write.change, received]))
        .map_err(map_err)?;
    }
    Ok(decision)
}

pub(super) fn audit(
    conn: &Connection,
    org_id: &str,
    request_id: &str,
) -> Result<Vec<AuditEntry>, StorageError> {
    cached_rows(
        conn,
        "SELECT seq, actor, device_id, item_id, action, detail, signed, made_ms, received_ms
         FROM request_audit WHERE org_id = ?1 AND request_id = ?2 ORDER BY seq",
        params![org_id, request_id],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
            ))
        },
        |(seq, actor, device_id, item_id, action, detail, signed, made, received)| {
            Ok(AuditEntry {
                seq,
                actor,
                device_id,
                item_id,
                action,
                detail,
                signed,
                made_at: time(made)?,
                received_at: time(received)?,
            })
        },
    )
}

pub(super) fn requests(
    conn: &Connection,
    sql_where: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<StoredRequest>, StorageError> {
    let columns = REQUEST_COLUMNS
        .split(", ")
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    cached_rows(
        conn,
        &format!("SELECT {columns} FROM request r {sql_where}"),
        args,
        request_columns,
        request_row,
    )
}

pub(super) fn corrections(
    conn: &Connection,
    org_id: &str,
    employee_id: &str,
) -> Result<Vec<Correction>, StorageError> {
    cached_rows(
        conn,
        "SELECT request_id, employee_id, day, punch_kind, time, approved_ms FROM attendance_correction
         WHERE org_id = ?1 AND employee_id = ?2 ORDER BY day, time",
        params![org_id, employee_id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        },
        |(request_id, employee_id, day, punch_kind, time_text, approved)| {
            Ok(Correction {
                request_id,
                employee_id,
                day,
                punch_kind,
                time: time_text,
                approved_at: time(approved)?,
            })
        },
    )
}
