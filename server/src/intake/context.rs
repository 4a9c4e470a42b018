//! What every pushed item is judged with: the storage, the rule engines, the authenticated
//! device, the time of receipt and the request's deadline. The one type the kinds' intake
//! modules share with the dispatcher; it holds no logic.

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::policies::Engines;
use crate::storage::{DeviceRow, Storage};

/// Everything [`process`](super::process) and the kinds' intake need.
pub struct PushContext<'a> {
    pub storage: &'a dyn Storage,
    pub engines: &'a Engines,
    pub device: &'a DeviceRow,
    pub received_at: DateTime<Utc>,
    /// Items not started by then are answered `retry` / `server_deadline`.
    pub deadline: Instant,
}
