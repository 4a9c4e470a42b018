//! The attendance engine on hand-worked days: lateness and grace, breaks, split and night
//! shifts, flexible starts, forgotten clock-outs, leave, overtime, holidays moved off rest
//! days, daylight saving, the Hong Kong rules, and policy documents that must be refused.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use daka_core::Policy;
use daka_core::attendance::{
    ApprovedOvertime, AttendanceEngine, AttendancePunch, ContractStatus, DayCode, DayKind, DayPart,
    DayStatus, EmployeeRecords, LeaveDay, Month, OvertimeCategory, PunchState, WarningCode,
};
use daka_core::punch::PunchKind;
use serde_json::{Value, json};

fn policy_with(tz: &str, attendance: Value) -> Policy {
    let doc = json!({
        "version": 1,
        "org": {"id": "org", "name": "Org", "time_zone": tz},
        "sites": [{"id": "s", "name": "S", "fences": [{"type": "Circle", "center": [114.18, 22.28], "radius_m": 50}]}],
        "employees": [
            {"id": "E1", "name": "Chan Tai Man 陳大文", "sites": ["s"]},
            {"id": "E2", "name": "Lam Chi Keung 林志強", "sites": ["s"]},
            {"id": "E3", "name": "Part Timer", "sites": ["s"]}
        ],
        "attendance": attendance
    });
    Policy::from_json(&doc.to_string()).unwrap_or_else(|e| panic!("policy: {e}"))
}

fn base() -> Value {
    json!({
        "shifts": [
            {"id": "office", "name": "Office 09:00–18:00",
             "segments": [{"start": "09:00", "end": "18:00"}],
             "breaks": [{"start": "13:00", "end": "14:00", "paid": false}],
             "late_grace_min": 5},
            {"id": "night", "segments": [{"start": "22:00", "end": "06:00"}],
             "breaks": [{"window": ["01:00", "04:00"], "minutes": 45}]},
            {"id": "split", "segments": [{"start": "11:00", "end": "14:00"}, {"start": "17:00", "end": "21:00"}],
             "late_grace_min": 5},
            {"id": "flex", "segments": [{"start": "09:00", "end": "18:00"}], "flex_min": 30}
        ],
        "schedules": [
            {"id": "office-week", "weekly": {"mon": "office", "tue": "office", "wed": "office", "thu": "office", "fri": "office"}},
            {"id": "shop-week", "weekly": {"mon": "office", "tue": "office", "wed": "office", "thu": "office", "fri": "office", "sat": "office"}, "holidays": "statutory"},
            {"id": "nights", "cycle": {"start": "2026-01-05", "days": ["night", "night", "night", "night", null, null]}, "holidays": "none"},
            {"id": "splits", "weekly": {"mon": "split", "tue": "split", "wed": "split", "thu": "split", "fri": "split"}},
            {"id": "flexi", "weekly": {"mon": "flex", "tue": "flex", "wed": "flex", "thu": "flex", "fri": "flex"}}
        ],
        "people": [
            {"employee": "E1", "employment_start": "2024-01-01", "schedules": [{"schedule": "office-week", "from": "2024-01-01"}]}
        ],
        "holidays": [
            {"date": "2026-05-24", "name": {"en": "The Birthday of the Buddha", "zh": "佛誕"}, "statutory": true},
            {"date": "2026-05-25", "name": {"en": "The day following the Birthday of the Buddha", "zh": "佛誕翌日"}, "statutory": false},
            {"date": "2026-10-01", "name": {"en": "National Day", "zh": "國慶日"}, "statutory": true},
            {"date": "2026-12-25", "name": {"en": "Christmas Day", "zh": "聖誕節"}, "statutory": true}
        ]
    })
}

/// `base()` with E1 on `schedule` from 2024.
fn policy_on(schedule: &str) -> Policy {
    let mut a = base();
    a["people"][0]["schedules"][0]["schedule"] = json!(schedule);
    policy_with("Asia/Hong_Kong", a)
}

fn hk() -> Tz {
    chrono_tz::Asia::Hong_Kong
}

fn at(tz: Tz, date: &str, hhmm: &str) -> DateTime<Utc> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
    let (h, m) = hhmm.split_once(':').expect("HH:MM");
    tz.from_local_datetime(
        &d.and_hms_opt(h.parse().expect("h"), m.parse().expect("m"), 0)
            .expect("time"),
    )
    .earliest()
    .expect("local time")
    .with_timezone(&Utc)
}

fn punch(tz: Tz, date: &str, hhmm: &str, kind: PunchKind) -> AttendancePunch {
    AttendancePunch {
        id: format!("{date}T{hhmm}-{kind:?}"),
        at: at(tz, date, hhmm),
        kind,
        state: PunchState::Accepted,
    }
}

fn records(punches: Vec<AttendancePunch>) -> EmployeeRecords {
    let mut r = EmployeeRecords {
        punches,
        ..Default::default()
    };
    r.normalise();
    r
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// The month `year`-`month`.
fn ym(year: i32, month: u32) -> Month {
    Month { year, month }
}

/// Long after every day in these tests.
fn later() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0)
        .single()
        .expect("instant")
}

use PunchKind::{BreakEnd, BreakStart, In, Out};

#[test]
fn an_ordinary_office_day_counts_the_shift_less_its_unpaid_lunch() {
    let p = policy_on("office-week");
    let e = AttendanceEngine::new(&p);
    // Tuesday 3 November 2026: in 08:55, out 18:05.
    let r = records(vec![
        punch(hk(), "2026-11-03", "08:55", In),
        punch(hk(), "2026-11-03", "18:05", Out),
    ]);
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(d.kind, DayKind::Workday);
    assert_eq!(d.status, DayStatus::Normal, "{:?}", d.findings);
    assert_eq!(d.expected_min, 480);
    assert_eq!(d.paired_min, 550);
    assert_eq!(d.break_deducted_min, 60);
    assert_eq!(d.worked_min, 490);
    assert_eq!((d.late_min, d.early_min), (0, 0));
    // 10 minutes beyond the shift are punched overtime, below the 30-minute minimum.
    let ot = d.overtime.expect("overtime considered");
    assert_eq!((ot.punched_min, ot.counted_min), (10, 0));
    assert!(!d.has(DayCode::Overtime));
}

