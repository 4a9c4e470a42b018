//! The simulated fleet, made before the clock starts: each device's enrolment (a code issued
//! through the admin API, then `POST /v1/enroll` with the device's own Ed25519 key) and its
//! offline backlog of real signed punch records.
//!
//! A record is made as a phone makes one: the engine of `daka-core` judges the attempt (the
//! site's Wi-Fi access point and a face match signed with the example matcher key, for a nonce
//! from the device's ledger) on the policy the server publishes, and the device's
//! [`PunchChain`] signs and chains it. Each record is kept as the push item's JSON text, so
//! sending it costs the clock nothing but the copy.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration as ChronoDuration, Utc};
use daka_core::attempt::Attempt;
use daka_core::evidence::face_token::NonceLedger;
use daka_core::evidence::{DeviceClock, FaceEvidence};
use daka_core::protocol::{EnrollRequest, ItemKind, PolicyBundle, PushItem, punch_stream};
use daka_core::punch::{DeviceSigner, PunchChain, PunchDraft, PunchEvidence, PunchKind};
use daka_core::{Engine, Policy};
use daka_device::sync::client::{ClientConfig, SyncClient};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::LoadResult;
use super::admin::Admin;
use crate::face_matcher::{MatchResult, MatcherKey};

/// The demonstration face matcher's private key (public, like the example policy that trusts
/// it).
const MATCHER_KEY: &str = include_str!("../../../examples/keys/face-matcher-ed25519.private.jwk");
/// The issuer the example policy expects of that matcher.
const MATCHER_ISS: &str = "https://face.harbour-lane.example/device";

/// Enrolments in flight at once while the fleet is made (each is a write on the server).
const ENROL_CONCURRENCY: usize = 16;

/// One simulated device: its identity on the server and its backlog.
pub(super) struct SimDevice {
    /// Which target (index into the target list) the device talks to.
    pub(super) target: usize,
    /// The device id the server gave it.
    pub(super) device_id: String,
    /// Its bearer token.
    pub(super) token: String,
    /// The device's public key.
    pub(super) public_key: [u8; 32],
    /// The backlog, in chain order: each record's id and its push item as JSON text.
    pub(super) backlog: Vec<Backlogged>,
}

/// One queued punch.
pub(super) struct Backlogged {
    /// The record's (and the item's) id.
    pub(super) id: String,
    /// The push item, `{"id", "stream", "kind", "body"}`, as JSON text.
    pub(super) item: String,
    /// The bytes the device signed, for the signature baseline.
    pub(super) signed: Vec<u8>,
    /// The record's signature.
    pub(super) signature: [u8; 64],
}

/// Where an employee punches: a site's Wi-Fi access point.
#[derive(Clone)]
struct Workplace {
    employee_id: String,
    bssid: String,
}

/// The target's policy, read through the admin API: the engine the devices judge with and the
/// employees that have a Wi-Fi site.
pub(super) struct Org {
    engine: Engine,
    workplaces: Vec<Workplace>,
}

impl Org {
    /// Reads the published policy of the organisation of `admin`'s token.
    pub(super) async fn read(admin: &Admin) -> LoadResult<Org> {
        let bundle: PolicyBundle = admin.get("/admin/v1/policy").await?;
        let policy = Policy::from_json(&bundle.document)
            .map_err(|e| format!("{}: the published policy does not load: {e}", admin.url))?;
        let workplaces: Vec<Workplace> = policy
            .employees
            .iter()
            .filter_map(|e| {
                e.sites.iter().find_map(|&i| {
                    policy.sites.get(i)?.wifi_bssids.first().map(|b| Workplace {
                        employee_id: e.id.clone(),
                        bssid: b.clone(),
                    })
                })
            })
            .collect();
        if workplaces.is_empty() {
            return Err(format!(
                "{}: no employee of policy version {} works at a site with a Wi-Fi access \
                 point; the simulated devices prove presence by Wi-Fi",
                admin.url, policy.version
            ));
        }
        Ok(Org {
            engine: Engine::new(policy),
            workplaces,
        })
    }

