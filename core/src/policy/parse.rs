//! JSON → validated [`Policy`].
use super::{Policy, PolicyError};

pub(super) fn parse_policy(_text: &str) -> Result<Policy, PolicyError> {
    todo!("policy parsing")
}
