// The app-side names that the Swift snippets of docs/ios.md assume, for the name check of
// scripts/check-ios.sh (not compiled: there is no Swift toolchain on the check's machine).
// Every name a snippet uses without declaring it must be declared here.
import DakaSDK
import Foundation

let databasePath: String = ""
let serverUrl: String = ""
let code: String = ""
let url: String = ""
let location: CLLocation
let bssids: [String] = []
let photoData = Data()
let refresh: DakaBackgroundRefresh
let faceMatcher: FaceMatcher
let receipt: PunchReceipt
func show(_ text: String) {}
func showProgress(_ sent: UInt64, _ total: UInt64) {}
func refreshBadge() {}
func showSyncProblem(_ error: DakaError) {}
func mark(field: String, reason: String) {}
func currentBSSIDs() async -> [String] { [] }
protocol FaceMatcher { func verify(nonce: String) async throws -> String }
final class AppDevices { static let shared = AppDevices(); var device: DakaDevice? }
