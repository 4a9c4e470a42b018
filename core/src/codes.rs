//! Stable machine codes for everything a verdict can say.
//!
//! A code is part of daka's public contract: apps switch on it to pick a UI message, support
//! teams grep logs for it, the server stores it. Codes are only ever added, never renamed or
//! reused. Each code has a fixed default [`Severity`]; the evaluator may raise a `Review` to a
//! `Reject` where the policy says so, but never lowers a `Reject`.
//!
//! The list is documented, with what each means and what the user can do, in
//! `docs/verdict.md`.

use serde::{Deserialize, Serialize};

/// How much a finding weighs in the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Recorded for the audit trail; does not change the decision.
    Info,
    /// The punch may be recorded but needs a reviewer (a field punch, 外勤).
    Review,
    /// The punch is not accepted.
    Reject,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, $sev:ident; )*) => {
        /// A stable machine code for one finding of the evaluator.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Code {
            $( $(#[$doc])* #[serde(rename = $text)] $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable text form, e.g. `"outside_fence"`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }

            /// The severity this finding has unless the policy says otherwise.
            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }

            /// Parses the stable text form.
            pub fn parse(text: &str) -> Option<Code> {
                match text { $($text => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    // ---- location -------------------------------------------------------------------------
    /// The whole accuracy circle lies inside an allowed fence.
    InsideFence = "inside_fence", Info;
    /// A Wi-Fi access point on the site's allow-list was seen: presence proven without GPS.
    WifiMatch = "wifi_match", Info;
    /// The accuracy circle straddles the edge of an allowed fence.
    LocationUncertain = "location_uncertain", Review;
    /// The accuracy circle does not touch any allowed fence.
    OutsideFence = "outside_fence", Reject;
    /// The employee has no site in the policy that they may clock in at.
    NoAssignedSite = "no_assigned_site", Reject;
    /// No location fix and no matching Wi-Fi: nothing proves where the punch was made.
    NoLocationEvidence = "no_location_evidence", Reject;

    // ---- spoofing signals -------------------------------------------------------------------
    /// The platform reported the fix as coming from a mock location provider.
    MockLocation = "mock_location", Reject;
    /// The distance from the previous fix needs a speed above the policy's limit.
    ImpossibleTravel = "impossible_travel", Review;
    /// The fix is older than the policy allows.
    StaleFix = "stale_fix", Reject;
    /// The fix's accuracy is worse than the policy's maximum.
    PoorAccuracy = "poor_accuracy", Reject;
    /// The fix reports an accuracy of 0 m, which no real receiver produces.
    ImplausibleAccuracy = "implausible_accuracy", Review;
    /// The fix is dated after the punch attempt it belongs to.
    ImplausibleFixTime = "implausible_fix_time", Review;
    /// The fix repeats the previous punch's fix exactly (coordinates and accuracy) and its clocks
    /// did not move on or it is a GPS fix, as replayed fixes do; lowered to `Info` for a network
    /// or fused fix with clocks that moved on (a phone that has not moved).
    RepeatedFix = "repeated_fix", Review;
    /// The device wall clock moved differently from the monotonic clock since the last punch.
    ClockJump = "clock_jump", Review;
    /// No server time anchor is available on this boot: the time is the device's own.
    UntrustedTime = "untrusted_time", Info;

    // ---- face match -------------------------------------------------------------------------
    /// The policy requires a face match and the attempt carries no token.
    FaceTokenMissing = "face_token_missing", Reject;
    /// The token is not a well-formed compact JWS with the required claims.
    FaceTokenMalformed = "face_token_malformed", Reject;
    /// The token's `alg` is not EdDSA or ES256 (`none`, HS256 and all others are refused).
    FaceTokenAlgorithmRefused = "face_token_algorithm_refused", Reject;
    /// The token's `kid` names no trusted face-matcher key in the policy.
    FaceTokenUnknownKey = "face_token_unknown_key", Reject;
    /// The token's `alg` does not fit the type of the key its `kid` selects.
    FaceTokenKeyMismatch = "face_token_key_mismatch", Reject;
    /// The signature does not verify under the selected key.
    FaceTokenBadSignature = "face_token_bad_signature", Reject;
    /// The token's `iss` is not the issuer the policy registers for the key.
    FaceTokenWrongIssuer = "face_token_wrong_issuer", Reject;
    /// `exp` is in the past (beyond the skew allowance).
    FaceTokenExpired = "face_token_expired", Reject;
    /// `iat` is in the future (beyond the skew allowance).
    FaceTokenNotYetValid = "face_token_not_yet_valid", Reject;
    /// `iat` is older than the policy's maximum token age.
    FaceTokenTooOld = "face_token_too_old", Reject;
    /// `sub` is not the employee making the punch.
    FaceTokenWrongSubject = "face_token_wrong_subject", Reject;
    /// `nonce` is not the nonce daka issued for this attempt.
    FaceTokenWrongNonce = "face_token_wrong_nonce", Reject;
    /// The nonce was already used by an earlier attempt.
    FaceTokenReplayed = "face_token_replayed", Reject;
    /// The match score is below the policy's minimum.
    FaceScoreTooLow = "face_score_too_low", Reject;
    /// The liveness check failed or scored below the policy's minimum.
    FaceLivenessFailed = "face_liveness_failed", Reject;
    /// The face match verified.
    FaceMatched = "face_matched", Info;

    // ---- input --------------------------------------------------------------------------------
    /// The employee id is not in the policy.
    UnknownEmployee = "unknown_employee", Reject;
}

// The OpenAPI schema is written by hand: the derive cannot see the `serde(rename)` texts
// through the macro above and would publish the Rust variant names instead.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Code {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A stable machine code for one finding of the evaluator (see docs/verdict.md).",
            ))
            .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Code {}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code text {code}");
            assert_eq!(Code::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        assert_eq!(Code::parse("no_such_code"), None);
    }
}
