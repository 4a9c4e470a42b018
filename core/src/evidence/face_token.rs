//! Verification of the face matcher's signed result: a compact JWS whose claims say who was
//! matched, how well, against which nonce, and when.
//!
//! daka never sees a face. A face matcher (an on-device model, a vendor SDK, the company's
//! server) compares the camera image with the enrolled template and signs the outcome with a
//! key the policy trusts; this module decides whether that signed outcome backs this punch
//! attempt. The format for vendors is in `docs/face-token.md`.
//!
//! # Check order
//!
//! A token with several faults is reported by the first check it fails, in this fixed order,
//! so the same token always gets the same code on the phone and on the server:
//!
//! 1. **structure**: non-empty, at most 8 KiB, exactly three segments, base64url alphabet
//!    without padding or whitespace, canonical base64url ([`FaceTokenError::Malformed`]);
//! 2. **header**: UTF-8 JSON object, no member twice, no `crit`, `alg` present and a string
//!    (`Malformed`);
//! 3. **alg**: exactly `EdDSA` or `ES256`, refused before any key is touched
//!    ([`FaceTokenError::AlgorithmRefused`]);
//! 4. **kid**: present and a string (`Malformed`), naming a trusted key
//!    ([`FaceTokenError::UnknownKey`]);
//! 5. **key/alg match**: `EdDSA` only with an Ed25519 key, `ES256` only with a P-256 key
//!    ([`FaceTokenError::KeyMismatch`]);
//! 6. **signature** over `header_b64 "." payload_b64` with ring
//!    ([`FaceTokenError::BadSignature`]); nothing in the payload is read before this;
//! 7. **claims**: UTF-8 JSON object, no member twice; `iss`, `sub`, `nonce` non-empty strings;
//!    `iat`, `exp` NumericDates with `exp` after `iat`; `score` in 0..=1; `liveness` `"pass"`,
//!    `"fail"` or 0..=1; `model` a string if present (`Malformed`, naming the claim);
//! 8. **iss** equals the key's registered issuer, when the policy sets one
//!    ([`FaceTokenError::WrongIssuer`]);
//! 9. **sub** equals the employee making the punch ([`FaceTokenError::WrongSubject`]);
//! 10. **nonce** equals the nonce issued for this attempt ([`FaceTokenError::WrongNonce`]),
//!     and is then consumed from the ledger ([`FaceTokenError::Replayed`] if it already was);
//! 11. **time** against the trusted clock with skew allowance `k`: expired if
//!     `now > exp + k`, not yet valid if `iat > now + k`, too old if
//!     `now − iat > max_token_age_s + k` ([`FaceTokenError::Expired`],
//!     [`FaceTokenError::NotYetValid`], [`FaceTokenError::TooOld`]);
//! 12. **score** ≥ `min_score` ([`FaceTokenError::ScoreTooLow`]), then **liveness** ≥
//!     `min_liveness` ([`FaceTokenError::LivenessFailed`]).
//!
//! The nonce is consumed as soon as a validly signed token for this employee carries this
//! attempt's nonce, before the time and score checks: a token refused for being late or for a
//! low score has still used its nonce, so no later replay of it can pass, even on a ledger that
//! forgot why it was refused.
//!
//! Header parameters other than `alg`, `kid` and `crit` are ignored; in particular `jwk`,
//! `jku`, `x5c` and `x5u` are never used to find a key. Keys come only from the policy.
//! Comparisons of score and liveness fail closed: a NaN threshold refuses every token.

mod compact;
mod error;
mod json;
mod nonce;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};
use ring::signature::{self as sig, UnparsedPublicKey};

use crate::policy::{FaceRules, Policy, PublicKey, TrustedKey};

pub use compact::MAX_TOKEN_BYTES;
pub use error::{FaceTokenError, MAX_ECHO_CHARS, TokenPart};
pub use nonce::{NONCE_BYTES, NonceLedger, RandomUnavailable};

use error::echo;
use json::Json;

/// Latest accepted NumericDate: 9999-12-31T23:59:59Z, the end of RFC 3339's range.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

const NANOS: i128 = 1_000_000_000;

/// The two accepted JWS algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA on P-256 with SHA-256, signature as 64-byte `r || s` (RFC 7518 §3.4).
    ES256,
}

impl JwsAlg {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlg::EdDSA => "EdDSA",
            JwsAlg::ES256 => "ES256",
        }
    }
}

