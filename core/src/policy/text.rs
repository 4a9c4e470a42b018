//! Checks of the ids and the free text a policy holds: lengths in characters, no control
//! characters, ids without surrounding whitespace. A leaf, so that every part of the policy
//! reader (the document's own members and the approval templates') uses the same rules.

use super::error::{PolicyError, PolicyErrorKind};
use super::json::{Json, Path};
use super::limits::MAX_ID_CHARS;

/// Whether `s` holds a control character (a newline included).
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// At most `max` characters (not bytes: Chinese names count one a character).
fn check_len(s: &str, path: &Path<'_>, max: usize) -> Result<(), PolicyError> {
    if s.chars().nth(max).is_some() {
        return Err(path.err(PolicyErrorKind::TooLong {
            max,
            len: s.chars().count(),
        }));
    }
    Ok(())
}

/// An identifier: 1..=128 characters, no control characters, no surrounding whitespace (ids
/// are compared exactly, so `"E1001 "` would silently never match).
pub(super) fn parse_id<'j>(v: &'j Json, path: &Path<'_>) -> Result<&'j str, PolicyError> {
    let s = v.as_str(path)?;
    if s.is_empty() {
        return Err(path.err(PolicyErrorKind::Empty));
    }
    check_len(s, path, MAX_ID_CHARS)?;
    if has_control(s) {
        return Err(path.invalid(v.show(), "ids must not contain control characters"));
    }
    if s.trim() != s {
        return Err(path.invalid(v.show(), "ids must not start or end with whitespace"));
    }
    Ok(s)
}

/// Free text shown to people: 1..=`max` characters, not only whitespace, no control characters.
pub(super) fn parse_text(v: &Json, path: &Path<'_>, max: usize) -> Result<String, PolicyError> {
    let s = v.as_str(path)?;
    if s.trim().is_empty() {
        return Err(path.err(PolicyErrorKind::Empty));
    }
    check_len(s, path, max)?;
    if has_control(s) {
        return Err(path.invalid(v.show(), "must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// A calendar date `"YYYY-MM-DD"`.
pub(super) fn parse_date(v: &Json, path: &Path<'_>) -> Result<chrono::NaiveDate, PolicyError> {
    let s = v.as_str(path)?;
    if s.len() != 10 {
        return Err(path.invalid(v.show(), "a date \"YYYY-MM-DD\""));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| path.invalid(v.show(), format!("a date \"YYYY-MM-DD\": {e}")))
}
