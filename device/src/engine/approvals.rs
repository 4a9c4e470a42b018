//! Approvals on the device: the applicant's side (check a draft field by field, preview its
//! route offline, attach files, submit and resubmit through the outbox, withdraw) and the
//! approver's side (decide, queued offline like everything else), plus the online reads
//! (inbox, own requests, one request with its audit trail, leave balances).
//!
//! Submissions and decisions are signed with the device key ([`Signed`]) and enqueued in one
//! durable transaction each, in the request's own outbox stream, so they leave in order and
//! survive anything a punch survives. Attached files are kept in the store by SHA-256 and
//! uploaded before the items that refer to them (a sync round uploads them first; the server
//! defers a submission whose files it lacks).

use ring::digest::{SHA256, digest};
use serde_json::Value;
use uuid::Uuid;

use super::{Device, DeviceError, Identity};
use crate::outbox::NewItem;
use crate::store::attachments;
use crate::sync::client::{SyncClient, SyncError};
use daka_core::approvals::form::{FieldValue, is_media_type};
use daka_core::approvals::{
    Action, AttachmentRef, Decision, Form, FormErrors, RequestType, RouteError, RouteStep, Signed,
    Submission, Template, compute_route,
};
use daka_core::attendance::AttendanceEngine;
use daka_core::hex::hex_lower;
use daka_core::policy::MAX_ATTACHMENT_BYTES;
use daka_core::protocol::{ItemKind, LeaveBalanceView, RequestView, request_stream};
use daka_core::signed::{SignedError, SignedFormat};

/// Why a draft cannot be submitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DraftError {
    /// The installed policy has no template with this id (it may have been removed in a
    /// newer policy): list the current ones with [`Device::templates`].
    #[error("policy version {policy_version} has no template {template_id:?}")]
    UnknownTemplate {
        /// The template id given.
        template_id: String,
        /// The version of the installed policy that was searched.
        policy_version: u64,
    },
    /// One or more fields do not fit the template; every problem is listed, by field, in
    /// template order, for the form to show next to each field.
    #[error(transparent)]
    Form(#[from] FormErrors),
    /// No approval route can be computed for this employee and form (the employee is not in
    /// the policy, or a step resolves to nobody who may approve); an administrator must fix
    /// the policy.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The form refers to a file that is not kept on this device: add it with
    /// [`Device::add_attachment`] first.
    #[error("attachment {sha256} is not on this device; add it with add_attachment first")]
    MissingAttachment {
        /// The file's SHA-256 as the form gives it, lower-case hex.
        sha256: String,
    },
    /// A file cannot be attached: it is empty, larger than 50 MiB
    /// ([`MAX_ATTACHMENT_BYTES`]; a template's own, smaller limit is checked with the form),
    /// or its size on the device differs from the size the form gives.
    #[error("attachment: {reason}")]
    Attachment {
        /// Which of these, with the sizes.
        reason: String,
    },
    /// An argument is malformed: a request id that is not a UUID, a resubmission revision
    /// below 2, a media type that is not one (such as `image/jpeg`), or a leave whose
    /// `period` books no working day of the applicant's schedule.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which argument: `requestId`, `revision`, `mediaType`, or the form field `period`.
        field: String,
        /// The rule it breaks, with the value given.
        reason: String,
    },
}

/// A draft that passed every check: its form, the route it will take, and the policy
/// version both were computed with.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedDraft {
    /// The template the draft was checked against, from the installed policy.
    pub template: Template,
    /// The form's values, read and checked against the template; what is submitted.
    pub form: Form,
    /// The approval steps the request would take, in order, as the server will compute
    /// them: what the app previews ("Manager, then Finance").
    pub route: Vec<RouteStep>,
    /// The installed policy's version, which the template and route came from.
    pub policy_version: u64,
}

/// A queued submission.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedRequest {
    /// The request's id, a UUID in hyphenated lower-case form: pass it to
    /// [`Device::request`], [`Device::decide`] and [`Device::resubmit_request`].
    pub request_id: String,
    /// 1 for a first submission; the revision given for a resubmission.
    pub revision: u32,
    /// The approval steps computed on the device; the server computes the route again
    /// when the submission arrives.
    pub route: Vec<RouteStep>,
}

/// A leave must book at least one working day of the applicant's schedule (rest days and
/// holidays inside the range are not deducted): the server refuses one that books none, and
/// the policy on the phone has the schedules to know it offline.
fn check_leave_days(
    policy: &daka_core::Policy,
    employee: &str,
    form: &Form,
) -> Result<(), DraftError> {
    let Some(FieldValue::DateRange {
        start,
        end,
        start_pm,
        end_am,
    }) = form.get("period")
    else {
        return Ok(());
    };
    let invalid = |reason: String| DraftError::Invalid {
        field: "period".into(),
        reason,
    };
    let days = AttendanceEngine::new(policy)
        .leave_booking(employee, *start, *end, *start_pm, *end_am)
        .map_err(|e| invalid(e.to_string()))?;
    if days.iter().map(|(_, part)| part.halves()).sum::<u32>() == 0 {
        return Err(invalid(format!(
            "the leave from {start} to {end} has no working day for {employee}: rest days and holidays are not deducted"
        )));
    }
    Ok(())
}

