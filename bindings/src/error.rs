//! `DakaError`: the one error type apps see (Kotlin `DakaException`, Swift `DakaError`).
//!
//! Each variant says what the app should do, and retryable failures are separate from
//! permanent ones:
//!
//! | retry later            | fix the input or the setup              | stop and tell the user     |
//! |------------------------|------------------------------------------|----------------------------|
//! | `Offline`, `ServerBusy`| `InvalidInput`, `NotEnrolled`, `NoPolicy`| `Refused`, `Unauthorized`, |
//! | `Unavailable`          | `AlreadyEnrolled`, `QueueFull`,          | `DeviceRevoked`,           |
//! |                        | `InvalidForm`, `NoApprover`, `Tls`       | `BadPolicy`, `Storage`,    |
//! |                        |                                          | `KeyStore`, `Internal`     |
//!
//! `Tls` is never `Offline`: a certificate the phone refused is refused again on every try
//! until the server's certificate or the app's TLS options change.
//!
//! A failure of the phone's random number generator is `Unavailable` (nothing was stored;
//! trying again may succeed), not a key problem; a value daka built that cannot be written as
//! JSON is a bug, so `Internal`.
//!
//! The English text of each variant is its `Display` (one place, here); apps get it through
//! [`describe_error`], not through the exception's `toString()` (see there why).
//!
//! [`From<DeviceError>`] is the single place where the core's errors are mapped (and the
//! only place that decides what is retryable). No field is called `message`: Kotlin's
//! `Throwable.message` would clash with it.

use daka_core::approvals::FieldError;
use daka_core::approvals::form::FieldProblem;
use daka_core::attendance::AttendanceError;
use daka_device::engine::approvals::DraftError;
use daka_device::outbox::OutboxError;
use daka_device::store::StoreError;
use daka_device::sync::client::SyncError;
use daka_device::{DeviceError, DeviceOption, KeyStoreError};

