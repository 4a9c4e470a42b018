//! Sites and policy: the sites with their fences on a map, the fence advisor, editors for the
//! other policy sections, and the draft of the next policy version with its review (a diff
//! against the version in force) and publication.
//!
//! Edits go to the organisation's draft (`Storage::policy_draft`), never to the version in
//! force. Every edit is validated by the same `Policy::from_json` that publishing and the
//! devices use; its error names a path (`sites[0].fences[1].radius_m`), which is shown next to
//! the field it concerns. Each edit names the draft revision it was made on, so two HR
//! officers editing at once cannot silently overwrite each other, and a draft started before
//! another version was published cannot be published. Publishing goes through
//! [`crate::policies::publish`], like `PUT /admin/v1/policy`.
//!
//! Only HR administrators edit; managers, finance and auditors see the same pages read only.

use std::sync::OnceLock;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use daka_core::Policy;
use daka_core::advisor::{AdvisorConfig, Outcomes, ToleranceAdvice, advise};
use serde_json::{Value, json};

use super::map::{self, MapView, Shape};
use super::{Chrome, Signed, auth, csrf_refused, html, language, redirect, with_cookies};
use crate::api::AppState;
use crate::api::Failure;
use crate::api::attendance::RosterWarning;
use crate::crypto;
use crate::storage::{ConsoleRole, PolicyDraft, Storage, StorageError};

use super::i18n::Lang;

/// The drawing script, compiled in.
const JS: &str = include_str!("../../assets/policy-map.js");

/// Largest form read by these pages (a policy section can be a few tens of kilobytes).
const MAX_POLICY_FORM_BYTES: usize = 256 * 1024;

/// Largest body of an advice request.
const MAX_ADVICE_BYTES: usize = 64 * 1024;

/// Simulated people per population for the advisor on these pages: small, so that it answers
/// well under a second.
const ADVICE_SAMPLES: u32 = 400;

/// Fences a site form takes at most (the policy's own limit).
const MAX_FENCES: usize = 100;

/// The script's file name, with the start of its SHA-256.
pub(super) fn js_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| format!("policy-map-{}.js", &crypto::sha256_hex(JS.as_bytes())[..16]))
}

/// The script, for `/console/assets/`.
pub(super) fn js_asset() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        JS,
    )
        .into_response()
}

/// These pages' routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/console/sites", get(sites_page))
        .route("/console/sites/{site_id}", get(site_page).post(site_post))
        .route("/console/sites/{site_id}/advice", post(site_advice))
        .route("/console/policy", get(sections_page))
        .route("/console/policy/sections/{section}", post(section_post))
        .route("/console/policy/review", get(review_page))
        .route("/console/policy/publish", post(publish_post))
        .route("/console/policy/discard", post(discard_post))
}

// ---- the draft --------------------------------------------------------------------------------

/// The version in force and the draft being edited (the version in force, renumbered, when no
/// draft is stored).
#[derive(Debug, Clone)]
struct Working {
    /// The version in force.
    current_version: u64,
    /// The version in force as pretty JSON.
    current_pretty: String,
    /// The stored draft, if any.
    stored: Option<PolicyDraft>,
    /// The draft document.
    doc: Value,
    /// Its revision (0: nothing edited yet).
    rev: u64,
    /// The version it is based on.
    base_version: u64,
}

