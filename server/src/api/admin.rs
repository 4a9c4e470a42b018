//! The admin API (`/admin/v1`), authenticated with an organisation's admin token and
//! confined to that organisation: publish a policy version, issue enrolment codes, list
//! devices and punches, and verify every stored device chain.

use axum::Json;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use daka_core::protocol::{ApiError, PolicyBundle};
use daka_core::punch::{PunchRecord, verify_chain};
use daka_core::{Code, Decision, Policy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::attendance::RosterWarning;
use super::extract::{AdminAuth, ApiJson, ApiPath, read_body};
use super::failure::Failure;
use super::state::AppState;
use crate::console::ClientAddr;
use crate::crypto;
use crate::policies::{self, PublishError};
use crate::storage::{
    CodeOutcome, DeviceRevocation, DeviceRow, PunchFilter, PunchStatus, RevokeOutcome, Storage,
};

/// The answer to publishing a policy version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublishedPolicy {
    /// The version published: the document's `version`.
    pub version: u64,
    /// Ed25519 signature of the organisation key over the document, base64url.
    pub signature: String,
    /// When it was published (server clock), RFC 3339 UTC.
    pub published_at: DateTime<Utc>,
    /// Devices that were sent a `policy_updated` change.
    pub devices_notified: u64,
    /// Rosters of the new version with 7 or more days in a row without a rest day
    /// (`hk_rest_day_7`): published all the same, as the law's warnings are advice to HR.
    pub roster_warnings: Vec<RosterWarning>,
    /// The server clock when it answered, RFC 3339 UTC.
    pub server_time: DateTime<Utc>,
}

/// The answer to checking a policy document without publishing it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckedPolicy {
    /// The document's `version`.
    pub version: u64,
    /// Rosters with 7 or more days in a row without a rest day (`hk_rest_day_7`).
    pub roster_warnings: Vec<RosterWarning>,
    /// The server clock when it answered, RFC 3339 UTC.
    pub server_time: DateTime<Utc>,
}

/// The roster warnings of a policy, as the API lists them.
pub(crate) fn roster_warnings(policy: &daka_core::Policy) -> Vec<RosterWarning> {
    daka_core::attendance::AttendanceEngine::new(policy)
        .roster_warnings()
        .into_iter()
        .map(|(employee, w)| RosterWarning {
            employee,
            code: w.code.as_str().to_owned(),
            date: w.date,
            message: w.message,
        })
        .collect()
}

/// Checks a policy document as publishing would (the same validation, errors naming the
/// field) and lists its roster warnings, without storing or publishing anything: review a
/// roster before it goes out.
#[utoipa::path(post, path = "/admin/v1/policy/check", tag = "admin",
    security(("admin_token" = [])),
    request_body(content = Object, description = "The policy document", content_type = "application/json"),
    responses(
        (status = 200, description = "Valid; its warnings", body = CheckedPolicy),
        (status = 400, description = "`invalid_policy` (the message names the field)", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 413, description = "`payload_too_large`", body = ApiError),
    ))]
pub async fn check_policy(
    State(state): State<AppState>,
    AdminAuth(_org): AdminAuth,
    request: Request,
) -> Result<Json<CheckedPolicy>, Failure> {
    let bytes = read_body(request.into_body(), state.inner.options.max_body_bytes).await?;
    let document = String::from_utf8(bytes.to_vec())
        .map_err(|_| Failure::bad_request("invalid_policy", "the policy is not UTF-8 text"))?;
    let policy = daka_core::Policy::from_json(&document)
        .map_err(|e| Failure::bad_request("invalid_policy", e.to_string()))?;
    Ok(Json(CheckedPolicy {
        version: policy.version,
        roster_warnings: roster_warnings(&policy),
        server_time: state.now(),
    }))
}

/// Publishes a new policy version. The body is the policy document (JSON, see
/// `docs/policy.md`); it is stored and signed byte for byte as sent.
#[utoipa::path(put, path = "/admin/v1/policy", tag = "admin",
    security(("admin_token" = [])),
    request_body(content = Object, description = "The policy document", content_type = "application/json"),
    responses(
        (status = 200, description = "Published", body = PublishedPolicy),
        (status = 400, description = "`invalid_policy` (the message names the field), `policy_org_mismatch`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 409, description = "`policy_version_not_newer`", body = ApiError),
        (status = 413, description = "`payload_too_large`", body = ApiError),
    ))]
