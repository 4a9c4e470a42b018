//! `daka phone`: a simulated phone for testing a server and its console from scripts and
//! browser tests. It is the real device runtime (`daka-device`: its store, signed chain,
//! outbox and sync client) in a folder, driven one command at a time; only what stands
//! outside the phone is made up: the location fix (given on the command line, or the centre
//! of a site's fence), the Wi-Fi scan and, with `--face-key`, a face match signed by a test
//! matcher key.
//!
//! Fixes are stamped with the machine's clock, as a phone's platform stamps them with its
//! own; the face match and the expense's date use the device's trusted time, the server's
//! clock as of the last exchange carried forward by the monotonic clock (so a server started
//! with `daka serve --clock-start` sets the phone's day too).
//!
//! Every command prints one JSON object on standard output. Exit status: 0 done; 2 a usage
//! error (bad argument, unknown site, unreadable file); 4 the device refused or failed, with
//! `{"error": "<variant>", "message": "…"}` on standard output, where the variant is the
//! innermost `DeviceError` variant's name (`Offline`, `DeviceRevoked`, `NotEnrolled`, …).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use clap::{Args, Subcommand, ValueEnum};
use daka_core::evidence::{FaceEvidence, Fix};
use daka_core::policy::Fence;
use daka_core::punch::PunchKind;
use daka_device::sync::client::ClientConfig;
use daka_device::{Device, DeviceError, PunchInput, UnprotectedKeyStore};
use geo::{Centroid, Contains, InteriorPoint, Point};
use serde_json::{Value, json};

use crate::exit;
use crate::face_matcher::{MatchResult, MatcherKey};

/// The device failed or refused: exit status of `daka phone`.
const DEVICE_FAILED: u8 = 4;

#[derive(Args)]
pub struct PhoneArgs {
    /// The phone's folder: its device store `device.db` (created on `enroll`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    #[command(subcommand)]
    command: PhoneCommand,
}

#[derive(Subcommand)]
enum PhoneCommand {
    /// Enrol with a one-time code from an administrator; prints the device and employee ids.
    Enroll {
        /// The server's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The enrolment code.
        #[arg(long)]
        code: String,
        /// The device's name as the server lists it.
        #[arg(long, default_value = "simulated phone")]
        name: String,
    },
    /// Punch: judged on the phone and queued; prints the decision and the record's id.
    Punch {
        /// What the punch is.
        #[arg(long, value_enum)]
        kind: Kind,
        /// Stand at this site: the fix is a point inside its first fence (±10 m unless
        /// --accuracy says otherwise) and the scan holds the site's first Wi-Fi BSSID. Every
        /// fix is moved by up to a metre at random, as real fixes never repeat exactly.
        #[arg(long, value_name = "SITE_ID", conflicts_with_all = ["lat", "lon"])]
        site: Option<String>,
        /// Latitude of the fix, degrees.
        #[arg(long, requires = "lon", allow_negative_numbers = true)]
        lat: Option<f64>,
        /// Longitude of the fix, degrees.
        #[arg(long, requires = "lat", allow_negative_numbers = true)]
        lon: Option<f64>,
        /// Accuracy of the fix, metres (68 %).
        #[arg(long)]
        accuracy: Option<f64>,
        /// A BSSID seen by the Wi-Fi scan (repeatable); replaces the site's.
        #[arg(long, value_name = "BSSID")]
        wifi: Vec<String>,
        /// Sign a face match for the phone's employee with this test matcher key (a private
        /// JWK, e.g. examples/keys/face-matcher-ed25519.private.jwk).
        #[arg(long, value_name = "FILE")]
        face_key: Option<PathBuf>,
        /// The matcher's issuer (`iss`) for --face-key.
        #[arg(long, default_value = "https://face.harbour-lane.example/device")]
        face_issuer: String,
    },
    /// File an expense claim (template `expense`), queued for the next sync; prints its id.
    Expense {
        /// The amount in Hong Kong dollars, e.g. 123.40.
        #[arg(long)]
        amount: String,
        /// What it was for.
        #[arg(long, default_value = "")]
        description: String,
        /// The category, one of the template's options.
        #[arg(long, default_value = "meals")]
        category: String,
        /// A receipt to attach: .jpg, .jpeg, .png or .pdf.
        #[arg(long, value_name = "FILE")]
        receipt: Option<PathBuf>,
    },
    /// Sync now: push the outbox, pull the change feed and the policy; prints the report.
    Sync,
    /// Fetch the policy in force; prints its version.
    Policy,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    In,
    Out,
    BreakStart,
    BreakEnd,
    Field,
}

impl From<Kind> for PunchKind {
    fn from(kind: Kind) -> PunchKind {
        match kind {
            Kind::In => PunchKind::In,
            Kind::Out => PunchKind::Out,
            Kind::BreakStart => PunchKind::BreakStart,
            Kind::BreakEnd => PunchKind::BreakEnd,
            Kind::Field => PunchKind::Field,
        }
    }
}

