//! The operations of the model-based test and how they are generated: the reference state
//! machine ([`Ops`]) that proptest-state-machine draws sequences from and shrinks.
//!
//! An operation names what happens to the whole loop: a phone punches or files a request, a
//! phone syncs once, the network misbehaves for the next requests, the server restarts, a
//! phone's process dies, a phone's wall clock jumps, the administrator publishes a policy.
//! The reference state kept here is what generation needs (the phones' clock offsets, so a
//! jump keeps them within bounds); what the real system acknowledged is kept by the checker
//! ([`super::ledger`]), because outcomes such as verdicts are observed, not predicted.
//!
//! The weights keep the cheap, frequent things of a phone's life (punches,
//! flaky requests, time passing) common and the costly ones (a server restart, a policy
//! publication, which recomputes attendance) rare, so that 100,000 steps fit in minutes.

use daka_core::punch::PunchKind;
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

/// Phones in the model, one employee each.
pub const PHONES: usize = 2;

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
    /// Phone `phone`'s process dies: its `Device` is dropped without shutdown, in the middle
    /// of a sync round after `during_sync_ms` ms when given, and opened again from its file.
    KillPhone {
        /// Index of the phone.
        phone: usize,
        /// Cut a sync round short after this many milliseconds, or die idle.
        during_sync_ms: Option<u8>,
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
            10 => (phone(), prop::option::weighted(0.7, 0u8..25))
                .prop_map(|(phone, during_sync_ms)| Op::KillPhone { phone, during_sync_ms }),
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
