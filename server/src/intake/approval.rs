//! Intake of approval items pushed by devices: request submissions (`request`) and decisions
//! (`decision`), after the dispatcher's checks (`mod.rs`). The server is the authority: it re-reads the form with the policy's
//! template, computes the route with the same engine as the device and refuses a submission
//! whose policy version or route differs, then runs the core's request state machine for
//! every decision, one at a time per request (so of two approvers of an any-one step exactly
//! one wins), with an audit entry for every change.
//!
//! Checks, in order, each refusal answered `rejected` with its code and nothing stored:
//!
//! 1. **Exactly once**: the item id in the ledger; same id and body is `duplicate`, another
//!    body `id_conflict`.
//! 2. **Integrity**: `malformed_item` (strict reading), `wrong_device` (device id or stream),
//!    `wrong_employee` (acting for someone other than the device's employee), `bad_signature`,
//!    `id_mismatch` (the item id is not the decision's id).
//! 3. **Submissions**: `policy_version_mismatch` (not the current version: the applicant
//!    reviews the form and route again), `unknown_template`, `invalid_form` (every field
//!    problem listed), `no_approver`, `route_mismatch`, `attachment_mismatch` (a stored file
//!    is not the size the form gives it), `insufficient_balance`, `missed_punch_limit`,
//!    `unknown_punch`, `not_a_field_punch`, `punch_already_reviewed`, `request_exists`.
//! 4. **Decisions**: `unknown_request`, then the state machine's codes (`self_approval`,
//!    `not_current_approver`, `already_acted`, `request_finished`, …).
//!
//! One answer is `retry`, not `rejected`: `attachment_missing`, a submission whose form
//! refers to files (receipts, signatures) the organisation does not have yet. The device
//! uploads them (`PUT /v1/attachments/{sha256}`) before it pushes, so this is a push that
//! overtook its uploads; the same item is accepted once they are stored. It comes after every
//! other check of a submission, so one that would be refused anyway is refused at once.

use std::sync::Arc;

use crate::attendance::time_off::{self, TimeOffBalance};
use chrono::Datelike;
use daka_core::approvals::form::FieldValue;
use daka_core::approvals::leave;
use daka_core::approvals::{
    Action, Decision, Effect, Form, FormErrors, RequestState, RequestStatus, RequestType, Signed,
    Submission, compute_route,
};
use daka_core::attendance::AttendanceEngine;
use daka_core::protocol::{Change, ItemCode, ItemKind, ItemStatus, PushItem, request_stream};
use daka_core::{Engine, Policy};

use super::answer::{answer, body_hash, rejected};
use super::context::PushContext;
use crate::crypto;
use crate::policies::EngineError;
use crate::storage::{
    Answer, ApprovalDecision, ApprovalKey, ApprovalState, ApprovalWrite, Correction, ItemBatch,
    NewAudit, PunchStatus, StorageError, StoredRequest,
};

/// The approval items of one push request, in request order.
#[derive(Default)]
pub(super) struct Approvals {
    /// The current policy's engine, read at the first approval item of the request.
    current: Option<Option<Arc<Engine>>>,
}

impl Approvals {
    /// Processes one approval item (of `kind`, a submission or a decision): its answer, and
    /// whether it is applied (now or before), which lets later items of its stream go ahead.
    pub(super) fn process(
        &mut self,
        ctx: &PushContext<'_>,
        batch: &mut dyn ItemBatch,
        kind: ItemKind,
        item: &PushItem,
    ) -> Result<(Answer, bool), StorageError> {
        let current = match &self.current {
            Some(engine) => engine.clone(),
            None => {
                let engine = current_engine(ctx)?;
                self.current = Some(engine.clone());
                engine
            }
        };
        process_item(ctx, current.as_deref(), batch, kind, item)
    }
}

enum Parsed {
    Submission(Signed<Submission>),
    Decision(Signed<Decision>),
}

