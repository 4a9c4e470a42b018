//! The device endpoints of protocol version 1: enrolment, token refresh, the signed policy,
//! push and the change feed. The messages are `daka_core::protocol`'s, so the server and
//! the SDK cannot drift apart.

use std::time::Instant;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::Duration;
use daka_core::protocol::{
    ApiError, Attestation, Change, ChangesResponse, EnrollChallengeRequest,
    EnrollChallengeResponse, EnrollRequest, EnrollResponse, MAX_ATTESTATION_TOKEN_BYTES,
    MAX_PUSH_ITEMS, PolicyBundle, PushRequest, PushResponse, PushTurnRequest, TokenRequest,
    TokenResponse, token_challenge,
};
use uuid::Uuid;

use super::admission::Refused;
use super::attestation::{self, Decision};
use super::extract::{ApiJson, DeviceAuth, JsonBody, PushCaller};
use super::failure::Failure;
use super::state::AppState;
use crate::console::ClientAddr;
use crate::crypto;
use crate::intake::{self, PushContext};
use crate::storage::{EnrollOutcome, NewDevice, NewToken, OrgRow};
use daka_core::policy::EnrolmentPolicy;

/// How far a token request's `issued_at` may be from the server's clock.
pub const TOKEN_REQUEST_WINDOW: Duration = Duration::minutes(5);

/// How long failed enrolments and token refreshes are remembered.
pub const DEVICE_FAILURE_WINDOW: Duration = Duration::minutes(15);
/// Failed enrolments (unknown or used codes) from one address within the window before it
/// is answered 429 `too_many_attempts`.
pub const ENROL_ADDRESS_FAILURES: usize = 10;
/// Failed enrolments from all addresses together within the window: guessing from many
/// addresses is slowed too. A code has 80 random bits (16 base-32 characters), so even at
/// this rate the chance of hitting any of a million live codes in a year is about 3 × 10⁻¹¹.
pub const ENROL_ALL_FAILURES: usize = 1000;
/// The key counting every failed enrolment.
const ENROL_ALL: &str = "enrol-all";
/// Failed token refreshes (unknown device, wrong signature, replay) from one address.
pub const REFRESH_ADDRESS_FAILURES: usize = 20;
/// Failed token refreshes naming one device.
pub const REFRESH_DEVICE_FAILURES: usize = 10;

fn check_text(field: &str, value: &str, max: usize) -> Result<(), Failure> {
    if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(Failure::bad_request(
            "invalid_request",
            format!("{field}: 1–{max} bytes of printable text"),
        ));
    }
    Ok(())
}

fn new_token(state: &AppState) -> Result<(String, NewToken), Failure> {
    let token = crypto::new_token().map_err(Failure::internal)?;
    let now = state.now();
    Ok((
        token.clone(),
        NewToken {
            hash: crypto::secret_hash(&token),
            issued_at: now,
            expires_at: now + state.inner.options.token_ttl,
        },
    ))
}

/// Enrols a device with a one-time code.
#[utoipa::path(post, path = "/v1/enroll", tag = "device",
    request_body = EnrollRequest,
    responses(
        (status = 200, description = "Enrolled; the same request again within a day (its answer was lost) answers the same device with a new token", body = EnrollResponse),
        (status = 400, description = "`invalid_request`, `invalid_public_key`", body = ApiError),
        (status = 403, description = "The organisation's policy requires attestation (`enrolment.attestation: required`) and it is missing or fails: `attestation_required`, `attestation_challenge_invalid`, `attestation_challenge_expired`, `attestation_format_unsupported`, `attestation_malformed`, `attestation_not_authentic`, `attestation_nonce_mismatch`, `attestation_wrong_app`, `attestation_not_trusted`, `attestation_stale`. Under `optional`, a failing attestation is recorded with the device and the enrolment goes ahead", body = ApiError),
        (status = 404, description = "`enrollment_code_unknown`", body = ApiError),
        (status = 409, description = "`enrollment_code_used`, `public_key_in_use`", body = ApiError),
        (status = 429, description = "`too_many_attempts`: too many failed enrolments from this address (10 in 15 minutes) or from everyone (1,000); wait `Retry-After` seconds", body = ApiError),
        (status = 503, description = "`busy`, `timeout`: retry after `Retry-After`", body = ApiError),
    ))]
