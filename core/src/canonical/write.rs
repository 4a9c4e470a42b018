//! The canonical JSON writer (RFC 8785, JCS): the one place daka turns a value into the bytes
//! that signatures and hashes cover.
//!
//! It writes straight from a value's `Serialize` implementation, without building a
//! `serde_json::Value` first: a device writes a record two or three times per punch, a server
//! once per pushed record. A `serde_json::Value` is a `Serialize` value like any other, so the
//! server's hash of an arbitrary item body goes through the same code; the tests check the
//! output against an independent RFC 8785 implementation (`serde_json_canonicalizer`) on random
//! JSON, and typed values against their own JSON value model.
//!
//! The JSON value model is followed member for member: integers and floats are written as the
//! ECMAScript form of their IEEE double (`ryu-js`), a non-finite float is `null`, bytes are an
//! array of numbers, an enum variant with data is an object with one member, and when a map
//! names a key twice (a flattened struct can) the last value wins. Object members are written
//! in the order of their names' UTF-16 code units (§3.2.3); strings escape only `"`, `\\` and
//! the control characters, with the short escapes where JSON has one and `\u00xx` otherwise
//! (§3.2.2.2); there is no whitespace. Strict writing ([`to_vec_strict`]) also refuses an
//! integer beyond ±(2^53 − 1), which RFC 8785 cannot carry exactly.

use std::borrow::Cow;
use std::ops::Range;

use serde::ser::{self, Serialize};

use super::error::{CanonicalError, MAX_SAFE_INTEGER};

/// The canonical JSON of `value`. An integer beyond ±(2^53 − 1) is written as the double
/// nearest to it, as the JSON value model holds it; signed formats refuse such integers when
/// reading ([`check_integers`](super::check_integers)) and validating, or write with
/// [`to_vec_strict`].
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    write(value, false)
}

/// [`to_vec`], refusing integers beyond ±(2^53 − 1).
pub fn to_vec_strict<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    write(value, true)
}

/// [`to_vec`] as a string (the writer writes UTF-8 only).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonicalError> {
    String::from_utf8(to_vec(value)?).map_err(|e| CanonicalError::Unwritable {
        reason: e.to_string(),
    })
}

fn write<T: Serialize + ?Sized>(value: &T, strict: bool) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(1024);
    value.serialize(Writer {
        out: &mut out,
        strict,
    })?;
    Ok(out)
}

/// Writes one value to `out`.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    strict: bool,
}

impl Writer<'_> {
    fn number(self, value: f64) {
        if value.is_finite() {
            self.out
                .extend_from_slice(ryu_js::Buffer::new().format_finite(value).as_bytes());
        } else {
            self.out.extend_from_slice(b"null");
        }
    }

    fn integer(self, magnitude: u128, value: f64) -> Result<(), CanonicalError> {
        if self.strict && magnitude > u128::from(MAX_SAFE_INTEGER) {
            return Err(CanonicalError::UnsafeInteger {
                field: String::new(),
                value: format!("{}{magnitude}", if value < 0.0 { "-" } else { "" }),
            });
        }
        self.number(value);
        Ok(())
    }

    /// An object of one member `variant`, whose value the caller writes next.
    fn open_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        write_string(variant, self.out);
        self.out.push(b':');
    }
}