impl Parsed {
    fn request_id(&self) -> String {
        match self {
            Parsed::Submission(s) => s.body.request_id.to_string(),
            Parsed::Decision(d) => d.body.request_id.to_string(),
        }
    }
}

/// Integrity checks: the item read strictly, of this device and its employee, signed by it.
fn integrity(
    ctx: &PushContext<'_>,
    kind: ItemKind,
    item: &PushItem,
) -> Result<(Parsed, String), Answer> {
    let device = ctx.device;
    let text = item.body.get();
    let parsed = match kind {
        ItemKind::Request => Signed::<Submission>::from_json(text).map(Parsed::Submission),
        _ => Signed::<Decision>::from_json(text).map(Parsed::Decision),
    }
    .map_err(|e| {
        rejected(
            ItemCode::MalformedItem,
            format!("not a valid {kind} item: {e}"),
        )
    })?;
    let (device_id, employee, signed_json, verify) = match &parsed {
        Parsed::Submission(s) => (
            &s.body.device_id,
            &s.body.applicant,
            s.to_json(),
            s.verify(&device.public_key),
        ),
        Parsed::Decision(d) => (
            &d.body.device_id,
            &d.body.actor,
            d.to_json(),
            d.verify(&device.public_key),
        ),
    };
    if *device_id != device.id || item.stream != request_stream(&parsed.request_id()) {
        return Err(rejected(
            ItemCode::WrongDevice,
            format!(
                "the item or its stream is not of the authenticated device {} and request {}",
                device.id,
                parsed.request_id()
            ),
        ));
    }
    if *employee != device.employee_id {
        return Err(rejected(
            ItemCode::WrongEmployee,
            format!(
                "the item acts for {employee:?}, but this device is enrolled for {:?}",
                device.employee_id
            ),
        ));
    }
    if let Err(e) = verify {
        return Err(rejected(ItemCode::BadSignature, e.to_string()));
    }
    if let Parsed::Decision(d) = &parsed
        && d.body.id.to_string() != item.id
    {
        return Err(rejected(
            ItemCode::IdMismatch,
            format!("the item id is not the decision id {}", d.body.id),
        ));
    }
    let signed_json = signed_json.map_err(|e| rejected(ItemCode::MalformedItem, e.to_string()))?;
    Ok((parsed, signed_json))
}

/// The engine of the organisation's current policy (`None` before the first one), read once
/// per push, before the items' savepoints: submissions must be made on it, and decisions
/// check people against it.
fn current_engine(ctx: &PushContext<'_>) -> Result<Option<Arc<Engine>>, StorageError> {
    let org = &ctx.device.org_id;
    match ctx.storage.current_policy(org)? {
        Some(p) => match ctx.engines.get(ctx.storage, org, p.version) {
            Ok(engine) => Ok(Some(engine)),
            Err(EngineError::Storage(e)) => Err(e),
            Err(_) => Ok(None),
        },
        None => Ok(None),
    }
}

