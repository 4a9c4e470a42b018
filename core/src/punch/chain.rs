//! Appending to a device's chain, verifying chains, and reading exported logs.
//!
//! A device's punches form one chain: `seq` counts 1, 2, 3, … and each record's `prev_hash` is
//! the hash of the record before it, so the signature on a record also covers everything
//! before it. [`PunchChain`] is the writer's state (next seq, last hash); [`verify_chain`] and
//! [`verify_chain_from`] are the reader's check. The verifier walks the records in the order
//! presented and stops at the first record that does not follow from the ones before it, so
//! the index it names is the first place the log goes wrong:
//!
//! | what happened to the log              | reported as                                      |
//! |---------------------------------------|--------------------------------------------------|
//! | a field edited in record *i*          | `bad_signature` at *i* (an edit cannot be told from a forgery) |
//! | record *i* deleted (not the last)     | `gap` at *i*, the record that followed it        |
//! | the first record(s) deleted           | `not_genesis` at 0, unless an anchor is given    |
//! | records *i* < *j* swapped             | `out_of_order` at *i*                            |
//! | a second signed record with seq *s*   | `fork` at the later of the two                   |
//! | the same record twice                 | `duplicate_record` at the second copy            |
//! | a record chained to a substituted one | `broken_link`                                    |
//! | the last record(s) deleted            | nothing: see below                               |
//!
//! Truncation at the end cannot be seen in the log alone: a prefix of a valid chain is a valid
//! chain. The verifier returns a [`ChainSummary`] (count, last seq, head hash); the server
//! compares it with the head it stored when it last accepted punches from the device, and
//! continues verification from that head with [`verify_chain_from`] and a [`ChainAnchor`].
//!
//! Whether one record continues the one before is the rule of `head.rs` ([`ChainHead`]); this
//! file applies it along a log and tells, from the rest of the log, a fork from a duplicate, a
//! gap from a reordering.
//!
//! Nothing here stores, sends or schedules records: the outbox does.

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Utc};
use uuid::{NoContext, Timestamp, Uuid};

use super::head::{ChainHead, ChainLinkError};
use super::kind::PunchKind;
use super::record::{
    DeviceSigner, PunchBody, PunchError, PunchEvidence, PunchRecord, RECORD_FORMAT, RecordError,
    record_hash,
};
use super::recorded::RecordedVerdict;
use crate::canonical::MAX_SAFE_INTEGER;
use crate::evidence::DeviceClock;
use crate::signed::DeviceVerifier;

/// Everything the app decides for a new punch; the chain adds `format`, `id`, `device_id`,
/// `seq`, `prev_hash` and `sig`.
///
/// The verdict is the record's own [`RecordedVerdict`], or anything that converts into one,
/// such as the evaluator's [`Verdict`](crate::verdict::Verdict) as the device has it.
#[derive(Debug, Clone, PartialEq)]
pub struct PunchDraft<V = RecordedVerdict> {
    /// What the punch is: in, out, a break's start or end, or a field punch.
    pub kind: PunchKind,
    /// The employee who punched, as the policy lists them (e.g. `E1001`); non-empty.
    pub employee_id: String,
    /// What the device observed, kept so the server can judge the punch again.
    pub evidence: PunchEvidence,
    /// The device's clocks at the attempt.
    pub clock: DeviceClock,
    /// Last known server-minus-device offset in milliseconds, if any sync happened.
    pub server_offset_ms: Option<i64>,
    /// Version of the policy the verdict was reached under.
    pub policy_version: u64,
    /// The device's verdict on the attempt.
    pub verdict: V,
    /// The trusted time of the punch (server anchor plus monotonic time), used for the
    /// timestamp in the UUIDv7 id so ids sort by when punches really happened.
    pub id_time: DateTime<Utc>,
}

/// The writer's state of a device's chain: the device id, the next sequence number and the
/// hash of the last record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PunchChain {
    device_id: String,
    head: ChainHead,
}

impl PunchChain {
    /// An empty chain: the next record is the genesis record, seq 1.
    pub fn new(device_id: impl Into<String>) -> Self {
        PunchChain {
            device_id: device_id.into(),
            head: ChainHead::empty(),
        }
    }

