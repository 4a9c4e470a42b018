//! Golden months: whole months of policy and records under `tests/fixtures/attendance/`, with
//! the results worked out by hand in each fixture's `expected.json` (the reasoning is in its
//! `README.md`). The engine's results are compared field by field; a difference names the
//! fixture, the employee, the date and the field.
//!
//! Each month is also computed the other ways a phone or a server would: one day at a time,
//! after a JSON round trip of the records, and with the punches delivered in other orders.
//! All must give the same results.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use daka_core::Policy;
use daka_core::attendance::{AttendanceEngine, DayResult, EmployeeRecords, Month, MonthSummary};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attendance")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_of(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn date(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().expect("a date string"), "%Y-%m-%d").expect("a date")
}

/// A day result as `expected.json` writes it: findings by code only.
fn day_view(d: &DayResult) -> Value {
    let mut v = serde_json::to_value(d).expect("day to json");
    v["findings"] = d.findings.iter().map(|f| json!(f.code.as_str())).collect();
    v
}

/// A month summary as `expected.json` writes it: the month as `YYYY-MM`, warnings by code and
/// date only.
fn summary_view(s: &MonthSummary) -> Value {
    let mut v = serde_json::to_value(s).expect("summary to json");
    v["month"] = json!(s.month.to_string());
    v["warnings"] = s
        .warnings
        .iter()
        .map(|w| json!({"code": w.code.as_str(), "date": w.date.to_string()}))
        .collect();
    v
}

/// Compares every field `want` names with `got`: objects by the keys `want` has, arrays
/// element by element (same length), anything else by equality. Differences are appended to
/// `errors`, each with its path.
fn compare(path: &str, want: &Value, got: &Value, errors: &mut String) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => compare(&p, wv, gv, errors),
                    None => {
                        let _ = writeln!(errors, "{p}: engine has no such field, expected {wv}");
                    }
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                compare(&format!("{path}[{i}]"), wv, gv, errors);
            }
        }
        _ if want == got => {}
        _ => {
            let _ = writeln!(errors, "{path}: engine {got}, expected {want}");
        }
    }
}

fn records_of(path: &Path) -> EmployeeRecords {
    let mut r: EmployeeRecords = serde_json::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{}: not EmployeeRecords: {e}", path.display()));
    r.normalise();
    r
}

