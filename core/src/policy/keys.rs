//! Trusted face-matcher keys from JWKs (RFC 7517): Ed25519 (`OKP`, RFC 8037) and P-256 (`EC`).
//!
//! Only what can verify EdDSA and ES256 face-match tokens is accepted. The checks run in order
//! of importance: a private key (`d`) is refused before anything else is looked at, so an
//! administrator who pasted the wrong half learns that first; then `kty` and `crv`, then the
//! members each key type allows, then the key bytes (strict unpadded base64url, exact lengths,
//! and for P-256 a point on the curve), then the optional `alg`, `kid` and `use`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{PolicyError, PolicyErrorKind};
use super::json::{Json, Path};
use super::{PublicKey, TrustedKey};

const OKP_FIELDS: &[&str] = &["kty", "crv", "x", "alg", "kid", "use"];
const EC_FIELDS: &[&str] = &["kty", "crv", "x", "y", "alg", "kid", "use"];
/// Parses the `jwk` member of a `face_matchers` entry whose `kid` is `kid`.
pub(crate) fn parse_jwk(
    v: &Json,
    path: &Path<'_>,
    kid: &str,
    issuer: Option<String>,
) -> Result<TrustedKey, PolicyError> {
    // `d` and `kty` are judged before unknown members, so a private key is named as such and
    // an RSA key says "unsupported key type" rather than "unknown field n".
    if !matches!(v, Json::Obj(_)) {
        return Err(path.err(PolicyErrorKind::WrongType {
            expected: "object",
            found: v.describe(),
        }));
    }
    if v.lenient_field("d").is_some() {
        return Err(path.key("d").err(PolicyErrorKind::PrivateKey));
    }
    let kty_path = path.key("kty");
    let kty_v = v
        .lenient_field("kty")
        .ok_or_else(|| kty_path.err(PolicyErrorKind::Missing))?;
    let kty = kty_v.as_str(&kty_path)?;
    let (fields, crv_expected, alg_expected) = match kty {
        "OKP" => (OKP_FIELDS, "Ed25519", "EdDSA"),
        "EC" => (EC_FIELDS, "P-256", "ES256"),
        _ => {
            return Err(kty_path.invalid(
                kty_v.show(),
                "unsupported key type; face-matcher keys are \"OKP\" (Ed25519) or \"EC\" (P-256)",
            ));
        }
    };
    let crv_path = path.key("crv");
    let crv_v = v
        .lenient_field("crv")
        .ok_or_else(|| crv_path.err(PolicyErrorKind::Missing))?;
    if crv_v.as_str(&crv_path)? != crv_expected {
        return Err(crv_path.invalid(
            crv_v.show(),
            format!("unsupported curve for kty {kty}; expected \"{crv_expected}\""),
        ));
    }
    let obj = v.as_object(path, fields)?;

    let key = if kty == "OKP" {
        PublicKey::Ed25519(coordinate(obj.req(path, "x")?, &path.key("x"))?)
    } else {
        let xp = path.key("x");
        let x = coordinate(obj.req(path, "x")?, &xp)?;
        let yp = path.key("y");
        let y = coordinate(obj.req(path, "y")?, &yp)?;
        let mut sec1 = Box::new([0u8; 65]);
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(&x);
        sec1[33..].copy_from_slice(&y);
        match is_p256_point(&sec1) {
            Ok(true) => {}
            Ok(false) => {
                return Err(path.invalid(v.show(), "x and y are not a point on the P-256 curve"));
            }
            Err(ring::error::Unspecified) => {
                return Err(path.invalid(
                    v.show(),
                    "cannot check that x and y are a point on P-256: the system's random source failed; try again",
                ));
            }
        }
        PublicKey::P256(sec1)
    };

    if let Some(alg_v) = obj.get("alg") {
        let ap = path.key("alg");
        if alg_v.as_str(&ap)? != alg_expected {
            return Err(ap.invalid(
                alg_v.show(),
                format!("a {crv_expected} key verifies only \"{alg_expected}\""),
            ));
        }
    }
    if let Some(kid_v) = obj.get("kid") {
        let kp = path.key("kid");
        if kid_v.as_str(&kp)? != kid {
            return Err(kp.invalid(
                kid_v.show(),
                format!(
                    "differs from the entry's kid {}",
                    Json::Str(kid.into()).show()
                ),
            ));
        }
    }
    if let Some(use_v) = obj.get("use") {
        let up = path.key("use");
        if use_v.as_str(&up)? != "sig" {
            return Err(up.invalid(use_v.show(), "a face-matcher key must be for \"sig\""));
        }
    }
    Ok(TrustedKey {
        kid: kid.to_owned(),
        issuer,
        key,
    })
}

/// A 32-byte key coordinate in unpadded base64url (43 characters).
fn coordinate(v: &Json, path: &Path<'_>) -> Result<[u8; 32], PolicyError> {
    let s = v.as_str(path)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| path.invalid(v.show(), format!("not unpadded base64url: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        path.invalid(
            v.show(),
            format!("decodes to {} bytes, expected 32", bytes.len()),
        )
    })
}

/// Whether `sec1` (`0x04 ‖ x ‖ y`) is a point on P-256: both coordinates below the field prime
/// and `y² = x³ − 3x + b`. The device carries no P-256 arithmetic of its own, so this asks
/// `ring`, whose ECDH validates a peer's public key exactly so before it uses it: an agreement
/// with a throwaway private key succeeds if and only if the point is valid. The answer does not
/// depend on that key; `Err` only if the system's random source fails.
fn is_p256_point(sec1: &[u8; 65]) -> Result<bool, ring::error::Unspecified> {
    use ring::agreement;
    let rng = ring::rand::SystemRandom::new();
    let ours = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)?;
    let theirs = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &sec1[..]);
    Ok(agreement::agree_ephemeral(ours, &theirs, |_| ()).is_ok())
}

#[cfg(test)]
mod tests {
    use super::is_p256_point;

    /// Agrees with the `p256` crate (RustCrypto's implementation, a test-only dependency) on
    /// real keys, keys with one bit of `y` or `x` flipped, coordinates at or above the prime,
    /// and the zero point.
    #[test]
    fn p256_point_check_agrees_with_an_independent_implementation() {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let rng = ring::rand::SystemRandom::new();
        let mut fuzz = fastrand::Rng::with_seed(256);
        let independent = |p: &[u8; 65]| p256::PublicKey::from_sec1_bytes(&p[..]).is_ok();
        let (mut valid, mut cases) = (0, 0);
        for _ in 0..40 {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            let point: [u8; 65] = pair.public_key().as_ref().try_into().unwrap();
            let mut variants = vec![point];
            for _ in 0..4 {
                let mut edited = point;
                edited[fuzz.usize(1..65)] ^= 1 << fuzz.u8(..8);
                variants.push(edited);
            }
            for v in variants {
                let ours = is_p256_point(&v).unwrap();
                assert_eq!(ours, independent(&v), "{v:?}");
                valid += usize::from(ours);
                cases += 1;
            }
        }
        // The field prime p and all-ones as x (both at or above p), and (0, 0).
        let mut at_prime = [0u8; 65];
        at_prime[0] = 4;
        at_prime[1..33].copy_from_slice(&[
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        let mut ones = [0xffu8; 65];
        ones[0] = 4;
        let mut zero = [0u8; 65];
        zero[0] = 4;
        for v in [at_prime, ones, zero] {
            assert!(!is_p256_point(&v).unwrap());
            assert!(!independent(&v));
        }
        // Both answers occurred: real keys pass, most edits fail.
        assert!(valid >= 40 && valid < cases, "{valid} valid of {cases}");
    }
}
