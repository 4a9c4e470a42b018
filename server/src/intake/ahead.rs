//! The checks of a push that need nothing from the database, run ahead of the request's
//! transaction on the rayon pool: which kind's intake an item goes to, and for a punch its
//! integrity checks (the Ed25519 signature above all) and its face token's signature, so that
//! on a multi-core server they overlap the database work of the items before it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use daka_core::protocol::{ItemKind, PushItem};
use daka_core::punch::DeviceVerifier;

use super::punch::{self, Prechecked};
use crate::policies::Engines;
use crate::storage::DeviceRow;

/// Where an item goes after the checks ahead of the transaction.
// Nearly every item is a punch, so boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum Precheck {
    /// A punch, or an item of a kind this server does not take (which the punch checks
    /// refuse as `unsupported_kind`).
    Punch(Prechecked),
    /// A request submission or a decision, which `approval.rs` checks inside the
    /// transaction.
    Approval(ItemKind),
}

/// Dispatches an item by its kind and runs the checks of it that need nothing from the
/// database.
fn precheck(
    item: &PushItem,
    device: &DeviceRow,
    verifier: &DeviceVerifier,
    engines: &Engines,
) -> Precheck {
    match ItemKind::parse(&item.kind) {
        Some(kind @ (ItemKind::Request | ItemKind::Decision)) => Precheck::Approval(kind),
        Some(ItemKind::Punch) | None => {
            Precheck::Punch(punch::precheck(item, device, verifier, engines))
        }
    }
}

/// A request needs this many items before helpers check ahead of its transaction; below it,
/// the transaction's thread checks each item itself.
const CHECK_AHEAD_MIN_ITEMS: usize = 4;

/// The prechecks of one request, computed while its transaction runs. Helper jobs on the
/// rayon pool claim items in request order and check them; the transaction's thread takes
/// each result as it reaches the item, and checks the next unclaimed item itself rather than
/// wait. So on a multi-core server the signature checks of later items overlap the database
/// work of earlier ones, and a request of one item costs no hand-off between threads.
pub(super) struct Prechecks<'a> {
    items: &'a [PushItem],
    device: &'a DeviceRow,
    /// The engines built so far, for the face tokens' keys.
    engines: &'a Engines,
    /// The device's key, decoded once for the whole request.
    verifier: DeviceVerifier,
    /// The next item no one has claimed; at or past the end, nothing is left to claim.
    next: AtomicUsize,
    /// Each item's result once checked; `Err` if its check panicked.
    slots: Vec<OnceLock<Result<Precheck, CheckPanicked>>>,
}

/// A check that panicked: the transaction's thread panics in turn when it reaches the item
/// (instead of waiting forever for a result that will not come), as a check on its own
/// thread would have.
struct CheckPanicked;

impl<'a> Prechecks<'a> {
    pub(super) fn new(
        items: &'a [PushItem],
        device: &'a DeviceRow,
        engines: &'a Engines,
    ) -> Prechecks<'a> {
        Prechecks {
            items,
            device,
            engines,
            verifier: DeviceVerifier::new(&device.public_key),
            next: AtomicUsize::new(0),
            slots: items.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// How many helper jobs to spawn for the request: none below [`CHECK_AHEAD_MIN_ITEMS`].
    /// The transaction's thread checks too, so one helper fewer than the pool's threads keeps
    /// every core busy without more runnable threads than cores.
    pub(super) fn helpers(&self) -> usize {
        if self.items.len() >= CHECK_AHEAD_MIN_ITEMS {
            rayon::current_num_threads().saturating_sub(1).max(1)
        } else {
            0
        }
    }

    /// Claims the next unchecked item and checks it; `false` when none is left.
    pub(super) fn check_next(&self) -> bool {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match self.items.get(i) {
            Some(item) => {
                let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    precheck(item, self.device, &self.verifier, self.engines)
                }))
                .map_err(|_| CheckPanicked);
                // Each index is claimed once, so the slot is empty.
                let _ = self.slots[i].set(checked);
                true
            }
            None => false,
        }
    }

    /// Item `i`'s result, checking ahead while it is not ready.
    pub(super) fn get(&self, i: usize) -> &Precheck {
        loop {
            match self.slots[i].get() {
                Some(Ok(pre)) => return pre,
                Some(Err(CheckPanicked)) => panic!("the checks of push item {i} panicked"),
                None => {}
            }
            if !self.check_next() {
                // Claimed by a helper that is checking it now: at most one item's check away.
                std::thread::yield_now();
            }
        }
    }

    /// Stops the helpers: nothing more is claimed.
    pub(super) fn stop(&self) {
        self.next.store(self.items.len(), Ordering::Relaxed);
    }
}
