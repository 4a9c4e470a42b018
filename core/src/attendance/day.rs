//! One employee's day: from the day's plan, the punches that belong to it, approved leave and
//! overtime, to a [`DayResult`] with expected and worked minutes, lateness, early leave,
//! missing punches, absence, overtime by category and pending items, each finding with a
//! stable code and a message that carries the numbers.
//!
//! # Which punches belong to a day
//!
//! A working day claims punches from `clock_in_before_min` before its first segment to
//! `clock_out_after_min` after its last; any other day claims its own calendar day. Where two
//! days' claims overlap, or leave a gap, the boundary is the middle of the overlap or gap
//! (kept between the earlier day's scheduled end and the later day's scheduled start); where
//! a working day's claim reaches into a neighbouring day without a shift, the working day
//! keeps its whole claim. So every punch belongs to exactly one day and a night shift's
//! clock-out at 06:05 belongs to the night before, a rest day after it too.
//!
//! # Pairing
//!
//! Counted punches (accepted, approved field punches, corrections) are read in time order: a
//! clock-in opens work, a break start closes it and opens a break, a break end reopens work, a
//! clock-out closes it. A second clock-in while at work, and a second clock-out after a
//! segment was clocked in and out, are listed as `extra_punch` and otherwise ignored; a
//! clock-out with no counted clock-in before it is a `missing_clock_in`. Worked minutes are the paired minutes, less
//! unpaid scheduled breaks the work ran through, plus paid break time taken.
//!
//! # Lateness and early leave
//!
//! Measured in scheduled working minutes (an unpaid fixed break in between is not counted), so
//! late + early never exceed the expected minutes. Within the grace they are 0; beyond it they
//! count in full ("late 12 min: clocked in 09:12, shift starts 09:00, grace 5 min").

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::plan::{DayKind, DayPlan, local_hhmm, local_instant};
use super::records::{AttendancePunch, DayPart, EmployeeRecords, LeaveDay};
use super::rules::{
    AttendancePolicy, BreakTime, Compensation, MissingClockOut, OvertimeBasis, OvertimeRule, Shift,
};
use crate::punch::PunchKind;

/// A stable machine code for one finding about a day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DayCode {
    /// Arrived after the start plus grace.
    Late,
    /// Left before the end minus grace.
    EarlyLeave,
    /// A segment has a clock-out but no clock-in.
    MissingClockIn,
    /// A clock-in was never followed by a clock-out; closed by the policy's rule.
    MissingClockOut,
    /// A working day with no counted punch and no leave.
    Absent,
    /// On approved leave (all or part of the day).
    OnLeave,
    /// Overtime counted.
    Overtime,
    /// A field punch is waiting for its review.
    PendingReview,
    /// A punch that pairs with nothing (a second clock-in while at work, a second clock-out
    /// after a segment was clocked in and out).
    ExtraPunch,
    /// Worked on a rest day.
    WorkedRestDay,
    /// Worked on a holiday.
    WorkedHoliday,
    /// A statutory holiday worked: an alternative holiday is due within 60 days (EO s.39).
    HkAlternativeHolidayDue,
    /// Worked longer than the company's limit without a break.
    LongStretch,
    /// A punch added by an approved missed-punch correction counts for this day.
    Corrected,
}

impl DayCode {
    /// Every code, in declaration order (for tables that must cover them all, such as a
    /// translation).
    pub const ALL: &'static [DayCode] = &[
        DayCode::Late,
        DayCode::EarlyLeave,
        DayCode::MissingClockIn,
        DayCode::MissingClockOut,
        DayCode::Absent,
        DayCode::OnLeave,
        DayCode::Overtime,
        DayCode::PendingReview,
        DayCode::ExtraPunch,
        DayCode::WorkedRestDay,
        DayCode::WorkedHoliday,
        DayCode::HkAlternativeHolidayDue,
        DayCode::LongStretch,
        DayCode::Corrected,
    ];

    /// The stable text form, e.g. `"missing_clock_out"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DayCode::Late => "late",
            DayCode::EarlyLeave => "early_leave",
            DayCode::MissingClockIn => "missing_clock_in",
            DayCode::MissingClockOut => "missing_clock_out",
            DayCode::Absent => "absent",
            DayCode::OnLeave => "on_leave",
            DayCode::Overtime => "overtime",
            DayCode::PendingReview => "pending_review",
            DayCode::ExtraPunch => "extra_punch",
            DayCode::WorkedRestDay => "worked_rest_day",
            DayCode::WorkedHoliday => "worked_holiday",
            DayCode::HkAlternativeHolidayDue => "hk_alternative_holiday_due",
            DayCode::LongStretch => "long_stretch",
            DayCode::Corrected => "corrected",
        }
    }
}

