//! `daka serve` as a process: it seeds, listens, logs one line per request, stops cleanly on
//! SIGINT with status 0, and refuses a bad seed, or a PostgreSQL database whose certificate
//! its URL's CA did not sign, with status 2.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn daka() -> Command {
    Command::new(env!("CARGO_BIN_EXE_daka"))
}

fn examples() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A minimal HTTP GET over a plain socket; returns the status line.
fn get(addr: &str, path: &str) -> String {
    get_with(addr, path, "")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A minimal HTTP GET over a plain socket with `headers` (each ending in CRLF); returns the
/// whole response.
fn get_with(addr: &str, path: &str, headers: &str) -> String {
    let headers = headers.trim_end_matches("\r\n");
    let sep = if headers.is_empty() { "" } else { "\r\n" };
    request(addr, &format!("GET {path} HTTP/1.1{sep}{headers}"), "")
}

/// A `daka serve` child on a free loopback port with the example seed and `extra` arguments:
/// the child, its address, the stderr lines before the "listening" line, and the rest of
/// stderr.
fn spawn_serve(
    db: &std::path::Path,
    extra: &[&str],
) -> (
    std::process::Child,
    String,
    Vec<String>,
    BufReader<std::process::ChildStderr>,
) {
    let mut child = daka()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .arg("--seed")
        .arg(examples().join("seed.json"))
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    let addr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{lines:?}");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        lines.push(line);
    };
    (child, addr, lines, stderr)
}

#[cfg(unix)]
#[test]
fn serve_seeds_listens_logs_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let (mut child, addr, lines, mut stderr) = spawn_serve(&db, &[]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("published policy version 42 of harbour-lane")),
        "{lines:?}"
    );
    // The server's own events are printed, as `tracing` lines with their level and fields.
    assert!(
        lines.iter().any(|l| l.contains("INFO")
            && l.contains("daka server listening")
            && l.contains(&format!("addr={addr}"))),
        "{lines:?}"
    );
    assert!(get(&addr, "/health").contains(" 200 "));
    assert!(get(&addr, "/v1/policy").contains(" 401 "));
    // The web console, with the seed's two demo accounts.
    assert!(get(&addr, "/console/login").contains(" 200 "));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("created 2 web console account(s)")),
        "{lines:?}"
    );
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("GET /health 200 "), "{rest}");
    assert!(rest.contains("GET /v1/policy 401 "), "{rest}");
    assert!(rest.contains("stopping"), "{rest}");
    assert!(db.exists());
}

/// The threads of process `pid` named `prefix…`, each with its nice value, from /proc.
#[cfg(target_os = "linux")]
fn threads_named(pid: u32, prefix: &str) -> Vec<(String, i64)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = task.unwrap().path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let name = name.trim_end().to_string();
        if !name.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        // The fields after the command's closing parenthesis: state is field 3, nice 19.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let nice = after.split(' ').nth(16).unwrap().parse::<i64>().unwrap();
        threads.push((name, nice));
    }
    threads.sort();
    threads
}

#[cfg(target_os = "linux")]
#[test]
fn serve_checks_signatures_on_threads_of_the_priority_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    for (args, nice) in [
        (&["--check-nice", "7"][..], 7),
        (&[][..], 10),
        (&["--check-nice", "0"][..], 0),
    ] {
        let db = dir.path().join(format!("server-{nice}.db"));
        let (mut child, addr, lines, _stderr) = spawn_serve(&db, args);
        assert!(get(&addr, "/health").contains(" 200 "), "{lines:?}");
        let checks = threads_named(child.id(), "daka-check-");
        assert!(!checks.is_empty(), "no signature-check threads");
        assert!(
            checks.iter().all(|(_, n)| *n == nice),
            "{checks:?}, wanted {nice}"
        );
        // The rest of the server keeps the usual priority: the tokio workers answer at it.
        let workers = threads_named(child.id(), "tokio-rt-worker");
        assert!(!workers.is_empty());
        assert!(workers.iter().all(|(_, n)| *n == 0), "{workers:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Out of range: refused by the argument parser, naming the option.
    let out = daka()
        .args(["serve", "--check-nice", "20"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--check-nice"));
}

#[test]
fn serve_refuses_a_bad_seed_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, r#"{"organisations": [{"id": "x"}]}"#).unwrap();
    let output = daka()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("server.db"))
        .arg("--seed")
        .arg(&seed)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("seed organisations[0]"), "{stderr}");
}

