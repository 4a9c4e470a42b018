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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use daka_core::attendance::{DayKind, DayStatus};

    fn result(date: &str, worked_min: u32) -> DayResult {
        DayResult {
            employee: "E1001".into(),
            date: date.parse().unwrap(),
            kind: DayKind::Workday,
            shift: Some("store".into()),
            holiday: None,
            status: DayStatus::Normal,
            scheduled_min: 480,
            expected_min: 480,
            paired_min: worked_min,
            break_deducted_min: 0,
            paid_break_min: 0,
            worked_min,
            late_min: 0,
            early_min: 0,
            missing_clock_in: 0,
            missing_clock_out: 0,
            leave: vec![],
            overtime: None,
            pending: vec![],
            segments: vec![],
            findings: vec![],
        }
    }

    #[test]
    fn the_latest_result_for_a_date_replaces_the_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("d.db")).unwrap();
        let conn = store.conn();
        save(&conn, &result("2026-12-01", 400), 42, 1).unwrap();
        save(&conn, &result("2026-12-02", 480), 42, 1).unwrap();
        save(&conn, &result("2026-12-01", 470), 43, 2).unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let got = between(&conn, "E1001", d("2026-12-01"), d("2026-12-31")).unwrap();
        assert_eq!(
            got.iter()
                .map(|r| (r.date, r.worked_min))
                .collect::<Vec<_>>(),
            [(d("2026-12-01"), 470), (d("2026-12-02"), 480)]
        );
        assert!(
            between(&conn, "E1002", d("2026-12-01"), d("2026-12-31"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            between(&conn, "E1001", d("2026-12-02"), d("2026-12-02"))
                .unwrap()
                .len(),
            1
        );
    }
}
