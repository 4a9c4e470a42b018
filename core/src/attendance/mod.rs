//! Attendance: what punches mean under the employee's schedule. One pure engine that the phone
//! runs offline ("my day, my month") and the server runs as the authority.
//!
//! Data flows one way: the policy's [`rules`] and an employee's [`records`] (punches, approved
//! leave and overtime) → each date's [`plan`] (workday, rest day, holiday) → the punches each
//! day claims → a [`day::DayResult`] with codes and numbers → the [`month::MonthSummary`] HR
//! pays from, with the Hong Kong rules that look across days.
//!
//! Everything is a function of its inputs: recomputing a day twice gives the same result, and
//! punches delivered in any order give the same month. The format of the policy section is in
//! `docs/attendance.md`; the law behind the `hk_` codes in `docs/attendance-law.md`.

pub mod day;
pub mod month;
pub mod plan;
pub mod records;
pub mod rules;
pub mod time_off;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

pub use day::{DayCode, DayFinding, DayResult, DayStatus, OvertimeCategory, OvertimeResult};
pub use month::{ContractStatus, Month, MonthSummary, Warning, WarningCode};
pub use plan::{DayKind, DayPlan};
pub use records::{
    ApprovedOvertime, AttendancePunch, DayPart, EmployeeRecords, LeaveDay, PunchState,
};
pub use rules::{AttendancePolicy, Compensation};
pub use time_off::TimeOffLedger;

use crate::policy::Policy;

/// Why attendance cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttendanceError {
    /// The policy has no attendance settings for this employee (no schedule assigned); add
    /// them under `attendance.people`.
    #[error("employee {0:?} has no attendance settings in the policy (attendance.people)")]
    NoSchedule(String),
    /// A month that does not exist, such as `2026-13`.
    #[error("there is no month {0}: months run from 01 to 12")]
    NoSuchMonth(Month),
    /// A date range whose end is before its start, or longer than [`MAX_RANGE_DAYS`].
    #[error("invalid date range {from} to {to}: {reason}")]
    Range {
        /// First date asked for.
        from: NaiveDate,
        /// Last date asked for.
        to: NaiveDate,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The longest range of days one call computes.
pub const MAX_RANGE_DAYS: i64 = 800;

/// The attendance engine for one policy.
#[derive(Debug, Clone, Copy)]
pub struct AttendanceEngine<'p> {
    rules: &'p AttendancePolicy,
    tz: Tz,
}

impl<'p> AttendanceEngine<'p> {
    /// The engine for `policy`: its attendance section and its time zone.
    pub fn new(policy: &'p Policy) -> Self {
        AttendanceEngine {
            rules: &policy.attendance,
            tz: policy.time_zone(),
        }
    }

    /// The engine for an attendance section and a time zone.
    pub fn with_rules(rules: &'p AttendancePolicy, tz: Tz) -> Self {
        AttendanceEngine { rules, tz }
    }

    /// The plans of `from..=to` for `employee`.
    pub fn plans(
        &self,
        employee: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayPlan>, AttendanceError> {
        check_range(from, to)?;
        let person = self.person(employee)?;
        Ok(plan::plan_days(self.rules, person, from, to))
    }

    /// Day results for `from..=to`. `records` must be normalised
    /// ([`EmployeeRecords::normalise`]); `now` decides which days are still in progress.
    pub fn days(
        &self,
        employee: &str,
        from: NaiveDate,
        to: NaiveDate,
        records: &EmployeeRecords,
        now: DateTime<Utc>,
    ) -> Result<Vec<DayResult>, AttendanceError> {
        check_range(from, to)?;
        let person = self.person(employee)?;
        let plans = plan::plan_days(
            self.rules,
            person,
            from - Duration::days(1),
            to + Duration::days(1),
        );
        Ok(self.results(employee, &plans, records, now))
    }

    /// The result of one day.
    pub fn day(
        &self,
        employee: &str,
        date: NaiveDate,
        records: &EmployeeRecords,
        now: DateTime<Utc>,
    ) -> Result<DayResult, AttendanceError> {
        let mut days = self.days(employee, date, date, records, now)?;
        Ok(days.remove(0))
    }

    /// The month's sheet, computed from the month and the
    /// [`MONTH_LOOKBACK_DAYS`](month::MONTH_LOOKBACK_DAYS) before it.
    pub fn month(
        &self,
        employee: &str,
        month: Month,
        records: &EmployeeRecords,
        now: DateTime<Utc>,
    ) -> Result<(MonthSummary, Vec<DayResult>), AttendanceError> {
        let person = self.person(employee)?;
        let (first, last) = month_bounds(month)?;
        let from = first - Duration::days(month::MONTH_LOOKBACK_DAYS);
        let plans = plan::plan_days(
            self.rules,
            person,
            from - Duration::days(1),
            last + Duration::days(1),
        );
        let days = self.results(employee, &plans, records, now);
        let today = now.with_timezone(&self.tz).date_naive();
        let summary = month::summarise(self.rules, person, month, &plans, &days, today);
        let in_month = days
            .into_iter()
            .filter(|d| d.date >= first && d.date <= last)
            .collect();
        Ok((summary, in_month))
    }

    /// The month's sheet from day results computed elsewhere, e.g. a phone's mix of the
    /// server's confirmed days and its own: `days` in date order, covering the month and the
    /// [`MONTH_LOOKBACK_DAYS`](month::MONTH_LOOKBACK_DAYS) before it (days missing from it
    /// count as nothing worked).
    pub fn summary_of(
        &self,
        employee: &str,
        month: Month,
        days: &[DayResult],
        now: DateTime<Utc>,
    ) -> Result<MonthSummary, AttendanceError> {
        let person = self.person(employee)?;
        let (first, last) = month_bounds(month)?;
        let plans = plan::plan_days(
            self.rules,
            person,
            first - Duration::days(month::MONTH_LOOKBACK_DAYS),
            last,
        );
        let today = now.with_timezone(&self.tz).date_naive();
        Ok(month::summarise(
            self.rules, person, month, &plans, days, today,
        ))
    }

    /// The instants each day of `from..=to` claims punches in (see `day.rs`): a punch at
    /// `t` belongs to the day whose claim holds it.
    pub fn claims(
        &self,
        employee: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, day::Claim)>, AttendanceError> {
        check_range(from, to)?;
        let person = self.person(employee)?;
        let plans = plan::plan_days(
            self.rules,
            person,
            from - Duration::days(1),
            to + Duration::days(1),
        );
        let claims = day::claims(self.rules, self.tz, &plans);
        Ok((1..plans.len().saturating_sub(1))
            .map(|i| (plans[i].date, claims[i]))
            .collect())
    }

    /// The organisation's time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The attendance rules.
    pub fn rules(&self) -> &'p AttendancePolicy {
        self.rules
    }

