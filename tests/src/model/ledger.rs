//! The checker's model: what the real system acknowledged, and the rules its observable
//! state must keep. Each check is a pure function of the ledger and what was read from the
//! phones and the server; it answers `Err` with what broke (a violation).
//!
//! * A punch the phone answered "recorded" for is in the ledger with its record; a request
//!   the phone queued is in the ledger with the policy version it was made under. Nothing
//!   else may reach the server, and all of this must.
//! * Each phone's chain is linear as recorded: seq 1, 2, 3, … and each `prev_hash` is the
//!   hash of the record before.
//! * A phone's queue holds every acknowledged item (pending, in flight, delivered or needing
//!   attention), and items in a final state (delivered, needing attention) never go back.
//! * The server's head of each chain never goes back (restarts included) and never passes
//!   what the phone recorded.
//! * After the drain: the server holds each acknowledged punch once, in chain order, with
//!   seq 1..n; its verdict on each equals the core engine's on the same attempt, at the
//!   time and on the policy version the server judged it with; the phones' parked items are
//!   exactly the punches the server refused and the requests made under a policy version
//!   that was no longer in force; every other request is on the server once.

use std::collections::{BTreeMap, HashMap, HashSet};

use daka_core::attempt::Attempt;
use daka_core::evidence::face_token::NonceLedger;
use daka_core::evidence::spoofing::PreviousPunch;
use daka_core::punch::{PunchRecord, verify_chain};
use daka_core::{Code, Decision, Engine, Policy};
use daka_device::outbox::{OutboxItem, OutboxStats};
use daka_server::api::admin::PunchInfo;

/// A request the phone queued.
#[derive(Debug, Clone)]
pub struct Filed {
    /// The request id (also its first submission's item id).
    pub request_id: String,
    /// The policy version the phone checked and routed it with.
    pub policy_version: u64,
}

/// What one phone acknowledged.
#[derive(Debug)]
pub struct PhoneLedger {
    /// The employee the phone is enrolled for.
    pub employee: String,
    /// The id the server gave it.
    pub device_id: String,
    /// Its Ed25519 public key.
    pub public_key: [u8; 32],
    /// Recorded punches, in chain order.
    pub records: Vec<PunchRecord>,
    /// Queued requests, in order.
    pub filed: Vec<Filed>,
    /// Delivered plus needing-attention items last seen: never less afterwards.
    pub settled_floor: u64,
    /// The server's head seq last seen: never less afterwards.
    pub server_head_floor: u64,
}

impl PhoneLedger {
    /// Items the phone acknowledged.
    pub fn acknowledged(&self) -> u64 {
        (self.records.len() + self.filed.len()) as u64
    }

    /// Adds a punch the phone answered "recorded" for, after checking that it continues
    /// the chain.
    pub fn record(&mut self, record: PunchRecord) -> Result<(), String> {
        let body = &record.body;
        let expected_seq = self.records.len() as u64 + 1;
        if body.seq != expected_seq {
            return Err(format!(
                "phone {}: recorded punch {} has seq {}, expected {expected_seq}",
                self.employee, body.id, body.seq
            ));
        }
        let expected_prev = match self.records.last() {
            Some(prev) => Some(
                prev.hash()
                    .map_err(|e| format!("phone {}: record hash: {e}", self.employee))?,
            ),
            None => None,
        };
        if body.prev_hash != expected_prev {
            return Err(format!(
                "phone {}: punch seq {} links to {:?}, the previous record hashes to {:?}",
                self.employee, body.seq, body.prev_hash, expected_prev
            ));
        }
        if body.device_id != self.device_id {
            return Err(format!(
                "phone {}: punch seq {} is of device {}, not {}",
                self.employee, body.seq, body.device_id, self.device_id
            ));
        }
        self.records.push(record);
        Ok(())
    }

    /// The phone's queue holds every acknowledged item, and settled items stay settled.
    pub fn check_queue(&mut self, stats: &OutboxStats) -> Result<(), String> {
        let held = stats.pending + stats.in_flight + stats.needs_attention + stats.delivered;
        if held != self.acknowledged() {
            return Err(format!(
                "phone {}: the queue holds {held} items ({stats:?}), {} were acknowledged",
                self.employee,
                self.acknowledged()
            ));
        }
        let settled = stats.delivered + stats.needs_attention;
        if settled < self.settled_floor {
            return Err(format!(
                "phone {}: {settled} items settled, {} were before ({stats:?})",
                self.employee, self.settled_floor
            ));
        }
        self.settled_floor = settled;
        Ok(())
    }

