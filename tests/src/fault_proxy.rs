//! A loopback HTTP/1.1 proxy that injects the faults mobile networks produce.
//!
//! It sits between the SDK's sync client and the real server and, per request, either forwards
//! faithfully or does one of: reset the connection before forwarding; stall past the client's
//! timeout; answer 500, 503 or 429 with `Retry-After` itself; forward but cut the response
//! short; or forward (so the server commits) and then drop the response, the case that makes
//! exactly-once hard. Choices come from a seeded RNG, so a failing run can be replayed, and
//! every injected fault is counted. Faults can also be scripted for the next requests
//! ([`FaultProxy::inject_next`]): they come before the plan's random choice, one per request.
//!
//! The proxy understands just enough HTTP/1.1 for the sync protocol: requests and responses
//! framed by `Content-Length` (which reqwest and axum use for JSON bodies).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Close the connection without forwarding or answering.
    Reset,
    /// Hold the request longer than the client's timeout, then close.
    Stall,
    /// Answer 500 without forwarding.
    ServerError,
    /// Answer 503 with Retry-After without forwarding.
    Unavailable,
    /// Answer 429 with Retry-After without forwarding.
    TooManyRequests,
    /// Forward, then send only part of the response and close.
    Truncate,
    /// Forward (the server commits), then close without answering.
    LoseResponse,
    /// Forward, but deliver the response slowly (in small pieces with pauses).
    Slow,
}

impl Fault {
    pub const ALL: [Fault; 8] = [
        Fault::Reset,
        Fault::Stall,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::TooManyRequests,
        Fault::Truncate,
        Fault::LoseResponse,
        Fault::Slow,
    ];
}

/// How often each fault happens.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Probability that a request gets any fault at all.
    pub fault_rate: f64,
    /// Faults to choose from, uniformly.
    pub faults: Vec<Fault>,
    /// How long a stall lasts (longer than the client's request timeout).
    pub stall: Duration,
    /// Retry-After seconds sent with 429/503.
    pub retry_after_s: u64,
    pub seed: u64,
}

impl FaultPlan {
    /// No faults at all: a transparent proxy.
    pub fn none() -> FaultPlan {
        FaultPlan {
            fault_rate: 0.0,
            faults: Vec::new(),
            stall: Duration::from_secs(5),
            retry_after_s: 0,
            seed: 0,
        }
    }

    /// Every fault kind, at `rate`.
    pub fn all(rate: f64, seed: u64) -> FaultPlan {
        FaultPlan {
            fault_rate: rate,
            faults: Fault::ALL.to_vec(),
            stall: Duration::from_millis(1_500),
            retry_after_s: 0,
            seed,
        }
    }
}

/// Counts of what the proxy did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub forwarded: AtomicU64,
    pub injected: Mutex<std::collections::HashMap<Fault, u64>>,
}

impl ProxyStats {
    pub fn injected(&self, fault: Fault) -> u64 {
        self.injected
            .lock()
            .unwrap()
            .get(&fault)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_injected(&self) -> u64 {
        self.injected.lock().unwrap().values().sum()
    }
}

/// A running proxy; dropping it stops it.
pub struct FaultProxy {
    pub addr: SocketAddr,
    pub stats: Arc<ProxyStats>,
    plan: Arc<Mutex<Choice>>,
    task: JoinHandle<()>,
}

/// What decides the next request's fault: the scripted faults first, then the plan's RNG.
struct Choice {
    plan: FaultPlan,
    rng: fastrand::Rng,
    script: std::collections::VecDeque<Fault>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr, plan: FaultPlan) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(ProxyStats::default());
        let rng = fastrand::Rng::with_seed(plan.seed);
        let plan = Arc::new(Mutex::new(Choice {
            plan,
            rng,
            script: Default::default(),
        }));
        let task = {
            let stats = stats.clone();
            let plan = plan.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let stats = stats.clone();
                    let plan = plan.clone();
                    tokio::spawn(async move {
                        let _ = serve_connection(client, upstream, plan, stats).await;
                    });
                }
            })
        };
        Ok(FaultProxy {
            addr,
            stats,
            plan,
            task,
        })
    }

    /// `http://127.0.0.1:port`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the plan for requests from now on (e.g. "network lost": `fault_rate = 1.0`
    /// with only [`Fault::Reset`]).
    pub fn set_plan(&self, plan: FaultPlan) {
        let mut guard = self.plan.lock().unwrap();
        guard.rng = fastrand::Rng::with_seed(plan.seed);
        guard.plan = plan;
    }

    /// Gives each of the next `count` requests `fault`, after the faults already scripted and
    /// before the plan's random choice.
    pub fn inject_next(&self, fault: Fault, count: usize) {
        let mut guard = self.plan.lock().unwrap();
        guard.script.extend(std::iter::repeat_n(fault, count));
    }

    /// Drops the scripted faults not yet used; returns how many there were.
    pub fn clear_script(&self) -> usize {
        let mut guard = self.plan.lock().unwrap();
        let left = guard.script.len();
        guard.script.clear();
        left
    }
}

