//! Enrolment and sync: the device's side of the protocol.
//!
//! One round of [`Device::sync_now`]: fetch the policy if there is none yet, drain the outbox
//! in batches (reporting progress after each), then pull changes (a new policy version is
//! fetched at once). Every response's `server_time` becomes the new trusted-time anchor.
//! A 401 refreshes the bearer token once, by signing a challenge with the device key. A
//! retryable failure (network, timeout, 5xx, 429/503) puts the batch back with backoff or the
//! server's Retry-After and ends the round with the error in the report; it is not an `Err`,
//! because being offline is the normal state of a field worker's phone. Push requests are
//! sized to the link ([`BatchSizer`]); a 413 sends the same items again at once in smaller
//! requests, and parks an item that alone is too large.

use std::collections::HashMap;
use std::sync::MutexGuard;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{Device, DeviceError, Identity, PushTurn};
use crate::outbox::{ItemError, Outcome};
use crate::store::{cursor, day_results, identity as device_row};
use crate::sync::batching::{ASK_TURN_FROM_BYTES, BatchSizer};
use crate::sync::client::{SyncClient, SyncError};
use daka_core::protocol::{
    Attestation, AttestationRule, Change, EnrollChallengeRequest, EnrollRequest, ItemCode,
    ItemResult, ItemStatus, PushItem, PushRequest, PushResponse, TokenRequest, attestation_nonce,
    punch_stream, token_challenge,
};
use daka_core::punch::PunchChain;

/// A challenge for an attested enrolment ([`Device::enrollment_challenge`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentChallenge {
    /// The server's challenge; goes back in [`Attestation::challenge`].
    pub challenge: String,
    /// What the platform must attest to: SHA-256 over the challenge and this device's public
    /// key ([`attestation_nonce`]). Android: Play Integrity's `nonce`, as
    /// [`EnrollmentChallenge::nonce_base64url`]; iOS: App Attest's `clientDataHash`, these
    /// 32 bytes.
    pub nonce: [u8; 32],
    /// Whether the organisation asks for attestation.
    pub attestation: AttestationRule,
    /// The formats the server verifies, e.g. `["app_attest", "play_integrity"]`.
    pub formats: Vec<String>,
    /// When the server stops accepting the challenge (10 minutes after it was issued).
    pub expires_at: chrono::DateTime<Utc>,
}

impl EnrollmentChallenge {
    /// The nonce as Play Integrity takes it: base64url without padding (43 characters).
    pub fn nonce_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.nonce)
    }
}

/// Progress of a drain, for "42 of 120 sent".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyncProgress {
    /// Items sent and answered so far in this round.
    pub sent: u64,
    /// Items that were waiting when the round started.
    pub total: u64,
}

/// What one sync round did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Push attempts in this round: batches sent, or asked for their turn (`POST /v1/push/turn`)
    /// and told to wait; a retry after a token refresh counts once.
    pub requests: u64,
    /// Items the server applied for the first time; counts as delivered.
    pub accepted: u64,
    /// Already applied by the server (a retry of a delivered item); counts as delivered.
    pub duplicates: u64,
    /// Permanently refused; parked as needs-attention.
    pub rejected: u64,
    /// Answered "retry later".
    pub deferred: u64,
    /// Undelivered items left in the outbox after the round.
    pub remaining: u64,
    /// The policy version in force after the round; `None` if the device still has none.
    pub policy_version: Option<u64>,
    /// Whether this round replaced the policy that was in force before it (installing the
    /// first policy does not count).
    pub policy_updated: bool,
    /// The server's own verdicts on punches, pulled from the changes feed.
    pub server_verdicts: Vec<Change>,
    /// Requests this device's employee made or must act on that changed, from the feed.
    pub request_updates: Vec<Change>,
    /// The server's confirmed attendance results for this device's employee that changed,
    /// from the feed (also kept in the store for `today` and `month_summary`).
    pub day_results: Vec<Change>,
    /// Files for approval requests uploaded before the push.
    pub attachments_uploaded: u64,
    /// Why the round ended early, if it did: the retryable failure, or the server deferring
    /// items.
    pub stopped_by: Option<String>,
    /// The retryable failure that ended the round early, typed (`None` when the round ran to
    /// the end or the server deferred items).
    #[serde(skip)]
    pub stopped_by_error: Option<SyncError>,
}

