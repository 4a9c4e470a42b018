//! Proves that `Policy::from_json` accepts well-formed policies (the Hong Kong example included)
//! with the documented defaults, and rejects each kind of bad value with the exact JSON path and
//! error kind: syntax, types, missing/unknown/duplicate fields, lengths and counts, coordinates,
//! rings, circles, references, BSSIDs, thresholds and face-matcher keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use daka_core::policy::{
    Fence, GeometryProblem, Policy, PolicyError, PolicyErrorKind, PresenceRule, PublicKey,
    UncertainAction,
};
use serde_json::{Value, json};

// Public halves of the demonstration keys in examples/keys/.
const ED_X: &str = "I7wnyFye6J0HKuUeWgzCD0V4UIWiIB6PExzOccEcxqI";
const P256_X: &str = "f-RbBBi_9feJqd63ft-9eJXmPZfqtyEHbfYhsCz8PCA";
const P256_Y: &str = "r3O_K4vSTvC3Yefope5QooIMHmuP-jgHEifwcsYLbZo";

const SITE_FIELDS: &[&str] = &["id", "name", "fences", "wifi_bssids", "tolerance_m"];
const ROOT_FIELDS: &[&str] = &[
    "version",
    "org",
    "thresholds",
    "sites",
    "employees",
    "face_matchers",
    "approvals",
    "attendance",
    "enrolment",
];
const OKP_FIELDS: &[&str] = &["kty", "crv", "x", "alg", "kid", "use"];
const POLYGON_FIELDS: &[&str] = &["type", "coordinates"];

/// A square of `side` degrees with its south-west corner at (`lon`, `lat`), closed.
fn square(lon: f64, lat: f64, side: f64) -> Value {
    json!([
        [lon, lat],
        [lon + side, lat],
        [lon + side, lat + side],
        [lon, lat + side],
        [lon, lat]
    ])
}

/// A small valid policy: two sites (polygon, circle), three employees, two keys.
fn base() -> Value {
    json!({
        "version": 3,
        "org": {"id": "acme-hk", "name": "Acme HK"},
        "sites": [
            {"id": "cwb", "name": "Causeway Bay",
             "fences": [{"type": "Polygon", "coordinates": [square(114.1828, 22.2798, 0.0005)]}],
             "wifi_bssids": ["AA:BB:CC:DD:EE:01"]},
            {"id": "kc", "name": "Kwai Chung Depot",
             "fences": [{"center": [114.1315, 22.3568], "radius_m": 150}]}
        ],
        "employees": [
            {"id": "E1", "name": "Boss", "sites": ["cwb", "kc"]},
            {"id": "E2", "name": "Chan Tai Man", "sites": ["cwb"], "manager": "E1"},
            {"id": "E3", "name": "Lam Chi Keung", "sites": ["kc"], "manager": "E1"}
        ],
        "face_matchers": [
            {"kid": "ed", "iss": "https://face.example", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": ED_X}},
            {"kid": "p", "jwk": {"kty": "EC", "crv": "P-256", "x": P256_X, "y": P256_Y}}
        ]
    })
}

/// `doc` with the value at JSON pointer `ptr` replaced by `new` (the parent must exist).
fn set(mut doc: Value, ptr: &str, new: Value) -> Value {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    let parent = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match parent {
        Value::Object(m) => {
            m.insert(key.to_owned(), new);
        }
        Value::Array(a) => {
            let i: usize = key.parse().unwrap();
            if i == a.len() {
                a.push(new);
            } else {
                a[i] = new;
            }
        }
        _ => panic!("{ptr} has no container parent"),
    }
    doc
}

/// `doc` without the value at `ptr`.
fn remove(mut doc: Value, ptr: &str) -> Value {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent).unwrap() {
        Value::Object(m) => {
            m.remove(key).unwrap();
        }
        Value::Array(a) => {
            a.remove(key.parse().unwrap());
        }
        _ => panic!(),
    }
    doc
}

fn load(doc: &Value) -> Result<Policy, PolicyError> {
    Policy::from_json(&doc.to_string())
}

#[track_caller]
fn rejects_text(text: &str, path: &str, kind: PolicyErrorKind) {
    match Policy::from_json(text) {
        Ok(_) => panic!("accepted; expected {path}: {kind}"),
        Err(e) => {
            assert_eq!((e.path.as_str(), &e.kind), (path, &kind), "error was: {e}");
        }
    }
}

#[track_caller]
fn rejects(doc: &Value, path: &str, kind: PolicyErrorKind) {
    rejects_text(&doc.to_string(), path, kind);
}

#[track_caller]
fn err(doc: &Value) -> PolicyError {
    load(doc).expect_err("expected an error")
}

fn invalid(value: &str, reason: &str) -> PolicyErrorKind {
    PolicyErrorKind::Invalid {
        value: value.into(),
        reason: reason.into(),
    }
}

fn wrong(expected: &'static str, found: &str) -> PolicyErrorKind {
    PolicyErrorKind::WrongType {
        expected,
        found: found.into(),
    }
}

fn geometry(value: &Value, problem: GeometryProblem) -> PolicyErrorKind {
    PolicyErrorKind::Geometry {
        value: show(value),
        problem,
    }
}

