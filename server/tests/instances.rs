//! Two server instances on one PostgreSQL database, over loopback: the guarantees a single
//! server gives hold across instances. Each race runs many rounds so that one lost now and
//! then is caught.
//!
//! * the same push items through both at once: applied once, the loser told `duplicate`;
//! * a device's records split between two pushes racing on the two instances: the chain stays
//!   linear (later records answered `retry`, never a fork);
//! * one face nonce in two punches at once: accepted once;
//! * two approvers deciding one request through different instances: one wins;
//! * the change feed read alternately from both while both publish: every change once, in order;
//! * one enrolment code with two keys at once: one device.
//!
//! Runs when `DAKA_TEST_POSTGRES` names a cluster (`scripts/pg.sh start`); skips otherwise
//! (two instances on one SQLite file is not a supported deployment).

mod common;

use std::collections::HashSet;

use common::*;
use daka_core::approvals::Action;
use daka_core::evidence::FaceEvidence;
use daka_core::protocol::{Change, EnrollRequest, ItemResult, ItemStatus, PushItem};
use daka_core::punch::DeviceSigner;
use serde_json::{Value, json};
use uuid::Uuid;

const ROUNDS: usize = 50;

/// Two instances on one fresh database, or `None` (with the reason printed) without PostgreSQL.
async fn two_instances() -> Option<(TestServer, TestServer)> {
    if postgres_admin_url().is_none() {
        eprintln!(
            "skipped: two instances need PostgreSQL; set {POSTGRES_ENV} (scripts/pg.sh start)"
        );
        return None;
    }
    let a = TestServer::start().await;
    let b = a.another_instance(two_org_seed()).await;
    Some((a, b))
}

async fn push1(server: &TestServer, dev: &TestDevice, item: PushItem) -> ItemResult {
    server.push(dev, vec![item]).await.remove(0)
}

async fn verified_chains(server: &TestServer) -> Value {
    let (status, chains) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    assert_eq!(status, 200, "{chains}");
    assert_eq!(chains["ok"], true, "{chains}");
    chains
}

