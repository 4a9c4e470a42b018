//! The cost of the FFI: the same location check, timed in Rust without the bindings.
//!
//! `scripts/ffi-bench.sh` runs the Kotlin half first (`FfiCostBenchmark` in
//! android/jvm-tests: it enrols a device against the reference server and times
//! `checkLocation` through the generated bindings and JNA), then this program on the same
//! device database, with the same input, built with the same profile (`release-ffi`, what
//! apps ship). It times:
//!
//! * `Device::preview` of daka-core: the engine alone (the baseline);
//! * `DakaDevice::check_location` of daka-ffi called from Rust: the engine plus the record
//!   conversions of the bindings, without crossing the FFI.
//!
//! The Kotlin figure minus these is the price of the boundary itself (lowering the input into
//! a buffer, the JNA call, lifting the verdict).
//!
//! Without `DAKA_BENCH_DB` (as under a plain `cargo bench`) it says so and exits.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use daka_core::evidence::Fix;
use daka_core::punch::PunchKind;
use daka_device::{Device, PunchInput, SystemClock, UnprotectedKeyStore};
use daka_ffi::DakaDevice;

const WARMUP: usize = 5_000;
const CALLS: usize = 20_000;
const ROUNDS: usize = 5;

/// Median over `ROUNDS` of the mean time per call, in microseconds.
fn time_per_call(mut call: impl FnMut()) -> f64 {
    for _ in 0..WARMUP {
        call();
    }
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..CALLS {
                call();
            }
            start.elapsed().as_secs_f64() * 1e6 / CALLS as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

fn main() {
    let Ok(db) = std::env::var("DAKA_BENCH_DB") else {
        eprintln!("ffi_cost: set DAKA_BENCH_DB (scripts/ffi-bench.sh does); skipped");
        return;
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    // The input of FfiCostBenchmark.kt: inside the Causeway Bay store, ±5 m, no Wi-Fi, no
    // face token (the face check's signature verification would dominate and is not FFI).
    let (lat, lon, accuracy_m) = (22.28005, 114.18305, 5.0);

    let device = Arc::new(
        Device::builder(&db)
            .clock(Arc::new(SystemClock::new()))
            .key_store(&UnprotectedKeyStore)
            .open()
            .expect("the benchmark device opens"),
    );
    let input = PunchInput {
        kind: PunchKind::In,
        fix: Some(Fix {
            lat,
            lon,
            accuracy_m,
            time: chrono::DateTime::from_timestamp_millis(now_ms).unwrap(),
            monotonic_ms: None,
            mock: false,
            provider: Some("gps".into()),
        }),
        more_fixes: Vec::new(),
        wifi_bssids: Vec::new(),
        face: None,
    };
    let verdict = device
        .preview(input.clone())
        .expect("an enrolled device with a policy");
    assert_eq!(
        verdict.location.presence,
        daka_core::geofence::Presence::Inside
    );
    let core_us = time_per_call(|| {
        black_box(device.preview(black_box(input.clone())).unwrap());
    });
    drop(device);

    let wrapped = DakaDevice::open(db.clone(), None).expect("the benchmark device opens");
    let ffi_input = daka_ffi::PunchInput {
        kind: daka_ffi::PunchKind::In,
        fix: Some(daka_ffi::Fix {
            lat,
            lon,
            accuracy_m,
            time_ms: now_ms,
            monotonic_ms: None,
            mock: false,
            provider: Some("gps".into()),
        }),
        more_fixes: Vec::new(),
        wifi_bssids: Vec::new(),
        face_token: None,
        face_nonce: None,
    };
    assert_eq!(
        wrapped.check_location(ffi_input.clone()).unwrap().presence,
        daka_ffi::Presence::Inside
    );
    let wrapper_us = time_per_call(|| {
        black_box(
            wrapped
                .check_location(black_box(ffi_input.clone()))
                .unwrap(),
        );
    });
    let public_key_us = time_per_call(|| {
        black_box(wrapped.public_key());
    });

    println!("rust Device::preview              {core_us:8.2} µs/call");
    println!("rust DakaDevice::check_location   {wrapper_us:8.2} µs/call");
    println!("rust DakaDevice::public_key       {public_key_us:8.2} µs/call");
    if let Ok(out) = std::env::var("DAKA_BENCH_OUT") {
        std::fs::write(
            out,
            format!(
                "rust_core_us={core_us:.3}\nrust_wrapper_us={wrapper_us:.3}\nrust_public_key_us={public_key_us:.3}\n"
            ),
        )
        .expect("the result file is writable");
    }
}
