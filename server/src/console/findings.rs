//! The engine's findings in people's words: a short label in English and Traditional Chinese
//! for every stable code the console shows, the verdict's reasons (`outside_fence`), a day's
//! findings (`missing_clock_out`) and the month's labour-law warnings (`hk_rest_day_7`).
//!
//! The engine's own message, in English with the numbers (`37 m outside Causeway Bay Store`),
//! is shown beside the label; the label is what a reader of either language scans for. A test
//! checks that every code of the core has a label in both languages, so a new code cannot
//! reach the console untranslated. An unknown code (from a newer engine) shows as itself.

use super::i18n::Lang;

/// `(code, English, 繁體中文)`.
const LABELS: &[(&str, &str, &str)] = &[
    // Verdict reasons (daka_core::Code).
    (
        "inside_fence",
        "Inside the site's fence",
        "在工作地點範圍內",
    ),
    ("wifi_match", "Site Wi-Fi in range", "偵測到工作地點 Wi-Fi"),
    ("location_uncertain", "Location uncertain", "位置不確定"),
    (
        "outside_fence",
        "Outside the site's fence",
        "在工作地點範圍外",
    ),
    ("no_assigned_site", "No site assigned", "未獲分配工作地點"),
    (
        "no_location_evidence",
        "No location evidence",
        "沒有位置證據",
    ),
    ("mock_location", "Mock location", "模擬位置"),
    ("impossible_travel", "Impossible travel", "移動速度不可能"),
    ("stale_fix", "Stale location fix", "定位已過時"),
    ("poor_accuracy", "Poor location accuracy", "定位精確度不足"),
    (
        "implausible_accuracy",
        "Implausible accuracy",
        "定位精確度不合理",
    ),
    (
        "implausible_fix_time",
        "Implausible fix time",
        "定位時間不合理",
    ),
    ("repeated_fix", "Repeated location fix", "定位完全重複"),
    ("clock_jump", "Device clock changed", "裝置時鐘曾被更改"),
    (
        "untrusted_time",
        "Time not confirmed by the server",
        "時間未經伺服器確認",
    ),
    ("face_token_missing", "No face check", "沒有人臉核對"),
    (
        "face_token_malformed",
        "Face check unreadable",
        "人臉核對結果無法讀取",
    ),
    (
        "face_token_algorithm_refused",
        "Face check signed with a refused algorithm",
        "人臉核對的簽署演算法不獲接受",
    ),
    (
        "face_token_unknown_key",
        "Face check from an unknown key",
        "人臉核對來自未知金鑰",
    ),
    (
        "face_token_key_mismatch",
        "Face check key mismatch",
        "人臉核對金鑰不符",
    ),
    (
        "face_token_bad_signature",
        "Face check signature invalid",
        "人臉核對簽署無效",
    ),
    (
        "face_token_wrong_issuer",
        "Face check from the wrong issuer",
        "人臉核對簽發者不符",
    ),
    ("face_token_expired", "Face check expired", "人臉核對已過期"),
    (
        "face_token_not_yet_valid",
        "Face check not yet valid",
        "人臉核對尚未生效",
    ),
    (
        "face_token_too_old",
        "Face check too old",
        "人臉核對時間太久",
    ),
    (
        "face_token_wrong_subject",
        "Face matched another person",
        "人臉與另一人相符",
    ),
    (
        "face_token_wrong_nonce",
        "Face check for another attempt",
        "人臉核對屬於另一次打卡",
    ),
    (
        "face_token_replayed",
        "Face check used twice",
        "人臉核對被重複使用",
    ),
    (
        "face_score_too_low",
        "Face match score too low",
        "人臉相似度過低",
    ),
    (
        "face_liveness_failed",
        "Liveness check failed",
        "活體檢測未通過",
    ),
    ("face_matched", "Face matched", "人臉相符"),
    ("unknown_employee", "Unknown employee", "未知員工"),
    // A day's findings (daka_core::attendance::DayCode).
    ("late", "Late", "遲到"),
    ("early_leave", "Left early", "早退"),
    ("missing_clock_in", "Missing clock-in", "缺上班打卡"),
    ("missing_clock_out", "Missing clock-out", "缺下班打卡"),
    ("absent", "Absent", "缺勤"),
    ("on_leave", "On leave", "休假"),
    ("overtime", "Overtime", "加班"),
    ("pending_review", "Awaiting review", "待審核"),
    ("extra_punch", "Extra punch", "多餘打卡"),
    ("worked_rest_day", "Worked on a rest day", "休息日上班"),
    ("worked_holiday", "Worked on a holiday", "假日上班"),
    (
        "hk_alternative_holiday_due",
        "Alternative holiday due",
        "須安排代替假日",
    ),
    (
        "long_stretch",
        "Long stretch without a break",
        "長時間連續工作",
    ),
    ("corrected", "Corrected", "已更正"),
    // The month's warnings (daka_core::attendance::WarningCode).
    (
        "hk_rest_day_7",
        "No rest day in 7 days",
        "連續七日沒有休息日",
    ),
    (
        "hk_continuous_contract",
        "Continuous contract at risk",
        "連續性合約可能不成立",
    ),
    (
        "hk_hours_record",
        "Hours must be recorded",
        "須記錄工作時數",
    ),
    (
        "weekly_hours",
        "Weekly hours over the limit",
        "每週工時超出上限",
    ),
];

/// The label of `code` in `lang`; the code itself when it has none.
pub fn label(lang: Lang, code: &str) -> String {
    LABELS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, en, zh)| match lang {
            Lang::En => *en,
            Lang::ZhHant => *zh,
        })
        .unwrap_or(code)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use daka_core::Code;
    use daka_core::attendance::{DayCode, WarningCode};

    use super::*;

    #[test]
    fn every_code_of_the_engine_has_a_label_in_both_languages() {
        let codes = Code::ALL
            .iter()
            .map(|c| c.as_str())
            .chain(DayCode::ALL.iter().map(|c| c.as_str()))
            .chain(WarningCode::ALL.iter().map(|c| c.as_str()));
        for code in codes {
            let (_, en, zh) = LABELS
                .iter()
                .find(|(c, _, _)| *c == code)
                .unwrap_or_else(|| panic!("no label for {code}"));
            assert!(!en.is_empty() && !zh.is_empty(), "{code}");
            assert!(!zh.is_ascii(), "{code}: the Chinese label is in Chinese");
            assert_eq!(label(Lang::En, code), *en);
            assert_eq!(label(Lang::ZhHant, code), *zh);
        }
    }

    #[test]
    fn labels_are_listed_once_and_unknown_codes_show_as_themselves() {
        let unique: BTreeSet<&str> = LABELS.iter().map(|(c, _, _)| *c).collect();
        assert_eq!(unique.len(), LABELS.len());
        assert_eq!(
            label(Lang::ZhHant, "from_a_newer_engine"),
            "from_a_newer_engine"
        );
    }
}