fn records_of(chains: &Value, device_id: &str) -> u64 {
    chains["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == device_id)
        .unwrap()["records"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_items_through_both_instances_are_applied_once() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let mut dev = a.enroll("A-E1001-0001").await;
    for round in 0..ROUNDS {
        let record = dev.good_record();
        let item = dev.item(&record);
        let (ra, rb) = tokio::join!(push1(&a, &dev, item.clone()), push1(&b, &dev, item));
        let mut statuses = [ra.status, rb.status];
        statuses.sort_by_key(|s| format!("{s:?}"));
        assert_eq!(
            statuses,
            [ItemStatus::Accepted, ItemStatus::Duplicate],
            "round {round}: {ra:?} {rb:?}"
        );
    }
    let punches = a.punches(ADMIN_A).await;
    assert_eq!(punches.len(), ROUNDS);
    let chains = verified_chains(&b).await;
    assert_eq!(records_of(&chains, &dev.device_id), ROUNDS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_split_between_racing_pushes_on_two_instances_stays_linear() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let mut dev = a.enroll("A-E1001-0001").await;
    let mut stored = 0u64;
    for round in 0..ROUNDS {
        let items: Vec<PushItem> = (0..4)
            .map(|_| {
                let r = dev.good_record();
                dev.item(&r)
            })
            .collect();
        let (ra, rb) = tokio::join!(
            a.push(&dev, items[..2].to_vec()),
            b.push(&dev, items[2..].to_vec())
        );
        for r in ra.iter().chain(&rb) {
            assert!(
                matches!(r.status, ItemStatus::Accepted | ItemStatus::Retry),
                "round {round}: {r:?}"
            );
        }
        // The later half is accepted only after the earlier half.
        if rb.iter().any(|r| r.status == ItemStatus::Accepted) {
            assert!(
                ra.iter().all(|r| r.status == ItemStatus::Accepted),
                "round {round}: {ra:?} {rb:?}"
            );
        }
        // The device sends again what was not acknowledged, through either instance.
        let again = if round % 2 == 0 { &a } else { &b };
        for r in again.push(&dev, items.clone()).await {
            assert!(
                matches!(r.status, ItemStatus::Accepted | ItemStatus::Duplicate),
                "round {round}: {r:?}"
            );
        }
        stored += 4;
    }
    let chains = verified_chains(&a).await;
    assert_eq!(records_of(&chains, &dev.device_id), stored);
    assert_eq!(b.punches(ADMIN_A).await.len() as u64, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_face_nonce_is_accepted_once_across_instances() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let mut one = a.enroll("A-E1001-0001").await;
    let mut two = b.enroll("A-E1002-0001").await;
    for round in 0..ROUNDS {
        let nonce = fresh_nonce();
        let with_nonce = |dev: &TestDevice| PunchSpec {
            face: Some(FaceEvidence {
                token: face_token(&dev.employee_id, &nonce),
                nonce: nonce.clone(),
            }),
            ..dev.good_spec()
        };
        let (s1, s2) = (with_nonce(&one), with_nonce(&two));
        let (r1, r2) = (one.record(s1), two.record(s2));
        let (i1, i2) = (one.item(&r1), two.item(&r2));
        let (x, y) = tokio::join!(push1(&a, &one, i1), push1(&b, &two, i2));
        let accepted = [&x, &y]
            .iter()
            .filter(|r| r.status == ItemStatus::Accepted)
            .count();
        assert_eq!(accepted, 1, "round {round}: {x:?} {y:?}");
        let loser = if x.status == ItemStatus::Accepted {
            &y
        } else {
            &x
        };
        assert_result(loser, ItemStatus::Rejected, Some("face_token_replayed"));
    }
    let chains = verified_chains(&a).await;
    assert_eq!(records_of(&chains, &one.device_id), ROUNDS as u64);
    assert_eq!(records_of(&chains, &two.device_id), ROUNDS as u64);
}

fn expense(minor: i64) -> Value {
    json!({
        "amount": { "minor": minor, "currency": "HKD" },
        "category": "client_entertainment",
        "date": "2026-11-20",
        "receipts": [file_ref(&jpeg_like("receipt"), "image/jpeg")],
        "description": "Stationery",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvers_on_two_instances_one_wins_and_the_other_is_told_why() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let mut applicant = a.enroll("A-E1001-0001").await;
    let director = a.enroll("A-E0001-0001").await;
    let finance = b.enroll("A-E0201-0001").await;
    a.upload(&applicant, &jpeg_like("receipt"), "image/jpeg")
        .await;
    // Version 43: either director decides an expense.
    let doc = a.publish_two_director_policy().await;
    applicant.engine =
        daka_core::Engine::new(daka_core::Policy::from_json(&doc.to_string()).unwrap());
    for round in 0..ROUNDS {
        let form = expense(10_000 + round as i64);
        let request_id = Uuid::now_v7();
        let route = preview(&applicant, "expense", &form);
        let submitted = push1(
            &a,
            &applicant,
            submission_item(&applicant, request_id, 1, "expense", form, route),
        )
        .await;
        assert_result(&submitted, ItemStatus::Accepted, None);
        let id = request_id.to_string();
        let approve = decision_item(&director, &id, Action::Approve { comment: None });
        let reject = decision_item(
            &finance,
            &id,
            Action::Reject {
                comment: "Over budget".into(),
            },
        );
        let (ra, rb) = tokio::join!(push1(&a, &director, approve), push1(&b, &finance, reject));
        let wins = [&ra, &rb]
            .iter()
            .filter(|r| r.status == ItemStatus::Accepted)
            .count();
        assert_eq!(wins, 1, "round {round}: {ra:?} {rb:?}");
        let loser = if ra.status == ItemStatus::Accepted {
            &rb
        } else {
            &ra
        };
        assert_result(loser, ItemStatus::Rejected, Some("request_finished"));
        let view = b.request_view(&applicant, &id).await;
        let expected = if ra.status == ItemStatus::Accepted {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(view["status"], expected, "round {round}: {view}");
        assert_eq!(view["audit"].as_array().unwrap().len(), 2, "{view}");
    }
}

/// Publishes the next policy version through `server` until `count` publications of this
/// publisher succeeded; the versions it published. A version another publisher took first is
/// answered 409 and the next one is tried.
async fn publish_versions(servers: [&TestServer; 2], count: usize) -> Vec<u64> {
    let mut published = Vec::new();
    let mut attempt = 0usize;
    while published.len() < count {
        let server = servers[attempt % 2];
        attempt += 1;
        let (_, current) = server.admin_get(ADMIN_A, "/admin/v1/policy").await;
        let next = current["version"].as_u64().unwrap_or(42) + 1;
        let r = server
            .http
            .put(server.url("/admin/v1/policy"))
            .bearer_auth(ADMIN_A)
            .json(&policy_variant(next, ORG_A))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => published.push(next),
            409 | 503 => {}
            other => panic!("publishing {next}: {other} {}", r.text().await.unwrap()),
        }
        assert!(attempt < count * 50, "publications keep failing");
    }
    published
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_read_from_both_instances_has_every_change_once_in_order() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let dev = a.enroll("A-E1001-0001").await;
    let client_a = a.client();
    let client_b = b.client();
    let publishing = async {
        let (x, y) = tokio::join!(
            publish_versions([&a, &b], ROUNDS / 2),
            publish_versions([&b, &a], ROUNDS / 2)
        );
        x.into_iter().chain(y).collect::<HashSet<u64>>()
    };
    let reading = async {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0..(ROUNDS * 4) {
            let client = if page % 2 == 0 { &client_a } else { &client_b };
            let p = client.changes(&dev.token, cursor.as_deref()).await.unwrap();
            seen.extend(p.changes);
            cursor = Some(p.cursor);
        }
        (seen, cursor)
    };
    let (published, (mut seen, mut cursor)) = tokio::join!(publishing, reading);
    // Drain what was published after the last read, still alternating.
    for page in 0.. {
        let client = if page % 2 == 0 { &client_b } else { &client_a };
        let p = client.changes(&dev.token, cursor.as_deref()).await.unwrap();
        let more = p.more || !p.changes.is_empty();
        seen.extend(p.changes);
        cursor = Some(p.cursor);
        if !more {
            break;
        }
    }
    let versions: Vec<u64> = seen
        .iter()
        .filter_map(|c| match c {
            Change::PolicyUpdated { version } => Some(*version),
            _ => None,
        })
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "policy versions out of order or repeated: {versions:?}"
    );
    assert_eq!(versions.iter().copied().collect::<HashSet<_>>(), published);
    assert_eq!(versions.len(), ROUNDS);
    // The feed read at rest, in one pass from the start, is the same.
    let mut at_rest = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p = client_a
            .changes(&dev.token, cursor.as_deref())
            .await
            .unwrap();
        at_rest.extend(p.changes);
        cursor = Some(p.cursor);
        if !p.more {
            break;
        }
    }
    assert_eq!(seen, at_rest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_code_enrols_one_device_across_instances() {
    // Each instance lets an address fail 10 enrolments per 15 minutes, and every round's loser
    // is one failure: a new pair of instances (and database) every 9 rounds.
    for group in 0..ROUNDS.div_ceil(9) {
        let Some((a, b)) = two_instances().await else {
            return;
        };
        enrol_races(&a, &b, group * 9..(group * 9 + 9).min(ROUNDS)).await;
    }
}

/// One enrolment race per round of `rounds`, a new code each, through `a` and `b`.
async fn enrol_races(a: &TestServer, b: &TestServer, rounds: std::ops::Range<usize>) {
    let (ca, cb) = (a.client(), b.client());
    let count = rounds.len();
    for round in rounds {
        // Nine codes per employee are seeded; beyond them, HR adds one.
        let code = format!("RACE-{round:04}-{}", Uuid::now_v7().simple());
        let r = a
            .http
            .post(a.url("/admin/v1/enrollment-codes"))
            .bearer_auth(ADMIN_A)
            .json(&json!({ "code": code, "employee_id": "E1001" }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let request = |name: &str| {
            let (signer, _) = DeviceSigner::generate().unwrap();
            EnrollRequest {
                code: code.clone(),
                public_key: base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    signer.public_key(),
                ),
                device_name: name.into(),
                platform: "test".into(),
                attestation: None,
            }
        };
        let (x, y) = (request("phone x"), request("phone y"));
        let (rx, ry) = tokio::join!(ca.enroll(&x), cb.enroll(&y));
        let enrolled = [rx.is_ok(), ry.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(enrolled, 1, "round {round}: {rx:?} {ry:?}");
        let refused = if rx.is_ok() { ry } else { rx };
        match refused {
            Err(daka_device::sync::client::SyncError::Refused { status, code, .. }) => {
                assert_eq!((status, code.as_str()), (409, "enrollment_code_used"));
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
    let (_, devices) = a.admin_get(ADMIN_A, "/admin/v1/devices").await;
    assert_eq!(
        devices["devices"].as_array().unwrap().len(),
        count,
        "{devices}"
    );
}
