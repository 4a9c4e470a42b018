//! The attendance tables of [`SqliteStorage`](super::SqliteStorage): the confirmed day
//! results (`attendance_day`), the queue of inputs whose days must be recomputed
//! (`attendance_dirty`, written by the inputs' own transactions: `punches.rs`, `approvals.rs`,
//! `orgs.rs`), months locked for payroll with their trail, and the late changes a locked month
//! recorded instead of storing. Every query filters on `org_id`.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::approvals;
use super::sql::{cached_execute, cached_rows, map_err, ms, signed, time, unsigned};
use crate::storage::{
    AttendanceMark, AttendanceOutcome, AttendanceSources, AttendanceWrite, LateChange, LockEvent,
    MonthLock, PunchStatus, SourcePunch, StorageError, StoredDay,
};

pub(in crate::storage) fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(in crate::storage) fn parse_day(text: &str) -> Result<NaiveDate, StorageError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| StorageError::Corrupt(format!("attendance day {text:?}")))
}

/// Queues a mark on `conn` (inside the caller's transaction).
pub(super) fn insert_mark(
    conn: &Connection,
    mark: &AttendanceMark,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    cached_execute(
        conn,
        "INSERT INTO attendance_dirty (org_id, employee_id, cause, at_ms, from_day, to_day, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            mark.org_id,
            mark.employee_id,
            mark.cause,
            mark.at.map(ms),
            mark.days.map(|(f, _)| day_text(f)),
            mark.days.map(|(_, t)| day_text(t)),
            ms(now)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn sources(
    conn: &Connection,
    org_id: &str,
    employee_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<AttendanceSources, StorageError> {
    let punches = cached_rows(
        conn,
        "SELECT p.punch_id AS punch_id, p.kind AS kind, p.status AS status,
                p.judged_ms AS judged_ms, r.outcome AS review
         FROM punch p
         LEFT JOIN punch_review r ON r.org_id = p.org_id AND r.punch_id = p.punch_id
         WHERE p.org_id = ?1 AND p.employee_id = ?2 AND p.judged_ms >= ?3 AND p.judged_ms < ?4
         ORDER BY p.judged_ms, p.punch_id",
        params![org_id, employee_id, ms(from), ms(to)],
        |r| {
            Ok((
                r.get::<_, String>("punch_id")?,
                r.get::<_, String>("kind")?,
                r.get::<_, String>("status")?,
                r.get::<_, i64>("judged_ms")?,
                r.get::<_, Option<String>>("review")?,
            ))
        },
        |(punch_id, kind, status, judged_ms, review)| {
            Ok(SourcePunch {
                status: PunchStatus::parse(&status)
                    .ok_or_else(|| StorageError::Corrupt(format!("punch status {status:?}")))?,
                punch_id,
                kind,
                judged_at: time(judged_ms)?,
                review,
            })
        },
    )?;
    let corrections = approvals::corrections(conn, org_id, employee_id)?;
    let requests = approvals::requests(
        conn,
        "WHERE r.org_id = ?1 AND r.applicant = ?2 AND r.status = 'approved'
           AND r.request_type IN ('leave', 'overtime') ORDER BY r.created_ms",
        &[&org_id, &employee_id],
    )?;
    Ok(AttendanceSources {
        punches,
        corrections,
        requests,
    })
}

pub(super) fn marks(conn: &Connection, limit: u32) -> Result<Vec<AttendanceMark>, StorageError> {
    cached_rows(
        conn,
        "SELECT seq, org_id, employee_id, cause, at_ms, from_day, to_day
         FROM attendance_dirty ORDER BY seq LIMIT ?1",
        params![limit],
        |r| {
            Ok((
                r.get::<_, i64>("seq")?,
                r.get::<_, String>("org_id")?,
                r.get::<_, Option<String>>("employee_id")?,
                r.get::<_, String>("cause")?,
                r.get::<_, Option<i64>>("at_ms")?,
                r.get::<_, Option<String>>("from_day")?,
                r.get::<_, Option<String>>("to_day")?,
            ))
        },
        |(seq, org_id, employee_id, cause, at_ms, from_day, to_day)| {
            let days = match (from_day, to_day) {
                (Some(f), Some(t)) => Some((parse_day(&f)?, parse_day(&t)?)),
                _ => None,
            };
            Ok(AttendanceMark {
                seq,
                org_id,
                employee_id,
                cause,
                at: at_ms.map(time).transpose()?,
                days,
            })
        },
    )
}

pub(super) fn days(
    conn: &Connection,
    org_id: &str,
    employee_id: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<StoredDay>, StorageError> {
    cached_rows(
        conn,
        "SELECT employee_id, day, result, policy_version, computed_ms FROM attendance_day
         WHERE org_id = ?1 AND (?2 IS NULL OR employee_id = ?2) AND day >= ?3 AND day <= ?4
         ORDER BY employee_id, day",
        params![org_id, employee_id, day_text(from), day_text(to)],
        |r| {
            Ok((
                r.get::<_, String>("employee_id")?,
                r.get::<_, String>("day")?,
                r.get::<_, String>("result")?,
                r.get::<_, i64>("policy_version")?,
                r.get::<_, i64>("computed_ms")?,
            ))
        },
        |(employee_id, day, result, version, computed_ms)| {
            Ok(StoredDay {
                employee_id,
                day: parse_day(&day)?,
                result,
                policy_version: unsigned(version, "policy version")?,
                computed_at: time(computed_ms)?,
            })
        },
    )
}

pub(super) fn save(
    conn: &mut Connection,
    write: &AttendanceWrite,
) -> Result<AttendanceOutcome, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let now = ms(write.now);
    let org = &write.org_id;
    let mut outcome = AttendanceOutcome::default();
    for d in &write.days {
        let day = day_text(d.day);
        let stored: Option<String> = tx
            .prepare_cached(
                "SELECT result FROM attendance_day WHERE org_id = ?1 AND employee_id = ?2 AND day = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![org, d.employee_id, day], |r| r.get(0))
                    .optional()
            })
            .map_err(map_err)?;
        if stored.as_deref() == Some(d.result.as_str()) {
            outcome.unchanged += 1;
            continue;
        }
        let version = signed(d.policy_version)?;
        if let Some(before) = &stored {
            let locked: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM attendance_lock WHERE org_id = ?1 AND month = ?2)",
                )
                .and_then(|mut s| s.query_row(params![org, &day[..7]], |r| r.get(0)))
                .map_err(map_err)?;
            if locked {
                // Recorded once per distinct new result: recomputing again adds nothing.
                let last: Option<String> = tx
                    .prepare_cached(
                        "SELECT after FROM attendance_late_change
                         WHERE org_id = ?1 AND employee_id = ?2 AND day = ?3
                         ORDER BY seq DESC LIMIT 1",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![org, d.employee_id, day], |r| r.get(0))
                            .optional()
                    })
                    .map_err(map_err)?;
                if last.as_deref() != Some(d.result.as_str()) {
                    cached_execute(
                        &tx,
                        "INSERT INTO attendance_late_change (org_id, employee_id, day, cause, before,
                           after, policy_version, recorded_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            org,
                            d.employee_id,
                            day,
                            d.cause,
                            before,
                            d.result,
                            version,
                            now
                        ],
                    )
                    .map_err(map_err)?;
                    outcome.late += 1;
                } else {
                    outcome.unchanged += 1;
                }
                continue;
            }
        }
        cached_execute(
            &tx,
            "INSERT INTO attendance_day (org_id, employee_id, day, result, policy_version, computed_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org_id, employee_id, day) DO UPDATE SET
               result = excluded.result, policy_version = excluded.policy_version,
               computed_ms = excluded.computed_ms",
            params![org, d.employee_id, day, d.result, version, now],
        )
        .map_err(map_err)?;
        cached_execute(
            &tx,
            "INSERT INTO change (org_id, device_id, body, created_ms)
             SELECT org_id, id, ?3, ?4 FROM device WHERE org_id = ?1 AND employee_id = ?2",
            params![org, d.employee_id, d.change, now],
        )
        .map_err(map_err)?;
        outcome.stored += 1;
    }
    for seq in &write.settled {
        cached_execute(&tx, "DELETE FROM attendance_dirty WHERE seq = ?1", [seq])
            .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    Ok(outcome)
}

