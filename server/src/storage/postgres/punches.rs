//! The punch tables of [`PostgresStorage`](super::PostgresStorage): storing a judged punch as
//! its device's new chain head (the device's head columns and `face_nonce` inside a push's
//! item savepoint; its `punch` row and the change for the device's feed when the push ends,
//! see [`PendingPunch`]), and the reads behind the admin API. The device's row is locked
//! (`FOR UPDATE`) before its chain head is read, so pushes of one device through several
//! instances extend its chain one at a time. Every query filters on `org_id`.

use r2d2_postgres::postgres::Row;

use super::attendance;
use super::devices::read_device;
use super::items::{NewItem, insert_item};
use super::sql::{Run, exec, feed_lock, get, limit, map_rows, ms, one_row, signed, storable, time};
use crate::storage::sqlite::punches::PunchColumns;
use crate::storage::{
    AttendanceMark, ItemDecision, ItemKey, ItemState, NewPunch, PunchFilter, PunchStatus,
    StorageError, StoredPunch,
};

/// A punch stored by a push whose `punch` row and feed change are written when the push ends
/// ([`write_pending`]), all in one statement each. Those rows are numbered in commit order
/// under the change feed's lock (see `sql.rs`), which is then held from the end of the push
/// to its commit, not from its first punch: pushes of different devices run side by side up
/// to there. Until then, a later item of the push that needs the row (its device's chain
/// head) finds it here.
pub(super) struct PendingPunch {
    org_id: String,
    punch_id: String,
    device_id: String,
    punch: NewPunch,
}

/// The body of `ItemBatch::apply` inside its savepoint `c`, `pending` holding the punches the
/// push stored before: the decision, and the punch whose rows are still to write. `None` when
/// another transaction recorded the item id or consumed the face nonce between the judgement
/// and the write: the caller rolls the item back and judges it again.
pub(super) fn apply_on(
    c: &mut impl Run,
    key: &ItemKey<'_>,
    pending: &[PendingPunch],
    judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
) -> Result<Option<(ItemDecision, Option<PendingPunch>)>, StorageError> {
    let device = read_device(
        c,
        "WHERE d.id = $1 AND d.org_id = $2 FOR UPDATE OF d",
        &[&key.device_id, &key.org_id],
    )?
    .ok_or_else(|| StorageError::Conflict(format!("no device {:?}", key.device_id)))?;
    let existing = super::items::read_item(c, key.org_id, key.item_id)?;
    let head_pending = device.head.as_ref().and_then(|head| {
        pending
            .iter()
            .rev()
            .find(|p| p.org_id == key.org_id && p.punch_id == head.punch_id)
    });
    let (head_record, head_judged_at) = match (&device.head, head_pending) {
        (Some(_), Some(p)) => (Some(p.punch.record.clone()), Some(p.punch.judged_at)),
        (Some(head), None) => {
            let r = one_row(
                c,
                "SELECT record, judged_ms FROM punch WHERE org_id = $1 AND punch_id = $2",
                &[&key.org_id, &head.punch_id],
            )?;
            (Some(get(&r, "record")?), Some(time(get(&r, "judged_ms")?)?))
        }
        (None, _) => (None, None),
    };
    let nonce_used = match key.nonce {
        Some(nonce) => nonce_used(c, key.org_id, nonce)?,
        None => false,
    };
    let state = ItemState {
        existing,
        head: device.head,
        head_record,
        head_judged_at,
        enrolled_at: device.enrolled_at,
        nonce_used,
    };
    let decision = judge(&state);
    let ItemDecision::Store(punch) = &decision else {
        return Ok(Some((decision, None)));
    };
    let received = ms(punch.received_at);
    let recorded = insert_item(
        c,
        &NewItem {
            org_id: key.org_id,
            item_id: key.item_id,
            device_id: key.device_id,
            kind: key.kind.as_str(),
            body_hash: key.body_hash,
            status: punch.status.as_str(),
            code: punch.code.as_deref(),
            message: punch.message.as_deref(),
            received_ms: received,
        },
    )?;
    if !recorded {
        return Ok(None);
    }
    if punch.consume_nonce
        && let Some(nonce) = key.nonce
    {
        let consumed = exec(
            c,
            "INSERT INTO face_nonce (org_id, nonce, punch_id, used_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, nonce) DO NOTHING",
            &[&key.org_id, &nonce, &key.item_id, &received],
        )?;
        if consumed == 0 {
            return Ok(None);
        }
    }
    if punch.status != PunchStatus::Refused {
        // Its day is recomputed right after the commit (or at the next start).
        attendance::insert_mark(
            c,
            &AttendanceMark {
                seq: 0,
                org_id: key.org_id.to_owned(),
                employee_id: Some(punch.employee_id.clone()),
                cause: format!("punch:{}", key.item_id),
                at: Some(punch.judged_at),
                days: None,
            },
            punch.received_at,
        )?;
    }
    // The device's punches are unique by sequence number (`UNIQUE (device_id, seq)`), which
    // the row written at the end of the push would find only then: checked here, against the
    // stored punches (in the same statement as the new head) and the push's pending ones, so
    // that a second record at a number fails its item, not the push.
    let taken = pending
        .iter()
        .any(|p| p.is_at(key.org_id, key.device_id, punch.seq));
    let moved = !taken
        && exec(
            c,
            "UPDATE device SET head_seq = $2, head_hash = $3, head_punch_id = $4 WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM punch WHERE device_id = $1 AND seq = $2)",
            &[
                &key.device_id,
                &signed(punch.seq)?,
                &punch.hash,
                &key.item_id,
            ],
        )? == 1;
    if !moved {
        return Err(seq_taken(key, punch.seq));
    }
    // What the punch row and the change will hold, checked now: a value that cannot be
    // stored fails this item, not the push.
    pending_storable(punch)?;
    let pending = PendingPunch::new(key, punch);
    Ok(Some((decision, Some(pending))))
}

