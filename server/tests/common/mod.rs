//! Shared helpers of the server tests: a server on loopback with a temporary database and two
//! organisations, test devices that enrol, sign and chain real punch records, face tokens
//! signed with the demonstration matcher key, a small admin client, attachment uploads, and
//! a reader of raw HTTP/1.1 responses.
//! The console tests' pages, requests and sign-ins are in [`console`].
#![allow(dead_code)]

pub(crate) mod console;

use std::path::PathBuf;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use daka_core::approvals::{Action, Decision, Form, RouteStep, Signed, Submission, compute_route};
use daka_core::attempt::Attempt;
use daka_core::evidence::face_token::NonceLedger;
use daka_core::evidence::{DeviceClock, FaceEvidence, Fix};
use daka_core::protocol::{EnrollRequest, ItemResult, ItemStatus, PushItem, PushRequest};
use daka_core::punch::{
    DeviceSigner, PunchChain, PunchDraft, PunchEvidence, PunchKind, PunchRecord,
};
use daka_core::{Engine, Policy};
use daka_device::sync::client::{ClientConfig, SyncClient};
use daka_server::{
    RunningServer, Seed, SeedCode, SeedOrg, SeedPolicy, Server, ServerConfig, ServerOptions,
};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) const ORG_A: &str = "harbour-lane";
pub(crate) const ORG_B: &str = "kowloon-bakery";
pub(crate) const ADMIN_A: &str = "admin-token-of-harbour-lane-0001";
pub(crate) const ADMIN_B: &str = "admin-token-of-kowloon-bakery-01";
/// A Wi-Fi access point of the Causeway Bay store, where E1001 and E1002 work.
pub(crate) const CWB_BSSID: &str = "e0:55:3d:4a:12:c1";
/// The demonstration face-matcher key (examples/keys), trusted by the example policy.
pub(crate) const FACE_KID: &str = "hl-face-device-2026-01";
pub(crate) const FACE_ISS: &str = "https://face.harbour-lane.example/device";
pub(crate) const FACE_SEED_B64: &str = "9UZFXRO72_kHBTUkAvurJGH6jRZ07r98AJb0pZFtLUw";

pub(crate) fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

pub(crate) fn hk_policy_text() -> String {
    std::fs::read_to_string(examples_dir().join("hk-policy.json")).unwrap()
}

/// The example policy with another version (and optionally another organisation).
pub(crate) fn policy_variant(version: u64, org: &str) -> Value {
    let mut p: Value = serde_json::from_str(&hk_policy_text()).unwrap();
    p["version"] = json!(version);
    p["org"]["id"] = json!(org);
    p
}

/// Two organisations: A from the example policy file, B with an inline copy of it.
pub(crate) fn two_org_seed() -> Seed {
    let inline_b = match policy_variant(7, ORG_B) {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    Seed {
        organisations: vec![
            SeedOrg {
                id: ORG_A.into(),
                name: "Harbour Lane".into(),
                admin_token: ADMIN_A.into(),
                policy: SeedPolicy::Path(examples_dir().join("hk-policy.json")),
                enrollment_codes: (1..=9)
                    .flat_map(|i| {
                        ["E1001", "E1002", "E0101", "E0201", "E0001"].map(|e| SeedCode {
                            code: format!("A-{e}-{i:04}"),
                            employee_id: e.into(),
                        })
                    })
                    .collect(),
                console_accounts: Vec::new(),
            },
            SeedOrg {
                id: ORG_B.into(),
                name: "Kowloon Bakery".into(),
                admin_token: ADMIN_B.into(),
                policy: SeedPolicy::Inline(inline_b),
                enrollment_codes: (1..=9)
                    .map(|i| SeedCode {
                        code: format!("B-E1001-{i:04}"),
                        employee_id: "E1001".into(),
                    })
                    .collect(),
                console_accounts: Vec::new(),
            },
        ],
        base_dir: None,
    }
}

/// The environment variable that runs the server tests on PostgreSQL: an admin URL of a
/// cluster (`scripts/pg.sh start` prints one). Unset, they run on SQLite files.
pub(crate) const POSTGRES_ENV: &str = "DAKA_TEST_POSTGRES";

/// The admin URL the tests run on PostgreSQL with, if any.
pub(crate) fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty())
}

