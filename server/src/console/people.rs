//! The People pages: the employees an account may see, with their manager, approval roles,
//! sites and number of active devices (`/console/people`); one person's devices
//! (`/console/people/{employee_id}`); for HR, issuing an enrolment code shown once as text
//! and as a QR code of an enrolment link, and revoking a device after a confirmation step
//! with a reason.
//!
//! An employee the account may not see ([`super::today::visible`]) is answered 404 exactly
//! like one that does not exist, so guessing ids tells nothing. Issuing and revoking are
//! HR's (`hr_admin`): anyone else is refused 403 and nothing changes.

use std::collections::BTreeSet;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, TimeZone, Utc};
use daka_core::Policy;
use qrcode::{Color, EcLevel, QrCode};

use super::i18n::Lang;
use super::{
    Chrome, ForbiddenPage, Signed, SignedForm, audit, html, language, query_param, redirect,
    signed_form, today, with_cookies,
};
use crate::api::admin;
use crate::api::{AppState, Failure};
use crate::attendance::current_policy;
use crate::storage::{ConsoleRole, DeviceRevocation, DeviceRow};

/// The People routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/console/people", get(people_page))
        .route("/console/people/{employee_id}", get(person_page))
        .route(
            "/console/people/{employee_id}/enrolment-code",
            axum::routing::post(issue_code),
        )
        .route(
            "/console/people/{employee_id}/devices/{device_id}/revoke",
            get(revoke_page).post(revoke),
        )
}

// ---- what the pages show ------------------------------------------------------------------

/// One row of the People list.
#[derive(Debug, Clone)]
pub struct PersonRow {
    /// Employee id.
    pub id: String,
    /// Name from the policy.
    pub name: String,
    /// The manager's name and id (`Lee Ka Yan (E0101)`); empty when none.
    pub manager: String,
    /// The approval roles the employee is a member of, by id, comma separated.
    pub roles: String,
    /// The names of the employee's sites, in the policy's order.
    pub sites: Vec<String>,
    /// Devices enrolled for the employee and not revoked.
    pub active_devices: usize,
}

/// One device on a person's page.
#[derive(Debug, Clone)]
pub struct DeviceView {
    /// Device id.
    pub id: String,
    /// Name and platform the app sent at enrolment.
    pub name: String,
    /// Platform the app sent.
    pub platform: String,
    /// When it enrolled, local time of the policy.
    pub enrolled_at: String,
    /// When its last record reached the server; empty when none did.
    pub last_push: String,
    /// Seq of its chain head (0: no record yet).
    pub head_seq: u64,
    /// The first 12 hex digits of its chain head's hash; empty when none.
    pub head_hash: String,
    /// `active` or `revoked`.
    pub status: &'static str,
    /// When it was revoked, local time; empty while active.
    pub revoked_at: String,
    /// Why it was revoked; empty while active.
    pub revoke_reason: String,
    /// The attestation it enrolled with: whether it passed, its format and what the
    /// verifier said; `None` when it sent none.
    pub attestation: Option<(bool, String, String)>,
}

impl PersonRow {
    /// The person's page.
    pub fn href(&self) -> String {
        format!("/console/people/{}", segment(&self.id))
    }
}

impl DeviceView {
    /// The device's revoke page, under the person's page `person`.
    pub fn revoke_href(&self, person: &PersonRow) -> String {
        format!("{}/devices/{}/revoke", person.href(), segment(&self.id))
    }

    /// The string-table key of the status.
    pub fn status_key(&self) -> String {
        format!("people.device.{}", self.status)
    }
}

/// An enrolment code just issued: shown once.
#[derive(Debug, Clone)]
pub struct IssuedView {
    /// The code as the employee types it.
    pub code: String,
    /// The enrolment link the QR code holds (see [`enrolment_link`]).
    pub link: String,
    /// The QR code as SVG path data, one `h1v1h-1z` square per dark module, in module units
    /// with the quiet zone included.
    pub qr_path: String,
    /// The QR code's width in modules, quiet zone included (the SVG's view box).
    pub qr_size: usize,
}

/// Width of the quiet zone around the QR code, in modules (the standard asks for 4).
const QUIET_ZONE: usize = 4;

