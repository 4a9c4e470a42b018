//! JSON → validated [`Policy`]: the walk over the document, field by field.
//!
//! The text is parsed once into a compact tree ([`super::json`]) and then walked by hand, so
//! every failure names the path of the bad value. Within an object, unknown and repeated
//! fields are reported first (in document order), then the fields in the order the format
//! documents them; lists are checked element by element; cross-references (employee sites,
//! managers, the face-matcher requirement) are resolved after everything they refer to has
//! been read. The first problem found is returned.
//!
//! Geometry lives in [`super::geometry`], JWKs in [`super::keys`], limits in
//! [`super::limits`]; BSSIDs are normalised by [`normalize_bssid`], the same function that
//! normalises scanned BSSIDs, so the two always compare equal. The format itself is
//! documented in `docs/policy.md`; keep the two in step.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::str::FromStr;

use super::enrolment::EnrolmentPolicy;
use super::error::{PolicyError, PolicyErrorKind};
use super::geometry::{WorkBudget, made_polygon_problem, parse_fences};
use super::json::{self, Json, Obj, Path};
use super::keys::parse_jwk;
use super::limits::*;
use super::text::{parse_id, parse_text};
use super::{
    Employee, FaceRules, Fence, Org, Policy, PresenceRule, Site, SiteIdx, Thresholds, TrustedKey,
    UncertainAction,
};
use crate::approvals::ApprovalPolicy;
use crate::attendance::AttendancePolicy;
use crate::evidence::wifi::normalize_bssid;
use crate::geofence::grow;

const ROOT_FIELDS: &[&str] = &[
    "version",
    "org",
    "thresholds",
    "sites",
    "employees",
    "face_matchers",
    "approvals",
    "attendance",
    "enrolment",
];
const ORG_FIELDS: &[&str] = &["id", "name", "time_zone"];
const THRESHOLD_FIELDS: &[&str] = &[
    "max_accuracy_m",
    "uncertain",
    "max_fix_age_s",
    "max_travel_speed_kmh",
    "clock_jump_tolerance_s",
    "face",
    "presence",
];
const PRESENCE_FIELDS: &[&str] = &["rule", "accept_probability", "reject_probability"];
const FACE_FIELDS: &[&str] = &[
    "required",
    "min_score",
    "min_liveness",
    "max_token_age_s",
    "clock_skew_s",
];
const SITE_FIELDS: &[&str] = &["id", "name", "fences", "wifi_bssids", "tolerance_m"];
const EMPLOYEE_FIELDS: &[&str] = &["id", "name", "sites", "manager"];
const MATCHER_FIELDS: &[&str] = &["kid", "iss", "jwk"];

/// The time zone used when `org.time_zone` is absent.
pub(crate) const DEFAULT_TIME_ZONE: &str = "Asia/Hong_Kong";

impl Default for Thresholds {
    /// The values a policy gets for every threshold it leaves out (see `docs/policy.md`).
    fn default() -> Self {
        Thresholds {
            max_accuracy_m: 100.0,
            uncertain: UncertainAction::FieldPunch,
            max_fix_age_s: 120,
            max_travel_speed_mps: 250.0 / 3.6,
            clock_jump_tolerance_s: 120,
            face: FaceRules::default(),
            presence: PresenceRule::AccuracyCircle,
        }
    }
}

impl Default for FaceRules {
    fn default() -> Self {
        FaceRules {
            required: false,
            min_score: 0.8,
            min_liveness: 0.5,
            max_token_age_s: 120,
            clock_skew_s: 30,
        }
    }
}

