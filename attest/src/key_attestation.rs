//! Android hardware key attestation: the certificate chain of a key made in the Android
//! Keystore, in which the phone's secure hardware (its TEE or StrongBox) describes the key,
//! the app that asked for it and the device's boot state, under Google's hardware attestation
//! roots ([`KeyAttestationVerifier`], format `android_key_attestation`).
//!
//! Revocation is not checked: Google's certificate status list is not consulted.
//!
//! # The token
//!
//! The app generates a key in the Android Keystore with
//! `KeyGenParameterSpec.Builder.setAttestationChallenge(nonce)`, the 32 bytes of
//! [`Expected::nonce`] as they are, and sends the key's certificate chain as
//! `KeyStore.getCertificateChain(alias)` returns it, leaf first: each certificate's DER in
//! base64 (standard alphabet; the URL-safe alphabet and missing padding are accepted too), the
//! certificates joined with `.`:
//!
//! ```text
//! MIICvzCCAmagAwIBAgIBATAK….MIICLjCCAbSgAwIBAgIK….MIIFHDCCAwSgAwIBAgIJ…
//! ```
//!
//! At most [`MAX_CERTIFICATES`] certificates and [`MAX_TOKEN_BYTES`] bytes of text (whitespace
//! around the token and around each certificate is ignored). The chain may end with the root
//! certificate, as the Keystore returns it, or stop below it.
//!
//! The verifier follows Android's "Verify hardware-backed key pairs with key attestation".
//!
//! # What is checked, in this order
//!
//! Each check refuses with the [`AttestationError`] named; the first failing one is reported.
//!
//! 1. **Structure** ([`Malformed`](AttestationError::Malformed), naming the part): the token is
//!    not empty and not too long; it has one to [`MAX_CERTIFICATES`] `.`-separated parts, each
//!    the base64 of one DER X.509 certificate with nothing after it (`chain[i]`).
//! 2. **Chain** ([`NotAuthentic`](AttestationError::NotAuthentic), naming the certificate): if
//!    the last certificate is self-issued with the subject and the public key of a configured
//!    root, it is that root's copy and the configured root takes its place (Google has issued
//!    its RSA root several times with one key; a copy's own validity and signature are not
//!    read). Every other certificate is signed by the next one and the last of them by one of
//!    the configured roots ([Google's](GOOGLE_HARDWARE_ATTESTATION_ROOTS_PEM) unless replaced):
//!    RSA PKCS#1 v1.5 with SHA-256 (keys of 2048 to 8192 bits), or ECDSA on P-256 or P-384 with
//!    SHA-256 or SHA-384. Each names the next as its issuer; every issuer but the leaf's own, the
//!    root included, is a CA by its basic constraints, allows certificate signing if it has a
//!    key usage, and keeps its path length constraint; every certificate, the root included, is
//!    valid at [`Expected::now`]. The leaf's own issuer (the device's attestation key) need not
//!    be a CA: some factory-provisioned devices have one without CA basic constraints whose key
//!    usage allows digital signatures only (the recorded Sony Xperia 10 III chain of the tests).
//!    That is safe because the next check stops a chain extended below a real attested key: no
//!    certificate but the leaf may carry the key description extension.
//! 3. **Key description** ([`Malformed`](AttestationError::Malformed), naming the field): the
//!    leaf has exactly one extension [`KEY_DESCRIPTION_OID`], a `KeyDescription` read as BER (a
//!    `BOOLEAN` of any non-zero value is true, as some devices encode it) with its fields in
//!    order: `attestationVersion`, `attestationSecurityLevel`, `keyMintVersion`,
//!    `keyMintSecurityLevel`, `attestationChallenge`, `uniqueId`, `softwareEnforced`,
//!    `hardwareEnforced`, anything after them ignored. Every version reads the same way
//!    (attestation versions 1 to 4 of Keymaster, 100 to 400 of KeyMint 1 to 4, and later). The
//!    authorization lists are sequences of context-specific tags, unknown tags skipped; a tag
//!    read may appear once. `softwareEnforced` must have `attestationApplicationId` (`[709]`, an
//!    `OCTET STRING` holding DER `SEQUENCE { SET OF SEQUENCE { packageName OCTET STRING,
//!    version INTEGER }, SET OF OCTET STRING signatureDigests }`); `hardwareEnforced.rootOfTrust`
//!    (`[704]`, `SEQUENCE { verifiedBootKey OCTET STRING, deviceLocked BOOLEAN,
//!    verifiedBootState ENUMERATED, … }`) is read if present.
//! 4. **Nonce** ([`NonceMismatch`](AttestationError::NonceMismatch)): `attestationChallenge` is
//!    [`Expected::nonce`], byte for byte.
//! 5. **App** ([`WrongApp`](AttestationError::WrongApp), naming the packages found): one of the
//!    package names of `attestationApplicationId` is among [`Expected::android_packages`]; it is
//!    the attested app. (Apps sharing a user id are listed together.)
//! 6. **Signer** ([`NotTrusted`](AttestationError::NotTrusted)): if the configuration lists
//!    certificate digests, one of the `signatureDigests` (SHA-256 of the app's signing
//!    certificates) is among them.
//! 7. **Security level** ([`NotTrusted`](AttestationError::NotTrusted)): the lower of
//!    `attestationSecurityLevel` and `keyMintSecurityLevel` is `TrustedEnvironment` (1) or
//!    `StrongBox` (2), not `Software` (0); only `StrongBox` if the configuration requires it.
//! 8. **Root of trust** ([`NotTrusted`](AttestationError::NotTrusted), naming what was found):
//!    `hardwareEnforced.rootOfTrust` is present, its `verifiedBootState` is `Verified` (0) and
//!    `deviceLocked` is true. If the configuration allows an unlocked bootloader, an unlocked
//!    device and the `Unverified` state (what an unlocked device reports) are accepted;
//!    `SelfSigned` and `Failed` never are.
//!
//! The result names the matching package and, in its summary, the security level, the boot
//! state, the lock state and the Keymaster or KeyMint version, e.g. `TrustedEnvironment,
//! verified boot, locked, KeyMint v3`; [`KeyAttestationVerifier::verify_attestation`] returns
//! them as fields.
//!
//! # What it does not check
//!
//! - Revocation: Google's certificate status list
//!   (`https://android.googleapis.com/attestation/status`) is not fetched or read, so a chain
//!   whose attestation key Google has revoked (a leaked keybox) still verifies. A deployment can
//!   fetch the list and refuse chains with a revoked or suspended serial number.
//! - Google's current roots (`https://android.googleapis.com/attestation/root`) are not fetched:
//!   the roots are the built-in ones or the configured ones.
//! - The OS version and patch levels, `verifiedBootKey` and `verifiedBootHash` (which OS image
//!   booted), the device identifiers, the app's version, the key's own properties (purpose,
//!   algorithm, origin), `uniqueId`, `creationDateTime` and the remote provisioning extension.
//! - The attested key itself: it is not the device key being enrolled (the nonce binds that).
//! - Freshness beyond the nonce: the challenge must be single-use and short-lived on the server.
//! - Anything else of general X.509 path validation (name constraints, policies, unknown
//!   critical extensions).

use std::fmt;

use asn1_rs::{Any, BerParser, Class, FromBer, SequenceIterator, Tag};
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;

use crate::x509::{self, ChainRules, Signatures, parse_certificate, pem_certificates_der};
use crate::{
    AttestationError, AttestationVerifier, Attested, ConfigError, Expected, malformed,
    not_authentic,
};

/// The format name devices send with a key attestation certificate chain.
pub const FORMAT: &str = "android_key_attestation";

/// Google's hardware attestation roots, as Google publishes them at
/// <https://android.googleapis.com/attestation/root>: the RSA 4096 root with subject
/// `serialNumber=f92009e853b6b045` (valid 2022-03-20 to 2042-03-15; its key is the key of the
/// 2016 and 2019 certificates of that subject, which older chains end with) and the EC P-384
/// root `CN=Key Attestation CA1, OU=Android, O=Google LLC, C=US` (valid 2025-07-17 to
/// 2035-07-15), which signs remotely provisioned chains from February 2026. SHA-256
/// fingerprints of their DER:
/// `cedb1cb6dc896ae5ec797348bce9286753c2b38ee71ce0fbe34a9a1248800dfc` and
/// `6d9db4ce6c5c0b293166d08986e05774a8776ceb525d9e4329520de12ba4bcc0`.
pub const GOOGLE_HARDWARE_ATTESTATION_ROOTS_PEM: &str =
    include_str!("google_hardware_attestation_roots.pem");

/// The most certificates a token may hold (devices send three to five).
pub const MAX_CERTIFICATES: usize = 10;

/// The longest token accepted, in bytes of text (real chains are 3 to 7 KiB of base64).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The OID of the key description extension of the leaf certificate.
pub const KEY_DESCRIPTION_OID: &str = "1.3.6.1.4.1.11129.2.1.17";

/// `rootOfTrust`'s tag in an authorization list.
const TAG_ROOT_OF_TRUST: u32 = 704;
/// `attestationApplicationId`'s tag in an authorization list.
const TAG_ATTESTATION_APPLICATION_ID: u32 = 709;

const ROOT_OF_TRUST: &str = "hardwareEnforced.rootOfTrust [704]";
const APPLICATION_ID: &str = "softwareEnforced.attestationApplicationId [709]";

/// Where a key and its attestation live: the key description's `SecurityLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityLevel {
    /// `Software` (0): Android's software Keystore; attests to nothing about the device.
    Software,
    /// `TrustedEnvironment` (1): the device's TEE.
    TrustedEnvironment,
    /// `StrongBox` (2): a separate secure element.
    StrongBox,
}

impl SecurityLevel {
    /// The ASN.1 `ENUMERATED` value's name, as the summary shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::Software => "Software",
            SecurityLevel::TrustedEnvironment => "TrustedEnvironment",
            SecurityLevel::StrongBox => "StrongBox",
        }
    }

    /// The `ENUMERATED` value: 0, 1 or 2.
    pub fn value(self) -> u32 {
        match self {
            SecurityLevel::Software => 0,
            SecurityLevel::TrustedEnvironment => 1,
            SecurityLevel::StrongBox => 2,
        }
    }

    fn from_value(value: u32) -> Option<Self> {
        [
            SecurityLevel::Software,
            SecurityLevel::TrustedEnvironment,
            SecurityLevel::StrongBox,
        ]
        .into_iter()
        .find(|level| level.value() == value)
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The device's boot state: `rootOfTrust.verifiedBootState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerifiedBootState {
    /// `Verified` (0): the OS was verified with the manufacturer's key (green).
    Verified,
    /// `SelfSigned` (1): the OS was verified with a key the user installed (yellow).
    SelfSigned,
    /// `Unverified` (2): the OS was not verified, as on an unlocked device (orange).
    Unverified,
    /// `Failed` (3): verification failed (red).
    Failed,
}

