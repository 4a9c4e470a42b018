// Background sync on iOS: a `BGAppRefreshTask` that runs one `syncNow()` round on the app's
// one device, ends the round's wait when iOS says the time is up, and always asks for the next
// refresh.
import BackgroundTasks
import Foundation

/// Schedules and handles daka's background refresh.
///
/// ```swift
/// // In application(_:didFinishLaunchingWithOptions:), before it returns:
/// let refresh = DakaBackgroundRefresh { AppDevices.shared.device }
/// refresh.register()
/// // When the app moves to the background (and after enrolment):
/// refresh.schedule()
/// ```
///
/// The app's Info.plist needs `UIBackgroundModes` with `fetch` and the identifier in
/// `BGTaskSchedulerPermittedIdentifiers` (docs/ios.md). iOS decides when, and whether, a
/// refresh runs (typically around 30 seconds of time when it does); queued punches wait on disk
/// in the meantime. The round's `onSyncProgress` / `onSyncFinished` / `onSyncFailed` go to the
/// `StatusListener` set on the same device, as for any round.
public final class DakaBackgroundRefresh: @unchecked Sendable {
    /// The task identifier used unless the app passes its own.
    public static let defaultIdentifier = "hk.daka.sync.refresh"

    /// The `BGTaskSchedulerPermittedIdentifiers` entry this helper registers.
    public let identifier: String
    /// The earliest next refresh after the previous one (iOS may run it much later).
    public let interval: TimeInterval
    private let device: @Sendable () -> DakaDeviceProtocol?

    /// `device` returns the app's one device, or `nil` while it is not open or not enrolled
    /// (then the task completes at once and schedules the next one).
    public init(identifier: String = DakaBackgroundRefresh.defaultIdentifier,
                interval: TimeInterval = 15 * 60,
                device: @escaping @Sendable () -> DakaDeviceProtocol?) {
        self.identifier = identifier
        self.interval = interval
        self.device = device
    }

    /// Registers the launch handler. Call it once, before the app finishes launching.
    @discardableResult
    public func register() -> Bool {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            guard let refresh = task as? BGAppRefreshTask else {
                task.setTaskCompleted(success: false)
                return
            }
            self.handle(refresh)
        }
    }

    /// Asks iOS for the next refresh, no earlier than `interval` from now. A pending request
    /// with the same identifier is replaced. Errors (the identifier is not permitted, background
    /// refresh is off for the app) are returned, not thrown: the app can log them.
    @discardableResult
    public func schedule() -> Error? {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: interval)
        do {
            try BGTaskScheduler.shared.submit(request)
            return nil
        } catch {
            return error
        }
    }

    /// Runs one round for `task`: schedules the next refresh first, then `syncNow()`. When iOS
    /// expires the task, the waiting Swift task is cancelled and the task is completed as
    /// failed at once; the round itself finishes inside daka (nothing is left in flight) or
    /// is picked up by the next round.
    func handle(_ task: BGAppRefreshTask) {
        schedule()
        let completion = Completion(task)
        guard let device = device(), device.identity() != nil else {
            completion.finish(success: true)
            return
        }
        let work = Task {
            do {
                let report = try await device.syncNow()
                completion.finish(success: report.remaining == 0)
            } catch {
                completion.finish(success: false)
            }
        }
        task.expirationHandler = {
            work.cancel()
            completion.finish(success: false)
        }
    }

    /// Completes a background task exactly once, whichever of the round and the expiry comes first.
    private final class Completion: @unchecked Sendable {
        private let lock = NSLock()
        private var task: BGTask?

        init(_ task: BGTask) { self.task = task }

        func finish(success: Bool) {
            lock.lock()
            let pending = task
            task = nil
            lock.unlock()
            pending?.setTaskCompleted(success: success)
        }
    }
}
