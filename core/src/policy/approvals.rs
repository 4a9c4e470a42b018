//! JSON → the policy's `approvals` section: roles, leave types, the missed-punch limit and
//! request templates, validated so that every route the engine computes from them is sound.
//!
//! Refused with a path-naming [`PolicyError`]: a role nobody holds or that names an unknown
//! employee; a template without fields or route, or whose every step has a condition (a form
//! matching none would have no approver); a field setting that does not fit its type; a
//! built-in request type missing a field it needs or having it with another type; a condition
//! on a field the template does not have, with an operator or constant that does not fit the
//! field's type, or nested too deeply; an approver that is an unknown role or employee.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::error::{PolicyError, PolicyErrorKind};
use super::json::{Json, Path};
use super::text::{parse_date, parse_id, parse_text};
use crate::approvals::template::{
    ApprovalPolicy, ApproverSpec, CompareOp, Condition, Field, FieldKind, LeaveType, Operand,
    RequestType, Role, StepMode, StepSpec, Template,
};
use crate::policy::Employee;

const APPROVAL_FIELDS: &[&str] = &["roles", "leave_types", "missed_punch", "templates"];
const ROLE_FIELDS: &[&str] = &["id", "members"];
const LEAVE_FIELDS: &[&str] = &[
    "id",
    "name",
    "days_per_year",
    "allow_negative",
    "time_off_in_lieu",
];
const MISSED_PUNCH_FIELDS: &[&str] = &["monthly_limit"];
const TEMPLATE_FIELDS: &[&str] = &["id", "name", "type", "fields", "route"];
const STEP_FIELDS: &[&str] = &["name", "approvers", "mode", "when"];
const APPROVER_FIELDS: &[&str] = &["manager", "role", "employees"];
const COMPARE_FIELDS: &[&str] = &["field", "op", "value"];

/// Most roles.
pub(super) const MAX_ROLES: usize = 200;
/// Most employees in one role's `members` or one step's `employees` list.
pub(super) const MAX_ROLE_MEMBERS: usize = 10_000;
/// Most leave types.
pub(super) const MAX_LEAVE_TYPES: usize = 50;
/// Most templates.
pub(super) const MAX_TEMPLATES: usize = 200;
/// Most fields in one template.
pub(super) const MAX_FIELDS: usize = 100;
/// Most steps in one route.
pub(super) const MAX_STEPS: usize = 20;
/// Most options of a choice field.
pub(super) const MAX_OPTIONS: usize = 500;
/// Longest text field a template may allow, in characters.
pub(super) const MAX_TEXT_LEN: u64 = 100_000;
/// Largest attachment a template may allow, in bytes (50 MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = 50 * 1024 * 1024;
/// Most attachments one field may allow.
pub(super) const MAX_ATTACHMENTS: u64 = 50;
/// Deepest nesting of `all` / `any` conditions.
pub(super) const MAX_CONDITION_DEPTH: usize = 8;
/// Highest manager level a step may name.
pub(super) const MAX_MANAGER_LEVEL: u64 = 5;
/// Longest date range a template may allow, in days.
pub(super) const MAX_RANGE_DAYS: u64 = 366;
/// Default missed-punch corrections per employee and month.
pub(super) const DEFAULT_MISSED_PUNCH_LIMIT: u32 = 3;

/// The punch kinds a missed-punch correction may name.
pub(super) const MISSED_PUNCH_KINDS: &[&str] = &["in", "out", "break_start", "break_end"];

