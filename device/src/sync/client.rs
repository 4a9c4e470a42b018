//! The HTTP client for the sync protocol: one method per endpoint, every request with a
//! timeout, every failure sorted into retryable or permanent.
//!
//! This layer knows HTTP and nothing about the outbox; [`crate::engine`] decides what to send
//! and what a failure means for the queue. TLS is rustls (no platform OpenSSL), configured by
//! [`super::tls`]; a refused certificate is [`SyncError::Tls`], never a network error. Plain
//! `http://` is accepted only for loopback addresses, for tests and the demo.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::tls::{TlsFailure, TlsSetup};
use daka_core::protocol::{
    API_PREFIX, ApiError, ChangesResponse, EnrollChallengeRequest, EnrollChallengeResponse,
    EnrollRequest, EnrollResponse, LeaveBalances, PolicyBundle, PushRequest, PushResponse,
    PushTurnRequest, RequestList, RequestView, TokenRequest, TokenResponse,
};

/// Client settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Limit for a whole request, connection to last byte.
    pub request_timeout: Duration,
    /// Limit for establishing the connection.
    pub connect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What went wrong talking to the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// No connection, reset, or a response cut short: try again later.
    #[error("network error talking to {url}: {reason}")]
    Network {
        /// The full URL of the request (server base URL, `/v1` and the endpoint path).
        url: String,
        /// The HTTP stack's description, with its chain of causes (DNS, TLS, connection).
        reason: String,
    },
    /// The request took longer than the configured timeout: try again later.
    #[error("request to {url} timed out")]
    Timeout {
        /// The full URL of the request (server base URL, `/v1` and the endpoint path).
        url: String,
    },
    /// The bearer token is missing, expired or revoked: refresh it or enrol again.
    #[error("the server refused the device's credentials: {message}")]
    Unauthorized {
        /// The server's explanation (its error message, or the start of the response body).
        message: String,
    },
    /// The server is overloaded (429) or down for maintenance (503); wait as it says.
    #[error("the server asked to retry later (HTTP {status}){}", retry_after_ms.map(|ms| format!(", after {ms} ms")).unwrap_or_default())]
    Busy {
        /// The HTTP status: 429 or 503.
        status: u16,
        /// The server's `Retry-After`, converted to milliseconds from now; `None` when it
        /// sent none or one that does not parse.
        retry_after_ms: Option<u64>,
    },
    /// A 5xx error: the server failed; try again later.
    #[error("server error (HTTP {status}): {message}")]
    Server {
        /// The HTTP status, 500 to 599 (except 503, which is [`SyncError::Busy`]).
        status: u16,
        /// The server's error message, or the first 200 characters of the response body.
        message: String,
    },
    /// A 4xx error other than 401/429: the request itself is wrong and will not get better.
    #[error("the server refused the request (HTTP {status}, {code}): {message}")]
    Refused {
        /// The HTTP status, e.g. 400, 403 or 413 (see [`SyncError::is_too_large`]).
        status: u16,
        /// The server's stable error code (e.g. `invalid_request`, `enrollment_code_used`),
        /// or `http_error` when the body was not a daka error.
        code: String,
        /// The server's error message, or the first 200 characters of the response body.
        message: String,
    },
    /// An administrator revoked this device (HTTP 403 `device_revoked`): nothing it sends is
    /// taken any more, and no retry or token refresh helps. Enrol again with a new code (a new
    /// store).
    #[error("device revoked (HTTP 403 device_revoked): {message}")]
    DeviceRevoked {
        /// The server's explanation.
        message: String,
    },
    /// The server's certificate was refused (an unknown issuer, expired, another host name,
    /// no pinned key, …). Not retryable: the same certificate will be refused again until
    /// the server's certificate or the device's TLS options change.
    #[error("TLS refused by the device for {url} ({}): {failure}: {detail}", failure.code())]
    Tls {
        /// The full URL of the request (server base URL, `/v1` and the endpoint path).
        url: String,
        /// Why, as a stable code ([`TlsFailure::code`]).
        failure: TlsFailure,
        /// rustls' own description.
        detail: String,
    },
    /// The response was not what the protocol says: try again later, report if it persists.
    #[error("unexpected response from {url}: {reason}")]
    InvalidResponse {
        /// The full URL of the request (server base URL, `/v1` and the endpoint path).
        url: String,
        /// What did not parse, from the JSON decoder or the HTTP stack.
        reason: String,
    },
    /// The server URL is unusable.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The server URL as given.
        url: String,
        /// What is wrong with it: it does not parse, or it is not `https://` (plain
        /// `http://` is allowed to loopback addresses only), or no HTTP client could be built
        /// for it.
        reason: String,
    },
}

