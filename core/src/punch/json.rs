//! Strict JSON reading and canonical writing for signed records.
//!
//! A signature over JSON is only as good as the agreement between the signer's and the
//! verifier's reading of the bytes. This file owns the three places where that agreement can
//! silently break, and closes each:
//!
//! * **Duplicate keys.** `serde_json::Value` keeps the last of two equal keys, another parser
//!   may keep the first. [`StrictValue`] refuses duplicates (RFC 8785 requires I-JSON, which
//!   forbids them).
//! * **Integers beyond 2^53.** RFC 8785 writes every number as an IEEE double, so two different
//!   `u64` values above 2^53 − 1 would canonicalise to the same text. [`check_integers`] rejects
//!   them, naming the field.
//! * **Values the typed model cannot carry.** [`first_difference`] names the first place where
//!   the received JSON and the typed reading of it differ (an unknown nested field, an explicit
//!   `null` for an absent optional, a time written in another RFC 3339 spelling), so a record is
//!   accepted only when its typed form writes back to exactly the bytes that were signed.
//!
//! It also holds the canonical writer ([`canonical`]) and the lower-case hex encoder used for
//! record hashes. Nothing here knows the record's fields; `record.rs` does.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::record::RecordError;

/// The largest integer that an IEEE double, and so RFC 8785 canonical JSON, carries exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A JSON value read with duplicate object keys refused.
pub(crate) struct StrictValue(pub(crate) Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("NaN and infinite numbers are not JSON"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(deserializer).map(|v| v.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// One step of a path into a JSON value.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Renders a path as `verdict.reasons[2].message`.
fn render(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Joins a parent path and a field name.
pub(crate) fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// Rejects integers that canonical JSON cannot carry exactly, naming the first one.
pub(crate) fn check_integers(value: &Value) -> Result<(), RecordError> {
    fn walk<'a>(value: &'a Value, path: &mut Vec<Step<'a>>) -> Result<(), RecordError> {
        match value {
            Value::Number(n) => {
                let out_of_range = match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => u > MAX_SAFE_INTEGER,
                    (None, Some(i)) => i.unsigned_abs() > MAX_SAFE_INTEGER,
                    (None, None) => false,
                };
                if out_of_range {
                    return Err(RecordError::InvalidField {
                        field: render(path),
                        reason: format!(
                            "integer {n} is outside ±{MAX_SAFE_INTEGER} (2^53 − 1), which \
                             canonical JSON cannot carry exactly"
                        ),
                    });
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk(item, path)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Object(map) => {
                for (key, item) in map {
                    path.push(Step::Key(key));
                    walk(item, path)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
        }
    }
    walk(value, &mut Vec::new())
}

/// How the received JSON and its typed reading differ at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Difference {
    /// Present in the received JSON, dropped by the typed reading: a field the format lacks.
    Unknown(String),
    /// Absent from the received JSON, written by the typed reading: a field left out.
    Missing(String),
    /// Present in both with different values: `(path, received, written back)`.
    Changed(String, String, String),
}

impl Difference {
    /// The error a record gets for this difference.
    pub(crate) fn into_error(self) -> RecordError {
        match self {
            Difference::Unknown(field) => RecordError::UnknownField { field },
            Difference::Missing(field) => RecordError::MissingField { field },
            Difference::Changed(field, received, written) => RecordError::NonCanonical {
                field,
                reason: format!(
                    "{received} is not in the record format's normal form, which is {written}"
                ),
            },
        }
    }
}

/// The first place, in key order, where `received` and `typed` differ; `None` if they agree.
/// Numbers compare by value, so `5` and `5.0` agree (canonical JSON writes both as `5`).
pub(crate) fn first_difference(received: &Value, typed: &Value) -> Option<Difference> {
    fn short(value: &Value) -> String {
        let text = value.to_string();
        if text.chars().count() > 60 {
            let cut: String = text.chars().take(57).collect();
            format!("{cut}...")
        } else {
            text
        }
    }
    fn numbers_equal(a: &Number, b: &Number) -> bool {
        match (a.as_f64(), b.as_f64()) {
            _ if a == b => true,
            (Some(x), Some(y)) if a.is_f64() || b.is_f64() => x == y,
            _ => false,
        }
    }
    fn walk<'a>(a: &'a Value, b: &'a Value, path: &mut Vec<Step<'a>>) -> Option<Difference> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    path.push(Step::Key(key));
                    let found = match (x.get(key.as_str()), y.get(key.as_str())) {
                        (Some(u), Some(v)) => walk(u, v, path),
                        (Some(_), None) => Some(Difference::Unknown(render(path))),
                        (None, Some(_)) => Some(Difference::Missing(render(path))),
                        (None, None) => None,
                    };
                    if found.is_some() {
                        return found;
                    }
                    path.pop();
                }
                None
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (u, v)) in x.iter().zip(y).enumerate() {
                    path.push(Step::Index(i));
                    let found = walk(u, v, path);
                    if found.is_some() {
                        return found;
                    }
                    path.pop();
                }
                None
            }
            (Value::Number(x), Value::Number(y)) if numbers_equal(x, y) => None,
            _ if a == b => None,
            _ => Some(Difference::Changed(render(path), short(a), short(b))),
        }
    }
    walk(received, typed, &mut Vec::new())
}