/// Processes one approval item inside the push's batch, judged on `current` (see
/// [`current_engine`]).
fn process_item(
    ctx: &PushContext<'_>,
    current: Option<&Engine>,
    batch: &mut dyn ItemBatch,
    kind: ItemKind,
    item: &PushItem,
) -> Result<(Answer, bool), StorageError> {
    let device = ctx.device;
    let checked = integrity(ctx, kind, item);
    let body_hash = match &checked {
        Ok((_, signed)) => crypto::sha256_hex(signed.as_bytes()),
        Err(_) => body_hash(&item.body),
    };
    let request_id = checked
        .as_ref()
        .map(|(p, _)| p.request_id())
        .unwrap_or_default();
    // A field-punch review names its punch in the form; the storage reads its owner.
    let punch_id = match &checked {
        Ok((Parsed::Submission(s), _)) => s.body.form.get("punch_id").and_then(|v| v.as_str()),
        _ => None,
    };
    // A submission's form is read with the current policy's template before the savepoint
    // (and not again inside it): the files it refers to are part of the state to read.
    let form = match (&checked, &current) {
        (Ok((Parsed::Submission(s), _)), Some(engine)) => engine
            .policy()
            .approvals
            .template(&s.body.template_id)
            .map(|t| Form::read(t, &s.body.form)),
        _ => None,
    };
    // Time off in lieu is read from the day results before the savepoint, like the form.
    let time_off = match (&checked, &current, &form) {
        (Ok((Parsed::Submission(s), _)), Some(engine), Some(Ok(form))) => {
            time_off_for(ctx, engine.policy(), &s.body, form)?
        }
        _ => None,
    };
    let mut attachments: Vec<String> = Vec::new();
    if let Some(Ok(form)) = &form {
        for file in form.files() {
            if !attachments.contains(&file.sha256) {
                attachments.push(file.sha256.clone());
            }
        }
    }
    let key = ApprovalKey {
        org_id: &device.org_id,
        device_id: &device.id,
        item_id: &item.id,
        kind,
        body_hash: &body_hash,
        request_id: &request_id,
        applicant: &device.employee_id,
        punch_id,
        attachments: &attachments,
    };
    let mut judge = |state: &ApprovalState| -> ApprovalDecision {
        if let Some(existing) = &state.existing {
            return ApprovalDecision::Answer(
                if existing.device_id == device.id && existing.body_hash == body_hash {
                    Answer {
                        status: ItemStatus::Duplicate,
                        code: None,
                        message: Some("already received".into()),
                    }
                } else {
                    rejected(
                        ItemCode::IdConflict,
                        "this item id was already used for a different item",
                    )
                },
            );
        }
        let (parsed, signed) = match &checked {
            Ok(c) => c,
            Err(a) => return ApprovalDecision::Answer(a.clone()),
        };
        let Some(engine) = current else {
            return ApprovalDecision::Answer(rejected(
                ItemCode::NoPolicy,
                "the organisation has no policy yet",
            ));
        };
        let policy = engine.policy();
        let result = match parsed {
            Parsed::Submission(s) => submit(
                ctx,
                policy,
                state,
                s,
                signed,
                form.as_ref(),
                time_off.as_ref(),
            ),
            Parsed::Decision(d) => decide(ctx.received_at, policy, state, d, signed),
        };
        match result {
            Ok(write) => ApprovalDecision::Write(Box::new(write)),
            Err(a) => ApprovalDecision::Answer(a),
        }
    };
    let decision = batch.apply_approval(&key, &mut judge)?;
    Ok(match decision {
        ApprovalDecision::Answer(a) => {
            let applied = a.status == ItemStatus::Duplicate;
            (a, applied)
        }
        ApprovalDecision::Write(_) => (
            Answer {
                status: ItemStatus::Accepted,
                code: None,
                message: None,
            },
            true,
        ),
    })
}

/// The `request_updated` change of a request as it now stands, JSON.
pub(crate) fn change(request: &StoredRequest) -> String {
    let change = Change::RequestUpdated {
        request_id: request.request_id.clone(),
        status: request.state.status.as_str().to_string(),
        revision: request.state.revision,
        waiting_for: request.state.waiting_for().to_vec(),
    };
    serde_json::to_string(&change).unwrap_or_default()
}

/// Everyone to tell about a change: the applicant and whoever the request now waits for.
pub(crate) fn notify(request: &StoredRequest, actor: &str) -> Vec<String> {
    let mut people = vec![request.applicant.clone()];
    for p in request.state.waiting_for() {
        if !people.contains(p) {
            people.push(p.clone());
        }
    }
    if !people.iter().any(|p| p == actor) {
        people.push(actor.to_owned());
    }
    people
}

