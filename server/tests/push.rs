//! Push intake over real HTTP: every item result code, exactly-once effect, chain continuity,
//! replayed face nonces, and that a bad item never affects the other items of its batch.

mod common;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use daka_core::evidence::{FaceEvidence, Fix};
use daka_core::protocol::{Change, ItemStatus, PushItem};
use daka_core::punch::{PunchKind, PunchRecord};
use serde_json::json;

fn statuses(list: &[(String, String)]) -> HashMap<String, String> {
    list.iter().cloned().collect()
}

#[tokio::test]
async fn a_good_punch_is_accepted_once_and_a_resend_is_a_duplicate() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let r1 = dev.good_record();
    let results = server.push(&dev, vec![dev.item(&r1)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);

    // The same item again (a lost response): duplicate, applied once.
    let results = server.push(&dev, vec![dev.item(&r1)]).await;
    assert_result(&results[0], ItemStatus::Duplicate, None);
    // The same body with keys reordered and whitespace is still the same item.
    let mut item = dev.item(&r1);
    let text = serde_json::to_string_pretty(&item.body).unwrap();
    item.body = serde_json::from_str(&text).unwrap();
    let results = server.push(&dev, vec![item.clone(), item]).await;
    assert_result(&results[0], ItemStatus::Duplicate, None);
    assert_result(&results[1], ItemStatus::Duplicate, None);

    let punches = server.punches(ADMIN_A).await;
    assert_eq!(
        punches,
        vec![(r1.body.id.to_string(), "accepted".to_string())]
    );
}

#[tokio::test]
async fn same_id_with_another_body_is_an_id_conflict() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let r1 = dev.good_record();
    let r2 = dev.good_record();
    assert_result(
        &server.push(&dev, vec![dev.item(&r1)]).await[0],
        ItemStatus::Accepted,
        None,
    );
    // r1's id carrying r2's body.
    let mut conflicting = dev.item(&r2);
    conflicting.id = r1.body.id.to_string();
    let results = server.push(&dev, vec![conflicting, dev.item(&r2)]).await;
    assert_result(&results[0], ItemStatus::Rejected, Some("id_conflict"));
    // The conflict does not advance or block anything stored: r2 is next in the chain, but
    // it follows a rejected item of its stream in this request, so it waits.
    assert_result(&results[1], ItemStatus::Retry, Some("earlier_item_pending"));
    let results = server.push(&dev, vec![dev.item(&r2)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    assert_eq!(server.punches(ADMIN_A).await.len(), 2);
}

#[tokio::test]
async fn forged_edited_and_foreign_records_are_refused_and_others_in_the_batch_unaffected() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let mut other = server.enroll("A-E1002-0001").await;

    // Forged: a record signed by another key but claiming this device.
    let (forger, _) = daka_core::punch::DeviceSigner::generate().unwrap();
    let mut forged_chain = daka_core::punch::PunchChain::new(dev.device_id.clone());
    let spec = dev.good_spec();
    let honest = dev.record(spec);
    let draft = daka_core::punch::PunchDraft {
        kind: honest.body.kind,
        employee_id: honest.body.employee_id.clone(),
        evidence: honest.body.evidence.clone(),
        clock: honest.body.clock.clone(),
        server_offset_ms: None,
        policy_version: honest.body.policy_version,
        verdict: honest.body.verdict.clone(),
        id_time: chrono::Utc::now(),
    };
    let forged = forged_chain.append(draft, &forger).unwrap();

    // Edited: the honest record with its kind changed after signing.
    let mut edited = dev.item(&honest);
    let mut body: serde_json::Value = serde_json::from_str(edited.body.get()).unwrap();
    body["kind"] = json!("out");
    edited.body = serde_json::value::to_raw_value(&body).unwrap();

    // Another device's record pushed by this device (and its stream).
    let foreign = other.good_record();
    let foreign_item = other.item(&foreign);
    let mut foreign_in_my_stream = other.item(&foreign);
    foreign_in_my_stream.stream = format!("punch:{}", dev.device_id);

    // Malformed body, unsupported kind, record id not the item id.
    let malformed = PushItem::new(
        "0190a0b0-0000-7000-8000-000000000001",
        format!("punch:{}", dev.device_id),
        "punch",
        &json!({"format": 1, "hello": "world"}),
    )
    .unwrap();
    let mut wrong_kind = dev.item(&honest);
    wrong_kind.kind = "expense_claim".into();
    let mut wrong_id = dev.item(&honest);
    wrong_id.id = "0190a0b0-0000-7000-8000-000000000002".into();

    // Each bad item on its own stream name, so that stream ordering does not hide the codes;
    // the good item of another device is in the same batch.
    let cases = vec![
        (dev.item(&forged), "bad_signature"),
        (edited, "bad_signature"),
        (foreign_item.clone(), "wrong_device"),
        (foreign_in_my_stream, "wrong_device"),
        (malformed, "malformed_record"),
        (wrong_kind, "unsupported_kind"),
        (wrong_id, "id_mismatch"),
    ];
    for (bad, code) in cases {
        let results = server.push(&dev, vec![bad.clone()]).await;
        assert_result(&results[0], ItemStatus::Rejected, Some(code));
    }
    // In one batch with good items before and after: only the bad one is refused.
    let results = server
        .push(&dev, vec![dev.item(&honest), foreign_item.clone()])
        .await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    assert_result(&results[1], ItemStatus::Rejected, Some("wrong_device"));
    let next = dev.good_record();
    let results = server.push(&dev, vec![dev.item(&next)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);

    // Nothing of the bad items was stored: only the honest device's two punches.
    let stored = statuses(&server.punches(ADMIN_A).await);
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored[&honest.body.id.to_string()], "accepted");
    assert_eq!(stored[&next.body.id.to_string()], "accepted");
    // The other device can still push its own record: nothing of it was consumed.
    let results = server.push(&other, vec![foreign_item]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);
}

