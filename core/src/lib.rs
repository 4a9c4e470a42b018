//! daka-core: the rule engine of daka (打卡), the same code on the phone (through
//! `daka-device`), on the reference server and in the `daka` CLI.
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
//! * [`attempt`] gathers one punch attempt's evidence for the evaluator.
//! * [`verdict`] combines the evidence under the policy into one explainable decision; this is
//!   the single evaluator that the SDK, the server and `daka check` all run.
//! * [`advisor`] simulates honest staff and outsiders at each site under the engine and
//!   reports the predicted acceptance, review and rejection rates and a suggested tolerance
//!   (`daka fences`).
//! * [`punch`] turns an attempt and its verdict into a signed, hash-chained record, and verifies
//!   chains of them.
//! * [`approvals`] validates request forms against the policy's templates, computes their
//!   approval routes and runs the request state machine and leave ledger.
//! * [`signed`] is the envelope every signed item shares (a body plus an Ed25519 `sig` over
//!   its canonical JSON, read strictly); [`canonical`] the RFC 8785 writer and strict reader
//!   under it, and [`hex`] the spelling of hashes. These three are leaves.
//! * [`protocol`] holds the sync protocol's messages and words (item kinds, streams, push
//!   answer codes, the policy bundle's signature), which the device's client and the server
//!   both speak; [`codes`] the stable machine codes of every verdict reason.
//!
//! Nothing here touches the network, a database, an async runtime or a platform API: the
//! device runtime (`daka-device`) and the server (`daka-server`) add those around it.

pub mod advisor;
pub mod approvals;
pub mod attempt;
pub mod attendance;
pub mod canonical;
pub mod codes;
pub mod evidence;
pub mod geofence;
pub mod hex;
pub mod policy;
pub mod protocol;
pub mod punch;
pub mod signed;
pub mod verdict;

pub use codes::{Code, Severity};
pub use policy::{Policy, PolicyError};
pub use verdict::{Decision, Engine, Verdict};
