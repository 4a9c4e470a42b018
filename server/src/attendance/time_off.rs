//! Time off in lieu (調休) on the server: the ledger of overtime credited as time off
//! (`daka_core::attendance::TimeOffLedger`, built from the employee's day results), less what
//! leave requests of a time-off-in-lieu type already book and the day results do not show yet
//! (pending requests, and approved ones for days still to come).
//!
//! A leave request of such a type is accepted only when the minutes it books fit in what is
//! available; the leave balances endpoint shows the same figures.

use chrono::{Duration, NaiveDate};
use serde_json::Value;

use daka_core::Policy;
use daka_core::approvals::RequestStatus;
use daka_core::attendance::{AttendanceEngine, DayKind, MAX_RANGE_DAYS, TimeOffLedger};

use super::records::{employee_records, leave_period};
use crate::storage::{Storage, StorageError};

/// Most requests of an employee read to find the time off already booked.
const REQUESTS_READ: u32 = 1_000;

/// What an employee has in time off in lieu, in minutes, on `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOffBalance {
    /// The ledger from the day results up to `today`.
    pub ledger: TimeOffLedger,
    /// Minutes booked by requests the day results do not show yet.
    pub booked: u32,
    /// `ledger.available − booked`, never below 0.
    pub available: u32,
}

/// The ids of the policy's time-off-in-lieu leave types.
pub fn leave_types(policy: &Policy) -> Vec<&str> {
    policy
        .approvals
        .leave_types
        .iter()
        .filter(|l| l.time_off_in_lieu)
        .map(|l| l.id.as_str())
        .collect()
}

/// The minutes a leave range books: each working day's scheduled minutes, half of them for a
/// half day. 0 for an employee without attendance settings.
pub fn booked_minutes(
    policy: &Policy,
    employee: &str,
    (start, end, start_pm, end_am): (NaiveDate, NaiveDate, bool, bool),
    after: Option<NaiveDate>,
) -> u32 {
    let engine = AttendanceEngine::new(policy);
    let Ok(days) = engine.leave_booking(employee, start, end, start_pm, end_am) else {
        return 0;
    };
    let Ok(plans) = engine.plans(employee, start, end) else {
        return 0;
    };
    days.iter()
        .filter(|(d, _)| after.is_none_or(|a| *d > a))
        .map(|(d, part)| {
            let scheduled = plans
                .iter()
                .find(|p| p.date == *d && p.kind == DayKind::Workday)
                .and_then(|p| p.shift)
                .map_or(0, |s| policy.attendance.shifts[s].expected_minutes());
            scheduled * part.halves() / 2
        })
        .sum()
}

/// The employee's time off in lieu on `today` (in the organisation's time zone), leaving out
/// the request `except` (a resubmission replaces what its earlier revision booked).
pub fn balance(
    storage: &dyn Storage,
    policy: &Policy,
    org_id: &str,
    employee: &str,
    today: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
    except: Option<&str>,
) -> Result<TimeOffBalance, StorageError> {
    let types = leave_types(policy);
    let expiry = i64::from(policy.attendance.overtime.time_off_expiry_days);
    let from = today - Duration::days(expiry.min(MAX_RANGE_DAYS - 2));
    let ledger = match policy.attendance.person(employee) {
        Some(_) => {
            let records = employee_records(storage, policy, org_id, employee, from, today)?;
            let days = AttendanceEngine::new(policy)
                .days(employee, from, today, &records, now)
                .unwrap_or_default();
            TimeOffLedger::from_days(
                &days,
                &types,
                policy.attendance.overtime.time_off_expiry_days,
                today,
            )
        }
        None => TimeOffLedger::default(),
    };
    let mut booked = 0u32;
    for r in storage.requests_of(org_id, employee, REQUESTS_READ)? {
        if r.request_type != "leave" || except == Some(r.request_id.as_str()) {
            continue;
        }
        let Ok(form) = serde_json::from_str::<Value>(&r.form) else {
            continue;
        };
        if !form["leave_type"]
            .as_str()
            .is_some_and(|t| types.contains(&t))
        {
            continue;
        }
        let Some(period) = leave_period(&form) else {
            continue;
        };
        booked += match r.state.status {
            // Waiting or sent back: nothing of it is in the day results yet.
            RequestStatus::Pending | RequestStatus::Returned => {
                booked_minutes(policy, employee, period, None)
            }
            // Approved: its days up to today are in the day results already.
            RequestStatus::Approved => booked_minutes(policy, employee, period, Some(today)),
            _ => 0,
        };
    }
    Ok(TimeOffBalance {
        available: ledger.available.saturating_sub(booked),
        booked,
        ledger,
    })
}
