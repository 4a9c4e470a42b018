// Requests: an expense claim form (amount, what it was for, a receipt photo) with its route
// previewed before sending, and the approver's inbox with approve / reject. Claims and
// decisions are queued offline and sent with the next sync.
import DakaSDK
import PhotosUI
import SwiftUI

struct RequestsView: View {
    let device: DakaDevice?
    @State private var amount = ""
    @State private var purpose = ""
    @State private var photo: PhotosPickerItem?
    @State private var receipt: Attachment?
    @State private var route = ""
    @State private var message = ""
    @State private var inbox: [RequestInfo] = []

    var body: some View {
        Form {
            Section("Expense claim") {
                TextField("Amount in HK$ (e.g. 6200.00)", text: $amount).keyboardType(.decimalPad)
                TextField("What it was for", text: $purpose)
                PhotosPicker(receipt == nil ? "Attach receipt photo" : "Receipt attached", selection: $photo, matching: .images)
                Button("Preview route") { run { route = try preview() } }
                if !route.isEmpty { Text(route) }
                Button("Submit") { run { try submit() } }
            }
            Section("Waiting for my approval") {
                Button("Refresh inbox") { Task { await refreshInbox() } }
                ForEach(inbox, id: \.requestId) { r in
                    VStack(alignment: .leading) {
                        Text("\(r.templateId) from \(r.applicant)")
                        HStack {
                            Button("Approve") { run { try decide(r, .approve(comment: nil)) } }
                            Button("Reject") { run { try decide(r, .reject(comment: "Please discuss with me first")) } }
                        }
                    }
                }
            }
            if !message.isEmpty { Section { Text(message) } }
        }
        .onChange(of: photo) { _, item in
            Task {
                guard let data = try? await item?.loadTransferable(type: Data.self), let device else { return }
                run { receipt = try device.addAttachment(content: data, mediaType: "image/jpeg") }
            }
        }
    }

    /// The form's values: money in minor units, never a float.
    private func values() -> [String: FormValue] {
        var values: [String: FormValue] = [
            "category": .choice(value: "client_entertainment"),
            "date": .date(value: ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withFullDate])),
        ]
        if let minor = Decimal(string: amount).map({ NSDecimalNumber(decimal: $0 * 100).int64Value }) {
            values["amount"] = .money(minor: minor, currency: "HKD")
        }
        if let receipt { values["receipts"] = .attachments(files: [receipt]) }
        if !purpose.isEmpty { values["description"] = .text(value: purpose) }
        return values
    }

    private func requireDevice() throws -> DakaDevice {
        guard let device else { throw DakaError.NotEnrolled }
        return device
    }

    private func preview() throws -> String {
        let draft = try requireDevice().checkDraft(templateId: "expense", values: values())
        return draft.route.map { "\($0.name): \($0.approvers.joined(separator: ", "))" }.joined(separator: "  →  ")
    }

    private func submit() throws {
        let queued = try requireDevice().submitRequest(templateId: "expense", values: values())
        message = "Claim queued (\(queued.requestId.prefix(8))…); it is sent with the next sync."
        Task { _ = try? await device?.syncNow() }
    }

    private func decide(_ r: RequestInfo, _ action: ApprovalAction) throws {
        _ = try requireDevice().decide(requestId: r.requestId, action: action)
        message = "Decision queued; it is sent with the next sync."
        Task { _ = try? await device?.syncNow() }
    }

    private func refreshInbox() async {
        do {
            inbox = try await requireDevice().inbox()
        } catch let error as DakaError {
            message = ClockModel.describe(error)
        } catch {
            message = "\(error)"
        }
    }

    /// Runs a daka call; a `DakaError` is shown with daka's explanation.
    private func run(_ block: () throws -> Void) {
        do {
            try block()
        } catch let error as DakaError {
            message = ClockModel.describe(error)
        } catch {
            message = "\(error)"
        }
    }
}
