//! `daka migrate-db`'s copy of a SQLite server database into PostgreSQL: a SQLite server with
//! real data in every kind of table (devices, punches with face nonces, an approved request
//! with its audit, an attachment, attendance days, console accounts, sessions and audit, an
//! API token) is stopped and copied; a server on the copy answers the same, the device's chain
//! carries on, a used nonce and a used enrolment code stay used. A non-empty target and a file
//! at an older schema version are refused with what to do.
//!
//! Runs when `DAKA_TEST_POSTGRES` names a cluster (`scripts/pg.sh start`); skips otherwise.

mod common;

use chrono::Utc;
use common::console::sign_in;
use common::*;
use daka_core::approvals::Action;
use daka_core::evidence::FaceEvidence;
use daka_core::protocol::{EnrollRequest, ItemStatus};
use daka_core::punch::PunchKind;
use daka_device::sync::client::SyncError;
use daka_server::storage::ApiTokenRow;
use daka_server::storage::migrate_db::{MigrateError, migrate_sqlite_to_postgres};
use daka_server::{SeedConsoleAccount, ServerOptions};
use serde_json::{Value, json};
use uuid::Uuid;

const HR_EMAIL: &str = "hr@harbour-lane.example";
const HR_PASSWORD: &str = "correct horse battery staple 1";