/// One finding: a code and a message with the numbers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFinding {
    /// What it is.
    pub code: DayCode,
    /// For people, e.g. "late 12 min: clocked in 09:12, shift starts 09:00, grace 0 min".
    pub message: String,
}

/// The day's overall status, for boards and calendars.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayStatus {
    /// Worked as scheduled.
    Normal,
    /// Worked, with late, early, missing or extra punches.
    Exception,
    /// A working day with no counted punch and no leave.
    Absent,
    /// On leave for the whole day.
    OnLeave,
    /// A holiday or alternative holiday, not worked.
    Holiday,
    /// A rest day, not worked.
    RestDay,
    /// Worked on a rest day, holiday or unscheduled day.
    WorkedDayOff,
    /// Nothing counted yet, but a field punch is waiting for review.
    Pending,
    /// The day's punch window has not closed yet.
    InProgress,
    /// No schedule and no work.
    Unscheduled,
}

impl DayStatus {
    /// The wire name, e.g. `"normal"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DayStatus::Normal => "normal",
            DayStatus::Exception => "exception",
            DayStatus::Absent => "absent",
            DayStatus::OnLeave => "on_leave",
            DayStatus::Holiday => "holiday",
            DayStatus::RestDay => "rest_day",
            DayStatus::WorkedDayOff => "worked_day_off",
            DayStatus::Pending => "pending",
            DayStatus::InProgress => "in_progress",
            DayStatus::Unscheduled => "unscheduled",
        }
    }
}

/// One scheduled segment and what happened in it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentResult {
    /// Scheduled start (moved by a flexible start or a morning's leave).
    pub start: DateTime<Utc>,
    /// Scheduled end (moved by a flexible start or an afternoon's leave).
    pub end: DateTime<Utc>,
    /// The first clock-in counted for it.
    pub clock_in: Option<DateTime<Utc>>,
    /// The last clock-out counted for it.
    pub clock_out: Option<DateTime<Utc>>,
    /// Late minutes (0 within grace).
    pub late_min: u32,
    /// Early-leave minutes (0 within grace).
    pub early_min: u32,
}

/// Overtime of one day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OvertimeResult {
    /// `workday`, `rest_day` or `holiday`.
    pub category: OvertimeCategory,
    /// Minutes approved in advance.
    pub approved_min: u32,
    /// Minutes punched beyond the shift (all of them on a day off).
    pub punched_min: u32,
    /// Minutes counted after the rule's basis, minimum, unit and cap.
    pub counted_min: u32,
    /// Paid or time off in lieu.
    pub compensation: Compensation,
}

/// Which overtime rule applies.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OvertimeCategory {
    /// Beyond the shift on a working day.
    Workday,
    /// On a rest day or unscheduled day.
    RestDay,
    /// On a holiday taken off.
    Holiday,
}

impl OvertimeCategory {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OvertimeCategory::Workday => "workday",
            OvertimeCategory::RestDay => "rest_day",
            OvertimeCategory::Holiday => "holiday",
        }
    }
}

/// Everything attendance says about one employee's date.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayResult {
    /// The employee.
    pub employee: String,
    /// The date (a night shift's is the date it starts).
    pub date: chrono::NaiveDate,
    /// Workday, rest day, holiday, alternative holiday or unscheduled.
    pub kind: DayKind,
    /// The shift id on a working day.
    pub shift: Option<String>,
    /// The holiday's date when the day is, or stands in for, a holiday.
    pub holiday: Option<chrono::NaiveDate>,
    /// Overall status.
    pub status: DayStatus,
    /// Minutes the shift has (less unpaid breaks), before leave; 0 on a day off.
    pub scheduled_min: u32,
    /// Minutes the schedule expects: `scheduled_min` less leave.
    pub expected_min: u32,
    /// Minutes of paired punches.
    pub paired_min: u32,
    /// Unpaid scheduled break minutes deducted from the paired minutes.
    pub break_deducted_min: u32,
    /// Paid break minutes taken (between a break start and end), added back.
    pub paid_break_min: u32,
    /// `paired − deducted + paid break`.
    pub worked_min: u32,
    /// Late minutes over all segments.
    pub late_min: u32,
    /// Early-leave minutes over all segments.
    pub early_min: u32,
    /// Segments without a clock-in.
    pub missing_clock_in: u32,
    /// Segments without a clock-out.
    pub missing_clock_out: u32,
    /// Approved leave taken this day.
    pub leave: Vec<LeaveDay>,
    /// Overtime, if any.
    pub overtime: Option<OvertimeResult>,
    /// Ids of field punches awaiting review.
    pub pending: Vec<String>,
    /// Per scheduled segment.
    pub segments: Vec<SegmentResult>,
    /// Findings, in a fixed order.
    pub findings: Vec<DayFinding>,
}

