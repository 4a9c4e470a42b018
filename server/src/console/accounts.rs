//! Creating console accounts, the one way the seed and the admin API share: the checks (each
//! failure names its field with a stable code) and the Argon2id hash of the password.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use daka_core::Policy;

use super::auth;
use crate::storage::{ConsoleAccount, ConsoleRole, Storage, StorageError};

/// An account to create, as the seed file and the admin API give it.
#[derive(Debug, Clone)]
pub struct AccountInput {
    /// Sign-in email; compared in lower case.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `hr_admin`, `manager`, `finance` or `auditor`.
    pub role: String,
    /// The employee a manager stands for (required for `manager`).
    pub employee_id: Option<String>,
    /// The password, at least 12 characters.
    pub password: String,
    /// `en` or `zh-Hant`; `en` when absent.
    pub language: Option<String>,
}

/// Why an account was not created.
#[derive(Debug)]
pub struct AccountError {
    /// 400, or 409 for `account_exists`.
    pub status: StatusCode,
    /// `invalid_email`, `invalid_name`, `invalid_role`, `unknown_employee`, `weak_password`,
    /// `invalid_language` or `account_exists`.
    pub code: &'static str,
    /// The field at fault and what is wrong with it.
    pub message: String,
    /// A storage failure, when that was the cause.
    pub storage: Option<StorageError>,
}

impl AccountError {
    fn bad(code: &'static str, message: impl Into<String>) -> AccountError {
        AccountError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
            storage: None,
        }
    }
}

impl From<StorageError> for AccountError {
    fn from(e: StorageError) -> AccountError {
        AccountError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: e.to_string(),
            storage: Some(e),
        }
    }
}

/// The form an email is stored and compared in: trimmed, lower case.
pub fn normal_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Whether an email looks like one: `local@domain.tld`, at most 254 bytes, no spaces or
/// controls.
pub fn email_ok(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks an account against the organisation's policy (for a manager's employee); the
/// account's role. Nothing is hashed or written.
pub fn check(input: &AccountInput, policy: Option<&Policy>) -> Result<ConsoleRole, AccountError> {
    let email = normal_email(&input.email);
    if !email_ok(&email) {
        return Err(AccountError::bad(
            "invalid_email",
            "email: not an email address (local@domain, at most 254 characters)",
        ));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AccountError::bad(
            "invalid_name",
            "name: 1–200 characters without control characters",
        ));
    }
    let role = ConsoleRole::parse(&input.role).ok_or_else(|| {
        AccountError::bad(
            "invalid_role",
            "role: one of hr_admin, manager, finance, auditor",
        )
    })?;
    match (&input.employee_id, role) {
        (None, ConsoleRole::Manager) => {
            return Err(AccountError::bad(
                "unknown_employee",
                "employee_id: a manager account is linked to an employee of the policy",
            ));
        }
        (Some(id), _) => {
            let known = policy.is_some_and(|p| p.employee(id).is_some());
            if !known {
                return Err(AccountError::bad(
                    "unknown_employee",
                    format!("employee_id: {id:?} is not an employee of the current policy"),
                ));
            }
        }
        (None, _) => {}
    }
    if !auth::password_ok(&input.password) {
        return Err(AccountError::bad(
            "weak_password",
            format!(
                "password: at least {} characters (and at most {} bytes)",
                auth::MIN_PASSWORD_CHARS,
                auth::MAX_PASSWORD_BYTES
            ),
        ));
    }
    if let Some(l) = &input.language
        && super::i18n::Lang::parse(l).is_none()
    {
        return Err(AccountError::bad(
            "invalid_language",
            "language: en or zh-Hant",
        ));
    }
    Ok(role)
}

/// Checks and creates an account of `org_id`; `account_exists` (409) when the organisation
/// has one with this email, whose password is left as it is.
pub fn create(
    storage: &dyn Storage,
    org_id: &str,
    input: &AccountInput,
    now: DateTime<Utc>,
) -> Result<ConsoleAccount, AccountError> {
    let policy = crate::attendance::current_policy(storage, org_id)?;
    let role = check(input, policy.as_deref())?;
    let email = normal_email(&input.email);
    let exists = || AccountError {
        status: StatusCode::CONFLICT,
        code: "account_exists",
        message: format!("email: the organisation already has an account for {email}"),
        storage: None,
    };
    if storage.console_account_by_email(org_id, &email)?.is_some() {
        return Err(exists());
    }
    let password_hash = auth::hash_password(&input.password).map_err(|e| AccountError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: e,
        storage: None,
    })?;
    let account = ConsoleAccount {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: org_id.to_owned(),
        email: email.clone(),
        name: input.name.trim().to_owned(),
        role,
        employee_id: input.employee_id.clone(),
        language: input.language.clone().unwrap_or_else(|| "en".into()),
        password_hash,
        created_at: now,
        disabled_at: None,
    };
    if !storage.create_console_account(&account)? {
        return Err(exists());
    }
    Ok(account)
}
