//! The JSON layer under the policy parser: a compact value tree, the paths that name its nodes,
//! and typed accessors whose every failure is a [`PolicyError`] at the right path.
//!
//! Why not `serde_json::Value` or derived structs:
//! * serde_json's map silently keeps the last of two equal keys; a policy with
//!   `"radius_m": 80, "radius_m": 8000` must be an error, so objects keep every entry, in order.
//! * Every node counts against [`MAX_JSON_VALUES`] while parsing, so a document built to be
//!   costly is refused before its tree exists, with serde_json's line and column.
//! * Integers and fractions stay distinct, so `"version": 7.5` is a type error and error texts
//!   show numbers as they were written (`95` vs `95.0`).
//!
//! Nesting is bounded by serde_json's recursion limit ([`MAX_DEPTH`]): deeper input is a syntax
//! error, never a stack overflow, and the tree is shallow enough to drop recursively.
//! Paths are linked lists on the stack ([`Path`]) and only become strings when an error is made.

use std::cell::Cell;
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::error::{PolicyError, PolicyErrorKind};
use super::limits::{MAX_DEPTH, MAX_JSON_VALUES};

/// A parsed JSON value. Objects keep duplicate keys so the walker can reject them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// A non-negative integer literal.
    UInt(u64),
    /// A negative integer literal.
    Int(i64),
    /// Any other number (fraction, exponent, or an integer beyond 64 bits). Always finite.
    Float(f64),
    Str(Box<str>),
    Arr(Box<[Json]>),
    Obj(Box<[(Box<str>, Json)]>),
}

