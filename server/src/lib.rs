//! daka-server: the reference sync server of daka (打卡). It runs the rules with `daka-core`,
//! the same engine the phones run, and depends on nothing of the phone runtime.
//!
//! # Layout
//!
//! * [`Server`] starts the HTTP server on a tokio runtime and returns a [`RunningServer`].
//! * `api/`: the router and middleware (`api/mod.rs`), shared state, errors and extractors
//!   (`state.rs`, `failure.rs`, `extract.rs`); `api/device.rs` the protocol endpoints,
//!   `api/requests.rs` approvals as devices see them, `api/attachments.rs` receipt uploads,
//!   `api/admin.rs` the admin API; `api/telemetry.rs` request ids, log spans and request
//!   metrics, `api/metrics.rs` the series and `GET /metrics`, `api/lifecycle.rs` draining
//!   before a stop, `api/health.rs` liveness and readiness.
//! * `options.rs`: [`ServerOptions`] and the request log and clock hooks.
//! * `serve.rs`: the accept loop: the connection limit, the header-read and idle timeouts,
//!   and closing the connections at a stop.
//! * [`intake`]: the intake of pushed items: `intake/mod.rs` the dispatcher (deadline, order
//!   within a stream, dispatch by kind, one storage batch per request), `intake/punch.rs`
//!   punches (exactly-once, integrity, chain, rules), `intake/approval.rs` approval
//!   submissions and decisions (run through the core's request state machine, with the
//!   change-feed entries they produce).
//! * [`storage`]: the [`Storage`] trait and its two implementations, SQLite
//!   (`storage/sqlite/`) and PostgreSQL for several instances on one database
//!   (`storage/postgres/`), each one file per group of tables, rows read by column name.
//! * [`seed`]: bootstrapping organisations from a seed file.
//! * [`policies`]: publishing policy versions and caching their rule engines.
//! * [`limits`]: failures counted per key in a sliding window (sign-ins, enrolment codes,
//!   token refreshes), to make guessing slow.
//! * [`crypto`]: random secrets and tokens, hashes, new organisation keys, device signatures.
//! * [`openapi`]: the generated OpenAPI document.
//! * [`report`]: the monthly attendance export HR pays from (CSV and XLSX).
//! * [`attendance`]: attendance as the authority: records from storage, the recompute queue
//!   and its stored day results, months for the month endpoint, the export and `daka report`.
//! * [`console`]: the web console under `/console` (accounts, sessions, the pages, their two
//!   languages); `api/console.rs` its admin endpoints.
//!
//! # Overview
#![doc = include_str!("../README.md")]

pub mod api;
pub mod attendance;
pub mod console;
pub mod crypto;
pub mod intake;
pub mod limits;
pub mod openapi;
mod options;
pub mod policies;
pub mod report;
pub mod seed;
mod serve;
pub mod storage;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use options::{RequestLog, RequestLogger, ServerClock, ServerOptions};
pub use seed::{Seed, SeedCode, SeedConsoleAccount, SeedError, SeedOrg, SeedPolicy, SeedReport};
pub use storage::postgres::{PostgresOptions, PostgresStorage};
pub use storage::sqlite::SqliteStorage;
pub use storage::{Storage, StorageError};

/// Where the server keeps its data, where it listens, and what to seed.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The database: a SQLite file, created on first start, or a PostgreSQL URL
    /// (`postgres://…` or `postgresql://…`, see [`PostgresStorage::open`]), whose schema is
    /// created on first start.
    pub db_path: PathBuf,
    /// The address to listen on; port 0 picks a free port (see [`RunningServer::addr`]).
    pub listen: SocketAddr,
    /// Organisations to create or update at start-up.
    pub seed: Option<Seed>,
}

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The database file could not be opened or upgraded to this build's schema (for
    /// example [`StorageError::TooNew`] for a file of a newer server).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The seed could not be applied; the error's `field` names the place in the seed file.
    /// Organisations before the failing one stay applied; fix the seed and start again.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// The listening socket could not be bound or its local address read, typically because
    /// the port is taken or needs privileges.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from [`ServerConfig::listen`] as requested (port 0 included).
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A start-up task panicked or was cancelled, or the HTTP server stopped with an I/O
    /// error; the message is the underlying error's text.
    #[error("the server failed: {0}")]
    Serve(String),
}

/// The daka reference server.
#[derive(Debug, Clone, Copy)]
pub struct Server;

