//! Play Integrity: the integrity token of a *classic* request, decrypted and verified on the
//! server with the app's keys from the Play Console (Google's "decrypt and verify the integrity
//! verdict locally"), and bound to the enrolment's nonce.
//!
//! # The token
//!
//! A compact JWE with the protected header `{"alg":"A256KW","enc":"A256GCM"}`: the content
//! key wrapped with AES Key Wrap (RFC 3394) under the app's *decryption key*, the content
//! encrypted with AES-256-GCM (the JWE's first segment, as ASCII, is the additional
//! authenticated data). Its plaintext is a compact JWS with the header `{"alg":"ES256"}`,
//! signed with Google's key whose public half is the app's *verification key* (an EC P-256
//! key). The JWS payload is the verdict JSON (`requestDetails`, `appIntegrity`,
//! `deviceIntegrity`, `accountDetails`, …); fields this module does not read are ignored, so
//! fields Google adds do not break it.
//!
//! # What is checked, in this order
//!
//! Each check refuses with the [`AttestationError`] named; the first failing one is reported.
//!
//! 1. The token's shape: at most [`MAX_TOKEN_BYTES`], five base64url segments, the JWE header
//!    naming `A256KW` and `A256GCM` (no `zip`, no `crit`), a 40-byte encrypted key, a 12-byte
//!    IV and a 16-byte tag ([`Malformed`](AttestationError::Malformed)).
//! 2. The content key unwraps under the decryption key of one of the configured apps, and the
//!    ciphertext decrypts and authenticates with it
//!    ([`NotAuthentic`](AttestationError::NotAuthentic)). The app whose key opened the token
//!    is the app every later check is about.
//! 3. The plaintext is a JWS whose header `alg` is `ES256` and whose signature verifies with
//!    that app's verification key ([`NotAuthentic`](AttestationError::NotAuthentic); a JWS
//!    that cannot be read is [`Malformed`](AttestationError::Malformed)).
//! 4. The payload is a JSON object, and each field below, when read, has its documented type
//!    ([`Malformed`](AttestationError::Malformed), naming the field and the value found).
//! 5. `requestDetails.nonce` is [`Expected::nonce`]: base64url without padding as the app
//!    sends it, or the same 32 bytes padded or in the standard alphabet
//!    ([`NonceMismatch`](AttestationError::NonceMismatch); a missing nonce, as in a standard
//!    request's token, is [`Malformed`](AttestationError::Malformed)).
//! 6. `requestDetails.requestPackageName` is the package of the app whose keys opened the
//!    token and one of [`Expected::android_packages`]
//!    ([`WrongApp`](AttestationError::WrongApp)).
//! 7. `requestDetails.timestampMillis` (milliseconds since the epoch, as a string; a JSON
//!    integer is read too) is at most the maximum age ([`DEFAULT_MAX_AGE`] unless configured)
//!    before [`Expected::now`] and at most [`MAX_FUTURE_SKEW`] after it
//!    ([`Stale`](AttestationError::Stale), in whole seconds rounded away from zero).
//! 8. `appIntegrity.appRecognitionVerdict` is `PLAY_RECOGNIZED`: the binary is the one Google
//!    Play distributes ([`NotTrusted`](AttestationError::NotTrusted)).
//! 9. `appIntegrity.packageName` passes the same test as `requestPackageName`
//!    ([`WrongApp`](AttestationError::WrongApp)).
//! 10. If the app's configuration lists certificate digests, one of
//!     `appIntegrity.certificateSha256Digest` is among them
//!     ([`NotTrusted`](AttestationError::NotTrusted)). The app is the allowed one (its package
//!     passed); what fails is the build's signer, a trust question, and this variant can name
//!     the digests found.
//! 11. `deviceIntegrity.deviceRecognitionVerdict` meets the configured [`DeviceIntegrity`]
//!     ([`NotTrusted`](AttestationError::NotTrusted), naming the verdicts found, or `none`:
//!     Google leaves the list out for a device that meets no label).
//! 12. Only if [`PlayIntegrityVerifier::with_require_licensed`] asks for it:
//!     `accountDetails.appLicensingVerdict` is `LICENSED`
//!     ([`NotTrusted`](AttestationError::NotTrusted)).
//!
//! # What it does not do
//!
//! - It does not call Google's server (`decodeIntegrityToken`): everything is checked here,
//!   with the keys configured. When the keys are rotated in the Play Console, the
//!   configuration must follow.
//! - It reads classic requests only (`requestDetails.nonce`), not standard requests
//!   (`requestHash`).
//! - It does not require `accountDetails.appLicensingVerdict` unless asked
//!   ([`PlayIntegrityVerifier::with_require_licensed`]): that verdict is about the user's
//!   Google account's entitlement to the app, not the device or the build. It is `UNLICENSED`
//!   when the Play-recognised binary was installed other than through Google Play (pushed by
//!   the organisation's device management, say) and `UNEVALUATED` when Google could not
//!   evaluate it. It is reported in the summary either way.
//! - It ignores `environmentDetails` (Play Protect, app access risk) and
//!   `recentDeviceActivity`.
//! - It does not remember tokens: a token is single-use because the challenge its nonce is
//!   bound to is; the server must make challenges single-use and short-lived.

use std::fmt;
use std::time::Duration;

use aes_kw::KekAes256;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    AttestationError, AttestationVerifier, Attested, ConfigError, Expected, malformed,
    not_authentic,
};

/// The format name devices send for a Play Integrity token.
pub const FORMAT: &str = "play_integrity";
/// How old a token may be, by default: 10 minutes.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// Longest maximum age a configuration may set: one day.
pub const LONGEST_MAX_AGE: Duration = Duration::from_secs(86_400);
/// How far in the future of the server's clock a token's time may be: 60 s.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(60);
/// Longest token read, in bytes; real tokens are a few kilobytes.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The DER SubjectPublicKeyInfo of an EC P-256 key up to its uncompressed point:
/// `SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (65 bytes) }`. DER has one
/// encoding of each value, so every such key is this prefix and the point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const P256_SPKI_LEN: usize = P256_SPKI_PREFIX.len() + 65;
/// A 32-byte content key wrapped with AES Key Wrap: the key and an 8-byte check block.
const WRAPPED_KEY_LEN: usize = 40;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// An ES256 signature in JWS form: `r ‖ s`, 32 bytes each.
const ES256_SIGNATURE_LEN: usize = 64;

