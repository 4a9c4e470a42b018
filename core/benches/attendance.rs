//! Attendance engine cost: a month for 1,000 employees with four punches a day, and one
//! changed day recomputed against its whole month recomputed.
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use daka_core::Policy;
use daka_core::attendance::{
    AttendanceEngine, AttendancePunch, DayKind, EmployeeRecords, Month, PunchState,
};
use daka_core::punch::PunchKind;
use serde_json::json;

const EMPLOYEES: usize = 1_000;

fn policy() -> Policy {
    let employees: Vec<_> = (0..EMPLOYEES)
        .map(|i| json!({"id": format!("E{i:04}"), "name": format!("Staff {i}"), "sites": ["s"]}))
        .collect();
    let people: Vec<_> = (0..EMPLOYEES)
        .map(|i| {
            let schedule = if i % 2 == 0 { "week" } else { "rota" };
            json!({"employee": format!("E{i:04}"), "schedules": [{"schedule": schedule, "from": "2025-01-01"}]})
        })
        .collect();
    let doc = json!({
        "version": 1,
        "org": {"id": "org", "name": "Org"},
        "sites": [{"id": "s", "name": "S", "fences": [{"type": "Circle", "center": [114.18, 22.28], "radius_m": 50}]}],
        "employees": employees,
        "attendance": {
            "shifts": [
                {"id": "office", "segments": [{"start": "09:00", "end": "18:00"}],
                 "breaks": [{"window": ["12:00", "15:00"], "minutes": 60}], "late_grace_min": 5},
                {"id": "night", "segments": [{"start": "22:00", "end": "06:00"}],
                 "breaks": [{"window": ["01:00", "04:00"], "minutes": 45}]}
            ],
            "schedules": [
                {"id": "week", "weekly": {"mon": "office", "tue": "office", "wed": "office", "thu": "office", "fri": "office", "sat": "office"}},
                {"id": "rota", "cycle": {"start": "2026-01-05", "days": ["office", "office", "night", "night", null, null]}, "holidays": "none"}
            ],
            "people": people,
            "holidays": [
                {"date": "2026-10-01", "name": {"en": "National Day", "zh": "國慶日"}, "statutory": true},
                {"date": "2026-12-25", "name": {"en": "Christmas Day", "zh": "聖誕節"}, "statutory": true}
            ]
        }
    });
    Policy::from_json(&doc.to_string()).expect("policy")
}

/// Four punches (in, break start, break end, out) on every working day from August to
/// November, a few minutes off the schedule.
fn records(engine: &AttendanceEngine<'_>, employee: &str, seed: u64) -> EmployeeRecords {
    let tz = chrono_tz::Asia::Hong_Kong;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut punches = Vec::new();
    let from = NaiveDate::from_ymd_opt(2026, 8, 1).expect("date");
    let to = NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");
    for plan in engine.plans(employee, from, to).expect("plans") {
        if plan.kind != DayKind::Workday {
            continue;
        }
        let start_min: i64 = if plan.shift == Some(1) {
            22 * 60
        } else {
            9 * 60
        };
        let midnight = tz
            .from_local_datetime(&plan.date.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .expect("local")
            .with_timezone(&Utc);
        let offsets = [
            (start_min - 10 + rng.i64(0..20), PunchKind::In),
            (start_min + 200 + rng.i64(0..30), PunchKind::BreakStart),
            (start_min + 260 + rng.i64(0..30), PunchKind::BreakEnd),
            (start_min + 540 - 5 + rng.i64(0..40), PunchKind::Out),
        ];
        for (k, (m, kind)) in offsets.into_iter().enumerate() {
            punches.push(AttendancePunch {
                id: format!("{employee}-{}-{k}", plan.date),
                at: midnight + Duration::minutes(m),
                kind,
                state: PunchState::Accepted,
            });
        }
    }
    let mut r = EmployeeRecords {
        punches,
        ..Default::default()
    };
    r.normalise();
    r
}

fn bench(c: &mut Criterion) {
    let policy = policy();
    let engine = AttendanceEngine::new(&policy);
    let ids: Vec<String> = (0..EMPLOYEES).map(|i| format!("E{i:04}")).collect();
    let all: Vec<EmployeeRecords> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| records(&engine, id, i as u64))
        .collect();
    let now = Utc
        .with_ymd_and_hms(2026, 12, 5, 0, 0, 0)
        .single()
        .expect("now");
    let november = Month {
        year: 2026,
        month: 11,
    };

    let mut group = c.benchmark_group("attendance/organisation");
    group.sample_size(10);
    group.warm_up_time(StdDuration::from_secs(1));
    group.measurement_time(StdDuration::from_secs(10));
    group.bench_function("month_1000_employees", |b| {
        b.iter(|| {
            for (id, r) in ids.iter().zip(&all) {
                black_box(engine.month(id, november, r, now).expect("month"));
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("attendance/recompute");
    group.sample_size(50);
    group.warm_up_time(StdDuration::from_secs(1));
    group.measurement_time(StdDuration::from_secs(3));
    let (id, r) = (&ids[1], &all[1]);
    group.bench_function("whole_month", |b| {
        b.iter(|| black_box(engine.month(id, november, r, now).expect("month")))
    });
    let day = NaiveDate::from_ymd_opt(2026, 11, 17).expect("date");
    group.bench_function("one_day", |b| {
        b.iter(|| black_box(engine.day(id, day, r, now).expect("day")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