pub async fn publish_policy(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    request: Request,
) -> Result<Json<PublishedPolicy>, Failure> {
    let bytes = read_body(request.into_body(), state.inner.options.max_body_bytes).await?;
    let document = String::from_utf8(bytes.to_vec())
        .map_err(|_| Failure::bad_request("invalid_policy", "the policy is not UTF-8 text"))?;
    let published = state
        .db(move |s| {
            let published = policies::publish(s.storage.as_ref(), &org, &document, s.now());
            if published.is_ok() {
                crate::attendance::recompute::run_logged(s.storage.as_ref(), s.now());
            }
            published.map_err(|e| match e {
                PublishError::Invalid(e) => Failure::bad_request("invalid_policy", e.to_string()),
                PublishError::OrgMismatch { .. } => {
                    Failure::bad_request("policy_org_mismatch", e.to_string())
                }
                PublishError::NotNewer { .. } => Failure::new(
                    StatusCode::CONFLICT,
                    "policy_version_not_newer",
                    e.to_string(),
                ),
                PublishError::Storage(e) => e.into(),
                PublishError::Sign(e) => Failure::internal(e),
            })
        })
        .await?;
    let warnings = daka_core::Policy::from_json(&published.policy.document)
        .map(|p| roster_warnings(&p))
        .unwrap_or_default();
    Ok(Json(PublishedPolicy {
        roster_warnings: warnings,
        version: published.policy.version,
        signature: published.policy.signature,
        published_at: published.policy.published_at,
        devices_notified: published.devices,
        server_time: state.now(),
    }))
}

/// The organisation's current policy bundle, as devices get it.
#[utoipa::path(get, path = "/admin/v1/policy", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The current policy", body = PolicyBundle),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 404, description = "`no_policy`", body = ApiError),
    ))]
pub async fn current_policy(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
) -> Result<Json<PolicyBundle>, Failure> {
    let policy = state
        .db(move |s| Ok(s.storage.current_policy(&org.id)?))
        .await?
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "no_policy", "no policy published"))?;
    Ok(Json(PolicyBundle {
        version: policy.version,
        document: policy.document,
        signature: policy.signature,
        server_time: state.now(),
    }))
}

/// Asks for an enrolment code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// An employee of the current policy.
    #[schema(min_length = 1, max_length = 128)]
    pub employee_id: String,
    /// A code of your own (at least 8 characters besides dashes and spaces, at most 64); a
    /// random one when absent.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 64)]
    pub code: Option<String>,
}

/// An issued enrolment code. The server keeps only its hash: this is the one time it is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedCode {
    /// The code to hand to the employee, as sent or generated (e.g. `7Q4M-X2KD-9HBA-R3TW`);
    /// case, dashes and spaces do not matter when it is entered.
    pub code: String,
    /// The employee a device enrolled with it will punch for.
    pub employee_id: String,
    /// The organisation the code enrols into.
    pub org_id: String,
    /// The server clock when it answered, RFC 3339 UTC.
    pub server_time: DateTime<Utc>,
}

/// A random enrolment code, as [`issue_code`] makes one when none is given.
pub(crate) fn new_code() -> Result<String, Failure> {
    crypto::new_enrollment_code().map_err(Failure::internal)
}

