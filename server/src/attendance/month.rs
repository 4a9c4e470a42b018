//! A month of every employee with attendance settings, computed by the engine from the
//! stored records under the organisation's current policy; and the export HR pays from,
//! built from it ([`crate::report::MonthReport`]). The month endpoint, the report endpoint
//! and `daka report` all come here, so they give the same numbers.
//!
//! A month locked for payroll is summarised from its **stored** day results (the ones payroll
//! was locked on; late changes are recorded beside them, not taken), the days of the lookback
//! likewise where their month is locked, and the engine's results elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use daka_core::Policy;
use daka_core::attendance::month::{MONTH_LOOKBACK_DAYS, summarise};
use daka_core::attendance::{AttendanceEngine, DayResult, Month, MonthSummary};

use super::current_policy;
use super::records::employee_records;
use crate::report::MonthReport;
use crate::storage::{Storage, StorageError};

/// One organisation's month.
#[derive(Debug, Clone)]
pub struct MonthResults {
    /// The policy it was computed under.
    pub policy: Arc<Policy>,
    /// The month.
    pub month: Month,
    /// Per employee, in the policy's order: id, summary and the month's days.
    pub employees: Vec<(String, MonthSummary, Vec<DayResult>)>,
}

impl MonthResults {
    /// The export of these results.
    pub fn report(&self) -> MonthReport {
        MonthReport::build(&self.policy, self.month, self.employees.clone())
    }
}

/// Why a month cannot be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonthError {
    /// The organisation has no policy yet.
    #[error("the organisation has no policy")]
    NoPolicy,
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The month of `employees` (everyone with attendance settings when `None`), as of `now`.
pub fn month_results(
    storage: &dyn Storage,
    org_id: &str,
    month: Month,
    employees: Option<&[String]>,
    now: DateTime<Utc>,
) -> Result<MonthResults, MonthError> {
    let policy = current_policy(storage, org_id)?.ok_or(MonthError::NoPolicy)?;
    let (Some(first), Some(last)) = (month.first(), month.last()) else {
        return Err(StorageError::Corrupt(format!("month {month}")).into());
    };
    let engine = AttendanceEngine::new(&policy);
    let locked: BTreeSet<Month> = storage
        .month_locks(org_id)?
        .0
        .iter()
        .filter_map(|l| Month::parse(&l.month))
        .collect();
    let today = now.with_timezone(&policy.time_zone()).date_naive();
    let mut out = Vec::new();
    for person in &policy.attendance.people {
        let id = &person.employee;
        if employees.is_some_and(|e| !e.contains(id)) {
            continue;
        }
        let records = employee_records(
            storage,
            &policy,
            org_id,
            id,
            first - Duration::days(MONTH_LOOKBACK_DAYS + 1),
            last + Duration::days(1),
        )?;
        let engine_error = |e: daka_core::attendance::AttendanceError| {
            MonthError::Storage(StorageError::Corrupt(e.to_string()))
        };
        if !locked.contains(&month) {
            let (summary, days) = engine
                .month(id, month, &records, now)
                .map_err(engine_error)?;
            out.push((id.clone(), summary, days));
            continue;
        }
        // Locked: the stored results of locked months stand for the engine's.
        let from = first - Duration::days(MONTH_LOOKBACK_DAYS);
        let mut days = engine
            .days(id, from, last, &records, now)
            .map_err(engine_error)?;
        let stored: BTreeMap<chrono::NaiveDate, String> = storage
            .attendance_days(org_id, Some(id), from, last)?
            .into_iter()
            .map(|d| (d.day, d.result))
            .collect();
        for d in &mut days {
            if locked.contains(&Month::of(d.date))
                && let Some(json) = stored.get(&d.date)
            {
                *d = serde_json::from_str(json).map_err(|e| {
                    StorageError::Corrupt(format!("stored day result of {id} {}: {e}", d.date))
                })?;
            }
        }
        let plans = engine
            .plans(id, from - Duration::days(1), last + Duration::days(1))
            .map_err(engine_error)?;
        let summary = summarise(&policy.attendance, person, month, &plans, &days, today);
        days.retain(|d| d.date >= first);
        out.push((id.clone(), summary, days));
    }
    Ok(MonthResults {
        policy,
        month,
        employees: out,
    })
}
