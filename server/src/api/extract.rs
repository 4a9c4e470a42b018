//! The extractors every handler uses: bounded JSON bodies parsed with errors that name the
//! field ([`ApiJson`], [`read_body`], [`parse_json`]), and bearer authentication of a device
//! ([`DeviceAuth`], and [`PushCaller`] for a push, which may be refused before its token is
//! looked up) or an organisation administrator ([`AdminAuth`]), whose organisation is taken
//! from the credential, never from the request.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::failure::Failure;
use super::scopes::{self, Need};
use super::state::AppState;
use crate::crypto;
use crate::storage::{DeviceRow, OrgRow};

/// A JSON body read up to the configured limit and parsed with field-naming errors.
pub struct ApiJson<T>(pub T);

/// Path parameters, refused as the documented `ApiError` (400 `invalid_request`, naming what
/// is wrong) rather than the framework's plain-text answer, e.g. for `%ff` in an id.
pub struct ApiPath<T>(pub T);

/// A query string read into `T`, refused as the documented `ApiError` (400 `invalid_request`,
/// naming the missing or malformed parameter) rather than the framework's plain-text answer.
pub struct ApiQuery<T>(pub T);

impl<T> FromRequestParts<AppState> for ApiPath<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(Failure::bad_request(
                "invalid_request",
                format!("the path: {}", rejection.body_text()),
            )),
        }
    }
}

impl<T> FromRequestParts<AppState> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(Failure::bad_request(
                "invalid_request",
                format!("the query string: {}", rejection.body_text()),
            )),
        }
    }
}

/// Reads a request body up to `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Failure> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_large {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is over the {limit}-byte limit"),
            )
        } else {
            Failure::bad_request("invalid_body", format!("the body could not be read: {e}"))
        }
    })
}

fn check_content_type(parts: &Parts) -> Result<(), Failure> {
    match parts.headers.get(CONTENT_TYPE) {
        None => Ok(()),
        Some(v) => {
            let ok = v
                .to_str()
                .map(|s| {
                    let mime = s
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                    mime == "application/json" || mime.ends_with("+json")
                })
                .unwrap_or(false);
            if ok {
                Ok(())
            } else {
                Err(Failure::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as application/json",
                ))
            }
        }
    }
}

/// Parses JSON with an error naming the path of the bad field. Well-formed bodies take the
/// plain reader; only a failed one is read again, tracking the path, to name the field. The
/// body must be one JSON value and nothing else (whitespace aside): `{…} xyz` and `{…}{…}` are
/// refused, as the plain reader refuses them.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        Failure::bad_request("invalid_request", message)
    })?;
    de.end().map_err(|e| {
        Failure::bad_request(
            "invalid_request",
            format!("the body must be one JSON value with nothing after it: {e}"),
        )
    })?;
    Ok(value)
}

/// A JSON body read (its content type checked and its size bounded, as [`ApiJson`] does) but
/// not yet parsed, for a handler that may answer before parsing it ([`JsonBody::parse`]).
pub(crate) struct JsonBody(axum::body::Bytes);

impl JsonBody {
    /// The body's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Parses the body, with the same errors as [`ApiJson`].
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        parse_json(&self.0)
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        check_content_type(&parts)?;
        Ok(JsonBody(
            read_body(body, state.inner.options.max_body_bytes).await?,
        ))
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        JsonBody::from_request(req, state)
            .await?
            .parse()
            .map(ApiJson)
    }
}

/// The longest bearer token looked up; anything longer is refused without a query.
const MAX_TOKEN_LEN: usize = 256;

fn bearer(parts: &Parts) -> Result<String, Failure> {
    bearer_token(&parts.headers)
}

/// The token of an `Authorization: Bearer <token>` header; 401 `unauthorized` without one.
pub(super) fn bearer_token(headers: &axum::http::HeaderMap) -> Result<String, Failure> {
    let header = headers.get(AUTHORIZATION).ok_or_else(|| {
        Failure::unauthorized("unauthorized", "missing Authorization: Bearer <token>")
    })?;
    let text = header.to_str().map_err(|_| {
        Failure::unauthorized("unauthorized", "the Authorization header is not ASCII")
    })?;
    let (scheme, token) = text.split_once(' ').ok_or_else(|| {
        Failure::unauthorized("unauthorized", "expected Authorization: Bearer <token>")
    })?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(Failure::unauthorized(
            "unauthorized",
            "expected Authorization: Bearer <token>",
        ));
    }
    Ok(token.to_string())
}