    /// Continues a chain after its last stored record (the newest record in the device's
    /// outbox or history). The record is the device's own and is not re-verified here; its
    /// format rules are checked, and an invalid record is refused.
    pub fn resume(last: &PunchRecord) -> Result<Self, PunchError> {
        last.body
            .validate()
            .map_err(PunchError::InvalidLastRecord)?;
        let hash = last.hash().map_err(PunchError::InvalidLastRecord)?;
        Ok(PunchChain {
            device_id: last.body.device_id.clone(),
            head: ChainHead::at(last.body.seq, hash),
        })
    }

    /// The device id every record of this chain carries.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The seq the next appended record gets.
    pub fn next_seq(&self) -> u64 {
        self.head.next_seq()
    }

    /// The hash of the last record, `None` for an empty chain.
    pub fn last_hash(&self) -> Option<&str> {
        self.head.hash.as_deref()
    }

    /// The chain's head: the seq and hash of its last record.
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// Makes, signs and links the next record. The chain advances only on success.
    pub fn append<V: Into<RecordedVerdict>>(
        &mut self,
        draft: PunchDraft<V>,
        signer: &DeviceSigner,
    ) -> Result<PunchRecord, PunchError> {
        self.append_with_json(draft, signer)
            .map(|(record, _)| record)
    }

    /// [`PunchChain::append`], also giving the record's canonical JSON
    /// ([`PunchRecord::to_json`]), the form to store and send. The record is written out once:
    /// its signed bytes, its JSON and its hash all come from that one write.
    pub fn append_with_json<V: Into<RecordedVerdict>>(
        &mut self,
        draft: PunchDraft<V>,
        signer: &DeviceSigner,
    ) -> Result<(PunchRecord, String), PunchError> {
        let seq = self.head.next_seq();
        if seq > MAX_SAFE_INTEGER {
            return Err(PunchError::ChainExhausted);
        }
        let id = v7_id(&draft.id_time).map_err(PunchError::InvalidDraft)?;
        let body = PunchBody {
            format: RECORD_FORMAT,
            id,
            device_id: self.device_id.clone(),
            seq,
            prev_hash: self.head.hash.clone(),
            kind: draft.kind,
            employee_id: draft.employee_id,
            evidence: draft.evidence,
            clock: draft.clock,
            server_offset_ms: draft.server_offset_ms,
            policy_version: draft.policy_version,
            verdict: draft.verdict.into(),
        };
        let (record, json) =
            PunchRecord::sign_to_json(body, signer).map_err(PunchError::InvalidDraft)?;
        self.head = ChainHead::at(seq, record_hash(json.as_bytes()));
        Ok((record, json))
    }
}

/// A UUIDv7 for a punch made at `time`: 48 bits of Unix milliseconds, 74 random bits.
fn v7_id(time: &DateTime<Utc>) -> Result<Uuid, RecordError> {
    let secs = u64::try_from(time.timestamp())
        .ok()
        .filter(|s| *s < 253_402_300_800);
    let Some(secs) = secs else {
        return Err(RecordError::InvalidField {
            field: "id_time".into(),
            reason: format!("{time} is outside 1970–9999, which a UUIDv7 timestamp cannot carry"),
        });
    };
    Ok(Uuid::new_v7(Timestamp::from_unix(
        NoContext,
        secs,
        time.timestamp_subsec_nanos().min(999_999_999),
    )))
}

/// A verified point of a device's chain, stored by the server, from which later records are
/// verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainAnchor {
    /// The device whose chain it is; a record for another device id fails as `wrong_device`.
    pub device_id: String,
    /// Seq of the last verified record.
    pub seq: u64,
    /// Hash of the last verified record.
    pub hash: String,
}

/// What a verified chain ends with. Compare `last_seq` and `head_hash` with the head you know
/// (the server's stored head, or the device's own) to detect records deleted at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// The device of the chain; `None` only for an empty log verified without an anchor.
    pub device_id: Option<String>,
    /// Number of records verified.
    pub count: usize,
    /// Seq of the last record (the anchor's seq if no record was given; 0 for nothing).
    pub last_seq: u64,
    /// Hash of the last record (or the anchor's).
    pub head_hash: Option<String>,
}

