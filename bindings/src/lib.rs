//! daka-ffi: the UniFFI surface of daka for Kotlin (Android) and Swift (iOS).
//!
//! A thin crate by design: `daka-core` holds every rule and the protocol, `daka-device` the
//! store, the outbox, the sync client and the checks of the device's options; this crate only
//! wraps `daka_device::Device` in one exported object and converts values at the boundary.
//!
//! * `device.rs`: [`DakaDevice`], the object apps hold.
//! * `attendance.rs`: "my day" and "my month", offline.
//! * `approvals.rs`: request templates, routes, submissions, decisions and the inbox on it.
//! * `form.rs`: [`FormValue`], the typed form values, and their one conversion into the
//!   core's form input.
//! * `types.rs`: the records and enums that cross, and their conversions.
//! * `link.rs`: [`parse_enrolment_link`], the enrolment links of the console's QR codes.
//! * `error.rs`: [`DakaError`], the one public error, and the single mapping from the core's.
//! * `platform.rs`: the foreign traits the app implements ([`KeyStore`], [`StatusListener`]).
//! * `logging.rs`: [`set_log_sink`], which routes daka's logs to the app's [`LogSink`].
//! * `runtime.rs`: the shared tokio runtime that async calls and the background loop run on.
//!
//! Panics never cross the boundary as unwinding: the exported functions run inside UniFFI's
//! `catch_unwind` (the profiles keep `panic = "unwind"`), and tasks on the runtime report a
//! panic as `DakaError::Internal`.
#![doc = ""]
#![doc = include_str!("../README.md")]

mod approvals;
mod attendance;
mod device;
mod error;
mod form;
mod link;
mod logging;
mod platform;
mod runtime;
mod types;

pub use approvals::{
    ApprovalAction, AuditEntryInfo, DraftPreview, FieldInfo, LeaveBalance, QueuedRequestInfo,
    RequestInfo, RequestStepInfo, RouteStepInfo, TemplateInfo,
};
pub use attendance::{
    AttendanceDay, AttendanceFinding, AttendanceWarning, ExpectedPunch, LeaveOnDay, LeaveTotal,
    MonthInfo, OvertimeTotal, ShiftSegment, TodayInfo,
};
pub use device::DakaDevice;
pub use error::{DakaError, FormProblem, describe_error};
pub use form::{Attachment, FormValue};
pub use link::{EnrolmentLink, parse_enrolment_link};
pub use logging::{LogField, LogLevel, LogRecord, LogSink, clear_log_sink, set_log_sink};
pub use platform::{KeyStore, StatusListener};
pub use types::{
    Attestation, AttestationRule, Decision, DeviceOptions, DeviceStatus, EnrollmentChallenge, Fix,
    Identity, LocationSource, Presence, PunchInput, PunchKind, PunchReceipt, QueueStatus,
    QueuedItem, Reason, RequestUpdate, ServerVerdict, Severity, SyncReport, Verdict,
};

uniffi::setup_scaffolding!("daka");