impl VerifiedBootState {
    /// The ASN.1 `ENUMERATED` value's name.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifiedBootState::Verified => "Verified",
            VerifiedBootState::SelfSigned => "SelfSigned",
            VerifiedBootState::Unverified => "Unverified",
            VerifiedBootState::Failed => "Failed",
        }
    }

    /// The `ENUMERATED` value: 0 to 3.
    pub fn value(self) -> u32 {
        match self {
            VerifiedBootState::Verified => 0,
            VerifiedBootState::SelfSigned => 1,
            VerifiedBootState::Unverified => 2,
            VerifiedBootState::Failed => 3,
        }
    }

    fn from_value(value: u32) -> Option<Self> {
        [
            VerifiedBootState::Verified,
            VerifiedBootState::SelfSigned,
            VerifiedBootState::Unverified,
            VerifiedBootState::Failed,
        ]
        .into_iter()
        .find(|state| state.value() == value)
    }

    /// How the summary describes the boot: `verified boot`, `unverified boot`, …
    fn describe(self) -> &'static str {
        match self {
            VerifiedBootState::Verified => "verified boot",
            VerifiedBootState::SelfSigned => "self-signed boot",
            VerifiedBootState::Unverified => "unverified boot",
            VerifiedBootState::Failed => "failed boot",
        }
    }
}

impl fmt::Display for VerifiedBootState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The server's configuration of key attestation verification, e.g.
/// `{"require_strongbox": false, "allow_unlocked_bootloader": false,
/// "certificate_sha256_digests": []}`; every member is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttestationConfig {
    /// PEM certificates that replace Google's hardware attestation roots, for tests with a test
    /// authority. Absent in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots_pem: Option<String>,
    /// Whether the key must be in a StrongBox (a separate secure element), not the TEE.
    #[serde(default)]
    pub require_strongbox: bool,
    /// Whether an unlocked bootloader (and the `Unverified` boot state it reports) is accepted;
    /// for development devices only.
    #[serde(default)]
    pub allow_unlocked_bootloader: bool,
    /// SHA-256 digests of the app's signing certificates, one of which the attestation must
    /// name; empty: not checked. Each is 64 hex digits (colons between bytes allowed) or 32
    /// bytes of base64 or base64url.
    #[serde(default)]
    pub certificate_sha256_digests: Vec<String>,
    /// Whether a chain with a certificate outside its validity period is refused; off by
    /// default (see [`KeyAttestationVerifier::with_check_certificate_dates`]).
    #[serde(default)]
    pub check_certificate_dates: bool,
}

/// What a key attestation established, in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttestation {
    /// The attested package that is among [`Expected::android_packages`].
    pub package_name: String,
    /// The lower of `attestationSecurityLevel` and `keyMintSecurityLevel`.
    pub security_level: SecurityLevel,
    /// `rootOfTrust.verifiedBootState`.
    pub verified_boot_state: VerifiedBootState,
    /// `rootOfTrust.deviceLocked`: whether the bootloader is locked.
    pub device_locked: bool,
    /// `attestationVersion` (1 to 4 for Keymaster, 100, 200, … for KeyMint).
    pub attestation_version: u32,
    /// `keyMintVersion` (`keymasterVersion` before KeyMint): 0 to 4 and 41 for Keymaster 4.1,
    /// 100, 200, … for KeyMint 1, 2, …
    pub key_mint_version: u32,
}

impl KeyAttestation {
    /// The registry's view: format `android_key_attestation`, the package, and a summary such
    /// as `StrongBox, verified boot, locked, KeyMint v3`.
    pub fn attested(&self) -> Attested {
        Attested {
            format: FORMAT.to_string(),
            app_id: self.package_name.clone(),
            summary: format!(
                "{}, {}, {}, {}",
                self.security_level,
                self.verified_boot_state.describe(),
                if self.device_locked {
                    "locked"
                } else {
                    "unlocked"
                },
                keystore_version(self.key_mint_version)
            ),
        }
    }
}

/// `KeyMint v3` for 300, `Keymaster v4.1` for 41, `Keymaster v4` for 4.
fn keystore_version(key_mint_version: u32) -> String {
    match key_mint_version {
        version if version >= 100 && version % 100 == 0 => format!("KeyMint v{}", version / 100),
        41 => "Keymaster v4.1".to_string(),
        version @ 0..=4 => format!("Keymaster v{version}"),
        version => format!("keyMintVersion {version}"),
    }
}

/// Verifies Android key attestation certificate chains against a set of roots (Google's, or a
/// test authority's). See the [module documentation](self) for what is checked, in which
/// order, and what is not.
#[derive(Debug, Clone)]
pub struct KeyAttestationVerifier {
    roots_der: Vec<Vec<u8>>,
    require_strongbox: bool,
    allow_unlocked_bootloader: bool,
    certificate_digests: Vec<[u8; 32]>,
    check_certificate_dates: bool,
}

impl KeyAttestationVerifier {
    /// A verifier that trusts the DER certificates `roots_der`, requires a locked device with
    /// a verified boot, accepts the TEE and StrongBox, and does not check the app's signer.
    ///
    /// The roots are read at each verification: if one does not parse, every attestation is
    /// [`AttestationError::NotAuthentic`]. Use [`KeyAttestationVerifier::from_config`] to have
    /// them checked up front.
    pub fn new(roots_der: Vec<Vec<u8>>) -> Self {
        Self {
            roots_der,
            require_strongbox: false,
            allow_unlocked_bootloader: false,
            certificate_digests: Vec::new(),
            check_certificate_dates: false,
        }
    }

    /// A verifier that trusts Google's hardware attestation roots
    /// ([`GOOGLE_HARDWARE_ATTESTATION_ROOTS_PEM`], built into the crate), with the defaults of
    /// [`KeyAttestationVerifier::new`].
    pub fn google() -> Self {
        let roots = pem_certificates_der(GOOGLE_HARDWARE_ATTESTATION_ROOTS_PEM)
            .expect("the built-in Google hardware attestation roots are PEM certificates");
        Self::new(roots)
    }

    /// A verifier from the server's configuration: Google's roots unless `roots_pem` replaces
    /// them (one or more PEM certificates that parse), and the configuration's requirements.
    pub fn from_config(config: &KeyAttestationConfig) -> Result<Self, ConfigError> {
        let verifier = match &config.roots_pem {
            None => Self::google(),
            Some(pem) => Self::new(
                pem_certificates_der(pem)
                    .map_err(|problem| ConfigError::new("roots_pem", problem))?,
            ),
        };
        let digests = parse_digests(&config.certificate_sha256_digests)?;
        Ok(verifier
            .with_require_strongbox(config.require_strongbox)
            .with_allow_unlocked_bootloader(config.allow_unlocked_bootloader)
            .with_certificate_sha256_digests(digests)
            .with_check_certificate_dates(config.check_certificate_dates))
    }

    /// A verifier from the JSON form of [`KeyAttestationConfig`], e.g. `{}` for Google's roots
    /// and the defaults; errors name the field at fault.
    pub fn from_config_json(json: &str) -> Result<Self, ConfigError> {
        Self::from_config(&crate::read_config(json)?)
    }

    /// The same verifier, requiring a StrongBox key (`true`) or accepting the TEE too.
    pub fn with_require_strongbox(mut self, require: bool) -> Self {
        self.require_strongbox = require;
        self
    }

    /// The same verifier, accepting an unlocked bootloader and the `Unverified` boot state
    /// (`true`) or not.
    pub fn with_allow_unlocked_bootloader(mut self, allow: bool) -> Self {
        self.allow_unlocked_bootloader = allow;
        self
    }

    /// The same verifier, requiring one of these SHA-256 digests of the app's signing
    /// certificate among the attested ones (none: not checked).
    pub fn with_certificate_sha256_digests(mut self, digests: Vec<[u8; 32]>) -> Self {
        self.certificate_digests = digests;
        self
    }

    /// The same verifier, refusing a chain with a certificate outside its validity period
    /// (`true`), or not looking at the dates (the default, as Google's own verifier: phones
    /// made years ago carry factory intermediates that have since expired, and a leaf is dated
    /// by the phone's clock; Google withdraws keys through its revocation list instead).
    pub fn with_check_certificate_dates(mut self, check: bool) -> Self {
        self.check_certificate_dates = check;
        self
    }

    /// The DER of the root certificates this verifier trusts.
    pub fn roots_der(&self) -> &[Vec<u8>] {
        &self.roots_der
    }

