//! Admission control for `POST /v1/push`: a push is refused at once with 503 `busy` and a
//! wait (`retry_after_ms` in the body, `Retry-After` in whole seconds) when the pushes already
//! admitted would keep it waiting for the database longer than
//! [`ServerOptions::max_push_wait`](crate::ServerOptions::max_push_wait).
//!
//! Without it, a fleet that comes back online together (a morning shift leaving the MTR, an
//! office after a network outage) queues more work than the server can do before the phones'
//! request timeouts: the queued requests time out at the client, are sent again, and the server
//! spends its time re-checking items it already stored. Refusing early is cheap, the SDK waits
//! as long as it is told, and the pushes that are admitted are answered in time.
//!
//! The wait is estimated from the items admitted and not yet answered, times the recent cost
//! of one item: the time the server was busy with pushes (some admitted and not yet answered)
//! over the last few seconds of it, divided by the items it answered in that time. Idle time
//! is not counted, and a few seconds smooth out the bursts in which answers come (pushes that
//! wait for the database have their signatures checked meanwhile, so after a stall many are
//! answered at once). A push is always admitted when nothing is pending, so a large push is
//! never refused for its own size. Until the first push after a start has been measured, an
//! item is assumed to cost [`ASSUMED_NANOS_PER_ITEM`] (about five times what one costs on a
//! small 2-core server): a fleet that reconnects together with a freshly started server is then
//! admitted a few seconds' worth at a time, not all at once before any cost is known. The cost
//! is settled once it is measured over a second of busy time; until then it is not used below
//! the assumed cost, nor to send a refused push away for more than a second (the first answers
//! come in a burst, which says too little, and a wrong early cost would otherwise admit every
//! waiting push at once or leave the server idle).
//!
//! The cost measures the pace at which the server answers, which is what the returns of
//! refused pushes are timed at; but the pushes admitted side by side can slow each other more
//! than it says (on PostgreSQL a window is costed as if the pool's connections could all work
//! at once, while on a small server they share its cores with the database). So each push
//! admitted behind others is also checked against the wait it was estimated at when admitted,
//! and when the admitted pushes of the costed windows were answered later than estimated, the
//! wait behind the admitted pushes is estimated at the cost times that overrun (at most 8×,
//! never less than 1×): fewer are admitted at once, and the returns keep their pace.
//! The overrun is only measured once pushes are admitted side by side, so admission opens up
//! at most twofold a costed window: the wait behind the admitted pushes is never estimated at
//! less than half what it was when the latest window was costed. Without it, the moment the
//! cost settles (on PostgreSQL it can be a twentieth of the assumed cost, measured while the
//! pushes ran one or two at a time) sixteen pushes would be let in together, all to be
//! answered three times later than the limit; opening up a window at a time, the overrun is
//! measured on the way.
//!
//! A refused push is given a place in line, kept for its caller (the hash of its device's
//! bearer token, so a device that comes back is known before its token is looked up in the
//! database): the refused pushes are lined up one after another in items, and a push is
//! admitted only near its turn, when its place is within `max_wait` of work of the admitted
//! pushes (and the wait behind those is within the limit). The work ahead of a place is the
//! admitted pushes' and that of the places before it still waiting, counted from the head of
//! the line, the earliest place still waiting: a push admitted out of its turn moves no one
//! else's place. Its turn is due when the work ahead of it is down to `max_wait / 2`, and
//! it is told to come back then, or half-way there when that is further away, to the
//! millisecond: a thousand phones refused in the same second come back spread out, the ones
//! at the back a few times, closer to their turn every time, instead of all together to be
//! refused together again. Aiming early is deliberate. The cost measured
//! while a fleet reconnects (every refusal taking its share of the processor) can be twice
//! what it is a few seconds later, and a phone at the back of the line timed at it would come
//! back long after its turn, with the server idle meanwhile; one that comes back early costs a
//! refusal, which is cheap: a device whose place is not near is refused before its token is
//! looked up or its body parsed ([`PushAdmission::refuse_unparsed`]). A place is counted in
//! items, not in time, so a device keeps it however early it comes back, and its wait follows
//! the cost. A newcomer that would be refused whatever its size (the decision does not depend
//! on it) is placed before its body is parsed too, its size estimated from the body's length:
//! when a fleet reconnects together, the server does not parse a thousand bodies of a hundred
//! signed punches only to refuse them. Should the
//! admitted pushes run short (less than a quarter of `max_wait` of work) because those whose
//! turn it is have not come back, whoever comes is admitted, so the server never idles for a
//! device that does not come back; and a device more than a second past the time it was told
//! to come back holds no one up (its place is left out of the line as it reaches the head, and
//! the device is placed at the head when it does come back). A place is forgotten once the
//! server is idle and its device has not been back for a minute. Until the cost is settled,
//! returns are timed at no less than a quarter of the assumed cost and no more than a second
//! away. Places are kept per server process; several instances each keep their own line.
//!
//! Coming back with the push itself costs the phone the push's upload every time (about
//! 200 KB for a hundred signed punches), so a device refused `busy` asks first
//! (`POST /v1/push/turn`, [`PushAdmission::turn`]) and uploads the push when told its turn has
//! come; a device with a backlog asks before its first upload too, so a fleet that reconnects
//! together sends questions, not every backlog at once. A turn given is held for the device's
//! push for [`TURN_HELD_NS`], its items counted as admitted, so that the devices asking in the
//! same moment are not all told to come for the same room; a turn not taken by then is let go
//! and the device placed at the head.
//!
//! An admitted push then waits for a lane into storage ([`Admitted::lane`]): one more than the
//! writes the storage runs side by side, so the pushes in storage are not slowed by checking
//! the signatures of all the others at once.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The answers over at least this much busy time are costed together, in nanoseconds (250 ms):
/// pushes admitted together are often answered in a burst, one right after another.
const COST_WINDOW_NS: u64 = 250_000_000;

/// How many of the latest windows the cost is the mean of: at least 4 s of busy time.
const COST_WINDOWS: usize = 16;

/// The cost of an item assumed until the first push is measured: 1 ms.
pub(crate) const ASSUMED_NANOS_PER_ITEM: u64 = 1_000_000;

/// Busy time the costed windows must cover before the cost is settled, in nanoseconds (1 s).
/// Until then a measured cost below [`ASSUMED_NANOS_PER_ITEM`] is not used to admit (the
/// first answers after a start come in a burst, a few milliseconds apart, and would cost an
/// item at a few microseconds: every waiting push would be admitted at once), and no refused
/// push is told to wait longer than [`UNMEASURED_RETRY_AFTER`] (a cost measured too high
/// would send it away for seconds while the server idles).
const SETTLED_BUSY_NS: u64 = 1_000_000_000;

/// The most the admitted pushes' overrun on their estimated waits multiplies the cost by, in
/// thousandths (8×).
const MAX_OVERRUN_PERMILLE: u64 = 8_000;

/// Longest wait a refused push is given before it sends again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// What a refused push is told to wait while no cost is measured yet.
const UNMEASURED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long a turn given to a device that asked for it (`POST /v1/push/turn`) is held for
/// its push, in nanoseconds (2 s): long enough to upload a hundred punches over a slow mobile
/// link; a turn not taken by then is let go, and the device keeps a place at the front.
const TURN_HELD_NS: u64 = 2_000_000_000;

/// A place is forgotten when the server goes idle and its caller has not been back for this
/// long, in nanoseconds: longer than any wait a refused push is told ([`MAX_RETRY_AFTER`]), so
/// it did not come back for its turn.
const FORGOTTEN_AFTER_NS: u64 = 2 * MAX_RETRY_AFTER.as_nanos() as u64;

/// A device this long past the time it was told to come back (nanoseconds, 1 s) is overdue:
/// its place no longer holds up the line behind it, and when it comes back it is placed at the
/// head of the line.
const OVERDUE_NS: u64 = 1_000_000_000;

/// Most places kept in line; past it, the places of devices that did not come back in their
/// turn are forgotten.
const MAX_PLACES: usize = 100_000;

