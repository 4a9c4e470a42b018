//! The punch tables of [`SqliteStorage`](super::SqliteStorage): storing a judged punch as its
//! device's new chain head (`punch`, the device's head columns, `face_nonce`, the change for
//! the device's feed) inside a push's item savepoint, and the reads behind the admin API
//! (punch lists with their field-punch reviews, a device's whole chain). Every query filters
//! on `org_id`.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, params};

use super::attendance;
use super::devices::read_device;
use super::sql::{cached_execute, cached_row, cached_rows, map_err, ms, signed, time, unsigned};
use crate::storage::{
    AttendanceMark, ChainHead, ItemDecision, ItemKey, ItemState, PunchFilter, PunchStatus,
    StorageError, StoredItem, StoredPunch,
};

/// What judging a device's next punch needs from the database: its chain head (with the head
/// record and when it was judged) and its enrolment time. A push batch keeps the chain as its
/// last item left it, because the next item is nearly always the same device's.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DeviceChain {
    device_id: String,
    org_id: String,
    head: Option<ChainHead>,
    head_record: Option<String>,
    head_judged_at: Option<DateTime<Utc>>,
    enrolled_at: DateTime<Utc>,
}

/// The body of `ItemBatch::apply` inside its savepoint `tx`, given the item id's ledger
/// entry; the caller commits. `cached` is the device's chain as the batch's previous item left
/// it, if that item was this device's; the result is the chain as this item leaves it.
pub(super) fn apply_on(
    tx: &Connection,
    key: &ItemKey<'_>,
    existing: Option<StoredItem>,
    cached: Option<DeviceChain>,
    judge: &mut dyn FnMut(&ItemState) -> ItemDecision,
) -> Result<(ItemDecision, DeviceChain), StorageError> {
    let chain = match cached {
        Some(chain) if chain.device_id == key.device_id && chain.org_id == key.org_id => chain,
        _ => read_chain(tx, key)?,
    };
    let nonce_used = match key.nonce {
        Some(nonce) => cached_row(
            tx,
            "SELECT EXISTS (SELECT 1 FROM face_nonce WHERE org_id = ?1 AND nonce = ?2)",
            params![key.org_id, nonce],
            |r| r.get(0),
        )
        .map_err(map_err)?,
        None => false,
    };
    let mut state = ItemState {
        existing,
        head: chain.head,
        head_record: chain.head_record,
        head_judged_at: chain.head_judged_at,
        enrolled_at: chain.enrolled_at,
        nonce_used,
    };
    let decision = judge(&state);
    if let ItemDecision::Store(punch) = &decision {
        let received = ms(punch.received_at);
        cached_execute(tx, "INSERT INTO item (org_id, item_id, device_id, kind, body_hash, status, code, message, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", params![
                key.org_id,
                key.item_id,
                key.device_id,
                key.kind.as_str(),
                key.body_hash,
                punch.status.as_str(),
                punch.code,
                punch.message,
                received
            ],
        )
        .map_err(map_err)?;
        cached_execute(
            tx,
            "INSERT INTO punch (org_id, punch_id, device_id, seq, hash, employee_id, kind, record,
               status, code, server_verdict, policy_version, judged_ms, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                key.org_id,
                key.item_id,
                key.device_id,
                signed(punch.seq)?,
                punch.hash,
                punch.employee_id,
                punch.kind,
                punch.record,
                punch.status.as_str(),
                punch.code,
                punch.server_verdict,
                signed(punch.policy_version)?,
                ms(punch.judged_at),
                received
            ],
        )
        .map_err(map_err)?;
        if punch.status != PunchStatus::Refused {
            // Its day is recomputed right after the commit (or at the next start).
            attendance::insert_mark(
                tx,
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
        cached_execute(
            tx,
            "UPDATE device SET head_seq = ?2, head_hash = ?3, head_punch_id = ?4 WHERE id = ?1",
            params![key.device_id, signed(punch.seq)?, punch.hash, key.item_id],
        )
        .map_err(map_err)?;
        if punch.consume_nonce
            && let Some(nonce) = key.nonce
        {
            cached_execute(
                tx,
                "INSERT INTO face_nonce (org_id, nonce, punch_id, used_ms) VALUES (?1, ?2, ?3, ?4)",
                params![key.org_id, nonce, key.item_id, received],
            )
            .map_err(map_err)?;
        }
        cached_execute(
            tx,
            "INSERT INTO change (org_id, device_id, body, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![key.org_id, key.device_id, punch.change, received],
        )
        .map_err(map_err)?;
        state.head = Some(ChainHead {
            seq: punch.seq,
            hash: punch.hash.clone(),
            punch_id: key.item_id.to_string(),
        });
        state.head_record = Some(punch.record.clone());
        // As read back from the table: to the millisecond.
        state.head_judged_at = Some(time(ms(punch.judged_at))?);
    }
    let chain = DeviceChain {
        device_id: key.device_id.to_string(),
        org_id: key.org_id.to_string(),
        head: state.head,
        head_record: state.head_record,
        head_judged_at: state.head_judged_at,
        enrolled_at: state.enrolled_at,
    };
    Ok((decision, chain))
}

/// The head record of a chain and when it was judged.
pub(in crate::storage) struct HeadColumns {
    pub(in crate::storage) record: String,
    pub(in crate::storage) judged_ms: i64,
}

impl HeadColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<HeadColumns> {
        Ok(HeadColumns {
            record: r.get("record")?,
            judged_ms: r.get("judged_ms")?,
        })
    }
}