const PLAY_RECOGNIZED: &str = "PLAY_RECOGNIZED";
const MEETS_DEVICE_INTEGRITY: &str = "MEETS_DEVICE_INTEGRITY";
const MEETS_STRONG_INTEGRITY: &str = "MEETS_STRONG_INTEGRITY";
const LICENSED: &str = "LICENSED";

const NONCE: &[&str] = &["requestDetails", "nonce"];
const REQUEST_PACKAGE: &[&str] = &["requestDetails", "requestPackageName"];
const TIMESTAMP: &[&str] = &["requestDetails", "timestampMillis"];
const APP_VERDICT: &[&str] = &["appIntegrity", "appRecognitionVerdict"];
const APP_PACKAGE: &[&str] = &["appIntegrity", "packageName"];
const CERTIFICATES: &[&str] = &["appIntegrity", "certificateSha256Digest"];
const DEVICE_VERDICTS: &[&str] = &["deviceIntegrity", "deviceRecognitionVerdict"];
const LICENSING: &[&str] = &["accountDetails", "appLicensingVerdict"];

/// The least device integrity a token must show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceIntegrity {
    /// `MEETS_DEVICE_INTEGRITY` or `MEETS_STRONG_INTEGRITY`: a genuine, Play-certified Android
    /// device (the default; `"device"` in the configuration).
    #[default]
    Device,
    /// `MEETS_STRONG_INTEGRITY`: also hardware-backed proof of boot integrity (`"strong"` in
    /// the configuration).
    Strong,
}

impl DeviceIntegrity {
    fn is_met_by(self, verdicts: &[&str]) -> bool {
        let has = |label: &str| verdicts.contains(&label);
        match self {
            DeviceIntegrity::Device => has(MEETS_DEVICE_INTEGRITY) || has(MEETS_STRONG_INTEGRITY),
            DeviceIntegrity::Strong => has(MEETS_STRONG_INTEGRITY),
        }
    }

    fn requirement(self) -> &'static str {
        match self {
            DeviceIntegrity::Device => "MEETS_DEVICE_INTEGRITY or MEETS_STRONG_INTEGRITY",
            DeviceIntegrity::Strong => "MEETS_STRONG_INTEGRITY",
        }
    }
}

/// One Android app whose tokens are verified, with its keys from the Play Console (the
/// response encryption keys of the app's Play Integrity API settings, "Manage and download my
/// response encryption keys").
#[derive(Clone, PartialEq, Eq)]
pub struct PlayIntegrityApp {
    /// The app's package name, e.g. `hk.example.staff`.
    pub package_name: String,
    /// The decryption key: 32 bytes, AES-256 (the Console shows it base64-encoded).
    pub decryption_key: [u8; 32],
    /// The verification key: the DER SubjectPublicKeyInfo of an EC P-256 public key (the
    /// Console shows it base64-encoded).
    pub verification_key: Vec<u8>,
    /// SHA-256 digests of the app's signing certificates, any of which a token's
    /// `appIntegrity.certificateSha256Digest` must name; empty: not checked. Each is 64 hex
    /// digits (colons between bytes allowed, as the Console shows them) or 32 bytes in
    /// base64url or base64 (as tokens carry them).
    pub certificate_sha256_digests: Vec<String>,
}

impl fmt::Debug for PlayIntegrityApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayIntegrityApp")
            .field("package_name", &self.package_name)
            .field("decryption_key", &"<redacted>")
            .field(
                "verification_key",
                &format_args!("{} bytes", self.verification_key.len()),
            )
            .field(
                "certificate_sha256_digests",
                &self.certificate_sha256_digests,
            )
            .finish()
    }
}

/// The verifier's configuration as a server reads it from JSON:
///
/// ```json
/// {
///   "apps": [{
///     "package_name": "hk.example.staff",
///     "decryption_key": "<base64 of 32 bytes>",
///     "verification_key": "<base64 of the DER SubjectPublicKeyInfo>",
///     "certificate_sha256_digests": ["25:CB:0D:…"]
///   }],
///   "max_age_s": 600,
///   "device_integrity": "device",
///   "require_licensed": false
/// }
/// ```
///
/// Only `apps` is required; unknown members are refused, so a misspelt one does not silently
/// leave its default in force.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayIntegrityConfig {
    /// The apps whose tokens are verified; at least one.
    pub apps: Vec<PlayIntegrityAppConfig>,
    /// How old a token may be, in seconds: 1 to 86 400, 600 when absent.
    #[serde(default = "default_max_age_s")]
    pub max_age_s: u64,
    /// The least device integrity: `"device"` (when absent) or `"strong"`.
    #[serde(default)]
    pub device_integrity: DeviceIntegrity,
    /// Whether `accountDetails.appLicensingVerdict` must be `LICENSED`; `false` when absent.
    #[serde(default)]
    pub require_licensed: bool,
}

impl fmt::Debug for PlayIntegrityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayIntegrityConfig")
            .field("apps", &self.apps)
            .field("max_age_s", &self.max_age_s)
            .field("device_integrity", &self.device_integrity)
            .field("require_licensed", &self.require_licensed)
            .finish()
    }
}

fn default_max_age_s() -> u64 {
    DEFAULT_MAX_AGE.as_secs()
}

/// One app in [`PlayIntegrityConfig`], its keys as the Play Console shows them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayIntegrityAppConfig {
    /// The app's package name.
    pub package_name: String,
    /// The decryption key: base64 (standard alphabet) of 32 bytes.
    pub decryption_key: String,
    /// The verification key: base64 (standard alphabet) of the DER SubjectPublicKeyInfo of an
    /// EC P-256 key.
    pub verification_key: String,
    /// See [`PlayIntegrityApp::certificate_sha256_digests`]; empty when absent.
    #[serde(default)]
    pub certificate_sha256_digests: Vec<String>,
}

impl fmt::Debug for PlayIntegrityAppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayIntegrityAppConfig")
            .field("package_name", &self.package_name)
            .field("decryption_key", &"<redacted>")
            .field("verification_key", &self.verification_key)
            .field(
                "certificate_sha256_digests",
                &self.certificate_sha256_digests,
            )
            .finish()
    }
}

/// Verifies Play Integrity tokens of classic requests locally (see the module documentation
/// for what is checked, and in what order).
pub struct PlayIntegrityVerifier {
    apps: Vec<AppKeys>,
    max_age: Duration,
    device_integrity: DeviceIntegrity,
    require_licensed: bool,
}

