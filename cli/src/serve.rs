//! `daka serve`: runs the reference server (`daka-server`) on a SQLite file until Ctrl-C.
//!
//! One line per request goes to standard error (method, path, status, milliseconds, request
//! id), or with `--log-format json` one JSON object per line for every event (the server's
//! access events included: timestamp, level, message, request id, route, status, latency);
//! start-up problems (an unreadable seed, a database from a newer version, a port in use) are
//! reported with exit status 2. Ctrl-C (or SIGTERM) turns `/ready` to 503, answers new
//! requests 503 `shutting_down`, lets requests in progress finish, closes the listener and
//! exits 0. Put TLS in front of it (see docs/server.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use daka_server::{
    RequestLog, RequestLogger, Seed, Server, ServerClock, ServerConfig, ServerOptions,
};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::{exit, malformed};

#[derive(Args)]
pub struct ServeArgs {
    /// SQLite database file, created on first start; or a PostgreSQL URL
    /// (postgres://user:password@host/database), whose tables are created on first start.
    #[arg(long, value_name = "FILE|URL", default_value = "server.db")]
    db: PathBuf,
    /// Most connections to a PostgreSQL database (2 to 1000); a SQLite file ignores it.
    #[arg(long, value_name = "N", default_value_t = daka_server::storage::postgres::DEFAULT_POOL_SIZE,
          value_parser = clap::value_parser!(u32).range(2..=1000))]
    db_pool_size: u32,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seed file: organisations, admin tokens, policies, enrolment codes (see docs/server.md).
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// The server's own events on stderr (start, pushes not applied; `debug` adds every push
    /// applied, with its counts). Request lines are printed at every level but `off`.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: LogLevel,
    /// `text`: a line per request and per event, for people; `json`: one JSON object per line
    /// (timestamp, level, message, fields, and the request's id, method and route), for log
    /// collectors. Neither contains tokens, cookies, passwords or bodies.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// A bearer token that GET /metrics requires (Authorization: Bearer TOKEN); without it
    /// the metrics are served to anyone who reaches the server.
    #[arg(long, value_name = "TOKEN", value_parser = metrics_token)]
    metrics_token: Option<String>,
    /// Map tiles behind the console's site maps, a URL template such as
    /// 'https://tile.example/{z}/{x}/{y}.png' (default: a plain projected background).
    #[arg(long, value_name = "URL")]
    map_tiles: Option<String>,
    /// Run the server's clock from this instant (RFC 3339, e.g. 2026-12-01T09:50:00+08:00)
    /// instead of the system's, at the normal speed: for demonstrations and tests that need
    /// a known day and hour. Never for real attendance.
    #[arg(long, value_name = "TIME")]
    clock_start: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// A reverse proxy (load balancer, TLS terminator) whose X-Forwarded-For is believed,
    /// as an address or a network (10.0.0.0/8); repeatable. Without one, the TCP peer is the
    /// client the console's sign-in limit counts.
    #[arg(long, value_name = "CIDR", value_parser = proxy_network)]
    trusted_proxy: Vec<ipnet::IpNet>,
    /// Longest wait, in milliseconds, a push is expected to have behind the pushes already
    /// admitted; past it the push is answered 503 busy at once with a Retry-After, which the
    /// SDK honours (default 5000).
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    max_push_wait_ms: u64,
    /// The scheduling priority (nice, 0 to 19) of the threads that check the pushes'
    /// signatures, which do most of a busy server's work: at a lower priority than the rest,
    /// the answers that take little work (a push refused while the server is busy, a token
    /// looked up, a health check, the console) are not kept waiting behind them when the
    /// processor is short, and they still get all of it when it is not. 0 for the same
    /// priority as the rest. Linux only; ignored elsewhere.
    #[arg(long, value_name = "NICE", default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=19))]
    check_nice: u8,
    /// The platform attestations this server verifies at enrolment, a JSON file: Play
    /// Integrity's keys per app ({"play_integrity": {"apps": [...]}}), App Attest's
    /// environment ({"app_attest": {"environment": "production"}}) and Android key
    /// attestation ({"key_attestation": {}}); see docs/server.md. It holds
    /// secrets: readable by the server's user only. Without it, an organisation whose policy
    /// requires attestation cannot enrol phones.
    #[arg(long, value_name = "FILE")]
    attestation_config: Option<PathBuf>,
}

