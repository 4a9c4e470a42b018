//! The outbox: punches and submissions waiting to reach the server, in the device's store.
//!
//! The contract (docs/outbox.md):
//!
//! * [`Outbox::enqueue`] returns only after the item is committed with `synchronous=FULL`;
//!   from then on the item survives app kill, OS kill and reboot.
//! * Items leave in order within their stream (a device's punch chain is one stream); streams
//!   are independent, so a stream waiting on backoff or holding an item that needs attention
//!   does not hold up the others.
//! * States: `pending` → `in_flight` (taken for a request) → `delivered` (the server accepted
//!   it, or already had it) or `needs_attention` (permanently rejected, with the server's code
//!   and message, shown to the user) or back to `pending` with a backoff delay.
//! * An item taken but never answered (the app died mid-request) returns to `pending` when
//!   the outbox is opened again: delivery is at-least-once, and the server's id-keyed
//!   deduplication makes the effect exactly-once.
//! * Nothing is dropped: when the queue is full, enqueue fails with [`OutboxError::Full`]
//!   and the caller must tell the user; old items are never evicted to make room.

pub mod backoff;

use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};
pub use backoff::Backoff;

/// Limits and timing of an outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Most undelivered items held; enqueue beyond this fails with [`OutboxError::Full`].
    pub max_items: u64,
    /// Largest payload accepted, in bytes.
    pub max_payload_bytes: usize,
    /// Retry timing after a failed or deferred send (default: a random delay up to 1 s,
    /// the ceiling doubling per attempt up to 15 min).
    pub backoff: Backoff,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_items: 100_000,
            max_payload_bytes: 256 * 1024,
            backoff: Backoff::default(),
        }
    }
}

/// An item to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// Client-generated unique id; the server deduplicates on it forever.
    pub id: String,
    /// Ordering scope: items of one stream leave in enqueue order.
    pub stream: String,
    /// What the payload is (`punch`, `submission`, ...), for the server's routing.
    pub kind: String,
    /// The item as it will be sent.
    pub payload: String,
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Waiting to be sent, now or after its backoff (`next_attempt_ms`).
    Pending,
    /// Taken for a push request whose answer has not been recorded yet; back to `Pending` if
    /// the process dies first.
    InFlight,
    /// The server has it (accepted, or a duplicate of one it had); kept until pruned.
    Delivered,
    /// Permanently refused by the server, with its code and message in
    /// [`OutboxItem::error`]: never retried automatically. Show it to the user; after the
    /// cause is fixed, [`Outbox::requeue`] queues it again.
    NeedsAttention,
}

impl ItemState {
    fn as_sql(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::InFlight => "in_flight",
            ItemState::Delivered => "delivered",
            ItemState::NeedsAttention => "needs_attention",
        }
    }

    fn from_sql(s: &str) -> ItemState {
        match s {
            "in_flight" => ItemState::InFlight,
            "delivered" => ItemState::Delivered,
            "needs_attention" => ItemState::NeedsAttention,
            // The CHECK constraint admits nothing else.
            _ => ItemState::Pending,
        }
    }
}

/// An item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Global enqueue order.
    pub seq: i64,
    /// The id given at enqueue ([`NewItem::id`]): for the engine's items, a punch's or
    /// decision's own id, a request's id for its first submission, a fresh UUID for a
    /// resubmission.
    pub id: String,
    /// The ordering scope given at enqueue, e.g. `punch:{device_id}` or `request:{request_id}`.
    pub stream: String,
    /// What the payload is: `punch`, `request` or `decision` for the items the engine queues.
    pub kind: String,
    /// The item as it is sent, canonical JSON.
    pub payload: String,
    /// Where the item is in its life.
    pub state: ItemState,
    /// Tries so far.
    pub attempts: u32,
    /// Unix ms before which the item is not retried.
    pub next_attempt_ms: i64,
    /// When it was enqueued, in milliseconds since the Unix epoch by the device's wall clock.
    pub created_ms: i64,
    /// For `needs_attention` (and the last retry): the server's code and message.
    pub error: Option<ItemError>,
}

impl OutboxItem {
    /// About what the item adds to a push request: its payload, id, stream and kind, and
    /// 64 bytes for the JSON around them.
    pub fn wire_bytes(&self) -> usize {
        self.payload.len() + self.id.len() + self.stream.len() + self.kind.len() + 64
    }
}

