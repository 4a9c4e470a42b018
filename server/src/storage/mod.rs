//! What the server keeps, behind one trait: organisations and their signing keys, every
//! published policy version, enrolment codes, devices and their bearer tokens, the ledger of
//! pushed item ids, punch records with the server's verdicts, consumed face nonces, the
//! per-device change feeds, approval requests and the files their forms refer to, attendance,
//! and the web console's accounts, sessions and audit.
//!
//! [`Storage`] is deliberately made of *domain* operations, not SQL: each method is one unit
//! of work that the implementation runs atomically (one transaction). That is what lets a
//! second implementation, on PostgreSQL for example, follow without touching the HTTP layer:
//! it implements the same methods with the same guarantees (see `docs/server.md`). The one
//! operation that needs the caller's logic inside the transaction, applying a pushed item, takes
//! a `judge` callback: the storage loads the state the decision depends on (the item ledger
//! entry, the device's chain head, whether the face nonce was used), calls `judge` while the
//! transaction holds the device's chain, and writes what it decided, or nothing.
//!
//! Methods are synchronous and may block on disk; the HTTP layer calls them from
//! `tokio::task::spawn_blocking`. Every method is safe to call from several threads at once.
//!
//! Two implementations: [`sqlite::SqliteStorage`] on one file, and
//! [`postgres::PostgresStorage`] on a PostgreSQL database that several server instances share.
//!
//! Secrets are never stored in the clear: bearer tokens, admin tokens and enrolment codes are
//! kept as SHA-256 hashes (they are random and long, so a plain hash is enough), and so are
//! console session ids; console passwords, chosen by people, as Argon2id hashes. The one secret
//! that must be stored is each organisation's policy signing key.

pub mod migrate_db;
pub mod postgres;
pub mod sqlite;

use chrono::{DateTime, Utc};
use daka_core::protocol::ItemKind;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Failures of the storage itself, as opposed to answers about the data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database is locked by another writer beyond the busy timeout: try again shortly.
    #[error("the database is busy; try again shortly")]
    Busy,
    /// The database cannot be reached: the connection was lost or refused (a database server
    /// restarting, a network fault). Try again shortly.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database was written by a newer server.
    #[error(
        "the database was written by a newer daka-server (schema version {found}, this build knows up to {supported})"
    )]
    TooNew {
        /// Schema version of the database (a SQLite file's `PRAGMA user_version`, the newest
        /// row of a PostgreSQL database's `schema_version`).
        found: i64,
        /// Newest schema version this build can read and write.
        supported: i64,
    },
    /// A stored value does not read back as it was written.
    #[error("the database is corrupt: {0}")]
    Corrupt(String),
    /// The request conflicts with what is stored (for example a seed that changes a published
    /// policy version).
    #[error("{0}")]
    Conflict(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(String),
}

impl StorageError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StorageError::Busy | StorageError::Unavailable(_))
    }
}

/// What [`Storage::schema_versions`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersions {
    /// The schema version the database holds now.
    pub found: i64,
    /// The schema version this build reads and writes.
    pub expected: i64,
}

/// An organisation.
#[derive(Clone)]
pub struct OrgRow {
    /// Organisation id as the seed and the policy's `org.id` give it, e.g. `harbour-lane`
    /// (1–64 letters, digits, `-`, `_` or `.`).
    pub id: String,
    /// Display name, from the seed.
    pub name: String,
    /// The 32-byte Ed25519 seed of the key that signs the organisation's policy bundles.
    pub signing_seed: Zeroizing<[u8; 32]>,
    /// Its public key, base64url without padding.
    pub public_key: String,
    /// When the organisation was first created by a seed (server clock).
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for OrgRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// A new organisation, as seeding creates it.
#[derive(Clone)]
pub struct NewOrg {
    /// Organisation id, already checked by the seed (1–64 letters, digits, `-`, `_` or `.`).
    pub id: String,
    /// Display name, from the seed.
    pub name: String,
    /// Lower-case hex SHA-256 of the admin token ([`crate::crypto::secret_hash`]); the token
    /// itself is never stored.
    pub admin_token_hash: String,
    /// The 32-byte Ed25519 seed of the organisation's new policy signing key.
    pub signing_seed: Zeroizing<[u8; 32]>,
    /// The matching public key, base64url without padding, as devices receive it at
    /// enrolment (`org_public_key`).
    pub public_key: String,
    /// Creation time: the server clock when the seed is applied.
    pub created_at: DateTime<Utc>,
}

/// One published version of an organisation's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    /// Organisation the version belongs to (the document's `org.id`).
    pub org_id: String,
    /// The document's `version`; each stored version is greater than the ones before it.
    pub version: u64,
    /// The document exactly as signed.
    pub document: String,
    /// Ed25519 signature of the organisation key over `document`, base64url.
    pub signature: String,
    /// When it was published (server clock).
    pub published_at: DateTime<Utc>,
}

/// What [`Storage::publish_policy`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Stored; `devices` devices were sent a `policy_updated` change.
    Published {
        /// Devices of the organisation enrolled at the time, each sent the change.
        devices: u64,
    },
    /// The version is not newer than `current`; nothing changed.
    NotNewer {
        /// The newest stored version, equal to or greater than the one offered.
        current: u64,
    },
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Device id the server assigned at enrolment (a UUIDv7, as text).
    pub id: String,
    /// Organisation the device enrolled into, the one its enrolment code was issued for.
    pub org_id: String,
    /// Employee the device punches for, fixed by its enrolment code, e.g. `E1001`.
    pub employee_id: String,
    /// Ed25519 public key, 32 bytes.
    pub public_key: [u8; 32],
    /// Device name the app sent at enrolment (`device_name`, 1–200 bytes of free text).
    pub name: String,
    /// Platform the app sent at enrolment (1–32 bytes of free text, as the app reports it).
    pub platform: String,
    /// When the device enrolled (server clock); none of its records can be judged earlier.
    pub enrolled_at: DateTime<Utc>,
    /// The device's chain head as the server has it: seq and hash of the last stored record;
    /// `None` until its first record is stored.
    pub head: Option<ChainHead>,
    /// When the server received the device's chain head (its last push with a record);
    /// `None` until its first record is stored.
    pub last_push_at: Option<DateTime<Utc>>,
    /// The device's revocation; `None` while it is active.
    pub revoked: Option<DeviceRevocation>,
    /// The platform attestation it enrolled with, as verified ([`NewDevice::attestation`]).
    pub attestation: Option<DeviceAttestation>,
}

/// Why and when a device was revoked. A revoked device keeps its records; every request it
/// makes afterwards is refused `device_revoked`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRevocation {
    /// When (server clock).
    pub at: DateTime<Utc>,
    /// Who: a console account id, or `admin_token` for the admin API.
    pub by: String,
    /// The reason given (free text, 1–500 bytes).
    pub reason: String,
}