#[test]
fn lateness_beyond_grace_counts_in_full_and_says_so() {
    let p = policy_on("office-week");
    let e = AttendanceEngine::new(&p);
    let r = records(vec![
        punch(hk(), "2026-11-03", "09:12", In),
        punch(hk(), "2026-11-03", "18:00", Out),
    ]);
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(d.late_min, 12);
    assert_eq!(d.status, DayStatus::Exception);
    let late = d
        .findings
        .iter()
        .find(|f| f.code == DayCode::Late)
        .expect("late finding");
    assert_eq!(
        late.message,
        "late 12 min: clocked in 09:12, shift starts 09:00, grace 5 min"
    );

    // Within grace: on time.
    let r = records(vec![
        punch(hk(), "2026-11-03", "09:05", In),
        punch(hk(), "2026-11-03", "18:00", Out),
    ]);
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(d.late_min, 0);
    assert_eq!(d.status, DayStatus::Normal);

    // Arriving after lunch: late by the working minutes missed, not the lunch hour.
    let r = records(vec![
        punch(hk(), "2026-11-03", "14:30", In),
        punch(hk(), "2026-11-03", "18:00", Out),
    ]);
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(
        d.late_min, 270,
        "09:00–14:30 is 330 min less the 60-min lunch"
    );
    assert_eq!(d.worked_min, 210);

    // Leaving at 16:00: early by 120 minutes.
    let r = records(vec![
        punch(hk(), "2026-11-03", "09:00", In),
        punch(hk(), "2026-11-03", "16:00", Out),
    ]);
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(d.early_min, 120);
    assert!(d.findings.iter().any(
        |f| f.message == "left 120 min early: clocked out 16:00, shift ends 18:00, grace 0 min"
    ));
}

#[test]
fn a_forgotten_clock_out_is_closed_by_the_policy_rule_and_flagged() {
    let r = records(vec![punch(hk(), "2026-11-03", "08:58", In)]);
    let p = policy_on("office-week");
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    assert_eq!(d.missing_clock_out, 1);
    assert_eq!(
        d.worked_min,
        602 - 60 - 60,
        "closed at 18:00: 08:58–18:00 less lunch"
    );
    assert!(d.has(DayCode::MissingClockOut));
    assert_eq!(d.status, DayStatus::Exception);

    let mut a = base();
    a["missing_clock_out"] = json!("not_counted");
    let p = policy_with("Asia/Hong_Kong", a);
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    assert_eq!(d.missing_clock_out, 1);
    assert_eq!(d.worked_min, 0);

    // While the day is still open it is in progress, not missing.
    let noon = at(hk(), "2026-11-03", "12:00");
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, noon)
        .expect("day");
    assert_eq!(d.status, DayStatus::InProgress);
    assert_eq!(d.missing_clock_out, 0);
    assert_eq!(d.worked_min, 182);
}

#[test]
fn no_punch_is_absent_and_a_pending_field_punch_is_pending() {
    let p = policy_on("office-week");
    let e = AttendanceEngine::new(&p);
    let d = e
        .day("E1", date("2026-11-03"), &records(vec![]), later())
        .expect("day");
    assert_eq!(d.status, DayStatus::Absent);
    assert!(d.has(DayCode::Absent));
    let mut f = punch(hk(), "2026-11-03", "09:01", PunchKind::Field);
    f.state = PunchState::Pending;
    let d = e
        .day("E1", date("2026-11-03"), &records(vec![f.clone()]), later())
        .expect("day");
    assert_eq!(d.status, DayStatus::Pending);
    assert_eq!(d.pending, vec![f.id.clone()]);
    // Once the review approves it, it counts as the clock-in.
    f.state = PunchState::Approved;
    let r = records(vec![f, punch(hk(), "2026-11-03", "18:00", Out)]);
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(d.status, DayStatus::Normal, "{:?}", d.findings);
    assert_eq!(d.worked_min, 539 - 60);
}

#[test]
fn a_night_shift_belongs_to_the_date_it_starts() {
    let p = policy_on("nights");
    let e = AttendanceEngine::new(&p);
    // 2026-11-02 is 301 days after the cycle's start on 2026-01-05 (301 = 50 × 6 + 1 → day 1: night).
    let r = records(vec![
        punch(hk(), "2026-11-02", "21:55", In),
        punch(hk(), "2026-11-03", "02:00", BreakStart),
        punch(hk(), "2026-11-03", "02:30", BreakEnd),
        punch(hk(), "2026-11-03", "06:05", Out),
    ]);
    let days = e
        .days("E1", date("2026-11-02"), date("2026-11-03"), &r, later())
        .expect("days");
    let d = &days[0];
    assert_eq!(d.kind, DayKind::Workday);
    assert_eq!(d.shift.as_deref(), Some("night"));
    assert_eq!(
        d.paired_min,
        490 - 30,
        "21:55–06:05 less the 30-min break taken"
    );
    // The 45-min window break: 30 taken, 15 more deducted from work inside the window.
    assert_eq!(d.break_deducted_min, 15);
    assert_eq!(d.worked_min, 445);
    assert_eq!(d.expected_min, 480 - 45);
    assert_eq!(
        days[1].paired_min, 0,
        "the 06:05 clock-out is not the next day's"
    );
}

#[test]
fn a_split_shift_judges_each_segment() {
    let p = policy_on("splits");
    let r = records(vec![
        punch(hk(), "2026-11-03", "10:58", In),
        punch(hk(), "2026-11-03", "14:02", Out),
        punch(hk(), "2026-11-03", "17:10", In),
        punch(hk(), "2026-11-03", "21:00", Out),
    ]);
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    assert_eq!(d.segments.len(), 2);
    assert_eq!(d.segments[0].late_min, 0);
    assert_eq!(d.segments[1].late_min, 10);
    assert_eq!(d.late_min, 10);
    assert_eq!(d.expected_min, 420);
    assert_eq!(d.worked_min, 184 + 230);
    assert!(
        d.findings.iter().any(
            |f| f.message == "late 10 min: clocked in 17:10, segment starts 17:00, grace 5 min"
        )
    );
}

