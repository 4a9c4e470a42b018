//! Leave balances as an append-only ledger, counted in half days.
//!
//! A balance is the policy's yearly entitlement plus the sum of the ledger's movements for
//! one employee, leave type and calendar year (the year the leave starts in):
//!
//! | event | entries |
//! |---|---|
//! | submission | `hold −n` (refused when it would take the available balance below zero, unless the leave type allows that) |
//! | approval | `release +n`, `take −n` |
//! | rejection or withdrawal of a pending request | `release +n` |
//!
//! So `available = entitled + Σ movements`, `pending = −Σ(hold + release)` and
//! `taken = −Σ take`, always; nothing is ever edited or deleted, and a balance shown to a
//! user is the sum of entries anyone can list.

use serde::{Deserialize, Serialize};

use super::template::LeaveType;

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Days reserved by a submitted request.
    Hold,
    /// A hold given back (approval turns it into a take; rejection or withdrawal frees it).
    Release,
    /// Days used by an approved request.
    Take,
}

/// One movement of a leave balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    /// Id of the employee whose balance moves (the request's applicant), e.g. `E1001`.
    pub employee: String,
    /// Id of the policy's leave type, e.g. `annual`.
    pub leave_type: String,
    /// The calendar year of the balance: the year the leave starts in, e.g. `2026`.
    pub year: i32,
    /// What the entry records; decides whether `halves` counts as pending or taken.
    pub kind: MovementKind,
    /// Signed half days: negative for holds and takes, positive for releases.
    pub halves: i64,
    /// The request that caused it.
    pub request_id: String,
}

/// A balance for one employee, leave type and year, in half days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// The leave type's yearly entitlement from the policy.
    pub entitled: i64,
    /// Approved leave.
    pub taken: i64,
    /// Leave in requests still waiting.
    pub pending: i64,
    /// `entitled − taken − pending`.
    pub available: i64,
}

/// Why leave cannot be booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaveError {
    /// The request needs more leave than the balance has available, and the leave type does
    /// not allow a negative balance. The request is refused; the applicant asks for less or
    /// uses another leave type.
    #[error(
        "not enough {leave_type} leave: {} day(s) requested, {} available ({} entitled, {} taken, {} pending)",
        days(*requested), days(balance.available), days(balance.entitled), days(balance.taken), days(balance.pending)
    )]
    InsufficientBalance {
        /// Id of the leave type, e.g. `annual`.
        leave_type: String,
        /// How much leave the request needs, in half days.
        requested: i64,
        /// The balance before the request, in half days.
        balance: Balance,
    },
}

/// Half days as days for people: `3`, `2.5`.
pub fn days(halves: i64) -> String {
    let sign = if halves < 0 { "-" } else { "" };
    let abs = halves.unsigned_abs();
    if abs % 2 == 0 {
        format!("{sign}{}", abs / 2)
    } else {
        format!("{sign}{}.5", abs / 2)
    }
}

/// The balance of `employee`'s `leave_type` leave in `year` from the movements (any mix of
/// employees, types and years; the others are ignored).
pub fn balance(
    leave_type: &LeaveType,
    employee: &str,
    year: i32,
    movements: &[Movement],
) -> Balance {
    let mut taken = 0i64;
    let mut pending = 0i64;
    for m in movements
        .iter()
        .filter(|m| m.employee == employee && m.leave_type == leave_type.id && m.year == year)
    {
        match m.kind {
            MovementKind::Hold | MovementKind::Release => pending -= m.halves,
            MovementKind::Take => taken -= m.halves,
        }
    }
    let entitled = i64::from(leave_type.yearly_halves);
    Balance {
        entitled,
        taken,
        pending,
        available: entitled - taken - pending,
    }
}

/// The hold for a new request of `halves`, or why the balance does not allow it.
pub fn hold(
    leave_type: &LeaveType,
    employee: &str,
    year: i32,
    halves: u32,
    request_id: &str,
    movements: &[Movement],
) -> Result<Movement, LeaveError> {
    let current = balance(leave_type, employee, year, movements);
    let requested = i64::from(halves);
    if !leave_type.allow_negative && current.available < requested {
        return Err(LeaveError::InsufficientBalance {
            leave_type: leave_type.id.clone(),
            requested,
            balance: current,
        });
    }
    Ok(Movement {
        employee: employee.to_owned(),
        leave_type: leave_type.id.clone(),
        year,
        kind: MovementKind::Hold,
        halves: -requested,
        request_id: request_id.to_owned(),
    })
}

/// The movements that settle a request's hold: approval (`approved`) turns it into a take,
/// otherwise it is freed. Empty when the request holds nothing (already settled).
pub fn settle(request_id: &str, approved: bool, movements: &[Movement]) -> Vec<Movement> {
    let held: Vec<&Movement> = movements
        .iter()
        .filter(|m| m.request_id == request_id)
        .collect();
    let net_hold: i64 = held
        .iter()
        .filter(|m| matches!(m.kind, MovementKind::Hold | MovementKind::Release))
        .map(|m| m.halves)
        .sum();
    let Some(first) = held.first() else {
        return Vec::new();
    };
    if net_hold == 0 {
        return Vec::new();
    }
    let release = Movement {
        kind: MovementKind::Release,
        halves: -net_hold,
        ..(*first).clone()
    };
    if approved {
        let take = Movement {
            kind: MovementKind::Take,
            halves: net_hold,
            ..(*first).clone()
        };
        vec![release, take]
    } else {
        vec![release]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_shown_with_halves() {
        assert_eq!(days(6), "3");
        assert_eq!(days(5), "2.5");
        assert_eq!(days(1), "0.5");
        assert_eq!(days(0), "0");
        assert_eq!(days(-3), "-1.5");
        assert_eq!(days(-1), "-0.5");
    }
}
