//! A request's form: typed field values read from JSON and validated against a template,
//! field by field.
//!
//! [`Form::read`] is the one way in. It checks every field and returns either a [`Form`]
//! whose values all fit the template, or [`FormErrors`] listing *every* problem (so a UI can
//! mark all bad fields at once), each naming the field, the value (shortened) and what is
//! wrong. Text is data: markup or SQL-looking strings are kept verbatim, never interpreted.
//!
//! The JSON format of each field type is in `docs/approvals.md`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::template::{FieldKind, Template};

/// Longest value shown inside an error.
const MAX_SHOWN_CHARS: usize = 60;

/// A file a field refers to: its SHA-256 (lower-case hex), size and media type. The bytes
/// travel separately and are checked against the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRef {
    /// SHA-256 of the file's bytes, 64 lower-case hex digits; no file appears twice in one
    /// attachment field.
    pub sha256: String,
    /// The file's size in bytes, at least 1 and at most the field's `max_bytes`.
    pub bytes: u64,
    /// The media type the form declares, e.g. `image/jpeg`: 1 to 100 printable ASCII
    /// characters with a `/`.
    pub media_type: String,
}

/// One field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A text field's value, verbatim; it may hold newlines and tabs but no other control
    /// characters.
    Text(String),
    /// A number field's value, finite.
    Number(f64),
    /// A money field's value.
    Money {
        /// The amount in minor units of `currency` (cents: 620000 is HKD 6,200.00).
        minor: i64,
        /// ISO 4217 code, always the field's currency, e.g. `HKD`.
        currency: String,
    },
    /// A date field's value (`YYYY-MM-DD` in the form's JSON).
    Date(NaiveDate),
    /// `start..=end`; `start_pm` starts at noon, `end_am` ends at noon.
    DateRange {
        /// The first day of the range.
        start: NaiveDate,
        /// The last day of the range, inclusive; never before `start`.
        end: NaiveDate,
        /// Whether only the afternoon of the first day counts (`"start_half": "pm"` in JSON).
        start_pm: bool,
        /// Whether only the morning of the last day counts (`"end_half": "am"` in JSON).
        end_am: bool,
    },
    /// A choice field's value, one of the field's options.
    Choice(String),
    /// An attachment field's files, in the order the form lists them.
    Attachments(Vec<AttachmentRef>),
    /// A signature field's image.
    Signature(AttachmentRef),
}

impl FieldValue {
    /// The length of a date range in half days.
    pub fn halves(&self) -> Option<u32> {
        match self {
            FieldValue::DateRange {
                start,
                end,
                start_pm,
                end_am,
            } => range_halves(*start, *end, *start_pm, *end_am),
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        let file = |a: &AttachmentRef| json!({ "sha256": a.sha256, "bytes": a.bytes, "media_type": a.media_type });
        match self {
            FieldValue::Text(s) | FieldValue::Choice(s) => Value::from(s.as_str()),
            FieldValue::Number(x) => json!(x),
            FieldValue::Money { minor, currency } => {
                json!({ "minor": minor, "currency": currency })
            }
            FieldValue::Date(d) => Value::from(d.to_string()),
            FieldValue::DateRange {
                start,
                end,
                start_pm,
                end_am,
            } => {
                let mut o = Map::new();
                o.insert("start".into(), Value::from(start.to_string()));
                o.insert("end".into(), Value::from(end.to_string()));
                if *start_pm {
                    o.insert("start_half".into(), Value::from("pm"));
                }
                if *end_am {
                    o.insert("end_half".into(), Value::from("am"));
                }
                Value::Object(o)
            }
            FieldValue::Attachments(files) => Value::Array(files.iter().map(file).collect()),
            FieldValue::Signature(f) => file(f),
        }
    }
}

fn range_halves(start: NaiveDate, end: NaiveDate, start_pm: bool, end_am: bool) -> Option<u32> {
    let days = (end - start).num_days() + 1;
    let halves = days * 2 - i64::from(start_pm) - i64::from(end_am);
    u32::try_from(halves).ok().filter(|h| *h > 0)
}

/// A form whose values fit its template. Build one with [`Form::read`].
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    values: BTreeMap<String, FieldValue>,
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem} (got {value})")]
pub struct FieldError {
    /// The field's id, with a position inside it when that is where the problem is, e.g.
    /// `receipts[1].sha256`.
    pub field: String,
    /// The offending value as JSON, shortened.
    pub value: String,
    /// What is wrong, to match on; its `Display` says it in words.
    pub problem: FieldProblem,
}

