//! The write transactions a [`PostgresStorage`](super::PostgresStorage) runs at once: one
//! fewer than its pooled connections, so that one is always left for reads.
//!
//! A write can read through the storage while its transaction is open: a push that meets a
//! policy version for the first time builds its engine from the stored policy, and an approval
//! reads the current policy and the applicant's leave balances. Each such read takes a second
//! connection from the pool. Were every connection held by a write waiting for a second one,
//! none would come, and every write would wait out the pool's timeout and fail `Busy` (the
//! first pushes after a start, a dozen at once on a cold engine cache, did exactly that for
//! 10 s). With one connection kept back, the reads go through one after another and each
//! write goes on.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::storage::StorageError;

/// A counting gate for write transactions.
#[derive(Debug)]
pub(super) struct WriteSlots {
    free: Mutex<u32>,
    freed: Condvar,
    /// Longest wait for a slot, as for a connection.
    timeout: Duration,
}

/// A write's slot, given back when dropped.
pub(super) struct WriteSlot<'a>(&'a WriteSlots);

impl WriteSlots {
    /// `n` writes at once, each waiting for a slot up to `timeout`.
    pub(super) fn new(n: u32, timeout: Duration) -> WriteSlots {
        WriteSlots {
            free: Mutex::new(n),
            freed: Condvar::new(),
            timeout,
        }
    }

    /// Waits for a slot; [`StorageError::Busy`] past the timeout, as a pool without a free
    /// connection answers.
    pub(super) fn take(&self) -> Result<WriteSlot<'_>, StorageError> {
        let deadline = Instant::now() + self.timeout;
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!("no database connection free for a write");
                return Err(StorageError::Busy);
            }
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *free -= 1;
        Ok(WriteSlot(self))
    }
}

impl Drop for WriteSlot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_waited_for_and_given_back_and_none_free_past_the_timeout_is_busy() {
        let slots = WriteSlots::new(2, Duration::from_millis(50));
        let a = slots.take().unwrap();
        let b = slots.take().unwrap();
        assert!(matches!(slots.take(), Err(StorageError::Busy)));
        drop(a);
        let c = slots.take().unwrap();
        // A writer waiting for a slot gets the one given back meanwhile.
        let slots = std::sync::Arc::new(WriteSlots::new(1, Duration::from_secs(5)));
        let held = slots.take().unwrap();
        let waiter = {
            let slots = slots.clone();
            std::thread::spawn(move || slots.take().map(drop).is_ok())
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        assert!(waiter.join().unwrap());
        drop((b, c));
    }
}
