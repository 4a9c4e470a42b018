// A scriptable stand-in for `DakaDevice` in the app's unit tests (product `DakaSDKTesting`).
import CryptoKit
import DakaSDK
import Foundation

/// The methods of `DakaDeviceProtocol`, to script a failure (`failNext`) and to read what the
/// app called (`calls`).
public enum DakaCall: String, CaseIterable, Sendable {
    case addAttachment, beginFaceCheck, checkDraft, checkLocation, decide, enroll, enrollmentChallenge
    case identity, inbox
    case itemsNeedingAttention, leaveBalances, monthSummary, myRequests, publicKey, punch, queueStatus
    case refreshPolicy, request, requestTemplates, resubmitRequest, setStatusListener, startBackgroundSync
    case status, stopBackgroundSync, submitRequest, syncNow, today
}

/// A `DakaDeviceProtocol` in plain Swift: code that takes the protocol (not the `DakaDevice`
/// class) can be tested without a store, a key or a server. Script the `verdict`, the `queue`,
/// the sync `report`, and any `DakaError` for any call; read back `calls` and `punches`.
/// Behaves like the real device where it matters: `NotEnrolled` before enrolment, rejected
/// punches are not recorded, `syncNow` reports progress and its result to the listener.
/// The call log and scripted failures are guarded by a lock; script the other properties before
/// the code under test runs (the fake is not meant for concurrent writers).
public final class FakeDakaDevice: DakaDeviceProtocol, @unchecked Sendable {
    private let lock = NSLock()

    /// The identity; `nil` until enrolled.
    public var identityValue: Identity?
    /// What `checkLocation` and `punch` return.
    public var verdict: Verdict = FakeDaka.accepted()
    /// What `queueStatus` returns; `punch` and `syncNow` keep `pending` up to date.
    public var queue = QueueStatus(pending: 0, inFlight: 0, needsAttention: 0, oldestWaitingSeconds: nil)
    /// What `itemsNeedingAttention` returns.
    public var needingAttention: [QueuedItem] = []
    /// The report of the next `syncNow`; `nil` accepts everything queued.
    public var report: SyncReport?
    /// What `today` returns; `nil` throws `NoSchedule`.
    public var todayInfo: TodayInfo?
    /// What `monthSummary` returns, by month (`2026-12`).
    public var months: [String: MonthInfo] = [:]
    /// What `requestTemplates` returns.
    public var templates: [TemplateInfo] = []
    /// What `checkDraft` returns, and the route of queued requests.
    public var draftPreview = DraftPreview(route: [], policyVersion: 1)
    /// What `inbox`, `myRequests`, `request(requestId:)` and `leaveBalances` return.
    public var inboxItems: [RequestInfo] = []
    public var ownRequests: [RequestInfo] = []
    public var requests: [String: RequestInfo] = [:]
    public var balances: [LeaveBalance] = []
    /// Every call, in order, and every punch input.
    public private(set) var calls: [DakaCall] = []
    public private(set) var punches: [PunchInput] = []
    /// The listener the app set, and the background loop's interval while it runs.
    public private(set) var listener: StatusListener?
    public private(set) var backgroundSyncInterval: UInt32?
    /// What `status().tlsRefused` reports: `code: reason` of a refused server certificate
    /// (see `DakaError.Tls`), or `nil`. Set it to show the app's TLS-refused state.
    public var tlsRefused: String?
    /// What `publicKey` returns, and what the challenges' nonces are bound to.
    public var publicKeyText = "fake-public-key"
    /// Whether the organisation asks for attestation, as `enrollmentChallenge` reports it.
    /// Under `.required`, `enroll` without an attestation throws
    /// `Refused(code: "attestation_required")`, and one for another challenge
    /// `Refused(code: "attestation_challenge_invalid")`, as the server answers.
    public var attestationRule: AttestationRule = .off
    /// The formats `enrollmentChallenge` says the server verifies.
    public var attestationFormats = ["app_attest", "play_integrity"]
    /// Every challenge `enrollmentChallenge` issued, and the attestation `enroll` was given.
    public private(set) var challenges: [EnrollmentChallenge] = []
    public private(set) var enrolledWith: Attestation?

    private var failures: [DakaCall: [DakaError]] = [:]
    private var counter = 0

    public init(identity: Identity? = nil) {
        self.identityValue = identity
    }

    /// The next call of `call` throws `error` (several calls queue several failures).
    public func failNext(_ call: DakaCall, _ error: DakaError) {
        lock.lock(); defer { lock.unlock() }
        failures[call, default: []].append(error)
    }

