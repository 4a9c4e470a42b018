//! Attachments end to end over loopback against the real server: files uploaded with
//! `PUT /v1/attachments/{sha256}` and checked against their hash, retry-safe uploads, expense
//! claims that wait (`retry`) until their receipts are uploaded and are then taken exactly
//! once, sizes that must match the form, the attachment size limit (its own, not the JSON
//! body limit), organisations that cannot see each other's files, and hostile paths and
//! headers.

mod common;

use common::*;
use daka_core::protocol::{ItemResult, ItemStatus, PushItem};
use daka_server::ServerOptions;
use daka_server::crypto::sha256_hex;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

fn expense(receipts: Vec<Value>) -> Value {
    json!({
        "amount": { "minor": 38_000, "currency": "HKD" },
        "category": "meals",
        "date": "2026-11-20",
        "receipts": receipts,
        "description": "Lunch with the landlord",
    })
}

/// A signed submission of `form` on the expense template, with the route the device
/// previews.
fn submission(dev: &TestDevice, request_id: Uuid, form: Value) -> PushItem {
    let route = preview(dev, "expense", &form);
    submission_item(dev, request_id, 1, "expense", form, route)
}

async fn push1(server: &TestServer, dev: &TestDevice, item: PushItem) -> ItemResult {
    server.push(dev, vec![item]).await.remove(0)
}

/// GET with a device token; (status, content type, bytes).
async fn get_file(server: &TestServer, token: &str, path: &str) -> (u16, String, Vec<u8>) {
    let r = server
        .http
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, r.bytes().await.unwrap().to_vec())
}

/// GET that must fail; (status, error code).
async fn get_error(server: &TestServer, token: &str, path: &str) -> (u16, String) {
    let (status, content_type, bytes) = get_file(server, token, path).await;
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(body["message"].is_string() && body["server_time"].is_string());
    (status, body["code"].as_str().unwrap().to_string())
}

async fn request_count(server: &TestServer, dev: &TestDevice) -> usize {
    let r = server
        .http
        .get(server.url("/v1/requests"))
        .bearer_auth(&dev.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    body["requests"].as_array().unwrap().len()
}

/// Rows of the attachment table, read from the database.
fn stored_files(server: &TestServer) -> Vec<(String, String, i64)> {
    server
        .raw_rows(
            "SELECT org_id, sha256, CAST(size AS TEXT) FROM attachment ORDER BY org_id, sha256",
        )
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].parse().unwrap()))
        .collect()
}

#[tokio::test]
async fn an_expense_whose_receipt_was_uploaded_is_accepted() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let manager = server.enroll("A-E0101-0001").await;
    let photo = jpeg_like("taxi receipt HK$ 120");
    let receipt = server.upload(&dev, &photo, "image/jpeg").await;

    let id = Uuid::now_v7();
    let r = push1(
        &server,
        &dev,
        submission(&dev, id, expense(vec![receipt.clone()])),
    )
    .await;
    assert_result(&r, ItemStatus::Accepted, None);
    // The approver sees the request and reads the receipt it refers to.
    let (status, _, body) = get_file(&server, &manager.token, &format!("/v1/requests/{id}")).await;
    assert_eq!(status, 200);
    let view: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(view["form"]["receipts"], json!([receipt]));
    let path = format!("/v1/attachments/{}", receipt["sha256"].as_str().unwrap());
    let (status, content_type, bytes) = get_file(&server, &manager.token, &path).await;
    assert_eq!((status, content_type.as_str()), (200, "image/jpeg"));
    assert_eq!(bytes, photo);
}

