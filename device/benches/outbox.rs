//! Durable enqueue against its floor: a raw rusqlite INSERT in its own transaction on a file
//! with the same pragmas (WAL, synchronous=FULL). Both pay an fsync per item, which dominates;
//! the ratio shows what the outbox adds (validation, the storage-limit check, its indexes).
//!
//! fsync latency on a shared or virtual disk drifts by multiples within seconds, so measuring
//! the two one after the other compares two different disks. Each measured operation is
//! therefore paired with one untimed operation of the other kind, in alternation, so both
//! series see the same disk at the same moments.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use daka_device::outbox::{NewItem, Outbox, OutboxConfig};
use daka_device::store::Store;
use rusqlite::{Connection, params};

struct Pair {
    raw: Connection,
    outbox: Outbox,
    payload: String,
    n: u64,
    _dir: tempfile::TempDir,
}

impl Pair {
    fn new() -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let raw = Connection::open(dir.path().join("raw.db")).unwrap();
        let _: String = raw
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        raw.execute_batch(
            "PRAGMA synchronous = FULL;
             CREATE TABLE items (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
               stream TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL, created_ms INTEGER NOT NULL);",
        )
        .unwrap();
        let outbox = Outbox::open(
            Arc::new(Store::open(dir.path().join("outbox.db")).unwrap()),
            OutboxConfig::default(),
        )
        .unwrap();
        // About the size of a punch record with a face token.
        let payload = format!("{{\"record\":\"{}\"}}", "x".repeat(1_600));
        Pair {
            raw,
            outbox,
            payload,
            n: 0,
            _dir: dir,
        }
    }

    fn raw_insert(&mut self) -> Duration {
        self.n += 1;
        let start = Instant::now();
        let tx = self.raw.unchecked_transaction().unwrap();
        tx.execute(
            "INSERT INTO items (id, stream, kind, payload, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                format!("raw-{}", self.n),
                "punch:dev",
                "punch",
                self.payload,
                1
            ],
        )
        .unwrap();
        tx.commit().unwrap();
        start.elapsed()
    }

    fn enqueue(&mut self) -> Duration {
        self.n += 1;
        let item = NewItem {
            id: format!("item-{}", self.n),
            stream: "punch:dev".into(),
            kind: "punch".into(),
            payload: self.payload.clone(),
        };
        let start = Instant::now();
        self.outbox.enqueue(&item, 1).unwrap();
        start.elapsed()
    }
}

fn enqueue(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue");
    group.sample_size(100);
    let mut pair = Pair::new();
    group.bench_function("raw INSERT, own transaction (baseline)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += pair.raw_insert();
                pair.enqueue();
            }
            total
        })
    });
    group.bench_function("Outbox::enqueue", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                pair.raw_insert();
                total += pair.enqueue();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, enqueue);
criterion_main!(benches);
