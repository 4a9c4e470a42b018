//! A request's life as a state machine: who may act on it, when, and what each action does.
//! The server runs it as the authority (one action at a time per request, so of two approvers
//! of an any-one step exactly one wins); the device runs it to show what its queued actions
//! will do.
//!
//! ```text
//!            approve (last step)                 reject
//! Pending ───────────────────────► Approved     Pending ──► Rejected
//!   │  ▲ return            withdraw                │
//!   ▼  │ resubmit (new route)  ┌──────────► Withdrawn ◄── Returned
//! Returned ────────────────────┘
//! ```
//!
//! The rules that open-source HR systems often get wrong, enforced here:
//!
//! * nobody approves their own request, whatever the route, transfers or added signers say;
//! * only an approver of the *current* step acts, and only once;
//! * a finished request (approved, rejected, withdrawn) takes no further action;
//! * an any-one step is decided by its first approval; an all step by its last;
//! * rejecting or returning needs a reason the applicant can read.

use serde::{Deserialize, Serialize};

use super::route::RouteStep;
use super::template::StepMode;
use crate::protocol::ItemCode;

/// Longest comment or reason, in Unicode characters.
pub const MAX_COMMENT_CHARS: usize = 2_000;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for the current step's approvers.
    Pending,
    /// Every step approved. Final.
    Approved,
    /// An approver refused it. Final.
    Rejected,
    /// An approver sent it back for changes; the applicant resubmits or withdraws.
    Returned,
    /// The applicant took it back. Final.
    Withdrawn,
}

impl RequestStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Returned => "returned",
            RequestStatus::Withdrawn => "withdrawn",
        }
    }

    /// Whether no action can change it any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestStatus::Approved | RequestStatus::Rejected | RequestStatus::Withdrawn
        )
    }
}

/// One step of a request in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    /// Step name shown to people: the template step's name, or `Added by <employee id>` for
    /// a step an approver added.
    pub name: String,
    /// Whether the first approval decides the step or every approver must approve; a step an
    /// approver added is [`StepMode::Any`].
    pub mode: StepMode,
    /// Who may approve this step now.
    pub approvers: Vec<String>,
    /// Who has approved it, in order.
    pub approved_by: Vec<String>,
    /// Set for a step an approver added, to the one who added it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

impl StepState {
    fn is_done(&self) -> bool {
        match self.mode {
            StepMode::Any => !self.approved_by.is_empty(),
            StepMode::All => self.approvers.iter().all(|a| self.approved_by.contains(a)),
        }
    }
}

/// The state of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestState {
    /// Employee id of the applicant, who never approves their own request.
    pub applicant: String,
    /// Where the request stands.
    pub status: RequestStatus,
    /// The steps in order: the computed route's, plus any an approver added.
    pub steps: Vec<StepState>,
    /// Index of the step waiting for approval while `Pending`; `steps.len()` once approved.
    pub current: usize,
    /// 1 for the first submission, one more for each resubmission.
    pub revision: u32,
}

/// Where an added signer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerPosition {
    /// The new signer approves first; then the current step again.
    Before,
    /// The actor approves now and the new signer approves next.
    After,
}