pub(super) fn parse_approvals(
    v: &Json,
    path: &Path<'_>,
    employees: &[Employee],
) -> Result<ApprovalPolicy, PolicyError> {
    let obj = v.as_object(path, APPROVAL_FIELDS)?;
    let known: HashMap<&str, ()> = employees.iter().map(|e| (e.id.as_str(), ())).collect();
    let is_employee = |id: &str| known.contains_key(id);
    let roles = match obj.get("roles") {
        Some(r) => parse_roles(r, &path.key("roles"), &is_employee)?,
        None => Vec::new(),
    };
    let leave_types = match obj.get("leave_types") {
        Some(l) => parse_leave_types(l, &path.key("leave_types"))?,
        None => Vec::new(),
    };
    let missed_punch_monthly_limit = match obj.get("missed_punch") {
        Some(m) => {
            let mp = path.key("missed_punch");
            let o = m.as_object(&mp, MISSED_PUNCH_FIELDS)?;
            match o.get("monthly_limit") {
                Some(n) => {
                    let np = mp.key("monthly_limit");
                    let x = n.as_u64(&np)?;
                    if x > 31 {
                        return Err(np.invalid(n.show(), "must be between 0 and 31"));
                    }
                    x as u32
                }
                None => DEFAULT_MISSED_PUNCH_LIMIT,
            }
        }
        None => DEFAULT_MISSED_PUNCH_LIMIT,
    };
    let mut section = ApprovalPolicy {
        roles,
        leave_types,
        missed_punch_monthly_limit,
        templates: Vec::new(),
    };
    if let Some(t) = obj.get("templates") {
        let tp = path.key("templates");
        let items = t.as_array(&tp, MAX_TEMPLATES)?;
        for (i, item) in items.iter().enumerate() {
            let ip = tp.index(i);
            let template = parse_template(item, &ip, &section, &is_employee)?;
            if let Some(first) = section.templates.iter().position(|x| x.id == template.id) {
                return Err(ip.key("id").err(PolicyErrorKind::Duplicate {
                    value: format!("{:?}", template.id),
                    first: format!("{tp}[{first}].id"),
                }));
            }
            section.templates.push(template);
        }
    }
    Ok(section)
}

fn parse_roles(
    v: &Json,
    path: &Path<'_>,
    is_employee: &dyn Fn(&str) -> bool,
) -> Result<Vec<Role>, PolicyError> {
    let items = v.as_array(path, MAX_ROLES)?;
    let mut roles: Vec<Role> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let rp = path.index(i);
        let o = item.as_object(&rp, ROLE_FIELDS)?;
        let idp = rp.key("id");
        let id_v = o.req(&rp, "id")?;
        let id = parse_id(id_v, &idp)?;
        if let Some(first) = roles.iter().position(|r| r.id == id) {
            return Err(idp.err(PolicyErrorKind::Duplicate {
                value: id_v.show(),
                first: format!("{path}[{first}].id"),
            }));
        }
        let mp = rp.key("members");
        let members = employee_list(o.req(&rp, "members")?, &mp, MAX_ROLE_MEMBERS, is_employee)?;
        roles.push(Role {
            id: id.to_owned(),
            members,
        });
    }
    Ok(roles)
}

/// A non-empty list of distinct, known employee ids.
fn employee_list(
    v: &Json,
    path: &Path<'_>,
    max: usize,
    is_employee: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, PolicyError> {
    let items = v.as_array(path, max)?;
    if items.is_empty() {
        return Err(path.err(PolicyErrorKind::Empty));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ip = path.index(i);
        let id = parse_id(item, &ip)?;
        if !is_employee(id) {
            return Err(ip.err(PolicyErrorKind::UnknownReference {
                target: "employee",
                value: item.show(),
            }));
        }
        if let Some(first) = out.iter().position(|o| o == id) {
            return Err(ip.err(PolicyErrorKind::Duplicate {
                value: item.show(),
                first: format!("{path}[{first}]"),
            }));
        }
        out.push(id.to_owned());
    }
    Ok(out)
}

fn parse_leave_types(v: &Json, path: &Path<'_>) -> Result<Vec<LeaveType>, PolicyError> {
    let items = v.as_array(path, MAX_LEAVE_TYPES)?;
    let mut out: Vec<LeaveType> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let lp = path.index(i);
        let o = item.as_object(&lp, LEAVE_FIELDS)?;
        let idp = lp.key("id");
        let id_v = o.req(&lp, "id")?;
        let id = parse_id(id_v, &idp)?;
        if let Some(first) = out.iter().position(|l| l.id == id) {
            return Err(idp.err(PolicyErrorKind::Duplicate {
                value: id_v.show(),
                first: format!("{path}[{first}].id"),
            }));
        }
        let name = parse_text(o.req(&lp, "name")?, &lp.key("name"), 256)?;
        let dp = lp.key("days_per_year");
        let d = o.req(&lp, "days_per_year")?;
        let days = d.as_f64(&dp)?;
        let halves = days * 2.0;
        if !(0.0..=732.0).contains(&halves) || halves.fract() != 0.0 {
            return Err(dp.invalid(
                d.show(),
                "must be a whole or half number of days between 0 and 366",
            ));
        }
        let allow_negative = match o.get("allow_negative") {
            Some(b) => b.as_bool(&lp.key("allow_negative"))?,
            None => false,
        };
        let time_off_in_lieu = match o.get("time_off_in_lieu") {
            Some(b) => b.as_bool(&lp.key("time_off_in_lieu"))?,
            None => false,
        };
        if time_off_in_lieu && halves != 0.0 {
            return Err(dp.invalid(
                d.show(),
                "a time-off-in-lieu leave type draws on overtime credited as time off: days_per_year must be 0",
            ));
        }
        out.push(LeaveType {
            id: id.to_owned(),
            name,
            yearly_halves: halves as u32,
            allow_negative,
            time_off_in_lieu,
        });
    }
    Ok(out)
}

