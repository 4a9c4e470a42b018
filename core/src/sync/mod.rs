//! Sync between a device and the server: the protocol's messages ([`protocol`]) and the HTTP
//! client that speaks them ([`client`]).
pub mod batching;
pub mod client;
pub mod protocol;
