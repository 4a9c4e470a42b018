//! Running the console: account management (HR administrators), **My account** (everyone),
//! the audit page (HR administrators and auditors), scoped API tokens and the rotation of the
//! organisation's admin token (HR administrators); and the small helpers the Reports page
//! shares with them (the CSRF-checked form, the notice page, times in the organisation's
//! zone).
//!
//! Every change is a CSRF-checked POST that checks the role and writes a console audit entry.
//! A generated password or token is shown once, in the answer to the POST that made it, and
//! stored only as its hash.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::accounts::{self, AccountInput};
use super::i18n::Lang;
use super::{
    Chrome, Signed, SignedForm, audit, auth, html, language, query_param, redirect, signed_form,
    with_cookies,
};
use crate::api::AppState;
use crate::api::Failure;
use crate::api::scopes::SCOPES;
use crate::attendance::current_policy;
use crate::crypto;
use crate::storage::{
    ApiTokenRow, ConsoleAccount, ConsoleAuditQuery, ConsoleRole, ConsoleSessionRow,
};

/// The routes of account management, My account, the audit page and API tokens.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/console/accounts", get(accounts_page))
        .route("/console/accounts/invite", post(invite))
        .route("/console/accounts/{id}/{action}", post(account_action))
        .route("/console/account", get(my_account_page))
        .route("/console/account/password", post(change_password))
        .route("/console/account/language", post(change_language))
        .route("/console/audit", get(audit_page))
        .route("/console/api-tokens", get(tokens_page).post(create_token))
        .route("/console/api-tokens/rotate-admin", post(rotate_admin))
        .route("/console/api-tokens/{id}/revoke", post(revoke_token))
}

// ---- helpers shared with the Reports page ------------------------------------------------------

/// The language of a page request, and the cookie to set when `?lang=` chose it.
pub(super) fn page_lang(
    state: &AppState,
    headers: &HeaderMap,
    raw: &Option<String>,
    signed: &Signed,
) -> (Lang, Option<String>) {
    language(
        headers,
        raw,
        Some(&signed.account),
        state.inner.options.console_secure_cookies,
    )
}

#[derive(Template)]
#[template(path = "console/notice.html")]
struct NoticePage {
    page: Chrome,
    title_key: &'static str,
    message_key: &'static str,
}

/// A page with one message: 400 (a bad parameter, named), 403 (the role may not), 404.
pub(super) fn notice(
    status: StatusCode,
    lang: Lang,
    signed: &Signed,
    path: &str,
    message_key: &'static str,
) -> Response {
    let title_key = match status {
        StatusCode::FORBIDDEN => "manage.title_forbidden",
        StatusCode::NOT_FOUND => "manage.title_not_found",
        _ => "manage.title_bad_request",
    };
    html(
        status,
        NoticePage {
            page: Chrome::new(lang, title_key, path, Some(signed)),
            title_key,
            message_key,
        }
        .render(),
    )
}

/// The organisation's time zone (its policy's), UTC before any policy.
pub(super) async fn org_zone(state: &AppState, org_id: &str) -> Result<Tz, Failure> {
    let org = org_id.to_owned();
    state
        .db(move |s| {
            Ok(current_policy(s.storage.as_ref(), &org)?.map_or(chrono_tz::UTC, |p| p.time_zone()))
        })
        .await
}

/// A time as the organisation's clocks show it, `YYYY-MM-DD HH:MM`.
pub(super) fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// The start of a date in the organisation's zone.
pub(super) fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    daka_core::attendance::plan::local_instant(tz, date, 0)
}

/// A signed-in, CSRF-checked POST from an HR administrator; any other role is answered 403,
/// with the page `back` as the language switch's target.
pub(super) async fn hr_form(
    state: &AppState,
    req: Request,
    back: &str,
) -> Result<SignedForm, Response> {
    let post = signed_form(state, req).await?;
    if post.signed.account.role != ConsoleRole::HrAdmin {
        return Err(forbidden(post.lang, &post.signed, back));
    }
    Ok(post)
}

fn forbidden(lang: Lang, signed: &Signed, path: &str) -> Response {
    notice(
        StatusCode::FORBIDDEN,
        lang,
        signed,
        path,
        "manage.forbidden_role",
    )
}

fn role_key(role: ConsoleRole) -> &'static str {
    match role {
        ConsoleRole::HrAdmin => "role.hr_admin",
        ConsoleRole::Manager => "role.manager",
        ConsoleRole::Finance => "role.finance",
        ConsoleRole::Auditor => "role.auditor",
    }
}

/// A new random password to hand over: 20 characters of base64url (120 bits).
fn new_password() -> Result<String, Failure> {
    let secret = auth::new_secret().map_err(Failure::internal)?;
    Ok(secret.chars().take(20).collect())
}