/// The pushes admitted and the recent cost of an item.
#[derive(Debug)]
pub(crate) struct PushAdmission {
    /// The longest estimated wait, in nanoseconds.
    max_wait: u64,
    /// Write transactions the storage runs side by side at most (see
    /// [`Storage::parallel_writes`](crate::storage::Storage::parallel_writes)).
    parallel_writes: u64,
    /// Items of the pushes admitted and not yet answered.
    pending_items: AtomicU64,
    /// Mean busy time per item answered, in nanoseconds; 0 until the first cost is known,
    /// when [`ASSUMED_NANOS_PER_ITEM`] stands in.
    nanos_per_item: AtomicU64,
    /// The cost is measured over at least [`SETTLED_BUSY_NS`] of busy time.
    settled: AtomicBool,
    /// How much longer the admitted pushes of the costed windows took to be answered than
    /// their estimated wait at the measured cost, in thousandths, at least 1,000: admission
    /// estimates the wait at the measured cost times this ([`Costs::admit`]).
    overrun_permille: AtomicU64,
    /// The least the wait behind the admitted pushes is estimated at per item, in
    /// nanoseconds: half what it was when the latest window was costed, so that admission opens
    /// up at most twofold a window ([`Costs::admit`]); 0 until a window is costed.
    admit_floor: AtomicU64,
    /// The mean size of an item in the pushes parsed, in body bytes; 0 until one is.
    bytes_per_item: AtomicU64,
    /// When the admission started; the times below count from it.
    epoch: Instant,
    /// The refused pushes waiting for their turn.
    line: Mutex<Line>,
    /// The busy time and the answers behind the cost.
    costing: Mutex<Costing>,
    /// Admitted pushes let into storage at once: one more than the parallel writes.
    lanes: tokio::sync::Semaphore,
}

/// The line of refused pushes, in items: each place starts where the one given before it
/// ends, and the head of the line is the earliest place still waiting, so that a push admitted
/// out of turn moves no one else's place.
#[derive(Debug, Default)]
struct Line {
    /// Where the next place in line starts: the end of the last place given.
    end: u64,
    /// Each waiting caller's place (by the hash of its device's bearer token).
    places: HashMap<String, Place>,
    /// The places of the line by where they start, the head first; a place whose device is
    /// overdue is left out until it comes back ([`Line::head`]).
    order: BTreeSet<(u64, String)>,
    /// The turns given to callers that asked for them and whose pushes have not come yet: the
    /// items counted as admitted for each, and until when the turn is held (nanoseconds).
    held: HashMap<String, (u64, u64)>,
}

/// What the cost per item is measured from (times in nanoseconds from the admission's start).
#[derive(Debug, Default)]
struct Costing {
    /// When the server last went from idle (nothing pending) to busy.
    busy_since: u64,
    /// When the last push was answered.
    last_answer: u64,
    /// The answers not yet in a closed window.
    open: Window,
    /// The latest closed windows, oldest first, at most [`COST_WINDOWS`].
    closed: VecDeque<Window>,
    /// Before the first cost: the open window was restarted at the first answer of a burst.
    primed: bool,
}

/// Answers costed together: the busy time they were answered in, their items, and how long
/// their pushes spent in storage, summed (nanoseconds).
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    busy: u64,
    items: u64,
    took: u64,
    /// The pushes' waits from admission to answer, summed.
    waited: u64,
    /// Their estimated waits at admission (the items pending then, their own included, at
    /// the measured cost), summed.
    estimated: u64,
}

/// A waiting caller's place in line (times in nanoseconds from the admission's start).
#[derive(Debug, Clone, Copy)]
struct Place {
    /// Where its push starts in the line.
    at: u64,
    /// Its push's items.
    items: u64,
    /// When it was last refused or placed.
    seen: u64,
    /// When it was told to come back.
    due: u64,
}

/// The costs of an item admission works with at one moment, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Costs {
    /// The measured cost, 0 until the first push is measured.
    measured: u64,
    /// The measured cost covers at least [`SETTLED_BUSY_NS`] of busy time.
    settled: bool,
    /// What the wait behind the admitted pushes is estimated at: the measured cost, or
    /// [`ASSUMED_NANOS_PER_ITEM`] before it is known, and no less until it is settled; once
    /// settled, times the overrun of the admitted pushes' answers on their estimates. Never
    /// less than half what it was when the latest window was costed: admission opens up at
    /// most twofold a window, however low the cost measured.
    admit: u64,
    /// What the returns of refused pushes are timed at: the measured cost once settled;
    /// before that, the measured cost kept within a quarter of [`ASSUMED_NANOS_PER_ITEM`]
    /// and all of it; 0 before any cost is measured, when places are not kept to.
    timing: u64,
}

/// A push admitted: counted as pending until dropped. Report its storage time with
/// [`Admitted::ran`].
#[derive(Debug)]
pub(crate) struct Admitted<'a> {
    admission: &'a PushAdmission,
    items: u64,
    /// When it was admitted (nanoseconds from the admission's start).
    at: u64,
    /// Its estimated wait then: the items pending, its own included, at the measured cost;
    /// 0 when nothing else was pending (a push alone waits for nothing but itself, which the
    /// cost covers).
    estimate: u64,
}

/// What admission holds at one moment, for `GET /metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AdmissionState {
    /// Items of the pushes admitted and not yet answered.
    pub pending_items: u64,
    /// Refused pushes holding a place in line.
    pub places: usize,
    /// The measured cost of an item, in seconds; 0 until one is measured.
    pub item_cost_seconds: f64,
    /// The admitted pushes' overrun on their estimated waits (1 to 8).
    pub overrun: f64,
}

/// A push refused: the estimated wait, and how long to wait before sending it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// How long until this push's turn: the pushes admitted, and those in line before it.
    pub wait: Duration,
    /// How long to wait before sending again (1 ms to 30 s), sent to the millisecond as
    /// the body's `retry_after_ms` and rounded up to whole seconds in `Retry-After`.
    pub retry_after: Duration,
}

impl Costs {
    /// The cost an admitted push's wait is estimated at, to measure the overrun against:
    /// the measured cost, or the assumed one before any is measured.
    fn estimate(&self) -> u64 {
        if self.measured == 0 {
            ASSUMED_NANOS_PER_ITEM
        } else {
            self.measured
        }
    }
}

impl PushAdmission {
    /// Admission with this longest estimated wait.
    pub(crate) fn new(max_wait: Duration) -> PushAdmission {
        PushAdmission {
            max_wait: u64::try_from(max_wait.as_nanos()).unwrap_or(u64::MAX),
            parallel_writes: 1,
            pending_items: AtomicU64::new(0),
            nanos_per_item: AtomicU64::new(0),
            settled: AtomicBool::new(false),
            overrun_permille: AtomicU64::new(1_000),
            admit_floor: AtomicU64::new(0),
            bytes_per_item: AtomicU64::new(0),
            epoch: Instant::now(),
            line: Mutex::new(Line::default()),
            costing: Mutex::new(Costing::default()),
            lanes: tokio::sync::Semaphore::new(2),
        }
    }

    /// The same, for a storage that runs up to `n` write transactions side by side.
    pub(crate) fn with_parallel_writes(mut self, n: u32) -> PushAdmission {
        self.parallel_writes = u64::from(n.max(1));
        self.lanes = tokio::sync::Semaphore::new(n.max(1) as usize + 1);
        self
    }