pub(super) fn lock(
    conn: &mut Connection,
    org_id: &str,
    month: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let added = tx
        .execute(
            "INSERT OR IGNORE INTO attendance_lock (org_id, month, locked_ms) VALUES (?1, ?2, ?3)",
            params![org_id, month, ms(now)],
        )
        .map_err(map_err)?;
    if added == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO attendance_lock_event (org_id, month, action, at_ms) VALUES (?1, ?2, 'lock', ?3)",
        params![org_id, month, ms(now)],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(true)
}

pub(super) fn unlock(
    conn: &mut Connection,
    org_id: &str,
    month: &str,
    days: (NaiveDate, NaiveDate),
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let removed = tx
        .execute(
            "DELETE FROM attendance_lock WHERE org_id = ?1 AND month = ?2",
            params![org_id, month],
        )
        .map_err(map_err)?;
    if removed == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO attendance_lock_event (org_id, month, action, at_ms) VALUES (?1, ?2, 'unlock', ?3)",
        params![org_id, month, ms(now)],
    )
    .map_err(map_err)?;
    insert_mark(
        &tx,
        &AttendanceMark {
            seq: 0,
            org_id: org_id.to_owned(),
            employee_id: None,
            cause: format!("unlock:{month}"),
            at: None,
            days: Some(days),
        },
        now,
    )?;
    tx.commit().map_err(map_err)?;
    Ok(true)
}

