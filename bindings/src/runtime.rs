//! The one tokio runtime of the bindings.
//!
//! Apps call into daka from their own threads (Kotlin coroutines on JNA, Swift tasks), none of
//! which is a tokio thread. Every async export therefore runs its work as a task on this
//! shared multi-thread runtime and awaits the task's handle, and the background sync loop is
//! spawned on it too. Two consequences, both deliberate:
//!
//! * Work does not depend on the foreign executor: the future the app awaits only waits for
//!   the task, so it can be polled by any executor (the `async_runtime = "tokio"` attribute on
//!   the exports is kept as a safety net for code that touches tokio while being polled).
//! * Cancelling the foreign coroutine or task stops the *waiting*, not the work: a sync round
//!   always finishes (or fails) on its own. Dropping a round half-way would leave its batch
//!   marked in flight until the app restarts; letting it finish costs at most one request
//!   timeout.
//!
//! The runtime is created on first use and lives for the rest of the process. Failing to
//! create it (no threads left) is reported as an error, not a panic.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

use crate::error::DakaError;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The shared runtime, created on first use.
pub(crate) fn runtime() -> Result<&'static Runtime, DakaError> {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                // Sync is I/O-bound; two workers keep a phone's thread count low.
                .worker_threads(2)
                .thread_name("daka-sync")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| DakaError::Internal {
            reason: format!("cannot start daka's async runtime: {reason}"),
        })
}

/// Runs `work` as a task on the shared runtime and waits for it. A panic inside the task is
/// returned as [`DakaError::Internal`] instead of unwinding into the caller.
pub(crate) async fn on_runtime<T, F>(work: F) -> Result<T, DakaError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, DakaError>> + Send + 'static,
{
    let handle = runtime()?.spawn(work);
    match handle.await {
        Ok(result) => result,
        Err(e) => Err(DakaError::Internal {
            reason: if e.is_panic() {
                format!("a daka task panicked: {}", panic_text(e.into_panic()))
            } else {
                "a daka task was cancelled".to_string()
            },
        }),
    }
}

/// The message of a panic payload, when it has one.
pub(crate) fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_task_becomes_an_internal_error() {
        let result: Result<(), DakaError> = runtime()
            .unwrap()
            .block_on(on_runtime(async { panic!("boom {}", 42) }));
        match result {
            Err(DakaError::Internal { reason }) => assert!(reason.contains("boom 42"), "{reason}"),
            other => panic!("expected Internal, got {other:?}"),
        }
    }

    #[test]
    fn results_pass_through() {
        let rt = runtime().unwrap();
        assert_eq!(rt.block_on(on_runtime(async { Ok(7) })).unwrap(), 7);
        let err = rt
            .block_on(on_runtime::<(), _>(async { Err(DakaError::NoPolicy) }))
            .unwrap_err();
        assert!(matches!(err, DakaError::NoPolicy));
    }
}
