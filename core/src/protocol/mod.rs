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
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub code: String,
    /// The device's Ed25519 public key, base64url without padding.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub public_key: String,
    /// Shown to administrators ("Chan Tai Man's Pixel 8").
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub device_name: String,
    /// `android`, `ios`, or anything else for tools.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32))]
    pub platform: String,
    /// What the phone's platform says about the app and the device, bound to a challenge from
    /// `POST /v1/enroll/challenge` and to `public_key` (see [`attestation_nonce`]). Required
    /// when the organisation's policy says `enrolment.attestation: required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
}

/// A platform attestation sent with an enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// `play_integrity` (the integrity token of a classic request), `app_attest` (the
    /// attestation object, base64) or `android_key_attestation` (the Keystore's certificate
    /// chain, leaf first, each DER in base64, joined with `.`); others when the server has a
    /// verifier for them.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub format: String,
    /// The challenge the server issued ([`EnrollChallengeResponse::challenge`]).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 512))]
    pub challenge: String,
    /// The platform's result, as the platform gave it.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536))]
    pub token: String,
}

/// Longest attestation token a server reads, in bytes: Play Integrity tokens are a few KB,
/// App Attest objects about 6 KB in base64.
pub const MAX_ATTESTATION_TOKEN_BYTES: usize = 65_536;

/// `POST /v1/enroll/challenge`: before enrolling, a device asks for a challenge to have its
/// platform attest to, and learns whether the organisation requires attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollChallengeRequest {
    /// The one-time enrolment code the device will enrol with.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub code: String,
    /// The Ed25519 public key the device will enrol, base64url without padding.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub public_key: String,
}

/// Whether an organisation asks for platform attestation at enrolment (its policy's
/// `enrolment.attestation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttestationRule {
    /// Not asked for; an attestation sent anyway is not looked at.
    #[default]
    Off,
    /// Verified and recorded with the device when sent; enrolment goes ahead whatever it says
    /// (for a rollout: administrators see which phones would fail).
    Optional,
    /// Enrolment is refused without an attestation that passes.
    Required,
}

impl AttestationRule {
    /// The word the policy and the protocol use.
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationRule::Off => "off",
            AttestationRule::Optional => "optional",
            AttestationRule::Required => "required",
        }
    }
}

/// Answer to [`EnrollChallengeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollChallengeResponse {
    /// Opaque; send it back in [`Attestation::challenge`]. Bound to the code and the public
    /// key; valid until `expires_at`.
    pub challenge: String,
    /// When the challenge stops being accepted (RFC 3339, UTC).
    pub expires_at: DateTime<Utc>,
    /// Whether the organisation asks for attestation.
    pub attestation: AttestationRule,
    /// The formats this server verifies, e.g. `["app_attest", "play_integrity"]`.
    pub formats: Vec<String>,
    /// The server's clock when it answered (RFC 3339, UTC).
    pub server_time: DateTime<Utc>,
}

/// The 32 bytes a device has its platform attest to: SHA-256 over a domain string, the
/// challenge and the device's public key (base64url, as enrolled). Binding the key means a
/// result obtained on one phone cannot enrol a key made on another; binding the challenge
/// means it cannot be used twice. Android apps pass it to Play Integrity as the request's
/// `nonce` (base64url without padding); iOS apps pass it to App Attest as the
/// `clientDataHash`.
pub fn attestation_nonce(challenge: &str, public_key: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"daka-attestation-v1\n");
    ctx.update(challenge.as_bytes());
    ctx.update(b"\n");
    ctx.update(public_key.as_bytes());
    let mut nonce = [0u8; 32];
    nonce.copy_from_slice(ctx.finish().as_ref());
    nonce
}

