//! Signed, hash-chained punch records and the verifier for chains of them.
//!
//! * [`record`]: the record format (RFC 8785 canonical JSON, Ed25519 device signature, UUIDv7
//!   id, per-device sequence, hash of the previous record), its strict reader and the
//!   [`DeviceSigner`].
//! * [`chain`]: appending to a device's chain ([`PunchChain`]), reading exported logs
//!   ([`parse_log`]) and [`verify_chain`], which names the first bad record of a forged,
//!   edited, gapped, reordered or forked log and returns the head to compare against for
//!   truncation.
//! * `json`: the strict JSON reading and canonical writing both rely on; `canonical` writes
//!   typed values in that form without building a JSON tree first.
//!
//! The format is specified in `docs/punch-record.md`.

mod canonical;
pub mod chain;
pub(crate) mod json;
pub mod record;

pub use chain::{
    ChainAnchor, ChainError, ChainErrorKind, ChainSummary, LogError, PunchChain, PunchDraft,
    parse_log, verify_chain, verify_chain_from, write_log,
};
pub use json::{MAX_SAFE_INTEGER, canonical_value, hex_lower};
pub use record::{
    DeviceSigner, DeviceVerifier, MAX_RECORD_BYTES, PunchBody, PunchError, PunchEvidence,
    PunchKind, PunchRecord, RECORD_FORMAT, ReadRecord, RecordError, SignatureError,
};
