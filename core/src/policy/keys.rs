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
        if p256::PublicKey::from_sec1_bytes(&sec1[..]).is_err() {
            return Err(path.invalid(v.show(), "x and y are not a point on the P-256 curve"));
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
