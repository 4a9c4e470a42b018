//! The state every handler shares: the storage, the rule engines and the server's options,
//! with the server's clock and the way handlers run storage calls (on the blocking pool, with
//! any upkeep they leave due run after the answer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::failure::Failure;
use crate::options::ServerOptions;
use crate::policies::Engines;
use crate::storage::Storage;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub storage: Arc<dyn Storage>,
    pub engines: Engines,
    pub options: ServerOptions,
    /// Failed console sign-ins, per account and client address (in memory).
    pub login_limiter: crate::console::auth::LoginLimiter,
    /// Failed enrolments and token refreshes, per address, device and overall (in memory).
    pub device_limiter: crate::limits::FailureLimiter,
    /// The series of `GET /metrics`.
    pub metrics: super::metrics::Metrics,
    /// Whether a stop has begun, and the requests in progress.
    pub lifecycle: super::lifecycle::Lifecycle,
    /// Pushes admitted and the recent cost of an item, for refusing pushes early.
    pub push_admission: super::admission::PushAdmission,
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
                engines: Engines::default(),
                push_admission: super::admission::PushAdmission::new(options.max_push_wait)
                    .with_parallel_writes(storage.parallel_writes()),
                storage,
                options,
                login_limiter: Default::default(),
                device_limiter: crate::limits::FailureLimiter::new(
                    super::device::DEVICE_FAILURE_WINDOW,
                ),
                metrics: Default::default(),
                lifecycle: Default::default(),
            }),
        }
    }

    /// The server's current time (the configured clock, or the system clock).
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    /// Runs a storage call on the blocking pool, in the request's `tracing` span, timing its
    /// wait for a thread and its run for the metrics. Upkeep the call left due (a WAL
    /// checkpoint) then runs there too, without holding up the answer.
    pub(crate) async fn db<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, Failure> + Send + 'static,
    {
        let inner = self.inner.clone();
        let span = tracing::Span::current();
        let queued = Instant::now();
        let call = StorageCall::queued(&self.inner);
        let result = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let started = Instant::now();
            inner.metrics.storage_started(started - queued);
            let result = f(&inner);
            call.ran(started.elapsed());
            result
        })
        .await
        .map_err(|e| Failure::internal(format!("storage task failed: {e}")))?;
        if self.inner.storage.upkeep_due() {
            let inner = self.inner.clone();
            let span = tracing::Span::current();
            tokio::task::spawn_blocking(move || {
                let _entered = span.enter();
                if let Err(e) = inner.storage.upkeep() {
                    tracing::warn!(error = %e, "storage upkeep failed, will try again");
                }
            });
        }
        result
    }
}

/// A storage call counted in flight from being queued until it ran, or was dropped unrun (a
/// panic, or the runtime shutting down).
struct StorageCall {
    inner: Arc<Inner>,
    ran: Option<Duration>,
}

impl StorageCall {
    fn queued(inner: &Arc<Inner>) -> StorageCall {
        inner.metrics.storage_queued();
        StorageCall {
            inner: inner.clone(),
            ran: None,
        }
    }

    fn ran(mut self, took: Duration) {
        self.ran = Some(took);
    }
}

impl Drop for StorageCall {
    fn drop(&mut self) {
        self.inner.metrics.storage_finished(self.ran);
    }
}
