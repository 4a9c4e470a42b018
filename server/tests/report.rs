//! The monthly attendance export: a policy with an office schedule and Christmas, two employees
//! with Chinese names, a month of punches with a late morning, leave and an absence, run
//! through the attendance engine; the CSV files are parsed back with the `csv` crate and the
//! workbook opened with `calamine`, and their cells compared with the engine's numbers.

use std::io::Cursor;

use calamine::{Data, Range, Reader, Xlsx, open_workbook, open_workbook_from_rs};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use daka_core::Policy;
use daka_core::attendance::{
    AttendanceEngine, AttendancePunch, DayPart, DayResult, EmployeeRecords, LeaveDay, Month,
    MonthSummary, PunchState,
};
use daka_core::punch::PunchKind;
use daka_server::report::MonthReport;
use serde_json::json;

const E1_NAME: &str = "Chan Tai Man 陳大文";
/// A comma and quotes: both need quoting in CSV. (A policy name holds no newline; the quoting
/// test adds one to the report.)
const E2_NAME: &str = "Lee, \"Siu\" Ming 李小明";

fn policy() -> Policy {
    let doc = json!({
        "version": 1,
        "org": {"id": "harbour-lane", "name": "Harbour Lane 港灣里", "time_zone": "Asia/Hong_Kong"},
        "sites": [{
            "id": "cwb-store",
            "name": "Causeway Bay Store 銅鑼灣店",
            "tolerance_m": 20,
            "fences": [{"type": "Polygon", "coordinates": [[
                [114.1828704, 22.279945], [114.1833126, 22.2798872], [114.1833369, 22.2800481],
                [114.1829109, 22.2802132], [114.1828704, 22.279945]
            ]]}]
        }],
        "employees": [
            {"id": "E1", "name": E1_NAME, "sites": ["cwb-store"]},
            {"id": "E2", "name": E2_NAME, "sites": ["cwb-store"], "manager": "E1"}
        ],
        "approvals": {
            "leave_types": [
                {"id": "annual", "name": "Annual leave 年假", "days_per_year": 14},
                {"id": "sick", "name": "Sick leave 病假", "days_per_year": 12}
            ]
        },
        "attendance": {
            "shifts": [{"id": "office", "name": "Office 辦公室", "segments": [{"start": "09:00", "end": "18:00"}]}],
            "schedules": [{"id": "office", "weekly": {
                "mon": "office", "tue": "office", "wed": "office", "thu": "office", "fri": "office",
                "sat": "rest", "sun": "rest"
            }}],
            "people": [
                {"employee": "E1", "schedules": [{"schedule": "office", "from": "2026-01-01"}]},
                {"employee": "E2", "schedules": [{"schedule": "office", "from": "2026-01-01"}],
                 "monthly_wage": {"amount": 1_500_000, "currency": "HKD"}}
            ],
            "holidays": [
                {"date": "2026-12-25", "name": {"en": "Christmas Day", "zh": "聖誕節"}, "statutory": true}
            ]
        }
    });
    Policy::from_json(&doc.to_string()).expect("the test policy is valid")
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// `hh:mm` on `d` in Hong Kong.
fn hk(d: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .from_local_datetime(&d.and_hms_opt(hh, mm, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn punch(d: NaiveDate, hh: u32, mm: u32, kind: PunchKind) -> AttendancePunch {
    AttendancePunch {
        id: format!("{d}-{hh:02}{mm:02}-{kind:?}"),
        at: hk(d, hh, mm),
        kind,
        state: PunchState::Accepted,
    }
}

/// December 2026 for one employee: 09:00–18:00 on every weekday except `skip`, with the
/// clock-in of `late` (date, minutes late) moved.
fn records(skip: &[&str], late: Option<(&str, u32)>, leave: Vec<LeaveDay>) -> EmployeeRecords {
    let mut r = EmployeeRecords {
        leave,
        ..EmployeeRecords::default()
    };
    let mut d = date("2026-12-01");
    while d.month() == 12 {
        let weekday = !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        let skipped = skip.iter().any(|s| date(s) == d) || d == date("2026-12-25");
        if weekday && !skipped {
            let late_min = late.filter(|(s, _)| date(s) == d).map_or(0, |(_, m)| m);
            r.punches.push(punch(d, 9, late_min, PunchKind::In));
            r.punches.push(punch(d, 18, 0, PunchKind::Out));
        }
        d = d.succ_opt().unwrap();
    }
    r.normalise();
    r
}

struct Fixture {
    report: MonthReport,
    e1: (MonthSummary, Vec<DayResult>),
    e2: (MonthSummary, Vec<DayResult>),
}

fn fixture() -> Fixture {
    let policy = policy();
    let engine = AttendanceEngine::new(&policy);
    let month = Month {
        year: 2026,
        month: 12,
    };
    let now = hk(date("2027-01-05"), 12, 0);
    // E1: 17 minutes late on the 3rd, annual leave on the 10th, a sick morning on the 11th.
    let r1 = records(
        &["2026-12-10"],
        Some(("2026-12-03", 17)),
        vec![
            LeaveDay {
                date: date("2026-12-10"),
                part: DayPart::Full,
                leave_type: "annual".into(),
            },
            LeaveDay {
                date: date("2026-12-11"),
                part: DayPart::Am,
                leave_type: "sick".into(),
            },
        ],
    );
    // E2: absent on the 14th.
    let r2 = records(&["2026-12-14"], None, Vec::new());
    let e1 = engine.month("E1", month, &r1, now).unwrap();
    let e2 = engine.month("E2", month, &r2, now).unwrap();
    let report = MonthReport::build(
        &policy,
        month,
        vec![
            ("E1".into(), e1.0.clone(), e1.1.clone()),
            ("E2".into(), e2.0.clone(), e2.1.clone()),
        ],
    );
    Fixture { report, e1, e2 }
}

fn day<'a>(days: &'a [DayResult], d: &str) -> &'a DayResult {
    days.iter().find(|x| x.date == date(d)).unwrap()
}

/// The cells of a sheet as a table with a header.
struct Sheet(Range<Data>);

impl Sheet {
    fn col(&self, title: &str) -> usize {
        (0..self.0.width())
            .find(|&c| self.0.get((0, c)) == Some(&Data::String(title.to_owned())))
            .unwrap_or_else(|| panic!("no column {title:?}"))
    }

    /// The row whose first cell is `id` and (when given) whose Date cell is `on`.
    fn row(&self, id: &str, on: Option<NaiveDate>) -> usize {
        (1..self.0.height())
            .find(|&r| {
                self.0.get((r, 0)) == Some(&Data::String(id.to_owned()))
                    && on.is_none_or(|d| self.date(r, "Date") == d)
            })
            .unwrap_or_else(|| panic!("no row for {id} {on:?}"))
    }

    fn get(&self, r: usize, title: &str) -> &Data {
        self.0.get((r, self.col(title))).unwrap()
    }

    fn num(&self, r: usize, title: &str) -> f64 {
        match self.get(r, title) {
            Data::Float(x) => *x,
            other => panic!("{title} is not a number: {other:?}"),
        }
    }

    fn text(&self, r: usize, title: &str) -> String {
        match self.get(r, title) {
            Data::String(s) => s.clone(),
            Data::Empty => String::new(),
            other => panic!("{title} is not text: {other:?}"),
        }
    }

    fn date(&self, r: usize, title: &str) -> NaiveDate {
        match self.get(r, title) {
            Data::DateTime(x) => x.as_datetime().unwrap().date(),
            other => panic!("{title} is not a date: {other:?}"),
        }
    }
}

fn sheets(bytes: Vec<u8>) -> (Sheet, Sheet, Sheet) {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), ["Summary", "Days", "Warnings"]);
    (
        Sheet(book.worksheet_range("Summary").unwrap()),
        Sheet(book.worksheet_range("Days").unwrap()),
        Sheet(book.worksheet_range("Warnings").unwrap()),
    )
}

