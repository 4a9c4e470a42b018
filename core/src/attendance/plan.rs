//! What each date is for one employee: a working day with its shift, a rest day, a holiday
//! (including a statutory holiday moved off a rest day), or a day with no schedule; and the
//! instants a shift's times fall on in the organisation's time zone.
//!
//! The moved holiday follows the Employment Ordinance, s.39(2): a statutory holiday that
//! falls on an employee's rest day is taken on the next day that is neither a holiday nor a
//! rest day. So a date's plan depends on the days before it; [`plan_days`] walks forward from
//! [`LOOKBACK_DAYS`] before the first date asked for.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::rules::{
    AttendancePolicy, DAY_MIN, HolidayObservance, Pattern, Person, RosterDay, ShiftIdx,
};

/// How many days before a date are walked to find statutory holidays moved onto it: a run of
/// rest days and holidays longer than this is not looked through.
pub const LOOKBACK_DAYS: i64 = 21;

/// What one date is for one employee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayPlan {
    /// The date.
    pub date: NaiveDate,
    /// What kind of day it is.
    pub kind: DayKind,
    /// The shift to work, on a working day.
    pub shift: Option<ShiftIdx>,
    /// A holiday on this date, or the statutory holiday moved onto it, or the statutory
    /// holiday an alternative holiday on it is given for.
    pub holiday: Option<NaiveDate>,
}

/// What kind of day a date is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A working day with a shift (a holiday the schedule works included).
    Workday,
    /// A rest day.
    RestDay,
    /// A holiday taken off: one in the calendar, or a statutory holiday moved here from a
    /// rest day.
    Holiday,
    /// An alternative holiday given for a statutory holiday worked.
    AlternativeHoliday,
    /// No schedule covers the date (before employment, between assignments, or a roster
    /// month not yet published).
    Unscheduled,
}

impl DayKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Workday => "workday",
            DayKind::RestDay => "rest_day",
            DayKind::Holiday => "holiday",
            DayKind::AlternativeHoliday => "alternative_holiday",
            DayKind::Unscheduled => "unscheduled",
        }
    }
}

/// The schedule's answer for a date before holidays: a shift, a rest day, or nothing; and
/// whether it was an explicit roster entry (which wins over holidays).
fn scheduled(
    policy: &AttendancePolicy,
    person: &Person,
    date: NaiveDate,
) -> Option<(Option<ShiftIdx>, bool, HolidayObservance)> {
    let schedule = &policy.schedules[person.schedule_on(date)?];
    let (shift, explicit) = match &schedule.pattern {
        Pattern::Weekly(days) => (days[date.weekday().num_days_from_monday() as usize], false),
        Pattern::Cycle { start, days } => {
            let n = days.len() as i64;
            let k = (date - *start).num_days().rem_euclid(n);
            (days[k as usize], false)
        }
        Pattern::Roster => match person.roster.get(&date)? {
            RosterDay::Shift(s) => (Some(*s), true),
            RosterDay::Rest => (None, true),
        },
    };
    Some((shift, explicit, schedule.holidays))
}

/// The plans of `from..=to` for `person`, in date order.
pub fn plan_days(
    policy: &AttendancePolicy,
    person: &Person,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<DayPlan> {
    let mut out = Vec::with_capacity(usize::try_from((to - from).num_days() + 1).unwrap_or(0));
    // Statutory holidays that fell on a rest day and wait for the next free day.
    let mut moved: Vec<NaiveDate> = Vec::new();
    let mut date = from - Duration::days(LOOKBACK_DAYS);
    while date <= to {
        let plan = plan_one(policy, person, date, &mut moved);
        if date >= from {
            out.push(plan);
        }
        date += Duration::days(1);
    }
    out
}

/// The plan of one date.
pub fn plan_day(policy: &AttendancePolicy, person: &Person, date: NaiveDate) -> DayPlan {
    plan_days(policy, person, date, date)[0]
}

fn plan_one(
    policy: &AttendancePolicy,
    person: &Person,
    date: NaiveDate,
    moved: &mut Vec<NaiveDate>,
) -> DayPlan {
    let plan = |kind, shift, holiday| DayPlan {
        date,
        kind,
        shift,
        holiday,
    };
    let Some((shift, explicit, observance)) = scheduled(policy, person, date) else {
        moved.clear();
        return plan(DayKind::Unscheduled, None, None);
    };
    if let Some(&for_holiday) = person.alternative_holidays.get(&date) {
        return plan(DayKind::AlternativeHoliday, None, Some(for_holiday));
    }
    let holiday = policy.holiday(date);
    let observed = |statutory: bool| match observance {
        HolidayObservance::All => true,
        HolidayObservance::Statutory => statutory,
        HolidayObservance::None => false,
    };
    // A statutory holiday waiting to move lands on this day. A schedule that works holidays
    // (`none`), or a roster entry naming a shift, works it: the day stays a working day that
    // carries the holiday, so working it calls for an alternative holiday.
    let land = |moved: &mut Vec<NaiveDate>, s: ShiftIdx| -> Option<DayPlan> {
        if moved.is_empty() {
            return None;
        }
        let m = moved.remove(0);
        Some(if explicit || observance == HolidayObservance::None {
            plan(DayKind::Workday, Some(s), Some(m))
        } else {
            plan(DayKind::Holiday, None, Some(m))
        })
    };
    match (shift, holiday) {
        (None, Some(h)) => {
            // s.39(2) applies to every employee, whatever the schedule observes.
            if h.statutory {
                moved.push(h.date);
            }
            plan(DayKind::RestDay, None, Some(h.date))
        }
        (None, None) => plan(DayKind::RestDay, None, None),
        (Some(s), Some(h)) if explicit || !observed(h.statutory) => {
            // A general holiday worked: a statutory holiday waiting to move lands here.
            if !h.statutory {
                if let Some(p) = land(moved, s) {
                    return p;
                }
            }
            plan(DayKind::Workday, Some(s), Some(h.date))
        }
        (Some(_), Some(h)) => {
            // A general holiday taken off also takes a statutory holiday waiting to move
            // (s.39(2) skips statutory, alternative and substituted holidays and rest days,
            // not general holidays).
            if !h.statutory && !moved.is_empty() {
                moved.remove(0);
            }
            plan(DayKind::Holiday, None, Some(h.date))
        }
        (Some(s), None) => land(moved, s).unwrap_or_else(|| plan(DayKind::Workday, Some(s), None)),
    }
}

/// The instant of `minutes` after the local midnight that starts `date` in `tz`. A local
/// time that occurs twice (clocks going back) is the first; one that does not occur (clocks
/// going forward) is read with the offset before the change, so 01:30 in a gap from 01:00 to
/// 02:00 is 02:30 after it.
pub fn local_instant(tz: Tz, date: NaiveDate, minutes: u32) -> DateTime<Utc> {
    let day = date + Duration::days(i64::from(minutes / DAY_MIN));
    let m = minutes % DAY_MIN;
    let naive = day
        .and_hms_opt(m / 60, m % 60, 0)
        .unwrap_or_else(|| day.and_time(chrono::NaiveTime::MIN));
    resolve(tz, naive)
}

fn resolve(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: the offset in force just before it.
            let before = tz
                .from_local_datetime(&(naive - Duration::hours(3)))
                .earliest()
                .map(|t| t.offset().fix())
                .unwrap_or_else(|| tz.offset_from_utc_datetime(&naive).fix());
            (naive - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
        }
    }
}

/// `t` as local `HH:MM` in `tz`.
pub fn local_hhmm(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%H:%M").to_string()
}

use chrono::Offset as _;
