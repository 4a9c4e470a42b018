//! Approvals: request templates, forms, the route engine, the request state machine and leave
//! balances. The same code runs on the device (to validate a draft field by field and preview
//! its route offline) and on the server (to compute the authoritative route and apply each
//! approver's action), so the two always agree.
//!
//! ```text
//! policy.approvals ──► Template ──► Form::read ──► compute_route ──► RequestState::submitted
//!  (roles, leave types,  (fields,     (typed values,   (steps and          │ apply(actor, action)
//!   templates)            route)       every error)     approvers)         ▼
//!                                                                   Approved / Rejected / …
//! ```
//!
//! The formats are documented in `docs/approvals.md`.

pub mod form;
pub mod leave;
pub mod request;
pub mod route;
pub mod signed;
pub mod template;

pub use form::{AttachmentRef, FieldError, FieldProblem, FieldValue, Form, FormErrors};
pub use request::{Action, ActionError, Effect, RequestState, RequestStatus, SignerPosition};
pub use route::{RouteError, RouteStep, compute_route};
pub use signed::{Decision, Signed, SignedError, Submission};
pub use template::{ApprovalPolicy, RequestType, StepMode, Template};
