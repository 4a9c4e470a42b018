//! The approval tables of [`SqliteStorage`](super::SqliteStorage): applying a submission or a
//! decision inside a push's savepoint (the request with its waiting list, audit trail, leave
//! movements, attendance corrections, field-punch reviews and the changes for the people to
//! notify), and the reads behind the request, inbox, leave and audit endpoints. Every query
//! filters on `org_id`.

use daka_core::approvals::leave::{Movement, MovementKind};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::attachments;
use super::attendance;
use super::sql::{cached_rows, map_err, ms, time};
use crate::storage::{
    Answer, ApprovalDecision, ApprovalKey, ApprovalState, ApprovalWrite, AttendanceMark,
    AuditEntry, ConsoleSigner, ConsoleWrite, Correction, NewAudit, StorageError, StoredItem,
    StoredRequest,
};

/// The columns of a `request r` row, named as [`RequestColumns::from_row`] reads them.
pub(in crate::storage) const REQUEST_COLUMNS: &str = "r.request_id AS request_id, r.template_id AS template_id, \
                               r.request_type AS request_type, \
                               r.policy_version AS policy_version, r.applicant AS applicant, \
                               r.form AS form, r.state AS state, r.month AS month, \
                               r.created_ms AS created_ms, r.updated_ms AS updated_ms";

/// A `request` row as stored.
pub(in crate::storage) struct RequestColumns {
    pub(in crate::storage) request_id: String,
    pub(in crate::storage) template_id: String,
    pub(in crate::storage) request_type: String,
    pub(in crate::storage) policy_version: i64,
    pub(in crate::storage) applicant: String,
    pub(in crate::storage) form: String,
    pub(in crate::storage) state: String,
    pub(in crate::storage) month: Option<String>,
    pub(in crate::storage) created_ms: i64,
    pub(in crate::storage) updated_ms: i64,
}

impl RequestColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RequestColumns> {
        Ok(RequestColumns {
            request_id: r.get("request_id")?,
            template_id: r.get("template_id")?,
            request_type: r.get("request_type")?,
            policy_version: r.get("policy_version")?,
            applicant: r.get("applicant")?,
            form: r.get("form")?,
            state: r.get("state")?,
            month: r.get("month")?,
            created_ms: r.get("created_ms")?,
            updated_ms: r.get("updated_ms")?,
        })
    }

    pub(in crate::storage) fn into_request(self) -> Result<StoredRequest, StorageError> {
        let request_id = self.request_id;
        let version = self.policy_version;
        Ok(StoredRequest {
            state: serde_json::from_str(&self.state)
                .map_err(|e| StorageError::Corrupt(format!("request {request_id}: state {e}")))?,
            request_id,
            template_id: self.template_id,
            request_type: self.request_type,
            policy_version: u64::try_from(version)
                .map_err(|_| StorageError::Corrupt(format!("policy version {version}")))?,
            applicant: self.applicant,
            form: self.form,
            month: self.month,
            created_at: time(self.created_ms)?,
            updated_at: time(self.updated_ms)?,
        })
    }
}

pub(in crate::storage) fn kind_text(kind: MovementKind) -> &'static str {
    match kind {
        MovementKind::Hold => "hold",
        MovementKind::Release => "release",
        MovementKind::Take => "take",
    }
}

/// A `leave_movement` row as stored.
pub(in crate::storage) struct MovementColumns {
    pub(in crate::storage) employee_id: String,
    pub(in crate::storage) leave_type: String,
    pub(in crate::storage) year: i32,
    pub(in crate::storage) kind: String,
    pub(in crate::storage) halves: i64,
    pub(in crate::storage) request_id: String,
}

impl MovementColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<MovementColumns> {
        Ok(MovementColumns {
            employee_id: r.get("employee_id")?,
            leave_type: r.get("leave_type")?,
            year: r.get("year")?,
            kind: r.get("kind")?,
            halves: r.get("halves")?,
            request_id: r.get("request_id")?,
        })
    }

    pub(in crate::storage) fn into_movement(self) -> Result<Movement, StorageError> {
        let MovementColumns {
            employee_id: employee,
            leave_type,
            year,
            kind,
            halves,
            request_id,
        } = self;
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
}