/// A device's chain from the database.
fn read_chain(tx: &Connection, key: &ItemKey<'_>) -> Result<DeviceChain, StorageError> {
    let device = read_device(
        tx,
        "WHERE d.id = ?1 AND d.org_id = ?2",
        &[&key.device_id, &key.org_id],
    )?
    .ok_or_else(|| StorageError::Conflict(format!("no device {:?}", key.device_id)))?;
    let (head_record, head_judged_at) = match &device.head {
        Some(head) => {
            let columns = cached_row(
                tx,
                "SELECT record, judged_ms FROM punch WHERE org_id = ?1 AND punch_id = ?2",
                params![key.org_id, head.punch_id],
                HeadColumns::from_row,
            )
            .map_err(map_err)?;
            (Some(columns.record), Some(time(columns.judged_ms)?))
        }
        None => (None, None),
    };
    Ok(DeviceChain {
        device_id: device.id,
        org_id: device.org_id,
        head: device.head,
        head_record,
        head_judged_at,
        enrolled_at: device.enrolled_at,
    })
}

/// A `punch` row with its review's outcome, as stored.
pub(in crate::storage) struct PunchColumns {
    pub(in crate::storage) row: i64,
    pub(in crate::storage) punch_id: String,
    pub(in crate::storage) device_id: String,
    pub(in crate::storage) employee_id: String,
    pub(in crate::storage) seq: i64,
    pub(in crate::storage) kind: String,
    pub(in crate::storage) status: String,
    pub(in crate::storage) code: Option<String>,
    pub(in crate::storage) server_verdict: String,
    pub(in crate::storage) policy_version: i64,
    pub(in crate::storage) judged_ms: i64,
    pub(in crate::storage) received_ms: i64,
    pub(in crate::storage) review: Option<String>,
}

impl PunchColumns {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<PunchColumns> {
        Ok(PunchColumns {
            row: r.get("row")?,
            punch_id: r.get("punch_id")?,
            device_id: r.get("device_id")?,
            employee_id: r.get("employee_id")?,
            seq: r.get("seq")?,
            kind: r.get("kind")?,
            status: r.get("status")?,
            code: r.get("code")?,
            server_verdict: r.get("server_verdict")?,
            policy_version: r.get("policy_version")?,
            judged_ms: r.get("judged_ms")?,
            received_ms: r.get("received_ms")?,
            review: r.get("review")?,
        })
    }

    pub(in crate::storage) fn into_punch(self) -> Result<StoredPunch, StorageError> {
        Ok(StoredPunch {
            row: self.row,
            punch_id: self.punch_id,
            device_id: self.device_id,
            employee_id: self.employee_id,
            seq: unsigned(self.seq, "seq")?,
            kind: self.kind,
            status: PunchStatus::parse(&self.status)
                .ok_or_else(|| StorageError::Corrupt(format!("punch status {:?}", self.status)))?,
            code: self.code,
            server_verdict: self.server_verdict,
            policy_version: unsigned(self.policy_version, "policy version")?,
            judged_at: time(self.judged_ms)?,
            received_at: time(self.received_ms)?,
            review: self.review,
        })
    }
}

pub(super) fn punches(
    conn: &Connection,
    org_id: &str,
    filter: &PunchFilter,
) -> Result<Vec<StoredPunch>, StorageError> {
    cached_rows(
        conn,
        "SELECT p.row AS row, p.punch_id AS punch_id, p.device_id AS device_id,
                p.employee_id AS employee_id, p.seq AS seq, p.kind AS kind, p.status AS status,
                p.code AS code, p.server_verdict AS server_verdict,
                p.policy_version AS policy_version, p.judged_ms AS judged_ms,
                p.received_ms AS received_ms, r.outcome AS review
         FROM punch p
         LEFT JOIN punch_review r ON r.org_id = p.org_id AND r.punch_id = p.punch_id
         WHERE p.org_id = ?1 AND (?2 IS NULL OR p.device_id = ?2)
           AND (?3 IS NULL OR p.status = ?3) AND p.row > ?4
         ORDER BY p.row LIMIT ?5",
        params![
            org_id,
            filter.device_id,
            filter.status.map(PunchStatus::as_str),
            filter.after,
            filter.limit
        ],
        PunchColumns::from_row,
        PunchColumns::into_punch,
    )
}

pub(super) fn chain_records(
    conn: &Connection,
    org_id: &str,
    device_id: &str,
) -> Result<Vec<String>, StorageError> {
    cached_rows(
        conn,
        "SELECT record FROM punch WHERE org_id = ?1 AND device_id = ?2 ORDER BY seq",
        params![org_id, device_id],
        |r| r.get("record"),
        Ok,
    )
}

/// One punch by its record id, with the record as received.
pub(super) fn punch_with_record(
    conn: &Connection,
    org_id: &str,
    punch_id: &str,
) -> Result<Option<(StoredPunch, String)>, StorageError> {
    let rows = cached_rows(
        conn,
        "SELECT p.row AS row, p.punch_id AS punch_id, p.device_id AS device_id,
                p.employee_id AS employee_id, p.seq AS seq, p.kind AS kind, p.status AS status,
                p.code AS code, p.server_verdict AS server_verdict,
                p.policy_version AS policy_version, p.judged_ms AS judged_ms,
                p.received_ms AS received_ms, r.outcome AS review, p.record AS record
         FROM punch p
         LEFT JOIN punch_review r ON r.org_id = p.org_id AND r.punch_id = p.punch_id
         WHERE p.org_id = ?1 AND p.punch_id = ?2",
        params![org_id, punch_id],
        |r| Ok((PunchColumns::from_row(r)?, r.get::<_, String>("record")?)),
        |(c, record)| Ok((c.into_punch()?, record)),
    )?;
    Ok(rows.into_iter().next())
}