/// Parses `text` into a [`Json`] tree, enforcing the value budget and the depth limit.
pub(crate) fn parse(text: &str) -> Result<Json, PolicyError> {
    let budget = Budget {
        left: Cell::new(MAX_JSON_VALUES),
        exhausted: Cell::new(false),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let result = Node { budget: &budget }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    result.map_err(|e| {
        if budget.exhausted.get() {
            PolicyError::new(
                "$",
                PolicyErrorKind::TooLarge {
                    what: "JSON values",
                    max: MAX_JSON_VALUES,
                },
            )
        } else {
            let mut msg = e.to_string();
            if msg.starts_with("recursion limit exceeded") {
                let _ = write!(msg, " (at most {MAX_DEPTH} nested arrays and objects)");
            }
            PolicyError::new("$", PolicyErrorKind::Syntax(msg))
        }
    })
}

struct Budget {
    left: Cell<usize>,
    exhausted: Cell<bool>,
}

impl Budget {
    fn take<E: de::Error>(&self) -> Result<(), E> {
        match self.left.get() {
            0 => {
                self.exhausted.set(true);
                Err(E::custom(format_args!(
                    "more than {MAX_JSON_VALUES} JSON values"
                )))
            }
            n => {
                self.left.set(n - 1);
                Ok(())
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Node<'b> {
    budget: &'b Budget,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Json;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        self.budget.take()?;
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        self.budget.take()?;
        Ok(Json::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        self.budget.take()?;
        Ok(Json::UInt(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        self.budget.take()?;
        Ok(if v >= 0 {
            Json::UInt(v as u64)
        } else {
            Json::Int(v)
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        self.budget.take()?;
        // serde_json never yields a non-finite number, but the tree promises finiteness.
        if !v.is_finite() {
            return Err(E::custom("number out of range"));
        }
        Ok(Json::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        self.budget.take()?;
        Ok(Json::Str(v.into()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        self.budget.take()?;
        Ok(Json::Str(v.into_boxed_str()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        self.budget.take()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Json::Arr(items.into_boxed_slice()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        self.budget.take()?;
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            entries.push((key.into_boxed_str(), value));
        }
        Ok(Json::Obj(entries.into_boxed_slice()))
    }
}

/// A location in the document, linked to its parent on the stack.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

/// Longest object key rendered in a path; longer (hostile) keys are shortened.
const MAX_KEY_IN_PATH: usize = 64;

impl<'a> Path<'a> {
    pub(crate) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }
    pub(crate) fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
    pub(crate) fn err(&self, kind: PolicyErrorKind) -> PolicyError {
        PolicyError::new(self.to_string(), kind)
    }
    pub(crate) fn invalid(
        &self,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> PolicyError {
        self.err(PolicyErrorKind::Invalid {
            value: value.into(),
            reason: reason.into(),
        })
    }
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("$"),
            Path::Key(parent, key) => {
                let root = matches!(parent, Path::Root);
                if !root {
                    parent.fmt(f)?;
                }
                if is_identifier(key) && key.len() <= MAX_KEY_IN_PATH {
                    if !root {
                        f.write_str(".")?;
                    }
                    f.write_str(key)
                } else {
                    if root {
                        f.write_str("$")?;
                    }
                    let short = truncate_chars(key, MAX_KEY_IN_PATH);
                    let quoted = serde_json::to_string(&short).map_err(|_| fmt::Error)?;
                    write!(f, "[{quoted}]")
                }
            }
            Path::Index(parent, i) => {
                parent.fmt(f)?;
                write!(f, "[{i}]")
            }
        }
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// Longest rendering of a value inside an error.
const MAX_SHOWN: usize = 80;

impl Json {
    /// Compact JSON-like text of the value, at most [`MAX_SHOWN`] characters (then `…`).
    pub(crate) fn show(&self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        truncate_chars(&out, MAX_SHOWN)
    }

    fn render(&self, out: &mut String) {
        // Stop early: nothing past MAX_SHOWN characters is shown, and a value may be huge.
        if out.len() > MAX_SHOWN * 4 {
            return;
        }
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Json::UInt(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Float(x) => {
                let _ = write!(out, "{x:?}");
            }
            Json::Str(s) => {
                let short = truncate_chars(s, MAX_SHOWN);
                let _ = write!(out, "{}", serde_json::Value::String(short));
            }
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if out.len() > MAX_SHOWN * 4 {
                        break;
                    }
                    item.render(out);
                }
                out.push(']');
            }
            Json::Obj(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if out.len() > MAX_SHOWN * 4 {
                        break;
                    }
                    let _ = write!(
                        out,
                        "{}: ",
                        serde_json::Value::String(truncate_chars(k, MAX_SHOWN))
                    );
                    v.render(out);
                }
                out.push('}');
            }
        }
    }

    /// How the value reads in a "found …" message: its type and a short rendering.
    pub(crate) fn describe(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => format!("boolean {b}"),
            Json::UInt(_) | Json::Int(_) | Json::Float(_) => format!("number {}", self.show()),
            Json::Str(_) => format!("string {}", self.show()),
            Json::Arr(items) => format!("array of {} elements", items.len()),
            Json::Obj(entries) => format!("object with {} fields", entries.len()),
        }
    }

    fn wrong_type(&self, path: &Path<'_>, expected: &'static str) -> PolicyError {
        path.err(PolicyErrorKind::WrongType {
            expected,
            found: self.describe(),
        })
    }

    pub(crate) fn as_str(&self, path: &Path<'_>) -> Result<&str, PolicyError> {
        match self {
            Json::Str(s) => Ok(s),
            _ => Err(self.wrong_type(path, "string")),
        }
    }

    pub(crate) fn as_bool(&self, path: &Path<'_>) -> Result<bool, PolicyError> {
        match self {
            Json::Bool(b) => Ok(*b),
            _ => Err(self.wrong_type(path, "boolean")),
        }
    }

    /// Any JSON number as `f64` (always finite).
    pub(crate) fn as_f64(&self, path: &Path<'_>) -> Result<f64, PolicyError> {
        match self {
            Json::UInt(n) => Ok(*n as f64),
            Json::Int(n) => Ok(*n as f64),
            Json::Float(x) => Ok(*x),
            _ => Err(self.wrong_type(path, "number")),
        }
    }

    /// A non-negative integer written without fraction or exponent.
    pub(crate) fn as_u64(&self, path: &Path<'_>) -> Result<u64, PolicyError> {
        match self {
            Json::UInt(n) => Ok(*n),
            Json::Int(_) => Err(path.invalid(self.show(), "must be a non-negative integer")),
            _ => Err(self.wrong_type(path, "non-negative integer")),
        }
    }

    /// An array of at most `max` elements.
    pub(crate) fn as_array(&self, path: &Path<'_>, max: usize) -> Result<&[Json], PolicyError> {
        match self {
            Json::Arr(items) if items.len() > max => Err(path.err(PolicyErrorKind::TooMany {
                max,
                len: items.len(),
            })),
            Json::Arr(items) => Ok(items),
            _ => Err(self.wrong_type(path, "array")),
        }
    }

    /// The first value of `key` if this is an object, without checking the other keys.
    pub(crate) fn lenient_field(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(entries) => entries.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// An object whose keys are all in `allowed`, each at most once.
    pub(crate) fn as_object<'j>(
        &'j self,
        path: &Path<'_>,
        allowed: &'static [&'static str],
    ) -> Result<Obj<'j>, PolicyError> {
        let Json::Obj(entries) = self else {
            return Err(self.wrong_type(path, "object"));
        };
        debug_assert!(allowed.len() <= 64);
        let mut seen = 0u64;
        for (key, _) in entries.iter() {
            let Some(i) = allowed.iter().position(|a| *a == &**key) else {
                return Err(path.key(key).err(PolicyErrorKind::UnknownField { allowed }));
            };
            if seen & (1 << i) != 0 {
                return Err(path.key(key).err(PolicyErrorKind::DuplicateField));
            }
            seen |= 1 << i;
        }
        Ok(Obj { entries })
    }
}

/// An object whose keys were checked against the fields the format allows.
pub(crate) struct Obj<'j> {
    entries: &'j [(Box<str>, Json)],
}

impl<'j> Obj<'j> {
    pub(crate) fn get(&self, key: &str) -> Option<&'j Json> {
        self.entries
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
    }

    /// The value of a required field, or [`PolicyErrorKind::Missing`] at `path.key`.
    pub(crate) fn req(&self, path: &Path<'_>, key: &str) -> Result<&'j Json, PolicyError> {
        self.get(key)
            .ok_or_else(|| path.key(key).err(PolicyErrorKind::Missing))
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_the_docs_say() {
        let root = Path::Root;
        let sites = root.key("sites");
        let s2 = sites.index(2);
        let fences = s2.key("fences");
        let f0 = fences.index(0);
        let c = f0.key("coordinates");
        let r0 = c.index(0);
        let p3 = r0.index(3);
        assert_eq!(p3.to_string(), "sites[2].fences[0].coordinates[0][3]");
        assert_eq!(root.to_string(), "$");
        assert_eq!(root.key("time zone").to_string(), "$[\"time zone\"]");
        let org = root.key("org");
        assert_eq!(org.key("a.b").to_string(), "org[\"a.b\"]");
        assert_eq!(root.index(0).to_string(), "$[0]");
    }

    #[test]
    fn long_keys_are_shortened_in_paths() {
        let key = "k".repeat(1000);
        let root = Path::Root;
        let org = root.key("org");
        let rendered = org.key(&key).to_string();
        assert_eq!(rendered, format!("org[\"{}…\"]", "k".repeat(64)));
        let odd = "-".repeat(1000);
        let rendered = org.key(&odd).to_string();
        assert_eq!(rendered, format!("org[\"{}…\"]", "-".repeat(64)));
    }

    #[test]
    fn nesting_stops_at_max_depth() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        let err = parse(&deep).unwrap_err();
        assert_eq!(
            err.kind,
            PolicyErrorKind::Syntax(format!(
                "recursion limit exceeded at line 1 column {} (at most {MAX_DEPTH} nested arrays and objects)",
                MAX_DEPTH + 1
            ))
        );
    }

    #[test]
    fn duplicate_keys_are_kept_and_rejected() {
        let v = parse(r#"{"a": 1, "a": 2}"#).unwrap();
        let err = v.as_object(&Path::Root, &["a"]).err().unwrap();
        assert_eq!(err.path, "a");
        assert_eq!(err.kind, PolicyErrorKind::DuplicateField);
    }

    #[test]
    fn numbers_keep_their_kind() {
        let v = parse("[1, -1, 1.0, 18446744073709551616]").unwrap();
        assert_eq!(
            v,
            Json::Arr(
                vec![
                    Json::UInt(1),
                    Json::Int(-1),
                    Json::Float(1.0),
                    Json::Float(18446744073709551616.0)
                ]
                .into()
            )
        );
        assert_eq!(v.show(), "[1, -1, 1.0, 1.8446744073709552e19]");
    }

    #[test]
    fn shown_values_are_bounded() {
        let v = Json::Str("x".repeat(1_000_000).into());
        let shown = v.show();
        assert_eq!(shown.chars().count(), MAX_SHOWN + 1);
        assert!(shown.ends_with('…'));
    }
}
