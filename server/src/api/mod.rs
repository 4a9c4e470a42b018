//! The HTTP layer: the router, the shared state, typed errors, and the extractors every
//! handler uses (bearer authentication, bounded JSON bodies).
//!
//! Rules this layer keeps for every endpoint:
//!
//! * every error is an `ApiError` JSON body with a stable `code` and the server time, never a
//!   bare status or an HTML page, and hostile input is a 4xx, never a 500 or a panic;
//! * bodies are read up to a limit (413 `payload_too_large` past it; attachment uploads have
//!   their own, larger limit, 413 `attachment_too_large`) and parsed with errors that name the
//!   field;
//! * storage runs on the blocking pool; a busy database is a 503 with `Retry-After`, and every
//!   request is bounded by a timeout (503 `timeout`);
//! * the organisation is taken from the credential, never from the request: a device token
//!   reaches its own device and organisation only, an admin token its own organisation only.

pub mod admin;
pub mod attachments;
pub mod device;
pub mod requests;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use daka_core::protocol::ApiError;
use serde::de::DeserializeOwned;

use crate::ServerOptions;
use crate::crypto;
use crate::policies::Engines;
use crate::storage::{DeviceRow, OrgRow, Storage, StorageError};

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub storage: Arc<dyn Storage>,
    pub engines: Engines,
    pub options: ServerOptions,
}

impl Inner {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        match &self.options.clock {
            Some(clock) => clock(),
            None => Utc::now(),
        }
    }
}

impl AppState {
    pub(crate) fn new(storage: Arc<dyn Storage>, options: ServerOptions) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                storage,
                engines: Engines::default(),
                options,
            }),
        }
    }

    /// The server's current time (the configured clock, or the system clock).
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    /// Runs a storage call on the blocking pool. Upkeep the call left due (a WAL checkpoint)
    /// then runs there too, without holding up the answer.
    pub(crate) async fn db<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, Failure> + Send + 'static,
    {
        let inner = self.inner.clone();
        let result = tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| Failure::internal(format!("storage task failed: {e}")))?;
        if self.inner.storage.upkeep_due() {
            let inner = self.inner.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = inner.storage.upkeep() {
                    eprintln!("daka-server: storage upkeep failed, will try again: {e}");
                }
            });
        }
        result
    }
}

/// An error response: status, stable code, message, and `Retry-After` when it helps.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_s: Option<u64>,
}

impl Failure {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn busy(code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            retry_after_s: Some(1),
            ..Failure::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    /// A failure of the server itself. The detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Failure {
        eprintln!("daka-server: internal error: {detail}");
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; the error is logged",
        )
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Failure {
        match e {
            StorageError::Busy => Failure::busy("busy", "the database is busy; retry shortly"),
            other => Failure::internal(other),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = ApiError {
            code: self.code.to_string(),
            message: self.message,
            server_time: Some(Utc::now()),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON body read up to the configured limit and parsed with field-naming errors.
pub struct ApiJson<T>(pub T);

/// Reads a request body up to `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Failure> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_large {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is over the {limit}-byte limit"),
            )
        } else {
            Failure::bad_request("invalid_body", format!("the body could not be read: {e}"))
        }
    })
}

fn check_content_type(parts: &Parts) -> Result<(), Failure> {
    match parts.headers.get(CONTENT_TYPE) {
        None => Ok(()),
        Some(v) => {
            let ok = v
                .to_str()
                .map(|s| {
                    let mime = s
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                    mime == "application/json" || mime.ends_with("+json")
                })
                .unwrap_or(false);
            if ok {
                Ok(())
            } else {
                Err(Failure::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as application/json",
                ))
            }
        }
    }
}

/// Parses JSON with an error naming the path of the bad field. Well-formed bodies take the
/// plain reader; only a failed one is read again, tracking the path, to name the field.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        Failure::bad_request("invalid_request", message)
    })?;
    Ok(value)
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        check_content_type(&parts)?;
        let bytes = read_body(body, state.inner.options.max_body_bytes).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The longest bearer token looked up; anything longer is refused without a query.
