//! The item ledger of [`PostgresStorage`](super::PostgresStorage) (`item`: every pushed item
//! id, kept forever with its body hash and how it was answered) and the push batch: one
//! transaction per request, each item in its own savepoint, so an item that fails leaves no
//! trace while the items around it stay. Recording an item id is an insert that does nothing
//! when the id is there: an instance that loses the race for an id rolls its item back and
//! judges it again against the winner's entry, which answers it `duplicate` (or
//! `id_conflict`).

use r2d2_postgres::postgres::Transaction;

use super::punches::PendingPunch;
use super::sql::{Prepared, Run, exec, get, map_err, opt_row};
use super::{approvals, punches};
use crate::storage::sqlite::items::ItemColumns;
use crate::storage::{
    ApprovalDecision, ApprovalKey, ApprovalState, ItemBatch, ItemDecision, ItemKey, ItemState,
    StorageError, StoredItem,
};

/// The ledger entry of an item id, if it was seen before.
pub(super) fn read_item(
    c: &mut impl Run,
    org_id: &str,
    item_id: &str,
) -> Result<Option<StoredItem>, StorageError> {
    opt_row(
        c,
        "SELECT device_id, body_hash, status, code, message FROM item
         WHERE org_id = $1 AND item_id = $2",
        &[&org_id, &item_id],
    )?
    .map(|r| {
        ItemColumns {
            device_id: get(&r, "device_id")?,
            body_hash: get(&r, "body_hash")?,
            status: get(&r, "status")?,
            code: get(&r, "code")?,
            message: get(&r, "message")?,
        }
        .into_item()
    })
    .transpose()
}

/// What is recorded in the ledger for an item id.
pub(super) struct NewItem<'a> {
    pub(super) org_id: &'a str,
    pub(super) item_id: &'a str,
    pub(super) device_id: &'a str,
    pub(super) kind: &'a str,
    pub(super) body_hash: &'a str,
    pub(super) status: &'a str,
    pub(super) code: Option<&'a str>,
    pub(super) message: Option<&'a str>,
    pub(super) received_ms: i64,
}

/// Records an item id; `false` when another transaction recorded it first (nothing written).
pub(super) fn insert_item(c: &mut impl Run, item: &NewItem<'_>) -> Result<bool, StorageError> {
    let added = exec(
        c,
        "INSERT INTO item (org_id, item_id, device_id, kind, body_hash, status, code, message, received_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (org_id, item_id) DO NOTHING",
        &[
            &item.org_id,
            &item.item_id,
            &item.device_id,
            &item.kind,
            &item.body_hash,
            &item.status,
            &item.code,
            &item.message,
            &item.received_ms,
        ],
    )?;
    Ok(added == 1)
}

/// How many times an item is judged when other instances keep winning the race for what it
/// writes (its id, its face nonce); past it the item is answered busy, to be sent again.
pub(super) const ATTEMPTS: usize = 3;

/// A push request's transaction; every item runs in its own savepoint, released into the
/// transaction when it succeeds and rolled back when it fails. The punches it stores get their
/// `punch` rows and feed changes at its end ([`PgBatch::finish`], see [`PendingPunch`]).
pub(super) struct PgBatch<'a, 'p, 'c> {
    tx: &'a mut Prepared<'p, Transaction<'c>>,
    pending: Vec<PendingPunch>,
}

impl<'a, 'p, 'c> PgBatch<'a, 'p, 'c> {
    pub(super) fn new(tx: &'a mut Prepared<'p, Transaction<'c>>) -> Self {
        PgBatch {
            tx,
            pending: Vec::new(),
        }
    }

    /// Writes the rows of the punches stored so far; called before the commit.
    pub(super) fn finish(&mut self) -> Result<(), StorageError> {
        punches::write_pending(self.tx, &self.pending)?;
        self.pending.clear();
        Ok(())
    }
}

/// Runs `f` in a savepoint of the push's transaction `tx`, up to [`ATTEMPTS`] times: released
/// when `f` answers, rolled back when it fails or answers `None` (a lost race, to judge again).
fn in_savepoint<T>(
    tx: &mut Prepared<'_, Transaction<'_>>,
    mut f: impl FnMut(&mut Prepared<'_, Transaction<'_>>) -> Result<Option<T>, StorageError>,
) -> Result<T, StorageError> {
    for _ in 0..ATTEMPTS {
        // Dropped on `Err` or a lost race: the item rolls back.
        let mut savepoint = tx.client.savepoint("item").map_err(map_err)?;
        let answer = f(&mut Prepared::new(&mut savepoint, tx.statements))?;
        if let Some(answer) = answer {
            savepoint.commit().map_err(map_err)?;
            return Ok(answer);
        }
    }
    Err(StorageError::Busy)
}

impl ItemBatch for PgBatch<'_, '_, '_> {
    fn apply(
        &mut self,
        key: &ItemKey<'_>,
        judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
    ) -> Result<ItemDecision, StorageError> {
        // The ledger is read after the device row is locked: an instance that waited for the
        // lock sees the item the holder stored (`duplicate`), not only its new head.
        let PgBatch { tx, pending } = self;
        let (decision, stored) =
            in_savepoint(tx, |item| punches::apply_on(item, key, pending, judge))?;
        pending.extend(stored);
        Ok(decision)
    }

    fn apply_approval(
        &mut self,
        key: &ApprovalKey<'_>,
        judge: &mut dyn FnMut(&ApprovalState) -> ApprovalDecision,
    ) -> Result<ApprovalDecision, StorageError> {
        // The punch rows first: an approval's change takes the feed's lock, and a review reads
        // its punch.
        self.finish()?;
        in_savepoint(self.tx, |item| {
            // The request's lock before its item's ledger entry: a later decision on it waits.
            super::sql::request_lock(item, key.org_id, key.request_id)?;
            let existing = read_item(item, key.org_id, key.item_id)?;
            approvals::apply_on(item, key, existing, judge)
        })
    }
}