impl DayResult {
    /// Whether a finding with this code is present.
    pub fn has(&self, code: DayCode) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

/// The instants a day claims punches in: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// First instant claimed.
    pub from: DateTime<Utc>,
    /// First instant no longer claimed.
    pub to: DateTime<Utc>,
}

/// The day's own claim before neighbours are considered, its scheduled first start and last
/// end (the calendar day's bounds on a day without a shift), and whether it has a shift.
pub(crate) fn own_claim(
    policy: &AttendancePolicy,
    tz: Tz,
    plan: &DayPlan,
) -> (Claim, DateTime<Utc>, DateTime<Utc>, bool) {
    match plan.shift.map(|s| &policy.shifts[s]) {
        Some(shift) => {
            let first = shift.segments[0].start;
            let last = shift.segments[shift.segments.len() - 1].end;
            let start = local_instant(tz, plan.date, first);
            let end = local_instant(tz, plan.date, last + shift.flex_min);
            (
                Claim {
                    from: start - Duration::minutes(i64::from(shift.clock_in_before_min)),
                    to: end + Duration::minutes(i64::from(shift.clock_out_after_min)),
                },
                start,
                end,
                true,
            )
        }
        None => {
            let start = local_instant(tz, plan.date, 0);
            let end = local_instant(tz, plan.date.succ_opt().unwrap_or(plan.date), 0);
            (
                Claim {
                    from: start,
                    to: end,
                },
                start,
                end,
                false,
            )
        }
    }
}

/// The boundary between two consecutive days' claims.
pub(crate) fn boundary(
    earlier: (Claim, DateTime<Utc>, DateTime<Utc>, bool),
    later: (Claim, DateTime<Utc>, DateTime<Utc>, bool),
) -> DateTime<Utc> {
    let (a, b) = (earlier.0.to, later.0.from);
    // A day without a shift yields to a working neighbour whose claim reaches into it: a
    // night shift keeps its clock-out the morning after, before a rest day too, and a shift
    // starting after midnight keeps a clock-in the evening before.
    if a > b {
        match (earlier.3, later.3) {
            (true, false) => return a,
            (false, true) => return b,
            _ => {}
        }
    }
    let mid = a.min(b) + (a.max(b) - a.min(b)) / 2;
    let (lo, hi) = (earlier.2, later.1);
    if lo <= hi { mid.clamp(lo, hi) } else { mid }
}

/// The claims of a run of consecutive plans: each day's `[from, to)`, touching and ordered.
pub(crate) fn claims(policy: &AttendancePolicy, tz: Tz, plans: &[DayPlan]) -> Vec<Claim> {
    let own: Vec<_> = plans.iter().map(|p| own_claim(policy, tz, p)).collect();
    let mut out = Vec::with_capacity(plans.len());
    for i in 0..own.len() {
        let from = if i == 0 {
            own[0].0.from
        } else {
            boundary(own[i - 1], own[i])
        };
        let to = if i + 1 == own.len() {
            own[i].0.to
        } else {
            boundary(own[i], own[i + 1])
        };
        out.push(Claim {
            from,
            to: to.max(from),
        });
    }
    out
}

/// Work and break intervals from counted punches, in order.
#[derive(Debug, Default)]
struct Pairing {
    /// Work intervals: start, end, and whether the start was a clock-in (not a break end)
    /// and the end a clock-out (not a break start or a forced close).
    work: Vec<(DateTime<Utc>, DateTime<Utc>, bool, bool)>,
    /// Break intervals.
    breaks: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// A clock-in not yet closed: its instant and whether it was a clock-in.
    open: Option<(DateTime<Utc>, bool)>,
    extra: Vec<String>,
    /// Clock-outs with no clock-in before them.
    stray_outs: Vec<DateTime<Utc>>,
}

