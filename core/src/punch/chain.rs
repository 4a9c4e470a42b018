//! Appending to a device's chain and verifying chains.
use super::record::{DeviceSigner, PunchBody, PunchRecord};

/// Builds a device's chain: assigns sequence numbers and previous-record hashes.
pub struct PunchChain {
    _private: (),
}

/// Where a chain first goes wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("record {index}: {kind:?}")]
pub struct ChainError {
    pub index: usize,
    pub kind: ChainErrorKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChainErrorKind {}

pub fn verify_chain(_public_key: &[u8; 32], _records: &[PunchRecord]) -> Result<(), ChainError> {
    let _ = (
        std::any::type_name::<DeviceSigner>(),
        std::any::type_name::<PunchBody>(),
    );
    todo!()
}
