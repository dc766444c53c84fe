//! Any `Serialize` value as the Python object it stands for, and Python's
//! `str()` of it.
//!
//! stable-pretraining flattens hparams from Python objects: dict keys go
//! through `str()`, tuples print differently from lists, and a value that is
//! not a dict becomes `str(value)`. Serializing into this small model first
//! keeps those distinctions, which runreg's [`Value`](crate::Value) does
//! not.

use std::fmt::{self, Write as _};

use serde::ser::{self, Serialize};

use crate::sidecar::write_python_float;

/// A Python object, as a serde data model value maps to it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PyValue {
    /// `None`: unit, `Option::None`, unit structs.
    None,
    Bool(bool),
    Int(i64),
    /// An integer beyond `i64`, in decimal (Python ints are unbounded).
    BigInt(String),
    Float(f64),
    /// `str`: strings, chars, unit enum variants.
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `list`: sequences.
    List(Vec<PyValue>),
    /// `tuple`: tuples and tuple structs.
    Tuple(Vec<PyValue>),
    /// `dict`: maps and structs, in serialization order.
    Dict(Vec<(PyValue, PyValue)>),
}

/// Serializes `value` into the [`PyValue`] it stands for.
pub(crate) fn to_py<T: Serialize + ?Sized>(value: &T) -> Result<PyValue, SerError> {
    value.serialize(ToPy)
}

impl PyValue {
    /// Python's `str(self)`: a string as is, anything else as its `repr`.
    pub fn py_str(&self) -> String {
        match self {
            PyValue::Str(s) => s.clone(),
            other => {
                let mut out = String::new();
                other.write_repr(&mut out);
                out
            }
        }
    }

    /// Python's `repr(self)`.
    fn write_repr(&self, out: &mut String) {
        match self {
            PyValue::None => out.push_str("None"),
            PyValue::Bool(true) => out.push_str("True"),
            PyValue::Bool(false) => out.push_str("False"),
            PyValue::Int(i) => {
                let _ = write!(out, "{i}");
            }
            PyValue::BigInt(digits) => out.push_str(digits),
            PyValue::Float(f) => write_float_repr(*f, out),
            PyValue::Str(s) => write_str_repr(s, out),
            PyValue::Bytes(b) => write_bytes_repr(b, out),
            PyValue::List(items) => {
                out.push('[');
                write_items(items, out);
                out.push(']');
            }
            PyValue::Tuple(items) => {
                out.push('(');
                write_items(items, out);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            PyValue::Dict(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out);
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_items(items: &[PyValue], out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        item.write_repr(out);
    }
}

/// `repr(float)`: as in JSON, but `nan`, `inf`, `-inf`.
pub(crate) fn write_float_repr(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    } else {
        write_python_float(f, out);
    }
}

/// Whether Python's `str.isprintable()` holds for `c`, for the characters
/// that matter in practice: controls, separators other than the space, and
/// the common format characters are not printable. (Unassigned code points
/// are not printable in Python either; telling them apart needs Unicode
/// tables, and such keys do not occur in configs.)
fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{a0}'
                | '\u{ad}'
                | '\u{1680}'
                | '\u{2000}'..='\u{200f}'
                | '\u{2028}'..='\u{202f}'
                | '\u{205f}'..='\u{2064}'
                | '\u{3000}'
                | '\u{feff}'
        ))
}

/// `repr(str)`: single quotes unless the text holds a single quote and no
/// double quote.
fn write_str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let n = u32::from(c);
                let _ = match n {
                    0..=0xff => write!(out, "\\x{n:02x}"),
                    0x100..=0xffff => write!(out, "\\u{n:04x}"),
                    _ => write!(out, "\\U{n:08x}"),
                };
            }
        }
    }
    out.push(quote);
}

/// `repr(bytes)`: `b'...'`, printable ASCII as is, the rest as `\xNN`.
fn write_bytes_repr(bytes: &[u8], out: &mut String) {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push('b');
    out.push(char::from(quote));
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if b == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(char::from(quote));
}

/// Why a value could not be serialized: its `Serialize` impl failed.
#[derive(Debug)]
pub(crate) struct SerError(pub String);

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

/// The serde `Serializer` building a [`PyValue`].
struct ToPy;

/// Collects the items of a sequence, tuple or variant.
struct Items {
    items: Vec<PyValue>,
    tuple: bool,
    /// For tuple variants: the variant's name, wrapping the items.
    variant: Option<&'static str>,
}

impl Items {
    fn finish(self) -> PyValue {
        let items = if self.tuple {
            PyValue::Tuple(self.items)
        } else {
            PyValue::List(self.items)
        };
        wrap(self.variant, items)
    }
}

/// Collects the entries of a map, struct or struct variant.
struct Entries {
    entries: Vec<(PyValue, PyValue)>,
    pending_key: Option<PyValue>,
    variant: Option<&'static str>,
}

