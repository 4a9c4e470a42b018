// The sample's model: owns the DakaDevice and publishes what the screen shows.
import DakaSDK
import Foundation
import UIKit

@MainActor
final class ClockModel: ObservableObject {
    @Published private(set) var enrolled = false
    @Published private(set) var status = "opening…"
    @Published private(set) var queue = ""
    @Published private(set) var lastVerdict = ""
    @Published private(set) var error: String?
    @Published private(set) var busy = false

    /// The open device, for the requests screen (nil while it opens).
    private(set) var device: DakaDevice?
    private let fixes = FixSource()

    /// Opens the device store (Secure Enclave key store where there is one) and starts sync.
    func start() async {
        fixes.start()
        await call {
            guard self.device == nil else { return }
            // A directory of its own, excluded from backups: daka.db with its -wal and -shm files.
            var dir = try FileManager.default
                .url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
                .appendingPathComponent("daka", isDirectory: true)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            var values = URLResourceValues()
            values.isExcludedFromBackup = true
            try dir.setResourceValues(values)
            let path = dir.appendingPathComponent("daka.db").path
            // No Secure Enclave in the simulator: the key is then stored unprotected (demo only).
            let keyStore: KeyStore? = SecureEnclaveKeyStore.isAvailable ? SecureEnclaveKeyStore() : nil
            let device = try DakaDevice.open(path: path, keyStore: keyStore)
            device.setStatusListener(listener: SyncObserver(model: self))
            self.device = device
            if device.identity() != nil {
                try device.startBackgroundSync(intervalSeconds: 300)
            }
        }
    }

    func enroll(serverUrl: String, code: String) async {
        await call {
            let device = try self.requireDevice()
            let identity = try await device.enroll(
                serverUrl: serverUrl, code: code, deviceName: UIDevice.current.name, platform: "ios")
            try device.startBackgroundSync(intervalSeconds: 300)
            self.lastVerdict = "Enrolled as \(identity.employeeId)"
        }
    }

    /// Clocks in or out with the latest fix and the current Wi-Fi. A face check would add
    /// `faceNonce: try device.beginFaceCheck()` and the matcher's token for that nonce.
    func punch(_ kind: PunchKind) async {
        await call {
            let device = try self.requireDevice()
            let bssids = await currentBSSIDs()
            let input = PunchInput(kind: kind, fix: self.fixes.fix, wifiBssids: bssids, faceToken: nil, faceNonce: nil)
            // A blocking call (a durable SQLite commit): off the main actor, which this model is on.
            let receipt = try await Task.detached { try device.punch(input: input) }.value
            let title: String
            switch receipt.verdict.decision {
            case .accepted: title = "Recorded (#\(receipt.seq ?? 0))"
            case .fieldPunch: title = "Recorded as a field punch, for review (#\(receipt.seq ?? 0))"
            case .rejected: title = "Not recorded"
            }
            self.lastVerdict = ([title] + receipt.verdict.reasons.map { "• \($0.message) [\($0.code)]" })
                .joined(separator: "\n")
        }
    }

    func syncNow() async {
        await call { _ = try await self.requireDevice().syncNow() }
    }

    /// Called by `SyncObserver` after a background round.
    func refresh() async { await call {} }

    fileprivate func show(error: DakaError) {
        self.error = Self.describe(error)
    }

    private func requireDevice() throws -> DakaDevice {
        guard let device else { throw DakaError.Internal(reason: "the device store is not open") }
        return device
    }

    /// Runs a daka call, then re-reads the status; a `DakaError` becomes the error line.
    private func call(_ work: () async throws -> Void) async {
        busy = true
        error = nil
        do {
            try await work()
        } catch let e as DakaError {
            error = Self.describe(e)
        } catch {
            self.error = error.localizedDescription
        }
        if let s = try? device?.status() {
            enrolled = s.enrolled
            status = s.enrolled
                ? "Employee \(s.employeeId ?? "?") · device \(s.deviceId ?? "?") · policy v\(s.policyVersion.map(String.init) ?? "-")"
                : "Not enrolled"
            queue = "Waiting to send: \(s.queue.pending + s.queue.inFlight)"
                + (s.queue.needsAttention > 0 ? " · needs attention: \(s.queue.needsAttention)" : "")
        }
        busy = false
    }

    /// What to tell the user for each error, and what the app does about it.
    static func describe(_ error: DakaError) -> String {
        switch error {
        case .NotEnrolled: return "Enrol this phone with a code from your administrator."
        case let .AlreadyEnrolled(deviceId): return "Already enrolled (device \(deviceId))."
        case .NoPolicy: return "Connect to the network once to fetch your company's rules."
        case let .NoSchedule(employee): return "No work schedule is set for you (\(employee)); ask HR."
        case let .InvalidInput(field, _, reason): return "Invalid \(field): \(reason)"
        case let .QueueFull(queued, _): return "\(queued) punches are waiting; connect to the network."
        case .Offline: return "Offline: punches stay queued and are sent later."
        case .Unavailable: return "The phone could not do this just now; try again."
        case let .Tls(code, _): return "The server's certificate was refused (\(code)); tell your IT department. Punches stay queued."
        case let .ServerBusy(retryAfterSeconds):
            return "Server busy; retrying " + (retryAfterSeconds.map { "in \($0) s" } ?? "later")
        case let .Unauthorized(reason): return "This phone was signed out (\(reason)); enrol again."
        case .DeviceRevoked:
            return "HR revoked this phone. Ask HR for a new enrolment code and enrol again; punches not yet sent stay on the phone."
        case let .Refused(code, reason): return "Refused (\(code)): \(reason)"
        case let .BadPolicy(reason): return "The company rules could not be used: \(reason)"
        case let .Storage(reason): return "Storage problem: \(reason)"
        case let .KeyStore(reason): return "The device key is unusable: \(reason). Enrol again."
        case let .InvalidForm(problems):
            return problems.map { "\($0.field): \($0.reason)" }.joined(separator: "\n")
        case let .NoApprover(reason): return "Nobody can approve this request: \(reason). Ask your administrator."
        case let .Internal(reason): return "Internal error, please report: \(reason)"
        }
    }
}

/// Hears sync rounds on daka's threads and hands them to the model on the main actor.
/// `@unchecked Sendable`: its one property is a weak reference, only ever dereferenced on the
/// main actor.
final class SyncObserver: StatusListener, @unchecked Sendable {
    private weak var model: ClockModel?

    init(model: ClockModel) { self.model = model }

    func onSyncProgress(sent: UInt64, total: UInt64) throws {}

    func onSyncFinished(report: SyncReport) throws {
        Task { @MainActor [weak model] in await model?.refresh() }
    }

    func onSyncFailed(error: DakaError) throws {
        Task { @MainActor [weak model] in model?.show(error: error) }
    }
}
