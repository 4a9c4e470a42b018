// The platform evidence for a punch: CoreLocation fixes and the current Wi-Fi BSSID.
import CoreLocation
import DakaSDK
import NetworkExtension

/// Keeps the freshest CoreLocation fix while the screen is visible.
final class FixSource: NSObject, CLLocationManagerDelegate {
    private let manager = CLLocationManager()
    private var latest: CLLocation?

    /// The latest fix as daka's `Fix`, if there is one with a valid accuracy.
    var fix: Fix? { latest.flatMap { Fix($0) } }

    override init() {
        super.init()
        manager.delegate = self
        manager.desiredAccuracy = kCLLocationAccuracyBest
    }

    /// Asks for "when in use" permission (with precise location) and starts updates.
    func start() {
        manager.requestWhenInUseAuthorization()
        manager.startUpdatingLocation()
    }

    func locationManager(_ manager: CLLocationManager, didUpdateLocations locations: [CLLocation]) {
        latest = locations.last
    }

    func locationManager(_ manager: CLLocationManager, didFailWithError error: Error) {
        // Keep the last fix; daka judges its age and accuracy.
    }
}

/// The BSSID of the Wi-Fi network the phone is joined to. iOS gives no scan results to apps:
/// `NEHotspotNetwork.fetchCurrent` returns the current network only, and only to apps with the
/// "Access Wi-Fi Information" entitlement and location permission; otherwise `[]`.
func currentBSSIDs() async -> [String] {
    await withCheckedContinuation { continuation in
        NEHotspotNetwork.fetchCurrent { network in
            continuation.resume(returning: network.map { [$0.bssid] } ?? [])
        }
    }
}