/// What [`Storage::revoke_device`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// The device is now revoked.
    Revoked,
    /// It was already revoked (nothing changed); the earlier revocation.
    AlreadyRevoked(DeviceRevocation),
    /// The organisation has no device with this id.
    UnknownDevice,
}

/// The last stored record of a device's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of that record in the device's chain (the first record is 1).
    pub seq: u64,
    /// Its record hash: lower-case hex SHA-256 of the record's canonical JSON, signature
    /// included; the next record's `prev_hash` must equal it.
    pub hash: String,
    /// Its punch id (the record's UUID, as text).
    pub punch_id: String,
}

/// A device to register.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Id to give the device: a new UUIDv7, as text.
    pub id: String,
    /// The device's Ed25519 public key (32 raw bytes) from the enrolment request; a key
    /// another device registered is refused ([`EnrollOutcome::KeyInUse`]).
    pub public_key: [u8; 32],
    /// Device name the app sent (`device_name`, 1–200 bytes of free text).
    pub name: String,
    /// Platform the app sent (1–32 bytes of free text).
    pub platform: String,
    /// Enrolment time (server clock).
    pub enrolled_at: DateTime<Utc>,
    /// The platform attestation the device enrolled with, as verified; `None` when it sent
    /// none or its organisation does not ask for one.
    pub attestation: Option<DeviceAttestation>,
}

/// What the server made of a device's attestation at enrolment (docs/threat-model.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceAttestation {
    /// The format the device sent, e.g. `play_integrity`.
    pub format: String,
    /// Whether it passed the verifier.
    pub passed: bool,
    /// What the verifier established (`hk.harbourlane.staff: MEETS_DEVICE_INTEGRITY, …`), or
    /// its refusal code and reason (`attestation_not_trusted: …`).
    pub detail: String,
}

/// An enrolment code as [`Storage::enrollment_code`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentCodeRow {
    /// The organisation that issued it.
    pub org_id: String,
    /// The employee it enrols.
    pub employee_id: String,
    /// Whether it has enrolled a device.
    pub used: bool,
}

/// A bearer token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Lower-case hex SHA-256 of the bearer token; the token itself is handed to the device
    /// once and never stored.
    pub hash: String,
    /// When it was issued (server clock).
    pub issued_at: DateTime<Utc>,
    /// When it stops authenticating: `issued_at` plus
    /// [`ServerOptions::token_ttl`](crate::ServerOptions::token_ttl).
    pub expires_at: DateTime<Utc>,
}

/// How long after an enrolment the identical request is answered again (the phone's first
/// answer was lost): one day.
pub const ENROL_REPEAT_WINDOW: chrono::Duration = chrono::Duration::days(1);

/// What [`Storage::enroll`] did.
#[derive(Debug, Clone)]
pub enum EnrollOutcome {
    /// The code is now used, and the device and its first token are stored; or the request
    /// repeated the one that used the code (see [`EnrollOutcome::CodeUsed`]), and the device is
    /// the one it enrolled, with a fresh token.
    Enrolled {
        /// The device as stored, with the organisation and employee of the code.
        device: Box<DeviceRow>,
    },
    /// No code has this hash; nothing was stored (the API answers 404
    /// `enrollment_code_unknown`).
    UnknownCode,
    /// The code already enrolled a device; nothing was stored (the API answers 409
    /// `enrollment_code_used`: the employee needs a new code). The same request again (the
    /// same code and public key, within [`ENROL_REPEAT_WINDOW`] of the first, the device not
    /// revoked) is not this but [`EnrollOutcome::Enrolled`] with the device the code enrolled
    /// and a fresh token, its earlier tokens revoked: a phone whose first answer was lost
    /// finishes enrolling.
    CodeUsed,
    /// Another device already registered this public key.
    KeyInUse,
}

/// What [`Storage::add_enrollment_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// The code was new and is stored, unused.
    Added,
    /// The same code for the same employee exists (used or not): nothing changed.
    AlreadyPresent,
    /// The code exists for another employee or organisation.
    Taken,
}

/// Identifies a pushed punch.
#[derive(Debug, Clone)]
pub struct ItemKey<'a> {
    /// Organisation of the pushing device; item ids are unique per organisation.
    pub org_id: &'a str,
    /// The authenticated device that pushed the item.
    pub device_id: &'a str,
    /// The item's client-generated id as pushed; the ledger keeps it forever.
    pub item_id: &'a str,
    /// `punch`: an item of a kind the server does not take is refused before anything is
    /// stored.
    pub kind: ItemKind,
    /// Lower-case hex SHA-256 of the body's canonical JSON.
    pub body_hash: &'a str,
    /// The face nonce the item's record carries, if it could be read.
    pub nonce: Option<&'a str>,
}

/// An item id already in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// The device that pushed the item under this id.
    pub device_id: String,
    /// Lower-case hex SHA-256 of that item's canonical JSON body: the same hash again is a
    /// resend (`duplicate`), another one a different item (`id_conflict`).
    pub body_hash: String,
    /// The punch status it was stored with; approval items are stored as `Accepted`.
    pub status: PunchStatus,
    /// The code it was answered with when it was refused.
    pub code: Option<String>,
    /// The message it was answered with, for people: the refusal reason, or a note for a
    /// field punch; `None` for an accepted punch and for approval items.
    pub message: Option<String>,
}

/// What the judge of a pushed item sees, read inside the item's transaction.
#[derive(Debug, Clone)]
pub struct ItemState {
    /// The item id's ledger entry, if the id was seen before (in this organisation).
    pub existing: Option<StoredItem>,
    /// The device's chain head.
    pub head: Option<ChainHead>,
    /// The record JSON of the chain head, for the previous punch's fix and clock.
    pub head_record: Option<String>,
    /// When the server judged the chain head record.
    pub head_judged_at: Option<DateTime<Utc>>,
    /// When the device enrolled: no record of its chain can be older.
    pub enrolled_at: DateTime<Utc>,
    /// Whether the item's face nonce was already consumed in this organisation.
    pub nonce_used: bool,
}

/// How the server's verdict classifies a stored punch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PunchStatus {
    /// An ordinary punch.
    Accepted,
    /// A field punch (外勤) awaiting review.
    FieldPunch,
    /// Refused by the server's verdict; kept only as a link of the device's chain.
    Refused,
}

impl PunchStatus {
    /// The stored and wire form: `accepted`, `field_punch` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            PunchStatus::Accepted => "accepted",
            PunchStatus::FieldPunch => "field_punch",
            PunchStatus::Refused => "refused",
        }
    }

    /// Reads the form [`PunchStatus::as_str`] writes; `None` for any other text.
    pub fn parse(text: &str) -> Option<PunchStatus> {
        match text {
            "accepted" => Some(PunchStatus::Accepted),
            "field_punch" => Some(PunchStatus::FieldPunch),
            "refused" => Some(PunchStatus::Refused),
            _ => None,
        }
    }
}

