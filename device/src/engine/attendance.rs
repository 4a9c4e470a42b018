//! Attendance on the phone, offline: "my day" ([`Device::today`]: the expected shift, the
//! punches so far, the next punch expected and its window, the day's status) and "my month"
//! ([`Device::month_summary`]).
//!
//! The server is the authority: its confirmed day results arrive through the changes feed
//! and are kept in the store. A day the server has confirmed, with none of this phone's
//! punches for it still waiting to be sent, shows the server's result (leave, corrections and
//! reviews included). Any other day is computed here, by the same engine, from this phone's
//! own punch records (accepted punches count; field punches are pending until reviewed) and
//! the leave the server last confirmed for it; such a day is marked [`DaySource::Phone`]. A
//! day computed here does not know of corrections, reviews or overtime approved since the
//! server last confirmed it: those appear with the server's result after the next sync.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Device, DeviceError};
use crate::store::day_results;
use daka_core::attendance::day::SegmentResult;
use daka_core::attendance::month::MONTH_LOOKBACK_DAYS;
use daka_core::attendance::{
    AttendanceEngine, AttendancePunch, DayResult, EmployeeRecords, Month, MonthSummary, PunchState,
    month_bounds,
};
use daka_core::protocol::ItemKind;
use daka_core::punch::{PunchKind, PunchRecord, RecordedDecision};

/// Where a day's result comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaySource {
    /// Confirmed by the server.
    Server,
    /// Computed on this phone from its own punches; the server has not confirmed it yet.
    Phone,
}

/// One day of "my month".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayView {
    /// The result.
    pub result: DayResult,
    /// Who computed it.
    pub source: DaySource,
}

/// "My month": the sheet and its days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthView {
    /// The month's numbers, as the engine sums them.
    pub summary: MonthSummary,
    /// Each day of the month, in date order.
    pub days: Vec<DayView>,
}

/// The punch the day expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextPunch {
    /// Clock in or clock out.
    pub kind: PunchKind,
    /// When it is due: the segment's start or end.
    pub due: DateTime<Utc>,
    /// The earliest it counts for this shift.
    pub earliest: DateTime<Utc>,
    /// The latest it counts (a clock-in after the segment's end no longer counts for it).
    pub latest: DateTime<Utc>,
}

/// "My day".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Today {
    /// The day's date: today in the organisation's time zone, or yesterday while the
    /// trusted time is still within yesterday's shift (a night shift, a late clock-out).
    pub date: NaiveDate,
    /// The shift's display name on a working day.
    pub shift_name: Option<String>,
    /// The day as far as it has gone: status, minutes, findings, segments with their
    /// clock-ins and clock-outs.
    pub result: DayResult,
    /// Who computed it.
    pub source: DaySource,
    /// The next punch expected today, if any.
    pub next: Option<NextPunch>,
}

impl Device {
    /// "My day" at the trusted time now, offline.
    pub fn today(&self) -> Result<Today, DeviceError> {
        let now = self.trusted_time().now;
        let (employee, engine_arc) = self.attendance_context()?;
        let engine = AttendanceEngine::new(engine_arc.policy());
        // The day whose claim holds now: after a late shift, until the boundary with the next
        // day, "today" is still the shift's date.
        let calendar = now.with_timezone(&engine.time_zone()).date_naive();
        let yesterday = calendar.pred_opt().unwrap_or(calendar);
        let date = engine
            .claims(&employee, yesterday, calendar)?
            .into_iter()
            .find(|(_, c)| c.from <= now && now < c.to)
            .map_or(calendar, |(d, _)| d);
        let mut days = self.day_views(&engine, &employee, date, date, now)?;
        let view = days.remove(0);
        let shift = view
            .result
            .shift
            .as_deref()
            .and_then(|id| engine.rules().shift(id));
        let next = shift.and_then(|s| next_punch(&view.result.segments, s, now));
        Ok(Today {
            date,
            shift_name: shift.map(|s| s.name.clone()),
            result: view.result,
            source: view.source,
            next,
        })
    }

