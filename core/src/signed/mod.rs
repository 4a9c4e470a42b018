//! The signed envelope: a typed body plus a `sig` member, the one shape of every signed item a
//! device sends (punch records, approval submissions and decisions).
//!
//! * **Signing**: the Ed25519 signature covers the RFC 8785 canonical JSON of the body, that is
//!   the item without its `sig` member; `sig` is base64url without padding.
//! * **Reading** is strict, because a signature over JSON means nothing if two readers can see
//!   two different items in the same bytes: duplicate keys and integers beyond 2^53 − 1 are
//!   refused, the body is read into its type (unknown fields refused by the type), and the
//!   typed body must write back to exactly the JSON received. So for every item accepted, the
//!   canonical form of the received JSON minus `sig` is the canonical form of the typed body:
//!   verifying the typed item is verifying the received bytes.
//!
//! What differs between formats (size limit, a version member read first, when `sig` is
//! decoded, the rules the types alone do not enforce, the error type) is the body's
//! [`SignedFormat`]. Canonical JSON itself is `crate::canonical`; this module uses its public
//! functions only, and knows no format's fields.

mod key;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canonical::{self, CanonicalError, Difference, StrictValue};

pub(crate) use key::decode_sig;
pub use key::{DeviceVerifier, SigningKey};

/// A signed item: the body's members plus `sig`, base64url (no padding) of the Ed25519
/// signature of the body's canonical JSON.
///
/// Serialises as one flat JSON object; deserialises through the strict reader
/// ([`Signed::from_json`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signed<T> {
    /// The signed content: every member of the item but `sig`.
    #[serde(flatten)]
    pub body: T,
    /// Base64url (no padding) of the 64-byte Ed25519 signature over the body's canonical JSON.
    pub sig: String,
}

/// A body that travels in a [`Signed`] envelope, and what its format adds to the envelope's
/// reading and signing.
pub trait SignedFormat: Serialize + DeserializeOwned {
    /// The format's error, which every envelope error converts into.
    type Error: From<SignedError>;

    /// The largest item, in bytes of JSON, that [`Signed::from_json`] reads.
    const MAX_BYTES: usize;

    /// Checks on the received members, before `sig` is taken out (a format version, which
    /// decides what the other members mean).
    fn check_members(_members: &Map<String, Value>) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Checks the `sig` text when reading (formats that leave it to verification do nothing).
    fn check_sig(_sig: &str) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The rules of the format that the types alone do not enforce; run before signing and
    /// after reading.
    fn validate(&self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Why a signed item cannot be read, written or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedError {
    /// The JSON text is longer than the format's [`SignedFormat::MAX_BYTES`]; refused before
    /// it is parsed.
    #[error("{bytes} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Length of the text, in bytes.
        bytes: usize,
        /// The format's limit, in bytes.
        limit: usize,
    },
    /// Not JSON, a duplicate key, or a non-finite number.
    #[error("not valid JSON: {reason}")]
    Json {
        /// Line of the fault, counted from 1.
        line: usize,
        /// Column of the fault on that line, in bytes, counted from 1.
        column: usize,
        /// What is wrong, as the JSON parser describes it (English).
        reason: String,
    },
    /// The text is JSON, but not an object.
    #[error("$: expected an object")]
    NotAnObject {
        /// What it is instead: `null`, `a boolean`, `a number`, `a string` or `an array`.
        found: &'static str,
    },
    /// No `sig` member, or one that is not a string (`found`, as JSON).
    #[error("sig: a base64url signature is required")]
    MissingSig {
        /// The `sig` member as JSON text when it is there but not a string; `None` when absent.
        found: Option<String>,
    },
    /// An integer beyond ±(2^53 − 1) at `field`.
    #[error("{field}: {}", CanonicalError::integer_reason(value))]
    UnsafeInteger {
        /// Path of the integer, e.g. `seq` or `evidence.fix.monotonic_ms`.
        field: String,
        /// The integer as written in the JSON.
        value: String,
    },
    /// The body is not of its type: `path` as serde names it (`.` for the whole body).
    #[error("{}: {reason}", if path == "." || path.is_empty() { "$" } else { path.as_str() })]
    Field {
        /// Path of the field, e.g. `verdict.reasons[0].code`; `.` for the whole body.
        path: String,
        /// What is wrong with it, as serde describes it (English).
        reason: String,
    },
    /// The typed body does not write back to the JSON received.
    #[error("{0}")]
    NonCanonical(Difference),
    /// The body cannot be written as canonical JSON.
    #[error("cannot be written as canonical JSON: {reason}")]
    Unwritable {
        /// Why, as the canonical writer reports it.
        reason: String,
    },
    /// `sig` is not 64 bytes of base64url.
    #[error("sig: {reason}")]
    SigEncoding {
        /// What is wrong with the text: its length or its base64url.
        reason: String,
    },
    /// `sig` is well-formed but is not the key's signature over the body: the item was changed
    /// after signing, or signed by another key (the two cannot be told apart).
    #[error("the signature does not verify with the device's key")]
    BadSignature,
}

impl From<CanonicalError> for SignedError {
    fn from(e: CanonicalError) -> Self {
        match e {
            CanonicalError::NotJson {
                line,
                column,
                reason,
            } => SignedError::Json {
                line,
                column,
                reason,
            },
            CanonicalError::UnsafeInteger { field, value } => {
                SignedError::UnsafeInteger { field, value }
            }
            CanonicalError::Differs { difference } => SignedError::NonCanonical(difference),
            other => SignedError::Unwritable {
                reason: other.to_string(),
            },
        }
    }
}

/// The JSON type of a value, for errors.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The canonical JSON of a value: of a body, the bytes its signature covers; of a whole
/// item, the bytes its hash covers.
pub(crate) fn canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, SignedError> {
    Ok(canonical::to_vec(value)?)
}

/// Reads JSON text with duplicate keys refused, after the size check.
fn strict_value(text: &str, limit: usize) -> Result<Value, SignedError> {
    if text.len() > limit {
        return Err(SignedError::TooLarge {
            bytes: text.len(),
            limit,
        });
    }
    Ok(canonical::from_str(text)?)
}

impl<T: SignedFormat> Signed<T> {
    /// Signs `body` with a device key, after [`SignedFormat::validate`].
    pub fn sign<K: SigningKey + ?Sized>(body: T, signer: &K) -> Result<Signed<T>, T::Error> {
        body.validate()?;
        let bytes = canonical_bytes(&body)?;
        let sig = key::encode_sig(&signer.sign(&bytes));
        Ok(Signed { body, sig })
    }

