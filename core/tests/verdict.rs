//! The evaluator end to end on the Hong Kong example policy: each decision path, the numbers
//! in its messages, Wi-Fi presence, spoofing signals, face tokens minted by an independent JWS
//! implementation (jsonwebtoken), trusted time, and hostile attempts that must never panic.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use daka_core::attempt::Attempt;
use daka_core::evidence::face_token::NonceLedger;
use daka_core::evidence::spoofing::PreviousPunch;
use daka_core::evidence::{DeviceClock, FaceEvidence, Fix, TimeAnchor};
use daka_core::geofence::Presence;
use daka_core::punch::PunchKind;
use daka_core::verdict::{LocationSource, TimeSource};
use daka_core::{Code, Decision, Engine, Policy, Severity, Verdict};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::json;

const POLICY: &str = include_str!("../../examples/hk-policy.json");
const MATCHER_JWK: &str = include_str!("../../examples/keys/face-matcher-ed25519.private.jwk");

/// Inside the Causeway Bay store, about 14 m from every edge.
const CWB_IN: (f64, f64) = (114.18305, 22.28005);
/// 34 m north of the store's fence, within reach of its 20 m tolerance.
const CWB_EDGE: (f64, f64) = (114.1831, 22.2805);
/// About 120 m north-east of the store.
const CWB_OUT: (f64, f64) = (114.1840, 22.2810);

fn engine() -> Engine {
    Engine::new(Policy::from_json(POLICY).unwrap())
}

fn now() -> DateTime<Utc> {
    "2026-11-26T01:00:00Z".parse().unwrap()
}

/// A matcher signing key from the demonstration JWK, as PKCS#8 for jsonwebtoken.
fn matcher_key() -> EncodingKey {
    let jwk: serde_json::Value = serde_json::from_str(MATCHER_JWK).unwrap();
    let seed = URL_SAFE_NO_PAD.decode(jwk["d"].as_str().unwrap()).unwrap();
    let mut der = ed25519_pkcs8_prefix();
    der.extend_from_slice(&seed);
    EncodingKey::from_ed_der(&der)
}

/// RFC 8410 PKCS#8 prefix for an Ed25519 private key.
fn ed25519_pkcs8_prefix() -> Vec<u8> {
    vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ]
}

fn token(sub: &str, nonce: &str, iat: DateTime<Utc>, score: f64) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("hl-face-device-2026-01".into());
    let claims = json!({
        "iss": "https://face.harbour-lane.example/device",
        "sub": sub,
        "nonce": nonce,
        "iat": iat.timestamp(),
        "exp": (iat + Duration::seconds(120)).timestamp(),
        "score": score,
        "liveness": "pass",
        "model": "hl-face-v3",
    });
    jsonwebtoken::encode(&header, &claims, &matcher_key()).unwrap()
}

fn attempt(employee: &str, at: (f64, f64), accuracy: f64) -> Attempt {
    Attempt {
        employee_id: employee.into(),
        kind: PunchKind::In,
        fix: Some(Fix {
            lat: at.1,
            lon: at.0,
            accuracy_m: accuracy,
            time: now(),
            monotonic_ms: Some(1_000_000),
            mock: false,
            provider: Some("fused".into()),
        }),
        more_fixes: Vec::new(),
        wifi_bssids: vec![],
        face: Some(FaceEvidence {
            token: token(employee, "nonce-1", now() - Duration::seconds(5), 0.97),
            nonce: "nonce-1".into(),
        }),
        clock: DeviceClock {
            wall: now(),
            monotonic_ms: 1_002_000,
            boot_id: "boot-1".into(),
        },
        previous: PreviousPunch::default(),
        anchor: None,
    }
}

fn judge(a: &Attempt) -> Verdict {
    engine()
        .evaluate(a, Some(now()), &mut NonceLedger::new())
        .unwrap()
}

fn codes(v: &Verdict) -> Vec<Code> {
    v.reasons.iter().map(|r| r.code).collect()
}

fn message(v: &Verdict, code: Code) -> &str {
    &v.reasons.iter().find(|r| r.code == code).unwrap().message
}

#[test]
fn inside_with_a_fresh_face_match_is_accepted() {
    let v = judge(&attempt("E1001", CWB_IN, 5.0));
    assert_eq!(v.decision, Decision::Accepted, "{v:#?}");
    assert_eq!(codes(&v), [Code::InsideFence, Code::FaceMatched]);
    assert_eq!(v.location.presence, Presence::Inside);
    assert_eq!(v.location.site_id.as_deref(), Some("cwb-store"));
    let d = v.location.distance_to_edge_m.unwrap();
    assert!(d < -5.0, "inside by more than the accuracy: {d}");
    assert!(message(&v, Code::InsideFence).contains("inside Causeway Bay Store"));
    let face = v.face.unwrap();
    assert_eq!((face.score, face.liveness), (0.97, 1.0));
    assert_eq!(v.policy_version, 42);
    assert_eq!(v.time_source, TimeSource::Supplied);
}