impl ChainSummary {
    /// The anchor to verify the next records of this device from.
    pub fn anchor(&self) -> Option<ChainAnchor> {
        Some(ChainAnchor {
            device_id: self.device_id.clone()?,
            seq: self.last_seq,
            hash: self.head_hash.clone()?,
        })
    }
}

/// Where a chain first goes wrong: the record's position in the presented log, its seq and
/// id, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {index} (seq {seq}, id {id}): {kind}")]
pub struct ChainError {
    /// Position of the record in the log as presented (0-based).
    pub index: usize,
    /// The record's `seq`, as it carries it.
    pub seq: u64,
    /// The record's `id`.
    pub id: Uuid,
    /// What is wrong, with a stable [`code`](ChainErrorKind::code).
    pub kind: ChainErrorKind,
}

impl ChainError {
    /// The stable machine code of the failure.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

/// What is wrong with a record of a chain. Each has a stable [`code`](ChainErrorKind::code).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainErrorKind {
    /// The record is of a format version this library does not read.
    UnsupportedFormat {
        /// The record's `format`.
        found: u32,
    },
    /// The record breaks a rule of the format (seq 0, a malformed `prev_hash`, …).
    Malformed {
        /// The rule broken, naming the field.
        error: RecordError,
    },
    /// The signature does not verify: the record was edited or not signed by this key.
    BadSignature,
    /// Validly signed, but for another device id than the chain's.
    WrongDevice {
        /// The chain's device id: the anchor's, or else the first record's.
        expected: String,
        /// The device id this record carries.
        found: String,
    },
    /// The log does not start at seq 1 and no anchor was given.
    NotGenesis {
        /// The seq the log starts at.
        found_seq: u64,
    },
    /// Records before this one are missing.
    Gap {
        /// The seq that should have come next.
        expected_seq: u64,
        /// This record's seq.
        found_seq: u64,
    },
    /// A later record comes before the expected one, which appears further on.
    OutOfOrder {
        /// The seq that should have come next, found later in the log.
        expected_seq: u64,
        /// This record's seq.
        found_seq: u64,
    },
    /// A second, different, validly signed record with a seq already seen.
    Fork {
        /// The seq both records carry.
        seq: u64,
        /// Position of the first record with that seq in the log (0-based).
        first_index: usize,
    },
    /// An exact copy of an earlier record.
    DuplicateRecord {
        /// The seq of both copies.
        seq: u64,
        /// Position of the first copy in the log (0-based).
        first_index: usize,
    },
    /// A record at or before the anchor the verification started from.
    BeforeAnchor {
        /// The seq of the anchor the verification started from.
        anchor_seq: u64,
        /// This record's seq, at or before the anchor's.
        found_seq: u64,
    },
    /// `prev_hash` is not the hash of the record before.
    BrokenLink {
        /// Hash of the record before (lower-case hex SHA-256); `None` when there is none.
        expected_hash: Option<String>,
        /// This record's `prev_hash`.
        found_hash: Option<String>,
    },
    /// The id is already used by an earlier record of the chain.
    DuplicateId {
        /// Position of the earlier record with the same id in the log (0-based).
        first_index: usize,
    },
}

impl ChainErrorKind {
    /// The stable machine code, e.g. `"bad_signature"`.
    pub fn code(&self) -> &'static str {
        match self {
            ChainErrorKind::UnsupportedFormat { .. } => "unsupported_format",
            ChainErrorKind::Malformed { .. } => "malformed_record",
            ChainErrorKind::BadSignature => "bad_signature",
            ChainErrorKind::WrongDevice { .. } => "wrong_device",
            ChainErrorKind::NotGenesis { .. } => "not_genesis",
            ChainErrorKind::Gap { .. } => "gap",
            ChainErrorKind::OutOfOrder { .. } => "out_of_order",
            ChainErrorKind::Fork { .. } => "fork",
            ChainErrorKind::DuplicateRecord { .. } => "duplicate_record",
            ChainErrorKind::BeforeAnchor { .. } => "before_anchor",
            ChainErrorKind::BrokenLink { .. } => "broken_link",
            ChainErrorKind::DuplicateId { .. } => "duplicate_id",
        }
    }
}

