//! The monthly attendance export HR pays from: one organisation's month, as the attendance
//! engine computed it, turned into files.
//!
//! [`MonthReport`] holds the month's [`MonthSummary`] and [`DayResult`]s of each employee
//! with the labels the policy gives them (employee, leave type and holiday names). It lays
//! them out as three tables with fixed columns, each cell typed ([`Cell`]): the **summary**
//! (one row per employee), the **days** (one row per employee per date) and the month's
//! **warnings** (one row per warning). The writers render those same tables:
//!
//! * `csv.rs`: RFC 4180 CSV (CRLF, quoting by the `csv` crate), UTF-8 with a byte-order mark
//!   so that Excel shows Chinese names.
//! * `xlsx.rs`: one workbook with the sheets "Summary", "Days" and "Warnings": bold, frozen
//!   header, numbers as numbers, dates as Excel dates.
//!
//! Every number is read straight from the engine's structs; nothing is recomputed. Minutes
//! are shown as hours (minutes / 60, two decimals) where the column says hours, and leave as
//! days (half days / 2).

mod csv;
mod xlsx;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use daka_core::Policy;
use daka_core::attendance::rules::Compensation;
use daka_core::attendance::{DayResult, Month, MonthSummary, OvertimeCategory};

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The CSV writer failed.
    #[error("writing the CSV failed: {0}")]
    Csv(#[from] ::csv::Error),
    /// The XLSX writer failed (or a date is outside what Excel can hold).
    #[error("writing the XLSX workbook failed: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// Writing the file failed.
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
}

/// One employee's month in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployeeMonth {
    /// The employee id.
    pub id: String,
    /// The display name from the policy (the id when the policy has no such employee).
    pub name: String,
    /// The engine's month summary.
    pub summary: MonthSummary,
    /// The engine's day results for the dates of the month, ascending.
    pub days: Vec<DayResult>,
}

/// A leave type as a column of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveLabel {
    /// The policy's leave type id, e.g. `annual`.
    pub id: String,
    /// Its display name, e.g. `Annual leave 年假` (the id for a type the policy lacks).
    pub name: String,
}

/// One organisation's month, ready to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthReport {
    /// The month.
    pub month: Month,
    /// The organisation's name.
    pub organisation: String,
    /// The organisation's time zone name, e.g. `Asia/Hong_Kong`: the zone of every date.
    pub time_zone: String,
    /// The employees, in the order given.
    pub employees: Vec<EmployeeMonth>,
    /// Leave types, one summary column each: the policy's in its order, then any other type
    /// the month's leave uses, by id.
    pub leave_types: Vec<LeaveLabel>,
    /// Holiday names by date, e.g. `Christmas Day 聖誕節`.
    pub holidays: BTreeMap<NaiveDate, String>,
}

/// One typed cell of a table; each writer renders it in its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text (empty for nothing).
    Text(String),
    /// A whole number: a count or minutes.
    Count(u32),
    /// Minutes shown as hours, e.g. 450 → `7.50`.
    Hours(u32),
    /// Half days shown as days, e.g. 3 → `1.5`.
    Days(u32),
    /// A calendar date, `yyyy-mm-dd`.
    Date(NaiveDate),
}

/// A table: a header and rows of cells, one per column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<Cell>>,
}

/// The summary's overtime columns: every category × compensation, in this order.
const OVERTIME_COLUMNS: [(OvertimeCategory, Compensation); 6] = [
    (OvertimeCategory::Workday, Compensation::Pay),
    (OvertimeCategory::Workday, Compensation::TimeOff),
    (OvertimeCategory::RestDay, Compensation::Pay),
    (OvertimeCategory::RestDay, Compensation::TimeOff),
    (OvertimeCategory::Holiday, Compensation::Pay),
    (OvertimeCategory::Holiday, Compensation::TimeOff),
];

