//! A revoked device against the real server on loopback: `sync_now` answers
//! `DeviceError::DeviceRevoked`, the queued punches stay in the outbox (visible in its
//! stats), later rounds send nothing (no retry storm), the background loop stops, and what
//! the device sent before revocation stays valid on the server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daka_core::punch::PunchKind;
use daka_device::{Device, DeviceError, UnprotectedKeyStore};
use daka_server::{RequestLog, Seed, Server, ServerConfig, ServerOptions};
use serde_json::{Value, json};

mod common;

use common::store_punch;

const ADMIN_TOKEN: &str = "revocation-test-admin-token-0001";

fn seed() -> Seed {
    common::seed(ADMIN_TOKEN, &["REVOKE-E1001-0001".to_string()])
}

async fn admin(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_stops_with_a_typed_error_and_keeps_its_queue() {
    // Every request the server sees from the device, by path.
    let device_requests: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
    let log = device_requests.clone();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        ServerConfig {
            db_path: dir.path().join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(seed()),
        },
        ServerOptions {
            request_log: Some(Arc::new(move |r: &RequestLog| {
                if r.path.starts_with("/v1/") {
                    log.lock().unwrap().push((r.path.clone(), r.status));
                }
            })),
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    let base = server.url();
    let http = reqwest::Client::new();

    let device = Arc::new(
        Device::builder(dir.path().join("phone.db"))
            .key_store(&UnprotectedKeyStore)
            .open()
            .unwrap(),
    );
    let identity = device
        .enroll(&base, "REVOKE-E1001-0001", "Chan's phone", "test")
        .await
        .unwrap();
    device.refresh_policy().await.unwrap();

    // Before: a punch goes through.
    let first = device.punch(store_punch(PunchKind::In)).unwrap();
    let first_id = first.record.expect("recorded").body.id.to_string();
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!(report.accepted, 1, "{report:?}");

    // HR revokes the device.
    admin(
        &http,
        &base,
        reqwest::Method::POST,
        &format!("/admin/v1/devices/{}/revoke", identity.device_id),
        Some(json!({"reason": "phone lost"})),
    )
    .await;

    // Two punches made afterwards are queued on the phone.
    device.punch(store_punch(PunchKind::Out)).unwrap();
    device.punch(store_punch(PunchKind::In)).unwrap();
    let sent_before = device_requests.lock().unwrap().len();

    let err = device.sync_now(&|_| {}).await.unwrap_err();
    match &err {
        DeviceError::DeviceRevoked { message } => {
            assert!(message.contains("enrol again"), "{message}")
        }
        other => panic!("expected DeviceRevoked, got {other:?}"),
    }
    let refused: Vec<_> = device_requests.lock().unwrap()[sent_before..].to_vec();
    assert!(!refused.is_empty());
    assert!(
        refused.iter().all(|(_, status)| *status == 403),
        "{refused:?}"
    );

    // The queued punches stay, visible in the stats; nothing was dropped or parked.
    let stats = device.outbox_stats().unwrap();
    assert_eq!(stats.pending + stats.in_flight, 2, "{stats:?}");
    assert_eq!(stats.needs_attention, 0, "{stats:?}");

    // No retry storm: later rounds and calls answer at once without a request.
    let seen = device_requests.lock().unwrap().len();
    for _ in 0..5 {
        assert!(matches!(
            device.sync_now(&|_| {}).await,
            Err(DeviceError::DeviceRevoked { .. })
        ));
    }
    assert!(matches!(
        device.refresh_policy().await,
        Err(DeviceError::DeviceRevoked { .. })
    ));
    // The background loop reports it once and stops by itself.
    let rounds = Arc::new(AtomicU64::new(0));
    let revoked_rounds = Arc::new(AtomicU64::new(0));
    let (r, rr) = (rounds.clone(), revoked_rounds.clone());
    let sync = device
        .start_background_sync(Duration::from_secs(1), move |result| {
            r.fetch_add(1, Ordering::SeqCst);
            if let Err(DeviceError::DeviceRevoked { .. }) = result {
                rr.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    sync.sync_soon();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sync.stop().await, 1, "one round, then the loop stopped");
    assert_eq!(rounds.load(Ordering::SeqCst), 1);
    assert_eq!(revoked_rounds.load(Ordering::SeqCst), 1);
    assert_eq!(
        device_requests.lock().unwrap().len(),
        seen,
        "nothing more was sent"
    );
    let stats = device.outbox_stats().unwrap();
    assert_eq!(stats.pending + stats.in_flight, 2, "{stats:?}");

    // The same store opened again (the app restarted) learns it again with one refused
    // request, and still keeps the queue.
    drop(device);
    let device = Device::builder(dir.path().join("phone.db"))
        .key_store(&UnprotectedKeyStore)
        .open()
        .unwrap();
    assert!(matches!(
        device.sync_now(&|_| {}).await,
        Err(DeviceError::DeviceRevoked { .. })
    ));
    let after_restart = device_requests.lock().unwrap()[seen..].to_vec();
    assert!(
        !after_restart.is_empty() && after_restart.len() <= 3,
        "{after_restart:?}"
    );
    assert!(after_restart.iter().all(|(_, s)| *s == 403));
    let stats = device.outbox_stats().unwrap();
    assert_eq!(stats.pending + stats.in_flight, 2, "{stats:?}");

    // On the server: the punch from before is still there and the chain verifies.
    let punches = admin(
        &http,
        &base,
        reqwest::Method::GET,
        "/admin/v1/punches",
        None,
    )
    .await;
    let ids: Vec<&str> = punches["punches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["punch_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first_id.as_str()]);
    let report = admin(
        &http,
        &base,
        reqwest::Method::GET,
        "/admin/v1/chains/verify",
        None,
    )
    .await;
    assert_eq!(report["ok"], true, "{report}");
}
