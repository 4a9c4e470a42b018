//! The store's schema as code: one version number, the SQL of each step, and one upgrade path.
//!
//! `PRAGMA user_version` holds the version of a file. Opening runs every step above it, each in
//! its own transaction, so a file from any earlier release upgrades step by step and a crash
//! mid-upgrade leaves the file at the last completed version. A file from a newer release is
//! refused rather than guessed at. Steps are never edited once released; changes are new steps.

use rusqlite::Connection;

use super::StoreError;

/// The version this build writes.
pub const SCHEMA_VERSION: i64 = 7;

/// `STEPS[i]` upgrades a file from version `i` to `i + 1`.
pub(crate) const STEPS: &[&str] = &[
    // 0 → 1: the outbox, the device identity, the chain head and the cached policy.
    r#"
    CREATE TABLE outbox (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,   -- global enqueue order
        id              TEXT NOT NULL UNIQUE,                -- client-generated item id (UUIDv7)
        stream          TEXT NOT NULL,                       -- ordering scope, e.g. a device's punch chain
        kind            TEXT NOT NULL,                       -- 'punch', 'submission', ...
        payload         TEXT NOT NULL,                       -- the item as sent (canonical JSON)
        state           TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'in_flight', 'delivered', 'needs_attention')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,          -- unix ms; 0 = now
        created_ms      INTEGER NOT NULL,
        delivered_ms    INTEGER,
        error_code      TEXT,
        error_message   TEXT
    );
    CREATE INDEX outbox_by_stream ON outbox (stream, seq) WHERE state != 'delivered';
    CREATE TABLE device (
        singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
        device_id       TEXT,
        org_id          TEXT,
        employee_id     TEXT,
        key_seed        BLOB,                                -- NULL when the platform holds the key
        public_key      BLOB NOT NULL,
        bearer_token    TEXT,
        server_url      TEXT,
        org_public_key  TEXT                                 -- signs policy bundles
    );
    CREATE TABLE chain_head (
        device_id       TEXT PRIMARY KEY,
        last_record     TEXT NOT NULL                        -- the newest punch record, canonical JSON
    );
    CREATE TABLE policy_cache (
        singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
        version         INTEGER NOT NULL,
        document        TEXT NOT NULL,
        signature       TEXT NOT NULL,
        fetched_ms      INTEGER NOT NULL
    );
    "#,
    // 1 → 2: single-use face nonces, the trusted-time anchor and the pull cursor.
    r#"
    CREATE TABLE face_nonce (
        nonce           TEXT PRIMARY KEY,
        issued_ms       INTEGER NOT NULL,
        consumed_ms     INTEGER
    );
    CREATE TABLE time_anchor (
        singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
        server_time     TEXT NOT NULL,
        monotonic_ms    INTEGER NOT NULL,
        boot_id         TEXT NOT NULL
    );
    CREATE TABLE sync_cursor (
        singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
        cursor          TEXT NOT NULL
    );
    "#,
    // 2 → 3: an O(1) count of undelivered outbox items, kept by triggers, so the storage
    // limit check at enqueue does not scan the queue.
    r#"
    CREATE TABLE outbox_count (
        singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
        undelivered     INTEGER NOT NULL
    );
    INSERT INTO outbox_count (singleton, undelivered)
        SELECT 1, count(*) FROM outbox WHERE state != 'delivered';
    CREATE TRIGGER outbox_count_insert AFTER INSERT ON outbox WHEN NEW.state != 'delivered'
    BEGIN UPDATE outbox_count SET undelivered = undelivered + 1; END;
    CREATE TRIGGER outbox_count_delete AFTER DELETE ON outbox WHEN OLD.state != 'delivered'
    BEGIN UPDATE outbox_count SET undelivered = undelivered - 1; END;
    CREATE TRIGGER outbox_count_deliver AFTER UPDATE OF state ON outbox
        WHEN OLD.state != 'delivered' AND NEW.state = 'delivered'
    BEGIN UPDATE outbox_count SET undelivered = undelivered - 1; END;
    CREATE TRIGGER outbox_count_undeliver AFTER UPDATE OF state ON outbox
        WHEN OLD.state = 'delivered' AND NEW.state != 'delivered'
    BEGIN UPDATE outbox_count SET undelivered = undelivered + 1; END;
    "#,
    // 3 → 4: indexes that let `take_batch` find a stream's head and its in-flight items
    // without scanning the queue (it was quadratic in the queue length).
    r#"
    CREATE INDEX outbox_by_stream_state ON outbox (stream, state, seq);
    CREATE INDEX outbox_by_state ON outbox (state, seq);
    "#,
    // 4 → 5: files attached to approval requests (receipt photos, signatures), kept by their
    // SHA-256 until the server has them.
    r#"
    CREATE TABLE attachment (
        sha256          TEXT PRIMARY KEY,                    -- lower-case hex of the content
        media_type      TEXT NOT NULL,
        content         BLOB NOT NULL,
        added_ms        INTEGER NOT NULL,
        uploaded_ms     INTEGER                              -- NULL until the server has it
    );
    "#,
    // 5 → 6: an item's payload in a table of its own, so that the state changes of a sync
    // round (in flight, delivered, back to pending) rewrite small rows instead of copying
    // every payload into the write-ahead log twice. Deleting an item deletes its payload.
    // `outbox_by_stream` goes: step 4's indexes answer every query it served, and each index
    // over the queue is written at every enqueue and delivery.
    r#"
    CREATE TABLE outbox_payload (
        seq             INTEGER PRIMARY KEY,                 -- the item's outbox.seq
        payload         TEXT NOT NULL                        -- the item as sent (canonical JSON)
    );
    INSERT INTO outbox_payload (seq, payload) SELECT seq, payload FROM outbox;
    ALTER TABLE outbox DROP COLUMN payload;
    CREATE TRIGGER outbox_payload_delete AFTER DELETE ON outbox
    BEGIN DELETE FROM outbox_payload WHERE seq = OLD.seq; END;
    DROP INDEX outbox_by_stream;
    "#,
    // 6 → 7: the server's confirmed attendance results for this device's employee, one per
    // date, the latest replacing the earlier (for "my day" and "my month" offline).
    r#"
    CREATE TABLE day_result (
        employee        TEXT NOT NULL,
        date            TEXT NOT NULL,                       -- YYYY-MM-DD, the day's date
        result          TEXT NOT NULL,                       -- the DayResult as JSON
        policy_version  INTEGER NOT NULL,
        received_ms     INTEGER NOT NULL,
        PRIMARY KEY (employee, date)
    ) WITHOUT ROWID;
    "#,
];

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for version in found..SCHEMA_VERSION {
        upgrade_from(conn, version)?;
    }
    Ok(())
}

