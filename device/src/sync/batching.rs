//! How much of the outbox goes into one push request.
//!
//! A phone's link ranges from Wi-Fi to one bar in an MTR tunnel, so no fixed batch size suits
//! it. [`BatchSizer`] starts at [`BatchSizer::START_ITEMS`] and adapts after each request:
//!
//! * a full batch answered within half the target time doubles the next one, up to
//!   [`MAX_PUSH_ITEMS`];
//! * a batch slower than the target shrinks the next one in proportion, so a request on a slow
//!   link is sized to finish well inside the client's timeout;
//! * a request lost to a timeout or a broken connection halves the next one;
//! * the server being busy (429/503) or failing (5xx) changes nothing, since the link is not
//!   the problem.
//!
//! The target time is a sixth of the client's request timeout (5 s for the default 30 s). A
//! batch also stops at a byte budget, [`MAX_PUSH_BYTES`] of items at first, well below the
//! reference server's default 4 MiB body limit, however many items that is (one item is always
//! sent, and an item is at most 256 KiB). A server configured with a lower limit answers 413;
//! [`BatchSizer::too_large`] then halves the budget below what was refused, for as long as the
//! device runs.

use std::time::Duration;

use super::client::SyncError;
use daka_core::protocol::MAX_PUSH_ITEMS;

/// Most bytes of items (payloads plus ids, streams and kinds) in one push request.
pub const MAX_PUSH_BYTES: usize = 1024 * 1024;

/// A push of this many bytes of items or more (64 KiB: about thirty punches with their Wi-Fi
/// and face evidence) is announced with `POST /v1/push/turn` before its first upload in a
/// sync round, unless a push was answered earlier in the round: a busy server then refuses the
/// small question, not the upload. A fleet that comes back online together (every phone with
/// a day's backlog) would otherwise send the server every backlog at once, to have all but a
/// few refused. A smaller push is sent at once; its refusal costs little more than the question.
pub const ASK_TURN_FROM_BYTES: usize = 64 * 1024;

/// The adaptive batch size of a device's pushes. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSizer {
    items: usize,
    bytes: usize,
    target: Duration,
}

impl BatchSizer {
    /// Items in the first request.
    pub const START_ITEMS: usize = 100;
    /// Fewest items a request is cut down to.
    pub const MIN_ITEMS: usize = 10;
    /// Most items in a request.
    pub const MAX_ITEMS: usize = MAX_PUSH_ITEMS;

    /// A sizer for a client whose requests time out after `request_timeout`.
    pub fn new(request_timeout: Duration) -> BatchSizer {
        BatchSizer {
            items: Self::START_ITEMS,
            bytes: MAX_PUSH_BYTES,
            target: request_timeout / 6,
        }
    }

    /// Items to take for the next request.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Most bytes of items (see [`crate::outbox::OutboxItem::wire_bytes`]) for the next
    /// request.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Learns that the server refused a request of `sent_bytes` of items as too large (413):
    /// the budget drops to half of that, and never grows back.
    pub fn too_large(&mut self, sent_bytes: usize) {
        self.bytes = self.bytes.min(sent_bytes / 2);
    }

    /// The time a request should take at most.
    pub fn target(&self) -> Duration {
        self.target
    }

    /// Learns from a request of `sent` items that was answered after `elapsed`.
    pub fn answered(&mut self, sent: usize, elapsed: Duration) {
        if elapsed > self.target {
            // Scale to the target from what this request carried; a timer's zero target
            // (a zero timeout) leaves the floor.
            let scaled = (sent as u128)
                .saturating_mul(self.target.as_nanos())
                .checked_div(elapsed.as_nanos())
                .unwrap_or(0);
            self.items = usize::try_from(scaled)
                .unwrap_or(Self::MAX_ITEMS)
                .clamp(Self::MIN_ITEMS, self.items);
        } else if sent >= self.items && elapsed <= self.target / 2 {
            self.items = (self.items * 2).min(Self::MAX_ITEMS);
        }
    }