impl Working {
    /// Whether another version was published after the draft was started.
    fn stale(&self) -> bool {
        self.base_version != self.current_version
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn load(storage: &dyn Storage, org_id: &str) -> Result<Option<Working>, Failure> {
    let Some(current) = storage.current_policy(org_id)? else {
        return Ok(None);
    };
    let current_doc: Value = serde_json::from_str(&current.document)
        .map_err(|e| Failure::internal(format!("stored policy: {e}")))?;
    let stored = storage.policy_draft(org_id)?;
    let (doc, rev, base_version) = match &stored {
        Some(d) => (
            serde_json::from_str(&d.document)
                .map_err(|e| Failure::internal(format!("stored draft: {e}")))?,
            d.rev,
            d.base_version,
        ),
        None => {
            let mut doc = current_doc.clone();
            doc["version"] = json!(current.version + 1);
            (doc, 0, current.version)
        }
    };
    Ok(Some(Working {
        current_version: current.version,
        current_pretty: pretty(&current_doc),
        stored,
        doc,
        rev,
        base_version,
    }))
}

/// What saving an edit did.
enum Saved {
    /// Stored as revision `rev + 1`.
    Saved,
    /// The draft moved on since the form was loaded.
    Stale,
}

fn save(
    storage: &dyn Storage,
    org_id: &str,
    w: &Working,
    mut doc: Value,
    form_rev: u64,
    email: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Saved, StorageError> {
    if form_rev != w.rev {
        return Ok(Saved::Stale);
    }
    doc["version"] = json!(w.base_version + 1);
    let ok = storage.save_policy_draft(
        &PolicyDraft {
            org_id: org_id.to_owned(),
            base_version: w.base_version,
            rev: w.rev + 1,
            document: pretty(&doc),
            updated_at: now,
            updated_by: email.to_owned(),
        },
        w.rev,
    )?;
    Ok(if ok { Saved::Saved } else { Saved::Stale })
}

fn validate(doc: &Value) -> Result<Policy, daka_core::PolicyError> {
    Policy::from_json(&pretty(doc))
}

/// The draft's state as the pages show it.
struct DraftInfo {
    current_version: u64,
    next_version: u64,
    rev: u64,
    edited: bool,
    updated_by: String,
    updated_at: String,
    stale: bool,
}

impl DraftInfo {
    fn of(w: &Working) -> DraftInfo {
        DraftInfo {
            current_version: w.current_version,
            next_version: w.base_version + 1,
            rev: w.rev,
            edited: w.stored.is_some(),
            updated_by: w
                .stored
                .as_ref()
                .map(|d| d.updated_by.clone())
                .unwrap_or_default(),
            updated_at: w
                .stored
                .as_ref()
                .map(|d| d.updated_at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            stale: w.stale(),
        }
    }
}

// ---- requests ---------------------------------------------------------------------------------

/// A form body's fields, in order.
struct Fields(Vec<(String, String)>);

impl Fields {
    async fn read(body: Body, max: usize) -> Result<Fields, Response> {
        let bytes = axum::body::to_bytes(body, max)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        Ok(Fields(
            url::form_urlencoded::parse(&bytes).into_owned().collect(),
        ))
    }

    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A signed-in POST of an HR administrator with its CSRF token checked (in the `csrf` field,
/// or the `X-CSRF-Token` header); the 403 page otherwise.
async fn hr_post(
    state: &AppState,
    req: Request,
    max: usize,
) -> Result<(Signed, String, Lang, Fields), Response> {
    let (mut parts, body) = req.into_parts();
    let client = super::client(&parts, &state.inner.options.trusted_proxies);
    let signed = Signed::from_request_parts(&mut parts, state).await?;
    let secure = state.inner.options.console_secure_cookies;
    let (lang, _) = language(&parts.headers, &None, Some(&signed.account), secure);
    let fields = Fields::read(body, max).await?;
    let header = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let given = if header.is_empty() {
        fields.get("csrf")
    } else {
        header
    };
    if !auth::same_secret(&signed.csrf(), given) {
        return Err(csrf_refused(lang));
    }
    if signed.account.role != ConsoleRole::HrAdmin {
        return Err(refused(lang, &signed, "policy.forbidden_role"));
    }
    Ok((signed, client, lang, fields))
}

#[derive(Template)]
#[template(path = "console/policy_message.html")]
struct MessagePage {
    page: Chrome,
    message_key: &'static str,
    detail: String,
    back: String,
}

/// The message page, for the other console pages of this part.
pub(super) fn message_page(
    lang: Lang,
    signed: &Signed,
    key: &'static str,
    back: &str,
) -> Result<String, askama::Error> {
    MessagePage {
        page: Chrome::new(lang, "policy.title", back, Some(signed)),
        message_key: key,
        detail: String::new(),
        back: back.to_owned(),
    }
    .render()
}

fn refused(lang: Lang, signed: &Signed, key: &'static str) -> Response {
    html(
        StatusCode::FORBIDDEN,
        MessagePage {
            page: Chrome::new(lang, "policy.title", "/console/sites", Some(signed)),
            message_key: key,
            detail: String::new(),
            back: "/console/sites".into(),
        }
        .render(),
    )
}

fn message(
    status: StatusCode,
    lang: Lang,
    signed: &Signed,
    key: &'static str,
    detail: String,
    back: &str,
) -> Response {
    html(
        status,
        MessagePage {
            page: Chrome::new(lang, "policy.title", back, Some(signed)),
            message_key: key,
            detail,
            back: back.to_owned(),
        }
        .render(),
    )
}

fn not_found(lang: Lang, signed: &Signed) -> Response {
    message(
        StatusCode::NOT_FOUND,
        lang,
        signed,
        "policy.not_found",
        String::new(),
        "/console/sites",
    )
}

fn no_policy(lang: Lang, signed: &Signed) -> Response {
    message(
        StatusCode::NOT_FOUND,
        lang,
        signed,
        "policy.no_policy",
        String::new(),
        "/console/today",
    )
}

fn audit_entry(
    state: &AppState,
    signed: &Signed,
    action: &str,
    client: &str,
    detail: String,
) -> crate::storage::NewConsoleAudit {
    super::audit(
        state,
        Some(signed.account.org_id.clone()),
        Some(signed.account.id.clone()),
        &signed.account.email,
        action,
        client,
        detail,
    )
}

// ---- the sites list ---------------------------------------------------------------------------

struct SiteRow {
    id: String,
    name: String,
    fences: usize,
    tolerance: String,
    bssids: usize,
}

#[derive(Template)]
#[template(path = "console/policy_sites.html")]
struct SitesPage {
    page: Chrome,
    draft: DraftInfo,
    sites: Vec<SiteRow>,
    can_edit: bool,
}

fn num_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

async fn sites_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let org = signed.account.org_id.clone();
    let w = match state.db(move |s| load(s.storage.as_ref(), &org)).await {
        Ok(Some(w)) => w,
        Ok(None) => return no_policy(lang, &signed),
        Err(f) => return f.into_response(),
    };
    let sites = w.doc["sites"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| SiteRow {
                    id: s["id"].as_str().unwrap_or_default().to_owned(),
                    name: s["name"].as_str().unwrap_or_default().to_owned(),
                    fences: site_fence_forms(s).len(),
                    tolerance: num_text(s.get("tolerance_m")),
                    bssids: s["wifi_bssids"].as_array().map_or(0, Vec::len),
                })
                .collect()
        })
        .unwrap_or_default();
    let page = SitesPage {
        page: Chrome::new(lang, "policy.sites_title", "/console/sites", Some(&signed)),
        draft: DraftInfo::of(&w),
        sites,
        can_edit: signed.account.role == ConsoleRole::HrAdmin,
    };
    with_cookies(html(StatusCode::OK, page.render()), cookie)
}

// ---- a site -----------------------------------------------------------------------------------

/// One fence's form fields.
#[derive(Debug, Clone, Default)]
struct FenceForm {
    /// Field-name prefix: `f0`, `f1`, …, or `new`.
    key: String,
    /// `polygon`, `circle`, or (the new fence) `none`.
    kind: String,
    /// `lat, lon` per line.
    vertices: String,
    /// `lat, lon`.
    center: String,
    /// Metres.
    radius: String,
    /// Holes of a polygon, JSON (kept as they are).
    holes: String,
}

impl FenceForm {
    fn label_number(&self) -> String {
        self.key
            .trim_start_matches('f')
            .parse::<usize>()
            .map_or_else(|_| String::new(), |i| (i + 1).to_string())
    }
}

fn latlon(c: &Value) -> Option<(f64, f64)> {
    Some((c.get(1)?.as_f64()?, c.get(0)?.as_f64()?))
}

fn ring_text(ring: &Value) -> String {
    let mut pts: Vec<(f64, f64)> = ring
        .as_array()
        .map(|r| r.iter().filter_map(latlon).collect())
        .unwrap_or_default();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts.iter()
        .map(|(la, lo)| format!("{la}, {lo}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn polygon_form(key: String, coordinates: &Value) -> FenceForm {
    let rings = coordinates.as_array().cloned().unwrap_or_default();
    let holes: Vec<Value> = rings.iter().skip(1).cloned().collect();
    FenceForm {
        key,
        kind: "polygon".into(),
        vertices: rings.first().map(ring_text).unwrap_or_default(),
        holes: if holes.is_empty() {
            String::new()
        } else {
            Value::Array(holes).to_string()
        },
        ..FenceForm::default()
    }
}

/// A site's fences as form fields: one per polygon (a MultiPolygon gives one per part) or
/// circle.
fn site_fence_forms(site: &Value) -> Vec<FenceForm> {
    let mut out = Vec::new();
    for fence in site["fences"].as_array().into_iter().flatten() {
        let key = || format!("f{}", out.len());
        if fence.get("center").is_some() {
            let k = key();
            out.push(FenceForm {
                key: k,
                kind: "circle".into(),
                center: latlon(&fence["center"])
                    .map(|(la, lo)| format!("{la}, {lo}"))
                    .unwrap_or_default(),
                radius: num_text(fence.get("radius_m")),
                ..FenceForm::default()
            });
        } else if fence["type"] == "MultiPolygon" {
            for part in fence["coordinates"].as_array().into_iter().flatten() {
                let k = format!("f{}", out.len());
                out.push(polygon_form(k, part));
            }
        } else {
            let k = key();
            out.push(polygon_form(k, &fence["coordinates"]));
        }
    }
    out
}

/// A site's form as submitted or loaded.
#[derive(Debug, Clone, Default)]
struct SiteForm {
    name: String,
    tolerance: String,
    bssids: String,
    fences: Vec<FenceForm>,
    new_fence: FenceForm,
    /// Fences (by key) marked for removal.
    removed: Vec<String>,
}

impl SiteForm {
    fn of(site: &Value) -> SiteForm {
        SiteForm {
            name: site["name"].as_str().unwrap_or_default().to_owned(),
            tolerance: num_text(site.get("tolerance_m")),
            bssids: site["wifi_bssids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            fences: site_fence_forms(site),
            new_fence: FenceForm {
                key: "new".into(),
                kind: "none".into(),
                ..FenceForm::default()
            },
            removed: Vec::new(),
        }
    }

    fn read(f: &Fields) -> SiteForm {
        let n = f
            .get("fence_count")
            .parse::<usize>()
            .unwrap_or(0)
            .min(MAX_FENCES);
        let fence = |key: &str| FenceForm {
            key: key.to_owned(),
            kind: f.get(&format!("{key}_type")).to_owned(),
            vertices: f.get(&format!("{key}_vertices")).to_owned(),
            center: f.get(&format!("{key}_center")).to_owned(),
            radius: f.get(&format!("{key}_radius")).to_owned(),
            holes: f.get(&format!("{key}_holes")).to_owned(),
        };
        let mut new_fence = fence("new");
        if !matches!(new_fence.kind.as_str(), "polygon" | "circle") {
            new_fence.kind = "none".into();
        }
        SiteForm {
            name: f.get("name").to_owned(),
            tolerance: f.get("tolerance_m").to_owned(),
            bssids: f.get("wifi_bssids").to_owned(),
            fences: (0..n).map(|i| fence(&format!("f{i}"))).collect(),
            new_fence,
            removed: (0..n)
                .filter(|i| f.get(&format!("f{i}_remove")) == "1")
                .map(|i| format!("f{i}"))
                .collect(),
        }
    }
}

/// An error shown next to a field.
#[derive(Debug, Clone)]
struct FieldError {
    /// The field (`name`, `tolerance_m`, `wifi_bssids`, a fence key, `fences`, `site`, a
    /// section name).
    field: String,
    /// The string-table key of the words around the detail.
    key: &'static str,
    /// The detail: the core's message, or the bad line.
    detail: String,
}

/// A number as the document would write it: whole numbers without a fraction, so that
/// re-saving a form changes no line it did not change.
fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn parse_point(text: &str) -> Option<(f64, f64)> {
    let mut it = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty());
    let lat = it.next()?.parse::<f64>().ok()?;
    let lon = it.next()?.parse::<f64>().ok()?;
    if it.next().is_some() || !lat.is_finite() || !lon.is_finite() {
        return None;
    }
    Some((lat, lon))
}

/// The site's JSON from the form, and the fence key of each written fence; or the form's own
/// errors (numbers that are not numbers).
fn site_json(base: &Value, form: &SiteForm) -> Result<(Value, Vec<String>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut site = base.clone();
    site["name"] = json!(form.name.trim());
    let tol = form.tolerance.trim();
    if tol.is_empty() {
        if let Some(o) = site.as_object_mut() {
            o.remove("tolerance_m");
        }
    } else {
        match tol.parse::<f64>() {
            Ok(t) if t.is_finite() => site["tolerance_m"] = num(t),
            _ => errors.push(FieldError {
                field: "tolerance_m".into(),
                key: "policy.err.number",
                detail: tol.to_owned(),
            }),
        }
    }
    let bssids: Vec<&str> = form
        .bssids
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if bssids.is_empty() {
        if let Some(o) = site.as_object_mut() {
            o.remove("wifi_bssids");
        }
    } else {
        site["wifi_bssids"] = json!(bssids);
    }
    let mut fences = Vec::new();
    let mut keys = Vec::new();
    let all = form
        .fences
        .iter()
        .filter(|f| !form.removed.contains(&f.key))
        .chain(std::iter::once(&form.new_fence).filter(|f| f.kind != "none"));
    for f in all {
        match f.kind.as_str() {
            "circle" => {
                let center = parse_point(&f.center);
                let radius = f
                    .radius
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite());
                if center.is_none() {
                    errors.push(FieldError {
                        field: f.key.clone(),
                        key: "policy.err.center",
                        detail: f.center.clone(),
                    });
                }
                if radius.is_none() {
                    errors.push(FieldError {
                        field: f.key.clone(),
                        key: "policy.err.radius",
                        detail: f.radius.clone(),
                    });
                }
                if let (Some((la, lo)), Some(r)) = (center, radius) {
                    fences.push(json!({"center": [num(lo), num(la)], "radius_m": num(r)}));
                    keys.push(f.key.clone());
                }
            }
            _ => {
                let mut ring = Vec::new();
                for (n, line) in f.vertices.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    match parse_point(line) {
                        Some((la, lo)) => ring.push(json!([num(lo), num(la)])),
                        None => errors.push(FieldError {
                            field: f.key.clone(),
                            key: "policy.err.vertex",
                            detail: format!("{}: {line}", n + 1),
                        }),
                    }
                }
                if ring.len() > 2 && ring.first() != ring.last() {
                    ring.push(ring[0].clone());
                }
                let mut rings = vec![Value::Array(ring)];
                if !f.holes.trim().is_empty() {
                    match serde_json::from_str::<Value>(&f.holes) {
                        Ok(Value::Array(h)) => rings.extend(h),
                        _ => errors.push(FieldError {
                            field: f.key.clone(),
                            key: "policy.err.holes",
                            detail: String::new(),
                        }),
                    }
                }
                fences.push(json!({"type": "Polygon", "coordinates": rings}));
                keys.push(f.key.clone());
            }
        }
    }
    site["fences"] = Value::Array(fences);
    if errors.is_empty() {
        Ok((site, keys))
    } else {
        Err(errors)
    }
}

/// The site form's reading of a submitted body (`application/x-www-form-urlencoded`), as
/// `POST /console/sites/{site_id}` reads it: the fields, the form, and the site's JSON over
/// `base` (the site as stored); the error lists the fields at fault. For the fuzz targets
/// (`fuzz/`); not an API.
#[doc(hidden)]
pub fn read_site_form(base: &Value, body: &[u8]) -> Result<Value, Vec<String>> {
    let fields = Fields(url::form_urlencoded::parse(body).into_owned().collect());
    site_json(base, &SiteForm::read(&fields))
        .map(|(site, _)| site)
        .map_err(|errors| errors.into_iter().map(|e| e.field).collect())
}

/// The site form as the console shows it for `site`, read back: what re-saving the form
/// unchanged writes. For the fuzz targets (`fuzz/`); not an API.
#[doc(hidden)]
pub fn resave_site_form(site: &Value) -> Result<Value, Vec<String>> {
    site_json(site, &SiteForm::of(site))
        .map(|(site, _)| site)
        .map_err(|errors| errors.into_iter().map(|e| e.field).collect())
}

/// Where a core error about site `index` belongs on the site form.
fn site_error(e: &daka_core::PolicyError, index: usize, keys: &[String]) -> FieldError {
    let prefix = format!("sites[{index}]");
    let field = match e.path.strip_prefix(&prefix) {
        Some(rest) if rest.starts_with(".name") => "name".to_owned(),
        Some(rest) if rest.starts_with(".tolerance_m") => "tolerance_m".to_owned(),
        Some(rest) if rest.starts_with(".wifi_bssids") => "wifi_bssids".to_owned(),
        Some(rest) if rest.starts_with(".fences[") => rest[8..]
            .split(']')
            .next()
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| keys.get(i).cloned())
            .unwrap_or_else(|| "fences".to_owned()),
        Some(rest) if rest.starts_with(".fences") => "fences".to_owned(),
        _ => "site".to_owned(),
    };
    FieldError {
        field,
        key: "policy.err.core",
        detail: e.to_string(),
    }
}

/// The advisor's numbers for one site.
#[derive(Debug, Clone, serde::Serialize)]
struct Advice {
    accepted: String,
    reviewed: String,
    rejected: String,
    out_30: String,
    out_100: String,
    out_200: String,
    /// The suggested tolerance in metres, empty when none.
    suggested_m: String,
    /// `suggested`, `none_meets_targets` or `unsupported`.
    status: &'static str,
    too_small_for_gps: bool,
}

fn pct(o: &Outcomes, share: fn(&Outcomes) -> f64) -> String {
    format!("{:.1}", 100.0 * share(o))
}

/// Runs the fence advisor (`daka fences`) on one site of `doc` with `site` in its place: a
/// policy of that site alone, with one employee, keeping the thresholds and matcher keys.
fn advise_site(doc: &Value, site: &Value) -> Result<Advice, String> {
    let mut one = json!({
        "version": doc["version"].clone(),
        "org": doc["org"].clone(),
        "sites": [site.clone()],
        "employees": [{"id": "ADVISOR", "name": "advisor", "sites": [site["id"].clone()]}],
    });
    for key in ["thresholds", "face_matchers"] {
        if let Some(v) = doc.get(key) {
            one[key] = v.clone();
        }
    }
    let config = AdvisorConfig {
        samples_per_site: ADVICE_SAMPLES,
        ..AdvisorConfig::default()
    };
    let report = advise(&one.to_string(), &config).map_err(|e| e.to_string())?;
    let s = report
        .sites
        .first()
        .ok_or_else(|| "no site in the report".to_owned())?;
    let r = &s.current;
    let out = |d: f64| {
        r.outside_at(d)
            .map_or_else(|| "-".to_owned(), |o| pct(o, Outcomes::accepted_share))
    };
    let (status, suggested_m) = match &s.tolerance {
        ToleranceAdvice::Suggested { tolerance_m, .. } => ("suggested", format!("{tolerance_m}")),
        ToleranceAdvice::NoneMeetsTargets { .. } => ("none_meets_targets", String::new()),
        ToleranceAdvice::Unsupported { .. } => ("unsupported", String::new()),
    };
    Ok(Advice {
        accepted: pct(&r.honest, Outcomes::accepted_share),
        reviewed: pct(&r.honest, Outcomes::reviewed_share),
        rejected: pct(&r.honest, Outcomes::rejected_share),
        out_30: out(30.0),
        out_100: out(100.0),
        out_200: out(200.0),
        suggested_m,
        status,
        too_small_for_gps: s.too_small_for_gps,
    })
}

/// The shapes of a site's JSON, for the map.
fn shapes(site: &Value) -> Vec<Shape> {
    let mut out = Vec::new();
    let ring = |r: &Value| -> Vec<(f64, f64)> {
        r.as_array()
            .map(|a| a.iter().filter_map(latlon).collect())
            .unwrap_or_default()
    };
    let polygon = |c: &Value| -> Shape {
        Shape::Polygon(
            c.as_array()
                .map(|r| r.iter().map(ring).collect())
                .unwrap_or_default(),
        )
    };
    for fence in site["fences"].as_array().into_iter().flatten() {
        if let (Some(c), Some(r)) = (latlon(&fence["center"]), fence["radius_m"].as_f64()) {
            out.push(Shape::Circle(c, r.max(0.0)));
        } else if fence["type"] == "MultiPolygon" {
            for part in fence["coordinates"].as_array().into_iter().flatten() {
                out.push(polygon(part));
            }
        } else {
            out.push(polygon(&fence["coordinates"]));
        }
    }
    out
}

/// Adds the configured background tiles to a map; the content security policy the page then
/// needs (images from the tile server's origin too), `None` without tiles.
pub(super) fn tiles(state: &AppState, map: &mut MapView) -> Option<HeaderValue> {
    let template = state.inner.options.console_map_tiles.as_deref()?;
    let origin = map::tile_origin(template).ok()?;
    map::add_tiles(map, template);
    HeaderValue::from_str(
        &super::CSP.replace("img-src 'self'", &format!("img-src 'self' {origin}")),
    )
    .ok()
}

/// `response` with the page's own content security policy, when it has one.
pub(super) fn with_csp(mut response: Response, csp: Option<HeaderValue>) -> Response {
    if let Some(v) = csp {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
    }
    response
}

/// The map of a site's JSON.
pub(super) fn site_map(site: &Value, fix: Option<map::Fix>) -> MapView {
    let tol = site["tolerance_m"]
        .as_f64()
        .unwrap_or(0.0)
        .clamp(0.0, 1000.0);
    map::draw(&shapes(site), tol, fix)
}

#[derive(Template)]
#[template(path = "console/policy_site.html")]
struct SitePage {
    page: Chrome,
    draft: DraftInfo,
    site_id: String,
    form: SiteForm,
    map: MapView,
    advice: Option<Advice>,
    advice_error: String,
    errors: Vec<FieldError>,
    notice: Option<&'static str>,
    can_edit: bool,
    js: String,
    csrf: String,
}

impl SitePage {
    fn errors_for(&self, field: &str) -> Vec<&FieldError> {
        self.errors.iter().filter(|e| e.field == field).collect()
    }

    fn removed(&self, key: &str) -> bool {
        self.form.removed.iter().any(|k| k == key)
    }
}

fn site_index(doc: &Value, site_id: &str) -> Option<usize> {
    doc["sites"]
        .as_array()?
        .iter()
        .position(|s| s["id"].as_str() == Some(site_id))
}

async fn site_page(
    State(state): State<AppState>,
    signed: Signed,
    Path(site_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let org = signed.account.org_id.clone();
    let w = match state.db(move |s| load(s.storage.as_ref(), &org)).await {
        Ok(Some(w)) => w,
        Ok(None) => return no_policy(lang, &signed),
        Err(f) => return f.into_response(),
    };
    let Some(index) = site_index(&w.doc, &site_id) else {
        return not_found(lang, &signed);
    };
    let site = w.doc["sites"][index].clone();
    let notice = super::query_param(&raw, "saved").map(|_| "policy.saved");
    let mut map = site_map(&site, None);
    let csp = tiles(&state, &mut map);
    let page = SitePage {
        page: Chrome::new(
            lang,
            "policy.site_title",
            &format!("/console/sites/{site_id}"),
            Some(&signed),
        ),
        draft: DraftInfo::of(&w),
        site_id,
        form: SiteForm::of(&site),
        map,
        advice: None,
        advice_error: String::new(),
        errors: Vec::new(),
        notice,
        can_edit: signed.account.role == ConsoleRole::HrAdmin,
        js: format!("/console/assets/{}", js_name()),
        csrf: signed.csrf(),
    };
    with_csp(
        with_cookies(html(StatusCode::OK, page.render()), cookie),
        csp,
    )
}

/// What a site form's fields give: the new document and site, or errors by field.
fn apply_site_form(
    w: &Working,
    index: usize,
    form: &SiteForm,
) -> (Option<(Value, Value)>, Vec<FieldError>) {
    let base = &w.doc["sites"][index];
    match site_json(base, form) {
        Err(errors) => (None, errors),
        Ok((site, keys)) => {
            let mut doc = w.doc.clone();
            doc["sites"][index] = site.clone();
            match validate(&doc) {
                Ok(_) => (Some((doc, site)), Vec::new()),
                Err(e) => (None, vec![site_error(&e, index, &keys)]),
            }
        }
    }
}

async fn site_post(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
    req: Request,
) -> Response {
    let (signed, client, lang, fields) = match hr_post(&state, req, MAX_POLICY_FORM_BYTES).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let org = signed.account.org_id.clone();
    let w = match state.db(move |s| load(s.storage.as_ref(), &org)).await {
        Ok(Some(w)) => w,
        Ok(None) => return no_policy(lang, &signed),
        Err(f) => return f.into_response(),
    };
    let Some(index) = site_index(&w.doc, &site_id) else {
        return not_found(lang, &signed);
    };
    let form = SiteForm::read(&fields);
    let (applied, errors) = apply_site_form(&w, index, &form);
    let preview = fields.get("action") == "preview";
    let form_rev = fields.get("rev").parse::<u64>().unwrap_or(u64::MAX);
    let render = |form: SiteForm,
                  map_site: &Value,
                  advice: Option<Result<Advice, String>>,
                  errors: Vec<FieldError>,
                  status: StatusCode| {
        let (advice, advice_error) = match advice {
            Some(Ok(a)) => (Some(a), String::new()),
            Some(Err(e)) => (None, e),
            None => (None, String::new()),
        };
        let mut map = site_map(map_site, None);
        let csp = tiles(&state, &mut map);
        let page = html(
            status,
            SitePage {
                page: Chrome::new(
                    lang,
                    "policy.site_title",
                    &format!("/console/sites/{site_id}"),
                    Some(&signed),
                ),
                draft: DraftInfo::of(&w),
                site_id: site_id.clone(),
                form,
                map,
                advice,
                advice_error,
                errors,
                notice: None,
                can_edit: true,
                js: format!("/console/assets/{}", js_name()),
                csrf: signed.csrf(),
            }
            .render(),
        );
        with_csp(page, csp)
    };
    let Some((doc, site)) = applied else {
        let current_site = w.doc["sites"][index].clone();
        return render(
            form,
            &current_site,
            None,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    if preview {
        let advice = Some(advise_site(&doc, &site));
        return render(form, &site, advice, Vec::new(), StatusCode::OK);
    }
    let st = state.clone();
    let (w2, email, detail) = (
        w.clone(),
        signed.account.email.clone(),
        format!(
            "edited site {site_id} in the draft of version {}",
            w.base_version + 1
        ),
    );
    let org = signed.account.org_id.clone();
    let audit = audit_entry(&state, &signed, "policy_draft_edited", &client, detail);
    let outcome = state
        .db(move |s| {
            let saved = save(
                s.storage.as_ref(),
                &org,
                &w2,
                doc,
                form_rev,
                &email,
                st.now(),
            )?;
            if matches!(saved, Saved::Saved) {
                s.storage.add_console_audit(&audit)?;
            }
            Ok(saved)
        })
        .await;
    match outcome {
        Ok(Saved::Saved) => redirect(&format!("/console/sites/{site_id}?saved=1")),
        Ok(Saved::Stale) => message(
            StatusCode::CONFLICT,
            lang,
            &signed,
            "policy.stale_edit",
            String::new(),
            &format!("/console/sites/{site_id}"),
        ),
        Err(f) => f.into_response(),
    }
}

/// `POST /console/sites/{id}/advice`: the advisor's numbers for the fields as they are now,
/// as JSON, for the drawing script.
async fn site_advice(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
    req: Request,
) -> Response {
    let (signed, _client, _lang, fields) = match hr_post(&state, req, MAX_ADVICE_BYTES).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let org = signed.account.org_id.clone();
    let w = match state.db(move |s| load(s.storage.as_ref(), &org)).await {
        Ok(Some(w)) => w,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "no policy"})),
            )
                .into_response();
        }
        Err(f) => return f.into_response(),
    };
    let Some(index) = site_index(&w.doc, &site_id) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "no such site"})),
        )
            .into_response();
    };
    let lang = _lang;
    let form = SiteForm::read(&fields);
    let (applied, errors) = apply_site_form(&w, index, &form);
    let Some((doc, site)) = applied else {
        let list: Vec<Value> = errors
            .iter()
            .map(
                |e| json!({"field": e.field, "message": format!("{} {}", lang.t(e.key), e.detail)}),
            )
            .collect();
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"errors": list})),
        )
            .into_response();
    };
    let result = tokio::task::spawn_blocking(move || advise_site(&doc, &site)).await;
    match result {
        Ok(Ok(a)) => axum::Json(json!({"advice": a})).into_response(),
        Ok(Err(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"errors": [{"field": "site", "message": e}]})),
        )
            .into_response(),
        Err(e) => Failure::internal(format!("advisor: {e}")).into_response(),
    }
}

