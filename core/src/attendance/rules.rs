//! The attendance part of a policy as validated types: shifts, schedules and who follows
//! which from when, published rosters, the holiday calendar, overtime rules and the company's
//! own warning limits.
//!
//! Values of these types only exist validated: the policy loader (`policy/attendance.rs`)
//! builds them and refuses, with a [`PolicyError`](crate::policy::PolicyError) naming the JSON
//! path, a shift whose segments overlap or run backwards, a break outside its shift, a
//! schedule naming an unknown shift, assignments that overlap, a roster for a month with the
//! wrong number of days, two holidays on one date, and so on. The JSON format is documented
//! in `docs/attendance.md`.
//!
//! Times of day are minutes from the local midnight that starts the shift's date, in the
//! organisation's time zone: `09:00` is 540, and a night shift's `06:00` end the next morning
//! is 1800. A shift belongs to the date it starts on.

use std::collections::BTreeMap;

use chrono::NaiveDate;

/// Minutes in a day.
pub const DAY_MIN: u32 = 24 * 60;

/// The attendance section of a policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttendancePolicy {
    /// Shifts in document order; [`ShiftIdx`] indexes this list.
    pub shifts: Vec<Shift>,
    /// Schedules in document order; [`ScheduleIdx`] indexes this list.
    pub schedules: Vec<Schedule>,
    /// Who follows which schedule from when, per employee, in document order.
    pub people: Vec<Person>,
    /// The holiday calendar, ascending by date, one entry per date.
    pub holidays: Vec<Holiday>,
    /// Overtime rules per kind of day.
    pub overtime: OvertimeRules,
    /// What a forgotten clock-out counts as.
    pub missing_clock_out: MissingClockOut,
    /// The company's own warning limits (not law; the law's are fixed in the engine).
    pub warnings: CompanyWarnings,
    /// The first day whose hours are on record (when the company started keeping attendance
    /// with daka): the continuous-contract test does not judge weeks before it.
    pub records_from: Option<NaiveDate>,
}

/// Index of a shift in [`AttendancePolicy::shifts`].
pub type ShiftIdx = usize;
/// Index of a schedule in [`AttendancePolicy::schedules`].
pub type ScheduleIdx = usize;

impl AttendancePolicy {
    /// The attendance settings of one employee, if the policy has any.
    pub fn person(&self, employee: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.employee == employee)
    }

    /// The holiday on `date`, if it is one.
    pub fn holiday(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays
            .binary_search_by(|h| h.date.cmp(&date))
            .ok()
            .map(|i| &self.holidays[i])
    }

    /// The shift with this id.
    pub fn shift(&self, id: &str) -> Option<&Shift> {
        self.shifts.iter().find(|s| s.id == id)
    }
}

/// One working pattern for a day: one or more segments, breaks, grace and punch windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    /// Shift id, e.g. `office`; what schedules and rosters name.
    pub id: String,
    /// Display name for people, e.g. `Office 09:00–18:00`.
    pub name: String,
    /// Working segments, ascending and not overlapping (a split shift has several); the first
    /// starts within the shift's date, the last ends at most 24 hours after the first starts.
    pub segments: Vec<Segment>,
    /// Breaks inside the segments.
    pub breaks: Vec<Break>,
    /// Minutes after a segment's start that an arrival is still on time; later than that it
    /// is late by the whole delay.
    pub late_grace_min: u32,
    /// Minutes before a segment's end that a departure still counts as on time; earlier than
    /// that it is early by the whole gap.
    pub early_grace_min: u32,
    /// A flexible start: arriving up to this many minutes after the first segment's start is
    /// on time and moves the last segment's end by as much. 0 for a fixed start.
    pub flex_min: u32,
    /// How long before the first segment's start a clock-in counts for this shift.
    pub clock_in_before_min: u32,
    /// How long after the last segment's end a clock-out counts for this shift.
    pub clock_out_after_min: u32,
    /// Whether the day needs a clock-out; when `false` a clock-in alone completes the day and
    /// the scheduled end is taken as the departure.
    pub clock_out_required: bool,
}

