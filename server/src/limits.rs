//! Failures counted in a sliding window, per key, to make guessing slow: console sign-ins (per
//! account and per address), enrolment codes (per address and overall) and token refreshes
//! (per address and per device). In memory, per server process: several instances behind a
//! balancer each count their own (see `docs/server.md`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Above this many keys, keys with no failure left in the window are dropped.
const MAX_KEYS: usize = 100_000;

/// Failure times per key within a window.
pub struct FailureLimiter {
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl FailureLimiter {
    /// A limiter that remembers failures for `window`.
    pub fn new(window: Duration) -> FailureLimiter {
        FailureLimiter {
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when any of `limits` (key, most failures in the window) is
    /// reached: the longest wait among them.
    pub fn blocked(&self, limits: &[(&str, usize)], now: DateTime<Utc>) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait: Option<u64> = None;
        for (key, limit) in limits {
            let Some(times) = map.get_mut(*key) else {
                continue;
            };
            while times.front().is_some_and(|t| *t + self.window <= now) {
                times.pop_front();
            }
            if *limit > 0 && times.len() >= *limit {
                let oldest = times[times.len() - limit];
                let s = (oldest + self.window - now).num_seconds().max(1) as u64;
                wait = Some(wait.map_or(s, |w| w.max(s)));
            }
        }
        wait
    }

    /// Counts a failure against each of `keys`.
    pub fn fail(&self, keys: &[&str], now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > MAX_KEYS {
            let window = self.window;
            map.retain(|_, times| times.back().is_some_and(|t| *t + window > now));
        }
        for key in keys {
            map.entry((*key).to_owned()).or_default().push_back(now);
        }
    }

    /// Forgets the failures of `key` (an account that signed in).
    pub fn forget(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_blocked_at_its_limit_until_its_oldest_failure_leaves_the_window() {
        let l = FailureLimiter::new(Duration::minutes(10));
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for i in 0..3 {
            assert_eq!(l.blocked(&[("a", 3), ("all", 5)], t0), None, "{i}");
            l.fail(&["a", "all"], t0 + Duration::seconds(i));
        }
        assert_eq!(
            l.blocked(&[("a", 3), ("all", 5)], t0 + Duration::seconds(3)),
            Some(597)
        );
        // Another key is not blocked by `a`, but the shared one counts everything.
        assert_eq!(l.blocked(&[("b", 3), ("all", 5)], t0), None);
        l.fail(&["b", "all"], t0);
        l.fail(&["c", "all"], t0);
        assert_eq!(l.blocked(&[("d", 3), ("all", 5)], t0), Some(600));
        // The window passes.
        assert_eq!(
            l.blocked(
                &[("a", 3)],
                t0 + Duration::minutes(10) + Duration::seconds(1)
            ),
            None
        );
        // Forgetting a key clears it.
        l.fail(&["e"], t0);
        l.forget("e");
        assert_eq!(l.blocked(&[("e", 1)], t0), None);
    }
}
