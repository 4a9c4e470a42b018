//! `GET /health`, the liveness check for load balancers.

use chrono::Utc;

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
