//! Readable forms of verdicts for people reading a terminal.

use chrono::SecondsFormat;
use daka_core::attempt::Attempt;
use daka_core::geofence::Presence;
use daka_core::verdict::{LocationSource, TimeSource};
use daka_core::{Decision, Engine, Severity, Verdict};

/// A verdict as a few lines of text.
pub fn verdict(engine: &Engine, attempt: &Attempt, v: &Verdict) -> String {
    let decision = match v.decision {
        Decision::Accepted => "ACCEPTED",
        Decision::FieldPunch => "FIELD PUNCH (needs review)",
        Decision::Rejected => "REJECTED",
    };
    let who = match engine.policy().employee(&attempt.employee_id) {
        Some(e) => format!("{} ({})", e.id, e.name),
        None => format!("{:?}", attempt.employee_id),
    };
    let kind = wire_name(&attempt.kind);
    let clock = match v.time_source {
        TimeSource::ServerAnchor => "server time anchor",
        TimeSource::Supplied => "supplied time",
        TimeSource::DeviceWall => "device clock",
    };
    let mut out = format!(
        "{decision}: {who}, punch {kind}, policy v{}, judged at {} ({clock})\n",
        v.policy_version,
        v.evaluated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    );

    let loc = &v.location;
    let presence = match loc.presence {
        Presence::Inside => "inside",
        Presence::Outside => "outside",
        Presence::Uncertain => "uncertain",
    };
    let source = match loc.source {
        LocationSource::Gps => "GPS",
        LocationSource::Wifi => "Wi-Fi",
        LocationSource::None => "no evidence",
    };
    out.push_str(&format!("  location: {presence} by {source}"));
    if let Some(name) = &loc.site_name {
        let role = match (loc.presence, loc.source) {
            (Presence::Inside, _) | (_, LocationSource::Wifi) => "site",
            _ => "nearest allowed site",
        };
        out.push_str(&format!(", {role} {name}"));
    }
    if let Some(d) = loc.distance_to_edge_m {
        out.push_str(&format!(
            ", {:.1} m {} the edge",
            d.abs(),
            if d > 0.0 { "outside" } else { "inside" }
        ));
    }
    if let Some(t) = loc.tolerance_m {
        out.push_str(&format!(" ({t} m tolerance)"));
    }
    if let Some(a) = loc.accuracy_m {
        out.push_str(&format!(", accuracy ±{a:.0} m"));
    }
    if let Some(p) = loc.probability {
        out.push_str(&format!(", probability {p:.4} of being there"));
    }
    out.push('\n');
    for r in &v.reasons {
        let mark = match r.severity {
            Severity::Reject => "✗",
            Severity::Review => "!",
            Severity::Info => "·",
        };
        out.push_str(&format!("  {mark} {:<28} {}\n", r.code.as_str(), r.message));
    }
    out
}

/// The name a unit enum has on the wire (`break_start`, `field_punch`), for printing.
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
