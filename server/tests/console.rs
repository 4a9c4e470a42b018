//! The web console over loopback against the real server: the sign-in page in both languages,
//! sessions and their cookies, CSRF, the sign-in limit, sign-out and "sign out everywhere", the
//! Today board (what a manager sees, escaping, a late clock-in), the security headers, the
//! stylesheet's caching, and the admin endpoints that create accounts and list the audit.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use common::console::*;
use common::*;
use daka_core::Policy;
use daka_core::attendance::plan::local_instant;
use daka_core::attendance::{AttendanceEngine, DayKind};
use daka_core::protocol::ItemStatus;
use daka_core::punch::PunchKind;
use daka_server::console::auth;
use daka_server::{Seed, SeedConsoleAccount, Server, ServerConfig, ServerOptions};
use serde_json::{Value, json};

const HR_EMAIL: &str = "hr@harbour-lane.example";
const HR_PASSWORD: &str = "daka-demo-hr-2026";
const MANAGER_EMAIL: &str = "lee@harbour-lane.example";
const MANAGER_PASSWORD: &str = "daka-demo-manager-2026";

fn console_seed() -> Seed {
    let mut seed = two_org_seed();
    seed.organisations[0].console_accounts = vec![
        SeedConsoleAccount {
            email: "HR@Harbour-Lane.example".into(),
            name: "Wong Siu Ming 黃小明".into(),
            role: "hr_admin".into(),
            password: HR_PASSWORD.into(),
            employee_id: None,
            language: None,
        },
        SeedConsoleAccount {
            email: MANAGER_EMAIL.into(),
            name: "Lee Ka Yan 李家欣".into(),
            role: "manager".into(),
            password: MANAGER_PASSWORD.into(),
            employee_id: Some("E0101".into()),
            language: Some("zh-Hant".into()),
        },
    ];
    seed
}

async fn start_with(options: ServerOptions) -> TestServer {
    start_console(console_seed(), options).await
}

async fn start() -> TestServer {
    start_with(ServerOptions::default()).await
}

