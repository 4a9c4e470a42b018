//! Trusted time: the evaluator's "now", reconstructed without trusting the device wall clock.
//!
//! Each sync response carries server time; the SDK stores it as a [`TimeAnchor`] together with
//! the monotonic clock reading and boot id at receipt. While the device stays on that boot,
//! trusted now = anchor server time + monotonic time elapsed since the anchor. After a reboot
//! (new boot id) the monotonic clock restarted and the anchor is useless until the next sync;
//! the device wall clock is then the only clock, and the verdict says so
//! ([`TimeSource::DeviceWall`]) so that nothing is rejected on device time alone.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{DeviceClock, TimeAnchor};

/// How the evaluator's notion of "now" was obtained (a verdict's `time_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// Last server time anchor plus elapsed monotonic time on the same boot.
    ServerAnchor,
    /// Supplied by the caller (the server's own clock, or `daka check --now`).
    Supplied,
    /// The device wall clock, because no anchor exists for this boot.
    DeviceWall,
}

/// The evaluator's notion of now, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedTime {
    /// The time to judge the attempt at (UTC).
    pub now: DateTime<Utc>,
    /// Where `now` came from; [`TimeSource::DeviceWall`] means it rests on the user-adjustable wall
    /// clock.
    pub source: TimeSource,
}

impl TrustedTime {
    /// A time supplied by a trusted caller: the server's own clock, or `daka check --now`.
    pub fn supplied(now: DateTime<Utc>) -> TrustedTime {
        TrustedTime {
            now,
            source: TimeSource::Supplied,
        }
    }

    /// Reconstructs now on the device from the last anchor and the current clocks.
    ///
    /// The anchor is used only if it was taken on the same boot and the monotonic clock has
    /// not gone backwards since (which a real monotonic clock never does; a corrupted or
    /// forged reading falls back to the wall clock rather than producing a time in the past).
    pub fn on_device(clock: &DeviceClock, anchor: Option<&TimeAnchor>) -> TrustedTime {
        if let Some(anchor) = anchor
            && anchor.boot_id == clock.boot_id
            && clock.monotonic_ms >= anchor.monotonic_ms
        {
            let elapsed = clock.monotonic_ms - anchor.monotonic_ms;
            // 2^63 ms is 292 million years: anything that does not fit is a corrupt reading.
            if let Ok(elapsed) = i64::try_from(elapsed)
                && let Some(now) = anchor
                    .server_time
                    .checked_add_signed(Duration::milliseconds(elapsed))
            {
                return TrustedTime {
                    now,
                    source: TimeSource::ServerAnchor,
                };
            }
        }
        TrustedTime {
            now: clock.wall,
            source: TimeSource::DeviceWall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn clock(wall: &str, mono: u64, boot: &str) -> DeviceClock {
        DeviceClock {
            wall: t(wall),
            monotonic_ms: mono,
            boot_id: boot.into(),
        }
    }

    #[test]
    fn anchor_on_same_boot_ignores_a_wrong_wall_clock() {
        let anchor = TimeAnchor {
            server_time: t("2026-11-26T01:00:00Z"),
            monotonic_ms: 10_000,
            boot_id: "b1".into(),
        };
        // The user set the wall clock back a day; 90 s of monotonic time passed.
        let c = clock("2026-11-25T01:01:30Z", 100_000, "b1");
        let tt = TrustedTime::on_device(&c, Some(&anchor));
        assert_eq!(tt.source, TimeSource::ServerAnchor);
        assert_eq!(tt.now, t("2026-11-26T01:01:30Z"));
    }

    #[test]
    fn reboot_or_backwards_monotonic_falls_back_to_wall() {
        let anchor = TimeAnchor {
            server_time: t("2026-11-26T01:00:00Z"),
            monotonic_ms: 10_000,
            boot_id: "b1".into(),
        };
        let after_reboot = clock("2026-11-26T03:00:00Z", 5_000, "b2");
        let tt = TrustedTime::on_device(&after_reboot, Some(&anchor));
        assert_eq!(tt.source, TimeSource::DeviceWall);
        assert_eq!(tt.now, after_reboot.wall);

        let backwards = clock("2026-11-26T03:00:00Z", 9_999, "b1");
        assert_eq!(
            TrustedTime::on_device(&backwards, Some(&anchor)).source,
            TimeSource::DeviceWall
        );
        assert_eq!(
            TrustedTime::on_device(&backwards, None).source,
            TimeSource::DeviceWall
        );
    }

    #[test]
    fn absurd_monotonic_reading_does_not_overflow() {
        let anchor = TimeAnchor {
            server_time: t("2026-11-26T01:00:00Z"),
            monotonic_ms: 0,
            boot_id: "b1".into(),
        };
        let c = clock("2026-11-26T03:00:00Z", u64::MAX, "b1");
        let tt = TrustedTime::on_device(&c, Some(&anchor));
        assert_eq!(tt.source, TimeSource::DeviceWall);
    }
}
