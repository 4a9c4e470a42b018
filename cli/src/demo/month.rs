//! The month part of `daka demo`: Chan's December at the Causeway Bay store, on the same
//! simulated clock and phones, through the real server.
//!
//! Every store working day from Wednesday 2 to Thursday 31 December, Chan's phone clocks in
//! a few minutes before 10:00 and out a few minutes after 19:00 (face-checked punches inside
//! the store, printed only if one is not accepted) and syncs at the end of each week; one line
//! per week says so. Along the way: a late morning (the phone's "my day" finding), a
//! forgotten clock-out mended by a missed-punch correction the manager approves, annual leave
//! over Christmas that is deducted for its two working days only, and an overtime evening
//! approved ahead and counted by the lesser of approved and punched minutes. On Saturday
//! 2 January HR reads the month from the admin API, Chan's phone shows the month's summary
//! from the days the server confirmed, and the payroll workbook is exported into the demo's
//! directory.
//!
//! Each number the story tells is checked: if the engine, the server or the phone says
//! otherwise, the demo fails with what it got.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Weekday};
use daka_core::Policy;
use daka_core::approvals::leave::days;
use daka_core::attendance::{
    AttendanceEngine, ContractStatus, DayCode, DayKind, DayResult, DayStatus, Month, MonthSummary,
};
use daka_core::punch::PunchKind;
use daka_device::attendance::{DaySource, DayView};
use daka_device::{Device, SyncReport};
use serde_json::json;

use super::approvals::{annual_balance, approve, err, name, route_line};
use super::{ADMIN_TOKEN, DemoResult, Scene};

/// The phones of the month.
pub(super) struct Phones<'a> {
    pub applicant: &'a Device,
    pub manager: &'a Device,
    /// The department head, who approves leave of more than three days.
    pub head: &'a Device,
}

const EMPLOYEE: &str = "E1001";
const DECEMBER: Month = Month {
    year: 2026,
    month: 12,
};

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, day).expect("a December date")
}

fn short(d: NaiveDate) -> String {
    d.format("%a %d %b").to_string()
}

fn hm(min: u32) -> String {
    format!("{} h {:02} min", min / 60, min % 60)
}

/// A day's finding of `code`, if any.
fn finding(day: &DayResult, code: DayCode) -> Option<&str> {
    day.findings
        .iter()
        .find(|f| f.code == code)
        .map(|f| f.message.as_str())
}

/// The phone's view of one December day.
fn phone_day(phone: &Device, d: NaiveDate) -> DemoResult<DayView> {
    phone
        .month_summary(Month::of(d))
        .map_err(err)?
        .days
        .into_iter()
        .find(|v| v.result.date == d)
        .ok_or_else(|| format!("the phone's month has no {d}"))
}

fn source(v: &DayView) -> &'static str {
    match v.source {
        DaySource::Server => "confirmed by the server",
        DaySource::Phone => "computed on the phone",
    }
}

/// What the week's syncs did.
#[derive(Default)]
struct Week {
    days: u32,
    first: Option<NaiveDate>,
    ins: Vec<String>,
    outs: Vec<String>,
    sent: u64,
    results: usize,
}

impl Week {
    async fn sync(&mut self, phone: &Device) -> DemoResult<SyncReport> {
        let report = phone.sync_now(&|_| {}).await.map_err(err)?;
        if report.stopped_by.is_some() || report.rejected > 0 {
            return Err(format!(
                "a sync of the month did not go through: {:?}, {} refused",
                report.stopped_by, report.rejected
            ));
        }
        self.sent += report.accepted + report.duplicates;
        self.results += report.day_results.len();
        Ok(report)
    }
}

fn range(v: &[String]) -> String {
    let min = v.iter().min().cloned().unwrap_or_default();
    let max = v.iter().max().cloned().unwrap_or_default();
    if min == max {
        min
    } else {
        format!("{min}–{max}")
    }
}

