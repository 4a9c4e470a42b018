//! Attendance on the server, end to end over loopback: real signed punches and requests pushed
//! by enrolled test devices, the server recomputing the days they touch, storing the results
//! and sending them to the employee's devices as `day_result` changes; month locks and late
//! changes; the month endpoint and the XLSX export agreeing; a recompute queued before a stop
//! done at the next start; and bad parameters answered with typed errors.
//!
//! Every expected day result is computed here with the same engine from the records the test
//! made, and compared whole with what the server sent.

mod common;

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use calamine::{Data, DataType, Reader, Xlsx, open_workbook_from_rs};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use common::*;
use daka_core::Policy;
use daka_core::approvals::Action;
use daka_core::attendance::plan::local_instant;
use daka_core::attendance::{
    AttendanceEngine, AttendancePunch, DayKind, DayResult, EmployeeRecords, PunchState,
};
use daka_core::protocol::{Change, ItemStatus};
use daka_core::punch::PunchKind;
use daka_server::storage::AttendanceMark;
use daka_server::{Server, ServerConfig, ServerOptions};
use serde_json::{Value, json};
use uuid::Uuid;

/// A server clock the test moves: the system clock plus an offset.
#[derive(Clone, Default)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn options(&self) -> ServerOptions {
        let offset = self.0.clone();
        ServerOptions {
            clock: Some(Arc::new(move || {
                Utc::now() + Duration::milliseconds(offset.load(Ordering::SeqCst))
            })),
            ..ServerOptions::default()
        }
    }

    fn advance(&self, by: Duration) {
        self.0.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.0.load(Ordering::SeqCst))
    }
}

fn policy() -> Policy {
    Policy::from_json(&hk_policy_text()).unwrap()
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&policy().time_zone()).date_naive()
}

/// Working days of E1001 (store, Monday to Saturday) at least two days before today, latest
/// first.
fn past_workdays() -> Vec<NaiveDate> {
    let p = policy();
    let engine = AttendanceEngine::new(&p);
    let to = today() - Duration::days(2);
    let mut days: Vec<NaiveDate> = engine
        .plans("E1001", to - Duration::days(20), to)
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == DayKind::Workday)
        .map(|d| d.date)
        .collect();
    days.reverse();
    days
}

/// Submits a request from `dev`; its id (the server must accept it).
async fn submit(server: &TestServer, dev: &TestDevice, template: &str, form: Value) -> String {
    let (id, r) = try_submit(server, dev, template, form).await;
    assert_eq!(r.status, ItemStatus::Accepted, "{r:?}");
    id
}

/// `dev` approves the request.
async fn approve(server: &TestServer, dev: &TestDevice, request_id: &str) {
    let item = decision_item(dev, request_id, Action::Approve { comment: None });
    let r = server.push(dev, vec![item]).await.remove(0);
    assert_eq!(r.status, ItemStatus::Accepted, "{r:?}");
}

/// Every `day_result` in the device's feed, oldest first.
async fn day_results(server: &TestServer, dev: &TestDevice) -> Vec<(DayResult, u64)> {
    let client = server.client();
    let mut cursor: Option<String> = None;
    let mut out = Vec::new();
    loop {
        let page = client.changes(&dev.token, cursor.as_deref()).await.unwrap();
        for c in page.changes {
            if let Change::DayResult {
                result,
                policy_version,
            } = c
            {
                out.push((result, policy_version));
            }
        }
        cursor = Some(page.cursor);
        if !page.more {
            return out;
        }
    }
}

