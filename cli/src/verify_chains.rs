//! `daka verify-chains --server URL --admin-token TOKEN`: asks a running server to verify
//! every device's punch chain of the organisation (`GET /admin/v1/chains/verify`, each chain
//! from its first record with the device's enrolled key, ending at the stored head) and prints
//! one line per device. The check to run after restoring a backup or moving a database.
//!
//! Exit status: 0 every chain verifies; 1 a chain does not, or the server could not be asked;
//! 2 a usage error (no admin token).

use clap::Args;
use daka_server::api::admin::ChainReport;

use crate::loadgen::admin::Admin;
use crate::{exit, malformed};

#[derive(Args)]
pub struct VerifyChainsArgs {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    server: String,
    /// The organisation's admin token (default: the environment variable DAKA_ADMIN_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
}

pub fn run(args: VerifyChainsArgs) -> u8 {
    let Some(token) = args
        .admin_token
        .clone()
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
        Admin::new(&args.server, &token)?
            .get("/admin/v1/chains/verify")
            .await
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daka: error: {e}");
            return exit::REJECTED;
        }
    };
    for d in &report.devices {
        match &d.error {
            None => println!(
                "ok      device {} (employee {}): {} records, last seq {}",
                d.device_id, d.employee_id, d.records, d.last_seq
            ),
            Some(f) => println!(
                "BROKEN  device {} (employee {}): {} at record {} (seq {}, punch {}): {}",
                d.device_id, d.employee_id, f.code, f.index, f.seq, f.punch_id, f.message
            ),
        }
    }
    let broken = report.devices.iter().filter(|d| !d.ok).count();
    println!(
        "{} devices, {} verified, {} broken",
        report.devices.len(),
        report.devices.len() - broken,
        broken
    );
    if report.ok { exit::OK } else { exit::REJECTED }
}
