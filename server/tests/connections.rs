//! The connection limits over raw TCP against the real server: a client that stalls in its
//! request head is disconnected after the header-read timeout (on a new connection and on a
//! kept-alive one), an idle kept-alive connection is closed after the idle timeout and not
//! before, past the connection limit a new connection is served only once another closes, and
//! a fleet connecting at once is held in the listen backlog, not dropped.

mod common;

use std::time::{Duration, Instant};

use common::*;
use daka_server::ServerOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: daka.test\r\n\r\n";

/// Waits (at most `limit`) until the server closes the connection; how long that took from
/// `since`. Fails if the server answers anything or keeps the connection open.
async fn closed_by_server(stream: &mut TcpStream, since: Instant, limit: Duration) -> Duration {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut rest)).await;
    let took = since.elapsed();
    // A reset counts as closed; only the timeout means the connection stayed open.
    assert!(
        read.is_ok(),
        "the connection was still open after {limit:?}"
    );
    assert!(
        rest.is_empty(),
        "the server answered: {}",
        String::from_utf8_lossy(&rest)
    );
    took
}

/// Sends a request on the connection and asserts it is answered 200.
async fn health(stream: &mut TcpStream) {
    stream.write_all(HEALTH).await.unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), read_response(stream))
        .await
        .expect("no answer within 10 s")
        .expect("the connection closed instead of answering");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn a_client_that_stalls_in_its_request_head_is_disconnected_after_the_header_timeout() {
    let ts = TestServer::start_with(ServerOptions {
        header_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_secs(30),
        ..ServerOptions::default()
    })
    .await;
    let addr = ts.server.addr();

    // Half a request line, then nothing.
    let started = Instant::now();
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /hea").await.unwrap();
    let took = closed_by_server(&mut half, started, Duration::from_secs(8)).await;
    assert!(took >= Duration::from_millis(700), "closed after {took:?}");
    assert!(took < Duration::from_secs(4), "closed after {took:?}");

    // Nothing at all after connecting.
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let took = closed_by_server(&mut silent, started, Duration::from_secs(8)).await;
    assert!(took >= Duration::from_millis(700), "closed after {took:?}");

    // Headers trickling in, one byte every 100 ms: still cut at the timeout.
    let started = Instant::now();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: daka.test\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for byte in request {
        if slow.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    if !cut {
        closed_by_server(&mut slow, started, Duration::from_secs(8)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // On a kept-alive connection the clock starts at the next request's first byte: a
    // client idle for longer than the header timeout is still served, and one that then
    // stalls in its head is cut after the header timeout, not the idle timeout.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    health(&mut kept).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    health(&mut kept).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    kept.write_all(b"GET /health HTTP/1.1\r\nHo").await.unwrap();
    let took = closed_by_server(&mut kept, started, Duration::from_secs(8)).await;
    assert!(took >= Duration::from_millis(700), "closed after {took:?}");
    assert!(took < Duration::from_secs(4), "closed after {took:?}");

    // A prompt client is served as before.
    let mut prompt = TcpStream::connect(addr).await.unwrap();
    health(&mut prompt).await;
    ts.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let ts = TestServer::start_with(ServerOptions {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(2000),
        ..ServerOptions::default()
    })
    .await;
    let addr = ts.server.addr();
    let mut kept = TcpStream::connect(addr).await.unwrap();
    health(&mut kept).await;
    // Idle for longer than the header timeout but within the idle timeout: still open.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    health(&mut kept).await;
    let answered = Instant::now();
    let took = closed_by_server(&mut kept, answered, Duration::from_secs(10)).await;
    assert!(took >= Duration::from_millis(1800), "closed after {took:?}");
    assert!(took < Duration::from_secs(6), "closed after {took:?}");
    ts.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn past_the_connection_limit_a_new_connection_waits_until_one_closes() {
    let ts = TestServer::start_with(ServerOptions {
        max_connections: 2,
        ..ServerOptions::default()
    })
    .await;
    let addr = ts.server.addr();
    let mut first = TcpStream::connect(addr).await.unwrap();
    health(&mut first).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    health(&mut second).await;

    // The third connects (the backlog takes it) but is not served while two are open.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(1500), read_response(&mut third)).await;
    assert!(early.is_err(), "the third connection was served: {early:?}");
    // The two open ones are still served meanwhile.
    health(&mut second).await;

    // One closes: the third is served.
    drop(first);
    let response = tokio::time::timeout(Duration::from_secs(10), read_response(&mut third))
        .await
        .expect("the third connection was not served after one closed")
        .expect("the third connection was closed");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    ts.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_fleet_connecting_at_once_waits_in_the_backlog_rather_than_being_dropped() {
    // One connection at a time, so every other connection stays in the listen backlog.
    let ts = TestServer::start_with(ServerOptions {
        max_connections: 1,
        ..ServerOptions::default()
    })
    .await;
    let addr = ts.server.addr();
    let mut held = TcpStream::connect(addr).await.unwrap();
    health(&mut held).await;
    // With the usual backlog of 128, the handshakes past it would be dropped and those
    // clients would wait a second for a retransmission; here every one completes at once.
    // (Linux caps the backlog at net.core.somaxconn.)
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096);
    let fleet = 500.min(somaxconn);
    let mut connects = tokio::task::JoinSet::new();
    for _ in 0..fleet {
        connects.spawn(tokio::time::timeout(
            Duration::from_millis(900),
            TcpStream::connect(addr),
        ));
    }
    let mut connected = Vec::new();
    while let Some(joined) = connects.join_next().await {
        if let Ok(Ok(stream)) = joined.unwrap() {
            connected.push(stream);
        }
    }
    assert_eq!(
        connected.len(),
        fleet,
        "{} of {fleet} connections were not taken into the backlog within 0.9 s",
        fleet - connected.len()
    );
    // The one open connection is served meanwhile; the backlog is served once it closes.
    health(&mut held).await;
    drop(held);
    let mut first = connected.into_iter().next().unwrap();
    health(&mut first).await;
    ts.server.shutdown().await.unwrap();
}
