package hk.daka.sdk.jvmtest

import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.Decision
import hk.daka.sdk.LocationSource
import hk.daka.sdk.Presence
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchKind
import hk.daka.sdk.Severity
import hk.daka.sdk.Verdict
import java.nio.file.Path
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
 * The three verdicts on the example policy (which requires a face check), through
 * `checkLocation` and `punch`, with face-match tokens signed by the JDK.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VerdictTest {
    private lateinit var dir: Path
    private lateinit var server: ReferenceServer
    private lateinit var device: DakaDevice
    private lateinit var phone: Phone

    @BeforeAll
    fun setUp(@TempDir classDir: Path) {
        dir = classDir
        server = ReferenceServer.start(dir.resolve("server"))
        device = enrolledDevice(server, dir, "verdicts")
        phone = Phone(device, "E1001")
    }

    @AfterAll
    fun tearDown() {
        device.close()
        server.close()
    }

    private fun Verdict.codes() = reasons.map { it.code }

    @Test
    fun `inside the store with a face match is accepted, recorded and chained`() {
        val input = phone.faceChecked(PunchKind.IN, Places.inStore(5.0))
        // The preview judges without using the nonce...
        val preview = device.checkLocation(input)
        assertEquals(Decision.ACCEPTED, preview.decision, preview.toString())
        // ...so the punch with the same token and nonce is still accepted.
        val before = device.queueStatus().pending
        val receipt = device.punch(input)
        val v = receipt.verdict
        assertEquals(Decision.ACCEPTED, v.decision, v.toString())
        assertEquals(Presence.INSIDE, v.presence)
        assertEquals(LocationSource.GPS, v.source)
        assertEquals("cwb-store", v.siteId)
        assertTrue(v.siteName!!.startsWith("Causeway Bay Store"), v.siteName)
        assertTrue(v.distanceToEdgeM!! < 0.0, "negative inside: ${v.distanceToEdgeM}")
        assertEquals(5.0, v.accuracyM)
        assertTrue("inside_fence" in v.codes() && "face_matched" in v.codes(), v.codes().toString())
        assertTrue(v.reasons.none { it.severity == Severity.REJECT }, v.reasons.toString())
        assertEquals(42uL, v.policyVersion)
        assertTrue(Math.abs(v.evaluatedAtMs - System.currentTimeMillis()) < 60_000, "trusted time ${v.evaluatedAtMs}")
        assertNotNull(receipt.recordId)
        assertTrue(receipt.seq!! >= 1uL)
        assertEquals(before + 1uL, device.queueStatus().pending)

        // The nonce is spent: the same token cannot back another punch.
        val replay = device.punch(input)
        assertEquals(Decision.REJECTED, replay.verdict.decision)
        assertTrue("face_token_replayed" in replay.verdict.codes(), replay.verdict.codes().toString())
        assertNull(replay.recordId)
        assertEquals(before + 1uL, device.queueStatus().pending, "a rejection records nothing")
    }

    @Test
    fun `120 m outside the store is rejected with the distance in the message`() {
        val input = phone.faceChecked(PunchKind.IN, Places.fix(Places.OUTSIDE_LAT, Places.OUTSIDE_LON, 25.0))
        val v = device.checkLocation(input)
        assertEquals(Decision.REJECTED, v.decision)
        assertEquals(Presence.OUTSIDE, v.presence)
        assertEquals("cwb-store", v.siteId, "the nearest allowed site")
        val distance = v.distanceToEdgeM!!
        assertTrue(distance in 100.0..140.0, "distance to the edge: $distance")
        val outside = v.reasons.single { it.code == "outside_fence" }
        assertEquals(Severity.REJECT, outside.severity)
        assertTrue(outside.message.contains("m outside Causeway Bay Store"), outside.message)
        assertTrue(outside.message.contains("±25 m"), outside.message)
        val before = device.queueStatus()
        val receipt = device.punch(input)
        assertEquals(Decision.REJECTED, receipt.verdict.decision)
        assertNull(receipt.recordId)
        assertNull(receipt.seq)
        assertEquals(before, device.queueStatus())
    }

    @Test
    fun `a vague fix at the edge is a field punch for review`() {
        val input = phone.faceChecked(PunchKind.IN, Places.nearStore(15.0))
        val receipt = device.punch(input)
        val v = receipt.verdict
        assertEquals(Decision.FIELD_PUNCH, v.decision, v.reasons.toString())
        assertEquals(Presence.UNCERTAIN, v.presence)
        // Between the policy's 0.1 % and 60 %: the verdict says how likely, and the site's
        // tolerance.
        val p = v.probability!!
        assertTrue(p > 0.001 && p < 0.6, "probability $p")
        assertEquals(20.0, v.toleranceM)
        val uncertain = v.reasons.single { it.code == "location_uncertain" }
        assertEquals(Severity.REVIEW, uncertain.severity)
        assertNotNull(receipt.recordId, "field punches are recorded")
    }

    @Test
    fun `a drifting fix at the store's centre is accepted with its probability`() {
        val v = device.checkLocation(phone.faceChecked(PunchKind.IN, Places.inStore(40.0)))
        assertEquals(Decision.ACCEPTED, v.decision, v.reasons.toString())
        assertEquals(Presence.INSIDE, v.presence)
        assertTrue(v.probability!! >= 0.6, "probability ${v.probability}")
        val inside = v.reasons.single { it.code == "inside_fence" }
        assertTrue("likely there" in inside.message, inside.message)
    }

    @Test
    fun `the store's Wi-Fi proves presence without GPS`() {
        val v = device.checkLocation(phone.faceChecked(PunchKind.BREAK_START, null, listOf(Places.STORE_WIFI.lowercase())))
        assertEquals(Decision.ACCEPTED, v.decision, v.reasons.toString())
        assertEquals(LocationSource.WIFI, v.source)
        assertTrue("wifi_match" in v.codes())
    }

    @Test
    fun `without a face check, or with a mocked fix, the punch is rejected with its code`() {
        val noFace = device.checkLocation(PunchInput(kind = PunchKind.IN, fix = Places.inStore()))
        assertEquals(Decision.REJECTED, noFace.decision)
        assertEquals(Presence.INSIDE, noFace.presence)
        assertTrue("face_token_missing" in noFace.codes(), noFace.codes().toString())

        val mocked = device.checkLocation(
            phone.faceChecked(PunchKind.IN, Places.fix(Places.STORE_LAT, Places.STORE_LON, 5.0, mock = true)),
        )
        assertEquals(Decision.REJECTED, mocked.decision)
        assertTrue("mock_location" in mocked.codes(), mocked.codes().toString())

        val stranger = device.beginFaceCheck()
        val wrongPerson = device.checkLocation(
            PunchInput(
                kind = PunchKind.IN,
                fix = Places.inStore(),
                faceToken = FaceMatcher.token("E1002", stranger),
                faceNonce = stranger,
            ),
        )
        assertTrue("face_token_wrong_subject" in wrongPerson.codes(), wrongPerson.codes().toString())
    }

    @Test
    fun `malformed input is InvalidInput naming the field and the value`() {
        val north = Places.inStore().copy(lat = 95.0)
        val e = assertThrows<DakaException.InvalidInput> {
            device.checkLocation(PunchInput(kind = PunchKind.IN, fix = north))
        }
        assertEquals("fix.lat", e.field)
        assertEquals("95", e.value)
        assertTrue(e.reason.contains("latitude"), e.reason)
        val before = device.queueStatus()
        assertThrows<DakaException.InvalidInput> {
            device.punch(PunchInput(kind = PunchKind.IN, fix = north))
        }
        assertEquals(before, device.queueStatus(), "nothing half-stored")

        val nan = assertThrows<DakaException.InvalidInput> {
            device.checkLocation(PunchInput(kind = PunchKind.IN, fix = Places.fix(Places.STORE_LAT, Double.NaN, 5.0)))
        }
        assertEquals("fix.lon", nan.field)
        val bssid = assertThrows<DakaException.InvalidInput> {
            device.checkLocation(PunchInput(kind = PunchKind.IN, wifiBssids = listOf("not-a-bssid")))
        }
        assertEquals("wifi_bssids[0]", bssid.field)
        val lonely = assertThrows<DakaException.InvalidInput> {
            device.checkLocation(PunchInput(kind = PunchKind.IN, fix = Places.inStore(), faceToken = "a.b.c"))
        }
        assertEquals("faceNonce", lonely.field)
    }

    @Test
    fun `a punch carries the fixes collected during the face check, fused and recorded`() {
        // The latest fix is vague; three earlier fixes of the same attempt are sharp.
        val latest = Places.inStore(30.0)
        val earlier = listOf(
            latest.copy(lat = latest.lat + 1e-5, accuracyM = 5.0, timeMs = latest.timeMs - 1_000),
            latest.copy(lon = latest.lon + 1e-5, accuracyM = 6.0, timeMs = latest.timeMs - 2_000),
            latest.copy(lat = latest.lat - 1e-5, accuracyM = 8.0, timeMs = latest.timeMs - 3_000),
        )
        val input = phone.faceChecked(PunchKind.IN, latest).copy(moreFixes = earlier)
        val before = device.queueStatus().pending
        val receipt = device.punch(input)
        val v = receipt.verdict
        assertEquals(Decision.ACCEPTED, v.decision, v.toString())
        assertEquals(Presence.INSIDE, v.presence)
        // Fused conservatively: never better than the best fix (5 m), far better than 30 m.
        val accuracy = v.accuracyM!!
        assertTrue(accuracy >= 5.0 && accuracy < 8.0, "fused accuracy $accuracy")
        assertNotNull(receipt.recordId)
        assertEquals(before + 1uL, device.queueStatus().pending)
    }

    @Test
    fun `a garbage fix among the earlier fixes is InvalidInput naming it, and nothing is stored`() {
        val latest = Places.inStore()
        val good = latest.copy(accuracyM = 7.0, timeMs = latest.timeMs - 1_000)
        val before = device.queueStatus()
        val north = assertThrows<DakaException.InvalidInput> {
            device.punch(
                phone.faceChecked(PunchKind.IN, latest)
                    .copy(moreFixes = listOf(good, latest.copy(lat = 95.0, timeMs = latest.timeMs - 2_000))),
            )
        }
        assertEquals("more_fixes[1].lat", north.field)
        assertEquals("95", north.value)
        assertTrue(north.reason.contains("latitude"), north.reason)
        val never = assertThrows<DakaException.InvalidInput> {
            device.checkLocation(PunchInput(kind = PunchKind.IN, fix = latest, moreFixes = listOf(good, good.copy(timeMs = Long.MIN_VALUE))))
        }
        assertEquals("more_fixes[1].timeMs", never.field)
        val later = assertThrows<DakaException.InvalidInput> {
            device.checkLocation(PunchInput(kind = PunchKind.IN, fix = latest, moreFixes = listOf(latest.copy(accuracyM = 7.0, timeMs = latest.timeMs + 5_000))))
        }
        assertEquals("more_fixes[0].time", later.field)
        val alone = assertThrows<DakaException.InvalidInput> {
            device.checkLocation(PunchInput(kind = PunchKind.IN, moreFixes = listOf(good)))
        }
        assertEquals("more_fixes", alone.field)
        assertEquals(before, device.queueStatus(), "nothing half-stored")
    }
}
