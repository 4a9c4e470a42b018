//! A month for one employee: the day results folded into the sheet HR pays from, and the
//! Hong Kong rules that look across days (a rest day in every 7, the continuous-contract
//! test, alternative holidays, the hours record) and the company's weekly-hours limit.
//!
//! See `docs/attendance-law.md` for the law and where the engine simplifies it.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::day::{DayCode, DayResult, DayStatus, OvertimeCategory, hm};
use super::plan::{DayKind, DayPlan};
use super::rules::{AttendancePolicy, Compensation, Person};

/// The day the continuous-contract test changed from "18 hours in each of 4 weeks" to
/// "17 hours in each week, or 68 hours over 4 weeks" (Employment (Amendment) Ordinance 2025).
pub fn contract_468_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 18).unwrap_or(NaiveDate::MIN)
}

/// Monthly wage below which the hours worked must be recorded per wage period (HK$17,200,
/// in minor units).
pub const HOURS_RECORD_WAGE_MINOR: i64 = 1_720_000;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
}

impl Month {
    /// Parses `YYYY-MM`: four digits, a dash, two digits (no sign, no spaces), so that a
    /// month has one spelling and text that parses is the text [`Month`] writes.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) {
            return None;
        }
        let month = Month {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
        };
        month.first().map(|_| month)
    }

    /// The first day, or `None` for an impossible month.
    pub fn first(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// The last day.
    pub fn last(self) -> Option<NaiveDate> {
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.pred_opt())
    }

    /// The month a date is in.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A stable machine code for a warning that looks across days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WarningCode {
    /// Seven consecutive scheduled days without a rest day (EO s.17). Serialised as its
    /// documented text (snake case alone would write `hk_rest_day7`, still read).
    #[serde(rename = "hk_rest_day_7", alias = "hk_rest_day7")]
    HkRestDay7,
    /// A statutory holiday was worked and no alternative holiday has been given (EO s.39).
    HkAlternativeHolidayDue,
    /// The continuous-contract test is at risk or not met.
    HkContinuousContract,
    /// The hours worked in the wage period must be recorded (wage under HK$17,200).
    HkHoursRecord,
    /// More hours in a week than the company's limit.
    WeeklyHours,
}

impl WarningCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [WarningCode] = &[
        WarningCode::HkRestDay7,
        WarningCode::HkAlternativeHolidayDue,
        WarningCode::HkContinuousContract,
        WarningCode::HkHoursRecord,
        WarningCode::WeeklyHours,
    ];

    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::HkRestDay7 => "hk_rest_day_7",
            WarningCode::HkAlternativeHolidayDue => "hk_alternative_holiday_due",
            WarningCode::HkContinuousContract => "hk_continuous_contract",
            WarningCode::HkHoursRecord => "hk_hours_record",
            WarningCode::WeeklyHours => "weekly_hours",
        }
    }
}

/// A warning with its numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// What it is.
    pub code: WarningCode,
    /// The first date concerned.
    pub date: NaiveDate,
    /// For people, with the dates and hours.
    pub message: String,
}

/// The continuous-contract status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    /// Every 4-week period ending in the month met the test.
    Met,
    /// The 4-week period in progress has not met the test yet.
    AtRisk,
    /// A 4-week period ending in the month did not meet the test.
    NotMet,
}

impl ContractStatus {
    /// The wire name, e.g. `"met"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractStatus::Met => "met",
            ContractStatus::AtRisk => "at_risk",
            ContractStatus::NotMet => "not_met",
        }
    }
}

/// One week of the continuous-contract test; weeks are counted in 7 days from the first day
/// of employment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractWeek {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Minutes worked in the week.
    pub worked_min: u32,
    /// Minutes worked in the 4 weeks ending with this one, when the person was employed
    /// throughout them.
    pub four_week_min: Option<u32>,
    /// `418` (the week ends before 18 January 2026: 18 hours) or `468` (17 hours, or 68 over
    /// the 4 weeks ending with it).
    pub rule: u16,
    /// The outcome; `at_risk` for the week in progress or while employed under 4 weeks.
    pub status: ContractStatus,
}

/// A statutory holiday worked and its alternative holiday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlternativeHoliday {
    /// The statutory holiday worked.
    pub holiday: NaiveDate,
    /// The last day the alternative may be given: 60 days after the day the holiday was
    /// worked (its own date, or the day it moved to from a rest day).
    pub due: NaiveDate,
    /// The day given, if any.
    pub given: Option<NaiveDate>,
}

/// Overtime of a month in one category and compensation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OvertimeTotal {
    /// Workday, rest day or holiday.
    pub category: OvertimeCategory,
    /// Paid or time off.
    pub compensation: Compensation,
    /// Counted minutes.
    pub minutes: u32,
}

