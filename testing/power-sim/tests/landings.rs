//! The VFS under real SQLite connections: what a process death keeps and a power cut loses.
//! A commit that was never flushed (`synchronous=OFF`) is gone after a cut that loses the page
//! cache and kept after a process death; a process death at any call of a commit leaves a
//! database that passes `integrity_check` and holds the row whenever the insert returned; and
//! a database created through the VFS and switched to WAL mode keeps its flushed commits after
//! a cut: the rollback journal of the switch, deleted without a directory sync, stays deleted
//! once the new WAL's first sync has synced the directory.

use daka_power_sim::{Landing, PowerSim};
use rusqlite::Connection;

fn database(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("t.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER PRIMARY KEY);")
        .unwrap();
    path
}

fn rows(path: &std::path::Path, n: i64) -> i64 {
    let conn = Connection::open(path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    conn.query_row("SELECT count(*) FROM t WHERE n = ?1", [n], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_process_death_keeps_an_unflushed_commit_that_a_power_cut_loses() {
    let sim = PowerSim::register("power-sim-unflushed", 11);
    sim.verify_restores(true);
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir);
    for (n, landing, kept) in [(1, Landing::Lost, 0), (2, Landing::ProcessDeath, 1)] {
        sim.boot();
        sim.set_landing(Some(landing));
        let conn = sim.connect(&path).unwrap();
        conn.execute_batch("PRAGMA synchronous = OFF").unwrap();
        conn.execute("INSERT INTO t VALUES (?1)", [n]).unwrap();
        sim.cut_now();
        drop(conn);
        let report = sim.restore();
        assert_eq!(report.landing, landing);
        assert!(report.writes_unflushed > 0, "the commit was not flushed");
        assert_eq!(
            rows(&path, n),
            kept,
            "an unflushed commit after {landing:?}"
        );
    }
    let totals = sim.totals();
    assert_eq!(totals.by_landing, [1, 0, 0, 1]);
}

#[test]
fn a_process_death_at_any_call_of_a_commit_leaves_a_sound_database() {
    let sim = PowerSim::register("power-sim-death", 12);
    sim.verify_restores(true);
    sim.set_landing(Some(Landing::ProcessDeath));
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir);
    // How many writes and syncs one commit makes at FULL.
    sim.boot();
    let conn = sim.connect(&path).unwrap();
    conn.execute_batch("PRAGMA synchronous = FULL").unwrap();
    conn.execute("INSERT INTO t VALUES (0)", []).unwrap();
    let calls = sim.ops();
    drop(conn);
    assert!(calls >= 2, "a commit writes and syncs: {calls} calls");
    let (mut returned, mut kept_unreturned) = (0, 0);
    for nth in 1..=calls {
        let n = nth as i64;
        sim.boot();
        sim.arm(nth);
        let conn = sim.connect(&path).unwrap();
        conn.execute_batch("PRAGMA synchronous = FULL").unwrap();
        let result = conn.execute("INSERT INTO t VALUES (?1)", [n]);
        if !sim.is_cut() {
            sim.cut_now();
        }
        drop(conn);
        sim.restore();
        let found = rows(&path, n);
        if result.is_ok() {
            returned += 1;
            assert_eq!(
                found, 1,
                "a returned insert lost at a process death at call {nth}"
            );
        } else {
            kept_unreturned += found;
        }
    }
    // The death at the commit's last call (its flush) leaves the commit whole in the page
    // cache: kept, though the insert did not return.
    assert!(
        kept_unreturned >= 1,
        "{returned} returned, {kept_unreturned} kept unreturned"
    );
}

#[test]
fn a_new_database_switched_to_wal_keeps_its_flushed_commits_after_a_cut() {
    let sim = PowerSim::register("power-sim-new-wal", 13);
    sim.verify_restores(true);
    sim.set_landing(Some(Landing::Lost));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let conn = sim.connect(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(
        "PRAGMA synchronous = FULL; CREATE TABLE t (n INTEGER PRIMARY KEY); \
         INSERT INTO t VALUES (7);",
    )
    .unwrap();
    sim.cut_now();
    drop(conn);
    let report = sim.restore();
    assert_eq!(report.deletions_undone, 0, "{report:?}");
    assert!(
        !dir.path().join("new.db-journal").exists(),
        "the switch's rollback journal came back"
    );
    assert_eq!(rows(&path, 7), 1);
}
