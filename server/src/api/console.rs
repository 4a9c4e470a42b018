//! The web console's admin endpoints (`/admin/v1/console`), with the organisation's admin
//! token: create a console account (the first HR administrator, typically) and read the
//! audit of console actions; and the rotation of the admin token itself
//! (`/admin/v1/admin-token/rotate`), which the console's API tokens page offers too.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use daka_core::protocol::ApiError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{AdminAuth, ApiJson};
use super::failure::Failure;
use super::state::AppState;
use crate::console::ClientAddr;
use crate::console::accounts::{self, AccountInput};
use crate::storage::{ConsoleAuditEntry, ConsoleRole, NewConsoleAudit};

/// A console account to create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountRequest {
    /// Sign-in email, unique in the organisation (compared in lower case).
    #[schema(
        max_length = 254,
        pattern = r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
    )]
    pub email: String,
    /// Display name, e.g. `Wong Siu Ming 黃小明` (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// `hr_admin`, `manager`, `finance` or `auditor`.
    #[schema(pattern = r"^(hr_admin|manager|finance|auditor)$")]
    pub role: String,
    /// The employee a manager stands for (required for `manager`); an employee of the
    /// current policy.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128)]
    pub employee_id: Option<String>,
    /// At least 12 characters (at most 1,024 bytes); stored only as an Argon2id hash.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
    /// Preferred language, `en` (default) or `zh-Hant`.
    #[serde(default)]
    #[schema(pattern = r"^(en|zh-Hant)$")]
    pub language: Option<String>,
}

/// A console account, without its password hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// Account id (a UUIDv7).
    pub id: String,
    /// Sign-in email, lower case.
    pub email: String,
    /// Display name.
    pub name: String,
    /// What it may do.
    pub role: ConsoleRole,
    /// A manager's employee.
    pub employee_id: Option<String>,
    /// `en` or `zh-Hant`.
    pub language: String,
    /// When it was created (server clock).
    pub created_at: DateTime<Utc>,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

/// Creates a console account of the organisation.
#[utoipa::path(post, path = "/admin/v1/console/accounts", tag = "console",
    security(("admin_token" = [])),
    request_body = NewAccountRequest,
    responses(
        (status = 201, description = "Created", body = AccountView),
        (status = 400, description = "`invalid_request`, `invalid_email`, `invalid_name`, `invalid_role`, `unknown_employee`, `weak_password`, `invalid_language`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 409, description = "`account_exists`", body = ApiError),
    ))]
pub async fn create_account(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    ClientAddr(client): ClientAddr,
    ApiJson(request): ApiJson<NewAccountRequest>,
) -> Result<(StatusCode, Json<AccountView>), Failure> {
    let input = AccountInput {
        email: request.email,
        name: request.name,
        role: request.role,
        employee_id: request.employee_id,
        password: request.password,
        language: request.language,
    };
    let account = state
        .db(move |s| {
            let now = s.now();
            let account =
                accounts::create(s.storage.as_ref(), &org.id, &input, now).map_err(|e| match e
                    .storage
                {
                    Some(storage) => Failure::from(storage),
                    None => Failure::new(e.status, e.code, e.message),
                })?;
            s.storage.add_console_audit(&NewConsoleAudit {
                org_id: Some(org.id.clone()),
                account_id: Some(account.id.clone()),
                email: account.email.clone(),
                action: "account_created".into(),
                client,
                detail: format!(
                    "created with the admin token, role {}",
                    account.role.as_str()
                ),
                at: now,
            })?;
            Ok(account)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountView {
            id: account.id,
            email: account.email,
            name: account.name,
            role: account.role,
            employee_id: account.employee_id,
            language: account.language,
            created_at: account.created_at,
            server_time: state.now(),
        }),
    ))
}

/// A page of the console audit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsoleAuditPage {
    /// Entries after `after`, oldest first.
    pub entries: Vec<ConsoleAuditEntry>,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