/// A server's reason for not accepting an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemError {
    /// Stable machine code to pick a message by: the server's answer for the item (e.g.
    /// `bad_signature`, `server_busy`, or a verdict code such as `outside_fence`), or the
    /// device's own when the request failed (`network`, `timeout`, `payload_too_large`, ...).
    pub code: String,
    /// Human-readable explanation from the server or the failed request; may be empty.
    pub message: String,
}

/// What became of one sent item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server applied it, or had already applied it (a duplicate counts as delivered).
    Delivered,
    /// Permanently refused: parked as `needs_attention`, never retried automatically.
    Rejected(ItemError),
    /// Try again later; `retry_after_ms` from the server wins over the computed backoff.
    Retry {
        /// The wait the server asked for, in milliseconds (capped at the backoff's
        /// `cap_ms`); `None` to use the computed backoff.
        retry_after_ms: Option<u64>,
        /// Why it must wait, kept on the item for display; `None` when no reason was given.
        error: Option<ItemError>,
    },
}

/// Counts for the app's status UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutboxStats {
    /// Items waiting to be sent, including those waiting out a backoff.
    pub pending: u64,
    /// Items in a push request whose answer has not been recorded yet.
    pub in_flight: u64,
    /// Items the server refused permanently; each needs the user's attention.
    pub needs_attention: u64,
    /// Delivered items still held on the device (until [`Outbox::prune_delivered`]).
    pub delivered: u64,
    /// Age of the oldest undelivered item (pending, in flight or needing attention), in
    /// milliseconds, by the device's wall clock; `None` when there is none.
    pub oldest_undelivered_age_ms: Option<i64>,
}

