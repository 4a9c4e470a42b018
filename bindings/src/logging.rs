//! The SDK's logs, routed to the app: the foreign trait [`LogSink`] and [`set_log_sink`].
//!
//! daka-device and its sync client log through `tracing` (what happened and with what counts
//! and codes; never a token, a request or response body, a face token or a key). Nothing is
//! logged until the app installs a sink: then every event at or above the chosen level arrives
//! as one [`LogRecord`], on whichever daka thread produced it, so a sink forwards to Logcat,
//! `os_log` or the app's own logger and returns quickly.
//!
//! The forwarder is a `tracing` subscriber of its own, about as small as one can be (events
//! only; daka opens no spans), rather than `tracing-subscriber`'s registry and layers: the
//! phone library pays for every kilobyte, and a sink needs none of their filtering or
//! formatting. It is installed as the process's global subscriber the first time a sink is
//! set; a later call swaps the sink and level in place.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use crate::error::DakaError;

/// How much to log, from the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed that the app or the user may need to act on.
    Error,
    /// Something unexpected that daka handled (a retry, a refused item).
    Warn,
    /// One line per sync round, enrolment, policy change or background-loop change.
    Info,
    /// Per-request detail: batch sizes, answers by kind, backoff delays.
    Debug,
    /// Everything, for debugging daka itself.
    Trace,
}

impl LogLevel {
    fn of(level: &Level) -> LogLevel {
        match *level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        }
    }

    fn filter(self) -> tracing::level_filters::LevelFilter {
        use tracing::level_filters::LevelFilter;
        match self {
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

/// One structured value of a log event, e.g. `sent = 42` or `code = "fork"`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogField {
    /// The field's name.
    pub name: String,
    /// The value as text (strings without quotes).
    pub value: String,
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    /// How severe it is.
    pub level: LogLevel,
    /// Where it comes from: a Rust module path such as `daka_device::engine::sync`; use it
    /// as the tag.
    pub target: String,
    /// What happened, in words.
    pub message: String,
    /// The event's values, in the order they were written.
    pub fields: Vec<LogField>,
}

/// Receives daka's log events. Implement it over Logcat (`android.util.Log`), `os_log` /
/// `Logger`, or the app's logger, and install it with [`set_log_sink`]. Called on daka's
/// threads, possibly several at once; return quickly. What it throws is ignored.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    /// One event at or above the level given to [`set_log_sink`].
    fn log(&self, record: LogRecord) -> Result<(), DakaError>;
}

/// Sends daka's logs at `max_level` and above to `sink`, replacing any sink set before. Call it
/// once at start-up, before opening a device, to see everything.
///
/// Fails with `DakaError::Internal` only if something else in the process already installed
/// a global `tracing` subscriber (an app with Rust code of its own); daka's events then go to
/// that subscriber.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, max_level: LogLevel) -> Result<(), DakaError> {
    install()?;
    *route().write().unwrap_or_else(|p| p.into_inner()) = Some((sink, max_level));
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

/// Stops sending logs to the app's sink; daka logs nothing until one is set again.
#[uniffi::export]
pub fn clear_log_sink() {
    *route().write().unwrap_or_else(|p| p.into_inner()) = None;
    tracing::callsite::rebuild_interest_cache();
}

type Route = RwLock<Option<(Arc<dyn LogSink>, LogLevel)>>;

fn route() -> &'static Route {
    static ROUTE: OnceLock<Route> = OnceLock::new();
    ROUTE.get_or_init(|| RwLock::new(None))
}

/// Installs [`Forwarder`] as the global subscriber, once.
fn install() -> Result<(), DakaError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            tracing::subscriber::set_global_default(Forwarder::default()).map_err(|e| {
                format!("cannot route daka's logs: another tracing subscriber is installed ({e})")
            })
        })
        .clone()
        .map_err(|reason| DakaError::Internal { reason })
}

