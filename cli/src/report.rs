//! `daka report`: the monthly attendance export, read straight from the server's SQLite file
//! through the same code as `GET /admin/v1/reports/attendance` (the engine's month of every
//! employee with attendance settings, under the organisation's current policy, as of now), or
//! fetched from a running server's admin API with `--server URL` (the admin token from
//! `--token` or `DAKA_ADMIN_TOKEN`).
//!
//! `--format xlsx` (the default) writes one workbook to `--out` (default
//! `attendance-YYYY-MM.xlsx`); `--format csv` writes the summary, days and warnings tables as
//! `attendance-YYYY-MM-summary.csv`, `-days.csv` and `-warnings.csv` into the directory
//! `--out` (default the current directory; created if missing). One line on stderr says what
//! was written. Exit status: 0 written, 2 a usage error (missing database, bad month, several
//! organisations without `--org`, an unknown organisation), 1 the database or the file could
//! not be read or written.

use std::path::{Path, PathBuf};

use chrono::Utc;
use clap::{Args, ValueEnum};
use daka_server::api::attendance::render;
use daka_server::attendance::month::{MonthError, month_results};
use daka_server::attendance::params::{self, Format, Sheet};
use daka_server::{SqliteStorage, Storage};

use crate::{exit, malformed};

#[derive(Args)]
pub struct ReportArgs {
    /// The server's SQLite database file.
    #[arg(long, value_name = "FILE", default_value = "server.db")]
    db: PathBuf,
    /// The month, YYYY-MM.
    #[arg(long, value_name = "YYYY-MM")]
    month: String,
    /// `xlsx`: one workbook; `csv`: the summary, days and warnings tables as three files.
    #[arg(long, value_name = "FORMAT", default_value = "xlsx")]
    format: ReportFormat,
    /// xlsx: the file to write (default attendance-YYYY-MM.xlsx); csv: the directory to
    /// write the three files into (default the current directory).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// The organisation, when the database holds several.
    #[arg(long, value_name = "ID")]
    org: Option<String>,
    /// A running server's base URL, e.g. `http://127.0.0.1:8080`: fetch the export from its
    /// admin API instead of reading a database file.
    #[arg(long, value_name = "URL", conflicts_with = "org")]
    server: Option<String>,
    /// The organisation's admin token for `--server` (default: the `DAKA_ADMIN_TOKEN`
    /// environment variable).
    #[arg(long, value_name = "TOKEN", requires = "server")]
    token: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Xlsx,
    Csv,
}

/// A failure that is not the caller's input.
fn failed(message: impl std::fmt::Display) -> u8 {
    eprintln!("daka: error: {message}");
    exit::REJECTED
}

