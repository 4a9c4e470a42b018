//! [`DeviceBuilder`]: how a [`Device`] is opened, and the one place its options are checked.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use daka_device::{Device, SystemClock, UnprotectedKeyStore};
//! # use daka_device::outbox::OutboxConfig;
//! # fn main() -> Result<(), daka_device::DeviceError> {
//! let device = Device::builder("/data/daka.db")
//!     .clock(Arc::new(SystemClock::new()))
//!     .key_store(&UnprotectedKeyStore)
//!     .outbox(OutboxConfig { max_items: 10_000, ..OutboxConfig::default() })
//!     .open()?;
//! # Ok(()) }
//! ```
//!
//! Every option has a default (the system clock, an unprotected key store for tests and
//! demos, the outbox's and the sync client's defaults). [`DeviceBuilder::open`] checks every
//! option against its range before it touches the file, and a value out of range is an
//! [`OptionError`] naming the option, the value and the range: never a panic, never a value
//! silently clamped. The bindings pass the app's options straight through and translate the
//! option's name; they check nothing themselves.
//!
//! Negative values cannot be expressed: counts are unsigned and times are [`Duration`]s.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Device, DeviceError};
use crate::clock::{ClockSource, SystemClock};
use crate::keys::{KeyStore, UnprotectedKeyStore};
use crate::outbox::OutboxConfig;
use crate::store::StoreOpening;
use crate::sync::batching::MAX_PUSH_BYTES;
use crate::sync::client::ClientConfig;
use crate::sync::tls::{TlsOptions, TlsSetting, TlsSetup};

/// Shortest request or connect timeout.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// Longest request or connect timeout: a sync request that may take longer than an hour is
/// a request the phone will not see the end of.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Shortest interval of the background sync loop.
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Longest interval of the background sync loop.
pub const MAX_SYNC_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// Largest ceiling of the outbox's retry delay, in milliseconds (one day).
pub const MAX_BACKOFF_CAP_MS: u64 = 24 * 60 * 60 * 1_000;

/// An option of a device, as [`OptionError`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceOption {
    /// [`OutboxConfig::max_items`].
    MaxQueuedItems,
    /// [`OutboxConfig::max_payload_bytes`].
    MaxPayloadBytes,
    /// [`crate::outbox::Backoff::base_ms`].
    BackoffBase,
    /// [`crate::outbox::Backoff::cap_ms`].
    BackoffCap,
    /// [`ClientConfig::request_timeout`].
    RequestTimeout,
    /// [`ClientConfig::connect_timeout`].
    ConnectTimeout,
    /// The interval of [`Device::start_background_sync`].
    SyncInterval,
    /// [`TlsOptions::extra_roots`].
    TlsExtraRoots,
    /// [`TlsOptions::pins`].
    TlsPins,
    /// [`TlsOptions::platform_trust_store`].
    TlsPlatformTrustStore,
}

impl DeviceOption {
    /// The option's name in Rust, as the field that holds it.
    pub fn name(self) -> &'static str {
        match self {
            DeviceOption::MaxQueuedItems => "outbox.max_items",
            DeviceOption::MaxPayloadBytes => "outbox.max_payload_bytes",
            DeviceOption::BackoffBase => "outbox.backoff.base_ms",
            DeviceOption::BackoffCap => "outbox.backoff.cap_ms",
            DeviceOption::RequestTimeout => "client.request_timeout",
            DeviceOption::ConnectTimeout => "client.connect_timeout",
            DeviceOption::SyncInterval => "sync_interval",
            DeviceOption::TlsExtraRoots => "tls.extra_roots",
            DeviceOption::TlsPins => "tls.pins",
            DeviceOption::TlsPlatformTrustStore => "tls.platform_trust_store",
        }
    }
}

/// A device option out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason} (got {value})", option.name())]
pub struct OptionError {
    /// Which option; [`DeviceOption::name`] gives its Rust field path for messages.
    pub option: DeviceOption,
    /// The value given, with its unit.
    pub value: String,
    /// The range it must be in.
    pub reason: String,
}

