//! The answer codes of `POST /v1/push`: why the server refused an item (`rejected`) or asks
//! for it again (`retry`), in `ItemResult::code`.
//!
//! A code is part of the protocol: a device parks a refused item under it ("needs attention")
//! and an app picks its message by it, so codes are only ever added, never renamed or reused.
//! Besides these, a punch refused by the server's own verdict is answered with the verdict's
//! first reject code ([`crate::codes::Code`], e.g. `outside_fence`), so `ItemResult::code`
//! stays a string on the wire.

use serde::{Deserialize, Serialize};

macro_rules! item_codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal; )*) => {
        /// A stable answer code for one pushed item.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ItemCode {
            $( $(#[$doc])* #[serde(rename = $text)] $variant, )*
        }

        impl ItemCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ItemCode] = &[$(ItemCode::$variant),*];

            /// The wire word, e.g. `"chain_gap"`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ItemCode::$variant => $text,)* }
            }

            /// Reads the wire word; `None` for a code this build does not know.
            pub fn parse(text: &str) -> Option<ItemCode> {
                match text { $($text => Some(ItemCode::$variant),)* _ => None }
            }
        }
    };
}

item_codes! {
    // ---- the request as a whole (answered `retry`) ------------------------------------------
    /// The request ran out of time before the server reached this item.
    ServerDeadline = "server_deadline";
    /// The database was busy; the item was not applied.
    ServerBusy = "server_busy";
    /// An earlier item of the same stream in the same request was not applied; order is kept.
    EarlierItemPending = "earlier_item_pending";

    // ---- exactly once ----------------------------------------------------------------------
    /// The item id was already used for a different item (another body or another device).
    IdConflict = "id_conflict";

    // ---- integrity of a punch --------------------------------------------------------------
    /// The item kind is not one the server takes.
    UnsupportedKind = "unsupported_kind";
    /// The body is not a valid punch record (or the item id is empty or too long).
    MalformedRecord = "malformed_record";
    /// The record, request or stream belongs to another device than the authenticated one.
    WrongDevice = "wrong_device";
    /// The device's enrolled key does not verify the signature (edited items land here).
    BadSignature = "bad_signature";
    /// The item id is not the id of the record or decision it carries.
    IdMismatch = "id_mismatch";

    // ---- the punch chain -------------------------------------------------------------------
    /// The record's seq is already used in the device's chain: the key signed two histories.
    Fork = "fork";
    /// The record's seq is beyond the next one: the missing records may still come (`retry`).
    ChainGap = "chain_gap";
    /// The record does not link to the hash of the stored record before it.
    BrokenLink = "broken_link";

    // ---- the rules on a punch --------------------------------------------------------------
    /// The record names a policy version the server does not have.
    UnknownPolicyVersion = "unknown_policy_version";
    /// The item acts for another employee than the device is enrolled for.
    WrongEmployee = "wrong_employee";
    /// The record's evidence cannot be evaluated.
    InvalidEvidence = "invalid_evidence";
    /// The server's verdict refused the punch without naming a reject reason.
    Rejected = "rejected";

    // ---- integrity of an approval item -----------------------------------------------------
    /// The body is not a valid request submission or decision.
    MalformedItem = "malformed_item";
    /// The organisation has no policy yet.
    NoPolicy = "no_policy";

    // ---- submissions -----------------------------------------------------------------------
    /// The submission was made on another policy version than the one in force.
    PolicyVersionMismatch = "policy_version_mismatch";
    /// The policy has no template with the submission's id.
    UnknownTemplate = "unknown_template";
    /// The form does not satisfy its template (every field problem is listed).
    InvalidForm = "invalid_form";
    /// No approver can be found for a step of the route.
    NoApprover = "no_approver";
    /// The route shown on the device is not the route the policy gives the form.
    RouteMismatch = "route_mismatch";
    /// A stored file is not the size the form gives it.
    AttachmentMismatch = "attachment_mismatch";
    /// Files the form refers to are not uploaded yet (`retry`).
    AttachmentMissing = "attachment_missing";
    /// The leave balance does not cover the request.
    InsufficientBalance = "insufficient_balance";
    /// The month's missed-punch corrections are used up.
    MissedPunchLimit = "missed_punch_limit";
    /// A field-punch review names a punch the employee does not have on the server.
    UnknownPunch = "unknown_punch";
    /// A field-punch review names a punch that was not recorded as a field punch.
    NotAFieldPunch = "not_a_field_punch";
    /// The punch already has a review request.
    PunchAlreadyReviewed = "punch_already_reviewed";
    /// The request exists, and this is not its next revision on the same template.
    RequestExists = "request_exists";
    /// The request is not known (a decision on it, or a later revision of it).
    UnknownRequest = "unknown_request";

    // ---- the request state machine (`approvals::ActionError`) ------------------------------
    /// The request is finished (approved, rejected or withdrawn).
    RequestFinished = "request_finished";
    /// The request is not waiting for approval.
    RequestNotPending = "request_not_pending";
    /// An applicant tried to approve their own request.
    SelfApproval = "self_approval";
    /// The actor is not an approver of the current step.
    NotCurrentApprover = "not_current_approver";
    /// The actor has already approved this step.
    AlreadyActed = "already_acted";
    /// Only the applicant may do this.
    NotApplicant = "not_applicant";
    /// The actor takes no part in the request.
    NotParticipant = "not_participant";
    /// The employee to add or transfer to cannot be.
    InvalidSigner = "invalid_signer";
    /// The comment is missing or too long.
    InvalidComment = "invalid_comment";
    /// The route has no steps.
    EmptyRoute = "empty_route";
}

impl std::fmt::Display for ItemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &code in ItemCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code text {code}");
            assert_eq!(ItemCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ItemCode>(&json).unwrap(), code);
        }
        assert_eq!(ItemCode::parse("no_such_code"), None);
    }

    /// The wire words, in declaration order: a renamed, removed or reordered code fails here.
    /// Add new codes at the end of their group and to this list.
    #[test]
    fn wire_words_are_pinned() {
        let words: Vec<&str> = ItemCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            words,
            [
                "server_deadline",
                "server_busy",
                "earlier_item_pending",
                "id_conflict",
                "unsupported_kind",
                "malformed_record",
                "wrong_device",
                "bad_signature",
                "id_mismatch",
                "fork",
                "chain_gap",
                "broken_link",
                "unknown_policy_version",
                "wrong_employee",
                "invalid_evidence",
                "rejected",
                "malformed_item",
                "no_policy",
                "policy_version_mismatch",
                "unknown_template",
                "invalid_form",
                "no_approver",
                "route_mismatch",
                "attachment_mismatch",
                "attachment_missing",
                "insufficient_balance",
                "missed_punch_limit",
                "unknown_punch",
                "not_a_field_punch",
                "punch_already_reviewed",
                "request_exists",
                "unknown_request",
                "request_finished",
                "request_not_pending",
                "self_approval",
                "not_current_approver",
                "already_acted",
                "not_applicant",
                "not_participant",
                "invalid_signer",
                "invalid_comment",
                "empty_route",
            ]
        );
    }

    /// No answer code reads as a verdict code: `ItemResult::code` carries both.
    #[test]
    fn no_code_is_also_a_verdict_code() {
        for &code in ItemCode::ALL {
            assert_eq!(crate::codes::Code::parse(code.as_str()), None, "{code}");
        }
    }
}