/// Something a person does to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Approve the current step, as one of its approvers.
    Approve {
        /// An optional note, at most [`MAX_COMMENT_CHARS`] characters, no control characters but newlines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Refuse the request for good, as an approver of the current step.
    Reject {
        /// The reason the applicant reads: required and not blank, at most [`MAX_COMMENT_CHARS`] characters, no control characters but newlines.
        comment: String,
    },
    /// Send back to the applicant for changes.
    Return {
        /// What the applicant should change: required and not blank, at most [`MAX_COMMENT_CHARS`] characters, no control characters but newlines.
        comment: String,
    },
    /// Add an approver, as a step of their own, before or after the current step; done by an
    /// approver of the current step.
    AddSigner {
        /// Employee id of the new signer: an employee of the organisation, not the applicant.
        employee: String,
        /// Whether the new signer approves before the current step, or after it (the actor
        /// then approves the current step at once).
        position: SignerPosition,
        /// An optional note, at most [`MAX_COMMENT_CHARS`] characters, no control characters but newlines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Hand one's place in the current step to someone else.
    Transfer {
        /// Employee id of who takes the actor's place: an employee of the organisation, not
        /// the applicant, not already an approver of the step.
        to: String,
        /// An optional note, at most [`MAX_COMMENT_CHARS`] characters, no control characters but newlines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Add a note and change nothing else; the applicant or anyone who is or was an approver
    /// may, until the request is finished.
    Comment {
        /// The note: required and not blank, at most [`MAX_COMMENT_CHARS`] characters, no control characters but newlines.
        comment: String,
    },
    /// The applicant takes the request back.
    Withdraw {
        /// An optional reason, at most [`MAX_COMMENT_CHARS`] characters, no control characters but newlines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
}

impl Action {
    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Approve { .. } => "approve",
            Action::Reject { .. } => "reject",
            Action::Return { .. } => "return",
            Action::AddSigner { .. } => "add_signer",
            Action::Transfer { .. } => "transfer",
            Action::Comment { .. } => "comment",
            Action::Withdraw { .. } => "withdraw",
        }
    }

    fn comment(&self) -> Option<&str> {
        match self {
            Action::Approve { comment }
            | Action::AddSigner { comment, .. }
            | Action::Transfer { comment, .. }
            | Action::Withdraw { comment } => comment.as_deref(),
            Action::Reject { comment }
            | Action::Return { comment }
            | Action::Comment { comment } => Some(comment),
        }
    }
}

/// Why an action is refused. Each has a stable code ([`ActionError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The request is approved, rejected or withdrawn; no action changes it any more. Show
    /// the request's final state instead.
    #[error("the request is already {}; nothing can be done to it any more", status.as_str())]
    Finished {
        /// The final status the request has.
        status: RequestStatus,
    },
    /// The request's status does not allow the action: approvers' actions need
    /// [`RequestStatus::Pending`], a resubmission needs [`RequestStatus::Returned`].
    #[error("the request is {}, not waiting for approval", status.as_str())]
    NotPending {
        /// The status the request has.
        status: RequestStatus,
    },
    /// The applicant tried to act as an approver of their own request (approve, reject,
    /// return, add a signer or transfer).
    #[error("{actor} cannot approve their own request")]
    SelfApproval {
        /// Employee id of the applicant who tried.
        actor: String,
    },
    /// The actor is not an approver of the current step, for instance because the step was
    /// already decided by someone else or moved on.
    #[error("{actor} is not an approver of the current step ({step}); its approvers are {}", approvers.join(", "))]
    NotCurrentApprover {
        /// Employee id of who tried.
        actor: String,
        /// Name of the current step.
        step: String,
        /// Employee ids of who may act on the current step.
        approvers: Vec<String>,
    },
    /// The actor already approved the current step, an all step still waiting for others.
    #[error("{actor} has already approved this step")]
    AlreadyActed {
        /// Employee id of who tried again.
        actor: String,
    },
    /// Only the applicant may withdraw or resubmit a request.
    #[error("only the applicant {applicant} can {action} this request")]
    NotApplicant {
        /// Employee id of the request's applicant.
        applicant: String,
        /// What was tried: `withdraw` or `resubmit`.
        action: &'static str,
    },
    /// Someone who is neither the applicant nor an approver of any step tried to comment.
    #[error("{actor} takes no part in this request")]
    NotParticipant {
        /// Employee id of who tried.
        actor: String,
    },
    /// The employee a signer is added or a step transferred to cannot take it: the applicant,
    /// not an employee of the organisation, or (for a transfer) already an approver of it.
    #[error("cannot add or transfer to {employee}: {reason}")]
    InvalidSigner {
        /// The employee id given.
        employee: String,
        /// Why it is refused, in words for people.
        reason: String,
    },
    /// A comment or reason is missing where one is needed (reject, return, comment), is
    /// longer than [`MAX_COMMENT_CHARS`] characters or holds control characters.
    #[error("comment: {reason}")]
    InvalidComment {
        /// What is wrong, in words for people.
        reason: String,
    },
    /// A submission or resubmission came with a route of no steps; a request needs at least
    /// one approver.
    #[error("the route has no steps; a request needs at least one approver")]
    EmptyRoute,
}

impl ActionError {
    /// The answer code the server gives a pushed item the state machine refuses.
    pub fn item_code(&self) -> ItemCode {
        match self {
            ActionError::Finished { .. } => ItemCode::RequestFinished,
            ActionError::NotPending { .. } => ItemCode::RequestNotPending,
            ActionError::SelfApproval { .. } => ItemCode::SelfApproval,
            ActionError::NotCurrentApprover { .. } => ItemCode::NotCurrentApprover,
            ActionError::AlreadyActed { .. } => ItemCode::AlreadyActed,
            ActionError::NotApplicant { .. } => ItemCode::NotApplicant,
            ActionError::NotParticipant { .. } => ItemCode::NotParticipant,
            ActionError::InvalidSigner { .. } => ItemCode::InvalidSigner,
            ActionError::InvalidComment { .. } => ItemCode::InvalidComment,
            ActionError::EmptyRoute => ItemCode::EmptyRoute,
        }
    }

    /// The stable code: the wire word of [`ActionError::item_code`].
    pub fn code(&self) -> &'static str {
        self.item_code().as_str()
    }
}