    /// Verifies `token` like [`AttestationVerifier::verify`] and returns everything it
    /// established.
    pub fn verify_attestation(
        &self,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<KeyAttestation, AttestationError> {
        let chain_der = decode_token(token)?;
        let certificates = parse_certificates(&chain_der)?;
        let roots = parse_roots(&self.roots_der)?;
        let chain = without_root_copy(&certificates, &roots);
        verify_chain(
            chain,
            &roots,
            expected.now.timestamp(),
            self.check_certificate_dates,
        )?;
        let description = leaf_key_description(chain)?;
        check_nonce(&description, expected.nonce)?;
        let package_name =
            matching_package(&description.application_id, expected.android_packages)?;
        self.check_signer(&description.application_id)?;
        let security_level = self.check_security_level(&description)?;
        let root_of_trust = self.check_root_of_trust(description.root_of_trust)?;
        Ok(KeyAttestation {
            package_name,
            security_level,
            verified_boot_state: root_of_trust.verified_boot_state,
            device_locked: root_of_trust.device_locked,
            attestation_version: description.attestation_version,
            key_mint_version: description.key_mint_version,
        })
    }

    /// Step 6: one of the attested signing certificates is a configured one.
    fn check_signer(&self, application_id: &ApplicationId) -> Result<(), AttestationError> {
        if self.certificate_digests.is_empty() {
            return Ok(());
        }
        let found = &application_id.signature_digests;
        if found.iter().any(|digest| {
            self.certificate_digests
                .iter()
                .any(|known| known[..] == digest[..])
        }) {
            return Ok(());
        }
        let found: Vec<String> = found.iter().map(|digest| hex(digest)).collect();
        Err(AttestationError::NotTrusted {
            verdict: format!(
                "attestationApplicationId.signatureDigests: {} (none is a configured signing \
                 certificate)",
                list_or_none(&found)
            ),
        })
    }

    /// Step 7: the key is in secure hardware (a StrongBox, if required). Returns the lower of
    /// the two levels.
    fn check_security_level(
        &self,
        description: &KeyDescription,
    ) -> Result<SecurityLevel, AttestationError> {
        let level = description
            .attestation_security_level
            .min(description.key_mint_security_level);
        let required = if self.require_strongbox {
            SecurityLevel::StrongBox
        } else {
            SecurityLevel::TrustedEnvironment
        };
        if level >= required {
            return Ok(level);
        }
        Err(AttestationError::NotTrusted {
            verdict: format!(
                "attestationSecurityLevel {}, keyMintSecurityLevel {} ({} is required)",
                description.attestation_security_level,
                description.key_mint_security_level,
                if self.require_strongbox {
                    "StrongBox"
                } else {
                    "TrustedEnvironment or StrongBox"
                }
            ),
        })
    }

    /// Step 8: the device booted a verified OS with its bootloader locked (or unlocked, if
    /// allowed).
    fn check_root_of_trust(
        &self,
        root_of_trust: Option<RootOfTrust>,
    ) -> Result<RootOfTrust, AttestationError> {
        let Some(root_of_trust) = root_of_trust else {
            return Err(AttestationError::NotTrusted {
                verdict: format!("{ROOT_OF_TRUST} is absent: the boot state is not attested"),
            });
        };
        let state = root_of_trust.verified_boot_state;
        let accepted = match (state, root_of_trust.device_locked) {
            (VerifiedBootState::Verified, true) => true,
            (VerifiedBootState::Verified | VerifiedBootState::Unverified, _) => {
                self.allow_unlocked_bootloader
            }
            _ => false,
        };
        if accepted {
            return Ok(root_of_trust);
        }
        Err(AttestationError::NotTrusted {
            verdict: format!(
                "verifiedBootState {state}, deviceLocked {} ({})",
                root_of_trust.device_locked,
                if self.allow_unlocked_bootloader {
                    "Verified or Unverified is required"
                } else {
                    "a Verified boot of a locked device is required"
                }
            ),
        })
    }
}

impl AttestationVerifier for KeyAttestationVerifier {
    fn format(&self) -> &str {
        FORMAT
    }

    fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Attested, AttestationError> {
        self.verify_attestation(token, expected)
            .map(|attestation| attestation.attested())
    }
}

/// The configuration's digests, each 32 bytes.
fn parse_digests(digests: &[String]) -> Result<Vec<[u8; 32]>, ConfigError> {
    digests
        .iter()
        .enumerate()
        .map(|(index, text)| {
            crate::parse_sha256_digest(text).ok_or_else(|| {
                ConfigError::new(
                    format!("certificate_sha256_digests[{index}]"),
                    format!(
                        "a SHA-256 digest (64 hex digits, colons allowed, or 32 bytes of base64 \
                         or base64url), found {text:?}"
                    ),
                )
            })
        })
        .collect()
}

/// What a certificate is called in errors: its place in the chain.
fn certificate_name(index: usize) -> String {
    if index == 0 {
        "chain[0] (the leaf)".to_string()
    } else {
        format!("chain[{index}]")
    }
}

/// Step 1: the DER of each certificate of the token.
fn decode_token(token: &str) -> Result<Vec<Vec<u8>>, AttestationError> {
    let token = token.trim_ascii();
    if token.is_empty() {
        return Err(malformed("the token is empty"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed(format!(
            "the token has {} bytes, more than the {MAX_TOKEN_BYTES} accepted",
            token.len()
        )));
    }
    let parts: Vec<&str> = token.split('.').map(str::trim_ascii).collect();
    if parts.len() > MAX_CERTIFICATES {
        return Err(malformed(format!(
            "the token has {} certificates, more than the {MAX_CERTIFICATES} accepted",
            parts.len()
        )));
    }
    parts
        .iter()
        .enumerate()
        .map(|(index, part)| {
            if part.is_empty() {
                return Err(malformed(format!("chain[{index}] is empty")));
            }
            x509::decode_base64(part)
                .map_err(|error| malformed(format!("chain[{index}] is not base64: {error}")))
        })
        .collect()
}

/// Step 1: each certificate parses, with nothing after it.
fn parse_certificates(chain_der: &[Vec<u8>]) -> Result<Vec<X509Certificate<'_>>, AttestationError> {
    chain_der
        .iter()
        .enumerate()
        .map(|(index, der)| {
            parse_certificate(der)
                .map_err(|error| malformed(format!("{} {error}", certificate_name(index))))
        })
        .collect()
}

fn parse_roots(roots_der: &[Vec<u8>]) -> Result<Vec<X509Certificate<'_>>, AttestationError> {
    if roots_der.is_empty() {
        return Err(not_authentic("no root certificate is configured"));
    }
    roots_der
        .iter()
        .enumerate()
        .map(|(index, der)| {
            parse_certificate(der)
                .map_err(|error| not_authentic(format!("configured root {index} {error}")))
        })
        .collect()
}

/// The chain without its last certificate if that is a copy of a configured root (step 2).
fn without_root_copy<'c, 'a>(
    certificates: &'c [X509Certificate<'a>],
    roots: &[X509Certificate<'_>],
) -> &'c [X509Certificate<'a>] {
    match certificates.split_last() {
        Some((last, rest)) if !rest.is_empty() && is_root_copy(last, roots) => rest,
        _ => certificates,
    }
}

/// `certificate` is self-issued and has the subject and public key of one of `roots`.
fn is_root_copy(certificate: &X509Certificate<'_>, roots: &[X509Certificate<'_>]) -> bool {
    let subject = certificate.subject().as_raw();
    subject == certificate.issuer().as_raw()
        && roots.iter().any(|root| {
            root.subject().as_raw() == subject
                && root.public_key().raw == certificate.public_key().raw
        })
}

