//! The recompute queue: from queued marks to stored day results.
//!
//! A mark names an employee (or everyone with attendance settings) and which days: an
//! instant's day and the days either side (a punch, a reviewed field punch), a range (a read
//! of days not yet computed, an unlocked month), or a request whose form gives the dates
//! (leave, overtime, a correction). A new policy recomputes everyone from the first day of the
//! previous month. Days after today (in the organisation's zone) are not computed.
//!
//! [`run`] takes every queued mark, recomputes the days, and stores them through
//! [`Storage::save_attendance`] in one transaction with the removal of the marks: an
//! unchanged result writes nothing and sends nothing; a crash before that commit leaves the
//! marks queued for the next run (at the latest at start-up). Runs are serialised within the
//! process, so a run never stores results older than one that finished before it.
//!
//! [`sweep`] computes the days that passed with no input at all (an absence) or were stored
//! while still in progress: at start-up and every `ServerOptions::attendance_sweep`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use daka_core::attendance::{AttendanceEngine, DayStatus, MAX_RANGE_DAYS};
use daka_core::protocol::Change;

use super::current_policy;
use super::records::{employee_records, request_dates};
use crate::storage::{
    AttendanceMark, AttendanceOutcome, AttendanceWrite, ComputedDay, Storage, StorageError,
};

/// Marks taken per round.
const MARKS_PER_ROUND: u32 = 500;

/// What a run did, over every organisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Marks settled.
    pub marks: u32,
    /// Days computed.
    pub computed: u32,
    /// What storing them did.
    pub outcome: AttendanceOutcome,
}

/// One run at a time in this process.
static RUNNING: Mutex<()> = Mutex::new(());

/// Recomputes every queued mark (see the file header).
pub fn run(storage: &dyn Storage, now: DateTime<Utc>) -> Result<RunReport, StorageError> {
    let _one = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    let mut report = RunReport::default();
    loop {
        let marks = storage.attendance_marks(MARKS_PER_ROUND)?;
        if marks.is_empty() {
            return Ok(report);
        }
        let mut by_org: BTreeMap<&str, Vec<&AttendanceMark>> = BTreeMap::new();
        for m in &marks {
            by_org.entry(&m.org_id).or_default().push(m);
        }
        for (org_id, marks) in by_org {
            let write = org_round(storage, org_id, &marks, now)?;
            report.marks += write.settled.len() as u32;
            report.computed += write.days.len() as u32;
            let o = storage.save_attendance(&write)?;
            report.outcome.stored += o.stored;
            report.outcome.unchanged += o.unchanged;
            report.outcome.late += o.late;
        }
    }
}

/// Runs the queue and logs a failure instead of returning it: for callers whose own work is
/// already committed (a push, a publication). The marks stay queued for the next run.
pub fn run_logged(storage: &dyn Storage, now: DateTime<Utc>) {
    if let Err(e) = run(storage, now) {
        tracing::warn!(error = %e, "attendance recompute failed; it stays queued");
    }
}

/// Queues the days of `from..=to` (up to today) that have no stored result, or whose stored
/// result was still in progress, for `employees` (everyone with attendance settings when
/// empty), and runs the queue: the repair at read for days that passed without any input.
pub fn ensure_days(
    storage: &dyn Storage,
    org_id: &str,
    employees: &[String],
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let Some(policy) = current_policy(storage, org_id)? else {
        return Ok(());
    };
    let today = now.with_timezone(&policy.time_zone()).date_naive();
    let to = to.min(today);
    if to < from {
        return Ok(());
    }
    let people: Vec<String> = if employees.is_empty() {
        policy
            .attendance
            .people
            .iter()
            .map(|p| p.employee.clone())
            .collect()
    } else {
        employees.to_vec()
    };
    let stored = storage.attendance_days(
        org_id,
        (people.len() == 1).then(|| people[0].as_str()),
        from,
        to,
    )?;
    let mut queued = false;
    for employee in &people {
        let done: BTreeSet<NaiveDate> = stored
            .iter()
            .filter(|d| d.employee_id == *employee && !in_progress(&d.result))
            .map(|d| d.day)
            .collect();
        let missing: Vec<NaiveDate> = from
            .iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| !done.contains(d))
            .collect();
        if let (Some(first), Some(last)) = (missing.first(), missing.last()) {
            storage.mark_attendance(
                &AttendanceMark {
                    seq: 0,
                    org_id: org_id.to_owned(),
                    employee_id: Some(employee.clone()),
                    cause: "read".into(),
                    at: None,
                    days: Some((*first, *last)),
                },
                now,
            )?;
            queued = true;
        }
    }
    if queued {
        run(storage, now)?;
    }
    Ok(())
}

