package hk.daka.android.sync

import android.app.job.JobParameters
import android.app.job.JobService
import hk.daka.android.Daka
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import java.util.concurrent.ConcurrentHashMap

/**
 * daka's background sync job: one `syncNow()` round on the app's one device ([Daka.device]),
 * then [SyncRound]'s decision for JobScheduler (done, retry with backoff, or cancel the
 * schedule). Declared by the daka AAR's manifest with `BIND_JOB_SERVICE`; scheduled by
 * [DakaSyncJobs].
 *
 * The round's progress and result reach the app's `StatusListener`, set on that same device.
 * When the system stops the job (the network went away, the device entered Doze, the quota ran
 * out), the coroutine waiting for the round is cancelled and the job asks to be rescheduled;
 * the round itself always completes inside daka, so no batch is left marked in flight.
 */
class DakaSyncJobService : JobService() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private val running = ConcurrentHashMap<Int, Job>()

    override fun onStartJob(params: JobParameters): Boolean {
        val jobId = params.jobId
        running[jobId] = scope.launch {
            val outcome = SyncRound.run { Daka.device(applicationContext) }
            if (outcome is JobOutcome.Cancel) DakaSyncJobs.cancel(applicationContext, jobId)
            running.remove(jobId)
            jobFinished(params, outcome is JobOutcome.Retry)
        }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean {
        running.remove(params.jobId)?.cancel()
        return true
    }

    override fun onDestroy() {
        scope.cancel()
        super.onDestroy()
    }
}
