//! A push's punches applied with their reads done ahead and their writes deferred to the end
//! of the push, so that a push of a hundred punches costs about a dozen statements (each a
//! round trip to the database) instead of ten a punch.
//!
//! When the request's punch items are announced ([`Deferred::announce`]), their devices are
//! locked (`FOR UPDATE`, in id order) and each one's chain head record and highest stored
//! sequence number read, then the ledger entries of their item ids and their face nonces, one
//! statement each. Every item is then judged from that state as the push moves it: a stored
//! punch becomes the device's head for the next item, its id a ledger entry, its nonce used.
//! Its ledger entry, nonce, attendance mark and the device's new head are written when the
//! push ends ([`Deferred::flush`], one statement each), followed by the punch rows and feed
//! changes as in the item-by-item path (`punches::write_pending`).
//!
//! A device's own items cannot be raced: its row stays locked from before its ledger entries
//! are read until the commit. What another device's push can take meanwhile, an item id or a
//! face nonce, is found when written: the ledger or nonce insert adds fewer rows than it was
//! given. That is a lost race: [`Deferred::lost_race`] is set, the push's transaction rolls
//! back, and the push is applied again item by item (`items.rs`), which judges each item
//! against what is there. The decisions are those of the item-by-item path in every other
//! case: an item not announced is read on its own, and a record at a sequence number already
//! taken fails that item alone.

use std::collections::{BTreeMap, HashMap};

use super::devices::read_device;
use super::items::{item_columns, read_item};
use super::punches::{self, PendingPunch};
use super::sql::{Run, exec, get, map_rows, ms, one_row, signed, storable, time};
use crate::storage::{
    ChainHead, ItemDecision, ItemKey, ItemState, PunchStatus, StorageError, StoredItem,
};

/// The ledger entries of a push's item ids (`$2`) in an organisation (`$1`), each key looked
/// up in the primary key, one index probe a key (`LATERAL … LIMIT 1` keeps the lookup per
/// key). `item_id = ANY($2)` reads the same rows, but the generic plan a prepared statement
/// settles on while the table is small (a new organisation, or before autovacuum's first
/// ANALYZE) scans every row of the organisation and filters them: 250 ms for 100 keys among
/// 200,000 rows, against under 1 ms, and the plan is kept as the table grows.
const READ_ITEMS: &str = "SELECT i.item_id, i.device_id, i.body_hash, i.status, i.code, i.message
     FROM unnest($2::text[]) AS k(item_id)
     CROSS JOIN LATERAL (SELECT * FROM item
         WHERE org_id = $1 AND item_id = k.item_id LIMIT 1) AS i";

/// The face nonces of a push (`$2`) already used in an organisation (`$1`), looked up as
/// [`READ_ITEMS`] looks up the items.
const READ_NONCES: &str = "SELECT n.nonce FROM unnest($2::text[]) AS k(nonce)
     CROSS JOIN LATERAL (SELECT nonce FROM face_nonce
         WHERE org_id = $1 AND nonce = k.nonce LIMIT 1) AS n";

/// An organisation and an id within it (a device, an item id, a nonce).
type Scoped = (String, String);

fn scoped(org_id: &str, id: &str) -> Scoped {
    (org_id.to_owned(), id.to_owned())
}

/// A device this push has locked.
struct Locked {
    /// What its next item is judged with; `existing` and `nonce_used` are set per item.
    state: ItemState,
    /// The highest sequence number among its stored punches when it was locked: a record
    /// numbered at or below it may find its number taken.
    stored_max_seq: Option<i64>,
    /// Whether the push moved its chain head, to be written at the end.
    moved: bool,
}

/// An `item` row to insert.
struct ItemRow {
    org_id: String,
    item_id: String,
    device_id: String,
    kind: &'static str,
    body_hash: String,
    status: &'static str,
    code: Option<String>,
    message: Option<String>,
    received_ms: i64,
}

/// A `face_nonce` row to insert.
struct NonceRow {
    org_id: String,
    nonce: String,
    punch_id: String,
    used_ms: i64,
}