    /// The server's head of this phone's chain never goes back nor passes what was recorded,
    /// and covers every punch the phone holds as settled.
    pub fn check_server_head(&mut self, head_seq: u64) -> Result<(), String> {
        if head_seq < self.server_head_floor {
            return Err(format!(
                "phone {}: the server's head went back from seq {} to {head_seq}",
                self.employee, self.server_head_floor
            ));
        }
        if head_seq > self.records.len() as u64 {
            return Err(format!(
                "phone {}: the server's head is seq {head_seq}, the phone recorded {}",
                self.employee,
                self.records.len()
            ));
        }
        self.server_head_floor = head_seq;
        Ok(())
    }
}

/// The published policies, by version, with when each was published (the step index).
#[derive(Default)]
pub struct Policies {
    engines: BTreeMap<u64, Engine>,
    published_at: BTreeMap<u64, usize>,
}

impl Policies {
    /// Notes a policy document published at `step`.
    pub fn publish(&mut self, document: &str, step: usize) -> Result<u64, String> {
        let policy =
            Policy::from_json(document).map_err(|e| format!("a model policy is invalid: {e}"))?;
        let version = policy.version;
        self.engines.insert(version, Engine::new(policy));
        self.published_at.insert(version, step);
        Ok(version)
    }

    /// The newest version.
    pub fn current(&self) -> u64 {
        self.engines.keys().next_back().copied().unwrap_or(0)
    }

    /// Whether a version newer than `version` was published.
    pub fn superseded(&self, version: u64) -> bool {
        self.current() > version
    }
}

/// What [`check_server_punches`] found besides violations.
#[derive(Debug, Default)]
pub struct PunchFindings {
    /// Ids of the punches the server refused.
    pub refused: HashSet<String>,
    /// Verdicts compared with the reference evaluation.
    pub verdicts: u64,
    /// Punches whose server findings differ from the phone's own, by "phone codes → server
    /// codes" (not a violation: the server judges at its trusted time, without the phone's
    /// time anchor).
    pub differing: BTreeMap<String, u64>,
}

