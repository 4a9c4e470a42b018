//! The change feeds of [`PostgresStorage`](super::PostgresStorage) (`change`), as devices read
//! them: a device sees the changes addressed to it and the organisation-wide ones (new policy
//! versions) made after it enrolled. Writing a change belongs to whatever causes it, in the
//! same transaction, under the feed lock (`sql.rs`), so sequence numbers commit in order and a
//! page read here never skips a change that commits later.

use super::sql::{Run, get, limit as limit_param, map_rows};
use crate::storage::{StorageError, StoredChange};

pub(super) fn changes(
    c: &mut impl Run,
    org_id: &str,
    device_id: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredChange>, StorageError> {
    map_rows(
        c,
        "SELECT c.seq AS seq, c.body AS body FROM change c
         JOIN device d ON d.id = $2 AND d.org_id = $1
         WHERE c.org_id = $1 AND c.seq > $3
           AND (c.device_id = $2 OR (c.device_id IS NULL AND c.seq > d.change_floor))
         ORDER BY c.seq LIMIT $4",
        &[&org_id, &device_id, &after, &limit_param(limit)],
        |r| {
            Ok(StoredChange {
                seq: get(r, "seq")?,
                body: get(r, "body")?,
            })
        },
    )
}
