//! `daka check`: evaluate one attempt or a batch, and explain the verdict.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Args;
use daka_core::attempt::Attempt;
use daka_core::evidence::face_token::NonceLedger;
use daka_core::evidence::{DeviceClock, FaceEvidence, Fix};
use daka_core::punch::PunchKind;
use daka_core::{Decision, Engine, Policy};
use serde_json::json;

use crate::{exit, malformed, read_input, render};

#[derive(Args)]
pub struct CheckArgs {
    /// Policy document (JSON).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Read one attempt from a JSON file (`-` for standard input).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["batch", "employee"])]
    attempt: Option<PathBuf>,
    /// Read attempts as JSON Lines (`-` for standard input); write one verdict per line.
    #[arg(long, value_name = "FILE", conflicts_with = "employee")]
    batch: Option<PathBuf>,
    /// Employee id (flag mode).
    #[arg(long, requires_all = ["lat", "lon", "accuracy"])]
    employee: Option<String>,
    /// Punch kind: in, out, break_start, break_end, field.
    #[arg(long, default_value = "in", value_parser = parse_kind)]
    kind: PunchKind,
    /// Latitude of the fix, WGS-84 degrees.
    #[arg(long, allow_negative_numbers = true)]
    lat: Option<f64>,
    /// Longitude of the fix, WGS-84 degrees.
    #[arg(long, allow_negative_numbers = true)]
    lon: Option<f64>,
    /// Accuracy radius of the fix in metres (68 %).
    #[arg(long)]
    accuracy: Option<f64>,
    /// The platform flagged the fix as mock.
    #[arg(long)]
    mock: bool,
    /// A BSSID seen in the Wi-Fi scan (repeatable).
    #[arg(long = "bssid", value_name = "BSSID")]
    bssids: Vec<String>,
    /// Face-match token (compact JWS).
    #[arg(long, requires = "nonce")]
    token: Option<String>,
    /// The nonce daka issued for the attempt the token belongs to.
    #[arg(long, requires = "token")]
    nonce: Option<String>,
    /// Trusted time to judge at (RFC 3339). Flag mode defaults to the system clock; attempt
    /// and batch modes default to the time reconstructed from each attempt's clocks.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Print a readable explanation instead of JSON.
    #[arg(long)]
    human: bool,
}

fn parse_kind(s: &str) -> Result<PunchKind, String> {
    serde_json::from_value(json!(s)).map_err(|_| {
        format!("unknown punch kind {s:?}; use in, out, break_start, break_end or field")
    })
}

pub fn run(args: CheckArgs) -> u8 {
    let policy_text = match read_input(&args.policy) {
        Ok(t) => t,
        Err(e) => return malformed(e),
    };
    let policy = match Policy::from_json(&policy_text) {
        Ok(p) => p,
        Err(e) => return malformed(format!("policy {}: {e}", args.policy.display())),
    };
    let engine = Engine::new(policy);
    let mut nonces = NonceLedger::new();

    if let Some(path) = &args.batch {
        return run_batch(&engine, path, args.now, args.human, &mut nonces);
    }
    let (attempt, now) = if let Some(path) = &args.attempt {
        let text = match read_input(path) {
            Ok(t) => t,
            Err(e) => return malformed(e),
        };
        match Attempt::from_json(&text) {
            Ok(a) => (a, args.now),
            Err(e) => return malformed(format!("attempt {}: {e}", path.display())),
        }
    } else {
        match attempt_from_flags(&args) {
            Ok(a) => a,
            Err(e) => return malformed(e),
        }
    };
    let verdict = match engine.evaluate(&attempt, now, &mut nonces) {
        Ok(v) => v,
        Err(e) => return malformed(format!("attempt: {e}")),
    };
    if args.human {
        print!("{}", render::verdict(&engine, &attempt, &verdict));
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&verdict).expect("verdicts serialise")
        );
    }
    match verdict.decision {
        Decision::Accepted => exit::OK,
        Decision::Rejected => exit::REJECTED,
        Decision::FieldPunch => exit::FIELD_PUNCH,
    }
}

fn attempt_from_flags(args: &CheckArgs) -> Result<(Attempt, Option<DateTime<Utc>>), String> {
    let Some(employee) = &args.employee else {
        return Err("say what to check: --employee with --lat/--lon/--accuracy, --attempt FILE or --batch FILE".into());
    };
    let now = args.now.unwrap_or_else(Utc::now);
    let fix = match (args.lat, args.lon, args.accuracy) {
        (Some(lat), Some(lon), Some(accuracy_m)) => Some(Fix {
            lat,
            lon,
            accuracy_m,
            time: now,
            monotonic_ms: None,
            mock: args.mock,
            provider: None,
        }),
        _ => None,
    };
    let face = match (&args.token, &args.nonce) {
        (Some(token), Some(nonce)) => Some(FaceEvidence {
            token: token.clone(),
            nonce: nonce.clone(),
        }),
        _ => None,
    };
    let attempt = Attempt {
        employee_id: employee.clone(),
        kind: args.kind,
        fix,
        more_fixes: Vec::new(),
        wifi_bssids: args.bssids.clone(),
        face,
        clock: DeviceClock {
            wall: now,
            monotonic_ms: 0,
            boot_id: "daka-check".into(),
        },
        previous: Default::default(),
        anchor: None,
    };
    Ok((attempt, Some(now)))
}

fn run_batch(
    engine: &Engine,
    path: &PathBuf,
    now: Option<DateTime<Utc>>,
    human: bool,
    nonces: &mut NonceLedger,
) -> u8 {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => return malformed(format!("cannot read {}: {e}", path.display())),
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut accepted, mut field, mut rejected, mut bad) = (0u64, 0u64, 0u64, 0u64);
    for (n, line) in reader.lines().enumerate() {
        let line_no = n + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                bad += 1;
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"line": line_no, "error": {"field": "$", "reason": format!("unreadable line: {e}")}})
                );
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let result = Attempt::from_json(&line)
            .and_then(|a| engine.evaluate(&a, now, nonces).map(|v| (a, v)));
        let written = match result {
            Ok((attempt, verdict)) => {
                match verdict.decision {
                    Decision::Accepted => accepted += 1,
                    Decision::FieldPunch => field += 1,
                    Decision::Rejected => rejected += 1,
                }
                if human {
                    write!(
                        out,
                        "line {line_no}: {}",
                        render::verdict(engine, &attempt, &verdict)
                    )
                } else {
                    writeln!(
                        out,
                        "{}",
                        json!({"line": line_no, "employee_id": attempt.employee_id, "verdict": verdict})
                    )
                }
            }
            Err(e) => {
                bad += 1;
                if human {
                    writeln!(out, "line {line_no}: MALFORMED {e}")
                } else {
                    writeln!(
                        out,
                        "{}",
                        json!({"line": line_no, "error": {"field": e.field, "value": e.value, "reason": e.reason}})
                    )
                }
            }
        };
        if let Err(e) = written {
            eprintln!("daka: error: cannot write output: {e}");
            return exit::MALFORMED;
        }
    }
    let _ = out.flush();
    eprintln!(
        "{} attempts: {accepted} accepted, {field} field punch, {rejected} rejected, {bad} malformed",
        accepted + field + rejected + bad
    );
    if bad > 0 { exit::MALFORMED } else { exit::OK }
}
