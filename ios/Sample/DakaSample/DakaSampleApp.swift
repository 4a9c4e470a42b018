// The sample app: one screen over one `ClockModel`.
import SwiftUI

@main
struct DakaSampleApp: App {
    @StateObject private var model = ClockModel()

    var body: some Scene {
        WindowGroup {
            ContentView(model: model)
        }
    }
}
