//! Signed approval items: a request submission and an approver's (or applicant's) decision,
//! each signed by the acting device's Ed25519 key like a punch record, so that the server
//! (and an auditor later) can tell who did what from which device, and nobody can act in
//! someone else's name by editing JSON.
//!
//! The signature covers the RFC 8785 canonical JSON of the typed body (every member but
//! `sig`). Reading is strict: duplicate keys, unknown fields and integers beyond 2^53 are
//! refused, naming the field.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::request::Action;
use super::route::RouteStep;
use crate::punch::json::{StrictValue, canonical, check_integers};
use crate::punch::record::ed25519_verify;
use crate::punch::{DeviceSigner, RecordError};

/// Largest signed approval item, in bytes of JSON (forms carry up to 100 fields of text).
pub const MAX_ITEM_BYTES: usize = 2 * 1024 * 1024;

/// A request as the applicant's device submits it: the form, and the route the device
/// previewed, which the server must compute identically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The request id (UUIDv7), chosen by the device; also the outbox item id of revision 1.
    pub request_id: Uuid,
    /// 1, then one more for each resubmission after a return.
    pub revision: u32,
    pub template_id: String,
    /// The policy version the form and route were made with.
    pub policy_version: u64,
    pub applicant: String,
    pub device_id: String,
    /// The form's values, as `Form::to_json` writes them.
    pub form: Value,
    /// The route the applicant was shown.
    pub route: Vec<RouteStep>,
    pub created_at: DateTime<Utc>,
}

/// One person's action on a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The decision's id (UUIDv7); the outbox item id.
    pub id: Uuid,
    pub request_id: Uuid,
    /// The employee acting (the device's enrolled employee).
    pub actor: String,
    pub device_id: String,
    pub action: Action,
    pub made_at: DateTime<Utc>,
}

/// A signed body: its members plus `sig`, base64url (no padding) of the Ed25519 signature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signed<T> {
    #[serde(flatten)]
    pub body: T,
    pub sig: String,
}

/// Why a signed approval item cannot be read or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    #[error("{bytes} bytes, over the {limit}-byte limit")]
    TooLarge { bytes: usize, limit: usize },
    #[error("not valid JSON: {reason}")]
    Json { reason: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("the signature does not verify with the device's key")]
    BadSignature,
}

impl From<RecordError> for SignedError {
    fn from(e: RecordError) -> Self {
        SignedError::Invalid {
            field: String::new(),
            reason: e.to_string(),
        }
    }
}

impl<T: Serialize + DeserializeOwned> Signed<T> {
    /// Signs `body` with the device key.
    pub fn sign(body: T, signer: &DeviceSigner) -> Result<Signed<T>, SignedError> {
        let bytes = canonical(&body)?;
        let sig = URL_SAFE_NO_PAD.encode(signer.sign(&bytes));
        Ok(Signed { body, sig })
    }

    /// Reads a signed item strictly (see the file header), without checking the signature.
    pub fn from_json(text: &str) -> Result<Signed<T>, SignedError> {
        if text.len() > MAX_ITEM_BYTES {
            return Err(SignedError::TooLarge {
                bytes: text.len(),
                limit: MAX_ITEM_BYTES,
            });
        }
        let StrictValue(value) = serde_json::from_str(text).map_err(|e| SignedError::Json {
            reason: e.to_string(),
        })?;
        let Value::Object(mut object) = value else {
            return Err(SignedError::Invalid {
                field: "$".into(),
                reason: "expected an object".into(),
            });
        };
        let sig = match object.remove("sig") {
            Some(Value::String(s)) => s,
            _ => {
                return Err(SignedError::Invalid {
                    field: "sig".into(),
                    reason: "a base64url signature is required".into(),
                });
            }
        };
        let body = Value::Object(object);
        check_integers(&body)?;
        let body: T = serde_path_to_error::deserialize(&body).map_err(|e| {
            let path = e.path().to_string();
            SignedError::Invalid {
                field: if path == "." { "$".into() } else { path },
                reason: e.into_inner().to_string(),
            }
        })?;
        Ok(Signed { body, sig })
    }

    /// Checks the signature against a device's public key.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), SignedError> {
        let sig: [u8; 64] = URL_SAFE_NO_PAD
            .decode(&self.sig)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SignedError::Invalid {
                field: "sig".into(),
                reason: "not 64 bytes of base64url".into(),
            })?;
        let bytes = canonical(&self.body)?;
        if ed25519_verify(public_key, &bytes, &sig) {
            Ok(())
        } else {
            Err(SignedError::BadSignature)
        }
    }

    /// The canonical JSON of the whole signed item.
    pub fn to_json(&self) -> Result<String, SignedError> {
        let bytes = canonical(self)?;
        String::from_utf8(bytes).map_err(|e| SignedError::Json {
            reason: e.to_string(),
        })
    }
}