/// How the parser shows a value: compact JSON with ", " separators, cut at 80 characters.
fn show(value: &Value) -> String {
    fn render(v: &Value, out: &mut String) {
        match v {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    render(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    render(value, &mut out);
    match out.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

const RING0: &str = "/sites/0/fences/0/coordinates/0";
const RING0_PATH: &str = "sites[0].fences[0].coordinates[0]";

fn with_rings(rings: Value) -> Value {
    set(base(), "/sites/0/fences/0/coordinates", rings)
}

// ----- accepted documents ------------------------------------------------------------------

#[test]
fn minimal_policy_gets_the_documented_defaults() {
    let p = load(&base()).unwrap();
    assert_eq!(p.version, 3);
    assert_eq!(p.org.time_zone, "Asia/Hong_Kong");
    let t = &p.thresholds;
    assert_eq!(t.max_accuracy_m, 100.0);
    assert_eq!(t.uncertain, UncertainAction::FieldPunch);
    assert_eq!(t.max_fix_age_s, 120);
    assert!((t.max_travel_speed_mps - 250.0 / 3.6).abs() < 1e-9);
    assert_eq!(t.clock_jump_tolerance_s, 120);
    assert!(!t.face.required);
    assert_eq!(t.face.min_score, 0.8);
    assert_eq!(t.face.min_liveness, 0.5);
    assert_eq!(t.face.max_token_age_s, 120);
    assert_eq!(t.face.clock_skew_s, 30);
    assert_eq!(p.sites[1].wifi_bssids, Vec::<String>::new());
    assert_eq!(p.sites[0].wifi_bssids, vec!["aa:bb:cc:dd:ee:01"]);
    assert_eq!(
        p.sites[1].fences,
        vec![Fence::Circle {
            center: geo::Coord {
                x: 114.1315,
                y: 22.3568
            },
            radius_m: 150.0
        }]
    );
    assert_eq!(p.employees[1].sites, vec![0]);
    assert_eq!(p.employees[1].manager.as_deref(), Some("E1"));
    assert_eq!(p.manager_of("E2").map(|e| e.id.as_str()), Some("E1"));
    assert_eq!(
        p.face_key("ed").unwrap().issuer.as_deref(),
        Some("https://face.example")
    );
    assert_eq!(p.face_key("p").unwrap().issuer, None);
}

#[test]
fn optional_sections_may_be_left_out() {
    let doc = remove(remove(base(), "/face_matchers"), "/sites/0/wifi_bssids");
    let p = load(&doc).unwrap();
    assert!(p.face_matchers.is_empty());
    assert!(p.sites[0].wifi_bssids.is_empty());
    let doc = set(base(), "/employees", json!([]));
    assert!(load(&doc).unwrap().employees.is_empty());
}

#[test]
fn thresholds_are_read_and_speed_is_stored_in_metres_per_second() {
    let doc = set(
        base(),
        "/thresholds",
        json!({"max_accuracy_m": 65.5, "uncertain": "reject", "max_fix_age_s": 60,
               "max_travel_speed_kmh": 360, "clock_jump_tolerance_s": 300,
               "face": {"min_score": 0.9, "clock_skew_s": 0}}),
    );
    let t = load(&doc).unwrap().thresholds;
    assert_eq!(t.max_accuracy_m, 65.5);
    assert_eq!(t.uncertain, UncertainAction::Reject);
    assert_eq!(t.max_fix_age_s, 60);
    assert!((t.max_travel_speed_mps - 100.0).abs() < 1e-9);
    assert_eq!(t.clock_jump_tolerance_s, 300);
    assert_eq!(t.face.min_score, 0.9);
    assert_eq!(t.face.clock_skew_s, 0);
    assert_eq!(t.face.min_liveness, 0.5, "unset fields keep their defaults");
    for (text, action) in [
        ("allow", UncertainAction::Allow),
        ("field_punch", UncertainAction::FieldPunch),
    ] {
        let doc = set(base(), "/thresholds", json!({"uncertain": text}));
        assert_eq!(load(&doc).unwrap().thresholds.uncertain, action);
    }
}

#[test]
fn multipolygons_become_one_fence_per_polygon_and_altitude_is_ignored() {
    let mut ring = square(114.20, 22.32, 0.001);
    ring[0] = json!([114.20, 22.32, 12.5]);
    let doc = set(
        base(),
        "/sites/0/fences/0",
        json!({"type": "MultiPolygon", "coordinates": [[ring], [square(114.21, 22.32, 0.001)]]}),
    );
    let p = load(&doc).unwrap();
    assert_eq!(p.sites[0].fences.len(), 2);
    let Fence::Polygon(first) = &p.sites[0].fences[0] else {
        panic!("expected a polygon")
    };
    assert_eq!(
        first.exterior().0[0],
        geo::Coord {
            x: 114.20,
            y: 22.32
        }
    );
    let doc = set(base(), "/sites/1/fences/0/type", json!("Circle"));
    assert!(matches!(
        load(&doc).unwrap().sites[1].fences[0],
        Fence::Circle { .. }
    ));
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let text = format!("\u{feff}{}", base());
    assert_eq!(Policy::from_json(&text).unwrap().version, 3);
}

#[test]
fn the_hong_kong_example_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hk-policy.json");
    let text = std::fs::read_to_string(path).unwrap();
    let p = Policy::from_json(&text).unwrap();
    assert_eq!(p.org.id, "harbour-lane");
    assert_eq!(p.org.time_zone, "Asia/Hong_Kong");
    let ids: Vec<&str> = p.sites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["cwb-store", "kb-warehouse", "kc-depot", "hq-quarry-bay"]
    );

    let (_, cwb) = p.site_by_id("cwb-store").unwrap();
    let Fence::Polygon(shop) = &cwb.fences[0] else {
        panic!("the shop is a polygon")
    };
    let c = shop.exterior().0[0];
    assert!((c.x - 114.183).abs() < 0.002 && (c.y - 22.280).abs() < 0.002);
    assert_eq!(cwb.wifi_bssids[2], "24:de:c6:7f:30:0a");

    let (_, kb) = p.site_by_id("kb-warehouse").unwrap();
    assert_eq!(kb.fences.len(), 2, "main building and annex");
    let Fence::Polygon(main) = &kb.fences[0] else {
        panic!("polygon")
    };
    assert_eq!(main.interiors().len(), 1, "the courtyard is a hole");

    let (_, kc) = p.site_by_id("kc-depot").unwrap();
    assert!(matches!(kc.fences[0], Fence::Circle { radius_m, .. } if radius_m == 150.0));

    assert_eq!(p.employees.len(), 6);
    assert_eq!(p.manager_of("E1001").unwrap().id, "E0101");
    assert_eq!(p.manager_of("E0101").unwrap().id, "E0001");
    assert!(p.employee("E0001").unwrap().manager.is_none());
    assert_eq!(p.employee("E2001").unwrap().sites, vec![1, 2]);

    assert!(p.thresholds.face.required);
    assert!(matches!(
        p.face_key("hl-face-device-2026-01").unwrap().key,
        PublicKey::Ed25519(_)
    ));
    let server = p.face_key("hl-face-server-2026-01").unwrap();
    assert!(matches!(&server.key, PublicKey::P256(b) if b[0] == 0x04));
    assert_eq!(
        server.issuer.as_deref(),
        Some("https://face.harbour-lane.example/server")
    );
}

#[test]
fn the_example_private_keys_match_the_trusted_public_keys() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/keys/");
    for (file, x) in [
        ("face-matcher-ed25519.private.jwk", ED_X),
        ("face-matcher-p256.private.jwk", P256_X),
    ] {
        let jwk: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}{file}")).unwrap())
                .unwrap();
        assert_eq!(jwk["x"], x, "{file}");
        assert!(jwk["d"].is_string(), "{file} holds the private half");
    }
}

// ----- syntax, types, fields ---------------------------------------------------------------

#[test]
fn syntax_errors_carry_line_and_column() {
    rejects_text(
        "{\n  \"version\": 1,\n}",
        "$",
        PolicyErrorKind::Syntax("trailing comma at line 3 column 1".into()),
    );
    rejects_text(
        "{\"version\": 1 \"org\": {}}",
        "$",
        PolicyErrorKind::Syntax("expected `,` or `}` at line 1 column 15".into()),
    );
}

#[test]
fn wrong_types_are_named_with_what_was_found() {
    rejects(
        &set(base(), "/version", json!("7")),
        "version",
        wrong("non-negative integer", "string \"7\""),
    );
    rejects(
        &set(base(), "/sites", json!({})),
        "sites",
        wrong("array", "object with 0 fields"),
    );
    rejects(
        &set(base(), "/org", json!(["acme"])),
        "org",
        wrong("object", "array of 1 elements"),
    );
    rejects(
        &set(base(), "/sites/1/fences/0/radius_m", json!("150")),
        "sites[1].fences[0].radius_m",
        wrong("number", "string \"150\""),
    );
    rejects(
        &set(base(), "/thresholds", json!({"face": {"required": "yes"}})),
        "thresholds.face.required",
        wrong("boolean", "string \"yes\""),
    );
}

