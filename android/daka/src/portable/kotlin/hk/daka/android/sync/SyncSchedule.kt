package hk.daka.android.sync

import hk.daka.sdk.DakaException

/**
 * How daka's background sync job is scheduled, as plain data: [DakaSyncJobs] turns it into a
 * `JobInfo`. Kept free of Android classes so that the rules (JobScheduler's minimum period and
 * flex, the backoff bounds) are unit-tested on the JVM.
 */
data class SyncJobSpec(
    /** The `JobScheduler` job id (unique within the app). */
    val jobId: Int,
    /** Periodic (every [periodMillis], anywhere in the last [flexMillis]) or one-off. */
    val periodic: Boolean,
    /** The period of a periodic job; 0 for a one-off job. */
    val periodMillis: Long,
    /** The flex window at the end of each period; 0 for a one-off job. */
    val flexMillis: Long,
    /** `true`: only on an unmetered network (Wi-Fi); `false`: any network. */
    val unmeteredOnly: Boolean,
    /** Wait while the battery is low. */
    val batteryNotLow: Boolean,
    /** Survives a reboot (needs `RECEIVE_BOOT_COMPLETED`, which the daka AAR declares). */
    val persisted: Boolean,
    /** The first retry's delay after a failed round; it doubles with each failure. */
    val initialBackoffMillis: Long,
)

/** Builds and checks [SyncJobSpec]s within the limits JobScheduler enforces. */
object SyncSchedule {
    /** The job id of the periodic job unless the app chooses another. */
    const val PERIODIC_JOB_ID: Int = 0x0daca001

    /** The job id of the one-off "sync soon" job unless the app chooses another. */
    const val ONE_OFF_JOB_ID: Int = 0x0daca002

    /** JobScheduler's shortest period (`JobInfo.getMinPeriodMillis()`): 15 minutes. */
    const val MIN_PERIOD_MINUTES: Long = 15

    /** JobScheduler's shortest flex window (`JobInfo.getMinFlexMillis()`): 5 minutes. */
    const val MIN_FLEX_MINUTES: Long = 5

    /** JobScheduler's shortest backoff (`JobInfo.MIN_BACKOFF_MILLIS`): 10 seconds. */
    const val MIN_BACKOFF_SECONDS: Long = 10

    /** JobScheduler's longest backoff (`JobInfo.MAX_BACKOFF_DELAY_MILLIS`): 5 hours. */
    const val MAX_BACKOFF_SECONDS: Long = 5 * 3600

    private const val MINUTE = 60_000L

    /**
     * A periodic round every [intervalMinutes] (at least 15, JobScheduler's minimum), run
     * anywhere in the last [flexMinutes] of each period (5 to [intervalMinutes]), on any
     * network unless [unmeteredOnly], surviving reboots. Out-of-range values are
     * `DakaException.InvalidInput` naming the parameter and the value.
     */
    fun periodic(
        intervalMinutes: Long = 60,
        flexMinutes: Long = 15,
        unmeteredOnly: Boolean = false,
        initialBackoffSeconds: Long = 30,
        jobId: Int = PERIODIC_JOB_ID,
    ): SyncJobSpec {
        check("intervalMinutes", intervalMinutes, MIN_PERIOD_MINUTES..(24 * 60L)) {
            "JobScheduler runs periodic jobs at most every $MIN_PERIOD_MINUTES minutes; between $MIN_PERIOD_MINUTES and 1440"
        }
        check("flexMinutes", flexMinutes, MIN_FLEX_MINUTES..intervalMinutes) {
            "must be between $MIN_FLEX_MINUTES minutes and the interval ($intervalMinutes)"
        }
        checkBackoff(initialBackoffSeconds)
        return SyncJobSpec(
            jobId = jobId,
            periodic = true,
            periodMillis = intervalMinutes * MINUTE,
            flexMillis = flexMinutes * MINUTE,
            unmeteredOnly = unmeteredOnly,
            batteryNotLow = false,
            persisted = true,
            initialBackoffMillis = initialBackoffSeconds * 1000,
        )
    }

    /**
     * One round as soon as a network is available (for instance when the app goes to the
     * background with punches still queued), retried with backoff until it succeeds.
     */
    fun soon(initialBackoffSeconds: Long = 30, jobId: Int = ONE_OFF_JOB_ID): SyncJobSpec {
        checkBackoff(initialBackoffSeconds)
        return SyncJobSpec(
            jobId = jobId,
            periodic = false,
            periodMillis = 0,
            flexMillis = 0,
            unmeteredOnly = false,
            batteryNotLow = false,
            persisted = false,
            initialBackoffMillis = initialBackoffSeconds * 1000,
        )
    }

    private fun checkBackoff(seconds: Long) =
        check("initialBackoffSeconds", seconds, MIN_BACKOFF_SECONDS..MAX_BACKOFF_SECONDS) {
            "JobScheduler's backoff is $MIN_BACKOFF_SECONDS s to $MAX_BACKOFF_SECONDS s"
        }

    private inline fun check(field: String, value: Long, range: LongRange, reason: () -> String) {
        if (value !in range) throw DakaException.InvalidInput(field, value.toString(), reason())
    }
}