/// What went wrong: a usage error, or the device's own.
enum Failure {
    Usage(String),
    Device(DeviceError),
}

impl From<DeviceError> for Failure {
    fn from(e: DeviceError) -> Failure {
        Failure::Device(e)
    }
}

pub fn run(args: PhoneArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daka phone: cannot start: {e}");
            return exit::REJECTED;
        }
    };
    match runtime.block_on(command(&args.state, args.command)) {
        Ok(out) => {
            println!("{out}");
            exit::OK
        }
        Err(Failure::Usage(message)) => {
            eprintln!("daka phone: {message}");
            exit::MALFORMED
        }
        Err(Failure::Device(e)) => {
            println!(
                "{}",
                json!({ "error": variant_name(&e), "message": e.to_string() })
            );
            DEVICE_FAILED
        }
    }
}

async fn command(state: &Path, command: PhoneCommand) -> Result<Value, Failure> {
    if let PhoneCommand::Enroll { .. } = command {
        std::fs::create_dir_all(state).map_err(|e| {
            Failure::Usage(format!("--state {}: cannot create: {e}", state.display()))
        })?;
    } else if !state.join("device.db").is_file() {
        return Err(Failure::Usage(format!(
            "--state {}: no phone here; enrol one first with `daka phone --state {} enroll`",
            state.display(),
            state.display()
        )));
    }
    let phone = Device::builder(state.join("device.db"))
        .key_store(&UnprotectedKeyStore)
        .client(ClientConfig {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
        })
        .open()?;
    match command {
        PhoneCommand::Enroll { server, code, name } => {
            let identity = phone.enroll(&server, &code, &name, "simulated").await?;
            Ok(json!({
                "device_id": identity.device_id,
                "employee_id": identity.employee_id,
                "org_id": identity.org_id,
                "policy_version": phone.policy_version(),
            }))
        }
        PhoneCommand::Punch {
            kind,
            site,
            lat,
            lon,
            accuracy,
            wifi,
            face_key,
            face_issuer,
        } => {
            let (at, site_wifi) = match (site, lat, lon) {
                (Some(site), _, _) => site_point(&phone, &site)?,
                (None, Some(lat), Some(lon)) => ((lat, lon), None),
                _ => return Err(Failure::Usage("give --site, or --lat and --lon".into())),
            };
            let at = jitter(at);
            let accuracy_m = accuracy.unwrap_or(10.0);
            let face = match face_key {
                Some(path) => Some(face(&phone, &path, &face_issuer)?),
                None => None,
            };
            let wifi_bssids = if wifi.is_empty() {
                site_wifi.into_iter().collect()
            } else {
                wifi
            };
            let outcome = phone.punch(PunchInput {
                kind: kind.into(),
                fix: Some(Fix {
                    lat: at.0,
                    lon: at.1,
                    accuracy_m,
                    // The platform stamps fixes with the phone's own wall clock.
                    time: Utc::now() - ChronoDuration::seconds(1),
                    monotonic_ms: None,
                    mock: false,
                    provider: Some("gps".into()),
                }),
                more_fixes: Vec::new(),
                wifi_bssids,
                face,
            })?;
            Ok(json!({
                "decision": outcome.verdict.decision,
                "record_id": outcome.record.as_ref().map(|r| r.body.id.to_string()),
                "seq": outcome.record.as_ref().map(|r| r.body.seq),
                "at": { "lat": at.0, "lon": at.1, "accuracy_m": accuracy_m },
                "reasons": outcome.verdict.reasons,
            }))
        }
        PhoneCommand::Expense {
            amount,
            description,
            category,
            receipt,
        } => {
            let minor = money_minor(&amount).ok_or_else(|| {
                Failure::Usage(format!(
                    "--amount {amount:?}: give Hong Kong dollars with at most two decimals, e.g. 123.40"
                ))
            })?;
            let mut receipts = Vec::new();
            if let Some(path) = receipt {
                let media_type = media_type(&path)?;
                let bytes = std::fs::read(&path)
                    .map_err(|e| Failure::Usage(format!("--receipt {}: {e}", path.display())))?;
                let attached = phone.add_attachment(&bytes, media_type)?;
                receipts.push(json!({
                    "sha256": attached.sha256,
                    "bytes": attached.bytes,
                    "media_type": attached.media_type,
                }));
            }
            let today = phone
                .engine()
                .map(|e| {
                    Utc::now()
                        .with_timezone(&e.policy().time_zone())
                        .date_naive()
                })
                .unwrap_or_else(|| Utc::now().date_naive());
            let form = json!({
                "amount": { "minor": minor, "currency": "HKD" },
                "category": category,
                "date": today.to_string(),
                "receipts": receipts,
                "description": description,
            });
            let queued = phone.submit_request("expense", &form)?;
            Ok(json!({ "request_id": queued.request_id, "revision": queued.revision }))
        }
        PhoneCommand::Sync => {
            let report = phone.sync_now(&|_| {}).await?;
            serde_json::to_value(&report).map_err(|e| Failure::Usage(e.to_string()))
        }
        PhoneCommand::Policy => {
            let version = phone.refresh_policy().await?;
            Ok(json!({ "version": version }))
        }
    }
}

