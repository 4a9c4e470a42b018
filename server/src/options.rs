//! The server's tunables ([`ServerOptions`]) with their production defaults, and the hooks
//! an embedder may pass in: a request logger that receives one [`RequestLog`] per answered
//! request, and a clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::storage;

/// One answered request, for the request log.
#[derive(Debug, Clone)]
pub struct RequestLog {
    /// HTTP method in upper case, e.g. `POST`.
    pub method: String,
    /// The request's URI path without the query string, e.g. `/v1/push`: the path as sent,
    /// not the route pattern, so it carries ids and an upload's hash.
    pub path: String,
    /// The route template the request matched, e.g. `/v1/requests/{request_id}`, or
    /// `unmatched`.
    pub route: String,
    /// The request id sent back in `X-Request-Id`: the client's when it was sane (1 to 64
    /// characters of `A-Z a-z 0-9 . _ -`), otherwise a new UUIDv7.
    pub request_id: String,
    /// HTTP status code of the answer; a request that ran past its timeout is logged as the
    /// 503 it was answered with.
    pub status: u16,
    /// Wall-clock time from the request reaching the server's middleware to the answer being
    /// ready (the body may still be streaming to the client).
    pub elapsed: std::time::Duration,
}

/// A callback that receives one [`RequestLog`] per answered request.
pub type RequestLogger = Arc<dyn Fn(&RequestLog) + Send + Sync>;

/// Where the server reads the time. The default is the system clock; the demo and tests run
/// the server on a simulated day by passing their own.
pub type ServerClock = Arc<dyn Fn() -> chrono::DateTime<Utc> + Send + Sync>;

