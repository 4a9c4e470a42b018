//! Signed, hash-chained punch records and the verifier for chains of them.
//!
//! * [`record`]: the record format (RFC 8785 canonical JSON, Ed25519 device signature, UUIDv7
//!   id, per-device sequence, hash of the previous record), its strict reader and the
//!   [`DeviceSigner`].
//! * [`chain`]: appending to a device's chain ([`PunchChain`]), reading exported logs
//!   ([`parse_log`]) and [`verify_chain`], which names the first bad record of a forged,
//!   edited, gapped, reordered or forked log and returns the head to compare against for
//!   truncation.
//!
//! A record is a [`Signed`](crate::signed::Signed) envelope: signing, canonical writing and
//! strict reading are `crate::signed` and `crate::canonical`, shared with approval items.
//!
//! The format is specified in `docs/punch-record.md`.

pub mod chain;
pub mod record;

pub use crate::signed::DeviceVerifier;
pub use chain::{
    ChainAnchor, ChainError, ChainErrorKind, ChainSummary, LogError, PunchChain, PunchDraft,
    parse_log, verify_chain, verify_chain_from, write_log,
};
pub use record::{
    DeviceSigner, MAX_RECORD_BYTES, PunchBody, PunchError, PunchEvidence, PunchKind, PunchRecord,
    RECORD_FORMAT, ReadRecord, RecordError, SignatureError,
};
