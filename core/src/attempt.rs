//! One punch attempt as the platform layer hands it to the engine, and its validation.
//!
//! An [`Attempt`] is everything the evaluator needs to know about one clock-in: who, what
//! kind, the fix, the Wi-Fi scan, the face-match token, the device clocks, and what the device
//! remembers (the previous punch and the last server time anchor). [`Attempt::validate`]
//! checks every field before any rule runs, and refuses bad input with an [`AttemptError`]
//! that names the field and the value: a malformed attempt is a bug or an attack in the
//! caller, not a rejected punch, and must never be recorded half-way.

use serde::{Deserialize, Serialize};

use crate::evidence::spoofing::PreviousPunch;
use crate::evidence::wifi::normalize_bssid;
use crate::evidence::{DeviceClock, FaceEvidence, Fix, TimeAnchor};
use crate::punch::kind::PunchKind;

/// Longest accepted id (employee, boot).
pub const MAX_ID_LEN: usize = 128;
/// Most BSSIDs accepted from one Wi-Fi scan.
pub const MAX_WIFI_BSSIDS: usize = 512;
/// Longest accepted face-match token, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Largest attempt document accepted by [`Attempt::from_json`], in bytes.
pub const MAX_ATTEMPT_JSON: usize = 64 * 1024;

/// One clock-in attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    /// The employee punching, as the policy lists them (e.g. `E1001`); non-empty, at most
    /// [`MAX_ID_LEN`] bytes.
    pub employee_id: String,
    /// What the punch is; `in` when the JSON leaves it out.
    #[serde(default = "default_kind")]
    pub kind: PunchKind,
    /// The latest location fix; absent when the platform has none (then only Wi-Fi can place the
    /// device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// BSSIDs from the latest Wi-Fi scan, any case, `:` or `-` separated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wifi_bssids: Vec<String>,
    /// The face-match token and its nonce; absent when no face check was made (the punch is then
    /// rejected if the policy requires one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<FaceEvidence>,
    /// Device clocks at the attempt.
    pub clock: DeviceClock,
    /// What the device saw at its previous punch.
    #[serde(default)]
    pub previous: PreviousPunch,
    /// The last server time anchor, if the device has synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<TimeAnchor>,
}

fn default_kind() -> PunchKind {
    PunchKind::In
}

/// A malformed attempt: which field, what value, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason} (got {value})")]
pub struct AttemptError {
    /// Path of the bad field, e.g. `fix.lat` or `wifi_bssids[3]`; `$` for the whole document.
    pub field: String,
    /// The offending value, shortened to at most 80 characters.
    pub value: String,
    /// What is wrong with the value, in English.
    pub reason: String,
}

impl AttemptError {
    fn new(field: impl Into<String>, value: impl ToString, reason: impl Into<String>) -> Self {
        AttemptError {
            field: field.into(),
            value: shorten(&value.to_string()),
            reason: reason.into(),
        }
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        return s.to_string();
    }
    let head: String = s.chars().take(MAX).collect();
    format!("{head}… ({} bytes)", s.len())
}

impl Attempt {
    /// Parses an attempt from JSON and validates it; errors name the JSON path.
    pub fn from_json(text: &str) -> Result<Attempt, AttemptError> {
        if text.len() > MAX_ATTEMPT_JSON {
            return Err(AttemptError::new(
                "$",
                format!("{} bytes", text.len()),
                format!("an attempt is at most {MAX_ATTEMPT_JSON} bytes"),
            ));
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        let attempt: Attempt = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { "$".to_string() } else { path };
            AttemptError::new(field, "(see reason)", e.into_inner().to_string())
        })?;
        attempt.validate()?;
        Ok(attempt)
    }

    /// Checks every field; on success returns nothing and the attempt may be evaluated.
    pub fn validate(&self) -> Result<(), AttemptError> {
        check_id("employee_id", &self.employee_id)?;
        if let Some(fix) = &self.fix {
            check_fix("fix", fix)?;
        }
        if self.wifi_bssids.len() > MAX_WIFI_BSSIDS {
            return Err(AttemptError::new(
                "wifi_bssids",
                format!("{} entries", self.wifi_bssids.len()),
                format!("a scan is at most {MAX_WIFI_BSSIDS} access points"),
            ));
        }
        for (i, b) in self.wifi_bssids.iter().enumerate() {
            if normalize_bssid(b).is_none() {
                return Err(AttemptError::new(
                    format!("wifi_bssids[{i}]"),
                    format!("{b:?}"),
                    "a BSSID is six hex pairs separated by ':' or '-'",
                ));
            }
        }
        if let Some(face) = &self.face {
            if face.token.len() > MAX_TOKEN_LEN {
                return Err(AttemptError::new(
                    "face.token",
                    format!("{} bytes", face.token.len()),
                    format!("a face-match token is at most {MAX_TOKEN_LEN} bytes"),
                ));
            }
            check_id("face.nonce", &face.nonce)?;
        }
        check_clock("clock", &self.clock)?;
        if let Some(fix) = &self.previous.fix {
            check_fix("previous.fix", fix)?;
        }
        if let Some(clock) = &self.previous.clock {
            check_clock("previous.clock", clock)?;
        }
        if let Some(anchor) = &self.anchor {
            check_id("anchor.boot_id", &anchor.boot_id)?;
        }
        Ok(())
    }

    /// The scanned BSSIDs in normal form. Call after [`Attempt::validate`].
    pub fn normalized_bssids(&self) -> Vec<String> {
        self.wifi_bssids
            .iter()
            .filter_map(|b| normalize_bssid(b))
            .collect()
    }
}

