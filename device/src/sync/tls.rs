//! Which servers the sync client trusts, and why a TLS handshake was refused.
//!
//! [`TlsOptions`] are the app's choices: extra trusted roots (a company CA), key pins, and
//! whether the operating system's trust store is asked. [`TlsSetup::new`] checks them once,
//! when the device opens, and builds the rustls configuration every client of the device
//! shares. The chain is validated by
//!
//! * default: the WebPKI verifier over the bundled Mozilla roots (`webpki-roots`) plus the
//!   extra roots: the same answer on every phone, whatever its settings;
//! * with `platform_trust_store`: the platform's verifier (`rustls-platform-verifier`:
//!   Security.framework on iOS and macOS, the system store on Linux) with the extra roots
//!   added; when it does not know the issuer, the bundled roots and extra roots are tried as
//!   above, so a phone with a sparse store still reaches a server with a public certificate.
//!   Not available on Android (see docs/protocol.md); asking for it there is an option error.
//!
//! Pins ([`super::pins`]) are checked after the chain validated, never instead.
//! [`TlsFailure::of`] reads the reason back out of an HTTP error, so that a refused
//! certificate is reported as what it is instead of "offline".

use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::pins::{PinMismatch, PinSet, parse_pin};

/// The app's TLS choices; the default trusts the bundled public roots only, with no pins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// More roots to trust, each PEM (one or more `CERTIFICATE` blocks) or DER: typically
    /// the company's CA, for a server whose certificate it issued.
    pub extra_roots: Vec<Vec<u8>>,
    /// SHA-256 pins of SubjectPublicKeyInfos, base64 (optionally `sha256/`-prefixed); when
    /// any is given, a server is accepted only if one matches a key of its verified chain
    /// (see [`super::pins`]). Pin at least two keys, so that one can be replaced.
    pub pins: Vec<String>,
    /// Ask the operating system's trust store too (company CAs installed by device
    /// management). Off by default; not available on Android.
    pub platform_trust_store: bool,
}

/// Which of the [`TlsOptions`] is wrong, for the device's option error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsSetting {
    /// [`TlsOptions::extra_roots`].
    ExtraRoots,
    /// [`TlsOptions::pins`].
    Pins,
    /// [`TlsOptions::platform_trust_store`].
    PlatformTrustStore,
}

/// A TLS option that cannot be used; the device turns it into its option error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (got {value})")]
pub struct TlsOptionError {
    /// Which option.
    pub setting: TlsSetting,
    /// The entry, by index, with its size or its text.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a server's certificate was refused: a stable code ([`TlsFailure::code`]) an app can
/// branch on, and the reason in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// No trusted root issued the server's certificate (a company CA not added, a
    /// self-signed certificate, or something on the network intercepting).
    UnknownIssuer,
    /// The certificate has expired (or the phone's clock is far ahead).
    Expired,
    /// The certificate is not valid yet (or the phone's clock is far behind).
    NotYetValid,
    /// The certificate is for another host name.
    NameMismatch,
    /// The certificate was revoked.
    Revoked,
    /// The chain validated but holds no pinned key.
    PinMismatch,
    /// The certificate is malformed or unusable (bad encoding, wrong purpose, bad signature).
    BadCertificate,
    /// The handshake failed otherwise (no common protocol version or cipher suite).
    Handshake,
}

