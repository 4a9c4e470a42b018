//! Typed policy errors that name the JSON path of the bad value.

/// A policy document failed to load. `path` is where, `kind` is what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct PolicyError {
    /// Path of the bad value, e.g. `sites[2].fences[0].coordinates[0][3]`; `$` for the root.
    pub path: String,
    pub kind: PolicyErrorKind,
}

/// What was wrong with the value at [`PolicyError::path`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyErrorKind {
    /// The text is not JSON (or nests too deeply / is too large to be a policy).
    #[error("not valid JSON: {0}")]
    Syntax(String),
    #[error("required field is missing")]
    Missing,
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("invalid value {value}: {reason}")]
    Invalid { value: String, reason: String },
}
