//! The console's Approvals inbox and Exceptions queue over loopback against the real server,
//! with real SQLite files: an expense claim with a receipt pushed by a device, seen and
//! decided on the console, the decision signed by the server for the console account (and
//! the signature checked under the organisation's decision key, derived here on its own from
//! the stored organisation key); the typed refusals, another team's ids, an auditor, a POST
//! without its CSRF token; and a field punch approved in Exceptions that attendance then
//! counts.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use common::console::*;
use common::*;
use daka_core::Policy;
use daka_core::approvals::{Action, Decision, Signed, Submission};
use daka_core::attendance::plan::local_instant;
use daka_core::attendance::{AttendanceEngine, DayKind};
use daka_core::protocol::ItemStatus;
use daka_core::punch::PunchKind;
use daka_server::{Seed, SeedConsoleAccount, ServerOptions};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use uuid::Uuid;

const MANAGER: (&str, &str) = ("lee@harbour-lane.example", "daka-demo-manager-2026");
const OTHER_MANAGER: (&str, &str) = ("ho@harbour-lane.example", "other-team-manager-2026");
const HR: (&str, &str) = ("hr@harbour-lane.example", "daka-demo-hr-2026");
const AUDITOR: (&str, &str) = ("audit@harbour-lane.example", "auditor-reads-only-2026");

fn account(
    (email, password): (&str, &str),
    role: &str,
    employee: Option<&str>,
) -> SeedConsoleAccount {
    SeedConsoleAccount {
        email: email.into(),
        name: format!("{role} account"),
        role: role.into(),
        password: password.into(),
        employee_id: employee.map(Into::into),
        language: None,
    }
}

/// Harbour Lane with HR (no employee), Lee (manager of E0101's team: E1001, E1002), Ho
/// (E0201, manager of the warehouse team and finance) and an auditor.
fn seed() -> Seed {
    let mut seed = two_org_seed();
    seed.organisations[0].console_accounts = vec![
        account(HR, "hr_admin", None),
        account(MANAGER, "manager", Some("E0101")),
        account(OTHER_MANAGER, "manager", Some("E0201")),
        account(AUDITOR, "auditor", None),
    ];
    seed
}

async fn start_with(options: ServerOptions) -> TestServer {
    start_console(seed(), options).await
}

async fn console_audit(server: &TestServer) -> Vec<Value> {
    let (status, body) = server
        .admin_get(ADMIN_A, "/admin/v1/console/audit?limit=1000")
        .await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

/// The decision key the server must sign with, derived here from the organisation key's seed
/// as stored in the database (HKDF-SHA256, salt `daka decision key`, info `v1`).
fn expected_decision_key(server: &TestServer) -> [u8; 32] {
    let hex = &server.raw_rows(&format!(
        "SELECT {} FROM org WHERE id = '{ORG_A}'",
        if server.on_postgres() {
            "encode(signing_seed, 'hex')"
        } else {
            "hex(signing_seed)"
        }
    ))[0][0];
    let seed: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    struct Len;
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let mut derived = [0u8; 32];
    ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"daka decision key")
        .extract(&seed)
        .expand(&[b"v1"], Len)
        .unwrap()
        .fill(&mut derived)
        .unwrap();
    let pair = Ed25519KeyPair::from_seed_unchecked(&derived).unwrap();
    pair.public_key().as_ref().try_into().unwrap()
}

fn receipt_bytes() -> Vec<u8> {
    jpeg_like("taxi receipt, Causeway Bay to Central, 2 Dec 2026")
}

fn expense(minor: i64, description: &str, receipt: &[u8]) -> Value {
    json!({
        "amount": { "minor": minor, "currency": "HKD" },
        "category": "taxi",
        "date": "2026-12-01",
        "receipts": [file_ref(receipt, "image/jpeg")],
        "description": description,
    })
}

/// Submits a request from `dev`; its id.
async fn submit(server: &TestServer, dev: &TestDevice, template: &str, form: Value) -> String {
    let request_id = Uuid::now_v7();
    let route = preview(dev, template, &form);
    let r = server
        .push(
            dev,
            vec![submission_item(dev, request_id, 1, template, form, route)],
        )
        .await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");
    request_id.to_string()
}

