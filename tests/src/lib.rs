//! Test harness shared by the end-to-end tests: a fault-injecting HTTP proxy to put between
//! the SDK and the real server.
pub mod fault_proxy;