/// Answer to [`EnrollRequest`]: who the device now is, and its first bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// Id the server assigned to this device; the device puts it in every punch record it signs and
    /// sends it in [`TokenRequest`].
    pub device_id: String,
    /// Id of the organisation that issued the enrolment code; the `org.id` of every policy the
    /// device will be sent.
    pub org_id: String,
    /// The employee the enrolment code was issued for, as the policy lists them (e.g. `E1001`); the
    /// device acts for this employee only.
    pub employee_id: String,
    /// Bearer token for the other endpoints.
    pub token: String,
    /// The organisation's Ed25519 key that signs policy bundles, base64url.
    pub org_public_key: String,
    /// The server's clock when it answered (RFC 3339, UTC); the device's trusted-time anchor.
    pub server_time: DateTime<Utc>,
}

/// `POST /v1/token`: a new bearer token for an enrolled device (after a 401), proved by a
/// signature of the device key over [`token_challenge`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Id the server assigned at enrolment ([`EnrollResponse::device_id`]).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub device_id: String,
    /// The device's current time; the server refuses requests more than five minutes off.
    pub issued_at: DateTime<Utc>,
    /// Ed25519 signature over [`token_challenge`], base64url.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Za-z0-9_-]{86}$"))]
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

/// Answer to [`TokenRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// The new bearer token; earlier tokens of the device stop working. It expires after the
    /// server's token lifetime (30 days by default on the reference server); then requests answer
    /// 401 and the device asks for a new one.
    pub token: String,
    /// The server's clock when it answered (RFC 3339, UTC); the device's trusted-time anchor.
    pub server_time: DateTime<Utc>,
}

/// `GET /v1/policy`: the organisation's current policy, signed by the organisation key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyBundle {
    /// The policy's version number (its document's `version`); each published policy has a higher
    /// one than the last.
    pub version: u64,
    /// The policy document (JSON text, see docs/policy.md), exactly as signed.
    pub document: String,
    /// Ed25519 signature of the organisation key over the UTF-8 bytes of `document`, base64url.
    pub signature: String,
    /// The server's clock when it answered (RFC 3339, UTC); the device's trusted-time anchor.
    pub server_time: DateTime<Utc>,
}

/// `POST /v1/push`: a batch of outbox items.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The items, at most [`MAX_PUSH_ITEMS`]; within a stream, in the order they must be applied.
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub items: Vec<PushItem>,
}

/// Most items the server accepts in one push.
pub const MAX_PUSH_ITEMS: usize = 500;

/// `POST /v1/push/turn`: whether a push of `items` items would be admitted now, asked without
/// sending it. A device refused `busy` asks this before it sends the same push again, and a
/// device with a backlog before its first upload of it, so that waiting in line does not cost
/// it the push's upload each time it comes back (a hundred signed punches with their evidence
/// are about 200 KB). The answer is 204 when the push would be
/// admitted (the reference server then holds the turn for the push for two seconds), or 503
/// `busy` with `retry_after_ms`, as a refused push is told.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushTurnRequest {
    /// The items of the push the device is about to send, 1 to [`MAX_PUSH_ITEMS`].
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 500))]
    pub items: u32,
}

/// One outbox item of a push.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushItem {
    /// The item's client-generated id; applying it is keyed on this forever.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
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

/// The server's answer for one pushed item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemResult {
    /// The pushed item's [`PushItem::id`].
    pub id: String,
    /// What the server did with the item; see [`ItemStatus`].
    pub status: ItemStatus,
    /// Why the item was refused or must be retried: an [`ItemCode`] word, or for a punch
    /// refused by the server's verdict that verdict's first reject code
    /// ([`crate::codes::Code`], e.g. `outside_fence`); hence text. Absent for accepted items;
    /// a duplicate carries the original answer's code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human-readable explanation (English), for logs and support, not for matching; absent when
    /// there is nothing to explain (e.g. accepted items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Answer to [`PushRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    /// One result per pushed item, in the request's order.
    pub results: Vec<ItemResult>,
    /// The server's clock when it answered (RFC 3339, UTC); the device's trusted-time anchor.
    pub server_time: DateTime<Utc>,
}

