//! One employee's attendance records, built from what the server stores:
//!
//! * punches with the server's verdict: `accepted` → [`PunchState::Accepted`]; a field punch
//!   (`field_punch`) → [`PunchState::Pending`] until its review is decided, then
//!   [`PunchState::Approved`] (approved) or left out (rejected); refused punches are left out.
//!   A punch happened at its trusted judgement time.
//! * approved missed-punch corrections → [`PunchState::Corrected`] punches at the form's local
//!   date and `HH:MM` in the organisation's time zone, of the form's `punch_kind`;
//! * approved leave → [`LeaveDay`]s through [`AttendanceEngine::leave_booking`] (working days
//!   only, half days);
//! * approved overtime → [`ApprovedOvertime`] (the form's `date` and `minutes`).
//!
//! Forms that do not read (a template without these fields) are skipped: they cannot be
//! attendance.

use chrono::{Duration, NaiveDate};
use daka_core::Policy;
use daka_core::attendance::plan::local_instant;
use daka_core::attendance::{
    ApprovedOvertime, AttendanceEngine, AttendancePunch, EmployeeRecords, LeaveDay, PunchState,
};
use daka_core::punch::PunchKind;
use serde_json::Value;

use crate::storage::{Correction, PunchStatus, Storage, StorageError, StoredRequest};

/// Days read beyond each end of a range: a day's claim reaches into its neighbours (a night
/// shift's clock-out the next morning, an early clock-in the evening before).
pub const MARGIN_DAYS: i64 = 2;

/// A punch kind as stored (`in`, `out`, `break_start`, `break_end`, `field`).
pub fn punch_kind(text: &str) -> Option<PunchKind> {
    serde_json::from_value(Value::from(text)).ok()
}

/// `HH:MM` as minutes after midnight.
fn hhmm(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn date(v: &Value) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(v.as_str()?, "%Y-%m-%d").ok()
}

/// The records of `employee` needed to compute the days `from..=to` (punches of those days and
/// [`MARGIN_DAYS`] either side; every approved correction, leave and overtime).
pub fn employee_records(
    storage: &dyn Storage,
    policy: &Policy,
    org_id: &str,
    employee: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<EmployeeRecords, StorageError> {
    let tz = policy.time_zone();
    let start = local_instant(tz, from - Duration::days(MARGIN_DAYS), 0);
    let end = local_instant(tz, to + Duration::days(MARGIN_DAYS + 1), 0);
    let sources = storage.attendance_sources(org_id, employee, start, end)?;
    let mut records = EmployeeRecords::default();
    for p in sources.punches {
        let state = match (p.status, p.review.as_deref()) {
            (PunchStatus::Accepted, _) => PunchState::Accepted,
            (PunchStatus::FieldPunch, Some("approved")) => PunchState::Approved,
            (PunchStatus::FieldPunch, Some(_)) => continue,
            (PunchStatus::FieldPunch, None) => PunchState::Pending,
            (PunchStatus::Refused, _) => continue,
        };
        let Some(kind) = punch_kind(&p.kind) else {
            continue;
        };
        records.punches.push(AttendancePunch {
            id: p.punch_id,
            at: p.judged_at,
            kind,
            state,
        });
    }
    for c in &sources.corrections {
        if let Some(punch) = corrected_punch(policy, c)
            && punch.at >= start
            && punch.at < end
        {
            records.punches.push(punch);
        }
    }
    let engine = AttendanceEngine::new(policy);
    for r in &sources.requests {
        let Ok(form) = serde_json::from_str::<Value>(&r.form) else {
            continue;
        };
        match r.request_type.as_str() {
            "leave" => records.leave.extend(leave_days(&engine, r, &form)),
            "overtime" => {
                if let (Some(d), Some(minutes)) = (date(&form["date"]), form["minutes"].as_f64())
                    && minutes >= 0.0
                    && minutes.fract() == 0.0
                {
                    records.overtime.push(ApprovedOvertime {
                        date: d,
                        minutes: minutes.min(f64::from(u32::MAX)) as u32,
                        request_id: r.request_id.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    records.normalise();
    Ok(records)
}

/// The punch an approved correction adds: at its local date and time, of its kind.
pub fn corrected_punch(policy: &Policy, c: &Correction) -> Option<AttendancePunch> {
    let day = NaiveDate::parse_from_str(&c.day, "%Y-%m-%d").ok()?;
    let minutes = hhmm(&c.time)?;
    Some(AttendancePunch {
        id: c.request_id.clone(),
        at: local_instant(policy.time_zone(), day, minutes),
        kind: punch_kind(&c.punch_kind)?,
        state: PunchState::Corrected,
    })
}

/// The first and last date of a leave form's period.
pub fn leave_period(form: &Value) -> Option<(NaiveDate, NaiveDate, bool, bool)> {
    let p = &form["period"];
    let (start, end) = (date(&p["start"])?, date(&p["end"])?);
    (start <= end).then_some((
        start,
        end,
        p["start_half"].as_str() == Some("pm"),
        p["end_half"].as_str() == Some("am"),
    ))
}

fn leave_days(engine: &AttendanceEngine<'_>, r: &StoredRequest, form: &Value) -> Vec<LeaveDay> {
    let (Some(leave_type), Some((start, end, start_pm, end_am))) =
        (form["leave_type"].as_str(), leave_period(form))
    else {
        return Vec::new();
    };
    engine
        .leave_booking(&r.applicant, start, end, start_pm, end_am)
        .unwrap_or_default()
        .into_iter()
        .map(|(date, part)| LeaveDay {
            date,
            part,
            leave_type: leave_type.to_owned(),
        })
        .collect()
}

/// The dates a request's form concerns (for the recompute it causes), if it reads.
pub fn request_dates(request: &StoredRequest) -> Option<(NaiveDate, NaiveDate)> {
    let form: Value = serde_json::from_str(&request.form).ok()?;
    match request.request_type.as_str() {
        "leave" => leave_period(&form).map(|(s, e, _, _)| (s, e)),
        // A correction's time may belong to the day before (a night shift's clock-out).
        "missed_punch" | "overtime" => {
            let d = date(&form["date"])?;
            Some((d - Duration::days(1), d + Duration::days(1)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_read_as_hh_mm_only() {
        assert_eq!(hhmm("09:05"), Some(545));
        assert_eq!(hhmm("9:05"), Some(545));
        assert_eq!(hhmm("23:59"), Some(1439));
        for bad in ["24:00", "12:60", "1205", "", "ab:cd", "12:5"] {
            assert_eq!(hhmm(bad), None, "{bad}");
        }
        assert_eq!(punch_kind("break_start"), Some(PunchKind::BreakStart));
        assert_eq!(punch_kind("sideways"), None);
    }
}
