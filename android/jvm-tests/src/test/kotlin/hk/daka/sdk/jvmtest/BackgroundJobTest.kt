package hk.daka.sdk.jvmtest

import hk.daka.android.sync.JobOutcome
import hk.daka.android.sync.SyncRound
import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.PunchKind
import hk.daka.sdk.describeError
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertInstanceOf
import org.junit.jupiter.api.io.TempDir

/**
 * The Android background job's round (`SyncRound`, the plain-Kotlin core of
 * `DakaSyncJobService`) on a real device against the real server: the app's listener hears the
 * background round, a device that is not enrolled cancels the schedule, a server that is gone
 * means retry with backoff.
 */
class BackgroundJobTest {
    @Test
    fun `a background round reports progress to the app's listener and finishes the job`(@TempDir dir: Path) = runBlocking {
        ReferenceServer.start(dir.resolve("server")).use { server ->
            enrolledDevice(server, dir, "job").use { device ->
                val phone = Phone(device, "E1001")
                repeat(3) { i ->
                    device.punch(phone.faceChecked(if (i % 2 == 0) PunchKind.IN else PunchKind.OUT, Places.inStore()))
                }
                val listener = RecordingListener()
                device.setStatusListener(listener)

                val outcome = SyncRound.run { device }

                val done = assertInstanceOf<JobOutcome.Done>(outcome)
                assertEquals(3uL, done.report.accepted, done.report.toString())
                assertEquals(0uL, device.queueStatus().pending)
                assertEquals(3uL to 3uL, listener.progress.last(), listener.progress.toString())
                assertEquals(listOf(done.report), listener.finished.toList())
                assertTrue(listener.failed.isEmpty(), listener.failed.toString())
            }
        }
    }

    @Test
    fun `a device that is not enrolled cancels the schedule without syncing`(@TempDir dir: Path) = runBlocking {
        DakaDevice.open(dir.resolve("fresh.db").toString(), null).use { device ->
            val listener = RecordingListener()
            device.setStatusListener(listener)
            val outcome = SyncRound.run { device }
            assertInstanceOf<DakaException.NotEnrolled>(assertInstanceOf<JobOutcome.Cancel>(outcome).reason)
            assertEquals(0, listener.rounds, "no round ran")
            assertEquals(false, SyncRound.shouldSchedule(device))
        }
    }

    @Test
    fun `a server that is gone means retry with backoff, and the listener hears the failure`(@TempDir dir: Path) = runBlocking {
        val server = ReferenceServer.start(dir.resolve("server"))
        enrolledDevice(server, dir, "gone").use { device ->
            device.punch(Phone(device, "E1001").faceChecked(PunchKind.IN, Places.inStore()))
            server.close()
            val listener = RecordingListener()
            device.setStatusListener(listener)

            val outcome = SyncRound.run { device }

            val retry = assertInstanceOf<JobOutcome.Retry>(outcome)
            assertTrue(retry.reason.startsWith("offline: "), retry.reason)
            val failure = assertInstanceOf<DakaException.Offline>(listener.failed.single())
            assertTrue(describeError(failure).startsWith("the server cannot be reached: "), describeError(failure))
            assertEquals(1uL, device.queueStatus().pending, "the punch waits on disk")
        }
    }

    @Test
    fun `a store that cannot be opened fails the job without a retry loop`(@TempDir dir: Path) = runBlocking {
        val notADirectory = dir.resolve("file").also { it.toFile().writeText("x") }
        val outcome = SyncRound.run { DakaDevice.open(notADirectory.resolve("daka.db").toString(), null) }
        val failed = assertInstanceOf<JobOutcome.Failed>(outcome)
        assertTrue(failed.reason is DakaException.Storage, failed.reason.toString())
    }
}
