//! Publishing policy versions and keeping their rule engines.
//!
//! A version is published once and never changes: its document is validated with
//! `Policy::from_json` (the same parser the devices use), must name the publishing
//! organisation, must be newer than every stored version, and is signed with the
//! organisation's key over its exact UTF-8 bytes. Every device of the organisation then sees a
//! `policy_updated` change. Old versions are kept forever, because the server re-judges every
//! punch on the version the device judged it on.
//!
//! [`Engines`] caches one [`Engine`] per (organisation, version), built on first use: building
//! one indexes every fence, and a push of hundreds of punches must not do that per punch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use daka_core::protocol::{Change, policy_bundle};
use daka_core::{Engine, Policy, PolicyError};

use crate::storage::{OrgRow, PublishOutcome, Storage, StorageError, StoredPolicy};

/// Why a policy could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The document does not parse or validate as a policy; the inner error names the field.
    /// The admin API answers 400 `invalid_policy`.
    #[error("the policy is invalid: {0}")]
    Invalid(#[from] PolicyError),
    /// The document's `org.id` is not the publishing organisation's (400
    /// `policy_org_mismatch`).
    #[error("the policy is for organisation {found:?}, not {expected:?}")]
    OrgMismatch {
        /// Id of the organisation publishing.
        expected: String,
        /// The document's `org.id`.
        found: String,
    },
    /// A version at least as new is already published; give the document a higher `version`
    /// (409 `policy_version_not_newer`).
    #[error("version {version} is not newer than the current version {current}")]
    NotNewer {
        /// The document's `version`.
        version: u64,
        /// The newest stored version.
        current: u64,
    },
    /// Signing with the organisation key or encoding the change failed; a server fault,
    /// answered 500 `internal`.
    #[error("the policy cannot be signed: {0}")]
    Sign(String),
    /// The storage failed; nothing was published. [`StorageError::is_retryable`] says
    /// whether to try again.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A published version.
#[derive(Debug, Clone)]
pub struct Published {
    /// The version as stored: document, signature and publication time.
    pub policy: StoredPolicy,
    /// Devices told about it.
    pub devices: u64,
}

/// Validates, signs and stores a new policy version for `org`.
pub fn publish(
    storage: &dyn Storage,
    org: &OrgRow,
    document: &str,
    now: DateTime<Utc>,
) -> Result<Published, PublishError> {
    let policy = Policy::from_json(document)?;
    if policy.org.id != org.id {
        return Err(PublishError::OrgMismatch {
            expected: org.id.clone(),
            found: policy.org.id,
        });
    }
    let signature = policy_bundle::sign(&org.signing_seed, document)
        .map_err(|e| PublishError::Sign(e.to_string()))?;
    let stored = StoredPolicy {
        org_id: org.id.clone(),
        version: policy.version,
        document: document.to_string(),
        signature,
        published_at: now,
    };
    let change = serde_json::to_string(&Change::PolicyUpdated {
        version: policy.version,
    })
    .map_err(|e| PublishError::Sign(e.to_string()))?;
    match storage.publish_policy(&stored, &change)? {
        PublishOutcome::Published { devices } => Ok(Published {
            policy: stored,
            devices,
        }),
        PublishOutcome::NotNewer { current } => Err(PublishError::NotNewer {
            version: policy.version,
            current,
        }),
    }
}

/// Rule engines by (organisation, policy version).
#[derive(Debug, Default)]
pub struct Engines {
    cache: Mutex<HashMap<(String, u64), Arc<Engine>>>,
}

/// Engines kept at most; the cache is emptied when it is full (versions are few and rebuilding
/// one is cheap next to a push).
const MAX_ENGINES: usize = 64;

/// Why no engine is available for a version.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The organisation has no such version. A punch naming it is stored as a refused link
    /// with code `unknown_policy_version`.
    #[error("policy version {0} was never published")]
    Unknown(u64),
    /// The stored document no longer parses with this build's `Policy::from_json` (for
    /// example after an upgrade that tightened validation); a punch naming it is refused as
    /// for [`EngineError::Unknown`]. Republish the policy as a new version.
    #[error("stored policy version {version} no longer parses: {error}")]
    Corrupt {
        /// The version that does not parse.
        version: u64,
        /// Why it does not parse.
        error: PolicyError,
    },
    /// Reading the version failed; callers handle it as that storage error (a busy database
    /// is answered `retry` or 503).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Engines {
    /// The engine of `org_id`'s policy `version`.
    pub fn get(
        &self,
        storage: &dyn Storage,
        org_id: &str,
        version: u64,
    ) -> Result<Arc<Engine>, EngineError> {
        let key = (org_id.to_string(), version);
        if let Some(engine) = self.lock().get(&key) {
            return Ok(engine.clone());
        }
        let stored = storage
            .policy(org_id, version)?
            .ok_or(EngineError::Unknown(version))?;
        let policy = Policy::from_json(&stored.document)
            .map_err(|error| EngineError::Corrupt { version, error })?;
        let engine = Arc::new(Engine::new(policy));
        let mut cache = self.lock();
        if cache.len() >= MAX_ENGINES {
            cache.clear();
        }
        cache.insert(key, engine.clone());
        Ok(engine)
    }

    /// The engine of `org_id`'s policy `version` if it is built already; never reads storage.
    pub fn cached(&self, org_id: &str, version: u64) -> Option<Arc<Engine>> {
        self.lock().get(&(org_id.to_string(), version)).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), Arc<Engine>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}
