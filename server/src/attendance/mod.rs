//! Attendance on the server, the authority: the same engine the phones run
//! (`daka_core::attendance`), fed from what the server stores, with the results confirmed,
//! kept and sent to the employees' devices.
//!
//! * `records.rs`: one employee's [`EmployeeRecords`](daka_core::attendance::EmployeeRecords)
//!   for a range of dates, built from stored punches (with the server's verdict and any
//!   field-punch review), approved missed-punch corrections, leave and overtime.
//! * `recompute.rs`: the recompute queue. Every input that can change a day (a punch stored,
//!   a correction, leave, overtime or field-punch review decided, a policy published, a month
//!   unlocked) queues a mark **in its own transaction**; [`recompute::run`] turns the marks
//!   into (employee, dates), recomputes them and stores, in one transaction, the results that
//!   changed (each sent as a `day_result` change to the employee's devices), recording late
//!   changes for locked months instead, and removes the marks. It runs right after every push
//!   and publication, and at start-up, so a crash between an input and its recompute is
//!   repaired when the server starts again. Days that pass without input are computed when
//!   they are first read ([`recompute::ensure_days`]).
//! * `month.rs`: a month's summaries for every employee, computed from the records, and the
//!   export built from them ([`month::report`]): the month endpoint, the report endpoint and
//!   `daka report` share it.
//! * `time_off.rs`: time off in lieu (調休): the ledger of overtime credited as time off, less
//!   what leave requests already book; checked when such leave is requested.
//! * `params.rs`: parsing months, dates and employees, with errors that name the parameter.

pub mod month;
pub mod params;
pub mod recompute;
pub mod records;
pub mod time_off;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use daka_core::Policy;

use crate::storage::{Storage, StorageError};

/// Parsed policies by (organisation, version).
type PolicyCache = HashMap<(String, u64), Arc<Policy>>;

/// The organisation's current policy, parsed (cached by organisation and version).
pub fn current_policy(
    storage: &dyn Storage,
    org_id: &str,
) -> Result<Option<Arc<Policy>>, StorageError> {
    static CACHE: Mutex<Option<PolicyCache>> = Mutex::new(None);
    let Some(stored) = storage.current_policy(org_id)? else {
        return Ok(None);
    };
    let key = (org_id.to_owned(), stored.version);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(p) = cache.get(&key) {
        return Ok(Some(p.clone()));
    }
    let policy = Policy::from_json(&stored.document).map_err(|e| {
        StorageError::Corrupt(format!(
            "stored policy version {} of {org_id} no longer parses: {e}",
            stored.version
        ))
    })?;
    let policy = Arc::new(policy);
    if cache.len() >= 64 {
        cache.clear();
    }
    cache.insert(key, policy.clone());
    Ok(Some(policy))
}
