//! The operations endpoints over real HTTP: `/metrics` counting real requests, signed pushes,
//! enrolments and storage calls; the metrics token; `/ready` against the real database file;
//! request ids on every answer and in the log lines of their request; and a stop under load
//! (the request in progress finishes, new work gets 503 `shutting_down`, then the listener
//! closes).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::*;
use daka_core::protocol::{ItemStatus, PushRequest};
use daka_device::sync::client::SyncError;
use daka_server::{RequestLog, ServerOptions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One scrape: each sample by name and labels (sorted), with its value.
#[derive(Debug)]
struct Scrape {
    samples: HashMap<(String, BTreeMap<String, String>), f64>,
    text: String,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut samples = HashMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').unwrap();
                    let labels = inner
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").unwrap();
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
                None => (series.to_string(), BTreeMap::new()),
            };
            assert!(
                samples.insert((name, labels), value).is_none(),
                "a sample written twice: {line}"
            );
        }
        Scrape { samples, text }
    }

    /// The sample's value; 0 when the series has not been written yet.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .get(&(name.to_string(), labels))
            .copied()
            .unwrap_or(0.0)
    }
}

/// The status of an enrolment with `code` and a fixed key.
async fn enroll_status(server: &TestServer, code: &str) -> u16 {
    let body = serde_json::json!({
        "code": code,
        "public_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "device_name": "x",
        "platform": "test"
    });
    let r = server.http.post(server.url("/v1/enroll")).json(&body);
    r.send().await.unwrap().status().as_u16()
}

/// A plain GET of `path`.
async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    server.http.get(server.url(path)).send().await.unwrap()
}

async fn scrape(server: &TestServer) -> Scrape {
    let r = get(server, "/metrics").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(text)
}

