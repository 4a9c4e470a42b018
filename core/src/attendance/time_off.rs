//! Time off in lieu (調休): overtime compensated as time off is credited to a ledger in
//! minutes, each credit expiring after the policy's `time_off_expiry_days`; leave of a type
//! marked `time_off_in_lieu` draws on it, oldest credit first.
//!
//! Like the leave ledger, the balance is a sum anyone can list: every credit with its date
//! and expiry, every day taken with its minutes, and what expired unused.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::day::DayResult;
use super::rules::Compensation;

/// One credit: overtime worked on `date`, usable until `expires` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    /// The day the overtime was worked.
    pub date: NaiveDate,
    /// Minutes credited.
    pub minutes: u32,
    /// The last day it can be taken.
    pub expires: NaiveDate,
    /// Minutes of it not yet taken or expired.
    pub left: u32,
}

/// One day of time off taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// The day off.
    pub date: NaiveDate,
    /// Minutes it used: the day's scheduled minutes, half of them for a half day.
    pub minutes: u32,
    /// Minutes the ledger could not cover (taken on credit not there).
    pub uncovered: u32,
}

/// The ledger as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TimeOffLedger {
    /// Credits in date order.
    pub credits: Vec<Credit>,
    /// Days taken in date order.
    pub taken: Vec<Taken>,
    /// Minutes that expired unused.
    pub expired: u32,
    /// Minutes available now.
    pub available: u32,
}

impl TimeOffLedger {
    /// Builds the ledger from day results in date order (any span; credits and days taken
    /// outside it are not seen), counting as taken the leave of the types in `leave_types`,
    /// as of `as_of` (credits expiring before it are expired).
    pub fn from_days(
        days: &[DayResult],
        leave_types: &[&str],
        expiry_days: u32,
        as_of: NaiveDate,
    ) -> TimeOffLedger {
        let mut ledger = TimeOffLedger::default();
        let expire = |ledger: &mut TimeOffLedger, today: NaiveDate| {
            for c in ledger.credits.iter_mut().filter(|c| c.expires < today) {
                ledger.expired += c.left;
                c.left = 0;
            }
        };
        for d in days.iter().filter(|d| d.date <= as_of) {
            expire(&mut ledger, d.date);
            // Time off taken this day, oldest credit first.
            let halves: u32 = d
                .leave
                .iter()
                .filter(|l| leave_types.contains(&l.leave_type.as_str()))
                .map(|l| l.part.halves())
                .sum::<u32>()
                .min(2);
            if halves > 0 {
                let minutes = d.scheduled_min * halves / 2;
                let mut need = minutes;
                for c in ledger.credits.iter_mut().filter(|c| c.left > 0) {
                    let take = need.min(c.left);
                    c.left -= take;
                    need -= take;
                    if need == 0 {
                        break;
                    }
                }
                ledger.taken.push(Taken {
                    date: d.date,
                    minutes,
                    uncovered: need,
                });
            }
            if let Some(ot) = d
                .overtime
                .filter(|o| o.compensation == Compensation::TimeOff && o.counted_min > 0)
            {
                ledger.credits.push(Credit {
                    date: d.date,
                    minutes: ot.counted_min,
                    expires: d.date + Duration::days(i64::from(expiry_days)),
                    left: ot.counted_min,
                });
            }
        }
        expire(&mut ledger, as_of);
        ledger.available = ledger.credits.iter().map(|c| c.left).sum();
        ledger
    }
}
