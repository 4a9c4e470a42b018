//! Shrunk failures of the model-based test (`model.rs`), each replayed as the fixed sequence
//! of operations it shrank to, with every check of the model. In a binary of their own: the
//! model's totals are process-wide.

use daka_e2e::model::ops::{Op, Work};
use daka_e2e::model::replay;
use daka_power_sim::Landing;

/// A power cut right after the phone was created and enrolled, before it wrote anything else:
/// the phone came back without its enrolment. The simulation's fault, not the store's: creating
/// the store switches the new file to WAL mode through a rollback journal, deleted without a
/// directory sync, and the VFS brought that journal back at the cut (rolling the file back to
/// empty), though the WAL's first sync had synced the directory since. A directory sync now
/// makes every earlier creation and deletion in the directory durable.
#[test]
fn a_power_cut_right_after_enrolment_keeps_the_enrolment() {
    replay(&[Op::PowerCut {
        phone: 0,
        at_op: 1,
        work: Work::Idle,
        landing: Landing::Lost,
        seed: 0,
    }]);
}
