//! The punch evidence page (`/console/punches/{record_id}`): what a device sent, what the
//! server decided and why, with the numbers, the location against the site's fences on the
//! map, the face match, and whether the device's chain verifies.
//!
//! An account sees the punches of the employees it may see ([`super::today::visible`]); any
//! other id, existing or not, is answered 404 the same way.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use super::i18n::Lang;
use super::map::{self, MapView};
use super::{Chrome, Signed, findings, html, language, with_cookies};
use crate::api::AppState;
use crate::api::Failure;
use crate::api::admin::{ChainCheck, check_chain};
use crate::attendance::current_policy;

/// This page's route.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/console/punches/{record_id}", get(punch_page))
}

/// A name and a value, as shown.
struct Item {
    name: String,
    value: String,
}

struct ReasonView {
    code: String,
    severity: String,
    message: String,
}

impl ReasonView {
    /// The finding's label in `lang` (the code itself when this build has none).
    fn label(&self, lang: &Lang) -> String {
        findings::label(*lang, &self.code)
    }

    fn severity_label(&self, lang: &Lang) -> String {
        word(*lang, "punch.severity", &self.severity)
    }
}

/// `prefix.value` translated, or `value` itself when the table has no such key (a word from
/// a newer engine).
fn word(lang: Lang, prefix: &str, value: &str) -> String {
    let key = format!("{prefix}.{value}");
    if Lang::En.has(&key) {
        lang.t(&key).to_owned()
    } else {
        value.to_owned()
    }
}

#[derive(Template)]
#[template(path = "console/punch.html")]
struct PunchPage {
    page: Chrome,
    record_id: String,
    kind: String,
    employee_id: String,
    employee_name: String,
    device_id: String,
    seq: u64,
    device_time: String,
    trusted_time: String,
    received: String,
    status: String,
    decision: String,
    reasons: Vec<ReasonView>,
    location: Vec<Item>,
    thresholds: Vec<Item>,
    fix: Vec<Item>,
    face: Vec<Item>,
    face_verified: bool,
    face_token_sent: bool,
    chain: ChainCheck,
    site_name: String,
    map: Option<MapView>,
    policy_version: u64,
}

