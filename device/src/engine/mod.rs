//! The device engine: everything the phone does, behind one object.
//!
//! [`Device`] owns the store (one SQLite file), the outbox, the device key, the punch chain,
//! the cached policy and its [`Engine`], the face nonces and the trusted-time anchor. A punch
//! goes platform input → [`Attempt`] → [`Verdict`] → signed record → outbox in one call,
//! [`Device::punch`], and the record, its chain head and its consumed nonce commit in one
//! transaction: after it returns, the punch is durable, and if it fails nothing is half-stored.
//! [`Device::sync_now`] (in `sync.rs`) sends the queue and fetches what changed. A device is
//! opened with [`Device::builder`] (in `builder.rs`), which checks every option's range first.
//!
//! The engine orchestrates and holds no SQL: it reads and writes through the store's
//! per-table modules (`crate::store::{identity, chain, policy, nonces, anchor, cursor,
//! attachments}`) and the [`Outbox`], and composes them into one transaction where one is
//! needed.
//!
//! Rejected attempts are not recorded as punches: the user sees the verdict and its reasons and
//! can retry, or file a missed-punch correction. Accepted and field punches are recorded.

pub mod approvals;
pub mod attendance;
mod background;
mod builder;

mod sync;

use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::clock::{ClockSource, SimulatedClock, SystemClock};
pub use crate::keys::{KeyStore, KeyStoreError, UnprotectedKeyStore};
pub use background::SyncLoop;
pub use builder::{
    DeviceBuilder, DeviceOption, MAX_BACKOFF_CAP_MS, MAX_SYNC_INTERVAL, MAX_TIMEOUT,
    MIN_SYNC_INTERVAL, MIN_TIMEOUT, OptionError,
};
pub use sync::{EnrollmentChallenge, SyncProgress, SyncReport};

use crate::outbox::{NewItem, Outbox, OutboxConfig, OutboxError, OutboxStats};
use crate::store::{Store, StoreError, StoreOpening, anchor, chain, identity, nonces, policy};
use crate::sync::batching::BatchSizer;
use crate::sync::client::{ClientConfig, SyncError};
use crate::sync::tls::TlsSetup;
use daka_core::attempt::{Attempt, AttemptError};
use daka_core::evidence::face_token::NonceLedger;
use daka_core::evidence::spoofing::PreviousPunch;
use daka_core::evidence::time::TrustedTime;
use daka_core::evidence::{FaceEvidence, Fix, TimeAnchor};
use daka_core::policy::{Policy, PolicyError};
use daka_core::protocol::{ItemKind, policy_bundle, punch_stream};
use daka_core::punch::{
    DeviceSigner, PunchChain, PunchDraft, PunchError, PunchEvidence, PunchKind, PunchRecord,
};
use daka_core::verdict::{Decision, Engine, TimeSource, Verdict};

/// Who this device is, once enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// This device's id, assigned by the server at enrolment (a UUID on the reference
    /// server); its punches travel in the outbox stream `punch:{device_id}`.
    pub device_id: String,
    /// The organisation the device was enrolled into, as the server names it.
    pub org_id: String,
    /// The employee the enrolment code was issued for, as the policy lists them (e.g.
    /// `E1001`): every punch and request from this device is theirs.
    pub employee_id: String,
    /// The server URL given to [`Device::enroll`], without a trailing `/`.
    pub server_url: String,
    /// The organisation's Ed25519 public key that signs policy bundles, base64url, as the
    /// server sent it at enrolment.
    pub org_public_key: String,
}

/// What the app hands over for one punch.
#[derive(Debug, Clone, PartialEq)]
pub struct PunchInput {
    /// Clock in, clock out, a break's start or end, or a field punch.
    pub kind: PunchKind,
    /// The latest location fix from the platform; `None` when there is none (no permission,
    /// no signal). Without a fix, only a Wi-Fi match can place the punch.
    pub fix: Option<Fix>,
    /// Earlier fixes of the same attempt, e.g. those collected while the face check ran, in
    /// any order; empty when the app has only the latest. At most 16, each no later than
    /// `fix`, none repeated, and only with a `fix`. The location is judged on their
    /// conservative fusion with `fix`, and all of them are recorded in the punch as evidence.
    pub more_fixes: Vec<Fix>,
    /// BSSIDs from the latest Wi-Fi scan, in any case, `:` or `-` separated; empty when
    /// there was no scan. At most 512.
    pub wifi_bssids: Vec<String>,
    /// The face matcher's token for this attempt, with the nonce from
    /// [`Device::issue_face_nonce`] it carries; `None` when no face check was made (under a
    /// policy that requires one, the verdict then has `face_token_missing`).
    pub face: Option<FaceEvidence>,
}