// ---- the other sections -----------------------------------------------------------------------

/// The sections edited as JSON: name, JSON pointer, and the core's path prefix.
const SECTIONS: &[(&str, &str, &str)] = &[
    ("thresholds", "/thresholds", "thresholds"),
    ("sites", "/sites", "sites"),
    ("employees", "/employees", "employees"),
    ("roles", "/approvals/roles", "approvals.roles"),
    ("shifts", "/attendance/shifts", "attendance.shifts"),
    ("schedules", "/attendance/schedules", "attendance.schedules"),
    ("rosters", "/attendance/people", "attendance.people"),
    ("holidays", "/attendance/holidays", "attendance.holidays"),
    ("face_matchers", "/face_matchers", "face_matchers"),
];

/// The thresholds with a field of their own: form field, JSON pointer, the core's path.
const THRESHOLD_FIELDS: &[(&str, &str, &str)] = &[
    (
        "t_max_accuracy_m",
        "/thresholds/max_accuracy_m",
        "thresholds.max_accuracy_m",
    ),
    (
        "t_uncertain",
        "/thresholds/uncertain",
        "thresholds.uncertain",
    ),
    (
        "t_accept_probability",
        "/thresholds/presence/accept_probability",
        "thresholds.presence.accept_probability",
    ),
    (
        "t_reject_probability",
        "/thresholds/presence/reject_probability",
        "thresholds.presence.reject_probability",
    ),
    (
        "t_min_score",
        "/thresholds/face/min_score",
        "thresholds.face.min_score",
    ),
];