impl PunchPage {
    /// The server's decision in the page's language.
    fn decision_label(&self) -> String {
        word(self.page.lang, "punch.decision", &self.decision)
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

fn items(v: &Value) -> Vec<Item> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_object() && !v.is_array())
                .map(|(k, v)| Item {
                    name: k.clone(),
                    value: text(v),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn not_found(lang: super::i18n::Lang, signed: &Signed) -> Response {
    html(
        StatusCode::NOT_FOUND,
        super::policy::message_page(lang, signed, "punch.not_found", "/console/today"),
    )
}

async fn punch_page(
    State(state): State<AppState>,
    signed: Signed,
    Path(record_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, cookie) = language(&headers, &raw, Some(&signed.account), secure);
    if record_id.len() > 64 {
        return not_found(lang, &signed);
    }
    let account = signed.account.clone();
    let id = record_id.clone();
    let found = state
        .db(move |s| {
            let Some(policy) = current_policy(s.storage.as_ref(), &account.org_id)? else {
                return Ok(None);
            };
            let Some((punch, record)) = s.storage.punch_with_record(&account.org_id, &id)? else {
                return Ok(None);
            };
            if !super::today::visible(&policy, &account).contains(&punch.employee_id) {
                return Ok(None);
            }
            let judged = s
                .storage
                .policy(&account.org_id, punch.policy_version)?
                .and_then(|p| serde_json::from_str::<Value>(&p.document).ok());
            let chain = match s.storage.device(&punch.device_id)? {
                Some(device) => {
                    let texts = s.storage.chain_records(&account.org_id, &device.id)?;
                    Some(check_chain(&device, &texts))
                }
                None => None,
            };
            let name = policy
                .employees
                .iter()
                .find(|e| e.id == punch.employee_id)
                .map(|e| e.name.clone())
                .unwrap_or_default();
            Ok(Some((
                punch,
                record,
                judged,
                chain,
                name,
                policy.time_zone(),
            )))
        })
        .await;
    let (punch, record, judged, chain, employee_name, tz) = match found {
        Ok(Some(x)) => x,
        Ok(None) => return not_found(lang, &signed),
        Err(f) => return f.into_response(),
    };
    let Some(chain) = chain else {
        return Failure::internal("punch of an unknown device").into_response();
    };
    let record: Value = serde_json::from_str(&record).unwrap_or(Value::Null);
    let verdict: Value = serde_json::from_str(&punch.server_verdict).unwrap_or(Value::Null);
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    };
    let fix_v = &record["evidence"]["fix"];
    let fix = match (
        fix_v["lat"].as_f64(),
        fix_v["lon"].as_f64(),
        fix_v["accuracy_m"].as_f64(),
    ) {
        (Some(lat), Some(lon), Some(accuracy_m)) => Some(map::Fix {
            lat,
            lon,
            accuracy_m,
        }),
        _ => None,
    };
    // The site the verdict names, else the nearest site of the judged version.
    let site_id = verdict["location"]["site_id"].as_str().map(str::to_owned);
    let site = judged.as_ref().and_then(|d| {
        let sites = d["sites"].as_array()?;
        match &site_id {
            Some(id) => sites.iter().find(|s| s["id"].as_str() == Some(id)).cloned(),
            None => None,
        }
    });
    let mut map = match (&site, fix) {
        (Some(site), _) => Some(super::policy::site_map(site, fix)),
        (None, Some(f)) => Some(map::draw(&[], 0.0, Some(f))),
        (None, None) => None,
    };
    let csp = map.as_mut().and_then(|m| super::policy::tiles(&state, m));
    let mut thresholds = Vec::new();
    if let Some(d) = &judged {
        let t = &d["thresholds"];
        for (name, v) in [
            ("max_accuracy_m", &t["max_accuracy_m"]),
            ("uncertain", &t["uncertain"]),
            ("presence.rule", &t["presence"]["rule"]),
            (
                "presence.accept_probability",
                &t["presence"]["accept_probability"],
            ),
            (
                "presence.reject_probability",
                &t["presence"]["reject_probability"],
            ),
            ("face.required", &t["face"]["required"]),
            ("face.min_score", &t["face"]["min_score"]),
            ("face.min_liveness", &t["face"]["min_liveness"]),
        ] {
            if !v.is_null() {
                thresholds.push(Item {
                    name: name.into(),
                    value: text(v),
                });
            }
        }
        if let Some(s) = &site {
            thresholds.push(Item {
                name: "site.tolerance_m".into(),
                value: text(s.get("tolerance_m").unwrap_or(&Value::from(0))),
            });
        }
    }
    let reasons = verdict["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| ReasonView {
                    code: text(&r["code"]),
                    severity: text(&r["severity"]),
                    message: text(&r["message"]),
                })
                .collect()
        })
        .unwrap_or_else(|| {
            // A record refused before the rules ran: `{decision, code, message}`.
            if verdict["code"].is_string() {
                vec![ReasonView {
                    code: text(&verdict["code"]),
                    severity: "reject".into(),
                    message: text(&verdict["message"]),
                }]
            } else {
                Vec::new()
            }
        });
    let device_time = record["clock"]["wall"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| local(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default();
    let page = PunchPage {
        page: Chrome::new(
            lang,
            "punch.title",
            &format!("/console/punches/{record_id}"),
            Some(&signed),
        ),
        record_id,
        kind: punch.kind.clone(),
        employee_id: punch.employee_id.clone(),
        employee_name,
        device_id: punch.device_id.clone(),
        seq: punch.seq,
        device_time,
        trusted_time: local(punch.judged_at),
        received: local(punch.received_at),
        status: punch.status.as_str().to_owned(),
        decision: text(&verdict["decision"]),
        reasons,
        location: items(&verdict["location"]),
        thresholds,
        fix: items(fix_v),
        face: items(&verdict["face"]),
        face_verified: verdict["face"].is_object(),
        face_token_sent: record["evidence"]["face_token"].is_string(),
        chain,
        site_name: site
            .as_ref()
            .and_then(|s| s["name"].as_str())
            .unwrap_or_default()
            .to_owned(),
        map,
        policy_version: punch.policy_version,
    };
    super::policy::with_csp(
        with_cookies(html(StatusCode::OK, page.render()), cookie),
        csp,
    )
}