pub(super) fn locks(
    conn: &Connection,
    org_id: &str,
) -> Result<(Vec<MonthLock>, Vec<LockEvent>), StorageError> {
    let locks = cached_rows(
        conn,
        "SELECT month, locked_ms FROM attendance_lock WHERE org_id = ?1 ORDER BY month",
        params![org_id],
        |r| Ok((r.get::<_, String>("month")?, r.get::<_, i64>("locked_ms")?)),
        |(month, at)| {
            Ok(MonthLock {
                month,
                locked_at: time(at)?,
            })
        },
    )?;
    let events = cached_rows(
        conn,
        "SELECT seq, month, action, at_ms FROM attendance_lock_event WHERE org_id = ?1 ORDER BY seq",
        params![org_id],
        |r| {
            Ok((
                r.get::<_, i64>("seq")?,
                r.get::<_, String>("month")?,
                r.get::<_, String>("action")?,
                r.get::<_, i64>("at_ms")?,
            ))
        },
        |(seq, month, action, at)| {
            Ok(LockEvent {
                seq,
                month,
                action,
                at: time(at)?,
            })
        },
    )?;
    Ok((locks, events))
}

pub(super) fn late_changes(
    conn: &Connection,
    org_id: &str,
    month: &str,
) -> Result<Vec<LateChange>, StorageError> {
    cached_rows(
        conn,
        "SELECT seq, employee_id, day, cause, before, after, policy_version, recorded_ms
         FROM attendance_late_change WHERE org_id = ?1 AND substr(day, 1, 7) = ?2 ORDER BY seq",
        params![org_id, month],
        |r| {
            Ok((
                r.get::<_, i64>("seq")?,
                r.get::<_, String>("employee_id")?,
                r.get::<_, String>("day")?,
                r.get::<_, String>("cause")?,
                r.get::<_, String>("before")?,
                r.get::<_, String>("after")?,
                r.get::<_, i64>("policy_version")?,
                r.get::<_, i64>("recorded_ms")?,
            ))
        },
        |(seq, employee_id, day, cause, before, after, version, recorded)| {
            Ok(LateChange {
                seq,
                employee_id,
                day: parse_day(&day)?,
                cause,
                before,
                after,
                policy_version: unsigned(version, "policy version")?,
                recorded_at: time(recorded)?,
            })
        },
    )
}