impl fmt::Display for JwsAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a trusted key, for [`FaceTokenError::KeyMismatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// An Ed25519 key (JWK `kty` `OKP`, `crv` `Ed25519`), which verifies `EdDSA` tokens.
    Ed25519,
    /// A P-256 key (JWK `kty` `EC`, `crv` `P-256`), which verifies `ES256` tokens.
    P256,
}

impl KeyType {
    /// The one algorithm keys of this type verify.
    pub fn alg(self) -> JwsAlg {
        match self {
            KeyType::Ed25519 => JwsAlg::EdDSA,
            KeyType::P256 => JwsAlg::ES256,
        }
    }

    fn of(key: &PublicKey) -> KeyType {
        match key {
            PublicKey::Ed25519(_) => KeyType::Ed25519,
            PublicKey::P256(_) => KeyType::P256,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Ed25519 => "Ed25519",
            KeyType::P256 => "P-256",
        })
    }
}

/// The `liveness` claim as the matcher stated it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Liveness {
    /// `"pass"`, counted as 1.
    Pass,
    /// `"fail"`, counted as 0.
    Fail,
    /// A score in 0..=1.
    Score(f64),
}

impl Liveness {
    /// The value compared with the policy's `min_liveness`.
    pub fn score(self) -> f64 {
        match self {
            Liveness::Pass => 1.0,
            Liveness::Fail => 0.0,
            Liveness::Score(s) => s,
        }
    }
}

/// What daka expects of the token for this attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected<'a> {
    /// The employee making the punch; must equal `sub`.
    pub employee_id: &'a str,
    /// The nonce daka issued for this attempt; must equal `nonce`.
    pub nonce: &'a str,
    /// Trusted time (server anchor plus monotonic elapsed time, or the server's clock), never
    /// the device's wall clock.
    pub trusted_now: DateTime<Utc>,
}

/// A verified face match.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceMatch {
    /// The key that verified the signature.
    pub kid: String,
    /// The token's `alg` header; always the one algorithm the key's type verifies.
    pub alg: JwsAlg,
    /// The `iss` claim.
    pub issuer: String,
    /// Match score, 0..=1.
    pub score: f64,
    /// Liveness as a score: `"pass"` is 1, `"fail"` 0.
    pub liveness: f64,
    /// The `model` claim, when present.
    pub model: Option<String>,
    /// When the matcher issued the token: the `iat` claim, fractions of a second kept.
    pub issued_at: DateTime<Utc>,
    /// When the token expires: the `exp` claim, fractions of a second kept; always after
    /// `issued_at`.
    pub expires_at: DateTime<Utc>,
}

/// Verifies face-match tokens against the policy's trusted keys and face rules.
#[derive(Debug, Clone, Copy)]
pub struct FaceTokenVerifier<'p> {
    keys: &'p [TrustedKey],
    rules: &'p FaceRules,
}

impl<'p> FaceTokenVerifier<'p> {
    /// A verifier for these keys and rules.
    pub fn new(keys: &'p [TrustedKey], rules: &'p FaceRules) -> Self {
        FaceTokenVerifier { keys, rules }
    }

    /// A verifier for the policy's face-matcher keys and face rules.
    pub fn for_policy(policy: &'p Policy) -> Self {
        Self::new(&policy.face_matchers, &policy.thresholds.face)
    }

    /// Verifies one token for one attempt, in the order the module documentation gives.
    ///
    /// Consumes `expected.nonce` from `ledger` once the signature, `iss`, `sub` and `nonce`
    /// check out, so the nonce can never back another attempt, even when a later check
    /// (time, score, liveness) refuses this one.
    ///
    /// # Errors
    ///
    /// The first check the token fails, as a [`FaceTokenError`] whose
    /// [`code`](FaceTokenError::code) is the stable verdict code.
    pub fn verify(
        &self,
        token: &str,
        expected: &Expected<'_>,
        ledger: &mut NonceLedger,
    ) -> Result<FaceMatch, FaceTokenError> {
        self.verify_checked(token, expected, ledger, None)
    }

    /// Checks steps 1 to 6 (structure, header, algorithm, key and signature) of a token on
    /// its own, ahead of [`verify_checked`](Self::verify_checked): the part that needs neither
    /// the attempt nor the nonce ledger, and the costly part, so a server can run it on
    /// another core while the ledger is held.
    ///
    /// # Errors
    ///
    /// The first of those checks the token fails, as [`verify`](Self::verify) would report it.
    pub fn check_signature(&self, token: &str) -> Result<SignatureChecked, FaceTokenError> {
        let signed = self.signed(token)?;
        signed.verify()?;
        Ok(SignatureChecked {
            token: token.into(),
            key: signed.public.into(),
        })
    }

    /// [`verify`](Self::verify), with the signature already checked by
    /// [`check_signature`](Self::check_signature) when `checked` is for this very token and
    /// the key this verifier finds for it; otherwise (another token, another key, or `None`)
    /// the signature is checked here. Every other step runs as in `verify`.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_checked(
        &self,
        token: &str,
        expected: &Expected<'_>,
        ledger: &mut NonceLedger,
        checked: Option<&SignatureChecked>,
    ) -> Result<FaceMatch, FaceTokenError> {
        let signed = self.signed(token)?;
        // 6. signature, unless checked ahead for this token under this key
        if !checked.is_some_and(|c| *c.token == *token && *c.key == *signed.public) {
            signed.verify()?;
        }
        let Signed {
            compact, key, alg, ..
        } = signed;

        // 7. claims
        let claims = Claims::read(&compact.payload)?;

        // 8. iss
        match &key.issuer {
            Some(issuer) if *claims.iss != **issuer => {
                return Err(FaceTokenError::WrongIssuer {
                    kid: key.kid.clone(),
                    expected: issuer.clone(),
                    found: echo(&claims.iss),
                });
            }
            _ => {}
        }

        // 9. sub
        if claims.sub != expected.employee_id {
            return Err(FaceTokenError::WrongSubject {
                expected: expected.employee_id.to_owned(),
                found: echo(&claims.sub),
            });
        }

        // 10. nonce, consumed from here on
        if claims.nonce != expected.nonce {
            return Err(FaceTokenError::WrongNonce {
                expected: expected.nonce.to_owned(),
                found: echo(&claims.nonce),
            });
        }
        if !ledger.consume(&claims.nonce) {
            return Err(FaceTokenError::Replayed {
                nonce: echo(&claims.nonce),
            });
        }

        // 11. time
        self.check_time(&claims, expected.trusted_now)?;

        // 12. score, liveness
        if below(claims.score, self.rules.min_score) {
            return Err(FaceTokenError::ScoreTooLow {
                score: claims.score,
                min: self.rules.min_score,
            });
        }
        if below(claims.liveness.score(), self.rules.min_liveness) {
            return Err(FaceTokenError::LivenessFailed {
                liveness: claims.liveness,
                min: self.rules.min_liveness,
            });
        }

        Ok(FaceMatch {
            kid: key.kid.clone(),
            alg,
            issuer: claims.iss.into_owned(),
            score: claims.score,
            liveness: claims.liveness.score(),
            model: claims.model.map(Cow::into_owned),
            issued_at: to_datetime(claims.iat_ns, "iat")?,
            expires_at: to_datetime(claims.exp_ns, "exp")?,
        })
    }

    /// Steps 1 to 5: the token split, its header read, its algorithm accepted and its key
    /// found and matched to the algorithm.
    fn signed<'t>(&self, token: &'t str) -> Result<Signed<'t, 'p>, FaceTokenError> {
        // 1. structure
        let compact = compact::split(token)?;

        // 2. header
        let [alg, kid, crit] = json::read_members(&compact.header, ["alg", "kid", "crit"])
            .map_err(|e| in_part(e, TokenPart::Header, TokenPart::HeaderParam))?;
        if crit.is_some() {
            return Err(FaceTokenError::malformed(
                TokenPart::HeaderParam("crit"),
                "critical header extensions are not supported",
            ));
        }
        let alg = string(alg, TokenPart::HeaderParam("alg"))?;

        // 3. alg
        let alg = match &*alg {
            "EdDSA" => JwsAlg::EdDSA,
            "ES256" => JwsAlg::ES256,
            other => return Err(FaceTokenError::AlgorithmRefused { alg: echo(other) }),
        };

        // 4. kid
        let kid = string(kid, TokenPart::HeaderParam("kid"))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == *kid)
            .ok_or_else(|| FaceTokenError::UnknownKey { kid: echo(&kid) })?;

        // 5. key/alg match
        let (algorithm, public): (&'static dyn sig::VerificationAlgorithm, &'p [u8]) =
            match (alg, &key.key) {
                (JwsAlg::EdDSA, PublicKey::Ed25519(pk)) => (&sig::ED25519, pk),
                (JwsAlg::ES256, PublicKey::P256(pk)) => (&sig::ECDSA_P256_SHA256_FIXED, &pk[..]),
                (alg, other) => {
                    return Err(FaceTokenError::KeyMismatch {
                        kid: key.kid.clone(),
                        alg,
                        key: KeyType::of(other),
                    });
                }
            };
        Ok(Signed {
            compact,
            key,
            alg,
            algorithm,
            public,
        })
    }

    fn check_time(&self, claims: &Claims<'_>, now: DateTime<Utc>) -> Result<(), FaceTokenError> {
        let now = i128::from(now.timestamp()) * NANOS + i128::from(now.timestamp_subsec_nanos());
        // u64 seconds in nanoseconds stay far inside i128, so none of this can overflow.
        let skew = i128::from(self.rules.clock_skew_s) * NANOS;
        let max_age = i128::from(self.rules.max_token_age_s) * NANOS;
        if now > claims.exp_ns + skew {
            return Err(FaceTokenError::Expired {
                ago_s: ceil_secs(now - claims.exp_ns),
                skew_s: self.rules.clock_skew_s,
            });
        }
        if claims.iat_ns > now + skew {
            return Err(FaceTokenError::NotYetValid {
                ahead_s: ceil_secs(claims.iat_ns - now),
                skew_s: self.rules.clock_skew_s,
            });
        }
        if now - claims.iat_ns > max_age + skew {
            return Err(FaceTokenError::TooOld {
                age_s: ceil_secs(now - claims.iat_ns),
                max_s: self.rules.max_token_age_s,
            });
        }
        Ok(())
    }
}

/// A token through steps 1 to 5, its signature not yet checked.
struct Signed<'t, 'p> {
    compact: compact::Compact<'t>,
    key: &'p TrustedKey,
    alg: JwsAlg,
    algorithm: &'static dyn sig::VerificationAlgorithm,
    public: &'p [u8],
}

impl Signed<'_, '_> {
    /// Step 6: the signature over `header_b64 "." payload_b64`.
    fn verify(&self) -> Result<(), FaceTokenError> {
        UnparsedPublicKey::new(self.algorithm, self.public)
            .verify(self.compact.signing_input, &self.compact.signature)
            .map_err(|_| FaceTokenError::BadSignature {
                kid: self.key.kid.clone(),
                alg: self.alg,
                len: self.compact.signature.len(),
            })
    }
}

/// A token whose signature verified (steps 1 to 6) under a trusted key, from
/// [`FaceTokenVerifier::check_signature`]: it lets
/// [`FaceTokenVerifier::verify_checked`] skip the signature for this token and key. It proves
/// nothing about the claims, the attempt or the nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureChecked {
    /// The token, exactly as checked.
    token: Box<str>,
    /// The public key that verified it.
    key: Box<[u8]>,
}

/// The claim set, checked for shape and range (step 7) but not yet against the attempt.
struct Claims<'a> {
    iss: Cow<'a, str>,
    sub: Cow<'a, str>,
    nonce: Cow<'a, str>,
    /// NumericDates in nanoseconds since the epoch.
    iat_ns: i128,
    exp_ns: i128,
    score: f64,
    liveness: Liveness,
    model: Option<Cow<'a, str>>,
}

impl<'a> Claims<'a> {
    fn read(payload: &'a [u8]) -> Result<Self, FaceTokenError> {
        let [iss, sub, nonce, iat, exp, score, liveness, model] = json::read_members(
            payload,
            [
                "iss", "sub", "nonce", "iat", "exp", "score", "liveness", "model",
            ],
        )
        .map_err(|e| in_part(e, TokenPart::Payload, TokenPart::Claim))?;

        let iss = non_empty(string(iss, TokenPart::Claim("iss"))?, "iss")?;
        let sub = non_empty(string(sub, TokenPart::Claim("sub"))?, "sub")?;
        let nonce = non_empty(string(nonce, TokenPart::Claim("nonce"))?, "nonce")?;
        let iat_ns = numeric_date(iat, "iat")?;
        let exp_ns = numeric_date(exp, "exp")?;
        if exp_ns <= iat_ns {
            return Err(FaceTokenError::malformed(
                TokenPart::Claim("exp"),
                format!(
                    "exp ({}) is not after iat ({})",
                    show_ns(exp_ns),
                    show_ns(iat_ns)
                ),
            ));
        }
        let score = unit_interval(score, "score")?;
        let liveness = match liveness {
            Some(Json::String(s)) if s == "pass" => Liveness::Pass,
            Some(Json::String(s)) if s == "fail" => Liveness::Fail,
            Some(Json::String(s)) => {
                return Err(FaceTokenError::malformed(
                    TokenPart::Claim("liveness"),
                    format!(
                        "expected \"pass\", \"fail\" or a number in 0..=1, found {:?}",
                        echo(&s)
                    ),
                ));
            }
            other => Liveness::Score(unit_interval(other, "liveness")?),
        };
        let model = match model {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s),
            Some(other) => {
                return Err(FaceTokenError::malformed(
                    TokenPart::Claim("model"),
                    format!("expected a string, found {}", other.describe()),
                ));
            }
        };
        Ok(Claims {
            iss,
            sub,
            nonce,
            iat_ns,
            exp_ns,
            score,
            liveness,
            model,
        })
    }
}

/// Turns a JSON read failure into `Malformed`, naming the member when the failure is inside one.
fn in_part(
    e: json::ReadError,
    whole: TokenPart,
    member: fn(&'static str) -> TokenPart,
) -> FaceTokenError {
    let part = e.member.map_or(whole, member);
    FaceTokenError::malformed(part, e.reason)
}

fn string<'a>(value: Option<Json<'a>>, part: TokenPart) -> Result<Cow<'a, str>, FaceTokenError> {
    match value {
        Some(Json::String(s)) => Ok(s),
        None => Err(FaceTokenError::malformed(part, "missing")),
        Some(other) => Err(FaceTokenError::malformed(
            part,
            format!("expected a string, found {}", other.describe()),
        )),
    }
}

fn non_empty<'a>(s: Cow<'a, str>, claim: &'static str) -> Result<Cow<'a, str>, FaceTokenError> {
    if s.is_empty() {
        Err(FaceTokenError::malformed(TokenPart::Claim(claim), "empty"))
    } else {
        Ok(s)
    }
}

fn number(value: Option<Json<'_>>, claim: &'static str) -> Result<f64, FaceTokenError> {
    match value {
        Some(Json::Number(n)) if n.is_finite() => Ok(n),
        None => Err(FaceTokenError::malformed(
            TokenPart::Claim(claim),
            "missing",
        )),
        Some(other) => Err(FaceTokenError::malformed(
            TokenPart::Claim(claim),
            format!("expected a number, found {}", other.describe()),
        )),
    }
}

fn unit_interval(value: Option<Json<'_>>, claim: &'static str) -> Result<f64, FaceTokenError> {
    let n = number(value, claim)?;
    if (0.0..=1.0).contains(&n) {
        Ok(n)
    } else {
        Err(FaceTokenError::malformed(
            TokenPart::Claim(claim),
            format!("{n} is outside 0..=1"),
        ))
    }
}

/// A NumericDate (RFC 7519 §2: seconds since the epoch, fractions allowed) in nanoseconds.
fn numeric_date(value: Option<Json<'_>>, claim: &'static str) -> Result<i128, FaceTokenError> {
    let n = number(value, claim)?;
    if !(0.0..=MAX_NUMERIC_DATE as f64).contains(&n) {
        return Err(FaceTokenError::malformed(
            TokenPart::Claim(claim),
            format!("{n} is outside the NumericDate range 0..={MAX_NUMERIC_DATE} (year 9999)"),
        ));
    }
    let whole = n.floor();
    // In range, so both casts are exact or rounded, never saturated.
    Ok(whole as i128 * NANOS + ((n - whole) * 1e9).round() as i128)
}

fn to_datetime(ns: i128, claim: &'static str) -> Result<DateTime<Utc>, FaceTokenError> {
    let secs = i64::try_from(ns.div_euclid(NANOS)).ok();
    let nanos = u32::try_from(ns.rem_euclid(NANOS)).ok();
    secs.zip(nanos)
        .and_then(|(s, n)| DateTime::from_timestamp(s, n))
        .ok_or_else(|| {
            FaceTokenError::malformed(TokenPart::Claim(claim), "not a representable instant")
        })
}

fn show_ns(ns: i128) -> String {
    match to_datetime(ns, "") {
        Ok(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        Err(_) => format!("{ns} ns"),
    }
}

/// Whole seconds, rounded up, of a positive nanosecond span.
fn ceil_secs(ns: i128) -> u64 {
    u64::try_from((ns + NANOS - 1).div_euclid(NANOS)).unwrap_or(u64::MAX)
}

/// `value < min`, failing closed when either is NaN.
fn below(value: f64, min: f64) -> bool {
    !matches!(
        value.partial_cmp(&min),
        Some(Ordering::Greater | Ordering::Equal)
    )
}