/// Checks the stored files a form refers to: one stored with another size than the form gives
/// it is `attachment_mismatch`.
fn check_sizes(form: &Form, state: &ApprovalState) -> Result<(), Answer> {
    for file in form.files() {
        if let Some((_, size)) = state
            .attachment_sizes
            .iter()
            .find(|(hash, _)| *hash == file.sha256)
            && *size != file.bytes
        {
            return Err(rejected(
                ItemCode::AttachmentMismatch,
                format!(
                    "the form gives file {} as {} bytes, but the file uploaded with that hash is {size} bytes",
                    short_hash(&file.sha256),
                    file.bytes
                ),
            ));
        }
    }
    Ok(())
}

/// The `retry` answer for files not stored yet, if any.
fn missing_files(missing: &[String]) -> Result<(), Answer> {
    if missing.is_empty() {
        return Ok(());
    }
    const SHOWN: usize = 5;
    let mut list = missing
        .iter()
        .take(SHOWN)
        .map(|h| short_hash(h))
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() > SHOWN {
        list.push_str(&format!(" and {} more", missing.len() - SHOWN));
    }
    Err(answer(
        ItemStatus::Retry,
        ItemCode::AttachmentMissing,
        format!(
            "{} file(s) of the form are not uploaded yet ({list}): upload each with PUT /v1/attachments/{{sha256}}, then push again",
            missing.len()
        ),
    ))
}

/// The first 12 hex digits of a hash, for messages.
fn short_hash(hash: &str) -> String {
    let head: String = hash.chars().take(12).collect();
    if head.len() < hash.len() {
        format!("{head}…")
    } else {
        head
    }
}

/// The applicant's time off in lieu, when `form` asks for leave of a time-off-in-lieu type.
fn time_off_for(
    ctx: &PushContext<'_>,
    policy: &Policy,
    s: &Submission,
    form: &Form,
) -> Result<Option<TimeOffBalance>, StorageError> {
    let Some(FieldValue::Choice(leave_type)) = form.get("leave_type") else {
        return Ok(None);
    };
    if !policy
        .approvals
        .leave_type(leave_type)
        .is_some_and(|l| l.time_off_in_lieu)
    {
        return Ok(None);
    }
    let today = ctx
        .received_at
        .with_timezone(&policy.time_zone())
        .date_naive();
    let request_id = s.request_id.to_string();
    time_off::balance(
        ctx.storage,
        policy,
        &ctx.device.org_id,
        &s.applicant,
        today,
        ctx.received_at,
        Some(&request_id),
    )
    .map(Some)
}

