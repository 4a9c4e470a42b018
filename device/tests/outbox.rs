//! The outbox contract on real SQLite files: commit before acknowledgement, order within a
//! stream, independence of streams, backoff and Retry-After, parking of permanent rejections,
//! recovery of in-flight items, and refusal (never eviction) when full.

use std::sync::Arc;

use daka_device::outbox::{
    Backoff, ItemError, ItemState, NewItem, Outbox, OutboxConfig, OutboxError, Outcome,
};
use daka_device::store::Store;
use proptest::prelude::*;

fn item(id: &str, stream: &str) -> NewItem {
    NewItem {
        id: id.into(),
        stream: stream.into(),
        kind: "punch".into(),
        payload: format!("{{\"id\":\"{id}\"}}"),
    }
}

fn open(path: &std::path::Path, config: OutboxConfig) -> Outbox {
    Outbox::open(Arc::new(Store::open(path).unwrap()), config).unwrap()
}

fn ids(items: &[daka_device::outbox::OutboxItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

#[test]
fn an_acknowledged_item_is_on_disk_for_the_next_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let outbox = open(&path, OutboxConfig::default());
    outbox.enqueue(&item("a", "s1"), 1_000).unwrap();
    // A second, independent connection (as a restarted app would open) sees it at once.
    let other = open(&path, OutboxConfig::default());
    let pending = other.items(ItemState::Pending).unwrap();
    assert_eq!(ids(&pending), ["a"]);
    assert_eq!(pending[0].payload, "{\"id\":\"a\"}");
}

#[test]
fn streams_keep_order_and_do_not_block_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(&dir.path().join("d.db"), OutboxConfig::default());
    for (id, stream) in [
        ("a1", "a"),
        ("b1", "b"),
        ("a2", "a"),
        ("b2", "b"),
        ("a3", "a"),
    ] {
        outbox.enqueue(&item(id, stream), 0).unwrap();
    }
    let batch = outbox.take_batch(0, 10).unwrap();
    assert_eq!(ids(&batch), ["a1", "b1", "a2", "b2", "a3"]);
    assert!(
        batch
            .iter()
            .all(|i| i.state == ItemState::InFlight && i.attempts == 1)
    );
    // Nothing more to take while they are in flight.
    assert!(outbox.take_batch(0, 10).unwrap().is_empty());

    // Stream a's head must be retried later: all of stream a waits; stream b goes on.
    outbox
        .complete(
            &[
                (
                    "a1".into(),
                    Outcome::Retry {
                        retry_after_ms: Some(5_000),
                        error: None,
                    },
                ),
                (
                    "a2".into(),
                    Outcome::Retry {
                        retry_after_ms: Some(5_000),
                        error: None,
                    },
                ),
                (
                    "a3".into(),
                    Outcome::Retry {
                        retry_after_ms: Some(5_000),
                        error: None,
                    },
                ),
                ("b1".into(), Outcome::Delivered),
                (
                    "b2".into(),
                    Outcome::Rejected(ItemError {
                        code: "bad_signature".into(),
                        message: "forged".into(),
                    }),
                ),
            ],
            10_000,
        )
        .unwrap();
    outbox.enqueue(&item("b3", "b"), 10_000).unwrap();
    assert_eq!(ids(&outbox.take_batch(14_999, 10).unwrap()), ["b3"]);
    assert_eq!(
        ids(&outbox.take_batch(15_000, 10).unwrap()),
        ["a1", "a2", "a3"]
    );

    let parked = outbox.items(ItemState::NeedsAttention).unwrap();
    assert_eq!(ids(&parked), ["b2"]);
    assert_eq!(parked[0].error.as_ref().unwrap().code, "bad_signature");
    let stats = outbox.stats(20_000).unwrap();
    assert_eq!(
        (
            stats.pending,
            stats.in_flight,
            stats.needs_attention,
            stats.delivered
        ),
        (0, 4, 1, 1)
    );
    assert_eq!(stats.oldest_undelivered_age_ms, Some(20_000));

    assert!(outbox.requeue("b2").unwrap());
    assert!(
        !outbox.requeue("b2").unwrap(),
        "only a parked item can be requeued"
    );
}