/// Chan's December; returns the path of the exported workbook.
pub(super) async fn story(
    server_url: &str,
    dir: &Path,
    keep: bool,
    policy: &Policy,
    scene: &Scene<'_>,
    phones: &Phones<'_>,
) -> DemoResult<PathBuf> {
    let timeline = scene.timeline;
    let phone = phones.applicant;
    let engine = AttendanceEngine::new(policy);
    let start = timeline.date();
    let end = date(31);
    let plans = engine.plans(EMPLOYEE, start, end).map_err(err)?;
    let leave = (date(24), date(28));
    let late_day = date(3);
    let leave_filed = date(4);
    let forgot = date(8);
    let overtime_filed = date(16);
    let overtime_day = date(18);
    let working: Vec<NaiveDate> = plans
        .iter()
        .filter(|p| p.kind == DayKind::Workday)
        .map(|p| p.date)
        .collect();
    println!(
        "\nChan's December: store-week, Mon–Sat 10:00–19:00, the statutory holidays off; {} working days from {} to {}",
        working.len(),
        short(start),
        short(end)
    );

    let mut week = Week::default();
    let mut skipped: Vec<NaiveDate> = Vec::new();
    for (i, &d) in working.iter().enumerate() {
        if d == forgot.succ_opt().unwrap_or(forgot) {
            forgotten_clock_out(policy, scene, phones, forgot, &mut week).await?;
        }
        let on_leave = leave.0 <= d && d <= leave.1;
        if on_leave {
            skipped.push(d);
        } else {
            let n = d.day();
            let (ih, im) = match d {
                _ if d == late_day => (10, 12),
                _ if d == overtime_day => (10, 0),
                _ => (9, 55 + (n * 7) % 5),
            };
            timeline.at_on(d, ih, im);
            scene.punch_quietly(PunchKind::In)?;
            week.first.get_or_insert(d);
            week.days += 1;
            week.ins.push(timeline.hk());
            if d == late_day {
                late_morning(scene)?;
            }
            if d == forgot {
                timeline.at_on(d, 19, 1);
                println!(
                    "{}  Chan closes the till and goes home without clocking out",
                    timeline.hk_day()
                );
            } else {
                let (oh, om) = if d == overtime_day {
                    (21, 5)
                } else {
                    (19, (n * 5) % 6)
                };
                timeline.at_on(d, oh, om);
                scene.punch_quietly(PunchKind::Out)?;
                week.outs.push(timeline.hk());
            }
            if d == leave_filed {
                timeline.at_on(d, 19, 20);
                christmas_leave(policy, &engine, scene, phones, leave, &mut week).await?;
            }
            if d == overtime_filed {
                timeline.at_on(d, 19, 15);
                overtime_request(policy, scene, phones, overtime_day, &mut week).await?;
            }
            if d == overtime_day {
                overtime_evening(timeline, phone, d, &mut week).await?;
            }
        }
        // The week ends with its last working day: sync and one line.
        let last_of_week = working
            .get(i + 1)
            .is_none_or(|next| next.iso_week() != d.iso_week());
        if last_of_week {
            week.sync(phone).await?;
            let monday = d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()));
            let sunday = monday + chrono::Duration::days(6);
            let mut notes = Vec::new();
            if !skipped.is_empty() {
                let list: Vec<String> =
                    skipped.iter().map(|d| d.format("%d").to_string()).collect();
                notes.push(format!("on annual leave {} Dec", list.join(" and ")));
            }
            let holidays: Vec<String> = plans
                .iter()
                .filter(|p| p.date >= monday && p.date <= sunday && p.kind == DayKind::Holiday)
                .map(|p| p.date.format("%d").to_string())
                .collect();
            if !holidays.is_empty() {
                notes.push(format!("holidays {} Dec", holidays.join(" and ")));
            }
            println!(
                "{} – {}  {} days at the store, in {}, out {}{}; synced {} items, {} day results back",
                monday.max(start).format("%a %d"),
                short((monday + chrono::Duration::days(5)).min(end)),
                week.days,
                range(&week.ins),
                range(&week.outs),
                if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", notes.join("; "))
                },
                week.sent,
                week.results
            );
            week = Week::default();
            skipped.clear();
        }
    }

    // ---- 2 January: the month -------------------------------------------------------------------
    let http = reqwest::Client::new();
    let jan2 = NaiveDate::from_ymd_opt(2027, 1, 2).expect("valid date");
    timeline.at_on(jan2, 9, 30);
    // HR checks everyone's month before payroll; reading the days stores those no input
    // ever touched (the days of the employees the demo does not follow are absences).
    let mut stored_days = BTreeMap::new();
    for person in &policy.attendance.people {
        let path = format!(
            "/admin/v1/attendance/days?employee={}&from=2026-12-01&to=2026-12-31",
            person.employee
        );
        let list: serde_json::Value = super::admin_get(&http, server_url, &path).await?;
        stored_days.insert(
            person.employee.clone(),
            list["days"].as_array().map_or(0, Vec::len),
        );
    }
    println!(
        "\n{}  HR reads December's days of all {} employees from the admin API before payroll: {} days of E1001 stored",
        timeline.hk_day(),
        stored_days.len(),
        stored_days.get(EMPLOYEE).copied().unwrap_or(0)
    );
    if let Some((who, n)) = stored_days.iter().find(|(_, n)| **n != 31) {
        return Err(format!(
            "the server holds {n} December days of {who}, not 31"
        ));
    }
    timeline.at_on(jan2, 10, 0);
    let report = phone.sync_now(&|_| {}).await.map_err(err)?;
    let view = phone.month_summary(DECEMBER).map_err(err)?;
    let confirmed = view
        .days
        .iter()
        .filter(|v| v.source == DaySource::Server)
        .count();
    println!(
        "{}  Chan's December on his phone (month_summary; {} day results arrive with this sync)",
        timeline.hk_day(),
        report.day_results.len()
    );
    show_summary(&view.summary, &view.days)?;
    println!(
        "       {confirmed} of {} days confirmed by the server",
        view.days.len()
    );
    if confirmed != view.days.len() {
        return Err(format!(
            "only {confirmed} of {} December days came confirmed from the server",
            view.days.len()
        ));
    }

    // ---- The lock and the export ----------------------------------------------------------------
    // Payroll is run on the stored days: locked, the month is summarised from them by the
    // export and by `daka report` alike, whatever the reader's clock says.
    let lock: serde_json::Value = http
        .post(format!("{server_url}/admin/v1/attendance/locks"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "month": "2026-12" }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("admin API /admin/v1/attendance/locks: {e}"))?
        .json()
        .await
        .map_err(|e| format!("admin API /admin/v1/attendance/locks: {e}"))?;
    if lock["changed"] != json!(true) {
        return Err(format!("December was not locked: {lock}"));
    }
    println!("       HR locks December for payroll (POST /admin/v1/attendance/locks)");
    let path = "/admin/v1/reports/attendance?month=2026-12&format=xlsx";
    let bytes = http
        .get(format!("{server_url}{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("admin API {path}: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("admin API {path}: {e}"))?;
    if !bytes.starts_with(b"PK") {
        return Err(format!("{path} did not answer with a workbook"));
    }
    let file = dir.join("attendance-2026-12.xlsx");
    std::fs::write(&file, &bytes).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    println!(
        "       payroll export: GET {path} → {} bytes (sheets Summary, Days, Warnings)",
        bytes.len()
    );
    println!(
        "       XLSX written to {}{}",
        file.display(),
        if keep {
            " (kept)"
        } else {
            " (in the temporary directory, removed when the demo ends: run with --keep to keep it)"
        }
    );
    println!(
        "       {}the same from the database file: daka report --db {}/server.db --month 2026-12 --format xlsx --out dec.xlsx",
        if keep { "" } else { "with --keep, " },
        dir.display()
    );
    Ok(file)
}

