//! The system clock across processes (Linux here): the monotonic clock is the boot's, so a
//! new process of the same boot reads the same boot id and a reading between the parent's
//! two; and the server-time anchor taken at enrolment survives a reopen of the device store
//! in a new process (a relaunched app): its punch is timed from the anchor, without
//! `untrusted_time`. After a reboot (another boot id) the anchor is discarded, not misused.

mod common;

use std::process::Command;
use std::sync::Arc;

use daka_core::evidence::DeviceClock;
use daka_core::evidence::time::TimeSource;
use daka_core::punch::PunchKind;
use daka_device::{ClockSource, Device, SystemClock, UnprotectedKeyStore};
use daka_server::{Server, ServerConfig};

/// Set for a child process: what it must do (`clock` or the store path to punch with).
const CHILD: &str = "DAKA_CLOCK_TEST_CHILD";

/// Runs `test` of this file in a new process with [`CHILD`] set to `task`; returns its
/// output after checking it passed.
fn child(test: &str, task: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(CHILD, task)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "child: {text}"
    );
    text
}

/// The value after `key=` on the child's line starting with `prefix`.
fn field<'a>(text: &'a str, prefix: &str, key: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} line in {text}"));
    line.split(' ')
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[test]
fn the_boot_clock_is_shared_by_the_processes_of_one_boot() {
    if std::env::var(CHILD).as_deref() == Ok("clock") {
        let c = SystemClock::new().now();
        println!("CLOCK mono={} boot={}", c.monotonic_ms, c.boot_id);
        return;
    }
    let before = SystemClock::new().now();
    let text = child(
        "the_boot_clock_is_shared_by_the_processes_of_one_boot",
        "clock",
    );
    let after = SystemClock::new().now();
    let mono: u64 = field(&text, "CLOCK", "mono").parse().unwrap();
    let boot = field(&text, "CLOCK", "boot");
    assert_eq!(
        boot, before.boot_id,
        "the kernel's boot id, not the process's"
    );
    assert!(!boot.starts_with("process-"), "{boot}");
    assert!(
        before.monotonic_ms <= mono && mono <= after.monotonic_ms,
        "{} <= {mono} <= {}",
        before.monotonic_ms,
        after.monotonic_ms
    );
    // Counting from boot, not from the process's start: the machine has been up for longer
    // than this test.
    let uptime_s: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        before.monotonic_ms as f64 >= (uptime_s - 1.0) * 1000.0,
        "{} ms against an uptime of {uptime_s} s",
        before.monotonic_ms
    );
}

/// The system clock as after a reboot: another boot id (the monotonic reading is kept, which
/// a real reboot would reset; the id alone must be enough to drop the anchor).
struct Rebooted(SystemClock);

impl ClockSource for Rebooted {
    fn now(&self) -> DeviceClock {
        DeviceClock {
            boot_id: "another-boot".into(),
            ..self.0.now()
        }
    }
}

fn punch_time_source(device: &Device) -> (TimeSource, Vec<String>) {
    let outcome = device.punch(common::store_punch(PunchKind::In)).unwrap();
    assert!(outcome.record.is_some(), "{:?}", outcome.verdict);
    let codes = outcome
        .verdict
        .reasons
        .iter()
        .map(|r| r.code.as_str().to_string())
        .collect();
    (outcome.verdict.time_source, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_anchor_survives_a_relaunch_and_not_a_reboot() {
    if let Ok(path) = std::env::var(CHILD) {
        // The relaunched app: a new process opens the same store, offline.
        let device = Device::builder(&path)
            .key_store(&UnprotectedKeyStore)
            .open()
            .unwrap();
        let (source, codes) = punch_time_source(&device);
        println!("PUNCH source={source:?} codes={}", codes.join(","));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServerConfig {
        db_path: dir.path().join("server.db"),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: Some(common::seed(
            "clock-test-admin-token-00000001",
            &["CLOCK-E1001-0001".to_string()],
        )),
    })
    .await
    .unwrap();
    let store = dir.path().join("phone.db");
    {
        let device = Device::builder(&store)
            .key_store(&UnprotectedKeyStore)
            .open()
            .unwrap();
        device
            .enroll(&server.url(), "CLOCK-E1001-0001", "Chan's phone", "test")
            .await
            .unwrap();
    }

    let text = child(
        "the_time_anchor_survives_a_relaunch_and_not_a_reboot",
        store.to_str().unwrap(),
    );
    assert_eq!(field(&text, "PUNCH", "source"), "ServerAnchor", "{text}");
    let codes = field(&text, "PUNCH", "codes");
    assert!(!codes.contains("untrusted_time"), "{codes}");

    // Another boot: the stored anchor is not used, and the punch says so.
    let rebooted = Device::builder(&store)
        .key_store(&UnprotectedKeyStore)
        .clock(Arc::new(Rebooted(SystemClock::new())))
        .open()
        .unwrap();
    let (source, codes) = punch_time_source(&rebooted);
    assert_eq!(source, TimeSource::DeviceWall);
    assert!(codes.iter().any(|c| c == "untrusted_time"), "{codes:?}");
}
