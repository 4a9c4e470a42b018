package hk.daka.sample

import android.annotation.SuppressLint
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.location.Location
import android.location.LocationListener
import android.location.LocationManager
import android.net.wifi.WifiManager
import android.os.Build
import android.os.Looper
import hk.daka.android.bssids
import hk.daka.android.toFix
import hk.daka.sdk.Fix

/**
 * The platform evidence for a punch: the freshest location fix from `LocationManager` (GPS
 * and network providers) and the BSSIDs of the latest Wi-Fi scan. Start it when the screen
 * shows and stop it when it hides; the permissions must have been granted before [start].
 * (Apps with Google Play services would use `FusedLocationProviderClient` instead; daka
 * takes the same `Fix` either way.)
 */
class PlatformInputs(private val context: Context) : LocationListener {
    private val locations = context.getSystemService(LocationManager::class.java)
    private val wifi = context.getSystemService(WifiManager::class.java)
    private var best: Location? = null
    private var bssids: List<String> = emptyList()

    private val scans = object : BroadcastReceiver() {
        override fun onReceive(context: Context, intent: Intent) = readScan()
    }

    /** The latest fix, if any, as daka's `Fix`. */
    val fix: Fix? get() = best?.toFix()

    /** The BSSIDs of the latest scan. */
    val wifiBssids: List<String> get() = bssids

    @SuppressLint("MissingPermission") // the activity asks before calling start()
    fun start() {
        for (provider in listOf(LocationManager.GPS_PROVIDER, LocationManager.NETWORK_PROVIDER)) {
            if (locations.isProviderEnabled(provider)) {
                locations.getLastKnownLocation(provider)?.let(::onLocationChanged)
                locations.requestLocationUpdates(provider, 5_000L, 0f, this, Looper.getMainLooper())
            }
        }
        val filter = IntentFilter(WifiManager.SCAN_RESULTS_AVAILABLE_ACTION)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            context.registerReceiver(scans, filter, Context.RECEIVER_NOT_EXPORTED)
        } else {
            context.registerReceiver(scans, filter)
        }
        readScan()
        scanNow()
    }

    fun stop() {
        locations.removeUpdates(this)
        context.unregisterReceiver(scans)
    }

    /** Asks for a fresh scan (Android throttles apps to 4 scans in 2 minutes). */
    fun scanNow() {
        // Deprecated since API 28 with no replacement for apps; still works within the limits.
        @Suppress("DEPRECATION")
        wifi.startScan()
    }

    override fun onLocationChanged(location: Location) {
        val current = best
        // Keep the newer fix unless it is much less accurate than a fix under 30 s old.
        if (current == null || location.time - current.time > 30_000 ||
            location.accuracy <= current.accuracy
        ) {
            best = location
        }
    }

    @SuppressLint("MissingPermission")
    private fun readScan() {
        bssids = wifi.scanResults.bssids()
    }
}
