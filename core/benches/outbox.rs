//! Durable enqueue against its floor: a raw rusqlite INSERT in its own transaction on a file
//! with the same pragmas (WAL, synchronous=FULL). Both pay one fsync per item, which dominates;
//! the ratio shows what the outbox's checks (limits, duplicate ids, validation) add on top.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use daka_core::outbox::{NewItem, Outbox, OutboxConfig};
use daka_core::store::Store;
use rusqlite::{Connection, params};

fn payload() -> String {
    // About the size of a punch record with a face token.
    format!("{{\"record\":\"{}\"}}", "x".repeat(1_600))
}

fn enqueue(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue");
    group.sample_size(200);
    let body = payload();

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
    let mut n = 0u64;
    group.bench_function("raw INSERT, own transaction (baseline)", |b| {
        b.iter(|| {
            n += 1;
            let tx = raw.unchecked_transaction().unwrap();
            tx.execute(
                "INSERT INTO items (id, stream, kind, payload, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![format!("raw-{n}"), "punch:dev", "punch", body, 1],
            )
            .unwrap();
            tx.commit().unwrap();
        })
    });

    let outbox = Outbox::open(
        Arc::new(Store::open(dir.path().join("outbox.db")).unwrap()),
        OutboxConfig::default(),
    )
    .unwrap();
    let mut m = 0u64;
    group.bench_function("Outbox::enqueue", |b| {
        b.iter_batched(
            || {
                m += 1;
                NewItem {
                    id: format!("item-{m}"),
                    stream: "punch:dev".into(),
                    kind: "punch".into(),
                    payload: body.clone(),
                }
            },
            |item| outbox.enqueue(&item, 1).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, enqueue);
criterion_main!(benches);