/// Step 2: the chain verifies up to a root (at `now` when `check_dates`), and only its leaf
/// has a key description.
fn verify_chain(
    chain: &[X509Certificate<'_>],
    roots: &[X509Certificate<'_>],
    now: i64,
    check_dates: bool,
) -> Result<(), AttestationError> {
    let rules = ChainRules {
        signatures: Signatures::EcdsaOrRsa,
        name: &certificate_name,
        leaf_issuer_may_be_end_entity: true,
        check_dates,
    };
    x509::verify_chain(chain, roots, now, &rules)?;
    for (index, certificate) in chain.iter().enumerate().skip(1) {
        if has_key_description(certificate) {
            return Err(not_authentic(format!(
                "{} has a key description extension {KEY_DESCRIPTION_OID}; only the leaf may",
                certificate_name(index)
            )));
        }
    }
    Ok(())
}

fn has_key_description(certificate: &X509Certificate<'_>) -> bool {
    certificate
        .extensions()
        .iter()
        .any(|extension| extension.oid.to_id_string() == KEY_DESCRIPTION_OID)
}

/// Step 3: the leaf's key description.
fn leaf_key_description(chain: &[X509Certificate<'_>]) -> Result<KeyDescription, AttestationError> {
    let Some(leaf) = chain.first() else {
        return Err(malformed("the chain is empty"));
    };
    let mut extensions = leaf
        .extensions()
        .iter()
        .filter(|extension| extension.oid.to_id_string() == KEY_DESCRIPTION_OID);
    let extension = match (extensions.next(), extensions.next()) {
        (Some(extension), None) => extension,
        (None, _) => {
            return Err(malformed(format!(
                "chain[0] (the leaf) has no key description extension {KEY_DESCRIPTION_OID}"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(malformed(format!(
                "chain[0] (the leaf) has the key description extension {KEY_DESCRIPTION_OID} \
                 twice"
            )));
        }
    };
    KeyDescription::parse(extension.value).map_err(|reason| {
        malformed(format!(
            "the leaf's key description (extension {KEY_DESCRIPTION_OID}): {reason}"
        ))
    })
}

/// Step 4: the challenge is the nonce.
fn check_nonce(description: &KeyDescription, nonce: &[u8; 32]) -> Result<(), AttestationError> {
    if description.attestation_challenge == nonce[..] {
        Ok(())
    } else {
        Err(AttestationError::NonceMismatch)
    }
}

/// Step 5: the attested package that the organisation allows.
fn matching_package(
    application_id: &ApplicationId,
    allowed: &[String],
) -> Result<String, AttestationError> {
    application_id
        .packages
        .iter()
        .find(|package| allowed.contains(package))
        .cloned()
        .ok_or_else(|| AttestationError::WrongApp {
            app_id: list_or_none(&application_id.packages),
        })
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What the verifier reads of a `KeyDescription`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyDescription {
    pub(crate) attestation_version: u32,
    pub(crate) attestation_security_level: SecurityLevel,
    pub(crate) key_mint_version: u32,
    pub(crate) key_mint_security_level: SecurityLevel,
    pub(crate) attestation_challenge: Vec<u8>,
    pub(crate) application_id: ApplicationId,
    /// From `hardwareEnforced` only.
    pub(crate) root_of_trust: Option<RootOfTrust>,
}

/// `attestationApplicationId`: the packages of the app's user id and its signers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApplicationId {
    pub(crate) packages: Vec<String>,
    pub(crate) signature_digests: Vec<Vec<u8>>,
}

/// What the verifier reads of `rootOfTrust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RootOfTrust {
    pub(crate) device_locked: bool,
    pub(crate) verified_boot_state: VerifiedBootState,
}

impl KeyDescription {
    /// Reads a `KeyDescription` (BER) with nothing after it; the error names the field.
    pub(crate) fn parse(ber: &[u8]) -> Result<Self, String> {
        let description = single_element(ber).map_err(|error| format!("the SEQUENCE {error}"))?;
        let mut fields = Fields::of(&description, "the KeyDescription SEQUENCE")?;
        let attestation_version =
            u32_field(&fields.next("attestationVersion")?, "attestationVersion")?;
        let attestation_security_level = security_level(
            &fields.next("attestationSecurityLevel")?,
            "attestationSecurityLevel",
        )?;
        let key_mint_version = u32_field(&fields.next("keyMintVersion")?, "keyMintVersion")?;
        let key_mint_security_level = security_level(
            &fields.next("keyMintSecurityLevel")?,
            "keyMintSecurityLevel",
        )?;
        let attestation_challenge = octets(
            &fields.next("attestationChallenge")?,
            "attestationChallenge",
        )?
        .to_vec();
        octets(&fields.next("uniqueId")?, "uniqueId")?;
        let software =
            AuthorizationList::parse(&fields.next("softwareEnforced")?, "softwareEnforced")?;
        let hardware =
            AuthorizationList::parse(&fields.next("hardwareEnforced")?, "hardwareEnforced")?;
        let Some(application_id) = software.attestation_application_id else {
            return Err(format!("{APPLICATION_ID} is absent"));
        };
        Ok(Self {
            attestation_version,
            attestation_security_level,
            key_mint_version,
            key_mint_security_level,
            attestation_challenge,
            application_id: ApplicationId::parse(&application_id)?,
            root_of_trust: hardware
                .root_of_trust
                .map(|value| RootOfTrust::parse(&value))
                .transpose()?,
        })
    }
}

/// The entries of an authorization list that the verifier reads, still unparsed.
#[derive(Default)]
struct AuthorizationList<'a> {
    root_of_trust: Option<Any<'a>>,
    attestation_application_id: Option<Any<'a>>,
}

impl<'a> AuthorizationList<'a> {
    /// Reads the SEQUENCE of `[tag] EXPLICIT` entries `list`, called `what` in errors; unknown
    /// tags are skipped, a tag read here may appear once.
    fn parse(list: &Any<'a>, what: &str) -> Result<Self, String> {
        check_constructed(list, Tag::Sequence, what)?;
        let mut read = Self::default();
        for entry in SequenceIterator::<Any<'a>, BerParser>::new(list.data) {
            let entry =
                entry.map_err(|error| format!("{what} has an entry that is not BER: {error}"))?;
            if entry.class() != Class::ContextSpecific {
                return Err(format!(
                    "{what} has an entry that is not a context-specific tag ({})",
                    entry.tag()
                ));
            }
            let number = entry.tag().0;
            let slot = match number {
                TAG_ROOT_OF_TRUST => &mut read.root_of_trust,
                TAG_ATTESTATION_APPLICATION_ID => &mut read.attestation_application_id,
                _ => continue,
            };
            let value = explicit_value(&entry)
                .map_err(|error| format!("{what}'s entry [{number}] {error}"))?;
            if slot.replace(value).is_some() {
                return Err(format!("{what} has the entry [{number}] twice"));
            }
        }
        Ok(read)
    }
}

impl ApplicationId {
    /// Reads `[709]`'s `OCTET STRING` and the DER `AttestationApplicationId` in it.
    fn parse(value: &Any<'_>) -> Result<Self, String> {
        let der = octets(value, APPLICATION_ID)?;
        let id =
            single_element(der).map_err(|error| format!("{APPLICATION_ID}'s SEQUENCE {error}"))?;
        let mut fields = Fields::of(&id, APPLICATION_ID)?;
        let packages = fields.next("package infos")?;
        let digests = fields.next("signature digests")?;
        Ok(Self {
            packages: set_items(&packages, &format!("{APPLICATION_ID}'s package infos"))?
                .iter()
                .enumerate()
                .map(|(index, info)| package_name(info, index))
                .collect::<Result<_, _>>()?,
            signature_digests: set_items(
                &digests,
                &format!("{APPLICATION_ID}'s signature digests"),
            )?
            .iter()
            .enumerate()
            .map(|(index, digest)| {
                octets(
                    digest,
                    &format!("{APPLICATION_ID}'s signature digest {index}"),
                )
                .map(<[u8]>::to_vec)
            })
            .collect::<Result<_, _>>()?,
        })
    }
}

/// The `packageName` of `AttestationPackageInfo ::= SEQUENCE { packageName OCTET STRING,
/// version INTEGER }`, as UTF-8.
fn package_name(info: &Any<'_>, index: usize) -> Result<String, String> {
    let what = format!("{APPLICATION_ID}'s package info {index}");
    let mut fields = Fields::of(info, &what)?;
    let name = octets(
        &fields.next("packageName")?,
        &format!("{what}'s packageName"),
    )?;
    let version = fields.next("version")?;
    if version.as_integer().is_err() {
        return Err(format!("{what}'s version is not an INTEGER"));
    }
    String::from_utf8(name.to_vec()).map_err(|_| format!("{what}'s packageName is not UTF-8"))
}

impl RootOfTrust {
    /// Reads `SEQUENCE { verifiedBootKey OCTET STRING, deviceLocked BOOLEAN,
    /// verifiedBootState ENUMERATED, … }`; `verifiedBootHash` and anything after are ignored.
    fn parse(value: &Any<'_>) -> Result<Self, String> {
        let mut fields = Fields::of(value, ROOT_OF_TRUST)?;
        octets(
            &fields.next("verifiedBootKey")?,
            &format!("{ROOT_OF_TRUST}'s verifiedBootKey"),
        )?;
        let locked = fields.next("deviceLocked")?;
        let device_locked = locked
            .as_bool()
            .map_err(|_| format!("{ROOT_OF_TRUST}'s deviceLocked is not a BOOLEAN"))?;
        let state = fields.next("verifiedBootState")?;
        let state = enumerated(&state, &format!("{ROOT_OF_TRUST}'s verifiedBootState"))?;
        let verified_boot_state = VerifiedBootState::from_value(state)
            .ok_or_else(|| format!("{ROOT_OF_TRUST}'s verifiedBootState is {state}, not 0 to 3"))?;
        Ok(Self {
            device_locked,
            verified_boot_state,
        })
    }
}

/// The elements of a SEQUENCE, read in order.
struct Fields<'a> {
    items: SequenceIterator<'a, Any<'a>, BerParser>,
    what: String,
}

impl<'a> Fields<'a> {
    /// The fields of `sequence`, called `what` in errors.
    fn of(sequence: &Any<'a>, what: &str) -> Result<Self, String> {
        check_constructed(sequence, Tag::Sequence, what)?;
        Ok(Self {
            items: SequenceIterator::new(sequence.data),
            what: what.to_string(),
        })
    }

    /// The next field, `name`.
    fn next(&mut self, name: &str) -> Result<Any<'a>, String> {
        match self.items.next() {
            Some(Ok(field)) => Ok(field),
            Some(Err(error)) => Err(format!("{}'s {name} is not BER: {error}", self.what)),
            None => Err(format!("{} ends before {name}", self.what)),
        }
    }
}

/// One BER element that is all of `ber`.
fn single_element(ber: &[u8]) -> Result<Any<'_>, String> {
    match Any::from_ber(ber) {
        Ok(([], element)) => Ok(element),
        Ok((rest, _)) => Err(format!("is followed by {} bytes", rest.len())),
        Err(error) => Err(format!("is not BER: {error}")),
    }
}

/// The value inside `[n] EXPLICIT`: one element, nothing after it.
fn explicit_value<'a>(entry: &Any<'a>) -> Result<Any<'a>, String> {
    if !entry.header.is_constructed() {
        return Err("is not EXPLICIT (not constructed)".to_string());
    }
    single_element(entry.data)
}

/// The items of a SET OF.
fn set_items<'a>(set: &Any<'a>, what: &str) -> Result<Vec<Any<'a>>, String> {
    check_constructed(set, Tag::Set, what)?;
    SequenceIterator::<Any<'a>, BerParser>::new(set.data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{what} has an item that is not BER: {error}"))
}

fn check_constructed(value: &Any<'_>, tag: Tag, what: &str) -> Result<(), String> {
    if value.class() == Class::Universal && value.tag() == tag && value.header.is_constructed() {
        Ok(())
    } else {
        Err(format!("{what} is not a {tag}, found {}", value.tag()))
    }
}

fn u32_field(value: &Any<'_>, what: &str) -> Result<u32, String> {
    value
        .as_u32()
        .map_err(|_| format!("{what} is not an INTEGER from 0 to 4294967295"))
}

fn enumerated(value: &Any<'_>, what: &str) -> Result<u32, String> {
    value
        .as_enumerated()
        .map(|enumerated| enumerated.0)
        .map_err(|_| format!("{what} is not an ENUMERATED"))
}

fn security_level(value: &Any<'_>, what: &str) -> Result<SecurityLevel, String> {
    let level = enumerated(value, what)?;
    SecurityLevel::from_value(level).ok_or_else(|| {
        format!("{what} is {level}, not 0 (Software), 1 (TrustedEnvironment) or 2 (StrongBox)")
    })
}

/// The contents of a primitive OCTET STRING.
fn octets<'a>(value: &Any<'a>, what: &str) -> Result<&'a [u8], String> {
    if value.class() == Class::Universal
        && value.tag() == Tag::OctetString
        && value.header.is_primitive()
    {
        Ok(value.data)
    } else {
        Err(format!("{what} is not an OCTET STRING"))
    }
}

