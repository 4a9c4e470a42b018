//! The Today board: for today in the organisation's time zone, every employee the account
//! may see, grouped by site, with a status word from the attendance engine's day result and
//! the time of the first clock-in, and the counts at the top.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use daka_core::Policy;
use daka_core::attendance::{DayResult, DayStatus};

use crate::attendance::{current_policy, recompute};
use crate::storage::{ConsoleAccount, ConsoleRole, Storage, StorageError};

/// One employee's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Employee id, e.g. `E1001`.
    pub id: String,
    /// Name from the policy.
    pub name: String,
    /// The status's machine word (`clocked_in`, `late`, `not_yet_in`, `missing_clock_out`,
    /// `on_leave`, `rest_day`, `holiday`, `absent`, `not_scheduled`).
    pub status: &'static str,
    /// Late minutes, when late.
    pub late_min: u32,
    /// The first counted clock-in, `HH:MM` local time; empty when none.
    pub first_in: String,
    /// The record id of that clock-in, for its evidence page; empty when none.
    pub first_in_id: String,
}

impl Row {
    /// The string-table key of the status word.
    pub fn status_key(&self) -> String {
        format!("status.{}", self.status)
    }
}

/// A site's employees.
#[derive(Debug, Clone)]
pub struct SiteGroup {
    /// Site name from the policy.
    pub name: String,
    /// Its employees, in the policy's order.
    pub rows: Vec<Row>,
}

/// The whole board.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// Today, in the policy's time zone.
    pub date: Option<NaiveDate>,
    /// When the board was made: the local time, `HH:MM`.
    pub as_of: String,
    /// By site, in the policy's order of sites.
    pub sites: Vec<SiteGroup>,
    /// Clocked in (late and missing clock-outs included).
    pub present: usize,
    /// Late.
    pub late: usize,
    /// Not yet in, or absent.
    pub not_in: usize,
    /// On leave.
    pub on_leave: usize,
}

/// The employees an account may see: everyone for HR, finance and auditors; a manager's
/// reports, direct and further down the manager tree.
pub fn visible(policy: &Policy, account: &ConsoleAccount) -> BTreeSet<String> {
    match account.role {
        ConsoleRole::HrAdmin | ConsoleRole::Finance | ConsoleRole::Auditor => {
            policy.employees.iter().map(|e| e.id.clone()).collect()
        }
        ConsoleRole::Manager => {
            let Some(me) = account.employee_id.as_deref() else {
                return BTreeSet::new();
            };
            let mut seen = BTreeSet::new();
            let mut frontier = vec![me.to_owned()];
            while let Some(boss) = frontier.pop() {
                for e in &policy.employees {
                    if e.manager.as_deref() == Some(boss.as_str()) && seen.insert(e.id.clone()) {
                        frontier.push(e.id.clone());
                    }
                }
            }
            seen.remove(me);
            seen
        }
    }
}

/// The time of a day's first counted clock-in.
fn first_clock_in(day: &DayResult) -> Option<DateTime<Utc>> {
    day.segments.iter().filter_map(|s| s.clock_in).min()
}

/// The status word, late minutes and first clock-in of a day result.
fn status(day: &DayResult, policy: &Policy) -> (&'static str, u32, String) {
    let first_in = day.segments.iter().filter_map(|s| s.clock_in).min();
    let shown = first_in
        .map(|t| {
            t.with_timezone(&policy.time_zone())
                .format("%H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let word = match day.status {
        DayStatus::OnLeave => "on_leave",
        DayStatus::RestDay => "rest_day",
        DayStatus::Holiday => "holiday",
        DayStatus::Absent => "absent",
        DayStatus::Unscheduled => "not_scheduled",
        _ if first_in.is_none() => {
            if !day.leave.is_empty() {
                "on_leave"
            } else if matches!(day.status, DayStatus::InProgress | DayStatus::Pending) {
                "not_yet_in"
            } else {
                "absent"
            }
        }
        DayStatus::InProgress if day.late_min > 0 => "late",
        DayStatus::InProgress => "clocked_in",
        _ if day.missing_clock_out > 0 => "missing_clock_out",
        _ if day.late_min > 0 => "late",
        _ => "clocked_in",
    };
    let late = if word == "late" { day.late_min } else { 0 };
    (word, late, shown)
}

/// Builds the board for `account` at `now`, computing today's results first where needed.
pub fn board(
    storage: &dyn Storage,
    account: &ConsoleAccount,
    now: DateTime<Utc>,
) -> Result<Option<Board>, StorageError> {
    let Some(policy) = current_policy(storage, &account.org_id)? else {
        return Ok(None);
    };
    let today = now.with_timezone(&policy.time_zone()).date_naive();
    let who = visible(&policy, account);
    let mut results: HashMap<String, DayResult> = HashMap::new();
    let people: Vec<String> = policy
        .attendance
        .people
        .iter()
        .map(|p| p.employee.clone())
        .filter(|e| who.contains(e))
        .collect();
    if !people.is_empty() {
        recompute::ensure_days(storage, &account.org_id, &people, today, today, now)?;
        for d in storage.attendance_days(&account.org_id, None, today, today)? {
            if who.contains(&d.employee_id)
                && let Ok(r) = serde_json::from_str::<DayResult>(&d.result)
            {
                results.insert(d.employee_id.clone(), r);
            }
        }
    }
    let mut board = Board {
        date: Some(today),
        as_of: now
            .with_timezone(&policy.time_zone())
            .format("%H:%M")
            .to_string(),
        ..Board::default()
    };
    let mut groups: Vec<SiteGroup> = policy
        .sites
        .iter()
        .map(|s| SiteGroup {
            name: s.name.clone(),
            rows: Vec::new(),
        })
        .collect();
    for e in policy.employees.iter().filter(|e| who.contains(&e.id)) {
        let (word, late_min, first_in) = match results.get(&e.id) {
            Some(day) => status(day, &policy),
            None => ("not_scheduled", 0, String::new()),
        };
        match word {
            "clocked_in" | "missing_clock_out" => board.present += 1,
            "late" => {
                board.present += 1;
                board.late += 1;
            }
            "not_yet_in" | "absent" => board.not_in += 1,
            "on_leave" => board.on_leave += 1,
            _ => {}
        }
        let first_in_id = match results.get(&e.id).and_then(first_clock_in) {
            Some(t) => storage
                .attendance_sources(
                    &account.org_id,
                    &e.id,
                    t,
                    t + chrono::Duration::milliseconds(1),
                )?
                .punches
                .into_iter()
                .find(|p| p.judged_at == t)
                .map(|p| p.punch_id)
                .unwrap_or_default(),
            None => String::new(),
        };
        let site = e.sites.first().copied().unwrap_or(0);
        if let Some(g) = groups.get_mut(site) {
            g.rows.push(Row {
                id: e.id.clone(),
                name: e.name.clone(),
                status: word,
                late_min,
                first_in,
                first_in_id,
            });
        }
    }
    board.sites = groups.into_iter().filter(|g| !g.rows.is_empty()).collect();
    Ok(Some(board))
}
