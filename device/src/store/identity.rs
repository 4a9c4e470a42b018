//! The `device` table: the one row that says who this device is. It holds the sealed key seed
//! and the public key from first use, and the identity (device, organisation, employee, server,
//! organisation key) and bearer token from enrolment on.
//!
//! Data access only: these functions read and write rows; what a row means (whether the key
//! store opens the seed, whether the identity is complete) is the engine's to decide. Each
//! takes a `&Connection`, so a caller can run it inside its own transaction.

use rusqlite::{Connection, OptionalExtension, Row, params};

/// The `device` row, read by column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceRow {
    /// The key seed sealed by the app's key store; `None` when the platform holds the key.
    pub key_seed: Option<Vec<u8>>,
    /// The device's Ed25519 public key, 32 raw bytes.
    pub public_key: Vec<u8>,
    /// The identity and token below are `None` until enrolment; see [`Enrolment`].
    pub device_id: Option<String>,
    pub org_id: Option<String>,
    pub employee_id: Option<String>,
    pub bearer_token: Option<String>,
    pub server_url: Option<String>,
    /// The organisation's policy-signing public key, base64url.
    pub org_public_key: Option<String>,
}

impl DeviceRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<DeviceRow> {
        Ok(DeviceRow {
            key_seed: r.get("key_seed")?,
            public_key: r.get("public_key")?,
            device_id: r.get("device_id")?,
            org_id: r.get("org_id")?,
            employee_id: r.get("employee_id")?,
            bearer_token: r.get("bearer_token")?,
            server_url: r.get("server_url")?,
            org_public_key: r.get("org_public_key")?,
        })
    }
}

/// What enrolment writes into the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Enrolment<'a> {
    pub device_id: &'a str,
    pub org_id: &'a str,
    pub employee_id: &'a str,
    pub bearer_token: &'a str,
    pub server_url: &'a str,
    pub org_public_key: &'a str,
}

/// The row, or `None` before the device key was first created.
pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Option<DeviceRow>> {
    conn.query_row(
        "SELECT key_seed, public_key, device_id, org_id, employee_id, bearer_token, server_url,
                org_public_key
         FROM device WHERE singleton = 1",
        [],
        DeviceRow::from_row,
    )
    .optional()
}

/// Creates the row with a new key: its sealed seed and its public key.
pub(crate) fn create(
    conn: &Connection,
    sealed_seed: &[u8],
    public_key: &[u8],
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO device (singleton, key_seed, public_key) VALUES (1, ?1, ?2)",
        params![sealed_seed, public_key],
    )?;
    Ok(())
}

/// Writes the identity and the first bearer token an enrolment gave.
pub(crate) fn enrol(conn: &Connection, e: &Enrolment<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE device SET device_id = ?1, org_id = ?2, employee_id = ?3, bearer_token = ?4,
           server_url = ?5, org_public_key = ?6 WHERE singleton = 1",
        params![
            e.device_id,
            e.org_id,
            e.employee_id,
            e.bearer_token,
            e.server_url,
            e.org_public_key
        ],
    )?;
    Ok(())
}

/// Replaces the bearer token.
pub(crate) fn set_token(conn: &Connection, token: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE device SET bearer_token = ?1 WHERE singleton = 1",
        [token],
    )?;
    Ok(())
}
