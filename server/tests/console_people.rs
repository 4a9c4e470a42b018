//! The console's People pages over loopback against the real server: who sees whom, enrolment
//! codes issued on the page (the text, and a QR code that decodes to a link that enrols a
//! device), revoking a device (the device is refused `device_revoked` afterwards, its earlier
//! punches stay listed and its chain verifies), the roles that may do so, CSRF, and the admin
//! API's revoke endpoint.

mod common;

use chrono::Utc;
use common::console::*;
use common::*;
use daka_core::protocol::{ItemStatus, PushRequest, TokenRequest};
use daka_server::{Seed, SeedConsoleAccount, ServerOptions};
use serde_json::{Value, json};

const HR_EMAIL: &str = "hr@harbour-lane.example";
const HR_PASSWORD: &str = "daka-demo-hr-2026";
const MANAGER_EMAIL: &str = "lee@harbour-lane.example";
const MANAGER_PASSWORD: &str = "daka-demo-manager-2026";
const AUDITOR_EMAIL: &str = "audit@harbour-lane.example";
const AUDITOR_PASSWORD: &str = "daka-demo-auditor-2026";

fn seed() -> Seed {
    let mut seed = two_org_seed();
    let account = |email: &str, name: &str, role: &str, password: &str, employee: Option<&str>| {
        SeedConsoleAccount {
            email: email.into(),
            name: name.into(),
            role: role.into(),
            password: password.into(),
            employee_id: employee.map(Into::into),
            language: None,
        }
    };
    seed.organisations[0].console_accounts = vec![
        account(HR_EMAIL, "Wong Siu Ming", "hr_admin", HR_PASSWORD, None),
        account(
            MANAGER_EMAIL,
            "Lee Ka Yan",
            "manager",
            MANAGER_PASSWORD,
            Some("E0101"),
        ),
        account(
            AUDITOR_EMAIL,
            "Ng Auditor",
            "auditor",
            AUDITOR_PASSWORD,
            None,
        ),
    ];
    seed
}

async fn start() -> TestServer {
    start_console(seed(), ServerOptions::default()).await
}

/// The session's CSRF token, read from a page's form.
async fn csrf(server: &TestServer, session: &str) -> String {
    let page = get(server, "/console/people", session).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.csrf_field()
}

async fn audit_actions(server: &TestServer) -> Vec<(String, String)> {
    let (status, body) = server
        .admin_get(ADMIN_A, "/admin/v1/console/audit?limit=1000")
        .await;
    assert_eq!(status, 200, "{body}");
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn device_json(server: &TestServer, device_id: &str) -> Value {
    let (status, body) = server.admin_get(ADMIN_A, "/admin/v1/devices").await;
    assert_eq!(status, 200, "{body}");
    body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == device_id)
        .cloned()
        .expect("the device is listed")
}