#[test]
fn a_flexible_start_moves_the_end() {
    let p = policy_on("flexi");
    let e = AttendanceEngine::new(&p);
    let r = records(vec![
        punch(hk(), "2026-11-03", "09:20", In),
        punch(hk(), "2026-11-03", "18:00", Out),
    ]);
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(d.late_min, 0);
    assert_eq!(d.early_min, 20, "the end moved to 18:20");
    let r = records(vec![
        punch(hk(), "2026-11-03", "09:45", In),
        punch(hk(), "2026-11-03", "18:30", Out),
    ]);
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(d.late_min, 15, "beyond the 30-min window by 15");
    assert_eq!(d.early_min, 0);
}

#[test]
fn half_day_leave_halves_the_day_and_moves_its_start() {
    let p = policy_on("office-week");
    let mut r = records(vec![
        punch(hk(), "2026-11-03", "14:00", In),
        punch(hk(), "2026-11-03", "18:00", Out),
    ]);
    r.leave.push(LeaveDay {
        date: date("2026-11-03"),
        part: DayPart::Am,
        leave_type: "annual".into(),
    });
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    assert_eq!(d.expected_min, 240);
    assert_eq!(d.late_min, 0, "the afternoon starts at 13:30, inside lunch");
    assert_eq!(d.status, DayStatus::Normal, "{:?}", d.findings);
    assert!(d.has(DayCode::OnLeave));

    let mut r = records(vec![]);
    r.leave.push(LeaveDay {
        date: date("2026-11-03"),
        part: DayPart::Full,
        leave_type: "annual".into(),
    });
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    assert_eq!((d.status, d.expected_min), (DayStatus::OnLeave, 0));
}

#[test]
fn overtime_counts_by_the_rule_of_its_day() {
    let p = policy_on("office-week");
    let e = AttendanceEngine::new(&p);
    let mut r = records(vec![
        punch(hk(), "2026-11-03", "09:00", In),
        punch(hk(), "2026-11-03", "19:10", Out),
    ]);
    r.overtime.push(ApprovedOvertime {
        date: date("2026-11-03"),
        minutes: 60,
        request_id: "OT1".into(),
    });
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    let ot = d.overtime.expect("overtime");
    assert_eq!(
        (ot.category, ot.approved_min, ot.punched_min, ot.counted_min),
        (OvertimeCategory::Workday, 60, 70, 60)
    );

    // Unapproved time is not overtime under the default "lesser" basis.
    r.overtime.clear();
    let d = e.day("E1", date("2026-11-03"), &r, later()).expect("day");
    assert_eq!(d.overtime.map(|o| o.counted_min), Some(0));

    // "punched" with 15-minute units rounded to nearest, paid as time off.
    let mut a = base();
    a["overtime"] = json!({"workday": {"basis": "punched", "unit_minutes": 15, "rounding": "nearest", "min_minutes": 15, "compensation": "time_off"}});
    let p2 = policy_with("Asia/Hong_Kong", a);
    let d = AttendanceEngine::new(&p2)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    let ot = d.overtime.expect("overtime");
    assert_eq!(ot.counted_min, 75, "70 min to the nearest 15");
    assert_eq!(
        ot.compensation,
        daka_core::attendance::rules::Compensation::TimeOff
    );

    // Saturday: all time worked is rest-day overtime.
    let mut r = records(vec![
        punch(hk(), "2026-11-07", "10:00", In),
        punch(hk(), "2026-11-07", "15:00", Out),
    ]);
    r.overtime.push(ApprovedOvertime {
        date: date("2026-11-07"),
        minutes: 300,
        request_id: "OT2".into(),
    });
    let d = e.day("E1", date("2026-11-07"), &r, later()).expect("day");
    assert_eq!(d.status, DayStatus::WorkedDayOff);
    let ot = d.overtime.expect("overtime");
    assert_eq!(
        (ot.category, ot.counted_min),
        (OvertimeCategory::RestDay, 300)
    );
    assert!(d.has(DayCode::WorkedRestDay));
}

#[test]
fn a_statutory_holiday_on_a_rest_day_moves_to_the_next_free_day() {
    // Sunday 24 May 2026 is a statutory holiday; Monday 25 May a general holiday.
    // Office (all holidays off): Monday is already off, so the statutory holiday is taken
    // then; Tuesday is a working day.
    let p = policy_on("office-week");
    let plans = AttendanceEngine::new(&p)
        .plans("E1", date("2026-05-24"), date("2026-05-26"))
        .expect("plans");
    let kinds: Vec<DayKind> = plans.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [DayKind::RestDay, DayKind::Holiday, DayKind::Workday]
    );

    // A shop open Monday to Saturday that takes statutory holidays only: Monday 25 May is
    // worked as a general holiday, but the statutory holiday moved from Sunday lands on it.
    let p = policy_on("shop-week");
    let plans = AttendanceEngine::new(&p)
        .plans("E1", date("2026-05-24"), date("2026-05-26"))
        .expect("plans");
    let got: Vec<(DayKind, Option<NaiveDate>)> =
        plans.iter().map(|p| (p.kind, p.holiday)).collect();
    assert_eq!(
        got,
        [
            (DayKind::RestDay, Some(date("2026-05-24"))),
            (DayKind::Holiday, Some(date("2026-05-24"))),
            (DayKind::Workday, None)
        ]
    );
}

#[test]
fn leave_counts_working_days_only() {
    let p = policy_on("office-week");
    // Thursday 24 to Tuesday 29 December 2026: Christmas (Fri) and the weekend are skipped.
    let days = AttendanceEngine::new(&p)
        .leave_working_days("E1", date("2026-12-24"), date("2026-12-29"))
        .expect("days");
    assert_eq!(
        days,
        [date("2026-12-24"), date("2026-12-28"), date("2026-12-29")]
    );
}

