//! The console's security pieces: Argon2id password hashes, session ids and their CSRF
//! tokens, cookies, and the in-memory limit on failed sign-ins.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use chrono::{DateTime, Duration, Utc};

use crate::crypto;
use crate::limits::FailureLimiter;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (hashing time grows with it).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The session cookie.
pub const SESSION_COOKIE: &str = "daka_session";
/// The pre-session CSRF cookie of the sign-in form.
pub const CSRF_COOKIE: &str = "daka_csrf";
/// The remembered language.
pub const LANG_COOKIE: &str = "daka_lang";

/// How long a session lasts without a request.
pub const SESSION_IDLE: Duration = Duration::hours(12);
/// How long a session lasts at most.
pub const SESSION_ABSOLUTE: Duration = Duration::days(7);

/// Failed sign-ins counted per account (email) within [`FAILURE_WINDOW`].
pub const ACCOUNT_FAILURES: usize = 5;
/// Failed sign-ins counted per client address within [`FAILURE_WINDOW`].
pub const ADDRESS_FAILURES: usize = 20;
/// The window failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane, version
/// 0x13) and a random 128-bit salt from the operating system; the PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC string `hash` (its own parameters and salt).
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches in practice, checked when no account has the email so that a
/// sign-in takes as long whether or not the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password("decoy password that no account has ✗")
            .unwrap_or_else(|_| String::from("$argon2id$v=19$m=19456,t=2,p=1$invalid"))
    })
}

/// Whether a password is acceptable: at least [`MIN_PASSWORD_CHARS`] characters and at most
/// [`MAX_PASSWORD_BYTES`] bytes.
pub fn password_ok(password: &str) -> bool {
    password.chars().count() >= MIN_PASSWORD_CHARS && password.len() <= MAX_PASSWORD_BYTES
}

/// A new session id or CSRF token: 256 random bits, base64url.
pub fn new_secret() -> Result<String, String> {
    crypto::new_token().map_err(|e| e.to_string())
}

/// The CSRF token of a session: bound to the session id, which only the browser has.
pub fn session_csrf(session_id: &str) -> String {
    crypto::sha256_hex(format!("daka-console-csrf\0{session_id}").as_bytes())
}

/// Compares secrets without leaking where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// A `Set-Cookie` value for the console (`Path=/console`, `HttpOnly`, `SameSite=Strict`,
/// `Secure` when asked); `max_age` 0 removes the cookie, `None` makes it last the browser
/// session.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The in-memory count of failed sign-ins, per account and per client address. One server
/// process keeps its own: several instances behind a balancer would each count separately
/// (see `docs/console.md`).
pub struct LoginLimiter(FailureLimiter);

impl Default for LoginLimiter {
    fn default() -> LoginLimiter {
        LoginLimiter(FailureLimiter::new(FAILURE_WINDOW))
    }
}

impl LoginLimiter {
    /// `Some(seconds to wait)` when the account or the address is over its limit.
    pub fn blocked(&self, email: &str, client: &str, now: DateTime<Utc>) -> Option<u64> {
        let account = format!("account:{email}");
        let address = format!("address:{client}");
        self.0.blocked(
            &[(&account, ACCOUNT_FAILURES), (&address, ADDRESS_FAILURES)],
            now,
        )
    }

    /// Counts a failed sign-in.
    pub fn fail(&self, email: &str, client: &str, now: DateTime<Utc>) {
        let account = format!("account:{email}");
        let address = format!("address:{client}");
        self.0.fail(&[&account, &address], now);
    }

    /// Forgets an account's failures after it signed in.
    pub fn succeeded(&self, email: &str) {
        self.0.forget(&format!("account:{email}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_are_not_the_password() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(!h.contains("correct horse battery"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        // A new salt every time.
        assert_ne!(h, hash_password("correct horse battery").unwrap());
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn the_limiter_blocks_after_five_failures_of_an_account_for_the_window() {
        let l = LoginLimiter::default();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        for i in 0..5 {
            assert_eq!(l.blocked("a@x.example", "1.2.3.4", t0), None, "{i}");
            l.fail("a@x.example", "1.2.3.4", t0);
        }
        assert_eq!(l.blocked("a@x.example", "5.6.7.8", t0), Some(900));
        assert_eq!(l.blocked("b@x.example", "1.2.3.4", t0), None);
        assert_eq!(
            l.blocked("a@x.example", "1.2.3.4", t0 + FAILURE_WINDOW),
            None
        );
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; daka_session=xyz; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, CSRF_COOKIE), None);
    }
}