#[tokio::test]
async fn a_chain_gap_waits_for_the_missing_record_then_both_are_accepted() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let r1 = dev.good_record();
    let r2 = dev.good_record();
    let r3 = dev.good_record();
    assert_result(
        &server.push(&dev, vec![dev.item(&r1)]).await[0],
        ItemStatus::Accepted,
        None,
    );
    // r3 without r2: retry, and a later item of the stream waits behind it.
    let results = server.push(&dev, vec![dev.item(&r3)]).await;
    assert_result(&results[0], ItemStatus::Retry, Some("chain_gap"));
    let results = server.push(&dev, vec![dev.item(&r3), dev.item(&r2)]).await;
    assert_result(&results[0], ItemStatus::Retry, Some("chain_gap"));
    assert_result(&results[1], ItemStatus::Retry, Some("earlier_item_pending"));
    // In order, both go in.
    let results = server.push(&dev, vec![dev.item(&r2), dev.item(&r3)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    assert_result(&results[1], ItemStatus::Accepted, None);
    let stored = server.punches(ADMIN_A).await;
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|(_, s)| s == "accepted"));
}

#[tokio::test]
async fn a_second_history_is_a_fork_and_a_substituted_link_is_a_broken_link() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let before = dev.chain.clone();
    let r1 = dev.good_record();
    let r2 = dev.good_record();
    // A second history from the same key: another record with seq 1, then one after it.
    dev.chain = before;
    let f1 = dev.good_record();
    let f2 = dev.good_record();
    let results = server.push(&dev, vec![dev.item(&r1)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    let results = server.push(&dev, vec![dev.item(&f1)]).await;
    assert_result(&results[0], ItemStatus::Rejected, Some("fork"));
    // f2 has seq 2 but links to f1, not to the stored r1.
    let results = server.push(&dev, vec![dev.item(&f2)]).await;
    assert_result(&results[0], ItemStatus::Rejected, Some("broken_link"));
    // The real history goes on.
    let results = server.push(&dev, vec![dev.item(&r2)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    let stored = statuses(&server.punches(ADMIN_A).await);
    assert_eq!(stored.len(), 2);
    assert!(!stored.contains_key(&f1.body.id.to_string()));
    assert!(!stored.contains_key(&f2.body.id.to_string()));
}

#[tokio::test]
async fn a_reused_face_nonce_is_refused_and_the_device_keeps_punching() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let first = dev.good_spec();
    let r1 = dev.record(first.clone());
    // The same token and nonce again, in a new record.
    let r2 = dev.record(first);
    let r3 = dev.good_record();
    let results = server
        .push(&dev, vec![dev.item(&r1), dev.item(&r2), dev.item(&r3)])
        .await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    assert_result(
        &results[1],
        ItemStatus::Rejected,
        Some("face_token_replayed"),
    );
    // r2 is kept as a refused link, so r3 still chains and is accepted.
    assert_result(&results[2], ItemStatus::Accepted, None);
    let stored = statuses(&server.punches(ADMIN_A).await);
    assert_eq!(stored[&r1.body.id.to_string()], "accepted");
    assert_eq!(stored[&r2.body.id.to_string()], "refused");
    assert_eq!(stored[&r3.body.id.to_string()], "accepted");
    let (_, refused) = server
        .admin_get(ADMIN_A, "/admin/v1/punches?status=refused")
        .await;
    assert_eq!(refused["punches"][0]["code"], "face_token_replayed");
    assert_eq!(refused["punches"][0]["decision"], "rejected");

    // The nonce is spent for the whole organisation: another device of it cannot use it.
    let mut other = server.enroll("A-E1002-0001").await;
    let reuse = dev.good_spec();
    let spec = PunchSpec {
        face: Some(FaceEvidence {
            token: face_token(&other.employee_id, &reuse.face.as_ref().unwrap().nonce),
            nonce: reuse.face.as_ref().unwrap().nonce.clone(),
        }),
        ..reuse.clone()
    };
    let r4 = dev.record(reuse);
    assert_result(
        &server.push(&dev, vec![dev.item(&r4)]).await[0],
        ItemStatus::Accepted,
        None,
    );
    let o1 = other.record(spec);
    assert_result(
        &server.push(&other, vec![other.item(&o1)]).await[0],
        ItemStatus::Rejected,
        Some("face_token_replayed"),
    );

    // The refusal reaches the device through its change feed.
    let feed = server
        .client()
        .changes(&dev.token, None)
        .await
        .unwrap()
        .changes;
    let verdict_of_r2 = feed.iter().find_map(|c| match c {
        Change::PunchVerdict {
            punch_id,
            decision,
            codes,
        } if *punch_id == r2.body.id.to_string() => Some((*decision, codes.clone())),
        _ => None,
    });
    let (decision, codes) = verdict_of_r2.expect("a verdict for r2");
    assert_eq!(decision, daka_core::Decision::Rejected);
    assert!(codes.contains(&daka_core::Code::FaceTokenReplayed));

    // A resend of the refused record is a duplicate that repeats the refusal's code.
    let results = server.push(&dev, vec![dev.item(&r2)]).await;
    assert_result(
        &results[0],
        ItemStatus::Duplicate,
        Some("face_token_replayed"),
    );
}

/// Once the policy version's engine is built, the face tokens' signatures are checked ahead
/// of the transaction, on other threads: the verdicts are the same as when the transaction
/// checks them (a forged signature, an unknown key and a replayed nonce are still refused,
/// with the code the whole check gives).
#[tokio::test]
async fn face_signatures_checked_ahead_of_the_transaction_give_the_same_verdicts() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let warm_up = dev.good_record();
    assert_result(
        &server.push(&dev, vec![dev.item(&warm_up)]).await[0],
        ItemStatus::Accepted,
        None,
    );
    let rogue = [7u8; 32];
    let with_token = |dev: &mut TestDevice, token: fn(&[u8; 32], &str, &str) -> String| {
        let nonce = fresh_nonce();
        let spec = PunchSpec {
            face: Some(FaceEvidence {
                token: token(&rogue, &dev.employee_id, &nonce),
                nonce,
            }),
            ..dev.good_spec()
        };
        dev.record(spec)
    };
    let forged = with_token(&mut dev, |k, sub, n| face_token_with(k, FACE_KID, sub, n));
    let unknown = with_token(&mut dev, |k, sub, n| {
        face_token_with(k, "rogue-matcher", sub, n)
    });
    let first = dev.good_spec();
    let good = dev.record(first.clone());
    let replayed = dev.record(first);
    let last = dev.good_record();
    let items = [&forged, &unknown, &good, &replayed, &last]
        .map(|r| dev.item(r))
        .to_vec();
    let results = server.push(&dev, items).await;
    let codes: Vec<(ItemStatus, Option<&str>)> = results
        .iter()
        .map(|r| (r.status, r.code.as_deref()))
        .collect();
    assert_eq!(
        codes,
        [
            (ItemStatus::Rejected, Some("face_token_bad_signature")),
            (ItemStatus::Rejected, Some("face_token_unknown_key")),
            (ItemStatus::Accepted, None),
            (ItemStatus::Rejected, Some("face_token_replayed")),
            (ItemStatus::Accepted, None),
        ]
    );
}

#[tokio::test]
async fn tokens_from_untrusted_keys_and_punches_outside_the_fence_are_refused_links() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    // A matcher key the policy does not trust, under the trusted kid and under its own.
    let rogue = [7u8; 32];
    let nonce = fresh_nonce();
    let bad_sig = dev.record(PunchSpec {
        face: Some(FaceEvidence {
            token: face_token_with(&rogue, FACE_KID, &dev.employee_id, &nonce),
            nonce,
        }),
        ..dev.good_spec()
    });
    let nonce = fresh_nonce();
    let unknown_kid = dev.record(PunchSpec {
        face: Some(FaceEvidence {
            token: face_token_with(&rogue, "rogue-matcher", &dev.employee_id, &nonce),
            nonce,
        }),
        ..dev.good_spec()
    });
    // A fix in Kowloon Bay, far from the employee's Causeway Bay store, no Wi-Fi.
    let outside = dev.record(PunchSpec {
        fix: Some(Fix {
            lat: 22.3229,
            lon: 114.2090,
            accuracy_m: 10.0,
            time: chrono::Utc::now(),
            monotonic_ms: None,
            mock: false,
            provider: Some("gps".into()),
        }),
        wifi: vec![],
        ..dev.good_spec()
    });
    let good = dev.good_record();
    let results = server
        .push(
            &dev,
            vec![
                dev.item(&bad_sig),
                dev.item(&unknown_kid),
                dev.item(&outside),
                dev.item(&good),
            ],
        )
        .await;
    assert_result(
        &results[0],
        ItemStatus::Rejected,
        Some("face_token_bad_signature"),
    );
    assert_result(
        &results[1],
        ItemStatus::Rejected,
        Some("face_token_unknown_key"),
    );
    assert_result(&results[2], ItemStatus::Rejected, Some("outside_fence"));
    assert_result(&results[3], ItemStatus::Accepted, None);
    let stored = statuses(&server.punches(ADMIN_A).await);
    assert_eq!(stored.values().filter(|s| *s == "refused").count(), 3);
    assert_eq!(stored[&good.body.id.to_string()], "accepted");
}

