//! The item ledger of [`SqliteStorage`](super::SqliteStorage) (`item`: every pushed item id,
//! kept forever with its body hash and how it was answered) and the push batch: one
//! transaction on the writer per request, each item in its own savepoint, so an item that
//! fails leaves no trace while the items around it stay. Storing an item is the punch or
//! approval tables' business (`punches.rs`, `approvals.rs`, which record the item id in the
//! ledger with what they store); this file reads the ledger entry and runs the savepoints
//! around them.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::approvals;
use super::punches::{self, DeviceChain};
use super::sql::{cached_execute, cached_row, map_err};
use crate::storage::{
    ApprovalDecision, ApprovalKey, ApprovalState, ItemBatch, ItemDecision, ItemKey, ItemState,
    PunchStatus, StorageError, StoredItem,
};

/// An `item` row as the judge sees it.
pub(in crate::storage) struct ItemColumns {
    pub(in crate::storage) device_id: String,
    pub(in crate::storage) body_hash: String,
    pub(in crate::storage) status: String,
    pub(in crate::storage) code: Option<String>,
    pub(in crate::storage) message: Option<String>,
}

impl ItemColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<ItemColumns> {
        Ok(ItemColumns {
            device_id: r.get("device_id")?,
            body_hash: r.get("body_hash")?,
            status: r.get("status")?,
            code: r.get("code")?,
            message: r.get("message")?,
        })
    }

    pub(in crate::storage) fn into_item(self) -> Result<StoredItem, StorageError> {
        Ok(StoredItem {
            device_id: self.device_id,
            body_hash: self.body_hash,
            status: PunchStatus::parse(&self.status)
                .ok_or_else(|| StorageError::Corrupt(format!("item status {:?}", self.status)))?,
            code: self.code,
            message: self.message,
        })
    }
}

/// The ledger entry of an item id, if it was seen before.
pub(super) fn read_item(
    conn: &Connection,
    org_id: &str,
    item_id: &str,
) -> Result<Option<StoredItem>, StorageError> {
    cached_row(
        conn,
        "SELECT device_id, body_hash, status, code, message FROM item
                 WHERE org_id = ?1 AND item_id = ?2",
        params![org_id, item_id],
        ItemColumns::from_row,
    )
    .optional()
    .map_err(map_err)?
    .map(ItemColumns::into_item)
    .transpose()
}

/// A push request's transaction on the writer connection; every item runs in its own
/// savepoint, released into the transaction when it succeeds and rolled back when it fails.
pub(super) struct SqliteBatch<'c> {
    pub(super) tx: rusqlite::Transaction<'c>,
    /// The chain of the device whose item was applied last, as the transaction has it now.
    chain: Option<DeviceChain>,
}

impl<'c> SqliteBatch<'c> {
    pub(super) fn new(tx: rusqlite::Transaction<'c>) -> SqliteBatch<'c> {
        SqliteBatch { tx, chain: None }
    }
}

impl ItemBatch for SqliteBatch<'_> {
    fn apply(
        &mut self,
        key: &ItemKey<'_>,
        judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
    ) -> Result<ItemDecision, StorageError> {
        // Taken out for the item: if it fails and rolls back, the next item reads afresh.
        let cached = self.chain.take();
        let savepoint = ItemSavepoint::open(&self.tx)?;
        let existing = read_item(&self.tx, key.org_id, key.item_id)?;
        let (decision, chain) = punches::apply_on(&self.tx, key, existing, cached, judge)?;
        savepoint.release()?;
        self.chain = Some(chain);
        Ok(decision)
    }

    fn apply_approval(
        &mut self,
        key: &ApprovalKey<'_>,
        judge: &mut dyn FnMut(&ApprovalState) -> ApprovalDecision,
    ) -> Result<ApprovalDecision, StorageError> {
        self.chain = None;
        let savepoint = ItemSavepoint::open(&self.tx)?;
        let existing = read_item(&self.tx, key.org_id, key.item_id)?;
        let decision = approvals::apply_on(&self.tx, key, existing, judge)?;
        savepoint.release()?;
        Ok(decision)
    }
}

/// One item's savepoint, opened and released through cached statements (a push runs one per
/// item, and parsing `SAVEPOINT` afresh each time showed in profiles). Dropped without
/// [`ItemSavepoint::release`], it rolls the item back and leaves the transaction as it was.
pub(super) struct ItemSavepoint<'c> {
    conn: &'c Connection,
    released: bool,
}

impl<'c> ItemSavepoint<'c> {
    pub(super) fn open(conn: &'c Connection) -> Result<ItemSavepoint<'c>, StorageError> {
        cached_execute(conn, "SAVEPOINT item", []).map_err(map_err)?;
        Ok(ItemSavepoint {
            conn,
            released: false,
        })
    }

    pub(super) fn release(mut self) -> Result<(), StorageError> {
        cached_execute(self.conn, "RELEASE item", []).map_err(map_err)?;
        self.released = true;
        Ok(())
    }
}

impl Drop for ItemSavepoint<'_> {
    fn drop(&mut self) {
        if !self.released {
            // Rolling back to a savepoint takes no new lock and does not fail in practice;
            // like rusqlite's own savepoint guard, a drop has nowhere to report an error.
            let _ = self.conn.execute_batch("ROLLBACK TO item; RELEASE item;");
        }
    }
}
