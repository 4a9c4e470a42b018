//! What the server records of every request: its request id, the `tracing` span its log
//! lines carry, the request metrics and the access log event.
//!
//! The request id is the client's `X-Request-Id` when it is sane (1 to 64 characters of
//! `A-Z a-z 0-9 . _ -`), otherwise a new UUIDv7; it is sent back in the answer's
//! `X-Request-Id` and is a field of the `request` span, so every event logged while the
//! request is handled (storage calls on the blocking pool included) carries it. The access
//! event (target [`ACCESS_TARGET`]) has the status and the latency; nothing of the request's
//! headers or body is logged, so tokens, cookies and passwords never reach the log.
//!
//! Routes are labelled by their template (axum's `MatchedPath`, e.g.
//! `/console/people/{employee_id}`), or `unmatched`: never the raw path.

use std::borrow::Cow;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;
use uuid::Uuid;

use super::metrics::UNMATCHED;
use super::state::AppState;
use crate::options::RequestLog;

/// The request id header, read from requests and set on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The `tracing` target of the access event, one per answered request.
pub const ACCESS_TARGET: &str = "daka_server::access";

/// Longest request id taken from a client.
const MAX_REQUEST_ID: usize = 64;

/// The id of the request being handled, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Whether a client's request id is taken as it is: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
pub fn sane_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The method as a label: the standard ones by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The middleware: request id, span, metrics, access event and the embedder's request log.
pub(crate) async fn observe(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| sane_request_id(id))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    let route: Cow<'static, str> = match req.extensions().get::<MatchedPath>() {
        Some(matched) => Cow::Owned(matched.as_str().to_owned()),
        None => Cow::Borrowed(UNMATCHED),
    };
    let method = method_label(req.method());
    let logged = state
        .inner
        .options
        .request_log
        .is_some()
        .then(|| (req.method().to_string(), req.uri().path().to_owned()));
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method, route = %route);
    let metrics = &state.inner.metrics;
    metrics.request_started();
    let mut response = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.record_request(method, route.clone(), status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            target: ACCESS_TARGET,
            status,
            latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
            "answered"
        );
    });
    if let (Some(log), Some((method, path))) = (&state.inner.options.request_log, logged) {
        log(&RequestLog {
            method,
            path,
            route: route.into_owned(),
            request_id: id.clone(),
            status,
            elapsed,
        });
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_taken_only_when_sane() {
        assert!(sane_request_id("abc-123_X.y"));
        assert!(sane_request_id(&"a".repeat(64)));
        assert!(!sane_request_id(&"a".repeat(65)));
        assert!(!sane_request_id(""));
        assert!(!sane_request_id("has space"));
        assert!(!sane_request_id("semi;colon"));
        assert!(!sane_request_id("newline\n"));
        assert!(!sane_request_id("ünïcode"));
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