/// The kinds of field problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    /// A required field is absent or null.
    Missing,
    /// The form has a field its template does not define.
    UnknownField,
    /// The JSON type does not fit the field type.
    WrongType {
        /// What the field takes, in words, e.g. `a number` or `a list of files`.
        expected: &'static str,
    },
    /// Text with fewer characters than the field's `min_len`.
    TooShort {
        /// The fewest characters allowed.
        min: u64,
    },
    /// Text with more characters than the field's `max_len`.
    TooLong {
        /// The most characters allowed.
        max: u64,
    },
    /// An attachment field with fewer files than its `min_count`.
    TooFew {
        /// The fewest files allowed.
        min: u64,
    },
    /// An attachment field with more files than its `max_count`.
    TooMany {
        /// The most files allowed.
        max: u64,
    },
    /// A value below the field's minimum: a number, an amount, a date, or a file of 0 bytes.
    TooSmall {
        /// The minimum as shown to people, e.g. `1`, `HKD 1.00` or `2026-01-01`.
        min: String,
    },
    /// A value above the field's maximum: a number, an amount, a date, a file's size or a
    /// date range's length.
    TooLarge {
        /// The maximum as shown to people, e.g. `1000`, `HKD 10,000.00`, `2026-12-31`,
        /// `10485760 bytes` or `31 days`.
        max: String,
    },
    /// A choice value that is not one of the field's options.
    NotAnOption {
        /// The field's options, in policy order, for the UI to offer instead.
        options: Vec<String>,
    },
    /// A money value in another currency than the field's (or with none).
    WrongCurrency {
        /// The field's currency, an ISO 4217 code such as `HKD`.
        expected: String,
    },
    /// Anything else, in words.
    Invalid(String),
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldProblem::Missing => f.write_str("required"),
            FieldProblem::UnknownField => f.write_str("not a field of this form"),
            FieldProblem::WrongType { expected } => write!(f, "expected {expected}"),
            FieldProblem::TooShort { min } => write!(f, "at least {min} characters"),
            FieldProblem::TooLong { max } => write!(f, "at most {max} characters"),
            FieldProblem::TooFew { min } => write!(f, "at least {min} needed"),
            FieldProblem::TooMany { max } => write!(f, "at most {max} allowed"),
            FieldProblem::TooSmall { min } => write!(f, "must be at least {min}"),
            FieldProblem::TooLarge { max } => write!(f, "must be at most {max}"),
            FieldProblem::NotAnOption { options } => {
                write!(f, "must be one of: {}", options.join(", "))
            }
            FieldProblem::WrongCurrency { expected } => write!(f, "currency must be {expected}"),
            FieldProblem::Invalid(reason) => f.write_str(reason),
        }
    }
}

/// Every problem found in a form, in template field order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the form: {}", errors.len(), errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct FormErrors {
    /// Never empty; at most one error per field: the template's fields in template order,
    /// then the fields the template does not define. A value that is not an object at all
    /// gives one error with field `$`.
    pub errors: Vec<FieldError>,
}

fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > MAX_SHOWN_CHARS {
        format!(
            "{}…",
            text.chars().take(MAX_SHOWN_CHARS - 1).collect::<String>()
        )
    } else {
        text
    }
}

fn err(field: impl Into<String>, v: &Value, problem: FieldProblem) -> FieldError {
    FieldError {
        field: field.into(),
        value: show(v),
        problem,
    }
}

fn wrong(field: &str, v: &Value, expected: &'static str) -> FieldError {
    err(field, v, FieldProblem::WrongType { expected })
}

/// Money for people: `HKD 6,200.00` (two decimals; every currency the templates use is
/// shown this way).
pub fn show_money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let units = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{currency} {sign}{grouped}.{:02}", abs % 100)
}

