//! "My day" and "my month" on the phone, offline and after sync, against the real reference
//! server over loopback: the expected shift and the next punch, lateness from the phone's own
//! punches, and the month's sheet.

mod support;

use chrono::{DateTime, Utc};
use daka_core::attendance::{DayCode, DayKind, DayStatus, Month};
use daka_core::punch::PunchKind;
use daka_device::PunchInput;
use daka_device::engine::attendance::DaySource;
use support::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The example company's server and Chan's (E1001) phone, enrolled, with the policy fetched.
async fn chan_online(
    dir: &std::path::Path,
    timeline: &std::sync::Arc<Timeline>,
) -> (daka_server::RunningServer, daka_device::Device) {
    let server = start_server(dir, timeline, seed(policy(false, 42), 1)).await;
    let phone = open_device(dir, "phone", timeline, 2_000);
    phone
        .enroll(&server.url(), &code("E1001", 0), "Pixel 8", "android")
        .await
        .unwrap();
    phone.sync_now(&|_| {}).await.unwrap();
    (server, phone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_day_and_my_month_offline() {
    let dir = tempfile::tempdir().unwrap();
    // Thursday 26 November 2026, 08:30 in Hong Kong.
    let timeline = Timeline::new();
    let (_server, phone) = chan_online(dir.path(), &timeline).await;

    // Before the shift: the store's 10:00–19:00, clock-in next, from 08:00.
    let today = phone.today().unwrap();
    assert_eq!(today.date.to_string(), "2026-11-26");
    assert_eq!(today.result.kind, DayKind::Workday);
    assert_eq!(today.shift_name.as_deref(), Some("Store 10:00–19:00 門市"));
    assert_eq!(today.result.status, DayStatus::InProgress);
    let next = today.next.expect("a clock-in is expected");
    assert_eq!(next.kind, PunchKind::In);
    assert_eq!(next.due, at("2026-11-26T02:00:00Z"));
    assert_eq!(next.earliest, at("2026-11-26T00:00:00Z"));
    assert_eq!(next.latest, at("2026-11-26T11:00:00Z"));

    // In at 10:07, offline: late by 7 minutes (the store has no grace); clock-out next.
    timeline.advance_ms((97 * 60) * 1000);
    let (fix, wifi) = evidence("E1001", &timeline, 1.0);
    let outcome = phone
        .punch(PunchInput {
            kind: PunchKind::In,
            fix,
            more_fixes: Vec::new(),
            wifi_bssids: wifi,
            face: None,
        })
        .unwrap();
    assert_eq!(outcome.verdict.decision, daka_core::Decision::Accepted);
    let today = phone.today().unwrap();
    assert_eq!(today.source, DaySource::Phone);
    assert_eq!(today.result.late_min, 7);
    let late = today
        .result
        .findings
        .iter()
        .find(|f| f.code == DayCode::Late)
        .expect("late");
    assert_eq!(
        late.message,
        "late 7 min: clocked in 10:07, shift starts 10:00, grace 0 min"
    );
    let next = today.next.expect("a clock-out is expected");
    assert_eq!(next.kind, PunchKind::Out);
    assert_eq!(next.due, at("2026-11-26T11:00:00Z"));
    assert_eq!(next.latest, at("2026-11-26T15:00:00Z"));

    // The month so far: 25 working days (Monday to Saturday, no holiday in November), 21
    // of them before today without a punch on this phone.
    let month = phone
        .month_summary(Month {
            year: 2026,
            month: 11,
        })
        .unwrap();
    assert_eq!(month.days.len(), 30);
    let s = &month.summary;
    assert_eq!(s.days_due, 25);
    assert_eq!(s.absences, 21);
    assert_eq!((s.late_count, s.late_min), (1, 7));
    assert_eq!(s.days_attended, 1);
    assert!(month.days.iter().all(|d| d.source == DaySource::Phone));
    // Bad input is a typed error.
    let err = phone
        .month_summary(Month {
            year: 2026,
            month: 13,
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no month 2026-13: months run from 01 to 12"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_and_the_server_agree_on_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let (_server, phone) = chan_online(dir.path(), &timeline).await;
    // In at 10:07 and out at 19:12, offline; then, still at 19:12, the phone's own view.
    let punch = |kind| {
        let (fix, wifi) = evidence("E1001", &timeline, timeline.now().timestamp() as f64 % 7.0);
        let outcome = phone
            .punch(PunchInput {
                kind,
                fix,
                more_fixes: Vec::new(),
                wifi_bssids: wifi,
                face: None,
            })
            .unwrap();
        assert_eq!(outcome.verdict.decision, daka_core::Decision::Accepted);
    };
    timeline.advance_ms(97 * 60 * 1000);
    punch(PunchKind::In);
    timeline.advance_ms((9 * 60 + 5) * 60 * 1000);
    punch(PunchKind::Out);
    let mine = phone.today().unwrap();
    assert_eq!(mine.source, DaySource::Phone);
    assert_eq!((mine.result.late_min, mine.result.worked_min), (7, 485));
    // Sync: the server judges the punches, computes the day and sends it back.
    let report = phone.sync_now(&|_| {}).await.unwrap();
    assert_eq!(report.accepted, 2, "{report:?}");
    assert!(
        report.day_results.iter().any(|c| matches!(
            c,
            daka_core::protocol::Change::DayResult { result, .. } if result.date.to_string() == "2026-11-26"
        )),
        "{report:?}"
    );
    let confirmed = phone.today().unwrap();
    assert_eq!(confirmed.source, DaySource::Server);
    assert_eq!(
        confirmed.result, mine.result,
        "the server's day is the phone's day"
    );
    // And in the month: the 26th is the server's.
    let month = phone
        .month_summary(Month {
            year: 2026,
            month: 11,
        })
        .unwrap();
    let day = month
        .days
        .iter()
        .find(|d| d.result.date.to_string() == "2026-11-26")
        .unwrap();
    assert_eq!(day.source, DaySource::Server);
    assert_eq!(month.summary.late_min, 7);
}
