//! Properties of the route engine and the leave ledger over random templates, forms and
//! request histories.
//!
//! * The route a device previews equals the route the server computes: the server loads the
//!   policy from its own copy of the text and reads the form from the JSON the device sent.
//!   Both equal a reference evaluation written independently here, and never contain the
//!   applicant or an empty step.
//! * Leave ledgers always sum to the balances shown, and a balance that may not go negative
//!   never does, whatever order requests are submitted, approved, rejected and withdrawn in.

use daka_core::Policy;
use daka_core::approvals::leave::{self, Movement};
use daka_core::approvals::template::LeaveType;
use daka_core::approvals::{Form, compute_route};
use proptest::prelude::*;
use serde_json::{Value, json};

const POLICY: &str = include_str!("../../examples/hk-policy.json");

/// Employees of the example company who have a manager, and their manager chains.
const APPLICANTS: &[(&str, &[&str])] = &[
    ("E0101", &["E0001"]),
    ("E1001", &["E0101", "E0001"]),
    ("E1002", &["E0101", "E0001"]),
    ("E0201", &["E0001"]),
    ("E2001", &["E0201", "E0001"]),
];
const EVERYONE: &[&str] = &["E0001", "E0101", "E1001", "E1002", "E0201", "E2001"];
const FINANCE: &[&str] = &["E0201"];

// ---- random templates -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    /// amount (money, minor units)
    Money(&'static str, i64),
    /// kind (choice) eq / ne / in
    Kind(&'static str, Vec<&'static str>),
    /// period (date range) length in half days
    Days(&'static str, u32),
    /// score (number)
    Score(&'static str, f64),
}

const ORDER_OPS: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le"];
const KINDS: &[&str] = &["a", "b", "c"];

fn cond() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![
        (prop::sample::select(ORDER_OPS), 0i64..2_000_000).prop_map(|(op, v)| Cond::Money(op, v)),
        (
            prop::sample::select(&["eq", "ne", "in"][..]),
            prop::sample::subsequence(KINDS.to_vec(), 1..=3)
        )
            .prop_map(|(op, v)| Cond::Kind(op, v)),
        (prop::sample::select(ORDER_OPS), 0u32..20).prop_map(|(op, v)| Cond::Days(op, v)),
        (prop::sample::select(ORDER_OPS), -5.0f64..5.0).prop_map(|(op, v)| Cond::Score(op, v)),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(Cond::All),
            prop::collection::vec(inner, 1..3).prop_map(Cond::Any),
        ]
    })
}

impl Cond {
    fn to_json(&self) -> Value {
        match self {
            Cond::All(cs) => json!({ "all": cs.iter().map(Cond::to_json).collect::<Vec<_>>() }),
            Cond::Any(cs) => json!({ "any": cs.iter().map(Cond::to_json).collect::<Vec<_>>() }),
            Cond::Money(op, v) => json!({ "field": "amount", "op": op, "value": v }),
            Cond::Kind(op, v) if *op == "in" => json!({ "field": "kind", "op": "in", "value": v }),
            Cond::Kind(op, v) => json!({ "field": "kind", "op": op, "value": v[0] }),
            Cond::Days(op, halves) => {
                json!({ "field": "period", "op": op, "value": f64::from(*halves) / 2.0 })
            }
            Cond::Score(op, v) => json!({ "field": "score", "op": op, "value": v }),
        }
    }

    /// The reference evaluation over the raw form: a missing field makes a comparison false.
    fn holds(&self, form: &RawForm) -> bool {
        fn ord<T: PartialOrd>(op: &str, a: T, b: T) -> bool {
            match op {
                "eq" => a == b,
                "ne" => a != b,
                "gt" => a > b,
                "ge" => a >= b,
                "lt" => a < b,
                _ => a <= b,
            }
        }
        match self {
            Cond::All(cs) => cs.iter().all(|c| c.holds(form)),
            Cond::Any(cs) => cs.iter().any(|c| c.holds(form)),
            Cond::Money(op, v) => ord(op, form.amount, *v),
            Cond::Kind(op, v) => match (&form.kind, *op) {
                (None, _) => false,
                (Some(k), "in") => v.contains(&k.as_str()),
                (Some(k), "eq") => k == v[0],
                (Some(k), _) => k != v[0],
            },
            Cond::Days(op, halves) => match form.halves {
                None => false,
                Some(h) => ord(op, h, *halves),
            },
            Cond::Score(op, v) => match form.score {
                None => false,
                Some(s) => ord(op, s, *v),
            },
        }
    }
}