impl MonthReport {
    /// The report of `month` for the employees' engine results `(employee id, summary, days)`,
    /// with names from `policy`: employees' from `policy.employees`, leave types' from
    /// `policy.approvals.leave_types`, holidays' from `policy.attendance.holidays` (English
    /// and Chinese), the organisation's name and time zone from `policy.org`.
    pub fn build(
        policy: &Policy,
        month: Month,
        per_employee: Vec<(String, MonthSummary, Vec<DayResult>)>,
    ) -> MonthReport {
        let employees: Vec<EmployeeMonth> = per_employee
            .into_iter()
            .map(|(id, summary, days)| EmployeeMonth {
                name: policy
                    .employee(&id)
                    .map_or_else(|| id.clone(), |e| e.name.clone()),
                id,
                summary,
                days,
            })
            .collect();
        let mut leave_types: Vec<LeaveLabel> = policy
            .approvals
            .leave_types
            .iter()
            .map(|l| LeaveLabel {
                id: l.id.clone(),
                name: l.name.clone(),
            })
            .collect();
        let used: std::collections::BTreeSet<&str> = employees
            .iter()
            .flat_map(|e| {
                e.summary.leave_halves.keys().map(String::as_str).chain(
                    e.days
                        .iter()
                        .flat_map(|d| d.leave.iter().map(|l| l.leave_type.as_str())),
                )
            })
            .collect();
        for id in used {
            if !leave_types.iter().any(|l| l.id == id) {
                leave_types.push(LeaveLabel {
                    id: id.to_owned(),
                    name: id.to_owned(),
                });
            }
        }
        let holidays = policy
            .attendance
            .holidays
            .iter()
            .map(|h| (h.date, holiday_name(&h.name_en, &h.name_zh)))
            .collect();
        MonthReport {
            month,
            organisation: policy.org.name.clone(),
            time_zone: policy.org.time_zone.clone(),
            employees,
            leave_types,
            holidays,
        }
    }

    /// A file name stem for the month's files, e.g. `attendance-2026-12`.
    pub fn file_stem(&self) -> String {
        format!("attendance-{}", self.month)
    }

