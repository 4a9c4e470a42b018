//! What every pushed item is judged with: the storage, the rule engines, the authenticated
//! device, the time of receipt and the request's deadline. The one type the kinds' intake
//! modules share with the dispatcher; it holds no logic.

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::policies::Engines;
use crate::storage::{DeviceRow, Storage};

/// Everything [`process`](super::process) and the kinds' intake need.
pub struct PushContext<'a> {
    /// Where the items are applied.
    pub storage: &'a dyn Storage,
    /// The rule engines by policy version, shared by every request of the server.
    pub engines: &'a Engines,
    /// The device the bearer token authenticated; every item must be of it.
    pub device: &'a DeviceRow,
    /// When the push request reached the server (server clock): the receipt time of every
    /// item it stores, and the fallback judgement time of a punch.
    pub received_at: DateTime<Utc>,
    /// Items not started by then are answered `retry` / `server_deadline`.
    pub deadline: Instant,
}