fn pair(punches: &[&AttendancePunch]) -> Pairing {
    let mut p = Pairing::default();
    let mut on_break: Option<DateTime<Utc>> = None;
    for punch in punches {
        let at_work = p.open.is_some();
        let kind = match punch.kind {
            PunchKind::Field if at_work => PunchKind::Out,
            PunchKind::Field => PunchKind::In,
            k => k,
        };
        match kind {
            PunchKind::In if !at_work && on_break.is_none() => p.open = Some((punch.at, true)),
            PunchKind::Out if at_work => {
                let (s, was_in) = p.open.take().unwrap_or((punch.at, false));
                p.work.push((s, punch.at, was_in, true));
            }
            PunchKind::Out if on_break.is_some() => {
                on_break = None;
            }
            PunchKind::Out => {
                p.stray_outs.push(punch.at);
            }
            PunchKind::BreakStart if at_work => {
                let (s, was_in) = p.open.take().unwrap_or((punch.at, false));
                p.work.push((s, punch.at, was_in, false));
                on_break = Some(punch.at);
            }
            PunchKind::BreakEnd if on_break.is_some() => {
                let s = on_break.take().unwrap_or(punch.at);
                p.breaks.push((s, punch.at));
                p.open = Some((punch.at, false));
            }
            PunchKind::In if on_break.is_some() => {
                // Back from a break with a clock-in: the break ends.
                let s = on_break.take().unwrap_or(punch.at);
                p.breaks.push((s, punch.at));
                p.open = Some((punch.at, false));
            }
            _ => p.extra.push(punch.id.clone()),
        }
    }
    p
}

fn minutes(a: DateTime<Utc>, b: DateTime<Utc>) -> u32 {
    u32::try_from((b - a).num_minutes().max(0)).unwrap_or(u32::MAX)
}

fn overlap(a: (DateTime<Utc>, DateTime<Utc>), b: (DateTime<Utc>, DateTime<Utc>)) -> u32 {
    let lo = a.0.max(b.0);
    let hi = a.1.min(b.1);
    if hi > lo { minutes(lo, hi) } else { 0 }
}

/// The context a day is computed in.
pub struct DayContext<'a> {
    /// The attendance rules.
    pub policy: &'a AttendancePolicy,
    /// The organisation's time zone.
    pub tz: Tz,
    /// The moment of computing: a claim not yet closed is in progress, not missing.
    pub now: DateTime<Utc>,
}