#[test]
fn missing_required_fields_are_named() {
    for (ptr, path) in [
        ("/version", "version"),
        ("/org", "org"),
        ("/org/id", "org.id"),
        ("/org/name", "org.name"),
        ("/sites", "sites"),
        ("/employees", "employees"),
        ("/sites/0/id", "sites[0].id"),
        ("/sites/0/name", "sites[0].name"),
        ("/sites/0/fences", "sites[0].fences"),
        (
            "/sites/0/fences/0/coordinates",
            "sites[0].fences[0].coordinates",
        ),
        ("/sites/1/fences/0/radius_m", "sites[1].fences[0].radius_m"),
        ("/employees/1/sites", "employees[1].sites"),
        ("/face_matchers/0/kid", "face_matchers[0].kid"),
        ("/face_matchers/0/jwk", "face_matchers[0].jwk"),
        ("/face_matchers/1/jwk/y", "face_matchers[1].jwk.y"),
        ("/face_matchers/0/jwk/crv", "face_matchers[0].jwk.crv"),
    ] {
        rejects(&remove(base(), ptr), path, PolicyErrorKind::Missing);
    }
    // A fence without `type` is a circle only if it looks like one.
    rejects(
        &remove(base(), "/sites/0/fences/0/type"),
        "sites[0].fences[0].type",
        PolicyErrorKind::Missing,
    );
}

#[test]
fn unknown_fields_are_rejected_with_the_allowed_names() {
    let site = base()["sites"][0].clone();
    let mut typo = site.as_object().unwrap().clone();
    let fences = typo.remove("fences").unwrap();
    typo.insert("fenses".into(), fences);
    rejects(
        &set(base(), "/sites/0", Value::Object(typo)),
        "sites[0].fenses",
        PolicyErrorKind::UnknownField {
            allowed: SITE_FIELDS,
        },
    );
    rejects(
        &set(base(), "/versoin", json!(3)),
        "versoin",
        PolicyErrorKind::UnknownField {
            allowed: ROOT_FIELDS,
        },
    );
    rejects(
        &set(base(), "/org/time zone", json!("UTC")),
        "org[\"time zone\"]",
        PolicyErrorKind::UnknownField {
            allowed: &["id", "name", "time_zone"],
        },
    );
    // Fields of the other fence shape are unknown for this one.
    rejects(
        &set(base(), "/sites/0/fences/0/radius_m", json!(50)),
        "sites[0].fences[0].radius_m",
        PolicyErrorKind::UnknownField {
            allowed: POLYGON_FIELDS,
        },
    );
    rejects(
        &set(base(), "/sites/0/fences/0/bbox", json!([0, 0, 1, 1])),
        "sites[0].fences[0].bbox",
        PolicyErrorKind::UnknownField {
            allowed: &["type", "coordinates", "center", "radius_m"],
        },
    );
}

#[test]
fn a_field_given_twice_is_rejected() {
    let text = base()
        .to_string()
        .replace("\"radius_m\":150", "\"radius_m\":150,\"radius_m\":15000");
    rejects_text(
        &text,
        "sites[1].fences[0].radius_m",
        PolicyErrorKind::DuplicateField,
    );
}

#[test]
fn empty_ids_and_names_are_rejected() {
    rejects(
        &set(base(), "/sites/0/id", json!("")),
        "sites[0].id",
        PolicyErrorKind::Empty,
    );
    rejects(
        &set(base(), "/employees/0/name", json!("   ")),
        "employees[0].name",
        PolicyErrorKind::Empty,
    );
    rejects(
        &set(base(), "/org/id", json!("")),
        "org.id",
        PolicyErrorKind::Empty,
    );
    rejects(
        &set(base(), "/sites/0/fences", json!([])),
        "sites[0].fences",
        PolicyErrorKind::Empty,
    );
    rejects(
        &set(base(), "/sites", json!([])),
        "sites",
        PolicyErrorKind::Empty,
    );
}

#[test]
fn ids_and_names_have_length_limits_in_characters() {
    rejects(
        &set(base(), "/sites/0/id", json!("x".repeat(129))),
        "sites[0].id",
        PolicyErrorKind::TooLong { max: 128, len: 129 },
    );
    // 128 CJK characters are 384 bytes but within the limit.
    let doc = set(base(), "/employees/2/id", json!("職".repeat(128)));
    assert_eq!(load(&doc).unwrap().employees[2].id.chars().count(), 128);
    rejects(
        &set(base(), "/employees/0/name", json!("名".repeat(257))),
        "employees[0].name",
        PolicyErrorKind::TooLong { max: 256, len: 257 },
    );
    rejects(
        &set(base(), "/org/name", json!("a".repeat(1 << 20))),
        "org.name",
        PolicyErrorKind::TooLong {
            max: 256,
            len: 1 << 20,
        },
    );
}

#[test]
fn ids_may_not_hide_whitespace_or_control_characters() {
    rejects(
        &set(base(), "/employees/0/id", json!("E1 ")),
        "employees[0].id",
        invalid("\"E1 \"", "ids must not start or end with whitespace"),
    );
    rejects(
        &set(base(), "/sites/0/id", json!("cwb\u{0}")),
        "sites[0].id",
        invalid("\"cwb\\u0000\"", "ids must not contain control characters"),
    );
    rejects(
        &set(base(), "/sites/0/name", json!("Causeway\nBay")),
        "sites[0].name",
        invalid("\"Causeway\\nBay\"", "must not contain control characters"),
    );
}

#[test]
fn version_is_a_non_negative_integer() {
    rejects(
        &set(base(), "/version", json!(-1)),
        "version",
        invalid("-1", "must be a non-negative integer"),
    );
    rejects(
        &set(base(), "/version", json!(7.5)),
        "version",
        wrong("non-negative integer", "number 7.5"),
    );
    rejects(
        &set(base(), "/version", json!(9007199254740992u64)),
        "version",
        invalid("9007199254740992", "must be at most 9007199254740991"),
    );
    let doc = set(base(), "/version", json!(0));
    assert_eq!(load(&doc).unwrap().version, 0);
}

#[test]
fn the_time_zone_must_be_an_iana_name() {
    rejects(
        &set(base(), "/org/time_zone", json!("Asia/Hong_kong")),
        "org.time_zone",
        invalid(
            "\"Asia/Hong_kong\"",
            "not an IANA time zone name (e.g. \"Asia/Hong_Kong\")",
        ),
    );
    let doc = set(base(), "/org/time_zone", json!("Asia/Macau"));
    assert_eq!(load(&doc).unwrap().org.time_zone, "Asia/Macau");
}

#[test]
fn documents_and_lists_have_size_limits() {
    let text = " ".repeat(32 * 1024 * 1024 + 1);
    rejects_text(
        &text,
        "$",
        PolicyErrorKind::TooLarge {
            what: "bytes",
            max: 32 * 1024 * 1024,
        },
    );
    // Counts are checked before elements are read.
    rejects(
        &set(base(), "/sites", Value::Array(vec![json!(0); 100_001])),
        "sites",
        PolicyErrorKind::TooMany {
            max: 100_000,
            len: 100_001,
        },
    );
    let ring: Vec<Value> = (0..10_001).map(|_| json!([114.0, 22.0])).collect();
    rejects(
        &set(base(), RING0, Value::Array(ring)),
        RING0_PATH,
        PolicyErrorKind::TooMany {
            max: 10_000,
            len: 10_001,
        },
    );
    rejects(
        &set(base(), "/sites/0/fences", Value::Array(vec![json!(0); 101])),
        "sites[0].fences",
        PolicyErrorKind::TooMany { max: 100, len: 101 },
    );
}

// ----- coordinates -------------------------------------------------------------------------

#[test]
fn out_of_range_latitude_names_the_position() {
    let doc = set(base(), &format!("{RING0}/3"), json!([114.2, 95.0]));
    rejects(
        &doc,
        &format!("{RING0_PATH}[3]"),
        invalid("[114.2, 95.0]", "latitude 95 is outside -90..=90"),
    );
}

