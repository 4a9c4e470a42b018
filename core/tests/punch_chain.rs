//! Proves the punch record format and chain: records round-trip byte for byte through JSON in
//! any key order and spelling; every edit, deletion, reordering, fork or duplicate in a chain
//! is caught at the first affected record; hostile JSON gets typed errors naming the field or
//! line, never a panic; and a fixed key and punch give exactly the checked-in JSON and
//! signature, which an independent Ed25519 implementation (ed25519-dalek) accepts.

use chrono::{DateTime, TimeZone, Utc};
use daka_core::codes::{Code, Severity};
use daka_core::evidence::{DeviceClock, Fix};
use daka_core::geofence::Presence;
use daka_core::punch::{
    ChainAnchor, ChainErrorKind, DeviceSigner, MAX_RECORD_BYTES, PunchBody, PunchChain, PunchDraft,
    PunchError, PunchEvidence, PunchKind, PunchRecord, RECORD_FORMAT, RecordError, SignatureError,
    parse_log, verify_chain, verify_chain_from, write_log,
};
use daka_core::punch::{
    RecordedDecision as Decision, RecordedFace as FaceVerdict, RecordedLocation as LocationVerdict,
    RecordedLocationSource as LocationSource, RecordedReason as Reason,
    RecordedTimeSource as TimeSource, RecordedVerdict as Verdict,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use uuid::Uuid;

// ---- fixtures --------------------------------------------------------------------------------

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The seed of the known-answer key: bytes 0, 1, …, 31.
fn kat_seed() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn kat_draft() -> PunchDraft {
    PunchDraft {
        kind: PunchKind::In,
        employee_id: "E1024 陳大文".into(),
        evidence: PunchEvidence {
            fix: Some(Fix {
                lat: 22.2803,
                lon: 114.1838,
                accuracy_m: 12.5,
                time: t("2025-04-14T01:02:03.456Z"),
                monotonic_ms: Some(86_400_123),
                mock: false,
                provider: Some("fused".into()),
            }),
            more_fixes: Vec::new(),
            wifi_bssids: vec!["00:11:22:33:44:55".into()],
            face_token: None,
            nonce: Some("n-7f3a".into()),
        },
        clock: DeviceClock {
            wall: t("2025-04-14T01:02:04Z"),
            monotonic_ms: 86_401_000,
            boot_id: "b-3c9e".into(),
        },
        server_offset_ms: Some(-1250),
        policy_version: 7,
        verdict: Verdict {
            decision: Decision::Accepted,
            location: LocationVerdict {
                presence: Presence::Inside,
                source: LocationSource::Gps,
                site_id: Some("cwb".into()),
                site_name: Some("Causeway Bay Store 銅鑼灣店".into()),
                distance_to_edge_m: Some(-37.5),
                accuracy_m: Some(12.5),
                tolerance_m: None,
                probability: None,
            },
            face: None,
            reasons: vec![Reason {
                code: Code::InsideFence,
                severity: Severity::Info,
                message: "37.5 m inside Causeway Bay Store (accuracy ±12.5 m)".into(),
            }],
            policy_version: 7,
            evaluated_at: t("2025-04-14T01:02:04.120Z"),
            time_source: TimeSource::ServerAnchor,
        },
        id_time: t("2025-04-14T01:02:04.120Z"),
    }
}

const KAT_ID: &str = "019631d1-5358-7abc-8def-0123456789ab";
const KAT_DEVICE: &str = "dev-hk-0001";

/// The body `PunchChain::append` makes from `kat_draft()` as the first record, with the
/// random part of the id fixed.
fn kat_body() -> PunchBody {
    let d = kat_draft();
    PunchBody {
        format: RECORD_FORMAT,
        id: Uuid::parse_str(KAT_ID).unwrap(),
        device_id: KAT_DEVICE.into(),
        seq: 1,
        prev_hash: None,
        kind: d.kind,
        employee_id: d.employee_id,
        evidence: d.evidence,
        clock: d.clock,
        server_offset_ms: d.server_offset_ms,
        policy_version: d.policy_version,
        verdict: d.verdict,
    }
}

const KAT_PUBLIC_KEY: &str = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";
const KAT_JSON: &str = r#"{"clock":{"boot_id":"b-3c9e","monotonic_ms":86401000,"wall":"2025-04-14T01:02:04Z"},"device_id":"dev-hk-0001","employee_id":"E1024 陳大文","evidence":{"fix":{"accuracy_m":12.5,"lat":22.2803,"lon":114.1838,"mock":false,"monotonic_ms":86400123,"provider":"fused","time":"2025-04-14T01:02:03.456Z"},"nonce":"n-7f3a","wifi_bssids":["00:11:22:33:44:55"]},"format":1,"id":"019631d1-5358-7abc-8def-0123456789ab","kind":"in","policy_version":7,"prev_hash":null,"seq":1,"server_offset_ms":-1250,"sig":"cG3JsMupcQjjntuHdFN50uS54N8cxgq6JbELUsbxZmjq8FY1lJcmMZZgfnvdBbZ6S2nM1P9vrnUIgmbN0s9iDQ","verdict":{"decision":"accepted","evaluated_at":"2025-04-14T01:02:04.120Z","location":{"accuracy_m":12.5,"distance_to_edge_m":-37.5,"presence":"inside","site_id":"cwb","site_name":"Causeway Bay Store 銅鑼灣店","source":"gps"},"policy_version":7,"reasons":[{"code":"inside_fence","message":"37.5 m inside Causeway Bay Store (accuracy ±12.5 m)","severity":"info"}],"time_source":"server_anchor"}}"#;
const KAT_SIG: &str =
    "cG3JsMupcQjjntuHdFN50uS54N8cxgq6JbELUsbxZmjq8FY1lJcmMZZgfnvdBbZ6S2nM1P9vrnUIgmbN0s9iDQ";
const KAT_HASH: &str = "888131aad2871b32160ca4161b5ec24b3d2147db5d4502dc727a88ead6c2aaf9";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

fn signer(seed_byte: u8) -> DeviceSigner {
    DeviceSigner::from_seed(&[seed_byte; 32]).unwrap()
}

fn build_chain(signer: &DeviceSigner, device: &str, drafts: Vec<PunchDraft>) -> Vec<PunchRecord> {
    let mut chain = PunchChain::new(device);
    drafts
        .into_iter()
        .map(|d| chain.append(d, signer).unwrap())
        .collect()
}

fn kat_chain(n: usize) -> (DeviceSigner, Vec<PunchRecord>) {
    let s = signer(9);
    let drafts = (0..n)
        .map(|i| {
            let mut d = kat_draft();
            d.kind = if i % 2 == 0 {
                PunchKind::In
            } else {
                PunchKind::Out
            };
            d.clock.monotonic_ms += i as u64 * 1000;
            d
        })
        .collect();
    let records = build_chain(&s, "dev-test", drafts);
    (s, records)
}

// ---- strategies ------------------------------------------------------------------------------

fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), min..max).prop_map(|v| v.into_iter().collect()),
        "[a-zA-Z0-9 ]{1,12}".prop_filter("length", move |s| s.len() >= min),
        Just("銅鑼灣 Causeway Bay ±65 m 🕒 \u{2028}\"\\\n\t".to_string()),
    ]
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..253_402_300_799, 0u32..1_000_000_000, 0u8..4).prop_map(|(secs, nanos, style)| {
        // Whole seconds, milliseconds, microseconds and nanoseconds all occur.
        let nanos = match style {
            0 => 0,
            1 => nanos / 1_000_000 * 1_000_000,
            2 => nanos / 1000 * 1000,
            _ => nanos,
        };
        Utc.timestamp_opt(secs, nanos).unwrap()
    })
}

