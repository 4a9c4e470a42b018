//! Signed, hash-chained punch records and the verifier for chains of them.
//!
//! * [`record`]: the record format (RFC 8785 canonical JSON, Ed25519 device signature, UUIDv7
//!   id, per-device sequence, hash of the previous record) and the [`DeviceSigner`].
//! * [`chain`]: appending to a device's chain, and [`verify_chain`], which names the first bad
//!   record of a forged, edited, gapped, reordered, truncated or forked log.

pub mod chain;
pub mod record;

pub use chain::{ChainError, ChainErrorKind, PunchChain, verify_chain};
pub use record::{DeviceSigner, PunchBody, PunchEvidence, PunchKind, PunchRecord};