    /// The employees the devices are spread over.
    pub(super) fn employees(&self) -> usize {
        self.workplaces.len()
    }
}

/// An enrolled device before its backlog is made.
struct Enrolled {
    target: usize,
    device_id: String,
    token: String,
    signer: DeviceSigner,
    workplace: Workplace,
}

/// Enrols `devices` devices, spread round-robin over the targets and over each target's
/// employees, at most [`ENROL_CONCURRENCY`] at once.
async fn enrol_all(
    admins: &[Admin],
    orgs: &[Arc<Org>],
    devices: usize,
) -> LoadResult<Vec<Enrolled>> {
    let gate = Arc::new(Semaphore::new(ENROL_CONCURRENCY));
    let mut tasks = Vec::with_capacity(devices);
    for i in 0..devices {
        let target = i % admins.len();
        let admin = admins[target].clone();
        let n = i / admins.len();
        let workplace = orgs[target].workplaces[n % orgs[target].workplaces.len()].clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
            enrol(&admin, target, i, workplace).await
        }));
    }
    let mut enrolled = Vec::with_capacity(devices);
    for task in tasks {
        enrolled.push(
            task.await
                .map_err(|e| format!("enrolment task failed: {e}"))??,
        );
    }
    Ok(enrolled)
}

/// Issues a code for the workplace's employee and enrols a new key with it.
async fn enrol(
    admin: &Admin,
    target: usize,
    i: usize,
    workplace: Workplace,
) -> LoadResult<Enrolled> {
    let issued: Value = admin
        .post(
            "/admin/v1/enrollment-codes",
            &json!({ "employee_id": workplace.employee_id }),
        )
        .await?;
    let code = issued["code"].as_str().ok_or_else(|| {
        format!(
            "{}: the enrolment code answer has no code: {issued}",
            admin.url
        )
    })?;
    let (signer, _seed) =
        DeviceSigner::generate().map_err(|e| format!("cannot make a device key: {e}"))?;
    let client = SyncClient::new(&admin.url, ClientConfig::default())
        .map_err(|e| format!("--server {}: {e}", admin.url))?;
    let response = client
        .enroll(&EnrollRequest {
            code: code.to_string(),
            public_key: URL_SAFE_NO_PAD.encode(signer.public_key()),
            device_name: format!("load test device {}", i + 1),
            platform: "loadgen".into(),
            attestation: None,
        })
        .await
        .map_err(|e| format!("{}: enrolling device {}: {e}", admin.url, i + 1))?;
    Ok(Enrolled {
        target,
        device_id: response.device_id,
        token: response.token,
        signer,
        workplace,
    })
}

/// Enrols the fleet and makes every device's backlog of `punches` records, on all cores.
pub(super) async fn build(
    admins: &[Admin],
    orgs: &[Arc<Org>],
    devices: usize,
    punches: usize,
) -> LoadResult<Vec<SimDevice>> {
    let enrolled = enrol_all(admins, orgs, devices).await?;
    let matcher = Arc::new(MatcherKey::from_jwk(MATCHER_KEY)?);
    let orgs = orgs.to_vec();
    tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = enrolled.len().div_ceil(threads).max(1);
        let mut parts: Vec<Vec<Enrolled>> = Vec::new();
        let mut rest = enrolled.into_iter();
        loop {
            let part: Vec<Enrolled> = rest.by_ref().take(chunk).collect();
            if part.is_empty() {
                break;
            }
            parts.push(part);
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    let (orgs, matcher) = (&orgs, &matcher);
                    scope.spawn(move || {
                        part.into_iter()
                            .map(|e| {
                                let org = orgs[e.target].clone();
                                backlog(e, &org, matcher, punches)
                            })
                            .collect::<LoadResult<Vec<SimDevice>>>()
                    })
                })
                .collect();
            let mut all = Vec::new();
            for handle in handles {
                all.extend(
                    handle
                        .join()
                        .map_err(|_| "making a backlog failed".to_string())??,
                );
            }
            Ok(all)
        })
    })
    .await
    .map_err(|e| format!("making the backlogs failed: {e}"))?
}