#[allow(clippy::too_many_arguments)]
fn submit(
    ctx: &PushContext<'_>,
    policy: &Policy,
    state: &ApprovalState,
    signed: &Signed<Submission>,
    signed_json: &str,
    form: Option<&Result<Form, FormErrors>>,
    time_off: Option<&TimeOffBalance>,
) -> Result<ApprovalWrite, Answer> {
    let s = &signed.body;
    if s.policy_version != policy.version {
        return Err(rejected(
            ItemCode::PolicyVersionMismatch,
            format!(
                "the request was made with policy version {}, but version {} is in force: review the form and its route again and resubmit",
                s.policy_version, policy.version
            ),
        ));
    }
    let template = policy.approvals.template(&s.template_id).ok_or_else(|| {
        rejected(
            ItemCode::UnknownTemplate,
            format!(
                "policy version {} has no template {:?}",
                policy.version, s.template_id
            ),
        )
    })?;
    let read;
    let form = match form {
        Some(form) => form,
        None => {
            read = Form::read(template, &s.form);
            &read
        }
    };
    let form = form
        .as_ref()
        .map_err(|e| rejected(ItemCode::InvalidForm, e.to_string()))?;
    let route = compute_route(policy, template, &s.applicant, form)
        .map_err(|e| rejected(ItemCode::NoApprover, e.to_string()))?;
    if route != s.route {
        return Err(rejected(
            ItemCode::RouteMismatch,
            "the route shown on the device is not the route the policy gives this form; sync the policy and preview again",
        ));
    }
    check_sizes(form, state)?;
    let request_id = s.request_id.to_string();
    let mut movements = Vec::new();
    let mut month = None;
    match template.request_type {
        RequestType::Leave => {
            let (leave_type, halves, year) = leave_of(policy, &s.applicant, form)?;
            let lt = policy.approvals.leave_type(&leave_type).ok_or_else(|| {
                rejected(
                    ItemCode::InvalidForm,
                    format!("unknown leave type {leave_type:?}"),
                )
            })?;
            let mut ledger = state.leave.clone();
            // A resubmission replaces its own earlier hold.
            let settled = leave::settle(&request_id, false, &ledger);
            ledger.extend(settled.iter().cloned());
            movements.extend(settled);
            let hold = if lt.time_off_in_lieu {
                // Time off in lieu is checked in minutes against its own ledger; the half days
                // are held as for any leave, so that approval and release work the same way.
                check_time_off(policy, &s.applicant, form, time_off)?;
                let unbounded = daka_core::approvals::template::LeaveType {
                    allow_negative: true,
                    ..lt.clone()
                };
                leave::hold(&unbounded, &s.applicant, year, halves, &request_id, &ledger)
            } else {
                leave::hold(lt, &s.applicant, year, halves, &request_id, &ledger)
            }
            .map_err(|e| rejected(ItemCode::InsufficientBalance, e.to_string()))?;
            movements.push(hold);
        }
        RequestType::MissedPunch => {
            let Some(FieldValue::Date(day)) = form.get("date") else {
                return Err(rejected(
                    ItemCode::InvalidForm,
                    "a missed-punch correction needs a date",
                ));
            };
            let key = format!("{:04}-{:02}", day.year(), day.month());
            let used = state
                .missed_punch_months
                .iter()
                .filter(|m| **m == key)
                .count() as u32;
            let own = state
                .request
                .as_ref()
                .is_some_and(|r| r.month.as_deref() == Some(key.as_str()));
            let limit = policy.approvals.missed_punch_monthly_limit;
            if used - u32::from(own) >= limit {
                return Err(rejected(
                    ItemCode::MissedPunchLimit,
                    format!(
                        "{} already has {used} missed-punch correction(s) for {key}; the policy allows {limit} a month",
                        s.applicant
                    ),
                ));
            }
            month = Some(key);
        }
        RequestType::FieldPunchReview => match &state.punch {
            Some((employee, status))
                if *employee == s.applicant && status == PunchStatus::FieldPunch.as_str() =>
            {
                if let Some(other) = state.punch_reviews.first() {
                    return Err(rejected(
                        ItemCode::PunchAlreadyReviewed,
                        format!(
                            "the punch already has a review request ({other}); a punch is reviewed once"
                        ),
                    ));
                }
            }
            Some((employee, status)) if *employee == s.applicant => {
                return Err(rejected(
                    ItemCode::NotAFieldPunch,
                    format!("the punch was recorded as {status}; only field punches are reviewed"),
                ));
            }
            _ => {
                return Err(rejected(
                    ItemCode::UnknownPunch,
                    format!(
                        "{} has no punch with this id on the server (sync punches first)",
                        s.applicant
                    ),
                ));
            }
        },
        RequestType::Overtime => match form.get("minutes") {
            Some(FieldValue::Number(m)) if m.fract() == 0.0 => {}
            other => {
                return Err(rejected(
                    ItemCode::InvalidForm,
                    format!(
                        "an overtime request needs whole minutes, not {}",
                        other.map_or("nothing".to_owned(), |v| format!("{v:?}"))
                    ),
                ));
            }
        },
        RequestType::Expense | RequestType::General => {}
    }
    let now = ctx.received_at;
    let (request, action) = match &state.request {
        None => {
            if s.revision != 1 {
                return Err(rejected(
                    ItemCode::UnknownRequest,
                    format!(
                        "revision {} of a request the server has never seen",
                        s.revision
                    ),
                ));
            }
            let st = RequestState::submitted(&s.applicant, &route)
                .map_err(|e| rejected(e.item_code(), e.to_string()))?;
            (
                StoredRequest {
                    request_id: request_id.clone(),
                    template_id: template.id.clone(),
                    request_type: template.request_type.as_str().to_string(),
                    policy_version: policy.version,
                    applicant: s.applicant.clone(),
                    form: form.to_json().to_string(),
                    state: st,
                    month,
                    created_at: now,
                    updated_at: now,
                },
                "submit",
            )
        }
        Some(existing) => {
            if existing.template_id != template.id || s.revision != existing.state.revision + 1 {
                return Err(rejected(
                    ItemCode::RequestExists,
                    format!(
                        "request {request_id} exists (template {}, revision {}); a resubmission is its next revision on the same template",
                        existing.template_id, existing.state.revision
                    ),
                ));
            }
            let mut st = existing.state.clone();
            st.resubmit(&s.applicant, &route)
                .map_err(|e| rejected(e.item_code(), e.to_string()))?;
            let mut r = existing.clone();
            r.state = st;
            r.form = form.to_json().to_string();
            r.policy_version = policy.version;
            r.month = month;
            r.updated_at = now;
            (r, "resubmit")
        }
    };
    // Everything else is in order: the request waits only for its files.
    missing_files(&state.missing_attachments)?;
    let detail = serde_json::json!({
        "status": request.state.status.as_str(),
        "revision": request.state.revision,
        "route": route,
    });
    Ok(ApprovalWrite {
        change: change(&request),
        notify: notify(&request, &s.applicant),
        audit: NewAudit {
            actor: s.applicant.clone(),
            action: action.into(),
            detail: detail.to_string(),
            signed: signed_json.to_owned(),
            made_at: s.created_at,
        },
        movements,
        correction: None,
        review: None,
        request,
        received_at: now,
    })
}