pub async fn enroll(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(request): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, Failure> {
    let address = format!("enrol-address:{client}");
    if let Err(failure) = check_enrol_limit(&state, &address) {
        state.inner.metrics.record_enrolment("too_many_attempts");
        return Err(failure);
    }
    check_text("code", &request.code, 64)?;
    check_text("device_name", &request.device_name, 200)?;
    check_text("platform", &request.platform, 32)?;
    let public_key = enrolling_key(&request.public_key)?;
    if let Some(attestation) = &request.attestation {
        check_attestation_fields(attestation)?;
    }
    let code_hash = crypto::code_hash(&request.code);
    let attestation = match attest(&state, &request, &code_hash).await? {
        Decision::Enrol(record) => record,
        Decision::Refuse(failure) => {
            state.inner.metrics.record_enrolment("attestation_refused");
            return Err(failure);
        }
    };
    let (token, new_token) = new_token(&state)?;
    let device = NewDevice {
        id: Uuid::now_v7().to_string(),
        public_key,
        name: request.device_name.clone(),
        platform: request.platform.clone(),
        enrolled_at: state.now(),
        attestation,
    };
    let (outcome, org) = state
        .db(move |s| {
            let outcome = s.storage.enroll(&code_hash, &device, &new_token)?;
            let org = match &outcome {
                EnrollOutcome::Enrolled { device } => s.storage.org(&device.org_id)?,
                _ => None,
            };
            Ok((outcome, org))
        })
        .await?;
    state.inner.metrics.record_enrolment(match &outcome {
        EnrollOutcome::Enrolled { .. } => "enrolled",
        EnrollOutcome::UnknownCode => "enrollment_code_unknown",
        EnrollOutcome::CodeUsed => "enrollment_code_used",
        EnrollOutcome::KeyInUse => "public_key_in_use",
    });
    if matches!(
        outcome,
        EnrollOutcome::UnknownCode | EnrollOutcome::CodeUsed
    ) {
        state
            .inner
            .device_limiter
            .fail(&[&address, ENROL_ALL], state.now());
    }
    match outcome {
        EnrollOutcome::Enrolled { device } => {
            let org =
                org.ok_or_else(|| Failure::internal("enrolled into a missing organisation"))?;
            Ok(Json(EnrollResponse {
                device_id: device.id,
                org_id: device.org_id,
                employee_id: device.employee_id,
                token,
                org_public_key: org.public_key,
                server_time: state.now(),
            }))
        }
        EnrollOutcome::UnknownCode => Err(code_refusal(CodeRefusal::Unknown)),
        EnrollOutcome::CodeUsed => Err(code_refusal(CodeRefusal::Used)),
        EnrollOutcome::KeyInUse => Err(Failure::new(
            StatusCode::CONFLICT,
            "public_key_in_use",
            "this public key is already enrolled; generate a new device key",
        )),
    }
}

/// The attestation's members: a format name, a challenge and a token, each bounded.
fn check_attestation_fields(attestation: &Attestation) -> Result<(), Failure> {
    check_text("attestation.format", &attestation.format, 64)?;
    check_text("attestation.challenge", &attestation.challenge, 512)?;
    check_text(
        "attestation.token",
        &attestation.token,
        MAX_ATTESTATION_TOKEN_BYTES,
    )
}

/// What the organisation of an unused code asks about attestation, applied to the request.
/// A used or unknown code is left to the storage's answer (`enrollment_code_used`, the
/// repeat of an enrolment whose answer was lost, `enrollment_code_unknown`).
async fn attest(
    state: &AppState,
    request: &EnrollRequest,
    code_hash: &str,
) -> Result<Decision, Failure> {
    let Ok((rule, org)) = code_terms(state, code_hash).await? else {
        return Ok(Decision::Enrol(None));
    };
    Ok(attestation::decide(
        &rule,
        &state.inner.options.attestation,
        request.attestation.as_ref(),
        &org,
        code_hash,
        &request.public_key,
        state.now(),
    ))
}

/// Issues a challenge for a platform attestation of the app and device, before enrolling.
#[utoipa::path(post, path = "/v1/enroll/challenge", tag = "device",
    request_body = EnrollChallengeRequest,
    responses(
        (status = 200, description = "A challenge bound to the code and the public key, valid for 10 minutes; and whether the organisation asks for attestation (`off`, `optional`, `required`) and which formats this server verifies", body = EnrollChallengeResponse),
        (status = 400, description = "`invalid_request`, `invalid_public_key`", body = ApiError),
        (status = 404, description = "`enrollment_code_unknown`", body = ApiError),
        (status = 409, description = "`enrollment_code_used`", body = ApiError),
        (status = 429, description = "`too_many_attempts`: unknown and used codes count as failed enrolments (10 in 15 minutes from an address, 1,000 from everyone)", body = ApiError),
        (status = 503, description = "`busy`, `timeout`", body = ApiError),
    ))]