/// One of the thresholds' own fields.
struct ThresholdField {
    name: &'static str,
    label_key: String,
    value: String,
    errors: Vec<FieldError>,
}

fn threshold_fields(doc: &Value) -> Vec<ThresholdField> {
    THRESHOLD_FIELDS
        .iter()
        .map(|(name, pointer, _)| ThresholdField {
            name,
            label_key: format!("policy.{name}"),
            value: num_text(doc.pointer(pointer)),
            errors: Vec::new(),
        })
        .collect()
}

struct SectionView {
    name: &'static str,
    title_key: String,
    hint_key: String,
    text: String,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "console/policy_sections.html")]
struct SectionsPage {
    page: Chrome,
    draft: DraftInfo,
    sections: Vec<SectionView>,
    thresholds: Vec<ThresholdField>,
    notice: Option<&'static str>,
    can_edit: bool,
    csrf: String,
}

fn section_views(doc: &Value) -> Vec<SectionView> {
    SECTIONS
        .iter()
        .map(|(name, pointer, _)| SectionView {
            name,
            title_key: format!("policy.section.{name}"),
            hint_key: format!("policy.section.{name}.hint"),
            text: doc.pointer(pointer).map(pretty).unwrap_or_default(),
            errors: Vec::new(),
        })
        .collect()
}

