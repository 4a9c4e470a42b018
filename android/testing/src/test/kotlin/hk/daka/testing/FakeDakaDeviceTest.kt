package hk.daka.testing

import hk.daka.sdk.Attestation
import hk.daka.sdk.AttestationRule
import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaDeviceInterface
import hk.daka.sdk.DakaException
import hk.daka.sdk.Decision
import hk.daka.sdk.FormProblem
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchKind
import hk.daka.sdk.StatusListener
import hk.daka.sdk.SyncReport
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.nio.file.Files

/** The fake, scripted as an app's unit test would, on a JVM without any native library. */
class FakeDakaDeviceTest {

    @Test
    fun `no native library is reachable, so the fake alone answers`() {
        assertNull(System.getProperty("jna.library.path"), "jna.library.path must be unset here")
        val libName = System.mapLibraryName("daka_ffi")
        val onPath = System.getProperty("java.library.path").split(File.pathSeparator)
            .filter { it.isNotEmpty() && File(it, libName).exists() }
        assertEquals(emptyList<String>(), onPath, "$libName must not be on java.library.path")
        // The real class needs the library: opening a device fails to link.
        val dir = Files.createTempDirectory("daka-fake")
        val failure = try {
            assertThrows<Throwable> { DakaDevice.open(dir.resolve("daka.db").toString(), null) }
        } finally {
            dir.toFile().deleteRecursively()
        }
        val chain = generateSequence(failure) { it.cause }.toList()
        assertTrue(chain.any { it is LinkageError }, "expected a LinkageError, got $chain")
    }

    @Test
    fun `scripted verdicts come back from checkLocation and punch, and the queue counts recorded punches`() {
        val fake = FakeDakaDevice(identity = FakeDaka.identity())
        val input = PunchInput(kind = PunchKind.IN)

        fake.verdict = FakeDaka.accepted()
        val accepted = fake.punch(input)
        assertEquals(Decision.ACCEPTED, accepted.verdict.decision)
        assertNotNull(accepted.recordId)

        fake.verdict = FakeDaka.fieldPunch()
        assertEquals(Decision.FIELD_PUNCH, fake.checkLocation(input).decision)
        assertNotNull(fake.punch(input).recordId)

        fake.verdict = FakeDaka.rejected("mock_location", "the fix came from a mock location provider")
        val rejected = fake.punch(input)
        assertNull(rejected.recordId, "a rejected punch is not recorded")
        assertEquals("mock_location", rejected.verdict.reasons.single().code)

        assertEquals(2uL, fake.queueStatus().pending)
        assertEquals(3, fake.punches.size)
        assertEquals(listOf(DakaCall.PUNCH, DakaCall.CHECK_LOCATION, DakaCall.PUNCH, DakaCall.PUNCH, DakaCall.QUEUE_STATUS), fake.calls)
    }

    @Test
    fun `queue states are scripted and reported by status`() {
        val fake = FakeDakaDevice(identity = FakeDaka.identity())
        fake.queue = fake.queue.copy(pending = 12u, needsAttention = 1u, oldestWaitingSeconds = 3_600u)
        fake.needingAttention = listOf(hk.daka.sdk.QueuedItem("item-1", "not_current_approver", "someone else decided"))
        val status = fake.status()
        assertTrue(status.enrolled)
        assertEquals(12uL, status.queue.pending)
        assertEquals(3_600uL, status.queue.oldestWaitingSeconds)
        assertEquals("not_current_approver", fake.itemsNeedingAttention().single().code)
    }

    @Test
    fun `a sync round reports progress and its result to the listener, as the real device does`() = runBlocking {
        val fake = FakeDakaDevice(identity = FakeDaka.identity())
        val events = mutableListOf<String>()
        fake.setStatusListener(object : StatusListener {
            override fun onSyncProgress(sent: ULong, total: ULong) { events += "progress $sent/$total" }
            override fun onSyncFinished(report: SyncReport) { events += "finished ${report.accepted}" }
            override fun onSyncFailed(error: DakaException) { events += "failed ${error::class.simpleName}" }
        })
        repeat(3) { fake.punch(PunchInput(kind = PunchKind.IN)) }
        val report = fake.syncNow()
        assertEquals(3uL, report.accepted)
        assertEquals(0uL, fake.queueStatus().pending)

        fake.failNext(DakaCall.SYNC_NOW, DakaException.Offline("no route to host"))
        assertThrows<DakaException.Offline> { runBlocking { fake.syncNow() } }
        assertEquals(listOf("progress 1/3", "progress 2/3", "progress 3/3", "finished 3", "failed Offline"), events)
    }

    @Test
    fun `every error type can be scripted, is thrown as itself and prints without the library`() {
        val errors = everyError()
        val declared = DakaException::class.java.declaredClasses
            .filter { DakaException::class.java.isAssignableFrom(it) }
            .map { it.simpleName }.toSet()
        assertEquals(declared, errors.map { it::class.java.simpleName }.toSet(), "one instance of every DakaException")

        val fake = FakeDakaDevice(identity = FakeDaka.identity())
        for (error in errors) {
            fake.failNext(DakaCall.PUNCH, error)
            val thrown = assertThrows<DakaException> { fake.punch(PunchInput(kind = PunchKind.OUT)) }
            assertSame(error, thrown)
            // Plain Kotlin text: the variant and its fields, no call into the library.
            val text = thrown.toString()
            assertTrue(text.startsWith("hk.daka.sdk.DakaException$" + error::class.java.simpleName), text)
        }
        assertEquals("hk.daka.sdk.DakaException\$QueueFull: queued=10000, limit=10000", errors.first { it is DakaException.QueueFull }.toString())
        assertEquals("field=fix.lat, value=95.0, reason=latitude out of range", errors.first { it is DakaException.InvalidInput }.message)
        // The next punch, with nothing scripted, succeeds again.
        assertNotNull(fake.punch(PunchInput(kind = PunchKind.OUT)).recordId)
    }

