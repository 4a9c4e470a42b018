//! The background sync loop: one task that runs a sync round now, after each punch (when
//! nudged), and every `interval`, until stopped.
//!
//! Foreign code cannot cancel a Rust future, so the loop hands back a [`SyncLoop`] handle with
//! [`SyncLoop::stop`], which lets a round in progress finish (a half-sent batch is harmless,
//! but waiting keeps shutdown orderly) and returns the number of rounds run. Failures of a
//! round (offline, server errors) are reported to `on_round` and the loop goes on: being
//! offline is normal for a field worker's phone. A revoked device
//! ([`DeviceError::DeviceRevoked`]) is reported once and ends the loop. A refused server
//! certificate ([`SyncError::Tls`]) is not retried on the interval (the same certificate
//! would be refused again): the loop waits for the next nudge (a punch) or a stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{Device, DeviceError, SyncReport};
use crate::sync::client::SyncError;

/// A running background sync loop.
pub struct SyncLoop {
    stop: watch::Sender<bool>,
    nudge: Arc<Notify>,
    task: JoinHandle<u64>,
}

impl SyncLoop {
    /// Asks for a round as soon as possible (e.g. right after a punch).
    pub fn sync_soon(&self) {
        self.nudge.notify_one();
    }

    /// Stops the loop after the round in progress, if any; returns how many rounds ran.
    pub async fn stop(self) -> u64 {
        self.stop.send_replace(true);
        self.task.await.unwrap_or(0)
    }
}

impl Device {
    /// Starts the background loop on the current tokio runtime. `on_round` receives every
    /// round's outcome (a report, or the error that ended it). An `interval` outside
    /// [`MIN_SYNC_INTERVAL`](super::MIN_SYNC_INTERVAL)..=[`MAX_SYNC_INTERVAL`](super::MAX_SYNC_INTERVAL)
    /// is [`DeviceError::InvalidOption`], and nothing starts.
    pub fn start_background_sync(
        self: &Arc<Self>,
        interval: Duration,
        on_round: impl Fn(Result<&SyncReport, &DeviceError>) + Send + Sync + 'static,
    ) -> Result<SyncLoop, DeviceError> {
        super::builder::check_sync_interval(interval)?;
        let (stop, mut stopped) = watch::channel(false);
        let nudge = Arc::new(Notify::new());
        let device = self.clone();
        let woken = nudge.clone();
        tracing::info!(interval_s = interval.as_secs(), "background sync started");
        let task = tokio::spawn(async move {
            let mut rounds = 0u64;
            loop {
                if *stopped.borrow() {
                    tracing::info!(rounds, "background sync stopped");
                    return rounds;
                }
                let result = device.sync_now(&|_| {}).await;
                rounds += 1;
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "background sync round failed");
                }
                on_round(result.as_ref());
                if let Err(DeviceError::DeviceRevoked { .. }) = &result {
                    // Nothing the device sends is taken any more: stop for good.
                    tracing::error!(rounds, "background sync stopped: the device was revoked");
                    return rounds;
                }
                // A refused certificate waits for a nudge, not for the interval.
                let tls_refused = matches!(&result, Err(DeviceError::Sync(SyncError::Tls { .. })));
                let wait = if tls_refused {
                    tracing::error!(
                        rounds,
                        "background sync paused until the next punch: TLS refused"
                    );
                    Duration::MAX
                } else {
                    interval
                };
                tokio::select! {
                    _ = stopped.wait_for(|s| *s) => {
                        tracing::info!(rounds, "background sync stopped");
                        return rounds;
                    }
                    _ = woken.notified() => {}
                    _ = sleep_at_most(wait) => {}
                }
            }
        });
        Ok(SyncLoop { stop, nudge, task })
    }
}

/// Sleeps `wait`, or for ever when it is [`Duration::MAX`] (tokio's timer cannot hold that).
async fn sleep_at_most(wait: Duration) {
    if wait == Duration::MAX {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(wait).await;
    }
}