#[test]
fn a_worked_statutory_holiday_needs_an_alternative_within_60_days() {
    let p = policy_on("nights");
    let e = AttendanceEngine::new(&p);
    // 1 October 2026 is 269 days after 5 January: 269 mod 6 = 5, a rest day of the cycle.
    let plans = e
        .plans("E1", date("2026-10-01"), date("2026-10-01"))
        .expect("plan");
    assert_eq!(plans[0].kind, DayKind::RestDay, "day 5 of the cycle");
    // Christmas Day 2026: 354 days after 5 Jan, 354 mod 6 = 0 → night, worked (holidays: none).
    let r = records(vec![
        punch(hk(), "2026-12-25", "22:00", In),
        punch(hk(), "2026-12-26", "06:00", Out),
    ]);
    let (m, days) = e.month("E1", ym(2026, 12), &r, later()).expect("month");
    let xmas = days
        .iter()
        .find(|d| d.date == date("2026-12-25"))
        .expect("25th");
    assert_eq!(xmas.kind, DayKind::Workday);
    assert!(xmas.has(DayCode::HkAlternativeHolidayDue));
    assert!(m.warnings.iter().any(
        |w| w.code == WarningCode::HkAlternativeHolidayDue && w.message.contains("2027-02-23")
    ));
    assert_eq!(m.alternative_holidays.len(), 1);

    // Given one within 60 days: tracked as given, no warning.
    let mut a = base();
    a["people"][0]["schedules"][0]["schedule"] = json!("nights");
    a["people"][0]["alternative_holidays"] = json!([{"date": "2027-01-04", "for": "2026-12-25"}]);
    let p = policy_with("Asia/Hong_Kong", a);
    let (m, _) = AttendanceEngine::new(&p)
        .month("E1", ym(2026, 12), &r, later())
        .expect("month");
    assert_eq!(m.alternative_holidays[0].given, Some(date("2027-01-04")));
    assert!(
        !m.warnings
            .iter()
            .any(|w| w.code == WarningCode::HkAlternativeHolidayDue)
    );
}

#[test]
fn a_roster_without_a_rest_day_in_seven_is_flagged_before_it_is_published() {
    let mut a = base();
    a["schedules"]
        .as_array_mut()
        .expect("list")
        .push(json!({"id": "rostered", "roster": true}));
    a["people"][0]["schedules"][0]["schedule"] = json!("rostered");
    let mut days = vec![json!("office"); 30];
    days[9] = json!("rest");
    days[20] = json!("rest");
    a["people"][0]["roster"] = json!([{"month": "2026-11", "days": days}]);
    let p = policy_with("Asia/Hong_Kong", a);
    let w = AttendanceEngine::new(&p)
        .rest_day_warnings("E1", date("2026-11-01"), date("2026-11-30"))
        .expect("warnings");
    // 1–9 Nov: 9 days; 11–20 Nov: 10 days; 22–30 Nov: 9 days.
    let got: Vec<(NaiveDate, &str)> = w.iter().map(|w| (w.date, w.code.as_str())).collect();
    assert_eq!(
        got,
        [
            (date("2026-11-01"), "hk_rest_day_7"),
            (date("2026-11-11"), "hk_rest_day_7"),
            (date("2026-11-22"), "hk_rest_day_7")
        ]
    );
    assert_eq!(
        w[1].message,
        "10 days in a row from 2026-11-11 without a rest day: the law requires one in every 7 days"
    );
}

#[test]
fn daylight_saving_nights_count_the_hours_really_worked() {
    // Europe/London: clocks go back at 02:00 BST on Sunday 25 October 2026 and forward at
    // 01:00 GMT on Sunday 29 March 2026.
    let mut a = base();
    a["people"][0]["schedules"][0]["schedule"] = json!("nights");
    a["schedules"][2]["cycle"]["days"] = json!(["night"]);
    let p = policy_with("Europe/London", a);
    let tz: Tz = chrono_tz::Europe::London;
    let e = AttendanceEngine::new(&p);
    let r = records(vec![
        punch(tz, "2026-10-24", "22:00", In),
        punch(tz, "2026-10-25", "06:00", Out),
    ]);
    let d = e.day("E1", date("2026-10-24"), &r, later()).expect("day");
    assert_eq!(
        d.paired_min,
        9 * 60,
        "the night the clocks go back has 9 hours"
    );
    assert_eq!(d.expected_min, 9 * 60 - 45);
    assert_eq!((d.late_min, d.early_min), (0, 0));
    let r = records(vec![
        punch(tz, "2026-03-28", "22:00", In),
        punch(tz, "2026-03-29", "06:00", Out),
    ]);
    let d = e.day("E1", date("2026-03-28"), &r, later()).expect("day");
    assert_eq!(
        d.paired_min,
        7 * 60,
        "the night the clocks go forward has 7 hours"
    );
    assert_eq!(d.expected_min, 7 * 60 - 45);
    assert_eq!((d.late_min, d.early_min), (0, 0));
}

/// A part-timer E3 from `start` (Monday to Thursday 10:00–14:15, 17 h a week, holidays
/// worked) and their punches to `until`: in at 10:00, out at `out(date)` (14:15 unless the
/// test says otherwise).
fn part_timer(
    start: &str,
    until: &str,
    out: impl Fn(&str) -> &'static str,
) -> (Policy, EmployeeRecords) {
    let mut a = base();
    a["shifts"]
        .as_array_mut()
        .expect("list")
        .push(json!({"id": "pt", "segments": [{"start": "10:00", "end": "14:15"}]}));
    a["schedules"].as_array_mut().expect("list").push(json!({"id": "pt-week", "weekly": {"mon": "pt", "tue": "pt", "wed": "pt", "thu": "pt"}, "holidays": "none"}));
    a["people"].as_array_mut().expect("list").push(json!({"employee": "E3", "employment_start": start, "schedules": [{"schedule": "pt-week", "from": start}]}));
    let p = policy_with("Asia/Hong_Kong", a);
    let mut punches = Vec::new();
    for plan in AttendanceEngine::new(&p)
        .plans("E3", date(start), date(until))
        .expect("plans")
    {
        if plan.kind == DayKind::Workday {
            let s = plan.date.to_string();
            punches.push(punch(hk(), &s, "10:00", In));
            punches.push(punch(hk(), &s, out(&s), Out));
        }
    }
    (p, records(punches))
}