#[tokio::test]
async fn a_claim_pushed_before_its_receipt_waits_and_is_accepted_once_after_the_upload() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let photo = jpeg_like("dinner receipt");
    let signature = jpeg_like("not a receipt, a second file");
    let receipts = vec![
        file_ref(&photo, "image/jpeg"),
        file_ref(&signature, "image/png"),
    ];
    let id = Uuid::now_v7();
    let item = submission(&dev, id, expense(receipts));

    let r = push1(&server, &dev, item.clone()).await;
    assert_result(&r, ItemStatus::Retry, Some("attachment_missing"));
    let message = r.message.unwrap();
    let hash = sha256_hex(&photo);
    assert!(message.contains(&hash[..12]), "{message}");
    assert!(!message.contains(&hash), "hashes are shortened: {message}");
    assert!(message.contains("2 file(s)"), "{message}");
    assert_eq!(request_count(&server, &dev).await, 0, "nothing was stored");

    // With one of the two files uploaded it still waits, naming only the other.
    server.upload(&dev, &photo, "image/jpeg").await;
    let r = push1(&server, &dev, item.clone()).await;
    assert_result(&r, ItemStatus::Retry, Some("attachment_missing"));
    let message = r.message.unwrap();
    assert!(message.contains(&sha256_hex(&signature)[..12]), "{message}");
    assert!(!message.contains(&hash[..12]), "{message}");

    // Once both are there, the same item is taken, exactly once.
    server.upload(&dev, &signature, "image/png").await;
    let r = push1(&server, &dev, item.clone()).await;
    assert_result(&r, ItemStatus::Accepted, None);
    let r = push1(&server, &dev, item).await;
    assert_eq!(r.status, ItemStatus::Duplicate, "{r:?}");
    assert_eq!(request_count(&server, &dev).await, 1);
    let (_, _, body) = get_file(&server, &dev.token, &format!("/v1/requests/{id}")).await;
    let view: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(view["audit"].as_array().unwrap().len(), 1, "one submission");
}

#[tokio::test]
async fn uploading_the_same_file_twice_stores_it_once() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let colleague = server.enroll("A-E1002-0001").await;
    let photo = jpeg_like("parking receipt");
    let hash = sha256_hex(&photo);

    let (status, body) = server
        .put_attachment(&dev.token, &hash, Some("image/jpeg"), photo.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sha256"], hash);
    assert_eq!(body["bytes"], photo.len());
    assert_eq!(body["media_type"], "image/jpeg");
    assert_eq!(body["stored"], true);
    assert!(body["server_time"].is_string());

    // A retry after a lost answer, and the same file from another device of the organisation.
    for token in [&dev.token, &colleague.token] {
        let (status, body) = server
            .put_attachment(token, &hash, Some("image/jpeg"), photo.clone())
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stored"], false);
        assert_eq!(body["bytes"], photo.len());
    }
    assert_eq!(
        stored_files(&server),
        vec![(ORG_A.to_string(), hash, photo.len() as i64)]
    );
}

#[tokio::test]
async fn a_body_that_is_not_the_named_file_is_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let photo = jpeg_like("receipt HK$ 80");
    let hash = sha256_hex(&photo);
    let mut tampered = photo.clone();
    tampered[20] ^= 0x01;

    let (status, body) = server
        .put_attachment(&dev.token, &hash, Some("image/jpeg"), tampered.clone())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("hash_mismatch"))
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&hash), "{message}");
    assert!(message.contains(&sha256_hex(&tampered)), "{message}");

    assert!(stored_files(&server).is_empty());
    for h in [hash, sha256_hex(&tampered)] {
        let (status, code) = get_error(&server, &dev.token, &format!("/v1/attachments/{h}")).await;
        assert_eq!((status, code.as_str()), (404, "unknown_attachment"));
    }
}

#[tokio::test]
async fn a_form_giving_a_file_another_size_is_rejected() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let photo = jpeg_like("receipt of the stationery");
    let mut receipt = server.upload(&dev, &photo, "image/jpeg").await;
    receipt["bytes"] = json!(photo.len() + 1);

    let r = push1(
        &server,
        &dev,
        submission(&dev, Uuid::now_v7(), expense(vec![receipt])),
    )
    .await;
    assert_result(&r, ItemStatus::Rejected, Some("attachment_mismatch"));
    let message = r.message.unwrap();
    assert!(message.contains(&photo.len().to_string()), "{message}");
    assert_eq!(request_count(&server, &dev).await, 0);
}

