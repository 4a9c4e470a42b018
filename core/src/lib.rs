//! daka-core: the rule engine of daka (打卡), shared by the device SDK and the reference server.
//!
//! Data flows one way through this crate:
//!
//! ```text
//! platform input ──► evidence ──► verdict ──► signed punch record ──► (outbox, sync, server)
//!  (fix, Wi-Fi,       (spoofing     (Engine::    (punch::PunchChain,
//!   face token,        signals,      evaluate)    punch::verify_chain)
//!   clocks)            face token)
//! ```
//!
//! * [`policy`] loads and validates an organisation's policy (sites, fences, Wi-Fi lists,
//!   employees, thresholds, trusted face-matcher keys).
//! * [`geofence`] answers "where is this fix relative to the allowed fences" for thousands of
//!   sites, accuracy-aware.
//! * [`evidence`] turns raw platform input into checked evidence: spoofing signals, trusted
//!   time, Wi-Fi presence, the face-match token.
//! * [`verdict`] combines the evidence under the policy into one explainable decision; this is
//!   the single evaluator that the SDK, the server and `daka check` all run.
//! * [`punch`] turns an attempt and its verdict into a signed, hash-chained record, and verifies
//!   chains of them.
//! * [`approvals`] validates request forms against the policy's templates, computes their
//!   approval routes and runs the request state machine and leave ledger.
//!
//! Nothing here touches the network, a database or a platform API; those live in the crates
//! that embed this one.

pub mod approvals;
pub mod attempt;
pub mod codes;
pub mod device;
pub mod evidence;
pub mod geofence;
pub mod outbox;
pub mod policy;
pub mod punch;
pub mod store;
pub mod sync;
pub mod verdict;

pub use codes::{Code, Severity};
pub use policy::{Policy, PolicyError};
pub use verdict::{Decision, Engine, Verdict};
