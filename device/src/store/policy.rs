//! The `policy_cache` table: the one policy document in force, as the server sent it, with
//! the organisation's signature over it and when it was fetched.
//!
//! Data access only: the signature is checked before [`save`] is called, and the document is
//! parsed by the engine when it is loaded.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// The cached policy, read by column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedPolicy {
    /// The document's version as stored (SQLite integers are signed); the engine takes the
    /// version from the document itself.
    pub version: i64,
    /// The policy JSON, byte for byte as signed.
    pub document: String,
    /// The organisation's signature over `document`, base64url.
    pub signature: String,
    /// When it was installed, in milliseconds since the Unix epoch by the device's wall clock.
    pub fetched_ms: i64,
}

impl CachedPolicy {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<CachedPolicy> {
        Ok(CachedPolicy {
            version: r.get("version")?,
            document: r.get("document")?,
            signature: r.get("signature")?,
            fetched_ms: r.get("fetched_ms")?,
        })
    }
}

/// The cached policy, or `None` before the first one.
pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Option<CachedPolicy>> {
    conn.query_row(
        "SELECT version, document, signature, fetched_ms FROM policy_cache WHERE singleton = 1",
        [],
        CachedPolicy::from_row,
    )
    .optional()
}

/// Replaces the cached policy.
pub(crate) fn save(conn: &Connection, policy: &CachedPolicy) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO policy_cache (singleton, version, document, signature, fetched_ms) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, document = excluded.document,
           signature = excluded.signature, fetched_ms = excluded.fetched_ms",
        params![
            policy.version,
            policy.document,
            policy.signature,
            policy.fetched_ms
        ],
    )?;
    Ok(())
}
