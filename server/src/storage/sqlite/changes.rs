//! The change feeds of [`SqliteStorage`](super::SqliteStorage) (`change`), as devices read
//! them: a device sees the changes addressed to it and the organisation-wide ones (new policy
//! versions) made after it enrolled. Writing a change belongs to whatever causes it (a judged
//! punch, an approval, a published policy), in the same transaction.

use rusqlite::{Connection, Row, params};

use super::sql::cached_rows;
use crate::storage::{StorageError, StoredChange};

fn change_from_row(r: &Row<'_>) -> rusqlite::Result<StoredChange> {
    Ok(StoredChange {
        seq: r.get("seq")?,
        body: r.get("body")?,
    })
}

pub(super) fn changes(
    conn: &Connection,
    org_id: &str,
    device_id: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredChange>, StorageError> {
    cached_rows(
        conn,
        "SELECT c.seq AS seq, c.body AS body FROM change c
         JOIN device d ON d.id = ?2 AND d.org_id = ?1
         WHERE c.org_id = ?1 AND c.seq > ?3
           AND (c.device_id = ?2 OR (c.device_id IS NULL AND c.seq > d.change_floor))
         ORDER BY c.seq LIMIT ?4",
        params![org_id, device_id, after, limit],
        change_from_row,
        Ok,
    )
}