pub(super) fn parse_policy(text: &str) -> Result<Policy, PolicyError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(PolicyError::new(
            "$",
            PolicyErrorKind::TooLarge {
                what: "bytes",
                max: MAX_DOCUMENT_BYTES,
            },
        ));
    }
    // A UTF-8 byte order mark (as some Windows editors write) is allowed and ignored.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = json::parse(text)?;
    let root = Path::Root;
    let obj = doc.as_object(&root, ROOT_FIELDS)?;

    let version = parse_version(obj.req(&root, "version")?, &root.key("version"))?;
    let org = parse_org(obj.req(&root, "org")?, &root.key("org"))?;
    let thresholds = match obj.get("thresholds") {
        Some(v) => parse_thresholds(v, &root.key("thresholds"))?,
        None => Thresholds::default(),
    };
    let sites = parse_sites(
        obj.req(&root, "sites")?,
        &root.key("sites"),
        thresholds.presence,
    )?;
    let employees = parse_employees(obj.req(&root, "employees")?, &root.key("employees"), &sites)?;
    let fm_path = root.key("face_matchers");
    let face_matchers = match obj.get("face_matchers") {
        Some(v) => parse_face_matchers(v, &fm_path)?,
        None if thresholds.face.required => return Err(fm_path.err(PolicyErrorKind::Missing)),
        None => Vec::new(),
    };
    if thresholds.face.required && face_matchers.is_empty() {
        return Err(fm_path.invalid(
            "[]",
            "thresholds.face.required is true, so at least one face matcher key is needed",
        ));
    }
    let approvals = match obj.get("approvals") {
        Some(v) => super::approvals::parse_approvals(v, &root.key("approvals"), &employees)?,
        None => ApprovalPolicy::default(),
    };
    let attendance = match obj.get("attendance") {
        Some(v) => super::attendance::parse_attendance(v, &root.key("attendance"), &employees)?,
        None => AttendancePolicy::default(),
    };
    let enrolment = match obj.get("enrolment") {
        Some(v) => super::enrolment::parse_enrolment(v, &root.key("enrolment"))?,
        None => EnrolmentPolicy::default(),
    };
    Ok(Policy {
        version,
        org,
        thresholds,
        sites,
        employees,
        face_matchers,
        approvals,
        attendance,
        enrolment,
    })
}

fn parse_version(v: &Json, path: &Path<'_>) -> Result<u64, PolicyError> {
    let n = v.as_u64(path)?;
    if n > MAX_VERSION {
        return Err(path.invalid(v.show(), format!("must be at most {MAX_VERSION}")));
    }
    Ok(n)
}

// ----- strings -----------------------------------------------------------------------------

// ----- org and thresholds ------------------------------------------------------------------

fn parse_org(v: &Json, path: &Path<'_>) -> Result<Org, PolicyError> {
    let obj = v.as_object(path, ORG_FIELDS)?;
    let id = parse_id(obj.req(path, "id")?, &path.key("id"))?.to_owned();
    let name = parse_text(obj.req(path, "name")?, &path.key("name"), MAX_NAME_CHARS)?;
    let time_zone = match obj.get("time_zone") {
        Some(tz) => {
            let tp = path.key("time_zone");
            let s = tz.as_str(&tp)?;
            if chrono_tz::Tz::from_str(s).is_err() {
                return Err(tp.invalid(
                    tz.show(),
                    "not an IANA time zone name (e.g. \"Asia/Hong_Kong\")",
                ));
            }
            s.to_owned()
        }
        None => DEFAULT_TIME_ZONE.to_owned(),
    };
    Ok(Org {
        id,
        name,
        time_zone,
    })
}

/// A number in `lo..=hi`, or in `lo<..=hi` when `lo_open`.
fn number_in(
    v: &Json,
    path: &Path<'_>,
    lo: f64,
    lo_open: bool,
    hi: f64,
) -> Result<f64, PolicyError> {
    let x = v.as_f64(path)?;
    let ok = if lo_open { x > lo } else { x >= lo } && x <= hi;
    if !ok {
        let range = if lo_open {
            format!("must be greater than {lo} and at most {hi}")
        } else {
            format!("must be between {lo} and {hi}")
        };
        return Err(path.invalid(v.show(), range));
    }
    Ok(x)
}

/// A whole number of seconds in `lo..=hi`.
fn seconds_in(v: &Json, path: &Path<'_>, lo: u64, hi: u64) -> Result<u64, PolicyError> {
    let n = v.as_u64(path)?;
    if !(lo..=hi).contains(&n) {
        return Err(path.invalid(v.show(), format!("must be between {lo} and {hi} seconds")));
    }
    Ok(n)
}

