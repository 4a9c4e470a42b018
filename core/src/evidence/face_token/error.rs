//! Why a face-match token was refused: one variant per stable [`Code`], each carrying the numbers
//! and names a support person needs, and a `Display` message built from them
//! ("face token expired 4 min ago").
//!
//! Strings copied out of a token (an `alg`, a `kid`, a `sub`) are clipped to
//! [`MAX_ECHO_CHARS`] characters so that a hostile token cannot put kilobytes into a log line or
//! a verdict.

use std::fmt;

use crate::codes::Code;

use super::{JwsAlg, KeyType, Liveness};

/// Longest token-supplied string an error repeats, in characters; longer ones end in `…`.
pub const MAX_ECHO_CHARS: usize = 64;

/// Which part of the token a [`FaceTokenError::Malformed`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPart {
    /// The compact serialisation as a whole (empty, too long, wrong number of segments).
    Token,
    /// The first segment: its base64url or its JSON.
    Header,
    /// The second segment: its base64url or its JSON.
    Payload,
    /// The third segment's base64url.
    Signature,
    /// One header parameter, e.g. `alg`, `kid`, `crit`.
    HeaderParam(&'static str),
    /// One claim, e.g. `iat`, `score`, `liveness`.
    Claim(&'static str),
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenPart::Token => f.write_str("token"),
            TokenPart::Header => f.write_str("header"),
            TokenPart::Payload => f.write_str("payload"),
            TokenPart::Signature => f.write_str("signature"),
            TokenPart::HeaderParam(name) => write!(f, "header parameter `{name}`"),
            TokenPart::Claim(name) => write!(f, "claim `{name}`"),
        }
    }
}

