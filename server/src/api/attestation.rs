//! Attestation at enrolment (docs/protocol.md "Attestation at enrolment",
//! docs/threat-model.md): the challenge a device asks for (`POST /v1/enroll/challenge`) and
//! the check of the attestation it then sends with `POST /v1/enroll`, as its organisation's
//! policy (`enrolment.attestation`) asks.
//!
//! A challenge is not stored: it is the organisation id, an expiry, 16 random bytes and an
//! HMAC-SHA256 over them, the enrolment code's hash and the device's public key, under a key
//! derived from the organisation's signing seed. Any instance of the server can check it, it
//! cannot be moved to another code or key, and the code being single-use makes it single-use.

use chrono::{DateTime, Duration, Utc};
use daka_attest::{AttestationError, Expected, Verifiers};
use daka_core::policy::EnrolmentPolicy;
use daka_core::protocol::{Attestation, AttestationRule, attestation_nonce};
use ring::hmac;

use super::failure::Failure;
use crate::storage::{DeviceAttestation, OrgRow};
use axum::http::StatusCode;

/// How long a challenge is accepted after it is issued.
pub(crate) const CHALLENGE_TTL: Duration = Duration::minutes(10);

/// Random bytes in a challenge.
const CHALLENGE_RANDOM_BYTES: usize = 16;

/// The key that MACs an organisation's challenges: SHA-256 of a domain string and the
/// organisation's signing seed, so a challenge MAC never doubles as anything the seed signs.
fn challenge_key(org: &OrgRow) -> hmac::Key {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"daka-attestation-challenge-key-v1\n");
    ctx.update(org.signing_seed.as_slice());
    hmac::Key::new(hmac::HMAC_SHA256, ctx.finish().as_ref())
}

fn challenge_mac_input(
    org_id: &str,
    code_hash: &str,
    public_key: &str,
    expires_ms: i64,
    random: &str,
) -> Vec<u8> {
    format!(
        "daka-attestation-challenge-v1\n{org_id}\n{code_hash}\n{public_key}\n{expires_ms}\n{random}"
    )
    .into_bytes()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new challenge for enrolling `public_key` with the code hashing to `code_hash` into
/// `org`, and when it expires.
pub(crate) fn issue_challenge(
    org: &OrgRow,
    code_hash: &str,
    public_key: &str,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), Failure> {
    let mut random = [0u8; CHALLENGE_RANDOM_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| Failure::internal("the system random generator failed"))?;
    let random = b64(&random);
    let expires_at = now + CHALLENGE_TTL;
    let expires_ms = expires_at.timestamp_millis();
    let mac = hmac::sign(
        &challenge_key(org),
        &challenge_mac_input(&org.id, code_hash, public_key, expires_ms, &random),
    );
    Ok((
        format!("{}.{expires_ms}.{random}.{}", org.id, b64(mac.as_ref())),
        expires_at,
    ))
}

/// The organisation a challenge names (its first part), to find the key that checks it.
/// Organisation ids may hold dots, so the other three parts are taken from the right.
fn challenge_parts(challenge: &str) -> Option<(&str, &str, &str, &str)> {
    let mut parts = challenge.rsplitn(4, '.');
    let mac = parts.next()?;
    let random = parts.next()?;
    let expires = parts.next()?;
    let org_id = parts.next()?;
    Some((org_id, expires, random, mac))
}

/// Why a challenge is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChallengeProblem {
    /// Not a challenge of this server for this code and key (forged, garbled, or issued for
    /// another code, key or organisation).
    NotIssued,
    /// Issued, but past its expiry.
    Expired,
}

impl ChallengeProblem {
    fn code(&self) -> &'static str {
        match self {
            ChallengeProblem::NotIssued => "attestation_challenge_invalid",
            ChallengeProblem::Expired => "attestation_challenge_expired",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            ChallengeProblem::NotIssued => {
                "attestation.challenge: not a challenge issued for this enrolment code and public key; ask POST /v1/enroll/challenge for one"
            }
            ChallengeProblem::Expired => {
                "attestation.challenge: expired (a challenge is valid for 10 minutes); ask POST /v1/enroll/challenge for a new one and attest again"
            }
        }
    }
}