/// Thursday 3 December: the phone's "my day" after a late clock-in.
fn late_morning(scene: &Scene<'_>) -> DemoResult<()> {
    let timeline = scene.timeline;
    println!(
        "{}  A signal fault on the Island Line: Chan clocks in at {}",
        timeline.hk_day(),
        timeline.hk()
    );
    let today = scene.phone.today().map_err(err)?;
    println!(
        "       my day ({}): {}, {} so far",
        today.shift_name.as_deref().unwrap_or("no shift"),
        today.result.status.as_str(),
        match today.source {
            DaySource::Server => "confirmed by the server",
            DaySource::Phone => "computed on the phone",
        }
    );
    for f in &today.result.findings {
        println!("         {:<24} {}", f.code.as_str(), f.message);
    }
    let expected = "late 12 min: clocked in 10:12, shift starts 10:00, grace 0 min";
    if today.result.late_min != 12 || finding(&today.result, DayCode::Late) != Some(expected) {
        return Err(format!(
            "the late morning shows {} late minutes and {:?}, not {expected:?}",
            today.result.late_min,
            finding(&today.result, DayCode::Late)
        ));
    }
    Ok(())
}

/// Friday 4 December: annual leave from Thursday 24 to Monday 28 December.
async fn christmas_leave(
    policy: &Policy,
    engine: &AttendanceEngine<'_>,
    scene: &Scene<'_>,
    phones: &Phones<'_>,
    (from, to): (NaiveDate, NaiveDate),
    week: &mut Week,
) -> DemoResult<()> {
    let phone = phones.applicant;
    let year = from.year();
    let before = annual_balance(phone, year).await?;
    println!(
        "{}  Chan asks for annual leave from {} to {} (balance: {} days)",
        scene.timeline.hk_day(),
        short(from),
        short(to),
        days(before.0)
    );
    let leave = phone
        .submit_request(
            "leave",
            &json!({ "leave_type": "annual", "period": { "start": from.to_string(), "end": to.to_string() }, "reason": "Christmas with family in Taipei" }),
        )
        .map_err(err)?;
    week.sync(phone).await?;
    let held = annual_balance(phone, year).await?;
    println!(
        "       route: {}; {} days held (available {})",
        route_line(policy, &leave.route),
        days(held.1),
        days(held.0)
    );
    approve(phones.manager, &leave.request_id, None).await?;
    approve(phones.head, &leave.request_id, Some("Enjoy Taipei")).await?;
    let after = annual_balance(phone, year).await?;
    let view = phone.request(&leave.request_id).await.map_err(err)?;
    println!(
        "       {} by {} and {}: {} days taken, {} available",
        view.status.to_uppercase(),
        name(policy, "E0101"),
        name(policy, "E0001"),
        days(after.2 - before.2),
        days(after.0)
    );
    let plans = engine.plans(EMPLOYEE, from, to).map_err(err)?;
    let working: Vec<String> = plans
        .iter()
        .filter(|p| p.kind == DayKind::Workday)
        .map(|p| short(p.date))
        .collect();
    // The days off inside the range, grouped by why they are off.
    let mut off: Vec<(&str, Vec<String>)> = Vec::new();
    for p in plans.iter().filter(|p| p.kind != DayKind::Workday) {
        let why = match p.kind {
            DayKind::Holiday => match p.holiday.and_then(|h| policy.attendance.holiday(h)) {
                Some(h) if h.statutory => "statutory holidays the store takes off",
                _ => "holidays",
            },
            DayKind::RestDay if p.date.weekday() == Weekday::Sun => "Sunday",
            DayKind::RestDay => "a rest day",
            _ => "not working days",
        };
        let day = p.date.format("%d").to_string();
        match off.iter_mut().find(|(w, _)| *w == why) {
            Some((_, list)) => list.push(day),
            None => off.push((why, vec![day])),
        }
    }
    let off: Vec<String> = off
        .into_iter()
        .map(|(why, list)| {
            let verb = if list.len() == 1 { "is" } else { "are" };
            let why = if why == "Sunday" { "a Sunday" } else { why };
            format!("the {} {verb} {why}", list.join(" and "))
        })
        .collect();
    println!(
        "       the balance moves by {} days only, for {}: {}",
        days(before.0 - after.0),
        working.join(" and "),
        off.join(", ")
    );
    if view.status != "approved"
        || before.0 - after.0 != 4
        || after.2 - before.2 != 4
        || after.1 != 0
        || working.len() != 2
    {
        return Err(format!(
            "the Christmas leave ended {} and moved the balance from {before:?} to {after:?} (available, pending, taken half days) over {} working day(s)",
            view.status,
            working.len()
        ));
    }
    Ok(())
}

