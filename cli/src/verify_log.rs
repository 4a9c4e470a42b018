//! `daka verify-log`: check an exported punch log against a device's public key.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use daka_core::punch::{parse_log, verify_chain};
use serde_json::json;

use crate::{exit, malformed, read_input};

#[derive(Args)]
pub struct VerifyLogArgs {
    /// The punch log: JSON Lines, one record per line, in chain order (`-` for standard input).
    log: PathBuf,
    /// The device's Ed25519 public key: 32 bytes as base64url (no padding) or 64 hex digits,
    /// or `@FILE` to read it from a file.
    #[arg(long, value_name = "KEY")]
    public_key: String,
    /// Print a readable summary instead of JSON.
    #[arg(long)]
    human: bool,
}

pub fn run(args: VerifyLogArgs) -> u8 {
    let key_text = match args.public_key.strip_prefix('@') {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return malformed(format!("cannot read public key file {path}: {e}")),
        },
        None => args.public_key.clone(),
    };
    let public_key = match parse_public_key(key_text.trim()) {
        Ok(k) => k,
        Err(e) => return malformed(e),
    };
    let text = match read_input(&args.log) {
        Ok(t) => t,
        Err(e) => return malformed(e),
    };
    let records = match parse_log(&text) {
        Ok(r) => r,
        Err(e) => return malformed(format!("log {}: {e}", args.log.display())),
    };
    match verify_chain(&public_key, &records) {
        Ok(summary) => {
            if args.human {
                println!(
                    "OK: {} records of device {}, last seq {}, head {}",
                    summary.count,
                    summary.device_id.as_deref().unwrap_or("-"),
                    summary.last_seq,
                    summary.head_hash.as_deref().unwrap_or("-")
                );
            } else {
                println!(
                    "{}",
                    json!({"ok": true, "device_id": summary.device_id, "records": summary.count,
                           "last_seq": summary.last_seq, "head_hash": summary.head_hash})
                );
            }
            exit::OK
        }
        Err(e) => {
            if args.human {
                println!("BROKEN: {e}");
            } else {
                println!(
                    "{}",
                    json!({"ok": false, "error": {"index": e.index, "line": e.index + 1, "seq": e.seq,
                           "id": e.id, "code": e.kind.code(), "message": e.to_string()}})
                );
            }
            exit::REJECTED
        }
    }
}

/// Accepts base64url (unpadded) or hex.
fn parse_public_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| format!("public key: bad hex: {e}"))?
    } else {
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| format!("public key {text:?}: not base64url: {e}"))?
    };
    bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "public key: an Ed25519 public key is 32 bytes, got {}",
            b.len()
        )
    })
}