impl Server {
    /// Opens the database, applies the seed and starts serving, with default options.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        Server::start_with(config, ServerOptions::default()).await
    }

    /// [`Server::start`] with tunables.
    pub async fn start_with(
        config: ServerConfig,
        options: ServerOptions,
    ) -> Result<RunningServer, ServerError> {
        let path = config.db_path.clone();
        let busy = options.busy_timeout;
        let pool_size = options.db_pool_size;
        let storage =
            tokio::task::spawn_blocking(move || -> Result<Arc<dyn Storage>, StorageError> {
                match path.to_str() {
                    Some(url) if storage::postgres::is_postgres_url(url) => {
                        let options = PostgresOptions {
                            pool_size,
                            lock_timeout: busy,
                            ..PostgresOptions::default()
                        };
                        Ok(Arc::new(PostgresStorage::open(url, &options)?))
                    }
                    _ => Ok(Arc::new(SqliteStorage::open_with(path, busy)?)),
                }
            })
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))??;
        Server::start_on(storage, config.listen, config.seed, options).await
    }

    /// Starts serving over any [`Storage`] implementation.
    pub async fn start_on(
        storage: Arc<dyn Storage>,
        listen: SocketAddr,
        seed: Option<Seed>,
        options: ServerOptions,
    ) -> Result<RunningServer, ServerError> {
        let seed_report = match seed {
            Some(seed) => {
                let storage = storage.clone();
                let now = options
                    .clock
                    .as_ref()
                    .map_or_else(Utc::now, |clock| clock());
                tokio::task::spawn_blocking(move || seed::apply(storage.as_ref(), &seed, now))
                    .await
                    .map_err(|e| ServerError::Serve(e.to_string()))??
            }
            None => SeedReport::default(),
        };
        // Recomputes queued before a stop (or a crash) are done before serving.
        {
            let storage = storage.clone();
            let now = options
                .clock
                .as_ref()
                .map_or_else(Utc::now, |clock| clock());
            tokio::task::spawn_blocking(move || {
                attendance::recompute::run(storage.as_ref(), now)?;
                attendance::recompute::sweep(storage.as_ref(), now)
            })
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))??;
        }
        let sweeper = options.attendance_sweep.map(|every| {
            let storage = storage.clone();
            let clock = options.clock.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let storage = storage.clone();
                    let now = clock.as_ref().map_or_else(Utc::now, |clock| clock());
                    let swept = tokio::task::spawn_blocking(move || {
                        attendance::recompute::sweep(storage.as_ref(), now)
                    })
                    .await;
                    if let Ok(Err(e)) = swept {
                        tracing::warn!(error = %e, "attendance sweep failed; will try again");
                    }
                }
            })
        });
        let listener = serve::bind(listen).map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
        tracing::info!(
            %addr,
            organisations_created = seed_report.orgs_created.len(),
            "daka server listening"
        );
        let grace = options.shutdown_grace;
        let limits = serve::ConnectionLimits {
            header_read: options.header_read_timeout,
            idle: options.idle_timeout,
            max_connections: options.max_connections,
        };
        let state = api::AppState::new(storage.clone(), options);
        let app = api::router(state.clone());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve::serve(listener, app, limits, async {
                let _ = stop_rx.await;
            })
            .await
        });
        Ok(RunningServer {
            addr,
            state,
            grace,
            storage,
            seed_report,
            stop: Some(stop_tx),
            task: Some(task),
            sweeper,
        })
    }
}

/// A started server. Dropping it stops the server without waiting.
pub struct RunningServer {
    addr: SocketAddr,
    /// The handlers' state, whose lifecycle a stop drains.
    state: api::AppState,
    /// [`ServerOptions::shutdown_grace`].
    grace: Duration,
    storage: Arc<dyn Storage>,
    seed_report: SeedReport,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// The attendance sweep's timer task, stopped with the server.
    sweeper: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The storage the server runs on, for tools and tests.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// What the seed did at start-up.
    pub fn seed_report(&self) -> &SeedReport {
        &self.seed_report
    }

    /// Stops the server: `GET /ready` answers 503 at once and new requests are answered 503
    /// `shutting_down` (`Retry-After: 5`) while the requests in progress run to their end;
    /// then the listener closes (new connections are refused) and this returns. Whatever is
    /// still running when [`ServerOptions::shutdown_grace`] (default 10 s) has passed is ended.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        let deadline = tokio::time::Instant::now() + self.grace;
        let lifecycle = &self.state.inner.lifecycle;
        lifecycle.begin_drain();
        tracing::info!(
            in_progress = lifecycle.in_progress(),
            "stopping: refusing new requests, finishing those in progress"
        );
        if !lifecycle.drained(deadline).await {
            tracing::warn!(
                in_progress = lifecycle.in_progress(),
                "stopping: the grace period ended with requests in progress"
            );
        }
        if let Some(sweeper) = self.sweeper.take() {
            sweeper.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            // Answers already being written get a moment even when the grace is spent.
            let left = left.max(Duration::from_millis(500));
            match tokio::time::timeout(left, &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => return Err(ServerError::Serve(e.to_string())),
                Ok(Err(e)) => return Err(ServerError::Serve(e.to_string())),
                Err(_) => task.abort(),
            }
        }
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.state.inner.lifecycle.begin_drain();
        if let Some(sweeper) = self.sweeper.take() {
            sweeper.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
