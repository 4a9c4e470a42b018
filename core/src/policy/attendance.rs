//! JSON → the policy's `attendance` section: shifts, schedules, people with their assignments
//! and rosters, the holiday calendar, overtime rules and the company's warning limits.
//!
//! Refused with a path-naming [`PolicyError`]: a time that is not `HH:MM`; segments that
//! overlap or span more than 24 hours; a break outside the shift or longer than its window; a
//! schedule or roster naming an unknown shift; an assignment to an unknown schedule, or
//! assignments that overlap; a roster month whose list does not have one entry per day; two
//! holidays on one date; a person who is not one of the policy's employees, or listed twice;
//! numbers out of range. The format is documented in `docs/attendance.md`.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::error::{PolicyError, PolicyErrorKind};
use super::json::{Json, Obj, Path};
use super::limits::MAX_NAME_CHARS;
use super::text::{parse_date, parse_id, parse_text};
use crate::attendance::month::Month;
use crate::attendance::rules::{
    Assignment, AttendancePolicy, Break, BreakTime, CompanyWarnings, Compensation, DAY_MIN,
    Holiday, HolidayObservance, MissingClockOut, OvertimeBasis, OvertimeRule, OvertimeRules,
    Pattern, Person, RosterDay, Rounding, Schedule, Segment, Shift,
};
use crate::policy::Employee;

const FIELDS: &[&str] = &[
    "shifts",
    "schedules",
    "people",
    "holidays",
    "overtime",
    "missing_clock_out",
    "warnings",
    "records_from",
];
const SHIFT_FIELDS: &[&str] = &[
    "id",
    "name",
    "segments",
    "breaks",
    "late_grace_min",
    "early_grace_min",
    "flex_min",
    "clock_in_before_min",
    "clock_out_after_min",
    "clock_out_required",
];
const SEGMENT_FIELDS: &[&str] = &["start", "end"];
const BREAK_FIELDS: &[&str] = &["start", "end", "window", "minutes", "paid"];
const SCHEDULE_FIELDS: &[&str] = &["id", "weekly", "cycle", "roster", "holidays"];
const WEEK_FIELDS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const CYCLE_FIELDS: &[&str] = &["start", "days"];
const PERSON_FIELDS: &[&str] = &[
    "employee",
    "employment_start",
    "monthly_wage",
    "schedules",
    "roster",
    "alternative_holidays",
];
const WAGE_FIELDS: &[&str] = &["amount", "currency"];
const ASSIGNMENT_FIELDS: &[&str] = &["schedule", "from", "to"];
const ROSTER_FIELDS: &[&str] = &["month", "days"];
const ALT_FIELDS: &[&str] = &["date", "for"];
const HOLIDAY_FIELDS: &[&str] = &["date", "name", "statutory", "note"];
const HOLIDAY_NAME_FIELDS: &[&str] = &["en", "zh"];
const OVERTIME_FIELDS: &[&str] = &["workday", "rest_day", "holiday", "time_off_expiry_days"];
const RULE_FIELDS: &[&str] = &[
    "basis",
    "min_minutes",
    "unit_minutes",
    "rounding",
    "daily_cap_min",
    "compensation",
];
const WARNING_FIELDS: &[&str] = &["long_stretch_min", "weekly_min"];

/// Most shifts.
const MAX_SHIFTS: usize = 1_000;
/// Most segments of one shift.
const MAX_SEGMENTS: usize = 8;
/// Most breaks of one shift.
const MAX_BREAKS: usize = 8;
/// Most schedules.
const MAX_SCHEDULES: usize = 1_000;
/// Longest cycle, in days.
const MAX_CYCLE_DAYS: usize = 366;
/// Most assignments of one person.
const MAX_ASSIGNMENTS: usize = 200;
/// Most roster months of one person.
const MAX_ROSTER_MONTHS: usize = 240;
/// Most holidays.
const MAX_HOLIDAYS: usize = 5_000;
/// Most alternative holidays of one person.
const MAX_ALTERNATIVES: usize = 1_000;

