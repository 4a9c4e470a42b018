//! The report's tables as CSV files: RFC 4180 (comma-separated, CRLF line ends, a field quoted
//! when it holds a comma, a quote, CR or LF, quotes doubled), written by the `csv` crate, in
//! UTF-8 behind a byte-order mark so that Excel opens Chinese names correctly.
//!
//! Numbers are written as plain decimals: counts and minutes as integers, hours with two
//! decimals (`7.50`), leave days with one (`1.5`); dates as `yyyy-mm-dd`.

use ::csv::{QuoteStyle, Terminator, WriterBuilder};

use super::{Cell, ReportError, Table};

/// The UTF-8 byte-order mark.
pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `table` as CSV bytes: the byte-order mark, the header, then the rows.
pub(super) fn write(table: &Table) -> Result<Vec<u8>, ReportError> {
    let mut out = BOM.to_vec();
    {
        let mut w = WriterBuilder::new()
            .terminator(Terminator::CRLF)
            .quote_style(QuoteStyle::Necessary)
            .from_writer(&mut out);
        w.write_record(&table.header)?;
        for row in &table.rows {
            w.write_record(row.iter().map(text))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// A cell as CSV text.
fn text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => defuse(s),
        Cell::Count(n) => n.to_string(),
        Cell::Hours(min) => hours(*min),
        Cell::Days(halves) => format!("{}.{}", halves / 2, if halves % 2 == 1 { 5 } else { 0 }),
        Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
    }
}

/// Text that a spreadsheet would read as a formula (it starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return) gets a leading `'`, so opening the CSV in Excel shows the text
/// instead of running it (OWASP's advice on CSV injection). The XLSX writes text cells as text
/// and needs no such guard.
fn defuse(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

/// Minutes as hours with two decimals, rounded half up: 450 → `7.50`, 20 → `0.33`.
pub(super) fn hours(min: u32) -> String {
    // Hundredths of an hour, rounded: (min × 100 + 30) / 60 in integers, so no float rounding.
    let hundredths = (u64::from(min) * 100 + 30) / 60;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::hours;
    use super::*;

    #[test]
    fn formulas_are_shown_as_text() {
        assert_eq!(
            defuse("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(defuse("+852 1234"), "'+852 1234");
        assert_eq!(defuse("-1"), "'-1");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("Chan Tai Man 陳大文"), "Chan Tai Man 陳大文");
        assert_eq!(defuse(""), "");
    }

    #[test]
    fn hours_have_two_decimals() {
        assert_eq!(hours(0), "0.00");
        assert_eq!(hours(450), "7.50");
        assert_eq!(hours(20), "0.33");
        assert_eq!(hours(1), "0.02");
        assert_eq!(hours(40), "0.67");
        assert_eq!(hours(60 * 176 + 15), "176.25");
    }
}
