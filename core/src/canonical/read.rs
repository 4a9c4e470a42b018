//! The strict reader: JSON text read so that a signature over its canonical form means one
//! thing to every reader.
//!
//! A signature over JSON is only as good as the agreement between the signer's and the
//! verifier's reading of the bytes. This file closes the three places where that agreement can
//! silently break:
//!
//! * **Duplicate keys.** `serde_json::Value` keeps the last of two equal keys, another parser
//!   may keep the first. [`StrictValue`] (and [`from_str`]) refuse duplicates (RFC 8785
//!   requires I-JSON, which forbids them).
//! * **Integers beyond 2^53.** RFC 8785 writes every number as an IEEE double, so two different
//!   `u64` values above 2^53 − 1 would canonicalise to the same text. [`check_integers`] rejects
//!   them, naming the field.
//! * **Values the typed model cannot carry.** [`check_write_back`] names the first place where
//!   the received JSON and the typed reading of it differ (an unknown nested field, an explicit
//!   `null` for an absent optional, a time written in another RFC 3339 spelling), so a signed
//!   item is accepted only when its typed form writes back to exactly the bytes that were
//!   signed.
//!
//! Nothing here knows any format's fields; the formats (`punch`, `approvals`) do.

use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::error::{CanonicalError, Difference, MAX_SAFE_INTEGER};

/// Reads JSON text with duplicate object keys refused.
pub fn from_str(text: &str) -> Result<Value, CanonicalError> {
    serde_json::from_str::<StrictValue>(text)
        .map(|v| v.0)
        .map_err(|e| CanonicalError::not_json(&e))
}

/// A JSON value read with duplicate object keys refused.
pub struct StrictValue(pub Value);

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

/// Rejects integers that canonical JSON cannot carry exactly, naming the first one.
pub fn check_integers(value: &Value) -> Result<(), CanonicalError> {
    fn walk<'a>(value: &'a Value, path: &mut Vec<Step<'a>>) -> Result<(), CanonicalError> {
        match value {
            Value::Number(n) => {
                let out_of_range = match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => u > MAX_SAFE_INTEGER,
                    (None, Some(i)) => i.unsigned_abs() > MAX_SAFE_INTEGER,
                    (None, None) => false,
                };
                if out_of_range {
                    return Err(CanonicalError::UnsafeInteger {
                        field: render(path),
                        value: n.to_string(),
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

/// The first place, in key order, where `received` and `typed` differ; `None` if they agree.
/// Numbers compare by value, so `5` and `5.0` agree (canonical JSON writes both as `5`).
pub fn first_difference(received: &Value, typed: &Value) -> Option<Difference> {
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

/// Checks that `typed`, the typed reading of `received`, writes back to the same JSON: the
/// first difference is an error naming its path. Values that agree member for member (numbers
/// by value) have the same canonical bytes.
pub fn check_write_back<T: Serialize + ?Sized>(
    received: &Value,
    typed: &T,
) -> Result<(), CanonicalError> {
    let typed = serde_json::to_value(typed).map_err(|e| CanonicalError::Unwritable {
        reason: e.to_string(),
    })?;
    match first_difference(received, &typed) {
        None => Ok(()),
        Some(difference) => Err(CanonicalError::Differs { difference }),
    }
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
            Err(CanonicalError::UnsafeInteger { field, .. }) => assert_eq!(field, "a[1].b"),
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
}