#[tokio::test]
async fn a_record_for_another_employee_or_an_unknown_policy_version_is_refused() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    // Signed by this device but for E1002 (with a face token for E1002).
    let nonce = fresh_nonce();
    let spec = PunchSpec {
        face: Some(FaceEvidence {
            token: face_token("E1002", &nonce),
            nonce,
        }),
        ..dev.good_spec()
    };
    dev.employee_id = "E1002".into();
    let r1 = dev.record(spec);
    dev.employee_id = "E1001".into();
    // A record naming policy version 41, which was never published.
    let mut r2 = dev.good_record();
    let mut body = r2.body.clone();
    body.policy_version = 41;
    body.verdict.policy_version = 41;
    r2 = daka_core::punch::PunchRecord::sign(body, &dev.signer).unwrap();
    dev.chain = daka_core::punch::PunchChain::resume(&r2).unwrap();
    let r3 = dev.good_record();
    let results = server
        .push(&dev, vec![dev.item(&r1), dev.item(&r2), dev.item(&r3)])
        .await;
    assert_result(&results[0], ItemStatus::Rejected, Some("wrong_employee"));
    assert_result(
        &results[1],
        ItemStatus::Rejected,
        Some("unknown_policy_version"),
    );
    assert_result(&results[2], ItemStatus::Accepted, None);
}

