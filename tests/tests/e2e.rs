//! The SDK against the real reference server over loopback, as a phone lives it: enrolment,
//! punches online and offline, a policy update published while the phone is offline, sync,
//! the server's verdicts pulled back, and a replay only the server can see parked as "needs
//! attention" without blocking the punches after it.

mod support;

use daka_core::protocol::Change;
use daka_core::punch::PunchKind;
use daka_core::{Code, Decision};
use daka_device::PunchInput;
use daka_device::outbox::ItemState;
use daka_e2e::fault_proxy::{Fault, FaultPlan, FaultProxy};
use support::*;

fn offline() -> FaultPlan {
    FaultPlan {
        fault_rate: 1.0,
        faults: vec![Fault::Reset],
        ..FaultPlan::none()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_offline_and_a_policy_update_midway() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let server = start_server(dir.path(), &timeline, seed(policy(false, 42), 1)).await;
    let net = FaultProxy::start(server.addr(), FaultPlan::none())
        .await
        .unwrap();
    let phone = open_device(dir.path(), "phone", &timeline, 2_000);
    let identity = phone
        .enroll(&net.url(), &code("E1001", 0), "Pixel 8", "android")
        .await
        .unwrap();
    assert_eq!(identity.employee_id, "E1001");
    // The enrolment code is single use.
    let other = open_device(dir.path(), "other", &timeline, 2_000);
    let err = other
        .enroll(&net.url(), &code("E1001", 0), "Pixel 9", "android")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("enrollment_code_used"), "{err}");

    let n = std::cell::Cell::new(0.0);
    let punch = |kind, accuracy: f64| {
        timeline.advance_ms(60_000);
        n.set(n.get() + 1.0);
        let (mut fix, wifi) = evidence("E1001", &timeline, n.get());
        if let Some(f) = fix.as_mut() {
            f.accuracy_m = accuracy;
        }
        phone
            .punch(PunchInput {
                kind,
                fix,
                more_fixes: Vec::new(),
                wifi_bssids: wifi,
                face: None,
            })
            .unwrap()
    };

    let first = phone.sync_now(&|_| {}).await.unwrap();
    assert_eq!(first.policy_version, Some(42));
    for kind in [PunchKind::In, PunchKind::BreakStart, PunchKind::BreakEnd] {
        assert_eq!(punch(kind, 5.0).verdict.decision, Decision::Accepted);
    }
    let online = phone.sync_now(&|_| {}).await.unwrap();
    assert_eq!((online.accepted, online.remaining), (3, 0), "{online:?}");

    // Into the basement.
    net.set_plan(offline());
    punch(PunchKind::BreakStart, 6.0);
    punch(PunchKind::BreakEnd, 6.0);
    let cut = phone.sync_now(&|_| {}).await.unwrap();
    assert!(cut.stopped_by.is_some());
    assert_eq!(cut.remaining, 2);

    // Meanwhile HR publishes v43: a wider accuracy limit.
    let mut v43 = policy(false, 43);
    v43["thresholds"]["max_accuracy_m"] = serde_json::json!(200);
    let published = admin_put(&server.url(), "/admin/v1/policy", v43.to_string()).await;
    assert!(published.status().is_success(), "{}", published.status());
    // Still offline, the phone judges under v42: ±150 m is too vague.
    let v = punch(PunchKind::Out, 150.0).verdict;
    assert_eq!(v.policy_version, 42);
    assert!(v.reasons.iter().any(|r| r.code == Code::PoorAccuracy));

    timeline.advance_ms(15 * 60_000);
    net.set_plan(FaultPlan::none());
    let mut progress = Vec::new();
    let back = {
        let seen = std::sync::Mutex::new(Vec::new());
        let r = phone
            .sync_now(&|p| seen.lock().unwrap().push((p.sent, p.total)))
            .await
            .unwrap();
        progress.extend(seen.into_inner().unwrap());
        r
    };
    assert_eq!(
        progress.last(),
        Some(&(2, 2)),
        "progress ends with everything sent"
    );
    assert!(back.stopped_by.is_none(), "{back:?}");
    assert!(
        back.policy_updated && back.policy_version == Some(43),
        "{back:?}"
    );
    // The rejected ±150 m attempt was never queued; under v43 it is no longer poor.
    let v = punch(PunchKind::Out, 150.0).verdict;
    assert_eq!(v.policy_version, 43);
    assert!(
        !v.reasons.iter().any(|r| r.code == Code::PoorAccuracy),
        "{v:?}"
    );
    let last = phone.sync_now(&|_| {}).await.unwrap();
    assert_eq!(last.remaining, 0);

    let stored = server_punches(&server.url()).await;
    let seqs: Vec<u64> = stored.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6], "each punch once, in order");
    let versions: Vec<u64> = stored.iter().map(|p| p.policy_version).collect();
    assert_eq!(versions, [42, 42, 42, 42, 42, 43]);
    let local: Vec<String> = phone
        .punch_log()
        .unwrap()
        .iter()
        .map(|r| r.body.id.to_string())
        .collect();
    let remote: Vec<String> = stored.iter().map(|p| p.punch_id.clone()).collect();
    assert_eq!(local, remote);
    assert!(chains_ok(&server.url()).await.ok);
    // Every verdict the server reached came back to the phone through the changes feed.
    let pulled = [first, online, back, last]
        .iter()
        .flat_map(|r| r.server_verdicts.clone())
        .filter(|c| matches!(c, Change::PunchVerdict { .. }))
        .count();
    assert_eq!(pulled, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_only_the_server_can_see_is_parked_and_does_not_block_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let server = start_server(dir.path(), &timeline, seed(policy(true, 42), 2)).await;
    // The same employee on two phones; a face token captured from the first is replayed on
    // the second, whose own nonce ledger cannot know it was used.
    let first = open_device(dir.path(), "first", &timeline, 2_000);
    let second = open_device(dir.path(), "second", &timeline, 2_000);
    first
        .enroll(&server.url(), &code("E1001", 0), "phone 1", "android")
        .await
        .unwrap();
    second
        .enroll(&server.url(), &code("E1001", 1), "phone 2", "android")
        .await
        .unwrap();
    first.sync_now(&|_| {}).await.unwrap();
    second.sync_now(&|_| {}).await.unwrap();

    timeline.advance_ms(30_000);
    let nonce = first.issue_face_nonce().unwrap();
    let token = face_token("E1001", &nonce, timeline.now());
    let (fix, wifi) = evidence("E1001", &timeline, 0.1);
    let face = daka_core::evidence::FaceEvidence { token, nonce };
    let one = first
        .punch(PunchInput {
            kind: PunchKind::In,
            fix: fix.clone(),
            more_fixes: Vec::new(),
            wifi_bssids: wifi.clone(),
            face: Some(face.clone()),
        })
        .unwrap();
    assert_eq!(one.verdict.decision, Decision::Accepted);
    let replay = second
        .punch(PunchInput {
            kind: PunchKind::In,
            fix,
            more_fixes: Vec::new(),
            wifi_bssids: wifi,
            face: Some(face),
        })
        .unwrap();
    assert_eq!(
        replay.verdict.decision,
        Decision::Accepted,
        "the second phone cannot tell"
    );
    // A later honest punch on the second phone.
    timeline.advance_ms(60_000);
    let nonce = second.issue_face_nonce().unwrap();
    let token = face_token("E1001", &nonce, timeline.now());
    let (fix, wifi) = evidence("E1001", &timeline, 0.2);
    second
        .punch(PunchInput {
            kind: PunchKind::Out,
            fix,
            more_fixes: Vec::new(),
            wifi_bssids: wifi,
            face: Some(daka_core::evidence::FaceEvidence { token, nonce }),
        })
        .unwrap();

    assert_eq!(first.sync_now(&|_| {}).await.unwrap().accepted, 1);
    let report = second.sync_now(&|_| {}).await.unwrap();
    assert_eq!(
        (report.accepted, report.rejected, report.remaining),
        (1, 1, 0),
        "{report:?}"
    );
    let parked = second.outbox().items(ItemState::NeedsAttention).unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].id, replay.record.unwrap().body.id.to_string());
    assert_eq!(
        parked[0].error.as_ref().unwrap().code,
        "face_token_replayed"
    );
    assert!(chains_ok(&server.url()).await.ok);
}

