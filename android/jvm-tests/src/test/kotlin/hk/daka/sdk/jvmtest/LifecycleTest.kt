package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.PunchKind
import java.nio.file.Files
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/** Closing objects, reopening the store, and what a closed object says. */
class LifecycleTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `state survives close and reopen, and a closed device refuses calls`() {
        ReferenceServer.start(dir.resolve("server")).use { server ->
            val path = dir.resolve("phone.db").toString()
            val device = enrolledDevice(server, dir, "phone")
            val identity = device.identity()
            val recorded = device.use {
                it.punch(Phone(it, "E1001").faceChecked(PunchKind.IN, Places.inStore())).recordId
            }
            assertTrue(recorded != null)
            // `use {}` closed it: the object refuses further calls instead of touching freed memory.
            assertThrows<IllegalStateException> { device.publicKey() }
            device.close() // closing twice is harmless

            DakaDevice.open(path, null).use { again ->
                assertEquals(identity, again.identity())
                assertEquals(1uL, again.queueStatus().pending, "the punch is durable")
                assertEquals(42uL, again.status().policyVersion, "the policy is cached")
                assertEquals(1uL, runBlocking { again.syncNow() }.accepted)
            }
        }
    }

    @Test
    fun `a store that cannot be opened is a Storage error`() {
        val notADirectory = dir.resolve("file")
        Files.writeString(notADirectory, "x")
        val e = assertThrows<DakaException.Storage> {
            DakaDevice.open(notADirectory.resolve("phone.db").toString(), null)
        }
        assertTrue(e.reason.isNotBlank())
    }
}
