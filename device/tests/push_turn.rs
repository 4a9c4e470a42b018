//! A server of an earlier release, which does not offer `POST /v1/push/turn`: a phone refused
//! `busy` asks once, hears 404, and from then on sends its pushes again as before. A small HTTP
//! front on loopback stands in for that release in front of the real server: it answers the
//! question 404 `not_found` (what the server's router answers for a route it does not have),
//! answers the pushes it is told to `503 busy` with a wait, as a busy server does, and
//! forwards everything else.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::{seed, store_punch};
use daka_core::punch::PunchKind;
use daka_device::{Device, UnprotectedKeyStore};
use daka_server::{Server, ServerConfig, ServerOptions};

const ADMIN_TOKEN: &str = "push-turn-admin-token-0001";

/// The front: where it forwards to, how many pushes it is still to refuse `busy`, and what it
/// saw.
struct Front {
    upstream: String,
    http: reqwest::Client,
    refuse_pushes: AtomicUsize,
    pushes: AtomicUsize,
    turn_questions: AtomicUsize,
}

async fn front(State(front): State<Arc<Front>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let json = [(header::CONTENT_TYPE, "application/json")];
    if path == "/v1/push/turn" {
        front.turn_questions.fetch_add(1, Ordering::SeqCst);
        let body = r#"{"code":"not_found","message":"no such endpoint"}"#;
        return (StatusCode::NOT_FOUND, json, body).into_response();
    }
    if path == "/v1/push" {
        front.pushes.fetch_add(1, Ordering::SeqCst);
        let refusing = front
            .refuse_pushes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refusing {
            let body =
                r#"{"code":"busy","message":"pushes are ahead of this one","retry_after_ms":1}"#;
            let headers = [
                (header::CONTENT_TYPE, "application/json"),
                (header::RETRY_AFTER, "1"),
            ];
            return (StatusCode::SERVICE_UNAVAILABLE, headers, body).into_response();
        }
    }
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 16 << 20).await.unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_turn_question_gets_pushes_sent_again_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        ServerConfig {
            db_path: dir.path().join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(seed(ADMIN_TOKEN, &["TURN-E1001-0001".into()])),
        },
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let state = Arc::new(Front {
        upstream: server.url(),
        http: reqwest::Client::new(),
        refuse_pushes: AtomicUsize::new(0),
        pushes: AtomicUsize::new(0),
        turn_questions: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(front)
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let device = Device::builder(dir.path().join("phone.db"))
        .key_store(&UnprotectedKeyStore)
        .open()
        .unwrap();
    device
        .enroll(&url, "TURN-E1001-0001", "Chan's phone", "test")
        .await
        .unwrap();
    device.refresh_policy().await.unwrap();
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
