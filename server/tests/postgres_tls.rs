//! TLS to PostgreSQL on a real cluster with `ssl=on` (`scripts/pg.sh`): each `sslmode` gives a
//! TLS session (PostgreSQL's own `pg_stat_ssl` says so), `verify-full` accepts the CA that
//! signed the database's certificate and the names on it, refuses another CA and another name
//! with the reason, and a server on a TLS-only user takes a punch.
//!
//! Runs when `DAKA_TEST_POSTGRES_TLS` names the cluster's TLS user (`scripts/pg.sh url-tls`);
//! skips otherwise.

mod common;

use common::*;
use daka_core::protocol::ItemStatus;
use daka_server::storage::postgres as pg;
use daka_server::{PostgresStorage, ServerOptions, StorageError};

/// The TLS user's URL, or `None` (saying why) without a cluster.
fn tls_url() -> Option<url::Url> {
    match postgres_tls_url() {
        Some(u) => Some(url::Url::parse(&u).expect("a postgres:// URL")),
        None => {
            eprintln!("skipped: set {POSTGRES_TLS_ENV} (scripts/pg.sh start; pg.sh url-tls)");
            None
        }
    }
}

/// `url` with the query parameter `key` set to `value`, or removed.
fn with_param(url: &url::Url, key: &str, value: Option<&str>) -> url::Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut u = url.clone();
    u.set_query(None);
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(key, v);
        }
    }
    u
}

/// The CA file of the URL, and the other CA beside it (one that signed nothing).
fn ca_files(url: &url::Url) -> (String, String) {
    let ca = url
        .query_pairs()
        .find(|(k, _)| k == "sslrootcert")
        .map(|(_, v)| v.into_owned())
        .expect("the TLS URL names its CA");
    let other = std::path::Path::new(&ca).with_file_name("other-ca.pem");
    (ca, other.to_str().unwrap().to_owned())
}

/// Connects with `conninfo` (a URL or key-value pairs) and asks PostgreSQL whether this
/// session is TLS, and which version.
fn session_tls(conninfo: &str) -> Result<(bool, Option<String>), StorageError> {
    let mut client = pg::connect(conninfo)?;
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap();
    Ok((row.get(0), row.get(1)))
}

