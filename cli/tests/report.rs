//! `daka report` as a process: it reads a server database (seeded by the server itself) and
//! writes the month's XLSX workbook or its three CSV tables, says what it wrote on stderr,
//! and refuses a bad month or a missing database with status 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use daka_server::{Seed, Server, ServerConfig};

fn daka() -> Command {
    Command::new(env!("CARGO_BIN_EXE_daka"))
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A server database seeded with the example organisation, the server stopped.
fn seeded_db(dir: &Path) -> PathBuf {
    let db = dir.join("server.db");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = Server::start(ServerConfig {
            db_path: db.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(Seed::from_file(examples().join("seed.json")).unwrap()),
        })
        .await
        .unwrap();
        server.shutdown().await.unwrap();
    });
    db
}

fn report(args: &[&str]) -> Output {
    daka().arg("report").args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn report_writes_the_workbook_and_the_csv_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    let db = db.to_str().unwrap();
    let out = dir.path().join("nov.xlsx");
    let o = report(&[
        "--db",
        db,
        "--month",
        "2026-11",
        "--format",
        "xlsx",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim(),
        format!("wrote {}: 6 employees, 30 days", out.display())
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"PK"), "an XLSX file is a zip archive");

    let csv_dir = dir.path().join("exports");
    let o = report(&[
        "--db",
        db,
        "--month",
        "2026-11",
        "--format",
        "csv",
        "--out",
        csv_dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("6 employees, 30 days"),
        "{}",
        stderr(&o)
    );
    let summary = std::fs::read_to_string(csv_dir.join("attendance-2026-11-summary.csv")).unwrap();
    assert!(
        summary.starts_with('\u{feff}'),
        "a byte-order mark for Excel"
    );
    assert_eq!(summary.lines().count(), 1 + 6);
    assert!(
        summary.lines().any(|l| l.starts_with("E1001,")),
        "{summary}"
    );
    let days = std::fs::read_to_string(csv_dir.join("attendance-2026-11-days.csv")).unwrap();
    assert_eq!(days.lines().count(), 1 + 6 * 30);
    assert!(csv_dir.join("attendance-2026-11-warnings.csv").is_file());
}

#[test]
fn report_refuses_a_bad_month_a_missing_database_and_an_unknown_organisation() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.db");
    let o = report(&["--db", missing.to_str().unwrap(), "--month", "2026-11"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not a file"), "{}", stderr(&o));
    assert!(!missing.exists(), "a missing database is not created");

    let db = seeded_db(dir.path());
    let db = db.to_str().unwrap();
    let o = report(&["--db", db, "--month", "2026-13"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--month: \"2026-13\" is not a month"),
        "{}",
        stderr(&o)
    );
    let o = report(&["--db", db, "--month", "2026-11", "--org", "elsewhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("harbour-lane"), "{}", stderr(&o));
    let o = report(&["--db", db, "--month", "2026-11", "--format", "pdf"]);
    assert_eq!(o.status.code(), Some(2), "clap refuses an unknown format");
}

#[test]
fn report_fetches_the_export_from_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(async {
        Server::start(ServerConfig {
            db_path: dir.path().join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(Seed::from_file(examples().join("seed.json")).unwrap()),
        })
        .await
        .unwrap()
    });
    let url = server.url();
    let out = dir.path().join("nov.xlsx");
    let o = report(&[
        "--server",
        &url,
        "--token",
        "hl-demo-admin-token-change-me-0001",
        "--month",
        "2026-11",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"PK"), "an XLSX file is a zip archive");
    assert_eq!(
        stderr(&o).trim(),
        format!("wrote {} ({} bytes) from {url}", out.display(), bytes.len())
    );
    // The CSV tables too.
    let csv_dir = dir.path().join("exports");
    let o = report(&[
        "--server",
        &url,
        "--token",
        "hl-demo-admin-token-change-me-0001",
        "--month",
        "2026-11",
        "--format",
        "csv",
        "--out",
        csv_dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let days = std::fs::read_to_string(csv_dir.join("attendance-2026-11-days.csv")).unwrap();
    assert_eq!(days.lines().count(), 1 + 6 * 30);
    // A wrong token is the server's refusal, said plainly; no file is written.
    let refused = dir.path().join("refused.xlsx");
    let o = report(&[
        "--server",
        &url,
        "--token",
        "wrong",
        "--month",
        "2026-11",
        "--out",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("401"), "{}", stderr(&o));
    assert!(stderr(&o).contains("unauthorized"), "{}", stderr(&o));
    assert!(!refused.exists());
    // No token at all is a usage error.
    let o = daka()
        .env_remove("DAKA_ADMIN_TOKEN")
        .args(["report", "--server", &url, "--month", "2026-11"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--token"), "{}", stderr(&o));
    runtime.block_on(server.shutdown()).unwrap();
}
