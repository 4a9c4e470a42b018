//! The console's words: one string table per language, looked up by key, and how a request's
//! language is chosen.
//!
//! Every key is in both tables (a test checks it); a key missing from one at run time shows
//! the key itself, never a panic. Strings are plain text: templates escape them.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Traditional Chinese (繁體中文), as written in Hong Kong and Taiwan.
    ZhHant,
}

impl Lang {
    /// The BCP 47 tag, as the `lang` attribute, the `?lang=` parameter and the `daka_lang`
    /// cookie give it: `en` or `zh-Hant`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhHant => "zh-Hant",
        }
    }

    /// Reads a tag exactly as [`Lang::tag`] writes it.
    pub fn parse(tag: &str) -> Option<Lang> {
        match tag {
            "en" => Some(Lang::En),
            "zh-Hant" => Some(Lang::ZhHant),
            _ => None,
        }
    }

    /// The other language, for the switch link.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::ZhHant,
            Lang::ZhHant => Lang::En,
        }
    }

    /// The string table.
    fn table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::En => EN,
            Lang::ZhHant => ZH_HANT,
        }
    }

    /// The text of `key`; the key itself when the table lacks it.
    pub fn t(self, key: &str) -> &'static str {
        self.table()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| {
                Lang::En
                    .table()
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or("?", |(_, v)| *v)
            })
    }
}

