//! Single-use nonces that bind a face-match token to one punch attempt.
//!
//! daka issues a fresh nonce when an attempt starts and hands it to the face matcher, which
//! signs it into the token's `nonce` claim. When the token is verified the nonce is consumed,
//! so the same token (or any token carrying that nonce) can never back a second punch.
//!
//! This ledger lives in memory and forgets everything when dropped; a persistent ledger with
//! the same three operations replaces it where nonces must survive a restart. It keeps every
//! consumed nonce for its lifetime. A persistent ledger may prune a consumed nonce once it is
//! older than the policy's `max_token_age_s + clock_skew_s`: a token carrying it would be
//! refused as too old anyway, after its nonce was consumed a second time.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

/// Random bytes per nonce: 128 bits, 22 base64url characters.
pub const NONCE_BYTES: usize = 16;

/// The operating system's random number generator failed; no nonce can be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator is unavailable")]
pub struct RandomUnavailable;

/// The nonces issued for punch attempts, and those already used.
#[derive(Debug, Clone)]
pub struct NonceLedger {
    rng: SystemRandom,
    /// Issued here and not consumed yet.
    outstanding: HashSet<String>,
    consumed: HashSet<String>,
}

impl Default for NonceLedger {
    fn default() -> Self {
        Self::new()
    }
}

impl NonceLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        NonceLedger {
            rng: SystemRandom::new(),
            outstanding: HashSet::new(),
            consumed: HashSet::new(),
        }
    }

    /// A fresh random nonce (128 bits from the system RNG, base64url without padding),
    /// remembered as issued.
    ///
    /// # Errors
    ///
    /// [`RandomUnavailable`] only if the operating system cannot supply random bytes, which
    /// ring reports instead of panicking; the attempt cannot proceed without a nonce.
    pub fn issue(&mut self) -> Result<String, RandomUnavailable> {
        let mut bytes = [0u8; NONCE_BYTES];
        self.rng.fill(&mut bytes).map_err(|_| RandomUnavailable)?;
        let nonce = URL_SAFE_NO_PAD.encode(bytes);
        self.outstanding.insert(nonce.clone());
        Ok(nonce)
    }

    /// Marks `nonce` used; `false` if it was already used. Works for nonces issued elsewhere
    /// too (a server consumes the nonces its devices issued).
    pub fn consume(&mut self, nonce: &str) -> bool {
        if self.consumed.contains(nonce) {
            return false;
        }
        self.outstanding.remove(nonce);
        self.consumed.insert(nonce.to_owned());
        true
    }

    /// Whether `nonce` was consumed.
    pub fn is_consumed(&self, nonce: &str) -> bool {
        self.consumed.contains(nonce)
    }

    /// Whether `nonce` was issued by this ledger and not consumed yet.
    pub fn is_outstanding(&self, nonce: &str) -> bool {
        self.outstanding.contains(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_nonces_are_distinct_and_well_formed() {
        let mut ledger = NonceLedger::new();
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let n = ledger.issue().unwrap();
            assert_eq!(n.len(), 22);
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert!(ledger.is_outstanding(&n));
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn a_nonce_is_consumed_once() {
        let mut ledger = NonceLedger::new();
        let n = ledger.issue().unwrap();
        assert!(!ledger.is_consumed(&n));
        assert!(ledger.consume(&n));
        assert!(ledger.is_consumed(&n));
        assert!(!ledger.is_outstanding(&n));
        assert!(!ledger.consume(&n));
        // A nonce issued elsewhere is consumed the same way.
        assert!(ledger.consume("from-the-device"));
        assert!(!ledger.consume("from-the-device"));
    }
}
