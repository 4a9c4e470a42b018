//! The files approval forms refer to (receipts, signatures): a device uploads each one with
//! `PUT /v1/attachments/{sha256}` before it pushes the request, and devices of the same
//! organisation read it back with `GET`.
//!
//! A file is named by the SHA-256 of its bytes, which the server computes and compares with
//! the name (`hash_mismatch` when they differ), so what is stored under a hash is always the
//! file the hash stands for. Uploading is idempotent: the same file any number of times is
//! stored once, the first time answered 201 and later 200 with `stored: false`, so a device
//! may retry an upload whose answer it lost. Files are kept per organisation; to a device of
//! another organisation a file does not exist.
//!
//! Uploads have their own size limit, `ServerOptions::max_attachment_bytes` (50 MiB by
//! default, the most a template may allow), instead of the 4 MiB limit of JSON bodies; the
//! body is read up to that limit and no further.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use daka_core::approvals::form::{is_media_type, is_sha256};
use daka_core::protocol::{ApiError, AttachmentStored};

use super::extract::{DeviceAuth, read_body};
use super::failure::Failure;
use super::state::AppState;
use crate::crypto;

/// The bytes of a file, as they are uploaded and read back (described in the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(pub Vec<u8>);

/// The path's hash, or 400 `invalid_request`.
fn path_hash(path: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
    match path {
        Ok(Path(hash)) if is_sha256(&hash) => Ok(hash),
        _ => Err(Failure::bad_request(
            "invalid_request",
            "the path names a file by its SHA-256: 64 lower-case hex digits",
        )),
    }
}

/// The upload's media type, by the rule of a form's `media_type`: 1–100 printable ASCII
/// characters with a `/`.
fn media_type(headers: &HeaderMap) -> Result<String, Failure> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|s| is_media_type(s))
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure::bad_request(
                "invalid_request",
                "Content-Type: the file's media type, as the form gives it (such as image/jpeg; 1–100 printable characters with a /)",
            )
        })
}

fn too_large(limit: usize) -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "attachment_too_large",
        format!("the file is over the {limit}-byte limit for attachments"),
    )
}

/// Stores a file of the device's organisation under its SHA-256.
#[utoipa::path(put, path = "/v1/attachments/{sha256}", tag = "device",
    security(("device_token" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the file, 64 lower-case hex digits", pattern = r"^[0-9a-f]{64}$")),
    request_body(content = FileBytes, content_type = "*/*",
        description = "The file's bytes; `Content-Type` is its media type, as the form gives it"),
    responses(
        (status = 201, description = "Stored", body = AttachmentStored),
        (status = 200, description = "Already stored (`stored: false`); nothing changed", body = AttachmentStored),
        (status = 400, description = "`invalid_request` (path not a SHA-256, missing or invalid Content-Type, empty body), \
            `hash_mismatch` (the body's SHA-256 is not the path's)", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
        (status = 413, description = "`attachment_too_large`: over the server's attachment limit (50 MiB by default)", body = ApiError),
        (status = 503, description = "`busy`, `timeout`", body = ApiError),
    ))]
pub async fn put_attachment(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let sha256 = path_hash(path)?;
    let media_type = media_type(&headers)?;
    let limit = state.inner.options.max_attachment_bytes;
    // A declared length over the limit is refused before anything is read.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let content = read_body(body, limit).await.map_err(|f| {
        if f.status == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(limit)
        } else {
            f
        }
    })?;
    if content.is_empty() {
        return Err(Failure::bad_request(
            "invalid_request",
            "the body is empty; send the file's bytes",
        ));
    }
    let now = state.now();
    let (hash, stored) = {
        let sha256 = sha256.clone();
        let media_type = media_type.clone();
        let content = content.clone();
        state
            .db(move |s| {
                let actual = crypto::sha256_hex(&content);
                if actual != sha256 {
                    return Ok((actual, false));
                }
                let stored = s.storage.put_attachment(
                    &device.org_id,
                    &sha256,
                    &media_type,
                    &content,
                    &device.id,
                    now,
                )?;
                Ok((actual, stored))
            })
            .await?
    };
    if hash != sha256 {
        return Err(Failure::bad_request(
            "hash_mismatch",
            format!(
                "the body's SHA-256 is {hash}, not {sha256} as the path says; nothing was stored"
            ),
        ));
    }
    let status = if stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = AttachmentStored {
        sha256,
        bytes: content.len() as u64,
        media_type,
        stored,
        server_time: state.now(),
    };
    Ok((status, Json(answer)).into_response())
}

/// A file of the device's organisation, with its media type.
#[utoipa::path(get, path = "/v1/attachments/{sha256}", tag = "device",
    security(("device_token" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the file, 64 lower-case hex digits", pattern = r"^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "The file's bytes, with its media type as `Content-Type`", body = FileBytes, content_type = "*/*"),
        (status = 400, description = "`invalid_request`: the path is not a SHA-256", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`device_revoked`: the device was revoked; enrol again with a new code", body = ApiError),
        (status = 404, description = "`unknown_attachment`: the organisation has no such file", body = ApiError),
        (status = 503, description = "`busy`, `timeout`", body = ApiError),
    ))]
pub async fn get_attachment(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Failure> {
    let sha256 = path_hash(path)?;
    let hash = sha256.clone();
    let found = state
        .db(move |s| Ok(s.storage.attachment(&device.org_id, &hash)?))
        .await?;
    let Some((media_type, content)) = found else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "unknown_attachment",
            format!("this organisation has no file {sha256}"),
        ));
    };
    let content_type = HeaderValue::from_str(&media_type)
        .map_err(|_| Failure::internal(format!("stored media type of {sha256} is not a header")))?;
    let headers = [
        (CONTENT_TYPE, content_type),
        // The media type is the uploader's word: never render the file in a browser's page.
        (CONTENT_DISPOSITION, HeaderValue::from_static("attachment")),
        (
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    Ok((headers, Body::from(content)).into_response())
}