/// Reads the `attendance` section.
pub(super) fn parse_attendance(
    v: &Json,
    path: &Path<'_>,
    employees: &[Employee],
) -> Result<AttendancePolicy, PolicyError> {
    let obj = v.as_object(path, FIELDS)?;
    let mut out = AttendancePolicy::default();
    if let Some(v) = obj.get("shifts") {
        out.shifts = parse_shifts(v, &path.key("shifts"))?;
    }
    let shift_ids: HashMap<&str, usize> = out
        .shifts
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    if let Some(v) = obj.get("schedules") {
        out.schedules = parse_schedules(v, &path.key("schedules"), &shift_ids)?;
    }
    if let Some(v) = obj.get("holidays") {
        out.holidays = parse_holidays(v, &path.key("holidays"))?;
    }
    if let Some(v) = obj.get("people") {
        out.people = parse_people(
            v,
            &path.key("people"),
            employees,
            &out.schedules,
            &shift_ids,
        )?;
    }
    if let Some(v) = obj.get("overtime") {
        out.overtime = parse_overtime(v, &path.key("overtime"))?;
    }
    if let Some(v) = obj.get("missing_clock_out") {
        let p = path.key("missing_clock_out");
        out.missing_clock_out = match v.as_str(&p)? {
            "segment_end" => MissingClockOut::SegmentEnd,
            "not_counted" => MissingClockOut::NotCounted,
            _ => {
                return Err(p.invalid(v.show(), "expected \"segment_end\" or \"not_counted\""));
            }
        };
    }
    if let Some(v) = obj.get("records_from") {
        out.records_from = Some(parse_date(v, &path.key("records_from"))?);
    }
    if let Some(v) = obj.get("warnings") {
        let p = path.key("warnings");
        let w = v.as_object(&p, WARNING_FIELDS)?;
        let d = CompanyWarnings::default();
        out.warnings = CompanyWarnings {
            long_stretch_min: minutes_opt(&w, &p, "long_stretch_min", d.long_stretch_min, DAY_MIN)?,
            weekly_min: minutes_opt(&w, &p, "weekly_min", d.weekly_min, 7 * DAY_MIN)?,
        };
    }
    Ok(out)
}

/// A whole number of minutes in `0..=max`.
fn minutes(v: &Json, path: &Path<'_>, max: u32) -> Result<u32, PolicyError> {
    let n = v.as_u64(path)?;
    if n > u64::from(max) {
        return Err(path.invalid(v.show(), format!("must be between 0 and {max} minutes")));
    }
    Ok(n as u32)
}

fn minutes_opt(
    obj: &Obj<'_>,
    path: &Path<'_>,
    key: &str,
    default: u32,
    max: u32,
) -> Result<u32, PolicyError> {
    match obj.get(key) {
        Some(v) => minutes(v, &path.key(key), max),
        None => Ok(default),
    }
}

/// `HH:MM`, 00:00 to 23:59, as minutes after midnight.
fn time_of_day(v: &Json, path: &Path<'_>) -> Result<u32, PolicyError> {
    let s = v.as_str(path)?;
    let bad = || path.invalid(v.show(), "a time of day \"HH:MM\" from 00:00 to 23:59");
    let b = s.as_bytes();
    if b.len() != 5
        || b[2] != b':'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
    {
        return Err(bad());
    }
    let h = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let m = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// The first instance of the clock time `t` at or after `after` (a later day when the clock
/// time has already passed).
fn at_or_after(t: u32, after: u32) -> u32 {
    let mut x = t;
    while x < after {
        x += DAY_MIN;
    }
    x
}

fn unique_id<'j>(
    v: &'j Json,
    path: &Path<'_>,
    seen: &mut HashMap<&'j str, String>,
) -> Result<&'j str, PolicyError> {
    let id = parse_id(v, path)?;
    if let Some(first) = seen.get(id) {
        return Err(path.err(PolicyErrorKind::Duplicate {
            value: v.show(),
            first: first.clone(),
        }));
    }
    seen.insert(id, path.to_string());
    Ok(id)
}