    /// "My month", offline: the sheet and its days, each from the server where it has
    /// confirmed it.
    pub fn month_summary(&self, month: Month) -> Result<MonthView, DeviceError> {
        let now = self.trusted_time().now;
        let (employee, engine_arc) = self.attendance_context()?;
        let engine = AttendanceEngine::new(engine_arc.policy());
        let (first, last) = month_bounds(month)?;
        let from = first - Duration::days(MONTH_LOOKBACK_DAYS);
        let views = self.day_views(&engine, &employee, from, last, now)?;
        let results: Vec<DayResult> = views.iter().map(|v| v.result.clone()).collect();
        let summary = engine.summary_of(&employee, month, &results, now)?;
        Ok(MonthView {
            summary,
            days: views
                .into_iter()
                .filter(|v| v.result.date >= first)
                .collect(),
        })
    }

    fn attendance_context(
        &self,
    ) -> Result<(String, std::sync::Arc<daka_core::verdict::Engine>), DeviceError> {
        let identity = self.identity().ok_or(DeviceError::NotEnrolled)?;
        let engine = self.engine().ok_or(DeviceError::NoPolicy)?;
        Ok((identity.employee_id, engine))
    }

    /// Each day of `from..=to`: the server's confirmed result, or this phone's own.
    fn day_views(
        &self,
        engine: &AttendanceEngine<'_>,
        employee: &str,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<DayView>, DeviceError> {
        let confirmed = day_results::between(&self.store.conn(), employee, from, to)?;
        let mut records = EmployeeRecords::default();
        let mut waiting: Vec<DateTime<Utc>> = Vec::new();
        for (json, delivered) in self
            .outbox
            .payloads_of_kind_delivered(ItemKind::Punch.as_str())?
        {
            let record = PunchRecord::read_stored(&json)
                .map_err(|e| crate::store::StoreError::Corrupt(format!("stored punch: {e}")))?;
            if record.body.employee_id != employee {
                continue;
            }
            let state = match record.body.verdict.decision {
                RecordedDecision::Accepted => PunchState::Accepted,
                RecordedDecision::FieldPunch => PunchState::Pending,
                _ => continue,
            };
            let at = record.body.verdict.evaluated_at;
            if !delivered {
                waiting.push(at);
            }
            records.punches.push(AttendancePunch {
                id: record.body.id.to_string(),
                at,
                kind: record.body.kind,
                state,
            });
        }
        // Leave the server confirmed stays known offline.
        for c in &confirmed {
            records.leave.extend(c.leave.iter().cloned());
        }
        records.normalise();
        let mine = engine.days(employee, from, to, &records, now)?;
        let claims = engine.claims(employee, from, to)?;
        Ok(mine
            .into_iter()
            .zip(claims)
            .map(|(local, (_, claim))| {
                let unsent = waiting.iter().any(|t| claim.from <= *t && *t < claim.to);
                match confirmed.iter().find(|c| c.date == local.date) {
                    Some(server) if !unsent => DayView {
                        result: server.clone(),
                        source: DaySource::Server,
                    },
                    _ => DayView {
                        result: local,
                        source: DaySource::Phone,
                    },
                }
            })
            .collect())
    }
}

/// The next punch a day expects at `now`, from its segments as far as they have gone.
fn next_punch(
    segments: &[SegmentResult],
    shift: &daka_core::attendance::rules::Shift,
    now: DateTime<Utc>,
) -> Option<NextPunch> {
    let n = segments.len();
    for (i, s) in segments.iter().enumerate() {
        let earliest_in = if i == 0 {
            s.start - Duration::minutes(i64::from(shift.clock_in_before_min))
        } else {
            segments[i - 1].end + (s.start - segments[i - 1].end) / 2
        };
        let latest_out = if i + 1 == n {
            s.end + Duration::minutes(i64::from(shift.clock_out_after_min))
        } else {
            s.end + (segments[i + 1].start - s.end) / 2
        };
        match (s.clock_in, s.clock_out) {
            (None, None) if now < s.end => {
                return Some(NextPunch {
                    kind: PunchKind::In,
                    due: s.start,
                    earliest: earliest_in,
                    latest: s.end,
                });
            }
            (Some(t), None) if shift.clock_out_required && now < latest_out => {
                return Some(NextPunch {
                    kind: PunchKind::Out,
                    due: s.end,
                    earliest: t,
                    latest: latest_out,
                });
            }
            _ => {}
        }
    }
    None
}