    /// Rest-day warnings for `from..=to` of an employee's schedule and roster: run before a
    /// roster is published.
    pub fn rest_day_warnings(
        &self,
        employee: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Warning>, AttendanceError> {
        let plans = self.plans(employee, from - Duration::days(6), to)?;
        Ok(month::rest_day_warnings(
            &plans,
            from - Duration::days(6),
            to,
        ))
    }

    /// Rest-day warnings of every published roster in the policy, over the span of each
    /// person's roster entries: what to show before the roster goes out.
    pub fn roster_warnings(&self) -> Vec<(String, Warning)> {
        let mut out = Vec::new();
        for person in &self.rules.people {
            let (Some((&from, _)), Some((&to, _))) = (
                person.roster.first_key_value(),
                person.roster.last_key_value(),
            ) else {
                continue;
            };
            if let Ok(found) = self.rest_day_warnings(&person.employee, from, to) {
                out.extend(found.into_iter().map(|w| (person.employee.clone(), w)));
            }
        }
        out
    }

    /// The working days of a leave range: rest days and holidays inside it are not counted.
    pub fn leave_working_days(
        &self,
        employee: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<NaiveDate>, AttendanceError> {
        Ok(self
            .plans(employee, from, to)?
            .into_iter()
            .filter(|p| p.kind == DayKind::Workday)
            .map(|p| p.date)
            .collect())
    }

    /// The days a leave range books for `employee`: the working days of `start..=end` under
    /// the schedule (rest days and holidays inside it are not deducted), the first day from
    /// its afternoon when `start_pm`, the last to its morning when `end_am`. An employee
    /// without attendance settings books every calendar day of the range, as before the policy
    /// had schedules.
    pub fn leave_booking(
        &self,
        employee: &str,
        start: NaiveDate,
        end: NaiveDate,
        start_pm: bool,
        end_am: bool,
    ) -> Result<Vec<(NaiveDate, DayPart)>, AttendanceError> {
        check_range(start, end)?;
        let days: Vec<NaiveDate> = match self.rules.person(employee) {
            Some(_) => self.leave_working_days(employee, start, end)?,
            None => start.iter_days().take_while(|d| *d <= end).collect(),
        };
        Ok(days
            .into_iter()
            .filter_map(|d| {
                let pm = start_pm && d == start;
                let am = end_am && d == end;
                match (pm, am) {
                    (true, true) => None,
                    (true, false) => Some((d, DayPart::Pm)),
                    (false, true) => Some((d, DayPart::Am)),
                    (false, false) => Some((d, DayPart::Full)),
                }
            })
            .collect())
    }

    /// Results for `plans[1..len-1]` (the first and last plans only bound the claims).
    fn results(
        &self,
        employee: &str,
        plans: &[DayPlan],
        records: &EmployeeRecords,
        now: DateTime<Utc>,
    ) -> Vec<DayResult> {
        let claims = day::claims(self.rules, self.tz, plans);
        let cx = day::DayContext {
            policy: self.rules,
            tz: self.tz,
            now,
        };
        (1..plans.len().saturating_sub(1))
            .map(|i| day::compute_day(&cx, employee, &plans[i], claims[i], records))
            .collect()
    }

    fn person(&self, employee: &str) -> Result<&'p rules::Person, AttendanceError> {
        self.rules
            .person(employee)
            .ok_or_else(|| AttendanceError::NoSchedule(employee.to_owned()))
    }
}

/// The first and last day of `month`, or [`AttendanceError::NoSuchMonth`].
pub fn month_bounds(month: Month) -> Result<(NaiveDate, NaiveDate), AttendanceError> {
    match (month.first(), month.last()) {
        (Some(first), Some(last)) => Ok((first, last)),
        _ => Err(AttendanceError::NoSuchMonth(month)),
    }
}

fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), AttendanceError> {
    if to < from {
        return Err(AttendanceError::Range {
            from,
            to,
            reason: "the end is before the start",
        });
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(AttendanceError::Range {
            from,
            to,
            reason: "longer than 800 days",
        });
    }
    Ok(())
}