#[tokio::test]
async fn a_field_punch_is_stored_for_review() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    // A field punch (外勤) away from any site: review, not rejection.
    let spec = PunchSpec {
        kind: PunchKind::Field,
        fix: Some(Fix {
            lat: 22.3229,
            lon: 114.2090,
            accuracy_m: 10.0,
            time: chrono::Utc::now(),
            monotonic_ms: None,
            mock: false,
            provider: None,
        }),
        wifi: vec![],
        ..dev.good_spec()
    };
    let r = dev.record(spec);
    let results = server.push(&dev, vec![dev.item(&r)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    let (_, body) = server
        .admin_get(ADMIN_A, "/admin/v1/punches?status=field_punch")
        .await;
    assert_eq!(body["punches"][0]["punch_id"], r.body.id.to_string());
    assert_eq!(body["punches"][0]["decision"], "field_punch");
}

#[tokio::test]
async fn a_device_of_another_organisation_cannot_push_into_this_one() {
    let server = TestServer::start().await;
    let mut a = server.enroll("A-E1001-0001").await;
    let b = server.enroll("B-E1001-0001").await;
    assert_eq!(b.org_id, ORG_B);
    let record = a.good_record();
    // B presents A's record, on A's stream and as its own.
    let mut as_own = a.item(&record);
    as_own.stream = format!("punch:{}", b.device_id);
    let results = server.push(&b, vec![a.item(&record), as_own]).await;
    assert_result(&results[0], ItemStatus::Rejected, Some("wrong_device"));
    assert_result(&results[1], ItemStatus::Rejected, Some("wrong_device"));
    assert!(server.punches(ADMIN_A).await.is_empty());
    assert!(server.punches(ADMIN_B).await.is_empty());
    // A's own push of it still works, and B's organisation never sees it.
    assert_result(
        &server.push(&a, vec![a.item(&record)]).await[0],
        ItemStatus::Accepted,
        None,
    );
    assert!(server.punches(ADMIN_B).await.is_empty());
    // Once A delivered it, B's replay of the same id is not even a duplicate for B.
    let results = server.push(&b, vec![a.item(&record)]).await;
    assert_eq!(results[0].status, ItemStatus::Rejected);
}

#[tokio::test]
async fn a_stored_record_reads_back_byte_for_byte_and_the_chains_verify() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let records: Vec<PunchRecord> = (0..5).map(|_| dev.good_record()).collect();
    let items = records.iter().map(|r| dev.item(r)).collect();
    let results = server.push(&dev, items).await;
    assert!(results.iter().all(|r| r.status == ItemStatus::Accepted));
    let storage = server.server.storage().clone();
    let device_id = dev.device_id.clone();
    let stored = tokio::task::spawn_blocking(move || storage.chain_records(ORG_A, &device_id))
        .await
        .unwrap()
        .unwrap();
    let sent: Vec<String> = records.iter().map(|r| r.to_json().unwrap()).collect();
    assert_eq!(stored, sent);
    let (status, report) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["devices"][0]["last_seq"], 5);
    assert_eq!(
        report["devices"][0]["head_hash"],
        records[4].hash().unwrap()
    );
    let (_, devices) = server.admin_get(ADMIN_A, "/admin/v1/devices").await;
    assert_eq!(devices["devices"][0]["head_seq"], 5);
    assert_eq!(
        devices["devices"][0]["public_key"],
        URL_SAFE_NO_PAD.encode(dev.public_key())
    );
}

