//! Spoofing signals: evidence that a fix or a clock is not what it claims to be.
//!
//! Each signal is a [`Finding`] with a stable [`Code`] and a message with the numbers. The
//! checks only look at what the platform reported and at what the device saw before (the
//! previous punch's fix and clocks); they never read a clock themselves.
//!
//! | signal | code | why it matters |
//! |---|---|---|
//! | platform says the fix, or an earlier fix of the attempt, is mocked | `mock_location` | fake-GPS apps |
//! | speed from the previous fix above the policy limit | `impossible_travel` | teleporting fixes |
//! | fix older than the policy allows | `stale_fix` | a cached fix from somewhere else |
//! | accuracy worse than the policy maximum | `poor_accuracy` | too vague to place the user |
//! | accuracy of exactly 0 m | `implausible_accuracy` | no real receiver reports it |
//! | the previous punch's fix again, bit for bit, with clocks that did not move on, or from GPS | `repeated_fix` | replayed fixes |
//! | the previous punch's position again from the network or fused provider, clocks moved on | `repeated_fix` (info) | a stationary phone, recorded only |
//! | fix time after the attempt | `implausible_fix_time` | a fix from the future is forged |
//! | wall clock moved unlike the monotonic clock | `clock_jump` | user changed the time |
//!
//! A repeat (latitude, longitude and accuracy equal to the previous punch's fix, to the last
//! bit) is judged by the fix's own clocks and its provider:
//!
//! * it is a **replay** (`review`) when the fix's clocks did not move on (its `time` is not
//!   after the previous fix's `time`, or, on the same boot, its `monotonic_ms` is not after the
//!   previous fix's), or when the provider is `gps`: a satellite solution carries noise in every
//!   digit and never repeats to the last bit;
//! * otherwise it is **honest** (`info`): the network (Wi-Fi/cell) and fused providers answer a
//!   phone that has not moved with the same cached position and accuracy, bit for bit, hours
//!   apart (the same desk at clock-in and clock-out). A fix without a provider name (iOS) is
//!   judged like a network fix: only its clocks can betray it.
//!
//! Monotonic readings from different boots are never compared (the clock restarts at boot): a
//! repeat on a new boot with an equal or smaller `monotonic_ms` is judged by its `time` alone.
//!
//! Travel speed is judged generously: the distance between two fixes minus both accuracy
//! radii, over the elapsed monotonic time (wall time when the device rebooted in between), so
//! GPS drift in a street canyon does not look like a teleport.

use geo::{Distance, Geodesic, Point};

use super::{DeviceClock, Fix};
use crate::codes::{Code, Severity};
use crate::policy::Thresholds;

/// One finding about the evidence, before it is weighed into a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What was found; apps pick their message by it.
    pub code: Code,
    /// How much it weighs: the code's [`Code::default_severity`] unless the evaluator adjusts it to
    /// the circumstances (e.g. for a field punch).
    pub severity: Severity,
    /// Human-readable English with the numbers, for people and logs; match on `code`, not on this.
    pub message: String,
}

impl Finding {
    /// A finding with the code's default severity.
    pub fn new(code: Code, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity: code.default_severity(),
            message: message.into(),
        }
    }
}

/// What the device saw at its previous punch, for the checks that compare against it.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousPunch {
    /// The previous punch's fix, if it had one.
    #[serde(default)]
    pub fix: Option<Fix>,
    /// The device clocks at the previous punch.
    #[serde(default)]
    pub clock: Option<DeviceClock>,
}

/// A fix older than this (by the attempt's clocks) in the *future* is implausible.
const FUTURE_FIX_TOLERANCE_MS: i64 = 2_000;

