//! The server's reading of a `POST /v1/push` body (`read_push_request`), then each item's
//! body as the intake reads it by kind (a punch record, a signed submission, a signed
//! decision). Contract: no panic; a refusal is `invalid_request` or `too_many_items` with a
//! message; an accepted request written out reads back to the same items.
#![no_main]

use daka_core::approvals::{Decision, Signed, Submission};
use daka_core::protocol::ItemKind;
use daka_core::punch::PunchRecord;
use daka_server::api::device::read_push_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match read_push_request(data) {
        Ok(request) => {
            for item in &request.items {
                let body = item.body.get();
                match ItemKind::parse(&item.kind) {
                    Some(ItemKind::Punch) => {
                        let _ = PunchRecord::read(body);
                    }
                    Some(ItemKind::Request) => {
                        let _ = Signed::<Submission>::from_json(body);
                    }
                    Some(ItemKind::Decision) => {
                        let _ = Signed::<Decision>::from_json(body);
                    }
                    None => {}
                }
            }
            let written = serde_json::to_vec(&request).expect("a push request serialises");
            let again = read_push_request(&written).expect("the written request is refused");
            assert_eq!(again.items.len(), request.items.len());
            for (a, b) in again.items.iter().zip(&request.items) {
                assert_eq!((&a.id, &a.stream, &a.kind), (&b.id, &b.stream, &b.kind));
                assert_eq!(a.body.get(), b.body.get());
            }
        }
        Err((code, message)) => {
            assert!(
                code == "invalid_request" || code == "too_many_items",
                "{code}: {message}"
            );
            assert!(!message.is_empty());
        }
    }
});