pub async fn enroll_challenge(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(request): ApiJson<EnrollChallengeRequest>,
) -> Result<Json<EnrollChallengeResponse>, Failure> {
    let address = format!("enrol-address:{client}");
    check_enrol_limit(&state, &address)?;
    check_text("code", &request.code, 64)?;
    enrolling_key(&request.public_key)?;
    let code_hash = crypto::code_hash(&request.code);
    let (rule, org) = match code_terms(&state, &code_hash).await? {
        Ok(found) => found,
        Err(refusal) => {
            state
                .inner
                .device_limiter
                .fail(&[&address, ENROL_ALL], state.now());
            return Err(code_refusal(refusal));
        }
    };
    let now = state.now();
    let (challenge, expires_at) =
        attestation::issue_challenge(&org, &code_hash, &request.public_key, now)?;
    Ok(Json(EnrollChallengeResponse {
        challenge,
        expires_at,
        attestation: rule.attestation,
        formats: state.inner.options.attestation.formats(),
        server_time: now,
    }))
}

/// Refuses an address, or everyone, after too many failed enrolments (unknown or used codes).
fn check_enrol_limit(state: &AppState, address: &str) -> Result<(), Failure> {
    let limits = [
        (address, ENROL_ADDRESS_FAILURES),
        (ENROL_ALL, ENROL_ALL_FAILURES),
    ];
    match state.inner.device_limiter.blocked(&limits, state.now()) {
        Some(wait) => Err(Failure::too_many_attempts("enrolments", wait)),
        None => Ok(()),
    }
}

/// The Ed25519 public key a device enrols, from its base64url text.
fn enrolling_key(text: &str) -> Result<[u8; 32], Failure> {
    crypto::decode_public_key(text).ok_or_else(|| {
        Failure::bad_request(
            "invalid_public_key",
            "public_key: an Ed25519 public key is 32 bytes, base64url without padding",
        )
    })
}

/// For an unused code: its organisation's enrolment rule and the organisation; otherwise why
/// the code cannot enrol. One storage call.
async fn code_terms(
    state: &AppState,
    code_hash: &str,
) -> Result<Result<(EnrolmentPolicy, OrgRow), CodeRefusal>, Failure> {
    let hash = code_hash.to_string();
    state
        .db(move |s| {
            let Some(code) = s.storage.enrollment_code(&hash)? else {
                return Ok(Err(CodeRefusal::Unknown));
            };
            if code.used {
                return Ok(Err(CodeRefusal::Used));
            }
            let org = s
                .storage
                .org(&code.org_id)?
                .ok_or_else(|| Failure::internal("an enrolment code of a missing organisation"))?;
            Ok(Ok((attestation::enrolment_rule(s, &code.org_id)?, org)))
        })
        .await
}

/// An enrolment code that cannot enrol.
#[derive(Debug, Clone, Copy)]
enum CodeRefusal {
    Unknown,
    Used,
}

/// The answer for a code that cannot enrol.
fn code_refusal(refusal: CodeRefusal) -> Failure {
    match refusal {
        CodeRefusal::Used => Failure::new(
            StatusCode::CONFLICT,
            "enrollment_code_used",
            "this enrolment code was already used; ask your administrator for a new one",
        ),
        CodeRefusal::Unknown => Failure::new(
            StatusCode::NOT_FOUND,
            "enrollment_code_unknown",
            "no such enrolment code; check it with your administrator",
        ),
    }
}