/// Makes one device's backlog: `punches` records, clock-in and clock-out in turn, each with a
/// fresh face match, judged by the device's engine and signed into its chain.
fn backlog(e: Enrolled, org: &Org, matcher: &MatcherKey, punches: usize) -> LoadResult<SimDevice> {
    let mut chain = PunchChain::new(e.device_id.clone());
    let stream = punch_stream(&e.device_id);
    let mut ledger = NonceLedger::new();
    let mut records = Vec::with_capacity(punches);
    let monotonic_start = 3_600_000_u64;
    let started = std::time::Instant::now();
    for n in 0..punches {
        let now = Utc::now();
        let clock = DeviceClock {
            wall: now,
            monotonic_ms: monotonic_start + started.elapsed().as_millis() as u64,
            boot_id: "loadgen-boot-1".into(),
        };
        let nonce = ledger
            .issue()
            .map_err(|_| "the system's random generator failed".to_string())?;
        let token = matcher.sign(&MatchResult {
            issuer: MATCHER_ISS,
            subject: &e.workplace.employee_id,
            nonce: &nonce,
            issued_at: now - ChronoDuration::seconds(2),
            ttl_s: 120,
            score: 0.96,
            liveness: Value::from("pass"),
            model: "loadgen-matcher",
        })?;
        let kind = if n % 2 == 0 {
            PunchKind::In
        } else {
            PunchKind::Out
        };
        let attempt = Attempt {
            employee_id: e.workplace.employee_id.clone(),
            kind,
            fix: None,
            more_fixes: Vec::new(),
            wifi_bssids: vec![e.workplace.bssid.clone()],
            face: Some(FaceEvidence {
                token: token.clone(),
                nonce: nonce.clone(),
            }),
            clock: clock.clone(),
            previous: Default::default(),
            anchor: None,
        };
        let verdict = org
            .engine
            .evaluate(&attempt, Some(now), &mut ledger)
            .map_err(|err| format!("device {}: the attempt is invalid: {err}", e.device_id))?;
        let draft = PunchDraft {
            kind,
            employee_id: e.workplace.employee_id.clone(),
            evidence: PunchEvidence {
                fix: None,
                more_fixes: Vec::new(),
                wifi_bssids: attempt.normalized_bssids(),
                face_token: Some(token),
                nonce: Some(nonce),
            },
            clock,
            server_offset_ms: Some(0),
            policy_version: verdict.policy_version,
            verdict,
            id_time: now,
        };
        let (record, json) = chain
            .append_with_json(draft, &e.signer)
            .map_err(|err| format!("device {}: cannot sign a punch: {err}", e.device_id))?;
        let id = record.body.id.to_string();
        let item = PushItem {
            id: id.clone(),
            stream: stream.clone(),
            kind: ItemKind::Punch.as_str().into(),
            body: serde_json::value::RawValue::from_string(json)
                .map_err(|err| format!("a signed record is not JSON: {err}"))?,
        };
        records.push(Backlogged {
            item: serde_json::to_string(&item).map_err(|err| err.to_string())?,
            id,
            signed: record
                .signing_bytes()
                .map_err(|err| format!("a signed record does not write back: {err}"))?,
            signature: record
                .signature()
                .map_err(|err| format!("a signed record has no signature: {err}"))?,
        });
    }
    Ok(SimDevice {
        target: e.target,
        device_id: e.device_id,
        token: e.token,
        public_key: e.signer.public_key(),
        backlog: records,
    })
}
