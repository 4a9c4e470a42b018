//! `daka demo`: a working day at a Hong Kong retailer, then the month it starts, end to end,
//! in a few seconds.
//!
//! It starts the reference server in-process on a free loopback port with a temporary
//! database, seeds the embedded example company (`examples/hk-policy.json`), and drives one
//! simulated phone through Tuesday 1 December 2026: enrolment, a clock-in with a fresh face
//! match, a fake-GPS attempt refused with its reasons, the network lost in a basement with
//! punches queued, the network back and the queue drained with progress, the server's own
//! view (each punch arrived once, every chain verifies, an edited record is caught), and an
//! expense claim filed offline and routed to the manager and finance (`approvals.rs`).
//!
//! Then Chan's December (`month.rs`): every working day clocked in and out, a late morning, a
//! forgotten clock-out mended by a missed-punch correction, annual leave over Christmas that
//! skips the holidays, an overtime evening approved ahead, the month's summary on the phone
//! from the days the server confirmed, and the payroll workbook exported from the admin API
//! into the demo's directory.
//!
//! Phone and server share one simulated clock, so a month passes in moments and times read
//! like days in Hong Kong. The phone reaches the server through a [`link::Link`] the demo can
//! cut.

mod approvals;
mod link;
mod month;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Hong_Kong;
use clap::Args;
use daka_core::Decision;
use daka_core::evidence::{DeviceClock, FaceEvidence, Fix};
use daka_core::punch::{PunchKind, PunchRecord, verify_chain};
use daka_core::verdict::Verdict;
use daka_device::sync::client::ClientConfig;
use daka_device::{ClockSource, Device, PunchInput, SyncReport, UnprotectedKeyStore};
use daka_server::api::admin::{ChainReport, PunchList};
use daka_server::{Seed, Server, ServerConfig, ServerOptions};
use serde_json::Value;

use crate::exit;
use crate::face_matcher::{MatchResult, MatcherKey};

const POLICY: &str = include_str!("../../../examples/hk-policy.json");
const MATCHER_KEY: &str = include_str!("../../../examples/keys/face-matcher-ed25519.private.jwk");
const MATCHER_ISS: &str = "https://face.harbour-lane.example/device";
const ADMIN_TOKEN: &str = "demo-admin-token-not-for-production-0001";
const CODE: &str = "HL-E1001-DEMO";
const MANAGER_CODE: &str = "HL-E0101-DEMO";
const FINANCE_CODE: &str = "HL-E0201-DEMO";
const HEAD_CODE: &str = "HL-E0001-DEMO";

/// Inside the Causeway Bay store, about 14 m from every wall.
const STORE: (f64, f64) = (114.18305, 22.28005);
/// The store's Wi-Fi access point.
const STORE_AP: &str = "E0:55:3D:4A:12:C1";

#[derive(Args)]
pub struct DemoArgs {
    /// Keep the demo's temporary directory (databases, exported log, December's workbook) and
    /// print its path.
    #[arg(long)]
    keep: bool,
}

/// One clock shared by the phone and the server: starts at 08:50 on Tuesday 1 December 2026 in
/// Hong Kong and moves only when the story says so.
struct Timeline {
    start: DateTime<Utc>,
    elapsed_ms: AtomicI64,
}