impl Device {
    /// The request templates of the policy in force (empty before the first policy).
    pub fn templates(&self) -> Vec<Template> {
        self.engine()
            .map(|e| e.policy().approvals.templates.clone())
            .unwrap_or_default()
    }

    /// Checks a draft offline: every field against the template (all problems at once), and
    /// the route it would take, as the server will compute it.
    pub fn check_draft(
        &self,
        template_id: &str,
        form: &Value,
    ) -> Result<CheckedDraft, DeviceError> {
        let identity = self.identity().ok_or(DeviceError::NotEnrolled)?;
        let engine = self.engine().ok_or(DeviceError::NoPolicy)?;
        let policy = engine.policy();
        let template =
            policy
                .approvals
                .template(template_id)
                .ok_or_else(|| DraftError::UnknownTemplate {
                    template_id: template_id.to_owned(),
                    policy_version: policy.version,
                })?;
        let form = Form::read(template, form).map_err(DraftError::from)?;
        if template.request_type == RequestType::Leave {
            check_leave_days(policy, &identity.employee_id, &form)?;
        }
        let route = compute_route(policy, template, &identity.employee_id, &form)
            .map_err(DraftError::from)?;
        Ok(CheckedDraft {
            template: template.clone(),
            form,
            route,
            policy_version: policy.version,
        })
    }

    /// Keeps a file (a receipt photo, a signature) for a form, by its SHA-256, and returns the
    /// reference to put in the form. Adding the same bytes again is harmless.
    pub fn add_attachment(
        &self,
        content: &[u8],
        media_type: &str,
    ) -> Result<AttachmentRef, DeviceError> {
        if content.is_empty() {
            return Err(DraftError::Attachment {
                reason: "the file is empty".into(),
            }
            .into());
        }
        if content.len() as u64 > MAX_ATTACHMENT_BYTES {
            return Err(DraftError::Attachment {
                reason: format!(
                    "{} bytes, over the {MAX_ATTACHMENT_BYTES}-byte limit",
                    content.len()
                ),
            }
            .into());
        }
        if !is_media_type(media_type) {
            return Err(DraftError::Invalid {
                field: "mediaType".into(),
                reason: format!("{media_type:?} is not a media type such as \"image/jpeg\""),
            }
            .into());
        }
        let sha256 = hex_lower(digest(&SHA256, content).as_ref());
        attachments::add(
            &self.store.conn(),
            &sha256,
            media_type,
            content,
            self.now_ms(),
        )?;
        Ok(AttachmentRef {
            sha256,
            bytes: content.len() as u64,
            media_type: media_type.to_owned(),
        })
    }

