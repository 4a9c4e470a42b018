//! The admin API and the change feed: publishing policy versions (validated, strictly newer,
//! announced to devices as `policy_updated`), enrolment codes, cursor paging, and chain
//! verification that finds a record tampered with in the database.

mod common;

use common::*;
use daka_core::protocol::{Change, ItemStatus};
use daka_server::ServerOptions;
use serde_json::{Value, json};

async fn put_policy(server: &TestServer, token: &str, body: String) -> (u16, Value) {
    let r = server
        .http
        .put(server.url("/admin/v1/policy"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_new_policy_version_is_published_signed_and_announced() {
    let server = TestServer::start().await;
    let client = server.client();
    let dev = server.enroll("A-E1001-0001").await;
    let start = client.changes(&dev.token, None).await.unwrap();
    assert!(start.changes.is_empty());

    let (status, body) = put_policy(&server, ADMIN_A, policy_variant(43, ORG_A).to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 43);
    assert_eq!(body["devices_notified"], 1);

    let feed = client
        .changes(&dev.token, Some(&start.cursor))
        .await
        .unwrap();
    assert_eq!(feed.changes, vec![Change::PolicyUpdated { version: 43 }]);
    let bundle = client.policy(&dev.token).await.unwrap();
    assert_eq!(bundle.version, 43);
    assert_eq!(bundle.signature, body["signature"]);

    // Not newer: 409, and nothing changes.
    for version in [43, 42] {
        let (status, body) =
            put_policy(&server, ADMIN_A, policy_variant(version, ORG_A).to_string()).await;
        assert_eq!(status, 409);
        assert_eq!(body["code"], "policy_version_not_newer");
    }
    // Invalid: 400 naming the field.
    let mut bad = policy_variant(44, ORG_A);
    bad["sites"][0]["fences"][0]["coordinates"][0][0] = json!([200.0, 22.0]);
    let (status, body) = put_policy(&server, ADMIN_A, bad.to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "invalid_policy");
    assert!(
        body["message"].as_str().unwrap().contains("sites[0]"),
        "{body}"
    );
    let (status, body) = put_policy(&server, ADMIN_A, "{not json".into()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_policy"))
    );
    // A device enrolled after the update does not get the old announcement.
    let late = server.enroll("A-E1002-0001").await;
    assert!(
        client
            .changes(&late.token, None)
            .await
            .unwrap()
            .changes
            .is_empty()
    );
    // Punches judged on the old version still work: versions are kept.
    let mut dev = dev;
    let r = dev.good_record();
    assert_eq!(r.body.policy_version, 42);
    assert_eq!(
        server.push(&dev, vec![dev.item(&r)]).await[0].status,
        ItemStatus::Accepted
    );
}

#[tokio::test]
async fn the_change_feed_pages_with_its_cursor() {
    let options = ServerOptions {
        changes_page: 3,
        ..ServerOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let client = server.client();
    let mut dev = server.enroll("A-E1001-0001").await;
    let records: Vec<_> = (0..7).map(|_| dev.good_record()).collect();
    let results = server
        .push(&dev, records.iter().map(|r| dev.item(r)).collect())
        .await;
    assert!(results.iter().all(|r| r.status == ItemStatus::Accepted));

    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = client.changes(&dev.token, cursor.as_deref()).await.unwrap();
        pages += 1;
        assert!(page.changes.len() <= 3);
        for change in &page.changes {
            match change {
                Change::PunchVerdict {
                    punch_id, decision, ..
                } => {
                    assert_eq!(*decision, daka_core::Decision::Accepted);
                    seen.push(punch_id.clone());
                }
                // The day the punches belong to, as the server's attendance confirms it.
                Change::DayResult { result, .. } => assert_eq!(result.employee, "E1001"),
                other => panic!("unexpected {other:?}"),
            }
        }
        cursor = Some(page.cursor.clone());
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = records.iter().map(|r| r.body.id.to_string()).collect();
    assert_eq!(seen, expected, "every verdict once, in order");
    // Nothing new: the same cursor comes back with nothing.
    let again = client.changes(&dev.token, cursor.as_deref()).await.unwrap();
    assert!(again.changes.is_empty());
    assert_eq!(Some(again.cursor), cursor);
    assert!(!again.more);
    // A cursor that is not one: 400 invalid_cursor.
    for bad in ["abc", "-1", "1e3", "99999999999999999999999"] {
        let r = server
            .http
            .get(server.url("/v1/changes"))
            .query(&[("cursor", bad)])
            .bearer_auth(&dev.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "invalid_cursor");
    }
}

#[tokio::test]
async fn enrolment_codes_are_issued_for_employees_of_the_policy() {
    let server = TestServer::start().await;
    let post = |body: Value, token: &'static str| {
        let request = server
            .http
            .post(server.url("/admin/v1/enrollment-codes"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, issued) = post(json!({"employee_id": "E2001"}), ADMIN_A).await;
    assert_eq!(status, 201, "{issued}");
    let code = issued["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 19);
    let dev = server.enroll(&code).await;
    assert_eq!(dev.employee_id, "E2001");
    let (status, body) = post(json!({"employee_id": "E9999"}), ADMIN_A).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("unknown_employee"))
    );
    let (status, _) = post(
        json!({"employee_id": "E1001", "code": "MY-OWN-CODE-1"}),
        ADMIN_A,
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = post(
        json!({"employee_id": "E1002", "code": "my own code 1"}),
        ADMIN_A,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("enrollment_code_exists"))
    );
    let (status, body) = post(json!({"employee_id": "E1001", "code": "short"}), ADMIN_A).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = post(json!({"employee": "E1001"}), ADMIN_A).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn chain_verification_names_the_record_edited_in_the_database() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let mut other = server.enroll("A-E1002-0001").await;
    let records: Vec<_> = (0..4).map(|_| dev.good_record()).collect();
    server
        .push(&dev, records.iter().map(|r| dev.item(r)).collect())
        .await;
    let o = other.good_record();
    server.push(&other, vec![other.item(&o)]).await;
    let (_, report) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    assert_eq!(report["ok"], true, "{report}");

    // Someone with access to the database edits the third record's kind.
    let target = records[2].body.id.to_string();
    let changed = server.raw_execute(
        "UPDATE punch SET record = replace(record, '\"kind\":\"in\"', '\"kind\":\"out\"') WHERE punch_id = $1",
        &[&target],
    );
    assert_eq!(changed, 1);
    let (_, report) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    assert_eq!(report["ok"], false);
    let devices = report["devices"].as_array().unwrap();
    let bad = devices
        .iter()
        .find(|d| d["device_id"] == dev.device_id.as_str())
        .unwrap();
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["error"]["code"], "bad_signature");
    assert_eq!(bad["error"]["seq"], 3);
    assert_eq!(bad["error"]["punch_id"], target.as_str());
    let good = devices
        .iter()
        .find(|d| d["device_id"] == other.device_id.as_str())
        .unwrap();
    assert_eq!(good["ok"], true);

    // Deleting the last record is caught against the stored head.
    server.raw_execute(
        "UPDATE punch SET record = $1 WHERE punch_id = $2",
        &[&records[2].to_json().unwrap(), &target],
    );
    server.raw_execute(
        "DELETE FROM punch WHERE punch_id = $1",
        &[&records[3].body.id.to_string()],
    );
    let (_, report) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    let bad = report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == dev.device_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(bad["error"]["code"], "head_mismatch", "{bad}");
}

#[tokio::test]
async fn punches_page_and_filter() {
    let server = TestServer::start().await;
    let mut a = server.enroll("A-E1001-0001").await;
    let mut b = server.enroll("A-E1002-0001").await;
    for _ in 0..3 {
        let r = a.good_record();
        server.push(&a, vec![a.item(&r)]).await;
        let r = b.good_record();
        server.push(&b, vec![b.item(&r)]).await;
    }
    let (_, page1) = server.admin_get(ADMIN_A, "/admin/v1/punches?limit=4").await;
    assert_eq!(page1["punches"].as_array().unwrap().len(), 4);
    let after = page1["next_after"].as_i64().unwrap();
    let (_, page2) = server
        .admin_get(ADMIN_A, &format!("/admin/v1/punches?limit=4&after={after}"))
        .await;
    assert_eq!(page2["punches"].as_array().unwrap().len(), 2);
    assert!(page2.get("next_after").is_none());
    let (_, only_a) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/punches?device_id={}", a.device_id),
        )
        .await;
    let seqs: Vec<i64> = only_a["punches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    for bad in [
        "limit=0",
        "limit=x",
        "status=maybe",
        "after=-1",
        "colour=red",
    ] {
        let (status, body) = server
            .admin_get(ADMIN_A, &format!("/admin/v1/punches?{bad}"))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
}
