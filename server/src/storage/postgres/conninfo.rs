//! The connection-string parameters the server reads itself, before the `postgres` crate
//! parses the rest: TLS (`sslmode`, `sslrootcert`, `sslsni`) and the libpq parameters that
//! would change security if silently dropped.
//!
//! The `postgres` crate knows `sslmode` only as `disable`, `prefer` or `require` and does not
//! know `sslrootcert`, so [`split`] takes those out of the string (the URL form
//! `postgres://…?sslmode=verify-full&sslrootcert=/etc/daka/db-ca.pem` and the key-value form
//! `host=db sslmode=verify-full sslrootcert='/etc/daka/db-ca.pem'` alike) and hands back the
//! rest unchanged for the crate. A libpq TLS parameter this server does not implement (client
//! certificates, revocation lists, protocol bounds) is refused naming it and its value, rather
//! than connecting with less than the string asked for. This module only reads text; what the
//! settings mean is `tls.rs`'s.

use std::ops::Range;

use percent_encoding::percent_decode_str;

use super::tls::DbTlsError;

/// The parameters [`split`] takes out of a connection string, each as written (last wins, as
/// in libpq).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsParams {
    /// `sslmode`.
    pub(crate) sslmode: Option<String>,
    /// `sslrootcert`: a PEM file, or `system`.
    pub(crate) sslrootcert: Option<String>,
    /// `sslsni`: `1` (the default) or `0`.
    pub(crate) sslsni: Option<String>,
}

/// Parameters of libpq that this server does not implement, with what to do instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "sslcert",
        "client certificates are not supported; authenticate with a password (SCRAM)",
    ),
    (
        "sslkey",
        "client certificates are not supported; authenticate with a password (SCRAM)",
    ),
    (
        "sslpassword",
        "client certificates are not supported; authenticate with a password (SCRAM)",
    ),
    (
        "sslcertmode",
        "client certificates are not supported; authenticate with a password (SCRAM)",
    ),
    (
        "sslcrl",
        "certificate revocation lists are not checked; remove the parameter",
    ),
    (
        "sslcrldir",
        "certificate revocation lists are not checked; remove the parameter",
    ),
    (
        "sslcompression",
        "TLS compression is never used; remove the parameter",
    ),
    (
        "ssl_min_protocol_version",
        "the server always speaks TLS 1.2 or 1.3; remove the parameter",
    ),
    (
        "ssl_max_protocol_version",
        "the server always speaks TLS 1.2 or 1.3; remove the parameter",
    ),
    (
        "requirepeer",
        "peer checks of unix sockets are not supported; remove the parameter",
    ),
];

/// Splits `conninfo` (a `postgres://` / `postgresql://` URL or libpq key-value pairs) into the
/// TLS parameters this server handles and the string without them, for the `postgres` crate.
/// A libpq TLS parameter this server does not implement, or `gssencmode` other than
/// `disable`, is [`DbTlsError::Unsupported`]. A string whose syntax the crate would refuse
/// is handed back as it is, for the crate to say what is wrong with it.
pub(crate) fn split(conninfo: &str) -> Result<(String, TlsParams), DbTlsError> {
    let query = if is_url(conninfo) {
        query_start(conninfo)
    } else {
        None
    };
    let params = match query {
        Some(q) => url_params(conninfo, q),
        None if is_url(conninfo) => Vec::new(),
        None => match key_value_params(conninfo) {
            Some(params) => params,
            None => return Ok((conninfo.to_owned(), TlsParams::default())),
        },
    };
    let mut tls = TlsParams::default();
    let mut cut = Vec::new();
    for p in params {
        let slot = match p.key.as_str() {
            "sslmode" => &mut tls.sslmode,
            "sslrootcert" => &mut tls.sslrootcert,
            "sslsni" => &mut tls.sslsni,
            // libpq asks for GSSAPI encryption by default when it can; refusing it is harmless.
            "gssencmode" if p.value == "disable" => {
                cut.push(p.span);
                continue;
            }
            "gssencmode" => {
                return Err(DbTlsError::Unsupported {
                    name: p.key,
                    value: p.value,
                    reason: "GSSAPI encryption is not supported; use sslmode for TLS",
                });
            }
            key => {
                if let Some((_, reason)) = UNSUPPORTED.iter().find(|(name, _)| *name == key) {
                    return Err(DbTlsError::Unsupported {
                        name: p.key,
                        value: p.value,
                        reason,
                    });
                }
                continue;
            }
        };
        *slot = Some(p.value);
        cut.push(p.span);
    }
    Ok((remove(conninfo, &cut, query), tls))
}

