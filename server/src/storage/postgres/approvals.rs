//! The approval tables of [`PostgresStorage`](super::PostgresStorage): applying a submission or
//! a decision inside a push's savepoint (the request with its waiting list, audit trail, leave
//! movements, attendance corrections, field-punch reviews and the changes for the people to
//! notify), and the reads behind the request, inbox, leave and audit endpoints. Items on one
//! request are applied one at a time across instances: the caller holds the request's advisory
//! lock (`sql.rs`) before the state is read. Every query filters on `org_id`.

use daka_core::approvals::leave::Movement;
use r2d2_postgres::postgres::Row;
use r2d2_postgres::postgres::types::ToSql;

use super::attachments;
use super::attendance;
use super::items::{NewItem, insert_item};
use super::sql::{Run, exec, feed_lock, get, map_rows, ms, opt_row, request_lock, time};
use crate::storage::sqlite::approvals::{
    AuditColumns, CorrectionColumns, MovementColumns, REQUEST_COLUMNS, RequestColumns, kind_text,
};
use crate::storage::sqlite::schema::FIELD_PUNCH_REVIEW;
use crate::storage::{
    Answer, ApprovalDecision, ApprovalKey, ApprovalState, ApprovalWrite, AttendanceMark,
    AuditEntry, ConsoleSigner, ConsoleWrite, Correction, NewAudit, StorageError, StoredItem,
    StoredRequest,
};

fn request_columns(r: &Row) -> Result<RequestColumns, StorageError> {
    Ok(RequestColumns {
        request_id: get(r, "request_id")?,
        template_id: get(r, "template_id")?,
        request_type: get(r, "request_type")?,
        policy_version: get(r, "policy_version")?,
        applicant: get(r, "applicant")?,
        form: get(r, "form")?,
        state: get(r, "state")?,
        month: get(r, "month")?,
        created_ms: get(r, "created_ms")?,
        updated_ms: get(r, "updated_ms")?,
    })
}

pub(super) fn read_request(
    c: &mut impl Run,
    org_id: &str,
    request_id: &str,
) -> Result<Option<StoredRequest>, StorageError> {
    opt_row(
        c,
        &format!(
            "SELECT {REQUEST_COLUMNS} FROM request r WHERE r.org_id = $1 AND r.request_id = $2"
        ),
        &[&org_id, &request_id],
    )?
    .map(|r| request_columns(&r)?.into_request())
    .transpose()
}

pub(super) fn read_movements(
    c: &mut impl Run,
    org_id: &str,
    employee_id: &str,
) -> Result<Vec<Movement>, StorageError> {
    map_rows(
        c,
        "SELECT employee_id, leave_type, year, kind, halves, request_id FROM leave_movement
         WHERE org_id = $1 AND employee_id = $2 ORDER BY seq",
        &[&org_id, &employee_id],
        |r| {
            MovementColumns {
                employee_id: get(r, "employee_id")?,
                leave_type: get(r, "leave_type")?,
                year: get(r, "year")?,
                kind: get(r, "kind")?,
                halves: get(r, "halves")?,
                request_id: get(r, "request_id")?,
            }
            .into_movement()
        },
    )
}

/// The body of `ItemBatch::apply_approval` inside its savepoint `c`, the request's lock held;
/// `None` when another transaction recorded the item id first (the caller judges again).
pub(super) fn apply_on(
    c: &mut impl Run,
    key: &ApprovalKey<'_>,
    existing: Option<StoredItem>,
    judge: &mut dyn FnMut(&ApprovalState) -> ApprovalDecision,
) -> Result<Option<ApprovalDecision>, StorageError> {
    let state = read_state(c, key, existing)?;
    let decision = judge(&state);
    let ApprovalDecision::Write(write) = &decision else {
        return Ok(Some(decision));
    };
    let recorded = insert_item(
        c,
        &NewItem {
            org_id: key.org_id,
            item_id: key.item_id,
            device_id: key.device_id,
            kind: key.kind.as_str(),
            body_hash: key.body_hash,
            status: "accepted",
            code: None,
            message: None,
            received_ms: ms(write.received_at),
        },
    )?;
    if !recorded {
        return Ok(None);
    }
    write_request(c, key, write, None, None)?;
    Ok(Some(decision))
}

/// The body of `Storage::apply_console_decision` inside its transaction `c`; the caller
/// commits. No item id is recorded: the decision is not a pushed item.
pub(super) fn apply_console_on(
    c: &mut impl Run,
    key: &ApprovalKey<'_>,
    signer: &ConsoleSigner,
    judge: &mut dyn FnMut(&ApprovalState) -> Result<ConsoleWrite, Answer>,
) -> Result<Result<(), Answer>, StorageError> {
    request_lock(c, key.org_id, key.request_id)?;
    let state = read_state(c, key, None)?;
    match judge(&state) {
        Err(answer) => Ok(Err(answer)),
        Ok(cw) => {
            write_request(c, key, &cw.write, cw.filed.as_ref(), Some(signer))?;
            Ok(Ok(()))
        }
    }
}

