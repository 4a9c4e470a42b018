//! The answers an item's intake gives without storing anything, and the body hash its ledger
//! entry is keyed on: small helpers the kinds' intake modules share, depending on nothing of
//! theirs.

use daka_core::protocol::{ItemCode, ItemStatus};
use serde_json::value::RawValue;

use crate::crypto;
use crate::storage::Answer;

/// An answer that stores nothing: `status`, with `code` and a message for people.
pub(super) fn answer(status: ItemStatus, code: ItemCode, message: impl Into<String>) -> Answer {
    Answer {
        status,
        code: Some(code.as_str().to_string()),
        message: Some(message.into()),
    }
}

/// A permanent refusal that stores nothing.
pub(super) fn rejected(code: ItemCode, message: impl Into<String>) -> Answer {
    answer(ItemStatus::Rejected, code, message)
}

/// Hex SHA-256 of the canonical JSON (RFC 8785) of a body; of its raw bytes if it cannot be
/// canonicalised (then it is not a valid record either).
pub(super) fn body_hash(body: &RawValue) -> String {
    let canonical = serde_json::from_str::<serde_json::Value>(body.get())
        .ok()
        .and_then(|v| daka_core::canonical::to_vec(&v).ok());
    match canonical {
        Some(bytes) => crypto::sha256_hex(&bytes),
        None => crypto::sha256_hex(format!("raw:{}", body.get()).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_hash_ignores_key_order_and_whitespace() {
        let a: Box<RawValue> = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b: Box<RawValue> = serde_json::from_str("{ \"b\": [1, 2],\n \"a\": 1 }").unwrap();
        let c: Box<RawValue> = serde_json::from_str(r#"{"a":2,"b":[1,2]}"#).unwrap();
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_ne!(body_hash(&a), body_hash(&c));
    }
}