/// A key-value connection string with its password replaced by `***`, for messages; `None`
/// when its syntax does not read.
pub(crate) fn redact_key_value(conninfo: &str) -> Option<String> {
    let params = key_value_params(conninfo)?;
    let mut out = String::with_capacity(conninfo.len());
    let mut from = 0;
    for p in params.iter().filter(|p| p.key == "password") {
        out.push_str(&conninfo[from..p.span.start]);
        out.push_str("password=***");
        from = p.span.end;
    }
    out.push_str(&conninfo[from..]);
    Some(out)
}

/// Whether `conninfo` is the URL form.
fn is_url(conninfo: &str) -> bool {
    conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://")
}

/// One parameter: its key and value decoded, and the bytes it takes in the string (with the
/// separator that goes with it).
#[derive(Debug)]
struct Param {
    key: String,
    value: String,
    span: Range<usize>,
}

/// Where the query of a URL starts (its `?`), found as the `postgres` crate finds it: the
/// credentials run to the first `@`, so a `?` before it is part of them.
fn query_start(url: &str) -> Option<usize> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let from = url[after_scheme..]
        .find('@')
        .map_or(after_scheme, |i| after_scheme + i + 1);
    url[from..].find('?').map(|i| from + i)
}

/// The query parameters of a URL whose `?` is at `q`, split as the `postgres` crate splits
/// them (`&` between pairs, the first `=` between key and value, both percent-decoded). A
/// span covers the pair and the `&` before it, or the `?` when it is the first pair.
fn url_params(url: &str, q: usize) -> Vec<Param> {
    let mut params = Vec::new();
    let mut start = q + 1;
    let mut first = true;
    while start <= url.len() {
        let end = url[start..].find('&').map_or(url.len(), |i| start + i);
        let pair = &url[start..end];
        if let Some((key, value)) = pair.split_once('=') {
            // `&` before a later pair; the `?` before the first (a kept pair after it
            // then needs the `?` back, which `remove` restores).
            let span = if first { q..end } else { start - 1..end };
            params.push(Param {
                key: decode(key),
                value: decode(value),
                span,
            });
        }
        first = false;
        start = end + 1;
    }
    params
}

