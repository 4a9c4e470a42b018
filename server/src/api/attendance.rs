//! The attendance admin API: the stored day results (confirmed, as devices receive them), a
//! month's summaries computed by the engine, the payroll export, roster warnings before a
//! roster is published, month locks and the late changes a locked month recorded.
//!
//! Parameters are read by name; an unknown one, a missing one, a bad month or date, a range
//! that runs backwards, an employee without attendance settings or an unknown format is a 400
//! whose code says which (`invalid_month`, `invalid_date`, `invalid_range`,
//! `unknown_employee`, `invalid_format`, `invalid_sheet`, `missing_parameter`,
//! `unknown_parameter`) and whose message names the parameter and the value.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use daka_core::Policy;
use daka_core::attendance::{AttendanceEngine, DayResult, Month};
use daka_core::protocol::ApiError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{AdminAuth, ApiJson, ApiPath};
use super::failure::Failure;
use super::state::AppState;
use crate::attendance::month::{MonthError, month_results};
use crate::attendance::params::{self, Format, ParamError, Sheet};
use crate::attendance::{current_policy, recompute};
use crate::storage::LateChange;

impl From<ParamError> for Failure {
    fn from(e: ParamError) -> Failure {
        Failure::bad_request(e.code, e.to_string())
    }
}

impl From<MonthError> for Failure {
    fn from(e: MonthError) -> Failure {
        match e {
            MonthError::NoPolicy => no_policy(),
            MonthError::Storage(e) => e.into(),
        }
    }
}

fn no_policy() -> Failure {
    Failure::bad_request(
        "no_policy",
        "the organisation has no policy: publish one first",
    )
}

/// The query's parameters by name; any other name is `unknown_parameter`.
fn query(raw: Option<String>, known: &[&str]) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !known.contains(&&*key) {
            return Err(ParamError::new(
                "unknown_parameter",
                &key,
                &value,
                format!("is not a parameter here (known: {})", known.join(", ")),
            )
            .into());
        }
        out.insert(key.into_owned(), value.into_owned());
    }
    Ok(out)
}

fn required<'q>(q: &'q BTreeMap<String, String>, name: &str) -> Result<&'q str, Failure> {
    q.get(name)
        .map(String::as_str)
        .ok_or_else(|| ParamError::new("missing_parameter", name, "", "is required").into())
}

/// The organisation's current policy, for checking employees.
async fn policy(state: &AppState, org_id: String) -> Result<Arc<Policy>, Failure> {
    state
        .db(move |s| current_policy(s.storage.as_ref(), &org_id)?.ok_or_else(no_policy))
        .await
}

/// One stored day result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoredDayView {
    /// The date, in the organisation's time zone.
    pub date: NaiveDate,
    /// The policy version it was computed under.
    pub policy_version: u64,
    /// When the server stored it.
    pub computed_at: DateTime<Utc>,
    /// The engine's result, as the employee's devices received it (`day_result`).
    pub result: DayResult,
}

/// An employee's stored day results.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayList {
    /// The employee.
    pub employee: String,
    /// The stored days of the range up to today, by date (days after today are not
    /// computed).
    pub days: Vec<StoredDayView>,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