pub fn run(args: ReportArgs) -> u8 {
    let month = match params::month("--month", &args.month) {
        Ok(m) => m,
        Err(e) => return malformed(e),
    };
    if let Some(server) = &args.server {
        return from_server(server, &args, month);
    }
    if !args.db.is_file() {
        return malformed(format!(
            "--db: {} is not a file (give the server's database, e.g. --db server.db)",
            args.db.display()
        ));
    }
    let storage = match SqliteStorage::open(&args.db) {
        Ok(s) => s,
        Err(e) => return failed(format!("cannot open {}: {e}", args.db.display())),
    };
    let orgs = match storage.org_ids() {
        Ok(o) => o,
        Err(e) => return failed(e),
    };
    let org = match (&args.org, orgs.as_slice()) {
        (Some(id), _) if orgs.contains(id) => id.clone(),
        (Some(id), _) => {
            return malformed(format!(
                "--org: {id:?} is not in {} (it has: {})",
                args.db.display(),
                orgs.join(", ")
            ));
        }
        (None, [one]) => one.clone(),
        (None, []) => return malformed(format!("{} has no organisation", args.db.display())),
        (None, _) => {
            return malformed(format!(
                "{} holds several organisations; choose one with --org ({})",
                args.db.display(),
                orgs.join(", ")
            ));
        }
    };
    let results = match month_results(&storage, &org, month, None, Utc::now()) {
        Ok(r) => r,
        Err(MonthError::NoPolicy) => {
            return malformed(format!("organisation {org} has no policy yet"));
        }
        Err(e) => return failed(e),
    };
    let report = results.report();
    let employees = report.employees.len();
    let days = month
        .last()
        .map_or(0, |l| chrono::Datelike::day(&l) as usize);
    let written = match args.format {
        ReportFormat::Xlsx => {
            let path = args
                .out
                .unwrap_or_else(|| PathBuf::from(format!("{}.xlsx", report.file_stem())));
            write(&report, Format::Xlsx, Sheet::Summary, &path).map(|()| vec![path])
        }
        ReportFormat::Csv => {
            let dir = args.out.unwrap_or_else(|| PathBuf::from("."));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                return failed(format!("cannot create {}: {e}", dir.display()));
            }
            [Sheet::Summary, Sheet::Days, Sheet::Warnings]
                .into_iter()
                .map(|sheet| {
                    let path = dir.join(format!("{}-{}.csv", report.file_stem(), sheet.as_str()));
                    write(&report, Format::Csv, sheet, &path).map(|()| path)
                })
                .collect()
        }
    };
    match written {
        Ok(paths) => {
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            eprintln!(
                "wrote {}: {employees} employees, {days} days",
                names.join(", ")
            );
            exit::OK
        }
        Err(e) => failed(e),
    }
}

fn write(
    report: &daka_server::report::MonthReport,
    format: Format,
    sheet: Sheet,
    path: &Path,
) -> Result<(), String> {
    let (bytes, _, _) = render(report, format, sheet).map_err(|e| e.to_string())?;
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The export fetched from a running server's admin API and written as from a database.
fn from_server(server: &str, args: &ReportArgs, month: daka_core::attendance::Month) -> u8 {
    let token = match args
        .token
        .clone()
        .or_else(|| std::env::var("DAKA_ADMIN_TOKEN").ok())
    {
        Some(t) if !t.is_empty() => t,
        _ => {
            return malformed(
                "--token: the organisation's admin token is needed with --server (or set DAKA_ADMIN_TOKEN)",
            );
        }
    };
    let base = server.trim_end_matches('/');
    let stem = format!("attendance-{month}");
    let requests: Vec<(String, PathBuf)> = match args.format {
        ReportFormat::Xlsx => vec![(
            format!("{base}/admin/v1/reports/attendance?month={month}&format=xlsx"),
            args.out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{stem}.xlsx"))),
        )],
        ReportFormat::Csv => {
            let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                return failed(format!("cannot create {}: {e}", dir.display()));
            }
            ["summary", "days", "warnings"]
                .into_iter()
                .map(|sheet| {
                    (
                        format!("{base}/admin/v1/reports/attendance?month={month}&format=csv&sheet={sheet}"),
                        dir.join(format!("{stem}-{sheet}.csv")),
                    )
                })
                .collect()
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return failed(format!("cannot start the HTTP client: {e}")),
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start the HTTP client: {e}")),
    };
    let mut written = Vec::new();
    for (url, path) in requests {
        let fetched = runtime.block_on(async {
            let r = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|e| format!("cannot reach {base}: {e}"))?;
            let status = r.status();
            let bytes = r
                .bytes()
                .await
                .map_err(|e| format!("cannot read the answer of {base}: {e}"))?;
            if status.is_success() {
                Ok(bytes)
            } else {
                let why = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| {
                        Some(format!(
                            "{} ({})",
                            v["message"].as_str()?,
                            v["code"].as_str()?
                        ))
                    })
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
                Err(format!("{base} answered {status}: {why}"))
            }
        });
        let bytes = match fetched {
            Ok(b) => b,
            Err(e) => return failed(e),
        };
        if let Err(e) = std::fs::write(&path, &bytes) {
            return failed(format!("cannot write {}: {e}", path.display()));
        }
        written.push(format!("{} ({} bytes)", path.display(), bytes.len()));
    }
    eprintln!("wrote {} from {base}", written.join(", "));
    exit::OK
}