impl fmt::Display for ChainErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        match self {
            ChainErrorKind::UnsupportedFormat { found } => write!(
                f,
                "{code}: record format {found} is not format {RECORD_FORMAT}; upgrade daka-core \
                 to a version that reads it"
            ),
            ChainErrorKind::Malformed { error } => write!(
                f,
                "{code}: {error}; daka never writes such a record, so treat the log as tampered"
            ),
            ChainErrorKind::BadSignature => write!(
                f,
                "{code}: the signature does not verify with the device's public key, so the \
                 record was changed after signing or signed by another key (an edit cannot be \
                 told from a forgery); do not trust it, and fetch the original from the device \
                 or the server's copy"
            ),
            ChainErrorKind::WrongDevice { expected, found } => write!(
                f,
                "{code}: signed for device `{found}` in the chain of device `{expected}` with \
                 the same key; one key serves two device ids (a re-enrolment that kept its key?): \
                 verify each device's log on its own and re-enrol with a fresh key"
            ),
            ChainErrorKind::NotGenesis { found_seq } => write!(
                f,
                "{code}: the log starts at seq {found_seq}, not 1, so earlier records are \
                 missing; export the whole chain, or verify from the server's stored anchor"
            ),
            ChainErrorKind::Gap {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "{code}: expected seq {expected_seq}, found {found_seq}: {} record(s) missing \
                 before this one (deleted, or not exported); fetch them from the device",
                found_seq - expected_seq
            ),
            ChainErrorKind::OutOfOrder {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "{code}: expected seq {expected_seq}, found {found_seq}, and seq {expected_seq} \
                 comes later in the log: records were reordered; export the log in chain order"
            ),
            ChainErrorKind::Fork { seq, first_index } => write!(
                f,
                "{code}: a second, different record with seq {seq} (the first is record \
                 {first_index}), both signed by the device key: the key signed two histories \
                 (a cloned device, or a reinstalled app reusing its key); revoke the key and \
                 re-enrol the device"
            ),
            ChainErrorKind::DuplicateRecord { seq, first_index } => write!(
                f,
                "{code}: an exact copy of record {first_index} (seq {seq}); remove duplicates \
                 (same id) before verifying"
            ),
            ChainErrorKind::BeforeAnchor {
                anchor_seq,
                found_seq,
            } => write!(
                f,
                "{code}: seq {found_seq} is not after the verified anchor (seq {anchor_seq}); \
                 present only the records after the anchor"
            ),
            ChainErrorKind::BrokenLink {
                expected_hash,
                found_hash,
            } => write!(
                f,
                "{code}: prev_hash is {} but the previous record hashes to {}: this record was \
                 chained to a different record with the same seq (a fork or a substituted \
                 record); fetch the original records from the device",
                found_hash.as_deref().unwrap_or("null"),
                expected_hash.as_deref().unwrap_or("null")
            ),
            ChainErrorKind::DuplicateId { first_index } => write!(
                f,
                "{code}: the id is already used by record {first_index}; ids are unique in a \
                 chain, so the log was tampered with or the signer is faulty"
            ),
        }
    }
}

/// Verifies a device's log from its first record (seq 1). See the file header for what each
/// kind of damage is reported as. An empty log verifies as empty.
pub fn verify_chain(
    public_key: &[u8; 32],
    records: &[PunchRecord],
) -> Result<ChainSummary, ChainError> {
    verify_chain_from(public_key, None, records)
}

