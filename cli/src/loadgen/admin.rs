//! The load generator's admin API client: one server's base URL and admin token, JSON in and
//! out, and every refusal turned into a message with the server's status and code.

use std::time::Duration;

use daka_core::protocol::ApiError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::LoadResult;

/// Longest an admin request may take: listing and verifying 100,000 punches takes seconds.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(120);

/// One server's admin API.
#[derive(Clone)]
pub(crate) struct Admin {
    /// The server's base URL, without a trailing `/`.
    pub(crate) url: String,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    /// The admin API of the server at `url`, called with `token`.
    pub(crate) fn new(url: &str, token: &str) -> LoadResult<Admin> {
        let http = reqwest::Client::builder()
            .timeout(ADMIN_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Admin {
            url: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        })
    }

    /// `GET path`.
    pub(crate) async fn get<R: DeserializeOwned>(&self, path: &str) -> LoadResult<R> {
        self.send(self.http.get(format!("{}{path}", self.url)), path)
            .await
    }

    /// `POST path` with a JSON body.
    pub(crate) async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> LoadResult<R> {
        self.send(
            self.http.post(format!("{}{path}", self.url)).json(body),
            path,
        )
        .await
    }

    async fn send<R: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> LoadResult<R> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("{}{path}: {e}", self.url))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{}{path}: {e}", self.url))?;
        if !status.is_success() {
            let detail = match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(e) => format!("{} {}", e.code, e.message),
                Err(_) => String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            };
            return Err(format!(
                "{}{path}: the server answered {}: {detail}",
                self.url,
                status.as_u16()
            ));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}{path}: unexpected answer: {e}", self.url))
    }
}
