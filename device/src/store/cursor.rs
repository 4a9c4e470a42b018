//! The `sync_cursor` table: where the device is in the server's change feed. Written after
//! the changes up to it were applied, so a crash replays changes rather than skipping them.

use rusqlite::{Connection, OptionalExtension};

/// The cursor, or `None` before the first pull.
pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT cursor FROM sync_cursor WHERE singleton = 1",
        [],
        |r| r.get("cursor"),
    )
    .optional()
}

/// Replaces the cursor.
pub(crate) fn save(conn: &Connection, cursor: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sync_cursor (singleton, cursor) VALUES (1, ?1)
         ON CONFLICT (singleton) DO UPDATE SET cursor = excluded.cursor",
        [cursor],
    )?;
    Ok(())
}