/// Everything that can go wrong in a daka call, each variant saying what to do about it.
/// `describeError(error)` is the English explanation with the numbers (Swift: also
/// `description` and `localizedDescription`). Kotlin's `toString()` is plain Kotlin (the
/// variant and its fields), so a unit test without the native library can print it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum DakaError {
    /// The device has no identity yet: call `enroll` with a code from an administrator.
    #[error("this device is not enrolled yet; enrol it with a code from your administrator")]
    NotEnrolled,
    /// `enroll` was called on a device that already has an identity.
    #[error("this device is already enrolled (device {device_id})")]
    AlreadyEnrolled {
        /// The identity the device already has.
        device_id: String,
    },
    /// The device is enrolled but has never fetched its policy: sync once while online.
    #[error("no policy on this device yet; sync once while online")]
    NoPolicy,
    /// The policy has no attendance schedule for this device's employee, so there is no
    /// "my day" or "my month": an administrator assigns one in the policy's `attendance`.
    #[error("the policy has no attendance schedule for employee {employee}")]
    NoSchedule {
        /// The employee id.
        employee: String,
    },
    /// A value passed by the app is malformed; `field` names it (e.g. `fix.lat`).
    #[error("invalid input: {field}: {reason} (got {value})")]
    InvalidInput {
        /// Path of the bad field, e.g. `fix.lat`, `wifi_bssids[3]`, `serverUrl`.
        field: String,
        /// The offending value, shortened.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request form has problems; `problems` lists every one, each naming its field, so
    /// the form can mark them all at once.
    #[error("the form has {} problem(s): {}", problems.len(), problems.iter().map(|p| format!("{}: {}", p.field, p.reason)).collect::<Vec<_>>().join("; "))]
    InvalidForm {
        /// Every problem, in the template's field order.
        problems: Vec<FormProblem>,
    },
    /// A request's route has a step nobody can approve (for example, the applicant is the
    /// top of the company and the step needs their manager). Ask an administrator to fix the
    /// policy's route or roles.
    #[error("the request cannot be routed: {reason}")]
    NoApprover {
        /// Which step and why.
        reason: String,
    },
    /// The offline queue holds `limit` undelivered items; nothing more is accepted until some
    /// are sent. Tell the user to connect to the network.
    #[error(
        "the offline queue is full ({queued} items waiting, limit {limit}); connect to the network"
    )]
    QueueFull {
        /// Items waiting to be sent.
        queued: u64,
        /// The most the queue holds.
        limit: u64,
    },
    /// A service of the phone itself failed for a moment (its random number generator);
    /// nothing was stored. Retryable: try the same call again.
    #[error("the phone could not complete this just now: {reason}")]
    Unavailable {
        /// What failed, for logs.
        reason: String,
    },
    /// The server could not be reached (no network, timeout, a captive portal). Retryable:
    /// nothing is lost, queued items stay queued.
    #[error("the server cannot be reached: {reason}")]
    Offline {
        /// What failed, for logs.
        reason: String,
    },
    /// The phone refused the server's certificate: `code` is `unknown_issuer` (a company CA
    /// not added, or something intercepting), `expired`, `not_yet_valid`, `name_mismatch`,
    /// `revoked`, `pin_mismatch`, `bad_certificate` or `handshake`. Not retried on its own:
    /// fix the server's certificate or the `DeviceOptions` (extra roots, pins); queued items
    /// stay queued.
    #[error("the server's certificate was refused ({code}): {reason}")]
    Tls {
        /// The stable reason code (see above).
        code: String,
        /// The reason in words, with the server URL and the TLS library's detail.
        reason: String,
    },
    /// The server is overloaded or failing. Retryable, after `retry_after_seconds` if given.
    #[error("the server is busy{}", retry_after_seconds.map(|s| format!("; retry after {s} s")).unwrap_or_default())]
    ServerBusy {
        /// The server's requested wait, if it sent one.
        retry_after_seconds: Option<u64>,
    },
    /// The server no longer accepts this device's credentials (revoked, or the organisation
    /// removed the device): enrol again with a new code.
    #[error("the server refused this device's credentials: {reason}")]
    Unauthorized {
        /// The server's explanation.
        reason: String,
    },
    /// An administrator revoked this device (the server answers `device_revoked`): nothing
    /// it sends is accepted any more. Not retryable: the queued items stay on the phone
    /// (`queueStatus()` still counts them) but nothing more is sent, and background sync
    /// stops. Tell the user to ask HR for a new enrolment code and enrol again (with a new
    /// store file).
    #[error("this device was revoked by an administrator: {reason}")]
    DeviceRevoked {
        /// The server's explanation.
        reason: String,
    },
    /// The server permanently refused the request (for example `enrollment_code_used`).
    /// Retrying the same request will not help.
    #[error("the server refused the request ({code}): {reason}")]
    Refused {
        /// The server's stable error code.
        code: String,
        /// The server's explanation.
        reason: String,
    },
    /// The policy from the server does not verify or cannot be read; the previous policy
    /// stays in force.
    #[error("the policy cannot be used: {reason}")]
    BadPolicy {
        /// What is wrong with it.
        reason: String,
    },
    /// The device's database cannot be opened, read or written (disk full, corrupt file, a
    /// newer app version's store).
    #[error("device storage failed: {reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
    /// The app's `KeyStore` could not seal or open the device key, or the key is unusable.
    #[error("the device key cannot be used: {reason}")]
    KeyStore {
        /// What failed.
        reason: String,
    },
    /// A bug: a panic inside daka, or an exception of an unexpected type thrown by an app
    /// callback. Please report it with the reason.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

/// The English explanation of `error`, with its numbers: what daka's own logs say about it
/// (Kotlin `describeError(e)`; Swift `describeError(error:)`, which `DakaError.description`
/// and `localizedDescription` return).
///
/// Not the exception's `toString()`: that is left to plain Kotlin on purpose, because a
/// `toString()` that called into the library would fail in a unit test that runs without it
/// (`FakeDakaDevice` of `daka-testing` throws real `DakaException`s there).
#[uniffi::export]
pub fn describe_error(error: DakaError) -> String {
    error.to_string()
}

impl From<DeviceError> for DakaError {
    fn from(e: DeviceError) -> Self {
        DakaError::from(&e)
    }
}

