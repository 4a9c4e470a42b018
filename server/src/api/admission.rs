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
//! own size. Until the first push after a start has been measured, an item is assumed to cost
//! [`ASSUMED_NANOS_PER_ITEM`] (about twice what one costs on a small 2-core server): a fleet
//! that reconnects together with a freshly started server is then admitted a few seconds' worth
//! at a time, not all at once before any cost is known.
//!
//! A refused push is given an appointment, not just the time the current queue takes: the
//! refusals are booked one after another at the cost of their items, and each `Retry-After`
//! says when its turn comes. A thousand phones refused in the same second therefore come back
//! spread over the time the server needs for them, about as fast as it can take them, instead
//! of all together after the same wait to be refused together again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Weight of the newest window in the mean cost per item, as a fraction `1 / COST_WEIGHT`.
const COST_WEIGHT: u64 = 8;

/// The answers of at least this long are costed together, in nanoseconds (250 ms): pushes
/// admitted together are often answered in a burst, one right after another.
const COST_WINDOW_NS: u64 = 250_000_000;

/// The cost of an item assumed until the first push is measured: 1 ms.
pub(crate) const ASSUMED_NANOS_PER_ITEM: u64 = 1_000_000;

/// Longest `Retry-After` a refused push is given, in seconds.
const MAX_RETRY_AFTER_S: u64 = 30;

/// The pushes admitted and the recent cost of an item.
#[derive(Debug)]
pub(crate) struct PushAdmission {
    max_wait: Duration,
    /// Write transactions the storage runs side by side at most (see
    /// [`Storage::parallel_writes`](crate::storage::Storage::parallel_writes)).
    parallel_writes: u64,
    /// Items of the pushes admitted and not yet answered.
    pending_items: AtomicU64,
    /// Mean storage time per item, in nanoseconds; 0 until the first push is answered, when
    /// [`ASSUMED_NANOS_PER_ITEM`] stands in.
    nanos_per_item: AtomicU64,
    /// When the admission started; the times below count from it.
    epoch: Instant,
    /// The end of the last appointment given to a refused push, in nanoseconds from `epoch`.
    booked_until: AtomicU64,
    /// The answers since the last cost sample.
    window: Mutex<CostWindow>,
}

/// Answers not yet costed: since when, how many items, and how long their pushes spent in
/// storage together (nanoseconds from the admission's start, and nanoseconds).
#[derive(Debug, Default)]
struct CostWindow {
    start: u64,
    items: u64,
    took: u64,
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
    /// How long until this push's turn: the pushes admitted, and those refused before it and
    /// told to come back earlier.
    pub wait: Duration,
    /// Whole seconds to wait before sending again (1 to 30).
    pub retry_after_s: u64,
}

impl PushAdmission {
    /// Admission with this longest estimated wait.
    pub(crate) fn new(max_wait: Duration) -> PushAdmission {
        PushAdmission {
            max_wait,
            parallel_writes: 1,
            pending_items: AtomicU64::new(0),
            nanos_per_item: AtomicU64::new(0),
            epoch: Instant::now(),
            booked_until: AtomicU64::new(0),
            window: Mutex::new(CostWindow::default()),
        }
    }

    /// The same, for a storage that runs up to `n` write transactions side by side.
    pub(crate) fn with_parallel_writes(mut self, n: u32) -> PushAdmission {
        self.parallel_writes = u64::from(n.max(1));
        self
    }