/// The enrolment link the app scans: `daka://enroll?server=<base URL>&code=<code>`, both
/// values percent-encoded (`application/x-www-form-urlencoded`). `daka-device`'s
/// `parse_enrolment_link` reads it.
pub fn enrolment_link(server: &str, code: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("server", server)
        .append_pair("code", code)
        .finish();
    format!("daka://enroll?{query}")
}

/// The QR code of `text` as SVG path data and its width in modules (quiet zone included);
/// error correction level M.
pub fn qr_path(text: &str) -> Result<(String, usize), Failure> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| Failure::internal(format!("QR code: {e}")))?;
    let width = code.width();
    let colors = code.to_colors();
    let mut d = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == Color::Dark {
            let (x, y) = (i % width + QUIET_ZONE, i / width + QUIET_ZONE);
            d.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Ok((d, width + 2 * QUIET_ZONE))
}

/// The server's base URL as the browser reached it: `http://` (`https://` when the console's
/// cookies are `Secure`, i.e. behind a TLS proxy) and the `Host` header; `None` when the
/// header is missing or not a plain host and port.
fn base_url(headers: &HeaderMap, secure: bool) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    let ok = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    ok.then(|| format!("{}://{host}", if secure { "https" } else { "http" }))
}

/// A time as the organisation reads it: local time in the policy's zone, to the minute.
fn local<Z: TimeZone>(at: DateTime<Utc>, tz: &Z) -> String
where
    Z::Offset: std::fmt::Display,
{
    at.with_timezone(tz).format("%Y-%m-%d %H:%M").to_string()
}

/// A path segment: every byte but letters, digits and `-._~` percent-encoded.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn device_view<Z: TimeZone>(d: &DeviceRow, tz: &Z) -> DeviceView
where
    Z::Offset: std::fmt::Display,
{
    DeviceView {
        id: d.id.clone(),
        name: d.name.clone(),
        platform: d.platform.clone(),
        enrolled_at: local(d.enrolled_at, tz),
        last_push: d.last_push_at.map(|t| local(t, tz)).unwrap_or_default(),
        head_seq: d.head.as_ref().map_or(0, |h| h.seq),
        head_hash: d
            .head
            .as_ref()
            .map(|h| h.hash.chars().take(12).collect())
            .unwrap_or_default(),
        status: if d.revoked.is_some() {
            "revoked"
        } else {
            "active"
        },
        revoked_at: d
            .revoked
            .as_ref()
            .map(|r| local(r.at, tz))
            .unwrap_or_default(),
        revoke_reason: d
            .revoked
            .as_ref()
            .map(|r| r.reason.clone())
            .unwrap_or_default(),
        attestation: d
            .attestation
            .as_ref()
            .map(|a| (a.passed, a.format.clone(), a.detail.clone())),
    }
}

fn person_row(
    policy: &Policy,
    e: &daka_core::policy::Employee,
    devices: &[DeviceRow],
) -> PersonRow {
    PersonRow {
        id: e.id.clone(),
        name: e.name.clone(),
        manager: e
            .manager
            .as_deref()
            .map(|m| match policy.employee(m) {
                Some(boss) => format!("{} ({m})", boss.name),
                None => m.to_owned(),
            })
            .unwrap_or_default(),
        roles: policy
            .approvals
            .roles
            .iter()
            .filter(|r| r.members.contains(&e.id))
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        sites: e
            .sites
            .iter()
            .filter_map(|i| policy.sites.get(*i).map(|s| s.name.clone()))
            .collect(),
        active_devices: devices
            .iter()
            .filter(|d| d.employee_id == e.id && d.revoked.is_none())
            .count(),
    }
}

/// Everything a person's page shows, read for `signed`; `None` when the account may not see
/// the employee (or there is no such employee, or no policy).
struct Person {
    row: PersonRow,
    devices: Vec<DeviceView>,
}

async fn load_person(
    state: &AppState,
    signed: &Signed,
    employee_id: &str,
) -> Result<Option<Person>, Failure> {
    let account = signed.account.clone();
    let employee_id = employee_id.to_owned();
    state
        .db(move |s| {
            let Some(policy) = current_policy(s.storage.as_ref(), &account.org_id)? else {
                return Ok(None);
            };
            if !today::visible(&policy, &account).contains(&employee_id) {
                return Ok(None);
            }
            let Some(e) = policy.employee(&employee_id) else {
                return Ok(None);
            };
            let devices: Vec<DeviceRow> = s
                .storage
                .devices(&account.org_id)?
                .into_iter()
                .filter(|d| d.employee_id == employee_id)
                .collect();
            let tz = policy.time_zone();
            Ok(Some(Person {
                row: person_row(&policy, e, &devices),
                devices: devices.iter().map(|d| device_view(d, &tz)).collect(),
            }))
        })
        .await
}