#[derive(Debug, Clone)]
enum Who {
    Manager(u8),
    Finance,
    Named(Vec<&'static str>),
}

#[derive(Debug, Clone)]
struct Step {
    who: Who,
    all: bool,
    when: Option<Cond>,
}

fn step() -> impl Strategy<Value = Step> {
    let who = prop_oneof![
        (1u8..=2).prop_map(Who::Manager),
        Just(Who::Finance),
        prop::sample::subsequence(EVERYONE.to_vec(), 1..=3).prop_map(Who::Named),
    ];
    (who, any::<bool>(), prop::option::of(cond())).prop_map(|(who, all, when)| Step {
        who,
        all,
        when,
    })
}

fn template(steps: &[Step]) -> Value {
    let mut route: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let approvers = match &s.who {
                Who::Manager(l) => json!({ "manager": l }),
                Who::Finance => json!({ "role": "finance" }),
                Who::Named(ids) => json!({ "employees": ids }),
            };
            let mut step = json!({ "name": format!("Step {i}"), "approvers": approvers, "mode": if s.all { "all" } else { "any" } });
            if let Some(c) = &s.when {
                step["when"] = c.to_json();
            }
            step
        })
        .collect();
    // The loader requires one unconditional step.
    route.push(json!({ "name": "Final", "approvers": { "manager": 1 } }));
    json!({
        "id": "random", "name": "Random form", "type": "general",
        "fields": [
            { "id": "amount", "type": "money", "required": true, "currency": "HKD", "min": 0, "max": 2_000_000 },
            { "id": "kind", "type": "choice", "options": KINDS },
            { "id": "period", "type": "date_range", "max_days": 10 },
            { "id": "score", "type": "number", "min": -5, "max": 5 },
        ],
        "route": route,
    })
}

#[derive(Debug, Clone)]
struct RawForm {
    amount: i64,
    kind: Option<String>,
    /// Start offset in days, length in half days.
    period: Option<(u32, u32)>,
    halves: Option<u32>,
    score: Option<f64>,
}

fn raw_form() -> impl Strategy<Value = RawForm> {
    (
        0i64..2_000_000,
        prop::option::of(prop::sample::select(KINDS).prop_map(str::to_owned)),
        prop::option::of((0u32..300, 1u32..=20)),
        prop::option::of(-5.0f64..5.0),
    )
        .prop_map(|(amount, kind, period, score)| RawForm {
            amount,
            kind,
            halves: period.map(|(_, h)| h),
            period,
            score,
        })
}

impl RawForm {
    fn to_json(&self) -> Value {
        let mut f = json!({ "amount": { "minor": self.amount, "currency": "HKD" } });
        if let Some(k) = &self.kind {
            f["kind"] = json!(k);
        }
        if let Some((offset, halves)) = self.period {
            // `halves` half days starting on a morning: whole days, then half a day more
            // ending at noon when odd.
            let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
                + chrono::Duration::days(offset.into());
            let end = start + chrono::Duration::days(i64::from(halves.div_ceil(2)) - 1);
            let mut p = json!({ "start": start.to_string(), "end": end.to_string() });
            if halves % 2 == 1 {
                p["end_half"] = json!("am");
            }
            f["period"] = p;
        }
        if let Some(s) = self.score {
            f["score"] = json!(s);
        }
        f
    }
}

fn policy_text(template: Value) -> String {
    let mut doc: Value = serde_json::from_str(POLICY).unwrap();
    doc["approvals"]["templates"] = json!([template]);
    doc.to_string()
}