/// Checks that `challenge` was issued by `org` for this code and key and has not expired.
pub(crate) fn check_challenge(
    challenge: &str,
    org: &OrgRow,
    code_hash: &str,
    public_key: &str,
    now: DateTime<Utc>,
) -> Result<(), ChallengeProblem> {
    use base64::Engine;
    let (org_id, expires, random, mac) =
        challenge_parts(challenge).ok_or(ChallengeProblem::NotIssued)?;
    let expires_ms: i64 = expires.parse().map_err(|_| ChallengeProblem::NotIssued)?;
    let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(mac)
        .map_err(|_| ChallengeProblem::NotIssued)?;
    if org_id != org.id {
        return Err(ChallengeProblem::NotIssued);
    }
    hmac::verify(
        &challenge_key(org),
        &challenge_mac_input(org_id, code_hash, public_key, expires_ms, random),
        &mac,
    )
    .map_err(|_| ChallengeProblem::NotIssued)?;
    if now.timestamp_millis() > expires_ms {
        return Err(ChallengeProblem::Expired);
    }
    Ok(())
}

/// What the enrolment does about attestation, decided before the code is used.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Enrol, recording this (`None`: nothing to record).
    Enrol(Option<DeviceAttestation>),
    /// Refuse the enrolment with this answer; nothing is stored.
    Refuse(Failure),
}

/// Applies the organisation's rule to what the device sent.
///
/// * `off`: the attestation, if any, is not looked at.
/// * `optional`: verified when sent and recorded whatever the outcome.
/// * `required`: none sent is 403 `attestation_required`; one that fails is 403 with the
///   verifier's code (`attestation_not_trusted`, …) or the challenge's
///   (`attestation_challenge_expired`, `attestation_challenge_invalid`).
pub(crate) fn decide(
    rule: &EnrolmentPolicy,
    verifiers: &Verifiers,
    attestation: Option<&Attestation>,
    org: &OrgRow,
    code_hash: &str,
    public_key: &str,
    now: DateTime<Utc>,
) -> Decision {
    let attestation = match (rule.attestation, attestation) {
        (AttestationRule::Off, _) | (AttestationRule::Optional, None) => {
            return Decision::Enrol(None);
        }
        (AttestationRule::Required, None) => {
            return Decision::Refuse(Failure::new(
                StatusCode::FORBIDDEN,
                "attestation_required",
                format!(
                    "this organisation requires a platform attestation at enrolment ({}); ask POST /v1/enroll/challenge for a challenge, attest to its nonce and send the result as `attestation`",
                    accepted_formats(verifiers)
                ),
            ));
        }
        (_, Some(attestation)) => attestation,
    };
    let outcome = verify(
        rule,
        verifiers,
        attestation,
        org,
        code_hash,
        public_key,
        now,
    );
    let record = |passed: bool, detail: String| DeviceAttestation {
        format: attestation.format.clone(),
        passed,
        detail,
    };
    match outcome {
        Ok(attested) => Decision::Enrol(Some(record(
            true,
            format!("{}: {}", attested.app_id, attested.summary),
        ))),
        Err((code, message)) if rule.attestation == AttestationRule::Optional => {
            Decision::Enrol(Some(record(false, format!("{code}: {message}"))))
        }
        Err((code, message)) => {
            Decision::Refuse(Failure::new(StatusCode::FORBIDDEN, code, message))
        }
    }
}

/// The formats this server verifies, for a refusal's message.
fn accepted_formats(verifiers: &Verifiers) -> String {
    let formats = verifiers.formats();
    if formats.is_empty() {
        return "but this server verifies no attestation format: its operator must configure \
                --attestation-config"
            .to_string();
    }
    format!("formats: {}", formats.join(", "))
}

