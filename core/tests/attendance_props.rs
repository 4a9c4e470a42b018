//! Identities the attendance engine must always keep, on random months of punches: worked
//! minutes are the paired minutes less deducted breaks plus paid breaks; late plus early never
//! exceed the expected minutes, and the day's figures are the sums of its segments'; leave never counts a rest day or holiday; computing twice
//! changes nothing; punches delivered in any order give the same month.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use daka_core::Policy;
use daka_core::attendance::{
    AttendanceEngine, AttendancePunch, DayKind, EmployeeRecords, Month, PunchState,
};
use daka_core::punch::PunchKind;
use proptest::prelude::*;
use serde_json::json;

fn policy() -> Policy {
    let doc = json!({
        "version": 1,
        "org": {"id": "org", "name": "Org"},
        "sites": [{"id": "s", "name": "S", "fences": [{"type": "Circle", "center": [114.18, 22.28], "radius_m": 50}]}],
        "employees": [{"id": "E1", "name": "A", "sites": ["s"]}, {"id": "E2", "name": "B", "sites": ["s"]}],
        "attendance": {
            "shifts": [
                {"id": "office", "segments": [{"start": "09:00", "end": "18:00"}],
                 "breaks": [{"start": "13:00", "end": "14:00"}], "late_grace_min": 5, "flex_min": 15},
                {"id": "night", "segments": [{"start": "22:00", "end": "06:00"}],
                 "breaks": [{"window": ["01:00", "04:00"], "minutes": 45, "paid": true}]},
                {"id": "split", "segments": [{"start": "11:00", "end": "14:00"}, {"start": "17:00", "end": "21:00"}]}
            ],
            "schedules": [
                {"id": "week", "weekly": {"mon": "office", "tue": "office", "wed": "split", "thu": "office", "fri": "office"}},
                {"id": "rota", "cycle": {"start": "2026-01-05", "days": ["office", "office", "night", "night", null, null]}, "holidays": "statutory"}
            ],
            "people": [
                {"employee": "E1", "schedules": [{"schedule": "week", "from": "2026-01-01"}]},
                {"employee": "E2", "schedules": [{"schedule": "rota", "from": "2026-01-01"}]}
            ],
            "holidays": [
                {"date": "2026-10-01", "name": {"en": "National Day", "zh": "國慶日"}, "statutory": true},
                {"date": "2026-10-18", "name": {"en": "Chung Yeung Festival", "zh": "重陽節"}, "statutory": true},
                {"date": "2026-10-19", "name": {"en": "The day following Chung Yeung Festival", "zh": "重陽節翌日"}, "statutory": false}
            ]
        }
    });
    Policy::from_json(&doc.to_string()).expect("policy")
}

fn kinds() -> impl Strategy<Value = PunchKind> {
    prop_oneof![
        4 => Just(PunchKind::In),
        4 => Just(PunchKind::Out),
        1 => Just(PunchKind::BreakStart),
        1 => Just(PunchKind::BreakEnd),
        1 => Just(PunchKind::Field),
    ]
}

fn states() -> impl Strategy<Value = PunchState> {
    prop_oneof![
        6 => Just(PunchState::Accepted),
        1 => Just(PunchState::Approved),
        1 => Just(PunchState::Corrected),
        1 => Just(PunchState::Pending),
    ]
}

/// Up to 120 punches at random minutes of October 2026 (and the edges of the months around).
fn punches() -> impl Strategy<Value = Vec<AttendancePunch>> {
    prop::collection::vec((0i64..(33 * 24 * 60), kinds(), states()), 0..120).prop_map(|v| {
        let start = Utc
            .with_ymd_and_hms(2026, 9, 29, 16, 0, 0)
            .single()
            .expect("start");
        v.into_iter()
            .enumerate()
            .map(|(i, (m, kind, state))| AttendancePunch {
                id: format!("p{i:03}"),
                at: start + Duration::minutes(m),
                kind,
                state,
            })
            .collect()
    })
}

fn records(p: Vec<AttendancePunch>) -> EmployeeRecords {
    let mut r = EmployeeRecords {
        punches: p,
        ..Default::default()
    };
    r.normalise();
    r
}

