//! Enrolment, token refresh, the signed policy bundle and organisation isolation, over real
//! HTTP with daka-core's `SyncClient`.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use common::*;
use daka_core::protocol::{EnrollRequest, ItemStatus, TokenRequest};
use daka_core::punch::DeviceSigner;
use daka_device::sync::client::SyncError;
use ring::signature::{ED25519, UnparsedPublicKey};

fn enroll_request(code: &str) -> EnrollRequest {
    let (signer, _) = DeviceSigner::generate().unwrap();
    EnrollRequest {
        code: code.into(),
        public_key: URL_SAFE_NO_PAD.encode(signer.public_key()),
        device_name: "Chan Tai Man's Pixel 8".into(),
        platform: "android".into(),
        attestation: None,
    }
}

fn refused_code(e: SyncError) -> (u16, String) {
    match e {
        SyncError::Refused { status, code, .. } => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_code_enrols_once_and_unknown_codes_are_refused() {
    let server = TestServer::start().await;
    let client = server.client();
    let before = Utc::now();
    let response = client
        .enroll(&enroll_request("A-E1001-0001"))
        .await
        .unwrap();
    assert_eq!(response.org_id, ORG_A);
    assert_eq!(response.employee_id, "E1001");
    assert!(response.token.len() >= 22, "at least 128 bits");
    assert!(response.server_time >= before - Duration::seconds(1));
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(&response.org_public_key)
            .unwrap()
            .len(),
        32
    );
    // Codes are read leniently (case, dashes, spaces), but only once.
    let again = client
        .enroll(&enroll_request("a e1001 0001"))
        .await
        .unwrap_err();
    assert_eq!(refused_code(again), (409, "enrollment_code_used".into()));
    let unknown = client
        .enroll(&enroll_request("NO-SUCH-CODE-1234"))
        .await
        .unwrap_err();
    assert_eq!(
        refused_code(unknown),
        (404, "enrollment_code_unknown".into())
    );
    // A malformed key is refused without using the code.
    let mut bad_key = enroll_request("A-E1001-0002");
    bad_key.public_key = "not-a-key".into();
    let e = client.enroll(&bad_key).await.unwrap_err();
    assert_eq!(refused_code(e), (400, "invalid_public_key".into()));
    // The same device key cannot enrol twice.
    let request = enroll_request("A-E1001-0002");
    client.enroll(&request).await.unwrap();
    let mut reuse = request.clone();
    reuse.code = "A-E1001-0003".into();
    let e = client.enroll(&reuse).await.unwrap_err();
    assert_eq!(refused_code(e), (409, "public_key_in_use".into()));
    let (_, devices) = server.admin_get(ADMIN_A, "/admin/v1/devices").await;
    assert_eq!(devices["devices"].as_array().unwrap().len(), 2);
    assert_eq!(devices["devices"][0]["name"], "Chan Tai Man's Pixel 8");
}

#[tokio::test]
async fn a_token_is_refreshed_with_the_device_key_only() {
    let server = TestServer::start().await;
    let client = server.client();
    let dev = server.enroll("A-E1001-0001").await;
    let issued_at = Utc::now();
    let fresh = client
        .refresh_token(&TokenRequest {
            device_id: dev.device_id.clone(),
            issued_at,
            signature: dev.sign_challenge(&issued_at),
        })
        .await
        .unwrap();
    assert_ne!(fresh.token, dev.token);
    // The new token works, the old one is revoked.
    client.policy(&fresh.token).await.unwrap();
    assert!(matches!(
        client.policy(&dev.token).await,
        Err(SyncError::Unauthorized { .. })
    ));
    // A refresh is single-use: the same signed body again (captured, or replayed) is refused
    // and mints nothing; the token it issued keeps working.
    let replay = client
        .refresh_token(&TokenRequest {
            device_id: dev.device_id.clone(),
            issued_at,
            signature: dev.sign_challenge(&issued_at),
        })
        .await
        .unwrap_err();
    assert_eq!(refused_code(replay), (409, "token_refresh_replayed".into()));
    client.policy(&fresh.token).await.unwrap();
    // So is one signed before the last accepted, though inside the five minutes.
    let earlier = issued_at - Duration::seconds(30);
    let older = client
        .refresh_token(&TokenRequest {
            device_id: dev.device_id.clone(),
            issued_at: earlier,
            signature: dev.sign_challenge(&earlier),
        })
        .await
        .unwrap_err();
    assert_eq!(refused_code(older), (409, "token_refresh_replayed".into()));
    client.policy(&fresh.token).await.unwrap();

    // Signed by another key: 401.
    let (other, _) = DeviceSigner::generate().unwrap();
    let other_key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).unwrap();
    let _ = other;
    let challenge = daka_core::protocol::token_challenge(&dev.device_id, &issued_at);
    let forged = TokenRequest {
        device_id: dev.device_id.clone(),
        issued_at,
        signature: URL_SAFE_NO_PAD.encode(other_key.sign(&challenge).as_ref()),
    };
    assert!(matches!(
        client.refresh_token(&forged).await,
        Err(SyncError::Unauthorized { .. })
    ));
    // The right key over another device id, or an unknown device: 401.
    let unknown = TokenRequest {
        device_id: "0190a0b0-0000-7000-8000-00000000dead".into(),
        issued_at,
        signature: dev.sign_challenge(&issued_at),
    };
    assert!(matches!(
        client.refresh_token(&unknown).await,
        Err(SyncError::Unauthorized { .. })
    ));
    // Correctly signed but stale or from the future beyond five minutes: 401.
    for skew in [Duration::minutes(-6), Duration::minutes(6)] {
        let at = Utc::now() + skew;
        let stale = TokenRequest {
            device_id: dev.device_id.clone(),
            issued_at: at,
            signature: dev.sign_challenge(&at),
        };
        let raw = server
            .http
            .post(server.url("/v1/token"))
            .json(&stale)
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status().as_u16(), 401);
        let body: serde_json::Value = raw.json().await.unwrap();
        assert_eq!(body["code"], "clock_skew");
        assert!(body["server_time"].is_string());
    }
    // Within the window it works (a device that has not refreshed since its enrolment), and
    // a later refresh after it too.
    let second = server.enroll("A-E1001-0002").await;
    for at in [Utc::now() - Duration::minutes(4), Utc::now()] {
        client
            .refresh_token(&TokenRequest {
                device_id: second.device_id.clone(),
                issued_at: at,
                signature: second.sign_challenge(&at),
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_same_enrolment_again_finishes_it_instead_of_stranding_the_phone() {
    let server = TestServer::start().await;
    let client = server.client();
    let request = enroll_request("A-E1002-0001");
    let first = client.enroll(&request).await.unwrap();
    // The answer was lost; the phone sends the same request again.
    let again = client.enroll(&request).await.unwrap();
    assert_eq!(again.device_id, first.device_id);
    assert_eq!(
        (again.org_id.as_str(), again.employee_id.as_str()),
        (ORG_A, "E1002")
    );
    assert_ne!(again.token, first.token);
    client.policy(&again.token).await.unwrap();
    // Only the newest token works: whoever holds the first answer is logged out.
    assert!(matches!(
        client.policy(&first.token).await,
        Err(SyncError::Unauthorized { .. })
    ));
    // One device, not two.
    let (status, devices) = server.admin_get(ADMIN_A, "/admin/v1/devices").await;
    assert_eq!(status, 200);
    let of_e1002 = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["employee_id"] == "E1002")
        .count();
    assert_eq!(of_e1002, 1, "{devices}");
    // The same code with another key is still a used code.
    let mut other = enroll_request("A-E1002-0001");
    other.device_name = request.device_name.clone();
    let refused = client.enroll(&other).await.unwrap_err();
    assert_eq!(refused_code(refused), (409, "enrollment_code_used".into()));
    // And once the device is revoked, repeating its enrolment does not bring it back.
    let r = server
        .http
        .post(server.url(&format!("/admin/v1/devices/{}/revoke", first.device_id)))
        .bearer_auth(ADMIN_A)
        .json(&serde_json::json!({ "reason": "lost phone" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let refused = client.enroll(&request).await.unwrap_err();
    assert_eq!(refused_code(refused), (409, "enrollment_code_used".into()));
}

#[tokio::test]
async fn the_policy_bundle_verifies_with_the_org_key_from_enrolment() {
    let server = TestServer::start().await;
    let client = server.client();
    let dev = server.enroll("A-E1001-0001").await;
    let bundle = client.policy(&dev.token).await.unwrap();
    assert_eq!(bundle.version, 42);
    assert_eq!(bundle.document, hk_policy_text(), "the file, byte for byte");
    let key = URL_SAFE_NO_PAD.decode(&dev.org_public_key).unwrap();
    let sig = URL_SAFE_NO_PAD.decode(&bundle.signature).unwrap();
    UnparsedPublicKey::new(&ED25519, &key)
        .verify(bundle.document.as_bytes(), &sig)
        .expect("the policy signature verifies with the enrolment's org key");
    let tampered = bundle
        .document
        .replace("\"max_accuracy_m\": 80", "\"max_accuracy_m\": 800");
    assert_ne!(tampered, bundle.document);
    assert!(
        UnparsedPublicKey::new(&ED25519, &key)
            .verify(tampered.as_bytes(), &sig)
            .is_err()
    );
    // The inline policy of the second organisation is signed by its own key.
    let b = server.enroll("B-E1001-0001").await;
    let bundle_b = client.policy(&b.token).await.unwrap();
    assert_eq!(bundle_b.version, 7);
    assert_ne!(b.org_public_key, dev.org_public_key);
    let key_b = URL_SAFE_NO_PAD.decode(&b.org_public_key).unwrap();
    UnparsedPublicKey::new(&ED25519, &key_b)
        .verify(
            bundle_b.document.as_bytes(),
            &URL_SAFE_NO_PAD.decode(&bundle_b.signature).unwrap(),
        )
        .unwrap();
}

#[tokio::test]
async fn organisations_cannot_see_or_touch_each_other() {
    let server = TestServer::start().await;
    let client = server.client();
    let mut a = server.enroll("A-E1001-0001").await;
    let b = server.enroll("B-E1001-0001").await;
    let ra = a.good_record();
    assert_eq!(
        server.push(&a, vec![a.item(&ra)]).await[0].status,
        ItemStatus::Accepted
    );

    // B's device sees B's policy and only its own changes.
    let policy_b = client.policy(&b.token).await.unwrap();
    assert!(policy_b.document.contains(ORG_B));
    let feed_b = client.changes(&b.token, None).await.unwrap();
    assert!(feed_b.changes.is_empty(), "{:?}", feed_b.changes);
    // Even with a cursor from A's feed.
    let feed_a = client.changes(&a.token, None).await.unwrap();
    // The punch's verdict and the result of its day; none of them reached B's E1001.
    assert_eq!(feed_a.changes.len(), 2, "{:?}", feed_a.changes);
    let feed_b = client.changes(&b.token, Some("0")).await.unwrap();
    assert!(feed_b.changes.is_empty());

    // B's admin sees none of A's devices or punches; A's admin none of B's.
    let (_, devices_b) = server.admin_get(ADMIN_B, "/admin/v1/devices").await;
    let ids: Vec<&str> = devices_b["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b.device_id.as_str()]);
    assert!(server.punches(ADMIN_B).await.is_empty());
    let path = format!("/admin/v1/punches?device_id={}", a.device_id);
    let (_, filtered) = server.admin_get(ADMIN_B, &path).await;
    assert!(filtered["punches"].as_array().unwrap().is_empty());
    let (_, chains_b) = server.admin_get(ADMIN_B, "/admin/v1/chains/verify").await;
    assert_eq!(chains_b["devices"].as_array().unwrap().len(), 1);
    assert_eq!(chains_b["devices"][0]["device_id"], b.device_id.as_str());

    // A's admin cannot publish a policy for B, nor issue codes for B's employees through B's
    // policy: the organisation comes from the token, never from the request.
    let r = server
        .http
        .put(server.url("/admin/v1/policy"))
        .bearer_auth(ADMIN_A)
        .json(&policy_variant(99, ORG_B))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "policy_org_mismatch");
    assert_eq!(client.policy(&b.token).await.unwrap().version, 7);
    let r = server
        .http
        .post(server.url("/admin/v1/enrollment-codes"))
        .bearer_auth(ADMIN_A)
        .json(&serde_json::json!({"employee_id": "E1001", "code": "CROSS-ORG-0001"}))
        .send()
        .await
        .unwrap();
    let issued: serde_json::Value = r.json().await.unwrap();
    assert_eq!(issued["org_id"], ORG_A);
    let enrolled = client
        .enroll(&enroll_request("CROSS-ORG-0001"))
        .await
        .unwrap();
    assert_eq!(enrolled.org_id, ORG_A);

    // A device token is not an admin token, and an admin token is not a device token.
    let (status, _) = server.admin_get(&a.token, "/admin/v1/devices").await;
    assert_eq!(status, 401);
    assert!(matches!(
        client.policy(ADMIN_A).await,
        Err(SyncError::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn a_day_after_the_enrolment_its_request_is_a_used_code_again() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};
    let offset = Arc::new(AtomicI64::new(0));
    let clock = offset.clone();
    let server = TestServer::start_with(daka_server::ServerOptions {
        clock: Some(Arc::new(move || {
            Utc::now() + Duration::milliseconds(clock.load(Ordering::SeqCst))
        })),
        ..daka_server::ServerOptions::default()
    })
    .await;
    let client = server.client();
    let request = enroll_request("A-E1001-0001");
    let first = client.enroll(&request).await.unwrap();
    // 23 hours later: still the same enrolment.
    offset.store(Duration::hours(23).num_milliseconds(), Ordering::SeqCst);
    assert_eq!(
        client.enroll(&request).await.unwrap().device_id,
        first.device_id
    );
    // A day and a minute after the code was used: refused, nothing changed.
    offset.store(
        (Duration::days(1) + Duration::minutes(1)).num_milliseconds(),
        Ordering::SeqCst,
    );
    let refused = client.enroll(&request).await.unwrap_err();
    assert_eq!(refused_code(refused), (409, "enrollment_code_used".into()));
}

/// A server behind a trusted proxy on loopback (so tests choose the client's address with
/// `X-Forwarded-For`) whose clock is the system's moved by `offset` milliseconds.
async fn behind_proxy(offset: std::sync::Arc<std::sync::atomic::AtomicI64>) -> TestServer {
    use std::sync::atomic::Ordering;
    TestServer::start_with(daka_server::ServerOptions {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        clock: Some(std::sync::Arc::new(move || {
            Utc::now() + Duration::milliseconds(offset.load(Ordering::SeqCst))
        })),
        ..daka_server::ServerOptions::default()
    })
    .await
}

/// `POST path` with `body` as if from `address`: the status, `Retry-After` and the code.
async fn post_from(
    server: &TestServer,
    path: &str,
    address: &str,
    body: &impl serde::Serialize,
) -> (u16, Option<u64>, String) {
    let r = server
        .http
        .post(server.url(path))
        .header("x-forwarded-for", address)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: serde_json::Value = r.json().await.unwrap();
    (
        status,
        retry,
        body["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn guessing_enrolment_codes_is_slowed_per_address_and_overall() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let offset = std::sync::Arc::new(AtomicI64::new(0));
    let server = behind_proxy(offset.clone()).await;
    // Ten wrong codes from one address, then even a right one is refused for a while.
    for i in 0..10 {
        let (status, _, code) = post_from(
            &server,
            "/v1/enroll",
            "203.0.113.7",
            &enroll_request(&format!("GUESS-{i:04}")),
        )
        .await;
        assert_eq!((status, code.as_str()), (404, "enrollment_code_unknown"));
    }
    let good = enroll_request("A-E1001-0001");
    let (status, retry, code) = post_from(&server, "/v1/enroll", "203.0.113.7", &good).await;
    assert_eq!((status, code.as_str()), (429, "too_many_attempts"));
    let retry = retry.expect("Retry-After");
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    // Another address is not affected, and the code was not used by the refused attempt.
    let (status, _, _) = post_from(&server, "/v1/enroll", "198.51.100.20", &good).await;
    assert_eq!(status, 200);
    // After the window, the first address may try again.
    offset.store(Duration::minutes(16).num_milliseconds(), Ordering::SeqCst);
    let (status, _, code) = post_from(
        &server,
        "/v1/enroll",
        "203.0.113.7",
        &enroll_request("A-E1002-0001"),
    )
    .await;
    assert_eq!((status, code.as_str()), (200, ""), "{code}");

    // From many addresses, a thousand failures in the window close enrolment for everyone
    // until it passes.
    for a in 0..100 {
        for i in 0..10 {
            let (status, _, _) = post_from(
                &server,
                "/v1/enroll",
                &format!("192.0.2.{a}"),
                &enroll_request(&format!("SPRAY-{a}-{i}")),
            )
            .await;
            assert_eq!(status, 404, "{a}.{i}");
        }
    }
    let (status, _, code) = post_from(
        &server,
        "/v1/enroll",
        "198.51.100.99",
        &enroll_request("A-E0101-0001"),
    )
    .await;
    assert_eq!((status, code.as_str()), (429, "too_many_attempts"));
    offset.store(Duration::minutes(32).num_milliseconds(), Ordering::SeqCst);
    let (status, _, _) = post_from(
        &server,
        "/v1/enroll",
        "198.51.100.99",
        &enroll_request("A-E0101-0001"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn forged_token_refreshes_are_slowed_per_device() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let offset = std::sync::Arc::new(AtomicI64::new(0));
    let server = behind_proxy(offset.clone()).await;
    let dev = server.enroll("A-E1001-0001").await;
    let other = server.enroll("A-E1002-0001").await;
    let forged_key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
    let now = || Utc::now() + Duration::milliseconds(offset.load(Ordering::SeqCst));
    for i in 0..10 {
        let at = now();
        let challenge = daka_core::protocol::token_challenge(&dev.device_id, &at);
        let forged = TokenRequest {
            device_id: dev.device_id.clone(),
            issued_at: at,
            signature: URL_SAFE_NO_PAD.encode(forged_key.sign(&challenge).as_ref()),
        };
        // From different addresses: the device's own count stops it.
        let (status, _, code) =
            post_from(&server, "/v1/token", &format!("192.0.2.{i}"), &forged).await;
        assert_eq!((status, code.as_str()), (401, "invalid_signature"));
    }
    let at = now();
    let genuine = TokenRequest {
        device_id: dev.device_id.clone(),
        issued_at: at,
        signature: dev.sign_challenge(&at),
    };
    let (status, retry, code) = post_from(&server, "/v1/token", "198.51.100.1", &genuine).await;
    assert_eq!((status, code.as_str()), (429, "too_many_attempts"));
    assert!(retry.is_some());
    // Another device refreshes as usual.
    let at = now();
    let theirs = TokenRequest {
        device_id: other.device_id.clone(),
        issued_at: at,
        signature: other.sign_challenge(&at),
    };
    assert_eq!(
        post_from(&server, "/v1/token", "198.51.100.1", &theirs)
            .await
            .0,
        200
    );
    // After the window the device refreshes again.
    offset.store(Duration::minutes(16).num_milliseconds(), Ordering::SeqCst);
    let at = now();
    let later = TokenRequest {
        device_id: dev.device_id.clone(),
        issued_at: at,
        signature: dev.sign_challenge(&at),
    };
    assert_eq!(
        post_from(&server, "/v1/token", "198.51.100.1", &later)
            .await
            .0,
        200
    );
}
