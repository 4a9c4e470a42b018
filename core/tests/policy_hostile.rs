//! Proves that `Policy::from_json` survives hostile input: huge and non-finite numbers, empty
//! and non-object documents, nesting far past any sane depth, megabyte strings and keys,
//! oversized documents, wrong types at every level, and (by property tests) arbitrary text and
//! random mutations of a valid policy. It always returns `Ok` or a bounded, well-formed `Err`;
//! it never panics, overflows the stack or echoes megabytes back in an error.

use daka_core::policy::{Policy, PolicyError, PolicyErrorKind};
use proptest::prelude::*;
use serde_json::{Value, json};

fn example() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hk-policy.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn set(mut doc: Value, ptr: &str, new: Value) -> Value {
    if ptr.is_empty() {
        return new;
    }
    *doc.pointer_mut(ptr).unwrap_or_else(|| panic!("no {ptr}")) = new;
    doc
}

#[track_caller]
fn rejects_text(text: &str, path: &str, kind: PolicyErrorKind) {
    match Policy::from_json(text) {
        Ok(_) => panic!("accepted; expected {path}: {kind}"),
        Err(e) => assert_eq!((e.path.as_str(), &e.kind), (path, &kind), "error was: {e}"),
    }
}

fn syntax(msg: &str) -> PolicyErrorKind {
    PolicyErrorKind::Syntax(msg.into())
}

fn wrong(expected: &'static str, found: &str) -> PolicyErrorKind {
    PolicyErrorKind::WrongType {
        expected,
        found: found.into(),
    }
}

/// What every error must look like, whatever the input: a path in the documented form and a
/// message short enough to log and show.
#[track_caller]
fn well_formed(e: &PolicyError) {
    let p = &e.path;
    assert!(
        p == "$"
            || p.starts_with("$[")
            || p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'),
        "path {p:?}"
    );
    let shown = e.to_string();
    assert!(shown.len() < 2048, "error text of {} bytes", shown.len());
}

// ----- degenerate documents ----------------------------------------------------------------

#[test]
fn empty_and_blank_documents_are_syntax_errors() {
    rejects_text(
        "",
        "$",
        syntax("EOF while parsing a value at line 1 column 0"),
    );
    rejects_text(
        " \n\t ",
        "$",
        syntax("EOF while parsing a value at line 2 column 2"),
    );
    rejects_text(
        "\u{feff}",
        "$",
        syntax("EOF while parsing a value at line 1 column 0"),
    );
}

#[test]
fn non_object_documents_are_wrong_types_at_the_root() {
    for (text, found) in [
        ("null", "null"),
        ("true", "boolean true"),
        ("42", "number 42"),
        ("-0.5", "number -0.5"),
        ("\"policy\"", "string \"policy\""),
        ("[]", "array of 0 elements"),
        ("[{}]", "array of 1 elements"),
    ] {
        rejects_text(text, "$", wrong("object", found));
    }
    rejects_text("{}", "version", PolicyErrorKind::Missing);
}

#[test]
fn trailing_text_and_lone_surrogates_are_syntax_errors() {
    let text = format!("{} {{}}", example());
    let e = Policy::from_json(&text).unwrap_err();
    assert_eq!(e.path, "$");
    assert!(
        matches!(&e.kind, PolicyErrorKind::Syntax(m) if m.starts_with("trailing characters at line 1 column ")),
        "{e}"
    );
    rejects_text(
        r#"{"version": 1, "org": {"id": "\ud800", "name": "x"}}"#,
        "$",
        syntax("unexpected end of hex escape at line 1 column 37"),
    );
}

// ----- numbers -----------------------------------------------------------------------------