impl Timeline {
    fn new() -> Arc<Timeline> {
        // A fixed day, so every run tells the same month and its holidays are in the example
        // calendar: Tuesday 1 December 2026.
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).expect("valid date");
        let start = Hong_Kong
            .from_local_datetime(
                &today.and_time(NaiveTime::from_hms_opt(8, 50, 0).expect("valid time")),
            )
            .single()
            .expect("Hong Kong has no DST")
            .with_timezone(&Utc);
        Arc::new(Timeline {
            start,
            elapsed_ms: AtomicI64::new(0),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.start + Duration::milliseconds(self.elapsed_ms.load(Ordering::SeqCst))
    }

    /// Moves to `hh:mm` Hong Kong time on the story's first day.
    fn at(&self, hh: u32, mm: u32) {
        self.at_on(self.start.with_timezone(&Hong_Kong).date_naive(), hh, mm);
    }

    /// Moves to `hh:mm` Hong Kong time on `date` (never backwards).
    fn at_on(&self, date: NaiveDate, hh: u32, mm: u32) {
        let target = Hong_Kong
            .from_local_datetime(
                &date.and_time(NaiveTime::from_hms_opt(hh, mm, 0).expect("valid time")),
            )
            .single()
            .expect("Hong Kong has no DST")
            .with_timezone(&Utc);
        let ms = (target - self.start).num_milliseconds();
        self.elapsed_ms.fetch_max(ms, Ordering::SeqCst);
    }

    /// Today's date in Hong Kong.
    fn date(&self) -> NaiveDate {
        self.now().with_timezone(&Hong_Kong).date_naive()
    }

    fn advance_s(&self, s: i64) {
        self.elapsed_ms.fetch_add(s * 1000, Ordering::SeqCst);
    }

    fn hk(&self) -> String {
        self.now()
            .with_timezone(&Hong_Kong)
            .format("%H:%M")
            .to_string()
    }

    /// The day and time in Hong Kong, e.g. `Thu 03 Dec 10:12`.
    fn hk_day(&self) -> String {
        self.now()
            .with_timezone(&Hong_Kong)
            .format("%a %d %b %H:%M")
            .to_string()
    }
}

impl ClockSource for Timeline {
    fn now(&self) -> DeviceClock {
        DeviceClock {
            wall: Timeline::now(self),
            // The phone booted an hour before the story starts.
            monotonic_ms: 3_600_000 + self.elapsed_ms.load(Ordering::SeqCst) as u64,
            boot_id: "demo-phone-boot-1".into(),
        }
    }
}

type DemoResult<T> = Result<T, String>;

pub fn run(args: DemoArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daka demo: cannot start the async runtime: {e}");
            return exit::MALFORMED;
        }
    };
    match runtime.block_on(demo(args)) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("\ndaka demo failed: {e}");
            exit::REJECTED
        }
    }
}

fn seed() -> DemoResult<Seed> {
    let policy: Value = serde_json::from_str(POLICY).map_err(|e| e.to_string())?;
    let seed = serde_json::json!({
        "organisations": [{
            "id": policy["org"]["id"],
            "name": policy["org"]["name"],
            "admin_token": ADMIN_TOKEN,
            "policy": policy,
            "enrollment_codes": [
                {"code": CODE, "employee_id": "E1001"},
                {"code": MANAGER_CODE, "employee_id": "E0101"},
                {"code": FINANCE_CODE, "employee_id": "E0201"},
                {"code": HEAD_CODE, "employee_id": "E0001"},
            ],
        }]
    });
    Seed::from_json(&seed.to_string(), None).map_err(|e| e.to_string())
}

fn fix(timeline: &Timeline, at: (f64, f64), accuracy_m: f64, mock: bool) -> Fix {
    let clock = ClockSource::now(timeline);
    Fix {
        lat: at.1,
        lon: at.0,
        accuracy_m,
        time: clock.wall - Duration::seconds(2),
        monotonic_ms: Some(clock.monotonic_ms - 2_000),
        mock,
        provider: Some("fused".into()),
    }
}

fn show(verdict: &Verdict) {
    let decision = match verdict.decision {
        Decision::Accepted => "ACCEPTED",
        Decision::FieldPunch => "FIELD PUNCH (for the manager to review)",
        Decision::Rejected => "REJECTED",
    };
    println!("       {decision}");
    for r in &verdict.reasons {
        println!("         {:<24} {}", r.code.as_str(), r.message);
    }
}

fn show_record(record: &Option<PunchRecord>, offline: bool) {
    match record {
        Some(r) => println!(
            "       → punch #{} signed by the phone's key, {} and {}",
            r.body.seq,
            match r.body.seq {
                1 => "first in its chain".to_string(),
                n => format!("chained to #{}", n - 1),
            },
            if offline {
                "queued (no network)"
            } else {
                "queued"
            }
        ),
        None => println!("       → nothing recorded; the reasons above are shown to the employee"),
    }
}

fn show_sync(report: &SyncReport) {
    match &report.stopped_by {
        Some(_) => println!(
            "       sync: the server cannot be reached; {} waiting, retried with backoff",
            report.remaining
        ),
        None => println!(
            "       sync: {} sent in {} request(s): {} accepted, {} already there; {} waiting",
            report.accepted + report.duplicates + report.rejected,
            report.requests,
            report.accepted,
            report.duplicates,
            report.remaining
        ),
    }
}