/// Issues a new bearer token to an enrolled device that proves its key.
#[utoipa::path(post, path = "/v1/token", tag = "device",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A new token; earlier tokens of the device stop working", body = TokenResponse),
        (status = 400, description = "`invalid_request`", body = ApiError),
        (status = 401, description = "`invalid_signature` (unknown device or wrong signature), `clock_skew` (`issued_at` over 5 minutes from `server_time`)", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
        (status = 409, description = "`token_refresh_replayed`: a refresh is single-use, and must be signed later than the last one accepted", body = ApiError),
        (status = 429, description = "`too_many_attempts`: too many failed refreshes from this address (20 in 15 minutes) or naming this device (10); wait `Retry-After` seconds", body = ApiError),
        (status = 503, description = "`busy`, `timeout`", body = ApiError),
    ))]
pub async fn token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<TokenResponse>, Failure> {
    check_text("device_id", &request.device_id, 128)?;
    let address = format!("refresh-address:{client}");
    let target = format!("refresh-device:{}", request.device_id);
    let limiter = &state.inner.device_limiter;
    if let Some(wait) = limiter.blocked(
        &[
            (address.as_str(), REFRESH_ADDRESS_FAILURES),
            (target.as_str(), REFRESH_DEVICE_FAILURES),
        ],
        state.now(),
    ) {
        return Err(Failure::too_many_attempts("token refreshes", wait));
    }
    let failed = || limiter.fail(&[&address, &target], state.now());
    let device_id = request.device_id.clone();
    let device = state.db(move |s| Ok(s.storage.device(&device_id)?)).await?;
    let invalid = || {
        Failure::unauthorized(
            "invalid_signature",
            "the signature does not prove this device's key; enrol again if the key was lost",
        )
    };
    let Some(device) = device else {
        failed();
        return Err(invalid());
    };
    let challenge = token_challenge(&request.device_id, &request.issued_at);
    if !crypto::verify(&device.public_key, &challenge, &request.signature) {
        failed();
        return Err(invalid());
    }
    if device.revoked.is_some() {
        return Err(Failure::device_revoked());
    }
    let now = state.now();
    if (request.issued_at - now).abs() > TOKEN_REQUEST_WINDOW {
        return Err(Failure::unauthorized(
            "clock_skew",
            format!(
                "issued_at {} is more than 5 minutes from the server time {}",
                request.issued_at.to_rfc3339(),
                now.to_rfc3339()
            ),
        ));
    }
    let (token, new_token) = new_token(&state)?;
    let issued_at = request.issued_at;
    let fresh = state
        .db(move |s| Ok(s.storage.refresh_token(&device.id, issued_at, &new_token)?))
        .await?;
    if !fresh {
        failed();
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "token_refresh_replayed",
            "this token refresh was used already (or an older one): sign a new one with the current time",
        ));
    }
    Ok(Json(TokenResponse {
        token,
        server_time: state.now(),
    }))
}

/// The organisation's current policy, signed by the organisation key.
#[utoipa::path(get, path = "/v1/policy", tag = "device",
    security(("device_token" = [])),
    responses(
        (status = 200, description = "The current policy bundle", body = PolicyBundle),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
        (status = 404, description = "`no_policy`", body = ApiError),
        (status = 503, description = "`busy`, `timeout`", body = ApiError),
    ))]
pub async fn policy(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
) -> Result<Json<PolicyBundle>, Failure> {
    let policy = state
        .db(move |s| Ok(s.storage.current_policy(&device.org_id)?))
        .await?
        .ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                "no_policy",
                "the organisation has no policy yet",
            )
        })?;
    Ok(Json(PolicyBundle {
        version: policy.version,
        document: policy.document,
        signature: policy.signature,
        server_time: state.now(),
    }))
}

/// The push endpoint's reading of a request body, as `POST /v1/push` reads it (one JSON
/// value, errors naming the field, then the item limit); the error is the answer's code and
/// message. For the fuzz targets (`fuzz/`); not an API.
#[doc(hidden)]
pub fn read_push_request(body: &[u8]) -> Result<PushRequest, (String, String)> {
    let request: PushRequest =
        super::extract::parse_json(body).map_err(|f| (f.code.to_string(), f.message))?;
    if request.items.len() > MAX_PUSH_ITEMS {
        return Err(("too_many_items".into(), request.items.len().to_string()));
    }
    Ok(request)
}

