//! [`Value`]: a JSON value as runreg keeps it, with numeric-aware equality
//! and the total order used for sorting.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// A JSON value from a sidecar: an hparam, a summary metric, a config entry.
///
/// runreg has its own value type because bincode, which encodes the cache,
/// cannot decode self-describing types such as `serde_json::Value`.
/// Integers and floats are kept apart so that `3` prints as `3` and `3.0`
/// as `3.0`, but they compare as numbers: `Int(1) == Float(1.0)`.
/// Non-finite floats (`NaN`, `Infinity`, `-Infinity`, which Python writes)
/// are ordinary `Float`s.
///
/// # Examples
///
/// ```
/// use runreg::Value;
///
/// assert_eq!(Value::Int(1), Value::Float(1.0));
/// assert_ne!(Value::Int(1), Value::Str("1".into()));
/// assert!(Value::Float(f64::NAN).is_missing());
/// ```
#[derive(Clone, Debug)]
pub enum Value {
    /// JSON `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in an `i64`. Larger integers are read as floats.
    Int(i64),
    /// A floating point number, possibly non-finite.
    Float(f64),
    /// A string, shared: the same categorical values (`"adamw"`,
    /// `"resnet50"`) recur across thousands of runs, and a record read from
    /// the cache holds them as reference counts, not copies.
    Str(Arc<str>),
    /// An array.
    List(Vec<Value>),
    /// An object, keys in the order they were read (later duplicates win).
    Map(Vec<(String, Value)>),
}

impl Value {
    /// Whether two values are the same value: `==` (numbers as numbers,
    /// `1 == 1.0`), except that `NaN` is the same as `NaN`, also inside
    /// lists and maps. What diffs, a sweep's varying hparams and record
    /// equality ask; `==` stays IEEE's, as filters need (`NaN` matches no
    /// comparison).
    ///
    /// ```
    /// use runreg::Value;
    ///
    /// let nan = Value::Float(f64::NAN);
    /// assert!(nan.same(&nan) && nan != nan);
    /// assert!(Value::Int(1).same(&Value::Float(1.0)));
    /// assert!(!Value::Int(1).same(&Value::from("1")));
    /// ```
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Float(x), Value::Float(y)) if x.is_nan() && y.is_nan() => true,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.same(b))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
            }
            _ => self == other,
        }
    }

    /// `true` for values that a sort puts last in either direction:
    /// `null` and `NaN`.
    pub fn is_missing(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Float(f) => f.is_nan(),
            _ => false,
        }
    }

    /// The value as a float, when it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The value as a string slice, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Rank of the value's kind in the sort order: numbers, then strings,
    /// then booleans, then arrays, then objects.
    fn kind_rank(&self) -> u8 {
        match self {
            Value::Int(_) | Value::Float(_) => 0,
            Value::Str(_) => 1,
            Value::Bool(_) => 2,
            Value::List(_) => 3,
            Value::Map(_) => 4,
            Value::Null => 5,
        }
    }

    /// The total order used to sort present values: numbers (compared
    /// numerically across ints and floats), then strings (bytewise), then
    /// booleans (`false` first), then arrays and objects (by their JSON text).
    ///
    /// Missing values (`null`, `NaN`) are not ordered here: the sort puts them
    /// last whatever the direction, so this puts them after everything and
    /// equal to each other.
    ///
    /// # Examples
    ///
    /// ```
    /// use runreg::Value;
    /// use std::cmp::Ordering;
    ///
    /// assert_eq!(Value::Int(2).sort_cmp(&Value::Float(2.5)), Ordering::Less);
    /// assert_eq!(Value::Float(1e9).sort_cmp(&Value::Str("a".into())), Ordering::Less);
    /// assert_eq!(Value::Str("z".into()).sort_cmp(&Value::Bool(false)), Ordering::Less);
    /// ```
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        match (self.is_missing(), other.is_missing()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Value::Int(a), Value::Float(b)) => cmp_int_float(*a, *b),
            (Value::Float(a), Value::Int(b)) => cmp_int_float(*b, *a).reverse(),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (a, b) if a.kind_rank() == b.kind_rank() => a.to_string().cmp(&b.to_string()),
            (a, b) => a.kind_rank().cmp(&b.kind_rank()),
        }
    }
}

/// Compares an integer with a finite or infinite float exactly (no rounding
/// of large integers through `f64`). `f` is not NaN.
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    // 2^63 as f64 is exact; every f64 at or beyond it is beyond every i64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Ordering::Less;
    }
    if f < -TWO_63 {
        return Ordering::Greater;
    }
    let whole = f.trunc();
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - whole)).unwrap_or(Ordering::Equal),
        other => other,
    }
}

impl PartialEq for Value {
    /// Numeric-aware equality: `Int(1) == Float(1.0)`; `NaN` equals nothing.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                !b.is_nan() && cmp_int_float(*a, *b) == Ordering::Equal
            }
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s.into())
    }
}

impl From<Arc<str>> for Value {
    fn from(s: Arc<str>) -> Self {
        Value::Str(s)
    }
}

/// The text a non-finite float is written as in runreg's JSON output, where
/// bare `NaN` would not be valid JSON.
pub(crate) fn non_finite_name(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("Infinity")
    } else if f == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

