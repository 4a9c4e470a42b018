//! The console's Sites & policy pages and the punch evidence page over loopback against the
//! real server: editing a fence into the draft, the review's diff, publishing to devices, the
//! fence advisor, section editors validated by the core with errors next to the field, roles,
//! CSRF, escaping, stale drafts, and a device punch's evidence.

mod common;

use chrono::Utc;
use common::console::*;
use common::*;
use daka_core::evidence::{FaceEvidence, Fix};
use daka_core::protocol::ItemStatus;
use daka_core::punch::PunchKind;
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
    let account =
        |email: &str, role: &str, password: &str, employee: Option<&str>| SeedConsoleAccount {
            email: email.into(),
            name: format!("{role} of Harbour Lane"),
            role: role.into(),
            password: password.into(),
            employee_id: employee.map(Into::into),
            language: Some("en".into()),
        };
    seed.organisations[0].console_accounts = vec![
        account(HR_EMAIL, "hr_admin", HR_PASSWORD, None),
        account(MANAGER_EMAIL, "manager", MANAGER_PASSWORD, Some("E0101")),
        account(AUDITOR_EMAIL, "auditor", AUDITOR_PASSWORD, None),
    ];
    seed
}

async fn start() -> TestServer {
    start_with(ServerOptions::default()).await
}

async fn start_with(options: ServerOptions) -> TestServer {
    start_console(seed(), options).await
}

/// The Kwai Chung depot's form (a circle of 150 m) with its radius set to `radius`.
fn depot_form<'a>(csrf: &'a str, rev: &'a str, radius: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("rev", rev),
        ("name", "Kwai Chung Container Depot 葵涌貨櫃場"),
        ("tolerance_m", ""),
        ("wifi_bssids", ""),
        ("fence_count", "1"),
        ("f0_type", "circle"),
        ("f0_center", "22.35683, 114.13152"),
        ("f0_radius", radius),
        ("new_type", "none"),
        ("action", "save"),
    ]
}

async fn current_version(server: &TestServer) -> u64 {
    let (status, body) = server.admin_get(ADMIN_A, "/admin/v1/policy").await;
    assert_eq!(status, 200, "{body}");
    body["version"].as_u64().unwrap()
}

