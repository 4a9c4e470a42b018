//! `daka loadgen`: how many punches a second does a daka server take, how long does a push
//! wait, and does it keep every one it acknowledges?
//!
//! It simulates a fleet of phones coming back online at once, each with its own Ed25519 key,
//! hash chain and offline backlog of real signed punch records ([`fleet`]), made before the
//! clock starts. Then every device drains its backlog through `POST /v1/push` as the sync
//! protocol says ([`drive`]), and afterwards the servers' admin API is asked whether every
//! acknowledged record is stored exactly once and every chain verifies ([`integrity`]).
//!
//! The target is one or more running servers (`--server`, with `--admin-token`), or, without
//! `--server`, the reference server started in-process on loopback with a temporary SQLite
//! database and the example company. The example policy has six employees and the server
//! lets an employee enrol any number of devices, so the devices are spread over those six.
//!
//! Beside the run it times a bare Ed25519 verification of the fleet's own records on this
//! machine, so the server's cost per punch is also given as a multiple of the one signature
//! check it cannot avoid.

pub(crate) mod admin;
mod drive;
mod fleet;
mod integrity;
mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use daka_server::{Seed, Server, ServerConfig, ServerOptions};
use serde_json::Value;

use crate::exit;
use admin::Admin;
use drive::DriveConfig;
use integrity::Expected;

/// Exit status when the run ended before every punch was delivered (time limit, a refused
/// item or a device stopped), while the integrity check passed.
pub const INCOMPLETE: u8 = 4;

type LoadResult<T> = Result<T, String>;

const POLICY: &str = include_str!("../../../examples/hk-policy.json");
/// The in-process server's admin token (the server lives only for the run, on loopback).
const LOCAL_ADMIN_TOKEN: &str = "loadgen-admin-token-in-process-only-0001";

#[derive(Args)]
pub struct LoadgenArgs {
    /// Simulated devices, each with its own key, chain and backlog.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    devices: u32,
    /// Punches in each device's offline backlog.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    punches: u32,
    /// A running server's base URL (repeatable: devices are spread round-robin). Without it,
    /// the reference server runs in-process with a temporary database.
    #[arg(long, value_name = "URL")]
    server: Vec<String>,
    /// The organisation's admin token on every --server (issues the enrolment codes, reads
    /// the punches back); default: the environment variable DAKA_ADMIN_TOKEN.
    #[arg(long)]
    admin_token: Option<String>,
    /// Push requests in flight at once across the fleet (default: one per device).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: Option<u32>,
    /// Items per push request (default: the device runtime's first batch size, 100).
    #[arg(long, default_value_t = daka_device::sync::batching::BatchSizer::START_ITEMS as u32,
          value_parser = clap::value_parser!(u32).range(1..=daka_core::protocol::MAX_PUSH_ITEMS as i64))]
    batch: u32,
    /// Stop pushing after this long and report what was done: seconds, or with a unit
    /// (`90s`, `5m`, `1h`).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    duration_limit: Duration,
    /// Each push request's timeout, as --duration-limit.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Connect each device at its first push, inside the clock (a fleet reconnecting together,
    /// every connection opened at once), rather than before the clock starts.
    #[arg(long)]
    cold_start: bool,
    /// Send every push with its body at once, a backlog's first and one refused `busy` again,
    /// without asking `POST /v1/push/turn` first (as the SDK did before the server offered it).
    #[arg(long)]
    no_turn: bool,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    json: bool,
}

/// `90`, `90s`, `1500ms`, `5m`, `1h` → a duration of at least a millisecond.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: a whole number with s, ms, m or h"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?}; use s, ms, m or h"
            ));
        }
    };
    if d.is_zero() {
        return Err(format!("{text:?}: the duration must be positive"));
    }
    Ok(d)
}

pub fn run(mut args: LoadgenArgs) -> u8 {
    if args.admin_token.is_none() {
        args.admin_token = std::env::var("DAKA_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
    }
    if !args.server.is_empty() && args.admin_token.is_none() {
        return crate::malformed(
            "--server needs --admin-token (or DAKA_ADMIN_TOKEN): the load generator issues \
             enrolment codes and reads the punches back through the admin API",
        );
    }
    for url in &args.server {
        if let Err(e) = daka_device::sync::client::SyncClient::new(url, Default::default()) {
            return crate::malformed(format!("--server {url:?}: {e}"));
        }
    }
    raise_open_files_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daka loadgen: cannot start the async runtime: {e}");
            return exit::REJECTED;
        }
    };
    match runtime.block_on(load(args)) {
        Ok(report) => {
            report.print();
            report.exit_status()
        }
        Err(e) => {
            eprintln!("daka loadgen: {e}");
            exit::REJECTED
        }
    }
}