/// Wednesday 9 December, before work: yesterday's missing clock-out, mended.
async fn forgotten_clock_out(
    policy: &Policy,
    scene: &Scene<'_>,
    phones: &Phones<'_>,
    day: NaiveDate,
    week: &mut Week,
) -> DemoResult<()> {
    let phone = phones.applicant;
    let timeline = scene.timeline;
    timeline.at_on(day.succ_opt().unwrap_or(day), 9, 40);
    let before = phone_day(phone, day)?;
    println!(
        "{}  On the tram, the phone shows yesterday ({}): {}, {}",
        timeline.hk_day(),
        short(day),
        before.result.status.as_str(),
        source(&before)
    );
    let Some(message) = finding(&before.result, DayCode::MissingClockOut) else {
        return Err(format!(
            "{day} shows no missing clock-out: {:?}",
            before.result.findings
        ));
    };
    println!(
        "         {:<24} {message}",
        DayCode::MissingClockOut.as_str()
    );
    println!("       Chan files a missed-punch correction 補卡: clock-out at 19:03");
    let fix = phone
        .submit_request(
            "missed_punch",
            &json!({ "date": day.to_string(), "punch_kind": "out", "time": "19:03", "reason": "Forgot to clock out after closing the till" }),
        )
        .map_err(err)?;
    week.sync(phone).await?;
    approve(
        phones.manager,
        &fix.request_id,
        Some("Confirmed with the till log"),
    )
    .await?;
    week.sync(phone).await?;
    let view = phone.request(&fix.request_id).await.map_err(err)?;
    let after = phone_day(phone, day)?;
    let out = after
        .result
        .segments
        .first()
        .and_then(|s| s.clock_out)
        .map(|t| {
            t.with_timezone(&chrono_tz::Asia::Hong_Kong)
                .format("%H:%M")
                .to_string()
        })
        .unwrap_or_default();
    println!(
        "       {} by {}",
        view.status.to_uppercase(),
        name(policy, "E0101")
    );
    println!(
        "       after sync, {} on the phone: {}, {} worked, out at {out} (corrected), {}",
        short(day),
        after.result.status.as_str(),
        hm(after.result.worked_min),
        source(&after)
    );
    if view.status != "approved"
        || after.result.status != DayStatus::Normal
        || after.source != DaySource::Server
        || after.result.missing_clock_out != 0
        || finding(&after.result, DayCode::Corrected).is_none()
        || out != "19:03"
    {
        return Err(format!(
            "after the correction {day} is {} ({}), {} missing clock-out(s), out at {out:?}: {:?}",
            after.result.status.as_str(),
            source(&after),
            after.result.missing_clock_out,
            after.result.findings
        ));
    }
    Ok(())
}

