package hk.daka.sdk.jvmtest

import hk.daka.sdk.ApprovalAction
import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.FormValue
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
 * Approvals through the generated bindings against the reference server: templates, drafts
 * checked field by field, routes previewed, files attached, requests submitted and decided
 * on three employees' devices, leave balances, and the errors each path raises.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApprovalsTest {
    private lateinit var dir: Path
    private lateinit var server: ReferenceServer
    private lateinit var applicant: DakaDevice
    private lateinit var manager: DakaDevice
    private lateinit var finance: DakaDevice

    @BeforeAll
    fun start(@TempDir classDir: Path) {
        dir = classDir
        server = ReferenceServer.start(dir.resolve("server"))
        applicant = enrolledDevice(server, dir, "applicant", "E1001")
        manager = enrolledDevice(server, dir, "manager", "E0101")
        finance = enrolledDevice(server, dir, "finance", "E0201")
    }

    @AfterAll
    fun stop() {
        listOf(applicant, manager, finance).forEach { it.close() }
        server.close()
    }

    /** A receipt photo: a few bytes of JPEG. */
    private fun receipt(tag: String) = byteArrayOf(-1, -40, -1, -2) + "receipt $tag".toByteArray() + byteArrayOf(-1, -39)

    private fun expense(minor: Long, tag: String): Map<String, FormValue> {
        val file = applicant.addAttachment(receipt(tag), "image/jpeg")
        return mapOf(
            "amount" to FormValue.Money(minor, "HKD"),
            "category" to FormValue.Choice("client_entertainment"),
            "date" to FormValue.Date("2026-11-20"),
            "receipts" to FormValue.Attachments(listOf(file)),
            "description" to FormValue.Text("Dinner <with> the client; DROP TABLE request; --"),
        )
    }

    @Test
    fun `the policy's templates describe the forms to build`() {
        val templates = applicant.requestTemplates()
        assertEquals(listOf("expense", "leave", "missed_punch", "field_punch_review", "overtime", "purchase"), templates.map { it.id })
        val expense = templates.first { it.id == "expense" }
        assertEquals("expense", expense.requestType)
        val amount = expense.fields.first { it.id == "amount" }
        assertEquals("money", amount.fieldType)
        assertEquals("HKD", amount.currency)
        assertTrue(amount.required)
        assertEquals(listOf("Manager", "Finance"), expense.steps)
        val leaveType = templates.first { it.id == "leave" }.fields.first { it.id == "leave_type" }
        assertEquals(listOf("annual", "sick", "no_pay", "toil"), leaveType.options)
        val overtime = templates.first { it.id == "overtime" }
        assertEquals("overtime", overtime.requestType)
        assertEquals(listOf("date", "minutes", "reason"), overtime.fields.map { it.id })
    }

    @Test
    fun `a draft with bad values lists every problem as InvalidForm`() {
        val e = assertThrows<DakaException.InvalidForm> {
            applicant.checkDraft("expense", mapOf("amount" to FormValue.Text("6200"), "typo" to FormValue.Text("x")))
        }
        assertEquals(listOf("amount", "category", "date", "receipts", "typo"), e.problems.map { it.field })
        assertEquals(listOf("wrong_type", "missing", "missing", "missing", "unknown_field"), e.problems.map { it.code })
        assertEquals("\"6200\"", e.problems[0].value)
        val negative = assertThrows<DakaException.InvalidForm> {
            applicant.checkDraft("expense", expense(-1, "negative"))
        }
        assertEquals("too_small", negative.problems.single().code)
        val unknown = assertThrows<DakaException.InvalidInput> { applicant.checkDraft("bonus", emptyMap()) }
        assertEquals("templateId", unknown.field)
        assertEquals("bonus", unknown.value)
        val badFile = assertThrows<DakaException.InvalidInput> { applicant.addAttachment(ByteArray(0), "image/jpeg") }
        assertEquals("attachment", badFile.field)
        assertThrows<DakaException.InvalidInput> { applicant.addAttachment(receipt("x"), "jpeg") }
        // Nothing was queued by any of it.
        assertEquals(0uL, applicant.status().queue.pending)
    }

    @Test
    fun `an expense of 6200 goes to the manager then finance, and the audit trail says who did what`() = runBlocking {
        val values = expense(620_000, "6200")
        val preview = applicant.checkDraft("expense", values)
        assertEquals(listOf("Manager", "Finance"), preview.route.map { it.name })
        assertEquals(listOf(listOf("E0101"), listOf("E0201")), preview.route.map { it.approvers })
        assertEquals(42uL, preview.policyVersion)
        val queued = applicant.submitRequest("expense", values)
        assertEquals(1u, queued.revision)
        assertEquals(preview.route, queued.route)
        applicant.syncNow()
        assertTrue(manager.inbox().any { it.requestId == queued.requestId })
        assertTrue(finance.inbox().none { it.requestId == queued.requestId })

        manager.decide(queued.requestId, ApprovalAction.Approve("Good client"))
        manager.syncNow()
        assertTrue(finance.inbox().any { it.requestId == queued.requestId })
        finance.decide(queued.requestId, ApprovalAction.Approve(null))
        finance.syncNow()

        val report = applicant.syncNow()
        assertTrue(report.requestUpdates.any { it.requestId == queued.requestId && it.status == "approved" }, "$report")
        val r = applicant.request(queued.requestId)
        assertEquals("approved", r.status)
        assertTrue(r.waitingFor.isEmpty())
        assertEquals(listOf("submit", "approve", "approve"), r.audit.map { it.action })
        assertEquals(listOf("E1001", "E0101", "E0201"), r.audit.map { it.actor })
        assertEquals("Good client", r.audit[1].comment)
        assertTrue(r.formJson.contains("DROP TABLE request"), "text is kept verbatim: ${r.formJson}")
        assertTrue(applicant.myRequests().any { it.requestId == queued.requestId })
    }

    @Test
    fun `a decision by someone not on the route is refused by the server and parked for attention`() = runBlocking {
        val queued = applicant.submitRequest("expense", expense(10_000, "small"))
        applicant.syncNow()
        val decisionId = finance.decide(queued.requestId, ApprovalAction.Approve(null))
        finance.syncNow()
        val parked = finance.itemsNeedingAttention().single { it.id == decisionId }
        assertEquals("not_current_approver", parked.code)
        // The applicant cannot approve their own request either.
        val own = applicant.decide(queued.requestId, ApprovalAction.Approve(null))
        applicant.syncNow()
        assertEquals("self_approval", applicant.itemsNeedingAttention().single { it.id == own }.code)
        assertEquals("pending", applicant.request(queued.requestId).status)
        val notAnId = assertThrows<DakaException.InvalidInput> { manager.decide("not-a-request", ApprovalAction.Approve(null)) }
        assertEquals("requestId", notAnId.field)
    }

    @Test
    fun `an approver acting offline is applied when the phone is back online`() = runBlocking {
        val queued = applicant.submitRequest("expense", expense(20_000, "offline"))
        applicant.syncNow()
        server.stop()
        try {
            manager.decide(queued.requestId, ApprovalAction.Return("Attach the itemised bill"))
            assertEquals(1uL, manager.status().queue.pending)
        } finally {
            server.start()
        }
        manager.syncNow()
        val r = applicant.request(queued.requestId)
        assertEquals("returned", r.status)
        assertEquals("Attach the itemised bill", r.audit.last().comment)
        // Resubmitted with a new receipt: revision 2, back to the manager.
        val again = applicant.resubmitRequest(queued.requestId, 2u, "expense", expense(20_000, "itemised"))
        assertEquals(2u, again.revision)
        applicant.syncNow()
        assertEquals(2u, applicant.request(queued.requestId).revision)
        applicant.decide(queued.requestId, ApprovalAction.Withdraw("Paid it myself"))
        applicant.syncNow()
        assertEquals("withdrawn", applicant.request(queued.requestId).status)
    }

    @Test
    fun `leave holds days on submission and takes them on approval`() = runBlocking {
        fun annual() = runBlocking { applicant.leaveBalances(2027).first { it.leaveType == "annual" } }
        val before = annual()
        assertEquals(28L, before.entitledHalves)
        val values = mapOf(
            "leave_type" to FormValue.Choice("annual"),
            "period" to FormValue.DateRange("2027-03-01", "2027-03-02", startPm = true, endAm = false),
        )
        val queued = applicant.submitRequest("leave", values)
        applicant.syncNow()
        assertEquals(3L, annual().pendingHalves)
        assertEquals(before.availableHalves - 3, annual().availableHalves)
        manager.decide(queued.requestId, ApprovalAction.Approve(null))
        manager.syncNow()
        val after = annual()
        assertEquals(0L, after.pendingHalves)
        assertEquals(before.takenHalves + 3, after.takenHalves)
        // Three weeks more than is left: the balance is checked at submission.
        val tooMuch = applicant.submitRequest(
            "leave",
            mapOf("leave_type" to FormValue.Choice("annual"), "period" to FormValue.DateRange("2027-05-01", "2027-05-28", false, false)),
        )
        applicant.syncNow()
        assertEquals("insufficient_balance", applicant.itemsNeedingAttention().single { it.id == tooMuch.requestId }.code)
        assertEquals(after, annual())
    }

    @Test
    fun `the top of the company has nobody to approve their claim`() {
        enrolledDevice(server, dir, "director", "E0001").use { director ->
            val e = assertThrows<DakaException.NoApprover> {
                director.checkDraft(
                    "missed_punch",
                    mapOf(
                        "date" to FormValue.Date("2026-11-20"),
                        "punch_kind" to FormValue.Choice("in"),
                        "time" to FormValue.Text("09:00"),
                        "reason" to FormValue.Text("Forgot"),
                    ),
                )
            }
            assertTrue(e.reason.contains("E0001 has no manager"), e.reason)
        }
    }
}