#[tokio::test]
async fn a_batch_mixing_bad_items_applies_exactly_the_good_ones() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let mut other = server.enroll("A-E1002-0001").await;
    let r1 = dev.good_record();
    let r2 = dev.good_record();
    let foreign = other.good_record();
    let mut wrong_kind = dev.item(&r1);
    wrong_kind.kind = "leave_request".into();
    wrong_kind.stream = "leave:somewhere".into();
    wrong_kind.id = "0190a0b0-0000-7000-8000-0000000000aa".into();
    // A forged continuation of the chain, last in the batch.
    let (forger, _) = daka_core::punch::DeviceSigner::generate().unwrap();
    let mut forged_body = r2.body.clone();
    forged_body.seq = 3;
    forged_body.prev_hash = Some(r2.hash().unwrap());
    forged_body.id = uuid::Uuid::now_v7();
    let forged = PunchRecord::sign(forged_body, &forger).unwrap();
    let results = server
        .push(
            &dev,
            vec![
                dev.item(&r1),
                other.item(&foreign),
                wrong_kind,
                dev.item(&r2),
                dev.item(&forged),
            ],
        )
        .await;
    assert_eq!(results.len(), 5);
    assert_result(&results[0], ItemStatus::Accepted, None);
    assert_result(&results[1], ItemStatus::Rejected, Some("wrong_device"));
    assert_result(&results[2], ItemStatus::Rejected, Some("unsupported_kind"));
    assert_result(&results[3], ItemStatus::Accepted, None);
    assert_result(&results[4], ItemStatus::Rejected, Some("bad_signature"));
    let ids: Vec<String> = results.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        ids[0],
        r1.body.id.to_string(),
        "results come in request order"
    );
    let stored = statuses(&server.punches(ADMIN_A).await);
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored[&r1.body.id.to_string()], "accepted");
    assert_eq!(stored[&r2.body.id.to_string()], "accepted");
    let (_, devices) = server.admin_get(ADMIN_A, "/admin/v1/devices").await;
    let head = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == dev.device_id.as_str())
        .unwrap()["head_seq"]
        .clone();
    assert_eq!(head, 2, "the forged record did not move the chain head");
}