/// Opens a [`Device`]; see the module documentation. Made by [`Device::builder`].
pub struct DeviceBuilder<'k> {
    path: PathBuf,
    clock: Option<Arc<dyn ClockSource>>,
    key_store: &'k dyn KeyStore,
    outbox: OutboxConfig,
    client: ClientConfig,
    store: StoreOpening,
    tls: TlsOptions,
}

impl std::fmt::Debug for DeviceBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceBuilder")
            .field("path", &self.path)
            .field("outbox", &self.outbox)
            .field("client", &self.client)
            .field("store", &self.store)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Starts opening the device store at `path` (created, with a new device key, on first
    /// use).
    pub fn builder(path: impl AsRef<Path>) -> DeviceBuilder<'static> {
        DeviceBuilder {
            path: path.as_ref().to_path_buf(),
            clock: None,
            key_store: &UnprotectedKeyStore,
            outbox: OutboxConfig::default(),
            client: ClientConfig::default(),
            store: StoreOpening::default(),
            tls: TlsOptions::default(),
        }
    }
}

impl<'k> DeviceBuilder<'k> {
    /// The device's clocks (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn ClockSource>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Where the device key's seed is sealed (default: [`UnprotectedKeyStore`], for tests
    /// and demos only).
    pub fn key_store<'a>(self, key_store: &'a dyn KeyStore) -> DeviceBuilder<'a> {
        DeviceBuilder {
            path: self.path,
            clock: self.clock,
            key_store,
            outbox: self.outbox,
            client: self.client,
            store: self.store,
            tls: self.tls,
        }
    }

    /// The outbox's limits and backoff (default: [`OutboxConfig::default`]).
    pub fn outbox(mut self, outbox: OutboxConfig) -> Self {
        self.outbox = outbox;
        self
    }

    /// The sync client's timeouts (default: 30 s per request, 10 s to connect). Push
    /// requests are sized to take at most a sixth of the request timeout.
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.client = client;
        self
    }

    /// How the store's SQLite file is opened (default: SQLite's own VFS, `synchronous=FULL`):
    /// only the power-loss tests change it; see [`StoreOpening`].
    #[doc(hidden)]
    pub fn store_opening(mut self, store: StoreOpening) -> Self {
        self.store = store;
        self
    }

    /// Which servers the sync client trusts (default: the bundled public roots, no pins).
    /// A root that does not read or a malformed pin is an [`OptionError`] naming the entry.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Checks every option, then opens the store, loads or creates the device key and loads
    /// the device's state.
    pub fn open(self) -> Result<Device, DeviceError> {
        check_outbox(&self.outbox)?;
        check_client(&self.client)?;
        let tls = check_tls(&self.tls)?;
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(SystemClock::new()) as Arc<dyn ClockSource>);
        Device::open_checked(
            &self.path,
            &self.store,
            clock,
            self.key_store,
            self.outbox,
            self.client,
            tls,
        )
    }
}

fn out_of_range(option: DeviceOption, value: String, reason: String) -> OptionError {
    OptionError {
        option,
        value,
        reason,
    }
}