    @Test
    fun `an organisation that requires attestation enrols only with an attestation to a challenge it issued`() = runBlocking {
        val fake = FakeDakaDevice()
        fake.attestationRule = AttestationRule.REQUIRED
        val challenge = fake.enrollmentChallenge("https://attendance.example.hk", "HL-E1001-7Q2X")
        assertEquals(AttestationRule.REQUIRED, challenge.attestation)
        assertEquals(32, challenge.nonce.size)
        assertEquals(43, challenge.nonceBase64url.length)
        assertEquals(listOf("app_attest", "play_integrity"), challenge.formats)

        val missing = assertThrows<DakaException.Refused> {
            runBlocking { fake.enroll("https://attendance.example.hk", "HL-E1001-7Q2X", "Pixel 8", "android") }
        }
        assertEquals("attestation_required", missing.code)
        val stranger = Attestation(format = "play_integrity", challenge = "another", token = "t")
        val invalid = assertThrows<DakaException.Refused> {
            runBlocking { fake.enroll("https://attendance.example.hk", "HL-E1001-7Q2X", "Pixel 8", "android", stranger) }
        }
        assertEquals("attestation_challenge_invalid", invalid.code)
        assertFalse(fake.status().enrolled)

        val attestation = Attestation(format = "play_integrity", challenge = challenge.challenge, token = "integrity-token")
        val identity = fake.enroll("https://attendance.example.hk", "HL-E1001-7Q2X", "Pixel 8", "android", attestation)
        assertEquals("E1001", identity.employeeId)
        assertSame(attestation, fake.enrolledWith)
        assertEquals(
            listOf(DakaCall.ENROLLMENT_CHALLENGE, DakaCall.ENROLL, DakaCall.ENROLL, DakaCall.STATUS, DakaCall.ENROLL),
            fake.calls,
        )
        assertThrows<DakaException.AlreadyEnrolled> {
            runBlocking { fake.enrollmentChallenge("https://attendance.example.hk", "HL-E1001-7Q2X") }
        }
        Unit
    }

    @Test
    fun `failAlways keeps failing until cleared, and enrolment follows the real rules`() = runBlocking {
        val fake = FakeDakaDevice()
        assertThrows<DakaException.NotEnrolled> { fake.punch(PunchInput(kind = PunchKind.IN)) }
        assertFalse(fake.status().enrolled)
        val identity = fake.enroll("https://attendance.example.hk", "HL-E1001-7Q2X", "Pixel 8", "android")
        assertEquals("E1001", identity.employeeId)
        val again = assertThrows<DakaException.AlreadyEnrolled> { runBlocking { fake.enroll("https://x.example", "c", "d", "android") } }
        assertEquals(identity.deviceId, again.deviceId)

        fake.failAlways(DakaCall.INBOX, DakaException.Unauthorized("token refresh failed"))
        repeat(2) { assertThrows<DakaException.Unauthorized> { runBlocking { fake.inbox() } } }
        fake.clearFailures()
        assertEquals(emptyList<Any>(), fake.inbox())

        val bad = assertThrows<DakaException.InvalidInput> { fake.startBackgroundSync(0u) }
        assertEquals("intervalSeconds" to "0", bad.field to bad.value)
        fake.startBackgroundSync(300u)
        assertEquals(300u, fake.backgroundSyncInterval)
        val month = assertThrows<DakaException.InvalidInput> { fake.monthSummary("2026-13") }
        assertEquals("month" to "2026-13", month.field to month.value)
    }

    @Test
    fun `DakaCall names exactly the methods of the generated interface`() {
        // Methods taking or returning unsigned values carry a mangled suffix in bytecode (`-WZ4Q5Ns`);
        // a method with a default argument (`enroll`'s `attestation`) also has a synthetic
        // static `enroll$default` beside it.
        val methods = DakaDeviceInterface::class.java.declaredMethods
            .filterNot { it.isSynthetic || it.name.endsWith("\$default") }
            .map { it.name.substringBefore('-') }.toSet()
        assertEquals(methods, DakaCall.entries.map { it.method }.toSet())
    }

    companion object {
        /** One of each `DakaException`, with realistic fields. */
        fun everyError(): List<DakaException> = listOf(
            DakaException.NotEnrolled(),
            DakaException.AlreadyEnrolled("dev-1"),
            DakaException.NoPolicy(),
            DakaException.NoSchedule("E1001"),
            DakaException.InvalidInput("fix.lat", "95.0", "latitude out of range"),
            DakaException.InvalidForm(listOf(FormProblem("amount", "6200", "expected_money", "expected money"))),
            DakaException.NoApprover("step 1 (manager): E0001 has no manager"),
            DakaException.QueueFull(10_000u, 10_000u),
            DakaException.Unavailable("the random number generator failed"),
            DakaException.Offline("connection refused"),
            DakaException.ServerBusy(7u),
            DakaException.Tls("pin_mismatch", "no pinned key in the chain of api.harbour-lane.example"),
            DakaException.Unauthorized("token refresh failed"),
            DakaException.DeviceRevoked("revoked by hr@harbour-lane.example"),
            DakaException.Refused("enrollment_code_used", "this code was used"),
            DakaException.BadPolicy("signature does not verify"),
            DakaException.Storage("disk full"),
            DakaException.KeyStore("key permanently invalidated"),
            DakaException.Internal("a bug"),
        )
    }
}
