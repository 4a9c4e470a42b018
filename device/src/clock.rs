//! The device's clocks, as a source the platform can provide.
//!
//! daka needs three readings per punch: the wall clock (user-adjustable), a monotonic clock
//! that counts through deep sleep and never goes back while the device stays up, and an id of
//! the current boot (the monotonic clock restarts at every boot). The trusted-time anchor is
//! stored with both (see [`crate::store`]'s `time_anchor`), so it must read the same in every
//! process of one boot, or every app relaunch would lose it (`untrusted_time`) and a wall-clock
//! change across a relaunch would go unnoticed. [`SystemClock`] reads, per platform:
//!
//! | platform | monotonic clock | boot id |
//! |---|---|---|
//! | Linux, Android | `CLOCK_BOOTTIME` (what `SystemClock.elapsedRealtime()` reads) | `/proc/sys/kernel/random/boot_id` |
//! | iOS, macOS | `mach_continuous_time()` ("including while the system is asleep", Apple's documentation), in ms via `mach_timebase_info` | `sysctl kern.bootsessionuuid`, else `kern.boottime` |
//! | elsewhere | the process's own `Instant` | a random `process-…` id |
//!
//! `kern.boottime` is only the fallback on Apple platforms: the kernel moves it when the wall
//! clock is set, which would look like a reboot (the anchor dropped, the wall-clock jump not
//! compared); the boot session UUID stays for the whole boot. Where the platform gives
//! neither, each process counts as a boot, which costs the anchor at every relaunch but
//! never misuses it. Apps may implement [`ClockSource`] themselves (the simulator, tests).

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use daka_core::evidence::DeviceClock;

/// Where the device's clocks come from.
pub trait ClockSource: Send + Sync {
    /// The three readings, taken together.
    fn now(&self) -> DeviceClock;
}

/// The operating system's clocks: a boot-based monotonic clock and the boot's id (see the
/// module documentation for what each platform reads).
#[derive(Debug)]
pub struct SystemClock {
    boot_id: String,
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    start: std::time::Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemClock {
    /// Reads the boot id once; where there is none, or it cannot be read, a random
    /// `process-…` id stands in and each process counts as a boot.
    pub fn new() -> SystemClock {
        let boot_id = boot::id().unwrap_or_else(|| format!("process-{:016x}", fastrand::u64(..)));
        SystemClock {
            boot_id,
            #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
            start: std::time::Instant::now(),
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    fn monotonic_ms(&self) -> u64 {
        boot::monotonic_ms()
    }

    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    fn monotonic_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod boot {
    /// The kernel's id of this boot.
    pub(super) fn id() -> Option<String> {
        let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let id = id.trim();
        (!id.is_empty()).then(|| id.to_string())
    }

    /// `CLOCK_BOOTTIME` in milliseconds: counts suspend, restarts at boot.
    pub(super) fn monotonic_ms() -> u64 {
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
}

#[cfg(target_vendor = "apple")]
mod boot {
    /// `<mach/mach_time.h>`'s `mach_timebase_info_data_t`: nanoseconds per tick, as a ratio.
    #[repr(C)]
    struct TimebaseInfo {
        numer: u32,
        denom: u32,
    }

    // Declared here: libc's `mach_timebase_info` is deprecated in favour of another crate,
    // and it has no `mach_continuous_time`.
    unsafe extern "C" {
        /// `<mach/mach_time.h>`: ticks since boot, counting sleep (iOS 10, macOS 10.12).
        fn mach_continuous_time() -> u64;
        /// `<mach/mach_time.h>`: the tick's length.
        fn mach_timebase_info(info: *mut TimebaseInfo) -> libc::c_int;
    }

    /// The boot session's UUID, or failing that the boot time the kernel reports.
    pub(super) fn id() -> Option<String> {
        if let Some(uuid) = sysctl_string(c"kern.bootsessionuuid") {
            return Some(uuid.to_ascii_lowercase());
        }
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        let mut len = std::mem::size_of::<libc::timeval>();
        // SAFETY: the name is NUL-terminated, `tv` and `len` are valid for writing, nothing set.
        let rc = unsafe {
            libc::sysctlbyname(
                c"kern.boottime".as_ptr(),
                (&mut tv as *mut libc::timeval).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        (rc == 0 && tv.tv_sec > 0).then(|| format!("boottime-{}.{:06}", tv.tv_sec, tv.tv_usec))
    }

    fn sysctl_string(name: &std::ffi::CStr) -> Option<String> {
        let mut buf = [0u8; 128];
        let mut len = buf.len();
        // SAFETY: the name is NUL-terminated, `buf` and `len` are valid for writing, nothing set.
        let rc = unsafe {
            libc::sysctlbyname(
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc != 0 || len == 0 || len > buf.len() {
            return None;
        }
        let text = std::str::from_utf8(&buf[..len])
            .ok()?
            .trim_end_matches('\0')
            .trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    /// `mach_continuous_time` in milliseconds: counts sleep, restarts at boot.
    pub(super) fn monotonic_ms() -> u64 {
        let mut info = TimebaseInfo { numer: 0, denom: 0 };
        // SAFETY: `info` is valid for writing; the call has no other effect.
        let rc = unsafe { mach_timebase_info(&mut info) };
        if rc != 0 || info.denom == 0 {
            return 0;
        }
        // SAFETY: no arguments, no effect besides reading the clock.
        let ticks = unsafe { mach_continuous_time() };
        let nanos = u128::from(ticks) * u128::from(info.numer) / u128::from(info.denom);
        u64::try_from(nanos / 1_000_000).unwrap_or(u64::MAX)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
mod boot {
    /// No boot id here: each process counts as a boot.
    pub(super) fn id() -> Option<String> {
        None
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
