//! The attachment table of [`SqliteStorage`](super::SqliteStorage): the files approval forms
//! refer to, one row per organisation and SHA-256. Storing is idempotent (the first upload of
//! a hash wins and later ones change nothing), and the push judge reads which of a form's
//! files are present, with their sizes, inside the item's savepoint. Every query filters on
//! `org_id`.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::sql::map_err;
use crate::storage::StorageError;

/// Inserts the file unless the organisation has one with this hash; whether it inserted.
pub(super) fn put(
    conn: &Connection,
    org_id: &str,
    sha256: &str,
    media_type: &str,
    content: &[u8],
    device_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let size = i64::try_from(content.len())
        .map_err(|_| StorageError::Conflict(format!("{} bytes is too large", content.len())))?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO attachment (org_id, sha256, media_type, size, content, uploaded_by, uploaded_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (org_id, sha256) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                org_id,
                sha256,
                media_type,
                size,
                content,
                device_id,
                now.timestamp_millis()
            ])
        })
        .map_err(map_err)?;
    Ok(inserted == 1)
}

/// Whether the organisation has a file with this hash.
pub(super) fn exists(conn: &Connection, org_id: &str, sha256: &str) -> Result<bool, StorageError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM attachment WHERE org_id = ?1 AND sha256 = ?2)",
    )
    .and_then(|mut s| s.query_row(params![org_id, sha256], |r| r.get(0)))
    .map_err(map_err)
}

/// The file's media type and bytes.
pub(super) fn read(
    conn: &Connection,
    org_id: &str,
    sha256: &str,
) -> Result<Option<(String, Vec<u8>)>, StorageError> {
    conn.prepare_cached(
        "SELECT media_type, content FROM attachment WHERE org_id = ?1 AND sha256 = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![org_id, sha256], |r| {
            Ok((r.get("media_type")?, r.get("content")?))
        })
        .optional()
    })
    .map_err(map_err)
}

/// Of a list of hashes: those the organisation does not have, and those it has with their
/// sizes in bytes.
type Presence = (Vec<String>, Vec<(String, u64)>);

/// Which of `hashes` the organisation has, with their sizes.
pub(super) fn presence(
    conn: &Connection,
    org_id: &str,
    hashes: &[String],
) -> Result<Presence, StorageError> {
    let mut missing = Vec::new();
    let mut sizes = Vec::new();
    let mut stmt = conn
        .prepare_cached("SELECT size FROM attachment WHERE org_id = ?1 AND sha256 = ?2")
        .map_err(map_err)?;
    for hash in hashes {
        let size: Option<i64> = stmt
            .query_row(params![org_id, hash], |r| r.get("size"))
            .optional()
            .map_err(map_err)?;
        match size {
            None => missing.push(hash.clone()),
            Some(size) => {
                let size = u64::try_from(size).map_err(|_| {
                    StorageError::Corrupt(format!("attachment {hash}: size {size}"))
                })?;
                sizes.push((hash.clone(), size));
            }
        }
    }
    Ok((missing, sizes))
}
