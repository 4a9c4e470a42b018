//! The `day_result` table: the server's confirmed attendance results for this device's
//! employee, one row per date, the latest replacing the earlier. Written while the changes
//! feed is applied, before its cursor moves on, so a crash replays rather than loses one.

use chrono::NaiveDate;
use rusqlite::{Connection, params};

use daka_core::attendance::DayResult;

use super::StoreError;

/// Stores `result` as the confirmed result of its employee and date.
pub(crate) fn save(
    conn: &Connection,
    result: &DayResult,
    policy_version: u64,
    now_ms: i64,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(result)
        .map_err(|e| StoreError::Corrupt(format!("day result: {e}")))?;
    conn.execute(
        "INSERT INTO day_result (employee, date, result, policy_version, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (employee, date) DO UPDATE SET
             result = excluded.result,
             policy_version = excluded.policy_version,
             received_ms = excluded.received_ms",
        params![
            result.employee,
            result.date.to_string(),
            json,
            i64::try_from(policy_version).unwrap_or(i64::MAX),
            now_ms
        ],
    )?;
    Ok(())
}

/// The confirmed results of `employee` from `from` to `to`, in date order.
pub(crate) fn between(
    conn: &Connection,
    employee: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayResult>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT result FROM day_result
         WHERE employee = ?1 AND date >= ?2 AND date <= ?3 ORDER BY date",
    )?;
    let rows = stmt
        .query_map(params![employee, from.to_string(), to.to_string()], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<Result<Vec<String>, _>>()?;
    rows.iter()
        .map(|json| {
            serde_json::from_str(json)
                .map_err(|e| StoreError::Corrupt(format!("stored day result: {e}")))
        })
        .collect()
}
