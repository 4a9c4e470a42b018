//! The Approvals inbox (`/console/approvals`): the requests an account may decide or read,
//! each with its applicant, form, receipts (images inline, served after the same access
//! check), route and audit trail, and the decision form.
//!
//! **Decisions signed by the server.** A console account acts as the employee it is linked to
//! (`ConsoleAccount::employee_id`) and has exactly that employee's rights on a request: the
//! core's state machine (`RequestState::apply`) judges the decision as it judges a device's,
//! with the same refusal codes. The decision is a [`Decision`] like a device's, whose
//! `device_id` is `console:<account id>`, signed with the organisation's decision key
//! ([`crate::crypto::DecisionKey`], derived from the organisation key's seed) and stored with
//! the account's id and email; the request's audit trail marks it `signed_by: "server"`.
//! Accounts without an employee read, and never decide; auditors never decide.
//!
//! The same path files a field-punch review for an employee who did not submit one
//! ([`review_punch`], used by the Exceptions queue): the review request is a [`Submission`]
//! the server signs for the console account, on the policy's `field_punch_review` template,
//! and the account's decision follows in the same transaction.

use std::collections::BTreeSet;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use daka_core::Policy;
use daka_core::approvals::{
    Action, Decision, Form, RequestState, RequestStatus, RequestType, SignerPosition, Submission,
    compute_route,
};
use daka_core::protocol::ItemKind;
use serde_json::Value;
use uuid::Uuid;

use super::i18n::Lang;
use super::today::visible;
use super::{
    Chrome, Signed, audit, html, language, query_param, redirect, signed_form, with_cookies,
};
use crate::api::AppState;
use crate::api::Failure;
use crate::attendance::{current_policy, recompute};
use crate::crypto::{self, DecisionKey};
use crate::intake::approval as intake;
use crate::storage::{
    Answer, ApprovalKey, ConsoleAccount, ConsoleRole, ConsoleSigner, ConsoleWrite, NewAudit,
    PunchFilter, PunchStatus, Storage, StoredPunch, StoredRequest,
};

/// The approvals routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/console/approvals", get(page))
        .route("/console/approvals/{request_id}/decide", post(decide_post))
        .route("/console/approvals/{request_id}/files/{sha256}", get(file))
}

/// Longest id read from a path.
const MAX_ID_LEN: usize = 128;

/// Raster image types shown inline; every other file is a download.
const INLINE_IMAGES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

// ---- who may see and decide --------------------------------------------------------------------

/// Whether `employee` is the applicant of `r` or on its route.
fn on_request(r: &StoredRequest, employee: &str) -> bool {
    r.applicant == employee
        || r.state.steps.iter().any(|s| {
            s.approvers.iter().any(|a| a == employee) || s.approved_by.iter().any(|a| a == employee)
        })
}

/// Whether the account may read `r`: HR, finance and auditors every request of the
/// organisation; a manager the requests of the people they see, and those they are on.
pub(super) fn may_see(policy: &Policy, account: &ConsoleAccount, r: &StoredRequest) -> bool {
    match account.role {
        ConsoleRole::HrAdmin | ConsoleRole::Finance | ConsoleRole::Auditor => true,
        ConsoleRole::Manager => {
            visible(policy, account).contains(&r.applicant)
                || account
                    .employee_id
                    .as_deref()
                    .is_some_and(|e| on_request(r, e))
        }
    }
}