/// A refused face-match token. [`code`](FaceTokenError::code) gives the stable machine code;
/// `Display` gives a human message with the numbers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FaceTokenError {
    /// Not a well-formed compact JWS, or a header parameter or claim is missing, of the wrong
    /// type or out of range.
    #[error("face token malformed: {part}: {reason}")]
    Malformed {
        /// The part of the token at fault.
        part: TokenPart,
        /// What is wrong with it, in English for logs and support; not stable, do not match on it.
        reason: String,
    },

    /// `alg` is not exactly `EdDSA` or `ES256`.
    #[error("face token algorithm {alg:?} is refused; only EdDSA and ES256 are accepted")]
    AlgorithmRefused {
        /// The token's `alg`, clipped to [`MAX_ECHO_CHARS`] characters.
        alg: String,
    },

    /// `kid` names no trusted face-matcher key.
    #[error("face token key {kid:?} is not a trusted face-matcher key in the policy")]
    UnknownKey {
        /// The token's `kid`, clipped to [`MAX_ECHO_CHARS`] characters.
        kid: String,
    },

    /// `alg` does not fit the type of the key that `kid` selects.
    #[error(
        "face token uses {alg} but key {kid:?} is an {key} key, which only verifies {}",
        key.alg()
    )]
    KeyMismatch {
        /// Id of the policy's trusted key that the token's `kid` selected.
        kid: String,
        /// The token's `alg`.
        alg: JwsAlg,
        /// The type of that key, which verifies only [`KeyType::alg`].
        key: KeyType,
    },

    /// The signature does not verify under the selected key. `len` is the decoded signature
    /// length; both algorithms need exactly 64 bytes (ES256 as `r || s`, not DER).
    #[error("{}", bad_signature_message(kid, *alg, *len))]
    BadSignature {
        /// Id of the policy's trusted key the signature was checked with.
        kid: String,
        /// The token's `alg`.
        alg: JwsAlg,
        /// Length of the decoded signature in bytes (a well-formed one has 64).
        len: usize,
    },

    /// `iss` differs from the issuer the policy registers for the key.
    #[error("face token issued by {found:?}, but key {kid:?} belongs to {expected:?}")]
    WrongIssuer {
        /// Id of the policy's trusted key that verified the signature.
        kid: String,
        /// The issuer the policy registers for that key.
        expected: String,
        /// The token's `iss`, clipped to [`MAX_ECHO_CHARS`] characters.
        found: String,
    },

    /// `sub` is not the employee making the punch.
    #[error("face token is for employee {found:?}, not {expected:?}")]
    WrongSubject {
        /// Id of the employee making the punch.
        expected: String,
        /// The token's `sub`, clipped to [`MAX_ECHO_CHARS`] characters.
        found: String,
    },

    /// `nonce` is not the nonce daka issued for this attempt.
    #[error("face token nonce {found:?} is not the nonce issued for this attempt ({expected:?})")]
    WrongNonce {
        /// The nonce daka issued for this attempt.
        expected: String,
        /// The token's `nonce`, clipped to [`MAX_ECHO_CHARS`] characters.
        found: String,
    },

    /// The nonce was already consumed by an earlier attempt.
    #[error("face token nonce {nonce:?} was already used by an earlier attempt")]
    Replayed {
        /// The already-used nonce, clipped to [`MAX_ECHO_CHARS`] characters.
        nonce: String,
    },

    /// The trusted time is more than `skew_s` seconds past `exp`; `ago_s` is how long ago `exp`
    /// was, rounded up.
    #[error(
        "face token expired {} ago (clock allowance {})",
        human_duration(*ago_s),
        human_duration(*skew_s)
    )]
    Expired {
        /// Seconds from `exp` to the trusted time, rounded up.
        ago_s: u64,
        /// The policy's clock allowance (`clock_skew_s`), in seconds.
        skew_s: u64,
    },

    /// `iat` is more than `skew_s` seconds after the trusted time; `ahead_s` is how far, rounded
    /// up.
    #[error(
        "face token issued {} in the future (clock allowance {})",
        human_duration(*ahead_s),
        human_duration(*skew_s)
    )]
    NotYetValid {
        /// Seconds from the trusted time to `iat`, rounded up.
        ahead_s: u64,
        /// The policy's clock allowance (`clock_skew_s`), in seconds.
        skew_s: u64,
    },

    /// `iat` is more than `max_s` (plus the clock allowance) before the trusted time; `age_s`
    /// is the token's age, rounded up.
    #[error(
        "face token is {} old; the policy accepts up to {}",
        human_duration(*age_s),
        human_duration(*max_s)
    )]
    TooOld {
        /// Seconds from `iat` to the trusted time, rounded up.
        age_s: u64,
        /// The policy's `max_token_age_s`, in seconds; the clock allowance comes on top.
        max_s: u64,
    },

    /// `score` is below the policy's `min_score`.
    #[error("face match score {score} is below the minimum {min}")]
    ScoreTooLow {
        /// The token's `score`, 0..=1.
        score: f64,
        /// The policy's `min_score`, 0..=1.
        min: f64,
    },

    /// Liveness was `"fail"`, or a score below the policy's `min_liveness`.
    #[error("{}", liveness_message(*liveness, *min))]
    LivenessFailed {
        /// The token's `liveness` claim as the matcher stated it.
        liveness: Liveness,
        /// The policy's `min_liveness`, 0..=1.
        min: f64,
    },
}

impl FaceTokenError {
    /// The stable machine code for this refusal.
    pub fn code(&self) -> Code {
        match self {
            FaceTokenError::Malformed { .. } => Code::FaceTokenMalformed,
            FaceTokenError::AlgorithmRefused { .. } => Code::FaceTokenAlgorithmRefused,
            FaceTokenError::UnknownKey { .. } => Code::FaceTokenUnknownKey,
            FaceTokenError::KeyMismatch { .. } => Code::FaceTokenKeyMismatch,
            FaceTokenError::BadSignature { .. } => Code::FaceTokenBadSignature,
            FaceTokenError::WrongIssuer { .. } => Code::FaceTokenWrongIssuer,
            FaceTokenError::WrongSubject { .. } => Code::FaceTokenWrongSubject,
            FaceTokenError::WrongNonce { .. } => Code::FaceTokenWrongNonce,
            FaceTokenError::Replayed { .. } => Code::FaceTokenReplayed,
            FaceTokenError::Expired { .. } => Code::FaceTokenExpired,
            FaceTokenError::NotYetValid { .. } => Code::FaceTokenNotYetValid,
            FaceTokenError::TooOld { .. } => Code::FaceTokenTooOld,
            FaceTokenError::ScoreTooLow { .. } => Code::FaceScoreTooLow,
            FaceTokenError::LivenessFailed { .. } => Code::FaceLivenessFailed,
        }
    }