/// Reads optional field `key` of `obj` with `read`, or keeps `default`.
fn opt<T>(
    obj: &Obj<'_>,
    path: &Path<'_>,
    key: &str,
    default: T,
    read: impl FnOnce(&Json, &Path<'_>) -> Result<T, PolicyError>,
) -> Result<T, PolicyError> {
    match obj.get(key) {
        Some(v) => read(v, &path.key(key)),
        None => Ok(default),
    }
}

const DAY_S: u64 = 86_400;

fn parse_thresholds(v: &Json, path: &Path<'_>) -> Result<Thresholds, PolicyError> {
    let obj = v.as_object(path, THRESHOLD_FIELDS)?;
    let d = Thresholds::default();
    let max_accuracy_m = opt(&obj, path, "max_accuracy_m", d.max_accuracy_m, |v, p| {
        number_in(v, p, 0.0, true, 5_000.0)
    })?;
    let uncertain = opt(&obj, path, "uncertain", d.uncertain, |v, p| {
        match v.as_str(p)? {
            "reject" => Ok(UncertainAction::Reject),
            "allow" => Ok(UncertainAction::Allow),
            "field_punch" => Ok(UncertainAction::FieldPunch),
            _ => Err(p.invalid(
                v.show(),
                "expected \"reject\", \"allow\" or \"field_punch\"",
            )),
        }
    })?;
    let max_fix_age_s = opt(&obj, path, "max_fix_age_s", d.max_fix_age_s, |v, p| {
        seconds_in(v, p, 1, DAY_S)
    })?;
    let max_travel_speed_mps = opt(
        &obj,
        path,
        "max_travel_speed_kmh",
        d.max_travel_speed_mps,
        |v, p| Ok(number_in(v, p, 0.0, true, 2_000.0)? / 3.6),
    )?;
    let clock_jump_tolerance_s = opt(
        &obj,
        path,
        "clock_jump_tolerance_s",
        d.clock_jump_tolerance_s,
        |v, p| seconds_in(v, p, 1, DAY_S),
    )?;
    let face = opt(&obj, path, "face", d.face, parse_face_rules)?;
    let presence = opt(&obj, path, "presence", d.presence, parse_presence_rule)?;
    Ok(Thresholds {
        max_accuracy_m,
        uncertain,
        max_fix_age_s,
        max_travel_speed_mps,
        clock_jump_tolerance_s,
        face,
        presence,
    })
}

fn parse_presence_rule(v: &Json, path: &Path<'_>) -> Result<PresenceRule, PolicyError> {
    let obj = v.as_object(path, PRESENCE_FIELDS)?;
    let rule_v = obj.req(path, "rule")?;
    match rule_v.as_str(&path.key("rule"))? {
        "accuracy_circle" => {
            for key in ["accept_probability", "reject_probability"] {
                if let Some(given) = obj.get(key) {
                    return Err(path
                        .key(key)
                        .invalid(given.show(), "applies only to the rule \"probability\""));
                }
            }
            Ok(PresenceRule::AccuracyCircle)
        }
        "probability" => {
            let accept_probability = opt(
                &obj,
                path,
                "accept_probability",
                DEFAULT_ACCEPT_PROBABILITY,
                |v, p| number_in(v, p, 0.5, false, 1.0),
            )?;
            let reject_probability = opt(
                &obj,
                path,
                "reject_probability",
                DEFAULT_REJECT_PROBABILITY,
                |v, p| number_in(v, p, 0.0, false, 0.1),
            )?;
            Ok(PresenceRule::Probability {
                accept_probability,
                reject_probability,
            })
        }
        _ => Err(path.key("rule").invalid(
            rule_v.show(),
            "expected \"accuracy_circle\" or \"probability\"",
        )),
    }
}

fn parse_face_rules(v: &Json, path: &Path<'_>) -> Result<FaceRules, PolicyError> {
    let obj = v.as_object(path, FACE_FIELDS)?;
    let d = FaceRules::default();
    Ok(FaceRules {
        required: opt(&obj, path, "required", d.required, |v, p| v.as_bool(p))?,
        min_score: opt(&obj, path, "min_score", d.min_score, |v, p| {
            number_in(v, p, 0.0, false, 1.0)
        })?,
        min_liveness: opt(&obj, path, "min_liveness", d.min_liveness, |v, p| {
            number_in(v, p, 0.0, false, 1.0)
        })?,
        max_token_age_s: opt(&obj, path, "max_token_age_s", d.max_token_age_s, |v, p| {
            seconds_in(v, p, 1, DAY_S)
        })?,
        clock_skew_s: opt(&obj, path, "clock_skew_s", d.clock_skew_s, |v, p| {
            seconds_in(v, p, 0, 3_600)
        })?,
    })
}

// ----- sites -------------------------------------------------------------------------------

fn parse_sites(
    v: &Json,
    path: &Path<'_>,
    presence: PresenceRule,
) -> Result<Vec<Site>, PolicyError> {
    let items = v.as_array(path, MAX_SITES)?;
    if items.is_empty() {
        return Err(path.err(PolicyErrorKind::Empty));
    }
    let mut sites = Vec::with_capacity(items.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    let mut work = WorkBudget::new();
    for (i, item) in items.iter().enumerate() {
        let sp = path.index(i);
        let obj = item.as_object(&sp, SITE_FIELDS)?;
        let idp = sp.key("id");
        let id_v = obj.req(&sp, "id")?;
        let id = parse_id(id_v, &idp)?;
        if let Some(first) = seen.insert(id, i) {
            return Err(idp.err(PolicyErrorKind::Duplicate {
                value: id_v.show(),
                first: format!("{path}[{first}].id"),
            }));
        }
        let name = parse_text(obj.req(&sp, "name")?, &sp.key("name"), MAX_NAME_CHARS)?;
        let fences = parse_fences(obj.req(&sp, "fences")?, &sp.key("fences"), &mut work)?;
        let wifi_bssids = match obj.get("wifi_bssids") {
            Some(b) => parse_bssids(b, &sp.key("wifi_bssids"))?,
            None => Vec::new(),
        };
        let tolerance_m = opt(&obj, &sp, "tolerance_m", 0.0, |v, p| {
            number_in(v, p, 0.0, false, MAX_TOLERANCE_M)
        })?;
        if matches!(presence, PresenceRule::Probability { .. }) && tolerance_m > 0.0 {
            check_grown_fences(&fences, tolerance_m, &obj, &sp, &mut work)?;
        }
        sites.push(Site {
            id: id.to_owned(),
            name,
            fences,
            wifi_bssids,
            tolerance_m,
        });
    }
    Ok(sites)
}

/// Under the probability rule presence is judged over the site's fences grown by its
/// tolerance, so each grown polygon must itself be a valid fence: a tolerance that folds an
/// outline over itself (a notch, a gap or a hole narrower than twice the tolerance) is
/// refused at `tolerance_m`, naming the fence and the problem.
fn check_grown_fences(
    fences: &[Fence],
    tolerance_m: f64,
    site: &Obj<'_>,
    path: &Path<'_>,
    work: &mut WorkBudget,
) -> Result<(), PolicyError> {
    let tp = path.key("tolerance_m");
    let shown = site.get("tolerance_m").map(Json::show).unwrap_or_default();
    for (i, fence) in fences.iter().enumerate() {
        let Fence::Polygon(polygon) = fence else {
            continue;
        };
        if grow::closes_a_pocket(polygon, tolerance_m) {
            return Err(tp.invalid(
                shown,
                format!(
                    "fence {i} grown by {tolerance_m} m closes an opening narrower than twice \
                     the tolerance around a pocket farther than the tolerance from the fence; \
                     use a smaller tolerance, or draw the pocket as a hole of the fence"
                ),
            ));
        }
        let grown = grow::polygon(polygon, tolerance_m);
        match made_polygon_problem(&grown, work) {
            Ok(None) => {}
            Ok(Some(problem)) => {
                return Err(tp.invalid(
                    shown,
                    format!(
                        "fence {i} grown by {tolerance_m} m is not a valid outline ({problem}): a \
                         notch, a gap or a hole of it is narrower than twice the tolerance; use \
                         a smaller tolerance"
                    ),
                ));
            }
            Err(()) => {
                return Err(tp.err(PolicyErrorKind::TooLarge {
                    what: "edge-pair comparisons while checking fences",
                    max: MAX_EDGE_PAIR_CHECKS as usize,
                }));
            }
        }
    }
    Ok(())
}

fn parse_bssids(v: &Json, path: &Path<'_>) -> Result<Vec<String>, PolicyError> {
    let items = v.as_array(path, MAX_BSSIDS_PER_SITE)?;
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let bp = path.index(i);
        let raw = item.as_str(&bp)?;
        let norm = normalize_bssid(raw).ok_or_else(|| {
            bp.invalid(
                item.show(),
                "a BSSID is six pairs of hex digits separated by ':' or '-', e.g. \
                 \"aa:bb:cc:dd:ee:ff\"",
            )
        })?;
        if norm == "00:00:00:00:00:00" || norm == "ff:ff:ff:ff:ff:ff" {
            return Err(bp.invalid(item.show(), "not the address of an access point"));
        }
        if let Some(first) = seen.insert(norm.clone(), i) {
            return Err(bp.err(PolicyErrorKind::Duplicate {
                value: item.show(),
                first: format!("{path}[{first}]"),
            }));
        }
        out.push(norm);
    }
    Ok(out)
}

// ----- employees ---------------------------------------------------------------------------

fn parse_employees(
    v: &Json,
    path: &Path<'_>,
    sites: &[Site],
) -> Result<Vec<Employee>, PolicyError> {
    let items = v.as_array(path, MAX_EMPLOYEES)?;
    let site_index: HashMap<&str, SiteIdx> = sites
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut employees = Vec::with_capacity(items.len());
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    // The manager value of each employee, resolved once every id is known.
    let mut managers: Vec<Option<&Json>> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ep = path.index(i);
        let obj = item.as_object(&ep, EMPLOYEE_FIELDS)?;
        let idp = ep.key("id");
        let id_v = obj.req(&ep, "id")?;
        let id = parse_id(id_v, &idp)?;
        match index.entry(id) {
            Entry::Occupied(first) => {
                return Err(idp.err(PolicyErrorKind::Duplicate {
                    value: id_v.show(),
                    first: format!("{path}[{}].id", first.get()),
                }));
            }
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
        let name = parse_text(obj.req(&ep, "name")?, &ep.key("name"), MAX_NAME_CHARS)?;
        let sites = parse_employee_sites(obj.req(&ep, "sites")?, &ep.key("sites"), &site_index)?;
        let manager = match obj.get("manager") {
            Some(m) => Some(parse_id(m, &ep.key("manager"))?.to_owned()),
            None => None,
        };
        managers.push(obj.get("manager"));
        employees.push(Employee {
            id: id.to_owned(),
            name,
            sites,
            manager,
        });
    }

    // Resolve managers to indexes; refuse self-management, unknown ids and loops.
    let mut manager_of: Vec<Option<usize>> = vec![None; employees.len()];
    for (i, e) in employees.iter().enumerate() {
        let (Some(m), Some(mv)) = (&e.manager, managers[i]) else {
            continue;
        };
        let ep = path.index(i);
        let mp = ep.key("manager");
        match index.get(m.as_str()) {
            Some(&j) if j == i => {
                return Err(mp.invalid(mv.show(), "an employee cannot be their own manager"));
            }
            Some(&j) => manager_of[i] = Some(j),
            None => {
                return Err(mp.err(PolicyErrorKind::UnknownReference {
                    target: "employee",
                    value: mv.show(),
                }));
            }
        }
    }
    if let Some(cycle) = find_cycle(&manager_of) {
        let first = *cycle.iter().min().unwrap_or(&0);
        let start = cycle.iter().position(|&c| c == first).unwrap_or(0);
        let mut chain: Vec<&str> = cycle[start..]
            .iter()
            .chain(&cycle[..start])
            .take(6)
            .map(|&c| employees[c].id.as_str())
            .collect();
        if cycle.len() > 6 {
            chain.push("…");
        }
        chain.push(employees[first].id.as_str());
        let ep = path.index(first);
        let mp = ep.key("manager");
        let shown = managers[first].map(Json::show).unwrap_or_default();
        return Err(mp.invalid(
            shown,
            format!("management chain loops back: {}", chain.join(" → ")),
        ));
    }
    Ok(employees)
}

fn parse_employee_sites(
    v: &Json,
    path: &Path<'_>,
    site_index: &HashMap<&str, SiteIdx>,
) -> Result<Vec<SiteIdx>, PolicyError> {
    let items = v.as_array(path, MAX_SITES_PER_EMPLOYEE)?;
    if items.is_empty() {
        return Err(path.err(PolicyErrorKind::Empty));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut seen: HashMap<SiteIdx, usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ip = path.index(i);
        let id = item.as_str(&ip)?;
        let Some(&site) = site_index.get(id) else {
            return Err(ip.err(PolicyErrorKind::UnknownReference {
                target: "site",
                value: item.show(),
            }));
        };
        if let Some(first) = seen.insert(site, i) {
            return Err(ip.err(PolicyErrorKind::Duplicate {
                value: item.show(),
                first: format!("{path}[{first}]"),
            }));
        }
        out.push(site);
    }
    Ok(out)
}

/// A cycle in the "manages" graph (each employee has at most one manager), as employee
/// indexes in chain order, if there is one. Linear time.
fn find_cycle(manager_of: &[Option<usize>]) -> Option<Vec<usize>> {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; manager_of.len()];
    let mut walk = Vec::new();
    for start in 0..manager_of.len() {
        walk.clear();
        let mut cur = Some(start);
        while let Some(c) = cur {
            if state[c] != NEW {
                break;
            }
            state[c] = ON_PATH;
            walk.push(c);
            cur = manager_of[c];
        }
        if let Some(c) = cur {
            if state[c] == ON_PATH {
                let from = walk.iter().position(|&w| w == c).unwrap_or(0);
                return Some(walk[from..].to_vec());
            }
        }
        for &w in &walk {
            state[w] = DONE;
        }
    }
    None
}

