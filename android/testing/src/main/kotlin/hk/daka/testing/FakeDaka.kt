package hk.daka.testing

import hk.daka.sdk.Decision
import hk.daka.sdk.Identity
import hk.daka.sdk.LocationSource
import hk.daka.sdk.Presence
import hk.daka.sdk.Reason
import hk.daka.sdk.Severity
import hk.daka.sdk.SyncReport
import hk.daka.sdk.Verdict

/**
 * Ready-made values for [FakeDakaDevice]: identities, verdicts and sync reports shaped like the
 * real device's, so that a test states only what matters to it.
 */
object FakeDaka {
    /** An enrolled identity (employee `E1001` unless told otherwise). */
    fun identity(
        employeeId: String = "E1001",
        serverUrl: String = "https://attendance.example.hk",
    ): Identity = Identity(deviceId = "fake-device-$employeeId", orgId = "fake-org", employeeId = employeeId, serverUrl = serverUrl)

    /** A verdict with [decision] and [reasons], inside [siteName] by GPS unless rejected. */
    fun verdict(
        decision: Decision,
        reasons: List<Reason>,
        siteName: String? = "Causeway Bay Store",
    ): Verdict = Verdict(
        decision = decision,
        presence = if (decision == Decision.REJECTED) Presence.OUTSIDE else Presence.INSIDE,
        source = LocationSource.GPS,
        siteId = siteName?.let { "site-" + it.lowercase().replace(' ', '-') },
        siteName = siteName,
        distanceToEdgeM = null,
        accuracyM = 10.0,
        toleranceM = 20.0,
        probability = if (decision == Decision.REJECTED) 0.0 else 1.0,
        reasons = reasons,
        policyVersion = 1u,
        evaluatedAtMs = 1_764_550_500_000,
    )

    /** An accepted punch: `inside_fence`. */
    fun accepted(message: String = "14 m inside Causeway Bay Store"): Verdict =
        verdict(Decision.ACCEPTED, listOf(Reason("inside_fence", Severity.INFO, message)))

    /** A field punch for review, with the finding that sent it there. */
    fun fieldPunch(code: String = "location_uncertain", message: String = "62 % likely at Causeway Bay Store"): Verdict =
        verdict(Decision.FIELD_PUNCH, listOf(Reason(code, Severity.REVIEW, message)))

    /** A rejection with one finding, e.g. `outside_fence` or `mock_location`. */
    fun rejected(code: String = "outside_fence", message: String = "121 m outside Causeway Bay Store"): Verdict =
        verdict(Decision.REJECTED, listOf(Reason(code, Severity.REJECT, message)), siteName = null)

    /** A sync round's report: [accepted] items taken, [remaining] still queued. */
    fun syncReport(accepted: ULong, remaining: ULong = 0u): SyncReport = SyncReport(
        requests = if (accepted > 0u) 1u else 0u,
        accepted = accepted,
        duplicates = 0u,
        rejected = 0u,
        deferred = 0u,
        remaining = remaining,
        policyVersion = 1u,
        policyUpdated = false,
        serverVerdicts = emptyList(),
        requestUpdates = emptyList(),
        stoppedBy = null,
    )
}
