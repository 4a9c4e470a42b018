//! The attendance tables of [`PostgresStorage`](super::PostgresStorage): the confirmed day
//! results (`attendance_day`), the queue of inputs whose days must be recomputed
//! (`attendance_dirty`, written by the inputs' own transactions), months locked for payroll
//! with their trail, and the late changes a locked month recorded instead of storing. Saving a
//! recompute locks its stored days (`FOR UPDATE`) before comparing, so two instances
//! recomputing the same day store it once. Every query filters on `org_id`.

use chrono::{DateTime, NaiveDate, Utc};

use super::approvals;
use super::sql::{Run, exec, feed_lock, get, limit as limit_param, map_rows, ms, one_row, opt_row};
use super::sql::{signed, time, unsigned};
use crate::storage::sqlite::attendance::{day_text, parse_day};
use crate::storage::{
    AttendanceMark, AttendanceOutcome, AttendanceSources, AttendanceWrite, LateChange, LockEvent,
    MonthLock, PunchStatus, SourcePunch, StorageError, StoredDay,
};

pub(super) fn insert_mark(
    c: &mut impl Run,
    mark: &AttendanceMark,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    exec(
        c,
        "INSERT INTO attendance_dirty (org_id, employee_id, cause, at_ms, from_day, to_day, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &mark.org_id,
            &mark.employee_id,
            &mark.cause,
            &mark.at.map(ms),
            &mark.days.map(|(f, _)| day_text(f)),
            &mark.days.map(|(_, t)| day_text(t)),
            &ms(now),
        ],
    )?;
    Ok(())
}