#[test]
fn swapped_coordinates_get_a_hint() {
    let doc = set(base(), &format!("{RING0}/1"), json!([22.28, 114.18]));
    rejects(
        &doc,
        &format!("{RING0_PATH}[1]"),
        invalid(
            "[22.28, 114.18]",
            "latitude 114.18 is outside -90..=90 (positions are [longitude, latitude]; are the two swapped?)",
        ),
    );
}

#[test]
fn out_of_range_longitude_is_rejected() {
    let doc = set(base(), "/sites/1/fences/0/center", json!([181, 22.3]));
    rejects(
        &doc,
        "sites[1].fences[0].center",
        invalid("[181, 22.3]", "longitude 181 is outside -180..=180"),
    );
    let doc = set(base(), "/sites/1/fences/0/center", json!([-180.5, 0]));
    rejects(
        &doc,
        "sites[1].fences[0].center",
        invalid("[-180.5, 0]", "longitude -180.5 is outside -180..=180"),
    );
}

#[test]
fn non_numeric_coordinates_name_the_element() {
    let doc = set(base(), &format!("{RING0}/2/0"), json!("114.2"));
    rejects(
        &doc,
        &format!("{RING0_PATH}[2][0]"),
        wrong("number", "string \"114.2\""),
    );
    let doc = set(
        base(),
        &format!("{RING0}/2"),
        json!({"lon": 114.2, "lat": 22.3}),
    );
    rejects(
        &doc,
        &format!("{RING0_PATH}[2]"),
        wrong("position [longitude, latitude]", "object with 2 fields"),
    );
    let doc = set(base(), &format!("{RING0}/2/1"), Value::Null);
    rejects(
        &doc,
        &format!("{RING0_PATH}[2][1]"),
        wrong("number", "null"),
    );
}

#[test]
fn positions_have_two_or_three_numbers() {
    let doc = set(base(), "/sites/1/fences/0/center", json!([114.13]));
    rejects(
        &doc,
        "sites[1].fences[0].center",
        invalid(
            "[114.13]",
            "a position needs two numbers, [longitude, latitude]",
        ),
    );
    let doc = set(
        base(),
        "/sites/1/fences/0/center",
        json!([114.13, 22.35, 5, 1]),
    );
    rejects(
        &doc,
        "sites[1].fences[0].center",
        invalid(
            "[114.13, 22.35, 5, 1]",
            "a position has at most three numbers, [longitude, latitude, altitude]",
        ),
    );
    let doc = set(
        base(),
        "/sites/1/fences/0/center",
        json!([114.13, 22.35, "5m"]),
    );
    rejects(
        &doc,
        "sites[1].fences[0].center[2]",
        wrong("number", "string \"5m\""),
    );
}

#[test]
fn numbers_beyond_f64_are_a_syntax_error() {
    // serde_json refuses 1e400 rather than rounding it to infinity.
    let text = base()
        .to_string()
        .replace("\"radius_m\":150", "\"radius_m\":1e400");
    let e = Policy::from_json(&text).unwrap_err();
    assert_eq!(e.path, "$");
    let PolicyErrorKind::Syntax(msg) = e.kind else {
        panic!("{e}")
    };
    assert!(
        msg.starts_with("number out of range at line 1 column "),
        "{msg}"
    );
    // 1e308 is representable and simply out of range.
    let text = base()
        .to_string()
        .replace("\"radius_m\":150", "\"radius_m\":1e308");
    rejects_text(
        &text,
        "sites[1].fences[0].radius_m",
        invalid("1e308", "radius must be greater than 0 and at most 20000 m"),
    );
}

#[test]
fn nan_and_infinity_are_not_json() {
    for literal in ["NaN", "Infinity", "-Infinity"] {
        let text = format!(
            r#"{{"version": 1, "org": {{"id": "a", "name": "b"}}, "sites": [{{"id": "s", "name": "s", "fences": [{{"center": [114.1, {literal}], "radius_m": 5}}]}}], "employees": []}}"#
        );
        let e = Policy::from_json(&text).unwrap_err();
        assert_eq!(e.path, "$", "{literal}");
        assert!(
            matches!(&e.kind, PolicyErrorKind::Syntax(m) if m.contains("at line 1 column")),
            "{literal}: {e}"
        );
    }
}

// ----- rings and polygons ------------------------------------------------------------------

#[test]
fn rings_need_four_positions_and_three_distinct() {
    let ring = json!([[114.18, 22.28], [114.19, 22.28], [114.18, 22.28]]);
    rejects(
        &set(base(), RING0, ring.clone()),
        RING0_PATH,
        geometry(&ring, GeometryProblem::TooFewPositions { distinct: 2 }),
    );
    let ring = json!([
        [114.18, 22.28],
        [114.19, 22.28],
        [114.19, 22.28],
        [114.18, 22.28]
    ]);
    rejects(
        &set(base(), RING0, ring.clone()),
        RING0_PATH,
        geometry(&ring, GeometryProblem::TooFewPositions { distinct: 2 }),
    );
}

#[test]
fn rings_must_be_closed() {
    let ring = json!([
        [114.18, 22.28],
        [114.19, 22.28],
        [114.19, 22.29],
        [114.18, 22.29]
    ]);
    rejects(
        &set(base(), RING0, ring.clone()),
        RING0_PATH,
        geometry(&ring, GeometryProblem::NotClosed),
    );
}

#[test]
fn a_bow_tie_ring_is_self_intersecting() {
    // Binary fractions of a degree make the crossing point exact.
    let (x0, y0, d) = (114.0, 22.0, 0.0078125);
    let ring = json!([
        [x0, y0],
        [x0 + d, y0 + d],
        [x0 + d, y0],
        [x0, y0 + d],
        [x0, y0]
    ]);
    rejects(
        &set(base(), RING0, ring.clone()),
        RING0_PATH,
        geometry(
            &ring,
            GeometryProblem::SelfIntersection {
                edge: 0,
                other_edge: 2,
                at: [x0 + d / 2.0, y0 + d / 2.0],
            },
        ),
    );
}

