//! The timed part: every device drains its backlog with `POST /v1/push` as the sync protocol
//! says, at most `concurrency` requests in flight across the fleet, until every backlog is
//! delivered or the time limit passes.
//!
//! A batch's body is built once and sent again as the same bytes; every device's first is
//! built before the clock, as its records were signed.
//!
//! Each device has its own HTTP client and so its own connection, as a phone does. By default
//! every device opens it before the clock starts (`GET /health`), so the run measures a fleet
//! that is connected; with `cold_start` each connects at its first push, inside the clock, and
//! the run measures a fleet reconnecting together.
//!
//! A device sends its unacknowledged records in chain order, `batch` at a time, and honours
//! each answer: `accepted` and `duplicate` items are delivered (a duplicate is one the server
//! applied before, e.g. from a request whose answer was lost), a `rejected` item is parked and
//! the rest go on, and the first `retry` item (and everything after it) is sent again after a
//! back-off. A 429 or 503 waits as long as the server says (the body's `retry_after_ms`, else
//! `Retry-After`); a timeout, a broken connection or a 5xx backs off with full jitter and sends
//! the same batch again; a 413 halves the batch; any other refusal stops that device. A device
//! whose push was refused `busy` holds a place in the server's line and, as the SDK does, asks
//! `POST /v1/push/turn` before it sends the push again; a device whose first push is a backlog
//! of [`ASK_TURN_FROM_BYTES`] or more asks before that one too (neither with `ask_turn` off). Every
//! request's latency goes into HDR histograms: the pushes' and the turn questions' apart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use daka_core::protocol::{ApiError, ItemStatus, PushResponse};
use daka_device::sync::batching::ASK_TURN_FROM_BYTES;
use daka_device::sync::client::retry_after;
use hdrhistogram::Histogram;
use reqwest::header;
use tokio::sync::Semaphore;

use super::fleet::SimDevice;

/// Longest back-off after a failed request, before the server's `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// First back-off step.
const BASE_BACKOFF: Duration = Duration::from_millis(50);

/// How the fleet is driven.
#[derive(Clone, Copy)]
pub(super) struct DriveConfig {
    /// Items per request (the first; a 413 halves it for that device).
    pub(super) batch: usize,
    /// Requests in flight at once, across the fleet.
    pub(super) concurrency: usize,
    /// When to stop, delivered or not.
    pub(super) deadline: Instant,
    /// Each request's limit.
    pub(super) request_timeout: Duration,
    /// Connect each device at its first push, inside the clock, not before it.
    pub(super) cold_start: bool,
    /// After a `busy` refusal, ask `POST /v1/push/turn` before sending the push again.
    pub(super) ask_turn: bool,
}

/// What [`drive`] measured: the stats, each device's delivery (in fleet order), the wall time
/// from the first push to the last answer, and how long the fleet took to connect before the
/// clock (`None` with `cold_start`).
pub(super) struct Driven {
    pub(super) stats: Stats,
    pub(super) deliveries: Vec<Delivery>,
    pub(super) wall: Duration,
    pub(super) connect: Option<Duration>,
}

/// What the run saw, across the fleet.
pub(super) struct Stats {
    /// Latency of every request that got an answer (or timed out), microseconds.
    pub(super) latency_us: Histogram<u64>,
    /// Latency of the pushes answered with their items' results (200), microseconds: the
    /// requests that did the work, without the refusals that were answered at once.
    pub(super) answered_us: Histogram<u64>,
    /// Latency of every request after each device's first, microseconds: without the fleet's
    /// opening burst, in which every device sends its first push at the same moment.
    pub(super) later_us: Histogram<u64>,
    /// Latency of the turn questions (`POST /v1/push/turn`), microseconds.
    pub(super) turn_us: Histogram<u64>,
    /// Latency of every request, pushes and turn questions, microseconds.
    pub(super) all_us: Histogram<u64>,
    /// Requests by outcome: the HTTP status, `timeout` or `network`.
    pub(super) requests: BTreeMap<String, u64>,
    /// Items by answer: `accepted`, `duplicate`, `rejected`, `retry`.
    pub(super) items: BTreeMap<String, u64>,
    /// Errors by code: a rejected or retried item's code, a refused request's code, or
    /// `timeout` / `network`.
    pub(super) errors: BTreeMap<String, u64>,
    /// Requests cut off by the time limit (not counted above).
    pub(super) cut_off: u64,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            latency_us: latency_histogram(),
            answered_us: latency_histogram(),
            later_us: latency_histogram(),
            turn_us: latency_histogram(),
            all_us: latency_histogram(),
            requests: BTreeMap::new(),
            items: BTreeMap::new(),
            errors: BTreeMap::new(),
            cut_off: 0,
        }
    }
}