/// Whether this run is on PostgreSQL. A test about the SQLite file itself (its bytes, a
/// backup copy, the write-ahead log) calls it first and returns at once when it is, saying why.
pub(crate) fn skip_on_postgres(why: &str) -> bool {
    let on = postgres_admin_url().is_some();
    if on {
        eprintln!("SQLite only: {why}");
    }
    on
}

/// A fresh PostgreSQL database of one test, created from the admin URL and dropped (its
/// connections ended) when this is dropped.
pub(crate) struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

/// The environment variable that runs the tests of TLS to PostgreSQL: the URL of the
/// cluster's TLS-only user, with `sslmode=verify-full` and `sslrootcert` (`scripts/pg.sh
/// url-tls` prints it). Unset, they are skipped.
pub(crate) const POSTGRES_TLS_ENV: &str = "DAKA_TEST_POSTGRES_TLS";

/// The TLS URL the TLS tests run with, if any.
pub(crate) fn postgres_tls_url() -> Option<String> {
    std::env::var(POSTGRES_TLS_ENV)
        .ok()
        .filter(|u| !u.is_empty())
}

/// A connection to a PostgreSQL database of the tests; call it off the async threads
/// ([`off_async`]).
fn pg_client(url: &str) -> r2d2_postgres::postgres::Client {
    try_pg_client(url).expect("connect to the test cluster")
}

/// [`pg_client`], failing softly. A URL that turns TLS off connects as it always did; one
/// that asks for TLS connects through the server's own connector (with its `sslrootcert`).
fn try_pg_client(url: &str) -> Result<r2d2_postgres::postgres::Client, String> {
    if url.contains("sslmode=disable") {
        r2d2_postgres::postgres::Client::connect(url, r2d2_postgres::postgres::NoTls)
            .map_err(|e| e.to_string())
    } else {
        daka_server::storage::postgres::connect(url).map_err(|e| e.to_string())
    }
}

/// Runs `f` on a plain thread: the blocking PostgreSQL client must not run on an async one.
fn off_async<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

impl PgDatabase {
    pub(crate) fn create(admin_url: &str) -> PgDatabase {
        let name = format!("t_{}", Uuid::now_v7().simple());
        let url = database_url(admin_url, &name);
        let (admin, db) = (admin_url.to_owned(), name.clone());
        off_async(move || {
            pg_client(&admin)
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .expect("create the test database");
        });
        PgDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }

    /// The database's URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, db) = (self.admin_url.clone(), self.name.clone());
        off_async(move || {
            if let Ok(mut c) = try_pg_client(&admin) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
            }
        });
    }
}

/// `admin_url` with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("DAKA_TEST_POSTGRES is a postgres:// URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Where a test server keeps its data: `server.db` in a temporary directory, or on a
/// PostgreSQL run a fresh database of its own.
pub(crate) struct TestDb {
    file: PathBuf,
    pg: Option<PgDatabase>,
}

impl TestDb {
    /// The database of a test whose files go in `dir`.
    pub(crate) fn new(dir: &std::path::Path) -> TestDb {
        TestDb {
            file: dir.join("server.db"),
            pg: postgres_admin_url().map(|admin| PgDatabase::create(&admin)),
        }
    }

    /// Whether it is a PostgreSQL database.
    pub(crate) fn on_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// A SQLite file `server.db` in `dir`, whatever the run.
    pub(crate) fn sqlite(dir: &std::path::Path) -> TestDb {
        TestDb {
            file: dir.join("server.db"),
            pg: None,
        }
    }