/// Runs the one step from `version` to `version + 1` in a transaction.
pub(crate) fn upgrade_from(conn: &mut Connection, version: i64) -> Result<(), StoreError> {
    let step = STEPS[usize::try_from(version).expect("versions are small and non-negative")];
    let tx = conn.transaction()?;
    tx.execute_batch(step)?;
    tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    const _: () = assert!(STEPS.len() as i64 == SCHEMA_VERSION);

    /// A file left at every earlier version, with data in it, opens at the current version
    /// with its data intact.
    #[test]
    fn upgrades_from_every_earlier_version() {
        for start in 0..SCHEMA_VERSION {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("device.db");
            {
                let mut conn = Connection::open(&path).unwrap();
                for v in 0..start {
                    upgrade_from(&mut conn, v).unwrap();
                }
                if (1..6).contains(&start) {
                    conn.execute(
                        "INSERT INTO outbox (id, stream, kind, payload, created_ms) VALUES ('a', 's', 'punch', '{}', 1)",
                        [],
                    )
                    .unwrap();
                } else if start >= 6 {
                    // From 6 the payload has a table of its own.
                    conn.execute_batch(
                        "INSERT INTO outbox (id, stream, kind, created_ms) VALUES ('a', 's', 'punch', 1);
                         INSERT INTO outbox_payload (seq, payload) SELECT seq, '{}' FROM outbox;",
                    )
                    .unwrap();
                }
            }
            let store = Store::open(&path).unwrap();
            assert_eq!(
                store.schema_version().unwrap(),
                SCHEMA_VERSION,
                "from {start}"
            );
            let conn = store.conn();
            let items: i64 = conn
                .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
                .unwrap();
            assert_eq!(items, i64::from(start >= 1), "from {start}");
            // The item keeps its payload across the move to its own table (5 → 6).
            let payloads: Vec<String> = conn
                .prepare("SELECT p.payload FROM outbox o JOIN outbox_payload p USING (seq)")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let expected: Vec<String> = if start >= 1 {
                vec!["{}".into()]
            } else {
                vec![]
            };
            assert_eq!(payloads, expected, "from {start}");
            let counted: i64 = conn
                .query_row("SELECT undelivered FROM outbox_count", [], |r| r.get(0))
                .unwrap();
            assert_eq!(
                counted, items,
                "the counter starts from the existing queue (from {start})"
            );
            // Every table of the current schema exists.
            for table in [
                "outbox",
                "device",
                "chain_head",
                "policy_cache",
                "face_nonce",
                "time_anchor",
                "sync_cursor",
                "outbox_count",
                "attachment",
                "outbox_payload",
                "day_result",
            ] {
                let n: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                        [table],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(n, 1, "table {table} after upgrade from {start}");
            }
        }
    }

    #[test]
    fn reopening_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }
}
