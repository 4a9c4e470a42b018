//! The route engine: which steps a request takes and who approves each, computed from the
//! template, the form and the policy's people. The device previews a route with it offline
//! and the server computes the authoritative one with the same code, so the two agree.
//!
//! Rules, in order, for each step of the template:
//!
//! 1. A step whose condition is false for the form is left out.
//! 2. Its approvers are resolved: the applicant's manager `level` levels up, every holder of a
//!    role, or the named employees (in policy order, without repeats).
//! 3. **No self-approval:** the applicant is removed from the list. A step left with nobody is
//!    escalated to the applicant's direct manager; a step that still has nobody (a manager
//!    level above the top of the chain, or an applicant without a manager) is a
//!    [`RouteError`], so the request cannot be submitted rather than approving itself.

use std::cmp::Ordering;

use super::form::{FieldValue, Form};
use super::template::{ApproverSpec, CompareOp, Condition, Operand, StepMode, Template};
use crate::policy::Policy;

/// One step of a computed route.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouteStep {
    /// The step's name from the template, e.g. "Finance".
    pub name: String,
    /// Whether the first approval decides the step or every approver must approve, as the
    /// template's step says.
    pub mode: StepMode,
    /// Employee ids, never empty, never the applicant.
    pub approvers: Vec<String>,
    /// Whether the step was escalated to the applicant's manager because its own approvers
    /// were only the applicant.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalated: bool,
}

/// Why a route cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The applicant is not an employee of the policy.
    #[error("{applicant:?} is not an employee of this organisation")]
    UnknownApplicant {
        /// The applicant id as given.
        applicant: String,
    },
    /// A step resolved to nobody who may approve.
    #[error("step {step} ({name}) has no approver: {reason}")]
    NoApprover {
        /// Index of the step in the template's route, 0 for the first, steps left out by
        /// their condition included.
        step: usize,
        /// The step's name from the template.
        name: String,
        /// Why nobody is left, in words for people, e.g. `E1001 has no manager at level 2`.
        reason: String,
    },
}

impl Condition {
    /// Whether the condition holds for `form`.
    pub fn holds(&self, form: &Form) -> bool {
        match self {
            Condition::All(cs) => cs.iter().all(|c| c.holds(form)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(form)),
            Condition::Compare { field, op, value } => {
                let Some(v) = form.get(field) else {
                    return false;
                };
                compare(v, *op, value).unwrap_or(false)
            }
        }
    }
}

/// `v op operand`, or `None` when the types do not meet (the loader prevents that).
fn compare(v: &FieldValue, op: CompareOp, operand: &Operand) -> Option<bool> {
    let ordering = match (v, operand) {
        (FieldValue::Number(x), Operand::Number(y)) => x.partial_cmp(y)?,
        (FieldValue::Money { minor, .. }, Operand::Money(y)) => minor.cmp(y),
        (FieldValue::Date(d), Operand::Date(y)) => d.cmp(y),
        (FieldValue::DateRange { .. }, Operand::Halves(y)) => v.halves()?.cmp(y),
        (FieldValue::Text(s) | FieldValue::Choice(s), Operand::Text(y)) => {
            if s == y {
                Ordering::Equal
            } else {
                Ordering::Less
            }
        }
        (FieldValue::Text(s) | FieldValue::Choice(s), Operand::TextSet(set)) => {
            return Some(set.iter().any(|y| y == s));
        }
        _ => return None,
    };
    Some(op.holds(ordering))
}

/// The route of a request by `applicant` with `form` on `template`.
pub fn compute_route(
    policy: &Policy,
    template: &Template,
    applicant: &str,
    form: &Form,
) -> Result<Vec<RouteStep>, RouteError> {
    if policy.employee(applicant).is_none() {
        return Err(RouteError::UnknownApplicant {
            applicant: applicant.to_owned(),
        });
    }
    let mut route = Vec::new();
    for (i, spec) in template.route.iter().enumerate() {
        if let Some(when) = &spec.when
            && !when.holds(form)
        {
            continue;
        }
        let no_approver = |reason: String| RouteError::NoApprover {
            step: i,
            name: spec.name.clone(),
            reason,
        };
        let mut approvers: Vec<String> = match &spec.approvers {
            ApproverSpec::Manager { level } => {
                let mut current = applicant.to_owned();
                for n in 1..=*level {
                    match policy.manager_of(&current) {
                        Some(m) => current = m.id.clone(),
                        None => {
                            return Err(no_approver(format!(
                                "{applicant} has no manager at level {n}"
                            )));
                        }
                    }
                }
                vec![current]
            }
            ApproverSpec::Role(role) => policy
                .approvals
                .role(role)
                .map(|r| r.members.clone())
                .unwrap_or_default(),
            ApproverSpec::Employees(ids) => ids.clone(),
        };
        let mut seen = std::collections::HashSet::new();
        approvers.retain(|a| a != applicant && seen.insert(a.clone()));
        let mut escalated = false;
        if approvers.is_empty() {
            match policy.manager_of(applicant) {
                Some(m) => {
                    approvers.push(m.id.clone());
                    escalated = true;
                }
                None => {
                    return Err(no_approver(format!(
                        "its only approver is the applicant {applicant}, who has no manager to escalate to"
                    )));
                }
            }
        }
        route.push(RouteStep {
            name: spec.name.clone(),
            mode: spec.mode,
            approvers,
            escalated,
        });
    }
    Ok(route)
}