async fn audit_actions(server: &TestServer) -> Vec<(String, String)> {
    let (status, body) = server.admin_get(ADMIN_A, "/admin/v1/console/audit").await;
    assert_eq!(status, 200, "{body}");
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["email"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_security_headers(page: &Page) {
    let csp = page.header("content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "same-origin");
    assert_eq!(page.header("x-frame-options"), "DENY");
}

#[tokio::test]
async fn the_sign_in_page_renders_in_english_and_traditional_chinese() {
    let server = start().await;
    let en = get(&server, "/console/login", "").await;
    assert_eq!(en.status, 200);
    assert!(en.header("content-type").starts_with("text/html"));
    assert!(en.body.contains(r#"<html lang="en">"#), "{}", en.body);
    assert!(en.body.contains("Sign in to the attendance console"));
    assert!(en.body.contains(r#"name="email""#));
    assert!(en.body.contains(r#"name="password" type="password""#));
    assert!(en.body.contains(r#"<label for="email">Email</label>"#));
    assert!(en.body.contains(r#"data-testid="lang-switch""#));
    assert!(en.body.contains(r##"class="skip-link" href="#main""##));
    assert!(en.body.contains(r#"name="viewport""#));
    assert!(!en.body.contains("<script"), "no scripts");
    assert_security_headers(&en);
    let csrf = en.set_cookie("daka_csrf").unwrap();
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );
    assert!(
        csrf.contains("Path=/console") && !csrf.contains("Secure"),
        "{csrf}"
    );

    // ?lang= switches and is remembered in a cookie.
    let zh = get(&server, "/console/login?lang=zh-Hant", "").await;
    assert!(zh.body.contains(r#"<html lang="zh-Hant">"#), "{}", zh.body);
    assert!(zh.body.contains("登入考勤管理後台"));
    assert!(zh.body.contains(r#"<label for="password">密碼</label>"#));
    assert!(zh.body.contains(r#"href="/console/login?lang=en""#));
    let remembered = zh.set_cookie("daka_lang").unwrap();
    assert!(remembered.starts_with("daka_lang=zh-Hant;"), "{remembered}");
    let again = get(&server, "/console/login", "daka_lang=zh-Hant").await;
    assert!(again.body.contains(r#"<html lang="zh-Hant">"#));

    // Else Accept-Language: Hong Kong and Taiwan Chinese are zh-Hant, the rest English.
    for (accept, tag) in [
        ("zh-HK,zh;q=0.9,en;q=0.8", "zh-Hant"),
        ("zh-TW", "zh-Hant"),
        ("zh-Hant", "zh-Hant"),
        ("fr-FR,zh-CN;q=0.5", "en"),
    ] {
        let r = server
            .http
            .get(server.url("/console/login"))
            .header("accept-language", accept)
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        assert!(
            body.contains(&format!(r#"<html lang="{tag}">"#)),
            "{accept}"
        );
    }
}

#[tokio::test]
async fn the_stylesheet_is_compiled_in_and_cached_for_a_year() {
    let server = start().await;
    let page = get(&server, "/console/login", "").await;
    let at = page.body.find(r#"rel="stylesheet" href=""#).unwrap();
    let rest = &page.body[at + r#"rel="stylesheet" href=""#.len()..];
    let href = &rest[..rest.find('"').unwrap()];
    assert!(href.starts_with("/console/assets/console-") && href.ends_with(".css"));
    let css = get(&server, href, "").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert_eq!(
        css.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.header("x-content-type-options"), "nosniff");
    assert!(css.body.contains(":focus-visible"));
    assert_eq!(
        get(&server, "/console/assets/other.css", "").await.status,
        404
    );
}

#[tokio::test]
async fn today_loads_its_refresh_script_from_the_server_itself() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let today = get(&server, "/console/today", &hr).await;
    assert_eq!(today.status, 200);
    assert!(
        today
            .body
            .contains(r#"<div id="today-live" data-testid="today-live" data-refresh="30">"#),
        "{}",
        today.body
    );
    assert!(today.body.contains(r#"data-testid="today-as-of""#));
    let at = today.body.find(r#"<script src=""#).unwrap();
    let rest = &today.body[at + r#"<script src=""#.len()..];
    let src = &rest[..rest.find('"').unwrap()];
    assert!(
        src.starts_with("/console/assets/today-") && src.ends_with(".js"),
        "{src}"
    );
    // The CSP allows this server's scripts only, and no inline script is on the page.
    assert!(
        today
            .header("content-security-policy")
            .contains("script-src 'self'")
    );
    assert_eq!(today.body.matches("<script").count(), 1);
    let js = get(&server, src, "").await;
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").starts_with("text/javascript"));
    assert_eq!(
        js.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(js.body.contains("today-live"));
    assert_eq!(
        get(&server, "/console/assets/today.js", "").await.status,
        404
    );
}

#[tokio::test]
async fn an_unknown_console_address_is_a_console_page_not_found() {
    let server = start().await;
    // Not signed in: the sign-in page first, as for every console page.
    let anonymous = get(&server, "/console/no-such-page", "").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location(), "/console/login");
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    for path in [
        "/console/no-such-page",
        "/console/today/extra",
        "/console/a/b/c?x=<script>",
    ] {
        let page = get(&server, path, &hr).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(
            page.header("content-type").starts_with("text/html"),
            "{path}"
        );
        assert_security_headers(&page);
        assert!(
            page.body.contains("There is no such page in the console."),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(r#"data-testid="nav-approvals""#),
            "the header is shown"
        );
        assert!(!page.body.contains("<script>"), "{}", page.body);
    }
    let zh = get(&server, "/console/no-such-page?lang=zh-Hant", &hr).await;
    assert_eq!(zh.status, 404);
    assert!(zh.body.contains("管理後台沒有這個頁面。"));
    // The pages themselves still answer.
    assert_eq!(get(&server, "/console/today", &hr).await.status, 200);
}

#[tokio::test]
async fn the_language_switch_keeps_the_page_query() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let switch = |page: &Page| {
        let at = page
            .body
            .find(r#"data-testid="lang-switch" href=""#)
            .unwrap();
        let rest = &page.body[at + r#"data-testid="lang-switch" href=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    };
    let reports = get(&server, "/console/reports?month=2026-11", &hr).await;
    assert_eq!(reports.status, 200);
    assert_eq!(
        switch(&reports),
        "/console/reports?month=2026-11&#38;lang=zh-Hant"
    );
    // Switching twice does not pile up `lang`.
    let zh = get(&server, "/console/reports?month=2026-11&lang=zh-Hant", &hr).await;
    assert_eq!(switch(&zh), "/console/reports?month=2026-11&#38;lang=en");
    let exceptions = get(&server, "/console/exceptions?month=2026-10", &hr).await;
    assert_eq!(
        switch(&exceptions),
        "/console/exceptions?month=2026-10&#38;lang=zh-Hant"
    );
    // Without a query, only the language.
    let today = get(&server, "/console/today", &hr).await;
    assert_eq!(switch(&today), "/console/today?lang=zh-Hant");
}

#[tokio::test]
async fn signing_in_sets_a_strict_session_cookie_and_reaches_today() {
    let server = start().await;
    // Not signed in: the console sends people to the sign-in page.
    for path in ["/console/", "/console/today"] {
        let r = get(&server, path, "").await;
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.location(), "/console/login", "{path}");
    }

    // A session cookie planted before signing in is never the session after.
    let planted = "daka_session=planted-by-someone-else-0000000000000000000";
    let r = sign_in_with(&server, HR_EMAIL, HR_PASSWORD, planted).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/console/today");
    let set = r.set_cookie("daka_session").unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP by default: {set}");
    let id = r.cookie("daka_session").unwrap();
    assert!(URL_SAFE_NO_PAD.decode(&id).unwrap().len() >= 16, "{id}");
    assert_ne!(format!("daka_session={id}"), planted);
    assert_eq!(get(&server, "/console/today", planted).await.status, 303);
    // The pre-session CSRF cookie is dropped.
    assert!(r.set_cookie("daka_csrf").unwrap().contains("Max-Age=0"));

    let cookie = format!("daka_session={id}");
    assert_eq!(
        get(&server, "/console/", &cookie).await.location(),
        "/console/today"
    );
    let today = get(&server, "/console/today", &cookie).await;
    assert_eq!(today.status, 200, "{}", today.body);
    assert_security_headers(&today);
    assert_eq!(today.header("cache-control"), "no-store");
    assert!(today.body.contains("Wong Siu Ming 黃小明"));
    assert!(today.body.contains(r#"data-testid="sign-out""#));
    assert!(today.body.contains(r#"data-testid="today-board""#));
    assert!(today.body.contains(r#"data-testid="today-summary""#));
    assert!(today.body.contains(r#"data-testid="lang-switch""#));
    // HR sees everyone.
    for e in ["E0001", "E0101", "E1001", "E1002", "E0201", "E2001"] {
        assert!(
            today
                .body
                .contains(&format!(r#"data-testid="today-row-{e}""#)),
            "{e}"
        );
    }
    // A second sign-in is a second, different session.
    let again = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    assert_ne!(again, cookie);

    let actions = audit_actions(&server).await;
    assert!(actions.contains(&("account_created".into(), HR_EMAIL.into())));
    assert_eq!(
        actions.iter().filter(|(a, _)| a == "login_ok").count(),
        2,
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_generically_and_counts_toward_the_limit() {
    let server = start().await;
    let unknown = sign_in_with(
        &server,
        "nobody@harbour-lane.example",
        "whatever-password",
        "",
    )
    .await;
    assert_eq!(unknown.status, 401);
    assert!(
        unknown
            .body
            .contains("The email or password is not correct.")
    );
    for i in 0..5 {
        let r = sign_in_with(&server, HR_EMAIL, "not-the-password", "").await;
        assert_eq!(r.status, 401, "attempt {i}");
        assert!(r.body.contains("The email or password is not correct."));
        assert!(r.set_cookie("daka_session").is_none());
    }
    // The account is now limited, even with the right password.
    let limited = sign_in_with(&server, HR_EMAIL, HR_PASSWORD, "").await;
    assert_eq!(limited.status, 429);
    let wait: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    assert!(limited.set_cookie("daka_session").is_none());
    assert!(limited.body.contains("Too many failed sign-ins"));
    // Another account from the same address is not (its limit is 20 failures).
    sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;

    let actions = audit_actions(&server).await;
    let count = |a: &str| actions.iter().filter(|(x, _)| x == a).count();
    assert_eq!(count("login_failed"), 5, "{actions:?}");
    assert_eq!(count("login_limited"), 1);
}

/// A failed sign-in with a fresh email each time (so the per-account limit never applies),
/// sent with `X-Forwarded-For: forwarded`; the status.
async fn fail_sign_in_from(server: &TestServer, n: usize, forwarded: &str) -> u16 {
    let email = format!("guess{n}@harbour-lane.example");
    fail_sign_in_as(server, &email, forwarded).await
}

/// A sign-in of `email` with a wrong password, sent with `X-Forwarded-For: forwarded`.
async fn fail_sign_in_as(server: &TestServer, email: &str, forwarded: &str) -> u16 {
    let form = get(server, "/console/login", "").await;
    let csrf = form.cookie("daka_csrf").unwrap();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("email", email),
            ("password", "not-a-password-at-all"),
            ("csrf", csrf.as_str()),
        ])
        .finish();
    let r = server
        .http
        .post(server.url("/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("daka_csrf={csrf}"))
        .header("x-forwarded-for", forwarded)
        .body(body)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_limited_and_audited() {
    let server = start_with(ServerOptions {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..ServerOptions::default()
    })
    .await;
    // The proxy appends the address it saw; anything to its left was sent by the client and
    // is not believed past the first untrusted hop.
    let from = "10.9.9.9, 198.51.100.7";
    for n in 0..auth::ADDRESS_FAILURES {
        assert_eq!(
            fail_sign_in_from(&server, n, from).await,
            401,
            "attempt {n}"
        );
    }
    assert_eq!(fail_sign_in_from(&server, 100, from).await, 429);
    // Limited even for a real account's email (and recorded in its organisation's trail).
    assert_eq!(fail_sign_in_as(&server, HR_EMAIL, from).await, 429);
    // A client forging another left-most hop is still the same address.
    assert_eq!(
        fail_sign_in_from(&server, 101, "203.0.113.50, 198.51.100.7").await,
        429
    );
    // Someone else behind the same proxy is not limited.
    assert_eq!(
        fail_sign_in_as(&server, MANAGER_EMAIL, "198.51.100.8").await,
        401
    );

    let (status, body) = server
        .admin_get(ADMIN_A, "/admin/v1/console/audit?limit=500")
        .await;
    assert_eq!(status, 200);
    let clients: Vec<&str> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["client"].as_str())
        .collect();
    assert!(clients.contains(&"198.51.100.7"), "{clients:?}");
    assert!(clients.contains(&"198.51.100.8"), "{clients:?}");
    assert!(!clients.contains(&"127.0.0.1"), "{clients:?}");
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_header_changes_nothing() {
    let server = start().await;
    // Every attempt claims another address; all come from 127.0.0.1 and count together.
    for n in 0..auth::ADDRESS_FAILURES {
        let forged = format!("198.51.100.{n}");
        assert_eq!(
            fail_sign_in_from(&server, n, &forged).await,
            401,
            "attempt {n}"
        );
    }
    assert_eq!(fail_sign_in_from(&server, 100, "192.0.2.1").await, 429);
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing() {
    let server = start().await;
    let form = get(&server, "/console/login", "").await;
    let token = form.cookie("daka_csrf").unwrap();
    let cookies = format!("daka_csrf={token}");
    for (cookie, field) in [
        ("", token.as_str()),
        (cookies.as_str(), ""),
        (
            cookies.as_str(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
    ] {
        let mut fields = vec![("email", HR_EMAIL), ("password", HR_PASSWORD)];
        if !field.is_empty() {
            fields.push(("csrf", field));
        }
        let r = post(&server, "/console/login", cookie, &fields).await;
        assert_eq!(r.status, 403, "{cookie} / {field}");
        assert!(
            r.body.contains("did not come from this console"),
            "{}",
            r.body
        );
        assert!(r.set_cookie("daka_session").is_none());
        assert_security_headers(&r);
    }
    assert!(
        audit_actions(&server)
            .await
            .iter()
            .all(|(a, _)| a != "login_ok")
    );

    // Signed in: sign-out without the session's token is refused and the session stays.
    let session = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    for field in ["", "wrong-token"] {
        let r = post(&server, "/console/logout", &session, &[("csrf", field)]).await;
        assert_eq!(r.status, 403);
        let r = post(
            &server,
            "/console/sessions/revoke-all",
            &session,
            &[("csrf", field)],
        )
        .await;
        assert_eq!(r.status, 403);
    }
    assert_eq!(get(&server, "/console/today", &session).await.status, 200);
    let actions = audit_actions(&server).await;
    assert!(
        actions
            .iter()
            .all(|(a, _)| a != "logout" && a != "revoke_all")
    );
}

#[tokio::test]
async fn sign_out_ends_the_session_and_sign_out_everywhere_ends_them_all() {
    let server = start().await;
    let first = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let second = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let manager = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;

    let page = get(&server, "/console/today", &first).await;
    let r = post(
        &server,
        "/console/logout",
        &first,
        &[("csrf", &page.csrf_field())],
    )
    .await;
    assert_eq!(r.status, 303);
    assert!(r.location().starts_with("/console/login"));
    assert!(r.set_cookie("daka_session").unwrap().contains("Max-Age=0"));
    let gone = get(&server, "/console/today", &first).await;
    assert_eq!((gone.status, gone.location()), (303, "/console/login"));
    assert_eq!(get(&server, "/console/today", &second).await.status, 200);

    let third = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let page = get(&server, "/console/today", &third).await;
    let r = post(
        &server,
        "/console/sessions/revoke-all",
        &third,
        &[("csrf", &page.csrf_field())],
    )
    .await;
    assert_eq!(r.status, 303);
    for old in [&second, &third] {
        let gone = get(&server, "/console/today", old).await;
        assert_eq!((gone.status, gone.location()), (303, "/console/login"));
    }
    // Another account's session is untouched.
    assert_eq!(get(&server, "/console/today", &manager).await.status, 200);
    let actions = audit_actions(&server).await;
    assert!(actions.contains(&("logout".into(), HR_EMAIL.into())));
    assert!(actions.contains(&("revoke_all".into(), HR_EMAIL.into())));
}

#[tokio::test]
async fn a_manager_sees_only_their_reports_on_today() {
    let server = start().await;
    let session = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;
    let today = get(&server, "/console/today", &session).await;
    assert_eq!(today.status, 200, "{}", today.body);
    assert!(today.body.contains("Lee Ka Yan 李家欣"));
    for e in ["E1001", "E1002"] {
        assert!(
            today
                .body
                .contains(&format!(r#"data-testid="today-row-{e}""#)),
            "{e}: {}",
            today.body
        );
    }
    for e in ["E2001", "E0201", "E0001", "E0101"] {
        assert!(
            !today
                .body
                .contains(&format!(r#"data-testid="today-row-{e}""#)),
            "{e} is not Lee's report"
        );
    }
    // The account's language (zh-Hant) wins over Accept-Language; ?lang= and its cookie win
    // over the account's.
    let page = |cookie: String, path: &'static str| {
        let req = server
            .http
            .get(server.url(path))
            .header("cookie", cookie)
            .header("accept-language", "en-GB");
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let zh = page(session.clone(), "/console/today").await;
    assert!(zh.contains(r#"<html lang="zh-Hant">"#), "{zh}");
    assert!(zh.contains("今日出勤"));
    assert!(zh.contains("經理"));
    let en = page(session.clone(), "/console/today?lang=en").await;
    assert!(en.contains(r#"<html lang="en">"#));
    assert!(en.contains("Attendance today"));
    let en = page(format!("{session}; daka_lang=en"), "/console/today").await;
    assert!(en.contains(r#"<html lang="en">"#));
}

#[tokio::test]
async fn names_from_the_policy_are_escaped_on_today() {
    let server = start().await;
    let version = Policy::from_json(&hk_policy_text()).unwrap().version + 1;
    let mut policy = policy_variant(version, ORG_A);
    policy["employees"][5]["name"] = json!("<script>alert(1)</script>");
    assert_eq!(policy["employees"][5]["id"], json!("E2001"));
    policy["sites"][1]["name"] = json!("<script>alert(1)</script> site");
    let r = server
        .http
        .put(server.url("/admin/v1/policy"))
        .bearer_auth(ADMIN_A)
        .header("content-type", "application/json")
        .body(policy.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let session = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let today = get(&server, "/console/today", &session).await;
    assert_eq!(today.status, 200);
    // The one script element is the board's own refresh script, from this server.
    assert_eq!(today.body.matches("<script").count(), 1, "{}", today.body);
    assert!(
        today
            .body
            .contains(r#"<script src="/console/assets/today-"#)
    );
    // Shown as text: the markup characters are entities.
    let row_at = today.body.find(r#"data-testid="today-row-E2001""#).unwrap();
    let row = &today.body[row_at..row_at + today.body[row_at..].find("</tr>").unwrap()];
    assert!(
        row.contains("<td>&#60;script&#62;alert(1)&#60;/script&#62;</td>"),
        "{row}"
    );
    assert!(
        today
            .body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62; site")
    );
    assert!(today.body.contains(r#"data-testid="today-row-E2001""#));
}

#[tokio::test]
async fn a_late_clock_in_shows_as_late_with_its_minutes() {
    // The server's clock: 10:17 on E1001's latest working day (the store opens at 10:00,
    // no grace).
    let policy = Policy::from_json(&hk_policy_text()).unwrap();
    let tz = policy.time_zone();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let workday = AttendanceEngine::new(&policy)
        .plans("E1001", today - Duration::days(10), today)
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == DayKind::Workday)
        .map(|d| d.date)
        .next_back()
        .unwrap();
    let offset = local_instant(tz, workday, 10 * 60 + 17) - Utc::now();
    let clock = move || Utc::now() + offset;
    let server = start_with(ServerOptions {
        clock: Some(Arc::new(clock)),
        attendance_sweep: None,
        ..ServerOptions::default()
    })
    .await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let record = punch_at(&mut dev, PunchKind::In, clock());
    let r = server.push(&dev, vec![dev.item(&record)]).await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");

    let session = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let today = get(&server, "/console/today", &session).await;
    assert_eq!(today.status, 200);
    let (status, days) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/attendance/days?employee=E1001&from={workday}&to={workday}"),
        )
        .await;
    assert_eq!(status, 200, "{days}");
    let late = days["days"][0]["result"]["late_min"].as_u64().unwrap();
    assert!((17..=18).contains(&late), "{days}");
    let row_at = today.body.find(r#"data-testid="today-row-E1001""#).unwrap();
    let row = &today.body[row_at..row_at + today.body[row_at..].find("</tr>").unwrap()];
    assert!(
        row.contains(r#"data-testid="status" data-status="late""#),
        "{row}"
    );
    assert!(row.contains(&format!("Late ({late} min)")), "{row}");
    assert!(row.contains("10:17"), "{row}");
    let summary_at = today.body.find(r#"data-testid="summary-late">"#).unwrap();
    assert!(today.body[summary_at..].starts_with(r#"data-testid="summary-late">1<"#));
}

async fn create_account(server: &TestServer, body: Value) -> (u16, Value) {
    let r = server
        .http
        .post(server.url("/admin/v1/console/accounts"))
        .bearer_auth(ADMIN_A)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn the_admin_api_creates_accounts_with_typed_errors() {
    let server = start().await;
    let ok = json!({
        "email": "Finance@Harbour-Lane.example", "name": "Ho Ka Ming", "role": "finance",
        "password": "a long enough password"
    });
    let (status, body) = create_account(&server, ok.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], json!("finance@harbour-lane.example"));
    assert_eq!(body["role"], json!("finance"));
    assert!(body.get("password_hash").is_none() && body.get("password").is_none());
    // The email is unique in the organisation, whatever its case.
    let (status, body) = create_account(&server, ok).await;
    assert_eq!(
        (status, body["code"].clone()),
        (409, json!("account_exists"))
    );

    for (field, value, code) in [
        ("email", json!("not-an-email"), "invalid_email"),
        ("password", json!("short"), "weak_password"),
        ("role", json!("superuser"), "invalid_role"),
        ("employee_id", json!("E9999"), "unknown_employee"),
    ] {
        let mut body = json!({
            "email": "new@harbour-lane.example", "name": "New", "role": "auditor",
            "password": "a long enough password"
        });
        body[field] = value;
        let (status, answer) = create_account(&server, body).await;
        assert_eq!(status, 400, "{field}: {answer}");
        assert_eq!(answer["code"], json!(code), "{answer}");
        assert!(
            answer["message"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
    let (status, answer) = create_account(
        &server,
        json!({"email": "m@harbour-lane.example", "name": "M", "role": "manager",
               "password": "a long enough password"}),
    )
    .await;
    assert_eq!(
        (status, answer["code"].clone()),
        (400, json!("unknown_employee"))
    );
    let (status, _) = server
        .admin_get("wrong-token-wrong-token-wrong", "/admin/v1/console/audit")
        .await;
    assert_eq!(status, 401);

    // The new account signs in; its password is stored as an Argon2id hash only.
    sign_in(
        &server,
        "finance@harbour-lane.example",
        "a long enough password",
    )
    .await;
    let storage = server.server.storage().clone();
    let stored = tokio::task::spawn_blocking(move || {
        storage
            .console_account_by_email(ORG_A, "finance@harbour-lane.example")
            .unwrap()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$v=19$"));
    assert!(!stored.password_hash.contains("a long enough password"));
    assert!(daka_server::console::auth::verify_password(
        "a long enough password",
        &stored.password_hash
    ));
    let actions = audit_actions(&server).await;
    assert!(actions.contains(&(
        "account_created".into(),
        "finance@harbour-lane.example".into()
    )));
}

#[tokio::test]
async fn the_seed_never_overwrites_an_existing_accounts_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::TestDb::new(dir.path());
    let config = |seed: Seed| ServerConfig {
        db_path: db.location(),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: Some(seed),
    };
    let first = Server::start(config(console_seed())).await.unwrap();
    assert_eq!(first.seed_report().console_accounts_added, 2);
    first.shutdown().await.unwrap();
    let mut changed = console_seed();
    changed.organisations[0].console_accounts[0].password = "another password entirely".into();
    let second = Server::start(config(changed)).await.unwrap();
    assert_eq!(second.seed_report().console_accounts_added, 0);
    let server = TestServer {
        server: second,
        db,
        dir,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
}

#[tokio::test]
async fn a_session_ends_after_twelve_idle_hours_or_seven_days() {
    let offset = Arc::new(AtomicI64::new(0));
    let clock_offset = offset.clone();
    let server = start_with(ServerOptions {
        clock: Some(Arc::new(move || {
            Utc::now() + Duration::milliseconds(clock_offset.load(Ordering::SeqCst))
        })),
        attendance_sweep: None,
        ..ServerOptions::default()
    })
    .await;
    let advance = |d: Duration| offset.fetch_add(d.num_milliseconds(), Ordering::SeqCst);

    // Used every 11 hours, a session lasts; 12 hours without a request end it.
    let idle = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let busy = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    advance(Duration::hours(11));
    assert_eq!(get(&server, "/console/today", &busy).await.status, 200);
    advance(Duration::hours(1) + Duration::minutes(1));
    let gone = get(&server, "/console/today", &idle).await;
    assert_eq!((gone.status, gone.location()), (303, "/console/login"));
    assert_eq!(get(&server, "/console/today", &busy).await.status, 200);
    // However busy, a session ends 7 days after signing in.
    let mut hours = 12;
    while hours < 7 * 24 - 11 {
        advance(Duration::hours(11));
        hours += 11;
        assert_eq!(
            get(&server, "/console/today", &busy).await.status,
            200,
            "{hours} h"
        );
    }
    advance(Duration::hours(11));
    let gone = get(&server, "/console/today", &busy).await;
    assert_eq!((gone.status, gone.location()), (303, "/console/login"));
}