// ---- templates ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/people.html")]
struct PeoplePage {
    page: Chrome,
    people: Vec<PersonRow>,
    no_policy: bool,
}

#[derive(Template)]
#[template(path = "console/person.html")]
struct PersonPage {
    page: Chrome,
    person: PersonRow,
    devices: Vec<DeviceView>,
    is_hr: bool,
    issued: Option<IssuedView>,
    error_key: Option<&'static str>,
    revoked_notice: bool,
}

#[derive(Template)]
#[template(path = "console/revoke_device.html")]
struct RevokePage {
    page: Chrome,
    person: PersonRow,
    device: DeviceView,
    reason: String,
    error_key: Option<&'static str>,
}

/// The 404 page of an employee or device the account may not see (or that does not exist).
fn not_found(lang: Lang, signed: &Signed) -> Response {
    html(
        StatusCode::NOT_FOUND,
        ForbiddenPage {
            page: Chrome::new(
                lang,
                "people.not_found.title",
                "/console/people",
                Some(signed),
            ),
            reason_key: "people.not_found",
        }
        .render(),
    )
}

/// The 403 page of an account whose role may not do this.
fn hr_only(lang: Lang, signed: &Signed) -> Response {
    html(
        StatusCode::FORBIDDEN,
        ForbiddenPage {
            page: Chrome::new(lang, "forbidden.title", "/console/people", Some(signed)),
            reason_key: "people.hr_only",
        }
        .render(),
    )
}

// ---- handlers -----------------------------------------------------------------------------

async fn people_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, lang_cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let account = signed.account.clone();
    let people = state
        .db(move |s| {
            let Some(policy) = current_policy(s.storage.as_ref(), &account.org_id)? else {
                return Ok(None);
            };
            let who: BTreeSet<String> = today::visible(&policy, &account);
            let devices = s.storage.devices(&account.org_id)?;
            Ok(Some(
                policy
                    .employees
                    .iter()
                    .filter(|e| who.contains(&e.id))
                    .map(|e| person_row(&policy, e, &devices))
                    .collect::<Vec<_>>(),
            ))
        })
        .await;
    let people = match people {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    let page = PeoplePage {
        page: Chrome::new(lang, "people.title", "/console/people", Some(&signed)),
        no_policy: people.is_none(),
        people: people.unwrap_or_default(),
    };
    with_cookies(html(StatusCode::OK, page.render()), lang_cookie)
}

async fn person_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(employee_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, lang_cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let person = match load_person(&state, &signed, &employee_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(lang, &signed),
        Err(f) => return f.into_response(),
    };
    let path = person.row.href();
    let page = PersonPage {
        page: Chrome::new(lang, "people.person.title", &path, Some(&signed)),
        is_hr: signed.account.role == ConsoleRole::HrAdmin,
        revoked_notice: query_param(&raw, "revoked").is_some(),
        person: person.row,
        devices: person.devices,
        issued: None,
        error_key: None,
    };
    with_cookies(html(StatusCode::OK, page.render()), lang_cookie)
}

