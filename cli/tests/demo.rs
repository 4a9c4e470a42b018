//! `daka demo`, the README's first command, runs the whole day end to end on a fresh
//! temporary directory, exits 0, and tells the story it promises: the punches of the day and
//! the requests that follow.

use std::process::Command;

#[test]
fn the_demo_runs_the_day_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_daka"))
        .arg("demo")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "policy v42 fetched, signature checked against the organisation key",
        "08:55  Clock in at the store",
        "mock_location",
        "face_token_wrong_subject",
        "12:30  Lunch in the basement food court: no network",
        "sync: the server cannot be reached; 1 waiting",
        "13:28  Back from lunch, GPS drifting between the towers (±40 m)\n       ACCEPTED\n         inside_fence             14 m inside Causeway Bay Store (Hennessy Road) 銅鑼灣店: 69.59 % likely there (accuracy ±40 m)",
        "draft check: 2 problem(s) in the form: amount:",
        "route, previewed offline: Manager: Lee Ka Yan 李家欣 (E0101)  →  Finance: Ho Wing Kei 何永基 (E0201)",
        "outbox: 4 items waiting (punches and the claim), the oldest for 6 h 32 min",
        "sync: 4 of 4 sent",
        "4 punches on the phone, 4 on the server, each exactly once",
        "4 records, verifies",
        "bad_signature",
        "inbox: expense from Chan Tai Man 陳大文 (E1001), HKD 6,200.00",
        "refused by the server: self_approval",
        "is APPROVED (revision 1)",
        "approve   Ho Wing Kei 何永基 (E0201)",
        "2 days taken, 12 available",
        "at 08:58, marked as a correction",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("DUPLICATE"), "{text}");
}