/// Applies a batch of outbox items, one result per item in request order.
#[utoipa::path(post, path = "/v1/push", tag = "device",
    security(("device_token" = [])),
    request_body = PushRequest,
    responses(
        (status = 200, description = "One result per item. Item codes — rejected: `id_conflict`, \
            `unsupported_kind`, `malformed_record`, `wrong_device`, `bad_signature`, `id_mismatch`, `fork`, \
            `broken_link`, `unknown_policy_version`, `wrong_employee`, `invalid_evidence`, or the first reject \
            code of the server's verdict (e.g. `face_token_replayed`, `outside_fence`); retry: `chain_gap`, \
            `earlier_item_pending`, `server_busy`, `server_deadline`; duplicate: the original code, if any. \
            Approval items (`request`, `decision`; see docs/approvals.md) — rejected: `malformed_item`, \
            `wrong_device`, `wrong_employee`, `bad_signature`, `id_mismatch`, `id_conflict`, \
            `policy_version_mismatch`, `unknown_template`, `invalid_form`, `no_approver`, `route_mismatch`, \
            `attachment_mismatch`, `insufficient_balance`, `missed_punch_limit`, `unknown_punch`, \
            `not_a_field_punch`, `punch_already_reviewed`, `request_exists`, `unknown_request`, `self_approval`, `not_current_approver`, \
            `already_acted`, `request_finished`, `request_not_pending`, `not_applicant`, `not_participant`, \
            `invalid_signer`, `invalid_comment`, `empty_route`, `no_policy`; retry: `attachment_missing`",
            body = PushResponse),
        (status = 400, description = "`invalid_request`, `too_many_items`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
        (status = 413, description = "`payload_too_large`", body = ApiError),
        (status = 503, description = "`busy` (also when the pushes ahead of this one would keep it waiting too long: wait for `Retry-After`), `timeout`", body = ApiError),
    ))]
pub(crate) async fn push(
    State(state): State<AppState>,
    caller: PushCaller,
    body: JsonBody,
) -> Result<Json<PushResponse>, Failure> {
    // A device that came back before its turn in line is told its wait again without its
    // token being looked up; a push that would be refused whatever its size, without its body
    // being parsed.
    let (device, token_hash) = match caller {
        PushCaller::Refused(early) => return Err(busy(early)),
        PushCaller::Device { device, token_hash } => (*device, token_hash),
    };
    let admission = &state.inner.push_admission;
    if let Some(unparsed) = admission.refuse_unparsed(&token_hash, Some(body.len())) {
        return Err(busy(unparsed));
    }
    let request: PushRequest = body.parse()?;
    if request.items.len() > MAX_PUSH_ITEMS {
        return Err(Failure::bad_request(
            "too_many_items",
            format!(
                "{} items; send at most {MAX_PUSH_ITEMS} per request",
                request.items.len()
            ),
        ));
    }
    admission.learn_item_size(body.len(), request.items.len());
    let admitted = admission
        .admit(request.items.len(), &token_hash)
        .map_err(busy)?;
    // Leave time to answer before the request timeout.
    let budget = state.inner.options.request_timeout.mul_f64(0.8);
    let deadline = Instant::now() + budget;
    let lane = admitted.lane().await;
    let (results, took) = state
        .db(move |s| {
            let started = Instant::now();
            let ctx = PushContext {
                storage: s.storage.as_ref(),
                engines: &s.engines,
                device: &device,
                received_at: s.now(),
                deadline,
            };
            let results = intake::process(&ctx, &request.items)?;
            s.metrics
                .record_push_items(results.iter().map(|r| &r.status));
            // The items are committed; their days are recomputed now (what fails stays queued).
            crate::attendance::recompute::run_logged(s.storage.as_ref(), s.now());
            Ok((results, started.elapsed()))
        })
        .await?;
    drop(lane);
    admitted.ran(took);
    Ok(Json(PushResponse {
        results,
        server_time: state.now(),
    }))
}

