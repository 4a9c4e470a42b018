package hk.daka.testing

import hk.daka.sdk.Attachment
import hk.daka.sdk.ApprovalAction
import hk.daka.sdk.Attestation
import hk.daka.sdk.AttestationRule
import hk.daka.sdk.DakaDeviceInterface
import hk.daka.sdk.DakaException
import hk.daka.sdk.DeviceStatus
import hk.daka.sdk.DraftPreview
import hk.daka.sdk.EnrollmentChallenge
import hk.daka.sdk.FormValue
import hk.daka.sdk.Identity
import hk.daka.sdk.LeaveBalance
import hk.daka.sdk.MonthInfo
import hk.daka.sdk.PunchInput
import hk.daka.sdk.PunchReceipt
import hk.daka.sdk.QueueStatus
import hk.daka.sdk.QueuedItem
import hk.daka.sdk.QueuedRequestInfo
import hk.daka.sdk.RequestInfo
import hk.daka.sdk.StatusListener
import hk.daka.sdk.SyncReport
import hk.daka.sdk.TemplateInfo
import hk.daka.sdk.TodayInfo
import hk.daka.sdk.Verdict
import java.security.MessageDigest
import java.util.Base64

/**
 * A scriptable stand-in for `DakaDevice` in the app's unit tests: it implements the generated
 * [DakaDeviceInterface] in plain Kotlin, so a test runs on the JVM with neither the native
 * library nor JNA's native part, and without a server.
 *
 * Code that takes a [DakaDeviceInterface] (instead of the `DakaDevice` class) accepts the fake:
 *
 * ```kotlin
 * val fake = FakeDakaDevice(identity = FakeDaka.identity())
 * fake.verdict = FakeDaka.rejected("outside_fence", "120 m outside Causeway Bay Store")
 * fake.failNext(DakaCall.SYNC_NOW, DakaException.Offline("no route to host"))
 * ```
 *
 * What it does by default, close to the real device: every call except `enroll`,
 * `identity`, `publicKey`, `status`, `queueStatus`, `setStatusListener` and `requestTemplates`
 * throws `NotEnrolled` until [identity] is set or `enroll` is called; `punch` returns [verdict]
 * with a record id unless the decision is `REJECTED`, and counts the punch in [queue];
 * `syncNow` reports progress and the round to the [listener] as the real device does (one
 * `onSyncProgress` per item, then `onSyncFinished`, or `onSyncFailed` before it throws) and
 * empties the queue; `startBackgroundSync` checks its interval like the real device.
 * Everything it was given is kept in [calls], [punches], [attachments], [submissions] and
 * [decisions].
 *
 * Not thread-safe: script it and call it from the test's thread (or guard it yourself).
 */