#[tokio::test]
async fn files_have_their_own_size_limit() {
    let limit = 64 * 1024;
    let options = ServerOptions {
        max_attachment_bytes: limit,
        // Smaller than the files below: uploads are not bound by the JSON body limit.
        max_body_bytes: 16 * 1024,
        ..ServerOptions::default()
    };
    let server = TestServer::start_with(options).await;
    let dev = server.enroll("A-E1001-0001").await;

    let exactly = vec![7u8; limit];
    let (status, body) = server
        .put_attachment(
            &dev.token,
            &sha256_hex(&exactly),
            Some("application/pdf"),
            exactly,
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let over = vec![8u8; limit + 1];
    let (status, body) = server
        .put_attachment(
            &dev.token,
            &sha256_hex(&over),
            Some("application/pdf"),
            over,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("attachment_too_large"))
    );
    assert!(body["message"].as_str().unwrap().contains("65536"));

    // A chunked body declares no length: it is read up to the limit and no further.
    let chunked = vec![9u8; limit + 10_000];
    let (status, text) = raw_request(
        &server,
        &format!("PUT /v1/attachments/{}", sha256_hex(&chunked)),
        &dev.token,
        &chunked,
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("attachment_too_large"), "{text}");

    assert_eq!(
        stored_files(&server).len(),
        1,
        "only the file within the limit"
    );
}

/// A request over a plain TCP connection, as written (no normalisation of the path), with a
/// chunked body when `body` is not empty; (status, response text).
async fn raw_request(
    server: &TestServer,
    request_line: &str,
    token: &str,
    body: &[u8],
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server.server.addr())
        .await
        .unwrap();
    let mut head = format!(
        "{request_line} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n",
        server.server.addr()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    if !body.is_empty() {
        for chunk in body.chunks(8 * 1024) {
            let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
            frame.extend_from_slice(chunk);
            frame.extend_from_slice(b"\r\n");
            // The server may answer and close before the whole body is sent.
            if stream.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
    read_response(&mut stream).await
}

#[tokio::test]
async fn an_upload_needs_a_media_type_and_some_bytes() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let photo = jpeg_like("receipt");
    let hash = sha256_hex(&photo);
    let long = format!("image/{}", "x".repeat(95));
    for media_type in [
        None,
        Some(""),
        Some("jpeg"),
        Some("text/plain; charset=utf-8"),
        Some(long.as_str()),
    ] {
        let (status, body) = server
            .put_attachment(&dev.token, &hash, media_type, photo.clone())
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_request")),
            "{media_type:?}: {body}"
        );
    }
    let empty_hash = sha256_hex(b"");
    let (status, body) = server
        .put_attachment(&dev.token, &empty_hash, Some("image/jpeg"), Vec::new())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // Without a token, nothing is read.
    let r = server
        .http
        .put(server.url(&format!("/v1/attachments/{hash}")))
        .header("content-type", "image/jpeg")
        .body(photo)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(stored_files(&server).is_empty());
}

#[tokio::test]
async fn organisations_cannot_see_or_use_each_others_files() {
    let server = TestServer::start().await;
    let alice = server.enroll("A-E1001-0001").await;
    let manager = server.enroll("A-E0101-0001").await;
    let other = server.enroll("B-E1001-0001").await;
    assert_eq!(other.org_id, ORG_B);
    let photo = jpeg_like("a receipt of Harbour Lane");
    let receipt = server.upload(&alice, &photo, "image/jpeg").await;
    let path = format!("/v1/attachments/{}", receipt["sha256"].as_str().unwrap());

    // Another organisation: no such file, and its claims cannot refer to it.
    let (status, code) = get_error(&server, &other.token, &path).await;
    assert_eq!((status, code.as_str()), (404, "unknown_attachment"));
    let r = push1(
        &server,
        &other,
        submission(&other, Uuid::now_v7(), expense(vec![receipt.clone()])),
    )
    .await;
    assert_result(&r, ItemStatus::Retry, Some("attachment_missing"));

    // The same organisation: the same bytes and media type.
    let (status, content_type, bytes) = get_file(&server, &manager.token, &path).await;
    assert_eq!((status, content_type.as_str()), (200, "image/jpeg"));
    assert_eq!(bytes, photo);

    // The other organisation uploads the same file: its own copy, stored anew.
    let (status, body) = server
        .put_attachment(
            &other.token,
            receipt["sha256"].as_str().unwrap(),
            Some("image/jpeg"),
            photo.clone(),
        )
        .await;
    assert_eq!((status, &body["stored"]), (201, &json!(true)));
    assert_eq!(stored_files(&server).len(), 2);
}