#[test]
fn engine_month_has_what_the_export_is_checked_against() {
    let f = fixture();
    let (s1, d1) = &f.e1;
    assert_eq!(s1.late_min, 17);
    assert_eq!(s1.late_count, 1);
    assert_eq!(s1.leave_halves.get("annual"), Some(&2));
    assert_eq!(s1.leave_halves.get("sick"), Some(&1));
    assert_eq!(day(d1, "2026-12-03").late_min, 17);
    assert_eq!(f.e2.0.absences, 1);
    assert!(f.e2.0.hours_record_required);
    assert_eq!(d1.len(), 31);
}

#[test]
fn xlsx_cells_equal_the_engine() {
    let f = fixture();
    let (summary, days, warnings) = sheets(f.report.xlsx().unwrap());
    let (s1, d1) = &f.e1;
    let (s2, d2) = &f.e2;

    // Summary: the header, names, and numbers as numbers.
    assert_eq!(summary.0.height(), 3);
    assert_eq!(summary.text(0, "Employee ID"), "Employee ID");
    let r1 = summary.row("E1", None);
    let r2 = summary.row("E2", None);
    assert_eq!(summary.text(r1, "Name"), E1_NAME);
    assert_eq!(summary.text(r2, "Name"), E2_NAME);
    assert_eq!(summary.num(r1, "Late minutes"), f64::from(s1.late_min));
    assert_eq!(summary.num(r1, "Late count"), f64::from(s1.late_count));
    assert_eq!(summary.num(r1, "Days due"), f64::from(s1.days_due));
    assert_eq!(
        summary.num(r1, "Days attended"),
        f64::from(s1.days_attended)
    );
    assert_eq!(
        summary.num(r1, "Worked hours"),
        f64::from(s1.worked_min) / 60.0
    );
    assert_eq!(
        summary.num(r1, "Expected hours"),
        f64::from(s1.expected_min) / 60.0
    );
    assert_eq!(summary.num(r1, "Annual leave 年假 (days)"), 1.0);
    assert_eq!(summary.num(r1, "Sick leave 病假 (days)"), 0.5);
    assert_eq!(summary.num(r2, "Annual leave 年假 (days)"), 0.0);
    assert_eq!(summary.num(r2, "Absences"), f64::from(s2.absences));
    assert_eq!(summary.num(r1, "Holidays"), f64::from(s1.holidays));
    assert_eq!(summary.num(r1, "Rest days"), f64::from(s1.rest_days));
    assert_eq!(summary.text(r2, "Hours record required"), "yes");
    assert_eq!(summary.text(r1, "Hours record required"), "no");
    let codes: Vec<&str> = s2.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(summary.text(r2, "Warnings"), codes.join("; "));

    // Days: one row per employee per date, dates as Excel dates.
    assert_eq!(days.0.height(), 1 + d1.len() + d2.len());
    let late = day(d1, "2026-12-03");
    let r = days.row("E1", Some(late.date));
    assert_eq!(days.date(r, "Date"), date("2026-12-03"));
    assert_eq!(days.text(r, "Weekday"), "Thu");
    assert_eq!(days.text(r, "Name"), E1_NAME);
    assert_eq!(days.num(r, "Late minutes"), f64::from(late.late_min));
    assert_eq!(days.num(r, "Worked minutes"), f64::from(late.worked_min));
    assert_eq!(
        days.num(r, "Expected minutes"),
        f64::from(late.expected_min)
    );
    assert!(
        days.text(r, "Finding codes")
            .split("; ")
            .any(|c| c == "late")
    );
    let messages: Vec<&str> = late.findings.iter().map(|x| x.message.as_str()).collect();
    assert_eq!(days.text(r, "Finding messages"), messages.join(" | "));
    let r = days.row("E1", Some(date("2026-12-10")));
    assert_eq!(days.text(r, "Leave"), "Annual leave 年假 (full)");
    assert_eq!(days.text(r, "Status"), "on_leave");
    let r = days.row("E1", Some(date("2026-12-11")));
    assert_eq!(days.text(r, "Leave"), "Sick leave 病假 (am)");
    let r = days.row("E2", Some(date("2026-12-25")));
    assert_eq!(days.text(r, "Holiday"), "Christmas Day 聖誕節");
    assert_eq!(days.text(r, "Kind"), day(d2, "2026-12-25").kind.as_str());
    let r = days.row("E2", Some(date("2026-12-14")));
    assert_eq!(days.text(r, "Status"), "absent");
    assert_eq!(days.text(r, "Shift"), "office");

    // Warnings: each of the month's warnings, with its date.
    let total: usize = [s1, s2].iter().map(|s| s.warnings.len()).sum();
    assert_eq!(warnings.0.height(), 1 + total);
    let w = s2
        .warnings
        .iter()
        .find(|w| w.code.as_str() == "hk_hours_record")
        .unwrap();
    let r = (1..warnings.0.height())
        .find(|&r| warnings.text(r, "Code") == "hk_hours_record")
        .unwrap();
    assert_eq!(warnings.text(r, "Employee ID"), "E2");
    assert_eq!(warnings.date(r, "Date"), w.date);
    assert_eq!(warnings.text(r, "Message"), w.message);
}