async fn sections_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let org = signed.account.org_id.clone();
    let w = match state.db(move |s| load(s.storage.as_ref(), &org)).await {
        Ok(Some(w)) => w,
        Ok(None) => return no_policy(lang, &signed),
        Err(f) => return f.into_response(),
    };
    let page = SectionsPage {
        page: Chrome::new(
            lang,
            "policy.sections_title",
            "/console/policy",
            Some(&signed),
        ),
        draft: DraftInfo::of(&w),
        sections: section_views(&w.doc),
        thresholds: threshold_fields(&w.doc),
        notice: super::query_param(&raw, "saved").map(|_| "policy.saved"),
        can_edit: signed.account.role == ConsoleRole::HrAdmin,
        csrf: signed.csrf(),
    };
    with_cookies(html(StatusCode::OK, page.render()), cookie)
}

/// Puts `value` at `pointer` (creating the objects on the way); removes it when `None`.
fn put(doc: &mut Value, pointer: &str, value: Option<Value>) {
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let mut at = doc;
    for p in &parts[..parts.len() - 1] {
        if !at.get(*p).is_some_and(Value::is_object) {
            at[*p] = json!({});
        }
        at = &mut at[*p];
    }
    let last = parts[parts.len() - 1];
    match value {
        Some(v) => at[last] = v,
        None => {
            if let Some(o) = at.as_object_mut() {
                o.remove(last);
            }
        }
    }
}

