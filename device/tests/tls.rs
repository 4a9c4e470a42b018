//! TLS against the real server behind a TLS endpoint on loopback, with certificates from a
//! private CA made here: an extra trusted root makes sync work, no root is
//! `SyncError::Tls` (`unknown_issuer`) and is not retried on the background loop's interval,
//! pins match the server's key or a CA key that signed its chain (any of them) and
//! nothing else, expired and wrong-name certificates are named as such, and a server that
//! is down is still a retryable network error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use daka_core::punch::PunchKind;
use daka_device::sync::client::SyncError;
use daka_device::sync::tls::{TlsFailure, TlsOptions};
use daka_device::{Device, DeviceError, DeviceOption, PunchInput, UnprotectedKeyStore};
use daka_server::{RunningServer, Seed, Server, ServerConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};

mod common;

const ADMIN_TOKEN: &str = "tls-test-admin-token-0000000001";
const CODES: usize = 12;

fn seed() -> Seed {
    let codes: Vec<String> = (0..CODES).map(code).collect();
    common::seed(ADMIN_TOKEN, &codes)
}

fn code(n: usize) -> String {
    format!("TLS-E1001-{n:04}")
}

fn store_punch() -> PunchInput {
    common::store_punch(PunchKind::In)
}

/// A CA made for the test: a root, or an intermediate signed by another CA.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn params(name: &str) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
    }

    fn root(name: &str) -> Ca {
        let issuer =
            CertifiedIssuer::self_signed(Ca::params(name), KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    fn intermediate(name: &str, parent: &Ca) -> Ca {
        let issuer = CertifiedIssuer::signed_by(
            Ca::params(name),
            KeyPair::generate().unwrap(),
            &parent.issuer,
        )
        .unwrap();
        Ca { issuer }
    }

    fn pem(&self) -> Vec<u8> {
        self.issuer.pem().into_bytes()
    }

    fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// The pin of the CA's key, computed from rcgen's own SubjectPublicKeyInfo.
    fn pin(&self) -> String {
        spki_pin(&self.issuer.key().subject_public_key_info())
    }

    /// A server certificate for `localhost` issued by this CA, valid now unless `expired`.
    fn leaf(&self, expired: bool) -> Leaf {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "daka test server");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            pin: spki_pin(&key.subject_public_key_info()),
            cert: cert.der().clone(),
            key,
        }
    }
}

struct Leaf {
    cert: CertificateDer<'static>,
    key: KeyPair,
    pin: String,
}

fn spki_pin(spki_der: &[u8]) -> String {
    STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, spki_der))
}

