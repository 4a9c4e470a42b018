//! Protection of the device's signing key at rest.
//!
//! The punch signature key is Ed25519 (DESIGN: one format on every platform), which neither
//! Android Keystore before API 33 nor the Secure Enclave can hold. So daka generates the key
//! itself and asks the platform to *seal* its 32-byte seed with a hardware-backed key
//! (Android: an AES-GCM key in the Keystore; iOS: a Keychain item with
//! `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`, or an ECIES envelope from a Secure
//! Enclave key). Only the sealed blob is written to the database.

/// Seals and opens the device key's seed. Apps implement this over the platform key store.
pub trait KeyStore: Send + Sync {
    /// Encrypts (or otherwise protects) `secret` for storage on disk.
    fn seal(&self, secret: &[u8]) -> Result<Vec<u8>, KeyStoreError>;
    /// Recovers a secret sealed by [`KeyStore::seal`] on this device.
    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, KeyStoreError>;
}

/// The platform key store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key store: {reason}")]
pub struct KeyStoreError {
    /// What failed, as the app's [`KeyStore`] describes it (e.g. the Keystore or Keychain
    /// error), for logs and support.
    pub reason: String,
}

/// Keeps the seed as it is. For the server-side tools, tests and the demo; an app that uses
/// it stores its signing key in plain form in its private storage.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnprotectedKeyStore;

impl KeyStore for UnprotectedKeyStore {
    fn seal(&self, secret: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        Ok(secret.to_vec())
    }

    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        Ok(sealed.to_vec())
    }
}