#[test]
fn xlsx_is_written_to_a_path() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{}.xlsx", f.report.file_stem()));
    assert!(path.ends_with("attendance-2026-12.xlsx"));
    f.report.write_xlsx(&path).unwrap();
    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    let summary = Sheet(book.worksheet_range("Summary").unwrap());
    assert_eq!(summary.text(summary.row("E1", None), "Name"), E1_NAME);
}

/// Parses CSV bytes: checks the byte-order mark and CRLF line ends, returns header and rows.
fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 byte-order mark");
    let body = &bytes[3..];
    let first_line_end = body.iter().position(|&b| b == b'\n').unwrap();
    assert_eq!(body[first_line_end - 1], b'\r', "CRLF after the header");
    assert!(body.ends_with(b"\r\n"));
    let mut reader = csv::ReaderBuilder::new().from_reader(body);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn field<'a>(header: &[String], row: &'a [String], title: &str) -> &'a str {
    let c = header
        .iter()
        .position(|h| h == title)
        .unwrap_or_else(|| panic!("no column {title:?}"));
    &row[c]
}

#[test]
fn summary_csv_has_the_bom_the_header_and_the_engine_numbers() {
    let f = fixture();
    let (s1, _) = &f.e1;
    let (header, rows) = parse_csv(&f.report.summary_csv().unwrap());
    let expected: Vec<&str> = vec![
        "Employee ID",
        "Name",
        "Days due",
        "Days attended",
        "Late count",
        "Late minutes",
        "Early-leave minutes",
        "Absences",
        "Missing punches",
        "Annual leave 年假 (days)",
        "Sick leave 病假 (days)",
        "Holidays",
        "Rest days",
        "Expected hours",
        "Worked hours",
        "Overtime hours workday pay",
        "Overtime hours workday time_off",
        "Overtime hours rest_day pay",
        "Overtime hours rest_day time_off",
        "Overtime hours holiday pay",
        "Overtime hours holiday time_off",
        "Pending days",
        "Continuous contract",
        "Hours record required",
        "Warnings",
    ];
    assert_eq!(header, expected);
    assert_eq!(rows.len(), 2);
    let e1 = rows.iter().find(|r| r[0] == "E1").unwrap();
    assert_eq!(field(&header, e1, "Name"), E1_NAME);
    assert_eq!(field(&header, e1, "Late minutes"), s1.late_min.to_string());
    assert_eq!(
        field(&header, e1, "Worked hours"),
        format!("{:.2}", f64::from(s1.worked_min) / 60.0)
    );
    assert_eq!(
        field(&header, e1, "Expected hours"),
        format!("{:.2}", f64::from(s1.expected_min) / 60.0)
    );
    assert_eq!(field(&header, e1, "Annual leave 年假 (days)"), "1.0");
    assert_eq!(field(&header, e1, "Sick leave 病假 (days)"), "0.5");
    assert_eq!(field(&header, e1, "Overtime hours workday pay"), "0.00");
    // Weeks run Thursday to Wednesday from 1 January; the first one ending in December
    // (26 November to 2 December) has December's two 9-hour days, 18 h ≥ 17 h, so every week
    // passes: whatever the engine says is what the file says, in its wire form.
    assert_eq!(
        json!(field(&header, e1, "Continuous contract")),
        serde_json::to_value(s1.contract).unwrap()
    );
    assert_eq!(field(&header, e1, "Continuous contract"), "met");
    let e2 = rows.iter().find(|r| r[0] == "E2").unwrap();
    assert_eq!(field(&header, e2, "Name"), E2_NAME);
    assert_eq!(field(&header, e2, "Absences"), f.e2.0.absences.to_string());
}

