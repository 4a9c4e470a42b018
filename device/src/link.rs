//! Enrolment links: what the QR code on the console's person page holds, so that the app can
//! enrol by scanning it instead of typing the server address and the code.
//!
//! The format is `daka://enroll?server=<base URL>&code=<code>`, both values percent-encoded
//! as in a form (`application/x-www-form-urlencoded`), e.g.
//! `daka://enroll?server=https%3A%2F%2Fdaka.example.hk&code=7Q4M-X2KD-9HBA-R3TW`.
//! [`parse_enrolment_link`] is pure: it checks the shape of the link and nothing else (no
//! network); [`crate::Device::enroll`] takes its two values.

/// The two values of an enrolment link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentLink {
    /// The server's base URL, `https://…` (or `http://` to a loopback address, for tests and
    /// the demo), without a trailing `/`.
    pub server_url: String,
    /// The one-time enrolment code, as issued.
    pub code: String,
}

/// Why a scanned text is not an enrolment link; the message names the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a daka enrolment link: {reason}")]
pub struct LinkError {
    /// What is wrong, naming the part (`scheme`, `server`, `code`).
    pub reason: String,
}

/// Longest link read (a QR code holds at most about 4 KB anyway).
const MAX_LINK_BYTES: usize = 2048;

/// Reads an enrolment link (see the module documentation). Unknown query parameters are
/// ignored, so that later versions can add some; a repeated `server` or `code` is refused.
pub fn parse_enrolment_link(link: &str) -> Result<EnrolmentLink, LinkError> {
    let fail = |reason: &str| LinkError {
        reason: reason.to_string(),
    };
    let link = link.trim();
    if link.len() > MAX_LINK_BYTES {
        return Err(fail("the text is longer than 2048 bytes"));
    }
    let rest = link
        .strip_prefix("daka://enroll?")
        .ok_or_else(|| fail("scheme: it must start with daka://enroll?"))?;
    let mut server = None;
    let mut code = None;
    for (key, value) in url::form_urlencoded::parse(rest.as_bytes()) {
        let slot = match key.as_ref() {
            "server" => &mut server,
            "code" => &mut code,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(fail(&format!("{key}: given twice")));
        }
    }
    let server = server.ok_or_else(|| fail("server: missing"))?;
    let code = code.ok_or_else(|| fail("code: missing"))?;
    let url = url::Url::parse(&server).map_err(|e| fail(&format!("server: {e}")))?;
    if !matches!(url.scheme(), "https" | "http")
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(fail(
            "server: an http(s) base URL with a host and no user, query or fragment",
        ));
    }
    let core_len = code.chars().filter(|c| *c != '-' && *c != ' ').count();
    if core_len < 8 || code.len() > 64 || code.chars().any(char::is_control) {
        return Err(fail(
            "code: 8–64 printable characters besides dashes and spaces",
        ));
    }
    Ok(EnrolmentLink {
        server_url: server.trim_end_matches('/').to_string(),
        code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_from_the_console_parses() {
        let link = parse_enrolment_link(
            "daka://enroll?server=https%3A%2F%2Fdaka.example.hk%2F&code=7Q4M-X2KD-9HBA-R3TW",
        )
        .unwrap();
        assert_eq!(link.server_url, "https://daka.example.hk");
        assert_eq!(link.code, "7Q4M-X2KD-9HBA-R3TW");
        let link = parse_enrolment_link(
            " daka://enroll?code=HL+E1001+DEMO&server=http%3A%2F%2F127.0.0.1%3A8080&v=2\n",
        )
        .unwrap();
        assert_eq!(link.server_url, "http://127.0.0.1:8080");
        assert_eq!(link.code, "HL E1001 DEMO");
    }

    #[test]
    fn garbage_is_refused_with_the_part_named() {
        let cases: &[(&str, &str)] = &[
            ("", "scheme"),
            ("hello", "scheme"),
            ("https://daka.example.hk/?code=12345678", "scheme"),
            (
                "daka://enrol?server=https%3A%2F%2Fa.hk&code=12345678",
                "scheme",
            ),
            (
                "DAKA://enroll?server=https%3A%2F%2Fa.hk&code=12345678",
                "scheme",
            ),
            ("daka://enroll?", "server: missing"),
            ("daka://enroll?server=https%3A%2F%2Fa.hk", "code: missing"),
            ("daka://enroll?code=12345678", "server: missing"),
            ("daka://enroll?server=not%20a%20url&code=12345678", "server"),
            (
                "daka://enroll?server=ftp%3A%2F%2Fa.hk&code=12345678",
                "server",
            ),
            (
                "daka://enroll?server=javascript%3Aalert(1)&code=12345678",
                "server",
            ),
            (
                "daka://enroll?server=https%3A%2F%2Fu%3Ap%40a.hk&code=12345678",
                "server",
            ),
            (
                "daka://enroll?server=https%3A%2F%2Fa.hk%3Fx%3D1&code=12345678",
                "server",
            ),
            ("daka://enroll?server=https%3A%2F%2Fa.hk&code=short", "code"),
            (
                "daka://enroll?server=https%3A%2F%2Fa.hk&code=----------",
                "code",
            ),
            (
                "daka://enroll?server=https%3A%2F%2Fa.hk&code=1234%0A5678",
                "code",
            ),
            (
                "daka://enroll?server=https%3A%2F%2Fa.hk&code=12345678&code=87654321",
                "code: given twice",
            ),
            (
                "daka://enroll?server=https%3A%2F%2Fa.hk&server=https%3A%2F%2Fb.hk&code=12345678",
                "server: given twice",
            ),
            (
                "daka://enroll?server=%FF%FE&code=%C3%28%C3%28%C3%28%C3%28",
                "server",
            ),
        ];
        for (text, part) in cases {
            let e = parse_enrolment_link(text).unwrap_err();
            assert!(e.reason.starts_with(part), "{text:?}: {e}");
        }
        let long = format!(
            "daka://enroll?server=https%3A%2F%2Fa.hk&code={}",
            "A".repeat(3000)
        );
        assert!(
            parse_enrolment_link(&long)
                .unwrap_err()
                .reason
                .contains("2048")
        );
        let code65 = format!(
            "daka://enroll?server=https%3A%2F%2Fa.hk&code={}",
            "A".repeat(65)
        );
        assert!(
            parse_enrolment_link(&code65)
                .unwrap_err()
                .reason
                .starts_with("code")
        );
    }
}