/// The month's sheet for one employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthSummary {
    /// The employee.
    pub employee: String,
    /// The month.
    pub month: Month,
    /// Working days scheduled (holidays taken off are not due).
    pub days_due: u32,
    /// Working days with a counted clock-in or counted work.
    pub days_attended: u32,
    /// Days that were late, and the minutes.
    pub late_count: u32,
    /// Late minutes.
    pub late_min: u32,
    /// Early-leave minutes.
    pub early_min: u32,
    /// Days absent.
    pub absences: u32,
    /// Missing clock-ins plus clock-outs.
    pub missing_punches: u32,
    /// Leave by type, in half days.
    pub leave_halves: BTreeMap<String, u32>,
    /// Holidays taken off (including moved and alternative holidays).
    pub holidays: u32,
    /// Rest days.
    pub rest_days: u32,
    /// Expected minutes.
    pub expected_min: u32,
    /// Worked minutes: the hours worked in the wage period (the calendar month).
    pub worked_min: u32,
    /// Overtime by category and compensation.
    pub overtime: Vec<OvertimeTotal>,
    /// Days with a field punch waiting for review.
    pub pending_days: u32,
    /// Continuous-contract status over the weeks ending in the month (and the one in
    /// progress).
    pub contract: ContractStatus,
    /// Those weeks.
    pub contract_weeks: Vec<ContractWeek>,
    /// Statutory holidays worked within 60 days before the month's end, and their alternative
    /// holidays.
    pub alternative_holidays: Vec<AlternativeHoliday>,
    /// Whether the hours record is required (monthly wage under HK$17,200).
    pub hours_record_required: bool,
    /// Warnings across days.
    pub warnings: Vec<Warning>,
}

/// Days before a month that its summary reads: four weeks for the continuous contract and
/// sixty days for alternative holidays.
pub const MONTH_LOOKBACK_DAYS: i64 = 60;

