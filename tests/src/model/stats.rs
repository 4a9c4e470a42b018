//! Counts gathered across every case of a model run, printed at its end: cases, steps,
//! operations by kind, faults injected, process deaths and power cuts, items checked and
//! violations.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Totals of the process deaths, or of the power cuts, of a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct CutCounts {
    /// Cuts made.
    pub total: u64,
    /// Of those, cuts that fell at the armed call, inside the work (the others fell when the
    /// work had ended).
    pub in_work: u64,
    /// Punch calls the cut made fail.
    pub punches_interrupted: u64,
    /// Of those, punches whose record the store kept anyway, taken into the ledger.
    pub interrupted_kept: u64,
    /// Unflushed write calls at the cuts (over every file).
    pub writes_unflushed: u64,
    /// Of those, writes the disk kept in part (power cuts only).
    pub writes_torn: u64,
}

impl std::fmt::Display for CutCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} at a call inside the work; {} punches interrupted, {} of them kept; {} unflushed writes, {} torn)",
            self.total,
            self.in_work,
            self.punches_interrupted,
            self.interrupted_kept,
            self.writes_unflushed,
            self.writes_torn,
        )
    }
}

/// Totals of a run.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Cases run to their end (drained and checked).
    pub cases: u64,
    /// Operations applied, in all cases (shrinking included).
    pub steps: u64,
    /// Operations applied, by kind.
    pub ops: BTreeMap<&'static str, u64>,
    /// Wall time spent in operations (with their checks), by kind, in microseconds.
    pub op_micros: BTreeMap<&'static str, u64>,
    /// Wall time spent starting cases (server, proxy, enrolments), in microseconds.
    pub setup_micros: u64,
    /// Wall time spent in final drains and checks, in microseconds.
    pub drain_micros: u64,
    /// Faults the proxy injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Punches and requests compared with the model after a drain.
    pub items_checked: u64,
    /// Punches whose server verdict was compared with a reference evaluation.
    pub verdicts_checked: u64,
    /// Sync rounds run (steps and drains).
    pub sync_rounds: u64,
    /// Items the server answered "accepted" (first delivery).
    pub accepted: u64,
    /// Items sent again and answered "duplicate" (applied before, e.g. the answer was lost).
    pub duplicates: u64,
    /// Items the server refused (parked on the phone).
    pub refused: u64,
    /// Leave drafts the phone refused (no working day in the period).
    pub refused_drafts: u64,
    /// Punches whose server findings differ from the phone's, by "phone codes → server
    /// codes".
    pub differing: BTreeMap<String, u64>,
    /// Process deaths at a call of a phone's store, with everything written kept.
    pub kills: CutCounts,
    /// Power cuts at a call of a phone's store, with only what was flushed sure to be kept.
    pub power_cuts: CutCounts,
    /// Process deaths and power cuts by how the unflushed writes met the disk.
    pub landings: BTreeMap<&'static str, u64>,
    /// Checks that failed.
    pub violations: u64,
}

static STATS: Mutex<Option<Stats>> = Mutex::new(None);

/// Changes the run's totals.
pub fn update(f: impl FnOnce(&mut Stats)) {
    let mut guard = STATS.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(Stats::default));
}

/// The run's totals so far.
pub fn snapshot() -> Stats {
    STATS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Starts the totals again from zero.
pub fn reset() {
    *STATS.lock().unwrap_or_else(|p| p.into_inner()) = Some(Stats::default());
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ops: Vec<String> = self
            .ops
            .iter()
            .map(|(k, v)| {
                let ms = self.op_micros.get(k).copied().unwrap_or(0) as f64 / 1_000.0;
                format!("{k} {v} ({:.2} ms each)", ms / (*v).max(1) as f64)
            })
            .collect();
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let landings: Vec<String> = self
            .landings
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        write!(
            f,
            "cases {}, steps {}; operations: {}; case set-up {:.1} s, drains and final checks {:.1} s; sync rounds {} (items accepted {}, resent and answered duplicate {}, refused {}; leave drafts refused on the phone {}); faults injected {} ({}); process deaths {}; power cuts {}; landings: {}; items checked {} ({} verdicts against the reference engine); violations {}",
            self.cases,
            self.steps,
            ops.join(", "),
            self.setup_micros as f64 / 1e6,
            self.drain_micros as f64 / 1e6,
            self.sync_rounds,
            self.accepted,
            self.duplicates,
            self.refused,
            self.refused_drafts,
            self.faults.values().sum::<u64>(),
            faults.join(", "),
            self.kills,
            self.power_cuts,
            landings.join(", "),
            self.items_checked,
            self.verdicts_checked,
            self.violations,
        )
    }
}
