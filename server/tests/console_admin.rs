//! The console's Reports page, account management, My account, the audit page, scoped API
//! tokens and the admin token's rotation, over loopback against the real server and a real
//! SQLite file: the sheet's numbers against the admin month API, a manager's team only, the
//! XLSX and CSV downloads opened and read, locks by HR only, invitations, disabling and
//! password resets, the audit trail, every admin route with and without its scope, and CSRF.

mod common;

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use chrono::{Duration, Utc};
use common::console::*;
use common::*;
use daka_core::Policy;
use daka_core::attendance::plan::local_instant;
use daka_core::attendance::{AttendanceEngine, DayKind};
use daka_core::protocol::ItemStatus;
use daka_core::punch::PunchKind;
use daka_server::api::scopes::{ADMIN_ROUTES, Need, SCOPES};
use daka_server::{Seed, SeedConsoleAccount, Server, ServerConfig, ServerOptions};
use serde_json::{Value, json};

const HR_EMAIL: &str = "hr@harbour-lane.example";
const HR_PASSWORD: &str = "daka-demo-hr-2026";
const MANAGER_EMAIL: &str = "lee@harbour-lane.example";
const MANAGER_PASSWORD: &str = "daka-demo-manager-2026";
const AUDITOR_EMAIL: &str = "audit@harbour-lane.example";
const AUDITOR_PASSWORD: &str = "daka-demo-auditor-2026";

fn console_seed() -> Seed {
    let mut seed = two_org_seed();
    let account = |email: &str, name: &str, role: &str, password: &str, employee: Option<&str>| {
        SeedConsoleAccount {
            email: email.into(),
            name: name.into(),
            role: role.into(),
            password: password.into(),
            employee_id: employee.map(str::to_owned),
            language: None,
        }
    };
    seed.organisations[0].console_accounts = vec![
        account(
            HR_EMAIL,
            "Wong Siu Ming 黃小明",
            "hr_admin",
            HR_PASSWORD,
            None,
        ),
        account(
            MANAGER_EMAIL,
            "Lee Ka Yan 李家欣",
            "manager",
            MANAGER_PASSWORD,
            Some("E0101"),
        ),
        account(AUDITOR_EMAIL, "Auditor", "auditor", AUDITOR_PASSWORD, None),
    ];
    seed
}

/// A server whose clock is the system's moved by `offset` milliseconds.
async fn start_at(offset: Arc<AtomicI64>) -> TestServer {
    start_console(
        console_seed(),
        ServerOptions {
            clock: Some(Arc::new(move || {
                Utc::now() + Duration::milliseconds(offset.load(Ordering::SeqCst))
            })),
            attendance_sweep: None,
            ..ServerOptions::default()
        },
    )
    .await
}

async fn start() -> TestServer {
    start_at(Arc::new(AtomicI64::new(0))).await
}