/// Outbox failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The queue holds [`OutboxConfig::max_items`] undelivered items; nothing was queued.
    /// Tell the user to get online so the queue can drain; nothing is evicted to make room.
    #[error(
        "the offline queue is full ({queued} items waiting, limit {limit}); connect to the network so queued items can be sent"
    )]
    Full {
        /// Undelivered items in the queue (pending, in flight or needing attention).
        queued: u64,
        /// The configured [`OutboxConfig::max_items`].
        limit: u64,
    },
    /// The outbox already holds an item with this id (delivered ones until pruned); nothing
    /// was queued. An id is used once, forever.
    #[error("an item with id {id} is already queued")]
    DuplicateId {
        /// The [`NewItem::id`] that the outbox already holds.
        id: String,
    },
    /// The item's id, stream or kind is empty, longer than 128 bytes or has control
    /// characters, or its payload is over [`OutboxConfig::max_payload_bytes`]; nothing was
    /// queued.
    #[error("{field}: {reason} (got {value})")]
    InvalidItem {
        /// Which field of [`NewItem`]: `id`, `stream`, `kind` or `payload`.
        field: &'static str,
        /// The value given, cut to 80 characters (for a payload, its size in bytes).
        value: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The store failed; see [`StoreError`].
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for OutboxError {
    fn from(e: rusqlite::Error) -> Self {
        OutboxError::Store(StoreError::Sqlite(e))
    }
}

/// The outbox over a store.
#[derive(Debug)]
pub struct Outbox {
    store: Arc<Store>,
    config: OutboxConfig,
    rng: Mutex<fastrand::Rng>,
}

/// The columns [`item_from_row`] reads, over `outbox o JOIN outbox_payload p USING (seq)`.
const ITEM_COLUMNS: &str = "o.seq, o.id, o.stream, o.kind, p.payload, o.state, o.attempts, o.next_attempt_ms, o.created_ms, o.error_code, o.error_message";

fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxItem> {
    let state: String = r.get(5)?;
    let code: Option<String> = r.get(9)?;
    let message: Option<String> = r.get(10)?;
    Ok(OutboxItem {
        seq: r.get(0)?,
        id: r.get(1)?,
        stream: r.get(2)?,
        kind: r.get(3)?,
        payload: r.get(4)?,
        state: ItemState::from_sql(&state),
        attempts: r.get(6)?,
        next_attempt_ms: r.get(7)?,
        created_ms: r.get(8)?,
        error: code.map(|code| ItemError {
            code,
            message: message.unwrap_or_default(),
        }),
    })
}

/// How many values one list-matching statement takes: `IN (?1, …, ?64)`. A batch of 500
/// items is 8 executions of one cached statement; places a short last chunk leaves empty are
/// bound to NULL, which matches no row.
const LIST_CHUNK: usize = 64;

/// `?{first}, ?{first + 1}, …`: the [`LIST_CHUNK`] placeholders of a list that follows
/// `first - 1` other parameters.
fn list_placeholders(first: usize) -> String {
    (first..first + LIST_CHUNK)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `stmt`, whose parameters are `leading` and then a list of [`LIST_CHUNK`] values, over
/// `values` in chunks.
fn execute_for_list<T: rusqlite::ToSql>(
    stmt: &mut rusqlite::CachedStatement<'_>,
    leading: &[&dyn rusqlite::ToSql],
    values: &[T],
) -> rusqlite::Result<()> {
    for chunk in values.chunks(LIST_CHUNK) {
        let mut list: [Option<&T>; LIST_CHUNK] = [None; LIST_CHUNK];
        for (slot, value) in list.iter_mut().zip(chunk) {
            *slot = Some(value);
        }
        stmt.execute(rusqlite::params_from_iter(
            leading
                .iter()
                .copied()
                .chain(list.iter().map(|v| v as &dyn rusqlite::ToSql)),
        ))?;
    }
    Ok(())
}

impl Outbox {
    /// Opens the outbox in `store`. Items left `in_flight` by a previous process (which died
    /// before learning their fate) go back to `pending`.
    pub fn open(store: Arc<Store>, config: OutboxConfig) -> Result<Outbox, OutboxError> {
        store.conn().execute(
            "UPDATE outbox SET state = 'pending' WHERE state = 'in_flight'",
            [],
        )?;
        Ok(Outbox {
            store,
            config,
            rng: Mutex::new(fastrand::Rng::new()),
        })
    }

    /// The store the outbox lives in (shared with the rest of the device).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Durably queues one item; returns its global sequence number after the commit.
    pub fn enqueue(&self, item: &NewItem, now_ms: i64) -> Result<i64, OutboxError> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let seq = self.enqueue_in(&tx, item, now_ms)?;
        tx.commit()?;
        Ok(seq)
    }

    /// Queues one item inside the caller's transaction, so that it commits together with
    /// other state (a punch commits with its chain head).
    pub(crate) fn enqueue_in(
        &self,
        tx: &Transaction<'_>,
        item: &NewItem,
        now_ms: i64,
    ) -> Result<i64, OutboxError> {
        self.validate(item)?;
        let queued: u64 = tx.query_row("SELECT undelivered FROM outbox_count", [], |r| r.get(0))?;
        if queued >= self.config.max_items {
            return Err(OutboxError::Full {
                queued,
                limit: self.config.max_items,
            });
        }
        let inserted = tx
            .prepare_cached(
                "INSERT INTO outbox (id, stream, kind, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![item.id, item.stream, item.kind, now_ms])?;
        if inserted == 0 {
            return Err(OutboxError::DuplicateId {
                id: item.id.clone(),
            });
        }
        let seq = tx.last_insert_rowid();
        tx.prepare_cached("INSERT INTO outbox_payload (seq, payload) VALUES (?1, ?2)")?
            .execute(params![seq, item.payload])?;
        Ok(seq)
    }

    fn validate(&self, item: &NewItem) -> Result<(), OutboxError> {
        let short = |s: &str| s.chars().take(80).collect::<String>();
        for (field, value) in [
            ("id", &item.id),
            ("stream", &item.stream),
            ("kind", &item.kind),
        ] {
            if value.is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
                return Err(OutboxError::InvalidItem {
                    field,
                    value: short(value),
                    reason: "must be 1 to 128 printable bytes".into(),
                });
            }
        }
        if item.payload.len() > self.config.max_payload_bytes {
            return Err(OutboxError::InvalidItem {
                field: "payload",
                value: format!("{} bytes", item.payload.len()),
                reason: format!("an item is at most {} bytes", self.config.max_payload_bytes),
            });
        }
        Ok(())
    }

    /// Takes up to `max` items that may be sent now and marks them `in_flight`.
    ///
    /// The same as [`Outbox::take_batch_within`] with no limit on bytes.
    pub fn take_batch(&self, now_ms: i64, max: usize) -> Result<Vec<OutboxItem>, OutboxError> {
        self.take_batch_within(now_ms, max, usize::MAX)
    }

    /// Takes up to `max` items that may be sent now, stopping before the item that would
    /// bring the batch past `max_bytes` (see [`OutboxItem::wire_bytes`]; the first item is
    /// taken whatever its size), and marks them `in_flight`.
    ///
    /// A stream is eligible when its oldest pending item is due and none of its items is
    /// already in flight; from an eligible stream the items come in order. The result is in
    /// global enqueue order.
    ///
    /// Order within a stream across one batch is kept end to end by the protocol: the server
    /// applies a batch in order and, once it cannot apply an item, answers "retry" for every
    /// later item of the same stream in that batch.
    pub fn take_batch_within(
        &self,
        now_ms: i64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<OutboxItem>, OutboxError> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let items = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM outbox o JOIN outbox_payload p USING (seq)
                 WHERE o.state = 'pending'
                   AND (SELECT h.next_attempt_ms FROM outbox h
                        WHERE h.stream = o.stream AND h.state = 'pending'
                        ORDER BY h.seq LIMIT 1) <= ?1
                   AND NOT EXISTS (SELECT 1 FROM outbox f
                                   WHERE f.stream = o.stream AND f.state = 'in_flight')
                 ORDER BY o.seq LIMIT ?2"
            ))?;
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            let mut items = stmt
                .query_map(params![now_ms, max], item_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            // Cutting a suffix in global order leaves each stream's items a prefix of its
            // queue, so the order within streams holds.
            let mut bytes = 0usize;
            let within = items
                .iter()
                .position(|item| {
                    bytes = bytes.saturating_add(item.wire_bytes());
                    bytes > max_bytes
                })
                .unwrap_or(items.len())
                .max(1);
            items.truncate(within);
            items
        };
        // One statement for many rows: per-row statements cost more than the rows.
        let seqs: Vec<i64> = items.iter().map(|item| item.seq).collect();
        execute_for_list(
            &mut tx.prepare_cached(&format!(
                "UPDATE outbox SET state = 'in_flight', attempts = attempts + 1
                 WHERE seq IN ({})",
                list_placeholders(1)
            ))?,
            &[],
            &seqs,
        )?;
        tx.commit()?;
        Ok(items
            .into_iter()
            .map(|mut i| {
                i.state = ItemState::InFlight;
                i.attempts += 1;
                i
            })
            .collect())
    }

    /// Records the outcome of sent items, all in one transaction. Unknown ids are ignored
    /// (an item can only be answered once).
    pub fn complete(&self, outcomes: &[(String, Outcome)], now_ms: i64) -> Result<(), OutboxError> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        // Deliveries, nearly every outcome, in one statement.
        let delivered = outcomes
            .iter()
            .filter(|(_, outcome)| matches!(outcome, Outcome::Delivered))
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>();
        execute_for_list(
            &mut tx.prepare_cached(&format!(
                "UPDATE outbox SET state = 'delivered', delivered_ms = ?1, error_code = NULL, error_message = NULL
                 WHERE id IN ({}) AND state != 'delivered'",
                list_placeholders(2)
            ))?,
            &[&now_ms],
            &delivered,
        )?;
        for (id, outcome) in outcomes {
            match outcome {
                Outcome::Delivered => {}
                Outcome::Rejected(err) => {
                    tx.prepare_cached(
                        "UPDATE outbox SET state = 'needs_attention', error_code = ?2, error_message = ?3
                         WHERE id = ?1 AND state != 'delivered'",
                    )?
                    .execute(params![id, err.code, err.message])?;
                }
                Outcome::Retry {
                    retry_after_ms,
                    error,
                } => {
                    let attempts: Option<u32> = tx
                        .query_row(
                            "SELECT attempts FROM outbox WHERE id = ?1 AND state != 'delivered'",
                            [id],
                            |r| r.get(0),
                        )
                        .optional()?;
                    let Some(attempts) = attempts else { continue };
                    let delay = self
                        .config
                        .backoff
                        .delay_ms(attempts, *retry_after_ms, &mut rng);
                    let next = now_ms.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
                    tx.execute(
                        "UPDATE outbox SET state = 'pending', next_attempt_ms = ?2, error_code = ?3, error_message = ?4
                         WHERE id = ?1",
                        params![
                            id,
                            next,
                            error.as_ref().map(|e| &e.code),
                            error.as_ref().map(|e| &e.message)
                        ],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Makes pending items whose last attempt failed with one of `codes` eligible now,
    /// leaving every other schedule alone (in particular a server's Retry-After). Returns how
    /// many were moved. For a person's "send now" after the network came back.
    pub fn expedite(&self, codes: &[&str], now_ms: i64) -> Result<u64, OutboxError> {
        let conn = self.store.conn();
        let mut moved = 0;
        let mut stmt = conn.prepare_cached(
            "UPDATE outbox SET next_attempt_ms = ?2
             WHERE state = 'pending' AND error_code = ?1 AND next_attempt_ms > ?2",
        )?;
        for code in codes {
            moved += stmt.execute(params![code, now_ms])? as u64;
        }
        Ok(moved)
    }

    /// Counts by state, and the age of the oldest undelivered item.
    pub fn stats(&self, now_ms: i64) -> Result<OutboxStats, OutboxError> {
        let conn = self.store.conn();
        let mut stats = OutboxStats::default();
        let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM outbox GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            match ItemState::from_sql(&state) {
                ItemState::Pending => stats.pending = n,
                ItemState::InFlight => stats.in_flight = n,
                ItemState::Delivered => stats.delivered = n,
                ItemState::NeedsAttention => stats.needs_attention = n,
            }
        }
        let oldest: Option<i64> = conn.query_row(
            "SELECT min(created_ms) FROM outbox
             WHERE state IN ('pending', 'in_flight', 'needs_attention')",
            [],
            |r| r.get(0),
        )?;
        stats.oldest_undelivered_age_ms = oldest.map(|t| now_ms.saturating_sub(t).max(0));
        Ok(stats)
    }

    /// Items in one state, in enqueue order.
    pub fn items(&self, state: ItemState) -> Result<Vec<OutboxItem>, OutboxError> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM outbox o JOIN outbox_payload p USING (seq)
             WHERE o.state = ?1 ORDER BY o.seq"
        ))?;
        let items = stmt
            .query_map([state.as_sql()], item_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(items)
    }

    /// The payloads of every item of one kind still held (delivered ones until pruned), in
    /// enqueue order.
    pub fn payloads_of_kind(&self, kind: &str) -> Result<Vec<String>, OutboxError> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT p.payload FROM outbox o JOIN outbox_payload p USING (seq)
             WHERE o.kind = ?1 ORDER BY o.seq",
        )?;
        let payloads = stmt
            .query_map([kind], |r| r.get("payload"))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(payloads)
    }

    /// Like [`Outbox::payloads_of_kind`], with whether the server has each item (it was
    /// delivered).
    pub fn payloads_of_kind_delivered(
        &self,
        kind: &str,
    ) -> Result<Vec<(String, bool)>, OutboxError> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT p.payload, o.state = 'delivered' AS delivered
             FROM outbox o JOIN outbox_payload p USING (seq)
             WHERE o.kind = ?1 ORDER BY o.seq",
        )?;
        let payloads = stmt
            .query_map([kind], |r| Ok((r.get("payload")?, r.get("delivered")?)))?
            .collect::<Result<Vec<(String, bool)>, _>>()?;
        Ok(payloads)
    }

    /// Puts a `needs_attention` item back in the queue (after the user or an admin fixed the
    /// cause). Returns whether such an item existed.
    pub fn requeue(&self, id: &str) -> Result<bool, OutboxError> {
        let n = self.store.conn().execute(
            "UPDATE outbox SET state = 'pending', next_attempt_ms = 0, attempts = 0
             WHERE id = ?1 AND state = 'needs_attention'",
            [id],
        )?;
        Ok(n == 1)
    }

    /// Forgets delivered items older than `before_ms`, payloads included (the server keeps
    /// them forever).
    pub fn prune_delivered(&self, before_ms: i64) -> Result<u64, OutboxError> {
        let n = self.store.conn().execute(
            "DELETE FROM outbox WHERE state = 'delivered' AND delivered_ms < ?1",
            [before_ms],
        )?;
        Ok(n as u64)
    }
}