/// A punch to store as the device's new chain head, with everything that goes with it.
#[derive(Debug, Clone)]
pub struct NewPunch {
    /// The record's sequence number in the device's chain; it becomes the chain head.
    pub seq: u64,
    /// The record hash (lower-case hex SHA-256 of its canonical JSON, `sig` included), which
    /// is also the item's body hash and the new head hash.
    pub hash: String,
    /// Employee the record is for, as the record states it (a record for another employee
    /// than the device's is stored `Refused`).
    pub employee_id: String,
    /// Punch kind as the record's JSON names it: `in`, `out`, `break_start`, `break_end` or
    /// `field`.
    pub kind: String,
    /// The record as received, canonical JSON.
    pub record: String,
    /// How the server's verdict classifies it.
    pub status: PunchStatus,
    /// The item result code (`None` when accepted).
    pub code: Option<String>,
    /// For people: the reason of a refusal, a note for a field punch, `None` when accepted.
    pub message: Option<String>,
    /// The server's verdict, JSON: the core's `Verdict`, or `{decision, code, message}` for a
    /// record refused before the rules ran.
    pub server_verdict: String,
    /// Policy version the record names, which the server judged it on.
    pub policy_version: u64,
    /// The trusted time it was judged at (see [`crate::intake::judgement_time`]).
    pub judged_at: DateTime<Utc>,
    /// When the push request reached the server (server clock).
    pub received_at: DateTime<Utc>,
    /// Consume the item's face nonce.
    pub consume_nonce: bool,
    /// The change to add to the device's feed (JSON of a protocol `Change`).
    pub change: String,
}

/// The judge's decision on a pushed item.
#[derive(Debug, Clone)]
pub enum ItemDecision {
    /// Store nothing; answer with this.
    Answer(Answer),
    /// Store the punch (and advance the chain head, consume the nonce, add the change).
    Store(Box<NewPunch>),
}

/// An answer that stores nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The item's status in the push response, e.g. `duplicate`, `rejected` or `retry`.
    pub status: daka_core::protocol::ItemStatus,
    /// Stable item code the device matches on, e.g. `id_conflict` or `chain_gap`; for a
    /// duplicate, the code the item was first answered with (`None` if it had none).
    pub code: Option<String>,
    /// Explanation for people (logs, support screens); not for matching on.
    pub message: Option<String>,
}

/// A stored punch, for administrators.
#[derive(Debug, Clone)]
pub struct StoredPunch {
    /// Storage order, for paging.
    pub row: i64,
    /// The record's id (its UUID, as text).
    pub punch_id: String,
    /// Device whose chain the record belongs to.
    pub device_id: String,
    /// Employee the record is for, as the record states it.
    pub employee_id: String,
    /// Sequence number in the device's chain (from 1).
    pub seq: u64,
    /// `in`, `out`, `break_start`, `break_end` or `field`.
    pub kind: String,
    /// How the server's verdict classifies it.
    pub status: PunchStatus,
    /// The code a refused punch was answered with (its first reject reason); `None` for
    /// accepted and field punches.
    pub code: Option<String>,
    /// The server's verdict, JSON: the core's `Verdict`, or `{decision, code, message}` for a
    /// record refused before the rules ran.
    pub server_verdict: String,
    /// Policy version the record was judged on.
    pub policy_version: u64,
    /// The trusted time it was judged at.
    pub judged_at: DateTime<Utc>,
    /// When the push request that carried it reached the server (server clock).
    pub received_at: DateTime<Utc>,
    /// For a field punch, the outcome of its review (`approved`, `rejected`), once decided.
    pub review: Option<String>,
}

/// Which punches [`Storage::punches`] lists.
#[derive(Debug, Clone, Default)]
pub struct PunchFilter {
    /// Only this device's punches; every device's when `None`.
    pub device_id: Option<String>,
    /// Only punches with this status; any status when `None`.
    pub status: Option<PunchStatus>,
    /// Only rows after this storage row.
    pub after: i64,
    /// Most rows to return (0 returns none; the admin API allows 1–5000).
    pub limit: u32,
}

/// One entry of a device's change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// Position in the feed; increases monotonically.
    pub seq: i64,
    /// JSON of a protocol `Change`.
    pub body: String,
}

// ---- approvals ------------------------------------------------------------------------------

/// The key of a pushed approval item (a submission or a decision).
#[derive(Debug, Clone, Copy)]
pub struct ApprovalKey<'a> {
    /// Organisation of the pushing device; item and request ids are unique per organisation.
    pub org_id: &'a str,
    /// The authenticated device that pushed the item.
    pub device_id: &'a str,
    /// The item's client-generated id as pushed; the ledger keeps it forever.
    pub item_id: &'a str,
    /// `request` or `decision`.
    pub kind: ItemKind,
    /// Lower-case hex SHA-256 of the signed item's canonical JSON (of the raw body when it
    /// cannot be read).
    pub body_hash: &'a str,
    /// The request the item is about.
    pub request_id: &'a str,
    /// Whose leave ledger and missed-punch counts to read when the request is new.
    pub applicant: &'a str,
    /// The punch a field-punch review is about, to read its owner and status.
    pub punch_id: Option<&'a str>,
    /// The files (SHA-256, lower-case hex) a submission's form refers to, to check they are
    /// stored.
    pub attachments: &'a [String],
}

/// A stored request.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRequest {
    /// Request id the applicant's device chose (a UUID, as text).
    pub request_id: String,
    /// Id of the policy template the form follows, e.g. `leave`.
    pub template_id: String,
    /// The template's type: `expense`, `leave`, `missed_punch`, `field_punch_review` or
    /// `general`.
    pub request_type: String,
    /// Policy version the latest revision was checked against (a resubmission updates it).
    pub policy_version: u64,
    /// Employee id of the applicant, e.g. `E1001`.
    pub applicant: String,
    /// Canonical JSON of the form.
    pub form: String,
    /// The core's request state: status, revision, steps and who it waits for.
    pub state: daka_core::approvals::RequestState,
    /// `YYYY-MM` of a missed-punch correction, counted against the monthly limit; `None`
    /// for other request types.
    pub month: Option<String>,
    /// When the server took its first revision (server clock).
    pub created_at: DateTime<Utc>,
    /// When the server last applied an item to it (server clock).
    pub updated_at: DateTime<Utc>,
}