/// Stores `code` as a one-time enrolment code of `org_id` for `employee_id`, an employee of
/// the current policy; the code. The admin API and the console's People page share it.
pub(crate) fn add_code(
    storage: &dyn Storage,
    org_id: &str,
    employee_id: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<String, Failure> {
    let policy = storage
        .current_policy(org_id)?
        .ok_or_else(|| Failure::bad_request("no_policy", "publish a policy first"))?;
    let policy = Policy::from_json(&policy.document).map_err(Failure::internal)?;
    if policy.employee(employee_id).is_none() {
        return Err(Failure::bad_request(
            "unknown_employee",
            format!(
                "employee_id: not an employee of policy version {}",
                policy.version
            ),
        ));
    }
    match storage.add_enrollment_code(org_id, &crypto::code_hash(code), employee_id, now)? {
        CodeOutcome::Added => Ok(code.to_owned()),
        CodeOutcome::AlreadyPresent | CodeOutcome::Taken => Err(Failure::new(
            StatusCode::CONFLICT,
            "enrollment_code_exists",
            "this code is already issued; choose another",
        )),
    }
}

/// Issues a one-time enrolment code for an employee.
#[utoipa::path(post, path = "/admin/v1/enrollment-codes", tag = "admin",
    security(("admin_token" = [])),
    request_body = CodeRequest,
    responses(
        (status = 201, description = "Issued", body = IssuedCode),
        (status = 400, description = "`invalid_request`, `unknown_employee`, `no_policy`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 409, description = "`enrollment_code_exists`", body = ApiError),
    ))]
pub async fn issue_code(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<(StatusCode, Json<IssuedCode>), Failure> {
    let code = match request.code {
        Some(code) => {
            let core = code.replace(['-', ' '], "");
            if core.len() < 8 || code.len() > 64 || code.chars().any(char::is_control) {
                return Err(Failure::bad_request(
                    "invalid_request",
                    "code: 8–64 printable characters besides dashes and spaces",
                ));
            }
            code
        }
        None => new_code()?,
    };
    let employee_id = request.employee_id;
    let org_id = org.id.clone();
    let (code, employee_id) = state
        .db(move |s| {
            let issued = add_code(s.storage.as_ref(), &org.id, &employee_id, &code, s.now())?;
            Ok((issued, employee_id))
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedCode {
            code,
            employee_id,
            org_id,
            server_time: state.now(),
        }),
    ))
}

/// One enrolled device.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceInfo {
    /// Id the server gave the device at enrolment (a UUIDv7).
    pub device_id: String,
    /// The employee the device punches for, fixed by its enrolment code.
    pub employee_id: String,
    /// Device name the app sent at enrolment (free text).
    pub name: String,
    /// Platform the app sent at enrolment (free text, as the app reports it).
    pub platform: String,
    /// Ed25519 public key, base64url.
    pub public_key: String,
    /// When it enrolled (server clock), RFC 3339 UTC.
    pub enrolled_at: DateTime<Utc>,
    /// Seq of the last stored record of the device's chain (0: none yet).
    pub head_seq: u64,
    /// Hash of that record (lower-case hex SHA-256 of its canonical JSON); absent until the
    /// device's first record is stored.
    pub head_hash: Option<String>,
    /// When the server received that record (its last push with a record), RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_at: Option<DateTime<Utc>>,
    /// When the device was revoked, RFC 3339 UTC; absent while it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked, as the administrator wrote it; absent while it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
    /// The platform attestation it enrolled with, as verified; absent when it sent none or
    /// its organisation did not ask for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationInfo>,
}

/// What the server made of a device's attestation at enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttestationInfo {
    /// The format the device sent: `play_integrity`, `app_attest`, `android_key_attestation`.
    pub format: String,
    /// Whether it passed. A failing one is recorded only where the policy says `optional`.
    pub passed: bool,
    /// What the verifier established (`hk.harbourlane.staff: MEETS_DEVICE_INTEGRITY, …`), or
    /// the refusal code and reason.
    pub detail: String,
}

impl DeviceInfo {
    /// A stored device as the API lists it.
    fn from_row(d: DeviceRow) -> DeviceInfo {
        DeviceInfo {
            device_id: d.id,
            employee_id: d.employee_id,
            name: d.name,
            platform: d.platform,
            public_key: URL_SAFE_NO_PAD.encode(d.public_key),
            enrolled_at: d.enrolled_at,
            head_seq: d.head.as_ref().map_or(0, |h| h.seq),
            head_hash: d.head.map(|h| h.hash),
            last_push_at: d.last_push_at,
            revoked_at: d.revoked.as_ref().map(|r| r.at),
            revoke_reason: d.revoked.map(|r| r.reason),
            attestation: d.attestation.map(|a| AttestationInfo {
                format: a.format,
                passed: a.passed,
                detail: a.detail,
            }),
        }
    }
}