/// Against the TLS cluster of `scripts/pg.sh` (`DAKA_TEST_POSTGRES_TLS`, from `pg.sh url-tls`:
/// `sslmode=verify-full&sslrootcert=<dir>/ca.pem`); skipped without it.
#[test]
fn serve_refuses_a_database_whose_certificate_its_ca_did_not_sign() {
    let Some(url) = std::env::var("DAKA_TEST_POSTGRES_TLS")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: set DAKA_TEST_POSTGRES_TLS (scripts/pg.sh url-tls)");
        return;
    };
    // The other CA of the cluster's directory signed nothing.
    assert!(url.ends_with("/ca.pem"), "{url}");
    let url = format!("{}other-ca.pem", url.strip_suffix("ca.pem").unwrap());
    let output = daka()
        .args(["serve", "--listen", "127.0.0.1:0", "--db", &url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let other = url.rsplit_once("sslrootcert=").unwrap().1;
    assert!(
        stderr.contains(&format!(
            "the database's certificate is not issued by a CA of sslrootcert={other} \
             (sslmode=verify-full)"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn serve_refuses_a_pool_of_fewer_than_two_connections() {
    // A write reads on a second connection while its transaction holds the first.
    for n in ["0", "1", "1001"] {
        let output = daka()
            .args(["serve", "--db-pool-size", n])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{n}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--db-pool-size"), "{stderr}");
        assert!(stderr.contains("2..=1000"), "{stderr}");
    }
}

#[test]
fn serve_refuses_an_unknown_log_level_naming_the_choices() {
    let output = daka()
        .args(["serve", "--log-level", "loud"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("'loud'"), "{stderr}");
    assert!(stderr.contains("off, error, warn, info, debug"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn serve_runs_its_clock_from_clock_start() {
    let dir = tempfile::tempdir().unwrap();
    // stderr stays open while the server runs: it writes a line per request there.
    let (mut child, addr, lines, _stderr) = spawn_serve(
        &dir.path().join("server.db"),
        &["--clock-start", "2026-12-01T09:50:00+08:00"],
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("clock runs from 2026-12-01T09:50:00+08:00")),
        "{lines:?}"
    );
    // The admin API answers with the server's time: the given instant, moving on.
    let response = get_with(
        &addr,
        "/admin/v1/punches?limit=1",
        "Authorization: Bearer hl-demo-admin-token-change-me-0001\r\n",
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("\"server_time\":\"2026-12-01T01:50:0"),
        "{response}"
    );
}

#[test]
fn serve_refuses_a_clock_start_that_is_not_a_time() {
    let output = daka()
        .args(["serve", "--clock-start", "tomorrow"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--clock-start"), "{stderr}");
}

#[test]
fn serve_refuses_a_trusted_proxy_that_is_not_a_network() {
    let output = daka()
        .args(["serve", "--trusted-proxy", "10.0.0.0/33"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not an address or a network"), "{stderr}");
}

#[test]
fn serve_refuses_map_tiles_that_are_not_a_tile_template() {
    for (template, words) in [
        ("https://tile.example/{z}/{x}.png", "must contain {y}"),
        ("ftp://tile.example/{z}/{x}/{y}.png", "http:// or https://"),
    ] {
        let output = daka()
            .args(["serve", "--map-tiles", template])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{template}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--map-tiles") && stderr.contains(words),
            "{stderr}"
        );
    }
}

/// A raw HTTP/1.1 request (`Connection: close`); the whole response.
fn request(addr: &str, head: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[cfg(unix)]
#[test]
fn serve_writes_json_logs_with_request_ids_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, lines, mut stderr) = spawn_serve(
        &dir.path().join("server.db"),
        &[
            "--log-format",
            "json",
            "--metrics-token",
            "metrics-token-of-the-test",
        ],
    );
    const ADMIN: &str = "hl-demo-admin-token-change-me-0001";
    const PASSWORD: &str = "daka-demo-hr-2026";
    const CSRF: &str = "csrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrf123";
    let health = get_with(&addr, "/health", "X-Request-Id: json-health-1\r\n");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let punches = get_with(
        &addr,
        "/admin/v1/punches?limit=1",
        &format!("Authorization: Bearer {ADMIN}\r\nX-Request-Id: json-admin-1\r\n"),
    );
    assert!(punches.starts_with("HTTP/1.1 200"), "{punches}");
    let login = request(
        &addr,
        &format!(
            "POST /console/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Cookie: daka_csrf={CSRF}\r\nX-Request-Id: json-login-1"
        ),
        &format!("csrf={CSRF}&email=hr%40harbour-lane.example&password={PASSWORD}"),
    );
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let session = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: daka_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("{login}"));
    assert!(session.len() >= 20, "{session}");
    let metrics = get_with(
        &addr,
        "/metrics",
        "Authorization: Bearer metrics-token-of-the-test\r\n",
    );
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("daka_http_requests_total"), "{metrics}");

    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");

    // Every line is a JSON object, before and after the server started listening.
    let all: Vec<String> = lines
        .into_iter()
        .chain(rest.lines().map(str::to_owned))
        .collect();
    let events: Vec<serde_json::Value> = all
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let access = |id: &str| {
        events
            .iter()
            .find(|e| e["target"] == "daka_server::access" && e["span"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no access event for {id}: {all:#?}"))
            .clone()
    };
    let health = access("json-health-1");
    assert_eq!(health["level"], "INFO");
    assert_eq!(health["message"], "answered");
    assert_eq!(health["status"], 200);
    assert_eq!(health["span"]["route"], "/health");
    assert!(health["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(
        chrono::DateTime::parse_from_rfc3339(health["timestamp"].as_str().unwrap()).is_ok(),
        "{health}"
    );
    assert_eq!(access("json-admin-1")["span"]["route"], "/admin/v1/punches");
    let login = access("json-login-1");
    assert_eq!(login["status"], 303);
    assert_eq!(login["span"]["route"], "/console/login");
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("stopping"))),
        "{all:#?}"
    );
    // No secret reached the log.
    let log = all.join("\n");
    for secret in [
        ADMIN,
        PASSWORD,
        CSRF,
        session.as_str(),
        "metrics-token-of-the-test",
    ] {
        assert!(!log.contains(secret), "{secret} was logged: {log}");
    }
}

#[test]
fn serve_refuses_a_short_metrics_token_and_an_unknown_log_format() {
    for (args, words) in [
        (
            ["--metrics-token", "short"],
            ["--metrics-token", "16 to 256"],
        ),
        (["--log-format", "xml"], ["'xml'", "text, json"]),
    ] {
        let output = daka().arg("serve").args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(words.iter().all(|w| stderr.contains(w)), "{stderr}");
    }
}

#[test]
fn serve_refuses_an_attestation_config_it_cannot_use_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"app_attest": {"environment": "staging"}}"#).unwrap();
    for (file, words) in [(&missing, "No such file"), (&bad, "app_attest.environment")] {
        let output = daka()
            .args(["serve", "--attestation-config"])
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", file.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--attestation-config") && stderr.contains(words),
            "{stderr}"
        );
    }
}

#[cfg(unix)]
#[test]
fn serve_verifies_the_attestation_formats_its_config_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("attestation.json");
    std::fs::write(&config, r#"{"app_attest": {"environment": "production"}}"#).unwrap();
    let (mut child, addr, lines, _stderr) = spawn_serve(
        &dir.path().join("server.db"),
        &["--attestation-config", config.to_str().unwrap()],
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("verifies enrolment attestations: app_attest")),
        "{lines:?}"
    );
    let body = r#"{"code": "HL-E1001-DEMO-0001", "public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
    let response = request(
        &addr,
        "POST /v1/enroll/challenge HTTP/1.1\r\nContent-Type: application/json",
        body,
    );
    child.kill().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#""formats":["app_attest"]"#),
        "{response}"
    );
    assert!(response.contains(r#""attestation":"off""#), "{response}");
}
