//! The server's seed file (`Seed::from_json`). Contract: no panic; a refusal names the
//! field; an accepted seed written out reads back equal.
#![no_main]

use daka_server::Seed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Seed::from_json(text, None) {
        Ok(seed) => {
            let written = serde_json::to_string(&seed).expect("a seed serialises");
            let again = Seed::from_json(&written, None)
                .unwrap_or_else(|e| panic!("the written seed is refused: {e}\n{written}"));
            assert_eq!(again, seed);
        }
        Err(e) => assert!(!e.field.is_empty() && !e.reason.is_empty(), "{e:?}"),
    }
});