/// `GET /v1/changes?cursor=...`: what changed for this device since `cursor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangesResponse {
    /// The changes, oldest first; may be empty.
    pub changes: Vec<Change>,
    /// Pass back as `cursor` next time.
    pub cursor: String,
    /// More changes are waiting; ask again at once.
    pub more: bool,
    /// The server's clock when it answered (RFC 3339, UTC); the device's trusted-time anchor.
    pub server_time: DateTime<Utc>,
}

/// One change the device should know about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// The server's own verdict on a punch it received.
    PunchVerdict {
        /// The punch record's id (a UUIDv7, [`PushItem::id`] of its push).
        punch_id: String,
        /// The server's decision; it may differ from the one the device recorded.
        decision: crate::verdict::Decision,
        /// The codes of every reason of the server's verdict, in its order; empty when the server
        /// refused the record before judging it (then the push answer's `code` says why).
        codes: Vec<crate::codes::Code>,
    },
    /// A new policy version is available at `GET /v1/policy`.
    PolicyUpdated {
        /// The new policy's version ([`PolicyBundle::version`]).
        version: u64,
    },
    /// A request this device's employee made or must act on changed: details at
    /// `GET /v1/requests/{request_id}`.
    RequestUpdated {
        /// The request's id (a UUIDv7 made by the applicant's device).
        request_id: String,
        /// `pending`, `approved`, `rejected`, `returned` or `withdrawn`.
        status: String,
        /// The request's revision: 1 for the first submission, one more for each resubmission.
        revision: u32,
        /// Who must act now (empty unless pending).
        waiting_for: Vec<String>,
    },
    /// The server's confirmed attendance result for one day of this device's employee,
    /// sent whenever it changed: a punch delivered late, a correction, leave or overtime
    /// approved, a roster or policy republished. The latest one for a date replaces the
    /// earlier ones.
    DayResult {
        /// The result, as the server's engine computed it.
        result: crate::attendance::DayResult,
        /// The policy version it was computed under.
        policy_version: u64,
    },
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// Stable code, e.g. `unauthorized`, `invalid_request`, `enrollment_code_used`.
    pub code: String,
    /// Human-readable explanation (English), for logs and people, not for matching: match on
    /// `code`.
    pub message: String,
    /// The server's clock when it answered (RFC 3339, UTC); the reference server always sets it,
    /// but a client must cope with its absence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<DateTime<Utc>>,
    /// With `429` and `503`: how long to wait before sending the request again, in
    /// milliseconds, finer than the `Retry-After` header's whole seconds (which then says the
    /// same, rounded up). A client that reads it should prefer it to the header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// One step of a request as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepView {
    /// The step's name from the template's route, e.g. `Manager`.
    pub name: String,
    /// `any` (the first approval decides) or `all` (countersign).
    pub mode: String,
    /// Employee ids of who may approve the step.
    pub approvers: Vec<String>,
    /// Employee ids of who has approved the step, in the order they did.
    pub approved_by: Vec<String>,
    /// The approver who added this step, for an added signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

/// One entry of a request's audit trail: who did what, when and from which device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditView {
    /// Employee id of who acted, as the policy lists them.
    pub actor: String,
    /// Id of the device that signed the action ([`EnrollResponse::device_id`]).
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
    /// The server's clock when it took the action in (RFC 3339, UTC).
    pub received_at: DateTime<Utc>,
    /// Who signed the item: `device` (the acting employee's device key, `device_id`) or
    /// `server` (a decision made on the web console, signed by the organisation's decision
    /// key; `console_account` says who made it). Absent in answers of older servers, which
    /// had only device-signed items.
    #[serde(default = "signed_by_device")]
    pub signed_by: String,
    /// For an item the server signed: the console account that made the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_account: Option<ConsoleAccountView>,
}

fn signed_by_device() -> String {
    "device".into()
}