/// An object being written: its members' values in `values`, written in the order they came,
/// and sorted by name when the object ends.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    strict: bool,
    values: Vec<u8>,
    members: Vec<(Cow<'static, str>, Range<usize>)>,
    /// The key given to `serialize_key`, waiting for its value.
    key: Option<String>,
    /// The object is the value of an enum variant: one more `}` closes the wrapper.
    in_variant: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>, strict: bool, in_variant: bool) -> Object<'a> {
        Object {
            out,
            strict,
            values: Vec::with_capacity(256),
            members: Vec::with_capacity(16),
            key: None,
            in_variant,
        }
    }

    fn member<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), CanonicalError> {
        let start = self.values.len();
        value.serialize(Writer {
            out: &mut self.values,
            strict: self.strict,
        })?;
        self.members.push((key, start..self.values.len()));
        Ok(())
    }

    fn finish(mut self) -> Result<(), CanonicalError> {
        // Stable: of two members with one name, the later stays later, and wins.
        self.members.sort_by(|(a, _), (b, _)| utf16_order(a, b));
        self.out.push(b'{');
        let mut first = true;
        for (i, (key, range)) in self.members.iter().enumerate() {
            if self.members.get(i + 1).is_some_and(|(next, _)| next == key) {
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            write_string(key, self.out);
            self.out.push(b':');
            self.out.extend_from_slice(&self.values[range.clone()]);
        }
        self.out.push(b'}');
        if self.in_variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// An array being written.
struct Array<'a> {
    out: &'a mut Vec<u8>,
    strict: bool,
    first: bool,
    in_variant: bool,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Writer {
            out: self.out,
            strict: self.strict,
        })
    }

    fn finish(self) -> Result<(), CanonicalError> {
        self.out.push(b']');
        if self.in_variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), CanonicalError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), CanonicalError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), CanonicalError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), CanonicalError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), CanonicalError> {
        self.integer(u128::from(v.unsigned_abs()), v as f64)
    }

    fn serialize_i128(self, v: i128) -> Result<(), CanonicalError> {
        self.integer(v.unsigned_abs(), v as f64)
    }

    fn serialize_u8(self, v: u8) -> Result<(), CanonicalError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), CanonicalError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), CanonicalError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), CanonicalError> {
        self.integer(u128::from(v), v as f64)
    }

    fn serialize_u128(self, v: u128) -> Result<(), CanonicalError> {
        self.integer(v, v as f64)
    }

    fn serialize_f32(self, v: f32) -> Result<(), CanonicalError> {
        self.number(f64::from(v));
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), CanonicalError> {
        self.number(v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), CanonicalError> {
        write_string(v.encode_utf8(&mut [0; 4]), self.out);
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), CanonicalError> {
        write_string(v, self.out);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), CanonicalError> {
        use ser::SerializeSeq as _;
        let mut array = self.serialize_seq(Some(v.len()))?;
        for byte in v {
            array.serialize_element(byte)?;
        }
        array.end()
    }

    fn serialize_none(self) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CanonicalError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), CanonicalError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), CanonicalError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.open_variant(variant);
        value.serialize(Writer {
            out: self.out,
            strict: self.strict,
        })?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>, CanonicalError> {
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            strict: self.strict,
            first: true,
            in_variant: false,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Array<'a>, CanonicalError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Array<'a>, CanonicalError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'a>, CanonicalError> {
        self.open_variant(variant);
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            strict: self.strict,
            first: true,
            in_variant: true,
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, CanonicalError> {
        Ok(Object::new(self.out, self.strict, false))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, CanonicalError> {
        Ok(Object::new(self.out, self.strict, false))
    }

    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, CanonicalError> {
        self.open_variant(variant);
        Ok(Object::new(self.out, self.strict, true))
    }
}

/// The four array-like forms serde has, all written as a JSON array.
macro_rules! array_form {
    ($form:ident, $add:ident) => {
        impl ser::$form for Array<'_> {
            type Ok = ();
            type Error = CanonicalError;

            fn $add<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
                self.element(value)
            }

            fn end(self) -> Result<(), CanonicalError> {
                self.finish()
            }
        }
    };
}

array_form!(SerializeSeq, serialize_element);
array_form!(SerializeTuple, serialize_element);
array_form!(SerializeTupleStruct, serialize_field);
array_form!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonicalError> {
        self.key = Some(map_key(key)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        let key = self.key.take().ok_or_else(|| CanonicalError::Unwritable {
            reason: "a map value came without its key".into(),
        })?;
        self.member(Cow::Owned(key), value)
    }

    fn end(self) -> Result<(), CanonicalError> {
        self.finish()
    }
}

/// Structs and struct variants, both written as a JSON object.
macro_rules! struct_form {
    ($form:ident) => {
        impl ser::$form for Object<'_> {
            type Ok = ();
            type Error = CanonicalError;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), CanonicalError> {
                self.member(Cow::Borrowed(key), value)
            }

            fn end(self) -> Result<(), CanonicalError> {
                self.finish()
            }
        }
    };
}