    /// Admits a push of `items` items from `caller`, or refuses it with its place in line
    /// when the wait for the pushes already admitted is estimated above the limit.
    pub(crate) fn admit(&self, items: usize, caller: &str) -> Result<Admitted<'_>, Refused> {
        self.admit_at(items, caller, self.epoch.elapsed())
    }

    /// [`admit`](Self::admit) at `now`, counted from the admission's start.
    fn admit_at(&self, items: usize, caller: &str, now: Duration) -> Result<Admitted<'_>, Refused> {
        let items = items.max(1) as u64;
        let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let costs = self.costs();
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        self.let_go_of_turns(&mut line, now_ns);
        if let Some((held, _)) = line.held.remove(caller) {
            // Its turn was given when it asked and held for it: admitted, at its size now.
            let pending = self
                .pending_items
                .fetch_add(items, Ordering::AcqRel)
                .saturating_sub(held);
            self.pending_items.fetch_sub(held, Ordering::AcqRel);
            return Ok(self.admitted(items, now_ns, pending, &costs));
        }
        let pending = self.pending_items.fetch_add(items, Ordering::AcqRel);
        if pending == 0 {
            // The server was idle: the time before this push is not part of any cost.
            let mut costing = self.costing.lock().unwrap_or_else(|p| p.into_inner());
            costing.busy_since = now_ns;
        }
        // Where this push's turn is: its place, or for a caller without one the end of the line.
        let head = line.head(now_ns);
        let at = line.place_of(caller).unwrap_or(line.end);
        if self.may_admit(head, at, pending, &costs) {
            line.remove(caller);
            if pending == 0 {
                // Idle: whoever has not been back for longer than any wait it could have been
                // told did not come back for its place.
                line.forget_unseen_since(now_ns.saturating_sub(FORGOTTEN_AFTER_NS));
            }
            return Ok(self.admitted(items, now_ns, pending, &costs));
        }
        self.pending_items.fetch_sub(items, Ordering::AcqRel);
        Err(self.refuse(&mut line, caller, items, pending, &costs, now_ns))
    }

    /// Refuses a push from `caller` before its body is parsed when [`admit`](Self::admit)
    /// would refuse it whatever its size: the server is busy and the push's turn is not near.
    /// `None` when it must be parsed and admitted as usual.
    ///
    /// A caller with a place in line is told its wait again. One without a place is placed at
    /// the end of the line, its size estimated from `body_bytes` at the mean size of an item in
    /// the pushes parsed so far ([`learn_item_size`](Self::learn_item_size)); with no body
    /// given (the caller not yet authenticated) or no size learned yet, it is left to be
    /// parsed. A fleet that reconnects together is so answered without a thousand bodies
    /// parsed only to be refused. A caller whose turn is held for it ([`turn`](Self::turn)) is
    /// never refused.
    pub(crate) fn refuse_unparsed(
        &self,
        caller: &str,
        body_bytes: Option<usize>,
    ) -> Option<Refused> {
        self.refuse_placed(caller, self.epoch.elapsed(), || {
            let bytes = u64::try_from(body_bytes?).unwrap_or(u64::MAX);
            let bytes_per_item = self.bytes_per_item.load(Ordering::Acquire);
            (bytes_per_item > 0).then(|| (bytes / bytes_per_item).max(1))
        })
    }

    /// Whether `caller`'s push of `items` items would be admitted now, asked ahead of it
    /// (`POST /v1/push/turn`): `Ok` when it would be, and then its turn is held for it (its
    /// items counted as admitted, so that a dozen devices asking together are not all told
    /// to come for the same room) until its push comes or [`TURN_HELD_NS`] passes. Otherwise
    /// the wait it would be told, its place in line kept (or given at the end of the line,
    /// sized `items`). A device refused `busy` asks this before it sends the same push again,
    /// so its place in line does not cost it the push's upload every time it comes back.
    pub(crate) fn turn(&self, items: usize, caller: &str) -> Result<(), Refused> {
        self.turn_at(items, caller, self.epoch.elapsed())
    }

    /// [`turn`](Self::turn) at `now`, counted from the admission's start.
    fn turn_at(&self, items: usize, caller: &str, now: Duration) -> Result<(), Refused> {
        if let Some(refused) = self.refuse_placed(caller, now, || Some(items.max(1) as u64)) {
            return Err(refused);
        }
        let held = self.admit_at(items, caller, now)?.hold();
        let until = u64::try_from(now.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(TURN_HELD_NS);
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        line.held.insert(caller.to_owned(), (held, until));
        Ok(())
    }

    /// A push admitted at `now_ns` (nanoseconds from the start) of `items` items, with
    /// `pending` items of others admitted before it.
    fn admitted(&self, items: u64, now_ns: u64, pending: u64, costs: &Costs) -> Admitted<'_> {
        Admitted {
            admission: self,
            items,
            at: now_ns,
            estimate: if pending == 0 {
                0
            } else {
                pending
                    .saturating_add(items)
                    .saturating_mul(costs.estimate())
            },
        }
    }

    /// Lets go of the turns held past their time: their items no longer count as admitted,
    /// and each caller keeps a place at the front of the line, so that a push that took long
    /// to upload is admitted first when there is room.
    fn let_go_of_turns(&self, line: &mut Line, now_ns: u64) {
        if line.held.is_empty() {
            return;
        }
        let mut released = 0;
        let mut late = Vec::new();
        line.held.retain(|caller, &mut (items, until)| {
            let keep = until > now_ns;
            if !keep {
                released += items;
                late.push((caller.clone(), items));
            }
            keep
        });
        for (caller, items) in late {
            line.place_at_head(&caller, items, now_ns);
        }
        self.pending_items.fetch_sub(released, Ordering::AcqRel);
    }

    /// The refusal of `caller`'s push when [`admit`](Self::admit) would refuse it whatever its
    /// size, placing a caller without a place at the end of the line at the size `size` gives
    /// (`None`: not known, left to be parsed and admitted as usual).
    fn refuse_placed(
        &self,
        caller: &str,
        now: Duration,
        size: impl FnOnce() -> Option<u64>,
    ) -> Option<Refused> {
        let costs = self.costs();
        let now_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        self.let_go_of_turns(&mut line, now_ns);
        if line.held.contains_key(caller) {
            // Its turn is held for it.
            return None;
        }
        let pending = self.pending_items.load(Ordering::Acquire);
        // Where its turn is, and for a caller without a place its size.
        let (at, items) = match line.place_of(caller) {
            Some(at) => (at, 1),
            None => (line.end, size()?),
        };
        if self.may_admit(line.head(now_ns), at, pending, &costs) {
            return None;
        }
        Some(self.refuse(&mut line, caller, items, pending, &costs, now_ns))
    }

    /// Refuses `caller`'s push of `items` items at `now_ns`: its place in line (kept, or given
    /// at the end), the wait, and when it is due back.
    fn refuse(
        &self,
        line: &mut Line,
        caller: &str,
        items: u64,
        pending: u64,
        costs: &Costs,
        now_ns: u64,
    ) -> Refused {
        let place = line.place(caller, items, now_ns);
        let refused = self.refusal(line.head(now_ns), place, pending, costs);
        let back = u64::try_from(refused.retry_after.as_nanos()).unwrap_or(u64::MAX);
        if let Some(place) = line.places.get_mut(caller) {
            place.due = now_ns.saturating_add(back);
        }
        refused
    }

    /// Learns the size of an item from a parsed push of `items` items in `body_bytes` bytes,
    /// for placing the pushes refused before their bodies are parsed: a mean over the recent
    /// pushes, each weighing an eighth.
    pub(crate) fn learn_item_size(&self, body_bytes: usize, items: usize) {
        if items == 0 {
            return;
        }
        let size = (u64::try_from(body_bytes).unwrap_or(u64::MAX) / items as u64).max(1);
        // Lost updates between racing pushes only drop a sample.
        let mean = self.bytes_per_item.load(Ordering::Acquire);
        let next = if mean == 0 {
            size
        } else {
            (mean.saturating_mul(7).saturating_add(size) / 8).max(1)
        };
        self.bytes_per_item.store(next, Ordering::Release);
    }

    /// The costs per item admission works with now.
    fn costs(&self) -> Costs {
        let measured = self.nanos_per_item.load(Ordering::Acquire);
        let settled = self.settled.load(Ordering::Acquire);
        let admit = match measured {
            0 => ASSUMED_NANOS_PER_ITEM,
            measured if !settled => measured.max(ASSUMED_NANOS_PER_ITEM),
            measured => {
                let overrun = self.overrun_permille.load(Ordering::Acquire);
                measured.saturating_mul(overrun) / 1_000
            }
        }
        .max(self.admit_floor.load(Ordering::Acquire));
        let timing = match measured {
            0 => 0,
            measured if settled => measured,
            // A cost measured over the first answers can be fifty times too low; timed at it,
            // a thousand refused phones would be back within milliseconds, again and again.
            measured => measured.clamp(ASSUMED_NANOS_PER_ITEM / 4, ASSUMED_NANOS_PER_ITEM),
        };
        Costs {
            measured,
            settled,
            admit,
            timing,
        }
    }

    /// Whether a push whose place in line is `at` (for a caller without one, the end of the
    /// line) may be admitted while `pending` items are. Always when nothing is pending (a
    /// large push is never refused for its own size). Otherwise the wait behind the admitted
    /// pushes must be within `max_wait`, and either its place is within `max_wait` of work of
    /// them, or they would keep the server busy for less than a quarter of it (those whose
    /// turn it is have not come back, and the server is not left idle for them). Its own size
    /// plays no part, so a push can be refused before its body is parsed.
    fn may_admit(&self, head: u64, at: u64, pending: u64, costs: &Costs) -> bool {
        if pending == 0 {
            return true;
        }
        let drain = pending.saturating_mul(costs.admit);
        let its_turn = at.saturating_sub(head).saturating_mul(costs.timing) <= self.max_wait;
        drain <= self.max_wait && (its_turn || drain <= self.max_wait / 4)
    }

    /// The answer to a push refused with its place in line at `place`.
    ///
    /// Its turn is due when the work ahead of it (the admitted pushes and the line before it),
    /// at the timing cost ([`Costs::timing`]), is down to `max_wait / 2`: admitted then, behind
    /// that much work, it is at hand when the server finishes the push before. It is told to
    /// come back then, or half-way there when that is more than `max_wait / 2` away. A push
    /// that comes back early is told again, at the cost known by then, and is refused before its
    /// body is parsed ([`refuse_unparsed`](Self::refuse_unparsed)); one that comes back late leaves
    /// the server idle. So the returns aim early: a cost measured while the fleet reconnected
    /// (every refusal taking its share of the processor) can be twice what it is later, and a
    /// device at the back of the line would otherwise come back seconds after its turn.
    fn refusal(&self, head: u64, place: u64, pending: u64, costs: &Costs) -> Refused {
        let ahead = pending.saturating_add(place.saturating_sub(head));
        let wait = Duration::from_nanos(ahead.saturating_mul(costs.admit));
        if costs.measured == 0 {
            // No cost known yet: a wait computed now would be a guess.
            return Refused {
                wait,
                retry_after: UNMEASURED_RETRY_AFTER,
            };
        }
        let longest = if costs.settled {
            MAX_RETRY_AFTER
        } else {
            UNMEASURED_RETRY_AFTER
        };
        let buffer = self.max_wait / 2;
        let due = ahead.saturating_mul(costs.timing).saturating_sub(buffer);
        let back = if due > buffer { due / 2 } else { due };
        Refused {
            wait,
            retry_after: Duration::from_millis(back.div_ceil(1_000_000))
                .clamp(Duration::from_millis(1), longest),
        }
    }

    /// What admission holds now: the items admitted, the places in line, the cost and the
    /// overrun.
    pub(crate) fn state(&self) -> AdmissionState {
        let places = self
            .line
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .places
            .len();
        AdmissionState {
            pending_items: self.pending_items.load(Ordering::Acquire),
            places,
            item_cost_seconds: self.nanos_per_item.load(Ordering::Acquire) as f64 / 1e9,
            overrun: self.overrun_permille.load(Ordering::Acquire) as f64 / 1e3,
        }
    }

    /// Items admitted and not yet answered.
    #[cfg(test)]
    fn pending(&self) -> u64 {
        self.pending_items.load(Ordering::Acquire)
    }
}

