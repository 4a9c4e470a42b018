// The one hand-written addition to the generated API: a CoreLocation fix as daka's `Fix`.
import CoreLocation

extension Fix {
    /// `location` as daka's `Fix`, or `nil` when it has no valid horizontal accuracy (daka cannot
    /// judge a position whose uncertainty is unknown). Accuracy is already metres at 68 %
    /// confidence. iOS gives no monotonic timestamp for a fix, so `monotonicMs` stays `nil`.
    public init?(_ location: CLLocation) {
        guard location.horizontalAccuracy >= 0 else { return nil }
        var simulated = false
        if #available(iOS 15.0, *) {
            simulated = location.sourceInformation?.isSimulatedBySoftware ?? false
        }
        self.init(
            lat: location.coordinate.latitude,
            lon: location.coordinate.longitude,
            accuracyM: location.horizontalAccuracy,
            timeMs: Int64((location.timestamp.timeIntervalSince1970 * 1000).rounded()),
            monotonicMs: nil,
            mock: simulated,
            provider: "corelocation"
        )
    }
}
