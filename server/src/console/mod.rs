//! The web console (`/console`): server-rendered pages for HR officers, managers, finance and
//! auditors, in English and Traditional Chinese. `docs/console.md` describes it for people.
//!
//! * `auth.rs`: Argon2id password hashes, session ids and CSRF tokens, cookies, and the
//!   in-memory limit on failed sign-ins;
//! * `accounts.rs`: creating accounts (the seed and the admin API share it);
//! * `i18n.rs`: the string tables and how a request's language is chosen;
//! * `findings.rs`: the engine's finding codes as labels in both languages;
//! * `today.rs`: the Today board;
//! * `approvals.rs`: the Approvals inbox, its files, and decisions signed by the server;
//! * `exceptions.rs`: the Exceptions queue (field punches to review, missing punches,
//!   absences, warnings);
//! * `people.rs`: People and a person's devices, enrolment codes (text and QR), revoking a
//!   device;
//! * `reports.rs`: the Reports page (the month's sheet, an employee's days, downloads, locks);
//! * `manage.rs`: accounts, My account, the audit page, API tokens and the admin token;
//! * this file: the routes, the security headers every console answer carries, sessions as
//!   an extractor, and the pages (askama templates under `server/templates/console/`,
//!   checked at compile time and HTML-escaped).
//!
//! Every state-changing request is a POST carrying a CSRF token: the session's own (derived
//! from the session id) once signed in, or, on the sign-in form, the value of the `daka_csrf`
//! cookie (double submit). A request without it is refused 403 and changes nothing.

pub mod accounts;
mod approvals;
pub mod auth;
pub mod evidence;
mod exceptions;
pub mod findings;
pub mod i18n;
pub mod map;
pub mod people;
pub mod policy;
pub mod today;

mod manage;
mod reports;

use std::net::SocketAddr;
use std::sync::OnceLock;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, RETRY_AFTER,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::api::AppState;
use crate::api::Failure;
use crate::crypto;
use crate::storage::{ConsoleAccount, ConsoleRole, ConsoleSessionRow, NewConsoleAudit};
use i18n::Lang;

/// The stylesheet, compiled in.
const CSS: &str = include_str!("../../assets/console.css");

/// The Today board's script: reloads the board in place every [`TODAY_REFRESH_SECONDS`].
const TODAY_JS: &str = include_str!("../../assets/today.js");

/// How often an open Today page asks for the board again.
const TODAY_REFRESH_SECONDS: u32 = 30;

/// The Today script's file name, with the start of its SHA-256 (cached for a year like the
/// stylesheet).
fn today_js_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        format!(
            "today-{}.js",
            &crypto::sha256_hex(TODAY_JS.as_bytes())[..16]
        )
    })
}

/// Largest form body read.
const MAX_FORM_BYTES: usize = 512 * 1024;

/// The content security policy of every console answer: nothing but this server's own files,
/// no inline script or style, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The stylesheet's file name, with the start of its SHA-256 so that it can be cached for a
/// year: a changed file has a new name.
pub fn css_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| format!("console-{}.css", &crypto::sha256_hex(CSS.as_bytes())[..16]))
}

/// The console's routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(root))
        .route("/console/", get(root))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/sessions/revoke-all", post(revoke_all))
        .route("/console/today", get(today_page))
        .route("/console/assets/{name}", get(asset))
        // Anything else under /console: a page of the console saying so (the sign-in page first
        // when not signed in), not the API's JSON error.
        .route("/console/{*rest}", axum::routing::any(unknown_page))
        .merge(approvals::router())
        .merge(exceptions::router())
        .merge(people::router())
        .merge(policy::router())
        .merge(evidence::router())
        .merge(reports::router())
        .merge(manage::router())
        .layer(axum::middleware::from_fn(security_headers))
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    if !h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn asset(Path(name): Path<String>) -> Response {
    if name == policy::js_name() {
        return policy::js_asset();
    }
    if name == today_js_name() {
        return (
            [
                (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            TODAY_JS,
        )
            .into_response();
    }
    if name != css_name() {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    }
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        CSS,
    )
        .into_response()
}

/// A console address that is no page: 404 with the header, in the account's language.
async fn unknown_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, cookie) = language(&headers, &raw, Some(&signed.account), secure);
    with_cookies(
        manage::notice(
            StatusCode::NOT_FOUND,
            lang,
            &signed,
            "/console/today",
            "console.no_such_page",
        ),
        cookie,
    )
}