fn parse_date(field: &str, v: &Value) -> Result<NaiveDate, FieldError> {
    let s = v
        .as_str()
        .ok_or_else(|| wrong(field, v, "a date \"YYYY-MM-DD\""))?;
    // Digits where the digits go: chrono's `%Y` also takes a sign (`-026-12-18`, the year
    // -26), which would be written back as `-0026-12-18` and refused.
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shaped {
        return Err(err(
            field,
            v,
            FieldProblem::Invalid("not a date \"YYYY-MM-DD\"".into()),
        ));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| {
        err(
            field,
            v,
            FieldProblem::Invalid(format!("not a date \"YYYY-MM-DD\": {e}")),
        )
    })
}

/// Whether `s` names a file as forms do: its SHA-256 as 64 lower-case hex digits.
pub fn is_sha256(s: &str) -> bool {
    crate::hex::is_sha256_hex(s)
}

/// Whether `s` is a file's media type as forms give it: 1–100 printable ASCII characters
/// with a `/` (such as `image/jpeg`).
pub fn is_media_type(s: &str) -> bool {
    (1..=100).contains(&s.len()) && s.contains('/') && s.bytes().all(|b| b.is_ascii_graphic())
}

fn parse_file(field: &str, v: &Value, max_bytes: u64) -> Result<AttachmentRef, FieldError> {
    let o = v
        .as_object()
        .ok_or_else(|| wrong(field, v, "an object {sha256, bytes, media_type}"))?;
    if let Some(extra) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "sha256" | "bytes" | "media_type"))
    {
        return Err(err(
            format!("{field}.{extra}"),
            v,
            FieldProblem::UnknownField,
        ));
    }
    let sha = o.get("sha256").unwrap_or(&Value::Null);
    let sha256 = match sha.as_str() {
        Some(s) if is_sha256(s) => s.to_owned(),
        _ => {
            return Err(err(
                format!("{field}.sha256"),
                sha,
                FieldProblem::Invalid("must be 64 lower-case hex digits (SHA-256)".into()),
            ));
        }
    };
    let b = o.get("bytes").unwrap_or(&Value::Null);
    let bytes = b
        .as_u64()
        .ok_or_else(|| wrong(&format!("{field}.bytes"), b, "a whole number of bytes"))?;
    if bytes == 0 {
        return Err(err(
            format!("{field}.bytes"),
            b,
            FieldProblem::TooSmall { min: "1".into() },
        ));
    }
    if bytes > max_bytes {
        return Err(err(
            format!("{field}.bytes"),
            b,
            FieldProblem::TooLarge {
                max: format!("{max_bytes} bytes"),
            },
        ));
    }
    let m = o.get("media_type").unwrap_or(&Value::Null);
    let media_type = match m.as_str() {
        Some(s) if is_media_type(s) => s.to_owned(),
        _ => {
            return Err(err(
                format!("{field}.media_type"),
                m,
                FieldProblem::Invalid("must be a media type such as \"image/jpeg\"".into()),
            ));
        }
    };
    Ok(AttachmentRef {
        sha256,
        bytes,
        media_type,
    })
}