    /// The summary: one row per employee.
    pub fn summary_table(&self) -> Table {
        let mut header: Vec<String> = [
            "Employee ID",
            "Name",
            "Days due",
            "Days attended",
            "Late count",
            "Late minutes",
            "Early-leave minutes",
            "Absences",
            "Missing punches",
        ]
        .map(str::to_owned)
        .to_vec();
        header.extend(
            self.leave_types
                .iter()
                .map(|l| format!("{} (days)", l.name)),
        );
        header
            .extend(["Holidays", "Rest days", "Expected hours", "Worked hours"].map(str::to_owned));
        header.extend(OVERTIME_COLUMNS.iter().map(|(category, compensation)| {
            format!(
                "Overtime hours {} {}",
                category.as_str(),
                compensation.as_str()
            )
        }));
        header.extend(
            [
                "Pending days",
                "Continuous contract",
                "Hours record required",
                "Warnings",
            ]
            .map(str::to_owned),
        );
        let rows = self
            .employees
            .iter()
            .map(|e| {
                let s = &e.summary;
                let mut row = vec![
                    Cell::Text(e.id.clone()),
                    Cell::Text(e.name.clone()),
                    Cell::Count(s.days_due),
                    Cell::Count(s.days_attended),
                    Cell::Count(s.late_count),
                    Cell::Count(s.late_min),
                    Cell::Count(s.early_min),
                    Cell::Count(s.absences),
                    Cell::Count(s.missing_punches),
                ];
                row.extend(
                    self.leave_types
                        .iter()
                        .map(|l| Cell::Days(s.leave_halves.get(&l.id).copied().unwrap_or(0))),
                );
                row.extend([
                    Cell::Count(s.holidays),
                    Cell::Count(s.rest_days),
                    Cell::Hours(s.expected_min),
                    Cell::Hours(s.worked_min),
                ]);
                row.extend(OVERTIME_COLUMNS.iter().map(|(category, compensation)| {
                    Cell::Hours(
                        s.overtime
                            .iter()
                            .filter(|o| o.category == *category && o.compensation == *compensation)
                            .map(|o| o.minutes)
                            .sum(),
                    )
                }));
                row.extend([
                    Cell::Count(s.pending_days),
                    Cell::Text(s.contract.as_str().to_owned()),
                    Cell::Text(if s.hours_record_required { "yes" } else { "no" }.to_owned()),
                    Cell::Text(
                        s.warnings
                            .iter()
                            .map(|w| w.code.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                ]);
                row
            })
            .collect();
        Table { header, rows }
    }

    /// The days: one row per employee per date.
    pub fn days_table(&self) -> Table {
        let header = [
            "Employee ID",
            "Name",
            "Date",
            "Weekday",
            "Kind",
            "Holiday",
            "Shift",
            "Status",
            "Expected minutes",
            "Worked minutes",
            "Late minutes",
            "Early-leave minutes",
            "Missing clock-in",
            "Missing clock-out",
            "Leave",
            "Overtime counted minutes",
            "Overtime category",
            "Overtime compensation",
            "Pending reviews",
            "Finding codes",
            "Finding messages",
        ]
        .map(str::to_owned)
        .to_vec();
        let rows = self
            .employees
            .iter()
            .flat_map(|e| e.days.iter().map(move |d| (e, d)))
            .map(|(e, d)| {
                let overtime = d.overtime;
                vec![
                    Cell::Text(e.id.clone()),
                    Cell::Text(e.name.clone()),
                    Cell::Date(d.date),
                    Cell::Text(d.date.weekday().to_string()),
                    Cell::Text(d.kind.as_str().to_owned()),
                    Cell::Text(
                        d.holiday
                            .and_then(|h| self.holidays.get(&h))
                            .cloned()
                            .unwrap_or_default(),
                    ),
                    Cell::Text(d.shift.clone().unwrap_or_default()),
                    Cell::Text(d.status.as_str().to_owned()),
                    Cell::Count(d.expected_min),
                    Cell::Count(d.worked_min),
                    Cell::Count(d.late_min),
                    Cell::Count(d.early_min),
                    Cell::Count(d.missing_clock_in),
                    Cell::Count(d.missing_clock_out),
                    Cell::Text(
                        d.leave
                            .iter()
                            .map(|l| {
                                format!("{} ({})", self.leave_name(&l.leave_type), l.part.as_str())
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    Cell::Count(overtime.map_or(0, |o| o.counted_min)),
                    Cell::Text(overtime.map_or("", |o| o.category.as_str()).to_owned()),
                    Cell::Text(overtime.map_or("", |o| o.compensation.as_str()).to_owned()),
                    Cell::Count(u32::try_from(d.pending.len()).unwrap_or(u32::MAX)),
                    Cell::Text(
                        d.findings
                            .iter()
                            .map(|f| f.code.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    Cell::Text(
                        d.findings
                            .iter()
                            .map(|f| f.message.as_str())
                            .collect::<Vec<_>>()
                            .join(" | "),
                    ),
                ]
            })
            .collect();
        Table { header, rows }
    }

    /// The month's warnings (the ones that look across days): one row per warning.
    pub fn warnings_table(&self) -> Table {
        let header = ["Employee ID", "Name", "Date", "Code", "Message"]
            .map(str::to_owned)
            .to_vec();
        let rows = self
            .employees
            .iter()
            .flat_map(|e| e.summary.warnings.iter().map(move |w| (e, w)))
            .map(|(e, w)| {
                vec![
                    Cell::Text(e.id.clone()),
                    Cell::Text(e.name.clone()),
                    Cell::Date(w.date),
                    Cell::Text(w.code.as_str().to_owned()),
                    Cell::Text(w.message.clone()),
                ]
            })
            .collect();
        Table { header, rows }
    }

    /// The summary as CSV (RFC 4180, UTF-8 with a byte-order mark).
    pub fn summary_csv(&self) -> Result<Vec<u8>, ReportError> {
        csv::write(&self.summary_table())
    }

    /// The days as CSV (RFC 4180, UTF-8 with a byte-order mark).
    pub fn days_csv(&self) -> Result<Vec<u8>, ReportError> {
        csv::write(&self.days_table())
    }

    /// The warnings as CSV (RFC 4180, UTF-8 with a byte-order mark).
    pub fn warnings_csv(&self) -> Result<Vec<u8>, ReportError> {
        csv::write(&self.warnings_table())
    }

    /// The workbook: sheets "Summary", "Days" and "Warnings".
    pub fn xlsx(&self) -> Result<Vec<u8>, ReportError> {
        xlsx::write(self)
    }

    /// Writes the workbook to `path` (replacing a file there).
    pub fn write_xlsx(&self, path: impl AsRef<Path>) -> Result<(), ReportError> {
        std::fs::write(path, self.xlsx()?)?;
        Ok(())
    }

    /// A leave type's display name (its id when the report has no label for it).
    fn leave_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.leave_types
            .iter()
            .find(|l| l.id == id)
            .map_or(id, |l| l.name.as_str())
    }
}

/// `Christmas Day 聖誕節`: both names, or the one there is.
fn holiday_name(en: &str, zh: &str) -> String {
    match (en.is_empty(), zh.is_empty()) {
        (false, false) => format!("{en} {zh}"),
        (false, true) => en.to_owned(),
        _ => zh.to_owned(),
    }
}
