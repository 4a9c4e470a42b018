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
    // ---- reports, accounts, audit, API tokens ----
    ("nav.reports", "Reports"),
    ("nav.audit", "Audit"),
    ("nav.accounts", "Accounts"),
    ("nav.api_tokens", "API tokens"),
    ("nav.my_account", "My account"),
    ("reports.title", "Reports"),
    ("reports.heading", "Monthly attendance"),
    ("reports.month_nav", "Months"),
    ("reports.month", "Month"),
    ("reports.show", "Show"),
    ("reports.locked", "Locked for payroll"),
    ("reports.open", "Not locked"),
    ("reports.lock", "Lock month"),
    ("reports.unlock", "Unlock month"),
    ("reports.done_locked", "The month is locked."),
    ("reports.done_unlocked", "The month is unlocked."),
    ("reports.download_xlsx", "Download XLSX"),
    ("reports.download_csv", "Download CSV (summary)"),
    ("reports.download_csv_days", "Download CSV (days)"),
    ("reports.col.days_due", "Days due"),
    ("reports.col.days_attended", "Days attended"),
    ("reports.col.late_count", "Late count"),
    ("reports.col.late_min", "Late minutes"),
    ("reports.col.early_min", "Early-leave minutes"),
    ("reports.col.absences", "Absences"),
    ("reports.col.missing_punches", "Missing punches"),
    ("reports.col.leave_days", "Leave (days)"),
    ("reports.col.expected_hours", "Expected hours"),
    ("reports.col.worked_hours", "Worked hours"),
    ("reports.col.overtime_hours", "Overtime hours"),
    ("reports.col.date", "Date"),
    ("reports.col.worked_min", "Worked minutes"),
    ("reports.col.overtime_min", "Overtime minutes"),
    ("reports.col.punches", "Punches"),
    ("reports.history", "Lock history"),
    ("reports.history_empty", "This month was never locked."),
    ("reports.history_lock", "locked"),
    ("reports.history_unlock", "unlocked"),
    ("reports.back", "Back to the month"),
    ("reports.days", "Days"),
    (
        "reports.invalid_month",
        "Month: give a month as YYYY-MM, e.g. 2026-11.",
    ),
    ("reports.invalid_format", "Format: choose xlsx or csv."),
    (
        "reports.invalid_sheet",
        "Sheet: choose summary, days or warnings.",
    ),
    ("reports.invalid_action", "Action: choose lock or unlock."),
    (
        "reports.no_employee",
        "Employee: there is no such employee among the people you may see.",
    ),
    ("reports.no_policy", "No policy is published yet."),
    ("reports.kind.in", "in"),
    ("reports.kind.out", "out"),
    ("reports.kind.break_start", "break start"),
    ("reports.kind.break_end", "break end"),
    ("reports.kind.field", "field"),
    ("reports.punch.accepted", "accepted"),
    ("reports.punch.field_punch", "field punch"),
    ("reports.punch.refused", "refused"),
    ("reports.weekday.0", "Mon"),
    ("reports.weekday.1", "Tue"),
    ("reports.weekday.2", "Wed"),
    ("reports.weekday.3", "Thu"),
    ("reports.weekday.4", "Fri"),
    ("reports.weekday.5", "Sat"),
    ("reports.weekday.6", "Sun"),
    ("reports.day.normal", "Normal"),
    ("reports.day.exception", "Exception"),
    ("reports.day.absent", "Absent"),
    ("reports.day.on_leave", "On leave"),
    ("reports.day.holiday", "Holiday"),
    ("reports.day.rest_day", "Rest day"),
    ("reports.day.worked_day_off", "Worked day off"),
    ("reports.day.pending", "Pending"),
    ("reports.day.in_progress", "In progress"),
    ("reports.day.unscheduled", "Not scheduled"),
    ("manage.title_forbidden", "Not allowed"),
    ("manage.title_not_found", "Not found"),
    ("manage.title_bad_request", "Check the request"),
    (
        "manage.forbidden_role",
        "Your role may not use this page or action.",
    ),
    ("manage.back_today", "Back to Today"),
    ("manage.accounts_title", "Accounts"),
    ("manage.accounts_heading", "Console accounts"),
    ("manage.role", "Role"),
    ("manage.language", "Language"),
    ("manage.status", "Status"),
    ("manage.last_sign_in", "Last sign-in"),
    ("manage.actions", "Actions"),
    ("manage.active", "Active"),
    ("manage.disabled", "Disabled"),
    ("manage.you", "This is you"),
    ("manage.employee", "Employee (for managers)"),
    (
        "manage.employee_hint",
        "A manager account stands for an employee of the policy and sees that employee's reports.",
    ),
    ("manage.no_employee", "None"),
    ("manage.change_role", "Change role"),
    ("manage.disable", "Disable"),
    ("manage.enable", "Enable"),
    ("manage.reset_password", "Reset password"),
    ("manage.invite", "Invite an account"),
    (
        "manage.invite_hint",
        "A password is generated and shown once: hand it to the person, who should change it on My account.",
    ),
    ("manage.invite_submit", "Create account"),
    ("manage.password_once", "Password, shown once"),
    (
        "manage.password_once_hint",
        "Hand this password over now: it is not stored and will not be shown again.",
    ),
    ("manage.done_role", "The role is changed."),
    (
        "manage.done_disable",
        "The account is disabled and its sessions are ended.",
    ),
    ("manage.done_enable", "The account is enabled."),
    (
        "manage.no_account",
        "Account: there is no such account in your organisation.",
    ),
    (
        "manage.err.email",
        "Email: not an email address (local@domain, at most 254 characters).",
    ),
    (
        "manage.err.name",
        "Name: 1–200 characters without control characters.",
    ),
    (
        "manage.err.role",
        "Role: choose HR administrator, manager, finance or auditor.",
    ),
    (
        "manage.err.employee",
        "Employee: a manager account needs an employee of the current policy.",
    ),
    ("manage.err.password", "Password: at least 12 characters."),
    (
        "manage.err.language",
        "Language: choose English or 繁體中文.",
    ),
    (
        "manage.err.exists",
        "Email: the organisation already has an account with this email.",
    ),
    (
        "manage.err.internal",
        "The account could not be saved. Try again.",
    ),
    (
        "manage.err.self",
        "Account: you cannot change the role of, or disable, your own account.",
    ),
    ("manage.account_title", "My account"),
    ("manage.account_heading", "My account"),
    ("manage.change_password", "Change password"),
    ("manage.current_password", "Current password"),
    ("manage.new_password", "New password"),
    ("manage.confirm_password", "New password again"),
    ("manage.password_rule", "At least 12 characters."),
    ("manage.preferred_language", "Preferred language"),
    ("manage.save", "Save"),
    ("manage.done_password", "Your password is changed."),
    ("manage.done_language", "Your preferred language is saved."),
    (
        "manage.err.current_password",
        "Current password: not correct.",
    ),
    (
        "manage.err.new_password",
        "New password: at least 12 characters.",
    ),
    (
        "manage.err.confirm",
        "New password again: does not match the new password.",
    ),
    ("manage.audit_title", "Audit"),
    ("manage.audit_heading", "Console audit"),
    ("manage.audit_account", "Account"),
    ("manage.audit_action", "Action"),
    ("manage.audit_any", "Any"),
    ("manage.audit_apply", "Filter"),
    ("manage.audit_time", "Time"),
    ("manage.audit_client", "Client address"),
    ("manage.audit_detail", "Detail"),
    ("manage.audit_empty", "No entries."),
    ("manage.audit_pages", "Pages"),
    ("manage.audit_newest", "Newest"),
    ("manage.audit_older", "Older"),
    ("manage.audit_admin_token", "Admin token"),
    ("manage.err.before", "Page: not a position in the audit."),
    (
        "manage.err.action",
        "Action: not an action the audit records.",
    ),
    (
        "manage.err.account",
        "Account: there is no such account in your organisation.",
    ),
    ("manage.action.login_ok", "Signed in"),
    ("manage.action.login_failed", "Sign-in failed"),
    ("manage.action.login_limited", "Sign-in refused (limit)"),
    ("manage.action.logout", "Signed out"),
    ("manage.action.revoke_all", "Signed out everywhere"),
    ("manage.action.account_created", "Account created"),
    ("manage.action.account_role_changed", "Role changed"),
    ("manage.action.account_disabled", "Account disabled"),
    ("manage.action.account_enabled", "Account enabled"),
    ("manage.action.password_reset", "Password reset"),
    ("manage.action.password_changed", "Password changed"),
    ("manage.action.language_changed", "Language changed"),
    ("manage.action.report_downloaded", "Report downloaded"),
    ("manage.action.month_locked", "Month locked"),
    ("manage.action.month_unlocked", "Month unlocked"),
    ("manage.action.api_token_created", "API token created"),
    ("manage.action.api_token_revoked", "API token revoked"),
    ("manage.action.admin_token_rotated", "Admin token rotated"),
    ("manage.tokens_title", "API tokens"),
    ("manage.tokens_heading", "API tokens"),
    ("manage.tokens_empty", "No API tokens yet."),
    ("manage.token_name", "Name"),
    ("manage.token_scopes", "Scopes"),
    ("manage.token_created", "Created"),
    ("manage.token_expires", "Expires"),
    ("manage.token_last_used", "Last used"),
    ("manage.token_never", "Never"),
    ("manage.token_revoked", "Revoked"),
    ("manage.token_expired", "Expired"),
    ("manage.token_revoke", "Revoke"),
    ("manage.token_new", "New API token"),
    ("manage.token_expires_on", "Last day (optional)"),
    (
        "manage.token_expires_hint",
        "The token works through this day in the organisation's time zone; leave empty for no expiry.",
    ),
    ("manage.token_create", "Create token"),
    ("manage.token_once", "API token, shown once"),
    (
        "manage.token_once_hint",
        "Copy it now: only its hash is stored and it will not be shown again.",
    ),
    ("manage.done_revoked", "The API token is revoked."),
    (
        "manage.no_token",
        "API token: there is no such active token in your organisation.",
    ),
    (
        "manage.err.token_name",
        "Name: 1–100 characters without control characters.",
    ),
    (
        "manage.err.scopes",
        "Scopes: choose at least one of the listed scopes.",
    ),
    (
        "manage.err.expires",
        "Last day: a date (YYYY-MM-DD) from today on.",
    ),
    (
        "manage.scope.policy_read",
        "read the policy and check a draft",
    ),
    ("manage.scope.policy_write", "publish a policy"),
    (
        "manage.scope.devices_read",
        "list devices and verify their chains",
    ),
    (
        "manage.scope.devices_write",
        "issue enrolment codes and manage devices",
    ),
    (
        "manage.scope.attendance_read",
        "read punches, days, months, locks and late changes",
    ),
    ("manage.scope.attendance_lock", "lock and unlock months"),
    (
        "manage.scope.reports_read",
        "download the monthly attendance export",
    ),
    (
        "manage.scope.requests_read",
        "read requests and corrections",
    ),
    (
        "manage.scope.console_admin",
        "create console accounts and read the console audit",
    ),
    ("manage.rotate_heading", "Rotate the admin token"),
    (
        "manage.rotate_hint",
        "Issues a new organisation admin token, shown once. The old one stops working at once: update every script that uses it. After a rotation the seed file's admin token no longer applies.",
    ),
    (
        "manage.rotate_confirm",
        "I understand the old admin token stops working now",
    ),
    ("manage.rotate_submit", "Rotate admin token"),
    (
        "manage.err.confirm_rotate",
        "Confirmation: tick the box to confirm that the old admin token stops now.",
    ),
    ("manage.admin_token_once", "New admin token, shown once"),
    (
        "manage.admin_token_once_hint",
        "Copy it now: only its hash is stored, and the old admin token no longer works.",
    ),
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
    // ---- reports, accounts, audit, API tokens ----
    ("nav.reports", "報表"),
    ("nav.audit", "審計記錄"),
    ("nav.accounts", "帳戶"),
    ("nav.api_tokens", "API 權杖"),
    ("nav.my_account", "我的帳戶"),
    ("reports.title", "報表"),
    ("reports.heading", "每月出勤"),
    ("reports.month_nav", "月份"),
    ("reports.month", "月份"),
    ("reports.show", "顯示"),
    ("reports.locked", "已鎖定（薪酬）"),
    ("reports.open", "未鎖定"),
    ("reports.lock", "鎖定月份"),
    ("reports.unlock", "解除鎖定"),
    ("reports.done_locked", "已鎖定此月份。"),
    ("reports.done_unlocked", "已解除鎖定此月份。"),
    ("reports.download_xlsx", "下載 XLSX"),
    ("reports.download_csv", "下載 CSV（摘要）"),
    ("reports.download_csv_days", "下載 CSV（每日）"),
    ("reports.col.days_due", "應出勤日數"),
    ("reports.col.days_attended", "出勤日數"),
    ("reports.col.late_count", "遲到次數"),
    ("reports.col.late_min", "遲到分鐘"),
    ("reports.col.early_min", "早退分鐘"),
    ("reports.col.absences", "缺勤"),
    ("reports.col.missing_punches", "缺打卡"),
    ("reports.col.leave_days", "休假（日）"),
    ("reports.col.expected_hours", "應工作時數"),
    ("reports.col.worked_hours", "工作時數"),
    ("reports.col.overtime_hours", "加班時數"),
    ("reports.col.date", "日期"),
    ("reports.col.worked_min", "工作分鐘"),
    ("reports.col.overtime_min", "加班分鐘"),
    ("reports.col.punches", "打卡"),
    ("reports.history", "鎖定記錄"),
    ("reports.history_empty", "此月份從未鎖定。"),
    ("reports.history_lock", "已鎖定"),
    ("reports.history_unlock", "已解除鎖定"),
    ("reports.back", "返回月份報表"),
    ("reports.days", "每日"),
    (
        "reports.invalid_month",
        "月份：請以 YYYY-MM 格式填寫，例如 2026-11。",
    ),
    ("reports.invalid_format", "格式：請選擇 xlsx 或 csv。"),
    (
        "reports.invalid_sheet",
        "工作表：請選擇 summary、days 或 warnings。",
    ),
    ("reports.invalid_action", "操作：請選擇鎖定或解除鎖定。"),
    ("reports.no_employee", "員工：你可查看的員工中沒有此員工。"),
    ("reports.no_policy", "尚未發佈政策。"),
    ("reports.kind.in", "上班"),
    ("reports.kind.out", "下班"),
    ("reports.kind.break_start", "休息開始"),
    ("reports.kind.break_end", "休息結束"),
    ("reports.kind.field", "外勤"),
    ("reports.punch.accepted", "已接受"),
    ("reports.punch.field_punch", "外勤打卡"),
    ("reports.punch.refused", "已拒絕"),
    ("reports.weekday.0", "週一"),
    ("reports.weekday.1", "週二"),
    ("reports.weekday.2", "週三"),
    ("reports.weekday.3", "週四"),
    ("reports.weekday.4", "週五"),
    ("reports.weekday.5", "週六"),
    ("reports.weekday.6", "週日"),
    ("reports.day.normal", "正常"),
    ("reports.day.exception", "異常"),
    ("reports.day.absent", "缺勤"),
    ("reports.day.on_leave", "休假"),
    ("reports.day.holiday", "假期"),
    ("reports.day.rest_day", "休息日"),
    ("reports.day.worked_day_off", "休息日上班"),
    ("reports.day.pending", "待處理"),
    ("reports.day.in_progress", "進行中"),
    ("reports.day.unscheduled", "未排班"),
    ("manage.title_forbidden", "不允許"),
    ("manage.title_not_found", "找不到"),
    ("manage.title_bad_request", "請檢查請求"),
    ("manage.forbidden_role", "你的角色不可使用此頁面或操作。"),
    ("manage.back_today", "返回今日"),
    ("manage.accounts_title", "帳戶"),
    ("manage.accounts_heading", "管理後台帳戶"),
    ("manage.role", "角色"),
    ("manage.language", "語言"),
    ("manage.status", "狀態"),
    ("manage.last_sign_in", "最後登入"),
    ("manage.actions", "操作"),
    ("manage.active", "使用中"),
    ("manage.disabled", "已停用"),
    ("manage.you", "這是你的帳戶"),
    ("manage.employee", "員工（經理適用）"),
    (
        "manage.employee_hint",
        "經理帳戶對應政策中的一名員工，並可查看其下屬。",
    ),
    ("manage.no_employee", "無"),
    ("manage.change_role", "更改角色"),
    ("manage.disable", "停用"),
    ("manage.enable", "啟用"),
    ("manage.reset_password", "重設密碼"),
    ("manage.invite", "邀請新帳戶"),
    (
        "manage.invite_hint",
        "系統會產生密碼並只顯示一次：請交給該用戶，並請其在「我的帳戶」更改。",
    ),
    ("manage.invite_submit", "建立帳戶"),
    ("manage.password_once", "密碼（只顯示一次）"),
    (
        "manage.password_once_hint",
        "請立即交出此密碼：系統不會儲存亦不會再次顯示。",
    ),
    ("manage.done_role", "已更改角色。"),
    ("manage.done_disable", "已停用帳戶並結束其所有登入。"),
    ("manage.done_enable", "已啟用帳戶。"),
    ("manage.no_account", "帳戶：你的機構沒有此帳戶。"),
    (
        "manage.err.email",
        "電郵地址：格式不正確（local@domain，最多 254 個字元）。",
    ),
    (
        "manage.err.name",
        "姓名：1 至 200 個字元，不可包含控制字元。",
    ),
    (
        "manage.err.role",
        "角色：請選擇人事管理員、經理、財務或審計。",
    ),
    (
        "manage.err.employee",
        "員工：經理帳戶須對應目前政策中的員工。",
    ),
    ("manage.err.password", "密碼：最少 12 個字元。"),
    ("manage.err.language", "語言：請選擇 English 或繁體中文。"),
    (
        "manage.err.exists",
        "電郵地址：機構已有使用此電郵地址的帳戶。",
    ),
    ("manage.err.internal", "無法儲存帳戶，請再試。"),
    (
        "manage.err.self",
        "帳戶：你不可更改自己帳戶的角色或停用自己的帳戶。",
    ),
    ("manage.account_title", "我的帳戶"),
    ("manage.account_heading", "我的帳戶"),
    ("manage.change_password", "更改密碼"),
    ("manage.current_password", "目前密碼"),
    ("manage.new_password", "新密碼"),
    ("manage.confirm_password", "再次輸入新密碼"),
    ("manage.password_rule", "最少 12 個字元。"),
    ("manage.preferred_language", "偏好語言"),
    ("manage.save", "儲存"),
    ("manage.done_password", "已更改你的密碼。"),
    ("manage.done_language", "已儲存你的偏好語言。"),
    ("manage.err.current_password", "目前密碼：不正確。"),
    ("manage.err.new_password", "新密碼：最少 12 個字元。"),
    ("manage.err.confirm", "再次輸入新密碼：與新密碼不相符。"),
    ("manage.audit_title", "審計記錄"),
    ("manage.audit_heading", "管理後台審計記錄"),
    ("manage.audit_account", "帳戶"),
    ("manage.audit_action", "操作"),
    ("manage.audit_any", "全部"),
    ("manage.audit_apply", "篩選"),
    ("manage.audit_time", "時間"),
    ("manage.audit_client", "用戶端位址"),
    ("manage.audit_detail", "詳情"),
    ("manage.audit_empty", "沒有記錄。"),
    ("manage.audit_pages", "頁面"),
    ("manage.audit_newest", "最新"),
    ("manage.audit_older", "較舊"),
    ("manage.audit_admin_token", "管理權杖"),
    ("manage.err.before", "頁面：不是審計記錄中的位置。"),
    ("manage.err.action", "操作：審計記錄中沒有此操作。"),
    ("manage.err.account", "帳戶：你的機構沒有此帳戶。"),
    ("manage.action.login_ok", "登入"),
    ("manage.action.login_failed", "登入失敗"),
    ("manage.action.login_limited", "登入被拒（次數限制）"),
    ("manage.action.logout", "登出"),
    ("manage.action.revoke_all", "登出所有裝置"),
    ("manage.action.account_created", "建立帳戶"),
    ("manage.action.account_role_changed", "更改角色"),
    ("manage.action.account_disabled", "停用帳戶"),
    ("manage.action.account_enabled", "啟用帳戶"),
    ("manage.action.password_reset", "重設密碼"),
    ("manage.action.password_changed", "更改密碼"),
    ("manage.action.language_changed", "更改語言"),
    ("manage.action.report_downloaded", "下載報表"),
    ("manage.action.month_locked", "鎖定月份"),
    ("manage.action.month_unlocked", "解除鎖定月份"),
    ("manage.action.api_token_created", "建立 API 權杖"),
    ("manage.action.api_token_revoked", "撤銷 API 權杖"),
    ("manage.action.admin_token_rotated", "更換管理權杖"),
    ("manage.tokens_title", "API 權杖"),
    ("manage.tokens_heading", "API 權杖"),
    ("manage.tokens_empty", "尚未有 API 權杖。"),
    ("manage.token_name", "名稱"),
    ("manage.token_scopes", "權限範圍"),
    ("manage.token_created", "建立"),
    ("manage.token_expires", "到期"),
    ("manage.token_last_used", "最後使用"),
    ("manage.token_never", "永不"),
    ("manage.token_revoked", "已撤銷"),
    ("manage.token_expired", "已到期"),
    ("manage.token_revoke", "撤銷"),
    ("manage.token_new", "新增 API 權杖"),
    ("manage.token_expires_on", "最後有效日（選填）"),
    (
        "manage.token_expires_hint",
        "權杖有效至機構時區的這一天完結；留空即不會到期。",
    ),
    ("manage.token_create", "建立權杖"),
    ("manage.token_once", "API 權杖（只顯示一次）"),
    (
        "manage.token_once_hint",
        "請立即複製：系統只儲存其雜湊值，不會再次顯示。",
    ),
    ("manage.done_revoked", "已撤銷 API 權杖。"),
    ("manage.no_token", "API 權杖：你的機構沒有此有效權杖。"),
    (
        "manage.err.token_name",
        "名稱：1 至 100 個字元，不可包含控制字元。",
    ),
    (
        "manage.err.scopes",
        "權限範圍：請至少選擇一項列出的權限範圍。",
    ),
    (
        "manage.err.expires",
        "最後有效日：請填寫今日或以後的日期（YYYY-MM-DD）。",
    ),
    ("manage.scope.policy_read", "讀取政策及檢查草稿"),
    ("manage.scope.policy_write", "發佈政策"),
    ("manage.scope.devices_read", "列出裝置及驗證記錄鏈"),
    ("manage.scope.devices_write", "發出登記碼及管理裝置"),
    (
        "manage.scope.attendance_read",
        "讀取打卡、每日、每月、鎖定及延遲變更",
    ),
    ("manage.scope.attendance_lock", "鎖定及解除鎖定月份"),
    ("manage.scope.reports_read", "下載每月出勤匯出檔"),
    ("manage.scope.requests_read", "讀取申請及更正"),
    (
        "manage.scope.console_admin",
        "建立管理後台帳戶及讀取審計記錄",
    ),
    ("manage.rotate_heading", "更換管理權杖"),
    (
        "manage.rotate_hint",
        "發出新的機構管理權杖，只顯示一次。舊權杖會即時失效：請更新所有使用它的程式。更換後，種子檔中的管理權杖不再適用。",
    ),
    ("manage.rotate_confirm", "我明白舊管理權杖會即時失效"),
    ("manage.rotate_submit", "更換管理權杖"),
    (
        "manage.err.confirm_rotate",
        "確認：請勾選方塊，確認舊管理權杖會即時失效。",
    ),
    ("manage.admin_token_once", "新管理權杖（只顯示一次）"),
    (
        "manage.admin_token_once_hint",
        "請立即複製：系統只儲存其雜湊值，舊管理權杖已失效。",
    ),
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
