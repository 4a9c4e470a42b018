//! `GET /health`, the liveness check, and `GET /ready`, the readiness check, for load
//! balancers and orchestrators.
//!
//! Liveness says only that the process answers. Readiness says that this instance should be
//! sent traffic: the database answers a trivial query, its schema version is the one this
//! build writes, and no stop has begun.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;

use super::failure::Failure;
use super::state::AppState;
use crate::storage::{SchemaVersions, StorageError};

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
    /// Always `ok`: any answer at all means the server is up.
    pub status: String,
    /// The system clock when the request was answered, RFC 3339 UTC (not a clock set with
    /// [`ServerOptions::clock`](crate::ServerOptions::clock)).
    pub server_time: chrono::DateTime<Utc>,
}

/// The answer of `GET /ready` when the server is ready.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Ready {
    /// Always `ready`.
    pub status: String,
}

/// `GET /ready`: readiness for load balancers.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready for traffic: the database answers and its schema version is this build's", body = Ready),
        (status = 503, description = "`not_ready`: the database does not answer, its schema version is not this build's, or the server is stopping; the message says which", body = daka_core::protocol::ApiError),
    ))]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<axum::Json<Ready>, Failure> {
    let draining = state.inner.lifecycle.draining();
    let probe = if draining {
        None
    } else {
        Some(
            state
                .db(|s| Ok(s.storage.schema_versions()))
                .await
                .unwrap_or_else(|f| Err(StorageError::Database(f.message))),
        )
    };
    match readiness(draining, probe) {
        Ok(()) => Ok(axum::Json(Ready {
            status: "ready".into(),
        })),
        Err(why) => Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            why,
        )),
    }
}

/// The readiness decision: `Ok` when ready, otherwise why not. `probe` is the storage's
/// answer, `None` when it was not asked (the server is stopping).
pub(crate) fn readiness(
    draining: bool,
    probe: Option<Result<SchemaVersions, StorageError>>,
) -> Result<(), String> {
    if draining {
        return Err("the server is stopping".into());
    }
    match probe {
        None => Err("the database was not asked".into()),
        Some(Err(e)) => Err(format!("the database does not answer: {e}")),
        Some(Ok(v)) if v.found != v.expected => Err(format!(
            "the database has schema version {}, this build writes {}",
            v.found, v.expected
        )),
        Some(Ok(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(found: i64, expected: i64) -> SchemaVersions {
        SchemaVersions { found, expected }
    }

    #[test]
    fn ready_only_with_an_answering_database_of_this_schema_and_no_stop() {
        assert_eq!(readiness(false, Some(Ok(versions(13, 13)))), Ok(()));
        let e = readiness(false, Some(Ok(versions(12, 13)))).unwrap_err();
        assert!(
            e.contains("schema version 12") && e.contains("writes 13"),
            "{e}"
        );
        let e = readiness(false, Some(Err(StorageError::Busy))).unwrap_err();
        assert!(e.contains("does not answer") && e.contains("busy"), "{e}");
        let e = readiness(true, Some(Ok(versions(13, 13)))).unwrap_err();
        assert!(e.contains("stopping"), "{e}");
        assert!(readiness(false, None).is_err());
    }
}