impl Shift {
    /// Scheduled minutes of the shift less its unpaid breaks.
    pub fn expected_minutes(&self) -> u32 {
        let span: u32 = self.segments.iter().map(|s| s.end - s.start).sum();
        let unpaid: u32 = self
            .breaks
            .iter()
            .filter(|b| !b.paid)
            .map(|b| b.minutes())
            .sum();
        span.saturating_sub(unpaid)
    }
}

/// A stretch of scheduled work, minutes from the shift date's local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Start, `0..1440`.
    pub start: u32,
    /// End, after `start`, at most `start + 1440`.
    pub end: u32,
}

/// A break inside a shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Break {
    /// When the break is.
    pub when: BreakTime,
    /// Whether the break is paid (counted as worked) or unpaid (deducted).
    pub paid: bool,
}

impl Break {
    /// The break's length in minutes.
    pub fn minutes(&self) -> u32 {
        match self.when {
            BreakTime::Fixed { start, end } => end - start,
            BreakTime::Window { minutes, .. } => minutes,
        }
    }
}

/// When a break is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakTime {
    /// At fixed times, e.g. 13:00–14:00.
    Fixed {
        /// Start, minutes from the shift date's midnight.
        start: u32,
        /// End, minutes from the shift date's midnight.
        end: u32,
    },
    /// `minutes` long, taken any time within a window (e.g. one hour between 12:00 and
    /// 15:00); break punches inside the window give its actual length.
    Window {
        /// Earliest start, minutes from the shift date's midnight.
        from: u32,
        /// Latest end, minutes from the shift date's midnight.
        until: u32,
        /// The break's length.
        minutes: u32,
    },
}

/// Which days an employee works and which shift.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Schedule id, e.g. `office-week`; what assignments name.
    pub id: String,
    /// The pattern.
    pub pattern: Pattern,
    /// Which holidays the schedule takes off.
    pub holidays: HolidayObservance,
}

/// A schedule's pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The same shifts every week, Monday first; `None` is a rest day.
    Weekly([Option<ShiftIdx>; 7]),
    /// A cycle of days from a start date, e.g. `A A B B rest rest`; `None` is a rest day.
    Cycle {
        /// The date of the cycle's first day (dates before it count backwards through the
        /// cycle).
        start: NaiveDate,
        /// The cycle's days, 1 to 366 of them.
        days: Vec<Option<ShiftIdx>>,
    },
    /// Days come from the employee's published roster; a date without a roster entry has no
    /// schedule.
    Roster,
}

/// Which holidays a schedule takes off. A roster entry naming a shift on a holiday wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayObservance {
    /// Every holiday in the calendar is a day off (offices).
    All,
    /// Only statutory holidays are days off; general holidays are worked (shops).
    Statutory,
    /// Holidays are worked as scheduled (rostered staff get an alternative day instead).
    None,
}

/// One employee's attendance settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// The employee's id, one of the policy's employees.
    pub employee: String,
    /// The first day of employment, from which the continuous-contract weeks are counted;
    /// the first assignment's start when the policy does not say.
    pub employment_start: NaiveDate,
    /// Monthly wage in minor units (HK$17,200.00 = `1720000`), if the policy gives it; the
    /// hours record is required under HK$17,200.
    pub monthly_wage_minor: Option<i64>,
    /// Schedules with effective dates, ascending and not overlapping.
    pub assignments: Vec<Assignment>,
    /// Published roster days, by date (for roster schedules).
    pub roster: BTreeMap<NaiveDate, RosterDay>,
    /// Alternative holidays given for statutory holidays worked: date given → holiday date.
    pub alternative_holidays: BTreeMap<NaiveDate, NaiveDate>,
}

impl Person {
    /// The schedule in effect on `date`.
    pub fn schedule_on(&self, date: NaiveDate) -> Option<ScheduleIdx> {
        self.assignments
            .iter()
            .find(|a| a.from <= date && a.to.is_none_or(|to| date <= to))
            .map(|a| a.schedule)
    }
}

/// A schedule followed from `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// The schedule.
    pub schedule: ScheduleIdx,
    /// First day.
    pub from: NaiveDate,
    /// Last day, `None` for open-ended.
    pub to: Option<NaiveDate>,
}

/// One day of a published roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterDay {
    /// Work this shift.
    Shift(ShiftIdx),
    /// A rest day.
    Rest,
}