    pub(super) fn malformed(part: TokenPart, reason: impl Into<String>) -> Self {
        FaceTokenError::Malformed {
            part,
            reason: reason.into(),
        }
    }
}

/// Copies a token-supplied string for an error, clipped to [`MAX_ECHO_CHARS`] characters.
pub(super) fn echo(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

fn bad_signature_message(kid: &str, alg: JwsAlg, len: usize) -> String {
    if len == 64 {
        format!("face token signature does not verify under key {kid:?} ({alg})")
    } else if alg == JwsAlg::ES256 && (8..=72).contains(&len) {
        format!(
            "face token signature is {len} bytes; ES256 needs the 64-byte r||s form \
             (RFC 7518 §3.4), not DER"
        )
    } else {
        format!("face token signature is {len} bytes; {alg} signatures are 64 bytes")
    }
}

fn liveness_message(liveness: Liveness, min: f64) -> String {
    match liveness {
        Liveness::Fail => "face matcher reported that the liveness check failed".to_owned(),
        Liveness::Pass => format!("liveness pass does not meet the minimum {min}"),
        Liveness::Score(s) => format!("liveness score {s} is below the minimum {min}"),
    }
}

/// "45 s", "4 min", "2 h 5 min", "3 d 4 h": whole units, rounded down, for messages.
pub(super) fn human_duration(secs: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;
    if secs < 2 * MIN {
        format!("{secs} s")
    } else if secs < 2 * HOUR {
        format!("{} min", secs / MIN)
    } else if secs < 2 * DAY {
        match (secs / HOUR, secs % HOUR / MIN) {
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        }
    } else {
        match (secs / DAY, secs % DAY / HOUR) {
            (d, 0) => format!("{d} d"),
            (d, h) => format!("{d} d {h} h"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0), "0 s");
        assert_eq!(human_duration(119), "119 s");
        assert_eq!(human_duration(240), "4 min");
        assert_eq!(human_duration(299), "4 min");
        assert_eq!(human_duration(7200), "2 h");
        assert_eq!(human_duration(7500), "2 h 5 min");
        assert_eq!(human_duration(3 * 86400 + 4 * 3600 + 59), "3 d 4 h");
        let max = human_duration(u64::MAX);
        assert!(
            max.starts_with(&format!("{} d ", u64::MAX / 86400)),
            "{max}"
        );
    }

    #[test]
    fn echo_clips_long_strings_on_char_boundaries() {
        assert_eq!(echo("EdDSA"), "EdDSA");
        let long = "打".repeat(100);
        let clipped = echo(&long);
        assert_eq!(clipped.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(clipped.ends_with('…'));
        assert_eq!(
            echo(&"a".repeat(MAX_ECHO_CHARS)),
            "a".repeat(MAX_ECHO_CHARS)
        );
    }

    #[test]
    fn messages_carry_the_numbers() {
        let e = FaceTokenError::Expired {
            ago_s: 240,
            skew_s: 30,
        };
        assert_eq!(
            e.to_string(),
            "face token expired 4 min ago (clock allowance 30 s)"
        );
        let e = FaceTokenError::BadSignature {
            kid: "k".into(),
            alg: JwsAlg::ES256,
            len: 71,
        };
        assert!(e.to_string().contains("71 bytes"), "{e}");
        assert!(e.to_string().contains("not DER"), "{e}");
    }
}