/// Serializes a float as a JSON number, or as the string `"NaN"`,
/// `"Infinity"` or `"-Infinity"` when it is not finite (RFC 8259 has no
/// token for those).
pub(crate) fn serialize_f64<S: Serializer>(f: &f64, s: S) -> Result<S::Ok, S::Error> {
    match non_finite_name(*f) {
        Some(name) => s.serialize_str(name),
        None => s.serialize_f64(*f),
    }
}

/// [`serialize_f64`] for an optional float (`None` is `null`).
pub(crate) fn serialize_opt_f64<S: Serializer>(f: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) => serialize_f64(f, s),
        None => s.serialize_none(),
    }
}

impl Serialize for Value {
    /// Valid JSON (RFC 8259): non-finite floats become the strings `"NaN"`,
    /// `"Infinity"` and `"-Infinity"`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => serialize_f64(f, s),
            Value::Str(v) => s.serialize_str(v),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl fmt::Display for Value {
    /// Plain text for tables: strings unquoted, floats as Python prints them
    /// (`0.1`, `1.0`, `nan`-free: `NaN`, `Infinity`), containers as JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => match non_finite_name(*x) {
                Some(name) => f.write_str(name),
                None if x.fract() == 0.0 && x.abs() < 1e16 => write!(f, "{x:.1}"),
                None => write!(f, "{x}"),
            },
            Value::Str(s) => f.write_str(s),
            Value::List(_) | Value::Map(_) => {
                let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
                f.write_str(&text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_the_same_as_nan_inside_lists_and_maps_too() {
        let nan = Value::Float(f64::NAN);
        let map = |v: Value| Value::Map(vec![("x".to_owned(), v)]);
        assert!(
            Value::List(vec![nan.clone(), Value::Int(2)])
                .same(&Value::List(vec![nan.clone(), Value::Float(2.0)]))
        );
        assert!(map(nan.clone()).same(&map(nan.clone())));
        assert!(!map(nan.clone()).same(&map(Value::Float(1.0))));
        assert!(!Value::List(vec![nan.clone()]).same(&Value::List(vec![nan.clone(), nan.clone()])));
        assert!(
            !Value::Map(vec![("x".to_owned(), Value::Null)])
                .same(&Value::Map(vec![("y".to_owned(), Value::Null)]))
        );
        assert!(!nan.same(&Value::Null));
    }

    #[test]
    fn ints_and_floats_are_equal_when_numerically_equal() {
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert_eq!(Value::Float(-0.0), Value::Int(0));
        assert_ne!(Value::Int(1), Value::Float(1.5));
        assert_ne!(
            Value::Int(i64::MAX),
            Value::Float(9_223_372_036_854_775_808.0)
        );
    }

    #[test]
    fn nan_equals_nothing() {
        assert_ne!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_ne!(Value::Float(f64::NAN), Value::Int(0));
    }

    #[test]
    fn kinds_never_equal_across_types() {
        assert_ne!(Value::Bool(true), Value::Int(1));
        assert_ne!(Value::Str("1".into()), Value::Int(1));
        assert_ne!(Value::Null, Value::Str("".into()));
    }

    #[test]
    fn sort_order_is_numbers_strings_booleans() {
        let mut values = [
            Value::Bool(false),
            Value::Str("b".into()),
            Value::Float(f64::INFINITY),
            Value::Int(-3),
            Value::Str("a".into()),
            Value::Float(2.5),
            Value::Bool(true),
            Value::Float(f64::NEG_INFINITY),
        ];
        values.sort_by(|a, b| a.sort_cmp(b));
        let text: Vec<String> = values.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "-Infinity",
                "-3",
                "2.5",
                "Infinity",
                "a",
                "b",
                "false",
                "true"
            ]
        );
    }

    #[test]
    fn large_ints_compare_exactly_with_floats() {
        let big = 9_007_199_254_740_993_i64; // 2^53 + 1: not representable in f64
        assert_eq!(
            Value::Int(big).sort_cmp(&Value::Float(9_007_199_254_740_992.0)),
            Ordering::Greater
        );
        assert_eq!(
            Value::Int(i64::MAX).sort_cmp(&Value::Float(1e19)),
            Ordering::Less
        );
        assert_eq!(
            Value::Int(i64::MIN).sort_cmp(&Value::Float(-1e19)),
            Ordering::Greater
        );
    }

    #[test]
    fn missing_values_come_after_everything() {
        assert_eq!(Value::Null.sort_cmp(&Value::Bool(true)), Ordering::Greater);
        assert_eq!(
            Value::Float(f64::NAN).sort_cmp(&Value::Int(0)),
            Ordering::Greater
        );
        assert_eq!(
            Value::Float(f64::NAN).sort_cmp(&Value::Null),
            Ordering::Equal
        );
    }

    #[test]
    fn json_output_writes_non_finite_floats_as_strings() {
        let v = Value::List(vec![
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(0.5),
            Value::Int(7),
        ]);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"["NaN","Infinity","-Infinity",0.5,7]"#
        );
    }

    #[test]
    fn display_keeps_floats_recognisable() {
        assert_eq!(Value::Float(1.0).to_string(), "1.0");
        assert_eq!(Value::Float(0.001).to_string(), "0.001");
        assert_eq!(Value::Int(1).to_string(), "1");
    }
}