pub(super) fn read_request(
    conn: &Connection,
    org_id: &str,
    request_id: &str,
) -> Result<Option<StoredRequest>, StorageError> {
    conn.prepare_cached(&format!(
        "SELECT {REQUEST_COLUMNS} FROM request r WHERE r.org_id = ?1 AND r.request_id = ?2"
    ))
    .and_then(|mut s| {
        s.query_row(params![org_id, request_id], RequestColumns::from_row)
            .optional()
    })
    .map_err(map_err)?
    .map(RequestColumns::into_request)
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
        MovementColumns::from_row,
        MovementColumns::into_movement,
    )
}

/// The body of `ItemBatch::apply_approval` inside its savepoint `tx`; the caller commits.
pub(super) fn apply_on(
    tx: &Connection,
    key: &ApprovalKey<'_>,
    existing: Option<StoredItem>,
    judge: &mut dyn FnMut(&ApprovalState) -> ApprovalDecision,
) -> Result<ApprovalDecision, StorageError> {
    let state = read_state(tx, key, existing)?;
    let decision = judge(&state);
    let ApprovalDecision::Write(write) = &decision else {
        return Ok(decision);
    };
    let received = ms(write.received_at);
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
    write_request(tx, key, write, None, None)?;
    Ok(decision)
}

/// The body of `Storage::apply_console_decision` inside its transaction `tx`; the caller
/// commits. No item id is recorded: the decision is not a pushed item.
pub(super) fn apply_console_on(
    tx: &Connection,
    key: &ApprovalKey<'_>,
    signer: &ConsoleSigner,
    judge: &mut dyn FnMut(&ApprovalState) -> Result<ConsoleWrite, Answer>,
) -> Result<Result<(), Answer>, StorageError> {
    let state = read_state(tx, key, None)?;
    match judge(&state) {
        Err(answer) => Ok(Err(answer)),
        Ok(cw) => {
            write_request(tx, key, &cw.write, cw.filed.as_ref(), Some(signer))?;
            Ok(Ok(()))
        }
    }
}

