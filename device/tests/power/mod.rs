//! The power-loss harness of `power_loss.rs`: the simulating VFS ([`vfs`]) and the run of
//! power cuts on a real device against the real server ([`run`]).

pub(crate) mod run;
pub(crate) mod vfs;
