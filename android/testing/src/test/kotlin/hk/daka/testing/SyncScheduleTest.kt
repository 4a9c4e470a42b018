package hk.daka.testing

import hk.daka.android.sync.JobOutcome
import hk.daka.android.sync.SyncRound
import hk.daka.android.sync.SyncSchedule
import hk.daka.sdk.DakaException
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchKind
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** The background job's scheduling rules and decisions, driven by the fake on a plain JVM. */
class SyncScheduleTest {
    @Test
    fun `periodic and one-off specs respect JobScheduler's limits`() {
        val periodic = SyncSchedule.periodic(intervalMinutes = 30, flexMinutes = 10)
        assertTrue(periodic.periodic && periodic.persisted && !periodic.unmeteredOnly)
        assertEquals(30 * 60_000L to 10 * 60_000L, periodic.periodMillis to periodic.flexMillis)
        assertEquals(30_000L, periodic.initialBackoffMillis)

        val soon = SyncSchedule.soon()
        assertFalse(soon.periodic || soon.persisted)
        assertEquals(0L, soon.periodMillis)
        assertTrue(soon.jobId != periodic.jobId)
    }

    @Test
    fun `out-of-range values are InvalidInput naming the parameter and the value`() {
        val cases = listOf(
            Triple("intervalMinutes", "5") { SyncSchedule.periodic(intervalMinutes = 5) },
            Triple("intervalMinutes", "2000") { SyncSchedule.periodic(intervalMinutes = 2000) },
            Triple("flexMinutes", "1") { SyncSchedule.periodic(flexMinutes = 1) },
            Triple("flexMinutes", "90") { SyncSchedule.periodic(intervalMinutes = 60, flexMinutes = 90) },
            Triple("initialBackoffSeconds", "5") { SyncSchedule.soon(initialBackoffSeconds = 5) },
            Triple("initialBackoffSeconds", "18001") { SyncSchedule.periodic(initialBackoffSeconds = 18_001) },
        )
        for ((field, value, call) in cases) {
            val e = assertThrows<DakaException.InvalidInput> { call() }
            assertEquals(field to value, e.field to e.value, e.reason)
        }
    }

    @Test
    fun `a round's outcome is done, retry, cancel or failed, for every error`() = runBlocking {
        val fake = FakeDakaDevice(identity = FakeDaka.identity())
        fake.punch(PunchInput(kind = PunchKind.IN))
        assertTrue(SyncRound.run { fake } is JobOutcome.Done)

        fake.syncReport = FakeDaka.syncReport(accepted = 500u, remaining = 20u)
        assertEquals(JobOutcome.Retry("20 item(s) still queued after the round"), SyncRound.run { fake })
        fake.syncReport = null

        val retry = setOf("Offline", "ServerBusy", "Unavailable", "NoPolicy")
        val cancel = setOf("NotEnrolled", "DeviceRevoked", "Unauthorized")
        for (error in FakeDakaDeviceTest.everyError()) {
            fake.failNext(DakaCall.SYNC_NOW, error)
            val outcome = SyncRound.run { fake }
            val name = error::class.java.simpleName
            val expected = when (name) {
                in retry -> JobOutcome.Retry::class
                in cancel -> JobOutcome.Cancel::class
                else -> JobOutcome.Failed::class
            }
            assertEquals(expected, outcome::class, "$name gave $outcome")
        }
    }

    @Test
    fun `before enrolment nothing is scheduled and a job that runs cancels itself`() = runBlocking {
        val fake = FakeDakaDevice()
        assertFalse(SyncRound.shouldSchedule(fake))
        val outcome = SyncRound.run { fake }
        assertTrue(outcome is JobOutcome.Cancel && outcome.reason is DakaException.NotEnrolled, outcome.toString())
        assertEquals(listOf(DakaCall.IDENTITY, DakaCall.IDENTITY), fake.calls, "identity asked twice, no sync attempted")
        fake.identity = FakeDaka.identity()
        assertTrue(SyncRound.shouldSchedule(fake))
    }

    @Test
    fun `opening the device may fail too, and is decided like a round`() = runBlocking {
        val outcome = SyncRound.run { throw DakaException.KeyStore("Keystore key is missing") }
        assertTrue(outcome is JobOutcome.Failed && outcome.reason is DakaException.KeyStore, outcome.toString())
    }
}
