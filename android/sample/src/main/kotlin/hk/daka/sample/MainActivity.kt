package hk.daka.sample

import android.Manifest
import android.app.Activity
import android.content.pm.PackageManager
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import hk.daka.sdk.PunchKind

/**
 * The one screen: status, enrolment (until enrolled), clock in / out, the queue count and the
 * last verdict with daka's explanation. Views are built in code to keep the sample to plain
 * framework classes; all logic is in [ClockModel], the platform evidence in [PlatformInputs].
 */
class MainActivity : Activity() {
    private lateinit var model: ClockModel
    private lateinit var inputs: PlatformInputs
    private var inputsStarted = false

    private lateinit var status: TextView
    private lateinit var queue: TextView
    private lateinit var verdict: TextView
    private lateinit var error: TextView
    private lateinit var enrolment: LinearLayout
    private lateinit var serverUrl: EditText
    private lateinit var code: EditText
    private lateinit var clockIn: Button
    private lateinit var clockOut: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        model = (application as SampleApp).model
        inputs = PlatformInputs(this)

        status = TextView(this)
        queue = TextView(this)
        verdict = TextView(this)
        error = TextView(this).apply { setTextColor(0xFFB00020.toInt()) }
        serverUrl = EditText(this).apply { hint = "Server URL (https://…)" }
        code = EditText(this).apply { hint = "Enrolment code" }
        enrolment = column(serverUrl, code, button("Enrol") {
            model.enroll(serverUrl.text.toString(), code.text.toString())
        })
        clockIn = button("Clock in") { punch(PunchKind.IN) }
        clockOut = button("Clock out") { punch(PunchKind.OUT) }
        val sync = button("Send now") { model.syncNow() }
        val requests = button("Requests and approvals") {
            startActivity(android.content.Intent(this, RequestsActivity::class.java))
        }

        setContentView(ScrollView(this).apply {
            addView(column(status, enrolment, clockIn, clockOut, queue, sync, requests, verdict, error))
        })
    }

    override fun onStart() {
        super.onStart()
        model.onState = ::render
        val missing = requiredPermissions().filter {
            checkSelfPermission(it) != PackageManager.PERMISSION_GRANTED
        }
        if (missing.isEmpty()) startInputs() else requestPermissions(missing.toTypedArray(), REQUEST_PERMISSIONS)
        model.refresh()
    }

    override fun onStop() {
        model.onState = null
        if (inputsStarted) inputs.stop()
        inputsStarted = false
        super.onStop()
    }

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        super.onRequestPermissionsResult(requestCode, permissions, grantResults)
        if (requestCode == REQUEST_PERMISSIONS && checkSelfPermission(Manifest.permission.ACCESS_FINE_LOCATION) ==
            PackageManager.PERMISSION_GRANTED
        ) {
            startInputs()
        } else {
            error.text = "Precise location is needed to clock in at a site."
        }
    }

    private fun startInputs() {
        if (!inputsStarted) inputs.start()
        inputsStarted = true
    }

    private fun punch(kind: PunchKind) {
        model.punch(kind, inputs.fix, inputs.wifiBssids)
        inputs.scanNow()
    }

    private fun render(state: ScreenState) {
        status.text = state.status
        queue.text = state.queue
        verdict.text = state.lastVerdict
        error.text = state.error ?: ""
        enrolment.visibility = if (state.enrolled) View.GONE else View.VISIBLE
        for (b in listOf(clockIn, clockOut)) b.isEnabled = state.enrolled && !state.busy
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

    private fun requiredPermissions(): List<String> = buildList {
        add(Manifest.permission.ACCESS_FINE_LOCATION)
        add(Manifest.permission.ACCESS_COARSE_LOCATION)
    }

    private companion object {
        const val REQUEST_PERMISSIONS = 1
    }
}
