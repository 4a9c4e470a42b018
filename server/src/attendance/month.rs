//! A month of every employee with attendance settings, computed by the engine from the
//! stored records under the organisation's current policy; and the export HR pays from,
//! built from it ([`crate::report::MonthReport`]). The month endpoint, the report endpoint
//! and `daka report` all come here, so they give the same numbers.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use daka_core::Policy;
use daka_core::attendance::month::MONTH_LOOKBACK_DAYS;
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
        let (summary, days) = engine
            .month(id, month, &records, now)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        out.push((id.clone(), summary, days));
    }
    Ok(MonthResults {
        policy,
        month,
        employees: out,
    })
}