/// An `attendance_dirty` row to insert: a stored punch's day, to recompute after the commit.
struct MarkRow {
    org_id: String,
    employee_id: String,
    cause: String,
    at_ms: i64,
    created_ms: i64,
}

/// The state a push's punches are judged with, and the rows they will write.
#[derive(Default)]
pub(super) struct Deferred {
    devices: HashMap<Scoped, Locked>,
    /// Ledger entries by item id: read ahead or on an item's first use (`None`: not in the
    /// ledger then), or recorded by this push.
    ledger: HashMap<Scoped, Option<StoredItem>>,
    /// Face nonces, whether used: read ahead or on an item's first use, or consumed by this
    /// push.
    nonces: HashMap<Scoped, bool>,
    items: Vec<ItemRow>,
    nonce_rows: Vec<NonceRow>,
    marks: Vec<MarkRow>,
    lost_race: bool,
}

impl Deferred {
    /// Whether another transaction took an item id or a face nonce this push had judged free
    /// (see the file header): the transaction must be rolled back and the push applied again.
    pub(super) fn lost_race(&self) -> bool {
        self.lost_race
    }

    /// Locks the keys' devices and reads their items' ledger entries and face nonces.
    pub(super) fn announce(
        &mut self,
        c: &mut impl Run,
        keys: &[ItemKey<'_>],
    ) -> Result<(), StorageError> {
        let mut devices: Vec<(&str, &str)> = keys.iter().map(|k| (k.device_id, k.org_id)).collect();
        devices.sort_unstable();
        devices.dedup();
        for (device_id, org_id) in devices {
            self.lock(c, &scoped(org_id, device_id))?;
        }
        // By organisation; a value PostgreSQL text cannot hold is left to be read on its own
        // (nothing stored equals it).
        let mut ids: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut nonces: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for k in keys {
            if storable(&[&k.item_id]).is_ok() {
                ids.entry(k.org_id).or_default().push(k.item_id);
            }
            if let Some(nonce) = k.nonce.filter(|n| storable(&[n]).is_ok()) {
                nonces.entry(k.org_id).or_default().push(nonce);
            }
        }
        for (org_id, ids) in ids {
            let found = map_rows(c, READ_ITEMS, &[&org_id, &ids], |r| {
                Ok((get::<String>(r, "item_id")?, item_columns(r)?.into_item()?))
            })?;
            let mut found: HashMap<String, StoredItem> = found.into_iter().collect();
            for id in ids {
                self.ledger
                    .entry(scoped(org_id, id))
                    .or_insert_with(|| found.remove(id));
            }
        }
        for (org_id, nonces) in nonces {
            let used: Vec<String> =
                map_rows(c, READ_NONCES, &[&org_id, &nonces], |r| get(r, "nonce"))?;
            for nonce in nonces {
                let is_used = used.iter().any(|u| u == nonce);
                self.nonces.entry(scoped(org_id, nonce)).or_insert(is_used);
            }
        }
        Ok(())
    }

    /// Locks a device (`(org_id, device_id)`) and reads its chain head, unless this push has
    /// already.
    fn lock(&mut self, c: &mut impl Run, device: &Scoped) -> Result<(), StorageError> {
        if !self.devices.contains_key(device) {
            let locked = read_locked(c, &device.0, &device.1)?;
            self.devices.insert(device.clone(), locked);
        }
        Ok(())
    }

    /// Forgets what is known of an item id: an approval item was applied under it, and a
    /// later item of the push reads it again.
    pub(super) fn forget_item(&mut self, org_id: &str, item_id: &str) {
        self.ledger.remove(&scoped(org_id, item_id));
    }

    /// `ItemBatch::apply`: the item judged from the push's state; a punch it stores becomes
    /// its device's head, its rows written at [`Deferred::flush`] (`pending` holds its punch).
    pub(super) fn apply(
        &mut self,
        c: &mut impl Run,
        key: &ItemKey<'_>,
        pending: &mut Vec<PendingPunch>,
        judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
    ) -> Result<ItemDecision, StorageError> {
        let device = scoped(key.org_id, key.device_id);
        self.lock(c, &device)?;
        let item = scoped(key.org_id, key.item_id);
        let existing = match self.ledger.get(&item) {
            Some(entry) => entry.clone(),
            None => {
                let entry = read_item(c, key.org_id, key.item_id)?;
                self.ledger.insert(item.clone(), entry.clone());
                entry
            }
        };
        let nonce_used = match key.nonce {
            None => false,
            Some(nonce) => match self.nonces.get(&scoped(key.org_id, nonce)) {
                Some(used) => *used,
                None => {
                    let used = punches::nonce_used(c, key.org_id, nonce)?;
                    self.nonces.insert(scoped(key.org_id, nonce), used);
                    used
                }
            },
        };
        let locked = self.devices.get_mut(&device).ok_or_else(|| {
            StorageError::Corrupt(format!("device {:?} not locked", key.device_id))
        })?;
        locked.state.existing = existing;
        locked.state.nonce_used = nonce_used;
        let decision = judge(&locked.state);
        let ItemDecision::Store(punch) = &decision else {
            return Ok(decision);
        };
        // A second record at a number fails its item, not the push, as item by item: the
        // push's own punches are in `pending`, the stored ones at or below the highest number
        // read when the device was locked.
        let seq = signed(punch.seq)?;
        let taken = pending
            .iter()
            .any(|p| p.is_at(key.org_id, key.device_id, punch.seq))
            || (locked.stored_max_seq.is_some_and(|max| seq <= max)
                && stored_at(c, key.device_id, seq)?);
        if taken {
            return Err(punches::seq_taken(key, punch.seq));
        }
        // What the rows will hold, checked now: a value that cannot be stored fails this item.
        storable(&[&key.item_id, &key.body_hash, &punch.message])?;
        punches::pending_storable(punch)?;
        let received_ms = ms(punch.received_at);
        self.items.push(ItemRow {
            org_id: key.org_id.to_owned(),
            item_id: key.item_id.to_owned(),
            device_id: key.device_id.to_owned(),
            kind: key.kind.as_str(),
            body_hash: key.body_hash.to_owned(),
            status: punch.status.as_str(),
            code: punch.code.clone(),
            message: punch.message.clone(),
            received_ms,
        });
        if punch.consume_nonce
            && let Some(nonce) = key.nonce
        {
            self.nonce_rows.push(NonceRow {
                org_id: key.org_id.to_owned(),
                nonce: nonce.to_owned(),
                punch_id: key.item_id.to_owned(),
                used_ms: received_ms,
            });
            self.nonces.insert(scoped(key.org_id, nonce), true);
        }
        if punch.status != PunchStatus::Refused {
            // Its day is recomputed right after the commit (or at the next start).
            self.marks.push(MarkRow {
                org_id: key.org_id.to_owned(),
                employee_id: punch.employee_id.clone(),
                cause: format!("punch:{}", key.item_id),
                at_ms: ms(punch.judged_at),
                created_ms: received_ms,
            });
        }
        self.ledger.insert(
            item,
            Some(StoredItem {
                device_id: key.device_id.to_owned(),
                body_hash: key.body_hash.to_owned(),
                status: punch.status,
                code: punch.code.clone(),
                message: punch.message.clone(),
            }),
        );
        locked.state.head = Some(ChainHead {
            seq: punch.seq,
            hash: punch.hash.clone(),
            punch_id: key.item_id.to_owned(),
        });
        locked.state.head_record = Some(punch.record.clone());
        locked.state.head_judged_at = Some(punch.judged_at);
        locked.moved = true;
        pending.push(PendingPunch::new(key, punch));
        Ok(decision)
    }

    /// Writes what the push stored since the last flush: ledger entries, nonces, attendance
    /// marks and chain heads, then the punch rows and feed changes of `pending` (emptied).
    /// `Err(Busy)` with [`Deferred::lost_race`] set when another transaction took an item id
    /// or a nonce first.
    pub(super) fn flush(
        &mut self,
        c: &mut impl Run,
        pending: &mut Vec<PendingPunch>,
    ) -> Result<(), StorageError> {
        if !self.items.is_empty() {
            let rows = &self.items;
            let text = |f: fn(&ItemRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
            let optional = |f: fn(&ItemRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<_>>();
            let added = exec(
                c,
                "INSERT INTO item (org_id, item_id, device_id, kind, body_hash, status, code,
                   message, received_ms)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                   $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
                 ON CONFLICT (org_id, item_id) DO NOTHING",
                &[
                    &text(|r| &r.org_id),
                    &text(|r| &r.item_id),
                    &text(|r| &r.device_id),
                    &text(|r| r.kind),
                    &text(|r| &r.body_hash),
                    &text(|r| r.status),
                    &optional(|r| r.code.as_deref()),
                    &optional(|r| r.message.as_deref()),
                    &rows.iter().map(|r| r.received_ms).collect::<Vec<i64>>(),
                ],
            )?;
            if added != rows.len() as u64 {
                return self.lost();
            }
        }
        if !self.nonce_rows.is_empty() {
            let rows = &self.nonce_rows;
            let text = |f: fn(&NonceRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
            let added = exec(
                c,
                "INSERT INTO face_nonce (org_id, nonce, punch_id, used_ms)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT (org_id, nonce) DO NOTHING",
                &[
                    &text(|r| &r.org_id),
                    &text(|r| &r.nonce),
                    &text(|r| &r.punch_id),
                    &rows.iter().map(|r| r.used_ms).collect::<Vec<i64>>(),
                ],
            )?;
            if added != rows.len() as u64 {
                return self.lost();
            }
        }
        if !self.marks.is_empty() {
            let rows = &self.marks;
            let text = |f: fn(&MarkRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
            let number = |f: fn(&MarkRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
            // In the order the punches were stored: the queue is taken in `seq` order.
            exec(
                c,
                "INSERT INTO attendance_dirty (org_id, employee_id, cause, at_ms, created_ms)
                 SELECT org_id, employee_id, cause, at_ms, created_ms
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                   WITH ORDINALITY AS m(org_id, employee_id, cause, at_ms, created_ms, n)
                 ORDER BY n",
                &[
                    &text(|r| &r.org_id),
                    &text(|r| &r.employee_id),
                    &text(|r| &r.cause),
                    &number(|r| r.at_ms),
                    &number(|r| r.created_ms),
                ],
            )?;
        }
        for ((_, device_id), locked) in &mut self.devices {
            let Some(head) = locked.state.head.as_ref().filter(|_| locked.moved) else {
                continue;
            };
            let moved = exec(
                c,
                "UPDATE device SET head_seq = $2, head_hash = $3, head_punch_id = $4 WHERE id = $1",
                &[device_id, &signed(head.seq)?, &head.hash, &head.punch_id],
            )?;
            if moved != 1 {
                return Err(StorageError::Corrupt(format!(
                    "device {device_id:?} was locked but its head was not written"
                )));
            }
            // Its punches up to the head are about to be stored (`pending`, written below):
            // a later record of the push at one of their numbers is checked against them.
            let head_seq = signed(head.seq)?;
            locked.stored_max_seq =
                Some(locked.stored_max_seq.map_or(head_seq, |m| m.max(head_seq)));
            locked.moved = false;
        }
        punches::write_pending(c, pending)?;
        pending.clear();
        self.items.clear();
        self.nonce_rows.clear();
        self.marks.clear();
        Ok(())
    }

    fn lost(&mut self) -> Result<(), StorageError> {
        self.lost_race = true;
        Err(StorageError::Busy)
    }
}

/// Locks a device's row and reads its chain head, the head's record, and the highest
/// sequence number among its stored punches.
fn read_locked(c: &mut impl Run, org_id: &str, device_id: &str) -> Result<Locked, StorageError> {
    let device = read_device(
        c,
        "WHERE d.id = $1 AND d.org_id = $2 FOR UPDATE OF d",
        &[&device_id, &org_id],
    )?
    .ok_or_else(|| StorageError::Conflict(format!("no device {device_id:?}")))?;
    let head_id = device.head.as_ref().map(|h| h.punch_id.as_str());
    let r = one_row(
        c,
        "SELECT h.record AS record, h.judged_ms AS judged_ms,
           (SELECT max(seq) FROM punch WHERE device_id = $3) AS max_seq
         FROM (SELECT 1) AS one
         LEFT JOIN punch h ON h.org_id = $1 AND h.punch_id = $2",
        &[&org_id, &head_id, &device_id],
    )?;
    let record: Option<String> = get(&r, "record")?;
    let judged_ms: Option<i64> = get(&r, "judged_ms")?;
    let (head_record, head_judged_at) = match (head_id, record, judged_ms) {
        (None, _, _) => (None, None),
        (Some(_), Some(record), Some(judged)) => (Some(record), Some(time(judged)?)),
        (Some(id), _, _) => {
            return Err(StorageError::Corrupt(format!(
                "device {device_id:?}: its chain head, punch {id:?}, is not stored"
            )));
        }
    };
    Ok(Locked {
        state: ItemState {
            existing: None,
            head: device.head,
            head_record,
            head_judged_at,
            enrolled_at: device.enrolled_at,
            nonce_used: false,
        },
        stored_max_seq: get(&r, "max_seq")?,
        moved: false,
    })
}

/// Whether the device has a stored punch at `seq`.
fn stored_at(c: &mut impl Run, device_id: &str, seq: i64) -> Result<bool, StorageError> {
    get(
        &one_row(
            c,
            "SELECT EXISTS (SELECT 1 FROM punch WHERE device_id = $1 AND seq = $2) AS taken",
            &[&device_id, &seq],
        )?,
        "taken",
    )
}

#[cfg(test)]
mod tests {
    use super::{READ_ITEMS, READ_NONCES};

    /// On PostgreSQL only (`DAKA_TEST_POSTGRES`): the reads ahead of a push look each key up
    /// in the index in the generic plan a prepared statement settles on, made while the
    /// tables hold a few hundred rows of one organisation and were never analysed (with
    /// `= ANY($2)`, that plan reads every row of the organisation and filters them).
    #[test]
    fn the_reads_ahead_probe_the_index_a_key_at_a_time_in_a_generic_plan() {
        let Some(url) = super::super::test_database() else {
            return;
        };
        let mut client = super::super::connect(&url).unwrap();
        // Temporary tables of the same keys shadow any of the schema, for this session only.
        client
            .batch_execute(
                "CREATE TEMP TABLE item (org_id TEXT COLLATE \"C\" NOT NULL,
                     item_id TEXT COLLATE \"C\" NOT NULL, device_id TEXT, body_hash TEXT,
                     status TEXT, code TEXT, message TEXT, PRIMARY KEY (org_id, item_id));
                 CREATE TEMP TABLE face_nonce (org_id TEXT COLLATE \"C\" NOT NULL,
                     nonce TEXT COLLATE \"C\" NOT NULL, UNIQUE (org_id, nonce));
                 INSERT INTO item SELECT 'o', md5(i::text), 'd', 'h', 'accepted', NULL, NULL
                     FROM generate_series(1, 300) i;
                 INSERT INTO face_nonce SELECT 'o', md5(i::text) FROM generate_series(1, 300) i;
                 SET plan_cache_mode = force_generic_plan;",
            )
            .unwrap();
        for (name, sql, key) in [
            ("items", READ_ITEMS, "k.item_id"),
            ("nonces", READ_NONCES, "k.nonce"),
        ] {
            client
                .batch_execute(&format!("PREPARE {name}(text, text[]) AS {sql}"))
                .unwrap();
            let plan: Vec<String> = client
                .query(&format!("EXPLAIN EXECUTE {name}('o', '{{a,b}}')"), &[])
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            let plan = plan.join("\n");
            assert!(
                plan.contains("Index") && plan.contains(&format!("= {key})")),
                "{name}: {plan}"
            );
            assert!(!plan.contains("Filter"), "{name}: {plan}");
        }
    }
}
