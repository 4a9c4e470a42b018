//! `daka verify-chains`: verifies every device's punch chain, each from its first record with
//! the device's enrolled key, ending at the stored head, and prints one line per device. The
//! check to run after restoring a backup or moving a database. Two ways to reach the chains:
//!
//! * `--server URL --admin-token TOKEN`: a running server's `GET /admin/v1/chains/verify`, for
//!   the organisation of the token;
//! * `--db FILE|URL`: the server's database itself, a SQLite file or a PostgreSQL URL, every
//!   organisation, with the same check ([`daka_server::storage::migrate_db::verify_chains`]).
//!   It never creates or upgrades a schema: a PostgreSQL database without daka's tables or at
//!   another schema version is refused. (A SQLite file from an older release is upgraded on
//!   opening, as `daka serve` and `daka report` do.)
//!
//! Exit status: 0 every chain verifies; 1 a chain does not, or the server or database could not
//! be read; 2 a usage error (no admin token, no such file, a database that is not a daka
//! server's).

use std::path::Path;

use clap::Args;
use daka_server::api::admin::{ChainCheck, ChainReport};
use daka_server::storage::migrate_db::verify_chains;
use daka_server::storage::postgres::{
    SCHEMA_VERSION, check_url, is_postgres_url, redact, schema_version_at,
};
use daka_server::{PostgresOptions, PostgresStorage, SqliteStorage, Storage};

use crate::loadgen::admin::Admin;
use crate::{exit, malformed};

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["server", "db"])))]
pub struct VerifyChainsArgs {
    /// A running server's base URL, e.g. `http://127.0.0.1:8080` (with --admin-token).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The server's database instead of a server: a SQLite file, or a PostgreSQL URL
    /// (postgres://user:password@host/database). Every organisation's chains are verified.
    #[arg(long, value_name = "FILE|URL")]
    db: Option<String>,
    /// With --server: the organisation's admin token (default: the environment variable
    /// DAKA_ADMIN_TOKEN).
    #[arg(long, value_name = "TOKEN", conflicts_with = "db")]
    admin_token: Option<String>,
}

pub fn run(args: VerifyChainsArgs) -> u8 {
    match (&args.server, &args.db) {
        (Some(server), _) => from_server(server, args.admin_token.clone()),
        (None, Some(db)) => from_database(db),
        (None, None) => malformed("give --server URL (with --admin-token) or --db FILE|URL"),
    }
}

/// Asks the server at `server` for its chain report.
fn from_server(server: &str, admin_token: Option<String>) -> u8 {
    let Some(token) = admin_token
        .or_else(|| std::env::var("DAKA_ADMIN_TOKEN").ok())
        .filter(|t| !t.is_empty())
    else {
        return malformed("--admin-token: missing (or set DAKA_ADMIN_TOKEN)");
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daka: error: cannot start the runtime: {e}");
            return exit::REJECTED;
        }
    };
    let report: Result<ChainReport, String> = runtime.block_on(async {
        Admin::new(server, &token)?
            .get("/admin/v1/chains/verify")
            .await
    });
    match report {
        Ok(r) => print_checks(r.devices.iter().map(|d| (None, d))),
        Err(e) => {
            eprintln!("daka: error: {e}");
            exit::REJECTED
        }
    }
}

/// Reads and verifies the chains in the database `db` (a SQLite file or a PostgreSQL URL).
fn from_database(db: &str) -> u8 {
    let storage: Box<dyn Storage> = if is_postgres_url(db) {
        match open_postgres(db) {
            Ok(s) => Box::new(s),
            Err(status) => return status,
        }
    } else {
        let path = Path::new(db);
        if !path.is_file() {
            return malformed(format!(
                "--db: {db} is not a file (give the server's SQLite database, e.g. --db \
                 server.db, or a postgres:// URL)"
            ));
        }
        match SqliteStorage::open(path) {
            Ok(s) => Box::new(s),
            Err(e) => {
                eprintln!("daka: error: --db {db}: {e}");
                return exit::REJECTED;
            }
        }
    };
    match verify_chains(storage.as_ref()) {
        Ok(checks) => print_checks(checks.iter().map(|(org, c)| (Some(org.as_str()), c))),
        Err(e) => {
            eprintln!("daka: error: --db {}: {e}", display_db(db));
            exit::REJECTED
        }
    }
}

/// Opens the PostgreSQL database at `url` if it holds daka's schema at this release's
/// version, without writing to it; otherwise the exit status, the reason printed.
fn open_postgres(url: &str) -> Result<PostgresStorage, u8> {
    let target = redact(url);
    let failed = |e: daka_server::StorageError| {
        eprintln!("daka: error: --db {target}: {e}");
        exit::REJECTED
    };
    // A URL that does not parse, or asks for TLS, is a usage error.
    if let Err(e) = check_url(url) {
        return Err(malformed(format!("--db: {e}")));
    }
    let found = schema_version_at(url).map_err(failed)?;
    if found == 0 {
        return Err(malformed(format!(
            "--db {target}: the database holds no daka tables; is it the server's database?"
        )));
    }
    if found != SCHEMA_VERSION {
        return Err(malformed(format!(
            "--db {target}: schema version {found}, but this release reads version \
             {SCHEMA_VERSION}; use the release that wrote it, or start this release's \
             `daka serve --db` on it once to upgrade it"
        )));
    }
    PostgresStorage::open(url, &PostgresOptions::default()).map_err(failed)
}

/// The database as messages name it (a PostgreSQL URL without its password).
fn display_db(db: &str) -> String {
    if is_postgres_url(db) {
        redact(db)
    } else {
        db.to_owned()
    }
}

/// Prints one line per device (with its organisation when known) and the totals; the exit
/// status.
fn print_checks<'a>(checks: impl Iterator<Item = (Option<&'a str>, &'a ChainCheck)>) -> u8 {
    let (mut devices, mut broken) = (0, 0);
    for (org, d) in checks {
        devices += 1;
        let org = org
            .map(|o| format!("organisation {o}, "))
            .unwrap_or_default();
        match &d.error {
            None if d.ok => println!(
                "ok      {org}device {} (employee {}): {} records, last seq {}",
                d.device_id, d.employee_id, d.records, d.last_seq
            ),
            None => {
                broken += 1;
                println!(
                    "BROKEN  {org}device {} (employee {}): does not verify",
                    d.device_id, d.employee_id
                );
            }
            Some(f) => {
                broken += 1;
                println!(
                    "BROKEN  {org}device {} (employee {}): {} at record {} (seq {}, punch {}): {}",
                    d.device_id, d.employee_id, f.code, f.index, f.seq, f.punch_id, f.message
                );
            }
        }
    }
    println!(
        "{devices} devices, {} verified, {broken} broken",
        devices - broken
    );
    if broken == 0 {
        exit::OK
    } else {
        exit::REJECTED
    }
}
