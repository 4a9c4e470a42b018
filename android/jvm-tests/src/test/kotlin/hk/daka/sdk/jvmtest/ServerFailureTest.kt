package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchKind
import hk.daka.sdk.describeError
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/**
 * What the app sees when the server or the network misbehaves: each failure arrives as its
 * own typed exception, and nothing queued is lost. A [FaultProxy] stands between the device
 * and the real reference server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServerFailureTest {
    private lateinit var dir: Path
    private lateinit var server: ReferenceServer

    @BeforeAll
    fun startServer(@TempDir classDir: Path) {
        dir = classDir
        server = ReferenceServer.start(dir.resolve("server"))
    }

    @AfterAll
    fun stopServer() = server.close()

    /** A device enrolled through a fresh proxy, with the proxy passing everything. */
    private fun throughProxy(name: String, employee: String): Pair<DakaDevice, FaultProxy> {
        val proxy = FaultProxy(server.url)
        val device = DakaDevice.open(dir.resolve("$name.db").toString(), null)
        runBlocking { device.enroll(proxy.url, server.issueCode(employee), "JVM $name", "android") }
        return device to proxy
    }

    @Test
    fun `a busy server is ServerBusy with its Retry-After, and the punch stays queued`() = runBlocking {
        val (device, proxy) = throughProxy("busy", "E1001")
        device.use {
            proxy.use {
                val receipt = device.punch(Phone(device, "E1001").faceChecked(PunchKind.IN, Places.inStore()))
                assertNotNull(receipt.recordId)
                proxy.set(FaultProxy.Mode.Busy(7))
                val policy = assertThrows<DakaException.ServerBusy> { runBlocking { device.refreshPolicy() } }
                assertEquals(7uL, policy.retryAfterSeconds)
                val sync = assertThrows<DakaException.ServerBusy> { runBlocking { device.syncNow() } }
                assertEquals(7uL, sync.retryAfterSeconds)
                // The English explanation comes from the library; toString() is plain Kotlin.
                assertEquals("the server is busy; retry after 7 s", describeError(sync))
                assertEquals("hk.daka.sdk.DakaException\$ServerBusy: retryAfterSeconds=7", sync.toString())
                val queue = device.status().queue
                assertEquals(1uL, queue.pending, "the punch is still queued, not lost")
                assertTrue(device.itemsNeedingAttention().isEmpty(), "busy is not the punch's fault")
            }
        }
    }

    @Test
    fun `revoked credentials are Unauthorized`() = runBlocking {
        val (device, proxy) = throughProxy("revoked", "E1002")
        device.use {
            proxy.use {
                proxy.set(FaultProxy.Mode.Revoked)
                val e = assertThrows<DakaException.Unauthorized> { runBlocking { device.refreshPolicy() } }
                assertTrue(e.reason.contains("revoked"), e.reason)
                assertThrows<DakaException.Unauthorized> { runBlocking { device.syncNow() } }
                assertTrue(device.status().enrolled, "the identity is kept; the app decides to re-enrol")
            }
        }
    }

    @Test
    fun `a policy changed on the way is BadPolicy and the previous one stays in force`() = runBlocking {
        val (device, proxy) = throughProxy("tampered", "E1002")
        device.use {
            proxy.use {
                assertEquals(42uL, device.status().policyVersion)
                proxy.set(FaultProxy.Mode.TamperPolicy)
                val e = assertThrows<DakaException.BadPolicy> { runBlocking { device.refreshPolicy() } }
                assertTrue(e.reason.contains("signature"), e.reason)
                assertEquals(42uL, device.status().policyVersion)
                // Checks still run on the verified policy.
                val verdict = device.checkLocation(PunchInput(kind = PunchKind.IN, fix = Places.inStore()))
                assertTrue(verdict.siteName!!.contains("Causeway Bay Store"), verdict.toString())
            }
        }
    }

    @Test
    fun `a device whose policy could not be fetched says NoPolicy until it syncs`() = runBlocking {
        FaultProxy(server.url).use { proxy ->
            proxy.set(FaultProxy.Mode.PolicyDown)
            DakaDevice.open(dir.resolve("nopolicy.db").toString(), null).use { device ->
                // Enrolment succeeds; fetching the policy right after it fails quietly.
                device.enroll(proxy.url, server.issueCode("E1001"), "JVM nopolicy", "android")
                assertNull(device.status().policyVersion)
                val input = PunchInput(kind = PunchKind.IN, fix = Places.inStore())
                assertThrows<DakaException.NoPolicy> { device.checkLocation(input) }
                assertThrows<DakaException.NoPolicy> { device.punch(input) }
                assertEquals(0uL, device.status().queue.pending, "nothing was stored half-way")
                proxy.set(FaultProxy.Mode.Pass)
                assertEquals(42uL, device.refreshPolicy())
                assertEquals("cwb-store", device.checkLocation(input).siteId)
            }
        }
    }
}