class FakeDakaDevice(
    /** The device's identity: `null` until enrolled. */
    var identity: Identity? = null,
) : DakaDeviceInterface {

    /** The verdict `checkLocation` and `punch` return. */
    var verdict: Verdict = FakeDaka.accepted()

    /** What `queueStatus` returns; `punch` and `syncNow` keep `pending` up to date. */
    var queue: QueueStatus = QueueStatus(pending = 0u, inFlight = 0u, needsAttention = 0u, oldestWaitingSeconds = null)

    /** What `itemsNeedingAttention` returns. */
    var needingAttention: List<QueuedItem> = emptyList()

    /** The policy version `status` and `refreshPolicy` report; `null`: no policy yet (`NoPolicy`). */
    var policyVersion: ULong? = 1u

    /** The report of the next `syncNow`; `null` builds one that accepts everything queued. */
    var syncReport: SyncReport? = null

    /** What `today` returns; `null` throws `NoSchedule`. */
    var todayInfo: TodayInfo? = null

    /** What `monthSummary` returns, by month (`2026-12`); a month not here throws `NoSchedule`. */
    val months: MutableMap<String, MonthInfo> = mutableMapOf()

    /** What `requestTemplates` returns. */
    var templates: List<TemplateInfo> = emptyList()

    /** What `checkDraft` returns, and the route of every queued request. */
    var draftPreview: DraftPreview = DraftPreview(route = emptyList(), policyVersion = 1u)

    /** What `inbox` returns. */
    var inboxItems: List<RequestInfo> = emptyList()

    /** What `myRequests` returns. */
    var ownRequests: List<RequestInfo> = emptyList()

    /** What `request(id)` returns, by request id; an id not here is `Refused("request_not_found")`. */
    val requests: MutableMap<String, RequestInfo> = mutableMapOf()

    /** What `leaveBalances` returns. */
    var balances: List<LeaveBalance> = emptyList()

    /** What `publicKey` returns. */
    var publicKeyText: String = "fake-public-key"

    /**
     * Whether the organisation asks for attestation at enrolment, as `enrollmentChallenge`
     * reports it. Under `REQUIRED`, `enroll` without an attestation throws
     * `Refused("attestation_required")`, and one for another challenge
     * `Refused("attestation_challenge_invalid")`, as the server answers.
     */
    var attestationRule: AttestationRule = AttestationRule.OFF

    /** The formats `enrollmentChallenge` says the server verifies. */
    var attestationFormats: List<String> = listOf("app_attest", "play_integrity")

    /** Every challenge `enrollmentChallenge` issued, in order. */
    val challenges: MutableList<EnrollmentChallenge> = mutableListOf()

    /** The attestation the last `enroll` was given, if any. */
    var enrolledWith: Attestation? = null
        private set

    /** The listener the app set with `setStatusListener`, if any. */
    var listener: StatusListener? = null
        private set

    /** The interval of the running background loop, or `null` when it is not running. */
    var backgroundSyncInterval: UInt? = null
        private set

    /**
     * What `status().tlsRefused` reports: `code: reason` of a refused server certificate
     * (see `DakaException.Tls`), or `null`. Set it to show the app's TLS-refused state.
     */
    var tlsRefused: String? = null

    /** Every call made, in order. */
    val calls: MutableList<DakaCall> = mutableListOf()

    /** Every `punch` input, in order (rejected ones included). */
    val punches: MutableList<PunchInput> = mutableListOf()

    /** Every attachment added, with its content. */
    val attachments: MutableMap<String, ByteArray> = mutableMapOf()

    /** Every `submitRequest` / `resubmitRequest`: template id and values. */
    val submissions: MutableList<Pair<String, Map<String, FormValue>>> = mutableListOf()

    /** Every `decide`: request id and action. */
    val decisions: MutableList<Pair<String, ApprovalAction>> = mutableListOf()

    private val nextFailures = mutableMapOf<DakaCall, ArrayDeque<DakaException>>()
    private val alwaysFailures = mutableMapOf<DakaCall, DakaException>()
    private var counter = 0

    /** The next call of [call] throws [error] (queued: several `failNext` fail several calls). */
    fun failNext(call: DakaCall, error: DakaException) {
        nextFailures.getOrPut(call) { ArrayDeque() }.addLast(error)
    }

    /** Every call of [call] throws [error] until [clearFailures]. */
    fun failAlways(call: DakaCall, error: DakaException) {
        alwaysFailures[call] = error
    }

    /** Forgets every scripted failure. */
    fun clearFailures() {
        nextFailures.clear()
        alwaysFailures.clear()
    }

    /** Records the call, then throws its scripted failure, if any. */
    private fun enter(call: DakaCall, needsIdentity: Boolean = true) {
        calls += call
        nextFailures[call]?.removeFirstOrNull()?.let { throw it }
        alwaysFailures[call]?.let { throw it }
        if (needsIdentity && identity == null) throw DakaException.NotEnrolled()
    }

    private fun next(prefix: String): String = "$prefix-${++counter}"

    private fun enrolled(): Identity = identity ?: throw DakaException.NotEnrolled()

    override suspend fun enroll(
        serverUrl: String,
        code: String,
        deviceName: String,
        platform: String,
        attestation: Attestation?,
    ): Identity {
        enter(DakaCall.ENROLL, needsIdentity = false)
        identity?.let { throw DakaException.AlreadyEnrolled(it.deviceId) }
        checkServerUrl(serverUrl)
        if (attestationRule == AttestationRule.REQUIRED) {
            if (attestation == null) {
                throw DakaException.Refused("attestation_required", "this organisation requires a platform attestation at enrolment")
            }
            if (challenges.none { it.challenge == attestation.challenge }) {
                throw DakaException.Refused("attestation_challenge_invalid", "attestation.challenge: not a challenge issued for this enrolment")
            }
        }
        enrolledWith = attestation
        return FakeDaka.identity(serverUrl = serverUrl).also { identity = it }
    }

    override suspend fun enrollmentChallenge(serverUrl: String, code: String): EnrollmentChallenge {
        enter(DakaCall.ENROLLMENT_CHALLENGE, needsIdentity = false)
        identity?.let { throw DakaException.AlreadyEnrolled(it.deviceId) }
        checkServerUrl(serverUrl)
        val challenge = next("fake-challenge")
        val nonce = MessageDigest.getInstance("SHA-256")
            .digest("$challenge\n$publicKeyText".toByteArray())
        return EnrollmentChallenge(
            challenge = challenge,
            nonce = nonce,
            nonceBase64url = Base64.getUrlEncoder().withoutPadding().encodeToString(nonce),
            attestation = attestationRule,
            formats = attestationFormats,
            expiresAtMs = System.currentTimeMillis() + 600_000,
        ).also { challenges += it }
    }

    private fun checkServerUrl(serverUrl: String) {
        if (!serverUrl.startsWith("https://") && !serverUrl.startsWith("http://127.0.0.1")) {
            throw DakaException.InvalidInput("serverUrl", serverUrl, "must be an https:// URL")
        }
    }

    override suspend fun refreshPolicy(): ULong {
        enter(DakaCall.REFRESH_POLICY)
        return policyVersion ?: throw DakaException.NoPolicy()
    }

    override fun checkLocation(input: PunchInput): Verdict {
        enter(DakaCall.CHECK_LOCATION)
        if (policyVersion == null) throw DakaException.NoPolicy()
        return verdict
    }

    override fun beginFaceCheck(): String {
        enter(DakaCall.BEGIN_FACE_CHECK)
        return next("fake-nonce")
    }

    override fun punch(input: PunchInput): PunchReceipt {
        enter(DakaCall.PUNCH)
        if (policyVersion == null) throw DakaException.NoPolicy()
        punches += input
        if (verdict.decision == hk.daka.sdk.Decision.REJECTED) return PunchReceipt(verdict, recordId = null, seq = null)
        queue = queue.copy(pending = queue.pending + 1u)
        return PunchReceipt(verdict, recordId = next("fake-punch"), seq = punches.size.toULong())
    }

    override fun queueStatus(): QueueStatus {
        enter(DakaCall.QUEUE_STATUS, needsIdentity = false)
        return queue
    }

    override fun itemsNeedingAttention(): List<QueuedItem> {
        enter(DakaCall.ITEMS_NEEDING_ATTENTION, needsIdentity = false)
        return needingAttention
    }

    override suspend fun syncNow(): SyncReport {
        try {
            enter(DakaCall.SYNC_NOW)
        } catch (e: DakaException) {
            listener?.onSyncFailed(e)
            throw e
        }
        val total = queue.pending + queue.inFlight
        var sent = 0uL
        while (sent < total) {
            sent++
            listener?.onSyncProgress(sent, total)
        }
        val report = syncReport ?: FakeDaka.syncReport(accepted = total)
        queue = queue.copy(pending = report.remaining, inFlight = 0u, oldestWaitingSeconds = null)
        listener?.onSyncFinished(report)
        return report
    }

    override fun startBackgroundSync(intervalSeconds: UInt) {
        enter(DakaCall.START_BACKGROUND_SYNC, needsIdentity = false)
        if (intervalSeconds !in 1u..86_400u) {
            throw DakaException.InvalidInput(
                "intervalSeconds", intervalSeconds.toString(), "must be between 1 and 86400 seconds",
            )
        }
        backgroundSyncInterval = intervalSeconds
    }

    override suspend fun stopBackgroundSync(): ULong {
        calls += DakaCall.STOP_BACKGROUND_SYNC
        backgroundSyncInterval = null
        return 0u
    }

    override fun setStatusListener(listener: StatusListener?) {
        calls += DakaCall.SET_STATUS_LISTENER
        this.listener = listener
    }

    override fun status(): DeviceStatus {
        enter(DakaCall.STATUS, needsIdentity = false)
        return DeviceStatus(
            enrolled = identity != null,
            deviceId = identity?.deviceId,
            employeeId = identity?.employeeId,
            policyVersion = policyVersion.takeIf { identity != null },
            queue = queue,
            backgroundSync = backgroundSyncInterval != null,
            tlsRefused = tlsRefused,
        )
    }

    override fun identity(): Identity? {
        calls += DakaCall.IDENTITY
        return identity
    }

    override fun publicKey(): String {
        enter(DakaCall.PUBLIC_KEY, needsIdentity = false)
        return publicKeyText
    }

    override fun today(): TodayInfo {
        enter(DakaCall.TODAY)
        return todayInfo ?: throw DakaException.NoSchedule(enrolled().employeeId)
    }

    override fun monthSummary(month: String): MonthInfo {
        enter(DakaCall.MONTH_SUMMARY)
        if (!MONTH.matches(month)) throw DakaException.InvalidInput("month", month, "expected a month as YYYY-MM")
        return months[month] ?: throw DakaException.NoSchedule(enrolled().employeeId)
    }

    override fun requestTemplates(): List<TemplateInfo> {
        enter(DakaCall.REQUEST_TEMPLATES, needsIdentity = false)
        return templates
    }

    override fun checkDraft(templateId: String, values: Map<String, FormValue>): DraftPreview {
        enter(DakaCall.CHECK_DRAFT)
        knownTemplate(templateId)
        return draftPreview
    }

    override fun addAttachment(content: ByteArray, mediaType: String): Attachment {
        enter(DakaCall.ADD_ATTACHMENT)
        if (content.isEmpty()) throw DakaException.InvalidInput("content", "0 bytes", "an attachment cannot be empty")
        val sha256 = MessageDigest.getInstance("SHA-256").digest(content).joinToString("") { "%02x".format(it) }
        attachments[sha256] = content.copyOf()
        return Attachment(sha256 = sha256, bytes = content.size.toULong(), mediaType = mediaType)
    }

    override fun submitRequest(templateId: String, values: Map<String, FormValue>): QueuedRequestInfo {
        enter(DakaCall.SUBMIT_REQUEST)
        knownTemplate(templateId)
        submissions += templateId to values
        queue = queue.copy(pending = queue.pending + 1u)
        return QueuedRequestInfo(requestId = next("fake-request"), revision = 1u, route = draftPreview.route)
    }

    override fun resubmitRequest(
        requestId: String,
        revision: UInt,
        templateId: String,
        values: Map<String, FormValue>,
    ): QueuedRequestInfo {
        enter(DakaCall.RESUBMIT_REQUEST)
        knownTemplate(templateId)
        submissions += templateId to values
        queue = queue.copy(pending = queue.pending + 1u)
        return QueuedRequestInfo(requestId = requestId, revision = revision + 1u, route = draftPreview.route)
    }

    override fun decide(requestId: String, action: ApprovalAction): String {
        enter(DakaCall.DECIDE)
        decisions += requestId to action
        queue = queue.copy(pending = queue.pending + 1u)
        return next("fake-decision")
    }

    override suspend fun inbox(): List<RequestInfo> {
        enter(DakaCall.INBOX)
        return inboxItems
    }

    override suspend fun myRequests(): List<RequestInfo> {
        enter(DakaCall.MY_REQUESTS)
        return ownRequests
    }

    override suspend fun request(requestId: String): RequestInfo {
        enter(DakaCall.REQUEST)
        return requests[requestId]
            ?: throw DakaException.Refused("request_not_found", "no request $requestId on the server")
    }

    override suspend fun leaveBalances(year: Int?): List<LeaveBalance> {
        enter(DakaCall.LEAVE_BALANCES)
        return balances.filter { year == null || it.year == year }
    }

    /** `InvalidInput(templateId)` for a template not in [templates], as the real device does. */
    private fun knownTemplate(templateId: String) {
        if (templates.isNotEmpty() && templates.none { it.id == templateId }) {
            throw DakaException.InvalidInput("templateId", templateId, "no such request template in the policy")
        }
    }

    private companion object {
        val MONTH = Regex("""\d{4}-(0[1-9]|1[0-2])""")
    }
}
