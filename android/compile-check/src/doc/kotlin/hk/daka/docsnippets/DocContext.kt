package hk.daka.docsnippets

import android.content.Context
import android.location.Location
import android.net.wifi.WifiManager
import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaDeviceInterface
import hk.daka.sdk.DakaException
import hk.daka.sdk.Fix
import hk.daka.sdk.PunchReceipt
import hk.daka.sdk.Reason
import hk.daka.sdk.RequestInfo
import hk.daka.sdk.RouteStepInfo

/**
 * The app-side names that the Kotlin snippets of README.md and docs/android.md assume: the
 * snippets are compiled (by scripts/check-android.sh) as extension functions of this class,
 * so every name a snippet uses without declaring it must be here, with the type the app
 * would have. Nothing here runs.
 */
abstract class DocContext {
    abstract val context: Context
    abstract val device: DakaDevice
    abstract val serverUrl: String
    abstract val code: String
    abstract val location: Location?
    abstract val locationsDuringFaceCheck: List<Location>
    abstract val wifiManager: WifiManager
    abstract val faceMatcher: FaceMatcher
    abstract val photoBytes: ByteArray
    abstract val receipt: PunchReceipt
    abstract val fix: Fix?
    abstract val scan: List<String>
    abstract val matcherToken: String?
    abstract val playIntegrity: PlayIntegrity

    abstract fun show(text: String)
    abstract fun showRecorded(recordId: String)
    abstract fun showReasons(reasons: List<Reason>)
    abstract fun showProgress(sent: ULong, total: ULong)
    abstract fun refreshBadge()
    abstract fun showSyncProblem(error: DakaException)
    abstract fun showRoute(route: List<RouteStepInfo>)
    abstract fun showRequest(request: RequestInfo)
    abstract fun markField(field: String, reason: String)
}

/** The app's face matcher: returns the matcher's compact JWS for daka's nonce. */
interface FaceMatcher {
    suspend fun verify(nonce: String): String
}

/** The app's call of Play Integrity (docs/android.md, "Attested enrolment"). */
interface PlayIntegrity {
    suspend fun requestToken(nonce: String): String
}

/** An app's screen model written against the interface, as docs/android.md's testing section shows. */
class ClockScreenModel(private val device: DakaDeviceInterface) {
    fun clockIn() {
        device.punch(hk.daka.sdk.PunchInput(kind = hk.daka.sdk.PunchKind.IN))
    }
}
