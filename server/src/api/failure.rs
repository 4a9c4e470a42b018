//! Error responses of the HTTP layer: a status, a stable code, a message and, when it helps,
//! `Retry-After`, always written as an `ApiError` JSON body with the server time; and how
//! storage failures map onto them (a busy database is a 503 with `Retry-After`).

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use daka_core::protocol::ApiError;

use crate::storage::StorageError;

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
