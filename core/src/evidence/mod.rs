//! Evidence: what the platform observed at a punch attempt, and the checks that turn it into
//! findings before any verdict is reached.
//!
//! * [`Fix`], [`DeviceClock`], [`TimeAnchor`]: the raw inputs, in the shapes Android and iOS
//!   produce them.
//! * [`spoofing`]: signals that a fix or clock is not what it claims to be.
//! * [`time`]: trusted time reconstructed from the last server anchor and the monotonic clock.
//! * [`wifi`]: BSSID allow-list matching.
//! * [`face_token`]: verification of the face matcher's signed result.
//! * [`fusion`]: the fixes of one attempt fused into one conservative position estimate.

pub mod face_token;
pub mod fusion;
pub mod spoofing;
pub mod time;
pub mod wifi;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One location fix as the platform reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// Latitude, WGS-84 degrees.
    pub lat: f64,
    /// Longitude, WGS-84 degrees.
    pub lon: f64,
    /// Horizontal accuracy radius in metres at 68 % confidence (Android and iOS convention).
    pub accuracy_m: f64,
    /// Device wall-clock time of the fix (Android `Location.getTime()`, iOS `timestamp`).
    pub time: DateTime<Utc>,
    /// Monotonic clock at the fix in milliseconds since boot (Android
    /// `getElapsedRealtimeNanos() / 1e6`, iOS `systemUptime`-based), when the platform gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monotonic_ms: Option<u64>,
    /// The platform flagged the fix as coming from a mock provider
    /// (Android `isMock()`, iOS `sourceInformation.isSimulatedBySoftware`).
    #[serde(default)]
    pub mock: bool,
    /// Provider name (`gps`, `fused`, `network`), for the audit trail only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// The device's clocks at the moment of the attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceClock {
    /// Device wall clock (user-adjustable, so never trusted on its own).
    pub wall: DateTime<Utc>,
    /// Monotonic milliseconds since boot, counting sleep (Android `elapsedRealtime`, i.e.
    /// `CLOCK_BOOTTIME`; iOS `mach_continuous_time`); never goes back while `boot_id` stays
    /// the same.
    pub monotonic_ms: u64,
    /// Identifies the boot session; the monotonic clock restarts when it changes.
    pub boot_id: String,
}

/// The last trusted time received from the server, with the monotonic reading at receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeAnchor {
    /// The `server_time` of the sync response the anchor was taken from (UTC).
    pub server_time: DateTime<Utc>,
    /// The device's monotonic clock when that response was received, in milliseconds since boot (as
    /// [`DeviceClock::monotonic_ms`]).
    pub monotonic_ms: u64,
    /// The boot session of that reading ([`DeviceClock::boot_id`]); the anchor is used only while
    /// the device is still on it.
    pub boot_id: String,
}

/// A face-match token and the nonce daka issued for the attempt it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaceEvidence {
    /// Compact JWS from the face matcher.
    pub token: String,
    /// The nonce daka issued for this attempt.
    pub nonce: String,
}