struct_form!(SerializeStruct);
struct_form!(SerializeStructVariant);

/// A map key as the JSON value model takes it: a string, or an integer or boolean written as
/// one. Records have no maps, so this goes through serde_json rather than a key serializer.
fn map_key<T: Serialize + ?Sized>(key: &T) -> Result<String, CanonicalError> {
    match serde_json::to_value(key) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(serde_json::Value::Bool(b)) => Ok(b.to_string()),
        Ok(serde_json::Value::Number(n)) if !n.is_f64() => Ok(n.to_string()),
        Ok(other) => Err(CanonicalError::Unwritable {
            reason: format!("a map key must be a string, not {other}"),
        }),
        Err(e) => Err(CanonicalError::Unwritable {
            reason: format!("a map key cannot be written: {e}"),
        }),
    }
}

/// Orders two strings by their UTF-16 code units (RFC 8785 §3.2.3).
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    // Lead bytes 0xEE and above start U+E000..; below them, byte order is UTF-16 order.
    let simple = |s: &str| s.bytes().all(|b| b < 0xEE);
    if simple(a) && simple(b) {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// A JSON string as RFC 8785 writes it.
fn write_string(s: &str, out: &mut Vec<u8>) {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use serde_json::{Number, Value};

    use super::*;

    /// What the writer must produce: the canonical form of serde's JSON value model, written
    /// by the same writer from the `serde_json::Value`.
    fn through_value<T: Serialize>(value: &T) -> Vec<u8> {
        to_vec(&serde_json::to_value(value).unwrap()).unwrap()
    }

    fn written(value: &Value) -> Vec<u8> {
        to_vec(value).unwrap()
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { z: bool, a: Option<f64> },
    }

    #[derive(Serialize)]
    struct Inner {
        zeta: &'static str,
        alpha: Vec<Shape>,
    }

    #[derive(Serialize)]
    struct Everything {
        yes: bool,
        small: i8,
        big: u64,
        negative: i64,
        float: f32,
        not_a_number: f64,
        infinite: f64,
        letter: char,
        text: String,
        #[serde(with = "serde_bytes_as_seq")]
        bytes: Vec<u8>,
        nothing: Option<u32>,
        unit: (),
        pair: (u16, &'static str),
        shapes: Vec<Shape>,
        by_number: BTreeMap<u32, &'static str>,
        by_name: BTreeMap<String, i32>,
        #[serde(flatten)]
        inner: Inner,
        // The same name as a flattened member: the value model keeps the last.
        #[serde(rename = "zeta")]
        shout: u8,
        /// Names ordered by UTF-16 code units, not by UTF-8 bytes.
        #[serde(rename = "\u{e000}")]
        private_use: u8,
        #[serde(rename = "\u{1f600}")]
        emoji: u8,
    }

    mod serde_bytes_as_seq {
        pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }

    fn everything() -> Everything {
        Everything {
            yes: true,
            small: -8,
            big: u64::MAX,
            negative: i64::MIN,
            float: 0.1,
            not_a_number: f64::NAN,
            infinite: f64::NEG_INFINITY,
            letter: '"',
            text: "tab\t, quote \", slash \\, 陳大文, \u{1}".into(),
            bytes: vec![0, 255, 7],
            nothing: None,
            unit: (),
            pair: (7, "x"),
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(3),
                Shape::Tuple(-1, "t".into()),
                Shape::Struct {
                    z: false,
                    a: Some(1e21),
                },
            ],
            by_number: [(10, "ten"), (9, "nine")].into_iter().collect(),
            by_name: [("b".to_string(), 2), ("a".to_string(), 1)]
                .into_iter()
                .collect(),
            inner: Inner {
                zeta: "inner",
                alpha: vec![Shape::Struct { z: true, a: None }],
            },
            shout: 1,
            private_use: 2,
            emoji: 3,
        }
    }

    #[test]
    fn typed_values_write_what_their_json_value_model_writes() {
        let value = everything();
        let written = to_vec(&value).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(through_value(&value)).unwrap()
        );
        assert_eq!(
            to_vec(&value).unwrap(),
            serde_json_canonicalizer::to_vec(&serde_json::to_value(&value).unwrap()).unwrap()
        );
    }

    #[test]
    fn a_key_named_twice_keeps_the_last_value() {
        #[derive(Serialize)]
        struct Twice {
            a: u8,
            #[serde(flatten)]
            more: BTreeMap<String, u8>,
        }
        let twice = Twice {
            a: 1,
            more: [("a".to_string(), 2), ("b".to_string(), 3)]
                .into_iter()
                .collect(),
        };
        assert_eq!(to_vec(&twice).unwrap(), br#"{"a":2,"b":3}"#);
        assert_eq!(to_vec(&twice).unwrap(), through_value(&twice));
    }

    #[test]
    fn strict_writing_refuses_integers_beyond_two_to_the_53() {
        let safe = MAX_SAFE_INTEGER;
        assert_eq!(to_vec_strict(&safe).unwrap(), b"9007199254740991");
        assert_eq!(
            to_vec_strict(&-i64::try_from(safe).unwrap()).unwrap(),
            b"-9007199254740991"
        );
        for value in [
            Value::from(safe + 1),
            Value::from(-i64::try_from(safe).unwrap() - 1),
            serde_json::json!({"deep": [1, {"n": u64::MAX}]}),
        ] {
            let e = to_vec_strict(&value).unwrap_err();
            assert!(e.to_string().contains("2^53"), "{e}");
            // Not strict: written as the double the value model holds.
            assert_eq!(
                to_vec(&value).unwrap(),
                serde_json_canonicalizer::to_vec(&value).unwrap()
            );
        }
        assert!(to_vec_strict(&[1.5e300, -0.0]).is_ok());
    }

    #[test]
    fn map_keys_that_json_cannot_name_are_refused() {
        let by_float: Vec<(f64, u8)> = vec![(1.5, 1)];
        struct FloatKeys(Vec<(f64, u8)>);
        impl Serialize for FloatKeys {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap as _;
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in &self.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let e = to_vec(&FloatKeys(by_float)).unwrap_err();
        assert!(e.to_string().contains("map key"), "{e}");
        let by_seq: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(to_vec(&by_seq).is_err());
    }

    /// An object's members followed by one more, in that order, as a map.
    struct Appended<'a> {
        object: &'a serde_json::Map<String, Value>,
        member: Option<(&'a String, &'a Value)>,
    }

    impl Serialize for Appended<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap as _;
            let mut map = s.serialize_map(None)?;
            for (k, v) in self.object.iter().chain(self.member) {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
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
        assert_eq!(String::from_utf8(written(&v)).unwrap(), expected);
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
            String::from_utf8(written(&v)).unwrap(),
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

        /// A member given after an object's others (as a signed item's flattened body is
        /// followed by `sig`) is written at its place in the order, wherever it sorts (first,
        /// between, last, alone), and the object without it is written as the object alone.
        #[test]
        fn a_member_given_last_is_written_at_its_place(
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
            let without = to_vec(&Appended { object: &object, member: None }).unwrap();
            let with = to_vec(&Appended { object: &object, member: Some((&name, &extra)) }).unwrap();
            proptest::prop_assert_eq!(
                &without,
                &serde_json_canonicalizer::to_vec(&Value::Object(object.clone())).unwrap()
            );
            object.insert(name, extra);
            proptest::prop_assert_eq!(
                with,
                serde_json_canonicalizer::to_vec(&Value::Object(object)).unwrap()
            );
        }

        /// The writer agrees byte for byte with an independent RFC 8785 implementation on
        /// random JSON values.
        #[test]
        fn canonical_writing_agrees_with_an_independent_implementation(value in any_json()) {
            let expected = serde_json_canonicalizer::to_vec(&value).unwrap();
            let written = to_vec(&value).unwrap();
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
            // Strict writing writes the same bytes whenever it writes at all.
            if let Ok(strict) = to_vec_strict(&value) {
                proptest::prop_assert_eq!(strict, expected);
            }
        }
    }
}
