//! Shared setup for the end-to-end tests: a simulated day shared by phones and server, the
//! example company seeded into a real server on loopback, enrolled devices, and the admin API.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use daka_core::evidence::{DeviceClock, Fix};
use daka_device::sync::client::ClientConfig;
use daka_device::{ClockSource, Device, UnprotectedKeyStore};
use daka_server::api::admin::{ChainReport, PunchInfo};
use daka_server::{RunningServer, Seed, Server, ServerConfig, ServerOptions};
use serde_json::{Value, json};

pub const POLICY: &str = include_str!("../../../examples/hk-policy.json");
pub const ADMIN: &str = "e2e-admin-token-not-for-production";
pub const CWB_STORE: (f64, f64) = (114.18305, 22.28005);
pub const CWB_AP: &str = "e0:55:3d:4a:12:c1";
pub const KB_AP: &str = "78:8a:20:5c:e1:03";

/// Employees with enrolment codes in the test seed, and the evidence that places them.
pub const STAFF: [&str; 4] = ["E1001", "E1002", "E0201", "E2001"];

/// One clock for every phone and the server, moved by the test.
pub struct Timeline {
    start: DateTime<Utc>,
    offset_ms: AtomicI64,
}

impl Timeline {
    pub fn new() -> Arc<Timeline> {
        Arc::new(Timeline {
            start: "2026-11-26T00:30:00Z".parse().unwrap(),
            offset_ms: AtomicI64::new(0),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.start + Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl ClockSource for Timeline {
    fn now(&self) -> DeviceClock {
        DeviceClock {
            wall: Timeline::now(self),
            monotonic_ms: 10_000_000 + self.offset_ms.load(Ordering::SeqCst) as u64,
            boot_id: "e2e-boot".into(),
        }
    }
}

/// The example policy with the face check switched `face_required` and the given version.
pub fn policy(face_required: bool, version: u64) -> Value {
    let mut p: Value = serde_json::from_str(POLICY).unwrap();
    p["thresholds"]["face"]["required"] = json!(face_required);
    p["version"] = json!(version);
    p
}

pub fn code(employee: &str, n: usize) -> String {
    format!("E2E-{employee}-{n:03}")
}

/// A seed with `codes_each` enrolment codes for every employee in [`STAFF`].
pub fn seed(policy: Value, codes_each: usize) -> Seed {
    let codes: Vec<Value> = STAFF
        .iter()
        .flat_map(|e| (0..codes_each).map(move |n| json!({"code": code(e, n), "employee_id": e})))
        .collect();
    let seed = json!({"organisations": [{
        "id": "harbour-lane", "name": "Harbour Lane", "admin_token": ADMIN,
        "policy": policy, "enrollment_codes": codes,
    }]});
    Seed::from_json(&seed.to_string(), None).unwrap()
}

pub async fn start_server(dir: &Path, timeline: &Arc<Timeline>, seed: Seed) -> RunningServer {
    start_server_with(dir, timeline, seed, ServerOptions::default()).await
}

/// Starts the server on the shared timeline with other options.
pub async fn start_server_with(
    dir: &Path,
    timeline: &Arc<Timeline>,
    seed: Seed,
    options: ServerOptions,
) -> RunningServer {
    let clock = timeline.clone();
    Server::start_with(
        ServerConfig {
            db_path: dir.join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(seed),
        },
        ServerOptions {
            clock: Some(Arc::new(move || clock.now())),
            ..options
        },
    )
    .await
    .unwrap()
}

pub fn open_device(dir: &Path, name: &str, timeline: &Arc<Timeline>, timeout_ms: u64) -> Device {
    Device::builder(dir.join(format!("{name}.db")))
        .clock(timeline.clone())
        .key_store(&UnprotectedKeyStore)
        .client(ClientConfig {
            request_timeout: std::time::Duration::from_millis(timeout_ms),
            connect_timeout: std::time::Duration::from_millis(timeout_ms),
        })
        .open()
        .unwrap()
}

/// Where an employee's punch evidence places them: a fix in the Causeway Bay store with a
/// little jitter (so no two fixes repeat exactly), or the Kowloon Bay warehouse's Wi-Fi.
pub fn evidence(employee: &str, timeline: &Timeline, jitter: f64) -> (Option<Fix>, Vec<String>) {
    match employee {
        "E1001" | "E1002" => {
            let clock = ClockSource::now(timeline);
            let fix = Fix {
                lat: CWB_STORE.1 + jitter * 1e-6,
                lon: CWB_STORE.0 + jitter * 1e-6,
                accuracy_m: 5.0 + jitter.abs(),
                time: clock.wall,
                monotonic_ms: Some(clock.monotonic_ms),
                mock: false,
                provider: Some("gps".into()),
            };
            (Some(fix), vec![])
        }
        _ => (None, vec![KB_AP.into()]),
    }
}

pub async fn admin_get<T: serde::de::DeserializeOwned>(base: &str, path: &str) -> T {
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

pub async fn admin_put(base: &str, path: &str, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .put(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Every punch the server stored, in the order received, following pagination.
pub async fn server_punches(base: &str) -> Vec<PunchInfo> {
    daka_e2e::harness::all_punches(|path| async move { admin_get(base, &path).await }).await
}

pub async fn chains_ok(base: &str) -> ChainReport {
    admin_get(base, "/admin/v1/chains/verify").await
}