async fn admin_request(server: &TestServer, id: &str) -> Value {
    let (status, body) = server
        .admin_get(ADMIN_A, &format!("/admin/v1/requests/{id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn an_expense_claim_is_decided_on_the_console_and_signed_by_the_server() {
    let server = start_with(ServerOptions::default()).await;
    let applicant = server.enroll("A-E1001-0001").await;
    let colleague = server.enroll("A-E1002-0001").await;
    let finance = server.enroll("A-E0201-0001").await;
    let receipt = receipt_bytes();
    server.upload(&applicant, &receipt, "image/jpeg").await;
    // HK$6,200: the manager, then finance (over HK$5,000).
    let id = submit(
        &server,
        &applicant,
        "expense",
        expense(620_000, "Client dinner <b>Lung King Heen</b>", &receipt),
    )
    .await;
    let colleague_receipt = jpeg_like("stationery receipt");
    server
        .upload(&colleague, &colleague_receipt, "image/jpeg")
        .await;
    let other = submit(
        &server,
        &colleague,
        "expense",
        expense(4_500, "Printer paper", &colleague_receipt),
    )
    .await;

    // The manager sees the claim: applicant, amount, escaped text, the receipt inline.
    let (lee, lee_csrf) = sign_in_en(&server, MANAGER).await;
    let page = get(&server, "/console/approvals", &lee).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    let card = page
        .element("article", &format!("request-{id}"))
        .expect("the claim on the manager's page");
    assert!(card.contains(r#"data-status="pending""#), "{card}");
    assert!(card.contains("E1001 Chan Tai Man 陳大文"), "{card}");
    assert!(card.contains("HKD 6200.00"), "{card}");
    assert!(
        card.contains("Client dinner &#60;b&#62;Lung King Heen&#60;/b&#62;"),
        "{card}"
    );
    assert!(!card.contains("<b>Lung"), "{card}");
    let sha = daka_server::crypto::sha256_hex(&receipt);
    let href = format!("/console/approvals/{id}/files/{sha}");
    assert!(
        card.contains(&format!(
            r#"<img src="{href}" alt="Receipt 1" data-testid="receipt-image""#
        )),
        "{card}"
    );
    assert!(card.contains(r#"data-testid="decide-form""#), "{card}");
    // The receipt's bytes, as an image, never sniffed.
    let image = get(&server, &href, &lee).await;
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type"), "image/jpeg");
    assert_eq!(image.header("x-content-type-options"), "nosniff");
    assert!(image.header("content-disposition").starts_with("inline"));
    assert_eq!(image.bytes, receipt);
    // Another request's file through this request's route: not served.
    let colleague_sha = daka_server::crypto::sha256_hex(&colleague_receipt);
    let crossed = get(
        &server,
        &format!("/console/approvals/{id}/files/{colleague_sha}"),
        &lee,
    )
    .await;
    assert_eq!(crossed.status, 404);

    // Another team's manager guessing the ids: 404, and nothing of the claim.
    let (ho, ho_csrf) = sign_in_en(&server, OTHER_MANAGER).await;
    let ho_page = get(&server, "/console/approvals", &ho).await;
    assert!(!ho_page.body.contains(&other), "{}", ho_page.body);
    let guessed = get(
        &server,
        &format!("/console/approvals/{other}/files/{colleague_sha}"),
        &ho,
    )
    .await;
    assert_eq!(guessed.status, 404);
    assert_ne!(guessed.bytes, colleague_receipt);
    assert!(!guessed.body.contains("Printer paper"));
    let guessed = post(
        &server,
        &format!("/console/approvals/{other}/decide"),
        &ho,
        &[("csrf", &ho_csrf), ("action", "approve")],
    )
    .await;
    assert_eq!(guessed.status, 404);
    assert!(!guessed.body.contains("Printer paper"));
    assert_eq!(
        admin_request(&server, &other).await["status"],
        "pending",
        "unchanged"
    );

    // An auditor reads, and cannot decide.
    let (auditor, auditor_csrf) = sign_in_en(&server, AUDITOR).await;
    let auditor_page = get(&server, "/console/approvals", &auditor).await;
    let auditor_card = auditor_page
        .element("article", &format!("request-{id}"))
        .expect("the auditor reads every pending request");
    assert!(!auditor_card.contains("decide-form"), "{auditor_card}");
    let refused = post(
        &server,
        &format!("/console/approvals/{id}/decide"),
        &auditor,
        &[("csrf", &auditor_csrf), ("action", "approve")],
    )
    .await;
    assert_eq!(refused.status, 403);
    // HR without a linked employee reads, and cannot decide either.
    let (hr, hr_csrf) = sign_in_en(&server, HR).await;
    let hr_card = get(&server, "/console/approvals", &hr)
        .await
        .element("article", &format!("request-{id}"))
        .expect("HR reads every pending request");
    assert!(!hr_card.contains("decide-form"), "{hr_card}");
    let refused = post(
        &server,
        &format!("/console/approvals/{id}/decide"),
        &hr,
        &[("csrf", &hr_csrf), ("action", "approve")],
    )
    .await;
    assert_eq!(refused.status, 403);

    // Without the CSRF token, or with another session's, nothing changes.
    for csrf in ["", ho_csrf.as_str()] {
        let r = post(
            &server,
            &format!("/console/approvals/{id}/decide"),
            &lee,
            &[("csrf", csrf), ("action", "approve")],
        )
        .await;
        assert_eq!(r.status, 403);
    }
    // A rejection needs its reason: refused, naming the comment.
    let r = post(
        &server,
        &format!("/console/approvals/{id}/decide"),
        &lee,
        &[("csrf", &lee_csrf), ("action", "reject"), ("comment", "  ")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location(),
        format!("/console/approvals?error=invalid_comment&request={id}")
    );
    let shown = get(&server, r.location(), &lee).await;
    let error = shown.element("p", "approvals-error").unwrap();
    assert!(error.contains(r#"data-code="invalid_comment""#), "{error}");
    assert!(error.contains("Comment: required to reject"), "{error}");
    let view = admin_request(&server, &id).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(view["audit"].as_array().unwrap().len(), 1, "{view}");

    // The manager approves with a comment.
    let r = post(
        &server,
        &format!("/console/approvals/{id}/decide"),
        &lee,
        &[
            ("csrf", &lee_csrf),
            ("action", "approve"),
            ("comment", "Receipt checked 已核對"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/console/approvals?done=approve&request={id}")
    );
    let done = get(&server, r.location(), &lee).await;
    assert!(
        done.element("p", "approvals-done").is_some(),
        "{}",
        done.body
    );
    let card = done.element("article", &format!("request-{id}")).unwrap();
    assert!(
        card.contains(r#"data-action="approve" data-signed-by="server""#),
        "{card}"
    );
    assert!(card.contains("lee@harbour-lane.example"), "{card}");
    assert!(
        !card.contains("decide-form"),
        "now waiting for finance: {card}"
    );

    // The admin view: the decision signed by the server for the account, and it verifies
    // under the organisation's decision key, not under its policy key.
    let view = admin_request(&server, &id).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(view["waiting_for"], json!(["E0201"]));
    let audit = view["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 2, "{view}");
    assert_eq!(audit[0]["signed_by"], "device");
    assert!(audit[0].get("console_account").is_none(), "{view}");
    let decided = &audit[1];
    assert_eq!(decided["signed_by"], "server", "{view}");
    assert_eq!(decided["actor"], "E0101");
    assert_eq!(decided["action"], "approve");
    assert_eq!(decided["detail"]["comment"], "Receipt checked 已核對");
    assert_eq!(
        decided["console_account"]["email"],
        "lee@harbour-lane.example"
    );
    let key = expected_decision_key(&server);
    assert_eq!(
        decided["console_account"]["public_key"],
        URL_SAFE_NO_PAD.encode(key)
    );
    let signed = Signed::<Decision>::from_json(&decided["signed"].to_string()).unwrap();
    assert_eq!(signed.body.actor, "E0101");
    assert_eq!(
        signed.body.device_id,
        format!(
            "console:{}",
            decided["console_account"]["id"].as_str().unwrap()
        )
    );
    assert_eq!(
        signed.body.action,
        Action::Approve {
            comment: Some("Receipt checked 已核對".into())
        }
    );
    signed
        .verify(&key)
        .expect("the server's signature verifies");
    let policy_key = daka_server::crypto::decode_public_key(&applicant.org_public_key).unwrap();
    assert_ne!(policy_key, key);
    assert!(signed.verify(&policy_key).is_err(), "not the policy key");
    // A signature that does not cover an edited decision.
    let mut edited = signed.clone();
    edited.body.actor = "E0001".into();
    assert!(edited.verify(&key).is_err());

    // The applicant's device sees the same trail, and the change in its feed.
    let r = server
        .http
        .get(server.url(&format!("/v1/requests/{id}")))
        .bearer_auth(&applicant.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let device_view: Value = r.json().await.unwrap();
    assert_eq!(device_view["audit"][1]["signed_by"], "server");
    assert_eq!(
        device_view["audit"][1]["console_account"]["email"],
        "lee@harbour-lane.example"
    );
    let r = server
        .http
        .get(server.url("/v1/changes"))
        .bearer_auth(&applicant.token)
        .send()
        .await
        .unwrap();
    let feed = r.text().await.unwrap();
    assert!(feed.contains(&id), "{feed}");
    assert!(feed.contains(r#""waiting_for":["E0201"]"#), "{feed}");

    // A second decision on the step is refused with the typed reason, shown translated.
    let again = post(
        &server,
        &format!("/console/approvals/{id}/decide"),
        &lee,
        &[("csrf", &lee_csrf), ("action", "approve")],
    )
    .await;
    assert_eq!(
        again.location(),
        format!("/console/approvals?error=not_current_approver&request={id}")
    );
    let zh = get(&server, &format!("{}&lang=zh-Hant", again.location()), &lee).await;
    let error = zh.element("p", "approvals-error").unwrap();
    assert!(
        error.contains(r#"data-code="not_current_approver""#),
        "{error}"
    );
    assert!(error.contains("你不是目前步驟的審批人"), "{error}");
    assert_eq!(
        admin_request(&server, &id).await["audit"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Finance decides from its phone, as before: device-signed, after the console's.
    let r = server
        .push(
            &finance,
            vec![decision_item(
                &finance,
                &id,
                Action::Approve { comment: None },
            )],
        )
        .await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");
    let view = admin_request(&server, &id).await;
    assert_eq!(view["status"], "approved");
    let signers: Vec<&str> = view["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["signed_by"].as_str().unwrap())
        .collect();
    assert_eq!(signers, ["device", "server", "device"]);

    // Every attempt is in the console audit, with the account and the client address.
    let entries = console_audit(&server).await;
    let decided: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "approval_decided")
        .collect();
    assert_eq!(decided.len(), 1, "{entries:?}");
    assert_eq!(decided[0]["email"], "lee@harbour-lane.example");
    assert_eq!(decided[0]["client"], "127.0.0.1");
    assert!(decided[0]["detail"].as_str().unwrap().contains(&id));
    let refused: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["action"] == "approval_refused")
        .map(|e| {
            (
                e["email"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        refused
            .iter()
            .any(|(e, d)| e == "ho@harbour-lane.example" && d.contains("no such request")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(e, d)| e == "lee@harbour-lane.example" && d.contains("not_current_approver")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(e, _)| e == "audit@harbour-lane.example"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn files_that_are_not_raster_images_are_downloads() {
    let server = start_with(ServerOptions::default()).await;
    let applicant = server.enroll("A-E1001-0002").await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    server.upload(&applicant, svg, "image/svg+xml").await;
    let html = b"<html><script>alert(2)</script></html>".to_vec();
    server.upload(&applicant, &html, "text/html").await;
    let form = json!({
        "amount": { "minor": 9_900, "currency": "HKD" },
        "category": "other",
        "date": "2026-12-01",
        "receipts": [file_ref(svg, "image/svg+xml"), file_ref(&html, "text/html")],
    });
    let id = submit(&server, &applicant, "expense", form).await;
    let (lee, _) = sign_in_en(&server, MANAGER).await;
    let page = get(&server, "/console/approvals", &lee).await;
    let card = page.element("article", &format!("request-{id}")).unwrap();
    assert!(!card.contains("receipt-image"), "no inline image: {card}");
    assert_eq!(
        card.matches(r#"data-testid="file-link""#).count(),
        2,
        "{card}"
    );
    for (bytes, n) in [(svg.to_vec(), 1), (html, 2)] {
        let sha = daka_server::crypto::sha256_hex(&bytes);
        let file = get(
            &server,
            &format!("/console/approvals/{id}/files/{sha}"),
            &lee,
        )
        .await;
        assert_eq!(file.status, 200, "file {n}");
        assert_eq!(file.header("content-type"), "application/octet-stream");
        assert!(
            file.header("content-disposition")
                .starts_with("attachment;"),
            "{}",
            file.header("content-disposition")
        );
        assert_eq!(file.header("x-content-type-options"), "nosniff");
        assert_eq!(file.bytes, bytes);
    }
    // A malformed hash is not looked up.
    let bad = get(
        &server,
        &format!("/console/approvals/{id}/files/../../etc"),
        &lee,
    )
    .await;
    assert_eq!(bad.status, 404);
}

/// E1001's last two working days up to today.
fn last_workdays() -> (chrono::NaiveDate, chrono::NaiveDate) {
    let policy = Policy::from_json(&hk_policy_text()).unwrap();
    let today = Utc::now().with_timezone(&policy.time_zone()).date_naive();
    let days: Vec<_> = AttendanceEngine::new(&policy)
        .plans("E1001", today - Duration::days(14), today)
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == DayKind::Workday)
        .map(|d| d.date)
        .collect();
    (days[days.len() - 2], days[days.len() - 1])
}

/// A server whose clock is `local` minutes into `date` in Hong Kong, movable later.
async fn server_at(
    date: chrono::NaiveDate,
    local: u32,
) -> (
    TestServer,
    Arc<AtomicI64>,
    impl Fn() -> DateTime<Utc> + Clone,
) {
    let policy = Policy::from_json(&hk_policy_text()).unwrap();
    let offset = Arc::new(AtomicI64::new(
        (local_instant(policy.time_zone(), date, local) - Utc::now()).num_milliseconds(),
    ));
    let shared = offset.clone();
    let clock = move || Utc::now() + Duration::milliseconds(shared.load(Ordering::SeqCst));
    let server = start_with(ServerOptions {
        clock: Some(Arc::new(clock.clone())),
        attendance_sweep: None,
        ..ServerOptions::default()
    })
    .await;
    (server, offset, clock)
}

async fn day(server: &TestServer, date: chrono::NaiveDate) -> Value {
    let (status, days) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/attendance/days?employee=E1001&from={date}&to={date}"),
        )
        .await;
    assert_eq!(status, 200, "{days}");
    days["days"][0]["result"].clone()
}

#[tokio::test]
async fn a_field_punch_approved_in_exceptions_counts_as_attendance() {
    // The server's clock: 10:04 on E1001's latest working day (the store opens at 10:00).
    let (_, workday) = last_workdays();
    let (server, _, clock) = server_at(workday, 10 * 60 + 4).await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let record = punch_at(&mut dev, PunchKind::Field, clock());
    let punch_id = record.body.id.to_string();
    let r = server.push(&dev, vec![dev.item(&record)]).await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");
    let before = day(&server, workday).await;
    assert_eq!(before["pending"], json!([punch_id]), "{before}");
    assert!(before["segments"][0]["clock_in"].is_null(), "{before}");

    // In the manager's queue, with the link to its evidence and the review form.
    let (lee, lee_csrf) = sign_in_en(&server, MANAGER).await;
    let page = get(&server, "/console/exceptions", &lee).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let item = page
        .element("div", &format!("field-punch-{punch_id}"))
        .expect("the field punch in the queue");
    assert!(item.contains(r#"data-review="none""#), "{item}");
    assert!(item.contains("field punch"), "the kind, in words: {item}");
    assert!(
        item.contains(&format!(r#"href="/console/punches/{punch_id}""#)),
        "{item}"
    );
    assert!(item.contains(r#"href="/console/people/E1001""#), "{item}");
    assert!(item.contains(r#"data-testid="review-form""#), "{item}");
    // HR reads it; another team's manager does not see it and cannot decide it.
    let (hr, _) = sign_in_en(&server, HR).await;
    let hr_item = get(&server, "/console/exceptions", &hr)
        .await
        .element("div", &format!("field-punch-{punch_id}"))
        .expect("HR sees every field punch");
    assert!(!hr_item.contains("review-form"), "{hr_item}");
    let (ho, ho_csrf) = sign_in_en(&server, OTHER_MANAGER).await;
    let ho_page = get(&server, "/console/exceptions", &ho).await;
    assert!(!ho_page.body.contains(&punch_id));
    let guessed = post(
        &server,
        &format!("/console/exceptions/punches/{punch_id}/review"),
        &ho,
        &[("csrf", &ho_csrf), ("decision", "approve")],
    )
    .await;
    assert_eq!(guessed.status, 404);
    // Without the CSRF token: refused, nothing changes.
    let r = post(
        &server,
        &format!("/console/exceptions/punches/{punch_id}/review"),
        &lee,
        &[("decision", "approve")],
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(day(&server, workday).await["pending"], json!([punch_id]));

    // Approved with a comment: a review filed and decided, signed by the server.
    let r = post(
        &server,
        &format!("/console/exceptions/punches/{punch_id}/review"),
        &lee,
        &[
            ("csrf", &lee_csrf),
            ("decision", "approve"),
            ("comment", "Stocktake at the client 客戶盤點"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/console/exceptions?done=approve");
    let after_page = get(&server, r.location(), &lee).await;
    assert!(after_page.element("p", "exceptions-done").is_some());
    assert!(!after_page.body.contains(&format!("field-punch-{punch_id}")));

    // Attendance now counts it: the day's clock-in is the punch.
    let after = day(&server, workday).await;
    assert_eq!(after["pending"], json!([]), "{after}");
    let clock_in: DateTime<Utc> =
        serde_json::from_value(after["segments"][0]["clock_in"].clone()).unwrap();
    assert!(
        (clock_in - record.body.clock.wall).num_seconds().abs() <= 1,
        "{after}"
    );
    let (_, punches) = server.admin_get(ADMIN_A, "/admin/v1/punches").await;
    let stored = punches["punches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["punch_id"] == punch_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(stored["review"], "approved", "{stored}");

    // The review request: filed by the server for the account, then approved by it.
    let r = server
        .http
        .get(server.url("/v1/requests"))
        .bearer_auth(&dev.token)
        .send()
        .await
        .unwrap();
    let mine: Value = r.json().await.unwrap();
    let review_id = mine["requests"][0]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(mine["requests"][0]["request_type"], "field_punch_review");
    let view = admin_request(&server, &review_id).await;
    assert_eq!(view["status"], "approved");
    assert_eq!(view["form"]["punch_id"], punch_id.as_str());
    let audit = view["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 2, "{view}");
    assert_eq!(
        (audit[0]["action"].as_str(), audit[0]["actor"].as_str()),
        (Some("submit"), Some("E1001"))
    );
    assert_eq!(
        (audit[1]["action"].as_str(), audit[1]["actor"].as_str()),
        (Some("approve"), Some("E0101"))
    );
    let key = expected_decision_key(&server);
    for a in audit {
        assert_eq!(a["signed_by"], "server");
        assert_eq!(a["console_account"]["email"], "lee@harbour-lane.example");
    }
    let filed = Signed::<Submission>::from_json(&audit[0]["signed"].to_string()).unwrap();
    filed.verify(&key).expect("the filed review verifies");
    let decided = Signed::<Decision>::from_json(&audit[1]["signed"].to_string()).unwrap();
    decided.verify(&key).expect("the decision verifies");
    assert_eq!(
        audit[1]["detail"]["comment"],
        "Stocktake at the client 客戶盤點"
    );
    // Once reviewed, a second review of the punch is refused.
    let again = post(
        &server,
        &format!("/console/exceptions/punches/{punch_id}/review"),
        &lee,
        &[
            ("csrf", &lee_csrf),
            ("decision", "reject"),
            ("comment", "No"),
        ],
    )
    .await;
    assert_eq!(
        again.location(),
        "/console/exceptions?error=punch_already_reviewed"
    );
    let entries = console_audit(&server).await;
    assert!(
        entries.iter().any(|e| e["action"] == "punch_reviewed"
            && e["email"] == "lee@harbour-lane.example"
            && e["detail"].as_str().unwrap().contains(&punch_id)),
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_day_without_its_clock_out_is_a_missing_punch() {
    // A clock-in at 09:58 on E1001's previous working day and nothing after; the queue is
    // read at 10:30 on the next working day.
    let (previous, workday) = last_workdays();
    let (server, offset, clock) = server_at(previous, 9 * 60 + 58).await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let record = punch_at(&mut dev, PunchKind::In, clock());
    let r = server.push(&dev, vec![dev.item(&record)]).await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");
    let policy = Policy::from_json(&hk_policy_text()).unwrap();
    offset.store(
        (local_instant(policy.time_zone(), workday, 10 * 60 + 30) - Utc::now()).num_milliseconds(),
        Ordering::SeqCst,
    );
    let (lee, _) = sign_in_en(&server, MANAGER).await;
    let month = format!("{}", previous.format("%Y-%m"));
    let page = get(&server, &format!("/console/exceptions?month={month}"), &lee).await;
    assert_eq!(page.status, 200);
    let missing = page.element("section", "exceptions-missing").unwrap();
    let item = format!(r#"data-testid="missing-E1001-{previous}" data-code="missing_clock_out""#);
    assert!(missing.contains(&item), "{missing}");
    assert!(missing.contains("Missing clock-out"), "{missing}");
    // The same day is not an absence: the clock-in counts.
    let absences = page.element("section", "exceptions-absences").unwrap();
    assert!(
        !absences.contains(&format!("absent-E1001-{previous}")),
        "{absences}"
    );
    // In Chinese.
    let zh = get(
        &server,
        &format!("/console/exceptions?month={month}&lang=zh-Hant"),
        &lee,
    )
    .await;
    assert!(
        zh.element("section", "exceptions-missing")
            .unwrap()
            .contains("缺下班打卡")
    );
}

#[tokio::test]
async fn exceptions_list_absences_and_refuse_a_bad_month() {
    let server = start_with(ServerOptions::default()).await;
    let (lee, _) = sign_in_en(&server, MANAGER).await;
    let bad = get(&server, "/console/exceptions?month=2026-13", &lee).await;
    assert_eq!(bad.status, 400);
    let error = bad.element("p", "exceptions-month-error").unwrap();
    assert!(error.contains("Month: use the form YYYY-MM"), "{error}");
    // A past month nobody punched in: E1001's working days are absences (E1002 had no roster
    // that month), and the manager's team only, never the warehouse's E2001.
    let page = get(&server, "/console/exceptions?month=2026-11", &lee).await;
    assert_eq!(page.status, 200);
    let absences = page.element("section", "exceptions-absences").unwrap();
    assert!(
        absences.contains(r#"data-testid="absent-E1001-2026-11-"#),
        "{absences}"
    );
    assert!(!absences.contains("E2001"), "{absences}");
    assert!(page.body.contains(r#"value="2026-11""#));
}

/// Posts a decision on `id` as the signed-in account; where it redirects to.
async fn decide(
    server: &TestServer,
    (cookies, csrf): &(String, String),
    id: &str,
    fields: &[(&str, &str)],
) -> String {
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let r = post(
        server,
        &format!("/console/approvals/{id}/decide"),
        cookies,
        &form,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location().to_owned()
}

#[tokio::test]
async fn every_approver_action_is_available_on_the_console_with_the_same_rules() {
    let server = start_with(ServerOptions::default()).await;
    let applicant = server.enroll("A-E1001-0003").await;
    let lee_phone = server.enroll("A-E0101-0003").await;
    let receipt = receipt_bytes();
    server.upload(&applicant, &receipt, "image/jpeg").await;
    server.upload(&lee_phone, &receipt, "image/jpeg").await;
    let mut ids = Vec::new();
    for description in ["Taxi", "Taxi back", "Lunch", "Parking"] {
        ids.push(
            submit(
                &server,
                &applicant,
                "expense",
                expense(10_000, description, &receipt),
            )
            .await,
        );
    }
    let own = submit(
        &server,
        &lee_phone,
        "expense",
        expense(9_000, "Lee's taxi", &receipt),
    )
    .await;
    let lee = sign_in_en(&server, MANAGER).await;
    let done = |action: &str, id: &str| format!("/console/approvals?done={action}&request={id}");
    let error = |code: &str, id: &str| format!("/console/approvals?error={code}&request={id}");

    // A comment changes nothing else; a return needs its reason and sends the claim back.
    let a = &ids[0];
    let to = decide(
        &server,
        &lee,
        a,
        &[("action", "comment"), ("comment", "Which client?")],
    )
    .await;
    assert_eq!(to, done("comment", a));
    assert_eq!(admin_request(&server, a).await["status"], "pending");
    let to = decide(&server, &lee, a, &[("action", "return"), ("comment", "")]).await;
    assert_eq!(to, error("invalid_comment", a));
    let to = decide(
        &server,
        &lee,
        a,
        &[("action", "return"), ("comment", "Name the client")],
    )
    .await;
    assert_eq!(to, done("return", a));
    let view = admin_request(&server, a).await;
    assert_eq!(view["status"], "returned");
    let actions: Vec<(&str, &str)> = view["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["signed_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("submit", "device"),
            ("comment", "server"),
            ("return", "server")
        ]
    );

    // A transfer hands Lee's place to the director; not to the applicant.
    let b = &ids[1];
    let to = decide(
        &server,
        &lee,
        b,
        &[("action", "transfer"), ("employee", "E1001")],
    )
    .await;
    assert_eq!(to, error("invalid_signer", b));
    let to = decide(
        &server,
        &lee,
        b,
        &[("action", "transfer"), ("employee", "")],
    )
    .await;
    assert_eq!(to, error("missing_employee", b));
    let to = decide(
        &server,
        &lee,
        b,
        &[
            ("action", "transfer"),
            ("employee", "E0001"),
            ("comment", "Director's client"),
        ],
    )
    .await;
    assert_eq!(to, done("transfer", b));
    assert_eq!(
        admin_request(&server, b).await["waiting_for"],
        json!(["E0001"])
    );

    // A signer added after Lee: Lee's approval counts, and finance's step follows.
    let c = &ids[2];
    let to = decide(
        &server,
        &lee,
        c,
        &[
            ("action", "add_signer"),
            ("employee", "E0201"),
            ("position", "sideways"),
        ],
    )
    .await;
    assert_eq!(to, error("invalid_position", c));
    let to = decide(
        &server,
        &lee,
        c,
        &[
            ("action", "add_signer"),
            ("employee", "E0201"),
            ("position", "after"),
        ],
    )
    .await;
    assert_eq!(to, done("add_signer", c));
    let view = admin_request(&server, c).await;
    assert_eq!(view["waiting_for"], json!(["E0201"]));
    assert_eq!(view["steps"][0]["approved_by"], json!(["E0101"]));

    // A rejection with its reason is final; an unknown action is refused naming the field.
    let d = &ids[3];
    let to = decide(&server, &lee, d, &[("action", "delete")]).await;
    assert_eq!(to, error("invalid_action", d));
    let page = get(&server, &to, &lee.0).await;
    assert!(
        page.element("p", "approvals-error")
            .unwrap()
            .contains("Action:")
    );
    let to = decide(
        &server,
        &lee,
        d,
        &[("action", "reject"), ("comment", "Not a business trip")],
    )
    .await;
    assert_eq!(to, done("reject", d));
    assert_eq!(admin_request(&server, d).await["status"], "rejected");
    let to = decide(&server, &lee, d, &[("action", "approve")]).await;
    assert_eq!(to, error("request_finished", d));

    // Nobody approves their own request, on the console as on the phone.
    let to = decide(&server, &lee, &own, &[("action", "approve")]).await;
    assert_eq!(to, error("self_approval", &own));
    assert_eq!(admin_request(&server, &own).await["status"], "pending");
}
