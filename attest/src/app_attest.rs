//! App Attest: Apple's statement that a key was made in the Secure Enclave of a real Apple
//! device for a genuine build of an app ([`AppAttestVerifier`], format `app_attest`).
//!
//! The device creates an App Attest key and calls `attestKey(_:clientDataHash:)` with the
//! enrolment nonce ([`Expected::nonce`], already a SHA-256) as the `clientDataHash` itself. It
//! sends the attestation object it gets back as the token, in base64 (standard or URL-safe
//! alphabet, padding optional). The verifier follows Apple's "Validating apps that connect to
//! your server" (the layout is WebAuthn's `apple-appattest` attestation statement) and checks,
//! in this order, stopping at the first failure:
//!
//! 1. **Structure** ([`AttestationError::Malformed`], naming the part): the base64; one CBOR
//!    map and nothing after it; `fmt` is `apple-appattest`; `attStmt.x5c` holds one to
//!    [`MAX_CERTIFICATES`] DER certificates, the credential certificate first, each parsing with
//!    nothing after it; `attStmt.receipt` is a byte string; `authData` is a byte string of at
//!    least 55 bytes laid out as rpIdHash (32), flags (1), signCount (4, big-endian), aaguid
//!    (16), credentialIdLength (2, big-endian) and that many bytes of credentialId. What follows
//!    the credentialId (the COSE public key, extensions) is not read.
//! 2. **Chain** ([`AttestationError::NotAuthentic`], naming the certificate): every certificate
//!    of `x5c` is signed by the next one and the last by the configured root (ECDSA on P-256 or
//!    P-384 with SHA-256 or SHA-384, nothing else); each names the next as its issuer; every
//!    issuer, the root included, is a CA by its basic constraints, allows certificate signing if
//!    it has a key usage, and keeps its path length constraint; every certificate, the root
//!    included, is valid at [`Expected::now`]. A credential certificate that has expired is
//!    `NotAuthentic`, not [`AttestationError::Stale`]: App Attest certificates carry no
//!    attestation time (the nonce is what makes a token fresh), so an expired one is a chain
//!    that does not validate.
//! 3. **Nonce** ([`AttestationError::NonceMismatch`]): SHA-256(authData ‖ clientDataHash),
//!    with `clientDataHash` = [`Expected::nonce`], equals the octets of the credential
//!    certificate's extension `1.2.840.113635.100.8.2` (DER `SEQUENCE { [1] EXPLICIT OCTET
//!    STRING }`). A credential certificate without a readable extension of that kind is
//!    `Malformed`.
//! 4. **Key** (`NotAuthentic`): the credentialId is the key id, SHA-256 of the credential
//!    certificate's public key (the uncompressed EC point of its SubjectPublicKeyInfo).
//! 5. **App** ([`AttestationError::WrongApp`]): the rpIdHash is SHA-256 of one of
//!    [`Expected::ios_app_ids`] (`TEAMID.bundle.id`). A hash cannot name the app it came from,
//!    so the error's `app_id` is `rpIdHash <hex of the hash>`.
//! 6. **Counter** (`NotAuthentic`): signCount is 0, as in every attestation.
//! 7. **Environment** ([`AttestationError::NotTrusted`]): the aaguid is `appattest` followed
//!    by seven zero bytes (production) or `appattestdevelop` (development). A verifier for
//!    [`Environment::Production`] refuses development attestations; one for
//!    [`Environment::Development`] accepts both.
//!
//! The result names the app id that matched and, in its summary, the environment, the key id
//! (standard base64, as `DCAppAttestService` reports it) and the receipt's size;
//! [`AppAttestVerifier::verify_attestation`] also returns the public key and the receipt.
//!
//! Not checked here:
//! - anything after enrolment: App Attest assertions and their counter;
//! - the receipt: it is neither validated nor sent to Apple for a fraud metric, only measured;
//! - revocation of the certificates, unknown critical extensions, and anything else of general
//!   X.509 path validation beyond the list above;
//! - the key id the device may report separately: the key id is taken from the certificate;
//! - the COSE public key in `authData` (the certificate's key is the one that was attested).

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ciborium::value::Value;
use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;

use crate::x509::{self, ChainRules, Signatures, parse_certificate, pem_certificate_der};
use crate::{
    AttestationError, AttestationVerifier, Attested, ConfigError, Expected, malformed,
    not_authentic,
};

/// The format name devices send with an App Attest attestation object.
pub const FORMAT: &str = "app_attest";

/// Apple's App Attestation Root CA (P-384, self-signed, valid 2020-03-18 to 2045-03-15), as
/// Apple publishes it at
/// <https://www.apple.com/certificateauthority/Apple_App_Attestation_Root_CA.pem>. Its SHA-256
/// fingerprint (of the DER) is
/// `1cb9823ba28ba6ad2d33a006941de2ae4f513ef1d4e831b9f7e0fa7b6242c932`.
pub const APPLE_APP_ATTESTATION_ROOT_CA_PEM: &str =
    include_str!("apple_app_attestation_root_ca.pem");

/// The most certificates an attestation's `x5c` may hold (Apple sends two: the credential
/// certificate and the App Attestation CA 1).
pub const MAX_CERTIFICATES: usize = 5;

/// The longest token accepted, in bytes of base64 text. Apple's attestation objects are about
/// 5,500 bytes of base64, most of it the receipt.
pub const MAX_TOKEN_CHARS: usize = 64 * 1024;

/// The `fmt` of an App Attest attestation object.
const STATEMENT_FORMAT: &str = "apple-appattest";
/// The credential certificate extension that carries the nonce.
const NONCE_EXTENSION_OID: &str = "1.2.840.113635.100.8.2";
/// rpIdHash, flags, signCount, aaguid and credentialIdLength.
const AUTH_DATA_FIXED_LEN: usize = 32 + 1 + 4 + 16 + 2;
const AAGUID_PRODUCTION: [u8; 16] = *b"appattest\0\0\0\0\0\0\0";
const AAGUID_DEVELOPMENT: [u8; 16] = *b"appattestdevelop";

/// An App Attest environment: the one an attestation was made in (its `aaguid`), or the one a
/// verifier requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Production (aaguid `appattest` and seven zero bytes): apps from the App Store or
    /// TestFlight, or whose `com.apple.developer.devicecheck.appattest-environment`
    /// entitlement is `production`. A verifier for production accepts nothing else.
    Production,
    /// Development (aaguid `appattestdevelop`): apps built and run from Xcode. A verifier for
    /// development accepts development and production attestations; for development and test
    /// servers only.
    Development,
}