fn parse_shifts(v: &Json, path: &Path<'_>) -> Result<Vec<Shift>, PolicyError> {
    let items = v.as_array(path, MAX_SHIFTS)?;
    let mut seen = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let obj = item.as_object(&p, SHIFT_FIELDS)?;
        let id = unique_id(obj.req(&p, "id")?, &p.key("id"), &mut seen)?.to_owned();
        let name = match obj.get("name") {
            Some(n) => parse_text(n, &p.key("name"), MAX_NAME_CHARS)?,
            None => id.clone(),
        };
        let sp = p.key("segments");
        let segs = obj.req(&p, "segments")?.as_array(&sp, MAX_SEGMENTS)?;
        if segs.is_empty() {
            return Err(sp.err(PolicyErrorKind::Empty));
        }
        let mut segments = Vec::with_capacity(segs.len());
        let mut cursor = 0u32;
        for (k, s) in segs.iter().enumerate() {
            let skp = sp.index(k);
            let so = s.as_object(&skp, SEGMENT_FIELDS)?;
            let start_raw = time_of_day(so.req(&skp, "start")?, &skp.key("start"))?;
            let end_raw = time_of_day(so.req(&skp, "end")?, &skp.key("end"))?;
            let start = if k == 0 {
                start_raw
            } else {
                at_or_after(start_raw, cursor)
            };
            let end = at_or_after(end_raw, start + 1);
            let first = segments.first().map_or(start, |f: &Segment| f.start);
            if end - first > DAY_MIN {
                return Err(skp.invalid(
                    s.show(),
                    "a shift's segments span at most 24 hours from its first start",
                ));
            }
            segments.push(Segment { start, end });
            cursor = end;
        }
        let first = segments[0].start;
        let last = cursor;
        let mut breaks = Vec::new();
        if let Some(bv) = obj.get("breaks") {
            let bp = p.key("breaks");
            for (k, b) in bv.as_array(&bp, MAX_BREAKS)?.iter().enumerate() {
                let bkp = bp.index(k);
                breaks.push(parse_break(b, &bkp, first, last, &segments)?);
            }
        }
        let shift = Shift {
            id,
            name,
            segments,
            breaks,
            late_grace_min: minutes_opt(&obj, &p, "late_grace_min", 0, 720)?,
            early_grace_min: minutes_opt(&obj, &p, "early_grace_min", 0, 720)?,
            flex_min: minutes_opt(&obj, &p, "flex_min", 0, 720)?,
            clock_in_before_min: minutes_opt(&obj, &p, "clock_in_before_min", 120, DAY_MIN)?,
            clock_out_after_min: minutes_opt(&obj, &p, "clock_out_after_min", 240, DAY_MIN)?,
            clock_out_required: match obj.get("clock_out_required") {
                Some(b) => b.as_bool(&p.key("clock_out_required"))?,
                None => true,
            },
        };
        let span: u32 = shift.segments.iter().map(|s| s.end - s.start).sum();
        let unpaid: u32 = shift
            .breaks
            .iter()
            .filter(|b| !b.paid)
            .map(|b| b.minutes())
            .sum();
        if unpaid >= span {
            return Err(p.key("breaks").invalid(
                "[…]",
                format!(
                    "unpaid breaks of {unpaid} min leave no working time in {span} min of segments"
                ),
            ));
        }
        out.push(shift);
    }
    Ok(out)
}