fn choose(choice: &Mutex<Choice>) -> (Option<Fault>, Duration, u64) {
    let mut guard = choice.lock().unwrap();
    let Choice { plan, rng, script } = &mut *guard;
    let fault = if let Some(scripted) = script.pop_front() {
        Some(scripted)
    } else if !plan.faults.is_empty() && rng.f64() < plan.fault_rate {
        Some(plan.faults[rng.usize(..plan.faults.len())])
    } else {
        None
    };
    (fault, plan.stall, plan.retry_after_s)
}

async fn serve_connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    plan: Arc<Mutex<Choice>>,
    stats: Arc<ProxyStats>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_message(&mut client, &mut buffer).await? else {
            return Ok(());
        };
        let (fault, stall, retry_after) = choose(&plan);
        if let Some(f) = fault {
            *stats.injected.lock().unwrap().entry(f).or_default() += 1;
        }
        let canned = |status: &str, extra: String| {
            let body = format!(
                "{{\"code\":\"injected\",\"message\":\"{status} injected by the test proxy\"}}"
            );
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}",
                body.len()
            )
        };
        match fault {
            Some(Fault::Reset) => return Ok(()),
            Some(Fault::Stall) => {
                tokio::time::sleep(stall).await;
                return Ok(());
            }
            Some(Fault::ServerError) => {
                client
                    .write_all(canned("500 Internal Server Error", String::new()).as_bytes())
                    .await?;
                return Ok(());
            }
            Some(Fault::Unavailable) => {
                let extra = format!("retry-after: {retry_after}\r\n");
                client
                    .write_all(canned("503 Service Unavailable", extra).as_bytes())
                    .await?;
                return Ok(());
            }
            Some(Fault::TooManyRequests) => {
                let extra = format!("retry-after: {retry_after}\r\n");
                client
                    .write_all(canned("429 Too Many Requests", extra).as_bytes())
                    .await?;
                return Ok(());
            }
            _ => {}
        }
        // Forward over a fresh upstream connection.
        let mut server = TcpStream::connect(upstream).await?;
        server.write_all(&request).await?;
        let mut upstream_buffer = Vec::new();
        let Some(response) = read_message(&mut server, &mut upstream_buffer).await? else {
            return Ok(());
        };
        stats.forwarded.fetch_add(1, Ordering::Relaxed);
        match fault {
            Some(Fault::LoseResponse) => return Ok(()),
            Some(Fault::Truncate) => {
                let cut = response.len() / 2;
                client.write_all(&response[..cut]).await?;
                return Ok(());
            }
            Some(Fault::Slow) => {
                for chunk in response.chunks(64) {
                    client.write_all(chunk).await?;
                    client.flush().await?;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            _ => client.write_all(&response).await?,
        }
    }
}

/// Reads one HTTP/1.1 message (head + Content-Length body) from `stream`, using `buffer` for
/// bytes that arrived beyond it. `None` when the peer closed before a message began.
async fn read_message(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(head_end) = find(buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let total = head_end + 4 + length;
            while buffer.len() < total {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let message = buffer[..total].to_vec();
            buffer.drain(..total);
            return Ok(Some(message));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
