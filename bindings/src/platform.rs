//! What the app provides: the foreign traits `KeyStore` and `StatusListener`.
//!
//! Both are implemented in Kotlin or Swift and called from Rust. Every method returns a
//! `Result` so that an exception thrown by app code comes back as a `DakaError` instead of a
//! panic: a `DakaException` is passed through, any other exception arrives as
//! `DakaError::Internal` (see `From<UnexpectedUniFFICallbackError>` in `error.rs`).
//!
//! * [`KeyStore`] seals the device's signing key at rest (Android Keystore AES-GCM key, iOS
//!   Keychain). [`ForeignKeyStore`] adapts it to the core's trait; whatever it throws becomes
//!   `DakaError::KeyStore`, because to the app it is a key store failure whatever its type.
//! * [`StatusListener`] hears about sync progress and outcomes. Its errors are ignored (a
//!   listener that throws must not stop a sync), and it is called from daka's sync threads,
//!   never the app's main thread: post to the UI thread from it.

use std::sync::{Arc, Mutex};

use daka_device::{KeyStore as CoreKeyStore, KeyStoreError};

use crate::error::DakaError;
use crate::types::SyncReport;

/// Protects the device's signing key at rest. Implement it over the Android Keystore or the
/// iOS Keychain; pass `null`/`nil` to `DakaDevice.open` to store the key unprotected (tests
/// and demos only).
///
/// On Android this name meets `java.security.KeyStore`; import one of them under an alias.
#[uniffi::export(foreign)]
pub trait KeyStore: Send + Sync {
    /// Encrypts `secret` (the 32-byte key seed) for storage in daka's database. Called once,
    /// when the device store is created.
    fn seal(&self, secret: Vec<u8>) -> Result<Vec<u8>, DakaError>;
    /// Decrypts what `seal` returned. Called every time the device store is opened.
    fn open(&self, sealed: Vec<u8>) -> Result<Vec<u8>, DakaError>;
}

/// Hears about sync rounds: explicit `syncNow()` calls and the background loop. Called on
/// daka's sync threads; exceptions thrown here are ignored.
#[uniffi::export(foreign)]
pub trait StatusListener: Send + Sync {
    /// `sent` of `total` queued items were answered by the server (after every batch).
    fn on_sync_progress(&self, sent: u64, total: u64) -> Result<(), DakaError>;
    /// A round finished; the report says what it did.
    fn on_sync_finished(&self, report: SyncReport) -> Result<(), DakaError>;
    /// A round failed: `Offline` and `ServerBusy` are retried by the background loop on its
    /// own; other errors need the app (for example `Unauthorized`: enrol again; `Tls`: the
    /// server's certificate or the TLS options must change, and the loop waits for the next
    /// punch).
    fn on_sync_failed(&self, error: DakaError) -> Result<(), DakaError>;
}

/// The app's key store, as the core sees it.
pub(crate) struct ForeignKeyStore(pub(crate) Arc<dyn KeyStore>);

fn key_store_failure(e: DakaError) -> KeyStoreError {
    KeyStoreError {
        reason: match e {
            DakaError::KeyStore { reason } => reason,
            other => other.to_string(),
        },
    }
}

impl CoreKeyStore for ForeignKeyStore {
    fn seal(&self, secret: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        self.0.seal(secret.to_vec()).map_err(key_store_failure)
    }

    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        self.0.open(sealed.to_vec()).map_err(key_store_failure)
    }
}

/// The listener slot, shared with the background loop.
#[derive(Clone, Default)]
pub(crate) struct Listeners(Arc<Mutex<Option<Arc<dyn StatusListener>>>>);

impl Listeners {
    pub(crate) fn set(&self, listener: Option<Arc<dyn StatusListener>>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = listener;
    }

    fn current(&self) -> Option<Arc<dyn StatusListener>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn progress(&self, sent: u64, total: u64) {
        if let Some(l) = self.current() {
            let _ = l.on_sync_progress(sent, total);
        }
    }

    /// Reports a round's outcome and passes it on.
    pub(crate) fn outcome(
        &self,
        outcome: Result<SyncReport, DakaError>,
    ) -> Result<SyncReport, DakaError> {
        if let Some(l) = self.current() {
            let _ = match &outcome {
                Ok(report) => l.on_sync_finished(report.clone()),
                Err(e) => l.on_sync_failed(e.clone()),
            };
        }
        outcome
    }
}