/// Refuses time off in lieu beyond what the ledger has.
fn check_time_off(
    policy: &Policy,
    applicant: &str,
    form: &Form,
    balance: Option<&TimeOffBalance>,
) -> Result<(), Answer> {
    let Some(FieldValue::DateRange {
        start,
        end,
        start_pm,
        end_am,
    }) = form.get("period")
    else {
        return Ok(());
    };
    let needed =
        time_off::booked_minutes(policy, applicant, (*start, *end, *start_pm, *end_am), None);
    let Some(b) = balance else {
        return Err(rejected(
            ItemCode::InsufficientBalance,
            "the time off in lieu could not be read; try again",
        ));
    };
    if needed > b.available {
        let credited: u32 = b.ledger.credits.iter().map(|c| c.minutes).sum();
        let taken: u32 = b.ledger.taken.iter().map(|t| t.minutes).sum();
        return Err(rejected(
            ItemCode::InsufficientBalance,
            format!(
                "not enough time off in lieu: {needed} min requested, {} min available ({credited} min credited by overtime, {taken} min taken, {} min expired, {} min booked by other requests)",
                b.available, b.ledger.expired, b.booked
            ),
        ));
    }
    Ok(())
}

/// A leave form's type, the half days it books (working days only: rest days and holidays
/// inside the range are not deducted) and the year it starts in.
fn leave_of(policy: &Policy, applicant: &str, form: &Form) -> Result<(String, u32, i32), Answer> {
    let (
        Some(FieldValue::Choice(leave_type)),
        Some(FieldValue::DateRange {
            start,
            end,
            start_pm,
            end_am,
        }),
    ) = (form.get("leave_type"), form.get("period"))
    else {
        return Err(rejected(
            ItemCode::InvalidForm,
            "a leave request needs leave_type and period",
        ));
    };
    let days = AttendanceEngine::new(policy)
        .leave_booking(applicant, *start, *end, *start_pm, *end_am)
        .map_err(|e| rejected(ItemCode::InvalidForm, e.to_string()))?;
    let halves: u32 = days.iter().map(|(_, part)| part.halves()).sum();
    if halves == 0 {
        return Err(rejected(
            ItemCode::InvalidForm,
            format!(
                "the leave from {start} to {end} has no working day for {applicant}: rest days and holidays are not deducted"
            ),
        ));
    }
    Ok((leave_type.clone(), halves, start.year()))
}