/// One configured app, its keys parsed and checked.
struct AppKeys {
    package_name: String,
    decryption_key: [u8; 32],
    /// The verification key's uncompressed point, `0x04 ‖ x ‖ y`, as `ring` takes it.
    verification_point: [u8; 65],
    certificate_digests: Vec<[u8; 32]>,
}

impl fmt::Debug for PlayIntegrityVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayIntegrityVerifier")
            .field("packages", &self.packages().collect::<Vec<_>>())
            .field("max_age", &self.max_age)
            .field("device_integrity", &self.device_integrity)
            .field("require_licensed", &self.require_licensed)
            .finish()
    }
}

impl PlayIntegrityVerifier {
    /// A verifier of tokens made for `apps`, with the default maximum age and device
    /// integrity, and the licensing verdict not required.
    ///
    /// Refused, naming the field as `apps[i].…`: no app; an empty or repeated package name; a
    /// decryption key another app has too; a verification key that is not an EC P-256
    /// SubjectPublicKeyInfo with a point on the curve; a certificate digest that is not 32
    /// bytes in hex, base64url or base64.
    pub fn new(apps: Vec<PlayIntegrityApp>) -> Result<Self, ConfigError> {
        if apps.is_empty() {
            return Err(ConfigError::new("apps", "at least one app is needed"));
        }
        let mut keys: Vec<AppKeys> = Vec::with_capacity(apps.len());
        for (index, app) in apps.into_iter().enumerate() {
            let parsed = app_keys(index, app, &keys)?;
            keys.push(parsed);
        }
        Ok(Self {
            apps: keys,
            max_age: DEFAULT_MAX_AGE,
            device_integrity: DeviceIntegrity::default(),
            require_licensed: false,
        })
    }

    /// A verifier from the configuration form; the errors of [`Self::new`], and a `max_age_s`
    /// of 0 or above [`LONGEST_MAX_AGE`], or keys that are not base64 of the right length.
    pub fn from_config(config: &PlayIntegrityConfig) -> Result<Self, ConfigError> {
        let max_age = max_age(config.max_age_s)?;
        let apps = config
            .apps
            .iter()
            .enumerate()
            .map(|(index, app)| app_from_config(index, app))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(apps)?
            .with_max_age(max_age)
            .with_device_integrity(config.device_integrity)
            .with_require_licensed(config.require_licensed))
    }

    /// A verifier from the configuration JSON ([`PlayIntegrityConfig`]); a document that does
    /// not read as one is refused naming the member, e.g.
    /// `apps[0].decryption_key: 32 bytes of base64, found 31`.
    pub fn from_config_json(json: &str) -> Result<Self, ConfigError> {
        Self::from_config(&crate::read_config(json)?)
    }

    /// Sets how old a token may be (its `requestDetails.timestampMillis` before the server's
    /// clock); a token exactly this old passes.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Sets the least device integrity a token must show.
    pub fn with_device_integrity(mut self, device_integrity: DeviceIntegrity) -> Self {
        self.device_integrity = device_integrity;
        self
    }

    /// Sets whether `accountDetails.appLicensingVerdict` must be `LICENSED`.
    pub fn with_require_licensed(mut self, require_licensed: bool) -> Self {
        self.require_licensed = require_licensed;
        self
    }

    /// The package names of the configured apps, in configuration order.
    pub fn packages(&self) -> impl Iterator<Item = &str> {
        self.apps.iter().map(|app| app.package_name.as_str())
    }

    /// How old a token may be.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The least device integrity a token must show.
    pub fn device_integrity(&self) -> DeviceIntegrity {
        self.device_integrity
    }

    /// Whether the licensing verdict must be `LICENSED`.
    pub fn require_licensed(&self) -> bool {
        self.require_licensed
    }

    /// Steps 1 to 4: the token opened and its signature checked, with the app it belongs to.
    fn open<'s>(
        &'s self,
        token: &str,
    ) -> Result<(&'s AppKeys, Map<String, Value>), AttestationError> {
        let jwe = Jwe::parse(token)?;
        let (app, content_key) = self.unwrap_content_key(&jwe.encrypted_key)?;
        let plaintext = jwe.decrypt(&content_key)?;
        let payload = verify_jws(&plaintext, app)?;
        Ok((app, payload))
    }

    fn unwrap_content_key(&self, wrapped: &[u8]) -> Result<(&AppKeys, [u8; 32]), AttestationError> {
        for app in &self.apps {
            let mut content_key = [0u8; 32];
            if KekAes256::from(app.decryption_key)
                .unwrap(wrapped, &mut content_key)
                .is_ok()
            {
                return Ok((app, content_key));
            }
        }
        let packages = self.packages().collect::<Vec<_>>().join(", ");
        Err(not_authentic(format!(
            "JWE encrypted key: does not unwrap with the decryption key of any configured app \
             ({packages})"
        )))
    }

    /// Steps 5 to 12, in order; the summary of what the token established.
    fn check(
        &self,
        payload: &Payload<'_>,
        app: &AppKeys,
        expected: &Expected<'_>,
    ) -> Result<String, AttestationError> {
        check_nonce(payload, expected.nonce)?;
        check_package(payload, REQUEST_PACKAGE, app, expected)?;
        check_time(payload, expected.now, self.max_age)?;
        let app_verdict = check_app_verdict(payload)?;
        check_package(payload, APP_PACKAGE, app, expected)?;
        check_certificates(payload, app)?;
        let device_verdicts = check_device(payload, self.device_integrity)?;
        let licensing = check_licensing(payload, self.require_licensed)?;
        let mut summary = device_verdicts;
        summary.push(app_verdict);
        summary.extend(licensing);
        Ok(summary.join(", "))
    }
}

impl AttestationVerifier for PlayIntegrityVerifier {
    fn format(&self) -> &str {
        FORMAT
    }

