//! Approvals through the bindings: request templates to build forms from, a draft checked
//! field by field with its route previewed offline, files attached by hash, submissions and
//! decisions queued offline, and the online reads (inbox, own requests, one request with its
//! audit trail, leave balances).
//!
//! Form values cross as [`FormValue`]s keyed by field id (typed, no JSON for the app to
//! write), turned into the core's form input in one place, `form.rs`; the rules are
//! daka-core's (`docs/approvals.md`).

use std::collections::HashMap;

use daka_core::approvals::template::FieldKind;
use daka_core::approvals::{Action, RouteStep, SignerPosition, StepMode, Template};
use daka_core::protocol::{LeaveBalanceView, RequestView};
use daka_device::engine::approvals::QueuedRequest;

use crate::device::DakaDevice;
use crate::error::DakaError;
use crate::form::{Attachment, FormValue, form_input};
use crate::runtime::on_runtime;

/// A field of a template, for building the form's screen.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FieldInfo {
    /// The field id: the key of its value in the form.
    pub id: String,
    /// The label to show.
    pub label: String,
    /// `text`, `number`, `money`, `date`, `date_range`, `choice`, `attachment`, `signature`.
    pub field_type: String,
    /// A value must be given.
    pub required: bool,
    /// The options of a `choice` field.
    pub options: Vec<String>,
    /// The currency of a `money` field.
    pub currency: Option<String>,
    /// Longest text, most files, or most days of a range, where the type has one.
    pub max: Option<u64>,
}

/// A request template of the policy in force.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TemplateInfo {
    /// The template id, for `checkDraft` and `submitRequest`.
    pub id: String,
    /// The name to show.
    pub name: String,
    /// `expense`, `leave`, `missed_punch`, `field_punch_review` or `general`.
    pub request_type: String,
    /// The fields of the form, in order.
    pub fields: Vec<FieldInfo>,
    /// The names of the route's steps, in order (which apply depends on the form).
    pub steps: Vec<String>,
}

impl From<&Template> for TemplateInfo {
    fn from(t: &Template) -> Self {
        TemplateInfo {
            id: t.id.clone(),
            name: t.name.clone(),
            request_type: t.request_type.as_str().into(),
            fields: t
                .fields
                .iter()
                .map(|f| {
                    let (options, currency, max) = match &f.kind {
                        FieldKind::Choice { options } => (options.clone(), None, None),
                        FieldKind::Money { currency, .. } => {
                            (Vec::new(), Some(currency.clone()), None)
                        }
                        FieldKind::Text { max_len, .. } => {
                            (Vec::new(), None, Some(u64::from(*max_len)))
                        }
                        FieldKind::Attachment { max_count, .. } => {
                            (Vec::new(), None, Some(u64::from(*max_count)))
                        }
                        FieldKind::DateRange { max_days } => {
                            (Vec::new(), None, Some(u64::from(*max_days)))
                        }
                        _ => (Vec::new(), None, None),
                    };
                    FieldInfo {
                        id: f.id.clone(),
                        label: f.label.clone(),
                        field_type: f.kind.name().into(),
                        required: f.required,
                        options,
                        currency,
                        max,
                    }
                })
                .collect(),
            steps: t.route.iter().map(|s| s.name.clone()).collect(),
        }
    }
}

/// One step of a route: who approves, and whether one or all of them must.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RouteStepInfo {
    /// The step's name, e.g. `Finance review`.
    pub name: String,
    /// Every approver must approve (countersign), not just one.
    pub all_must_approve: bool,
    /// Employee ids.
    pub approvers: Vec<String>,
    /// The step was escalated to the applicant's manager because its approvers were only
    /// the applicant.
    pub escalated: bool,
}

impl From<&RouteStep> for RouteStepInfo {
    fn from(s: &RouteStep) -> Self {
        RouteStepInfo {
            name: s.name.clone(),
            all_must_approve: s.mode == StepMode::All,
            approvers: s.approvers.clone(),
            escalated: s.escalated,
        }
    }
}

/// A draft that passed every check, with the route it will take.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DraftPreview {
    /// The steps the request will take, in order.
    pub route: Vec<RouteStepInfo>,
    /// The policy version the draft was checked with.
    pub policy_version: u64,
}

/// A queued submission.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QueuedRequestInfo {
    /// The request's id (UUIDv7).
    pub request_id: String,
    /// 1 for a first submission, then one more for each resubmission.
    pub revision: u32,
    /// The steps the request will take, in order.
    pub route: Vec<RouteStepInfo>,
}

impl From<QueuedRequest> for QueuedRequestInfo {
    fn from(q: QueuedRequest) -> Self {
        QueuedRequestInfo {
            request_id: q.request_id,
            revision: q.revision,
            route: q.route.iter().map(Into::into).collect(),
        }
    }
}