#[test]
fn a_ring_that_touches_or_doubles_back_on_itself_is_rejected() {
    // A spike: 0 → 1 → 2 → back along 2 → 1 → ... overlaps an edge with the next.
    let ring = json!([
        [114.0, 22.0],
        [114.01, 22.0],
        [114.01, 22.01],
        [114.01, 22.005],
        [114.0, 22.01],
        [114.0, 22.0]
    ]);
    let e = err(&set(base(), RING0, ring));
    assert_eq!(e.path, RING0_PATH);
    assert!(
        matches!(
            e.kind,
            PolicyErrorKind::Geometry {
                problem: GeometryProblem::SelfIntersection {
                    edge: 1,
                    other_edge: 2,
                    ..
                },
                ..
            }
        ),
        "{e}"
    );
    // A figure of eight pinched at a shared vertex (2 and 5 coincide).
    let ring = json!([
        [114.0, 22.0],
        [114.01, 22.0],
        [114.01, 22.01],
        [114.02, 22.01],
        [114.02, 22.02],
        [114.01, 22.01],
        [114.0, 22.01],
        [114.0, 22.0]
    ]);
    let e = err(&set(base(), RING0, ring));
    assert_eq!(e.path, RING0_PATH);
    assert!(
        matches!(
            e.kind,
            PolicyErrorKind::Geometry {
                problem: GeometryProblem::SelfIntersection {
                    edge: 1,
                    other_edge: 4,
                    at: [114.01, 22.01],
                },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn collinear_and_tiny_rings_have_zero_area() {
    let ring = json!([
        [114.0, 22.0],
        [114.001, 22.001],
        [114.002, 22.002],
        [114.0, 22.0]
    ]);
    rejects(
        &set(base(), RING0, ring.clone()),
        RING0_PATH,
        geometry(&ring, GeometryProblem::ZeroArea),
    );
    // About 0.5 m × 0.5 m.
    let ring = square(114.0, 22.0, 0.000005);
    rejects(
        &set(base(), RING0, ring.clone()),
        RING0_PATH,
        geometry(&ring, GeometryProblem::ZeroArea),
    );
}

/// A grid unit of 1/1024 degree (about 100 m): sums of units are exact in f64, so rings built
/// from them share edges exactly.
const U: f64 = 1.0 / 1024.0;

fn cell(x: f64, y: f64, side: f64) -> Value {
    square(114.0 + x * U, 22.0 + y * U, side * U)
}

#[test]
fn holes_must_lie_inside_their_shell() {
    let shell = cell(0.0, 0.0, 10.0);
    let outside = cell(20.0, 0.0, 2.0);
    rejects(
        &with_rings(json!([shell.clone(), outside.clone()])),
        "sites[0].fences[0].coordinates[1]",
        geometry(&outside, GeometryProblem::HoleOutsideShell),
    );
    let crossing = cell(9.0, 4.0, 2.0);
    rejects(
        &with_rings(json!([shell.clone(), crossing.clone()])),
        "sites[0].fences[0].coordinates[1]",
        geometry(&crossing, GeometryProblem::HoleOutsideShell),
    );
    // Sharing part of the shell's west edge.
    let sharing = cell(0.0, 4.0, 2.0);
    rejects(
        &with_rings(json!([shell.clone(), sharing.clone()])),
        "sites[0].fences[0].coordinates[1]",
        geometry(&sharing, GeometryProblem::RingsShareEdge { other: 0 }),
    );
    // A proper hole is fine.
    let doc = with_rings(json!([shell, cell(4.0, 4.0, 2.0)]));
    let p = load(&doc).unwrap();
    let Fence::Polygon(poly) = &p.sites[0].fences[0] else {
        panic!("polygon")
    };
    assert_eq!(poly.interiors().len(), 1);
}

#[test]
fn holes_must_not_overlap() {
    let shell = cell(0.0, 0.0, 10.0);
    let a = cell(2.0, 2.0, 3.0);
    let b = cell(4.0, 4.0, 3.0);
    rejects(
        &with_rings(json!([shell.clone(), a.clone(), b.clone()])),
        "sites[0].fences[0].coordinates[2]",
        geometry(&b, GeometryProblem::HolesOverlap { other: 1 }),
    );
    let inner = cell(3.0, 3.0, 1.0);
    rejects(
        &with_rings(json!([shell.clone(), a.clone(), inner.clone()])),
        "sites[0].fences[0].coordinates[2]",
        geometry(&inner, GeometryProblem::HolesOverlap { other: 1 }),
    );
    let beside = cell(5.0, 2.0, 3.0);
    rejects(
        &with_rings(json!([shell.clone(), a.clone(), beside.clone()])),
        "sites[0].fences[0].coordinates[2]",
        geometry(&beside, GeometryProblem::RingsShareEdge { other: 1 }),
    );
    // Holes touching at a single corner are allowed (as in OGC simple features).
    let corner = cell(5.0, 5.0, 2.0);
    assert!(load(&with_rings(json!([shell, a, corner]))).is_ok());
}

#[test]
fn fences_wider_than_50_km_are_rejected() {
    let ring = square(114.0, 22.0, 0.4);
    let e = err(&with_rings(json!([ring])));
    assert_eq!(e.path, "sites[0].fences[0].coordinates");
    match e.kind {
        PolicyErrorKind::Geometry {
            problem: GeometryProblem::TooWide { across_m, max_m },
            ..
        } => {
            assert_eq!(max_m, 50_000.0);
            // 0.4° × 0.4° at 22° N: about 41 km by 44 km.
            assert!((55_000.0..65_000.0).contains(&across_m), "{across_m}");
        }
        other => panic!("{other:?}"),
    }
    // 0.3° square near Hong Kong is about 44 km across: accepted.
    assert!(load(&with_rings(json!([square(114.0, 22.0, 0.3)]))).is_ok());
}

#[test]
fn polygon_and_multipolygon_structure_errors_have_paths() {
    rejects(
        &with_rings(json!([])),
        "sites[0].fences[0].coordinates",
        PolicyErrorKind::Empty,
    );
    let bad = json!([
        [114.0, 22.0],
        [114.01, 22.0],
        [114.01, 22.01],
        [114.0, 22.01]
    ]);
    let doc = set(
        base(),
        "/sites/0/fences/0",
        json!({"type": "MultiPolygon", "coordinates": [[square(114.0, 22.0, 0.001)], [bad.clone()]]}),
    );
    rejects(
        &doc,
        "sites[0].fences[0].coordinates[1][0]",
        geometry(&bad, GeometryProblem::NotClosed),
    );
    let doc = set(
        base(),
        "/sites/0/fences/0",
        json!({"type": "MultiPolygon", "coordinates": []}),
    );
    rejects(
        &doc,
        "sites[0].fences[0].coordinates",
        PolicyErrorKind::Empty,
    );
    rejects(
        &set(base(), "/sites/0/fences/0/type", json!("Point")),
        "sites[0].fences[0].type",
        invalid(
            "\"Point\"",
            "expected \"Polygon\", \"MultiPolygon\" or \"Circle\"",
        ),
    );
}

// ----- circles -----------------------------------------------------------------------------

#[test]
fn circle_radius_is_positive_and_at_most_20_km() {
    for bad in [json!(0), json!(-5), json!(20_000.5)] {
        rejects(
            &set(base(), "/sites/1/fences/0/radius_m", bad.clone()),
            "sites[1].fences[0].radius_m",
            invalid(
                &show(&bad),
                "radius must be greater than 0 and at most 20000 m",
            ),
        );
    }
    let doc = set(base(), "/sites/1/fences/0/radius_m", json!(20_000));
    assert!(load(&doc).is_ok());
}

#[test]
fn circle_center_is_a_valid_position() {
    rejects(
        &set(base(), "/sites/1/fences/0/center", json!([114.13, -91])),
        "sites[1].fences[0].center",
        invalid("[114.13, -91]", "latitude -91 is outside -90..=90"),
    );
    rejects(
        &set(base(), "/sites/1/fences/0/center", json!("114.13,22.35")),
        "sites[1].fences[0].center",
        wrong("position [longitude, latitude]", "string \"114.13,22.35\""),
    );
}

// ----- references --------------------------------------------------------------------------

#[test]
fn duplicate_ids_name_the_first_use() {
    rejects(
        &set(base(), "/sites/1/id", json!("cwb")),
        "sites[1].id",
        PolicyErrorKind::Duplicate {
            value: "\"cwb\"".into(),
            first: "sites[0].id".into(),
        },
    );
    rejects(
        &set(base(), "/employees/2/id", json!("E1")),
        "employees[2].id",
        PolicyErrorKind::Duplicate {
            value: "\"E1\"".into(),
            first: "employees[0].id".into(),
        },
    );
    let doc = set(base(), "/face_matchers/1/kid", json!("ed"));
    rejects(
        &doc,
        "face_matchers[1].kid",
        PolicyErrorKind::Duplicate {
            value: "\"ed\"".into(),
            first: "face_matchers[0].kid".into(),
        },
    );
}

#[test]
fn employee_sites_must_exist_once_each() {
    rejects(
        &set(base(), "/employees/1/sites/0", json!("nowhere")),
        "employees[1].sites[0]",
        PolicyErrorKind::UnknownReference {
            target: "site",
            value: "\"nowhere\"".into(),
        },
    );
    rejects(
        &set(base(), "/employees/0/sites/1", json!("cwb")),
        "employees[0].sites[1]",
        PolicyErrorKind::Duplicate {
            value: "\"cwb\"".into(),
            first: "employees[0].sites[0]".into(),
        },
    );
    rejects(
        &set(base(), "/employees/0/sites", json!([])),
        "employees[0].sites",
        PolicyErrorKind::Empty,
    );
}

#[test]
fn managers_must_be_other_known_employees_without_loops() {
    rejects(
        &set(base(), "/employees/1/manager", json!("E9")),
        "employees[1].manager",
        PolicyErrorKind::UnknownReference {
            target: "employee",
            value: "\"E9\"".into(),
        },
    );
    rejects(
        &set(base(), "/employees/1/manager", json!("E2")),
        "employees[1].manager",
        invalid("\"E2\"", "an employee cannot be their own manager"),
    );
    // E1 → E3 → E2 → E1.
    let doc = set(
        set(base(), "/employees/0/manager", json!("E3")),
        "/employees/2/manager",
        json!("E2"),
    );
    rejects(
        &doc,
        "employees[0].manager",
        invalid("\"E3\"", "management chain loops back: E1 → E3 → E2 → E1"),
    );
    // A manager defined later in the document is fine.
    let doc = set(base(), "/employees/1/manager", json!("E3"));
    assert_eq!(load(&doc).unwrap().manager_of("E2").unwrap().id, "E3");
}

// ----- Wi-Fi -------------------------------------------------------------------------------

#[test]
fn bssids_are_normalised_and_checked() {
    let doc = set(
        base(),
        "/sites/0/wifi_bssids",
        json!(["AA-BB-CC-DD-EE-02", "0a:1b:2c:3d:4e:5f"]),
    );
    assert_eq!(
        load(&doc).unwrap().sites[0].wifi_bssids,
        vec!["aa:bb:cc:dd:ee:02", "0a:1b:2c:3d:4e:5f"]
    );
    let reason =
        "a BSSID is six pairs of hex digits separated by ':' or '-', e.g. \"aa:bb:cc:dd:ee:ff\"";
    for bad in [
        "AA:BB:CC:DD:EE",
        "AA:BB:CC:DD:EE:GG",
        "AA:BB-CC:DD:EE:FF",
        "AABB.CCDD.EEFF",
        "A:BB:CC:DD:EE:FF0",
        "",
    ] {
        rejects(
            &set(base(), "/sites/0/wifi_bssids/0", json!(bad)),
            "sites[0].wifi_bssids[0]",
            invalid(&format!("\"{bad}\""), reason),
        );
    }
    rejects(
        &set(base(), "/sites/0/wifi_bssids/0", json!("FF:FF:FF:FF:FF:FF")),
        "sites[0].wifi_bssids[0]",
        invalid(
            "\"FF:FF:FF:FF:FF:FF\"",
            "not the address of an access point",
        ),
    );
}

#[test]
fn duplicate_bssids_within_a_site_are_rejected_after_normalising() {
    let doc = set(base(), "/sites/0/wifi_bssids/1", json!("aa-bb-cc-dd-ee-01"));
    rejects(
        &doc,
        "sites[0].wifi_bssids[1]",
        PolicyErrorKind::Duplicate {
            value: "\"aa-bb-cc-dd-ee-01\"".into(),
            first: "sites[0].wifi_bssids[0]".into(),
        },
    );
    // The same access point may serve two sites.
    let doc = set(base(), "/sites/1/wifi_bssids", json!(["AA:BB:CC:DD:EE:01"]));
    assert!(load(&doc).is_ok());
}

// ----- thresholds --------------------------------------------------------------------------

#[test]
fn uncertain_must_be_a_known_action() {
    rejects(
        &set(base(), "/thresholds", json!({"uncertain": "FieldPunch"})),
        "thresholds.uncertain",
        invalid(
            "\"FieldPunch\"",
            "expected \"reject\", \"allow\" or \"field_punch\"",
        ),
    );
}

#[test]
fn thresholds_must_be_in_range() {
    let cases = [
        (
            json!({"max_accuracy_m": 0}),
            "thresholds.max_accuracy_m",
            "0",
            "must be greater than 0 and at most 5000",
        ),
        (
            json!({"max_accuracy_m": 5000.5}),
            "thresholds.max_accuracy_m",
            "5000.5",
            "must be greater than 0 and at most 5000",
        ),
        (
            json!({"max_travel_speed_kmh": 0}),
            "thresholds.max_travel_speed_kmh",
            "0",
            "must be greater than 0 and at most 2000",
        ),
        (
            json!({"max_fix_age_s": 0}),
            "thresholds.max_fix_age_s",
            "0",
            "must be between 1 and 86400 seconds",
        ),
        (
            json!({"clock_jump_tolerance_s": 86401}),
            "thresholds.clock_jump_tolerance_s",
            "86401",
            "must be between 1 and 86400 seconds",
        ),
        (
            json!({"face": {"min_score": 1.5}}),
            "thresholds.face.min_score",
            "1.5",
            "must be between 0 and 1",
        ),
        (
            json!({"face": {"min_liveness": -0.1}}),
            "thresholds.face.min_liveness",
            "-0.1",
            "must be between 0 and 1",
        ),
        (
            json!({"face": {"max_token_age_s": 0}}),
            "thresholds.face.max_token_age_s",
            "0",
            "must be between 1 and 86400 seconds",
        ),
        (
            json!({"face": {"clock_skew_s": 3601}}),
            "thresholds.face.clock_skew_s",
            "3601",
            "must be between 0 and 3600 seconds",
        ),
    ];
    for (thresholds, path, value, reason) in cases {
        rejects(
            &set(base(), "/thresholds", thresholds),
            path,
            invalid(value, reason),
        );
    }
    rejects(
        &set(base(), "/thresholds", json!({"max_fix_age_s": 12.5})),
        "thresholds.max_fix_age_s",
        wrong("non-negative integer", "number 12.5"),
    );
    rejects(
        &set(base(), "/thresholds", json!({"clock_jump_tolerance_s": -3})),
        "thresholds.clock_jump_tolerance_s",
        invalid("-3", "must be a non-negative integer"),
    );
    rejects(
        &set(base(), "/thresholds", json!({"face": {"min_scor": 0.9}})),
        "thresholds.face.min_scor",
        PolicyErrorKind::UnknownField {
            allowed: &[
                "required",
                "min_score",
                "min_liveness",
                "max_token_age_s",
                "clock_skew_s",
            ],
        },
    );
}

#[test]
fn required_face_checks_need_a_trusted_key() {
    let face = json!({"face": {"required": true}});
    rejects(
        &set(
            remove(base(), "/face_matchers"),
            "/thresholds",
            face.clone(),
        ),
        "face_matchers",
        PolicyErrorKind::Missing,
    );
    rejects(
        &set(
            set(base(), "/face_matchers", json!([])),
            "/thresholds",
            face.clone(),
        ),
        "face_matchers",
        invalid(
            "[]",
            "thresholds.face.required is true, so at least one face matcher key is needed",
        ),
    );
    assert!(
        load(&set(base(), "/thresholds", face))
            .unwrap()
            .thresholds
            .face
            .required
    );
}

// ----- keys --------------------------------------------------------------------------------

fn ed_jwk() -> &'static str {
    "/face_matchers/0/jwk"
}
fn ec_jwk() -> &'static str {
    "/face_matchers/1/jwk"
}

#[test]
fn keys_decode_to_the_expected_bytes() {
    let p = load(&base()).unwrap();
    let PublicKey::Ed25519(ed) = p.face_key("ed").unwrap().key else {
        panic!()
    };
    assert_eq!(ed.to_vec(), URL_SAFE_NO_PAD.decode(ED_X).unwrap());
    let PublicKey::P256(ec) = &p.face_key("p").unwrap().key else {
        panic!()
    };
    assert_eq!(ec[0], 0x04);
    assert_eq!(ec[1..33].to_vec(), URL_SAFE_NO_PAD.decode(P256_X).unwrap());
    assert_eq!(ec[33..].to_vec(), URL_SAFE_NO_PAD.decode(P256_Y).unwrap());
}

#[test]
fn private_keys_are_refused_first() {
    for (file, ptr, path) in [
        (
            "face-matcher-ed25519.private.jwk",
            ed_jwk(),
            "face_matchers[0].jwk.d",
        ),
        (
            "face-matcher-p256.private.jwk",
            ec_jwk(),
            "face_matchers[1].jwk.d",
        ),
    ] {
        let jwk: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../examples/keys/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        rejects(&set(base(), ptr, jwk), path, PolicyErrorKind::PrivateKey);
    }
    // Even for a key type that is not supported at all.
    let rsa = json!({"kty": "RSA", "n": "sXch", "e": "AQAB", "d": "X4cT"});
    rejects(
        &set(base(), ed_jwk(), rsa),
        "face_matchers[0].jwk.d",
        PolicyErrorKind::PrivateKey,
    );
}

#[test]
fn unsupported_key_types_and_curves_are_rejected() {
    rejects(
        &set(
            base(),
            ed_jwk(),
            json!({"kty": "RSA", "n": "sXch", "e": "AQAB"}),
        ),
        "face_matchers[0].jwk.kty",
        invalid(
            "\"RSA\"",
            "unsupported key type; face-matcher keys are \"OKP\" (Ed25519) or \"EC\" (P-256)",
        ),
    );
    rejects(
        &set(base(), &format!("{}/crv", ec_jwk()), json!("secp256k1")),
        "face_matchers[1].jwk.crv",
        invalid(
            "\"secp256k1\"",
            "unsupported curve for kty EC; expected \"P-256\"",
        ),
    );
    rejects(
        &set(base(), &format!("{}/crv", ed_jwk()), json!("X25519")),
        "face_matchers[0].jwk.crv",
        invalid(
            "\"X25519\"",
            "unsupported curve for kty OKP; expected \"Ed25519\"",
        ),
    );
    rejects(
        &set(base(), &format!("{}/y", ed_jwk()), json!(P256_Y)),
        "face_matchers[0].jwk.y",
        PolicyErrorKind::UnknownField {
            allowed: OKP_FIELDS,
        },
    );
}

#[test]
fn key_coordinates_must_be_strict_base64url_of_32_bytes() {
    let x = format!("{}/x", ed_jwk());
    rejects(
        &set(base(), &x, json!(format!("{ED_X}="))),
        "face_matchers[0].jwk.x",
        invalid(
            &format!("\"{ED_X}=\""),
            "not unpadded base64url: Invalid padding",
        ),
    );
    let plus = ED_X.replacen('_', "+", 1).replacen('y', "+", 1);
    let e = err(&set(base(), &x, json!(plus)));
    assert_eq!(e.path, "face_matchers[0].jwk.x");
    assert!(
        matches!(&e.kind, PolicyErrorKind::Invalid { reason, .. } if reason.starts_with("not unpadded base64url: Invalid symbol 43")),
        "{e}"
    );
    let short = URL_SAFE_NO_PAD.encode([7u8; 31]);
    rejects(
        &set(base(), &x, json!(short)),
        "face_matchers[0].jwk.x",
        invalid(&format!("\"{short}\""), "decodes to 31 bytes, expected 32"),
    );
    let long = URL_SAFE_NO_PAD.encode([7u8; 33]);
    rejects(
        &set(base(), &format!("{}/y", ec_jwk()), json!(long)),
        "face_matchers[1].jwk.y",
        invalid(&format!("\"{long}\""), "decodes to 33 bytes, expected 32"),
    );
}

#[test]
fn p256_points_must_be_on_the_curve() {
    let mut y = URL_SAFE_NO_PAD.decode(P256_Y).unwrap();
    y[31] ^= 1;
    let doc = set(
        base(),
        &format!("{}/y", ec_jwk()),
        json!(URL_SAFE_NO_PAD.encode(&y)),
    );
    let jwk = &doc["face_matchers"][1]["jwk"];
    rejects(
        &doc,
        "face_matchers[1].jwk",
        invalid(&show_obj(jwk), "x and y are not a point on the P-256 curve"),
    );
}

/// How the parser shows an object: `{"k": v, ...}`, cut at 80 characters.
fn show_obj(v: &Value) -> String {
    let Value::Object(m) = v else { panic!() };
    let body: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), v))
        .collect();
    let out = format!("{{{}}}", body.join(", "));
    match out.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

