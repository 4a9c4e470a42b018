//! What the device's integration tests share: the example company's seed for the real
//! server, with face checks off and enrolment codes for E1001, and a punch at E1001's store.

#![allow(dead_code)]

use daka_core::punch::PunchKind;
use daka_device::PunchInput;
use daka_server::Seed;
use serde_json::{Value, json};

/// One of the Causeway Bay store's Wi-Fi access points (E1001's site in the example policy).
pub(crate) const STORE_AP: &str = "E0:55:3D:4A:12:C1";

/// The example policy without the face check, in organisation `harbour-lane` with
/// `admin_token`, and the enrolment `codes` for employee E1001.
pub(crate) fn seed(admin_token: &str, codes: &[String]) -> Seed {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut policy: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("hk-policy.json")).unwrap())
            .unwrap();
    policy["thresholds"]["face"]["required"] = json!(false);
    let codes: Vec<Value> = codes
        .iter()
        .map(|code| json!({"code": code, "employee_id": "E1001"}))
        .collect();
    let seed = json!({"organisations": [{
        "id": "harbour-lane", "name": "Harbour Lane", "admin_token": admin_token,
        "policy": policy, "enrollment_codes": codes,
    }]});
    Seed::from_json(&seed.to_string(), None).unwrap()
}

/// A punch of `kind` proved by the store's Wi-Fi.
pub(crate) fn store_punch(kind: PunchKind) -> PunchInput {
    PunchInput {
        kind,
        fix: None,
        more_fixes: Vec::new(),
        wifi_bssids: vec![STORE_AP.into()],
        face: None,
    }
}