#[test]
fn a_byte_budget_cuts_the_batch_and_leaves_the_rest_pending() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(&dir.path().join("d.db"), OutboxConfig::default());
    let sized = |id: &str, stream: &str, bytes: usize| NewItem {
        id: id.into(),
        stream: stream.into(),
        kind: "punch".into(),
        payload: "x".repeat(bytes),
    };
    for (id, stream, bytes) in [
        ("a1", "a", 1_000),
        ("b1", "b", 1_000),
        ("a2", "a", 1_000),
        ("b2", "b", 10),
    ] {
        outbox.enqueue(&sized(id, stream, bytes), 0).unwrap();
    }
    let wire = |id: &str, bytes: usize| bytes + id.len() + 1 + "punch".len() + 64;
    let two = wire("a1", 1_000) + wire("b1", 1_000);

    // Exactly two items fit: the third would pass the budget, so it and everything after it
    // (even the small b2, which would fit on its own) stay behind, keeping each stream's order.
    let batch = outbox.take_batch_within(0, 10, two).unwrap();
    assert_eq!(ids(&batch), ["a1", "b1"]);
    assert_eq!(
        batch.iter().map(|i| i.wire_bytes()).sum::<usize>(),
        two,
        "wire_bytes counts payload, id, stream, kind and 64 bytes of framing"
    );
    let pending = outbox.items(ItemState::Pending).unwrap();
    assert_eq!(
        ids(&pending),
        ["a2", "b2"],
        "cut items are not marked in flight"
    );
    assert_eq!(
        ids(&outbox.items(ItemState::InFlight).unwrap()),
        ["a1", "b1"]
    );

    // One byte less and only one fits.
    outbox
        .complete(
            &[
                ("a1".into(), Outcome::Delivered),
                ("b1".into(), Outcome::Delivered),
            ],
            0,
        )
        .unwrap();
    let batch = outbox
        .take_batch_within(0, 10, wire("a2", 1_000) - 1)
        .unwrap();
    assert_eq!(ids(&batch), ["a2"], "the first item goes whatever its size");
    outbox
        .complete(&[("a2".into(), Outcome::Delivered)], 0)
        .unwrap();

    // A zero budget still sends one item at a time; the count limit still applies.
    assert_eq!(ids(&outbox.take_batch_within(0, 10, 0).unwrap()), ["b2"]);
    assert!(outbox.take_batch_within(0, 10, 0).unwrap().is_empty());
}

#[test]
fn backoff_grows_with_attempts_within_full_jitter_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig {
        backoff: Backoff {
            base_ms: 1_000,
            cap_ms: 8_000,
        },
        ..Default::default()
    };
    let outbox = open(&dir.path().join("d.db"), config);
    outbox.enqueue(&item("a", "s"), 0).unwrap();
    let mut now = 0;
    for attempt in 1..=6u32 {
        let batch = outbox.take_batch(now, 1).unwrap();
        assert_eq!(batch.len(), 1, "attempt {attempt}");
        assert_eq!(batch[0].attempts, attempt);
        outbox
            .complete(
                &[(
                    "a".into(),
                    Outcome::Retry {
                        retry_after_ms: None,
                        error: None,
                    },
                )],
                now,
            )
            .unwrap();
        let next = outbox.items(ItemState::Pending).unwrap()[0].next_attempt_ms;
        let ceiling = config.backoff.ceiling_ms(attempt) as i64;
        assert!(
            next >= now && next <= now + ceiling,
            "attempt {attempt}: {next} vs {now}+{ceiling}"
        );
        now = next;
    }
}

#[test]
fn in_flight_items_return_to_pending_when_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    {
        let outbox = open(&path, OutboxConfig::default());
        outbox.enqueue(&item("a", "s"), 0).unwrap();
        outbox.enqueue(&item("b", "s"), 0).unwrap();
        assert_eq!(outbox.take_batch(0, 1).unwrap().len(), 1);
    } // the process dies with "a" in flight
    let outbox = open(&path, OutboxConfig::default());
    assert_eq!(ids(&outbox.take_batch(0, 10).unwrap()), ["a", "b"]);
}

