package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchKind
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/** Enrolment with one-time codes, and what a device that is not enrolled says. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EnrolmentTest {
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
    fun `a good code enrols the device and fetches the policy`() = runBlocking {
        DakaDevice.open(dir.resolve("good.db").toString(), null).use { device ->
            val before = device.status()
            assertFalse(before.enrolled)
            assertNull(device.identity())
            val identity = device.enroll(server.url, server.issueCode("E1001"), "Pixel 8", "android")
            assertEquals("E1001", identity.employeeId)
            assertEquals("harbour-lane", identity.orgId)
            assertEquals(server.url, identity.serverUrl)
            assertTrue(identity.deviceId.isNotBlank())
            val status = device.status()
            assertTrue(status.enrolled)
            assertEquals(identity.deviceId, status.deviceId)
            assertEquals("E1001", status.employeeId)
            assertEquals(42uL, status.policyVersion, "the example policy is version 42")
            assertEquals(identity, device.identity())
            // The server knows the device by the key daka generated for it.
            val devices = server.adminGet("/admin/v1/devices")
            assertTrue(devices.contains(device.publicKey()), devices)
            assertEquals(42uL, device.refreshPolicy())
        }
    }

    @Test
    fun `a used code is refused with the server's code, and the device stays unenrolled`() = runBlocking {
        val code = server.issueCode("E1002")
        DakaDevice.open(dir.resolve("first.db").toString(), null).use { it.enroll(server.url, code, "first", "android") }
        DakaDevice.open(dir.resolve("second.db").toString(), null).use { second ->
            val e = assertThrows<DakaException.Refused> { runBlocking { second.enroll(server.url, code, "second", "ios") } }
            assertEquals("enrollment_code_used", e.code)
            assertTrue(e.toString().contains("enrollment_code_used"), e.toString())
            val unknown = assertThrows<DakaException.Refused> {
                runBlocking { second.enroll(server.url, "NO-SUCH-CODE-0000", "second", "ios") }
            }
            assertEquals("enrollment_code_unknown", unknown.code)
            assertFalse(second.status().enrolled)
        }
    }

    @Test
    fun `enrolling twice is AlreadyEnrolled`() = runBlocking {
        enrolledDevice(server, dir, "twice").use { device ->
            val e = assertThrows<DakaException.AlreadyEnrolled> {
                runBlocking { device.enroll(server.url, server.issueCode("E1001"), "again", "android") }
            }
            assertEquals(device.identity()!!.deviceId, e.deviceId)
        }
    }

    @Test
    fun `a device that is not enrolled says NotEnrolled for everything that needs an identity`() = runBlocking {
        DakaDevice.open(dir.resolve("fresh.db").toString(), null).use { device ->
            val input = PunchInput(kind = PunchKind.IN, fix = Places.inStore())
            assertThrows<DakaException.NotEnrolled> { device.checkLocation(input) }
            assertThrows<DakaException.NotEnrolled> { device.punch(input) }
            assertThrows<DakaException.NotEnrolled> { runBlocking { device.syncNow() } }
            assertThrows<DakaException.NotEnrolled> { runBlocking { device.refreshPolicy() } }
            val status = device.status()
            assertFalse(status.enrolled)
            assertNull(status.policyVersion)
            assertEquals(0uL, status.queue.pending)
            assertNull(status.queue.oldestWaitingSeconds)
            assertTrue(device.itemsNeedingAttention().isEmpty())
            // The face nonce does not need an identity: 16 random bytes, base64url.
            assertTrue(Regex("[A-Za-z0-9_-]{22}").matches(device.beginFaceCheck()))
            // The device key exists from the first open: 32 bytes, base64url without padding.
            assertTrue(Regex("[A-Za-z0-9_-]{43}").matches(device.publicKey()), device.publicKey())
        }
    }

    @Test
    fun `unreachable and malformed server addresses are Offline and InvalidInput`() = runBlocking {
        DakaDevice.open(dir.resolve("nowhere.db").toString(), null).use { device ->
            val nobody = "http://127.0.0.1:${ReferenceServer.freePort()}"
            val offline = assertThrows<DakaException.Offline> {
                runBlocking { device.enroll(nobody, "HL-E1001-DEMO-0001", "x", "android") }
            }
            assertTrue(offline.reason.isNotBlank())
            val bad = assertThrows<DakaException.InvalidInput> {
                runBlocking { device.enroll("not a url", "HL-E1001-DEMO-0001", "x", "android") }
            }
            assertEquals("serverUrl", bad.field)
            assertEquals("not a url", bad.value)
            assertNotNull(bad.reason)
            assertFalse(device.status().enrolled)
        }
    }
}
