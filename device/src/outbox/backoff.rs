//! Retry timing: exponential backoff with full jitter, capped, and the server's Retry-After
//! taking precedence.
//!
//! Full jitter (a uniformly random delay between zero and the exponential ceiling) spreads the
//! retries of thousands of phones that lost the network at the same MTR station, instead of
//! having them all come back in lockstep.

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first retry's delay, in milliseconds.
    pub base_ms: u64,
    /// Largest delay ever chosen, in milliseconds.
    pub cap_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_ms: 1_000,
            cap_ms: 15 * 60 * 1_000,
        }
    }
}

impl Backoff {
    /// The ceiling for the `attempt`-th retry (1-based): `min(cap, base · 2^(attempt-1))`.
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        let shift = attempt.saturating_sub(1).min(63);
        self.base_ms.saturating_mul(1u64 << shift).min(self.cap_ms)
    }

    /// The delay before the next try after `attempt` failed tries. A server-sent Retry-After
    /// wins over the computed delay (it knows its own load), but is capped too, so a hostile
    /// or broken header cannot park the queue for a year.
    pub fn delay_ms(
        &self,
        attempt: u32,
        retry_after_ms: Option<u64>,
        rng: &mut fastrand::Rng,
    ) -> u64 {
        match retry_after_ms {
            Some(ms) => ms.min(self.cap_ms),
            None => rng.u64(0..=self.ceiling_ms(attempt)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps_without_overflow() {
        let b = Backoff {
            base_ms: 1_000,
            cap_ms: 60_000,
        };
        let ceilings: Vec<u64> = (1..=8).map(|a| b.ceiling_ms(a)).collect();
        assert_eq!(
            ceilings,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(b.ceiling_ms(0), 1_000);
        assert_eq!(b.ceiling_ms(u32::MAX), 60_000);
    }

    #[test]
    fn jitter_stays_within_the_ceiling_and_spreads() {
        let b = Backoff::default();
        let mut rng = fastrand::Rng::with_seed(7);
        let delays: Vec<u64> = (0..1000).map(|_| b.delay_ms(4, None, &mut rng)).collect();
        assert!(delays.iter().all(|&d| d <= 8_000));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 900,
            "full jitter spreads retries: {}",
            distinct.len()
        );
        let mean = delays.iter().sum::<u64>() as f64 / 1000.0;
        assert!(
            (3_000.0..5_000.0).contains(&mean),
            "mean {mean} near half the ceiling"
        );
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let b = Backoff::default();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(b.delay_ms(1, Some(30_000), &mut rng), 30_000);
        assert_eq!(b.delay_ms(1, Some(u64::MAX), &mut rng), b.cap_ms);
    }
}
