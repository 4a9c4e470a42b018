//! The process the crash tests kill: it opens an enrolled device's store and either punches
//! forever or drains the outbox to the server, reporting on stdout what the SDK acknowledged.
//!
//! * `punch_child punch <device.db>`: punches at the Causeway Bay store in a loop (a jittered
//!   GPS fix or the store's Wi-Fi). After each `Device::punch` returns, it prints
//!   `ACK <record id> <seq>` and flushes: from that line on the punch is promised durable.
//! * `punch_child sync <device.db> [server url]`: runs `Device::sync_now` rounds until nothing
//!   is left, printing `BATCH <sent> <total>` after every answered batch and
//!   `DONE <accepted> <duplicates> <remaining>` at the end, then exits 0. The server is the
//!   one the device enrolled with; a URL given must be that one.
//!
//! Any error goes to stderr with a non-zero exit: the parent expects to end this process
//! with SIGKILL, so any other ending is a finding.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use daka_device::{ClockSource, Device, SystemClock, UnprotectedKeyStore};
use daka_e2e::harness::{in_or_out, store_punch};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["punch", db] => punch(db),
        ["sync", db] => sync(db, None),
        ["sync", db, url] => sync(db, Some(url)),
        _ => {
            Err("usage: punch_child punch <device.db> | punch_child sync <device.db> [url]".into())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("punch_child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open(db: &str) -> Result<(Device, Arc<SystemClock>), String> {
    let clock = Arc::new(SystemClock::new());
    let device = Device::builder(db)
        .clock(clock.clone())
        .key_store(&UnprotectedKeyStore)
        .open()
        .map_err(|e| format!("opening {db}: {e}"))?;
    Ok((device, clock))
}

fn punch(db: &str) -> Result<(), String> {
    let (device, clock) = open(db)?;
    let mut rng = fastrand::Rng::new();
    let stdout = std::io::stdout();
    for n in 0u64.. {
        let input = store_punch(&mut rng, &clock.now(), in_or_out(n));
        let outcome = device.punch(input).map_err(|e| format!("punch: {e}"))?;
        let record = outcome
            .record
            .ok_or_else(|| format!("punch not recorded: {:?}", outcome.verdict))?;
        let mut out = stdout.lock();
        writeln!(out, "ACK {} {}", record.body.id, record.body.seq)
            .and_then(|()| out.flush())
            .map_err(|e| format!("stdout: {e}"))?;
    }
    Ok(())
}

fn sync(db: &str, url: Option<&str>) -> Result<(), String> {
    let (device, _clock) = open(db)?;
    let identity = device.identity().ok_or("the device is not enrolled")?;
    if let Some(url) = url
        && url.trim_end_matches('/') != identity.server_url
    {
        return Err(format!(
            "the device is enrolled with {}, not {url}",
            identity.server_url
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let progress = |p: daka_device::SyncProgress| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "BATCH {} {}", p.sent, p.total).and_then(|()| out.flush());
    };
    let (mut accepted, mut duplicates) = (0, 0);
    loop {
        let report = runtime
            .block_on(device.sync_now(&progress))
            .map_err(|e| format!("sync: {e}"))?;
        accepted += report.accepted;
        duplicates += report.duplicates;
        if let Some(reason) = report.stopped_by {
            return Err(format!("sync stopped: {reason}"));
        }
        if report.rejected > 0 {
            return Err(format!(
                "{} punches rejected by the server",
                report.rejected
            ));
        }
        if report.remaining == 0 {
            println!("DONE {accepted} {duplicates} 0");
            return Ok(());
        }
    }
}