/// The answer to [`Device::punch`].
#[derive(Debug, Clone, PartialEq)]
pub struct PunchOutcome {
    /// The decision (accepted, field punch for review, or rejected) with every reason: what
    /// the app shows the user.
    pub verdict: Verdict,
    /// The stored record, when the punch was accepted or recorded as a field punch.
    pub record: Option<PunchRecord>,
}

/// Device failures, each saying what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The call needs an enrolled device: enrol it first with [`Device::enroll`] and a code
    /// from an administrator.
    #[error("this device is not enrolled yet; enrol it with a code from your administrator")]
    NotEnrolled,
    /// [`Device::enroll`] on a device that is enrolled already. A device is enrolled once;
    /// to enrol again, start from a new store file.
    #[error("this device is already enrolled (device {device_id})")]
    AlreadyEnrolled {
        /// The id the device is enrolled under.
        device_id: String,
    },
    /// No policy has been installed yet, so punches cannot be judged and drafts cannot be
    /// checked: sync once while online ([`Device::sync_now`] or [`Device::refresh_policy`]).
    #[error("no policy on this device yet; sync once while online")]
    NoPolicy,
    /// The punch input is malformed (a coordinate out of range, a BSSID that does not
    /// parse, more than 512 BSSIDs, ...): the field and the rule are in the error. Fix how
    /// the app builds [`PunchInput`]; this is not a verdict, and nothing was recorded.
    #[error("invalid punch input: {0}")]
    InvalidInput(#[from] AttemptError),
    /// An option given to [`Device::builder`] or [`Device::start_background_sync`] is out of
    /// its range.
    #[error("invalid device option: {0}")]
    InvalidOption(#[from] OptionError),
    /// A policy was not installed: its signature does not verify against the organisation
    /// key, it does not parse, or it is older than the installed one. The installed policy
    /// stays in force.
    #[error("the server sent a policy that does not verify: {reason}")]
    BadPolicy {
        /// Which check failed, with the details.
        reason: String,
    },
    /// The outbox refused the item (full, a duplicate id, an invalid item) or its store
    /// failed; see [`OutboxError`]. A full queue must be shown to the user.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The device's SQLite store failed; see [`StoreError`].
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Talking to the server failed; [`SyncError::is_retryable`] says whether to try again
    /// later.
    #[error(transparent)]
    Sync(SyncError),
    /// An administrator revoked this device: the server refuses everything it sends
    /// (`device_revoked`). Not retryable: the outbox keeps its queued items (see
    /// [`Device::outbox_stats`]) but nothing more is sent, and background sync stops. Tell the
    /// user to ask for a new enrolment code and enrol again with a new store.
    #[error("device revoked (HTTP 403 device_revoked): {message}")]
    DeviceRevoked {
        /// The server's explanation.
        message: String,
    },
    /// The app's [`KeyStore`] could not seal or open the device key's seed.
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
    /// The device key or its punch chain cannot be used: the unsealed seed is not 32 bytes or
    /// is rejected, it is not this device's key, the store has no key seed, or the chain has
    /// reached its last sequence number. The device cannot punch with this store; enrol again
    /// with a new one.
    #[error("the device key cannot be used: {reason}")]
    Key {
        /// What is wrong, for logs and support.
        reason: String,
    },
    /// Something daka built (a punch record, a signed request) could not be written as its
    /// canonical JSON: a bug, not bad input. Nothing was stored.
    #[error("cannot serialise the {what}: {reason}")]
    Serialisation {
        /// What was being written, e.g. `punch record` or `signed approval item`.
        what: &'static str,
        /// The serialiser's error.
        reason: String,
    },
    /// The system's random number generator failed; nothing was stored, and trying again may
    /// succeed.
    #[error("the system random number generator failed: {reason}")]
    Randomness {
        /// The error the random source reported.
        reason: String,
    },
    /// An approval draft, attachment or request id was refused before anything was queued;
    /// see [`approvals::DraftError`] for what to show the user.
    #[error(transparent)]
    Draft(#[from] approvals::DraftError),
    /// Attendance cannot be computed: the policy has no schedule for this employee, or the
    /// month asked for does not exist.
    #[error(transparent)]
    Attendance(#[from] daka_core::attendance::AttendanceError),
}

impl From<SyncError> for DeviceError {
    /// A revoked device is its own variant; every other failure stays a [`SyncError`].
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::DeviceRevoked { message } => DeviceError::DeviceRevoked { message },
            e => DeviceError::Sync(e),
        }
    }
}

impl From<rusqlite::Error> for DeviceError {
    fn from(e: rusqlite::Error) -> Self {
        DeviceError::Store(StoreError::Sqlite(e))
    }
}

/// In-memory state mirrored from the store; always written to the store first.
struct State {
    identity: Option<Identity>,
    token: Option<String>,
    chain: Option<PunchChain>,
    previous: PreviousPunch,
    engine: Option<Arc<Engine>>,
    policy_version: Option<u64>,
    nonces: NonceLedger,
    anchor: Option<TimeAnchor>,
    cursor: Option<String>,
    /// The server's message once it has said the device is revoked.
    revoked: Option<String>,
    /// Why the last sync round's TLS handshake was refused; cleared by a round that reached
    /// the server.
    tls_refusal: Option<SyncError>,
    /// Where the device stands in the server's line of pushes.
    push_turn: PushTurn,
}

/// Where the device stands in the server's line of pushes: whether its next push is sent at
/// once or only after `POST /v1/push/turn` says its turn has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PushTurn {
    /// Nothing is known of the server's line in this sync round: a push of
    /// [`ASK_TURN_FROM_BYTES`](crate::sync::batching::ASK_TURN_FROM_BYTES) or more asks
    /// first, a smaller one is sent at once.
    Unknown,
    /// A push was answered in this sync round: the next is sent at once.
    Free,
    /// The last push or turn question was refused `busy`, and the device holds a place in the
    /// server's line: it asks before it uploads the push again.
    InLine,
    /// The server does not offer `/v1/push/turn` (an older release answered 404): pushes are
    /// sent at once, as before it.
    Unoffered,
}

