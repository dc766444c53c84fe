//! Hyper-parameters flattened exactly as stable-pretraining flattens them,
//! and configs kept nested as Python's `json.dump` would write them.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::value::Value;
use crate::value_map::ValueMap;
use crate::writer::pyvalue::{PyValue, to_py, write_float_repr};

/// Flattens `hparams` into the sidecar's flat `hparams` object, exactly as
/// stable-pretraining's `RegistryLogger.log_hyperparams` does:
///
/// - nested keys are joined with `.` (`optim.lr`), list and tuple items by
///   their index (`layers.0`); keys go through Python's `str()` (`1`,
///   `True`, `None`);
/// - trailing dots are stripped from every key (`"a."` is `a`);
/// - an empty map or list nested inside contributes no key at all;
/// - scalars are kept (`null`, booleans, integers, floats including `NaN`,
///   strings); bytes become their Python `str()` (`b'..'`); integers beyond
///   `i64` become floats, as runreg reads them;
/// - a value that is not a map or struct is stored whole as
///   `{"params": str(value)}`.
///
/// A later key that flattens to the same name as an earlier one wins.
///
/// # Errors
///
/// [`Error::Serialize`] when `hparams`' `Serialize` impl fails.
///
/// # Examples
///
/// ```
/// use runreg::Value;
/// use runreg::writer::flatten_hparams;
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Optim { name: &'static str, lr: f64, betas: (f64, f64) }
/// #[derive(Serialize)]
/// struct Config { optim: Optim, layers: Vec<u32>, resume: Option<String> }
///
/// let flat = flatten_hparams(&Config {
///     optim: Optim { name: "adamw", lr: 3e-4, betas: (0.9, 0.999) },
///     layers: vec![64, 128],
///     resume: None,
/// })?;
/// assert_eq!(flat["optim.lr"], Value::Float(3e-4));
/// assert_eq!(flat["optim.betas.1"], Value::Float(0.999));
/// assert_eq!(flat["layers.0"], Value::Int(64));
/// assert_eq!(flat["resume"], Value::Null);
/// assert_eq!(flat.len(), 7);
/// # Ok::<(), runreg::Error>(())
/// ```
pub fn flatten_hparams<T: Serialize + ?Sized>(hparams: &T) -> Result<ValueMap> {
    let py = to_py(hparams).map_err(|e| Error::Serialize {
        what: "hparams",
        message: e.to_string(),
    })?;
    Ok(flatten_py(py))
}

/// The flattening of an already converted value.
pub(crate) fn flatten_py(root: PyValue) -> ValueMap {
    // `_flatten_params`: a non-dict without `__dict__` becomes
    // `{"params": str(value)}`. (Structs are maps here: their `vars()`.)
    let root = match root {
        dict @ PyValue::Dict(_) => dict,
        other => PyValue::Dict(vec![(
            PyValue::Str("params".to_owned()),
            PyValue::Str(other.py_str()),
        )]),
    };
    // Leaves come in the order of the value (list items 0, 1, 10, 11, 2...):
    // collected, then sorted once into a map, the last of a key winning.
    let mut leaves = Vec::new();
    let mut prefix = String::new();
    walk(root, &mut prefix, &mut leaves);
    leaves.into_iter().collect()
}

/// `_flatten(obj, prefix, out)`. `prefix` ends with a dot unless empty, and
/// is restored before returning.
fn walk(value: PyValue, prefix: &mut String, out: &mut Vec<(String, Value)>) {
    let len = prefix.len();
    match value {
        PyValue::Dict(entries) => {
            for (key, item) in entries {
                prefix.push_str(&key.py_str());
                prefix.push('.');
                walk(item, prefix, out);
                prefix.truncate(len);
            }
        }
        PyValue::List(items) | PyValue::Tuple(items) => {
            for (i, item) in items.into_iter().enumerate() {
                prefix.push_str(&i.to_string());
                prefix.push('.');
                walk(item, prefix, out);
                prefix.truncate(len);
            }
        }
        leaf => {
            let key = prefix.trim_end_matches('.').to_owned();
            out.push((key, scalar(leaf)));
        }
    }
}

/// A leaf as the sidecar stores it: JSON scalars as they are, anything
/// `json.dumps` refuses as its `str()`.
fn scalar(leaf: PyValue) -> Value {
    match leaf {
        PyValue::None => Value::Null,
        PyValue::Bool(b) => Value::Bool(b),
        PyValue::Int(i) => Value::Int(i),
        PyValue::BigInt(digits) => Value::Float(digits.parse().unwrap_or(f64::NAN)),
        PyValue::Float(f) => Value::Float(f),
        PyValue::Str(s) => Value::from(s),
        other => Value::from(other.py_str()),
    }
}

/// A config for the sidecar's `config` object: nested, as Python's
/// `json.dump` writes the same object (keys as JSON coerces them: `1`,
/// `true`, `null`; tuples as lists; bytes as their `str()`).
///
/// # Errors
///
/// [`Error::Serialize`] when the `Serialize` impl fails or the value is not
/// a map or struct.
pub(crate) fn config_value<T: Serialize + ?Sized>(config: &T) -> Result<ValueMap> {
    let error = |message: String| Error::Serialize {
        what: "config",
        message,
    };
    match to_py(config).map_err(|e| error(e.to_string()))? {
        PyValue::Dict(entries) => Ok(entries
            .into_iter()
            .map(|(k, v)| (json_key(&k), json_value(v)))
            .collect()),
        other => Err(error(format!(
            "it must serialize to a map or struct, not {}",
            other.py_str()
        ))),
    }
}

/// A dict key as `json.dumps` coerces it.
fn json_key(key: &PyValue) -> String {
    match key {
        PyValue::Str(s) => s.clone(),
        PyValue::Bool(b) => b.to_string(),
        PyValue::None => "null".to_owned(),
        PyValue::Float(f) if !f.is_finite() => crate::value::non_finite_name(*f)
            .unwrap_or("NaN")
            .to_owned(),
        PyValue::Float(f) => {
            let mut s = String::new();
            write_float_repr(*f, &mut s);
            s
        }
        other => other.py_str(),
    }
}

fn json_value(value: PyValue) -> Value {
    match value {
        PyValue::List(items) | PyValue::Tuple(items) => {
            Value::List(items.into_iter().map(json_value).collect())
        }
        PyValue::Dict(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (json_key(&k), json_value(v)))
                .collect(),
        ),
        leaf => scalar(leaf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;
    use std::collections::HashMap;

    fn flat<T: Serialize + ?Sized>(v: &T) -> Vec<(String, Value)> {
        flatten_hparams(v)
            .expect("flatten")
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn kv(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        let mut v: Vec<(String, Value)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn nested_maps_and_lists_join_with_dots() {
        let v = serde_json::json!({
            "optim": {"lr": 0.1, "betas": [0.9, 0.99]},
            "layers": [[1, 2], {"a": null}],
            "name": "x",
        });
        assert_eq!(
            flat(&v),
            kv(&[
                ("layers.0.0", Value::Int(1)),
                ("layers.0.1", Value::Int(2)),
                ("layers.1.a", Value::Null),
                ("name", "x".into()),
                ("optim.betas.0", 0.9.into()),
                ("optim.betas.1", 0.99.into()),
                ("optim.lr", 0.1.into()),
            ])
        );
    }

    /// Each expectation is what stable-pretraining 0.1.8's
    /// `_flatten_params` returns for the Python equivalent.
    #[test]
    fn edge_cases_match_the_reference() {
        // {"a": {}, "b": [], "c": {"d": {}}, "e": 1} -> {"e": 1}
        let v = serde_json::json!({"a": {}, "b": [], "c": {"d": {}}, "e": 1});
        assert_eq!(flat(&v), kv(&[("e", Value::Int(1))]));
        // {} -> {}
        assert!(flat(&serde_json::json!({})).is_empty());
        // {"a.": 1, "b..": {"c.": 2}, "": 3, ".": 4} ->
        // {"a": 1, "b...c": 2, "": 4}  ("" and "." both strip to "")
        let v = serde_json::json!({"a.": 1, "b..": {"c.": 2}, "": 3, ".": 4});
        assert_eq!(
            flat(&v),
            kv(&[
                ("a", Value::Int(1)),
                ("b...c", Value::Int(2)),
                ("", Value::Int(4))
            ])
        );
        // {"t": (1, (2, 3))} -> {"t.0": 1, "t.1.0": 2, "t.1.1": 3}
        assert_eq!(
            flat(&HashMap::from([("t", (1, (2, 3)))])),
            kv(&[
                ("t.0", Value::Int(1)),
                ("t.1.0", Value::Int(2)),
                ("t.1.1", Value::Int(3))
            ])
        );
        // {1: "a", True: ...}: keys go through str()
        let v: BTreeMap<i64, &str> = [(1, "a"), (-2, "b")].into();
        assert_eq!(flat(&v), kv(&[("1", "a".into()), ("-2", "b".into())]));
        assert_eq!(
            flat(&HashMap::from([(true, 1)])),
            kv(&[("True", Value::Int(1))])
        );
        assert_eq!(
            flat(&HashMap::from([((), 1)])),
            kv(&[("None", Value::Int(1))])
        );
        let v = BTreeMap::from([(FloatKey(0.5f64.to_bits()), 1)]);
        assert_eq!(flat(&v), kv(&[("0.5", Value::Int(1))]));
        assert_eq!(
            flat(&HashMap::from([((1, "x"), 1)])),
            kv(&[("(1, 'x')", Value::Int(1))])
        );
        // None, NaN and strings are leaves.
        let v = HashMap::from([("n", None), ("f", Some(f64::NAN))]);
        let got = flatten_hparams(&v).unwrap();
        assert_eq!(got["n"], Value::Null);
        assert!(got["f"].as_f64().is_some_and(f64::is_nan));
    }

    /// A float map key (serde_json cannot make one), ordered by its bits.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    struct FloatKey(u64);

    impl Serialize for FloatKey {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.serialize_f64(f64::from_bits(self.0))
        }
    }

    #[test]
    fn non_maps_become_params() {
        // _flatten_params(5) -> {"params": "5"}; lists, None, strings alike.
        assert_eq!(flat(&5), kv(&[("params", "5".into())]));
        assert_eq!(flat(&"abc"), kv(&[("params", "abc".into())]));
        assert_eq!(flat(&()), kv(&[("params", "None".into())]));
        assert_eq!(flat(&vec![1, 2]), kv(&[("params", "[1, 2]".into())]));
        assert_eq!(flat(&(1, "a")), kv(&[("params", "(1, 'a')".into())]));
        assert_eq!(flat(&1.0), kv(&[("params", "1.0".into())]));
    }

    #[test]
    fn bytes_and_big_integers() {
        #[derive(Serialize)]
        struct S {
            #[serde(with = "bytes")]
            raw: Vec<u8>,
            big: u64,
        }
        mod bytes {
            pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        let got = flatten_hparams(&S {
            raw: b"a\x00".to_vec(),
            big: u64::MAX,
        })
        .unwrap();
        assert_eq!(got["raw"], Value::Str("b'a\\x00'".into()));
        assert_eq!(got["big"], Value::Float(18_446_744_073_709_551_615.0));
    }

    #[test]
    fn later_duplicates_win() {
        // {"a": {"b": 1}, "a.b": 2} -> {"a.b": 2}
        let v = serde_json::json!({"a": {"b": 1}, "a.b": 2});
        assert_eq!(flat(&v), kv(&[("a.b", Value::Int(2))]));
    }

    #[test]
    fn config_stays_nested_with_json_keys() {
        let v = serde_json::json!({"optim": {"lr": 0.1, "betas": [0.9]}, "x": null});
        let got = config_value(&v).unwrap();
        assert_eq!(
            got["optim"],
            Value::Map(vec![
                ("betas".into(), Value::List(vec![0.9.into()])),
                ("lr".into(), 0.1.into())
            ])
        );
        assert_eq!(got["x"], Value::Null);
        let keys: BTreeMap<bool, (i32, i32)> = [(true, (1, 2))].into();
        let got = config_value(&keys).unwrap();
        assert_eq!(got["true"], Value::List(vec![1.into(), 2.into()]));
        let err = config_value(&[1, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot serialize config: it must serialize to a map or struct, not (1, 2)"
        );
    }
}
