//! A change feed page as the device's sync client reads it (`serde_json::from_slice` into
//! `ChangesResponse`). Contract: no panic; an accepted page written out reads back equal.
#![no_main]

use daka_core::protocol::ChangesResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = serde_json::from_slice::<ChangesResponse>(data) {
        let written = serde_json::to_vec(&page).expect("a page serialises");
        let again: ChangesResponse =
            serde_json::from_slice(&written).expect("the written page is refused");
        assert_eq!(again, page);
    }
});