/// The enrolment section of the organisation's current policy; the default (`off`) before
/// any policy is published.
pub(crate) fn enrolment_rule(
    inner: &super::state::Inner,
    org_id: &str,
) -> Result<EnrolmentPolicy, Failure> {
    let Some(current) = inner.storage.current_policy(org_id)? else {
        return Ok(EnrolmentPolicy::default());
    };
    match inner.engines.get(&*inner.storage, org_id, current.version) {
        Ok(engine) => Ok(engine.policy().enrolment.clone()),
        Err(crate::policies::EngineError::Storage(e)) => Err(e.into()),
        Err(e) => Err(Failure::internal(e)),
    }
}

fn verify(
    rule: &EnrolmentPolicy,
    verifiers: &Verifiers,
    attestation: &Attestation,
    org: &OrgRow,
    code_hash: &str,
    public_key: &str,
    now: DateTime<Utc>,
) -> Result<daka_attest::Attested, (&'static str, String)> {
    check_challenge(&attestation.challenge, org, code_hash, public_key, now)
        .map_err(|p| (p.code(), p.message().to_string()))?;
    let nonce = attestation_nonce(&attestation.challenge, public_key);
    let expected = Expected {
        nonce: &nonce,
        android_packages: &rule.android_packages,
        ios_app_ids: &rule.ios_app_ids,
        now,
    };
    verifiers
        .verify(&attestation.format, &attestation.token, &expected)
        .map_err(|e: AttestationError| (e.code(), format!("attestation: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn org(id: &str, seed: u8) -> OrgRow {
        OrgRow {
            id: id.into(),
            name: "Harbour Lane".into(),
            signing_seed: Zeroizing::new([seed; 32]),
            public_key: String::new(),
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_challenge_checks_only_for_its_organisation_code_and_key_until_it_expires() {
        let now = at("2026-12-05T03:00:00Z");
        let hl = org("harbour.lane", 1);
        let (challenge, expires) = issue_challenge(&hl, "c0de", "KEY", now).unwrap();
        assert_eq!(expires, now + CHALLENGE_TTL);
        assert_eq!(challenge_parts(&challenge).unwrap().0, "harbour.lane");
        assert_eq!(check_challenge(&challenge, &hl, "c0de", "KEY", now), Ok(()));
        assert_eq!(
            check_challenge(&challenge, &hl, "c0de", "KEY", expires),
            Ok(()),
            "valid up to and including its expiry"
        );
        assert_eq!(
            check_challenge(
                &challenge,
                &hl,
                "c0de",
                "KEY",
                expires + Duration::milliseconds(1)
            ),
            Err(ChallengeProblem::Expired)
        );
        for (org, code, key) in [
            (&org("harbour.lane", 2), "c0de", "KEY"),
            (&org("other", 1), "c0de", "KEY"),
            (&hl, "other", "KEY"),
            (&hl, "c0de", "OTHER"),
        ] {
            assert_eq!(
                check_challenge(&challenge, org, code, key, now),
                Err(ChallengeProblem::NotIssued),
                "{} {code} {key}",
                org.id
            );
        }
    }

    #[test]
    fn garbled_challenges_are_not_issued_ones() {
        let now = at("2026-12-05T03:00:00Z");
        let hl = org("hl", 1);
        let (challenge, _) = issue_challenge(&hl, "c", "K", now).unwrap();
        let (org_id, expires, random, mac) = challenge_parts(&challenge).unwrap();
        let later = (expires.parse::<i64>().unwrap() + 60_000).to_string();
        let tampered = [
            String::new(),
            ".".into(),
            "...".into(),
            "hl.1.2".into(),
            format!("{org_id}.{later}.{random}.{mac}"),
            format!("{org_id}.{expires}.{random}x.{mac}"),
            format!("{org_id}.{expires}.{random}.{mac}A"),
            format!("{org_id}.{expires}.{random}.!!!"),
            format!("{org_id}.-{expires}.{random}.{mac}"),
            format!("{org_id}.{expires}.{random}.{}", &mac[1..]),
            "\u{0}".repeat(512),
        ];
        for bad in tampered {
            assert_eq!(
                check_challenge(&bad, &hl, "c", "K", now),
                Err(ChallengeProblem::NotIssued),
                "{bad:?}"
            );
        }
    }
}
