//! The device's Ed25519 keys as the signed envelope uses them: [`SigningKey`], what signs
//! (the device's key, `punch::DeviceSigner`), and [`DeviceVerifier`], a public key decoded once
//! to check many signatures, and the encoding of a signature as the `sig` member.
//!
//! This file imports nothing from the rest of daka, so every signed format can use it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A key that makes pure Ed25519 (RFC 8032) signatures, deterministic for a message.
pub trait SigningKey {
    /// The 64-byte signature of `message`.
    fn sign(&self, message: &[u8]) -> [u8; 64];
}

/// The length of a `sig` member's text: 64 bytes in base64url without padding.
pub(crate) const SIG_LEN: usize = 86;

/// The `sig` member's text for a signature: base64url without padding ([`SIG_LEN`] characters).
pub(crate) fn encode_sig(signature: &[u8; 64]) -> String {
    URL_SAFE_NO_PAD.encode(signature)
}

/// Decodes a `sig` value into the 64 signature bytes.
pub(crate) fn decode_sig(sig: &str) -> Result<[u8; 64], String> {
    if sig.len() != SIG_LEN {
        return Err(format!(
            "{} characters, where a 64-byte signature is 86",
            sig.len()
        ));
    }
    let bytes = URL_SAFE_NO_PAD.decode(sig).map_err(|e| e.to_string())?;
    <[u8; 64]>::try_from(bytes.as_slice()).map_err(|_| format!("{} bytes, not 64", bytes.len()))
}

/// A device's Ed25519 public key, decoded once to check many of its signatures: a push of a
/// few hundred punches, or a punch log, decodes the key once instead of once per record.
///
/// The check is RFC 8032 verification without the cofactor (`[S]B = R + [k]A`, `S`
/// canonical, `R` compared as encoded), which is what `ring` checks too. On a phone it runs on
/// `ring`, which the device links for signing anyway. With the `fast-verify` feature (the
/// server turns it on) it runs on `ed25519-dalek`, whose vectorised field arithmetic verifies
/// about a third faster on x86-64, where every pushed punch is verified; the tests check that
/// the two agree on valid, edited and malformed signatures and keys.
#[derive(Debug, Clone)]
pub struct DeviceVerifier {
    /// `None` when the bytes are not a point on the curve: nothing verifies under them.
    #[cfg(feature = "fast-verify")]
    key: Option<ed25519_dalek::VerifyingKey>,
    #[cfg(not(feature = "fast-verify"))]
    key: [u8; 32],
}

impl DeviceVerifier {
    /// Decodes a public key. Bytes that are not a valid key give a verifier under which no
    /// signature verifies, as a per-record check with them would.
    pub fn new(public_key: &[u8; 32]) -> DeviceVerifier {
        DeviceVerifier {
            #[cfg(feature = "fast-verify")]
            key: ed25519_dalek::VerifyingKey::from_bytes(public_key).ok(),
            #[cfg(not(feature = "fast-verify"))]
            key: *public_key,
        }
    }

    /// `true` if `sig` is a valid signature of `message` under this key.
    pub fn verify(&self, message: &[u8], sig: &[u8; 64]) -> bool {
        #[cfg(feature = "fast-verify")]
        {
            use ed25519_dalek::Verifier as _;
            self.key.as_ref().is_some_and(|key| {
                key.verify(message, &ed25519_dalek::Signature::from_bytes(sig))
                    .is_ok()
            })
        }
        #[cfg(not(feature = "fast-verify"))]
        {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &self.key)
                .verify(message, sig)
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

    /// `true` if `sig` (64 bytes) is a valid Ed25519 signature of `message` under `public_key`:
    /// [`DeviceVerifier::verify`] with a key decoded for this one check.
    fn ed25519_verify(public_key: &[u8; 32], message: &[u8], sig: &[u8; 64]) -> bool {
        DeviceVerifier::new(public_key).verify(message, sig)
    }

    fn ring_verify(public_key: &[u8; 32], message: &[u8], sig: &[u8; 64]) -> bool {
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(message, sig)
            .is_ok()
    }

    /// Adds the group order L to the scalar half of a signature: the same value mod L, but not
    /// canonical, which RFC 8032 verification refuses.
    fn non_canonical_s(sig: &[u8; 64]) -> [u8; 64] {
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut out = *sig;
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(out[32 + i]) + u16::from(L[i]) + carry;
            out[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        out
    }

    #[test]
    fn verification_agrees_with_ring_on_valid_edited_and_malformed_signatures() {
        let mut rng = fastrand::Rng::with_seed(8032);
        // Public keys that are not honest keys: zero, the identity, a small-order point, a
        // non-canonical y, and bytes that are no point at all.
        let mut odd_keys: Vec<[u8; 32]> = vec![[0; 32], [0xff; 32]];
        let mut identity = [0u8; 32];
        identity[0] = 1;
        odd_keys.push(identity);
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        odd_keys.push(minus_one);
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        odd_keys.push(non_canonical);
        let (mut valid, mut cases) = (0, 0);
        for round in 0..100 {
            let seed: [u8; 32] = std::array::from_fn(|_| rng.u8(..));
            let signer = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
            let key: [u8; 32] = signer.public_key().as_ref().try_into().unwrap();
            let message: Vec<u8> = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect();
            let sig: [u8; 64] = signer.sign(&message).as_ref().try_into().unwrap();
            let mut flipped = sig;
            flipped[rng.usize(..64)] ^= 1 << rng.u8(..8);
            let mut edited = message.clone();
            edited.push(b'x');
            let garbage: [u8; 64] = std::array::from_fn(|_| rng.u8(..));
            let other = odd_keys[round % odd_keys.len()];
            // A key decoded once checks like a key decoded for each check.
            let verifier = DeviceVerifier::new(&key);
            assert!(verifier.verify(&message, &sig));
            assert!(!verifier.verify(&message, &flipped));
            assert!(!verifier.verify(&edited, &sig));
            assert!(!verifier.verify(&message, &non_canonical_s(&sig)));
            assert_eq!(
                DeviceVerifier::new(&other).verify(&message, &sig),
                ring_verify(&other, &message, &sig)
            );
            for (k, m, s) in [
                (&key, &message, &sig),
                (&key, &message, &flipped),
                (&key, &edited, &sig),
                (&key, &message, &non_canonical_s(&sig)),
                (&key, &message, &garbage),
                (&other, &message, &sig),
            ] {
                let expected = ring_verify(k, m, s);
                assert_eq!(ed25519_verify(k, m, s), expected, "key {k:?} sig {s:?}");
                valid += usize::from(expected);
                cases += 1;
            }
        }
        // Every honest signature verified, and nothing else did.
        assert_eq!((valid, cases), (100, 600));
    }
}