/// What the judge of an approval item sees, read inside the item's savepoint.
#[derive(Debug, Clone)]
pub struct ApprovalState {
    /// The item id's ledger entry, if the id was seen before (in this organisation).
    pub existing: Option<StoredItem>,
    /// The request the item is about, as stored; `None` when its id is new.
    pub request: Option<StoredRequest>,
    /// The applicant's leave ledger.
    pub leave: Vec<daka_core::approvals::leave::Movement>,
    /// The applicant's missed-punch corrections that count against the limit (pending,
    /// returned or approved), by `YYYY-MM`.
    pub missed_punch_months: Vec<String>,
    /// The employee and status (`accepted`, `field_punch`, `refused`) of the key's punch.
    pub punch: Option<(String, String)>,
    /// Other field-punch review requests of the key's punch that are pending, returned or
    /// approved.
    pub punch_reviews: Vec<String>,
    /// The key's attachments the organisation does not have, in the key's order.
    pub missing_attachments: Vec<String>,
    /// The key's attachments the organisation has, with their stored size in bytes.
    pub attachment_sizes: Vec<(String, u64)>,
}

/// One entry of a request's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the server's audit log; increases with every entry, so it orders a
    /// request's trail.
    pub seq: i64,
    /// Employee id who signed the item: the applicant for a submission, the employee who
    /// acted for a decision (the applicant again for a withdrawal).
    pub actor: String,
    /// Device that pushed the signed item.
    pub device_id: String,
    /// Id of the pushed item, as in the item ledger.
    pub item_id: String,
    /// `submit`, `resubmit`, or a decision's action: `approve`, `reject`, `return`,
    /// `add_signer`, `transfer`, `comment` or `withdraw`.
    pub action: String,
    /// JSON: what the action did (`status`, `revision` and `route` for a submission;
    /// `effect`, `status` and `comment` for a decision).
    pub detail: String,
    /// The signed item that caused it, canonical JSON.
    pub signed: String,
    /// When the device says the action was made: the signed item's `created_at` (submission)
    /// or `made_at` (decision), from the device's clock.
    pub made_at: DateTime<Utc>,
    /// When the server received the item (server clock).
    pub received_at: DateTime<Utc>,
    /// For a decision made on the web console and signed by the server: the account that
    /// made it. `None` for an item signed by a device.
    pub console: Option<ConsoleSigner>,
}

/// The console account behind an action the server signed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSigner {
    /// The account's id.
    pub account_id: String,
    /// The account's email at the time of the action.
    pub email: String,
}

/// What a decision made on the web console writes: the request as after a pushed decision,
/// and, when the server filed a field-punch review for the employee first, that filing's audit
/// entry (written before the decision's).
#[derive(Debug, Clone)]
pub struct ConsoleWrite {
    /// The request, its audit entry, leave movements, correction, review and changes.
    pub write: ApprovalWrite,
    /// The audit entry of the review request the server filed, when it did.
    pub filed: Option<NewAudit>,
}

/// An audit entry to add.
#[derive(Debug, Clone)]
pub struct NewAudit {
    /// Employee id who signed the item (see [`AuditEntry::actor`]).
    pub actor: String,
    /// `submit`, `resubmit` or the decision's action (see [`AuditEntry::action`]).
    pub action: String,
    /// JSON of what the action did (see [`AuditEntry::detail`]).
    pub detail: String,
    /// The signed item, canonical JSON.
    pub signed: String,
    /// The signed item's own time, from the device's clock.
    pub made_at: DateTime<Utc>,
}

/// An approved missed-punch correction: a corrected attendance record, marked as such.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// The approved missed-punch request it comes from.
    pub request_id: String,
    /// The applicant, whose attendance it corrects.
    pub employee_id: String,
    /// The form's `date`, `YYYY-MM-DD` (a day in the policy's time zone).
    pub day: String,
    /// The form's `punch_kind` choice as the template lists it, e.g. `in` or `out`; empty
    /// when the form has no such field.
    pub punch_kind: String,
    /// The form's `time` text as the applicant entered it (the example policy asks for
    /// `HH:MM`, local time); empty when the form has no such field.
    pub time: String,
    /// When the server received the approval that settled the request (server clock).
    pub approved_at: DateTime<Utc>,
}

/// What to write for an approval item.
#[derive(Debug, Clone)]
pub struct ApprovalWrite {
    /// The request as it stands after the item.
    pub request: StoredRequest,
    /// The audit entry the item adds to the request's trail.
    pub audit: NewAudit,
    /// Leave-ledger movements to append: a hold when a leave request is submitted, its
    /// release or take when it is settled; empty otherwise.
    pub movements: Vec<daka_core::approvals::leave::Movement>,
    /// The attendance correction an approved missed-punch request adds; `None` otherwise.
    pub correction: Option<Correction>,
    /// A decided field-punch review: the punch id and `approved` or `rejected`.
    pub review: Option<(String, String)>,
    /// Employees whose devices get `change` in their feed.
    pub notify: Vec<String>,
    /// JSON of a protocol `Change`.
    pub change: String,
    /// When the push request reached the server (server clock): the time of the ledger
    /// entry, the audit entry's receipt, the leave movements, the review and the changes.
    pub received_at: DateTime<Utc>,
}

/// The judge's verdict on an approval item.
#[derive(Debug, Clone)]
pub enum ApprovalDecision {
    /// Store nothing; answer with this (a duplicate, or a refusal).
    Answer(Answer),
    /// Record the item and write this, all or nothing; the item is answered `accepted`.
    Write(Box<ApprovalWrite>),
}

// ---- attendance -----------------------------------------------------------------------------

/// A stored punch as attendance reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePunch {
    /// The record's id (its UUID, as text).
    pub punch_id: String,
    /// `in`, `out`, `break_start`, `break_end` or `field`.
    pub kind: String,
    /// How the server's verdict classifies it.
    pub status: PunchStatus,
    /// The trusted time it was judged at: when it happened.
    pub judged_at: DateTime<Utc>,
    /// For a field punch, the outcome of its review (`approved`, `rejected`), once decided.
    pub review: Option<String>,
}

/// What one employee's attendance is computed from, as stored.
#[derive(Debug, Clone, Default)]
pub struct AttendanceSources {
    /// The employee's punches judged in the window asked for, refused ones included (the
    /// caller leaves them out), in time order.
    pub punches: Vec<SourcePunch>,
    /// Every approved missed-punch correction of the employee.
    pub corrections: Vec<Correction>,
    /// Every approved leave and overtime request of the employee.
    pub requests: Vec<StoredRequest>,
}

/// An input whose days must be recomputed, queued in the same transaction as the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceMark {
    /// Position in the queue (0 for a mark not yet stored).
    pub seq: i64,
    /// The organisation.
    pub org_id: String,
    /// The employee; `None` for everyone with attendance settings (a new policy).
    pub employee_id: Option<String>,
    /// What caused it, e.g. `punch:<id>`, `request:<id>`, `policy:7`, `unlock:2026-11`.
    pub cause: String,
    /// An instant whose day, and the days either side, are to be recomputed (a punch).
    pub at: Option<DateTime<Utc>>,
    /// Or a range of days, inclusive, `YYYY-MM-DD` in the policy's time zone; with neither,
    /// the cause says which days (a request's form, a policy's window).
    pub days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
}