/// Computes one day. `claim` is the day's from [`claims`]; `records` must be normalised.
pub fn compute_day(
    cx: &DayContext<'_>,
    employee: &str,
    plan: &DayPlan,
    claim: Claim,
    records: &EmployeeRecords,
) -> DayResult {
    let policy = cx.policy;
    let tz = cx.tz;
    let in_claim = records.punches_between(claim.from, claim.to);
    let counted: Vec<&AttendancePunch> = in_claim.iter().filter(|p| p.state.counts()).collect();
    let pending: Vec<String> = in_claim
        .iter()
        .filter(|p| !p.state.counts())
        .map(|p| p.id.clone())
        .collect();
    let leave: Vec<LeaveDay> = records
        .leave
        .iter()
        .filter(|l| l.date == plan.date)
        .cloned()
        .collect();
    let leave_halves: u32 = leave.iter().map(|l| l.part.halves()).sum::<u32>().min(2);
    let closed = cx.now >= claim.to;

    let mut pairing = pair(&counted);
    let shift = plan.shift.map(|s| &policy.shifts[s]);
    let mut findings = Vec::new();
    let mut r = DayResult {
        employee: employee.to_owned(),
        date: plan.date,
        kind: plan.kind,
        shift: shift.map(|s| s.id.clone()),
        holiday: plan.holiday,
        status: DayStatus::Normal,
        scheduled_min: 0,
        expected_min: 0,
        paired_min: 0,
        break_deducted_min: 0,
        paid_break_min: 0,
        worked_min: 0,
        late_min: 0,
        early_min: 0,
        missing_clock_in: 0,
        missing_clock_out: 0,
        leave: leave.clone(),
        overtime: None,
        pending: pending.clone(),
        segments: Vec::new(),
        findings: Vec::new(),
    };

    // Scheduled segments as instants, the last end moved by a flexible start.
    let mut segs: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    if let (Some(shift), DayKind::Workday) = (shift, plan.kind) {
        for s in &shift.segments {
            segs.push((
                local_instant(tz, plan.date, s.start),
                local_instant(tz, plan.date, s.end),
            ));
        }
        if shift.flex_min > 0 {
            if let Some(arrival) = pairing
                .work
                .first()
                .map(|w| w.0)
                .or(pairing.open.map(|o| o.0))
            {
                let flex_shift = minutes(segs[0].0, arrival).min(shift.flex_min);
                let d = Duration::minutes(i64::from(flex_shift));
                let last = segs.len() - 1;
                segs[last].1 += d;
                // With a flexible start the first segment starts at the arrival (up to flex).
                segs[0].0 += d;
            }
        }
    }

    // An open clock-in at the end of a closed day: a forgotten clock-out.
    let mut forced_close = false;
    let mut extra_outs = 0usize;
    if let Some((start, was_in)) = pairing.open {
        let sched_end = segs.iter().map(|s| s.1).find(|e| *e > start);
        if !closed {
            // In progress: count up to now.
            let end = cx.now.min(claim.to).max(start);
            pairing.work.push((start, end, was_in, false));
        } else {
            let clock_out_needed = shift.is_none_or(|s| s.clock_out_required);
            let end = match (clock_out_needed, policy.missing_clock_out, sched_end) {
                (false, _, Some(e)) => e,
                (true, MissingClockOut::SegmentEnd, Some(e)) => e,
                _ => start,
            };
            pairing.work.push((start, end, was_in, !clock_out_needed));
            forced_close = clock_out_needed;
        }
        pairing.open = None;
    }

    // Minutes.
    r.paired_min = pairing.work.iter().map(|w| minutes(w.0, w.1)).sum();
    let mut deducted = 0u32;
    let mut paid_break = 0u32;
    if let Some(shift) = shift.filter(|_| plan.kind == DayKind::Workday) {
        for b in &shift.breaks {
            match b.when {
                BreakTime::Fixed { start, end } => {
                    let span = (
                        local_instant(tz, plan.date, start),
                        local_instant(tz, plan.date, end),
                    );
                    if b.paid {
                        let taken: u32 = pairing.breaks.iter().map(|x| overlap(*x, span)).sum();
                        paid_break += taken.min(b.minutes());
                    } else {
                        deducted += pairing
                            .work
                            .iter()
                            .map(|w| overlap((w.0, w.1), span))
                            .sum::<u32>();
                    }
                }
                BreakTime::Window {
                    from,
                    until,
                    minutes: len,
                } => {
                    let span = (
                        local_instant(tz, plan.date, from),
                        local_instant(tz, plan.date, until),
                    );
                    let taken: u32 = pairing.breaks.iter().map(|x| overlap(*x, span)).sum();
                    if b.paid {
                        paid_break += taken.min(len);
                    } else if taken < len {
                        let worked_in_window: u32 =
                            pairing.work.iter().map(|w| overlap((w.0, w.1), span)).sum();
                        deducted += (len - taken).min(worked_in_window);
                    }
                }
            }
        }
    }
    deducted = deducted.min(r.paired_min);
    r.break_deducted_min = deducted;
    r.paid_break_min = paid_break;
    r.worked_min = r.paired_min - deducted + paid_break;

    // Working day: expected time, segments, lateness.
    if let (Some(shift), DayKind::Workday) = (shift, plan.kind) {
        // Expected time from the instants, so a night across a clock change counts the
        // hours it really has.
        let span: u32 = shift
            .segments
            .iter()
            .map(|s| {
                minutes(
                    local_instant(tz, plan.date, s.start),
                    local_instant(tz, plan.date, s.end),
                )
            })
            .sum();
        let unpaid: u32 = shift
            .breaks
            .iter()
            .filter(|b| !b.paid)
            .map(|b| match b.when {
                BreakTime::Fixed { start, end } => minutes(
                    local_instant(tz, plan.date, start),
                    local_instant(tz, plan.date, end),
                ),
                BreakTime::Window { minutes, .. } => minutes,
            })
            .sum();
        let full = span.saturating_sub(unpaid);
        r.scheduled_min = full;
        r.expected_min = match leave_halves {
            0 => full,
            1 => full - full / 2,
            _ => 0,
        };
        if leave_halves >= 2 {
            segs.clear();
        } else if leave_halves == 1 {
            let am = leave.iter().any(|l| l.part == DayPart::Am);
            segs = halve(&segs, am);
        }
        let unpaid_fixed: Vec<(DateTime<Utc>, DateTime<Utc>)> = shift
            .breaks
            .iter()
            .filter(|b| !b.paid)
            .filter_map(|b| match b.when {
                BreakTime::Fixed { start, end } => Some((
                    local_instant(tz, plan.date, start),
                    local_instant(tz, plan.date, end),
                )),
                BreakTime::Window { .. } => None,
            })
            .collect();
        let scheduled_between = |a: DateTime<Utc>, b: DateTime<Utc>| -> u32 {
            if b <= a {
                return 0;
            }
            let on: u32 = segs.iter().map(|s| overlap(*s, (a, b))).sum();
            let off: u32 = unpaid_fixed.iter().map(|s| overlap(*s, (a, b))).sum();
            on.saturating_sub(off)
        };
        let n = segs.len();
        // Late and early minutes come out of the expected minutes, so that together they never
        // exceed them (an unpaid break taken in a window is not at a known time).
        let mut budget = r.expected_min;
        for i in 0..n {
            let (s, e) = segs[i];
            let lo = if i == 0 {
                claim.from
            } else {
                segs[i - 1].1 + (s - segs[i - 1].1) / 2
            };
            let hi = if i + 1 == n {
                claim.to
            } else {
                e + (segs[i + 1].0 - e) / 2
            };
            let clock_in = pairing
                .work
                .iter()
                .filter(|w| w.2 && w.0 >= lo && w.0 < hi)
                .map(|w| w.0)
                .next();
            let clock_out = pairing
                .work
                .iter()
                .filter(|w| w.3 && w.1 >= lo && w.1 < hi)
                .map(|w| w.1)
                .next_back();
            let seg_done = closed || cx.now >= e;
            let mut seg = SegmentResult {
                start: s,
                end: e,
                clock_in,
                clock_out,
                late_min: 0,
                early_min: 0,
            };
            let any_work = pairing.work.iter().any(|w| w.1 > lo && w.0 < hi);
            if clock_in.is_some() {
                // A second clock-out in a segment already clocked in and out pairs with nothing.
                extra_outs += pairing
                    .stray_outs
                    .iter()
                    .filter(|t| **t >= lo && **t < hi)
                    .count();
            }
            if let Some(t) = clock_in {
                let late = scheduled_between(s, t).min(budget);
                budget -= late;
                if late > shift.late_grace_min {
                    seg.late_min = late;
                    findings.push(DayFinding {
                        code: DayCode::Late,
                        message: format!(
                            "late {late} min: clocked in {}, {} starts {}, grace {} min",
                            local_hhmm(tz, t),
                            if i == 0 { "shift" } else { "segment" },
                            local_hhmm(tz, s),
                            shift.late_grace_min
                        ),
                    });
                }
            } else if seg_done
                && (any_work || pairing.stray_outs.iter().any(|t| *t >= lo && *t < hi))
            {
                r.missing_clock_in += 1;
                findings.push(DayFinding {
                    code: DayCode::MissingClockIn,
                    message: format!("no clock-in for the segment starting {}", local_hhmm(tz, s)),
                });
            }
            if let Some(t) = clock_out {
                let early = scheduled_between(t, e).min(budget);
                budget -= early;
                if early > shift.early_grace_min {
                    seg.early_min = early;
                    findings.push(DayFinding {
                        code: DayCode::EarlyLeave,
                        message: format!(
                            "left {early} min early: clocked out {}, {} ends {}, grace {} min",
                            local_hhmm(tz, t),
                            if i + 1 == n { "shift" } else { "segment" },
                            local_hhmm(tz, e),
                            shift.early_grace_min
                        ),
                    });
                }
            } else if closed && clock_in.is_some() && shift.clock_out_required {
                r.missing_clock_out += 1;
                let rule = match policy.missing_clock_out {
                    MissingClockOut::SegmentEnd => {
                        format!("counted to the scheduled end {}", local_hhmm(tz, e))
                    }
                    MissingClockOut::NotCounted => "not counted until corrected".to_owned(),
                };
                findings.push(DayFinding {
                    code: DayCode::MissingClockOut,
                    message: format!(
                        "no clock-out after the clock-in at {}: {rule}",
                        clock_in.map(|t| local_hhmm(tz, t)).unwrap_or_default()
                    ),
                });
            }
            r.segments.push(seg);
        }
        r.late_min = r.segments.iter().map(|s| s.late_min).sum();
        r.early_min = r.segments.iter().map(|s| s.early_min).sum();
    }
    if forced_close && r.missing_clock_out == 0 && plan.kind != DayKind::Workday {
        r.missing_clock_out = 1;
        findings.push(DayFinding {
            code: DayCode::MissingClockOut,
            message: "a clock-in was never followed by a clock-out: not counted until corrected"
                .to_owned(),
        });
    }
    if !pairing.stray_outs.is_empty() && plan.kind != DayKind::Workday {
        r.missing_clock_in += 1;
        findings.push(DayFinding {
            code: DayCode::MissingClockIn,
            message: format!(
                "a clock-out at {} has no clock-in before it",
                local_hhmm(tz, pairing.stray_outs[0])
            ),
        });
    }
    let extra = pairing.extra.len() + extra_outs;
    if extra > 0 {
        findings.push(DayFinding {
            code: DayCode::ExtraPunch,
            message: format!("{extra} punch(es) pair with nothing and are ignored"),
        });
    }
    if counted
        .iter()
        .any(|p| p.state == super::records::PunchState::Corrected)
    {
        findings.push(DayFinding {
            code: DayCode::Corrected,
            message: "includes a punch added by an approved missed-punch correction".to_owned(),
        });
    }
    if leave_halves > 0 {
        let kinds: Vec<String> = leave
            .iter()
            .map(|l| format!("{} ({})", l.leave_type, part_name(l.part)))
            .collect();
        findings.push(DayFinding {
            code: DayCode::OnLeave,
            message: format!("on leave: {}", kinds.join(", ")),
        });
    }

    // Overtime.
    let worked_any = r.worked_min > 0;
    let (category, rule) = match plan.kind {
        DayKind::Workday => (OvertimeCategory::Workday, policy.overtime.workday),
        DayKind::RestDay | DayKind::Unscheduled => {
            (OvertimeCategory::RestDay, policy.overtime.rest_day)
        }
        DayKind::Holiday | DayKind::AlternativeHoliday => {
            (OvertimeCategory::Holiday, policy.overtime.holiday)
        }
    };
    let punched = if plan.kind == DayKind::Workday {
        let inside: u32 = pairing
            .work
            .iter()
            .map(|w| segs.iter().map(|s| overlap((w.0, w.1), *s)).sum::<u32>())
            .sum();
        r.paired_min.saturating_sub(inside)
    } else {
        r.worked_min
    };
    let approved: u32 = if worked_any {
        records
            .overtime
            .iter()
            .filter(|o| o.date == plan.date)
            .map(|o| o.minutes)
            .sum()
    } else {
        0
    };
    if worked_any && (punched > 0 || approved > 0) {
        let counted_min = counted_overtime(&rule, approved, punched);
        let ot = OvertimeResult {
            category,
            approved_min: approved,
            punched_min: punched,
            counted_min,
            compensation: rule.compensation,
        };
        if counted_min > 0 {
            findings.push(DayFinding {
                code: DayCode::Overtime,
                message: format!(
                    "overtime {counted_min} min ({}, {}): {approved} min approved, {punched} min punched, counted by {}",
                    category.as_str(),
                    match rule.compensation {
                        Compensation::Pay => "paid",
                        Compensation::TimeOff => "time off in lieu",
                    },
                    match rule.basis {
                        OvertimeBasis::Approved => "approval",
                        OvertimeBasis::Punched => "punches",
                        OvertimeBasis::Lesser => "the lesser",
                    }
                ),
            });
        }
        r.overtime = Some(ot);
    }
    if worked_any {
        match plan.kind {
            DayKind::RestDay | DayKind::Unscheduled => findings.push(DayFinding {
                code: DayCode::WorkedRestDay,
                message: format!("worked {} min on a day off", r.worked_min),
            }),
            DayKind::Holiday | DayKind::AlternativeHoliday => findings.push(DayFinding {
                code: DayCode::WorkedHoliday,
                message: format!("worked {} min on a holiday", r.worked_min),
            }),
            DayKind::Workday => {}
        }
    }
    if let Some(h) = plan.holiday.and_then(|d| policy.holiday(d)) {
        // Worked on the statutory holiday itself, or on the day it moved to from a rest day
        // (a holiday's plan names the statutory holiday it stands in for). A rest day keeps
        // the date of a holiday that moved away; an alternative holiday names the one it is
        // given for.
        let holiday_here = matches!(plan.kind, DayKind::Workday | DayKind::Holiday);
        if worked_any && h.statutory && holiday_here {
            findings.push(DayFinding {
                code: DayCode::HkAlternativeHolidayDue,
                message: format!(
                    "worked the statutory holiday {} ({}{}): an alternative holiday is due by {}",
                    h.name_en,
                    h.date,
                    if h.date == plan.date {
                        String::new()
                    } else {
                        format!(", moved to {} from a rest day", plan.date)
                    },
                    plan.date + Duration::days(60)
                ),
            });
        }
    }

    // Company warning: a long stretch without a break.
    let limit = policy.warnings.long_stretch_min;
    if limit > 0 {
        let longest = pairing
            .work
            .iter()
            .map(|w| minutes(w.0, w.1))
            .max()
            .unwrap_or(0);
        let has_fixed_break = shift.is_some_and(|s| !s.breaks.is_empty());
        if longest > limit && !has_fixed_break {
            findings.push(DayFinding {
                code: DayCode::LongStretch,
                message: format!(
                    "worked {} without a break (company limit {})",
                    hm(longest),
                    hm(limit)
                ),
            });
        }
    }
    if !pending.is_empty() {
        findings.push(DayFinding {
            code: DayCode::PendingReview,
            message: format!("{} field punch(es) waiting for review", pending.len()),
        });
    }

    // Status.
    let exceptions = r.late_min > 0
        || r.early_min > 0
        || r.missing_clock_in > 0
        || r.missing_clock_out > 0
        || extra > 0;
    r.status = match plan.kind {
        DayKind::Workday if leave_halves >= 2 && !worked_any => DayStatus::OnLeave,
        DayKind::Workday if !closed && !exceptions => DayStatus::InProgress,
        DayKind::Workday if counted.is_empty() && !pending.is_empty() => DayStatus::Pending,
        DayKind::Workday if counted.is_empty() => {
            findings.push(DayFinding {
                code: DayCode::Absent,
                message: format!(
                    "absent: no punch for the {} shift ({} min expected)",
                    shift.map(|s| s.name.as_str()).unwrap_or(""),
                    r.expected_min
                ),
            });
            DayStatus::Absent
        }
        DayKind::Workday if exceptions => DayStatus::Exception,
        DayKind::Workday => DayStatus::Normal,
        _ if worked_any => DayStatus::WorkedDayOff,
        DayKind::RestDay => DayStatus::RestDay,
        DayKind::Holiday | DayKind::AlternativeHoliday => DayStatus::Holiday,
        DayKind::Unscheduled => DayStatus::Unscheduled,
    };
    findings.sort_by_key(|f| f.code);
    r.findings = findings;
    r
}

