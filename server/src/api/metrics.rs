//! The server's metrics and `GET /metrics`, in the OpenMetrics text format (the Prometheus
//! text exposition's standard successor, which Prometheus scrapes natively), written with
//! `prometheus-client`, the Prometheus project's own Rust client.
//!
//! This file owns the series (their names, help, labels and buckets) and the scrape endpoint.
//! It records nothing by itself: the request middleware (`telemetry.rs`), the storage runner
//! (`AppState::db`) and the push and enrolment handlers call the `record_*` methods. Every
//! label takes values from a closed set (route templates, never raw paths; status codes; the
//! protocol's item statuses; enrolment outcomes), so the number of series stays bounded
//! whatever clients send.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use daka_core::protocol::ItemStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

use super::failure::Failure;
use super::state::AppState;

/// The content type of the scrape: OpenMetrics text 1.0.0.
pub(crate) const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request that matched no route: never the raw path.
pub(crate) const UNMATCHED: &str = "unmatched";

/// Request latency buckets, in seconds: 1 ms to 30 s (the request timeout).
const HTTP_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Storage call buckets, in seconds: 50 µs to 10 s.
const STORAGE_BUCKETS: [f64; 15] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5,
    10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Cow<'static, str>,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

/// The server's series and the registry they are written from.
pub(crate) struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    http_in_flight: Gauge,
    push_items: Family<StatusLabels, Counter>,
    enrolments: Family<OutcomeLabels, Counter>,
    storage_wait: Histogram,
    storage_duration: Histogram,
    storage_in_flight: Gauge,
    push_admitted_items: Gauge,
    push_line_places: Gauge,
    push_item_cost: Gauge<f64, AtomicU64>,
    push_wait_overrun: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every series, the build info and the start time set.
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("daka");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status code",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(http_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request reaching the server to its answer being ready, by method and route template",
            Unit::Seconds,
            http_duration.clone(),
        );
        let http_in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being handled now",
            http_in_flight.clone(),
        );
        let push_items = Family::<StatusLabels, Counter>::default();
        registry.register(
            "push_items",
            "Items of POST /v1/push, by the status answered for each (accepted, duplicate, rejected, retry)",
            push_items.clone(),
        );
        let enrolments = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "enrolments",
            "Device enrolments, by outcome (enrolled, or the refusal's code)",
            enrolments.clone(),
        );
        let storage_wait = Histogram::new(STORAGE_BUCKETS);
        registry.register_with_unit(
            "storage_queue_wait",
            "Time a storage call waited for a thread of the blocking pool before it ran",
            Unit::Seconds,
            storage_wait.clone(),
        );
        let storage_duration = Histogram::new(STORAGE_BUCKETS);
        registry.register_with_unit(
            "storage_call_duration",
            "Time a storage call ran, waiting for the database's connections and locks included",
            Unit::Seconds,
            storage_duration.clone(),
        );
        let storage_in_flight = Gauge::default();
        registry.register(
            "storage_calls_in_flight",
            "Storage calls queued or running now",
            storage_in_flight.clone(),
        );
        let push_admitted_items = Gauge::default();
        registry.register(
            "push_admitted_items",
            "Items of the pushes admitted and not yet answered",
            push_admitted_items.clone(),
        );
        let push_line_places = Gauge::default();
        registry.register(
            "push_line_places",
            "Refused pushes holding a place in line (answered 503 busy, to come back at their turn)",
            push_line_places.clone(),
        );
        let push_item_cost: Gauge<f64, AtomicU64> = Gauge::default();
        registry.register_with_unit(
            "push_item_cost",
            "The measured cost of a push item that admission estimates waits with (0 until measured)",
            Unit::Seconds,
            push_item_cost.clone(),
        );
        let push_wait_overrun: Gauge<f64, AtomicU64> = Gauge::default();
        registry.register(
            "push_wait_overrun_ratio",
            "How much longer the admitted pushes were answered than their estimated waits (1 to 8); the cost is multiplied by it to admit",
            push_wait_overrun.clone(),
        );
        registry.register(
            "build",
            "The server's version",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        let started: Gauge<f64, AtomicU64> = Gauge::default();
        started.set(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        registry.register_with_unit(
            "process_start_time",
            "When the server started, in seconds since the Unix epoch",
            Unit::Seconds,
            started,
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            push_items,
            enrolments,
            storage_wait,
            storage_duration,
            storage_in_flight,
            push_admitted_items,
            push_line_places,
            push_item_cost,
            push_wait_overrun,
        }
    }

    /// Sets the push admission's gauges from what it holds now.
    pub(crate) fn set_admission(&self, state: &super::admission::AdmissionState) {
        self.push_admitted_items
            .set(i64::try_from(state.pending_items).unwrap_or(i64::MAX));
        self.push_line_places
            .set(i64::try_from(state.places).unwrap_or(i64::MAX));
        self.push_item_cost.set(state.item_cost_seconds);
        self.push_wait_overrun.set(state.overrun);
    }

    /// A request began: the in-flight gauge goes up until [`Metrics::record_request`].
    pub(crate) fn request_started(&self) {
        self.http_in_flight.inc();
    }

    /// A request was answered with `status` after `elapsed`.
    pub(crate) fn record_request(
        &self,
        method: &'static str,
        route: Cow<'static, str>,
        status: u16,
        elapsed: Duration,
    ) {
        self.http_in_flight.dec();
        let labels = RouteLabels { method, route };
        self.http_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.http_requests
            .get_or_create(&RequestLabels {
                method,
                route: labels.route,
                status,
            })
            .inc();
    }

    /// The items of one push, by the status answered for each.
    pub(crate) fn record_push_items<'a>(&self, statuses: impl IntoIterator<Item = &'a ItemStatus>) {
        let mut counts = [0u64; 4];
        for status in statuses {
            counts[match status {
                ItemStatus::Accepted => 0,
                ItemStatus::Duplicate => 1,
                ItemStatus::Rejected => 2,
                ItemStatus::Retry => 3,
            }] += 1;
        }
        for (status, n) in ["accepted", "duplicate", "rejected", "retry"]
            .into_iter()
            .zip(counts)
        {
            if n > 0 {
                self.push_items
                    .get_or_create(&StatusLabels { status })
                    .inc_by(n);
            }
        }
    }

    /// An enrolment ended with `outcome` (`enrolled`, or the refusal's code).
    pub(crate) fn record_enrolment(&self, outcome: &'static str) {
        self.enrolments
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// A storage call was handed to the blocking pool.
    pub(crate) fn storage_queued(&self) {
        self.storage_in_flight.inc();
    }

    /// A storage call started running after waiting `waited` for a thread.
    pub(crate) fn storage_started(&self, waited: Duration) {
        self.storage_wait.observe(waited.as_secs_f64());
    }

    /// A storage call finished after running for `ran` (or was dropped unrun).
    pub(crate) fn storage_finished(&self, ran: Option<Duration>) {
        self.storage_in_flight.dec();
        if let Some(ran) = ran {
            self.storage_duration.observe(ran.as_secs_f64());
        }
    }

    /// Every series in the OpenMetrics text format, ending with `# EOF`.
    pub(crate) fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(8192);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// `GET /metrics`: every series, for Prometheus.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "The server's metrics in the OpenMetrics text format (`application/openmetrics-text; version=1.0.0`): requests by route and status, latency histograms, push items by status, enrolments, storage calls, push admission (items admitted, places in line, the cost of an item and its overrun), build info. See docs/server.md, Operations.", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "`unauthorized`: the server has a metrics token (`ServerOptions::metrics_token`, `daka serve --metrics-token`) and the request did not carry it as `Authorization: Bearer`", body = daka_core::protocol::ApiError),
    ),
    security((), ("metrics_token" = [])))]
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.inner.options.metrics_token {
        let given = match super::extract::bearer_token(&headers) {
            Ok(token) => token,
            Err(failure) => return failure.into_response(),
        };
        // Compared as hashes, so the time taken says nothing about the token.
        if crate::crypto::sha256_hex(given.as_bytes())
            != crate::crypto::sha256_hex(expected.as_bytes())
        {
            return Failure::unauthorized("unauthorized", "the metrics token is not valid")
                .into_response();
        }
    }
    state
        .inner
        .metrics
        .set_admission(&state.inner.push_admission.state());
    match state.inner.metrics.render() {
        Ok(text) => ([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text).into_response(),
        Err(e) => Failure::internal(format!("cannot write the metrics: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_written_with_their_labels() {
        let m = Metrics::new();
        m.request_started();
        m.record_request(
            "GET",
            Cow::Borrowed("/v1/policy"),
            200,
            Duration::from_millis(3),
        );
        m.record_push_items(&[
            ItemStatus::Accepted,
            ItemStatus::Accepted,
            ItemStatus::Retry,
        ]);
        m.record_enrolment("enrolled");
        let text = m.render().unwrap();
        assert!(
            text.contains(
                r#"daka_http_requests_total{method="GET",route="/v1/policy",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"daka_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/policy"} 1"#)
                || text.contains(r#"daka_http_request_duration_seconds_bucket{method="GET",route="/v1/policy",le="0.005"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"daka_push_items_total{status="accepted"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"daka_push_items_total{status="retry"} 1"#),
            "{text}"
        );
        assert!(!text.contains(r#"status="duplicate""#), "{text}");
        assert!(
            text.contains(r#"daka_enrolments_total{outcome="enrolled"} 1"#),
            "{text}"
        );
        assert!(text.contains("daka_http_requests_in_flight 0"), "{text}");
        assert!(
            text.contains(&format!(
                r#"daka_build_info{{version="{}"}} 1"#,
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        assert!(text.contains("daka_process_start_time_seconds "), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
