//! What daka logs, captured from every thread of a real enrolment, punches and sync rounds
//! against the real server: the events an app's log sink and a server operator rely on are
//! there, and nothing secret is: no bearer token, no signed record or its signature, no
//! request or response body.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use daka_core::punch::PunchKind;
use daka_device::PunchInput;
use support::*;

/// Everything written by the global subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_tell_what_happened_and_nothing_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let server = start_server(dir.path(), &timeline, seed(policy(false, 42), 1)).await;
    let url = format!("http://{}", server.addr());
    let phone = open_device(dir.path(), "phone", &timeline, 5_000);
    phone
        .enroll(&url, &code("E1001", 0), "Pixel 8", "android")
        .await
        .unwrap();
    let mut records = Vec::new();
    for (n, kind) in [(1.0, PunchKind::In), (2.0, PunchKind::Out)] {
        timeline.advance_ms(60_000);
        let (fix, wifi) = evidence("E1001", &timeline, n);
        let outcome = phone
            .punch(PunchInput {
                kind,
                fix,
                more_fixes: Vec::new(),
                wifi_bssids: wifi,
                face: None,
            })
            .unwrap();
        records.push(outcome.record.expect("recorded"));
    }
    let report = phone.sync_now(&|_| {}).await.unwrap();
    assert_eq!(report.accepted, 2);

    let token: String = rusqlite::Connection::open(dir.path().join("phone.db"))
        .unwrap()
        .query_row("SELECT bearer_token FROM device", [], |r| r.get(0))
        .unwrap();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "device enrolled",
        "policy installed",
        "sync round finished",
        "accepted=2",
        "push applied",
        "daka server listening",
    ] {
        assert!(
            logs.contains(expected),
            "{expected:?} missing from:\n{logs}"
        );
    }
    assert!(token.len() >= 32, "{token}");
    assert!(
        !logs.contains(&token),
        "the bearer token is in the logs:\n{logs}"
    );
    for record in &records {
        assert!(
            !logs.contains(&record.sig),
            "a record signature is in the logs"
        );
        let json = record.to_json().unwrap();
        assert!(!logs.contains(&json), "a record is in the logs");
        assert!(
            !logs.contains("\"evidence\""),
            "a record body is in the logs"
        );
    }
}