/// The in-process server and its database's folder, kept until the run ends.
struct Local {
    server: daka_server::RunningServer,
    _dir: tempfile::TempDir,
}

async fn start_local() -> LoadResult<Local> {
    let policy: Value = serde_json::from_str(POLICY).map_err(|e| e.to_string())?;
    let seed = serde_json::json!({
        "organisations": [{
            "id": policy["org"]["id"],
            "name": policy["org"]["name"],
            "admin_token": LOCAL_ADMIN_TOKEN,
            "policy": policy,
        }]
    });
    let seed = Seed::from_json(&seed.to_string(), None).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let server = Server::start_with(
        ServerConfig {
            db_path: dir.path().join("server.db"),
            listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
            seed: Some(seed),
        },
        ServerOptions::default(),
    )
    .await
    .map_err(|e| format!("cannot start the in-process server: {e}"))?;
    Ok(Local { server, _dir: dir })
}

async fn load(args: LoadgenArgs) -> LoadResult<report::Report> {
    let local = if args.server.is_empty() {
        Some(start_local().await?)
    } else {
        None
    };
    let (urls, token) = match &local {
        Some(l) => (vec![l.server.url()], LOCAL_ADMIN_TOKEN.to_string()),
        None => (
            args.server
                .iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            args.admin_token.clone().unwrap_or_default(),
        ),
    };
    let admins = urls
        .iter()
        .map(|u| Admin::new(u, &token))
        .collect::<LoadResult<Vec<_>>>()?;
    let mut orgs = Vec::with_capacity(admins.len());
    for admin in &admins {
        orgs.push(Arc::new(fleet::Org::read(admin).await?));
    }
    let devices = args.devices as usize;
    let punches = args.punches as usize;

    let prepared = Instant::now();
    let fleet = Arc::new(fleet::build(&admins, &orgs, devices, punches).await?);
    let preparation = prepared.elapsed();
    let verify = report::verify_baseline(&fleet);

    let cpu_before = report::process_cpu();
    let config = DriveConfig {
        batch: args.batch as usize,
        concurrency: args.concurrency.map_or(devices, |c| c as usize),
        deadline: Instant::now() + args.duration_limit,
        request_timeout: args.request_timeout,
        cold_start: args.cold_start,
        ask_turn: !args.no_turn,
    };
    let drive::Driven {
        stats,
        deliveries,
        wall,
        connect,
    } = drive::drive(&urls, fleet.clone(), config).await?;
    let cpu = report::process_cpu()
        .zip(cpu_before)
        .map(|(a, b)| a.saturating_sub(b));

    let mut expected: Vec<Vec<Expected>> = (0..urls.len()).map(|_| Vec::new()).collect();
    for (device, delivery) in fleet.iter().zip(&deliveries) {
        expected[device.target].push(Expected {
            device_id: device.device_id.clone(),
            acknowledged: device
                .backlog
                .iter()
                .zip(&delivery.answers)
                .filter(|(_, a)| drive::acknowledged(a))
                .map(|(b, _)| b.id.clone())
                .collect(),
        });
    }
    let integrity = integrity::check(&admins, &expected).await?;
    if let Some(l) = local {
        l.server
            .shutdown()
            .await
            .map_err(|e| format!("the in-process server did not stop cleanly: {e}"))?;
    }
    Ok(report::Report::new(report::Inputs {
        targets: if args.server.is_empty() {
            vec!["in-process".to_string()]
        } else {
            urls
        },
        employees: orgs.iter().map(|o| o.employees()).sum(),
        devices,
        punches,
        batch: config.batch,
        concurrency: config.concurrency,
        preparation,
        connect,
        wall,
        cpu,
        verify,
        stats,
        deliveries: &deliveries,
        integrity,
        json: args.json,
    }))
}

/// Raises the soft limit on open files to the hard limit: a thousand devices hold a thousand
/// connections, and an in-process server as many again.
fn raise_open_files_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_units_and_refuse_the_rest() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").unwrap_err().contains("positive"));
        assert!(
            parse_duration("5 min")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("soon").unwrap_err().contains("\"soon\""));
    }
}