impl PendingPunch {
    /// The punch of item `key`, to be written when the push ends.
    pub(super) fn new(key: &ItemKey<'_>, punch: &NewPunch) -> PendingPunch {
        PendingPunch {
            org_id: key.org_id.to_owned(),
            punch_id: key.item_id.to_owned(),
            device_id: key.device_id.to_owned(),
            punch: punch.clone(),
        }
    }

    /// Whether it is the device's punch at `seq`.
    pub(super) fn is_at(&self, org_id: &str, device_id: &str, seq: u64) -> bool {
        self.org_id == org_id && self.device_id == device_id && self.punch.seq == seq
    }
}

/// Whether what a punch's row and change will hold can be stored: checked when the punch is
/// stored, so that a value that cannot be fails its item, not the push at its end.
pub(super) fn pending_storable(punch: &NewPunch) -> Result<(), StorageError> {
    storable(&[
        &punch.hash,
        &punch.employee_id,
        &punch.kind,
        &punch.record,
        &punch.code,
        &punch.server_verdict,
        &punch.change,
    ])
}

/// The error of an item whose record's sequence number the device has a punch at already:
/// the item fails, the push goes on.
pub(super) fn seq_taken(key: &ItemKey<'_>, seq: u64) -> StorageError {
    StorageError::Database(format!(
        "device {:?} has a punch at seq {seq} already (punch {:?} not stored)",
        key.device_id, key.item_id
    ))
}

/// Whether a face nonce was consumed in the organisation.
pub(super) fn nonce_used(
    c: &mut impl Run,
    org_id: &str,
    nonce: &str,
) -> Result<bool, StorageError> {
    get(
        &one_row(
            c,
            "SELECT EXISTS (SELECT 1 FROM face_nonce WHERE org_id = $1 AND nonce = $2) AS used",
            &[&org_id, &nonce],
        )?,
        "used",
    )
}

/// Writes the `punch` rows and feed changes of a push's [`PendingPunch`]es, in the order they
/// were stored, under the change feed's lock (held until the transaction ends).
pub(super) fn write_pending(
    c: &mut impl Run,
    pending: &[PendingPunch],
) -> Result<(), StorageError> {
    if pending.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&PendingPunch) -> &str| pending.iter().map(f).collect::<Vec<&str>>();
    let number = |f: fn(&PendingPunch) -> Result<i64, StorageError>| {
        pending.iter().map(f).collect::<Result<Vec<i64>, _>>()
    };
    let org_ids = text(|p| &p.org_id);
    let device_ids = text(|p| &p.device_id);
    let received = number(|p| Ok(ms(p.punch.received_at)))?;
    let codes: Vec<Option<&str>> = pending.iter().map(|p| p.punch.code.as_deref()).collect();
    // Punch rows and changes are numbered in commit order (see `sql.rs`).
    feed_lock(c)?;
    exec(
        c,
        "INSERT INTO punch (org_id, punch_id, device_id, seq, hash, employee_id, kind, record,
           status, code, server_verdict, policy_version, judged_ms, received_ms)
         SELECT org_id, punch_id, device_id, seq, hash, employee_id, kind, record, status, code,
           server_verdict, policy_version, judged_ms, received_ms
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
           $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[],
           $13::bigint[], $14::bigint[])
           WITH ORDINALITY AS p(org_id, punch_id, device_id, seq, hash, employee_id, kind, record,
             status, code, server_verdict, policy_version, judged_ms, received_ms, n)
         ORDER BY n",
        &[
            &org_ids,
            &text(|p| &p.punch_id),
            &device_ids,
            &number(|p| signed(p.punch.seq))?,
            &text(|p| &p.punch.hash),
            &text(|p| &p.punch.employee_id),
            &text(|p| &p.punch.kind),
            &text(|p| &p.punch.record),
            &text(|p| p.punch.status.as_str()),
            &codes,
            &text(|p| &p.punch.server_verdict),
            &number(|p| signed(p.punch.policy_version))?,
            &number(|p| Ok(ms(p.punch.judged_at)))?,
            &received,
        ],
    )?;
    exec(
        c,
        "INSERT INTO change (org_id, device_id, body, created_ms)
         SELECT org_id, device_id, body, created_ms
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
           WITH ORDINALITY AS c(org_id, device_id, body, created_ms, n)
         ORDER BY n",
        &[&org_ids, &device_ids, &text(|p| &p.punch.change), &received],
    )?;
    Ok(())
}