impl SyncError {
    /// Whether trying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SyncError::Network { .. }
                | SyncError::Timeout { .. }
                | SyncError::Busy { .. }
                | SyncError::Server { .. }
                | SyncError::InvalidResponse { .. }
        )
    }

    /// Whether the server refused the request's body as too large (HTTP 413): the same
    /// content may go in smaller requests.
    pub fn is_too_large(&self) -> bool {
        matches!(self, SyncError::Refused { status: 413, .. })
    }

    /// The server's requested wait, if it gave one.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            SyncError::Busy { retry_after_ms, .. } => *retry_after_ms,
            _ => None,
        }
    }
}

/// An HTTP client bound to one server.
#[derive(Debug, Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    request_timeout: std::time::Duration,
}

impl SyncClient {
    /// A client for the server at `base_url` (`https://...`, or `http://` on loopback only)
    /// that trusts the bundled public roots ([`TlsSetup::bundled`]).
    pub fn new(base_url: &str, config: ClientConfig) -> Result<SyncClient, SyncError> {
        SyncClient::with_tls(base_url, config, &TlsSetup::bundled())
    }

    /// A client for the server at `base_url` that trusts what `tls` says.
    pub fn with_tls(
        base_url: &str,
        config: ClientConfig,
        tls: &TlsSetup,
    ) -> Result<SyncClient, SyncError> {
        let invalid = |reason: &str| SyncError::InvalidUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let url = reqwest::Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = match url.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    Some(url::Host::Domain(d)) => d == "localhost",
                    None => false,
                };
                if !loopback {
                    return Err(invalid(
                        "plain http is only allowed to a loopback address; use https",
                    ));
                }
            }
            _ => return Err(invalid("the scheme must be https")),
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("daka/", env!("CARGO_PKG_VERSION")))
            .use_preconfigured_tls(tls.rustls_config())
            .build()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(SyncClient {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            request_timeout: config.request_timeout,
        })
    }

    /// The server URL the client was made with, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `POST /v1/enroll`: trades a one-time enrolment code for the device's identity and
    /// first bearer token. Needs no token.
    pub async fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, SyncError> {
        self.call(Method::POST, "/enroll", None, Some(request))
            .await
    }

    /// `POST /v1/enroll/challenge`: a challenge to attest to before enrolling, and whether
    /// the organisation asks for attestation. Needs no token.
    pub async fn enroll_challenge(
        &self,
        request: &EnrollChallengeRequest,
    ) -> Result<EnrollChallengeResponse, SyncError> {
        self.call(Method::POST, "/enroll/challenge", None, Some(request))
            .await
    }

    /// `POST /v1/token`: a new bearer token for an enrolled device, proved by its key's
    /// signature in `request`. Needs no token; call it after a [`SyncError::Unauthorized`].
    pub async fn refresh_token(&self, request: &TokenRequest) -> Result<TokenResponse, SyncError> {
        self.call(Method::POST, "/token", None, Some(request)).await
    }

    /// `GET /v1/policy`: the organisation's current policy document with its signature. The
    /// caller verifies the signature before using it.
    pub async fn policy(&self, token: &str) -> Result<PolicyBundle, SyncError> {
        self.call::<(), _>(Method::GET, "/policy", Some(token), None)
            .await
    }

    /// `POST /v1/push`: sends a batch of outbox items; the answer has one result per item.
    pub async fn push(
        &self,
        token: &str,
        request: &PushRequest,
    ) -> Result<PushResponse, SyncError> {
        self.call(Method::POST, "/push", Some(token), Some(request))
            .await
    }

    /// `POST /v1/push/turn`: whether a push of `items` items would be admitted now, asked
    /// without sending it. `Ok` when it would be; [`SyncError::Busy`] with the wait when not
    /// (the device keeps its place in line). A server that does not offer it answers
    /// [`SyncError::Refused`] with status 404: send the push as usual.
    pub async fn push_turn(&self, token: &str, items: usize) -> Result<(), SyncError> {
        let request = PushTurnRequest {
            items: u32::try_from(items).unwrap_or(u32::MAX),
        };
        self.call(Method::POST, "/push/turn", Some(token), Some(&request))
            .await
    }

    /// `GET /v1/changes`: the changes after `cursor` (`None`: from the start of the feed),
    /// with the cursor to pass next and whether more are waiting.
    pub async fn changes(
        &self,
        token: &str,
        cursor: Option<&str>,
    ) -> Result<ChangesResponse, SyncError> {
        let path = match cursor {
            Some(c) => format!("/changes?cursor={}", urlencode(c)),
            None => "/changes".to_string(),
        };
        self.call::<(), _>(Method::GET, &path, Some(token), None)
            .await
    }

    /// `GET /v1/requests/{id}`: one request with its steps and audit trail.
    pub async fn request(&self, token: &str, request_id: &str) -> Result<RequestView, SyncError> {
        let path = format!("/requests/{}", urlencode(request_id));
        self.call::<(), _>(Method::GET, &path, Some(token), None)
            .await
    }

    /// `GET /v1/requests`: the requests this device's employee made.
    pub async fn my_requests(&self, token: &str) -> Result<RequestList, SyncError> {
        self.call::<(), _>(Method::GET, "/requests", Some(token), None)
            .await
    }

    /// `GET /v1/inbox`: the requests waiting for this device's employee.
    pub async fn inbox(&self, token: &str) -> Result<RequestList, SyncError> {
        self.call::<(), _>(Method::GET, "/inbox", Some(token), None)
            .await
    }

    /// `GET /v1/leave-balances`: the employee's leave balances for `year` (default: this year).
    pub async fn leave_balances(
        &self,
        token: &str,
        year: Option<i32>,
    ) -> Result<LeaveBalances, SyncError> {
        let path = match year {
            Some(y) => format!("/leave-balances?year={y}"),
            None => "/leave-balances".to_string(),
        };
        self.call::<(), _>(Method::GET, &path, Some(token), None)
            .await
    }

    /// `PUT /v1/attachments/{sha256}`: uploads a file the server checks against its hash.
    /// Retry-safe: uploading a file the server has is answered as a success.
    pub async fn upload_attachment(
        &self,
        token: &str,
        sha256: &str,
        media_type: &str,
        content: Vec<u8>,
    ) -> Result<(), SyncError> {
        let url = format!(
            "{}{API_PREFIX}/attachments/{}",
            self.base,
            urlencode(sha256)
        );
        let request = self
            .http
            .put(&url)
            .timeout(upload_timeout(self.request_timeout, content.len()))
            .bearer_auth(token)
            .header(header::CONTENT_TYPE, media_type)
            .body(content);
        self.send::<serde_json::Value>(request, url)
            .await
            .map(|_| ())
    }

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<R, SyncError> {
        let url = format!("{}{API_PREFIX}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request, url).await
    }

    async fn send<R: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: String,
    ) -> Result<R, SyncError> {
        let response = request.send().await.map_err(|e| transport_error(&url, e))?;
        let status = response.status();
        let retry_after_header = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&url, e))?;
        if status.is_success() {
            // An answer without content reads as `null`, which is `()`.
            let body: &[u8] = if status == StatusCode::NO_CONTENT && bytes.is_empty() {
                b"null"
            } else {
                &bytes
            };
            return serde_json::from_slice(body).map_err(|e| SyncError::InvalidResponse {
                url: url.clone(),
                reason: e.to_string(),
            });
        }
        let api: Option<ApiError> = serde_json::from_slice(&bytes).ok();
        let retry_after_ms = retry_after(retry_after_header.as_deref(), api.as_ref());
        let message = api
            .as_ref()
            .map(|a| a.message.clone())
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
        Err(match status {
            StatusCode::UNAUTHORIZED => SyncError::Unauthorized { message },
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => SyncError::Busy {
                status: status.as_u16(),
                retry_after_ms,
            },
            StatusCode::FORBIDDEN if api.as_ref().is_some_and(|a| a.code == "device_revoked") => {
                SyncError::DeviceRevoked { message }
            }
            s if s.is_server_error() => SyncError::Server {
                status: s.as_u16(),
                message,
            },
            s => SyncError::Refused {
                status: s.as_u16(),
                code: api.map(|a| a.code).unwrap_or_else(|| "http_error".into()),
                message,
            },
        })
    }
}