/// Runs a signed decision (`signed_json` its canonical JSON) on the request in `state`,
/// received at `now`: what to write, or the refusal. Pushed decisions and the console's
/// server-signed ones both come here.
pub(crate) fn decide(
    now: chrono::DateTime<chrono::Utc>,
    policy: &Policy,
    state: &ApprovalState,
    signed: &Signed<Decision>,
    signed_json: &str,
) -> Result<ApprovalWrite, Answer> {
    let d = &signed.body;
    let Some(existing) = &state.request else {
        return Err(rejected(
            ItemCode::UnknownRequest,
            format!("there is no request {} in this organisation", d.request_id),
        ));
    };
    let mut request = existing.clone();
    let is_employee = |id: &str| policy.employee(id).is_some();
    let effect = request
        .state
        .apply(&d.actor, &d.action, &is_employee)
        .map_err(|e| rejected(e.item_code(), e.to_string()))?;
    request.updated_at = now;
    let mut movements = Vec::new();
    let mut correction = None;
    let status = request.state.status;
    if request.request_type == RequestType::Leave.as_str() {
        match status {
            RequestStatus::Approved => {
                movements = leave::settle(&request.request_id, true, &state.leave);
            }
            RequestStatus::Rejected | RequestStatus::Withdrawn | RequestStatus::Returned => {
                movements = leave::settle(&request.request_id, false, &state.leave);
            }
            RequestStatus::Pending => {}
        }
    }
    if request.request_type == RequestType::MissedPunch.as_str()
        && status == RequestStatus::Approved
    {
        let form: serde_json::Value = serde_json::from_str(&request.form).unwrap_or_default();
        let text = |k: &str| form[k].as_str().unwrap_or_default().to_string();
        correction = Some(Correction {
            request_id: request.request_id.clone(),
            employee_id: request.applicant.clone(),
            day: text("date"),
            punch_kind: text("punch_kind"),
            time: text("time"),
            approved_at: now,
        });
    }
    let review = if request.request_type == RequestType::FieldPunchReview.as_str()
        && matches!(status, RequestStatus::Approved | RequestStatus::Rejected)
    {
        let form: serde_json::Value = serde_json::from_str(&request.form).unwrap_or_default();
        // `approved` or `rejected`, the outcomes `punch_review` takes.
        form["punch_id"]
            .as_str()
            .map(|id| (id.to_owned(), status.as_str().to_owned()))
    } else {
        None
    };
    let comment = match &d.action {
        Action::Approve { comment }
        | Action::AddSigner { comment, .. }
        | Action::Transfer { comment, .. }
        | Action::Withdraw { comment } => comment.clone(),
        Action::Reject { comment } | Action::Return { comment } | Action::Comment { comment } => {
            Some(comment.clone())
        }
    };
    let detail = serde_json::json!({
        "effect": effect_json(&effect),
        "status": status.as_str(),
        "comment": comment,
    });
    Ok(ApprovalWrite {
        change: change(&request),
        notify: notify(&request, &d.actor),
        audit: NewAudit {
            actor: d.actor.clone(),
            action: d.action.name().into(),
            detail: detail.to_string(),
            signed: signed_json.to_owned(),
            made_at: d.made_at,
        },
        movements,
        correction,
        review,
        request,
        received_at: now,
    })
}

fn effect_json(effect: &Effect) -> serde_json::Value {
    serde_json::to_value(effect).unwrap_or_default()
}
