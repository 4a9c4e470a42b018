//! The `attachment` table: files for approval requests (receipt photos, signatures), kept by
//! their SHA-256 until the server has them.
//!
//! Data access only: the engine checks sizes and media types before [`add`], and uploads
//! what [`pending_uploads`] lists before pushing the items that refer to those files.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// A kept file the server does not have yet, read by column name (without its content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingUpload {
    /// SHA-256 of the content, lower-case hex: the file's key here and on the server.
    pub sha256: String,
    /// The media type given when the file was added, e.g. `image/jpeg`.
    pub media_type: String,
}

impl PendingUpload {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<PendingUpload> {
        Ok(PendingUpload {
            sha256: r.get("sha256")?,
            media_type: r.get("media_type")?,
        })
    }
}

/// Keeps a file; keeping the same hash again changes nothing.
pub(crate) fn add(
    conn: &Connection,
    sha256: &str,
    media_type: &str,
    content: &[u8],
    now_ms: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO attachment (sha256, media_type, content, added_ms) VALUES (?1, ?2, ?3, ?4)",
        params![sha256, media_type, content, now_ms],
    )?;
    Ok(())
}

/// The size in bytes of the kept file with this hash, or `None` when it is not kept.
pub(crate) fn size(conn: &Connection, sha256: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT length(content) AS size FROM attachment WHERE sha256 = ?1",
        [sha256],
        |r| r.get("size"),
    )
    .optional()
}

/// The kept files not uploaded yet, oldest first.
pub(crate) fn pending_uploads(conn: &Connection) -> rusqlite::Result<Vec<PendingUpload>> {
    let mut stmt = conn.prepare(
        "SELECT sha256, media_type FROM attachment WHERE uploaded_ms IS NULL ORDER BY added_ms",
    )?;
    stmt.query_map([], PendingUpload::from_row)?.collect()
}

/// The content of a kept file.
pub(crate) fn content(conn: &Connection, sha256: &str) -> rusqlite::Result<Vec<u8>> {
    conn.query_row(
        "SELECT content FROM attachment WHERE sha256 = ?1",
        [sha256],
        |r| r.get("content"),
    )
}

/// Notes that the server has the file.
pub(crate) fn mark_uploaded(conn: &Connection, sha256: &str, now_ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE attachment SET uploaded_ms = ?2 WHERE sha256 = ?1",
        params![sha256, now_ms],
    )?;
    Ok(())
}