/// A confirmed day result as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDay {
    /// The employee.
    pub employee_id: String,
    /// The date, in the policy's time zone.
    pub day: chrono::NaiveDate,
    /// JSON of the engine's `DayResult`.
    pub result: String,
    /// The policy version it was computed under.
    pub policy_version: u64,
    /// When it was stored (server clock).
    pub computed_at: DateTime<Utc>,
}

/// A day result just computed, to store if it changed.
#[derive(Debug, Clone)]
pub struct ComputedDay {
    /// The employee.
    pub employee_id: String,
    /// The date.
    pub day: chrono::NaiveDate,
    /// JSON of the engine's `DayResult`; compared byte for byte with the stored one.
    pub result: String,
    /// The policy version it was computed under.
    pub policy_version: u64,
    /// JSON of the protocol `Change::DayResult` to add to the employee's devices' feeds when
    /// it is stored.
    pub change: String,
    /// The inputs that caused the recompute, e.g. `punch:<id>`.
    pub cause: String,
}

/// One recompute to write: see [`Storage::save_attendance`].
#[derive(Debug, Clone)]
pub struct AttendanceWrite {
    /// The organisation.
    pub org_id: String,
    /// The days computed.
    pub days: Vec<ComputedDay>,
    /// Queue positions ([`AttendanceMark::seq`]) this recompute settles.
    pub settled: Vec<i64>,
    /// The server clock.
    pub now: DateTime<Utc>,
}

/// What [`Storage::save_attendance`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttendanceOutcome {
    /// Days stored (new or changed), each sent to the employee's devices.
    pub stored: u32,
    /// Days whose result was already stored as it is: nothing written.
    pub unchanged: u32,
    /// Days of a locked month whose result would change: recorded as late changes, not
    /// stored.
    pub late: u32,
}

/// A month locked for payroll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthLock {
    /// `YYYY-MM`.
    pub month: String,
    /// When it was locked (server clock).
    pub locked_at: DateTime<Utc>,
}

/// One lock or unlock, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEvent {
    /// Position in the trail.
    pub seq: i64,
    /// `YYYY-MM`.
    pub month: String,
    /// `lock` or `unlock`.
    pub action: String,
    /// When (server clock).
    pub at: DateTime<Utc>,
}

/// A change to a locked month's day that was recorded instead of stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateChange {
    /// Position in the record.
    pub seq: i64,
    /// The employee.
    pub employee_id: String,
    /// The date.
    pub day: chrono::NaiveDate,
    /// The inputs that caused it, e.g. `punch:<id>`.
    pub cause: String,
    /// JSON of the stored `DayResult`, which stays.
    pub before: String,
    /// JSON of the `DayResult` the inputs now give.
    pub after: String,
    /// The policy version `after` was computed under.
    pub policy_version: u64,
    /// When it was recorded (server clock).
    pub recorded_at: DateTime<Utc>,
}

// ---- console --------------------------------------------------------------------------------

/// What a console account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleRole {
    /// Everything in the organisation.
    HrAdmin,
    /// The employees who report to the account's employee, directly or further down the
    /// policy's manager tree.
    Manager,
    /// Payroll: everyone's attendance and the exports.
    Finance,
    /// Everyone's attendance, read only.
    Auditor,
}

impl ConsoleRole {
    /// The stored and wire form: `hr_admin`, `manager`, `finance` or `auditor`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleRole::HrAdmin => "hr_admin",
            ConsoleRole::Manager => "manager",
            ConsoleRole::Finance => "finance",
            ConsoleRole::Auditor => "auditor",
        }
    }

    /// Reads the form [`ConsoleRole::as_str`] writes; `None` for any other text.
    pub fn parse(text: &str) -> Option<ConsoleRole> {
        match text {
            "hr_admin" => Some(ConsoleRole::HrAdmin),
            "manager" => Some(ConsoleRole::Manager),
            "finance" => Some(ConsoleRole::Finance),
            "auditor" => Some(ConsoleRole::Auditor),
            _ => None,
        }
    }
}

/// A console account as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleAccount {
    /// Account id (a UUIDv7, as text).
    pub id: String,
    /// The organisation it belongs to.
    pub org_id: String,
    /// Sign-in email, lower case; unique in the organisation.
    pub email: String,
    /// Display name.
    pub name: String,
    /// What it may do.
    pub role: ConsoleRole,
    /// The employee a manager account stands for; `None` for the other roles.
    pub employee_id: Option<String>,
    /// Preferred language: `en` or `zh-Hant`.
    pub language: String,
    /// Argon2id hash of the password, as a PHC string (`$argon2id$v=19$m=…`).
    pub password_hash: String,
    /// When it was created (server clock).
    pub created_at: DateTime<Utc>,
    /// When it was disabled; a disabled account cannot sign in.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for ConsoleAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleAccount")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A console session as stored; the session id itself is only in the browser's cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionRow {
    /// Lower-case hex SHA-256 of the session id.
    pub id_hash: String,
    /// The signed-in account.
    pub account_id: String,
    /// When the session began (server clock).
    pub created_at: DateTime<Utc>,
    /// Its last request, for the idle timeout.
    pub seen_at: DateTime<Utc>,
    /// When it ends however active it is.
    pub expires_at: DateTime<Utc>,
}

/// The next policy version of an organisation, being edited on the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDraft {
    /// The organisation.
    pub org_id: String,
    /// The version in force when the draft was started; publishing is refused once another
    /// version has been published since.
    pub base_version: u64,
    /// Revision of the draft, 1 for the first saved edit; an edit names the revision it was
    /// made on and is refused when the draft has moved on.
    pub rev: u64,
    /// The draft policy document (pretty JSON).
    pub document: String,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
    /// Email of the console account that saved it last.
    pub updated_by: String,
}

/// One console action, for the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsoleAuditEntry {
    /// Position in the audit; increases with every entry.
    pub seq: i64,
    /// The account that acted (or whose sign-in failed); `None` when no account matched.
    pub account_id: Option<String>,
    /// The email given, lower case.
    pub email: String,
    /// `login_ok`, `login_failed`, `login_limited`, `logout`, `revoke_all`,
    /// `account_created`, `account_role_changed`, `account_disabled`, `account_enabled`,
    /// `password_reset`, `password_changed`, `language_changed`, `report_downloaded`,
    /// `month_locked`, `month_unlocked`, `api_token_created`, `api_token_revoked` or
    /// `admin_token_rotated`.
    pub action: String,
    /// The client's address: the TCP peer's, or behind a trusted proxy the forwarded one.
    pub client: String,
    /// More, for people: why a sign-in failed, which account was created.
    pub detail: String,
    /// When (server clock).
    pub at: DateTime<Utc>,
}

