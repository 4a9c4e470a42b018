//! `DakaDevice`: the one object an app holds, over `daka_device::Device`.
//!
//! Every method is a thin call into the core plus a conversion; the rules, the store, the
//! outbox and the protocol all live in `daka-core`. One FFI call per user action: a location
//! check, a punch, a sync. The policy, the fences and the keys never cross the boundary.
//!
//! Threads: the blocking methods (`punch`, `checkLocation`, `queueStatus`, …) touch SQLite and
//! take milliseconds; call them off the UI thread. The async ones (`enroll`, `refreshPolicy`,
//! `syncNow`, `stopBackgroundSync`) run on daka's runtime (see `runtime.rs`); cancelling the
//! caller stops the waiting, not the work.
//!
//! Lifetime: closing the object (`close()` / `use {}` in Kotlin, deinit in Swift) stops the
//! background loop after its round in progress. A punch already returned is durable either
//! way.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use daka_device::outbox::{ItemState, OutboxConfig};
use daka_device::sync::client::ClientConfig;
use daka_device::sync::tls::TlsOptions;
use daka_device::{Device, SyncLoop, SyncReport as CoreReport, SystemClock};

use crate::error::DakaError;
use crate::platform::{ForeignKeyStore, KeyStore, Listeners, StatusListener};
use crate::runtime::{on_runtime, runtime};
use crate::types::{
    Attestation, DeviceOptions, DeviceStatus, EnrollmentChallenge, Identity, PunchInput,
    PunchReceipt, QueueStatus, QueuedItem, SyncReport, Verdict,
};

/// The attendance engine of this phone: enrolment, location checks, punches, the offline
/// queue and sync, over one database file.
#[derive(uniffi::Object)]
pub struct DakaDevice {
    device: Arc<Device>,
    listeners: Listeners,
    background: Mutex<Option<SyncLoop>>,
}

impl std::fmt::Debug for DakaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DakaDevice")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Drop for DakaDevice {
    fn drop(&mut self) {
        // Dropping the loop's handle closes its stop channel: the loop ends after the round in
        // progress (the task is detached, so nothing here blocks the caller).
        drop(self.background_slot().take());
    }
}

impl DakaDevice {
    fn background_slot(&self) -> MutexGuard<'_, Option<SyncLoop>> {
        self.background.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The core device, for Rust callers (the benchmark compares calls with and without the
    /// bindings).
    pub fn core(&self) -> &Arc<Device> {
        &self.device
    }
}

/// A round's result as the app sees it: a round stopped by a retryable failure is that
/// failure, typed.
fn round_result(result: Result<&CoreReport, &DakaError>) -> Result<SyncReport, DakaError> {
    let report = result.map_err(Clone::clone)?;
    if let Some(e) = &report.stopped_by_error {
        return Err(DakaError::from(e.clone()));
    }
    Ok(SyncReport::from(report.clone()))
}

#[uniffi::export(async_runtime = "tokio")]
impl DakaDevice {
    /// Opens the device database at `path` (created on first use, with a new device key).
    /// `keyStore` seals the key at rest; `null` keeps it unprotected (tests, demos). Clocks
    /// are the system's: on Android `CLOCK_BOOTTIME` and the kernel's boot id, on iOS
    /// `mach_continuous_time` and the boot session's UUID (docs/protocol.md, "Clocks").
    #[uniffi::constructor]
    pub fn open(
        path: String,
        key_store: Option<Arc<dyn KeyStore>>,
    ) -> Result<Arc<Self>, DakaError> {
        Self::open_with_options(
            path,
            key_store,
            DeviceOptions {
                max_queued_items: None,
                request_timeout_seconds: None,
                connect_timeout_seconds: None,
                extra_root_certificates: Vec::new(),
                certificate_pins: Vec::new(),
                platform_trust_store: false,
            },
        )
    }

    /// Like `open`, with limits and timeouts.
    #[uniffi::constructor]
    pub fn open_with_options(
        path: String,
        key_store: Option<Arc<dyn KeyStore>>,
        options: DeviceOptions,
    ) -> Result<Arc<Self>, DakaError> {
        // The ranges are the device builder's: it names the option and the value, and the
        // error mapping gives the option its name here.
        let mut outbox = OutboxConfig::default();
        if let Some(max) = options.max_queued_items {
            outbox.max_items = max;
        }
        let mut client = ClientConfig::default();
        if let Some(s) = options.request_timeout_seconds {
            client.request_timeout = Duration::from_secs(s.into());
        }
        if let Some(s) = options.connect_timeout_seconds {
            client.connect_timeout = Duration::from_secs(s.into());
        }
        let tls = TlsOptions {
            extra_roots: options.extra_root_certificates,
            pins: options.certificate_pins,
            platform_trust_store: options.platform_trust_store,
        };
        let keys = key_store.map(ForeignKeyStore);
        let builder = Device::builder(&path)
            .clock(Arc::new(SystemClock::new()))
            .outbox(outbox)
            .client(client)
            .tls(tls);
        let device = match &keys {
            Some(keys) => builder.key_store(keys).open()?,
            None => builder.open()?,
        };
        Ok(Arc::new(DakaDevice {
            device: Arc::new(device),
            listeners: Listeners::default(),
            background: Mutex::new(None),
        }))
    }