/// Wednesday 16 December: overtime for Friday's stock-take, approved ahead.
async fn overtime_request(
    policy: &Policy,
    scene: &Scene<'_>,
    phones: &Phones<'_>,
    day: NaiveDate,
    week: &mut Week,
) -> DemoResult<()> {
    let phone = phones.applicant;
    println!(
        "{}  Chan asks ahead for 120 min of overtime on {} for the Christmas stock-take",
        scene.timeline.hk_day(),
        short(day)
    );
    let ot = phone
        .submit_request(
            "overtime",
            &json!({ "date": day.to_string(), "minutes": 120, "reason": "Christmas stock-take" }),
        )
        .map_err(err)?;
    week.sync(phone).await?;
    approve(phones.manager, &ot.request_id, None).await?;
    let view = phone.request(&ot.request_id).await.map_err(err)?;
    println!(
        "       {} by {}",
        view.status.to_uppercase(),
        name(policy, "E0101")
    );
    if view.status != "approved" {
        return Err(format!("the overtime request ended {}", view.status));
    }
    Ok(())
}

/// Friday 18 December, 21:05: the overtime evening, as the server confirms it.
async fn overtime_evening(
    timeline: &super::Timeline,
    phone: &Device,
    day: NaiveDate,
    week: &mut Week,
) -> DemoResult<()> {
    week.sync(phone).await?;
    let v = phone_day(phone, day)?;
    println!(
        "{}  Chan clocks out after the stock-take (in at 10:00)",
        timeline.hk_day()
    );
    let Some(ot) = v.result.overtime else {
        return Err(format!("{day} counts no overtime: {:?}", v.result.findings));
    };
    println!(
        "       the day, {}: overtime counted {} min (approved {}, punched {}: the lesser, in 30-min units, {})",
        source(&v),
        ot.counted_min,
        ot.approved_min,
        ot.punched_min,
        match ot.compensation {
            daka_core::attendance::rules::Compensation::Pay => "paid",
            daka_core::attendance::rules::Compensation::TimeOff => "time off in lieu",
        }
    );
    if ot.counted_min != 120
        || ot.approved_min != 120
        || ot.punched_min != 125
        || v.source != DaySource::Server
    {
        return Err(format!(
            "{day} ({}) counts {} min of overtime, approved {}, punched {}; the story says 120, 120, 125",
            source(&v),
            ot.counted_min,
            ot.approved_min,
            ot.punched_min
        ));
    }
    Ok(())
}