fn parse_break(
    v: &Json,
    path: &Path<'_>,
    first: u32,
    last: u32,
    segments: &[Segment],
) -> Result<Break, PolicyError> {
    let obj = v.as_object(path, BREAK_FIELDS)?;
    let paid = match obj.get("paid") {
        Some(b) => b.as_bool(&path.key("paid"))?,
        None => false,
    };
    let inside = |t: u32| t >= first && t <= last;
    let when = if let Some(w) = obj.get("window") {
        let wp = path.key("window");
        if obj.has("start") || obj.has("end") {
            return Err(wp.invalid(
                w.show(),
                "a break has either start and end, or a window and minutes",
            ));
        }
        let items = w.as_array(&wp, 2)?;
        if items.len() != 2 {
            return Err(wp.invalid(w.show(), "a window is [\"HH:MM\", \"HH:MM\"]"));
        }
        let from = at_or_after(time_of_day(&items[0], &wp.index(0))?, first);
        let until = at_or_after(time_of_day(&items[1], &wp.index(1))?, from + 1);
        if !inside(from) || !inside(until) {
            return Err(wp.invalid(w.show(), "the window must lie within the shift"));
        }
        let mp = path.key("minutes");
        let minutes = minutes(obj.req(path, "minutes")?, &mp, DAY_MIN)?;
        if minutes == 0 || minutes > until - from {
            return Err(mp.invalid(
                minutes.to_string(),
                format!("must be 1 to {} (the window's length)", until - from),
            ));
        }
        BreakTime::Window {
            from,
            until,
            minutes,
        }
    } else {
        if obj.has("minutes") {
            return Err(path.key("minutes").invalid(
                "…",
                "minutes goes with a window; a fixed break has start and end",
            ));
        }
        let start = at_or_after(
            time_of_day(obj.req(path, "start")?, &path.key("start"))?,
            first,
        );
        let end = at_or_after(
            time_of_day(obj.req(path, "end")?, &path.key("end"))?,
            start + 1,
        );
        if !segments.iter().any(|s| start >= s.start && end <= s.end) {
            return Err(path.invalid(v.show(), "a fixed break must lie within one segment"));
        }
        BreakTime::Fixed { start, end }
    };
    Ok(Break { when, paid })
}

fn shift_ref(
    v: &Json,
    path: &Path<'_>,
    shifts: &HashMap<&str, usize>,
) -> Result<Option<usize>, PolicyError> {
    if matches!(v, Json::Null) {
        return Ok(None);
    }
    let id = v.as_str(path)?;
    if id == "rest" {
        return Ok(None);
    }
    shifts.get(id).copied().map(Some).ok_or_else(|| {
        path.err(PolicyErrorKind::UnknownReference {
            target: "shift",
            value: v.show(),
        })
    })
}

fn parse_schedules(
    v: &Json,
    path: &Path<'_>,
    shifts: &HashMap<&str, usize>,
) -> Result<Vec<Schedule>, PolicyError> {
    let items = v.as_array(path, MAX_SCHEDULES)?;
    let mut seen = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let obj = item.as_object(&p, SCHEDULE_FIELDS)?;
        let id = unique_id(obj.req(&p, "id")?, &p.key("id"), &mut seen)?.to_owned();
        let kinds = ["weekly", "cycle", "roster"]
            .iter()
            .filter(|k| obj.has(k))
            .count();
        if kinds != 1 {
            return Err(p.invalid(
                "{…}",
                "a schedule has exactly one of \"weekly\", \"cycle\" or \"roster\"",
            ));
        }
        let pattern = if let Some(w) = obj.get("weekly") {
            let wp = p.key("weekly");
            let wo = w.as_object(&wp, WEEK_FIELDS)?;
            let mut days = [None; 7];
            for (k, day) in WEEK_FIELDS.iter().enumerate() {
                if let Some(d) = wo.get(day) {
                    days[k] = shift_ref(d, &wp.key(day), shifts)?;
                }
            }
            Pattern::Weekly(days)
        } else if let Some(c) = obj.get("cycle") {
            let cp = p.key("cycle");
            let co = c.as_object(&cp, CYCLE_FIELDS)?;
            let start = parse_date(co.req(&cp, "start")?, &cp.key("start"))?;
            let dp = cp.key("days");
            let list = co.req(&cp, "days")?.as_array(&dp, MAX_CYCLE_DAYS)?;
            if list.is_empty() {
                return Err(dp.err(PolicyErrorKind::Empty));
            }
            let days = list
                .iter()
                .enumerate()
                .map(|(k, d)| shift_ref(d, &dp.index(k), shifts))
                .collect::<Result<Vec<_>, _>>()?;
            Pattern::Cycle { start, days }
        } else {
            let rp = p.key("roster");
            let r = obj.req(&p, "roster")?;
            if !r.as_bool(&rp)? {
                return Err(rp.invalid(r.show(), "write \"roster\": true for a rostered schedule"));
            }
            Pattern::Roster
        };
        let holidays = match obj.get("holidays") {
            None => HolidayObservance::All,
            Some(h) => {
                let hp = p.key("holidays");
                match h.as_str(&hp)? {
                    "all" => HolidayObservance::All,
                    "statutory" => HolidayObservance::Statutory,
                    "none" => HolidayObservance::None,
                    _ => {
                        return Err(
                            hp.invalid(h.show(), "expected \"all\", \"statutory\" or \"none\"")
                        );
                    }
                }
            }
        };
        out.push(Schedule {
            id,
            pattern,
            holidays,
        });
    }
    Ok(out)
}