fn parse_request_type(v: &Json, path: &Path<'_>) -> Result<RequestType, PolicyError> {
    Ok(match v.as_str(path)? {
        "expense" => RequestType::Expense,
        "leave" => RequestType::Leave,
        "missed_punch" => RequestType::MissedPunch,
        "field_punch_review" => RequestType::FieldPunchReview,
        "overtime" => RequestType::Overtime,
        "general" => RequestType::General,
        _ => {
            return Err(path.invalid(
                v.show(),
                "expected \"expense\", \"leave\", \"missed_punch\", \"field_punch_review\", \"overtime\" or \"general\"",
            ));
        }
    })
}

fn parse_template(
    v: &Json,
    path: &Path<'_>,
    section: &ApprovalPolicy,
    is_employee: &dyn Fn(&str) -> bool,
) -> Result<Template, PolicyError> {
    let o = v.as_object(path, TEMPLATE_FIELDS)?;
    let id = parse_id(o.req(path, "id")?, &path.key("id"))?.to_owned();
    let name = parse_text(o.req(path, "name")?, &path.key("name"), 256)?;
    let request_type = parse_request_type(o.req(path, "type")?, &path.key("type"))?;
    let fp = path.key("fields");
    let field_items = o.req(path, "fields")?.as_array(&fp, MAX_FIELDS)?;
    if field_items.is_empty() {
        return Err(fp.err(PolicyErrorKind::Empty));
    }
    let mut fields: Vec<Field> = Vec::with_capacity(field_items.len());
    for (i, item) in field_items.iter().enumerate() {
        let ip = fp.index(i);
        let field = parse_field(item, &ip)?;
        if let Some(first) = fields.iter().position(|f| f.id == field.id) {
            return Err(ip.key("id").err(PolicyErrorKind::Duplicate {
                value: format!("{:?}", field.id),
                first: format!("{fp}[{first}].id"),
            }));
        }
        fields.push(field);
    }
    check_built_in_fields(request_type, &fields, section, &fp)?;
    let rp = path.key("route");
    let step_items = o.req(path, "route")?.as_array(&rp, MAX_STEPS)?;
    if step_items.is_empty() {
        return Err(rp.err(PolicyErrorKind::Empty));
    }
    let mut route = Vec::with_capacity(step_items.len());
    for (i, item) in step_items.iter().enumerate() {
        route.push(parse_step(
            item,
            &rp.index(i),
            &fields,
            section,
            is_employee,
        )?);
    }
    if route.iter().all(|s| s.when.is_some()) {
        return Err(rp.invalid(
            "[…]",
            "every step has a condition, so a form that meets none would have no approver; \
             give at least one step no \"when\"",
        ));
    }
    Ok(Template {
        id,
        name,
        request_type,
        fields,
        route,
    })
}

const TYPE_NAMES: &str = "\"text\", \"number\", \"money\", \"date\", \"date_range\", \"choice\", \"attachment\" or \"signature\"";

fn settings_of(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "text" => &["id", "label", "type", "required", "min_len", "max_len"],
        "number" => &["id", "label", "type", "required", "min", "max"],
        "money" => &["id", "label", "type", "required", "currency", "min", "max"],
        "date" => &["id", "label", "type", "required", "min", "max"],
        "date_range" => &["id", "label", "type", "required", "max_days"],
        "choice" => &["id", "label", "type", "required", "options"],
        "attachment" => &[
            "id",
            "label",
            "type",
            "required",
            "min_count",
            "max_count",
            "max_bytes",
        ],
        "signature" => &["id", "label", "type", "required", "max_bytes"],
        _ => return None,
    })
}

