//! Intake of pushed punches (kind `punch`): the exactly-once, integrity, chain and rule checks
//! of one signed punch record. An item of a kind this server does not take comes here too, and
//! is refused at step 2 (after the ledger lookup, so a reused id is still `id_conflict`).
//!
//! For every punch, after the dispatcher's checks (`mod.rs`):
//!
//! 1. **Exactly once.** The item id is looked up in the ledger (kept forever with the SHA-256
//!    of the body's canonical JSON). Same id and body: `duplicate`. Same id, other body or
//!    other device: `rejected` / `id_conflict`.
//! 2. **Integrity**, stored nothing when it fails: `unsupported_kind`, `malformed_record`,
//!    `wrong_device` (record or stream of another device), `bad_signature` (the device's
//!    enrolled key does not verify it, so edits land here), `id_mismatch`. These need nothing
//!    from the database, so they run ahead of the request's transaction ([`precheck`]).
//! 3. **Chain continuity** against the device's stored head: `fork` (a seq already used),
//!    `retry` / `chain_gap` (a later seq: the missing record may still come), `broken_link`.
//! 4. **Rules**, re-run with daka-core on the policy version the record names, at a trusted
//!    judgement time (see [`judgement_time`]), with the organisation's face nonces consumed
//!    forever. The face token's signature, the costly part of them, is checked ahead with
//!    step 2 when the version's engine is built already, so only the rest of the token's
//!    checks (and its nonce) wait for the transaction. A record refused by the server's verdict (or naming an unknown policy version,
//!    or another employee) is stored as a chain link with status `refused` and answered
//!    `rejected` with the first reject code; otherwise it is stored `accepted` or
//!    `field_punch` and answered `accepted`. Either way the device's change feed gets a
//!    `punch_verdict`.
//!
//! Steps 1–4 are decided inside [`ItemBatch::apply`], so two requests racing with the same item
//! or the same chain are serialised by the storage.

use chrono::{DateTime, Duration, Utc};
use daka_core::attempt::Attempt;
use daka_core::evidence::FaceEvidence;
use daka_core::evidence::face_token::{NonceLedger, SignatureChecked};
use daka_core::evidence::spoofing::PreviousPunch;
use daka_core::protocol::{Change, ItemCode, ItemKind, ItemStatus, PushItem, punch_stream};
use daka_core::punch::{ChainHead, ChainLinkError, DeviceVerifier, PunchRecord};
use daka_core::{Decision, Engine, Severity};

use super::answer::{answer, body_hash, rejected};
use super::context::PushContext;
use crate::policies::{EngineError, Engines};
use crate::storage::{
    Answer, DeviceRow, ItemBatch, ItemDecision, ItemKey, ItemState, NewPunch, PunchStatus,
    StorageError,
};

/// How far after receipt a device's judgement time may lie (clock skew between a device's
/// trusted time and the server's).
pub const FUTURE_ALLOWANCE: Duration = Duration::minutes(5);

/// The trusted time a record is judged at: the device's own judgement time
/// (`verdict.evaluated_at`, from its server-time anchor) when it is plausible, that is not
/// before the previous punch's judgement (or the device's enrolment, for its first punch) and
/// not more than [`FUTURE_ALLOWANCE`] after receipt; otherwise the time of receipt.
///
/// A punch made offline is thus judged at the time it was made (face tokens are fresh then),
/// while a device cannot move a punch before its previous one or into the future.
pub fn judgement_time(
    claimed: DateTime<Utc>,
    previous: Option<DateTime<Utc>>,
    enrolled_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
) -> DateTime<Utc> {
    let floor = previous.unwrap_or(enrolled_at - FUTURE_ALLOWANCE);
    if claimed >= floor && claimed <= received_at + FUTURE_ALLOWANCE {
        claimed
    } else {
        received_at
    }
}