/// Folds day results `days` (ascending, covering at least the month and the
/// [`MONTH_LOOKBACK_DAYS`] before it where the person was employed) into the month's sheet.
pub fn summarise(
    policy: &AttendancePolicy,
    person: &Person,
    month: Month,
    plans: &[DayPlan],
    days: &[DayResult],
    today: NaiveDate,
) -> MonthSummary {
    let first = month.first().unwrap_or(NaiveDate::MIN);
    let last = month.last().unwrap_or(NaiveDate::MIN);
    let in_month: Vec<&DayResult> = days
        .iter()
        .filter(|d| d.date >= first && d.date <= last)
        .collect();
    let mut s = MonthSummary {
        employee: person.employee.clone(),
        month,
        days_due: 0,
        days_attended: 0,
        late_count: 0,
        late_min: 0,
        early_min: 0,
        absences: 0,
        missing_punches: 0,
        leave_halves: BTreeMap::new(),
        holidays: 0,
        rest_days: 0,
        expected_min: 0,
        worked_min: 0,
        overtime: Vec::new(),
        pending_days: 0,
        contract: ContractStatus::Met,
        contract_weeks: Vec::new(),
        alternative_holidays: Vec::new(),
        hours_record_required: person
            .monthly_wage_minor
            .is_some_and(|w| w < HOURS_RECORD_WAGE_MINOR),
        warnings: Vec::new(),
    };
    let mut ot: BTreeMap<(OvertimeCategory, u8), u32> = BTreeMap::new();
    for d in &in_month {
        match d.kind {
            DayKind::Workday => {
                s.days_due += 1;
                if d.worked_min > 0 || d.segments.iter().any(|g| g.clock_in.is_some()) {
                    s.days_attended += 1;
                }
            }
            DayKind::Holiday | DayKind::AlternativeHoliday => s.holidays += 1,
            DayKind::RestDay => s.rest_days += 1,
            DayKind::Unscheduled => {}
        }
        if d.late_min > 0 {
            s.late_count += 1;
        }
        s.late_min += d.late_min;
        s.early_min += d.early_min;
        if d.status == DayStatus::Absent {
            s.absences += 1;
        }
        s.missing_punches += d.missing_clock_in + d.missing_clock_out;
        for l in &d.leave {
            *s.leave_halves.entry(l.leave_type.clone()).or_default() += l.part.halves();
        }
        s.expected_min += d.expected_min;
        s.worked_min += d.worked_min;
        if let Some(o) = d.overtime.filter(|o| o.counted_min > 0) {
            let c = match o.compensation {
                Compensation::Pay => 0,
                Compensation::TimeOff => 1,
            };
            *ot.entry((o.category, c)).or_default() += o.counted_min;
        }
        if !d.pending.is_empty() {
            s.pending_days += 1;
        }
    }
    s.overtime = ot
        .into_iter()
        .map(|((category, c), minutes)| OvertimeTotal {
            category,
            compensation: if c == 0 {
                Compensation::Pay
            } else {
                Compensation::TimeOff
            },
            minutes,
        })
        .collect();

    // A rest day in every 7 days, over the month and the six days before it.
    s.warnings
        .extend(rest_day_warnings(plans, first - Duration::days(6), last));

    // Statutory holidays worked in the 60 days up to the month's end.
    for d in days.iter().filter(|d| {
        d.has(DayCode::HkAlternativeHolidayDue)
            && d.date <= last
            && d.date >= first - Duration::days(60)
    }) {
        // The statutory holiday's own date, also when it was worked on the day it moved to.
        let holiday = d.holiday.unwrap_or(d.date);
        let given = person
            .alternative_holidays
            .iter()
            .find(|(_, h)| **h == holiday)
            .map(|(g, _)| *g);
        // Within 60 days of the day the holiday was (the day it moved to, if it moved).
        let due = d.date + Duration::days(60);
        if given.is_none() {
            s.warnings.push(Warning {
                code: WarningCode::HkAlternativeHolidayDue,
                date: holiday,
                message: format!(
                    "the statutory holiday {holiday} was worked: an alternative holiday must be given by {due}{}",
                    if due < today { " (overdue)" } else { "" }
                ),
            });
        }
        s.alternative_holidays.push(AlternativeHoliday {
            holiday,
            due,
            given,
        });
    }

    // The continuous contract, week by week.
    let minutes_on: BTreeMap<NaiveDate, u32> =
        days.iter().map(|d| (d.date, d.worked_min)).collect();
    let known_from = policy
        .records_from
        .map_or(person.employment_start, |r| r.max(person.employment_start));
    s.contract_weeks = contract_weeks(
        person.employment_start,
        known_from,
        first,
        last,
        today,
        &minutes_on,
    );
    s.contract = s
        .contract_weeks
        .iter()
        .map(|w| w.status)
        .fold(ContractStatus::Met, |acc, st| match (acc, st) {
            (ContractStatus::NotMet, _) | (_, ContractStatus::NotMet) => ContractStatus::NotMet,
            (ContractStatus::AtRisk, _) | (_, ContractStatus::AtRisk) => ContractStatus::AtRisk,
            _ => ContractStatus::Met,
        });
    if s.contract != ContractStatus::Met {
        if let Some(w) = s.contract_weeks.iter().find(|w| w.status == s.contract) {
            let test = if w.rule == 468 {
                format!(
                    "17 h in the week, or 68 h over it and the 3 weeks before ({})",
                    w.four_week_min
                        .map_or("not employed 4 weeks yet".to_owned(), hm)
                )
            } else {
                "18 h in each week (before 18 January 2026)".to_owned()
            };
            s.warnings.push(Warning {
                code: WarningCode::HkContinuousContract,
                date: w.from,
                message: format!(
                    "continuous contract {}: the week {} to {} has {}; the test is {test}",
                    if w.status == ContractStatus::NotMet {
                        "not met"
                    } else {
                        "at risk"
                    },
                    w.from,
                    w.to,
                    hm(w.worked_min),
                ),
            });
        }
    }

    // The company's weekly limit, Monday to Sunday weeks that start in the month.
    let limit = policy.warnings.weekly_min;
    if limit > 0 {
        let mut monday = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
        while monday <= last {
            let total: u32 = (0..7)
                .map(|k| {
                    minutes_on
                        .get(&(monday + Duration::days(k)))
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            if total > limit && monday + Duration::days(6) >= first {
                s.warnings.push(Warning {
                    code: WarningCode::WeeklyHours,
                    date: monday,
                    message: format!(
                        "worked {} in the week from {monday} (company limit {})",
                        hm(total),
                        hm(limit)
                    ),
                });
            }
            monday += Duration::days(7);
        }
    }
    if s.hours_record_required {
        s.warnings.push(Warning {
            code: WarningCode::HkHoursRecord,
            date: first,
            message: format!(
                "monthly wage under HK$17,200: the {} hours worked in {month} must be kept on record",
                hm(s.worked_min)
            ),
        });
    }
    s.warnings.sort_by_key(|w| (w.date, w.code));
    s
}

/// The continuous-contract weeks that end in `first..=last`, plus the week in progress on
/// `today` if it overlaps them. Weeks run in 7 days from `start`, the first day of employment.
///
/// Weeks with a day before `known_from` (the first day whose hours are on record: the
/// policy's `records_from`, or the start of employment) are not judged, and a 4-week total is
/// only taken over weeks that are all on record: a day before daka kept records is not a day
/// without work.
pub fn contract_weeks(
    start: NaiveDate,
    known_from: NaiveDate,
    first: NaiveDate,
    last: NaiveDate,
    today: NaiveDate,
    minutes_on: &BTreeMap<NaiveDate, u32>,
) -> Vec<ContractWeek> {
    let week_total = |from: NaiveDate| -> u32 {
        (0..7)
            .map(|k| {
                minutes_on
                    .get(&(from + Duration::days(k)))
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    };
    let mut out = Vec::new();
    if start > last {
        return out;
    }
    // The first week ending on or after `first`.
    let skip = ((first - start).num_days() - 6).max(0).div_euclid(7)
        + i64::from(((first - start).num_days() - 6).max(0) % 7 != 0);
    let mut k = skip;
    loop {
        let from = start + Duration::days(7 * k);
        let to = from + Duration::days(6);
        let in_progress = from <= today && today <= to;
        // Weeks that end in the month, and the one in progress if it starts in the month.
        if from > last || from > today || (to > last && !in_progress) {
            break;
        }
        if from < known_from {
            k += 1;
            continue;
        }
        let worked_min = week_total(from);
        let on_record = from - Duration::days(21) >= known_from;
        let four_week_min = (k >= 3 && on_record).then(|| {
            (0..4)
                .map(|j| week_total(from - Duration::days(7 * j)))
                .sum::<u32>()
        });
        let rule: u16 = if to < contract_468_from() { 418 } else { 468 };
        let passes = if rule == 418 {
            worked_min >= 18 * 60
        } else {
            worked_min >= 17 * 60 || four_week_min.is_some_and(|m| m >= 68 * 60)
        };
        let status = if k < 3 {
            // Employed under 4 weeks: not yet a continuous contract.
            ContractStatus::AtRisk
        } else if passes {
            ContractStatus::Met
        } else if in_progress {
            ContractStatus::AtRisk
        } else {
            ContractStatus::NotMet
        };
        out.push(ContractWeek {
            from,
            to,
            worked_min,
            four_week_min,
            rule,
            status,
        });
        k += 1;
    }
    out
}

/// Runs of 7 or more consecutive scheduled days without a rest day, between `from` and `to`:
/// one warning per run, dated its first day. Checks a roster before it is published as well as
/// a month after the fact.
pub fn rest_day_warnings(plans: &[DayPlan], from: NaiveDate, to: NaiveDate) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut run: Option<(NaiveDate, u32)> = None;
    let flush = |run: &mut Option<(NaiveDate, u32)>, out: &mut Vec<Warning>| {
        if let Some((start, n)) = run.take() {
            if n >= 7 {
                out.push(Warning {
                    code: WarningCode::HkRestDay7,
                    date: start,
                    message: format!(
                        "{n} days in a row from {start} without a rest day: the law requires one in every 7 days"
                    ),
                });
            }
        }
    };
    for p in plans.iter().filter(|p| p.date >= from && p.date <= to) {
        match p.kind {
            DayKind::RestDay | DayKind::Unscheduled => flush(&mut run, &mut out),
            _ => match &mut run {
                Some((_, n)) => *n += 1,
                None => run = Some((p.date, 1)),
            },
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::{Month, WarningCode};

    /// The round trip the `attendance_inputs` fuzz target asserts: `i32` and `u32` take a leading
    /// `+`, so `+202-12` read as the year 202 and `2026-+1` as January 2026, months that
    /// write themselves differently (`0202-12`, `2026-01`).
    #[test]
    fn a_month_has_one_spelling() {
        for text in [
            "+202-12", "2026-+1", "-202-12", "2026- 1", " 2026-01", "2026-1", "2026-13",
        ] {
            assert_eq!(Month::parse(text), None, "{text:?}");
        }
        assert_eq!(
            Month::parse("2026-01"),
            Some(Month {
                year: 2026,
                month: 1
            })
        );
        assert_eq!(
            Month::parse("0202-12"),
            Some(Month {
                year: 202,
                month: 12
            })
        );
    }

    /// A new code fails to compile here until it is also in [`WarningCode::ALL`].
    #[test]
    fn all_warning_codes_are_listed_once_with_their_text() {
        for (i, code) in WarningCode::ALL.iter().enumerate() {
            let position = match code {
                WarningCode::HkRestDay7 => 0,
                WarningCode::HkAlternativeHolidayDue => 1,
                WarningCode::HkContinuousContract => 2,
                WarningCode::HkHoursRecord => 3,
                WarningCode::WeeklyHours => 4,
            };
            assert_eq!(position, i, "{code:?}");
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
            let back: WarningCode = serde_json::from_value(code.as_str().into()).unwrap();
            assert_eq!(back, *code);
        }
        assert_eq!(WarningCode::ALL.len(), 5);
        let old: WarningCode = serde_json::from_str("\"hk_rest_day7\"").unwrap();
        assert_eq!(old, WarningCode::HkRestDay7);
    }
}