    /// The PostgreSQL database `pg`, whatever the run.
    pub(crate) fn postgres(dir: &std::path::Path, pg: PgDatabase) -> TestDb {
        TestDb {
            file: dir.join("server.db"),
            pg: Some(pg),
        }
    }

    /// What [`ServerConfig::db_path`] takes: the SQLite file's path, or the database URL.
    pub(crate) fn location(&self) -> PathBuf {
        match &self.pg {
            Some(pg) => PathBuf::from(pg.url()),
            None => self.file.clone(),
        }
    }
}

/// A storage on a fresh database of a test whose files go in `dir` (PostgreSQL on a
/// PostgreSQL run); keep the [`TestDb`] while the storage is used. Blocking, as
/// [`open_storage`].
pub(crate) fn fresh_storage(
    dir: &std::path::Path,
) -> (TestDb, std::sync::Arc<dyn daka_server::Storage>) {
    let db = TestDb::new(dir);
    let storage = open_storage(db.location());
    (db, storage)
}

/// A storage opened on a test database ([`TestDb::location`]), as another process would open
/// it. Blocking: call it from `spawn_blocking` in an async test, and drop it there too.
pub(crate) fn open_storage(location: PathBuf) -> std::sync::Arc<dyn daka_server::Storage> {
    match location.to_str() {
        Some(url) if url.starts_with("postgres") => std::sync::Arc::new(
            daka_server::PostgresStorage::open(url, &Default::default()).unwrap(),
        ),
        _ => std::sync::Arc::new(daka_server::SqliteStorage::open(location).unwrap()),
    }
}

/// A running server on a temporary database.
pub(crate) struct TestServer {
    pub(crate) server: RunningServer,
    pub(crate) db: TestDb,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) http: reqwest::Client,
}

impl TestServer {
    pub(crate) async fn start() -> TestServer {
        TestServer::start_with(ServerOptions::default()).await
    }

    pub(crate) async fn start_with(options: ServerOptions) -> TestServer {
        TestServer::start_on(two_org_seed(), options, reqwest::Client::new()).await
    }

    /// A server on `seed` with `options`, whose tests send their requests with `http`.
    pub(crate) async fn start_on(
        seed: Seed,
        options: ServerOptions,
        http: reqwest::Client,
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(dir.path());
        TestServer::start_in(dir, db, seed, options, http).await
    }