const MAX_TOKEN_LEN: usize = 256;

fn bearer(parts: &Parts) -> Result<String, Failure> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        Failure::unauthorized("unauthorized", "missing Authorization: Bearer <token>")
    })?;
    let text = header.to_str().map_err(|_| {
        Failure::unauthorized("unauthorized", "the Authorization header is not ASCII")
    })?;
    let (scheme, token) = text.split_once(' ').ok_or_else(|| {
        Failure::unauthorized("unauthorized", "expected Authorization: Bearer <token>")
    })?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(Failure::unauthorized(
            "unauthorized",
            "expected Authorization: Bearer <token>",
        ));
    }
    Ok(token.to_string())
}

/// An authenticated device (bearer token from enrolment or refresh).
pub struct DeviceAuth(pub DeviceRow);

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let hash = crypto::secret_hash(&bearer(parts)?);
        let device = state
            .db(move |s| Ok(s.storage.device_by_token(&hash, s.now())?))
            .await?;
        device.map(DeviceAuth).ok_or_else(|| {
            Failure::unauthorized(
                "unauthorized",
                "the token is unknown, expired or replaced; refresh it or enrol again",
            )
        })
    }
}

/// An authenticated organisation administrator.
pub struct AdminAuth(pub OrgRow);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let hash = crypto::secret_hash(&bearer(parts)?);
        let org = state
            .db(move |s| Ok(s.storage.org_by_admin_token(&hash)?))
            .await?;
        org.map(AdminAuth)
            .ok_or_else(|| Failure::unauthorized("unauthorized", "the admin token is not valid"))
    }
}

/// One answered request, for the request log.
#[derive(Debug, Clone)]
pub struct RequestLog {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub elapsed: std::time::Duration,
}

async fn limits(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    // An upload's time grows with the file and the phone's link; everything else is bounded
    // by the request timeout.
    let limit = if method == "PUT" && path.starts_with("/v1/attachments/") {
        state.inner.options.upload_timeout
    } else {
        state.inner.options.request_timeout
    };
    let response = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            Failure::busy("timeout", "the request took too long; retry shortly").into_response()
        }
    };
    if let Some(log) = &state.inner.options.request_log {
        log(&RequestLog {
            method,
            path,
            status: response.status().as_u16(),
            elapsed: started.elapsed(),
        });
    }
    response
}

async fn not_found() -> Failure {
    Failure::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

async fn openapi_json() -> Response {
    (
        [(CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
        .into_response()
}

/// `GET /health`: liveness for load balancers.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The server is up", body = Health)))]
pub(crate) async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        server_time: Utc::now(),
    })
}

/// The answer of `GET /health`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
    pub server_time: chrono::DateTime<Utc>,
}

/// The whole router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/enroll", post(device::enroll))
        .route("/v1/token", post(device::token))
        .route("/v1/policy", get(device::policy))
        .route("/v1/push", post(device::push))
        .route("/v1/changes", get(device::changes))
        .route("/v1/requests", get(requests::mine))
        .route("/v1/requests/{request_id}", get(requests::request))
        .route("/v1/inbox", get(requests::inbox))
        .route("/v1/leave-balances", get(requests::leave_balances))
        .route(
            "/v1/attachments/{sha256}",
            put(attachments::put_attachment).get(attachments::get_attachment),
        )
        .route(
            "/admin/v1/requests/{request_id}",
            get(requests::admin_request),
        )
        .route("/admin/v1/corrections", get(requests::admin_corrections))
        .route(
            "/admin/v1/policy",
            put(admin::publish_policy).get(admin::current_policy),
        )
        .route("/admin/v1/enrollment-codes", post(admin::issue_code))
        .route("/admin/v1/devices", get(admin::devices))
        .route("/admin/v1/punches", get(admin::punches))
        .route("/admin/v1/chains/verify", get(admin::verify_chains))
        .route("/openapi.json", get(openapi_json))
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits))
        .with_state(state)
}