/// The stored day results of `employee` for `from..=to` (admin endpoint).
async fn stored_days(
    server: &TestServer,
    employee: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<DayResult> {
    let (status, body) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/attendance/days?employee={employee}&from={from}&to={to}"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_value(d["result"].clone()).unwrap())
        .collect()
}

async fn stored_day(server: &TestServer, employee: &str, day: NaiveDate) -> DayResult {
    let mut days = stored_days(server, employee, day, day).await;
    assert_eq!(days.len(), 1, "{day}");
    days.remove(0)
}

/// When the server judged each of the organisation's punches.
async fn judged_at(server: &TestServer, punch_id: &str) -> DateTime<Utc> {
    let (_, body) = server.admin_get(ADMIN_A, "/admin/v1/punches").await;
    let p = body["punches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["punch_id"] == punch_id)
        .unwrap()
        .clone();
    serde_json::from_value(p["judged_at"].clone()).unwrap()
}

/// The one day (of the punch's date and the days either side) whose result `punch` changes,
/// computed with the engine.
fn day_of_punch(punch: &AttendancePunch, now: DateTime<Utc>) -> DayResult {
    let p = policy();
    let engine = AttendanceEngine::new(&p);
    let d = punch.at.with_timezone(&p.time_zone()).date_naive();
    let (from, to) = (d - Duration::days(1), d + Duration::days(1));
    let without = engine
        .days("E1001", from, to, &EmployeeRecords::default(), now)
        .unwrap();
    let mut records = EmployeeRecords {
        punches: vec![punch.clone()],
        ..Default::default()
    };
    records.normalise();
    let with = engine.days("E1001", from, to, &records, now).unwrap();
    let mut changed: Vec<DayResult> = with
        .into_iter()
        .zip(without)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    changed.remove(0)
}

fn hk(day: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    local_instant(policy().time_zone(), day, hh * 60 + mm)
}

#[tokio::test]
async fn a_punch_delivered_three_days_late_recomputes_its_day_and_reaches_the_device() {
    let clock = Clock::default();
    let server = TestServer::start_with(clock.options()).await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let record = dev.good_record();
    // The phone was offline for three days.
    clock.advance(Duration::days(3));
    let r = server.push(&dev, vec![dev.item(&record)]).await;
    assert_result(&r[0], ItemStatus::Accepted, None);

    let id = record.body.id.to_string();
    let punch = AttendancePunch {
        id: id.clone(),
        at: judged_at(&server, &id).await,
        kind: PunchKind::In,
        state: PunchState::Accepted,
    };
    let expected = day_of_punch(&punch, clock.now());
    let feed = day_results(&server, &dev).await;
    let sent: Vec<&DayResult> = feed
        .iter()
        .filter(|(d, _)| d.date == expected.date)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(sent, vec![&expected], "the feed: {feed:?}");
    assert!(
        feed.iter().all(|(_, v)| *v == policy().version),
        "computed under the current policy"
    );
    // A day whose clock-in was never followed by a clock-out, three days later.
    assert_ne!(expected.status.as_str(), "in_progress");
    assert_eq!(stored_day(&server, "E1001", expected.date).await, expected);

    // Recomputing the same days again stores nothing and sends nothing.
    let storage = server.server.storage().clone();
    let before = feed.len();
    let d = expected.date;
    let now = clock.now();
    let report = tokio::task::spawn_blocking(move || {
        storage
            .mark_attendance(
                &AttendanceMark {
                    seq: 0,
                    org_id: ORG_A.into(),
                    employee_id: Some("E1001".into()),
                    cause: "test".into(),
                    at: None,
                    days: Some((d - Duration::days(5), d)),
                },
                now,
            )
            .unwrap();
        daka_server::attendance::recompute::run(storage.as_ref(), now).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(report.marks, 1);
    assert_eq!(report.computed, 6);
    assert_eq!(report.outcome.stored, 0, "{report:?}");
    assert_eq!(report.outcome.unchanged, 6);
    assert_eq!(day_results(&server, &dev).await.len(), before);
}

#[tokio::test]
async fn approved_corrections_turn_a_missing_clock_out_normal_and_reach_the_device() {
    let server = TestServer::start().await;
    let applicant = server.enroll("A-E1001-0001").await;
    let manager = server.enroll("A-E0101-0001").await;
    let day = past_workdays()[0];
    assert_eq!(
        stored_day(&server, "E1001", day).await.status.as_str(),
        "absent"
    );

    let correction = |kind: &str, time: &str| json!({"date": day.to_string(), "punch_kind": kind, "time": time, "reason": "phone battery was flat"});
    let first = submit(
        &server,
        &applicant,
        "missed_punch",
        correction("in", "10:00"),
    )
    .await;
    approve(&server, &manager, &first).await;
    let p = policy();
    let engine = AttendanceEngine::new(&p);
    let punch = |id: &str, at, kind| AttendancePunch {
        id: id.into(),
        at,
        kind,
        state: PunchState::Corrected,
    };
    let mut records = EmployeeRecords {
        punches: vec![punch(&first, hk(day, 10, 0), PunchKind::In)],
        ..Default::default()
    };
    let expected = engine.day("E1001", day, &records, Utc::now()).unwrap();
    assert_eq!(expected.missing_clock_out, 1, "{expected:?}");
    assert_eq!(stored_day(&server, "E1001", day).await, expected);

    let second = submit(
        &server,
        &applicant,
        "missed_punch",
        correction("out", "19:00"),
    )
    .await;
    approve(&server, &manager, &second).await;
    records
        .punches
        .push(punch(&second, hk(day, 19, 0), PunchKind::Out));
    records.normalise();
    let normal = engine.day("E1001", day, &records, Utc::now()).unwrap();
    assert_eq!(normal.missing_clock_out, 0, "{normal:?}");
    assert_eq!(normal.status.as_str(), "normal", "{normal:?}");
    assert_eq!(stored_day(&server, "E1001", day).await, normal);

    // The applicant's phone received both results of the day, in order.
    let sent: Vec<DayResult> = day_results(&server, &applicant)
        .await
        .into_iter()
        .filter(|(d, _)| d.date == day)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(sent, vec![expected, normal]);
}

#[tokio::test]
async fn approved_leave_turns_an_absent_day_into_leave() {
    let server = TestServer::start().await;
    let applicant = server.enroll("A-E1001-0001").await;
    let manager = server.enroll("A-E0101-0001").await;
    let day = past_workdays()[1];
    assert_eq!(
        stored_day(&server, "E1001", day).await.status.as_str(),
        "absent"
    );
    let id = submit(
        &server,
        &applicant,
        "leave",
        json!({"leave_type": "annual", "period": {"start": day.to_string(), "end": day.to_string()}}),
    )
    .await;
    // Submitted, not approved: nothing changes.
    assert_eq!(
        stored_day(&server, "E1001", day).await.status.as_str(),
        "absent"
    );
    approve(&server, &manager, &id).await;
    let on_leave = stored_day(&server, "E1001", day).await;
    assert_eq!(on_leave.status.as_str(), "on_leave", "{on_leave:?}");
    assert_eq!(on_leave.leave[0].leave_type, "annual");
    let sent: Vec<DayResult> = day_results(&server, &applicant)
        .await
        .into_iter()
        .filter(|(d, _)| d.date == day)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(sent, vec![on_leave]);
}

#[tokio::test]
async fn an_approved_field_punch_review_counts_the_pending_punch() {
    let clock = Clock::default();
    let server = TestServer::start_with(clock.options()).await;
    let mut applicant = server.enroll("A-E1001-0001").await;
    let manager = server.enroll("A-E0101-0001").await;
    // A field punch (外勤) at a client's office in Kowloon Bay, delivered the next day.
    let spec = applicant.field_spec();
    let field = applicant.record(spec);
    clock.advance(Duration::days(1));
    let r = server.push(&applicant, vec![applicant.item(&field)]).await;
    assert_result(&r[0], ItemStatus::Accepted, None);
    let id = field.body.id.to_string();
    let mut punch = AttendancePunch {
        id: id.clone(),
        at: judged_at(&server, &id).await,
        kind: PunchKind::Field,
        state: PunchState::Pending,
    };
    let pending = day_of_punch(&punch, clock.now());
    assert_eq!(pending.pending, vec![id.clone()]);
    assert_eq!(stored_day(&server, "E1001", pending.date).await, pending);

    let review = submit(
        &server,
        &applicant,
        "field_punch_review",
        json!({"punch_id": id, "note": "Stocktake at the client's warehouse"}),
    )
    .await;
    approve(&server, &manager, &review).await;
    punch.state = PunchState::Approved;
    let counted = day_of_punch(&punch, clock.now());
    assert!(counted.pending.is_empty(), "{counted:?}");
    assert_ne!(counted, pending);
    assert_eq!(stored_day(&server, "E1001", counted.date).await, counted);
    let sent: Vec<DayResult> = day_results(&server, &applicant)
        .await
        .into_iter()
        .filter(|(d, _)| d.date == counted.date)
        .map(|(d, _)| d)
        .collect();
    assert_eq!(sent.last(), Some(&counted));
}

#[tokio::test]
async fn a_locked_month_records_and_flags_a_late_change_and_keeps_its_result() {
    let server = TestServer::start().await;
    let applicant = server.enroll("A-E1001-0001").await;
    let manager = server.enroll("A-E0101-0001").await;
    let day = past_workdays()[0];
    let month = day.format("%Y-%m").to_string();
    let absent = stored_day(&server, "E1001", day).await;
    assert_eq!(absent.status.as_str(), "absent");

    let lock = |body: Value| {
        server
            .http
            .post(server.url("/admin/v1/attendance/locks"))
            .bearer_auth(ADMIN_A)
            .json(&body)
            .send()
    };
    let r = lock(json!({ "month": month })).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["locked"].clone(), body["changed"].clone()),
        (json!(true), json!(true))
    );
    let body: Value = lock(json!({ "month": month }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["changed"],
        json!(false),
        "locking twice changes nothing"
    );

    // A correction approved after the lock: recorded, flagged, not stored, not sent.
    let id = submit(
        &server,
        &applicant,
        "missed_punch",
        json!({"date": day.to_string(), "punch_kind": "in", "time": "10:00", "reason": "forgot"}),
    )
    .await;
    approve(&server, &manager, &id).await;
    assert_eq!(stored_day(&server, "E1001", day).await, absent);
    assert!(
        day_results(&server, &applicant)
            .await
            .iter()
            .all(|(d, _)| d.date != day)
    );
    let (status, late) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/attendance/late-changes?month={month}"),
        )
        .await;
    assert_eq!(status, 200, "{late}");
    assert_eq!(late["locked"], json!(true));
    let changes = late["late_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{late}");
    let c = &changes[0];
    assert_eq!(c["employee"], "E1001");
    assert_eq!(c["date"], day.to_string());
    assert_eq!(c["cause"], format!("request:{id}"));
    assert_eq!(c["flagged"], json!(true));
    assert_eq!(c["before"]["status"], "absent");
    assert_eq!(c["before"]["worked_min"], 0);
    assert_eq!(c["after"]["status"], "exception");
    assert_eq!(c["after"]["missing_punches"], 1);
    assert!(c["after"]["worked_min"].as_u64().unwrap() > 0, "{c}");
    // Reading again (which recomputes missing days) records nothing twice.
    stored_days(&server, "E1001", day - Duration::days(3), day).await;
    let (_, again) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/attendance/late-changes?month={month}"),
        )
        .await;
    assert_eq!(again["late_changes"].as_array().unwrap().len(), 1);
    let month_of_e1001 = || async {
        let (status, m) = server
            .admin_get(
                ADMIN_A,
                &format!("/admin/v1/attendance/month?month={month}&employee=E1001"),
            )
            .await;
        assert_eq!(status, 200, "{m}");
        m
    };
    let m = month_of_e1001().await;
    assert_eq!(
        (m["locked"].clone(), m["late_changes"].clone()),
        (json!(true), json!(1))
    );
    // The locked month is summarised from the stored results payroll was locked on.
    let locked_absences = m["employees"][0]["absences"].as_u64().unwrap();
    let locked_missing = m["employees"][0]["missing_punches"].as_u64().unwrap();

    // Unlocking (in the trail) takes the change and sends it.
    let r = server
        .http
        .delete(server.url(&format!("/admin/v1/attendance/locks/{month}")))
        .bearer_auth(ADMIN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let taken = stored_day(&server, "E1001", day).await;
    assert_eq!(taken.status.as_str(), "exception");
    assert_eq!(
        serde_json::to_value(&taken).unwrap(),
        c["result"],
        "the recorded change is what is stored after the unlock"
    );
    assert!(
        day_results(&server, &applicant)
            .await
            .iter()
            .any(|(d, _)| *d == taken)
    );
    let m = month_of_e1001().await;
    assert_eq!(m["locked"], json!(false));
    assert_eq!(
        m["employees"][0]["absences"].as_u64().unwrap(),
        locked_absences - 1
    );
    assert_eq!(
        m["employees"][0]["missing_punches"].as_u64().unwrap(),
        locked_missing + 1
    );
    let (_, locks) = server
        .admin_get(ADMIN_A, "/admin/v1/attendance/locks")
        .await;
    assert_eq!(locks["locks"], json!([]));
    let actions: Vec<&str> = locks["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["lock", "unlock"]);
}

#[tokio::test]
async fn the_xlsx_export_has_the_month_endpoints_numbers() {
    let server = TestServer::start().await;
    let applicant = server.enroll("A-E1001-0001").await;
    let manager = server.enroll("A-E0101-0001").await;
    let day = past_workdays()[0];
    let month = day.format("%Y-%m").to_string();
    for (kind, time) in [("in", "10:20"), ("out", "19:00")] {
        let id = submit(
            &server,
            &applicant,
            "missed_punch",
            json!({"date": day.to_string(), "punch_kind": kind, "time": time, "reason": "forgot"}),
        )
        .await;
        approve(&server, &manager, &id).await;
    }
    let (status, m) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/attendance/month?month={month}"),
        )
        .await;
    assert_eq!(status, 200, "{m}");
    let summaries = m["employees"].as_array().unwrap();
    assert_eq!(summaries.len(), 6, "everyone with attendance settings");

    let r = server
        .http
        .get(server.url(&format!(
            "/admin/v1/reports/attendance?month={month}&format=xlsx"
        )))
        .bearer_auth(ADMIN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"attendance-{month}.xlsx\"").as_str()
    );
    let bytes = r.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("Summary").unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 1 + summaries.len());
    let number = |c: &Data| c.as_f64().unwrap();
    for s in summaries {
        let id = s["employee"].as_str().unwrap();
        let row = rows
            .iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("{id} has no row"));
        for (column, field) in [
            ("Days due", "days_due"),
            ("Days attended", "days_attended"),
            ("Late count", "late_count"),
            ("Late minutes", "late_min"),
            ("Early-leave minutes", "early_min"),
            ("Absences", "absences"),
            ("Missing punches", "missing_punches"),
            ("Holidays", "holidays"),
            ("Rest days", "rest_days"),
        ] {
            assert_eq!(
                number(&row[col(column)]),
                s[field].as_f64().unwrap(),
                "{id} {column}"
            );
        }
        for (column, field) in [
            ("Expected hours", "expected_min"),
            ("Worked hours", "worked_min"),
        ] {
            let hours = number(&row[col(column)]);
            assert!(
                (hours * 60.0 - s[field].as_f64().unwrap()).abs() < 1e-6,
                "{id} {column}: {hours}"
            );
        }
    }
    let e1001 = summaries.iter().find(|s| s["employee"] == "E1001").unwrap();
    assert!(e1001["late_count"].as_u64().unwrap() >= 1, "{e1001}");
    let days = book.worksheet_range("Days").unwrap();
    let days_in_month = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .unwrap()
        .iter_days()
        .take_while(|d| d.format("%Y-%m").to_string() == month)
        .count();
    assert_eq!(days.rows().count(), 1 + 6 * days_in_month);

    // The CSV of the days table, named after its sheet.
    let r = server
        .http
        .get(server.url(&format!(
            "/admin/v1/reports/attendance?month={month}&format=csv&sheet=days"
        )))
        .bearer_auth(ADMIN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"attendance-{month}-days.csv\"").as_str()
    );
}

