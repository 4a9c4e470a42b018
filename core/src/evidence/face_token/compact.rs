//! The compact JWS serialisation (RFC 7515 §7.1), strictly: exactly three base64url segments
//! without padding, nothing else, at most [`MAX_TOKEN_BYTES`].
//!
//! This is the first step of verification and runs on completely untrusted text, so it only
//! splits and decodes: no JSON is read here. Every way a string can fail to be a compact JWS
//! is a [`FaceTokenError::Malformed`] naming the segment and, for a bad character, its offset.
//! Lenient decoders (that skip whitespace, accept `=` padding or the standard `+/` alphabet)
//! would let one token have many spellings; refusing them keeps a token's text, which the punch
//! record stores verbatim, the single thing the signature covers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{FaceTokenError, TokenPart};

/// Longest accepted token, in bytes. A face-match result is a few hundred bytes; anything near
/// this limit is not one.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A token split into its decoded segments.
#[derive(Debug)]
pub(super) struct Compact<'t> {
    /// `ASCII(BASE64URL(header) || '.' || BASE64URL(payload))`, borrowed from the token.
    pub signing_input: &'t [u8],
    pub header: Vec<u8>,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

const PARTS: [TokenPart; 3] = [TokenPart::Header, TokenPart::Payload, TokenPart::Signature];

/// Splits and decodes a compact JWS. The signature segment may be empty (as in `alg: none`
/// tokens) so that such tokens are refused for their algorithm, not their shape.
pub(super) fn split(token: &str) -> Result<Compact<'_>, FaceTokenError> {
    if token.is_empty() {
        return Err(FaceTokenError::malformed(TokenPart::Token, "empty token"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(FaceTokenError::malformed(
            TokenPart::Token,
            format!(
                "token is {} bytes; the limit is {MAX_TOKEN_BYTES}",
                token.len()
            ),
        ));
    }
    let segments = token.split('.').count();
    if segments != 3 {
        return Err(FaceTokenError::malformed(
            TokenPart::Token,
            format!("compact JWS has 3 dot-separated segments, this token has {segments}"),
        ));
    }

    let mut decoded: [Vec<u8>; 3] = Default::default();
    let mut offset = 0;
    for (i, segment) in token.split('.').enumerate() {
        let part = PARTS[i];
        if segment.is_empty() && part != TokenPart::Signature {
            return Err(FaceTokenError::malformed(part, "empty segment"));
        }
        check_alphabet(segment, offset, part)?;
        decoded[i] = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|e| FaceTokenError::malformed(part, format!("not valid base64url: {e}")))?;
        offset += segment.len() + 1;
    }
    let [header, payload, signature] = decoded;
    let signing_input_len = token.rfind('.').unwrap_or(0);
    Ok(Compact {
        signing_input: &token.as_bytes()[..signing_input_len],
        header,
        payload,
        signature,
    })
}

/// Rejects anything outside `A–Z a–z 0–9 - _`, naming padding and whitespace specifically
/// because those are the mistakes a vendor's encoder actually makes.
fn check_alphabet(segment: &str, base: usize, part: TokenPart) -> Result<(), FaceTokenError> {
    let bad = segment
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let Some(at) = bad else { return Ok(()) };
    let offset = base + at;
    let b = segment.as_bytes()[at];
    let reason = if b == b'=' {
        format!("padding '=' at offset {offset}; compact JWS uses base64url without padding")
    } else if b.is_ascii_whitespace() {
        format!("whitespace at offset {offset}")
    } else if b == b'+' || b == b'/' {
        format!(
            "{:?} at offset {offset} is standard base64; compact JWS uses base64url (- and _)",
            b as char
        )
    } else if b.is_ascii_graphic() {
        format!(
            "{:?} at offset {offset} is not a base64url character",
            b as char
        )
    } else {
        format!("byte 0x{b:02x} at offset {offset} is not a base64url character")
    };
    Err(FaceTokenError::malformed(part, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(token: &str) -> (TokenPart, String) {
        match split(token) {
            Err(FaceTokenError::Malformed { part, reason }) => (part, reason),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn splits_and_borrows_the_signing_input() {
        let c = split("eyJhIjoxfQ.eyJiIjoyfQ.AAEC").unwrap();
        assert_eq!(c.signing_input, b"eyJhIjoxfQ.eyJiIjoyfQ");
        assert_eq!(c.header, br#"{"a":1}"#);
        assert_eq!(c.payload, br#"{"b":2}"#);
        assert_eq!(c.signature, [0, 1, 2]);
    }

    #[test]
    fn empty_signature_segment_is_structurally_fine() {
        let c = split("eyJhIjoxfQ.eyJiIjoyfQ.").unwrap();
        assert!(c.signature.is_empty());
    }

    #[test]
    fn names_the_segment_and_offset() {
        assert_eq!(reason("").0, TokenPart::Token);
        assert_eq!(reason("a.b").0, TokenPart::Token);
        assert_eq!(reason("a.b.c.d").0, TokenPart::Token);
        assert_eq!(reason(".eyJiIjoyfQ.AAEC").0, TokenPart::Header);
        assert_eq!(reason("eyJhIjoxfQ..AAEC").0, TokenPart::Payload);
        let (part, why) = reason("eyJhIjoxfQ.eyJiIjoyfQ=.AAEC");
        assert_eq!(part, TokenPart::Payload);
        assert!(
            why.contains("padding") && why.contains("offset 21"),
            "{why}"
        );
        let (part, why) = reason("eyJhIjoxfQ.eyJiIjoyfQ.AA EC");
        assert_eq!(part, TokenPart::Signature);
        assert!(why.contains("whitespace"), "{why}");
        let (_, why) = reason("eyJhIjox+Q.eyJiIjoyfQ.AAEC");
        assert!(why.contains("standard base64"), "{why}");
        let (part, why) = reason("eyJhIjoxfQ.eyJiIjoyfQ.A");
        assert_eq!(part, TokenPart::Signature);
        assert!(why.contains("base64url"), "{why}");
    }

    #[test]
    fn refuses_non_canonical_trailing_bits() {
        // "AAE" decodes to [0, 1]; "AAF" has non-zero unused bits and is another spelling.
        assert!(split("eyJhIjoxfQ.eyJiIjoyfQ.AAE").is_ok());
        assert_eq!(reason("eyJhIjoxfQ.eyJiIjoyfQ.AAF").0, TokenPart::Signature);
    }

    #[test]
    fn size_limit_is_inclusive() {
        let sig = "A".repeat(MAX_TOKEN_BYTES - "eyJhIjoxfQ.eyJiIjoyfQ.".len());
        let at_limit = format!("eyJhIjoxfQ.eyJiIjoyfQ.{sig}");
        assert_eq!(at_limit.len(), MAX_TOKEN_BYTES);
        assert!(split(&at_limit).is_ok());
        let over = format!("{at_limit}A");
        let (part, why) = reason(&over);
        assert_eq!(part, TokenPart::Token);
        assert!(why.contains("8193 bytes"), "{why}");
    }
}