// ---- requests ---------------------------------------------------------------------------------

/// The client's address: the TCP peer's, or, when the peer is one of the trusted proxies
/// ([`ServerOptions::trusted_proxies`](crate::ServerOptions::trusted_proxies)), the right-most
/// address of `X-Forwarded-For` that is not itself a trusted proxy.
fn client(parts: &Parts, trusted: &[ipnet::IpNet]) -> String {
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "unknown".to_owned();
    };
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    // Each proxy appends the address it received from; read from the right, past our own.
    let mut forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    while let Some(hop) = forwarded.pop() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip.to_string(),
            // A hop that is not an address: nothing left of it can be believed.
            Err(_) => break,
        }
    }
    peer.to_string()
}

/// The client's address (see [`client`]), as an extractor.
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client(
            parts,
            &state.inner.options.trusted_proxies,
        )))
    }
}

fn query_param(raw: &Option<String>, name: &str) -> Option<String> {
    raw.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

/// A form body's fields.
struct FormFields(Vec<(String, String)>);

impl FormFields {
    async fn read(body: Body) -> Result<FormFields, Response> {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        Ok(FormFields(
            url::form_urlencoded::parse(&bytes).into_owned().collect(),
        ))
    }

    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The language of a request, and the `daka_lang` cookie to set when `?lang=` chose it:
/// `?lang=`, else the cookie, else the account's preference, else `Accept-Language`, else
/// English.
fn language(
    headers: &HeaderMap,
    raw: &Option<String>,
    account: Option<&ConsoleAccount>,
    secure: bool,
) -> (Lang, Option<String>) {
    if let Some(lang) = query_param(raw, "lang").as_deref().and_then(Lang::parse) {
        let cookie = auth::set_cookie(auth::LANG_COOKIE, lang.tag(), Some(31_536_000), secure);
        return (lang, Some(cookie));
    }
    let lang = auth::cookie(headers, auth::LANG_COOKIE)
        .as_deref()
        .and_then(Lang::parse)
        .or_else(|| account.and_then(|a| Lang::parse(&a.language)))
        .or_else(|| i18n::from_accept_language(headers))
        .unwrap_or(Lang::En);
    (lang, None)
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response()
}

fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(SET_COOKIE, v);
        }
    }
    response
}