    /// Enrols this device with a one-time code from an administrator, then fetches the
    /// organisation's policy so the device can judge punches at once. `platform` is
    /// `android` or `ios`, for the administrators' device list. `attestation` is the
    /// platform's result for a challenge from `enrollmentChallenge`, where the organisation
    /// asks for one (docs/threat-model.md).
    ///
    /// Errors: `Refused` (code `enrollment_code_used`, `enrollment_code_unknown`,
    /// `attestation_required`, `attestation_not_trusted`, `attestation_challenge_expired`, …),
    /// `Offline`, `AlreadyEnrolled`, `InvalidInput` (`serverUrl`).
    #[uniffi::method(default(attestation = None))]
    pub async fn enroll(
        &self,
        server_url: String,
        code: String,
        device_name: String,
        platform: String,
        attestation: Option<Attestation>,
    ) -> Result<Identity, DakaError> {
        let device = self.device.clone();
        on_runtime(async move {
            Ok(device
                .enroll_with(
                    &server_url,
                    &code,
                    &device_name,
                    &platform,
                    attestation.map(Into::into),
                )
                .await?
                .into())
        })
        .await
    }

    /// Before an attested enrolment: asks the server for a challenge and learns whether the
    /// organisation asks for attestation (`attestation`) and which formats the server
    /// verifies. Have the platform attest to the returned `nonce` (Play Integrity:
    /// `nonceBase64url`; App Attest: `nonce` as the `clientDataHash`), then call `enroll`
    /// with an `Attestation` within ten minutes.
    ///
    /// Errors: `Refused` (`enrollment_code_unknown`, `enrollment_code_used`), `Offline`,
    /// `Tls`, `AlreadyEnrolled`, `InvalidInput` (`serverUrl`).
    pub async fn enrollment_challenge(
        &self,
        server_url: String,
        code: String,
    ) -> Result<EnrollmentChallenge, DakaError> {
        let device = self.device.clone();
        on_runtime(async move {
            Ok(device
                .enrollment_challenge(&server_url, &code)
                .await?
                .into())
        })
        .await
    }

    /// Fetches and installs the organisation's current policy; returns its version.
    pub async fn refresh_policy(&self) -> Result<u64, DakaError> {
        let device = self.device.clone();
        on_runtime(async move { Ok(device.refresh_policy().await?) }).await
    }

    /// Judges an attempt without recording it and without using its face nonce: what the app
    /// shows before the user taps "clock in" ("37 m outside the store").
    pub fn check_location(&self, input: PunchInput) -> Result<Verdict, DakaError> {
        Ok(self.device.preview(input.into_core()?)?.into())
    }

    /// Starts a face check: returns a fresh single-use nonce for the face matcher to put in
    /// its signed result. Pass both to `punch` as `faceNonce` and `faceToken`.
    pub fn begin_face_check(&self) -> Result<String, DakaError> {
        Ok(self.device.issue_face_nonce()?)
    }

    /// Judges the attempt and, unless it is rejected, signs it, chains it and queues it for
    /// the server. When this returns with a `recordId`, the punch is durable: it survives the
    /// app being killed. A rejection is a verdict, not an error.
    ///
    /// Errors: `InvalidInput` (names the field), `NotEnrolled`, `NoPolicy`, `QueueFull`,
    /// `Storage`.
    pub fn punch(&self, input: PunchInput) -> Result<PunchReceipt, DakaError> {
        let outcome = self.device.punch(input.into_core()?)?;
        if outcome.record.is_some()
            && let Some(sync) = self.background_slot().as_ref()
        {
            sync.sync_soon();
        }
        Ok(outcome.into())
    }

    /// Counts of the offline queue, for a "3 punches waiting to send" badge.
    pub fn queue_status(&self) -> Result<QueueStatus, DakaError> {
        Ok(self.device.outbox_stats()?.into())
    }