/// Tunables, with defaults fit for production.
#[derive(Clone)]
pub struct ServerOptions {
    /// Longest a request may take before it is answered 503 `timeout` (default 30 s).
    pub request_timeout: Duration,
    /// Longest a file upload (`PUT /v1/attachments/…`) may take (default 10 min: a receipt
    /// photo over a weak mobile link).
    pub upload_timeout: Duration,
    /// Longest a database call waits for a lock held by another process before the request
    /// is answered 503 `busy` (default 2 s).
    pub busy_timeout: Duration,
    /// Most connections to a PostgreSQL database the server opens (default 16); a SQLite
    /// file ignores it.
    pub db_pool_size: u32,
    /// Lifetime of a bearer token; the device refreshes it on 401 (default 30 days).
    pub token_ttl: chrono::Duration,
    /// Changes per page of `GET /v1/changes` (default 500).
    pub changes_page: u32,
    /// Largest request body, in bytes (default 4 MiB). Attachment uploads have their own
    /// limit, `max_attachment_bytes`.
    pub max_body_bytes: usize,
    /// Largest file `PUT /v1/attachments/{sha256}` takes, in bytes (default 50 MiB, the most
    /// a policy's template may allow).
    pub max_attachment_bytes: usize,
    /// Called once per answered request (method, path, route, request id, status, duration).
    pub request_log: Option<RequestLogger>,
    /// The server's clock; `None` for the system clock.
    pub clock: Option<ServerClock>,
    /// How often attendance days that passed without any input (an absence, a day left in
    /// progress) are computed and sent; `None` only at start-up and when read (default 10
    /// min).
    pub attendance_sweep: Option<Duration>,
    /// Whether the web console's cookies carry `Secure` (browsers then send them over HTTPS
    /// only). The server speaks plain HTTP; set this when it is reached through a TLS proxy
    /// (default `false`). See `docs/console.md`.
    pub console_secure_cookies: bool,
    /// A map tile URL template (`https://tiles.example/{z}/{x}/{y}.png`) drawn behind the
    /// console's site maps; `None` (the default) draws them on a plain background, for an
    /// intranet without a tile server. When set, the pages with a map allow images from its
    /// origin in their content security policy. Check it with
    /// `daka_server::console::map::tile_origin`.
    pub console_map_tiles: Option<String>,
    /// Reverse proxies (load balancers, TLS terminators) whose `X-Forwarded-For` header is
    /// believed. A request whose TCP peer is in one of these networks is taken to come from
    /// the right-most address of its `X-Forwarded-For` that is not itself a trusted proxy;
    /// from anyone else the header is ignored. That address is what the console's sign-in
    /// limit counts and its audit trail records. Empty by default: the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A bearer token `GET /metrics` requires (`Authorization: Bearer <token>`); `None` (the
    /// default) serves the metrics to anyone who reaches the server.
    pub metrics_token: Option<String>,
    /// Longest a stop ([`RunningServer::shutdown`](crate::RunningServer::shutdown)) waits for
    /// the requests in progress, answering new ones 503 `shutting_down` meanwhile, before it
    /// closes the listener and ends what is left (default 10 s).
    pub shutdown_grace: Duration,
    /// Longest a push is expected to wait for the pushes admitted before it; past it, a push
    /// is answered 503 `busy` at once, with a `Retry-After` of the estimated wait, instead of
    /// queueing until the client's timeout (default 5 s). See `docs/server.md`.
    pub max_push_wait: Duration,
    /// Longest a client may take to send a request's line and headers (default 10 s),
    /// counted from the connection's acceptance, and on a kept-alive connection from the
    /// first byte of the next request. A client that has not sent them all by then is
    /// disconnected without an answer. Bodies are bounded by `request_timeout` and
    /// `upload_timeout` instead.
    pub header_read_timeout: Duration,
    /// Longest a kept-alive connection may stay open with no request begun after the last
    /// answer (default 120 s: longer than the 60 s idle timeout of common load balancers and
    /// the 90 s for which HTTP clients such as reqwest keep an idle connection, so the client
    /// or the balancer closes first and never sends a request on a connection being closed).
    pub idle_timeout: Duration,
    /// Most connections served at once (default 4096). Past it the server accepts no more:
    /// new connections wait in the operating system's listen backlog until one closes. Keep
    /// it under the process's file descriptor limit (`ulimit -n`), with room for the
    /// database's files.
    pub max_connections: usize,
    /// The verifiers of enrolment attestations, by format (default none). An organisation
    /// whose policy requires attestation can enrol phones only with a format registered here;
    /// see docs/threat-model.md and `daka serve --attestation-config`.
    pub attestation: daka_attest::Verifiers,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(600),
            busy_timeout: storage::sqlite::DEFAULT_BUSY_TIMEOUT,
            db_pool_size: storage::postgres::DEFAULT_POOL_SIZE,
            token_ttl: chrono::Duration::days(30),
            changes_page: 500,
            max_body_bytes: 4 * 1024 * 1024,
            max_attachment_bytes: daka_core::policy::MAX_ATTACHMENT_BYTES as usize,
            request_log: None,
            clock: None,
            attendance_sweep: Some(Duration::from_secs(600)),
            console_secure_cookies: false,
            console_map_tiles: None,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            shutdown_grace: Duration::from_secs(10),
            max_push_wait: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 4096,
            attestation: daka_attest::Verifiers::new(),
        }
    }
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("request_timeout", &self.request_timeout)
            .field("upload_timeout", &self.upload_timeout)
            .field("busy_timeout", &self.busy_timeout)
            .field("db_pool_size", &self.db_pool_size)
            .field("token_ttl", &self.token_ttl)
            .field("changes_page", &self.changes_page)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("request_log", &self.request_log.is_some())
            .field("clock", &self.clock.as_ref().map(|_| "custom"))
            .field("attendance_sweep", &self.attendance_sweep)
            .field("console_secure_cookies", &self.console_secure_cookies)
            .field("console_map_tiles", &self.console_map_tiles)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "set"))
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_push_wait", &self.max_push_wait)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("attestation", &self.attestation)
            .finish()
    }
}