impl Environment {
    /// `production` or `development`, as in the configuration and the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Development => "development",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The server's configuration of App Attest verification, e.g.
/// `{"environment": "production"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppAttestConfig {
    /// The environment the verifier accepts.
    pub environment: Environment,
    /// A PEM certificate that replaces Apple's App Attestation Root CA as the root of trust,
    /// for tests with a test authority. Absent in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_ca_pem: Option<String>,
}

/// What an App Attest attestation established, in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAttestation {
    /// The allowed app id (`TEAMID.bundle.id`) whose SHA-256 is the attestation's rpIdHash.
    pub app_id: String,
    /// The environment of the attestation (from its aaguid).
    pub environment: Environment,
    /// The key id: SHA-256 of [`AppAttestation::public_key`], as `DCAppAttestService`
    /// reports it (in base64) and as App Attest assertions name the key.
    pub key_id: [u8; 32],
    /// The attested public key, an uncompressed P-256 point (65 bytes), which verifies the
    /// key's later App Attest assertions.
    pub public_key: Vec<u8>,
    /// Apple's receipt for the attestation, unvalidated; it can be exchanged with Apple for a
    /// fraud metric.
    pub receipt: Vec<u8>,
}

impl AppAttestation {
    /// The key id in standard base64 with padding, as `DCAppAttestService` reports it.
    pub fn key_id_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key_id)
    }

    /// The registry's view: format `app_attest`, the app id, and a summary such as
    /// `production, key id zgSY…ZV0=, receipt 3722 bytes`.
    pub fn attested(&self) -> Attested {
        Attested {
            format: FORMAT.to_string(),
            app_id: self.app_id.clone(),
            summary: format!(
                "{}, key id {}, receipt {} bytes",
                self.environment,
                self.key_id_base64(),
                self.receipt.len()
            ),
        }
    }
}

/// Verifies App Attest attestation objects against a root certificate (Apple's, or a test
/// authority's) for one [`Environment`]. See the [module documentation](self) for what is
/// checked, in which order, and what is not.
#[derive(Debug, Clone)]
pub struct AppAttestVerifier {
    root_ca_der: Vec<u8>,
    environment: Environment,
}

impl AppAttestVerifier {
    /// A verifier that trusts the DER certificate `root_ca_der`.
    ///
    /// The root is read at each verification: one that does not parse, is not a CA or is not
    /// valid at the time makes every attestation [`AttestationError::NotAuthentic`]. Use
    /// [`AppAttestVerifier::from_config`] to have it checked up front.
    pub fn new(root_ca_der: Vec<u8>, environment: Environment) -> Self {
        Self {
            root_ca_der,
            environment,
        }
    }

    /// A verifier that trusts Apple's App Attestation Root CA
    /// ([`APPLE_APP_ATTESTATION_ROOT_CA_PEM`], built into the crate).
    pub fn apple(environment: Environment) -> Self {
        let der = pem_certificate_der(APPLE_APP_ATTESTATION_ROOT_CA_PEM)
            .expect("the built-in Apple App Attestation Root CA is one PEM certificate");
        Self::new(der, environment)
    }

    /// A verifier from the server's configuration: Apple's root unless `root_ca_pem` replaces
    /// it, in which case that PEM must hold exactly one certificate that parses.
    pub fn from_config(config: &AppAttestConfig) -> Result<Self, ConfigError> {
        let Some(pem) = &config.root_ca_pem else {
            return Ok(Self::apple(config.environment));
        };
        let der =
            pem_certificate_der(pem).map_err(|problem| ConfigError::new("root_ca_pem", problem))?;
        Ok(Self::new(der, config.environment))
    }

    /// A verifier from the JSON form of [`AppAttestConfig`], e.g.
    /// `{"environment": "production"}`; errors name the field at fault.
    pub fn from_config_json(json: &str) -> Result<Self, ConfigError> {
        Self::from_config(&crate::read_config(json)?)
    }

    /// The environment this verifier accepts.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The DER of the root certificate this verifier trusts.
    pub fn root_ca_der(&self) -> &[u8] {
        &self.root_ca_der
    }