#[test]
fn jwk_alg_kid_and_use_must_agree() {
    rejects(
        &set(base(), &format!("{}/alg", ed_jwk()), json!("ES256")),
        "face_matchers[0].jwk.alg",
        invalid("\"ES256\"", "a Ed25519 key verifies only \"EdDSA\""),
    );
    rejects(
        &set(base(), &format!("{}/alg", ec_jwk()), json!("none")),
        "face_matchers[1].jwk.alg",
        invalid("\"none\"", "a P-256 key verifies only \"ES256\""),
    );
    rejects(
        &set(base(), &format!("{}/kid", ec_jwk()), json!("q")),
        "face_matchers[1].jwk.kid",
        invalid("\"q\"", "differs from the entry's kid \"p\""),
    );
    rejects(
        &set(base(), &format!("{}/use", ed_jwk()), json!("enc")),
        "face_matchers[0].jwk.use",
        invalid("\"enc\"", "a face-matcher key must be for \"sig\""),
    );
    let doc = set(
        set(
            set(base(), &format!("{}/alg", ed_jwk()), json!("EdDSA")),
            &format!("{}/kid", ed_jwk()),
            json!("ed"),
        ),
        &format!("{}/use", ed_jwk()),
        json!("sig"),
    );
    assert!(load(&doc).is_ok());
}