/// A percent-decoded URL component (invalid UTF-8 replaced, as it names nothing this server
/// reads).
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The pairs of a key-value string, read as the `postgres` crate reads them (`key = value`,
/// a value bare or in single quotes, a backslash escaping the next character); `None` when
/// the crate would refuse its syntax.
fn key_value_params(s: &str) -> Option<Vec<Param>> {
    let bytes: Vec<(usize, char)> = s.char_indices().collect();
    let at = |i: usize| bytes.get(i).map(|&(_, c)| c);
    let offset = |i: usize| bytes.get(i).map_or(s.len(), |&(o, _)| o);
    let mut i = 0;
    let mut params = Vec::new();
    loop {
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let start = i;
        while at(i).is_some_and(|c| !c.is_whitespace() && c != '=') {
            i += 1;
        }
        if i == start {
            // The end, or a stray `=`, where the crate stops reading too.
            return Some(params);
        }
        let key = s[offset(start)..offset(i)].to_owned();
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        if at(i) != Some('=') {
            return None;
        }
        i += 1;
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let mut value = String::new();
        if at(i) == Some('\'') {
            i += 1;
            loop {
                match at(i)? {
                    '\'' => break,
                    '\\' => {
                        if let Some(c) = at(i + 1) {
                            value.push(c);
                        }
                        i += 2;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            i += 1;
        } else {
            while let Some(c) = at(i).filter(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(c2) = at(i + 1) {
                        value.push(c2);
                    }
                    i += 2;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
            if value.is_empty() {
                return None;
            }
        }
        params.push(Param {
            key,
            value,
            span: offset(start)..offset(i.min(bytes.len())),
        });
    }
}

/// `s` without the byte ranges `cut` (in order, not overlapping). For a URL whose query
/// starts at `query` and whose first parameter was cut while others stay, the `?` it took is
/// put back before them (in place of the `&` before the first kept one).
fn remove(s: &str, cut: &[Range<usize>], query: Option<usize>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut from = 0;
    for r in cut {
        out.push_str(&s[from..r.start]);
        from = r.end;
    }
    out.push_str(&s[from..]);
    if let Some(q) = query
        && out.as_bytes().get(q) != Some(&b'?')
        && let Some(amp) = out.get(q..).and_then(|rest| rest.find('&'))
    {
        out.replace_range(q + amp..=q + amp, "?");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, TlsParams) {
        split(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_url_loses_exactly_the_tls_parameters() {
        let (rest, tls) = ok("postgres://u:p%40ss@db:5432/daka?sslmode=verify-full\
             &application_name=daka&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5");
        assert_eq!(
            rest,
            "postgres://u:p%40ss@db:5432/daka?application_name=daka&connect_timeout=5"
        );
        assert_eq!(tls.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(tls.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(tls.sslsni, None);

        let (rest, tls) = ok("postgresql://db/daka?sslmode=require");
        assert_eq!(rest, "postgresql://db/daka");
        assert_eq!(tls.sslmode.as_deref(), Some("require"));

        let (rest, _) = ok("postgres://db/daka?sslmode=require&user=u&port=5433");
        assert_eq!(rest, "postgres://db/daka?user=u&port=5433");

        // A `?` or `&` in the password is the password's.
        let (rest, tls) = ok("postgres://u:a?b&c@db/daka?sslmode=require&user=u");
        assert_eq!(rest, "postgres://u:a?b&c@db/daka?user=u");
        assert_eq!(tls.sslmode.as_deref(), Some("require"));

        let (rest, tls) = ok("postgres://db/daka");
        assert_eq!(
            (rest.as_str(), tls),
            ("postgres://db/daka", TlsParams::default())
        );
    }

    #[test]
    fn the_last_value_wins_as_in_libpq() {
        let (rest, tls) = ok("postgres://db/d?sslmode=disable&sslmode=verify-ca");
        assert_eq!(rest, "postgres://db/d");
        assert_eq!(tls.sslmode.as_deref(), Some("verify-ca"));
    }

    #[test]
    fn key_value_strings_keep_their_other_pairs_as_written() {
        let (rest, tls) = ok("host=db  sslmode = verify-full password='it\\'s' \
             sslrootcert='/etc/my ca\\'s.pem' dbname=daka sslsni=0");
        assert_eq!(rest, "host=db   password='it\\'s'  dbname=daka ");
        assert_eq!(tls.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(tls.sslrootcert.as_deref(), Some("/etc/my ca's.pem"));
        assert_eq!(tls.sslsni.as_deref(), Some("0"));
        // The rest still parses as the crate reads it.
        let config: r2d2_postgres::postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_dbname(), Some("daka"));
    }

    #[test]
    fn a_key_value_password_is_hidden() {
        assert_eq!(
            redact_key_value("host=db password='s3cret pass' user=u").as_deref(),
            Some("host=db password=*** user=u")
        );
        assert_eq!(redact_key_value("host='db"), None);
    }

    #[test]
    fn a_string_the_crate_refuses_is_left_for_it_to_explain() {
        for s in ["host=db sslmode", "host='db", "host=db sslmode= "] {
            let (rest, tls) = ok(s);
            assert_eq!((rest.as_str(), tls), (s, TlsParams::default()));
        }
    }

    #[test]
    fn unsupported_tls_parameters_are_named_with_their_value() {
        let e = split("postgres://db/d?sslmode=require&sslcert=%2Fetc%2Fclient.pem").unwrap_err();
        assert_eq!(
            e,
            DbTlsError::Unsupported {
                name: "sslcert".into(),
                value: "/etc/client.pem".into(),
                reason: "client certificates are not supported; authenticate with a password (SCRAM)",
            }
        );
        assert!(e.to_string().contains("sslcert=/etc/client.pem"), "{e}");
        let e = split("host=db ssl_min_protocol_version=TLSv1.3").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ssl_min_protocol_version=TLSv1.3 is not supported"),
            "{e}"
        );
        let e = split("postgres://db/d?gssencmode=require").unwrap_err();
        assert!(e.to_string().contains("gssencmode=require"), "{e}");
        let (rest, _) = ok("postgres://db/d?gssencmode=disable");
        assert_eq!(rest, "postgres://db/d");
    }
}