async fn audit_actions(server: &TestServer) -> Vec<String> {
    let (status, body) = server.admin_get(ADMIN_A, "/admin/v1/console/audit").await;
    assert_eq!(status, 200, "{body}");
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn hr_edits_a_fence_reviews_the_diff_and_publishes_it_to_devices() {
    let server = start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;

    let sites = get(&server, "/console/sites", &hr).await;
    assert_eq!(sites.status, 200, "{}", sites.body);
    assert!(sites.body.contains(r#"data-testid="site-row-kc-depot""#));
    assert!(
        sites
            .body
            .contains(r#"data-testid="site-row-kb-warehouse""#)
    );

    let site = get(&server, "/console/sites/kc-depot", &hr).await;
    assert_eq!(site.status, 200, "{}", site.body);
    assert!(
        site.body
            .contains(r#"<svg xmlns="http://www.w3.org/2000/svg""#)
    );
    assert!(site.body.contains(r#"data-testid="map-scale""#));
    assert!(site.body.contains(r#"data-testid="map-north""#));
    assert!(
        site.body
            .contains(r#"<circle class="fence" data-testid="map-fence""#)
    );
    assert!(
        site.body.contains(r#"value="150" data-testid="f0-radius""#),
        "{}",
        site.body
    );
    assert!(
        site.body
            .contains(r#"<script src="/console/assets/policy-map-"#)
    );
    assert_eq!(site.testid("advice-reviewed"), Some("–"));
    let csrf = site.csrf_field();

    // The script is served under its content hash, cached for a year.
    let at = site.body.find(r#"<script src=""#).unwrap() + r#"<script src=""#.len();
    let js_path = &site.body[at..at + site.body[at..].find('"').unwrap()];
    let js = get(&server, js_path, "").await;
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").starts_with("text/javascript"));
    assert!(js.body.contains("X-CSRF-Token"));

    // Preview: the advisor's numbers for the fields, nothing saved.
    let mut form = depot_form(&csrf, "0", "175");
    form.retain(|(k, _)| *k != "action");
    form.push(("action", "preview"));
    let preview = post(&server, "/console/sites/kc-depot", &hr, &form).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let reviewed = preview.testid("advice-reviewed").unwrap();
    assert!(reviewed.ends_with(" %"), "{reviewed}");
    let share: f64 = reviewed.trim_end_matches(" %").parse().unwrap();
    assert!((0.0..=100.0).contains(&share));
    assert!(preview.testid("advice-out-100").unwrap().ends_with(" %"));
    assert!(
        get(&server, "/console/policy/review", &hr)
            .await
            .body
            .contains(r#"data-testid="no-changes""#)
    );

    // The JSON advice for the drawing script: CSRF token in a header.
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&depot_form(&csrf, "0", "175"))
        .finish();
    let advice = server
        .http
        .post(server.url("/console/sites/kc-depot/advice"))
        .header("cookie", &hr)
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.replace("csrf=", "other="))
        .send()
        .await
        .unwrap();
    assert_eq!(advice.status().as_u16(), 200);
    let advice: Value = advice.json().await.unwrap();
    let small: f64 = advice["advice"]["out_200"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=100.0).contains(&small), "{advice}");
    let refused = server
        .http
        .post(server.url("/console/sites/kc-depot/advice"))
        .header("cookie", &hr)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.replace("csrf=", "other="))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    // Save: the draft of version 43 has the new radius.
    let saved = post(
        &server,
        "/console/sites/kc-depot",
        &hr,
        &depot_form(&csrf, "0", "175"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location(), "/console/sites/kc-depot?saved=1");
    let again = get(&server, "/console/sites/kc-depot?saved=1", &hr).await;
    assert!(again.body.contains(r#"data-testid="saved-notice""#));
    assert!(
        again
            .body
            .contains(r#"value="175" data-testid="f0-radius""#)
            || again
                .body
                .contains(r#"value="175.0" data-testid="f0-radius""#),
        "{}",
        again.body
    );
    assert_eq!(
        current_version(&server).await,
        42,
        "the version in force is unchanged"
    );

    // Review: a line diff marked with signs, not only colour.
    let review = get(&server, "/console/policy/review", &hr).await;
    assert_eq!(review.status, 200);
    assert!(
        review.body.contains(r#"data-testid="policy-diff""#),
        "{}",
        review.body
    );
    let added = review.body.find(r#"data-testid="diff-add""#).unwrap();
    let removed = review.body.find(r#"data-testid="diff-del""#).unwrap();
    let line = |at: usize| &review.body[at..at + review.body[at..].find("</tr>").unwrap()];
    assert!(
        line(removed).contains(r#"<td class="sign">-"#),
        "{}",
        line(removed)
    );
    assert!(
        line(removed).contains("&#34;radius_m&#34;: 150")
            || line(removed).contains("\"radius_m\": 150"),
        "{}",
        line(removed)
    );
    let adds: Vec<&str> = review
        .body
        .match_indices(r#"data-testid="diff-add""#)
        .map(|(i, _)| line(i))
        .collect();
    assert!(
        adds.iter()
            .any(|l| l.contains("radius_m") && l.contains("175")),
        "{adds:?}"
    );
    assert!(
        adds.iter()
            .any(|l| l.contains("version") && l.contains("43")),
        "{adds:?}"
    );
    assert!(line(added).contains(r#"<td class="sign">+"#));
    assert!(review.body.contains(r#"data-testid="roster-warnings""#));

    // Publish: version 43, the same way as PUT /admin/v1/policy, and devices get it.
    let publish = post(
        &server,
        "/console/policy/publish",
        &hr,
        &[("csrf", &csrf), ("rev", "1")],
    )
    .await;
    assert_eq!(publish.status, 303, "{}", publish.body);
    assert_eq!(publish.location(), "/console/policy/review?published=43");
    assert_eq!(current_version(&server).await, 43);
    let bundle: Value = server
        .http
        .get(server.url("/v1/policy"))
        .bearer_auth(&dev.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bundle["version"], json!(43), "{bundle}");
    let doc: Value = serde_json::from_str(bundle["document"].as_str().unwrap()).unwrap();
    let depot = doc["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "kc-depot")
        .unwrap();
    assert_eq!(depot["fences"][0]["radius_m"], json!(175));
    // Every site and employee is still there.
    let original: Value = serde_json::from_str(&hk_policy_text()).unwrap();
    let ids = |v: &Value, list: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&doc, "sites"), ids(&original, "sites"));
    assert_eq!(ids(&doc, "employees"), ids(&original, "employees"));
    let after = get(&server, "/console/policy/review?published=43", &hr).await;
    assert_eq!(after.testid("published-version"), Some("43"));
    assert!(after.body.contains(r#"data-testid="no-changes""#));

    let actions = audit_actions(&server).await;
    assert!(
        actions.contains(&"policy_draft_edited".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"policy_published".to_string()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn an_invalid_edit_shows_the_error_next_to_the_field_and_saves_nothing() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let csrf = get(&server, "/console/sites/kc-depot", &hr)
        .await
        .csrf_field();

    // A negative radius: the core's check, next to the fence.
    let bad = post(
        &server,
        "/console/sites/kc-depot",
        &hr,
        &depot_form(&csrf, "0", "-5"),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let error = bad.testid("error-f0").expect("an error next to fence 1");
    assert!(error.contains("The policy check refused it:"), "{error}");
    assert!(error.contains("sites[2].fences[0].radius_m"), "{error}");
    assert!(bad.body.contains(r#"data-testid="form-errors""#));
    // The form keeps what was typed.
    assert!(bad.body.contains(r#"value="-5" data-testid="f0-radius""#));

    // A vertex line that is not a position, named by its line.
    let mut form = depot_form(&csrf, "0", "150");
    form.retain(|(k, _)| *k != "new_type");
    form.push(("new_type", "polygon"));
    form.push((
        "new_vertices",
        "22.357, 114.131\nnorth, 114.132\n22.358, 114.133",
    ));
    let bad = post(&server, "/console/sites/kc-depot", &hr, &form).await;
    assert_eq!(bad.status, 422);
    let error = bad.testid("error-new").unwrap();
    assert!(
        error.contains("line") && error.contains("2: north, 114.132"),
        "{error}"
    );

    // A bad shift time in the shifts section: the error names the path, in that section.
    let sections = get(&server, "/console/policy", &hr).await;
    assert_eq!(sections.status, 200);
    let shifts_at = sections
        .body
        .find(r#"data-testid="section-json-shifts""#)
        .unwrap();
    let text_start = shifts_at + sections.body[shifts_at..].find('>').unwrap() + 1;
    let text_end = text_start + sections.body[text_start..].find("</textarea>").unwrap();
    let shifts_text = sections.body[text_start..text_end].replace("&#34;", "\"");
    let mut shifts: Value = serde_json::from_str(&shifts_text).unwrap();
    shifts[0]["segments"][0]["start"] = json!("25:00");
    let shifts_json = shifts.to_string();
    let bad = post(
        &server,
        "/console/policy/sections/shifts",
        &hr,
        &[("csrf", &csrf), ("rev", "0"), ("json", &shifts_json)],
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let error = bad.testid("error-shifts").unwrap();
    assert!(
        error.contains("attendance.shifts[0].segments[0].start"),
        "{error}"
    );
    assert!(bad.testid("error-holidays").is_none());
    // Not JSON at all.
    let bad = post(
        &server,
        "/console/policy/sections/holidays",
        &hr,
        &[("csrf", &csrf), ("rev", "0"), ("json", "[{")],
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.testid("error-holidays")
            .unwrap()
            .contains("Not valid JSON")
    );

    // In Chinese, the words around the core's message are translated.
    let zh = post(
        &server,
        "/console/sites/kc-depot",
        &format!("{hr}; daka_lang=zh-Hant"),
        &depot_form(&csrf, "0", "-5"),
    )
    .await;
    assert!(zh.testid("error-f0").unwrap().contains("政策檢查不接受"));

    // Nothing was saved or published.
    let review = get(&server, "/console/policy/review", &hr).await;
    assert!(review.body.contains(r#"data-testid="no-changes""#));
    let publish = post(
        &server,
        "/console/policy/publish",
        &hr,
        &[("csrf", &csrf), ("rev", "0")],
    )
    .await;
    assert_eq!(publish.status, 409);
    assert_eq!(current_version(&server).await, 42);
    assert!(
        !audit_actions(&server)
            .await
            .contains(&"policy_draft_edited".to_string())
    );
}

#[tokio::test]
async fn managers_and_auditors_read_only_and_csrf_is_required() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let hr_csrf = get(&server, "/console/sites", &hr).await.csrf_field();
    for (email, password) in [
        (MANAGER_EMAIL, MANAGER_PASSWORD),
        (AUDITOR_EMAIL, AUDITOR_PASSWORD),
    ] {
        let session = sign_in(&server, email, password).await;
        let page = get(&server, "/console/sites/kc-depot", &session).await;
        assert_eq!(page.status, 200, "{email}");
        assert!(page.body.contains(r#"data-testid="read-only""#), "{email}");
        assert!(!page.body.contains(r#"data-testid="save-site""#), "{email}");
        assert!(!page.body.contains("<script src="), "{email}");
        let csrf = page.csrf_field();
        let r = post(
            &server,
            "/console/sites/kc-depot",
            &session,
            &depot_form(&csrf, "0", "175"),
        )
        .await;
        assert_eq!(r.status, 403, "{email}");
        assert!(r.body.contains("Only HR administrators"), "{email}");
        let r = post(
            &server,
            "/console/policy/sections/holidays",
            &session,
            &[("csrf", &csrf), ("rev", "0"), ("json", "[]")],
        )
        .await;
        assert_eq!(r.status, 403, "{email}");
        let r = post(
            &server,
            "/console/policy/publish",
            &session,
            &[("csrf", &csrf), ("rev", "0")],
        )
        .await;
        assert_eq!(r.status, 403, "{email}");
        let review = get(&server, "/console/policy/review", &session).await;
        assert!(!review.body.contains(r#"data-testid="publish""#));
    }
    // HR without the token, or with another session's token.
    let r = post(
        &server,
        "/console/sites/kc-depot",
        &hr,
        &depot_form("", "0", "175"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains(r#"data-testid="forbidden-message""#));
    let other = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let r = post(
        &server,
        "/console/sites/kc-depot",
        &other,
        &depot_form(&hr_csrf, "0", "175"),
    )
    .await;
    assert_eq!(r.status, 403);
    // Nothing changed.
    assert!(
        get(&server, "/console/policy/review", &hr)
            .await
            .body
            .contains(r#"data-testid="no-changes""#)
    );
    assert!(
        !audit_actions(&server)
            .await
            .contains(&"policy_draft_edited".to_string())
    );
}

#[tokio::test]
async fn a_site_named_like_markup_renders_as_text() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let csrf = get(&server, "/console/sites", &hr).await.csrf_field();
    let mut form = depot_form(&csrf, "0", "150");
    form.retain(|(k, _)| *k != "name");
    form.push(("name", "<script>alert(1)</script>"));
    let r = post(&server, "/console/sites/kc-depot", &hr, &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
    for path in [
        "/console/sites",
        "/console/sites/kc-depot",
        "/console/policy/review",
    ] {
        let page = get(&server, path, &hr).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.body.contains("<script>alert"), "{path}");
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_stale_edit_or_publish_is_refused() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let second = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let csrf = get(&server, "/console/sites", &hr).await.csrf_field();
    let csrf2 = get(&server, "/console/sites", &second).await.csrf_field();
    let r = post(
        &server,
        "/console/sites/kc-depot",
        &hr,
        &depot_form(&csrf, "0", "160"),
    )
    .await;
    assert_eq!(r.status, 303);
    // The second officer's form was loaded at revision 0: refused, the first edit kept.
    let r = post(
        &server,
        "/console/sites/kc-depot",
        &second,
        &depot_form(&csrf2, "0", "170"),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("Someone else changed the draft"));
    let page = get(&server, "/console/sites/kc-depot", &hr).await;
    assert!(
        page.body.contains(r#"value="160" data-testid="f0-radius""#)
            || page
                .body
                .contains(r#"value="160.0" data-testid="f0-radius""#)
    );
    // Publishing a revision other than the one reviewed is refused.
    let r = post(
        &server,
        "/console/policy/publish",
        &hr,
        &[("csrf", &csrf), ("rev", "0")],
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("The draft changed since you reviewed it"));

    // Another version is published through the admin API: the draft is stale.
    let r = server
        .http
        .put(server.url("/admin/v1/policy"))
        .bearer_auth(ADMIN_A)
        .header("content-type", "application/json")
        .body(policy_variant(43, ORG_A).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let sites = get(&server, "/console/sites", &hr).await;
    assert!(sites.body.contains(r#"data-testid="draft-stale""#));
    let r = post(
        &server,
        "/console/policy/publish",
        &hr,
        &[("csrf", &csrf), ("rev", "1")],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("cannot be published"), "{}", r.body);
    assert_eq!(r.testid("policy-message-detail"), Some("43"));
    assert_eq!(current_version(&server).await, 43);
    // Discarding starts again from the version in force.
    let r = post(&server, "/console/policy/discard", &hr, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    let sites = get(&server, "/console/sites", &hr).await;
    assert!(!sites.body.contains(r#"data-testid="draft-stale""#));
    assert_eq!(sites.testid("current-version"), Some("43"));
}

/// A clock-in at the Causeway Bay store with a GPS fix, Wi-Fi and a face token.
fn store_punch(dev: &mut TestDevice, wifi: bool) -> daka_core::punch::PunchRecord {
    let nonce = fresh_nonce();
    let spec = PunchSpec {
        kind: PunchKind::In,
        fix: Some(Fix {
            lat: 22.28003,
            lon: 114.18305,
            accuracy_m: 12.0,
            time: Utc::now(),
            monotonic_ms: None,
            mock: false,
            provider: Some("gps".into()),
        }),
        wifi: if wifi {
            vec![CWB_BSSID.into()]
        } else {
            Vec::new()
        },
        face: Some(FaceEvidence {
            token: face_token(&dev.employee_id, &nonce),
            nonce,
        }),
    };
    dev.record(spec)
}

#[tokio::test]
async fn the_evidence_page_shows_a_punch_and_hides_other_teams() {
    let server = start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let record = store_punch(&mut dev, true);
    let r = server.push(&dev, vec![dev.item(&record)]).await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");
    let id = record.body.id.to_string();

    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let page = get(&server, &format!("/console/punches/{id}"), &hr).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.testid("punch-kind"), Some("in"));
    assert!(page.testid("punch-employee").unwrap().starts_with("E1001"));
    assert_eq!(
        page.testid("punch-device").unwrap(),
        format!("{} (#1)", dev.device_id)
    );
    assert!(
        page.body
            .contains(r#"data-testid="punch-decision" data-decision="accepted""#)
    );
    assert!(
        page.body.contains(r#"data-testid="punch-reason""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"data-testid="punch-location""#));
    assert!(
        page.body.contains("<dt>accuracy_m</dt><dd>12"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<dt>max_accuracy_m</dt><dd>80</dd>"));
    assert!(page.body.contains(r#"data-testid="map-fix""#));
    assert!(page.body.contains(r#"data-testid="map-fence""#));
    assert!(
        page.body.contains(r#"data-face="verified""#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"data-testid="chain-status" data-ok="true""#)
    );
    assert!(page.body.contains("Causeway Bay Store"));
    // Each reason by its label in the page's language, with its stable code; the decision in
    // words.
    assert!(
        page.body
            .contains("<strong>Site Wi-Fi in range</strong> <code>wifi_match</code> (note)"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<span class="badge accepted">Accepted</span>"#)
    );

    // Lee manages E1001: sees it. E0201's punch is another team's: 404, like an unknown id.
    let mut other = server.enroll("A-E0201-0001").await;
    let nonce = fresh_nonce();
    let spec = PunchSpec {
        kind: PunchKind::In,
        fix: None,
        wifi: vec!["78:8a:20:5c:e1:03".into()],
        face: Some(FaceEvidence {
            token: face_token(&other.employee_id, &nonce),
            nonce,
        }),
    };
    let other_record = other.record(spec);
    let r = server.push(&other, vec![other.item(&other_record)]).await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");
    let other_id = other_record.body.id.to_string();
    let lee = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;
    let seen_by_lee = get(
        &server,
        &format!("/console/punches/{id}?lang=zh-Hant"),
        &lee,
    )
    .await;
    assert_eq!(seen_by_lee.status, 200);
    assert!(
        seen_by_lee
            .body
            .contains("<strong>偵測到工作地點 Wi-Fi</strong> <code>wifi_match</code> (備註)"),
        "{}",
        seen_by_lee.body
    );
    let hidden = get(&server, &format!("/console/punches/{other_id}"), &lee).await;
    assert_eq!(hidden.status, 404);
    assert!(!hidden.body.contains("E0201"));
    assert!(!hidden.body.contains(&other.device_id));
    let unknown = get(
        &server,
        "/console/punches/00000000-0000-7000-8000-000000000000",
        &lee,
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown
            .body
            .replace("00000000-0000-7000-8000-000000000000", ""),
        hidden.body.replace(&other_id, "")
    );
    let seen = get(&server, &format!("/console/punches/{other_id}"), &hr).await;
    assert_eq!(seen.status, 200);
    assert!(
        seen.body.contains(r#"data-testid="punch-no-fix""#)
            || seen.body.contains(r#"data-testid="map-fence""#)
    );
}

#[tokio::test]
async fn map_tiles_are_drawn_only_when_configured_and_only_then_allowed() {
    let plain = start().await;
    let hr = sign_in(&plain, HR_EMAIL, HR_PASSWORD).await;
    let page = get(&plain, "/console/sites/cwb-store", &hr).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(r#"data-testid="map-tile""#));
    assert!(page.csp().contains("img-src 'self';"), "{}", page.csp());

    let tiled = start_with(ServerOptions {
        console_map_tiles: Some("https://tiles.example:8443/{z}/{x}/{y}.png".into()),
        ..ServerOptions::default()
    })
    .await;
    let hr = sign_in(&tiled, HR_EMAIL, HR_PASSWORD).await;
    let page = get(&tiled, "/console/sites/cwb-store", &hr).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(r#"<image href="https://tiles.example:8443/"#),
        "{}",
        page.body
    );
    assert!(
        page.csp()
            .contains("img-src 'self' https://tiles.example:8443;"),
        "{}",
        page.csp()
    );
    assert!(!page.csp().contains("unsafe-inline"));
    // Pages without a map keep the strict policy.
    let today = get(&tiled, "/console/today", &hr).await;
    assert!(today.csp().contains("img-src 'self';"), "{}", today.csp());
}

#[tokio::test]
async fn the_advisor_gives_the_numbers_of_daka_fences() {
    use daka_core::advisor::{AdvisorConfig, Outcomes, advise};
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let csrf = get(&server, "/console/sites/kc-depot", &hr)
        .await
        .csrf_field();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&depot_form(&csrf, "0", "150"))
        .finish();
    let started = std::time::Instant::now();
    let r = server
        .http
        .post(server.url("/console/sites/kc-depot/advice"))
        .header("cookie", &hr)
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(r.status().as_u16(), 200);
    let console: Value = r.json().await.unwrap();
    // What `daka fences` computes for the whole example policy (fewer samples than its
    // default, to keep the test quick).
    let report = advise(
        &hk_policy_text(),
        &AdvisorConfig {
            samples_per_site: 1000,
            ..AdvisorConfig::default()
        },
    )
    .unwrap();
    let depot = report
        .sites
        .iter()
        .find(|s| s.site_id == "kc-depot")
        .unwrap();
    let pct = |o: &Outcomes, share: fn(&Outcomes) -> f64| 100.0 * share(o);
    let number = |key: &str| -> f64 { console["advice"][key].as_str().unwrap().parse().unwrap() };
    let close = |a: f64, b: f64, what: &str| {
        assert!((a - b).abs() <= 5.0, "{what}: console {a}, daka fences {b}")
    };
    close(
        number("accepted"),
        pct(&depot.current.honest, Outcomes::accepted_share),
        "accepted",
    );
    close(
        number("reviewed"),
        pct(&depot.current.honest, Outcomes::reviewed_share),
        "reviewed",
    );
    close(
        number("rejected"),
        pct(&depot.current.honest, Outcomes::rejected_share),
        "rejected",
    );
    for d in [30.0, 100.0, 200.0] {
        let key = format!("out_{d:.0}");
        close(
            number(&key),
            pct(
                depot.current.outside_at(d).unwrap(),
                Outcomes::accepted_share,
            ),
            &key,
        );
    }
    // Small enough to follow drawing (a generous bound for a debug build on a busy machine).
    assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn a_section_edit_goes_to_the_draft_and_shows_in_the_review() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let page = get(&server, "/console/policy", &hr).await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf_field();
    for name in [
        "thresholds",
        "sites",
        "employees",
        "roles",
        "shifts",
        "schedules",
        "rosters",
        "holidays",
        "face_matchers",
    ] {
        assert!(
            page.body
                .contains(&format!(r#"data-testid="section-json-{name}""#)),
            "{name}"
        );
    }
    let original: Value = serde_json::from_str(&hk_policy_text()).unwrap();
    let mut holidays = original["attendance"]["holidays"].clone();
    holidays.as_array_mut().unwrap().push(json!({
        "date": "2026-12-31", "name": {"en": "Company day <b>off</b>", "zh": "公司假期"}, "statutory": false
    }));
    let saved = post(
        &server,
        "/console/policy/sections/holidays",
        &hr,
        &[
            ("csrf", &csrf),
            ("rev", "0"),
            ("json", &holidays.to_string()),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location(), "/console/policy?saved=1#section-holidays");
    let review = get(&server, "/console/policy/review", &hr).await;
    let adds: Vec<&str> = review
        .body
        .match_indices(r#"data-testid="diff-add""#)
        .map(|(i, _)| &review.body[i..i + review.body[i..].find("</tr>").unwrap()])
        .collect();
    assert!(adds.iter().any(|l| l.contains("2026-12-31")), "{adds:?}");
    assert!(
        adds.iter()
            .any(|l| l.contains("Company day &#60;b&#62;off&#60;/b&#62;")),
        "{adds:?}"
    );
    assert!(!review.body.contains("<b>off"));
    assert!(
        review.body.contains(r#"data-testid="diff-del""#),
        "the version line"
    );
    // An unknown section is not found.
    let r = post(
        &server,
        "/console/policy/sections/org",
        &hr,
        &[("csrf", &csrf), ("rev", "1"), ("json", "[]")],
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        audit_actions(&server)
            .await
            .contains(&"policy_draft_edited".to_string())
    );
}

#[tokio::test]
async fn hr_adds_a_site_and_an_employee_and_publishes_them() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let csrf = get(&server, "/console/policy", &hr).await.csrf_field();
    let original: Value = serde_json::from_str(&hk_policy_text()).unwrap();
    let version = current_version(&server).await;

    // A manager nobody knows: refused, the core's message next to the employees section,
    // and the draft is not started.
    let mut employees = original["employees"].clone();
    employees.as_array_mut().unwrap().push(json!({
        "id": "E3001", "name": "Tsang Wai 曾偉", "sites": ["cwb-store"], "manager": "E9999"
    }));
    let refused = post(
        &server,
        "/console/policy/sections/employees",
        &hr,
        &[
            ("csrf", &csrf),
            ("rev", "0"),
            ("json", &employees.to_string()),
        ],
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let error = refused.testid("error-employees").unwrap_or_default();
    assert!(error.contains("E9999"), "{}", refused.body);
    assert!(refused.testid("error-sites").is_none());

    // A new store, then its employee under Lee, then the finance role: three saved edits.
    let mut sites = original["sites"].clone();
    sites.as_array_mut().unwrap().push(json!({
        "id": "tw-store", "name": "Tsuen Wan Store 荃灣店", "tolerance_m": 20,
        "fences": [{"center": [114.1175, 22.3713], "radius_m": 60}]
    }));
    employees[6]["manager"] = json!("E0101");
    employees[6]["sites"] = json!(["tw-store"]);
    let mut roles = original["approvals"]["roles"].clone();
    roles[0]["members"]
        .as_array_mut()
        .unwrap()
        .push(json!("E3001"));
    for (rev, section, value) in [
        ("0", "sites", &sites),
        ("1", "employees", &employees),
        ("2", "roles", &roles),
    ] {
        let saved = post(
            &server,
            &format!("/console/policy/sections/{section}"),
            &hr,
            &[("csrf", &csrf), ("rev", rev), ("json", &value.to_string())],
        )
        .await;
        assert_eq!(saved.status, 303, "{section}: {}", saved.body);
    }
    // An employee at a site that does not exist is refused the same way.
    let mut stray = employees.clone();
    stray[6]["sites"] = json!(["no-such-site"]);
    let refused = post(
        &server,
        "/console/policy/sections/employees",
        &hr,
        &[("csrf", &csrf), ("rev", "3"), ("json", &stray.to_string())],
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .testid("error-employees")
            .unwrap_or_default()
            .contains("no-such-site"),
        "{}",
        refused.body
    );

    let publish = post(
        &server,
        "/console/policy/publish",
        &hr,
        &[("csrf", &csrf), ("rev", "3")],
    )
    .await;
    assert_eq!(publish.status, 303, "{}", publish.body);
    assert_eq!(current_version(&server).await, version + 1);
    let (status, bundle) = server.admin_get(ADMIN_A, "/admin/v1/policy").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(bundle["document"].as_str().unwrap()).unwrap();
    assert_eq!(
        doc["sites"].as_array().unwrap().len(),
        sites.as_array().unwrap().len()
    );
    assert_eq!(doc["employees"][6]["id"], json!("E3001"));
    assert_eq!(doc["employees"][6]["manager"], json!("E0101"));
    assert_eq!(doc["approvals"]["roles"][0]["members"], roles[0]["members"]);
    // The new site has its own page with the map.
    let site = get(&server, "/console/sites/tw-store", &hr).await;
    assert_eq!(site.status, 200);
    assert!(site.body.contains("Tsuen Wan Store 荃灣店"));
}

#[tokio::test]
async fn the_thresholds_have_fields_of_their_own_checked_by_the_core() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let page = get(&server, "/console/policy", &hr).await;
    let csrf = page.csrf_field();
    assert!(
        page.body
            .contains(r#"value="80" data-testid="t_max_accuracy_m""#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"value="0.6" data-testid="t_accept_probability""#)
    );
    let form = |max: &'static str, accept: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("rev", "0".to_string()),
            ("mode", "fields".to_string()),
            ("t_max_accuracy_m", max.to_string()),
            ("t_uncertain", "field_punch".to_string()),
            ("t_accept_probability", accept.to_string()),
            ("t_reject_probability", "0.001".to_string()),
            ("t_min_score", "0.85".to_string()),
        ]
    };
    let send = |pairs: Vec<(&'static str, String)>| {
        let (server, hr) = (&server, &hr);
        async move {
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(server, "/console/policy/sections/thresholds", hr, &refs).await
        }
    };
    // Out of range: the core's message next to that field.
    let bad = send(form("80", "0.3")).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let error = bad.testid("error-t_accept_probability").unwrap();
    assert!(
        error.contains("thresholds.presence.accept_probability"),
        "{error}"
    );
    assert!(bad.testid("error-t_max_accuracy_m").is_none());
    // Not a number.
    let bad = send(form("eighty", "0.6")).await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.testid("error-t_max_accuracy_m")
            .unwrap()
            .contains("Not a number: eighty")
    );
    assert!(
        get(&server, "/console/policy/review", &hr)
            .await
            .body
            .contains(r#"data-testid="no-changes""#)
    );
    // Valid: saved to the draft.
    let ok = send(form("60", "0.6")).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let review = get(&server, "/console/policy/review", &hr).await;
    let adds: Vec<&str> = review
        .body
        .match_indices(r#"data-testid="diff-add""#)
        .map(|(i, _)| &review.body[i..i + review.body[i..].find("</tr>").unwrap()])
        .collect();
    assert!(
        adds.iter()
            .any(|l| l.contains("max_accuracy_m") && l.contains("60")),
        "{adds:?}"
    );
    assert_eq!(
        adds.len(),
        2,
        "only the threshold and the version: {adds:?}"
    );
}
