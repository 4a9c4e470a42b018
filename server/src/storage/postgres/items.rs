//! The item ledger of [`PostgresStorage`](super::PostgresStorage) (`item`: every pushed item
//! id, kept forever with its body hash and how it was answered) and the push batch: one
//! transaction per request, each item in its own savepoint, so an item that fails leaves no
//! trace while the items around it stay. Recording an item id is an insert that does nothing
//! when the id is there: an instance that loses the race for an id rolls its item back and
//! judges it again against the winner's entry, which answers it `duplicate` (or
//! `id_conflict`). A push is first applied with its reads done ahead and its writes at its
//! end (`deferred.rs`), and again item by item only when that loses a race.

use r2d2_postgres::postgres::{Row, Transaction};

use super::deferred::Deferred;
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
    .map(|r| item_columns(&r)?.into_item())
    .transpose()
}

/// An `item` row's columns as the judge sees them.
pub(super) fn item_columns(r: &Row) -> Result<ItemColumns, StorageError> {
    Ok(ItemColumns {
        device_id: get(r, "device_id")?,
        body_hash: get(r, "body_hash")?,
        status: get(r, "status")?,
        code: get(r, "code")?,
        message: get(r, "message")?,
    })
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

/// A push request's transaction. Its punches are applied in one of two ways:
///
/// * **deferred** (the first try of every push): state read ahead and rows written at the
///   end, see `deferred.rs`;
/// * **item by item** (a push applied again after a deferred try lost a race): every item in
///   its own savepoint, released into the transaction when it succeeds and rolled back when
///   it fails.
///
/// Either way the punches it stores get their `punch` rows and feed changes at its end
/// ([`PgBatch::finish`], see [`PendingPunch`]). Approval items run in savepoints in both.
pub(super) struct PgBatch<'a, 'p, 'c> {
    tx: &'a mut Prepared<'p, Transaction<'c>>,
    pending: Vec<PendingPunch>,
    /// `Some` while deferred.
    deferred: Option<Deferred>,
}

impl<'a, 'p, 'c> PgBatch<'a, 'p, 'c> {
    /// A batch whose punches are judged from state read ahead, written at the end.
    pub(super) fn deferred(tx: &'a mut Prepared<'p, Transaction<'c>>) -> Self {
        PgBatch {
            tx,
            pending: Vec::new(),
            deferred: Some(Deferred::default()),
        }
    }

    /// A batch whose every item runs in a savepoint of its own.
    pub(super) fn item_by_item(tx: &'a mut Prepared<'p, Transaction<'c>>) -> Self {
        PgBatch {
            tx,
            pending: Vec::new(),
            deferred: None,
        }
    }

    /// Whether a deferred batch lost a race for an item id or a nonce: roll it back and apply
    /// the push again item by item.
    pub(super) fn lost_race(&self) -> bool {
        self.deferred.as_ref().is_some_and(Deferred::lost_race)
    }

    /// Writes the rows of the punches stored so far; called before the commit.
    pub(super) fn finish(&mut self) -> Result<(), StorageError> {
        match &mut self.deferred {
            Some(deferred) => deferred.flush(self.tx, &mut self.pending),
            None => {
                punches::write_pending(self.tx, &self.pending)?;
                self.pending.clear();
                Ok(())
            }
        }
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
    fn reads_ahead(&self) -> bool {
        self.deferred.is_some()
    }

    fn announce(&mut self, keys: &[ItemKey<'_>]) -> Result<(), StorageError> {
        match &mut self.deferred {
            Some(deferred) => deferred.announce(self.tx, keys),
            None => Ok(()),
        }
    }

    fn apply(
        &mut self,
        key: &ItemKey<'_>,
        judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
    ) -> Result<ItemDecision, StorageError> {
        // The ledger is read after the device row is locked: an instance that waited for the
        // lock sees the item the holder stored (`duplicate`), not only its new head.
        let PgBatch {
            tx,
            pending,
            deferred,
        } = self;
        if let Some(deferred) = deferred {
            return deferred.apply(*tx, key, pending, judge);
        }
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
        if let Some(deferred) = &mut self.deferred {
            deferred.forget_item(key.org_id, key.item_id);
        }
        in_savepoint(self.tx, |item| {
            // The request's lock before its item's ledger entry: a later decision on it waits.
            super::sql::request_lock(item, key.org_id, key.request_id)?;
            let existing = read_item(item, key.org_id, key.item_id)?;
            approvals::apply_on(item, key, existing, judge)
        })
    }
}
