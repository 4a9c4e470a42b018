//! Approvals in the core: templates validated at policy load, forms validated field by field,
//! routes computed from the example company's people, and the request state machine.

use daka_core::Policy;
use daka_core::approvals::form::FieldProblem;
use daka_core::approvals::{
    Action, ActionError, Effect, Form, RequestState, RequestStatus, RouteError, SignerPosition,
    StepMode, compute_route,
};
use serde_json::{Value, json};

const POLICY: &str = include_str!("../../examples/hk-policy.json");

fn policy() -> Policy {
    Policy::from_json(POLICY).unwrap()
}

/// The example policy with its `approvals` section edited.
fn with_approvals(edit: impl FnOnce(&mut Value)) -> Result<Policy, daka_core::PolicyError> {
    let mut doc: Value = serde_json::from_str(POLICY).unwrap();
    edit(&mut doc["approvals"]);
    Policy::from_json(&doc.to_string())
}

fn sha(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn expense(amount_minor: i64) -> Value {
    json!({
        "amount": { "minor": amount_minor, "currency": "HKD" },
        "category": "client_entertainment",
        "date": "2026-11-20",
        "receipts": [{ "sha256": sha(1), "bytes": 183_204, "media_type": "image/jpeg" }],
        "description": "Dinner with Kowloon Bay logistics client",
    })
}

fn read(
    policy: &Policy,
    template: &str,
    form: &Value,
) -> Result<Form, daka_core::approvals::FormErrors> {
    Form::read(policy.approvals.template(template).unwrap(), form)
}

fn route_of(
    policy: &Policy,
    template: &str,
    applicant: &str,
    form: &Value,
) -> Vec<(String, Vec<String>)> {
    let t = policy.approvals.template(template).unwrap();
    let form = Form::read(t, form).unwrap();
    compute_route(policy, t, applicant, &form)
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.approvers))
        .collect()
}

fn names(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

// ---- the example policy -----------------------------------------------------------------------

#[test]
fn the_example_policy_has_roles_leave_types_and_the_built_in_templates() {
    let p = policy();
    let a = &p.approvals;
    assert_eq!(a.role("finance").unwrap().members, ["E0201"]);
    assert_eq!(a.leave_type("annual").unwrap().yearly_halves, 28);
    assert!(a.leave_type("no_pay").unwrap().allow_negative);
    assert_eq!(a.missed_punch_monthly_limit, 3);
    let ids: Vec<&str> = a.templates.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "expense",
            "leave",
            "missed_punch",
            "field_punch_review",
            "overtime",
            "purchase"
        ]
    );
    assert!(a.leave_type("toil").unwrap().time_off_in_lieu);
    assert_eq!(a.leave_type("toil").unwrap().yearly_halves, 0);
}

// ---- routes -----------------------------------------------------------------------------------

#[test]
fn an_expense_over_5000_goes_to_the_manager_then_finance() {
    let p = policy();
    assert_eq!(
        route_of(&p, "expense", "E1001", &expense(620_000)),
        [
            ("Manager".to_string(), names(&["E0101"])),
            ("Finance".to_string(), names(&["E0201"]))
        ]
    );
    // HK$5,000.00 exactly is not over the limit.
    assert_eq!(
        route_of(&p, "expense", "E1001", &expense(500_000)),
        [("Manager".to_string(), names(&["E0101"]))]
    );
}

#[test]
fn leave_over_three_days_adds_the_department_head() {
    let p = policy();
    let leave = |start: &str, end: &str, extra: Value| {
        let mut period = json!({ "start": start, "end": end });
        if let Value::Object(m) = extra {
            period.as_object_mut().unwrap().extend(m);
        }
        json!({ "leave_type": "annual", "period": period })
    };
    assert_eq!(
        route_of(
            &p,
            "leave",
            "E1001",
            &leave("2026-12-01", "2026-12-04", json!({}))
        ),
        [
            ("Manager".to_string(), names(&["E0101"])),
            ("Department head".to_string(), names(&["E0001"]))
        ]
    );
    // Three days, or three and a half days made three by a half day: the manager only.
    assert_eq!(
        route_of(
            &p,
            "leave",
            "E1001",
            &leave("2026-12-01", "2026-12-03", json!({}))
        )
        .len(),
        1
    );
    assert_eq!(
        route_of(
            &p,
            "leave",
            "E1001",
            &leave(
                "2026-12-01",
                "2026-12-04",
                json!({ "start_half": "pm", "end_half": "am" })
            )
        )
        .len(),
        1
    );
}

