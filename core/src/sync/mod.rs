//! Sync between a device and the server: the protocol's messages ([`protocol`]).
pub mod protocol;