pub(super) fn sources(
    c: &mut impl Run,
    org_id: &str,
    employee_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<AttendanceSources, StorageError> {
    let punches = map_rows(
        c,
        "SELECT p.punch_id AS punch_id, p.kind AS kind, p.status AS status,
                p.judged_ms AS judged_ms, r.outcome AS review
         FROM punch p
         LEFT JOIN punch_review r ON r.org_id = p.org_id AND r.punch_id = p.punch_id
         WHERE p.org_id = $1 AND p.employee_id = $2 AND p.judged_ms >= $3 AND p.judged_ms < $4
         ORDER BY p.judged_ms, p.punch_id",
        &[&org_id, &employee_id, &ms(from), &ms(to)],
        |r| {
            let status: String = get(r, "status")?;
            Ok(SourcePunch {
                status: PunchStatus::parse(&status)
                    .ok_or_else(|| StorageError::Corrupt(format!("punch status {status:?}")))?,
                punch_id: get(r, "punch_id")?,
                kind: get(r, "kind")?,
                judged_at: time(get(r, "judged_ms")?)?,
                review: get(r, "review")?,
            })
        },
    )?;
    let corrections = approvals::corrections(c, org_id, employee_id)?;
    let requests = approvals::requests(
        c,
        "WHERE r.org_id = $1 AND r.applicant = $2 AND r.status = 'approved'
           AND r.request_type IN ('leave', 'overtime') ORDER BY r.created_ms",
        &[&org_id, &employee_id],
    )?;
    Ok(AttendanceSources {
        punches,
        corrections,
        requests,
    })
}

pub(super) fn marks(c: &mut impl Run, limit: u32) -> Result<Vec<AttendanceMark>, StorageError> {
    map_rows(
        c,
        "SELECT seq, org_id, employee_id, cause, at_ms, from_day, to_day
         FROM attendance_dirty ORDER BY seq LIMIT $1",
        &[&limit_param(limit)],
        |r| {
            let from_day: Option<String> = get(r, "from_day")?;
            let to_day: Option<String> = get(r, "to_day")?;
            let days = match (from_day, to_day) {
                (Some(f), Some(t)) => Some((parse_day(&f)?, parse_day(&t)?)),
                _ => None,
            };
            let at_ms: Option<i64> = get(r, "at_ms")?;
            Ok(AttendanceMark {
                seq: get(r, "seq")?,
                org_id: get(r, "org_id")?,
                employee_id: get(r, "employee_id")?,
                cause: get(r, "cause")?,
                at: at_ms.map(time).transpose()?,
                days,
            })
        },
    )
}

pub(super) fn days(
    c: &mut impl Run,
    org_id: &str,
    employee_id: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<StoredDay>, StorageError> {
    map_rows(
        c,
        "SELECT employee_id, day, result, policy_version, computed_ms FROM attendance_day
         WHERE org_id = $1 AND ($2::text IS NULL OR employee_id = $2) AND day >= $3 AND day <= $4
         ORDER BY employee_id, day",
        &[&org_id, &employee_id, &day_text(from), &day_text(to)],
        |r| {
            let day: String = get(r, "day")?;
            Ok(StoredDay {
                employee_id: get(r, "employee_id")?,
                day: parse_day(&day)?,
                result: get(r, "result")?,
                policy_version: unsigned(get(r, "policy_version")?, "policy version")?,
                computed_at: time(get(r, "computed_ms")?)?,
            })
        },
    )
}

pub(super) fn save(
    c: &mut impl Run,
    write: &AttendanceWrite,
) -> Result<AttendanceOutcome, StorageError> {
    let now = ms(write.now);
    let org = &write.org_id;
    let mut outcome = AttendanceOutcome::default();
    // The changes go in last, under the feed lock, once every day is settled.
    let mut notify = Vec::new();
    for d in &write.days {
        let day = day_text(d.day);
        let stored: Option<String> = opt_row(
            c,
            "SELECT result FROM attendance_day WHERE org_id = $1 AND employee_id = $2 AND day = $3
             FOR UPDATE",
            &[org, &d.employee_id, &day],
        )?
        .map(|r| get(&r, "result"))
        .transpose()?;
        if stored.as_deref() == Some(d.result.as_str()) {
            outcome.unchanged += 1;
            continue;
        }
        let version = signed(d.policy_version)?;
        if let Some(before) = &stored {
            let locked: bool = get(
                &one_row(
                    c,
                    "SELECT EXISTS (SELECT 1 FROM attendance_lock WHERE org_id = $1 AND month = $2)
                       AS locked",
                    &[org, &&day[..7]],
                )?,
                "locked",
            )?;
            if locked {
                // Recorded once per distinct new result: recomputing again adds nothing.
                let last: Option<String> = opt_row(
                    c,
                    "SELECT after FROM attendance_late_change
                     WHERE org_id = $1 AND employee_id = $2 AND day = $3
                     ORDER BY seq DESC LIMIT 1",
                    &[org, &d.employee_id, &day],
                )?
                .map(|r| get(&r, "after"))
                .transpose()?;
                if last.as_deref() != Some(d.result.as_str()) {
                    exec(
                        c,
                        "INSERT INTO attendance_late_change (org_id, employee_id, day, cause, before,
                           after, policy_version, recorded_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        &[
                            org,
                            &d.employee_id,
                            &day,
                            &d.cause,
                            before,
                            &d.result,
                            &version,
                            &now,
                        ],
                    )?;
                    outcome.late += 1;
                } else {
                    outcome.unchanged += 1;
                }
                continue;
            }
        }
        exec(
            c,
            "INSERT INTO attendance_day (org_id, employee_id, day, result, policy_version, computed_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (org_id, employee_id, day) DO UPDATE SET
               result = excluded.result, policy_version = excluded.policy_version,
               computed_ms = excluded.computed_ms",
            &[org, &d.employee_id, &day, &d.result, &version, &now],
        )?;
        notify.push(d);
        outcome.stored += 1;
    }
    if !notify.is_empty() {
        feed_lock(c)?;
    }
    for d in notify {
        exec(
            c,
            "INSERT INTO change (org_id, device_id, body, created_ms)
             SELECT org_id, id, $3, $4 FROM device WHERE org_id = $1 AND employee_id = $2
             ORDER BY enrolled_ms, id",
            &[org, &d.employee_id, &d.change, &now],
        )?;
    }
    // One statement for every settled mark (a push's hundred punches leave a hundred).
    if !write.settled.is_empty() {
        exec(
            c,
            "DELETE FROM attendance_dirty WHERE seq = ANY($1)",
            &[&write.settled],
        )?;
    }
    Ok(outcome)
}

pub(super) fn lock(
    c: &mut impl Run,
    org_id: &str,
    month: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let added = exec(
        c,
        "INSERT INTO attendance_lock (org_id, month, locked_ms) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&org_id, &month, &ms(now)],
    )?;
    if added == 0 {
        return Ok(false);
    }
    exec(
        c,
        "INSERT INTO attendance_lock_event (org_id, month, action, at_ms) VALUES ($1, $2, 'lock', $3)",
        &[&org_id, &month, &ms(now)],
    )?;
    Ok(true)
}

pub(super) fn unlock(
    c: &mut impl Run,
    org_id: &str,
    month: &str,
    days: (NaiveDate, NaiveDate),
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let removed = exec(
        c,
        "DELETE FROM attendance_lock WHERE org_id = $1 AND month = $2",
        &[&org_id, &month],
    )?;
    if removed == 0 {
        return Ok(false);
    }
    exec(
        c,
        "INSERT INTO attendance_lock_event (org_id, month, action, at_ms) VALUES ($1, $2, 'unlock', $3)",
        &[&org_id, &month, &ms(now)],
    )?;
    insert_mark(
        c,
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
    Ok(true)
}

pub(super) fn locks(
    c: &mut impl Run,
    org_id: &str,
) -> Result<(Vec<MonthLock>, Vec<LockEvent>), StorageError> {
    let locks = map_rows(
        c,
        "SELECT month, locked_ms FROM attendance_lock WHERE org_id = $1 ORDER BY month",
        &[&org_id],
        |r| {
            Ok(MonthLock {
                month: get(r, "month")?,
                locked_at: time(get(r, "locked_ms")?)?,
            })
        },
    )?;
    let events = map_rows(
        c,
        "SELECT seq, month, action, at_ms FROM attendance_lock_event WHERE org_id = $1 ORDER BY seq",
        &[&org_id],
        |r| {
            Ok(LockEvent {
                seq: get(r, "seq")?,
                month: get(r, "month")?,
                action: get(r, "action")?,
                at: time(get(r, "at_ms")?)?,
            })
        },
    )?;
    Ok((locks, events))
}

pub(super) fn late_changes(
    c: &mut impl Run,
    org_id: &str,
    month: &str,
) -> Result<Vec<LateChange>, StorageError> {
    map_rows(
        c,
        "SELECT seq, employee_id, day, cause, before, after, policy_version, recorded_ms
         FROM attendance_late_change WHERE org_id = $1 AND substr(day, 1, 7) = $2 ORDER BY seq",
        &[&org_id, &month],
        |r| {
            let day: String = get(r, "day")?;
            Ok(LateChange {
                seq: get(r, "seq")?,
                employee_id: get(r, "employee_id")?,
                day: parse_day(&day)?,
                cause: get(r, "cause")?,
                before: get(r, "before")?,
                after: get(r, "after")?,
                policy_version: unsigned(get(r, "policy_version")?, "policy version")?,
                recorded_at: time(get(r, "recorded_ms")?)?,
            })
        },
    )
}
