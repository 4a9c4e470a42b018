//! The storage on real databases: the SQLite file's durability settings, schema upgrade path,
//! online backups and busy answers (503 + Retry-After), and, on either backend (PostgreSQL
//! when `DAKA_TEST_POSTGRES` is set), idempotent seeding, all-or-nothing items and a restart
//! that keeps every device, token and chain head.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use daka_core::protocol::ItemStatus;
use daka_server::seed::{self, SeedPolicy};
use daka_server::storage::sqlite::schema::{SCHEMA_VERSION, upgrade_from};
use daka_server::storage::{CodeOutcome, Storage, StorageError};
use daka_server::{Seed, Server, ServerConfig, ServerOptions, SqliteStorage};
use rusqlite::Connection;

#[test]
fn a_new_database_is_wal_with_full_sync_at_the_current_version() {
    // SQLite only: WAL mode and synchronous=FULL are the SQLite file's settings.
    if skip_on_postgres("WAL mode and synchronous=FULL are the SQLite file's settings") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let storage = SqliteStorage::open(&path).unwrap();
    assert_eq!(storage.schema_version().unwrap(), SCHEMA_VERSION);
    storage.integrity_check().unwrap();
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(
        storage.durability().unwrap(),
        ("wal".to_string(), 2),
        "synchronous=FULL"
    );
    drop(storage);
    let storage = SqliteStorage::open(&path).unwrap();
    assert_eq!(storage.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn the_schema_upgrades_from_every_earlier_version_and_refuses_newer_files() {
    // SQLite only: the SQLite file's upgrade path (PRAGMA user_version).
    if skip_on_postgres("the SQLite file's upgrade path (PRAGMA user_version)") {
        return;
    }
    for start in 0..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            for v in 0..start {
                upgrade_from(&mut conn, v).unwrap();
            }
        }
        let storage = SqliteStorage::open(&path).unwrap();
        assert_eq!(
            storage.schema_version().unwrap(),
            SCHEMA_VERSION,
            "from {start}"
        );
        let conn = Connection::open(&path).unwrap();
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
        ] {
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "table {table} after upgrade from {start}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    match SqliteStorage::open(&path) {
        Err(StorageError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![b'x'; 4096]).unwrap();
    assert!(SqliteStorage::open(&garbage).is_err());
}

#[test]
fn seeding_is_idempotent_and_publishes_only_newer_versions() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, storage) = fresh_storage(dir.path());
    let storage = storage.as_ref();
    let seed = two_org_seed();
    let first = seed::apply(storage, &seed, Utc::now()).unwrap();
    assert_eq!(
        first.orgs_created,
        vec![ORG_A.to_string(), ORG_B.to_string()]
    );
    assert_eq!(first.policies_published.len(), 2);
    // Nine codes for each of five employees of A, nine for B.
    assert_eq!(first.codes_added, 9 * 5 + 9);
    let key = storage.org(ORG_A).unwrap().unwrap().public_key;

    // Again: nothing changes, and the key is kept.
    let second = seed::apply(storage, &seed, Utc::now()).unwrap();
    assert_eq!(second, daka_server::SeedReport::default());
    assert_eq!(storage.org(ORG_A).unwrap().unwrap().public_key, key);

    // A newer version in the seed is published; the same version changed is refused.
    let mut newer = seed.clone();
    newer.organisations[1].policy = inline(policy_variant(8, ORG_B));
    let third = seed::apply(storage, &newer, Utc::now()).unwrap();
    assert_eq!(third.policies_published, vec![(ORG_B.to_string(), 8)]);
    assert_eq!(storage.current_policy(ORG_B).unwrap().unwrap().version, 8);
    let mut changed = newer.clone();
    let mut p = policy_variant(8, ORG_B);
    p["thresholds"]["max_accuracy_m"] = serde_json::json!(60);
    changed.organisations[1].policy = inline(p);
    let e = seed::apply(storage, &changed, Utc::now()).unwrap_err();
    assert!(e.to_string().contains("different content"), "{e}");
    // An older one (an administrator published a newer one since) is left alone.
    let report = seed::apply(storage, &seed, Utc::now()).unwrap();
    assert_eq!(report.policies_kept, vec![(ORG_B.to_string(), 7, 8)]);
    assert_eq!(storage.current_policy(ORG_B).unwrap().unwrap().version, 8);
    // A rotated admin token updates the organisation.
    let mut rotated = newer.clone();
    rotated.organisations[0].admin_token = "a-brand-new-admin-token-for-a".into();
    let report = seed::apply(storage, &rotated, Utc::now()).unwrap();
    assert_eq!(report.orgs_updated, vec![ORG_A.to_string()]);
    let hash = daka_server::crypto::secret_hash("a-brand-new-admin-token-for-a");
    assert_eq!(
        storage.org_by_admin_token(&hash).unwrap().unwrap().id,
        ORG_A
    );
    assert!(
        storage
            .org_by_admin_token(&daka_server::crypto::secret_hash(ADMIN_A))
            .unwrap()
            .is_none()
    );
    // A code of another organisation cannot be re-seeded for this one.
    assert_eq!(
        storage
            .add_enrollment_code(
                ORG_B,
                &daka_server::crypto::code_hash("A-E1001-0001"),
                "E1001",
                Utc::now()
            )
            .unwrap(),
        CodeOutcome::Taken
    );
}

