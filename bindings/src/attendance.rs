//! Attendance through the bindings: "my day" (`today`) and "my month" (`monthSummary`),
//! both offline, from the phone's own punches and the results the server last confirmed.
//!
//! Dates cross as `YYYY-MM-DD` strings, instants as Unix milliseconds, codes as the stable
//! snake_case strings of `docs/attendance.md`, so an app can switch on them.

use daka_core::attendance::day::{DayResult, SegmentResult};
use daka_core::attendance::{Month, MonthSummary};
use daka_device::engine::attendance::{DaySource, DayView, NextPunch, Today};

use crate::device::DakaDevice;
use crate::error::DakaError;
use crate::types::PunchKind;

/// A finding about a day: a stable code and a message with the numbers.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttendanceFinding {
    /// E.g. `late`, `missing_clock_out`, `absent`, `overtime`, `hk_alternative_holiday_due`.
    pub code: String,
    /// E.g. "late 12 min: clocked in 09:12, shift starts 09:00, grace 5 min".
    pub message: String,
}

/// One scheduled segment of a shift and what happened in it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ShiftSegment {
    /// Scheduled start, Unix milliseconds.
    pub start_ms: i64,
    /// Scheduled end, Unix milliseconds.
    pub end_ms: i64,
    /// The counted clock-in, if any.
    pub clock_in_ms: Option<i64>,
    /// The counted clock-out, if any.
    pub clock_out_ms: Option<i64>,
    /// Late minutes (0 within grace).
    pub late_minutes: u32,
    /// Early-leave minutes (0 within grace).
    pub early_minutes: u32,
}

/// Approved leave on a day.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LeaveOnDay {
    /// The policy's leave type id, e.g. `annual`.
    pub leave_type: String,
    /// `full`, `am` or `pm`.
    pub part: String,
}

/// One employee's day as attendance sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttendanceDay {
    /// `YYYY-MM-DD`; a night shift's date is the date it starts.
    pub date: String,
    /// `workday`, `rest_day`, `holiday`, `alternative_holiday` or `unscheduled`.
    pub kind: String,
    /// `normal`, `exception`, `absent`, `on_leave`, `holiday`, `rest_day`, `worked_day_off`,
    /// `pending`, `in_progress` or `unscheduled`.
    pub status: String,
    /// The shift id on a working day.
    pub shift: Option<String>,
    /// The date of the holiday the day is, or stands in for.
    pub holiday: Option<String>,
    /// Minutes the shift has, before leave.
    pub scheduled_minutes: u32,
    /// Minutes expected after leave.
    pub expected_minutes: u32,
    /// Minutes worked (so far, on a day in progress).
    pub worked_minutes: u32,
    /// Late minutes.
    pub late_minutes: u32,
    /// Early-leave minutes.
    pub early_minutes: u32,
    /// Segments without a clock-in.
    pub missing_clock_in: u32,
    /// Segments without a clock-out.
    pub missing_clock_out: u32,
    /// Overtime minutes counted.
    pub overtime_minutes: u32,
    /// `workday`, `rest_day` or `holiday` when there is overtime.
    pub overtime_category: Option<String>,
    /// `pay` or `time_off` when there is overtime.
    pub overtime_compensation: Option<String>,
    /// Approved leave.
    pub leave: Vec<LeaveOnDay>,
    /// Ids of field punches waiting for review.
    pub pending_punches: Vec<String>,
    /// The shift's segments.
    pub segments: Vec<ShiftSegment>,
    /// Findings, each with a code and a message.
    pub findings: Vec<AttendanceFinding>,
    /// Whether the server confirmed this result; `false` when this phone computed it from its
    /// own punches (some not sent yet, or no word from the server).
    pub confirmed: bool,
}

/// The punch the day expects next.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ExpectedPunch {
    /// `In` or `Out`.
    pub kind: PunchKind,
    /// When it is due (the segment's start or end), Unix milliseconds.
    pub due_ms: i64,
    /// The earliest it counts, Unix milliseconds.
    pub earliest_ms: i64,
    /// The latest it counts, Unix milliseconds.
    pub latest_ms: i64,
}

/// "My day".
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TodayInfo {
    /// The shift's display name, e.g. `Store 10:00–19:00 門市`, on a working day.
    pub shift_name: Option<String>,
    /// The day so far.
    pub day: AttendanceDay,
    /// The next punch expected today, if any.
    pub next_punch: Option<ExpectedPunch>,
}

/// Overtime of a month in one category and compensation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OvertimeTotal {
    /// `workday`, `rest_day` or `holiday`.
    pub category: String,
    /// `pay` or `time_off`.
    pub compensation: String,
    /// Counted minutes.
    pub minutes: u32,
}

/// Leave of a month by type.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LeaveTotal {
    /// The leave type id.
    pub leave_type: String,
    /// Half days taken (3 = a day and a half).
    pub half_days: u32,
}

/// A warning that looks across days.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttendanceWarning {
    /// `hk_rest_day_7`, `hk_alternative_holiday_due`, `hk_continuous_contract`,
    /// `hk_hours_record` or `weekly_hours`.
    pub code: String,
    /// The first date concerned, `YYYY-MM-DD`.
    pub date: String,
    /// For people, with the dates and hours.
    pub message: String,
}

