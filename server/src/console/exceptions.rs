//! The Exceptions queue (`/console/exceptions`): for the employees the account may see and a
//! month (this month up to today by default), what needs someone's attention:
//!
//! * field punches awaiting review, approved or rejected here with a comment; the decision is
//!   a field-punch review (`field_punch_review` request) decided by the account's employee and
//!   signed by the server (see `approvals.rs`), so the attendance engine counts an approved
//!   punch and drops a rejected one;
//! * missing punches (a clock-in or clock-out the day lacks) and absences, from the attendance
//!   engine's day results;
//! * the month's warnings of the attendance engine: the continuous contract (418/468), seven
//!   days without a rest day, statutory holidays owed, hours to record, weekly hours.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate};
use daka_core::attendance::{DayCode, DayStatus, Month};

use super::approvals::{
    Refusal, audit_entry, error_key, field_punches, local, open_review, refusal_page, review_punch,
};
use super::i18n::Lang;
use super::today::visible;
use super::{
    Chrome, Signed, audit, findings, html, language, query_param, redirect, signed_form,
    with_cookies,
};
use crate::api::AppState;
use crate::attendance::current_policy;
use crate::attendance::month::month_results;
use crate::storage::ConsoleRole;
use daka_core::Policy;
use daka_core::approvals::{Form, RequestStatus, RequestType, compute_route};

/// The exceptions routes.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/console/exceptions", get(page)).route(
        "/console/exceptions/punches/{punch_id}/review",
        post(review_post),
    )
}

/// A field punch waiting for review.
struct PunchItem {
    punch_id: String,
    employee_id: String,
    name: String,
    at: String,
    kind: String,
    /// `none` (nobody asked for a review yet), `pending` or `returned`.
    review: &'static str,
    can_decide: bool,
}

impl PunchItem {
    fn kind_key(&self) -> &'static str {
        match self.kind.as_str() {
            "in" => "exceptions.kind.in",
            "out" => "exceptions.kind.out",
            "break_start" => "exceptions.kind.break_start",
            "break_end" => "exceptions.kind.break_end",
            _ => "exceptions.kind.field",
        }
    }
}

/// A day with a missing punch or an absence.
struct DayItem {
    employee_id: String,
    name: String,
    date: NaiveDate,
    /// The engine's code: `missing_clock_in`, `missing_clock_out` or `absent`.
    code: &'static str,
    message: String,
}

impl DayItem {
    fn label(&self, lang: &Lang) -> String {
        findings::label(*lang, self.code)
    }
}

/// A warning of the month.
struct WarningItem {
    employee_id: String,
    name: String,
    date: NaiveDate,
    /// The engine's code (`hk_rest_day_7`, …), shown as itself when this build has no label.
    code: String,
    message: String,
}

impl WarningItem {
    fn label(&self, lang: &Lang) -> String {
        findings::label(*lang, &self.code)
    }
}