/// Runs every fix and clock check and returns the findings, in the order of the table above.
pub fn check_fix(
    fix: &Fix,
    clock: &DeviceClock,
    previous: &PreviousPunch,
    thresholds: &Thresholds,
) -> Vec<Finding> {
    let mut findings = Vec::new();

    if fix.mock {
        findings.push(Finding::new(
            Code::MockLocation,
            "the fix came from a mock location provider; turn off fake-location apps and developer mock locations",
        ));
    }

    if let Some(previous_fix) = &previous.fix
        && let Some(f) = impossible_travel(
            previous_fix,
            previous.clock.as_ref(),
            fix,
            clock,
            thresholds,
        )
    {
        findings.push(f);
    }

    let age_ms = fix_age_ms(fix, clock);
    let max_age_ms =
        i64::try_from(thresholds.max_fix_age_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    if age_ms > max_age_ms {
        findings.push(Finding::new(
            Code::StaleFix,
            format!(
                "the fix is {} old; this policy accepts fixes up to {} old. Get a fresh location and try again",
                human_duration_ms(age_ms),
                human_duration_ms(max_age_ms)
            ),
        ));
    } else if age_ms < -FUTURE_FIX_TOLERANCE_MS {
        findings.push(Finding::new(
            Code::ImplausibleFixTime,
            format!(
                "the fix is dated {} after the punch attempt",
                human_duration_ms(age_ms.saturating_neg())
            ),
        ));
    }

    if fix.accuracy_m > thresholds.max_accuracy_m {
        findings.push(Finding::new(
            Code::PoorAccuracy,
            format!(
                "location accuracy ±{:.0} m is worse than the ±{:.0} m this policy accepts; step away from tall buildings or connect to the site's Wi-Fi",
                fix.accuracy_m, thresholds.max_accuracy_m
            ),
        ));
    }
    if fix.accuracy_m == 0.0 {
        findings.push(Finding::new(
            Code::ImplausibleAccuracy,
            "the fix claims an accuracy of exactly 0 m, which no real receiver reports",
        ));
    }

    if let Some(previous_fix) = &previous.fix
        && is_exact_repeat(previous_fix, fix)
    {
        findings.push(repeat_finding(
            previous_fix,
            previous.clock.as_ref(),
            fix,
            clock,
        ));
    }

    if let Some(previous_clock) = &previous.clock
        && let Some(f) = clock_jump(previous_clock, clock, thresholds)
    {
        findings.push(f);
    }

    findings
}

/// Age of the fix at the attempt in milliseconds (negative: the fix is dated after the
/// attempt). Monotonic readings are used when both exist on the same boot; otherwise the two
/// device wall-clock readings, which a clock change cannot skew against each other because
/// both come from the same clock.
fn fix_age_ms(fix: &Fix, clock: &DeviceClock) -> i64 {
    match fix.monotonic_ms {
        Some(fix_mono) => i64::try_from(clock.monotonic_ms as i128 - fix_mono as i128).unwrap_or(
            if clock.monotonic_ms > fix_mono {
                i64::MAX
            } else {
                i64::MIN
            },
        ),
        None => (clock.wall - fix.time).num_milliseconds(),
    }
}

fn impossible_travel(
    previous_fix: &Fix,
    previous_clock: Option<&DeviceClock>,
    fix: &Fix,
    clock: &DeviceClock,
    thresholds: &Thresholds,
) -> Option<Finding> {
    let distance = Geodesic.distance(
        Point::new(previous_fix.lon, previous_fix.lat),
        Point::new(fix.lon, fix.lat),
    );
    let unexplained = distance - previous_fix.accuracy_m - fix.accuracy_m;
    if unexplained <= 0.0 || unexplained.is_nan() {
        return None;
    }
    // Elapsed time between the two fixes: monotonic on the same boot, else wall clock.
    let same_boot = previous_clock.is_some_and(|c| c.boot_id == clock.boot_id);
    let elapsed_ms: f64 = match (previous_fix.monotonic_ms, fix.monotonic_ms) {
        (Some(a), Some(b)) if same_boot => b as f64 - a as f64,
        _ => (fix.time - previous_fix.time).num_milliseconds() as f64,
    };
    let elapsed_s = elapsed_ms / 1000.0;
    let speed = if elapsed_s > 0.0 {
        unexplained / elapsed_s
    } else {
        f64::INFINITY
    };
    if speed <= thresholds.max_travel_speed_mps {
        return None;
    }
    let message = if elapsed_s > 0.0 {
        format!(
            "moved {} in {} since the previous fix ({:.0} km/h; this policy allows {:.0} km/h)",
            human_distance(distance),
            human_duration_ms(elapsed_ms as i64),
            speed * 3.6,
            thresholds.max_travel_speed_mps * 3.6
        )
    } else {
        format!(
            "moved {} with no time elapsed since the previous fix",
            human_distance(distance)
        )
    };
    Some(Finding::new(Code::ImpossibleTravel, message))
}

/// Checks the earlier fixes of an attempt (see `Attempt::more_fixes`) beside its latest fix: a
/// mock flag on any of them is `mock_location`, as on the latest fix (reported once: nothing is
/// added when the latest fix is itself mocked, as [`check_fix`] reports that).
pub fn check_earlier_fixes(latest: &Fix, earlier: &[Fix]) -> Vec<Finding> {
    if latest.mock {
        return Vec::new();
    }
    let mocked: Vec<String> = earlier
        .iter()
        .enumerate()
        .filter(|(_, f)| f.mock)
        .map(|(i, _)| i.to_string())
        .collect();
    if mocked.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        Code::MockLocation,
        format!(
            "earlier fix{} {} of this attempt came from a mock location provider; turn off fake-location apps and developer mock locations",
            if mocked.len() == 1 { "" } else { "es" },
            mocked.join(", ")
        ),
    )]
}