fn transport_error(url: &str, e: reqwest::Error) -> SyncError {
    if e.is_timeout() {
        SyncError::Timeout {
            url: url.to_string(),
        }
    } else if let Some((failure, detail)) = TlsFailure::of(&e) {
        SyncError::Tls {
            url: url.to_string(),
            failure,
            detail,
        }
    } else if e.is_decode() {
        SyncError::InvalidResponse {
            url: url.to_string(),
            reason: e.to_string(),
        }
    } else {
        // Include the source chain: "error sending request" alone helps nobody.
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason.push_str(": ");
            reason.push_str(&s.to_string());
            source = s.source();
        }
        SyncError::Network {
            url: url.to_string(),
            reason,
        }
    }
}

/// How long the server asked to wait, in milliseconds: the error body's `retry_after_ms`
/// (to the millisecond), else the `Retry-After` header (whole seconds or a date).
pub fn retry_after(header: Option<&str>, api: Option<&ApiError>) -> Option<u64> {
    api.and_then(|a| a.retry_after_ms)
        .or_else(|| header.and_then(parse_retry_after))
}

/// Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?;
    let ms = (when.with_timezone(&Utc) - Utc::now()).num_milliseconds();
    Some(u64::try_from(ms).unwrap_or(0))
}

/// Slowest upload rate a file is given time for, in bytes per second (a weak mobile link).
const MIN_UPLOAD_BYTES_PER_S: u64 = 32 * 1024;

