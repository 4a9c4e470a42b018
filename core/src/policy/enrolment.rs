//! JSON → the policy's `enrolment` section: whether the organisation asks for platform
//! attestation when a phone enrols, and which apps may be attested (docs/policy.md,
//! "enrolment"; docs/threat-model.md).
//!
//! Refused with a path-naming [`PolicyError`]: an unknown rule word; a package name or app id
//! that is not one (Android: dot-separated Java identifiers; Apple: a ten-character team id,
//! a dot and a bundle id); a repeated one; `optional` or `required` with no app listed, since
//! no attestation could then pass.

use super::error::{PolicyError, PolicyErrorKind};
use super::json::{Json, Path};
use crate::protocol::AttestationRule;

const ENROLMENT_FIELDS: &[&str] = &["attestation", "android_packages", "ios_app_ids"];

/// Most package names, and most app ids, one policy lists.
pub const MAX_ATTESTED_APPS: usize = 32;
/// Longest Android package name or Apple app id, in bytes.
const MAX_APP_ID_BYTES: usize = 255;

/// How phones enrol: the policy's `enrolment` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolmentPolicy {
    /// Whether attestation is asked for; `off` when the section or the member is absent.
    pub attestation: AttestationRule,
    /// Android package names of the organisation's app (`hk.harbourlane.staff`).
    pub android_packages: Vec<String>,
    /// Apple app ids of the organisation's app: team id, a dot, bundle id
    /// (`A1B2C3D4E5.hk.harbourlane.staff`).
    pub ios_app_ids: Vec<String>,
}

pub(super) fn parse_enrolment(v: &Json, path: &Path<'_>) -> Result<EnrolmentPolicy, PolicyError> {
    let obj = v.as_object(path, ENROLMENT_FIELDS)?;
    let attestation = match obj.get("attestation") {
        None => AttestationRule::Off,
        Some(rule) => {
            let rp = path.key("attestation");
            match rule.as_str(&rp)? {
                "off" => AttestationRule::Off,
                "optional" => AttestationRule::Optional,
                "required" => AttestationRule::Required,
                _ => {
                    return Err(
                        rp.invalid(rule.show(), "one of \"off\", \"optional\", \"required\"")
                    );
                }
            }
        }
    };
    let android_packages = parse_apps(
        obj.get("android_packages"),
        &path.key("android_packages"),
        is_android_package,
        "an Android package name such as \"hk.harbourlane.staff\"",
    )?;
    let ios_app_ids = parse_apps(
        obj.get("ios_app_ids"),
        &path.key("ios_app_ids"),
        is_apple_app_id,
        "an Apple app id: the ten-character team id, a dot and the bundle id, such as \"A1B2C3D4E5.hk.harbourlane.staff\"",
    )?;
    if attestation != AttestationRule::Off && android_packages.is_empty() && ios_app_ids.is_empty()
    {
        return Err(path.key("attestation").invalid(
            format!("\"{}\"", attestation.as_str()),
            "attestation needs the organisation's app: list it in android_packages or ios_app_ids",
        ));
    }
    Ok(EnrolmentPolicy {
        attestation,
        android_packages,
        ios_app_ids,
    })
}

fn parse_apps(
    v: Option<&Json>,
    path: &Path<'_>,
    valid: fn(&str) -> bool,
    expected: &str,
) -> Result<Vec<String>, PolicyError> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let mut apps: Vec<String> = Vec::new();
    for (i, item) in v.as_array(path, MAX_ATTESTED_APPS)?.iter().enumerate() {
        let ip = path.index(i);
        let s = item.as_str(&ip)?;
        if s.is_empty() {
            return Err(ip.err(PolicyErrorKind::Empty));
        }
        if s.len() > MAX_APP_ID_BYTES || !valid(s) {
            return Err(ip.invalid(item.show(), expected));
        }
        if apps.iter().any(|a| a == s) {
            return Err(ip.invalid(item.show(), "listed twice"));
        }
        apps.push(s.to_owned());
    }
    Ok(apps)
}

/// `hk.harbourlane.staff`: two or more dot-separated segments, each a letter then letters,
/// digits or underscores (Android's `applicationId` rule).
fn is_android_package(s: &str) -> bool {
    let mut segments = 0;
    for segment in s.split('.') {
        let mut chars = segment.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        segments += 1;
    }
    segments >= 2
}

