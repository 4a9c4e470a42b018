//! The Reports page: the monthly attendance sheet of the employees an account may see, an
//! employee's days with their punches, the month's XLSX and CSV downloads (the admin export
//! of `crate::report`, limited to the same employees) and locking the month for payroll
//! (HR administrators only; the admin API's locks logic).
//!
//! The numbers are the engine's month summaries of `crate::attendance::month`, the ones the
//! admin month API and the export give; hours are shown as the export writes them (minutes /
//! 60, two decimals, rounded half up).

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Datelike, Duration, NaiveDate};
use daka_core::attendance::Month;

use super::SignedForm;
use super::manage;
use super::{Chrome, ClientAddr, Signed, html, query_param, redirect, with_cookies};
use crate::api::AppState;
use crate::api::Failure;
use crate::api::attendance::{lock_month, render, unlock_month};
use crate::attendance::month::{MonthError, month_results};
use crate::attendance::{current_policy, params};
use crate::storage::ConsoleRole;

/// The Reports page's routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/console/reports", get(sheet_page))
        .route("/console/reports/download", get(download))
        .route("/console/reports/lock", post(lock))
        .route("/console/reports/{month}/{employee_id}", get(employee_page))
}

/// Minutes as hours with two decimals, rounded half up, as the export writes them.
fn hours(min: u32) -> String {
    let hundredths = (u64::from(min) * 100 + 30) / 60;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Half days as days, as the export writes them.
fn days(halves: u32) -> String {
    format!("{}.{}", halves / 2, if halves % 2 == 1 { 5 } else { 0 })
}

/// One employee's line of the sheet.
struct SheetRow {
    id: String,
    name: String,
    href: String,
    days_due: u32,
    days_attended: u32,
    late_count: u32,
    late_min: u32,
    early_min: u32,
    absences: u32,
    missing_punches: u32,
    leave_days: String,
    expected_hours: String,
    worked_hours: String,
    overtime_hours: String,
}

/// A lock or unlock of the month.
struct LockLine {
    action_key: &'static str,
    at: String,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct SheetPage {
    page: Chrome,
    month: String,
    prev: String,
    next: String,
    no_policy: bool,
    rows: Vec<SheetRow>,
    locked: bool,
    can_lock: bool,
    history: Vec<LockLine>,
    csrf: String,
    done: Option<&'static str>,
}

/// One punch of a day.
struct PunchLine {
    id: String,
    href: String,
    time: String,
    kind_key: String,
    status: &'static str,
    status_key: String,
}

/// One day of the drill-down.
struct DayLine {
    date: String,
    weekday_key: String,
    status: &'static str,
    status_key: String,
    worked_min: u32,
    late_min: u32,
    overtime_min: u32,
    punches: Vec<PunchLine>,
}

#[derive(Template)]
#[template(path = "console/report_employee.html")]
struct EmployeePage {
    page: Chrome,
    month: String,
    employee_id: String,
    name: String,
    back: String,
    days: Vec<DayLine>,
}

/// The month of `?month=`, this month (in the organisation's zone) when absent; the 400 page
/// naming the field when it is not a month.
fn month_param(raw: &Option<String>, today: NaiveDate) -> Result<Month, ()> {
    match query_param(raw, "month") {
        None => Ok(Month::of(today)),
        Some(m) => Month::parse(&m).ok_or(()),
    }
}

fn shift(month: Month, by: i32) -> Month {
    let index = month.year * 12 + month.month as i32 - 1 + by;
    Month {
        year: index.div_euclid(12),
        month: (index.rem_euclid(12) + 1) as u32,
    }
}

async fn sheet_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, cookie) = manage::page_lang(&state, &headers, &raw, &signed);
    let account = signed.account.clone();
    let now = state.now();
    let zone = match manage::org_zone(&state, &account.org_id).await {
        Ok(z) => z,
        Err(f) => return f.into_response(),
    };
    let Ok(month) = month_param(&raw, now.with_timezone(&zone).date_naive()) else {
        return manage::notice(
            StatusCode::BAD_REQUEST,
            lang,
            &signed,
            "/console/reports",
            "reports.invalid_month",
        );
    };
    let data = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let Some(policy) = current_policy(storage, &account.org_id)? else {
                return Ok(None);
            };
            let who: Vec<String> = super::today::visible(&policy, &account)
                .into_iter()
                .collect();
            let results = match month_results(storage, &account.org_id, month, Some(&who), s.now())
            {
                Ok(r) => r,
                Err(MonthError::NoPolicy) => return Ok(None),
                Err(MonthError::Storage(e)) => return Err(e.into()),
            };
            let (locks, events) = storage.month_locks(&account.org_id)?;
            let key = month.to_string();
            let locked = locks.iter().any(|l| l.month == key);
            let events: Vec<_> = events.into_iter().filter(|e| e.month == key).collect();
            Ok(Some((results, locked, events)))
        })
        .await;
    let data = match data {
        Ok(d) => d,
        Err(f) => return f.into_response(),
    };
    let key = month.to_string();
    let mut page = SheetPage {
        page: Chrome::new(lang, "reports.title", "/console/reports", Some(&signed))
            .keeping_query(&raw),
        month: key.clone(),
        prev: shift(month, -1).to_string(),
        next: shift(month, 1).to_string(),
        no_policy: data.is_none(),
        rows: Vec::new(),
        locked: false,
        can_lock: signed.account.role == ConsoleRole::HrAdmin,
        history: Vec::new(),
        csrf: signed.csrf(),
        done: match query_param(&raw, "done").as_deref() {
            Some("locked") => Some("reports.done_locked"),
            Some("unlocked") => Some("reports.done_unlocked"),
            _ => None,
        },
    };
    if let Some((results, locked, events)) = data {
        page.locked = locked;
        page.history = events
            .iter()
            .map(|e| LockLine {
                action_key: if e.action == "lock" {
                    "reports.history_lock"
                } else {
                    "reports.history_unlock"
                },
                at: manage::local_time(e.at, zone),
            })
            .collect();
        page.rows = results
            .employees
            .iter()
            .map(|(id, s, _)| SheetRow {
                id: id.clone(),
                name: results
                    .policy
                    .employee(id)
                    .map_or_else(|| id.clone(), |e| e.name.clone()),
                href: format!("/console/reports/{key}/{id}"),
                days_due: s.days_due,
                days_attended: s.days_attended,
                late_count: s.late_count,
                late_min: s.late_min,
                early_min: s.early_min,
                absences: s.absences,
                missing_punches: s.missing_punches,
                leave_days: days(s.leave_halves.values().sum()),
                expected_hours: hours(s.expected_min),
                worked_hours: hours(s.worked_min),
                overtime_hours: hours(s.overtime.iter().map(|o| o.minutes).sum()),
            })
            .collect();
    }
    with_cookies(html(StatusCode::OK, page.render()), cookie)
}

