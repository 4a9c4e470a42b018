//! The approval endpoints devices read: one request with its audit trail, the approver's
//! inbox, the applicant's own requests and leave balances. Submissions and decisions arrive
//! through `POST /v1/push` (see `intake/approval.rs`). A request is shown only to the people on it
//! (the applicant and everyone on its route) and to the organisation's administrators; to
//! anyone else it does not exist.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::Datelike;
use daka_core::approvals::StepMode;
use daka_core::approvals::leave;
use daka_core::protocol::{
    ApiError, AuditView, ConsoleAccountView, LeaveBalanceView, LeaveBalances, RequestList,
    RequestView, StepView, TimeOffView,
};

use super::extract::{AdminAuth, ApiPath, ApiQuery, DeviceAuth};
use super::failure::Failure;
use super::state::AppState;
use crate::attendance::time_off;
use crate::storage::{AuditEntry, StoredRequest};

/// Longest request id looked up.
const MAX_ID_LEN: usize = 128;

/// A request as devices, administrators and the console read it; `decision_key` is the
/// organisation's decision key (base64url), shown with the entries the server signed.
pub(crate) fn view(r: &StoredRequest, audit: &[AuditEntry], decision_key: &str) -> RequestView {
    RequestView {
        request_id: r.request_id.clone(),
        template_id: r.template_id.clone(),
        request_type: r.request_type.clone(),
        policy_version: r.policy_version,
        applicant: r.applicant.clone(),
        status: r.state.status.as_str().to_string(),
        revision: r.state.revision,
        form: serde_json::from_str(&r.form).unwrap_or_default(),
        steps: r
            .state
            .steps
            .iter()
            .map(|s| StepView {
                name: s.name.clone(),
                mode: match s.mode {
                    StepMode::Any => "any".into(),
                    StepMode::All => "all".into(),
                },
                approvers: s.approvers.clone(),
                approved_by: s.approved_by.clone(),
                added_by: s.added_by.clone(),
            })
            .collect(),
        current_step: r.state.current,
        waiting_for: r.state.waiting_for().to_vec(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        audit: audit
            .iter()
            .map(|a| AuditView {
                actor: a.actor.clone(),
                device_id: a.device_id.clone(),
                action: a.action.clone(),
                detail: serde_json::from_str(&a.detail).unwrap_or_default(),
                signed: serde_json::from_str(&a.signed).unwrap_or_default(),
                made_at: a.made_at,
                received_at: a.received_at,
                signed_by: if a.console.is_some() {
                    "server".into()
                } else {
                    "device".into()
                },
                console_account: a.console.as_ref().map(|c| ConsoleAccountView {
                    id: c.account_id.clone(),
                    email: c.email.clone(),
                    public_key: decision_key.to_owned(),
                }),
            })
            .collect(),
    }
}

/// The organisation's decision key, base64url ([`crate::crypto::DecisionKey`]).
pub(crate) fn decision_public_key(
    storage: &dyn crate::storage::Storage,
    org_id: &str,
) -> Result<String, Failure> {
    let org = storage
        .org(org_id)?
        .ok_or_else(|| Failure::internal(format!("organisation {org_id} is gone")))?;
    crate::crypto::DecisionKey::derive(&org.signing_seed)
        .map(|k| k.public_key())
        .map_err(Failure::internal)
}

fn is_participant(r: &StoredRequest, employee: &str) -> bool {
    r.applicant == employee
        || r.state.steps.iter().any(|s| {
            s.approvers.iter().any(|a| a == employee) || s.approved_by.iter().any(|a| a == employee)
        })
}

fn not_found(id: &str) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        "unknown_request",
        format!("no request {:?} that this device may see", short(id)),
    )
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// One request of `org_id` with its audit trail; for `viewer`, only if they are on it.
async fn lookup(
    state: &AppState,
    org_id: String,
    viewer: Option<String>,
    request_id: String,
) -> Result<Json<RequestView>, Failure> {
    if request_id.is_empty() || request_id.len() > MAX_ID_LEN {
        return Err(not_found(&request_id));
    }
    let id = request_id.clone();
    let found = state
        .db(move |s| {
            let Some(r) = s.storage.request(&org_id, &id)? else {
                return Ok(None);
            };
            if viewer.is_some_and(|v| !is_participant(&r, &v)) {
                return Ok(None);
            }
            let audit = s.storage.audit(&org_id, &id)?;
            let key = if audit.iter().any(|a| a.console.is_some()) {
                decision_public_key(s.storage.as_ref(), &org_id)?
            } else {
                String::new()
            };
            Ok(Some(view(&r, &audit, &key)))
        })
        .await?;
    found.map(Json).ok_or_else(|| not_found(&request_id))
}