#[test]
fn days_csv_has_the_engine_numbers_per_date() {
    let f = fixture();
    let (_, d1) = &f.e1;
    let (header, rows) = parse_csv(&f.report.days_csv().unwrap());
    assert_eq!(&header[..4], ["Employee ID", "Name", "Date", "Weekday"]);
    assert_eq!(rows.len(), d1.len() + f.e2.1.len());
    let late = day(d1, "2026-12-03");
    let row = rows
        .iter()
        .find(|r| r[0] == "E1" && field(&header, r, "Date") == "2026-12-03")
        .unwrap();
    assert_eq!(field(&header, row, "Name"), E1_NAME);
    assert_eq!(
        field(&header, row, "Late minutes"),
        late.late_min.to_string()
    );
    assert_eq!(
        field(&header, row, "Worked minutes"),
        late.worked_min.to_string()
    );
    assert_eq!(field(&header, row, "Status"), "exception");
    let row = rows
        .iter()
        .find(|r| r[0] == "E1" && field(&header, r, "Date") == "2026-12-10")
        .unwrap();
    assert_eq!(field(&header, row, "Leave"), "Annual leave 年假 (full)");
}

#[test]
fn csv_quotes_commas_quotes_and_newlines() {
    let mut f = fixture();
    let awkward = "Lee, \"Siu\"\nMing 李小明";
    f.report.employees[1].name = awkward.to_owned();
    let bytes = f.report.summary_csv().unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    // RFC 4180: the field quoted, its quotes doubled, the newline kept inside the quotes.
    assert!(
        text.contains(",\"Lee, \"\"Siu\"\"\nMing 李小明\","),
        "{text}"
    );
    // Fields that need no quotes are not quoted.
    assert!(text.contains("\r\nE1,Chan Tai Man 陳大文,"), "{text}");
    let (header, rows) = parse_csv(&bytes);
    assert_eq!(rows.len(), 2);
    let e2 = rows.iter().find(|r| r[0] == "E2").unwrap();
    assert_eq!(field(&header, e2, "Name"), awkward);
    assert_eq!(
        field(&header, e2, "Late minutes"),
        f.e2.0.late_min.to_string()
    );

    // The workbook keeps the same text in one cell.
    let (summary, _, _) = sheets(f.report.xlsx().unwrap());
    assert_eq!(summary.text(summary.row("E2", None), "Name"), awkward);
}

#[test]
fn warnings_csv_lists_the_month_warnings() {
    let f = fixture();
    let (header, rows) = parse_csv(&f.report.warnings_csv().unwrap());
    assert_eq!(header, ["Employee ID", "Name", "Date", "Code", "Message"]);
    let expected: Vec<Vec<String>> = [("E1", E1_NAME, &f.e1.0), ("E2", E2_NAME, &f.e2.0)]
        .iter()
        .flat_map(|(id, name, s)| {
            s.warnings.iter().map(move |w| {
                vec![
                    id.to_string(),
                    name.to_string(),
                    w.date.to_string(),
                    w.code.as_str().to_owned(),
                    w.message.clone(),
                ]
            })
        })
        .collect();
    assert_eq!(rows, expected);
}