/// The device engine. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Device {
    store: Arc<Store>,
    outbox: Outbox,
    clock: Arc<dyn ClockSource>,
    signer: DeviceSigner,
    client_config: ClientConfig,
    tls: TlsSetup,
    state: Mutex<State>,
    batch_sizer: Mutex<BatchSizer>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("public_key", &self.public_key_b64())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Opens the device store at `path` with options [`DeviceBuilder::open`] has checked.
    fn open_checked(
        path: &std::path::Path,
        opening: &StoreOpening,
        clock: Arc<dyn ClockSource>,
        keys: &dyn KeyStore,
        outbox_config: OutboxConfig,
        client_config: ClientConfig,
        tls: TlsSetup,
    ) -> Result<Device, DeviceError> {
        let store = Arc::new(Store::open_with(path, opening)?);
        let signer = load_or_create_key(&store, keys)?;
        let state = load_state(&store)?;
        let outbox = Outbox::open(store.clone(), outbox_config)?;
        Ok(Device {
            store,
            outbox,
            clock,
            signer,
            client_config,
            tls,
            state: Mutex::new(state),
            batch_sizer: Mutex::new(BatchSizer::new(client_config.request_timeout)),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The device's public key, base64url: what the server verifies punches with.
    pub fn public_key_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signer.public_key())
    }

    /// The device's Ed25519 public key, the raw 32 bytes (see [`Device::public_key_b64`]).
    pub fn public_key(&self) -> [u8; 32] {
        self.signer.public_key()
    }

    /// Who this device is; `None` until [`Device::enroll`] succeeded.
    pub fn identity(&self) -> Option<Identity> {
        self.state().identity.clone()
    }

    /// The device's queue of punches, requests and decisions waiting for the server, for
    /// listing items that need attention and requeueing them.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The device's SQLite store, e.g. for [`Store::integrity_check`].
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The policy in force on this device, if one was fetched.
    pub fn policy_version(&self) -> Option<u64> {
        self.state().policy_version
    }

    /// The rule engine for the installed policy (the policy itself is
    /// [`Engine::policy`]); `None` before a policy was installed.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.state().engine.clone()
    }

    /// Counts for the app's "N punches waiting to send" UI.
    pub fn outbox_stats(&self) -> Result<OutboxStats, DeviceError> {
        Ok(self.outbox.stats(self.now_ms())?)
    }

    /// The device's wall clock in Unix milliseconds: the outbox's timestamps and retry times.
    /// (A user changing the clock can only make retries come sooner or later, never lose one.)
    fn now_ms(&self) -> i64 {
        self.clock.now().wall.timestamp_millis()
    }

    /// The punch records still held on this device (delivered ones until pruned), in chain
    /// order: what "export my punches" writes out.
    pub fn punch_log(&self) -> Result<Vec<PunchRecord>, DeviceError> {
        let mut records = Vec::new();
        for json in self.outbox.payloads_of_kind(ItemKind::Punch.as_str())? {
            records.push(
                PunchRecord::read_stored(&json)
                    .map_err(|e| StoreError::Corrupt(format!("stored punch: {e}")))?,
            );
        }
        Ok(records)
    }

    /// The evaluator's trusted now, from the anchor and the clocks.
    pub fn trusted_time(&self) -> TrustedTime {
        let clock = self.clock.now();
        TrustedTime::on_device(&clock, self.state().anchor.as_ref())
    }

    /// A fresh single-use nonce for the face matcher to put in its token for the next punch.
    pub fn issue_face_nonce(&self) -> Result<String, DeviceError> {
        let nonce = self
            .state()
            .nonces
            .issue()
            .map_err(|e| DeviceError::Randomness {
                reason: e.to_string(),
            })?;
        nonces::issue(&self.store.conn(), &nonce, self.now_ms())?;
        Ok(nonce)
    }

    /// Judges an attempt without recording anything and without using its face nonce: what
    /// the app shows before the user taps "clock in" ("you are 37 m outside the store").
    pub fn preview(&self, input: PunchInput) -> Result<Verdict, DeviceError> {
        let state = self.state();
        let (_, engine, attempt) = self.attempt(&state, input)?;
        let mut scratch = state.nonces.clone();
        Ok(engine.evaluate(&attempt, None, &mut scratch)?)
    }

    /// The attempt an input makes now, with the engine to judge it: the device's clocks,
    /// its previous punch and its time anchor added to what the app observed.
    fn attempt(
        &self,
        state: &State,
        input: PunchInput,
    ) -> Result<(Identity, Arc<Engine>, Attempt), DeviceError> {
        let identity = state.identity.clone().ok_or(DeviceError::NotEnrolled)?;
        let engine = state.engine.clone().ok_or(DeviceError::NoPolicy)?;
        let attempt = Attempt {
            employee_id: identity.employee_id.clone(),
            kind: input.kind,
            fix: input.fix,
            more_fixes: input.more_fixes,
            wifi_bssids: input.wifi_bssids,
            face: input.face,
            clock: self.clock.now(),
            previous: state.previous.clone(),
            anchor: state.anchor.clone(),
        };
        Ok((identity, engine, attempt))
    }

    /// Judges a punch attempt and, unless it is rejected, signs it, chains it and queues it,
    /// durably, in one transaction. Returns after the commit.
    pub fn punch(&self, input: PunchInput) -> Result<PunchOutcome, DeviceError> {
        let mut state = self.state();
        let (identity, engine, attempt) = self.attempt(&state, input)?;
        let chain = state.chain.clone().ok_or(DeviceError::NotEnrolled)?;
        attempt.validate()?;
        // Evaluate against a copy of the ledger: it is replaced only after the commit.
        let mut nonces = state.nonces.clone();
        let verdict = engine.evaluate(&attempt, None, &mut nonces)?;
        let consumed = attempt
            .face
            .as_ref()
            .map(|f| f.nonce.clone())
            .filter(|n| nonces.is_consumed(n) && !state.nonces.is_consumed(n));
        let now_ms = self.now_ms();

        if verdict.decision == Decision::Rejected {
            if let Some(nonce) = &consumed {
                nonces::consume(&self.store.conn(), nonce, now_ms)?;
            }
            state.nonces = nonces;
            return Ok(PunchOutcome {
                verdict,
                record: None,
            });
        }

        let server_offset_ms = match verdict.time_source {
            TimeSource::ServerAnchor => {
                Some((verdict.evaluated_at - attempt.clock.wall).num_milliseconds())
            }
            _ => None,
        };
        let draft = PunchDraft {
            kind: attempt.kind,
            employee_id: attempt.employee_id.clone(),
            evidence: PunchEvidence {
                fix: attempt.fix.clone(),
                more_fixes: attempt.more_fixes.clone(),
                wifi_bssids: attempt.normalized_bssids(),
                face_token: attempt.face.as_ref().map(|f| f.token.clone()),
                nonce: attempt.face.as_ref().map(|f| f.nonce.clone()),
            },
            clock: attempt.clock.clone(),
            server_offset_ms,
            policy_version: verdict.policy_version,
            verdict: verdict.clone(),
            id_time: verdict.evaluated_at,
        };
        let mut next_chain = chain;
        let (record, json) = next_chain
            .append_with_json(draft, &self.signer)
            .map_err(punch_error)?;
        {
            let mut conn = self.store.conn();
            let tx = conn.transaction()?;
            self.outbox.enqueue_in(
                &tx,
                &NewItem {
                    id: record.body.id.to_string(),
                    stream: punch_stream(&identity.device_id),
                    kind: ItemKind::Punch.as_str().into(),
                    payload: json.clone(),
                },
                now_ms,
            )?;
            chain::set_head(&tx, &identity.device_id, &json)?;
            if let Some(nonce) = &consumed {
                nonces::consume(&tx, nonce, now_ms)?;
            }
            tx.commit()?;
        }
        state.chain = Some(next_chain);
        state.nonces = nonces;
        state.previous = PreviousPunch {
            fix: attempt.fix.clone(),
            clock: Some(attempt.clock.clone()),
        };
        Ok(PunchOutcome {
            verdict,
            record: Some(record),
        })
    }

    /// Installs a policy document after checking the organisation's signature over it.
    pub fn install_policy(&self, document: &str, signature_b64: &str) -> Result<u64, DeviceError> {
        let identity = self.identity().ok_or(DeviceError::NotEnrolled)?;
        policy_bundle::verify(&identity.org_public_key, document, signature_b64).map_err(|e| {
            DeviceError::BadPolicy {
                reason: e.to_string(),
            }
        })?;
        let policy =
            Policy::from_json(document).map_err(|e: PolicyError| DeviceError::BadPolicy {
                reason: e.to_string(),
            })?;
        let version = policy.version;
        if let Some(current) = self.policy_version()
            && version < current
        {
            return Err(DeviceError::BadPolicy {
                reason: format!("version {version} is older than the installed version {current}"),
            });
        }
        policy::save(
            &self.store.conn(),
            &policy::CachedPolicy {
                version: version as i64,
                document: document.to_owned(),
                signature: signature_b64.to_owned(),
                fetched_ms: self.now_ms(),
            },
        )?;
        let mut state = self.state();
        state.engine = Some(Arc::new(Engine::new(policy)));
        state.policy_version = Some(version);
        tracing::info!(version, "policy installed");
        Ok(version)
    }

    /// Records a server time reading taken at the device clock reading `at`.
    pub(crate) fn set_anchor(
        &self,
        server_time: DateTime<Utc>,
        at: &daka_core::evidence::DeviceClock,
    ) -> Result<(), DeviceError> {
        let anchor = TimeAnchor {
            server_time,
            monotonic_ms: at.monotonic_ms,
            boot_id: at.boot_id.clone(),
        };
        anchor::save(&self.store.conn(), &anchor)?;
        self.state().anchor = Some(anchor);
        Ok(())
    }
}

