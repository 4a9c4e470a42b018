//! The attachment table of [`PostgresStorage`](super::PostgresStorage): the files approval
//! forms refer to, one row per organisation and SHA-256. Storing is idempotent (the first
//! upload of a hash wins, whichever instance took it, and later ones change nothing), and the
//! push judge reads which of a form's files are present, with their sizes, inside the item's
//! savepoint. Every query filters on `org_id`.

use chrono::{DateTime, Utc};

use super::sql::{Run, exec, get, ms, opt_row};
use crate::storage::StorageError;

pub(super) fn put(
    c: &mut impl Run,
    org_id: &str,
    sha256: &str,
    media_type: &str,
    content: &[u8],
    device_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let size = i64::try_from(content.len())
        .map_err(|_| StorageError::Conflict(format!("{} bytes is too large", content.len())))?;
    let inserted = exec(
        c,
        "INSERT INTO attachment (org_id, sha256, media_type, size, content, uploaded_by, uploaded_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (org_id, sha256) DO NOTHING",
        &[
            &org_id,
            &sha256,
            &media_type,
            &size,
            &content,
            &device_id,
            &ms(now),
        ],
    )?;
    Ok(inserted == 1)
}

pub(super) fn read(
    c: &mut impl Run,
    org_id: &str,
    sha256: &str,
) -> Result<Option<(String, Vec<u8>)>, StorageError> {
    opt_row(
        c,
        "SELECT media_type, content FROM attachment WHERE org_id = $1 AND sha256 = $2",
        &[&org_id, &sha256],
    )?
    .map(|r| Ok((get(&r, "media_type")?, get(&r, "content")?)))
    .transpose()
}

/// The hashes the organisation lacks, and those it has with their sizes.
type Presence = (Vec<String>, Vec<(String, u64)>);

/// Which of `hashes` the organisation lacks, in their order, and the sizes of those it has.
pub(super) fn presence(
    c: &mut impl Run,
    org_id: &str,
    hashes: &[String],
) -> Result<Presence, StorageError> {
    let mut missing = Vec::new();
    let mut sizes = Vec::new();
    for hash in hashes {
        let size: Option<i64> = opt_row(
            c,
            "SELECT size FROM attachment WHERE org_id = $1 AND sha256 = $2",
            &[&org_id, hash],
        )?
        .map(|r| get(&r, "size"))
        .transpose()?;
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