impl Device {
    /// The adaptive size of push requests, kept across rounds for the life of the device.
    fn batch_sizer(&self) -> MutexGuard<'_, BatchSizer> {
        self.batch_sizer.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn client(&self, identity: &Identity) -> Result<SyncClient, DeviceError> {
        Ok(SyncClient::with_tls(
            &identity.server_url,
            self.client_config,
            &self.tls,
        )?)
    }

    /// Enrols this device with a one-time code from an administrator, then fetches the
    /// organisation's policy so the device can judge punches at once.
    pub async fn enroll(
        &self,
        server_url: &str,
        code: &str,
        device_name: &str,
        platform: &str,
    ) -> Result<Identity, DeviceError> {
        self.enroll_with(server_url, code, device_name, platform, None)
            .await
    }

    /// Asks the server for a challenge before an attested enrolment: whether the
    /// organisation asks for attestation, which formats the server verifies, and the nonce
    /// to have the platform attest to (bound to this device's key). Pass the platform's
    /// result to [`Device::enroll_with`] within [`EnrollmentChallenge::expires_at`].
    pub async fn enrollment_challenge(
        &self,
        server_url: &str,
        code: &str,
    ) -> Result<EnrollmentChallenge, DeviceError> {
        if let Some(identity) = self.identity() {
            return Err(DeviceError::AlreadyEnrolled {
                device_id: identity.device_id,
            });
        }
        let client = SyncClient::with_tls(server_url, self.client_config, &self.tls)?;
        let public_key = self.public_key_b64();
        let response = client
            .enroll_challenge(&EnrollChallengeRequest {
                code: code.to_string(),
                public_key: public_key.clone(),
            })
            .await?;
        Ok(EnrollmentChallenge {
            nonce: attestation_nonce(&response.challenge, &public_key),
            challenge: response.challenge,
            attestation: response.attestation,
            formats: response.formats,
            expires_at: response.expires_at,
        })
    }

    /// [`Device::enroll`] with the platform's attestation of the app and device, made for
    /// a challenge from [`Device::enrollment_challenge`]. Required where the organisation's
    /// policy says `enrolment.attestation: required`; the server refuses a missing or failing
    /// one with [`SyncError::Refused`] naming the reason (`attestation_not_trusted`, …).
    pub async fn enroll_with(
        &self,
        server_url: &str,
        code: &str,
        device_name: &str,
        platform: &str,
        attestation: Option<Attestation>,
    ) -> Result<Identity, DeviceError> {
        if let Some(identity) = self.identity() {
            return Err(DeviceError::AlreadyEnrolled {
                device_id: identity.device_id,
            });
        }
        let client = SyncClient::with_tls(server_url, self.client_config, &self.tls)?;
        let response = client
            .enroll(&EnrollRequest {
                code: code.to_string(),
                public_key: self.public_key_b64(),
                device_name: device_name.to_string(),
                platform: platform.to_string(),
                attestation,
            })
            .await?;
        let at = self.clock.now();
        let identity = Identity {
            device_id: response.device_id.clone(),
            org_id: response.org_id.clone(),
            employee_id: response.employee_id.clone(),
            server_url: server_url.trim_end_matches('/').to_string(),
            org_public_key: response.org_public_key.clone(),
        };
        device_row::enrol(
            &self.store.conn(),
            &device_row::Enrolment {
                device_id: &identity.device_id,
                org_id: &identity.org_id,
                employee_id: &identity.employee_id,
                bearer_token: &response.token,
                server_url: &identity.server_url,
                org_public_key: &identity.org_public_key,
            },
        )?;
        {
            let mut state = self.state();
            state.identity = Some(identity.clone());
            state.token = Some(response.token);
            state.chain = Some(PunchChain::new(identity.device_id.clone()));
        }
        self.set_anchor(response.server_time, &at)?;
        tracing::info!(
            device_id = %identity.device_id,
            org_id = %identity.org_id,
            "device enrolled"
        );
        // Ready to punch at once: fetch the policy now. Failing here is not failing the
        // enrolment; the next sync round fetches it.
        let _ = self.refresh_policy().await;
        Ok(identity)
    }

