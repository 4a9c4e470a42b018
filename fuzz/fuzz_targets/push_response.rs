//! A push answer as the device's sync client reads it (`serde_json::from_slice` into
//! `PushResponse`, or `ApiError` for a refusal), and each result's code as the outbox reads
//! it (`ItemCode::parse`). Contract: no panic; an accepted answer written out reads back
//! equal.
#![no_main]

use daka_core::protocol::{ApiError, ItemCode, PushResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = serde_json::from_slice::<PushResponse>(data) {
        for result in &response.results {
            if let Some(code) = &result.code {
                let _ = ItemCode::parse(code);
            }
        }
        let written = serde_json::to_vec(&response).expect("a push answer serialises");
        let again: PushResponse =
            serde_json::from_slice(&written).expect("the written answer is refused");
        assert_eq!(again, response);
    }
    let _ = serde_json::from_slice::<ApiError>(data);
});