    /// Admits a push of `items` items, or refuses it with an appointment when the wait for the
    /// pushes already admitted is estimated above the limit.
    pub(crate) fn admit(&self, items: usize) -> Result<Admitted<'_>, Refused> {
        self.admit_at(items, self.epoch.elapsed())
    }

    /// [`admit`](Self::admit) at `now`, counted from the admission's start.
    fn admit_at(&self, items: usize, now: Duration) -> Result<Admitted<'_>, Refused> {
        let items = items.max(1) as u64;
        let cost = match self.nanos_per_item.load(Ordering::Acquire) {
            0 => ASSUMED_NANOS_PER_ITEM,
            measured => measured,
        };
        let pending = self.pending_items.fetch_add(items, Ordering::AcqRel);
        if pending == 0 {
            // The server was idle: the time before this push is not part of any cost.
            let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
            if window.items == 0 {
                window.start = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
            }
        }
        let drain = pending.saturating_mul(cost);
        if pending == 0 || Duration::from_nanos(drain) <= self.max_wait {
            return Ok(Admitted {
                admission: self,
                items,
            });
        }
        self.pending_items.fetch_sub(items, Ordering::AcqRel);
        Err(self.appointment(items, cost, now, drain))
    }

    /// Books the next free turn for a refused push of `items` items, after the `drain`
    /// nanoseconds the admitted pushes need; a turn further away than the longest
    /// `Retry-After` is not booked (the push is told to ask again then).
    fn appointment(&self, items: u64, cost: u64, now: Duration, drain: u64) -> Refused {
        let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let max_ahead = MAX_RETRY_AFTER_S * 1_000_000_000;
        let mut booked = self.booked_until.load(Ordering::Acquire);
        loop {
            let start = booked.max(now.saturating_add(drain));
            let ahead = start - now;
            if ahead >= max_ahead {
                return Refused {
                    wait: Duration::from_nanos(ahead),
                    retry_after_s: MAX_RETRY_AFTER_S,
                };
            }
            let end = start.saturating_add(items.saturating_mul(cost));
            match self.booked_until.compare_exchange_weak(
                booked,
                end,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Refused {
                        wait: Duration::from_nanos(ahead),
                        retry_after_s: ahead.div_ceil(1_000_000_000).clamp(1, MAX_RETRY_AFTER_S),
                    };
                }
                Err(seen) => booked = seen,
            }
        }
    }

    /// Items admitted and not yet answered.
    #[cfg(test)]
    fn pending(&self) -> u64 {
        self.pending_items.load(Ordering::Acquire)
    }
}