/// The string-table key of an account check's error code (its message names the field).
fn account_error_key(code: &str) -> &'static str {
    match code {
        "invalid_email" => "manage.err.email",
        "invalid_name" => "manage.err.name",
        "invalid_role" => "manage.err.role",
        "unknown_employee" => "manage.err.employee",
        "weak_password" => "manage.err.password",
        "invalid_language" => "manage.err.language",
        "account_exists" => "manage.err.exists",
        _ => "manage.err.internal",
    }
}

fn storage_failure(e: crate::storage::StorageError) -> Failure {
    Failure::from(e)
}

// ---- accounts -----------------------------------------------------------------------------------

/// One account's line on the accounts page.
struct AccountLine {
    id: String,
    email: String,
    name: String,
    role: &'static str,
    role_key: &'static str,
    employee_id: String,
    language: String,
    disabled: bool,
    last_sign_in: String,
    is_self: bool,
}

/// The invitation form's values, kept when it is shown again with an error.
#[derive(Default)]
struct InviteForm {
    email: String,
    name: String,
    role: String,
    employee_id: String,
    language: String,
}

/// A password shown once.
struct Shown {
    email: String,
    password: String,
}

#[derive(Template)]
#[template(path = "console/accounts.html")]
struct AccountsPage {
    page: Chrome,
    csrf: String,
    accounts: Vec<AccountLine>,
    employees: Vec<(String, String)>,
    roles: Vec<(&'static str, &'static str)>,
    invite: InviteForm,
    error: Option<&'static str>,
    shown: Option<Shown>,
    done: Option<&'static str>,
}

const ROLES: [ConsoleRole; 4] = [
    ConsoleRole::HrAdmin,
    ConsoleRole::Manager,
    ConsoleRole::Finance,
    ConsoleRole::Auditor,
];

/// Renders the accounts page with `status`: the invitation form's values, an error, a
/// password to show once, a notice of what was done.
#[allow(clippy::too_many_arguments)]
async fn accounts_view(
    state: &AppState,
    signed: &Signed,
    lang: Lang,
    status: StatusCode,
    invite: InviteForm,
    error: Option<&'static str>,
    shown: Option<Shown>,
    done: Option<&'static str>,
) -> Response {
    let org = signed.account.org_id.clone();
    let data = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let accounts = storage.console_accounts(&org)?;
            let last = storage.console_last_sign_ins(&org)?;
            let policy = current_policy(storage, &org)?;
            let tz = policy.as_ref().map_or(chrono_tz::UTC, |p| p.time_zone());
            let employees: Vec<(String, String)> = policy
                .map(|p| {
                    p.employees
                        .iter()
                        .map(|e| (e.id.clone(), e.name.clone()))
                        .collect()
                })
                .unwrap_or_default();
            Ok((accounts, last, employees, tz))
        })
        .await;
    let (list, last, employees, tz) = match data {
        Ok(d) => d,
        Err(f) => return f.into_response(),
    };
    let me = signed.account.id.clone();
    let page = AccountsPage {
        page: Chrome::new(
            lang,
            "manage.accounts_title",
            "/console/accounts",
            Some(signed),
        ),
        csrf: signed.csrf(),
        accounts: list
            .into_iter()
            .map(|a| AccountLine {
                last_sign_in: last
                    .get(&a.id)
                    .map(|t| local_time(*t, tz))
                    .unwrap_or_default(),
                is_self: a.id == me,
                role: a.role.as_str(),
                role_key: role_key(a.role),
                employee_id: a.employee_id.unwrap_or_default(),
                disabled: a.disabled_at.is_some(),
                id: a.id,
                email: a.email,
                name: a.name,
                language: a.language,
            })
            .collect(),
        employees,
        roles: ROLES.iter().map(|r| (r.as_str(), role_key(*r))).collect(),
        invite,
        error,
        shown,
        done,
    };
    html(status, page.render())
}

async fn accounts_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, cookie) = page_lang(&state, &headers, &raw, &signed);
    if signed.account.role != ConsoleRole::HrAdmin {
        return forbidden(lang, &signed, "/console/accounts");
    }
    let done = match query_param(&raw, "done").as_deref() {
        Some("role") => Some("manage.done_role"),
        Some("disable") => Some("manage.done_disable"),
        Some("enable") => Some("manage.done_enable"),
        _ => None,
    };
    let invite = InviteForm {
        role: "manager".into(),
        language: "en".into(),
        ..InviteForm::default()
    };
    with_cookies(
        accounts_view(
            &state,
            &signed,
            lang,
            StatusCode::OK,
            invite,
            None,
            None,
            done,
        )
        .await,
        cookie,
    )
}