#[test]
fn the_continuous_contract_follows_418_then_468() {
    // A part-timer from Sunday 7 December 2025, weeks Sunday to Saturday. 17 h a week fails
    // the 18-hour test before 18 January 2026 and passes the 17-hour test after it.
    let (p, r) = part_timer("2025-12-07", "2026-02-28", |_| "14:15");
    let e = AttendanceEngine::new(&p);
    let (jan, _) = e.month("E3", ym(2026, 1), &r, later()).expect("jan");
    // Weeks ending in January: 28 Dec–3 Jan, 4–10, 11–17 (418: 17 h fails), 18–24, 25–31 (468: passes).
    let got: Vec<(NaiveDate, u16, u32, ContractStatus)> = jan
        .contract_weeks
        .iter()
        .map(|w| (w.from, w.rule, w.worked_min, w.status))
        .collect();
    assert_eq!(
        got,
        [
            (date("2025-12-28"), 418, 1020, ContractStatus::NotMet),
            (date("2026-01-04"), 418, 1020, ContractStatus::NotMet),
            (date("2026-01-11"), 418, 1020, ContractStatus::NotMet),
            (date("2026-01-18"), 468, 1020, ContractStatus::Met),
            (date("2026-01-25"), 468, 1020, ContractStatus::Met),
        ]
    );
    assert_eq!(jan.contract, ContractStatus::NotMet);
    let (feb, _) = e.month("E3", ym(2026, 2), &r, later()).expect("feb");
    assert_eq!(feb.contract, ContractStatus::Met);
    assert!(
        feb.warnings
            .iter()
            .all(|w| w.code != WarningCode::HkContinuousContract)
    );
}

#[test]
fn a_short_week_passes_468_on_68_hours_over_four() {
    // 16 h in one week but 68 h over it and the three before: met. In the week of 22 Feb,
    // Monday ends an hour early (16 h that week) and the week before has an extra hour on
    // Thursday (18 h).
    let (p, r) = part_timer("2026-02-01", "2026-03-31", |d| match d {
        "2026-02-23" => "13:15",
        "2026-02-19" => "15:15",
        _ => "14:15",
    });
    let e = AttendanceEngine::new(&p);
    let (feb, _) = e.month("E3", ym(2026, 2), &r, later()).expect("feb");
    let w = feb
        .contract_weeks
        .iter()
        .find(|w| w.from == date("2026-02-22"))
        .expect("week");
    assert_eq!((w.worked_min, w.four_week_min), (960, Some(4080)));
    assert_eq!(w.status, ContractStatus::Met);
    // Employed under four weeks until 28 February: not yet a continuous contract.
    assert_eq!(feb.contract_weeks[0].status, ContractStatus::AtRisk);
    assert_eq!(feb.contract, ContractStatus::AtRisk);
    let (mar, _) = e.month("E3", ym(2026, 3), &r, later()).expect("mar");
    assert_eq!(mar.contract, ContractStatus::Met);
}