fn parse_holidays(v: &Json, path: &Path<'_>) -> Result<Vec<Holiday>, PolicyError> {
    let items = v.as_array(path, MAX_HOLIDAYS)?;
    let mut seen: HashMap<NaiveDate, String> = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let obj = item.as_object(&p, HOLIDAY_FIELDS)?;
        let dp = p.key("date");
        let date = parse_date(obj.req(&p, "date")?, &dp)?;
        if let Some(first) = seen.get(&date) {
            return Err(dp.err(PolicyErrorKind::Duplicate {
                value: date.to_string(),
                first: first.clone(),
            }));
        }
        seen.insert(date, dp.to_string());
        let np = p.key("name");
        let names = obj.req(&p, "name")?.as_object(&np, HOLIDAY_NAME_FIELDS)?;
        let name_en = parse_text(names.req(&np, "en")?, &np.key("en"), MAX_NAME_CHARS)?;
        let name_zh = parse_text(names.req(&np, "zh")?, &np.key("zh"), MAX_NAME_CHARS)?;
        let statutory = obj.req(&p, "statutory")?.as_bool(&p.key("statutory"))?;
        if let Some(n) = obj.get("note") {
            parse_text(n, &p.key("note"), 2_000)?;
        }
        out.push(Holiday {
            date,
            name_en,
            name_zh,
            statutory,
        });
    }
    out.sort_by_key(|h| h.date);
    Ok(out)
}