fn fix() -> impl Strategy<Value = Fix> {
    (
        -90.0f64..90.0,
        -180.0f64..180.0,
        0.0f64..500.0,
        time(),
        prop::option::of(0u64..1 << 53),
        any::<bool>(),
        prop::option::of(prop_oneof![Just("gps".to_string()), text(0, 6)]),
    )
        .prop_map(
            |(lat, lon, accuracy_m, time, monotonic_ms, mock, provider)| Fix {
                lat,
                lon,
                accuracy_m,
                time,
                monotonic_ms,
                mock,
                provider,
            },
        )
}

fn evidence() -> impl Strategy<Value = PunchEvidence> {
    (
        prop::option::of(fix()),
        prop::collection::vec(fix(), 0..3),
        prop::collection::vec("[0-9a-f]{2}(:[0-9a-f]{2}){5}", 0..3),
        prop::option::of(text(0, 40)),
        prop::option::of(text(0, 8)),
    )
        .prop_map(
            |(fix, more_fixes, wifi_bssids, face_token, nonce)| PunchEvidence {
                fix,
                more_fixes,
                wifi_bssids,
                face_token,
                nonce,
            },
        )
}

fn verdict() -> impl Strategy<Value = Verdict> {
    let location = (
        prop_oneof![
            Just(Presence::Inside),
            Just(Presence::Outside),
            Just(Presence::Uncertain)
        ],
        prop_oneof![
            Just(LocationSource::Gps),
            Just(LocationSource::Wifi),
            Just(LocationSource::None)
        ],
        prop::option::of(text(1, 6)),
        prop::option::of(text(0, 16)),
        prop::option::of(-5000.0f64..5000.0),
        prop::option::of(0.0f64..500.0),
        prop::option::of(0.0f64..200.0),
        prop::option::of((0u32..=10_000).prop_map(|p| f64::from(p) / 10_000.0)),
    )
        .prop_map(
            |(
                presence,
                source,
                site_id,
                site_name,
                distance_to_edge_m,
                accuracy_m,
                tolerance_m,
                probability,
            )| {
                LocationVerdict {
                    presence,
                    source,
                    site_id,
                    site_name,
                    distance_to_edge_m,
                    accuracy_m,
                    tolerance_m,
                    probability,
                }
            },
        );
    let face = prop::option::of(
        (
            text(1, 6),
            text(1, 8),
            0.0f64..=1.0,
            0.0f64..=1.0,
            prop::option::of(text(0, 8)),
        )
            .prop_map(|(kid, issuer, score, liveness, model)| FaceVerdict {
                kid,
                issuer,
                score,
                liveness,
                model,
            }),
    );
    let reason = (
        prop::sample::select(Code::ALL),
        prop_oneof![
            Just(Severity::Info),
            Just(Severity::Review),
            Just(Severity::Reject)
        ],
        text(0, 24),
    )
        .prop_map(|(code, severity, message)| Reason {
            code,
            severity,
            message,
        });
    (
        prop_oneof![
            Just(Decision::Accepted),
            Just(Decision::FieldPunch),
            Just(Decision::Rejected)
        ],
        location,
        face,
        prop::collection::vec(reason, 0..3),
        0u64..1_000_000,
        time(),
        prop_oneof![
            Just(TimeSource::ServerAnchor),
            Just(TimeSource::Supplied),
            Just(TimeSource::DeviceWall)
        ],
    )
        .prop_map(
            |(decision, location, face, reasons, policy_version, evaluated_at, time_source)| {
                Verdict {
                    decision,
                    location,
                    face,
                    reasons,
                    policy_version,
                    evaluated_at,
                    time_source,
                }
            },
        )
}

fn kind() -> impl Strategy<Value = PunchKind> {
    prop_oneof![
        Just(PunchKind::In),
        Just(PunchKind::Out),
        Just(PunchKind::BreakStart),
        Just(PunchKind::BreakEnd),
        Just(PunchKind::Field),
    ]
}

fn draft() -> impl Strategy<Value = PunchDraft> {
    (
        kind(),
        text(1, 12),
        evidence(),
        (time(), 0u64..1 << 53, text(0, 8)).prop_map(|(wall, monotonic_ms, boot_id)| DeviceClock {
            wall,
            monotonic_ms,
            boot_id,
        }),
        prop::option::of(-(1i64 << 40)..(1i64 << 40)),
        0u64..1_000_000,
        verdict(),
        time(),
    )
        .prop_map(
            |(
                kind,
                employee_id,
                evidence,
                clock,
                server_offset_ms,
                policy_version,
                verdict,
                id_time,
            )| {
                PunchDraft {
                    kind,
                    employee_id,
                    evidence,
                    clock,
                    server_offset_ms,
                    policy_version,
                    verdict,
                    id_time,
                }
            },
        )
}

