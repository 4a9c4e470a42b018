//! What a punch is: in, out, a break's start or end, or a field punch. A leaf of the punch
//! module, so that the attempt and the evaluator, which come before a record in the flow, can
//! name a punch's kind without depending on the record format.

use serde::{Deserialize, Serialize};

/// What the punch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PunchKind {
    /// Clocking in: starting work.
    In,
    /// Clocking out: ending work.
    Out,
    /// Starting a break.
    BreakStart,
    /// Ending a break, back at work.
    BreakEnd,
    /// A field punch (外勤) made away from any site, for review.
    Field,
}