fn parse_people(
    v: &Json,
    path: &Path<'_>,
    employees: &[Employee],
    schedules: &[Schedule],
    shifts: &HashMap<&str, usize>,
) -> Result<Vec<Person>, PolicyError> {
    let items = v.as_array(path, employees.len())?;
    let mut seen = HashMap::new();
    let schedule_ids: HashMap<&str, usize> = schedules
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        let obj = item.as_object(&p, PERSON_FIELDS)?;
        let ep = p.key("employee");
        let ev = obj.req(&p, "employee")?;
        let employee = unique_id(ev, &ep, &mut seen)?.to_owned();
        if !employees.iter().any(|e| e.id == employee) {
            return Err(ep.err(PolicyErrorKind::UnknownReference {
                target: "employee",
                value: ev.show(),
            }));
        }
        let ap = p.key("schedules");
        let list = obj.req(&p, "schedules")?.as_array(&ap, MAX_ASSIGNMENTS)?;
        if list.is_empty() {
            return Err(ap.err(PolicyErrorKind::Empty));
        }
        let mut assignments: Vec<Assignment> = Vec::with_capacity(list.len());
        for (k, a) in list.iter().enumerate() {
            let akp = ap.index(k);
            let ao = a.as_object(&akp, ASSIGNMENT_FIELDS)?;
            let sp = akp.key("schedule");
            let sv = ao.req(&akp, "schedule")?;
            let schedule = *schedule_ids.get(sv.as_str(&sp)?).ok_or_else(|| {
                sp.err(PolicyErrorKind::UnknownReference {
                    target: "schedule",
                    value: sv.show(),
                })
            })?;
            let from = parse_date(ao.req(&akp, "from")?, &akp.key("from"))?;
            let to = match ao.get("to") {
                None | Some(Json::Null) => None,
                Some(t) => {
                    let tp = akp.key("to");
                    let to = parse_date(t, &tp)?;
                    if to < from {
                        return Err(
                            tp.invalid(t.show(), format!("must not be before from ({from})"))
                        );
                    }
                    Some(to)
                }
            };
            if let Some(prev) = assignments.last() {
                match prev.to {
                    Some(prev_to) if prev_to < from => {}
                    _ => {
                        return Err(akp.key("from").invalid(
                            from.to_string(),
                            "assignments are listed in date order and must not overlap: the previous one must end (\"to\") before this one starts",
                        ));
                    }
                }
            }
            assignments.push(Assignment { schedule, from, to });
        }
        let employment_start = match obj.get("employment_start") {
            Some(d) => parse_date(d, &p.key("employment_start"))?,
            None => assignments[0].from,
        };
        let monthly_wage_minor = match obj.get("monthly_wage") {
            None => None,
            Some(w) => {
                let wp = p.key("monthly_wage");
                let wo = w.as_object(&wp, WAGE_FIELDS)?;
                let amp = wp.key("amount");
                let av = wo.req(&wp, "amount")?;
                let amount = av.as_u64(&amp)?;
                if amount > 100_000_000_000 {
                    return Err(amp.invalid(av.show(), "at most 100,000,000,000 minor units"));
                }
                let cp = wp.key("currency");
                let cv = wo.req(&wp, "currency")?;
                if cv.as_str(&cp)? != "HKD" {
                    return Err(cp.invalid(cv.show(), "wages are in \"HKD\" (minor units: cents)"));
                }
                Some(amount as i64)
            }
        };
        let mut roster = BTreeMap::new();
        if let Some(r) = obj.get("roster") {
            let rp = p.key("roster");
            let mut months = HashMap::new();
            for (k, m) in r.as_array(&rp, MAX_ROSTER_MONTHS)?.iter().enumerate() {
                let mp = rp.index(k);
                let mo = m.as_object(&mp, ROSTER_FIELDS)?;
                let mvp = mp.key("month");
                let mv = mo.req(&mp, "month")?;
                let month = Month::parse(mv.as_str(&mvp)?)
                    .ok_or_else(|| mvp.invalid(mv.show(), "a month \"YYYY-MM\""))?;
                if let Some(first) = months.insert(month, mvp.to_string()) {
                    return Err(mvp.err(PolicyErrorKind::Duplicate {
                        value: mv.show(),
                        first,
                    }));
                }
                let (Some(first), Some(last)) = (month.first(), month.last()) else {
                    return Err(mvp.invalid(mv.show(), "a month \"YYYY-MM\""));
                };
                let n = (last - first).num_days() as usize + 1;
                let dp = mp.key("days");
                let dv = mo.req(&mp, "days")?;
                let days = dv.as_array(&dp, 31)?;
                if days.len() != n {
                    return Err(dp.invalid(
                        dv.show(),
                        format!("{month} has {n} days: give one entry per day (a shift id, \"rest\", or null for not rostered)"),
                    ));
                }
                for (d, day) in days.iter().enumerate() {
                    let date = first + chrono::Duration::days(d as i64);
                    let dkp = dp.index(d);
                    match day {
                        Json::Null => {}
                        Json::Str(s) if &**s == "rest" => {
                            roster.insert(date, RosterDay::Rest);
                        }
                        _ => {
                            if let Some(s) = shift_ref(day, &dkp, shifts)? {
                                roster.insert(date, RosterDay::Shift(s));
                            }
                        }
                    }
                }
            }
        }
        let mut alternative_holidays = BTreeMap::new();
        if let Some(a) = obj.get("alternative_holidays") {
            let ahp = p.key("alternative_holidays");
            for (k, e) in a.as_array(&ahp, MAX_ALTERNATIVES)?.iter().enumerate() {
                let ep = ahp.index(k);
                let eo = e.as_object(&ep, ALT_FIELDS)?;
                let date = parse_date(eo.req(&ep, "date")?, &ep.key("date"))?;
                let fp = ep.key("for");
                let for_holiday = parse_date(eo.req(&ep, "for")?, &fp)?;
                if (date - for_holiday).num_days().abs() > 60 {
                    return Err(fp.invalid(
                        for_holiday.to_string(),
                        format!("an alternative holiday is given within 60 days of the holiday; {date} is {} days away", (date - for_holiday).num_days().abs()),
                    ));
                }
                if alternative_holidays.insert(date, for_holiday).is_some() {
                    return Err(ep.key("date").err(PolicyErrorKind::Duplicate {
                        value: date.to_string(),
                        first: "an earlier alternative holiday".to_owned(),
                    }));
                }
            }
        }
        out.push(Person {
            employee,
            employment_start,
            monthly_wage_minor,
            assignments,
            roster,
            alternative_holidays,
        });
    }
    Ok(out)
}