#[test]
fn outside_names_the_nearest_site_with_numbers() {
    let v = judge(&attempt("E1001", CWB_OUT, 25.0));
    assert_eq!(v.decision, Decision::Rejected);
    assert_eq!(codes(&v)[0], Code::OutsideFence);
    let m = message(&v, Code::OutsideFence);
    assert!(m.starts_with("121 m outside Causeway Bay Store"), "{m}");
    assert!(m.ends_with("(accuracy ±25 m)"), "{m}");
    // A field punch (外勤) outside is recorded for review instead.
    let mut a = attempt("E1001", CWB_OUT, 25.0);
    a.kind = PunchKind::Field;
    let v = judge(&a);
    assert_eq!(v.decision, Decision::FieldPunch);
    assert_eq!(v.reasons[0].severity, Severity::Review);
}

#[test]
fn gps_drift_across_the_edge_is_a_field_punch_and_wifi_settles_it() {
    // 34 m north of the store with a ±15 m fix: 7.61 % likely inside its 20 m tolerance,
    // between the policy's thresholds: uncertain → field punch (policy).
    let mut a = attempt("E1001", CWB_EDGE, 15.0);
    let v = judge(&a);
    assert_eq!(v.location.presence, Presence::Uncertain);
    assert_eq!(v.decision, Decision::FieldPunch);
    assert_eq!(v.location.probability, Some(0.0761));
    assert!(message(&v, Code::LocationUncertain).contains("7.61 % likely there"));
    assert!(message(&v, Code::LocationUncertain).contains("±15 m"));
    // The same spot at ±40 m (drifting between the towers, at the store's centre) is
    // accepted: the probability decides, not whether the circle crosses the edge.
    let centre = judge(&attempt("E1001", CWB_IN, 40.0));
    assert_eq!(centre.location.presence, Presence::Inside);
    assert!(centre.location.probability.unwrap() >= 0.6);
    // The store's access point is in the scan: presence proven.
    a.wifi_bssids = vec!["E0-55-3D-4A-12-C1".into()];
    let v = judge(&a);
    assert_eq!(v.decision, Decision::Accepted);
    assert_eq!(v.location.source, LocationSource::Wifi);
    assert_eq!(codes(&v), [Code::WifiMatch, Code::FaceMatched]);
    // Even a vague fix does not matter then, but a mock location still does.
    a.fix.as_mut().unwrap().accuracy_m = 500.0;
    let v = judge(&a);
    assert_eq!(v.decision, Decision::Accepted);
    assert!(
        v.reasons
            .iter()
            .any(|r| r.code == Code::PoorAccuracy && r.severity == Severity::Info)
    );
    a.fix.as_mut().unwrap().mock = true;
    assert_eq!(judge(&a).decision, Decision::Rejected);
}

#[test]
fn wifi_of_a_site_the_employee_may_not_use_proves_nothing() {
    // E1001 is assigned to Causeway Bay only; the Kowloon Bay access point does not count.
    let mut a = attempt("E1001", CWB_OUT, 25.0);
    a.wifi_bssids = vec!["78:8a:20:5c:e1:03".into()];
    let v = judge(&a);
    assert_eq!(v.decision, Decision::Rejected);
    assert_eq!(v.location.source, LocationSource::Gps);
}

#[test]
fn buddy_punching_and_replays_are_refused() {
    // A face match of E1002 presented for E1001.
    let mut a = attempt("E1001", CWB_IN, 5.0);
    a.face.as_mut().unwrap().token = token("E1002", "nonce-1", now(), 0.99);
    let v = judge(&a);
    assert_eq!(v.decision, Decision::Rejected);
    assert_eq!(codes(&v)[0], Code::FaceTokenWrongSubject);

    // The same token twice against one ledger.
    let engine = engine();
    let mut ledger = NonceLedger::new();
    let a = attempt("E1001", CWB_IN, 5.0);
    assert_eq!(
        engine
            .evaluate(&a, Some(now()), &mut ledger)
            .unwrap()
            .decision,
        Decision::Accepted
    );
    let again = engine.evaluate(&a, Some(now()), &mut ledger).unwrap();
    assert_eq!(codes(&again)[0], Code::FaceTokenReplayed);

    // No face token where the policy requires one.
    let mut a = attempt("E1001", CWB_IN, 5.0);
    a.face = None;
    assert_eq!(codes(&judge(&a))[0], Code::FaceTokenMissing);
}