/// A test keystore: makes key attestation chains that verify against its own root, for tests of
/// the server and the SDK (cargo feature `test-tokens`).
#[cfg(any(test, feature = "test-tokens"))]
pub mod testing {
    use asn1_rs::{
        Any, Boolean, Class, Enumerated, Header, Integer, Length, OctetString, Tag, ToDer,
    };
    use base64::Engine as _;
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
        KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, date_time_ymd,
    };

    use super::{
        KeyAttestationVerifier, SecurityLevel, TAG_ATTESTATION_APPLICATION_ID, TAG_ROOT_OF_TRUST,
        VerifiedBootState,
    };

    /// The key description extension's OID, as rcgen takes it.
    const KEY_DESCRIPTION_ARCS: [u64; 10] = [1, 3, 6, 1, 4, 1, 11129, 2, 1, 17];

    /// A root (P-384) and an intermediate (P-256) made for the test, standing in for Google's
    /// root and a device's attestation key. Both are valid from 2020 to 2100.
    pub struct TestKeystore {
        root_der: Vec<u8>,
        intermediate_der: Vec<u8>,
        intermediate: Issuer<'static, KeyPair>,
    }

    impl std::fmt::Debug for TestKeystore {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TestKeystore").finish_non_exhaustive()
        }
    }

    /// What the leaf's extension holds.
    #[derive(Debug, Clone)]
    pub(crate) enum Extension {
        /// The key description of the [`Leaf`]'s fields.
        Encoded,
        /// These bytes.
        #[cfg(test)]
        Raw(Vec<u8>),
        /// No key description extension.
        #[cfg(test)]
        Absent,
    }

    /// The leaf of a chain: what its key description says, and deviations from a correct one.
    #[derive(Debug, Clone)]
    pub(crate) struct Leaf {
        pub(crate) packages: Vec<String>,
        pub(crate) challenge: Vec<u8>,
        pub(crate) security_level: SecurityLevel,
        pub(crate) key_mint_security_level: SecurityLevel,
        pub(crate) verified_boot: VerifiedBootState,
        pub(crate) locked: bool,
        pub(crate) attestation_version: u32,
        pub(crate) key_mint_version: u32,
        pub(crate) signature_digests: Vec<Vec<u8>>,
        pub(crate) extension: Extension,
        /// A leaf that expired on 2021-01-01.
        pub(crate) expired: bool,
        /// Whether the chain ends with the root's certificate, as the Keystore returns it.
        pub(crate) with_root: bool,
    }

    impl Leaf {
        /// A correct leaf of KeyMint 3 for `package`, made for `challenge`.
        pub(crate) fn new(
            package: &str,
            challenge: &[u8],
            security_level: SecurityLevel,
            verified_boot: VerifiedBootState,
            locked: bool,
        ) -> Self {
            Self {
                packages: vec![package.to_string()],
                challenge: challenge.to_vec(),
                security_level,
                key_mint_security_level: security_level,
                verified_boot,
                locked,
                attestation_version: 300,
                key_mint_version: 300,
                signature_digests: vec![TEST_SIGNATURE_DIGEST.to_vec()],
                extension: Extension::Encoded,
                expired: false,
                with_root: true,
            }
        }
    }

    /// The signing certificate digest the test keystore's attestations name.
    pub const TEST_SIGNATURE_DIGEST: [u8; 32] = [0x5a; 32];

    impl TestKeystore {
        /// A new keystore with fresh keys.
        ///
        /// # Panics
        ///
        /// If the certificates cannot be made (a bug of this helper, not of its caller).
        pub fn generate() -> Self {
            let root_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("P-384 key");
            let root_params = ca_params("daka test Key Attestation Root");
            let root_der = root_params
                .self_signed(&root_key)
                .expect("root certificate")
                .der()
                .to_vec();
            let root = Issuer::new(root_params, root_key);
            let intermediate_key =
                KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
            let intermediate_params = ca_params("daka test TEE attestation key");
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

        /// The DER of the keystore's root certificate, the only one.
        pub fn roots_der(&self) -> Vec<Vec<u8>> {
            vec![self.root_der.clone()]
        }

        /// The keystore's root certificate in PEM, for a configuration's `roots_pem`.
        pub fn roots_pem(&self) -> String {
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                base64::engine::general_purpose::STANDARD.encode(&self.root_der)
            )
        }

        /// A verifier with the defaults of [`KeyAttestationVerifier::new`] that trusts this
        /// keystore's root.
        pub fn verifier(&self) -> KeyAttestationVerifier {
            KeyAttestationVerifier::new(self.roots_der())
        }

        /// A token as an app sends it (leaf, intermediate and root, `.`-joined base64) for a
        /// new key of `package` made with `nonce` as its attestation challenge, at
        /// `security_level`, on a device with `verified_boot` and its bootloader `locked` or
        /// not. The key description is of KeyMint 3 and names [`TEST_SIGNATURE_DIGEST`].
        ///
        /// # Panics
        ///
        /// If the certificate cannot be made (a bug of this helper, not of its caller).
        pub fn chain(
            &self,
            package: &str,
            nonce: &[u8; 32],
            security_level: SecurityLevel,
            verified_boot: VerifiedBootState,
            locked: bool,
        ) -> String {
            let leaf = Leaf::new(package, nonce, security_level, verified_boot, locked);
            token(&self.chain_der(&leaf))
        }

        /// The DER certificates of a chain with `leaf`, leaf first.
        pub(crate) fn chain_der(&self, leaf: &Leaf) -> Vec<Vec<u8>> {
            let (params, key) = leaf_params(leaf);
            let certificate = params
                .signed_by(&key, &self.intermediate)
                .expect("leaf certificate");
            self.with_issuers(certificate.der().to_vec(), leaf.with_root)
        }

        /// A chain extended below a real attested key: a leaf with `forged`'s key description
        /// signed by the key of a correct leaf with `genuine`'s, which follows it.
        #[cfg(test)]
        pub(crate) fn extended_chain(&self, genuine: &Leaf, forged: &Leaf) -> Vec<Vec<u8>> {
            let (genuine_params, genuine_key) = leaf_params(genuine);
            let genuine_der = genuine_params
                .signed_by(&genuine_key, &self.intermediate)
                .expect("genuine leaf")
                .der()
                .to_vec();
            let genuine_issuer = Issuer::new(genuine_params, genuine_key);
            let (forged_params, forged_key) = leaf_params(forged);
            let forged_der = forged_params
                .signed_by(&forged_key, &genuine_issuer)
                .expect("forged leaf")
                .der()
                .to_vec();
            let mut chain = vec![forged_der];
            chain.extend(self.with_issuers(genuine_der, true));
            chain
        }

        fn with_issuers(&self, leaf_der: Vec<u8>, with_root: bool) -> Vec<Vec<u8>> {
            let mut chain = vec![leaf_der, self.intermediate_der.clone()];
            if with_root {
                chain.push(self.root_der.clone());
            }
            chain
        }
    }

    /// The certificates as a token: standard base64 with padding, joined with `.`.
    pub(crate) fn token(chain_der: &[Vec<u8>]) -> String {
        chain_der
            .iter()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn ca_params(common_name: &str) -> CertificateParams {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "daka tests");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2100, 1, 1);
        params
    }

    /// The leaf's certificate parameters and a new P-256 key, as the Keystore makes them.
    fn leaf_params(leaf: &Leaf) -> (CertificateParams, KeyPair) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "Android Keystore Key");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = if leaf.expired {
            date_time_ymd(2021, 1, 1)
        } else {
            date_time_ymd(2100, 1, 1)
        };
        let content = match &leaf.extension {
            Extension::Encoded => Some(key_description(leaf)),
            #[cfg(test)]
            Extension::Raw(bytes) => Some(bytes.clone()),
            #[cfg(test)]
            Extension::Absent => None,
        };
        if let Some(content) = content {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &KEY_DESCRIPTION_ARCS,
                    content,
                ));
        }
        (params, key)
    }

    /// The DER `KeyDescription` of `leaf`, with the authorizations a Keystore key has (most of
    /// which the verifier skips).
    pub(crate) fn key_description(leaf: &Leaf) -> Vec<u8> {
        let software = sequence(&[
            explicit(701, &integer(1_767_225_600_000)),
            explicit(
                TAG_ATTESTATION_APPLICATION_ID,
                &octet_string(&application_id(leaf)),
            ),
        ]);
        let hardware = sequence(&[
            explicit(1, &set(&[integer(2), integer(3)])),
            explicit(2, &integer(3)),
            explicit(3, &integer(256)),
            explicit(702, &integer(0)),
            explicit(TAG_ROOT_OF_TRUST, &root_of_trust(leaf)),
            explicit(705, &integer(160_000)),
            explicit(706, &integer(202_601)),
        ]);
        sequence(&[
            integer(leaf.attestation_version.into()),
            enumerated(leaf.security_level.value()),
            integer(leaf.key_mint_version.into()),
            enumerated(leaf.key_mint_security_level.value()),
            octet_string(&leaf.challenge),
            octet_string(b""),
            software,
            hardware,
        ])
    }

    /// DER `AttestationApplicationId` of the leaf's packages and digests.
    pub(crate) fn application_id(leaf: &Leaf) -> Vec<u8> {
        let packages: Vec<Vec<u8>> = leaf
            .packages
            .iter()
            .map(|name| sequence(&[octet_string(name.as_bytes()), integer(7)]))
            .collect();
        let digests: Vec<Vec<u8>> = leaf
            .signature_digests
            .iter()
            .map(|digest| octet_string(digest))
            .collect();
        sequence(&[set(&packages), set(&digests)])
    }

    /// DER `RootOfTrust`, with `verifiedBootHash` from attestation version 3.
    fn root_of_trust(leaf: &Leaf) -> Vec<u8> {
        let mut fields = vec![
            octet_string(&[0x11; 32]),
            boolean(leaf.locked),
            enumerated(leaf.verified_boot.value()),
        ];
        if leaf.attestation_version >= 3 {
            fields.push(octet_string(&[0x22; 32]));
        }
        sequence(&fields)
    }

    fn der(value: &impl ToDer) -> Vec<u8> {
        value.to_der_vec().expect("DER encodes into a Vec")
    }

    /// DER `INTEGER`.
    pub(crate) fn integer(value: u64) -> Vec<u8> {
        der(&Integer::from_u64(value))
    }

    /// DER `ENUMERATED`.
    pub(crate) fn enumerated(value: u32) -> Vec<u8> {
        der(&Enumerated::new(value))
    }

    /// DER `OCTET STRING`.
    pub(crate) fn octet_string(bytes: &[u8]) -> Vec<u8> {
        der(&OctetString::new(bytes))
    }

    /// DER `BOOLEAN`.
    pub(crate) fn boolean(value: bool) -> Vec<u8> {
        der(&Boolean::new(if value { 0xff } else { 0 }))
    }

    /// DER `SEQUENCE` of the encoded `items`.
    pub(crate) fn sequence(items: &[Vec<u8>]) -> Vec<u8> {
        der(&Any::from_tag_and_data(Tag::Sequence, &items.concat()))
    }

    /// DER `SET` of the encoded `items`, in the order given.
    pub(crate) fn set(items: &[Vec<u8>]) -> Vec<u8> {
        der(&Any::from_tag_and_data(Tag::Set, &items.concat()))
    }

    /// DER `[number] EXPLICIT` around the encoded `inner`.
    pub(crate) fn explicit(number: u32, inner: &[u8]) -> Vec<u8> {
        let header = Header::new(
            Class::ContextSpecific,
            true,
            Tag(number),
            Length::Definite(inner.len()),
        );
        der(&Any::new(header, inner))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use base64::Engine as _;
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use ring::digest::{SHA256, digest};

    use super::testing::{
        Extension, Leaf, TEST_SIGNATURE_DIGEST, TestKeystore, application_id, boolean, enumerated,
        explicit, integer, key_description, octet_string, sequence, set, token,
    };
    use super::*;
    use crate::x509::verify_signature;

    const PACKAGE: &str = "hk.example.staff";
    const NONCE: [u8; 32] = [7; 32];

    static KEYSTORE: LazyLock<TestKeystore> = LazyLock::new(TestKeystore::generate);

    fn packages() -> Vec<String> {
        vec!["hk.example.other".to_string(), PACKAGE.to_string()]
    }

    fn now() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().expect("time")
    }

    fn verify_at(
        verifier: &KeyAttestationVerifier,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyAttestation, AttestationError> {
        let packages = packages();
        verifier.verify_attestation(
            token,
            &Expected {
                nonce: &NONCE,
                android_packages: &packages,
                ios_app_ids: &[],
                now,
            },
        )
    }

    fn verify_with(
        verifier: &KeyAttestationVerifier,
        token: &str,
    ) -> Result<KeyAttestation, AttestationError> {
        verify_at(verifier, token, now())
    }

    /// Verifies `token` with the default verifier of the test keystore.
    fn verify(token: &str) -> Result<KeyAttestation, AttestationError> {
        verify_with(&KEYSTORE.verifier(), token)
    }

    fn tee_leaf() -> Leaf {
        Leaf::new(
            PACKAGE,
            &NONCE,
            SecurityLevel::TrustedEnvironment,
            VerifiedBootState::Verified,
            true,
        )
    }

    fn leaf_token(leaf: &Leaf) -> String {
        token(&KEYSTORE.chain_der(leaf))
    }

    /// A chain whose leaf's extension holds `content`.
    fn raw_extension_token(content: Vec<u8>) -> String {
        leaf_token(&Leaf {
            extension: Extension::Raw(content),
            ..tee_leaf()
        })
    }

    fn malformed_reason<T: fmt::Debug>(result: Result<T, AttestationError>) -> String {
        match result {
            Err(AttestationError::Malformed { reason }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    fn not_authentic_reason<T: fmt::Debug>(result: Result<T, AttestationError>) -> String {
        match result {
            Err(AttestationError::NotAuthentic { reason }) => reason,
            other => panic!("expected NotAuthentic, got {other:?}"),
        }
    }

    fn not_trusted_verdict<T: fmt::Debug>(result: Result<T, AttestationError>) -> String {
        match result {
            Err(AttestationError::NotTrusted { verdict }) => verdict,
            other => panic!("expected NotTrusted, got {other:?}"),
        }
    }

    fn hex_sha256(bytes: &[u8]) -> String {
        hex(digest(&SHA256, bytes).as_ref())
    }

    /// The leaf's key description of a recorded chain.
    fn recorded_description(pem: &str) -> KeyDescription {
        let chain = x509::pem_certificates_der(pem).expect("PEM chain");
        let certificates = parse_certificates(&chain).expect("certificates");
        leaf_key_description(&certificates).expect("key description")
    }

    #[test]
    fn the_built_in_roots_are_googles() {
        let roots = pem_certificates_der(GOOGLE_HARDWARE_ATTESTATION_ROOTS_PEM).expect("PEM");
        let expected = [
            (
                "serialNumber=f92009e853b6b045",
                "cedb1cb6dc896ae5ec797348bce9286753c2b38ee71ce0fbe34a9a1248800dfc",
                x509::OID_RSA_ENCRYPTION,
            ),
            (
                "CN=Key Attestation CA1, OU=Android, O=Google LLC, C=US",
                "6d9db4ce6c5c0b293166d08986e05774a8776ceb525d9e4329520de12ba4bcc0",
                x509::OID_EC_PUBLIC_KEY,
            ),
        ];
        assert_eq!(roots.len(), expected.len());
        for (der, (subject, fingerprint, key_algorithm)) in roots.iter().zip(expected) {
            let root = parse_certificate(der).expect("parses");
            assert_eq!(root.subject().to_string(), subject);
            assert_eq!(root.subject().as_raw(), root.issuer().as_raw(), "{subject}");
            assert_eq!(
                root.public_key().algorithm.algorithm.to_id_string(),
                key_algorithm
            );
            verify_signature(&root, &root, Signatures::EcdsaOrRsa)
                .expect("the self-signature verifies");
            x509::check_ca(&root, subject, 3).expect("a CA");
            assert_eq!(hex_sha256(der), fingerprint, "{subject}");
        }
        assert_eq!(
            KeyAttestationVerifier::google().roots_der(),
            roots.as_slice()
        );
    }

    #[test]
    fn a_tee_attestation_verifies() {
        let token = KEYSTORE.chain(
            PACKAGE,
            &NONCE,
            SecurityLevel::TrustedEnvironment,
            VerifiedBootState::Verified,
            true,
        );
        let attestation = verify(&token).expect("verifies");
        assert_eq!(
            attestation,
            KeyAttestation {
                package_name: PACKAGE.to_string(),
                security_level: SecurityLevel::TrustedEnvironment,
                verified_boot_state: VerifiedBootState::Verified,
                device_locked: true,
                attestation_version: 300,
                key_mint_version: 300,
            }
        );
        assert_eq!(
            attestation.attested(),
            Attested {
                format: FORMAT.to_string(),
                app_id: PACKAGE.to_string(),
                summary: "TrustedEnvironment, verified boot, locked, KeyMint v3".to_string(),
            }
        );
    }

    #[test]
    fn a_strongbox_attestation_verifies_also_where_strongbox_is_required() {
        let leaf = Leaf::new(
            PACKAGE,
            &NONCE,
            SecurityLevel::StrongBox,
            VerifiedBootState::Verified,
            true,
        );
        let token = leaf_token(&leaf);
        let verifier = KEYSTORE.verifier().with_require_strongbox(true);
        let attested = verify_with(&verifier, &token).expect("verifies").attested();
        assert_eq!(
            attested.summary,
            "StrongBox, verified boot, locked, KeyMint v3"
        );
    }

    #[test]
    fn a_chain_without_its_root_or_in_other_base64_verifies() {
        let leaf = Leaf {
            with_root: false,
            ..tee_leaf()
        };
        let chain = KEYSTORE.chain_der(&leaf);
        verify(&token(&chain)).expect("verifies without the root");
        for engine in [
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            let text: Vec<String> = chain.iter().map(|der| engine.encode(der)).collect();
            verify(&text.join(".")).expect("verifies");
            verify(&format!(" {}\n", text.join(" . "))).expect("whitespace is ignored");
        }
    }

    #[test]
    fn every_keystore_version_reads_the_same() {
        for (attestation_version, key_mint_version, summary) in [
            (1, 2, "Keymaster v2"),
            (2, 3, "Keymaster v3"),
            (3, 4, "Keymaster v4"),
            (4, 41, "Keymaster v4.1"),
            (100, 100, "KeyMint v1"),
            (200, 200, "KeyMint v2"),
            (300, 300, "KeyMint v3"),
            (400, 400, "KeyMint v4"),
        ] {
            let leaf = Leaf {
                attestation_version,
                key_mint_version,
                ..tee_leaf()
            };
            let attestation = verify(&leaf_token(&leaf)).expect("verifies");
            assert_eq!(attestation.attestation_version, attestation_version);
            assert!(
                attestation.attested().summary.ends_with(summary),
                "{attestation_version}: {}",
                attestation.attested().summary
            );
        }
        assert_eq!(keystore_version(0), "Keymaster v0");
        assert_eq!(keystore_version(150), "keyMintVersion 150");
    }

    #[test]
    fn another_challenge_is_a_nonce_mismatch_whatever_else_it_says() {
        let token = KEYSTORE.chain(
            "hk.example.evil",
            &[8; 32],
            SecurityLevel::Software,
            VerifiedBootState::Failed,
            false,
        );
        assert!(matches!(
            verify(&token),
            Err(AttestationError::NonceMismatch)
        ));
        let short = Leaf {
            challenge: NONCE[..31].to_vec(),
            ..tee_leaf()
        };
        assert!(matches!(
            verify(&leaf_token(&short)),
            Err(AttestationError::NonceMismatch)
        ));
    }

    #[test]
    fn another_package_is_the_wrong_app_naming_the_packages() {
        let leaf = Leaf {
            packages: vec![
                "hk.example.evil".to_string(),
                "hk.example.shared".to_string(),
            ],
            ..tee_leaf()
        };
        assert_eq!(
            verify(&leaf_token(&leaf)),
            Err(AttestationError::WrongApp {
                app_id: "hk.example.evil, hk.example.shared".to_string()
            })
        );
        let none = Leaf {
            packages: Vec::new(),
            ..tee_leaf()
        };
        assert_eq!(
            verify(&leaf_token(&none)),
            Err(AttestationError::WrongApp {
                app_id: "none".to_string()
            })
        );
        let shared = Leaf {
            packages: vec!["hk.example.shared".to_string(), PACKAGE.to_string()],
            ..tee_leaf()
        };
        let attestation = verify(&leaf_token(&shared)).expect("verifies");
        assert_eq!(attestation.package_name, PACKAGE);
    }

    #[test]
    fn the_signer_is_checked_when_digests_are_configured() {
        let token = leaf_token(&tee_leaf());
        let verifier = KEYSTORE
            .verifier()
            .with_certificate_sha256_digests(vec![[1; 32], TEST_SIGNATURE_DIGEST]);
        verify_with(&verifier, &token).expect("a configured signer");
        let verifier = KEYSTORE
            .verifier()
            .with_certificate_sha256_digests(vec![[1; 32]]);
        let verdict = not_trusted_verdict(verify_with(&verifier, &token));
        assert!(verdict.contains(&hex(&TEST_SIGNATURE_DIGEST)), "{verdict}");
    }

    #[test]
    fn a_software_key_is_not_trusted() {
        let software = Leaf::new(
            PACKAGE,
            &NONCE,
            SecurityLevel::Software,
            VerifiedBootState::Verified,
            true,
        );
        let verdict = not_trusted_verdict(verify(&leaf_token(&software)));
        assert!(
            verdict.contains("attestationSecurityLevel Software"),
            "{verdict}"
        );
        let hybrid = Leaf {
            key_mint_security_level: SecurityLevel::Software,
            ..tee_leaf()
        };
        let verdict = not_trusted_verdict(verify(&leaf_token(&hybrid)));
        assert!(
            verdict.contains("keyMintSecurityLevel Software"),
            "{verdict}"
        );
    }

    #[test]
    fn a_tee_key_is_not_trusted_where_strongbox_is_required() {
        let verifier = KEYSTORE.verifier().with_require_strongbox(true);
        let verdict = not_trusted_verdict(verify_with(&verifier, &leaf_token(&tee_leaf())));
        assert!(
            verdict.contains("TrustedEnvironment") && verdict.contains("StrongBox is required"),
            "{verdict}"
        );
    }

    #[test]
    fn an_unlocked_or_unverified_device_is_trusted_only_where_allowed() {
        let allowing = KEYSTORE.verifier().with_allow_unlocked_bootloader(true);
        for (state, locked) in [
            (VerifiedBootState::Unverified, false),
            (VerifiedBootState::Verified, false),
            (VerifiedBootState::Unverified, true),
        ] {
            let leaf = Leaf {
                verified_boot: state,
                locked,
                ..tee_leaf()
            };
            let token = leaf_token(&leaf);
            let verdict = not_trusted_verdict(verify(&token));
            assert!(
                verdict.contains(&format!("verifiedBootState {state}, deviceLocked {locked}")),
                "{verdict}"
            );
            let attestation = verify_with(&allowing, &token).expect("allowed");
            assert_eq!(
                (attestation.verified_boot_state, attestation.device_locked),
                (state, locked)
            );
        }
        let unlocked = Leaf {
            verified_boot: VerifiedBootState::Unverified,
            locked: false,
            ..tee_leaf()
        };
        let summary = verify_with(&allowing, &leaf_token(&unlocked))
            .expect("allowed")
            .attested()
            .summary;
        assert_eq!(
            summary,
            "TrustedEnvironment, unverified boot, unlocked, KeyMint v3"
        );
    }

    #[test]
    fn a_self_signed_or_failed_boot_is_never_trusted() {
        let allowing = KEYSTORE.verifier().with_allow_unlocked_bootloader(true);
        for state in [VerifiedBootState::SelfSigned, VerifiedBootState::Failed] {
            let leaf = Leaf {
                verified_boot: state,
                ..tee_leaf()
            };
            let verdict = not_trusted_verdict(verify_with(&allowing, &leaf_token(&leaf)));
            assert!(verdict.contains(state.as_str()), "{verdict}");
        }
    }

    #[test]
    fn a_missing_root_of_trust_is_not_trusted() {
        let mut leaf = tee_leaf();
        let description = sequence(&[
            integer(300),
            enumerated(1),
            integer(300),
            enumerated(1),
            octet_string(&NONCE),
            octet_string(b""),
            sequence(&[explicit(709, &octet_string(&application_id(&leaf)))]),
            sequence(&[explicit(704 + 1, &integer(0))]),
        ]);
        leaf.extension = Extension::Raw(description);
        let verdict = not_trusted_verdict(verify(&leaf_token(&leaf)));
        assert!(verdict.contains("rootOfTrust [704] is absent"), "{verdict}");
    }

    #[test]
    fn unknown_and_high_tags_are_skipped() {
        let leaf = tee_leaf();
        let description = sequence(&[
            integer(400),
            enumerated(1),
            integer(400),
            enumerated(1),
            octet_string(&NONCE),
            octet_string(b""),
            sequence(&[
                explicit(724, &octet_string(&[1; 32])),
                explicit(709, &octet_string(&application_id(&leaf))),
                explicit(40_000, &sequence(&[integer(1)])),
            ]),
            sequence(&[
                explicit(
                    704,
                    &sequence(&[
                        octet_string(&[0; 32]),
                        boolean(true),
                        enumerated(0),
                        octet_string(&[0; 32]),
                        integer(99),
                    ]),
                ),
                explicit(1, &set(&[integer(2)])),
                explicit(709, &integer(5)),
            ]),
            integer(12),
        ]);
        let token = raw_extension_token(description);
        let attestation = verify(&token).expect("verifies");
        assert_eq!(attestation.key_mint_version, 400);
    }

    #[test]
    fn a_ber_boolean_true_is_read_as_true() {
        let leaf = tee_leaf();
        let root_of_trust = [
            octet_string(&[0; 32]),
            vec![0x01, 0x01, 0x01],
            enumerated(0),
        ]
        .concat();
        let description = sequence(&[
            integer(3),
            enumerated(1),
            integer(4),
            enumerated(1),
            octet_string(&NONCE),
            octet_string(b""),
            sequence(&[explicit(709, &octet_string(&application_id(&leaf)))]),
            sequence(&[explicit(704, &sequence(&[root_of_trust]))]),
        ]);
        let attestation = verify(&raw_extension_token(description)).expect("verifies");
        assert!(attestation.device_locked);
    }

    #[test]
    fn a_chain_extended_below_an_attested_key_is_not_authentic() {
        let genuine = Leaf {
            verified_boot: VerifiedBootState::Unverified,
            locked: false,
            ..tee_leaf()
        };
        let chain = KEYSTORE.extended_chain(&genuine, &tee_leaf());
        let reason = not_authentic_reason(verify(&token(&chain)));
        assert!(
            reason.contains("chain[1] has a key description extension"),
            "{reason}"
        );
    }

    #[test]
    fn certificate_dates_are_checked_only_where_configured() {
        let expired = leaf_token(&Leaf {
            expired: true,
            ..tee_leaf()
        });
        let early = "2019-06-01T00:00:00Z".parse().expect("time");
        // By default, as Google's verifier: the dates are not looked at.
        verify(&expired).expect("an expired leaf passes by default");
        verify_at(&KEYSTORE.verifier(), &leaf_token(&tee_leaf()), early)
            .expect("a time before the chain passes by default");
        let strict = KEYSTORE.verifier().with_check_certificate_dates(true);
        let reason = not_authentic_reason(verify_at(&strict, &expired, Utc::now()));
        assert!(reason.contains("chain[0] (the leaf) expired"), "{reason}");
        let reason = not_authentic_reason(verify_at(&strict, &leaf_token(&tee_leaf()), early));
        assert!(reason.contains("not valid before"), "{reason}");
    }

    #[test]
    fn a_chain_from_another_root_is_not_authentic() {
        let other = TestKeystore::generate();
        let token = other.chain(
            PACKAGE,
            &NONCE,
            SecurityLevel::TrustedEnvironment,
            VerifiedBootState::Verified,
            true,
        );
        let reason = not_authentic_reason(verify(&token));
        assert!(
            reason.contains("chain[2]") && reason.contains("signature"),
            "{reason}"
        );
        let reason = not_authentic_reason(verify_with(&KeyAttestationVerifier::google(), &token));
        assert!(
            reason.contains("none of the 2 configured roots"),
            "{reason}"
        );
        let both = KeyAttestationVerifier::new(vec![
            other.roots_der().remove(0),
            KEYSTORE.roots_der().remove(0),
        ]);
        verify_with(&both, &token).expect("one of two roots with the same subject signed it");
        verify_with(&both, &leaf_token(&tee_leaf())).expect("and the other");
    }

    #[test]
    fn a_broken_signature_is_not_authentic() {
        let mut chain = KEYSTORE.chain_der(&tee_leaf());
        if let Some(last) = chain[0].last_mut() {
            *last ^= 1;
        }
        let reason = not_authentic_reason(verify(&token(&chain)));
        assert!(
            reason.contains("chain[0] (the leaf): its signature does not verify"),
            "{reason}"
        );
    }

    #[test]
    fn broken_or_missing_configured_roots_are_not_authentic() {
        let token = leaf_token(&tee_leaf());
        let broken = KeyAttestationVerifier::new(vec![b"not a certificate".to_vec()]);
        let reason = not_authentic_reason(verify_with(&broken, &token));
        assert!(reason.contains("configured root 0"), "{reason}");
        let none = KeyAttestationVerifier::new(Vec::new());
        let reason = not_authentic_reason(verify_with(&none, &token));
        assert!(reason.contains("no root"), "{reason}");
    }

    #[test]
    fn a_recorded_strongbox_chain_to_googles_2026_root_reads() {
        let pem = include_str!("../tests/fixtures/key_attestation/tegu-strongbox-ec-2026-root.pem");
        let description = recorded_description(pem);
        assert_eq!(
            (
                description.attestation_version,
                description.attestation_security_level,
                description.key_mint_version,
                description.key_mint_security_level,
            ),
            (300, SecurityLevel::StrongBox, 300, SecurityLevel::StrongBox)
        );
        assert_eq!(
            description.attestation_challenge,
            b"90578e1d-f5bf-4ccf-a27f-a4f4d89ee21f"
        );
        assert_eq!(
            description.application_id.packages,
            ["com.google.android.attestation"]
        );
        assert_eq!(
            description.application_id.signature_digests,
            [base64::engine::general_purpose::STANDARD
                .decode("EDk47kU35Z6O55L2VFBPuDRvxrNG0LvEQV/DOfz8jsE=")
                .expect("base64")]
        );
        assert_eq!(
            description.root_of_trust,
            Some(RootOfTrust {
                device_locked: true,
                verified_boot_state: VerifiedBootState::Verified,
            })
        );
    }

    #[test]
    fn a_recorded_chain_with_a_ber_boolean_reads_as_locked() {
        let pem = include_str!("../tests/fixtures/key_attestation/ber-boolean-device-locked.pem");
        let description = recorded_description(pem);
        assert_eq!(description.attestation_challenge.len(), 89);
        assert_eq!(
            description.application_id.packages,
            ["com.google.android.apps.photos"]
        );
        assert_eq!(
            description.root_of_trust,
            Some(RootOfTrust {
                device_locked: true,
                verified_boot_state: VerifiedBootState::Verified,
            })
        );
    }

    #[test]
    fn garbage_is_malformed_naming_the_part() {
        let good = KEYSTORE.chain_der(&tee_leaf());
        let encode = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
        let mut trailing = good[0].clone();
        trailing.push(0);
        let eleven = vec![encode(&good[1]); MAX_CERTIFICATES + 1].join(".");
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("  \n".to_string(), "empty"),
            ("a".repeat(MAX_TOKEN_BYTES + 1), "more than the 65536"),
            (eleven, "11 certificates, more than the 10"),
            (
                format!("{}..{}", encode(&good[0]), encode(&good[1])),
                "chain[1] is empty",
            ),
            (
                format!("{}.not base64!", encode(&good[0])),
                "chain[1] is not base64",
            ),
            (
                encode(b"not DER"),
                "chain[0] (the leaf) is not a DER X.509 certificate",
            ),
            (
                format!(
                    "{}.{}",
                    encode(&good[0]),
                    encode(&good[1][..good[1].len() / 2])
                ),
                "chain[1] is not a DER X.509 certificate",
            ),
            (
                token(&[trailing, good[1].clone()]),
                "chain[0] (the leaf) is followed by 1 bytes",
            ),
            (
                leaf_token(&Leaf {
                    extension: Extension::Absent,
                    ..tee_leaf()
                }),
                "has no key description extension",
            ),
            (
                raw_extension_token(b"garbage".to_vec()),
                "the SEQUENCE is not BER",
            ),
            (
                raw_extension_token(integer(5)),
                "the KeyDescription SEQUENCE is not a Sequence",
            ),
        ];
        for (token, part) in cases {
            let reason = malformed_reason(verify(&token));
            assert!(reason.contains(part), "`{part}` not in `{reason}`");
        }
    }

    #[test]
    fn a_broken_key_description_is_malformed_naming_the_field() {
        let leaf = tee_leaf();
        let description = key_description(&leaf);
        let mut trailing = description.clone();
        trailing.push(0);
        let application_id = explicit(709, &octet_string(&application_id(&leaf)));
        let root_of_trust = explicit(
            704,
            &sequence(&[octet_string(&[0; 32]), boolean(true), enumerated(0)]),
        );
        let with = |fields: Vec<Vec<u8>>| sequence(&fields);
        let head = |challenge: Vec<u8>| {
            vec![
                integer(3),
                enumerated(1),
                integer(4),
                enumerated(1),
                challenge,
                octet_string(b""),
            ]
        };
        let lists = |software: Vec<Vec<u8>>, hardware: Vec<Vec<u8>>| {
            vec![sequence(&software), sequence(&hardware)]
        };
        let complete = |software: Vec<Vec<u8>>, hardware: Vec<Vec<u8>>| {
            with([head(octet_string(&NONCE)), lists(software, hardware)].concat())
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                description[..description.len() - 3].to_vec(),
                "the SEQUENCE is not BER",
            ),
            (trailing, "the SEQUENCE is followed by 1 bytes"),
            (
                with(head(octet_string(&NONCE))),
                "ends before softwareEnforced",
            ),
            (
                with(vec![integer(3)]),
                "ends before attestationSecurityLevel",
            ),
            (
                with(
                    [
                        vec![octet_string(b"3")],
                        head(octet_string(&NONCE))[1..].to_vec(),
                    ]
                    .concat(),
                ),
                "attestationVersion is not an INTEGER",
            ),
            (
                with(
                    [
                        vec![integer(3), enumerated(7)],
                        head(octet_string(&NONCE))[2..].to_vec(),
                    ]
                    .concat(),
                ),
                "attestationSecurityLevel is 7",
            ),
            (
                with(
                    [
                        head(integer(7)),
                        lists(vec![application_id.clone()], vec![]),
                    ]
                    .concat(),
                ),
                "attestationChallenge is not an OCTET STRING",
            ),
            (
                complete(vec![], vec![root_of_trust.clone()]),
                "attestationApplicationId [709] is absent",
            ),
            (
                complete(vec![application_id.clone(), application_id.clone()], vec![]),
                "softwareEnforced has the entry [709] twice",
            ),
            (
                complete(vec![integer(1), application_id.clone()], vec![]),
                "softwareEnforced has an entry that is not a context-specific tag",
            ),
            (
                complete(vec![explicit(709, &integer(1))], vec![]),
                "attestationApplicationId [709] is not an OCTET STRING",
            ),
            (
                complete(vec![explicit(709, &octet_string(b"junk"))], vec![]),
                "attestationApplicationId [709]'s SEQUENCE is not BER",
            ),
            (
                complete(
                    vec![explicit(
                        709,
                        &octet_string(&sequence(&[
                            set(&[sequence(&[octet_string(&[0xff, 0xfe]), integer(1)])]),
                            set(&[]),
                        ])),
                    )],
                    vec![],
                ),
                "package info 0's packageName is not UTF-8",
            ),
            (
                complete(
                    vec![explicit(709, &octet_string(&sequence(&[set(&[])])))],
                    vec![],
                ),
                "ends before signature digests",
            ),
            (
                complete(
                    vec![application_id.clone()],
                    vec![explicit(
                        704,
                        &sequence(&[octet_string(&[0; 32]), integer(1), enumerated(0)]),
                    )],
                ),
                "deviceLocked is not a BOOLEAN",
            ),
            (
                complete(
                    vec![application_id.clone()],
                    vec![explicit(
                        704,
                        &sequence(&[octet_string(&[0; 32]), boolean(true), enumerated(9)]),
                    )],
                ),
                "verifiedBootState is 9",
            ),
            (
                complete(
                    vec![application_id.clone()],
                    vec![explicit(
                        704,
                        &sequence(&[octet_string(&[0; 32]), boolean(true)]),
                    )],
                ),
                "rootOfTrust [704] ends before verifiedBootState",
            ),
            (
                complete(
                    vec![application_id.clone()],
                    vec![vec![0xBF, 0x85, 0x40, 0x00]],
                ),
                "hardwareEnforced's entry [704] is not BER",
            ),
        ];
        for (content, part) in cases {
            let reason = malformed_reason(verify(&raw_extension_token(content)));
            assert!(
                reason.starts_with(
                    "the leaf's key description (extension 1.3.6.1.4.1.11129.2.1.17): "
                ),
                "{reason}"
            );
            assert!(reason.contains(part), "`{part}` not in `{reason}`");
        }
    }

    #[test]
    fn the_configuration_builds_verifiers() {
        let verifier = KeyAttestationVerifier::from_config_json("{}").expect("defaults");
        assert_eq!(
            verifier.roots_der(),
            KeyAttestationVerifier::google().roots_der()
        );
        assert!(!verifier.require_strongbox && !verifier.allow_unlocked_bootloader);
        assert!(verifier.certificate_digests.is_empty());

        let json = serde_json::json!({
            "roots_pem": KEYSTORE.roots_pem(),
            "require_strongbox": true,
            "allow_unlocked_bootloader": true,
            "certificate_sha256_digests": [hex(&TEST_SIGNATURE_DIGEST)],
        });
        let verifier = KeyAttestationVerifier::from_config_json(&json.to_string()).expect("ok");
        assert_eq!(verifier.roots_der(), KEYSTORE.roots_der().as_slice());
        assert!(verifier.require_strongbox && verifier.allow_unlocked_bootloader);
        assert_eq!(verifier.certificate_digests, [TEST_SIGNATURE_DIGEST]);

        let two_roots = format!(
            "{}{}",
            KEYSTORE.roots_pem(),
            GOOGLE_HARDWARE_ATTESTATION_ROOTS_PEM
        );
        let config = KeyAttestationConfig {
            roots_pem: Some(two_roots),
            ..KeyAttestationConfig::default()
        };
        let verifier = KeyAttestationVerifier::from_config(&config).expect("ok");
        assert_eq!(verifier.roots_der().len(), 3);
        verify_with(&verifier, &leaf_token(&tee_leaf())).expect("verifies");
        assert_eq!(
            serde_json::to_string(&KeyAttestationConfig::default()).expect("serialises"),
            concat!(
                r#"{"require_strongbox":false,"allow_unlocked_bootloader":false,"#,
                r#""certificate_sha256_digests":[],"check_certificate_dates":false}"#
            )
        );
    }

    #[test]
    fn configuration_errors_name_the_field() {
        let cases = [
            (r#"{"roots_pem":"junk"}"#, "roots_pem"),
            (r#"{"roots_pem":7}"#, "roots_pem"),
            (r#"{"require_strongbox":"yes"}"#, "require_strongbox"),
            (
                r#"{"allow_unlocked_bootloader":1}"#,
                "allow_unlocked_bootloader",
            ),
            (
                r#"{"certificate_sha256_digests":["abc"]}"#,
                "certificate_sha256_digests[0]",
            ),
            (
                r#"{"certificate_sha256_digests":"abc"}"#,
                "certificate_sha256_digests",
            ),
            (r#"{"require_strongbox":false,"extra":1}"#, "extra"),
            (r#"[]"#, "."),
            ("not json", "."),
        ];
        for (json, field) in cases {
            let error = KeyAttestationVerifier::from_config_json(json).expect_err(json);
            assert_eq!(error.field, field, "{json}: {error}");
        }
        let private_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let json = serde_json::json!({ "roots_pem": private_key });
        let error = KeyAttestationVerifier::from_config_json(&json.to_string()).expect_err("key");
        assert!(error.problem.contains("PRIVATE KEY"), "{error}");
    }

    /// A valid chain's certificates, for mutation.
    static VALID_CHAIN: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| KEYSTORE.chain_der(&tee_leaf()));

    proptest! {
        #[test]
        fn arbitrary_strings_never_verify(token in ".{0,300}") {
            prop_assert!(verify(&token).is_err());
        }

        #[test]
        fn arbitrary_certificates_never_verify(
            parts in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..300),
                1..4,
            ),
        ) {
            prop_assert!(verify(&token(&parts)).is_err());
        }

        #[test]
        fn arbitrary_key_descriptions_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            header in prop_oneof![Just(0x30u8), Just(0x31), Just(0xBF), Just(0x04)],
        ) {
            let mut ber = vec![header];
            ber.extend_from_slice(&bytes);
            let _ = KeyDescription::parse(&ber);
            let _ = KeyDescription::parse(&bytes);
        }

        /// Mutated real chains never panic (a change in a part no signature covers, such as
        /// the root's copy, may still verify).
        #[test]
        fn mutated_chains_never_panic(
            which in 0usize..3,
            at in any::<proptest::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<proptest::sample::Index>(),
        ) {
            let mut chain = VALID_CHAIN.clone();
            let der = &mut chain[which];
            let at = at.index(der.len());
            der[at] = byte;
            der.truncate(cut.index(der.len() + 1).max(at + 1));
            let _ = verify(&token(&chain));
        }
    }
}