/// A labelled sample whose change between two scrapes is asserted.
type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Asserts that each sample moved by exactly its amount between `before` and `after`.
#[track_caller]
fn assert_moved(before: &Scrape, after: &Scrape, expected: &[Expected<'_>]) {
    for (name, labels, by) in expected {
        let moved = after.get(name, labels) - before.get(name, labels);
        assert_eq!(moved, *by, "{name} {labels:?}\n{}", after.text);
    }
}

const REQUESTS: &str = "daka_http_requests_total";
const GET: (&str, &str) = ("method", "GET");
const OK: (&str, &str) = ("status", "200");

#[tokio::test]
async fn metrics_count_requests_pushes_enrolments_and_storage_calls_exactly() {
    let server = TestServer::start().await;
    let s0 = scrape(&server).await;
    // The scrape itself is in flight while it is written, and counted once answered.
    assert_eq!(s0.get("daka_http_requests_in_flight", &[]), 1.0);
    assert_eq!(
        s0.get("daka_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    // Push admission before any push: nothing admitted or in line, no cost measured yet, no
    // overrun.
    assert_eq!(s0.get("daka_push_admitted_items", &[]), 0.0);
    assert_eq!(s0.get("daka_push_line_places", &[]), 0.0);
    assert_eq!(s0.get("daka_push_item_cost_seconds", &[]), 0.0);
    assert_eq!(s0.get("daka_push_wait_overrun_ratio", &[]), 1.0);
    let started = s0.get("daka_process_start_time_seconds", &[]);
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(started > now - 600.0 && started <= now + 1.0, "{started}");

    // Liveness touches no storage.
    for _ in 0..5 {
        let r = get(&server, "/health").await;
        assert_eq!(r.status(), 200);
    }
    let s1 = scrape(&server).await;
    assert_moved(
        &s0,
        &s1,
        &[
            (REQUESTS, &[GET, ("route", "/health"), OK], 5.0),
            (REQUESTS, &[GET, ("route", "/metrics"), OK], 1.0),
            ("daka_storage_call_duration_seconds_count", &[], 0.0),
        ],
    );

    // Enrolments: one good code, one unknown.
    let mut dev = server.enroll("A-E1001-0001").await;
    let status = enroll_status(&server, "A-NOPE-0000").await;
    assert_eq!(status, 404);

    // Pushes of real signed punches: two accepted, one duplicate, one rejected.
    let r1 = dev.good_record();
    let r2 = dev.good_record();
    let results = server.push(&dev, vec![dev.item(&r1), dev.item(&r2)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    assert_result(&results[1], ItemStatus::Accepted, None);
    let r3 = dev.good_record();
    let mut mismatched = dev.item(&r3);
    mismatched.id = "not-the-record-id".into();
    let results = server.push(&dev, vec![dev.item(&r1), mismatched]).await;
    assert_result(&results[0], ItemStatus::Duplicate, None);
    assert_result(&results[1], ItemStatus::Rejected, Some("id_mismatch"));

    // Unknown paths are one `unmatched` series; a route with an id is labelled by template.
    let r = get(&server, "/no/such/path/0123456789").await;
    assert_eq!(r.status(), 404);
    let r = server
        .http
        .get(server.url("/v1/requests/0190d1c4-0000-7000-8000-000000000000"))
        .bearer_auth(&dev.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let s2 = scrape(&server).await;
    const POST: (&str, &str) = ("method", "POST");
    const PUSH: (&str, &str) = ("route", "/v1/push");
    assert_moved(
        &s1,
        &s2,
        &[
            ("daka_enrolments_total", &[("outcome", "enrolled")], 1.0),
            (
                "daka_enrolments_total",
                &[("outcome", "enrollment_code_unknown")],
                1.0,
            ),
            ("daka_push_items_total", &[("status", "accepted")], 2.0),
            ("daka_push_items_total", &[("status", "duplicate")], 1.0),
            ("daka_push_items_total", &[("status", "rejected")], 1.0),
            ("daka_push_items_total", &[("status", "retry")], 0.0),
            (REQUESTS, &[POST, ("route", "/v1/enroll"), OK], 1.0),
            (
                REQUESTS,
                &[POST, ("route", "/v1/enroll"), ("status", "404")],
                1.0,
            ),
            (REQUESTS, &[POST, PUSH, OK], 2.0),
            (
                REQUESTS,
                &[GET, ("route", "unmatched"), ("status", "404")],
                1.0,
            ),
            (
                REQUESTS,
                &[
                    GET,
                    ("route", "/v1/requests/{request_id}"),
                    ("status", "404"),
                ],
                1.0,
            ),
            // The push latency histogram counted both pushes, in its +Inf bucket too.
            (
                "daka_http_request_duration_seconds_count",
                &[POST, PUSH],
                2.0,
            ),
            (
                "daka_http_request_duration_seconds_bucket",
                &[("le", "+Inf"), POST, PUSH],
                2.0,
            ),
        ],
    );
    assert!(!s2.text.contains("/no/such"), "{}", s2.text);
    assert!(!s2.text.contains("0190d1c4"), "{}", s2.text);

    let push_sum = "daka_http_request_duration_seconds_sum";
    assert!(s2.get(push_sum, &[POST, PUSH]) > s1.get(push_sum, &[POST, PUSH]));

    // Storage calls: each push, enrolment and authentication ran some; every call queued was
    // also run, and none is left in flight.
    let calls = |s: &Scrape, name: &str| s.get(name, &[]);
    let ran = calls(&s2, "daka_storage_call_duration_seconds_count")
        - calls(&s1, "daka_storage_call_duration_seconds_count");
    assert!(ran >= 4.0, "{ran}");
    assert_eq!(
        calls(&s2, "daka_storage_queue_wait_seconds_count")
            - calls(&s1, "daka_storage_queue_wait_seconds_count"),
        ran
    );
    assert_eq!(s2.get("daka_storage_calls_in_flight", &[]), 0.0);
    // The pushes answered: none left admitted or in line, and an item's cost measured from
    // them (under a second on any machine; the overrun at least 1).
    assert_eq!(s2.get("daka_push_admitted_items", &[]), 0.0);
    assert_eq!(s2.get("daka_push_line_places", &[]), 0.0);
    let cost = s2.get("daka_push_item_cost_seconds", &[]);
    assert!(cost > 0.0 && cost < 1.0, "{cost}");
    let overrun = s2.get("daka_push_wait_overrun_ratio", &[]);
    assert!((1.0..=8.0).contains(&overrun), "{overrun}");
    assert_eq!(
        s2.get("daka_storage_call_duration_seconds_count", &[]),
        s2.get("daka_storage_queue_wait_seconds_count", &[])
    );
}

#[tokio::test]
async fn enrolments_refused_by_the_failure_limit_are_counted_apart() {
    let server = TestServer::start().await;
    let limit = daka_server::api::device::ENROL_ADDRESS_FAILURES;
    let s0 = scrape(&server).await;
    for i in 0..=limit {
        let status = enroll_status(&server, &format!("A-GUESS-{i:04}")).await;
        assert_eq!(status, if i < limit { 404 } else { 429 }, "attempt {i}");
    }
    let s1 = scrape(&server).await;
    let outcome = |o| [("outcome", o)];
    assert_moved(
        &s0,
        &s1,
        &[
            (
                "daka_enrolments_total",
                &outcome("enrollment_code_unknown"),
                limit as f64,
            ),
            ("daka_enrolments_total", &outcome("too_many_attempts"), 1.0),
            ("daka_enrolments_total", &outcome("enrolled"), 0.0),
        ],
    );
}

#[tokio::test]
async fn a_metrics_token_is_required_when_one_is_set() {
    let server = TestServer::start_with(ServerOptions {
        metrics_token: Some("metrics-token-0001".into()),
        ..ServerOptions::default()
    })
    .await;
    // None, a wrong one, and the organisation's admin token (not the metrics token either).
    for token in [None, Some("metrics-token-0002"), Some(ADMIN_A)] {
        let mut request = server.http.get(server.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401, "{token:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized");
    }
    let r = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth("metrics-token-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    // The refused scrapes were counted as 401s.
    assert!(
        text.contains(r#"daka_http_requests_total{method="GET",route="/metrics",status="401"} 3"#),
        "{text}"
    );
}

async fn ready(server: &TestServer) -> (u16, Value) {
    let r = get(server, "/ready").await;
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn ready_only_while_the_database_has_this_builds_schema() {
    let server = TestServer::start().await;
    assert_eq!(
        ready(&server).await,
        (200, serde_json::json!({"status": "ready"}))
    );

    // Another program changes the database's schema version: not ready, saying why.
    let (read, newer, back) = if server.on_postgres() {
        (
            "SELECT CAST(MAX(version) AS TEXT) FROM schema_version",
            "INSERT INTO schema_version (version, applied_ms) VALUES (9999, 0)",
            "DELETE FROM schema_version WHERE version = 9999",
        )
    } else {
        (
            "SELECT CAST(user_version AS TEXT) FROM pragma_user_version",
            "PRAGMA user_version = 9999",
            "",
        )
    };
    let version: i64 = server.raw_rows(read)[0][0].parse().unwrap();
    server.raw_batch(newer);
    let (status, body) = ready(&server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "not_ready");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("schema version 9999") && message.contains(&format!("writes {version}")),
        "{message}"
    );
    // Liveness is not readiness.
    let r = get(&server, "/health").await;
    assert_eq!(r.status(), 200);

    if server.on_postgres() {
        server.raw_batch(back);
    } else {
        server.raw_batch(&format!("PRAGMA user_version = {version}"));
    }
    assert_eq!(ready(&server).await.0, 200);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_the_request_log_has_it() {
    let logged: Arc<Mutex<Vec<RequestLog>>> = Arc::default();
    let sink = logged.clone();
    let server = TestServer::start_with(ServerOptions {
        request_log: Some(Arc::new(move |r: &RequestLog| {
            sink.lock().unwrap().push(r.clone())
        })),
        ..ServerOptions::default()
    })
    .await;
    let id_of = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    // A sane id from the client is kept.
    let r = server
        .http
        .get(server.url("/health"))
        .header("x-request-id", "lb-7f3a.2_Z-9")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&r), "lb-7f3a.2_Z-9");
    // Without one, or with one that is not sane, a new UUIDv7.
    let long = "a".repeat(65);
    for sent in [None, Some("has space"), Some("a;b"), Some(long.as_str())] {
        let mut request = server.http.get(server.url("/v1/policy"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let id = id_of(&r);
        let uuid = uuid::Uuid::parse_str(&id).unwrap_or_else(|_| panic!("{id}"));
        assert_eq!(uuid.get_version_num(), 7, "{id}");
    }
    // Errors and unknown routes carry one too, and two requests never share one.
    let a = get(&server, "/nowhere").await;
    let b = get(&server, "/nowhere").await;
    assert_eq!(a.status(), 404);
    assert_ne!(id_of(&a), id_of(&b));

    // The embedder's request log has the id, the route template and the raw path.
    let r = server
        .http
        .get(server.url("/v1/requests/some-id"))
        .header("x-request-id", "req-log-check")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let log = logged.lock().unwrap();
    let entry = log
        .iter()
        .find(|e| e.request_id == "req-log-check")
        .unwrap();
    assert_eq!(entry.route, "/v1/requests/{request_id}");
    assert_eq!(entry.path, "/v1/requests/some-id");
    assert_eq!(entry.method, "GET");
    assert_eq!(entry.status, 401);
    let unknown = log.iter().find(|e| e.path == "/nowhere").unwrap();
    assert_eq!(unknown.route, "unmatched");
}

/// A `Write` into a shared buffer, for the log subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's log, as JSON lines at debug level (installed once for this test binary).
fn captured_log() -> Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
    .clone()
}

#[tokio::test]
async fn the_request_id_is_in_every_log_line_of_its_request() {
    let log = captured_log();
    let server = TestServer::start().await;
    let mut dev = server.enroll("A-E1001-0002").await;
    let r1 = dev.good_record();
    let body = serde_json::to_string(&PushRequest {
        items: vec![dev.item(&r1)],
    })
    .unwrap();
    let r = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&dev.token)
        .header("content-type", "application/json")
        .header("x-request-id", "push-log-0001")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "push-log-0001");
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|l: &Value| l["span"]["request_id"] == "push-log-0001")
        .collect();
    // The intake's event, logged on the blocking pool, and the access event.
    let applied = lines
        .iter()
        .find(|l| l["fields"]["message"] == "push applied")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(applied["span"]["route"], "/v1/push");
    let access = lines
        .iter()
        .find(|l| l["target"] == "daka_server::access")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(access["fields"]["status"], 200);
    assert!(access["fields"]["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(access["span"]["method"], "POST");
    assert!(!text.contains(&dev.token), "the device token was logged");
}

/// The next response on a kept-alive connection, within 20 s; fails if the server closed it.
async fn next_response(stream: &mut tokio::net::TcpStream) -> String {
    tokio::time::timeout(Duration::from_secs(20), read_response(stream))
        .await
        .expect("no answer within 20 s")
        .expect("the server closed the connection")
}

/// Reads an HTTP/1.1 response with `Connection: close` to its end.
async fn read_to_end(stream: &mut tokio::net::TcpStream) -> String {
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut bytes))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn a_stop_finishes_the_request_in_progress_and_refuses_new_work() {
    let ts = TestServer::start().await;
    let dev = ts.enroll("A-E1001-0003").await;
    let file = jpeg_like(&"receipt ".repeat(4096));
    let sha = daka_server::crypto::sha256_hex(&file);
    let addr = ts.server.addr();

    // An upload that arrives slowly: headers and the first half of the file now.
    let mut upload = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /v1/attachments/{sha} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        dev.token,
        file.len()
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    let half = file.len() / 2;
    upload.write_all(&file[..half]).await.unwrap();
    upload.flush().await.unwrap();
    // Wait until the server is handling it (the scrape and the upload in flight).
    let mut in_flight = 0.0;
    for _ in 0..200 {
        in_flight = scrape(&ts).await.get("daka_http_requests_in_flight", &[]);
        if in_flight >= 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(in_flight, 2.0);

    let TestServer {
        server,
        db,
        dir: _dir,
        http,
    } = ts;
    let url = server.url();
    let stopping = tokio::spawn(server.shutdown());

    // Readiness turns at once, while the listener still answers.
    let mut refused_ready = None;
    for _ in 0..200 {
        let r = http.get(format!("{url}/ready")).send().await.unwrap();
        if r.status() == 503 {
            refused_ready = Some(r.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let body = refused_ready.expect("/ready stayed 200 during the stop");
    assert_eq!(body["code"], "not_ready");
    assert!(
        body["message"].as_str().unwrap().contains("stopping"),
        "{body}"
    );

    // New work is refused with a time to come back.
    let r = http
        .get(format!("{url}/v1/policy"))
        .bearer_auth(&dev.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    assert!(r.headers().contains_key("x-request-id"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "shutting_down");
    assert!(
        !stopping.is_finished(),
        "the stop did not wait for the upload"
    );

    // The rest of the file: the upload in progress completes.
    upload.write_all(&file[half..]).await.unwrap();
    let response = read_to_end(&mut upload).await;
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains(&sha), "{response}");

    tokio::time::timeout(Duration::from_secs(15), stopping)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The listener is closed: new connections are refused.
    assert!(std::net::TcpStream::connect(addr).is_err());
    // The upload is stored.
    drop(http);
    let location = db.location();
    let stored = tokio::task::spawn_blocking(move || {
        common::open_storage(location)
            .attachment(ORG_A, &sha)
            .unwrap()
            .map(|(_, bytes)| bytes.len())
    })
    .await
    .unwrap();
    assert_eq!(stored, Some(file.len()));
}

/// A server whose admission lets no push wait behind another (`max_push_wait` 0), and whose
/// storage calls wait up to 20 s for a lock held by another process.
async fn server_admitting_no_wait() -> TestServer {
    TestServer::start_with(ServerOptions {
        max_push_wait: Duration::ZERO,
        busy_timeout: Duration::from_secs(20),
        ..ServerOptions::default()
    })
    .await
}

/// Admission control: with the database held by another process, a push waits for it; a
/// second push, behind a queue estimated longer than `max_push_wait`, is answered 503 `busy`
/// at once, with a `Retry-After`, and stores nothing. Both are stored once when the lock goes.
/// (The lock is taken from another connection, SQLite's file lock or a PostgreSQL table lock:
/// this test is about the queue in front of the storage, and a lock holds that queue still.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_behind_a_long_queue_is_refused_at_once_with_retry_after() {
    let ts = server_admitting_no_wait().await;
    let mut first = ts.enroll("A-E1001-0001").await;
    let mut second = ts.enroll("A-E1002-0001").await;
    // Two more phones, enrolled while the database is free.
    let mut third = ts.enroll("A-E1002-0002").await;
    let newcomer = ts.enroll("A-E1001-0002").await;
    let chunked = ts.enroll("A-E1002-0003").await;
    // A push answered: the server now knows what an item costs.
    let record = first.good_record();
    let warm_up = ts.push(&first, vec![first.item(&record)]).await;
    assert_result(&warm_up[0], ItemStatus::Accepted, None);

    // Another process holds the database's write lock.
    let lock = ts.hold_write_lock();
    let record = first.good_record();
    let waiting = {
        let client = ts.client();
        let token = first.token.clone();
        let request = PushRequest {
            items: vec![first.item(&record)],
        };
        tokio::spawn(async move { client.push(&token, &request).await })
    };
    let mut in_flight = 0.0;
    for _ in 0..500 {
        in_flight = scrape(&ts).await.get("daka_storage_calls_in_flight", &[]);
        if in_flight >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(in_flight, 1.0, "the first push waits for the database");

    let record = second.good_record();
    let body = serde_json::to_vec(&PushRequest {
        items: vec![second.item(&record)],
    })
    .unwrap();
    let asked = std::time::Instant::now();
    let refused = ts
        .http
        .post(ts.url("/v1/push"))
        .bearer_auth(&second.token)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    // At once, not after waiting for the lock (20 s) like the push ahead of it.
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "busy", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("retry_after_ms"),
        "{error}"
    );
    // The body says the wait to the millisecond, the header the same in whole seconds,
    // rounded up.
    let retry_after_ms = error["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1..=30_000).contains(&retry_after_ms), "{error}");
    assert_eq!(retry_after, retry_after_ms.div_ceil(1000).max(1), "{error}");
    // The SDK's client reads the finer wait.
    match ts
        .client()
        .push(
            &second.token,
            &PushRequest {
                items: vec![second.item(&record)],
            },
        )
        .await
    {
        Err(SyncError::Busy {
            status: 503,
            retry_after_ms: Some(ms),
        }) => {
            assert!((1..=30_000).contains(&ms), "{ms}")
        }
        other => panic!("expected 503 busy with a wait, got {other:?}"),
    }

    // A third phone is refused and placed in line behind the second. Sending again before its
    // turn, it is refused before its token is looked up or its body parsed: a body that is not
    // a push at all is answered 503 `busy`, not 400. So is a phone with no place yet, whose
    // size is estimated from its body's length (the server has parsed pushes before), and
    // which is placed behind the third. A token the server does not know is still 401.
    let record = third.good_record();
    let placed = ts
        .client()
        .push(
            &third.token,
            &PushRequest {
                items: vec![third.item(&record)],
            },
        )
        .await;
    assert!(
        matches!(placed, Err(SyncError::Busy { status: 503, .. })),
        "{placed:?}"
    );
    let garbage = |token: String| {
        ts.http
            .post(ts.url("/v1/push"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(r#"{"items": 7}"#)
            .send()
    };
    let early = garbage(third.token.clone()).await.unwrap();
    assert_eq!(early.status(), 503);
    let early: Value = early.json().await.unwrap();
    assert_eq!(early["code"], "busy", "{early}");
    assert!(early["retry_after_ms"].as_u64().is_some(), "{early}");
    let unparsed = garbage(newcomer.token.clone()).await.unwrap();
    assert_eq!(unparsed.status(), 503);
    let unparsed: Value = unparsed.json().await.unwrap();
    assert_eq!(unparsed["code"], "busy", "{unparsed}");
    let unknown = garbage("not-a-token-of-this-server".into()).await.unwrap();
    assert_eq!(unknown.status(), 401);
    // A refused body is read to its end, so the connection stays open for the next request:
    // a 256 KB body, with a declared length or sent in chunks (from a newcomer, placed in line
    // unparsed), then a health check on the same connection.
    let pad = "x".repeat(256 * 1024);
    let padded = format!(r#"{{"items": [], "pad": "{pad}"}}"#);
    let mut conn = tokio::net::TcpStream::connect(ts.server.addr())
        .await
        .unwrap();
    let declared = format!(
        "POST /v1/push HTTP/1.1\r\nHost: daka.test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{padded}",
        third.token,
        padded.len()
    );
    let in_chunks = format!(
        "POST /v1/push HTTP/1.1\r\nHost: daka.test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{padded}\r\n0\r\n\r\n",
        chunked.token,
        padded.len()
    );
    for request in [declared, in_chunks] {
        conn.write_all(request.as_bytes()).await.unwrap();
        let answer = next_response(&mut conn).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains(r#""code":"busy""#), "{answer}");
    }
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: daka.test\r\n\r\n")
        .await
        .unwrap();
    let health = next_response(&mut conn).await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    // The lock goes: the waiting push is stored, and the refused one is accepted when sent
    // again (it was never stored).
    lock.release();
    let answer = waiting.await.unwrap().unwrap();
    assert_result(&answer.results[0], ItemStatus::Accepted, None);
    let again = ts
        .http
        .post(ts.url("/v1/push"))
        .bearer_auth(&second.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["results"][0]["status"], "accepted", "{again}");
    assert_eq!(ts.punches(ADMIN_A).await.len(), 3);
    // With nothing pending, the newcomer's body is parsed and its error named.
    let parsed = garbage(newcomer.token.clone()).await.unwrap();
    assert_eq!(parsed.status(), 400);
    let parsed: Value = parsed.json().await.unwrap();
    assert_eq!(parsed["code"], "invalid_request", "{parsed}");
}

/// A push of one record from `device`, admitted and waiting for the database's write lock
/// (held by [`TestServer::hold_write_lock`]): its answer, once the lock goes.
async fn push_held_by_the_lock(
    ts: &TestServer,
    device: &mut TestDevice,
) -> tokio::task::JoinHandle<Result<daka_core::protocol::PushResponse, SyncError>> {
    let record = device.good_record();
    let request = PushRequest {
        items: vec![device.item(&record)],
    };
    let (client, token) = (ts.client(), device.token.clone());
    let waiting = tokio::spawn(async move { client.push(&token, &request).await });
    for _ in 0..500 {
        if scrape(ts).await.get("daka_push_admitted_items", &[]) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(scrape(ts).await.get("daka_push_admitted_items", &[]), 1.0);
    waiting
}

/// `POST /v1/push/turn` with `body` as the phone with `token`: (status, JSON or null).
async fn ask_turn(ts: &TestServer, token: &str, body: &str) -> (u16, Value) {
    let r = ts
        .http
        .post(ts.url("/v1/push/turn"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A phone refused `busy` asks `POST /v1/push/turn` before it sends its push again: 204 when
/// the push would be admitted, and the turn is held for it; 503 `busy` with the wait and a
/// place in line kept when not. Nothing is stored by asking. Bad questions are refused,
/// naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phone_in_line_asks_for_its_turn_without_sending_its_push() {
    let ts = server_admitting_no_wait().await;
    let mut first = ts.enroll("A-E1001-0001").await;
    let mut second = ts.enroll("A-E1002-0001").await;
    let revoked = ts.enroll("A-E1002-0002").await;

    // Idle: its turn at once, as the SDK's client reads it, held for its push (the items
    // count as admitted) and with nothing stored.
    assert_eq!(
        ask_turn(&ts, &second.token, r#"{"items":100}"#).await,
        (204, Value::Null)
    );
    ts.client().push_turn(&second.token, 500).await.unwrap();
    assert_eq!(
        scrape(&ts).await.get("daka_push_admitted_items", &[]),
        500.0
    );
    assert_eq!(ts.punches(ADMIN_A).await.len(), 0);
    // Questions that are not a number of items from 1 to 500, each named.
    for (body, code, names) in [
        (r#"{"items":0}"#, "invalid_request", "items: 0"),
        (r#"{"items":501}"#, "too_many_items", "items: 501"),
        (r#"{"items":-1}"#, "invalid_request", "items"),
        (r#"{"items":4294967296}"#, "invalid_request", "items"),
        (r#"{"items":"100"}"#, "invalid_request", "items"),
        (r#"{"items":1.5}"#, "invalid_request", "items"),
        (r#"{}"#, "invalid_request", "items"),
        (r#"{"items":1,"body":"x"}"#, "invalid_request", "body"),
        (r#"[]"#, "invalid_request", ""),
        ("items=1", "invalid_request", ""),
        ("", "invalid_request", ""),
    ] {
        let (status, error) = ask_turn(&ts, &second.token, body).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["code"], code, "{body}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(names),
            "{body}: {error}"
        );
    }
    assert_eq!(
        ask_turn(&ts, "not-a-token-of-this-server", r#"{"items":1}"#)
            .await
            .0,
        401
    );
    let revoke = ts
        .http
        .post(ts.url(&format!("/admin/v1/devices/{}/revoke", revoked.device_id)))
        .bearer_auth(ADMIN_A)
        .json(&serde_json::json!({ "reason": "lost phone" }))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let (status, error) = ask_turn(&ts, &revoked.token, r#"{"items":1}"#).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("device_revoked"))
    );

    // Its push comes and takes the turn held for it (the server now knows what an item
    // costs). Then busy: a push that waits for the database, held by another process.
    let record = second.good_record();
    let taken = ts.push(&second, vec![second.item(&record)]).await;
    assert_result(&taken[0], ItemStatus::Accepted, None);
    assert_eq!(scrape(&ts).await.get("daka_push_admitted_items", &[]), 0.0);
    let lock = ts.hold_write_lock();
    let waiting = push_held_by_the_lock(&ts, &mut first).await;

    // Not its turn: told the wait, placed in line, and nothing admitted for it.
    let (status, error) = ask_turn(&ts, &second.token, r#"{"items":1}"#).await;
    assert_eq!(status, 503, "{error}");
    assert_eq!(error["code"], "busy", "{error}");
    let wait = error["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1..=30_000).contains(&wait), "{error}");
    let s = scrape(&ts).await;
    assert_eq!(s.get("daka_push_line_places", &[]), 1.0);
    assert_eq!(s.get("daka_push_admitted_items", &[]), 1.0);
    // Asking again keeps the one place; with a place not near, the question is answered
    // before it is read, as a push sent again early is.
    match ts.client().push_turn(&second.token, 1).await {
        Err(SyncError::Busy {
            status: 503,
            retry_after_ms: Some(ms),
        }) => assert!((1..=30_000).contains(&ms), "{ms}"),
        other => panic!("expected 503 busy with a wait, got {other:?}"),
    }
    let (status, _) = ask_turn(&ts, &second.token, "not json").await;
    assert_eq!(status, 503);
    assert_eq!(scrape(&ts).await.get("daka_push_line_places", &[]), 1.0);

    // The database is free again: the waiting push is answered, and the phone in line is
    // told its turn has come; its push is then admitted and stored once.
    lock.release();
    let answer = waiting.await.unwrap().unwrap();
    assert_result(&answer.results[0], ItemStatus::Accepted, None);
    assert_eq!(
        ask_turn(&ts, &second.token, r#"{"items":1}"#).await,
        (204, Value::Null)
    );
    let record = second.good_record();
    let pushed = ts.push(&second, vec![second.item(&record)]).await;
    assert_result(&pushed[0], ItemStatus::Accepted, None);
    let s = scrape(&ts).await;
    assert_eq!(s.get("daka_push_line_places", &[]), 0.0);
    assert_eq!(s.get("daka_push_admitted_items", &[]), 0.0);
    let turn = ("route", "/v1/push/turn");
    let post = ("method", "POST");
    assert_eq!(s.get(REQUESTS, &[post, turn, ("status", "204")]), 3.0);
    assert_eq!(s.get(REQUESTS, &[post, turn, ("status", "503")]), 3.0);
    assert_eq!(ts.punches(ADMIN_A).await.len(), 3);
}

/// The SDK's device engine, refused `busy`, asks `POST /v1/push/turn` in its next rounds
/// instead of uploading the push again, pushes when its turn comes, and once a push is
/// answered sends the next at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sdk_asks_for_its_turn_after_a_busy_refusal_instead_of_uploading_again() {
    use daka_core::punch::PunchKind;

    let ts = server_admitting_no_wait().await;
    let mut other = ts.enroll("A-E1002-0001").await;
    let dir = tempfile::tempdir().unwrap();
    let device = open_device(dir.path());
    device
        .enroll(&ts.server.url(), "A-E1001-0001", "Pixel 8", "android")
        .await
        .unwrap();
    let punch = |kind| store_punch_with_face(&device, kind, "E1001");
    let requests = |s: &Scrape, route: &str, status: &str| {
        s.get(
            REQUESTS,
            &[("method", "POST"), ("route", route), ("status", status)],
        )
    };
    // How long the round's refusal said to wait, and a little more.
    let wait_for = |report: &daka_device::SyncReport| match &report.stopped_by_error {
        Some(SyncError::Busy {
            retry_after_ms: Some(ms),
            ..
        }) => {
            assert!((1..=30_000).contains(ms), "{report:?}");
            Duration::from_millis(ms + 50)
        }
        _ => panic!("expected a round stopped busy with a wait: {report:?}"),
    };

    // Busy: another phone's push answered (the cost of an item is known), then one of its
    // pushes waiting for the database, held by another process.
    let record = other.good_record();
    assert_result(
        &ts.push(&other, vec![other.item(&record)]).await[0],
        ItemStatus::Accepted,
        None,
    );
    let lock = ts.hold_write_lock();
    let waiting = push_held_by_the_lock(&ts, &mut other).await;

    // The first round uploads the push and is refused; the next asks and is told to wait,
    // without uploading it again.
    punch(PunchKind::In);
    let refused = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((refused.accepted, refused.remaining), (0, 1), "{refused:?}");
    tokio::time::sleep(wait_for(&refused)).await;
    let asked = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((asked.accepted, asked.remaining), (0, 1), "{asked:?}");
    let s = scrape(&ts).await;
    assert_eq!(requests(&s, "/v1/push", "503"), 1.0);
    assert_eq!(requests(&s, "/v1/push/turn", "503"), 1.0);
    assert_eq!(requests(&s, "/v1/push/turn", "204"), 0.0);

    // The database is free: the round after the wait asks, is told its turn has come, and
    // pushes; the punch is stored once.
    lock.release();
    assert_result(
        &waiting.await.unwrap().unwrap().results[0],
        ItemStatus::Accepted,
        None,
    );
    tokio::time::sleep(wait_for(&asked)).await;
    let delivered = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!(
        (delivered.accepted, delivered.remaining),
        (1, 0),
        "{delivered:?}"
    );
    let s = scrape(&ts).await;
    assert_eq!(requests(&s, "/v1/push/turn", "204"), 1.0);
    assert_eq!(requests(&s, "/v1/push", "503"), 1.0);

    // Out of line: the next punch is pushed at once, without a question.
    punch(PunchKind::Out);
    let next = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((next.accepted, next.remaining), (1, 0), "{next:?}");
    let s = scrape(&ts).await;
    assert_eq!(requests(&s, "/v1/push/turn", "204"), 1.0);
    assert_eq!(requests(&s, "/v1/push/turn", "503"), 1.0);
    assert_eq!(requests(&s, "/v1/push", "200"), 4.0);
    assert_eq!(ts.punches(ADMIN_A).await.len(), 4);
}
