//! The accept loop: how TCP connections become HTTP/1.1 conversations with the router, and
//! the three limits every connection lives under.
//!
//! * **At most [`ServerOptions::max_connections`] connections at once.** Past the limit the
//!   loop stops accepting: a new connection waits in the operating system's listen backlog
//!   (its TCP handshake completes, nothing is read) until one of the open ones closes. It is
//!   never answered with an error and never closed by the server for that reason.
//! * **A request head must arrive in [`ServerOptions::header_read_timeout`].** The clock
//!   starts when the connection is accepted, and on a kept-alive connection at the first byte
//!   of the next request. A client that has not sent its whole request line and headers by
//!   then is disconnected (no answer: there is no request to answer).
//! * **A kept-alive connection may sit idle for [`ServerOptions::idle_timeout`].** After an
//!   answer, the connection is closed when the next request has not begun by then.
//!
//! Bodies are bounded by the request timeouts of the middleware (`request_timeout`, and
//! `upload_timeout` for attachments), which run while the handler reads them.
//!
//! Both timeouts are hyper's own header-read timer, driven by [`HeadTimer`]: hyper arms it
//! whenever it waits for a request head, and the timer decides which of the two limits that
//! wait is under by whether bytes of the head have arrived (counted by [`Counted`]).
//!
//! The listening socket ([`bind`]) asks for a deep backlog ([`LISTEN_BACKLOG`]), so a fleet
//! that reconnects together is queued by the operating system, not dropped.
//!
//! A stop (`RunningServer::shutdown`) closes the listener, tells every connection to close
//! once its request in progress is answered (idle ones at once), and ends when all are gone.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::rt::{Sleep, Timer};
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// The connection limits, from [`crate::ServerOptions`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Longest wait for a complete request head.
    pub(crate) header_read: Duration,
    /// Longest a kept-alive connection stays open between requests.
    pub(crate) idle: Duration,
    /// Most connections open at once.
    pub(crate) max_connections: usize,
}

/// The listen backlog asked of the operating system: connections whose handshake completed and
/// that the accept loop has not taken yet. A fleet that reconnects together (a shift leaving
/// the MTR, an office after an outage) opens a thousand connections in a few milliseconds;
/// with the usual 128, the handshakes past it are dropped and each of those phones waits a
/// second for its TCP retransmission before it is even heard. Linux caps it at
/// `net.core.somaxconn` (4,096 by default since 5.4).
pub(crate) const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` with a backlog of [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, so a restarted
/// server can take its port back while the old connections linger in `TIME_WAIT`).
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` on `listener` until `stop` resolves, then drains the open connections.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Closing (dropping) `signal_tx` asks every connection to close when idle; each
    // connection holds a clone of `done_rx`, so `done_tx.closed()` is "all connections gone".
    let (signal_tx, signal_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(stop);
    loop {
        let (permit, accepted) = tokio::select! {
            _ = &mut stop => break,
            next = accept_within_limit(&listener, &permits) => next,
        };
        match accepted {
            Ok((stream, peer)) => {
                let app = app.clone();
                let signal = signal_rx.clone();
                let done = done_rx.clone();
                tokio::spawn(async move {
                    connection(stream, peer, app, limits, signal).await;
                    drop(permit);
                    drop(done);
                });
            }
            // The client gave up before it was accepted: nothing to do.
            Err(e) if per_connection(&e) => {}
            // Out of file descriptors or memory: wait a little rather than spin (as
            // `axum::serve` does), still listening for the stop.
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection; trying again in 1 s");
                drop(permit);
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    drop(listener);
    drop(signal_rx);
    drop(signal_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// Waits for a free connection slot, then for a connection.
async fn accept_within_limit(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> (
    Option<OwnedSemaphorePermit>,
    io::Result<(TcpStream, SocketAddr)>,
) {
    // The semaphore is never closed, so this only waits.
    let permit = permits.clone().acquire_owned().await.ok();
    (permit, listener.accept().await)
}

/// Accept errors that concern one connection only (the client reset it in the backlog).
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One connection, served until the client closes it, a limit ends it, or a stop drains it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<()>,
) {
    let read = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Counted {
        inner: stream,
        read: read.clone(),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(HeadTimer {
            read,
            header_read: limits.header_read,
            idle: limits.idle,
            waits: AtomicU64::new(0),
        })
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let router = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.call(req)
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            // `changed` fails when the loop drops the sender: the stop.
            _ = stop.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A TCP stream that counts the bytes read from it, so that [`HeadTimer`] can tell an idle
/// connection from one whose next request head is on its way.
struct Counted {
    inner: TcpStream,
    read: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// hyper's timer for one connection. hyper uses it only for its header-read timeout, which
/// it arms each time it starts waiting for a request head. The first wait (a new connection)
/// runs the header-read limit from the start; every later wait (after an answer) is idle
/// until a byte of the next request arrives, bounded by the idle limit, and from that byte
/// on it runs the header-read limit.
struct HeadTimer {
    read: Arc<AtomicU64>,
    header_read: Duration,
    idle: Duration,
    /// Head waits armed so far on this connection.
    waits: AtomicU64,
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadWait {
            sleep: Box::pin(tokio::time::sleep(duration)),
            idle_since: None,
            read: self.read.clone(),
            header_read: self.header_read,
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let first = self.waits.fetch_add(1, Ordering::Relaxed) == 0;
        if first {
            return Box::pin(HeadWait {
                sleep: Box::pin(tokio::time::sleep_until(deadline.into())),
                idle_since: None,
                read: self.read.clone(),
                header_read: self.header_read,
            });
        }
        // `deadline` is hyper's "now + header_read"; this wait is idle until bytes come.
        let started = deadline.checked_sub(self.header_read).unwrap_or(deadline);
        Box::pin(HeadWait {
            sleep: Box::pin(tokio::time::sleep_until((started + self.idle).into())),
            idle_since: Some(self.read.load(Ordering::Relaxed)),
            read: self.read.clone(),
            header_read: self.header_read,
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        *sleep = self.sleep_until(new_deadline);
    }
}

/// One wait for a request head (see [`HeadTimer`]).
struct HeadWait {
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// While the connection is idle: the byte count when the wait began. `None` once the
    /// head has begun to arrive (or on a new connection).
    idle_since: Option<u64>,
    read: Arc<AtomicU64>,
    header_read: Duration,
}

impl Future for HeadWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // hyper polls this after every read that did not complete the head, so a first byte
        // is seen as soon as it is read.
        if let Some(at_start) = self.idle_since
            && self.read.load(Ordering::Relaxed) != at_start
        {
            self.idle_since = None;
            let deadline = tokio::time::Instant::now() + self.header_read;
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadWait {}