#[test]
fn bad_attendance_sections_are_refused_at_their_path() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"shifts": [{"id": "a", "segments": [{"start": "25:00", "end": "18:00"}]}]}),
            "attendance.shifts[0].segments[0].start: invalid value \"25:00\": a time of day \"HH:MM\" from 00:00 to 23:59",
        ),
        (
            json!({"shifts": [{"id": "a", "segments": [{"start": "09:00", "end": "18:00"}, {"start": "17:00", "end": "08:00"}]}]}),
            "attendance.shifts[0].segments[1]: invalid value {\"end\": \"08:00\", \"start\": \"17:00\"}: a shift's segments span at most 24 hours from its first start",
        ),
        (
            json!({"shifts": [{"id": "a", "segments": [{"start": "09:00", "end": "18:00"}], "breaks": [{"start": "19:00", "end": "20:00"}]}]}),
            "attendance.shifts[0].breaks[0]: invalid value {\"end\": \"20:00\", \"start\": \"19:00\"}: a fixed break must lie within one segment",
        ),
        (
            json!({"schedules": [{"id": "w", "weekly": {"mon": "nope"}}]}),
            "attendance.schedules[0].weekly.mon: unknown shift \"nope\"",
        ),
        (
            json!({"schedules": [{"id": "w", "weekly": {}, "cycle": {"start": "2026-01-01", "days": [null]}}]}),
            "attendance.schedules[0]: invalid value {…}: a schedule has exactly one of \"weekly\", \"cycle\" or \"roster\"",
        ),
        (
            json!({"schedules": [{"id": "w", "weekly": {}}], "people": [{"employee": "E9", "schedules": [{"schedule": "w", "from": "2026-01-01"}]}]}),
            "attendance.people[0].employee: unknown employee \"E9\"",
        ),
        (
            json!({"schedules": [{"id": "w", "weekly": {}}], "people": [{"employee": "E1", "schedules": [{"schedule": "w", "from": "2026-01-01"}, {"schedule": "w", "from": "2026-06-01"}]}]}),
            "attendance.people[0].schedules[1].from: invalid value 2026-06-01: assignments are listed in date order and must not overlap: the previous one must end (\"to\") before this one starts",
        ),
        (
            json!({"schedules": [{"id": "w", "roster": true}], "people": [{"employee": "E1", "schedules": [{"schedule": "w", "from": "2026-01-01"}], "roster": [{"month": "2026-02", "days": [null, null]}]}]}),
            "attendance.people[0].roster[0].days: invalid value [null, null]: 2026-02 has 28 days: give one entry per day (a shift id, \"rest\", or null for not rostered)",
        ),
        (
            json!({"holidays": [{"date": "2026-01-01", "name": {"en": "a", "zh": "b"}, "statutory": true}, {"date": "2026-01-01", "name": {"en": "a", "zh": "b"}, "statutory": false}]}),
            "attendance.holidays[1].date: duplicate 2026-01-01, first used at attendance.holidays[0].date",
        ),
        (
            json!({"overtime": {"workday": {"basis": "sometimes"}}}),
            "attendance.overtime.workday.basis: invalid value \"sometimes\": expected one of approved, punched, lesser",
        ),
        (
            json!({"shifts": [{"id": "a", "segments": [{"start": "09:00", "end": "10:00"}], "breaks": [{"window": ["09:00", "10:00"], "minutes": 61}]}]}),
            "attendance.shifts[0].breaks[0].minutes: invalid value 61: must be 1 to 60 (the window's length)",
        ),
        (
            json!({"shiftz": []}),
            "attendance.shiftz: unknown field; expected one of: shifts, schedules, people, holidays, overtime, missing_clock_out, warnings, records_from",
        ),
    ];
    for (attendance, want) in cases {
        let doc = json!({
            "version": 1,
            "org": {"id": "org", "name": "Org"},
            "sites": [{"id": "s", "name": "S", "fences": [{"type": "Circle", "center": [114.18, 22.28], "radius_m": 50}]}],
            "employees": [{"id": "E1", "name": "A", "sites": ["s"]}],
            "attendance": attendance
        });
        let err = Policy::from_json(&doc.to_string()).expect_err("must be refused");
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn an_employee_without_settings_gets_a_clear_error() {
    let p = policy_on("office-week");
    let err = AttendanceEngine::new(&p)
        .day("E2", date("2026-11-03"), &records(vec![]), later())
        .expect_err("no settings");
    assert_eq!(
        err.to_string(),
        "employee \"E2\" has no attendance settings in the policy (attendance.people)"
    );
    let err = AttendanceEngine::new(&p)
        .days(
            "E1",
            date("2026-11-03"),
            date("2026-11-01"),
            &records(vec![]),
            later(),
        )
        .expect_err("range");
    assert_eq!(
        err.to_string(),
        "invalid date range 2026-11-03 to 2026-11-01: the end is before the start"
    );
}

#[test]
fn the_example_policy_carries_the_2026_calendar_and_sound_rosters() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/hk-policy.json"
    ))
    .expect("example policy");
    let p = Policy::from_json(&text).expect("example policy loads");
    let statutory: Vec<String> = p
        .attendance
        .holidays
        .iter()
        .filter(|h| h.statutory)
        .map(|h| h.date.to_string())
        .collect();
    assert_eq!(statutory.len(), 15, "{statutory:?}");
    assert!(
        statutory.contains(&"2026-04-06".to_owned()),
        "Easter Monday is statutory from 2026"
    );
    assert!(
        !statutory.contains(&"2026-04-03".to_owned()),
        "Good Friday only from 2028"
    );
    let e = AttendanceEngine::new(&p);
    // The published December roster gives a rest day in every 7 days.
    let w = e
        .rest_day_warnings("E1002", date("2026-12-01"), date("2026-12-31"))
        .expect("roster");
    assert_eq!(w, vec![]);
    // A shop assistant's leave from Thursday 24 to Tuesday 29 December: Christmas Day and the
    // first weekday after it are statutory holidays, Sunday is the rest day.
    let days = e
        .leave_working_days("E1001", date("2026-12-24"), date("2026-12-29"))
        .expect("days");
    assert_eq!(
        days,
        [date("2026-12-24"), date("2026-12-28"), date("2026-12-29")]
    );
}

#[test]
fn time_off_in_lieu_is_credited_by_overtime_and_taken_oldest_first() {
    use daka_core::attendance::TimeOffLedger;
    let mut a = base();
    a["overtime"] = json!({"rest_day": {"basis": "punched", "compensation": "time_off"}, "time_off_expiry_days": 30});
    let p = policy_with("Asia/Hong_Kong", a);
    let e = AttendanceEngine::new(&p);
    // Saturdays 7 and 14 November: 4 h and 5 h of rest-day overtime, credited as time off.
    let mut r = records(vec![
        punch(hk(), "2026-11-07", "10:00", In),
        punch(hk(), "2026-11-07", "14:00", Out),
        punch(hk(), "2026-11-14", "10:00", In),
        punch(hk(), "2026-11-14", "15:00", Out),
    ]);
    // A half day of 調休 on Wednesday 18 November (4 h of an 8-hour day), and a full day on
    // Friday 11 December, after the first credit expired on 7 December.
    r.leave.push(LeaveDay {
        date: date("2026-11-18"),
        part: DayPart::Pm,
        leave_type: "toil".into(),
    });
    r.leave.push(LeaveDay {
        date: date("2026-12-11"),
        part: DayPart::Full,
        leave_type: "toil".into(),
    });
    let days = e
        .days("E1", date("2026-11-01"), date("2026-12-31"), &r, later())
        .expect("days");
    let ledger = TimeOffLedger::from_days(&days, &["toil"], 30, date("2026-12-31"));
    let credits: Vec<(NaiveDate, u32, NaiveDate, u32)> = ledger
        .credits
        .iter()
        .map(|c| (c.date, c.minutes, c.expires, c.left))
        .collect();
    assert_eq!(
        credits,
        [
            (date("2026-11-07"), 240, date("2026-12-07"), 0),
            (date("2026-11-14"), 300, date("2026-12-14"), 0)
        ]
    );
    // 18 Nov takes all 240 of the first credit; 11 Dec takes the second's 300 and 180 are
    // not covered.
    let taken: Vec<(NaiveDate, u32, u32)> = ledger
        .taken
        .iter()
        .map(|t| (t.date, t.minutes, t.uncovered))
        .collect();
    assert_eq!(
        taken,
        [(date("2026-11-18"), 240, 0), (date("2026-12-11"), 480, 180)]
    );
    assert_eq!((ledger.expired, ledger.available), (0, 0));

    // Without the December day, the second credit's 300 minutes expire on 14 December.
    r.leave.pop();
    let days = e
        .days("E1", date("2026-11-01"), date("2026-12-31"), &r, later())
        .expect("days");
    let ledger = TimeOffLedger::from_days(&days, &["toil"], 30, date("2026-12-10"));
    assert_eq!((ledger.expired, ledger.available), (0, 300));
    let ledger = TimeOffLedger::from_days(&days, &["toil"], 30, date("2026-12-31"));
    assert_eq!((ledger.expired, ledger.available), (300, 0));
}