fn check_id(field: &str, value: &str) -> Result<(), AttemptError> {
    if value.is_empty() {
        return Err(AttemptError::new(field, "\"\"", "must not be empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(AttemptError::new(
            field,
            format!("{value:?}"),
            format!("must be at most {MAX_ID_LEN} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(AttemptError::new(
            field,
            format!("{value:?}"),
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn check_fix(field: &str, fix: &Fix) -> Result<(), AttemptError> {
    if !fix.lat.is_finite() || !(-90.0..=90.0).contains(&fix.lat) {
        return Err(AttemptError::new(
            format!("{field}.lat"),
            fix.lat,
            "latitude must be a finite number in -90..=90",
        ));
    }
    if !fix.lon.is_finite() || !(-180.0..=180.0).contains(&fix.lon) {
        return Err(AttemptError::new(
            format!("{field}.lon"),
            fix.lon,
            "longitude must be a finite number in -180..=180",
        ));
    }
    if !fix.accuracy_m.is_finite() || fix.accuracy_m < 0.0 {
        return Err(AttemptError::new(
            format!("{field}.accuracy_m"),
            fix.accuracy_m,
            "accuracy must be a finite, non-negative number of metres",
        ));
    }
    if let Some(p) = &fix.provider
        && (p.len() > 64 || p.chars().any(char::is_control))
    {
        return Err(AttemptError::new(
            format!("{field}.provider"),
            format!("{p:?}"),
            "a provider name is at most 64 printable bytes",
        ));
    }
    Ok(())
}

fn check_clock(field: &str, clock: &DeviceClock) -> Result<(), AttemptError> {
    check_id(&format!("{field}.boot_id"), &clock.boot_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
        "employee_id": "E1001",
        "kind": "in",
        "fix": {"lat": 22.2800, "lon": 114.1838, "accuracy_m": 12, "time": "2026-11-26T01:00:00Z", "monotonic_ms": 1000},
        "wifi_bssids": ["AA-BB-CC-DD-EE-FF"],
        "clock": {"wall": "2026-11-26T01:00:02Z", "monotonic_ms": 3000, "boot_id": "b1"}
    }"#;

    fn err(text: &str) -> AttemptError {
        Attempt::from_json(text).expect_err("should be refused")
    }

    #[test]
    fn a_good_attempt_parses() {
        let a = Attempt::from_json(GOOD).unwrap();
        assert_eq!(a.employee_id, "E1001");
        assert_eq!(a.normalized_bssids(), ["aa:bb:cc:dd:ee:ff"]);
        assert_eq!(a.kind, PunchKind::In);
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(&GOOD.replace("22.2800", "95"));
        assert_eq!((e.field.as_str(), e.value.as_str()), ("fix.lat", "95"));
        let e = err(&GOOD.replace("114.1838", "\"east\""));
        assert_eq!(e.field, "fix.lon");
        assert!(e.reason.contains("expected f64"), "{e}");
        let e = err(&GOOD.replace("\"accuracy_m\": 12", "\"accuracy_m\": -1"));
        assert_eq!(e.field, "fix.accuracy_m");
        let e = err(&GOOD.replace("AA-BB-CC-DD-EE-FF", "AA-BB-CC-DD-EE"));
        assert_eq!(e.field, "wifi_bssids[0]");
        let e = err(&GOOD.replace("\"E1001\"", "\"\""));
        assert_eq!(e.field, "employee_id");
        let e = err(&GOOD.replace("\"kind\": \"in\"", "\"kind\": \"lunch\""));
        assert_eq!(e.field, "kind");
        let e = err(&GOOD.replace("\"kind\"", "\"knd\""));
        assert!(e.reason.contains("unknown field `knd`"), "{e}");
        let e = err(&GOOD.replace(
            "\"wall\": \"2026-11-26T01:00:02Z\"",
            "\"wall\": \"yesterday\"",
        ));
        assert_eq!(e.field, "clock.wall");
    }

    #[test]
    fn hostile_documents_are_refused_cleanly() {
        for text in ["", "null", "[]", "{}", "1e400", "{\"employee_id\": NaN}"] {
            let e = err(text);
            assert!(!e.reason.is_empty(), "{text}");
        }
        let e = err(&GOOD.replace("12,", "1e400,"));
        assert!(e.reason.contains("number out of range"), "{e}");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(err(&deep).field, "$");
        let huge = GOOD.replace("E1001", &"x".repeat(MAX_ATTEMPT_JSON));
        assert!(err(&huge).reason.contains("at most"));
        let long_id = GOOD.replace("E1001", &"x".repeat(MAX_ID_LEN + 1));
        let e = err(&long_id);
        assert_eq!(e.field, "employee_id");
        assert!(e.value.len() < 200, "value is shortened: {}", e.value.len());
        let ctrl = GOOD.replace("E1001", "E10\\u000001");
        assert_eq!(err(&ctrl).field, "employee_id");
    }

    #[test]
    fn non_finite_values_from_code_are_refused() {
        let mut a = Attempt::from_json(GOOD).unwrap();
        a.fix.as_mut().unwrap().accuracy_m = f64::NAN;
        assert_eq!(a.validate().unwrap_err().field, "fix.accuracy_m");
        a.fix.as_mut().unwrap().accuracy_m = 5.0;
        a.fix.as_mut().unwrap().lon = f64::INFINITY;
        assert_eq!(a.validate().unwrap_err().field, "fix.lon");
    }
}