    private func enter(_ call: DakaCall, needsIdentity: Bool = true) throws {
        lock.lock(); defer { lock.unlock() }
        calls.append(call)
        if var queued = failures[call], !queued.isEmpty {
            let error = queued.removeFirst()
            failures[call] = queued
            throw error
        }
        if needsIdentity && identityValue == nil { throw DakaError.NotEnrolled }
    }

    private func next(_ prefix: String) -> String {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        return "\(prefix)-\(counter)"
    }

    public func addAttachment(content: Data, mediaType: String) throws -> Attachment {
        try enter(.addAttachment)
        return Attachment(sha256: next("fake-sha256"), bytes: UInt64(content.count), mediaType: mediaType)
    }

    public func checkDraft(templateId: String, values: [String: FormValue]) throws -> DraftPreview {
        try enter(.checkDraft)
        return draftPreview
    }

    public func decide(requestId: String, action: ApprovalAction) throws -> String {
        try enter(.decide)
        return next("fake-decision")
    }

    public func inbox() async throws -> [RequestInfo] {
        try enter(.inbox)
        return inboxItems
    }

    public func leaveBalances(year: Int32?) async throws -> [LeaveBalance] {
        try enter(.leaveBalances)
        return balances
    }

    public func myRequests() async throws -> [RequestInfo] {
        try enter(.myRequests)
        return ownRequests
    }

    public func request(requestId: String) async throws -> RequestInfo {
        try enter(.request)
        guard let found = requests[requestId] else {
            throw DakaError.Refused(code: "request_not_found", reason: "no request \(requestId) on the server")
        }
        return found
    }

    public func requestTemplates() -> [TemplateInfo] {
        try? enter(.requestTemplates, needsIdentity: false)
        return templates
    }

    public func resubmitRequest(requestId: String, revision: UInt32, templateId: String, values: [String: FormValue]) throws -> QueuedRequestInfo {
        try enter(.resubmitRequest)
        return QueuedRequestInfo(requestId: requestId, revision: revision + 1, route: draftPreview.route)
    }

    public func submitRequest(templateId: String, values: [String: FormValue]) throws -> QueuedRequestInfo {
        try enter(.submitRequest)
        return QueuedRequestInfo(requestId: next("fake-request"), revision: 1, route: draftPreview.route)
    }

    public func monthSummary(month: String) throws -> MonthInfo {
        try enter(.monthSummary)
        guard let info = months[month] else { throw DakaError.NoSchedule(employee: identityValue?.employeeId ?? "") }
        return info
    }

    public func today() throws -> TodayInfo {
        try enter(.today)
        guard let info = todayInfo else { throw DakaError.NoSchedule(employee: identityValue?.employeeId ?? "") }
        return info
    }

    public func beginFaceCheck() throws -> String {
        try enter(.beginFaceCheck)
        return next("fake-nonce")
    }

    public func checkLocation(input: PunchInput) throws -> Verdict {
        try enter(.checkLocation)
        return verdict
    }

    public func enroll(serverUrl: String, code: String, deviceName: String, platform: String,
                       attestation: Attestation?) async throws -> Identity {
        try enter(.enroll, needsIdentity: false)
        if let existing = identityValue { throw DakaError.AlreadyEnrolled(deviceId: existing.deviceId) }
        if attestationRule == .required {
            guard let attestation else {
                throw DakaError.Refused(code: "attestation_required",
                                        reason: "this organisation requires a platform attestation at enrolment")
            }
            guard challenges.contains(where: { $0.challenge == attestation.challenge }) else {
                throw DakaError.Refused(code: "attestation_challenge_invalid",
                                        reason: "attestation.challenge: not a challenge issued for this enrolment")
            }
        }
        enrolledWith = attestation
        let identity = FakeDaka.identity(serverUrl: serverUrl)
        identityValue = identity
        return identity
    }

    public func enrollmentChallenge(serverUrl: String, code: String) async throws -> EnrollmentChallenge {
        try enter(.enrollmentChallenge, needsIdentity: false)
        if let existing = identityValue { throw DakaError.AlreadyEnrolled(deviceId: existing.deviceId) }
        let challenge = next("fake-challenge")
        let nonce = Data(SHA256.hash(data: Data("\(challenge)\n\(publicKeyText)".utf8)))
        let base64url = nonce.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let issued = EnrollmentChallenge(challenge: challenge, nonce: nonce, nonceBase64url: base64url,
                                         attestation: attestationRule, formats: attestationFormats,
                                         expiresAtMs: Int64(Date().timeIntervalSince1970 * 1000) + 600_000)
        challenges.append(issued)
        return issued
    }

    public func identity() -> Identity? {
        try? enter(.identity, needsIdentity: false)
        return identityValue
    }

    public func itemsNeedingAttention() throws -> [QueuedItem] {
        try enter(.itemsNeedingAttention, needsIdentity: false)
        return needingAttention
    }