/// RFC 8785 canonical JSON of a typed value: what [`canonical_value`] writes for its JSON
/// value model, written straight from the value (`canonical.rs`). A non-finite float becomes
/// `null` in that model, as it does in serde_json's own writer; signed bodies are validated
/// first, so they never carry one.
pub(crate) fn canonical<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, RecordError> {
    super::canonical::canonical_bytes(value).map_err(|e| RecordError::NotSerialisable {
        reason: e.to_string(),
    })
}

/// RFC 8785 canonical JSON of a JSON value, written in one pass:
///
/// * object members sorted by their names' UTF-16 code units (§3.2.3);
/// * strings with only `"`, `\\` and the control characters escaped, the short escapes where
///   JSON has one and `\u00xx` (lower-case hex) for the rest (§3.2.2.2);
/// * every number written as the ECMAScript `Number.prototype.toString` of its IEEE double
///   (§3.2.2.3), through `ryu-js`;
/// * no whitespace.
///
/// Checked against an independent RFC 8785 implementation (`serde_json_canonicalizer`) on
/// random values in the tests below.
pub fn canonical_value(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    write_canonical(value, &mut out);
    out
}

/// The canonical JSON of an object, and of the same object with one more member `name`
/// (absent from `object`), from one pass: the second is the first with the member spliced in
/// at its place in the order. A record's body is what its signature signs, and the body with
/// `sig` is the whole record its hash covers.
pub(crate) fn canonical_with_member(
    object: &serde_json::Map<String, Value>,
    name: &str,
    value: &Value,
) -> (Vec<u8>, Vec<u8>) {
    debug_assert!(!object.contains_key(name), "{name} is already a member");
    let mut members: Vec<(&String, &Value)> = object.iter().collect();
    members.sort_by(|(a, _), (b, _)| utf16_order(a, b));
    let mut without = Vec::with_capacity(512);
    without.push(b'{');
    // Where the new member goes: the byte offset, and whether members come before it.
    let mut place = None;
    for (i, (key, item)) in members.iter().enumerate() {
        if place.is_none() && utf16_order(name, key).is_lt() {
            place = Some((without.len(), i > 0));
        }
        if i > 0 {
            without.push(b',');
        }
        write_string(key, &mut without);
        without.push(b':');
        write_canonical(item, &mut without);
    }
    let (at, after_others) = place.unwrap_or((without.len(), !members.is_empty()));
    let before_others = at < without.len();
    without.push(b'}');
    let mut member = Vec::with_capacity(128);
    write_string(name, &mut member);
    member.push(b':');
    write_canonical(value, &mut member);
    let mut with = Vec::with_capacity(without.len() + member.len() + 1);
    with.extend_from_slice(&without[..at]);
    if after_others {
        // `at` is at the comma that led the next member (or at the closing brace).
        with.push(b',');
        with.extend_from_slice(&member);
        with.extend_from_slice(&without[at..]);
    } else {
        with.extend_from_slice(&member);
        if before_others {
            with.push(b',');
        }
        with.extend_from_slice(&without[at..]);
    }
    (without, with)
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // serde_json numbers are finite, and every integer has an f64 reading.
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.is_finite() {
                out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
            } else {
                out.extend_from_slice(b"null");
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // Already in order for serde_json's sorted map unless a name holds a character at
            // or above U+E000, where UTF-8 (code point) and UTF-16 order part.
            members.sort_by(|(a, _), (b, _)| utf16_order(a, b));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
    }
}