#[tokio::test]
async fn hostile_paths_are_refused() {
    let server = TestServer::start().await;
    let dev = server.enroll("A-E1001-0001").await;
    let photo = jpeg_like("receipt");
    let hash = sha256_hex(&photo);
    let upper = hash.to_uppercase();
    let long = format!("{hash}0");
    let short = &hash[..63];
    let not_hex = "g".repeat(64);
    let with_null = format!("{}%00", &hash[..61]);
    for path in [
        "..%2Fx",
        "..%2F..%2Fetc%2Fpasswd",
        upper.as_str(),
        long.as_str(),
        short,
        not_hex.as_str(),
        with_null.as_str(),
        "%FF%FE",
        "x",
    ] {
        let url = format!("/v1/attachments/{path}");
        let (status, code) = get_error(&server, &dev.token, &url).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_request"),
            "GET {url}"
        );
        let r = server
            .http
            .put(server.url(&url))
            .bearer_auth(&dev.token)
            .header("content-type", "image/jpeg")
            .body(photo.clone())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_request")),
            "PUT {url}: {body}"
        );
    }
    // Dot segments sent as they are (an HTTP client would resolve them before sending): a
    // `..` is no hash, and `../x` is no endpoint.
    for (path, status, code) in [
        ("/v1/attachments/..", 400, "invalid_request"),
        ("/v1/attachments/../x", 404, "not_found"),
        ("/v1/attachments/../../admin/v1/devices", 404, "not_found"),
    ] {
        let (got, text) = raw_request(&server, &format!("GET {path}"), &dev.token, &[]).await;
        assert_eq!(got, status, "{path}: {text}");
        assert!(
            text.contains(&format!("\"code\":\"{code}\"")),
            "{path}: {text}"
        );
    }
    assert!(stored_files(&server).is_empty());
}

/// Sends a file slowly over a plain TCP connection: `pieces` chunks with `pause` between
/// them, as a weak mobile link would; (status, response text).
async fn slow_upload(
    server: &TestServer,
    token: &str,
    body: &[u8],
    pieces: usize,
    pause: std::time::Duration,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server.server.addr())
        .await
        .unwrap();
    let head = format!(
        "PUT /v1/attachments/{} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        sha256_hex(body),
        server.server.addr(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(body.len().div_ceil(pieces)) {
        tokio::time::sleep(pause).await;
        if stream.write_all(chunk).await.is_err() {
            break;
        }
    }
    read_response(&mut stream).await
}

#[tokio::test]
async fn an_upload_over_a_slow_link_gets_the_upload_timeout_not_the_request_timeout() {
    let photo = vec![9u8; 40_000];
    let pause = std::time::Duration::from_millis(150);
    // Four pieces, 600 ms in all: twice the request timeout, well within the upload timeout.
    let server = TestServer::start_with(ServerOptions {
        request_timeout: std::time::Duration::from_millis(300),
        ..ServerOptions::default()
    })
    .await;
    let dev = server.enroll("A-E1001-0001").await;
    let (status, text) = slow_upload(&server, &dev.token, &photo, 4, pause).await;
    assert_eq!(status, 201, "{text}");
    // The upload timeout still bounds it.
    let strict = TestServer::start_with(ServerOptions {
        request_timeout: std::time::Duration::from_millis(300),
        upload_timeout: std::time::Duration::from_millis(300),
        ..ServerOptions::default()
    })
    .await;
    let dev = strict.enroll("A-E1001-0001").await;
    let (status, text) = slow_upload(&strict, &dev.token, &photo, 4, pause).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("\"timeout\""), "{text}");
}

/// Reads a whole HTTP response from a plain connection; (status, text).
async fn read_response(stream: &mut tokio::net::TcpStream) -> (u16, String) {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
