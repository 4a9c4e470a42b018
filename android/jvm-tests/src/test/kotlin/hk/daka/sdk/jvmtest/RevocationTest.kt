package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.Decision
import hk.daka.sdk.PunchKind
import hk.daka.sdk.describeError
import hk.daka.sdk.parseEnrolmentLink
import java.net.URLEncoder
import java.nio.charset.StandardCharsets
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/**
 * A device an administrator revokes: every later sync is `DakaException.DeviceRevoked`, the
 * queued punches stay on the phone, and the background loop stops. Also the enrolment links
 * of the console's QR codes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RevocationTest {
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
    fun `a revoked device gets DeviceRevoked and keeps its queue`() = runBlocking {
        enrolledDevice(server, dir, "revoked").use { device ->
            val phone = Phone(device, "E1001")
            val first = device.punch(phone.faceChecked(PunchKind.IN, Places.inStore()))
            assertEquals(Decision.ACCEPTED, first.verdict.decision, first.verdict.reasons.toString())
            assertEquals(1uL, device.syncNow().accepted)

            server.revokeDevice(device.identity()!!.deviceId, "phone lost")
            device.punch(phone.faceChecked(PunchKind.OUT, Places.inStore()))

            val e = assertThrows<DakaException.DeviceRevoked> { runBlocking { device.syncNow() } }
            assertTrue(e.reason.contains("enrol again"), e.reason)
            assertTrue(describeError(e).startsWith("this device was revoked by an administrator: "), describeError(e))
            // Not retryable, and the punch made afterwards is still queued.
            assertThrows<DakaException.DeviceRevoked> { runBlocking { device.syncNow() } }
            assertEquals(1uL, device.queueStatus().pending)

            // The background loop reports it to the listener and stops by itself.
            val listener = RecordingListener()
            device.setStatusListener(listener)
            device.startBackgroundSync(1u)
            assertTrue(eventually { listener.failed.isNotEmpty() }, "a round was reported")
            assertTrue(listener.failed.first() is DakaException.DeviceRevoked, listener.failed.toString())
            Thread.sleep(2_500)
            assertEquals(1, listener.rounds, "no round after the revocation was reported")
            assertEquals(1uL, device.stopBackgroundSync(), "the loop ran one round")
            assertEquals(1uL, device.queueStatus().pending)

            // The punch from before stays on the server.
            val punches = server.adminGet("/admin/v1/punches?device_id=${device.identity()!!.deviceId}")
            assertTrue(punches.contains(first.recordId!!), punches)
        }
    }

    @Test
    fun `an enrolment link from the console's QR code enrols the device`() = runBlocking {
        val code = server.issueCode("E1002")
        val link = "daka://enroll?server=" + URLEncoder.encode(server.url, StandardCharsets.UTF_8) +
            "&code=" + URLEncoder.encode(code, StandardCharsets.UTF_8)
        val parsed = parseEnrolmentLink(link)
        assertEquals(server.url, parsed.serverUrl)
        assertEquals(code, parsed.code)
        DakaDevice.open(dir.resolve("scanned.db").toString(), null).use { device ->
            val identity = device.enroll(parsed.serverUrl, parsed.code, "scanned", "android")
            assertEquals("E1002", identity.employeeId)
        }
        for (garbage in listOf("", "https://daka.example.hk", "daka://enroll?code=12345678")) {
            val e = assertThrows<DakaException.InvalidInput> { parseEnrolmentLink(garbage) }
            assertEquals("link", e.field)
        }
    }
}