/// Longest any upload may take.
const MAX_UPLOAD_TIME: std::time::Duration = std::time::Duration::from_secs(600);

/// The time an upload of `bytes` is given: the request timeout plus the time the bytes take
/// at [`MIN_UPLOAD_BYTES_PER_S`], at most [`MAX_UPLOAD_TIME`] (a 5 MB receipt photo gets
/// about three minutes on top of the usual 30 s).
pub fn upload_timeout(request_timeout: std::time::Duration, bytes: usize) -> std::time::Duration {
    let transfer = std::time::Duration::from_secs(bytes as u64 / MIN_UPLOAD_BYTES_PER_S);
    (request_timeout + transfer).min(MAX_UPLOAD_TIME.max(request_timeout))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_get_time_for_their_size_within_a_cap() {
        let base = std::time::Duration::from_secs(30);
        assert_eq!(upload_timeout(base, 0), base);
        assert_eq!(
            upload_timeout(base, 5 * 1024 * 1024),
            std::time::Duration::from_secs(190)
        );
        assert_eq!(upload_timeout(base, 50 * 1024 * 1024), MAX_UPLOAD_TIME);
        // A request timeout above the cap is never shortened.
        let long = std::time::Duration::from_secs(900);
        assert_eq!(upload_timeout(long, 1), long);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(120_000));
        assert_eq!(parse_retry_after(" 0 "), Some(0));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(0),
            "a past date means now"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-5"), None);
        assert_eq!(parse_retry_after("99999999999999999999999"), None);
    }

    #[test]
    fn the_bodys_wait_to_the_millisecond_wins_over_the_header() {
        let busy = |body: &str| serde_json::from_str::<ApiError>(body).unwrap();
        let fine = busy(r#"{"code":"busy","message":"m","retry_after_ms":340}"#);
        assert_eq!(retry_after(Some("1"), Some(&fine)), Some(340));
        assert_eq!(retry_after(None, Some(&fine)), Some(340));
        // A server that sends only the header (or a body without the field) is read as before.
        let plain = busy(r#"{"code":"busy","message":"m"}"#);
        assert_eq!(retry_after(Some("2"), Some(&plain)), Some(2_000));
        assert_eq!(retry_after(Some("2"), None), Some(2_000));
        assert_eq!(retry_after(Some("soon"), Some(&plain)), None);
        assert_eq!(retry_after(None, None), None);
        // A hostile value is not trusted here: the outbox caps every wait (`Backoff::delay_ms`).
        let huge = busy(r#"{"code":"busy","message":"m","retry_after_ms":18446744073709551615}"#);
        assert_eq!(retry_after(None, Some(&huge)), Some(u64::MAX));
        // Garbage in the field makes the body unreadable as an `ApiError`; the header decides.
        assert!(
            serde_json::from_str::<ApiError>(
                r#"{"code":"busy","message":"m","retry_after_ms":-1}"#
            )
            .is_err()
        );
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let c = ClientConfig::default();
        assert!(SyncClient::new("http://127.0.0.1:8080", c).is_ok());
        assert!(SyncClient::new("http://[::1]:8080/", c).is_ok());
        assert!(SyncClient::new("http://localhost:1", c).is_ok());
        assert!(SyncClient::new("https://daka.example.hk", c).is_ok());
        for bad in [
            "http://daka.example.hk",
            "http://10.0.2.2:8080",
            "ftp://127.0.0.1",
            "not a url",
            "",
        ] {
            assert!(
                matches!(SyncClient::new(bad, c), Err(SyncError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }
}
