//! Why a value has no canonical form, or JSON text is not read: one error type for the writer
//! and the reader of this module. The signed formats built on them (punch records, approval
//! items) turn these into their own errors, which name their fields and carry their codes.

use std::fmt;

use serde::ser;

/// The largest integer that an IEEE double, and so RFC 8785 canonical JSON, carries exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why canonical JSON cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// The text is not JSON, or names a key twice in one object, or holds a non-finite number.
    #[error("not JSON (line {line}, column {column}): {reason}")]
    NotJson {
        /// Line of the fault, counted from 1.
        line: usize,
        /// Column of the fault on that line, in bytes, counted from 1.
        column: usize,
        /// What is wrong, as the JSON parser describes it (English).
        reason: String,
    },
    /// An integer beyond ±(2^53 − 1): RFC 8785 writes every number as an IEEE double, so two
    /// such integers could write the same text. `field` is the path (`a.b[2]`), empty when the
    /// writer, which does not track paths, found it.
    #[error("{}", self.describe())]
    UnsafeInteger {
        /// Path of the integer (`a.b[2]`); empty when the writer found it.
        field: String,
        /// The integer as written.
        value: String,
    },
    /// The received JSON and its typed reading written back differ.
    #[error("{difference}")]
    Differs {
        /// The first place where they differ, and how.
        difference: Difference,
    },
    /// Something serde cannot write as JSON, such as a map key that is not a string.
    #[error("{reason}")]
    Unwritable {
        /// What serde could not write, in its words.
        reason: String,
    },
}

impl CanonicalError {
    /// For [`CanonicalError::UnsafeInteger`], the reason without the field:
    /// "integer … is outside ±9007199254740991 (2^53 − 1), …".
    pub fn integer_reason(value: &str) -> String {
        format!(
            "integer {value} is outside ±{MAX_SAFE_INTEGER} (2^53 − 1), which canonical JSON \
             cannot carry exactly"
        )
    }

    fn describe(&self) -> String {
        match self {
            CanonicalError::UnsafeInteger { field, value } if field.is_empty() => {
                CanonicalError::integer_reason(value)
            }
            CanonicalError::UnsafeInteger { field, value } => {
                format!("{field}: {}", CanonicalError::integer_reason(value))
            }
            other => other.to_string(),
        }
    }

    pub(crate) fn not_json(e: &serde_json::Error) -> CanonicalError {
        CanonicalError::NotJson {
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        }
    }
}

impl ser::Error for CanonicalError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CanonicalError::Unwritable {
            reason: msg.to_string(),
        }
    }
}

/// How received JSON and its typed reading written back differ, at a path such as
/// `verdict.reasons[2].message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// Present in the received JSON, dropped by the typed reading: a field the format lacks.
    Unknown(String),
    /// Absent from the received JSON, written by the typed reading: a field left out.
    Missing(String),
    /// Present in both with different values: `(path, received, written back)`.
    Changed(String, String, String),
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Unknown(field) => write!(f, "field `{field}` is not part of the format"),
            Difference::Missing(field) => write!(f, "field `{field}` is missing"),
            Difference::Changed(field, received, written) => write!(
                f,
                "field `{field}`: {received} is not in the format's normal form, which is {written}"
            ),
        }
    }
}