fn parse_field(v: &Json, path: &Path<'_>) -> Result<Field, PolicyError> {
    let tp = path.key("type");
    let type_v = match v.lenient_field("type") {
        Some(t) => t,
        None => {
            // Report the shape first (not an object) before the missing type.
            v.as_object(path, &["id", "label", "type", "required"])?;
            return Err(tp.err(PolicyErrorKind::Missing));
        }
    };
    let kind_name = type_v.as_str(&tp)?;
    let allowed = settings_of(kind_name)
        .ok_or_else(|| tp.invalid(type_v.show(), format!("expected {TYPE_NAMES}")))?;
    let o = v.as_object(path, allowed)?;
    let id = parse_id(o.req(path, "id")?, &path.key("id"))?.to_owned();
    let label = match o.get("label") {
        Some(l) => parse_text(l, &path.key("label"), 256)?,
        None => id.clone(),
    };
    let required = match o.get("required") {
        Some(r) => r.as_bool(&path.key("required"))?,
        None => false,
    };
    let count = |key: &str, default: u64, max: u64| -> Result<u64, PolicyError> {
        match o.get(key) {
            Some(n) => {
                let np = path.key(key);
                let x = n.as_u64(&np)?;
                if x > max {
                    return Err(np.invalid(n.show(), format!("must be at most {max}")));
                }
                Ok(x)
            }
            None => Ok(default),
        }
    };
    let ordered = |lo_key: &str, lo: u64, hi_key: &str, hi: u64| -> Result<(), PolicyError> {
        if lo > hi {
            return Err(path.key(lo_key).invalid(
                lo.to_string(),
                format!("must not be greater than {hi_key} ({hi})"),
            ));
        }
        Ok(())
    };
    let kind = match kind_name {
        "text" => {
            let min_len = count("min_len", 0, MAX_TEXT_LEN)?;
            let max_len = count("max_len", 2_000, MAX_TEXT_LEN)?;
            ordered("min_len", min_len, "max_len", max_len)?;
            if max_len == 0 {
                return Err(path.key("max_len").invalid("0", "must be at least 1"));
            }
            FieldKind::Text {
                min_len: min_len as u32,
                max_len: max_len as u32,
            }
        }
        "number" => {
            let min = match o.get("min") {
                Some(n) => n.as_f64(&path.key("min"))?,
                None => -1e15,
            };
            let max = match o.get("max") {
                Some(n) => n.as_f64(&path.key("max"))?,
                None => 1e15,
            };
            if min > max {
                return Err(path.key("min").invalid(
                    min.to_string(),
                    format!("must not be greater than max ({max})"),
                ));
            }
            FieldKind::Number { min, max }
        }
        "money" => {
            let cp = path.key("currency");
            let c = o.req(path, "currency")?;
            let currency = c.as_str(&cp)?;
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(cp.invalid(c.show(), "an ISO 4217 code such as \"HKD\""));
            }
            let minor = |key: &str, default: i64| -> Result<i64, PolicyError> {
                match o.get(key) {
                    Some(Json::UInt(n)) if *n <= i64::MAX as u64 => Ok(*n as i64),
                    Some(Json::Int(n)) => Ok(*n),
                    Some(other) => Err(path
                        .key(key)
                        .invalid(other.show(), "a whole number of minor units (cents)")),
                    None => Ok(default),
                }
            };
            let min_minor = minor("min", 0)?;
            let max_minor = minor("max", 100_000_000_000)?;
            if min_minor > max_minor {
                return Err(path.key("min").invalid(
                    min_minor.to_string(),
                    format!("must not be greater than max ({max_minor})"),
                ));
            }
            FieldKind::Money {
                currency: currency.to_owned(),
                min_minor,
                max_minor,
            }
        }
        "date" => {
            let date = |key: &str| -> Result<Option<NaiveDate>, PolicyError> {
                match o.get(key) {
                    Some(d) => Ok(Some(parse_date(d, &path.key(key))?)),
                    None => Ok(None),
                }
            };
            let (min, max) = (date("min")?, date("max")?);
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                return Err(path
                    .key("min")
                    .invalid(lo.to_string(), format!("must not be after max ({hi})")));
            }
            FieldKind::Date { min, max }
        }
        "date_range" => {
            let max_days = count("max_days", 31, MAX_RANGE_DAYS)?;
            if max_days == 0 {
                return Err(path.key("max_days").invalid("0", "must be at least 1"));
            }
            FieldKind::DateRange {
                max_days: max_days as u32,
            }
        }
        "choice" => {
            let op = path.key("options");
            let items = o.req(path, "options")?.as_array(&op, MAX_OPTIONS)?;
            if items.is_empty() {
                return Err(op.err(PolicyErrorKind::Empty));
            }
            let mut options: Vec<String> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let ip = op.index(i);
                let s = parse_id(item, &ip)?;
                if let Some(first) = options.iter().position(|x| x == s) {
                    return Err(ip.err(PolicyErrorKind::Duplicate {
                        value: item.show(),
                        first: format!("{op}[{first}]"),
                    }));
                }
                options.push(s.to_owned());
            }
            FieldKind::Choice { options }
        }
        "attachment" => {
            let min_count = count("min_count", 0, MAX_ATTACHMENTS)?;
            let max_count = count("max_count", 10, MAX_ATTACHMENTS)?;
            ordered("min_count", min_count, "max_count", max_count)?;
            if max_count == 0 {
                return Err(path.key("max_count").invalid("0", "must be at least 1"));
            }
            let max_bytes = count("max_bytes", 10 * 1024 * 1024, MAX_ATTACHMENT_BYTES)?;
            if max_bytes == 0 {
                return Err(path.key("max_bytes").invalid("0", "must be at least 1"));
            }
            FieldKind::Attachment {
                min_count: min_count as u32,
                max_count: max_count as u32,
                max_bytes,
            }
        }
        _ => {
            let max_bytes = count("max_bytes", 1024 * 1024, MAX_ATTACHMENT_BYTES)?;
            if max_bytes == 0 {
                return Err(path.key("max_bytes").invalid("0", "must be at least 1"));
            }
            FieldKind::Signature { max_bytes }
        }
    };
    Ok(Field {
        id,
        label,
        required,
        kind,
    })
}

