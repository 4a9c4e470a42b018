//! The operations of the model-based test and how they are generated: the reference state
//! machine ([`Ops`]) that proptest-state-machine draws sequences from and shrinks.
//!
//! An operation names what happens to the whole loop: a phone punches or files a request, a
//! phone syncs once, the network misbehaves for the next requests, the server restarts, a
//! phone's process dies or its power goes at an arbitrary write of its store, a phone's wall
//! clock jumps, the administrator publishes a policy.
//! The reference state kept here is what generation needs (the phones' clock offsets, so a
//! jump keeps them within bounds); what the real system acknowledged is kept by the checker
//! ([`super::ledger`]), because outcomes such as verdicts are observed, not predicted.
//!
//! The weights keep the cheap, frequent things of a phone's life (punches,
//! flaky requests, time passing) common and the costly ones (a server restart, a policy
//! publication, which recomputes attendance) rare, so that 100,000 steps fit in minutes.

use daka_core::punch::PunchKind;
use daka_power_sim::Landing;
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

/// Phones in the model, one employee each.
pub const PHONES: usize = 2;

/// A process death or a power cut falls at one of the first this many writes, syncs,
/// truncations and deletions of the phone's store from when it is armed: a punch makes about
/// ten, a sync round a few dozen. When the work ends first, the cut comes at its end.
pub const MAX_CUT_OP: u8 = 24;

/// Largest wall-clock offset a phone reaches through jumps, in minutes either way.
pub const MAX_CLOCK_OFFSET_MIN: i32 = 240;

/// Where a punch's evidence places the phone, relative to the Causeway Bay store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A GPS fix well inside the store (±5 m).
    Inside,
    /// A fix about 25 m from the store's middle (±15 m): at the fence, often uncertain.
    Edge,
    /// A fix about 60 m away (±30 m).
    Near,
    /// A fix 400 m away (±10 m): outside, refused by the rules.
    Away,
    /// A fix inside the store too coarse to use (±120 m).
    Coarse,
    /// No fix, only the store's Wi-Fi access point in range.
    Wifi,
    /// A fix 400 m away but the store's Wi-Fi in range.
    WifiAway,
}

/// A request form a phone files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    /// An expense claim with one receipt photo of `amount_minor` HKD cents (over HK$5,000
    /// adds the finance step).
    Expense {
        /// The amount in minor units.
        amount_minor: u32,
    },
    /// A day of no-pay leave (no balance to run out) in December 2026: the 1st and 2nd are
    /// working days of both employees, the 5th a rest day of E1002's roster, the 6th (a
    /// Sunday) of E1001's store week; a leave booking no working day is refused on the phone.
    Leave {
        /// 1, 2, 5 or 6.
        day: u8,
    },
}

/// A network fault for the next requests through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetFault {
    /// The server commits, the answer is lost.
    LostResponse,
    /// The answer is cut in the middle.
    Truncated,
    /// 500 without reaching the server.
    ServerError,
    /// 503 with Retry-After.
    Unavailable,
    /// 429 with Retry-After.
    TooManyRequests,
    /// Connections reset: no network at all.
    Partition,
}

/// What a phone is doing when its process dies or its power goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Work {
    /// Nothing: the store is idle.
    Idle,
    /// A punch of `kind` with evidence at `place`.
    Punch {
        /// The punch kind.
        kind: PunchKind,
        /// Where the evidence places it.
        place: Place,
    },
    /// A sync round.
    Sync,
    /// A punch, then a sync round.
    PunchThenSync {
        /// The punch kind.
        kind: PunchKind,
        /// Where the evidence places it.
        place: Place,
    },
}

impl Work {
    /// The punch of the work, if it has one.
    pub fn punch(self) -> Option<(PunchKind, Place)> {
        match self {
            Work::Punch { kind, place } | Work::PunchThenSync { kind, place } => {
                Some((kind, place))
            }
            Work::Idle | Work::Sync => None,
        }
    }

    /// Whether the work runs a sync round.
    pub fn syncs(self) -> bool {
        matches!(self, Work::Sync | Work::PunchThenSync { .. })
    }
}