fn inline(v: serde_json::Value) -> SeedPolicy {
    match v {
        serde_json::Value::Object(map) => SeedPolicy::Inline(map),
        _ => unreachable!(),
    }
}

#[test]
fn bad_seeds_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, storage) = fresh_storage(dir.path());
    let storage = storage.as_ref();
    type Edit = Box<dyn Fn(&mut Seed)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|s| s.organisations[0].id = "bad id!".into()),
            "organisations[0].id",
        ),
        (
            Box::new(|s| s.organisations[0].admin_token = "short".into()),
            "organisations[0].admin_token",
        ),
        (
            Box::new(|s| s.organisations[1].policy = inline(policy_variant(7, "someone-else"))),
            "organisations[1].policy",
        ),
        (
            Box::new(|s| s.organisations[0].enrollment_codes[0].employee_id = "E404".into()),
            "organisations[0].enrollment_codes[0].employee_id",
        ),
        (
            Box::new(|s| s.organisations[0].policy = SeedPolicy::Path("no-such-file.json".into())),
            "organisations[0].policy",
        ),
        (
            Box::new(|s| s.organisations[1].id = ORG_A.into()),
            "organisations[1]",
        ),
    ];
    for (edit, field) in cases {
        let mut seed = two_org_seed();
        edit(&mut seed);
        let e = seed::apply(storage, &seed, Utc::now()).unwrap_err();
        assert!(e.field.starts_with(field), "{field}: {e}");
    }
    for (text, field) in [
        ("{\"organisations\": [{\"id\": 1}]}", "organisations[0].id"),
        ("{\"orgs\": []}", "orgs"),
        ("not json", "$"),
        ("{\"organisations\": []} trailing text", "$"),
        ("{\"organisations\": []}{\"organisations\": []}", "$"),
        // Found by the `seed` fuzz target: an unknown member named "" was named by an
        // empty field.
        ("{\"\": 1, \"organisations\": []}", "$"),
    ] {
        let e = Seed::from_json(text, None).unwrap_err();
        assert_eq!(e.field, field, "{text}: {e}");
    }
    // Whitespace after the object is fine.
    Seed::from_json("{\"organisations\": []}\n\n", None).unwrap();
}

#[test]
fn the_example_seed_file_applies() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, storage) = fresh_storage(dir.path());
    let storage = storage.as_ref();
    let seed = Seed::from_file(examples_dir().join("seed.json")).unwrap();
    let report = seed::apply(storage, &seed, Utc::now()).unwrap();
    assert_eq!(report.orgs_created, vec!["harbour-lane".to_string()]);
    assert_eq!(
        report.policies_published,
        vec![("harbour-lane".to_string(), 42)]
    );
    assert_eq!(report.codes_added, 3);
}

#[tokio::test]
async fn a_restart_keeps_devices_tokens_and_chain_heads_and_backups_are_consistent() {
    // SQLite only: the online backup is a copy of the SQLite file.
    if skip_on_postgres("the online backup is a copy of the SQLite file") {
        return;
    }
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let r1 = dev.good_record();
    assert_eq!(
        server.push(&dev, vec![dev.item(&r1)]).await[0].status,
        ItemStatus::Accepted
    );
    let backup = server.dir.path().join("backup.db");
    let sqlite = SqliteStorage::open(server.db_path()).unwrap();
    sqlite.backup_to(&backup).unwrap();
    drop(sqlite);

    let TestServer {
        server: running,
        db,
        dir,
        http,
    } = server;
    let addr = running.addr();
    running.shutdown().await.unwrap();
    // Same file, same seed, same port.
    let running = Server::start(ServerConfig {
        db_path: db.location(),
        listen: addr,
        seed: Some(two_org_seed()),
    })
    .await
    .unwrap();
    assert_eq!(*running.seed_report(), daka_server::SeedReport::default());
    let server = TestServer {
        server: running,
        db,
        dir,
        http,
    };
    let r2 = dev.good_record();
    let results = server.push(&dev, vec![dev.item(&r1), dev.item(&r2)]).await;
    assert_eq!(results[0].status, ItemStatus::Duplicate);
    assert_eq!(results[1].status, ItemStatus::Accepted);

    // The backup opens on its own and holds the state of the moment it was taken.
    let copy = SqliteStorage::open(&backup).unwrap();
    copy.integrity_check().unwrap();
    assert_eq!(copy.chain_records(ORG_A, &dev.device_id).unwrap().len(), 1);
    assert_eq!(
        copy.devices(ORG_A).unwrap()[0].head.as_ref().unwrap().seq,
        1
    );
}