/// The language `Accept-Language` asks for: Chinese written in traditional characters
/// (`zh-HK`, `zh-TW`, `zh-MO`, `zh-Hant…`) is `zh-Hant`; anything else, or nothing, is `None`.
/// Tags are taken in the header's order of preference (`q` values).
pub fn from_accept_language(headers: &HeaderMap) -> Option<Lang> {
    let header = headers.get(ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut tags: Vec<(f32, usize, String)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().find_map(|(_, _, tag)| {
        if tag.starts_with("en") {
            Some(Lang::En)
        } else if tag == "zh-hk"
            || tag == "zh-tw"
            || tag == "zh-mo"
            || tag.starts_with("zh-hant")
            || tag.starts_with("zh-hk-")
            || tag.starts_with("zh-tw-")
        {
            Some(Lang::ZhHant)
        } else {
            None
        }
    })
}

/// English.
pub(crate) const EN: &[(&str, &str)] = &[
    ("app.name", "daka console"),
    ("nav.skip", "Skip to main content"),
    ("nav.today", "Today"),
    ("lang.switch", "繁體中文"),
    ("header.signed_in_as", "Signed in as"),
    ("header.sign_out", "Sign out"),
    ("header.sign_out_everywhere", "Sign out everywhere"),
    ("login.title", "Sign in"),
    ("login.heading", "Sign in to the attendance console"),
    ("login.email", "Email"),
    ("login.password", "Password"),
    ("login.submit", "Sign in"),
    ("login.failed", "The email or password is not correct."),
    (
        "login.limited",
        "Too many failed sign-ins. Wait a few minutes and try again.",
    ),
    ("login.signed_out", "You are signed out."),
    (
        "login.hint",
        "Use the account your HR administrator created for you.",
    ),
    ("forbidden.title", "Request refused"),
    (
        "forbidden.csrf",
        "This form has expired or did not come from this console. Go back, reload the page and try again.",
    ),
    ("forbidden.back", "Back to sign in"),
    ("today.title", "Today"),
    ("today.heading", "Attendance today"),
    ("today.date", "Date"),
    ("today.summary", "Summary"),
    ("today.present", "Present"),
    ("today.late", "Late"),
    ("today.not_in", "Not in"),
    ("today.on_leave", "On leave"),
    ("today.col.site", "Site"),
    ("today.col.employee_id", "Employee ID"),
    ("today.col.name", "Name"),
    ("today.col.status", "Status"),
    ("today.col.first_in", "First clock-in"),
    ("today.empty", "No employees to show."),
    ("today.no_policy", "No policy is published yet."),
    ("status.clocked_in", "Clocked in"),
    ("status.late", "Late"),
    ("status.minutes", "min"),
    ("status.not_yet_in", "Not yet in"),
    ("status.missing_clock_out", "Missing clock-out"),
    ("status.on_leave", "On leave"),
    ("status.rest_day", "Rest day"),
    ("status.holiday", "Holiday"),
    ("status.absent", "Absent"),
    ("status.not_scheduled", "Not scheduled"),
    ("role.hr_admin", "HR administrator"),
    ("role.manager", "Manager"),
    ("role.finance", "Finance"),
    ("role.auditor", "Auditor"),
    ("approvals.nav", "Approvals"),
    ("approvals.title", "Approvals"),
    ("approvals.heading", "Approvals"),
    (
        "approvals.lead.all",
        "Requests waiting for you, and every pending request of the organisation (read only unless you are the approver).",
    ),
    (
        "approvals.lead.team",
        "Requests waiting for you, and the pending requests of your team.",
    ),
    ("approvals.empty", "Nothing is waiting for approval."),
    ("approvals.applicant", "Applicant"),
    ("approvals.type", "Type"),
    ("approvals.submitted", "Submitted"),
    ("approvals.files", "Receipts and files"),
    ("approvals.receipt", "Receipt"),
    ("approvals.download", "Download file"),
    ("approvals.route", "Route"),
    ("approvals.approved_by", "approved by"),
    ("approvals.trail", "History"),
    (
        "approvals.signed_by_server",
        "signed by the server for console account",
    ),
    (
        "approvals.signed_by_device",
        "signed by the employee's device",
    ),
    (
        "approvals.comment",
        "Comment (required to reject or return)",
    ),
    ("approvals.action.approve", "Approve"),
    ("approvals.action.reject", "Reject"),
    ("approvals.action.return", "Return for changes"),
    ("approvals.action.comment", "Comment only"),
    ("approvals.action.add_signer", "Add a signer"),
    ("approvals.action.transfer", "Transfer"),
    ("approvals.more", "Add a signer or transfer"),
    ("approvals.employee", "Employee"),
    ("approvals.choose", "Choose an employee"),
    ("approvals.position", "Where the new signer goes"),
    ("approvals.position.before", "Before me"),
    ("approvals.position.after", "After me (I approve now)"),
    ("approvals.status.pending", "Pending"),
    ("approvals.status.approved", "Approved"),
    ("approvals.status.rejected", "Rejected"),
    ("approvals.status.returned", "Returned"),
    ("approvals.status.withdrawn", "Withdrawn"),
    ("approvals.type.expense", "Expense claim"),
    ("approvals.type.leave", "Leave"),
    ("approvals.type.missed_punch", "Missed punch"),
    ("approvals.type.field_punch_review", "Field punch review"),
    ("approvals.type.overtime", "Overtime"),
    ("approvals.type.general", "General"),
    (
        "approvals.done.approve",
        "Approved. The decision is signed by the server and recorded with your account.",
    ),
    (
        "approvals.done.reject",
        "Rejected. The decision is signed by the server and recorded with your account.",
    ),
    ("approvals.done.return", "Returned to the applicant."),
    ("approvals.done.add_signer", "Signer added."),
    ("approvals.done.transfer", "Transferred."),
    ("approvals.done.comment", "Comment added."),
    (
        "approvals.error.self_approval",
        "Refused: nobody approves their own request.",
    ),
    (
        "approvals.error.not_current_approver",
        "Refused: you are not an approver of the current step (it may have been decided already).",
    ),
    (
        "approvals.error.already_acted",
        "Refused: you have already approved this step.",
    ),
    (
        "approvals.error.request_finished",
        "Refused: the request is already finished.",
    ),
    (
        "approvals.error.request_not_pending",
        "Refused: the request is not waiting for approval.",
    ),
    (
        "approvals.error.not_applicant",
        "Refused: only the applicant may do this.",
    ),
    (
        "approvals.error.not_participant",
        "Refused: you take no part in this request.",
    ),
    (
        "approvals.error.invalid_signer",
        "Employee: this employee cannot be added or take over (the applicant, unknown, or already an approver).",
    ),
    (
        "approvals.error.invalid_comment",
        "Comment: required to reject, return or comment; at most 2,000 characters, no control characters.",
    ),
    (
        "approvals.error.empty_route",
        "Refused: the route has no steps.",
    ),
    (
        "approvals.error.no_approver",
        "Refused: the policy gives this review no approver.",
    ),
    (
        "approvals.error.invalid_form",
        "Refused: the review form is not valid under the policy.",
    ),
    (
        "approvals.error.punch_already_reviewed",
        "Refused: this punch already has a review.",
    ),
    (
        "approvals.error.not_a_field_punch",
        "Refused: this punch is not a field punch.",
    ),
    (
        "approvals.error.review_returned",
        "Refused: the review was returned to the employee, who resubmits or withdraws it.",
    ),
    (
        "approvals.error.no_review_template",
        "Refused: the policy has no field-punch review template.",
    ),
    (
        "approvals.error.invalid_action",
        "Action: choose approve, reject, return, comment, add a signer or transfer.",
    ),
    (
        "approvals.error.missing_employee",
        "Employee: choose the employee to add or transfer to.",
    ),
    (
        "approvals.error.invalid_position",
        "Position: choose before or after.",
    ),
    ("approvals.error.refused", "Refused."),
    (
        "approvals.note.auditor",
        "Auditors read requests and their history; they do not decide.",
    ),
    (
        "approvals.note.no_employee",
        "This account is not linked to an employee, so it reads requests but does not decide them.",
    ),
    (
        "approvals.forbidden.auditor",
        "Auditors cannot decide requests.",
    ),
    (
        "approvals.forbidden.no_employee",
        "This account is not linked to an employee and cannot decide requests.",
    ),
    ("approvals.refused.title", "Not available"),
    (
        "approvals.refused.not_found",
        "There is no such item, or it is not one this account may see.",
    ),
    ("approvals.refused.back", "Back"),
    ("exceptions.nav", "Exceptions"),
    ("exceptions.title", "Exceptions"),
    ("exceptions.heading", "Exceptions"),
    ("exceptions.month", "Month"),
    ("exceptions.show", "Show"),
    (
        "exceptions.month_invalid",
        "Month: use the form YYYY-MM, for example 2026-12.",
    ),
    ("exceptions.punches", "Field punches awaiting review"),
    ("exceptions.none", "None."),
    ("exceptions.evidence", "Evidence"),
    ("exceptions.kind.in", "clock-in"),
    ("exceptions.kind.out", "clock-out"),
    ("exceptions.kind.break_start", "break start"),
    ("exceptions.kind.break_end", "break end"),
    ("exceptions.kind.field", "field punch"),
    ("exceptions.review.pending", "review requested"),
    (
        "exceptions.review.returned",
        "review returned to the employee",
    ),
    ("exceptions.missing", "Missing punches"),
    ("exceptions.absences", "Absences"),
    ("exceptions.warnings", "Warnings"),
    ("exceptions.code.missing_clock_in", "missing clock-in"),
    ("exceptions.code.missing_clock_out", "missing clock-out"),
    ("exceptions.code.absent", "absent"),
    (
        "exceptions.warning.hk_rest_day_7",
        "seven days without a rest day",
    ),
    (
        "exceptions.warning.hk_alternative_holiday_due",
        "alternative holiday due",
    ),
    (
        "exceptions.warning.hk_continuous_contract",
        "continuous contract at risk or not met",
    ),
    (
        "exceptions.warning.hk_hours_record",
        "hours worked must be recorded",
    ),
    (
        "exceptions.warning.weekly_hours",
        "weekly hours over the limit",
    ),
    ("exceptions.warning.other", "warning"),
    (
        "exceptions.done.approve",
        "Field punch approved: it now counts as attendance.",
    ),
    (
        "exceptions.done.reject",
        "Field punch rejected: it does not count as attendance.",
    ),
    // ---- people ----
    ("people.nav", "People"),
    ("people.title", "People"),
    ("people.heading", "People and devices"),
    ("people.empty", "There is no one you may see."),
    ("people.col.employee_id", "Employee ID"),
    ("people.col.name", "Name"),
    ("people.col.manager", "Manager"),
    ("people.col.roles", "Approval roles"),
    ("people.col.sites", "Sites"),
    ("people.col.devices", "Active devices"),
    ("people.back", "← All people"),
    ("people.person.title", "Person"),
    ("people.not_found.title", "Not found"),
    (
        "people.not_found",
        "There is no such person or device, or it is not one you may see.",
    ),
    (
        "people.hr_only",
        "Only an HR administrator may issue enrolment codes and revoke devices.",
    ),
    ("people.code.issue", "Issue an enrolment code"),
    (
        "people.code.hint",
        "A one-time code for the employee's phone; it is shown once.",
    ),
    ("people.code.heading", "Enrolment code"),
    (
        "people.code.once",
        "Give this code to the employee now: it is shown only once and can enrol one device. Scan the QR code with the app, or type the code.",
    ),
    ("people.code.label", "Code:"),
    ("people.code.qr", "QR code of the enrolment link"),
    ("people.code.link", "Link in the QR code:"),
    (
        "people.code.no_host",
        "Enrolment code: the request has no usable Host header, so no link to this server can be made. Open the console by its address and try again.",
    ),
    ("people.devices.heading", "Devices"),
    (
        "people.devices.empty",
        "No device is enrolled for this person.",
    ),
    ("people.device.name", "Device"),
    ("people.device.enrolled_at", "Enrolled"),
    ("people.device.last_push", "Last punch received"),
    ("people.device.head", "Chain head"),
    ("people.device.status", "Status"),
    ("people.device.actions", "Actions"),
    ("people.device.active", "Active"),
    ("people.device.revoked", "Revoked"),
    ("people.revoke.link", "Revoke…"),
    ("people.revoke.title", "Revoke device"),
    ("people.revoke.heading", "Revoke this device?"),
    (
        "people.revoke.explain",
        "The device can no longer send punches or requests, refresh its token or read the policy; the app tells the employee to enrol again with a new code. Punches and requests it already sent stay valid.",
    ),
    ("people.revoke.reason", "Reason (required)"),
    ("people.revoke.confirm", "Revoke device"),
    (
        "people.revoke.back",
        "← Back to the person, without revoking",
    ),
    (
        "people.revoke.reason_invalid",
        "Reason: write why the device is revoked (1–500 characters).",
    ),
    ("people.revoke.already", "Device: it is already revoked."),
    ("people.revoke.done", "The device is revoked."),
    // Sites & policy, punch evidence.
    ("policy.nav", "Sites & policy"),
    ("policy.title", "Sites & policy"),
    ("policy.sites_title", "Sites"),
    ("policy.site_title", "Site"),
    ("policy.sections_title", "Policy sections"),
    ("policy.review_title", "Review changes"),
    (
        "policy.map.caption",
        "Map of the site's fences (blue), grown by its tolerance (light blue); grid every",
    ),
    (
        "policy.map.tiles",
        "Background map tiles from the configured tile server.",
    ),
    ("policy.back", "Back"),
    (
        "policy.forbidden_role",
        "Only HR administrators may change the policy. Nothing was changed.",
    ),
    ("policy.not_found", "Not found."),
    ("policy.no_policy", "No policy is published yet."),
    ("policy.saved", "Saved to the draft."),
    (
        "policy.stale_edit",
        "Someone else changed the draft after you opened this page. Nothing was saved: reload the page and make your change again.",
    ),
    (
        "policy.stale_base",
        "The draft was started before another policy version was published, so it cannot be published. Discard it and start again from the version in force:",
    ),
    (
        "policy.stale_publish",
        "The draft changed since you reviewed it. Nothing was published: review the changes again.",
    ),
    ("policy.no_draft", "There is no draft to publish."),
    ("policy.publish_refused", "The draft cannot be published:"),
    ("policy.in_force", "Version in force:"),
    ("policy.draft_of", "Draft of version"),
    ("policy.revision", "revision"),
    ("policy.review_link", "Review changes"),
    (
        "policy.no_draft_yet",
        "No changes yet: edits start a draft of the next version.",
    ),
    ("policy.col.site", "Site"),
    ("policy.col.fences", "Fences"),
    ("policy.col.tolerance", "Tolerance"),
    ("policy.col.bssids", "Wi-Fi access points"),
    (
        "policy.read_only",
        "Read only: only HR administrators edit the policy.",
    ),
    (
        "policy.fix_errors",
        "Nothing was saved. Correct the fields marked below.",
    ),
    (
        "policy.draw_hint",
        "Click the map to add corners of a new polygon fence; drag a corner or a circle's centre or edge to change it. The fields on the right change with it and can be edited directly.",
    ),
    ("policy.advisor", "Fence advisor"),
    (
        "policy.advisor_hint",
        "Predicted from simulated phone fixes, as the daka fences command computes them. Use Preview to compute them for the fields as they are.",
    ),
    ("policy.adv.reviewed", "Honest staff sent to review"),
    ("policy.adv.accepted", "Honest staff accepted"),
    ("policy.adv.rejected", "Honest staff rejected"),
    ("policy.adv.out30", "Accepted 30 m outside"),
    ("policy.adv.out100", "Accepted 100 m outside"),
    ("policy.adv.out200", "Accepted 200 m outside"),
    ("policy.adv.suggested", "Suggested tolerance"),
    ("policy.adv.none", "none meets the targets: use Wi-Fi"),
    ("policy.field.name", "Site name"),
    (
        "policy.field.tolerance",
        "Tolerance (metres beyond the fences)",
    ),
    ("policy.field.bssids", "Wi-Fi BSSIDs, one per line"),
    ("policy.field.center", "Centre (latitude, longitude)"),
    ("policy.field.radius", "Radius (metres)"),
    (
        "policy.field.vertices",
        "Corners, one \"latitude, longitude\" per line",
    ),
    ("policy.field.remove", "Remove this fence"),
    ("policy.field.kind", "Kind"),
    ("policy.fence", "Fence"),
    (
        "policy.has_holes",
        "This polygon has holes; they are kept as they are.",
    ),
    ("policy.new_fence", "New fence"),
    ("policy.kind.none", "None"),
    ("policy.kind.polygon", "Polygon"),
    ("policy.kind.circle", "Circle"),
    ("policy.preview", "Preview"),
    ("policy.save", "Save to draft"),
    (
        "policy.sections_hint",
        "Each section is the policy's JSON for it (see the policy format). It is checked by the same validation as publishing before it is saved to the draft.",
    ),
    ("policy.section.thresholds", "Thresholds"),
    (
        "policy.section.thresholds.hint",
        "Accuracy, time, face and presence thresholds (thresholds).",
    ),
    ("policy.section.shifts", "Shifts"),
    (
        "policy.section.shifts.hint",
        "Shifts with their times, breaks and grace (attendance.shifts).",
    ),
    ("policy.section.schedules", "Schedules"),
    (
        "policy.section.schedules.hint",
        "Weekly and cyclic schedules (attendance.schedules).",
    ),
    ("policy.section.rosters", "Rosters"),
    (
        "policy.section.rosters.hint",
        "Who works which schedule, with roster days (attendance.people).",
    ),
    ("policy.section.holidays", "Holidays"),
    (
        "policy.section.holidays.hint",
        "Public and company holidays (attendance.holidays).",
    ),
    ("policy.section.face_matchers", "Face-matcher keys"),
    (
        "policy.section.face_matchers.hint",
        "Trusted face-matcher public keys (face_matchers).",
    ),
    ("policy.published", "Published version"),
    ("policy.no_changes", "The draft has no changes yet."),
    (
        "policy.diff_summary",
        "Changes against the version in force, in lines of the policy's JSON:",
    ),
    ("policy.diff_hunk", "Changed lines with their context"),
    ("policy.diff_old", "Line in force"),
    ("policy.diff_new", "Line in draft"),
    ("policy.diff_change", "Change"),
    ("policy.diff_text", "Text"),
    ("policy.diff_added", "added"),
    ("policy.diff_removed", "removed"),
    ("policy.roster_warnings", "Roster warnings"),
    ("policy.no_warnings", "No roster warnings."),
    ("policy.publish", "Publish version"),
    ("policy.discard", "Discard draft"),
    ("policy.err.number", "Not a number:"),
    (
        "policy.err.center",
        "Centre: expected \"latitude, longitude\", got:",
    ),
    ("policy.err.radius", "Radius: not a number:"),
    (
        "policy.err.vertex",
        "Corners: expected \"latitude, longitude\" on line",
    ),
    (
        "policy.err.holes",
        "The polygon's holes are not valid JSON.",
    ),
    ("policy.err.core", "The policy check refused it:"),
    ("policy.err.json", "Not valid JSON:"),
    ("policy.default", "Default"),
    (
        "policy.t_max_accuracy_m",
        "Largest accuracy accepted (metres)",
    ),
    ("policy.t_uncertain", "What an uncertain location does"),
    (
        "policy.t_accept_probability",
        "Probability inside to accept (0.5–1)",
    ),
    (
        "policy.t_reject_probability",
        "Probability inside at or below which to reject (0–0.1)",
    ),
    ("policy.t_min_score", "Smallest face-match score (0–1)"),
    ("punch.title", "Punch"),
    ("punch.heading", "Punch evidence"),
    ("punch.facts", "The punch"),
    ("punch.kind", "Kind"),
    ("punch.employee", "Employee"),
    ("punch.device", "Device"),
    ("punch.device_time", "Device time"),
    ("punch.trusted_time", "Trusted time"),
    ("punch.received", "Received"),
    ("punch.policy_version", "Judged on policy version"),
    ("punch.decision", "Server decision"),
    ("punch.reasons", "Reasons"),
    ("punch.location", "Location finding"),
    ("punch.thresholds", "Thresholds applied"),
    ("punch.map", "Location"),
    ("punch.no_fix", "The punch has no location fix."),
    ("punch.face", "Face match"),
    (
        "punch.face_verified",
        "The face token's signature and claims were verified.",
    ),
    (
        "punch.face_refused",
        "A face token was sent but refused; the reasons say why.",
    ),
    ("punch.face_none", "No face token was sent."),
    ("punch.chain", "Device chain"),
    (
        "punch.chain_ok",
        "The device's chain of signed records verifies.",
    ),
    ("punch.chain_bad", "The device's chain does not verify:"),
    ("punch.back", "Back to Today"),
    ("punch.not_found", "No such punch, or not one you may see."),
];

/// Traditional Chinese (繁體中文).
pub(crate) const ZH_HANT: &[(&str, &str)] = &[
    ("app.name", "daka 管理後台"),
    ("nav.skip", "跳至主要內容"),
    ("nav.today", "今日"),
    ("lang.switch", "English"),
    ("header.signed_in_as", "已登入："),
    ("header.sign_out", "登出"),
    ("header.sign_out_everywhere", "登出所有裝置"),
    ("login.title", "登入"),
    ("login.heading", "登入考勤管理後台"),
    ("login.email", "電郵地址"),
    ("login.password", "密碼"),
    ("login.submit", "登入"),
    ("login.failed", "電郵地址或密碼不正確。"),
    ("login.limited", "登入失敗次數過多，請稍候數分鐘再試。"),
    ("login.signed_out", "你已登出。"),
    ("login.hint", "請使用人事管理員為你建立的帳戶。"),
    ("forbidden.title", "請求被拒"),
    (
        "forbidden.csrf",
        "此表格已過期或並非來自本管理後台。請返回、重新載入頁面後再試。",
    ),
    ("forbidden.back", "返回登入頁"),
    ("today.title", "今日"),
    ("today.heading", "今日出勤"),
    ("today.date", "日期"),
    ("today.summary", "摘要"),
    ("today.present", "已上班"),
    ("today.late", "遲到"),
    ("today.not_in", "未到"),
    ("today.on_leave", "休假"),
    ("today.col.site", "地點"),
    ("today.col.employee_id", "員工編號"),
    ("today.col.name", "姓名"),
    ("today.col.status", "狀態"),
    ("today.col.first_in", "首次上班打卡"),
    ("today.empty", "沒有可顯示的員工。"),
    ("today.no_policy", "尚未發佈政策。"),
    ("status.clocked_in", "已打卡上班"),
    ("status.late", "遲到"),
    ("status.minutes", "分鐘"),
    ("status.not_yet_in", "尚未上班"),
    ("status.missing_clock_out", "缺下班打卡"),
    ("status.on_leave", "休假"),
    ("status.rest_day", "休息日"),
    ("status.holiday", "假期"),
    ("status.absent", "缺勤"),
    ("status.not_scheduled", "未排班"),
    ("role.hr_admin", "人事管理員"),
    ("role.manager", "經理"),
    ("role.finance", "財務"),
    ("role.auditor", "審計"),
    ("approvals.nav", "審批"),
    ("approvals.title", "審批"),
    ("approvals.heading", "審批"),
    (
        "approvals.lead.all",
        "等待你審批的申請，以及機構內所有待審批的申請（除非你是審批人，否則只供閱覽）。",
    ),
    (
        "approvals.lead.team",
        "等待你審批的申請，以及你團隊待審批的申請。",
    ),
    ("approvals.empty", "沒有等待審批的申請。"),
    ("approvals.applicant", "申請人"),
    ("approvals.type", "類型"),
    ("approvals.submitted", "提交時間"),
    ("approvals.files", "收據及檔案"),
    ("approvals.receipt", "收據"),
    ("approvals.download", "下載檔案"),
    ("approvals.route", "審批流程"),
    ("approvals.approved_by", "已批核："),
    ("approvals.trail", "紀錄"),
    ("approvals.signed_by_server", "由伺服器代控制台帳戶簽署"),
    ("approvals.signed_by_device", "由員工裝置簽署"),
    ("approvals.comment", "備註（拒絕或退回時必填）"),
    ("approvals.action.approve", "批准"),
    ("approvals.action.reject", "拒絕"),
    ("approvals.action.return", "退回修改"),
    ("approvals.action.comment", "只加備註"),
    ("approvals.action.add_signer", "加簽"),
    ("approvals.action.transfer", "轉交"),
    ("approvals.more", "加簽或轉交"),
    ("approvals.employee", "員工"),
    ("approvals.choose", "選擇員工"),
    ("approvals.position", "加簽位置"),
    ("approvals.position.before", "在我之前"),
    ("approvals.position.after", "在我之後（我現在批准）"),
    ("approvals.status.pending", "待審批"),
    ("approvals.status.approved", "已批准"),
    ("approvals.status.rejected", "已拒絕"),
    ("approvals.status.returned", "已退回"),
    ("approvals.status.withdrawn", "已撤回"),
    ("approvals.type.expense", "報銷"),
    ("approvals.type.leave", "請假"),
    ("approvals.type.missed_punch", "補卡"),
    ("approvals.type.field_punch_review", "外勤審核"),
    ("approvals.type.overtime", "加班"),
    ("approvals.type.general", "一般"),
    (
        "approvals.done.approve",
        "已批准。決定由伺服器簽署，並以你的帳戶記錄。",
    ),
    (
        "approvals.done.reject",
        "已拒絕。決定由伺服器簽署，並以你的帳戶記錄。",
    ),
    ("approvals.done.return", "已退回申請人。"),
    ("approvals.done.add_signer", "已加簽。"),
    ("approvals.done.transfer", "已轉交。"),
    ("approvals.done.comment", "已加備註。"),
    (
        "approvals.error.self_approval",
        "被拒：不能審批自己的申請。",
    ),
    (
        "approvals.error.not_current_approver",
        "被拒：你不是目前步驟的審批人（可能已有人決定）。",
    ),
    ("approvals.error.already_acted", "被拒：你已批准此步驟。"),
    ("approvals.error.request_finished", "被拒：申請已完結。"),
    (
        "approvals.error.request_not_pending",
        "被拒：申請並非待審批。",
    ),
    (
        "approvals.error.not_applicant",
        "被拒：只有申請人可以這樣做。",
    ),
    (
        "approvals.error.not_participant",
        "被拒：你並不參與此申請。",
    ),
    (
        "approvals.error.invalid_signer",
        "員工：不能加簽或轉交給此員工（申請人、不明員工或已是審批人）。",
    ),
    (
        "approvals.error.invalid_comment",
        "備註：拒絕、退回或加備註時必填；最多 2,000 字，不可含控制字元。",
    ),
    ("approvals.error.empty_route", "被拒：審批流程沒有步驟。"),
    (
        "approvals.error.no_approver",
        "被拒：政策沒有為此審核指定審批人。",
    ),
    ("approvals.error.invalid_form", "被拒：審核表格不符合政策。"),
    (
        "approvals.error.punch_already_reviewed",
        "被拒：此打卡已有審核。",
    ),
    (
        "approvals.error.not_a_field_punch",
        "被拒：此打卡並非外勤打卡。",
    ),
    (
        "approvals.error.review_returned",
        "被拒：審核已退回員工，待其重新提交或撤回。",
    ),
    (
        "approvals.error.no_review_template",
        "被拒：政策沒有外勤審核範本。",
    ),
    (
        "approvals.error.invalid_action",
        "操作：請選擇批准、拒絕、退回、備註、加簽或轉交。",
    ),
    (
        "approvals.error.missing_employee",
        "員工：請選擇要加簽或轉交的員工。",
    ),
    (
        "approvals.error.invalid_position",
        "位置：請選擇之前或之後。",
    ),
    ("approvals.error.refused", "被拒。"),
    (
        "approvals.note.auditor",
        "審計帳戶可閱覽申請及紀錄，但不能審批。",
    ),
    (
        "approvals.note.no_employee",
        "此帳戶未連結員工，只能閱覽申請，不能審批。",
    ),
    ("approvals.forbidden.auditor", "審計帳戶不能審批申請。"),
    (
        "approvals.forbidden.no_employee",
        "此帳戶未連結員工，不能審批申請。",
    ),
    ("approvals.refused.title", "無法提供"),
    (
        "approvals.refused.not_found",
        "沒有此項目，或此帳戶無權查看。",
    ),
    ("approvals.refused.back", "返回"),
    ("exceptions.nav", "異常"),
    ("exceptions.title", "異常"),
    ("exceptions.heading", "異常"),
    ("exceptions.month", "月份"),
    ("exceptions.show", "顯示"),
    (
        "exceptions.month_invalid",
        "月份：請用 YYYY-MM 格式，例如 2026-12。",
    ),
    ("exceptions.punches", "待審核的外勤打卡"),
    ("exceptions.none", "沒有。"),
    ("exceptions.evidence", "證據"),
    ("exceptions.kind.in", "上班卡"),
    ("exceptions.kind.out", "下班卡"),
    ("exceptions.kind.break_start", "休息開始"),
    ("exceptions.kind.break_end", "休息結束"),
    ("exceptions.kind.field", "外勤打卡"),
    ("exceptions.review.pending", "已申請審核"),
    ("exceptions.review.returned", "審核已退回員工"),
    ("exceptions.missing", "缺卡"),
    ("exceptions.absences", "缺勤"),
    ("exceptions.warnings", "警告"),
    ("exceptions.code.missing_clock_in", "缺上班卡"),
    ("exceptions.code.missing_clock_out", "缺下班卡"),
    ("exceptions.code.absent", "缺勤"),
    ("exceptions.warning.hk_rest_day_7", "連續七天沒有休息日"),
    (
        "exceptions.warning.hk_alternative_holiday_due",
        "須給予代替假日",
    ),
    (
        "exceptions.warning.hk_continuous_contract",
        "連續性合約有風險或未符合",
    ),
    ("exceptions.warning.hk_hours_record", "須記錄工作時數"),
    ("exceptions.warning.weekly_hours", "每週工時超出上限"),
    ("exceptions.warning.other", "警告"),
    ("exceptions.done.approve", "外勤打卡已批准：現計入出勤。"),
    ("exceptions.done.reject", "外勤打卡已拒絕：不計入出勤。"),
    // ---- people ----
    ("people.nav", "人員"),
    ("people.title", "人員"),
    ("people.heading", "人員及裝置"),
    ("people.empty", "沒有你可查看的人員。"),
    ("people.col.employee_id", "員工編號"),
    ("people.col.name", "姓名"),
    ("people.col.manager", "經理"),
    ("people.col.roles", "審批角色"),
    ("people.col.sites", "地點"),
    ("people.col.devices", "使用中裝置"),
    ("people.back", "← 所有人員"),
    ("people.person.title", "人員"),
    ("people.not_found.title", "找不到"),
    ("people.not_found", "沒有此人員或裝置，或你無權查看。"),
    ("people.hr_only", "只有人事管理員可發出登記碼及撤銷裝置。"),
    ("people.code.issue", "發出登記碼"),
    (
        "people.code.hint",
        "供員工手機使用的一次性登記碼，只顯示一次。",
    ),
    ("people.code.heading", "登記碼"),
    (
        "people.code.once",
        "請立即把此登記碼交給員工：它只顯示一次，只可登記一部裝置。可用應用程式掃描二維碼，或輸入登記碼。",
    ),
    ("people.code.label", "登記碼："),
    ("people.code.qr", "登記連結的二維碼"),
    ("people.code.link", "二維碼內的連結："),
    (
        "people.code.no_host",
        "登記碼：請求沒有可用的 Host 標頭，無法產生連往本伺服器的連結。請以伺服器地址開啟管理後台後再試。",
    ),
    ("people.devices.heading", "裝置"),
    ("people.devices.empty", "此人員沒有已登記的裝置。"),
    ("people.device.name", "裝置"),
    ("people.device.enrolled_at", "登記時間"),
    ("people.device.last_push", "最後收到打卡"),
    ("people.device.head", "記錄鏈末端"),
    ("people.device.status", "狀態"),
    ("people.device.actions", "操作"),
    ("people.device.active", "使用中"),
    ("people.device.revoked", "已撤銷"),
    ("people.revoke.link", "撤銷…"),
    ("people.revoke.title", "撤銷裝置"),
    ("people.revoke.heading", "確定撤銷此裝置？"),
    (
        "people.revoke.explain",
        "裝置將無法再傳送打卡或申請、更新權杖或讀取政策；應用程式會提示員工以新的登記碼重新登記。裝置之前已傳送的打卡及申請仍然有效。",
    ),
    ("people.revoke.reason", "原因（必填）"),
    ("people.revoke.confirm", "撤銷裝置"),
    ("people.revoke.back", "← 返回人員頁面，不撤銷"),
    (
        "people.revoke.reason_invalid",
        "原因：請填寫撤銷裝置的原因（1 至 500 個字元）。",
    ),
    ("people.revoke.already", "裝置：此裝置已被撤銷。"),
    ("people.revoke.done", "裝置已撤銷。"),
    // Sites & policy, punch evidence.
    ("policy.nav", "地點及政策"),
    ("policy.title", "地點及政策"),
    ("policy.sites_title", "地點"),
    ("policy.site_title", "地點"),
    ("policy.sections_title", "政策項目"),
    ("policy.review_title", "檢視變更"),
    (
        "policy.map.caption",
        "地點圍欄地圖（藍色），連同容差擴展範圍（淺藍色）；格線間距",
    ),
    ("policy.map.tiles", "背景地圖圖塊來自已設定的圖塊伺服器。"),
    ("policy.back", "返回"),
    (
        "policy.forbidden_role",
        "只有人事管理員可以更改政策，未作任何更改。",
    ),
    ("policy.not_found", "找不到。"),
    ("policy.no_policy", "尚未發佈政策。"),
    ("policy.saved", "已儲存至草稿。"),
    (
        "policy.stale_edit",
        "你開啟此頁後，有其他人更改了草稿。未作儲存：請重新載入頁面後再作更改。",
    ),
    (
        "policy.stale_base",
        "此草稿建立後已有另一政策版本發佈，因此不能發佈。請捨棄草稿，由現行版本重新開始。現行版本：",
    ),
    (
        "policy.stale_publish",
        "你檢視後草稿已被更改，未有發佈：請再次檢視變更。",
    ),
    ("policy.no_draft", "沒有可發佈的草稿。"),
    ("policy.publish_refused", "草稿無法發佈："),
    ("policy.in_force", "現行版本："),
    ("policy.draft_of", "草稿版本"),
    ("policy.revision", "修訂"),
    ("policy.review_link", "檢視變更"),
    (
        "policy.no_draft_yet",
        "尚未有更改：編輯時會建立下一版本的草稿。",
    ),
    ("policy.col.site", "地點"),
    ("policy.col.fences", "圍欄"),
    ("policy.col.tolerance", "容差"),
    ("policy.col.bssids", "Wi-Fi 存取點"),
    ("policy.read_only", "唯讀：只有人事管理員可以編輯政策。"),
    ("policy.fix_errors", "未有儲存。請更正下列標示的欄位。"),
    (
        "policy.draw_hint",
        "在地圖上點擊以加入新多邊形圍欄的角點；拖動角點或圓形的中心或邊緣以作更改。右方欄位會同步更新，亦可直接編輯。",
    ),
    ("policy.advisor", "圍欄建議"),
    (
        "policy.advisor_hint",
        "根據模擬手機定位預測，與 daka fences 指令的計算相同。按「預覽」以按現時欄位計算。",
    ),
    ("policy.adv.reviewed", "誠實員工需覆核的比例"),
    ("policy.adv.accepted", "誠實員工獲接受的比例"),
    ("policy.adv.rejected", "誠實員工被拒的比例"),
    ("policy.adv.out30", "圍欄外 30 米獲接受的比例"),
    ("policy.adv.out100", "圍欄外 100 米獲接受的比例"),
    ("policy.adv.out200", "圍欄外 200 米獲接受的比例"),
    ("policy.adv.suggested", "建議容差"),
    ("policy.adv.none", "沒有容差符合目標：請使用 Wi-Fi"),
    ("policy.field.name", "地點名稱"),
    ("policy.field.tolerance", "容差（圍欄外的米數）"),
    ("policy.field.bssids", "Wi-Fi BSSID，每行一個"),
    ("policy.field.center", "中心（緯度, 經度）"),
    ("policy.field.radius", "半徑（米）"),
    ("policy.field.vertices", "角點，每行一個「緯度, 經度」"),
    ("policy.field.remove", "移除此圍欄"),
    ("policy.field.kind", "類型"),
    ("policy.fence", "圍欄"),
    ("policy.has_holes", "此多邊形有內洞，內洞會保持不變。"),
    ("policy.new_fence", "新圍欄"),
    ("policy.kind.none", "無"),
    ("policy.kind.polygon", "多邊形"),
    ("policy.kind.circle", "圓形"),
    ("policy.preview", "預覽"),
    ("policy.save", "儲存至草稿"),
    (
        "policy.sections_hint",
        "每個項目為政策中該部分的 JSON（見政策格式說明），儲存至草稿前會以發佈時相同的驗證檢查。",
    ),
    ("policy.section.thresholds", "門檻"),
    (
        "policy.section.thresholds.hint",
        "定位精度、時間、人臉及位置門檻（thresholds）。",
    ),
    ("policy.section.shifts", "班次"),
    (
        "policy.section.shifts.hint",
        "班次及其時間、休息與寬限（attendance.shifts）。",
    ),
    ("policy.section.schedules", "排班表"),
    (
        "policy.section.schedules.hint",
        "每週及循環排班表（attendance.schedules）。",
    ),
    ("policy.section.rosters", "人員排班"),
    (
        "policy.section.rosters.hint",
        "各員工的排班表及排班日（attendance.people）。",
    ),
    ("policy.section.holidays", "假期"),
    (
        "policy.section.holidays.hint",
        "公眾及公司假期（attendance.holidays）。",
    ),
    ("policy.section.face_matchers", "人臉比對金鑰"),
    (
        "policy.section.face_matchers.hint",
        "受信任的人臉比對公開金鑰（face_matchers）。",
    ),
    ("policy.published", "已發佈版本"),
    ("policy.no_changes", "草稿尚未有更改。"),
    (
        "policy.diff_summary",
        "與現行版本比較的變更（政策 JSON 行數）：",
    ),
    ("policy.diff_hunk", "變更的行及其上下文"),
    ("policy.diff_old", "現行版本行號"),
    ("policy.diff_new", "草稿行號"),
    ("policy.diff_change", "變更"),
    ("policy.diff_text", "內容"),
    ("policy.diff_added", "新增"),
    ("policy.diff_removed", "刪除"),
    ("policy.roster_warnings", "排班警告"),
    ("policy.no_warnings", "沒有排班警告。"),
    ("policy.publish", "發佈版本"),
    ("policy.discard", "捨棄草稿"),
    ("policy.err.number", "不是數字："),
    ("policy.err.center", "中心：應為「緯度, 經度」，收到："),
    ("policy.err.radius", "半徑：不是數字："),
    ("policy.err.vertex", "角點：應為「緯度, 經度」，出錯行"),
    ("policy.err.holes", "多邊形的內洞不是有效的 JSON。"),
    ("policy.err.core", "政策檢查不接受："),
    ("policy.err.json", "不是有效的 JSON："),
    ("policy.default", "預設"),
    ("policy.t_max_accuracy_m", "可接受的最大定位誤差（米）"),
    ("policy.t_uncertain", "位置未能確定時的處理"),
    ("policy.t_accept_probability", "接受所需的在場概率（0.5–1）"),
    ("policy.t_reject_probability", "拒絕的在場概率上限（0–0.1）"),
    ("policy.t_min_score", "人臉比對最低分數（0–1）"),
    ("punch.title", "打卡"),
    ("punch.heading", "打卡證據"),
    ("punch.facts", "打卡資料"),
    ("punch.kind", "類型"),
    ("punch.employee", "員工"),
    ("punch.device", "裝置"),
    ("punch.device_time", "裝置時間"),
    ("punch.trusted_time", "可信時間"),
    ("punch.received", "收到時間"),
    ("punch.policy_version", "判定所用政策版本"),
    ("punch.decision", "伺服器判定"),
    ("punch.reasons", "原因"),
    ("punch.location", "位置判定"),
    ("punch.thresholds", "所用門檻"),
    ("punch.map", "位置"),
    ("punch.no_fix", "此打卡沒有定位資料。"),
    ("punch.face", "人臉比對"),
    ("punch.face_verified", "人臉憑證的簽署及聲明已核實。"),
    ("punch.face_refused", "已送出人臉憑證但不獲接受，原因見上。"),
    ("punch.face_none", "未有送出人臉憑證。"),
    ("punch.chain", "裝置記錄鏈"),
    ("punch.chain_ok", "裝置的已簽署記錄鏈核實無誤。"),
    ("punch.chain_bad", "裝置的記錄鏈未能核實："),
    ("punch.back", "返回今日"),
    ("punch.not_found", "找不到此打卡，或你無權查看。"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_tables_have_the_same_keys_once_each() {
        let en: BTreeSet<&str> = EN.iter().map(|(k, _)| *k).collect();
        let zh: BTreeSet<&str> = ZH_HANT.iter().map(|(k, _)| *k).collect();
        assert_eq!(en.len(), EN.len(), "a key twice in English");
        assert_eq!(zh.len(), ZH_HANT.len(), "a key twice in Chinese");
        assert_eq!(en, zh);
        assert!(EN.iter().chain(ZH_HANT).all(|(_, v)| !v.trim().is_empty()));
    }

    #[test]
    fn accept_language_picks_traditional_chinese_for_hong_kong_and_taiwan() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT_LANGUAGE, v.parse().unwrap());
            from_accept_language(&h)
        };
        assert_eq!(with("zh-HK,zh;q=0.9,en;q=0.8"), Some(Lang::ZhHant));
        assert_eq!(with("zh-TW"), Some(Lang::ZhHant));
        assert_eq!(with("zh-Hant-HK"), Some(Lang::ZhHant));
        assert_eq!(with("en-GB,zh-HK;q=0.5"), Some(Lang::En));
        assert_eq!(with("en;q=0.4,zh-HK;q=0.9"), Some(Lang::ZhHant));
        assert_eq!(with("zh-CN"), None);
        assert_eq!(with("fr"), None);
        assert_eq!(from_accept_language(&HeaderMap::new()), None);
    }
}