/// The fields a built-in request type needs, by id and type name, and whether they must be
/// required.
fn built_in_fields(request_type: RequestType) -> &'static [(&'static str, &'static str)] {
    match request_type {
        RequestType::Expense => &[
            ("amount", "money"),
            ("category", "choice"),
            ("date", "date"),
            ("receipts", "attachment"),
        ],
        RequestType::Leave => &[("leave_type", "choice"), ("period", "date_range")],
        RequestType::MissedPunch => &[("date", "date"), ("punch_kind", "choice"), ("time", "text")],
        RequestType::FieldPunchReview => &[("punch_id", "text")],
        RequestType::Overtime => &[("date", "date"), ("minutes", "number")],
        RequestType::General => &[],
    }
}

fn check_built_in_fields(
    request_type: RequestType,
    fields: &[Field],
    section: &ApprovalPolicy,
    path: &Path<'_>,
) -> Result<(), PolicyError> {
    for (id, kind) in built_in_fields(request_type) {
        let Some(i) = fields.iter().position(|f| f.id == *id) else {
            return Err(path.invalid(
                "[…]",
                format!(
                    "a {} template needs a required {kind} field \"{id}\"",
                    request_type.as_str()
                ),
            ));
        };
        let field = &fields[i];
        let fp = path.index(i);
        if field.kind.name() != *kind {
            return Err(fp.key("type").invalid(
                format!("\"{}\"", field.kind.name()),
                format!(
                    "field \"{id}\" of a {} template is a {kind}",
                    request_type.as_str()
                ),
            ));
        }
        if !field.required && *id != "receipts" {
            return Err(fp.key("required").invalid(
                "false",
                format!(
                    "field \"{id}\" of a {} template must be required",
                    request_type.as_str()
                ),
            ));
        }
        if let (RequestType::Overtime, FieldKind::Number { min, max }) = (request_type, &field.kind)
        {
            if *min < 1.0 || *max > 1440.0 {
                return Err(fp.invalid(
                    format!("{{\"min\": {min}, \"max\": {max}}}"),
                    "the \"minutes\" field of an overtime template needs \"min\" at least 1 and \"max\" at most 1440",
                ));
            }
        }
        if let FieldKind::Choice { options } = &field.kind {
            let allowed: Vec<&str> = match (request_type, *id) {
                (RequestType::Leave, "leave_type") => {
                    section.leave_types.iter().map(|l| l.id.as_str()).collect()
                }
                (RequestType::MissedPunch, "punch_kind") => MISSED_PUNCH_KINDS.to_vec(),
                _ => continue,
            };
            if let Some((j, bad)) = options
                .iter()
                .enumerate()
                .find(|(_, o)| !allowed.contains(&o.as_str()))
            {
                return Err(fp
                    .key("options")
                    .index(j)
                    .err(PolicyErrorKind::UnknownReference {
                        target: if *id == "leave_type" {
                            "leave type"
                        } else {
                            "punch kind"
                        },
                        value: format!("{bad:?}"),
                    }));
            }
        }
    }
    Ok(())
}