fn parse_overtime(v: &Json, path: &Path<'_>) -> Result<OvertimeRules, PolicyError> {
    let obj = v.as_object(path, OVERTIME_FIELDS)?;
    let d = OvertimeRules::default();
    let rule = |key: &str, default: OvertimeRule| -> Result<OvertimeRule, PolicyError> {
        match obj.get(key) {
            Some(r) => parse_rule(r, &path.key(key), default),
            None => Ok(default),
        }
    };
    let expiry = match obj.get("time_off_expiry_days") {
        Some(e) => {
            let ep = path.key("time_off_expiry_days");
            let n = e.as_u64(&ep)?;
            if !(1..=3650).contains(&n) {
                return Err(ep.invalid(e.show(), "must be between 1 and 3650 days"));
            }
            n as u32
        }
        None => d.time_off_expiry_days,
    };
    Ok(OvertimeRules {
        workday: rule("workday", d.workday)?,
        rest_day: rule("rest_day", d.rest_day)?,
        holiday: rule("holiday", d.holiday)?,
        time_off_expiry_days: expiry,
    })
}

fn parse_rule(v: &Json, path: &Path<'_>, d: OvertimeRule) -> Result<OvertimeRule, PolicyError> {
    let obj = v.as_object(path, RULE_FIELDS)?;
    let choice = |key: &str, allowed: &'static str| -> Result<Option<&str>, PolicyError> {
        match obj.get(key) {
            None => Ok(None),
            Some(x) => {
                let p = path.key(key);
                let s = x.as_str(&p)?;
                if allowed.split('|').any(|a| a == s) {
                    Ok(Some(s))
                } else {
                    Err(p.invalid(
                        x.show(),
                        format!("expected one of {}", allowed.replace('|', ", ")),
                    ))
                }
            }
        }
    };
    let basis = match choice("basis", "approved|punched|lesser")? {
        Some("approved") => OvertimeBasis::Approved,
        Some("punched") => OvertimeBasis::Punched,
        Some(_) => OvertimeBasis::Lesser,
        None => d.basis,
    };
    let rounding = match choice("rounding", "down|nearest|up")? {
        Some("down") => Rounding::Down,
        Some("nearest") => Rounding::Nearest,
        Some(_) => Rounding::Up,
        None => d.rounding,
    };
    let compensation = match choice("compensation", "pay|time_off")? {
        Some("pay") => Compensation::Pay,
        Some(_) => Compensation::TimeOff,
        None => d.compensation,
    };
    let unit_minutes = minutes_opt(&obj, path, "unit_minutes", d.unit_minutes, 240)?;
    if unit_minutes == 0 {
        return Err(path
            .key("unit_minutes")
            .invalid("0", "must be between 1 and 240 minutes"));
    }
    Ok(OvertimeRule {
        basis,
        min_minutes: minutes_opt(&obj, path, "min_minutes", d.min_minutes, DAY_MIN)?,
        unit_minutes,
        rounding,
        daily_cap_min: minutes_opt(&obj, path, "daily_cap_min", d.daily_cap_min, DAY_MIN)?,
        compensation,
    })
}
