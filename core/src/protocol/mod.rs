//! The sync protocol's messages, shared by the device's client (daka-device) and the reference server,
//! so the two cannot drift apart. HTTP/JSON under `/v1`; the OpenAPI document the server
//! publishes is generated from these types (`docs/openapi.json`).
//!
//! Every response carries `server_time`, from which the device keeps its trusted-time anchor.
//!
//! The protocol's words live beside the messages, each defined once for both sides:
//!
//! * [`kind`]: the kinds of pushed items ([`ItemKind`]) and the streams they travel in
//!   ([`punch_stream`], [`request_stream`]);
//! * [`item_code`]: the answer codes of `POST /v1/push` ([`ItemCode`]);
//! * [`policy_bundle`]: the organisation's signature over a policy bundle, made by the server
//!   and checked by the device.

pub mod item_code;
pub mod kind;
pub mod policy_bundle;

pub use item_code::ItemCode;
pub use kind::{ItemKind, punch_stream, request_stream};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Path prefix of protocol version 1.
pub const API_PREFIX: &str = "/v1";

/// `POST /v1/enroll`: a device registers its public key with a one-time enrolment code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The one-time code an administrator issued for this employee.
    pub code: String,
    /// The device's Ed25519 public key, base64url without padding.
    pub public_key: String,
    /// Shown to administrators ("Chan Tai Man's Pixel 8").
    pub device_name: String,
    /// `android`, `ios`, or anything else for tools.
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    pub device_id: String,
    pub org_id: String,
    pub employee_id: String,
    /// Bearer token for the other endpoints.
    pub token: String,
    /// The organisation's Ed25519 key that signs policy bundles, base64url.
    pub org_public_key: String,
    pub server_time: DateTime<Utc>,
}

/// `POST /v1/token`: a new bearer token for an enrolled device (after a 401), proved by a
/// signature of the device key over [`token_challenge`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub device_id: String,
    /// The device's current time; the server refuses requests more than five minutes off.
    pub issued_at: DateTime<Utc>,
    /// Ed25519 signature over [`token_challenge`], base64url.
    pub signature: String,
}

/// The bytes a device signs to refresh its token.
pub fn token_challenge(device_id: &str, issued_at: &DateTime<Utc>) -> Vec<u8> {
    format!(
        "daka-token-v1\n{device_id}\n{}",
        issued_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
    .into_bytes()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    pub token: String,
    pub server_time: DateTime<Utc>,
}

/// `GET /v1/policy`: the organisation's current policy, signed by the organisation key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyBundle {
    pub version: u64,
    /// The policy document (JSON text, see docs/policy.md), exactly as signed.
    pub document: String,
    /// Ed25519 signature of the organisation key over the UTF-8 bytes of `document`, base64url.
    pub signature: String,
    pub server_time: DateTime<Utc>,
}

/// `POST /v1/push`: a batch of outbox items.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub items: Vec<PushItem>,
}

/// Most items the server accepts in one push.
pub const MAX_PUSH_ITEMS: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushItem {
    /// The item's client-generated id; applying it is keyed on this forever.
    pub id: String,
    /// Ordering scope (a device's punch chain).
    pub stream: String,
    /// `punch` (more kinds follow with approvals).
    // One of [`ItemKind`]'s words, kept as text so that an unknown kind refuses that item
    // only (`unsupported_kind`), not the whole request.
    pub kind: String,
    /// The item itself: for a punch, the signed record.
    // Kept as the JSON text it was queued (and, on the server, received) as: the signed
    // record's strict reader must see exactly the bytes that were sent, and the phone sends
    // its queued text without re-encoding it.
    #[cfg_attr(feature = "openapi", schema(value_type = serde_json::Value))]
    pub body: Box<serde_json::value::RawValue>,
}

impl PushItem {
    /// An item whose body is `body` written as JSON.
    pub fn new(
        id: impl Into<String>,
        stream: impl Into<String>,
        kind: impl Into<String>,
        body: &impl Serialize,
    ) -> Result<PushItem, serde_json::Error> {
        Ok(PushItem {
            id: id.into(),
            stream: stream.into(),
            kind: kind.into(),
            body: serde_json::value::to_raw_value(body)?,
        })
    }
}