/// One request with its steps and audit trail, for the people on it.
#[utoipa::path(get, path = "/v1/requests/{request_id}", tag = "device",
    security(("device_token" = [])),
    params(("request_id" = String, Path, description = "The request id", min_length = 1, max_length = 128)),
    responses(
        (status = 200, description = "The request", body = RequestView),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
        (status = 404, description = "`unknown_request`: no such request, or not one this device's employee is on", body = ApiError),
    ))]
pub async fn request(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    ApiPath(request_id): ApiPath<String>,
) -> Result<Json<RequestView>, Failure> {
    lookup(&state, device.org_id, Some(device.employee_id), request_id).await
}

/// Requests waiting for this device's employee to act, oldest first.
#[utoipa::path(get, path = "/v1/inbox", tag = "device",
    security(("device_token" = [])),
    responses(
        (status = 200, description = "The approver's inbox", body = RequestList),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
    ))]
pub async fn inbox(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
) -> Result<Json<RequestList>, Failure> {
    let requests = state
        .db(move |s| {
            Ok(s.storage
                .inbox(&device.org_id, &device.employee_id)?
                .iter()
                .map(|r| view(r, &[], ""))
                .collect())
        })
        .await?;
    Ok(Json(RequestList {
        requests,
        server_time: state.now(),
    }))
}

/// The requests this device's employee made, newest first (at most 500).
#[utoipa::path(get, path = "/v1/requests", tag = "device",
    security(("device_token" = [])),
    responses(
        (status = 200, description = "The applicant's requests", body = RequestList),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
    ))]
pub async fn mine(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
) -> Result<Json<RequestList>, Failure> {
    let requests = state
        .db(move |s| {
            Ok(s.storage
                .requests_of(&device.org_id, &device.employee_id, 500)?
                .iter()
                .map(|r| view(r, &[], ""))
                .collect())
        })
        .await?;
    Ok(Json(RequestList {
        requests,
        server_time: state.now(),
    }))
}

fn parse_year(query: Option<&str>, default: i32) -> Result<i32, Failure> {
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key == "year" {
            return value
                .parse::<i32>()
                .ok()
                .filter(|y| (2000..=2100).contains(y))
                .ok_or_else(|| {
                    Failure::bad_request("invalid_request", "year: a year between 2000 and 2100")
                });
        }
    }
    Ok(default)
}

/// This device's employee's leave balances for a year (default: this year).
#[utoipa::path(get, path = "/v1/leave-balances", tag = "device",
    security(("device_token" = [])),
    params(("year" = Option<i32>, Query, description = "Calendar year, 2000–2100; default the current one", minimum = 2000, maximum = 2100)),
    responses(
        (status = 200, description = "Balances in half days, one per leave type", body = LeaveBalances),
        (status = 400, description = "`invalid_request`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
    ))]
