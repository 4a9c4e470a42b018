//! The `time_anchor` table: the last trusted server time, with the device's monotonic clock
//! reading and boot id when it was received. Offline punches are timed from it.
//!
//! Data access only, in the core's own [`TimeAnchor`] type. A stored anchor that no longer
//! reads (a time that does not parse, a negative clock reading) is treated as no anchor: the
//! next server response brings a new one, and a punch is never refused on time alone.

use chrono::{DateTime, Utc};
use daka_core::evidence::TimeAnchor;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The row as stored, read by column name.
struct AnchorRow {
    server_time: String,
    monotonic_ms: i64,
    boot_id: String,
}

impl AnchorRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<AnchorRow> {
        Ok(AnchorRow {
            server_time: r.get("server_time")?,
            monotonic_ms: r.get("monotonic_ms")?,
            boot_id: r.get("boot_id")?,
        })
    }

    fn into_anchor(self) -> Option<TimeAnchor> {
        Some(TimeAnchor {
            server_time: DateTime::parse_from_rfc3339(&self.server_time)
                .ok()?
                .with_timezone(&Utc),
            monotonic_ms: u64::try_from(self.monotonic_ms).ok()?,
            boot_id: self.boot_id,
        })
    }
}

/// The stored anchor, if there is one that reads.
pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Option<TimeAnchor>> {
    Ok(conn
        .query_row(
            "SELECT server_time, monotonic_ms, boot_id FROM time_anchor WHERE singleton = 1",
            [],
            AnchorRow::from_row,
        )
        .optional()?
        .and_then(AnchorRow::into_anchor))
}

/// Replaces the anchor.
pub(crate) fn save(conn: &Connection, anchor: &TimeAnchor) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO time_anchor (singleton, server_time, monotonic_ms, boot_id) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (singleton) DO UPDATE SET server_time = excluded.server_time,
           monotonic_ms = excluded.monotonic_ms, boot_id = excluded.boot_id",
        params![
            anchor.server_time.to_rfc3339(),
            anchor.monotonic_ms as i64,
            anchor.boot_id
        ],
    )?;
    Ok(())
}
