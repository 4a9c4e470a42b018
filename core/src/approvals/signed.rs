//! Signed approval items: a request submission and an approver's (or applicant's) decision,
//! each signed by the acting device's Ed25519 key like a punch record, so that the server
//! (and an auditor later) can tell who did what from which device, and nobody can act in
//! someone else's name by editing JSON.
//!
//! Both travel in the signed envelope of `crate::signed` ([`Signed`]), as punch records do:
//! the signature covers the RFC 8785 canonical JSON of the typed body (every member but
//! `sig`), and reading is strict: duplicate keys, unknown fields, integers beyond 2^53 and
//! values the typed body would write back differently are refused, naming the field. This file
//! only defines the bodies and their size limit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::request::Action;
use super::route::RouteStep;
use crate::signed::SignedFormat;
pub use crate::signed::{Signed, SignedError};

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
    /// Id of the policy template the form follows, e.g. `expense`.
    pub template_id: String,
    /// The policy version the form and route were made with.
    pub policy_version: u64,
    /// Employee id of the applicant: the employee enrolled on the submitting device.
    pub applicant: String,
    /// Id the server gave the submitting device at enrolment; that device's key signs the
    /// submission.
    pub device_id: String,
    /// The form's values, as `Form::to_json` writes them.
    pub form: Value,
    /// The route the applicant was shown.
    pub route: Vec<RouteStep>,
    /// When the device made the submission, by its trusted time (server-anchored when it
    /// can be, its wall clock otherwise); RFC 3339 in the JSON.
    pub created_at: DateTime<Utc>,
}

/// One person's action on a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The decision's id (UUIDv7); the outbox item id.
    pub id: Uuid,
    /// The request acted on: its [`Submission::request_id`].
    pub request_id: Uuid,
    /// The employee acting (the device's enrolled employee).
    pub actor: String,
    /// Id the server gave the acting device at enrolment; that device's key signs the
    /// decision.
    pub device_id: String,
    /// What the actor does, with its comment or reason.
    pub action: Action,
    /// When the device made the decision, by its trusted time (server-anchored when it can
    /// be, its wall clock otherwise); RFC 3339 in the JSON.
    pub made_at: DateTime<Utc>,
}

impl SignedFormat for Submission {
    type Error = SignedError;
    const MAX_BYTES: usize = MAX_ITEM_BYTES;
}

impl SignedFormat for Decision {
    type Error = SignedError;
    const MAX_BYTES: usize = MAX_ITEM_BYTES;
}