/// A TLS endpoint on loopback in front of the real server: it presents `chain` and copies
/// bytes both ways. Counts the handshakes it was asked for, finished or not.
struct TlsFront {
    addr: SocketAddr,
    handshakes: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    async fn start(leaf: &Leaf, more: &[CertificateDer<'static>], backend: SocketAddr) -> Self {
        let mut chain = vec![leaf.cert.clone()];
        chain.extend(more.iter().cloned());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(AtomicU64::new(0));
        let counter = handshakes.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    if let Ok(mut plain) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        TlsFront {
            addr,
            handshakes,
            task,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct World {
    dir: tempfile::TempDir,
    server: RunningServer,
    next_code: AtomicU64,
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(ServerConfig {
            db_path: dir.path().join("server.db"),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: Some(seed()),
        })
        .await
        .unwrap();
        World {
            dir,
            server,
            next_code: AtomicU64::new(0),
        }
    }

    fn open(&self, name: &str, tls: TlsOptions) -> Result<Device, DeviceError> {
        Device::builder(self.dir.path().join(name))
            .key_store(&UnprotectedKeyStore)
            .tls(tls)
            .open()
    }

    async fn enroll(&self, device: &Device, url: &str) -> Result<(), DeviceError> {
        let n = self.next_code.fetch_add(1, Ordering::SeqCst) as usize;
        device
            .enroll(url, &code(n), "Chan's phone", "test")
            .await
            .map(|_| ())
    }
}

fn trusting(ca: &Ca) -> TlsOptions {
    TlsOptions {
        extra_roots: vec![ca.pem()],
        ..TlsOptions::default()
    }
}

fn pinned(ca: &Ca, pins: &[&str]) -> TlsOptions {
    TlsOptions {
        pins: pins.iter().map(|p| p.to_string()).collect(),
        ..trusting(ca)
    }
}

fn tls_failure(result: Result<(), DeviceError>) -> (TlsFailure, String) {
    match result {
        Err(DeviceError::Sync(e @ SyncError::Tls { .. })) => {
            assert!(!e.is_retryable(), "a TLS refusal is never retryable: {e}");
            let SyncError::Tls { failure, .. } = &e else {
                unreachable!()
            };
            (*failure, e.to_string())
        }
        other => panic!("expected SyncError::Tls, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_root_makes_sync_work_and_without_it_the_refusal_is_typed_and_not_retried() {
    let world = World::new().await;
    let ca = Ca::root("Harbour Lane Root CA");
    let leaf = ca.leaf(false);
    let front = TlsFront::start(&leaf, &[], world.server.addr()).await;

    // Trusted extra root (PEM): enrolment, a punch and a sync go through.
    let phone = world.open("phone.db", trusting(&ca)).unwrap();
    world.enroll(&phone, &front.url()).await.unwrap();
    phone.punch(store_punch()).unwrap();
    let report = phone.sync_now(&|_| {}).await.unwrap();
    assert_eq!((report.accepted, report.remaining), (1, 0), "{report:?}");
    assert!(phone.tls_refusal().is_none());
    // The same root as DER works too.
    let der = world
        .open(
            "der.db",
            TlsOptions {
                extra_roots: vec![ca.der().to_vec()],
                ..TlsOptions::default()
            },
        )
        .unwrap();
    world.enroll(&der, &front.url()).await.unwrap();

    // No extra root: the bundled public roots do not know the company CA.
    let stranger = world.open("stranger.db", TlsOptions::default()).unwrap();
    let before = front.handshakes();
    let (failure, text) = tls_failure(world.enroll(&stranger, &front.url()).await);
    assert_eq!(failure, TlsFailure::UnknownIssuer, "{text}");
    assert!(
        text.contains("unknown_issuer") && text.contains("/v1/enroll"),
        "{text}"
    );
    assert_eq!(
        front.handshakes() - before,
        1,
        "one attempt, no retry inside the call"
    );

    // The enrolled phone reopened without the root: its queued punch stays, the round
    // fails with the typed error, and the status keeps the refusal.
    drop(phone);
    let phone = Arc::new(world.open("phone.db", TlsOptions::default()).unwrap());
    phone.punch(store_punch()).unwrap();
    let before = front.handshakes();
    let err = phone.sync_now(&|_| {}).await.unwrap_err();
    assert!(
        matches!(
            &err,
            DeviceError::Sync(SyncError::Tls {
                failure: TlsFailure::UnknownIssuer,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(front.handshakes() - before, 1);
    assert!(matches!(
        phone.tls_refusal(),
        Some(SyncError::Tls {
            failure: TlsFailure::UnknownIssuer,
            ..
        })
    ));
    let stats = phone.outbox_stats().unwrap();
    assert_eq!(stats.pending + stats.in_flight, 1, "{stats:?}");

    // The background loop, every second: after the refusal it waits for a punch instead of
    // trying again on the interval.
    let rounds = Arc::new(AtomicU64::new(0));
    let seen = rounds.clone();
    let sync = phone
        .start_background_sync(Duration::from_secs(1), move |r| {
            assert!(
                matches!(r, Err(DeviceError::Sync(SyncError::Tls { .. }))),
                "{r:?}"
            );
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let before = front.handshakes();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(rounds.load(Ordering::SeqCst), 1, "one round, then waiting");
    assert_eq!(front.handshakes() - before, 1);
    phone.punch(store_punch()).unwrap();
    sync.sync_soon();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(rounds.load(Ordering::SeqCst), 2, "a punch wakes it once");
    assert_eq!(sync.stop().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_match_a_key_of_the_verified_chain_and_nothing_else() {
    let world = World::new().await;
    let root = Ca::root("Harbour Lane Root CA");
    let issuing = Ca::intermediate("Harbour Lane Issuing CA", &root);
    let leaf = issuing.leaf(false);
    let front = TlsFront::start(&leaf, &[issuing.der()], world.server.addr()).await;
    let other = Ca::root("Someone Else's CA");
    let stranger_pin = other.pin();

    // Any one matching pin is enough: the server's key, the intermediate's, or the root's
    // (an extra root, which the server does not send), alone or next to a pin that matches
    // nothing; `sha256/` spelling included.
    let good = [
        vec![leaf.pin.clone()],
        vec![issuing.pin()],
        vec![root.pin()],
        vec![stranger_pin.clone(), format!("sha256/{}", issuing.pin())],
    ];
    for (n, pins) in good.iter().enumerate() {
        let pins: Vec<&str> = pins.iter().map(String::as_str).collect();
        let phone = world
            .open(&format!("good{n}.db"), pinned(&root, &pins))
            .unwrap();
        world
            .enroll(&phone, &front.url())
            .await
            .unwrap_or_else(|e| panic!("pins {pins:?}: {e}"));
    }

    // A chain that validates but holds no pinned key is refused, naming the server's key.
    let phone = world
        .open("mismatch.db", pinned(&root, &[&stranger_pin]))
        .unwrap();
    let (failure, text) = tls_failure(world.enroll(&phone, &front.url()).await);
    assert_eq!(failure, TlsFailure::PinMismatch, "{text}");
    assert!(
        text.contains("pin_mismatch") && text.contains(&leaf.pin),
        "{text}"
    );

    // Pins are checked after validation, never instead: a pinned key behind an unknown
    // root is still an unknown issuer.
    let phone = world
        .open(
            "unrooted.db",
            TlsOptions {
                pins: vec![leaf.pin.clone()],
                ..TlsOptions::default()
            },
        )
        .unwrap();
    let (failure, _) = tls_failure(world.enroll(&phone, &front.url()).await);
    assert_eq!(failure, TlsFailure::UnknownIssuer);

    // A certificate the root issued directly, with the pinned intermediate merely sent
    // along: the intermediate did not sign it, so its pin does not match.
    let direct = root.leaf(false);
    let padded = TlsFront::start(&direct, &[issuing.der()], world.server.addr()).await;
    let phone = world
        .open("padded.db", pinned(&root, &[&issuing.pin()]))
        .unwrap();
    let (failure, text) = tls_failure(world.enroll(&phone, &padded.url()).await);
    assert_eq!(failure, TlsFailure::PinMismatch, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_wrong_name_and_a_server_down_are_told_apart() {
    let world = World::new().await;
    let ca = Ca::root("Harbour Lane Root CA");

    let expired = TlsFront::start(&ca.leaf(true), &[], world.server.addr()).await;
    let phone = world.open("expired.db", trusting(&ca)).unwrap();
    let (failure, text) = tls_failure(world.enroll(&phone, &expired.url()).await);
    assert_eq!(failure, TlsFailure::Expired, "{text}");

    // The certificate names `localhost`; the address does not.
    let front = TlsFront::start(&ca.leaf(false), &[], world.server.addr()).await;
    let by_ip = format!("https://127.0.0.1:{}", front.addr.port());
    let phone = world.open("by-ip.db", trusting(&ca)).unwrap();
    let (failure, text) = tls_failure(world.enroll(&phone, &by_ip).await);
    assert_eq!(failure, TlsFailure::NameMismatch, "{text}");

    // Nothing listening: a network error, retryable, as before.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let phone = world.open("down.db", trusting(&ca)).unwrap();
    match world
        .enroll(&phone, &format!("https://localhost:{port}"))
        .await
    {
        Err(DeviceError::Sync(e @ SyncError::Network { .. })) => assert!(e.is_retryable()),
        other => panic!("expected a network error, got {other:?}"),
    }
}

#[test]
fn bad_tls_options_are_refused_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::root("Harbour Lane Root CA");
    let open = |tls: TlsOptions| {
        Device::builder(dir.path().join("d.db"))
            .key_store(&UnprotectedKeyStore)
            .tls(tls)
            .open()
    };
    let option = |r: Result<Device, DeviceError>| match r {
        Err(DeviceError::InvalidOption(e)) => (e.option, e.value.clone(), e.to_string()),
        other => panic!("expected an option error, got {other:?}"),
    };
    let (which, value, text) = option(open(TlsOptions {
        extra_roots: vec![ca.pem(), b"not a certificate".to_vec()],
        ..TlsOptions::default()
    }));
    assert_eq!(which, DeviceOption::TlsExtraRoots);
    assert_eq!(value, "[1] 17 bytes");
    assert!(text.starts_with("tls.extra_roots: "), "{text}");
    let (which, value, _) = option(open(TlsOptions {
        pins: vec![ca.pin(), "c2hvcnQ=".into()],
        ..TlsOptions::default()
    }));
    assert_eq!(which, DeviceOption::TlsPins);
    assert_eq!(value, "[1] \"c2hvcnQ=\"");
    assert!(!dir.path().join("d.db").exists(), "nothing opened");
}

/// Set for the child process of [`the_platform_trust_store_is_the_system_store_on_linux`]:
/// the folder with the test CA and the server's certificate and key.
const PLATFORM_CHILD: &str = "DAKA_TLS_PLATFORM_CHILD_DIR";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_trust_store_is_the_system_store_on_linux() {
    if let Ok(dir) = std::env::var(PLATFORM_CHILD) {
        return platform_child(std::path::Path::new(&dir)).await;
    }
    // The system store is read where OpenSSL would read it; `SSL_CERT_FILE` points it at
    // the company CA for the child process only (the environment is the process's).
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::root("Harbour Lane Root CA");
    let leaf = ca.leaf(false);
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("leaf.der"), leaf.cert.as_ref()).unwrap();
    std::fs::write(dir.path().join("leaf.key.pem"), leaf.key.serialize_pem()).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_platform_trust_store_is_the_system_store_on_linux",
            "--nocapture",
        ])
        .env(PLATFORM_CHILD, dir.path())
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran the test: {text}");
}

/// The child's half: the CA is in the system store only.
async fn platform_child(dir: &std::path::Path) {
    let key =
        KeyPair::from_pem(&std::fs::read_to_string(dir.join("leaf.key.pem")).unwrap()).unwrap();
    let leaf = Leaf {
        cert: CertificateDer::from(std::fs::read(dir.join("leaf.der")).unwrap()),
        pin: spki_pin(&key.subject_public_key_info()),
        key,
    };
    let world = World::new().await;
    let front = TlsFront::start(&leaf, &[], world.server.addr()).await;
    let platform = TlsOptions {
        platform_trust_store: true,
        ..TlsOptions::default()
    };
    let phone = world.open("platform.db", platform).unwrap();
    world.enroll(&phone, &front.url()).await.unwrap();
    // The bundled roots alone do not know it.
    let bundled = world.open("bundled.db", TlsOptions::default()).unwrap();
    let (failure, _) = tls_failure(world.enroll(&bundled, &front.url()).await);
    assert_eq!(failure, TlsFailure::UnknownIssuer);
    // Pins apply on top of the platform's validation as well.
    let pinned = TlsOptions {
        pins: vec![Ca::root("Someone Else's CA").pin()],
        platform_trust_store: true,
        ..TlsOptions::default()
    };
    let phone = world.open("platform-pinned.db", pinned).unwrap();
    let (failure, _) = tls_failure(world.enroll(&phone, &front.url()).await);
    assert_eq!(failure, TlsFailure::PinMismatch);
}