#[test]
fn a_full_queue_refuses_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig {
        max_items: 3,
        ..Default::default()
    };
    let outbox = open(&dir.path().join("d.db"), config);
    for id in ["a", "b", "c"] {
        outbox.enqueue(&item(id, "s"), 0).unwrap();
    }
    match outbox.enqueue(&item("d", "s"), 0) {
        Err(OutboxError::Full {
            queued: 3,
            limit: 3,
        }) => {}
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(
        ids(&outbox.items(ItemState::Pending).unwrap()),
        ["a", "b", "c"]
    );
    // Delivery makes room.
    outbox.take_batch(0, 1).unwrap();
    outbox
        .complete(&[("a".into(), Outcome::Delivered)], 1)
        .unwrap();
    outbox.enqueue(&item("d", "s"), 2).unwrap();
}

#[test]
fn bad_items_are_refused_with_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig {
        max_payload_bytes: 100,
        ..Default::default()
    };
    let outbox = open(&dir.path().join("d.db"), config);
    outbox.enqueue(&item("a", "s"), 0).unwrap();
    assert!(
        matches!(outbox.enqueue(&item("a", "s"), 0), Err(OutboxError::DuplicateId { id }) if id == "a")
    );
    let cases = [
        (
            NewItem {
                id: String::new(),
                ..item("x", "s")
            },
            "id",
        ),
        (
            NewItem {
                stream: "s\n".into(),
                ..item("x", "s")
            },
            "stream",
        ),
        (
            NewItem {
                kind: "k".repeat(129),
                ..item("x", "s")
            },
            "kind",
        ),
        (
            NewItem {
                payload: "p".repeat(101),
                ..item("x", "s")
            },
            "payload",
        ),
    ];
    for (bad, expected) in cases {
        match outbox.enqueue(&bad, 0) {
            Err(OutboxError::InvalidItem { field, .. }) => assert_eq!(field, expected),
            other => panic!("{expected}: expected InvalidItem, got {other:?}"),
        }
    }
    assert_eq!(outbox.stats(0).unwrap().pending, 1, "nothing half-stored");
}