async fn section_post(
    State(state): State<AppState>,
    Path(section): Path<String>,
    req: Request,
) -> Response {
    let (signed, client, lang, fields) = match hr_post(&state, req, MAX_POLICY_FORM_BYTES).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(&(name, pointer, _)) = SECTIONS.iter().find(|(n, _, _)| *n == section) else {
        return not_found(lang, &signed);
    };
    let org = signed.account.org_id.clone();
    let w = match state.db(move |s| load(s.storage.as_ref(), &org)).await {
        Ok(Some(w)) => w,
        Ok(None) => return no_policy(lang, &signed),
        Err(f) => return f.into_response(),
    };
    if name == "thresholds" && fields.get("mode") == "fields" {
        let mut doc = w.doc.clone();
        let mut views = threshold_fields(&w.doc);
        let mut failed = false;
        for (view, (field, pointer, _)) in views.iter_mut().zip(THRESHOLD_FIELDS) {
            let text = fields.get(field).trim().to_owned();
            view.value = text.clone();
            let value = if text.is_empty() {
                None
            } else if *field == "t_uncertain" {
                Some(json!(text))
            } else {
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => Some(num(v)),
                    _ => {
                        view.errors.push(FieldError {
                            field: (*field).to_owned(),
                            key: "policy.err.number",
                            detail: text.clone(),
                        });
                        failed = true;
                        continue;
                    }
                }
            };
            put(&mut doc, pointer, value);
        }
        let mut section_errors = Vec::new();
        if !failed && let Err(e) = validate(&doc) {
            failed = true;
            let error = FieldError {
                field: String::new(),
                key: "policy.err.core",
                detail: e.to_string(),
            };
            match THRESHOLD_FIELDS
                .iter()
                .position(|(_, _, path)| e.path == *path)
            {
                Some(i) => views[i].errors.push(error),
                None => section_errors.push(error),
            }
        }
        if failed {
            let mut sections = section_views(&w.doc);
            if let Some(v) = sections.iter_mut().find(|v| v.name == "thresholds") {
                v.errors = section_errors;
            }
            let page = SectionsPage {
                page: Chrome::new(
                    lang,
                    "policy.sections_title",
                    "/console/policy",
                    Some(&signed),
                ),
                draft: DraftInfo::of(&w),
                sections,
                thresholds: views,
                notice: None,
                can_edit: true,
                csrf: signed.csrf(),
            };
            return html(StatusCode::UNPROCESSABLE_ENTITY, page.render());
        }
        return save_section(&state, &signed, &client, lang, w, doc, &fields, name).await;
    }
    let text = fields.get("json").to_owned();
    let mut doc = w.doc.clone();
    let error = if text.trim().is_empty() {
        put(&mut doc, pointer, None);
        validate(&doc)
            .err()
            .map(|e| (e.path.clone(), e.to_string()))
    } else {
        match serde_json::from_str::<Value>(&text) {
            Err(e) => Some((String::new(), e.to_string())),
            Ok(v) => {
                put(&mut doc, pointer, Some(v));
                validate(&doc)
                    .err()
                    .map(|e| (e.path.clone(), e.to_string()))
            }
        }
    };
    if let Some((path, detail)) = error {
        let mut views = section_views(&w.doc);
        // The error goes to the section its path names; else to the one edited.
        let target = SECTIONS
            .iter()
            .find(|(_, _, prefix)| !path.is_empty() && path.starts_with(prefix))
            .map_or(name, |(n, _, _)| *n);
        for v in &mut views {
            if v.name == name {
                v.text = text.clone();
            }
            if v.name == target {
                v.errors.push(FieldError {
                    field: target.to_owned(),
                    key: if path.is_empty() {
                        "policy.err.json"
                    } else {
                        "policy.err.core"
                    },
                    detail: detail.clone(),
                });
            }
        }
        let page = SectionsPage {
            page: Chrome::new(
                lang,
                "policy.sections_title",
                "/console/policy",
                Some(&signed),
            ),
            draft: DraftInfo::of(&w),
            sections: views,
            thresholds: threshold_fields(&w.doc),
            notice: None,
            can_edit: true,
            csrf: signed.csrf(),
        };
        return html(StatusCode::UNPROCESSABLE_ENTITY, page.render());
    }
    save_section(&state, &signed, &client, lang, w, doc, &fields, name).await
}