#[test]
fn a_leave_range_books_working_days_with_its_half_days() {
    let p = policy_on("office-week");
    let e = AttendanceEngine::new(&p);
    // Thursday 24 December afternoon to Monday 28 December morning.
    let booked = e
        .leave_booking("E1", date("2026-12-24"), date("2026-12-28"), true, true)
        .expect("booking");
    assert_eq!(
        booked,
        [
            (date("2026-12-24"), DayPart::Pm),
            (date("2026-12-28"), DayPart::Am)
        ]
    );
    // Someone without attendance settings books calendar days, as before.
    let booked = e
        .leave_booking("E2", date("2026-12-24"), date("2026-12-26"), false, false)
        .expect("booking");
    assert_eq!(booked.len(), 3);
    // A range of holidays and rest days books nothing.
    let booked = e
        .leave_booking("E1", date("2026-12-25"), date("2026-12-27"), false, false)
        .expect("booking");
    assert_eq!(booked, []);
}

#[test]
fn overtime_templates_and_time_off_leave_types_are_validated() {
    let mk = |approvals: Value| {
        json!({
            "version": 1,
            "org": {"id": "org", "name": "Org"},
            "sites": [{"id": "s", "name": "S", "fences": [{"type": "Circle", "center": [114.18, 22.28], "radius_m": 50}]}],
            "employees": [{"id": "E1", "name": "A", "sites": ["s"]}],
            "approvals": approvals
        })
        .to_string()
    };
    let ot = |min: i64, max: i64| {
        json!({"templates": [{"id": "ot", "name": "Overtime 加班", "type": "overtime",
            "fields": [{"id": "date", "type": "date", "required": true},
                       {"id": "minutes", "type": "number", "required": true, "min": min, "max": max}],
            "route": [{"name": "Manager", "approvers": {"employees": ["E1"]}}]}]})
    };
    Policy::from_json(&mk(ot(30, 720))).expect("a sound overtime template");
    let err = Policy::from_json(&mk(ot(0, 720))).expect_err("zero minutes");
    assert_eq!(
        err.to_string(),
        "approvals.templates[0].fields[1]: invalid value {\"min\": 0, \"max\": 720}: the \"minutes\" field of an overtime template needs \"min\" at least 1 and \"max\" at most 1440"
    );
    let toil = |days: f64| json!({"leave_types": [{"id": "toil", "name": "Time off in lieu 調休", "days_per_year": days, "time_off_in_lieu": true}]});
    let p = Policy::from_json(&mk(toil(0.0))).expect("a 調休 leave type");
    assert!(
        p.approvals
            .leave_type("toil")
            .expect("toil")
            .time_off_in_lieu
    );
    let err = Policy::from_json(&mk(toil(5.0))).expect_err("toil with an entitlement");
    assert_eq!(
        err.to_string(),
        "approvals.leave_types[0].days_per_year: invalid value 5.0: a time-off-in-lieu leave type draws on overtime credited as time off: days_per_year must be 0"
    );
}

#[test]
fn a_night_before_a_rest_day_keeps_its_morning_clock_out() {
    // The nights cycle: 4 November 2026 (303 days after 5 January, 303 mod 6 = 3) is the
    // last night before two rest days.
    let p = policy_on("nights");
    let e = AttendanceEngine::new(&p);
    let r = records(vec![
        punch(hk(), "2026-11-04", "21:58", In),
        punch(hk(), "2026-11-05", "06:04", Out),
    ]);
    let days = e
        .days("E1", date("2026-11-04"), date("2026-11-05"), &r, later())
        .expect("days");
    assert_eq!(days[1].kind, DayKind::RestDay);
    let night = &days[0];
    assert_eq!(night.status, DayStatus::Normal, "{:?}", night.findings);
    assert_eq!(night.missing_clock_out, 0);
    assert_eq!(night.paired_min, 486, "21:58 to 06:04");
    assert_eq!(night.worked_min, 486 - 45, "the unpaid 45-min window break");
    assert_eq!(days[1].status, DayStatus::RestDay, "{:?}", days[1].findings);
    assert_eq!(days[1].missing_clock_in, 0);

    // The mirror case: a shift starting after midnight keeps a clock-in made the evening
    // before, on a rest day.
    let mut a = base();
    a["shifts"]
        .as_array_mut()
        .expect("list")
        .push(json!({"id": "early", "segments": [{"start": "00:30", "end": "08:30"}]}));
    a["schedules"]
        .as_array_mut()
        .expect("list")
        .push(json!({"id": "earlies", "weekly": {"mon": "early", "tue": "early", "wed": "early", "thu": "early", "fri": "early"}}));
    a["people"][0]["schedules"][0]["schedule"] = json!("earlies");
    let p = policy_with("Asia/Hong_Kong", a);
    let r = records(vec![
        punch(hk(), "2026-11-01", "23:50", In),
        punch(hk(), "2026-11-02", "08:31", Out),
    ]);
    let days = AttendanceEngine::new(&p)
        .days("E1", date("2026-11-01"), date("2026-11-02"), &r, later())
        .expect("days");
    assert_eq!(days[0].status, DayStatus::RestDay, "{:?}", days[0].findings);
    assert_eq!(days[1].status, DayStatus::Normal, "{:?}", days[1].findings);
    assert_eq!(days[1].paired_min, 521, "23:50 to 08:31");
}

#[test]
fn a_clock_out_without_a_counted_clock_in_is_a_missing_clock_in() {
    // The morning's field punch is still under review, so only the clock-out counts.
    let p = policy_on("office-week");
    let mut f = punch(hk(), "2026-11-03", "08:59", PunchKind::Field);
    f.state = PunchState::Pending;
    let r = records(vec![f, punch(hk(), "2026-11-03", "18:03", Out)]);
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    assert_eq!(d.missing_clock_in, 1);
    assert_eq!(d.worked_min, 0);
    assert_eq!(d.status, DayStatus::Exception);
    assert!(d.has(DayCode::MissingClockIn) && d.has(DayCode::PendingReview));
}

