//! The PostgreSQL schema as code: the SQL of each step and one upgrade path, versioned like the
//! SQLite schema (`../sqlite/schema.rs`), whose version numbers it shares: a database at
//! version N holds the same tables, in PostgreSQL types, as a SQLite file at version N.
//!
//! The PostgreSQL storage begins at version 14, the SQLite schema's version when it was added:
//! its first step creates that schema whole. Later changes are new steps of both schemas.
//!
//! `schema_version` holds one row per step applied (its version and when). Opening takes the
//! session advisory lock [`MIGRATE_LOCK`](super::sql::MIGRATE_LOCK), reads the version, runs every
//! step above it (each in its own transaction, with its row) and releases the lock: two servers
//! starting at once on one database run each step once, the second finding it done. A database
//! from a newer release is refused rather than guessed at.
//!
//! Types: times are Unix milliseconds (`BIGINT`), hashes lower-case hex (`TEXT`), keys and
//! files `BYTEA`; the SQLite `AUTOINCREMENT` keys are identity columns. Text compares and sorts
//! by code point (`COLLATE "C"`), as SQLite's does, whatever the database's locale. Every table that holds
//! organisation data carries `org_id`, and every query filters on it.

use r2d2_postgres::postgres::{Client, Transaction};

use super::sql::{MIGRATE_LOCK, Run, exec, map_err, ms, one_row};
use crate::storage::StorageError;

/// The version this build writes (the SQLite schema's).
pub const SCHEMA_VERSION: i64 = crate::storage::sqlite::SCHEMA_VERSION;