/// The one mapping of the core's device errors (the background loop lends its error, so the
/// mapping works on a reference).
impl From<&DeviceError> for DakaError {
    fn from(e: &DeviceError) -> Self {
        match e {
            DeviceError::NotEnrolled => DakaError::NotEnrolled,
            DeviceError::AlreadyEnrolled { device_id } => DakaError::AlreadyEnrolled {
                device_id: device_id.clone(),
            },
            DeviceError::NoPolicy => DakaError::NoPolicy,
            DeviceError::InvalidInput(a) => DakaError::InvalidInput {
                field: a.field.clone(),
                value: a.value.clone(),
                reason: a.reason.clone(),
            },
            DeviceError::InvalidOption(o) => DakaError::InvalidInput {
                field: option_field(o.option).into(),
                value: o.value.clone(),
                reason: o.reason.clone(),
            },
            DeviceError::BadPolicy { reason } => DakaError::BadPolicy {
                reason: reason.clone(),
            },
            DeviceError::Outbox(OutboxError::Full { queued, limit }) => DakaError::QueueFull {
                queued: *queued,
                limit: *limit,
            },
            DeviceError::Outbox(OutboxError::InvalidItem {
                field,
                value,
                reason,
            }) => DakaError::InvalidInput {
                field: field.to_string(),
                value: value.clone(),
                reason: reason.clone(),
            },
            DeviceError::Outbox(OutboxError::Store(e)) | DeviceError::Store(e) => storage(e),
            DeviceError::Outbox(e @ OutboxError::DuplicateId { .. }) => DakaError::Storage {
                reason: e.to_string(),
            },
            DeviceError::Sync(e) => e.clone().into(),
            DeviceError::DeviceRevoked { message } => DakaError::DeviceRevoked {
                reason: message.clone(),
            },
            DeviceError::Draft(d) => draft_error(d),
            DeviceError::KeyStore(KeyStoreError { reason }) | DeviceError::Key { reason } => {
                DakaError::KeyStore {
                    reason: reason.clone(),
                }
            }
            DeviceError::Randomness { .. } => DakaError::Unavailable {
                reason: e.to_string(),
            },
            // A value daka built that cannot be serialised is a bug of daka's.
            DeviceError::Serialisation { .. } => DakaError::Internal {
                reason: e.to_string(),
            },
            DeviceError::Attendance(AttendanceError::NoSchedule(employee)) => {
                DakaError::NoSchedule {
                    employee: employee.clone(),
                }
            }
            DeviceError::Attendance(a) => DakaError::InvalidInput {
                field: "month".into(),
                value: match a {
                    AttendanceError::NoSuchMonth(m) => m.to_string(),
                    other => other.to_string(),
                },
                reason: a.to_string(),
            },
            // `DeviceError` is non-exhaustive: a failure this mapping does not know yet is
            // reported, never hidden.
            _ => DakaError::Internal {
                reason: e.to_string(),
            },
        }
    }
}

/// The name an app gives a device option: the field of `DeviceOptions`, or the parameter of
/// `startBackgroundSync`. Options the bindings do not offer keep their Rust name.
fn option_field(option: DeviceOption) -> &'static str {
    match option {
        DeviceOption::MaxQueuedItems => "maxQueuedItems",
        DeviceOption::RequestTimeout => "requestTimeoutSeconds",
        DeviceOption::ConnectTimeout => "connectTimeoutSeconds",
        DeviceOption::SyncInterval => "intervalSeconds",
        DeviceOption::TlsExtraRoots => "extraRootCertificates",
        DeviceOption::TlsPins => "certificatePins",
        DeviceOption::TlsPlatformTrustStore => "platformTrustStore",
        other => other.name(),
    }
}

fn draft_error(e: &DraftError) -> DakaError {
    let invalid = |field: &str, value: &str, reason: String| DakaError::InvalidInput {
        field: field.into(),
        value: value.into(),
        reason,
    };
    match e {
        DraftError::UnknownTemplate { template_id, .. } => {
            invalid("templateId", template_id, e.to_string())
        }
        DraftError::Form(f) => DakaError::InvalidForm {
            problems: f.errors.iter().map(Into::into).collect(),
        },
        DraftError::Route(r) => DakaError::NoApprover {
            reason: r.to_string(),
        },
        DraftError::MissingAttachment { sha256 } => invalid("attachment", sha256, e.to_string()),
        DraftError::Attachment { reason } => invalid("attachment", "", reason.clone()),
        DraftError::Invalid { field, reason } => invalid(field, "", reason.clone()),
        other => DakaError::Internal {
            reason: other.to_string(),
        },
    }
}

impl From<OutboxError> for DakaError {
    fn from(e: OutboxError) -> Self {
        DakaError::from(DeviceError::Outbox(e))
    }
}

fn storage(e: &StoreError) -> DakaError {
    DakaError::Storage {
        reason: e.to_string(),
    }
}