#[derive(Template)]
#[template(path = "console/exceptions.html")]
struct ExceptionsPage {
    page: Chrome,
    csrf: String,
    month: String,
    from: String,
    to: String,
    punches: Vec<PunchItem>,
    missing: Vec<DayItem>,
    absences: Vec<DayItem>,
    warnings: Vec<WarningItem>,
    done: Option<&'static str>,
    error: Option<(String, &'static str)>,
    month_error: bool,
    no_policy: bool,
}

/// Whether `me` approves the first step of the review the server would file for `employee`'s
/// punch (the route the policy's `field_punch_review` template gives it).
fn first_reviewer(policy: &Policy, employee: &str, punch_id: &str, me: &str) -> bool {
    let Some(template) = policy
        .approvals
        .templates
        .iter()
        .find(|t| t.request_type == RequestType::FieldPunchReview)
    else {
        return false;
    };
    let Ok(form) = Form::read(template, &serde_json::json!({ "punch_id": punch_id })) else {
        return false;
    };
    compute_route(policy, template, employee, &form)
        .ok()
        .and_then(|route| route.into_iter().next())
        .is_some_and(|step| step.approvers.iter().any(|a| a == me))
}

async fn page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, lang_cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let asked = query_param(&raw, "month").filter(|m| !m.is_empty());
    let parsed = asked.as_deref().map(Month::parse);
    let month_error = matches!(parsed, Some(None));
    let account = signed.account.clone();
    let built = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let now = s.now();
            let Some(policy) = current_policy(storage, &account.org_id)? else {
                return Ok(None);
            };
            let today = now.with_timezone(&policy.time_zone()).date_naive();
            let month = parsed.flatten().unwrap_or_else(|| Month::of(today));
            let (Some(first), Some(last)) = (month.first(), month.last()) else {
                return Ok(None);
            };
            let to = last.min(today);
            let who = visible(&policy, &account);
            let name = |id: &str| {
                policy
                    .employee(id)
                    .map_or_else(String::new, |e| e.name.clone())
            };
            let open = storage.open_requests(&account.org_id)?;
            let me = account
                .employee_id
                .clone()
                .filter(|_| account.role != ConsoleRole::Auditor);
            let mut punches = Vec::new();
            for p in field_punches(storage, &account.org_id)? {
                let day = p.judged_at.with_timezone(&policy.time_zone()).date_naive();
                if p.review.is_some() || !who.contains(&p.employee_id) || day < first || day > to {
                    continue;
                }
                let review = open_review(&open, &p.punch_id);
                let (word, can_decide) = match &review {
                    None => (
                        "none",
                        me.as_ref().is_some_and(|m| {
                            first_reviewer(&policy, &p.employee_id, &p.punch_id, m)
                        }),
                    ),
                    Some(r) if r.state.status == RequestStatus::Returned => ("returned", false),
                    Some(r) => (
                        "pending",
                        me.as_ref()
                            .is_some_and(|m| r.state.waiting_for().iter().any(|w| w == m)),
                    ),
                };
                punches.push(PunchItem {
                    name: name(&p.employee_id),
                    at: local(&policy, p.judged_at),
                    kind: p.kind.clone(),
                    review: word,
                    can_decide,
                    employee_id: p.employee_id,
                    punch_id: p.punch_id,
                });
            }
            let people: Vec<String> = policy
                .attendance
                .people
                .iter()
                .map(|p| p.employee.clone())
                .filter(|e| who.contains(e))
                .collect();
            let mut missing = Vec::new();
            let mut absences = Vec::new();
            let mut warnings = Vec::new();
            if !people.is_empty() && first <= to {
                let results = month_results(storage, &account.org_id, month, Some(&people), now)
                    .map_err(|e| crate::api::Failure::internal(e.to_string()))?;
                for (id, summary, days) in &results.employees {
                    for d in days.iter().filter(|d| d.date >= first && d.date <= to) {
                        for f in &d.findings {
                            let code = match f.code {
                                DayCode::MissingClockIn | DayCode::MissingClockOut => {
                                    f.code.as_str()
                                }
                                _ => continue,
                            };
                            missing.push(DayItem {
                                employee_id: id.clone(),
                                name: name(id),
                                date: d.date,
                                code,
                                message: f.message.clone(),
                            });
                        }
                        if d.status == DayStatus::Absent {
                            absences.push(DayItem {
                                employee_id: id.clone(),
                                name: name(id),
                                date: d.date,
                                code: "absent",
                                message: String::new(),
                            });
                        }
                    }
                    for w in &summary.warnings {
                        warnings.push(WarningItem {
                            employee_id: id.clone(),
                            name: name(id),
                            date: w.date,
                            code: w.code.as_str().to_owned(),
                            message: w.message.clone(),
                        });
                    }
                }
            }
            Ok(Some((first, to, punches, missing, absences, warnings)))
        })
        .await;
    let done = query_param(&raw, "done").and_then(|d| match d.as_str() {
        "approve" => Some("exceptions.done.approve"),
        "reject" => Some("exceptions.done.reject"),
        _ => None,
    });
    let error = query_param(&raw, "error").map(|code| {
        let key = error_key(&code);
        let shown: String = code
            .chars()
            .filter(|c| c.is_ascii_lowercase() || *c == '_')
            .take(40)
            .collect();
        (shown, key)
    });
    let mut page = ExceptionsPage {
        page: Chrome::new(
            lang,
            "exceptions.title",
            "/console/exceptions",
            Some(&signed),
        )
        .keeping_query(&raw),
        csrf: signed.csrf(),
        month: String::new(),
        from: String::new(),
        to: String::new(),
        punches: Vec::new(),
        missing: Vec::new(),
        absences: Vec::new(),
        warnings: Vec::new(),
        done,
        error,
        month_error,
        no_policy: false,
    };
    match built {
        Ok(Some((first, to, punches, missing, absences, warnings))) => {
            page.month = format!("{:04}-{:02}", first.year(), first.month());
            page.from = first.to_string();
            page.to = if to < first {
                String::new()
            } else {
                to.to_string()
            };
            page.punches = punches;
            page.missing = missing;
            page.absences = absences;
            page.warnings = warnings;
        }
        Ok(None) => page.no_policy = true,
        Err(f) => return f.into_response(),
    }
    let status = if month_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    with_cookies(html(status, page.render()), lang_cookie)
}

async fn review_post(
    State(state): State<AppState>,
    Path(punch_id): Path<String>,
    req: Request,
) -> Response {
    let post = match signed_form(&state, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let month: String = post
        .form
        .get("month")
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .take(7)
        .collect();
    let back = |q: String| {
        let m = if month.is_empty() {
            String::new()
        } else {
            format!("month={month}&")
        };
        redirect(&format!("/console/exceptions?{m}{q}"))
    };
    let decision = post.form.get("decision").to_owned();
    let comment = post.form.get("comment").trim().to_owned();
    let account = post.signed.account.clone();
    let client = post.client.clone();
    let st = state.clone();
    let id: String = punch_id.chars().take(64).collect();
    let d = decision.clone();
    let outcome = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let now = s.now();
            let optional = (!comment.is_empty()).then(|| comment.clone());
            let outcome = match d.as_str() {
                "approve" | "reject" => {
                    review_punch(storage, &account, &id, d == "approve", optional, now)?
                }
                _ => Err(Refusal::Refused("invalid_action".into())),
            };
            let (what, detail) = audit_entry(
                &outcome,
                "punch_reviewed",
                "punch_review_refused",
                &format!("{d} field punch {id}"),
                "field punch",
            );
            storage.add_console_audit(&audit(
                &st,
                Some(account.org_id.clone()),
                Some(account.id.clone()),
                &account.email,
                what,
                &client,
                detail,
            ))?;
            Ok(outcome)
        })
        .await;
    match outcome {
        Ok(Ok(())) => back(format!("done={decision}")),
        Ok(Err(Refusal::Refused(code))) => back(format!("error={code}")),
        Ok(Err(Refusal::Forbidden(key))) => refusal_page(
            post.lang,
            &post.signed,
            StatusCode::FORBIDDEN,
            key,
            "/console/exceptions",
        ),
        Ok(Err(Refusal::NotFound)) => refusal_page(
            post.lang,
            &post.signed,
            StatusCode::NOT_FOUND,
            "approvals.refused.not_found",
            "/console/exceptions",
        ),
        Err(f) => f.into_response(),
    }
}
