//! The `face_nonce` table: the single-use nonces issued to the face matcher, and which of
//! them a punch has consumed. A consumed nonce is never accepted again, across restarts.
//!
//! Data access only. [`consume`] takes a `&Connection` so the engine records a consumed nonce
//! in the same transaction as the punch that used it.

use rusqlite::{Connection, params};

/// Records a freshly issued nonce (issuing the same nonce twice is harmless).
pub(crate) fn issue(conn: &Connection, nonce: &str, now_ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO face_nonce (nonce, issued_ms) VALUES (?1, ?2)",
        params![nonce, now_ms],
    )?;
    Ok(())
}

/// Marks `nonce` consumed at `now_ms` (recording it first if it was not issued here).
pub(crate) fn consume(conn: &Connection, nonce: &str, now_ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO face_nonce (nonce, issued_ms, consumed_ms) VALUES (?1, ?2, ?2)
         ON CONFLICT (nonce) DO UPDATE SET consumed_ms = excluded.consumed_ms",
        params![nonce, now_ms],
    )?;
    Ok(())
}

/// Every consumed nonce.
pub(crate) fn consumed(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT nonce FROM face_nonce WHERE consumed_ms IS NOT NULL")?;
    stmt.query_map([], |r| r.get("nonce"))?.collect()
}