    /// [`Signed::sign`], also giving the signed item's canonical JSON ([`Signed::to_json`]),
    /// with one canonical write instead of two: the item is written once with a placeholder
    /// `sig` of the signature's length, the `sig` member is cut out of that text to get the
    /// signed bytes (a canonical object less one member is the canonical object of the rest),
    /// and the signature is then put in the placeholder's place.
    pub fn sign_to_json<K: SigningKey + ?Sized>(
        body: T,
        signer: &K,
    ) -> Result<(Signed<T>, String), T::Error> {
        body.validate()?;
        let mut item = Signed {
            body,
            sig: "A".repeat(key::SIG_LEN),
        };
        let mut text = canonical_bytes(&item)?;
        let Some(member) = canonical::top_level_member(&text, "sig") else {
            return Err(SignedError::Unwritable {
                reason: "the written item has no top-level `sig` member".into(),
            }
            .into());
        };
        let signing_bytes = [&text[..member.start], &text[member.end..]].concat();
        debug_assert_eq!(
            canonical_bytes(&item.body).ok().as_deref(),
            Some(signing_bytes.as_slice())
        );
        item.sig = key::encode_sig(&signer.sign(&signing_bytes));
        // The placeholder is the member's value: its last SIG_LEN bytes before the closing
        // quote. base64url needs no escaping, so the signature fits exactly.
        let value_end = member.end - usize::from(text[member.end - 1] == b',') - 1;
        text[value_end - key::SIG_LEN..value_end].copy_from_slice(item.sig.as_bytes());
        let text = String::from_utf8(text).map_err(|e| SignedError::Unwritable {
            reason: e.to_string(),
        })?;
        Ok((item, text))
    }

    /// Reads a signed item strictly (see the file header), without checking the signature.
    pub fn from_json(text: &str) -> Result<Signed<T>, T::Error> {
        Signed::from_value(strict_value(text, T::MAX_BYTES)?)
    }

    /// [`Signed::from_json`] for JSON already read with duplicate keys refused.
    pub(crate) fn from_value(value: Value) -> Result<Signed<T>, T::Error> {
        let mut object = match value {
            Value::Object(object) => object,
            other => {
                return Err(SignedError::NotAnObject {
                    found: json_type(&other),
                }
                .into());
            }
        };
        T::check_members(&object)?;
        let sig = match object.remove("sig") {
            Some(Value::String(sig)) => sig,
            found => {
                return Err(SignedError::MissingSig {
                    found: found.map(|v| v.to_string()),
                }
                .into());
            }
        };
        T::check_sig(&sig)?;
        let received = Value::Object(object);
        canonical::check_integers(&received).map_err(SignedError::from)?;
        let body = match T::deserialize(&received) {
            Ok(body) => body,
            // Read again, tracking the path, only to name the field in the error.
            Err(plain) => {
                return Err(match serde_path_to_error::deserialize::<_, T>(&received) {
                    Err(e) => SignedError::Field {
                        path: e.path().to_string(),
                        reason: e.into_inner().to_string(),
                    },
                    Ok(_) => SignedError::Field {
                        path: String::new(),
                        reason: plain.to_string(),
                    },
                }
                .into());
            }
        };
        body.validate()?;
        canonical::check_write_back(&received, &body).map_err(SignedError::from)?;
        Ok(Signed { body, sig })
    }

    /// The canonical JSON of the body: the bytes `sig` signs.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, T::Error> {
        Ok(canonical_bytes(&self.body)?)
    }

    /// Checks the signature against a device's public key.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), SignedError> {
        self.verify_with(&DeviceVerifier::new(public_key))
    }

    /// [`Signed::verify`] with a key already decoded.
    pub fn verify_with(&self, verifier: &DeviceVerifier) -> Result<(), SignedError> {
        let sig = decode_sig(&self.sig).map_err(|_| SignedError::SigEncoding {
            reason: "not 64 bytes of base64url".into(),
        })?;
        if verifier.verify(&canonical_bytes(&self.body)?, &sig) {
            Ok(())
        } else {
            Err(SignedError::BadSignature)
        }
    }

    /// The canonical JSON of the whole signed item, `sig` included: the form to store, send
    /// and hash.
    pub fn to_json(&self) -> Result<String, T::Error> {
        Ok(canonical::to_string(self).map_err(SignedError::from)?)
    }
}

impl<'de, T: SignedFormat> Deserialize<'de> for Signed<T>
where
    T::Error: fmt::Display,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let StrictValue(value) = StrictValue::deserialize(deserializer)?;
        Signed::from_value(value).map_err(serde::de::Error::custom)
    }
}