/// What an accepted action did, for the audit trail and the people to notify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// The actor's approval was recorded; the step waits for others (an all step).
    Approved {
        /// Index of the step in [`RequestState::steps`].
        step: usize,
    },
    /// The step is done and the next one is waiting.
    StepDone {
        /// Index of the step just done, in [`RequestState::steps`].
        step: usize,
        /// Index of the step now waiting.
        next: usize,
    },
    /// The last step is done: the request is approved.
    RequestApproved,
    /// An approver rejected the request; it is final.
    RequestRejected,
    /// An approver returned the request; the applicant resubmits or withdraws it.
    RequestReturned,
    /// The applicant withdrew the request; it is final.
    RequestWithdrawn,
    /// An approver added a signer as a new step (after the current one, the actor's own
    /// approval is recorded too).
    SignerAdded {
        /// Index of the added step in [`RequestState::steps`].
        step: usize,
        /// Employee id of the new signer.
        employee: String,
    },
    /// An approver handed their place in the current step to someone else.
    Transferred {
        /// Index of the step in [`RequestState::steps`].
        step: usize,
        /// Employee id of the approver who gave up the place (the actor).
        from: String,
        /// Employee id of who took it.
        to: String,
    },
    /// A comment was recorded; nothing else changed.
    Commented,
    /// The applicant resubmitted a returned request; approval starts over at the first step
    /// of the new route.
    Resubmitted {
        /// The request's new revision, 2 after the first resubmission.
        revision: u32,
    },
}

fn check_comment(text: Option<&str>, required: bool) -> Result<(), ActionError> {
    match text {
        None if required => Err(ActionError::InvalidComment {
            reason: "a reason is required".into(),
        }),
        None => Ok(()),
        Some(t) if required && t.trim().is_empty() => Err(ActionError::InvalidComment {
            reason: "a reason is required".into(),
        }),
        Some(t) if t.chars().nth(MAX_COMMENT_CHARS).is_some() => Err(ActionError::InvalidComment {
            reason: format!(
                "{} characters, at most {MAX_COMMENT_CHARS} allowed",
                t.chars().count()
            ),
        }),
        Some(t) if t.chars().any(|c| c.is_control() && c != '\n') => {
            Err(ActionError::InvalidComment {
                reason: "must not contain control characters".into(),
            })
        }
        Some(_) => Ok(()),
    }
}

impl RequestState {
    /// A new request waiting for the first step of `route`, which must have at least one
    /// step: a request is never approved by nobody.
    pub fn submitted(applicant: &str, route: &[RouteStep]) -> Result<RequestState, ActionError> {
        if route.is_empty() {
            return Err(ActionError::EmptyRoute);
        }
        Ok(RequestState {
            applicant: applicant.to_owned(),
            status: RequestStatus::Pending,
            steps: steps_of(route),
            current: 0,
            revision: 1,
        })
    }

    /// The step waiting for approval, while pending.
    pub fn current_step(&self) -> Option<&StepState> {
        match self.status {
            RequestStatus::Pending => self.steps.get(self.current),
            _ => None,
        }
    }

    /// Who may approve now (empty unless pending).
    pub fn waiting_for(&self) -> &[String] {
        self.current_step()
            .map(|s| s.approvers.as_slice())
            .unwrap_or(&[])
    }

    fn is_participant(&self, actor: &str) -> bool {
        actor == self.applicant
            || self.steps.iter().any(|s| {
                s.approvers.iter().any(|a| a == actor) || s.approved_by.iter().any(|a| a == actor)
            })
    }