/// The confirmed day results of one employee. Days of the range up to today that were never
/// computed (no input came) or were still in progress are computed first.
#[utoipa::path(get, path = "/admin/v1/attendance/days", tag = "attendance",
    security(("admin_token" = [])),
    params(
        ("employee" = String, Query, description = "An employee with attendance settings", min_length = 1, max_length = 128),
        ("from" = String, Query, description = "First date, YYYY-MM-DD", pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        ("to" = String, Query, description = "Last date, YYYY-MM-DD (at most 800 days after `from`)", pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    ),
    responses(
        (status = 200, description = "The stored day results", body = DayList),
        (status = 400, description = "`invalid_date`, `invalid_range`, `unknown_employee`, `missing_parameter`, `unknown_parameter`, `no_policy`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn days(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    RawQuery(raw): RawQuery,
) -> Result<Json<DayList>, Failure> {
    let q = query(raw, &["employee", "from", "to"])?;
    let from = params::date("from", required(&q, "from")?)?;
    let to = params::date("to", required(&q, "to")?)?;
    params::range(from, to)?;
    let policy = policy(&state, org.id.clone()).await?;
    let employee = params::employee(&policy, "employee", required(&q, "employee")?)?;
    let who = employee.clone();
    let stored = state
        .db(move |s| {
            let now = s.now();
            let storage = s.storage.as_ref();
            recompute::ensure_days(storage, &org.id, std::slice::from_ref(&who), from, to, now)?;
            Ok(storage.attendance_days(&org.id, Some(&who), from, to)?)
        })
        .await?;
    let days = stored
        .into_iter()
        .map(|d| {
            Ok(StoredDayView {
                date: d.day,
                policy_version: d.policy_version,
                computed_at: d.computed_at,
                result: serde_json::from_str(&d.result)
                    .map_err(|e| Failure::internal(format!("stored day result: {e}")))?,
            })
        })
        .collect::<Result<_, Failure>>()?;
    Ok(Json(DayList {
        employee,
        days,
        server_time: state.now(),
    }))
}

/// A month's summaries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MonthView {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The policy version it was computed under (the current one).
    pub policy_version: u64,
    /// Whether the month is locked for payroll.
    pub locked: bool,
    /// Late changes recorded for the month while locked (see
    /// `/admin/v1/attendance/late-changes`).
    pub late_changes: u32,
    /// The engine's `MonthSummary` of each employee, in the policy's order: days due and
    /// attended, lateness, absences, missing punches, leave by type in half days, minutes
    /// expected and worked, overtime, the continuous-contract weeks and the warnings.
    #[schema(value_type = Vec<Object>)]
    pub employees: Vec<serde_json::Value>,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

/// The month of every employee with attendance settings (or one), computed by the engine
/// from the stored records under the current policy; a locked month from its stored day
/// results, the ones payroll was locked on.
#[utoipa::path(get, path = "/admin/v1/attendance/month", tag = "attendance",
    security(("admin_token" = [])),
    params(
        ("month" = String, Query, description = "YYYY-MM", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
        ("employee" = Option<String>, Query, description = "Only this employee", min_length = 1, max_length = 128),
    ),
    responses(
        (status = 200, description = "The month's summaries", body = MonthView),
        (status = 400, description = "`invalid_month`, `unknown_employee`, `missing_parameter`, `unknown_parameter`, `no_policy`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn month(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    RawQuery(raw): RawQuery,
) -> Result<Json<MonthView>, Failure> {
    let q = query(raw, &["month", "employee"])?;
    let month = params::month("month", required(&q, "month")?)?;
    let policy = policy(&state, org.id.clone()).await?;
    let employee = q
        .get("employee")
        .map(|e| params::employee(&policy, "employee", e))
        .transpose()?;
    let (results, locked, late) = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let only = employee.map(|e| vec![e]);
            let results = month_results(storage, &org.id, month, only.as_deref(), s.now())?;
            let (locks, _) = storage.month_locks(&org.id)?;
            let key = month.to_string();
            let locked = locks.iter().any(|l| l.month == key);
            let late = storage.late_changes(&org.id, &key)?.len() as u32;
            Ok((results, locked, late))
        })
        .await?;
    let employees = results
        .employees
        .iter()
        .map(|(_, summary, _)| serde_json::to_value(summary).unwrap_or_default())
        .collect();
    Ok(Json(MonthView {
        month: month.to_string(),
        policy_version: results.policy.version,
        locked,
        late_changes: late,
        employees,
        server_time: state.now(),
    }))
}

/// The monthly attendance export HR pays from: the XLSX workbook (sheets Summary, Days and
/// Warnings) or one of its tables as CSV (UTF-8 with a byte-order mark), with the numbers of
/// `GET /admin/v1/attendance/month`. Sent as a download named `attendance-YYYY-MM.xlsx` or
/// `attendance-YYYY-MM-<sheet>.csv`.
#[utoipa::path(get, path = "/admin/v1/reports/attendance", tag = "attendance",
    security(("admin_token" = [])),
    params(
        ("month" = String, Query, description = "YYYY-MM", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
        ("format" = Option<String>, Query, description = "`xlsx` (default) or `csv`", pattern = r"^(xlsx|csv)$"),
        ("sheet" = Option<String>, Query, description = "For CSV: `summary` (default), `days` or `warnings`", pattern = r"^(summary|days|warnings)$"),
    ),
    responses(
        (status = 200, description = "The file", content(
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("text/csv"),
        )),
        (status = 400, description = "`invalid_month`, `invalid_format`, `invalid_sheet`, `missing_parameter`, `unknown_parameter`, `no_policy`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn report(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let q = query(raw, &["month", "format", "sheet"])?;
    let month = params::month("month", required(&q, "month")?)?;
    let format = q
        .get("format")
        .map_or(Ok(Format::Xlsx), |f| params::format("format", f))?;
    let sheet = q
        .get("sheet")
        .map_or(Ok(Sheet::Summary), |s| params::sheet("sheet", s))?;
    let (bytes, name, media) = state
        .db(move |s| {
            let results = month_results(s.storage.as_ref(), &org.id, month, None, s.now())?;
            render(&results.report(), format, sheet).map_err(Failure::internal)
        })
        .await?;
    Ok((
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
        .into_response())
}

/// The export as bytes, its file name and media type.
pub fn render(
    report: &crate::report::MonthReport,
    format: Format,
    sheet: Sheet,
) -> Result<(Vec<u8>, String, &'static str), crate::report::ReportError> {
    let stem = report.file_stem();
    Ok(match format {
        Format::Xlsx => (
            report.xlsx()?,
            format!("{stem}.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        Format::Csv => (
            match sheet {
                Sheet::Summary => report.summary_csv()?,
                Sheet::Days => report.days_csv()?,
                Sheet::Warnings => report.warnings_csv()?,
            },
            format!("{stem}-{}.csv", sheet.as_str()),
            "text/csv; charset=utf-8",
        ),
    })
}

/// A rest-day warning of a schedule or roster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterWarning {
    /// The employee.
    pub employee: String,
    /// Stable code, `hk_rest_day_7`.
    pub code: String,
    /// The first date concerned.
    pub date: NaiveDate,
    /// For people, with the dates.
    pub message: String,
}

/// Rest-day warnings of everyone's schedule and roster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterWarnings {
    /// The warnings, by employee in the policy's order, then date.
    pub warnings: Vec<RosterWarning>,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

/// Rest-day warnings (7 or more scheduled days in a row) of every person's schedule and
/// roster under the current policy: check a roster before publishing it (publish it as a new
/// policy version with the roster; nothing is computed from punches here).
#[utoipa::path(get, path = "/admin/v1/attendance/roster-warnings", tag = "attendance",
    security(("admin_token" = [])),
    params(
        ("from" = String, Query, description = "First date, YYYY-MM-DD", pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        ("to" = String, Query, description = "Last date, YYYY-MM-DD", pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    ),
    responses(
        (status = 200, description = "The warnings", body = RosterWarnings),
        (status = 400, description = "`invalid_date`, `invalid_range`, `missing_parameter`, `unknown_parameter`, `no_policy`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn roster_warnings(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    RawQuery(raw): RawQuery,
) -> Result<Json<RosterWarnings>, Failure> {
    let q = query(raw, &["from", "to"])?;
    let from = params::date("from", required(&q, "from")?)?;
    let to = params::date("to", required(&q, "to")?)?;
    params::range(from, to)?;
    let policy = policy(&state, org.id).await?;
    let engine = AttendanceEngine::new(&policy);
    let mut warnings = Vec::new();
    for person in &policy.attendance.people {
        let found = engine
            .rest_day_warnings(&person.employee, from, to)
            .map_err(|e| Failure::bad_request("invalid_range", e.to_string()))?;
        warnings.extend(found.into_iter().map(|w| RosterWarning {
            employee: person.employee.clone(),
            code: w.code.as_str().to_owned(),
            date: w.date,
            message: w.message,
        }));
    }
    Ok(Json(RosterWarnings {
        warnings,
        server_time: state.now(),
    }))
}

/// `POST /admin/v1/attendance/locks`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LockRequest {
    /// The month to lock, `YYYY-MM`.
    #[schema(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: String,
}

/// A locked month.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LockView {
    /// `YYYY-MM`.
    pub month: String,
    /// When it was locked.
    pub locked_at: DateTime<Utc>,
}

/// A lock or unlock.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LockEventView {
    /// `YYYY-MM`.
    pub month: String,
    /// `lock` or `unlock`.
    pub action: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The locked months and the trail of locks and unlocks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LockList {
    /// Locked months, by month.
    pub locks: Vec<LockView>,
    /// Every lock and unlock, oldest first.
    pub events: Vec<LockEventView>,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

/// What a lock or unlock did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LockOutcome {
    /// `YYYY-MM`.
    pub month: String,
    /// Whether the month is locked now.
    pub locked: bool,
    /// Whether this call changed anything (`false`: it was already so).
    pub changed: bool,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

async fn lock_list(state: &AppState, org_id: String) -> Result<LockList, Failure> {
    let (locks, events) = state
        .db(move |s| Ok(s.storage.month_locks(&org_id)?))
        .await?;
    Ok(LockList {
        locks: locks
            .into_iter()
            .map(|l| LockView {
                month: l.month,
                locked_at: l.locked_at,
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| LockEventView {
                month: e.month,
                action: e.action,
                at: e.at,
            })
            .collect(),
        server_time: state.now(),
    })
}

/// Locks a month for payroll: its days up to today are computed and stored first; from now
/// on a change that would alter a stored day result of the month is recorded as a late change
/// (see `/admin/v1/attendance/late-changes`) and the stored result stays.
#[utoipa::path(post, path = "/admin/v1/attendance/locks", tag = "attendance",
    security(("admin_token" = [])),
    request_body = LockRequest,
    responses(
        (status = 200, description = "Locked (`changed` false: it was locked already)", body = LockOutcome),
        (status = 400, description = "`invalid_month`, `invalid_request`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn lock(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    ApiJson(body): ApiJson<LockRequest>,
) -> Result<Json<LockOutcome>, Failure> {
    let parsed = params::month("month", &body.month)?;
    let month = parsed.to_string();
    let changed = state
        .db(move |s| Ok(lock_month(s.storage.as_ref(), &org.id, parsed, s.now())?))
        .await?;
    Ok(Json(LockOutcome {
        month,
        locked: true,
        changed,
        server_time: state.now(),
    }))
}

/// The locked months, and every lock and unlock.
#[utoipa::path(get, path = "/admin/v1/attendance/locks", tag = "attendance",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The locks", body = LockList),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn locks(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
) -> Result<Json<LockList>, Failure> {
    Ok(Json(lock_list(&state, org.id).await?))
}

/// Unlocks a month (recorded in the trail). Its days are recomputed at once, so the late
/// changes recorded while it was locked are taken and sent to the devices.
#[utoipa::path(delete, path = "/admin/v1/attendance/locks/{month}", tag = "attendance",
    security(("admin_token" = [])),
    params(("month" = String, Path, description = "YYYY-MM", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")),
    responses(
        (status = 200, description = "Unlocked (`changed` false: it was not locked)", body = LockOutcome),
        (status = 400, description = "`invalid_month`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn unlock(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    ApiPath(month): ApiPath<String>,
) -> Result<Json<LockOutcome>, Failure> {
    let parsed = params::month("month", &month)?;
    let changed = state
        .db(move |s| Ok(unlock_month(s.storage.as_ref(), &org.id, parsed, s.now())?))
        .await?;
    Ok(Json(LockOutcome {
        month: parsed.to_string(),
        locked: false,
        changed,
        server_time: state.now(),
    }))
}

/// Locks `month` of the organisation: its days up to today are computed and stored first
/// (what payroll locks is what is stored, so every export of the locked month agrees); whether
/// it was unlocked before. The admin API and the console's Reports page share it.
pub fn lock_month(
    storage: &dyn crate::storage::Storage,
    org_id: &str,
    month: Month,
    now: DateTime<Utc>,
) -> Result<bool, crate::storage::StorageError> {
    let (Some(first), Some(last)) = (month.first(), month.last()) else {
        return Ok(false);
    };
    recompute::ensure_days(storage, org_id, &[], first, last, now)?;
    storage.lock_month(org_id, &month.to_string(), now)
}

/// Unlocks `month` (recorded in the trail) and recomputes its days at once, so the late
/// changes recorded while it was locked are taken; whether it was locked before.
pub fn unlock_month(
    storage: &dyn crate::storage::Storage,
    org_id: &str,
    month: Month,
    now: DateTime<Utc>,
) -> Result<bool, crate::storage::StorageError> {
    let (Some(first), Some(last)) = (month.first(), month.last()) else {
        return Ok(false);
    };
    let changed = storage.unlock_month(org_id, &month.to_string(), (first, last), now)?;
    if changed {
        recompute::run_logged(storage, now);
    }
    Ok(changed)
}

/// The numbers of a day result that payroll reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DayNumbers {
    /// `normal`, `absent`, `on_leave`, ...
    pub status: String,
    /// Minutes expected.
    pub expected_min: u32,
    /// Minutes worked.
    pub worked_min: u32,
    /// Minutes late.
    pub late_min: u32,
    /// Minutes of early leave.
    pub early_min: u32,
    /// Missing clock-ins plus clock-outs.
    pub missing_punches: u32,
    /// Overtime counted, in minutes.
    pub overtime_min: u32,
    /// Leave, in half days.
    pub leave_halves: u32,
}

impl DayNumbers {
    fn of(json: &str) -> DayNumbers {
        let Ok(d) = serde_json::from_str::<DayResult>(json) else {
            return DayNumbers::default();
        };
        DayNumbers {
            status: d.status.as_str().to_owned(),
            expected_min: d.expected_min,
            worked_min: d.worked_min,
            late_min: d.late_min,
            early_min: d.early_min,
            missing_punches: d.missing_clock_in + d.missing_clock_out,
            overtime_min: d.overtime.map_or(0, |o| o.counted_min),
            leave_halves: d.leave.iter().map(|l| l.part.halves()).sum(),
        }
    }
}

/// A change to a locked month's day, recorded and flagged instead of stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LateChangeView {
    /// The employee.
    pub employee: String,
    /// The date.
    pub date: NaiveDate,
    /// What caused it: `punch:<id>`, `request:<id>`, `policy:<version>`, `read`, several
    /// separated by commas.
    pub cause: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The policy version `after` was computed under.
    pub policy_version: u64,
    /// Always `true`: payroll must look at it.
    pub flagged: bool,
    /// The stored result's numbers (kept).
    pub before: DayNumbers,
    /// The numbers the inputs now give.
    pub after: DayNumbers,
    /// The full result the inputs now give.
    pub result: DayResult,
}

/// The late changes of a month.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LateChangeList {
    /// `YYYY-MM`.
    pub month: String,
    /// Whether the month is locked now.
    pub locked: bool,
    /// The changes, oldest first.
    pub late_changes: Vec<LateChangeView>,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

fn late_view(c: LateChange) -> Result<LateChangeView, Failure> {
    Ok(LateChangeView {
        before: DayNumbers::of(&c.before),
        after: DayNumbers::of(&c.after),
        result: serde_json::from_str(&c.after)
            .map_err(|e| Failure::internal(format!("late change: {e}")))?,
        employee: c.employee_id,
        date: c.day,
        cause: c.cause,
        recorded_at: c.recorded_at,
        policy_version: c.policy_version,
        flagged: true,
    })
}

/// Changes to a locked month's days that were recorded, not stored: a punch delivered late,
/// a request decided or a policy published after the lock.
#[utoipa::path(get, path = "/admin/v1/attendance/late-changes", tag = "attendance",
    security(("admin_token" = [])),
    params(("month" = String, Query, description = "YYYY-MM", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")),
    responses(
        (status = 200, description = "The late changes", body = LateChangeList),
        (status = 400, description = "`invalid_month`, `missing_parameter`, `unknown_parameter`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn late_changes(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    RawQuery(raw): RawQuery,
) -> Result<Json<LateChangeList>, Failure> {
    let q = query(raw, &["month"])?;
    let month: Month = params::month("month", required(&q, "month")?)?;
    let key = month.to_string();
    let (changes, locked) = state
        .db(move |s| {
            let changes = s.storage.late_changes(&org.id, &key)?;
            let (locks, _) = s.storage.month_locks(&org.id)?;
            Ok((changes, locks.iter().any(|l| l.month == key)))
        })
        .await?;
    Ok(Json(LateChangeList {
        month: month.to_string(),
        locked,
        late_changes: changes
            .into_iter()
            .map(late_view)
            .collect::<Result<_, _>>()?,
        server_time: state.now(),
    }))
}