/// What a person does to a request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ApprovalAction {
    /// Approve the current step.
    Approve {
        /// An optional note for the audit trail.
        comment: Option<String>,
    },
    /// Needs a reason the applicant can read.
    Reject {
        /// Why, for the applicant.
        comment: String,
    },
    /// Send back for changes; needs a reason.
    Return {
        /// What to change, for the applicant.
        comment: String,
    },
    /// Add a signer: `before` you (they approve first), or after you (your approval counts).
    AddSigner {
        /// Who is added.
        employee_id: String,
        /// They approve before you (`true`), or after you (`false`).
        before: bool,
        /// An optional note for the audit trail.
        comment: Option<String>,
    },
    /// Hand your place in the current step to someone else.
    Transfer {
        /// Who takes your place.
        employee_id: String,
        /// An optional note for the audit trail.
        comment: Option<String>,
    },
    /// A note on the request, changing nothing.
    Comment {
        /// The note.
        comment: String,
    },
    /// The applicant takes the request back.
    Withdraw {
        /// An optional note for the audit trail.
        comment: Option<String>,
    },
}

impl From<ApprovalAction> for Action {
    fn from(a: ApprovalAction) -> Self {
        match a {
            ApprovalAction::Approve { comment } => Action::Approve { comment },
            ApprovalAction::Reject { comment } => Action::Reject { comment },
            ApprovalAction::Return { comment } => Action::Return { comment },
            ApprovalAction::AddSigner {
                employee_id,
                before,
                comment,
            } => Action::AddSigner {
                employee: employee_id,
                position: if before {
                    SignerPosition::Before
                } else {
                    SignerPosition::After
                },
                comment,
            },
            ApprovalAction::Transfer {
                employee_id,
                comment,
            } => Action::Transfer {
                to: employee_id,
                comment,
            },
            ApprovalAction::Comment { comment } => Action::Comment { comment },
            ApprovalAction::Withdraw { comment } => Action::Withdraw { comment },
        }
    }
}

/// One step of a request in progress.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RequestStepInfo {
    /// The step's name.
    pub name: String,
    /// Every approver must approve (countersign), not just one.
    pub all_must_approve: bool,
    /// Employee ids of the step's approvers.
    pub approvers: Vec<String>,
    /// Employee ids of those who approved so far.
    pub approved_by: Vec<String>,
    /// The approver who added this step, for an added signer.
    pub added_by: Option<String>,
}

/// One entry of a request's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuditEntryInfo {
    /// Employee id of who acted.
    pub actor: String,
    /// The device they acted from.
    pub device_id: String,
    /// `submit`, `resubmit`, `approve`, `reject`, `return`, `add_signer`, `transfer`,
    /// `comment`, `withdraw`.
    pub action: String,
    /// Their note, if any.
    pub comment: Option<String>,
    /// When the person acted (their device's trusted time), Unix milliseconds.
    pub made_at_ms: i64,
    /// When the server received it, Unix milliseconds.
    pub received_at_ms: i64,
}

/// A request as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RequestInfo {
    /// The request's id.
    pub request_id: String,
    /// The template it was filed with.
    pub template_id: String,
    /// `expense`, `leave`, `missed_punch`, `field_punch_review` or `general`.
    pub request_type: String,
    /// Employee id of who filed it.
    pub applicant: String,
    /// `pending`, `approved`, `rejected`, `returned` or `withdrawn`.
    pub status: String,
    /// The current revision (1, plus one per resubmission).
    pub revision: u32,
    /// The form's values as JSON (see docs/approvals.md).
    pub form_json: String,
    /// The route's steps, in order.
    pub steps: Vec<RequestStepInfo>,
    /// Who must act now (empty unless pending).
    pub waiting_for: Vec<String>,
    /// When it was first submitted, Unix milliseconds.
    pub created_at_ms: i64,
    /// When it last changed, Unix milliseconds.
    pub updated_at_ms: i64,
    /// Every change, oldest first (empty in inbox and list answers).
    pub audit: Vec<AuditEntryInfo>,
}

impl From<RequestView> for RequestInfo {
    fn from(v: RequestView) -> Self {
        RequestInfo {
            request_id: v.request_id,
            template_id: v.template_id,
            request_type: v.request_type,
            applicant: v.applicant,
            status: v.status,
            revision: v.revision,
            form_json: v.form.to_string(),
            steps: v
                .steps
                .into_iter()
                .map(|s| RequestStepInfo {
                    name: s.name,
                    all_must_approve: s.mode == "all",
                    approvers: s.approvers,
                    approved_by: s.approved_by,
                    added_by: s.added_by,
                })
                .collect(),
            waiting_for: v.waiting_for,
            created_at_ms: v.created_at.timestamp_millis(),
            updated_at_ms: v.updated_at.timestamp_millis(),
            audit: v
                .audit
                .into_iter()
                .map(|a| AuditEntryInfo {
                    actor: a.actor,
                    device_id: a.device_id,
                    action: a.action,
                    comment: a.detail["comment"].as_str().map(str::to_owned),
                    made_at_ms: a.made_at.timestamp_millis(),
                    received_at_ms: a.received_at.timestamp_millis(),
                })
                .collect(),
        }
    }
}