/// What a judge of `key` sees, read inside the caller's transaction.
fn read_state(
    c: &mut impl Run,
    key: &ApprovalKey<'_>,
    existing: Option<StoredItem>,
) -> Result<ApprovalState, StorageError> {
    let request = read_request(c, key.org_id, key.request_id)?;
    let applicant = request
        .as_ref()
        .map_or(key.applicant, |r| r.applicant.as_str())
        .to_owned();
    let leave = read_movements(c, key.org_id, &applicant)?;
    let missed_punch_months = map_rows(
        c,
        "SELECT month FROM request WHERE org_id = $1 AND applicant = $2 AND month IS NOT NULL
           AND status IN ('pending', 'returned', 'approved')",
        &[&key.org_id, &applicant],
        |r| get(r, "month"),
    )?;
    let punch = match key.punch_id {
        Some(id) => opt_row(
            c,
            "SELECT employee_id, status FROM punch WHERE org_id = $1 AND punch_id = $2",
            &[&key.org_id, &id],
        )?
        .map(|r| Ok::<_, StorageError>((get(&r, "employee_id")?, get(&r, "status")?)))
        .transpose()?,
        None => None,
    };
    // Other open or approved reviews of the same punch (a punch is reviewed once).
    let punch_reviews = match key.punch_id {
        Some(id) => map_rows(
            c,
            "SELECT request_id FROM request
             WHERE org_id = $1 AND request_type = 'field_punch_review' AND request_id != $3
               AND status IN ('pending', 'returned', 'approved')
               AND punch_id = $2",
            &[&key.org_id, &id, &key.request_id],
            |r| get(r, "request_id"),
        )?,
        None => Vec::new(),
    };
    let (missing_attachments, attachment_sizes) =
        attachments::presence(c, key.org_id, key.attachments)?;
    Ok(ApprovalState {
        existing,
        request,
        leave,
        missed_punch_months,
        punch,
        punch_reviews,
        missing_attachments,
        attachment_sizes,
    })
}

