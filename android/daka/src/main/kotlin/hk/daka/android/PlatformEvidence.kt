package hk.daka.android

import android.location.Location
import android.net.wifi.ScanResult
import android.os.Build
import hk.daka.sdk.Fix

/**
 * An Android [Location] as daka's [Fix]: accuracy is already metres at 68 % confidence, the
 * monotonic time is `elapsedRealtimeNanos` (so daka can tell a stale fix even if the user set
 * the wall clock), and the mock flag is the platform's. `null` for a fix without an accuracy:
 * daka cannot judge a position whose uncertainty is unknown.
 */
fun Location.toFix(): Fix? = if (!hasAccuracy()) null else Fix(
    lat = latitude,
    lon = longitude,
    accuracyM = accuracy.toDouble(),
    timeMs = time,
    monotonicMs = (elapsedRealtimeNanos / 1_000_000).toULong(),
    mock = isMockLocation(this),
    provider = provider,
)

private fun isMockLocation(location: Location): Boolean =
    if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
        location.isMock
    } else {
        @Suppress("DEPRECATION")
        location.isFromMockProvider
    }

/**
 * The BSSIDs of a Wi-Fi scan, for `PunchInput.wifiBssids` (daka normalises case and separators).
 * Drops the placeholder `02:00:00:00:00:00` that Android reports without location permission.
 */
fun List<ScanResult>.bssids(): List<String> =
    mapNotNull { it.BSSID }.filter { it.isNotEmpty() && it != REDACTED_BSSID }.distinct()

private const val REDACTED_BSSID = "02:00:00:00:00:00"
