//! Shared setup of the end-to-end tests and benchmarks: the reference server on loopback with a
//! temporary database and one organisation (the example company, with or without the face
//! check), a device enrolled into it through the SDK's own [`Device`], plausible punches at the
//! Causeway Bay store, and a small admin client that reads every page of the server's punches
//! and its chain verification.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Duration;
use daka_core::evidence::{DeviceClock, Fix};
use daka_core::punch::PunchKind;
use daka_device::{ClockSource, Device, PunchInput, UnprotectedKeyStore};
use daka_server::api::admin::{ChainReport, DeviceList, PunchInfo, PunchList};
use daka_server::{RunningServer, Seed, Server, ServerConfig, ServerOptions};
use serde_json::{Value, json};

/// The example organisation's id (`examples/hk-policy.json`).
pub const ORG: &str = "harbour-lane";
/// The admin API token of the seeded organisation.
pub const ADMIN_TOKEN: &str = "e2e-admin-token-of-harbour-lane-0001";
/// The employee every test device is enrolled for: Chan Tai Man, Causeway Bay Store.
pub const EMPLOYEE: &str = "E1001";
/// Inside the Causeway Bay store polygon, about 14 m from every wall: `[lon, lat]`.
pub const STORE: (f64, f64) = (114.18305, 22.28005);
/// One of the store's Wi-Fi access points, which proves presence on its own.
pub const STORE_AP: &str = "E0:55:3D:4A:12:C1";

/// The workspace's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The example policy, with the face check required or not.
pub fn example_policy(face_required: bool) -> Value {
    let text = std::fs::read_to_string(examples_dir().join("hk-policy.json"))
        .expect("examples/hk-policy.json is readable");
    let mut policy: Value = serde_json::from_str(&text).expect("the example policy is JSON");
    policy["thresholds"]["face"]["required"] = json!(face_required);
    policy
}

/// The enrolment code `n` of the seeded organisation (all for [`EMPLOYEE`]).
pub fn enrollment_code(n: usize) -> String {
    format!("E2E-{EMPLOYEE}-{n:04}")
}

/// A seed with the example organisation on `policy` and `codes` enrolment codes
/// ([`enrollment_code`] 1 to `codes`).
pub fn seed(policy: Value, codes: usize) -> Seed {
    let seed = json!({
        "organisations": [{
            "id": ORG,
            "name": "Harbour Lane",
            "admin_token": ADMIN_TOKEN,
            "policy": policy,
            "enrollment_codes": (1..=codes)
                .map(|n| json!({"code": enrollment_code(n), "employee_id": EMPLOYEE}))
                .collect::<Vec<_>>(),
        }]
    });
    Seed::from_json(&seed.to_string(), None).expect("the test seed is valid")
}

/// The reference server on a free loopback port.
pub struct TestServer {
    pub server: RunningServer,
    pub db_path: PathBuf,
    /// The temporary directory holding the database, when the server owns it.
    _dir: Option<tempfile::TempDir>,
    http: reqwest::Client,
}