/// Counted overtime under `rule` from approved and punched minutes.
pub fn counted_overtime(rule: &OvertimeRule, approved: u32, punched: u32) -> u32 {
    let basis = match rule.basis {
        OvertimeBasis::Approved => approved,
        OvertimeBasis::Punched => punched,
        OvertimeBasis::Lesser => approved.min(punched),
    };
    rule.count(basis)
}

/// Segments cut to their first (`am`) or second half by scheduled time.
fn halve(
    segs: &[(DateTime<Utc>, DateTime<Utc>)],
    am_off: bool,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let total: i64 = segs.iter().map(|s| (s.1 - s.0).num_seconds()).sum();
    let mut half = total / 2;
    let mut mid = segs.first().map(|s| s.0);
    for s in segs {
        let len = (s.1 - s.0).num_seconds();
        if half <= len {
            mid = Some(s.0 + Duration::seconds(half));
            break;
        }
        half -= len;
    }
    let Some(mid) = mid else { return Vec::new() };
    segs.iter()
        .filter_map(|&(s, e)| {
            let (s, e) = if am_off {
                (s.max(mid), e)
            } else {
                (s, e.min(mid))
            };
            (e > s).then_some((s, e))
        })
        .collect()
}

fn part_name(p: DayPart) -> &'static str {
    match p {
        DayPart::Full => "full day",
        DayPart::Am => "morning",
        DayPart::Pm => "afternoon",
    }
}

