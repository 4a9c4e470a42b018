//! TLS to the PostgreSQL database: what a connection string's `sslmode`, `sslrootcert` and
//! `sslsni` mean in this server, the rustls configuration they build, and why a handshake was
//! refused.
//!
//! The connector is `tokio-postgres-rustls` (the rustls `MakeTlsConnect` of the
//! `tokio-postgres` ecosystem, which also gives SCRAM channel binding), over the workspace's
//! rustls with its ring provider; the system's trust store is read with
//! `rustls-native-certs`. The modes follow libpq's:
//!
//! | `sslmode` | TLS | the certificate |
//! |-----------|-----|-----------------|
//! | `disable` | never | - |
//! | `prefer` (the default) | if the server offers it, else plain | not checked, unless `sslrootcert` is given (then its chain, as `verify-ca`) |
//! | `require` | always | not checked, unless `sslrootcert` is given (then its chain, as `verify-ca`) |
//! | `verify-ca` | always | chain to `sslrootcert=PATH` (required) |
//! | `verify-full` | always | chain to `sslrootcert=PATH`, or to the system's roots without it (or with `sslrootcert=system`); and the host name (or IP address) of the URL among the certificate's names |
//!
//! `allow` (plain first, TLS if the server insists) is refused: the `postgres` crate cannot
//! try plain first. `verify-ca` over the system's roots is refused as libpq refuses it: any
//! public certificate of any name would pass. Whatever the mode, a TLS session's handshake
//! signatures are checked against the certificate presented, and the ALPN protocol
//! `postgresql` is offered (as libpq 17 does, for `sslnegotiation=direct`).

use std::sync::Arc;

use r2d2_postgres::postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conninfo::TlsParams;

/// The connector every connection of a storage uses (for `sslmode=disable` it is never asked).
pub type Connector = MakeRustlsConnect;

/// Why a connection string's TLS settings cannot be used: each names the parameter and the
/// value it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DbTlsError {
    /// A libpq parameter this server does not implement.
    #[error("{name}={value} is not supported: {reason}")]
    Unsupported {
        /// The parameter.
        name: String,
        /// Its value.
        value: String,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// A value the parameter does not take.
    #[error("{name}={value} is not valid: expected {expected}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// Its value.
        value: String,
        /// The values it takes.
        expected: &'static str,
    },
    /// `sslrootcert` names a file that cannot be read or holds no usable certificate.
    #[error("sslrootcert={path}: {reason}")]
    RootCert {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `sslmode` too weak for the system's roots (as in libpq): over roots that trust every
    /// public CA, only a check of the name means anything.
    #[error(
        "sslmode={sslmode} with {roots}: a chain to a public root proves nothing without the \
         name; use sslmode=verify-full, or give sslrootcert=PATH of the database's CA"
    )]
    WeakModeForSystemRoots {
        /// The mode given.
        sslmode: String,
        /// How the system's roots were asked for (`sslrootcert=system`, or no `sslrootcert`).
        roots: &'static str,
    },
    /// The system's trust store has no certificate to trust.
    #[error(
        "sslmode=verify-full without sslrootcert trusts the system's certificates, and none \
         could be read{detail}; install the CA certificates, or give sslrootcert=PATH"
    )]
    NoSystemRoots {
        /// What the store reported, if anything (`": …"`).
        detail: String,
    },
    /// rustls refused the configuration (no protocol version in common with the provider).
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The `sslmode` values, as libpq spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it; the certificate is not checked (without `sslrootcert`).
    Prefer,
    /// TLS or no connection; the certificate is not checked (without `sslrootcert`).
    Require,
    /// TLS, the certificate's chain checked against `sslrootcert`.
    VerifyCa,
    /// TLS, the chain checked and the host's name among the certificate's.
    VerifyFull,
}

impl TlsMode {
    /// Reads an `sslmode` value.
    fn parse(value: &str) -> Result<TlsMode, DbTlsError> {
        match value {
            "disable" => Ok(TlsMode::Disable),
            "prefer" => Ok(TlsMode::Prefer),
            "require" => Ok(TlsMode::Require),
            "verify-ca" => Ok(TlsMode::VerifyCa),
            "verify-full" => Ok(TlsMode::VerifyFull),
            "allow" => Err(DbTlsError::Unsupported {
                name: "sslmode".into(),
                value: value.into(),
                reason: "plain first, then TLS, cannot be done by this server's client; \
                         use sslmode=prefer or a stronger mode",
            }),
            _ => Err(DbTlsError::InvalidValue {
                name: "sslmode".into(),
                value: value.into(),
                expected: "disable, prefer, require, verify-ca or verify-full",
            }),
        }
    }

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    /// What the `postgres` crate does with the socket: the verification is the connector's.
    pub(crate) fn ssl_mode(self) -> SslMode {
        match self {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        }
    }
}