/// Verifies records that continue a chain from a known anchor (the server's stored head), or
/// from the start when `anchor` is `None`.
pub fn verify_chain_from(
    public_key: &[u8; 32],
    anchor: Option<&ChainAnchor>,
    records: &[PunchRecord],
) -> Result<ChainSummary, ChainError> {
    let present: HashSet<u64> = records.iter().map(|r| r.body.seq).collect();
    let mut device_id = anchor.map(|a| a.device_id.clone());
    let mut head = anchor.map_or_else(ChainHead::empty, |a| ChainHead::at(a.seq, &a.hash));
    // seq -> (index, hash) and id -> index of the records accepted so far.
    let mut seen: HashMap<u64, (usize, String)> = HashMap::with_capacity(records.len());
    let mut ids: HashMap<Uuid, usize> = HashMap::with_capacity(records.len());

    let verifier = DeviceVerifier::new(public_key);
    for (index, record) in records.iter().enumerate() {
        let body = &record.body;
        let fail = |kind| ChainError {
            index,
            seq: body.seq,
            id: body.id,
            kind,
        };
        if body.format != RECORD_FORMAT {
            return Err(fail(ChainErrorKind::UnsupportedFormat {
                found: body.format,
            }));
        }
        body.validate()
            .map_err(|error| fail(ChainErrorKind::Malformed { error }))?;
        // One canonical write gives both the signed bytes and the record hash.
        let (canonical, message) = record
            .written()
            .map_err(|error| fail(ChainErrorKind::Malformed { error }))?;
        let signed = record
            .signature()
            .is_ok_and(|sig| verifier.verify(&message, &sig));
        if !signed {
            return Err(fail(ChainErrorKind::BadSignature));
        }
        match &device_id {
            None => device_id = Some(body.device_id.clone()),
            Some(expected) if *expected != body.device_id => {
                return Err(fail(ChainErrorKind::WrongDevice {
                    expected: expected.clone(),
                    found: body.device_id.clone(),
                }));
            }
            Some(_) => {}
        }
        let hash = record_hash(canonical.as_bytes());
        match head.check_next(body) {
            Ok(()) => {}
            Err(ChainLinkError::Gap {
                expected_seq,
                found_seq,
            }) => {
                return Err(fail(if present.contains(&expected_seq) {
                    ChainErrorKind::OutOfOrder {
                        expected_seq,
                        found_seq,
                    }
                } else if index == 0 && anchor.is_none() {
                    ChainErrorKind::NotGenesis { found_seq }
                } else {
                    ChainErrorKind::Gap {
                        expected_seq,
                        found_seq,
                    }
                }));
            }
            Err(ChainLinkError::Fork { found_seq, .. }) => {
                return Err(fail(match seen.get(&found_seq) {
                    Some((first_index, first_hash)) if *first_hash == hash => {
                        ChainErrorKind::DuplicateRecord {
                            seq: found_seq,
                            first_index: *first_index,
                        }
                    }
                    Some((first_index, _)) => ChainErrorKind::Fork {
                        seq: found_seq,
                        first_index: *first_index,
                    },
                    None => ChainErrorKind::BeforeAnchor {
                        anchor_seq: anchor.map_or(0, |a| a.seq),
                        found_seq,
                    },
                }));
            }
            Err(ChainLinkError::BrokenLink {
                expected_hash,
                found_hash,
            }) => {
                return Err(fail(ChainErrorKind::BrokenLink {
                    expected_hash,
                    found_hash,
                }));
            }
        }
        if let Some(first_index) = ids.insert(body.id, index) {
            return Err(fail(ChainErrorKind::DuplicateId { first_index }));
        }
        seen.insert(body.seq, (index, hash.clone()));
        head = ChainHead::at(body.seq, hash);
    }
    Ok(ChainSummary {
        device_id,
        count: records.len(),
        last_seq: head.seq,
        head_hash: head.hash,
    })
}

/// A record of an exported log that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct LogError {
    /// 1-based line number in the log.
    pub line: usize,
    /// Why that record cannot be read (or, writing a log, written).
    pub error: RecordError,
}

/// Reads an exported log: JSON Lines, one record per line (`\n` or `\r\n`), blank lines
/// ignored. Each record is read strictly ([`Signed::from_json`](crate::signed::Signed::from_json));
/// errors name the line. The
/// records come back in the order of the file; verify them with [`verify_chain`].
pub fn parse_log(text: &str) -> Result<Vec<PunchRecord>, LogError> {
    let mut records = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let record =
            PunchRecord::from_json(line).map_err(|error| LogError { line: i + 1, error })?;
        records.push(record);
    }
    Ok(records)
}

/// Writes records as a log: one canonical JSON record per line, each ending in `\n`.
pub fn write_log(records: &[PunchRecord]) -> Result<String, LogError> {
    let mut out = String::new();
    for (i, record) in records.iter().enumerate() {
        let json = record
            .to_json()
            .map_err(|error| LogError { line: i + 1, error })?;
        out.push_str(&json);
        out.push('\n');
    }
    Ok(out)
}