#[tokio::test]
async fn a_locked_database_is_answered_503_with_retry_after() {
    // SQLite only: another process holds the SQLite file's write lock.
    if skip_on_postgres("another process holds the SQLite file's write lock") {
        return;
    }
    let options = ServerOptions {
        busy_timeout: Duration::from_millis(200),
        ..ServerOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let r1 = dev.good_record();
    // Another process (here: another connection) holds the write lock.
    let blocker = Connection::open(server.db_path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&dev.token)
        .json(&serde_json::json!({ "items": [dev.item(&r1)] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "busy");
    // The SDK's client reads it as "busy, retry after 1 s".
    let e = server
        .client()
        .push(
            &dev.token,
            &daka_core::protocol::PushRequest {
                items: vec![dev.item(&r1)],
            },
        )
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(e.retry_after_ms(), Some(1000));
    // Reads still work while the writer is blocked (WAL).
    server.client().policy(&dev.token).await.unwrap();
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        server.push(&dev, vec![dev.item(&r1)]).await[0].status,
        ItemStatus::Accepted
    );
    assert_eq!(server.punches(ADMIN_A).await.len(), 1);
}

#[test]
fn storage_is_usable_through_the_trait_object() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, storage) = fresh_storage(dir.path());
    seed::apply(storage.as_ref(), &two_org_seed(), Utc::now()).unwrap();
    assert!(storage.org("nobody").unwrap().is_none());
    assert!(storage.current_policy("nobody").unwrap().is_none());
    assert!(storage.policy(ORG_A, 1).unwrap().is_none());
    assert!(storage.policy(ORG_A, u64::MAX).unwrap().is_none());
    assert_eq!(storage.policy(ORG_A, 42).unwrap().unwrap().version, 42);
    assert!(storage.device_by_token("00", Utc::now()).unwrap().is_none());
    assert!(storage.devices(ORG_A).unwrap().is_empty());
    assert!(storage.changes(ORG_A, "nobody", 0, 10).unwrap().is_empty());
}