/// Minutes as `8 h 30 min`.
pub(crate) fn hm(min: u32) -> String {
    match (min / 60, min % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The shift's expected minutes (for reports).
pub fn shift_expected(shift: &Shift) -> u32 {
    shift.expected_minutes()
}

#[cfg(test)]
mod tests {
    use super::DayCode;

    /// A new code fails to compile here until it is also in [`DayCode::ALL`].
    #[test]
    fn all_day_codes_are_listed_once_with_their_text() {
        for (i, code) in DayCode::ALL.iter().enumerate() {
            let position = match code {
                DayCode::Late => 0,
                DayCode::EarlyLeave => 1,
                DayCode::MissingClockIn => 2,
                DayCode::MissingClockOut => 3,
                DayCode::Absent => 4,
                DayCode::OnLeave => 5,
                DayCode::Overtime => 6,
                DayCode::PendingReview => 7,
                DayCode::ExtraPunch => 8,
                DayCode::WorkedRestDay => 9,
                DayCode::WorkedHoliday => 10,
                DayCode::HkAlternativeHolidayDue => 11,
                DayCode::LongStretch => 12,
                DayCode::Corrected => 13,
            };
            assert_eq!(position, i, "{code:?}");
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
        }
        assert_eq!(DayCode::ALL.len(), 14);
    }
}