fn show(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn check_duration(
    option: DeviceOption,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), OptionError> {
    if value < min || value > max {
        return Err(out_of_range(
            option,
            show(value),
            format!("must be between {} and {}", show(min), show(max)),
        ));
    }
    Ok(())
}

/// Checks the outbox's options.
pub(crate) fn check_outbox(config: &OutboxConfig) -> Result<(), OptionError> {
    if config.max_items == 0 {
        return Err(out_of_range(
            DeviceOption::MaxQueuedItems,
            "0".into(),
            "the queue must hold at least one item".into(),
        ));
    }
    if config.max_payload_bytes == 0 || config.max_payload_bytes > MAX_PUSH_BYTES {
        return Err(out_of_range(
            DeviceOption::MaxPayloadBytes,
            format!("{} bytes", config.max_payload_bytes),
            format!(
                "must be between 1 and {MAX_PUSH_BYTES} bytes (a larger item could never be sent)"
            ),
        ));
    }
    let backoff = &config.backoff;
    if backoff.base_ms == 0 || backoff.base_ms > MAX_BACKOFF_CAP_MS {
        return Err(out_of_range(
            DeviceOption::BackoffBase,
            format!("{} ms", backoff.base_ms),
            format!("must be between 1 and {MAX_BACKOFF_CAP_MS} ms"),
        ));
    }
    if backoff.cap_ms < backoff.base_ms || backoff.cap_ms > MAX_BACKOFF_CAP_MS {
        return Err(out_of_range(
            DeviceOption::BackoffCap,
            format!("{} ms", backoff.cap_ms),
            format!(
                "must be between the base delay ({} ms) and {MAX_BACKOFF_CAP_MS} ms",
                backoff.base_ms
            ),
        ));
    }
    Ok(())
}

/// Checks the sync client's options.
pub(crate) fn check_client(config: &ClientConfig) -> Result<(), OptionError> {
    check_duration(
        DeviceOption::RequestTimeout,
        config.request_timeout,
        MIN_TIMEOUT,
        MAX_TIMEOUT,
    )?;
    check_duration(
        DeviceOption::ConnectTimeout,
        config.connect_timeout,
        MIN_TIMEOUT,
        MAX_TIMEOUT,
    )
}

/// Checks the TLS options and builds what the sync clients share.
fn check_tls(options: &TlsOptions) -> Result<TlsSetup, OptionError> {
    if *options == TlsOptions::default() {
        return Ok(TlsSetup::bundled());
    }
    TlsSetup::new(options).map_err(|e| {
        let option = match e.setting {
            TlsSetting::ExtraRoots => DeviceOption::TlsExtraRoots,
            TlsSetting::Pins => DeviceOption::TlsPins,
            TlsSetting::PlatformTrustStore => DeviceOption::TlsPlatformTrustStore,
        };
        out_of_range(option, e.value, e.reason)
    })
}

/// Checks the interval of the background sync loop.
pub(crate) fn check_sync_interval(interval: Duration) -> Result<(), OptionError> {
    check_duration(
        DeviceOption::SyncInterval,
        interval,
        MIN_SYNC_INTERVAL,
        MAX_SYNC_INTERVAL,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Backoff;

    fn open(builder: DeviceBuilder<'_>) -> Result<Device, DeviceError> {
        builder.open()
    }

    fn option_of(result: Result<Device, DeviceError>) -> (DeviceOption, String) {
        match result {
            Err(DeviceError::InvalidOption(e)) => (e.option, e.value),
            other => panic!("expected an option error, got {other:?}"),
        }
    }

    fn outbox(f: impl FnOnce(&mut OutboxConfig)) -> OutboxConfig {
        let mut c = OutboxConfig::default();
        f(&mut c);
        c
    }

    fn client(request: Duration, connect: Duration) -> ClientConfig {
        ClientConfig {
            request_timeout: request,
            connect_timeout: connect,
        }
    }

    #[test]
    fn defaults_open() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::builder(dir.path().join("d.db")).open().unwrap();
        assert!(device.identity().is_none());
    }

    #[test]
    fn a_bad_option_is_refused_before_the_file_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let result = Device::builder(&path)
            .outbox(outbox(|c| c.max_items = 0))
            .open();
        assert_eq!(
            option_of(result),
            (DeviceOption::MaxQueuedItems, "0".to_string())
        );
        assert!(!path.exists());
    }

    #[test]
    fn queue_limits_zero_boundary_and_huge() {
        let dir = tempfile::tempdir().unwrap();
        let at = |n: &str| dir.path().join(n);
        for max_items in [1, u64::MAX] {
            open(
                Device::builder(at(&format!("items{max_items}.db")))
                    .outbox(outbox(|c| c.max_items = max_items)),
            )
            .unwrap();
        }
        for bytes in [1, MAX_PUSH_BYTES] {
            open(
                Device::builder(at(&format!("bytes{bytes}.db")))
                    .outbox(outbox(|c| c.max_payload_bytes = bytes)),
            )
            .unwrap();
        }
        for bytes in [0, MAX_PUSH_BYTES + 1, usize::MAX] {
            let (option, value) = option_of(open(
                Device::builder(at("x.db")).outbox(outbox(|c| c.max_payload_bytes = bytes)),
            ));
            assert_eq!(option, DeviceOption::MaxPayloadBytes);
            assert_eq!(value, format!("{bytes} bytes"));
        }
    }

    #[test]
    fn backoff_zero_boundary_and_huge() {
        let dir = tempfile::tempdir().unwrap();
        let with = |base_ms, cap_ms| {
            Device::builder(dir.path().join(format!("b{base_ms}-{cap_ms}.db")))
                .outbox(outbox(|c| c.backoff = Backoff { base_ms, cap_ms }))
                .open()
        };
        with(1, 1).unwrap();
        with(1, MAX_BACKOFF_CAP_MS).unwrap();
        with(MAX_BACKOFF_CAP_MS, MAX_BACKOFF_CAP_MS).unwrap();
        assert_eq!(option_of(with(0, 1_000)).0, DeviceOption::BackoffBase);
        assert_eq!(
            option_of(with(MAX_BACKOFF_CAP_MS + 1, u64::MAX)).0,
            DeviceOption::BackoffBase
        );
        assert_eq!(option_of(with(1_000, 999)).0, DeviceOption::BackoffCap);
        assert_eq!(
            option_of(with(1_000, MAX_BACKOFF_CAP_MS + 1)),
            (
                DeviceOption::BackoffCap,
                format!("{} ms", MAX_BACKOFF_CAP_MS + 1)
            )
        );
        assert_eq!(option_of(with(1_000, u64::MAX)).0, DeviceOption::BackoffCap);
    }

    #[test]
    fn timeouts_zero_boundary_and_huge() {
        let dir = tempfile::tempdir().unwrap();
        let ok = Duration::from_secs(5);
        let with = |request, connect| {
            Device::builder(dir.path().join("t.db"))
                .client(client(request, connect))
                .open()
        };
        for good in [MIN_TIMEOUT, MAX_TIMEOUT] {
            drop(with(good, ok).unwrap());
            drop(with(ok, good).unwrap());
        }
        for bad in [
            Duration::ZERO,
            Duration::from_nanos(999_999),
            MAX_TIMEOUT + Duration::from_millis(1),
            Duration::from_secs(u64::from(u32::MAX)),
            Duration::MAX,
        ] {
            assert_eq!(option_of(with(bad, ok)).0, DeviceOption::RequestTimeout);
            assert_eq!(option_of(with(ok, bad)).0, DeviceOption::ConnectTimeout);
        }
        let e = match with(Duration::ZERO, ok) {
            Err(e) => e.to_string(),
            Ok(_) => unreachable!(),
        };
        assert!(
            e.contains("client.request_timeout") && e.contains("got 0 s") && e.contains("3600 s"),
            "{e}"
        );
    }

    #[test]
    fn sync_interval_zero_boundary_and_huge() {
        check_sync_interval(MIN_SYNC_INTERVAL).unwrap();
        check_sync_interval(MAX_SYNC_INTERVAL).unwrap();
        for bad in [
            Duration::ZERO,
            Duration::from_millis(999),
            MAX_SYNC_INTERVAL + Duration::from_secs(1),
            Duration::MAX,
        ] {
            let e = check_sync_interval(bad).unwrap_err();
            assert_eq!(e.option, DeviceOption::SyncInterval, "{bad:?}");
        }
    }
}
