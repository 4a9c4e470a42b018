//! The report as one XLSX workbook, written by `rust_xlsxwriter`: the sheets "Summary",
//! "Days" and "Warnings", with the same columns as the CSV files.
//!
//! Each sheet has a bold header row that stays in view (frozen) and carries an autofilter,
//! and column widths fitted to their contents (a Chinese character counted two wide).
//! Numbers are numeric cells: counts and minutes as whole numbers; hours hold minutes / 60
//! exactly, shown with two decimals (`0.00`), so that sums in Excel add exact values; leave
//! days hold half days / 2, shown `0.0`. Dates are Excel dates shown `yyyy-mm-dd`. Text is
//! always written as text, never as a formula. The organisation and the time zone are in the
//! document's properties.

use chrono::Datelike;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::{Cell, MonthReport, ReportError, Table};

/// Narrowest and widest column, in Excel's character widths.
const MIN_WIDTH: usize = 6;
const MAX_WIDTH: usize = 60;

/// The cell formats of a sheet.
struct Formats {
    header: Format,
    hours: Format,
    days: Format,
    date: Format,
}

/// The workbook's bytes.
pub(super) fn write(report: &MonthReport) -> Result<Vec<u8>, ReportError> {
    let formats = Formats {
        header: Format::new().set_bold(),
        hours: Format::new().set_num_format("0.00"),
        days: Format::new().set_num_format("0.0"),
        date: Format::new().set_num_format("yyyy-mm-dd"),
    };
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title(format!("Attendance {}", report.month))
            .set_company(report.organisation.as_str())
            .set_comment(format!(
                "{}: attendance of {}; dates in the time zone {}",
                report.organisation, report.month, report.time_zone
            )),
    );
    for (name, table) in [
        ("Summary", report.summary_table()),
        ("Days", report.days_table()),
        ("Warnings", report.warnings_table()),
    ] {
        let sheet = workbook.add_worksheet();
        sheet.set_name(name)?;
        write_table(sheet, &table, &formats)?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// Writes `table` from A1: header, rows, frozen header, autofilter, widths.
fn write_table(sheet: &mut Worksheet, table: &Table, f: &Formats) -> Result<(), XlsxError> {
    let mut widths: Vec<usize> = table.header.iter().map(|h| width(h)).collect();
    for (c, title) in table.header.iter().enumerate() {
        sheet.write_string_with_format(0, col(c), title, &f.header)?;
    }
    for (r, cells) in table.rows.iter().enumerate() {
        let row = u32::try_from(r + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        for (c, cell) in cells.iter().enumerate() {
            let shown = match cell {
                Cell::Text(s) => {
                    sheet.write_string(row, col(c), s)?;
                    width(s)
                }
                Cell::Count(n) => {
                    sheet.write_number(row, col(c), *n)?;
                    n.to_string().len()
                }
                Cell::Hours(min) => {
                    sheet.write_number_with_format(
                        row,
                        col(c),
                        f64::from(*min) / 60.0,
                        &f.hours,
                    )?;
                    super::csv::hours(*min).len()
                }
                Cell::Days(halves) => {
                    sheet.write_number_with_format(
                        row,
                        col(c),
                        f64::from(*halves) / 2.0,
                        &f.days,
                    )?;
                    (halves / 2).to_string().len() + 2
                }
                Cell::Date(d) => {
                    let date = ExcelDateTime::from_ymd(
                        u16::try_from(d.year()).unwrap_or(0),
                        u8::try_from(d.month()).unwrap_or(0),
                        u8::try_from(d.day()).unwrap_or(0),
                    )?;
                    sheet.write_date_with_format(row, col(c), &date, &f.date)?;
                    10
                }
            };
            if let Some(w) = widths.get_mut(c) {
                *w = (*w).max(shown);
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    if !table.header.is_empty() {
        let last_row =
            u32::try_from(table.rows.len()).map_err(|_| XlsxError::RowColumnLimitError)?;
        sheet.autofilter(0, 0, last_row, col(table.header.len() - 1))?;
    }
    for (c, w) in widths.into_iter().enumerate() {
        // Two characters for the autofilter's button.
        let w = (w + 2).clamp(MIN_WIDTH, MAX_WIDTH);
        sheet.set_column_width(col(c), u32::try_from(w).unwrap_or(u32::MAX))?;
    }
    Ok(())
}

/// A column index (the report's tables have a few dozen columns).
fn col(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}

/// Display width in Excel's character widths: wide (East Asian) characters count two.
fn width(s: &str) -> usize {
    s.chars()
        .map(|ch| match u32::from(ch) {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}
