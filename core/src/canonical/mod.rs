//! RFC 8785 (JCS) canonical JSON: the one writer and the one strict reader that every
//! signature and hash in daka is computed over (punch records, approval items, pushed item
//! bodies).
//!
//! * `write.rs`, [`to_vec`]: the canonical bytes of any `Serialize` value, typed or a
//!   `serde_json::Value`, written straight from serde without building a JSON tree.
//! * `read.rs`, [`from_str`], [`StrictValue`], [`check_integers`], [`check_write_back`]:
//!   reading JSON so that every reader sees one value: no duplicate keys, no integers beyond
//!   2^53 − 1, and a typed reading that writes back to exactly what was received.
//!
//! This module is a leaf: it imports nothing from the rest of daka, and knows no format's
//! fields. The signed envelope (`crate::signed`) is built on it.

mod error;
mod member;
mod read;
mod write;

pub use error::{CanonicalError, Difference, MAX_SAFE_INTEGER};
pub(crate) use member::top_level_member;
pub use read::{StrictValue, check_integers, check_write_back, first_difference, from_str};
pub use write::{to_string, to_vec, to_vec_strict};
