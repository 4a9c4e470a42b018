//! Bootstrapping organisations from a seed file.
//!
//! A seed file (JSON, documented in `docs/server.md`) lists organisations, each with its id,
//! name, admin token, policy (an inline JSON object, or a path relative to the seed file) and
//! enrolment codes. Applying it is idempotent:
//!
//! * an organisation that does not exist is created, with a new Ed25519 policy key stored in
//!   the database; one that exists keeps its key, and gets the seed's name and admin token;
//! * the seed's policy is published when its version is newer than the stored one; the same
//!   version with the same content changes nothing; the same version with *different*
//!   content is refused (a published version never changes meaning); an older version than
//!   the stored one (an administrator published a newer one through the API) is left alone;
//! * enrolment codes are added once; a code already used stays used;
//! * console accounts are created when the organisation has none with the email; an
//!   existing account, its password included, is never changed by the seed.
//!
//! Everything is checked before anything is written for an organisation, and each step is one
//! storage transaction, so a bad seed fails with an error naming the field and the file is
//! left as it was for that organisation.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use daka_core::Policy;
use serde::{Deserialize, Serialize};

use crate::console::accounts::{self, AccountInput};
use crate::crypto;
use crate::policies::{self, PublishError};
use crate::storage::{CodeOutcome, NewConsoleAudit, NewOrg, Storage, StorageError};

/// Shortest admin token accepted: it is the only credential of the admin API.
pub const MIN_ADMIN_TOKEN_LEN: usize = 24;

/// A seed file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// The organisations to create or update, applied in this order; ids must be unique.
    pub organisations: Vec<SeedOrg>,
    /// Where relative policy paths are resolved (the seed file's directory).
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
}

/// One organisation of a seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrg {
    /// Must equal the policy's `org.id`.
    pub id: String,
    /// Display name; must not be blank. An existing organisation takes the seed's name.
    pub name: String,
    /// The bearer token of the admin API for this organisation (at least 24 characters).
    pub admin_token: String,
    /// The policy to publish when its version is newer than the stored one.
    pub policy: SeedPolicy,
    /// One-time enrolment codes to add; absent means none.
    #[serde(default)]
    pub enrollment_codes: Vec<SeedCode>,
    /// Web console accounts to create when the organisation has none with the email; an
    /// existing account (and its password) is left as it is. Absent means none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console_accounts: Vec<SeedConsoleAccount>,
}

/// A web console account of a seed (see `docs/console.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedConsoleAccount {
    /// Sign-in email, unique in the organisation (compared in lower case).
    pub email: String,
    /// Display name.
    pub name: String,
    /// `hr_admin`, `manager`, `finance` or `auditor`.
    pub role: String,
    /// The initial password, at least 12 characters; stored only as an Argon2id hash, and
    /// never applied to an account that exists.
    pub password: String,
    /// The employee a manager stands for (required for `manager`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    /// Preferred language, `en` (default) or `zh-Hant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// The policy document: inline, or a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SeedPolicy {
    /// A path, relative to the seed file's directory.
    Path(PathBuf),
    /// The policy document itself.
    Inline(serde_json::Map<String, serde_json::Value>),
}

/// A one-time enrolment code for an employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCode {
    /// The code as it will be given to the employee: at least 8 characters besides dashes
    /// and spaces; case, dashes and spaces do not matter when it is entered.
    pub code: String,
    /// The employee it enrols a device for; must be in the seed's policy, e.g. `E1001`.
    pub employee_id: String,
}

/// A seed that cannot be applied; `field` names the place, e.g. `organisations[0].policy`.
#[derive(Debug, thiserror::Error)]
#[error("seed {field}: {reason}")]
pub struct SeedError {
    /// Where the problem is: a JSON path into the seed such as
    /// `organisations[0].enrollment_codes[1].code`, `$` for the whole document, or the file
    /// path when the seed file cannot be read.
    pub field: String,
    /// What is wrong, for the operator to fix in the seed file.
    pub reason: String,
}