    /// Applies `action` by `actor`. `is_employee` says whether an id names an employee of the
    /// organisation (for added signers and transfers). On `Err` nothing changed.
    pub fn apply(
        &mut self,
        actor: &str,
        action: &Action,
        is_employee: &dyn Fn(&str) -> bool,
    ) -> Result<Effect, ActionError> {
        let required = matches!(
            action,
            Action::Reject { .. } | Action::Return { .. } | Action::Comment { .. }
        );
        if self.status.is_final() {
            return Err(ActionError::Finished {
                status: self.status,
            });
        }
        match action {
            Action::Comment { .. } => {
                if !self.is_participant(actor) {
                    return Err(ActionError::NotParticipant {
                        actor: actor.to_owned(),
                    });
                }
                check_comment(action.comment(), required)?;
                return Ok(Effect::Commented);
            }
            Action::Withdraw { .. } => {
                if actor != self.applicant {
                    return Err(ActionError::NotApplicant {
                        applicant: self.applicant.clone(),
                        action: "withdraw",
                    });
                }
                check_comment(action.comment(), required)?;
                self.status = RequestStatus::Withdrawn;
                return Ok(Effect::RequestWithdrawn);
            }
            _ => {}
        }
        if self.status != RequestStatus::Pending {
            return Err(ActionError::NotPending {
                status: self.status,
            });
        }
        if actor == self.applicant {
            return Err(ActionError::SelfApproval {
                actor: actor.to_owned(),
            });
        }
        let step_index = self.current;
        let Some(step) = self.steps.get(step_index) else {
            return Err(ActionError::NotPending {
                status: self.status,
            });
        };
        if !step.approvers.iter().any(|a| a == actor) {
            return Err(ActionError::NotCurrentApprover {
                actor: actor.to_owned(),
                step: step.name.clone(),
                approvers: step.approvers.clone(),
            });
        }
        if step.approved_by.iter().any(|a| a == actor) {
            return Err(ActionError::AlreadyActed {
                actor: actor.to_owned(),
            });
        }
        check_comment(action.comment(), required)?;
        match action {
            Action::Approve { .. } => Ok(self.approve(actor)),
            Action::Reject { .. } => {
                self.status = RequestStatus::Rejected;
                Ok(Effect::RequestRejected)
            }
            Action::Return { .. } => {
                self.status = RequestStatus::Returned;
                Ok(Effect::RequestReturned)
            }
            Action::AddSigner {
                employee, position, ..
            } => {
                self.check_new_signer(employee, is_employee)?;
                let added = StepState {
                    name: format!("Added by {actor}"),
                    mode: StepMode::Any,
                    approvers: vec![employee.clone()],
                    approved_by: Vec::new(),
                    added_by: Some(actor.to_owned()),
                };
                match position {
                    SignerPosition::Before => {
                        self.steps.insert(step_index, added);
                        Ok(Effect::SignerAdded {
                            step: step_index,
                            employee: employee.clone(),
                        })
                    }
                    SignerPosition::After => {
                        self.steps.insert(step_index + 1, added);
                        self.approve(actor);
                        Ok(Effect::SignerAdded {
                            step: step_index + 1,
                            employee: employee.clone(),
                        })
                    }
                }
            }
            Action::Transfer { to, .. } => {
                self.check_new_signer(to, is_employee)?;
                let step = &mut self.steps[step_index];
                if step.approvers.iter().any(|a| a == to) {
                    return Err(ActionError::InvalidSigner {
                        employee: to.clone(),
                        reason: "already an approver of this step".into(),
                    });
                }
                for a in step.approvers.iter_mut() {
                    if a == actor {
                        *a = to.clone();
                    }
                }
                Ok(Effect::Transferred {
                    step: step_index,
                    from: actor.to_owned(),
                    to: to.clone(),
                })
            }
            // Handled before the approver checks.
            Action::Comment { .. } | Action::Withdraw { .. } => Err(ActionError::NotPending {
                status: self.status,
            }),
        }
    }

    fn check_new_signer(
        &self,
        employee: &str,
        is_employee: &dyn Fn(&str) -> bool,
    ) -> Result<(), ActionError> {
        let invalid = |reason: &str| ActionError::InvalidSigner {
            employee: employee.to_owned(),
            reason: reason.to_owned(),
        };
        if employee == self.applicant {
            return Err(invalid("the applicant cannot approve their own request"));
        }
        if !is_employee(employee) {
            return Err(invalid("not an employee of this organisation"));
        }
        Ok(())
    }

    fn approve(&mut self, actor: &str) -> Effect {
        let step_index = self.current;
        let step = &mut self.steps[step_index];
        step.approved_by.push(actor.to_owned());
        if !step.is_done() {
            return Effect::Approved { step: step_index };
        }
        self.current += 1;
        if self.current >= self.steps.len() {
            self.status = RequestStatus::Approved;
            Effect::RequestApproved
        } else {
            Effect::StepDone {
                step: step_index,
                next: self.current,
            }
        }
    }

    /// The applicant sends a returned request again with a new route (computed for the
    /// changed form): approval starts over from the first step.
    pub fn resubmit(&mut self, actor: &str, route: &[RouteStep]) -> Result<Effect, ActionError> {
        if self.status.is_final() {
            return Err(ActionError::Finished {
                status: self.status,
            });
        }
        if actor != self.applicant {
            return Err(ActionError::NotApplicant {
                applicant: self.applicant.clone(),
                action: "resubmit",
            });
        }
        if self.status != RequestStatus::Returned {
            return Err(ActionError::NotPending {
                status: self.status,
            });
        }
        if route.is_empty() {
            return Err(ActionError::EmptyRoute);
        }
        self.steps = steps_of(route);
        self.current = 0;
        self.status = RequestStatus::Pending;
        self.revision += 1;
        Ok(Effect::Resubmitted {
            revision: self.revision,
        })
    }
}

fn steps_of(route: &[RouteStep]) -> Vec<StepState> {
    route
        .iter()
        .map(|s| StepState {
            name: s.name.clone(),
            mode: s.mode,
            approvers: s.approvers.clone(),
            approved_by: Vec::new(),
            added_by: None,
        })
        .collect()
}
