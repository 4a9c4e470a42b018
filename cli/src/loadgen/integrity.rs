//! After the run: does each server hold exactly what it acknowledged? Reads every stored punch
//! (`GET /admin/v1/punches`, page by page) and every chain's verification
//! (`GET /admin/v1/chains/verify`) of each target, keeps the simulated devices' own, and
//! compares them with what the devices were told: every acknowledged record stored exactly
//! once, none stored twice, and every device's chain verifying to the record count stored.
//!
//! The comparison ([`compare`]) is a pure function of the admin answers, so a crafted answer
//! (a lost or a doubled record) tests it without a server.

use std::collections::{BTreeMap, HashMap, HashSet};

use daka_server::api::admin::{ChainReport, PunchInfo, PunchList};
use serde::Serialize;

use super::LoadResult;
use super::admin::Admin;

/// Punches per admin page: the API's largest.
const PAGE: u32 = 5000;

/// What one device was told: the ids of its acknowledged records.
pub(super) struct Expected {
    /// The device.
    pub(super) device_id: String,
    /// Records answered `accepted` or `duplicate`.
    pub(super) acknowledged: Vec<String>,
}

/// The outcome of the check.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub(super) struct Integrity {
    /// Acknowledged records checked.
    pub(super) acknowledged: usize,
    /// The simulated devices' records the servers hold.
    pub(super) stored: usize,
    /// Those records by the server's status (`accepted`, `field_punch`, `refused`).
    pub(super) by_status: BTreeMap<String, usize>,
    /// Acknowledged records the server does not hold: `(device, record id)`.
    pub(super) lost: Vec<(String, String)>,
    /// Records the server lists more than once: `(device, record id, times)`.
    pub(super) duplicated: Vec<(String, String, usize)>,
    /// Records stored without an acknowledgement (a request cut off by the time limit, whose
    /// answer never came): allowed, counted.
    pub(super) unacknowledged_stored: usize,
    /// Devices whose chain does not verify, or is missing from the report, or holds another
    /// number of records than listed: `(device, what)`.
    pub(super) broken_chains: Vec<(String, String)>,
    /// Devices whose chains verified.
    pub(super) chains_ok: usize,
}

impl Integrity {
    /// Whether nothing acknowledged was lost, nothing doubled and every chain verifies.
    pub(super) fn ok(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty() && self.broken_chains.is_empty()
    }
}

/// Compares what the devices were told with one server's punch list and chain report (which
/// may hold other devices' punches too: only `expected`'s devices are looked at).
pub(super) fn compare(
    expected: &[Expected],
    punches: &[PunchInfo],
    chains: &ChainReport,
) -> Integrity {
    let ours: HashSet<&str> = expected.iter().map(|e| e.device_id.as_str()).collect();
    let mut times: HashMap<&str, usize> = HashMap::new();
    let mut per_device: HashMap<&str, usize> = HashMap::new();
    let mut device_of: HashMap<&str, &str> = HashMap::new();
    let mut stored = 0;
    let mut by_status = BTreeMap::new();
    for p in punches
        .iter()
        .filter(|p| ours.contains(p.device_id.as_str()))
    {
        stored += 1;
        let status = serde_json::to_value(p.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", p.status));
        *by_status.entry(status).or_default() += 1;
        *times.entry(&p.punch_id).or_default() += 1;
        *per_device.entry(&p.device_id).or_default() += 1;
        device_of.insert(&p.punch_id, &p.device_id);
    }
    let mut out = Integrity {
        stored,
        by_status,
        ..Integrity::default()
    };
    let mut acknowledged: HashSet<&str> = HashSet::new();
    for e in expected {
        for id in &e.acknowledged {
            out.acknowledged += 1;
            acknowledged.insert(id);
            if !times.contains_key(id.as_str()) {
                out.lost.push((e.device_id.clone(), id.clone()));
            }
        }
    }
    let mut doubled: Vec<(String, String, usize)> = times
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| (device_of[id].to_string(), id.to_string(), *n))
        .collect();
    doubled.sort();
    out.duplicated = doubled;
    out.unacknowledged_stored = times
        .keys()
        .filter(|id| !acknowledged.contains(*id))
        .count();
    let checks: HashMap<&str, _> = chains
        .devices
        .iter()
        .map(|c| (c.device_id.as_str(), c))
        .collect();
    for e in expected {
        let listed = per_device.get(e.device_id.as_str()).copied().unwrap_or(0);
        match checks.get(e.device_id.as_str()) {
            None => out
                .broken_chains
                .push((e.device_id.clone(), "not in the chain report".into())),
            Some(c) if !c.ok => out.broken_chains.push((
                e.device_id.clone(),
                c.error.as_ref().map_or("not ok".to_string(), |f| {
                    format!("{}: {}", f.code, f.message)
                }),
            )),
            Some(c) if c.records != listed || c.last_seq != listed as u64 => {
                out.broken_chains.push((
                    e.device_id.clone(),
                    format!(
                        "the chain holds {} records up to seq {}, the punch list {listed}",
                        c.records, c.last_seq
                    ),
                ))
            }
            Some(_) => out.chains_ok += 1,
        }
    }
    out
}

/// Every punch of the organisation of `admin`'s token, page by page.
async fn all_punches(admin: &Admin) -> LoadResult<Vec<PunchInfo>> {
    let mut all = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let path = match after {
            Some(a) => format!("/admin/v1/punches?limit={PAGE}&after={a}"),
            None => format!("/admin/v1/punches?limit={PAGE}"),
        };
        let page: PunchList = admin.get(&path).await?;
        all.extend(page.punches);
        match page.next_after {
            Some(a) => after = Some(a),
            None => return Ok(all),
        }
    }
}

