//! The policy document (`Policy::from_json`): what devices download and the server publishes.
//! Contract: no panic; a refusal names a path and says what is wrong; the same text always
//! gets the same answer.
#![no_main]

use daka_core::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_json(text) {
        Ok(policy) => {
            let again = Policy::from_json(text).expect("the same text was accepted before");
            assert_eq!(policy.version, again.version);
            assert_eq!(policy.sites.len(), again.sites.len());
        }
        Err(e) => {
            assert!(!e.path.is_empty(), "an error without a path: {e}");
            assert!(!e.to_string().is_empty());
        }
    }
});