#[test]
fn working_a_statutory_holiday_moved_off_a_rest_day_needs_an_alternative() {
    // Saturday 26 December 2026 is a statutory holiday on the office's rest day: it moves to
    // Monday 28 December. Working that Monday is working the statutory holiday.
    let mut a = base();
    a["holidays"].as_array_mut().expect("list").push(json!({"date": "2026-12-26", "name": {"en": "The first weekday after Christmas Day", "zh": "聖誕節後第一個周日"}, "statutory": true}));
    let p = policy_with("Asia/Hong_Kong", a);
    let e = AttendanceEngine::new(&p);
    let r = records(vec![
        punch(hk(), "2026-12-28", "09:00", In),
        punch(hk(), "2026-12-28", "18:00", Out),
    ]);
    let (m, days) = e.month("E1", ym(2026, 12), &r, later()).expect("month");
    let monday = days
        .iter()
        .find(|d| d.date == date("2026-12-28"))
        .expect("28th");
    assert_eq!(
        (monday.kind, monday.holiday),
        (DayKind::Holiday, Some(date("2026-12-26")))
    );
    assert!(monday.has(DayCode::WorkedHoliday));
    assert!(monday.has(DayCode::HkAlternativeHolidayDue));
    assert_eq!(m.alternative_holidays.len(), 1);
    assert_eq!(m.alternative_holidays[0].holiday, date("2026-12-26"));
    // Due within 60 days of the day the holiday was worked: 28 December + 60 days.
    assert_eq!(m.alternative_holidays[0].due, date("2027-02-26"));
    assert!(m.warnings.iter().any(
        |w| w.code == WarningCode::HkAlternativeHolidayDue && w.date == date("2026-12-26")
    ));
}

#[test]
fn a_second_clock_out_is_an_extra_punch() {
    let p = policy_on("office-week");
    let r = records(vec![
        punch(hk(), "2026-11-03", "09:00", In),
        punch(hk(), "2026-11-03", "18:00", Out),
        punch(hk(), "2026-11-03", "18:02", Out),
    ]);
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    assert_eq!(d.missing_clock_in, 0);
    assert!(d.has(DayCode::ExtraPunch), "{:?}", d.findings);
    assert_eq!(d.status, DayStatus::Exception);
    assert_eq!(d.worked_min, 480);
}

#[test]
fn a_clock_in_after_the_shift_is_late_by_the_expected_minutes_in_every_figure() {
    // The store-like shift has an unpaid hour taken anywhere in a window: arriving after the
    // end is late by the 480 expected minutes, in the segment, the day and the message alike.
    let mut a = base();
    a["shifts"].as_array_mut().expect("list").push(json!({"id": "store", "segments": [{"start": "10:00", "end": "19:00"}], "breaks": [{"window": ["12:30", "16:00"], "minutes": 60}]}));
    a["schedules"].as_array_mut().expect("list").push(json!({"id": "store-week", "weekly": {"mon": "store", "tue": "store", "wed": "store", "thu": "store", "fri": "store"}}));
    a["people"][0]["schedules"][0]["schedule"] = json!("store-week");
    let p = policy_with("Asia/Hong_Kong", a);
    let r = records(vec![
        punch(hk(), "2026-11-03", "19:30", In),
        punch(hk(), "2026-11-03", "20:00", Out),
    ]);
    let d = AttendanceEngine::new(&p)
        .day("E1", date("2026-11-03"), &r, later())
        .expect("day");
    assert_eq!(d.expected_min, 480);
    assert_eq!((d.late_min, d.segments[0].late_min), (480, 480));
    assert_eq!(d.early_min, 0);
    assert!(d.findings.iter().any(|f| f.message == "late 480 min: clocked in 19:30, shift starts 10:00, grace 0 min"));
}

#[test]
fn weeks_before_the_records_begin_are_not_judged() {
    // A store worker employed for years; daka keeps records from Tuesday 1 December 2026.
    // Without `records_from` the week from Thursday 26 November (weeks run from the first
    // day of employment, a Thursday) counts the days before daka as days without work.
    let mut a = base();
    a["people"][0]["employment_start"] = json!("2020-01-02");
    let punches: Vec<AttendancePunch> = (1..=31)
        .map(|d| format!("2026-12-{d:02}"))
        .filter(|d| !matches!(date(d).format("%a").to_string().as_str(), "Sat" | "Sun"))
        .filter(|d| d != "2026-12-25")
        .flat_map(|d| [punch(hk(), &d, "09:00", In), punch(hk(), &d, "18:00", Out)])
        .collect();
    let r = records(punches);
    let december = Month {
        year: 2026,
        month: 12,
    };
    let p = policy_with("Asia/Hong_Kong", a.clone());
    let (without, _) = AttendanceEngine::new(&p)
        .month("E1", december, &r, later())
        .expect("month");
    assert_eq!(without.contract_weeks[0].from, date("2026-11-26"));
    assert_eq!(without.contract_weeks[0].worked_min, 480 * 2);
    assert_eq!(without.contract, ContractStatus::NotMet);

    a["records_from"] = json!("2026-12-01");
    let p = policy_with("Asia/Hong_Kong", a);
    let (with, _) = AttendanceEngine::new(&p)
        .month("E1", december, &r, later())
        .expect("month");
    assert_eq!(with.contract_weeks[0].from, date("2026-12-03"));
    assert_eq!(with.contract, ContractStatus::Met);
    // The 4-week total is taken only over weeks on record: from the week of 24 December.
    let totals: Vec<Option<u32>> = with
        .contract_weeks
        .iter()
        .map(|w| w.four_week_min)
        .collect();
    assert_eq!(totals[..3], [None, None, None]);
    assert!(totals[3].is_some(), "{totals:?}");
}
