//! `daka`: the command-line face of daka.
//!
//! * `daka check`: why was this punch accepted or rejected? Evaluates attempts with exactly
//!   the engine the SDK and the server run.
//! * `daka verify-log`: is this exported punch log complete and untampered?
//! * `daka fences`: how will honest staff and outsiders fare at each site? The fence advisor.
//! * `daka serve`: run the reference server (see docs/server.md).
//! * `daka report`: the monthly attendance export, from the server's database file.
//! * `daka migrate-db`: move a deployment from its SQLite file to PostgreSQL.
//! * `daka verify-chains`: verify every device's chain, on a running server or in its database.
//! * `daka loadgen`: a load test of a server: a fleet of simulated phones drains its backlogs,
//!   then every acknowledged punch is checked on the server.
//!
//! Exit status is part of the interface (scripts branch on it), see [`exit`].

mod check;
mod demo;
mod face_matcher;
mod fences;
pub(crate) mod loadgen;
mod migrate_db;
mod phone;
mod render;
mod report;
mod serve;
mod verify_chains;
mod verify_log;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit statuses.
pub mod exit {
    /// The punch is accepted / the log verifies.
    pub const OK: u8 = 0;
    /// The punch is rejected / the log is broken.
    pub const REJECTED: u8 = 1;
    /// The input (arguments, policy, attempt, log, key) is malformed; nothing was judged.
    pub const MALFORMED: u8 = 2;
    /// The punch is recorded as a field punch that needs a reviewer's approval.
    pub const FIELD_PUNCH: u8 = 3;
}

#[derive(Parser)]
#[command(name = "daka", version, about = "daka (打卡): attendance evidence engine", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A working day at a Hong Kong retailer, end to end: server, phone, offline queue, sync.
    ///
    /// Starts the reference server in-process with a temporary database, seeds the example
    /// company and drives a simulated phone through the day. Nothing to configure.
    Demo(demo::DemoArgs),
    /// Evaluate punch attempts under a policy and explain the verdict.
    ///
    /// One attempt from flags (--employee, --lat, --lon, --accuracy ...), from a JSON file
    /// (--attempt), or many from JSON Lines (--batch), one verdict per line.
    ///
    /// Exit status: 0 accepted, 1 rejected, 3 accepted as a field punch needing review,
    /// 2 malformed input. In batch mode: 0 if every line was evaluated, 2 if any was malformed.
    Check(check::CheckArgs),
    /// Verify an exported punch log (JSON Lines) against a device's public key.
    ///
    /// Exit status: 0 the chain verifies, 1 it is broken (the first bad record is named),
    /// 2 the log or key is malformed.
    VerifyLog(verify_log::VerifyLogArgs),
    /// Sign a face-match result as a test face matcher would (for integration testing).
    ///
    /// Prints a compact JWS for `daka check --token`. Use only with test or demonstration
    /// keys: a real face matcher signs after actually matching a face.
    FaceToken(face_matcher::FaceTokenArgs),
    /// Predict, per site, how honest staff and people outside fare, and suggest a tolerance.
    ///
    /// Simulates honest staff inside each site's fences and people 30, 100 and 200 m outside
    /// (seeded, GPS only, face check off) and judges them with the engine. Exit status: 0 the
    /// report was made, 2 the policy or an argument is malformed.
    Fences(fences::FencesArgs),
    /// Run the reference sync server on a SQLite database until Ctrl-C.
    ///
    /// Logs one line per request to standard error. Exit status: 0 after a clean stop,
    /// 2 if it cannot start (bad seed, database or address).
    Serve(serve::ServeArgs),
    /// Write a month's attendance export (XLSX, or CSV tables) from the server's database.
    ///
    /// Reads the SQLite file directly, with the same code as the server's report endpoint.
    /// Exit status: 0 written, 2 a usage error (missing database, bad month, unknown or
    /// ambiguous organisation), 1 the database or the file could not be read or written.
    Report(report::ReportArgs),
    /// A simulated phone for testing a server and its console: the real device runtime in a
    /// folder, one command at a time (enroll, punch, expense, sync, policy).
    ///
    /// Prints one JSON object per command. Exit status: 0 done, 2 a usage error, 4 the
    /// device refused or failed (`{"error": "<variant>", "message": ...}` on stdout).
    Phone(phone::PhoneArgs),
    /// Load-test a server: simulated devices push their backlogs of signed punches at once.
    ///
    /// Without --server it starts the reference server in-process with a temporary database
    /// and the example company. Reports punches per second, request latency percentiles,
    /// outcomes and errors, then checks through the admin API that every acknowledged punch
    /// is stored exactly once and every chain verifies. Exit status: 0 all delivered and
    /// checked, 1 the check failed (or the run could not be made), 2 a usage error, 4 checked
    /// but not everything was delivered (time limit, refused items).
    Loadgen(loadgen::LoadgenArgs),
    /// Copy a SQLite server database into an empty PostgreSQL database and verify the copy.
    ///
    /// Every table and row in one PostgreSQL transaction; then the row counts per table and
    /// every device's chain are checked on the copy. Exit status: 0 copied and verified,
    /// 2 refused (no such file, another schema version, a target that is not empty: nothing
    /// written), 1 the copy failed (nothing committed) or a chain does not verify.
    MigrateDb(migrate_db::MigrateDbArgs),
    /// Verify every device's punch chain, one line per device: through a running server
    /// (--server, --admin-token) or in its database (--db, a SQLite file or a PostgreSQL URL).
    ///
    /// The check after a restore or a move to another database. Exit status: 0 every chain
    /// verifies, 1 a chain does not (or the server or database could not be read), 2 a usage
    /// error (no admin token, no such file, a database without daka's tables).
    VerifyChains(verify_chains::VerifyChainsArgs),
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader goes away (`daka demo | head`)
    // instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Check(args) => check::run(args),
        Command::VerifyLog(args) => verify_log::run(args),
        Command::FaceToken(args) => face_matcher::run(args),
        Command::Fences(args) => fences::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Report(args) => report::run(args),
        Command::Phone(args) => phone::run(args),
        Command::Loadgen(args) => loadgen::run(args),
        Command::MigrateDb(args) => migrate_db::run(args),
        Command::VerifyChains(args) => verify_chains::run(args),
    };
    ExitCode::from(status)
}

/// Reads a file, or standard input for `-`.
pub(crate) fn read_input(path: &PathBuf) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// Prints a malformed-input error and returns the matching exit status.
pub(crate) fn malformed(message: impl std::fmt::Display) -> u8 {
    eprintln!("daka: error: {message}");
    exit::MALFORMED
}
