//! Answers lost on the way back: a fault proxy on loopback forwards the phone's request to the
//! real server, lets the server answer, and then drops the connection instead of passing the
//! answer on (a mobile network resetting after the upload). The server has committed; the phone
//! saw an error. Retrying must finish the job, not strand the phone: an enrolment is answered
//! again with the same device, a push with `duplicate` for what was stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use daka_core::punch::PunchKind;
use daka_device::{Device, PunchInput, UnprotectedKeyStore};
use daka_server::{Seed, Server, ServerConfig, ServerOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ADMIN_TOKEN: &str = "lost-answers-admin-token-0001";
/// One of the Causeway Bay store's Wi-Fi access points (E1001's site in the example policy).
const STORE_AP: &str = "E0:55:3D:4A:12:C1";

fn seed() -> Seed {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut policy: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("hk-policy.json")).unwrap())
            .unwrap();
    policy["thresholds"]["face"]["required"] = json!(false);
    let seed = json!({
        "organisations": [{
            "id": "harbour-lane",
            "name": "Harbour Lane",
            "admin_token": ADMIN_TOKEN,
            "policy": policy,
            "enrollment_codes": [{"code": "LOST-E1001-0001", "employee_id": "E1001"}],
        }]
    });
    Seed::from_json(&seed.to_string(), None).unwrap()
}

/// A TCP proxy to `upstream`. While `drop_answers` is above zero, each connection's request is
/// forwarded, the server's answer is read and thrown away, and the phone's connection is closed
/// (the counter goes down by one); otherwise bytes pass both ways.
async fn fault_proxy(upstream: String, drop_answers: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut phone, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            let drop_answers = drop_answers.clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let dropping = drop_answers
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if !dropping {
                    let _ = tokio::io::copy_bidirectional(&mut phone, &mut server).await;
                    return;
                }
                let (mut phone_read, mut phone_write) = phone.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut phone_read, &mut server_write).await;
                });
                // The server's answer starts arriving: it has committed. Read a little more,
                // then hang up on the phone without passing any of it on.
                let mut buf = vec![0u8; 64 * 1024];
                if let Ok(n) = server_read.read(&mut buf).await {
                    assert!(n > 0, "the server answered nothing");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = phone_write.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

async fn devices(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let body: Value = http
        .get(format!("{base}/admin/v1/devices"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["devices"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_whose_answer_was_lost_finishes_on_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        ServerConfig {
            db_path: dir.path().join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(seed()),
        },
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let base = server.url();
    let upstream = base.trim_start_matches("http://").to_string();
    let drop_answers = Arc::new(AtomicUsize::new(1));
    let proxy = fault_proxy(upstream, drop_answers.clone()).await;
    let http = reqwest::Client::new();

    let device = Device::builder(dir.path().join("phone.db"))
        .key_store(&UnprotectedKeyStore)
        .open()
        .unwrap();
    // The server enrols the phone and uses the code; the phone never hears it.
    let lost = device
        .enroll(&proxy, "LOST-E1001-0001", "Chan's phone", "test")
        .await;
    assert!(lost.is_err(), "{lost:?}");
    assert_eq!(drop_answers.load(Ordering::SeqCst), 0, "one answer dropped");
    assert!(device.identity().is_none());
    let on_server = devices(&http, &base).await;
    assert_eq!(on_server.len(), 1, "the server committed: {on_server:?}");

    // The phone tries again with the same code: it is enrolled as that same device.
    let identity = device
        .enroll(&proxy, "LOST-E1001-0001", "Chan's phone", "test")
        .await
        .unwrap();
    assert_eq!(
        identity.device_id,
        on_server[0]["device_id"].as_str().unwrap()
    );
    assert_eq!(identity.employee_id, "E1001");
    assert_eq!(devices(&http, &base).await.len(), 1, "still one device");

    // And it works: a punch at the store syncs through the same proxy.
    device.refresh_policy().await.unwrap();
    device
        .punch(PunchInput {
            kind: PunchKind::In,
            fix: None,
            more_fixes: Vec::new(),
            wifi_bssids: vec![STORE_AP.into()],
            face: None,
        })
        .unwrap();
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (1, 0), "{report:?}");

    // A push whose answer is lost: the server stored the punch, the phone did not hear it.
    device
        .punch(PunchInput {
            kind: PunchKind::Out,
            fix: None,
            more_fixes: Vec::new(),
            wifi_bssids: vec![STORE_AP.into()],
            face: None,
        })
        .unwrap();
    drop_answers.store(1, Ordering::SeqCst);
    let lost = device.sync_now(&|_| {}).await;
    assert_eq!(
        drop_answers.load(Ordering::SeqCst),
        0,
        "the push's answer was dropped"
    );
    let queued = match lost {
        Ok(report) => report.remaining,
        Err(_) => device.outbox_stats().unwrap().pending,
    };
    assert_eq!(queued, 1, "the phone still holds the punch");
    // The item waits out a backoff; the network is back, so the app asks to retry now. The
    // retry is answered `duplicate`, which the phone takes as done: stored once.
    assert_eq!(device.retry_now().unwrap(), 1);
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.duplicates, report.remaining), (1, 0), "{report:?}");
    let punches: Value = http
        .get(format!("{base}/admin/v1/punches"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = punches["punches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["in", "out"], "each punch once: {punches}");
    server.shutdown().await.unwrap();
}
