//! Shared helpers of the tests that run `daka serve` as a process: starting an instance on a
//! database with the example seed (its standard error drained, so that a busy server never
//! blocks on a full pipe), enrolling test devices over HTTP, pushing items and reading the
//! admin API. The devices, their signed records and the PostgreSQL databases are the server
//! tests' own helpers (`server/tests/common`), included as the module `common`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daka_core::protocol::{ItemResult, PushItem, PushRequest, PushResponse};
use daka_server::api::admin::{ChainReport, PunchList};
use serde_json::{Value, json};

use crate::common::{TestDevice, enroll_at, examples_dir};

/// The example seed's admin token (public, like the rest of `examples/seed.json`).
pub(crate) const SEED_ADMIN: &str = "hl-demo-admin-token-change-me-0001";

/// The `daka` binary of this crate.
pub(crate) fn daka() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daka"));
    c.env_remove("DAKA_ADMIN_TOKEN");
    c
}

/// A running `daka serve` process with the example seed; killed (SIGKILL) when dropped.
pub(crate) struct Instance {
    child: Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    /// Starts `daka serve --db db --seed examples/seed.json` on a free loopback port, logging
    /// at `warn`, and returns once it listens. Blocking.
    pub(crate) fn start(db: &str) -> Instance {
        let mut child = daka()
            .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "warn"])
            .args(["--db", db, "--seed"])
            .arg(examples_dir().join("seed.json"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start daka serve");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let mut lines = Vec::new();
        let url = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                let status = child.wait();
                panic!("daka serve ended before listening ({status:?}): {lines:#?}");
            }
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            lines.push(line.trim_end().to_string());
        };
        lines.push(format!("(listening on {url})"));
        let log = Arc::new(Mutex::new(lines));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Instance { child, url, log }
    }

    /// Kills the process with SIGKILL (`Child::kill`) and reaps it.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("SIGKILL daka serve");
        self.child.wait().expect("reap daka serve");
    }

    /// Stops the process with SIGTERM (a clean stop) and returns its exit code.
    pub(crate) fn stop(mut self) -> Option<i32> {
        let pid = i32::try_from(self.child.id()).expect("a pid");
        // SAFETY: signalling the child this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        self.child.wait().expect("reap daka serve").code()
    }

    /// What the process wrote to standard error so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client for the tests' requests, with the SDK's 30 s timeout.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `GET path` on the admin API with the seed's token; the JSON answer of a 200.
pub(crate) async fn admin_get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    path: &str,
) -> T {
    let r = http
        .get(format!("{url}{path}"))
        .bearer_auth(SEED_ADMIN)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}{path}: {e}"));
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "GET {url}{path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}{path}: {e}: {text}"))
}

/// Every stored punch of the seed's organisation, through the admin API, page by page.
pub(crate) async fn stored_punches(
    http: &reqwest::Client,
    url: &str,
) -> Vec<daka_server::api::admin::PunchInfo> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let path = match after {
            Some(a) => format!("/admin/v1/punches?limit=5000&after={a}"),
            None => "/admin/v1/punches?limit=5000".to_string(),
        };
        let page: PunchList = admin_get(http, url, &path).await;
        all.extend(page.punches);
        match page.next_after {
            Some(a) => after = Some(a),
            None => return all,
        }
    }
}

/// The chain report of the seed's organisation (`GET /admin/v1/chains/verify`).
pub(crate) async fn chain_report(http: &reqwest::Client, url: &str) -> ChainReport {
    admin_get(http, url, "/admin/v1/chains/verify").await
}

/// Enrols a new device of `employee` at the server at `url`: a code issued through the admin
/// API, then `POST /v1/enroll` with a fresh key.
pub(crate) async fn enrol(http: &reqwest::Client, url: &str, employee: &str) -> TestDevice {
    let r = http
        .post(format!("{url}/admin/v1/enrollment-codes"))
        .bearer_auth(SEED_ADMIN)
        .json(&json!({ "employee_id": employee }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let issued: Value = r.json().await.unwrap();
    enroll_at(url, issued["code"].as_str().unwrap()).await
}

/// A push not answered 200: the status (none when no answer came), the `Retry-After` in
/// seconds, and what happened.
#[derive(Debug)]
pub(crate) struct PushFailure {
    pub(crate) status: Option<u16>,
    pub(crate) retry_after_s: Option<u64>,
    pub(crate) message: String,
}

impl PushFailure {
    fn new(status: Option<u16>, message: String) -> PushFailure {
        PushFailure {
            status,
            retry_after_s: None,
            message,
        }
    }
}

impl std::fmt::Display for PushFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// `POST /v1/push` of `items` with `token`: the results of a 200 answer, or what went wrong
/// instead (no answer, an answer cut off, another status).
pub(crate) async fn try_push(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    items: &[PushItem],
) -> Result<Vec<ItemResult>, PushFailure> {
    let r = http
        .post(format!("{url}/v1/push"))
        .bearer_auth(token)
        .json(&PushRequest {
            items: items.to_vec(),
        })
        .send()
        .await
        .map_err(|e| PushFailure::new(None, format!("no answer: {e:?}")))?;
    let status = r.status().as_u16();
    let retry_after_s = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let text = r
        .text()
        .await
        .map_err(|e| PushFailure::new(None, format!("{status}, the answer cut off: {e:?}")))?;
    if status != 200 {
        return Err(PushFailure {
            status: Some(status),
            retry_after_s,
            message: format!("{status} {text}"),
        });
    }
    let response: PushResponse = serde_json::from_str(&text)
        .map_err(|e| PushFailure::new(Some(status), format!("200 but not a push answer: {e}")))?;
    if response.results.len() != items.len() {
        return Err(PushFailure::new(
            Some(status),
            format!(
                "{} results for {} items",
                response.results.len(),
                items.len()
            ),
        ));
    }
    Ok(response.results)
}

/// [`try_push`] that must be answered 200.
pub(crate) async fn push(
    http: &reqwest::Client,
    url: &str,
    dev: &TestDevice,
    items: Vec<PushItem>,
) -> Vec<ItemResult> {
    try_push(http, url, &dev.token, &items)
        .await
        .unwrap_or_else(|e| panic!("push to {url}: {e}"))
}