/// The organisation's devices.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceList {
    /// Every enrolled device of the organisation, in enrolment order.
    pub devices: Vec<DeviceInfo>,
    /// The server clock when it answered, RFC 3339 UTC.
    pub server_time: DateTime<Utc>,
}

/// Lists the organisation's devices, in enrolment order.
#[utoipa::path(get, path = "/admin/v1/devices", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The devices", body = DeviceList),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn devices(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
) -> Result<Json<DeviceList>, Failure> {
    let rows = state.db(move |s| Ok(s.storage.devices(&org.id)?)).await?;
    Ok(Json(DeviceList {
        devices: rows.into_iter().map(DeviceInfo::from_row).collect(),
        server_time: state.now(),
    }))
}

/// Asks to revoke a device.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why (1–500 bytes of printable text), kept with the device and in the audit.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// Checks a revocation reason: 1–500 bytes of printable text (line breaks allowed).
pub(crate) fn valid_reason(reason: &str) -> bool {
    let reason = reason.trim();
    !reason.is_empty()
        && reason.len() <= 500
        && !reason
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
}

/// Revokes `device_id` of `org_id` on behalf of `by`, with the console audit entry `audit`
/// written in the same transaction; the device as it is now stored. 404 `unknown_device` when the
/// organisation has no such device, 409 `device_already_revoked` when it is revoked already.
pub(crate) fn revoke(
    storage: &dyn Storage,
    org_id: &str,
    device_id: &str,
    revocation: &DeviceRevocation,
    audit: &crate::storage::NewConsoleAudit,
) -> Result<DeviceRow, Failure> {
    match storage.revoke_device(org_id, device_id, revocation, audit)? {
        RevokeOutcome::Revoked => {}
        RevokeOutcome::AlreadyRevoked(_) => {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                "device_already_revoked",
                "this device is already revoked",
            ));
        }
        RevokeOutcome::UnknownDevice => {
            return Err(Failure::new(
                StatusCode::NOT_FOUND,
                "unknown_device",
                "device_id: the organisation has no such device",
            ));
        }
    }
    storage
        .device(device_id)?
        .ok_or_else(|| Failure::internal("a revoked device did not read back"))
}

/// Revokes a device: every request it makes afterwards (push, changes, policy, token refresh,
/// requests, attachments) is refused 403 `device_revoked`. The records it sent before stay
/// valid. Recorded in the console audit as `device_revoked`.
#[utoipa::path(post, path = "/admin/v1/devices/{device_id}/revoke", tag = "admin",
    security(("admin_token" = [])),
    params(("device_id" = String, Path, description = "The device", min_length = 1, max_length = 128)),
    request_body = RevokeRequest,
    responses(
        (status = 200, description = "Revoked; the device as stored now", body = DeviceInfo),
        (status = 400, description = "`invalid_request` (`reason`: 1–500 bytes of printable text)", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 404, description = "`unknown_device`", body = ApiError),
        (status = 409, description = "`device_already_revoked`", body = ApiError),
    ))]
pub async fn revoke_device(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    ApiPath(device_id): ApiPath<String>,
    ClientAddr(client): ClientAddr,
    ApiJson(request): ApiJson<RevokeRequest>,
) -> Result<Json<DeviceInfo>, Failure> {
    if !valid_reason(&request.reason) {
        return Err(Failure::bad_request(
            "invalid_request",
            "reason: 1–500 bytes of printable text",
        ));
    }
    let row = state
        .db(move |s| {
            let now = s.now();
            let reason = request.reason.trim().to_owned();
            let audit = crate::storage::NewConsoleAudit {
                org_id: Some(org.id.clone()),
                account_id: None,
                email: "admin token".to_owned(),
                action: "device_revoked".to_owned(),
                client,
                detail: format!("device {device_id}: {reason}"),
                at: now,
            };
            revoke(
                s.storage.as_ref(),
                &org.id,
                &device_id,
                &DeviceRevocation {
                    at: now,
                    by: "admin_token".to_owned(),
                    reason,
                },
                &audit,
            )
        })
        .await?;
    Ok(Json(DeviceInfo::from_row(row)))
}