impl Admitted<'_> {
    /// Records that the push spent `took` in storage, for the cost per item.
    ///
    /// Pushes admitted together run side by side and wait for each other's database work, so
    /// each one's `took` counts the others' work too, and they are often answered in a burst.
    /// The answers are therefore costed in windows of at least [`COST_WINDOW_NS`]: an item
    /// costs the shorter of the window's length and the pushes' summed `took` over the
    /// storage's parallel writes, divided by the window's items. While the server is busy the
    /// window's length is the true cost; when it was partly idle, the pushes ran alone, and
    /// as many as the storage writes side by side could have run together. (Costed at their
    /// whole `took`, pushes on PostgreSQL that ran alone because the turns were spaced by that
    /// cost would keep them spaced so: the server paced at the speed of one connection.)
    pub(crate) fn ran(&self, took: Duration) {
        self.ran_at(took, self.admission.epoch.elapsed());
    }

    /// [`ran`](Self::ran), answered at `now` (counted from the admission's start).
    fn ran_at(&self, took: Duration, now: Duration) {
        let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let cost = &self.admission.nanos_per_item;
        let sample = {
            let mut window = self
                .admission
                .window
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            window.items += self.items;
            window.took = window.took.saturating_add(took);
            let length = now.saturating_sub(window.start);
            // The first answer after a start is costed at once, to replace the assumed cost.
            if length < COST_WINDOW_NS && cost.load(Ordering::Acquire) != 0 {
                return;
            }
            let sample = length.min(window.took / self.admission.parallel_writes) / window.items;
            *window = CostWindow {
                start: now,
                items: 0,
                took: 0,
            };
            sample
        };
        let mut old = cost.load(Ordering::Acquire);
        loop {
            let new = if old == 0 {
                sample.max(1)
            } else {
                (old - old / COST_WEIGHT + sample / COST_WEIGHT).max(1)
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

    /// A time long after the admission's start: a push answered then ran alone.
    const AN_HOUR_IN: Duration = Duration::from_secs(3600);

    #[test]
    fn a_push_is_admitted_when_nothing_is_pending_and_an_assumed_cost_bounds_a_cold_start() {
        // Not yet measured: 1 ms an item is assumed.
        let admission = PushAdmission::new(Duration::from_millis(1500));
        let first = admission.admit(1_000).unwrap(); // nothing pending
        let second = admission.admit(1_000).unwrap(); // 1 s ahead of it
        let refused = admission.admit(1).unwrap_err(); // 2 s ahead of it
        assert_eq!(refused.wait, Duration::from_secs(2));
        assert_eq!(refused.retry_after_s, 2);
        drop(second);
        // Measured at 0.5 ms an item: 1,000 pending is 0.5 s, so 2,000 more wait 1.5 s at most.
        first.ran_at(Duration::from_millis(500), AN_HOUR_IN);
        let third = admission.admit(2_000).unwrap();
        assert_eq!(admission.pending(), 3_000);
        drop((first, third));
        assert_eq!(admission.pending(), 0);
        let admission = PushAdmission::new(Duration::ZERO);
        admission
            .admit(1)
            .unwrap()
            .ran_at(Duration::from_millis(1), AN_HOUR_IN);
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
            .ran_at(Duration::from_millis(100), AN_HOUR_IN); // 1 ms an item
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
        admission
            .admit(1)
            .unwrap()
            .ran_at(Duration::from_millis(50), AN_HOUR_IN); // 50 ms an item
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
    fn pushes_that_ran_alone_are_costed_over_the_parallel_writes() {
        // A push of 100 items alone for 400 ms, the server idle the rest of a 1 s window.
        let answer = |admission: &PushAdmission| {
            let push = admission.admit_at(100, Duration::ZERO).unwrap();
            push.ran_at(Duration::from_millis(400), Duration::from_secs(1));
        };
        let one_writer = PushAdmission::new(Duration::from_secs(1));
        answer(&one_writer);
        assert_eq!(one_writer.nanos_per_item.load(Ordering::Acquire), 4_000_000);
        // Sixteen connections: sixteen such pushes could have run in those 400 ms.
        let pool = PushAdmission::new(Duration::from_secs(1)).with_parallel_writes(16);
        answer(&pool);
        assert_eq!(pool.nanos_per_item.load(Ordering::Acquire), 250_000);
        // A busy window is costed by its length whatever the parallelism: 100 items answered
        // over 50 ms, their pushes having waited 16 × 400 ms together.
        let busy = PushAdmission::new(Duration::from_secs(1)).with_parallel_writes(16);
        let first = busy.admit_at(1, Duration::ZERO).unwrap();
        first.ran_at(Duration::from_millis(1), Duration::from_millis(1));
        let push = busy.admit_at(100, Duration::from_millis(1)).unwrap();
        push.ran_at(Duration::from_millis(6_400), Duration::from_millis(301));
        let cost = busy.nanos_per_item.load(Ordering::Acquire);
        // The first answer (1 ms alone, over 16) set 62.5 µs; the window of 300 ms over 100
        // items (3 ms, its length being shorter than 6.4 s over 16) weighs 1/8.
        assert_eq!(cost, 62_500 - 62_500 / 8 + 3_000_000 / 8);
    }

    #[test]
    fn refused_pushes_are_given_successive_turns() {
        let admission = PushAdmission::new(Duration::from_secs(1));
        admission
            .admit_at(100, Duration::ZERO)
            .unwrap()
            .ran_at(Duration::from_millis(100), AN_HOUR_IN); // 1 ms an item
        let held = admission.admit_at(2_000, Duration::ZERO).unwrap(); // 2 s of work
        let turns: Vec<u64> = (0..5)
            .map(|_| {
                let refused = admission.admit_at(1_000, Duration::ZERO).unwrap_err();
                refused.retry_after_s
            })
            .collect();
        // Each refusal comes back when the pushes ahead of it, admitted or refused, are done.
        assert_eq!(turns, [2, 3, 4, 5, 6]);
        drop(held);
        // The first comes back at its turn and is admitted; so is the second at its own.
        let first = admission.admit_at(1_000, Duration::from_secs(2)).unwrap();
        drop(first);
        let second = admission.admit_at(1_000, Duration::from_secs(3)).unwrap();
        drop(second);
        // A turn beyond the longest Retry-After is not booked.
        let held = admission.admit_at(100_000, Duration::from_secs(3)).unwrap();
        let far = admission
            .admit_at(1_000, Duration::from_secs(3))
            .unwrap_err();
        assert_eq!(far.retry_after_s, MAX_RETRY_AFTER_S);
        assert_eq!(far.wait, Duration::from_secs(100));
        drop(held);
        // Later, with nothing pending, the next refusal's turn follows the last booking (7 s).
        let _a = admission.admit_at(1_500, Duration::from_secs(4)).unwrap();
        let next = admission.admit_at(1, Duration::from_secs(4)).unwrap_err();
        assert_eq!(next.wait, Duration::from_secs(3));
    }

    #[test]
    fn pushes_run_side_by_side_are_costed_by_the_window_they_are_answered_in() {
        let admission = PushAdmission::new(Duration::from_secs(60));
        let at = Duration::from_secs;
        let cost = || admission.nanos_per_item.load(Ordering::Acquire);
        // The first answer sets the cost at once: 100 items in 1 s.
        admission
            .admit_at(100, at(9))
            .unwrap()
            .ran_at(at(1), at(10));
        assert_eq!(cost(), 10_000_000);
        // Four pushes of 100 admitted together at 10 s, each needing 0.5 s of the database,
        // answered at 10.5, 11, 11.5 and 12 s after 0.5, 1, 1.5 and 2 s in storage.
        let pushes: Vec<_> = (0..4)
            .map(|_| admission.admit_at(100, at(10)).unwrap())
            .collect();
        for (n, push) in pushes.iter().enumerate() {
            let took = Duration::from_millis(500 * (n as u64 + 1));
            push.ran_at(took, at(10) + took);
        }
        // Each answer closes a window of 0.5 s (at least 250 ms) in which the pushes spent
        // longer in storage: 5 ms an item, not the 5 to 20 ms their own times say.
        let expected = [10_000_000u64, 5_000_000, 5_000_000, 5_000_000, 5_000_000]
            .windows(2)
            .fold(10_000_000, |old, w| {
                old - old / COST_WEIGHT + w[1] / COST_WEIGHT
            });
        assert_eq!(cost(), expected);
        drop(pushes);
        // After a pause, three pushes answered in a burst, 1 ms apart.
        let before = cost();
        let burst: Vec<_> = (0..3)
            .map(|_| admission.admit_at(100, at(20)).unwrap())
            .collect();
        for (n, push) in burst.iter().enumerate() {
            push.ran_at(at(1), at(21) + Duration::from_millis(n as u64));
        }
        // The pause is not costed (the window restarts when they are admitted at 20 s); the
        // first answer closes a 1 s window: 10 ms an item. The other two wait in the next one.
        let sample = 10_000_000;
        assert_eq!(cost(), before - before / COST_WEIGHT + sample / COST_WEIGHT);
    }

    #[test]
    fn the_cost_follows_recent_pushes() {
        let admission = PushAdmission::new(Duration::ZERO);
        admission
            .admit(1)
            .unwrap()
            .ran_at(Duration::from_millis(8), AN_HOUR_IN);
        assert_eq!(admission.nanos_per_item.load(Ordering::Acquire), 8_000_000);
        admission
            .admit(1)
            .unwrap()
            .ran_at(Duration::ZERO, AN_HOUR_IN * 2);
        assert_eq!(admission.nanos_per_item.load(Ordering::Acquire), 7_000_000);
    }
}
