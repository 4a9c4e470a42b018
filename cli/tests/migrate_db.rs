//! `daka migrate-db` and `daka verify-chains` as processes, on the files and databases a
//! `daka serve` process wrote: a seeded SQLite server with punches and an approved request is
//! copied into PostgreSQL and its chains verify there; a tampered record is named (device and
//! seq) with exit status 1 on SQLite, on PostgreSQL and through a server; a missing file, a
//! URL that is not PostgreSQL's or does not parse, an empty or non-empty target each get their
//! exit status and a message naming the value, never a password.
//!
//! The PostgreSQL tests run when `DAKA_TEST_POSTGRES` names a cluster (`scripts/pg.sh start`)
//! and skip otherwise; the SQLite test always runs.

#[path = "../../server/tests/common/mod.rs"]
mod common;
mod support;

use std::path::Path;

use common::{
    POSTGRES_ENV, PgDatabase, TestDevice, decision_item, postgres_admin_url, preview,
    submission_item,
};
use daka_core::approvals::Action;
use daka_core::protocol::ItemStatus;
use serde_json::json;
use support::{Instance, SEED_ADMIN, daka, enrol, http, push};
use uuid::Uuid;

/// Rewrites the record of `device`'s punch at seq 2 (`"kind":"in"` → `"kind":"out"`) in the
/// SQL of both backends, as someone with access to the database could.
const TAMPER: &str = "UPDATE punch SET record = replace(record, '\"kind\":\"in\"', '\"kind\":\"out\"') \
                      WHERE device_id = $1 AND seq = 2";

/// Runs `daka args`: exit status, stdout, stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = daka().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `daka serve` process on the SQLite file `db` with the example seed; a device of E1001 that
/// pushed three punches, a device of its manager E0101, and E1001's leave request approved by
/// the manager. The server is stopped (SIGTERM, status 0) before this returns the devices.
async fn seeded_sqlite_server(db: &Path) -> (TestDevice, TestDevice) {
    let db_text = db.to_str().unwrap().to_owned();
    let server = tokio::task::spawn_blocking(move || Instance::start(&db_text))
        .await
        .unwrap();
    let http = http();
    let mut dev = enrol(&http, &server.url, "E1001").await;
    let manager = enrol(&http, &server.url, "E0101").await;
    let items = (0..3)
        .map(|_| {
            let r = dev.good_record();
            dev.item(&r)
        })
        .collect();
    for r in push(&http, &server.url, &dev, items).await {
        assert_eq!(r.status, ItemStatus::Accepted, "{r:?}");
    }
    let form =
        json!({ "leave_type": "annual", "period": { "start": "2026-12-21", "end": "2026-12-22" } });
    let route = preview(&dev, "leave", &form);
    let request_id = Uuid::now_v7();
    let submitted = push(
        &http,
        &server.url,
        &dev,
        vec![submission_item(&dev, request_id, 1, "leave", form, route)],
    )
    .await;
    assert_eq!(submitted[0].status, ItemStatus::Accepted, "{submitted:?}");
    let decision = decision_item(
        &manager,
        &request_id.to_string(),
        Action::Approve { comment: None },
    );
    let decided = push(&http, &server.url, &manager, vec![decision]).await;
    assert_eq!(decided[0].status, ItemStatus::Accepted, "{decided:?}");
    assert_eq!(server.stop(), Some(0));
    (dev, manager)
}

/// The `ok` line `daka verify-chains --db` prints for a device with `records` records.
fn ok_line(dev: &TestDevice, records: u64) -> String {
    format!(
        "ok      organisation harbour-lane, device {} (employee {}): {records} records, last seq {records}",
        dev.device_id, dev.employee_id
    )
}

/// The start of the line naming `dev`'s record at seq 2 as tampered, with or without the
/// organisation.
fn broken_line(dev: &TestDevice, org: bool) -> String {
    let org = if org {
        "organisation harbour-lane, "
    } else {
        ""
    };
    format!(
        "BROKEN  {org}device {} (employee {}): bad_signature at record 1 (seq 2, punch ",
        dev.device_id, dev.employee_id
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_chains_names_a_tampered_record_in_a_sqlite_file_and_through_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db_text = db.to_str().unwrap().to_owned();
    let (dev, manager) = seeded_sqlite_server(&db).await;

    let (status, out, err) = run(&["verify-chains", "--db", &db_text]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains(&ok_line(&dev, 3)), "{out}");
    assert!(out.contains(&ok_line(&manager, 0)), "{out}");
    assert!(out.contains("2 devices, 2 verified, 0 broken"), "{out}");

    let changed = rusqlite::Connection::open(&db)
        .unwrap()
        .execute(&TAMPER.replace("$1", "?1"), [&dev.device_id])
        .unwrap();
    assert_eq!(changed, 1);
    let (status, out, err) = run(&["verify-chains", "--db", &db_text]);
    assert_eq!(status, 1, "{out}{err}");
    assert!(out.contains(&broken_line(&dev, true)), "{out}");
    assert!(out.contains(&ok_line(&manager, 0)), "{out}");
    assert!(out.contains("2 devices, 1 verified, 1 broken"), "{out}");

    // The same through a server on the file, with the admin token.
    let server = tokio::task::spawn_blocking(move || Instance::start(&db_text))
        .await
        .unwrap();
    let (status, out, err) = run(&[
        "verify-chains",
        "--server",
        &server.url,
        "--admin-token",
        SEED_ADMIN,
    ]);
    assert_eq!(status, 1, "{out}{err}");
    assert!(out.contains(&broken_line(&dev, false)), "{out}");
    assert!(out.contains("2 devices, 1 verified, 1 broken"), "{out}");
    assert_eq!(server.stop(), Some(0));

    // A file that is not there: a usage error naming it.
    let missing = dir.path().join("missing.db");
    let (status, out, err) = run(&["verify-chains", "--db", missing.to_str().unwrap()]);
    assert_eq!(status, 2, "{out}{err}");
    assert!(
        err.contains("--db") && err.contains("missing.db") && err.contains("is not a file"),
        "{err}"
    );
    assert!(
        !missing.exists(),
        "verify-chains created {}",
        missing.display()
    );
    // Neither --server nor --db.
    let (status, _, err) = run(&["verify-chains"]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("--server") && err.contains("--db"), "{err}");
}

/// Runs one statement on the PostgreSQL database at `url` with `device` as `$1`; rows changed.
async fn pg_execute(url: &str, sql: &'static str, device: &str) -> u64 {
    let (url, device) = (url.to_owned(), device.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut client =
            r2d2_postgres::postgres::Client::connect(&url, r2d2_postgres::postgres::NoTls).unwrap();
        client.execute(sql, &[&device]).unwrap()
    })
    .await
    .unwrap()
}

