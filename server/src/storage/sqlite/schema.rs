//! The server database's schema as code: one version number, the SQL of each step, and one
//! upgrade path.
//!
//! `PRAGMA user_version` holds the version of a file. Opening runs every step above it, each in
//! its own transaction, so a file from any earlier release upgrades step by step and a crash
//! mid-upgrade leaves the file at the last completed version. A file from a newer release is
//! refused rather than guessed at. Released steps are never edited; changes are new steps.
//!
//! Times are stored as Unix milliseconds (INTEGER), hashes as lower-case hex (TEXT), keys as
//! BLOBs. Every table that holds organisation data carries `org_id`, and every query filters on
//! it: that, not the HTTP layer alone, is what keeps organisations apart.

use rusqlite::Connection;

use super::sql::map_err;
use crate::storage::StorageError;

/// The version this build writes.
pub const SCHEMA_VERSION: i64 = 16;

/// `STEPS[i]` upgrades a file from version `i` to `i + 1`.
pub(crate) const STEPS: &[&str] = &[
    // 0 → 1: organisations, policies, enrolment, devices, tokens, the item ledger, punches,
    // face nonces and change feeds.
    r#"
    CREATE TABLE org (
        id                TEXT PRIMARY KEY,
        name              TEXT NOT NULL,
        admin_token_hash  TEXT NOT NULL UNIQUE,          -- hex SHA-256 of the admin token
        signing_seed      BLOB NOT NULL,                 -- Ed25519 seed of the policy key
        public_key        TEXT NOT NULL,                 -- base64url
        created_ms        INTEGER NOT NULL
    );
    CREATE TABLE policy (
        org_id            TEXT NOT NULL REFERENCES org (id),
        version           INTEGER NOT NULL,
        document          TEXT NOT NULL,                 -- exactly as signed
        signature         TEXT NOT NULL,                 -- base64url Ed25519 over document
        published_ms      INTEGER NOT NULL,
        PRIMARY KEY (org_id, version)
    );
    CREATE TABLE enrollment_code (
        code_hash         TEXT PRIMARY KEY,              -- hex SHA-256 of the code
        org_id            TEXT NOT NULL REFERENCES org (id),
        employee_id       TEXT NOT NULL,
        created_ms        INTEGER NOT NULL,
        used_ms           INTEGER,
        device_id         TEXT
    );
    CREATE TABLE device (
        id                TEXT PRIMARY KEY,
        org_id            TEXT NOT NULL REFERENCES org (id),
        employee_id       TEXT NOT NULL,
        public_key        BLOB NOT NULL UNIQUE,
        name              TEXT NOT NULL,
        platform          TEXT NOT NULL,
        enrolled_ms       INTEGER NOT NULL,
        change_floor      INTEGER NOT NULL,              -- organisation-wide changes before this are not shown
        head_seq          INTEGER,                       -- chain head: last stored record
        head_hash         TEXT,
        head_punch_id     TEXT
    );
    CREATE INDEX device_by_org ON device (org_id, enrolled_ms);
    CREATE TABLE token (
        token_hash        TEXT PRIMARY KEY,              -- hex SHA-256 of the bearer token
        device_id         TEXT NOT NULL REFERENCES device (id),
        issued_ms         INTEGER NOT NULL,
        expires_ms        INTEGER NOT NULL
    );
    CREATE INDEX token_by_device ON token (device_id);
    CREATE TABLE item (
        org_id            TEXT NOT NULL REFERENCES org (id),
        item_id           TEXT NOT NULL,
        device_id         TEXT NOT NULL REFERENCES device (id),
        kind              TEXT NOT NULL,
        body_hash         TEXT NOT NULL,                 -- hex SHA-256 of the canonical body
        status            TEXT NOT NULL,
        code              TEXT,
        message           TEXT,
        received_ms       INTEGER NOT NULL,
        PRIMARY KEY (org_id, item_id)
    );
    CREATE TABLE punch (
        row               INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id            TEXT NOT NULL REFERENCES org (id),
        punch_id          TEXT NOT NULL,
        device_id         TEXT NOT NULL REFERENCES device (id),
        seq               INTEGER NOT NULL,
        hash              TEXT NOT NULL,
        employee_id       TEXT NOT NULL,
        kind              TEXT NOT NULL,
        record            TEXT NOT NULL,                 -- canonical JSON as received
        status            TEXT NOT NULL CHECK (status IN ('accepted', 'field_punch', 'refused')),
        code              TEXT,
        server_verdict    TEXT NOT NULL,
        policy_version    INTEGER NOT NULL,
        judged_ms         INTEGER NOT NULL,
        received_ms       INTEGER NOT NULL,
        UNIQUE (org_id, punch_id),
        UNIQUE (device_id, seq)
    );
    CREATE INDEX punch_by_org ON punch (org_id, row);
    CREATE TABLE face_nonce (
        org_id            TEXT NOT NULL REFERENCES org (id),
        nonce             TEXT NOT NULL,
        punch_id          TEXT NOT NULL,
        used_ms           INTEGER NOT NULL,
        UNIQUE (org_id, nonce)
    );
    CREATE TABLE change (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id            TEXT NOT NULL REFERENCES org (id),
        device_id         TEXT,                          -- NULL: for every device of the organisation
        body              TEXT NOT NULL,                 -- JSON of a protocol Change
        created_ms        INTEGER NOT NULL
    );
    CREATE INDEX change_by_device ON change (org_id, device_id, seq);
    "#,
    // 1 → 2: a one-row table whose update forced a synchronous commit, making every earlier
    // commit of a push durable at once (the first form of group commit).
    r#"
    CREATE TABLE sync_mark (
        singleton         INTEGER PRIMARY KEY CHECK (singleton = 1),
        n                 INTEGER NOT NULL
    );
    INSERT INTO sync_mark (singleton, n) VALUES (1, 0);
    "#,
    // 2 → 3: a push is now one transaction with a savepoint per item, committed once; the
    // mark is no longer used.
    r#"
    DROP TABLE sync_mark;
    "#,
    // 3 → 4: approvals. Requests with their state (the core's `RequestState` as JSON), who
    // each is waiting for (the inbox), the audit trail of every change with the signed item
    // that caused it, the leave ledger and approved attendance corrections.
    r#"
    CREATE TABLE request (
        org_id            TEXT NOT NULL REFERENCES org (id),
        request_id        TEXT NOT NULL,
        template_id       TEXT NOT NULL,
        request_type      TEXT NOT NULL,
        policy_version    INTEGER NOT NULL,
        applicant         TEXT NOT NULL,
        form              TEXT NOT NULL,                 -- canonical JSON of the form
        state             TEXT NOT NULL,                 -- JSON of the request state
        status            TEXT NOT NULL,
        month             TEXT,                          -- YYYY-MM of a missed-punch correction
        created_ms        INTEGER NOT NULL,
        updated_ms        INTEGER NOT NULL,
        PRIMARY KEY (org_id, request_id)
    );
    CREATE INDEX request_by_applicant ON request (org_id, applicant, created_ms);
    CREATE TABLE request_waiting (
        org_id            TEXT NOT NULL REFERENCES org (id),
        employee_id       TEXT NOT NULL,
        request_id        TEXT NOT NULL,
        PRIMARY KEY (org_id, employee_id, request_id)
    );
    CREATE TABLE request_audit (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id            TEXT NOT NULL REFERENCES org (id),
        request_id        TEXT NOT NULL,
        actor             TEXT NOT NULL,
        device_id         TEXT NOT NULL,
        item_id           TEXT NOT NULL,
        action            TEXT NOT NULL,
        detail            TEXT NOT NULL,                 -- JSON: effect, comment, status after
        signed            TEXT NOT NULL,                 -- the signed item, canonical JSON
        made_ms           INTEGER NOT NULL,              -- the device's time of the action
        received_ms       INTEGER NOT NULL
    );
    CREATE INDEX audit_by_request ON request_audit (org_id, request_id, seq);
    CREATE TABLE leave_movement (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id            TEXT NOT NULL REFERENCES org (id),
        employee_id       TEXT NOT NULL,
        leave_type        TEXT NOT NULL,
        year              INTEGER NOT NULL,
        kind              TEXT NOT NULL CHECK (kind IN ('hold', 'release', 'take')),
        halves            INTEGER NOT NULL,
        request_id        TEXT NOT NULL,
        at_ms             INTEGER NOT NULL
    );
    CREATE INDEX leave_by_employee ON leave_movement (org_id, employee_id, seq);
    CREATE TABLE attendance_correction (
        org_id            TEXT NOT NULL REFERENCES org (id),
        request_id        TEXT NOT NULL,
        employee_id       TEXT NOT NULL,
        day               TEXT NOT NULL,                 -- YYYY-MM-DD, the policy's time zone
        punch_kind        TEXT NOT NULL,
        time              TEXT NOT NULL,                 -- HH:MM local
        approved_ms       INTEGER NOT NULL,
        PRIMARY KEY (org_id, request_id)
    );
    "#,
    // 4 → 5: attachments. The files approval forms refer to (receipts, signatures), kept per
    // organisation by their SHA-256; a form's file must be here before its request is taken.
    r#"
    CREATE TABLE attachment (
        org_id            TEXT NOT NULL REFERENCES org (id),
        sha256            TEXT NOT NULL,                 -- lower-case hex of the content
        media_type        TEXT NOT NULL,                 -- as sent with the first upload
        size              INTEGER NOT NULL,              -- bytes
        content           BLOB NOT NULL,
        uploaded_by       TEXT NOT NULL,                 -- device id of the first upload
        uploaded_ms       INTEGER NOT NULL,
        PRIMARY KEY (org_id, sha256)
    );
    "#,
    // 5 → 6: the outcome of a field-punch review (外勤), one per punch: an approved review
    // counts the field punch as attendance.
    r#"
    CREATE TABLE punch_review (
        org_id            TEXT NOT NULL REFERENCES org (id),
        punch_id          TEXT NOT NULL,
        request_id        TEXT NOT NULL,
        outcome           TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected')),
        decided_ms        INTEGER NOT NULL,
        PRIMARY KEY (org_id, punch_id)
    );
    "#,
    // 6 → 7: the punch a field-punch review is about, as a column beside the form, so that
    // finding a punch's other reviews reads an index instead of every review's form (and needs
    // no JSON functions in SQL). Existing reviews are filled in from their forms by
    // `backfill_review_punches` in the same transaction.
    r#"
    ALTER TABLE request ADD COLUMN punch_id TEXT;
    CREATE INDEX request_by_punch ON request (org_id, punch_id) WHERE punch_id IS NOT NULL;
    "#,
    // 7 → 8: attendance, with the server as the authority. The confirmed day result of each
    // (employee, date) with the policy version it was computed under; the queue of inputs
    // whose days must be recomputed (written in the same transaction as the input: a punch, a
    // decided request, a published policy, an unlocked month), so that a crash between the
    // input and its recompute loses nothing; months locked for payroll with their audit
    // trail; and the late changes a locked month did not take. Punches are read by employee
    // and time.
    r#"
    CREATE INDEX punch_by_employee ON punch (org_id, employee_id, judged_ms);
    CREATE TABLE attendance_day (
        org_id            TEXT NOT NULL REFERENCES org (id),
        employee_id       TEXT NOT NULL,
        day               TEXT NOT NULL,                 -- YYYY-MM-DD, the policy's time zone
        result            TEXT NOT NULL,                 -- JSON of the engine's DayResult
        policy_version    INTEGER NOT NULL,
        computed_ms       INTEGER NOT NULL,
        PRIMARY KEY (org_id, employee_id, day)
    );
    CREATE TABLE attendance_dirty (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id            TEXT NOT NULL REFERENCES org (id),
        employee_id       TEXT,                          -- NULL: everyone with attendance
        cause             TEXT NOT NULL,                 -- punch:<id>, request:<id>, policy:<v>, ...
        at_ms             INTEGER,                       -- an instant whose day (and neighbours) to redo
        from_day          TEXT,                          -- or a range of days
        to_day            TEXT,
        created_ms        INTEGER NOT NULL
    );
    CREATE TABLE attendance_lock (
        org_id            TEXT NOT NULL REFERENCES org (id),
        month             TEXT NOT NULL,                 -- YYYY-MM
        locked_ms         INTEGER NOT NULL,
        PRIMARY KEY (org_id, month)
    );
    CREATE TABLE attendance_lock_event (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id            TEXT NOT NULL REFERENCES org (id),
        month             TEXT NOT NULL,
        action            TEXT NOT NULL CHECK (action IN ('lock', 'unlock')),
        at_ms             INTEGER NOT NULL
    );
    CREATE TABLE attendance_late_change (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id            TEXT NOT NULL REFERENCES org (id),
        employee_id       TEXT NOT NULL,
        day               TEXT NOT NULL,
        cause             TEXT NOT NULL,
        before            TEXT NOT NULL,                 -- the stored DayResult, kept
        after             TEXT NOT NULL,                 -- the DayResult the inputs now give
        policy_version    INTEGER NOT NULL,
        recorded_ms       INTEGER NOT NULL
    );
    CREATE INDEX late_change_by_day ON attendance_late_change (org_id, day, employee_id);
    "#,
    // 8 → 9: the web console: its accounts (email unique per organisation, compared in lower
    // case; Argon2id password hashes as PHC strings), their sessions (by the SHA-256 of the
    // session id) and the audit of console actions.
    r#"
    CREATE TABLE console_account (
        id                TEXT PRIMARY KEY,              -- UUIDv7
        org_id            TEXT NOT NULL REFERENCES org (id),
        email             TEXT NOT NULL,                 -- lower case
        name              TEXT NOT NULL,
        role              TEXT NOT NULL CHECK (role IN ('hr_admin', 'manager', 'finance', 'auditor')),
        employee_id       TEXT,                          -- a manager's employee
        language          TEXT NOT NULL CHECK (language IN ('en', 'zh-Hant')),
        password_hash     TEXT NOT NULL,                 -- PHC string, $argon2id$...
        created_ms        INTEGER NOT NULL,
        disabled_ms       INTEGER,
        UNIQUE (org_id, email)
    );
    CREATE INDEX console_account_by_email ON console_account (email);
    CREATE TABLE console_session (
        id_hash           TEXT PRIMARY KEY,              -- hex SHA-256 of the session id
        account_id        TEXT NOT NULL REFERENCES console_account (id),
        org_id            TEXT NOT NULL REFERENCES org (id),
        created_ms        INTEGER NOT NULL,
        seen_ms           INTEGER NOT NULL,              -- last request, for the idle timeout
        expires_ms        INTEGER NOT NULL               -- absolute end
    );
    CREATE INDEX console_session_by_account ON console_session (account_id);
    CREATE TABLE console_audit (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id            TEXT REFERENCES org (id),      -- NULL when no account matched
        account_id        TEXT,                          -- NULL when no account matched
        email             TEXT NOT NULL,                 -- as entered, lower case
        action            TEXT NOT NULL,                 -- login_ok, login_failed, logout, ...
        client            TEXT NOT NULL,                 -- the client's address
        detail            TEXT NOT NULL,
        at_ms             INTEGER NOT NULL
    );
    CREATE INDEX console_audit_by_org ON console_audit (org_id, seq);
    "#,
    // 9 → 10: decisions made on the web console, which the server signs with the
    // organisation's decision key: each audit entry says who signed it (`device` or `server`)
    // and, for the server, the console account that made the decision.
    r#"
    ALTER TABLE request_audit ADD COLUMN signed_by TEXT NOT NULL DEFAULT 'device'
        CHECK (signed_by IN ('device', 'server'));
    ALTER TABLE request_audit ADD COLUMN console_account_id TEXT;
    ALTER TABLE request_audit ADD COLUMN console_email TEXT;
    "#,
    // 10 → 11: device revocation. A revoked device keeps its row, chain head and records (they
    // stay valid); every request it makes afterwards is refused `device_revoked`.
    r#"
    ALTER TABLE device ADD COLUMN revoked_ms INTEGER;
    ALTER TABLE device ADD COLUMN revoked_by TEXT;       -- console account id, or 'admin_token'
    ALTER TABLE device ADD COLUMN revoke_reason TEXT;
    "#,
    // 11 → 12: the console's policy drafts: one per organisation, the next version being
    // edited, with the version it was started from and a revision counter so that two
    // editors cannot silently overwrite each other.
    r#"
    CREATE TABLE policy_draft (
        org_id            TEXT PRIMARY KEY REFERENCES org (id),
        base_version      INTEGER NOT NULL,              -- the version in force when started
        rev               INTEGER NOT NULL,              -- 1, 2, ... per saved edit
        document          TEXT NOT NULL,                 -- the draft policy, pretty JSON
        updated_ms        INTEGER NOT NULL,
        updated_by        TEXT NOT NULL                  -- console account email
    );
    "#,
    // 12 → 13: scoped API tokens, the admin token's rotation, and the console audit read by
    // account and by action.
    r#"
    CREATE TABLE api_token (
        id                TEXT PRIMARY KEY,              -- UUIDv7
        org_id            TEXT NOT NULL REFERENCES org (id),
        name              TEXT NOT NULL,
        token_hash        TEXT NOT NULL UNIQUE,          -- hex SHA-256 of the token
        scopes            TEXT NOT NULL,                 -- space-separated, e.g. "policy:read"
        created_by        TEXT NOT NULL,                 -- the console account's email
        created_ms        INTEGER NOT NULL,
        expires_ms        INTEGER,                       -- NULL: never
        last_used_ms      INTEGER,
        revoked_ms        INTEGER
    );
    CREATE INDEX api_token_by_org ON api_token (org_id, created_ms);
    ALTER TABLE org ADD COLUMN admin_token_rotated_ms INTEGER;  -- the seed's token no longer applies
    CREATE INDEX console_audit_by_account ON console_audit (org_id, account_id, seq);
    CREATE INDEX console_audit_by_action ON console_audit (org_id, action, seq);
    "#,
    // 13 → 14: a token refresh is single-use: the `issued_at` of the last one accepted, which
    // the next must be later than.
    r#"
    ALTER TABLE device ADD COLUMN refreshed_issued_ms INTEGER;
    "#,
    // 14 → 15: nothing in a SQLite file. (On PostgreSQL, punch rows are kept whole in their
    // table up to a page: see `../postgres/schema.rs`.)
    "",
    // 15 → 16: the platform attestation a device enrolled with, as verified (JSON).
    r#"
    ALTER TABLE device ADD COLUMN attestation TEXT;
    "#,
];