/// Runs one fixture directory; returns its differences from the hand-worked results.
fn run_fixture(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let policy = Policy::from_json(&read(&dir.join("policy.json")))
        .unwrap_or_else(|e| panic!("{name}/policy.json: {e}"));
    let expected = json_of(&dir.join("expected.json"));
    let month = Month::parse(expected["month"].as_str().expect("month")).expect("YYYY-MM");
    let now: DateTime<Utc> = expected["now"]
        .as_str()
        .expect("now")
        .parse()
        .expect("RFC 3339 now");
    let engine = AttendanceEngine::new(&policy);
    let mut errors = String::new();

    for person in expected["employees"].as_array().expect("employees") {
        let employee = person["employee"].as_str().expect("employee");
        let at = format!("{name} {employee}");
        let records = records_of(&dir.join(person["records"].as_str().expect("records file")));
        let (summary, days) = engine
            .month(employee, month, &records, now)
            .unwrap_or_else(|e| panic!("{at}: {e}"));

        // Day by day, field by field.
        let want_days = person["days"].as_array().expect("days");
        if want_days.len() != days.len() {
            let _ = writeln!(
                errors,
                "{at}: engine gives {} days, expected {}",
                days.len(),
                want_days.len()
            );
        }
        for want in want_days {
            let d = date(&want["date"]);
            match days.iter().find(|r| r.date == d) {
                Some(got) => compare(&format!("{at} {d}"), want, &day_view(got), &mut errors),
                None => {
                    let _ = writeln!(errors, "{at} {d}: no result from the engine");
                }
            }
        }
        compare(
            &format!("{at} summary"),
            &person["summary"],
            &summary_view(&summary),
            &mut errors,
        );

        // Plans, leave ranges and roster checks the fixture asks about.
        for want in person["plans"].as_array().into_iter().flatten() {
            let d = date(&want["date"]);
            let plan = engine.plans(employee, d, d).expect("plan")[0];
            let got = json!({"date": plan.date.to_string(), "kind": plan.kind.as_str(), "holiday": plan.holiday.map(|h| h.to_string())});
            compare(&format!("{at} plan {d}"), want, &got, &mut errors);
        }
        if let Some(want) = person.get("leave_working_days") {
            let got = engine
                .leave_working_days(employee, date(&want["from"]), date(&want["to"]))
                .expect("leave days");
            let got: Vec<String> = got.iter().map(|d| d.to_string()).collect();
            compare(
                &format!("{at} leave_working_days"),
                &want["days"],
                &json!(got),
                &mut errors,
            );
        }
        if let Some(want) = person.get("rest_day_warnings") {
            let got = engine
                .rest_day_warnings(employee, date(&want["from"]), date(&want["to"]))
                .expect("rest-day warnings");
            let got: Vec<Value> = got
                .iter()
                .map(|w| json!({"code": w.code.as_str(), "date": w.date.to_string()}))
                .collect();
            compare(
                &format!("{at} rest_day_warnings"),
                &want["warnings"],
                &json!(got),
                &mut errors,
            );
        }

        // One function on the phone and on the server: a day computed alone equals the same
        // day of the month, and the month's days equal a range of days.
        for d in &days {
            let alone = engine
                .day(employee, d.date, &records, now)
                .expect("one day");
            assert_eq!(
                &alone, d,
                "{at} {}: the day alone differs from the month",
                d.date
            );
        }
        let (first, last) = (month.first().expect("first"), month.last().expect("last"));
        let range = engine
            .days(employee, first, last, &records, now)
            .expect("days");
        assert_eq!(range, days, "{at}: days(first, last) differs from month()");

        // Records sent over the wire (phone → server) give the same month, and the results
        // survive a JSON round trip (server → phone).
        let wire = serde_json::to_string(&records).expect("records to json");
        let mut received: EmployeeRecords = serde_json::from_str(&wire).expect("records back");
        received.normalise();
        let again = engine
            .month(employee, month, &received, now)
            .expect("month again");
        assert_eq!(
            again,
            (summary.clone(), days.clone()),
            "{at}: after the wire"
        );
        let back: Vec<DayResult> =
            serde_json::from_str(&serde_json::to_string(&days).expect("days to json"))
                .expect("days back");
        assert_eq!(back, days, "{at}: day results do not survive JSON");
        let back: MonthSummary =
            serde_json::from_str(&serde_json::to_string(&summary).expect("summary to json"))
                .expect("summary back");
        assert_eq!(back, summary, "{at}: the summary does not survive JSON");

        // Any delivery order of the punches, with some delivered twice, changes nothing.
        let n = records.punches.len();
        for seed in 0..8u64 {
            let mut shuffled = records.clone();
            shuffled.punches.reverse();
            shuffled
                .punches
                .extend(records.punches.iter().take(seed as usize % 4).cloned());
            fastrand::Rng::with_seed(seed).shuffle(&mut shuffled.punches);
            shuffled.leave.reverse();
            shuffled.overtime.reverse();
            shuffled.normalise();
            assert_eq!(shuffled.punches.len(), n, "{at}: duplicates are dropped");
            let got = engine
                .month(employee, month, &shuffled, now)
                .expect("shuffled month");
            assert_eq!(
                got,
                (summary.clone(), days.clone()),
                "{at}: punch order {seed} changes the month"
            );
        }
    }
    errors
}

#[test]
fn golden_months_match_the_hand_worked_results() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let names: Vec<String> = dirs
        .iter()
        .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        ["office-2026-12", "part-timer-2026-01", "warehouse-2026-10"],
        "the golden fixtures"
    );
    let mut errors = String::new();
    for dir in &dirs {
        errors.push_str(&run_fixture(dir));
    }
    assert!(
        errors.is_empty(),
        "the engine differs from the hand-worked results:\n{errors}"
    );
}
