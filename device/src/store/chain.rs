//! The `chain_head` table: the newest punch record of each device's chain, as canonical JSON,
//! from which the chain resumes after a restart.
//!
//! Data access only. [`set_head`] takes a `&Connection` so the engine writes the head in the
//! same transaction as the record's outbox item and its consumed face nonce: a punch is stored
//! whole or not at all.

use rusqlite::{Connection, OptionalExtension, params};

/// The newest record of `device_id`'s chain, or `None` before its first punch.
pub(crate) fn head(conn: &Connection, device_id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT last_record FROM chain_head WHERE device_id = ?1",
        [device_id],
        |r| r.get("last_record"),
    )
    .optional()
}

/// Makes `record_json` the newest record of `device_id`'s chain.
pub(crate) fn set_head(
    conn: &Connection,
    device_id: &str,
    record_json: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO chain_head (device_id, last_record) VALUES (?1, ?2)
         ON CONFLICT (device_id) DO UPDATE SET last_record = excluded.last_record",
        params![device_id, record_json],
    )?;
    Ok(())
}