/// A failure of the core's punch signing as a device error: the random source, a record that
/// cannot be made, or the key itself.
fn punch_error(e: PunchError) -> DeviceError {
    match e {
        PunchError::Randomness => DeviceError::Randomness {
            reason: e.to_string(),
        },
        PunchError::InvalidDraft(_) => DeviceError::Serialisation {
            what: "punch record",
            reason: e.to_string(),
        },
        other => DeviceError::Key {
            reason: other.to_string(),
        },
    }
}

fn load_or_create_key(store: &Store, keys: &dyn KeyStore) -> Result<DeviceSigner, DeviceError> {
    let conn = store.conn();
    let row = identity::load(&conn)?;
    let key_error = |e: &dyn std::fmt::Display| DeviceError::Key {
        reason: e.to_string(),
    };
    match row {
        Some(identity::DeviceRow {
            key_seed: Some(sealed),
            public_key: stored,
            ..
        }) => {
            let seed = zeroize::Zeroizing::new(keys.open(&sealed)?);
            let seed: &[u8; 32] = seed.as_slice().try_into().map_err(|_| DeviceError::Key {
                reason: format!("the stored key is {} bytes, not 32", seed.len()),
            })?;
            let signer = DeviceSigner::from_seed(seed).map_err(|e| key_error(&e))?;
            // A key store that hands back another key (a restored backup, a reinstalled app
            // sharing the file) would sign records the server refuses: stop here instead.
            if stored != signer.public_key() {
                return Err(DeviceError::Key {
                    reason: format!(
                        "the key store opened a key that is not this device's (public key {} expected, {} found); enrol again with a new store",
                        URL_SAFE_NO_PAD.encode(&stored),
                        URL_SAFE_NO_PAD.encode(signer.public_key())
                    ),
                });
            }
            Ok(signer)
        }
        Some(identity::DeviceRow { key_seed: None, .. }) => Err(DeviceError::Key {
            reason: "the device row has no key; the store was created by a platform key provider"
                .into(),
        }),
        None => {
            let (signer, seed) = DeviceSigner::generate().map_err(punch_error)?;
            let sealed = keys.seal(seed.as_slice())?;
            identity::create(&conn, &sealed, &signer.public_key())?;
            Ok(signer)
        }
    }
}