    fn verify(&self, token: &str, expected: &Expected<'_>) -> Result<Attested, AttestationError> {
        let (app, payload) = self.open(token)?;
        let summary = self.check(&Payload(&payload), app, expected)?;
        Ok(Attested {
            format: FORMAT.to_string(),
            app_id: app.package_name.clone(),
            summary,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn max_age(seconds: u64) -> Result<Duration, ConfigError> {
    let max_age = Duration::from_secs(seconds);
    if seconds == 0 || max_age > LONGEST_MAX_AGE {
        return Err(ConfigError::new(
            "max_age_s",
            format!(
                "from 1 to {} seconds, found {seconds}",
                LONGEST_MAX_AGE.as_secs()
            ),
        ));
    }
    Ok(max_age)
}

fn app_from_config(
    index: usize,
    app: &PlayIntegrityAppConfig,
) -> Result<PlayIntegrityApp, ConfigError> {
    let field = |name: &str| format!("apps[{index}].{name}");
    let decryption_key = decode_base64(&app.decryption_key)
        .map_err(|e| ConfigError::new(field("decryption_key"), e))?;
    let decryption_key = <[u8; 32]>::try_from(decryption_key.as_slice()).map_err(|_| {
        ConfigError::new(
            field("decryption_key"),
            format!("32 bytes of base64, found {}", decryption_key.len()),
        )
    })?;
    let verification_key = decode_base64(&app.verification_key)
        .map_err(|e| ConfigError::new(field("verification_key"), e))?;
    Ok(PlayIntegrityApp {
        package_name: app.package_name.clone(),
        decryption_key,
        verification_key,
        certificate_sha256_digests: app.certificate_sha256_digests.clone(),
    })
}

/// Standard-alphabet base64, padded or not, around which whitespace is ignored.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .map_err(|e| format!("not base64 ({e})"))
}

fn app_keys(
    index: usize,
    app: PlayIntegrityApp,
    earlier: &[AppKeys],
) -> Result<AppKeys, ConfigError> {
    let field = |name: &str| format!("apps[{index}].{name}");
    check_package_name(&app.package_name, earlier)
        .map_err(|e| ConfigError::new(field("package_name"), e))?;
    if let Some(other) = earlier
        .iter()
        .position(|keys| keys.decryption_key == app.decryption_key)
    {
        return Err(ConfigError::new(
            field("decryption_key"),
            format!("the same key as apps[{other}]'s; the Play Console gives each app its own"),
        ));
    }
    let verification_point = p256_point(&app.verification_key)
        .map_err(|e| ConfigError::new(field("verification_key"), e))?;
    let certificate_digests = app
        .certificate_sha256_digests
        .iter()
        .enumerate()
        .map(|(i, digest)| {
            crate::parse_sha256_digest(digest).ok_or_else(|| {
                ConfigError::new(
                    field(&format!("certificate_sha256_digests[{i}]")),
                    format!(
                        "a SHA-256 digest (64 hex digits, colons allowed, or 32 bytes of \
                         base64url or base64), found {digest:?}"
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AppKeys {
        package_name: app.package_name,
        decryption_key: app.decryption_key,
        verification_point,
        certificate_digests,
    })
}

fn check_package_name(name: &str, earlier: &[AppKeys]) -> Result<(), String> {
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(format!(
            "a package name such as \"hk.example.staff\", found {name:?}"
        ));
    }
    match earlier.iter().position(|keys| keys.package_name == name) {
        Some(other) => Err(format!("{name:?} is listed twice (also apps[{other}])")),
        None => Ok(()),
    }
}

/// The uncompressed point of a P-256 SubjectPublicKeyInfo, checked to be on the curve.
fn p256_point(spki: &[u8]) -> Result<[u8; 65], String> {
    if spki.len() != P256_SPKI_LEN {
        return Err(format!(
            "the DER SubjectPublicKeyInfo of an EC P-256 key ({P256_SPKI_LEN} bytes), found {} \
             bytes",
            spki.len()
        ));
    }
    let point = spki
        .strip_prefix(&P256_SPKI_PREFIX[..])
        .and_then(|point| <[u8; 65]>::try_from(point).ok())
        .filter(|point| point[0] == 0x04)
        .ok_or(
            "not an EC P-256 public key with an uncompressed point (its algorithm or encoding \
             differs)",
        )?;
    match is_p256_point(&point) {
        Ok(true) => Ok(point),
        Ok(false) => Err("the key's point is not on the P-256 curve".to_string()),
        Err(_) => Err("the system's random source failed while the key was checked".to_string()),
    }
}

/// Whether `sec1` (`0x04 ‖ x ‖ y`) is a point on P-256. `ring` has no call that only parses a
/// public key, but its ECDH validates the peer's key before using it: an agreement with a
/// throwaway private key succeeds if and only if the point is valid. `Err` only if the
/// system's random source fails.
fn is_p256_point(sec1: &[u8; 65]) -> Result<bool, ring::error::Unspecified> {
    use ring::agreement;
    let rng = ring::rand::SystemRandom::new();
    let ours = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)?;
    let theirs = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &sec1[..]);
    Ok(agreement::agree_ephemeral(ours, &theirs, |_| ()).is_ok())
}

// ---------------------------------------------------------------------------------------------
// The JWE and the JWS

/// A compact JWE, split and decoded, not yet decrypted.
struct Jwe<'t> {
    /// The protected header as it was sent: the AAD of the encryption.
    header: &'t str,
    encrypted_key: Vec<u8>,
    iv: [u8; IV_LEN],
    ciphertext: Vec<u8>,
    tag: [u8; TAG_LEN],
}

impl<'t> Jwe<'t> {
    fn parse(token: &'t str) -> Result<Self, AttestationError> {
        if token.is_empty() {
            return Err(malformed("token: empty"));
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(malformed(format!(
                "token: {} bytes, more than the {MAX_TOKEN_BYTES} read",
                token.len()
            )));
        }
        let segments: Vec<&str> = token.split('.').collect();
        let [header, encrypted_key, iv, ciphertext, tag] = segments[..] else {
            return Err(malformed(format!(
                "token: {} segments, a compact JWE has 5",
                segments.len()
            )));
        };
        check_jwe_header(header)?;
        Ok(Self {
            header,
            encrypted_key: fixed_len::<WRAPPED_KEY_LEN>("JWE encrypted key", encrypted_key)?
                .to_vec(),
            iv: fixed_len("JWE initialization vector", iv)?,
            ciphertext: decode_segment("JWE ciphertext", ciphertext)?,
            tag: fixed_len("JWE authentication tag", tag)?,
        })
    }

    /// AES-256-GCM with the unwrapped content key, the header segment as AAD.
    fn decrypt(&self, content_key: &[u8; 32]) -> Result<Vec<u8>, AttestationError> {
        let key = UnboundKey::new(&AES_256_GCM, content_key)
            .map_err(|_| not_authentic("JWE encrypted key: not an AES-256 key"))?;
        let mut in_out = [self.ciphertext.as_slice(), &self.tag].concat();
        let plaintext_len = LessSafeKey::new(key)
            .open_in_place(
                Nonce::assume_unique_for_key(self.iv),
                Aad::from(self.header.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| {
                not_authentic(
                    "JWE ciphertext: does not decrypt and authenticate (AES-256-GCM) with the \
                     unwrapped key; altered after encryption",
                )
            })?
            .len();
        in_out.truncate(plaintext_len);
        Ok(in_out)
    }
}

fn check_jwe_header(segment: &str) -> Result<(), AttestationError> {
    let header = header_object("JWE header", segment)?;
    expect_member(&header, "JWE header", "alg", "A256KW")?;
    expect_member(&header, "JWE header", "enc", "A256GCM")?;
    refuse_members(&header, "JWE header", &["zip", "crit"])
}

/// Step 3: the JWS header and signature; the payload as a JSON object.
fn verify_jws(plaintext: &[u8], app: &AppKeys) -> Result<Map<String, Value>, AttestationError> {
    let jws = std::str::from_utf8(plaintext)
        .map_err(|_| malformed("JWS: the decrypted plaintext is not UTF-8"))?;
    let segments: Vec<&str> = jws.split('.').collect();
    let [header, payload, signature] = segments[..] else {
        return Err(malformed(format!(
            "JWS: {} segments, a compact JWS has 3",
            segments.len()
        )));
    };
    check_jws_header(header)?;
    let signature = decode_segment("JWS signature", signature)?;
    if signature.len() != ES256_SIGNATURE_LEN {
        return Err(not_authentic(format!(
            "JWS signature: {} bytes, an ES256 signature has {ES256_SIGNATURE_LEN}",
            signature.len()
        )));
    }
    let signing_input = &jws[..header.len() + 1 + payload.len()];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &app.verification_point[..])
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| {
            not_authentic(format!(
                "JWS signature: does not verify with the verification key of {}",
                app.package_name
            ))
        })?;
    payload_object(&decode_segment("JWS payload", payload)?)
}

/// The signing algorithm must be ES256: any other (`none`, `HS256`, …) is refused as not
/// authentic, whatever the signature segment holds.
fn check_jws_header(segment: &str) -> Result<(), AttestationError> {
    let header = header_object("JWS header", segment)?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "ES256" => {}
        found => {
            return Err(not_authentic(format!(
                "JWS header alg: expected \"ES256\", found {}",
                show_option(found)
            )));
        }
    }
    refuse_members(&header, "JWS header", &["crit"])
}

fn payload_object(bytes: &[u8]) -> Result<Map<String, Value>, AttestationError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(malformed(format!(
            "JWS payload: expected a JSON object, found {}",
            show(&other)
        ))),
        Err(e) => Err(malformed(format!("JWS payload: not JSON ({e})"))),
    }
}