#[test]
fn an_expired_token_is_rejected_on_trusted_time_but_only_flagged_on_device_time() {
    let mut a = attempt("E1001", CWB_IN, 5.0);
    a.face.as_mut().unwrap().token = token("E1001", "nonce-1", now() - Duration::minutes(10), 0.97);
    let v = judge(&a);
    assert_eq!(v.decision, Decision::Rejected);
    assert_eq!(codes(&v)[0], Code::FaceTokenExpired);

    // No anchor and no supplied time: the device clock alone must not reject.
    let v = engine()
        .evaluate(&a, None, &mut NonceLedger::new())
        .unwrap();
    assert_eq!(v.time_source, TimeSource::DeviceWall);
    assert_eq!(v.decision, Decision::FieldPunch, "{v:#?}");
    assert!(codes(&v).contains(&Code::UntrustedTime));
    assert!(message(&v, Code::FaceTokenExpired).ends_with("(judged by the device clock)"));

    // With a server anchor on the same boot, the device's wrong wall clock is ignored.
    a.clock.wall = now() - Duration::days(1);
    a.anchor = Some(TimeAnchor {
        server_time: now() - Duration::seconds(2),
        monotonic_ms: 1_000_000,
        boot_id: "boot-1".into(),
    });
    let v = engine()
        .evaluate(&a, None, &mut NonceLedger::new())
        .unwrap();
    assert_eq!(v.time_source, TimeSource::ServerAnchor);
    assert_eq!(v.evaluated_at, now());
    assert_eq!(v.decision, Decision::Rejected);
}

#[test]
fn unknown_employee_and_missing_location_are_verdicts_not_errors() {
    let v = judge(&attempt("E9999", CWB_IN, 5.0));
    assert_eq!(v.decision, Decision::Rejected);
    assert_eq!(codes(&v)[0], Code::UnknownEmployee);
    let mut a = attempt("E1001", CWB_IN, 5.0);
    a.fix = None;
    let v = judge(&a);
    assert_eq!(codes(&v)[0], Code::NoLocationEvidence);
    assert_eq!(v.location.source, LocationSource::None);
}

#[test]
fn malformed_attempts_are_errors_naming_the_field() {
    let mut a = attempt("E1001", CWB_IN, 5.0);
    a.fix.as_mut().unwrap().lat = f64::NAN;
    let e = engine()
        .evaluate(&a, Some(now()), &mut NonceLedger::new())
        .unwrap_err();
    assert_eq!(e.field, "fix.lat");
    let mut a = attempt("E1001", CWB_IN, 5.0);
    a.wifi_bssids = vec!["not a bssid".into()];
    let e = engine()
        .evaluate(&a, Some(now()), &mut NonceLedger::new())
        .unwrap_err();
    assert_eq!(e.field, "wifi_bssids[0]");
}