#[test]
fn huge_numbers_are_refused_by_the_parser_or_by_range_checks() {
    let doc = example().to_string();
    for huge in ["1e400", "-1e400", &format!("1{}", "0".repeat(400))] {
        let text = doc.replace("\"version\":42", &format!("\"version\":{huge}"));
        let e = Policy::from_json(&text).unwrap_err();
        assert_eq!(e.path, "$", "{huge}");
        assert!(
            matches!(&e.kind, PolicyErrorKind::Syntax(m) if m.starts_with("number out of range at line 1 column ")),
            "{huge}: {e}"
        );
    }
    // Beyond u64 but finite: a number, not an integer.
    let text = doc.replace("\"version\":42", "\"version\":18446744073709551616");
    rejects_text(
        &text,
        "version",
        wrong("non-negative integer", "number 1.8446744073709552e19"),
    );
    // Finite extremes reach the range checks.
    let text = doc.replace("\"radius_m\":150", "\"radius_m\":-1.7976931348623157e308");
    rejects_text(
        &text,
        "sites[2].fences[0].radius_m",
        PolicyErrorKind::Invalid {
            value: "-1.7976931348623157e308".into(),
            reason: "radius must be greater than 0 and at most 20000 m".into(),
        },
    );
    // Underflow rounds to zero, which is then out of range.
    let text = doc.replace(
        "\"radius_m\":150",
        &format!("\"radius_m\":0.{}1", "0".repeat(400)),
    );
    rejects_text(
        &text,
        "sites[2].fences[0].radius_m",
        PolicyErrorKind::Invalid {
            value: "0.0".into(),
            reason: "radius must be greater than 0 and at most 20000 m".into(),
        },
    );
    let doc = set(
        example(),
        "/sites/2/fences/0/center",
        json!([1e308, -1e308]),
    );
    rejects_text(
        &doc.to_string(),
        "sites[2].fences[0].center",
        PolicyErrorKind::Invalid {
            value: "[1e308, -1e308]".into(),
            reason: "longitude 1e308 is outside -180..=180".into(),
        },
    );
}

#[test]
fn nan_and_infinity_literals_are_syntax_errors() {
    let doc = example().to_string();
    for literal in ["NaN", "nan", "Infinity", "-Infinity", "inf"] {
        let text = doc.replace("\"radius_m\":150", &format!("\"radius_m\":{literal}"));
        let e = Policy::from_json(&text).unwrap_err();
        assert_eq!(e.path, "$", "{literal}");
        assert!(
            matches!(&e.kind, PolicyErrorKind::Syntax(m) if m.contains(" at line 1 column ")),
            "{literal}: {e}"
        );
    }
}

// ----- nesting -----------------------------------------------------------------------------

const DEPTH_LIMIT: &str =
    "recursion limit exceeded at line 1 column 128 (at most 127 nested arrays and objects)";

#[test]
fn ten_thousand_nested_arrays_are_a_syntax_error_not_a_stack_overflow() {
    let text = "[".repeat(10_000) + &"]".repeat(10_000);
    rejects_text(&text, "$", syntax(DEPTH_LIMIT));
    // Unbalanced, and far deeper.
    rejects_text(&"[".repeat(1_000_000), "$", syntax(DEPTH_LIMIT));
}

#[test]
fn ten_thousand_nested_objects_are_a_syntax_error() {
    let text = "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000);
    let e = Policy::from_json(&text).unwrap_err();
    assert_eq!(e.path, "$");
    assert_eq!(
        e.kind,
        syntax(
            "recursion limit exceeded at line 1 column 636 (at most 127 nested arrays and objects)"
        )
    );
}

#[test]
fn deep_nesting_inside_a_field_is_caught_the_same_way() {
    let doc = example().to_string();
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let text = doc.replace("\"version\":42", &format!("\"version\":{deep}"));
    let e = Policy::from_json(&text).unwrap_err();
    assert_eq!(e.path, "$");
    assert!(
        matches!(&e.kind, PolicyErrorKind::Syntax(m) if m.starts_with("recursion limit exceeded at line 1 column ")),
        "{e}"
    );
    // Just inside the limit it parses, and is then an ordinary type error. The document's
    // own object is the first level.
    let ok_deep = "[".repeat(126) + &"]".repeat(126);
    let text = doc.replace("\"version\":42", &format!("\"version\":{ok_deep}"));
    rejects_text(
        &text,
        "version",
        wrong("non-negative integer", "array of 1 elements"),
    );
}

// ----- size --------------------------------------------------------------------------------

#[test]
fn documents_over_32_mib_are_refused_before_parsing() {
    let mut text = example().to_string();
    text.push_str(&" ".repeat(32 * 1024 * 1024));
    rejects_text(
        &text,
        "$",
        PolicyErrorKind::TooLarge {
            what: "bytes",
            max: 32 * 1024 * 1024,
        },
    );
}

#[test]
fn documents_with_too_many_values_are_refused_while_parsing() {
    // 8,000,001 numbers in 16 MB of text: under the byte limit, over the value limit.
    let mut text = String::with_capacity(16_000_010);
    text.push('[');
    for _ in 0..8_000_000 {
        text.push_str("0,");
    }
    text.push_str("0]");
    rejects_text(
        &text,
        "$",
        PolicyErrorKind::TooLarge {
            what: "JSON values",
            max: 8_000_000,
        },
    );
}

