package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.Fix
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchKind
import hk.daka.sdk.StatusListener
import hk.daka.sdk.SyncReport
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.runBlocking

/** Places around the Causeway Bay store of the example policy (GeoJSON order: lon, lat). */
object Places {
    /** Inside the store's fence. */
    const val STORE_LAT = 22.28005
    const val STORE_LON = 114.18305

    /** About 120 m outside the fence's edge. */
    const val OUTSIDE_LAT = 22.2810
    const val OUTSIDE_LON = 114.1840

    /** A BSSID on the store's Wi-Fi allow-list. */
    const val STORE_WIFI = "E0:55:3D:4A:12:C1"

    private val n = AtomicInteger()

    /**
     * A fresh GPS fix. Each differs from the previous by a few millimetres, as real fixes do
     * (an exact repeat of the previous punch's fix is flagged as replayed).
     */
    fun fix(lat: Double, lon: Double, accuracyM: Double, mock: Boolean = false): Fix {
        val wiggle = n.incrementAndGet() * 1e-8
        return Fix(
            lat = lat + wiggle,
            lon = lon,
            accuracyM = accuracyM,
            timeMs = System.currentTimeMillis(),
            monotonicMs = null,
            mock = mock,
            provider = "gps",
        )
    }

    fun inStore(accuracyM: Double = 5.0) = fix(STORE_LAT, STORE_LON, accuracyM)

    /** 34 m north of the store's fence: within reach of its 20 m tolerance, not inside it. */
    fun nearStore(accuracyM: Double) = fix(22.2805, 114.1831, accuracyM)
}

/** Builds [PunchInput]s with a face check done on [device] for [employee]. */
class Phone(val device: DakaDevice, val employee: String) {
    /** Asks daka for a nonce and the face matcher for a token bound to it. */
    fun faceChecked(kind: PunchKind, fix: Fix?, wifi: List<String> = emptyList()): PunchInput {
        val nonce = device.beginFaceCheck()
        return PunchInput(
            kind = kind,
            fix = fix,
            wifiBssids = wifi,
            faceToken = FaceMatcher.token(employee, nonce),
            faceNonce = nonce,
        )
    }
}

/** Opens a device at [dir]/[name].db and enrols it for [employee] on [server]. */
fun enrolledDevice(server: ReferenceServer, dir: Path, name: String, employee: String = "E1001"): DakaDevice {
    val device = DakaDevice.open(dir.resolve("$name.db").toString(), null)
    runBlocking { device.enroll(server.url, server.issueCode(employee), "JVM $name", "android") }
    return device
}

/** Records every listener call, from whatever thread daka makes it on. */
class RecordingListener : StatusListener {
    val progress = CopyOnWriteArrayList<Pair<ULong, ULong>>()
    val finished = CopyOnWriteArrayList<SyncReport>()
    val failed = CopyOnWriteArrayList<DakaException>()
    val threads = CopyOnWriteArrayList<String>()

    override fun onSyncProgress(sent: ULong, total: ULong) {
        threads += Thread.currentThread().name
        progress += sent to total
    }

    override fun onSyncFinished(report: SyncReport) {
        threads += Thread.currentThread().name
        finished += report
    }

    override fun onSyncFailed(error: DakaException) {
        threads += Thread.currentThread().name
        failed += error
    }

    /** Finished and failed rounds so far. */
    val rounds: Int get() = finished.size + failed.size
}

/** Polls [condition] every 50 ms until it holds or [timeoutMs] passes; returns whether it held. */
fun eventually(timeoutMs: Long = 10_000, condition: () -> Boolean): Boolean {
    val deadline = System.currentTimeMillis() + timeoutMs
    while (System.currentTimeMillis() < deadline) {
        if (condition()) return true
        Thread.sleep(50)
    }
    return condition()
}