async fn issue_code(
    State(state): State<AppState>,
    Path(employee_id): Path<String>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let SignedForm { signed, client, .. } = match signed_form(&state, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let secure = state.inner.options.console_secure_cookies;
    let (lang, _) = language(&headers, &None, Some(&signed.account), secure);
    let person = match load_person(&state, &signed, &employee_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(lang, &signed),
        Err(f) => return f.into_response(),
    };
    if signed.account.role != ConsoleRole::HrAdmin {
        return hr_only(lang, &signed);
    }
    let path = person.row.href();
    let page = |issued, error_key, person: Person| PersonPage {
        page: Chrome::new(lang, "people.person.title", &path, Some(&signed)),
        is_hr: true,
        revoked_notice: false,
        person: person.row,
        devices: person.devices,
        issued,
        error_key,
    };
    let Some(base) = base_url(&headers, secure) else {
        return html(
            StatusCode::BAD_REQUEST,
            page(None, Some("people.code.no_host"), person).render(),
        );
    };
    let code = match admin::new_code() {
        Ok(c) => c,
        Err(f) => return f.into_response(),
    };
    let st = state.clone();
    let (acc, emp) = (signed.account.clone(), person.row.id.clone());
    let stored = state
        .db(move |s| {
            let code = admin::add_code(s.storage.as_ref(), &acc.org_id, &emp, &code, s.now())?;
            s.storage.add_console_audit(&audit(
                &st,
                Some(acc.org_id.clone()),
                Some(acc.id.clone()),
                &acc.email,
                "enrolment_code_issued",
                &client,
                format!("for employee {emp}"),
            ))?;
            Ok(code)
        })
        .await;
    let code = match stored {
        Ok(c) => c,
        Err(f) => return f.into_response(),
    };
    let link = enrolment_link(&base, &code);
    let (qr_path, qr_size) = match qr_path(&link) {
        Ok(q) => q,
        Err(f) => return f.into_response(),
    };
    let issued = IssuedView {
        code,
        link,
        qr_path,
        qr_size,
    };
    html(StatusCode::OK, page(Some(issued), None, person).render())
}

/// The person and one of their devices, for the revoke pages; `None` when the account may not
/// see the person or the person has no such device.
async fn load_device(
    state: &AppState,
    signed: &Signed,
    employee_id: &str,
    device_id: &str,
) -> Result<Option<(Person, DeviceView)>, Failure> {
    let Some(person) = load_person(state, signed, employee_id).await? else {
        return Ok(None);
    };
    let device = person.devices.iter().find(|d| d.id == device_id).cloned();
    Ok(device.map(|d| (person, d)))
}

async fn revoke_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path((employee_id, device_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, lang_cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let (person, device) = match load_device(&state, &signed, &employee_id, &device_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(lang, &signed),
        Err(f) => return f.into_response(),
    };
    if signed.account.role != ConsoleRole::HrAdmin {
        return hr_only(lang, &signed);
    }
    let path = device.revoke_href(&person.row);
    let page = RevokePage {
        page: Chrome::new(lang, "people.revoke.title", &path, Some(&signed)),
        person: person.row,
        device,
        reason: String::new(),
        error_key: None,
    };
    with_cookies(html(StatusCode::OK, page.render()), lang_cookie)
}

async fn revoke(
    State(state): State<AppState>,
    Path((employee_id, device_id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let SignedForm {
        signed,
        client,
        form,
        ..
    } = match signed_form(&state, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let secure = state.inner.options.console_secure_cookies;
    let (lang, _) = language(&headers, &None, Some(&signed.account), secure);
    let (person, device) = match load_device(&state, &signed, &employee_id, &device_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(lang, &signed),
        Err(f) => return f.into_response(),
    };
    if signed.account.role != ConsoleRole::HrAdmin {
        return hr_only(lang, &signed);
    }
    let reason = form.get("reason").trim().to_owned();
    let error_key = if !admin::valid_reason(&reason) {
        Some("people.revoke.reason_invalid")
    } else if device.status == "revoked" {
        Some("people.revoke.already")
    } else {
        None
    };
    let path = device.revoke_href(&person.row);
    if let Some(error_key) = error_key {
        let page = RevokePage {
            page: Chrome::new(lang, "people.revoke.title", &path, Some(&signed)),
            person: person.row,
            device,
            reason,
            error_key: Some(error_key),
        };
        return html(StatusCode::BAD_REQUEST, page.render());
    }
    let st = state.clone();
    let acc = signed.account.clone();
    let (dev, emp) = (device.id.clone(), person.row.id.clone());
    let done = state
        .db(move |s| {
            let now = s.now();
            let entry = audit(
                &st,
                Some(acc.org_id.clone()),
                Some(acc.id.clone()),
                &acc.email,
                "device_revoked",
                &client,
                format!("device {dev} of employee {emp}: {reason}"),
            );
            admin::revoke(
                s.storage.as_ref(),
                &acc.org_id,
                &dev,
                &DeviceRevocation {
                    at: now,
                    by: acc.id.clone(),
                    reason,
                },
                &entry,
            )
        })
        .await;
    match done {
        Ok(_) => redirect(&format!(
            "{}?revoked={}",
            person.row.href(),
            segment(&device.id)
        )),
        Err(f) if f.code == "device_already_revoked" => redirect(&person.row.href()),
        Err(f) => f.into_response(),
    }
}