#[test]
fn reasons_are_most_severe_first() {
    let mut a = attempt("E1001", CWB_IN, 40.0);
    a.fix.as_mut().unwrap().mock = true;
    let v = judge(&a);
    let severities: Vec<Severity> = v.reasons.iter().map(|r| r.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort_by_key(|s| std::cmp::Reverse(*s));
    assert_eq!(severities, sorted);
    assert_eq!(v.reasons[0].code, Code::MockLocation);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any attempt, however hostile its numbers and strings, yields a verdict or a typed
    /// error, never a panic; valid ones always carry at least one reason.
    #[test]
    fn arbitrary_attempts_never_panic(
        lat in prop_oneof![any::<f64>(), -91.0..91.0f64],
        lon in prop_oneof![any::<f64>(), -181.0..181.0f64],
        accuracy in prop_oneof![any::<f64>(), 0.0..10_000.0f64],
        employee in prop_oneof![Just("E1001".to_string()), ".{0,200}"],
        token_text in ".{0,300}",
        bssid in prop_oneof![Just("e0:55:3d:4a:12:c1".to_string()), ".{0,30}"],
        mono in any::<u64>(),
        mock in any::<bool>(),
    ) {
        let mut a = attempt("E1001", CWB_IN, 5.0);
        a.employee_id = employee;
        let fix = a.fix.as_mut().unwrap();
        fix.lat = lat;
        fix.lon = lon;
        fix.accuracy_m = accuracy;
        fix.mock = mock;
        fix.monotonic_ms = Some(mono);
        a.face.as_mut().unwrap().token = token_text;
        a.wifi_bssids = vec![bssid];
        match engine().evaluate(&a, Some(now()), &mut NonceLedger::new()) {
            Ok(v) => prop_assert!(!v.reasons.is_empty()),
            Err(e) => prop_assert!(!e.field.is_empty() && !e.reason.is_empty()),
        }
    }
}

/// `a`'s fix again, `ms` milliseconds earlier, moved by (`dlon`, `dlat`) degrees with another
/// accuracy.
fn earlier(a: &Attempt, ms: i64, dlon: f64, dlat: f64, accuracy: f64) -> Fix {
    let mut f = a.fix.clone().unwrap();
    f.lon += dlon;
    f.lat += dlat;
    f.accuracy_m = accuracy;
    f.time -= Duration::milliseconds(ms);
    f.monotonic_ms = f.monotonic_ms.map(|m| m - ms as u64);
    f
}

#[test]
fn the_location_is_judged_on_the_fused_fixes_of_the_attempt() {
    // The latest fix is vague (±30 m); two sharper fixes of the same attempt agree with it.
    let mut a = attempt("E1001", CWB_IN, 30.0);
    let alone = judge(&a);
    assert_eq!(alone.location.accuracy_m, Some(30.0));
    a.more_fixes = vec![
        earlier(&a, 1_000, 0.00002, 0.0, 5.0),
        earlier(&a, 2_000, 0.0, -0.00002, 6.0),
    ];
    let located = a.located_fix().unwrap();
    let v = judge(&a);
    assert_eq!(v.location.accuracy_m, Some(located.accuracy_m));
    // Never claimed better than the best fix, and not the vague one's 30 m either.
    assert!((5.0..6.0).contains(&located.accuracy_m), "{located:?}");
    assert_eq!(v.location.presence, Presence::Inside, "{v:#?}");
    assert_eq!(v.decision, Decision::Accepted);
    assert!(
        message(&v, Code::InsideFence).contains("(accuracy ±5 m)"),
        "{v:#?}"
    );
    // The fixes' order does not change a single bit of the verdict.
    a.more_fixes.reverse();
    assert_eq!(judge(&a), v);
    // An earlier fix far from the latest one is left out; it cannot drag the location.
    a.more_fixes.push(earlier(&a, 3_000, 0.003, 0.0, 5.0));
    assert_eq!(judge(&a).location, v.location);
}

#[test]
fn a_mock_flag_on_any_fix_of_the_attempt_rejects_it() {
    let mut a = attempt("E1001", CWB_IN, 5.0);
    a.more_fixes = vec![earlier(&a, 1_000, 0.0, 0.00001, 6.0)];
    assert_eq!(judge(&a).decision, Decision::Accepted);
    a.more_fixes[0].mock = true;
    let v = judge(&a);
    assert_eq!(v.decision, Decision::Rejected);
    assert_eq!(codes(&v)[0], Code::MockLocation);
    assert!(message(&v, Code::MockLocation).contains("earlier fix 0"));
    // The Wi-Fi of the store does not excuse it either.
    a.wifi_bssids = vec!["E0-55-3D-4A-12-C1".into()];
    assert_eq!(judge(&a).decision, Decision::Rejected);
}

#[test]
fn a_repeat_at_the_same_desk_is_honest_from_the_network_and_a_replay_from_gps() {
    // Clock-in at 01:00 at the desk; clock-out at 09:00 with bit-for-bit the same fix values.
    let first = attempt("E1001", CWB_IN, 8.0);
    let mut out = attempt("E1001", CWB_IN, 8.0);
    out.kind = PunchKind::Out;
    // Same boot: the monotonic clock moved on by 8 h too.
    out.clock.monotonic_ms = 30_002_000;
    out.fix.as_mut().unwrap().monotonic_ms = Some(30_000_000);
    out.previous = PreviousPunch {
        fix: first.fix.clone(),
        clock: Some(DeviceClock {
            wall: now() - Duration::hours(8),
            monotonic_ms: 1_202_000,
            boot_id: "boot-1".into(),
        }),
    };
    let previous_fix = out.previous.fix.as_mut().unwrap();
    previous_fix.time = now() - Duration::hours(8);
    previous_fix.monotonic_ms = Some(1_200_000);

    for provider in ["network", "fused"] {
        out.fix.as_mut().unwrap().provider = Some(provider.into());
        out.previous.fix.as_mut().unwrap().provider = Some(provider.into());
        let v = judge(&out);
        assert_eq!(v.decision, Decision::Accepted, "{provider}: {v:#?}");
        let r = v
            .reasons
            .iter()
            .find(|r| r.code == Code::RepeatedFix)
            .unwrap();
        assert_eq!(r.severity, Severity::Info);
    }

    out.fix.as_mut().unwrap().provider = Some("gps".into());
    let v = judge(&out);
    assert_eq!(v.decision, Decision::FieldPunch, "{v:#?}");
    assert_eq!(codes(&v)[0], Code::RepeatedFix);

    // A network fix whose own time is the previous fix's: replayed.
    out.fix.as_mut().unwrap().provider = Some("network".into());
    out.fix.as_mut().unwrap().time = now() - Duration::hours(8);
    let v = judge(&out);
    assert_eq!(v.decision, Decision::FieldPunch, "{v:#?}");
    assert!(
        v.reasons
            .iter()
            .any(|r| r.code == Code::RepeatedFix && r.severity == Severity::Review)
    );
}