impl TestServer {
    /// A server on a fresh temporary database, seeded with the example organisation without
    /// the face check.
    pub async fn start(options: ServerOptions) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db_path = dir.path().join("server.db");
        let mut server =
            TestServer::start_at(&db_path, Some(seed(example_policy(false), 4)), options).await;
        server._dir = Some(dir);
        server
    }

    /// A server on the database at `db_path` (kept by the caller), seeded with `seed`.
    pub async fn start_at(
        db_path: &Path,
        seed: Option<Seed>,
        options: ServerOptions,
    ) -> TestServer {
        let server = Server::start_with(
            ServerConfig {
                db_path: db_path.to_path_buf(),
                listen: "127.0.0.1:0".parse().expect("a loopback address"),
                seed,
            },
            options,
        )
        .await
        .expect("the server starts");
        TestServer {
            server,
            db_path: db_path.to_path_buf(),
            _dir: None,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `GET` of the admin API with the organisation's admin token, read as `T`; panics on an
    /// error status.
    pub async fn admin_get<T: serde::de::DeserializeOwned>(&self, path_and_query: &str) -> T {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.url()))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the admin API answers");
        let status = response.status();
        let body = response.text().await.expect("an admin API body");
        assert!(status.is_success(), "GET {path_and_query}: {status} {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path_and_query}: {e} in {body}"))
    }

    /// Every punch the server stored for the organisation, in the order received (all pages).
    pub async fn punches(&self) -> Vec<PunchInfo> {
        all_punches(|query| async move { self.admin_get::<PunchList>(&query).await }).await
    }

    /// The seq of the newest punch the server applied from `device_id` (0 for none).
    pub async fn head_seq(&self, device_id: &str) -> u64 {
        let list: DeviceList = self.admin_get("/admin/v1/devices").await;
        list.devices
            .iter()
            .find(|d| d.device_id == device_id)
            .map_or(0, |d| d.head_seq)
    }

    /// The server's verification of every device chain.
    pub async fn verify_chains(&self) -> ChainReport {
        self.admin_get("/admin/v1/chains/verify").await
    }
}

/// Every punch of an organisation, in the order received: the pages of
/// `GET /admin/v1/punches` (5,000 a page), each read by `get` from a path and query.
pub async fn all_punches<F, Fut>(get: F) -> Vec<PunchInfo>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = PunchList>,
{
    let mut all = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let query = match after {
            Some(a) => format!("/admin/v1/punches?limit=5000&after={a}"),
            None => "/admin/v1/punches?limit=5000".to_string(),
        };
        let page = get(query).await;
        all.extend(page.punches);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

/// Opens (creating) a device store at `path` with `clock`, enrols it with `code` and fetches
/// the policy. The device is ready to punch.
pub async fn enrolled_device(
    path: &Path,
    clock: Arc<dyn ClockSource>,
    server_url: &str,
    code: &str,
) -> Device {
    let device = Device::builder(path)
        .clock(clock)
        .key_store(&UnprotectedKeyStore)
        .open()
        .expect("the device store opens");
    device
        .enroll(server_url, code, "crash-test phone", "test")
        .await
        .expect("the device enrols");
    device
        .refresh_policy()
        .await
        .expect("the policy is fetched");
    device
}

/// A punch at the Causeway Bay store as the phone would report it at `clock`: either a GPS fix
/// inside the store (±5 m, jittered by up to about 2 m so that no two fixes are identical) taken
/// a moment ago, or the store's Wi-Fi access point in range.
pub fn store_punch(rng: &mut fastrand::Rng, clock: &DeviceClock, kind: PunchKind) -> PunchInput {
    if rng.u8(..4) == 0 {
        return PunchInput {
            kind,
            fix: None,
            more_fixes: Vec::new(),
            wifi_bssids: vec![STORE_AP.into()],
            face: None,
        };
    }
    // 1e-5 degrees is about 1 m here.
    let jitter = |rng: &mut fastrand::Rng| (rng.f64() - 0.5) * 4e-5;
    let age_ms = 500 + rng.u64(..1_500);
    PunchInput {
        kind,
        fix: Some(Fix {
            lon: STORE.0 + jitter(rng),
            lat: STORE.1 + jitter(rng),
            accuracy_m: 4.0 + rng.f64() * 2.0,
            time: clock.wall - Duration::milliseconds(age_ms as i64),
            monotonic_ms: Some(clock.monotonic_ms.saturating_sub(age_ms)),
            mock: false,
            provider: Some("fused".into()),
        }),
        more_fixes: Vec::new(),
        wifi_bssids: vec![],
        face: None,
    }
}

/// `In` and `Out` in turn, by the parity of `n`.
pub fn in_or_out(n: u64) -> PunchKind {
    if n % 2 == 0 {
        PunchKind::In
    } else {
        PunchKind::Out
    }
}