async fn invite(State(state): State<AppState>, req: Request) -> Response {
    let SignedForm {
        signed,
        client,
        form,
        lang,
    } = match hr_form(&state, req, "/console/accounts").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let values = InviteForm {
        email: form.get("email").trim().to_owned(),
        name: form.get("name").trim().to_owned(),
        role: form.get("role").to_owned(),
        employee_id: form.get("employee_id").trim().to_owned(),
        language: form.get("language").to_owned(),
    };
    let password = match new_password() {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    let input = AccountInput {
        email: values.email.clone(),
        name: values.name.clone(),
        role: values.role.clone(),
        employee_id: (!values.employee_id.is_empty() && values.role == "manager")
            .then(|| values.employee_id.clone()),
        password: password.clone(),
        language: Some(values.language.clone()),
    };
    let org = signed.account.org_id.clone();
    let by = signed.account.clone();
    let st = state.clone();
    let created = state
        .db(move |s| {
            let now = s.now();
            match accounts::create(s.storage.as_ref(), &org, &input, now) {
                Ok(account) => {
                    s.storage.add_console_audit(&audit(
                        &st,
                        Some(org.clone()),
                        Some(by.id.clone()),
                        &by.email,
                        "account_created",
                        &client,
                        format!("invited {} as {}", account.email, account.role.as_str()),
                    ))?;
                    Ok(Ok(account))
                }
                Err(e) => match e.storage {
                    Some(storage) => Err(storage_failure(storage)),
                    None => Ok(Err(e.code)),
                },
            }
        })
        .await;
    match created {
        Ok(Ok(account)) => {
            let shown = Shown {
                email: account.email,
                password,
            };
            let fresh = InviteForm {
                role: "manager".into(),
                language: "en".into(),
                ..InviteForm::default()
            };
            accounts_view(
                &state,
                &signed,
                lang,
                StatusCode::OK,
                fresh,
                None,
                Some(shown),
                None,
            )
            .await
        }
        Ok(Err(code)) => {
            let status = if code == "account_exists" {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            accounts_view(
                &state,
                &signed,
                lang,
                status,
                values,
                Some(account_error_key(code)),
                None,
                None,
            )
            .await
        }
        Err(f) => f.into_response(),
    }
}

/// What a POST to `/console/accounts/{id}/{action}` did.
enum Outcome {
    Done(&'static str),
    Password(Shown),
    Refused(StatusCode, &'static str),
}

async fn account_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    req: Request,
) -> Response {
    let SignedForm {
        signed,
        client,
        form,
        lang,
    } = match hr_form(&state, req, "/console/accounts").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !matches!(
        action.as_str(),
        "role" | "disable" | "enable" | "reset-password"
    ) {
        return notice(
            StatusCode::NOT_FOUND,
            lang,
            &signed,
            "/console/accounts",
            "manage.no_account",
        );
    }
    let role_text = form.get("role").to_owned();
    let employee = form.get("employee_id").trim().to_owned();
    let by = signed.account.clone();
    let st = state.clone();
    let outcome = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let now = s.now();
            let Some(mut target) = storage
                .console_account(&id)?
                .filter(|a| a.org_id == by.org_id)
            else {
                return Ok(Outcome::Refused(StatusCode::NOT_FOUND, "manage.no_account"));
            };
            let is_self = target.id == by.id;
            let (audit_action, detail, outcome) = match action.as_str() {
                "role" => {
                    if is_self {
                        return Ok(Outcome::Refused(StatusCode::BAD_REQUEST, "manage.err.self"));
                    }
                    let Some(role) = ConsoleRole::parse(&role_text) else {
                        return Ok(Outcome::Refused(StatusCode::BAD_REQUEST, "manage.err.role"));
                    };
                    let employee_id = if role == ConsoleRole::Manager {
                        let policy = current_policy(storage, &by.org_id)?;
                        if employee.is_empty()
                            || policy.is_none_or(|p| p.employee(&employee).is_none())
                        {
                            return Ok(Outcome::Refused(
                                StatusCode::BAD_REQUEST,
                                "manage.err.employee",
                            ));
                        }
                        Some(employee)
                    } else {
                        None
                    };
                    let before = target.role.as_str();
                    target.role = role;
                    target.employee_id = employee_id;
                    (
                        "account_role_changed",
                        format!(
                            "{}: {before} → {}{}",
                            target.email,
                            role.as_str(),
                            target
                                .employee_id
                                .as_deref()
                                .map(|e| format!(" for {e}"))
                                .unwrap_or_default()
                        ),
                        Outcome::Done("role"),
                    )
                }
                "disable" => {
                    if is_self {
                        return Ok(Outcome::Refused(StatusCode::BAD_REQUEST, "manage.err.self"));
                    }
                    target.disabled_at = Some(now);
                    (
                        "account_disabled",
                        format!("{}: disabled, its sessions ended", target.email),
                        Outcome::Done("disable"),
                    )
                }
                "enable" => {
                    target.disabled_at = None;
                    (
                        "account_enabled",
                        format!("{}: enabled", target.email),
                        Outcome::Done("enable"),
                    )
                }
                _ => {
                    let password = new_password()?;
                    target.password_hash =
                        auth::hash_password(&password).map_err(Failure::internal)?;
                    (
                        "password_reset",
                        format!("{}: new password issued, its sessions ended", target.email),
                        Outcome::Password(Shown {
                            email: target.email.clone(),
                            password,
                        }),
                    )
                }
            };
            if !storage.update_console_account(&target)? {
                return Ok(Outcome::Refused(StatusCode::NOT_FOUND, "manage.no_account"));
            }
            if matches!(audit_action, "account_disabled" | "password_reset") {
                storage.end_console_sessions(&target.id, now)?;
            }
            storage.add_console_audit(&audit(
                &st,
                Some(by.org_id.clone()),
                Some(by.id.clone()),
                &by.email,
                audit_action,
                &client,
                detail,
            ))?;
            Ok(outcome)
        })
        .await;
    match outcome {
        Ok(Outcome::Done(what)) => redirect(&format!("/console/accounts?done={what}")),
        Ok(Outcome::Password(shown)) => {
            let fresh = InviteForm {
                role: "manager".into(),
                language: "en".into(),
                ..InviteForm::default()
            };
            accounts_view(
                &state,
                &signed,
                lang,
                StatusCode::OK,
                fresh,
                None,
                Some(shown),
                None,
            )
            .await
        }
        Ok(Outcome::Refused(StatusCode::NOT_FOUND, key)) => notice(
            StatusCode::NOT_FOUND,
            lang,
            &signed,
            "/console/accounts",
            key,
        ),
        Ok(Outcome::Refused(status, key)) => {
            let fresh = InviteForm {
                role: "manager".into(),
                language: "en".into(),
                ..InviteForm::default()
            };
            accounts_view(&state, &signed, lang, status, fresh, Some(key), None, None).await
        }
        Err(f) => f.into_response(),
    }
}

// ---- my account ---------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/account.html")]
struct MyAccountPage {
    page: Chrome,
    csrf: String,
    email: String,
    name: String,
    role_key: &'static str,
    language: String,
    error: Option<&'static str>,
    done: Option<&'static str>,
}

fn my_account_view(
    signed: &Signed,
    lang: Lang,
    status: StatusCode,
    error: Option<&'static str>,
    done: Option<&'static str>,
) -> Response {
    let a = &signed.account;
    html(
        status,
        MyAccountPage {
            page: Chrome::new(
                lang,
                "manage.account_title",
                "/console/account",
                Some(signed),
            ),
            csrf: signed.csrf(),
            email: a.email.clone(),
            name: a.name.clone(),
            role_key: role_key(a.role),
            language: a.language.clone(),
            error,
            done,
        }
        .render(),
    )
}

async fn my_account_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, cookie) = page_lang(&state, &headers, &raw, &signed);
    let done = match query_param(&raw, "done").as_deref() {
        Some("password") => Some("manage.done_password"),
        Some("language") => Some("manage.done_language"),
        _ => None,
    };
    with_cookies(
        my_account_view(&signed, lang, StatusCode::OK, None, done),
        cookie,
    )
}

