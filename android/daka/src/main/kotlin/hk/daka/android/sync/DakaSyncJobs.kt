package hk.daka.android.sync

import android.app.job.JobInfo
import android.app.job.JobScheduler
import android.content.ComponentName
import android.content.Context
import hk.daka.android.Daka

/**
 * Schedules daka's background sync on the framework's `JobScheduler`, which runs
 * [DakaSyncJobService] when its constraints hold (a network, outside Doze or in a maintenance
 * window, within the app's standby-bucket quota). No WorkManager dependency.
 */
object DakaSyncJobs {
    /**
     * Schedules [spec] (the periodic job by default) if the app's device is enrolled, and
     * returns whether it did. Call it after `enroll` and at start-up; scheduling again replaces
     * the job with the same id. Blocking (it opens the device on first use): off the main thread.
     */
    fun schedule(context: Context, spec: SyncJobSpec = SyncSchedule.periodic()): Boolean {
        if (!SyncRound.shouldSchedule(Daka.device(context))) return false
        return scheduler(context).schedule(jobInfo(context, spec)) == JobScheduler.RESULT_SUCCESS
    }

    /** Cancels daka's job with [jobId] (after sign-out or revocation). */
    fun cancel(context: Context, jobId: Int = SyncSchedule.PERIODIC_JOB_ID) {
        scheduler(context).cancel(jobId)
    }

    /** [spec] as a `JobInfo` for [DakaSyncJobService]. */
    fun jobInfo(context: Context, spec: SyncJobSpec): JobInfo {
        val builder = JobInfo.Builder(spec.jobId, ComponentName(context, DakaSyncJobService::class.java))
            .setRequiredNetworkType(if (spec.unmeteredOnly) JobInfo.NETWORK_TYPE_UNMETERED else JobInfo.NETWORK_TYPE_ANY)
            .setRequiresBatteryNotLow(spec.batteryNotLow)
            .setPersisted(spec.persisted)
            .setBackoffCriteria(spec.initialBackoffMillis, JobInfo.BACKOFF_POLICY_EXPONENTIAL)
        if (spec.periodic) builder.setPeriodic(spec.periodMillis, spec.flexMillis)
        return builder.build()
    }

    private fun scheduler(context: Context): JobScheduler =
        context.getSystemService(JobScheduler::class.java)
}