/// Decodes the QR code of the page's `svg[data-testid=enrolment-qr]`: its path's unit squares
/// are drawn into a bitmap (4 pixels a module) that `rqrr` reads.
fn decode_qr(page: &Page) -> String {
    let svg = page.element("svg", "enrolment-qr").expect("a QR svg");
    assert!(
        !svg.contains("style="),
        "no inline style under the CSP: {svg}"
    );
    let view = svg
        .split(r#"viewBox="0 0 "#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let size: usize = view.split(' ').next().unwrap().parse().unwrap();
    let d = svg
        .split(r#" d=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut dark = vec![false; size * size];
    let mut count = 0;
    for square in d.split('M').filter(|s| !s.is_empty()) {
        let square = square.strip_suffix("h1v1h-1z").expect("a unit square");
        let (x, y) = square.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        dark[y * size + x] = true;
        count += 1;
    }
    assert!(count > 100, "a QR code has many dark modules: {count}");
    const SCALE: usize = 4;
    let px = size * SCALE;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(px, px, |x, y| {
        if dark[(y / SCALE) * size + x / SCALE] {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    content
}

/// The query values of a `daka://enroll?server=…&code=…` link.
fn link_parts(link: &str) -> (String, String) {
    let query = link
        .strip_prefix("daka://enroll?")
        .expect("an enrolment link");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).unwrap().1.clone();
    (get("server"), get("code"))
}

#[tokio::test]
async fn hr_issues_a_code_whose_qr_decodes_to_a_link_that_enrols_a_device() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;

    let people = get(&server, "/console/people", &hr).await;
    assert_eq!(people.status, 200);
    for id in ["E0001", "E0101", "E1001", "E1002", "E0201", "E2001"] {
        assert!(
            people
                .body
                .contains(&format!(r#"data-testid="people-row-{id}""#)),
            "{id} listed"
        );
    }
    let row = people.element("tr", "people-row-E2001").unwrap();
    assert!(row.contains("Ho Wing Kei"), "the manager's name: {row}");
    assert!(row.contains(r#"data-testid="active-devices">0<"#), "{row}");

    let person = get(&server, "/console/people/E2001", &hr).await;
    assert_eq!(person.status, 200);
    assert!(person.body.contains(r#"data-testid="devices-empty""#));
    assert!(person.body.contains(r#"data-testid="issue-code""#));
    let token = person.csrf_field();

    let issued = post(
        &server,
        "/console/people/E2001/enrolment-code",
        &hr,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let code = issued
        .between(r#"data-testid="enrolment-code">"#, "<")
        .expect("the code as text");
    assert!(code.len() >= 16, "{code}");
    let shown_link = issued
        .between(r#"data-testid="enrolment-link">"#, "<")
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let link = decode_qr(&issued);
    assert_eq!(link, shown_link);
    let (base, linked_code) = link_parts(&link);
    assert_eq!(base, server.server.url().trim_end_matches('/'));
    assert_eq!(linked_code, code);
    // The SDK reads the link the same way.
    let parsed = daka_device::parse_enrolment_link(&link).unwrap();
    assert_eq!(parsed.server_url, base);
    assert_eq!(parsed.code, code);

    // The code enrols a device for E2001 (once).
    let dev = server.enroll(&linked_code).await;
    assert_eq!(dev.employee_id, "E2001");
    let person = get(&server, "/console/people/E2001", &hr).await;
    let row = person
        .element("tr", &format!("device-row-{}", dev.device_id))
        .expect("the device is listed");
    assert!(
        row.contains(r#"data-testid="device-status" data-status="active""#),
        "{row}"
    );
    assert!(person.body.contains(r#"data-testid="active-devices">1<"#));
    // It is not shown again on a later visit (the test device is named after its code, so
    // look for the code's own element).
    assert!(!person.body.contains(r#"data-testid="enrolment-code""#));
    assert!(!person.body.contains(r#"data-testid="enrolment-qr""#));

    let audit = audit_actions(&server).await;
    assert!(
        audit
            .iter()
            .any(|(a, d)| a == "enrolment_code_issued" && d.contains("E2001")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn revoking_in_the_console_refuses_the_device_and_keeps_its_punches() {
    let server = start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let first = dev.good_record();
    let r = server.push(&dev, vec![dev.item(&first)]).await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");

    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let person = get(&server, "/console/people/E1001", &hr).await;
    let row = person
        .element("tr", &format!("device-row-{}", dev.device_id))
        .unwrap();
    assert!(row.contains(r#"data-testid="chain-head">#1 "#), "{row}");
    let href = format!("/console/people/E1001/devices/{}/revoke", dev.device_id);
    assert!(row.contains(&href), "{row}");

    // The confirmation step.
    let confirm = get(&server, &href, &hr).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains(r#"data-testid="revoke-reason""#));
    let token = confirm.csrf_field();

    // No reason: refused with the field named; the device still works.
    let refused = post(&server, &href, &hr, &[("csrf", &token), ("reason", "  ")]).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("Reason: write why the device is revoked"),
        "{}",
        refused.body
    );
    assert!(device_json(&server, &dev.device_id).await["revoked_at"].is_null());
    server.client().policy(&dev.token).await.unwrap();

    // With a reason: revoked.
    let done = post(
        &server,
        &href,
        &hr,
        &[("csrf", &token), ("reason", "Phone lost <b>on the MTR</b>")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        done.location()
            .starts_with("/console/people/E1001?revoked=")
    );

    // Everything the device sends afterwards is refused 403 device_revoked.
    let second = dev.good_record();
    let push = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&dev.token)
        .json(&PushRequest {
            items: vec![dev.item(&second)],
        })
        .send()
        .await
        .unwrap();
    assert_eq!(push.status().as_u16(), 403);
    let body: Value = push.json().await.unwrap();
    assert_eq!(body["code"], "device_revoked", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("enrol again"),
        "{body}"
    );
    for path in ["/v1/policy", "/v1/changes", "/v1/requests", "/v1/inbox"] {
        let r = server
            .http
            .get(server.url(path))
            .bearer_auth(&dev.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "device_revoked", "{path}: {body}");
    }
    let (status, body) = server
        .put_attachment(&dev.token, &"a".repeat(64), Some("image/jpeg"), vec![1, 2])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("device_revoked"))
    );
    let issued_at = Utc::now();
    let refresh = server
        .http
        .post(server.url("/v1/token"))
        .json(&TokenRequest {
            device_id: dev.device_id.clone(),
            issued_at,
            signature: dev.sign_challenge(&issued_at),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status().as_u16(), 403);
    let body: Value = refresh.json().await.unwrap();
    assert_eq!(body["code"], "device_revoked", "{body}");

    // What it sent before stays: the punch is listed, the chain verifies, the second never
    // arrived.
    let punches = server.punches(ADMIN_A).await;
    assert_eq!(
        punches,
        vec![(first.body.id.to_string(), "accepted".to_string())]
    );
    let (_, report) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    assert_eq!(report["ok"], true, "{report}");

    // The page shows it revoked, with the reason escaped; no revoke link any more.
    let person = get(&server, "/console/people/E1001", &hr).await;
    let row = person
        .element("tr", &format!("device-row-{}", dev.device_id))
        .unwrap();
    assert!(
        row.contains(r#"data-testid="device-status" data-status="revoked""#),
        "{row}"
    );
    assert!(
        row.contains("Phone lost &#60;b&#62;on the MTR&#60;/b&#62;")
            || row.contains("Phone lost &lt;b&gt;on the MTR&lt;/b&gt;"),
        "{row}"
    );
    assert!(!row.contains("revoke-link"), "{row}");
    let json = device_json(&server, &dev.device_id).await;
    assert!(json["revoked_at"].is_string(), "{json}");
    assert_eq!(json["revoke_reason"], "Phone lost <b>on the MTR</b>");

    // Revoking again changes nothing.
    let again = post(
        &server,
        &href,
        &hr,
        &[("csrf", &token), ("reason", "again")],
    )
    .await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("already revoked"), "{}", again.body);

    let audit = audit_actions(&server).await;
    let revocations: Vec<_> = audit
        .iter()
        .filter(|(a, _)| a == "device_revoked")
        .collect();
    assert_eq!(revocations.len(), 1, "{audit:?}");
    assert!(revocations[0].1.contains(&dev.device_id));
    // The console's Audit page filters by it.
    let page = get(&server, "/console/audit?action=device_revoked", &hr).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&dev.device_id), "{}", page.body);
    assert!(page.body.contains("Device revoked"), "{}", page.body);
}

#[tokio::test]
async fn a_manager_sees_only_their_team_and_nothing_of_another() {
    let server = start().await;
    let other = server.enroll("A-E0201-0001").await;
    let mine = server.enroll("A-E1001-0001").await;
    let lee = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;

    let people = get(&server, "/console/people?lang=en", &lee).await;
    assert_eq!(people.status, 200);
    assert!(people.body.contains(r#"data-testid="people-row-E1001""#));
    assert!(people.body.contains(r#"data-testid="people-row-E1002""#));
    for id in ["E0001", "E0201", "E2001", "E0101"] {
        assert!(
            !people.body.contains(&format!("people-row-{id}")),
            "{id} is not Lee's"
        );
    }

    // Another team's person, and their device, are 404 and say nothing about them.
    for path in [
        "/console/people/E0201".to_string(),
        format!("/console/people/E0201/devices/{}/revoke", other.device_id),
        format!("/console/people/E1001/devices/{}/revoke", other.device_id),
        "/console/people/E9999".to_string(),
    ] {
        let page = get(&server, &path, &lee).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("Ho Wing Kei"), "{path}");
        assert!(!page.body.contains(&other.device_id), "{path}");
    }

    // Their own team: read only.
    let person = get(&server, "/console/people/E1001", &lee).await;
    assert_eq!(person.status, 200);
    assert!(person.body.contains(&mine.device_id));
    assert!(!person.body.contains(r#"data-testid="issue-code""#));
    assert!(!person.body.contains("revoke-link"));
    let token = person.csrf_field();
    let r = post(
        &server,
        "/console/people/E1001/enrolment-code",
        &lee,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(!r.body.contains(r#"data-testid="enrolment-code""#));
    let r = post(
        &server,
        "/console/people/E0201/enrolment-code",
        &lee,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, 404);
    let href = format!("/console/people/E1001/devices/{}/revoke", mine.device_id);
    assert_eq!(get(&server, &href, &lee).await.status, 403);
    let r = post(&server, &href, &lee, &[("csrf", &token), ("reason", "x")]).await;
    assert_eq!(r.status, 403);
    let r = post(
        &server,
        &format!("/console/people/E0201/devices/{}/revoke", other.device_id),
        &lee,
        &[("csrf", &token), ("reason", "x")],
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(device_json(&server, &mine.device_id).await["revoked_at"].is_null());
    assert!(device_json(&server, &other.device_id).await["revoked_at"].is_null());
    assert!(
        !audit_actions(&server)
            .await
            .iter()
            .any(|(a, _)| a == "enrolment_code_issued" || a == "device_revoked")
    );
}

#[tokio::test]
async fn an_auditor_reads_but_cannot_issue_or_revoke() {
    let server = start().await;
    let dev = server.enroll("A-E1002-0001").await;
    let auditor = sign_in(&server, AUDITOR_EMAIL, AUDITOR_PASSWORD).await;
    let person = get(&server, "/console/people/E1002", &auditor).await;
    assert_eq!(person.status, 200);
    assert!(person.body.contains(&dev.device_id));
    assert!(!person.body.contains(r#"data-testid="issue-code""#));
    let token = person.csrf_field();
    let r = post(
        &server,
        "/console/people/E1002/enrolment-code",
        &auditor,
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Only an HR administrator"), "{}", r.body);
    let href = format!("/console/people/E1002/devices/{}/revoke", dev.device_id);
    let r = post(
        &server,
        &href,
        &auditor,
        &[("csrf", &token), ("reason", "x")],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(device_json(&server, &dev.device_id).await["revoked_at"].is_null());
    server.client().policy(&dev.token).await.unwrap();
}

#[tokio::test]
async fn without_the_csrf_token_nothing_is_issued_or_revoked() {
    let server = start().await;
    let dev = server.enroll("A-E1002-0001").await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let good = csrf(&server, &hr).await;
    for form in [vec![], vec![("csrf", "forged")]] {
        let r = post(&server, "/console/people/E1002/enrolment-code", &hr, &form).await;
        assert_eq!(r.status, 403);
        assert!(!r.body.contains(r#"data-testid="enrolment-code""#));
        let mut with_reason = form.clone();
        with_reason.push(("reason", "lost"));
        let href = format!("/console/people/E1002/devices/{}/revoke", dev.device_id);
        let r = post(&server, &href, &hr, &with_reason).await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains(r#"data-testid="forbidden-message""#));
    }
    assert!(!good.is_empty());
    assert!(device_json(&server, &dev.device_id).await["revoked_at"].is_null());
    server.client().policy(&dev.token).await.unwrap();
    assert!(
        !audit_actions(&server)
            .await
            .iter()
            .any(|(a, _)| a == "enrolment_code_issued" || a == "device_revoked")
    );
}

async fn admin_revoke(
    server: &TestServer,
    token: &str,
    device_id: &str,
    body: Value,
) -> (u16, Value) {
    let r = server
        .http
        .post(server.url(&format!("/admin/v1/devices/{device_id}/revoke")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn the_admin_api_revokes_a_device_of_its_own_organisation_only() {
    let server = start().await;
    let dev = server.enroll("A-E1001-0001").await;

    let (status, body) =
        admin_revoke(&server, ADMIN_A, &dev.device_id, json!({"reason": ""})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        body["message"].as_str().unwrap().starts_with("reason"),
        "{body}"
    );
    let (status, body) =
        admin_revoke(&server, ADMIN_B, &dev.device_id, json!({"reason": "x"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_device"))
    );
    let (status, _) = admin_revoke(
        &server,
        "wrong-token",
        &dev.device_id,
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(status, 401);
    server.client().policy(&dev.token).await.unwrap();

    let (status, body) = admin_revoke(
        &server,
        ADMIN_A,
        &dev.device_id,
        json!({"reason": "left the company"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device_id"], dev.device_id.as_str());
    assert_eq!(body["revoke_reason"], "left the company");
    assert!(body["revoked_at"].is_string());
    let err = server.client().policy(&dev.token).await.unwrap_err();
    assert!(
        matches!(
            err,
            daka_device::sync::client::SyncError::DeviceRevoked { .. }
        ),
        "{err:?}"
    );

    let (status, body) =
        admin_revoke(&server, ADMIN_A, &dev.device_id, json!({"reason": "x"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("device_already_revoked"))
    );
    let audit = audit_actions(&server).await;
    assert_eq!(
        audit.iter().filter(|(a, _)| a == "device_revoked").count(),
        1,
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_person_s_page_shows_how_each_device_s_attestation_went() {
    use base64::Engine as _;
    let server = start().await;
    let mut doc = policy_variant(43, ORG_A);
    doc["enrolment"] =
        json!({"attestation": "optional", "android_packages": ["hk.harbourlane.staff"]});
    let (status, body) = server.put_policy(&doc).await;
    assert_eq!(status, 200, "{body}");
    // Optional: an attestation that fails (here, to a challenge never issued) is recorded and
    // the phone enrols; a phone that sends none has nothing recorded.
    let (signer, _) = daka_core::punch::DeviceSigner::generate().unwrap();
    let attested = server
        .client()
        .enroll(&daka_core::protocol::EnrollRequest {
            code: "A-E1001-0001".into(),
            public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(signer.public_key()),
            device_name: "Pixel 8".into(),
            platform: "android".into(),
            attestation: Some(daka_core::protocol::Attestation {
                format: "play_integrity".into(),
                challenge: "harbour-lane.0.AAAA.AAAA".into(),
                token: "token".into(),
            }),
        })
        .await
        .unwrap();
    let plain = server.enroll("A-E1001-0002").await;

    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let person = get(&server, "/console/people/E1001", &hr).await;
    let row = person
        .element("tr", &format!("device-row-{}", attested.device_id))
        .unwrap();
    assert!(
        row.contains(r#"data-testid="device-attestation" data-passed="false""#),
        "{row}"
    );
    assert!(row.contains("Attestation failed · play_integrity"), "{row}");
    assert!(row.contains("attestation_challenge_invalid: "), "{row}");
    let row = person
        .element("tr", &format!("device-row-{}", plain.device_id))
        .unwrap();
    assert!(!row.contains("device-attestation"), "{row}");
}