/// The result of the integrity checks.
struct Checked {
    record: PunchRecord,
    /// The record hash, which is also the item's body hash.
    hash: String,
    /// The record's canonical JSON, as stored.
    canonical: String,
    /// Its face token's signature, when it verified ahead under the keys of the record's
    /// policy version (whose engine was built already); the verdict checks it otherwise.
    face_signature: Option<SignatureChecked>,
}

/// A punch after the checks that need nothing from the database, which run ahead of the
/// request's transaction: the body hash and the integrity verdict.
pub(super) struct Prechecked {
    body_hash: String,
    checked: Result<Checked, Answer>,
}

/// The checks of a punch that need nothing from the database (step 2).
pub(super) fn precheck(
    item: &PushItem,
    device: &DeviceRow,
    verifier: &DeviceVerifier,
    engines: &Engines,
) -> Prechecked {
    let checked = integrity(item, device, verifier).map(|mut c| {
        let body = &c.record.body;
        if let Some(token) = &body.evidence.face_token
            && let Some(engine) = engines.cached(&device.org_id, body.policy_version)
        {
            c.face_signature = engine.check_face_signature(token);
        }
        c
    });
    let body_hash = match &checked {
        Ok(c) => c.hash.clone(),
        Err(_) => body_hash(&item.body),
    };
    Prechecked { body_hash, checked }
}

/// `verifier` holds `device`'s enrolled key.
fn integrity(
    item: &PushItem,
    device: &DeviceRow,
    verifier: &DeviceVerifier,
) -> Result<Checked, Answer> {
    if ItemKind::parse(&item.kind) != Some(ItemKind::Punch) {
        return Err(rejected(
            ItemCode::UnsupportedKind,
            format!(
                "item kind {:?} is not supported; this server takes \"{}\"",
                short(&item.kind),
                ItemKind::Punch
            ),
        ));
    }
    let read = PunchRecord::read(item.body.get()).map_err(|e| {
        rejected(
            ItemCode::MalformedRecord,
            format!("not a valid punch record: {e}"),
        )
    })?;
    if read.record.body.device_id != device.id || item.stream != punch_stream(&device.id) {
        return Err(rejected(
            ItemCode::WrongDevice,
            format!(
                "the record or stream is not of the authenticated device {}",
                device.id
            ),
        ));
    }
    if let Err(e) = read.verify_with(verifier) {
        return Err(rejected(
            ItemCode::BadSignature,
            format!("the record does not verify with the device's enrolled key: {e}"),
        ));
    }
    if read.record.body.id.to_string() != item.id {
        return Err(rejected(
            ItemCode::IdMismatch,
            format!("the item id is not the record id {}", read.record.body.id),
        ));
    }
    Ok(Checked {
        hash: read.hash(),
        canonical: read.canonical_json().to_owned(),
        record: read.record,
        face_signature: None,
    })
}

fn short(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(64).collect::<String>())
    }
}

/// The punches of one push request, in request order.
#[derive(Default)]
pub(super) struct Punches {
    heads: HeadCache,
}

impl Punches {
    /// Processes one punch after its [`precheck`] (steps 1, 3 and 4): its answer, and whether
    /// it is applied (now or before), which is what lets later items of its stream go ahead.
    pub(super) fn process(
        &mut self,
        ctx: &PushContext<'_>,
        batch: &mut dyn ItemBatch,
        item: &PushItem,
        pre: &Prechecked,
    ) -> Result<(Answer, bool), StorageError> {
        process_item(ctx, batch, &mut self.heads, item, pre)
    }
}

/// The storage key of a punch item: its ledger id, body hash and face nonce (if its record
/// could be read).
pub(super) fn key<'a>(
    device: &'a DeviceRow,
    item: &'a PushItem,
    pre: &'a Prechecked,
) -> ItemKey<'a> {
    ItemKey {
        org_id: &device.org_id,
        device_id: &device.id,
        item_id: &item.id,
        kind: ItemKind::Punch,
        body_hash: &pre.body_hash,
        nonce: pre
            .checked
            .as_ref()
            .ok()
            .and_then(|c| c.record.body.evidence.nonce.as_deref()),
    }
}