#[test]
fn delivered_items_can_be_pruned_but_undelivered_never_are() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(&dir.path().join("d.db"), OutboxConfig::default());
    outbox.enqueue(&item("a", "s"), 0).unwrap();
    outbox.enqueue(&item("b", "t"), 0).unwrap();
    outbox.take_batch(0, 1).unwrap();
    outbox
        .complete(&[("a".into(), Outcome::Delivered)], 100)
        .unwrap();
    assert_eq!(outbox.prune_delivered(101).unwrap(), 1);
    assert_eq!(outbox.prune_delivered(i64::MAX).unwrap(), 0);
    let pending = outbox.items(ItemState::Pending).unwrap();
    assert_eq!(ids(&pending), ["b"]);
    assert_eq!(pending[0].payload, r#"{"id":"b"}"#);
    // A pruned item's payload goes with it; the waiting one's stays.
    let conn = rusqlite::Connection::open(dir.path().join("d.db")).unwrap();
    let payloads: Vec<String> = conn
        .prepare("SELECT payload FROM outbox_payload ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(payloads, [r#"{"id":"b"}"#]);
}

#[derive(Debug, Clone)]
enum Op {
    Enqueue(u8),
    Take(u8),
    /// Answer the oldest outstanding batch; the seed picks each item's outcome.
    Respond(u64),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..4).prop_map(Op::Enqueue),
        2 => (1u8..6).prop_map(Op::Take),
        3 => any::<u64>().prop_map(Op::Respond),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Under any interleaving of enqueue, batches, per-item outcomes and restarts: nothing is
    /// lost, nothing is delivered twice, and within a stream items are delivered in enqueue
    /// order. Outcomes follow the server's contract: after an item it cannot apply, every later
    /// item of the same stream in the batch is answered "retry".
    #[test]
    fn nothing_lost_nothing_doubled_order_kept(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let config = OutboxConfig { backoff: Backoff { base_ms: 10, cap_ms: 50 }, ..Default::default() };
        let mut outbox = open(&path, config);
        let mut next_id = 0u32;
        let mut enqueued: Vec<(String, String)> = Vec::new();
        let mut batches: Vec<Vec<daka_device::outbox::OutboxItem>> = Vec::new();
        let mut delivered: Vec<String> = Vec::new();
        let mut rejected: Vec<String> = Vec::new();
        let mut now = 0i64;
        for op in ops {
            now += 7;
            match op {
                Op::Enqueue(s) => {
                    let id = format!("i{next_id:05}");
                    next_id += 1;
                    let stream = format!("s{s}");
                    outbox.enqueue(&item(&id, &stream), now).unwrap();
                    enqueued.push((id, stream));
                }
                Op::Take(n) => {
                    let batch = outbox.take_batch(now, n as usize).unwrap();
                    for i in &batch {
                        prop_assert!(batches.iter().flatten().all(|b| b.id != i.id), "taken twice: {}", i.id);
                    }
                    if !batch.is_empty() { batches.push(batch); }
                }
                Op::Respond(seed) => {
                    if batches.is_empty() { continue; }
                    let batch = batches.remove(0);
                    let mut blocked: Vec<&str> = Vec::new();
                    let mut outcomes = Vec::new();
                    for (k, i) in batch.iter().enumerate() {
                        let pick = (seed >> (2 * (k % 32))) & 3;
                        let outcome = if blocked.contains(&i.stream.as_str()) || pick == 0 {
                            blocked.push(&i.stream);
                            Outcome::Retry { retry_after_ms: None, error: None }
                        } else if pick == 1 {
                            rejected.push(i.id.clone());
                            Outcome::Rejected(ItemError { code: "x".into(), message: "y".into() })
                        } else {
                            delivered.push(i.id.clone());
                            Outcome::Delivered
                        };
                        outcomes.push((i.id.clone(), outcome));
                    }
                    outbox.complete(&outcomes, now).unwrap();
                }
                Op::Reopen => {
                    drop(outbox);
                    outbox = open(&path, config);
                    batches.clear();
                }
            }
        }
        // Drain everything that is left.
        drop(outbox);
        let outbox = open(&path, config);
        for _ in 0..10_000 {
            now += 100;
            let batch = outbox.take_batch(now, 3).unwrap();
            if batch.is_empty() && outbox.stats(now).unwrap().pending == 0 { break; }
            let outcomes: Vec<_> = batch.iter().map(|i| (i.id.clone(), Outcome::Delivered)).collect();
            delivered.extend(batch.into_iter().map(|i| i.id));
            outbox.complete(&outcomes, now).unwrap();
        }
        let mut all: Vec<&String> = delivered.iter().chain(rejected.iter()).collect();
        all.sort();
        let before = all.len();
        all.dedup();
        prop_assert_eq!(before, all.len(), "an item was delivered or parked twice");
        prop_assert_eq!(all.len(), enqueued.len(), "an item was lost");
        for s in 0..4 {
            let stream = format!("s{s}");
            let expected: Vec<&String> = enqueued.iter().filter(|(id, st)| *st == stream && !rejected.contains(id)).map(|(id, _)| id).collect();
            let got: Vec<&String> = delivered.iter().filter(|id| enqueued.iter().any(|(i, st)| i == *id && *st == stream)).collect();
            prop_assert_eq!(got, expected, "stream {}", stream);
        }
    }
}

#[test]
fn the_undelivered_counter_tracks_every_transition() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(&dir.path().join("d.db"), OutboxConfig::default());
    let count = || -> i64 {
        let conn = rusqlite::Connection::open(dir.path().join("d.db")).unwrap();
        let counted: i64 = conn
            .query_row("SELECT undelivered FROM outbox_count", [], |r| r.get(0))
            .unwrap();
        let actual: i64 = conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE state != 'delivered'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(counted, actual);
        counted
    };
    for id in ["a", "b", "c", "d"] {
        outbox.enqueue(&item(id, "s"), 0).unwrap();
    }
    assert_eq!(count(), 4);
    outbox.take_batch(0, 4).unwrap();
    outbox
        .complete(
            &[
                ("a".into(), Outcome::Delivered),
                (
                    "b".into(),
                    Outcome::Rejected(ItemError {
                        code: "x".into(),
                        message: "y".into(),
                    }),
                ),
                (
                    "c".into(),
                    Outcome::Retry {
                        retry_after_ms: None,
                        error: None,
                    },
                ),
            ],
            1,
        )
        .unwrap();
    assert_eq!(count(), 3);
    outbox.prune_delivered(i64::MAX).unwrap();
    assert_eq!(count(), 3);
    outbox.requeue("b").unwrap();
    assert_eq!(count(), 3);
}