/// Pushes that leave a long write-ahead log get it copied into the database file once they
/// have been answered, with no further request, and the log then starts again from the
/// beginning instead of growing.
#[tokio::test]
async fn a_long_log_is_checkpointed_after_the_answer_and_then_restarts() {
    // About SQLite's write-ahead log file.
    if skip_on_postgres("the write-ahead log is SQLite's") {
        return;
    }
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let db = server.db_path();
    let wal = db.with_extension("db-wal");
    let len = |path: &std::path::Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let seeded = len(&db);
    // Punches without a face token (refused by the example policy, and stored as chain links
    // all the same): about 3 KB of log each, so a few pushes take it past 1,000 pages.
    let spec = PunchSpec {
        face: None,
        ..dev.good_spec()
    };
    let mut pushed = 0;
    while len(&wal) < 1_000 * 4096 {
        assert!(pushed < 5_000, "the log stays short: {} bytes", len(&wal));
        let items: Vec<PushItem> = (0..500)
            .map(|_| {
                let record = dev.record(spec.clone());
                dev.item(&record)
            })
            .collect();
        let results = server.push(&dev, items).await;
        assert!(
            results.iter().all(|r| r.status == ItemStatus::Rejected),
            "{:?}",
            results.first()
        );
        pushed += 500;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while len(&db) < seeded + 2_000_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint after the answer: the database file holds {} bytes, the log {}",
            len(&db),
            len(&wal)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let wal_len = len(&wal);
    let record = dev.record(spec);
    server.push(&dev, vec![dev.item(&record)]).await;
    assert_eq!(len(&wal), wal_len, "the log grew instead of restarting");
    let stored: usize = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM punch", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, pushed + 1);
}

#[tokio::test]
async fn the_earlier_fixes_of_a_record_are_judged_again_with_it() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let now = chrono::Utc::now();
    // Inside the Causeway Bay store; the latest fix vague, two earlier ones sharp.
    let latest = Fix {
        lat: 22.28005,
        lon: 114.18305,
        accuracy_m: 30.0,
        time: now,
        monotonic_ms: None,
        mock: false,
        provider: Some("fused".into()),
    };
    let earlier = |ms: i64, dlat: f64, accuracy_m: f64| Fix {
        lat: latest.lat + dlat,
        accuracy_m,
        time: now - chrono::Duration::milliseconds(ms),
        ..latest.clone()
    };
    let spec = |dev: &TestDevice| PunchSpec {
        fix: Some(latest.clone()),
        wifi: vec![],
        ..dev.good_spec()
    };
    let fused = dev.record_with_more(
        spec(&dev),
        vec![earlier(1_000, 0.00001, 5.0), earlier(2_000, -0.00001, 6.0)],
    );
    assert_eq!(fused.body.evidence.more_fixes.len(), 2);
    let mut mocked_fix = earlier(1_500, 0.0, 5.0);
    mocked_fix.mock = true;
    let mocked = dev.record_with_more(spec(&dev), vec![mocked_fix]);
    let results = server
        .push(&dev, vec![dev.item(&fused), dev.item(&mocked)])
        .await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    // Only the earlier fix is mocked: the server saw it in the record's evidence.
    assert_result(&results[1], ItemStatus::Rejected, Some("mock_location"));
    let stored = statuses(&server.punches(ADMIN_A).await);
    assert_eq!(stored[&fused.body.id.to_string()], "accepted");
    assert_eq!(stored[&mocked.body.id.to_string()], "refused");
}