/// One step of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Phone `phone` punches `kind` with evidence at `place`.
    Punch {
        /// Index of the phone.
        phone: usize,
        /// The punch kind.
        kind: PunchKind,
        /// Where the evidence places it.
        place: Place,
    },
    /// Phone `phone` files a request.
    Submit {
        /// Index of the phone.
        phone: usize,
        /// What is filed.
        form: FormKind,
    },
    /// Phone `phone` runs one sync round.
    Sync {
        /// Index of the phone.
        phone: usize,
    },
    /// The next `requests` requests through the proxy get `fault` (replacing faults left
    /// from an earlier such step).
    Faults {
        /// The fault.
        fault: NetFault,
        /// How many requests it hits.
        requests: u8,
    },
    /// The server stops (draining) and starts again on the same database file and port.
    RestartServer,
    /// Phone `phone`'s process dies at the `at_op`-th write, sync, truncation or deletion of
    /// its store while it does `work` (or when the work ends first, then; a sync round of the
    /// work is also cut short at an await point after `sync_ms` ms when given): every call
    /// after it fails, the `Device` is dropped, and everything written before the death stays
    /// (the OS page cache outlives the process). The phone then opens its file again.
    KillPhone {
        /// Index of the phone.
        phone: usize,
        /// The call of the store the process dies at, counted from the start of the work.
        at_op: u8,
        /// What the phone does meanwhile.
        work: Work,
        /// Drop the work's sync round after this many milliseconds.
        sync_ms: Option<u8>,
    },
    /// Phone `phone`'s power goes at the `at_op`-th write, sync, truncation or deletion of its
    /// store while it does `work` (or when the work ends first, then): every call after it
    /// fails, the `Device` is dropped, and of what its store had not flushed the disk keeps
    /// what `landing` says (nothing, a torn prefix, reordered sectors). The phone then boots
    /// and opens its file again. `seed` drives the landing's random choices.
    PowerCut {
        /// Index of the phone.
        phone: usize,
        /// The call of the store the power goes at, counted from the start of the work.
        at_op: u8,
        /// What the phone does meanwhile.
        work: Work,
        /// What of the unflushed writes reached the disk.
        landing: Landing,
        /// The seed of the landing's random choices (torn points, sectors, garbage).
        seed: u64,
    },
    /// Phone `phone`'s user moves its wall clock by `minutes` (the monotonic clock runs on).
    ClockJump {
        /// Index of the phone.
        phone: usize,
        /// Minutes forward (positive) or back.
        minutes: i16,
    },
    /// The administrator publishes the next policy version: the store's fence moved
    /// `shift_m` metres east and its tolerance set to `tolerance_m`.
    PublishPolicy {
        /// Metres the store polygon moves east.
        shift_m: u8,
        /// The store's tolerance in metres.
        tolerance_m: u8,
    },
    /// `seconds` pass with nothing happening.
    Wait {
        /// How long.
        seconds: u16,
    },
}

impl Op {
    /// The phone the operation acts on, if it acts on one.
    pub fn phone(&self) -> Option<usize> {
        match *self {
            Op::Punch { phone, .. }
            | Op::Submit { phone, .. }
            | Op::Sync { phone }
            | Op::KillPhone { phone, .. }
            | Op::PowerCut { phone, .. }
            | Op::ClockJump { phone, .. } => Some(phone),
            Op::Faults { .. } | Op::RestartServer | Op::PublishPolicy { .. } | Op::Wait { .. } => {
                None
            }
        }
    }

    /// A short name per kind of operation, for the counts printed at the end.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Punch { .. } => "punch",
            Op::Submit { .. } => "submit",
            Op::Sync { .. } => "sync",
            Op::Faults { .. } => "faults",
            Op::RestartServer => "restart_server",
            Op::KillPhone { .. } => "kill_phone",
            Op::PowerCut { .. } => "power_cut",
            Op::ClockJump { .. } => "clock_jump",
            Op::PublishPolicy { .. } => "publish_policy",
            Op::Wait { .. } => "wait",
        }
    }
}

/// What generation needs to know: the phones' wall-clock offsets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefState {
    /// Each phone's wall clock minus true time, in minutes.
    pub clock_offset_min: [i32; PHONES],
}

/// The reference state machine: which operations may come next.
pub struct Ops;