// ----- face matchers -----------------------------------------------------------------------

fn parse_face_matchers(v: &Json, path: &Path<'_>) -> Result<Vec<TrustedKey>, PolicyError> {
    let items = v.as_array(path, MAX_FACE_MATCHERS)?;
    let mut keys: Vec<TrustedKey> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mp = path.index(i);
        let obj = item.as_object(&mp, MATCHER_FIELDS)?;
        let kp = mp.key("kid");
        let kid_v = obj.req(&mp, "kid")?;
        let kid = parse_id(kid_v, &kp)?;
        if let Some(first) = keys.iter().position(|k| k.kid == kid) {
            return Err(kp.err(PolicyErrorKind::Duplicate {
                value: kid_v.show(),
                first: format!("{path}[{first}].kid"),
            }));
        }
        let issuer = match obj.get("iss") {
            Some(iss) => Some(parse_text(iss, &mp.key("iss"), MAX_ISSUER_CHARS)?),
            None => None,
        };
        let key = parse_jwk(obj.req(&mp, "jwk")?, &mp.key("jwk"), kid, issuer)?;
        keys.push(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_in_chain_order() {
        assert_eq!(find_cycle(&[None, Some(0), Some(1)]), None);
        assert_eq!(find_cycle(&[Some(1), Some(2), Some(1)]), Some(vec![1, 2]));
        assert_eq!(find_cycle(&[Some(0)]), Some(vec![0]));
        assert_eq!(find_cycle(&[]), None);
    }

    #[test]
    fn default_thresholds_match_the_documented_ones() {
        let t = Thresholds::default();
        assert_eq!(t.max_accuracy_m, 100.0);
        assert_eq!(t.uncertain, UncertainAction::FieldPunch);
        assert_eq!(t.max_fix_age_s, 120);
        assert!((t.max_travel_speed_mps - 69.444).abs() < 0.001);
        assert_eq!(t.clock_jump_tolerance_s, 120);
        assert_eq!(
            t.face,
            FaceRules {
                required: false,
                min_score: 0.8,
                min_liveness: 0.5,
                max_token_age_s: 120,
                clock_skew_s: 30
            }
        );
    }
}