async fn demo(args: DemoArgs) -> DemoResult<()> {
    let dir = tempfile::Builder::new()
        .prefix("daka-demo-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let timeline = Timeline::new();
    println!(
        "daka demo: a working day and its month at Harbour Lane Retail & Logistics, Hong Kong\n"
    );

    // ---- The server ------------------------------------------------------------------------
    let server_clock = timeline.clone();
    let options = ServerOptions {
        clock: Some(Arc::new(move || server_clock.now())),
        ..ServerOptions::default()
    };
    let server = Server::start_with(
        ServerConfig {
            db_path: dir.path().join("server.db"),
            listen: "127.0.0.1:0".parse().expect("valid address"),
            seed: Some(seed()?),
        },
        options,
    )
    .await
    .map_err(|e| format!("the server did not start: {e}"))?;
    let link = link::Link::start(server.addr())
        .await
        .map_err(|e| format!("cannot open the simulated network: {e}"))?;
    let policy = daka_core::Policy::from_json(POLICY).map_err(|e| e.to_string())?;
    println!(
        "server   daka-server on {} with a temporary database; seeded {}:\n         {} sites, {} employees, {} trusted face-matcher keys, policy v{}",
        server.url(),
        policy.org.id,
        policy.sites.len(),
        policy.employees.len(),
        policy.face_matchers.len(),
        policy.version
    );

    // ---- The phone -------------------------------------------------------------------------
    let phone = open_phone(&dir, &timeline, "phone")?;
    let matcher = MatcherKey::from_jwk(MATCHER_KEY)?;
    let identity = phone
        .enroll(&link.url(), CODE, "Chan Tai Man's phone", "demo")
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "phone    Chan Tai Man 陳大文 (E1001), Causeway Bay Store; enrolled with a one-time code\n         device {}, Ed25519 key {}…",
        identity.device_id,
        &phone.public_key_b64()[..16]
    );
    let report = phone.sync_now(&|_| {}).await.map_err(|e| e.to_string())?;
    println!(
        "         policy v{} fetched, signature checked against the organisation key; clock anchored to server time\n",
        report.policy_version.unwrap_or_default()
    );

    let scene = Scene {
        phone: &phone,
        timeline: &timeline,
        matcher: &matcher,
    };

    timeline.at(8, 55);
    println!(
        "{}  Clock in at the store under open sky (GPS ±6 m), face check on the phone",
        timeline.hk()
    );
    scene.punch(PunchKind::In, STORE, 6.0, false, &[], "E1001", false)?;
    show_sync(&phone.sync_now(&|_| {}).await.map_err(|e| e.to_string())?);

    timeline.at(10, 20);
    println!(
        "\n{}  A fake-GPS app claims the phone is in the store (it is in Mong Kok)",
        timeline.hk()
    );
    scene.punch(PunchKind::Out, STORE, 3.0, true, &[], "E1001", false)?;

    timeline.at(10, 25);
    println!(
        "\n{}  A colleague tries to clock out for E1001 with her own face",
        timeline.hk()
    );
    scene.punch(PunchKind::Out, STORE, 5.0, false, &[], "E1002", false)?;

    timeline.at(12, 30);
    link.set_up(false);
    println!(
        "\n{}  Lunch in the basement food court: no network",
        timeline.hk()
    );
    println!("       break start: GPS only ±150 m indoors, but the store's Wi-Fi is in range");
    let scan = [STORE_AP, "02:1a:11:f0:00:01"];
    scene.punch(
        PunchKind::BreakStart,
        STORE,
        150.0,
        false,
        &scan,
        "E1001",
        true,
    )?;
    show_sync(&phone.sync_now(&|_| {}).await.map_err(|e| e.to_string())?);

    timeline.at(13, 28);
    println!(
        "\n{}  Back from lunch, GPS drifting between the towers (±40 m)",
        timeline.hk()
    );
    scene.punch(PunchKind::BreakEnd, STORE, 40.0, false, &[], "E1001", true)?;

    timeline.at(19, 2);
    println!(
        "\n{}  Clock out after the evening shift (still offline)",
        timeline.hk()
    );
    scene.punch(
        PunchKind::Out,
        STORE,
        8.0,
        false,
        &[STORE_AP],
        "E1001",
        true,
    )?;
    let expense_id = approvals::file_expense_offline(&policy, &timeline, &phone)?;
    let stats = phone.outbox_stats().map_err(|e| e.to_string())?;
    println!(
        "       outbox: {} items waiting (punches and the claim), the oldest for {}",
        stats.pending + stats.in_flight,
        daka_core::evidence::spoofing::human_duration_ms(
            stats.oldest_undelivered_age_ms.unwrap_or(0)
        )
    );

    // 19:40 network back.
    timeline.at(19, 40);
    link.set_up(true);
    timeline.advance_s(1);
    println!(
        "\n{}  On the MTR platform the phone gets a signal again",
        timeline.hk()
    );
    let report = phone
        .sync_now(&|p| println!("       sync: {} of {} sent", p.sent, p.total))
        .await
        .map_err(|e| e.to_string())?;
    show_sync(&report);
    for change in &report.server_verdicts {
        if let daka_core::protocol::Change::PunchVerdict {
            decision, codes, ..
        } = change
        {
            let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
            let decision = crate::render::wire_name(decision);
            println!("       server verdict: {decision} [{}]", codes.join(", "));
        }
    }

    // ---- The server's view -----------------------------------------------------------------
    println!("\nThe server's own view (admin API)");
    let http = reqwest::Client::new();
    let punches: PunchList = admin_get(&http, &server.url(), "/admin/v1/punches").await?;
    let mut seen = std::collections::HashSet::new();
    for p in &punches.punches {
        let first = seen.insert(p.punch_id.clone());
        println!(
            "       #{} {:<12} {:<12} {}{}",
            p.seq,
            p.kind,
            crate::render::wire_name(&p.status),
            p.judged_at.with_timezone(&Hong_Kong).format("%H:%M"),
            if first { "" } else { "  DUPLICATE" }
        );
    }
    let delivered = phone
        .outbox()
        .items(daka_device::outbox::ItemState::Delivered)
        .map_err(|e| e.to_string())?
        .iter()
        .filter(|i| i.kind == daka_core::protocol::ItemKind::Punch.as_str())
        .count();
    if seen.len() != punches.punches.len() || delivered != seen.len() {
        return Err(format!(
            "the server holds {} punches ({} distinct) but the phone delivered {delivered}",
            punches.punches.len(),
            seen.len(),
        ));
    }
    println!(
        "       {delivered} punches on the phone, {} on the server, each exactly once",
        seen.len()
    );
    let chains: ChainReport = admin_get(&http, &server.url(), "/admin/v1/chains/verify").await?;
    for c in &chains.devices {
        println!(
            "       chain of {} ({}): {} records, {}",
            c.device_id,
            c.employee_id,
            c.records,
            if c.ok {
                "verifies".to_string()
            } else {
                format!("BROKEN: {:?}", c.error)
            }
        );
    }
    if !chains.ok {
        return Err("a stored chain does not verify".into());
    }

    // ---- Tampering -------------------------------------------------------------------------
    let records = phone.punch_log().map_err(|e| e.to_string())?;
    let mut edited = records.clone();
    if let Some(second) = edited.get_mut(1)
        && let Some(fix) = second.body.evidence.fix.as_mut()
    {
        fix.accuracy_m = 5.0;
    }
    println!("\nSomeone edits punch #2 in an exported log (accuracy ±150 m → ±5 m):");
    match verify_chain(&phone.public_key(), &edited) {
        Ok(_) => return Err("an edited log verified".into()),
        Err(e) => println!("       daka verify-log: {e}"),
    }
    let log_path = dir.path().join("punches.jsonl");
    std::fs::write(
        &log_path,
        daka_core::punch::write_log(&records).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;

    // ---- Approvals --------------------------------------------------------------------------
    println!("\nApprovals");
    let manager = colleague_phone(&dir, &timeline, &link, "manager", MANAGER_CODE).await?;
    let finance = colleague_phone(&dir, &timeline, &link, "finance", FINANCE_CODE).await?;
    approvals::story(
        &policy,
        &timeline,
        &approvals::Phones {
            applicant: &phone,
            manager: &manager,
            finance: &finance,
        },
        &expense_id,
    )
    .await?;

    // ---- The month --------------------------------------------------------------------------
    let head = colleague_phone(&dir, &timeline, &link, "head", HEAD_CODE).await?;
    let export = month::story(
        &server.url(),
        dir.path(),
        args.keep,
        &policy,
        &scene,
        &month::Phones {
            applicant: &phone,
            manager: &manager,
            head: &head,
        },
    )
    .await?;

    server
        .shutdown()
        .await
        .map_err(|e| format!("the server did not stop cleanly: {e}"))?;
    println!("\nDone. Try it yourself:");
    println!(
        "  daka check --policy examples/hk-policy.json --employee E1001 --lat 22.2810 --lon 114.1840 --accuracy 25 --human"
    );
    println!(
        "  daka serve --seed examples/seed.json, then open http://127.0.0.1:8080/console/ and sign in as\n    hr@harbour-lane.example (password daka-demo-hr-2026): HR's console, in English or 繁體中文"
    );
    if args.keep {
        let kept = dir.keep();
        println!(
            "  daka verify-log {} --public-key {}",
            kept.join("punches.jsonl").display(),
            phone.public_key_b64()
        );
        println!(
            "  daka report --db {} --month 2026-12 --format xlsx --out dec.xlsx",
            kept.join("server.db").display()
        );
        println!("  open {}", export.display());
    } else {
        println!(
            "  daka demo --keep    # keeps the databases, the exported log and December's workbook"
        );
    }
    Ok(())
}

/// A simulated phone's device store `<name>.db` in the demo's folder, on the shared timeline,
/// with short timeouts for the loopback link.
fn open_phone(dir: &tempfile::TempDir, timeline: &Arc<Timeline>, name: &str) -> DemoResult<Device> {
    Device::builder(dir.path().join(format!("{name}.db")))
        .clock(timeline.clone())
        .key_store(&UnprotectedKeyStore)
        .client(ClientConfig {
            request_timeout: std::time::Duration::from_secs(5),
            connect_timeout: std::time::Duration::from_secs(2),
        })
        .open()
        .map_err(|e| e.to_string())
}

/// Another employee's phone, enrolled with its own code and key.
async fn colleague_phone(
    dir: &tempfile::TempDir,
    timeline: &Arc<Timeline>,
    link: &link::Link,
    name: &str,
    code: &str,
) -> DemoResult<Device> {
    let phone = open_phone(dir, timeline, name)?;
    phone
        .enroll(&link.url(), code, &format!("{name}'s phone"), "demo")
        .await
        .map_err(|e| e.to_string())?;
    Ok(phone)
}

/// The phone, its clock and the face matcher, for one punch of the story at a time.
struct Scene<'a> {
    phone: &'a Device,
    timeline: &'a Timeline,
    matcher: &'a MatcherKey,
}

