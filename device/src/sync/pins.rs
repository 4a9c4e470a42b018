//! Certificate pins: SHA-256 hashes of a SubjectPublicKeyInfo, and the check that a server's
//! verified chain contains a pinned key.
//!
//! A pin is checked *after* the chain was validated (by the WebPKI verifier or the
//! platform's), never instead of it. It matches when it is the hash of:
//!
//! * the server's own certificate's key, or
//! * the key of a CA certificate the server sent, or of a trusted root (the bundled roots and
//!   the app's extra roots), that issued the server's certificate, directly or through the
//!   other certificates the server sent: checked by verifying the signatures from the server's
//!   certificate up to that key.
//!
//! A certificate the server merely sends along is not enough: a mis-issued certificate with a
//! copy of the real intermediate appended does not match the intermediate's pin, because the
//! intermediate's key did not sign it. Roots known only to the platform's trust store cannot
//! be pinned (their keys are not visible here); pin an intermediate or the server's key.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use rustls::{CertificateError, OtherError};

/// A pin as given: `sha256/<base64>` or `<base64>` (standard alphabet, padding optional) of
/// the SHA-256 of a DER SubjectPublicKeyInfo; `openssl x509 -pubkey -noout | openssl pkey
/// -pubin -outform der | openssl dgst -sha256 -binary | base64` prints one.
pub(crate) fn parse_pin(text: &str) -> Result<[u8; 32], String> {
    let b64 = text.trim();
    let b64 = b64.strip_prefix("sha256/").unwrap_or(b64);
    let bytes = STANDARD
        .decode(b64)
        .or_else(|_| STANDARD_NO_PAD.decode(b64))
        .map_err(|e| format!("not base64 ({e})"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "a SHA-256 pin is 32 bytes, this one decodes to {}",
            bytes.len()
        )
    })
}

/// The pin of a trust anchor's key: SHA-256 of its DER SubjectPublicKeyInfo.
pub(crate) fn anchor_pin(anchor: &TrustAnchor<'_>) -> [u8; 32] {
    let spki = webpki::spki_for_anchor(anchor);
    let digest = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
    let mut pin = [0u8; 32];
    pin.copy_from_slice(digest.as_ref());
    pin
}

/// The pin of a certificate's key, or `None` if the certificate does not parse.
pub(crate) fn cert_pin(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    webpki::anchor_from_trusted_cert(cert)
        .ok()
        .map(|a| anchor_pin(&a))
}

/// The server's chain holds no pinned key: the handshake is refused with this as the
/// certificate error (found again by [`super::tls::TlsFailure::of`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no key of the server's verified chain matches a configured pin (server key {server_pin})")]
pub(crate) struct PinMismatch {
    /// The pin of the server's own key, base64, for the log and the administrator.
    pub(crate) server_pin: String,
}

/// The pins and the trusted roots whose keys are pinned.
#[derive(Debug)]
pub(crate) struct PinSet {
    pins: Vec<[u8; 32]>,
    /// Trusted roots (bundled or extra) whose key is one of `pins`.
    pinned_roots: Vec<TrustAnchor<'static>>,
}

impl PinSet {
    /// `roots` are every trusted root known here; only the pinned ones are kept.
    pub(crate) fn new(pins: Vec<[u8; 32]>, roots: &[TrustAnchor<'static>]) -> PinSet {
        let pinned_roots = roots
            .iter()
            .filter(|r| pins.contains(&anchor_pin(r)))
            .cloned()
            .collect();
        PinSet { pins, pinned_roots }
    }

    /// Whether no pin was configured (the check always passes).
    pub(crate) fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// Checks a chain that already passed validation (see the module documentation).
    pub(crate) fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        algorithms: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm],
    ) -> Result<(), rustls::Error> {
        let server_pin = cert_pin(end_entity);
        if server_pin.is_some_and(|p| self.pins.contains(&p)) {
            return Ok(());
        }
        let leaf = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let sent: Vec<TrustAnchor<'_>> = intermediates
            .iter()
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
            .filter(|a| self.pins.contains(&anchor_pin(a)))
            .collect();
        for anchor in sent.iter().chain(self.pinned_roots.iter()) {
            let signed_by_pinned_key = leaf
                .verify_for_usage(
                    algorithms,
                    std::slice::from_ref(anchor),
                    intermediates,
                    now,
                    webpki::KeyUsage::server_auth(),
                    None,
                    None,
                )
                .is_ok();
            if signed_by_pinned_key {
                return Ok(());
            }
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(std::sync::Arc::new(PinMismatch {
                server_pin: server_pin.map(|p| STANDARD.encode(p)).unwrap_or_default(),
            })),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_in_both_spellings_and_bad_ones_say_why() {
        let pin = STANDARD.encode([7u8; 32]);
        assert_eq!(parse_pin(&pin).unwrap(), [7u8; 32]);
        assert_eq!(parse_pin(&format!("sha256/{pin}")).unwrap(), [7u8; 32]);
        assert_eq!(
            parse_pin(pin.trim_end_matches('=')).unwrap(),
            [7u8; 32],
            "padding is optional"
        );
        assert!(parse_pin("not base64!").unwrap_err().contains("not base64"));
        let short = STANDARD.encode([1u8; 20]);
        assert!(parse_pin(&short).unwrap_err().contains("decodes to 20"));
        assert!(parse_pin("").unwrap_err().contains("decodes to 0"));
    }
}