async fn employee_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path((month, employee_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, cookie) = manage::page_lang(&state, &headers, &raw, &signed);
    let Some(parsed) = Month::parse(&month) else {
        return manage::notice(
            StatusCode::BAD_REQUEST,
            lang,
            &signed,
            "/console/reports",
            "reports.invalid_month",
        );
    };
    let account = signed.account.clone();
    let who = employee_id.clone();
    let data = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let Some(policy) = current_policy(storage, &account.org_id)? else {
                return Ok(None);
            };
            let visible = super::today::visible(&policy, &account);
            if !visible.contains(&who)
                || !policy.attendance.people.iter().any(|p| p.employee == who)
            {
                return Ok(None);
            }
            let only = [who.clone()];
            let results = month_results(storage, &account.org_id, parsed, Some(&only), s.now())
                .map_err(|e| match e {
                    MonthError::NoPolicy => Failure::internal("no policy"),
                    MonthError::Storage(e) => e.into(),
                })?;
            let (Some(first), Some(last)) = (parsed.first(), parsed.last()) else {
                return Ok(None);
            };
            let tz = policy.time_zone();
            let start = manage::local_midnight(first, tz);
            let end = manage::local_midnight(last + Duration::days(1), tz);
            let sources = storage.attendance_sources(&account.org_id, &who, start, end)?;
            Ok(Some((results, sources.punches, tz)))
        })
        .await;
    let (results, punches, tz) = match data {
        Ok(Some(d)) => d,
        Ok(None) => {
            return manage::notice(
                StatusCode::NOT_FOUND,
                lang,
                &signed,
                "/console/reports",
                "reports.no_employee",
            );
        }
        Err(f) => return f.into_response(),
    };
    let mut by_day: BTreeMap<NaiveDate, Vec<PunchLine>> = BTreeMap::new();
    let mut sorted = punches;
    sorted.sort_by_key(|p| p.judged_at);
    for p in sorted {
        let local = p.judged_at.with_timezone(&tz);
        by_day
            .entry(local.date_naive())
            .or_default()
            .push(PunchLine {
                href: format!("/console/punches/{}", p.punch_id),
                time: local.format("%H:%M").to_string(),
                kind_key: format!("reports.kind.{}", p.kind),
                status: p.status.as_str(),
                status_key: format!("reports.punch.{}", p.status.as_str()),
                id: p.punch_id,
            });
    }
    let name = results
        .policy
        .employee(&employee_id)
        .map_or_else(|| employee_id.clone(), |e| e.name.clone());
    let days = results
        .employees
        .first()
        .map(|(_, _, days)| {
            days.iter()
                .map(|d| DayLine {
                    date: d.date.to_string(),
                    weekday_key: format!(
                        "reports.weekday.{}",
                        d.date.weekday().num_days_from_monday()
                    ),
                    status: d.status.as_str(),
                    status_key: format!("reports.day.{}", d.status.as_str()),
                    worked_min: d.worked_min,
                    late_min: d.late_min,
                    overtime_min: d.overtime.map_or(0, |o| o.counted_min),
                    punches: by_day.remove(&d.date).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let key = parsed.to_string();
    let page = EmployeePage {
        page: Chrome::new(
            lang,
            "reports.title",
            &format!("/console/reports/{key}/{employee_id}"),
            Some(&signed),
        ),
        back: format!("/console/reports?month={key}"),
        month: key,
        employee_id,
        name,
        days,
    };
    with_cookies(html(StatusCode::OK, page.render()), cookie)
}

async fn download(
    State(state): State<AppState>,
    signed: Signed,
    ClientAddr(client_addr): ClientAddr,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, _) = manage::page_lang(&state, &headers, &raw, &signed);
    let bad = |key| {
        manage::notice(
            StatusCode::BAD_REQUEST,
            lang,
            &signed,
            "/console/reports",
            key,
        )
    };
    let Some(month) = query_param(&raw, "month").and_then(|m| Month::parse(&m)) else {
        return bad("reports.invalid_month");
    };
    let Ok(format) = params::format("format", &query_param(&raw, "format").unwrap_or_default())
    else {
        return bad("reports.invalid_format");
    };
    let Ok(sheet) = params::sheet(
        "sheet",
        &query_param(&raw, "sheet").unwrap_or_else(|| "summary".into()),
    ) else {
        return bad("reports.invalid_sheet");
    };
    let account = signed.account.clone();
    let st = state.clone();
    let file = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let Some(policy) = current_policy(storage, &account.org_id)? else {
                return Ok(None);
            };
            let who: Vec<String> = super::today::visible(&policy, &account)
                .into_iter()
                .collect();
            let results = month_results(storage, &account.org_id, month, Some(&who), s.now())
                .map_err(|e| match e {
                    MonthError::NoPolicy => Failure::internal("no policy"),
                    MonthError::Storage(e) => e.into(),
                })?;
            let (bytes, name, media) =
                render(&results.report(), format, sheet).map_err(Failure::internal)?;
            storage.add_console_audit(&super::audit(
                &st,
                Some(account.org_id.clone()),
                Some(account.id.clone()),
                &account.email,
                "report_downloaded",
                &client_addr,
                format!("{name}: {} employees", results.employees.len()),
            ))?;
            Ok(Some((bytes, name, media)))
        })
        .await;
    match file {
        Ok(Some((bytes, name, media))) => (
            StatusCode::OK,
            [
                (CONTENT_TYPE, media.to_owned()),
                (
                    CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => bad("reports.no_policy"),
        Err(f) => f.into_response(),
    }
}

async fn lock(State(state): State<AppState>, req: Request) -> Response {
    let SignedForm {
        signed,
        client,
        form,
        lang,
    } = match manage::hr_form(&state, req, "/console/reports").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(month) = Month::parse(form.get("month")) else {
        return manage::notice(
            StatusCode::BAD_REQUEST,
            lang,
            &signed,
            "/console/reports",
            "reports.invalid_month",
        );
    };
    let locking = match form.get("action") {
        "lock" => true,
        "unlock" => false,
        _ => {
            return manage::notice(
                StatusCode::BAD_REQUEST,
                lang,
                &signed,
                "/console/reports",
                "reports.invalid_action",
            );
        }
    };
    let account = signed.account.clone();
    let st = state.clone();
    let done = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let now = s.now();
            let changed = if locking {
                lock_month(storage, &account.org_id, month, now)?
            } else {
                unlock_month(storage, &account.org_id, month, now)?
            };
            storage.add_console_audit(&super::audit(
                &st,
                Some(account.org_id.clone()),
                Some(account.id.clone()),
                &account.email,
                if locking {
                    "month_locked"
                } else {
                    "month_unlocked"
                },
                &client,
                format!(
                    "{month}{}",
                    if changed {
                        ""
                    } else {
                        " (no change: it was so already)"
                    }
                ),
            ))?;
            Ok(())
        })
        .await;
    match done {
        Ok(()) => redirect(&format!(
            "/console/reports?month={month}&done={}",
            if locking { "locked" } else { "unlocked" }
        )),
        Err(f) => f.into_response(),
    }
}
