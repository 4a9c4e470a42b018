//! Signed, hash-chained punch records and the verifier for chains of them.
//!
//! * [`record`]: the record format (RFC 8785 canonical JSON, Ed25519 device signature, UUIDv7
//!   id, per-device sequence, hash of the previous record), its strict reader and the
//!   [`DeviceSigner`].
//! * [`chain`]: appending to a device's chain ([`PunchChain`]), reading exported logs
//!   ([`parse_log`]) and [`verify_chain`], which names the first bad record of a forged,
//!   edited, gapped, reordered or forked log and returns the head to compare against for
//!   truncation.
//! * [`kind`]: what a punch is ([`PunchKind`]), a leaf the evaluator names too; [`recorded`]:
//!   the verdict as a record carries it ([`RecordedVerdict`]), the format's own types, so a
//!   change to the evaluator's `Verdict` cannot change a signed record.
//! * [`head`]: the chain-link rule ([`ChainHead::check_next`]: fork, gap, broken link), which
//!   the verifier applies to each record, and a server applies against a device's stored head.
//!
//! A record is a [`Signed`](crate::signed::Signed) envelope: signing, canonical writing and
//! strict reading are `crate::signed` and `crate::canonical`, shared with approval items.
//!
//! The format is specified in `docs/punch-record.md`.

pub mod chain;
pub mod head;
pub mod kind;
pub mod record;
pub mod recorded;

pub use crate::signed::DeviceVerifier;
pub use chain::{
    ChainAnchor, ChainError, ChainErrorKind, ChainSummary, LogError, PunchChain, PunchDraft,
    parse_log, verify_chain, verify_chain_from, write_log,
};
pub use head::{ChainHead, ChainLinkError};
pub use kind::PunchKind;
pub use record::{
    DeviceSigner, MAX_RECORD_BYTES, PunchBody, PunchError, PunchEvidence, PunchRecord,
    RECORD_FORMAT, ReadRecord, RecordError, SignatureError,
};
pub use recorded::{
    RecordedDecision, RecordedFace, RecordedLocation, RecordedLocationSource, RecordedReason,
    RecordedTimeSource, RecordedVerdict,
};
