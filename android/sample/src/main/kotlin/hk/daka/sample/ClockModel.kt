package hk.daka.sample

import android.content.Context
import android.os.Build
import android.os.Handler
import android.os.Looper
import hk.daka.android.Daka
import hk.daka.android.sync.DakaSyncJobs
import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.Decision
import hk.daka.sdk.Fix
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchKind
import hk.daka.sdk.StatusListener
import hk.daka.sdk.SyncReport
import hk.daka.sdk.Verdict
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch

/** What the screen shows; the activity renders it and nothing else. */
data class ScreenState(
    val enrolled: Boolean = false,
    val status: String = "opening…",
    val queue: String = "",
    val lastVerdict: String = "",
    val error: String? = null,
    val busy: Boolean = true,
)

/** Lets the sample plug in a face matcher: it gets daka's nonce and returns the signed result. */
fun interface FaceMatcher {
    /** Runs the face check for `nonce` and returns the matcher's compact JWS. */
    suspend fun verify(nonce: String): String
}

/**
 * The sample's view model: owns the `DakaDevice` (opened once, off the main thread), runs every
 * daka call on a background dispatcher, and publishes a [ScreenState] on the main thread.
 * Plain Kotlin over framework classes; an app with AndroidX would make it a `ViewModel`.
 */
class ClockModel(context: Context) : StatusListener {
    private val app = context.applicationContext
    private val main = Handler(Looper.getMainLooper())
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private var device: DakaDevice? = null

    /** Set by the activity while it is visible; always called on the main thread. */
    var onState: ((ScreenState) -> Unit)? = null
        set(value) {
            field = value
            value?.invoke(state)
        }

    /** No face matcher in the sample; an app sets its own. */
    var faceMatcher: FaceMatcher? = null

    private var state = ScreenState()

    init {
        scope.launch {
            call {
                // The process's one device (the background job uses the same): opening reads the
                // database and asks the Keystore to unseal the device key.
                val opened = Daka.device(app)
                opened.setStatusListener(this@ClockModel)
                device = opened
                if (opened.identity() != null) opened.startBackgroundSync(SYNC_INTERVAL_SECONDS)
            }
        }
    }

    /** Enrols with the administrator's one-time code, then starts background sync. */
    fun enroll(serverUrl: String, code: String) = scope.launch {
        call {
            val d = requireDevice()
            val identity = d.enroll(serverUrl.trim(), code.trim(), Build.MODEL, "android")
            d.startBackgroundSync(SYNC_INTERVAL_SECONDS)
            // Rounds when the app is not running: JobScheduler, with a network, hourly.
            DakaSyncJobs.schedule(app)
            update { it.copy(lastVerdict = "Enrolled as ${identity.employeeId}") }
        }
    }

    /** Clocks in or out with the latest fix and Wi-Fi scan (and a face check if configured). */
    fun punch(kind: PunchKind, fix: Fix?, bssids: List<String>) = scope.launch {
        call {
            val d = requireDevice()
            var input = PunchInput(kind = kind, fix = fix, wifiBssids = bssids)
            faceMatcher?.let { matcher ->
                val nonce = d.beginFaceCheck()
                input = input.copy(faceNonce = nonce, faceToken = matcher.verify(nonce))
            }
            val receipt = d.punch(input)
            val title = when (receipt.verdict.decision) {
                Decision.ACCEPTED -> "Recorded (#${receipt.seq})"
                Decision.FIELD_PUNCH -> "Recorded as a field punch, for review (#${receipt.seq})"
                Decision.REJECTED -> "Not recorded"
            }
            update { it.copy(lastVerdict = title + "\n" + explain(receipt.verdict)) }
        }
    }

    /** Sends the queue now (the background loop does it anyway). */
    fun syncNow() = scope.launch { call { requireDevice().syncNow() } }

    /** Re-reads the status and the queue counts. */
    fun refresh() = scope.launch { call { } }

    override fun onSyncProgress(sent: ULong, total: ULong) {
        update { it.copy(status = "Sending $sent of $total…") }
    }

