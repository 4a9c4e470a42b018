//! The TLS options and errors as an app sees them through the bindings: a server whose key
//! matches no pin fails `enroll` with `DakaError::Tls` (Kotlin `DakaException.Tls`, Swift
//! `DakaError.Tls`) carrying the code `pin_mismatch` and the reason, never `Offline`; a
//! malformed pin is `InvalidInput` naming `certificatePins`.

use std::sync::Arc;

use base64::Engine as _;
use daka_ffi::{DakaDevice, DakaError, DeviceOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

fn options(root_pem: &str, pins: &[&str]) -> DeviceOptions {
    DeviceOptions {
        max_queued_items: None,
        request_timeout_seconds: Some(5),
        connect_timeout_seconds: Some(5),
        extra_root_certificates: vec![root_pem.as_bytes().to_vec()],
        certificate_pins: pins.iter().map(|p| p.to_string()).collect(),
        platform_trust_store: false,
    }
}

/// A private CA and a TLS listener on loopback presenting a `localhost` certificate it
/// issued; the listener only shakes hands (the refusal comes before any HTTP).
async fn tls_listener() -> (String, u16) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = acceptor.accept(socket).await;
        }
    });
    (ca.pem(), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_mismatch_is_the_tls_error_with_its_reason() {
    let (root_pem, port) = tls_listener().await;
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let device = DakaDevice::open_with_options(
        dir.path().join("phone.db").display().to_string(),
        None,
        options(&root_pem, &[&elsewhere]),
    )
    .unwrap();
    let err = device
        .enroll(
            format!("https://localhost:{port}"),
            "TLS-TEST-CODE-0001".into(),
            "Chan's phone".into(),
            "android".into(),
            None,
        )
        .await
        .unwrap_err();
    match &err {
        DakaError::Tls { code, reason } => {
            assert_eq!(code, "pin_mismatch");
            assert!(
                reason.contains("matches none of the configured pins")
                    && reason.contains(&format!("https://localhost:{port}/v1/enroll")),
                "{reason}"
            );
        }
        other => panic!("expected DakaError::Tls, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("the server's certificate was refused (pin_mismatch): "),
        "{text}"
    );
}

#[test]
fn a_malformed_pin_names_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let err = DakaDevice::open_with_options(
        dir.path().join("phone.db").display().to_string(),
        None,
        DeviceOptions {
            extra_root_certificates: Vec::new(),
            ..options("", &["sha256/too-short"])
        },
    )
    .unwrap_err();
    match err {
        DakaError::InvalidInput { field, value, .. } => {
            assert_eq!(field, "certificatePins");
            assert_eq!(value, "[0] \"sha256/too-short\"");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}