/// `session_tls` that must connect over TLS 1.2 or 1.3.
fn assert_tls(url: &str) {
    let (ssl, version) = session_tls(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(ssl, "{url}: the session is not TLS");
    let version = version.unwrap_or_default();
    assert!(
        version == "TLSv1.3" || version == "TLSv1.2",
        "{url}: {version}"
    );
}

#[test]
fn require_and_prefer_negotiate_tls_and_the_tls_user_cannot_go_without() {
    let Some(url) = tls_url() else { return };
    // `require` and `prefer` (the default) encrypt without checking the certificate.
    let require = with_param(&url, "sslrootcert", None);
    for mode in [Some("require"), Some("prefer"), None] {
        assert_tls(with_param(&require, "sslmode", mode).as_str());
    }
    // The cluster refuses this user without TLS: the sessions above were TLS because the
    // server made them so, and nothing fell back to plain text.
    let plain = with_param(&require, "sslmode", Some("disable"));
    match session_tls(plain.as_str()) {
        Err(StorageError::Unavailable(e)) => {
            assert!(e.contains("pg_hba.conf rejects connection"), "{e}");
            assert!(e.contains("no encryption"), "{e}");
        }
        other => panic!("a plain connection of the TLS user: {other:?}"),
    }
}

#[test]
fn verify_full_accepts_the_right_ca_and_the_names_on_the_certificate() {
    let Some(url) = tls_url() else { return };
    // As printed: 127.0.0.1, an IP address of the certificate.
    assert_tls(url.as_str());
    // By name: localhost, a DNS name of the certificate.
    let mut by_name = url.clone();
    by_name.set_host(Some("localhost")).unwrap();
    assert_tls(by_name.as_str());
    // The SCRAM exchange is bound to the TLS session (SCRAM-SHA-256-PLUS): with
    // `channel_binding=require` the client refuses to authenticate without it.
    assert_tls(with_param(&url, "channel_binding", Some("require")).as_str());
    // The key-value form reads the same parameters.
    let (ca, _) = ca_files(&url);
    let kv = format!(
        "host=127.0.0.1 port={} user={} password={} dbname=postgres sslmode=verify-full \
         sslrootcert='{ca}'",
        url.port().unwrap(),
        url.username(),
        url.password().unwrap(),
    );
    assert_tls(&kv);
}

#[test]
fn verify_full_refuses_another_name_which_verify_ca_does_not_check() {
    let Some(url) = tls_url() else { return };
    // The socket goes to 127.0.0.1 (`hostaddr`); the name checked is the URL's host.
    let mut elsewhere = with_param(&url, "hostaddr", Some("127.0.0.1"));
    elsewhere.set_host(Some("db.elsewhere.example")).unwrap();
    assert_tls(with_param(&elsewhere, "sslmode", Some("verify-ca")).as_str());
    match session_tls(elsewhere.as_str()) {
        Err(StorageError::Database(e)) => {
            for want in [
                "not valid for the host of the URL (sslmode=verify-full",
                "certificate not valid for name \"db.elsewhere.example\"",
                "only valid for IpAddress(127.0.0.1) or DnsName(\"localhost\")",
            ] {
                assert!(e.contains(want), "{e}");
            }
        }
        other => panic!("verify-full with another name: {other:?}"),
    }
}

#[test]
fn another_ca_is_refused_in_every_mode_that_checks_naming_the_file() {
    let Some(url) = tls_url() else { return };
    let (_, other) = ca_files(&url);
    let password = url.password().unwrap().to_owned();
    let wrong = with_param(&url, "sslrootcert", Some(&other));
    for mode in ["verify-full", "verify-ca", "require"] {
        let wrong = with_param(&wrong, "sslmode", Some(mode));
        let e = PostgresStorage::open(wrong.as_str(), &Default::default()).unwrap_err();
        let StorageError::Database(text) = &e else {
            panic!("{mode}: {e:?}");
        };
        assert!(
            text.contains(&format!(
                "the database's certificate is not issued by a CA of sslrootcert={other} \
                 (sslmode={mode})"
            )),
            "{text}"
        );
        assert!(text.contains("UnknownIssuer"), "{text}");
        assert!(!text.contains(&password), "the password leaked: {text}");
        assert!(!e.is_retryable(), "{e}");
    }
}

#[test]
fn a_missing_ca_file_and_unsupported_parameters_are_named_before_connecting() {
    let Some(url) = tls_url() else { return };
    let cases = [
        (
            with_param(&url, "sslrootcert", Some("/nonexistent/ca.pem")),
            "sslrootcert=/nonexistent/ca.pem: cannot be read",
        ),
        (
            with_param(&url, "sslcert", Some("/etc/client.pem")),
            "sslcert=/etc/client.pem is not supported: client certificates",
        ),
    ];
    for (refused, why) in cases {
        let e = PostgresStorage::open(refused.as_str(), &Default::default()).unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_the_tls_user_takes_a_punch_over_tls() {
    let Some(url) = tls_url() else { return };
    let admin = url.to_string();
    let pg_db = tokio::task::spawn_blocking(move || PgDatabase::create(&admin))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::postgres(dir.path(), pg_db);
    let server = TestServer::start_in(
        dir,
        db,
        two_org_seed(),
        ServerOptions::default(),
        reqwest::Client::new(),
    )
    .await;
    let mut dev = server.enroll("A-E1001-0001").await;
    let record = dev.good_record();
    let results = server.push(&dev, vec![dev.item(&record)]).await;
    assert_result(&results[0], ItemStatus::Accepted, None);
    assert_eq!(
        server.punches(ADMIN_A).await,
        vec![(record.body.id.to_string(), "accepted".to_owned())]
    );
    let stored = server.raw_rows("SELECT punch_id FROM punch");
    assert_eq!(stored, vec![vec![record.body.id.to_string()]]);
    // Every session on the server's database (its pool and this query's) is TLS.
    let sessions = server.raw_rows(
        "SELECT CAST(count(*) AS TEXT), CAST(bool_and(s.ssl) AS TEXT) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = current_database()",
    );
    let (count, all_tls) = (&sessions[0][0], &sessions[0][1]);
    assert!(count.parse::<u32>().unwrap() >= 2, "{sessions:?}");
    assert_eq!(all_tls, "true", "{sessions:?}");
}