/// The punch list and the chain report of a server at rest: a request abandoned at the time
/// limit may still commit while they are read, so the list is read again after the report
/// until it no longer grows (at most [`SETTLE_ROUNDS`] times, a fifth of a second apart).
async fn settled(admin: &Admin) -> LoadResult<(Vec<PunchInfo>, ChainReport)> {
    let mut punches = all_punches(admin).await?;
    let mut round = 1;
    loop {
        let chains: ChainReport = admin.get("/admin/v1/chains/verify").await?;
        let again = all_punches(admin).await?;
        if again.len() == punches.len() || round == SETTLE_ROUNDS {
            return Ok((again, chains));
        }
        punches = again;
        round += 1;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Most readings of a server that is still committing abandoned requests.
const SETTLE_ROUNDS: usize = 50;

/// Checks each target against the devices that talked to it (`expected[t]` for target `t`).
pub(super) async fn check(admins: &[Admin], expected: &[Vec<Expected>]) -> LoadResult<Integrity> {
    let mut total = Integrity::default();
    for (admin, expected) in admins.iter().zip(expected) {
        let (punches, chains) = settled(admin).await?;
        let one = compare(expected, &punches, &chains);
        total.acknowledged += one.acknowledged;
        total.stored += one.stored;
        for (k, v) in one.by_status {
            *total.by_status.entry(k).or_default() += v;
        }
        total.lost.extend(one.lost);
        total.duplicated.extend(one.duplicated);
        total.unacknowledged_stored += one.unacknowledged_stored;
        total.broken_chains.extend(one.broken_chains);
        total.chains_ok += one.chains_ok;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn punch(device: &str, id: &str, seq: u64) -> PunchInfo {
        serde_json::from_value(json!({
            "punch_id": id, "device_id": device, "employee_id": "E1001", "seq": seq,
            "kind": "in", "status": "accepted", "decision": "accepted", "codes": ["wifi_match"],
            "policy_version": 42, "judged_at": "2026-12-01T01:00:00Z",
            "received_at": "2026-12-01T01:00:01Z"
        }))
        .unwrap()
    }

    fn chains(devices: &[(&str, usize)]) -> ChainReport {
        serde_json::from_value(json!({
            "ok": true,
            "devices": devices.iter().map(|(d, n)| json!({
                "device_id": d, "employee_id": "E1001", "ok": true, "records": n,
                "last_seq": n, "head_hash": "ab"
            })).collect::<Vec<_>>(),
            "server_time": "2026-12-01T01:00:02Z"
        }))
        .unwrap()
    }

    fn expected(device: &str, ids: &[&str]) -> Expected {
        Expected {
            device_id: device.into(),
            acknowledged: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn what_was_acknowledged_and_stored_once_passes_and_other_devices_are_ignored() {
        let list = [
            punch("d1", "a", 1),
            punch("d1", "b", 2),
            punch("other", "z", 1),
        ];
        let got = compare(
            &[expected("d1", &["a", "b"])],
            &list,
            &chains(&[("d1", 2), ("other", 1)]),
        );
        assert!(got.ok(), "{got:?}");
        assert_eq!((got.acknowledged, got.stored, got.chains_ok), (2, 2, 1));
        assert_eq!(got.by_status.get("accepted"), Some(&2));
    }

    #[test]
    fn a_lost_record_is_named() {
        let list = [punch("d1", "a", 1)];
        let got = compare(&[expected("d1", &["a", "b"])], &list, &chains(&[("d1", 1)]));
        assert!(!got.ok());
        assert_eq!(got.lost, vec![("d1".to_string(), "b".to_string())]);
        assert!(got.duplicated.is_empty());
    }

    #[test]
    fn a_record_stored_twice_is_named_and_the_chain_count_disagrees() {
        let list = [
            punch("d1", "a", 1),
            punch("d1", "b", 2),
            punch("d1", "b", 2),
        ];
        let got = compare(&[expected("d1", &["a", "b"])], &list, &chains(&[("d1", 2)]));
        assert!(!got.ok());
        assert!(got.lost.is_empty());
        assert_eq!(got.duplicated, vec![("d1".to_string(), "b".to_string(), 2)]);
        assert_eq!(got.broken_chains.len(), 1, "{got:?}");
        assert!(got.broken_chains[0].1.contains("punch list 3"), "{got:?}");
    }

    #[test]
    fn a_chain_that_fails_or_is_missing_is_named() {
        let mut report = chains(&[("d1", 1)]);
        report.devices[0].ok = false;
        report.devices[0].error = serde_json::from_value(json!({
            "index": 0, "seq": 1, "punch_id": "a", "code": "bad_signature",
            "message": "record 0: bad_signature"
        }))
        .unwrap();
        let list = [punch("d1", "a", 1), punch("d2", "c", 1)];
        let got = compare(
            &[expected("d1", &["a"]), expected("d2", &["c"])],
            &list,
            &report,
        );
        assert!(!got.ok());
        assert_eq!(got.broken_chains.len(), 2);
        assert!(
            got.broken_chains[0].1.starts_with("bad_signature"),
            "{got:?}"
        );
        assert_eq!(got.broken_chains[1].0, "d2");
        assert!(got.broken_chains[1].1.contains("not in the chain report"));
    }

    #[test]
    fn a_stored_record_never_acknowledged_is_counted_not_failed() {
        let list = [punch("d1", "a", 1), punch("d1", "b", 2)];
        let got = compare(&[expected("d1", &["a"])], &list, &chains(&[("d1", 2)]));
        assert!(got.ok(), "{got:?}");
        assert_eq!(got.unacknowledged_stored, 1);
    }
}
