package hk.daka.android.sync

import hk.daka.sdk.DakaDeviceInterface
import hk.daka.sdk.DakaException
import hk.daka.sdk.SyncReport

/** What the background job tells JobScheduler after a round. */
sealed class JobOutcome {
    /** The round ran; nothing is left to send. `jobFinished(params, false)`. */
    data class Done(val report: SyncReport) : JobOutcome()

    /**
     * Try again after JobScheduler's backoff (`jobFinished(params, true)`): the network or the
     * server failed, or items are still queued after the round.
     */
    data class Retry(val reason: String) : JobOutcome()

    /**
     * Nothing a retry can fix (not enrolled, revoked, credentials refused): the periodic job is
     * cancelled, and the app schedules it again after enrolling (`DakaSyncJobs.schedule`).
     */
    data class Cancel(val reason: DakaException) : JobOutcome()

    /** A failure to report, not to retry in a loop (storage, key, policy): the next period tries again. */
    data class Failed(val reason: DakaException) : JobOutcome()
}

/**
 * One background sync round on the app's one device, and the decision of what JobScheduler
 * does next. Plain Kotlin: the `JobService` is a thin adapter around [run].
 *
 * The round is `syncNow()` on the same `DakaDevice` the app uses, so its `StatusListener`
 * receives the round's `onSyncProgress` events and then `onSyncFinished` or `onSyncFailed`,
 * exactly as for a round the app starts.
 */
object SyncRound {
    /**
     * Runs one round: [device] gives the app's device (opening it may fail: that failure is
     * decided like a round's). A device that is not enrolled is not synced.
     */
    suspend fun run(device: () -> DakaDeviceInterface): JobOutcome =
        try {
            val d = device()
            if (d.identity() == null) {
                JobOutcome.Cancel(DakaException.NotEnrolled())
            } else {
                val report = d.syncNow()
                if (report.remaining > 0u) {
                    JobOutcome.Retry("${report.remaining} item(s) still queued after the round")
                } else {
                    JobOutcome.Done(report)
                }
            }
        } catch (e: DakaException) {
            outcomeOf(e)
        }

    /** What a failed round means for the schedule. */
    fun outcomeOf(error: DakaException): JobOutcome = when (error) {
        is DakaException.Offline -> JobOutcome.Retry("offline: ${error.reason}")
        is DakaException.ServerBusy -> JobOutcome.Retry("server busy")
        is DakaException.Unavailable -> JobOutcome.Retry("phone service unavailable: ${error.reason}")
        // Enrolled but no policy yet: a round is what fetches it.
        is DakaException.NoPolicy -> JobOutcome.Retry("no policy yet")
        is DakaException.NotEnrolled,
        is DakaException.DeviceRevoked,
        is DakaException.Unauthorized,
        -> JobOutcome.Cancel(error)
        is DakaException.AlreadyEnrolled,
        is DakaException.NoSchedule,
        is DakaException.InvalidInput,
        is DakaException.InvalidForm,
        is DakaException.NoApprover,
        is DakaException.QueueFull,
        is DakaException.Refused,
        is DakaException.BadPolicy,
        is DakaException.Storage,
        is DakaException.KeyStore,
        is DakaException.Internal,
        // The server's certificate or key was refused: a configuration to fix, not a network
        // to wait for; the next scheduled job tries again.
        is DakaException.Tls,
        -> JobOutcome.Failed(error)
    }

    /** Whether a job should be scheduled at all: only for an enrolled device. */
    fun shouldSchedule(device: DakaDeviceInterface): Boolean = device.identity() != null
}