    /// Runs `call` with the bearer token; on 401 refreshes the token once and runs it again.
    /// Once the server has said the device is revoked, nothing more is sent for the life of
    /// this `Device`: every call answers [`SyncError::DeviceRevoked`] at once.
    pub(super) async fn authorized<T, F, Fut>(
        &self,
        client: &SyncClient,
        identity: &Identity,
        call: F,
    ) -> Result<T, SyncError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, SyncError>>,
    {
        if let Some(message) = self.state().revoked.clone() {
            return Err(SyncError::DeviceRevoked { message });
        }
        let token = self.state().token.clone().unwrap_or_default();
        let result = match call(token).await {
            Err(SyncError::Unauthorized { .. }) => match self.refresh_token(client, identity).await
            {
                Ok(token) => call(token).await,
                Err(e) => Err(e),
            },
            other => other,
        };
        if let Err(SyncError::DeviceRevoked { message }) = &result {
            tracing::error!(
                device_id = %identity.device_id,
                "the server says this device was revoked; nothing more is sent"
            );
            self.state().revoked = Some(message.clone());
        }
        result
    }

    async fn refresh_token(
        &self,
        client: &SyncClient,
        identity: &Identity,
    ) -> Result<String, SyncError> {
        let issued_at = self.trusted_time().now;
        let signature = self
            .signer
            .sign(&token_challenge(&identity.device_id, &issued_at));
        let response = client
            .refresh_token(&TokenRequest {
                device_id: identity.device_id.clone(),
                issued_at,
                signature: URL_SAFE_NO_PAD.encode(signature),
            })
            .await?;
        // Losing the new token to a crash only costs another refresh.
        let _ = device_row::set_token(&self.store.conn(), &response.token);
        self.state().token = Some(response.token.clone());
        tracing::info!(device_id = %identity.device_id, "device token refreshed");
        Ok(response.token)
    }

    fn note_server_time(
        &self,
        server_time: chrono::DateTime<Utc>,
        at: &daka_core::evidence::DeviceClock,
    ) {
        // An anchor that cannot be stored is not worth failing a sync over: the next
        // response brings another.
        let _ = self.set_anchor(server_time, at);
    }

    /// Fetches and installs the organisation's current policy.
    pub async fn refresh_policy(&self) -> Result<u64, DeviceError> {
        let identity = self.identity().ok_or(DeviceError::NotEnrolled)?;
        let client = self.client(&identity)?;
        let at = self.clock.now();
        let bundle = self
            .authorized(&client, &identity, |t| {
                let client = client.clone();
                async move { client.policy(&t).await }
            })
            .await?;
        self.note_server_time(bundle.server_time, &at);
        self.install_policy(&bundle.document, &bundle.signature)
    }

    /// For a person's "send now": items that wait only because the network or a response
    /// failed (no signal, a timeout, a cut connection) become eligible at once instead of
    /// waiting out their backoff. Items the server asked to wait (429/503 with Retry-After,
    /// 5xx) keep their schedule. Returns how many were moved. The background loop does not
    /// call this; it keeps the backoff.
    pub fn retry_now(&self) -> Result<u64, DeviceError> {
        Ok(self
            .outbox
            .expedite(&TRANSPORT_FAILURE_CODES, self.now_ms())?)
    }