impl Scene<'_> {
    /// One punch attempt: a fix at `at`, a Wi-Fi scan, and a face matched to `face_of`
    /// (signed for a fresh nonce); prints the verdict and what was recorded.
    #[allow(clippy::too_many_arguments)]
    fn punch(
        &self,
        kind: PunchKind,
        at: (f64, f64),
        accuracy_m: f64,
        mock: bool,
        scan: &[&str],
        face_of: &str,
        offline: bool,
    ) -> DemoResult<()> {
        let outcome = self.attempt(kind, at, accuracy_m, mock, scan, face_of)?;
        show(&outcome.verdict);
        show_record(&outcome.record, offline);
        Ok(())
    }

    /// A routine punch of the month at the store (GPS ±6 m, the store's Wi-Fi, Chan's own
    /// face), printed only when it is not accepted: then the story stops with the reasons.
    fn punch_quietly(&self, kind: PunchKind) -> DemoResult<()> {
        let outcome = self.attempt(kind, STORE, 6.0, false, &[STORE_AP], "E1001")?;
        if outcome.verdict.decision != Decision::Accepted || outcome.record.is_none() {
            show(&outcome.verdict);
            return Err(format!(
                "the {kind:?} punch at {} was not accepted",
                self.timeline.hk_day()
            ));
        }
        Ok(())
    }

    /// A face matched to `face_of` for a fresh nonce, a fix and a scan: the phone's verdict.
    fn attempt(
        &self,
        kind: PunchKind,
        at: (f64, f64),
        accuracy_m: f64,
        mock: bool,
        scan: &[&str],
        face_of: &str,
    ) -> DemoResult<daka_device::PunchOutcome> {
        let nonce = self.phone.issue_face_nonce().map_err(|e| e.to_string())?;
        let token = self.matcher.sign(&MatchResult {
            issuer: MATCHER_ISS,
            subject: face_of,
            nonce: &nonce,
            issued_at: self.timeline.now() - Duration::seconds(3),
            ttl_s: 120,
            score: 0.96,
            liveness: Value::from("pass"),
            model: "hl-face-v3",
        })?;
        self.phone
            .punch(PunchInput {
                kind,
                fix: Some(fix(self.timeline, at, accuracy_m, mock)),
                more_fixes: Vec::new(),
                wifi_bssids: scan.iter().map(|s| s.to_string()).collect(),
                face: Some(FaceEvidence { token, nonce }),
            })
            .map_err(|e| e.to_string())
    }
}

async fn admin_get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    path: &str,
) -> DemoResult<T> {
    http.get(format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .map_err(|e| format!("admin API {path}: {e}"))?
        .error_for_status()
        .map_err(|e| format!("admin API {path}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("admin API {path}: {e}"))
}