impl From<SyncError> for DakaError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Network { .. } | SyncError::Timeout { .. } => DakaError::Offline {
                reason: e.to_string(),
            },
            // Something between the phone and the server (a captive portal, a proxy) answered
            // instead of daka: for the user that is "not online yet".
            SyncError::InvalidResponse { .. } => DakaError::Offline {
                reason: e.to_string(),
            },
            SyncError::Busy { retry_after_ms, .. } => DakaError::ServerBusy {
                retry_after_seconds: retry_after_ms.map(|ms| ms.div_ceil(1000)),
            },
            SyncError::Server { .. } => DakaError::ServerBusy {
                retry_after_seconds: None,
            },
            SyncError::Unauthorized { message } => DakaError::Unauthorized { reason: message },
            SyncError::DeviceRevoked { message } => DakaError::DeviceRevoked { reason: message },
            SyncError::Refused { code, message, .. } => DakaError::Refused {
                code,
                reason: message,
            },
            SyncError::Tls {
                url,
                failure,
                detail,
            } => DakaError::Tls {
                code: failure.code().into(),
                reason: format!("{failure} ({url}): {detail}"),
            },
            SyncError::InvalidUrl { url, reason } => DakaError::InvalidInput {
                field: "serverUrl".into(),
                value: url,
                reason,
            },
            other => DakaError::Internal {
                reason: other.to_string(),
            },
        }
    }
}

/// A foreign callback threw something other than a `DakaException`.
impl From<uniffi::UnexpectedUniFFICallbackError> for DakaError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        DakaError::Internal {
            reason: format!(
                "an app callback threw an unexpected exception: {}",
                e.reason
            ),
        }
    }
}

/// One problem with one field of a form.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FormProblem {
    /// The field id, with a position inside it where that is where the problem is
    /// (`receipts[1].sha256`, `period.end`).
    pub field: String,
    /// The offending value as JSON, shortened.
    pub value: String,
    /// A stable code: `missing`, `unknown_field`, `wrong_type`, `too_short`, `too_long`,
    /// `too_few`, `too_many`, `too_small`, `too_large`, `not_an_option`, `wrong_currency`,
    /// `invalid`.
    pub code: String,
    /// What is wrong, in English, with the numbers.
    pub reason: String,
}