async fn change_password(State(state): State<AppState>, req: Request) -> Response {
    let SignedForm {
        signed,
        client,
        form,
        lang,
    } = match signed_form(&state, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let current = form.get("current_password").to_owned();
    let new = form.get("new_password").to_owned();
    if new != form.get("confirm_password") {
        return my_account_view(
            &signed,
            lang,
            StatusCode::BAD_REQUEST,
            Some("manage.err.confirm"),
            None,
        );
    }
    if !auth::password_ok(&new) {
        return my_account_view(
            &signed,
            lang,
            StatusCode::BAD_REQUEST,
            Some("manage.err.new_password"),
            None,
        );
    }
    let mut account = signed.account.clone();
    let st = state.clone();
    let changed = state
        .db(move |s| {
            if !auth::verify_password(&current, &account.password_hash) {
                return Ok(None);
            }
            account.password_hash = auth::hash_password(&new).map_err(Failure::internal)?;
            s.storage.update_console_account(&account)?;
            // Every other session ends (whoever knew the old password is signed out); this
            // browser goes on with a new session.
            let now = s.now();
            let ended = s.storage.end_console_sessions(&account.id, now)?;
            let session_id = auth::new_secret().map_err(Failure::internal)?;
            s.storage.create_console_session(
                &ConsoleSessionRow {
                    id_hash: crypto::secret_hash(&session_id),
                    account_id: account.id.clone(),
                    created_at: now,
                    seen_at: now,
                    expires_at: now + auth::SESSION_ABSOLUTE,
                },
                &account.org_id,
            )?;
            s.storage.add_console_audit(&audit(
                &st,
                Some(account.org_id.clone()),
                Some(account.id.clone()),
                &account.email,
                "password_changed",
                &client,
                format!(
                    "changed own password; {} other sessions ended",
                    ended.saturating_sub(1)
                ),
            ))?;
            Ok(Some(session_id))
        })
        .await;
    match changed {
        Ok(Some(session_id)) => with_cookies(
            redirect("/console/account?done=password"),
            [auth::set_cookie(
                auth::SESSION_COOKIE,
                &session_id,
                Some(auth::SESSION_ABSOLUTE.num_seconds()),
                state.inner.options.console_secure_cookies,
            )],
        ),
        Ok(None) => my_account_view(
            &signed,
            lang,
            StatusCode::BAD_REQUEST,
            Some("manage.err.current_password"),
            None,
        ),
        Err(f) => f.into_response(),
    }
}

async fn change_language(State(state): State<AppState>, req: Request) -> Response {
    let SignedForm {
        signed,
        client,
        form,
        lang,
    } = match signed_form(&state, req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(chosen) = Lang::parse(form.get("language")) else {
        return my_account_view(
            &signed,
            lang,
            StatusCode::BAD_REQUEST,
            Some("manage.err.language"),
            None,
        );
    };
    let mut account = signed.account.clone();
    account.language = chosen.tag().to_owned();
    let st = state.clone();
    let saved = state
        .db(move |s| {
            s.storage.update_console_account(&account)?;
            s.storage.add_console_audit(&audit(
                &st,
                Some(account.org_id.clone()),
                Some(account.id.clone()),
                &account.email,
                "language_changed",
                &client,
                format!("preferred language {}", account.language),
            ))?;
            Ok(())
        })
        .await;
    match saved {
        // The remembered choice of the switch link follows the preference.
        Ok(()) => with_cookies(
            redirect("/console/account?done=language"),
            [auth::set_cookie(
                auth::LANG_COOKIE,
                chosen.tag(),
                Some(31_536_000),
                state.inner.options.console_secure_cookies,
            )],
        ),
        Err(f) => f.into_response(),
    }
}

// ---- audit ----------------------------------------------------------------------------------------

/// The actions the console audit records, in the order the filter offers them.
const ACTIONS: &[&str] = &[
    "login_ok",
    "login_failed",
    "login_limited",
    "logout",
    "revoke_all",
    "account_created",
    "account_role_changed",
    "account_disabled",
    "account_enabled",
    "password_reset",
    "password_changed",
    "language_changed",
    "report_downloaded",
    "month_locked",
    "month_unlocked",
    "api_token_created",
    "api_token_revoked",
    "admin_token_rotated",
    "enrolment_code_issued",
    "device_revoked",
    "policy_draft_edited",
    "policy_published",
    "policy_draft_discarded",
    "approval_decided",
    "approval_refused",
    "punch_reviewed",
    "punch_review_refused",
];

/// Entries per audit page.
const AUDIT_PAGE: u32 = 50;

/// One audit entry as the page shows it.
struct AuditLine {
    seq: i64,
    at: String,
    who: String,
    action: String,
    action_key: String,
    client: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    page: Chrome,
    entries: Vec<AuditLine>,
    accounts: Vec<(String, String)>,
    actions: Vec<(&'static str, String)>,
    account: String,
    action: String,
    next: Option<String>,
    first: Option<String>,
}

async fn audit_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, cookie) = page_lang(&state, &headers, &raw, &signed);
    if !matches!(
        signed.account.role,
        ConsoleRole::HrAdmin | ConsoleRole::Auditor
    ) {
        return forbidden(lang, &signed, "/console/audit");
    }
    let bad = |key| {
        notice(
            StatusCode::BAD_REQUEST,
            lang,
            &signed,
            "/console/audit",
            key,
        )
    };
    let before = match query_param(&raw, "before").filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => match b.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return bad("manage.err.before"),
        },
    };
    let action = query_param(&raw, "action").unwrap_or_default();
    if !action.is_empty() && !ACTIONS.contains(&action.as_str()) {
        return bad("manage.err.action");
    }
    let account = query_param(&raw, "account").unwrap_or_default();
    let org = signed.account.org_id.clone();
    let q = ConsoleAuditQuery {
        before,
        account_id: (!account.is_empty()).then(|| account.clone()),
        action: (!action.is_empty()).then(|| action.clone()),
        limit: AUDIT_PAGE + 1,
    };
    let data = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let accounts = storage.console_accounts(&org)?;
            let entries = storage.console_audit_page(&org, &q)?;
            let tz = current_policy(storage, &org)?.map_or(chrono_tz::UTC, |p| p.time_zone());
            Ok((accounts, entries, tz))
        })
        .await;
    let (list, mut entries, tz) = match data {
        Ok(d) => d,
        Err(f) => return f.into_response(),
    };
    if !account.is_empty() && !list.iter().any(|a| a.id == account) {
        return bad("manage.err.account");
    }
    let more = entries.len() > AUDIT_PAGE as usize;
    entries.truncate(AUDIT_PAGE as usize);
    let names: HashMap<&str, &ConsoleAccount> = list.iter().map(|a| (a.id.as_str(), a)).collect();
    let filter = {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if !account.is_empty() {
            q.append_pair("account", &account);
        }
        if !action.is_empty() {
            q.append_pair("action", &action);
        }
        q.finish()
    };
    let link = |before: Option<i64>| {
        let mut parts: Vec<String> = Vec::new();
        if !filter.is_empty() {
            parts.push(filter.clone());
        }
        if let Some(b) = before {
            parts.push(format!("before={b}"));
        }
        format!("/console/audit?{}", parts.join("&"))
    };
    let page = AuditPage {
        page: Chrome::new(lang, "manage.audit_title", "/console/audit", Some(&signed))
            .keeping_query(&raw),
        next: more
            .then(|| entries.last().map(|e| link(Some(e.seq))))
            .flatten(),
        first: before.map(|_| link(None)),
        entries: entries
            .into_iter()
            .map(|e| AuditLine {
                seq: e.seq,
                at: local_time(e.at, tz),
                who: match e.account_id.as_deref().and_then(|id| names.get(id)) {
                    Some(a) => format!("{} <{}>", a.name, a.email),
                    None if e.email.is_empty() => lang.t("manage.audit_admin_token").to_owned(),
                    None => e.email.clone(),
                },
                action_key: format!("manage.action.{}", e.action),
                action: e.action,
                client: e.client,
                detail: e.detail,
            })
            .collect(),
        accounts: list
            .iter()
            .map(|a| (a.id.clone(), format!("{} <{}>", a.name, a.email)))
            .collect(),
        actions: ACTIONS
            .iter()
            .map(|a| (*a, format!("manage.action.{a}")))
            .collect(),
        account,
        action,
    };
    with_cookies(html(StatusCode::OK, page.render()), cookie)
}