/// Orders two strings by their UTF-16 code units (RFC 8785 §3.2.3).
pub(crate) fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    // Lead bytes 0xEE and above start U+E000..; below them, byte order is UTF-16 order.
    let simple = |s: &str| s.bytes().all(|b| b < 0xEE);
    if simple(a) && simple(b) {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// A JSON string as RFC 8785 writes it.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut control = *b"\\u0000";
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => {
                control[4] = HEX[usize::from(b >> 4)];
                control[5] = HEX[usize::from(b & 0x0f)];
                &control
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Lower-case hexadecimal.
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Whether `text` is 64 lower-case hex digits, the form of a record hash.
pub(crate) fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str::<StrictValue>(text).map(|v| v.0)
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(strict(r#"{"a":1,"a":2}"#).is_err());
        assert!(strict(r#"{"a":{"b":1,"b":1}}"#).is_err());
        assert_eq!(strict(r#"{"a":1,"b":[1,2]}"#).unwrap()["b"][1], 2);
    }

    #[test]
    fn integers_beyond_two_to_the_53_are_named() {
        let v: Value = serde_json::json!({"a": [1, {"b": 9007199254740992u64}]});
        match check_integers(&v) {
            Err(RecordError::InvalidField { field, .. }) => assert_eq!(field, "a[1].b"),
            other => panic!("unexpected {other:?}"),
        }
        let ok: Value = serde_json::json!({"a": 9007199254740991u64, "b": -9007199254740991i64});
        assert!(check_integers(&ok).is_ok());
        let neg: Value = serde_json::json!({"n": -9007199254740992i64});
        assert!(check_integers(&neg).is_err());
    }

    #[test]
    fn differences_name_the_first_path() {
        let a = serde_json::json!({"x": {"y": 5, "z": [1, 2]}, "w": null});
        let b = serde_json::json!({"x": {"y": 5.0, "z": [1, 3]}});
        assert_eq!(
            first_difference(&a, &b),
            Some(Difference::Unknown("w".into()))
        );
        let a = serde_json::json!({"x": {"y": 5, "z": [1, 2]}});
        assert_eq!(
            first_difference(&a, &b),
            Some(Difference::Changed("x.z[1]".into(), "2".into(), "3".into()))
        );
        assert_eq!(first_difference(&b, &b), None);
    }

    #[test]
    fn canonical_writing_follows_rfc_8785_examples() {
        // RFC 8785 §3.2.3: sorting by UTF-16 code units puts U+1F600 (a surrogate pair,
        // D83D DE00) before U+FB33, though its code point is larger.
        let v = serde_json::json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{0080}": "Control",
            "\u{00f6}": "Latin Small Letter O With Diaeresis"
        });
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{0080}\":\"Control\",\
                        \"\u{00f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                        \"\u{1f600}\":\"Emoji: Grinning Face\",\
                        \"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(String::from_utf8(canonical_value(&v)).unwrap(), expected);
        // §3.2.2.3 numbers, and the string escapes of §3.2.2.2.
        let v: Value = serde_json::from_str(
            r#"{
                "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001,
                            0, -0.0, 1e21, 9007199254740991],
                "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                "literals": [null, true, false]
            }"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(canonical_value(&v)).unwrap(),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27,0,0,\
             1e+21,9007199254740991],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        // Names and strings mixing ASCII, controls, the U+E000.. range and surrogate pairs.
        let text = proptest::collection::vec(
            prop_oneof![
                4 => proptest::char::range('a', 'e'),
                1 => proptest::char::range('\u{0}', '\u{1f}'),
                1 => Just('"'),
                1 => Just('\\'),
                1 => proptest::char::range('\u{7f}', '\u{a0}'),
                1 => proptest::char::range('\u{d7f0}', '\u{d7ff}'),
                1 => proptest::char::range('\u{e000}', '\u{e010}'),
                1 => proptest::char::range('\u{fff0}', '\u{ffff}'),
                1 => proptest::char::range('\u{10000}', '\u{10010}'),
                1 => proptest::char::range('\u{1f600}', '\u{1f610}'),
            ],
            0..6,
        )
        .prop_map(|chars| chars.into_iter().collect::<String>());
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            any::<u64>().prop_map(|n| Value::Number(n.into())),
            (-(1i64 << 53)..(1i64 << 53)).prop_map(|n| Value::Number(n.into())),
            any::<f64>()
                .prop_filter_map("finite", Number::from_f64)
                .prop_map(Value::Number),
            (-400i32..400, -1e6f64..1e6)
                .prop_filter_map("finite", |(e, m)| Number::from_f64(m * 10f64.powi(e)))
                .prop_map(Value::Number),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((text.clone(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Splicing a member into an object's canonical text gives the canonical text of
        /// the object with the member, wherever the member sorts (first, between, last,
        /// alone), and the text without it is the object's own.
        #[test]
        fn a_member_spliced_in_writes_as_the_object_with_it(
            value in any_json(),
            name in proptest::prop_oneof![
                proptest::strategy::Just("sig".to_string()),
                "[a-z]{0,4}",
                "\\PC{0,3}",
            ],
            extra in any_json(),
        ) {
            let mut object = match value {
                Value::Object(object) => object,
                other => serde_json::Map::from_iter([("v".to_string(), other)]),
            };
            object.remove(&name);
            let (without, with) = canonical_with_member(&object, &name, &extra);
            proptest::prop_assert_eq!(&without, &canonical_value(&Value::Object(object.clone())));
            object.insert(name, extra);
            proptest::prop_assert_eq!(with, canonical_value(&Value::Object(object)));
        }

        /// The one-pass writer agrees byte for byte with an independent RFC 8785
        /// implementation, and through a typed value with serde's model of it.
        #[test]
        fn canonical_writing_agrees_with_an_independent_implementation(value in any_json()) {
            let expected = serde_json_canonicalizer::to_vec(&value).unwrap();
            let written = canonical_value(&value);
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
            proptest::prop_assert_eq!(canonical(&value).unwrap(), expected);
        }
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0xff]), "00abff");
        assert!(is_hash(&"a".repeat(64)));
        assert!(!is_hash(&"A".repeat(64)));
    }
}
