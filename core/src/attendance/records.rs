//! What the attendance engine reads besides the policy: one employee's punches (with what
//! their review says), approved leave days and approved overtime. The server builds these
//! from its stores, the phone from its own records and the last confirmed results.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::punch::PunchKind;

/// One punch as attendance sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendancePunch {
    /// The punch record's id (or the correction request's id); ties at one instant are
    /// ordered by it, so the result never depends on delivery order.
    pub id: String,
    /// When it happened (the record's trusted time; a correction's local time in the
    /// organisation's zone).
    pub at: DateTime<Utc>,
    /// In, out, break start or end; a field punch (外勤) is a clock-in when the person is not
    /// at work and a clock-out when they are.
    pub kind: PunchKind,
    /// Whether it counts.
    pub state: PunchState,
}

/// Whether a punch counts for attendance. Rejected punches are not given to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PunchState {
    /// Accepted when made.
    Accepted,
    /// A field punch whose review was approved.
    Approved,
    /// Added by an approved missed-punch correction (補卡).
    Corrected,
    /// A field punch waiting for its review: listed as pending, not counted.
    Pending,
}

impl PunchState {
    /// Whether the punch counts now.
    pub fn counts(self) -> bool {
        !matches!(self, PunchState::Pending)
    }
}

/// Which part of a day a leave day covers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayPart {
    /// The whole day.
    Full,
    /// The first half of the day's scheduled time.
    Am,
    /// The second half of the day's scheduled time.
    Pm,
}

impl DayPart {
    /// The wire name, e.g. `"full"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DayPart::Full => "full",
            DayPart::Am => "am",
            DayPart::Pm => "pm",
        }
    }
}

impl DayPart {
    /// Half days this part counts for.
    pub fn halves(self) -> u32 {
        match self {
            DayPart::Full => 2,
            DayPart::Am | DayPart::Pm => 1,
        }
    }
}

/// An approved leave day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveDay {
    /// The date.
    pub date: NaiveDate,
    /// Which part of it.
    pub part: DayPart,
    /// The policy's leave type id, e.g. `annual`.
    pub leave_type: String,
}

/// Overtime approved in advance through an overtime request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedOvertime {
    /// The date the overtime belongs to (a night shift's date for time after midnight).
    pub date: NaiveDate,
    /// Approved minutes.
    pub minutes: u32,
    /// The request's id.
    pub request_id: String,
}

/// Everything the engine reads about one employee, for any range of dates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeRecords {
    /// Punches, any order; [`EmployeeRecords::normalise`] sorts them.
    pub punches: Vec<AttendancePunch>,
    /// Approved leave days.
    pub leave: Vec<LeaveDay>,
    /// Approved overtime.
    pub overtime: Vec<ApprovedOvertime>,
}

impl EmployeeRecords {
    /// Sorts punches by instant then id and drops exact duplicates (the same id twice), so
    /// that any delivery order gives the same records.
    pub fn normalise(&mut self) {
        self.punches
            .sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        self.punches.dedup_by(|a, b| a.id == b.id && a.at == b.at);
        self.leave.sort_by(|a, b| {
            (a.date, &a.leave_type, a.part as u8).cmp(&(b.date, &b.leave_type, b.part as u8))
        });
        self.leave.dedup();
        self.overtime
            .sort_by(|a, b| (a.date, &a.request_id).cmp(&(b.date, &b.request_id)));
        self.overtime.dedup();
    }

    /// Punches in `[from, to)`; the records must be normalised.
    pub fn punches_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> &[AttendancePunch] {
        let lo = self.punches.partition_point(|p| p.at < from);
        let hi = self.punches.partition_point(|p| p.at < to);
        &self.punches[lo..hi.max(lo)]
    }
}