fn process_item(
    ctx: &PushContext<'_>,
    batch: &mut dyn ItemBatch,
    heads: &mut HeadCache,
    item: &PushItem,
    pre: &Prechecked,
) -> Result<(Answer, bool), StorageError> {
    let device = ctx.device;
    let body_hash = &pre.body_hash;
    // The engine is looked up before the item's savepoint: policy versions never change once
    // published.
    let checked = match &pre.checked {
        Ok(c) => {
            let version = c.record.body.policy_version;
            let engine = match ctx.engines.get(ctx.storage, &device.org_id, version) {
                Ok(engine) => Ok(engine),
                Err(EngineError::Storage(e)) => return Err(e),
                Err(e) => Err(e.to_string()),
            };
            Ok((c, engine))
        }
        Err(a) => Err(a),
    };
    let key = key(device, item, pre);
    let mut judge = |state: &ItemState| -> ItemDecision {
        if let Some(existing) = &state.existing {
            return ItemDecision::Answer(
                if existing.device_id == device.id && existing.body_hash == *body_hash {
                    Answer {
                        status: ItemStatus::Duplicate,
                        code: existing.code.clone(),
                        message: Some(match existing.status {
                            PunchStatus::Refused => format!(
                                "already received, and refused: {}",
                                existing
                                    .message
                                    .as_deref()
                                    .unwrap_or("see the punch verdict")
                            ),
                            _ => "already received".to_string(),
                        }),
                    }
                } else {
                    rejected(
                        ItemCode::IdConflict,
                        "this item id was already used for a different item",
                    )
                },
            );
        }
        let (checked, engine) = match &checked {
            Ok(c) => c,
            Err(a) => return ItemDecision::Answer((*a).clone()),
        };
        if let Some(a) = chain_check(&checked.record, state) {
            return ItemDecision::Answer(a);
        }
        let engine = match engine {
            Ok(engine) => engine,
            Err(reason) => {
                return refused_link(
                    ctx,
                    checked,
                    ItemCode::UnknownPolicyVersion,
                    reason.clone(),
                    None,
                    state,
                );
            }
        };
        judge_record(ctx, heads, checked, engine, state)
    };
    let decision = batch.apply(&key, &mut judge)?;
    if let (ItemDecision::Store(_), Ok((checked, _))) = (&decision, &checked) {
        heads.stored(&checked.record);
    }
    Ok(match decision {
        ItemDecision::Answer(a) => {
            let applied = a.status == ItemStatus::Duplicate;
            (a, applied)
        }
        ItemDecision::Store(p) => {
            let status = if p.status == PunchStatus::Refused {
                ItemStatus::Rejected
            } else {
                ItemStatus::Accepted
            };
            (
                Answer {
                    status,
                    code: p.code,
                    message: p.message,
                },
                true,
            )
        }
    })
}

/// The device's previous punch as the rules see it, kept from the item stored last in this
/// batch so that a run of punches does not read each one back from its JSON.
#[derive(Default)]
struct HeadCache {
    last: Option<(String, PreviousPunch)>,
}

impl HeadCache {
    fn stored(&mut self, record: &PunchRecord) {
        self.last = Some((
            record.body.id.to_string(),
            PreviousPunch {
                fix: record.body.evidence.fix.clone(),
                clock: Some(record.body.clock.clone()),
            },
        ));
    }

    fn previous(&self, state: &ItemState) -> PreviousPunch {
        let head_id = state.head.as_ref().map(|h| h.punch_id.as_str());
        match &self.last {
            Some((id, previous)) if Some(id.as_str()) == head_id => previous.clone(),
            _ => state
                .head_record
                .as_deref()
                .and_then(|json| PunchRecord::from_json(json).ok())
                .map(|prev| PreviousPunch {
                    fix: prev.body.evidence.fix,
                    clock: Some(prev.body.clock),
                })
                .unwrap_or_default(),
        }
    }
}