fn load_state(store: &Store) -> Result<State, DeviceError> {
    let conn = store.conn();
    let row = identity::load(&conn)?;
    let mut state = State {
        identity: None,
        token: None,
        chain: None,
        previous: PreviousPunch::default(),
        engine: None,
        policy_version: None,
        nonces: NonceLedger::new(),
        anchor: None,
        cursor: None,
        revoked: None,
        tls_refusal: None,
        push_turn: PushTurn::Unknown,
    };
    if let Some(identity::DeviceRow {
        device_id: Some(device_id),
        org_id: Some(org_id),
        employee_id: Some(employee_id),
        bearer_token: token,
        server_url: Some(server_url),
        org_public_key: Some(org_public_key),
        ..
    }) = row
    {
        state.identity = Some(Identity {
            device_id: device_id.clone(),
            org_id,
            employee_id,
            server_url,
            org_public_key,
        });
        state.token = token;
        let last = chain::head(&conn, &device_id)?;
        state.chain = Some(match &last {
            Some(json) => {
                let record = PunchRecord::read_stored(json)
                    .map_err(|e| StoreError::Corrupt(format!("chain head: {e}")))?;
                state.previous = PreviousPunch {
                    fix: record.body.evidence.fix.clone(),
                    clock: Some(record.body.clock.clone()),
                };
                PunchChain::resume(&record)
                    .map_err(|e| StoreError::Corrupt(format!("chain head: {e}")))?
            }
            None => PunchChain::new(device_id),
        });
    }
    if let Some(cached) = policy::load(&conn)? {
        // The cached document was verified when installed; a cache that no longer parses is
        // dropped (the next sync fetches the policy again) rather than bricking the device.
        if let Ok(policy) = Policy::from_json(&cached.document) {
            state.policy_version = Some(policy.version);
            state.engine = Some(Arc::new(Engine::new(policy)));
        }
    }
    for nonce in nonces::consumed(&conn)? {
        state.nonces.consume(&nonce);
    }
    state.anchor = anchor::load(&conn)?;
    state.cursor = crate::store::cursor::load(&conn)?;
    Ok(state)
}