// ----- megabyte strings --------------------------------------------------------------------

const MB: usize = 1 << 20;

#[test]
fn megabyte_strings_are_rejected_and_not_echoed() {
    let big = "A".repeat(MB);
    let cases: [(&str, &str); 6] = [
        ("/org/id", "org.id"),
        ("/sites/0/name", "sites[0].name"),
        ("/sites/0/wifi_bssids/0", "sites[0].wifi_bssids[0]"),
        ("/sites/0/fences/0/type", "sites[0].fences[0].type"),
        ("/face_matchers/0/jwk/x", "face_matchers[0].jwk.x"),
        ("/employees/0/sites/0", "employees[0].sites[0]"),
    ];
    for (ptr, path) in cases {
        let doc = set(example(), ptr, json!(big));
        let e = Policy::from_json(&doc.to_string()).unwrap_err();
        assert_eq!(e.path, path);
        well_formed(&e);
        match &e.kind {
            PolicyErrorKind::TooLong { len, .. } => assert_eq!(*len, MB),
            PolicyErrorKind::Invalid { value, .. } => {
                assert_eq!(value.chars().count(), 81, "{value}");
                assert!(value.ends_with('…'));
            }
            PolicyErrorKind::UnknownReference { target, value } => {
                assert_eq!(*target, "site");
                assert_eq!(value.chars().count(), 81);
            }
            other => panic!("{ptr}: {other:?}"),
        }
    }
    // The key-coordinate case says how much it decoded to.
    let doc = set(example(), "/face_matchers/0/jwk/x", json!(big));
    let PolicyErrorKind::Invalid { reason, .. } =
        Policy::from_json(&doc.to_string()).unwrap_err().kind
    else {
        panic!()
    };
    assert_eq!(reason, "decodes to 786432 bytes, expected 32");
}

#[test]
fn megabyte_keys_are_shortened_in_paths() {
    let mut doc = example();
    doc["org"]
        .as_object_mut()
        .unwrap()
        .insert("k".repeat(MB), json!(1));
    let e = Policy::from_json(&doc.to_string()).unwrap_err();
    assert_eq!(e.path, format!("org[\"{}…\"]", "k".repeat(64)));
    assert_eq!(
        e.kind,
        PolicyErrorKind::UnknownField {
            allowed: &["id", "name", "time_zone"]
        }
    );
    well_formed(&e);
}

#[test]
fn a_megabyte_position_is_rejected_briefly() {
    let doc = set(
        example(),
        "/sites/2/fences/0/center",
        Value::Array(vec![json!(1); MB]),
    );
    let e = Policy::from_json(&doc.to_string()).unwrap_err();
    assert_eq!(e.path, "sites[2].fences[0].center");
    well_formed(&e);
    let PolicyErrorKind::Invalid { value, reason } = e.kind else {
        panic!("{e}")
    };
    assert!(
        value.starts_with("[1, 1, 1") && value.ends_with('…'),
        "{value}"
    );
    assert_eq!(
        reason,
        "a position has at most three numbers, [longitude, latitude, altitude]"
    );
}

// ----- wrong types at every level ----------------------------------------------------------

