//! daka-device: the phone runtime of daka (打卡), around the pure engine in [`daka_core`].
//!
//! ```text
//! platform input ──► daka_core (evidence ──► verdict ──► signed record)
//!                        │
//!                        ▼
//!                    store + outbox ──► sync client ──► server
//!                    (one SQLite file,   (HTTP, batched pushes,
//!                     WAL, FULL sync)     retries, change feed)
//! ```
//!
//! * [`engine`] is the [`Device`] object: everything the phone does, behind one handle, opened
//!   with [`Device::builder`], the one place its options are checked. A punch goes from
//!   platform input to a durable, signed record in one call; a sync sends the queue and
//!   applies what changed on the server. The engine orchestrates; it holds no SQL.
//! * [`store`] is the device's one SQLite file, its schema steps, and one small data-access
//!   module per table; the engine holds no SQL of its own.
//! * [`outbox`] is the durable queue of punches and submissions, with its per-stream order and
//!   backoff.
//! * [`sync`] is the HTTP client for the sync protocol and the adaptive batch size.
//! * [`link`] reads the enrolment links of the console's QR codes.
//! * [`clock`] and [`keys`] are the platform services the engine reads: the device's clocks
//!   and the storage of its signing key.
//!
//! Everything the rules decide (verdicts, records, chains, approval routes) comes from
//! `daka-core`, the same code the server runs; this crate adds only I/O around it.

pub mod clock;
pub mod engine;
pub mod keys;
pub mod link;
pub mod outbox;
pub mod store;
pub mod sync;

pub use engine::*;
pub use link::{EnrolmentLink, LinkError, parse_enrolment_link};
