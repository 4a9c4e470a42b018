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
    #[error("the policy is invalid: {0}")]
    Invalid(#[from] PolicyError),
    #[error("the policy is for organisation {found:?}, not {expected:?}")]
    OrgMismatch { expected: String, found: String },
    #[error("version {version} is not newer than the current version {current}")]
    NotNewer { version: u64, current: u64 },
    #[error("the policy cannot be signed: {0}")]
    Sign(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A published version.
#[derive(Debug, Clone)]
pub struct Published {
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
    #[error("policy version {0} was never published")]
    Unknown(u64),
    #[error("stored policy version {version} no longer parses: {error}")]
    Corrupt { version: u64, error: PolicyError },
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), Arc<Engine>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}