/// Saves a section's edit to the draft, with its audit entry.
#[allow(clippy::too_many_arguments)]
async fn save_section(
    state: &AppState,
    signed: &Signed,
    client: &str,
    lang: Lang,
    w: Working,
    doc: Value,
    fields: &Fields,
    name: &str,
) -> Response {
    let form_rev = fields.get("rev").parse::<u64>().unwrap_or(u64::MAX);
    let st = state.clone();
    let email = signed.account.email.clone();
    let org = signed.account.org_id.clone();
    let audit = audit_entry(
        state,
        signed,
        "policy_draft_edited",
        client,
        format!(
            "edited section {name} in the draft of version {}",
            w.base_version + 1
        ),
    );
    let outcome = state
        .db(move |s| {
            let saved = save(
                s.storage.as_ref(),
                &org,
                &w,
                doc,
                form_rev,
                &email,
                st.now(),
            )?;
            if matches!(saved, Saved::Saved) {
                s.storage.add_console_audit(&audit)?;
            }
            Ok(saved)
        })
        .await;
    match outcome {
        Ok(Saved::Saved) => redirect(&format!("/console/policy?saved=1#section-{name}")),
        Ok(Saved::Stale) => message(
            StatusCode::CONFLICT,
            lang,
            signed,
            "policy.stale_edit",
            String::new(),
            "/console/policy",
        ),
        Err(f) => f.into_response(),
    }
}

// ---- review and publish -----------------------------------------------------------------------

/// One line of the diff.
struct DiffLine {
    /// `+`, `-` or a space.
    sign: &'static str,
    /// `add`, `del` or `same`.
    class: &'static str,
    /// Line number in the version in force (empty for an added line).
    old: String,
    /// Line number in the draft (empty for a removed line).
    new: String,
    text: String,
}

#[derive(Template)]
#[template(path = "console/policy_review.html")]
struct ReviewPage {
    page: Chrome,
    draft: DraftInfo,
    hunks: Vec<Vec<DiffLine>>,
    added: usize,
    removed: usize,
    warnings: Vec<RosterWarning>,
    invalid: String,
    can_edit: bool,
    published: Option<u64>,
    csrf: String,
}

/// The line diff of two texts, in hunks with three lines of context.
fn diff(old: &str, new: &str) -> (Vec<Vec<DiffLine>>, usize, usize) {
    use similar::{ChangeTag, TextDiff};
    let d = TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    let mut hunks = Vec::new();
    for group in d.grouped_ops(3) {
        let mut lines = Vec::new();
        for op in group {
            for change in d.iter_changes(&op) {
                let (sign, class) = match change.tag() {
                    ChangeTag::Insert => {
                        added += 1;
                        ("+", "add")
                    }
                    ChangeTag::Delete => {
                        removed += 1;
                        ("-", "del")
                    }
                    ChangeTag::Equal => (" ", "same"),
                };
                lines.push(DiffLine {
                    sign,
                    class,
                    old: change
                        .old_index()
                        .map(|i| (i + 1).to_string())
                        .unwrap_or_default(),
                    new: change
                        .new_index()
                        .map(|i| (i + 1).to_string())
                        .unwrap_or_default(),
                    text: change.value().trim_end_matches('\n').to_owned(),
                });
            }
        }
        hunks.push(lines);
    }
    (hunks, added, removed)
}