#[test]
fn nobody_approves_their_own_request() {
    let p = policy();
    // Finance's only member claims: the finance step escalates to their manager.
    let t = p.approvals.template("expense").unwrap();
    let form = Form::read(t, &expense(620_000)).unwrap();
    let route = compute_route(&p, t, "E0201", &form).unwrap();
    assert_eq!(route[0].approvers, ["E0001"]);
    assert_eq!(route[1].name, "Finance");
    assert_eq!(route[1].approvers, ["E0001"]);
    assert!(route[1].escalated && !route[0].escalated);
    // A countersign step naming the applicant drops them and keeps the other director.
    let purchase = json!({ "item": "vehicle", "amount": { "minor": 100_000, "currency": "HKD" } });
    let steps = route_of(&p, "purchase", "E0201", &purchase);
    assert_eq!(steps[1].1, ["E0001"]);
    // The top of the company has no manager: the request cannot be submitted at all.
    let e = compute_route(&p, t, "E0001", &form).unwrap_err();
    assert_eq!(
        e,
        RouteError::NoApprover {
            step: 0,
            name: "Manager".into(),
            reason: "E0001 has no manager at level 1".into()
        }
    );
    assert!(matches!(
        compute_route(&p, t, "E9999", &form),
        Err(RouteError::UnknownApplicant { .. })
    ));
}

#[test]
fn any_of_several_conditions_adds_a_countersign_step() {
    let p = policy();
    let form = |item: &str, minor: i64| json!({ "item": item, "amount": { "minor": minor, "currency": "HKD" } });
    let t = p.approvals.template("purchase").unwrap();
    let route = compute_route(
        &p,
        t,
        "E1001",
        &Form::read(t, &form("server", 100)).unwrap(),
    )
    .unwrap();
    assert_eq!(route.len(), 2);
    assert_eq!(route[1].mode, StepMode::All);
    assert_eq!(route[1].approvers, ["E0001", "E0201"]);
    assert_eq!(
        route_of(&p, "purchase", "E1001", &form("chairs", 5_000_001)).len(),
        2
    );
    assert_eq!(
        route_of(&p, "purchase", "E1001", &form("chairs", 5_000_000)).len(),
        1
    );
}

// ---- forms ------------------------------------------------------------------------------------

#[test]
fn a_form_lists_every_problem_naming_field_and_value() {
    let p = policy();
    let bad = json!({
        "amount": { "minor": -5, "currency": "HKD" },
        "category": "casino",
        "date": "2026-02-30",
        "receipts": [],
        "description": 42,
        "approved_by_myself": true,
    });
    let errors = read(&p, "expense", &bad).unwrap_err().errors;
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "amount",
            "category",
            "date",
            "receipts",
            "description",
            "approved_by_myself"
        ]
    );
    assert_eq!(
        errors[0].problem,
        FieldProblem::TooSmall {
            min: "HKD 0.01".into()
        }
    );
    assert_eq!(errors[0].value, r#"{"currency":"HKD","minor":-5}"#);
    assert!(matches!(
        errors[1].problem,
        FieldProblem::NotAnOption { .. }
    ));
    assert_eq!(errors[1].value, "\"casino\"");
    assert!(matches!(&errors[2].problem, FieldProblem::Invalid(r) if r.contains("YYYY-MM-DD")));
    assert_eq!(errors[3].problem, FieldProblem::TooFew { min: 1 });
    assert_eq!(
        errors[4].problem,
        FieldProblem::WrongType { expected: "text" }
    );
    assert_eq!(errors[5].problem, FieldProblem::UnknownField);
    // Missing required fields are each named.
    let errors = read(&p, "expense", &json!({})).unwrap_err().errors;
    assert_eq!(errors.len(), 4);
    assert!(errors.iter().all(|e| e.problem == FieldProblem::Missing));
    // Not an object at all.
    let errors = read(&p, "expense", &json!([1, 2])).unwrap_err().errors;
    assert_eq!(errors[0].field, "$");
}