    public func publicKey() -> String {
        try? enter(.publicKey, needsIdentity: false)
        return publicKeyText
    }

    public func punch(input: PunchInput) throws -> PunchReceipt {
        try enter(.punch)
        punches.append(input)
        if verdict.decision == .rejected { return PunchReceipt(verdict: verdict, recordId: nil, seq: nil) }
        queue.pending += 1
        return PunchReceipt(verdict: verdict, recordId: next("fake-punch"), seq: UInt64(punches.count))
    }

    public func queueStatus() throws -> QueueStatus {
        try enter(.queueStatus, needsIdentity: false)
        return queue
    }

    public func refreshPolicy() async throws -> UInt64 {
        try enter(.refreshPolicy)
        return 1
    }

    public func setStatusListener(listener: StatusListener?) {
        try? enter(.setStatusListener, needsIdentity: false)
        self.listener = listener
    }

    public func startBackgroundSync(intervalSeconds: UInt32) throws {
        try enter(.startBackgroundSync, needsIdentity: false)
        guard (1...86_400).contains(intervalSeconds) else {
            throw DakaError.InvalidInput(field: "intervalSeconds", value: String(intervalSeconds),
                                         reason: "must be between 1 and 86400 seconds")
        }
        backgroundSyncInterval = intervalSeconds
    }

    public func status() throws -> DeviceStatus {
        try enter(.status, needsIdentity: false)
        return DeviceStatus(enrolled: identityValue != nil, deviceId: identityValue?.deviceId,
                            employeeId: identityValue?.employeeId, policyVersion: identityValue == nil ? nil : 1,
                            queue: queue, backgroundSync: backgroundSyncInterval != nil,
                            tlsRefused: tlsRefused)
    }

    public func stopBackgroundSync() async -> UInt64 {
        try? enter(.stopBackgroundSync, needsIdentity: false)
        backgroundSyncInterval = nil
        return 0
    }

    public func syncNow() async throws -> SyncReport {
        do {
            try enter(.syncNow)
        } catch let error as DakaError {
            try? listener?.onSyncFailed(error: error)
            throw error
        }
        let total = queue.pending + queue.inFlight
        var sent: UInt64 = 0
        while sent < total {
            sent += 1
            try? listener?.onSyncProgress(sent: sent, total: total)
        }
        let result = report ?? FakeDaka.syncReport(accepted: total)
        queue = QueueStatus(pending: result.remaining, inFlight: 0, needsAttention: queue.needsAttention,
                            oldestWaitingSeconds: nil)
        try? listener?.onSyncFinished(report: result)
        return result
    }
}

/// Ready-made values for `FakeDakaDevice`.
public enum FakeDaka {
    /// An enrolled identity (employee `E1001` unless told otherwise).
    public static func identity(employeeId: String = "E1001",
                                serverUrl: String = "https://attendance.example.hk") -> Identity {
        Identity(deviceId: "fake-device-\(employeeId)", orgId: "fake-org", employeeId: employeeId, serverUrl: serverUrl)
    }

    /// A verdict with `decision` and one finding.
    public static func verdict(_ decision: Decision, code: String, severity: Severity, message: String) -> Verdict {
        Verdict(decision: decision, presence: decision == .rejected ? .outside : .inside, source: .gps,
                siteId: nil, siteName: decision == .rejected ? nil : "Causeway Bay Store", distanceToEdgeM: nil,
                accuracyM: 10, toleranceM: 20, probability: decision == .rejected ? 0 : 1,
                reasons: [Reason(code: code, severity: severity, message: message)],
                policyVersion: 1, evaluatedAtMs: 1_764_550_500_000)
    }

    /// An accepted punch (`inside_fence`).
    public static func accepted() -> Verdict {
        verdict(.accepted, code: "inside_fence", severity: .info, message: "14 m inside Causeway Bay Store")
    }

    /// A field punch for review.
    public static func fieldPunch() -> Verdict {
        verdict(.fieldPunch, code: "location_uncertain", severity: .review, message: "62 % likely at Causeway Bay Store")
    }

    /// A rejection, e.g. `outside_fence` or `mock_location`.
    public static func rejected(code: String = "outside_fence", message: String = "121 m outside Causeway Bay Store") -> Verdict {
        verdict(.rejected, code: code, severity: .reject, message: message)
    }

    /// A sync round's report.
    public static func syncReport(accepted: UInt64, remaining: UInt64 = 0) -> SyncReport {
        SyncReport(requests: accepted > 0 ? 1 : 0, accepted: accepted, duplicates: 0, rejected: 0, deferred: 0,
                   remaining: remaining, policyVersion: 1, policyUpdated: false, serverVerdicts: [],
                   requestUpdates: [], stoppedBy: nil)
    }
}
