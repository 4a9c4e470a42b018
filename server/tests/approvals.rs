//! Approvals end to end over loopback against the real server: submissions and decisions
//! signed by real device keys and pushed through `/v1/push`, the server recomputing routes
//! with the same engine, every approver action, races between approvers and with the
//! applicant, offline decisions, leave balances, missed-punch corrections, field-punch
//! reviews, and hostile input that must change nothing.

mod common;

use chrono::{Duration, Utc};
use common::*;
use daka_core::approvals::{Action, Decision, RouteStep, Signed, SignerPosition, Submission};
use daka_core::protocol::{ItemResult, ItemStatus, PushItem};
use serde_json::{Value, json};
use uuid::Uuid;

/// The receipt photo every expense claim of these tests carries; `people` uploads it.
fn receipt_bytes() -> Vec<u8> {
    jpeg_like("receipt of the Causeway Bay store, 20 Nov 2026")
}

/// How a form refers to the receipt.
fn receipt() -> Value {
    file_ref(&receipt_bytes(), "image/jpeg")
}

fn expense(minor: i64, description: &str) -> Value {
    json!({
        "amount": { "minor": minor, "currency": "HKD" },
        "category": "client_entertainment",
        "date": "2026-11-20",
        "receipts": [receipt()],
        "description": description,
    })
}

fn leave(start: &str, end: &str) -> Value {
    json!({ "leave_type": "annual", "period": { "start": start, "end": end } })
}

/// Signs `action` on `dev` and pushes it from `dev`; its result.
async fn act(
    server: &TestServer,
    dev: &TestDevice,
    request_id: &str,
    action: Action,
) -> ItemResult {
    push1(server, dev, decision_item(dev, request_id, action)).await
}

/// Pushes one item; its result.
async fn push1(server: &TestServer, dev: &TestDevice, item: PushItem) -> ItemResult {
    server.push(dev, vec![item]).await.remove(0)
}

fn accepted(r: &ItemResult) {
    assert_eq!(r.status, ItemStatus::Accepted, "{r:?}");
}

fn refused(r: &ItemResult, code: &str) {
    assert_eq!(r.status, ItemStatus::Rejected, "{r:?}");
    assert_eq!(r.code.as_deref(), Some(code), "{r:?}");
}

/// Pushes a new request with `route` as the device shows it; the server's answer.
async fn submit_new(
    server: &TestServer,
    dev: &TestDevice,
    template: &str,
    form: Value,
    route: Vec<RouteStep>,
) -> ItemResult {
    let item = submission_item(dev, Uuid::now_v7(), 1, template, form, route);
    push1(server, dev, item).await
}

/// Submits a request; its id.
async fn submit(server: &TestServer, dev: &TestDevice, template: &str, form: Value) -> String {
    let request_id = Uuid::now_v7();
    let route = preview(dev, template, &form);
    let r = push1(
        server,
        dev,
        submission_item(dev, request_id, 1, template, form, route),
    )
    .await;
    accepted(&r);
    request_id.to_string()
}

