// The one screen: status, enrolment (until enrolled), clock in / out, the queue count and the
// last verdict with daka's explanation. All logic is in ClockModel.
import DakaSDK
import SwiftUI

struct ContentView: View {
    @ObservedObject var model: ClockModel
    @State private var serverUrl = ""
    @State private var code = ""

    var body: some View {
        NavigationStack { form }
            .task { await model.start() }
    }

    private var form: some View {
        Form {
            Section("Status") {
                Text(model.status)
                Text(model.queue)
            }
            if !model.enrolled {
                Section("Enrol") {
                    TextField("Server URL (https://…)", text: $serverUrl)
                        .textInputAutocapitalization(.never)
                    TextField("Enrolment code", text: $code)
                    Button("Enrol") { Task { await model.enroll(serverUrl: serverUrl, code: code) } }
                }
            }
            Section {
                Button("Clock in") { Task { await model.punch(.in) } }
                Button("Clock out") { Task { await model.punch(.out) } }
                Button("Send now") { Task { await model.syncNow() } }
            }
            .disabled(!model.enrolled || model.busy)
            Section {
                NavigationLink("Requests and approvals") { RequestsView(device: model.device) }
            }
            .disabled(!model.enrolled)
            if !model.lastVerdict.isEmpty {
                Section("Last punch") { Text(model.lastVerdict) }
            }
            if let error = model.error {
                Section { Text(error).foregroundStyle(.red) }
            }
        }
    }
}