    /// A server on `db` (whose files go in `dir`), seeded with `seed`.
    pub(crate) async fn start_in(
        dir: tempfile::TempDir,
        db: TestDb,
        seed: Seed,
        options: ServerOptions,
        http: reqwest::Client,
    ) -> TestServer {
        let server = Server::start_with(
            ServerConfig {
                db_path: db.location(),
                listen: "127.0.0.1:0".parse().unwrap(),
                seed: Some(seed),
            },
            options,
        )
        .await
        .unwrap();
        TestServer {
            server,
            db,
            dir,
            http,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// Takes the database's write lock from another connection, as another process would,
    /// and holds it until [`HeldLock::release`]: SQLite's file lock (`BEGIN IMMEDIATE`), or
    /// on PostgreSQL the item ledger in `EXCLUSIVE` mode, which every push applying an item
    /// waits for (reads, such as a bearer token's check, go on).
    pub(crate) fn hold_write_lock(&self) -> HeldLock {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let target = match &self.db.pg {
            Some(pg) => Ok(pg.url().to_owned()),
            None => Err(self.db.location()),
        };
        let thread = std::thread::spawn(move || match target {
            Ok(url) => {
                let mut client = pg_client(&url);
                let mut tx = client.transaction().unwrap();
                tx.batch_execute("LOCK TABLE item IN EXCLUSIVE MODE")
                    .unwrap();
                ready_tx.send(()).unwrap();
                let _ = release_rx.recv();
                tx.rollback().unwrap();
            }
            Err(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                ready_tx.send(()).unwrap();
                let _ = release_rx.recv();
                conn.execute_batch("ROLLBACK").unwrap();
            }
        });
        ready_rx.recv().expect("the lock is taken");
        HeldLock {
            release: release_tx,
            thread,
        }
    }

    /// Whether this server runs on PostgreSQL.
    pub(crate) fn on_postgres(&self) -> bool {
        self.db.pg.is_some()
    }

    /// Runs one statement on the server's database behind its back, as someone with access
    /// to the database would; the number of rows changed. `sql` numbers its text parameters
    /// `$1`, `$2`, … in order of first use, which both SQLite and PostgreSQL read.
    pub(crate) fn raw_execute(&self, sql: &str, params: &[&str]) -> u64 {
        let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        let sql = sql.to_owned();
        match &self.db.pg {
            Some(pg) => {
                let url = pg.url().to_owned();
                off_async(move || {
                    let refs: Vec<&(dyn r2d2_postgres::postgres::types::ToSql + Sync)> = params
                        .iter()
                        .map(|p| p as &(dyn r2d2_postgres::postgres::types::ToSql + Sync))
                        .collect();
                    pg_client(&url).execute(sql.as_str(), &refs).unwrap()
                })
            }
            None => {
                let conn = rusqlite::Connection::open(self.db.location()).unwrap();
                conn.execute(&sql, rusqlite::params_from_iter(params.iter()))
                    .unwrap() as u64
            }
        }
    }

    /// Runs statements without parameters on the server's database behind its back.
    pub(crate) fn raw_batch(&self, sql: &str) {
        let sql = sql.to_owned();
        match &self.db.pg {
            Some(pg) => {
                let url = pg.url().to_owned();
                off_async(move || pg_client(&url).batch_execute(&sql).unwrap())
            }
            None => rusqlite::Connection::open(self.db.location())
                .unwrap()
                .execute_batch(&sql)
                .unwrap(),
        }
    }

    /// Every row of a query on the server's database, each column as text (`sql` casts any
    /// other column: `CAST(size AS TEXT)`).
    pub(crate) fn raw_rows(&self, sql: &str) -> Vec<Vec<String>> {
        let sql = sql.to_owned();
        match &self.db.pg {
            Some(pg) => {
                let url = pg.url().to_owned();
                off_async(move || {
                    pg_client(&url)
                        .query(sql.as_str(), &[])
                        .unwrap()
                        .iter()
                        .map(|r| (0..r.len()).map(|i| r.get::<_, String>(i)).collect())
                        .collect()
                })
            }
            None => {
                let conn = rusqlite::Connection::open(self.db.location()).unwrap();
                let mut stmt = conn.prepare(&sql).unwrap();
                let n = stmt.column_count();
                stmt.query_map([], |r| (0..n).map(|i| r.get::<_, String>(i)).collect())
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap()
            }
        }
    }

    /// `GET /v1/requests/{request_id}` as `dev` sees it: the JSON answered.
    pub(crate) async fn request_view(&self, dev: &TestDevice, request_id: &str) -> Value {
        self.http
            .get(self.url(&format!("/v1/requests/{request_id}")))
            .bearer_auth(&dev.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Publishes the example policy as version 43, where either director (E0001 or E0201)
    /// decides an expense alone; the document published.
    pub(crate) async fn publish_two_director_policy(&self) -> Value {
        let mut doc: Value = serde_json::from_str(&hk_policy_text()).unwrap();
        doc["version"] = json!(43);
        doc["approvals"]["templates"][0]["route"] = json!([
            { "name": "Either director", "approvers": { "employees": ["E0001", "E0201"] }, "mode": "any" }
        ]);
        let (status, body) = self.put_policy(&doc).await;
        assert_eq!(status, 200, "{body}");
        doc
    }

    /// Publishes `doc` as organisation A's policy with the admin API: the status and body.
    pub(crate) async fn put_policy(&self, doc: &Value) -> (u16, Value) {
        let r = self
            .http
            .put(self.url("/admin/v1/policy"))
            .bearer_auth(ADMIN_A)
            .json(doc)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// A second server instance on this one's database (on PostgreSQL, with a connection pool
    /// of its own), started with `seed` as every instance of a deployment is. The database
    /// stays this server's: it is dropped with it.
    pub(crate) async fn another_instance(&self, seed: Seed) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb {
            file: self.db.location(),
            pg: None,
        };
        TestServer::start_in(dir, db, seed, ServerOptions::default(), self.http.clone()).await
    }

    /// The SQLite file (a SQLite run only; a test that opens it says so with
    /// [`skip_on_postgres`]).
    pub(crate) fn db_path(&self) -> PathBuf {
        self.db.location()
    }

    pub(crate) fn client(&self) -> SyncClient {
        SyncClient::new(&self.server.url(), ClientConfig::default()).unwrap()
    }

    /// GET an admin endpoint; (status, JSON).
    pub(crate) async fn admin_get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// The organisation's punches as (punch id, status) pairs.
    pub(crate) async fn punches(&self, token: &str) -> Vec<(String, String)> {
        let (status, body) = self.admin_get(token, "/admin/v1/punches").await;
        assert_eq!(status, 200, "{body}");
        body["punches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["punch_id"].as_str().unwrap().to_string(),
                    p["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    pub(crate) async fn enroll(&self, code: &str) -> TestDevice {
        enroll_at(&self.server.url(), code).await
    }

    /// `PUT /v1/attachments/{sha256}` with `body` and, if given, a `Content-Type`; (status,
    /// JSON).
    pub(crate) async fn put_attachment(
        &self,
        token: &str,
        sha256: &str,
        media_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .put(self.url(&format!("/v1/attachments/{sha256}")))
            .bearer_auth(token)
            .body(body);
        if let Some(m) = media_type {
            request = request.header("content-type", m);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Uploads a file as a device does before pushing a form that refers to it; the value the
    /// form gives the file (`{sha256, bytes, media_type}`).
    pub(crate) async fn upload(
        &self,
        device: &TestDevice,
        bytes: &[u8],
        media_type: &str,
    ) -> Value {
        let file = file_ref(bytes, media_type);
        let (status, body) = self
            .put_attachment(
                &device.token,
                file["sha256"].as_str().unwrap(),
                Some(media_type),
                bytes.to_vec(),
            )
            .await;
        assert!(status == 200 || status == 201, "{status} {body}");
        assert_eq!(body["sha256"], file["sha256"]);
        assert_eq!(body["bytes"], file["bytes"]);
        file
    }

    pub(crate) async fn push(&self, device: &TestDevice, items: Vec<PushItem>) -> Vec<ItemResult> {
        let response = self
            .client()
            .push(&device.token, &PushRequest { items })
            .await
            .unwrap();
        response.results
    }
}

/// Enrols a new test device with `code` at the server at `url` (a fresh key, `POST /v1/enroll`).
pub(crate) async fn enroll_at(url: &str, code: &str) -> TestDevice {
    let (signer, seed) = DeviceSigner::generate().unwrap();
    let response = SyncClient::new(url, ClientConfig::default())
        .unwrap()
        .enroll(&EnrollRequest {
            code: code.into(),
            public_key: URL_SAFE_NO_PAD.encode(signer.public_key()),
            device_name: format!("test device {code}"),
            platform: "test".into(),
            attestation: None,
        })
        .await
        .unwrap();
    let policy = if response.org_id == ORG_A {
        hk_policy_text()
    } else {
        policy_variant(7, ORG_B).to_string()
    };
    TestDevice {
        chain: PunchChain::new(response.device_id.clone()),
        device_id: response.device_id,
        org_id: response.org_id,
        employee_id: response.employee_id,
        token: response.token,
        org_public_key: response.org_public_key,
        key: Ed25519KeyPair::from_seed_unchecked(&seed[..]).unwrap(),
        signer,
        engine: Engine::new(Policy::from_json(&policy).unwrap()),
        started: Instant::now(),
    }
}

/// A small JPEG-like file: start of image, a JFIF header, `tag` as the picture, end of image.
pub(crate) fn jpeg_like(tag: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    bytes.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    bytes.extend_from_slice(&[0xFF, 0xDA]);
    bytes.extend_from_slice(tag.as_bytes());
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

/// How a form refers to a file: `{sha256, bytes, media_type}`.
pub(crate) fn file_ref(bytes: &[u8], media_type: &str) -> Value {
    json!({
        "sha256": daka_server::crypto::sha256_hex(bytes),
        "bytes": bytes.len(),
        "media_type": media_type,
    })
}

/// A face-match token (compact JWS, EdDSA) for `employee` and `nonce`, signed with `seed`.
pub(crate) fn face_token_with(seed: &[u8], kid: &str, employee: &str, nonce: &str) -> String {
    face_token_issued(seed, kid, employee, nonce, Utc::now())
}

/// [`face_token_with`] issued at `now`.
fn face_token_issued(
    seed: &[u8],
    kid: &str,
    employee: &str,
    nonce: &str,
    now: DateTime<Utc>,
) -> String {
    let key = Ed25519KeyPair::from_seed_unchecked(seed).unwrap();
    let now = now.timestamp();
    let header = json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"});
    let claims = json!({
        "iss": FACE_ISS, "sub": employee, "nonce": nonce,
        "iat": now - 2, "exp": now + 60,
        "score": 0.97, "liveness": "pass", "model": "server-test"
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// The SDK's device engine on a database in `dir`, with the system clock and an unprotected
/// key store.
pub(crate) fn open_device(dir: &std::path::Path) -> daka_device::Device {
    daka_device::Device::builder(dir.join("device.db"))
        .clock(std::sync::Arc::new(daka_device::SystemClock::new()))
        .key_store(&daka_device::UnprotectedKeyStore)
        .open()
        .unwrap()
}

/// A punch of `kind` through the SDK's device engine at the Causeway Bay store: its Wi-Fi and
/// a face match of `employee` on a nonce the device issues.
pub(crate) fn store_punch_with_face(
    device: &daka_device::Device,
    kind: daka_core::punch::PunchKind,
    employee: &str,
) -> daka_device::PunchOutcome {
    let nonce = device.issue_face_nonce().unwrap();
    device
        .punch(daka_device::PunchInput {
            kind,
            fix: None,
            more_fixes: Vec::new(),
            wifi_bssids: vec![CWB_BSSID.into()],
            face: Some(FaceEvidence {
                token: face_token(employee, &nonce),
                nonce,
            }),
        })
        .unwrap()
}

/// A face token from the trusted demonstration matcher.
pub(crate) fn face_token(employee: &str, nonce: &str) -> String {
    face_token_at(employee, nonce, Utc::now())
}

/// A face token from the trusted demonstration matcher, issued at `now`.
pub(crate) fn face_token_at(employee: &str, nonce: &str, now: DateTime<Utc>) -> String {
    let seed = URL_SAFE_NO_PAD.decode(FACE_SEED_B64).unwrap();
    face_token_issued(&seed, FACE_KID, employee, nonce, now)
}

pub(crate) fn fresh_nonce() -> String {
    NonceLedger::new().issue().unwrap()
}

/// What one test punch carries.
#[derive(Debug, Clone)]
pub(crate) struct PunchSpec {
    pub(crate) kind: PunchKind,
    pub(crate) fix: Option<Fix>,
    pub(crate) wifi: Vec<String>,
    pub(crate) face: Option<FaceEvidence>,
}

/// An enrolled test device: its key, its chain and its copy of the policy's engine.
pub(crate) struct TestDevice {
    pub(crate) device_id: String,
    pub(crate) org_id: String,
    pub(crate) employee_id: String,
    pub(crate) token: String,
    pub(crate) org_public_key: String,
    pub(crate) signer: DeviceSigner,
    pub(crate) key: Ed25519KeyPair,
    pub(crate) chain: PunchChain,
    pub(crate) engine: Engine,
    pub(crate) started: Instant,
}

impl TestDevice {
    pub(crate) fn public_key(&self) -> [u8; 32] {
        self.key.public_key().as_ref().try_into().unwrap()
    }

    pub(crate) fn clock(&self) -> DeviceClock {
        DeviceClock {
            wall: Utc::now(),
            monotonic_ms: 10_000 + self.started.elapsed().as_millis() as u64,
            boot_id: "boot-1".into(),
        }
    }

    /// A punch at the Causeway Bay store (Wi-Fi) with a fresh, valid face token.
    pub(crate) fn good_spec(&self) -> PunchSpec {
        let nonce = fresh_nonce();
        PunchSpec {
            kind: PunchKind::In,
            fix: None,
            wifi: vec![CWB_BSSID.into()],
            face: Some(FaceEvidence {
                token: face_token(&self.employee_id, &nonce),
                nonce,
            }),
        }
    }

    /// A field punch (外勤) at a client's office in Kowloon Bay, away from every site, with a
    /// fresh, valid face token.
    pub(crate) fn field_spec(&self) -> PunchSpec {
        PunchSpec {
            kind: PunchKind::Field,
            fix: Some(Fix {
                lat: 22.3229,
                lon: 114.2090,
                accuracy_m: 10.0,
                time: Utc::now(),
                monotonic_ms: None,
                mock: false,
                provider: None,
            }),
            wifi: vec![],
            ..self.good_spec()
        }
    }

    /// Signs and chains a record for `spec`, with the verdict the device's engine gives it.
    pub(crate) fn record(&mut self, spec: PunchSpec) -> PunchRecord {
        self.record_with_more(spec, Vec::new())
    }

    /// [`TestDevice::record`] for an attempt that also collected the earlier fixes `more_fixes`.
    pub(crate) fn record_with_more(
        &mut self,
        spec: PunchSpec,
        more_fixes: Vec<Fix>,
    ) -> PunchRecord {
        let clock = self.clock();
        self.record_on(spec, more_fixes, clock, Utc::now())
    }

    /// [`TestDevice::record`] made at `now` (the server's clock, which a test may have moved).
    pub(crate) fn record_at(&mut self, spec: PunchSpec, now: DateTime<Utc>) -> PunchRecord {
        let clock = DeviceClock {
            wall: now,
            ..self.clock()
        };
        self.record_on(spec, Vec::new(), clock, now)
    }

    /// Signs and chains a record for `spec` with the device's `clock` reading, judged and
    /// identified at `now`.
    fn record_on(
        &mut self,
        spec: PunchSpec,
        more_fixes: Vec<Fix>,
        clock: DeviceClock,
        now: DateTime<Utc>,
    ) -> PunchRecord {
        let attempt = Attempt {
            employee_id: self.employee_id.clone(),
            kind: spec.kind,
            fix: spec.fix.clone(),
            more_fixes: more_fixes.clone(),
            wifi_bssids: spec.wifi.clone(),
            face: spec.face.clone(),
            clock: clock.clone(),
            previous: Default::default(),
            anchor: None,
        };
        let verdict = self
            .engine
            .evaluate(&attempt, Some(now), &mut NonceLedger::new())
            .unwrap();
        let draft = PunchDraft {
            kind: spec.kind,
            employee_id: self.employee_id.clone(),
            evidence: PunchEvidence {
                fix: spec.fix,
                more_fixes,
                wifi_bssids: attempt.normalized_bssids(),
                face_token: spec.face.as_ref().map(|f| f.token.clone()),
                nonce: spec.face.as_ref().map(|f| f.nonce.clone()),
            },
            clock,
            server_offset_ms: Some(0),
            policy_version: verdict.policy_version,
            verdict,
            id_time: now,
        };
        self.chain.append(draft, &self.signer).unwrap()
    }

    pub(crate) fn good_record(&mut self) -> PunchRecord {
        let spec = self.good_spec();
        self.record(spec)
    }

    /// The record as a push item of this device's stream.
    pub(crate) fn item(&self, record: &PunchRecord) -> PushItem {
        PushItem {
            id: record.body.id.to_string(),
            stream: format!("punch:{}", self.device_id),
            kind: "punch".into(),
            body: serde_json::from_str(&record.to_json().unwrap()).unwrap(),
        }
    }

    /// Signs the token challenge for `issued_at`, base64url.
    pub(crate) fn sign_challenge(&self, issued_at: &DateTime<Utc>) -> String {
        let challenge = daka_core::protocol::token_challenge(&self.device_id, issued_at);
        URL_SAFE_NO_PAD.encode(self.key.sign(&challenge).as_ref())
    }
}

/// Asserts one item result's status and code.
#[track_caller]
pub(crate) fn assert_result(result: &ItemResult, status: ItemStatus, code: Option<&str>) {
    assert_eq!(
        (result.status, result.code.as_deref()),
        (status, code),
        "item {}: {:?}",
        result.id,
        result.message
    );
}

// ---- approval items --------------------------------------------------------------------------

/// What the device previews: the route from its own copy of the policy.
pub(crate) fn preview(dev: &TestDevice, template: &str, form: &Value) -> Vec<RouteStep> {
    let policy = dev.engine.policy();
    let t = policy.approvals.template(template).unwrap();
    compute_route(policy, t, &dev.employee_id, &Form::read(t, form).unwrap()).unwrap()
}

/// A signed submission of `form` on `template` (revision 1 takes the request id as its item
/// id; a resubmission a new one).
pub(crate) fn submission_item(
    dev: &TestDevice,
    request_id: Uuid,
    revision: u32,
    template: &str,
    form: Value,
    route: Vec<RouteStep>,
) -> PushItem {
    let signed = Signed::sign(
        Submission {
            request_id,
            revision,
            template_id: template.into(),
            policy_version: dev.engine.policy().version,
            applicant: dev.employee_id.clone(),
            device_id: dev.device_id.clone(),
            form,
            route,
            created_at: Utc::now(),
        },
        &dev.signer,
    )
    .unwrap();
    PushItem {
        id: if revision == 1 {
            request_id.to_string()
        } else {
            Uuid::now_v7().to_string()
        },
        stream: format!("request:{request_id}"),
        kind: "request".into(),
        body: serde_json::from_str(&signed.to_json().unwrap()).unwrap(),
    }
}

/// A signed decision of `dev` on the request, made now.
pub(crate) fn decision_item(dev: &TestDevice, request_id: &str, action: Action) -> PushItem {
    decision_item_at(dev, request_id, action, Utc::now())
}

/// A signed decision of `dev` on the request, made at `made_at`.
pub(crate) fn decision_item_at(
    dev: &TestDevice,
    request_id: &str,
    action: Action,
    made_at: chrono::DateTime<Utc>,
) -> PushItem {
    let id = Uuid::now_v7();
    let signed = Signed::sign(
        Decision {
            id,
            request_id: request_id.parse().unwrap(),
            actor: dev.employee_id.clone(),
            device_id: dev.device_id.clone(),
            action,
            made_at,
        },
        &dev.signer,
    )
    .unwrap();
    PushItem {
        id: id.to_string(),
        stream: format!("request:{request_id}"),
        kind: "decision".into(),
        body: serde_json::from_str(&signed.to_json().unwrap()).unwrap(),
    }
}

/// The database's write lock held by another connection: see [`TestServer::hold_write_lock`].
pub(crate) struct HeldLock {
    release: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl HeldLock {
    /// Gives the lock back (rolls the holding transaction back).
    pub(crate) fn release(self) {
        drop(self.release);
        self.thread.join().unwrap();
    }
}

/// Reads one HTTP/1.1 response (its head and `Content-Length` body) from a kept-alive
/// connection; `None` when the server closed the connection first.
pub(crate) async fn read_response(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt as _;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if bytes.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
}