/// The verifiers `--attestation-config` names.
fn attestation_verifiers(path: &std::path::Path) -> Result<daka_attest::Verifiers, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--attestation-config {}: {e}", path.display()))?;
    daka_attest::Verifiers::from_config_json(&text)
        .map_err(|e| format!("--attestation-config {}: {e}", path.display()))
}

/// Starts the process's rayon pool, where the server checks the pushes' signatures ahead of
/// their transactions, as threads named `daka-check-N` at `nice` (see `--check-nice`). A
/// thread whose priority cannot be lowered (a sandbox that forbids it) runs at the usual one,
/// with a warning.
fn start_check_threads(nice: u8) -> Result<(), rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|n| format!("daka-check-{n}"))
        .start_handler(move |_| lower_this_thread(nice))
        .build_global()
}

/// Lowers the calling thread's scheduling priority to `nice` (on Linux a priority is a
/// thread's own, not the process's).
#[cfg(target_os = "linux")]
fn lower_this_thread(nice: u8) {
    if nice == 0 {
        return;
    }
    // SAFETY: gettid has no preconditions; setpriority on the calling thread's own id only
    // changes that thread's nice value.
    let lowered = unsafe {
        let tid = libc::gettid();
        libc::setpriority(
            libc::PRIO_PROCESS,
            tid as libc::id_t,
            libc::c_int::from(nice),
        )
    };
    if lowered != 0 {
        tracing::warn!(
            nice,
            error = %std::io::Error::last_os_error(),
            "cannot lower a signature-check thread's priority; it runs at the usual one"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_thread(_nice: u8) {}

/// An address (`10.1.2.3`, taken as a /32 or /128) or a network (`10.0.0.0/8`).
fn proxy_network(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is not an address or a network like 10.0.0.0/8"))
}

/// A metrics token: 16 to 256 visible ASCII characters, so it fits a header and is not
/// guessable by its length.
fn metrics_token(text: &str) -> Result<String, String> {
    let n = text.len();
    if !(16..=256).contains(&n) || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "a metrics token is 16 to 256 visible ASCII characters (got {n} characters{})",
            if text.bytes().all(|b| b.is_ascii_graphic()) {
                ""
            } else {
                ", some not visible ASCII"
            }
        ));
    }
    Ok(text.to_owned())
}

/// How `daka serve` writes its log.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// How much of the server's event log `daka serve` prints.
#[derive(Clone, Copy, ValueEnum)]
enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Off => LevelFilter::OFF,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
        }
    }
}

/// Prints the server's `tracing` events to stderr, one line each, at `level` and above. As
/// text, the server's access events are left out: the request lines printed from the request
/// log say the same in the format people know.
fn install_event_log(level: LogLevel, format: LogFormat) {
    let registry = tracing_subscriber::registry();
    let without_access = Targets::new()
        .with_default(level.filter())
        .with_target(daka_server::api::telemetry::ACCESS_TARGET, LevelFilter::OFF);
    let text = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(std::io::stderr);
    // `try_init`: a subscriber already installed (by an embedding program) is kept.
    let _ = match format {
        LogFormat::Text => registry.with(text.with_filter(without_access)).try_init(),
        LogFormat::Json => registry.with(json.with_filter(level.filter())).try_init(),
    };
}

/// A message of `daka serve` itself: a plain line, or in JSON an event like the server's.
fn say(format: LogFormat, message: &str) {
    match format {
        LogFormat::Text => eprintln!("daka serve: {message}"),
        LogFormat::Json => tracing::info!(target: "daka::serve", "{message}"),
    }
}