fn read_value(id: &str, kind: &FieldKind, v: &Value) -> Result<FieldValue, FieldError> {
    match kind {
        FieldKind::Text { min_len, max_len } => {
            let s = v.as_str().ok_or_else(|| wrong(id, v, "text"))?;
            let len = s.chars().take(*max_len as usize + 1).count() as u64;
            if len > u64::from(*max_len) {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooLong {
                        max: u64::from(*max_len),
                    },
                ));
            }
            if len < u64::from(*min_len) {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooShort {
                        min: u64::from(*min_len),
                    },
                ));
            }
            if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err(err(
                    id,
                    v,
                    FieldProblem::Invalid("must not contain control characters".into()),
                ));
            }
            Ok(FieldValue::Text(s.to_owned()))
        }
        FieldKind::Number { min, max } => {
            let x = v.as_f64().ok_or_else(|| wrong(id, v, "a number"))?;
            if x < *min {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooSmall {
                        min: min.to_string(),
                    },
                ));
            }
            if x > *max {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooLarge {
                        max: max.to_string(),
                    },
                ));
            }
            Ok(FieldValue::Number(x))
        }
        FieldKind::Money {
            currency,
            min_minor,
            max_minor,
        } => {
            let o = v
                .as_object()
                .ok_or_else(|| wrong(id, v, "money {\"minor\": integer, \"currency\": code}"))?;
            if let Some(extra) = o
                .keys()
                .find(|k| !matches!(k.as_str(), "minor" | "currency"))
            {
                return Err(err(format!("{id}.{extra}"), v, FieldProblem::UnknownField));
            }
            let m = o.get("minor").unwrap_or(&Value::Null);
            let minor = match m {
                Value::Number(n) => n.as_i64().ok_or_else(|| {
                    err(
                        format!("{id}.minor"),
                        m,
                        FieldProblem::Invalid(
                            "must be a whole number of minor units (cents) within ±2^63".into(),
                        ),
                    )
                })?,
                _ => {
                    return Err(wrong(
                        &format!("{id}.minor"),
                        m,
                        "a whole number of minor units",
                    ));
                }
            };
            let c = o.get("currency").unwrap_or(&Value::Null);
            if c.as_str() != Some(currency.as_str()) {
                return Err(err(
                    format!("{id}.currency"),
                    c,
                    FieldProblem::WrongCurrency {
                        expected: currency.clone(),
                    },
                ));
            }
            if minor < *min_minor {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooSmall {
                        min: show_money(*min_minor, currency),
                    },
                ));
            }
            if minor > *max_minor {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooLarge {
                        max: show_money(*max_minor, currency),
                    },
                ));
            }
            Ok(FieldValue::Money {
                minor,
                currency: currency.clone(),
            })
        }
        FieldKind::Date { min, max } => {
            let d = parse_date(id, v)?;
            if let Some(min) = min
                && d < *min
            {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooSmall {
                        min: min.to_string(),
                    },
                ));
            }
            if let Some(max) = max
                && d > *max
            {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooLarge {
                        max: max.to_string(),
                    },
                ));
            }
            Ok(FieldValue::Date(d))
        }
        FieldKind::DateRange { max_days } => {
            let o = v
                .as_object()
                .ok_or_else(|| wrong(id, v, "a date range {\"start\": date, \"end\": date}"))?;
            if let Some(extra) = o
                .keys()
                .find(|k| !matches!(k.as_str(), "start" | "end" | "start_half" | "end_half"))
            {
                return Err(err(format!("{id}.{extra}"), v, FieldProblem::UnknownField));
            }
            let start = parse_date(
                &format!("{id}.start"),
                o.get("start").unwrap_or(&Value::Null),
            )?;
            let end = parse_date(&format!("{id}.end"), o.get("end").unwrap_or(&Value::Null))?;
            let half = |key: &str, allowed: &str| -> Result<bool, FieldError> {
                match o.get(key) {
                    None | Some(Value::Null) => Ok(false),
                    Some(Value::String(s)) if s == allowed => Ok(true),
                    Some(other) => Err(err(
                        format!("{id}.{key}"),
                        other,
                        FieldProblem::Invalid(format!("the only half day here is \"{allowed}\"")),
                    )),
                }
            };
            let start_pm = half("start_half", "pm")?;
            let end_am = half("end_half", "am")?;
            if end < start {
                return Err(err(
                    format!("{id}.end"),
                    o.get("end").unwrap_or(&Value::Null),
                    FieldProblem::Invalid(format!("ends before it starts ({start})")),
                ));
            }
            let halves = range_halves(start, end, start_pm, end_am).ok_or_else(|| {
                err(
                    id,
                    v,
                    FieldProblem::Invalid(
                        "covers no time (a half day that ends before it starts)".into(),
                    ),
                )
            })?;
            if halves > max_days * 2 {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooLarge {
                        max: format!("{max_days} days"),
                    },
                ));
            }
            Ok(FieldValue::DateRange {
                start,
                end,
                start_pm,
                end_am,
            })
        }
        FieldKind::Choice { options } => {
            let s = v
                .as_str()
                .ok_or_else(|| wrong(id, v, "one of the options, as text"))?;
            if !options.iter().any(|o| o == s) {
                return Err(err(
                    id,
                    v,
                    FieldProblem::NotAnOption {
                        options: options.clone(),
                    },
                ));
            }
            Ok(FieldValue::Choice(s.to_owned()))
        }
        FieldKind::Attachment {
            min_count,
            max_count,
            max_bytes,
        } => {
            let items = v
                .as_array()
                .ok_or_else(|| wrong(id, v, "a list of files"))?;
            if items.len() > *max_count as usize {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooMany {
                        max: u64::from(*max_count),
                    },
                ));
            }
            if items.len() < *min_count as usize {
                return Err(err(
                    id,
                    v,
                    FieldProblem::TooFew {
                        min: u64::from(*min_count),
                    },
                ));
            }
            let mut files: Vec<AttachmentRef> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let file = parse_file(&format!("{id}[{i}]"), item, *max_bytes)?;
                if files.iter().any(|f| f.sha256 == file.sha256) {
                    return Err(err(
                        format!("{id}[{i}].sha256"),
                        item,
                        FieldProblem::Invalid("the same file is attached twice".into()),
                    ));
                }
                files.push(file);
            }
            Ok(FieldValue::Attachments(files))
        }
        FieldKind::Signature { max_bytes } => {
            Ok(FieldValue::Signature(parse_file(id, v, *max_bytes)?))
        }
    }
}