/// The finding for a fix that repeats the previous punch's fix bit for bit: a replay
/// (`review`) or an honest stationary repeat (`info`), by the rule in the module header.
fn repeat_finding(
    previous_fix: &Fix,
    previous_clock: Option<&DeviceClock>,
    fix: &Fix,
    clock: &DeviceClock,
) -> Finding {
    let same_boot = previous_clock.is_some_and(|c| c.boot_id == clock.boot_id);
    let frozen_monotonic = same_boot
        && matches!((previous_fix.monotonic_ms, fix.monotonic_ms), (Some(a), Some(b)) if b <= a);
    let frozen_time = fix.time <= previous_fix.time;
    let gps = fix
        .provider
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("gps"));
    let position = format!("({:.7}, {:.7}, ±{} m)", fix.lat, fix.lon, fix.accuracy_m);
    let why = if frozen_time {
        Some("its time did not move on")
    } else if frozen_monotonic {
        Some("its monotonic clock did not move on")
    } else if gps {
        Some("a GPS fix never repeats to the last bit")
    } else {
        None
    };
    match why {
        Some(why) => Finding::new(
            Code::RepeatedFix,
            format!("the fix repeats the previous punch's fix exactly {position}, and {why}"),
        ),
        None => {
            let mut f = Finding::new(
                Code::RepeatedFix,
                format!(
                    "the fix repeats the previous punch's position exactly {position}, taken {} later by the {} provider: a phone that has not moved gets this, so it is only noted",
                    human_duration_ms((fix.time - previous_fix.time).num_milliseconds()),
                    fix.provider.as_deref().unwrap_or("platform's")
                ),
            );
            f.severity = Severity::Info;
            f
        }
    }
}

fn is_exact_repeat(a: &Fix, b: &Fix) -> bool {
    a.lat.to_bits() == b.lat.to_bits()
        && a.lon.to_bits() == b.lon.to_bits()
        && a.accuracy_m.to_bits() == b.accuracy_m.to_bits()
}

fn clock_jump(
    previous: &DeviceClock,
    now: &DeviceClock,
    thresholds: &Thresholds,
) -> Option<Finding> {
    if previous.boot_id != now.boot_id {
        // The monotonic clock restarted: the two readings cannot be compared.
        return None;
    }
    let wall_ms = (now.wall - previous.wall).num_milliseconds() as i128;
    let mono_ms = now.monotonic_ms as i128 - previous.monotonic_ms as i128;
    let drift_ms = wall_ms - mono_ms;
    let tolerance_ms = thresholds.clock_jump_tolerance_s as i128 * 1000;
    if drift_ms.abs() <= tolerance_ms {
        return None;
    }
    let drift = i64::try_from(drift_ms.abs()).unwrap_or(i64::MAX);
    let direction = if drift_ms > 0 { "ahead" } else { "back" };
    Some(Finding::new(
        Code::ClockJump,
        format!(
            "the device clock jumped {} {direction} against elapsed time since the previous punch; the punch time is taken from the trusted clock",
            human_duration_ms(drift)
        ),
    ))
}

/// "850 m", "12.4 km".
pub fn human_distance(metres: f64) -> String {
    if metres.abs() < 1000.0 {
        format!("{:.0} m", metres)
    } else {
        format!("{:.1} km", metres / 1000.0)
    }
}

