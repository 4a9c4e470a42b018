//! Reads the few named members of a JSON object (a JWS header or a claim set) as scalars,
//! without building a tree, and says which member a failure belongs to.
//!
//! Why not `serde_json::Value` or a derived struct:
//!
//! * a failure inside a member (`"iat": 1e400`, a lone surrogate in `"sub"`) must be reported
//!   as that claim, and serde's errors do not carry the key;
//! * a member named twice (`{"alg":"EdDSA","alg":"none"}`) must be refused, not resolved
//!   last-wins as `Value` does, so that every reader of the token sees the same header;
//! * a derived struct also accepts a JSON array in place of the object;
//! * arrays and objects are skipped with `IgnoredAny`, which serde_json walks iteratively, so
//!   nesting depth costs neither stack nor the parser's recursion limit.
//!
//! Members not asked for are skipped, whatever their content.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One member's value, reduced to what the checks need.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json<'de> {
    Null,
    Bool(bool),
    /// serde_json refuses numbers outside the `f64` range and never yields NaN or infinities;
    /// integers beyond 2^53 lose precision, which no accepted claim range reaches.
    Number(f64),
    String(Cow<'de, str>),
    Array,
    Object,
}

impl Json<'_> {
    /// "a string", "number 5", … for "expected X, found Y" messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Json::Null => "null".to_owned(),
            Json::Bool(b) => format!("boolean {b}"),
            Json::Number(n) => format!("number {n}"),
            Json::String(s) => format!("string {:?}", super::error::echo(s)),
            Json::Array => "an array".to_owned(),
            Json::Object => "an object".to_owned(),
        }
    }
}

/// Why the object could not be read; `member` is set when the failure is inside one.
#[derive(Debug)]
pub(super) struct ReadError {
    pub member: Option<&'static str>,
    pub reason: String,
}

/// Reads members `names` of the JSON object in `bytes`; `out[i]` is the value of `names[i]`.
pub(super) fn read_members<'de, const N: usize>(
    bytes: &'de [u8],
    names: [&'static str; N],
) -> Result<[Option<Json<'de>>; N], ReadError> {
    let whole = |reason: String| ReadError {
        member: None,
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| whole(format!("not UTF-8 ({e})")))?;
    match text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .as_bytes()
        .first()
    {
        Some(b'{') => {}
        Some(_) => return Err(whole("not a JSON object".to_owned())),
        None => return Err(whole("empty".to_owned())),
    }
    let mut failed = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let visitor = Members {
        names,
        failed: &mut failed,
    };
    let read = de
        .deserialize_map(visitor)
        .and_then(|out| de.end().map(|()| out));
    read.map_err(|e| ReadError {
        member: failed,
        reason: match failed {
            Some(_) => e.to_string(),
            None => format!("not valid JSON: {e}"),
        },
    })
}

struct Members<'f, const N: usize> {
    names: [&'static str; N],
    failed: &'f mut Option<&'static str>,
}

impl<'de, const N: usize> Visitor<'de> for Members<'_, N> {
    type Value = [Option<Json<'de>>; N];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: [Option<Json<'de>>; N] = std::array::from_fn(|_| None);
        while let Some(index) = map.next_key_seed(KeyIndex(&self.names))? {
            let Some(i) = index else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if out[i].is_some() {
                *self.failed = Some(self.names[i]);
                return Err(de::Error::custom("appears more than once"));
            }
            match map.next_value::<Json<'de>>() {
                Ok(value) => out[i] = Some(value),
                Err(e) => {
                    *self.failed = Some(self.names[i]);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }
}

/// Maps a key to its index in the wanted names, or `None` for a member to skip.
struct KeyIndex<'n>(&'n [&'static str]);

impl<'de> DeserializeSeed<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::Number(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Json::Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'a, const N: usize>(
        text: &'a str,
        names: [&'static str; N],
    ) -> Result<[Option<Json<'a>>; N], ReadError> {
        read_members(text.as_bytes(), names)
    }

    #[test]
    fn reads_wanted_members_and_skips_the_rest() {
        let [a, b, c] = read(
            r#" {"a":"x","skip":{"deep":[1,2,{"z":null}]},"b":1.5,"c":[1]} "#,
            ["a", "b", "c"],
        )
        .unwrap();
        assert_eq!(a, Some(Json::String(Cow::Borrowed("x"))));
        assert_eq!(b, Some(Json::Number(1.5)));
        assert_eq!(c, Some(Json::Array));
        let [missing] = read(r#"{}"#, ["a"]).unwrap();
        assert_eq!(missing, None);
    }

    #[test]
    fn escaped_keys_are_the_same_member() {
        let err = read(r#"{"alg":"EdDSA","\u0061lg":"none"}"#, ["alg"]).unwrap_err();
        assert_eq!(err.member, Some("alg"));
        assert!(err.reason.contains("more than once"), "{}", err.reason);
    }

    #[test]
    fn failures_name_the_member() {
        let err = read(r#"{"iat":1e400}"#, ["iat"]).unwrap_err();
        assert_eq!(err.member, Some("iat"));
        assert!(err.reason.contains("number out of range"), "{}", err.reason);
        let err = read(r#"{"sub":"\ud800"}"#, ["sub"]).unwrap_err();
        assert_eq!(err.member, Some("sub"));
        // Outside a wanted member the failure belongs to the object.
        let err = read(r#"{"other":1e400}"#, ["iat"]);
        assert!(err.is_ok(), "skipped members are not range-checked");
        let err = read(r#"{"iat":1,}"#, ["iat"]).unwrap_err();
        assert_eq!(err.member, None);
    }

    #[test]
    fn only_objects_are_accepted() {
        for text in [
            "[1]",
            "\"x\"",
            "1",
            "",
            "  ",
            "null",
            "{} {}",
            "{\"a\":1} x",
        ] {
            let err = read(text, ["a"]).unwrap_err();
            assert_eq!(err.member, None, "{text}");
        }
        let err = read_members(&[b'{', 0xff, b'}'], ["a"]).unwrap_err();
        assert!(err.reason.contains("UTF-8"), "{}", err.reason);
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        let deep = format!(
            r#"{{"x":{}{}, "a":true}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let [a] = read(&deep, ["a"]).unwrap();
        assert_eq!(a, Some(Json::Bool(true)));
        let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        let [a] = read(&deep, ["a"]).unwrap();
        assert_eq!(a, Some(Json::Array));
    }
}