/// The request type whose `punch_id` column is filled.
pub(crate) const FIELD_PUNCH_REVIEW: &str = "field_punch_review";

/// Fills `request.punch_id` for the field-punch reviews stored before step 7, from the
/// `punch_id` member of each one's form.
fn backfill_review_punches(tx: &rusqlite::Transaction<'_>) -> Result<(), StorageError> {
    let reviews = tx
        .prepare("SELECT org_id, request_id, form FROM request WHERE request_type = ?1")
        .and_then(|mut s| {
            s.query_map([FIELD_PUNCH_REVIEW], |r| {
                Ok((
                    r.get::<_, String>("org_id")?,
                    r.get::<_, String>("request_id")?,
                    r.get::<_, String>("form")?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?;
    for (org_id, request_id, form) in reviews {
        let punch_id = serde_json::from_str::<serde_json::Value>(&form)
            .ok()
            .and_then(|v| {
                v.get("punch_id")
                    .and_then(|p| p.as_str())
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "field-punch review {request_id} has no punch_id in its form"
                ))
            })?;
        tx.execute(
            "UPDATE request SET punch_id = ?3 WHERE org_id = ?1 AND request_id = ?2",
            rusqlite::params![org_id, request_id, punch_id],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

/// Brings a connection's file up to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map_err)?;
    if found > SCHEMA_VERSION {
        return Err(StorageError::TooNew {
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
pub fn upgrade_from(conn: &mut Connection, version: i64) -> Result<(), StorageError> {
    let step = usize::try_from(version)
        .ok()
        .and_then(|v| STEPS.get(v))
        .ok_or_else(|| {
            StorageError::Corrupt(format!("no upgrade from schema version {version}"))
        })?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(map_err)?;
    tx.execute_batch(step).map_err(map_err)?;
    if version == 6 {
        backfill_review_punches(&tx)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
        .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(())
}

const _: () = assert!(STEPS.len() as i64 == SCHEMA_VERSION);
