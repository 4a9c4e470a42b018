package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.Decision
import hk.daka.sdk.DeviceOptions
import hk.daka.sdk.PunchKind
import hk.daka.sdk.SyncReport
import java.nio.file.Path
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/**
 * The offline queue and sync against the real server: online delivery with progress, a server
 * that goes away and comes back, a full queue, a replay only the server can see, and a
 * cancelled sync call. Each test has its own server, because some stop it.
 */
class SyncTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var server: ReferenceServer

    @BeforeEach
    fun startServer() {
        server = ReferenceServer.start(dir.resolve("server"))
    }

    @AfterEach
    fun stopServer() = server.close()

    /** Runs sync rounds until the queue is empty (retries wait out their backoff). */
    private fun syncUntilDelivered(device: DakaDevice, timeoutMs: Long = 15_000): List<SyncReport> {
        val reports = mutableListOf<SyncReport>()
        assertTrue(
            eventually(timeoutMs) {
                val report = runBlocking { device.syncNow() }
                reports += report
                report.remaining == 0uL
            },
            "not delivered: $reports",
        )
        return reports
    }

    /** How many times each punch id appears in the server's punch list for [deviceId]. */
    private fun serverCounts(deviceId: String): Map<String, Int> {
        val body = server.adminGet("/admin/v1/punches?device_id=$deviceId")
        return Regex("\"punch_id\"\\s*:\\s*\"([^\"]+)\"").findAll(body).map { it.groupValues[1] }
            .groupingBy { it }.eachCount()
    }

    @Test
    fun `punches sync with progress events and the server's verdicts come back`() = runBlocking {
        enrolledDevice(server, dir, "online").use { device ->
            val phone = Phone(device, "E1001")
            val listener = RecordingListener()
            device.setStatusListener(listener)
            val ids = listOf(PunchKind.IN, PunchKind.BREAK_START, PunchKind.BREAK_END).map { kind ->
                val receipt = device.punch(phone.faceChecked(kind, Places.inStore()))
                assertEquals(Decision.ACCEPTED, receipt.verdict.decision, receipt.verdict.reasons.toString())
                receipt.recordId!!
            }
            val queue = device.queueStatus()
            assertEquals(3uL, queue.pending)
            assertNotNull(queue.oldestWaitingSeconds)

            val report = device.syncNow()
            assertEquals(3uL, report.accepted, report.toString())
            assertEquals(0uL, report.remaining)
            assertEquals(null, report.stoppedBy)
            assertEquals(42uL, report.policyVersion)
            assertFalse(report.policyUpdated)
            assertEquals(ids.toSet(), report.serverVerdicts.map { it.punchId }.toSet())
            assertTrue(report.serverVerdicts.all { it.decision == Decision.ACCEPTED }, report.serverVerdicts.toString())

            assertEquals(3uL to 3uL, listener.progress.last(), "progress ends with everything sent")
            assertEquals(listOf(report), listener.finished)
            assertTrue(listener.failed.isEmpty())
            val caller = Thread.currentThread().name
            assertTrue(listener.threads.none { it == caller }, "called on daka's threads: ${listener.threads}")

            assertEquals(0uL, device.queueStatus().pending)
            assertEquals(ids.associateWith { 1 }, serverCounts(device.identity()!!.deviceId))
        }
    }

    @Test
    fun `offline punches wait in the queue, sync says Offline, and they arrive once the server is back`() = runBlocking {
        enrolledDevice(server, dir, "offline").use { device ->
            val phone = Phone(device, "E1001")
            val listener = RecordingListener()
            device.setStatusListener(listener)
            val first = device.punch(phone.faceChecked(PunchKind.IN, Places.inStore())).recordId!!
            assertEquals(1uL, device.syncNow().accepted)

            server.stop() // into the MTR tunnel
            val offline = (1..2).map {
                val receipt = device.punch(phone.faceChecked(PunchKind.FIELD, Places.inStore()))
                assertEquals(Decision.ACCEPTED, receipt.verdict.decision, "judged on the phone, offline")
                assertEquals(it.toULong(), device.queueStatus().pending, "the queue grows")
                receipt.recordId!!
            }
            val e = assertThrows<DakaException.Offline> { runBlocking { device.syncNow() } }
            assertTrue(e.reason.isNotBlank())
            assertTrue(listener.failed.single() is DakaException.Offline, listener.failed.toString())
            val queue = device.queueStatus()
            assertEquals(2uL, queue.pending, "nothing lost, nothing stuck in flight")
            assertEquals(0uL, queue.inFlight)

            server.start() // back in the open, same server, same database
            // "Send now" does not wait out the backoff the lost network caused: one round
            // delivers both.
            val report = device.syncNow()
            assertEquals(2uL, report.accepted, "$report")
            assertEquals(0uL, report.remaining)
            assertEquals(0uL, device.queueStatus().pending)
            assertEquals((listOf(first) + offline).associateWith { 1 }, serverCounts(device.identity()!!.deviceId))
        }
    }

    @Test
    fun `a full queue refuses the next punch with QueueFull until it drains`() = runBlocking {
        val device = DakaDevice.openWithOptions(
            dir.resolve("small.db").toString(),
            null,
            DeviceOptions(maxQueuedItems = 2uL, requestTimeoutSeconds = 5u, connectTimeoutSeconds = 2u),
        )
        device.use {
            device.enroll(server.url, server.issueCode("E1001"), "small", "android")
            val phone = Phone(device, "E1001")
            repeat(2) { device.punch(phone.faceChecked(PunchKind.FIELD, Places.inStore())) }
            val full = assertThrows<DakaException.QueueFull> {
                device.punch(phone.faceChecked(PunchKind.FIELD, Places.inStore()))
            }
            assertEquals(2uL, full.queued)
            assertEquals(2uL, full.limit)
            assertEquals(2uL, device.queueStatus().pending)
            assertEquals(2uL, device.syncNow().accepted)
            assertNotNull(device.punch(phone.faceChecked(PunchKind.FIELD, Places.inStore())).recordId)
        }
        val zero = assertThrows<DakaException.InvalidInput> {
            DakaDevice.openWithOptions(dir.resolve("zero.db").toString(), null, DeviceOptions(maxQueuedItems = 0uL))
        }
        assertEquals("maxQueuedItems", zero.field)
        val huge = assertThrows<DakaException.InvalidInput> {
            DakaDevice.openWithOptions(
                dir.resolve("huge.db").toString(),
                null,
                DeviceOptions(requestTimeoutSeconds = UInt.MAX_VALUE),
            )
        }
        assertEquals("requestTimeoutSeconds", huge.field)
        assertEquals("${UInt.MAX_VALUE} s", huge.value)
        val noConnect = assertThrows<DakaException.InvalidInput> {
            DakaDevice.openWithOptions(dir.resolve("zero-connect.db").toString(), null, DeviceOptions(connectTimeoutSeconds = 0u))
        }
        assertEquals("connectTimeoutSeconds", noConnect.field)
        DakaDevice.openWithOptions(
            dir.resolve("bounds.db").toString(),
            null,
            DeviceOptions(maxQueuedItems = 1uL, requestTimeoutSeconds = 3600u, connectTimeoutSeconds = 1u),
        ).close()
    }

    @Test
    fun `a replay only the server can see is parked as needing attention and blocks nothing`() = runBlocking {
        // The same employee on two phones: a token captured on the first is replayed on the
        // second, whose own nonce ledger cannot know it was used.
        val first = enrolledDevice(server, dir, "first")
        val second = enrolledDevice(server, dir, "second")
        first.use {
            second.use {
                val captured = Phone(first, "E1001").faceChecked(PunchKind.IN, Places.inStore())
                assertEquals(Decision.ACCEPTED, first.punch(captured).verdict.decision)
                val replay = second.punch(captured)
                assertEquals(Decision.ACCEPTED, replay.verdict.decision, "the second phone cannot tell")
                val honest = second.punch(Phone(second, "E1001").faceChecked(PunchKind.OUT, Places.inStore()))
                assertEquals(Decision.ACCEPTED, honest.verdict.decision)

                assertEquals(1uL, first.syncNow().accepted)
                val report = second.syncNow()
                assertEquals(1uL, report.accepted, report.toString())
                assertEquals(1uL, report.rejected)
                assertEquals(0uL, report.remaining)
                val parked = second.itemsNeedingAttention().single()
                assertEquals(replay.recordId, parked.id)
                assertEquals("face_token_replayed", parked.code)
                assertTrue(parked.message.isNotBlank())
                assertEquals(1uL, second.queueStatus().needsAttention)
                assertEquals(1uL, second.status().queue.needsAttention)
            }
        }
    }

    @Test
    fun `cancelling a syncNow call stops the waiting, not the round`() = runBlocking {
        enrolledDevice(server, dir, "cancel").use { device ->
            val phone = Phone(device, "E1001")
            repeat(3) { device.punch(phone.faceChecked(PunchKind.FIELD, Places.inStore())) }
            // Undispatched: the call reaches Rust and the round starts before the cancel.
            val job = launch(start = CoroutineStart.UNDISPATCHED) { device.syncNow() }
            job.cancel()
            job.join()
            assertTrue(job.isCancelled)
            // The round runs to its end on daka's runtime: nothing stays marked in flight.
            assertTrue(eventually { device.queueStatus().inFlight == 0uL }, device.queueStatus().toString())
            syncUntilDelivered(device)
            assertEquals(3, serverCounts(device.identity()!!.deviceId).size)
        }
    }
}