/// One answer can carry every outcome, an id twice (a server answering a repeated item) and ids
/// the outbox never had: each item ends in the state its answers give, a delivery winning over
/// any other answer for the same id, in whichever order they come; unknown ids change nothing.
#[test]
fn an_answer_mixing_outcomes_repeats_and_strangers_is_recorded_item_by_item() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(&dir.path().join("m.db"), OutboxConfig::default());
    for id in ["a", "b", "c", "d", "e", "f"] {
        outbox.enqueue(&item(id, id), 0).unwrap();
    }
    assert_eq!(outbox.take_batch(0, 10).unwrap().len(), 6);
    let rejected = |code: &str| {
        Outcome::Rejected(ItemError {
            code: code.into(),
            message: format!("refused: {code}"),
        })
    };
    let retry = || Outcome::Retry {
        retry_after_ms: Some(60_000),
        error: Some(ItemError {
            code: "server_busy".into(),
            message: "later".into(),
        }),
    };
    outbox
        .complete(
            &[
                ("a".into(), Outcome::Delivered),
                ("b".into(), retry()),
                ("b".into(), Outcome::Delivered),
                ("c".into(), Outcome::Delivered),
                ("c".into(), rejected("late")),
                ("d".into(), rejected("bad_signature")),
                ("e".into(), retry()),
                ("nobody".into(), Outcome::Delivered),
                ("".into(), rejected("unknown")),
            ],
            1_000,
        )
        .unwrap();
    let in_state = |state| {
        let items = outbox.items(state).unwrap();
        items.iter().map(|i| i.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(in_state(ItemState::Delivered), ["a", "b", "c"]);
    assert_eq!(in_state(ItemState::NeedsAttention), ["d"]);
    assert_eq!(in_state(ItemState::Pending), ["e"]);
    assert_eq!(in_state(ItemState::InFlight), ["f"], "f was not answered");
    let parked = &outbox.items(ItemState::NeedsAttention).unwrap()[0];
    assert_eq!(parked.error.as_ref().unwrap().code, "bad_signature");
    let waiting = &outbox.items(ItemState::Pending).unwrap()[0];
    assert_eq!(waiting.next_attempt_ms, 61_000, "Retry-After wins");
    assert!(
        outbox.items(ItemState::Delivered).unwrap()[0]
            .error
            .is_none()
    );
    let stats = outbox.stats(1_000).unwrap();
    assert_eq!(
        (
            stats.delivered,
            stats.needs_attention,
            stats.pending,
            stats.in_flight
        ),
        (3, 1, 1, 1)
    );
}

/// `take_batch` must find stream heads and in-flight items through indexes: with full scans
/// it was quadratic in the queue length (two seconds per batch at 10,000 queued punches).
/// The status UI's oldest-undelivered query must not read delivered items either, which
/// pile up until pruned.
#[test]
fn take_batch_and_stats_use_indexes_not_scans() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(&dir.path().join("d.db"), OutboxConfig::default());
    outbox.enqueue(&item("a", "s"), 0).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("d.db")).unwrap();
    let plan = |sql: &str| -> Vec<String> {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for sql in [
        "SELECT o.seq, p.payload FROM outbox o JOIN outbox_payload p USING (seq)
         WHERE o.state = 'pending'
           AND (SELECT h.next_attempt_ms FROM outbox h
                WHERE h.stream = o.stream AND h.state = 'pending'
                ORDER BY h.seq LIMIT 1) <= 0
           AND NOT EXISTS (SELECT 1 FROM outbox f
                           WHERE f.stream = o.stream AND f.state = 'in_flight')
         ORDER BY o.seq LIMIT 200",
        "SELECT min(created_ms) FROM outbox
         WHERE state IN ('pending', 'in_flight', 'needs_attention')",
    ] {
        let steps = plan(sql);
        // A bare `SEARCH outbox` (no index named) reads the whole table too.
        assert!(
            steps.iter().all(|step| !step.starts_with("SCAN")
                && (!step.starts_with("SEARCH") || step.contains(" USING "))),
            "{sql}: {steps:#?}"
        );
    }
}