/// The month's sheet, checked against the story.
fn show_summary(s: &MonthSummary, days: &[DayView]) -> DemoResult<()> {
    println!(
        "       days due {}, attended {}, late {} ({} min), missing punches {}, absences {}",
        s.days_due, s.days_attended, s.late_count, s.late_min, s.missing_punches, s.absences
    );
    let leave: Vec<String> = s
        .leave_halves
        .iter()
        .map(|(t, h)| format!("{t} {} days", days_text(*h)))
        .collect();
    let holidays: Vec<String> = days
        .iter()
        .filter(|v| v.result.status == DayStatus::Holiday)
        .map(|v| v.result.date.format("%d").to_string())
        .collect();
    println!(
        "       leave: {}; holidays {} ({} Dec); rest days {}",
        if leave.is_empty() {
            "none".to_string()
        } else {
            leave.join(", ")
        },
        s.holidays,
        holidays.join(", "),
        s.rest_days
    );
    let overtime: u32 = s.overtime.iter().map(|o| o.minutes).sum();
    let by: BTreeMap<String, u32> = s
        .overtime
        .iter()
        .map(|o| {
            (
                format!(
                    "{}, {}",
                    o.category.as_str(),
                    match o.compensation {
                        daka_core::attendance::rules::Compensation::Pay => "paid",
                        daka_core::attendance::rules::Compensation::TimeOff => "time off in lieu",
                    }
                ),
                o.minutes,
            )
        })
        .collect();
    println!(
        "       worked {} of {} expected; overtime {} h {}",
        hm(s.worked_min),
        hm(s.expected_min),
        f64::from(overtime) / 60.0,
        by.keys()
            .map(|k| format!("({k})"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // The policy keeps records from 1 December (`records_from`): the weeks judged are the
    // ones from 2 December, and every one of them must meet the test.
    let december = s
        .contract_weeks
        .iter()
        .filter(|w| w.from >= date(2))
        .count();
    println!(
        "       continuous contract: {}; the {december} weeks from Wed 02 Dec, the first on record, meet the test",
        s.contract.as_str(),
    );
    if s.contract != ContractStatus::Met || december == 0 {
        return Err(format!(
            "a December week fails the continuous-contract test: {:?}",
            s.contract_weeks
        ));
    }
    for w in &s.warnings {
        println!("       warning {:<22} {}", w.code.as_str(), w.message);
    }
    let annual = s.leave_halves.get("annual").copied().unwrap_or(0);
    if s.late_count != 1
        || s.late_min != 12
        || s.missing_punches != 0
        || annual != 4
        || overtime != 120
    {
        return Err(format!(
            "the month does not add up to the story: late {} ({} min), missing punches {}, annual leave {} half days, overtime {overtime} min",
            s.late_count, s.late_min, s.missing_punches, annual
        ));
    }
    Ok(())
}

fn days_text(halves: u32) -> String {
    days(i64::from(halves))
}
