package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.PunchKind
import java.nio.file.Path
import java.time.DayOfWeek
import java.time.LocalDate
import java.time.ZoneId
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/**
 * "My day" and "my month" through the generated bindings, offline, for Chan Tai Man (E1001),
 * who works the Causeway Bay store Monday to Saturday, 10:00–19:00, under the example policy.
 * The tests run on the real clock, so they derive what today should be from the calendar.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AttendanceTest {
    private lateinit var server: ReferenceServer
    private lateinit var device: DakaDevice
    private val hongKong: ZoneId = ZoneId.of("Asia/Hong_Kong")

    @BeforeAll
    fun start(@TempDir dir: Path) {
        server = ReferenceServer.start(dir.resolve("server"))
        device = enrolledDevice(server, dir, "chan", "E1001")
        runBlocking { device.syncNow() }
    }

    @AfterAll
    fun stop() {
        device.close()
        server.close()
    }

    /** The store's statutory holidays that fall in the months these tests look at. */
    private val holidays = setOf("2026-12-25", "2026-12-26")

    private fun isStoreDay(d: LocalDate) = d.dayOfWeek != DayOfWeek.SUNDAY && d.toString() !in holidays

    @Test
    fun `a past month is summed from the phone's own punches`() {
        // November 2026: Monday to Saturday, no holiday, and no punch from this new phone.
        val month = device.monthSummary("2026-11")
        assertEquals("2026-11", month.month)
        assertEquals(30, month.days.size)
        assertEquals(25u, month.daysDue)
        assertEquals(25u, month.absences)
        assertEquals(0u, month.daysAttended)
        assertEquals(25u * 480u, month.expectedMinutes)
        assertTrue(month.days.none { it.confirmed }, "the server has confirmed nothing for this phone")
        val first = month.days.first()
        assertEquals("2026-11-01", first.date)
        assertEquals("rest_day", first.kind)
        val monday = month.days[1]
        assertEquals("workday", monday.kind)
        assertEquals("absent", monday.status)
        assertEquals("store", monday.shift)
        assertEquals(listOf("absent"), monday.findings.map { it.code })
        assertEquals("absent: no punch for the Store 10:00–19:00 門市 shift (480 min expected)", monday.findings.single().message)
        // The hours record: Chan earns under HK$17,200 a month.
        assertTrue(month.warnings.any { it.code == "hk_hours_record" })
    }

    @Test
    fun `today shows the shift and counts a clock-in made now`() {
        val before = device.today()
        val date = LocalDate.parse(before.day.date)
        val calendar = LocalDate.now(hongKong)
        assertTrue(date == calendar || date == calendar.minusDays(1), "today is ${before.day.date}, the calendar says $calendar")
        if (isStoreDay(date)) {
            assertEquals("workday", before.day.kind)
            assertEquals("Store 10:00–19:00 門市", before.shiftName)
            assertEquals(480u, before.day.scheduledMinutes)
            before.nextPunch?.let {
                assertTrue(it.earliestMs <= it.dueMs && it.dueMs <= it.latestMs, "$it")
            }
        } else {
            assertFalse(before.day.kind == "workday", "${before.day}")
            assertEquals(null, before.nextPunch)
        }
        val receipt = device.punch(Phone(device, "E1001").faceChecked(PunchKind.IN, Places.inStore()))
        assertEquals(hk.daka.sdk.Decision.ACCEPTED, receipt.verdict.decision)
        val after = device.today()
        assertEquals(before.day.date, after.day.date)
        assertFalse(after.day.confirmed, "the punch has not reached the server")
        if (after.day.kind == "workday") {
            val clockIn = after.day.segments.single().clockInMs
            assertNotNull(clockIn)
            assertEquals(receipt.verdict.evaluatedAtMs, clockIn)
            // Clocked in: a clock-out is next, unless the day's window has passed.
            after.nextPunch?.let { assertEquals(PunchKind.OUT, it.kind) }
        }
    }

    @Test
    fun `a month that does not exist is InvalidInput naming the month`() {
        val e = assertThrows<DakaException.InvalidInput> { device.monthSummary("2026-13") }
        assertEquals("month", e.field)
        assertEquals("2026-13", e.value)
        val bad = assertThrows<DakaException.InvalidInput> { device.monthSummary("November") }
        assertEquals("month", bad.field)
    }
}