/// The chain-link rule ([`ChainHead::check_next`]) against the device's stored head, as push
/// answers: a gap is `retry` (the missing records may still come), a fork or a broken link a
/// permanent refusal.
fn chain_check(record: &PunchRecord, state: &ItemState) -> Option<Answer> {
    let head = match &state.head {
        Some(h) => ChainHead::at(h.seq, h.hash.as_str()),
        None => ChainHead::empty(),
    };
    let err = head.check_next(&record.body).err()?;
    let code = err.push_code();
    Some(match err {
        ChainLinkError::Fork {
            head_seq,
            found_seq,
        } => rejected(
            code,
            format!(
                "seq {found_seq} is already used in this device's chain (stored up to seq {head_seq}); the device key signed two histories"
            ),
        ),
        ChainLinkError::Gap {
            expected_seq,
            found_seq,
        } => answer(
            ItemStatus::Retry,
            code,
            format!("expected seq {expected_seq}, got {found_seq}: send the missing records first"),
        ),
        ChainLinkError::BrokenLink { .. } => rejected(
            code,
            format!(
                "prev_hash is not the hash of the stored record seq {}; the chain was substituted",
                head.seq
            ),
        ),
        // A link rule added to the core later: refused with the core's own explanation.
        other => rejected(code, other.to_string()),
    })
}

