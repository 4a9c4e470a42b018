//! Test harness shared by the end-to-end tests: a fault-injecting HTTP proxy to put between
//! the SDK and the real server, the setup helpers of the server, devices and punches, and the
//! model-based test of the whole loop.
pub mod fault_proxy;
pub mod harness;
pub mod model;