/// Whether a push of `items` items would be admitted now, asked before sending it: a device
/// refused `busy` asks this before it sends the same push again, and a device with a backlog
/// (64 KiB or more) before its first upload of it, and uploads the push only when its turn has
/// come. A 204 holds the turn for the device's push for two seconds (its
/// items count as admitted), and the push is admitted in it when it comes; a 503 keeps the
/// device's place in line, as a refused push's does.
#[utoipa::path(post, path = "/v1/push/turn", tag = "device",
    security(("device_token" = [])),
    request_body = PushTurnRequest,
    responses(
        (status = 204, description = "Its turn: send the push now (the turn is held for it for two seconds)"),
        (status = 400, description = "`invalid_request` (`items` missing, not a number, or 0), `too_many_items`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
        (status = 503, description = "`busy`: not its turn yet; ask again after `retry_after_ms` (`Retry-After` in whole seconds)", body = ApiError),
    ))]
pub(crate) async fn push_turn(
    State(state): State<AppState>,
    caller: PushCaller,
    body: JsonBody,
) -> Result<StatusCode, Failure> {
    let token_hash = match caller {
        PushCaller::Refused(early) => return Err(busy(early)),
        PushCaller::Device { token_hash, .. } => token_hash,
    };
    let request: PushTurnRequest = body.parse()?;
    let items = request.items as usize;
    if items == 0 {
        return Err(Failure::bad_request(
            "invalid_request",
            "items: 0; give the number of items in the push, 1 or more",
        ));
    }
    if items > MAX_PUSH_ITEMS {
        return Err(Failure::bad_request(
            "too_many_items",
            format!("items: {items}; send at most {MAX_PUSH_ITEMS} per request"),
        ));
    }
    state
        .inner
        .push_admission
        .turn(items, &token_hash)
        .map_err(busy)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The answer to a push refused by admission, or to a device asking for its turn too early.
fn busy(refused: Refused) -> Failure {
    Failure::busy_after(
        "busy",
        format!(
            "about {} ms of pushes are ahead of this one; send it again after retry_after_ms",
            refused.wait.as_millis()
        ),
        refused.retry_after,
    )
}

/// Parses a change-feed cursor: empty for the start, otherwise the decimal position the
/// previous answer returned (clients treat it as opaque).
fn parse_cursor(query: Option<&str>) -> Result<i64, Failure> {
    let mut cursor = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key == "cursor" {
            cursor = Some(value.into_owned());
        }
    }
    match cursor.as_deref() {
        None | Some("") => Ok(0),
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0 && c.len() <= 19 && c.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                Failure::bad_request(
                    "invalid_cursor",
                    "cursor: pass back the cursor of the previous answer, or none to start",
                )
            }),
    }
}

/// What changed for this device since `cursor`.
#[utoipa::path(get, path = "/v1/changes", tag = "device",
    security(("device_token" = [])),
    params(("cursor" = Option<String>, Query, description = "The `cursor` of the previous answer; omit to start from the beginning", pattern = r"^[0-9]{0,18}$")),
    responses(
        (status = 200, description = "Changes, oldest first", body = ChangesResponse),
        (status = 400, description = "`invalid_cursor`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
        (status = 503, description = "`busy`, `timeout`", body = ApiError),
    ))]
pub async fn changes(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    RawQuery(query): RawQuery,
) -> Result<Json<ChangesResponse>, Failure> {
    let after = parse_cursor(query.as_deref())?;
    let page = state.inner.options.changes_page.max(1);
    let mut rows = state
        .db(move |s| {
            Ok(s.storage
                .changes(&device.org_id, &device.id, after, page + 1)?)
        })
        .await?;
    let more = rows.len() > page as usize;
    rows.truncate(page as usize);
    let cursor = rows.last().map_or(after, |r| r.seq);
    let changes = rows
        .iter()
        .map(|r| {
            serde_json::from_str::<Change>(&r.body)
                .map_err(|e| Failure::internal(format!("stored change {}: {e}", r.seq)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(ChangesResponse {
        changes,
        cursor: cursor.to_string(),
        more,
        server_time: state.now(),
    }))
}