impl Line {
    /// The head of the line: where the earliest place still waiting starts, or the end of the
    /// line when none is. The places of overdue devices (more than [`OVERDUE_NS`] past the time
    /// they were told to come back) are left out of the line as they reach its head, so a
    /// phone that went away holds no one up; it keeps its place, and when it comes back it is
    /// placed at the head.
    fn head(&mut self, now_ns: u64) -> u64 {
        while let Some((at, caller)) = self.order.first() {
            let overdue = self
                .places
                .get(caller)
                .is_none_or(|p| p.due.saturating_add(OVERDUE_NS) < now_ns);
            if !overdue {
                return *at;
            }
            self.order.pop_first();
        }
        self.end
    }

    /// Where `caller`'s place starts, if it has one.
    fn place_of(&self, caller: &str) -> Option<u64> {
        self.places.get(caller).map(|place| place.at)
    }

    /// Where `caller`'s push of `items` items starts, seen at `now_ns`: the place it was
    /// given, at the head of the line if it was overdue, or a new one at the end of the line.
    fn place(&mut self, caller: &str, items: u64, now_ns: u64) -> u64 {
        if let Some(place) = self.places.get(caller).copied() {
            if self.order.contains(&(place.at, caller.to_owned())) {
                let place = self.places.get_mut(caller).expect("just read");
                place.seen = now_ns;
                return place.at;
            }
            return self.place_at_head(caller, place.items, now_ns);
        }
        if self.places.len() >= MAX_PLACES {
            self.forget_unseen_since(now_ns.saturating_sub(FORGOTTEN_AFTER_NS));
        }
        let at = self.end;
        self.end = at.saturating_add(items);
        if self.places.len() < MAX_PLACES {
            self.insert(caller, at, items, now_ns);
        }
        at
    }

    /// Places `caller`'s push of `items` items at the head of the line, before every place
    /// waiting: a device that comes back overdue, or whose turn was held and let go.
    fn place_at_head(&mut self, caller: &str, items: u64, now_ns: u64) -> u64 {
        self.remove(caller);
        let at = self.head(now_ns).saturating_sub(items);
        self.insert(caller, at, items, now_ns);
        at
    }

    fn insert(&mut self, caller: &str, at: u64, items: u64, now_ns: u64) {
        let place = Place {
            at,
            items,
            seen: now_ns,
            due: now_ns,
        };
        self.places.insert(caller.to_owned(), place);
        self.order.insert((at, caller.to_owned()));
    }

    /// Takes `caller` out of the line: admitted, or placed again.
    fn remove(&mut self, caller: &str) {
        if let Some(place) = self.places.remove(caller) {
            self.order.remove(&(place.at, caller.to_owned()));
        }
    }

    /// Forgets the places of the callers not seen since `since` (nanoseconds from the start).
    fn forget_unseen_since(&mut self, since: u64) {
        let order = &mut self.order;
        self.places.retain(|caller, place| {
            let keep = place.seen >= since;
            if !keep {
                order.remove(&(place.at, caller.clone()));
            }
            keep
        });
    }
}