// ---- API tokens ---------------------------------------------------------------------------------

/// One API token as the page lists it.
struct TokenLine {
    id: String,
    name: String,
    scopes: String,
    created_by: String,
    created_at: String,
    expires_at: String,
    last_used_at: String,
    state: &'static str,
}

/// The creation form's values, kept when it is shown again with an error.
#[derive(Default)]
struct TokenForm {
    name: String,
    scopes: Vec<String>,
    expires: String,
}

#[derive(Template)]
#[template(path = "console/api_tokens.html")]
struct TokensPage {
    page: Chrome,
    csrf: String,
    tokens: Vec<TokenLine>,
    scopes: Vec<(&'static str, String, bool)>,
    form: TokenForm,
    error: Option<&'static str>,
    new_token: Option<String>,
    new_admin_token: Option<String>,
    done: bool,
}

#[allow(clippy::too_many_arguments)]
async fn tokens_view(
    state: &AppState,
    signed: &Signed,
    lang: Lang,
    status: StatusCode,
    form: TokenForm,
    error: Option<&'static str>,
    new_token: Option<String>,
    new_admin_token: Option<String>,
    done: bool,
) -> Response {
    let org = signed.account.org_id.clone();
    let data = state
        .db(move |s| {
            let storage = s.storage.as_ref();
            let tz = current_policy(storage, &org)?.map_or(chrono_tz::UTC, |p| p.time_zone());
            Ok((storage.api_tokens(&org)?, tz, s.now()))
        })
        .await;
    let (tokens, tz, now) = match data {
        Ok(d) => d,
        Err(f) => return f.into_response(),
    };
    let page = TokensPage {
        page: Chrome::new(
            lang,
            "manage.tokens_title",
            "/console/api-tokens",
            Some(signed),
        ),
        csrf: signed.csrf(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenLine {
                state: if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| now >= e) {
                    "expired"
                } else {
                    "active"
                },
                id: t.id,
                name: t.name,
                scopes: t.scopes.join(" "),
                created_by: t.created_by,
                created_at: local_time(t.created_at, tz),
                expires_at: t.expires_at.map(|e| local_time(e, tz)).unwrap_or_default(),
                last_used_at: t
                    .last_used_at
                    .map(|e| local_time(e, tz))
                    .unwrap_or_default(),
            })
            .collect(),
        scopes: SCOPES
            .iter()
            .map(|(s, _)| {
                (
                    *s,
                    format!("manage.scope.{}", s.replace(':', "_")),
                    form.scopes.iter().any(|c| c == s),
                )
            })
            .collect(),
        form,
        error,
        new_token,
        new_admin_token,
        done,
    };
    html(status, page.render())
}