/// The server's punches of one phone are exactly its records, once each, in order; the
/// chain verifies; every verdict equals the reference evaluation.
pub fn check_server_punches(
    phone: &PhoneLedger,
    stored: &[&PunchInfo],
    policies: &Policies,
) -> Result<PunchFindings, String> {
    let who = &phone.employee;
    let ids: Vec<&str> = stored.iter().map(|p| p.punch_id.as_str()).collect();
    let expected: Vec<String> = phone
        .records
        .iter()
        .map(|r| r.body.id.to_string())
        .collect();
    if ids != expected.iter().map(String::as_str).collect::<Vec<_>>() {
        let got: HashSet<&str> = ids.iter().copied().collect();
        let want: HashSet<&str> = expected.iter().map(String::as_str).collect();
        let lost: Vec<&&str> = want.difference(&got).collect();
        let unexpected: Vec<&&str> = got.difference(&want).collect();
        return Err(format!(
            "phone {who}: the server holds {} punches, {} were recorded; lost {lost:?}, unexpected {unexpected:?}, duplicated {}",
            ids.len(),
            expected.len(),
            ids.len() - got.len()
        ));
    }
    verify_chain(&phone.public_key, &phone.records)
        .map_err(|e| format!("phone {who}: the recorded chain does not verify: {e}"))?;
    let mut found = PunchFindings::default();
    for (index, (info, record)) in stored.iter().zip(&phone.records).enumerate() {
        if info.seq != index as u64 + 1 {
            return Err(format!(
                "phone {who}: punch {} is seq {} on the server, expected {}",
                info.punch_id,
                info.seq,
                index + 1
            ));
        }
        let (decision, codes) = reference_verdict(
            policies,
            record,
            index.checked_sub(1).map(|i| &phone.records[i]),
            info,
        )?;
        if decision != info.decision || codes != info.codes {
            return Err(format!(
                "phone {who}: punch seq {} ({}): the server judged {:?} {:?} on policy {} at {}, the reference engine {decision:?} {codes:?}",
                info.seq,
                info.punch_id,
                info.decision,
                info.codes,
                info.policy_version,
                info.judged_at
            ));
        }
        let status = serde_json::to_value(info.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let expected_status = match decision {
            Decision::Accepted => "accepted",
            Decision::FieldPunch => "field_punch",
            Decision::Rejected => "refused",
        };
        if status != expected_status {
            return Err(format!(
                "phone {who}: punch seq {} has status {status} with decision {decision:?}",
                info.seq
            ));
        }
        if decision == Decision::Rejected {
            found.refused.insert(info.punch_id.clone());
        }
        let phone_codes: Vec<Code> = record.body.verdict.reasons.iter().map(|r| r.code).collect();
        if phone_codes != codes {
            *found
                .differing
                .entry(format!("{phone_codes:?} → {codes:?}"))
                .or_default() += 1;
        }
        found.verdicts += 1;
    }
    Ok(found)
}

/// The core engine's verdict on `record`, as the server must have judged it: the policy
/// version the record names, the time the server says it judged at, the previous record of
/// the chain as the previous punch.
fn reference_verdict(
    policies: &Policies,
    record: &PunchRecord,
    previous: Option<&PunchRecord>,
    info: &PunchInfo,
) -> Result<(Decision, Vec<Code>), String> {
    let body = &record.body;
    if info.policy_version != body.policy_version {
        return Err(format!(
            "punch {}: the server names policy {}, the record {}",
            body.id, info.policy_version, body.policy_version
        ));
    }
    let engine = policies.engines.get(&body.policy_version).ok_or_else(|| {
        format!(
            "punch {} names policy {}, which was never published",
            body.id, body.policy_version
        )
    })?;
    let attempt = Attempt {
        employee_id: body.employee_id.clone(),
        kind: body.kind,
        fix: body.evidence.fix.clone(),
        more_fixes: body.evidence.more_fixes.clone(),
        wifi_bssids: body.evidence.wifi_bssids.clone(),
        face: None,
        clock: body.clock.clone(),
        previous: previous
            .map(|p| PreviousPunch {
                fix: p.body.evidence.fix.clone(),
                clock: Some(p.body.clock.clone()),
            })
            .unwrap_or_default(),
        anchor: None,
    };
    let verdict = engine
        .evaluate(&attempt, Some(info.judged_at), &mut NonceLedger::new())
        .map_err(|e| format!("punch {}: the reference engine refuses it: {e}", body.id))?;
    Ok((
        verdict.decision,
        verdict.reasons.iter().map(|r| r.code).collect(),
    ))
}

/// The phone's parked items are exactly the punches the server refused and the requests
/// made under a superseded policy (with the code saying so); the server holds every other
/// request once, made under the version it was filed with.
pub fn check_parked_and_requests(
    phone: &PhoneLedger,
    parked: &[OutboxItem],
    refused: &HashSet<String>,
    server_requests: &[(String, u64, String)],
    policies: &Policies,
) -> Result<(), String> {
    let who = &phone.employee;
    let filed: HashMap<&str, &Filed> = phone
        .filed
        .iter()
        .map(|f| (f.request_id.as_str(), f))
        .collect();
    let mut parked_requests = HashSet::new();
    let mut parked_punches = HashSet::new();
    for item in parked {
        let code = item.error.as_ref().map(|e| e.code.as_str()).unwrap_or("");
        match item.kind.as_str() {
            "punch" => {
                if !refused.contains(&item.id) {
                    return Err(format!(
                        "phone {who}: punch {} is parked ({code}) but the server did not refuse it",
                        item.id
                    ));
                }
                parked_punches.insert(item.id.clone());
            }
            "request" => {
                let Some(f) = filed.get(item.id.as_str()) else {
                    return Err(format!(
                        "phone {who}: parked request {} was never filed",
                        item.id
                    ));
                };
                if code != "policy_version_mismatch" || !policies.superseded(f.policy_version) {
                    return Err(format!(
                        "phone {who}: request {} made under policy {} (current {}) is parked: {:?}",
                        item.id,
                        f.policy_version,
                        policies.current(),
                        item.error
                    ));
                }
                parked_requests.insert(item.id.clone());
            }
            other => return Err(format!("phone {who}: parked item of kind {other}")),
        }
    }
    if parked_punches.len() != refused.len() {
        return Err(format!(
            "phone {who}: the server refused {} punches, {} are parked",
            refused.len(),
            parked_punches.len()
        ));
    }
    let mut on_server = HashSet::new();
    for (id, version, applicant) in server_requests {
        let Some(f) = filed.get(id.as_str()) else {
            return Err(format!(
                "phone {who}: the server holds request {id} that was never filed"
            ));
        };
        if !on_server.insert(id.as_str()) {
            return Err(format!("phone {who}: request {id} is on the server twice"));
        }
        if *version != f.policy_version || applicant != who {
            return Err(format!(
                "phone {who}: request {id} is on the server under policy {version} for {applicant}, filed under {}",
                f.policy_version
            ));
        }
    }
    for f in &phone.filed {
        let there = on_server.contains(f.request_id.as_str());
        let parked = parked_requests.contains(&f.request_id);
        if there == parked {
            return Err(format!(
                "phone {who}: request {} is {} on the server and {} parked",
                f.request_id,
                if there { "both" } else { "neither" },
                if parked { "" } else { "not" }
            ));
        }
    }
    Ok(())
}