impl Admitted<'_> {
    /// Keeps the push's items counted as admitted after this is dropped, for a turn held
    /// until the push comes ([`PushAdmission::turn`]); how many.
    fn hold(self) -> u64 {
        std::mem::ManuallyDrop::new(self).items
    }

    /// Waits for a lane into storage. The pushes in storage have their signatures checked
    /// on every core while they wait for the database; with every admitted push in storage
    /// at once, each would get a sliver of the processor and all would be answered late
    /// together. One push more than the storage writes side by side keeps the next one's
    /// checks running while the current ones write.
    pub(crate) async fn lane(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.admission
            .lanes
            .acquire()
            .await
            .expect("the push lanes are never closed")
    }

    /// Records that the push was answered after `took` in storage, for the cost per item.
    ///
    /// The time since the previous answer (or since the server went busy, if later) is busy
    /// time, and the push's items were answered in it. Answers are gathered in windows of at
    /// least [`COST_WINDOW_NS`] of busy time; a window costs the shorter of its busy time and
    /// its pushes' summed `took` over the storage's parallel writes. While pushes queue, the
    /// busy time is the true cost; when they ran alone, as many as the storage writes side by
    /// side could have run together. (Costed at their whole `took`, pushes on PostgreSQL that
    /// ran alone because the turns were spaced by that cost would keep them spaced so: the
    /// server paced at the speed of one connection.) The cost is the windows' cost over their
    /// items, for the latest [`COST_WINDOWS`] windows.
    pub(crate) fn ran(&self, took: Duration) {
        self.ran_at(took, self.admission.epoch.elapsed());
    }

    /// [`ran`](Self::ran), answered at `now` (counted from the admission's start).
    fn ran_at(&self, took: Duration, now: Duration) {
        let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let admission = self.admission;
        let unmeasured = admission.nanos_per_item.load(Ordering::Acquire) == 0;
        let others_pending = admission.pending_items.load(Ordering::Acquire) > self.items;
        let mut costing = admission.costing.lock().unwrap_or_else(|p| p.into_inner());
        let busy = now.saturating_sub(costing.last_answer.max(costing.busy_since));
        costing.last_answer = now;
        if unmeasured && others_pending && !costing.primed {
            // The first answer of the first burst comes after every admitted push's checks
            // ran side by side: the time to it is theirs, not this push's. The burst is
            // costed from here.
            costing.primed = true;
            return;
        }
        let open = &mut costing.open;
        open.busy = open.busy.saturating_add(busy);
        open.items += self.items;
        open.took = open.took.saturating_add(took);
        if self.estimate > 0 {
            open.waited = open.waited.saturating_add(now.saturating_sub(self.at));
            open.estimated = open.estimated.saturating_add(self.estimate);
        }
        // Before the first cost, a push answered with none other pending is costed at once,
        // to replace the assumed cost.
        let at_once = unmeasured && !others_pending;
        if open.busy < COST_WINDOW_NS && !at_once {
            return;
        }
        let closed = std::mem::take(open);
        if costing.closed.len() == COST_WINDOWS {
            costing.closed.pop_front();
        }
        costing.closed.push_back(closed);
        let parallel = admission.parallel_writes;
        // Over the latest windows: the time their items cost, the items, the busy time, and
        // the admitted pushes' waits against their estimates.
        let (mut spent, mut items, mut busy, mut waited, mut estimated) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        for w in &costing.closed {
            spent = spent.saturating_add(w.busy.min(w.took / parallel));
            items = items.saturating_add(w.items);
            busy = busy.saturating_add(w.busy);
            waited = waited.saturating_add(w.waited);
            estimated = estimated.saturating_add(w.estimated);
        }
        let cost = (spent / items.max(1)).max(1);
        let admitted_at = admission.costs().admit;
        admission.nanos_per_item.store(cost, Ordering::Release);
        let overrun = u64::try_from(u128::from(waited) * 1_000 / u128::from(estimated.max(1)))
            .unwrap_or(u64::MAX)
            .clamp(1_000, MAX_OVERRUN_PERMILLE);
        admission.overrun_permille.store(overrun, Ordering::Release);
        admission
            .settled
            .store(busy >= SETTLED_BUSY_NS, Ordering::Release);
        admission
            .admit_floor
            .store(admitted_at / 2, Ordering::Release);
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.admission
            .pending_items
            .fetch_sub(self.items, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A time long after the admission's start: a push answered then ran alone.
    const AN_HOUR_IN: Duration = Duration::from_secs(3600);

    /// Admission with this longest wait, whose cost is settled at 1 ms an item: a push of 100
    /// answered after 100 ms in storage, alone, an hour after the start.
    fn at_a_millisecond_an_item(max_wait: Duration) -> PushAdmission {
        let admission = PushAdmission::new(max_wait);
        admission
            .admit_at(100, "warm-up", Duration::ZERO)
            .unwrap()
            .ran_at(Duration::from_millis(100), AN_HOUR_IN);
        admission
    }

    #[test]
    fn a_push_is_admitted_when_nothing_is_pending_and_an_assumed_cost_bounds_a_cold_start() {
        // Not yet measured: 1 ms an item is assumed.
        let admission = PushAdmission::new(Duration::from_millis(1500));
        let first = admission.admit(1_000, "d").unwrap(); // nothing pending
        let second = admission.admit(1_000, "d").unwrap(); // 1 s ahead of it
        let refused = admission.admit(1, "d").unwrap_err(); // 2 s ahead of it
        assert_eq!(refused.wait, Duration::from_secs(2));
        // No turn is booked at a guessed cost: the push is told to ask again in a second.
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // It has a place in line all the same.
        assert_eq!(admission.line.lock().unwrap().places.len(), 1);
        drop(second);
        // Measured at 0.5 ms an item: 1,000 pending is 0.5 s, so 2,000 more wait 1.5 s at most.
        first.ran_at(Duration::from_millis(500), AN_HOUR_IN);
        let third = admission.admit(2_000, "d").unwrap();
        assert_eq!(admission.pending(), 3_000);
        drop((first, third));
        assert_eq!(admission.pending(), 0);
        let admission = PushAdmission::new(Duration::ZERO);
        admission
            .admit(1, "d")
            .unwrap()
            .ran_at(Duration::from_millis(1), AN_HOUR_IN);
        // Cost known (1 ms an item), nothing pending: a push of any size is admitted.
        let big = admission.admit(10_000, "d").unwrap();
        drop(big);
    }

    #[test]
    fn a_push_is_refused_with_the_estimated_wait_once_the_queue_is_too_long() {
        let admission = PushAdmission::new(Duration::from_millis(1500));
        admission
            .admit(100, "d")
            .unwrap()
            .ran_at(Duration::from_millis(100), AN_HOUR_IN); // 1 ms an item
        let a = admission.admit(1000, "d").unwrap(); // nothing pending before it
        let b = admission.admit(1000, "d").unwrap(); // 1 s ahead of it: within the limit
        let refused = admission.admit(10, "d").unwrap_err(); // 2 s ahead of it
        assert_eq!(refused.wait, Duration::from_secs(2));
        // Its turn is due when 0.75 s of work is left ahead of it, in 1.25 s: it is told to
        // come back half-way there.
        assert_eq!(refused.retry_after, Duration::from_millis(625));
        // The refused push is not counted as pending.
        assert_eq!(admission.pending(), 2000);
        drop(a);
        // 1 s ahead again: admitted.
        let c = admission.admit(10, "d").unwrap();
        drop((b, c));
        assert_eq!(admission.pending(), 0);
    }

    #[test]
    fn the_retry_after_covers_the_wait_and_stays_within_bounds() {
        let admission = PushAdmission::new(Duration::from_millis(10));
        admission
            .admit(1, "d")
            .unwrap()
            .ran_at(Duration::from_millis(50), AN_HOUR_IN); // 50 ms an item
        let held = admission.admit(30, "d").unwrap(); // 1.5 s pending
        let refused = admission.admit(1, "d").unwrap_err();
        assert_eq!(refused.wait, Duration::from_millis(1500));
        assert_eq!(refused.retry_after, Duration::from_millis(748));
        drop(held);
        let held = admission.admit(10_000, "d").unwrap(); // 500 s pending
        assert_eq!(
            admission.admit(1, "d").unwrap_err().retry_after,
            MAX_RETRY_AFTER
        );
        drop(held);
    }

    #[test]
    fn pushes_that_ran_alone_are_costed_over_the_parallel_writes() {
        // A push of 100 items alone for 400 ms, the server idle the rest of a 1 s window.
        let answer = |admission: &PushAdmission| {
            let push = admission.admit_at(100, "d", Duration::ZERO).unwrap();
            push.ran_at(Duration::from_millis(400), Duration::from_secs(1));
        };
        let one_writer = PushAdmission::new(Duration::from_secs(1));
        answer(&one_writer);
        assert_eq!(one_writer.nanos_per_item.load(Ordering::Acquire), 4_000_000);
        // Sixteen connections: sixteen such pushes could have run in those 400 ms.
        let pool = PushAdmission::new(Duration::from_secs(1)).with_parallel_writes(16);
        answer(&pool);
        assert_eq!(pool.nanos_per_item.load(Ordering::Acquire), 250_000);
        // A busy window is costed by its length whatever the parallelism: 100 items answered
        // over 50 ms, their pushes having waited 16 × 400 ms together.
        let busy = PushAdmission::new(Duration::from_secs(1)).with_parallel_writes(16);
        let first = busy.admit_at(1, "d", Duration::ZERO).unwrap();
        first.ran_at(Duration::from_millis(1), Duration::from_millis(1));
        let push = busy.admit_at(100, "d", Duration::from_millis(1)).unwrap();
        push.ran_at(Duration::from_millis(6_400), Duration::from_millis(301));
        let cost = busy.nanos_per_item.load(Ordering::Acquire);
        // The first answer (1 ms alone, over 16) cost 62.5 µs; the second window 300 ms of
        // busy time (shorter than 6.4 s over 16) for 100 items; the cost is both over 101.
        assert_eq!(cost, (62_500 + 300_000_000) / 101);
    }

    #[test]
    fn refused_pushes_are_given_places_in_line_and_keep_them() {
        let admission = at_a_millisecond_an_item(Duration::from_secs(4));
        let held = admission.admit_at(4_100, "held", Duration::ZERO).unwrap(); // 4.1 s of work
        let refuse = |device, at| admission.admit_at(1_000, device, at).unwrap_err();
        let refusals: Vec<Refused> = ["d1", "d2", "d3", "d4", "d5"]
            .into_iter()
            .map(|d| refuse(d, Duration::ZERO))
            .collect();
        // Each refusal's work starts when the pushes ahead of it, admitted or in line, are
        // done: at 4.1, 5.1, 6.1, 7.1 and 8.1 s.
        let waits: Vec<u128> = refusals.iter().map(|r| r.wait.as_millis()).collect();
        assert_eq!(waits, [4_100, 5_100, 6_100, 7_100, 8_100]);
        // Each push's turn is due 2 s (max_wait / 2) before that, and it is told to come back
        // half-way there: early rather than late, so the server is never without the next push.
        let turns: Vec<u128> = refusals.iter().map(|r| r.retry_after.as_millis()).collect();
        assert_eq!(turns, [1_050, 1_550, 2_050, 2_550, 3_050]);
        // A device that comes back too early keeps its place: told the same wait, not put
        // at the end of the line.
        assert_eq!(refuse("d3", Duration::from_secs(1)), refusals[2]);
        // The cost measured since is slower (2 ms an item): the waits follow it.
        admission.nanos_per_item.store(2_000_000, Ordering::Release);
        assert_eq!(
            refuse("d3", Duration::ZERO).wait,
            Duration::from_millis(12_200)
        );
        admission.nanos_per_item.store(1_000_000, Ordering::Release);
        // A newcomer is placed after the five.
        assert_eq!(
            refuse("d6", Duration::ZERO).wait,
            Duration::from_millis(9_100)
        );
        drop(held);
        // The line moves as pushes are admitted: d1 comes back in its turn and is admitted;
        // d2 is late and admitted behind it; d3, d4 and d5, back at the same time, too, as
        // long as the wait behind the admitted pushes is within the limit (4 s).
        let admitted: Vec<Admitted> = ["d1", "d2", "d3", "d4", "d5"]
            .into_iter()
            .enumerate()
            .map(|(n, d)| {
                let at = Duration::from_secs(if n == 0 { 3 } else { 5 });
                admission.admit_at(1_000, d, at).unwrap()
            })
            .collect();
        // d6 now has 5 s of admitted work ahead of it and no one else in line: its wait
        // came down from 9.1 s with the line.
        let d6 = refuse("d6", Duration::from_secs(5));
        assert_eq!(d6.wait, Duration::from_secs(5));
        assert_eq!(d6.retry_after, Duration::from_millis(1_500));
        // A newcomer is placed after d6.
        assert_eq!(
            refuse("d7", Duration::from_secs(5)).wait,
            Duration::from_secs(6)
        );
        drop(admitted);
        // The server goes idle with d6 and d7 in line, both last seen at 5 s. A push admitted
        // on an idle server soon after keeps their places: they may be on their way.
        let places = || {
            let mut places: Vec<String> = admission
                .line
                .lock()
                .unwrap()
                .places
                .keys()
                .cloned()
                .collect();
            places.sort();
            places
        };
        drop(
            admission
                .admit_at(1, "other", Duration::from_secs(20))
                .unwrap(),
        );
        assert_eq!(places(), ["d6", "d7"]);
        // d7 comes back at 30 s while a push is admitted, and is refused; d6 does not. Over a
        // minute after it was last seen, longer than any wait it could have been told (30 s),
        // d6 did not come back for its turn: its place is forgotten once the server is next
        // idle. d7's is kept.
        let busy = admission
            .admit_at(4_100, "other", Duration::from_secs(30))
            .unwrap();
        refuse("d7", Duration::from_secs(30));
        drop(busy);
        drop(
            admission
                .admit_at(1, "other", Duration::from_secs(66))
                .unwrap(),
        );
        assert_eq!(places(), ["d7"]);
    }

    #[test]
    fn a_push_admitted_out_of_turn_moves_no_one_and_an_overdue_device_holds_no_one_up() {
        let admission = at_a_millisecond_an_item(Duration::from_secs(1));
        let at = Duration::from_millis;
        let held = admission.admit_at(1_100, "held", Duration::ZERO).unwrap();
        let waits: Vec<Refused> = ["d1", "d2", "d3"]
            .into_iter()
            .map(|d| admission.admit_at(1_000, d, Duration::ZERO).unwrap_err())
            .collect();
        let ms: Vec<u128> = waits.iter().map(|r| r.wait.as_millis()).collect();
        assert_eq!(ms, [1_100, 2_100, 3_100]);
        // d1 is told to come back at 0.3 s: its turn is due at 0.6 s, half-way there.
        assert_eq!(waits[0].retry_after, at(300));
        drop(held);
        // d3 comes back first, to an idle server, and is admitted out of turn (a larger push
        // now: 1.1 s of work). d2 is still behind d1, who has not come back yet: 2.1 s of work
        // ahead of it, d1's and d3's.
        let d3 = admission.admit_at(1_100, "d3", at(500)).unwrap();
        assert_eq!(
            admission.admit_at(1_000, "d2", at(500)).unwrap_err().wait,
            at(2_100)
        );
        // d1 is more than a second past the time it was told to come back: it holds no one
        // up, and d2 is at the head of the line, behind d3's push alone.
        assert_eq!(
            admission.admit_at(1_000, "d2", at(1_400)).unwrap_err().wait,
            at(1_100)
        );
        // d1 comes back at last: placed at the head of the line, before d2 again.
        assert_eq!(
            admission.admit_at(1_000, "d1", at(1_500)).unwrap_err().wait,
            at(1_100)
        );
        assert_eq!(
            admission.admit_at(1_000, "d2", at(1_500)).unwrap_err().wait,
            at(2_100)
        );
        drop(d3);
    }

    #[test]
    fn a_push_is_admitted_near_its_turn_and_refused_before_its_body_when_far_from_it() {
        let admission = at_a_millisecond_an_item(Duration::from_secs(1));
        // Two pushes admitted: 1.1 s of work.
        let a = admission.admit_at(800, "a", Duration::ZERO).unwrap();
        let b = admission.admit_at(300, "b", Duration::ZERO).unwrap();
        // Ten devices refused in turn: places 0 to 9 s behind the admitted pushes.
        for n in 0..10 {
            let refused = admission
                .admit_at(1_000, &format!("d{n}"), Duration::ZERO)
                .unwrap_err();
            assert_eq!(refused.wait, Duration::from_millis(1_100 + 1_000 * n));
        }
        drop(a); // 0.3 s of work left
        // d5 comes back early, with room for its push: its place is 5 s of work past the
        // admitted pushes, more than the longest wait, so it is refused, before its body is
        // parsed too, with the same answer.
        let early = admission
            .refuse_unparsed("d5", None)
            .expect("not d5's turn yet");
        let refused = admission.admit_at(1_000, "d5", Duration::ZERO).unwrap_err();
        assert_eq!(early, refused);
        // Its turn is due in 5.3 s less 0.5 s: it is told to come back half-way there.
        assert_eq!(refused.wait, Duration::from_millis(5_300));
        assert_eq!(refused.retry_after, Duration::from_millis(2_400));
        // A newcomer is not let in ahead of the line either; it is placed at its end.
        assert_eq!(
            admission
                .admit_at(10, "new", Duration::ZERO)
                .unwrap_err()
                .wait,
            Duration::from_millis(10_300)
        );
        // A caller without a place is not refused before its body is parsed while no item's
        // size is known (its place's extent would be a guess), nor before it is authenticated.
        assert_eq!(admission.refuse_unparsed("unknown", Some(10_000)), None);
        admission.learn_item_size(100_000, 100); // 1,000 bytes an item
        assert_eq!(admission.refuse_unparsed("unknown", None), None);
        // Once known, a newcomer's size is estimated from its body: 10 items, placed behind
        // "new", before its body is parsed.
        let unparsed = admission
            .refuse_unparsed("unknown", Some(10_000))
            .expect("the line is long");
        assert_eq!(unparsed.wait, Duration::from_millis(10_310));
        // It keeps that place: parsed later, it is refused with the same answer.
        assert_eq!(
            admission
                .admit_at(10, "unknown", Duration::ZERO)
                .unwrap_err(),
            unparsed
        );
        // The size is a mean over the pushes parsed, each weighing an eighth: (7 × 1,000 +
        // 9,000) / 8 = 2,000 bytes an item, so 4,000 bytes are 2 items, and the next newcomer
        // starts 2 items further back.
        admission.learn_item_size(9_000, 1);
        admission.learn_item_size(5, 0); // no items: nothing learned
        let wait = |caller| admission.refuse_unparsed(caller, Some(4_000)).unwrap().wait;
        assert_eq!(wait("x"), Duration::from_millis(10_320));
        assert_eq!(wait("y"), Duration::from_millis(10_322));
        // d0's turn has come (its place is where the admitted pushes end): it is parsed and
        // admitted.
        assert_eq!(admission.refuse_unparsed("d0", None), None);
        let d0 = admission.admit_at(1_000, "d0", Duration::ZERO).unwrap();
        // With 1.3 s ahead, d1 is near its turn but the wait is over the limit, which it is
        // told before its body is parsed too.
        assert!(admission.refuse_unparsed("d1", None).is_some());
        assert!(admission.admit_at(1_000, "d1", Duration::ZERO).is_err());
        drop((b, d0));
        // The server is about to run dry (nothing pending but 200 items, a fifth of the
        // longest wait) and d1 to d6 have not come back: d7 is let in out of turn.
        let short = admission.admit_at(200, "short", Duration::ZERO).unwrap();
        assert_eq!(admission.refuse_unparsed("d7", None), None);
        let d7 = admission.admit_at(1_000, "d7", Duration::ZERO).unwrap();
        drop((short, d7));
    }

    #[test]
    fn a_device_asking_for_its_turn_is_told_its_wait_or_has_the_turn_held_for_its_push() {
        let admission = at_a_millisecond_an_item(Duration::from_secs(1));
        let at = Duration::from_millis;
        // 1.1 s of work admitted: a device refused, then one that asks without having pushed
        // (placed behind it at the size it gives), as refused pushes are, and a third.
        let a = admission.admit_at(800, "a", Duration::ZERO).unwrap();
        let b = admission.admit_at(300, "b", Duration::ZERO).unwrap();
        let d1 = admission.admit_at(1_000, "d1", Duration::ZERO).unwrap_err();
        assert_eq!(d1.wait, at(1_100));
        let asked = admission.turn_at(200, "d2", Duration::ZERO).unwrap_err();
        assert_eq!(asked.wait, at(2_100));
        assert_eq!(admission.pending(), 1_100);
        // Asking again, or pushing, keeps the place and is told the same.
        assert_eq!(admission.turn_at(200, "d2", Duration::ZERO), Err(asked));
        assert_eq!(admission.refuse_unparsed("d2", None), Some(asked));
        assert_eq!(
            admission.admit_at(200, "d2", Duration::ZERO).unwrap_err(),
            asked
        );
        assert_eq!(
            admission.turn_at(1, "d3", Duration::ZERO).unwrap_err().wait,
            at(2_300)
        );

        // The admitted pushes are answered. d1 asks: its turn, held for it (its items count as
        // admitted); then d2, next in line, within the limit behind it. d3, asking right
        // after, is told to wait behind both: three devices asking together are not all told
        // to come for the same room.
        drop((a, b));
        assert_eq!(admission.turn_at(1_000, "d1", Duration::ZERO), Ok(()));
        assert_eq!(admission.pending(), 1_000);
        assert_eq!(admission.turn_at(200, "d2", Duration::ZERO), Ok(()));
        assert_eq!(admission.pending(), 1_200);
        assert_eq!(
            admission.turn_at(1, "d3", Duration::ZERO).unwrap_err().wait,
            at(1_200)
        );
        // d1's push comes: admitted in its held turn, at its size now; d2's is never refused
        // before its body is parsed while its turn is held, whatever its size.
        let p1 = admission.admit_at(900, "d1", at(10)).unwrap();
        assert_eq!(admission.pending(), 1_100);
        assert_eq!(admission.refuse_unparsed("d2", Some(usize::MAX)), None);
        // d2's push does not come within two seconds: its turn is let go, its items no longer
        // count, and d3 is let in. d2 keeps a place at the front: when its push comes at
        // last, it is admitted while there is room, d3's turn held or not.
        assert_eq!(admission.turn_at(1, "d3", at(2_500)), Ok(()));
        assert_eq!(admission.pending(), 901);
        let p2 = admission.admit_at(200, "d2", at(2_600)).unwrap();
        assert_eq!(admission.pending(), 1_101);
        // d3 does not come either: once its turn is let go, only the pushes count, and a
        // newcomer asking is told to wait behind them.
        assert!(admission.turn_at(1, "d4", at(5_000)).is_err());
        assert_eq!(admission.pending(), 1_100);
        drop((p1, p2));
        assert_eq!(admission.pending(), 0);
    }

    #[test]
    fn the_first_burst_after_a_start_is_costed_from_its_first_answer() {
        // Ten pushes of 100 admitted together on a fresh server; their checks run side by
        // side, so the first answer comes at 0.9 s and the others 30 ms apart.
        let admission = PushAdmission::new(Duration::from_secs(5));
        let pushes: Vec<_> = (0..10)
            .map(|_| admission.admit_at(100, "d", Duration::ZERO).unwrap())
            .collect();
        let cost = || admission.nanos_per_item.load(Ordering::Acquire);
        for (n, push) in pushes.into_iter().enumerate() {
            let at = Duration::from_millis(900 + 30 * n as u64);
            push.ran_at(at, at);
            if n < 9 {
                // The first answer restarts the window; the next ones wait for 250 ms.
                assert_eq!(cost(), 0, "answer {n}");
            }
        }
        // 900 items answered over the 270 ms after the first: 300 µs an item, not the 9 ms
        // that the first answer alone would say.
        assert_eq!(cost(), 300_000);
    }

    #[test]
    fn a_cost_measured_over_less_than_a_second_neither_admits_below_the_assumed_cost_nor_sends_away_for_long()
     {
        // A fresh server: three pushes of 100 admitted at the assumed 1 ms an item (200 ms
        // ahead of the third), answered in a burst 1 ms apart after 900 ms.
        let admission = PushAdmission::new(Duration::from_millis(200));
        let pushes: Vec<_> = (0..3)
            .map(|n| {
                admission
                    .admit_at(100, &format!("p{n}"), Duration::ZERO)
                    .unwrap()
            })
            .collect();
        assert!(admission.admit_at(100, "p3", Duration::ZERO).is_err());
        for (n, push) in pushes.into_iter().enumerate() {
            let at = Duration::from_millis(900 + n as u64);
            push.ran_at(at, at);
        }
        // Measured over 2 ms of busy time: 10 µs an item, fifty times too little.
        assert_eq!(admission.nanos_per_item.load(Ordering::Acquire), 10_000);
        assert!(!admission.settled.load(Ordering::Acquire));
        // Not settled: pushes are admitted at the assumed cost (200 ms is three pushes of 100
        // here), not the 200 that 10 µs an item would let in.
        let at = Duration::from_secs(1);
        let admitted: Vec<_> = (0..3)
            .map(|n| admission.admit_at(100, &format!("q{n}"), at).unwrap())
            .collect();
        // p3, refused at the start and told to come back at 1 s, is still ahead in line.
        let refused = admission.admit_at(100, "q3", at).unwrap_err();
        assert_eq!(refused.wait, Duration::from_millis(400));
        // A long line is asked again within a second, not sent away at an unsettled cost.
        let far = (4..50)
            .map(|n| admission.admit_at(100, &format!("q{n}"), at).unwrap_err())
            .last()
            .unwrap();
        assert_eq!(far.wait, Duration::from_millis(5_000));
        // Its return is timed at no less than a quarter of the assumed cost (250 µs an item,
        // not the 10 µs measured): 5,000 items at 250 µs less 100 ms, half-way.
        assert_eq!(far.retry_after, Duration::from_millis(575));
        // The furthest back are asked again within a second, not sent away at an unsettled
        // cost.
        let furthest = (50..100)
            .map(|n| admission.admit_at(100, &format!("q{n}"), at).unwrap_err())
            .last()
            .unwrap();
        assert_eq!(furthest.retry_after, UNMEASURED_RETRY_AFTER);
        // A second of busy time later the cost is settled, and used as measured.
        for (n, push) in admitted.into_iter().enumerate() {
            let at = Duration::from_millis(1_400 + 300 * n as u64);
            push.ran_at(Duration::from_millis(300), at);
        }
        assert!(admission.settled.load(Ordering::Acquire));
        let cost = admission.nanos_per_item.load(Ordering::Acquire);
        // The burst's 2 ms, then three windows of 300 ms in storage (the first one's 400 ms of
        // busy time counts its push's 300 ms), for 500 items.
        assert_eq!(cost, (2_000_000 + 3 * 300_000_000) / 500);
        let at = Duration::from_secs(2);
        let held = admission.admit_at(1_000, "big", at).unwrap();
        let far = admission.admit_at(100, "q49", at).unwrap_err();
        assert!(far.retry_after > UNMEASURED_RETRY_AFTER, "{far:?}");
        drop(held);
    }

    #[test]
    fn pushes_run_side_by_side_are_costed_by_the_busy_time_they_are_answered_in() {
        let admission = PushAdmission::new(Duration::from_secs(60));
        let at = Duration::from_secs;
        let cost = || admission.nanos_per_item.load(Ordering::Acquire);
        // The first answer sets the cost at once: 100 items in 1 s.
        admission
            .admit_at(100, "d", at(9))
            .unwrap()
            .ran_at(at(1), at(10));
        assert_eq!(cost(), 10_000_000);
        // Four pushes of 100 admitted together at 10 s, each needing 0.5 s of the database,
        // answered at 10.5, 11, 11.5 and 12 s after 0.5, 1, 1.5 and 2 s in storage.
        let pushes: Vec<_> = (0..4)
            .map(|_| admission.admit_at(100, "d", at(10)).unwrap())
            .collect();
        for (n, push) in pushes.iter().enumerate() {
            let took = Duration::from_millis(500 * (n as u64 + 1));
            push.ran_at(took, at(10) + took);
        }
        // Each answer closes a window of 0.5 s of busy time (at least 250 ms) for 100 items:
        // 5 ms an item, not the 5 to 20 ms their own times say. With the first window: 3 s
        // for 500 items.
        assert_eq!(cost(), 6_000_000);
        drop(pushes);
        // After a pause, three pushes admitted at 20 s and answered in a burst, 1 ms apart.
        let burst: Vec<_> = (0..3)
            .map(|_| admission.admit_at(100, "d", at(20)).unwrap())
            .collect();
        for (n, push) in burst.iter().enumerate() {
            push.ran_at(at(1), at(21) + Duration::from_millis(n as u64));
        }
        // The pause is not costed (busy from 20 s); the first answer closes a 1 s window,
        // the other two wait in the next one: 4 s for 600 items.
        assert_eq!(cost(), 4_000_000_000 / 600);
        drop(burst);
        // Another pause with those two answers still in the open window: it is not costed
        // either. A push admitted at 30 s and answered at 30.3 s closes the window with
        // 302 ms of busy time for its 300 items.
        admission
            .admit_at(100, "d", at(30))
            .unwrap()
            .ran_at(Duration::from_millis(300), Duration::from_millis(30_300));
        assert_eq!(cost(), 4_302_000_000 / 900);
    }

    #[test]
    fn admitted_pushes_answered_later_than_estimated_make_admission_stricter_not_the_returns_later()
    {
        let admission = at_a_millisecond_an_item(Duration::from_secs(1));
        let t0 = AN_HOUR_IN + Duration::from_secs(1);
        // a is admitted alone; b behind it, estimated to be answered in 900 ms.
        let a = admission.admit_at(500, "a", t0).unwrap();
        let b = admission.admit_at(400, "b", t0).unwrap();
        a.ran_at(Duration::from_millis(500), t0 + Duration::from_secs(1));
        drop(a);
        // b is answered after 1.8 s, twice its estimate (pushes side by side slowing each
        // other, as on a database sharing the server's cores); the cost per item stays 1 ms.
        b.ran_at(
            Duration::from_millis(400),
            t0 + Duration::from_millis(1_800),
        );
        drop(b);
        assert_eq!(admission.nanos_per_item.load(Ordering::Acquire), 1_000_000);
        assert_eq!(admission.overrun_permille.load(Ordering::Acquire), 2_000);
        // The wait behind the admitted pushes is now estimated at 2 ms an item: a second's
        // worth is 500 items pending, not 1,000.
        let at = t0 + Duration::from_secs(2);
        let admitted: Vec<_> = [("c", 300), ("d", 100), ("e", 100), ("f", 100)]
            .into_iter()
            .map(|(caller, items)| admission.admit_at(items, caller, at).unwrap())
            .collect();
        let refused = admission.admit_at(100, "g", at).unwrap_err();
        assert_eq!(refused.wait, Duration::from_millis(1_200));
        // Its return is still timed at the measured cost, 1 ms an item (600 ms of work ahead,
        // due when 500 ms are left): the returns keep the pace the server answers at.
        assert_eq!(refused.retry_after, Duration::from_millis(100));
        drop(admitted);
    }

    #[test]
    fn admission_opens_up_at_most_twofold_a_window_when_the_cost_settles_low() {
        let admission = PushAdmission::new(Duration::from_millis(100));
        // A push of 100,000 items answered alone after a second: 10 µs an item, settled,
        // a hundredth of the 1 ms assumed until then.
        let second = Duration::from_secs(1);
        admission
            .admit_at(100_000, "warm-up", Duration::ZERO)
            .unwrap()
            .ran_at(second, second);
        assert_eq!(admission.nanos_per_item.load(Ordering::Acquire), 10_000);
        assert!(admission.settled.load(Ordering::Acquire));
        // How many pushes of 100 are let in together at `at`, and the wait the next is told.
        let let_in = |at: Duration| {
            let mut admitted = Vec::new();
            let refused = loop {
                match admission.admit_at(100, &format!("p{}", admitted.len()), at) {
                    Ok(push) => admitted.push(push),
                    Err(refused) => break refused,
                }
            };
            (admitted.len(), refused.wait)
        };
        // Not the 100 ms / 10 µs = 10,000 items, a hundred pushes: half the assumed cost,
        // 500 µs an item, lets in three (200 items ahead of the third, 100 ms).
        assert_eq!(let_in(second), (3, Duration::from_millis(150)));
        // Each window costed halves it again: 250 µs, five pushes; then 125 µs, nine.
        admission
            .admit_at(100_000, "warm-up", 2 * second)
            .unwrap()
            .ran_at(second, 3 * second);
        assert_eq!(let_in(3 * second), (5, Duration::from_millis(125)));
        admission
            .admit_at(100_000, "warm-up", 4 * second)
            .unwrap()
            .ran_at(second, 5 * second);
        assert_eq!(let_in(5 * second).0, 9);
        // Down to the measured cost after a few more: a hundred pushes.
        for n in 3..8 {
            admission
                .admit_at(100_000, "warm-up", 2 * n * second)
                .unwrap()
                .ran_at(second, (2 * n + 1) * second);
        }
        assert_eq!(let_in(20 * second).0, 101);
    }

    #[test]
    fn the_cost_is_the_mean_of_the_latest_windows() {
        let admission = PushAdmission::new(Duration::ZERO);
        let answer = |took_ms: u64, hours_in: u32| {
            admission
                .admit(1, "d")
                .unwrap()
                .ran_at(Duration::from_millis(took_ms), AN_HOUR_IN * hours_in);
        };
        let cost = || admission.nanos_per_item.load(Ordering::Acquire);
        answer(8, 1);
        assert_eq!(cost(), 8_000_000);
        answer(0, 2);
        assert_eq!(cost(), 4_000_000);
        answer(13, 3);
        assert_eq!(cost(), 7_000_000);
        // The oldest windows drop out once there are more than COST_WINDOWS.
        for n in 0..COST_WINDOWS as u32 {
            answer(1, 4 + n);
        }
        assert_eq!(cost(), 1_000_000);
    }

    #[tokio::test]
    async fn one_push_more_than_the_parallel_writes_is_let_into_storage() {
        let admission = PushAdmission::new(Duration::from_secs(60));
        let pushes: Vec<_> = (0..3).map(|_| admission.admit(10, "d").unwrap()).collect();
        let first = pushes[0].lane().await;
        let _second = pushes[1].lane().await;
        let wait = Duration::from_millis(50);
        // The third waits for a lane, and gets one as soon as a push leaves storage.
        assert!(tokio::time::timeout(wait, pushes[2].lane()).await.is_err());
        drop(first);
        assert!(tokio::time::timeout(wait, pushes[2].lane()).await.is_ok());
        let pool = PushAdmission::new(Duration::from_secs(60)).with_parallel_writes(16);
        assert_eq!(pool.lanes.available_permits(), 17);
    }
}
