//! `daka loadgen` as a process, over real HTTP on loopback with real signatures and SQLite:
//! against its in-process server and against a separately started `daka serve`, its report's
//! counts are those of the fleet and its integrity check reads every punch back; a time limit
//! too short to deliver everything exits 4 with the check still passing; bad arguments exit 2
//! naming the flag.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The example seed's admin token (public, like the rest of `examples/seed.json`).
const SEED_ADMIN_TOKEN: &str = "hl-demo-admin-token-change-me-0001";

fn daka() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daka"));
    c.env_remove("DAKA_ADMIN_TOKEN");
    c
}

/// Runs `daka loadgen --json` with `args`: exit status, the report, stderr.
fn loadgen(args: &[&str]) -> (i32, Value, String) {
    let out = daka()
        .arg("loadgen")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {stderr}"));
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// The counts every complete run of `devices` × `punches` in batches of `batch` must show.
fn assert_complete(report: &Value, devices: u64, punches: u64, batch: u64) {
    let total = devices * punches;
    assert_eq!(report["devices"], devices, "{report}");
    assert_eq!(report["queued"], total);
    assert_eq!(report["delivered"], total);
    assert_eq!(report["complete"], true);
    assert_eq!(report["items"]["accepted"], total, "{report}");
    // Nothing was refused, retried or failed on an unloaded loopback server.
    assert_eq!(report["items"].as_object().unwrap().len(), 1, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    // Each device sends its backlog in ceil(punches / batch) requests, each answered 200.
    let requests = devices * punches.div_ceil(batch);
    assert_eq!(report["requests"], serde_json::json!({ "200": requests }));
    let latency = &report["latency_ms"];
    let (p50, p99, max) = (
        latency["p50"].as_f64().unwrap(),
        latency["p99"].as_f64().unwrap(),
        latency["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{latency}");
    // Every request was a push answered 200: their latencies are all the requests'.
    assert_eq!(report["answered_latency_ms"], *latency, "{report}");
    // The requests after each device's first are timed apart from the opening burst too.
    let later = &report["later_latency_ms"];
    let later_max = later["max"].as_f64().unwrap();
    if punches.div_ceil(batch) > 1 {
        assert!(later["p50"].as_f64().unwrap() > 0.0, "{later}");
        assert!(later_max <= max, "{later} against {latency}");
    } else {
        assert_eq!(later_max, 0.0, "{later}");
    }
    assert!(report["punches_per_s"].as_f64().unwrap() > 0.0);
    assert!(report["cost"]["ed25519_verify_us"].as_f64().unwrap() > 0.0);
    let integrity = &report["integrity"];
    assert_eq!(integrity["acknowledged"], total, "{integrity}");
    assert_eq!(integrity["stored"], total);
    // Every punch carries the site's Wi-Fi and a fresh face match: the server accepts it.
    assert_eq!(
        integrity["by_status"],
        serde_json::json!({ "accepted": total })
    );
    assert_eq!(integrity["lost"], serde_json::json!([]));
    assert_eq!(integrity["duplicated"], serde_json::json!([]));
    assert_eq!(integrity["broken_chains"], serde_json::json!([]));
    assert_eq!(integrity["unacknowledged_stored"], 0);
    assert_eq!(integrity["chains_ok"], devices);
}

#[test]
fn in_process_run_delivers_every_punch_once_and_checks_it() {
    let (status, report, stderr) = loadgen(&["--devices", "20", "--punches", "10", "--batch", "4"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(report["targets"], serde_json::json!(["in-process"]));
    assert_eq!(report["employees"], 6);
    assert_eq!(report["cost"]["cpu_includes_server"], true);
    assert_complete(&report, 20, 10, 4);
    // Every device opened its connection before the clock.
    assert!(report["connect_s"].as_f64().unwrap() > 0.0, "{report}");
}

#[test]
fn text_report_names_throughput_latency_and_the_check() {
    let out = daka()
        .args(["loadgen", "--devices", "3", "--punches", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "3 devices × 2 punches against in-process",
        "throughput",
        "delivered    6 of 6 queued",
        "connected    every device before the clock, a connection each",
        "p99",
        "(pushes answered 200)",
        "(push requests after each device's first)",
        "one Ed25519 verify",
        "integrity    ok: 6 acknowledged, 6 stored (accepted 6), 0 lost, 0 stored twice",
        "3 chains verify, 0 do not",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}

/// A `daka serve` child on a database in `dir`, seeded with the example company, with `args`
/// more: the child, its URL, and its standard error, to be kept open while it runs.
#[cfg(unix)]
fn serve(
    dir: &std::path::Path,
    args: &[&str],
) -> (
    std::process::Child,
    String,
    BufReader<std::process::ChildStderr>,
) {
    let examples = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut server = daka()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "off",
            "--db",
        ])
        .arg(dir.join("server.db"))
        .arg("--seed")
        .arg(examples.join("seed.json"))
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "serve ended");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    (server, url, stderr)
}

/// A server that lets no push wait behind another (`--max-push-wait-ms 1`) refuses most of a
/// fleet's first pushes `busy`. Each refused device asks `POST /v1/push/turn` until its turn
/// comes, then pushes: every punch is delivered, and as many pushes were sent after a 204 as
/// were refused (nothing is refused once its turn is held). With `--no-turn` the refused
/// pushes are sent again with their bodies, and no question is asked.
#[cfg(unix)]
#[test]
fn devices_refused_busy_ask_for_their_turn_and_deliver_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url, _stderr) = serve(dir.path(), &["--max-push-wait-ms", "1"]);
    let run = |more: &[&str]| {
        let mut args = vec![
            "--server",
            &url,
            "--admin-token",
            SEED_ADMIN_TOKEN,
            "--devices",
            "30",
            "--punches",
            "10",
            "--batch",
            "5",
        ];
        args.extend_from_slice(more);
        loadgen(&args)
    };
    let asking = run(&[]);
    let uploading = run(&["--no-turn"]);
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    assert!(server.wait().unwrap().success());

    // Everything delivered once, each device's two pushes answered 200, chains intact.
    let delivered = |report: &Value| {
        assert_eq!(report["delivered"], 300, "{report}");
        assert_eq!(report["items"], serde_json::json!({ "accepted": 300 }));
        assert_eq!(report["requests"]["200"], 60, "{report}");
        let integrity = &report["integrity"];
        assert_eq!(integrity["stored"], 300, "{integrity}");
        assert_eq!(integrity["duplicated"], serde_json::json!([]));
        assert_eq!(integrity["lost"], serde_json::json!([]));
        assert_eq!(integrity["chains_ok"], 30);
    };
    let (status, report, err) = asking;
    assert_eq!(status, 0, "{err}");
    delivered(&report);
    let requests = &report["requests"];
    let busy = requests["503 busy"].as_u64().unwrap_or(0);
    assert!(busy > 0, "{report}");
    assert_eq!(requests["turn 204"].as_u64(), Some(busy), "{report}");
    assert!(
        report["turn_latency_ms"]["max"].as_f64().unwrap() > 0.0,
        "{report}"
    );

    let (status, report, err) = uploading;
    assert_eq!(status, 0, "{err}");
    delivered(&report);
    let requests = report["requests"].as_object().unwrap();
    assert!(requests["503 busy"].as_u64().unwrap() > 0, "{report}");
    assert!(requests.keys().all(|k| !k.starts_with("turn")), "{report}");
}

#[cfg(unix)]
#[test]
fn a_backlog_is_announced_before_it_is_uploaded_and_never_refused_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url, _stderr) = serve(dir.path(), &["--max-push-wait-ms", "1"]);
    // Forty punches with their Wi-Fi and face evidence: one push of about 80 KB a device.
    let (status, report, err) = loadgen(&[
        "--server",
        &url,
        "--admin-token",
        SEED_ADMIN_TOKEN,
        "--devices",
        "12",
        "--punches",
        "40",
        "--batch",
        "40",
    ]);
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    assert!(server.wait().unwrap().success());
    assert_eq!(status, 0, "{err}");
    assert_eq!(report["delivered"], 480, "{report}");
    assert_eq!(report["integrity"]["stored"], 480, "{report}");
    assert_eq!(report["integrity"]["chains_ok"], 12, "{report}");
    // Every device asked before its upload and uploaded once, when told its turn had come:
    // the busy server refused questions, not bodies.
    let requests = &report["requests"];
    assert_eq!(requests["200"], 12, "{report}");
    assert_eq!(requests["turn 204"], 12, "{report}");
    assert!(requests.get("503 busy").is_none(), "{report}");
    assert!(requests["turn 503 busy"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["later_latency_ms"]["count"], 0, "{report}");
}

#[cfg(unix)]
#[test]
fn against_a_separate_serve_process_every_punch_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url, _stderr) = serve(dir.path(), &[]);
    let run = loadgen(&[
        "--server",
        &url,
        "--admin-token",
        SEED_ADMIN_TOKEN,
        "--devices",
        "20",
        "--punches",
        "10",
        "--concurrency",
        "5",
    ]);
    // A second run against the same server: its devices are new, and only theirs are checked.
    // They connect at their first push, inside the clock.
    let again = daka()
        .args([
            "loadgen",
            "--json",
            "--devices",
            "4",
            "--punches",
            "3",
            "--cold-start",
        ])
        .args(["--server", &url])
        .env("DAKA_ADMIN_TOKEN", SEED_ADMIN_TOKEN)
        .output()
        .unwrap();
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    assert!(server.wait().unwrap().success());

    let (status, report, err) = run;
    assert_eq!(status, 0, "{err}");
    assert_eq!(report["targets"], serde_json::json!([url]));
    assert_eq!(report["concurrency"], 5);
    assert_eq!(report["cost"]["cpu_includes_server"], false);
    assert_complete(&report, 20, 10, 100);

    assert_eq!(again.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_complete(&report, 4, 3, 100);
    assert_eq!(report["connect_s"], Value::Null, "{report}");
}

