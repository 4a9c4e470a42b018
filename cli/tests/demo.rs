//! `daka demo`, the README's first command, runs the whole day and its month end to end on a
//! fresh temporary directory, exits 0, and tells the story it promises: the punches of the
//! day, the expense claim that follows, and Chan's December with its summary and export.

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
        // Chan's December.
        "Thu 03 Dec 10:12  A signal fault on the Island Line: Chan clocks in at 10:12",
        "late                     late 12 min: clocked in 10:12, shift starts 10:00, grace 0 min",
        "route: Manager: Lee Ka Yan 李家欣 (E0101)  →  Department head: Wong Siu Ming 黃小明 (E0001); 2 days held (available 12)",
        "2 days taken, 12 available",
        "the balance moves by 2 days only, for Thu 24 Dec and Mon 28 Dec: the 25 and 26 are statutory holidays the store takes off, the 27 is a Sunday",
        "missing_clock_out        no clock-out after the clock-in at 09:56: counted to the scheduled end 19:00",
        "after sync, Tue 08 Dec on the phone: normal, 8 h 07 min worked, out at 19:03 (corrected), confirmed by the server",
        "Fri 18 Dec 21:05  Chan clocks out after the stock-take (in at 10:00)",
        "the day, confirmed by the server: overtime counted 120 min (approved 120, punched 125: the lesser, in 30-min units, paid)",
        "Mon 21 – Sat 26 Dec  3 days at the store",
        "days due 25, attended 23, late 1 (12 min), missing punches 0, absences 0",
        "continuous contract: met; the 5 weeks from Wed 02 Dec, the first on record, meet the test",
        "open http://127.0.0.1:8080/console/ and sign in as\n    hr@harbour-lane.example (password daka-demo-hr-2026)",
        "leave: annual 2 days; holidays 2 (25, 26 Dec); rest days 4",
        "overtime 2 h (workday, paid)",
        "warning hk_hours_record",
        "31 of 31 days confirmed by the server",
        "HR locks December for payroll",
        "attendance-2026-12.xlsx (in the temporary directory",
        "daka report --db ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("DUPLICATE"), "{text}");
    // The workbook went to the temporary directory, which is gone once the demo ends.
    let line = text
        .lines()
        .find(|l| l.contains("XLSX written to "))
        .unwrap_or_else(|| panic!("no XLSX line in:\n{text}"));
    let path = line
        .split("XLSX written to ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap();
    assert!(path.ends_with("attendance-2026-12.xlsx"), "{line}");
    assert!(
        !std::path::Path::new(path).exists(),
        "{path} was left behind"
    );
}

/// With `--keep`, December's workbook stays in the kept directory beside the server's
/// database, and the next steps name both.
#[test]
fn the_demo_keeps_the_month_export_with_keep() {
    let out = Command::new(env!("CARGO_BIN_EXE_daka"))
        .args(["demo", "--keep"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("XLSX written to "))
        .unwrap_or_else(|| panic!("no XLSX line in:\n{text}"));
    assert!(line.ends_with(" (kept)"), "{line}");
    let path = std::path::PathBuf::from(
        line.split("XLSX written to ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap(),
    );
    let dir = path.parent().unwrap().to_path_buf();
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.starts_with(b"PK"),
        "{} is not a workbook",
        path.display()
    );
    let report = format!(
        "  daka report --db {} --month 2026-12 --format xlsx --out dec.xlsx",
        dir.join("server.db").display()
    );
    assert!(text.contains(&report), "missing {report:?} in:\n{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
