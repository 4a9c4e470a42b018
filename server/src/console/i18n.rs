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