/// Why a console decision was not made.
#[derive(Debug)]
pub(super) enum Refusal {
    /// No such request or punch, or not one the account may see: 404, nothing shown.
    NotFound,
    /// The account may not decide at all (an auditor, or no linked employee): 403 with the
    /// reason's string key.
    Forbidden(&'static str),
    /// Refused by the rules, with the typed code (`self_approval`, `not_current_approver`,
    /// `invalid_comment`, ...).
    Refused(String),
}

/// The console audit's action and detail for an attempt at `subject` (`approve on request
/// …`): `done` when it succeeded, `refused` with the reason otherwise.
pub(super) fn audit_entry(
    outcome: &Result<(), Refusal>,
    done: &'static str,
    refused: &'static str,
    subject: &str,
    thing: &str,
) -> (&'static str, String) {
    match outcome {
        Ok(()) => (done, subject.to_owned()),
        Err(Refusal::Refused(code)) => (refused, format!("{subject}: {code}")),
        Err(Refusal::Forbidden(_)) => (refused, format!("{subject}: not allowed for this account")),
        Err(Refusal::NotFound) => (
            refused,
            format!("{subject}: no such {thing} for this account"),
        ),
    }
}

/// The employee a deciding account acts as, or why it may not decide.
fn actor(account: &ConsoleAccount) -> Result<String, Refusal> {
    if account.role == ConsoleRole::Auditor {
        return Err(Refusal::Forbidden("approvals.forbidden.auditor"));
    }
    account
        .employee_id
        .clone()
        .ok_or(Refusal::Forbidden("approvals.forbidden.no_employee"))
}

fn refused(answer: Answer) -> Refusal {
    Refusal::Refused(answer.code.unwrap_or_else(|| "refused".into()))
}

/// The organisation's decision key.
fn decision_key(storage: &dyn Storage, org_id: &str) -> Result<DecisionKey, Failure> {
    let org = storage
        .org(org_id)?
        .ok_or_else(|| Failure::internal(format!("organisation {org_id} is gone")))?;
    DecisionKey::derive(&org.signing_seed).map_err(Failure::internal)
}

fn signer(account: &ConsoleAccount) -> ConsoleSigner {
    ConsoleSigner {
        account_id: account.id.clone(),
        email: account.email.clone(),
    }
}

/// The `device_id` a console decision names: the account, so that the signature covers it.
fn console_device(account: &ConsoleAccount) -> String {
    format!("console:{}", account.id)
}

/// Signs `action` on `request_id` for the account's employee.
fn sign_decision(
    key: &DecisionKey,
    account: &ConsoleAccount,
    actor: &str,
    request_id: Uuid,
    action: Action,
    now: DateTime<Utc>,
) -> Result<(daka_core::approvals::Signed<Decision>, String), Failure> {
    daka_core::approvals::Signed::sign_to_json(
        Decision {
            id: Uuid::now_v7(),
            request_id,
            actor: actor.to_owned(),
            device_id: console_device(account),
            action,
            made_at: now,
        },
        key,
    )
    .map_err(Failure::internal)
}

/// Makes the account's decision on a request, signed by the server. `Ok(Err(_))` is a
/// refusal, and nothing was written.
pub(super) fn decide_request(
    storage: &dyn Storage,
    account: &ConsoleAccount,
    request_id: &str,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Result<(), Refusal>, Failure> {
    let actor = match actor(account) {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    let Some(policy) = current_policy(storage, &account.org_id)? else {
        return Ok(Err(Refusal::NotFound));
    };
    let Ok(uuid) = request_id.parse::<Uuid>() else {
        return Ok(Err(Refusal::NotFound));
    };
    let Some(request) = storage.request(&account.org_id, request_id)? else {
        return Ok(Err(Refusal::NotFound));
    };
    if !may_see(&policy, account, &request) {
        return Ok(Err(Refusal::NotFound));
    }
    let key = decision_key(storage, &account.org_id)?;
    let (signed, json) = sign_decision(&key, account, &actor, uuid, action, now)?;
    let device = console_device(account);
    let body_hash = crypto::sha256_hex(json.as_bytes());
    let item_id = signed.body.id.to_string();
    let approval_key = ApprovalKey {
        org_id: &account.org_id,
        device_id: &device,
        item_id: &item_id,
        kind: ItemKind::Decision,
        body_hash: &body_hash,
        request_id,
        applicant: &request.applicant,
        punch_id: None,
        attachments: &[],
    };
    let outcome =
        storage.apply_console_decision(&approval_key, &signer(account), &mut |state| {
            intake::decide(now, &policy, state, &signed, &json)
                .map(|write| ConsoleWrite { write, filed: None })
        })?;
    if outcome.is_ok() {
        recompute::run_logged(storage, now);
    }
    Ok(outcome.map_err(refused))
}

/// The field punches of the organisation, in storage order.
pub(super) fn field_punches(
    storage: &dyn Storage,
    org_id: &str,
) -> Result<Vec<StoredPunch>, Failure> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = storage.punches(
            org_id,
            &PunchFilter {
                device_id: None,
                status: Some(PunchStatus::FieldPunch),
                after,
                limit: 5000,
            },
        )?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.row;
        let full = page.len() == 5000;
        out.extend(page);
        if !full {
            break;
        }
    }
    Ok(out)
}

/// The open (pending or returned) review request of a punch, if any.
pub(super) fn open_review(open: &[StoredRequest], punch_id: &str) -> Option<StoredRequest> {
    open.iter()
        .find(|r| {
            r.request_type == RequestType::FieldPunchReview.as_str()
                && serde_json::from_str::<Value>(&r.form)
                    .ok()
                    .is_some_and(|f| f["punch_id"].as_str() == Some(punch_id))
        })
        .cloned()
}

/// Approves (`approve`) or rejects a field punch as the account's employee: through its open
/// review request when the employee submitted one, else by filing the review for the employee
/// (signed by the server for the account) and deciding it in the same transaction.
pub(super) fn review_punch(
    storage: &dyn Storage,
    account: &ConsoleAccount,
    punch_id: &str,
    approve: bool,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> Result<Result<(), Refusal>, Failure> {
    let actor = match actor(account) {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    let Some(policy) = current_policy(storage, &account.org_id)? else {
        return Ok(Err(Refusal::NotFound));
    };
    let Some(punch) = field_punches(storage, &account.org_id)?
        .into_iter()
        .find(|p| p.punch_id == punch_id)
    else {
        return Ok(Err(Refusal::NotFound));
    };
    if !visible(&policy, account).contains(&punch.employee_id) {
        return Ok(Err(Refusal::NotFound));
    }
    let action = if approve {
        Action::Approve {
            comment: comment.clone(),
        }
    } else {
        Action::Reject {
            comment: comment.clone().unwrap_or_default(),
        }
    };
    if punch.review.is_some() {
        return Ok(Err(Refusal::Refused("punch_already_reviewed".into())));
    }
    let open = storage.open_requests(&account.org_id)?;
    if let Some(review) = open_review(&open, punch_id) {
        if review.state.status == RequestStatus::Returned {
            return Ok(Err(Refusal::Refused("review_returned".into())));
        }
        return decide_request(storage, account, &review.request_id, action, now);
    }
    let Some(template) = policy
        .approvals
        .templates
        .iter()
        .find(|t| t.request_type == RequestType::FieldPunchReview)
    else {
        return Ok(Err(Refusal::Refused("no_review_template".into())));
    };
    let mut form_json = serde_json::json!({ "punch_id": punch_id });
    if let Some(c) = comment.as_deref()
        && template.fields.iter().any(|f| f.id == "note")
    {
        form_json["note"] = Value::String(c.chars().take(500).collect());
    }
    let form = match Form::read(template, &form_json) {
        Ok(f) => f,
        Err(_) => return Ok(Err(Refusal::Refused("invalid_form".into()))),
    };
    let route = match compute_route(&policy, template, &punch.employee_id, &form) {
        Ok(r) => r,
        Err(_) => return Ok(Err(Refusal::Refused("no_approver".into()))),
    };
    let key = decision_key(storage, &account.org_id)?;
    let request_uuid = Uuid::now_v7();
    let request_id = request_uuid.to_string();
    let (submission, submission_json) = daka_core::approvals::Signed::sign_to_json(
        Submission {
            request_id: request_uuid,
            revision: 1,
            template_id: template.id.clone(),
            policy_version: policy.version,
            applicant: punch.employee_id.clone(),
            device_id: console_device(account),
            form: form.to_json(),
            route: route.clone(),
            created_at: now,
        },
        &key,
    )
    .map_err(Failure::internal)?;
    let (signed, json) = sign_decision(&key, account, &actor, request_uuid, action, now)?;
    let device = console_device(account);
    let body_hash = crypto::sha256_hex(json.as_bytes());
    let item_id = signed.body.id.to_string();
    let approval_key = ApprovalKey {
        org_id: &account.org_id,
        device_id: &device,
        item_id: &item_id,
        kind: ItemKind::Decision,
        body_hash: &body_hash,
        request_id: &request_id,
        applicant: &punch.employee_id,
        punch_id: Some(punch_id),
        attachments: &[],
    };
    let outcome =
        storage.apply_console_decision(&approval_key, &signer(account), &mut |state| {
            match &state.punch {
                Some((employee, status))
                    if *employee == punch.employee_id
                        && status == PunchStatus::FieldPunch.as_str() => {}
                _ => return Err(rejected("not_a_field_punch")),
            }
            if !state.punch_reviews.is_empty() {
                return Err(rejected("punch_already_reviewed"));
            }
            let submitted = RequestState::submitted(&punch.employee_id, &route)
                .map_err(|e| rejected(e.code()))?;
            let mut filed_state = state.clone();
            filed_state.request = Some(StoredRequest {
                request_id: request_id.clone(),
                template_id: template.id.clone(),
                request_type: template.request_type.as_str().to_owned(),
                policy_version: policy.version,
                applicant: punch.employee_id.clone(),
                form: submission.body.form.to_string(),
                state: submitted,
                month: None,
                created_at: now,
                updated_at: now,
            });
            let write = intake::decide(now, &policy, &filed_state, &signed, &json)?;
            let detail = serde_json::json!({
                "status": "pending",
                "revision": 1,
                "route": route,
            });
            Ok(ConsoleWrite {
                write,
                filed: Some(NewAudit {
                    actor: punch.employee_id.clone(),
                    action: "submit".into(),
                    detail: detail.to_string(),
                    signed: submission_json.clone(),
                    made_at: now,
                }),
            })
        })?;
    if outcome.is_ok() {
        recompute::run_logged(storage, now);
    }
    Ok(outcome.map_err(refused))
}

fn rejected(code: &str) -> Answer {
    Answer {
        status: daka_core::protocol::ItemStatus::Rejected,
        code: Some(code.to_owned()),
        message: None,
    }
}

// ---- the page --------------------------------------------------------------------------------

/// One form field as shown.
struct FieldRow {
    label: String,
    value: String,
}

/// One file a form refers to.
struct FileRow {
    href: String,
    media_type: String,
    image: bool,
    n: usize,
}

/// One step of the route.
struct StepRow {
    name: String,
    approvers: String,
    approved_by: String,
    current: bool,
}

/// One audit-trail entry.
struct TrailRow {
    action: String,
    actor: String,
    at: String,
    comment: String,
    signed_by: &'static str,
    account: String,
}

/// One request as the page shows it.
struct Card {
    id: String,
    template: String,
    type_key: String,
    applicant_id: String,
    applicant_name: String,
    status: &'static str,
    created: String,
    fields: Vec<FieldRow>,
    files: Vec<FileRow>,
    steps: Vec<StepRow>,
    trail: Vec<TrailRow>,
    can_decide: bool,
}

impl Card {
    fn status_key(&self) -> String {
        format!("approvals.status.{}", self.status)
    }
}

/// An employee to add or transfer to.
struct Person {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "console/approvals.html")]
struct ApprovalsPage {
    page: Chrome,
    csrf: String,
    cards: Vec<Card>,
    people: Vec<Person>,
    done: Option<&'static str>,
    error: Option<(String, &'static str)>,
    note: Option<&'static str>,
    no_policy: bool,
    all_pending: bool,
}

#[derive(Template)]
#[template(path = "console/approvals_refused.html")]
struct RefusedPage {
    page: Chrome,
    reason_key: &'static str,
    back: &'static str,
}

/// The 403 or 404 page of a refused console action or file.
pub(super) fn refusal_page(
    lang: Lang,
    signed: &Signed,
    status: StatusCode,
    reason_key: &'static str,
    back: &'static str,
) -> Response {
    html(
        status,
        RefusedPage {
            page: Chrome::new(lang, "approvals.refused.title", back, Some(signed)),
            reason_key,
            back,
        }
        .render(),
    )
}

/// The typed codes the page has words for; any other shows as `refused`.
const CODES: &[&str] = &[
    "self_approval",
    "not_current_approver",
    "already_acted",
    "request_finished",
    "request_not_pending",
    "not_applicant",
    "not_participant",
    "invalid_signer",
    "invalid_comment",
    "empty_route",
    "no_approver",
    "invalid_form",
    "punch_already_reviewed",
    "not_a_field_punch",
    "review_returned",
    "no_review_template",
    "invalid_action",
    "missing_employee",
    "invalid_position",
];

/// The string key of a typed refusal code.
pub(super) fn error_key(code: &str) -> &'static str {
    match CODES.iter().position(|c| *c == code) {
        Some(i) => ERROR_KEYS[i],
        None => "approvals.error.refused",
    }
}

const ERROR_KEYS: &[&str] = &[
    "approvals.error.self_approval",
    "approvals.error.not_current_approver",
    "approvals.error.already_acted",
    "approvals.error.request_finished",
    "approvals.error.request_not_pending",
    "approvals.error.not_applicant",
    "approvals.error.not_participant",
    "approvals.error.invalid_signer",
    "approvals.error.invalid_comment",
    "approvals.error.empty_route",
    "approvals.error.no_approver",
    "approvals.error.invalid_form",
    "approvals.error.punch_already_reviewed",
    "approvals.error.not_a_field_punch",
    "approvals.error.review_returned",
    "approvals.error.no_review_template",
    "approvals.error.invalid_action",
    "approvals.error.missing_employee",
    "approvals.error.invalid_position",
];

const DONE: &[(&str, &str)] = &[
    ("approve", "approvals.done.approve"),
    ("reject", "approvals.done.reject"),
    ("return", "approvals.done.return"),
    ("add_signer", "approvals.done.add_signer"),
    ("transfer", "approvals.done.transfer"),
    ("comment", "approvals.done.comment"),
];

/// A local time as the page shows it.
pub(super) fn local(policy: &Policy, t: DateTime<Utc>) -> String {
    t.with_timezone(&policy.time_zone())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn name_of(policy: &Policy, id: &str) -> String {
    policy
        .employee(id)
        .map_or_else(|| id.to_owned(), |e| format!("{} {}", e.id, e.name))
}

fn names(policy: &Policy, ids: &[String]) -> String {
    ids.iter()
        .map(|id| name_of(policy, id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A file reference in a form value: `{sha256, bytes, media_type}`.
fn file_ref(v: &Value) -> Option<(String, String)> {
    let sha = v.get("sha256")?.as_str()?;
    let media = v.get("media_type")?.as_str()?;
    Some((sha.to_owned(), media.to_owned()))
}

/// Every file a stored form refers to, in field order.
fn form_files(form: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(map) = form {
        for v in map.values() {
            match v {
                Value::Array(items) => out.extend(items.iter().filter_map(file_ref)),
                other => out.extend(file_ref(other)),
            }
        }
    }
    out
}

/// A form value in words: money as `HKD 123.40`, a date range as `start – end`.
fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(o) if o.contains_key("minor") => {
            let minor = o["minor"].as_i64().unwrap_or_default();
            let currency = o.get("currency").and_then(Value::as_str).unwrap_or("");
            let sign = if minor < 0 { "-" } else { "" };
            let abs = minor.unsigned_abs();
            format!("{currency} {sign}{}.{:02}", abs / 100, abs % 100)
        }
        Value::Object(o) if o.contains_key("start") => {
            let part = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let half = |k: &str| match part(k).as_str() {
                "" => String::new(),
                h => format!(" ({h})"),
            };
            format!(
                "{}{} – {}{}",
                part("start"),
                half("start_half"),
                part("end"),
                half("end_half")
            )
        }
        other => other.to_string(),
    }
}

fn card(
    policy: &Policy,
    account: &ConsoleAccount,
    r: &StoredRequest,
    audit: &[crate::storage::AuditEntry],
) -> Card {
    let form: Value = serde_json::from_str(&r.form).unwrap_or_default();
    let template = policy.approvals.template(&r.template_id);
    let mut fields = Vec::new();
    let files: Vec<FileRow> = form_files(&form)
        .into_iter()
        .enumerate()
        .map(|(i, (sha, media))| FileRow {
            href: format!("/console/approvals/{}/files/{sha}", r.request_id),
            image: INLINE_IMAGES.contains(&media.as_str()),
            media_type: media,
            n: i + 1,
        })
        .collect();
    if let Value::Object(map) = &form {
        let label = |id: &str| {
            template
                .and_then(|t| t.fields.iter().find(|f| f.id == id))
                .map_or_else(|| id.to_owned(), |f| f.label.clone())
        };
        let order: Vec<String> = match template {
            Some(t) => t
                .fields
                .iter()
                .map(|f| f.id.clone())
                .filter(|id| map.contains_key(id))
                .chain(
                    map.keys()
                        .filter(|k| !t.fields.iter().any(|f| &f.id == *k))
                        .cloned(),
                )
                .collect(),
            None => map.keys().cloned().collect(),
        };
        for id in order {
            let v = &map[&id];
            let is_file = match v {
                Value::Array(items) => {
                    !items.is_empty() && items.iter().all(|i| file_ref(i).is_some())
                }
                other => file_ref(other).is_some(),
            };
            if is_file {
                continue;
            }
            fields.push(FieldRow {
                label: label(&id),
                value: show_value(v),
            });
        }
    }
    let current = r.state.current;
    let steps = r
        .state
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepRow {
            name: s.name.clone(),
            approvers: names(policy, &s.approvers),
            approved_by: names(policy, &s.approved_by),
            current: r.state.status == RequestStatus::Pending && i == current,
        })
        .collect();
    let trail = audit
        .iter()
        .map(|a| {
            let detail: Value = serde_json::from_str(&a.detail).unwrap_or_default();
            TrailRow {
                action: a.action.clone(),
                actor: name_of(policy, &a.actor),
                at: local(policy, a.received_at),
                comment: detail["comment"].as_str().unwrap_or_default().to_owned(),
                signed_by: if a.console.is_some() {
                    "server"
                } else {
                    "device"
                },
                account: a
                    .console
                    .as_ref()
                    .map(|c| c.email.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let can_decide = account.role != ConsoleRole::Auditor
        && r.state.status == RequestStatus::Pending
        && account
            .employee_id
            .as_deref()
            .is_some_and(|e| r.state.waiting_for().iter().any(|w| w == e));
    Card {
        id: r.request_id.clone(),
        template: template.map_or_else(|| r.template_id.clone(), |t| t.name.clone()),
        type_key: format!("approvals.type.{}", r.request_type),
        applicant_id: r.applicant.clone(),
        applicant_name: policy
            .employee(&r.applicant)
            .map_or_else(String::new, |e| e.name.clone()),
        status: match r.state.status {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Returned => "returned",
            RequestStatus::Withdrawn => "withdrawn",
        },
        created: local(policy, r.created_at),
        fields,
        files,
        steps,
        trail,
        can_decide,
    }
}

/// The requests the page lists for the account: those waiting for its employee; for HR,
/// finance and auditors every pending request of the organisation; for a manager also the
/// pending requests of the people they see. `focus` (a request just decided) is added when
/// the account may see it.
fn inbox(
    storage: &dyn Storage,
    policy: &Policy,
    account: &ConsoleAccount,
    focus: Option<&str>,
) -> Result<Vec<(StoredRequest, Vec<crate::storage::AuditEntry>)>, Failure> {
    let org = &account.org_id;
    let mut list: Vec<StoredRequest> = match &account.employee_id {
        Some(e) if account.role != ConsoleRole::Auditor => storage.inbox(org, e)?,
        _ => Vec::new(),
    };
    let mut seen: BTreeSet<String> = list.iter().map(|r| r.request_id.clone()).collect();
    for r in storage.open_requests(org)? {
        if r.state.status == RequestStatus::Pending
            && may_see(policy, account, &r)
            && (account.role != ConsoleRole::Manager
                || visible(policy, account).contains(&r.applicant))
            && seen.insert(r.request_id.clone())
        {
            list.push(r);
        }
    }
    if let Some(id) = focus
        && !seen.contains(id)
        && let Some(r) = storage.request(org, id)?
        && may_see(policy, account, &r)
    {
        list.insert(0, r);
    }
    list.into_iter()
        .map(|r| {
            let audit = storage.audit(org, &r.request_id)?;
            Ok((r, audit))
        })
        .collect()
}

async fn page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, lang_cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let account = signed.account.clone();
    let focus = query_param(&raw, "request").filter(|r| r.len() <= MAX_ID_LEN);
    let built = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let Some(policy) = current_policy(storage, &account.org_id)? else {
                return Ok(None);
            };
            let cards = inbox(storage, &policy, &account, focus.as_deref())?
                .iter()
                .map(|(r, a)| card(&policy, &account, r, a))
                .collect::<Vec<_>>();
            let people = policy
                .employees
                .iter()
                .map(|e| Person {
                    id: e.id.clone(),
                    name: e.name.clone(),
                })
                .collect();
            Ok(Some((cards, people)))
        })
        .await;
    let (cards, people, no_policy) = match built {
        Ok(Some((c, p))) => (c, p, false),
        Ok(None) => (Vec::new(), Vec::new(), true),
        Err(f) => return f.into_response(),
    };
    let done =
        query_param(&raw, "done").and_then(|d| DONE.iter().find(|(k, _)| *k == d).map(|(_, v)| *v));
    let error = query_param(&raw, "error").map(|code| {
        let key = error_key(&code);
        let shown: String = code
            .chars()
            .filter(|c| c.is_ascii_lowercase() || *c == '_')
            .take(40)
            .collect();
        (shown, key)
    });
    let note = match (&signed.account.role, &signed.account.employee_id) {
        (ConsoleRole::Auditor, _) => Some("approvals.note.auditor"),
        (_, None) => Some("approvals.note.no_employee"),
        _ => None,
    };
    let all_pending = signed.account.role != ConsoleRole::Manager;
    let page = ApprovalsPage {
        page: Chrome::new(lang, "approvals.title", "/console/approvals", Some(&signed)),
        csrf: signed.csrf(),
        cards,
        people,
        done,
        error,
        note,
        no_policy,
        all_pending,
    };
    with_cookies(html(StatusCode::OK, page.render()), lang_cookie)
}

/// Reads the decision form: `action` and its fields. A refusal code names the bad field.
fn read_action(form: &super::FormFields) -> Result<Action, &'static str> {
    let comment = form.get("comment").trim().to_owned();
    let optional = (!comment.is_empty()).then(|| comment.clone());
    let employee = || {
        let e = form.get("employee").trim();
        if e.is_empty() {
            Err("missing_employee")
        } else {
            Ok(e.to_owned())
        }
    };
    Ok(match form.get("action") {
        "approve" => Action::Approve { comment: optional },
        "reject" => Action::Reject { comment },
        "return" => Action::Return { comment },
        "comment" => Action::Comment { comment },
        "add_signer" => Action::AddSigner {
            employee: employee()?,
            position: match form.get("position") {
                "before" => SignerPosition::Before,
                "after" => SignerPosition::After,
                _ => return Err("invalid_position"),
            },
            comment: optional,
        },
        "transfer" => Action::Transfer {
            to: employee()?,
            comment: optional,
        },
        _ => return Err("invalid_action"),
    })
}

async fn decide_post(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
    req: Request,
) -> Response {
    let post = match signed_form(&state, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = |q: String| redirect(&format!("/console/approvals?{q}"));
    let encoded_id: String = url::form_urlencoded::byte_serialize(
        request_id
            .chars()
            .take(MAX_ID_LEN)
            .collect::<String>()
            .as_bytes(),
    )
    .collect();
    let action = read_action(&post.form);
    let action_name = action.as_ref().map_or("invalid", |a| a.name());
    let account = post.signed.account.clone();
    let client = post.client.clone();
    let st = state.clone();
    let id = request_id.clone();
    let outcome = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let now = s.now();
            let outcome = match action {
                Ok(action) => decide_request(storage, &account, &id, action, now)?,
                Err(code) => Err(Refusal::Refused(code.to_owned())),
            };
            let short: String = id.chars().take(64).collect();
            let (what, detail) = audit_entry(
                &outcome,
                "approval_decided",
                "approval_refused",
                &format!("{action_name} on request {short}"),
                "request",
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
        Ok(Ok(())) => back(format!("done={action_name}&request={encoded_id}")),
        Ok(Err(Refusal::Refused(code))) => back(format!("error={code}&request={encoded_id}")),
        Ok(Err(Refusal::Forbidden(key))) => refusal_page(
            post.lang,
            &post.signed,
            StatusCode::FORBIDDEN,
            key,
            "/console/approvals",
        ),
        Ok(Err(Refusal::NotFound)) => refusal_page(
            post.lang,
            &post.signed,
            StatusCode::NOT_FOUND,
            "approvals.refused.not_found",
            "/console/approvals",
        ),
        Err(f) => f.into_response(),
    }
}

/// A file of a request the account may see: raster images inline with their type, anything
/// else as a download (`application/octet-stream`, attachment), never rendered as HTML or SVG.
async fn file(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path((request_id, sha256)): Path<(String, String)>,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, _) = language(&headers, &None, Some(&signed.account), secure);
    let well_formed = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && request_id.len() <= MAX_ID_LEN;
    let account = signed.account.clone();
    let found = if well_formed {
        state
            .db(move |s| {
                let storage = s.storage.as_ref();
                let Some(policy) = current_policy(storage, &account.org_id)? else {
                    return Ok(None);
                };
                let Some(r) = storage.request(&account.org_id, &request_id)? else {
                    return Ok(None);
                };
                if !may_see(&policy, &account, &r) {
                    return Ok(None);
                }
                let form: Value = serde_json::from_str(&r.form).unwrap_or_default();
                if !form_files(&form).iter().any(|(sha, _)| *sha == sha256) {
                    return Ok(None);
                }
                Ok(storage
                    .attachment(&account.org_id, &sha256)?
                    .map(|(media, bytes)| (media, bytes, sha256)))
            })
            .await
    } else {
        Ok(None)
    };
    match found {
        Ok(Some((media, bytes, sha))) => {
            let short = &sha[..16];
            if INLINE_IMAGES.contains(&media.as_str()) {
                let ext = media.trim_start_matches("image/");
                (
                    [
                        (CONTENT_TYPE, media.clone()),
                        (
                            CONTENT_DISPOSITION,
                            format!("inline; filename=\"receipt-{short}.{ext}\""),
                        ),
                    ],
                    bytes,
                )
                    .into_response()
            } else {
                (
                    [
                        (CONTENT_TYPE, "application/octet-stream".to_owned()),
                        (
                            CONTENT_DISPOSITION,
                            format!("attachment; filename=\"file-{short}\""),
                        ),
                    ],
                    bytes,
                )
                    .into_response()
            }
        }
        Ok(None) => refusal_page(
            lang,
            &signed,
            StatusCode::NOT_FOUND,
            "approvals.refused.not_found",
            "/console/approvals",
        ),
        Err(f) => f.into_response(),
    }
}