    override fun onSyncFinished(report: SyncReport) {
        scope.launch { call { } }
    }

    override fun onSyncFailed(error: DakaException) {
        update { it.copy(error = describe(error)) }
    }

    /** The open device, for the other screens of the sample (null while it opens). */
    val openDevice: DakaDevice? get() = device

    private fun requireDevice(): DakaDevice =
        device ?: throw DakaException.Internal("the device store is still opening")

    /** Runs a daka call, then refreshes the status; a `DakaException` becomes the error line. */
    private suspend fun call(block: suspend () -> Unit) {
        update { it.copy(busy = true, error = null) }
        val error = try {
            block()
            null
        } catch (e: DakaException) {
            describe(e)
        }
        val d = device
        val status = try {
            d?.status()
        } catch (_: DakaException) {
            null
        }
        update {
            it.copy(
                busy = false,
                error = error,
                enrolled = status?.enrolled ?: false,
                status = when {
                    status == null -> "Device store not open"
                    !status.enrolled -> "Not enrolled"
                    else -> "Employee ${status.employeeId} · device ${status.deviceId} · " +
                        "policy v${status.policyVersion ?: "-"}"
                },
                queue = status?.queue?.let { q ->
                    "Waiting to send: ${q.pending + q.inFlight}" +
                        (if (q.needsAttention > 0uL) " · needs attention: ${q.needsAttention}" else "")
                } ?: "",
            )
        }
    }

    private fun update(change: (ScreenState) -> ScreenState) {
        main.post {
            state = change(state)
            onState?.invoke(state)
        }
    }

    companion object {
        const val SYNC_INTERVAL_SECONDS = 300u

        /** Every reason with its code and message, as daka worded it. */
        fun explain(verdict: Verdict): String = buildString {
            verdict.siteName?.let { append("Site: $it\n") }
            for (reason in verdict.reasons) append("• ${reason.message} [${reason.code}]\n")
        }.trimEnd()

        /** What to tell the user for each error, and what the app does about it. */
        fun describe(e: DakaException): String = when (e) {
            is DakaException.NotEnrolled -> "Enrol this phone with a code from your administrator."
            is DakaException.AlreadyEnrolled -> "Already enrolled (device ${e.deviceId})."
            is DakaException.NoPolicy -> "Connect to the network once to fetch your company's rules."
            is DakaException.NoSchedule -> "No work schedule is set for you (${e.employee}); ask HR."
            is DakaException.InvalidInput -> "Invalid ${e.field}: ${e.reason}"
            is DakaException.QueueFull -> "${e.queued} punches are waiting; connect to the network."
            is DakaException.Offline -> "Offline: punches stay queued and are sent later."
            is DakaException.Unavailable -> "The phone could not do this just now; try again."
            is DakaException.Tls -> "The server's certificate was refused (${e.code}); tell your IT department. Punches stay queued."
            is DakaException.ServerBusy ->
                "Server busy" + (e.retryAfterSeconds?.let { "; retrying in $it s" } ?: "; retrying later")
            is DakaException.Unauthorized -> "This phone was signed out (${e.reason}); enrol again."
            is DakaException.DeviceRevoked -> "HR revoked this phone. Ask HR for a new enrolment code and enrol again; punches not yet sent stay on the phone."
            is DakaException.Refused -> "Refused (${e.code}): ${e.reason}"
            is DakaException.BadPolicy -> "The company rules could not be used: ${e.reason}"
            is DakaException.Storage -> "Storage problem: ${e.reason}"
            is DakaException.KeyStore -> "The device key is unusable: ${e.reason}. Enrol again."
            is DakaException.InvalidForm -> e.problems.joinToString("\n") { "${it.field}: ${it.reason}" }
            is DakaException.NoApprover -> "Nobody can approve this request: ${e.reason}. Ask your administrator."
            is DakaException.Internal -> "Internal error, please report: ${e.reason}"
        }
    }
}
