//! [`parse_enrolment_link`]: reads the enrolment link of the QR code on the console's person
//! page, so that the app can enrol by scanning instead of typing.

use daka_device::link;

use crate::error::DakaError;

/// The two values of an enrolment link, for `DakaDevice.enroll(serverUrl, code, …)`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrolmentLink {
    /// The server's base URL (`https://…`), without a trailing `/`.
    pub server_url: String,
    /// The one-time enrolment code.
    pub code: String,
}

/// Reads a scanned enrolment link, `daka://enroll?server=<base URL>&code=<code>` (both values
/// percent-encoded). Pure: nothing is sent. Anything else is `DakaError.InvalidInput` with
/// `field` `link` and the reason naming the part that is wrong (`scheme`, `server`, `code`).
#[uniffi::export]
pub fn parse_enrolment_link(link: String) -> Result<EnrolmentLink, DakaError> {
    match link::parse_enrolment_link(&link) {
        Ok(l) => Ok(EnrolmentLink {
            server_url: l.server_url,
            code: l.code,
        }),
        Err(e) => Err(DakaError::InvalidInput {
            field: "link".into(),
            value: link.chars().take(80).collect(),
            reason: e.reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_parses_and_garbage_is_invalid_input_naming_the_link() {
        let l = parse_enrolment_link(
            "daka://enroll?server=https%3A%2F%2Fdaka.example.hk&code=7Q4M-X2KD-9HBA-R3TW".into(),
        )
        .unwrap();
        assert_eq!(l.server_url, "https://daka.example.hk");
        assert_eq!(l.code, "7Q4M-X2KD-9HBA-R3TW");
        for garbage in ["", "https://daka.example.hk", "daka://enroll?code=12345678"] {
            match parse_enrolment_link(garbage.into()) {
                Err(DakaError::InvalidInput { field, .. }) => assert_eq!(field, "link"),
                other => panic!("{garbage:?}: {other:?}"),
            }
        }
    }
}