/// A face token signed with the demonstration matcher key by jsonwebtoken (an independent
/// JWS implementation).
fn face_token(sub: &str, nonce: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    use base64::Engine as _;
    let jwk: serde_json::Value = serde_json::from_str(include_str!(
        "../../examples/keys/face-matcher-ed25519.private.jwk"
    ))
    .unwrap();
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk["d"].as_str().unwrap())
            .unwrap(),
    );
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("hl-face-device-2026-01".into());
    let claims = serde_json::json!({
        "iss": "https://face.harbour-lane.example/device", "sub": sub, "nonce": nonce,
        "iat": now.timestamp() - 2, "exp": now.timestamp() + 118, "score": 0.93, "liveness": "pass",
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(&der),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_with_the_device_key() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let options = daka_server::ServerOptions {
        token_ttl: chrono::Duration::minutes(10),
        ..Default::default()
    };
    let server =
        start_server_with(dir.path(), &timeline, seed(policy(false, 42), 1), options).await;
    let phone = open_device(dir.path(), "phone", &timeline, 2_000);
    phone
        .enroll(&server.url(), &code("E1001", 0), "phone", "android")
        .await
        .unwrap();
    phone.sync_now(&|_| {}).await.unwrap();
    // Eleven minutes later the bearer token has expired; the next round gets a 401, signs a
    // challenge with the device key for a new token, and carries on.
    timeline.advance_ms(11 * 60_000);
    let (fix, wifi) = evidence("E1001", &timeline, 1.0);
    phone
        .punch(PunchInput {
            kind: PunchKind::In,
            fix,
            more_fixes: Vec::new(),
            wifi_bssids: wifi,
            face: None,
        })
        .unwrap();
    let report = phone.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (1, 0), "{report:?}");
    assert!(report.stopped_by.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_with_a_bad_signature_or_an_older_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let server = start_server(dir.path(), &timeline, seed(policy(false, 42), 1)).await;
    let phone = open_device(dir.path(), "phone", &timeline, 2_000);
    phone
        .enroll(&server.url(), &code("E1001", 0), "phone", "android")
        .await
        .unwrap();
    let bundle: daka_core::protocol::PolicyBundle =
        admin_get(&server.url(), "/admin/v1/policy").await;
    assert_eq!(
        phone
            .install_policy(&bundle.document, &bundle.signature)
            .unwrap(),
        42
    );
    // One changed byte in the document: the organisation's signature no longer matches.
    let forged = bundle
        .document
        .replacen("\"max_accuracy_m\": 80", "\"max_accuracy_m\": 9000", 1);
    assert_ne!(forged, bundle.document);
    let err = phone
        .install_policy(&forged, &bundle.signature)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match the organisation key"),
        "{err}"
    );
    assert!(
        phone
            .install_policy(&bundle.document, "not base64!")
            .is_err()
    );
    assert_eq!(phone.policy_version(), Some(42));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_loop_delivers_punches_and_stops_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let server = start_server(dir.path(), &timeline, seed(policy(false, 42), 1)).await;
    let phone = std::sync::Arc::new(open_device(dir.path(), "phone", &timeline, 2_000));
    phone
        .enroll(&server.url(), &code("E1001", 0), "phone", "android")
        .await
        .unwrap();
    let rounds = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = rounds.clone();
    let sync = phone
        .start_background_sync(std::time::Duration::from_secs(3600), move |r| {
            assert!(r.is_ok(), "{:?}", r.err());
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .expect("an hourly loop is a valid interval");
    for n in 0..3 {
        timeline.advance_ms(60_000);
        let (fix, wifi) = evidence("E1001", &timeline, n as f64);
        phone
            .punch(PunchInput {
                kind: PunchKind::In,
                fix,
                more_fixes: Vec::new(),
                wifi_bssids: wifi,
                face: None,
            })
            .unwrap();
        sync.sync_soon();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server_punches(&server.url()).await.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "punches did not arrive"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The first round may deliver all three punches when it starts after them; the stored
    // nudge then runs a second round. Wait for it, or `stop` can win the race against it.
    while rounds.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(std::time::Instant::now() < deadline, "no nudged round");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let ran = sync.stop().await;
    assert!(
        ran >= 2,
        "a first round and at least one nudged round: {ran}"
    );
    assert_eq!(ran, rounds.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(phone.outbox_stats().unwrap().pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_judges_without_recording_or_using_the_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let server = start_server(dir.path(), &timeline, seed(policy(true, 42), 1)).await;
    let phone = open_device(dir.path(), "phone", &timeline, 2_000);
    phone
        .enroll(&server.url(), &code("E1001", 0), "phone", "android")
        .await
        .unwrap();
    timeline.advance_ms(10_000);
    let nonce = phone.issue_face_nonce().unwrap();
    let face = daka_core::evidence::FaceEvidence {
        token: face_token("E1001", &nonce, timeline.now()),
        nonce,
    };
    let (fix, wifi) = evidence("E1001", &timeline, 1.0);
    let input = PunchInput {
        kind: PunchKind::In,
        fix,
        more_fixes: Vec::new(),
        wifi_bssids: wifi,
        face: Some(face),
    };
    let preview = phone.preview(input.clone()).unwrap();
    assert_eq!(preview.decision, Decision::Accepted);
    assert_eq!(phone.outbox_stats().unwrap().pending, 0, "nothing recorded");
    // The nonce is still good for the real punch.
    let outcome = phone.punch(input).unwrap();
    assert_eq!(
        outcome.verdict.decision,
        Decision::Accepted,
        "{:?}",
        outcome.verdict
    );
    assert_eq!(phone.outbox_stats().unwrap().pending, 1);
}

/// Coordinates with all 17 significant digits survive the trip through JSON exactly: the
/// server reads back the doubles the phone signed, so every punch verifies. (A float reader
/// that is off by one unit in the last place changes the canonical bytes and so breaks the
/// signature; this is what `serde_json`'s `float_roundtrip` feature is for.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_precision_coordinates_verify_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline::new();
    let server = start_server(dir.path(), &timeline, seed(policy(false, 42), 1)).await;
    let phone = open_device(dir.path(), "phone", &timeline, 2_000);
    phone
        .enroll(&server.url(), &code("E1001", 0), "Pixel 8", "android")
        .await
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let punches = 300;
    for n in 0..punches {
        timeline.advance_ms(120_000);
        let (mut fix, wifi) = evidence("E1001", &timeline, 0.0);
        let fix_ref = fix.as_mut().unwrap();
        // Up to ±2 m of jitter, in full double precision.
        fix_ref.lat += (rng.f64() - 0.5) * 4e-5;
        fix_ref.lon += (rng.f64() - 0.5) * 4e-5;
        fix_ref.accuracy_m = 3.0 + rng.f64() * 5.0;
        let outcome = phone
            .punch(PunchInput {
                kind: daka_e2e::harness::in_or_out(n),
                fix,
                more_fixes: Vec::new(),
                wifi_bssids: wifi,
                face: None,
            })
            .unwrap();
        assert!(outcome.record.is_some(), "{:?}", outcome.verdict);
    }
    // The phone's own store reads every record back to a verifying record.
    let key = phone.public_key();
    for record in phone.punch_log().unwrap() {
        let json = record.to_json().unwrap();
        let read = daka_core::punch::PunchRecord::read(&json).unwrap();
        assert_eq!(read.record, record);
        assert_eq!(read.canonical_json(), json);
        assert_eq!(read.hash(), record.hash().unwrap());
        read.verify_signature(&key).unwrap();
    }
    let report = phone.sync_now(&|_| {}).await.unwrap();
    assert_eq!(
        (report.accepted, report.rejected, report.remaining),
        (punches, 0, 0),
        "{report:?}"
    );
}