    /// Verifies `token` (a base64 attestation object) like [`AttestationVerifier::verify`],
    /// and returns everything it established, the public key and receipt included.
    pub fn verify_attestation(
        &self,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<AppAttestation, AttestationError> {
        let bytes = decode_token(token)?;
        self.verify_object(&bytes, expected.nonce, expected.ios_app_ids, expected.now)
    }

    /// Verifies a decoded attestation object made for `client_data_hash`.
    fn verify_object(
        &self,
        object: &[u8],
        client_data_hash: &[u8],
        app_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<AppAttestation, AttestationError> {
        let object = AttestationObject::parse(object)?;
        let auth_data = AuthData::parse(&object.auth_data)?;
        let certificates = parse_certificates(&object.x5c)?;
        let root = parse_root(&self.root_ca_der)?;
        verify_chain(&certificates, &root, now.timestamp())?;
        let Some(leaf) = certificates.first() else {
            return Err(malformed("attStmt.x5c is empty"));
        };
        check_nonce(leaf, &object.auth_data, client_data_hash)?;
        let (key_id, public_key) = check_key_id(leaf, &auth_data)?;
        let app_id = matching_app_id(&auth_data, app_ids)?;
        check_sign_count(&auth_data)?;
        let environment = self.check_environment(&auth_data)?;
        Ok(AppAttestation {
            app_id,
            environment,
            key_id,
            public_key,
            receipt: object.receipt,
        })
    }

    /// Step 7: the aaguid names an environment this verifier accepts.
    fn check_environment(&self, auth_data: &AuthData<'_>) -> Result<Environment, AttestationError> {
        let environment = match *auth_data.aaguid {
            AAGUID_PRODUCTION => Environment::Production,
            AAGUID_DEVELOPMENT => Environment::Development,
            other => {
                return Err(AttestationError::NotTrusted {
                    verdict: format!(
                        "aaguid {} is neither App Attest production nor development",
                        hex(&other)
                    ),
                });
            }
        };
        if environment == Environment::Development && self.environment == Environment::Production {
            return Err(AttestationError::NotTrusted {
                verdict: "an App Attest development environment attestation; this server \
                          accepts production only"
                    .to_string(),
            });
        }
        Ok(environment)
    }
}

impl AttestationVerifier for AppAttestVerifier {
    fn format(&self) -> &str {
        FORMAT
    }

    fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Attested, AttestationError> {
        self.verify_attestation(token, expected)
            .map(|attestation| attestation.attested())
    }
}

/// The token's bytes: base64 in the standard or URL-safe alphabet, padding optional.
fn decode_token(token: &str) -> Result<Vec<u8>, AttestationError> {
    let token = token.trim_ascii();
    if token.is_empty() {
        return Err(malformed("the token is empty"));
    }
    if token.len() > MAX_TOKEN_CHARS {
        return Err(malformed(format!(
            "the token has {} bytes, more than the {MAX_TOKEN_CHARS} accepted",
            token.len()
        )));
    }
    x509::decode_base64(token)
        .map_err(|error| malformed(format!("the token is not base64: {error}")))
}

/// The attestation object's parts, as read from its CBOR.
#[derive(Debug)]
struct AttestationObject {
    x5c: Vec<Vec<u8>>,
    receipt: Vec<u8>,
    auth_data: Vec<u8>,
}

impl AttestationObject {
    /// Reads `{fmt, attStmt: {x5c, receipt}, authData}` from CBOR with nothing after it.
    fn parse(bytes: &[u8]) -> Result<Self, AttestationError> {
        let mut rest = bytes;
        let value: Value = ciborium::de::from_reader(&mut rest)
            .map_err(|error| malformed(format!("the attestation object is not CBOR: {error}")))?;
        if !rest.is_empty() {
            return Err(malformed(format!(
                "{} bytes follow the attestation object's CBOR",
                rest.len()
            )));
        }
        let map = as_map(&value, "the attestation object")?;
        let fmt = text_field(map, "fmt", "the attestation object")?;
        if fmt != STATEMENT_FORMAT {
            return Err(malformed(format!(
                "fmt is `{fmt}`, not `{STATEMENT_FORMAT}`"
            )));
        }
        let statement = as_map(
            required(map, "attStmt", "the attestation object")?,
            "attStmt",
        )?;
        Ok(Self {
            x5c: certificate_list(statement)?,
            receipt: bytes_field(statement, "receipt", "attStmt")?.to_vec(),
            auth_data: bytes_field(map, "authData", "the attestation object")?.to_vec(),
        })
    }
}

/// `attStmt.x5c`: one to [`MAX_CERTIFICATES`] byte strings.
fn certificate_list(statement: &[(Value, Value)]) -> Result<Vec<Vec<u8>>, AttestationError> {
    let Value::Array(items) = required(statement, "x5c", "attStmt")? else {
        return Err(malformed("attStmt.x5c is not an array"));
    };
    if items.is_empty() {
        return Err(malformed("attStmt.x5c is empty"));
    }
    if items.len() > MAX_CERTIFICATES {
        return Err(malformed(format!(
            "attStmt.x5c has {} certificates, more than the {MAX_CERTIFICATES} accepted",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Bytes(der) => Ok(der.clone()),
            _ => Err(malformed(format!(
                "attStmt.x5c[{index}] is not a byte string"
            ))),
        })
        .collect()
}

fn as_map<'v>(value: &'v Value, what: &str) -> Result<&'v [(Value, Value)], AttestationError> {
    match value {
        Value::Map(entries) => Ok(entries),
        _ => Err(malformed(format!("{what} is not a CBOR map"))),
    }
}

/// The value of text key `key`, which must appear exactly once.
fn required<'v>(
    map: &'v [(Value, Value)],
    key: &str,
    what: &str,
) -> Result<&'v Value, AttestationError> {
    let mut values = map
        .iter()
        .filter(|(k, _)| matches!(k, Value::Text(text) if text == key))
        .map(|(_, value)| value);
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        (None, _) => Err(malformed(format!("{what} has no `{key}`"))),
        (Some(_), Some(_)) => Err(malformed(format!("{what} has `{key}` more than once"))),
    }
}

fn text_field<'v>(
    map: &'v [(Value, Value)],
    key: &str,
    what: &str,
) -> Result<&'v str, AttestationError> {
    match required(map, key, what)? {
        Value::Text(text) => Ok(text),
        _ => Err(malformed(format!("`{key}` of {what} is not a text string"))),
    }
}

fn bytes_field<'v>(
    map: &'v [(Value, Value)],
    key: &str,
    what: &str,
) -> Result<&'v [u8], AttestationError> {
    match required(map, key, what)? {
        Value::Bytes(bytes) => Ok(bytes),
        _ => Err(malformed(format!("`{key}` of {what} is not a byte string"))),
    }
}

/// The fixed fields of `authData` and its credentialId.
#[derive(Debug)]
struct AuthData<'a> {
    rp_id_hash: &'a [u8],
    sign_count: u32,
    aaguid: &'a [u8; 16],
    credential_id: &'a [u8],
}

impl<'a> AuthData<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, AttestationError> {
        let Some((fixed, rest)) = bytes.split_at_checked(AUTH_DATA_FIXED_LEN) else {
            return Err(malformed(format!(
                "authData has {} bytes, fewer than the {AUTH_DATA_FIXED_LEN} of its fixed fields",
                bytes.len()
            )));
        };
        let (rp_id_hash, fixed) = fixed.split_at(32);
        let (_flags, fixed) = fixed.split_at(1);
        let (sign_count, fixed) = fixed.split_at(4);
        let (aaguid, credential_id_len) = fixed.split_at(16);
        let credential_id_len = usize::from(u16::from_be_bytes([
            credential_id_len[0],
            credential_id_len[1],
        ]));
        let Some(credential_id) = rest.get(..credential_id_len) else {
            return Err(malformed(format!(
                "authData's credentialIdLength is {credential_id_len} but only {} bytes follow",
                rest.len()
            )));
        };
        Ok(Self {
            rp_id_hash,
            sign_count: u32::from_be_bytes([
                sign_count[0],
                sign_count[1],
                sign_count[2],
                sign_count[3],
            ]),
            aaguid: aaguid
                .try_into()
                .map_err(|_| malformed("authData's aaguid"))?,
            credential_id,
        })
    }
}

/// What a certificate is called in errors: its place in `x5c`.
fn certificate_name(index: usize) -> String {
    if index == 0 {
        "x5c[0] (the credential certificate)".to_string()
    } else {
        format!("x5c[{index}]")
    }
}

fn parse_certificates(x5c: &[Vec<u8>]) -> Result<Vec<X509Certificate<'_>>, AttestationError> {
    x5c.iter()
        .enumerate()
        .map(|(index, der)| {
            parse_certificate(der)
                .map_err(|error| malformed(format!("{} {error}", certificate_name(index))))
        })
        .collect()
}

fn parse_root(der: &[u8]) -> Result<X509Certificate<'_>, AttestationError> {
    parse_certificate(der).map_err(|error| not_authentic(format!("the configured root {error}")))
}