/// Which roots a certificate's chain must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    /// The chain is not checked.
    None,
    /// The certificates of a PEM file.
    File(String),
    /// The system's trust store; `explicit` when asked for with `sslrootcert=system`.
    System {
        /// Whether `sslrootcert=system` asked for it.
        explicit: bool,
    },
}

/// The TLS settings of one connection string, checked.
#[derive(Debug, Clone)]
pub struct DbTls {
    /// The mode.
    pub mode: TlsMode,
    roots: Roots,
    check_name: bool,
    sni: bool,
}

impl DbTls {
    /// Checks the TLS parameters taken out of a connection string.
    pub(crate) fn from_params(params: &TlsParams) -> Result<DbTls, DbTlsError> {
        let mode = match params.sslmode.as_deref() {
            None => TlsMode::Prefer,
            Some(v) => TlsMode::parse(v)?,
        };
        let sni = match params.sslsni.as_deref() {
            None | Some("1") => true,
            Some("0") => false,
            Some(v) => {
                return Err(DbTlsError::InvalidValue {
                    name: "sslsni".into(),
                    value: v.into(),
                    expected: "1 or 0",
                });
            }
        };
        let roots = match params.sslrootcert.as_deref() {
            Some("") => {
                return Err(DbTlsError::InvalidValue {
                    name: "sslrootcert".into(),
                    value: String::new(),
                    expected: "the path of a PEM file, or system",
                });
            }
            Some("system") => Roots::System { explicit: true },
            Some(path) => Roots::File(path.to_owned()),
            None if mode == TlsMode::VerifyFull || mode == TlsMode::VerifyCa => {
                Roots::System { explicit: false }
            }
            None => Roots::None,
        };
        if let Roots::System { explicit } = roots
            && mode != TlsMode::VerifyFull
            && mode != TlsMode::Disable
        {
            return Err(DbTlsError::WeakModeForSystemRoots {
                sslmode: mode.as_str().into(),
                roots: if explicit {
                    "sslrootcert=system"
                } else {
                    "no sslrootcert (the system's roots)"
                },
            });
        }
        Ok(DbTls {
            mode,
            roots,
            check_name: mode == TlsMode::VerifyFull,
            sni,
        })
    }

    /// What is checked, in words, for logs: `"verify-full: chain to /etc/ca.pem, name"`.
    pub fn describe(&self) -> String {
        let chain = match &self.roots {
            Roots::None => "certificate not checked".to_owned(),
            Roots::File(path) => format!("chain to {path}"),
            Roots::System { .. } => "chain to the system's roots".to_owned(),
        };
        match self.mode {
            TlsMode::Disable => "disable: no TLS".into(),
            _ if self.check_name => format!("{}: {chain}, host name", self.mode.as_str()),
            _ => format!("{}: {chain}", self.mode.as_str()),
        }
    }

    /// The connector: reads the roots (the `sslrootcert` file, or the system's store) now,
    /// so that a missing or empty file is reported at start rather than at each connection.
    pub fn connector(&self) -> Result<Connector, DbTlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match (&self.roots, self.mode) {
            (_, TlsMode::Disable) | (Roots::None, _) => None,
            (Roots::File(path), _) => Some(Arc::new(roots_from_file(path)?)),
            (Roots::System { .. }, _) => Some(Arc::new(system_roots()?)),
        };
        let verifier = Arc::new(DbVerifier {
            roots,
            check_name: self.check_name,
            provider: provider.clone(),
        });
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| DbTlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        config.enable_sni = self.sni;
        Ok(MakeRustlsConnect::new(config))
    }
}

/// The certificates of a PEM file, as trust anchors.
fn roots_from_file(path: &str) -> Result<RootCertStore, DbTlsError> {
    let err = |reason: String| DbTlsError::RootCert {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| err(format!("cannot be read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(err("holds no CERTIFICATE block".into()));
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(err(format!(
            "none of its {ignored} certificate(s) can be used as a trust anchor"
        )));
    }
    Ok(roots)
}

/// The system's trust store.
fn system_roots() -> Result<RootCertStore, DbTlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let detail = found
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(DbTlsError::NoSystemRoots { detail });
    }
    Ok(roots)
}

/// The certificate check of one [`DbTls`]: the chain to `roots` (when there are any), then the
/// name (for `verify-full`); handshake signatures always.
#[derive(Debug)]
struct DbVerifier {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for DbVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.check_name {
            verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// An error and its causes, joined with `": "`: for a PostgreSQL error, the client's kind
/// ("db error") with what the database said (`FATAL: database "daka" does not exist`), which
/// the error's `Display` alone leaves out; for a connection, past the `postgres` crate's own
/// "error performing TLS handshake".
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let more = cause.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = cause.source();
    }
    text
}

/// The rustls error behind a failed connection, if a TLS handshake failed.
fn rustls_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(cause) = next {
        if let Some(r) = cause.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        next = cause.source();
    }
    None
}

