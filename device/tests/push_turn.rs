//! When a phone asks `POST /v1/push/turn` before it uploads a push, against the real server
//! behind a small HTTP front on loopback that logs every push and question, and can answer
//! some of them `503 busy` with a wait, as a busy server does:
//!
//! - a backlog of [`ASK_TURN_FROM_BYTES`] or more is announced before its first upload in a
//!   round, the rest of the round goes at once, and a few punches are sent without asking;
//! - a server of an earlier release, which does not offer the question: a phone refused `busy`
//!   asks once, hears 404 `not_found` (what the server's router answers for a route it does not
//!   have), and from then on sends its pushes again as before.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::{seed, store_punch};
use daka_core::punch::PunchKind;
use daka_device::sync::batching::ASK_TURN_FROM_BYTES;
use daka_device::{Device, UnprotectedKeyStore};
use daka_server::{RunningServer, Server, ServerConfig, ServerOptions};

const ADMIN_TOKEN: &str = "push-turn-admin-token-0001";

/// The front: where it forwards to, whether it stands in for a server without the turn
/// question, how many pushes and questions it is still to refuse `busy`, and what it saw.
struct Front {
    upstream: String,
    http: reqwest::Client,
    offers_turn: AtomicBool,
    refuse_pushes: AtomicUsize,
    refuse_turns: AtomicUsize,
    pushes: AtomicUsize,
    turn_questions: AtomicUsize,
    /// Every push and question in order: `push` or `turn`, the status answered, the body's
    /// length.
    log: Mutex<Vec<(&'static str, u16, usize)>>,
}

impl Front {
    async fn start(upstream: String) -> (Arc<Front>, String) {
        let front = Arc::new(Front {
            upstream,
            http: reqwest::Client::new(),
            offers_turn: AtomicBool::new(true),
            refuse_pushes: AtomicUsize::new(0),
            refuse_turns: AtomicUsize::new(0),
            pushes: AtomicUsize::new(0),
            turn_questions: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(front.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (front, url)
    }

    /// The log since the last call.
    fn seen(&self) -> Vec<(&'static str, u16)> {
        let mut log = self.log.lock().unwrap();
        log.drain(..)
            .map(|(what, status, _)| (what, status))
            .collect()
    }
}

/// Whether to take one of `n` refusals left.
fn take_one(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn busy() -> Response {
    let body = r#"{"code":"busy","message":"pushes are ahead of this one","retry_after_ms":1}"#;
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (header::RETRY_AFTER, "1"),
    ];
    (StatusCode::SERVICE_UNAVAILABLE, headers, body).into_response()
}

async fn forward(State(front): State<Arc<Front>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let what = match path.as_str() {
        "/v1/push/turn" => Some("turn"),
        "/v1/push" => Some("push"),
        _ => None,
    };
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 16 << 20).await.unwrap();
    let answer = match what {
        Some("turn") => {
            front.turn_questions.fetch_add(1, Ordering::SeqCst);
            if !front.offers_turn.load(Ordering::SeqCst) {
                let json = [(header::CONTENT_TYPE, "application/json")];
                let body = r#"{"code":"not_found","message":"no such endpoint"}"#;
                Some((StatusCode::NOT_FOUND, json, body).into_response())
            } else if take_one(&front.refuse_turns) {
                Some(busy())
            } else {
                None
            }
        }
        Some(_) => {
            front.pushes.fetch_add(1, Ordering::SeqCst);
            take_one(&front.refuse_pushes).then(busy)
        }
        None => None,
    };
    let len = body.len();
    let answer = match answer {
        Some(answer) => answer,
        None => relay(&front, parts, body).await,
    };
    if let Some(what) = what {
        front
            .log
            .lock()
            .unwrap()
            .push((what, answer.status().as_u16(), len));
    }
    answer
}

/// Sends the request on to the real server and its answer back.
async fn relay(front: &Front, parts: axum::http::request::Parts, body: Bytes) -> Response {
    let target = format!(
        "{}{}",
        front.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut forwarded = front.http.request(parts.method, target).body(body);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(value) = parts.headers.get(&name) {
            forwarded = forwarded.header(name, value);
        }
    }
    let answer = forwarded.send().await.unwrap();
    let status = answer.status();
    let mut headers = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(value) = answer.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let body = answer.bytes().await.unwrap();
    (status, headers, Body::from(body)).into_response()
}

/// The real server, the front before it, and a phone enrolled through the front.
async fn phone_behind_front(dir: &std::path::Path) -> (RunningServer, Arc<Front>, Device) {
    let server = Server::start_with(
        ServerConfig {
            db_path: dir.join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(seed(ADMIN_TOKEN, &["TURN-E1001-0001".into()])),
        },
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let (front, url) = Front::start(server.url()).await;
    let device = Device::builder(dir.join("phone.db"))
        .key_store(&UnprotectedKeyStore)
        .open()
        .unwrap();
    device
        .enroll(&url, "TURN-E1001-0001", "Chan's phone", "test")
        .await
        .unwrap();
    device.refresh_policy().await.unwrap();
    (server, front, device)
}

/// `n` punches, clock-in and clock-out in turn.
fn punch_many(device: &Device, n: usize) {
    for i in 0..n {
        let kind = if i % 2 == 0 {
            PunchKind::In
        } else {
            PunchKind::Out
        };
        device.punch(store_punch(kind)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_announced_before_its_first_upload_and_a_few_punches_are_sent_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, front, device) = phone_behind_front(dir.path()).await;

    // A few punches: sent at once, without a question.
    punch_many(&device, 2);
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (2, 0), "{report:?}");
    assert_eq!(front.seen(), [("push", 200)]);

    // A backlog of 80 punches in one push: asked first, then uploaded.
    punch_many(&device, 80);
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (80, 0), "{report:?}");
    let log = front.log.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|&(what, _, len)| what == "push" && len >= ASK_TURN_FROM_BYTES),
        "the backlog's push is {ASK_TURN_FROM_BYTES} bytes or more: {log:?}"
    );
    assert_eq!(front.seen(), [("turn", 204), ("push", 200)]);