/// "45 s", "4 min", "2 h 05 min", "3 d 4 h".
pub fn human_duration_ms(ms: i64) -> String {
    let s = ms.unsigned_abs() / 1000;
    let sign = if ms < 0 { "-" } else { "" };
    if s < 90 {
        format!("{sign}{s} s")
    } else if s < 3600 {
        format!("{sign}{} min", (s + 30) / 60)
    } else if s < 86_400 {
        format!("{sign}{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{sign}{} d {} h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    /// The documented defaults: accuracy 100 m, fix age 120 s, 250 km/h, clock jump 120 s.
    fn thresholds() -> Thresholds {
        Thresholds::default()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn fix(lon: f64, lat: f64, acc: f64, time: &str, mono: u64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m: acc,
            time: t(time),
            monotonic_ms: Some(mono),
            mock: false,
            provider: Some("fused".into()),
        }
    }

    fn clock(wall: &str, mono: u64) -> DeviceClock {
        DeviceClock {
            wall: t(wall),
            monotonic_ms: mono,
            boot_id: "boot-1".into(),
        }
    }

    fn codes(findings: &[Finding]) -> Vec<Code> {
        findings.iter().map(|f| f.code).collect()
    }

    // Causeway Bay and Kowloon Bay, about 5.6 km apart.
    const CWB: (f64, f64) = (114.1838, 22.2800);
    const KLB: (f64, f64) = (114.2087, 22.3233);

    #[test]
    fn a_clean_fix_has_no_findings() {
        let f = fix(CWB.0, CWB.1, 12.0, "2026-11-26T01:00:00Z", 1_000_000);
        let c = clock("2026-11-26T01:00:05Z", 1_005_000);
        assert!(check_fix(&f, &c, &PreviousPunch::default(), &thresholds()).is_empty());
    }

    #[test]
    fn each_signal_has_its_code() {
        let th = thresholds();
        let c = clock("2026-11-26T01:00:05Z", 1_005_000);
        let mut f = fix(CWB.0, CWB.1, 12.0, "2026-11-26T01:00:00Z", 1_000_000);
        f.mock = true;
        assert_eq!(
            codes(&check_fix(&f, &c, &Default::default(), &th)),
            [Code::MockLocation]
        );

        let f = fix(CWB.0, CWB.1, 12.0, "2026-11-26T00:50:00Z", 400_000);
        let found = check_fix(&f, &c, &Default::default(), &th);
        assert_eq!(codes(&found), [Code::StaleFix]);
        assert!(
            found[0].message.contains("10 min old"),
            "{}",
            found[0].message
        );

        let f = fix(CWB.0, CWB.1, 150.0, "2026-11-26T01:00:00Z", 1_000_000);
        let found = check_fix(&f, &c, &Default::default(), &th);
        assert_eq!(codes(&found), [Code::PoorAccuracy]);
        assert!(found[0].message.contains("±150 m"), "{}", found[0].message);

        let f = fix(CWB.0, CWB.1, 0.0, "2026-11-26T01:00:00Z", 1_000_000);
        assert_eq!(
            codes(&check_fix(&f, &c, &Default::default(), &th)),
            [Code::ImplausibleAccuracy]
        );

        let f = fix(CWB.0, CWB.1, 10.0, "2026-11-26T01:00:30Z", 1_030_000);
        assert_eq!(
            codes(&check_fix(&f, &c, &Default::default(), &th)),
            [Code::ImplausibleFixTime]
        );
    }

    #[test]
    fn boundaries_of_age_and_accuracy_are_inclusive() {
        let th = thresholds();
        let c = clock("2026-11-26T01:02:00Z", 1_120_000);
        let f = fix(CWB.0, CWB.1, 100.0, "2026-11-26T01:00:00Z", 1_000_000);
        assert!(check_fix(&f, &c, &Default::default(), &th).is_empty());
        let f = fix(CWB.0, CWB.1, 100.000001, "2026-11-26T01:00:00Z", 999_999);
        assert_eq!(
            codes(&check_fix(&f, &c, &Default::default(), &th)),
            [Code::StaleFix, Code::PoorAccuracy]
        );
    }

    #[test]
    fn travel_speed_uses_monotonic_time_and_accuracy() {
        let th = thresholds();
        let prev = PreviousPunch {
            fix: Some(fix(CWB.0, CWB.1, 20.0, "2026-11-26T01:00:00Z", 1_000_000)),
            clock: Some(clock("2026-11-26T01:00:00Z", 1_000_000)),
        };
        // 5.6 km in 60 s of monotonic time is ~336 km/h: flagged, even though the user moved
        // the wall clock an hour forward to make it look plausible.
        let f = fix(KLB.0, KLB.1, 20.0, "2026-11-26T02:01:00Z", 1_060_000);
        let c = clock("2026-11-26T02:01:00Z", 1_060_000);
        let found = check_fix(&f, &c, &prev, &th);
        assert_eq!(codes(&found), [Code::ImpossibleTravel, Code::ClockJump]);
        assert!(found[0].message.contains("km/h"), "{}", found[0].message);
        assert!(
            found[1].message.contains("1 h 00 min ahead"),
            "{}",
            found[1].message
        );

        // The same trip in 30 minutes is a taxi ride.
        let f = fix(KLB.0, KLB.1, 20.0, "2026-11-26T01:30:00Z", 2_800_000);
        let c = clock("2026-11-26T01:30:00Z", 2_800_000);
        assert!(check_fix(&f, &c, &prev, &th).is_empty());
    }

    #[test]
    fn drift_within_accuracy_is_not_travel_and_repeats_are_caught() {
        let th = thresholds();
        let first = fix(CWB.0, CWB.1, 30.0, "2026-11-26T01:00:00Z", 1_000_000);
        let prev = PreviousPunch {
            fix: Some(first.clone()),
            clock: Some(clock("2026-11-26T01:00:00Z", 1_000_000)),
        };
        // 40 m of drift one second later, accuracies 30 m each: explained by accuracy.
        let drift = fix(
            CWB.0 + 0.00039,
            CWB.1,
            30.0,
            "2026-11-26T01:00:01Z",
            1_001_000,
        );
        let c = clock("2026-11-26T01:00:01Z", 1_001_000);
        assert!(check_fix(&drift, &c, &prev, &th).is_empty());

        let mut replay = first.clone();
        replay.time = t("2026-11-26T09:00:00Z");
        replay.monotonic_ms = Some(29_800_000);
        let c = clock("2026-11-26T09:00:00Z", 29_800_000);
        assert_eq!(
            codes(&check_fix(&replay, &c, &prev, &th)),
            [Code::RepeatedFix]
        );
    }

    fn severities(findings: &[Finding]) -> Vec<(Code, Severity)> {
        findings.iter().map(|f| (f.code, f.severity)).collect()
    }

    /// A clock-in at the desk at 01:00 and the same phone's clock-out fix at 09:00.
    fn desk(provider: Option<&str>) -> (PreviousPunch, Fix, DeviceClock) {
        let mut first = fix(CWB.0, CWB.1, 20.0, "2026-11-26T01:00:00Z", 1_000_000);
        first.provider = provider.map(str::to_string);
        let prev = PreviousPunch {
            fix: Some(first.clone()),
            clock: Some(clock("2026-11-26T01:00:01Z", 1_001_000)),
        };
        let mut again = first;
        again.time = t("2026-11-26T09:00:00Z");
        again.monotonic_ms = Some(29_800_000);
        (prev, again, clock("2026-11-26T09:00:01Z", 29_801_000))
    }

    #[test]
    fn a_network_repeat_with_clocks_moving_on_is_only_noted() {
        let th = thresholds();
        for provider in [Some("network"), Some("fused"), Some("Network"), None] {
            let (prev, again, c) = desk(provider);
            let found = check_fix(&again, &c, &prev, &th);
            assert_eq!(
                severities(&found),
                [(Code::RepeatedFix, Severity::Info)],
                "{provider:?}"
            );
            assert!(
                found[0].message.contains("8 h 00 min later"),
                "{}",
                found[0].message
            );
        }
    }

    #[test]
    fn a_gps_repeat_is_a_replay_whatever_its_clocks() {
        let th = thresholds();
        for provider in ["gps", "GPS"] {
            let (prev, again, c) = desk(Some(provider));
            let found = check_fix(&again, &c, &prev, &th);
            assert_eq!(severities(&found), [(Code::RepeatedFix, Severity::Review)]);
            assert!(
                found[0].message.contains("GPS fix never repeats"),
                "{}",
                found[0].message
            );
        }
    }

    #[test]
    fn a_network_repeat_with_a_frozen_time_is_a_replay() {
        let th = thresholds();
        let (prev, mut again, c) = desk(Some("network"));
        again.time = prev.fix.as_ref().unwrap().time;
        let found = check_fix(&again, &c, &prev, &th);
        // Its monotonic reading moved on; its wall time is frozen.
        assert_eq!(severities(&found), [(Code::RepeatedFix, Severity::Review)]);
        assert!(
            found[0].message.contains("time did not move on"),
            "{}",
            found[0].message
        );
        // A time behind the previous fix's does not move on either.
        again.time = t("2026-11-26T00:59:59Z");
        let found = check_fix(&again, &c, &prev, &th);
        assert_eq!(severities(&found), [(Code::RepeatedFix, Severity::Review)]);
    }

    #[test]
    fn a_network_repeat_with_a_frozen_monotonic_clock_is_a_replay_on_the_same_boot_only() {
        let th = thresholds();
        let (prev, mut again, mut c) = desk(Some("network"));
        let previous_mono = prev.fix.as_ref().unwrap().monotonic_ms;
        again.monotonic_ms = previous_mono;
        // The attempt's clock says 8 h passed on this boot; the fix's monotonic reading did not
        // move: a replay (and, read by its monotonic reading, a stale fix).
        let found = check_fix(&again, &c, &prev, &th);
        assert!(
            severities(&found).contains(&(Code::RepeatedFix, Severity::Review)),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.message.contains("monotonic clock did not move on"))
        );
        // Boundary: the same monotonic reading on another boot is a coincidence of two clocks
        // that restarted; with its time moved on, the repeat is honest.
        c.boot_id = "boot-2".into();
        c.monotonic_ms = 1_001_000;
        let found = check_fix(&again, &c, &prev, &th);
        assert_eq!(severities(&found), [(Code::RepeatedFix, Severity::Info)]);
        // Without a monotonic reading, only the time is compared, even on the same boot.
        again.monotonic_ms = None;
        let c = clock("2026-11-26T09:00:01Z", 29_801_000);
        let found = check_fix(&again, &c, &prev, &th);
        assert_eq!(severities(&found), [(Code::RepeatedFix, Severity::Info)]);
    }

    #[test]
    fn a_mock_flag_on_an_earlier_fix_is_mock_location_once() {
        let latest = fix(CWB.0, CWB.1, 12.0, "2026-11-26T01:00:00Z", 1_000_000);
        let mut earlier = vec![
            fix(CWB.0, CWB.1, 10.0, "2026-11-26T00:59:59Z", 999_000),
            fix(CWB.0, CWB.1, 11.0, "2026-11-26T00:59:58Z", 998_000),
        ];
        assert!(check_earlier_fixes(&latest, &earlier).is_empty());
        earlier[1].mock = true;
        let found = check_earlier_fixes(&latest, &earlier);
        assert_eq!(severities(&found), [(Code::MockLocation, Severity::Reject)]);
        assert!(
            found[0].message.contains("earlier fix 1 "),
            "{}",
            found[0].message
        );
        earlier[0].mock = true;
        let found = check_earlier_fixes(&latest, &earlier);
        assert!(
            found[0].message.contains("earlier fixes 0, 1 "),
            "{}",
            found[0].message
        );
        let mut mocked = latest;
        mocked.mock = true;
        assert!(check_earlier_fixes(&mocked, &earlier).is_empty());
    }

    #[test]
    fn a_reboot_makes_clocks_incomparable_not_suspicious() {
        let th = thresholds();
        let prev = PreviousPunch {
            fix: None,
            clock: Some(clock("2026-11-26T01:00:00Z", 50_000_000)),
        };
        let f = fix(CWB.0, CWB.1, 12.0, "2026-11-26T09:00:00Z", 10_000);
        let mut c = clock("2026-11-26T09:00:00Z", 12_000);
        c.boot_id = "boot-2".into();
        assert!(check_fix(&f, &c, &prev, &th).is_empty());
    }

    #[test]
    fn extreme_clock_values_do_not_overflow() {
        let th = thresholds();
        let f = fix(CWB.0, CWB.1, 12.0, "2026-11-26T01:00:00Z", u64::MAX);
        let c = clock("2026-11-26T01:00:00Z", 0);
        assert_eq!(
            codes(&check_fix(&f, &c, &Default::default(), &th)),
            [Code::ImplausibleFixTime]
        );
        let f = fix(CWB.0, CWB.1, 12.0, "2026-11-26T01:00:00Z", 0);
        let c = clock("2026-11-26T01:00:00Z", u64::MAX);
        let prev = PreviousPunch {
            fix: None,
            clock: Some(clock("1970-01-01T00:00:00Z", 0)),
        };
        let found = check_fix(&f, &c, &prev, &th);
        assert_eq!(codes(&found), [Code::StaleFix, Code::ClockJump]);
    }

    #[test]
    fn human_forms() {
        assert_eq!(human_duration_ms(45_000), "45 s");
        assert_eq!(human_duration_ms(240_000), "4 min");
        assert_eq!(human_duration_ms(7_500_000), "2 h 05 min");
        assert_eq!(human_duration_ms(-240_000), "-4 min");
        assert_eq!(human_distance(37.4), "37 m");
        assert_eq!(human_distance(5_612.0), "5.6 km");
    }
}