fn html(status: StatusCode, page: Result<String, askama::Error>) -> Response {
    match page {
        Ok(body) => (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => Failure::internal(format!("console template: {e}")).into_response(),
    }
}

fn audit(
    state: &AppState,
    org_id: Option<String>,
    account_id: Option<String>,
    email: &str,
    action: &str,
    client: &str,
    detail: impl Into<String>,
) -> NewConsoleAudit {
    NewConsoleAudit {
        org_id,
        account_id,
        email: email.to_owned(),
        action: action.to_owned(),
        client: client.to_owned(),
        detail: detail.into(),
        at: state.now(),
    }
}

// ---- sessions ---------------------------------------------------------------------------------

/// A signed-in request: the account and its session. Without a valid session, console pages
/// redirect to the sign-in page.
pub struct Signed {
    /// The account.
    pub account: ConsoleAccount,
    /// The session id from the cookie.
    pub session_id: String,
}

impl Signed {
    /// The session's CSRF token.
    fn csrf(&self) -> String {
        auth::session_csrf(&self.session_id)
    }
}

/// Looks up the session the request's cookie names; `None` when there is none or it ended.
async fn session(parts: &Parts, state: &AppState) -> Result<Option<Signed>, Failure> {
    let Some(session_id) = auth::cookie(&parts.headers, auth::SESSION_COOKIE) else {
        return Ok(None);
    };
    if session_id.is_empty() || session_id.len() > 128 {
        return Ok(None);
    }
    let hash = crypto::secret_hash(&session_id);
    let account = state
        .db(move |s| {
            let Some(row) = s.storage.console_session(&hash)? else {
                return Ok(None);
            };
            let now = s.now();
            if now >= row.expires_at || now >= row.seen_at + auth::SESSION_IDLE {
                s.storage.end_console_session(&hash)?;
                return Ok(None);
            }
            let Some(account) = s.storage.console_account(&row.account_id)? else {
                return Ok(None);
            };
            if account.disabled_at.is_some() {
                return Ok(None);
            }
            s.storage.touch_console_session(&hash, now)?;
            Ok(Some(account))
        })
        .await?;
    Ok(account.map(|account| Signed {
        account,
        session_id,
    }))
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match session(parts, state).await {
            Ok(Some(signed)) => Ok(signed),
            Ok(None) => Err(redirect("/console/login")),
            Err(f) => Err(f.into_response()),
        }
    }
}

// ---- pages ------------------------------------------------------------------------------------

/// The signed-in account as the header shows it.
struct AccountChrome {
    name: String,
    role_key: &'static str,
    csrf: String,
}

/// What every page has: language, title, stylesheet, the language switch and the header.
struct Chrome {
    lang: Lang,
    title_key: &'static str,
    css: String,
    switch_href: String,
    account: Option<AccountChrome>,
}

impl Chrome {
    fn new(lang: Lang, title_key: &'static str, path: &str, signed: Option<&Signed>) -> Chrome {
        Chrome {
            lang,
            title_key,
            css: format!("/console/assets/{}", css_name()),
            switch_href: format!("{path}?lang={}", lang.other().tag()),
            account: signed.map(|s| AccountChrome {
                name: s.account.name.clone(),
                role_key: match s.account.role {
                    ConsoleRole::HrAdmin => "role.hr_admin",
                    ConsoleRole::Manager => "role.manager",
                    ConsoleRole::Finance => "role.finance",
                    ConsoleRole::Auditor => "role.auditor",
                },
                csrf: s.csrf(),
            }),
        }
    }

    /// The language switch keeps the page's query (`?month=2026-11`), but for `lang`.
    fn keeping_query(mut self, raw: &Option<String>) -> Chrome {
        let kept: Vec<&str> = raw
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && *p != "lang" && !p.starts_with("lang="))
            .collect();
        if !kept.is_empty() {
            let (path, lang) = self
                .switch_href
                .split_once('?')
                .unwrap_or((self.switch_href.as_str(), ""));
            self.switch_href = format!("{path}?{}&{lang}", kept.join("&"));
        }
        self
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    page: Chrome,
    csrf: String,
    email: String,
    message: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "console/forbidden.html")]
struct ForbiddenPage {
    page: Chrome,
    reason_key: &'static str,
}

#[derive(Template)]
#[template(path = "console/today.html")]
struct TodayPage {
    page: Chrome,
    board: today::Board,
    no_policy: bool,
    /// The script that refreshes the board.
    js: String,
    /// Seconds between refreshes.
    refresh_seconds: u32,
}

/// The 403 page of a request without a valid CSRF token.
fn csrf_refused(lang: Lang) -> Response {
    html(
        StatusCode::FORBIDDEN,
        ForbiddenPage {
            page: Chrome::new(lang, "forbidden.title", "/console/login", None),
            reason_key: "forbidden.csrf",
        }
        .render(),
    )
}

async fn root(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    match session(&parts, &state).await {
        Ok(Some(_)) => redirect("/console/today"),
        Ok(None) => redirect("/console/login"),
        Err(f) => f.into_response(),
    }
}