fn kind_text(record: &PunchRecord) -> String {
    serde_json::to_value(record.body.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A chain-valid record refused before the rules ran (unknown policy version, another
/// employee, unusable evidence): stored as a refused link.
fn refused_link(
    ctx: &PushContext<'_>,
    checked: &Checked,
    code: ItemCode,
    message: String,
    verdict: Option<String>,
    state: &ItemState,
) -> ItemDecision {
    let record = &checked.record;
    let judged_at = judgement_time(
        record.body.verdict.evaluated_at,
        state.head_judged_at,
        state.enrolled_at,
        ctx.received_at,
    );
    let change = Change::PunchVerdict {
        punch_id: record.body.id.to_string(),
        decision: Decision::Rejected,
        codes: Vec::new(),
    };
    let server_verdict = verdict.unwrap_or_else(|| {
        serde_json::json!({ "decision": Decision::Rejected, "code": code, "message": message })
            .to_string()
    });
    store(
        ctx,
        checked,
        PunchStatus::Refused,
        Some(code.as_str().to_string()),
        Some(message),
        server_verdict,
        judged_at,
        false,
        &change,
    )
}

#[allow(clippy::too_many_arguments)]
fn store(
    ctx: &PushContext<'_>,
    checked: &Checked,
    status: PunchStatus,
    code: Option<String>,
    message: Option<String>,
    server_verdict: String,
    judged_at: DateTime<Utc>,
    consume_nonce: bool,
    change: &Change,
) -> ItemDecision {
    let record = &checked.record;
    // Serialising our own types cannot fail; the fallbacks keep the chain moving regardless.
    let change = serde_json::to_string(change).unwrap_or_default();
    ItemDecision::Store(Box::new(NewPunch {
        seq: record.body.seq,
        hash: checked.hash.clone(),
        employee_id: record.body.employee_id.clone(),
        kind: kind_text(record),
        record: checked.canonical.clone(),
        status,
        code,
        message,
        server_verdict,
        policy_version: record.body.policy_version,
        judged_at,
        received_at: ctx.received_at,
        consume_nonce,
        change,
    }))
}

fn judge_record(
    ctx: &PushContext<'_>,
    heads: &HeadCache,
    checked: &Checked,
    engine: &Engine,
    state: &ItemState,
) -> ItemDecision {
    let record = &checked.record;
    let body = &record.body;
    if body.employee_id != ctx.device.employee_id {
        return refused_link(
            ctx,
            checked,
            ItemCode::WrongEmployee,
            format!(
                "the record is for employee {:?}, but this device is enrolled for {:?}",
                short(&body.employee_id),
                ctx.device.employee_id
            ),
            None,
            state,
        );
    }
    let previous = heads.previous(state);
    let face = match (&body.evidence.face_token, &body.evidence.nonce) {
        (Some(token), Some(nonce)) => Some(FaceEvidence {
            token: token.clone(),
            nonce: nonce.clone(),
        }),
        (Some(token), None) => Some(FaceEvidence {
            token: token.clone(),
            nonce: String::new(),
        }),
        _ => None,
    };
    let attempt = Attempt {
        employee_id: body.employee_id.clone(),
        kind: body.kind,
        fix: body.evidence.fix.clone(),
        more_fixes: body.evidence.more_fixes.clone(),
        wifi_bssids: body.evidence.wifi_bssids.clone(),
        face,
        clock: body.clock.clone(),
        previous,
        anchor: None,
    };
    let judged_at = judgement_time(
        body.verdict.evaluated_at,
        state.head_judged_at,
        state.enrolled_at,
        ctx.received_at,
    );
    let mut ledger = NonceLedger::new();
    if state.nonce_used
        && let Some(nonce) = &body.evidence.nonce
    {
        ledger.consume(nonce);
    }
    let face_signature = checked.face_signature.as_ref();
    let verdict =
        match engine.evaluate_checked(&attempt, Some(judged_at), &mut ledger, face_signature) {
            Ok(v) => v,
            Err(e) => {
                return refused_link(
                    ctx,
                    checked,
                    ItemCode::InvalidEvidence,
                    format!("the record's evidence cannot be evaluated: {e}"),
                    None,
                    state,
                );
            }
        };
    let consume_nonce = !state.nonce_used
        && body
            .evidence
            .nonce
            .as_deref()
            .is_some_and(|n| ledger.is_consumed(n));
    let change = Change::PunchVerdict {
        punch_id: body.id.to_string(),
        decision: verdict.decision,
        codes: verdict.reasons.iter().map(|r| r.code).collect(),
    };
    let verdict_json = serde_json::to_string(&verdict).unwrap_or_default();
    let (status, code, message) = match verdict.decision {
        Decision::Accepted => (PunchStatus::Accepted, None, None),
        Decision::FieldPunch => (
            PunchStatus::FieldPunch,
            None,
            Some("recorded as a field punch for review".to_string()),
        ),
        Decision::Rejected => {
            let first = verdict
                .reasons
                .iter()
                .find(|r| r.severity == Severity::Reject);
            (
                PunchStatus::Refused,
                Some(
                    first
                        .map_or(ItemCode::Rejected.as_str(), |r| r.code.as_str())
                        .to_string(),
                ),
                Some(first.map_or_else(
                    || "refused by the server's verdict".to_string(),
                    |r| r.message.clone(),
                )),
            )
        }
    };
    store(
        ctx,
        checked,
        status,
        code,
        message,
        verdict_json,
        judged_at,
        consume_nonce,
        &change,
    )
}
#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn judgement_time_takes_plausible_device_times_only() {
        let enrolled = t("2026-11-26T00:00:00Z");
        let received = t("2026-11-26T10:00:00Z");
        let prev = Some(t("2026-11-26T08:00:00Z"));
        // Offline punch made between the previous one and receipt: its own time.
        let claimed = t("2026-11-26T09:00:00Z");
        assert_eq!(judgement_time(claimed, prev, enrolled, received), claimed);
        // Slightly ahead of the server (skew): still its own time.
        let ahead = t("2026-11-26T10:04:00Z");
        assert_eq!(judgement_time(ahead, prev, enrolled, received), ahead);
        // Far in the future, or before the previous punch: receipt time.
        assert_eq!(
            judgement_time(t("2026-11-26T10:06:00Z"), prev, enrolled, received),
            received
        );
        assert_eq!(
            judgement_time(t("2026-11-26T07:59:59Z"), prev, enrolled, received),
            received
        );
        // The first punch may not predate enrolment (beyond the allowance).
        assert_eq!(
            judgement_time(t("2026-11-25T23:50:00Z"), None, enrolled, received),
            received
        );
        assert_eq!(
            judgement_time(t("2026-11-25T23:58:00Z"), None, enrolled, received),
            t("2026-11-25T23:58:00Z")
        );
    }
}
