//! The server's small amount of cryptography, all through ring: random secrets, SHA-256 of
//! secrets and bodies, new organisation keys and checking device signatures. Signing a policy
//! bundle with the organisation key is the protocol's, in `daka_core::protocol::policy_bundle`,
//! beside the device's check of it.
//!
//! Bearer tokens and enrolment codes are random (256 and 80 bits) and stored only as their
//! SHA-256: a leaked database does not hand out working tokens, and because the secrets are
//! random and long, a plain hash needs no salt or stretching.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use daka_core::protocol::policy_bundle;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, UnparsedPublicKey};
use zeroize::Zeroizing;

/// The system random source failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomFailed;

/// `n` random bytes.
fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, RandomFailed> {
    let mut bytes = Zeroizing::new([0u8; N]);
    SystemRandom::new()
        .fill(&mut bytes[..])
        .map_err(|_| RandomFailed)?;
    Ok(bytes)
}

/// A new bearer token: 256 random bits, base64url (43 characters).
pub fn new_token() -> Result<String, RandomFailed> {
    Ok(URL_SAFE_NO_PAD.encode(&random::<32>()?[..]))
}

/// A new enrolment code: 80 random bits in Crockford base32, grouped for reading aloud
/// (`7Q4M-X2KD-9HBA-R3TW`).
pub fn new_enrollment_code() -> Result<String, RandomFailed> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bytes = random::<10>()?;
    let mut bits: u128 = 0;
    for b in bytes.iter() {
        bits = (bits << 8) | u128::from(*b);
    }
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let shift = 75 - 5 * i;
        out.push(char::from(ALPHABET[((bits >> shift) & 31) as usize]));
    }
    Ok(out)
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored form of a secret (token, admin token, enrolment code).
pub fn secret_hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// The stored form of an enrolment code: case, spaces and dashes do not matter, so a code
/// read over the phone still works.
pub fn code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect();
    secret_hash(&normal)
}

/// A new organisation key: its seed and base64url public key.
pub fn new_org_key() -> Result<(Zeroizing<[u8; 32]>, String), RandomFailed> {
    let seed = random::<32>()?;
    let public = policy_bundle::org_public_key(&seed).map_err(|_| RandomFailed)?;
    Ok((seed, public))
}

/// The organisation's **decision key**: the Ed25519 key the server signs decisions made on the
/// web console with. It is derived from the organisation key's seed (the one that signs policy
/// bundles, `org.signing_seed`) with HKDF-SHA256 (RFC 5869; salt `daka decision key`, info
/// `v1`), so it needs no storage of its own, never leaves the server, and is not the policy
/// key itself: a signature under one is never valid under the other.
pub struct DecisionKey(ring::signature::Ed25519KeyPair);

/// HKDF output length for [`DecisionKey::derive`].
struct SeedLen;

impl ring::hkdf::KeyType for SeedLen {
    fn len(&self) -> usize {
        32
    }
}

impl DecisionKey {
    /// The decision key of the organisation whose policy key has this seed.
    pub fn derive(org_seed: &[u8; 32]) -> Result<DecisionKey, RandomFailed> {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"daka decision key");
        let info: &[&[u8]] = &[b"v1"];
        let mut seed = Zeroizing::new([0u8; 32]);
        salt.extract(org_seed)
            .expand(info, SeedLen)
            .and_then(|okm| okm.fill(&mut seed[..]))
            .map_err(|_| RandomFailed)?;
        ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed[..])
            .map(DecisionKey)
            .map_err(|_| RandomFailed)
    }

    /// The public key, base64url (43 characters).
    pub fn public_key(&self) -> String {
        use ring::signature::KeyPair as _;
        URL_SAFE_NO_PAD.encode(self.0.public_key().as_ref())
    }
}

impl daka_core::signed::SigningKey for DecisionKey {
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.0.sign(message).as_ref());
        out
    }
}

/// Decodes a base64url Ed25519 public key.
pub fn decode_public_key(text: &str) -> Option<[u8; 32]> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

/// Whether `signature_b64` is a valid Ed25519 signature of `message` by `public_key`.
pub fn verify(public_key: &[u8; 32], message: &[u8], signature_b64: &str) -> bool {
    let Ok(sig) = URL_SAFE_NO_PAD.decode(signature_b64) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, &sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_codes_are_random_and_well_formed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        let code = new_enrollment_code().unwrap();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(
            code_hash(&code),
            code_hash(&code.to_lowercase().replace('-', " "))
        );
    }

    #[test]
    fn policy_signatures_verify_with_the_public_key() {
        let (seed, public) = new_org_key().unwrap();
        let sig = policy_bundle::sign(&seed, "{\"version\":1}").unwrap();
        let key = decode_public_key(&public).unwrap();
        assert!(verify(&key, b"{\"version\":1}", &sig));
        assert!(!verify(&key, b"{\"version\":2}", &sig));
        assert!(!verify(&key, b"{\"version\":1}", "not base64!"));
    }

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