#[test]
fn issuer_is_optional_but_not_empty() {
    rejects(
        &set(base(), "/face_matchers/0/iss", json!("")),
        "face_matchers[0].iss",
        PolicyErrorKind::Empty,
    );
    rejects(
        &set(base(), "/face_matchers/0/iss", json!(42)),
        "face_matchers[0].iss",
        wrong("string", "number 42"),
    );
}

#[test]
fn errors_display_path_then_problem() {
    let e = err(&set(base(), &format!("{RING0}/3"), json!([114.2, 95.0])));
    assert_eq!(
        e.to_string(),
        "sites[0].fences[0].coordinates[0][3]: invalid value [114.2, 95.0]: latitude 95 is outside -90..=90"
    );
}

#[test]
fn the_example_in_the_format_docs_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/policy.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let start = docs.find("```json\n").unwrap() + "```json\n".len();
    let len = docs[start..].find("```").unwrap();
    let p = Policy::from_json(&docs[start..start + len]).unwrap();
    assert_eq!(p.version, 7);
    assert_eq!(p.sites.len(), 2);
    assert_eq!(
        p.sites[0].wifi_bssids,
        vec!["e0:55:3d:4a:12:c1", "24:de:c6:7f:30:0a"]
    );
    assert_eq!(p.manager_of("E1001").unwrap().id, "E0101");
    assert_eq!(p.thresholds.max_accuracy_m, 80.0);
    assert!(p.thresholds.face.required);
}