/// One stored punch and the server's verdict on it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PunchInfo {
    /// The record's id (a UUID).
    pub punch_id: String,
    /// The device whose chain the record belongs to.
    pub device_id: String,
    /// The employee the record is for, as the record states it.
    pub employee_id: String,
    /// Sequence number in the device's chain (from 1).
    pub seq: u64,
    /// `in`, `out`, `break_start`, `break_end`, `field`.
    pub kind: String,
    /// `accepted`, `field_punch` (awaiting review) or `refused` (kept only as a chain link).
    pub status: PunchStatus,
    /// The server's decision.
    pub decision: Decision,
    /// Every finding of the server's verdict.
    pub codes: Vec<Code>,
    /// For a refused punch, the code it was answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The policy version the record names, which the server judged it on.
    pub policy_version: u64,
    /// The trusted time it was judged at.
    pub judged_at: DateTime<Utc>,
    /// When the push that carried it reached the server (server clock), RFC 3339 UTC.
    pub received_at: DateTime<Utc>,
    /// For a field punch, its review: `approved` (it counts as attendance) or `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

/// A page of punches.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PunchList {
    /// Up to `limit` punches, in the order the server stored them.
    pub punches: Vec<PunchInfo>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
    /// The server clock when it answered, RFC 3339 UTC.
    pub server_time: DateTime<Utc>,
}

/// Largest page of [`punches`].
const MAX_PUNCH_PAGE: u32 = 5000;

/// Lists stored punches in the order they were received.
#[utoipa::path(get, path = "/admin/v1/punches", tag = "admin",
    security(("admin_token" = [])),
    params(
        ("device_id" = Option<String>, Query, description = "Only this device's punches", min_length = 1, max_length = 128),
        ("status" = Option<String>, Query, description = "`accepted`, `field_punch` or `refused`", pattern = r"^(accepted|field_punch|refused)$"),
        ("after" = Option<i64>, Query, description = "`next_after` of the previous page", minimum = 0),
        ("limit" = Option<u32>, Query, description = "Page size, 1–5000 (default 1000)", minimum = 1, maximum = 5000),
    ),
    responses(
        (status = 200, description = "A page of punches", body = PunchList),
        (status = 400, description = "`invalid_request`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn punches(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<PunchList>, Failure> {
    let mut filter = PunchFilter {
        limit: 1000,
        ..PunchFilter::default()
    };
    let bad = |field: &str, reason: &str| {
        Failure::bad_request("invalid_request", format!("{field}: {reason}"))
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "device_id" if value.is_empty() || value.len() > 128 => {
                return Err(bad("device_id", "1 to 128 bytes"));
            }
            "device_id" => filter.device_id = Some(value.into_owned()),
            "status" => {
                filter.status = Some(
                    PunchStatus::parse(&value)
                        .ok_or_else(|| bad("status", "one of accepted, field_punch, refused"))?,
                )
            }
            "after" => {
                filter.after = value
                    .parse()
                    .ok()
                    .filter(|v: &i64| *v >= 0)
                    .ok_or_else(|| bad("after", "a non-negative integer"))?
            }
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|v| (1..=MAX_PUNCH_PAGE).contains(v))
                    .ok_or_else(|| bad("limit", "an integer from 1 to 5000"))?
            }
            other => {
                return Err(bad(other, "unknown parameter"));
            }
        }
    }
    let limit = filter.limit;
    let rows = state
        .db(move |s| Ok(s.storage.punches(&org.id, &filter)?))
        .await?;
    let next_after = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.row))
        .flatten();
    let punches = rows
        .into_iter()
        .map(|p| {
            let verdict: serde_json::Value =
                serde_json::from_str(&p.server_verdict).unwrap_or_default();
            let decision = verdict
                .get("decision")
                .and_then(|d| serde_json::from_value(d.clone()).ok())
                .unwrap_or(Decision::Rejected);
            let codes = verdict
                .get("reasons")
                .and_then(|r| r.as_array())
                .map(|reasons| {
                    reasons
                        .iter()
                        .filter_map(|r| r.get("code")?.as_str().and_then(Code::parse))
                        .collect()
                })
                .unwrap_or_default();
            PunchInfo {
                punch_id: p.punch_id,
                device_id: p.device_id,
                employee_id: p.employee_id,
                seq: p.seq,
                kind: p.kind,
                status: p.status,
                decision,
                codes,
                code: p.code,
                policy_version: p.policy_version,
                judged_at: p.judged_at,
                received_at: p.received_at,
                review: p.review,
            }
        })
        .collect();
    Ok(Json(PunchList {
        punches,
        next_after,
        server_time: state.now(),
    }))
}