/// The text of the cell `data-testid="{field}"` in `row`.
fn cell(row: &str, field: &str) -> String {
    let start = format!(r#"data-testid="{field}">"#);
    let at = row
        .find(&start)
        .unwrap_or_else(|| panic!("{field} in {row}"));
    let rest = &row[at + start.len()..];
    rest[..rest.find('<').unwrap()].to_string()
}

/// A signed-in POST carrying the session's CSRF token (read from `from`).
async fn post_signed(
    server: &TestServer,
    session: &str,
    from: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Page {
    let page = get(server, from, session).await;
    assert_eq!(page.status, 200, "{from}: {}", page.body);
    let csrf = page.csrf_field();
    let mut fields = form.to_vec();
    fields.push(("csrf", &csrf));
    post(server, path, session, &fields).await
}

async fn audit_entries(server: &TestServer) -> Vec<Value> {
    let (status, body) = server
        .admin_get(ADMIN_A, "/admin/v1/console/audit?limit=1000")
        .await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

/// A server whose clock is 10:17 on E1001's latest working day, with E1001 clocked in then
/// (17 minutes late): the server, the month, the day and the punch's record id.
async fn server_with_a_late_clock_in() -> (TestServer, String, String, String) {
    let policy = Policy::from_json(&hk_policy_text()).unwrap();
    let tz = policy.time_zone();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let workday = AttendanceEngine::new(&policy)
        .plans("E1001", today - Duration::days(10), today)
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == DayKind::Workday)
        .map(|d| d.date)
        .next_back()
        .unwrap();
    let offset = (local_instant(tz, workday, 10 * 60 + 17) - Utc::now()).num_milliseconds();
    let server = start_at(Arc::new(AtomicI64::new(offset))).await;
    let now = Utc::now() + Duration::milliseconds(offset);
    let mut dev = server.enroll("A-E1001-0001").await;
    let record = punch_at(&mut dev, PunchKind::In, now);
    let r = server.push(&dev, vec![dev.item(&record)]).await;
    assert_eq!(r[0].status, ItemStatus::Accepted, "{r:?}");
    (
        server,
        workday.format("%Y-%m").to_string(),
        workday.to_string(),
        record.body.id.to_string(),
    )
}

/// Hours as the export writes them.
fn hours(min: u64) -> String {
    let h = (min * 100 + 30) / 60;
    format!("{}.{:02}", h / 100, h % 100)
}

#[tokio::test]
async fn the_sheet_has_the_month_apis_numbers_and_a_manager_sees_only_the_team() {
    let (server, month, day, record_id) = server_with_a_late_clock_in().await;
    let (status, api) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/attendance/month?month={month}"),
        )
        .await;
    assert_eq!(status, 200, "{api}");
    let employees = api["employees"].as_array().unwrap();
    assert_eq!(employees.len(), 6, "{api}");

    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let sheet = get(&server, &format!("/console/reports?month={month}"), &hr).await;
    assert_eq!(sheet.status, 200, "{}", sheet.body);
    assert!(
        sheet
            .body
            .contains(&format!(r#"data-testid="reports-month">{month}<"#))
    );
    let mut late_seen = false;
    for e in employees {
        let id = e["employee"].as_str().unwrap();
        let row = sheet.row(&format!(r#"data-testid="report-row-{id}""#));
        for field in [
            "days_due",
            "days_attended",
            "late_count",
            "late_min",
            "early_min",
            "absences",
            "missing_punches",
        ] {
            assert_eq!(
                cell(row, field),
                e[field].to_string(),
                "{id} {field}: {row}"
            );
        }
        assert_eq!(
            cell(row, "expected_hours"),
            hours(e["expected_min"].as_u64().unwrap()),
            "{id}"
        );
        assert_eq!(
            cell(row, "worked_hours"),
            hours(e["worked_min"].as_u64().unwrap()),
            "{id}"
        );
        late_seen |= id == "E1001" && e["late_min"].as_u64().unwrap() >= 17;
    }
    assert!(late_seen, "E1001's late clock-in counts: {api}");

    // The drill-down: the day, its status and minutes, and the punch with its evidence link.
    let days = get(&server, &format!("/console/reports/{month}/E1001"), &hr).await;
    assert_eq!(days.status, 200, "{}", days.body);
    let row = days.row(&format!(r#"data-testid="day-{day}""#));
    assert!(
        (17..=18).contains(&cell(row, "late_min").parse::<u32>().unwrap()),
        "{row}"
    );
    assert!(
        row.contains(&format!(r#"href="/console/punches/{record_id}""#)),
        "{row}"
    );
    assert!(row.contains("10:17"), "{row}");

    // The manager of E0101 sees E1001 and E1002 only.
    let lee = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;
    let team = get(&server, &format!("/console/reports?month={month}"), &lee).await;
    assert_eq!(team.status, 200);
    let rows: Vec<&str> = team
        .body
        .match_indices(r#"data-testid="report-row-"#)
        .map(|(at, m)| &team.body[at + m.len()..at + m.len() + 5])
        .collect();
    assert_eq!(rows, ["E1001", "E1002"], "{}", team.body);
    assert!(
        !team.body.contains("lock-month"),
        "no lock button for a manager"
    );
    assert_eq!(
        get(&server, &format!("/console/reports/{month}/E1002"), &lee)
            .await
            .status,
        200
    );
    // Another team's employee, or no employee at all: 404 with nothing of theirs.
    for other in ["E0201", "E0001", "E9999"] {
        let r = get(&server, &format!("/console/reports/{month}/{other}"), &lee).await;
        assert_eq!(r.status, 404, "{other}");
        assert!(!r.body.contains("data-testid=\"day-"), "{other}");
        assert!(!r.body.contains(other), "{other}");
    }

    // A bad month names the field.
    let bad = get(&server, "/console/reports?month=2026-13", &hr).await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("Month: give a month as YYYY-MM"),
        "{}",
        bad.body
    );
    let zh = get(&server, "/console/reports?month=nope&lang=zh-Hant", &hr).await;
    assert_eq!(zh.status, 400);
    assert!(
        zh.body.contains("月份：請以 YYYY-MM 格式填寫"),
        "{}",
        zh.body
    );
    // Not signed in: to the sign-in page.
    let anon = get(&server, "/console/reports", "").await;
    assert_eq!((anon.status, anon.location()), (303, "/console/login"));
}

fn xlsx_summary(bytes: &[u8]) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(book.sheet_names(), ["Summary", "Days", "Warnings"]);
    let range = book.worksheet_range("Summary").unwrap();
    range.rows().map(<[Data]>::to_vec).collect()
}

fn column(header: &[Data], title: &str) -> usize {
    header
        .iter()
        .position(|c| *c == title)
        .unwrap_or_else(|| panic!("{title} in {header:?}"))
}

#[tokio::test]
async fn downloads_open_and_hold_the_sheets_cells_for_the_visible_employees() {
    let (server, month, _, _) = server_with_a_late_clock_in().await;
    let (_, api) = server
        .admin_get(
            ADMIN_A,
            &format!("/admin/v1/attendance/month?month={month}"),
        )
        .await;
    let e1001 = api["employees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["employee"] == "E1001")
        .unwrap()
        .clone();

    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let xlsx = get(
        &server,
        &format!("/console/reports/download?month={month}&format=xlsx"),
        &hr,
    )
    .await;
    assert_eq!(xlsx.status, 200, "{}", xlsx.body);
    assert_eq!(
        xlsx.header("content-disposition"),
        format!("attachment; filename=\"attendance-{month}.xlsx\"")
    );
    let rows = xlsx_summary(&xlsx.bytes);
    assert_eq!(rows.len(), 7, "a header and six employees");
    let header = &rows[0];
    let row = rows.iter().find(|r| r[0] == "E1001").expect("E1001's row");
    assert_eq!(row[1].to_string(), "Chan Tai Man 陳大文");
    for (title, field) in [
        ("Days due", "days_due"),
        ("Late minutes", "late_min"),
        ("Absences", "absences"),
    ] {
        let value = &row[column(header, title)];
        assert_eq!(
            value.to_string(),
            e1001[field].to_string(),
            "{title}: {value:?}"
        );
    }

    // The same cells in the CSV, byte-order mark first.
    let csv = get(
        &server,
        &format!("/console/reports/download?month={month}&format=csv&sheet=summary"),
        &hr,
    )
    .await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"));
    let line = csv
        .body
        .lines()
        .find(|l| l.starts_with("E1001,"))
        .expect("E1001's line");
    let cells: Vec<&str> = line.split(',').collect();
    assert_eq!(cells[2], e1001["days_due"].to_string(), "{line}");
    assert_eq!(cells[5], e1001["late_min"].to_string(), "{line}");

    // A manager's download holds the team only.
    let lee = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;
    let team = get(
        &server,
        &format!("/console/reports/download?month={month}&format=xlsx"),
        &lee,
    )
    .await;
    assert_eq!(team.status, 200);
    let ids: Vec<String> = xlsx_summary(&team.bytes)[1..]
        .iter()
        .map(|r| r[0].to_string())
        .collect();
    assert_eq!(ids, ["E1001", "E1002"]);

    // A bad format names the field.
    let bad = get(
        &server,
        &format!("/console/reports/download?month={month}&format=pdf"),
        &hr,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Format: choose xlsx or csv."));

    // Every download is in the audit, with the account.
    let downloads: Vec<Value> = audit_entries(&server)
        .await
        .into_iter()
        .filter(|e| e["action"] == "report_downloaded")
        .collect();
    assert_eq!(downloads.len(), 3, "{downloads:?}");
    assert_eq!(downloads[0]["email"], HR_EMAIL);
    assert!(
        downloads[2]["detail"]
            .as_str()
            .unwrap()
            .contains("2 employees")
    );
    assert_eq!(downloads[2]["email"], MANAGER_EMAIL);
}

#[tokio::test]
async fn only_hr_locks_and_unlocks_a_month() {
    let server = start().await;
    let month = "2026-10";
    let page = format!("/console/reports?month={month}");
    let fields = [("month", month), ("action", "lock")];
    for (email, password) in [
        (MANAGER_EMAIL, MANAGER_PASSWORD),
        (AUDITOR_EMAIL, AUDITOR_PASSWORD),
    ] {
        let session = sign_in(&server, email, password).await;
        let r = post_signed(&server, &session, &page, "/console/reports/lock", &fields).await;
        assert_eq!(r.status, 403, "{email}");
        assert!(
            r.body
                .contains("Your role may not use this page or action.")
        );
        assert!(
            !get(&server, &page, &session)
                .await
                .body
                .contains("lock-month")
        );
    }
    let (_, locks) = server
        .admin_get(ADMIN_A, "/admin/v1/attendance/locks")
        .await;
    assert_eq!(locks["locks"], json!([]), "nothing locked: {locks}");

    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    // Without the CSRF token: refused, nothing locked.
    let r = post(&server, "/console/reports/lock", &hr, &fields).await;
    assert_eq!(r.status, 403);
    let (_, locks) = server
        .admin_get(ADMIN_A, "/admin/v1/attendance/locks")
        .await;
    assert_eq!(locks["locks"], json!([]));

    let r = post_signed(&server, &hr, &page, "/console/reports/lock", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/console/reports?month={month}&done=locked")
    );
    let shown = get(&server, r.location(), &hr).await;
    assert!(
        shown
            .body
            .contains(r#"data-testid="lock-state" data-locked="true""#)
    );
    assert!(shown.body.contains(r#"data-testid="unlock-month""#));
    assert!(shown.body.contains(r#"data-testid="lock-event""#));
    let (_, locks) = server
        .admin_get(ADMIN_A, "/admin/v1/attendance/locks")
        .await;
    assert_eq!(locks["locks"][0]["month"], json!(month), "{locks}");

    let r = post_signed(
        &server,
        &hr,
        &page,
        "/console/reports/lock",
        &[("month", month), ("action", "unlock")],
    )
    .await;
    assert_eq!(r.status, 303);
    let shown = get(&server, &page, &hr).await;
    assert!(shown.body.contains(r#"data-locked="false""#));
    assert_eq!(shown.body.matches(r#"data-testid="lock-event""#).count(), 2);
    let (_, locks) = server
        .admin_get(ADMIN_A, "/admin/v1/attendance/locks")
        .await;
    assert_eq!(locks["locks"], json!([]));

    let bad = post_signed(
        &server,
        &hr,
        &page,
        "/console/reports/lock",
        &[("month", "October"), ("action", "lock")],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Month: give a month as YYYY-MM"));

    let actions: Vec<String> = audit_entries(&server)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .filter(|a| a.starts_with("month_"))
        .collect();
    assert_eq!(actions, ["month_locked", "month_unlocked"]);
}

#[tokio::test]
async fn hr_invites_an_account_which_signs_in_and_is_disabled_at_once() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let page = get(&server, "/console/accounts", &hr).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(r#"data-email="lee@harbour-lane.example""#)
    );

    // Errors name the field, in the page's language, and keep what was typed.
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        "/console/accounts/invite",
        &[
            ("email", "not an email"),
            ("name", "Ho Wing"),
            ("role", "auditor"),
            ("language", "en"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Email: not an email address"), "{}", r.body);
    assert!(r.body.contains(r#"value="Ho Wing""#));
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        "/console/accounts/invite",
        &[
            ("email", "m2@harbour-lane.example"),
            ("name", "Manager Two"),
            ("role", "manager"),
            ("language", "en"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("Employee: a manager account needs an employee")
    );
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        "/console/accounts/invite",
        &[
            ("email", "LEE@harbour-lane.example"),
            ("name", "Again"),
            ("role", "finance"),
            ("language", "en"),
        ],
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(
        r.body
            .contains("Email: the organisation already has an account")
    );

    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        "/console/accounts/invite",
        &[
            ("email", "Ho.Wing@Harbour-Lane.example"),
            ("name", "Ho Wing <b>何穎</b>"),
            ("role", "auditor"),
            ("language", "zh-Hant"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.between(r#"data-testid="shown-email">"#, "<").unwrap(),
        "ho.wing@harbour-lane.example"
    );
    let password = r.between(r#"data-testid="shown-secret">"#, "<").unwrap();
    assert_eq!(password.chars().count(), 20, "{password}");
    // The name is shown as text.
    assert!(r.body.contains("Ho Wing &#60;b&#62;何穎&#60;/b&#62;"));
    assert!(!r.body.contains("<b>何穎</b>"));
    // Shown once: the list does not show it again.
    assert!(
        !get(&server, "/console/accounts", &hr)
            .await
            .body
            .contains(&password)
    );

    // The new auditor signs in with it, reads the audit, and may change nothing.
    let auditor = sign_in(&server, "ho.wing@harbour-lane.example", &password).await;
    let audit = get(&server, "/console/audit", &auditor).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(audit.body.contains(r#"data-action="account_created""#));
    assert_eq!(
        audit.body.matches(r#"method="post""#).count(),
        2,
        "only sign out and sign out everywhere"
    );
    let csrf = audit.csrf_field();
    assert_eq!(
        get(&server, "/console/accounts", &auditor).await.status,
        403
    );
    assert_eq!(
        get(&server, "/console/api-tokens", &auditor).await.status,
        403
    );
    let forged = post(
        &server,
        "/console/accounts/invite",
        &auditor,
        &[
            ("email", "x@harbour-lane.example"),
            ("name", "X"),
            ("role", "hr_admin"),
            ("language", "en"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(forged.status, 403);
    let lee = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;
    assert_eq!(get(&server, "/console/accounts", &lee).await.status, 403);
    assert_eq!(get(&server, "/console/audit", &lee).await.status, 403);

    // Disabling ends its sessions at once and refuses its sign-in.
    let accounts = get(&server, "/console/accounts", &hr).await;
    let row = accounts.row(r#"data-email="ho.wing@harbour-lane.example""#);
    let id = {
        let at = row.find("/console/accounts/").unwrap() + "/console/accounts/".len();
        row[at..at + row[at..].find('/').unwrap()].to_string()
    };
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        &format!("/console/accounts/{id}/disable"),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.location()),
        (303, "/console/accounts?done=disable")
    );
    let gone = get(&server, "/console/audit", &auditor).await;
    assert_eq!((gone.status, gone.location()), (303, "/console/login"));
    assert!(
        try_sign_in(&server, "ho.wing@harbour-lane.example", &password)
            .await
            .is_none()
    );
    let listed = get(&server, "/console/accounts", &hr).await;
    assert!(
        listed
            .row(r#"data-email="ho.wing@harbour-lane.example""#)
            .contains(r#"data-status="disabled""#)
    );

    // Enabled again, then a password reset: the new password works, the old one not.
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        &format!("/console/accounts/{id}/enable"),
        &[],
    )
    .await;
    assert_eq!(r.status, 303);
    let session = sign_in(&server, "ho.wing@harbour-lane.example", &password).await;
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        &format!("/console/accounts/{id}/reset-password"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let fresh = r.between(r#"data-testid="shown-secret">"#, "<").unwrap();
    assert_ne!(fresh, password);
    assert_eq!(get(&server, "/console/today", &session).await.status, 303);
    assert!(
        try_sign_in(&server, "ho.wing@harbour-lane.example", &password)
            .await
            .is_none()
    );
    sign_in(&server, "ho.wing@harbour-lane.example", &fresh).await;

    // A role change: to a manager needs an employee of the policy.
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        &format!("/console/accounts/{id}/role"),
        &[("role", "manager"), ("employee_id", "E9999")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("Employee: a manager account needs an employee")
    );
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        &format!("/console/accounts/{id}/role"),
        &[("role", "manager"), ("employee_id", "E0201")],
    )
    .await;
    assert_eq!(r.status, 303);
    let listed = get(&server, "/console/accounts", &hr).await;
    let row = listed.row(r#"data-email="ho.wing@harbour-lane.example""#);
    assert!(
        row.contains(r#"data-role="manager""#) && row.contains("(E0201)"),
        "{row}"
    );

    // HR cannot disable itself; an unknown account is 404.
    let hr_id = {
        let (status, body) = server.admin_get(ADMIN_A, "/admin/v1/console/audit").await;
        assert_eq!(status, 200);
        body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["email"] == HR_EMAIL && e["action"] == "login_ok")
            .unwrap()["account_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        &format!("/console/accounts/{hr_id}/disable"),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("you cannot change the role of, or disable, your own account")
    );
    let r = post_signed(
        &server,
        &hr,
        "/console/accounts",
        "/console/accounts/no-such-account/disable",
        &[],
    )
    .await;
    assert_eq!(r.status, 404);

    // The audit page lists these, newest first, and filters by action and account.
    let audit = get(&server, "/console/audit", &hr).await;
    let actions: Vec<&str> = audit
        .body
        .match_indices(r#"data-action=""#)
        .map(|(at, m)| {
            let rest = &audit.body[at + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    let expected_order = [
        "account_role_changed",
        "login_ok",
        "password_reset",
        "login_ok",
        "account_enabled",
    ];
    let first_rows: Vec<&str> = actions
        .iter()
        .copied()
        .filter(|a| *a != "login_failed")
        .take(5)
        .collect();
    assert_eq!(first_rows, expected_order, "{actions:?}");
    for action in ["account_disabled", "account_created"] {
        assert!(actions.contains(&action), "{action}");
    }
    let filtered = get(&server, "/console/audit?action=account_disabled", &hr).await;
    assert_eq!(
        filtered.body.matches(r#"data-testid="audit-row""#).count(),
        1
    );
    let row = filtered.row(r#"data-testid="audit-row""#);
    assert!(
        row.contains("ho.wing@harbour-lane.example: disabled"),
        "{row}"
    );
    assert!(
        row.contains("Wong Siu Ming 黃小明 &#60;hr@harbour-lane.example&#62;"),
        "{row}"
    );
    assert!(row.contains("127.0.0.1"), "{row}");
    let mine = get(&server, &format!("/console/audit?account={id}"), &hr).await;
    assert!(mine.body.contains(r#"data-action="login_ok""#));
    assert!(!mine.body.contains(r#"data-action="account_created""#));
    // Keyset paging: only entries before the given one.
    let seqs: Vec<i64> = audit
        .body
        .match_indices(r#"data-seq=""#)
        .map(|(at, m)| {
            let rest = &audit.body[at + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    let older = get(&server, &format!("/console/audit?before={}", seqs[2]), &hr).await;
    let first_older: i64 = older
        .between(r#"data-seq=""#, "\"")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first_older, seqs[3]);
    for bad in [
        "/console/audit?action=drop_tables",
        "/console/audit?before=abc",
        "/console/audit?account=someone-else",
    ] {
        assert_eq!(get(&server, bad, &hr).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn my_account_changes_the_password_and_the_language() {
    let server = start().await;
    let lee = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;
    let other = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;
    let page = get(&server, "/console/account", &lee).await;
    assert_eq!(page.status, 200);
    let new = "a brand new manager password";
    for (current, new_pw, again, message) in [
        (
            "wrong password!",
            new,
            new,
            "Current password: not correct.",
        ),
        (
            MANAGER_PASSWORD,
            "short",
            "short",
            "New password: at least 12 characters.",
        ),
        (
            MANAGER_PASSWORD,
            new,
            "something else",
            "New password again: does not match",
        ),
    ] {
        let r = post_signed(
            &server,
            &lee,
            "/console/account?lang=en",
            "/console/account/password",
            &[
                ("current_password", current),
                ("new_password", new_pw),
                ("confirm_password", again),
            ],
        )
        .await;
        assert_eq!(r.status, 400, "{message}");
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    let r = post_signed(
        &server,
        &lee,
        "/console/account",
        "/console/account/password",
        &[
            ("current_password", MANAGER_PASSWORD),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.location()),
        (303, "/console/account?done=password")
    );
    // This browser goes on with a new session; every other session of the account ended.
    let renewed = format!("daka_session={}", r.cookie("daka_session").unwrap());
    assert_ne!(renewed, lee);
    assert_eq!(get(&server, "/console/account", &renewed).await.status, 200);
    assert_eq!(get(&server, "/console/account", &lee).await.status, 303);
    assert_eq!(get(&server, "/console/today", &other).await.status, 303);
    assert!(
        try_sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD)
            .await
            .is_none()
    );
    let again = sign_in(&server, MANAGER_EMAIL, new).await;

    let r = post_signed(
        &server,
        &again,
        "/console/account",
        "/console/account/language",
        &[("language", "klingon")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = post_signed(
        &server,
        &again,
        "/console/account",
        "/console/account/language",
        &[("language", "en")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.cookie("daka_lang").as_deref(), Some("en"));
    // A new session without the cookie follows the saved preference.
    let fresh = sign_in(&server, MANAGER_EMAIL, new).await;
    let today = get(&server, "/console/today", &fresh).await;
    assert!(today.body.contains(r#"<html lang="en">"#));
    let actions: Vec<String> = audit_entries(&server)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(actions.contains(&"password_changed".to_owned()));
    assert!(actions.contains(&"language_changed".to_owned()));
}

/// Creates an API token on the console; the token shown once.
async fn create_token(
    server: &TestServer,
    hr: &str,
    name: &str,
    scopes: &[&str],
    expires: &str,
) -> String {
    let mut form: Vec<(&str, &str)> = vec![("name", name), ("expires", expires)];
    form.extend(scopes.iter().map(|s| ("scope", *s)));
    let r = post_signed(
        server,
        hr,
        "/console/api-tokens",
        "/console/api-tokens",
        &form,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.between(r#"data-testid="shown-secret">"#, "<").unwrap();
    assert!(
        token.starts_with("daka_at_") && token.len() >= 48,
        "{token}"
    );
    token
}

/// Calls an admin route with a token: the status and the body.
async fn call(server: &TestServer, token: &str, method: &str, path: &str) -> (u16, Value) {
    let path = path
        .replace("{request_id}", "00000000-0000-7000-8000-000000000000")
        .replace("{month}", "2026-09");
    let path = match path.as_str() {
        "/admin/v1/attendance/days" => {
            "/admin/v1/attendance/days?employee=E1001&from=2026-09-01&to=2026-09-02".to_owned()
        }
        "/admin/v1/attendance/month"
        | "/admin/v1/attendance/late-changes"
        | "/admin/v1/reports/attendance" => {
            format!("{path}?month=2026-09")
        }
        "/admin/v1/attendance/roster-warnings" => format!("{path}?from=2026-09-01&to=2026-09-30"),
        "/admin/v1/corrections" => format!("{path}?employee=E1001"),
        _ => path,
    };
    let req = server
        .http
        .request(method.parse().unwrap(), server.url(&path))
        .bearer_auth(token);
    let req = if method == "GET" || method == "DELETE" {
        req
    } else {
        req.header("content-type", "application/json").body("{}")
    };
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn every_admin_route_needs_its_scope() {
    let offset = Arc::new(AtomicI64::new(0));
    let server = start_at(offset.clone()).await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;

    // The table covers every admin route of the OpenAPI document, which names its scope.
    let doc: Value = serde_json::from_str(&daka_server::openapi::document_json()).unwrap();
    let mut documented = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/admin/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            documented += 1;
            let need = ADMIN_ROUTES
                .iter()
                .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && p == path)
                .unwrap_or_else(|| panic!("{method} {path} has no scope"))
                .2;
            let want = match need {
                Need::Scope(s) => json!([{"admin_token": [s]}]),
                Need::AdminToken => json!([{"admin_token": []}]),
            };
            assert_eq!(op["security"], want, "{method} {path}");
        }
    }
    assert_eq!(documented, ADMIN_ROUTES.len());

    // One token per scope.
    let mut tokens = Vec::new();
    for (scope, _) in SCOPES {
        tokens.push((
            *scope,
            create_token(&server, &hr, scope, &[scope], "").await,
        ));
    }
    let page = get(&server, "/console/api-tokens", &hr).await;
    assert_eq!(
        page.body.matches(r#"data-testid="token-row""#).count(),
        SCOPES.len()
    );
    for (_, token) in &tokens {
        assert!(!page.body.contains(token.as_str()), "shown once only");
    }

    for (method, path, need) in ADMIN_ROUTES {
        match need {
            Need::Scope(scope) => {
                let with = &tokens.iter().find(|(s, _)| s == scope).unwrap().1;
                let (status, body) = call(&server, with, method, path).await;
                assert!(
                    ![401, 403].contains(&status),
                    "{method} {path} with {scope}: {status} {body}"
                );
                let (other, without) = tokens.iter().find(|(s, _)| s != scope).unwrap();
                let (status, body) = call(&server, without, method, path).await;
                assert_eq!(status, 403, "{method} {path} with {other}: {body}");
                assert_eq!(body["code"], "insufficient_scope");
                assert!(body["message"].as_str().unwrap().contains(scope), "{body}");
            }
            Need::AdminToken => {
                for (_, token) in &tokens {
                    let (status, body) = call(&server, token, method, path).await;
                    assert_eq!(status, 403, "{method} {path}: {body}");
                    assert_eq!(body["code"], "insufficient_scope");
                }
            }
        }
    }
    // The admin token still reaches everything (a read, to change nothing).
    assert_eq!(
        call(&server, ADMIN_A, "GET", "/admin/v1/devices").await.0,
        200
    );
    // A scoped token of one organisation reads its own organisation only.
    let devices_read = &tokens.iter().find(|(s, _)| *s == "devices:read").unwrap().1;
    let (_, policy) = call(
        &server,
        &tokens.iter().find(|(s, _)| *s == "policy:read").unwrap().1,
        "GET",
        "/admin/v1/policy",
    )
    .await;
    let (_, own) = call(&server, ADMIN_A, "GET", "/admin/v1/policy").await;
    assert_eq!(policy["document"], own["document"], "{policy}");
    let (_, other) = call(&server, ADMIN_B, "GET", "/admin/v1/policy").await;
    assert_ne!(policy["document"], other["document"]);

    // Used tokens show when they were last used.
    let page = get(&server, "/console/api-tokens", &hr).await;
    let hk_today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Hong_Kong)
        .format("%Y-%m-%d")
        .to_string();
    for (at, _) in page.body.match_indices(r#"data-testid="token-row""#) {
        let row = &page.body[at..at + page.body[at..].find("</tr>").unwrap()];
        assert!(cell(row, "token-last-used").starts_with(&hk_today), "{row}");
    }

    // Revoked: 401 at once, and listed as revoked.
    let row = page.row(r#"data-testid="token-row""#);
    let id = {
        let at = row.find(r#"data-token-id=""#).unwrap() + r#"data-token-id=""#.len();
        row[at..at + row[at..].find('"').unwrap()].to_string()
    };
    let newest = &tokens.last().unwrap().1;
    let r = post_signed(
        &server,
        &hr,
        "/console/api-tokens",
        &format!("/console/api-tokens/{id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (status, body) = call(&server, newest, "GET", "/admin/v1/console/audit").await;
    assert_eq!(status, 401, "{body}");
    let page = get(&server, "/console/api-tokens", &hr).await;
    assert!(
        page.row(&format!(r#"data-token-id="{id}""#))
            .contains(r#"data-state="revoked""#)
    );

    // Expired: a token whose last day was today stops at midnight in the organisation's zone.
    let short = create_token(&server, &hr, "short-lived", &["devices:read"], &hk_today).await;
    let listed = get(&server, "/console/api-tokens", &hr).await;
    assert_eq!(
        cell(listed.row(r#"data-testid="token-row""#), "token-last-used"),
        ""
    );
    assert_eq!(
        call(&server, &short, "GET", "/admin/v1/devices").await.0,
        200
    );
    offset.store(Duration::days(1).num_milliseconds(), Ordering::SeqCst);
    let (status, body) = call(&server, &short, "GET", "/admin/v1/devices").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        call(&server, devices_read, "GET", "/admin/v1/devices")
            .await
            .0,
        200
    );
    offset.store(0, Ordering::SeqCst);

    // An unknown token is 401 as before.
    assert_eq!(
        call(&server, "daka_at_nothing", "GET", "/admin/v1/devices")
            .await
            .0,
        401
    );

    // Form errors name the field.
    for (form, message) in [
        (
            vec![("name", ""), ("scope", "devices:read")],
            "Name: 1–100 characters",
        ),
        (vec![("name", "x")], "Scopes: choose at least one"),
        (
            vec![("name", "x"), ("scope", "root")],
            "Scopes: choose at least one",
        ),
        (
            vec![
                ("name", "x"),
                ("scope", "devices:read"),
                ("expires", "2001-01-01"),
            ],
            "Last day: a date",
        ),
    ] {
        let r = post_signed(
            &server,
            &hr,
            "/console/api-tokens",
            "/console/api-tokens",
            &form,
        )
        .await;
        assert_eq!(r.status, 400, "{message}");
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    let actions: Vec<String> = audit_entries(&server)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "api_token_created").count(),
        SCOPES.len() + 1
    );
    assert!(actions.contains(&"api_token_revoked".to_owned()));
}

#[tokio::test]
async fn rotating_the_admin_token_stops_the_old_one_at_once() {
    let server = start().await;
    let r = server
        .http
        .post(server.url("/admin/v1/admin-token/rotate"))
        .bearer_auth(ADMIN_A)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    let new = body["admin_token"].as_str().unwrap().to_owned();
    assert!(new.starts_with("daka_admin_") && new.len() > 40, "{new}");
    assert_eq!(server.admin_get(ADMIN_A, "/admin/v1/devices").await.0, 401);
    assert_eq!(server.admin_get(&new, "/admin/v1/devices").await.0, 200);
    // The other organisation's token is untouched.
    assert_eq!(server.admin_get(ADMIN_B, "/admin/v1/devices").await.0, 200);

    // HR rotates it on the console: confirmation needed, then shown once.
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let r = post_signed(
        &server,
        &hr,
        "/console/api-tokens",
        "/console/api-tokens/rotate-admin",
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Confirmation: tick the box"));
    assert_eq!(server.admin_get(&new, "/admin/v1/devices").await.0, 200);
    let r = post_signed(
        &server,
        &hr,
        "/console/api-tokens",
        "/console/api-tokens/rotate-admin",
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let newer = r.between(r#"data-testid="shown-secret">"#, "<").unwrap();
    assert_eq!(server.admin_get(&new, "/admin/v1/devices").await.0, 401);
    assert_eq!(server.admin_get(&newer, "/admin/v1/devices").await.0, 200);

    // A manager may not.
    let lee = sign_in(&server, MANAGER_EMAIL, MANAGER_PASSWORD).await;
    let csrf = get(&server, "/console/today", &lee).await.csrf_field();
    let r = post(
        &server,
        "/console/api-tokens/rotate-admin",
        &lee,
        &[("confirm", "yes"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(server.admin_get(&newer, "/admin/v1/devices").await.0, 200);

    let rotations: Vec<Value> = {
        let (status, body) = server
            .admin_get(&newer, "/admin/v1/console/audit?limit=1000")
            .await;
        assert_eq!(status, 200);
        body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "admin_token_rotated")
            .cloned()
            .collect()
    };
    assert_eq!(rotations.len(), 2);
    assert_eq!(rotations[0]["email"], "");
    assert_eq!(rotations[1]["email"], HR_EMAIL);
}

#[tokio::test]
async fn a_rotated_admin_token_survives_a_restart_with_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::TestDb::new(dir.path());
    let config = || ServerConfig {
        db_path: db.location(),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: Some(console_seed()),
    };
    let http = reqwest::Client::new();
    let first = Server::start_with(config(), ServerOptions::default())
        .await
        .unwrap();
    let url = |s: &daka_server::RunningServer, p: &str| format!("{}{p}", s.url());
    let r = http
        .post(url(&first, "/admin/v1/admin-token/rotate"))
        .bearer_auth(ADMIN_A)
        .send()
        .await
        .unwrap();
    let new = r.json::<Value>().await.unwrap()["admin_token"]
        .as_str()
        .unwrap()
        .to_owned();
    first.shutdown().await.unwrap();
    let second = Server::start_with(config(), ServerOptions::default())
        .await
        .unwrap();
    let status = |token: &str| {
        let req = http
            .get(url(&second, "/admin/v1/devices"))
            .bearer_auth(token.to_owned());
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        status(ADMIN_A).await,
        401,
        "the seed's token does not come back"
    );
    assert_eq!(status(&new).await, 200);
    second.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_change_needs_the_csrf_token() {
    let server = start().await;
    let hr = sign_in(&server, HR_EMAIL, HR_PASSWORD).await;
    let before = audit_entries(&server).await.len();
    for path in [
        "/console/reports/lock",
        "/console/accounts/invite",
        "/console/accounts/x/disable",
        "/console/accounts/x/enable",
        "/console/accounts/x/role",
        "/console/accounts/x/reset-password",
        "/console/account/password",
        "/console/account/language",
        "/console/api-tokens",
        "/console/api-tokens/x/revoke",
        "/console/api-tokens/rotate-admin",
    ] {
        for csrf in [None, Some("forged-token")] {
            let mut form = vec![
                ("month", "2026-10"),
                ("action", "lock"),
                ("email", "n@harbour-lane.example"),
                ("name", "N"),
                ("role", "auditor"),
                ("language", "en"),
                ("scope", "devices:read"),
                ("confirm", "yes"),
            ];
            if let Some(c) = csrf {
                form.push(("csrf", c));
            }
            let r = post(&server, path, &hr, &form).await;
            assert_eq!(r.status, 403, "{path} {csrf:?}");
            assert!(r.body.contains("forbidden-message"), "{path}");
        }
    }
    assert_eq!(
        audit_entries(&server).await.len(),
        before,
        "nothing happened"
    );
    assert_eq!(server.admin_get(ADMIN_A, "/admin/v1/devices").await.0, 200);
    let (_, locks) = server
        .admin_get(ADMIN_A, "/admin/v1/attendance/locks")
        .await;
    assert_eq!(locks["locks"], json!([]));
}