fn header_object(part: &str, segment: &str) -> Result<Map<String, Value>, AttestationError> {
    let bytes = decode_segment(part, segment)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(malformed(format!(
            "{part}: expected a JSON object, found {}",
            show(&other)
        ))),
        Err(e) => Err(malformed(format!("{part}: not JSON ({e})"))),
    }
}

fn expect_member(
    header: &Map<String, Value>,
    part: &str,
    name: &str,
    value: &str,
) -> Result<(), AttestationError> {
    match header.get(name) {
        Some(Value::String(found)) if found == value => Ok(()),
        found => Err(malformed(format!(
            "{part} {name}: expected \"{value}\", found {}",
            show_option(found)
        ))),
    }
}

fn refuse_members(
    header: &Map<String, Value>,
    part: &str,
    names: &[&str],
) -> Result<(), AttestationError> {
    match names
        .iter()
        .find_map(|name| header.get(*name).map(|v| (name, v)))
    {
        Some((name, value)) => Err(malformed(format!(
            "{part} {name}: not supported, found {}",
            show(value)
        ))),
        None => Ok(()),
    }
}

/// A JOSE segment: base64url without padding.
fn decode_segment(part: &str, segment: &str) -> Result<Vec<u8>, AttestationError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| malformed(format!("{part}: not base64url without padding ({e})")))
}

fn fixed_len<const N: usize>(part: &str, segment: &str) -> Result<[u8; N], AttestationError> {
    let bytes = decode_segment(part, segment)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| malformed(format!("{part}: {} bytes, expected {N}", bytes.len())))
}

// ---------------------------------------------------------------------------------------------
// The verdict

/// The verdict JSON, read one field at a time in the order of the checks, so that a token for
/// another nonce is refused as such whatever its later fields hold.
struct Payload<'p>(&'p Map<String, Value>);

impl<'p> Payload<'p> {
    /// The value at `path`; `None` if it or an object on the way is missing or `null`.
    fn get(&self, path: &[&str]) -> Result<Option<&'p Value>, AttestationError> {
        let Some((last, parents)) = path.split_last() else {
            return Ok(None);
        };
        let mut object = self.0;
        for (depth, key) in parents.iter().enumerate() {
            match object.get(*key) {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::Object(inner)) => object = inner,
                Some(other) => {
                    return Err(malformed(format!(
                        "{}: expected an object, found {}",
                        path[..=depth].join("."),
                        show(other)
                    )));
                }
            }
        }
        Ok(object.get(*last).filter(|value| !value.is_null()))
    }

    fn string(&self, path: &[&str]) -> Result<Option<&'p str>, AttestationError> {
        match self.get(path)? {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(wrong_type(path, "a string", other)),
        }
    }

    fn required_string(&self, path: &[&str]) -> Result<&'p str, AttestationError> {
        self.string(path)?
            .ok_or_else(|| malformed(format!("{}: missing", path.join("."))))
    }

    /// A list of strings; missing is empty.
    fn strings(&self, path: &[&str]) -> Result<Vec<&'p str>, AttestationError> {
        let Some(value) = self.get(path)? else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(wrong_type(path, "a list of strings", value));
        };
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| wrong_type(path, "a list of strings", value))
            })
            .collect()
    }
}

fn check_nonce(payload: &Payload<'_>, nonce: &[u8; 32]) -> Result<(), AttestationError> {
    let found = payload.required_string(NONCE)?;
    if nonce_matches(found, nonce) {
        Ok(())
    } else {
        Err(AttestationError::NonceMismatch)
    }
}