    fn check_files_present(&self, form: &Form) -> Result<(), DeviceError> {
        let conn = self.store.conn();
        for file in form.files() {
            // A file that cannot be read counts as missing: the form cannot go without it.
            let size = attachments::size(&conn, &file.sha256).ok().flatten();
            match size {
                None => {
                    return Err(DraftError::MissingAttachment {
                        sha256: file.sha256.clone(),
                    }
                    .into());
                }
                Some(n) if n as u64 != file.bytes => {
                    return Err(DraftError::Attachment {
                        reason: format!(
                            "{} is {n} bytes on this device, but the form says {}",
                            file.sha256, file.bytes
                        ),
                    }
                    .into());
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Checks a draft and queues it, signed, durably: returns after the commit. The request is
    /// sent with the next sync; its status comes back through [`Device::request`] and the
    /// change feed.
    pub fn submit_request(
        &self,
        template_id: &str,
        form: &Value,
    ) -> Result<QueuedRequest, DeviceError> {
        let request_id = Uuid::now_v7();
        self.queue_submission(request_id, 1, template_id, form)
    }

    /// Sends a returned request again with a changed form, as revision `revision` (the
    /// server's revision plus one).
    pub fn resubmit_request(
        &self,
        request_id: &str,
        revision: u32,
        template_id: &str,
        form: &Value,
    ) -> Result<QueuedRequest, DeviceError> {
        let id = Uuid::parse_str(request_id).map_err(|e| DraftError::Invalid {
            field: "requestId".into(),
            reason: format!("{request_id:?} is not a request id: {e}"),
        })?;
        if revision < 2 {
            return Err(DraftError::Invalid {
                field: "revision".into(),
                reason: format!("a resubmission is revision 2 or later, not {revision}"),
            }
            .into());
        }
        self.queue_submission(id, revision, template_id, form)
    }

    fn queue_submission(
        &self,
        request_id: Uuid,
        revision: u32,
        template_id: &str,
        form: &Value,
    ) -> Result<QueuedRequest, DeviceError> {
        let identity = self.identity().ok_or(DeviceError::NotEnrolled)?;
        let draft = self.check_draft(template_id, form)?;
        self.check_files_present(&draft.form)?;
        let item_id = if revision == 1 {
            request_id.to_string()
        } else {
            Uuid::now_v7().to_string()
        };
        self.queue_signed(
            Submission {
                request_id,
                revision,
                template_id: template_id.to_owned(),
                policy_version: draft.policy_version,
                applicant: identity.employee_id.clone(),
                device_id: identity.device_id.clone(),
                form: draft.form.to_json(),
                route: draft.route.clone(),
                created_at: self.trusted_time().now,
            },
            &request_id.to_string(),
            item_id,
            ItemKind::Request,
        )?;
        Ok(QueuedRequest {
            request_id: request_id.to_string(),
            revision,
            route: draft.route,
        })
    }

    /// Queues this device's employee's action on a request (approve, reject, return, add a
    /// signer, transfer, comment, withdraw), signed, durably. Returns the decision id. The
    /// server applies it, or refuses it with a code, when it arrives; see
    /// the outbox's needs-attention items for refused ones.
    pub fn decide(&self, request_id: &str, action: Action) -> Result<String, DeviceError> {
        let identity = self.identity().ok_or(DeviceError::NotEnrolled)?;
        let request = Uuid::parse_str(request_id).map_err(|e| DraftError::Invalid {
            field: "requestId".into(),
            reason: format!("{request_id:?} is not a request id: {e}"),
        })?;
        let id = Uuid::now_v7();
        self.queue_signed(
            Decision {
                id,
                request_id: request,
                actor: identity.employee_id.clone(),
                device_id: identity.device_id.clone(),
                action,
                made_at: self.trusted_time().now,
            },
            // The request's stream is named by its id as submissions write it (lower-case,
            // hyphenated), whichever spelling of the id the caller gave.
            &request.to_string(),
            id.to_string(),
            ItemKind::Decision,
        )?;
        Ok(id.to_string())
    }

    /// Signs `body` with the device key and queues it, durably, in the request's stream.
    fn queue_signed<T: SignedFormat<Error = SignedError>>(
        &self,
        body: T,
        request_id: &str,
        item_id: String,
        kind: ItemKind,
    ) -> Result<(), DeviceError> {
        let payload = Signed::sign(body, &self.signer)
            .and_then(|signed| signed.to_json())
            .map_err(|e| DeviceError::Serialisation {
                what: "signed approval item",
                reason: e.to_string(),
            })?;
        self.outbox.enqueue(
            &NewItem {
                id: item_id,
                stream: request_stream(request_id),
                kind: kind.as_str().into(),
                payload,
            },
            self.now_ms(),
        )?;
        Ok(())
    }

    /// Uploads every kept file the server does not have yet (retry-safe), before the items
    /// that refer to them are pushed.
    pub(super) async fn upload_attachments(
        &self,
        client: &SyncClient,
        identity: &Identity,
    ) -> Result<u64, DeviceError> {
        let pending = attachments::pending_uploads(&self.store.conn())?;
        let mut uploaded = 0;
        for attachments::PendingUpload { sha256, media_type } in pending {
            let content = attachments::content(&self.store.conn(), &sha256)?;
            self.authorized(client, identity, |t| {
                let client = client.clone();
                let (sha256, media_type, content) =
                    (sha256.clone(), media_type.clone(), content.clone());
                async move {
                    client
                        .upload_attachment(&t, &sha256, &media_type, content)
                        .await
                }
            })
            .await?;
            attachments::mark_uploaded(&self.store.conn(), &sha256, self.now_ms())?;
            uploaded += 1;
        }
        Ok(uploaded)
    }

    async fn online<T, F, Fut>(&self, call: F) -> Result<T, DeviceError>
    where
        F: Fn(SyncClient, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, SyncError>>,
    {
        let identity = self.identity().ok_or(DeviceError::NotEnrolled)?;
        let client = self.client(&identity)?;
        Ok(self
            .authorized(&client, &identity, |t| call(client.clone(), t))
            .await?)
    }

    /// The requests waiting for this device's employee to act (online).
    pub async fn inbox(&self) -> Result<Vec<RequestView>, DeviceError> {
        self.online(|c, t| async move { c.inbox(&t).await.map(|l| l.requests) })
            .await
    }

    /// The requests this device's employee made, newest first (online).
    pub async fn my_requests(&self) -> Result<Vec<RequestView>, DeviceError> {
        self.online(|c, t| async move { c.my_requests(&t).await.map(|l| l.requests) })
            .await
    }

    /// One request with its steps and audit trail (online).
    pub async fn request(&self, request_id: &str) -> Result<RequestView, DeviceError> {
        let id = request_id.to_owned();
        self.online(move |c, t| {
            let id = id.clone();
            async move { c.request(&t, &id).await }
        })
        .await
    }

    /// This device's employee's leave balances for `year` (default: this year), online.
    pub async fn leave_balances(
        &self,
        year: Option<i32>,
    ) -> Result<Vec<LeaveBalanceView>, DeviceError> {
        self.online(move |c, t| async move { c.leave_balances(&t, year).await.map(|b| b.balances) })
            .await
    }
}
