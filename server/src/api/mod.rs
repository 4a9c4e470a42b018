//! The HTTP layer. This file holds the router and the middleware every request passes
//! (timeouts, JSON answers for unknown routes); beside it, `state.rs` the shared state,
//! `failure.rs` the typed error responses, `extract.rs` the extractors every handler uses
//! (bearer authentication, bounded JSON bodies), `telemetry.rs` request ids, the request's log
//! span, the access event and the request metrics, `metrics.rs` the series and `GET /metrics`,
//! `lifecycle.rs` draining before a stop, `admission.rs` refusing pushes early when the queue
//! ahead of them is too long, `health.rs` the liveness and readiness checks,
//! and one file of handlers per audience: `device.rs` the protocol endpoints, `requests.rs`
//! approvals as devices and administrators see them, `attachments.rs` file uploads,
//! `admin.rs` the admin API, `attendance.rs` attendance for administrators (day results, months,
//! the payroll export, roster warnings, month locks), `console.rs` the web console's accounts
//! and audit and the admin token's rotation, `scopes.rs` the scope each admin route needs.
//! Handlers import the leaves, never this file. The console's pages are
//! `crate::console`'s, merged into this router.
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
mod admission;
pub mod attachments;
pub mod attendance;
mod attestation;
pub mod console;
pub mod device;
mod extract;
mod failure;
pub mod health;
mod lifecycle;
pub mod metrics;
pub mod requests;
pub mod scopes;
mod state;
pub mod telemetry;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

pub use crate::options::RequestLog;
pub use extract::{AdminAuth, ApiJson, DeviceAuth};
pub use failure::Failure;
pub use health::{Health, Ready};
pub use state::AppState;

async fn limits(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // An upload's time grows with the file and the phone's link; everything else is bounded
    // by the request timeout.
    let limit = if *req.method() == axum::http::Method::PUT
        && req.uri().path().starts_with("/v1/attachments/")
    {
        state.inner.options.upload_timeout
    } else {
        state.inner.options.request_timeout
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            Failure::busy("timeout", "the request took too long; retry shortly").into_response()
        }
    }
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

/// The whole router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/enroll", post(device::enroll))
        .route("/v1/enroll/challenge", post(device::enroll_challenge))
        .route("/v1/token", post(device::token))
        .route("/v1/policy", get(device::policy))
        .route("/v1/push", post(device::push))
        .route("/v1/push/turn", post(device::push_turn))
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
        .route("/admin/v1/policy/check", post(admin::check_policy))
        .route("/admin/v1/enrollment-codes", post(admin::issue_code))
        .route("/admin/v1/devices", get(admin::devices))
        .route(
            "/admin/v1/devices/{device_id}/revoke",
            post(admin::revoke_device),
        )
        .route("/admin/v1/punches", get(admin::punches))
        .route("/admin/v1/chains/verify", get(admin::verify_chains))
        .route("/admin/v1/attendance/days", get(attendance::days))
        .route("/admin/v1/attendance/month", get(attendance::month))
        .route(
            "/admin/v1/attendance/roster-warnings",
            get(attendance::roster_warnings),
        )
        .route(
            "/admin/v1/attendance/locks",
            post(attendance::lock).get(attendance::locks),
        )
        .route(
            "/admin/v1/attendance/locks/{month}",
            delete(attendance::unlock),
        )
        .route(
            "/admin/v1/attendance/late-changes",
            get(attendance::late_changes),
        )
        .route("/admin/v1/reports/attendance", get(attendance::report))
        .route("/admin/v1/console/accounts", post(console::create_account))
        .route("/admin/v1/console/audit", get(console::audit))
        .route(
            "/admin/v1/admin-token/rotate",
            post(console::rotate_admin_token),
        )
        .merge(crate::console::router())
        .route("/openapi.json", get(openapi_json))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The last layer added runs first: telemetry sees every answer, the stop's refusals
        // and the timeouts' 503s included.
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            lifecycle::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state)
}