/// Whether `found` renders `nonce`: base64url without padding, as the app sends it, or the
/// same bytes padded or in the standard alphabet.
fn nonce_matches(found: &str, nonce: &[u8; 32]) -> bool {
    found == URL_SAFE_NO_PAD.encode(nonce)
        || [URL_SAFE, STANDARD, STANDARD_NO_PAD]
            .iter()
            .any(|engine| engine.decode(found).is_ok_and(|bytes| bytes == nonce))
}

/// The package named at `path` must be the app's whose keys opened the token, and one the
/// organisation allows.
fn check_package(
    payload: &Payload<'_>,
    path: &[&str],
    app: &AppKeys,
    expected: &Expected<'_>,
) -> Result<(), AttestationError> {
    let found = payload.required_string(path)?;
    let allowed = expected.android_packages.iter().any(|p| p == found);
    if found == app.package_name && allowed {
        Ok(())
    } else {
        Err(AttestationError::WrongApp {
            app_id: found.to_string(),
        })
    }
}

fn check_time(
    payload: &Payload<'_>,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Result<(), AttestationError> {
    let made = timestamp_millis(payload)?;
    let age_ms = now.timestamp_millis().saturating_sub(made);
    let oldest = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    let newest = -i64::try_from(MAX_FUTURE_SKEW.as_millis()).unwrap_or(i64::MAX);
    if (newest..=oldest).contains(&age_ms) {
        Ok(())
    } else {
        Err(AttestationError::Stale {
            age_s: seconds_away_from_zero(age_ms),
        })
    }
}

fn timestamp_millis(payload: &Payload<'_>) -> Result<i64, AttestationError> {
    let value = payload
        .get(TIMESTAMP)?
        .ok_or_else(|| malformed(format!("{}: missing", TIMESTAMP.join("."))))?;
    let millis = match value {
        Value::String(text) => text.parse::<i64>().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    };
    millis.ok_or_else(|| wrong_type(TIMESTAMP, "a string of milliseconds since the epoch", value))
}

/// Whole seconds, rounded away from zero, so a token one millisecond past a limit is reported
/// past it.
fn seconds_away_from_zero(millis: i64) -> i64 {
    let seconds = millis / 1000;
    match millis % 1000 {
        0 => seconds,
        rest if rest > 0 => seconds + 1,
        _ => seconds - 1,
    }
}

fn check_app_verdict(payload: &Payload<'_>) -> Result<&'static str, AttestationError> {
    match payload.string(APP_VERDICT)? {
        Some(PLAY_RECOGNIZED) => Ok(PLAY_RECOGNIZED),
        found => Err(AttestationError::NotTrusted {
            verdict: format!(
                "{}: {} ({PLAY_RECOGNIZED} is required)",
                APP_VERDICT.join("."),
                found.unwrap_or("none")
            ),
        }),
    }
}

fn check_certificates(payload: &Payload<'_>, app: &AppKeys) -> Result<(), AttestationError> {
    if app.certificate_digests.is_empty() {
        return Ok(());
    }
    let found = payload.strings(CERTIFICATES)?;
    let known = |digest: &&str| {
        crate::parse_sha256_digest(digest)
            .is_some_and(|bytes| app.certificate_digests.contains(&bytes))
    };
    if found.iter().any(known) {
        return Ok(());
    }
    Err(AttestationError::NotTrusted {
        verdict: format!(
            "{}: {} (none is a signing certificate configured for {})",
            CERTIFICATES.join("."),
            list_or_none(&found),
            app.package_name
        ),
    })
}

fn check_device<'p>(
    payload: &Payload<'p>,
    least: DeviceIntegrity,
) -> Result<Vec<&'p str>, AttestationError> {
    let found = payload.strings(DEVICE_VERDICTS)?;
    if least.is_met_by(&found) {
        return Ok(found);
    }
    Err(AttestationError::NotTrusted {
        verdict: format!(
            "{}: {} ({} is required)",
            DEVICE_VERDICTS.join("."),
            list_or_none(&found),
            least.requirement()
        ),
    })
}

/// The licensing verdict for the summary, if the token has one; refused unless `LICENSED` if
/// `required`.
fn check_licensing<'p>(
    payload: &Payload<'p>,
    required: bool,
) -> Result<Option<&'p str>, AttestationError> {
    let found = payload.string(LICENSING)?;
    if required && found != Some(LICENSED) {
        return Err(AttestationError::NotTrusted {
            verdict: format!(
                "{}: {} ({LICENSED} is required)",
                LICENSING.join("."),
                found.unwrap_or("none")
            ),
        });
    }
    Ok(found)
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn wrong_type(path: &[&str], expected: &str, found: &Value) -> AttestationError {
    malformed(format!(
        "{}: expected {expected}, found {}",
        path.join("."),
        show(found)
    ))
}

/// A JSON value for a message, cut to a readable length.
fn show(value: &Value) -> String {
    const LONGEST: usize = 80;
    let text = value.to_string();
    if text.chars().count() <= LONGEST {
        text
    } else {
        let cut: String = text.chars().take(LONGEST).collect();
        format!("{cut}…")
    }
}

fn show_option(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_string(), show)
}

// ---------------------------------------------------------------------------------------------
// Test tokens

/// Tokens in Play Integrity's format made with test keys, for tests of this crate and of the
/// crates that use it (cargo feature `test-tokens`). A token is what Google's servers would
/// return to an app, except that the keys are the test's, not an app's from the Play Console.
///
/// ```
/// use daka_attest::play_integrity::{PlayIntegrityVerifier, testing};
/// use daka_attest::{AttestationVerifier, Expected};
///
/// let keys = testing::TestKeys::generate();
/// let verifier = PlayIntegrityVerifier::new(vec![keys.app("hk.example.staff")]).unwrap();
/// let nonce = [7u8; 32];
/// let now = chrono::Utc::now();
/// let token = keys.token(&testing::payload("hk.example.staff", &nonce, now));
/// let packages = ["hk.example.staff".to_string()];
/// let expected = Expected { nonce: &nonce, android_packages: &packages, ios_app_ids: &[], now };
/// assert_eq!(verifier.verify(&token, &expected).unwrap().app_id, "hk.example.staff");
/// ```
#[cfg(any(test, feature = "test-tokens"))]
pub mod testing {
    use std::fmt;

    use aes_kw::KekAes256;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::{DateTime, Utc};
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use ring::rand::{SecureRandom, SystemRandom};
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use serde_json::{Value, json};