async fn get(server: &TestServer, dev: &TestDevice, path: &str) -> (u16, Value) {
    let r = server
        .http
        .get(server.url(path))
        .bearer_auth(&dev.token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn view(server: &TestServer, dev: &TestDevice, request_id: &str) -> Value {
    let (status, body) = get(server, dev, &format!("/v1/requests/{request_id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn inbox_ids(server: &TestServer, dev: &TestDevice) -> Vec<String> {
    let (status, body) = get(server, dev, "/v1/inbox").await;
    assert_eq!(status, 200, "{body}");
    body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request_id"].as_str().unwrap().to_string())
        .collect()
}

fn approve() -> Action {
    Action::Approve { comment: None }
}

struct People {
    applicant: TestDevice,
    colleague: TestDevice,
    manager: TestDevice,
    finance: TestDevice,
    director: TestDevice,
}

/// The people of the tests, with the receipt of their expense claims uploaded (as the
/// applicant's device does before it pushes a claim).
async fn people(server: &TestServer) -> People {
    let p = People {
        applicant: server.enroll("A-E1001-0001").await,
        colleague: server.enroll("A-E1002-0001").await,
        manager: server.enroll("A-E0101-0001").await,
        finance: server.enroll("A-E0201-0001").await,
        director: server.enroll("A-E0001-0001").await,
    };
    let uploaded = server
        .upload(&p.applicant, &receipt_bytes(), "image/jpeg")
        .await;
    assert_eq!(uploaded, receipt());
    p
}

#[tokio::test]
async fn an_expense_of_6200_goes_to_the_manager_then_finance_with_a_signed_audit_trail() {
    let server = TestServer::start().await;
    let p = people(&server).await;
    let id = submit(
        &server,
        &p.applicant,
        "expense",
        expense(620_000, "Client dinner"),
    )
    .await;

    let v = view(&server, &p.applicant, &id).await;
    assert_eq!(v["status"], "pending");
    assert_eq!(v["waiting_for"], json!(["E0101"]));
    assert_eq!(v["steps"][1]["name"], "Finance");
    assert_eq!(
        inbox_ids(&server, &p.manager).await,
        std::slice::from_ref(&id)
    );
    assert!(inbox_ids(&server, &p.finance).await.is_empty());

    accepted(&act(&server, &p.manager, &id, approve()).await);
    assert!(inbox_ids(&server, &p.manager).await.is_empty());
    assert_eq!(
        inbox_ids(&server, &p.finance).await,
        std::slice::from_ref(&id)
    );
    accepted(
        &act(
            &server,
            &p.finance,
            &id,
            Action::Approve {
                comment: Some("Paid with December payroll".into()),
            },
        )
        .await,
    );

    let v = view(&server, &p.applicant, &id).await;
    assert_eq!(v["status"], "approved");
    let audit = v["audit"].as_array().unwrap();
    let who: Vec<(&str, &str)> = audit
        .iter()
        .map(|a| (a["actor"].as_str().unwrap(), a["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        who,
        [
            ("E1001", "submit"),
            ("E0101", "approve"),
            ("E0201", "approve")
        ]
    );
    assert_eq!(audit[2]["device_id"], json!(p.finance.device_id));
    assert_eq!(audit[2]["detail"]["comment"], "Paid with December payroll");
    // Every audit entry carries the signed item, which verifies with that device's key.
    for (entry, dev) in audit.iter().zip([&p.applicant, &p.manager, &p.finance]) {
        let text = entry["signed"].to_string();
        if entry["action"] == "submit" {
            Signed::<Submission>::from_json(&text)
                .unwrap()
                .verify(&dev.public_key())
                .unwrap();
        } else {
            Signed::<Decision>::from_json(&text)
                .unwrap()
                .verify(&dev.public_key())
                .unwrap();
        }
    }
    // The applicant's devices were told at every step, through the change feed.
    let changes = server
        .client()
        .changes(&p.applicant.token, None)
        .await
        .unwrap()
        .changes;
    let statuses: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            daka_core::protocol::Change::RequestUpdated { status, .. } => Some(status.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, ["pending", "pending", "approved"]);
    // Someone not on the request cannot see it; the administrator can.
    let (status, body) = get(&server, &p.colleague, &format!("/v1/requests/{id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_request"))
    );
    let (status, body) = server
        .admin_get(ADMIN_A, &format!("/admin/v1/requests/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["audit"].as_array().unwrap().len(), 3);
    let (status, _) = server
        .admin_get(ADMIN_B, &format!("/admin/v1/requests/{id}"))
        .await;
    assert_eq!(status, 404, "another organisation does not see it");
}

#[tokio::test]
async fn reject_return_resubmit_withdraw_comment_transfer_and_added_signers() {
    let server = TestServer::start().await;
    let p = people(&server).await;

    // Reject needs a reason; with one, the request is finished.
    let id = submit(&server, &p.applicant, "expense", expense(10_000, "Taxi")).await;
    refused(
        &act(
            &server,
            &p.manager,
            &id,
            Action::Reject {
                comment: " ".into(),
            },
        )
        .await,
        "invalid_comment",
    );
    accepted(
        &act(
            &server,
            &p.manager,
            &id,
            Action::Reject {
                comment: "Not a business trip".into(),
            },
        )
        .await,
    );
    assert_eq!(view(&server, &p.applicant, &id).await["status"], "rejected");
    refused(
        &act(&server, &p.manager, &id, approve()).await,
        "request_finished",
    );

    // Return for changes, resubmit with a lower amount: a new route, approval starts over.
    let request_id = Uuid::now_v7();
    let form = expense(620_000, "Team lunch");
    let route = preview(&p.applicant, "expense", &form);
    accepted(
        &push1(
            &server,
            &p.applicant,
            submission_item(&p.applicant, request_id, 1, "expense", form, route),
        )
        .await,
    );
    let id = request_id.to_string();
    accepted(
        &act(
            &server,
            &p.manager,
            &id,
            Action::Return {
                comment: "Split the bill per person".into(),
            },
        )
        .await,
    );
    assert_eq!(view(&server, &p.applicant, &id).await["status"], "returned");
    let smaller = expense(480_000, "Team lunch, my share");
    let route = preview(&p.applicant, "expense", &smaller);
    assert_eq!(route.len(), 1);
    accepted(
        &push1(
            &server,
            &p.applicant,
            submission_item(&p.applicant, request_id, 2, "expense", smaller, route),
        )
        .await,
    );
    let v = view(&server, &p.applicant, &id).await;
    assert_eq!(
        (v["status"].as_str(), v["revision"].as_u64()),
        (Some("pending"), Some(2))
    );
    assert_eq!(v["form"]["amount"]["minor"], 480_000);
    // Comments from the people on the request; withdrawal by the applicant only.
    accepted(
        &act(
            &server,
            &p.applicant,
            &id,
            Action::Comment {
                comment: "Receipt re-attached".into(),
            },
        )
        .await,
    );
    refused(
        &act(
            &server,
            &p.colleague,
            &id,
            Action::Comment {
                comment: "hi".into(),
            },
        )
        .await,
        "not_participant",
    );
    refused(
        &act(&server, &p.manager, &id, Action::Withdraw { comment: None }).await,
        "not_applicant",
    );
    accepted(
        &act(
            &server,
            &p.applicant,
            &id,
            Action::Withdraw {
                comment: Some("Paid it myself".into()),
            },
        )
        .await,
    );
    assert_eq!(
        view(&server, &p.applicant, &id).await["status"],
        "withdrawn"
    );
    assert!(inbox_ids(&server, &p.manager).await.is_empty());

    // Add a signer before, transfer, add a signer after.
    let id = submit(
        &server,
        &p.applicant,
        "expense",
        expense(20_000, "Client gift"),
    )
    .await;
    let add = |employee: &str, position| Action::AddSigner {
        employee: employee.into(),
        position,
        comment: None,
    };
    accepted(
        &act(
            &server,
            &p.manager,
            &id,
            add("E0201", SignerPosition::Before),
        )
        .await,
    );
    assert_eq!(
        inbox_ids(&server, &p.finance).await,
        std::slice::from_ref(&id)
    );
    assert!(inbox_ids(&server, &p.manager).await.is_empty());
    accepted(&act(&server, &p.finance, &id, approve()).await);
    refused(
        &act(
            &server,
            &p.manager,
            &id,
            Action::Transfer {
                to: "E1001".into(),
                comment: None,
            },
        )
        .await,
        "invalid_signer",
    );
    accepted(
        &act(
            &server,
            &p.manager,
            &id,
            add("E0001", SignerPosition::After),
        )
        .await,
    );
    assert_eq!(
        inbox_ids(&server, &p.director).await,
        std::slice::from_ref(&id)
    );
    accepted(
        &act(
            &server,
            &p.director,
            &id,
            Action::Transfer {
                to: "E0201".into(),
                comment: Some("Finance decides gifts".into()),
            },
        )
        .await,
    );
    assert!(inbox_ids(&server, &p.director).await.is_empty());
    accepted(&act(&server, &p.finance, &id, approve()).await);
    let v = view(&server, &p.applicant, &id).await;
    assert_eq!(v["status"], "approved");
    let actions: Vec<&str> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "submit",
            "add_signer",
            "approve",
            "add_signer",
            "transfer",
            "approve"
        ]
    );
    assert_eq!(v["steps"][0]["added_by"], "E0101");
}

/// A policy with a step that either of two directors may approve, published as version 43.
async fn publish_two_director_policy(server: &TestServer) {
    server.publish_two_director_policy().await;
}

fn adopt_policy(dev: &mut TestDevice, version: u64, edit: impl FnOnce(&mut Value)) {
    let mut doc: Value = serde_json::from_str(&hk_policy_text()).unwrap();
    doc["version"] = json!(version);
    edit(&mut doc);
    dev.engine = daka_core::Engine::new(daka_core::Policy::from_json(&doc.to_string()).unwrap());
}

#[tokio::test]
async fn a_policy_change_between_drafting_and_submitting_is_refused_then_reviewed() {
    let server = TestServer::start().await;
    let mut p = people(&server).await;
    // Drafted on version 42 (manager only for HK$100), submitted after 43 was published.
    let form = expense(10_000, "Printer paper");
    let stale_route = preview(&p.applicant, "expense", &form);
    publish_two_director_policy(&server).await;
    let request_id = Uuid::now_v7();
    let r = push1(
        &server,
        &p.applicant,
        submission_item(
            &p.applicant,
            request_id,
            1,
            "expense",
            form.clone(),
            stale_route.clone(),
        ),
    )
    .await;
    refused(&r, "policy_version_mismatch");
    assert!(r.message.unwrap().contains("version 43"));
    // On version 43 with the old route: the route no longer matches.
    adopt_policy(&mut p.applicant, 43, |d| {
        d["approvals"]["templates"][0]["route"] = json!([
            { "name": "Either director", "approvers": { "employees": ["E0001", "E0201"] }, "mode": "any" }
        ]);
    });
    let r = push1(
        &server,
        &p.applicant,
        submission_item(
            &p.applicant,
            request_id,
            1,
            "expense",
            form.clone(),
            stale_route,
        ),
    )
    .await;
    refused(&r, "route_mismatch");
    // Previewed again on 43: accepted, with the new route.
    let route = preview(&p.applicant, "expense", &form);
    accepted(
        &push1(
            &server,
            &p.applicant,
            submission_item(&p.applicant, request_id, 1, "expense", form, route),
        )
        .await,
    );
    let v = view(&server, &p.applicant, &request_id.to_string()).await;
    assert_eq!(v["policy_version"], 43);
    assert_eq!(v["waiting_for"], json!(["E0001", "E0201"]));
}

#[tokio::test]
async fn of_two_directors_acting_at_once_exactly_one_wins() {
    let server = TestServer::start().await;
    let mut p = people(&server).await;
    publish_two_director_policy(&server).await;
    adopt_policy(&mut p.applicant, 43, |d| {
        d["approvals"]["templates"][0]["route"] = json!([
            { "name": "Either director", "approvers": { "employees": ["E0001", "E0201"] }, "mode": "any" }
        ]);
    });
    for round in 0..10 {
        let id = submit(
            &server,
            &p.applicant,
            "expense",
            expense(10_000 + round, "Stationery"),
        )
        .await;
        let a = decision_item(&p.director, &id, approve());
        let b = decision_item(
            &p.finance,
            &id,
            Action::Reject {
                comment: "Over budget".into(),
            },
        );
        let (ra, rb) = tokio::join!(
            push1(&server, &p.director, a),
            push1(&server, &p.finance, b)
        );
        let wins = [&ra, &rb]
            .iter()
            .filter(|r| r.status == ItemStatus::Accepted)
            .count();
        assert_eq!(wins, 1, "{ra:?} {rb:?}");
        let loser = if ra.status == ItemStatus::Accepted {
            &rb
        } else {
            &ra
        };
        refused(loser, "request_finished");
        let v = view(&server, &p.applicant, &id).await;
        let expected = if ra.status == ItemStatus::Accepted {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(v["status"], expected);
        assert_eq!(
            v["audit"].as_array().unwrap().len(),
            2,
            "one submit, one decision"
        );
    }
}

#[tokio::test]
async fn a_withdrawal_racing_an_approval_leaves_one_consistent_outcome() {
    let server = TestServer::start().await;
    let p = people(&server).await;
    for _ in 0..10 {
        let id = submit(
            &server,
            &p.applicant,
            "leave",
            leave("2026-12-07", "2026-12-07"),
        )
        .await;
        let w = decision_item(&p.applicant, &id, Action::Withdraw { comment: None });
        let a = decision_item(&p.manager, &id, approve());
        let (rw, ra) = tokio::join!(
            push1(&server, &p.applicant, w),
            push1(&server, &p.manager, a)
        );
        let v = view(&server, &p.applicant, &id).await;
        match (rw.status, ra.status) {
            (ItemStatus::Accepted, ItemStatus::Rejected) => {
                refused(&ra, "request_finished");
                assert_eq!(v["status"], "withdrawn");
            }
            (ItemStatus::Rejected, ItemStatus::Accepted) => {
                refused(&rw, "request_finished");
                assert_eq!(v["status"], "approved");
            }
            other => panic!("both or neither applied: {other:?} {rw:?} {ra:?}"),
        }
    }
    // The ledger agrees with the outcomes: 10 one-day requests, each taken or released.
    let (_, b) = get(&server, &p.applicant, "/v1/leave-balances?year=2026").await;
    let annual = &b["balances"][0];
    assert_eq!(annual["pending_halves"], 0);
    let taken = annual["taken_halves"].as_i64().unwrap();
    assert_eq!(annual["available_halves"].as_i64().unwrap(), 28 - taken);
    assert_eq!(taken % 2, 0);
}

#[tokio::test]
async fn an_approver_acting_offline_is_recorded_with_the_time_they_acted() {
    let server = TestServer::start().await;
    let p = people(&server).await;
    let id = submit(&server, &p.applicant, "expense", expense(10_000, "Parking")).await;
    // Approved in an MTR tunnel two hours ago, delivered now.
    let made_at = Utc::now() - Duration::hours(2);
    accepted(
        &push1(
            &server,
            &p.manager,
            decision_item_at(&p.manager, &id, approve(), made_at),
        )
        .await,
    );
    let v = view(&server, &p.manager, &id).await;
    assert_eq!(v["status"], "approved");
    let entry = &v["audit"][1];
    let recorded: chrono::DateTime<Utc> = entry["made_at"].as_str().unwrap().parse().unwrap();
    assert!((recorded - made_at).num_milliseconds().abs() < 1);
    let received: chrono::DateTime<Utc> = entry["received_at"].as_str().unwrap().parse().unwrap();
    assert!(received - recorded > Duration::minutes(119));
}

#[tokio::test]
async fn leave_is_held_on_submission_taken_on_approval_and_released_otherwise() {
    let server = TestServer::start().await;
    let p = people(&server).await;
    let balance = |b: &Value| {
        let a = &b["balances"][0];
        (
            a["available_halves"].as_i64().unwrap(),
            a["pending_halves"].as_i64().unwrap(),
            a["taken_halves"].as_i64().unwrap(),
        )
    };
    let (_, b) = get(&server, &p.applicant, "/v1/leave-balances?year=2026").await;
    assert_eq!(b["balances"][0]["leave_type"], "annual");
    assert_eq!(balance(&b), (28, 0, 0));
    // 4 days: manager and department head; the days are held at once.
    let four = submit(
        &server,
        &p.applicant,
        "leave",
        leave("2026-12-01", "2026-12-04"),
    )
    .await;
    assert_eq!(
        view(&server, &p.applicant, &four).await["steps"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, b) = get(&server, &p.applicant, "/v1/leave-balances?year=2026").await;
    assert_eq!(balance(&b), (20, 8, 0));
    accepted(&act(&server, &p.manager, &four, approve()).await);
    accepted(&act(&server, &p.director, &four, approve()).await);
    let (_, b) = get(&server, &p.applicant, "/v1/leave-balances?year=2026").await;
    assert_eq!(balance(&b), (20, 0, 8));
    // Half a day, rejected: released.
    let half = json!({ "leave_type": "annual", "period": { "start": "2026-12-10", "end": "2026-12-10", "start_half": "pm" } });
    let id = submit(&server, &p.applicant, "leave", half).await;
    let (_, b) = get(&server, &p.applicant, "/v1/leave-balances?year=2026").await;
    assert_eq!(balance(&b), (19, 1, 8));
    accepted(
        &act(
            &server,
            &p.manager,
            &id,
            Action::Reject {
                comment: "Stocktake day".into(),
            },
        )
        .await,
    );
    let (_, b) = get(&server, &p.applicant, "/v1/leave-balances?year=2026").await;
    assert_eq!(balance(&b), (20, 0, 8));
    // More than is left is refused at submission, and nothing is held. 14 to 28 December
    // books working days only: the Sundays (20th, 27th), Christmas Day and the first weekday
    // after it (statutory holidays, which the store takes off) are not deducted: 11 days.
    let form = leave("2026-12-14", "2026-12-28");
    let route = preview(&p.applicant, "leave", &form);
    let r = submit_new(&server, &p.applicant, "leave", form, route).await;
    refused(&r, "insufficient_balance");
    assert!(
        r.message
            .unwrap()
            .contains("11 day(s) requested, 10 available")
    );
    let (_, b) = get(&server, &p.applicant, "/v1/leave-balances?year=2026").await;
    assert_eq!(balance(&b), (20, 0, 8));
    // No-pay leave has no balance and may go negative.
    let form =
        json!({ "leave_type": "no_pay", "period": { "start": "2026-12-28", "end": "2026-12-29" } });
    submit(&server, &p.applicant, "leave", form).await;
    let (_, b) = get(&server, &p.applicant, "/v1/leave-balances?year=2026").await;
    let no_pay = b["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["leave_type"] == "no_pay")
        .unwrap();
    assert_eq!(no_pay["available_halves"], -4);
    // The ledger sums to the balances shown.
    let storage = server.server.storage().clone();
    let ledger = tokio::task::spawn_blocking(move || storage.leave_movements(ORG_A, "E1001"))
        .await
        .unwrap()
        .unwrap();
    let annual_sum: i64 = ledger
        .iter()
        .filter(|m| m.leave_type == "annual")
        .map(|m| m.halves)
        .sum();
    assert_eq!(28 + annual_sum, 20);
}

#[tokio::test]
async fn missed_punch_corrections_are_limited_per_month_and_approval_adds_a_marked_record() {
    let server = TestServer::start().await;
    let p = people(&server).await;
    let form = |day: &str| json!({ "date": day, "punch_kind": "in", "time": "09:02", "reason": "Phone battery died" });
    let first = submit(&server, &p.applicant, "missed_punch", form("2026-11-03")).await;
    submit(&server, &p.applicant, "missed_punch", form("2026-11-10")).await;
    submit(&server, &p.applicant, "missed_punch", form("2026-11-17")).await;
    let f = form("2026-11-24");
    let route = preview(&p.applicant, "missed_punch", &f);
    let r = submit_new(&server, &p.applicant, "missed_punch", f, route).await;
    refused(&r, "missed_punch_limit");
    // Another month is fine.
    submit(&server, &p.applicant, "missed_punch", form("2026-12-01")).await;
    accepted(&act(&server, &p.manager, &first, approve()).await);
    let storage = server.server.storage().clone();
    let corrections = tokio::task::spawn_blocking(move || storage.corrections(ORG_A, "E1001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(corrections.len(), 1);
    assert_eq!(
        (
            corrections[0].day.as_str(),
            corrections[0].punch_kind.as_str(),
            corrections[0].time.as_str()
        ),
        ("2026-11-03", "in", "09:02")
    );
    assert_eq!(corrections[0].request_id, first);
}

#[tokio::test]
async fn a_field_punch_review_must_name_one_of_the_applicants_field_punches() {
    let server = TestServer::start().await;
    let mut p = people(&server).await;
    // An ordinary punch at the store is not a field punch.
    let record = p.applicant.good_record();
    let results = server
        .push(&p.applicant, vec![p.applicant.item(&record)])
        .await;
    accepted(&results[0]);
    let form = json!({ "punch_id": record.body.id.to_string(), "note": "At the client" });
    let route = preview(&p.applicant, "field_punch_review", &form);
    let r = submit_new(
        &server,
        &p.applicant,
        "field_punch_review",
        form,
        route.clone(),
    )
    .await;
    refused(&r, "not_a_field_punch");
    let form = json!({ "punch_id": Uuid::now_v7().to_string() });
    let r = submit_new(&server, &p.applicant, "field_punch_review", form, route).await;
    refused(&r, "unknown_punch");

    // A field punch (外勤) at a client's office in Kowloon Bay, reviewed and approved: the
    // server's punch list shows it counted.
    let spec = p.applicant.field_spec();
    let field = p.applicant.record(spec);
    accepted(
        &server
            .push(&p.applicant, vec![p.applicant.item(&field)])
            .await[0],
    );
    let id = submit(
        &server,
        &p.applicant,
        "field_punch_review",
        json!({ "punch_id": field.body.id.to_string(), "note": "Stocktake at the client's warehouse" }),
    )
    .await;
    let review_of = |body: &Value| {
        body["punches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["punch_id"] == field.body.id.to_string())
            .map(|x| x["review"].clone())
    };
    let (_, body) = server.admin_get(ADMIN_A, "/admin/v1/punches").await;
    assert_eq!(review_of(&body), Some(Value::Null), "not reviewed yet");
    // A second review of the same punch while the first is open is refused.
    let again = json!({ "punch_id": field.body.id.to_string(), "note": "again" });
    let route = preview(&p.applicant, "field_punch_review", &again);
    let r = submit_new(&server, &p.applicant, "field_punch_review", again, route).await;
    refused(&r, "punch_already_reviewed");
    accepted(&act(&server, &p.manager, &id, approve()).await);
    let (_, body) = server.admin_get(ADMIN_A, "/admin/v1/punches").await;
    assert_eq!(review_of(&body), Some(json!("approved")));
}

/// One push carrying punches and an approval item between them, as a phone's outbox sends
/// them: the review of a field punch finds the punch stored earlier in the same push, the
/// punch after it extends the chain, and an item sent twice in the push is a duplicate.
#[tokio::test]
async fn a_push_of_punches_and_a_review_of_one_of_them_applies_each_in_order() {
    let server = TestServer::start().await;
    let mut p = people(&server).await;
    let spec = p.applicant.field_spec();
    let field = p.applicant.record(spec);
    let after = p.applicant.good_record();
    let form = json!({ "punch_id": field.body.id.to_string(), "note": "Stocktake at the client" });
    let route = preview(&p.applicant, "field_punch_review", &form);
    let review = Uuid::now_v7();
    let items = vec![
        p.applicant.item(&field),
        submission_item(&p.applicant, review, 1, "field_punch_review", form, route),
        p.applicant.item(&after),
        p.applicant.item(&field),
    ];
    let results = server.push(&p.applicant, items).await;
    assert_eq!(results[0].status, ItemStatus::Accepted, "{:?}", results[0]);
    accepted(&results[1]);
    accepted(&results[2]);
    assert_eq!(results[3].status, ItemStatus::Duplicate, "{:?}", results[3]);
    let view = view(&server, &p.applicant, &review.to_string()).await;
    assert_eq!(view["status"], "pending", "{view}");
    let (_, chains) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    let mine = chains["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == p.applicant.device_id.as_str())
        .unwrap_or_else(|| panic!("{chains}"));
    assert_eq!(mine["records"], 2, "{mine}");
    assert_eq!(mine["ok"], true, "{mine}");
}

/// Edits an item's body as JSON, as someone tampering with it in transit would.
fn edit_body(item: &mut PushItem, edit: impl FnOnce(&mut Value)) {
    let mut body: Value = serde_json::from_str(item.body.get()).unwrap();
    edit(&mut body);
    item.body = serde_json::value::to_raw_value(&body).unwrap();
}

#[tokio::test]
async fn hostile_items_are_refused_with_their_code_and_change_nothing() {
    let server = TestServer::start().await;
    let p = people(&server).await;
    let id = submit(&server, &p.applicant, "expense", expense(620_000, "Dinner")).await;
    let before = view(&server, &p.applicant, &id).await;

    // A decision signed by another key (forged), one acting in someone else's name, one by
    // someone not on the route, the applicant approving their own request.
    let mut forged = decision_item(&p.manager, &id, approve());
    let other: Value =
        serde_json::from_str(decision_item(&p.colleague, &id, approve()).body.get()).unwrap();
    edit_body(&mut forged, |b| b["sig"] = other["sig"].clone());
    refused(&push1(&server, &p.manager, forged).await, "bad_signature");
    let mut edited = decision_item(&p.manager, &id, approve());
    edit_body(&mut edited, |b| {
        b["action"] = json!({ "action": "reject", "comment": "edited in transit" })
    });
    refused(&push1(&server, &p.manager, edited).await, "bad_signature");
    let mut impersonation = decision_item(&p.colleague, &id, approve());
    edit_body(&mut impersonation, |b| b["actor"] = json!("E0101"));
    refused(
        &push1(&server, &p.colleague, impersonation).await,
        "wrong_employee",
    );
    refused(
        &act(&server, &p.colleague, &id, approve()).await,
        "not_current_approver",
    );
    refused(
        &act(&server, &p.finance, &id, approve()).await,
        "not_current_approver",
    );
    refused(
        &act(&server, &p.applicant, &id, approve()).await,
        "self_approval",
    );
    // Pushed by a device that did not sign it.
    refused(
        &push1(
            &server,
            &p.colleague,
            decision_item(&p.manager, &id, approve()),
        )
        .await,
        "wrong_device",
    );
    // Garbage bodies.
    for body in [
        json!(null),
        json!("approve"),
        json!({ "sig": "x" }),
        json!({ "id": 1, "sig": "AA" }),
    ] {
        let item = PushItem::new(
            Uuid::now_v7().to_string(),
            format!("request:{id}"),
            "decision",
            &body,
        )
        .unwrap();
        refused(&push1(&server, &p.manager, item).await, "malformed_item");
    }
    assert_eq!(
        view(&server, &p.applicant, &id).await,
        before,
        "nothing changed, the audit trail is intact"
    );

    // A real approval, then its replay: applied once.
    let approval = decision_item(&p.manager, &id, approve());
    accepted(&push1(&server, &p.manager, approval.clone()).await);
    let replay = push1(&server, &p.manager, approval.clone()).await;
    assert_eq!(replay.status, ItemStatus::Duplicate);
    // The same item id with another body is a conflict; a body under another item id than
    // its own decision id is refused too.
    let mut other_body = approval.clone();
    other_body.body = decision_item(
        &p.manager,
        &id,
        Action::Comment {
            comment: "x".into(),
        },
    )
    .body;
    refused(&push1(&server, &p.manager, other_body).await, "id_conflict");
    let mut renamed = decision_item(
        &p.manager,
        &id,
        Action::Comment {
            comment: "x".into(),
        },
    );
    renamed.id = Uuid::now_v7().to_string();
    refused(&push1(&server, &p.manager, renamed).await, "id_mismatch");
    let v = view(&server, &p.applicant, &id).await;
    assert_eq!(v["audit"].as_array().unwrap().len(), 2);
    assert_eq!(v["waiting_for"], json!(["E0201"]));

    // Submissions: wrong types, missing fields, negative and overflowing money, a megabyte of
    // text, a tampered route, another employee's name.
    let bad_forms = [
        (json!({ "amount": "lots" }), "amount"),
        (json!({}), "category"),
        (expense(-1, "refund"), "amount"),
        (
            json!({ "amount": { "minor": 1e300, "currency": "HKD" }, "category": "taxi", "date": "2026-11-01", "receipts": [] }),
            "amount.minor",
        ),
        (expense(100, &"x".repeat(1_000_000)), "description"),
    ];
    for (form, field) in bad_forms {
        let route = vec![RouteStep {
            name: "Manager".into(),
            mode: daka_core::approvals::StepMode::Any,
            approvers: vec!["E0101".into()],
            escalated: false,
        }];
        let r = submit_new(&server, &p.applicant, "expense", form, route).await;
        refused(&r, "invalid_form");
        assert!(r.message.as_deref().unwrap().contains(field), "{r:?}");
        assert!(
            r.message.as_deref().unwrap().len() < 2_000,
            "the message stays small"
        );
    }
    // Three megabytes of text: over the item size limit, refused before it is read.
    let huge = expense(100, &"長".repeat(1_000_000));
    let r = submit_new(&server, &p.applicant, "expense", huge, vec![]).await;
    refused(&r, "malformed_item");
    assert!(r.message.unwrap().contains("over the 2097152-byte limit"));
    let form = expense(620_000, "Dinner");
    let mut route = preview(&p.applicant, "expense", &form);
    route.truncate(1);
    let r = submit_new(&server, &p.applicant, "expense", form.clone(), route).await;
    refused(&r, "route_mismatch");
    let mut item = submission_item(
        &p.applicant,
        Uuid::now_v7(),
        1,
        "expense",
        form.clone(),
        preview(&p.applicant, "expense", &form),
    );
    edit_body(&mut item, |b| b["applicant"] = json!("E1002"));
    refused(&push1(&server, &p.applicant, item).await, "wrong_employee");
    let mut requests = get(&server, &p.applicant, "/v1/requests").await.1["requests"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(requests, 1, "no refused submission was stored");

    // Markup and SQL-looking text is data: stored and returned verbatim.
    let text = "<img src=x onerror=alert(1)>'); DROP TABLE request; --";
    let id2 = submit(&server, &p.applicant, "expense", expense(100, text)).await;
    assert_eq!(
        view(&server, &p.manager, &id2).await["form"]["description"],
        text
    );
    requests = get(&server, &p.applicant, "/v1/requests").await.1["requests"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(requests, 2);
}