/// When a connection failed because the database's certificate was refused: what to look at,
/// in words (`None` for any other failure, which may pass).
pub(crate) fn refused_certificate(
    e: &(dyn std::error::Error + 'static),
    tls: &DbTls,
) -> Option<String> {
    let rustls::Error::InvalidCertificate(why) = rustls_cause(e)? else {
        return None;
    };
    let roots = match &tls.roots {
        Roots::File(path) => format!("sslrootcert={path}"),
        _ => "the system's roots".into(),
    };
    let hint = match why {
        CertificateError::UnknownIssuer => format!(
            "the database's certificate is not issued by a CA of {roots} (sslmode={})",
            tls.mode.as_str()
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "the database's certificate is not valid for the host of the URL (sslmode=verify-full \
             checks the name: connect by a name the certificate holds)"
                .to_owned()
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => {
            "the database's certificate is outside its validity period (or this clock is wrong)"
                .to_owned()
        }
        _ => "the database's certificate was refused".to_owned(),
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(sslmode: Option<&str>, sslrootcert: Option<&str>) -> Result<DbTls, DbTlsError> {
        DbTls::from_params(&TlsParams {
            sslmode: sslmode.map(Into::into),
            sslrootcert: sslrootcert.map(Into::into),
            sslsni: None,
        })
    }

    #[test]
    fn each_mode_checks_what_libpq_checks() {
        let cases = [
            (None, None, "prefer: certificate not checked"),
            (Some("disable"), None, "disable: no TLS"),
            (Some("require"), None, "require: certificate not checked"),
            (
                Some("require"),
                Some("/ca.pem"),
                "require: chain to /ca.pem",
            ),
            (Some("prefer"), Some("/ca.pem"), "prefer: chain to /ca.pem"),
            (
                Some("verify-ca"),
                Some("/ca.pem"),
                "verify-ca: chain to /ca.pem",
            ),
            (
                Some("verify-full"),
                Some("/ca.pem"),
                "verify-full: chain to /ca.pem, host name",
            ),
            (
                Some("verify-full"),
                None,
                "verify-full: chain to the system's roots, host name",
            ),
            (
                Some("verify-full"),
                Some("system"),
                "verify-full: chain to the system's roots, host name",
            ),
        ];
        for (mode, root, want) in cases {
            assert_eq!(
                tls(mode, root).unwrap().describe(),
                want,
                "{mode:?} {root:?}"
            );
        }
        assert_eq!(
            tls(Some("verify-full"), None).unwrap().mode.ssl_mode(),
            SslMode::Require
        );
        assert_eq!(tls(None, None).unwrap().mode.ssl_mode(), SslMode::Prefer);
    }

    #[test]
    fn bad_modes_and_weak_modes_over_system_roots_are_refused_by_name() {
        let e = tls(Some("verify_full"), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sslmode=verify_full is not valid: expected disable, prefer, require, verify-ca or verify-full"
        );
        let e = tls(Some("allow"), None).unwrap_err();
        assert!(
            e.to_string().starts_with("sslmode=allow is not supported"),
            "{e}"
        );
        let e = tls(Some("verify-ca"), None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("sslmode=verify-ca with no sslrootcert"),
            "{e}"
        );
        let e = tls(Some("require"), Some("system")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("sslmode=require with sslrootcert=system"),
            "{e}"
        );
        let e = tls(Some("verify-full"), Some("")).unwrap_err();
        assert!(
            e.to_string().starts_with("sslrootcert= is not valid"),
            "{e}"
        );
        let e = DbTls::from_params(&TlsParams {
            sslsni: Some("yes".into()),
            ..TlsParams::default()
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "sslsni=yes is not valid: expected 1 or 0");
    }

    #[test]
    fn a_root_file_that_is_missing_empty_or_not_a_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let missing = missing.to_str().unwrap();
        let e = tls(Some("verify-full"), Some(missing))
            .unwrap()
            .connector()
            .err()
            .expect("refused");
        assert!(
            e.to_string()
                .starts_with(&format!("sslrootcert={missing}: cannot be read")),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let empty = empty.to_str().unwrap();
        let e = tls(Some("verify-ca"), Some(empty))
            .unwrap()
            .connector()
            .err()
            .expect("refused");
        assert_eq!(
            e.to_string(),
            format!("sslrootcert={empty}: holds no CERTIFICATE block")
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let junk = junk.to_str().unwrap();
        let e = tls(Some("verify-ca"), Some(junk))
            .unwrap()
            .connector()
            .err()
            .expect("refused");
        assert_eq!(
            e.to_string(),
            format!(
                "sslrootcert={junk}: none of its 1 certificate(s) can be used as a trust anchor"
            )
        );
        // Without a check, the file is not read at all, and disable asks for nothing.
        assert!(tls(Some("require"), None).unwrap().connector().is_ok());
        assert!(
            tls(Some("disable"), Some(missing))
                .unwrap()
                .connector()
                .is_ok()
        );
    }
}