    use super::{
        DeviceIntegrity, P256_SPKI_PREFIX, PlayIntegrityApp, PlayIntegrityAppConfig,
        PlayIntegrityConfig,
    };

    /// The signing-certificate digest [`payload`] puts in `appIntegrity.certificateSha256Digest`
    /// and [`TestKeys::app`] configures, base64url as in a token: SHA-256 of
    /// `daka test app signing certificate`.
    pub const TEST_CERTIFICATE_SHA256: &str = "JcsNbWPDW1ZS4ahqqTPXxbY8PDMHKoK4zWXr5OADnF4";

    /// A test app's Play Integrity keys: the decryption key and the signing key whose public
    /// half is the verification key.
    pub struct TestKeys {
        decryption_key: [u8; 32],
        signing_key: EcdsaKeyPair,
    }

    impl fmt::Debug for TestKeys {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("TestKeys").finish_non_exhaustive()
        }
    }

    impl TestKeys {
        /// Fresh keys from the system's random source.
        ///
        /// # Panics
        ///
        /// If the system's random source fails.
        pub fn generate() -> Self {
            let rng = SystemRandom::new();
            let mut decryption_key = [0u8; 32];
            rng.fill(&mut decryption_key)
                .expect("the system's random source works");
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("ring generates a P-256 key");
            let signing_key =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .expect("ring reads the PKCS#8 it generated");
            Self {
                decryption_key,
                signing_key,
            }
        }

        /// The decryption key (AES-256).
        pub fn decryption_key(&self) -> [u8; 32] {
            self.decryption_key
        }

        /// The verification key: the DER SubjectPublicKeyInfo of the signing key's public half.
        pub fn verification_key(&self) -> Vec<u8> {
            [
                &P256_SPKI_PREFIX[..],
                self.signing_key.public_key().as_ref(),
            ]
            .concat()
        }

        /// The app `package` with these keys, listing [`TEST_CERTIFICATE_SHA256`] as its
        /// signing certificate.
        pub fn app(&self, package: &str) -> PlayIntegrityApp {
            PlayIntegrityApp {
                package_name: package.to_string(),
                decryption_key: self.decryption_key,
                verification_key: self.verification_key(),
                certificate_sha256_digests: vec![TEST_CERTIFICATE_SHA256.to_string()],
            }
        }

        /// The configuration JSON of a verifier of the app `package` with these keys, the
        /// defaults otherwise; what a server reads from its configuration file.
        pub fn config_json(&self, package: &str) -> String {
            let config = PlayIntegrityConfig {
                apps: vec![PlayIntegrityAppConfig {
                    package_name: package.to_string(),
                    decryption_key: base64::engine::general_purpose::STANDARD
                        .encode(self.decryption_key),
                    verification_key: base64::engine::general_purpose::STANDARD
                        .encode(self.verification_key()),
                    certificate_sha256_digests: vec![TEST_CERTIFICATE_SHA256.to_string()],
                }],
                max_age_s: super::DEFAULT_MAX_AGE.as_secs(),
                device_integrity: DeviceIntegrity::Device,
                require_licensed: false,
            };
            serde_json::to_string_pretty(&config).expect("the configuration serialises")
        }

        /// A token for `payload`: signed ([`Self::sign`]), then encrypted ([`Self::encrypt`]).
        pub fn token(&self, payload: &Value) -> String {
            self.encrypt(self.sign(payload).as_bytes())
        }

        /// `payload` as a compact JWS, header `{"alg":"ES256"}`, signed with the signing key.
        ///
        /// # Panics
        ///
        /// If the system's random source fails.
        pub fn sign(&self, payload: &Value) -> String {
            self.sign_parts(br#"{"alg":"ES256"}"#, payload.to_string().as_bytes())
        }

        /// A compact JWS of `header` and `payload`, as given, signed with the signing key
        /// (ES256, whatever `header` says): for tokens whose header or payload is not what
        /// Google would send.
        ///
        /// # Panics
        ///
        /// If the system's random source fails.
        pub fn sign_parts(&self, header: &[u8], payload: &[u8]) -> String {
            let header = URL_SAFE_NO_PAD.encode(header);
            let payload = URL_SAFE_NO_PAD.encode(payload);
            let signing_input = format!("{header}.{payload}");
            let signature = self
                .signing_key
                .sign(&SystemRandom::new(), signing_input.as_bytes())
                .expect("ring signs with a key it generated");
            format!(
                "{signing_input}.{}",
                URL_SAFE_NO_PAD.encode(signature.as_ref())
            )
        }

        /// `plaintext` as a compact JWE, header `{"alg":"A256KW","enc":"A256GCM"}`: a fresh
        /// content key and IV, the key wrapped under the decryption key.
        ///
        /// # Panics
        ///
        /// If the system's random source fails.
        pub fn encrypt(&self, plaintext: &[u8]) -> String {
            let rng = SystemRandom::new();
            let mut content_key = [0u8; 32];
            let mut iv = [0u8; super::IV_LEN];
            rng.fill(&mut content_key)
                .and_then(|()| rng.fill(&mut iv))
                .expect("the system's random source works");
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"A256KW","enc":"A256GCM"}"#);
            let mut wrapped = [0u8; super::WRAPPED_KEY_LEN];
            KekAes256::from(self.decryption_key)
                .wrap(&content_key, &mut wrapped)
                .expect("a 32-byte key wraps into 40 bytes");
            let key = UnboundKey::new(&AES_256_GCM, &content_key).expect("a 32-byte AES key");
            let mut ciphertext = plaintext.to_vec();
            let tag = LessSafeKey::new(key)
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(iv),
                    Aad::from(header.as_bytes()),
                    &mut ciphertext,
                )
                .expect("AES-GCM seals a test payload");
            [
                header,
                URL_SAFE_NO_PAD.encode(wrapped),
                URL_SAFE_NO_PAD.encode(iv),
                URL_SAFE_NO_PAD.encode(ciphertext),
                URL_SAFE_NO_PAD.encode(tag.as_ref()),
            ]
            .join(".")
        }
    }

    /// A verdict that passes every check of a verifier of `package` with the default settings
    /// (and with the licensing verdict required) for `nonce` at `at`: a Play-recognised app
    /// signed with [`TEST_CERTIFICATE_SHA256`], `MEETS_DEVICE_INTEGRITY`, `LICENSED`. Tests
    /// alter it to make the refusals.
    pub fn payload(package: &str, nonce: &[u8; 32], at: DateTime<Utc>) -> Value {
        json!({
            "requestDetails": {
                "requestPackageName": package,
                "nonce": URL_SAFE_NO_PAD.encode(nonce),
                "timestampMillis": at.timestamp_millis().to_string(),
            },
            "appIntegrity": {
                "appRecognitionVerdict": "PLAY_RECOGNIZED",
                "packageName": package,
                "certificateSha256Digest": [TEST_CERTIFICATE_SHA256],
                "versionCode": "42",
            },
            "deviceIntegrity": {
                "deviceRecognitionVerdict": ["MEETS_DEVICE_INTEGRITY"],
            },
            "accountDetails": {
                "appLicensingVerdict": "LICENSED",
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_read_as_hex_with_or_without_colons_and_as_base64() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let colons = bytes
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        for text in [
            hex.clone(),
            colons,
            URL_SAFE_NO_PAD.encode(bytes),
            URL_SAFE.encode(bytes),
            STANDARD.encode(bytes),
            STANDARD_NO_PAD.encode(bytes),
        ] {
            assert_eq!(crate::parse_sha256_digest(&text), Some(bytes), "{text}");
        }
        for text in [
            "",
            "abc",
            &hex[..62],
            &format!("{hex}00"),
            &"g".repeat(64),
            "é".repeat(32).as_str(),
        ] {
            assert_eq!(crate::parse_sha256_digest(text), None, "{text}");
        }
    }

    #[test]
    fn the_nonce_reads_unpadded_padded_and_in_either_alphabet() {
        // 0xfb bytes give `-`/`_` in base64url and `+`/`/` in base64.
        let nonce = [0xfb_u8; 32];
        for text in [
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE.encode(nonce),
            STANDARD.encode(nonce),
            STANDARD_NO_PAD.encode(nonce),
        ] {
            assert!(nonce_matches(&text, &nonce), "{text}");
        }
        let mut other = nonce;
        other[31] ^= 1;
        assert!(!nonce_matches(&URL_SAFE_NO_PAD.encode(other), &nonce));
        assert!(!nonce_matches(
            &URL_SAFE_NO_PAD.encode(&nonce[..31]),
            &nonce
        ));
        assert!(!nonce_matches("", &nonce));
        assert!(!nonce_matches("not base64!", &nonce));
    }

    #[test]
    fn ages_round_away_from_zero() {
        assert_eq!(seconds_away_from_zero(0), 0);
        assert_eq!(seconds_away_from_zero(600_000), 600);
        assert_eq!(seconds_away_from_zero(600_001), 601);
        assert_eq!(seconds_away_from_zero(-60_001), -61);
        assert_eq!(seconds_away_from_zero(-61_000), -61);
        assert_eq!(seconds_away_from_zero(i64::MIN), i64::MIN / 1000 - 1);
        assert_eq!(seconds_away_from_zero(i64::MAX), i64::MAX / 1000 + 1);
    }

    #[test]
    fn verification_keys_must_be_p256_spki_with_a_point_on_the_curve() {
        let keys = testing::TestKeys::generate();
        let spki = keys.verification_key();
        assert_eq!(
            p256_point(&spki).map(|p| p.to_vec()),
            Ok(spki[26..].to_vec())
        );

        let short = p256_point(&spki[..90]).unwrap_err();
        assert!(short.contains("found 90 bytes"), "{short}");
        let mut other_curve = spki.clone();
        other_curve[22] ^= 1; // the curve OID's last byte
        assert!(
            p256_point(&other_curve)
                .unwrap_err()
                .contains("not an EC P-256")
        );
        let mut compressed = spki.clone();
        compressed[26] = 0x02;
        assert!(
            p256_point(&compressed)
                .unwrap_err()
                .contains("not an EC P-256")
        );
        let mut off_curve = spki.clone();
        off_curve[90] ^= 1;
        assert!(
            p256_point(&off_curve)
                .unwrap_err()
                .contains("not on the P-256 curve")
        );
    }

    #[test]
    fn payload_fields_of_the_wrong_type_name_the_field() {
        let object = serde_json::json!({
            "requestDetails": "x",
            "deviceIntegrity": {"deviceRecognitionVerdict": ["A", 1]},
            "appIntegrity": {"appRecognitionVerdict": 7},
        });
        let Value::Object(map) = object else {
            unreachable!()
        };
        let payload = Payload(&map);
        let reason = |e: AttestationError| match e {
            AttestationError::Malformed { reason } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(payload.string(NONCE).unwrap_err()),
            "requestDetails: expected an object, found \"x\""
        );
        assert_eq!(
            reason(payload.strings(DEVICE_VERDICTS).unwrap_err()),
            "deviceIntegrity.deviceRecognitionVerdict: expected a list of strings, found [\"A\",1]"
        );
        assert_eq!(
            reason(payload.string(APP_VERDICT).unwrap_err()),
            "appIntegrity.appRecognitionVerdict: expected a string, found 7"
        );
        assert_eq!(payload.strings(CERTIFICATES).unwrap(), Vec::<&str>::new());
        assert_eq!(payload.string(LICENSING).unwrap(), None);
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let shown = show(&Value::String("é".repeat(500)));
        assert_eq!(shown.chars().count(), 81);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn debug_output_does_not_show_the_decryption_key() {
        let keys = testing::TestKeys::generate();
        let app = keys.app("hk.example.staff");
        let text = format!("{app:?}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(
            !text.contains(&format!("{:?}", keys.decryption_key())),
            "{text}"
        );
        let config: PlayIntegrityConfig =
            serde_json::from_str(&keys.config_json("hk.example.staff")).unwrap();
        let text = format!("{config:?}");
        assert!(!text.contains(&config.apps[0].decryption_key), "{text}");
        let verifier = PlayIntegrityVerifier::new(vec![app]).unwrap();
        assert!(format!("{verifier:?}").contains("hk.example.staff"));
    }

    #[test]
    fn a_token_round_trips_through_the_jwe_and_the_jws() {
        let keys = testing::TestKeys::generate();
        let verifier = PlayIntegrityVerifier::new(vec![keys.app("hk.example.staff")]).unwrap();
        let payload = serde_json::json!({"hello": "world"});
        let (app, opened) = verifier.open(&keys.token(&payload)).unwrap();
        assert_eq!(app.package_name, "hk.example.staff");
        assert_eq!(Value::Object(opened), payload);
    }
}