fn seed() -> daka_server::Seed {
    let mut seed = two_org_seed();
    seed.organisations[0].console_accounts = vec![SeedConsoleAccount {
        email: HR_EMAIL.into(),
        name: "Wong Siu Ming".into(),
        role: "hr_admin".into(),
        password: HR_PASSWORD.into(),
        employee_id: None,
        language: None,
    }];
    seed
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What a server answers about the data: the admin API's punches and chains, the request as
/// its applicant sees it, and the approver's inbox.
async fn answers(server: &TestServer, applicant: &TestDevice, request_id: &str) -> Value {
    let (status, mut punches) = server.admin_get(ADMIN_A, "/admin/v1/punches").await;
    assert_eq!(status, 200, "{punches}");
    punches["server_time"] = Value::Null;
    let (status, mut chains) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    assert_eq!(status, 200, "{chains}");
    chains["server_time"] = Value::Null;
    let request = server.request_view(applicant, request_id).await;
    json!({ "punches": punches, "chains": chains, "request": request })
}

fn refused_code(e: SyncError) -> (u16, String) {
    match e {
        SyncError::Refused { status, code, .. } => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_copied_to_postgres_answers_the_same_and_carries_on() {
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!("skipped: set {POSTGRES_ENV} to a PostgreSQL admin URL (scripts/pg.sh start)");
        return;
    };
    // A SQLite server with data in every kind of table.
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite(dir.path());
    let file = db.location();
    let old = TestServer::start_in(dir, db, seed(), ServerOptions::default(), http()).await;
    let mut dev = old.enroll("A-E1001-0001").await;
    let manager = old.enroll("A-E0101-0001").await;
    let first_nonce = fresh_nonce();
    let mut items = Vec::new();
    for i in 0..3 {
        let mut spec = dev.good_spec();
        if i == 0 {
            spec.face = Some(FaceEvidence {
                token: face_token(&dev.employee_id, &first_nonce),
                nonce: first_nonce.clone(),
            });
        }
        let record = dev.record(spec);
        items.push(dev.item(&record));
    }
    for r in old.push(&dev, items).await {
        assert_result(&r, ItemStatus::Accepted, None);
    }
    let receipt = jpeg_like("receipt");
    old.upload(&dev, &receipt, "image/jpeg").await;
    let form =
        json!({ "leave_type": "annual", "period": { "start": "2026-12-21", "end": "2026-12-22" } });
    let route = preview(&dev, "leave", &form);
    let request_id = Uuid::now_v7();
    let submitted = old
        .push(
            &dev,
            vec![submission_item(&dev, request_id, 1, "leave", form, route)],
        )
        .await;
    assert_result(&submitted[0], ItemStatus::Accepted, None);
    let request_id = request_id.to_string();
    let decided = old
        .push(
            &manager,
            vec![decision_item(
                &manager,
                &request_id,
                Action::Approve { comment: None },
            )],
        )
        .await;
    assert_result(&decided[0], ItemStatus::Accepted, None);
    let cookie = sign_in(&old, HR_EMAIL, HR_PASSWORD).await;
    assert!(cookie.starts_with("daka_session="));
    let storage = old.server.storage().clone();
    tokio::task::spawn_blocking(move || {
        storage
            .create_api_token(&ApiTokenRow {
                id: Uuid::now_v7().to_string(),
                org_id: ORG_A.into(),
                name: "payroll export".into(),
                token_hash: "ab".repeat(32),
                scopes: vec!["reports:read".into()],
                created_by: HR_EMAIL.into(),
                created_at: Utc::now(),
                expires_at: None,
                last_used_at: None,
                revoked_at: None,
            })
            .unwrap();
        daka_server::attendance::recompute::run(storage.as_ref(), Utc::now()).unwrap();
    })
    .await
    .unwrap();
    let before = answers(&old, &dev, &request_id).await;
    assert_eq!(before["chains"]["ok"], true, "{before}");
    assert_eq!(before["punches"]["punches"].as_array().unwrap().len(), 3);
    let TestServer { server, dir, .. } = old;
    server.shutdown().await.unwrap();

    // The copy.
    let pg = PgDatabase::create(&admin_url);
    let (from, to) = (file.clone(), pg.url().to_owned());
    let report = tokio::task::spawn_blocking(move || migrate_sqlite_to_postgres(&from, &to))
        .await
        .unwrap()
        .unwrap();
    assert!(report.chains_ok(), "{:?}", report.chains);
    assert_eq!(report.chains.len(), 2);
    for t in &report.tables {
        assert_eq!(t.source_rows, t.target_rows, "{t:?}");
    }
    let rows = |name: &str| {
        report
            .tables
            .iter()
            .find(|t| t.table == name)
            .unwrap_or_else(|| panic!("no table {name}"))
            .target_rows
    };
    for table in [
        "org",
        "policy",
        "enrollment_code",
        "device",
        "token",
        "item",
        "punch",
        "face_nonce",
        "change",
        "request",
        "request_audit",
        "leave_movement",
        "attachment",
        "attendance_day",
        "console_account",
        "console_session",
        "console_audit",
        "api_token",
    ] {
        assert!(rows(table) > 0, "table {table} was copied empty");
    }
    assert_eq!(rows("punch"), 3);
    assert_eq!(rows("face_nonce"), 3);
    assert_eq!(rows("device"), 2);

    // A second copy into the same database is refused, saying how to empty it.
    let (from, to) = (file.clone(), pg.url().to_owned());
    let again = tokio::task::spawn_blocking(move || migrate_sqlite_to_postgres(&from, &to))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(again, MigrateError::TargetNotEmpty { .. }),
        "{again:?}"
    );
    assert!(again.to_string().contains("dropdb"), "{again}");

    // A server on the copy answers the same.
    let new = TestServer::start_in(
        dir,
        TestDb::postgres(tempfile::tempdir().unwrap().path(), pg),
        seed(),
        ServerOptions::default(),
        http(),
    )
    .await;
    let after = answers(&new, &dev, &request_id).await;
    assert_eq!(after, before);
    // The console account signs in on the copy.
    assert!(
        sign_in(&new, HR_EMAIL, HR_PASSWORD)
            .await
            .starts_with("daka_session=")
    );

    // The device carries on its chain.
    let record = dev.good_record();
    let r = new.push(&dev, vec![dev.item(&record)]).await;
    assert_result(&r[0], ItemStatus::Accepted, None);
    let (_, chains) = new.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    assert_eq!(chains["ok"], true, "{chains}");
    let mine = chains["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == dev.device_id.as_str())
        .unwrap();
    assert_eq!(mine["records"], 4, "{mine}");

    // A used nonce stays used.
    let replay = dev.record(PunchSpec {
        kind: PunchKind::Out,
        face: Some(FaceEvidence {
            token: face_token(&dev.employee_id, &first_nonce),
            nonce: first_nonce.clone(),
        }),
        ..dev.good_spec()
    });
    let r = new.push(&dev, vec![dev.item(&replay)]).await;
    assert_result(&r[0], ItemStatus::Rejected, Some("face_token_replayed"));

    // A used enrolment code stays used.
    let (signer, _) = daka_core::punch::DeviceSigner::generate().unwrap();
    let refused = new
        .client()
        .enroll(&EnrollRequest {
            code: "A-E1001-0001".into(),
            public_key: base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                signer.public_key(),
            ),
            device_name: "a second phone".into(),
            platform: "test".into(),
            attestation: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused_code(refused), (409, "enrollment_code_used".into()));
    new.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_at_an_older_schema_version_is_refused_with_how_to_upgrade_it() {
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!("skipped: set {POSTGRES_ENV} to a PostgreSQL admin URL (scripts/pg.sh start)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.db");
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch("CREATE TABLE org (id TEXT); PRAGMA user_version = 13;")
        .unwrap();
    drop(conn);
    let pg = PgDatabase::create(&admin_url);
    let (from, to) = (file.clone(), pg.url().to_owned());
    let e = tokio::task::spawn_blocking(move || migrate_sqlite_to_postgres(&from, &to))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            e,
            MigrateError::SourceTooOld {
                found: 13,
                expected,
                ..
            } if expected == daka_server::storage::sqlite::schema::SCHEMA_VERSION
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("daka serve --db"), "{e}");
    // Nothing was written: the target is still empty.
    let (from, to) = (dir.path().join("missing.db"), pg.url().to_owned());
    let e = tokio::task::spawn_blocking(move || migrate_sqlite_to_postgres(&from, &to))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, MigrateError::SourceMissing(_)), "{e:?}");
}