    /// Items the server refused permanently, with its code and message, oldest first. They
    /// are kept (never retried on their own and never dropped) and block nothing else.
    pub fn items_needing_attention(&self) -> Result<Vec<QueuedItem>, DakaError> {
        let items = self
            .device
            .outbox()
            .items(ItemState::NeedsAttention)
            .map_err(DakaError::from)?;
        Ok(items
            .into_iter()
            .map(|item| {
                let (code, message) = item
                    .error
                    .map(|e| (e.code, e.message))
                    .unwrap_or_else(|| ("rejected".into(), String::new()));
                QueuedItem {
                    id: item.id,
                    code,
                    message,
                }
            })
            .collect())
    }

    /// Runs one sync round now: sends the queue in batches (progress goes to the status
    /// listener), then fetches what changed (a new policy, the server's verdicts).
    ///
    /// Items that waited only because the network was gone are sent at once (a person asked);
    /// a server's Retry-After is still honoured.
    ///
    /// Errors: `Offline` or `ServerBusy` when the round could not finish (nothing is lost:
    /// whatever was not answered stays queued, with backoff), `Tls` when the server's
    /// certificate was refused (not retried on its own), `Unauthorized`, `NotEnrolled`,
    /// `DeviceRevoked` (an administrator revoked the device: the queue is kept, nothing more
    /// is sent; enrol again with a new code).
    pub async fn sync_now(&self) -> Result<SyncReport, DakaError> {
        let device = self.device.clone();
        let listeners = self.listeners.clone();
        on_runtime(async move {
            let progress = {
                let listeners = listeners.clone();
                move |p: daka_device::SyncProgress| listeners.progress(p.sent, p.total)
            };
            // A person asked: what waits only because the network was gone goes now.
            device.retry_now()?;
            let result = device.sync_now(&progress).await.map_err(DakaError::from);
            listeners.outcome(round_result(result.as_ref()))
        })
        .await
    }

    /// Starts the background sync loop: a round now, after every recorded punch, and every
    /// `intervalSeconds`, reporting each round to the status listener. Replaces a loop
    /// already running. Runs until `stopBackgroundSync()` or until this object is closed, or
    /// until a round fails with `DeviceRevoked`, which is reported and ends the loop. A round
    /// that fails with `Tls` is reported and the loop then waits for the next punch instead
    /// of retrying every interval.
    ///
    /// Errors: `InvalidInput` (`intervalSeconds`) outside 1 to 86 400 (one day); the loop
    /// already running, if any, goes on.
    pub fn start_background_sync(&self, interval_seconds: u32) -> Result<(), DakaError> {
        let rt = runtime()?;
        let listeners = self.listeners.clone();
        let on_round = move |result: Result<&CoreReport, &daka_device::DeviceError>| {
            let mapped = result.map_err(DakaError::from);
            let _ = listeners.outcome(round_result(mapped.as_ref().copied()));
        };
        let handle = {
            let _entered = rt.enter();
            self.device
                .start_background_sync(Duration::from_secs(interval_seconds.into()), on_round)?
        };
        // The replaced loop stops after its round in progress.
        drop(self.background_slot().replace(handle));
        Ok(())
    }

    /// Stops the background loop, waiting for the round in progress to finish; returns how
    /// many rounds it ran (0 when no loop was running).
    pub async fn stop_background_sync(&self) -> u64 {
        let Some(sync) = self.background_slot().take() else {
            return 0;
        };
        on_runtime(async move { Ok(sync.stop().await) })
            .await
            .unwrap_or(0)
    }

    /// Sets (or, with `null`, removes) the listener for sync progress and outcomes.
    pub fn set_status_listener(&self, listener: Option<Arc<dyn StatusListener>>) {
        self.listeners.set(listener);
    }

    /// A snapshot for the app's status screen.
    pub fn status(&self) -> Result<DeviceStatus, DakaError> {
        let identity = self.device.identity();
        Ok(DeviceStatus {
            enrolled: identity.is_some(),
            device_id: identity.as_ref().map(|i| i.device_id.clone()),
            employee_id: identity.map(|i| i.employee_id),
            policy_version: self.device.policy_version(),
            queue: self.queue_status()?,
            background_sync: self.background_slot().is_some(),
            tls_refused: self.device.tls_refusal().map(|e| match DakaError::from(e) {
                DakaError::Tls { code, reason } => format!("{code}: {reason}"),
                other => other.to_string(),
            }),
        })
    }

    /// Who this device is, once enrolled.
    pub fn identity(&self) -> Option<Identity> {
        self.device.identity().map(Identity::from)
    }

    /// The device's Ed25519 public key, base64url: what the server verifies punches with.
    pub fn public_key(&self) -> String {
        self.device.public_key_b64()
    }
}