/// Writes an applied approval item: the request, its waiting list, the audit entries
/// (`filed` first, when the server filed the request for its applicant), leave movements,
/// correction, review, attendance mark and, last, under the feed lock, the changes.
/// `console` marks the audit entries as signed by the server for that account.
fn write_request(
    c: &mut impl Run,
    key: &ApprovalKey<'_>,
    write: &ApprovalWrite,
    filed: Option<&NewAudit>,
    console: Option<&ConsoleSigner>,
) -> Result<(), StorageError> {
    let received = ms(write.received_at);
    let r = &write.request;
    let state_json = serde_json::to_string(&r.state)
        .map_err(|e| StorageError::Corrupt(format!("request state: {e}")))?;
    let version = i64::try_from(r.policy_version)
        .map_err(|_| StorageError::Corrupt(format!("policy version {}", r.policy_version)))?;
    // A request's punch never changes: set when it is first stored, kept on updates.
    let punch_id = key
        .punch_id
        .filter(|_| r.request_type == FIELD_PUNCH_REVIEW);
    exec(
        c,
        "INSERT INTO request (org_id, request_id, template_id, request_type, policy_version, applicant,
           form, state, status, month, created_ms, updated_ms, punch_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (org_id, request_id) DO UPDATE SET
           policy_version = excluded.policy_version, form = excluded.form, state = excluded.state,
           status = excluded.status, month = excluded.month, updated_ms = excluded.updated_ms",
        &[
            &key.org_id,
            &r.request_id,
            &r.template_id,
            &r.request_type,
            &version,
            &r.applicant,
            &r.form,
            &state_json,
            &r.state.status.as_str(),
            &r.month,
            &ms(r.created_at),
            &ms(r.updated_at),
            &punch_id,
        ],
    )?;
    exec(
        c,
        "DELETE FROM request_waiting WHERE org_id = $1 AND request_id = $2",
        &[&key.org_id, &r.request_id],
    )?;
    for employee in r.state.waiting_for() {
        exec(
            c,
            "INSERT INTO request_waiting (org_id, employee_id, request_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&key.org_id, &employee, &r.request_id],
        )?;
    }
    let audits = filed
        .map(|f| (f, r.request_id.as_str()))
        .into_iter()
        .chain([(&write.audit, key.item_id)]);
    let signed_by = if console.is_some() {
        "server"
    } else {
        "device"
    };
    let account = console.map(|c| c.account_id.as_str());
    let email = console.map(|c| c.email.as_str());
    for (a, item_id) in audits {
        exec(
            c,
            "INSERT INTO request_audit (org_id, request_id, actor, device_id, item_id, action, detail, signed,
               made_ms, received_ms, signed_by, console_account_id, console_email)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &key.org_id,
                &r.request_id,
                &a.actor,
                &key.device_id,
                &item_id,
                &a.action,
                &a.detail,
                &a.signed,
                &ms(a.made_at),
                &received,
                &signed_by,
                &account,
                &email,
            ],
        )?;
    }
    for m in &write.movements {
        exec(
            c,
            "INSERT INTO leave_movement (org_id, employee_id, leave_type, year, kind, halves, request_id, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &key.org_id,
                &m.employee,
                &m.leave_type,
                &m.year,
                &kind_text(m.kind),
                &m.halves,
                &m.request_id,
                &received,
            ],
        )?;
    }
    if let Some(k) = &write.correction {
        exec(
            c,
            "INSERT INTO attendance_correction (org_id, request_id, employee_id, day, punch_kind, time, approved_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &key.org_id,
                &k.request_id,
                &k.employee_id,
                &k.day,
                &k.punch_kind,
                &k.time,
                &ms(k.approved_at),
            ],
        )?;
    }
    if let Some((punch_id, outcome)) = &write.review {
        exec(
            c,
            "INSERT INTO punch_review (org_id, punch_id, request_id, outcome, decided_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (org_id, punch_id) DO UPDATE SET
               request_id = excluded.request_id, outcome = excluded.outcome, decided_ms = excluded.decided_ms",
            &[&key.org_id, punch_id, &r.request_id, outcome, &received],
        )?;
    }
    // Requests that attendance reads: their applicant's days are recomputed right after the
    // commit (or at the next start). A field-punch review names its punch's time.
    if matches!(
        r.request_type.as_str(),
        "leave" | "overtime" | "missed_punch" | FIELD_PUNCH_REVIEW
    ) && !matches!(r.state.status.as_str(), "pending")
    {
        let at = match &write.review {
            Some((punch_id, _)) => opt_row(
                c,
                "SELECT judged_ms FROM punch WHERE org_id = $1 AND punch_id = $2",
                &[&key.org_id, punch_id],
            )?
            .map(|row| time(get(&row, "judged_ms")?))
            .transpose()?,
            None => None,
        };
        attendance::insert_mark(
            c,
            &AttendanceMark {
                seq: 0,
                org_id: key.org_id.to_owned(),
                employee_id: Some(r.applicant.clone()),
                cause: format!("request:{}", r.request_id),
                at,
                days: None,
            },
            write.received_at,
        )?;
    }
    if !write.notify.is_empty() {
        feed_lock(c)?;
    }
    for employee in &write.notify {
        exec(
            c,
            "INSERT INTO change (org_id, device_id, body, created_ms)
             SELECT org_id, id, $3, $4 FROM device WHERE org_id = $1 AND employee_id = $2
             ORDER BY enrolled_ms, id",
            &[&key.org_id, employee, &write.change, &received],
        )?;
    }
    Ok(())
}

pub(super) fn audit(
    c: &mut impl Run,
    org_id: &str,
    request_id: &str,
) -> Result<Vec<AuditEntry>, StorageError> {
    map_rows(
        c,
        "SELECT seq, actor, device_id, item_id, action, detail, signed, made_ms, received_ms,
           console_account_id, console_email
         FROM request_audit WHERE org_id = $1 AND request_id = $2 ORDER BY seq",
        &[&org_id, &request_id],
        |r| {
            AuditColumns {
                seq: get(r, "seq")?,
                actor: get(r, "actor")?,
                device_id: get(r, "device_id")?,
                item_id: get(r, "item_id")?,
                action: get(r, "action")?,
                detail: get(r, "detail")?,
                signed: get(r, "signed")?,
                made_ms: get(r, "made_ms")?,
                received_ms: get(r, "received_ms")?,
                console_account_id: get(r, "console_account_id")?,
                console_email: get(r, "console_email")?,
            }
            .into_entry()
        },
    )
}

pub(super) fn requests(
    c: &mut impl Run,
    sql_where: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<StoredRequest>, StorageError> {
    map_rows(
        c,
        &format!("SELECT {REQUEST_COLUMNS} FROM request r {sql_where}"),
        args,
        |r| request_columns(r)?.into_request(),
    )
}

pub(super) fn corrections(
    c: &mut impl Run,
    org_id: &str,
    employee_id: &str,
) -> Result<Vec<Correction>, StorageError> {
    map_rows(
        c,
        "SELECT request_id, employee_id, day, punch_kind, time, approved_ms FROM attendance_correction
         WHERE org_id = $1 AND employee_id = $2 ORDER BY day, time",
        &[&org_id, &employee_id],
        |r| {
            CorrectionColumns {
                request_id: get(r, "request_id")?,
                employee_id: get(r, "employee_id")?,
                day: get(r, "day")?,
                punch_kind: get(r, "punch_kind")?,
                time: get(r, "time")?,
                approved_ms: get(r, "approved_ms")?,
            }
            .into_correction()
        },
    )
}
