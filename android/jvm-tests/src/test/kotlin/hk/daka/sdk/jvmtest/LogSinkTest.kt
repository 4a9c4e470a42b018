package hk.daka.sdk.jvmtest

import hk.daka.sdk.LogLevel
import hk.daka.sdk.LogRecord
import hk.daka.sdk.LogSink
import hk.daka.sdk.PunchKind
import hk.daka.sdk.clearLogSink
import hk.daka.sdk.setLogSink
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * daka's logs routed to the app through the generated bindings: a Kotlin [LogSink] hears
 * enrolment, the policy and the sync round at its level with their fields, a sink that throws
 * changes nothing, and clearing it stops the events.
 */
class LogSinkTest {
    @TempDir
    lateinit var dir: Path

    private class Collect : LogSink {
        val records = CopyOnWriteArrayList<LogRecord>()
        override fun log(record: LogRecord) {
            records += record
        }
    }

    private class Throws : LogSink {
        var calls = 0
        override fun log(record: LogRecord) {
            calls += 1
            throw IllegalStateException("the app's logger is broken")
        }
    }

    @Test
    fun `a Kotlin sink hears what daka does, at its level, and nothing after it is cleared`() = runBlocking {
        ReferenceServer.start(dir.resolve("server")).use { server ->
            val sink = Collect()
            setLogSink(sink, LogLevel.INFO)
            enrolledDevice(server, dir, "logged").use { device ->
                val phone = Phone(device, "E1001")
                device.punch(phone.faceChecked(PunchKind.IN, Places.inStore()))
                assertEquals(1uL, device.syncNow().accepted)

                val messages = sink.records.map { it.message }
                assertTrue("device enrolled" in messages, "$messages")
                assertTrue("policy installed" in messages, "$messages")
                val round = sink.records.last { it.message == "sync round finished" }
                assertEquals(LogLevel.INFO, round.level)
                assertEquals("daka_device::engine::sync", round.target)
                assertEquals("1", round.fields.first { it.name == "accepted" }.value)
                assertTrue(sink.records.none { it.level > LogLevel.INFO }, "nothing below INFO")

                // A sink that throws is ignored: the punch and the sync still work.
                val throws = Throws()
                setLogSink(throws, LogLevel.TRACE)
                device.punch(phone.faceChecked(PunchKind.OUT, Places.inStore()))
                assertEquals(1uL, device.syncNow().accepted)
                assertTrue(throws.calls > 0)

                clearLogSink()
                val before = sink.records.size to throws.calls
                assertEquals(0uL, device.syncNow().accepted)
                assertEquals(before, sink.records.size to throws.calls)
            }
        }
    }
}