#[test]
fn money_is_whole_minor_units_of_the_template_currency() {
    let p = policy();
    let with_amount = |amount: Value| {
        let mut f = expense(1);
        f["amount"] = amount;
        read(&p, "expense", &f)
            .map(|_| ())
            .unwrap_err()
            .errors
            .remove(0)
    };
    let e = with_amount(json!({ "minor": 1.5, "currency": "HKD" }));
    assert_eq!(e.field, "amount.minor");
    let e = with_amount(json!({ "minor": 1e30, "currency": "HKD" }));
    assert_eq!(e.field, "amount.minor");
    let e = with_amount(
        serde_json::from_str(r#"{"minor": 99999999999999999999, "currency": "HKD"}"#).unwrap(),
    );
    assert_eq!(e.field, "amount.minor");
    let e = with_amount(json!({ "minor": 100, "currency": "USD" }));
    assert_eq!(
        e.problem,
        FieldProblem::WrongCurrency {
            expected: "HKD".into()
        }
    );
    let e = with_amount(json!({ "minor": 1_000_000_001, "currency": "HKD" }));
    assert_eq!(
        e.problem,
        FieldProblem::TooLarge {
            max: "HKD 10,000,000.00".into()
        }
    );
    let e = with_amount(json!("6200.00"));
    assert!(matches!(e.problem, FieldProblem::WrongType { .. }));
    let e = with_amount(json!({ "minor": 100, "currency": "HKD", "fx": 7.8 }));
    assert_eq!(e.field, "amount.fx");
}

#[test]
fn text_is_data_kept_verbatim_and_bounded() {
    let p = policy();
    for hostile in [
        "<script>alert('x')</script>",
        "'; DROP TABLE request; --",
        "Robert\"); DELETE FROM item WHERE 1=1; --",
        "{{7*7}} ${jndi:ldap://x}",
        "會議午餐 🍜\nsecond line",
    ] {
        let mut f = expense(10_000);
        f["description"] = json!(hostile);
        let form = read(&p, "expense", &f).unwrap();
        assert_eq!(form.to_json()["description"], json!(hostile));
        // What the device sends is what the server reads back.
        let again = read(
            &p,
            "expense",
            &serde_json::from_str(&form.to_json().to_string()).unwrap(),
        )
        .unwrap();
        assert_eq!(again, form);
    }
    let mut f = expense(10_000);
    f["description"] = json!("x".repeat(1_000_000));
    let e = read(&p, "expense", &f).unwrap_err().errors.remove(0);
    assert_eq!(e.problem, FieldProblem::TooLong { max: 500 });
    assert!(
        e.value.chars().count() <= 60,
        "the shown value is shortened"
    );
    f["description"] = json!("bell\u{7}");
    assert!(matches!(
        read(&p, "expense", &f).unwrap_err().errors[0].problem,
        FieldProblem::Invalid(_)
    ));
}

#[test]
fn attachments_are_hashes_with_sizes_and_limits() {
    let p = policy();
    let with_receipts = |r: Value| {
        let mut f = expense(100);
        f["receipts"] = r;
        read(&p, "expense", &f)
    };
    let file =
        |n: u8, bytes: u64| json!({ "sha256": sha(n), "bytes": bytes, "media_type": "image/jpeg" });
    assert!(with_receipts(json!((1..=10).map(|n| file(n, 1000)).collect::<Vec<_>>())).is_ok());
    let e = with_receipts(json!((1..=11).map(|n| file(n, 1000)).collect::<Vec<_>>())).unwrap_err();
    assert_eq!(e.errors[0].problem, FieldProblem::TooMany { max: 10 });
    let e = with_receipts(json!([file(1, 10_485_761)])).unwrap_err();
    assert_eq!(e.errors[0].field, "receipts[0].bytes");
    let e = with_receipts(json!([file(1, 0)])).unwrap_err();
    assert_eq!(e.errors[0].field, "receipts[0].bytes");
    let e = with_receipts(json!([file(1, 10), file(1, 10)])).unwrap_err();
    assert_eq!(e.errors[0].field, "receipts[1].sha256");
    let e = with_receipts(json!([{ "sha256": "ABC", "bytes": 1, "media_type": "image/jpeg" }]))
        .unwrap_err();
    assert_eq!(e.errors[0].field, "receipts[0].sha256");
    let e =
        with_receipts(json!([{ "sha256": sha(2), "bytes": 1, "media_type": "jpeg" }])).unwrap_err();
    assert_eq!(e.errors[0].field, "receipts[0].media_type");
}

#[test]
fn date_ranges_count_half_days() {
    let p = policy();
    let t = p.approvals.template("leave").unwrap();
    let period = |v: Value| Form::read(t, &json!({ "leave_type": "annual", "period": v }));
    let form =
        period(json!({ "start": "2026-12-01", "end": "2026-12-02", "start_half": "pm" })).unwrap();
    assert_eq!(form.get("period").unwrap().halves(), Some(3));
    let e = period(json!({ "start": "2026-12-02", "end": "2026-12-01" })).unwrap_err();
    assert_eq!(e.errors[0].field, "period.end");
    let e = period(
        json!({ "start": "2026-12-01", "end": "2026-12-01", "start_half": "pm", "end_half": "am" }),
    )
    .unwrap_err();
    assert_eq!(e.errors[0].field, "period");
    let e = period(json!({ "start": "2026-12-01", "end": "2026-12-01", "start_half": "am" }))
        .unwrap_err();
    assert_eq!(e.errors[0].field, "period.start_half");
    let e = period(json!({ "start": "2026-01-01", "end": "2026-03-01" })).unwrap_err();
    assert_eq!(
        e.errors[0].problem,
        FieldProblem::TooLarge {
            max: "30 days".into()
        }
    );
}

// ---- templates refused at load ----------------------------------------------------------------

fn load_error(edit: impl FnOnce(&mut Value)) -> (String, String) {
    let e = with_approvals(edit).unwrap_err();
    (e.path.clone(), e.to_string())
}

#[test]
fn bad_templates_are_refused_when_the_policy_loads() {
    let (path, msg) = load_error(|a| {
        a["templates"][0]["route"][1]["when"] =
            json!({ "field": "amonut", "op": "gt", "value": 500000 });
    });
    assert_eq!(path, "approvals.templates[0].route[1].when.field");
    assert!(
        msg.contains("unknown field of this template \"amonut\""),
        "{msg}"
    );

    let (path, msg) = load_error(|a| {
        a["templates"][0]["route"][1]["when"] =
            json!({ "field": "category", "op": "gt", "value": "meals" });
    });
    assert_eq!(path, "approvals.templates[0].route[1].when.op");
    assert!(msg.contains("cannot be used on choice field"), "{msg}");

    let (path, _) = load_error(|a| {
        a["templates"][0]["route"][1]["when"] =
            json!({ "field": "amount", "op": "gt", "value": "5000" });
    });
    assert_eq!(path, "approvals.templates[0].route[1].when.value");

    let (path, msg) = load_error(|a| {
        a["templates"][0]["route"][1]["when"] =
            json!({ "field": "category", "op": "eq", "value": "casino" });
    });
    assert_eq!(path, "approvals.templates[0].route[1].when.value");
    assert!(msg.contains("not an option"), "{msg}");

    let (path, _) = load_error(|a| {
        a["templates"][0]["route"][1]["when"] =
            json!({ "field": "receipts", "op": "eq", "value": 1 });
    });
    assert_eq!(path, "approvals.templates[0].route[1].when.op");

    let (path, msg) = load_error(|a| a["templates"][0]["route"] = json!([]));
    assert_eq!(path, "approvals.templates[0].route");
    assert!(msg.contains("must not be empty"), "{msg}");

    let (path, msg) = load_error(|a| {
        a["templates"][0]["route"][0]["when"] =
            json!({ "field": "amount", "op": "le", "value": 500000 });
    });
    assert_eq!(path, "approvals.templates[0].route");
    assert!(msg.contains("no approver"), "{msg}");

    let (path, msg) =
        load_error(|a| a["templates"][0]["route"][1]["approvers"] = json!({ "role": "treasury" }));
    assert_eq!(path, "approvals.templates[0].route[1].approvers.role");
    assert!(msg.contains("unknown role"), "{msg}");

    let (path, _) = load_error(|a| {
        a["templates"][0]["route"][1]["approvers"] = json!({ "employees": ["E4040"] })
    });
    assert_eq!(
        path,
        "approvals.templates[0].route[1].approvers.employees[0]"
    );

    let (path, _) =
        load_error(|a| a["templates"][0]["route"][0]["approvers"] = json!({ "manager": 0 }));
    assert_eq!(path, "approvals.templates[0].route[0].approvers.manager");

    let (path, _) = load_error(|a| {
        a["templates"][0]["route"][0]["approvers"] = json!({ "manager": 1, "role": "finance" })
    });
    assert_eq!(path, "approvals.templates[0].route[0].approvers");

    let (path, _) = load_error(|a| a["roles"][0]["members"] = json!(["E0201", "E0201"]));
    assert_eq!(path, "approvals.roles[0].members[1]");

    let (path, _) = load_error(|a| a["roles"][0]["members"] = json!([]));
    assert_eq!(path, "approvals.roles[0].members");

    let (path, msg) = load_error(|a| {
        a["templates"][0]["fields"]
            .as_array_mut()
            .unwrap()
            .remove(0);
    });
    assert_eq!(path, "approvals.templates[0].fields");
    assert!(
        msg.contains("needs a required money field \"amount\""),
        "{msg}"
    );

    let (path, _) =
        load_error(|a| a["templates"][1]["fields"][0]["options"] = json!(["annual", "birthday"]));
    assert_eq!(path, "approvals.templates[1].fields[0].options[1]");

    let (path, _) = load_error(|a| a["templates"][0]["fields"][0]["type"] = json!("currency"));
    assert_eq!(path, "approvals.templates[0].fields[0].type");

    let (path, msg) = load_error(|a| a["templates"][0]["fields"][4]["options"] = json!(["x"]));
    assert_eq!(path, "approvals.templates[0].fields[4].options");
    assert!(msg.contains("unknown field"), "{msg}");

    let (path, _) = load_error(|a| a["templates"][0]["fields"][0]["min"] = json!(1.5));
    assert_eq!(path, "approvals.templates[0].fields[0].min");

    let (path, _) = load_error(|a| a["templates"][1]["id"] = json!("expense"));
    assert_eq!(path, "approvals.templates[1].id");

    let (path, _) = load_error(|a| {
        let mut c = json!({ "field": "amount", "op": "gt", "value": 1 });
        for _ in 0..9 {
            c = json!({ "all": [c] });
        }
        a["templates"][0]["route"][1]["when"] = c;
    });
    assert!(
        path.starts_with("approvals.templates[0].route[1].when"),
        "{path}"
    );
}

// ---- the request state machine ----------------------------------------------------------------

fn request(applicant: &str, template: &str, form: &Value) -> RequestState {
    let p = policy();
    let t = p.approvals.template(template).unwrap();
    let route = compute_route(&p, t, applicant, &Form::read(t, form).unwrap()).unwrap();
    RequestState::submitted(applicant, &route).unwrap()
}

fn is_employee(id: &str) -> bool {
    policy().employee(id).is_some()
}

fn approve() -> Action {
    Action::Approve { comment: None }
}

#[test]
fn an_expense_goes_through_manager_and_finance() {
    let mut r = request("E1001", "expense", &expense(620_000));
    assert_eq!(r.waiting_for(), ["E0101"]);
    assert_eq!(
        r.apply("E0101", &approve(), &is_employee),
        Ok(Effect::StepDone { step: 0, next: 1 })
    );
    assert_eq!(r.waiting_for(), ["E0201"]);
    assert_eq!(
        r.apply("E0201", &approve(), &is_employee),
        Ok(Effect::RequestApproved)
    );
    assert_eq!(r.status, RequestStatus::Approved);
    assert!(r.waiting_for().is_empty());
    let e = r.apply("E0201", &approve(), &is_employee).unwrap_err();
    assert_eq!(e.code(), "request_finished");
}

#[test]
fn only_current_approvers_act_and_only_once() {
    let mut r = request("E1001", "expense", &expense(620_000));
    let before = r.clone();
    // Finance cannot jump the queue, the applicant cannot approve, strangers cannot either.
    for (actor, code) in [
        ("E0201", "not_current_approver"),
        ("E1001", "self_approval"),
        ("E1002", "not_current_approver"),
    ] {
        assert_eq!(
            r.apply(actor, &approve(), &is_employee).unwrap_err().code(),
            code,
            "{actor}"
        );
        assert_eq!(r, before, "a refused action changes nothing");
    }
    // Rejecting and returning need a reason.
    let e = r
        .apply(
            "E0101",
            &Action::Reject {
                comment: "  ".into(),
            },
            &is_employee,
        )
        .unwrap_err();
    assert_eq!(e.code(), "invalid_comment");
    let e = r
        .apply(
            "E0101",
            &Action::Reject {
                comment: "x".repeat(2_001),
            },
            &is_employee,
        )
        .unwrap_err();
    assert_eq!(e.code(), "invalid_comment");
    assert_eq!(r, before);
    assert_eq!(
        r.apply(
            "E0101",
            &Action::Reject {
                comment: "No receipt for the taxi".into()
            },
            &is_employee
        ),
        Ok(Effect::RequestRejected)
    );
    assert_eq!(
        r.apply("E1001", &Action::Withdraw { comment: None }, &is_employee)
            .unwrap_err()
            .code(),
        "request_finished"
    );
}

#[test]
fn a_countersign_step_needs_every_approver() {
    let form = json!({ "item": "server", "amount": { "minor": 9_000_000, "currency": "HKD" } });
    let mut r = request("E1001", "purchase", &form);
    r.apply("E0101", &approve(), &is_employee).unwrap();
    assert_eq!(r.waiting_for(), ["E0001", "E0201"]);
    assert_eq!(
        r.apply("E0201", &approve(), &is_employee),
        Ok(Effect::Approved { step: 1 })
    );
    assert_eq!(
        r.apply("E0201", &approve(), &is_employee)
            .unwrap_err()
            .code(),
        "already_acted"
    );
    assert_eq!(r.status, RequestStatus::Pending);
    assert_eq!(
        r.apply("E0001", &approve(), &is_employee),
        Ok(Effect::RequestApproved)
    );
}

#[test]
fn of_two_any_one_approvers_exactly_one_decides_the_step() {
    let p = policy();
    let t = p.approvals.template("expense").unwrap();
    let mut route = compute_route(&p, t, "E1001", &Form::read(t, &expense(100)).unwrap()).unwrap();
    route[0].approvers = names(&["E0101", "E0001"]);
    let mut r = RequestState::submitted("E1001", &route).unwrap();
    assert_eq!(
        r.apply("E0001", &approve(), &is_employee),
        Ok(Effect::RequestApproved)
    );
    let e = r
        .apply(
            "E0101",
            &Action::Reject {
                comment: "too late".into(),
            },
            &is_employee,
        )
        .unwrap_err();
    assert_eq!(e.code(), "request_finished");
    assert_eq!(r.steps[0].approved_by, ["E0001"]);
}

#[test]
fn returned_requests_are_resubmitted_or_withdrawn_by_the_applicant_only() {
    let p = policy();
    let mut r = request("E1001", "expense", &expense(620_000));
    r.apply(
        "E0101",
        &Action::Return {
            comment: "Attach the itemised bill".into(),
        },
        &is_employee,
    )
    .unwrap();
    assert_eq!(r.status, RequestStatus::Returned);
    assert_eq!(
        r.apply("E0101", &approve(), &is_employee)
            .unwrap_err()
            .code(),
        "request_not_pending"
    );
    let t = p.approvals.template("expense").unwrap();
    let cheaper =
        compute_route(&p, t, "E1001", &Form::read(t, &expense(400_000)).unwrap()).unwrap();
    assert_eq!(
        r.resubmit("E0101", &cheaper).unwrap_err().code(),
        "not_applicant"
    );
    assert_eq!(
        r.resubmit("E1001", &cheaper),
        Ok(Effect::Resubmitted { revision: 2 })
    );
    assert_eq!(r.steps.len(), 1, "the new amount no longer needs finance");
    assert_eq!(
        r.apply("E0101", &Action::Withdraw { comment: None }, &is_employee)
            .unwrap_err()
            .code(),
        "not_applicant"
    );
    assert_eq!(
        r.apply(
            "E1001",
            &Action::Withdraw {
                comment: Some("bought it myself".into())
            },
            &is_employee
        ),
        Ok(Effect::RequestWithdrawn)
    );
    assert_eq!(
        r.resubmit("E1001", &cheaper).unwrap_err().code(),
        "request_finished"
    );
}

#[test]
fn signers_are_added_before_or_after_and_places_transferred() {
    let mut r = request("E1001", "expense", &expense(100));
    // Before: the added signer approves first, then the manager again.
    let add = |employee: &str, position| Action::AddSigner {
        employee: employee.into(),
        position,
        comment: None,
    };
    assert_eq!(
        r.apply("E0101", &add("E0201", SignerPosition::Before), &is_employee),
        Ok(Effect::SignerAdded {
            step: 0,
            employee: "E0201".into()
        })
    );
    assert_eq!(r.waiting_for(), ["E0201"]);
    assert_eq!(r.steps[0].added_by.as_deref(), Some("E0101"));
    r.apply("E0201", &approve(), &is_employee).unwrap();
    assert_eq!(r.waiting_for(), ["E0101"]);
    // After: the manager's approval counts and the added signer comes next.
    assert_eq!(
        r.apply("E0101", &add("E0001", SignerPosition::After), &is_employee),
        Ok(Effect::SignerAdded {
            step: 2,
            employee: "E0001".into()
        })
    );
    assert_eq!(r.waiting_for(), ["E0001"]);
    // The applicant can never be added or handed a place; nor can a stranger.
    for who in ["E1001", "E404"] {
        let e = r
            .apply(
                "E0001",
                &Action::Transfer {
                    to: who.into(),
                    comment: None,
                },
                &is_employee,
            )
            .unwrap_err();
        assert_eq!(e.code(), "invalid_signer", "{who}");
        let e = r
            .apply("E0001", &add(who, SignerPosition::Before), &is_employee)
            .unwrap_err();
        assert!(matches!(e, ActionError::InvalidSigner { .. }), "{who}");
    }
    assert_eq!(
        r.apply(
            "E0001",
            &Action::Transfer {
                to: "E0201".into(),
                comment: Some("on leave".into())
            },
            &is_employee
        ),
        Ok(Effect::Transferred {
            step: 2,
            from: "E0001".into(),
            to: "E0201".into()
        })
    );
    assert_eq!(
        r.apply("E0001", &approve(), &is_employee)
            .unwrap_err()
            .code(),
        "not_current_approver"
    );
    assert_eq!(
        r.apply("E0201", &approve(), &is_employee),
        Ok(Effect::RequestApproved)
    );
}

#[test]
fn comments_come_from_participants_only() {
    let mut r = request("E1001", "expense", &expense(620_000));
    let note = |t: &str| Action::Comment { comment: t.into() };
    assert_eq!(
        r.apply("E1001", &note("Receipt attached"), &is_employee),
        Ok(Effect::Commented)
    );
    assert_eq!(
        r.apply("E0201", &note("Will check Friday"), &is_employee),
        Ok(Effect::Commented)
    );
    assert_eq!(
        r.apply("E1002", &note("hi"), &is_employee)
            .unwrap_err()
            .code(),
        "not_participant"
    );
    assert_eq!(
        r.apply("E1001", &note(""), &is_employee)
            .unwrap_err()
            .code(),
        "invalid_comment"
    );
    assert!(
        RequestState::submitted("E1001", &[]).is_err(),
        "a request always has an approver"
    );
}
