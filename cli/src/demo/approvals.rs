//! The approvals part of `daka demo`: an expense claim of HK$6,200 filed offline with a
//! receipt photo and routed to the manager and then finance, who approve it from their own
//! phones; the applicant's attempt to approve his own claim is refused by the server. The
//! month's leave, missed-punch correction and overtime requests are in `month.rs`, where they
//! change Chan's days.
//!
//! The applicant's, the manager's and finance's phones are real [`Device`]s with their own
//! stores and keys; every submission and decision is signed, queued and synced like a punch.

use chrono_tz::Asia::Hong_Kong;
use daka_core::Policy;
use daka_core::approvals::Action;
use daka_core::protocol::RequestView;
use daka_device::Device;
use serde_json::json;

use super::{DemoResult, Timeline, show_sync};

/// A receipt photo: a tiny JPEG (start-of-image marker, a comment, end-of-image marker).
fn receipt_photo() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x2A];
    bytes.extend_from_slice(b"Golden Harbour Restaurant HK$6,200.00 ");
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

pub(super) fn name(policy: &Policy, id: &str) -> String {
    policy
        .employee(id)
        .map_or_else(|| id.to_string(), |e| format!("{} ({id})", e.name))
}

pub(super) fn route_line(policy: &Policy, steps: &[daka_core::approvals::RouteStep]) -> String {
    steps
        .iter()
        .map(|s| {
            let who: Vec<String> = s.approvers.iter().map(|a| name(policy, a)).collect();
            format!("{}: {}", s.name, who.join(", "))
        })
        .collect::<Vec<_>>()
        .join("  →  ")
}

fn show_request(policy: &Policy, r: &RequestView) {
    println!(
        "       request {}… is {} (revision {})",
        &r.request_id[..8],
        r.status.to_uppercase(),
        r.revision
    );
    for a in &r.audit {
        let comment = a.detail["comment"]
            .as_str()
            .map(|c| format!(" — \"{c}\""))
            .unwrap_or_default();
        println!(
            "         {}  {:<9} {}{comment}",
            a.made_at.with_timezone(&Hong_Kong).format("%d %b %H:%M"),
            a.action,
            name(policy, &a.actor),
        );
    }
}

/// The phones of the story.
pub(super) struct Phones<'a> {
    pub applicant: &'a Device,
    pub manager: &'a Device,
    pub finance: &'a Device,
}

pub(super) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// One approver's phone: syncs, approves `request_id` (signed, queued), and sends it.
pub(super) async fn approve(
    phone: &Device,
    request_id: &str,
    comment: Option<&str>,
) -> DemoResult<daka_device::SyncReport> {
    phone.sync_now(&|_| {}).await.map_err(err)?;
    phone
        .decide(
            request_id,
            Action::Approve {
                comment: comment.map(str::to_owned),
            },
        )
        .map_err(err)?;
    phone.sync_now(&|_| {}).await.map_err(err)
}

/// The phone's annual-leave balance for `year` (online): (available, pending, taken) in half
/// days.
pub(super) async fn annual_balance(phone: &Device, year: i32) -> DemoResult<(i64, i64, i64)> {
    Ok(phone
        .leave_balances(Some(year))
        .await
        .map_err(err)?
        .iter()
        .find(|b| b.leave_type == "annual")
        .map(|b| (b.available_halves, b.pending_halves, b.taken_halves))
        .unwrap_or_default())
}

/// Files the expense claim on the applicant's phone, offline; returns its request id.
pub(super) fn file_expense_offline(
    policy: &Policy,
    timeline: &Timeline,
    phone: &Device,
) -> DemoResult<String> {
    println!(
        "\n{}  Still offline, Chan files the client dinner: HK$6,200.00 with a photo of the receipt",
        timeline.hk()
    );
    let receipt = phone
        .add_attachment(&receipt_photo(), "image/jpeg")
        .map_err(err)?;
    let today = timeline.now().with_timezone(&Hong_Kong).date_naive();
    let form = json!({
        "amount": { "minor": 620_000, "currency": "HKD" },
        "category": "client_entertainment",
        "date": today.to_string(),
        "receipts": [{ "sha256": receipt.sha256, "bytes": receipt.bytes, "media_type": receipt.media_type }],
        "description": "Dinner with the Kowloon Bay logistics client <Golden Harbour>",
    });
    // A slip first: the amount typed as text. Every problem is named before anything is sent.
    let mut typo = form.clone();
    typo["amount"] = json!("6200");
    typo["category"] = json!("dinner");
    if let Err(e) = phone.check_draft("expense", &typo) {
        println!("       draft check: {e}");
    }
    let queued = phone.submit_request("expense", &form).map_err(err)?;
    println!(
        "       route, previewed offline: {}",
        route_line(policy, &queued.route)
    );
    println!(
        "       → signed by the phone's key and queued with its receipt ({} bytes, SHA-256 {}…)",
        receipt.bytes,
        &receipt.sha256[..12]
    );
    Ok(queued.request_id)
}

/// The rest of the approvals story, once the phone is back online.
pub(super) async fn story(
    policy: &Policy,
    timeline: &Timeline,
    phones: &Phones<'_>,
    expense_id: &str,
) -> DemoResult<()> {
    // ---- The manager approves from her phone -------------------------------------------------
    timeline.at(20, 5);
    println!(
        "\n{}  {} opens her inbox on the way home",
        timeline.hk(),
        name(policy, "E0101")
    );
    phones.manager.sync_now(&|_| {}).await.map_err(err)?;
    let inbox = phones.manager.inbox().await.map_err(err)?;
    for r in &inbox {
        println!(
            "       inbox: {} from {}, {}",
            r.template_id,
            name(policy, &r.applicant),
            r.form["amount"]["minor"]
                .as_i64()
                .map(|m| daka_core::approvals::form::show_money(m, "HKD"))
                .unwrap_or_default()
        );
    }
    if inbox.iter().all(|r| r.request_id != expense_id) {
        return Err("the claim did not reach the manager's inbox".into());
    }
    show_sync(&approve(phones.manager, expense_id, Some("Good client, go ahead")).await?);
    // Chan tries to approve his own claim (the app would not offer it; the server refuses).
    phones
        .applicant
        .decide(expense_id, Action::Approve { comment: None })
        .map_err(err)?;
    phones.applicant.sync_now(&|_| {}).await.map_err(err)?;
    let refused = phones
        .applicant
        .outbox()
        .items(daka_device::outbox::ItemState::NeedsAttention)
        .map_err(err)?;
    match refused.iter().find_map(|i| i.error.as_ref()) {
        Some(e) => println!(
            "       Chan's own \"approve\" is refused by the server: {} ({})",
            e.code, e.message
        ),
        None => return Err("the applicant's self-approval was not refused".into()),
    }

    // ---- Finance, the next morning --------------------------------------------------------------
    timeline.advance_s(13 * 3600);
    println!(
        "\n{}  Next morning, {} approves it in finance",
        timeline.hk(),
        name(policy, "E0201")
    );
    approve(
        phones.finance,
        expense_id,
        Some("Reimbursed with the December payroll"),
    )
    .await?;
    let report = phones.applicant.sync_now(&|_| {}).await.map_err(err)?;
    println!(
        "       Chan's phone is told through the change feed ({} update(s)):",
        report.request_updates.len()
    );
    let view = phones.applicant.request(expense_id).await.map_err(err)?;
    show_request(policy, &view);
    if view.status != "approved" || view.audit.len() != 3 {
        return Err(format!(
            "the claim ended {} with {} audit entries",
            view.status,
            view.audit.len()
        ));
    }

    Ok(())
}
