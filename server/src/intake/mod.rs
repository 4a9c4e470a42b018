//! Intake of pushed items (`POST /v1/push`): the items of one request applied in one storage
//! batch, each item atomic on its own, the whole request committed and flushed to disk once
//! before it is answered (group commit).
//!
//! This file is the dispatcher. For every item, in request order:
//!
//! 1. **Time and load.** An item not started by the request's deadline is answered `retry` /
//!    `server_deadline`, and so is every item after it; once the database is busy after the
//!    first item, the rest are answered `retry` / `server_busy`.
//! 2. **Order within the request.** Once an item of a stream was not applied (answered
//!    `retry`, or rejected without advancing the chain), every later item of that stream in
//!    the same request is answered `retry` / `earlier_item_pending`: the device keeps order.
//! 3. **Dispatch by kind** ([`ItemKind`]), after refusing an empty or overlong item id
//!    (`malformed_record`): `punch` goes to `punch.rs` (exactly once, integrity, chain, rules),
//!    `request` and `decision` to `approval.rs` (exactly once, integrity, the request state
//!    machine). An item of any other kind goes to `punch.rs` too, which refuses it as
//!    `unsupported_kind`.
//!
//! The checks that need nothing from the database (a punch's signature above all) run ahead
//! of the transaction, on the rayon pool (`ahead.rs`). A storage that reads ahead
//! (`ItemBatch::reads_ahead`, PostgreSQL) is given every punch item's key once all of them are
//! checked, and reads their state at once; the others apply each item as soon as its checks
//! are done. The kinds' modules share only
//! `context.rs` (what an item is judged with) and `answer.rs` (answers and the body hash) with
//! each other and with this file.
//!
//! [`ItemKind`]: daka_core::protocol::ItemKind

mod ahead;
mod answer;
pub(crate) mod approval;
mod context;
mod punch;

use std::collections::HashSet;
use std::time::Instant;

use daka_core::protocol::{ItemCode, ItemResult, ItemStatus, PushItem};

use crate::storage::{Answer, ItemBatch, ItemKey, StorageError};
use ahead::{Precheck, Prechecks};
use answer::{answer, rejected};
use approval::Approvals;
pub use context::PushContext;
use punch::Punches;
pub use punch::{FUTURE_ALLOWANCE, judgement_time};

/// Longest item id looked up.
const MAX_ITEM_ID_LEN: usize = 128;

/// Processes a push in one storage batch. `Err` when nothing was applied: the storage failed
/// before any item was answered (a busy database becomes a 503), or failed in a way that rolls
/// the whole batch back. A busy database after the first item answers the rest `retry`.
pub fn process(ctx: &PushContext<'_>, items: &[PushItem]) -> Result<Vec<ItemResult>, StorageError> {
    let mut results = Vec::with_capacity(items.len());
    let prechecks = Prechecks::new(items, ctx.device, ctx.engines);
    rayon::in_place_scope(|scope| {
        for _ in 0..prechecks.helpers() {
            scope.spawn(|_| while prechecks.check_next() {});
        }
        let applied = ctx.storage.apply_batch(&mut |batch| {
            results.clear();
            process_batch(ctx, items, &prechecks, batch, &mut results)
        });
        prechecks.stop();
        applied
    })
    .inspect_err(|e| tracing::warn!(device_id = %ctx.device.id, error = %e, "push not applied"))?;
    let count = |status: ItemStatus| results.iter().filter(|r| r.status == status).count();
    tracing::debug!(
        device_id = %ctx.device.id,
        items = items.len(),
        accepted = count(ItemStatus::Accepted),
        duplicates = count(ItemStatus::Duplicate),
        rejected = count(ItemStatus::Rejected),
        retry = count(ItemStatus::Retry),
        "push applied"
    );
    Ok(results)
}

/// Whether an item id is one the ledger is asked about: 1 to [`MAX_ITEM_ID_LEN`] bytes.
fn well_formed_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ITEM_ID_LEN
}

fn process_batch(
    ctx: &PushContext<'_>,
    items: &[PushItem],
    prechecks: &Prechecks<'_>,
    batch: &mut dyn ItemBatch,
    results: &mut Vec<ItemResult>,
) -> Result<(), StorageError> {
    let mut blocked: HashSet<&str> = HashSet::new();
    let mut stop: Option<(ItemCode, &str)> = None;
    let mut punches = Punches::default();
    let mut approvals = Approvals::default();
    if batch.reads_ahead() {
        // Every punch item's checks first (this thread checks alongside the helpers), then
        // their state read at once.
        let keys: Vec<ItemKey<'_>> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| well_formed_id(&item.id))
            .filter_map(|(i, item)| match prechecks.get(i) {
                Precheck::Punch(pre) => Some(punch::key(ctx.device, item, pre)),
                Precheck::Approval(_) => None,
            })
            .collect();
        batch.announce(&keys)?;
    }
    for (i, item) in items.iter().enumerate() {
        let result = |a: Answer| ItemResult {
            id: item.id.clone(),
            status: a.status,
            code: a.code,
            message: a.message,
        };
        if let Some((code, message)) = stop {
            results.push(result(answer(ItemStatus::Retry, code, message)));
            continue;
        }
        if Instant::now() >= ctx.deadline {
            stop = Some((
                ItemCode::ServerDeadline,
                "the request ran out of time; send it again",
            ));
            results.push(result(answer(
                ItemStatus::Retry,
                ItemCode::ServerDeadline,
                "the request ran out of time; send it again",
            )));
            continue;
        }
        if blocked.contains(item.stream.as_str()) {
            results.push(result(answer(
                ItemStatus::Retry,
                ItemCode::EarlierItemPending,
                "an earlier item of this stream in the same request was not applied",
            )));
            continue;
        }
        let outcome = if !well_formed_id(&item.id) {
            Ok((
                rejected(
                    ItemCode::MalformedRecord,
                    format!("an item id is 1–{MAX_ITEM_ID_LEN} bytes"),
                ),
                false,
            ))
        } else {
            match prechecks.get(i) {
                Precheck::Punch(pre) => punches.process(ctx, batch, item, pre),
                Precheck::Approval(kind) => approvals.process(ctx, batch, *kind, item),
            }
        };
        match outcome {
            Ok((a, applied)) => {
                if !applied {
                    blocked.insert(item.stream.as_str());
                }
                results.push(result(a));
            }
            Err(StorageError::Busy) if i > 0 => {
                stop = Some((
                    ItemCode::ServerBusy,
                    "the database is busy; send it again shortly",
                ));
                results.push(result(answer(
                    ItemStatus::Retry,
                    ItemCode::ServerBusy,
                    "the database is busy; send it again shortly",
                )));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