    // A busy server refuses the question: nothing is uploaded, and the next round asks again
    // (the phone holds a place in the server's line).
    punch_many(&device, 80);
    front.refuse_turns.store(1, Ordering::SeqCst);
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (0, 80), "{report:?}");
    assert_eq!(front.seen(), [("turn", 503)]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (80, 0), "{report:?}");
    assert_eq!(front.seen(), [("turn", 204), ("push", 200)]);

    // A round of several pushes asks once, before the first: once a push is answered, the
    // rest of the round goes at once.
    punch_many(&device, 450);
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (450, 0), "{report:?}");
    let seen = front.seen();
    assert!(
        seen.len() >= 4,
        "450 punches go in several pushes: {seen:?}"
    );
    assert_eq!(seen[0], ("turn", 204), "{seen:?}");
    assert!(seen[1..].iter().all(|&s| s == ("push", 200)), "{seen:?}");

    // A small push refused `busy` puts the phone in line: its next push asks first, however
    // small.
    punch_many(&device, 1);
    front.refuse_pushes.store(1, Ordering::SeqCst);
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!(report.remaining, 1, "{report:?}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (1, 0), "{report:?}");
    assert_eq!(front.seen(), [("push", 503), ("turn", 204), ("push", 200)]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_turn_question_gets_pushes_sent_again_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (server, state, device) = phone_behind_front(dir.path()).await;
    state.offers_turn.store(false, Ordering::SeqCst);
    let counts = || {
        (
            state.pushes.load(Ordering::SeqCst),
            state.turn_questions.load(Ordering::SeqCst),
        )
    };

    // Refused `busy`: the next round asks first, hears 404, and pushes.
    state.refuse_pushes.store(1, Ordering::SeqCst);
    device.punch(store_punch(PunchKind::In)).unwrap();
    let refused = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((refused.accepted, refused.remaining), (0, 1), "{refused:?}");
    assert_eq!(counts(), (1, 0));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let pushed = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((pushed.accepted, pushed.remaining), (1, 0), "{pushed:?}");
    assert_eq!(counts(), (2, 1));

    // Refused again: the push is sent again without asking, the server being known not to
    // offer the question.
    state.refuse_pushes.store(1, Ordering::SeqCst);
    device.punch(store_punch(PunchKind::Out)).unwrap();
    let refused = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!(refused.remaining, 1, "{refused:?}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let pushed = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((pushed.accepted, pushed.remaining), (1, 0), "{pushed:?}");
    assert_eq!(counts(), (4, 1));
    server.shutdown().await.unwrap();
}
