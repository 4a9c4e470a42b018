//! The organisation's signature over a policy bundle (`GET /v1/policy`): the server signs each
//! published policy document with the organisation's Ed25519 key, and the device checks it
//! with the public key it received at enrolment before it installs the policy. Both ends live
//! here so that what is signed (the document's UTF-8 bytes, exactly as served) and how
//! (Ed25519 through ring, base64url without padding) cannot drift apart.
//!
//! Generating the key is the server's business (it needs a random source); this module only
//! derives the public key from the 32-byte seed, signs and verifies.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

/// The organisation's seed was refused as an Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyKeyError(String);

/// Why a policy bundle's signature does not check out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicySignatureError {
    /// The organisation key the device holds is not base64url.
    #[error("the organisation key is not base64url")]
    KeyNotBase64,
    /// The bundle's signature is not base64url.
    #[error("the signature is not base64url")]
    SignatureNotBase64,
    /// The signature is not the organisation key's over this document.
    #[error("the signature does not match the organisation key")]
    Mismatch,
}

fn key_pair(seed: &[u8; 32]) -> Result<Ed25519KeyPair, PolicyKeyError> {
    Ed25519KeyPair::from_seed_unchecked(seed).map_err(|e| PolicyKeyError(e.to_string()))
}

/// The base64url public key of an organisation seed, as devices receive it at enrolment.
pub fn org_public_key(seed: &[u8; 32]) -> Result<String, PolicyKeyError> {
    Ok(URL_SAFE_NO_PAD.encode(key_pair(seed)?.public_key().as_ref()))
}

/// Signs a policy document (its UTF-8 bytes) with the organisation key; base64url.
pub fn sign(seed: &[u8; 32], document: &str) -> Result<String, PolicyKeyError> {
    Ok(URL_SAFE_NO_PAD.encode(key_pair(seed)?.sign(document.as_bytes()).as_ref()))
}

/// Checks the organisation's signature (base64url) over a policy document, with the
/// organisation's public key (base64url).
pub fn verify(
    org_key_b64: &str,
    document: &str,
    signature_b64: &str,
) -> Result<(), PolicySignatureError> {
    let key = URL_SAFE_NO_PAD
        .decode(org_key_b64)
        .map_err(|_| PolicySignatureError::KeyNotBase64)?;
    let sig = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| PolicySignatureError::SignatureNotBase64)?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(document.as_bytes(), &sig)
        .map_err(|_| PolicySignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7; 32];

    #[test]
    fn a_signed_document_verifies_with_the_public_key_only() {
        let public = org_public_key(&SEED).unwrap();
        let sig = sign(&SEED, "{\"version\":1}").unwrap();
        assert_eq!(verify(&public, "{\"version\":1}", &sig), Ok(()));
        assert_eq!(
            verify(&public, "{\"version\":2}", &sig),
            Err(PolicySignatureError::Mismatch)
        );
        let other = org_public_key(&[8; 32]).unwrap();
        assert_eq!(
            verify(&other, "{\"version\":1}", &sig),
            Err(PolicySignatureError::Mismatch)
        );
        assert_eq!(
            verify(&public, "{\"version\":1}", "not base64!"),
            Err(PolicySignatureError::SignatureNotBase64)
        );
        assert_eq!(
            verify("not base64!", "{\"version\":1}", &sig),
            Err(PolicySignatureError::KeyNotBase64)
        );
    }

    /// Ed25519 signatures are deterministic: a pinned signature catches any change of what
    /// is signed or how it is encoded.
    #[test]
    fn signatures_are_deterministic_base64url() {
        let a = sign(&SEED, "policy").unwrap();
        assert_eq!(a, sign(&SEED, "policy").unwrap());
        assert_eq!(a.len(), 86, "64 bytes, base64url without padding");
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(org_public_key(&SEED).unwrap().len(), 43);
    }
}
