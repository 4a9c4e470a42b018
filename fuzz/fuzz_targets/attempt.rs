//! A clock-in attempt from the platform layer (`Attempt::from_json`). Contract: no panic; a
//! refusal names the field; an accepted attempt written out reads back to the same attempt.
#![no_main]

use daka_core::attempt::Attempt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Attempt::from_json(text) {
        Ok(attempt) => {
            let written = serde_json::to_string(&attempt).expect("an attempt serialises");
            let again = Attempt::from_json(&written)
                .unwrap_or_else(|e| panic!("the written attempt is refused: {e}\n{written}"));
            assert_eq!(attempt, again);
        }
        Err(e) => {
            assert!(!e.field.is_empty() && !e.reason.is_empty(), "{e:?}");
        }
    }
});