/// An authenticated device (bearer token from enrolment or refresh). A revoked device's
/// tokens are refused 403 `device_revoked`.
pub struct DeviceAuth(pub DeviceRow);

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let hash = crypto::secret_hash(&bearer(parts)?);
        device_by_token_hash(state, hash).await.map(DeviceAuth)
    }
}

/// The device whose bearer token hashes to `hash`: 401 `unauthorized` for an unknown, expired
/// or replaced token, 403 `device_revoked` for a revoked device.
async fn device_by_token_hash(state: &AppState, hash: String) -> Result<DeviceRow, Failure> {
    let device = state
        .db(move |s| Ok(s.storage.device_by_token(&hash, s.now())?))
        .await?;
    let device = device.ok_or_else(|| {
        Failure::unauthorized(
            "unauthorized",
            "the token is unknown, expired or replaced; refresh it or enrol again",
        )
    })?;
    if device.revoked.is_some() {
        return Err(Failure::device_revoked());
    }
    Ok(device)
}

/// The caller of `POST /v1/push`: a device authenticated as [`DeviceAuth`] does, unless its
/// token's push has a place in line that is not near yet, when the push is refused without the
/// token being looked up ([`PushAdmission::refuse_unparsed`](super::admission::PushAdmission::refuse_unparsed)):
/// the place was given to that token after it was authenticated, and a refusal tells nothing
/// but the wait. A revoked device's token is refused 403 when its turn comes.
pub(crate) enum PushCaller {
    /// The device, and the hash of its token, which keeps its place in line.
    Device {
        device: Box<DeviceRow>,
        token_hash: String,
    },
    /// Refused before the token was looked up.
    Refused(super::admission::Refused),
}

impl FromRequestParts<AppState> for PushCaller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let token_hash = crypto::secret_hash(&bearer(parts)?);
        if let Some(refused) = state
            .inner
            .push_admission
            .refuse_unparsed(&token_hash, None)
        {
            return Ok(PushCaller::Refused(refused));
        }
        let device = device_by_token_hash(state, token_hash.clone()).await?;
        Ok(PushCaller::Device {
            device: Box::new(device),
            token_hash,
        })
    }
}

/// An authenticated organisation administrator: the organisation's admin token, or a scoped
/// API token (`daka_at_…`) holding the scope the route needs ([`super::scopes`]). A revoked or
/// expired API token is 401; one without the scope is 403 `insufficient_scope`.
pub struct AdminAuth(pub OrgRow);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let hash = crypto::secret_hash(&bearer(parts)?);
        let need = scopes::need_of_request(&parts.method, parts.uri.path());
        let org = state
            .db(move |s| {
                if let Some(org) = s.storage.org_by_admin_token(&hash)? {
                    return Ok(Some(org));
                }
                let Some(token) = s.storage.api_token_by_hash(&hash)? else {
                    return Ok(None);
                };
                let now = s.now();
                if token.revoked_at.is_some() || token.expires_at.is_some_and(|e| now >= e) {
                    return Err(Failure::unauthorized(
                        "unauthorized",
                        "the API token is revoked or expired",
                    ));
                }
                match need {
                    Need::Scope(scope) if token.scopes.iter().any(|s| s == scope) => {}
                    Need::Scope(scope) => {
                        return Err(Failure::new(
                            StatusCode::FORBIDDEN,
                            "insufficient_scope",
                            format!("this endpoint needs the scope {scope}, which the token lacks"),
                        ));
                    }
                    Need::AdminToken => {
                        return Err(Failure::new(
                            StatusCode::FORBIDDEN,
                            "insufficient_scope",
                            "this endpoint takes the organisation's admin token, not an API token",
                        ));
                    }
                }
                s.storage.touch_api_token(&token.id, now)?;
                Ok(s.storage.org(&token.org_id)?)
            })
            .await?;
        org.map(AdminAuth)
            .ok_or_else(|| Failure::unauthorized("unauthorized", "the admin token is not valid"))
    }
}