/// A point inside `site`'s first fence (its centre for a circle; for a polygon its centroid
/// when that is inside, else an interior point), and the site's first BSSID.
fn site_point(phone: &Device, site: &str) -> Result<((f64, f64), Option<String>), Failure> {
    let engine = phone
        .engine()
        .ok_or_else(|| Failure::Device(DeviceError::NoPolicy))?;
    let policy = engine.policy();
    let found = policy.sites.iter().find(|s| s.id == site).ok_or_else(|| {
        let known: Vec<&str> = policy.sites.iter().map(|s| s.id.as_str()).collect();
        Failure::Usage(format!(
            "--site {site:?}: the policy has no such site (it has {})",
            known.join(", ")
        ))
    })?;
    let point = match found.fences.first() {
        Some(Fence::Circle { center, .. }) => Point::from(*center),
        Some(Fence::Polygon(polygon)) => polygon
            .centroid()
            .filter(|c| polygon.contains(c))
            .or_else(|| polygon.interior_point())
            .ok_or_else(|| Failure::Usage(format!("--site {site:?}: its fence is empty")))?,
        None => return Err(Failure::Usage(format!("--site {site:?}: it has no fence"))),
    };
    Ok(((point.y(), point.x()), found.wifi_bssids.first().cloned()))
}

/// The point moved by up to about a metre in a random direction: real fixes never repeat to
/// the last bit, and the engine sends an exact repeat to review as a replayed fix.
fn jitter((lat, lon): (f64, f64)) -> (f64, f64) {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    // Without randomness, a sub-metre step from the clock's nanoseconds does as well.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        bytes = Utc::now().timestamp_subsec_nanos().to_le_bytes();
    }
    let step = |b: [u8; 2]| (f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) - 0.5) * 1.8e-5;
    (
        lat + step([bytes[0], bytes[1]]),
        lon + step([bytes[2], bytes[3]]),
    )
}

/// A face match for the phone's employee, signed with the test matcher key at `path` for a
/// fresh nonce.
fn face(phone: &Device, path: &Path, issuer: &str) -> Result<FaceEvidence, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("--face-key {}: {e}", path.display())))?;
    let key = MatcherKey::from_jwk(&text)
        .map_err(|e| Failure::Usage(format!("--face-key {}: {e}", path.display())))?;
    let employee = phone
        .identity()
        .ok_or(Failure::Device(DeviceError::NotEnrolled))?
        .employee_id;
    let nonce = phone.issue_face_nonce()?;
    let token = key
        .sign(&MatchResult {
            issuer,
            subject: &employee,
            nonce: &nonce,
            issued_at: phone.trusted_time().now - ChronoDuration::seconds(2),
            ttl_s: 120,
            score: 0.96,
            liveness: Value::from("pass"),
            model: "simulated-matcher",
        })
        .map_err(Failure::Usage)?;
    Ok(FaceEvidence { token, nonce })
}

/// `123.40` → 12340; at most two decimals, positive, no sign or exponent.
fn money_minor(text: &str) -> Option<i64> {
    let (whole, cents) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || whole.len() > 12
        || cents.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !cents.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = format!("{cents:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

fn media_type(path: &Path) -> Result<&'static str, Failure> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jpg" | "jpeg") => Ok("image/jpeg"),
        Some("png") => Ok("image/png"),
        Some("pdf") => Ok("application/pdf"),
        _ => Err(Failure::Usage(format!(
            "--receipt {}: give a .jpg, .jpeg, .png or .pdf file",
            path.display()
        ))),
    }
}

/// The innermost variant name of a device error, from its debug form: `Sync(Offline { .. })`
/// is `Offline`.
fn variant_name(e: &DeviceError) -> String {
    let debug = format!("{e:?}");
    let mut name = String::new();
    let mut rest = debug.as_str();
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() || !ident.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        name = ident.clone();
        rest = &rest[ident.len()..];
        match rest.strip_prefix('(') {
            Some(inner) => rest = inner,
            None => break,
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_in_cents_and_garbage_refused() {
        assert_eq!(money_minor("123.40"), Some(12_340));
        assert_eq!(money_minor("123.4"), Some(12_340));
        assert_eq!(money_minor("7"), Some(700));
        assert_eq!(money_minor("0.05"), Some(5));
        for bad in [
            "",
            ".5",
            "-1",
            "1.234",
            "1e3",
            "12a",
            "1.2.3",
            "9999999999999",
        ] {
            assert_eq!(money_minor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_innermost_variant_names_the_error() {
        assert_eq!(variant_name(&DeviceError::NotEnrolled), "NotEnrolled");
        assert_eq!(variant_name(&DeviceError::NoPolicy), "NoPolicy");
    }
}
