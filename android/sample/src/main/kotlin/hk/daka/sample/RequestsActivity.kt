package hk.daka.sample

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import hk.daka.sdk.ApprovalAction
import hk.daka.sdk.Attachment
import hk.daka.sdk.DakaDevice
import hk.daka.sdk.DakaException
import hk.daka.sdk.FormValue
import hk.daka.sdk.RequestInfo
import java.time.LocalDate
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * Requests: an expense claim form (amount, what it was for, a receipt photo from the gallery)
 * with its route previewed before sending, and the approver's inbox with approve / reject.
 * Everything works offline: a claim or a decision is queued and sent with the next sync.
 */
class RequestsActivity : Activity() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)
    private val main = Handler(Looper.getMainLooper())
    private lateinit var amount: EditText
    private lateinit var description: EditText
    private lateinit var receiptLine: TextView
    private lateinit var route: TextView
    private lateinit var message: TextView
    private lateinit var inbox: LinearLayout
    private var receipt: Attachment? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        amount = EditText(this).apply { hint = "Amount in HK$ (e.g. 6200.00)" }
        description = EditText(this).apply { hint = "What it was for" }
        receiptLine = TextView(this).apply { text = "No receipt yet" }
        route = TextView(this)
        message = TextView(this)
        inbox = column()
        setContentView(ScrollView(this).apply {
            addView(
                column(
                    title("Expense claim"), amount, description, receiptLine,
                    button("Attach receipt photo") { pickReceipt() },
                    button("Preview route") { preview() },
                    route,
                    button("Submit") { submit() },
                    message,
                    title("Waiting for my approval"),
                    button("Refresh inbox") { refreshInbox() },
                    inbox,
                ),
            )
        })
    }

    override fun onDestroy() {
        scope.cancel()
        super.onDestroy()
    }

    private fun device(): DakaDevice =
        (application as SampleApp).model.openDevice ?: throw DakaException.NotEnrolled()

    /** The form's values: money in minor units, never a float. */
    private fun values(): Map<String, FormValue> {
        val minor = amount.text.toString().trim().toBigDecimalOrNull()?.movePointRight(2)?.toLong()
        return buildMap {
            minor?.let { put("amount", FormValue.Money(it, "HKD")) }
            put("category", FormValue.Choice("client_entertainment"))
            put("date", FormValue.Date(LocalDate.now().toString()))
            receipt?.let { put("receipts", FormValue.Attachments(listOf(it))) }
            if (description.text.isNotBlank()) put("description", FormValue.Text(description.text.toString()))
        }
    }

    private fun pickReceipt() {
        startActivityForResult(Intent(Intent.ACTION_GET_CONTENT).setType("image/*"), PICK_RECEIPT)
    }

    @Deprecated("Framework callback; the sample uses plain Activity APIs")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        val uri = data?.data ?: return
        if (requestCode != PICK_RECEIPT || resultCode != RESULT_OK) return
        run {
            val bytes = contentResolver.openInputStream(uri)?.use { it.readBytes() } ?: return@run
            val type = contentResolver.getType(uri) ?: "image/jpeg"
            receipt = device().addAttachment(bytes, type)
            show(receiptLine, "Receipt attached (${bytes.size} bytes)")
        }
    }

    private fun preview() = run {
        val draft = device().checkDraft("expense", values())
        show(route, draft.route.joinToString("  →  ") { "${it.name}: ${it.approvers.joinToString()}" })
    }

    private fun submit() = run {
        val queued = device().submitRequest("expense", values())
        show(message, "Claim queued (${queued.requestId.take(8)}…); it is sent with the next sync.")
        scope.launch { runCatching { device().syncNow() } }
    }

    private fun refreshInbox() = scope.launch {
        run {
            val requests = device().inbox()
            main.post { renderInbox(requests) }
        }
    }

    private fun renderInbox(requests: List<RequestInfo>) {
        inbox.removeAllViews()
        if (requests.isEmpty()) inbox.addView(TextView(this).apply { text = "Nothing waiting." })
        for (r in requests) {
            inbox.addView(TextView(this).apply { text = "${r.templateId} from ${r.applicant}: ${r.formJson}" })
            inbox.addView(button("Approve") { decide(r, ApprovalAction.Approve(null)) })
            inbox.addView(button("Reject") { decide(r, ApprovalAction.Reject("Please discuss with me first")) })
        }
    }

    private fun decide(r: RequestInfo, action: ApprovalAction) = run {
        device().decide(r.requestId, action)
        show(message, "Decision queued; it is sent with the next sync.")
        scope.launch { runCatching { device().syncNow() } }
    }

    /** Runs a daka call; a `DakaException` is shown with daka's explanation. */
    private inline fun run(block: () -> Unit) {
        try {
            block()
        } catch (e: DakaException) {
            show(message, ClockModel.describe(e))
        }
    }

    private fun show(view: TextView, text: String) = main.post { view.text = text }

    private fun title(text: String) = TextView(this).apply {
        this.text = text
        textSize = 20f
    }

    private fun column(vararg views: View) = LinearLayout(this).apply {
        orientation = LinearLayout.VERTICAL
        setPadding(32, 32, 32, 32)
        views.forEach(::addView)
    }

    private fun button(label: String, onClick: () -> Unit) = Button(this).apply {
        text = label
        setOnClickListener { onClick() }
    }

    private companion object {
        const val PICK_RECEIPT = 2
    }
}