#[test]
fn a_time_limit_too_short_stops_the_run_and_exits_4_with_the_check_passing() {
    let (status, report, stderr) = loadgen(&[
        "--devices",
        "10",
        "--punches",
        "200",
        "--batch",
        "1",
        "--duration-limit",
        "50ms",
    ]);
    assert_eq!(status, 4, "{stderr}");
    assert_eq!(report["complete"], false);
    let delivered = report["delivered"].as_u64().unwrap();
    assert!(delivered < 2000, "{report}");
    assert!(
        stderr.contains(&format!("{delivered} of 2000 punches delivered")),
        "{stderr}"
    );
    assert_eq!(report["stopped"]["time limit"], 10, "{report}");
    let integrity = &report["integrity"];
    assert_eq!(integrity["acknowledged"], delivered);
    assert_eq!(integrity["lost"], serde_json::json!([]));
    assert_eq!(integrity["duplicated"], serde_json::json!([]));
    assert_eq!(integrity["broken_chains"], serde_json::json!([]));
    // A request cut off at the limit may have been stored unanswered: stored counts it.
    assert_eq!(
        integrity["stored"].as_u64().unwrap(),
        delivered + integrity["unacknowledged_stored"].as_u64().unwrap()
    );
}

#[test]
fn bad_arguments_exit_2_naming_the_flag_and_value() {
    for (args, expected) in [
        (vec!["--batch", "0"], "--batch"),
        (vec!["--batch", "501"], "501"),
        (vec!["--devices", "0"], "--devices"),
        (vec!["--duration-limit", "soon"], "\"soon\""),
        (vec!["--server", "http://127.0.0.1:9"], "--admin-token"),
        (
            vec!["--server", "http://10.1.2.3:8080", "--admin-token", "x"],
            "--server \"http://10.1.2.3:8080\"",
        ),
    ] {
        let out = daka().arg("loadgen").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: {expected:?} not in {stderr}"
        );
    }
}