async fn tokens_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, cookie) = page_lang(&state, &headers, &raw, &signed);
    if signed.account.role != ConsoleRole::HrAdmin {
        return forbidden(lang, &signed, "/console/api-tokens");
    }
    let done = query_param(&raw, "done").is_some();
    with_cookies(
        tokens_view(
            &state,
            &signed,
            lang,
            StatusCode::OK,
            TokenForm::default(),
            None,
            None,
            None,
            done,
        )
        .await,
        cookie,
    )
}

/// Checks the token form: the name, the scopes, the optional last day; the error's key
/// names the field.
fn check_token_form(form: &TokenForm, today: NaiveDate) -> Result<(), &'static str> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("manage.err.token_name");
    }
    if form.scopes.is_empty() || !form.scopes.iter().all(|s| crate::api::scopes::known(s)) {
        return Err("manage.err.scopes");
    }
    if !form.expires.is_empty() {
        match NaiveDate::parse_from_str(&form.expires, "%Y-%m-%d") {
            Ok(d) if d >= today && form.expires.len() == 10 => {}
            _ => return Err("manage.err.expires"),
        }
    }
    Ok(())
}

async fn create_token(State(state): State<AppState>, req: Request) -> Response {
    let SignedForm {
        signed,
        client,
        form,
        lang,
    } = match hr_form(&state, req, "/console/api-tokens").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut values = TokenForm {
        name: form.get("name").trim().to_owned(),
        scopes: form
            .0
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect(),
        expires: form.get("expires").trim().to_owned(),
    };
    values.scopes.dedup();
    let tz = match org_zone(&state, &signed.account.org_id).await {
        Ok(z) => z,
        Err(f) => return f.into_response(),
    };
    let today = state.now().with_timezone(&tz).date_naive();
    if let Err(key) = check_token_form(&values, today) {
        return tokens_view(
            &state,
            &signed,
            lang,
            StatusCode::BAD_REQUEST,
            values,
            Some(key),
            None,
            None,
            false,
        )
        .await;
    }
    let secret = match crypto::new_token() {
        Ok(s) => format!("daka_at_{s}"),
        Err(e) => return Failure::internal(e.to_string()).into_response(),
    };
    // The token works through the last day given, in the organisation's zone.
    let expires_at = NaiveDate::parse_from_str(&values.expires, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .map(|d| local_midnight(d, tz));
    let row = ApiTokenRow {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: signed.account.org_id.clone(),
        name: values.name.clone(),
        token_hash: crypto::secret_hash(&secret),
        scopes: values.scopes.clone(),
        created_by: signed.account.email.clone(),
        created_at: state.now(),
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    let by = signed.account.clone();
    let st = state.clone();
    let saved = state
        .db(move |s| {
            s.storage.create_api_token(&row)?;
            s.storage.add_console_audit(&audit(
                &st,
                Some(by.org_id.clone()),
                Some(by.id.clone()),
                &by.email,
                "api_token_created",
                &client,
                format!(
                    "{} ({}); scopes {}{}",
                    row.name,
                    row.id,
                    row.scopes.join(" "),
                    row.expires_at
                        .map(|e| format!("; expires {}", e.to_rfc3339()))
                        .unwrap_or_default()
                ),
            ))?;
            Ok(())
        })
        .await;
    match saved {
        Ok(()) => {
            tokens_view(
                &state,
                &signed,
                lang,
                StatusCode::OK,
                TokenForm::default(),
                None,
                Some(secret),
                None,
                false,
            )
            .await
        }
        Err(f) => f.into_response(),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let SignedForm {
        signed,
        client,
        lang,
        ..
    } = match hr_form(&state, req, "/console/api-tokens").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let by = signed.account.clone();
    let st = state.clone();
    let revoked = state
        .db(move |s| {
            let now = s.now();
            if !s.storage.revoke_api_token(&by.org_id, &id, now)? {
                return Ok(false);
            }
            s.storage.add_console_audit(&audit(
                &st,
                Some(by.org_id.clone()),
                Some(by.id.clone()),
                &by.email,
                "api_token_revoked",
                &client,
                format!("token {id}"),
            ))?;
            Ok(true)
        })
        .await;
    match revoked {
        Ok(true) => redirect("/console/api-tokens?done=revoked"),
        Ok(false) => notice(
            StatusCode::NOT_FOUND,
            lang,
            &signed,
            "/console/api-tokens",
            "manage.no_token",
        ),
        Err(f) => f.into_response(),
    }
}

async fn rotate_admin(State(state): State<AppState>, req: Request) -> Response {
    let SignedForm {
        signed,
        client,
        form,
        lang,
    } = match hr_form(&state, req, "/console/api-tokens").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if form.get("confirm") != "yes" {
        return tokens_view(
            &state,
            &signed,
            lang,
            StatusCode::BAD_REQUEST,
            TokenForm::default(),
            Some("manage.err.confirm_rotate"),
            None,
            None,
            false,
        )
        .await;
    }
    let by = signed.account.clone();
    let token = state
        .db(move |s| {
            crate::api::console::rotate(
                s.storage.as_ref(),
                &by.org_id,
                Some((&by.id, &by.email)),
                &client,
                s.now(),
            )
        })
        .await;
    match token {
        Ok(token) => {
            tokens_view(
                &state,
                &signed,
                lang,
                StatusCode::OK,
                TokenForm::default(),
                None,
                None,
                Some(token),
                false,
            )
            .await
        }
        Err(f) => f.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::i18n::{EN, ZH_HANT};
    use crate::storage::PunchStatus;
    use daka_core::attendance::DayStatus;

    fn translated(key: &str) -> bool {
        EN.iter().any(|(k, _)| *k == key) && ZH_HANT.iter().any(|(k, _)| *k == key)
    }

    #[test]
    fn every_word_these_pages_show_is_in_both_languages() {
        // The keys the templates name.
        for (name, text) in [
            (
                "reports",
                include_str!("../../templates/console/reports.html"),
            ),
            (
                "report_employee",
                include_str!("../../templates/console/report_employee.html"),
            ),
            (
                "accounts",
                include_str!("../../templates/console/accounts.html"),
            ),
            (
                "account",
                include_str!("../../templates/console/account.html"),
            ),
            ("audit", include_str!("../../templates/console/audit.html")),
            (
                "api_tokens",
                include_str!("../../templates/console/api_tokens.html"),
            ),
            (
                "notice",
                include_str!("../../templates/console/notice.html"),
            ),
            ("base", include_str!("../../templates/console/base.html")),
        ] {
            let mut found = 0;
            for (at, m) in text.match_indices("page.lang.t(\"") {
                let rest = &text[at + m.len()..];
                let key = &rest[..rest.find('"').unwrap()];
                assert!(translated(key), "{name}: {key}");
                found += 1;
            }
            assert!(found > 0, "{name} names keys");
        }
        // The keys made from machine words.
        for a in ACTIONS {
            assert!(translated(&format!("manage.action.{a}")), "{a}");
        }
        for (s, _) in SCOPES {
            assert!(
                translated(&format!("manage.scope.{}", s.replace(':', "_"))),
                "{s}"
            );
        }
        for status in [
            DayStatus::Normal,
            DayStatus::Exception,
            DayStatus::Absent,
            DayStatus::OnLeave,
            DayStatus::Holiday,
            DayStatus::RestDay,
            DayStatus::WorkedDayOff,
            DayStatus::Pending,
            DayStatus::InProgress,
            DayStatus::Unscheduled,
        ] {
            assert!(translated(&format!("reports.day.{}", status.as_str())));
        }
        for status in [
            PunchStatus::Accepted,
            PunchStatus::FieldPunch,
            PunchStatus::Refused,
        ] {
            assert!(translated(&format!("reports.punch.{}", status.as_str())));
        }
        for kind in ["in", "out", "break_start", "break_end", "field"] {
            assert!(
                crate::attendance::records::punch_kind(kind).is_some() || kind == "field",
                "{kind}"
            );
            assert!(translated(&format!("reports.kind.{kind}")), "{kind}");
        }
        for day in 0..7 {
            assert!(translated(&format!("reports.weekday.{day}")));
        }
        for code in [
            "invalid_email",
            "invalid_name",
            "invalid_role",
            "unknown_employee",
            "weak_password",
            "invalid_language",
            "account_exists",
        ] {
            assert!(translated(account_error_key(code)), "{code}");
        }
    }

    #[test]
    fn the_token_form_names_the_field_at_fault() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let good = TokenForm {
            name: "payroll export".into(),
            scopes: vec!["reports:read".into()],
            expires: "2026-12-31".into(),
        };
        assert_eq!(check_token_form(&good, today), Ok(()));
        let no_name = TokenForm {
            name: " ".into(),
            ..TokenForm {
                scopes: good.scopes.clone(),
                ..TokenForm::default()
            }
        };
        assert_eq!(
            check_token_form(&no_name, today),
            Err("manage.err.token_name")
        );
        let bad_scope = TokenForm {
            name: "x".into(),
            scopes: vec!["everything".into()],
            expires: String::new(),
        };
        assert_eq!(
            check_token_form(&bad_scope, today),
            Err("manage.err.scopes")
        );
        let past = TokenForm {
            name: "x".into(),
            scopes: vec!["policy:read".into()],
            expires: "2026-12-01".into(),
        };
        assert_eq!(check_token_form(&past, today), Err("manage.err.expires"));
    }
}