fn drafts(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<PunchDraft>> {
    prop::collection::vec(draft(), len)
}

/// A chain of records signed with seed byte 1 for device `dev-prop`.
fn chain(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<PunchRecord>> {
    drafts(len).prop_map(|ds| build_chain(&signer(1), "dev-prop", ds))
}

fn public() -> [u8; 32] {
    signer(1).public_key()
}

// ---- a JSON writer that spells the same value differently ------------------------------------

/// A tiny deterministic generator for shuffling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Writes `value` with object members in random order, optional indentation, non-ASCII
/// characters as `\u` escapes and floats in exponent notation, so only the canonical form is
/// the same as the original.
fn respell(value: &Value, rng: &mut Rng, pretty: bool, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    };
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            for i in (1..entries.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                entries.swap(i, j);
            }
            out.push('{');
            for (n, (k, v)) in entries.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_string(k, rng, out);
                out.push_str(if pretty { ": " } else { ":" });
                respell(v, rng, pretty, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, v) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                respell(v, rng, pretty, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::String(s) => write_string(s, rng, out),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            out.push_str(&if rng.next() % 2 == 0 {
                format!("{x:e}")
            } else {
                format!("{x:?}")
            });
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, rng: &mut Rng, out: &mut String) {
    if rng.next() % 2 == 0 {
        out.push_str(&serde_json::to_string(s).unwrap());
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
        }
    }
    out.push('"');
}

// ---- round trip ------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn chains_round_trip_through_a_log(records in chain(1..12), seed in any::<u64>(), pretty in any::<bool>()) {
        let key = public();
        let summary = verify_chain(&key, &records).unwrap();
        prop_assert_eq!(summary.count, records.len());
        prop_assert_eq!(summary.last_seq, records.len() as u64);
        prop_assert_eq!(summary.head_hash.clone(), Some(records.last().unwrap().hash().unwrap()));

        let log = write_log(&records).unwrap();
        let parsed = parse_log(&log).unwrap();
        prop_assert_eq!(&parsed, &records);
        prop_assert_eq!(verify_chain(&key, &parsed).unwrap(), summary.clone());

        let mut rng = Rng(seed | 1);
        for record in &records {
            let json = record.to_json().unwrap();
            prop_assert!(!json.contains('\n'));
            // Written straight from the typed record, as an independent RFC 8785 writer writes
            // its JSON value; the signed body likewise.
            let expected = serde_json_canonicalizer::to_vec(&serde_json::to_value(record).unwrap()).unwrap();
            prop_assert_eq!(json.as_bytes(), expected.as_slice());
            let body = serde_json_canonicalizer::to_vec(&serde_json::to_value(&record.body).unwrap()).unwrap();
            prop_assert_eq!(record.body.signing_bytes().unwrap(), body);
            // Re-parsed, the canonical JSON is byte-identical.
            let again = PunchRecord::from_json(&json).unwrap();
            prop_assert_eq!(again.to_json().unwrap(), json.clone());
            prop_assert_eq!(again.hash().unwrap(), record.hash().unwrap());
            // Read as a server reads it, keeping the canonical bytes (the canonical form takes a
            // shorter path): the same record, hash, JSON and signature.
            let read_as_server = |text: &str| -> Result<(), TestCaseError> {
                let read = PunchRecord::read(text).unwrap();
                prop_assert_eq!(&read.record, record);
                prop_assert_eq!(read.canonical_json(), json.as_str());
                prop_assert_eq!(read.hash(), record.hash().unwrap());
                read.verify_signature(&key).unwrap();
                prop_assert_eq!(read.verify_signature(&[42; 32]), Err(SignatureError::Mismatch));
                Ok(())
            };
            read_as_server(&json)?;
            // Any key order, whitespace, escaping and number spelling reads as the same record.
            let value: Value = serde_json::from_str(&json).unwrap();
            let mut respelt = String::new();
            respell(&value, &mut rng, pretty, 0, &mut respelt);
            let reread = PunchRecord::from_json(&respelt)
                .map_err(|e| TestCaseError::fail(format!("{e} in {respelt}")))?;
            prop_assert_eq!(&reread, record);
            prop_assert_eq!(reread.to_json().unwrap(), json.clone());
            reread.verify_signature(&key).unwrap();
            read_as_server(&respelt)?;
        }
    }
}

// ---- tampering -------------------------------------------------------------------------------

/// Every leaf of a JSON value, as a list of steps.
fn leaves(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Value::String(k.clone()));
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Value::from(i));
                leaves(v, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn at<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

/// Changes a JSON leaf to a different value of the same type (or `0` for `null`).
fn mutate(leaf: &mut Value, pick: &Index) {
    *leaf = match leaf.take() {
        Value::Null => Value::from(0),
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u + 1)
            } else if let Some(i) = n.as_i64() {
                Value::from(i + 1)
            } else {
                Value::from(n.as_f64().unwrap() + 1.0)
            }
        }
        Value::String(s) if s.is_empty() => Value::from("x"),
        Value::String(s) => {
            let mut chars: Vec<char> = s.chars().collect();
            let i = pick.index(chars.len());
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            Value::String(chars.into_iter().collect())
        }
        other => other,
    };
}

#[derive(Debug, Clone, Copy)]
enum TypedEdit {
    Kind,
    Decision,
    Seq,
    PrevHash,
    Sig,
    Employee,
    Distance,
    Offset,
    Monotonic,
    Wifi,
}

fn typed_edit() -> impl Strategy<Value = TypedEdit> {
    prop::sample::select(vec![
        TypedEdit::Kind,
        TypedEdit::Decision,
        TypedEdit::Seq,
        TypedEdit::PrevHash,
        TypedEdit::Sig,
        TypedEdit::Employee,
        TypedEdit::Distance,
        TypedEdit::Offset,
        TypedEdit::Monotonic,
        TypedEdit::Wifi,
    ])
}