/// Step 2: each certificate is issued and signed by the next, the last by `root`, and all are
/// valid at `now` (Unix seconds).
fn verify_chain(
    certificates: &[X509Certificate<'_>],
    root: &X509Certificate<'_>,
    now: i64,
) -> Result<(), AttestationError> {
    let rules = ChainRules {
        signatures: Signatures::Ecdsa,
        name: &certificate_name,
        leaf_issuer_may_be_end_entity: false,
        check_dates: true,
    };
    x509::verify_chain(certificates, std::slice::from_ref(root), now, &rules)
}

/// Step 3: the credential certificate's nonce extension is SHA-256(authData ‖
/// clientDataHash).
fn check_nonce(
    leaf: &X509Certificate<'_>,
    auth_data: &[u8],
    client_data_hash: &[u8],
) -> Result<(), AttestationError> {
    let certified = certified_nonce(leaf)?;
    let nonce = digest(&SHA256, &[auth_data, client_data_hash].concat());
    if certified == nonce.as_ref() {
        Ok(())
    } else {
        Err(AttestationError::NonceMismatch)
    }
}

/// The octets of the credential certificate's nonce extension.
fn certified_nonce<'c>(leaf: &'c X509Certificate<'_>) -> Result<&'c [u8], AttestationError> {
    let mut extensions = leaf
        .extensions()
        .iter()
        .filter(|extension| extension.oid.to_id_string() == NONCE_EXTENSION_OID);
    let extension = match (extensions.next(), extensions.next()) {
        (Some(extension), None) => extension,
        (None, _) => {
            return Err(malformed(format!(
                "the credential certificate has no nonce extension {NONCE_EXTENSION_OID}"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(malformed(format!(
                "the credential certificate has the nonce extension {NONCE_EXTENSION_OID} twice"
            )));
        }
    };
    nonce_octets(extension.value).ok_or_else(|| {
        malformed(format!(
            "the credential certificate's extension {NONCE_EXTENSION_OID} is not \
             SEQUENCE {{ [1] EXPLICIT OCTET STRING }}"
        ))
    })
}

/// The octets of DER `SEQUENCE { [1] EXPLICIT OCTET STRING }`, with nothing else.
fn nonce_octets(der: &[u8]) -> Option<&[u8]> {
    let (0x30, sequence, []) = der_element(der)? else {
        return None;
    };
    let (0xA1, explicit, []) = der_element(sequence)? else {
        return None;
    };
    let (0x04, octets, []) = der_element(explicit)? else {
        return None;
    };
    Some(octets)
}

/// One DER element at the start of `input`: its tag byte, its contents and what follows.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (len, rest) = rest.split_at_checked(count)?;
        let len = len
            .iter()
            .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte));
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// Step 4: the credentialId is SHA-256 of the credential certificate's public key. Returns
/// the key id and the key.
fn check_key_id(
    leaf: &X509Certificate<'_>,
    auth_data: &AuthData<'_>,
) -> Result<([u8; 32], Vec<u8>), AttestationError> {
    let public_key = leaf.public_key().subject_public_key.data.to_vec();
    let key_id = sha256(&public_key);
    if auth_data.credential_id != key_id {
        return Err(not_authentic(format!(
            "authData's credentialId {} is not the key id {} of the credential certificate's key",
            hex(auth_data.credential_id),
            hex(&key_id)
        )));
    }
    Ok((key_id, public_key))
}

/// Step 5: the allowed app id whose SHA-256 is the rpIdHash.
fn matching_app_id(
    auth_data: &AuthData<'_>,
    app_ids: &[String],
) -> Result<String, AttestationError> {
    app_ids
        .iter()
        .find(|app_id| sha256(app_id.as_bytes()) == auth_data.rp_id_hash)
        .cloned()
        .ok_or_else(|| AttestationError::WrongApp {
            app_id: format!("rpIdHash {}", hex(auth_data.rp_id_hash)),
        })
}

/// Step 6: an attestation's counter is 0.
fn check_sign_count(auth_data: &AuthData<'_>) -> Result<(), AttestationError> {
    match auth_data.sign_count {
        0 => Ok(()),
        count => Err(not_authentic(format!(
            "authData's signCount is {count}; an attestation's is 0"
        ))),
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A test App Attest authority: makes attestation objects that verify against its own root,
/// for tests of the server and the SDK (cargo feature `test-tokens`).
#[cfg(any(test, feature = "test-tokens"))]
pub mod testing {
    use base64::Engine as _;
    use ciborium::value::Value;
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
        KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, date_time_ymd,
    };

    use super::{
        AAGUID_DEVELOPMENT, AAGUID_PRODUCTION, AppAttestVerifier, Environment, STATEMENT_FORMAT,
        hex, sha256,
    };

    /// A root (P-384) and an intermediate (P-256) made for the test, standing in for Apple's
    /// App Attestation Root CA and CA 1. Every certificate is valid from 2020 to 2100.
    pub struct TestAuthority {
        root_der: Vec<u8>,
        intermediate_der: Vec<u8>,
        intermediate: Issuer<'static, KeyPair>,
    }

    impl std::fmt::Debug for TestAuthority {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TestAuthority").finish_non_exhaustive()
        }
    }

    /// Deviations from a correct attestation, for tests of the verifier.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Flaws {
        /// authData's signCount.
        pub(crate) sign_count: u32,
        /// A credentialId other than the key id.
        pub(crate) credential_id: Option<Vec<u8>>,
        /// An aaguid other than the environment's.
        pub(crate) aaguid: Option<[u8; 16]>,
        /// A credential certificate that expired on 2021-01-01.
        pub(crate) expired: bool,
        /// A credential certificate without the nonce extension.
        pub(crate) no_nonce_extension: bool,
    }

    /// The parts of an attestation object, before CBOR.
    #[derive(Debug, Clone)]
    pub(crate) struct Parts {
        pub(crate) x5c: Vec<Vec<u8>>,
        pub(crate) receipt: Vec<u8>,
        pub(crate) auth_data: Vec<u8>,
    }

    impl Parts {
        /// The attestation object as a CBOR value.
        pub(crate) fn to_value(&self) -> Value {
            let x5c = self.x5c.iter().cloned().map(Value::Bytes).collect();
            let statement = vec![
                (text("x5c"), Value::Array(x5c)),
                (text("receipt"), Value::Bytes(self.receipt.clone())),
            ];
            Value::Map(vec![
                (text("fmt"), text(STATEMENT_FORMAT)),
                (text("attStmt"), Value::Map(statement)),
                (text("authData"), Value::Bytes(self.auth_data.clone())),
            ])
        }
    }

    pub(crate) fn text(value: &str) -> Value {
        Value::Text(value.to_string())
    }

    /// `value` as CBOR, then standard base64.
    pub(crate) fn encode(value: &Value) -> String {
        let mut cbor = Vec::new();
        ciborium::ser::into_writer(value, &mut cbor).expect("CBOR encodes into a Vec");
        base64::engine::general_purpose::STANDARD.encode(cbor)
    }

    impl TestAuthority {
        /// A new authority with fresh keys.
        ///
        /// # Panics
        ///
        /// If the certificates cannot be made (a bug of this helper, not of its caller).
        pub fn generate() -> Self {
            let root_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("P-384 key");
            let root_params = ca_params("daka test App Attestation Root CA", None);
            let root_der = root_params
                .self_signed(&root_key)
                .expect("root certificate")
                .der()
                .to_vec();
            let root = Issuer::new(root_params, root_key);

            let intermediate_key =
                KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
            let intermediate_params = ca_params("daka test App Attestation CA 1", Some(0));
            let intermediate_der = intermediate_params
                .signed_by(&intermediate_key, &root)
                .expect("intermediate certificate")
                .der()
                .to_vec();
            Self {
                root_der,
                intermediate_der,
                intermediate: Issuer::new(intermediate_params, intermediate_key),
            }
        }

        /// The DER of the authority's root certificate.
        pub fn root_der(&self) -> &[u8] {
            &self.root_der
        }

        /// A verifier for `environment` that trusts this authority's root.
        pub fn verifier(&self, environment: Environment) -> AppAttestVerifier {
            AppAttestVerifier::new(self.root_der.clone(), environment)
        }

        /// An attestation token (base64 attestation object, as a device sends it) for a new key
        /// of app `app_id` (`TEAMID.bundle.id`), made with `nonce` as its clientDataHash, in
        /// `environment`.
        ///
        /// # Panics
        ///
        /// If the certificate cannot be made (a bug of this helper, not of its caller).
        pub fn attestation(
            &self,
            app_id: &str,
            nonce: &[u8; 32],
            environment: Environment,
        ) -> String {
            let parts = self.parts(app_id, nonce, environment, &Flaws::default());
            encode(&parts.to_value())
        }

        /// The parts of an attestation object with `flaws`.
        pub(crate) fn parts(
            &self,
            app_id: &str,
            client_data_hash: &[u8],
            environment: Environment,
            flaws: &Flaws,
        ) -> Parts {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
            let public_key = key.public_key_raw();
            let key_id = sha256(public_key);
            let aaguid = flaws.aaguid.unwrap_or(match environment {
                Environment::Production => AAGUID_PRODUCTION,
                Environment::Development => AAGUID_DEVELOPMENT,
            });
            let credential_id = flaws.credential_id.clone().unwrap_or(key_id.to_vec());
            let auth_data = auth_data(
                &sha256(app_id.as_bytes()),
                flaws.sign_count,
                &aaguid,
                &credential_id,
                public_key,
            );
            let nonce = sha256(&[auth_data.as_slice(), client_data_hash].concat());

            let mut params = CertificateParams::default();
            params
                .distinguished_name
                .push(DnType::CommonName, hex(&key_id));
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = if flaws.expired {
                date_time_ymd(2021, 1, 1)
            } else {
                date_time_ymd(2100, 1, 1)
            };
            if !flaws.no_nonce_extension {
                params
                    .custom_extensions
                    .push(CustomExtension::from_oid_content(
                        &[1, 2, 840, 113635, 100, 8, 2],
                        nonce_extension(&nonce),
                    ));
            }
            let leaf = params
                .signed_by(&key, &self.intermediate)
                .expect("credential certificate");
            Parts {
                x5c: vec![leaf.der().to_vec(), self.intermediate_der.clone()],
                receipt: b"daka test receipt".to_vec(),
                auth_data,
            }
        }
    }

    fn ca_params(common_name: &str, path_len: Option<u8>) -> CertificateParams {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "daka tests");
        params.is_ca = IsCa::Ca(match path_len {
            Some(len) => BasicConstraints::Constrained(len),
            None => BasicConstraints::Unconstrained,
        });
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2100, 1, 1);
        params
    }

    /// authData as App Attest lays it out, with the key as a COSE EC2 key after the
    /// credentialId.
    fn auth_data(
        rp_id_hash: &[u8; 32],
        sign_count: u32,
        aaguid: &[u8; 16],
        credential_id: &[u8],
        public_key: &[u8],
    ) -> Vec<u8> {
        let mut out = rp_id_hash.to_vec();
        out.push(0x40);
        out.extend_from_slice(&sign_count.to_be_bytes());
        out.extend_from_slice(aaguid);
        let len = u16::try_from(credential_id.len()).expect("credentialId under 64 KiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(credential_id);
        ciborium::ser::into_writer(&cose_key(public_key), &mut out).expect("CBOR into a Vec");
        out
    }

    /// A P-256 public key (uncompressed point) as a COSE key: kty EC2, alg ES256, crv P-256.
    fn cose_key(public_key: &[u8]) -> Value {
        let (x, y) = public_key[1..]
            .split_at_checked(32)
            .expect("an uncompressed P-256 point");
        Value::Map(vec![
            (Value::from(1), Value::from(2)),
            (Value::from(3), Value::from(-7)),
            (Value::from(-1), Value::from(1)),
            (Value::from(-2), Value::Bytes(x.to_vec())),
            (Value::from(-3), Value::Bytes(y.to_vec())),
        ])
    }

    /// DER `SEQUENCE { [1] EXPLICIT OCTET STRING nonce }`.
    fn nonce_extension(nonce: &[u8; 32]) -> Vec<u8> {
        let mut out = vec![0x30, 36, 0xA1, 34, 0x04, 32];
        out.extend_from_slice(nonce);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use ciborium::value::Value;
    use proptest::prelude::*;

    use super::testing::{Flaws, Parts, TestAuthority, encode, text};
    use super::*;
    use crate::x509::{OID_CURVE_P384, check_ca, ec_curve, verify_signature};

    const APP_ID: &str = "ABCDE12345.com.example.daka";
    const NONCE: [u8; 32] = [7; 32];

    static AUTHORITY: LazyLock<TestAuthority> = LazyLock::new(TestAuthority::generate);

    fn app_ids() -> Vec<String> {
        vec![
            "ABCDE12345.com.example.other".to_string(),
            APP_ID.to_string(),
        ]
    }

    fn verify_with(
        verifier: &AppAttestVerifier,
        token: &str,
        nonce: &[u8; 32],
    ) -> Result<Attested, AttestationError> {
        let app_ids = app_ids();
        verifier.verify(
            token,
            &Expected {
                nonce,
                android_packages: &[],
                ios_app_ids: &app_ids,
                now: Utc::now(),
            },
        )
    }

    /// Verifies `token` for [`NONCE`] with a production verifier of the test authority.
    fn verify(token: &str) -> Result<Attested, AttestationError> {
        verify_with(&AUTHORITY.verifier(Environment::Production), token, &NONCE)
    }

    fn parts(flaws: &Flaws) -> Parts {
        AUTHORITY.parts(APP_ID, &NONCE, Environment::Production, flaws)
    }

    fn token(parts: &Parts) -> String {
        encode(&parts.to_value())
    }

    fn malformed_reason(result: Result<Attested, AttestationError>) -> String {
        match result {
            Err(AttestationError::Malformed { reason }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    fn not_authentic_reason(result: Result<Attested, AttestationError>) -> String {
        match result {
            Err(AttestationError::NotAuthentic { reason }) => reason,
            other => panic!("expected NotAuthentic, got {other:?}"),
        }
    }

    /// The attestation object's map with the entry `key` replaced by `value` (or removed).
    fn with_entry(mut map: Value, key: &str, value: Option<Value>) -> Value {
        if let Value::Map(entries) = &mut map {
            entries.retain(|(k, _)| k != &text(key));
            entries.extend(value.map(|value| (text(key), value)));
        }
        map
    }

    fn with_statement_entry(parts: &Parts, key: &str, value: Option<Value>) -> Value {
        let object = parts.to_value();
        let Value::Map(entries) = &object else {
            unreachable!()
        };
        let statement = entries
            .iter()
            .find(|(k, _)| k == &text("attStmt"))
            .map(|(_, v)| v.clone())
            .expect("attStmt");
        with_entry(object, "attStmt", Some(with_entry(statement, key, value)))
    }

    #[test]
    fn the_built_in_root_is_apples_app_attestation_root_ca() {
        let der = pem_certificate_der(APPLE_APP_ATTESTATION_ROOT_CA_PEM).expect("one PEM cert");
        assert_eq!(
            hex(&sha256(&der)),
            "1cb9823ba28ba6ad2d33a006941de2ae4f513ef1d4e831b9f7e0fa7b6242c932"
        );
        let root = parse_certificate(&der).expect("parses");
        assert_eq!(
            root.subject().to_string(),
            "CN=Apple App Attestation Root CA, O=Apple Inc., ST=California"
        );
        assert_eq!(root.subject().as_raw(), root.issuer().as_raw());
        assert_eq!(ec_curve(&root.public_key().algorithm), Some(OID_CURVE_P384));
        verify_signature(&root, &root, Signatures::Ecdsa).expect("self-signature verifies");
        check_ca(&root, "root", 1).expect("a CA");
        assert_eq!(
            AppAttestVerifier::apple(Environment::Production).root_ca_der(),
            der
        );
    }

    #[test]
    fn a_production_attestation_verifies() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        let attested = verify(&token).expect("verifies");
        assert_eq!(attested.format, "app_attest");
        assert_eq!(attested.app_id, APP_ID);
        assert!(
            attested.summary.starts_with("production, key id ")
                && attested.summary.ends_with(", receipt 17 bytes"),
            "{}",
            attested.summary
        );
    }

    #[test]
    fn the_full_result_carries_the_key_and_receipt() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        let app_ids = app_ids();
        let attestation = AUTHORITY
            .verifier(Environment::Production)
            .verify_attestation(
                &token,
                &Expected {
                    nonce: &NONCE,
                    android_packages: &[],
                    ios_app_ids: &app_ids,
                    now: Utc::now(),
                },
            )
            .expect("verifies");
        assert_eq!(attestation.public_key.len(), 65);
        assert_eq!(attestation.key_id, sha256(&attestation.public_key));
        assert_eq!(attestation.receipt, b"daka test receipt");
        assert!(
            attestation
                .attested()
                .summary
                .contains(&attestation.key_id_base64())
        );
    }

    #[test]
    fn a_development_attestation_verifies_in_development() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Development);
        let verifier = AUTHORITY.verifier(Environment::Development);
        let attested = verify_with(&verifier, &token, &NONCE).expect("verifies");
        assert!(
            attested.summary.starts_with("development, "),
            "{}",
            attested.summary
        );
        let production = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        let attested = verify_with(&verifier, &production, &NONCE).expect("verifies");
        assert!(
            attested.summary.starts_with("production, "),
            "{}",
            attested.summary
        );
    }

    #[test]
    fn a_development_attestation_is_not_trusted_in_production() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Development);
        assert!(matches!(
            verify(&token),
            Err(AttestationError::NotTrusted { .. })
        ));
    }

    #[test]
    fn an_unknown_aaguid_is_not_trusted() {
        let flaws = Flaws {
            aaguid: Some(*b"someotherauthntc"),
            ..Flaws::default()
        };
        let verifier = AUTHORITY.verifier(Environment::Development);
        let result = verify_with(&verifier, &token(&parts(&flaws)), &NONCE);
        assert!(
            matches!(result, Err(AttestationError::NotTrusted { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn padding_and_alphabet_do_not_matter() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .expect("base64");
        for engine in [
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            verify(&engine.encode(&bytes)).expect("verifies");
        }
        verify(&format!(" {token}\n")).expect("surrounding whitespace is ignored");
    }

    #[test]
    fn another_challenge_is_a_nonce_mismatch() {
        let token = AUTHORITY.attestation(APP_ID, &[8; 32], Environment::Production);
        assert_eq!(verify(&token), Err(AttestationError::NonceMismatch));
    }

    #[test]
    fn a_nonce_mismatch_wins_over_the_wrong_app() {
        let token = AUTHORITY.attestation(
            "ABCDE12345.com.example.evil",
            &[8; 32],
            Environment::Development,
        );
        assert_eq!(verify(&token), Err(AttestationError::NonceMismatch));
    }

    #[test]
    fn another_app_is_the_wrong_app() {
        let other = "ABCDE12345.com.example.evil";
        let token = AUTHORITY.attestation(other, &NONCE, Environment::Production);
        assert_eq!(
            verify(&token),
            Err(AttestationError::WrongApp {
                app_id: format!("rpIdHash {}", hex(&sha256(other.as_bytes())))
            })
        );
    }

    #[test]
    fn no_allowed_app_is_the_wrong_app() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        let result = AUTHORITY.verifier(Environment::Production).verify(
            &token,
            &Expected {
                nonce: &NONCE,
                android_packages: &[],
                ios_app_ids: &[],
                now: Utc::now(),
            },
        );
        assert!(
            matches!(result, Err(AttestationError::WrongApp { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn a_counter_other_than_zero_is_not_authentic() {
        let flaws = Flaws {
            sign_count: 1,
            ..Flaws::default()
        };
        let reason = not_authentic_reason(verify(&token(&parts(&flaws))));
        assert!(reason.contains("signCount is 1"), "{reason}");
    }

    #[test]
    fn a_credential_id_other_than_the_key_id_is_not_authentic() {
        let flaws = Flaws {
            credential_id: Some(vec![9; 32]),
            ..Flaws::default()
        };
        let reason = not_authentic_reason(verify(&token(&parts(&flaws))));
        assert!(reason.contains("credentialId"), "{reason}");
    }

    #[test]
    fn a_chain_from_another_root_is_not_authentic() {
        let other = TestAuthority::generate();
        let token = other.attestation(APP_ID, &NONCE, Environment::Production);
        let reason = not_authentic_reason(verify(&token));
        assert!(
            reason.contains("x5c[1]") && reason.contains("signature"),
            "{reason}"
        );
    }

    #[test]
    fn apples_root_does_not_trust_the_test_authority() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        let verifier = AppAttestVerifier::apple(Environment::Production);
        let reason = not_authentic_reason(verify_with(&verifier, &token, &NONCE));
        assert!(
            reason.contains("x5c[1]") && reason.contains("issuer"),
            "{reason}"
        );
    }

    #[test]
    fn a_leaf_signed_by_another_intermediate_is_not_authentic() {
        let other = TestAuthority::generate();
        let mut parts = other.parts(APP_ID, &NONCE, Environment::Production, &Flaws::default());
        parts.x5c[1] = AUTHORITY
            .parts(APP_ID, &NONCE, Environment::Production, &Flaws::default())
            .x5c[1]
            .clone();
        let reason = not_authentic_reason(verify(&token(&parts)));
        assert!(
            reason.contains("x5c[0]") && reason.contains("signature"),
            "{reason}"
        );
    }

    #[test]
    fn a_chain_without_its_intermediate_is_not_authentic() {
        let mut parts = parts(&Flaws::default());
        parts.x5c.truncate(1);
        let reason = not_authentic_reason(verify(&token(&parts)));
        assert!(reason.contains("x5c[0]"), "{reason}");
    }

    #[test]
    fn an_expired_credential_certificate_is_not_authentic() {
        let flaws = Flaws {
            expired: true,
            ..Flaws::default()
        };
        let reason = not_authentic_reason(verify(&token(&parts(&flaws))));
        assert!(
            reason.contains("x5c[0]") && reason.contains("expired"),
            "{reason}"
        );
    }

    #[test]
    fn a_time_before_the_chain_is_not_authentic() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        let app_ids = app_ids();
        let result = AUTHORITY.verifier(Environment::Production).verify(
            &token,
            &Expected {
                nonce: &NONCE,
                android_packages: &[],
                ios_app_ids: &app_ids,
                now: "2019-06-01T00:00:00Z".parse().expect("time"),
            },
        );
        let reason = not_authentic_reason(result);
        assert!(reason.contains("not valid before"), "{reason}");
    }

    #[test]
    fn a_chain_out_of_order_is_not_authentic() {
        let mut parts = parts(&Flaws::default());
        let leaf = parts.x5c[0].clone();
        parts.x5c.insert(0, leaf);
        let reason = not_authentic_reason(verify(&token(&parts)));
        assert!(reason.contains("x5c[1]"), "{reason}");
    }

    #[test]
    fn a_credential_certificate_without_the_nonce_extension_is_malformed() {
        let flaws = Flaws {
            no_nonce_extension: true,
            ..Flaws::default()
        };
        let reason = malformed_reason(verify(&token(&parts(&flaws))));
        assert!(reason.contains(NONCE_EXTENSION_OID), "{reason}");
    }

    #[test]
    fn a_broken_configured_root_is_not_authentic() {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        let verifier =
            AppAttestVerifier::new(b"not a certificate".to_vec(), Environment::Production);
        let reason = not_authentic_reason(verify_with(&verifier, &token, &NONCE));
        assert!(reason.contains("configured root"), "{reason}");
    }

    #[test]
    fn garbage_is_malformed_naming_the_part() {
        let good = parts(&Flaws::default());
        let object = good.to_value();
        let mut trailing = base64::engine::general_purpose::STANDARD
            .decode(token(&good))
            .expect("base64");
        trailing.push(0);
        let mut short_credential = good.auth_data[..AUTH_DATA_FIXED_LEN].to_vec();
        short_credential.extend_from_slice(&[1; 10]);
        let mut bad_der = good.clone();
        bad_der.x5c[1] = b"not DER".to_vec();
        let mut der_with_junk = good.clone();
        der_with_junk.x5c[0].push(0);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("not base64!".to_string(), "base64"),
            ("a".repeat(MAX_TOKEN_CHARS + 1), "bytes, more than"),
            (
                base64::engine::general_purpose::STANDARD.encode(b"\xff\xff not CBOR"),
                "CBOR",
            ),
            (
                base64::engine::general_purpose::STANDARD.encode(trailing),
                "follow",
            ),
            (encode(&Value::Array(vec![])), "not a CBOR map"),
            (
                encode(&with_entry(object.clone(), "fmt", Some(text("packed")))),
                "fmt",
            ),
            (encode(&with_entry(object.clone(), "fmt", None)), "fmt"),
            (
                encode(&with_entry(object.clone(), "fmt", Some(Value::from(1)))),
                "fmt",
            ),
            (
                encode(&with_entry(object.clone(), "attStmt", None)),
                "attStmt",
            ),
            (
                encode(&with_entry(object.clone(), "attStmt", Some(Value::Null))),
                "attStmt",
            ),
            (
                encode(&with_entry(object.clone(), "authData", None)),
                "authData",
            ),
            (
                encode(&with_entry(object.clone(), "authData", Some(text("x")))),
                "authData",
            ),
            (encode(&with_statement_entry(&good, "x5c", None)), "x5c"),
            (
                encode(&with_statement_entry(
                    &good,
                    "x5c",
                    Some(Value::Array(vec![])),
                )),
                "x5c is empty",
            ),
            (
                encode(&with_statement_entry(
                    &good,
                    "x5c",
                    Some(Value::Bytes(vec![1])),
                )),
                "x5c is not an array",
            ),
            (
                encode(&with_statement_entry(
                    &good,
                    "x5c",
                    Some(Value::Array(vec![text("cert")])),
                )),
                "x5c[0]",
            ),
            (
                encode(&with_statement_entry(
                    &good,
                    "x5c",
                    Some(Value::Array(vec![
                        Value::Bytes(vec![1]);
                        MAX_CERTIFICATES + 1
                    ])),
                )),
                "more than",
            ),
            (
                encode(&with_statement_entry(&good, "receipt", None)),
                "receipt",
            ),
            (token(&bad_der), "x5c[1]"),
            (token(&der_with_junk), "x5c[0]"),
            (
                encode(&with_entry(
                    object.clone(),
                    "authData",
                    Some(Value::Bytes(vec![0; AUTH_DATA_FIXED_LEN - 1])),
                )),
                "fewer than",
            ),
            (
                encode(&with_entry(
                    object.clone(),
                    "authData",
                    Some(Value::Bytes(short_credential)),
                )),
                "credentialIdLength",
            ),
        ];
        for (token, part) in cases {
            let reason = malformed_reason(verify(&token));
            assert!(reason.contains(part), "`{part}` not in `{reason}`");
        }
    }

    #[test]
    fn a_duplicated_key_is_malformed() {
        let mut object = parts(&Flaws::default()).to_value();
        if let Value::Map(entries) = &mut object {
            entries.push((text("fmt"), text(STATEMENT_FORMAT)));
        }
        let reason = malformed_reason(verify(&encode(&object)));
        assert!(reason.contains("more than once"), "{reason}");
    }

    #[test]
    fn nonce_octets_read_only_the_exact_structure() {
        let nonce = [3u8; 32];
        let mut good = vec![0x30, 36, 0xA1, 34, 0x04, 32];
        good.extend_from_slice(&nonce);
        assert_eq!(nonce_octets(&good), Some(&nonce[..]));
        let mut long_form = vec![0x30, 0x81, 36, 0xA1, 34, 0x04, 32];
        long_form.extend_from_slice(&nonce);
        assert_eq!(nonce_octets(&long_form), Some(&nonce[..]));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(nonce_octets(&trailing), None);
        let mut wrong_tag = good.clone();
        wrong_tag[2] = 0xA0;
        assert_eq!(nonce_octets(&wrong_tag), None);
        assert_eq!(nonce_octets(&good[..20]), None);
        assert_eq!(nonce_octets(&[0x30, 0x85, 0, 0, 0, 0, 1]), None);
        assert_eq!(nonce_octets(&[]), None);
    }

    #[test]
    fn the_configuration_builds_verifiers() {
        let verifier =
            AppAttestVerifier::from_config_json(r#"{"environment":"production"}"#).expect("ok");
        assert_eq!(verifier.environment(), Environment::Production);
        assert_eq!(
            verifier.root_ca_der(),
            AppAttestVerifier::apple(Environment::Production).root_ca_der()
        );

        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(AUTHORITY.root_der())
        );
        let json = serde_json::json!({"environment": "development", "root_ca_pem": pem});
        let verifier = AppAttestVerifier::from_config_json(&json.to_string()).expect("ok");
        assert_eq!(verifier.environment(), Environment::Development);
        assert_eq!(verifier.root_ca_der(), AUTHORITY.root_der());
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Development);
        verify_with(&verifier, &token, &NONCE).expect("verifies with the configured root");

        let config = AppAttestConfig {
            environment: Environment::Production,
            root_ca_pem: None,
        };
        assert_eq!(
            serde_json::to_string(&config).expect("serialises"),
            r#"{"environment":"production"}"#
        );
    }

    #[test]
    fn configuration_errors_name_the_field() {
        let cases = [
            (r#"{"environment":"prod"}"#, "environment"),
            (r#"{"environment":1}"#, "environment"),
            (r#"{}"#, "."),
            (r#"{"environment":"production","extra":1}"#, "extra"),
            (
                r#"{"environment":"production","root_ca_pem":"junk"}"#,
                "root_ca_pem",
            ),
            (
                r#"{"environment":"production","root_ca_pem":7}"#,
                "root_ca_pem",
            ),
            (r#"{"environment":"production"} trailing"#, "."),
            ("not json", "."),
        ];
        for (json, field) in cases {
            let error = AppAttestVerifier::from_config_json(json).expect_err(json);
            assert_eq!(error.field, field, "{json}: {error}");
        }
        let error = AppAttestVerifier::from_config_json(r#"{}"#).expect_err("missing");
        assert!(error.problem.contains("environment"), "{error}");
        let two = format!(
            "{}{}",
            APPLE_APP_ATTESTATION_ROOT_CA_PEM, APPLE_APP_ATTESTATION_ROOT_CA_PEM
        );
        let json = serde_json::json!({"environment": "production", "root_ca_pem": two});
        let error = AppAttestVerifier::from_config_json(&json.to_string()).expect_err("two");
        assert_eq!(error.field, "root_ca_pem");
        assert!(error.problem.contains("found 2"), "{error}");
    }

    /// A valid attestation object's bytes, for mutation.
    static VALID_OBJECT: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let token = AUTHORITY.attestation(APP_ID, &NONCE, Environment::Production);
        base64::engine::general_purpose::STANDARD
            .decode(token)
            .expect("base64")
    });

    proptest! {
        #[test]
        fn arbitrary_strings_never_verify(token in ".{0,300}") {
            prop_assert!(verify(&token).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let token = base64::engine::general_purpose::STANDARD.encode(&bytes);
            prop_assert!(verify(&token).is_err());
        }

        #[test]
        fn arbitrary_cbor_maps_never_verify(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            header in prop_oneof![Just(0xA3u8), Just(0xA1), Just(0xBF), Just(0x58)],
        ) {
            let mut object = vec![header];
            object.extend_from_slice(&bytes);
            let token = base64::engine::general_purpose::STANDARD.encode(&object);
            prop_assert!(verify(&token).is_err());
        }

        /// Mutated real objects never panic; most fail (the receipt is not covered by any
        /// signature, so a change there still verifies).
        #[test]
        fn mutated_objects_never_panic(
            at in any::<proptest::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<proptest::sample::Index>(),
        ) {
            let mut object = VALID_OBJECT.clone();
            let at = at.index(object.len());
            object[at] = byte;
            object.truncate(cut.index(object.len() + 1).max(at + 1));
            let token = base64::engine::general_purpose::STANDARD.encode(&object);
            let _ = verify(&token);
        }
    }
}