/// A scoped API token as stored; the token itself is shown once and kept only as its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    /// Token id (a UUIDv7, as text).
    pub id: String,
    /// The organisation it acts for.
    pub org_id: String,
    /// What it is for, as HR named it.
    pub name: String,
    /// Lower-case hex SHA-256 of the token.
    pub token_hash: String,
    /// The scopes it grants, e.g. `policy:read`.
    pub scopes: Vec<String>,
    /// The email of the console account that created it.
    pub created_by: String,
    /// When it was created (server clock).
    pub created_at: DateTime<Utc>,
    /// When it stops working; never when `None`.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its last use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Which console audit entries [`Storage::console_audit_page`] lists, newest first.
#[derive(Debug, Clone, Default)]
pub struct ConsoleAuditQuery {
    /// Only entries before this `seq` (keyset paging); from the newest when `None`.
    pub before: Option<i64>,
    /// Only this account's entries.
    pub account_id: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Most entries to return.
    pub limit: u32,
}

/// A console action to add to the audit.
#[derive(Debug, Clone)]
pub struct NewConsoleAudit {
    /// The organisation; `None` when no account matched (a failed sign-in with an unknown
    /// email), which no organisation's audit lists.
    pub org_id: Option<String>,
    /// The account, when one matched.
    pub account_id: Option<String>,
    /// The email given, lower case.
    pub email: String,
    /// See [`ConsoleAuditEntry::action`].
    pub action: String,
    /// The client's address.
    pub client: String,
    /// See [`ConsoleAuditEntry::detail`].
    pub detail: String,
    /// When (server clock).
    pub at: DateTime<Utc>,
}

/// The items of one push request being applied: see [`Storage::apply_batch`].
pub trait ItemBatch {
    /// Whether this batch reads the state of a request's punch items all at once, before the
    /// first of them is applied, when given their keys ([`ItemBatch::announce`]). A storage
    /// whose every statement is a round trip to a database server does (PostgreSQL); one that
    /// runs in the process does not (SQLite), and its items are applied as soon as each one's
    /// checks ahead of the transaction are done.
    fn reads_ahead(&self) -> bool {
        false
    }

    /// The keys of the punch items the request will apply, in order, before the first of
    /// them: where [`ItemBatch::reads_ahead`], their devices are locked and their ledger
    /// entries and face nonces read at once. An item applied without being announced is read
    /// on its own; the decisions are the same either way.
    fn announce(&mut self, _keys: &[ItemKey<'_>]) -> Result<(), StorageError> {
        Ok(())
    }

    /// Applies one pushed item: reads the [`ItemState`], calls `judge`, and, when it decides
    /// [`ItemDecision::Store`], records the item id, stores the punch, advances the device's
    /// chain head, consumes the nonce and adds the change, all or nothing. Returns the
    /// decision applied; on `Err` the item left no trace.
    fn apply(
        &mut self,
        key: &ItemKey<'_>,
        judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
    ) -> Result<ItemDecision, StorageError>;

    /// Applies one approval item: reads the [`ApprovalState`], calls `judge`, and, when it
    /// decides [`ApprovalDecision::Write`], records the item id, writes the request, its
    /// inbox entries, the audit entry, the leave movements and the correction, and adds the
    /// change for every device of the employees to notify, all or nothing.
    fn apply_approval(
        &mut self,
        key: &ApprovalKey<'_>,
        judge: &mut dyn FnMut(&ApprovalState) -> ApprovalDecision,
    ) -> Result<ApprovalDecision, StorageError>;
}

/// The server's storage. See the file header for the contract.
pub trait Storage: Send + Sync + 'static {
    // ---- organisations -------------------------------------------------------------------
    /// The organisation with this id.
    fn org(&self, org_id: &str) -> Result<Option<OrgRow>, StorageError>;
    /// The organisation whose admin token hashes to `token_hash`.
    fn org_by_admin_token(&self, token_hash: &str) -> Result<Option<OrgRow>, StorageError>;
    /// Creates an organisation; `Conflict` if the id exists.
    fn create_org(&self, org: &NewOrg) -> Result<(), StorageError>;
    /// The ids of every organisation, in id order.
    fn org_ids(&self) -> Result<Vec<String>, StorageError>;
    /// Updates name and admin token (the token only while it was never rotated with
    /// [`Storage::rotate_admin_token`]); returns whether anything changed.
    fn update_org(
        &self,
        org_id: &str,
        name: &str,
        admin_token_hash: &str,
    ) -> Result<bool, StorageError>;

    // ---- policies ------------------------------------------------------------------------
    /// Stores a new version if it is newer than every stored one, and adds a `policy_updated`
    /// change (`change`, JSON) to the feed of every device of the organisation, atomically.
    fn publish_policy(
        &self,
        policy: &StoredPolicy,
        change: &str,
    ) -> Result<PublishOutcome, StorageError>;
    /// The newest version.
    fn current_policy(&self, org_id: &str) -> Result<Option<StoredPolicy>, StorageError>;
    /// One version.
    fn policy(&self, org_id: &str, version: u64) -> Result<Option<StoredPolicy>, StorageError>;

