//! Error responses of the HTTP layer: a status, a stable code, a message and, when it helps,
//! `Retry-After`, always written as an `ApiError` JSON body with the server time; and how
//! storage failures map onto them (a busy database is a 503 with `Retry-After`).

use std::time::Duration;

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use daka_core::protocol::ApiError;

use crate::storage::StorageError;

/// An error response: status, stable code, message, and `Retry-After` when it helps.
#[derive(Debug, Clone)]
pub struct Failure {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Stable error code sent as the `ApiError` body's `code`, e.g. `invalid_request` or
    /// `busy`; clients match on it.
    pub code: &'static str,
    /// Explanation for people, sent as the body's `message`; not for matching on.
    pub message: String,
    /// Seconds to send in a `Retry-After` header; `None` sends none.
    pub retry_after_s: Option<u64>,
    /// The same wait to the millisecond, sent as the body's `retry_after_ms` (when `None`,
    /// the body says `retry_after_s` in milliseconds).
    pub retry_after_ms: Option<u64>,
}

impl Failure {
    /// A failure with this status, code and message, and no `Retry-After`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
            retry_after_ms: None,
        }
    }

    /// 400 Bad Request: the client must change the request before sending it again.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 Unauthorized, answered with `WWW-Authenticate: Bearer`: the credentials are
    /// missing, wrong or expired.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 403 Forbidden `device_revoked`: an administrator revoked the device; nothing it sends
    /// is taken any more, and only enrolling again with a new code helps.
    pub fn device_revoked() -> Failure {
        Failure::new(
            StatusCode::FORBIDDEN,
            "device_revoked",
            "this device was revoked by an administrator; ask for a new enrolment code and enrol again",
        )
    }

    /// 429 Too Many Requests `too_many_attempts` with `Retry-After`: too many failed attempts
    /// (of `what`) from this address or at this target; wait `wait_s` seconds.
    pub fn too_many_attempts(what: &str, wait_s: u64) -> Failure {
        Failure {
            retry_after_s: Some(wait_s),
            ..Failure::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many failed {what}; try again in {wait_s} s"),
            )
        }
    }

    /// 503 Service Unavailable with `Retry-After: 1`: send the same request again shortly.
    pub fn busy(code: &'static str, message: impl Into<String>) -> Failure {
        Failure::busy_for(code, message, 1)
    }

    /// 503 Service Unavailable with `Retry-After: retry_after_s`: the server is overloaded;
    /// send the same request again after that many seconds.
    pub fn busy_for(code: &'static str, message: impl Into<String>, retry_after_s: u64) -> Failure {
        Failure {
            retry_after_s: Some(retry_after_s),
            ..Failure::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    /// 503 Service Unavailable, to be sent again after `wait`: the body's `retry_after_ms`
    /// says it to the millisecond, the `Retry-After` header in whole seconds rounded up (at
    /// least 1, for clients that read only the header).
    pub fn busy_after(code: &'static str, message: impl Into<String>, wait: Duration) -> Failure {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        Failure {
            retry_after_ms: Some(ms),
            ..Failure::busy_for(code, message, ms.div_ceil(1000).max(1))
        }
    }

    /// A failure of the server itself. The detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Failure {
        tracing::error!(error = %detail, "internal error");
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
            StorageError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable");
                Failure::busy("busy", "the database is unavailable; retry shortly")
            }
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
            retry_after_ms: self
                .retry_after_ms
                .or(self.retry_after_s.map(|s| s.saturating_mul(1000))),
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