fn parse_step(
    v: &Json,
    path: &Path<'_>,
    fields: &[Field],
    section: &ApprovalPolicy,
    is_employee: &dyn Fn(&str) -> bool,
) -> Result<StepSpec, PolicyError> {
    let o = v.as_object(path, STEP_FIELDS)?;
    let name = parse_text(o.req(path, "name")?, &path.key("name"), 256)?;
    let ap = path.key("approvers");
    let a = o.req(path, "approvers")?;
    let ao = a.as_object(&ap, APPROVER_FIELDS)?;
    let given: Vec<&str> = APPROVER_FIELDS
        .iter()
        .copied()
        .filter(|k| ao.has(k))
        .collect();
    if given.len() != 1 {
        return Err(ap.invalid(
            a.show(),
            "give exactly one of \"manager\" (a level), \"role\" or \"employees\"",
        ));
    }
    let approvers = match given[0] {
        "manager" => {
            let mp = ap.key("manager");
            let m = ao.req(&ap, "manager")?;
            let level = m.as_u64(&mp)?;
            if !(1..=MAX_MANAGER_LEVEL).contains(&level) {
                return Err(mp.invalid(
                    m.show(),
                    format!(
                        "a manager level between 1 (the direct manager) and {MAX_MANAGER_LEVEL}"
                    ),
                ));
            }
            ApproverSpec::Manager { level: level as u8 }
        }
        "role" => {
            let rp = ap.key("role");
            let r = ao.req(&ap, "role")?;
            let role = r.as_str(&rp)?;
            if section.role(role).is_none() {
                return Err(rp.err(PolicyErrorKind::UnknownReference {
                    target: "role",
                    value: r.show(),
                }));
            }
            ApproverSpec::Role(role.to_owned())
        }
        _ => ApproverSpec::Employees(employee_list(
            ao.req(&ap, "employees")?,
            &ap.key("employees"),
            MAX_ROLE_MEMBERS,
            is_employee,
        )?),
    };
    let mode = match o.get("mode") {
        None => StepMode::Any,
        Some(m) => {
            let mp = path.key("mode");
            match m.as_str(&mp)? {
                "any" => StepMode::Any,
                "all" => StepMode::All,
                _ => return Err(mp.invalid(m.show(), "expected \"any\" or \"all\"")),
            }
        }
    };
    let when = match o.get("when") {
        Some(c) => Some(parse_condition(c, &path.key("when"), fields, 1)?),
        None => None,
    };
    Ok(StepSpec {
        name,
        approvers,
        mode,
        when,
    })
}

