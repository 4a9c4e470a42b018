//! The parameters of the attendance endpoints and `daka report`, parsed with errors that name
//! the parameter and the value given: a month `YYYY-MM`, a date `YYYY-MM-DD`, a range that
//! does not run backwards, an employee the policy gives attendance settings, an export format
//! and sheet.

use chrono::NaiveDate;
use daka_core::Policy;
use daka_core::attendance::{MAX_RANGE_DAYS, Month};

/// A parameter that does not read, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {value:?} {reason}")]
pub struct ParamError {
    /// Stable code: `invalid_month`, `invalid_date`, `invalid_range`, `unknown_employee`,
    /// `invalid_format`, `invalid_sheet`, `missing_parameter` or `unknown_parameter`.
    pub code: &'static str,
    /// The parameter, e.g. `month`.
    pub param: String,
    /// The value given.
    pub value: String,
    /// What it must be.
    pub reason: String,
}

impl ParamError {
    /// An error for `param` given as `value`.
    pub fn new(
        code: &'static str,
        param: &str,
        value: &str,
        reason: impl Into<String>,
    ) -> ParamError {
        ParamError {
            code,
            param: param.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The first year a month may be in: the first the XLSX export can write (Excel's dates
/// begin in 1900); no attendance is older.
pub const FIRST_YEAR: i32 = 1900;

/// `YYYY-MM`, months 01 to 12, from 1900-01 on.
pub fn month(param: &str, value: &str) -> Result<Month, ParamError> {
    let month = Month::parse(value).ok_or_else(|| {
        ParamError::new(
            "invalid_month",
            param,
            value,
            "is not a month: give YYYY-MM with a month from 01 to 12",
        )
    })?;
    if month.year < FIRST_YEAR {
        return Err(ParamError::new(
            "invalid_month",
            param,
            value,
            "is before 1900-01, the first month attendance is kept for",
        ));
    }
    Ok(month)
}

/// `YYYY-MM-DD`, a real date.
pub fn date(param: &str, value: &str) -> Result<NaiveDate, ParamError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| value.len() == 10)
        .ok_or_else(|| {
            ParamError::new(
                "invalid_date",
                param,
                value,
                "is not a date: give YYYY-MM-DD",
            )
        })
}

/// `from..=to`: not backwards, at most the engine's range.
pub fn range(from: NaiveDate, to: NaiveDate) -> Result<(), ParamError> {
    if to < from {
        return Err(ParamError::new(
            "invalid_range",
            "to",
            &to.to_string(),
            format!("is before from ({from})"),
        ));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ParamError::new(
            "invalid_range",
            "to",
            &to.to_string(),
            format!("is {MAX_RANGE_DAYS} days or more after from ({from})"),
        ));
    }
    Ok(())
}

/// An employee with attendance settings in the policy.
pub fn employee(policy: &Policy, param: &str, value: &str) -> Result<String, ParamError> {
    if value.is_empty() || value.len() > daka_core::attempt::MAX_ID_LEN {
        return Err(ParamError::new(
            "invalid_request",
            param,
            &value.chars().take(40).collect::<String>(),
            "is 1 to 128 bytes",
        ));
    }
    if policy.attendance.person(value).is_some() {
        return Ok(value.to_owned());
    }
    let reason = if policy.employee(value).is_some() {
        "has no attendance settings in the current policy (attendance.people)"
    } else {
        "is not an employee of the current policy"
    };
    Err(ParamError::new("unknown_employee", param, value, reason))
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One workbook with the three sheets.
    Xlsx,
    /// One CSV table.
    Csv,
}

/// `xlsx` or `csv`.
pub fn format(param: &str, value: &str) -> Result<Format, ParamError> {
    match value {
        "xlsx" => Ok(Format::Xlsx),
        "csv" => Ok(Format::Csv),
        _ => Err(ParamError::new(
            "invalid_format",
            param,
            value,
            "is not a format: give xlsx or csv",
        )),
    }
}

/// A table of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sheet {
    /// One row per employee.
    Summary,
    /// One row per employee per date.
    Days,
    /// One row per warning.
    Warnings,
}

impl Sheet {
    /// The parameter's value, e.g. `summary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sheet::Summary => "summary",
            Sheet::Days => "days",
            Sheet::Warnings => "warnings",
        }
    }
}

/// `summary`, `days` or `warnings`.
pub fn sheet(param: &str, value: &str) -> Result<Sheet, ParamError> {
    match value {
        "summary" => Ok(Sheet::Summary),
        "days" => Ok(Sheet::Days),
        "warnings" => Ok(Sheet::Warnings),
        _ => Err(ParamError::new(
            "invalid_sheet",
            param,
            value,
            "is not a sheet: give summary, days or warnings",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by Schemathesis: `GET /admin/v1/reports/attendance?month=0000-01` answered 500
    /// (the XLSX writer cannot write a date before 1900).
    #[test]
    fn a_month_before_1900_is_refused() {
        for value in ["0000-01", "1899-12"] {
            let e = month("month", value).unwrap_err();
            assert_eq!((e.code, e.value.as_str()), ("invalid_month", value));
        }
        assert_eq!(month("month", "1900-01").unwrap().year, 1900);
    }

    #[test]
    fn errors_name_the_parameter_and_the_value() {
        let e = month("month", "2026-13").unwrap_err();
        assert_eq!(e.code, "invalid_month");
        assert_eq!(
            e.to_string(),
            "month: \"2026-13\" is not a month: give YYYY-MM with a month from 01 to 12"
        );
        assert!(month("month", "2026-11").is_ok());
        assert_eq!(date("from", "2026-02-30").unwrap_err().code, "invalid_date");
        assert_eq!(date("from", "2026-2-3").unwrap_err().code, "invalid_date");
        let (a, b) = (
            date("from", "2026-11-05").unwrap(),
            date("to", "2026-11-01").unwrap(),
        );
        assert_eq!(range(a, b).unwrap_err().param, "to");
        assert_eq!(format("format", "pdf").unwrap_err().code, "invalid_format");
        assert_eq!(sheet("sheet", "x").unwrap_err().code, "invalid_sheet");
    }
}
