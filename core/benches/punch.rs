//! Benchmarks of the punch chain, each beside the unavoidable work it is made of, measured in
//! the same run so the figures read as ratios that survive a noisy machine:
//!
//! * `append`: one [`PunchChain::append`] (build, canonicalise, sign, hash) against a bare ring
//!   Ed25519 signature of the same canonical bytes and a plain `serde_json::to_vec` of the
//!   same record.
//! * `verify_1000`: [`verify_chain`] over 1,000 records, and reading a 1,000-line log and
//!   verifying it (the server's path), against 1,000 bare ring verifications and 1,000
//!   `serde_json::to_vec` calls.
//! * `read`: [`PunchRecord::read`] of one record as a server reads a pushed one, in its
//!   canonical form (as devices send it) and pretty-printed (any other form), against a plain
//!   `serde_json::Value` parse of the same text.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use daka_core::codes::{Code, Severity};
use daka_core::evidence::{DeviceClock, Fix};
use daka_core::geofence::Presence;
use daka_core::punch::{
    DeviceSigner, PunchChain, PunchDraft, PunchEvidence, PunchKind, PunchRecord, parse_log,
    verify_chain, write_log,
};
use daka_core::verdict::{
    Decision, FaceVerdict, LocationSource, LocationVerdict, Reason, TimeSource, Verdict,
};
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A typical punch: a fix, two access points, a face token and a verdict with two reasons.
/// The draft carries the evaluator's `Verdict`, as the device's does; `append` converts it.
fn draft(i: u64) -> PunchDraft<Verdict> {
    PunchDraft {
        kind: if i % 2 == 0 {
            PunchKind::In
        } else {
            PunchKind::Out
        },
        employee_id: "E1024".into(),
        evidence: PunchEvidence {
            fix: Some(Fix {
                lat: 22.280_312_4,
                lon: 114.183_874_1,
                accuracy_m: 18.4,
                time: t("2025-04-14T01:02:03.456Z"),
                monotonic_ms: Some(86_400_123 + i * 1000),
                mock: false,
                provider: Some("fused".into()),
            }),
            more_fixes: Vec::new(),
            wifi_bssids: vec!["00:11:22:33:44:55".into(), "66:77:88:99:aa:bb".into()],
            // A compact JWS of typical size.
            face_token: Some(format!(
                "eyJhbGciOiJFZERTQSIsImtpZCI6Im0xIn0.{}.{}",
                "e".repeat(420),
                "s".repeat(86)
            )),
            nonce: Some("n-7f3a9c2e".into()),
        },
        clock: DeviceClock {
            wall: t("2025-04-14T01:02:04Z"),
            monotonic_ms: 86_401_000 + i * 1000,
            boot_id: "b-3c9e51".into(),
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
                distance_to_edge_m: Some(-37.52),
                accuracy_m: Some(18.4),
                tolerance_m: None,
                probability: None,
            },
            face: Some(FaceVerdict {
                kid: "m1".into(),
                issuer: "face.example".into(),
                score: 0.973,
                liveness: 0.91,
                model: Some("fm-3".into()),
            }),
            reasons: vec![
                Reason {
                    code: Code::InsideFence,
                    severity: Severity::Info,
                    message: "37.5 m inside Causeway Bay Store (accuracy ±18.4 m)".into(),
                },
                Reason {
                    code: Code::InsideFence,
                    severity: Severity::Info,
                    message: "face match 0.97, liveness pass".into(),
                },
            ],
            policy_version: 7,
            evaluated_at: t("2025-04-14T01:02:04.120Z"),
            time_source: TimeSource::ServerAnchor,
        },
        id_time: t("2025-04-14T01:02:04.120Z"),
    }
}

const SEED: [u8; 32] = [7; 32];

fn chain_of(n: u64, signer: &DeviceSigner) -> Vec<PunchRecord> {
    let mut chain = PunchChain::new("dev-bench");
    (0..n)
        .map(|i| chain.append(draft(i), signer).unwrap())
        .collect()
}

fn append(c: &mut Criterion) {
    let signer = DeviceSigner::from_seed(&SEED).unwrap();
    let ring_key = Ed25519KeyPair::from_seed_unchecked(&SEED).unwrap();
    let record = chain_of(1, &signer).remove(0);
    let body_bytes = record.body.signing_bytes().unwrap();
    println!(
        "record: {} bytes canonical, {} bytes signed",
        record.to_json().unwrap().len(),
        body_bytes.len()
    );

    let mut group = c.benchmark_group("append");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("baseline_ring_ed25519_sign", |b| {
        b.iter(|| ring_key.sign(black_box(&body_bytes)))
    });
    group.bench_function("baseline_serde_json_to_vec", |b| {
        b.iter(|| serde_json::to_vec(black_box(&record)).unwrap())
    });
    group.bench_function("canonical_body", |b| {
        b.iter(|| black_box(&record.body).signing_bytes().unwrap())
    });
    group.bench_function("append", |b| {
        let mut chain = PunchChain::new("dev-bench");
        b.iter_batched(
            || draft(1),
            |d| chain.append(d, &signer).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    let signer = DeviceSigner::from_seed(&SEED).unwrap();
    let public_key = signer.public_key();
    let records = chain_of(1000, &signer);
    let log = write_log(&records).unwrap();
    let signed: Vec<(Vec<u8>, [u8; 64])> = records
        .iter()
        .map(|r| (r.body.signing_bytes().unwrap(), r.signature().unwrap()))
        .collect();
    let ring_public = UnparsedPublicKey::new(&ED25519, public_key);

    let mut group = c.benchmark_group("verify_1000");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(6));
    group.bench_function("baseline_ring_ed25519_verify", |b| {
        b.iter(|| {
            for (message, sig) in &signed {
                ring_public.verify(message, sig).unwrap();
            }
        })
    });
    group.bench_function("baseline_serde_json_to_vec", |b| {
        b.iter(|| {
            for record in &records {
                black_box(serde_json::to_vec(record).unwrap());
            }
        })
    });
    group.bench_function("verify_chain", |b| {
        b.iter(|| verify_chain(&public_key, black_box(&records)).unwrap())
    });
    group.bench_function("parse_log_and_verify", |b| {
        b.iter(|| verify_chain(&public_key, &parse_log(black_box(&log)).unwrap()).unwrap())
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let signer = DeviceSigner::from_seed(&SEED).unwrap();
    let canonical = chain_of(2, &signer).remove(1).to_json().unwrap();
    let value: serde_json::Value = serde_json::from_str(&canonical).unwrap();
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    let mut group = c.benchmark_group("read");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("baseline_serde_json_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&canonical)).unwrap())
    });
    group.bench_function("read_canonical", |b| {
        b.iter(|| PunchRecord::read(black_box(&canonical)).unwrap())
    });
    group.bench_function("read_pretty", |b| {
        b.iter(|| PunchRecord::read(black_box(&pretty)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, append, verify, read);
criterion_main!(benches);
