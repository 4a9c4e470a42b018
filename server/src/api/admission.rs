//! Admission control for `POST /v1/push`: a push is refused at once with 503 `busy` and a
//! `Retry-After` when the pushes already admitted would keep it waiting for the database
//! longer than [`ServerOptions::max_push_wait`](crate::ServerOptions::max_push_wait).
//!
//! Without it, a fleet that comes back online together (a morning shift leaving the MTR, an
//! office after a network outage) queues more work than the server can do before the phones'
//! request timeouts: the queued requests time out at the client, are sent again, and the server
//! spends its time re-checking items it already stored. Refusing early is cheap, the SDK waits
//! for the `Retry-After` it is given, and the pushes that are admitted are answered in time.
//!
//! The wait is estimated from the items admitted and not yet answered, times the recent cost
//! of one item (an exponentially weighted mean of the time pushes spent in storage, per item).
//! A push is always admitted when nothing is pending, so a large push is never refused for its
//! own size, and while the cost is still unknown (the first push after a start).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Weight of the newest push in the mean cost per item, as a fraction `1 / COST_WEIGHT`.
const COST_WEIGHT: u64 = 8;

/// Longest `Retry-After` a refused push is given, in seconds.
const MAX_RETRY_AFTER_S: u64 = 30;

/// The pushes admitted and the recent cost of an item.
#[derive(Debug)]
pub(crate) struct PushAdmission {
    max_wait: Duration,
    /// Items of the pushes admitted and not yet answered.
    pending_items: AtomicU64,
    /// Mean storage time per item, in nanoseconds; 0 until the first push is answered.
    nanos_per_item: AtomicU64,
}

/// A push admitted: counted as pending until dropped. Report its storage time with
/// [`Admitted::ran`].
#[derive(Debug)]
pub(crate) struct Admitted<'a> {
    admission: &'a PushAdmission,
    items: u64,
}

/// A push refused: the estimated wait, and the `Retry-After` to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// How long the pushes already admitted are expected to keep the database.
    pub wait: Duration,
    /// Whole seconds to wait before sending again (1 to 30).
    pub retry_after_s: u64,
}

impl PushAdmission {
    /// Admission with this longest estimated wait.
    pub(crate) fn new(max_wait: Duration) -> PushAdmission {
        PushAdmission {
            max_wait,
            pending_items: AtomicU64::new(0),
            nanos_per_item: AtomicU64::new(0),
        }
    }

    /// Admits a push of `items` items, or refuses it when the wait for the pushes already
    /// admitted is estimated above the limit.
    pub(crate) fn admit(&self, items: usize) -> Result<Admitted<'_>, Refused> {
        let items = items.max(1) as u64;
        let pending = self.pending_items.fetch_add(items, Ordering::AcqRel);
        let wait = Duration::from_nanos(
            pending.saturating_mul(self.nanos_per_item.load(Ordering::Acquire)),
        );
        if pending > 0 && wait > self.max_wait {
            self.pending_items.fetch_sub(items, Ordering::AcqRel);
            let retry_after_s = wait
                .as_secs_f64()
                .ceil()
                .clamp(1.0, MAX_RETRY_AFTER_S as f64);
            return Err(Refused {
                wait,
                retry_after_s: retry_after_s as u64,
            });
        }
        Ok(Admitted {
            admission: self,
            items,
        })
    }

    /// Items admitted and not yet answered.
    #[cfg(test)]
    fn pending(&self) -> u64 {
        self.pending_items.load(Ordering::Acquire)
    }
}

impl Admitted<'_> {
    /// Records that the push spent `took` in storage, for the cost per item.
    pub(crate) fn ran(&self, took: Duration) {
        let sample = u64::try_from(took.as_nanos() / u128::from(self.items)).unwrap_or(u64::MAX);
        let cost = &self.admission.nanos_per_item;
        let mut old = cost.load(Ordering::Acquire);
        loop {
            let new = if old == 0 {
                sample
            } else {
                old - old / COST_WEIGHT + sample / COST_WEIGHT
            };
            match cost.compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(seen) => old = seen,
            }
        }
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.admission
            .pending_items
            .fetch_sub(self.items, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_is_admitted_when_nothing_is_pending_or_the_cost_is_unknown() {
        let admission = PushAdmission::new(Duration::ZERO);
        // Cost unknown: admitted even with others pending.
        let first = admission.admit(500).unwrap();
        let second = admission.admit(500).unwrap();
        assert_eq!(admission.pending(), 1000);
        first.ran(Duration::from_millis(500));
        drop(first);
        drop(second);
        assert_eq!(admission.pending(), 0);
        // Cost known (1 ms an item), nothing pending: a push of any size is admitted.
        let big = admission.admit(10_000).unwrap();
        drop(big);
    }

    #[test]
    fn a_push_is_refused_with_the_estimated_wait_once_the_queue_is_too_long() {
        let admission = PushAdmission::new(Duration::from_millis(1500));
        admission
            .admit(100)
            .unwrap()
            .ran(Duration::from_millis(100)); // 1 ms an item
        let a = admission.admit(1000).unwrap(); // nothing pending before it
        let b = admission.admit(1000).unwrap(); // 1 s ahead of it: within the limit
        let refused = admission.admit(10).unwrap_err(); // 2 s ahead of it
        assert_eq!(refused.wait, Duration::from_secs(2));
        assert_eq!(refused.retry_after_s, 2);
        // The refused push is not counted as pending.
        assert_eq!(admission.pending(), 2000);
        drop(a);
        // 1 s ahead again: admitted.
        let c = admission.admit(10).unwrap();
        drop((b, c));
        assert_eq!(admission.pending(), 0);
    }

    #[test]
    fn the_retry_after_covers_the_wait_and_stays_within_bounds() {
        let admission = PushAdmission::new(Duration::from_millis(10));
        admission.admit(1).unwrap().ran(Duration::from_millis(50)); // 50 ms an item
        let held = admission.admit(30).unwrap(); // 1.5 s pending
        let refused = admission.admit(1).unwrap_err();
        assert_eq!(refused.wait, Duration::from_millis(1500));
        assert_eq!(refused.retry_after_s, 2);
        drop(held);
        let held = admission.admit(10_000).unwrap(); // 500 s pending
        assert_eq!(
            admission.admit(1).unwrap_err().retry_after_s,
            MAX_RETRY_AFTER_S
        );
        drop(held);
    }

    #[test]
    fn the_cost_follows_recent_pushes() {
        let admission = PushAdmission::new(Duration::ZERO);
        admission.admit(1).unwrap().ran(Duration::from_millis(8));
        assert_eq!(admission.nanos_per_item.load(Ordering::Acquire), 8_000_000);
        admission.admit(1).unwrap().ran(Duration::ZERO);
        assert_eq!(admission.nanos_per_item.load(Ordering::Acquire), 7_000_000);
    }
}