/// `A1B2C3D4E5.hk.harbourlane.staff`: a team id of ten upper-case letters or digits, a dot,
/// and a bundle id of letters, digits, `-` and `.`.
fn is_apple_app_id(s: &str) -> bool {
    let Some((team, bundle)) = s.split_once('.') else {
        return false;
    };
    team.len() == 10
        && team
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && !bundle.is_empty()
        && !bundle.starts_with('.')
        && !bundle.ends_with('.')
        && !bundle.contains("..")
        && bundle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn with_enrolment(section: &str) -> Result<Policy, PolicyError> {
        let mut doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../examples/hk-policy.json")).unwrap();
        doc["enrolment"] = serde_json::from_str(section).unwrap();
        Policy::from_json(&doc.to_string())
    }

    #[test]
    fn the_section_is_read_with_its_defaults() {
        let example: Policy =
            Policy::from_json(include_str!("../../../examples/hk-policy.json")).unwrap();
        assert_eq!(example.enrolment, EnrolmentPolicy::default());
        assert_eq!(example.enrolment.attestation, AttestationRule::Off);
        let policy = with_enrolment(
            r#"{"attestation": "required", "android_packages": ["hk.harbourlane.staff"],
                "ios_app_ids": ["A1B2C3D4E5.hk.harbourlane.staff"]}"#,
        )
        .unwrap();
        assert_eq!(
            policy.enrolment,
            EnrolmentPolicy {
                attestation: AttestationRule::Required,
                android_packages: vec!["hk.harbourlane.staff".into()],
                ios_app_ids: vec!["A1B2C3D4E5.hk.harbourlane.staff".into()],
            }
        );
        let off = with_enrolment(r#"{}"#).unwrap();
        assert_eq!(off.enrolment.attestation, AttestationRule::Off);
    }

    #[test]
    fn a_bad_section_is_refused_naming_the_path() {
        let many: Vec<String> = (0..=MAX_ATTESTED_APPS)
            .map(|i| format!("\"hk.app{i}.staff\""))
            .collect();
        let too_many = format!(r#"{{"android_packages": [{}]}}"#, many.join(","));
        for (section, path) in [
            (r#"{"attestation": "required"}"#, "enrolment.attestation"),
            (r#"{"attestation": "on"}"#, "enrolment.attestation"),
            (r#"{"attestation": true}"#, "enrolment.attestation"),
            (
                r#"{"android_packages": [""]}"#,
                "enrolment.android_packages[0]",
            ),
            (
                r#"{"android_packages": "hk.app"}"#,
                "enrolment.android_packages",
            ),
            (
                r#"{"ios_app_ids": ["A1B2C3D4E5.x", "A1B2C3D4E5.x"]}"#,
                "enrolment.ios_app_ids[1]",
            ),
            (too_many.as_str(), "enrolment.android_packages"),
            (r#"{"verifier": "x"}"#, "enrolment.verifier"),
        ] {
            let error = with_enrolment(section).unwrap_err();
            assert_eq!(error.path, path, "{section}: {error}");
        }
    }

    #[test]
    fn android_package_names_follow_the_application_id_rule() {
        for ok in ["hk.harbourlane.staff", "a.b", "com.example_app.v2"] {
            assert!(is_android_package(ok), "{ok}");
        }
        for bad in [
            "staff",
            "hk..staff",
            ".hk.staff",
            "hk.staff.",
            "hk.2staff",
            "hk.st-aff",
            "hk.staff app",
            "香港.staff",
        ] {
            assert!(!is_android_package(bad), "{bad}");
        }
    }

    #[test]
    fn apple_app_ids_are_a_team_id_and_a_bundle_id() {
        for ok in [
            "A1B2C3D4E5.hk.harbourlane.staff",
            "ABCDEFGHIJ.app",
            "0123456789.a-b.c",
        ] {
            assert!(is_apple_app_id(ok), "{ok}");
        }
        for bad in [
            "hk.harbourlane.staff",
            "a1b2c3d4e5.hk.staff",
            "A1B2C3D4E.hk.staff",
            "A1B2C3D4E5.",
            "A1B2C3D4E5..x",
            "A1B2C3D4E5.x.",
            "A1B2C3D4E5.hk staff",
            "A1B2C3D4E5",
        ] {
            assert!(!is_apple_app_id(bad), "{bad}");
        }
    }
}