#[test]
fn wrong_types_at_every_level_name_the_field() {
    const NNI: &str = "non-negative integer";
    const POS: &str = "position [longitude, latitude]";
    let fields: &[(&str, &str, &str)] = &[
        ("", "$", "object"),
        ("/version", "version", NNI),
        ("/org", "org", "object"),
        ("/org/id", "org.id", "string"),
        ("/org/name", "org.name", "string"),
        ("/org/time_zone", "org.time_zone", "string"),
        ("/thresholds", "thresholds", "object"),
        (
            "/thresholds/max_accuracy_m",
            "thresholds.max_accuracy_m",
            "number",
        ),
        ("/thresholds/uncertain", "thresholds.uncertain", "string"),
        ("/thresholds/max_fix_age_s", "thresholds.max_fix_age_s", NNI),
        (
            "/thresholds/max_travel_speed_kmh",
            "thresholds.max_travel_speed_kmh",
            "number",
        ),
        (
            "/thresholds/clock_jump_tolerance_s",
            "thresholds.clock_jump_tolerance_s",
            NNI,
        ),
        ("/thresholds/face", "thresholds.face", "object"),
        (
            "/thresholds/face/required",
            "thresholds.face.required",
            "boolean",
        ),
        (
            "/thresholds/face/min_score",
            "thresholds.face.min_score",
            "number",
        ),
        (
            "/thresholds/face/min_liveness",
            "thresholds.face.min_liveness",
            "number",
        ),
        (
            "/thresholds/face/max_token_age_s",
            "thresholds.face.max_token_age_s",
            NNI,
        ),
        (
            "/thresholds/face/clock_skew_s",
            "thresholds.face.clock_skew_s",
            NNI,
        ),
        ("/sites", "sites", "array"),
        ("/sites/0", "sites[0]", "object"),
        ("/sites/0/id", "sites[0].id", "string"),
        ("/sites/0/name", "sites[0].name", "string"),
        ("/sites/0/fences", "sites[0].fences", "array"),
        ("/sites/0/fences/0", "sites[0].fences[0]", "object"),
        (
            "/sites/0/fences/0/type",
            "sites[0].fences[0].type",
            "string",
        ),
        (
            "/sites/0/fences/0/coordinates",
            "sites[0].fences[0].coordinates",
            "array",
        ),
        (
            "/sites/0/fences/0/coordinates/0",
            "sites[0].fences[0].coordinates[0]",
            "array",
        ),
        (
            "/sites/0/fences/0/coordinates/0/2",
            "sites[0].fences[0].coordinates[0][2]",
            POS,
        ),
        (
            "/sites/0/fences/0/coordinates/0/2/1",
            "sites[0].fences[0].coordinates[0][2][1]",
            "number",
        ),
        (
            "/sites/1/fences/0/coordinates/1",
            "sites[1].fences[0].coordinates[1]",
            "array",
        ),
        (
            "/sites/1/fences/0/coordinates/0/1",
            "sites[1].fences[0].coordinates[0][1]",
            "array",
        ),
        ("/sites/0/wifi_bssids", "sites[0].wifi_bssids", "array"),
        (
            "/sites/0/wifi_bssids/1",
            "sites[0].wifi_bssids[1]",
            "string",
        ),
        ("/sites/2/fences/0/center", "sites[2].fences[0].center", POS),
        (
            "/sites/2/fences/0/center/0",
            "sites[2].fences[0].center[0]",
            "number",
        ),
        (
            "/sites/2/fences/0/radius_m",
            "sites[2].fences[0].radius_m",
            "number",
        ),
        ("/employees", "employees", "array"),
        ("/employees/3", "employees[3]", "object"),
        ("/employees/3/id", "employees[3].id", "string"),
        ("/employees/3/name", "employees[3].name", "string"),
        ("/employees/3/sites", "employees[3].sites", "array"),
        ("/employees/3/sites/0", "employees[3].sites[0]", "string"),
        ("/employees/3/manager", "employees[3].manager", "string"),
        ("/face_matchers", "face_matchers", "array"),
        ("/face_matchers/1", "face_matchers[1]", "object"),
        ("/face_matchers/1/kid", "face_matchers[1].kid", "string"),
        ("/face_matchers/1/iss", "face_matchers[1].iss", "string"),
        ("/face_matchers/1/jwk", "face_matchers[1].jwk", "object"),
        (
            "/face_matchers/1/jwk/kty",
            "face_matchers[1].jwk.kty",
            "string",
        ),
        (
            "/face_matchers/1/jwk/crv",
            "face_matchers[1].jwk.crv",
            "string",
        ),
        ("/face_matchers/1/jwk/x", "face_matchers[1].jwk.x", "string"),
        ("/face_matchers/1/jwk/y", "face_matchers[1].jwk.y", "string"),
        (
            "/face_matchers/1/jwk/alg",
            "face_matchers[1].jwk.alg",
            "string",
        ),
        (
            "/face_matchers/1/jwk/kid",
            "face_matchers[1].jwk.kid",
            "string",
        ),
        (
            "/face_matchers/0/jwk/use",
            "face_matchers[0].jwk.use",
            "string",
        ),
    ];
    let replacements = [
        (json!(null), "null"),
        (json!(true), "boolean true"),
        (json!(7), "number 7"),
        (json!(-7), "number -7"),
        (json!(2.5), "number 2.5"),
        (json!("text"), "string \"text\""),
        (json!([]), "array of 0 elements"),
        (json!({}), "object with 0 fields"),
    ];
    let mut checked = 0;
    for &(ptr, path, expected) in fields {
        for (value, found) in &replacements {
            let same_type = match expected {
                "object" => value.is_object(),
                "array" | "position [longitude, latitude]" => value.is_array(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                // Negative integers are numbers of the wrong sign, not of the wrong type.
                "non-negative integer" => value.is_i64(),
                "number" => value.is_number(),
                other => panic!("{other}"),
            };
            if same_type {
                continue;
            }
            let doc = set(example(), ptr, value.clone());
            rejects_text(&doc.to_string(), path, wrong(expected, found));
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
}

// ----- property tests ----------------------------------------------------------------------

/// Every JSON pointer into `v`, the root included.
fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(child, format!("{here}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(here);
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|x| json!(x)),
        prop_oneof![
            Just(json!(0)),
            Just(json!(-0.0)),
            Just(json!(180.0)),
            Just(json!(-90.0)),
            Just(json!(90.000001)),
            Just(json!(1e308)),
            Just(json!(5e-324)),
            Just(json!(20_000)),
            Just(json!(9007199254740991u64)),
        ],
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("Polygon"),
            Just("MultiPolygon"),
            Just("Circle"),
            Just("OKP"),
            Just("EC"),
            Just("Ed25519"),
            Just("P-256"),
            Just("field_punch"),
            Just("cwb-store"),
            Just("E0001"),
            Just("aa:bb:cc:dd:ee:ff"),
            Just(""),
        ]
        .prop_map(|s| json!(s)),
        (-180.0..180.0f64, -90.0..90.0f64).prop_map(|(x, y)| json!([x, y])),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    /// Duplicate an array element or re-insert an object member under another name.
    Clone(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        1 => (any::<usize>(), "[a-z_]{1,12}").prop_map(|(i, k)| Mutation::Clone(i, k)),
    ]
}

fn apply(doc: &mut Value, m: &Mutation) {
    let mut ptrs = Vec::new();
    pointers(doc, String::new(), &mut ptrs);
    let pick = |i: usize| ptrs[i % ptrs.len()].clone();
    match m {
        Mutation::Replace(i, v) => {
            let p = pick(*i);
            *doc.pointer_mut(&p).unwrap() = v.clone();
        }
        Mutation::Remove(i) | Mutation::Clone(i, _) => {
            let p = pick(*i);
            let Some((parent, key)) = p.rsplit_once('/') else {
                return;
            };
            let child = doc.pointer(&p).unwrap().clone();
            match (doc.pointer_mut(parent).unwrap(), m) {
                (Value::Object(o), Mutation::Remove(_)) => {
                    o.remove(key);
                }
                (Value::Array(a), Mutation::Remove(_)) => {
                    a.remove(key.parse::<usize>().unwrap());
                }
                (Value::Object(o), Mutation::Clone(_, name)) => {
                    o.insert(name.clone(), child);
                }
                (Value::Array(a), Mutation::Clone(..)) => {
                    a.push(child);
                }
                _ => {}
            }
        }
    }
}

/// Loads `text` and checks the outcome: a well-formed error, or a policy whose references
/// all resolve.
fn check(text: &str) {
    match Policy::from_json(text) {
        Err(e) => well_formed(&e),
        Ok(p) => {
            assert!(!p.sites.is_empty());
            for s in &p.sites {
                assert!(!s.fences.is_empty());
            }
            for e in &p.employees {
                assert!(!e.sites.is_empty());
                assert!(e.sites.iter().all(|&i| i < p.sites.len()));
                if let Some(m) = &e.manager {
                    assert!(p.employee(m).is_some() && m != &e.id);
                }
            }
            if p.thresholds.face.required {
                assert!(!p.face_matchers.is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        check(&v.to_string());
    }

    #[test]
    fn mutated_policies_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut doc = example();
        for m in &mutations {
            apply(&mut doc, m);
        }
        check(&doc.to_string());
    }

    #[test]
    fn damaged_policy_text_never_panics(
        cut in any::<prop::sample::Index>(),
        len in 0usize..40,
        insert in "\\PC{0,4}",
    ) {
        let text = example().to_string();
        let start = cut.index(text.len());
        let end = (start + len).min(text.len());
        let mut bytes = text.into_bytes();
        bytes.splice(start..end, insert.into_bytes());
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn the_unmutated_example_passes_the_same_check() {
    let text = example().to_string();
    check(&text);
    assert!(Policy::from_json(&text).is_ok());
}

// ----- costly geometry ---------------------------------------------------------------------

/// A valid ring of 9,999 positions shaped like a comb: 2,499 teeth whose long edges all overlap
/// each other in longitude, the worst shape for a sweep over longitude.
fn comb(lat0: f64) -> Value {
    let teeth = 2_499;
    let (x0, x1) = (114.0, 114.04);
    let dy = 0.000_003_2;
    let mut ring = vec![json!([x0, lat0])];
    for t in 0..teeth {
        let y = lat0 + (2 * t) as f64 * dy;
        ring.push(json!([x1, y]));
        ring.push(json!([x1, y + dy]));
        ring.push(json!([x0 + 0.001, y + dy]));
        ring.push(json!([x0 + 0.001, y + 2.0 * dy]));
    }
    ring.push(json!([x0, lat0 + (2 * teeth) as f64 * dy]));
    ring.push(json!([x0, lat0]));
    Value::Array(ring)
}

#[test]
fn a_comb_shaped_ring_is_accepted() {
    let doc = set(
        set(
            example(),
            "/sites/0/fences/0/coordinates",
            json!([comb(22.28)]),
        ),
        "/sites/0/tolerance_m",
        json!(0),
    );
    let p = Policy::from_json(&doc.to_string()).unwrap();
    let daka_core::policy::Fence::Polygon(poly) = &p.sites[0].fences[0] else {
        panic!("polygon")
    };
    assert_eq!(poly.exterior().0.len(), 9_999);
    // Grown by a tolerance, the comb's teeth (35 cm apart) merge: checking the grown outline
    // costs more than the document's budget, and the tolerance is refused, not hung on.
    let grown = set(doc, "/sites/0/tolerance_m", json!(20));
    let e = Policy::from_json(&grown.to_string()).unwrap_err();
    assert_eq!(e.path, "sites[0].tolerance_m", "{e}");
}

#[test]
fn crafted_geometry_runs_out_of_work_budget_instead_of_hanging() {
    // Each comb costs about half of the document budget.
    let combs: Vec<Value> = (0..3)
        .map(|i| json!([comb(22.2 + f64::from(i) * 0.02)]))
        .collect();
    let doc = set(
        example(),
        "/sites/0/fences/0",
        json!({"type": "MultiPolygon", "coordinates": combs}),
    );
    rejects_text(
        &doc.to_string(),
        "sites[0].fences[0].coordinates[1][0]",
        PolicyErrorKind::TooLarge {
            what: "edge-pair comparisons while checking fences",
            max: 50_000_000,
        },
    );
}

#[test]
fn polygons_over_20000_positions_are_refused() {
    let doc = set(
        example(),
        "/sites/0/fences/0/coordinates",
        json!([comb(22.28), comb(22.30), comb(22.32)]),
    );
    rejects_text(
        &doc.to_string(),
        "sites[0].fences[0].coordinates[2]",
        PolicyErrorKind::TooLarge {
            what: "positions in one polygon",
            max: 20_000,
        },
    );
}

#[test]
fn a_polygon_with_100_interleaved_holes_is_accepted() {
    // A 9,000-position outline and 100 C-shaped holes nested in each other's bounding boxes,
    // so every pair of holes is compared: about 2,000,000 of the 10,000,000 budget.
    let arc = |r: f64, t: f64| json!([114.2 + r * t.cos(), 22.3 + r * t.sin()]);
    let n = 9_000;
    let mut shell: Vec<Value> = (0..n)
        .map(|i| arc(0.05, i as f64 / n as f64 * std::f64::consts::TAU))
        .collect();
    shell.push(shell[0].clone());
    let mut rings = vec![Value::Array(shell)];
    for h in 0..100 {
        let r = 0.005 + h as f64 * 0.0003;
        let mut ring: Vec<Value> = (0..50)
            .map(|i| arc(r, 0.3 + i as f64 / 49.0 * 5.5))
            .collect();
        ring.extend(
            (0..49)
                .rev()
                .map(|i| arc(r + 0.0001, 0.3 + i as f64 / 48.0 * 5.5)),
        );
        ring.push(ring[0].clone());
        rings.push(Value::Array(ring));
    }
    let doc = set(
        example(),
        "/sites/0/fences/0/coordinates",
        Value::Array(rings),
    );
    let p = Policy::from_json(&doc.to_string()).unwrap();
    let daka_core::policy::Fence::Polygon(poly) = &p.sites[0].fences[0] else {
        panic!("polygon")
    };
    assert_eq!(poly.interiors().len(), 100);
}