/// What the server did with one pushed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Applied now.
    Accepted,
    /// Applied before (same id, same body): counts as delivered.
    Duplicate,
    /// Refused permanently; `code` says why. Never retried automatically.
    Rejected,
    /// Not applied; send it again later.
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemResult {
    pub id: String,
    pub status: ItemStatus,
    // An [`ItemCode`], or for a punch refused by the server's verdict that verdict's first
    // reject code ([`crate::codes::Code`]); hence text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    /// One result per pushed item, in the request's order.
    pub results: Vec<ItemResult>,
    pub server_time: DateTime<Utc>,
}

/// `GET /v1/changes?cursor=...`: what changed for this device since `cursor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangesResponse {
    pub changes: Vec<Change>,
    /// Pass back as `cursor` next time.
    pub cursor: String,
    /// More changes are waiting; ask again at once.
    pub more: bool,
    pub server_time: DateTime<Utc>,
}

/// One change the device should know about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// The server's own verdict on a punch it received.
    PunchVerdict {
        punch_id: String,
        decision: crate::verdict::Decision,
        codes: Vec<crate::codes::Code>,
    },
    /// A new policy version is available at `GET /v1/policy`.
    PolicyUpdated { version: u64 },
    /// A request this device's employee made or must act on changed: details at
    /// `GET /v1/requests/{request_id}`.
    RequestUpdated {
        request_id: String,
        /// `pending`, `approved`, `rejected`, `returned` or `withdrawn`.
        status: String,
        revision: u32,
        /// Who must act now (empty unless pending).
        waiting_for: Vec<String>,
    },
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// Stable code, e.g. `unauthorized`, `invalid_request`, `enrollment_code_used`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<DateTime<Utc>>,
}

/// One step of a request as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepView {
    pub name: String,
    /// `any` (the first approval decides) or `all` (countersign).
    pub mode: String,
    pub approvers: Vec<String>,
    pub approved_by: Vec<String>,
    /// The approver who added this step, for an added signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

/// One entry of a request's audit trail: who did what, when and from which device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditView {
    pub actor: String,
    pub device_id: String,
    /// `submit`, `resubmit`, `approve`, `reject`, `return`, `add_signer`, `transfer`,
    /// `comment` or `withdraw`.
    pub action: String,
    /// What it did: the effect, the status after it, the comment.
    pub detail: serde_json::Value,
    /// The signed item, as received: verifiable with the device's public key.
    pub signed: serde_json::Value,
    /// The device's time of the action.
    pub made_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// `GET /v1/requests/{id}`: a request with its steps and audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestView {
    pub request_id: String,
    pub template_id: String,
    pub request_type: String,
    pub policy_version: u64,
    pub applicant: String,
    /// `pending`, `approved`, `rejected`, `returned` or `withdrawn`.
    pub status: String,
    pub revision: u32,
    /// The form's values (see docs/approvals.md); text exactly as submitted.
    pub form: serde_json::Value,
    pub steps: Vec<StepView>,
    /// Index of the step waiting, while pending.
    pub current_step: usize,
    pub waiting_for: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub audit: Vec<AuditView>,
}

/// `GET /v1/inbox` and `GET /v1/requests`: requests without their audit trails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestList {
    pub requests: Vec<RequestView>,
    pub server_time: DateTime<Utc>,
}

/// One leave balance, in half days (`3` days = `6`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaveBalanceView {
    pub leave_type: String,
    pub name: String,
    pub year: i32,
    pub entitled_halves: i64,
    pub taken_halves: i64,
    pub pending_halves: i64,
    pub available_halves: i64,
    pub allow_negative: bool,
}

/// `GET /v1/leave-balances?year=`: the device's employee's balances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaveBalances {
    pub balances: Vec<LeaveBalanceView>,
    pub server_time: DateTime<Utc>,
}

/// `PUT /v1/attachments/{sha256}`: a file the server holds for the device's organisation.
/// Answered 201 with `stored: true` when the upload stored it, 200 with `stored: false` when
/// it was already there (an upload is safe to repeat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentStored {
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The media type sent with this upload.
    pub media_type: String,
    /// Whether this upload stored the file (`false`: it was already stored).
    pub stored: bool,
    pub server_time: DateTime<Utc>,
}