pub async fn leave_balances(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<LeaveBalances>, Failure> {
    let year = parse_year(query.as_deref(), state.now().year())?;
    let balances = state
        .db(move |s| {
            let Some(current) = s.storage.current_policy(&device.org_id)? else {
                return Ok(Vec::new());
            };
            let engine = s
                .engines
                .get(s.storage.as_ref(), &device.org_id, current.version)
                .map_err(|e| Failure::internal(e.to_string()))?;
            let ledger = s
                .storage
                .leave_movements(&device.org_id, &device.employee_id)?;
            let policy = engine.policy();
            let time_off = if policy
                .approvals
                .leave_types
                .iter()
                .any(|l| l.time_off_in_lieu)
            {
                let now = s.now();
                let today = now.with_timezone(&policy.time_zone()).date_naive();
                let b = time_off::balance(
                    s.storage.as_ref(),
                    policy,
                    &device.org_id,
                    &device.employee_id,
                    today,
                    now,
                    None,
                )?;
                Some(TimeOffView {
                    available_min: b.available,
                    credited_min: b.ledger.credits.iter().map(|c| c.minutes).sum(),
                    taken_min: b.ledger.taken.iter().map(|t| t.minutes).sum(),
                    expired_min: b.ledger.expired,
                    booked_min: b.booked,
                    next_expiry: b
                        .ledger
                        .credits
                        .iter()
                        .filter(|c| c.left > 0)
                        .map(|c| c.expires)
                        .min(),
                })
            } else {
                None
            };
            Ok(policy
                .approvals
                .leave_types
                .iter()
                .map(|lt| {
                    let b = leave::balance(lt, &device.employee_id, year, &ledger);
                    LeaveBalanceView {
                        time_off: lt.time_off_in_lieu.then(|| time_off.clone()).flatten(),
                        leave_type: lt.id.clone(),
                        name: lt.name.clone(),
                        year,
                        entitled_halves: b.entitled,
                        taken_halves: b.taken,
                        pending_halves: b.pending,
                        available_halves: b.available,
                        allow_negative: lt.allow_negative,
                    }
                })
                .collect())
        })
        .await?;
    Ok(Json(LeaveBalances {
        balances,
        server_time: state.now(),
    }))
}

/// Any request of the organisation with its full audit trail, for administrators.
#[utoipa::path(get, path = "/admin/v1/requests/{request_id}", tag = "admin",
    security(("admin_token" = [])),
    params(("request_id" = String, Path, description = "The request id", min_length = 1, max_length = 128)),
    responses(
        (status = 200, description = "The request", body = RequestView),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 404, description = "`unknown_request`", body = ApiError),
    ))]
pub async fn admin_request(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    ApiPath(request_id): ApiPath<String>,
) -> Result<Json<RequestView>, Failure> {
    lookup(&state, org.id, None, request_id).await
}

/// Query of `GET /admin/v1/corrections`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CorrectionQuery {
    /// The employee whose corrections to list.
    #[param(min_length = 1, max_length = 128)]
    pub employee_id: String,
}

/// Approved missed-punch corrections of one employee.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CorrectionList {
    /// The employee's corrections, ordered by day and then time; empty when there are none.
    pub corrections: Vec<CorrectionView>,
}

/// A corrected attendance record, added by an approved missed-punch request and marked as
/// such.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CorrectionView {
    /// The approved missed-punch request the correction comes from.
    pub request_id: String,
    /// The employee whose attendance it corrects (the request's applicant).
    pub employee_id: String,
    /// `YYYY-MM-DD`, the policy's time zone.
    pub day: String,
    /// The form's `punch_kind` choice, one of the options the policy's template lists
    /// (`in` or `out` in the example policy).
    pub punch_kind: String,
    /// The form's `time` text as the applicant entered it: `HH:MM` local time when the
    /// template asks for it so (the server does not check the format).
    pub time: String,
    /// When the server received the approval that settled the request.
    pub approved_at: chrono::DateTime<chrono::Utc>,
    /// Always `true`: this record comes from an approved correction, not from a punch.
    pub corrected: bool,
}

/// An employee's corrected attendance records (approved missed-punch requests).
#[utoipa::path(get, path = "/admin/v1/corrections", tag = "admin",
    security(("admin_token" = [])),
    params(CorrectionQuery),
    responses(
        (status = 200, description = "The corrections, by day", body = CorrectionList),
        (status = 400, description = "`invalid_request`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn admin_corrections(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    ApiQuery(query): ApiQuery<CorrectionQuery>,
) -> Result<Json<CorrectionList>, Failure> {
    if query.employee_id.is_empty() || query.employee_id.len() > MAX_ID_LEN {
        return Err(Failure::bad_request(
            "invalid_request",
            "employee_id: 1–128 bytes",
        ));
    }
    let corrections = state
        .db(move |s| Ok(s.storage.corrections(&org.id, &query.employee_id)?))
        .await?;
    Ok(Json(CorrectionList {
        corrections: corrections
            .into_iter()
            .map(|c| CorrectionView {
                request_id: c.request_id,
                employee_id: c.employee_id,
                day: c.day,
                punch_kind: c.punch_kind,
                time: c.time,
                approved_at: c.approved_at,
                corrected: true,
            })
            .collect(),
    }))
}