impl TlsFailure {
    /// The stable code: `unknown_issuer`, `expired`, `not_yet_valid`, `name_mismatch`,
    /// `revoked`, `pin_mismatch`, `bad_certificate` or `handshake`.
    pub fn code(self) -> &'static str {
        match self {
            TlsFailure::UnknownIssuer => "unknown_issuer",
            TlsFailure::Expired => "expired",
            TlsFailure::NotYetValid => "not_yet_valid",
            TlsFailure::NameMismatch => "name_mismatch",
            TlsFailure::Revoked => "revoked",
            TlsFailure::PinMismatch => "pin_mismatch",
            TlsFailure::BadCertificate => "bad_certificate",
            TlsFailure::Handshake => "handshake",
        }
    }

    /// The TLS failure inside an HTTP client's error, if there is one, with the detail.
    ///
    /// A reply that is not TLS at all (a captive portal answering in plain HTTP, a cut
    /// connection) is not a TLS failure: the caller treats it as the network's.
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Option<(TlsFailure, String)> {
        if let Some(r) = error.downcast_ref::<rustls::Error>() {
            return Self::of_rustls(r).map(|f| (f, r.to_string()));
        }
        // `io::Error::source` skips the error it wraps (and the HTTP stack nests them):
        // look inside by hand.
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(found) = Self::of(inner)
        {
            return Some(found);
        }
        error.source().and_then(Self::of)
    }

    fn of_rustls(e: &rustls::Error) -> Option<TlsFailure> {
        use CertificateError as C;
        Some(match e {
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer => TlsFailure::UnknownIssuer,
                C::Expired | C::ExpiredContext { .. } => TlsFailure::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => TlsFailure::NotYetValid,
                C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::NameMismatch,
                C::Revoked => TlsFailure::Revoked,
                C::Other(o) if o.0.downcast_ref::<PinMismatch>().is_some() => {
                    TlsFailure::PinMismatch
                }
                _ => TlsFailure::BadCertificate,
            },
            rustls::Error::PeerIncompatible(_) | rustls::Error::NoCertificatesPresented => {
                TlsFailure::Handshake
            }
            // Garbage instead of TLS records, alerts and cut connections: the network's.
            _ => return None,
        })
    }
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsFailure::UnknownIssuer => "the server's certificate is not issued by a trusted root",
            TlsFailure::Expired => "the server's certificate has expired",
            TlsFailure::NotYetValid => "the server's certificate is not valid yet",
            TlsFailure::NameMismatch => "the server's certificate is for another host name",
            TlsFailure::Revoked => "the server's certificate was revoked",
            TlsFailure::PinMismatch => "the server's key matches none of the configured pins",
            TlsFailure::BadCertificate => "the server's certificate is unusable",
            TlsFailure::Handshake => "the TLS handshake failed",
        })
    }
}

/// The checked [`TlsOptions`], ready for clients: cheap to clone.
#[derive(Clone)]
pub struct TlsSetup {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup").finish_non_exhaustive()
    }
}

impl TlsSetup {
    /// Checks the options and builds the configuration (see the module documentation).
    pub fn new(options: &TlsOptions) -> Result<TlsSetup, TlsOptionError> {
        let extra = parse_roots(&options.extra_roots)?;
        let pins = options
            .pins
            .iter()
            .enumerate()
            .map(|(i, p)| {
                parse_pin(p).map_err(|reason| TlsOptionError {
                    setting: TlsSetting::Pins,
                    value: format!("[{i}] {:?}", shorten(p)),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut extra_anchors = Vec::new();
        for der in &extra {
            // Parsed in `parse_roots` already; this cannot fail.
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(der) {
                extra_anchors.push(anchor.to_owned());
            }
        }
        roots.roots.extend(extra_anchors.iter().cloned());
        let pin_set = PinSet::new(pins, &roots.roots);
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsOptionError {
                setting: TlsSetting::ExtraRoots,
                value: format!("{} roots", extra.len()),
                reason: e.to_string(),
            })?;
        let (primary, fallback): (Arc<dyn ServerCertVerifier>, _) = if options.platform_trust_store
        {
            (platform_verifier(extra, provider.clone())?, Some(webpki))
        } else {
            (webpki, None)
        };
        let verifier = DakaVerifier {
            primary,
            fallback: fallback.map(|f| f as Arc<dyn ServerCertVerifier>),
            pins: pin_set,
            provider: provider.clone(),
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsOptionError {
                setting: TlsSetting::PlatformTrustStore,
                value: "protocol versions".into(),
                reason: e.to_string(),
            })?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(TlsSetup {
            config: Arc::new(config),
        })
    }

    /// The default setup (bundled roots, no pins), built once per process.
    pub fn bundled() -> TlsSetup {
        static BUNDLED: OnceLock<TlsSetup> = OnceLock::new();
        BUNDLED
            .get_or_init(|| {
                // The default options hold nothing that can be refused.
                TlsSetup::new(&TlsOptions::default())
                    .unwrap_or_else(|e| unreachable!("the default TLS options are refused: {e}"))
            })
            .clone()
    }

    /// A copy of the rustls configuration, for an HTTP client.
    pub(crate) fn rustls_config(&self) -> rustls::ClientConfig {
        (*self.config).clone()
    }
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Reads every extra root: PEM with one or more certificates, or one DER certificate.
fn parse_roots(roots: &[Vec<u8>]) -> Result<Vec<CertificateDer<'static>>, TlsOptionError> {
    let mut out = Vec::new();
    for (i, bytes) in roots.iter().enumerate() {
        let fail = |reason: String| TlsOptionError {
            setting: TlsSetting::ExtraRoots,
            value: format!("[{i}] {} bytes", bytes.len()),
            reason,
        };
        let trimmed = bytes.trim_ascii_start();
        let certs: Vec<CertificateDer<'static>> = if trimmed.starts_with(b"-----BEGIN") {
            let certs = CertificateDer::pem_slice_iter(trimmed)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("the PEM does not read: {e}")))?;
            if certs.is_empty() {
                return Err(fail("the PEM holds no CERTIFICATE block".into()));
            }
            certs
        } else {
            vec![CertificateDer::from(bytes.clone())]
        };
        for (n, cert) in certs.iter().enumerate() {
            webpki::anchor_from_trusted_cert(cert).map_err(|e| {
                fail(format!(
                    "certificate {} is not an X.509 certificate (PEM or DER): {e:?}",
                    n + 1
                ))
            })?;
        }
        out.extend(certs);
    }
    Ok(out)
}