fn punch_columns(r: &Row) -> Result<PunchColumns, StorageError> {
    Ok(PunchColumns {
        row: get(r, "row")?,
        punch_id: get(r, "punch_id")?,
        device_id: get(r, "device_id")?,
        employee_id: get(r, "employee_id")?,
        seq: get(r, "seq")?,
        kind: get(r, "kind")?,
        status: get(r, "status")?,
        code: get(r, "code")?,
        server_verdict: get(r, "server_verdict")?,
        policy_version: get(r, "policy_version")?,
        judged_ms: get(r, "judged_ms")?,
        received_ms: get(r, "received_ms")?,
        review: get(r, "review")?,
    })
}

/// The columns [`punch_columns`] reads, over `punch p` joined to its review `r` (the record
/// only where it is asked for: a page of the listing would otherwise carry every record).
macro_rules! punch_select {
    ($($record:literal)?) => {
        concat!(
            "SELECT p.\"row\" AS \"row\", p.punch_id AS punch_id,
                p.device_id AS device_id, p.employee_id AS employee_id, p.seq AS seq,
                p.kind AS kind, p.status AS status, p.code AS code,
                p.server_verdict AS server_verdict, p.policy_version AS policy_version,
                p.judged_ms AS judged_ms, p.received_ms AS received_ms, r.outcome AS review",
            $($record,)?
            " FROM punch p
             LEFT JOIN punch_review r ON r.org_id = p.org_id AND r.punch_id = p.punch_id"
        )
    };
}
const PUNCH_SELECT: &str = punch_select!();
const PUNCH_WITH_RECORD_SELECT: &str = punch_select!(", p.record AS record");

pub(super) fn punches(
    c: &mut impl Run,
    org_id: &str,
    filter: &PunchFilter,
) -> Result<Vec<StoredPunch>, StorageError> {
    map_rows(
        c,
        &format!(
            "{PUNCH_SELECT}
             WHERE p.org_id = $1 AND ($2::text IS NULL OR p.device_id = $2)
               AND ($3::text IS NULL OR p.status = $3) AND p.\"row\" > $4
             ORDER BY p.\"row\" LIMIT $5"
        ),
        &[
            &org_id,
            &filter.device_id,
            &filter.status.map(PunchStatus::as_str),
            &filter.after,
            &limit(filter.limit),
        ],
        |r| punch_columns(r)?.into_punch(),
    )
}

pub(super) fn chain_records(
    c: &mut impl Run,
    org_id: &str,
    device_id: &str,
) -> Result<Vec<String>, StorageError> {
    map_rows(
        c,
        "SELECT record FROM punch WHERE org_id = $1 AND device_id = $2 ORDER BY seq",
        &[&org_id, &device_id],
        |r| get(r, "record"),
    )
}

/// One punch by its record id, with the record as received.
pub(super) fn punch_with_record(
    c: &mut impl Run,
    org_id: &str,
    punch_id: &str,
) -> Result<Option<(StoredPunch, String)>, StorageError> {
    let rows = map_rows(
        c,
        &format!("{PUNCH_WITH_RECORD_SELECT} WHERE p.org_id = $1 AND p.punch_id = $2"),
        &[&org_id, &punch_id],
        |r| Ok((punch_columns(r)?.into_punch()?, get(r, "record")?)),
    )?;
    Ok(rows.into_iter().next())
}