#[test]
fn the_presence_rule_defaults_to_the_accuracy_circle_and_reads_its_probabilities() {
    let p = load(&base()).unwrap();
    assert_eq!(p.thresholds.presence, PresenceRule::AccuracyCircle);
    assert_eq!(p.sites[0].tolerance_m, 0.0);

    let doc = set(
        set(
            base(),
            "/thresholds",
            json!({"presence": {"rule": "probability"}}),
        ),
        "/sites/0/tolerance_m",
        json!(12.5),
    );
    let p = load(&doc).unwrap();
    assert_eq!(
        p.thresholds.presence,
        PresenceRule::Probability {
            accept_probability: 0.6,
            reject_probability: 0.001
        }
    );
    assert_eq!(p.sites[0].tolerance_m, 12.5);

    let given = json!({"presence": {"rule": "probability", "accept_probability": 0.9, "reject_probability": 0}});
    let p = load(&set(base(), "/thresholds", given)).unwrap();
    assert_eq!(
        p.thresholds.presence,
        PresenceRule::Probability {
            accept_probability: 0.9,
            reject_probability: 0.0
        }
    );
}

#[test]
fn bad_presence_rules_and_tolerances_are_refused_naming_the_field() {
    let with = |presence: Value| set(base(), "/thresholds", json!({ "presence": presence }));
    rejects(
        &with(json!({"rule": "nearby"})),
        "thresholds.presence.rule",
        invalid(
            "\"nearby\"",
            "expected \"accuracy_circle\" or \"probability\"",
        ),
    );
    rejects(
        &with(json!({})),
        "thresholds.presence.rule",
        PolicyErrorKind::Missing,
    );
    rejects(
        &with(json!({"rule": "probability", "accept_probability": 0.4})),
        "thresholds.presence.accept_probability",
        invalid("0.4", "must be between 0.5 and 1"),
    );
    rejects(
        &with(json!({"rule": "probability", "reject_probability": 0.2})),
        "thresholds.presence.reject_probability",
        invalid("0.2", "must be between 0 and 0.1"),
    );
    rejects(
        &with(json!({"rule": "probability", "accept_probability": "high"})),
        "thresholds.presence.accept_probability",
        wrong("number", "string \"high\""),
    );
    rejects(
        &with(json!({"rule": "accuracy_circle", "accept_probability": 0.7})),
        "thresholds.presence.accept_probability",
        invalid("0.7", "applies only to the rule \"probability\""),
    );
    for bad in [json!(-1), json!(200.5), json!("20 m"), json!(null)] {
        let doc = set(base(), "/sites/1/tolerance_m", bad.clone());
        let e = err(&doc);
        assert_eq!(e.path, "sites[1].tolerance_m", "{bad}: {e}");
    }
}

#[test]
fn a_courtyard_narrower_than_twice_the_tolerance_is_filled_under_the_probability_rule() {
    // A 100 m yard with a courtyard about 10 m across: grown by 20 m, every point of the
    // courtyard is within the tolerance of the yard, so the grown fence has no hole; grown by
    // 3 m the courtyard stays, smaller.
    let (lon, lat) = (114.2, 22.3);
    let yard = json!([
        [
            [lon, lat],
            [lon + 0.001, lat],
            [lon + 0.001, lat + 0.001],
            [lon, lat + 0.001],
            [lon, lat]
        ],
        [
            [lon + 0.0005, lat + 0.0005],
            [lon + 0.0005, lat + 0.0006],
            [lon + 0.0006, lat + 0.0006],
            [lon + 0.0006, lat + 0.0005],
            [lon + 0.0005, lat + 0.0005]
        ]
    ]);
    let probability = set(
        set(
            base(),
            "/thresholds",
            json!({"presence": {"rule": "probability"}}),
        ),
        "/sites/0/fences/0/coordinates",
        yard,
    );
    let centre = (lon + 0.00055, lat + 0.00055);
    for (tolerance, filled) in [(20.0, true), (3.0, false)] {
        let policy = load(&set(
            probability.clone(),
            "/sites/0/tolerance_m",
            json!(tolerance),
        ))
        .unwrap();
        let index = daka_core::geofence::GeofenceIndex::new(&policy);
        let found = index.locate_sites(centre.0, centre.1, 2.0, &[0]);
        let nearest = found.nearest.unwrap();
        assert!(
            nearest.signed_distance_m > 4.0,
            "the centre is in the courtyard"
        );
        let p = index
            .presence_probability(centre.0, centre.1, 2.0, &nearest)
            .unwrap();
        if filled {
            assert_eq!(p, 1.0, "tolerance {tolerance} m");
        } else {
            // The shrunk courtyard is about 4 × 5 m around the fix (σ 1.3 m): most of the
            // probability is in it, outside the allowed area.
            assert!(p < 0.25, "tolerance {tolerance} m: {p}");
        }
    }
}

#[test]
fn a_tolerance_that_closes_a_courtyard_around_a_pocket_is_refused() {
    // A yard around a 40 × 40 m courtyard open to the north through a 16 m gap.
    let d = 0.000_009;
    let at = |x: f64, y: f64| json!([114.2 + x * d, 22.3 + y * d]);
    let yard = json!([[
        at(0.0, 0.0),
        at(100.0, 0.0),
        at(100.0, 80.0),
        at(58.0, 80.0),
        at(58.0, 70.0),
        at(70.0, 70.0),
        at(70.0, 30.0),
        at(30.0, 30.0),
        at(30.0, 70.0),
        at(42.0, 70.0),
        at(42.0, 80.0),
        at(0.0, 80.0),
        at(0.0, 0.0)
    ]]);
    let doc = set(
        set(
            base(),
            "/thresholds",
            json!({"presence": {"rule": "probability"}}),
        ),
        "/sites/0/fences/0/coordinates",
        yard,
    );
    let e = err(&set(doc.clone(), "/sites/0/tolerance_m", json!(10)));
    assert_eq!(e.path, "sites[0].tolerance_m", "{e}");
    assert!(e.to_string().contains("closes an opening"), "{e}");
    // 7 m keeps the gap open: accepted.
    assert!(load(&set(doc, "/sites/0/tolerance_m", json!(7))).is_ok());
}