#[cfg(not(target_os = "android"))]
fn platform_verifier(
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsOptionError> {
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
        .map_err(|e| TlsOptionError {
            setting: TlsSetting::PlatformTrustStore,
            value: "true".into(),
            reason: format!("the platform's trust store cannot be used: {e}"),
        })?;
    Ok(Arc::new(verifier))
}

#[cfg(target_os = "android")]
fn platform_verifier(
    _extra: Vec<CertificateDer<'static>>,
    _provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsOptionError> {
    Err(TlsOptionError {
        setting: TlsSetting::PlatformTrustStore,
        value: "true".into(),
        reason: "not available on Android; add the company CA as an extra root".into(),
    })
}

/// Validation by the primary verifier (with the fallback for an unknown issuer), then pins.
#[derive(Debug)]
struct DakaVerifier {
    primary: Arc<dyn ServerCertVerifier>,
    fallback: Option<Arc<dyn ServerCertVerifier>>,
    pins: PinSet,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for DakaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verify = |v: &Arc<dyn ServerCertVerifier>| {
            v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        };
        let verified = match (verify(&self.primary), &self.fallback) {
            (
                Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
                Some(fallback),
            ) => verify(fallback)?,
            (result, _) => result?,
        };
        if !self.pins.is_empty() {
            self.pins.check(
                end_entity,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.primary.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.primary.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.primary.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(options: TlsOptions) -> TlsOptionError {
        TlsSetup::new(&options).unwrap_err()
    }

    #[test]
    fn defaults_build_and_bad_roots_and_pins_name_the_entry() {
        TlsSetup::new(&TlsOptions::default()).unwrap();
        let e = refused(TlsOptions {
            extra_roots: vec![b"hello".to_vec()],
            ..TlsOptions::default()
        });
        assert_eq!(e.setting, TlsSetting::ExtraRoots);
        assert_eq!(e.value, "[0] 5 bytes");
        assert!(e.reason.contains("not an X.509 certificate"), "{e}");
        let e = refused(TlsOptions {
            extra_roots: vec![
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec(),
            ],
            ..TlsOptions::default()
        });
        assert!(e.reason.contains("no CERTIFICATE block"), "{e}");
        let e = refused(TlsOptions {
            pins: vec!["sha256/AAAA".into()],
            ..TlsOptions::default()
        });
        assert_eq!(e.setting, TlsSetting::Pins);
        assert!(
            e.value.starts_with("[0]") && e.reason.contains("32 bytes"),
            "{e}"
        );
    }

    #[test]
    fn failures_have_stable_codes() {
        let all = [
            TlsFailure::UnknownIssuer,
            TlsFailure::Expired,
            TlsFailure::NotYetValid,
            TlsFailure::NameMismatch,
            TlsFailure::Revoked,
            TlsFailure::PinMismatch,
            TlsFailure::BadCertificate,
            TlsFailure::Handshake,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|f| f.code()).collect();
        assert_eq!(codes.len(), all.len());
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        assert_eq!(TlsFailure::of(&io).map(|f| f.0), Some(TlsFailure::Expired));
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert_eq!(
            TlsFailure::of(&io),
            None,
            "garbage on the wire is the network's"
        );
    }
}