/// A holiday in the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// The date.
    pub date: NaiveDate,
    /// English name, e.g. `The first day of January`.
    pub name_en: String,
    /// Chinese name, e.g. `一月一日`.
    pub name_zh: String,
    /// A statutory holiday under the Employment Ordinance (s.39), not only a general holiday.
    pub statutory: bool,
}

/// Overtime rules per kind of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OvertimeRules {
    /// On a working day: time beyond the shift.
    pub workday: OvertimeRule,
    /// On a rest day: all time worked.
    pub rest_day: OvertimeRule,
    /// On a holiday taken off: all time worked.
    pub holiday: OvertimeRule,
    /// Days after which time off in lieu (調休) credited by overtime expires.
    pub time_off_expiry_days: u32,
}

impl Default for OvertimeRules {
    fn default() -> Self {
        OvertimeRules {
            workday: OvertimeRule {
                daily_cap_min: 240,
                ..OvertimeRule::default()
            },
            rest_day: OvertimeRule::default(),
            holiday: OvertimeRule::default(),
            time_off_expiry_days: 90,
        }
    }
}

/// How overtime of one kind of day counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OvertimeRule {
    /// What counts.
    pub basis: OvertimeBasis,
    /// Less than this many minutes counts as none.
    pub min_minutes: u32,
    /// Counted in units of this many minutes (1 for exact minutes).
    pub unit_minutes: u32,
    /// How a remainder is rounded to the unit.
    pub rounding: Rounding,
    /// Most minutes per day.
    pub daily_cap_min: u32,
    /// Paid, or credited as time off in lieu.
    pub compensation: Compensation,
}

impl Default for OvertimeRule {
    fn default() -> Self {
        OvertimeRule {
            basis: OvertimeBasis::Lesser,
            min_minutes: 30,
            unit_minutes: 30,
            rounding: Rounding::Down,
            daily_cap_min: 720,
            compensation: Compensation::Pay,
        }
    }
}

impl OvertimeRule {
    /// Applies the minimum, the unit and the cap to raw minutes.
    pub fn count(&self, minutes: u32) -> u32 {
        if minutes < self.min_minutes || minutes == 0 {
            return 0;
        }
        let unit = self.unit_minutes.max(1);
        let units = match self.rounding {
            Rounding::Down => minutes / unit,
            Rounding::Up => minutes.div_ceil(unit),
            Rounding::Nearest => (minutes + unit / 2) / unit,
        };
        (units * unit).min(self.daily_cap_min)
    }
}

/// What overtime counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OvertimeBasis {
    /// The minutes approved in advance through an overtime request, if worked at all.
    Approved,
    /// The minutes punched beyond the shift (all minutes on a rest day or holiday).
    Punched,
    /// The lesser of the two.
    Lesser,
}

/// How counted overtime is rounded to its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Down to a whole unit.
    Down,
    /// To the nearest unit, halves up.
    Nearest,
    /// Up to a whole unit.
    Up,
}

/// How overtime is compensated.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compensation {
    /// Paid with the wages.
    Pay,
    /// Credited as time off in lieu (調休) to the employee's ledger, expiring after
    /// [`OvertimeRules::time_off_expiry_days`].
    TimeOff,
}

impl Compensation {
    /// The wire name, e.g. `"pay"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compensation::Pay => "pay",
            Compensation::TimeOff => "time_off",
        }
    }
}

/// What a forgotten clock-out counts as. Either way the day is flagged `missing_clock_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingClockOut {
    /// Closed at the segment's scheduled end: the time is counted, the gap flagged (the
    /// default).
    #[default]
    SegmentEnd,
    /// Closed at the clock-in: nothing is counted until a correction is approved.
    NotCounted,
}

/// The company's own warning limits; 0 turns a warning off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompanyWarnings {
    /// Longest stretch of work without a break before `long_stretch` (default 8 h).
    pub long_stretch_min: u32,
    /// Most minutes worked in a week (Monday to Sunday) before `weekly_hours` (default 48 h).
    pub weekly_min: u32,
}

impl Default for CompanyWarnings {
    fn default() -> Self {
        CompanyWarnings {
            long_stretch_min: 8 * 60,
            weekly_min: 48 * 60,
        }
    }
}