/// The organisation's console audit: sign-ins (successful, failed, refused by the limit),
/// sign-outs, "sign out everywhere" and accounts created, with the client's address.
#[utoipa::path(get, path = "/admin/v1/console/audit", tag = "console",
    security(("admin_token" = [])),
    params(
        ("after" = Option<i64>, Query, description = "Only entries after this `seq` (default 0)", minimum = 0),
        ("limit" = Option<u32>, Query, description = "At most this many, 1–1000 (default 200)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, description = "The entries", body = ConsoleAuditPage),
        (status = 400, description = "`invalid_request`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ))]
pub async fn audit(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    RawQuery(raw): RawQuery,
) -> Result<Json<ConsoleAuditPage>, Failure> {
    let mut after = 0i64;
    let mut limit = 200u32;
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let bad = || Failure::bad_request("invalid_request", format!("{k}: {v:?} is not valid"));
        match &*k {
            "after" => after = v.parse().ok().filter(|a: &i64| *a >= 0).ok_or_else(bad)?,
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|l| (1..=1000).contains(l))
                    .ok_or_else(bad)?
            }
            _ => {
                return Err(Failure::bad_request(
                    "invalid_request",
                    format!("{k}: not a parameter here (known: after, limit)"),
                ));
            }
        }
    }
    let entries = state
        .db(move |s| Ok(s.storage.console_audit(&org.id, after, limit)?))
        .await?;
    Ok(Json(ConsoleAuditPage {
        entries,
        server_time: state.now(),
    }))
}

/// A new admin token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RotatedAdminToken {
    /// The organisation's new admin token (`daka_admin_…`). It is not stored, only its hash:
    /// keep it now. The old token stopped working when this was answered.
    pub admin_token: String,
    /// The server clock when it answered.
    pub server_time: DateTime<Utc>,
}

/// Issues the organisation a new admin token and stops the old one at once (no grace
/// period), recorded in the console audit as `admin_token_rotated`. `who`/`account_id`
/// name the console account that asked, when one did.
pub fn rotate(
    storage: &dyn crate::storage::Storage,
    org_id: &str,
    account: Option<(&str, &str)>,
    client: &str,
    now: DateTime<Utc>,
) -> Result<String, Failure> {
    let token = format!(
        "daka_admin_{}",
        crate::crypto::new_token().map_err(|e| Failure::internal(e.to_string()))?
    );
    if !storage.rotate_admin_token(org_id, &crate::crypto::secret_hash(&token), now)? {
        return Err(Failure::internal("the organisation is gone"));
    }
    storage.add_console_audit(&NewConsoleAudit {
        org_id: Some(org_id.to_owned()),
        account_id: account.map(|(id, _)| id.to_owned()),
        email: account.map_or_else(String::new, |(_, email)| email.to_owned()),
        action: "admin_token_rotated".into(),
        client: client.to_owned(),
        detail: if account.is_some() {
            "rotated on the console; the old admin token stopped".into()
        } else {
            "rotated with the admin token; the old admin token stopped".into()
        },
        at: now,
    })?;
    Ok(token)
}

/// Replaces the organisation's admin token: the answer holds the new one, once; the token
/// that called stops at once. Takes the admin token itself, not an API token. After a
/// rotation the seed file's `admin_token` no longer applies to the organisation.
#[utoipa::path(post, path = "/admin/v1/admin-token/rotate", tag = "console",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The new admin token", body = RotatedAdminToken),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`insufficient_scope`: an API token called", body = ApiError),
    ))]
pub async fn rotate_admin_token(
    State(state): State<AppState>,
    AdminAuth(org): AdminAuth,
    ClientAddr(client): ClientAddr,
) -> Result<Json<RotatedAdminToken>, Failure> {
    let token = state
        .db(move |s| rotate(s.storage.as_ref(), &org.id, None, &client, s.now()))
        .await?;
    Ok(Json(RotatedAdminToken {
        admin_token: token,
        server_time: state.now(),
    }))
}