pub fn run(args: ServeArgs) -> u8 {
    install_event_log(args.log_level, args.log_format);
    let format = args.log_format;
    let print_requests = !matches!(args.log_level, LogLevel::Off) && format == LogFormat::Text;
    if let Some(t) = &args.map_tiles
        && let Err(e) = daka_server::console::map::tile_origin(t)
    {
        return malformed(format!("--map-tiles: {e}"));
    }
    let seed = match args.seed.as_ref().map(Seed::from_file).transpose() {
        Ok(seed) => seed,
        Err(e) => return malformed(e),
    };
    let attestation = match args
        .attestation_config
        .as_deref()
        .map(attestation_verifiers)
    {
        None => daka_attest::Verifiers::new(),
        Some(Ok(verifiers)) => verifiers,
        Some(Err(e)) => return malformed(e),
    };
    let attestation_formats = attestation.formats();
    if let Err(e) = start_check_threads(args.check_nice) {
        return malformed(format!("cannot start the signature-check threads: {e}"));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return malformed(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let options = ServerOptions {
            request_log: print_requests.then(|| -> RequestLogger {
                Arc::new(|r: &RequestLog| {
                    eprintln!(
                        "{} {} {} {}ms {}",
                        r.method,
                        r.path,
                        r.status,
                        r.elapsed.as_millis(),
                        r.request_id
                    );
                })
            }),
            console_map_tiles: args.map_tiles.clone(),
            clock: args.clock_start.map(|start| -> ServerClock {
                let start = start.with_timezone(&chrono::Utc);
                let began = std::time::Instant::now();
                Arc::new(move || {
                    start + chrono::Duration::from_std(began.elapsed()).unwrap_or_default()
                })
            }),
            trusted_proxies: args.trusted_proxy.clone(),
            metrics_token: args.metrics_token.clone(),
            max_push_wait: std::time::Duration::from_millis(args.max_push_wait_ms),
            db_pool_size: args.db_pool_size,
            attestation,
            ..ServerOptions::default()
        };
        let config = ServerConfig {
            db_path: args.db.clone(),
            listen: args.listen,
            seed,
        };
        let server = match Server::start_with(config, options).await {
            Ok(server) => server,
            Err(e) => return malformed(e),
        };
        let report = server.seed_report();
        for org in &report.orgs_created {
            say(format, &format!("created organisation {org}"));
        }
        for (org, version) in &report.policies_published {
            say(format, &format!("published policy version {version} of {org}"));
        }
        for (org, seed_version, stored) in &report.policies_kept {
            say(
                format,
                &format!(
                    "kept policy version {stored} of {org} (the seed has the older version {seed_version})"
                ),
            );
        }
        if report.codes_added > 0 {
            say(format, &format!("added {} enrolment code(s)", report.codes_added));
        }
        if report.console_accounts_added > 0 {
            say(
                format,
                &format!(
                    "created {} web console account(s)",
                    report.console_accounts_added
                ),
            );
        }
        if let Some(start) = args.clock_start {
            say(
                format,
                &format!(
                    "the server's clock runs from {} (--clock-start), not the system's",
                    start.to_rfc3339()
                ),
            );
        }
        if !attestation_formats.is_empty() {
            say(
                format,
                &format!(
                    "verifies enrolment attestations: {} (--attestation-config)",
                    attestation_formats.join(", ")
                ),
            );
        }
        let stop = StopSignals::install();
        say(
            format,
            &format!(
                "listening on {} (database {}); Ctrl-C to stop",
                server.url(),
                shown_db(&args.db)
            ),
        );
        say(
            format,
            &format!("the web console is at {}/console/", server.url()),
        );
        stop.wait().await;
        say(format, "stopping");
        match server.shutdown().await {
            Ok(()) => exit::OK,
            Err(e) => {
                say(format, &e.to_string());
                exit::REJECTED
            }
        }
    })
}

/// The database as the start-up line shows it: a PostgreSQL URL without its password.
fn shown_db(db: &std::path::Path) -> String {
    match db.to_str() {
        Some(url) if daka_server::storage::postgres::is_postgres_url(url) => {
            daka_server::storage::postgres::redact(url)
        }
        _ => db.display().to_string(),
    }
}

/// Ctrl-C, or SIGTERM on Unix (what service managers and containers send). The handlers are
/// installed when this is created, so create it before telling anyone the server is up: a
/// signal that arrives before the first poll then still stops the server cleanly.
struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            if self.interrupt.is_none() && self.terminate.is_none() {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
            tokio::select! {
                _ = recv(&mut self.interrupt) => {}
                _ = recv(&mut self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