/// The reference route: (step name, approvers) for each step that applies.
fn reference_route(steps: &[Step], applicant: &str, form: &RawForm) -> Vec<(String, Vec<String>)> {
    let chain = APPLICANTS.iter().find(|(a, _)| *a == applicant).unwrap().1;
    let resolve = |who: &Who| -> Vec<String> {
        let ids: Vec<&str> = match who {
            Who::Manager(l) => chain
                .get(usize::from(*l) - 1)
                .map(|m| vec![*m])
                .unwrap_or_default(),
            Who::Finance => FINANCE.to_vec(),
            Who::Named(ids) => ids.clone(),
        };
        let mut out: Vec<String> = ids
            .into_iter()
            .filter(|i| *i != applicant)
            .map(str::to_owned)
            .collect();
        if out.is_empty() {
            out.push(chain[0].to_owned());
        }
        out
    };
    let mut route: Vec<(String, Vec<String>)> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.when.as_ref().is_none_or(|c| c.holds(form)))
        .map(|(i, s)| (format!("Step {i}"), resolve(&s.who)))
        .collect();
    route.push(("Final".into(), resolve(&Who::Manager(1))));
    route
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_device_preview_equals_the_server_route(
        steps in prop::collection::vec(step(), 0..5),
        form in raw_form(),
        applicant in prop::sample::select(APPLICANTS.iter().map(|(a, _)| *a).collect::<Vec<_>>()),
    ) {
        let text = policy_text(template(&steps));
        let chain = APPLICANTS.iter().find(|(a, _)| *a == applicant).unwrap().1;
        // A manager level above the top of the chain has no approver: the engine refuses it.
        let unreachable = steps.iter().any(|s| {
            matches!(s.who, Who::Manager(l) if usize::from(l) > chain.len())
                && s.when.as_ref().is_none_or(|c| c.holds(&form))
        });

        // The device.
        let device_policy = Policy::from_json(&text).unwrap();
        let t = device_policy.approvals.template("random").unwrap();
        let device_form = Form::read(t, &form.to_json()).unwrap();
        let preview = compute_route(&device_policy, t, applicant, &device_form);

        // The server: its own copy of the policy, the form as the device sent it.
        let sent = device_form.to_json().to_string();
        let server_policy = Policy::from_json(&text).unwrap();
        let st = server_policy.approvals.template("random").unwrap();
        let server_form = Form::read(st, &serde_json::from_str(&sent).unwrap()).unwrap();
        let server = compute_route(&server_policy, st, applicant, &server_form);

        prop_assert_eq!(&preview, &server);
        if unreachable {
            prop_assert!(preview.is_err(), "{:?}", preview);
            return Ok(());
        }
        let route = preview.unwrap();
        for s in &route {
            prop_assert!(!s.approvers.is_empty());
            prop_assert!(!s.approvers.iter().any(|a| a == applicant), "self-approval in {:?}", s);
        }
        let got: Vec<(String, Vec<String>)> = route.into_iter().map(|s| (s.name, s.approvers)).collect();
        prop_assert_eq!(got, reference_route(&steps, applicant, &form));
    }
}

// ---- leave ledger -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Submit { halves: u32, year_offset: i32 },
    Approve(usize),
    Reject(usize),
    Withdraw(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u32..=12, 0i32..2).prop_map(|(halves, year_offset)| Op::Submit { halves, year_offset }),
        2 => (0usize..20).prop_map(Op::Approve),
        1 => (0usize..20).prop_map(Op::Reject),
        1 => (0usize..20).prop_map(Op::Withdraw),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Pending,
    Approved,
    Closed,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn leave_ledgers_sum_to_the_balances_shown(
        ops in prop::collection::vec(op(), 1..60),
        allow_negative in any::<bool>(),
        entitled in 0u32..=30,
    ) {
        let lt = LeaveType { id: "annual".into(), name: "Annual".into(), yearly_halves: entitled, allow_negative, time_off_in_lieu: false };
        let mut ledger: Vec<Movement> = Vec::new();
        // The model: each request's half days, year and state.
        let mut requests: Vec<(u32, i32, State)> = Vec::new();
        for op in ops {
            match op {
                Op::Submit { halves, year_offset } => {
                    let year = 2026 + year_offset;
                    let id = format!("r{}", requests.len());
                    match leave::hold(&lt, "E1001", year, halves, &id, &ledger) {
                        Ok(m) => {
                            ledger.push(m);
                            requests.push((halves, year, State::Pending));
                        }
                        Err(e) => {
                            prop_assert!(!allow_negative, "refused although negative is allowed: {e}");
                            let b = leave::balance(&lt, "E1001", year, &ledger);
                            prop_assert!(b.available < i64::from(halves));
                            prop_assert!(e.to_string().contains("not enough annual leave"));
                        }
                    }
                }
                Op::Approve(i) | Op::Reject(i) | Op::Withdraw(i) => {
                    let Some(r) = requests.get_mut(i) else { continue };
                    if r.2 != State::Pending {
                        // Settling twice adds nothing.
                        let again = leave::settle(&format!("r{i}"), true, &ledger);
                        prop_assert!(again.is_empty());
                        continue;
                    }
                    let approved = matches!(op, Op::Approve(_));
                    ledger.extend(leave::settle(&format!("r{i}"), approved, &ledger));
                    r.2 = if approved { State::Approved } else { State::Closed };
                }
            }
            for year in [2026, 2027] {
                let b = leave::balance(&lt, "E1001", year, &ledger);
                let sum: i64 = ledger.iter().filter(|m| m.year == year).map(|m| m.halves).sum();
                let model_taken: i64 = requests.iter().filter(|r| r.1 == year && r.2 == State::Approved).map(|r| i64::from(r.0)).sum();
                let model_pending: i64 = requests.iter().filter(|r| r.1 == year && r.2 == State::Pending).map(|r| i64::from(r.0)).sum();
                prop_assert_eq!(b.available, i64::from(entitled) + sum);
                prop_assert_eq!(b.taken, model_taken);
                prop_assert_eq!(b.pending, model_pending);
                prop_assert_eq!(b.available, b.entitled - b.taken - b.pending);
                if !allow_negative {
                    prop_assert!(b.available >= 0, "{:?}", b);
                }
            }
        }
    }
}