#[test]
fn send_now_expedites_network_failures_but_not_a_servers_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(&dir.path().join("o.db"), OutboxConfig::default());
    outbox.enqueue(&item("net", "a"), 0).unwrap();
    outbox.enqueue(&item("busy", "b"), 0).unwrap();
    let batch = outbox.take_batch(1_000, 10).unwrap();
    assert_eq!(ids(&batch), ["net", "busy"]);
    let failed = |code: &str, retry_after_ms| Outcome::Retry {
        retry_after_ms,
        error: Some(ItemError {
            code: code.into(),
            message: "x".into(),
        }),
    };
    outbox
        .complete(
            &[
                ("net".into(), failed("network", None)),
                ("busy".into(), failed("server_busy", Some(600_000))),
            ],
            1_000,
        )
        .unwrap();
    let next = |id: &str| {
        outbox
            .items(ItemState::Pending)
            .unwrap()
            .into_iter()
            .find(|i| i.id == id)
            .unwrap()
            .next_attempt_ms
    };
    // The server asked for ten minutes; the network failure got a jittered backoff (which
    // may be zero: full jitter).
    assert_eq!(next("busy"), 601_000);
    let waiting_until = next("net");
    assert!(waiting_until >= 1_000);
    let moved = outbox.expedite(&["network", "timeout"], 1_000).unwrap();
    assert_eq!(moved, u64::from(waiting_until > 1_000));
    assert_eq!(next("net"), 1_000);
    assert_eq!(
        next("busy"),
        601_000,
        "the server's Retry-After still holds"
    );
    let batch = outbox.take_batch(1_000, 10).unwrap();
    assert_eq!(ids(&batch), ["net"]);
    // Nothing left to move: a second press is a no-op.
    assert_eq!(outbox.expedite(&["network", "timeout"], 1_000).unwrap(), 0);
}

#[test]
fn batches_larger_than_one_statement_chunk_are_marked_and_completed_whole() {
    // Batches are marked and answered with a statement that takes 64 values at a time; sizes
    // around and across that boundary, and a last chunk that is short, must all be whole.
    for size in [1, 63, 64, 65, 128, 200] {
        let dir = tempfile::tempdir().unwrap();
        let outbox = open(&dir.path().join("d.db"), OutboxConfig::default());
        for i in 0..=size {
            outbox
                .enqueue(&item(&format!("i{i:03}"), &format!("s{}", i % 3)), 0)
                .unwrap();
        }
        // One more item than the batch, so the statement must not touch rows outside it.
        let batch = outbox.take_batch(0, size).unwrap();
        assert_eq!(batch.len(), size);
        let in_flight = outbox.items(ItemState::InFlight).unwrap();
        assert_eq!(ids(&in_flight), ids(&batch), "size {size}");
        let left = outbox.items(ItemState::Pending).unwrap();
        assert_eq!(ids(&left), [format!("i{size:03}").as_str()], "size {size}");

        let outcomes: Vec<(String, Outcome)> = batch
            .iter()
            .map(|i| (i.id.clone(), Outcome::Delivered))
            .collect();
        outbox.complete(&outcomes, 10).unwrap();
        let delivered = outbox.items(ItemState::Delivered).unwrap();
        assert_eq!(ids(&delivered), ids(&batch), "size {size}");
        assert!(outbox.items(ItemState::InFlight).unwrap().is_empty());
        assert_eq!(
            ids(&outbox.items(ItemState::Pending).unwrap()),
            [format!("i{size:03}").as_str()]
        );
    }
}