    /// Learns from a request that failed with `error`.
    pub fn failed(&mut self, error: &SyncError) {
        if matches!(error, SyncError::Timeout { .. } | SyncError::Network { .. }) {
            self.items = (self.items / 2).max(Self::MIN_ITEMS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(30);

    fn timeout() -> SyncError {
        SyncError::Timeout {
            url: "http://127.0.0.1:1/v1/push".into(),
        }
    }

    #[test]
    fn starts_at_the_start_size_with_a_sixth_of_the_timeout_as_target() {
        let s = BatchSizer::new(TIMEOUT);
        assert_eq!(s.items(), 100);
        assert_eq!(s.target(), Duration::from_secs(5));
    }

    #[test]
    fn fast_full_batches_double_up_to_the_protocol_limit() {
        let mut s = BatchSizer::new(TIMEOUT);
        let mut seen = vec![s.items()];
        for _ in 0..5 {
            s.answered(s.items(), Duration::from_millis(40));
            seen.push(s.items());
        }
        assert_eq!(seen, [100, 200, 400, 500, 500, 500]);
        assert_eq!(BatchSizer::MAX_ITEMS, MAX_PUSH_ITEMS);
    }

    #[test]
    fn a_short_batch_or_one_near_the_target_does_not_grow() {
        let mut s = BatchSizer::new(TIMEOUT);
        // The backlog ran out: 30 items say nothing about whether 200 would be fast.
        s.answered(30, Duration::from_millis(10));
        assert_eq!(s.items(), 100);
        // Full, but past half the target: keep the size.
        s.answered(100, Duration::from_millis(2_600));
        assert_eq!(s.items(), 100);
        // Exactly at half the target still grows.
        s.answered(100, Duration::from_millis(2_500));
        assert_eq!(s.items(), 200);
    }

    #[test]
    fn slow_requests_shrink_in_proportion_to_the_target() {
        let mut s = BatchSizer::new(TIMEOUT);
        s.answered(100, Duration::from_secs(20));
        assert_eq!(s.items(), 25, "100 items took 4× the 5 s target");
        s.answered(25, Duration::from_secs(10));
        assert_eq!(s.items(), 12);
        // Never below the floor, however slow.
        s.answered(12, Duration::from_secs(3_600));
        assert_eq!(s.items(), BatchSizer::MIN_ITEMS);
        // Slow but short batch: never grows from being slow.
        let mut s = BatchSizer::new(TIMEOUT);
        s.answered(5, Duration::from_secs(6));
        assert_eq!(s.items(), 10);
        let mut s = BatchSizer::new(TIMEOUT);
        s.answered(1_000, Duration::from_secs(6));
        assert_eq!(s.items(), 100, "a slow request never raises the size");
    }

    #[test]
    fn timeouts_and_broken_connections_halve_busy_and_server_errors_do_not() {
        let mut s = BatchSizer::new(TIMEOUT);
        s.failed(&timeout());
        assert_eq!(s.items(), 50);
        s.failed(&SyncError::Network {
            url: "u".into(),
            reason: "connection reset".into(),
        });
        assert_eq!(s.items(), 25);
        s.failed(&SyncError::Busy {
            status: 503,
            retry_after_ms: Some(1_000),
        });
        s.failed(&SyncError::Server {
            status: 500,
            message: "boom".into(),
        });
        assert_eq!(s.items(), 25);
        for _ in 0..10 {
            s.failed(&timeout());
        }
        assert_eq!(s.items(), BatchSizer::MIN_ITEMS);
        // And it recovers once the link does.
        s.answered(10, Duration::from_millis(50));
        assert_eq!(s.items(), 20);
    }

    #[test]
    fn a_refusal_as_too_large_halves_the_byte_budget_below_what_was_sent() {
        let mut s = BatchSizer::new(TIMEOUT);
        assert_eq!(s.bytes(), MAX_PUSH_BYTES);
        s.too_large(150_000);
        assert_eq!(s.bytes(), 75_000);
        // A larger refused request (sent before the budget dropped) does not raise it.
        s.too_large(1_000_000);
        assert_eq!(s.bytes(), 75_000);
        s.too_large(40_000);
        assert_eq!(s.bytes(), 20_000);
        // Fast answers grow the item count, never the byte budget.
        s.answered(s.items(), Duration::from_millis(10));
        assert_eq!((s.items(), s.bytes()), (200, 20_000));
        s.too_large(0);
        assert_eq!(s.bytes(), 0, "one item per request from here");
    }

    #[test]
    fn extreme_timeouts_and_durations_stay_in_bounds() {
        for timeout in [Duration::ZERO, Duration::from_nanos(1), Duration::MAX] {
            let mut s = BatchSizer::new(timeout);
            for elapsed in [Duration::ZERO, Duration::from_nanos(1), Duration::MAX] {
                for sent in [0, 1, s.items(), usize::MAX] {
                    s.answered(sent, elapsed);
                    assert!(
                        (BatchSizer::MIN_ITEMS..=BatchSizer::MAX_ITEMS).contains(&s.items()),
                        "timeout {timeout:?}, {sent} items in {elapsed:?}: {}",
                        s.items()
                    );
                }
            }
        }
    }
}
