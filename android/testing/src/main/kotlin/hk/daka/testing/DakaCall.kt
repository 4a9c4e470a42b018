package hk.daka.testing

/**
 * The methods of `DakaDeviceInterface`, to say which call of a [FakeDakaDevice] should fail
 * ([FakeDakaDevice.failNext]) and to read what the app called ([FakeDakaDevice.calls]).
 * A test of this artifact checks that the list matches the generated interface exactly.
 */
enum class DakaCall(
    /** The Kotlin name of the method. */
    val method: String,
) {
    /** `addAttachment`. */ ADD_ATTACHMENT("addAttachment"),
    /** `beginFaceCheck`. */ BEGIN_FACE_CHECK("beginFaceCheck"),
    /** `checkDraft`. */ CHECK_DRAFT("checkDraft"),
    /** `checkLocation`. */ CHECK_LOCATION("checkLocation"),
    /** `decide`. */ DECIDE("decide"),
    /** `enroll`. */ ENROLL("enroll"),
    /** `enrollmentChallenge`. */ ENROLLMENT_CHALLENGE("enrollmentChallenge"),
    /** `identity`. */ IDENTITY("identity"),
    /** `inbox`. */ INBOX("inbox"),
    /** `itemsNeedingAttention`. */ ITEMS_NEEDING_ATTENTION("itemsNeedingAttention"),
    /** `leaveBalances`. */ LEAVE_BALANCES("leaveBalances"),
    /** `monthSummary`. */ MONTH_SUMMARY("monthSummary"),
    /** `myRequests`. */ MY_REQUESTS("myRequests"),
    /** `publicKey`. */ PUBLIC_KEY("publicKey"),
    /** `punch`. */ PUNCH("punch"),
    /** `queueStatus`. */ QUEUE_STATUS("queueStatus"),
    /** `refreshPolicy`. */ REFRESH_POLICY("refreshPolicy"),
    /** `request`. */ REQUEST("request"),
    /** `requestTemplates`. */ REQUEST_TEMPLATES("requestTemplates"),
    /** `resubmitRequest`. */ RESUBMIT_REQUEST("resubmitRequest"),
    /** `setStatusListener`. */ SET_STATUS_LISTENER("setStatusListener"),
    /** `startBackgroundSync`. */ START_BACKGROUND_SYNC("startBackgroundSync"),
    /** `status`. */ STATUS("status"),
    /** `stopBackgroundSync`. */ STOP_BACKGROUND_SYNC("stopBackgroundSync"),
    /** `submitRequest`. */ SUBMIT_REQUEST("submitRequest"),
    /** `syncNow`. */ SYNC_NOW("syncNow"),
    /** `today`. */ TODAY("today"),
}
