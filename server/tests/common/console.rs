//! Shared helpers of the console tests: a server whose client does not follow redirects (the
//! console answers with 303s the tests read), a [`Page`] with the readers the tests use on an
//! answer (headers, cookies, the CSRF field, marked elements), GET and form POST with cookies,
//! signing in, and punches made at a moved server clock.

use chrono::{DateTime, Utc};
use daka_core::evidence::{FaceEvidence, Fix};
use daka_core::punch::{PunchKind, PunchRecord};
use daka_server::{Seed, ServerOptions};
use reqwest::header::HeaderMap;

use super::{CWB_BSSID, PunchSpec, TestDevice, TestServer, face_token_at, fresh_nonce};

/// A server on `seed` with `options` whose client does not follow redirects.
pub(crate) async fn start_console(seed: Seed, options: ServerOptions) -> TestServer {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestServer::start_on(seed, options, http).await
}

/// An answer: status, headers, body (as text, and as the bytes sent).
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
    pub(crate) bytes: Vec<u8>,
}

impl Page {
    /// The header `name`, or "" when absent.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    pub(crate) fn location(&self) -> &str {
        self.header("location")
    }

    /// The `Content-Security-Policy` header.
    pub(crate) fn csp(&self) -> &str {
        self.header("content-security-policy")
    }

    /// The `Set-Cookie` header for `name`, whole.
    pub(crate) fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value `Set-Cookie` gives `name`.
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name)
            .map(|c| c.split(';').next().unwrap()[name.len() + 1..].to_string())
    }

    /// The value of the first hidden `csrf` field.
    pub(crate) fn csrf_field(&self) -> String {
        self.between(r#"name="csrf" value=""#, "\"")
            .expect("a csrf field")
    }

    /// The text after the first `start` up to the next `end`.
    pub(crate) fn between(&self, start: &str, end: &str) -> Option<String> {
        let at = self.body.find(start)? + start.len();
        let rest = &self.body[at..];
        Some(rest[..rest.find(end)?].to_string())
    }

    /// The markup of the element whose opening tag carries `data-testid="{testid}"`, up to
    /// the closing `</{tag}>` that ends it (elements of these pages do not nest their own
    /// tag).
    pub(crate) fn element(&self, tag: &str, testid: &str) -> Option<String> {
        let at = self.body.find(&format!(r#"data-testid="{testid}""#))?;
        let start = self.body[..at].rfind(&format!("<{tag}"))?;
        let end = self.body[at..].find(&format!("</{tag}>"))? + at;
        Some(self.body[start..end].to_string())
    }

    /// The text of the element with `data-testid="{id}"`, up to its first tag end.
    pub(crate) fn testid(&self, id: &str) -> Option<&str> {
        let key = format!(r#"data-testid="{id}""#);
        let at = self.body.find(&key)?;
        let rest = &self.body[at..];
        let start = rest.find('>')? + 1;
        let end = rest[start..].find('<')?;
        Some(&rest[start..start + end])
    }

    /// The `<tr>` whose opening tag holds `marker`.
    pub(crate) fn row(&self, marker: &str) -> &str {
        let at = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} in {}", self.body));
        &self.body[at..at + self.body[at..].find("</tr>").unwrap()]
    }
}

pub(crate) async fn read(r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap().to_vec();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// GET `path`, sending `cookies` (`name=value; …`) unless empty.
pub(crate) async fn get(server: &TestServer, path: &str, cookies: &str) -> Page {
    send(server.http.get(server.url(path)), cookies).await
}

/// POST `form` URL-encoded to `path`, sending `cookies` unless empty.
pub(crate) async fn post(
    server: &TestServer,
    path: &str,
    cookies: &str,
    form: &[(&str, &str)],
) -> Page {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = server
        .http
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    send(req, cookies).await
}

/// Sends `req` with `cookies` unless empty; the answer.
async fn send(req: reqwest::RequestBuilder, cookies: &str) -> Page {
    let req = if cookies.is_empty() {
        req
    } else {
        req.header("cookie", cookies)
    };
    read(req.send().await.unwrap()).await
}

/// Opens the sign-in page and posts the form, sending `extra` cookies besides the CSRF one;
/// the answer.
pub(crate) async fn sign_in_with(
    server: &TestServer,
    email: &str,
    password: &str,
    extra: &str,
) -> Page {
    let form = get(server, "/console/login", "").await;
    assert_eq!(form.status, 200);
    let csrf_cookie = form.cookie("daka_csrf").expect("a daka_csrf cookie");
    assert_eq!(form.csrf_field(), csrf_cookie);
    let cookies = if extra.is_empty() {
        format!("daka_csrf={csrf_cookie}")
    } else {
        format!("daka_csrf={csrf_cookie}; {extra}")
    };
    post(
        server,
        "/console/login",
        &cookies,
        &[
            ("email", email),
            ("password", password),
            ("csrf", &csrf_cookie),
        ],
    )
    .await
}

/// The `daka_session=…` cookie of a sign-in that reached Today.
fn session_of(r: &Page) -> String {
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/console/today");
    format!("daka_session={}", r.cookie("daka_session").unwrap())
}

/// Signs in; the `daka_session=…` cookie to send.
pub(crate) async fn sign_in(server: &TestServer, email: &str, password: &str) -> String {
    session_of(&sign_in_with(server, email, password, "").await)
}

/// Signs in; the `daka_session=…` cookie, or `None` when refused.
pub(crate) async fn try_sign_in(
    server: &TestServer,
    email: &str,
    password: &str,
) -> Option<String> {
    let r = sign_in_with(server, email, password, "").await;
    (r.status == 303).then(|| session_of(&r))
}

/// Signs in the account `(email, password)` in English; the cookies to send (session and
/// language) and the session's CSRF token.
pub(crate) async fn sign_in_en(
    server: &TestServer,
    (email, password): (&str, &str),
) -> (String, String) {
    let r = sign_in_with(server, email, password, "daka_lang=en").await;
    let cookies = format!("{}; daka_lang=en", session_of(&r));
    let today = get(server, "/console/today", &cookies).await;
    assert_eq!(today.status, 200);
    (cookies, today.csrf_field())
}

/// A punch of `kind` made at `now` (the server's clock): a field punch (外勤) at a client's
/// office in Kowloon Bay, far from the Causeway Bay store; any other kind at the store, by
/// its Wi-Fi.
pub(crate) fn punch_at(dev: &mut TestDevice, kind: PunchKind, now: DateTime<Utc>) -> PunchRecord {
    let nonce = fresh_nonce();
    let (fix, wifi) = if kind == PunchKind::Field {
        let fix = Fix {
            lat: 22.3229,
            lon: 114.2090,
            accuracy_m: 10.0,
            time: now,
            monotonic_ms: None,
            mock: false,
            provider: Some("gps".into()),
        };
        (Some(fix), Vec::new())
    } else {
        (None, vec![CWB_BSSID.to_owned()])
    };
    let spec = PunchSpec {
        kind,
        fix,
        wifi,
        face: Some(FaceEvidence {
            token: face_token_at(&dev.employee_id, &nonce, now),
            nonce,
        }),
    };
    dev.record_at(spec, now)
}