/// "My month".
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MonthInfo {
    /// `YYYY-MM`.
    pub month: String,
    /// Working days scheduled.
    pub days_due: u32,
    /// Working days with a clock-in or work.
    pub days_attended: u32,
    /// Days late.
    pub late_count: u32,
    /// Late minutes.
    pub late_minutes: u32,
    /// Early-leave minutes.
    pub early_minutes: u32,
    /// Days absent.
    pub absences: u32,
    /// Missing clock-ins and clock-outs.
    pub missing_punches: u32,
    /// Leave by type.
    pub leave: Vec<LeaveTotal>,
    /// Holidays off.
    pub holidays: u32,
    /// Expected minutes.
    pub expected_minutes: u32,
    /// Worked minutes.
    pub worked_minutes: u32,
    /// Overtime by category and compensation.
    pub overtime: Vec<OvertimeTotal>,
    /// Days with a field punch waiting for review.
    pub pending_days: u32,
    /// `met`, `at_risk` or `not_met`: the continuous-contract test.
    pub continuous_contract: String,
    /// Warnings across days.
    pub warnings: Vec<AttendanceWarning>,
    /// Each day of the month.
    pub days: Vec<AttendanceDay>,
}

fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

fn segment(s: &SegmentResult) -> ShiftSegment {
    ShiftSegment {
        start_ms: ms(s.start),
        end_ms: ms(s.end),
        clock_in_ms: s.clock_in.map(ms),
        clock_out_ms: s.clock_out.map(ms),
        late_minutes: s.late_min,
        early_minutes: s.early_min,
    }
}

fn day(d: &DayResult, source: DaySource) -> AttendanceDay {
    AttendanceDay {
        date: d.date.to_string(),
        kind: d.kind.as_str().into(),
        status: d.status.as_str().into(),
        shift: d.shift.clone(),
        holiday: d.holiday.map(|h| h.to_string()),
        scheduled_minutes: d.scheduled_min,
        expected_minutes: d.expected_min,
        worked_minutes: d.worked_min,
        late_minutes: d.late_min,
        early_minutes: d.early_min,
        missing_clock_in: d.missing_clock_in,
        missing_clock_out: d.missing_clock_out,
        overtime_minutes: d.overtime.map_or(0, |o| o.counted_min),
        overtime_category: d.overtime.map(|o| o.category.as_str().into()),
        overtime_compensation: d.overtime.map(|o| o.compensation.as_str().into()),
        leave: d
            .leave
            .iter()
            .map(|l| LeaveOnDay {
                leave_type: l.leave_type.clone(),
                part: l.part.as_str().into(),
            })
            .collect(),
        pending_punches: d.pending.clone(),
        segments: d.segments.iter().map(segment).collect(),
        findings: d
            .findings
            .iter()
            .map(|f| AttendanceFinding {
                code: f.code.as_str().into(),
                message: f.message.clone(),
            })
            .collect(),
        confirmed: source == DaySource::Server,
    }
}

fn next(n: &NextPunch) -> ExpectedPunch {
    ExpectedPunch {
        kind: n.kind.into(),
        due_ms: ms(n.due),
        earliest_ms: ms(n.earliest),
        latest_ms: ms(n.latest),
    }
}

fn today_info(t: &Today) -> TodayInfo {
    TodayInfo {
        shift_name: t.shift_name.clone(),
        day: day(&t.result, t.source),
        next_punch: t.next.as_ref().map(next),
    }
}

fn month_info(s: &MonthSummary, days: &[DayView]) -> MonthInfo {
    MonthInfo {
        month: s.month.to_string(),
        days_due: s.days_due,
        days_attended: s.days_attended,
        late_count: s.late_count,
        late_minutes: s.late_min,
        early_minutes: s.early_min,
        absences: s.absences,
        missing_punches: s.missing_punches,
        leave: s
            .leave_halves
            .iter()
            .map(|(t, h)| LeaveTotal {
                leave_type: t.clone(),
                half_days: *h,
            })
            .collect(),
        holidays: s.holidays,
        expected_minutes: s.expected_min,
        worked_minutes: s.worked_min,
        overtime: s
            .overtime
            .iter()
            .map(|o| OvertimeTotal {
                category: o.category.as_str().into(),
                compensation: o.compensation.as_str().into(),
                minutes: o.minutes,
            })
            .collect(),
        pending_days: s.pending_days,
        continuous_contract: s.contract.as_str().into(),
        warnings: s
            .warnings
            .iter()
            .map(|w| AttendanceWarning {
                code: w.code.as_str().into(),
                date: w.date.to_string(),
                message: w.message.clone(),
            })
            .collect(),
        days: days.iter().map(|v| day(&v.result, v.source)).collect(),
    }
}

#[uniffi::export]
impl DakaDevice {
    /// "My day", offline: today's expected shift, the punches counted so far (in the
    /// segments), the next punch expected and its window, and the day's status and findings.
    /// Needs an enrolled device with a policy whose attendance section has a schedule for
    /// this employee.
    pub fn today(&self) -> Result<TodayInfo, DakaError> {
        Ok(today_info(&self.core().today()?))
    }

    /// "My month", offline: the month's sheet (`month` as `YYYY-MM`) and each of its days,
    /// each day confirmed by the server where it has been, else computed on this phone.
    pub fn month_summary(&self, month: String) -> Result<MonthInfo, DakaError> {
        let m = Month::parse(&month).ok_or_else(|| DakaError::InvalidInput {
            field: "month".into(),
            value: month.chars().take(40).collect(),
            reason: "a month \"YYYY-MM\" with MM from 01 to 12".into(),
        })?;
        let view = self.core().month_summary(m)?;
        Ok(month_info(&view.summary, &view.days))
    }
}