/// The console account behind a decision the server signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsoleAccountView {
    /// The account's id.
    pub id: String,
    /// The account's email when it acted.
    pub email: String,
    /// The organisation's decision key (Ed25519, base64url) the server signed with: `signed`
    /// verifies under it, as a device's item verifies under the device's key.
    pub public_key: String,
}

/// `GET /v1/requests/{id}`: a request with its steps and audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestView {
    /// The request's id (a UUIDv7 made by the applicant's device).
    pub request_id: String,
    /// Id of the policy template the request was filed on.
    pub template_id: String,
    /// The template's request type: `expense`, `leave`, `missed_punch`, `field_punch_review` or
    /// `general`.
    pub request_type: String,
    /// Version of the policy the request was (last) submitted under.
    pub policy_version: u64,
    /// Employee id of who made the request, as the policy lists them.
    pub applicant: String,
    /// `pending`, `approved`, `rejected`, `returned` or `withdrawn`.
    pub status: String,
    /// 1 for the first submission, one more for each resubmission.
    pub revision: u32,
    /// The form's values (see docs/approvals.md); text exactly as submitted.
    pub form: serde_json::Value,
    /// The route: every step, in order, including signers added by approvers.
    pub steps: Vec<StepView>,
    /// Index of the step waiting, while pending.
    pub current_step: usize,
    /// Employee ids of who must act now (empty unless pending).
    pub waiting_for: Vec<String>,
    /// When the server took in the first submission (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When the server last applied an action to it (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
    /// The audit trail, oldest first; empty in [`RequestList`].
    pub audit: Vec<AuditView>,
}

/// `GET /v1/inbox` and `GET /v1/requests`: requests without their audit trails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestList {
    /// The requests: for `GET /v1/inbox` those waiting for the employee, oldest first; for
    /// `GET /v1/requests` the employee's own, newest first (at most 500).
    pub requests: Vec<RequestView>,
    /// The server's clock when it answered (RFC 3339, UTC); the device's trusted-time anchor.
    pub server_time: DateTime<Utc>,
}

/// One leave balance, in half days (`3` days = `6`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaveBalanceView {
    /// Id of the leave type in the policy, e.g. `annual`.
    pub leave_type: String,
    /// The leave type's display name from the policy.
    pub name: String,
    /// Calendar year of the balance (leave counts in the year it starts in).
    pub year: i32,
    /// The policy's yearly entitlement, in half days.
    pub entitled_halves: i64,
    /// Approved leave, in half days.
    pub taken_halves: i64,
    /// Leave held by requests still pending, in half days.
    pub pending_halves: i64,
    /// `entitled − taken − pending`, in half days; can be below zero (see `allow_negative`).
    pub available_halves: i64,
    /// Whether the leave type lets a request take the available balance below zero.
    pub allow_negative: bool,
    /// For a time-off-in-lieu (調休) leave type, its ledger in minutes (the half-day figures
    /// then only count requests); absent for other types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_off: Option<TimeOffView>,
}

/// Time off in lieu (調休) in minutes: overtime credited as time off, less what was taken,
/// expired or is booked by requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeOffView {
    /// Minutes that can be requested now.
    pub available_min: u32,
    /// Minutes credited by overtime within the expiry period.
    pub credited_min: u32,
    /// Minutes taken on days already passed.
    pub taken_min: u32,
    /// Minutes that expired unused.
    pub expired_min: u32,
    /// Minutes booked by pending requests and by approved ones for days still to come.
    pub booked_min: u32,
    /// The day the oldest credit with minutes left expires, if any.
    pub next_expiry: Option<chrono::NaiveDate>,
}

/// `GET /v1/leave-balances?year=`: the device's employee's balances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaveBalances {
    /// One balance per leave type of the current policy; empty when the organisation has no policy
    /// yet.
    pub balances: Vec<LeaveBalanceView>,
    /// The server's clock when it answered (RFC 3339, UTC); the device's trusted-time anchor.
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
    /// The server's clock when it answered (RFC 3339, UTC).
    pub server_time: DateTime<Utc>,
}