/// Where a stored chain first goes wrong.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChainFault {
    /// Position of the record in the chain (0-based).
    pub index: usize,
    /// The record's seq; 0 when the record cannot be read.
    pub seq: u64,
    /// The record's id; empty when the record cannot be read.
    pub punch_id: String,
    /// Stable code of `daka_core::punch::ChainErrorKind`, e.g. `bad_signature`, or
    /// `unreadable_record`, or `head_mismatch` when the chain does not end at the stored head.
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

/// The verification of one device's stored chain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChainCheck {
    /// The device whose chain this is.
    pub device_id: String,
    /// The employee the device punches for.
    pub employee_id: String,
    /// Whether every record verified and the chain ends at the stored chain head.
    pub ok: bool,
    /// Records stored for the device, whether or not they verified.
    pub records: usize,
    /// Seq of the last record when every record verified (even if the chain then does not
    /// end at the stored head); 0 when it has no records or a record fails.
    pub last_seq: u64,
    /// Hash of that last record; absent when `last_seq` is 0.
    pub head_hash: Option<String>,
    /// Where the chain first goes wrong; absent when `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ChainFault>,
}

/// The verification of every device's chain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChainReport {
    /// Every chain verified.
    pub ok: bool,
    /// One result per enrolled device, in enrolment order.
    pub devices: Vec<ChainCheck>,
    /// The server clock when it answered, RFC 3339 UTC.
    pub server_time: DateTime<Utc>,
}

/// Verifies every stored device chain from its first record with the device's enrolled key,
/// and that it ends at the stored chain head.
#[utoipa::path(get, path = "/admin/v1/chains/verify", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "One result per device", body = ChainReport),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn verify_chains(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
) -> Result<Json<ChainReport>, Failure> {
    let devices = state
        .db(move |s| {
            let mut checks = Vec::new();
            for device in s.storage.devices(&org.id)? {
                let texts = s.storage.chain_records(&org.id, &device.id)?;
                checks.push(check_chain(&device, &texts));
            }
            Ok(checks)
        })
        .await?;
    Ok(Json(ChainReport {
        ok: devices.iter().all(|d| d.ok),
        devices,
        server_time: state.now(),
    }))
}

pub(crate) fn check_chain(device: &crate::storage::DeviceRow, texts: &[String]) -> ChainCheck {
    let mut check = ChainCheck {
        device_id: device.id.clone(),
        employee_id: device.employee_id.clone(),
        ok: false,
        records: texts.len(),
        last_seq: 0,
        head_hash: None,
        error: None,
    };
    let mut records = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        match PunchRecord::from_json(text) {
            Ok(r) => records.push(r),
            Err(e) => {
                check.error = Some(ChainFault {
                    index,
                    seq: 0,
                    punch_id: String::new(),
                    code: "unreadable_record".into(),
                    message: e.to_string(),
                });
                return check;
            }
        }
    }
    match verify_chain(&device.public_key, &records) {
        Ok(summary) => {
            check.last_seq = summary.last_seq;
            check.head_hash = summary.head_hash.clone();
            let stored = device.head.as_ref().map(|h| (h.seq, h.hash.clone()));
            let verified = summary.head_hash.map(|h| (summary.last_seq, h));
            if stored == verified {
                check.ok = true;
            } else {
                check.error = Some(ChainFault {
                    index: records.len().saturating_sub(1),
                    seq: summary.last_seq,
                    punch_id: records
                        .last()
                        .map(|r| r.body.id.to_string())
                        .unwrap_or_default(),
                    code: "head_mismatch".into(),
                    message: "the stored records do not end at the stored chain head; records were deleted".into(),
                });
            }
        }
        Err(e) => {
            check.error = Some(ChainFault {
                index: e.index,
                seq: e.seq,
                punch_id: e.id.to_string(),
                code: e.code().to_string(),
                message: e.to_string(),
            });
        }
    }
    check
}
