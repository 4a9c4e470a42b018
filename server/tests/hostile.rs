//! Hostile input over HTTP: garbage, oversized, wrongly typed and SQL-looking requests, missing
//! or bogus credentials, unknown routes and methods. Every answer is a typed 4xx `ApiError`,
//! never a 500, and the server keeps working afterwards.

mod common;

use common::*;
use daka_core::protocol::{ItemStatus, MAX_PUSH_ITEMS, PushItem};
use daka_server::ServerOptions;
use reqwest::Method;
use serde_json::{Value, json};

/// Sends a request and checks the answer is a 4xx `ApiError` with `code`.
async fn expect_error(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    status: u16,
    code: &str,
) -> String {
    let mut request = server.http.request(method.clone(), server.url(path));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(b) = body {
        request = request.header("content-type", "application/json").body(b);
    }
    let response = request.send().await.unwrap();
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:?}"));
    assert_eq!(
        (got, body["code"].as_str()),
        (status, Some(code)),
        "{method} {path}: {text}"
    );
    assert!(body["server_time"].is_string());
    body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path}: no message: {text}"))
        .to_string()
}

#[tokio::test]
async fn garbage_and_wrongly_typed_bodies_are_invalid_requests() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let bodies: Vec<&[u8]> = vec![
        b"",
        b"{",
        b"null",
        b"[]",
        b"\"enroll me\"",
        b"{\"code\": 12345}",
        b"{\"code\": \"A-E1001-0002\"}",
        b"{\"code\": [\"x\"], \"public_key\": {}, \"device_name\": 1, \"platform\": null}",
        b"{\"code\": \"x\", \"public_key\": \"y\", \"device_name\": \"z\", \"platform\": \"p\", \"admin\": true}",
        b"\xff\xfe\x00garbage",
        b"{\"code\": \"\\ud800\"}",
    ];
    for body in bodies {
        expect_error(
            &server,
            Method::POST,
            "/v1/enroll",
            None,
            Some(body.to_vec()),
            400,
            "invalid_request",
        )
        .await;
    }
    // The message names the path of the bad field.
    for (body, path) in [
        (&b"{\"items\": {}}"[..], "items"),
        (b"{\"items\": [{\"id\": 1}]}", "items[0].id"),
        (
            b"{\"items\": [{\"id\": \"a\", \"stream\": \"s\", \"kind\": \"punch\", \"body\": {}}, {\"id\": \"b\", \"stream\": 7}]}",
            "items[1].stream",
        ),
        (b"{}", "items"),
    ] {
        let message = expect_error(
            &server,
            Method::POST,
            "/v1/push",
            Some(&dev.token),
            Some(body.to_vec()),
            400,
            "invalid_request",
        )
        .await;
        assert!(message.contains(path), "{path}: {message}");
    }
    expect_error(
        &server,
        Method::POST,
        "/v1/token",
        None,
        Some(br#"{"device_id": "x", "issued_at": "yesterday", "signature": "s"}"#.to_vec()),
        400,
        "invalid_request",
    )
    .await;
    // Deep nesting is refused by the parser's recursion limit, not by a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    expect_error(
        &server,
        Method::POST,
        "/v1/enroll",
        None,
        Some(deep.into_bytes()),
        400,
        "invalid_request",
    )
    .await;
    // Wrong content type.
    let r = server
        .http
        .post(server.url("/v1/enroll"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // The server still works.
    server.client().policy(&dev.token).await.unwrap();
}

#[tokio::test]
async fn huge_bodies_and_batches_are_refused() {
    let options = ServerOptions {
        max_body_bytes: 256 * 1024,
        ..ServerOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let huge = format!("{{\"code\": \"{}\"}}", "x".repeat(300 * 1024));
    expect_error(
        &server,
        Method::POST,
        "/v1/enroll",
        None,
        Some(huge.into_bytes()),
        413,
        "payload_too_large",
    )
    .await;
    let policy = vec![b' '; 300 * 1024];
    expect_error(
        &server,
        Method::PUT,
        "/admin/v1/policy",
        Some(ADMIN_A),
        Some(policy),
        413,
        "payload_too_large",
    )
    .await;
    // Over MAX_PUSH_ITEMS items: refused as a whole, nothing applied.
    let r = dev.good_record();
    let item = dev.item(&r);
    let small = PushItem {
        body: serde_json::value::to_raw_value(&json!(null)).unwrap(),
        ..item.clone()
    };
    let items = vec![small; MAX_PUSH_ITEMS + 1];
    let body = serde_json::to_vec(&json!({ "items": items })).unwrap();
    expect_error(
        &server,
        Method::POST,
        "/v1/push",
        Some(&dev.token),
        Some(body),
        400,
        "too_many_items",
    )
    .await;
    // Long strings where short ones belong.
    let long =
        json!({"code": "x".repeat(10_000), "public_key": "k", "device_name": "n", "platform": "p"});
    expect_error(
        &server,
        Method::POST,
        "/v1/enroll",
        None,
        Some(serde_json::to_vec(&long).unwrap()),
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(
        server.push(&dev, vec![item]).await[0].status,
        ItemStatus::Accepted
    );
}

#[tokio::test]
async fn missing_or_bogus_credentials_are_401_everywhere() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let long = "t".repeat(5000);
    let tokens: Vec<Option<&str>> = vec![
        None,
        Some(""),
        Some("not-a-token"),
        Some("' OR '1'='1"),
        Some(long.as_str()),
    ];
    for token in &tokens {
        for (method, path) in [
            (Method::GET, "/v1/policy"),
            (Method::GET, "/v1/changes"),
            (Method::GET, "/admin/v1/devices"),
            (Method::GET, "/admin/v1/punches"),
            (Method::GET, "/admin/v1/chains/verify"),
            (Method::GET, "/admin/v1/policy"),
        ] {
            expect_error(&server, method, path, *token, None, 401, "unauthorized").await;
        }
        expect_error(
            &server,
            Method::POST,
            "/v1/push",
            *token,
            Some(br#"{"items": []}"#.to_vec()),
            401,
            "unauthorized",
        )
        .await;
    }
    // Other schemes and malformed headers.
    for header in [
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "Bearer  ",
        "bearer\t",
        "Token x",
    ] {
        let r = server
            .http
            .get(server.url("/v1/policy"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{header}");
        assert_eq!(
            r.headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap(),
            "Bearer"
        );
    }
    // The scheme is case-insensitive for real tokens.
    let r = server
        .http
        .get(server.url("/v1/policy"))
        .header("authorization", format!("bEaReR {}", dev.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn sql_looking_strings_are_just_strings() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let injections = [
        "'; DROP TABLE punch; --",
        "\" OR 1=1 --",
        "x') UNION SELECT signing_seed FROM org --",
        "%27%20OR%201%3D1",
        "\u{0}\u{1}",
    ];
    for s in injections {
        let enroll = json!({"code": s, "public_key": "AAAA", "device_name": s, "platform": "p"});
        let r = server
            .http
            .post(server.url("/v1/enroll"))
            .json(&enroll)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{s}: {}", r.status());
        let r = server
            .http
            .get(server.url("/v1/changes"))
            .query(&[("cursor", s)])
            .bearer_auth(&dev.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{s}");
        let r = server
            .http
            .get(server.url("/admin/v1/punches"))
            .query(&[("device_id", s)])
            .bearer_auth(ADMIN_A)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{s}");
        let body: Value = r.json().await.unwrap();
        assert!(body["punches"].as_array().unwrap().is_empty());
        let token = json!({"device_id": s, "issued_at": chrono::Utc::now(), "signature": s});
        let r = server
            .http
            .post(server.url("/v1/token"))
            .json(&token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{s}");
    }
    // As item ids and streams: per-item refusals, nothing stored.
    let r = dev.good_record();
    let mut items = Vec::new();
    for s in injections {
        let mut item = dev.item(&r);
        item.id = s.to_string();
        items.push(item);
        let mut item = dev.item(&r);
        item.stream = s.to_string();
        items.push(item);
    }
    items.push(PushItem {
        id: "x".repeat(1000),
        ..dev.item(&r)
    });
    let results = server.push(&dev, items).await;
    for result in &results {
        // Rejected, or held back behind a rejected item of the same stream.
        assert!(
            matches!(result.status, ItemStatus::Rejected | ItemStatus::Retry),
            "{result:?}"
        );
        assert!(result.code.is_some());
    }
    assert!(server.punches(ADMIN_A).await.is_empty());
    // The real item still goes in, and the tables are all there.
    assert_eq!(
        server.push(&dev, vec![dev.item(&r)]).await[0].status,
        ItemStatus::Accepted
    );
    assert_eq!(server.punches(ADMIN_A).await.len(), 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let server = TestServer::start().await;
    expect_error(
        &server,
        Method::GET,
        "/v2/push",
        None,
        None,
        404,
        "not_found",
    )
    .await;
    expect_error(&server, Method::GET, "/", None, None, 404, "not_found").await;
    expect_error(
        &server,
        Method::GET,
        "/v1/push",
        None,
        None,
        405,
        "method_not_allowed",
    )
    .await;
    expect_error(
        &server,
        Method::DELETE,
        "/admin/v1/policy",
        Some(ADMIN_A),
        None,
        405,
        "method_not_allowed",
    )
    .await;
    let r = server.http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn odd_but_valid_json_in_push_items_is_refused_per_item() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let r = dev.good_record();
    let good = dev.item(&r);
    let stream = good.stream.clone();
    let bodies = [
        json!(null),
        json!(1e300),
        json!("a string"),
        json!([good.body.clone()]),
        json!({"format": 2}),
        json!({"format": 1, "sig": 5}),
    ];
    let mut items: Vec<PushItem> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            PushItem::new(
                format!("odd-{i}"),
                format!("{stream}-odd-{i}"),
                "punch",
                &body,
            )
            .unwrap()
        })
        .collect();
    items.push(good);
    let results = server.push(&dev, items).await;
    let (last, odd) = results.split_last().unwrap();
    for result in odd {
        assert_eq!(result.status, ItemStatus::Rejected, "{result:?}");
        assert!(result.code.is_some());
    }
    assert_eq!(last.status, ItemStatus::Accepted, "{last:?}");
    // Duplicate keys inside a body: the strict record reader refuses them.
    let next = dev.good_record();
    let mut text = serde_json::to_string(&dev.item(&next).body).unwrap();
    text.insert_str(1, "\"kind\":\"out\",");
    let raw = format!(
        "{{\"items\":[{{\"id\":\"dup\",\"stream\":\"{stream}\",\"kind\":\"punch\",\"body\":{text}}}]}}"
    );
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&dev.token)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "rejected");
    assert_eq!(body["results"][0]["code"], "malformed_record");
}

/// Posts `body` as JSON with an optional bearer token; the status and the parsed answer.
async fn post_raw(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut request = server
        .http
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn json_with_anything_after_it_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0001").await;

    // Push: an empty batch, then a real punch, each followed by garbage or a second value.
    for body in [
        r#"{"items":[]} xyz"#,
        r#"{"items":[]}{"items":[]}"#,
        r#"{"items":[]}]"#,
    ] {
        let (status, answer) = post_raw(&server, "/v1/push", Some(&dev.token), body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("invalid_request")),
            "{body}: {answer}"
        );
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("nothing after it"),
            "{answer}"
        );
    }
    let spec = dev.good_spec();
    let record = dev.record(spec);
    let item = serde_json::to_string(&json!({ "items": [dev.item(&record)] })).unwrap();
    let (status, _) = post_raw(
        &server,
        "/v1/push",
        Some(&dev.token),
        &format!("{item} trailing"),
    )
    .await;
    assert_eq!(status, 400);
    // Nothing was stored: the clean push is the punch's first arrival, not a duplicate.
    let results = server.push(&dev, vec![dev.item(&record)]).await;
    assert_eq!(results[0].status, ItemStatus::Accepted, "{results:?}");
    // Whitespace after the value is still fine.
    let (status, _) = post_raw(
        &server,
        "/v1/push",
        Some(&dev.token),
        "{\"items\":[]} \r\n\t",
    )
    .await;
    assert_eq!(status, 200);

    // Issuing an enrolment code: refused, no code in the answer.
    let (status, answer) = post_raw(
        &server,
        "/admin/v1/enrollment-codes",
        Some(ADMIN_A),
        r#"{"employee_id":"E1002"} this is not json"#,
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_request")),
        "{answer}"
    );
    assert!(answer.get("enrollment_code").is_none() && answer.get("code_value").is_none());

    // Enrolment: the code is not consumed by a refused body, and works afterwards.
    let (signer, _) = daka_core::punch::DeviceSigner::generate().unwrap();
    let enroll = json!({
        "code": "A-E1002-0001",
        "public_key": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signer.public_key()),
        "device_name": "Cheung's phone",
        "platform": "test",
    })
    .to_string();
    let (status, answer) =
        post_raw(&server, "/v1/enroll", None, &format!("{enroll}{enroll}")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_request")),
        "{answer}"
    );
    let (status, answer) = post_raw(&server, "/v1/enroll", None, &enroll).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["device_id"].is_string());

    // Token refresh.
    let issued_at = chrono::Utc::now();
    let refresh = json!({
        "device_id": dev.device_id,
        "issued_at": issued_at,
        "signature": dev.sign_challenge(&issued_at),
    })
    .to_string();
    let (status, answer) = post_raw(&server, "/v1/token", None, &format!("{refresh} 1")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_request")),
        "{answer}"
    );
    // The device's token still works.
    server.client().policy(&dev.token).await.unwrap();
}

#[tokio::test]
async fn malformed_paths_and_queries_are_json_errors() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    for (method, path, token) in [
        (Method::GET, "/admin/v1/requests/%ff", ADMIN_A),
        (Method::GET, "/v1/requests/%ff", dev.token.as_str()),
        (Method::GET, "/admin/v1/corrections", ADMIN_A),
        (
            Method::GET,
            "/admin/v1/corrections?employee_id=E1001&employee_id=E1002",
            ADMIN_A,
        ),
        (Method::POST, "/admin/v1/devices/%ff/revoke", ADMIN_A),
        (Method::DELETE, "/admin/v1/attendance/locks/%ff%fe", ADMIN_A),
        (Method::GET, "/admin/v1/console/audit?after=-1", ADMIN_A),
    ] {
        let message = expect_error(
            &server,
            method.clone(),
            path,
            Some(token),
            None,
            400,
            "invalid_request",
        )
        .await;
        assert!(!message.is_empty(), "{method} {path}");
    }
    // Over-long ids are refused, naming the parameter, as the schema's maxLength says.
    let long = "x".repeat(129);
    for (path, name) in [
        (format!("/admin/v1/punches?device_id={long}"), "device_id"),
        (
            format!("/admin/v1/attendance/month?month=2026-11&employee={long}"),
            "employee",
        ),
    ] {
        let message = expect_error(
            &server,
            Method::GET,
            &path,
            Some(ADMIN_A),
            None,
            400,
            "invalid_request",
        )
        .await;
        assert!(message.contains(name), "{path}: {message}");
    }
    // The missing parameter is named.
    let message = expect_error(
        &server,
        Method::GET,
        "/admin/v1/corrections",
        Some(ADMIN_A),
        None,
        400,
        "invalid_request",
    )
    .await;
    assert!(message.contains("employee_id"), "{message}");
    // A well-formed request still answers.
    let (status, _) = server
        .admin_get(ADMIN_A, "/admin/v1/corrections?employee_id=E1001")
        .await;
    assert_eq!(status, 200);
}