/// `STEPS[i]` upgrades a database from version `STEPS[i].0 - 1` (none, for the first) to
/// `STEPS[i].0`.
const STEPS: &[(i64, &str)] = &[
    (
        14,
        r#"
    CREATE TABLE org (
        id                TEXT COLLATE "C" PRIMARY KEY,
        name              TEXT COLLATE "C" NOT NULL,
        admin_token_hash  TEXT COLLATE "C" NOT NULL UNIQUE,          -- hex SHA-256 of the admin token
        signing_seed      BYTEA NOT NULL,                -- Ed25519 seed of the policy key
        public_key        TEXT COLLATE "C" NOT NULL,                 -- base64url
        created_ms        BIGINT NOT NULL,
        admin_token_rotated_ms BIGINT                    -- the seed's token no longer applies
    );
    CREATE TABLE policy (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        version           BIGINT NOT NULL,
        document          TEXT COLLATE "C" NOT NULL,                 -- exactly as signed
        signature         TEXT COLLATE "C" NOT NULL,                 -- base64url Ed25519 over document
        published_ms      BIGINT NOT NULL,
        PRIMARY KEY (org_id, version)
    );
    CREATE TABLE enrollment_code (
        code_hash         TEXT COLLATE "C" PRIMARY KEY,              -- hex SHA-256 of the code
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        employee_id       TEXT COLLATE "C" NOT NULL,
        created_ms        BIGINT NOT NULL,
        used_ms           BIGINT,
        device_id         TEXT COLLATE "C"
    );
    CREATE TABLE device (
        id                TEXT COLLATE "C" PRIMARY KEY,
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        employee_id       TEXT COLLATE "C" NOT NULL,
        public_key        BYTEA NOT NULL UNIQUE,
        name              TEXT COLLATE "C" NOT NULL,
        platform          TEXT COLLATE "C" NOT NULL,
        enrolled_ms       BIGINT NOT NULL,
        change_floor      BIGINT NOT NULL,               -- organisation-wide changes before this are not shown
        head_seq          BIGINT,                        -- chain head: last stored record
        head_hash         TEXT COLLATE "C",
        head_punch_id     TEXT COLLATE "C",
        revoked_ms        BIGINT,
        revoked_by        TEXT COLLATE "C",                          -- console account id, or 'admin_token'
        revoke_reason     TEXT COLLATE "C",
        refreshed_issued_ms BIGINT                       -- issued_at of the last token refresh
    );
    CREATE INDEX device_by_org ON device (org_id, enrolled_ms);
    CREATE INDEX device_by_employee ON device (org_id, employee_id);
    CREATE TABLE token (
        token_hash        TEXT COLLATE "C" PRIMARY KEY,              -- hex SHA-256 of the bearer token
        device_id         TEXT COLLATE "C" NOT NULL REFERENCES device (id),
        issued_ms         BIGINT NOT NULL,
        expires_ms        BIGINT NOT NULL
    );
    CREATE INDEX token_by_device ON token (device_id);
    CREATE TABLE item (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        item_id           TEXT COLLATE "C" NOT NULL,
        device_id         TEXT COLLATE "C" NOT NULL REFERENCES device (id),
        kind              TEXT COLLATE "C" NOT NULL,
        body_hash         TEXT COLLATE "C" NOT NULL,                 -- hex SHA-256 of the canonical body
        status            TEXT COLLATE "C" NOT NULL,
        code              TEXT COLLATE "C",
        message           TEXT COLLATE "C",
        received_ms       BIGINT NOT NULL,
        PRIMARY KEY (org_id, item_id)
    );
    CREATE TABLE punch (
        "row"             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        punch_id          TEXT COLLATE "C" NOT NULL,
        device_id         TEXT COLLATE "C" NOT NULL REFERENCES device (id),
        seq               BIGINT NOT NULL,
        hash              TEXT COLLATE "C" NOT NULL,
        employee_id       TEXT COLLATE "C" NOT NULL,
        kind              TEXT COLLATE "C" NOT NULL,
        record            TEXT COLLATE "C" NOT NULL,                 -- canonical JSON as received
        status            TEXT COLLATE "C" NOT NULL CHECK (status IN ('accepted', 'field_punch', 'refused')),
        code              TEXT COLLATE "C",
        server_verdict    TEXT COLLATE "C" NOT NULL,
        policy_version    BIGINT NOT NULL,
        judged_ms         BIGINT NOT NULL,
        received_ms       BIGINT NOT NULL,
        UNIQUE (org_id, punch_id),
        UNIQUE (device_id, seq)
    );
    CREATE INDEX punch_by_org ON punch (org_id, "row");
    CREATE INDEX punch_by_employee ON punch (org_id, employee_id, judged_ms);
    CREATE TABLE face_nonce (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        nonce             TEXT COLLATE "C" NOT NULL,
        punch_id          TEXT COLLATE "C" NOT NULL,
        used_ms           BIGINT NOT NULL,
        UNIQUE (org_id, nonce)
    );
    CREATE TABLE change (
        seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        device_id         TEXT COLLATE "C",                          -- NULL: for every device of the organisation
        body              TEXT COLLATE "C" NOT NULL,                 -- JSON of a protocol Change
        created_ms        BIGINT NOT NULL
    );
    CREATE INDEX change_by_device ON change (org_id, device_id, seq);
    CREATE TABLE request (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        request_id        TEXT COLLATE "C" NOT NULL,
        template_id       TEXT COLLATE "C" NOT NULL,
        request_type      TEXT COLLATE "C" NOT NULL,
        policy_version    BIGINT NOT NULL,
        applicant         TEXT COLLATE "C" NOT NULL,
        form              TEXT COLLATE "C" NOT NULL,                 -- canonical JSON of the form
        state             TEXT COLLATE "C" NOT NULL,                 -- JSON of the core's RequestState
        status            TEXT COLLATE "C" NOT NULL,
        month             TEXT COLLATE "C",                          -- YYYY-MM of a missed-punch correction
        created_ms        BIGINT NOT NULL,
        updated_ms        BIGINT NOT NULL,
        punch_id          TEXT COLLATE "C",                          -- a field-punch review's punch
        PRIMARY KEY (org_id, request_id)
    );
    CREATE INDEX request_by_applicant ON request (org_id, applicant, created_ms);
    CREATE INDEX request_by_punch ON request (org_id, punch_id) WHERE punch_id IS NOT NULL;
    CREATE TABLE request_waiting (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        employee_id       TEXT COLLATE "C" NOT NULL,
        request_id        TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (org_id, employee_id, request_id)
    );
    CREATE TABLE request_audit (
        seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        request_id        TEXT COLLATE "C" NOT NULL,
        actor             TEXT COLLATE "C" NOT NULL,
        device_id         TEXT COLLATE "C" NOT NULL,
        item_id           TEXT COLLATE "C" NOT NULL,
        action            TEXT COLLATE "C" NOT NULL,
        detail            TEXT COLLATE "C" NOT NULL,                 -- JSON: effect, comment, status after
        signed            TEXT COLLATE "C" NOT NULL,                 -- the signed item, canonical JSON
        made_ms           BIGINT NOT NULL,               -- the device's time of the action
        received_ms       BIGINT NOT NULL,
        signed_by         TEXT COLLATE "C" NOT NULL DEFAULT 'device' CHECK (signed_by IN ('device', 'server')),
        console_account_id TEXT COLLATE "C",
        console_email     TEXT COLLATE "C"
    );
    CREATE INDEX audit_by_request ON request_audit (org_id, request_id, seq);
    CREATE TABLE leave_movement (
        seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        employee_id       TEXT COLLATE "C" NOT NULL,
        leave_type        TEXT COLLATE "C" NOT NULL,
        year              INTEGER NOT NULL,
        kind              TEXT COLLATE "C" NOT NULL CHECK (kind IN ('hold', 'release', 'take')),
        halves            BIGINT NOT NULL,
        request_id        TEXT COLLATE "C" NOT NULL,
        at_ms             BIGINT NOT NULL
    );
    CREATE INDEX leave_by_employee ON leave_movement (org_id, employee_id, seq);
    CREATE TABLE attendance_correction (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        request_id        TEXT COLLATE "C" NOT NULL,
        employee_id       TEXT COLLATE "C" NOT NULL,
        day               TEXT COLLATE "C" NOT NULL,                 -- YYYY-MM-DD, the policy's time zone
        punch_kind        TEXT COLLATE "C" NOT NULL,
        time              TEXT COLLATE "C" NOT NULL,                 -- HH:MM local
        approved_ms       BIGINT NOT NULL,
        PRIMARY KEY (org_id, request_id)
    );
    CREATE TABLE attachment (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        sha256            TEXT COLLATE "C" NOT NULL,                 -- lower-case hex of the content
        media_type        TEXT COLLATE "C" NOT NULL,                 -- as sent with the first upload
        size              BIGINT NOT NULL,               -- bytes
        content           BYTEA NOT NULL,
        uploaded_by       TEXT COLLATE "C" NOT NULL,                 -- device id of the first upload
        uploaded_ms       BIGINT NOT NULL,
        PRIMARY KEY (org_id, sha256)
    );
    CREATE TABLE punch_review (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        punch_id          TEXT COLLATE "C" NOT NULL,
        request_id        TEXT COLLATE "C" NOT NULL,
        outcome           TEXT COLLATE "C" NOT NULL CHECK (outcome IN ('approved', 'rejected')),
        decided_ms        BIGINT NOT NULL,
        PRIMARY KEY (org_id, punch_id)
    );
    CREATE TABLE attendance_day (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        employee_id       TEXT COLLATE "C" NOT NULL,
        day               TEXT COLLATE "C" NOT NULL,                 -- YYYY-MM-DD, the policy's time zone
        result            TEXT COLLATE "C" NOT NULL,                 -- JSON of the engine's DayResult
        policy_version    BIGINT NOT NULL,
        computed_ms       BIGINT NOT NULL,
        PRIMARY KEY (org_id, employee_id, day)
    );
    CREATE TABLE attendance_dirty (
        seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        employee_id       TEXT COLLATE "C",                          -- NULL: everyone with attendance
        cause             TEXT COLLATE "C" NOT NULL,                 -- punch:<id>, request:<id>, policy:<v>, ...
        at_ms             BIGINT,                        -- an instant whose day (and neighbours) to redo
        from_day          TEXT COLLATE "C",                          -- or a range of days
        to_day            TEXT COLLATE "C",
        created_ms        BIGINT NOT NULL
    );
    CREATE TABLE attendance_lock (
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        month             TEXT COLLATE "C" NOT NULL,                 -- YYYY-MM
        locked_ms         BIGINT NOT NULL,
        PRIMARY KEY (org_id, month)
    );
    CREATE TABLE attendance_lock_event (
        seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        month             TEXT COLLATE "C" NOT NULL,
        action            TEXT COLLATE "C" NOT NULL CHECK (action IN ('lock', 'unlock')),
        at_ms             BIGINT NOT NULL
    );
    CREATE TABLE attendance_late_change (
        seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        employee_id       TEXT COLLATE "C" NOT NULL,
        day               TEXT COLLATE "C" NOT NULL,
        cause             TEXT COLLATE "C" NOT NULL,
        before            TEXT COLLATE "C" NOT NULL,                 -- the stored DayResult, kept
        after             TEXT COLLATE "C" NOT NULL,                 -- the DayResult the inputs now give
        policy_version    BIGINT NOT NULL,
        recorded_ms       BIGINT NOT NULL
    );
    CREATE INDEX late_change_by_day ON attendance_late_change (org_id, day, employee_id);
    CREATE TABLE console_account (
        id                TEXT COLLATE "C" PRIMARY KEY,              -- UUIDv7
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        email             TEXT COLLATE "C" NOT NULL,                 -- lower case
        name              TEXT COLLATE "C" NOT NULL,
        role              TEXT COLLATE "C" NOT NULL CHECK (role IN ('hr_admin', 'manager', 'finance', 'auditor')),
        employee_id       TEXT COLLATE "C",                          -- a manager's employee
        language          TEXT COLLATE "C" NOT NULL CHECK (language IN ('en', 'zh-Hant')),
        password_hash     TEXT COLLATE "C" NOT NULL,                 -- PHC string, $argon2id$...
        created_ms        BIGINT NOT NULL,
        disabled_ms       BIGINT,
        UNIQUE (org_id, email)
    );
    CREATE INDEX console_account_by_email ON console_account (email);
    CREATE TABLE console_session (
        id_hash           TEXT COLLATE "C" PRIMARY KEY,              -- hex SHA-256 of the session id
        account_id        TEXT COLLATE "C" NOT NULL REFERENCES console_account (id),
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        created_ms        BIGINT NOT NULL,
        seen_ms           BIGINT NOT NULL,               -- last request, for the idle timeout
        expires_ms        BIGINT NOT NULL                -- absolute end
    );
    CREATE INDEX console_session_by_account ON console_session (account_id);
    CREATE TABLE console_audit (
        seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        org_id            TEXT COLLATE "C" REFERENCES org (id),      -- NULL when no account matched
        account_id        TEXT COLLATE "C",                          -- NULL when no account matched
        email             TEXT COLLATE "C" NOT NULL,                 -- as entered, lower case
        action            TEXT COLLATE "C" NOT NULL,                 -- login_ok, login_failed, logout, ...
        client            TEXT COLLATE "C" NOT NULL,                 -- the client's address
        detail            TEXT COLLATE "C" NOT NULL,
        at_ms             BIGINT NOT NULL
    );
    CREATE INDEX console_audit_by_org ON console_audit (org_id, seq);
    CREATE INDEX console_audit_by_account ON console_audit (org_id, account_id, seq);
    CREATE INDEX console_audit_by_action ON console_audit (org_id, action, seq);
    CREATE TABLE policy_draft (
        org_id            TEXT COLLATE "C" PRIMARY KEY REFERENCES org (id),
        base_version      BIGINT NOT NULL,               -- the version in force when started
        rev               BIGINT NOT NULL,               -- 1, 2, ... per saved edit
        document          TEXT COLLATE "C" NOT NULL,                 -- the draft policy, pretty JSON
        updated_ms        BIGINT NOT NULL,
        updated_by        TEXT COLLATE "C" NOT NULL                  -- console account email
    );
    CREATE TABLE api_token (
        id                TEXT COLLATE "C" PRIMARY KEY,              -- UUIDv7
        org_id            TEXT COLLATE "C" NOT NULL REFERENCES org (id),
        name              TEXT COLLATE "C" NOT NULL,
        token_hash        TEXT COLLATE "C" NOT NULL UNIQUE,          -- hex SHA-256 of the token
        scopes            TEXT COLLATE "C" NOT NULL,                 -- space-separated, e.g. "policy:read"
        created_by        TEXT COLLATE "C" NOT NULL,                 -- the console account's email
        created_ms        BIGINT NOT NULL,
        expires_ms        BIGINT,                        -- NULL: never
        last_used_ms      BIGINT,
        revoked_ms        BIGINT
    );
    CREATE INDEX api_token_by_org ON api_token (org_id, created_ms);
    "#,
    ),
    // A punch row (its record about 1.7 KB, its verdict about 0.7 KB) is kept whole in the
    // table up to a page instead of past 2 KB, where PostgreSQL tried to compress the record
    // (it does not shrink) and then moved it to the TOAST table: inserting a push's hundred
    // rows, under the change feed's lock, takes half the time.
    (
        15,
        r#"
    ALTER TABLE punch SET (toast_tuple_target = 8160);
    "#,
    ),
    // The platform attestation a device enrolled with, as verified (JSON).
    (
        16,
        r#"
    ALTER TABLE device ADD COLUMN attestation TEXT COLLATE "C";
    "#,
    ),
];

