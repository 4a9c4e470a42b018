package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaException
import hk.daka.sdk.PunchKind
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/** The background sync loop: rounds reported to the listener, nudged by punches, stopped. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BackgroundSyncTest {
    private lateinit var dir: Path
    private lateinit var server: ReferenceServer

    @BeforeAll
    fun startServer(@TempDir classDir: Path) {
        dir = classDir
        server = ReferenceServer.start(dir.resolve("server"))
    }

    @AfterAll
    fun stopServer() = server.close()

    @Test
    fun `the loop syncs at once and after each punch, and stops when asked`() = runBlocking {
        enrolledDevice(server, dir, "loop").use { device ->
            val phone = Phone(device, "E1001")
            val listener = RecordingListener()
            device.setStatusListener(listener)
            device.startBackgroundSync(3600u)
            assertTrue(device.status().backgroundSync)
            assertTrue(eventually { listener.rounds >= 1 }, "a first round at once")

            device.punch(phone.faceChecked(PunchKind.IN, Places.inStore()))
            assertTrue(
                eventually { device.queueStatus().pending == 0uL && listener.finished.sumOf { it.accepted } == 1uL },
                "the punch nudged a round: ${listener.finished}",
            )
            val rounds = device.stopBackgroundSync()
            assertTrue(rounds >= 2uL, "rounds: $rounds")
            assertFalse(device.status().backgroundSync)
            assertEquals(0uL, device.stopBackgroundSync(), "nothing left to stop")

            // Stopped means stopped: a new punch stays queued, no round is reported.
            val seen = listener.rounds
            device.punch(phone.faceChecked(PunchKind.OUT, Places.inStore()))
            Thread.sleep(1_500)
            assertEquals(seen, listener.rounds)
            assertEquals(1uL, device.queueStatus().pending)
            assertTrue(listener.failed.isEmpty(), listener.failed.toString())
        }
    }

    @Test
    fun `closing the device ends its loop`() {
        val listener = RecordingListener()
        val device = enrolledDevice(server, dir, "closing")
        device.setStatusListener(listener)
        device.startBackgroundSync(1u)
        assertTrue(eventually { listener.rounds >= 2 }, "rounds every second")
        device.close()
        val atClose = listener.rounds
        Thread.sleep(2_500)
        assertTrue(listener.rounds <= atClose + 1, "at most the round in progress: ${listener.rounds} vs $atClose")
    }

    @Test
    fun `a zero interval is InvalidInput, and a second start replaces the loop`() = runBlocking {
        enrolledDevice(server, dir, "restart").use { device ->
            val e = assertThrows<DakaException.InvalidInput> { device.startBackgroundSync(0u) }
            assertEquals("intervalSeconds", e.field)
            val tooLong = assertThrows<DakaException.InvalidInput> { device.startBackgroundSync(86_401u) }
            assertEquals("intervalSeconds", tooLong.field)
            assertFalse(device.status().backgroundSync)
            val listener = RecordingListener()
            device.setStatusListener(listener)
            device.startBackgroundSync(3600u)
            device.startBackgroundSync(3600u)
            assertTrue(device.status().backgroundSync)
            // The replaced loop ends after at most one round, so a second round is the new loop's.
            assertTrue(eventually { listener.rounds >= 2 }, "rounds: ${listener.rounds}")
            assertTrue(device.stopBackgroundSync() >= 1uL, "the second loop ran")
            assertFalse(device.status().backgroundSync)
            assertEquals(0uL, device.stopBackgroundSync())
        }
    }

    @Test
    fun `a listener that throws does not stop syncing`() = runBlocking {
        enrolledDevice(server, dir, "throwing").use { device ->
            val calls = java.util.concurrent.atomic.AtomicInteger()
            device.setStatusListener(object : hk.daka.sdk.StatusListener {
                override fun onSyncProgress(sent: ULong, total: ULong) {
                    calls.incrementAndGet()
                    throw IllegalStateException("a bug in the app's listener")
                }
                override fun onSyncFinished(report: hk.daka.sdk.SyncReport) {
                    calls.incrementAndGet()
                    throw IllegalStateException("a bug in the app's listener")
                }
                override fun onSyncFailed(error: DakaException) {
                    calls.incrementAndGet()
                }
            })
            device.punch(Phone(device, "E1001").faceChecked(PunchKind.IN, Places.inStore()))
            assertEquals(1uL, device.syncNow().accepted)
            assertEquals(2, calls.get(), "one progress, one finished")
            device.setStatusListener(null)
            assertEquals(0uL, device.syncNow().remaining)
            assertEquals(2, calls.get(), "removed listeners hear nothing")
        }
    }
}
