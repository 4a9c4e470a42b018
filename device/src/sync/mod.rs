//! Talking to the server: the HTTP client for the sync protocol ([`client`]), which servers
//! it trusts ([`tls`], with key [`pins`]) and how much of the outbox goes into one push
//! ([`batching`]). The protocol's messages themselves are
//! [`daka_core::protocol`], shared with the server; when to sync and what an answer means for
//! the queue is the engine's ([`crate::engine`]).
pub mod batching;
pub mod client;
mod pins;
pub mod tls;