async fn review_page(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let secure = state.inner.options.console_secure_cookies;
    let (lang, cookie) = language(&headers, &raw, Some(&signed.account), secure);
    let org = signed.account.org_id.clone();
    let w = match state.db(move |s| load(s.storage.as_ref(), &org)).await {
        Ok(Some(w)) => w,
        Ok(None) => return no_policy(lang, &signed),
        Err(f) => return f.into_response(),
    };
    let draft_text = pretty(&w.doc);
    let (hunks, added, removed) = if w.stored.is_some() {
        diff(&w.current_pretty, &draft_text)
    } else {
        (Vec::new(), 0, 0)
    };
    let (warnings, invalid) = match validate(&w.doc) {
        Ok(p) => (crate::api::admin::roster_warnings(&p), String::new()),
        Err(e) => (Vec::new(), e.to_string()),
    };
    let published = super::query_param(&raw, "published").and_then(|v| v.parse().ok());
    let page = ReviewPage {
        page: Chrome::new(
            lang,
            "policy.review_title",
            "/console/policy/review",
            Some(&signed),
        ),
        draft: DraftInfo::of(&w),
        hunks,
        added,
        removed,
        warnings,
        invalid,
        can_edit: signed.account.role == ConsoleRole::HrAdmin,
        published,
        csrf: signed.csrf(),
    };
    with_cookies(html(StatusCode::OK, page.render()), cookie)
}

/// What publishing the draft did.
enum PublishOutcome {
    Published(u64),
    NoDraft,
    StaleRev,
    StaleBase(u64),
    Refused(String),
}

async fn publish_post(State(state): State<AppState>, req: Request) -> Response {
    let (signed, client, lang, fields) = match hr_post(&state, req, 4096).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let form_rev = fields.get("rev").parse::<u64>().unwrap_or(u64::MAX);
    let st = state.clone();
    let sg = (signed.account.org_id.clone(), signed.account.email.clone());
    let audit_base = audit_entry(&state, &signed, "policy_published", &client, String::new());
    let outcome = state
        .db(move |s| {
            let (org_id, _email) = sg;
            let Some(w) = load(s.storage.as_ref(), &org_id)? else {
                return Ok(PublishOutcome::NoDraft);
            };
            if w.stored.is_none() {
                return Ok(PublishOutcome::NoDraft);
            }
            if w.rev != form_rev {
                return Ok(PublishOutcome::StaleRev);
            }
            if w.stale() {
                return Ok(PublishOutcome::StaleBase(w.current_version));
            }
            let Some(org) = s.storage.org(&org_id)? else {
                return Err(Failure::internal("organisation vanished"));
            };
            let mut doc = w.doc.clone();
            doc["version"] = json!(w.base_version + 1);
            let text = pretty(&doc);
            match crate::policies::publish(s.storage.as_ref(), &org, &text, st.now()) {
                Ok(p) => {
                    crate::attendance::recompute::run_logged(s.storage.as_ref(), s.now());
                    s.storage.delete_policy_draft(&org_id)?;
                    let mut a = audit_base;
                    a.detail = format!(
                        "published policy version {} ({} devices told)",
                        p.policy.version, p.devices
                    );
                    s.storage.add_console_audit(&a)?;
                    Ok(PublishOutcome::Published(p.policy.version))
                }
                Err(crate::policies::PublishError::NotNewer { current, .. }) => {
                    Ok(PublishOutcome::StaleBase(current))
                }
                Err(crate::policies::PublishError::Storage(e)) => Err(e.into()),
                Err(e) => Ok(PublishOutcome::Refused(e.to_string())),
            }
        })
        .await;
    let back = "/console/policy/review";
    match outcome {
        Ok(PublishOutcome::Published(v)) => redirect(&format!("{back}?published={v}")),
        Ok(PublishOutcome::NoDraft) => message(
            StatusCode::CONFLICT,
            lang,
            &signed,
            "policy.no_draft",
            String::new(),
            back,
        ),
        Ok(PublishOutcome::StaleRev) => message(
            StatusCode::CONFLICT,
            lang,
            &signed,
            "policy.stale_publish",
            String::new(),
            back,
        ),
        Ok(PublishOutcome::StaleBase(v)) => message(
            StatusCode::CONFLICT,
            lang,
            &signed,
            "policy.stale_base",
            v.to_string(),
            back,
        ),
        Ok(PublishOutcome::Refused(e)) => message(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            &signed,
            "policy.publish_refused",
            e,
            back,
        ),
        Err(f) => f.into_response(),
    }
}

async fn discard_post(State(state): State<AppState>, req: Request) -> Response {
    let (signed, client, _lang, _fields) = match hr_post(&state, req, 4096).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let org = signed.account.org_id.clone();
    let audit = audit_entry(
        &state,
        &signed,
        "policy_draft_discarded",
        &client,
        "discarded the policy draft".into(),
    );
    let done = state
        .db(move |s| {
            s.storage.delete_policy_draft(&org)?;
            s.storage.add_console_audit(&audit)?;
            Ok(())
        })
        .await;
    match done {
        Ok(()) => redirect("/console/sites"),
        Err(f) => f.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_round_trips_through_its_form() {
        let site = json!({"id": "s", "name": "S", "tolerance_m": 5, "fences": [
            {"type": "Polygon", "coordinates": [[[114, 22], [114.001, 22], [114.001, 22.001], [114, 22]]]},
            {"center": [114.1, 22.1], "radius_m": 50}
        ]});
        let form = SiteForm::of(&site);
        assert_eq!(form.fences.len(), 2);
        assert_eq!(
            form.fences[0].vertices,
            "22, 114\n22, 114.001\n22.001, 114.001"
        );
        let (back, keys) = site_json(&site, &form).unwrap();
        assert_eq!(keys, vec!["f0", "f1"]);
        assert_eq!(back["fences"][0], site["fences"][0]);
        assert_eq!(back["fences"][1], site["fences"][1]);
        assert_eq!(back["tolerance_m"], json!(5));
    }

    #[test]
    fn a_bad_vertex_line_is_named() {
        let site = json!({"id": "s", "name": "S", "fences": []});
        let mut form = SiteForm::of(&site);
        form.new_fence.kind = "polygon".into();
        form.new_fence.vertices = "22, 114\nnorth, 114".into();
        let errors = site_json(&site, &form).unwrap_err();
        assert_eq!(errors[0].field, "new");
        assert_eq!(errors[0].detail, "2: north, 114");
    }

    #[test]
    fn the_diff_marks_lines_with_signs() {
        let (hunks, added, removed) = diff("a\nb\nc\n", "a\nB\nc\n");
        assert_eq!((added, removed), (1, 1));
        let signs: Vec<&str> = hunks[0].iter().map(|l| l.sign).collect();
        assert_eq!(signs, vec![" ", "-", "+", " "]);
    }
}