/// What a judge of `key` sees, read inside the caller's transaction.
fn read_state(
    tx: &Connection,
    key: &ApprovalKey<'_>,
    existing: Option<StoredItem>,
) -> Result<ApprovalState, StorageError> {
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
        stmt.query_map(params![key.org_id, applicant], |r| r.get("month"))
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
                s.query_row(params![key.org_id, id], |r| {
                    Ok((r.get("employee_id")?, r.get("status")?))
                })
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
                   AND punch_id = ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![key.org_id, id, key.request_id], |r| {
                    r.get("request_id")
                })?
                .collect::<Result<Vec<String>, _>>()
            })
            .map_err(map_err)?,
        None => Vec::new(),
    };
    let (missing_attachments, attachment_sizes) =
        attachments::presence(tx, key.org_id, key.attachments)?;
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
/// correction, review, attendance mark and changes. `console` marks the audit entries as
/// signed by the server for that account.
fn write_request(
    tx: &Connection,
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
    tx.prepare_cached(
        "INSERT INTO request (org_id, request_id, template_id, request_type, policy_version, applicant,
           form, state, status, month, created_ms, updated_ms, punch_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
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
            ms(r.updated_at),
            // A request's punch never changes: set when it is first stored, kept on updates.
            key.punch_id
                .filter(|_| r.request_type == super::schema::FIELD_PUNCH_REVIEW)
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
    let audits = filed
        .map(|f| (f, r.request_id.as_str()))
        .into_iter()
        .chain([(&write.audit, key.item_id)]);
    for (a, item_id) in audits {
        tx.prepare_cached(
            "INSERT INTO request_audit (org_id, request_id, actor, device_id, item_id, action, detail, signed,
               made_ms, received_ms, signed_by, console_account_id, console_email)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .and_then(|mut s| {
            s.execute(params![
                key.org_id,
                r.request_id,
                a.actor,
                key.device_id,
                item_id,
                a.action,
                a.detail,
                a.signed,
                ms(a.made_at),
                received,
                if console.is_some() { "server" } else { "device" },
                console.map(|c| c.account_id.as_str()),
                console.map(|c| c.email.as_str()),
            ])
        })
        .map_err(map_err)?;
    }
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
    // Requests that attendance reads: their applicant's days are recomputed right after the
    // commit (or at the next start). A field-punch review names its punch's time.
    if matches!(
        r.request_type.as_str(),
        "leave" | "overtime" | "missed_punch" | super::schema::FIELD_PUNCH_REVIEW
    ) && !matches!(r.state.status.as_str(), "pending")
    {
        let at = match &write.review {
            Some((punch_id, _)) => tx
                .prepare_cached("SELECT judged_ms FROM punch WHERE org_id = ?1 AND punch_id = ?2")
                .and_then(|mut s| {
                    s.query_row(params![key.org_id, punch_id], |r| r.get::<_, i64>(0))
                        .optional()
                })
                .map_err(map_err)?
                .map(time)
                .transpose()?,
            None => None,
        };
        attendance::insert_mark(
            tx,
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
    for employee in &write.notify {
        tx.prepare_cached(
            "INSERT INTO change (org_id, device_id, body, created_ms)
             SELECT org_id, id, ?3, ?4 FROM device WHERE org_id = ?1 AND employee_id = ?2",
        )
        .and_then(|mut s| s.execute(params![key.org_id, employee, write.change, received]))
        .map_err(map_err)?;
    }
    Ok(())
}

pub(super) fn audit(
    conn: &Connection,
    org_id: &str,
    request_id: &str,
) -> Result<Vec<AuditEntry>, StorageError> {
    cached_rows(
        conn,
        "SELECT seq, actor, device_id, item_id, action, detail, signed, made_ms, received_ms,
           console_account_id, console_email
         FROM request_audit WHERE org_id = ?1 AND request_id = ?2 ORDER BY seq",
        params![org_id, request_id],
        AuditColumns::from_row,
        AuditColumns::into_entry,
    )
}

pub(super) fn requests(
    conn: &Connection,
    sql_where: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<StoredRequest>, StorageError> {
    cached_rows(
        conn,
        &format!("SELECT {REQUEST_COLUMNS} FROM request r {sql_where}"),
        args,
        RequestColumns::from_row,
        RequestColumns::into_request,
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
        CorrectionColumns::from_row,
        CorrectionColumns::into_correction,
    )
}

/// A `request_audit` row as stored.
pub(in crate::storage) struct AuditColumns {
    pub(in crate::storage) seq: i64,
    pub(in crate::storage) actor: String,
    pub(in crate::storage) device_id: String,
    pub(in crate::storage) item_id: String,
    pub(in crate::storage) action: String,
    pub(in crate::storage) detail: String,
    pub(in crate::storage) signed: String,
    pub(in crate::storage) made_ms: i64,
    pub(in crate::storage) received_ms: i64,
    pub(in crate::storage) console_account_id: Option<String>,
    pub(in crate::storage) console_email: Option<String>,
}

impl AuditColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<AuditColumns> {
        Ok(AuditColumns {
            seq: r.get("seq")?,
            actor: r.get("actor")?,
            device_id: r.get("device_id")?,
            item_id: r.get("item_id")?,
            action: r.get("action")?,
            detail: r.get("detail")?,
            signed: r.get("signed")?,
            made_ms: r.get("made_ms")?,
            received_ms: r.get("received_ms")?,
            console_account_id: r.get("console_account_id")?,
            console_email: r.get("console_email")?,
        })
    }

    pub(in crate::storage) fn into_entry(self) -> Result<AuditEntry, StorageError> {
        Ok(AuditEntry {
            seq: self.seq,
            actor: self.actor,
            device_id: self.device_id,
            item_id: self.item_id,
            action: self.action,
            detail: self.detail,
            signed: self.signed,
            made_at: time(self.made_ms)?,
            received_at: time(self.received_ms)?,
            console: match (self.console_account_id, self.console_email) {
                (Some(account_id), Some(email)) => Some(ConsoleSigner { account_id, email }),
                _ => None,
            },
        })
    }
}

/// An `attendance_correction` row as stored.
pub(in crate::storage) struct CorrectionColumns {
    pub(in crate::storage) request_id: String,
    pub(in crate::storage) employee_id: String,
    pub(in crate::storage) day: String,
    pub(in crate::storage) punch_kind: String,
    pub(in crate::storage) time: String,
    pub(in crate::storage) approved_ms: i64,
}

impl CorrectionColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<CorrectionColumns> {
        Ok(CorrectionColumns {
            request_id: r.get("request_id")?,
            employee_id: r.get("employee_id")?,
            day: r.get("day")?,
            punch_kind: r.get("punch_kind")?,
            time: r.get("time")?,
            approved_ms: r.get("approved_ms")?,
        })
    }

    pub(in crate::storage) fn into_correction(self) -> Result<Correction, StorageError> {
        Ok(Correction {
            request_id: self.request_id,
            employee_id: self.employee_id,
            day: self.day,
            punch_kind: self.punch_kind,
            time: self.time,
            approved_at: time(self.approved_ms)?,
        })
    }
}
