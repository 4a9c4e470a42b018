//! RFC 8785 canonical JSON written straight from a value's `Serialize` implementation.
//!
//! The bytes are exactly those of [`json::canonical_value`] over `serde_json::to_value(value)`
//! (the tests check both ways on random records and random JSON), without building that
//! value first: every signature and record hash is over these bytes, and a device writes them
//! two or three times per punch, a server once per pushed record.
//!
//! The JSON value model is followed member for member: integers and floats are written as the
//! ECMAScript form of their IEEE double, a non-finite float is `null`, bytes are an array of
//! numbers, an enum variant with data is an object with one member, and when a map names a key
//! twice (a flattened struct can) the last value wins. Object members are written in the order
//! of their names' UTF-16 code units. Strict writing ([`canonical_strict`]) also refuses an
//! integer beyond ±(2^53 − 1), which RFC 8785 cannot carry exactly.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::ser::{self, Serialize};

use super::json::{MAX_SAFE_INTEGER, utf16_order, write_string};

/// Why a value has no canonical form here.
#[derive(Debug)]
pub(crate) struct CanonicalError(String);

impl fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonicalError {}

impl ser::Error for CanonicalError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CanonicalError(msg.to_string())
    }
}

/// The canonical JSON of `value`.
pub(crate) fn canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    write(value, false)
}

/// [`canonical_bytes`], refusing integers beyond ±(2^53 − 1).
pub(crate) fn canonical_strict<T: Serialize + ?Sized>(
    value: &T,
) -> Result<Vec<u8>, CanonicalError> {
    write(value, true)
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
            return Err(CanonicalError(format!(
                "the integer {value} is beyond 2^53 - 1, which canonical JSON cannot carry exactly"
            )));
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
        let key = self
            .key
            .take()
            .ok_or_else(|| CanonicalError("a map value came without its key".into()))?;
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
        Ok(other) => Err(CanonicalError(format!(
            "a map key must be a string, not {other}"
        ))),
        Err(e) => Err(CanonicalError(format!("a map key cannot be written: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use serde_json::Value;

    use super::*;
    use crate::punch::json::canonical_value;

    /// What the writer must produce: the canonical form of serde's JSON value model.
    fn through_value<T: Serialize>(value: &T) -> Vec<u8> {
        canonical_value(&serde_json::to_value(value).unwrap())
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
        pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
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
        let written = canonical_bytes(&value).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(through_value(&value)).unwrap()
        );
        assert_eq!(
            canonical_bytes(&value).unwrap(),
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
        assert_eq!(canonical_bytes(&twice).unwrap(), br#"{"a":2,"b":3}"#);
        assert_eq!(canonical_bytes(&twice).unwrap(), through_value(&twice));
    }

    #[test]
    fn strict_writing_refuses_integers_beyond_two_to_the_53() {
        let safe = MAX_SAFE_INTEGER;
        assert_eq!(canonical_strict(&safe).unwrap(), b"9007199254740991");
        assert_eq!(
            canonical_strict(&-i64::try_from(safe).unwrap()).unwrap(),
            b"-9007199254740991"
        );
        for value in [
            Value::from(safe + 1),
            Value::from(-i64::try_from(safe).unwrap() - 1),
            serde_json::json!({"deep": [1, {"n": u64::MAX}]}),
        ] {
            let e = canonical_strict(&value).unwrap_err();
            assert!(e.to_string().contains("2^53"), "{e}");
            // Not strict: written as the double the value model holds.
            assert_eq!(canonical_bytes(&value).unwrap(), canonical_value(&value));
        }
        assert!(canonical_strict(&[1.5e300, -0.0]).is_ok());
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
        let e = canonical_bytes(&FloatKeys(by_float)).unwrap_err();
        assert!(e.to_string().contains("map key"), "{e}");
        let by_seq: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(canonical_bytes(&by_seq).is_err());
    }
}