fn punch_kind() -> impl Strategy<Value = PunchKind> {
    prop_oneof![
        3 => Just(PunchKind::In),
        3 => Just(PunchKind::Out),
        1 => Just(PunchKind::BreakStart),
        1 => Just(PunchKind::BreakEnd),
        1 => Just(PunchKind::Field),
    ]
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        6 => Just(Place::Inside),
        2 => Just(Place::Edge),
        1 => Just(Place::Near),
        1 => Just(Place::Away),
        1 => Just(Place::Coarse),
        2 => Just(Place::Wifi),
        1 => Just(Place::WifiAway),
    ]
}

fn form() -> impl Strategy<Value = FormKind> {
    prop_oneof![
        (100u32..900_000).prop_map(|amount_minor| FormKind::Expense { amount_minor }),
        prop::sample::select(vec![1u8, 2, 5, 6]).prop_map(|day| FormKind::Leave { day }),
    ]
}

fn work() -> impl Strategy<Value = Work> {
    prop_oneof![
        1 => Just(Work::Idle),
        3 => (punch_kind(), place()).prop_map(|(kind, place)| Work::Punch { kind, place }),
        3 => Just(Work::Sync),
        3 => (punch_kind(), place())
            .prop_map(|(kind, place)| Work::PunchThenSync { kind, place }),
    ]
}

fn landing() -> impl Strategy<Value = Landing> {
    prop_oneof![
        Just(Landing::Lost),
        Just(Landing::TornPrefix),
        Just(Landing::Reordered),
    ]
}

fn net_fault() -> impl Strategy<Value = NetFault> {
    prop_oneof![
        3 => Just(NetFault::LostResponse),
        1 => Just(NetFault::Truncated),
        2 => Just(NetFault::ServerError),
        1 => Just(NetFault::Unavailable),
        2 => Just(NetFault::TooManyRequests),
        3 => Just(NetFault::Partition),
    ]
}

impl ReferenceStateMachine for Ops {
    type State = RefState;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<RefState> {
        Just(RefState::default()).boxed()
    }

    fn transitions(_state: &RefState) -> BoxedStrategy<Op> {
        let phone = || 0..PHONES;
        prop_oneof![
            330 => (phone(), punch_kind(), place())
                .prop_map(|(phone, kind, place)| Op::Punch { phone, kind, place }),
            25 => (phone(), form()).prop_map(|(phone, form)| Op::Submit { phone, form }),
            70 => phone().prop_map(|phone| Op::Sync { phone }),
            120 => (net_fault(), 1u8..5).prop_map(|(fault, requests)| Op::Faults { fault, requests }),
            5 => Just(Op::RestartServer),
            8 => (phone(), 1..=MAX_CUT_OP, work(), prop::option::weighted(0.5, 0u8..25))
                .prop_map(|(phone, at_op, work, sync_ms)| Op::KillPhone {
                    phone,
                    at_op,
                    work,
                    sync_ms,
                }),
            6 => (phone(), 1..=MAX_CUT_OP, work(), landing(), any::<u64>())
                .prop_map(|(phone, at_op, work, landing, seed)| Op::PowerCut {
                    phone,
                    at_op,
                    work,
                    landing,
                    seed,
                }),
            120 => (phone(), -120i16..=120)
                .prop_map(|(phone, minutes)| Op::ClockJump { phone, minutes }),
            2 => (0u8..4, 0u8..3).prop_map(|(shift, tol)| Op::PublishPolicy {
                shift_m: shift * 15,
                tolerance_m: tol * 20,
            }),
            200 => (1u16..1_800).prop_map(|seconds| Op::Wait { seconds }),
        ]
        .boxed()
    }

    fn preconditions(state: &RefState, op: &Op) -> bool {
        match op {
            Op::ClockJump { phone, minutes } => {
                (state.clock_offset_min[*phone] + i32::from(*minutes)).abs() <= MAX_CLOCK_OFFSET_MIN
            }
            _ => true,
        }
    }

    fn apply(mut state: RefState, op: &Op) -> RefState {
        if let Op::ClockJump { phone, minutes } = op {
            state.clock_offset_min[*phone] += i32::from(*minutes);
        }
        state
    }
}