#[test]
fn apply_item_stores_everything_or_nothing() {
    use daka_core::protocol::{ItemKind, ItemStatus as S};
    use daka_server::storage::{
        Answer, EnrollOutcome, ItemDecision, ItemKey, ItemState, NewDevice, NewPunch, NewToken,
        PunchFilter, PunchStatus,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    // On SQLite, its own type: the durability settings are the file's.
    let sqlite = (!db.on_postgres()).then(|| SqliteStorage::open(db.location()).unwrap());
    let other = db.on_postgres().then(|| open_storage(db.location()));
    let storage: &dyn Storage = match (&sqlite, &other) {
        (Some(s), _) => s,
        (_, Some(o)) => o.as_ref(),
        _ => unreachable!(),
    };
    let durability = || sqlite.as_ref().map(|s| s.durability().unwrap());
    seed::apply(storage, &two_org_seed(), Utc::now()).unwrap();
    let now = Utc::now();
    let device = match storage
        .enroll(
            &daka_server::crypto::code_hash("A-E1001-0001"),
            &NewDevice {
                id: "dev-1".into(),
                public_key: [1; 32],
                name: "n".into(),
                platform: "p".into(),
                enrolled_at: now,
                attestation: None,
            },
            &NewToken {
                hash: "t1".into(),
                issued_at: now,
                expires_at: now + chrono::Duration::days(1),
            },
        )
        .unwrap()
    {
        EnrollOutcome::Enrolled { device } => device,
        other => panic!("{other:?}"),
    };
    assert!(storage.device_by_token("t1", now).unwrap().is_some());
    assert!(
        storage
            .device_by_token("t1", now + chrono::Duration::days(2))
            .unwrap()
            .is_none(),
        "an expired token does not authenticate"
    );
    let key = |item: &'static str, nonce: &'static str| ItemKey {
        org_id: ORG_A,
        device_id: "dev-1",
        item_id: item,
        kind: ItemKind::Punch,
        body_hash: "h",
        nonce: Some(nonce),
    };
    let punch = |seq: u64| NewPunch {
        seq,
        hash: format!("hash-{seq}"),
        employee_id: device.employee_id.clone(),
        kind: "in".into(),
        record: format!("{{\"seq\":{seq}}}"),
        status: PunchStatus::Accepted,
        code: None,
        message: None,
        server_verdict: "{}".into(),
        policy_version: 42,
        judged_at: now,
        received_at: now,
        consume_nonce: true,
        change: "{\"type\":\"policy_updated\",\"version\":1}".into(),
    };
    // An answer stores nothing.
    let mut seen: Vec<ItemState> = Vec::new();
    storage
        .apply_item(&key("i1", "n1"), &mut |s| {
            seen.push(s.clone());
            ItemDecision::Answer(Answer {
                status: S::Retry,
                code: None,
                message: None,
            })
        })
        .unwrap();
    assert!(seen[0].existing.is_none() && seen[0].head.is_none() && !seen[0].nonce_used);
    // A store writes item, punch, head, nonce and change together.
    storage
        .apply_item(&key("i1", "n1"), &mut |_| {
            ItemDecision::Store(Box::new(punch(1)))
        })
        .unwrap();
    storage
        .apply_item(&key("i1", "n1"), &mut |s| {
            seen.push(s.clone());
            ItemDecision::Answer(Answer {
                status: S::Duplicate,
                code: None,
                message: None,
            })
        })
        .unwrap();
    let after = &seen[1];
    assert_eq!(
        after.existing.as_ref().unwrap().status,
        PunchStatus::Accepted
    );
    assert_eq!(after.head.as_ref().unwrap().seq, 1);
    assert_eq!(after.head_record.as_deref(), Some("{\"seq\":1}"));
    assert!(after.nonce_used);
    assert_eq!(storage.changes(ORG_A, "dev-1", 0, 10).unwrap().len(), 1);
    // A store that breaks a constraint (a second record at seq 1) leaves no trace.
    let e = storage
        .apply_item(&key("i2", "n2"), &mut |_| {
            ItemDecision::Store(Box::new(punch(1)))
        })
        .unwrap_err();
    assert!(matches!(e, StorageError::Database(_)), "{e:?}");
    storage
        .apply_item(&key("i2", "n2"), &mut |s| {
            seen.push(s.clone());
            ItemDecision::Answer(Answer {
                status: S::Retry,
                code: None,
                message: None,
            })
        })
        .unwrap();
    assert!(seen[2].existing.is_none());
    assert!(!seen[2].nonce_used);
    assert_eq!(seen[2].head.as_ref().unwrap().seq, 1);
    // One batch (group commit): an item that fails leaves no trace and the batch goes on;
    // the items that succeeded are committed together, and the writer stays at
    // synchronous=FULL throughout.
    let durable = durability();
    if let Some(d) = &durable {
        assert_eq!(d, &("wal".to_string(), 2));
    }
    let mut outcomes = Vec::new();
    storage
        .apply_batch(&mut |batch| {
            outcomes.push(
                batch
                    .apply(&key("i2", "n2"), &mut |_| {
                        ItemDecision::Store(Box::new(punch(1)))
                    })
                    .is_ok(),
            );
            outcomes.push(
                batch
                    .apply(&key("i3", "n3"), &mut |_| {
                        ItemDecision::Store(Box::new(punch(2)))
                    })
                    .is_ok(),
            );
            Ok(())
        })
        .unwrap();
    assert_eq!(outcomes, [false, true]);
    assert_eq!(durability(), durable);
    assert_eq!(storage.changes(ORG_A, "dev-1", 0, 10).unwrap().len(), 2);
    assert_eq!(
        storage.chain_records(ORG_A, "dev-1").unwrap(),
        ["{\"seq\":1}", "{\"seq\":2}"]
    );
    // A batch whose work fails applies none of its items, even those that succeeded.
    let e = storage
        .apply_batch(&mut |batch| {
            batch.apply(&key("i4", "n4"), &mut |_| {
                ItemDecision::Store(Box::new(punch(3)))
            })?;
            Err(StorageError::Busy)
        })
        .unwrap_err();
    assert!(matches!(e, StorageError::Busy), "{e:?}");
    assert_eq!(storage.chain_records(ORG_A, "dev-1").unwrap().len(), 2);
    storage
        .apply_item(&key("i4", "n4"), &mut |s| {
            seen.push(s.clone());
            ItemDecision::Answer(Answer {
                status: S::Retry,
                code: None,
                message: None,
            })
        })
        .unwrap();
    let last = seen.last().unwrap();
    assert!(last.existing.is_none() && !last.nonce_used);
    assert_eq!(last.head.as_ref().unwrap().seq, 2);
    let all = storage
        .punches(
            ORG_A,
            &PunchFilter {
                limit: 10,
                ..PunchFilter::default()
            },
        )
        .unwrap();
    assert_eq!(all.len(), 2);
    // Another organisation sees none of it.
    assert!(
        storage
            .punches(
                ORG_B,
                &PunchFilter {
                    limit: 10,
                    ..PunchFilter::default()
                }
            )
            .unwrap()
            .is_empty()
    );
    assert!(storage.changes(ORG_B, "dev-1", 0, 10).unwrap().is_empty());
    assert!(storage.chain_records(ORG_B, "dev-1").unwrap().is_empty());
    // Within one batch: an item sees the head an earlier item of the batch stored (its record
    // included), and a second record at a number the batch stored fails alone.
    let mut heads = Vec::new();
    let mut outcomes = Vec::new();
    storage
        .apply_batch(&mut |batch| {
            for (item, nonce, seq) in [("i5", "n5", 3), ("i6", "n6", 3), ("i7", "n7", 4)] {
                let stored = batch.apply(&key(item, nonce), &mut |s| {
                    heads.push((s.head.as_ref().map(|h| h.seq), s.head_record.clone()));
                    ItemDecision::Store(Box::new(punch(seq)))
                });
                outcomes.push(stored.is_ok());
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(outcomes, [true, false, true]);
    assert_eq!(
        heads,
        [
            (Some(2), Some("{\"seq\":2}".to_string())),
            (Some(3), Some("{\"seq\":3}".to_string())),
            (Some(3), Some("{\"seq\":3}".to_string())),
        ]
    );
    assert_eq!(
        storage.chain_records(ORG_A, "dev-1").unwrap(),
        ["{\"seq\":1}", "{\"seq\":2}", "{\"seq\":3}", "{\"seq\":4}"]
    );
    let changes = storage.changes(ORG_A, "dev-1", 0, 10).unwrap();
    assert_eq!(changes.len(), 4);
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test]
async fn a_request_over_its_time_limit_is_503_and_a_resend_is_exactly_once() {
    // SQLite only: another process holds the SQLite file's write lock.
    if skip_on_postgres("another process holds the SQLite file's write lock") {
        return;
    }
    let options = ServerOptions {
        busy_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_millis(300),
        ..ServerOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let r1 = dev.good_record();
    let blocker = Connection::open(server.db_path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&dev.token)
        .json(&serde_json::json!({ "items": [dev.item(&r1)] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "timeout");
    // The work already started finishes once the lock is released; the device, which saw
    // only a 503, sends the item again and learns it was applied, once.
    blocker.execute_batch("ROLLBACK").unwrap();
    let mut statuses = Vec::new();
    let request = daka_core::protocol::PushRequest {
        items: vec![dev.item(&r1)],
    };
    for _ in 0..100 {
        // A resend may itself meet the tail of the first request: 503 again, retry.
        match server.client().push(&dev.token, &request).await {
            Ok(response) => {
                statuses.push(response.results[0].status);
                if response.results[0].status == ItemStatus::Duplicate {
                    break;
                }
            }
            Err(e) => assert!(e.is_retryable(), "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        statuses.last(),
        Some(&ItemStatus::Duplicate),
        "{statuses:?}"
    );
    assert_eq!(server.punches(ADMIN_A).await.len(), 1);
}

#[test]
fn step_7_fills_in_the_punch_of_every_stored_field_punch_review() {
    // SQLite only: a step of the SQLite file's upgrade path.
    if skip_on_postgres("a step of the SQLite file's upgrade path") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let mut conn = Connection::open(&path).unwrap();
    for v in 0..6 {
        upgrade_from(&mut conn, v).unwrap();
    }
    conn.execute_batch(
        "INSERT INTO org (id, name, admin_token_hash, signing_seed, public_key, created_ms)
           VALUES ('o1', 'Org', 'h', x'00', 'k', 0);
         INSERT INTO request (org_id, request_id, template_id, request_type, policy_version,
           applicant, form, state, status, month, created_ms, updated_ms)
         VALUES
           ('o1', 'r1', 't', 'field_punch_review', 1, 'E1', '{\"punch_id\":\"p-1\",\"reason\":\"client\"}', '{}', 'pending', NULL, 0, 0),
           ('o1', 'r2', 't', 'expense', 1, 'E1', '{\"amount\":1}', '{}', 'pending', NULL, 0, 0);",
    )
    .unwrap();
    upgrade_from(&mut conn, 6).unwrap();
    let punch = |id: &str| -> Option<String> {
        conn.query_row(
            "SELECT punch_id FROM request WHERE request_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(punch("r1").as_deref(), Some("p-1"));
    assert_eq!(punch("r2"), None);

    // A review whose form lost its punch cannot be upgraded silently: the step fails whole.
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("bad.db")).unwrap();
    for v in 0..6 {
        upgrade_from(&mut conn, v).unwrap();
    }
    conn.execute_batch(
        "INSERT INTO org (id, name, admin_token_hash, signing_seed, public_key, created_ms)
           VALUES ('o1', 'Org', 'h', x'00', 'k', 0);
         INSERT INTO request (org_id, request_id, template_id, request_type, policy_version,
           applicant, form, state, status, month, created_ms, updated_ms)
         VALUES ('o1', 'r1', 't', 'field_punch_review', 1, 'E1', '{}', '{}', 'pending', NULL, 0, 0);",
    )
    .unwrap();
    let err = upgrade_from(&mut conn, 6).unwrap_err();
    assert!(err.to_string().contains("r1"), "{err}");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6);
}

/// Two storages on one database, as two server instances would open it (on SQLite, two
/// handles on one file): an item id pushed through both at once is stored once, each other
/// attempt reading the winner's entry; each device's chain grows one link per stored punch;
/// and a reader paging the change feed while both write never skips a change.
#[test]
fn two_storages_on_one_database_store_a_raced_item_once_and_never_skip_a_change() {
    use daka_core::protocol::ItemKind;
    use daka_server::storage::{Answer, ItemDecision, ItemKey, NewPunch, PunchStatus};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let (db, first) = fresh_storage(dir.path());
    seed::apply(first.as_ref(), &two_org_seed(), Utc::now()).unwrap();
    let second = open_storage(db.location());
    let now = Utc::now();
    let devices: Vec<String> = (1..=4u8).map(|i| enrol_device(first.as_ref(), i)).collect();
    // The judge of a punch: the next link of the chain it is shown, or the ledger's answer.
    let judge = move |state: &daka_server::storage::ItemState, id: &str| match &state.existing {
        Some(_) => ItemDecision::Answer(Answer {
            status: daka_core::protocol::ItemStatus::Duplicate,
            code: None,
            message: None,
        }),
        None => {
            let seq = state.head.as_ref().map_or(1, |h| h.seq + 1);
            ItemDecision::Store(Box::new(NewPunch {
                seq,
                hash: format!("hash-{id}"),
                employee_id: "E1001".into(),
                kind: "in".into(),
                record: format!("{{\"id\":\"{id}\"}}"),
                status: PunchStatus::Refused,
                code: None,
                message: None,
                server_verdict: "{}".into(),
                policy_version: 42,
                judged_at: now,
                received_at: now,
                consume_nonce: false,
                change: format!("{{\"id\":\"{id}\"}}"),
            }))
        }
    };
    let storages = [first.clone(), second.clone()];
    let done = Arc::new(AtomicBool::new(false));
    // A reader of dev-1's feed, paging with its cursor while the writers run.
    let reader = {
        let storage = second.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut after = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                let page = storage.changes(ORG_A, "dev-1", after, 1000).unwrap();
                if let Some(last) = page.last() {
                    after = last.seq;
                }
                seen.extend(page.into_iter().map(|c| c.seq));
                if finished {
                    return seen;
                }
            }
        })
    };
    // Eight writers, four through each storage: every item of every device is pushed by two
    // writers at once (through different storages), and every writer moves across devices.
    let writers: Vec<_> = (0..8usize)
        .map(|w| {
            let storage = storages[w % 2].clone();
            let devices = devices.clone();
            std::thread::spawn(move || {
                let mut stored = 0;
                for n in 0..20 {
                    let device = &devices[(w / 2 + n) % devices.len()];
                    let id = format!("{device}-item-{n}");
                    let key = ItemKey {
                        org_id: ORG_A,
                        device_id: device,
                        item_id: &id,
                        kind: ItemKind::Punch,
                        body_hash: "h",
                        nonce: None,
                    };
                    loop {
                        match storage.apply_item(&key, &mut |s| judge(s, &id)) {
                            Ok(ItemDecision::Store(_)) => {
                                stored += 1;
                                break;
                            }
                            Ok(ItemDecision::Answer(_)) => break,
                            Err(e) if e.is_retryable() => continue,
                            Err(e) => panic!("{id}: {e}"),
                        }
                    }
                }
                stored
            })
        })
        .collect();
    let stored: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    done.store(true, Ordering::Release);
    let seen = reader.join().unwrap();
    // Each writer pair pushed the same 20 items of each of its devices: 4 devices × 20 ids,
    // each stored once.
    assert_eq!(stored, 4 * 20, "each raced item stored exactly once");
    for device in &devices {
        let chain = first.chain_records(ORG_A, device).unwrap();
        assert_eq!(chain.len(), 20, "{device}: one link per stored item");
        let head = first.device(device).unwrap().unwrap().head.unwrap();
        assert_eq!(head.seq, 20, "{device}: a linear chain");
    }
    let all: Vec<i64> = first
        .changes(ORG_A, "dev-1", 0, 1000)
        .unwrap()
        .into_iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(all.len(), 20);
    assert_eq!(seen, all, "the paging reader saw every change, in order");
    drop((first, second, storages));
    drop(db);
}

/// A storage on PostgreSQL, its concrete type (for its statement count), or `None` on a
/// SQLite run.
fn postgres_only(db: &TestDb, why: &str) -> Option<daka_server::PostgresStorage> {
    if !db.on_postgres() {
        eprintln!("PostgreSQL only: {why}");
        return None;
    }
    let url = db.location().to_str().unwrap().to_owned();
    Some(daka_server::PostgresStorage::open(&url, &Default::default()).unwrap())
}

/// Enrols `dev-<n>` for E1001 with code number `n` of organisation A.
fn enrol_device(storage: &dyn Storage, n: u8) -> String {
    use daka_server::storage::{EnrollOutcome, NewDevice, NewToken};
    let now = Utc::now();
    let outcome = storage
        .enroll(
            &daka_server::crypto::code_hash(&format!("A-E1001-000{n}")),
            &NewDevice {
                id: format!("dev-{n}"),
                public_key: [n; 32],
                name: "n".into(),
                platform: "p".into(),
                enrolled_at: now,
                attestation: None,
            },
            &NewToken {
                hash: format!("t{n}"),
                issued_at: now,
                expires_at: now + chrono::Duration::days(1),
            },
        )
        .unwrap();
    match outcome {
        EnrollOutcome::Enrolled { device } => device.id,
        other => panic!("{other:?}"),
    }
}

/// A punch at `seq` that consumes its nonce, as the judge would store it.
fn stored_punch(seq: u64) -> daka_server::storage::NewPunch {
    let now = Utc::now();
    daka_server::storage::NewPunch {
        seq,
        hash: format!("hash-{seq}"),
        employee_id: "E1001".into(),
        kind: "in".into(),
        record: format!("{{\"seq\":{seq}}}"),
        status: daka_server::storage::PunchStatus::Accepted,
        code: None,
        message: None,
        server_verdict: "{}".into(),
        policy_version: 42,
        judged_at: now,
        received_at: now,
        consume_nonce: true,
        change: format!("{{\"seq\":{seq}}}"),
    }
}

/// The judge of the tests below: the ledger's answer for a known id, a replay refused, else
/// the next link of the chain it is shown.
fn next_link(state: &daka_server::storage::ItemState) -> daka_server::storage::ItemDecision {
    use daka_server::storage::{Answer, ItemDecision};
    let answer = |status, code: &str| {
        ItemDecision::Answer(Answer {
            status,
            code: Some(code.into()),
            message: None,
        })
    };
    if state.existing.is_some() {
        return answer(ItemStatus::Duplicate, "seen");
    }
    if state.nonce_used {
        return answer(ItemStatus::Rejected, "replayed");
    }
    let seq = state.head.as_ref().map_or(1, |h| h.seq + 1);
    ItemDecision::Store(Box::new(stored_punch(seq)))
}

#[test]
fn a_hundred_punches_take_a_dozen_statements_to_push_and_a_dozen_to_settle_on_postgres() {
    use daka_core::protocol::ItemKind;
    use daka_server::storage::{ItemDecision, ItemKey};
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    let Some(storage) = postgres_only(&db, "statements are PostgreSQL round trips") else {
        return;
    };
    seed::apply(&storage, &two_org_seed(), Utc::now()).unwrap();
    let device = enrol_device(&storage, 1);
    // The days the new policies marked, computed before the pushes.
    daka_server::attendance::recompute::run(&storage, Utc::now()).unwrap();
    let ids: Vec<(String, String)> = (0..200)
        .map(|i| (format!("item-{i}"), format!("nonce-{i}")))
        .collect();
    let keys: Vec<ItemKey<'_>> = ids
        .iter()
        .map(|(id, nonce)| ItemKey {
            org_id: ORG_A,
            device_id: &device,
            item_id: id,
            kind: ItemKind::Punch,
            body_hash: "h",
            nonce: Some(nonce),
        })
        .collect();
    // The first hundred announced, as the push endpoint does; the next hundred applied one
    // by one without being announced, each read on its own.
    // Statements run, and the items stored.
    let push = |keys: &[ItemKey<'_>], announce: bool| -> (u64, usize) {
        let before = storage.statements_run();
        let mut stored = 0;
        storage
            .apply_batch(&mut |batch| {
                stored = 0;
                assert!(batch.reads_ahead());
                if announce {
                    batch.announce(keys)?;
                }
                for key in keys {
                    match batch.apply(key, &mut next_link)? {
                        ItemDecision::Store(_) => stored += 1,
                        ItemDecision::Answer(a) => {
                            assert_eq!(a.code.as_deref(), Some("seen"), "{}", key.item_id)
                        }
                    }
                }
                Ok(())
            })
            .unwrap();
        (storage.statements_run() - before, stored)
    };
    let (announced, stored) = push(&keys[..100], true);
    assert_eq!(stored, 100);
    let (one_by_one, stored) = push(&keys[100..], false);
    assert_eq!(stored, 100);
    eprintln!("100 punches: {announced} statements announced, {one_by_one} read one by one");
    assert!(
        announced <= 15,
        "{announced} statements for 100 announced punches"
    );
    assert!(
        one_by_one >= 200,
        "{one_by_one} statements for 100 punches read one by one"
    );
    // Everything written, in order: the chain, the ledger, the nonces, the feed, the marks.
    let chain = storage.chain_records(ORG_A, &device).unwrap();
    assert_eq!(chain.len(), 200);
    assert_eq!(chain[199], "{\"seq\":200}");
    assert_eq!(
        storage.device(&device).unwrap().unwrap().head.unwrap().seq,
        200
    );
    // The feed: the days computed before the pushes, then the punches' changes in order.
    let changes = storage.changes(ORG_A, &device, 0, 1000).unwrap();
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    let punch_changes: Vec<&str> = changes
        .iter()
        .map(|c| c.body.as_str())
        .skip_while(|b| !b.starts_with("{\"seq\":"))
        .collect();
    assert_eq!(punch_changes.len(), 200);
    assert_eq!(
        (punch_changes[0], punch_changes[199]),
        ("{\"seq\":1}", "{\"seq\":200}")
    );
    let marks = storage.attendance_marks(1000).unwrap();
    let punch_marks: Vec<&str> = marks
        .iter()
        .filter_map(|m| m.cause.strip_prefix("punch:"))
        .collect();
    assert_eq!((marks.len(), punch_marks.len()), (200, 200));
    assert_eq!((punch_marks[0], punch_marks[199]), ("item-0", "item-199"));
    // Their days recomputed (E1001's yesterday, today and tomorrow): every mark settled, all
    // removed in one statement.
    let before = storage.statements_run();
    let report = daka_server::attendance::recompute::run(&storage, Utc::now()).unwrap();
    assert_eq!(report.marks, 200);
    assert!(storage.attendance_marks(1000).unwrap().is_empty());
    let recompute = storage.statements_run() - before;
    eprintln!("200 marks settled in {recompute} statements");
    assert!(recompute < 40, "{recompute} statements to settle 200 marks");
    // A resend of the announced hundred: every one answered from the ledger.
    let (again, stored) = push(&keys[..100], true);
    assert_eq!(stored, 0);
    assert!(again <= 6, "{again} statements for 100 duplicates");
}

#[test]
fn a_push_that_loses_a_race_for_an_item_id_or_a_nonce_is_applied_again_item_by_item() {
    use daka_core::protocol::ItemKind;
    use daka_server::storage::{ItemDecision, ItemKey};
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    let Some(storage) = postgres_only(&db, "reads ahead are PostgreSQL's") else {
        return;
    };
    seed::apply(&storage, &two_org_seed(), Utc::now()).unwrap();
    let mine = enrol_device(&storage, 1);
    let other = enrol_device(&storage, 2);
    let key = |device: &'static str, id: &'static str, nonce: &'static str| ItemKey {
        org_id: ORG_A,
        device_id: device,
        item_id: id,
        kind: ItemKind::Punch,
        body_hash: "h",
        nonce: Some(nonce),
    };
    let (mine, other): (&'static str, &'static str) = (mine.leak(), other.leak());
    for (race, my_key, their_key, expected) in [
        // Another device's punch takes the item id after it was read as free: the push is
        // judged again and finds the id taken.
        (
            "item id",
            key(mine, "shared-id", "n-1"),
            key(other, "shared-id", "n-2"),
            "seen",
        ),
        // Another device's punch consumes the face nonce after it was read as unused.
        (
            "nonce",
            key(mine, "own-id", "shared-nonce"),
            key(other, "their-id", "shared-nonce"),
            "replayed",
        ),
    ] {
        let mut calls = 0;
        let mut decisions = Vec::new();
        storage
            .apply_batch(&mut |batch| {
                calls += 1;
                decisions.clear();
                batch.announce(std::slice::from_ref(&my_key))?;
                if calls == 1 {
                    // Committed on another connection between the read and the write.
                    let theirs = storage.apply_item(&their_key, &mut next_link).unwrap();
                    assert!(matches!(theirs, ItemDecision::Store(_)), "{race}");
                }
                decisions.push(batch.apply(&my_key, &mut next_link)?);
                Ok(())
            })
            .unwrap();
        assert_eq!(calls, 2, "{race}: applied again after the lost race");
        match &decisions[..] {
            [ItemDecision::Answer(a)] => assert_eq!(a.code.as_deref(), Some(expected), "{race}"),
            other => panic!("{race}: {other:?}"),
        }
        // Nothing of the lost try is left: my chain is empty, theirs holds their punch.
        assert!(
            storage.chain_records(ORG_A, mine).unwrap().is_empty(),
            "{race}"
        );
        assert!(
            storage.changes(ORG_A, mine, 0, 10).unwrap().is_empty(),
            "{race}"
        );
    }
    assert_eq!(storage.chain_records(ORG_A, other).unwrap().len(), 2);
}

#[test]
fn a_punch_row_of_a_few_kilobytes_stays_whole_in_the_postgresql_punch_table() {
    use daka_core::protocol::ItemKind;
    use daka_server::storage::{ItemDecision, ItemKey};
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    let Some(storage) = postgres_only(&db, "TOAST is PostgreSQL's") else {
        return;
    };
    seed::apply(&storage, &two_org_seed(), Utc::now()).unwrap();
    let device = enrol_device(&storage, 1);
    // About what a punch with Wi-Fi and face evidence holds: a 1.7 KB record, a 0.7 KB verdict,
    // as little compressible as their signatures and hashes.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        [(state % 64) as usize],
                )
            })
            .collect()
    };
    let record = format!("{{\"seq\":1,\"sig\":\"{}\"}}", noise(1_700));
    let verdict = format!("{{\"sig\":\"{}\"}}", noise(700));
    let key = ItemKey {
        org_id: ORG_A,
        device_id: &device,
        item_id: "big-1",
        kind: ItemKind::Punch,
        body_hash: "h",
        nonce: None,
    };
    let stored = storage
        .apply_item(&key, &mut |_| {
            let mut punch = stored_punch(1);
            punch.record = record.clone();
            punch.server_verdict = verdict.clone();
            ItemDecision::Store(Box::new(punch))
        })
        .unwrap();
    assert!(matches!(stored, ItemDecision::Store(_)));
    assert_eq!(storage.chain_records(ORG_A, &device).unwrap(), [record]);
    let url = db.location().to_str().unwrap().to_owned();
    let (options, toast_bytes) = std::thread::spawn(move || {
        let mut client = daka_server::storage::postgres::connect(&url).unwrap();
        let row = client
            .query_one(
                "SELECT array_to_string(c.reloptions, ',') AS options,
                   pg_relation_size(c.reltoastrelid) AS toast_bytes
                 FROM pg_class c WHERE c.relname = 'punch'",
                &[],
            )
            .unwrap();
        (
            row.get::<_, Option<String>>("options"),
            row.get::<_, i64>("toast_bytes"),
        )
    })
    .join()
    .unwrap();
    assert_eq!(
        toast_bytes, 0,
        "the record was moved out of the punch table"
    );
    assert_eq!(options.as_deref(), Some("toast_tuple_target=8160"));
}

#[test]
fn batches_reading_through_the_storage_while_open_never_hold_every_pooled_connection() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    if !db.on_postgres() {
        eprintln!("PostgreSQL only: the pool of connections is PostgreSQL's");
        return;
    }
    let options = daka_server::PostgresOptions {
        pool_size: 3,
        connect_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let url = db.location().to_str().unwrap().to_owned();
    // A pool of one could never give a write its second connection.
    let one = daka_server::PostgresOptions {
        pool_size: 1,
        ..options.clone()
    };
    let refused = daka_server::PostgresStorage::open(&url, &one).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("pool_size: 1 connection(s); at least 2"),
        "{refused}"
    );
    let storage = Arc::new(daka_server::PostgresStorage::open(&url, &options).unwrap());
    seed::apply(&*storage, &two_org_seed(), Utc::now()).unwrap();
    // Three batches at once on a pool of three connections, each reading through the storage
    // while its transaction is open, as a push does when it first meets a policy version (it
    // builds the version's engine from the stored policy). Were the three let in together,
    // each would hold a connection and wait for a fourth until the pool's timeout.
    let start = Arc::new(Barrier::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let most_inside = Arc::new(AtomicUsize::new(0));
    let batches: Vec<_> = (0..3)
        .map(|_| {
            let (storage, start) = (storage.clone(), start.clone());
            let (inside, most_inside) = (inside.clone(), most_inside.clone());
            std::thread::spawn(move || {
                start.wait();
                storage.apply_batch(&mut |_batch| {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most_inside.fetch_max(now, Ordering::SeqCst);
                    // Long enough for the others to come in, if they may.
                    std::thread::sleep(Duration::from_millis(300));
                    let policy = storage.current_policy(ORG_A);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    assert!(policy?.is_some());
                    Ok(())
                })
            })
        })
        .collect();
    for batch in batches {
        batch
            .join()
            .unwrap()
            .expect("every batch applied, none timed out for a connection");
    }
    assert_eq!(
        most_inside.load(Ordering::SeqCst),
        2,
        "one connection is kept for reads"
    );
}