    // ---- enrolment and tokens ------------------------------------------------------------
    /// Stores a one-time enrolment code of `org_id` for `employee_id`, by its hash
    /// ([`crate::crypto::code_hash`]: lower-case hex SHA-256, case, spaces and dashes
    /// ignored), created at `now`. Codes are unique across organisations.
    fn add_enrollment_code(
        &self,
        org_id: &str,
        code_hash: &str,
        employee_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CodeOutcome, StorageError>;
    /// The code with this hash, used or not; reads only.
    fn enrollment_code(&self, code_hash: &str) -> Result<Option<EnrollmentCodeRow>, StorageError>;
    /// Uses the code (once), registers the device and its first token, atomically.
    fn enroll(
        &self,
        code_hash: &str,
        device: &NewDevice,
        token: &NewToken,
    ) -> Result<EnrollOutcome, StorageError>;
    /// The device with this id.
    fn device(&self, device_id: &str) -> Result<Option<DeviceRow>, StorageError>;
    /// The device whose unexpired token hashes to `token_hash`.
    fn device_by_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceRow>, StorageError>;
    /// Replaces every token of the device with this one, for a token refresh signed at
    /// `issued_at`: only when that is later than every refresh accepted before (a refresh is
    /// single-use); `false`, changing nothing, for a replayed or older one.
    fn refresh_token(
        &self,
        device_id: &str,
        issued_at: DateTime<Utc>,
        token: &NewToken,
    ) -> Result<bool, StorageError>;
    /// Every device of the organisation, in enrolment order.
    fn devices(&self, org_id: &str) -> Result<Vec<DeviceRow>, StorageError>;

    // ---- device revocation ---------------------------------------------------------------
    /// Revokes a device of `org_id` by storing `revocation`. Its tokens stay stored, so that
    /// [`Storage::device_by_token`] still finds the device and the API can answer
    /// `device_revoked` rather than a bare "unknown token"; its records and chain head stay as
    /// they are. The console audit entry `audit` is written in the same transaction: there is
    /// never a revocation without its entry, or an entry without the revocation.
    fn revoke_device(
        &self,
        org_id: &str,
        device_id: &str,
        revocation: &DeviceRevocation,
        audit: &NewConsoleAudit,
    ) -> Result<RevokeOutcome, StorageError>;

    // ---- push ----------------------------------------------------------------------------
    /// Applies the items of one push request in one transaction (group commit): `work` calls
    /// [`ItemBatch::apply`] for each item it decides to apply. Each item is atomic on its own
    /// (one that fails leaves no trace and the batch goes on); when `work` returns `Ok`, every
    /// applied item is committed and made durable together, before this returns, so the
    /// caller may acknowledge them. When `work` or the commit fails, none of them is applied.
    ///
    /// Writes of other requests wait for the batch; keep batches bounded (the push endpoint
    /// takes at most a few hundred items and has a deadline).
    ///
    /// `work` may be called a second time, from the start, on a fresh transaction: a storage
    /// that checks what it read ahead only when it writes (PostgreSQL, see
    /// [`ItemBatch::announce`]) applies the batch again item by item when another transaction
    /// took an item id or a face nonce in between. Each call must start from nothing.
    fn apply_batch(
        &self,
        work: &mut dyn FnMut(&mut dyn ItemBatch) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;

    /// [`Storage::apply_batch`] with one item.
    fn apply_item(
        &self,
        key: &ItemKey<'_>,
        judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
    ) -> Result<ItemDecision, StorageError> {
        let mut decision = None;
        self.apply_batch(&mut |batch| {
            decision = Some(batch.apply(key, judge)?);
            Ok(())
        })?;
        decision.ok_or_else(|| StorageError::Corrupt("the batch applied nothing".into()))
    }

    // ---- feeds and administration --------------------------------------------------------
    /// The device's changes after `after`, oldest first, at most `limit`.
    fn changes(
        &self,
        org_id: &str,
        device_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredChange>, StorageError>;
    /// The organisation's punches, in storage order.
    fn punches(&self, org_id: &str, filter: &PunchFilter)
    -> Result<Vec<StoredPunch>, StorageError>;
    /// Every stored record of a device's chain (JSON), in seq order.
    fn chain_records(&self, org_id: &str, device_id: &str) -> Result<Vec<String>, StorageError>;

    // ---- approvals -----------------------------------------------------------------------
    /// One request.
    fn request(
        &self,
        org_id: &str,
        request_id: &str,
    ) -> Result<Option<StoredRequest>, StorageError>;
    /// A request's audit trail, oldest first.
    fn audit(&self, org_id: &str, request_id: &str) -> Result<Vec<AuditEntry>, StorageError>;
    /// Requests waiting for `employee_id` to act, oldest first.
    fn inbox(&self, org_id: &str, employee_id: &str) -> Result<Vec<StoredRequest>, StorageError>;
    /// Requests `employee_id` made, newest first, at most `limit`.
    fn requests_of(
        &self,
        org_id: &str,
        employee_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredRequest>, StorageError>;
    /// An employee's leave ledger, oldest first.
    fn leave_movements(
        &self,
        org_id: &str,
        employee_id: &str,
    ) -> Result<Vec<daka_core::approvals::leave::Movement>, StorageError>;
    /// An employee's approved attendance corrections.
    fn corrections(&self, org_id: &str, employee_id: &str)
    -> Result<Vec<Correction>, StorageError>;

    // ---- attendance ----------------------------------------------------------------------
    /// What `employee_id`'s attendance is computed from: punches judged in `[from, to)`, and
    /// every approved correction, leave and overtime request.
    fn attendance_sources(
        &self,
        org_id: &str,
        employee_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<AttendanceSources, StorageError>;
    /// Queues a recompute (inputs queue theirs in their own transactions; this is for repairs
    /// and for days that passed without input).
    fn mark_attendance(
        &self,
        mark: &AttendanceMark,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;
    /// Queued recomputes of every organisation, oldest first, at most `limit`.
    fn attendance_marks(&self, limit: u32) -> Result<Vec<AttendanceMark>, StorageError>;
    /// Stored day results of `employee_id` (of everyone when `None`) for `from..=to`, by
    /// employee and date.
    fn attendance_days(
        &self,
        org_id: &str,
        employee_id: Option<&str>,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<StoredDay>, StorageError>;
    /// Stores a recompute, in one transaction: each day whose result differs from the stored
    /// one is stored and its change added to the feed of every device of the employee,
    /// unless its month is locked, where the difference is recorded as a late change instead
    /// (once per distinct new result); an unchanged day writes nothing. The settled marks are
    /// removed in the same transaction.
    fn save_attendance(&self, write: &AttendanceWrite) -> Result<AttendanceOutcome, StorageError>;
    /// Locks `month` (`YYYY-MM`); `false` when it was locked already (nothing written).
    fn lock_month(
        &self,
        org_id: &str,
        month: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;
    /// Unlocks `month` and queues its days for recompute, so that the late changes are
    /// taken; `false` when it was not locked (nothing written).
    fn unlock_month(
        &self,
        org_id: &str,
        month: &str,
        days: (chrono::NaiveDate, chrono::NaiveDate),
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;
    /// The locked months and the trail of locks and unlocks, oldest first.
    fn month_locks(&self, org_id: &str) -> Result<(Vec<MonthLock>, Vec<LockEvent>), StorageError>;
    /// Late changes recorded for the days of `month` (`YYYY-MM`), oldest first.
    fn late_changes(&self, org_id: &str, month: &str) -> Result<Vec<LateChange>, StorageError>;

    // ---- attachments ---------------------------------------------------------------------
    /// Stores a file of the organisation under its SHA-256 (`sha256`, lower-case hex, which
    /// the caller has checked against `content`). Idempotent: when the organisation already
    /// has a file with this hash, it is left as it is (media type and uploader included) and
    /// this returns `false`; `true` when this call stored it.
    fn put_attachment(
        &self,
        org_id: &str,
        sha256: &str,
        media_type: &str,
        content: &[u8],
        device_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;
    /// A file of the organisation: its media type and bytes.
    fn attachment(
        &self,
        org_id: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StorageError>;

    // ---- console decisions -------------------------------------------------------------------
    /// Applies a decision made on the web console, signed by the server, in one transaction:
    /// reads the [`ApprovalState`] of `key` (no item ledger is kept for it: `existing` is
    /// `None`), calls `judge`, and on `Ok` writes what [`ItemBatch::apply_approval`] writes
    /// for a pushed item (without recording an item id), every audit entry marked as signed
    /// by the server for `signer`. On `Err` nothing is written and the answer is returned.
    fn apply_console_decision(
        &self,
        key: &ApprovalKey<'_>,
        signer: &ConsoleSigner,
        judge: &mut dyn FnMut(&ApprovalState) -> Result<ConsoleWrite, Answer>,
    ) -> Result<Result<(), Answer>, StorageError>;
    /// Every request of the organisation that is pending or returned, oldest first.
    fn open_requests(&self, org_id: &str) -> Result<Vec<StoredRequest>, StorageError>;

    // ---- console -------------------------------------------------------------------------
    /// Creates a console account; `false` (nothing written) when the organisation already
    /// has an account with this email (compared in lower case; the account's is stored so).
    fn create_console_account(&self, account: &ConsoleAccount) -> Result<bool, StorageError>;
    /// Every account with this email (lower case), in any organisation, oldest first.
    fn console_accounts_by_email(&self, email: &str) -> Result<Vec<ConsoleAccount>, StorageError>;
    /// The organisation's account with this email (lower case).
    fn console_account_by_email(
        &self,
        org_id: &str,
        email: &str,
    ) -> Result<Option<ConsoleAccount>, StorageError>;
    /// The account with this id.
    fn console_account(&self, account_id: &str) -> Result<Option<ConsoleAccount>, StorageError>;
    /// Stores a new session of an account.
    fn create_console_session(
        &self,
        session: &ConsoleSessionRow,
        org_id: &str,
    ) -> Result<(), StorageError>;
    /// The session whose id hashes to `id_hash`, if stored (the caller checks its times).
    fn console_session(&self, id_hash: &str) -> Result<Option<ConsoleSessionRow>, StorageError>;
    /// Records a request of the session, for its idle timeout.
    fn touch_console_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StorageError>;
    /// Ends one session; `false` when there was none.
    fn end_console_session(&self, id_hash: &str) -> Result<bool, StorageError>;
    /// Ends every session of an account, and removes the sessions of every account that
    /// ended before `now`; the number of the account's sessions ended.
    fn end_console_sessions(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError>;
    /// Adds a console action to the audit.
    fn add_console_audit(&self, entry: &NewConsoleAudit) -> Result<(), StorageError>;
    /// The organisation's console audit after `after`, oldest first, at most `limit`.
    fn console_audit(
        &self,
        org_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ConsoleAuditEntry>, StorageError>;

    // ---- console: policy drafts and punch evidence ------------------------------------
    /// The organisation's policy draft, when one is being edited.
    fn policy_draft(&self, org_id: &str) -> Result<Option<PolicyDraft>, StorageError>;
    /// Stores `draft` if the stored draft's revision is `expected_rev` (0: no draft stored);
    /// `false`, changing nothing, when another edit came first.
    fn save_policy_draft(
        &self,
        draft: &PolicyDraft,
        expected_rev: u64,
    ) -> Result<bool, StorageError>;
    /// Removes the organisation's draft (published or discarded).
    fn delete_policy_draft(&self, org_id: &str) -> Result<(), StorageError>;
    /// One punch of the organisation by its record id, with the record as received.
    fn punch_with_record(
        &self,
        org_id: &str,
        punch_id: &str,
    ) -> Result<Option<(StoredPunch, String)>, StorageError>;
    // ---- console administration ---------------------------------------------------------
    /// Every account of the organisation, by email.
    fn console_accounts(&self, org_id: &str) -> Result<Vec<ConsoleAccount>, StorageError>;
    /// Writes an account's name, role, employee, language, password hash and disabled time
    /// (matched by id and organisation); `false` when there is no such account.
    fn update_console_account(&self, account: &ConsoleAccount) -> Result<bool, StorageError>;
    /// The last successful sign-in of each account of the organisation that has one.
    fn console_last_sign_ins(
        &self,
        org_id: &str,
    ) -> Result<std::collections::HashMap<String, DateTime<Utc>>, StorageError>;
    /// The organisation's console audit, newest first, as `query` filters and pages it.
    fn console_audit_page(
        &self,
        org_id: &str,
        query: &ConsoleAuditQuery,
    ) -> Result<Vec<ConsoleAuditEntry>, StorageError>;
    /// Stores a new API token.
    fn create_api_token(&self, token: &ApiTokenRow) -> Result<(), StorageError>;
    /// The organisation's API tokens, newest first (revoked and expired ones included).
    fn api_tokens(&self, org_id: &str) -> Result<Vec<ApiTokenRow>, StorageError>;
    /// The API token whose token hashes to `token_hash` (the caller checks expiry and
    /// revocation).
    fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiTokenRow>, StorageError>;
    /// Records a use of an API token.
    fn touch_api_token(&self, token_id: &str, now: DateTime<Utc>) -> Result<(), StorageError>;
    /// Revokes an API token of the organisation; `false` when there is none or it was
    /// revoked already.
    fn revoke_api_token(
        &self,
        org_id: &str,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;
    /// Replaces the organisation's admin token (the old one stops at once) and marks it
    /// rotated, so that the seed's token no longer replaces it; `false` when there is no
    /// such organisation.
    fn rotate_admin_token(
        &self,
        org_id: &str,
        admin_token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    // ---- readiness -----------------------------------------------------------------------
    /// The readiness probe of `GET /ready`: a trivial query, answered with the schema version
    /// the database holds now and the one this build writes. Load balancers call it every few
    /// seconds: keep it cheap.
    fn schema_versions(&self) -> Result<SchemaVersions, StorageError>;

    /// How many write transactions the backend runs side by side at most: 1 for a SQLite file
    /// (one writer at a time), the pool size for PostgreSQL. Push admission divides the
    /// storage time of pushes that ran alone by it, so that a server whose pushes could run
    /// side by side is not paced as if they could not.
    fn parallel_writes(&self) -> u32 {
        1
    }

    // ---- upkeep --------------------------------------------------------------------------
    /// Whether upkeep that writes put off is waiting ([`Storage::upkeep`]). Cheap: the HTTP
    /// layer asks after every storage call, and when it is due runs the upkeep on the blocking
    /// pool after answering, so no request waits for it. A backend with none says `false`.
    fn upkeep_due(&self) -> bool {
        false
    }
    /// Runs the upkeep that writes put off (SQLite: copying a long write-ahead log into the
    /// database file). Nothing a client was told depends on it: every answered write is
    /// already durable.
    fn upkeep(&self) -> Result<(), StorageError> {
        Ok(())
    }
}