/// A leave balance, in half days (3 days = 6).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LeaveBalance {
    /// The leave type's id, e.g. `annual`.
    pub leave_type: String,
    /// The name to show.
    pub name: String,
    /// The calendar year.
    pub year: i32,
    /// Half days granted for the year.
    pub entitled_halves: i64,
    /// Half days taken (approved).
    pub taken_halves: i64,
    /// Half days in requests still pending.
    pub pending_halves: i64,
    /// Half days left to request.
    pub available_halves: i64,
    /// For time off in lieu (調休): the minutes that can be requested now, from overtime
    /// credited as time off (the half-day figures then only count requests); `null` for
    /// other leave types.
    pub time_off_available_minutes: Option<u32>,
    /// For time off in lieu: the day the oldest credit with minutes left expires
    /// (`YYYY-MM-DD`).
    pub time_off_next_expiry: Option<String>,
}

impl From<LeaveBalanceView> for LeaveBalance {
    fn from(b: LeaveBalanceView) -> Self {
        LeaveBalance {
            leave_type: b.leave_type,
            name: b.name,
            year: b.year,
            entitled_halves: b.entitled_halves,
            taken_halves: b.taken_halves,
            pending_halves: b.pending_halves,
            available_halves: b.available_halves,
            time_off_available_minutes: b.time_off.as_ref().map(|t| t.available_min),
            time_off_next_expiry: b
                .time_off
                .and_then(|t| t.next_expiry)
                .map(|d| d.to_string()),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl DakaDevice {
    /// The request templates of the policy in force: what the app can offer to file.
    pub fn request_templates(&self) -> Vec<TemplateInfo> {
        self.core().templates().iter().map(Into::into).collect()
    }

    /// Checks a draft offline, field by field, and previews its route: who will approve, in
    /// which order. Errors: `InvalidForm` listing every problem, `NoApprover`,
    /// `InvalidInput` (`templateId`), `NoPolicy`, `NotEnrolled`.
    pub fn check_draft(
        &self,
        template_id: String,
        values: HashMap<String, FormValue>,
    ) -> Result<DraftPreview, DakaError> {
        let draft = self
            .core()
            .check_draft(&template_id, &form_input(&values)?)?;
        Ok(DraftPreview {
            route: draft.route.iter().map(Into::into).collect(),
            policy_version: draft.policy_version,
        })
    }

    /// Keeps a file (a receipt photo, a signature image) on the device for a form and
    /// returns the reference to put in an `Attachments` or `Signature` value. It is uploaded
    /// with the next sync, before the request that refers to it.
    pub fn add_attachment(
        &self,
        content: Vec<u8>,
        media_type: String,
    ) -> Result<Attachment, DakaError> {
        Ok(self.core().add_attachment(&content, &media_type)?.into())
    }

    /// Checks the draft and queues it, signed by this device: when this returns, the request
    /// is stored and will be sent with the next sync, even after days offline.
    pub fn submit_request(
        &self,
        template_id: String,
        values: HashMap<String, FormValue>,
    ) -> Result<QueuedRequestInfo, DakaError> {
        Ok(self
            .core()
            .submit_request(&template_id, &form_input(&values)?)?
            .into())
    }

    /// Sends a returned request again with changed values, as `revision` (the request's
    /// revision plus one).
    pub fn resubmit_request(
        &self,
        request_id: String,
        revision: u32,
        template_id: String,
        values: HashMap<String, FormValue>,
    ) -> Result<QueuedRequestInfo, DakaError> {
        Ok(self
            .core()
            .resubmit_request(&request_id, revision, &template_id, &form_input(&values)?)?
            .into())
    }

    /// Queues this employee's action on a request, signed by this device, offline if need
    /// be; returns the decision id. The server applies it or refuses it with a code
    /// (`not_current_approver`, `request_finished`, …, shown by `itemsNeedingAttention`).
    pub fn decide(&self, request_id: String, action: ApprovalAction) -> Result<String, DakaError> {
        Ok(self.core().decide(&request_id, action.into())?)
    }

    /// The requests waiting for this employee to act (online).
    pub async fn inbox(&self) -> Result<Vec<RequestInfo>, DakaError> {
        let device = self.core().clone();
        on_runtime(async move { Ok(device.inbox().await?.into_iter().map(Into::into).collect()) })
            .await
    }

    /// The requests this employee made, newest first (online).
    pub async fn my_requests(&self) -> Result<Vec<RequestInfo>, DakaError> {
        let device = self.core().clone();
        on_runtime(async move {
            Ok(device
                .my_requests()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// One request with its steps and audit trail (online). `Refused` with code
    /// `unknown_request` when it does not exist or this employee is not on it.
    pub async fn request(&self, request_id: String) -> Result<RequestInfo, DakaError> {
        let device = self.core().clone();
        on_runtime(async move { Ok(device.request(&request_id).await?.into()) }).await
    }

    /// This employee's leave balances for `year` (default: this year), online.
    pub async fn leave_balances(&self, year: Option<i32>) -> Result<Vec<LeaveBalance>, DakaError> {
        let device = self.core().clone();
        on_runtime(async move {
            Ok(device
                .leave_balances(year)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }
}
