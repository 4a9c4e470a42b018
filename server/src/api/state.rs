//! The state every handler shares: the storage, the rule engines and the server's options,
//! with the server's clock and the way handlers run storage calls (on the blocking pool, with
//! any upkeep they leave due run after the answer).

use std::sync::Arc;

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
                login_limiter: Default::default(),
                device_limiter: crate::limits::FailureLimiter::new(
                    super::device::DEVICE_FAILURE_WINDOW,
                ),
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