impl Entries {
    fn finish(self) -> PyValue {
        wrap(self.variant, PyValue::Dict(self.entries))
    }
}

/// An enum variant holding `value` is `{variant: value}`, as in JSON.
fn wrap(variant: Option<&'static str>, value: PyValue) -> PyValue {
    match variant {
        Some(name) => PyValue::Dict(vec![(PyValue::Str(name.to_owned()), value)]),
        None => value,
    }
}

impl ser::Serializer for ToPy {
    type Ok = PyValue;
    type Error = SerError;
    type SerializeSeq = Items;
    type SerializeTuple = Items;
    type SerializeTupleStruct = Items;
    type SerializeTupleVariant = Items;
    type SerializeMap = Entries;
    type SerializeStruct = Entries;
    type SerializeStructVariant = Entries;

    fn serialize_bool(self, v: bool) -> Result<PyValue, SerError> {
        Ok(PyValue::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<PyValue, SerError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<PyValue, SerError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<PyValue, SerError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<PyValue, SerError> {
        Ok(PyValue::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<PyValue, SerError> {
        Ok(i64::try_from(v).map_or_else(|_| PyValue::BigInt(v.to_string()), PyValue::Int))
    }
    fn serialize_u8(self, v: u8) -> Result<PyValue, SerError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<PyValue, SerError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<PyValue, SerError> {
        Ok(PyValue::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<PyValue, SerError> {
        Ok(i64::try_from(v).map_or_else(|_| PyValue::BigInt(v.to_string()), PyValue::Int))
    }
    fn serialize_u128(self, v: u128) -> Result<PyValue, SerError> {
        Ok(i64::try_from(v).map_or_else(|_| PyValue::BigInt(v.to_string()), PyValue::Int))
    }
    fn serialize_f32(self, v: f32) -> Result<PyValue, SerError> {
        // Through the shortest decimal of the f32, as Python sees a float32
        // that numpy's `.item()` hands it: 0.1f32 is 0.1, not
        // 0.10000000149011612.
        let shortest: f64 = v.to_string().parse().unwrap_or(f64::from(v));
        Ok(PyValue::Float(shortest))
    }
    fn serialize_f64(self, v: f64) -> Result<PyValue, SerError> {
        Ok(PyValue::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<PyValue, SerError> {
        Ok(PyValue::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<PyValue, SerError> {
        Ok(PyValue::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<PyValue, SerError> {
        Ok(PyValue::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<PyValue, SerError> {
        Ok(PyValue::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<PyValue, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<PyValue, SerError> {
        Ok(PyValue::None)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<PyValue, SerError> {
        Ok(PyValue::None)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<PyValue, SerError> {
        Ok(PyValue::Str(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<PyValue, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<PyValue, SerError> {
        Ok(wrap(Some(variant), value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Items, SerError> {
        Ok(Items {
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            tuple: false,
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Items, SerError> {
        Ok(Items {
            items: Vec::with_capacity(len.min(4096)),
            tuple: true,
            variant: None,
        })
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Items, SerError> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Items, SerError> {
        Ok(Items {
            items: Vec::with_capacity(len.min(4096)),
            tuple: true,
            variant: Some(variant),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Entries, SerError> {
        Ok(Entries {
            entries: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            pending_key: None,
            variant: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Entries, SerError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Entries, SerError> {
        Ok(Entries {
            entries: Vec::with_capacity(len.min(4096)),
            pending_key: None,
            variant: Some(variant),
        })
    }
}

impl ser::SerializeSeq for Items {
    type Ok = PyValue;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.items.push(value.serialize(ToPy)?);
        Ok(())
    }
    fn end(self) -> Result<PyValue, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for Items {
    type Ok = PyValue;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<PyValue, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for Items {
    type Ok = PyValue;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<PyValue, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for Items {
    type Ok = PyValue;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<PyValue, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeMap for Entries {
    type Ok = PyValue;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.pending_key = Some(key.serialize(ToPy)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| SerError("a map value was serialized before its key".to_owned()))?;
        self.entries.push((key, value.serialize(ToPy)?));
        Ok(())
    }
    fn end(self) -> Result<PyValue, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for Entries {
    type Ok = PyValue;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.entries
            .push((PyValue::Str(key.to_owned()), value.serialize(ToPy)?));
        Ok(())
    }
    fn end(self) -> Result<PyValue, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for Entries {
    type Ok = PyValue;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<PyValue, SerError> {
        Ok(self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    fn s(v: &str) -> PyValue {
        PyValue::Str(v.to_owned())
    }

    #[test]
    fn serde_data_model_maps_to_python_objects() {
        #[derive(Serialize)]
        struct Unit;
        #[derive(Serialize)]
        struct Pair(i32, &'static str);
        #[derive(Serialize)]
        struct Wrapper(u8);
        #[derive(Serialize)]
        enum E {
            A,
            B(i32),
            C(i32, i32),
            D { x: bool },
        }
        assert_eq!(to_py(&()).unwrap(), PyValue::None);
        assert_eq!(to_py(&Unit).unwrap(), PyValue::None);
        assert_eq!(to_py(&None::<i32>).unwrap(), PyValue::None);
        assert_eq!(to_py(&Some(3)).unwrap(), PyValue::Int(3));
        assert_eq!(to_py(&Wrapper(7)).unwrap(), PyValue::Int(7));
        assert_eq!(to_py(&'x').unwrap(), s("x"));
        assert_eq!(
            to_py(&Pair(1, "a")).unwrap(),
            PyValue::Tuple(vec![PyValue::Int(1), s("a")])
        );
        assert_eq!(
            to_py(&vec![1u8, 2]).unwrap(),
            PyValue::List(vec![PyValue::Int(1), PyValue::Int(2)])
        );
        assert_eq!(to_py(&E::A).unwrap(), s("A"));
        assert_eq!(
            to_py(&E::B(1)).unwrap(),
            PyValue::Dict(vec![(s("B"), PyValue::Int(1))])
        );
        assert_eq!(
            to_py(&E::C(1, 2)).unwrap(),
            PyValue::Dict(vec![(
                s("C"),
                PyValue::Tuple(vec![PyValue::Int(1), PyValue::Int(2)])
            )])
        );
        assert_eq!(
            to_py(&E::D { x: true }).unwrap(),
            PyValue::Dict(vec![(
                s("D"),
                PyValue::Dict(vec![(s("x"), PyValue::Bool(true))])
            )])
        );
        assert_eq!(
            to_py(&u64::MAX).unwrap(),
            PyValue::BigInt("18446744073709551615".into())
        );
        assert_eq!(to_py(&-5i128).unwrap(), PyValue::Int(-5));
        assert_eq!(to_py(&0.1f32).unwrap(), PyValue::Float(0.1));
        let map: BTreeMap<i32, bool> = [(2, true)].into();
        assert_eq!(
            to_py(&map).unwrap(),
            PyValue::Dict(vec![(PyValue::Int(2), PyValue::Bool(true))])
        );
    }

    #[test]
    fn failing_serialize_impls_report_their_message() {
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(ser::Error::custom("no can do"))
            }
        }
        assert_eq!(to_py(&vec![Bad]).unwrap_err().to_string(), "no can do");
    }

    /// Expected values are Python 3.11's `str()` of the same objects.
    #[test]
    fn str_matches_python() {
        let cases = [
            (PyValue::None, "None"),
            (PyValue::Bool(true), "True"),
            (PyValue::Int(-3), "-3"),
            (
                PyValue::BigInt("18446744073709551615".into()),
                "18446744073709551615",
            ),
            (PyValue::Float(1e16), "1e+16"),
            (PyValue::Float(1e-5), "1e-05"),
            (PyValue::Float(2.0), "2.0"),
            (PyValue::Float(f64::NAN), "nan"),
            (PyValue::Float(f64::NEG_INFINITY), "-inf"),
            (s("plain"), "plain"),
            (
                PyValue::List(vec![s("a'b"), s("a\"b"), s("a'\"b")]),
                r#"["a'b", 'a"b', 'a\'"b']"#,
            ),
            (
                PyValue::List(vec![s("\0\u{7f}\u{80}\u{a0}\u{ad}\u{200b}\u{2028}é😀\\")]),
                r"['\x00\x7f\x80\xa0\xad\u200b\u2028é😀\\']",
            ),
            (PyValue::Bytes(b"a'\x00\xff".to_vec()), r#"b"a'\x00\xff""#),
            (PyValue::Bytes(b"\"'".to_vec()), r#"b'"\''"#),
            (PyValue::Tuple(vec![PyValue::Int(1)]), "(1,)"),
            (PyValue::Tuple(vec![]), "()"),
            (PyValue::List(vec![]), "[]"),
            (
                PyValue::Dict(vec![(
                    PyValue::Int(1),
                    PyValue::Tuple(vec![PyValue::Int(2)]),
                )]),
                "{1: (2,)}",
            ),
            (
                PyValue::List(vec![
                    PyValue::Int(1),
                    s("a"),
                    PyValue::None,
                    PyValue::Bool(true),
                    PyValue::Float(1.5),
                    PyValue::Dict(vec![(s("k"), PyValue::Int(2))]),
                ]),
                "[1, 'a', None, True, 1.5, {'k': 2}]",
            ),
            (
                PyValue::List(vec![s("tab\there\nnl\r")]),
                r"['tab\there\nnl\r']",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(value.py_str(), want, "{value:?}");
        }
    }
}