impl From<&FieldError> for FormProblem {
    fn from(e: &FieldError) -> Self {
        let code = match &e.problem {
            FieldProblem::Missing => "missing",
            FieldProblem::UnknownField => "unknown_field",
            FieldProblem::WrongType { .. } => "wrong_type",
            FieldProblem::TooShort { .. } => "too_short",
            FieldProblem::TooLong { .. } => "too_long",
            FieldProblem::TooFew { .. } => "too_few",
            FieldProblem::TooMany { .. } => "too_many",
            FieldProblem::TooSmall { .. } => "too_small",
            FieldProblem::TooLarge { .. } => "too_large",
            FieldProblem::NotAnOption { .. } => "not_an_option",
            FieldProblem::WrongCurrency { .. } => "wrong_currency",
            FieldProblem::Invalid(_) => "invalid",
        };
        FormProblem {
            field: e.field.clone(),
            value: e.value.clone(),
            code: code.into(),
            reason: e.problem.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daka_core::attempt::AttemptError;

    fn url() -> String {
        "http://127.0.0.1:9/v1/punches".into()
    }

    #[test]
    fn a_tls_refusal_is_its_own_error_never_offline() {
        use daka_device::sync::tls::TlsFailure;
        let e = SyncError::Tls {
            url: url(),
            failure: TlsFailure::UnknownIssuer,
            detail: "invalid peer certificate: UnknownIssuer".into(),
        };
        assert!(!e.is_retryable());
        let typed = DakaError::from(e);
        assert_eq!(
            typed,
            DakaError::Tls {
                code: "unknown_issuer".into(),
                reason: format!(
                    "the server's certificate is not issued by a trusted root ({}): invalid peer certificate: UnknownIssuer",
                    url()
                ),
            }
        );
    }

    #[test]
    fn every_retryable_sync_error_is_offline_or_server_busy() {
        let retryable = [
            SyncError::Network {
                url: url(),
                reason: "connection refused".into(),
            },
            SyncError::Timeout { url: url() },
            SyncError::Busy {
                status: 429,
                retry_after_ms: Some(2_500),
            },
            SyncError::Busy {
                status: 503,
                retry_after_ms: None,
            },
            SyncError::Server {
                status: 500,
                message: "boom".into(),
            },
            SyncError::InvalidResponse {
                url: url(),
                reason: "not JSON".into(),
            },
        ];
        for e in retryable {
            assert!(e.is_retryable(), "{e:?}");
            let typed = DakaError::from(e.clone());
            assert!(
                matches!(
                    typed,
                    DakaError::Offline { .. } | DakaError::ServerBusy { .. }
                ),
                "{typed:?}"
            );
        }
        assert_eq!(
            DakaError::from(SyncError::Busy {
                status: 429,
                retry_after_ms: Some(2_500)
            }),
            DakaError::ServerBusy {
                retry_after_seconds: Some(3)
            }
        );
    }

    #[test]
    fn permanent_failures_map_to_permanent_variants() {
        let e: DakaError = DeviceError::Sync(SyncError::Refused {
            status: 409,
            code: "enrollment_code_used".into(),
            message: "this code was already used".into(),
        })
        .into();
        assert_eq!(
            e,
            DakaError::Refused {
                code: "enrollment_code_used".into(),
                reason: "this code was already used".into()
            }
        );
        let e: DakaError = DeviceError::Sync(SyncError::Unauthorized {
            message: "revoked".into(),
        })
        .into();
        assert!(matches!(e, DakaError::Unauthorized { .. }));
        let e: DakaError = DeviceError::from(SyncError::DeviceRevoked {
            message: "enrol again".into(),
        })
        .into();
        assert_eq!(
            e,
            DakaError::DeviceRevoked {
                reason: "enrol again".into()
            }
        );
        let e: DakaError = DeviceError::Sync(SyncError::InvalidUrl {
            url: "ftp://x".into(),
            reason: "not http".into(),
        })
        .into();
        assert!(matches!(e, DakaError::InvalidInput { ref field, .. } if field == "serverUrl"));
    }

    #[test]
    fn input_queue_and_key_errors_keep_their_numbers() {
        let e: DakaError = DeviceError::InvalidInput(AttemptError {
            field: "fix.lat".into(),
            value: "95".into(),
            reason: "latitude must be a finite number in -90..=90".into(),
        })
        .into();
        assert_eq!(
            e,
            DakaError::InvalidInput {
                field: "fix.lat".into(),
                value: "95".into(),
                reason: "latitude must be a finite number in -90..=90".into()
            }
        );
        let e: DakaError = DeviceError::Outbox(OutboxError::Full {
            queued: 3,
            limit: 3,
        })
        .into();
        assert_eq!(
            e,
            DakaError::QueueFull {
                queued: 3,
                limit: 3
            }
        );
        let e: DakaError = DeviceError::KeyStore(KeyStoreError {
            reason: "user not authenticated".into(),
        })
        .into();
        assert_eq!(
            e,
            DakaError::KeyStore {
                reason: "user not authenticated".into()
            }
        );
        assert_eq!(
            DakaError::from(DeviceError::NotEnrolled),
            DakaError::NotEnrolled
        );
    }

    #[test]
    fn option_errors_name_the_option_as_the_app_knows_it() {
        let fields: Vec<_> = [
            DeviceOption::MaxQueuedItems,
            DeviceOption::RequestTimeout,
            DeviceOption::ConnectTimeout,
            DeviceOption::SyncInterval,
        ]
        .into_iter()
        .map(|option| {
            match DakaError::from(DeviceError::InvalidOption(daka_device::OptionError {
                option,
                value: "0 s".into(),
                reason: "must be between 1 s and 3600 s".into(),
            })) {
                DakaError::InvalidInput {
                    field,
                    value,
                    reason,
                } => {
                    assert_eq!(
                        (value.as_str(), reason.as_str()),
                        ("0 s", "must be between 1 s and 3600 s")
                    );
                    field
                }
                other => panic!("{other:?}"),
            }
        })
        .collect();
        assert_eq!(
            fields,
            [
                "maxQueuedItems",
                "requestTimeoutSeconds",
                "connectTimeoutSeconds",
                "intervalSeconds"
            ]
        );
    }

    #[test]
    fn randomness_is_retryable_and_serialisation_is_a_bug_not_a_key_problem() {
        let e: DakaError = DeviceError::Randomness {
            reason: "getrandom failed".into(),
        }
        .into();
        assert!(
            matches!(&e, DakaError::Unavailable { reason } if reason.contains("getrandom failed")),
            "{e:?}"
        );
        let e: DakaError = DeviceError::Serialisation {
            what: "punch record",
            reason: "field `employee_id`: too long".into(),
        }
        .into();
        assert!(
            matches!(&e, DakaError::Internal { reason } if reason.contains("punch record") && reason.contains("too long")),
            "{e:?}"
        );
    }
}
