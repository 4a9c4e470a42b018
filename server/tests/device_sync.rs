//! The SDK's own device engine (`daka_device::Device`) against the server: enrolment,
//! policy fetch and signature check, punches through the durable outbox, a sync round that
//! delivers each punch exactly once, and the server's verdicts pulled back.

mod common;

use std::sync::Arc;

use common::*;
use daka_core::protocol::Change;
use daka_core::punch::PunchKind;
use daka_device::{Device, SystemClock, UnprotectedKeyStore};

#[tokio::test]
async fn a_device_enrols_punches_and_syncs_each_punch_exactly_once() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let device = open_device(dir.path());
    let identity = device
        .enroll(&server.server.url(), "A-E1001-0001", "Pixel 8", "android")
        .await
        .unwrap();
    assert_eq!(identity.org_id, ORG_A);
    assert_eq!(device.refresh_policy().await.unwrap(), 42);

    let mut ids = Vec::new();
    for kind in [PunchKind::In, PunchKind::BreakStart, PunchKind::BreakEnd] {
        let outcome = store_punch_with_face(&device, kind, "E1001");
        ids.push(outcome.record.expect("recorded").body.id.to_string());
    }
    let report = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!(report.accepted, 3, "{report:?}");
    assert_eq!(report.remaining, 0);
    let verdicts: Vec<String> = report
        .server_verdicts
        .iter()
        .filter_map(|c| match c {
            Change::PunchVerdict { punch_id, .. } => Some(punch_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts, ids);
    // A second round sends nothing again.
    let again = device.sync_now(&|_| {}).await.unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 0));
    let stored = server.punches(ADMIN_A).await;
    let stored_ids: Vec<String> = stored.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(stored_ids, ids, "each punch arrived once, in order");
    assert!(stored.iter().all(|(_, s)| s == "accepted"));
    let (_, report) = server.admin_get(ADMIN_A, "/admin/v1/chains/verify").await;
    assert_eq!(report["ok"], true);
}

#[tokio::test]
async fn a_key_store_that_hands_back_another_key_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let open = || {
        Device::builder(&path)
            .clock(Arc::new(SystemClock::new()))
            .key_store(&UnprotectedKeyStore)
            .open()
    };
    let first = open().unwrap().public_key_b64();
    // Reopening with the same key store gives the same key.
    assert_eq!(open().unwrap().public_key_b64(), first);
    // A restored backup of another phone's key store: a valid key, but not this device's.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE device SET key_seed = ?1", [vec![7u8; 32]])
        .unwrap();
    drop(conn);
    let e = open().unwrap_err();
    assert!(
        matches!(&e, daka_device::DeviceError::Key { reason } if reason.contains("not this device's") && reason.contains(&first)),
        "{e}"
    );
}