/// The rows `daka migrate-db` reported for `table`: (SQLite, PostgreSQL).
fn copied_rows(out: &str, table: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(table))
        .unwrap_or_else(|| panic!("no line for table {table} in:\n{out}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    (n[0], n[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_db_copies_a_seeded_sqlite_server_whose_chains_verify_on_postgres() {
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!("skipped: set {POSTGRES_ENV} to a PostgreSQL admin URL (scripts/pg.sh start)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let file = db.to_str().unwrap().to_owned();
    let (dev, manager) = seeded_sqlite_server(&db).await;
    let pg = PgDatabase::create(&admin_url);
    let to = pg.url().to_owned();

    // verify-chains neither creates nor upgrades a schema: the empty target is refused, and
    // stays empty for the copy.
    let (status, out, err) = run(&["verify-chains", "--db", &to]);
    assert_eq!(status, 2, "{out}{err}");
    assert!(err.contains("holds no daka tables"), "{err}");

    let (status, out, err) = run(&["migrate-db", "--from", &file, "--to", &to]);
    assert_eq!(status, 0, "{out}{err}");
    assert_eq!(copied_rows(&out, "punch"), (3, 3));
    assert_eq!(copied_rows(&out, "device"), (2, 2));
    assert_eq!(copied_rows(&out, "request"), (1, 1));
    let (audit, copied) = copied_rows(&out, "request_audit");
    assert!(audit >= 2 && audit == copied, "{out}");
    assert!(
        out.contains("chains: 2 devices, 2 verified, 0 broken"),
        "{out}"
    );

    let (status, out, err) = run(&["verify-chains", "--db", &to]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains(&ok_line(&dev, 3)), "{out}");
    assert!(out.contains(&ok_line(&manager, 0)), "{out}");
    assert!(out.contains("2 devices, 2 verified, 0 broken"), "{out}");

    // A second copy into the now non-empty target is refused, saying how to empty it.
    let (status, out, err) = run(&["migrate-db", "--from", &file, "--to", &to]);
    assert_eq!(status, 2, "{out}{err}");
    assert!(err.contains("not empty") && err.contains("dropdb"), "{err}");

    // A tampered record on PostgreSQL is named.
    assert_eq!(pg_execute(&to, TAMPER, &dev.device_id).await, 1);
    let (status, out, err) = run(&["verify-chains", "--db", &to]);
    assert_eq!(status, 1, "{out}{err}");
    assert!(out.contains(&broken_line(&dev, true)), "{out}");
    assert!(out.contains("2 devices, 1 verified, 1 broken"), "{out}");
}

#[test]
fn migrate_db_and_verify_chains_refuse_bad_sources_and_targets_naming_them() {
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!("skipped: set {POSTGRES_ENV} to a PostgreSQL admin URL (scripts/pg.sh start)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let missing = missing.to_str().unwrap();
    let pg = PgDatabase::create(&admin_url);

    // No such file: refused before the target is touched.
    let (status, out, err) = run(&["migrate-db", "--from", missing, "--to", pg.url()]);
    assert_eq!(status, 2, "{out}{err}");
    assert!(
        err.contains("--from") && err.contains("missing.db") && err.contains("no such file"),
        "{err}"
    );

    // A target that is not a PostgreSQL URL.
    let (status, _, err) = run(&["migrate-db", "--from", missing, "--to", "mysql://db/daka"]);
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains("--to")
            && err.contains("mysql://db/daka")
            && err.contains("not a PostgreSQL URL"),
        "{err}"
    );

    // A PostgreSQL URL that does not parse: a usage error naming it, its password hidden,
    // found before the source is opened.
    let bad = "postgres://daka:s3cret-pw@127.0.0.1:99999/daka";
    for args in [
        vec!["migrate-db", "--from", missing, "--to", bad],
        vec!["verify-chains", "--db", bad],
    ] {
        let (status, out, err) = run(&args);
        assert_eq!(status, 2, "{args:?}: {out}{err}");
        assert!(
            err.contains("127.0.0.1:99999") && err.contains("does not parse"),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("s3cret-pw") && !out.contains("s3cret-pw"),
            "{args:?}: {err}"
        );
    }

    // A database that does not exist on the cluster: it cannot be reached (status 1), named.
    let mut absent = url::Url::parse(&admin_url).unwrap();
    absent.set_path(&format!("/absent_{}", Uuid::now_v7().simple()));
    let absent = absent.to_string();
    let (status, out, err) = run(&["verify-chains", "--db", &absent]);
    assert_eq!(status, 1, "{out}{err}");
    assert!(
        err.contains("absent_") && err.contains("does not exist"),
        "{err}"
    );
}