    /// One sync round. `progress` is called after every answered batch.
    ///
    /// A refused server certificate ends the round with [`SyncError::Tls`] (not retryable);
    /// [`Device::tls_refusal`] keeps it until a round reaches the server.
    pub async fn sync_now(
        &self,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> Result<SyncReport, DeviceError> {
        let result = self.sync_round(progress).await;
        let refusal = match &result {
            Err(DeviceError::Sync(e @ SyncError::Tls { .. })) => Some(Some(e.clone())),
            Ok(report) if report.stopped_by_error.is_none() => Some(None),
            _ => None,
        };
        if let Some(refusal) = refusal {
            self.state().tls_refusal = refusal;
        }
        result
    }

    /// The TLS refusal that ended the last sync round, until a round reaches the server.
    pub fn tls_refusal(&self) -> Option<SyncError> {
        self.state().tls_refusal.clone()
    }

    async fn sync_round(
        &self,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> Result<SyncReport, DeviceError> {
        let identity = self.identity().ok_or(DeviceError::NotEnrolled)?;
        if let Some(message) = self.state().revoked.clone() {
            return Err(DeviceError::DeviceRevoked { message });
        }
        let client = self.client(&identity)?;
        let mut report = SyncReport::default();
        let before = self.policy_version();
        if before.is_none() {
            match self.refresh_policy().await {
                Ok(_) => {}
                Err(DeviceError::Sync(e)) if e.is_retryable() => {
                    report.stopped_by = Some(e.to_string());
                    report.stopped_by_error = Some(e.clone());
                }
                Err(e) => return Err(e),
            }
        }

        // Files first: the server defers a submission whose files it does not have.
        if report.stopped_by.is_none() {
            match self.upload_attachments(&client, &identity).await {
                Ok(n) => report.attachments_uploaded = n,
                Err(DeviceError::Sync(e)) if e.is_retryable() => {
                    report.stopped_by = Some(e.to_string());
                    report.stopped_by_error = Some(e.clone());
                }
                Err(e) => return Err(e),
            }
        }

        let start = self.outbox.stats(self.now_ms())?;
        let total = start.pending + start.in_flight;
        {
            // What the server's line was like in an earlier round says nothing of it now.
            let mut state = self.state();
            if state.push_turn == PushTurn::Free {
                state.push_turn = PushTurn::Unknown;
            }
        }
        let mut sent = 0u64;
        while report.stopped_by.is_none() {
            let (items, bytes) = {
                let sizer = self.batch_sizer();
                (sizer.items(), sizer.bytes())
            };
            let mut batch = self.outbox.take_batch_within(self.now_ms(), items, bytes)?;
            if batch.is_empty() {
                break;
            }
            let batch_bytes: usize = batch.iter().map(|item| item.wire_bytes()).sum();
            // The request takes each item's stream, kind and payload; only ids are needed
            // afterwards, to match the answers.
            let request = PushRequest {
                items: batch
                    .iter_mut()
                    .map(|item| {
                        let payload = std::mem::take(&mut item.payload);
                        Ok(PushItem {
                            id: item.id.clone(),
                            stream: std::mem::take(&mut item.stream),
                            kind: std::mem::take(&mut item.kind),
                            body: RawValue::from_string(payload).map_err(|e| {
                                crate::store::StoreError::Corrupt(format!(
                                    "outbox item {}: {e}",
                                    item.id
                                ))
                            })?,
                        })
                    })
                    .collect::<Result<Vec<_>, DeviceError>>()?,
            };
            let at = self.clock.now();
            let started = Instant::now();
            report.requests += 1;
            let result = self
                .push_in_turn(&client, &identity, &request, batch_bytes)
                .await;
            let now_ms = self.now_ms();
            match result {
                Ok(response) => {
                    self.batch_sizer().answered(batch.len(), started.elapsed());
                    self.note_server_time(response.server_time, &at);
                    let mut outcomes = Vec::with_capacity(batch.len());
                    // The first answer for each id, as a lookup (a batch has up to 500).
                    let mut answers: HashMap<&str, &ItemResult> = HashMap::new();
                    for r in &response.results {
                        answers.entry(r.id.as_str()).or_insert(r);
                    }
                    for item in &batch {
                        let answer = answers.get(item.id.as_str());
                        let outcome = match answer {
                            Some(r) => match r.status {
                                ItemStatus::Accepted => {
                                    report.accepted += 1;
                                    Outcome::Delivered
                                }
                                ItemStatus::Duplicate => {
                                    report.duplicates += 1;
                                    Outcome::Delivered
                                }
                                ItemStatus::Rejected => {
                                    report.rejected += 1;
                                    tracing::warn!(
                                        item_id = %item.id,
                                        kind = %item.kind,
                                        code = r.code.as_deref().unwrap_or(ItemCode::Rejected.as_str()),
                                        "the server refused an item; it waits for the user"
                                    );
                                    Outcome::Rejected(ItemError {
                                        code: r
                                            .code
                                            .clone()
                                            .unwrap_or_else(|| ItemCode::Rejected.as_str().into()),
                                        message: r.message.clone().unwrap_or_default(),
                                    })
                                }
                                ItemStatus::Retry => {
                                    report.deferred += 1;
                                    Outcome::Retry {
                                        retry_after_ms: None,
                                        error: r.code.clone().map(|code| ItemError {
                                            code,
                                            message: r.message.clone().unwrap_or_default(),
                                        }),
                                    }
                                }
                            },
                            // An item the server did not answer was not applied.
                            None => {
                                report.deferred += 1;
                                Outcome::Retry {
                                    retry_after_ms: None,
                                    error: None,
                                }
                            }
                        };
                        outcomes.push((item.id.clone(), outcome));
                    }
                    self.outbox.complete(&outcomes, now_ms)?;
                    sent += batch.len() as u64;
                    progress(SyncProgress {
                        sent,
                        total: total.max(sent),
                    });
                    if outcomes
                        .iter()
                        .any(|(_, o)| matches!(o, Outcome::Retry { .. }))
                    {
                        // The server asked for patience; the rest waits for its backoff.
                        report.stopped_by = Some("the server deferred some items".into());
                    }
                }
                Err(e) if e.is_too_large() => {
                    // The server's body limit is below this request: send the batch again in
                    // smaller requests, at once. A single item over the limit can never go.
                    let error = ItemError {
                        code: "payload_too_large".into(),
                        message: e.to_string(),
                    };
                    let outcome = if batch.len() > 1 {
                        self.batch_sizer().too_large(batch_bytes);
                        Outcome::Retry {
                            retry_after_ms: Some(0),
                            error: Some(error),
                        }
                    } else {
                        report.rejected += 1;
                        Outcome::Rejected(error)
                    };
                    let outcomes: Vec<_> = batch
                        .iter()
                        .map(|i| (i.id.clone(), outcome.clone()))
                        .collect();
                    self.outbox.complete(&outcomes, now_ms)?;
                }
                Err(e) => {
                    self.batch_sizer().failed(&e);
                    let (retry_after_ms, code) = (e.retry_after_ms(), error_code(&e));
                    let outcomes: Vec<_> = batch
                        .iter()
                        .map(|i| {
                            (
                                i.id.clone(),
                                Outcome::Retry {
                                    retry_after_ms,
                                    error: Some(ItemError {
                                        code: code.into(),
                                        message: e.to_string(),
                                    }),
                                },
                            )
                        })
                        .collect();
                    self.outbox.complete(&outcomes, now_ms)?;
                    if e.is_retryable() {
                        report.stopped_by = Some(e.to_string());
                        report.stopped_by_error = Some(e.clone());
                    } else {
                        return Err(e.into());
                    }
                }
            }
        }

        if report.stopped_by.is_none() {
            self.pull_changes(&client, &identity, &mut report).await?;
        }
        report.policy_version = self.policy_version();
        report.policy_updated = report.policy_version != before && before.is_some();
        let end = self.outbox.stats(self.now_ms())?;
        report.remaining = end.pending + end.in_flight;
        match &report.stopped_by {
            None => tracing::info!(
                requests = report.requests,
                accepted = report.accepted,
                duplicates = report.duplicates,
                rejected = report.rejected,
                deferred = report.deferred,
                remaining = report.remaining,
                "sync round finished"
            ),
            Some(reason) => tracing::warn!(
                requests = report.requests,
                accepted = report.accepted,
                remaining = report.remaining,
                reason = %reason,
                "sync round stopped early; the queue waits for the next round"
            ),
        }
        Ok(report)
    }

    /// Sends a push of `bytes` bytes of items, first asking `POST /v1/push/turn` when the
    /// device holds a place in the server's line (the server refused its last push or question
    /// `busy`), or when the push is [`ASK_TURN_FROM_BYTES`] or more and no push was answered
    /// yet in this round: coming back, or coming with a backlog to a server that may be busy,
    /// then costs a small request, not the push's upload (about 200 KB for a hundred punches
    /// with their evidence). The answer to the question is the push's answer when it is not
    /// the device's turn yet.
    async fn push_in_turn(
        &self,
        client: &SyncClient,
        identity: &Identity,
        request: &PushRequest,
        bytes: usize,
    ) -> Result<PushResponse, SyncError> {
        let ask = match self.state().push_turn {
            PushTurn::InLine => true,
            PushTurn::Unknown => bytes >= ASK_TURN_FROM_BYTES,
            PushTurn::Free | PushTurn::Unoffered => false,
        };
        if ask {
            let items = request.items.len();
            let asked = self
                .authorized(client, identity, |t| {
                    let client = client.clone();
                    async move { client.push_turn(&t, items).await }
                })
                .await;
            match asked {
                Ok(()) => {}
                Err(SyncError::Refused { status: 404, .. }) => {
                    tracing::info!("the server does not offer /v1/push/turn; pushes go at once");
                    self.state().push_turn = PushTurn::Unoffered;
                }
                Err(e) => {
                    self.after_push(Err(&e));
                    return Err(e);
                }
            }
        }
        let result = self
            .authorized(client, identity, |t| {
                let client = client.clone();
                async move { client.push(&t, request).await }
            })
            .await;
        self.after_push(result.as_ref().map(|_| ()));
        result
    }

    /// Where the device stands in the server's line after a push or a turn question was
    /// answered: in line after a `busy` refusal, free to push after a push was answered.
    fn after_push(&self, answer: Result<(), &SyncError>) {
        let mut state = self.state();
        if state.push_turn == PushTurn::Unoffered {
            return;
        }
        match answer {
            Err(SyncError::Busy { .. }) => state.push_turn = PushTurn::InLine,
            Ok(_) => state.push_turn = PushTurn::Free,
            Err(_) => {}
        }
    }

    async fn pull_changes(
        &self,
        client: &SyncClient,
        identity: &Identity,
        report: &mut SyncReport,
    ) -> Result<(), DeviceError> {
        loop {
            let cursor = self.state().cursor.clone();
            let at = self.clock.now();
            let result = self
                .authorized(client, identity, |t| {
                    let client = client.clone();
                    let cursor = cursor.clone();
                    async move { client.changes(&t, cursor.as_deref()).await }
                })
                .await;
            let changes = match result {
                Ok(c) => c,
                Err(e) if e.is_retryable() => {
                    report.stopped_by = Some(e.to_string());
                    report.stopped_by_error = Some(e.clone());
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            self.note_server_time(changes.server_time, &at);
            for change in changes.changes {
                match &change {
                    Change::PolicyUpdated { version } => {
                        if self.policy_version().is_none_or(|v| v < *version) {
                            self.refresh_policy().await?;
                        }
                    }
                    Change::PunchVerdict { .. } => report.server_verdicts.push(change),
                    Change::RequestUpdated { .. } => report.request_updates.push(change),
                    Change::DayResult {
                        result,
                        policy_version,
                    } => {
                        let own = self
                            .identity()
                            .is_some_and(|i| i.employee_id == result.employee);
                        if own {
                            day_results::save(
                                &self.store.conn(),
                                result,
                                *policy_version,
                                self.clock.now().wall.timestamp_millis(),
                            )?;
                        }
                        report.day_results.push(change);
                    }
                }
            }
            cursor::save(&self.store.conn(), &changes.cursor)?;
            self.state().cursor = Some(changes.cursor);
            if !changes.more {
                return Ok(());
            }
        }
    }

    /// The outbox stream this device's punches travel in.
    pub fn punch_stream(&self) -> Option<String> {
        self.identity().map(|i| punch_stream(&i.device_id))
    }
}

/// The codes [`error_code`] gives failures of the connection itself, not answers of the
/// server: what [`Device::retry_now`] expedites.
const TRANSPORT_FAILURE_CODES: [&str; 3] = ["network", "timeout", "invalid_response"];

fn error_code(e: &SyncError) -> &'static str {
    match e {
        SyncError::Network { .. } => "network",
        SyncError::Timeout { .. } => "timeout",
        SyncError::Unauthorized { .. } => "unauthorized",
        SyncError::Busy { .. } => ItemCode::ServerBusy.as_str(),
        SyncError::Server { .. } => "server_error",
        SyncError::Refused { .. } => "refused",
        SyncError::InvalidResponse { .. } => "invalid_response",
        SyncError::InvalidUrl { .. } => "invalid_url",
        SyncError::DeviceRevoked { .. } => "device_revoked",
        SyncError::Tls { .. } => "tls",
    }
}
