//! Test harness shared by the end-to-end tests: a fault-injecting HTTP proxy to put between
//! the SDK and the real server, and the setup helpers of the server, devices and punches.
pub mod fault_proxy;
pub mod harness;
