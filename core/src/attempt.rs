//! One punch attempt as the platform layer hands it to the engine, and its validation.
//!
//! An [`Attempt`] is everything the evaluator needs to know about one clock-in: who, what
//! kind, the fix (and the earlier fixes of the same attempt), the Wi-Fi scan, the face-match token, the device clocks, and what the device
//! remembers (the previous punch and the last server time anchor). [`Attempt::validate`]
//! checks every field before any rule runs, and refuses bad input with an [`AttemptError`]
//! that names the field and the value: a malformed attempt is a bug or an attack in the
//! caller, not a rejected punch, and must never be recorded half-way.

use serde::{Deserialize, Serialize};

use crate::evidence::fusion::{FusedFix, fuse};
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
/// Most earlier fixes accepted in [`Attempt::more_fixes`]: a few seconds of fixes while the face
/// check runs is a handful; more is a bug or an attack in the caller.
pub const MAX_MORE_FIXES: usize = 16;
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
    /// Earlier fixes of the same attempt (collected while the face check ran), in any order; at
    /// most [`MAX_MORE_FIXES`], each no later than `fix`, none identical to another or to `fix`,
    /// and only together with `fix`. The location is judged on their conservative fusion with
    /// `fix` ([`Attempt::located_fix`]); the spoofing checks judge `fix` itself, and a mock flag
    /// on any of them is `mock_location`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_fixes: Vec<Fix>,
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
        let attempt: Attempt = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            // serde's path is `.` for the whole attempt, and empty for a member named `""` of
            // it; both are the attempt itself.
            let field = if path == "." || path.is_empty() {
                "$".to_string()
            } else {
                path
            };
            AttemptError::new(field, "(see reason)", e.into_inner().to_string())
        })?;
        de.end().map_err(|e| {
            AttemptError::new(
                "$",
                "(trailing text)",
                format!("nothing may follow the attempt's JSON object: {e}"),
            )
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
        self.check_more_fixes()?;
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

    /// The position the location is judged on: the latest fix, fused with the earlier fixes of
    /// the attempt by [`fuse`] (lat, lon and accuracy from the fusion; time, clocks, provider and
    /// mock flag of the latest fix). `None` without a fix. Call after [`Attempt::validate`].
    pub fn located_fix(&self) -> Option<Fix> {
        let latest = self.fix.as_ref()?;
        if self.more_fixes.is_empty() {
            return Some(latest.clone());
        }
        let fused = fuse(latest, &self.more_fixes);
        Some(Fix {
            lat: fused.lat,
            lon: fused.lon,
            accuracy_m: fused.accuracy_m,
            ..latest.clone()
        })
    }

    /// The fusion of the attempt's fixes with what was left out and why, for explanations
    /// (`daka check`); `None` without a fix.
    pub fn fusion(&self) -> Option<FusedFix> {
        self.fix.as_ref().map(|f| fuse(f, &self.more_fixes))
    }

    fn check_more_fixes(&self) -> Result<(), AttemptError> {
        if self.more_fixes.is_empty() {
            return Ok(());
        }
        let Some(latest) = &self.fix else {
            return Err(AttemptError::new(
                "more_fixes",
                format!("{} fixes", self.more_fixes.len()),
                "earlier fixes need the latest fix in `fix`",
            ));
        };
        if self.more_fixes.len() > MAX_MORE_FIXES {
            return Err(AttemptError::new(
                "more_fixes",
                format!("{} fixes", self.more_fixes.len()),
                format!("an attempt carries at most {MAX_MORE_FIXES} earlier fixes"),
            ));
        }
        for (i, fix) in self.more_fixes.iter().enumerate() {
            let field = format!("more_fixes[{i}]");
            check_fix(&field, fix)?;
            match (fix.monotonic_ms, latest.monotonic_ms) {
                (Some(mono), Some(latest_mono)) if mono > latest_mono => {
                    return Err(AttemptError::new(
                        format!("{field}.monotonic_ms"),
                        mono,
                        format!(
                            "an earlier fix cannot be taken after the latest fix (fix.monotonic_ms {latest_mono})"
                        ),
                    ));
                }
                (Some(_), Some(_)) => {}
                _ if fix.time > latest.time => {
                    return Err(AttemptError::new(
                        format!("{field}.time"),
                        fix.time
                            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                        format!(
                            "an earlier fix cannot be taken after the latest fix (fix.time {})",
                            latest
                                .time
                                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                        ),
                    ));
                }
                _ => {}
            }
            if fix == latest {
                return Err(AttemptError::new(
                    field,
                    format!("({}, {})", fix.lat, fix.lon),
                    "repeats `fix` exactly; list each fix once",
                ));
            }
            if let Some(j) = self.more_fixes[..i].iter().position(|other| other == fix) {
                return Err(AttemptError::new(
                    field,
                    format!("({}, {})", fix.lat, fix.lon),
                    format!("repeats more_fixes[{j}] exactly; list each fix once"),
                ));
            }
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
    /// Found by the `attempt` fuzz target: an unknown member named `""` at the top gave an
    /// error with an empty field name.
    #[test]
    fn an_unknown_empty_member_is_named_at_the_root() {
        let e = super::Attempt::from_json(r#"{"employee_id": "E1001", "": 1}"#).unwrap_err();
        assert_eq!(e.field, "$");
        assert!(e.reason.contains("unknown field"), "{e}");
    }

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
    fn nothing_may_follow_the_attempt() {
        for tail in [" x", "{}", "]", " 1"] {
            let e = err(&format!("{GOOD}{tail}"));
            assert_eq!(e.field, "$", "{tail}: {e}");
            assert!(e.to_string().contains("nothing may follow"), "{e}");
        }
        Attempt::from_json(&format!("{GOOD}\n \t")).unwrap();
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

    /// GOOD with earlier fixes of the same attempt, 1 and 2 s before the latest one.
    fn with_more(more: &str) -> String {
        GOOD.replace(
            "\"wifi_bssids\"",
            &format!("\"more_fixes\": [{more}],\n        \"wifi_bssids\""),
        )
    }

    const EARLIER_1: &str = r#"{"lat": 22.28002, "lon": 114.18382, "accuracy_m": 10, "time": "2026-11-26T00:59:59Z", "monotonic_ms": 999}"#;
    const EARLIER_2: &str = r#"{"lat": 22.27998, "lon": 114.18378, "accuracy_m": 15, "time": "2026-11-26T00:59:58Z", "monotonic_ms": 998}"#;

    #[test]
    fn earlier_fixes_parse_and_are_fused_for_the_location() {
        let text = with_more(&format!("{EARLIER_1}, {EARLIER_2}"));
        let a = Attempt::from_json(&text).unwrap();
        assert_eq!(a.more_fixes.len(), 2);
        let latest = a.fix.clone().unwrap();
        let located = a.located_fix().unwrap();
        // Time, clocks and flags are the latest fix's; the position is fused.
        assert_eq!(located.time, latest.time);
        assert_eq!(located.monotonic_ms, latest.monotonic_ms);
        assert_ne!((located.lat, located.lon), (latest.lat, latest.lon));
        // Best accuracy of the three is 10 m; never better than that.
        assert!(located.accuracy_m >= 10.0, "{}", located.accuracy_m);
        assert!(located.accuracy_m < 12.0, "{}", located.accuracy_m);
        let fusion = a.fusion().unwrap();
        assert_eq!((fusion.used, fusion.left_out.len()), (3, 0));
        // Without earlier fixes the located fix is the latest one, unchanged.
        let plain = Attempt::from_json(GOOD).unwrap();
        assert_eq!(plain.located_fix(), plain.fix);
        // The field is left out of the JSON when empty, and round-trips when not.
        assert!(
            !serde_json::to_string(&plain)
                .unwrap()
                .contains("more_fixes")
        );
        let again: Attempt = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(again, a);
    }

    #[test]
    fn bad_earlier_fixes_are_refused_naming_the_field() {
        let good_1 = EARLIER_1;
        let e = err(&with_more(&format!(
            "{good_1}, {}",
            EARLIER_2.replace("22.27998", "-91")
        )));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("more_fixes[1].lat", "-91")
        );
        let e = err(&with_more(
            &EARLIER_2.replace("\"accuracy_m\": 15", "\"accuracy_m\": \"x\""),
        ));
        assert_eq!(e.field, "more_fixes[0].accuracy_m");
        let e = err(&with_more(
            &EARLIER_2.replace("\"monotonic_ms\": 998", "\"monotonic_ms\": 1001"),
        ));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("more_fixes[0].monotonic_ms", "1001")
        );
        assert!(e.reason.contains("after the latest fix"), "{e}");
        let no_mono = EARLIER_2.replace(", \"monotonic_ms\": 998", "");
        let e = err(&with_more(&no_mono.replace("00:59:58Z", "01:00:01Z")));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("more_fixes[0].time", "2026-11-26T01:00:01Z")
        );
        let e = err(&with_more(&format!("{good_1}, {EARLIER_2}, {good_1}")));
        assert_eq!(e.field, "more_fixes[2]");
        assert!(e.reason.contains("repeats more_fixes[0]"), "{e}");
        let mut a = Attempt::from_json(&with_more(good_1)).unwrap();
        a.more_fixes.push(a.fix.clone().unwrap());
        let e = a.validate().unwrap_err();
        assert_eq!(e.field, "more_fixes[1]");
        assert!(e.reason.contains("repeats `fix`"), "{e}");
        a.more_fixes.pop();
        a.fix = None;
        assert_eq!(a.validate().unwrap_err().field, "more_fixes");
    }

    #[test]
    fn at_most_sixteen_earlier_fixes() {
        let mut a = Attempt::from_json(GOOD).unwrap();
        let latest = a.fix.clone().unwrap();
        for i in 0..MAX_MORE_FIXES as u64 {
            let mut f = latest.clone();
            f.monotonic_ms = Some(900 - i);
            a.more_fixes.push(f);
        }
        a.validate().unwrap();
        let mut f = latest.clone();
        f.monotonic_ms = Some(1);
        a.more_fixes.push(f);
        let e = a.validate().unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("more_fixes", "17 fixes")
        );
        a.more_fixes.truncate(3);
        a.more_fixes[2].lon = f64::NAN;
        assert_eq!(a.validate().unwrap_err().field, "more_fixes[2].lon");
    }
}