/// The global subscriber: events at or below the sink's level, as [`LogRecord`]s.
#[derive(Default)]
struct Forwarder {
    next_span: AtomicU64,
}

impl Forwarder {
    fn max_level() -> Option<LogLevel> {
        route()
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(_, level)| *level)
    }
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        Forwarder::max_level().is_some_and(|max| LogLevel::of(metadata.level()) <= max)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(
            Forwarder::max_level()
                .map_or(tracing::level_filters::LevelFilter::OFF, LogLevel::filter),
        )
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are not forwarded; each still needs an id that is not zero.
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let sink = match route().read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some((sink, max)) if LogLevel::of(event.metadata().level()) <= *max => sink.clone(),
            _ => return,
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let record = LogRecord {
            level: LogLevel::of(event.metadata().level()),
            target: event.metadata().target().to_owned(),
            message: fields.message,
            fields: fields.rest,
        };
        // A sink that throws must not disturb what daka is doing.
        let _ = sink.log(record);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Collects an event's `message` and its other fields.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<LogField>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.push(LogField {
                name: field.name().to_owned(),
                value: value.to_owned(),
            });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push(LogField {
                name: field.name().to_owned(),
                value: format!("{value:?}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// `message key=value …`.
    fn line(r: &LogRecord) -> String {
        let mut out = r.message.clone();
        for f in &r.fields {
            out.push_str(&format!(" {}={}", f.name, f.value));
        }
        out
    }

    #[derive(Default)]
    struct Collect(Mutex<Vec<LogRecord>>);

    impl LogSink for Collect {
        fn log(&self, record: LogRecord) -> Result<(), DakaError> {
            self.0.lock().unwrap().push(record);
            Ok(())
        }
    }

    struct Throws;

    impl LogSink for Throws {
        fn log(&self, _: LogRecord) -> Result<(), DakaError> {
            Err(DakaError::Internal {
                reason: "the app's logger failed".into(),
            })
        }
    }

    /// One test, as the subscriber is global to the process: levels, fields, replacing and
    /// clearing the sink, and a sink that throws.
    #[test]
    fn events_reach_the_sink_at_its_level_with_their_fields() {
        let sink = Arc::new(Collect::default());
        set_log_sink(sink.clone(), LogLevel::Info).unwrap();
        tracing::info!(target: "daka_device::engine::sync", sent = 3, code = "fork", "sync finished");
        tracing::debug!("below the level");
        tracing::warn!(reason = %"server busy", "will retry");
        {
            let got = sink.0.lock().unwrap();
            assert_eq!(got.len(), 2, "{got:?}");
            assert_eq!(
                got[0],
                LogRecord {
                    level: LogLevel::Info,
                    target: "daka_device::engine::sync".into(),
                    message: "sync finished".into(),
                    fields: vec![
                        LogField {
                            name: "sent".into(),
                            value: "3".into()
                        },
                        LogField {
                            name: "code".into(),
                            value: "fork".into()
                        },
                    ],
                }
            );
            assert_eq!(line(&got[0]), "sync finished sent=3 code=fork");
            assert_eq!(got[1].level, LogLevel::Warn);
            assert_eq!(line(&got[1]), "will retry reason=server busy");
        }

        // A second call replaces the sink and its level.
        let verbose = Arc::new(Collect::default());
        set_log_sink(verbose.clone(), LogLevel::Trace).unwrap();
        tracing::trace!(n = 1, "fine detail");
        assert_eq!(verbose.0.lock().unwrap().len(), 1);
        assert_eq!(sink.0.lock().unwrap().len(), 2);

        // A sink that throws is ignored, and so is every event after clearing.
        set_log_sink(Arc::new(Throws), LogLevel::Trace).unwrap();
        tracing::error!("nobody hears this");
        clear_log_sink();
        tracing::error!("nor this");
        assert_eq!(verbose.0.lock().unwrap().len(), 1);
        assert_eq!(sink.0.lock().unwrap().len(), 2);
    }
}
