//! What the fuzz targets share: the example policy (its templates, face-matcher keys and a
//! site to edit), the demonstration face-matcher key, and a fixed trusted time. The targets
//! themselves are in `fuzz_targets/`, one per parser of outside input (see docs/fuzzing.md).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use daka_core::Policy;
use serde_json::Value;

/// The example policy document (`examples/hk-policy.json`).
pub const POLICY_TEXT: &str = include_str!("../../examples/hk-policy.json");

/// The seed of the demonstration face matcher's Ed25519 key (`examples/keys`), which the
/// example policy trusts as `hl-face-device-2026-01`.
pub const FACE_SEED_B64: &str = "9UZFXRO72_kHBTUkAvurJGH6jRZ07r98AJb0pZFtLUw";

/// The trusted time the face-token target judges freshness at: 2026-12-01T01:00:00Z.
pub fn trusted_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_086_800, 0).expect("a valid instant")
}

/// The example policy, read once.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::from_json(POLICY_TEXT).expect("the example policy is valid"))
}

/// The example policy as a JSON document, read once.
pub fn policy_doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::from_str(POLICY_TEXT).expect("the example policy is JSON"))
}
