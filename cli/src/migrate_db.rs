//! `daka migrate-db --from server.db --to postgres://…`: moves a deployment from its SQLite
//! file to an empty PostgreSQL database with the server's copy
//! ([`daka_server::storage::migrate_db`]), and prints one line per table (rows in the file,
//! rows in PostgreSQL) and the verification of every device's chain on the copy.
//!
//! Exit status: 0 copied and verified; 2 a usage error (no such file, a target that is not a
//! PostgreSQL URL or does not parse, a file at another schema version, a target that is not
//! empty: nothing was written); 1 the copy failed (the target unreachable, or nothing
//! committed) or a chain does not verify on the copy.

use std::path::PathBuf;

use clap::Args;
use daka_server::storage::migrate_db::{MigrateError, migrate_sqlite_to_postgres};
use daka_server::storage::postgres::is_postgres_url;

use crate::{exit, malformed};

#[derive(Args)]
pub struct MigrateDbArgs {
    /// The SQLite server database to copy (read only; stop the server first).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// The empty PostgreSQL database to copy into, `postgres://user:password@host:port/db`.
    #[arg(long, value_name = "URL")]
    to: String,
}

pub fn run(args: MigrateDbArgs) -> u8 {
    if !is_postgres_url(&args.to) {
        return malformed(format!(
            "--to: {:?} is not a PostgreSQL URL (postgres://user:password@host:port/database)",
            args.to
        ));
    }
    let report = match migrate_sqlite_to_postgres(&args.from, &args.to) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("daka: error: {e}");
            return match e {
                MigrateError::SourceMissing(_)
                | MigrateError::SourceTooOld { .. }
                | MigrateError::SourceTooNew { .. }
                | MigrateError::TargetNotEmpty { .. }
                | MigrateError::TargetUrl(_) => exit::MALFORMED,
                _ => exit::REJECTED,
            };
        }
    };
    println!("schema version {}", report.schema_version);
    println!("{:<24} {:>12} {:>12}", "table", "sqlite", "postgres");
    for t in &report.tables {
        println!(
            "{:<24} {:>12} {:>12}",
            t.table, t.source_rows, t.target_rows
        );
    }
    let total: u64 = report.tables.iter().map(|t| t.target_rows).sum();
    println!("{:<24} {:>12} {:>12}", "total", total, total);
    let broken: Vec<_> = report.chains.iter().filter(|(_, c)| !c.ok).collect();
    println!(
        "chains: {} devices, {} verified, {} broken",
        report.chains.len(),
        report.chains.len() - broken.len(),
        broken.len()
    );
    for (org, c) in &broken {
        let fault = c.error.as_ref();
        eprintln!(
            "daka: error: organisation {org}, device {} (employee {}): {} {}",
            c.device_id,
            c.employee_id,
            fault.map(|f| f.code.as_str()).unwrap_or("broken"),
            fault.map(|f| f.message.as_str()).unwrap_or("")
        );
    }
    if broken.is_empty() {
        exit::OK
    } else {
        exit::REJECTED
    }
}
