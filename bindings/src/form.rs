//! Form values as the app gives them, and the one conversion into the core's form input.
//!
//! The app builds a form as typed [`FormValue`]s keyed by field id: no JSON to write, and a
//! value of the wrong shape does not compile. [`form_input`] is the only place that turns
//! them into what `daka_core::approvals::Form::read` reads (the format of
//! `docs/approvals.md`). It does so through typed serde mirrors of that format
//! ([`WireValue`], [`WireFile`]), so the shapes are declared once, as types. Whether a value
//! fits its field (a date that parses, a currency the field allows, a file that exists) is
//! the core's to judge, with errors naming the field; nothing is checked twice here.

use std::collections::{BTreeMap, HashMap};

use daka_core::approvals::AttachmentRef;
use serde::Serialize;
use serde_json::Value;

use crate::error::DakaError;

/// One value of a form field, by the field's type.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FormValue {
    /// A `text` field.
    Text {
        /// The text, kept verbatim (markup is data, never interpreted).
        value: String,
    },
    /// A `number` field.
    Number {
        /// A finite number.
        value: f64,
    },
    /// A `money` field.
    Money {
        /// The amount in integer minor units (HK$6,200.00 = 620000).
        minor: i64,
        /// The ISO 4217 code, e.g. `HKD`: the one the field allows.
        currency: String,
    },
    /// A `date` field.
    Date {
        /// `YYYY-MM-DD`.
        value: String,
    },
    /// A `date_range` field (leave, a trip), both days included.
    DateRange {
        /// The first day, `YYYY-MM-DD`.
        start: String,
        /// The last day, `YYYY-MM-DD`.
        end: String,
        /// The first day starts at noon (a half day).
        start_pm: bool,
        /// The last day ends at noon (a half day).
        end_am: bool,
    },
    /// A `choice` field.
    Choice {
        /// One of the field's options.
        value: String,
    },
    /// An `attachment` field.
    Attachments {
        /// Files added with `addAttachment`.
        files: Vec<Attachment>,
    },
    /// A `signature` field.
    Signature {
        /// The signature image, added with `addAttachment`.
        file: Attachment,
    },
}

/// A file kept on the device for a form, by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Attachment {
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// The size of the content in bytes.
    pub bytes: u64,
    /// The media type, e.g. `image/jpeg`.
    pub media_type: String,
}

impl From<AttachmentRef> for Attachment {
    fn from(a: AttachmentRef) -> Self {
        Attachment {
            sha256: a.sha256,
            bytes: a.bytes,
            media_type: a.media_type,
        }
    }
}

/// A value in the form format of `docs/approvals.md`: a string (text, date, choice), a
/// number, an object (money, date range, one file) or an array of files.
#[derive(Serialize)]
#[serde(untagged)]
enum WireValue<'a> {
    String(&'a str),
    Number(f64),
    Money {
        minor: i64,
        currency: &'a str,
    },
    DateRange {
        start: &'a str,
        end: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        start_half: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        end_half: Option<&'static str>,
    },
    Files(Vec<WireFile<'a>>),
    File(WireFile<'a>),
}

/// A file reference in the form format.
#[derive(Serialize)]
struct WireFile<'a> {
    sha256: &'a str,
    bytes: u64,
    media_type: &'a str,
}

impl<'a> From<&'a Attachment> for WireFile<'a> {
    fn from(a: &'a Attachment) -> Self {
        WireFile {
            sha256: &a.sha256,
            bytes: a.bytes,
            media_type: &a.media_type,
        }
    }
}

impl<'a> From<&'a FormValue> for WireValue<'a> {
    fn from(v: &'a FormValue) -> Self {
        match v {
            FormValue::Text { value } | FormValue::Date { value } | FormValue::Choice { value } => {
                WireValue::String(value)
            }
            FormValue::Number { value } => WireValue::Number(*value),
            FormValue::Money { minor, currency } => WireValue::Money {
                minor: *minor,
                currency,
            },
            FormValue::DateRange {
                start,
                end,
                start_pm,
                end_am,
            } => WireValue::DateRange {
                start,
                end,
                start_half: start_pm.then_some("pm"),
                end_half: end_am.then_some("am"),
            },
            FormValue::Attachments { files } => {
                WireValue::Files(files.iter().map(WireFile::from).collect())
            }
            FormValue::Signature { file } => WireValue::File(file.into()),
        }
    }
}

/// The form as the core reads it: an object of field id → value.
pub(crate) fn form_input(values: &HashMap<String, FormValue>) -> Result<Value, DakaError> {
    let wire: BTreeMap<&str, WireValue<'_>> = values
        .iter()
        .map(|(id, v)| (id.as_str(), WireValue::from(v)))
        .collect();
    serde_json::to_value(wire).map_err(|e| DakaError::Internal {
        reason: format!("the form cannot be written as JSON: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_values_cross_as_the_core_reads_them() {
        let values = HashMap::from([
            (
                "amount".to_string(),
                FormValue::Money {
                    minor: 620_000,
                    currency: "HKD".into(),
                },
            ),
            (
                "period".to_string(),
                FormValue::DateRange {
                    start: "2026-12-01".into(),
                    end: "2026-12-02".into(),
                    start_pm: true,
                    end_am: false,
                },
            ),
        ]);
        assert_eq!(
            form_input(&values).unwrap(),
            json!({
                "amount": { "minor": 620000, "currency": "HKD" },
                "period": { "start": "2026-12-01", "end": "2026-12-02", "start_half": "pm" }
            })
        );
    }

    #[test]
    fn every_kind_of_value_has_its_documented_shape() {
        let file = Attachment {
            sha256: "ab".repeat(32),
            bytes: 42,
            media_type: "image/png".into(),
        };
        let file_json =
            json!({ "sha256": "ab".repeat(32), "bytes": 42, "media_type": "image/png" });
        let values = HashMap::from([
            ("t".to_string(), FormValue::Text { value: "x".into() }),
            ("n".to_string(), FormValue::Number { value: 2.5 }),
            ("nan".to_string(), FormValue::Number { value: f64::NAN }),
            (
                "d".to_string(),
                FormValue::Date {
                    value: "2026-12-01".into(),
                },
            ),
            (
                "c".to_string(),
                FormValue::Choice {
                    value: "annual".into(),
                },
            ),
            (
                "r".to_string(),
                FormValue::DateRange {
                    start: "2026-12-01".into(),
                    end: "2026-12-01".into(),
                    start_pm: false,
                    end_am: true,
                },
            ),
            (
                "a".to_string(),
                FormValue::Attachments {
                    files: vec![file.clone()],
                },
            ),
            ("s".to_string(), FormValue::Signature { file }),
        ]);
        assert_eq!(
            form_input(&values).unwrap(),
            json!({
                "t": "x",
                "n": 2.5,
                // Not a number: the core reports the field, as it did any non-finite value.
                "nan": null,
                "d": "2026-12-01",
                "c": "annual",
                "r": { "start": "2026-12-01", "end": "2026-12-01", "end_half": "am" },
                "a": [file_json.clone()],
                "s": file_json,
            })
        );
    }
}