const _: () = assert!(STEPS[STEPS.len() - 1].0 == SCHEMA_VERSION);

/// The version the database holds: the newest row of `schema_version`, 0 for a database
/// without the table.
pub(super) fn version(c: &mut impl Run) -> Result<i64, StorageError> {
    // Two statements: one naming a table that is not there fails when it is planned, even in
    // a branch a CASE would not take.
    let row = one_row(
        c,
        "SELECT to_regclass('schema_version') IS NOT NULL AS present",
        &[],
    )?;
    if !super::sql::get::<bool>(&row, "present")? {
        return Ok(0);
    }
    let row = one_row(
        c,
        "SELECT COALESCE(MAX(version), 0) AS version FROM schema_version",
        &[],
    )?;
    super::sql::get(&row, "version")
}

/// Brings the database up to [`SCHEMA_VERSION`], under the migration lock.
pub(super) fn migrate(c: &mut Client) -> Result<(), StorageError> {
    exec(c, "SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])?;
    let outcome = migrate_locked(c);
    let unlocked = exec(c, "SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK]);
    outcome?;
    unlocked.map(drop)
}

fn migrate_locked(c: &mut Client) -> Result<(), StorageError> {
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    BIGINT PRIMARY KEY,
             applied_ms BIGINT NOT NULL
         )",
    )
    .map_err(map_err)?;
    let found = version(c)?;
    if found > SCHEMA_VERSION {
        return Err(StorageError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (to, sql) in STEPS {
        if *to <= found {
            continue;
        }
        let mut tx = c.transaction().map_err(map_err)?;
        tx.batch_execute(sql).map_err(map_err)?;
        exec(
            &mut tx,
            "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
            &[to, &ms(chrono::Utc::now())],
        )?;
        tx.commit().map_err(map_err)?;
    }
    Ok(())
}

/// Creates the whole schema at [`SCHEMA_VERSION`] inside `tx`, under the migration lock held
/// until it ends, in a database that has none (a copy into an empty database: the tables and
/// their rows commit together or not at all).
pub(crate) fn create_in(tx: &mut Transaction<'_>) -> Result<(), StorageError> {
    exec(tx, "SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE schema_version (
             version    BIGINT PRIMARY KEY,
             applied_ms BIGINT NOT NULL
         )",
    )
    .map_err(map_err)?;
    for (to, sql) in STEPS {
        tx.batch_execute(sql).map_err(map_err)?;
        exec(
            tx,
            "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
            &[to, &ms(chrono::Utc::now())],
        )?;
    }
    Ok(())
}

/// The tables of the schema (without `schema_version`), in the order the steps create them:
/// an order in which every table comes after the tables its foreign keys refer to.
pub(crate) fn tables_in_order() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = Vec::new();
    for (_, sql) in STEPS {
        for part in sql.split("CREATE TABLE ").skip(1) {
            let name = part.split_whitespace().next().unwrap_or_default();
            if !name.is_empty() && !tables.contains(&name) {
                tables.push(name);
            }
        }
    }
    tables
}