impl SeedError {
    fn new(field: impl Into<String>, reason: impl ToString) -> Self {
        SeedError {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// What applying a seed did, per organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    /// Ids of the organisations this seed created (each with a new policy key).
    pub orgs_created: Vec<String>,
    /// Ids of existing organisations whose name or admin token the seed changed.
    pub orgs_updated: Vec<String>,
    /// (organisation, version) published.
    pub policies_published: Vec<(String, u64)>,
    /// (organisation, seed version, stored version) left alone because the stored one is newer.
    pub policies_kept: Vec<(String, u64, u64)>,
    /// Enrolment codes newly stored; codes already present for the same employee are not
    /// counted.
    pub codes_added: usize,
    /// Console accounts created; accounts that existed already are not counted.
    pub console_accounts_added: usize,
}

impl Seed {
    /// Reads a seed file; relative policy paths resolve against its directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Seed, SeedError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SeedError::new(path.display().to_string(), e))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Seed::from_json(&text, Some(base))
    }

    /// Reads a seed from JSON text.
    pub fn from_json(text: &str, base_dir: Option<PathBuf>) -> Result<Seed, SeedError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let mut seed: Seed = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            // `.` for the whole seed, empty for a member named `""` of it: both the seed itself.
            let field = if path == "." || path.is_empty() {
                "$".into()
            } else {
                path
            };
            SeedError::new(field, e.into_inner())
        })?;
        de.end().map_err(|e| {
            SeedError::new(
                "$",
                format!("nothing may follow the seed's JSON object: {e}"),
            )
        })?;
        seed.base_dir = base_dir;
        Ok(seed)
    }

    fn document(&self, org: &SeedOrg, field: &str) -> Result<String, SeedError> {
        match &org.policy {
            SeedPolicy::Inline(object) => {
                serde_json::to_string_pretty(object).map_err(|e| SeedError::new(field, e))
            }
            SeedPolicy::Path(path) => {
                let full = match &self.base_dir {
                    Some(base) if path.is_relative() => base.join(path),
                    _ => path.clone(),
                };
                std::fs::read_to_string(&full)
                    .map_err(|e| SeedError::new(field, format!("{}: {e}", full.display())))
            }
        }
    }
}

fn check_id(field: &str, id: &str) -> Result<(), SeedError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(SeedError::new(
            field,
            format!("{id:?} is not 1–64 characters of letters, digits, '-', '_' or '.'"),
        ))
    }
}

fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Applies a seed. See the file header for what is idempotent.
pub fn apply(
    storage: &dyn Storage,
    seed: &Seed,
    now: DateTime<Utc>,
) -> Result<SeedReport, SeedError> {
    let mut report = SeedReport::default();
    let mut ids = std::collections::HashSet::new();
    for (i, org) in seed.organisations.iter().enumerate() {
        let at = |f: &str| format!("organisations[{i}].{f}");
        let storage_error = |e: StorageError| SeedError::new(format!("organisations[{i}]"), e);
        check_id(&at("id"), &org.id)?;
        if !ids.insert(org.id.clone()) {
            return Err(SeedError::new(
                at("id"),
                format!("{:?} appears twice", org.id),
            ));
        }
        if org.name.trim().is_empty() {
            return Err(SeedError::new(at("name"), "must not be empty"));
        }
        if org.admin_token.len() < MIN_ADMIN_TOKEN_LEN
            || org.admin_token.chars().any(char::is_whitespace)
        {
            return Err(SeedError::new(
                at("admin_token"),
                format!("must be at least {MIN_ADMIN_TOKEN_LEN} characters without spaces"),
            ));
        }
        let document = seed.document(org, &at("policy"))?;
        let policy = Policy::from_json(&document).map_err(|e| SeedError::new(at("policy"), e))?;
        if policy.org.id != org.id {
            return Err(SeedError::new(
                at("policy"),
                format!(
                    "the policy is for organisation {:?}, not {:?}",
                    policy.org.id, org.id
                ),
            ));
        }
        for (j, code) in org.enrollment_codes.iter().enumerate() {
            let field = at(&format!("enrollment_codes[{j}]"));
            let normal = code.code.replace(['-', ' '], "");
            if normal.len() < 8 {
                return Err(SeedError::new(
                    format!("{field}.code"),
                    "a code has at least 8 characters besides dashes and spaces",
                ));
            }
            if policy.employee(&code.employee_id).is_none() {
                return Err(SeedError::new(
                    format!("{field}.employee_id"),
                    format!(
                        "employee {:?} is not in policy version {}",
                        code.employee_id, policy.version
                    ),
                ));
            }
        }
        let console_inputs: Vec<AccountInput> = org
            .console_accounts
            .iter()
            .map(|a| AccountInput {
                email: a.email.clone(),
                name: a.name.clone(),
                role: a.role.clone(),
                employee_id: a.employee_id.clone(),
                password: a.password.clone(),
                language: a.language.clone(),
            })
            .collect();
        for (j, input) in console_inputs.iter().enumerate() {
            accounts::check(input, Some(&policy))
                .map_err(|e| SeedError::new(at(&format!("console_accounts[{j}]")), e.message))?;
        }

        let admin_hash = crypto::secret_hash(&org.admin_token);
        let stored = match storage.org(&org.id).map_err(storage_error)? {
            Some(existing) => {
                if storage
                    .update_org(&org.id, &org.name, &admin_hash)
                    .map_err(storage_error)?
                {
                    report.orgs_updated.push(org.id.clone());
                }
                existing
            }
            None => {
                let (seed_key, public_key) =
                    crypto::new_org_key().map_err(|e| SeedError::new(at("id"), e))?;
                storage
                    .create_org(&NewOrg {
                        id: org.id.clone(),
                        name: org.name.clone(),
                        admin_token_hash: admin_hash,
                        signing_seed: seed_key,
                        public_key,
                        created_at: now,
                    })
                    .map_err(storage_error)?;
                report.orgs_created.push(org.id.clone());
                storage
                    .org(&org.id)
                    .map_err(storage_error)?
                    .ok_or_else(|| SeedError::new(at("id"), "the organisation did not read back"))?
            }
        };

        match storage.current_policy(&org.id).map_err(storage_error)? {
            Some(current) if current.version == policy.version => {
                if !same_json(&current.document, &document) {
                    return Err(SeedError::new(
                        at("policy"),
                        format!(
                            "version {} is already published with different content; give the changed policy a new version",
                            policy.version
                        ),
                    ));
                }
            }
            Some(current) if current.version > policy.version => {
                report
                    .policies_kept
                    .push((org.id.clone(), policy.version, current.version));
            }
            _ => match policies::publish(storage, &stored, &document, now) {
                Ok(p) => report
                    .policies_published
                    .push((org.id.clone(), p.policy.version)),
                Err(PublishError::Storage(e)) => return Err(storage_error(e)),
                Err(e) => return Err(SeedError::new(at("policy"), e)),
            },
        }

        for (j, code) in org.enrollment_codes.iter().enumerate() {
            let outcome = storage
                .add_enrollment_code(
                    &org.id,
                    &crypto::code_hash(&code.code),
                    &code.employee_id,
                    now,
                )
                .map_err(storage_error)?;
            match outcome {
                CodeOutcome::Added => report.codes_added += 1,
                CodeOutcome::AlreadyPresent => {}
                CodeOutcome::Taken => {
                    return Err(SeedError::new(
                        at(&format!("enrollment_codes[{j}].code")),
                        "the code is already issued to another employee or organisation",
                    ));
                }
            }
        }

        for (j, input) in console_inputs.iter().enumerate() {
            let email = accounts::normal_email(&input.email);
            if storage
                .console_account_by_email(&org.id, &email)
                .map_err(storage_error)?
                .is_some()
            {
                continue;
            }
            match accounts::create(storage, &org.id, input, now) {
                Ok(account) => {
                    storage
                        .add_console_audit(&NewConsoleAudit {
                            org_id: Some(org.id.clone()),
                            account_id: Some(account.id.clone()),
                            email: account.email.clone(),
                            action: "account_created".into(),
                            client: "seed".into(),
                            detail: format!("created by the seed, role {}", account.role.as_str()),
                            at: now,
                        })
                        .map_err(storage_error)?;
                    report.console_accounts_added += 1;
                }
                Err(e) if e.code == "account_exists" => {}
                Err(e) => {
                    return Err(match e.storage {
                        Some(s) => storage_error(s),
                        None => SeedError::new(at(&format!("console_accounts[{j}]")), e.message),
                    });
                }
            }
        }
    }
    Ok(report)
}