impl Form {
    /// Reads and validates a form (a JSON object of field id → value) against `template`.
    /// Every field is checked; the errors list them all.
    pub fn read(template: &Template, json: &Value) -> Result<Form, FormErrors> {
        let Some(object) = json.as_object() else {
            return Err(FormErrors {
                errors: vec![err(
                    "$",
                    json,
                    FieldProblem::WrongType {
                        expected: "an object of field values",
                    },
                )],
            });
        };
        let mut errors = Vec::new();
        let mut values = BTreeMap::new();
        for field in &template.fields {
            match object.get(&field.id) {
                None | Some(Value::Null) => {
                    if field.required {
                        errors.push(err(&field.id, &Value::Null, FieldProblem::Missing));
                    }
                }
                Some(v) => match read_value(&field.id, &field.kind, v) {
                    Ok(value) => {
                        values.insert(field.id.clone(), value);
                    }
                    Err(e) => errors.push(e),
                },
            }
        }
        for (key, v) in object {
            if template.field(key).is_none() {
                errors.push(err(key, v, FieldProblem::UnknownField));
            }
        }
        if errors.is_empty() {
            Ok(Form { values })
        } else {
            Err(FormErrors { errors })
        }
    }

    /// The value of a field, if the form has one.
    pub fn get(&self, field: &str) -> Option<&FieldValue> {
        self.values.get(field)
    }

    /// The form as JSON, in the format [`Form::read`] takes (keys sorted).
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.values
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    /// Every attachment and signature the form refers to.
    pub fn files(&self) -> Vec<&AttachmentRef> {
        self.values
            .values()
            .flat_map(|v| match v {
                FieldValue::Attachments(files) => files.iter().collect::<Vec<_>>(),
                FieldValue::Signature(f) => vec![f],
                _ => Vec::new(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    /// Found by the `attendance_inputs` fuzz target: `"-026-12-18"` was read as a date in
    /// the year -26, which the form then wrote as `"-0026-12-18"` and could not read back.
    #[test]
    fn a_date_is_four_digits_two_and_two() {
        for text in [
            "-026-12-18",
            "+026-12-18",
            "2026-1-018",
            "2026/12/18",
            "2026-12-1 ",
        ] {
            let v = serde_json::json!(text);
            assert!(super::parse_date("date", &v).is_err(), "{text:?}");
        }
        let v = serde_json::json!("2026-12-18");
        assert_eq!(
            super::parse_date("date", &v).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 18).unwrap()
        );
    }

    use super::*;

    #[test]
    fn money_is_shown_with_grouping_and_two_decimals() {
        assert_eq!(show_money(620_000, "HKD"), "HKD 6,200.00");
        assert_eq!(show_money(5, "HKD"), "HKD 0.05");
        assert_eq!(show_money(-123_456_789, "HKD"), "HKD -1,234,567.89");
        assert_eq!(
            show_money(i64::MIN, "HKD"),
            "HKD -92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn half_days_count() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            range_halves(d("2026-12-01"), d("2026-12-01"), false, false),
            Some(2)
        );
        assert_eq!(
            range_halves(d("2026-12-01"), d("2026-12-01"), true, false),
            Some(1)
        );
        assert_eq!(
            range_halves(d("2026-12-01"), d("2026-12-01"), true, true),
            None
        );
        assert_eq!(
            range_halves(d("2026-12-01"), d("2026-12-04"), true, true),
            Some(6)
        );
    }
}
