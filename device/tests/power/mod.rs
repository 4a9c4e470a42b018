//! The power-loss harness of `power_loss.rs`: the run of power cuts on a real device against
//! the real server ([`run`]), over the simulating VFS of the `daka-power-sim` crate.

pub(crate) mod run;
