//! `daka fences`, the fence advisor, as an administrator runs it: a table with every site of
//! the example policy and percentages that parse, the same report in JSON, and malformed input
//! refused with exit status 2 and a message naming the flag or file.

use std::process::{Command, Output};

use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn policy() -> String {
    format!("{ROOT}/examples/hk-policy.json")
}

fn daka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daka"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SITES: [&str; 4] = ["cwb-store", "kb-warehouse", "kc-depot", "hq-quarry-bay"];

#[test]
fn the_table_has_every_site_with_percentages() {
    let p = policy();
    let o = daka(&["fences", "--policy", &p, "--samples", "400", "--seed", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("Error model: fix = true position + circular Gaussian"),
        "{text}"
    );
    for site in SITES {
        let row = text
            .lines()
            .find(|l| l.starts_with(site))
            .unwrap_or_else(|| panic!("no row for {site}:\n{text}"));
        let numbers: Vec<f64> = row
            .split_whitespace()
            .skip(1)
            .take(6)
            .map(|c| c.parse().unwrap_or_else(|_| panic!("{c:?} in {row:?}")))
            .collect();
        assert_eq!(numbers.len(), 6, "{row}");
        for n in &numbers {
            assert!((0.0..=100.0).contains(n), "{row}");
        }
        // Honest accepted + reviewed + rejected is every punch (to the rounding).
        let total: f64 = numbers[..3].iter().sum();
        assert!((total - 100.0).abs() <= 0.2, "{row}");
    }
}

#[test]
fn json_is_the_same_report_and_follows_the_settings() {
    let p = policy();
    let args = [
        "fences",
        "--policy",
        &p,
        "--samples",
        "300",
        "--seed",
        "9",
        "--accuracy-median",
        "8",
        "--accuracy-spread",
        "0.3",
        "--json",
    ];
    let o = daka(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["seed"], 9);
    assert_eq!(v["samples_per_site"], 300);
    assert_eq!(v["accuracy"]["median_m"], 8.0);
    assert_eq!(v["accuracy"]["spread"], 0.3);
    let sites = v["sites"].as_array().unwrap();
    let ids: Vec<&str> = sites
        .iter()
        .map(|s| s["site_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, SITES);
    for s in sites {
        let honest = &s["current"]["honest"];
        assert_eq!(honest["samples"], 300);
        let sum = ["accepted", "reviewed", "rejected"]
            .iter()
            .map(|k| honest[k].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(sum, 300);
        assert_eq!(s["current"]["outside"].as_array().unwrap().len(), 3);
        assert!(s["tolerance"]["status"].is_string());
    }
    // Deterministic: the same arguments print the same bytes.
    assert_eq!(daka(&args).stdout, o.stdout);
}

#[test]
fn malformed_input_exits_2_naming_the_problem() {
    let p = policy();
    let missing = format!("{ROOT}/examples/no-such-policy.json");
    let o = daka(&["fences", "--policy", &missing]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no-such-policy.json"), "{}", stderr(&o));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("\"radius_m\": 150", "\"radius_m\": -1");
    std::fs::write(&bad, text).unwrap();
    let o = daka(&["fences", "--policy", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.json") && e.contains("radius_m"), "{e}");

    for (flag, value) in [
        ("--samples", "0"),
        ("--samples", "many"),
        ("--seed", "-1"),
        ("--accuracy-median", "0"),
        ("--accuracy-median", "NaN"),
        ("--accuracy-spread", "-0.5"),
        ("--accuracy-spread", "ten"),
    ] {
        let o = daka(&["fences", "--policy", &p, &format!("{flag}={value}")]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&o).contains(flag), "{flag} {value}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{flag} {value}");
    }
}