fn parse_condition(
    v: &Json,
    path: &Path<'_>,
    fields: &[Field],
    depth: usize,
) -> Result<Condition, PolicyError> {
    if depth > MAX_CONDITION_DEPTH {
        return Err(path.err(PolicyErrorKind::TooLarge {
            what: "levels of nested conditions",
            max: MAX_CONDITION_DEPTH,
        }));
    }
    for combinator in ["all", "any"] {
        if v.lenient_field(combinator).is_some() {
            const ALL: &[&str] = &["all"];
            const ANY: &[&str] = &["any"];
            let o = v.as_object(path, if combinator == "all" { ALL } else { ANY })?;
            let cp = path.key(combinator);
            let items = o.req(path, combinator)?.as_array(&cp, 64)?;
            if items.is_empty() {
                return Err(cp.err(PolicyErrorKind::Empty));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(parse_condition(item, &cp.index(i), fields, depth + 1)?);
            }
            return Ok(if combinator == "all" {
                Condition::All(out)
            } else {
                Condition::Any(out)
            });
        }
    }
    let o = v.as_object(path, COMPARE_FIELDS)?;
    let fp = path.key("field");
    let f = o.req(path, "field")?;
    let field_id = f.as_str(&fp)?;
    let field = fields.iter().find(|x| x.id == field_id).ok_or_else(|| {
        fp.err(PolicyErrorKind::UnknownReference {
            target: "field of this template",
            value: f.show(),
        })
    })?;
    let opp = path.key("op");
    let op_v = o.req(path, "op")?;
    let op = match op_v.as_str(&opp)? {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        "in" => CompareOp::In,
        _ => {
            return Err(opp.invalid(
                op_v.show(),
                "expected \"eq\", \"ne\", \"gt\", \"ge\", \"lt\", \"le\" or \"in\"",
            ));
        }
    };
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let mismatch = |what: &str| {
        opp.invalid(
            op_v.show(),
            format!(
                "\"{}\" cannot be used on {} field \"{}\"{what}",
                op.name(),
                field.kind.name(),
                field.id
            ),
        )
    };
    let vp = path.key("value");
    let value_v = o.req(path, "value")?;
    let value = match &field.kind {
        FieldKind::Number { .. } => {
            if op == CompareOp::In {
                return Err(mismatch(""));
            }
            Operand::Number(value_v.as_f64(&vp)?)
        }
        FieldKind::Money { .. } => {
            if op == CompareOp::In {
                return Err(mismatch(""));
            }
            match value_v {
                Json::UInt(n) if *n <= i64::MAX as u64 => Operand::Money(*n as i64),
                Json::Int(n) => Operand::Money(*n),
                other => {
                    return Err(vp.invalid(
                        other.show(),
                        "money is compared in whole minor units (HK$5,000.00 = 500000)",
                    ));
                }
            }
        }
        FieldKind::Date { .. } => {
            if op == CompareOp::In {
                return Err(mismatch(""));
            }
            Operand::Date(parse_date(value_v, &vp)?)
        }
        FieldKind::DateRange { .. } => {
            if op == CompareOp::In {
                return Err(mismatch(""));
            }
            let days = value_v.as_f64(&vp)?;
            let halves = days * 2.0;
            if !(0.0..=1000.0).contains(&halves) || halves.fract() != 0.0 {
                return Err(vp.invalid(
                    value_v.show(),
                    "a date range is compared by its length in days, a whole or half number",
                ));
            }
            Operand::Halves(halves as u32)
        }
        FieldKind::Text { .. } | FieldKind::Choice { .. } => {
            if ordering {
                return Err(mismatch("; text is compared with eq, ne or in"));
            }
            let options = match &field.kind {
                FieldKind::Choice { options } => Some(options),
                _ => None,
            };
            let check = |s: &str, p: &Path<'_>, shown: String| -> Result<(), PolicyError> {
                if let Some(options) = options
                    && !options.iter().any(|o| o == s)
                {
                    return Err(p.invalid(
                        shown,
                        format!("not an option of \"{}\": {}", field.id, options.join(", ")),
                    ));
                }
                Ok(())
            };
            if op == CompareOp::In {
                let items = value_v.as_array(&vp, MAX_OPTIONS)?;
                if items.is_empty() {
                    return Err(vp.err(PolicyErrorKind::Empty));
                }
                let mut set = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let ip = vp.index(i);
                    let s = item.as_str(&ip)?;
                    check(s, &ip, item.show())?;
                    set.push(s.to_owned());
                }
                Operand::TextSet(set)
            } else {
                let s = value_v.as_str(&vp)?;
                check(s, &vp, value_v.show())?;
                Operand::Text(s.to_owned())
            }
        }
        FieldKind::Attachment { .. } | FieldKind::Signature { .. } => {
            return Err(mismatch("; files cannot be compared"));
        }
    };
    Ok(Condition::Compare {
        field: field.id.clone(),
        op,
        value,
    })
}