/// 1 µs to 10 min at three significant figures; a bounded, known size.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("the histogram's bounds are valid")
}

/// What one device got through.
pub(super) struct Delivery {
    /// For each record of the backlog: the server's final answer, if any (`accepted` and
    /// `duplicate` mean acknowledged).
    pub(super) answers: Vec<Option<ItemStatus>>,
    /// Why the device stopped before delivering everything, if it did.
    pub(super) stopped: Option<String>,
}

/// Whether a record's final answer means the server acknowledged it (`accepted`, or
/// `duplicate`: applied before).
pub(super) fn acknowledged(answer: &Option<ItemStatus>) -> bool {
    matches!(answer, Some(ItemStatus::Accepted | ItemStatus::Duplicate))
}

/// Drives every device against its target's URL.
pub(super) async fn drive(
    urls: &[String],
    fleet: Arc<Vec<SimDevice>>,
    config: DriveConfig,
) -> Result<Driven, String> {
    let clients = (0..fleet.len())
        .map(|_| {
            reqwest::Client::builder()
                .timeout(config.request_timeout)
                .pool_idle_timeout(Duration::from_secs(90))
                .build()
                .map_err(|e| format!("cannot make an HTTP client: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let connect = if config.cold_start {
        None
    } else {
        Some(connect_fleet(urls, &fleet, &clients).await?)
    };
    // Every device's first body is built before the clock, as its signing is: on a phone it
    // is the phone's own work, not the server's.
    let first_bodies: Vec<Bytes> = fleet
        .iter()
        .map(|device| push_body(device, 0, first_end(device, config)))
        .collect();
    let stats = Arc::new(Mutex::new(Stats::new()));
    let gate = Arc::new(Semaphore::new(config.concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(fleet.len());
    for (i, (http, first_body)) in clients.into_iter().zip(first_bodies).enumerate() {
        let (fleet, stats, gate) = (fleet.clone(), stats.clone(), gate.clone());
        let url = format!("{}/v1/push", urls[fleet[i].target]);
        tasks.push(tokio::spawn(async move {
            let device = Endpoint {
                device: &fleet[i],
                url: &url,
                http: &http,
            };
            drain(device, &gate, &stats, config, first_body).await
        }));
    }
    let mut deliveries = Vec::with_capacity(tasks.len());
    for task in tasks {
        deliveries.push(
            task.await
                .map_err(|e| format!("a device task failed: {e}"))?,
        );
    }
    let wall = started.elapsed();
    let stats = Arc::try_unwrap(stats)
        .map_err(|_| "the stats are still shared".to_string())?
        .into_inner()
        .map_err(|_| "the stats lock was poisoned".to_string())?;
    Ok(Driven {
        stats,
        deliveries,
        wall,
        connect,
    })
}

/// Opens every device's connection (`GET /health` on its own client, all at once) and keeps
/// it for the pushes; how long that took.
async fn connect_fleet(
    urls: &[String],
    fleet: &[SimDevice],
    clients: &[reqwest::Client],
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut connects = tokio::task::JoinSet::new();
    for (device, http) in fleet.iter().zip(clients) {
        let request = http.get(format!("{}/health", urls[device.target])).send();
        connects.spawn(async move {
            match request.await {
                Ok(answer) if answer.status().is_success() => {
                    // Read the body to the end, so the connection goes back for the pushes.
                    answer.bytes().await.map(|_| ()).map_err(|e| e.to_string())
                }
                Ok(answer) => Err(format!("GET /health answered {}", answer.status())),
                Err(e) => Err(e.to_string()),
            }
        });
    }
    while let Some(joined) = connects.join_next().await {
        joined
            .map_err(|e| format!("a connecting task failed: {e}"))?
            .map_err(|e| format!("a device could not connect before the clock: {e}"))?;
    }
    Ok(started.elapsed())
}

/// A request's outcome, as far as the device is concerned.
enum Answer {
    /// The push was answered.
    Pushed(PushResponse),
    /// Wait this long (the server's `Retry-After`, or a back-off) and send again.
    Again(Option<Duration>),
    /// The body was too large: halve the batch.
    TooLarge,
    /// Answered with no content (204): the answer to a turn question whose turn has come.
    NoContent,
    /// Stop this device: the reason.
    Stop(String),
}

/// Why a device's request got no answer: the run was closed, or the time limit passed.
enum Unanswered {
    Closed,
    TimeLimit,
}

/// A device and where it pushes.
#[derive(Clone, Copy)]
struct Endpoint<'a> {
    device: &'a SimDevice,
    /// `…/v1/push`.
    url: &'a str,
    http: &'a reqwest::Client,
}

/// Drains one device's backlog.
async fn drain(
    at: Endpoint<'_>,
    gate: &Semaphore,
    stats: &Mutex<Stats>,
    config: DriveConfig,
    first_body: Bytes,
) -> Delivery {
    let device = at.device;
    let turn_url = format!("{}/turn", at.url);
    let mut answers: Vec<Option<ItemStatus>> = vec![None; device.backlog.len()];
    let mut next = 0;
    let mut batch = config.batch;
    let mut failures: u32 = 0;
    let mut stopped = None;
    let mut first = true;
    // Whether to ask for the turn before the next push: as the SDK does, when the device holds
    // a place in the server's line (refused `busy`), or before the first push of a backlog of
    // `ASK_TURN_FROM_BYTES` or more; not once the server has answered that it does not offer
    // the question.
    let mut ask_first = first_body.len() >= ASK_TURN_FROM_BYTES;
    let mut ask_turn = config.ask_turn;
    // The body of the batch last built, by its range of the backlog.
    let mut built = (0, first_end(device, config), first_body);
    while next < device.backlog.len() {
        if Instant::now() >= config.deadline {
            stopped = Some("time limit".to_string());
            break;
        }
        let end = (next + batch).min(device.backlog.len());
        if ask_first && ask_turn {
            let body = format!("{{\"items\":{}}}", end - next);
            let (outcome, answer, us) =
                match request(at, gate, &turn_url, body, config.deadline).await {
                    Ok(answered) => answered,
                    Err(unanswered) => {
                        stopped = Some(give_up(unanswered, stats));
                        break;
                    }
                };
            {
                let mut s = lock(stats);
                s.turn_us.saturating_record(us);
                s.all_us.saturating_record(us);
                *s.requests.entry(format!("turn {outcome}")).or_default() += 1;
            }
            match turn_of(&outcome, answer) {
                Turn::Now => {}
                Turn::Unoffered => ask_turn = false,
                Turn::Again(wait) => {
                    failures += 1;
                    pause(wait.unwrap_or_else(|| backoff(failures)), config.deadline).await;
                    continue;
                }
                Turn::Stop(reason) => {
                    stopped = Some(reason);
                    break;
                }
            }
        }
        // A batch sent again (refused, or retried after a failure) is the same bytes.
        if (built.0, built.1) != (next, end) {
            built = (next, end, push_body(device, next, end));
        }
        let body = built.2.clone();
        let (outcome, answer, us) = match request(at, gate, at.url, body, config.deadline).await {
            Ok(answered) => answered,
            Err(unanswered) => {
                stopped = Some(give_up(unanswered, stats));
                break;
            }
        };
        {
            let mut s = lock(stats);
            s.latency_us.saturating_record(us);
            s.all_us.saturating_record(us);
            if matches!(answer, Answer::Pushed(_)) {
                s.answered_us.saturating_record(us);
            }
            if !first {
                s.later_us.saturating_record(us);
            }
            *s.requests.entry(outcome.clone()).or_default() += 1;
            if !matches!(answer, Answer::Pushed(_)) {
                *s.errors.entry(error_code(&outcome)).or_default() += 1;
            }
        }
        first = false;
        ask_first = outcome == "503 busy";
        match answer {
            Answer::Pushed(response) => {
                match settle(device, next, end, &response, &mut answers, stats) {
                    Err(reason) => {
                        stopped = Some(reason);
                        break;
                    }
                    Ok((advanced, retried)) => {
                        next += advanced;
                        if retried {
                            failures += 1;
                            pause(backoff(failures), config.deadline).await;
                        } else {
                            failures = 0;
                        }
                    }
                }
            }
            Answer::Again(wait) => {
                failures += 1;
                pause(wait.unwrap_or_else(|| backoff(failures)), config.deadline).await;
            }
            Answer::TooLarge => {
                if batch == 1 {
                    stopped = Some("the server refused a single item as too large".into());
                    break;
                }
                batch = (batch / 2).max(1);
            }
            Answer::NoContent => {
                stopped = Some("the push was answered without content".into());
                break;
            }
            Answer::Stop(reason) => {
                stopped = Some(reason);
                break;
            }
        }
    }
    Delivery { answers, stopped }
}

/// Sends `body` to `url` as the device, once the fleet's gate lets it and before the
/// deadline: the outcome's name for the request counts, what the device should do, and the
/// latency in microseconds.
async fn request(
    at: Endpoint<'_>,
    gate: &Semaphore,
    url: &str,
    body: impl Into<reqwest::Body>,
    deadline: Instant,
) -> Result<(String, Answer, u64), Unanswered> {
    let Ok(_permit) = gate.acquire().await else {
        return Err(Unanswered::Closed);
    };
    let sent = Instant::now();
    let request = at
        .http
        .post(url)
        .bearer_auth(&at.device.token)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send();
    let (outcome, answer) = tokio::time::timeout_at(deadline.into(), exchange(request))
        .await
        .map_err(|_| Unanswered::TimeLimit)?;
    Ok((outcome, answer, micros(sent)))
}

/// Why the device stops when a request got no answer; a request cut off by the time limit is
/// counted.
fn give_up(unanswered: Unanswered, stats: &Mutex<Stats>) -> String {
    match unanswered {
        Unanswered::Closed => "the run was closed".to_string(),
        Unanswered::TimeLimit => {
            lock(stats).cut_off += 1;
            "time limit".to_string()
        }
    }
}

/// Microseconds since `sent`, at least 1 (the histograms' lowest value).
fn micros(sent: Instant) -> u64 {
    u64::try_from(sent.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Where a device's first batch ends in its backlog.
fn first_end(device: &SimDevice, config: DriveConfig) -> usize {
    config.batch.min(device.backlog.len())
}

/// The body of a push of the backlog's records `next..end`: `{"items":[…]}` from the items
/// signed before the clock.
fn push_body(device: &SimDevice, next: usize, end: usize) -> Bytes {
    let items = &device.backlog[next..end];
    let mut body =
        String::with_capacity(16 + items.iter().map(|b| b.item.len() + 1).sum::<usize>());
    body.push_str("{\"items\":[");
    for (k, b) in items.iter().enumerate() {
        if k > 0 {
            body.push(',');
        }
        body.push_str(&b.item);
    }
    body.push_str("]}");
    Bytes::from(body)
}

/// Takes a push's answers for the items `next..end`: counts them, notes each delivered or
/// refused item's final answer up to the first `retry`; how many items were settled and
/// whether one must be retried, or why the device must stop (an answer that does not match
/// what was sent).
fn settle(
    device: &SimDevice,
    next: usize,
    end: usize,
    response: &PushResponse,
    answers: &mut [Option<ItemStatus>],
    stats: &Mutex<Stats>,
) -> Result<(usize, bool), String> {
    if response.results.len() != end - next {
        return Err(format!(
            "the server answered {} items of {}",
            response.results.len(),
            end - next
        ));
    }
    let mut s = lock(stats);
    let mut advanced = 0;
    let mut retried = false;
    for (k, result) in response.results.iter().enumerate() {
        let word = match result.status {
            ItemStatus::Accepted => "accepted",
            ItemStatus::Duplicate => "duplicate",
            ItemStatus::Rejected => "rejected",
            ItemStatus::Retry => "retry",
        };
        *s.items.entry(word.to_string()).or_default() += 1;
        if matches!(result.status, ItemStatus::Rejected | ItemStatus::Retry) {
            let code = result.code.as_deref().unwrap_or("no_code");
            *s.errors.entry(format!("{word}:{code}")).or_default() += 1;
        }
        let index = next + k;
        if device.backlog[index].id != result.id {
            return Err(format!(
                "the server answered item {:?} where {:?} was sent",
                result.id, device.backlog[index].id
            ));
        }
        if !retried {
            if result.status == ItemStatus::Retry {
                retried = true;
            } else {
                answers[index] = Some(result.status);
                advanced += 1;
            }
        }
    }
    Ok((advanced, retried))
}

/// Sends one push and reads its answer: the outcome's name for the request counts, and what
/// the device should do.
async fn exchange(
    request: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) -> (String, Answer) {
    let response = match request.await {
        Ok(r) => r,
        Err(e) => return transport(&e),
    };
    let status = response.status();
    let retry_after_header = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return transport(&e),
    };
    let outcome = status.as_u16().to_string();
    if status == reqwest::StatusCode::NO_CONTENT {
        return (outcome, Answer::NoContent);
    }
    if status.is_success() {
        return match serde_json::from_slice::<PushResponse>(&bytes) {
            Ok(r) => (outcome, Answer::Pushed(r)),
            Err(e) => (
                outcome,
                Answer::Stop(format!("unexpected push answer: {e}")),
            ),
        };
    }
    let error = serde_json::from_slice::<ApiError>(&bytes).ok();
    let wait =
        retry_after(retry_after_header.as_deref(), error.as_ref()).map(Duration::from_millis);
    let code = error.map_or_else(|| "http_error".to_string(), |e| e.code);
    let answer = match status.as_u16() {
        429 | 503 => Answer::Again(Some(wait.unwrap_or(Duration::from_secs(1)))),
        413 => Answer::TooLarge,
        500..=599 => Answer::Again(None),
        s => Answer::Stop(format!("the server refused a push: {s} {code}")),
    };
    (format!("{outcome} {code}"), answer)
}

/// The answer to a turn question, as far as the device is concerned.
enum Turn {
    /// Its turn: send the push now.
    Now,
    /// Not yet: wait this long (the server's wait, or a back-off) and ask again.
    Again(Option<Duration>),
    /// The server does not offer the question (404): send pushes at once from now on.
    Unoffered,
    /// Stop this device: the reason.
    Stop(String),
}

/// What a turn question's answer (`outcome`, read as a push's `answer`) means for the device.
fn turn_of(outcome: &str, answer: Answer) -> Turn {
    match answer {
        Answer::NoContent => Turn::Now,
        Answer::Again(wait) => Turn::Again(wait),
        _ if outcome.starts_with("404 ") => Turn::Unoffered,
        Answer::Pushed(_) | Answer::TooLarge => {
            Turn::Stop(format!("the turn question was answered {outcome}"))
        }
        Answer::Stop(reason) => Turn::Stop(reason),
    }
}

fn transport(e: &reqwest::Error) -> (String, Answer) {
    let outcome = if e.is_timeout() { "timeout" } else { "network" };
    (outcome.to_string(), Answer::Again(None))
}

/// The error code of a failed request: the server's code after the status (`503 busy`), or
/// the transport's word (`timeout`, `network`).
fn error_code(outcome: &str) -> String {
    outcome
        .split_once(' ')
        .map_or(outcome, |(_, code)| code)
        .to_string()
}

/// Exponential back-off with full jitter, capped.
fn backoff(failures: u32) -> Duration {
    let cap = BASE_BACKOFF
        .saturating_mul(1 << failures.min(16))
        .min(MAX_BACKOFF);
    cap.mul_f64(fastrand::f64())
}

/// Sleeps for `wait`, but not past the deadline.
async fn pause(wait: Duration, deadline: Instant) {
    let until = (Instant::now() + wait).min(deadline);
    tokio::time::sleep_until(until.into()).await;
}

fn lock(stats: &Mutex<Stats>) -> std::sync::MutexGuard<'_, Stats> {
    // A panic while holding the lock leaves counts that are still counts.
    stats.lock().unwrap_or_else(|p| p.into_inner())
}