/// Days before today the sweep looks at.
pub const SWEEP_DAYS: i64 = 7;

/// Computes, for every organisation and everyone with attendance settings, the days of the
/// last [`SWEEP_DAYS`] before today that have no stored result or were stored in progress:
/// the days that passed without any input. Run at start-up and on a timer.
pub fn sweep(storage: &dyn Storage, now: DateTime<Utc>) -> Result<(), StorageError> {
    for org_id in storage.org_ids()? {
        let Some(policy) = current_policy(storage, &org_id)? else {
            continue;
        };
        let today = now.with_timezone(&policy.time_zone()).date_naive();
        ensure_days(
            storage,
            &org_id,
            &[],
            today - Duration::days(SWEEP_DAYS),
            today - Duration::days(1),
            now,
        )?;
    }
    Ok(())
}

fn in_progress(result: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(result)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned))
        .is_some_and(|s| s == DayStatus::InProgress.as_str())
}

/// The first day of the month before `today`'s.
fn previous_month_start(today: NaiveDate) -> NaiveDate {
    let (y, m) = if today.month() == 1 {
        (today.year() - 1, 12)
    } else {
        (today.year(), today.month() - 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(today)
}

/// One organisation's marks of a round, computed.
fn org_round(
    storage: &dyn Storage,
    org_id: &str,
    marks: &[&AttendanceMark],
    now: DateTime<Utc>,
) -> Result<AttendanceWrite, StorageError> {
    let settled = marks.iter().map(|m| m.seq).collect();
    let mut write = AttendanceWrite {
        org_id: org_id.to_owned(),
        days: Vec::new(),
        settled,
        now,
    };
    let Some(policy) = current_policy(storage, org_id)? else {
        return Ok(write);
    };
    let tz = policy.time_zone();
    let today = now.with_timezone(&tz).date_naive();
    let everyone: Vec<String> = policy
        .attendance
        .people
        .iter()
        .map(|p| p.employee.clone())
        .collect();
    // employee → date → causes
    let mut wanted: BTreeMap<String, BTreeMap<NaiveDate, BTreeSet<String>>> = BTreeMap::new();
    for m in marks {
        let range = if let Some(days) = m.days {
            Some(days)
        } else if let Some(at) = m.at {
            let d = at.with_timezone(&tz).date_naive();
            Some((d - Duration::days(1), d + Duration::days(1)))
        } else if let Some(id) = m.cause.strip_prefix("request:") {
            storage
                .request(org_id, id)?
                .as_ref()
                .and_then(request_dates)
        } else {
            Some((previous_month_start(today), today))
        };
        let Some((from, to)) = range else { continue };
        let to = to.min(today);
        if to < from {
            continue;
        }
        let people = match &m.employee_id {
            Some(e) => std::slice::from_ref(e),
            None => everyone.as_slice(),
        };
        for employee in people {
            if policy.attendance.person(employee).is_none() {
                continue;
            }
            let days = wanted.entry(employee.clone()).or_default();
            for d in from.iter_days().take_while(|d| *d <= to) {
                days.entry(d).or_default().insert(m.cause.clone());
            }
        }
    }
    let engine = AttendanceEngine::new(&policy);
    for (employee, days) in wanted {
        let dates: Vec<NaiveDate> = days.keys().copied().collect();
        // Contiguous spans no longer than the engine takes in one call.
        for span in dates.chunk_by(|a, b| (*b - *a).num_days() == 1) {
            for chunk in span.chunks(MAX_RANGE_DAYS as usize - 1) {
                let (from, to) = (chunk[0], chunk[chunk.len() - 1]);
                let records = employee_records(storage, &policy, org_id, &employee, from, to)?;
                let results = engine
                    .days(&employee, from, to, &records, now)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                for result in results {
                    let cause = days
                        .get(&result.date)
                        .map(|c| c.iter().cloned().collect::<Vec<_>>().join(","))
                        .unwrap_or_default();
                    let json = serde_json::to_string(&result)
                        .map_err(|e| StorageError::Corrupt(format!("day result: {e}")))?;
                    let change = serde_json::to_string(&Change::DayResult {
                        result: result.clone(),
                        policy_version: policy.version,
                    })
                    .map_err(|e| StorageError::Corrupt(format!("day result change: {e}")))?;
                    write.days.push(ComputedDay {
                        employee_id: employee.clone(),
                        day: result.date,
                        result: json,
                        policy_version: policy.version,
                        change,
                        cause,
                    });
                }
            }
        }
    }
    Ok(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_month_starts_a_policy_recompute() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(previous_month_start(d("2026-11-20")), d("2026-10-01"));
        assert_eq!(previous_month_start(d("2026-01-03")), d("2025-12-01"));
    }
}