/// The sign-in form, with its pre-session CSRF token (cookie and hidden field).
fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    raw: &Option<String>,
    status: StatusCode,
    email: &str,
    message: Option<&'static str>,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, lang_cookie) = language(headers, raw, None, secure);
    let existing = auth::cookie(headers, auth::CSRF_COOKIE).filter(|c| {
        c.len() == 43
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let (csrf, csrf_cookie) = match existing {
        Some(c) => (c, None),
        None => match auth::new_secret() {
            Ok(c) => {
                let cookie = auth::set_cookie(auth::CSRF_COOKIE, &c, None, secure);
                (c, Some(cookie))
            }
            Err(e) => return Failure::internal(e).into_response(),
        },
    };
    let page = LoginPage {
        page: Chrome::new(lang, "login.title", "/console/login", None),
        csrf,
        email: email.to_owned(),
        message,
    };
    with_cookies(
        html(status, page.render()),
        lang_cookie.into_iter().chain(csrf_cookie),
    )
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let message = query_param(&raw, "signed_out").map(|_| "login.signed_out");
    login_form(&state, &headers, &raw, StatusCode::OK, "", message)
}

async fn login(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers.clone();
    let client = client(&parts, &state.inner.options.trusted_proxies);
    let form = match FormFields::read(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let secure = state.inner.options.console_secure_cookies;
    let (lang, _) = language(&headers, &None, None, secure);
    let cookie_csrf = auth::cookie(&headers, auth::CSRF_COOKIE).unwrap_or_default();
    let form_csrf = form.get("csrf");
    if cookie_csrf.is_empty() || !auth::same_secret(&cookie_csrf, form_csrf) {
        return csrf_refused(lang);
    }
    let email = accounts::normal_email(form.get("email"));
    let password = form.get("password").to_owned();
    let now = state.now();
    let limiter = &state.inner.login_limiter;
    if let Some(wait) = limiter.blocked(&email, &client, now) {
        let (e, c) = (email.clone(), client.clone());
        let st = state.clone();
        let _ = state
            .db(move |s| {
                let first = s.storage.console_accounts_by_email(&e)?.into_iter().next();
                s.storage.add_console_audit(&audit(
                    &st,
                    first.as_ref().map(|a| a.org_id.clone()),
                    first.map(|a| a.id),
                    &e,
                    "login_limited",
                    &c,
                    "refused: too many failed sign-ins",
                ))?;
                Ok(())
            })
            .await;
        let mut response = login_form(
            &state,
            &headers,
            &None,
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            Some("login.limited"),
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    let (e, c) = (email.clone(), client.clone());
    let st = state.clone();
    let outcome = state
        .db(move |s| {
            let candidates = s.storage.console_accounts_by_email(&e)?;
            let matched = if candidates.is_empty() {
                let _ = auth::verify_password(&password, auth::decoy_hash());
                None
            } else {
                candidates
                    .iter()
                    .find(|a| {
                        auth::verify_password(&password, &a.password_hash)
                            && a.disabled_at.is_none()
                    })
                    .cloned()
            };
            let Some(account) = matched else {
                let first = candidates.first();
                s.storage.add_console_audit(&audit(
                    &st,
                    first.map(|a| a.org_id.clone()),
                    first.map(|a| a.id.clone()),
                    &e,
                    "login_failed",
                    &c,
                    if first.is_some() {
                        "wrong password or disabled account"
                    } else {
                        "no account has this email"
                    },
                ))?;
                return Ok(None);
            };
            let session_id = auth::new_secret().map_err(Failure::internal)?;
            let now = s.now();
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
                &e,
                "login_ok",
                &c,
                "signed in",
            ))?;
            Ok(Some(session_id))
        })
        .await;
    match outcome {
        Ok(Some(session_id)) => {
            limiter.succeeded(&email);
            with_cookies(
                redirect("/console/today"),
                [
                    auth::set_cookie(
                        auth::SESSION_COOKIE,
                        &session_id,
                        Some(auth::SESSION_ABSOLUTE.num_seconds()),
                        secure,
                    ),
                    auth::set_cookie(auth::CSRF_COOKIE, "", Some(0), secure),
                ],
            )
        }
        Ok(None) => {
            limiter.fail(&email, &client, now);
            login_form(
                &state,
                &headers,
                &None,
                StatusCode::UNAUTHORIZED,
                &email,
                Some("login.failed"),
            )
        }
        Err(f) => f.into_response(),
    }
}

/// A signed-in POST with its session's CSRF token checked; the 403 page otherwise.
async fn signed_post(state: &AppState, req: Request) -> Result<(Signed, String), Response> {
    signed_form(state, req).await.map(|p| (p.signed, p.client))
}

/// A signed-in, CSRF-checked POST with its form fields and the language of its answer.
struct SignedForm {
    /// The account and its session.
    signed: Signed,
    /// The client's address.
    client: String,
    /// The form's fields.
    form: FormFields,
    /// The language of the answer.
    lang: Lang,
}

/// [`signed_post`], keeping the form fields and the request's language.
async fn signed_form(state: &AppState, req: Request) -> Result<SignedForm, Response> {
    let (mut parts, body) = req.into_parts();
    let client = client(&parts, &state.inner.options.trusted_proxies);
    let signed = Signed::from_request_parts(&mut parts, state).await?;
    let form = FormFields::read(body).await?;
    let secure = state.inner.options.console_secure_cookies;
    let (lang, _) = language(&parts.headers, &None, Some(&signed.account), secure);
    if !auth::same_secret(&signed.csrf(), form.get("csrf")) {
        return Err(csrf_refused(lang));
    }
    Ok(SignedForm {
        signed,
        client,
        form,
        lang,
    })
}

fn signed_out(state: &AppState) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    with_cookies(
        redirect("/console/login?signed_out=1"),
        [auth::set_cookie(auth::SESSION_COOKIE, "", Some(0), secure)],
    )
}

async fn logout(State(state): State<AppState>, req: Request) -> Response {
    let (signed, client) = match signed_post(&state, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let st = state.clone();
    let ended = state
        .db(move |s| {
            s.storage
                .end_console_session(&crypto::secret_hash(&signed.session_id))?;
            s.storage.add_console_audit(&audit(
                &st,
                Some(signed.account.org_id.clone()),
                Some(signed.account.id.clone()),
                &signed.account.email,
                "logout",
                &client,
                "signed out",
            ))?;
            Ok(())
        })
        .await;
    match ended {
        Ok(()) => signed_out(&state),
        Err(f) => f.into_response(),
    }
}

async fn revoke_all(State(state): State<AppState>, req: Request) -> Response {
    let (signed, client) = match signed_post(&state, req).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let st = state.clone();
    let ended = state
        .db(move |s| {
            let n = s
                .storage
                .end_console_sessions(&signed.account.id, s.now())?;
            s.storage.add_console_audit(&audit(
                &st,
                Some(signed.account.org_id.clone()),
                Some(signed.account.id.clone()),
                &signed.account.email,
                "revoke_all",
                &client,
                format!("ended {n} sessions"),
            ))?;
            Ok(())
        })
        .await;
    match ended {
        Ok(()) => signed_out(&state),
        Err(f) => f.into_response(),
    }
}

async fn today_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, lang_cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let account = signed.account.clone();
    let board = state
        .db(move |s| Ok(today::board(s.storage.as_ref(), &account, s.now())?))
        .await;
    let board = match board {
        Ok(b) => b,
        Err(f) => return f.into_response(),
    };
    let page = TodayPage {
        page: Chrome::new(lang, "today.title", "/console/today", Some(&signed)),
        no_policy: board.is_none(),
        board: board.unwrap_or_default(),
        js: format!("/console/assets/{}", today_js_name()),
        refresh_seconds: TODAY_REFRESH_SECONDS,
    };
    with_cookies(html(StatusCode::OK, page.render()), lang_cookie)
}
