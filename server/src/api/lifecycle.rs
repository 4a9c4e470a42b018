//! Draining before a stop: once [`Lifecycle::begin_drain`] is called (by
//! `RunningServer::shutdown`, on SIGTERM or Ctrl-C in `daka serve`), `GET /ready` answers 503
//! so load balancers stop routing here, new work is answered 503 `shutting_down` with
//! `Retry-After: 5`, and requests already in progress run to their end. The server closes its
//! listener when none is left in progress (or the grace period ends).
//!
//! The operations endpoints (`/health`, `/ready`, `/metrics`) are never refused and never
//! counted as work in progress.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::failure::Failure;
use super::state::AppState;

/// Seconds a client refused during a stop is told to wait (`Retry-After`).
pub(crate) const SHUTDOWN_RETRY_AFTER_S: u64 = 5;

/// How often a drain looks whether the work in progress has ended.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// Whether the server is stopping, and how many requests are in progress.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    draining: AtomicBool,
    in_progress: AtomicUsize,
}

impl Lifecycle {
    /// Whether a stop has begun.
    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Begins the stop: from now on new work is refused and `/ready` answers 503.
    pub(crate) fn begin_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Requests in progress (the operations endpoints not counted).
    pub(crate) fn in_progress(&self) -> usize {
        self.in_progress.load(Ordering::SeqCst)
    }

    /// Waits until no request is in progress or `deadline` passes; whether none is left.
    pub(crate) async fn drained(&self, deadline: Instant) -> bool {
        loop {
            if self.in_progress() == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(DRAIN_POLL).await;
        }
    }
}

/// Counts a request in progress until dropped (also when its connection is dropped).
struct InProgress<'a>(&'a Lifecycle);

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a path is an operations endpoint, served during a stop too.
fn operations(path: &str) -> bool {
    matches!(path, "/health" | "/ready" | "/metrics")
}

/// The middleware: refuses new work once a stop has begun.
pub(crate) async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if operations(req.uri().path()) {
        return next.run(req).await;
    }
    let lifecycle = &state.inner.lifecycle;
    // Counted before the check: a stop that sees no request in progress has also made every
    // later check see it.
    lifecycle.in_progress.fetch_add(1, Ordering::SeqCst);
    let guard = InProgress(lifecycle);
    if lifecycle.draining() {
        drop(guard);
        return shutting_down().into_response();
    }
    let response = next.run(req).await;
    drop(guard);
    response
}

/// 503 `shutting_down` with `Retry-After: 5`.
pub(crate) fn shutting_down() -> Failure {
    Failure {
        retry_after_s: Some(SHUTDOWN_RETRY_AFTER_S),
        ..Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is stopping; send the request again in a few seconds (to another instance if there is one)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_waits_for_the_work_in_progress() {
        let l = Lifecycle::default();
        assert!(!l.draining());
        l.in_progress.fetch_add(1, Ordering::SeqCst);
        let guard = InProgress(&l);
        l.begin_drain();
        assert!(l.draining());
        let soon = Instant::now() + Duration::from_millis(30);
        assert!(!l.drained(soon).await);
        drop(guard);
        assert!(l.drained(Instant::now()).await);
    }

    #[test]
    fn only_the_operations_endpoints_pass_a_stop() {
        assert!(operations("/health") && operations("/ready") && operations("/metrics"));
        assert!(!operations("/v1/push") && !operations("/metrics/x"));
    }
}