const OCTOBER: Month = Month {
    year: 2026,
    month: 10,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn day_identities_hold(p in punches(), who in prop_oneof![Just("E1"), Just("E2")], now_offset in 0i64..40) {
        let policy = policy();
        let e = AttendanceEngine::new(&policy);
        let now = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).single().expect("now") + Duration::days(now_offset);
        let r = records(p);
        let (summary, days) = e.month(who, OCTOBER, &r, now).expect("month");
        prop_assert_eq!(days.len(), 31);
        for d in &days {
            prop_assert_eq!(d.worked_min, d.paired_min - d.break_deducted_min + d.paid_break_min, "{:?}", d);
            prop_assert!(d.break_deducted_min <= d.paired_min);
            prop_assert!(d.late_min + d.early_min <= d.expected_min, "{:?}", d);
            prop_assert_eq!(d.late_min, d.segments.iter().map(|s| s.late_min).sum::<u32>());
            prop_assert_eq!(d.early_min, d.segments.iter().map(|s| s.early_min).sum::<u32>());
            if d.kind != DayKind::Workday {
                prop_assert_eq!(d.expected_min, 0);
                prop_assert_eq!(d.late_min + d.early_min, 0);
            }
        }
        prop_assert_eq!(summary.worked_min, days.iter().map(|d| d.worked_min).sum::<u32>());
        prop_assert_eq!(summary.late_min, days.iter().map(|d| d.late_min).sum::<u32>());
        // Computing again changes nothing, and one day alone equals the same day in the month.
        let (again, days_again) = e.month(who, OCTOBER, &r, now).expect("month");
        prop_assert_eq!(&summary, &again);
        prop_assert_eq!(&days, &days_again);
        for d in days.iter().step_by(7) {
            let one = e.day(who, d.date, &r, now).expect("day");
            prop_assert_eq!(&one, d);
        }
    }

    #[test]
    fn any_delivery_order_gives_the_same_month(p in punches(), seed in any::<u64>()) {
        let policy = policy();
        let e = AttendanceEngine::new(&policy);
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().expect("now");
        let sorted = records(p.clone());
        let mut shuffled = p.clone();
        // Deliver some punches twice, in another order.
        shuffled.extend(p.iter().take(5).cloned());
        fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
        let shuffled = records(shuffled);
        for who in ["E1", "E2"] {
            prop_assert_eq!(e.month(who, OCTOBER, &sorted, now).expect("a"), e.month(who, OCTOBER, &shuffled, now).expect("b"));
        }
    }

    #[test]
    fn leave_never_counts_a_rest_day_or_holiday(from in 0i64..340, len in 0i64..40) {
        // E1 works Monday to Friday and takes every holiday off: its working days are the
        // weekdays that are not holidays (the one statutory holiday on a Sunday, 18 October,
        // moves onto 19 October, itself a holiday, so it adds no day).
        let policy = policy();
        let e = AttendanceEngine::new(&policy);
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + Duration::days(from);
        let end = start + Duration::days(len);
        let days = e.leave_working_days("E1", start, end).expect("days");
        let expected: Vec<NaiveDate> = start
            .iter_days()
            .take_while(|d| *d <= end)
            .filter(|d| d.weekday().num_days_from_monday() < 5)
            .filter(|d| policy.attendance.holiday(*d).is_none())
            .collect();
        prop_assert_eq!(days, expected);
    }
}

/// Any JSON value: scalars of every kind (times, dates, ids, hostile text, huge and negative
/// numbers) nested in arrays and objects with the attendance section's own keys.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("09:00"),
            Just("24:00"),
            Just("23:59"),
            Just("9:00"),
            Just("rest"),
            Just("2026-02-30"),
            Just("2026-13"),
            Just("2026-12"),
            Just("0000-01-01"),
            Just("9999-12-31"),
            Just("office"),
            Just("E1"),
            Just("<script>alert(1)</script>"),
            Just(""),
            Just("\u{0}"),
            Just("all"),
            Just("none"),
            Just("statutory"),
            Just("punched"),
            Just("time_off"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let keys = prop_oneof![
            Just("shifts"),
            Just("schedules"),
            Just("people"),
            Just("holidays"),
            Just("overtime"),
            Just("id"),
            Just("segments"),
            Just("start"),
            Just("end"),
            Just("breaks"),
            Just("window"),
            Just("minutes"),
            Just("weekly"),
            Just("cycle"),
            Just("roster"),
            Just("days"),
            Just("month"),
            Just("employee"),
            Just("from"),
            Just("to"),
            Just("schedule"),
            Just("mon"),
            Just("date"),
            Just("name"),
            Just("statutory"),
            Just("workday"),
            Just("basis"),
            Just("unit_minutes"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec((keys, inner), 0..6).prop_map(|kv| {
                serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the attendance section holds, loading the policy returns a policy or an error
    /// naming a path inside the section; it never panics. A policy that loads can be computed
    /// for every person on a range of days without panicking.
    #[test]
    fn any_attendance_section_loads_or_is_refused_at_its_path(section in any_json()) {
        let doc = json!({
            "version": 1,
            "org": {"id": "org", "name": "Org"},
            "sites": [{"id": "s", "name": "S", "fences": [{"type": "Circle", "center": [114.18, 22.28], "radius_m": 50}]}],
            "employees": [{"id": "E1", "name": "A", "sites": ["s"]}],
            "attendance": section
        });
        match Policy::from_json(&doc.to_string()) {
            Ok(p) => {
                let e = AttendanceEngine::new(&p);
                let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().expect("now");
                for person in &p.attendance.people {
                    let _ = e.month(&person.employee, OCTOBER, &EmployeeRecords::default(), now).expect("month");
                }
            }
            Err(err) => prop_assert!(err.path.starts_with("attendance"), "{err}"),
        }
    }
}