fn apply(edit: TypedEdit, r: &mut PunchRecord) {
    let b = &mut r.body;
    match edit {
        TypedEdit::Kind => {
            b.kind = if b.kind == PunchKind::In {
                PunchKind::Out
            } else {
                PunchKind::In
            }
        }
        TypedEdit::Decision => {
            b.verdict.decision = if b.verdict.decision == Decision::Accepted {
                Decision::Rejected
            } else {
                Decision::Accepted
            }
        }
        TypedEdit::Seq => b.seq += 1,
        TypedEdit::PrevHash => {
            b.prev_hash = Some(match &b.prev_hash {
                Some(h) if h.starts_with('0') => format!("1{}", &h[1..]),
                Some(h) => format!("0{}", &h[1..]),
                None => "0".repeat(64),
            })
        }
        TypedEdit::Sig => {
            let mut sig = unb64(&r.sig);
            sig[17] ^= 0x40;
            r.sig = b64(&sig);
        }
        TypedEdit::Employee => b.employee_id.push('!'),
        TypedEdit::Distance => {
            let d = &mut b.verdict.location.distance_to_edge_m;
            *d = Some(d.map_or(1.0, |x| x + 1.0));
        }
        TypedEdit::Offset => b.server_offset_ms = Some(b.server_offset_ms.map_or(0, |x| x - 1)),
        TypedEdit::Monotonic => b.clock.monotonic_ms += 1,
        TypedEdit::Wifi => b.evidence.wifi_bssids.push("aa:bb:cc:dd:ee:ff".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The JSON `append_with_json` gives from its one write is the record's canonical JSON,
    /// its hash is what the next record links to, and its signature verifies.
    #[test]
    fn appending_writes_the_record_once_with_the_same_bytes(drafts in drafts(1..8)) {
        let s = signer(3);
        let mut chain = PunchChain::new("dev-once");
        for draft in drafts {
            let (record, json) = chain.append_with_json(draft, &s).unwrap();
            prop_assert_eq!(&json, &record.to_json().unwrap());
            let hash = record.hash().unwrap();
            prop_assert_eq!(chain.last_hash(), Some(hash.as_str()));
            record.verify_signature(&s.public_key()).unwrap();
            prop_assert_eq!(&PunchRecord::read_stored(&json).unwrap(), &record);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// An edit to any leaf of any record's JSON is caught at that record: either the log no
    /// longer parses at that line, or the chain fails there with `bad_signature`.
    #[test]
    fn any_json_edit_is_caught_at_the_edited_record(records in chain(2..30), which in any::<Index>(), leaf in any::<Index>(), pick in any::<Index>()) {
        let i = which.index(records.len());
        let mut lines: Vec<String> = records.iter().map(|r| r.to_json().unwrap()).collect();
        let mut value: Value = serde_json::from_str(&lines[i]).unwrap();
        let mut all = Vec::new();
        leaves(&value, &mut Vec::new(), &mut all);
        let path = leaf.get(&all).clone();
        mutate(at(&mut value, &path), &pick);
        lines[i] = serde_json::to_string(&value).unwrap();
        // Reading the edited line as a server does agrees with the strict reader.
        match (PunchRecord::from_json(&lines[i]), PunchRecord::read(&lines[i])) {
            (Ok(record), Ok(read)) => {
                prop_assert_eq!(&read.record, &record);
                prop_assert_eq!(read.canonical_json(), record.to_json().unwrap());
            }
            (Err(strict), Err(read)) => prop_assert_eq!(strict, read),
            (strict, read) => prop_assert!(false, "{:?} but {:?}", strict, read.map(|r| r.record)),
        }
        match parse_log(&lines.join("\n")) {
            Err(e) => prop_assert_eq!(e.line, i + 1, "{} at {:?}", e, path),
            Ok(parsed) => {
                let err = verify_chain(&public(), &parsed).unwrap_err();
                prop_assert_eq!(err.index, i, "{} at {:?}", err, path);
                prop_assert_eq!(err.code(), "bad_signature", "{} at {:?}", err, path);
            }
        }
    }

    /// The same for typed edits of the fields that matter most, which always still parse.
    #[test]
    fn typed_edits_are_bad_signatures_at_the_edited_record(records in chain(2..30), which in any::<Index>(), edit in typed_edit()) {
        let i = which.index(records.len());
        let mut tampered = records.clone();
        apply(edit, &mut tampered[i]);
        prop_assume!(tampered[i] != records[i]);
        let err = verify_chain(&public(), &tampered).unwrap_err();
        prop_assert_eq!(err.index, i);
        prop_assert_eq!(err.seq, tampered[i].body.seq);
        prop_assert_eq!(err.id, tampered[i].body.id);
        // A genesis record given a prev_hash, or a later seq without one, breaks the format
        // before the signature is checked.
        let expected = if matches!(edit, TypedEdit::PrevHash | TypedEdit::Seq) && i == 0 { "malformed_record" } else { "bad_signature" };
        prop_assert_eq!(err.code(), expected, "{}", err);
        // Re-read from JSON, the edited record still fails at the same place.
        if let Ok(parsed) = parse_log(&write_log(&tampered).unwrap()) {
            prop_assert_eq!(verify_chain(&public(), &parsed).unwrap_err().index, i);
        }
    }

    #[test]
    fn deletions_are_caught_except_at_the_end(records in chain(2..30), which in any::<Index>()) {
        let n = records.len();
        let i = which.index(n);
        let full = verify_chain(&public(), &records).unwrap();
        let mut cut = records.clone();
        cut.remove(i);
        match verify_chain(&public(), &cut) {
            Ok(summary) => {
                // Truncation at the end verifies; only a known head shows it.
                prop_assert_eq!(i, n - 1);
                prop_assert_eq!(summary.last_seq, n as u64 - 1);
                prop_assert_ne!(summary.head_hash, full.head_hash);
            }
            Err(err) => {
                prop_assert_eq!(err.index, i);
                if i == 0 {
                    prop_assert_eq!(err.kind, ChainErrorKind::NotGenesis { found_seq: 2 });
                } else {
                    prop_assert_eq!(err.kind, ChainErrorKind::Gap { expected_seq: i as u64 + 1, found_seq: i as u64 + 2 });
                }
            }
        }
    }

    #[test]
    fn swaps_are_out_of_order_at_the_first_displaced_record(records in chain(2..30), a in any::<Index>(), b in any::<Index>()) {
        let (i, j) = (a.index(records.len()), b.index(records.len()));
        prop_assume!(i != j);
        let (i, j) = (i.min(j), i.max(j));
        let mut swapped = records.clone();
        swapped.swap(i, j);
        let err = verify_chain(&public(), &swapped).unwrap_err();
        prop_assert_eq!(err.index, i);
        prop_assert_eq!(err.kind, ChainErrorKind::OutOfOrder { expected_seq: i as u64 + 1, found_seq: j as u64 + 1 });
    }

    /// A second validly signed record with an existing seq (a cloned device, or a reinstalled
    /// app reusing its key) is a fork at the later of the two; placed before its predecessor
    /// it is out of order there.
    #[test]
    fn forks_are_caught_at_the_second_record(records in chain(2..30), which in any::<Index>(), position in any::<Index>(), other in draft()) {
        let n = records.len();
        let o = which.index(n);
        let p = position.index(n + 1);
        let mut forked_chain = if o == 0 { PunchChain::new("dev-prop") } else { PunchChain::resume(&records[o - 1]).unwrap() };
        let fork = forked_chain.append(other, &signer(1)).unwrap();
        prop_assert_eq!(fork.body.seq, o as u64 + 1);
        let mut log = records.clone();
        log.insert(p, fork);
        let err = verify_chain(&public(), &log).unwrap_err();
        if p < o {
            prop_assert_eq!(err.index, p);
            prop_assert_eq!(err.kind, ChainErrorKind::OutOfOrder { expected_seq: p as u64 + 1, found_seq: o as u64 + 1 });
        } else {
            prop_assert_eq!(err.index, p.max(o + 1));
            prop_assert_eq!(err.kind, ChainErrorKind::Fork { seq: o as u64 + 1, first_index: o });
        }
    }

    #[test]
    fn duplicated_records_are_caught_at_the_copy(records in chain(2..30), which in any::<Index>(), position in any::<Index>()) {
        let n = records.len();
        let o = which.index(n);
        let p = position.index(n + 1);
        let mut log = records.clone();
        log.insert(p, records[o].clone());
        let err = verify_chain(&public(), &log).unwrap_err();
        if p < o {
            prop_assert_eq!(err.index, p);
            prop_assert_eq!(err.code(), "out_of_order");
        } else {
            prop_assert_eq!(err.index, p.max(o + 1));
            prop_assert_eq!(err.kind, ChainErrorKind::DuplicateRecord { seq: o as u64 + 1, first_index: o });
        }
    }

    #[test]
    fn a_chain_signed_by_another_key_fails_at_the_first_record(records in chain(1..8)) {
        let err = verify_chain(&signer(2).public_key(), &records).unwrap_err();
        prop_assert_eq!(err.index, 0);
        prop_assert_eq!(err.kind, ChainErrorKind::BadSignature);
    }
}

#[test]
fn a_record_of_another_device_is_caught_where_it_appears() {
    let (s, mut records) = kat_chain(5);
    let key = s.public_key();
    // Same key, another device id: validly signed, so `wrong_device`.
    let mut body = records[3].body.clone();
    body.device_id = "dev-other".into();
    let relabelled = PunchRecord::sign(body, &s).unwrap();
    let mut log = records.clone();
    log[3] = relabelled;
    let err = verify_chain(&key, &log).unwrap_err();
    assert_eq!(err.index, 3);
    assert_eq!(
        err.kind,
        ChainErrorKind::WrongDevice {
            expected: "dev-test".into(),
            found: "dev-other".into()
        }
    );
    // Another device's record, with its own key, spliced in: `bad_signature` under this key.
    let other = build_chain(&signer(3), "dev-other", vec![kat_draft(), kat_draft()]);
    records.insert(2, other[1].clone());
    let err = verify_chain(&key, &records).unwrap_err();
    assert_eq!((err.index, err.code()), (2, "bad_signature"));
}

#[test]
fn a_reused_id_is_caught() {
    let (s, records) = kat_chain(3);
    let mut body = records[2].body.clone();
    body.id = records[0].body.id;
    let mut log = records[..2].to_vec();
    log.push(PunchRecord::sign(body, &s).unwrap());
    let err = verify_chain(&s.public_key(), &log).unwrap_err();
    assert_eq!(err.index, 2);
    assert_eq!(err.kind, ChainErrorKind::DuplicateId { first_index: 0 });
}

#[test]
fn a_record_linked_to_a_substitute_is_a_broken_link() {
    let (s, records) = kat_chain(4);
    // A different record 2, and a record 3 chained to it: the original 3 no longer links.
    let mut fork = PunchChain::resume(&records[0]).unwrap();
    let f2 = fork.append(kat_draft(), &s).unwrap();
    let f3 = fork.append(kat_draft(), &s).unwrap();
    let log = vec![records[0].clone(), records[1].clone(), f3.clone()];
    let err = verify_chain(&s.public_key(), &log).unwrap_err();
    assert_eq!(err.index, 2);
    assert_eq!(
        err.kind,
        ChainErrorKind::BrokenLink {
            expected_hash: Some(records[1].hash().unwrap()),
            found_hash: Some(f2.hash().unwrap()),
        }
    );
    // The forked history on its own is a valid chain: only the server's head tells them apart.
    let forked = vec![records[0].clone(), f2, f3];
    let summary = verify_chain(&s.public_key(), &forked).unwrap();
    assert_ne!(
        summary.head_hash,
        verify_chain(&s.public_key(), &records[..3])
            .unwrap()
            .head_hash
    );
}

#[test]
fn verification_continues_from_an_anchor() {
    let (s, records) = kat_chain(6);
    let key = s.public_key();
    let first = verify_chain(&key, &records[..3]).unwrap();
    let anchor = first.anchor().unwrap();
    assert_eq!(
        anchor,
        ChainAnchor {
            device_id: "dev-test".into(),
            seq: 3,
            hash: records[2].hash().unwrap()
        }
    );
    let rest = verify_chain_from(&key, Some(&anchor), &records[3..]).unwrap();
    assert_eq!(rest, verify_chain(&key, &records).unwrap().with_count(3));

    // Without the anchor the continuation does not start at the genesis.
    let err = verify_chain(&key, &records[3..]).unwrap_err();
    assert_eq!(
        (err.index, err.kind),
        (0, ChainErrorKind::NotGenesis { found_seq: 4 })
    );
    // The anchored continuation with its first record missing has a gap.
    let err = verify_chain_from(&key, Some(&anchor), &records[4..]).unwrap_err();
    assert_eq!(
        err.kind,
        ChainErrorKind::Gap {
            expected_seq: 4,
            found_seq: 5
        }
    );
    // Records already covered by the anchor.
    let err = verify_chain_from(&key, Some(&anchor), &records[2..]).unwrap_err();
    assert_eq!(
        err.kind,
        ChainErrorKind::BeforeAnchor {
            anchor_seq: 3,
            found_seq: 3
        }
    );
    // A wrong anchor hash (the server's head is another history).
    let wrong = ChainAnchor {
        hash: "f".repeat(64),
        ..anchor.clone()
    };
    let err = verify_chain_from(&key, Some(&wrong), &records[3..]).unwrap_err();
    assert_eq!((err.index, err.code()), (0, "broken_link"));
    // Another device's anchor.
    let elsewhere = ChainAnchor {
        device_id: "dev-else".into(),
        ..anchor.clone()
    };
    let err = verify_chain_from(&key, Some(&elsewhere), &records[3..]).unwrap_err();
    assert_eq!(err.code(), "wrong_device");
    // Nothing after the anchor: the summary is the anchor.
    assert_eq!(
        verify_chain_from(&key, Some(&anchor), &[])
            .unwrap()
            .anchor(),
        Some(anchor)
    );
    assert_eq!(verify_chain(&key, &[]).unwrap().count, 0);
}

trait WithCount {
    fn with_count(self, count: usize) -> Self;
}

impl WithCount for daka_core::punch::ChainSummary {
    fn with_count(mut self, count: usize) -> Self {
        self.count = count;
        self
    }
}

#[test]
fn errors_name_the_record_and_carry_stable_codes() {
    let (s, mut records) = kat_chain(3);
    records[1].body.employee_id = "E9999".into();
    let err = verify_chain(&s.public_key(), &records).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with(&format!(
        "record 1 (seq 2, id {}): bad_signature:",
        records[1].body.id
    )));
    assert!(text.contains("cannot be told from a forgery"), "{text}");
    assert_eq!(err.code(), "bad_signature");
}

// ---- appending -------------------------------------------------------------------------------

#[test]
fn append_links_records_and_resume_continues() {
    let s = signer(4);
    let mut chain = PunchChain::new("dev-a");
    assert_eq!((chain.next_seq(), chain.last_hash()), (1, None));
    let r1 = chain.append(kat_draft(), &s).unwrap();
    let r2 = chain.append(kat_draft(), &s).unwrap();
    assert_eq!(r1.body.prev_hash, None);
    assert_eq!(r2.body.prev_hash, Some(r1.hash().unwrap()));
    assert_eq!(chain.last_hash(), Some(r2.hash().unwrap().as_str()));
    assert_ne!(r1.body.id, r2.body.id);
    // The id is a UUIDv7 carrying the trusted time in milliseconds.
    assert_eq!(r1.body.id.get_version_num(), 7);
    let (secs, nanos) = r1.body.id.get_timestamp().unwrap().to_unix();
    assert_eq!(
        (secs, nanos / 1_000_000),
        (1_744_592_524, 120),
        "2025-04-14T01:02:04.120Z"
    );

    let mut resumed = PunchChain::resume(&r2).unwrap();
    assert_eq!(resumed.device_id(), "dev-a");
    assert_eq!(resumed.next_seq(), 3);
    let r3 = resumed.append(kat_draft(), &s).unwrap();
    verify_chain(&s.public_key(), &[r1, r2, r3]).unwrap();
}

#[test]
fn invalid_drafts_are_refused_and_leave_the_chain_unchanged() {
    let s = signer(4);
    let mut chain = PunchChain::new("dev-a");
    chain.append(kat_draft(), &s).unwrap();
    let before = chain.clone();
    let cases: Vec<(PunchDraft, &str)> = vec![
        (
            {
                let mut d = kat_draft();
                d.evidence.fix.as_mut().unwrap().lat = f64::NAN;
                d
            },
            "evidence.fix.lat",
        ),
        (
            {
                let mut d = kat_draft();
                d.verdict.location.distance_to_edge_m = Some(f64::INFINITY);
                d
            },
            "verdict.location.distance_to_edge_m",
        ),
        (
            {
                let mut d = kat_draft();
                d.employee_id.clear();
                d
            },
            "employee_id",
        ),
        (
            {
                let mut d = kat_draft();
                d.clock.monotonic_ms = 1 << 53;
                d
            },
            "clock.monotonic_ms",
        ),
        (
            {
                let mut d = kat_draft();
                d.policy_version = u64::MAX;
                d
            },
            "policy_version",
        ),
        (
            {
                let mut d = kat_draft();
                d.id_time = t("1969-12-31T23:59:59Z");
                d
            },
            "id_time",
        ),
        (
            {
                let mut d = kat_draft();
                d.clock.wall = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
                d
            },
            "clock.wall",
        ),
    ];
    for (draft, field) in cases {
        match chain.append(draft, &s) {
            Err(PunchError::InvalidDraft(e)) => assert_eq!(e.field(), Some(field), "{e}"),
            other => panic!("{field}: {other:?}"),
        }
        assert_eq!(chain, before);
    }
    let mut empty_device = PunchChain::new("");
    match empty_device.append(kat_draft(), &s) {
        Err(PunchError::InvalidDraft(e)) => assert_eq!(e.field(), Some("device_id")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn signer_seeds_round_trip_and_stay_out_of_debug_output() {
    let (generated, seed) = DeviceSigner::generate().unwrap();
    let rebuilt = DeviceSigner::from_seed(&seed).unwrap();
    assert_eq!(generated.public_key(), rebuilt.public_key());
    let (other, _) = DeviceSigner::generate().unwrap();
    assert_ne!(generated.public_key(), other.public_key());
    let debug = format!("{generated:?}");
    assert!(debug.contains(&b64(&generated.public_key())));
    assert!(!debug.contains(&b64(&seed[..])));
}

// ---- known answer ----------------------------------------------------------------------------

#[test]
fn known_answer_record() {
    let s = DeviceSigner::from_seed(&kat_seed()).unwrap();
    assert_eq!(b64(&s.public_key()), KAT_PUBLIC_KEY);
    let record = PunchRecord::sign(kat_body(), &s).unwrap();
    let json = record.to_json().unwrap();
    assert_eq!(json, KAT_JSON);
    assert_eq!(record.sig, KAT_SIG);
    assert_eq!(record.hash().unwrap(), KAT_HASH);
    assert_eq!(PunchRecord::from_json(KAT_JSON).unwrap(), record);

    // The signed bytes are the JSON minus its `sig` member.
    let signed = record.body.signing_bytes().unwrap();
    let without_sig = KAT_JSON.replace(&format!(",\"sig\":\"{KAT_SIG}\""), "");
    assert_eq!(String::from_utf8(signed.clone()).unwrap(), without_sig);

    // An independent Ed25519 implementation accepts the signature.
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
    let vk = VerifyingKey::from_bytes(&s.public_key()).unwrap();
    let sig = Signature::from_slice(&unb64(KAT_SIG)).unwrap();
    vk.verify_strict(&signed, &sig).unwrap();
    vk.verify(&signed, &sig).unwrap();
    assert!(
        vk.verify(without_sig.replace("E1024", "E1025").as_bytes(), &sig)
            .is_err()
    );
    // So does ring, which signed it.
    let ring_key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, s.public_key());
    ring_key.verify(&signed, &unb64(KAT_SIG)).unwrap();
    assert!(
        ring_key
            .verify(
                without_sig.replace("E1024", "E1025").as_bytes(),
                &unb64(KAT_SIG)
            )
            .is_err()
    );
    // And the dalek signature is the same bytes (Ed25519 signing is deterministic).
    use ed25519_dalek::Signer as _;
    let dalek = ed25519_dalek::SigningKey::from_bytes(&kat_seed());
    assert_eq!(b64(&dalek.sign(&signed).to_bytes()), KAT_SIG);

    // The record hash is SHA-256 over the whole canonical record.
    let digest = ring::digest::digest(&ring::digest::SHA256, KAT_JSON.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, KAT_HASH);

    // The chain makes the same record, apart from the random part of the id.
    let mut chain = PunchChain::new(KAT_DEVICE);
    let appended = chain.append(kat_draft(), &s).unwrap();
    assert_eq!(
        &appended.body.id.as_bytes()[..6],
        &kat_body().id.as_bytes()[..6]
    );
    let mut body = appended.body.clone();
    body.id = kat_body().id;
    assert_eq!(body, kat_body());

    // The format document shows this exact record.
    let doc = include_str!("../../docs/punch-record.md");
    assert!(
        doc.contains(KAT_JSON),
        "docs/punch-record.md is out of date"
    );
    assert!(doc.contains(KAT_SIG) && doc.contains(KAT_HASH) && doc.contains(KAT_PUBLIC_KEY));
}

/// A record made the way another language would: a plain JSON object, canonicalised, signed
/// with another Ed25519 implementation, sent pretty-printed in another key order.
#[test]
fn a_record_from_another_implementation_verifies() {
    use ed25519_dalek::Signer as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let mut object = serde_json::to_value(kat_body()).unwrap();
    let signed = serde_json_canonicalizer::to_vec(&object).unwrap();
    object["sig"] = Value::from(b64(&key.sign(&signed).to_bytes()));
    let mut text = String::new();
    respell(&object, &mut Rng(7), true, 0, &mut text);
    let record = PunchRecord::from_json(&text).unwrap();
    let public = key.verifying_key().to_bytes();
    record.verify_signature(&public).unwrap();
    verify_chain(&public, std::slice::from_ref(&record)).unwrap();
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        &serde_json_canonicalizer::to_vec(&object).unwrap(),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(record.hash().unwrap(), hex);
    assert_eq!(
        record.verify_signature(&[42; 32]),
        Err(SignatureError::Mismatch)
    );
    let read = PunchRecord::read(&text).unwrap();
    read.verify_signature(&public).unwrap();
    assert_eq!(read.hash(), hex);
    assert_eq!(
        read.canonical_json().as_bytes(),
        serde_json_canonicalizer::to_vec(&object).unwrap()
    );
    assert_eq!(
        read.verify_signature(&[42; 32]),
        Err(SignatureError::Mismatch)
    );
}

// ---- hostile input ---------------------------------------------------------------------------

/// The KAT record's JSON with `edit` applied to its value and re-signed over the raw JSON,
/// so that only the strict reading can refuse it.
fn resigned(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    use ed25519_dalek::Signer as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&kat_seed());
    let mut object = serde_json::to_value(kat_body()).unwrap();
    edit(object.as_object_mut().unwrap());
    let signed = serde_json_canonicalizer::to_vec(&object).unwrap();
    object["sig"] = Value::from(b64(&key.sign(&signed).to_bytes()));
    object.to_string()
}

fn kat_value() -> Value {
    serde_json::from_str(
        &PunchRecord::sign(kat_body(), &signer(5))
            .unwrap()
            .to_json()
            .unwrap(),
    )
    .unwrap()
}

fn with(edit: impl FnOnce(&mut Value)) -> String {
    let mut v = kat_value();
    edit(&mut v);
    v.to_string()
}

fn code_and_field(text: &str) -> (&'static str, Option<String>) {
    let e = PunchRecord::from_json(text).unwrap_err();
    assert_eq!(
        PunchRecord::read(text).unwrap_err(),
        e,
        "reading with the canonical bytes kept refuses alike: {text}"
    );
    (e.code(), e.field().map(str::to_owned))
}

#[test]
fn hostile_records_get_typed_errors_naming_the_field() {
    let f = |s: &str| Some(s.to_string());
    let cases: Vec<(String, (&str, Option<String>))> = vec![
        ("".into(), ("not_json", None)),
        ("   ".into(), ("not_json", None)),
        ("garbage".into(), ("not_json", None)),
        ("{".into(), ("not_json", None)),
        ("[1,2]".into(), ("not_an_object", None)),
        ("null".into(), ("not_an_object", None)),
        ("\"record\"".into(), ("not_an_object", None)),
        ("{}".into(), ("missing_field", f("format"))),
        (
            with(|v| v["format"] = Value::from(2)),
            ("unsupported_format", f("format")),
        ),
        (
            with(|v| v["format"] = Value::from("1")),
            ("unsupported_format", f("format")),
        ),
        (
            with(|v| {
                v.as_object_mut().unwrap().remove("sig");
            }),
            ("missing_field", f("sig")),
        ),
        (
            with(|v| v["sig"] = Value::from(5)),
            ("invalid_field", f("sig")),
        ),
        (
            with(|v| v["sig"] = Value::from("abc")),
            ("invalid_field", f("sig")),
        ),
        (
            with(|v| {
                let s = v["sig"].as_str().unwrap().to_string();
                v["sig"] = Value::from(format!("{s}=="));
            }),
            ("invalid_field", f("sig")),
        ),
        (
            with(|v| v["sig"] = Value::from("+/".repeat(43))),
            ("invalid_field", f("sig")),
        ),
        (
            with(|v| v["sig"] = Value::from("A".repeat(85) + "B")),
            ("invalid_field", f("sig")),
        ),
        (
            with(|v| {
                v.as_object_mut().unwrap().remove("seq");
            }),
            ("missing_field", f("seq")),
        ),
        (
            with(|v| v["seq"] = Value::from("1")),
            ("invalid_field", f("seq")),
        ),
        (
            with(|v| v["seq"] = Value::from(-1)),
            ("invalid_field", f("seq")),
        ),
        (
            with(|v| v["seq"] = Value::from(1.5)),
            ("invalid_field", f("seq")),
        ),
        (
            with(|v| v["seq"] = Value::from(0)),
            ("invalid_field", f("seq")),
        ),
        (
            with(|v| v["seq"] = Value::from(1u64 << 53)),
            ("invalid_field", f("seq")),
        ),
        (
            with(|v| v["clock"]["monotonic_ms"] = Value::from(u64::MAX)),
            ("invalid_field", f("clock.monotonic_ms")),
        ),
        (
            with(|v| v["employee_id"] = Value::from(5)),
            ("invalid_field", f("employee_id")),
        ),
        (
            with(|v| v["kind"] = Value::from("lunch")),
            ("invalid_field", f("kind")),
        ),
        (
            with(|v| v["id"] = Value::from("not-a-uuid")),
            ("invalid_field", f("id")),
        ),
        (
            with(|v| v["id"] = Value::from("019631d1-5358-4abc-8def-0123456789ab")),
            ("invalid_field", f("id")),
        ),
        (
            with(|v| v["prev_hash"] = Value::from("ab")),
            ("invalid_field", f("prev_hash")),
        ),
        (
            with(|v| v["evidence"]["fix"]["lat"] = Value::from("22.3")),
            ("invalid_field", f("evidence.fix.lat")),
        ),
        (
            with(|v| v["verdict"]["reasons"][0]["code"] = Value::from("no_such_code")),
            ("invalid_field", f("verdict.reasons[0].code")),
        ),
        (
            with(|v| v["verdict"]["decision"] = Value::Null),
            ("invalid_field", f("verdict.decision")),
        ),
        (
            with(|v| v["clock"]["wall"] = Value::from("yesterday")),
            ("invalid_field", f("clock.wall")),
        ),
        (
            with(|v| v["extra"] = Value::from(1)),
            ("unknown_field", f("extra")),
        ),
        (
            with(|v| v["evidence"]["camera"] = Value::from("front")),
            ("unknown_field", f("evidence.camera")),
        ),
        (
            with(|v| v["evidence"]["fix"]["altitude"] = Value::from(3.5)),
            ("unknown_field", f("evidence.fix.altitude")),
        ),
        (
            with(|v| {
                v.as_object_mut().unwrap().remove("prev_hash");
            }),
            ("missing_field", f("prev_hash")),
        ),
    ];
    for (text, expected) in cases {
        let got = code_and_field(&text);
        assert_eq!(
            (got.0, got.1.as_deref()),
            (expected.0, expected.1.as_deref()),
            "{text}"
        );
    }
}

/// Validly signed over the raw JSON, but not in the format's one spelling of the record: the
/// typed reading would write back other bytes, so the hash another implementation computes
/// would not be ours. Refused, naming the field.
#[test]
fn records_the_typed_reading_cannot_reproduce_are_refused() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            resigned(|o| {
                o["verdict"]["location"]["altitude_m"] = Value::from(12);
            }),
            "unknown_field",
            "verdict.location.altitude_m",
        ),
        (
            resigned(|o| {
                o["verdict"]["reasons"][0]["hint"] = Value::from("x");
            }),
            "unknown_field",
            "verdict.reasons[0].hint",
        ),
        (
            resigned(|o| {
                o["verdict"]["face"] = Value::Null;
            }),
            "unknown_field",
            "verdict.face",
        ),
        (
            resigned(|o| {
                o["evidence"]["face_token"] = Value::Null;
            }),
            "unknown_field",
            "evidence.face_token",
        ),
        (
            resigned(|o| {
                o["evidence"]["fix"].as_object_mut().unwrap().remove("mock");
            }),
            "missing_field",
            "evidence.fix.mock",
        ),
        (
            resigned(|o| {
                o["clock"]["wall"] = Value::from("2025-04-14T09:02:04+08:00");
            }),
            "non_canonical",
            "clock.wall",
        ),
        (
            resigned(|o| {
                o["clock"]["wall"] = Value::from("2025-04-14T01:02:04.000Z");
            }),
            "non_canonical",
            "clock.wall",
        ),
        (
            resigned(|o| {
                o["id"] = Value::from(KAT_ID.to_uppercase());
            }),
            "non_canonical",
            "id",
        ),
    ];
    for (text, code, field) in cases {
        let e = PunchRecord::from_json(&text).unwrap_err();
        assert_eq!((e.code(), e.field()), (code, Some(field)), "{e}: {text}");
    }
    // The unedited re-signed record is accepted: the refusals above are the edits.
    let plain = resigned(|_| {});
    assert_eq!(
        PunchRecord::from_json(&plain).unwrap().body,
        kat_body(),
        "{plain}"
    );
}

#[test]
fn duplicate_keys_non_finite_numbers_and_odd_json_are_refused() {
    let json = PunchRecord::sign(kat_body(), &signer(5))
        .unwrap()
        .to_json()
        .unwrap();
    let dup_seq = json.replacen("\"seq\":1", "\"seq\":1,\"seq\":2", 1);
    let dup_nested = json.replacen("\"boot_id\":", "\"boot_id\":\"x\",\"boot_id\":", 1);
    for text in [
        dup_seq,
        dup_nested,
        json.replacen("\"seq\":1", "\"seq\":NaN", 1),
        json.replacen("\"lat\":22.2803", "\"lat\":Infinity", 1),
        json.replacen("\"lat\":22.2803", "\"lat\":1e400", 1),
        json.replacen("\"lat\":22.2803", "\"lat\":-", 1),
        json.replacen("\"E1024", "\"\\ud800E1024", 1),
        format!("\u{feff}{json}"),
        format!("{json} {json}"),
        format!("{json}x"),
    ] {
        let e = PunchRecord::from_json(&text).unwrap_err();
        assert_eq!(e.code(), "not_json", "{e}: {text}");
        assert_eq!(PunchRecord::read(&text).unwrap_err(), e);
    }
    // Quoted numbers are strings, not NaN: a type error naming the field.
    let e = PunchRecord::from_json(&json.replacen("\"lat\":22.2803", "\"lat\":\"NaN\"", 1))
        .unwrap_err();
    assert_eq!(e.field(), Some("evidence.fix.lat"));
}

#[test]
fn huge_and_deep_input_is_refused_without_panicking() {
    let megabyte = "a".repeat(1 << 20);
    let e = PunchRecord::from_json(&megabyte).unwrap_err();
    assert_eq!(
        e,
        RecordError::TooLarge {
            bytes: 1 << 20,
            limit: MAX_RECORD_BYTES
        }
    );
    let big_name = with(|v| v["employee_id"] = Value::from("名".repeat(1 << 18)));
    assert_eq!(
        PunchRecord::from_json(&big_name).unwrap_err().code(),
        "too_large"
    );
    // Nesting deep enough to overflow a naive recursive reader, within the size limit.
    for depth in [200, 10_000, 30_000] {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(
            PunchRecord::from_json(&deep).unwrap_err().code(),
            "not_json"
        );
        let deep_field = format!(
            "{{\"format\":1,\"sig\":{}1{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_eq!(
            PunchRecord::from_json(&deep_field).unwrap_err().code(),
            "not_json"
        );
        let log = format!("{}\n{deep}\n", kat_chain(1).1[0].to_json().unwrap());
        assert_eq!(parse_log(&log).unwrap_err().line, 2);
    }
    // A megabyte log line of garbage names its line.
    let log = format!("\n\n{megabyte}\n");
    let e = parse_log(&log).unwrap_err();
    assert_eq!((e.line, e.error.code()), (3, "too_large"));
}

#[test]
fn logs_name_the_bad_line() {
    let (s, records) = kat_chain(3);
    let mut lines: Vec<String> = records.iter().map(|r| r.to_json().unwrap()).collect();
    // CRLF and blank lines are fine.
    let crlf = format!("\r\n{}\r\n\r\n{}\r\n{}", lines[0], lines[1], lines[2]);
    assert_eq!(parse_log(&crlf).unwrap(), records);
    verify_chain(&s.public_key(), &parse_log(&crlf).unwrap()).unwrap();
    assert!(parse_log("").unwrap().is_empty());
    lines[1].push(',');
    let e = parse_log(&lines.join("\n")).unwrap_err();
    assert_eq!((e.line, e.error.code()), (2, "not_json"));
    assert!(e.to_string().starts_with("line 2: "), "{e}");
    lines[1] = with(|v| v["evidence"]["fix"]["speed"] = Value::from(1));
    let e = parse_log(&format!("\n{}", lines.join("\n"))).unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(e.error.field(), Some("evidence.fix.speed"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        prop_assert!(PunchRecord::from_json(&text).is_err());
        match parse_log(&text) {
            Ok(records) => prop_assert!(records.is_empty() && text.trim().is_empty()),
            Err(e) => prop_assert!(e.line >= 1),
        }
        let lossy = String::from_utf8_lossy(&bytes);
        prop_assert!(PunchRecord::from_json(&lossy).is_err());
    }

    /// Truncating, or splicing garbage into, a valid record never panics and never yields a
    /// record other than the original.
    #[test]
    fn damaged_records_are_refused_or_unchanged(cut in any::<Index>(), insert in ".{0,4}") {
        let json = kat_chain(1).1[0].to_json().unwrap();
        let at = cut.index(json.len() + 1);
        let at = (0..=at).rev().find(|i| json.is_char_boundary(*i)).unwrap();
        let original = PunchRecord::from_json(&json).unwrap();
        let key = signer(9).public_key();
        for text in [json[..at].to_string(), format!("{}{insert}{}", &json[..at], &json[at..])] {
            if let Ok(record) = PunchRecord::from_json(&text) {
                // Whitespace leaves the record as it was; anything else that still reads (a
                // character inside a string) no longer matches the signature.
                prop_assert!(
                    record == original || record.verify_signature(&key).is_err(),
                    "{}", text
                );
            }
        }
    }

    /// Records read through serde (for example inside a batch) go through the same checks.
    #[test]
    fn serde_reading_is_as_strict_as_from_json(records in chain(1..3), extra in "[a-z]{1,8}") {
        let mut value = serde_json::to_value(&records[0]).unwrap();
        prop_assert_eq!(serde_json::from_value::<PunchRecord>(value.clone()).unwrap(), records[0].clone());
        let batch = format!("[{}]", records[0].to_json().unwrap());
        prop_assert_eq!(serde_json::from_str::<Vec<PunchRecord>>(&batch).unwrap(), vec![records[0].clone()]);
        value["verdict"][extra.as_str()] = Value::from(1);
        prop_assert!(serde_json::from_value::<PunchRecord>(value).is_err());
    }
}

#[test]
fn earlier_fixes_are_signed_evidence_and_absent_when_empty() {
    let s = signer(5);
    let mut chain = PunchChain::new("dev-a");
    let plain = chain.append(kat_draft(), &s).unwrap();
    assert!(!plain.to_json().unwrap().contains("more_fixes"));

    let mut draft = kat_draft();
    let latest = draft.evidence.fix.clone().unwrap();
    for (i, dlat) in [0.00002, -0.00001].into_iter().enumerate() {
        let mut earlier = latest.clone();
        earlier.lat += dlat;
        earlier.monotonic_ms = latest.monotonic_ms.map(|m| m - 1000 * (i as u64 + 1));
        draft.evidence.more_fixes.push(earlier);
    }
    let record = chain.append(draft.clone(), &s).unwrap();
    let json = record.to_json().unwrap();
    assert!(json.contains("\"more_fixes\":[{"), "{json}");
    let read = PunchRecord::from_json(&json).unwrap();
    assert_eq!(read.body.evidence.more_fixes, draft.evidence.more_fixes);
    verify_chain(&s.public_key(), &[plain, read.clone()]).unwrap();

    // The earlier fixes are covered by the signature.
    let tampered = json.replacen(&format!("{}", draft.evidence.more_fixes[1].lat), "22.2", 1);
    assert_ne!(tampered, json);
    let tampered = PunchRecord::from_json(&tampered).unwrap();
    assert!(
        tampered.verify_signature(&s.public_key()).is_err(),
        "a changed earlier fix must not verify"
    );

    let mut bad = draft;
    bad.evidence.more_fixes[1].accuracy_m = f64::NAN;
    let e = chain.append(bad, &s).unwrap_err();
    assert!(
        e.to_string().contains("evidence.more_fixes[1].accuracy_m"),
        "{e}"
    );
}

#[test]
fn an_empty_list_of_earlier_fixes_has_one_spelling_absent() {
    let s = signer(6);
    let mut chain = PunchChain::new("dev-a");
    let json = chain.append(kat_draft(), &s).unwrap().to_json().unwrap();
    let spelled = json.replacen("\"evidence\":{", "\"evidence\":{\"more_fixes\":[],", 1);
    assert_ne!(spelled, json);
    let err = PunchRecord::from_json(&spelled).unwrap_err();
    assert_eq!(err.field(), Some("evidence.more_fixes"), "{err}");
}