#[tokio::test]
async fn bad_parameters_are_typed_errors_naming_the_parameter() {
    let server = TestServer::start().await;
    for (path, code, names) in [
        (
            "/admin/v1/attendance/days?employee=E9999&from=2026-11-01&to=2026-11-30",
            "unknown_employee",
            "employee: \"E9999\"",
        ),
        (
            "/admin/v1/attendance/month?month=2026-13",
            "invalid_month",
            "month: \"2026-13\"",
        ),
        (
            "/admin/v1/attendance/days?employee=E1001&from=2026-11-30&to=2026-11-01",
            "invalid_range",
            "to: \"2026-11-01\"",
        ),
        (
            "/admin/v1/attendance/days?employee=E1001&from=2026-11-31&to=2026-12-01",
            "invalid_date",
            "from: \"2026-11-31\"",
        ),
        (
            "/admin/v1/reports/attendance?month=2026-11&format=pdf",
            "invalid_format",
            "format: \"pdf\"",
        ),
        (
            "/admin/v1/reports/attendance?month=2026-11&format=csv&sheet=totals",
            "invalid_sheet",
            "sheet: \"totals\"",
        ),
        (
            "/admin/v1/attendance/roster-warnings?from=2026-12-01",
            "missing_parameter",
            "to: ",
        ),
        (
            "/admin/v1/attendance/month?month=2026-11&employe=E1001",
            "unknown_parameter",
            "employe: ",
        ),
        (
            "/admin/v1/attendance/late-changes?month=november",
            "invalid_month",
            "month: \"november\"",
        ),
    ] {
        let (status, body) = server.admin_get(ADMIN_A, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["code"], code, "{path}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with(names), "{path}: {message}");
    }
    let r = server
        .http
        .post(server.url("/admin/v1/attendance/locks"))
        .bearer_auth(ADMIN_A)
        .json(&json!({"month": "2026-13"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_month");
    // Another organisation's token sees nothing of this one, and no token is a 401.
    let r = server
        .http
        .get(server.url("/admin/v1/attendance/locks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn roster_warnings_list_seven_days_without_rest() {
    let server = TestServer::start().await;
    // E1002's December roster (examples/hk-policy.json) rests every 5 to 7 days.
    let (status, body) = server
        .admin_get(
            ADMIN_A,
            "/admin/v1/attendance/roster-warnings?from=2026-12-01&to=2026-12-31",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let p = policy();
    let engine = AttendanceEngine::new(&p);
    let mut expected = Vec::new();
    for person in &p.attendance.people {
        for w in engine
            .rest_day_warnings(
                &person.employee,
                NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            )
            .unwrap()
        {
            expected.push(json!({
                "employee": person.employee, "code": w.code.as_str(),
                "date": w.date.to_string(), "message": w.message
            }));
        }
    }
    assert_eq!(body["warnings"], json!(expected));
}

/// A recompute queued by an input whose process stopped before it ran is done when the server
/// starts again: inputs queue their recompute in their own transaction.
#[tokio::test]
async fn a_recompute_queued_before_a_stop_is_done_at_the_next_start() {
    let server = TestServer::start().await;
    let day = today() - Duration::days(120);
    assert!(
        stored_days_raw(&server, day).await.is_empty(),
        "outside the window a new policy recomputes"
    );
    let TestServer {
        server, db, dir, ..
    } = server;
    server.shutdown().await.unwrap();
    let location = db.location();
    tokio::task::spawn_blocking(move || {
        let storage = common::open_storage(location);
        storage
            .mark_attendance(
                &AttendanceMark {
                    seq: 0,
                    org_id: ORG_A.into(),
                    employee_id: Some("E1001".into()),
                    cause: "punch:lost-in-a-crash".into(),
                    at: Some(hk(day, 12, 0)),
                    days: None,
                },
                Utc::now(),
            )
            .unwrap();
    })
    .await
    .unwrap();
    let restarted = Server::start(ServerConfig {
        db_path: db.location(),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: None,
    })
    .await
    .unwrap();
    let storage = restarted.storage().clone();
    let days = tokio::task::spawn_blocking(move || {
        let marks = storage.attendance_marks(10).unwrap();
        (
            marks,
            storage
                .attendance_days(
                    ORG_A,
                    Some("E1001"),
                    day - Duration::days(1),
                    day + Duration::days(1),
                )
                .unwrap(),
        )
    })
    .await
    .unwrap();
    assert!(days.0.is_empty(), "the queue was drained: {:?}", days.0);
    let dates: Vec<NaiveDate> = days.1.iter().map(|d| d.day).collect();
    assert_eq!(
        dates,
        [day - Duration::days(1), day, day + Duration::days(1)]
    );
    restarted.shutdown().await.unwrap();
    drop(dir);
    drop(db);
}

/// Stored results of E1001 for one day, read from storage without computing missing ones.
async fn stored_days_raw(
    server: &TestServer,
    day: NaiveDate,
) -> Vec<daka_server::storage::StoredDay> {
    let storage = server.server.storage().clone();
    tokio::task::spawn_blocking(move || {
        storage
            .attendance_days(ORG_A, Some("E1001"), day, day)
            .unwrap()
    })
    .await
    .unwrap()
}

/// Days that pass without any input (an absence) are computed by the sweep, and reach the
/// devices.
#[tokio::test]
async fn the_sweep_computes_days_that_passed_without_input() {
    let clock = Clock::default();
    let server = TestServer::start_with(clock.options()).await;
    let dev = server.enroll("A-E1001-0001").await;
    clock.advance(Duration::days(3));
    let storage = server.server.storage().clone();
    let now = clock.now();
    tokio::task::spawn_blocking(move || {
        daka_server::attendance::recompute::sweep(storage.as_ref(), now).unwrap()
    })
    .await
    .unwrap();
    let p = policy();
    let engine = AttendanceEngine::new(&p);
    let yesterday = now.with_timezone(&p.time_zone()).date_naive() - Duration::days(1);
    let expected = engine
        .day("E1001", yesterday, &EmployeeRecords::default(), now)
        .unwrap();
    let raw = stored_days_raw(&server, yesterday).await;
    assert_eq!(raw.len(), 1, "yesterday is stored");
    let stored: DayResult = serde_json::from_str(&raw[0].result).unwrap();
    assert_eq!(stored, expected);
    assert!(
        day_results(&server, &dev)
            .await
            .iter()
            .any(|(d, _)| *d == expected)
    );
}

/// Submits a request from `dev`; its id and the server's answer (accepted or not).
async fn try_submit(
    server: &TestServer,
    dev: &TestDevice,
    template: &str,
    form: Value,
) -> (String, daka_core::protocol::ItemResult) {
    let request_id = Uuid::now_v7();
    let route = preview(dev, template, &form);
    let item = submission_item(dev, request_id, 1, template, form, route);
    (
        request_id.to_string(),
        server.push(dev, vec![item]).await.remove(0),
    )
}

#[tokio::test]
async fn time_off_in_lieu_is_credited_by_rest_day_overtime_and_booked_in_minutes() {
    let server = TestServer::start().await;
    let applicant = server.enroll("A-E1001-0001").await;
    let manager = server.enroll("A-E0101-0001").await;
    // The last Sunday (the store's rest day) at least two days ago: Chan worked 10:00–15:00,
    // recorded by two approved corrections, with 300 minutes of overtime approved in advance.
    // The example policy credits rest-day overtime as time off (the lesser of approved and
    // punched, 30-minute units): 300 minutes.
    let mut sunday = today() - Duration::days(2);
    while sunday.format("%a").to_string() != "Sun" {
        sunday -= Duration::days(1);
    }
    for (kind, time) in [("in", "10:00"), ("out", "15:00")] {
        let id = submit(
            &server,
            &applicant,
            "missed_punch",
            json!({"date": sunday.to_string(), "punch_kind": kind, "time": time, "reason": "stocktake, phone left at home"}),
        )
        .await;
        approve(&server, &manager, &id).await;
    }
    let ot = submit(
        &server,
        &applicant,
        "overtime",
        json!({"date": sunday.to_string(), "minutes": 300, "reason": "Stocktake"}),
    )
    .await;
    approve(&server, &manager, &ot).await;
    let day = stored_day(&server, "E1001", sunday).await;
    assert_eq!(day.kind, DayKind::RestDay);
    let overtime = day.overtime.expect("overtime");
    assert_eq!(
        (overtime.counted_min, overtime.compensation.as_str()),
        (300, "time_off")
    );

    let toil = |b: &Value| -> Value {
        b["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["leave_type"] == "toil")
            .unwrap()["time_off"]
            .clone()
    };
    let balances = |dev: &TestDevice| {
        let server = &server;
        let token = dev.token.clone();
        async move {
            let r = server
                .http
                .get(server.url("/v1/leave-balances"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let b = balances(&applicant).await;
    assert_eq!(toil(&b)["available_min"], 300, "{b}");
    assert_eq!(toil(&b)["credited_min"], 300);
    assert_eq!(
        toil(&b)["next_expiry"],
        (sunday + Duration::days(90)).to_string()
    );
    // Other leave types have no time-off figures.
    assert!(b["balances"][0].get("time_off").is_none(), "{b}");

    // A half day (the store's 480-minute shift: 240 minutes) fits; a full day more does not.
    let p = policy();
    let next = AttendanceEngine::new(&p)
        .plans(
            "E1001",
            today() + Duration::days(7),
            today() + Duration::days(20),
        )
        .unwrap()
        .into_iter()
        .find(|d| d.kind == DayKind::Workday)
        .unwrap()
        .date;
    let (_, half) = try_submit(
        &server,
        &applicant,
        "leave",
        json!({"leave_type": "toil", "period": {"start": next.to_string(), "end": next.to_string(), "start_half": "pm"}}),
    )
    .await;
    assert_eq!(half.status, ItemStatus::Accepted, "{half:?}");
    let b = balances(&applicant).await;
    assert_eq!(
        (&toil(&b)["available_min"], &toil(&b)["booked_min"]),
        (&json!(60), &json!(240)),
        "{b}"
    );
    let (_, full) = try_submit(
        &server,
        &applicant,
        "leave",
        json!({"leave_type": "toil", "period": {"start": next.to_string(), "end": next.to_string()}}),
    )
    .await;
    assert_eq!(full.status, ItemStatus::Rejected, "{full:?}");
    assert_eq!(full.code.as_deref(), Some("insufficient_balance"));
    assert_eq!(
        full.message.as_deref(),
        Some(
            "not enough time off in lieu: 480 min requested, 60 min available (300 min credited by overtime, 0 min taken, 0 min expired, 240 min booked by other requests)"
        )
    );
}

#[tokio::test]
async fn locking_a_month_stores_every_day_of_it_first() {
    // Nobody read the days of the month before last before HR locked it (publishing the
    // policy computes from the first day of last month only): the lock computes and stores
    // them, so every later export of the month reads the same stored days.
    let server = TestServer::start().await;
    let last_month_end = (today().with_day(1).unwrap() - Duration::days(1))
        .with_day(1)
        .unwrap()
        - Duration::days(1);
    let month = last_month_end.format("%Y-%m").to_string();
    let first = last_month_end.with_day(1).unwrap();
    let storage = server.server.storage().clone();
    let before = {
        let storage = storage.clone();
        tokio::task::spawn_blocking(move || {
            storage
                .attendance_days(ORG_A, None, first, last_month_end)
                .unwrap()
                .len()
        })
        .await
        .unwrap()
    };
    assert_eq!(before, 0, "nothing was stored for last month yet");
    let r = server
        .http
        .post(server.url("/admin/v1/attendance/locks"))
        .bearer_auth(ADMIN_A)
        .json(&json!({ "month": month }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stored = tokio::task::spawn_blocking(move || {
        storage
            .attendance_days(ORG_A, None, first, last_month_end)
            .unwrap()
    })
    .await
    .unwrap();
    let people = policy().attendance.people.len();
    let days = (last_month_end - first).num_days() as usize + 1;
    assert_eq!(stored.len(), people * days);
    assert!(stored.iter().all(|d| {
        serde_json::from_str::<DayResult>(&d.result)
            .unwrap()
            .status
            .as_str()
            != "in_progress"
    }));
}

#[tokio::test]
async fn a_roster_without_a_rest_day_is_flagged_when_checked_and_when_published() {
    let server = TestServer::start().await;
    let mut doc: Value = serde_json::from_str(&hk_policy_text()).unwrap();
    doc["version"] = json!(43);
    // Cheung Mei Ling's (E1002) December roster loses its rest days of the 5th and the 12th:
    // 1 to 18 December without a rest day.
    let people = doc["attendance"]["people"].as_array_mut().unwrap();
    let e1002 = people
        .iter_mut()
        .find(|p| p["employee"] == "E1002")
        .unwrap();
    let days = e1002["roster"][0]["days"].as_array_mut().unwrap();
    days[4] = json!("store");
    days[11] = json!("store");
    let body = doc.to_string();
    let check = server
        .http
        .post(server.url("/admin/v1/policy/check"))
        .bearer_auth(ADMIN_A)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
    let checked: Value = check.json().await.unwrap();
    assert_eq!(checked["version"], 43);
    assert_eq!(
        checked["roster_warnings"],
        json!([{
            "employee": "E1002",
            "code": "hk_rest_day_7",
            "date": "2026-12-01",
            "message": "18 days in a row from 2026-12-01 without a rest day: the law requires one in every 7 days"
        }])
    );
    // Nothing was published by the check.
    let (_, current) = server.admin_get(ADMIN_A, "/admin/v1/policy").await;
    assert_eq!(current["version"], 42, "{current}");
    // A document with an error is refused at its path.
    let mut bad = doc.clone();
    bad["attendance"]["shifts"][0]["segments"][0]["start"] = json!("25:00");
    let r = server
        .http
        .post(server.url("/admin/v1/policy/check"))
        .bearer_auth(ADMIN_A)
        .body(bad.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["code"], "invalid_policy");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("attendance.shifts[0].segments[0].start: invalid value \"25:00\""),
        "{err}"
    );
    // Publishing gives the same warnings with the new version.
    let published = server
        .http
        .put(server.url("/admin/v1/policy"))
        .bearer_auth(ADMIN_A)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let published: Value = published.json().await.unwrap();
    assert_eq!(published["version"], 43);
    assert_eq!(published["roster_warnings"], checked["roster_warnings"]);
}
