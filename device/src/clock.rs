//! The device's clocks, as a source the platform can provide.
//!
//! daka needs three readings per punch: the wall clock (user-adjustable), a monotonic clock
//! that counts through deep sleep and never goes back while the device stays up, and an id of
//! the current boot (the monotonic clock restarts at every boot). Android gives
//! `System.currentTimeMillis()`, `SystemClock.elapsedRealtime()` and
//! `Settings.Global.BOOT_COUNT`; iOS gives `Date()`, `clock_gettime(CLOCK_MONOTONIC_RAW)`-style
//! uptime and the kernel boot time. Apps may implement [`ClockSource`] over those; on Linux and
//! Android [`SystemClock`] reads the kernel directly.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use daka_core::evidence::DeviceClock;

/// Where the device's clocks come from.
pub trait ClockSource: Send + Sync {
    /// The three readings, taken together.
    fn now(&self) -> DeviceClock;
}

/// The operating system's clocks.
///
/// On Linux and Android: `CLOCK_BOOTTIME` (monotonic, counts suspend) and the kernel's
/// `boot_id`. Elsewhere the monotonic clock is the process's own and each process counts as a
/// boot, which only means a server time anchor does not survive an app restart.
#[derive(Debug)]
pub struct SystemClock {
    boot_id: String,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    start: std::time::Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemClock {
    /// Reads the kernel's boot id once (on Linux and Android); where there is none, or it
    /// cannot be read, a random `process-…` id stands in and each process counts as a boot.
    pub fn new() -> SystemClock {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| format!("process-{:016x}", fastrand::u64(..)));
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let boot_id = format!("process-{:016x}", fastrand::u64(..));
        SystemClock {
            boot_id,
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            start: std::time::Instant::now(),
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn monotonic_ms(&self) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists since Linux 2.6.39.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        if rc != 0 {
            return 0;
        }
        (ts.tv_sec as u64).saturating_mul(1000) + (ts.tv_nsec as u64) / 1_000_000
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn monotonic_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

impl ClockSource for SystemClock {
    fn now(&self) -> DeviceClock {
        DeviceClock {
            wall: Utc::now(),
            monotonic_ms: self.monotonic_ms(),
            boot_id: self.boot_id.clone(),
        }
    }
}

/// A clock under the caller's control, for tests, the demo and replaying recorded days:
/// time moves only when told to, and the wall clock can be set independently (as a user can).
#[derive(Debug)]
pub struct SimulatedClock {
    state: Mutex<DeviceClock>,
}

impl SimulatedClock {
    /// A clock reading `wall`, with the monotonic clock at `monotonic_ms` milliseconds since
    /// the (simulated) boot `boot_id`.
    pub fn new(wall: DateTime<Utc>, monotonic_ms: u64, boot_id: &str) -> SimulatedClock {
        SimulatedClock {
            state: Mutex::new(DeviceClock {
                wall,
                monotonic_ms,
                boot_id: boot_id.to_string(),
            }),
        }
    }

    /// Lets `ms` milliseconds pass on both clocks.
    pub fn advance_ms(&self, ms: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.monotonic_ms = s.monotonic_ms.saturating_add(ms);
        s.wall += Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
    }

    /// Sets the wall clock only, as a user changing the time in settings does.
    pub fn set_wall(&self, wall: DateTime<Utc>) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).wall = wall;
    }

    /// Simulates a reboot: a new boot id and the monotonic clock back near zero.
    pub fn reboot(&self, boot_id: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.boot_id = boot_id.to_string();
        s.monotonic_ms = 5_000;
    }
}

impl ClockSource for SimulatedClock {
    fn now(&self) -> DeviceClock {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_has_a_boot_id() {
        let c = SystemClock::new();
        let a = c.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = c.now();
        assert!(b.monotonic_ms >= a.monotonic_ms + 4, "{a:?} {b:?}");
        assert!(a.monotonic_ms > 0);
        assert_eq!(a.boot_id, b.boot_id);
        assert!(!a.boot_id.is_empty());
    }

    #[test]
    fn simulated_clock_moves_only_when_told() {
        let c = SimulatedClock::new("2026-11-26T00:00:00Z".parse().unwrap(), 1_000, "b1");
        c.advance_ms(60_000);
        assert_eq!(c.now().monotonic_ms, 61_000);
        assert_eq!(
            c.now().wall,
            "2026-11-26T00:01:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        c.set_wall("2020-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(c.now().monotonic_ms, 61_000);
        c.reboot("b2");
        assert_eq!(
            (c.now().boot_id.as_str(), c.now().monotonic_ms),
            ("b2", 5_000)
        );
    }
}
